/*
 * loadgen.c: the load client of the bench (see bench.py).
 *
 * Opens C connections to an AF_UNIX stream socket and keeps K requests in flight on each
 * (K = 1 is a closed loop), sending one request line per reply received. Runs a warm-up, then
 * measures for a fixed duration: every reply received inside the window counts, with its
 * latency from the moment its request was queued. At the end of the window it stops sending,
 * waits (bounded) for the replies still owed, and prints one JSON object on stdout.
 *
 * Replies are matched to requests by order (the servers answer in request order). A reply
 * lacking the --expect substring counts as an error. "%N" in the request line is replaced by a
 * number unique in this run, so that every request can name a different subject; with
 * --range M it is instead a pseudo-random number in [0, M) (--seed S, by default from the
 * clock), so that requests name existing subjects spread over a whole ledger.
 *
 * One epoll loop per thread (--threads, default 1); each thread owns C/T connections.
 * --server-pid P adds the CPU the server used during the window (from /proc/P/stat).
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"

#define IN_CAP		(128 * 1024)	/* a reply line must fit */
#define EVENTS_MAX	256
#define THREADS_MAX	16

struct options {
	const char	*socket;
	const char	*request;
	const char	*expect;
	int		 conns, depth, threads;
	double		 duration, warmup, drain;
	int		 server_pid;
	uint64_t	 range;		/* 0: %N unique; else random in [0, range) */
	uint64_t	 seed;
};

struct conn {
	int		 fd;
	int		 index;
	char		*out;
	size_t		 out_len, out_off, out_cap;
	bool		 want_out;
	char		*in;
	size_t		 in_len;
	uint64_t	*sent;		/* ring of send times, depth long */
	size_t		 head, inflight;
};

struct worker {
	pthread_t	 thread;
	int		 index;
	int		 ep;
	struct conn	*conns;
	int		 nconns;
	uint64_t	 seq;		/* for %N */
	uint64_t	 rng;		/* for %N with --range */
	/* Results. */
	uint64_t	*lat;		/* ns, replies inside the window */
	size_t		 nlat, caplat;
	uint64_t	 sent_total, replies_total, errors;
	uint64_t	 left;		/* still owed after the drain */
	char		 first_error[200];
	char		 fatal[200];
};

static struct options	 opt;
static const char	*req_prefix, *req_suffix;	/* around %N, or whole line */
static size_t		 req_prefix_len, req_suffix_len;
static bool		 req_templated;
static uint64_t		 t_begin, t_window, t_end, t_drain_end;
static struct worker	 workers[THREADS_MAX];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen --socket PATH --request LINE [--conns C] [--depth K]\n"
	    "               [--duration S] [--warmup S] [--drain S] [--expect STR]\n"
	    "               [--threads T] [--server-pid PID] [--range M [--seed S]]\n"
	    "\n"
	    "\"%%N\" in LINE becomes a number unique in the run; with --range M, a pseudo-random\n"
	    "number in [0, M) instead, from seed S (default: from the clock).\n");
	exit(2);
}

