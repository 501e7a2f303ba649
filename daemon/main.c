/*
 * main.c: consentd's options, start-up, signals and shutdown.
 *
 * Start-up order: options and config, the policy set (refused whole if anything is wrong),
 * the socket (from systemd or bound here), the ledger; then READY=1 and the loop. SIGHUP
 * reloads the policy set, keeping the old one on any error. SIGTERM and SIGINT stop accepting,
 * answer what was already read, wait for the ledger to commit what it holds, and exit.
 *
 * Under systemd (Type=notify) each of these is told with sd_notify: READY=1, RELOADING=1 then
 * READY=1 again, STOPPING=1; WATCHDOG=1 comes from the loop itself, so a loop that stops
 * turning gets the daemon restarted; STATUS= carries a few live figures for systemctl status.
 */
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "consentd.h"
#include "chain.h"
#include "clock.h"
#include "lint.h"
#include "log.h"
#include "retention.h"

#define DEFAULT_CONFIG		"/etc/consentd/consentd.conf"
#define DEFAULT_SOCKET		"/run/consentd/consentd.sock"
#define DEFAULT_STATE_DIR	"/var/lib/consentd"
#define DEFAULT_POLICY_DIR	"/usr/share/consentd/policies"
#define DEFAULT_POLICY_OVERRIDE_DIR "/etc/consentd/policies"
#define DEFAULT_SOCKET_MODE	0666
#define SHUTDOWN_POLL_MS	20
#define SHUTDOWN_GRACE_SECONDS	10
#define STATUS_SECONDS		5

struct consentd		*consentd;

static struct consentd	 daemon_state;
static char		 registry_buf[PATH_MAX + 32];
static char		*bound_socket;		/* unlinked at exit if we bound it */
static struct event	*shutdown_ev, *watchdog_ev, *status_ev;
static time_t		 shutdown_deadline;
static uint64_t		 status_at;		/* when the request rate was last taken */
static int64_t		 status_requests;	/* stats.requests then */
static double		 status_rate;		/* requests/s over the last period */
static const char	*status_note = "";	/* a refused reload, until one succeeds */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: consentd [--foreground] [--config FILE] [--socket PATH] [--state-dir DIR]\n"
	    "                [--policy-dir DIR] [--registry FILE] [--check-config] [--lint]\n"
	    "                [--verify] [--verbose] [--version] [--help]\n"
	    "\n"
	    "Decide whether an app may collect a personal-data field or use a device permission,\n"
	    "from per-product policy tables and a consent ledger, over newline-delimited JSON on\n"
	    "a Unix socket.\n"
	    "\n"
	    "  --foreground      stay in the foreground (default: detach, unless under systemd)\n"
	    "  --config FILE     roles and paths (default " DEFAULT_CONFIG " if present)\n"
	    "  --socket PATH     listen here (default " DEFAULT_SOCKET "); ignored when systemd\n"
	    "                    passes a socket\n"
	    "  --state-dir DIR   the ledger, DIR/ledger.db (default " DEFAULT_STATE_DIR ")\n"
	    "  --policy-dir DIR  policy tables (default " DEFAULT_POLICY_DIR ", where a table\n"
	    "                    of the same name in " DEFAULT_POLICY_OVERRIDE_DIR " wins)\n"
	    "  --registry FILE   id registry (default: registry.json beside the policy dir)\n"
	    "  --check-config    validate config and policies, print each problem, exit\n"
	    "  --lint            print where each product's basic functions require more than\n"
	    "                    the national list of necessary information (necessary-pi.json\n"
	    "                    beside the registry), exit\n"
	    "  --verify          walk the hash chain of the ledger in the state directory,\n"
	    "                    name the first record that does not hold, exit (0: it holds)\n"
	    "  --verbose         log debug messages\n"
	    "  --version         print the version\n"
	    "  --help            print this help\n"
	    "\n"
	    "Signals: HUP reloads the policies; TERM and INT stop cleanly.\n");
}

