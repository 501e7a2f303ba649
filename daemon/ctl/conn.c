/*
 * The connection to consentd: one JSON line out, one line back; and watch, which stays
 * connected and prints each pushed event until interrupted.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "proto.h"

#define REPLY_MAX_BYTES		(64 * 1024 * 1024)

int
connect_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "consentctl: socket path too long\n");
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "consentctl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read more into cn->buf: the bytes read, 0 at the end of the stream, -1 on error. */
static ssize_t
fill(struct conn *cn)
{
	ssize_t n;

	if (cn->len == cn->cap) {
		size_t cap = cn->cap ? cn->cap * 2 : 65536;
		char *g = cap <= REPLY_MAX_BYTES ? realloc(cn->buf, cap) : NULL;

		if (g == NULL)
			return -1;
		cn->buf = g;
		cn->cap = cap;
	}
	while ((n = read(cn->fd, cn->buf + cn->len, cn->cap - cn->len)) == -1 && errno == EINTR)
		;
	if (n > 0)
		cn->len += (size_t)n;
	return n;
}

/*
 * The next line from the daemon: malloc'd, without its newline, or NULL. Whatever came after
 * it stays for the next call: pushed events may arrive in the same read as a reply.
 */
char *
read_line(struct conn *cn)
{
	char *nl, *line;
	size_t n;

	for (;;) {
		if (cn->seen < cn->len &&
		    (nl = memchr(cn->buf + cn->seen, '\n', cn->len - cn->seen)) != NULL)
			break;
		cn->seen = cn->len;
		if (fill(cn) <= 0)
			return NULL;
	}
	n = (size_t)(nl - cn->buf);
	if ((line = malloc(n + 1)) != NULL) {
		memcpy(line, cn->buf, n);
		line[n] = '\0';
	}
	cn->len -= n + 1;
	memmove(cn->buf, nl + 1, cn->len);
	cn->seen = 0;
	return line;
}

/* Send req and read its reply line (malloc'd), or NULL having said so. */
char *
call(struct conn *cn, json_t *req)
{
	size_t len;
	char *out = proto_encode(req, &len), *line = NULL;

	if (out != NULL && write_all(cn->fd, out, len) == 0)
		line = read_line(cn);
	free(out);
	if (line == NULL)
		fprintf(stderr, "consentctl: no reply from the daemon\n");
	return line;
}

/*
 * The reply in line, printed as it came with --json. *rc is 0 for a successful reply, else
 * EXIT_ERROR, the error (or that the line is no JSON) told to stderr unless --json.
 */
json_t *
take_reply(const char *line, bool raw_json, int *rc)
{
	json_t *reply = json_loads(line, 0, NULL);

	if (raw_json)
		puts(line);
	*rc = json_is_true(json_object_get(reply, "ok")) ? 0 : EXIT_ERROR;
	if (reply == NULL && !raw_json)
		fprintf(stderr, "consentctl: unreadable reply\n");
	else if (*rc != 0 && !raw_json)
		print_error(reply);
	return reply;
}

static volatile sig_atomic_t	 interrupted;
static int			 watched_fd = -1;

/*
 * Shutting the read side makes the read under way, or the next one, see the end of the
 * stream: unlike a flag alone, no interrupt is lost between a test of it and the read.
 */
static void
on_interrupt(int sig)
{
	int saved = errno;

	(void)sig;
	interrupted = 1;
	shutdown(watched_fd, SHUT_RD);
	errno = saved;
}

/* Subscribe and say so: 0 once subscribed, else the exit code. */
static int
subscribe_ack(struct conn *cn, json_t *req, bool raw_json)
{
	char *line = call(cn, req);
	json_t *reply;
	int rc;

	if (line == NULL)
		return EXIT_UNREACHABLE;
	reply = take_reply(line, raw_json, &rc);
	free(line);
	if (rc == 0 && !raw_json)
		fprintf(stderr, "consentctl: subscribed to %s; interrupt to stop\n",
		    json_is_string(json_object_get(reply, "product")) ?
		    text(reply, "product") : "every product");
	fflush(stdout);
	json_decref(reply);
	return rc;
}

/*
 * watch: every event until the user interrupts (0) or the daemon closes the connection
 * (EXIT_ERROR after an overflow, else EXIT_UNREACHABLE).
 */
int
run_watch(struct conn *cn, json_t *req, bool raw_json)
{
	struct sigaction sa;
	bool overflowed = false;
	char *line;
	int rc;

	if ((rc = subscribe_ack(cn, req, raw_json)) != 0)
		return rc;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	watched_fd = cn->fd;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while ((line = read_line(cn)) != NULL) {
		overflowed |= print_event(line, raw_json);
		free(line);
	}
	if (interrupted)
		return 0;
	if (!overflowed)
		fprintf(stderr, "consentctl: the daemon closed the connection\n");
	return overflowed ? EXIT_ERROR : EXIT_UNREACHABLE;
}