/* A whole number from arg, or die with what (a format naming the option) if it is none. */
static uint64_t
parse_u64(const char *what, const char *arg)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || *arg == '-')
		die(what, arg);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "request",	required_argument, NULL, 'r' },
		{ "expect",	required_argument, NULL, 'e' },
		{ "conns",	required_argument, NULL, 'c' },
		{ "depth",	required_argument, NULL, 'k' },
		{ "threads",	required_argument, NULL, 't' },
		{ "duration",	required_argument, NULL, 'd' },
		{ "warmup",	required_argument, NULL, 'w' },
		{ "drain",	required_argument, NULL, 'D' },
		{ "server-pid",	required_argument, NULL, 'p' },
		{ "range",	required_argument, NULL, 'R' },
		{ "seed",	required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opt.conns = 1;
	opt.depth = 1;
	opt.threads = 1;
	opt.duration = 3.0;
	opt.warmup = 0.5;
	opt.drain = 5.0;
	/* Each run asks other subjects: a repeated sequence would find them in the server's cache. */
	opt.seed = now_ns() ^ ((uint64_t)getpid() << 32);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': opt.socket = optarg; break;
		case 'r': opt.request = optarg; break;
		case 'e': opt.expect = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 'k': opt.depth = atoi(optarg); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'D': opt.drain = atof(optarg); break;
		case 'p': opt.server_pid = atoi(optarg); break;
		case 'R': opt.range = parse_u64("--range: \"%s\" is not a number above 0",
			    optarg);
			if (opt.range == 0)
				die("--range: \"%s\" is not a number above 0", optarg);
			break;
		case 'S': opt.seed = parse_u64("--seed: \"%s\" is not a whole number", optarg);
			break;
		default: usage();
		}
	}
	if (opt.socket == NULL || opt.request == NULL || opt.conns < 1 || opt.depth < 1 ||
	    opt.threads < 1 || opt.threads > THREADS_MAX || opt.duration <= 0 ||
	    opt.warmup < 0 || opt.drain < 0)
		usage();
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
}

static void
split_request(void)
{
	const char *mark = strstr(opt.request, "%N");

	req_prefix = opt.request;
	if (mark == NULL) {
		req_prefix_len = strlen(opt.request);
		req_suffix = "";
		req_suffix_len = 0;
		return;
	}
	req_templated = true;
	req_prefix_len = (size_t)(mark - opt.request);
	req_suffix = mark + 2;
	req_suffix_len = strlen(req_suffix);
}

static void
out_reserve(struct conn *c, size_t more)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + more <= c->out_cap)
		return;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + more <= c->out_cap)
			return;
	}
	while (c->out_len + more > c->out_cap)
		c->out_cap = c->out_cap ? 2 * c->out_cap : 4096;
	if ((c->out = realloc(c->out, c->out_cap)) == NULL)
		die("%s", "out of memory");
}

/* What %N becomes in the next request of w. */
static int
template_number(struct worker *w, char *num, size_t size)
{
	if (opt.range > 0)
		return snprintf(num, size, "%" PRIu64, rng_next(&w->rng) % opt.range);
	return snprintf(num, size, "%d-%" PRIu64, w->index, w->seq++);
}

/* Queue one request on c, stamped now. */
static void
queue_request(struct worker *w, struct conn *c, uint64_t now)
{
	char num[48];
	int n = 0;

	if (req_templated)
		n = template_number(w, num, sizeof num);
	out_reserve(c, req_prefix_len + (size_t)n + req_suffix_len + 1);
	memcpy(c->out + c->out_len, req_prefix, req_prefix_len);
	c->out_len += req_prefix_len;
	memcpy(c->out + c->out_len, num, (size_t)n);
	c->out_len += (size_t)n;
	memcpy(c->out + c->out_len, req_suffix, req_suffix_len);
	c->out_len += req_suffix_len;
	c->out[c->out_len++] = '\n';
	c->sent[(c->head + c->inflight) % (size_t)opt.depth] = now;
	c->inflight++;
	w->sent_total++;
}

static int
set_out_interest(struct worker *w, struct conn *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
		.data.ptr = c };

	if (c->want_out == want)
		return 0;
	c->want_out = want;
	return epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is queued; -1 if the connection broke. */
static int
flush_out(struct worker *w, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return set_out_interest(w, c, true);
		snprintf(w->fatal, sizeof w->fatal, "send on connection %d: %s", c->index,
		    strerror(errno));
		return -1;
	}
	c->out_off = c->out_len = 0;
	return set_out_interest(w, c, false);
}

static void
record_latency(struct worker *w, uint64_t ns)
{
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? 2 * w->caplat : 65536;
		if ((w->lat = realloc(w->lat, w->caplat * sizeof *w->lat)) == NULL)
			die("%s", "out of memory");
	}
	w->lat[w->nlat++] = ns;
}