/* The registry path: given, or registry.json in the policy directory's parent. */
static const char *
registry_path(const char *given, const char *policy_dir)
{
	char dir[PATH_MAX], *slash;

	if (given != NULL)
		return given;
	snprintf(dir, sizeof dir, "%s", policy_dir);
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(registry_buf, sizeof registry_buf, "registry.json");
	else if (slash == dir)
		snprintf(registry_buf, sizeof registry_buf, "/registry.json");
	else {
		*slash = '\0';
		snprintf(registry_buf, sizeof registry_buf, "%s/registry.json", dir);
	}
	return registry_buf;
}

static uint64_t
monotonic_usec(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

/* Tell systemd state ("READY=1", or NULL for none) with the figures of systemctl status. */
static void
notify_status(const char *state)
{
	struct ledger_stats ls;

	ledger_get_stats(consentd->ledger, &ls);
	sd_notifyf(0, "%s%sSTATUS=serving %zu policy tables; connections: %d, requests/s: %.1f, "
	    "ledger records: %lld%s", state ? state : "", state ? "\n" : "",
	    consentd->policy->ntables, consentd->nclients, status_rate, (long long)ls.records,
	    status_note);
}

/*
 * The tables: from the policy directory given, or by default the packaged ones with the
 * operator's DEFAULT_POLICY_OVERRIDE_DIR over them, file by file.
 */
static struct policy_set *
load_policies(struct policy_errors *errs)
{
	const char *dirs[] = { DEFAULT_POLICY_OVERRIDE_DIR, consentd->policy_dir };
	bool packaged = strcmp(consentd->policy_dir, DEFAULT_POLICY_DIR) == 0;

	return policy_load_dirs(consentd->registry_path, packaged ? dirs : dirs + 1,
	    packaged ? 2 : 1, errs);
}

/* The tables now serving, as product@version, with msgid (start or reload). */
static void
log_tables(const char *msgid, const char *what)
{
	const struct policy_set *set = consentd->policy;
	char list[1024] = "";
	size_t len = 0;

	for (size_t i = 0; i < set->ntables && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s@%s", i ? " " : "",
		    registry_name(&set->reg, ID_PRODUCT, set->tables[i]->product),
		    set->tables[i]->version);
	log_event(LOG_INFO, msgid, (struct log_field[]){ { "CONSENTD_POLICIES", list } }, 1,
	    "consentd %s %s: %zu policy tables: %s", CONSENTD_VERSION, what, set->ntables, list);
}

int
policy_reload(json_t **problems)
{
	struct policy_errors errs;
	struct policy_set *set;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)monotonic_usec());
	if ((set = load_policies(&errs)) == NULL) {
		consentd->stats.reloads_failed++;
		if (problems)
			*problems = json_array();
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, (struct log_field[]){ { "CONSENTD_PROBLEMS",
		    errs.n > 0 ? errs.lines[0] : NULL } }, 1, "reload refused; the old policy set "
		    "keeps serving (%zu problems):", errs.n);
		for (size_t i = 0; i < errs.n; i++) {
			log_warnx("  %s", errs.lines[i]);
			if (problems)
				json_array_append_new(*problems, json_string(errs.lines[i]));
		}
		policy_errors_free(&errs);
		status_note = "; last reload refused, the old policies serve";
		notify_status("READY=1");
		return -1;
	}
	policy_unref(consentd->policy);
	consentd->policy = set;
	consentd->stats.reloads++;
	log_tables(MSGID_RELOAD, "reloaded");
	status_note = "";
	notify_status("READY=1");
	return 0;
}

/*
 * A ledger write is durable: what check keeps of its subject is stale (of every subject, after
 * a purge); subscribers hear of it; then its connection is answered, or the daily purge.
 */
static void
write_committed(struct ledger_write *w, void *arg)
{
	if (w->op == LEDGER_PURGE && !w->dry_run)
		cache_clear(consentd->cache);
	else if (!LEDGER_OP_READS(w->op) && w->op != LEDGER_PURGE)
		cache_forget(consentd->cache, w->op == LEDGER_SET_SUBJECT ? NULL : w->product,
		    w->subject);
	client_publish(w);
	if (w->cookie == NULL)
		retention_done(w);
	else
		client_write_done(w, arg);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("SIGHUP: reloading policies from %s", consentd->policy_dir);
	policy_reload(NULL);
}