/* Read what is there and answer each complete reply with a new request; -1 on failure. */
static int
read_in(struct worker *w, struct conn *c, bool sending)
{
	ssize_t n;
	size_t start = 0;
	uint64_t now;
	char *nl;

	n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		snprintf(w->fatal, sizeof w->fatal, "connection %d %s with %zu replies owed",
		    c->index, n == 0 ? "closed by the server" : strerror(errno), c->inflight);
		return -1;
	}
	now = now_ns();
	c->in_len += (size_t)n;
	while ((nl = memchr(c->in + start, '\n', c->in_len - start)) != NULL) {
		size_t len = (size_t)(nl - (c->in + start));

		if (c->inflight == 0) {
			snprintf(w->fatal, sizeof w->fatal, "connection %d: a reply to no request",
			    c->index);
			return -1;
		}
		*nl = '\0';
		if (opt.expect != NULL && strstr(c->in + start, opt.expect) == NULL) {
			if (w->errors++ == 0)
				snprintf(w->first_error, sizeof w->first_error, "%.*s",
				    (int)(len < 160 ? len : 160), c->in + start);
		}
		if (now >= t_window && now < t_end)
			record_latency(w, now - c->sent[c->head]);
		c->head = (c->head + 1) % (size_t)opt.depth;
		c->inflight--;
		w->replies_total++;
		if (sending)
			queue_request(w, c, now);
		start += len + 1;
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (c->in_len == IN_CAP) {
		snprintf(w->fatal, sizeof w->fatal, "connection %d: a reply over %d bytes",
		    c->index, IN_CAP);
		return -1;
	}
	return flush_out(w, c);
}