static void
shutdown_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, SHUTDOWN_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	(void)arg;
	if ((clients_idle() && ledger_pending(consentd->ledger) == 0) ||
	    time(NULL) >= shutdown_deadline) {
		if (!clients_idle())
			log_warnx("stopping with replies still unsent after %d s",
			    SHUTDOWN_GRACE_SECONDS);
		event_base_loopexit(consentd->base, NULL);
		return;
	}
	evtimer_add(shutdown_ev, &tv);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (consentd->stopping)
		return;
	log_info("signal %d: stopping", (int)sig);
	if (status_ev != NULL)
		event_del(status_ev);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: answering what was read");
	consentd->stopping = true;
	server_stop();
	client_drain_all();
	shutdown_deadline = time(NULL) + SHUTDOWN_GRACE_SECONDS;
	shutdown_ev = evtimer_new(consentd->base, shutdown_poll_cb, NULL);
	shutdown_poll_cb(-1, 0, NULL);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = monotonic_usec();

	(void)fd;
	(void)what;
	(void)arg;
	if (now > status_at)
		status_rate = (double)(consentd->stats.requests - status_requests) * 1e6 /
		    (double)(now - status_at);
	status_at = now;
	status_requests = consentd->stats.requests;
	notify_status(NULL);
}

/* Only under systemd: elsewhere nobody reads the figures, so the loop need not wake for them. */
static void
start_status(void)
{
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	status_at = monotonic_usec();
	status_ev = event_new(consentd->base, -1, EV_PERSIST, status_cb, NULL);
	event_add(status_ev, &(struct timeval){ STATUS_SECONDS, 0 });
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

static void
start_watchdog(void)
{
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	watchdog_ev = event_new(consentd->base, -1, EV_PERSIST, watchdog_cb, NULL);
	event_add(watchdog_ev, &(struct timeval){ (time_t)(usec / 2000000),
	    (suseconds_t)(usec / 2 % 1000000) });
}

/* The listening socket: systemd's, or one bound at path. */
static int
open_socket(const char *path, unsigned mode)
{
	int n = sd_listen_fds(1), fd;

	if (n > 1)
		fatalx("systemd passed %d sockets; consentd takes one", n);
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
			fatalx("the socket systemd passed is not a listening AF_UNIX stream");
		evutil_make_socket_nonblocking(fd);
		log_info("listening on the socket systemd passed");
		return fd;
	}
	if ((fd = server_listen(path, mode)) == -1)
		fatalx("cannot listen on %s", path);
	bound_socket = strdup(path);
	log_info("listening on %s", path);
	return fd;
}

/* Detach, keeping a pipe on which the child says it is ready; the parent exits then. */
static int
detach(void)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 && c == 'R' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	/* Detached, the terminal is no place for the log. */
	if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL)
		fatal("/dev/null");
	log_to_syslog();
	return p[1];
}

struct options {
	const char	*config, *socket, *state_dir, *policy_dir, *registry;
	bool		 foreground, check, lint, verify, verbose;
};

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "state-dir",	required_argument,	NULL, 'd' },
		{ "policy-dir",	required_argument,	NULL, 'p' },
		{ "registry",	required_argument,	NULL, 'r' },
		{ "check-config", no_argument,		NULL, 'n' },
		{ "lint",	no_argument,		NULL, 'L' },
		{ "verify",	no_argument,		NULL, 'y' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof *o);
	while ((ch = getopt_long(argc, argv, "fc:s:d:p:r:nLyvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': o->foreground = true; break;
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'p': o->policy_dir = optarg; break;
		case 'r': o->registry = optarg; break;
		case 'n': o->check = true; break;
		case 'L': o->lint = true; break;
		case 'y': o->verify = true; break;
		case 'v': o->verbose = true; break;
		case 'V': printf("consentd %s\n", CONSENTD_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "consentd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

static int
check_config(struct policy_set *set, struct policy_errors *errs, int config_rc)
{
	if (set == NULL) {
		for (size_t i = 0; i < errs->n; i++)
			fprintf(stderr, "%s\n", errs->lines[i]);
		fprintf(stderr, "consentd: %zu problem%s; configuration refused\n", errs->n,
		    errs->n == 1 ? "" : "s");
		policy_errors_free(errs);
		return 1;
	}
	if (config_rc == -1) {
		policy_unref(set);
		return 1;
	}
	printf("configuration OK: %zu policy tables, %zu ids in the registry\n", set->ntables,
	    set->reg.count[ID_PRODUCT] + set->reg.count[ID_FEATURE] + set->reg.count[ID_FIELD] +
	    set->reg.count[ID_PERMISSION] + set->reg.count[ID_PURPOSE] +
	    set->reg.count[ID_EXCEPTION]);
	policy_unref(set);
	return 0;
}

/* --verify: the chain of the ledger in dir, without serving. */
static int
verify(const char *dir)
{
	struct chain_verdict v;
	char err[512];

	if (ledger_verify_dir(dir, &v, err, sizeof err) == -1) {
		fprintf(stderr, "consentd: %s\n", err);
		return 1;
	}
	if (v.bad_seq > 0) {
		printf("chain broken at record %lld: %s (%lld records before it hold)\n",
		    (long long)v.bad_seq, v.why, (long long)v.records);
		return 1;
	}
	printf("chain holds: %lld records, head seq %lld hash %s\n", (long long)v.records,
	    (long long)v.head.seq, v.head.hash);
	return 0;
}

static void
print_finding(const json_t *f)
{
	const json_t *c = json_array_get(json_object_get(f, "cite"), 0);
	const json_t *lines = json_object_get(c, "lines");

	printf("  %-17s %-40s %-24s %s; %s %s, lines %d-%d\n",
	    json_string_value(json_object_get(f, "finding")),
	    json_string_value(json_object_get(f, "feature")),
	    json_string_value(json_object_get(f, "field")),
	    json_string_value(json_object_get(f, "basis")),
	    json_string_value(json_object_get(c, "seed")),
	    json_string_value(json_object_get(c, "section")),
	    (int)json_integer_value(json_array_get(lines, 0)),
	    (int)json_integer_value(json_array_get(lines, 1)));
}

/* --lint: the findings per product, then exit 0; 1 only when nothing could be read. */
static int
lint(struct policy_set *set, struct policy_errors *errs)
{
	char err[PATH_MAX + 128];
	json_t *rules;

	if (set == NULL)
		return check_config(set, errs, 0);
	if ((rules = lint_load(consentd->registry_path, err, sizeof err)) == NULL) {
		fprintf(stderr, "consentd: %s\n", err);
		policy_unref(set);
		return 1;
	}
	printf("%s\n", json_string_value(json_object_get(rules, "source")));
	for (size_t p = 0; p < set->reg.count[ID_PRODUCT]; p++) {
		json_t *found = lint_product(set, rules, (int)p), *f;
		const json_t *type;
		size_t i;

		if (found == NULL)
			continue;
		type = json_object_get(json_object_get(rules, "types"), json_string_value(
		    json_object_get(json_object_get(json_object_get(rules, "products"),
		    set->reg.ids[ID_PRODUCT][p]), "type")));
		printf("\n%s@%s (%s): %zu finding%s\n", set->reg.ids[ID_PRODUCT][p],
		    set->current[p]->version, json_string_value(json_object_get(type, "name_zh")),
		    json_array_size(found), json_array_size(found) == 1 ? "" : "s");
		json_array_foreach(found, i, f)
			print_finding(f);
		json_decref(found);
	}
	json_decref(rules);
	policy_unref(set);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct policy_errors errs;
	struct config *cf;
	struct event *sig_hup, *sig_term, *sig_int;
	char err[512];
	int config_rc = 0, fd, ready_fd = -1;

	parse_options(argc, argv, &o);
	consentd = &daemon_state;
	cf = &consentd->config;
	cf->socket_mode = DEFAULT_SOCKET_MODE;
	log_init(o.verbose);
	clock_init();
	if (o.config != NULL || access(DEFAULT_CONFIG, F_OK) == 0)
		config_rc = config_load(cf, o.config ? o.config : DEFAULT_CONFIG);
	consentd->policy_dir = o.policy_dir ? o.policy_dir : cf->policy_dir ? cf->policy_dir :
	    DEFAULT_POLICY_DIR;
	consentd->registry_path = registry_path(o.registry ? o.registry : cf->registry,
	    consentd->policy_dir);
	consentd->policy = load_policies(&errs);
	if (o.verify) {
		int rc = verify(o.state_dir ? o.state_dir : cf->state_dir ? cf->state_dir :
		    DEFAULT_STATE_DIR);

		if (consentd->policy == NULL)
			policy_errors_free(&errs);
		policy_unref(consentd->policy);
		config_free(cf);
		return rc;
	}
	if (o.lint) {
		config_free(cf);
		return lint(consentd->policy, &errs);
	}
	if (o.check) {
		int rc = check_config(consentd->policy, &errs, config_rc);

		config_free(cf);
		return rc;
	}
	if (config_rc == -1)
		fatalx("configuration refused");
	if (consentd->policy == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("%s", errs.lines[i]);
		fatalx("the policy set is invalid (%zu problems); run --check-config", errs.n);
	}
	signal(SIGPIPE, SIG_IGN);
	if (!o.foreground && getenv("NOTIFY_SOCKET") == NULL && sd_listen_fds(0) <= 0)
		ready_fd = detach();
	TAILQ_INIT(&consentd->clients);
	consentd->stats.started = time(NULL);
	consentd->decisions = calloc(DECISION_LOG_MAX, sizeof *consentd->decisions);
	consentd->cache = cache_new(CACHE_ENTRIES_DEFAULT);
	if ((consentd->base = event_base_new()) == NULL || consentd->decisions == NULL ||
	    consentd->cache == NULL)
		fatalx("cannot set up the event loop");
	consentd->ledger = ledger_open(o.state_dir ? o.state_dir : cf->state_dir ?
	    cf->state_dir : DEFAULT_STATE_DIR, consentd->base, write_committed, NULL, err,
	    sizeof err);
	if (consentd->ledger == NULL)
		fatalx("ledger: %s", err);
	if (retention_start() == -1)
		fatalx("cannot start the daily purge");
	fd = open_socket(o.socket ? o.socket : cf->socket_path ? cf->socket_path :
	    DEFAULT_SOCKET, cf->socket_mode);
	if (server_start(fd) == -1)
		fatalx("cannot serve");
	sig_hup = evsignal_new(consentd->base, SIGHUP, sighup_cb, NULL);
	sig_term = evsignal_new(consentd->base, SIGTERM, sigterm_cb, NULL);
	sig_int = evsignal_new(consentd->base, SIGINT, sigterm_cb, NULL);
	event_add(sig_hup, NULL);
	event_add(sig_term, NULL);
	event_add(sig_int, NULL);
	start_watchdog();
	start_status();
	log_tables(MSGID_START, "ready");
	notify_status("READY=1");
	if (ready_fd != -1) {
		if (write(ready_fd, "R", 1) != 1)
			log_warn("ready pipe");
		close(ready_fd);
	}
	event_base_dispatch(consentd->base);

	retention_stop();
	ledger_close(consentd->ledger);
	client_free_all();
	if (bound_socket != NULL) {
		unlink(bound_socket);
		free(bound_socket);
	}
	if (shutdown_ev)
		event_free(shutdown_ev);
	if (watchdog_ev)
		event_free(watchdog_ev);
	if (status_ev)
		event_free(status_ev);
	event_free(sig_hup);
	event_free(sig_term);
	event_free(sig_int);
	event_base_free(consentd->base);
	policy_unref(consentd->policy);
	free(consentd->decisions);
	cache_free(consentd->cache);
	config_free(cf);
	log_event(LOG_INFO, MSGID_STOP, NULL, 0, "stopped");
	return 0;
}