static int
connect_one(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(opt.socket) >= sizeof sun.sun_path)
		die("socket path too long: %s", opt.socket);
	strcpy(sun.sun_path, opt.socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		die("connect: %s", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		die("fcntl: %s", strerror(errno));
	return fd;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_MAX];
	uint64_t now = now_ns();
	bool sending = true;

	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		for (int k = 0; k < opt.depth; k++)
			queue_request(w, c, now);
		if (flush_out(w, c) == -1)
			return NULL;
	}
	for (;;) {
		int n;
		uint64_t owed = 0;

		now = now_ns();
		if (sending && now >= t_end)
			sending = false;
		if (!sending) {
			for (int i = 0; i < w->nconns; i++)
				owed += w->conns[i].inflight;
			if (owed == 0 || now >= t_drain_end) {
				w->left = owed;
				return NULL;
			}
		}
		n = epoll_wait(w->ep, evs, EVENTS_MAX, 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(w->fatal, sizeof w->fatal, "epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if ((evs[i].events & EPOLLOUT) && flush_out(w, c) == -1)
				return NULL;
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    read_in(w, c, sending && now_ns() < t_end) == -1)
				return NULL;
		}
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* utime + stime of pid in clock ticks, or -1. */
static long long
proc_cpu_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which ends at the last ')': state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	    &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static double
rusage_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
sleep_until(uint64_t t)
{
	uint64_t now;

	while ((now = now_ns()) < t) {
		struct timespec ts = { (time_t)((t - now) / 1000000000u),
			(long)((t - now) % 1000000000u) };

		nanosleep(&ts, NULL);
	}
}

static void
json_string_out(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int
main(int argc, char **argv)
{
	uint64_t *all, errors = 0, left = 0, sent = 0, replies = 0;
	size_t nall = 0, off = 0;
	long long srv0, srv1;
	double cli0, cli1, window, sum = 0;
	const char *first_error = "", *fatal = NULL;
	long ticks = sysconf(_SC_CLK_TCK);

	parse_options(argc, argv);
	split_request();
	signal(SIGPIPE, SIG_IGN);
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		w->index = t;
		w->rng = opt.seed + (uint64_t)t * 0x5851f42d4c957f2dull;
		w->nconns = opt.conns / opt.threads + (t < opt.conns % opt.threads);
		if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			die("epoll_create1: %s", strerror(errno));
		if ((w->conns = calloc((size_t)w->nconns, sizeof *w->conns)) == NULL)
			die("%s", "out of memory");
		for (int i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

			c->index = (int)off++;
			c->fd = connect_one();
			c->in = malloc(IN_CAP);
			c->sent = calloc((size_t)opt.depth, sizeof *c->sent);
			if (c->in == NULL || c->sent == NULL)
				die("%s", "out of memory");
			if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
				die("epoll_ctl: %s", strerror(errno));
		}
	}
	t_begin = now_ns();
	t_window = t_begin + (uint64_t)(opt.warmup * 1e9);
	t_end = t_window + (uint64_t)(opt.duration * 1e9);
	t_drain_end = t_end + (uint64_t)(opt.drain * 1e9);
	for (int t = 0; t < opt.threads; t++)
		if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0)
			die("%s", "cannot start a thread");
	sleep_until(t_window);
	srv0 = opt.server_pid > 0 ? proc_cpu_ticks(opt.server_pid) : -1;
	cli0 = rusage_seconds();
	sleep_until(t_end);
	srv1 = opt.server_pid > 0 ? proc_cpu_ticks(opt.server_pid) : -1;
	cli1 = rusage_seconds();
	for (int t = 0; t < opt.threads; t++)
		pthread_join(workers[t].thread, NULL);

	for (int t = 0; t < opt.threads; t++)
		nall += workers[t].nlat;
	if ((all = malloc((nall + 1) * sizeof *all)) == NULL)
		die("%s", "out of memory");
	off = 0;
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		if (w->nlat)
			memcpy(all + off, w->lat, w->nlat * sizeof *all);
		off += w->nlat;
		errors += w->errors;
		left += w->left;
		sent += w->sent_total;
		replies += w->replies_total;
		if (w->errors && !*first_error)
			first_error = w->first_error;
		if (w->fatal[0] && fatal == NULL)
			fatal = w->fatal;
		for (int i = 0; i < w->nconns; i++)
			close(w->conns[i].fd);
	}
	qsort(all, nall, sizeof *all, cmp_u64);
	for (size_t i = 0; i < nall; i++)
		sum += (double)all[i];
	window = opt.duration;
	printf("{\"conns\":%d,\"depth\":%d,\"threads\":%d,\"duration\":%.3f,\"count\":%zu,"
	    "\"rps\":%.1f,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
	    "\"p999_us\":%.2f,\"max_us\":%.2f,\"sent\":%" PRIu64 ",\"replies\":%" PRIu64 ","
	    "\"errors\":%" PRIu64 ",\"owed_after_drain\":%" PRIu64 ",\"client_cpu\":%.3f,",
	    opt.conns, opt.depth, opt.threads, window, nall, (double)nall / window,
	    nall ? sum / (double)nall / 1000.0 : 0.0, pct(all, nall, 0.50),
	    pct(all, nall, 0.90), pct(all, nall, 0.99), pct(all, nall, 0.999),
	    nall ? (double)all[nall - 1] / 1000.0 : 0.0, sent, replies, errors, left,
	    (cli1 - cli0) / window);
	if (srv0 >= 0 && srv1 >= 0)
		printf("\"server_cpu\":%.3f,", (double)(srv1 - srv0) / (double)ticks / window);
	else
		printf("\"server_cpu\":null,");
	printf("\"first_error\":");
	json_string_out(first_error);
	printf(",\"fatal\":");
	if (fatal)
		json_string_out(fatal);
	else
		printf("null");
	printf("}\n");
	fflush(stdout);
	free(all);
	return fatal ? 1 : 0;
}
