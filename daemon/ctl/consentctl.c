/*
 * consentctl: the command-line client of consentd.
 *
 * Each subcommand is a row of cmd_table: the op it sends, its positional arguments (request
 * keys, in order) and the options it accepts ("--os-version V" sets key "os_version").
 * Output is a short human summary, or with --json the daemon's reply line as it came.
 *
 * Exit codes: 0 success (check: allow), 1 check: deny, 2 check: prompt, 3 the daemon answered
 * an error, 4 usage, 5 cannot reach the daemon.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "proto.h"

#define DEFAULT_SOCKET		"/run/consentd/consentd.sock"
#define REPLY_MAX_BYTES		(64 * 1024 * 1024)
#define EXIT_ALLOW		0
#define EXIT_DENY		1
#define EXIT_PROMPT		2
#define EXIT_ERROR		3
#define EXIT_USAGE		4
#define EXIT_UNREACHABLE	5

struct cmd {
	const char	*name;
	const char	*op;
	const char	*args[4];	/* positional request keys; "?key" is optional */
	const char	*options;	/* space-separated option names */
	const char	*help;
};

static const struct cmd cmd_table[] = {
	{ "hello", "hello", { NULL }, "", "who the daemon thinks you are" },
	{ "check", "check", { "product", "subject", "feature" },
	  "field permission purpose platform os-version rom region exception",
	  "may PRODUCT collect --field F (or use --permission P) for FEATURE of SUBJECT" },
	{ "explain", "explain", { "product", "subject", "feature" },
	  "field permission purpose platform os-version rom region exception",
	  "as check, with every rule evaluated and the policy clause it comes from" },
	{ "grant", "grant", { "product", "subject", "scope" },
	  "policy-version source guardian", "record that SUBJECT agreed to SCOPE" },
	{ "withdraw", "withdraw", { "product", "subject", "scope" },
	  "policy-version source", "record that SUBJECT withdrew SCOPE" },
	{ "refuse", "refuse", { "product", "subject", "scope" },
	  "policy-version source", "record that SUBJECT refused SCOPE" },
	{ "set-subject", "set_subject", { "subject" }, "product age-band region hold",
	  "set SUBJECT's age band (adult, minor, child), region or holds" },
	{ "status", "status", { "product", "subject" }, "", "SUBJECT's consent state" },
	{ "policy", "policy", { "?product", "?version" }, "", "products, or one table" },
	{ "decisions", "decisions", { NULL }, "subject product limit", "recent decisions" },
	{ "stats", "stats", { NULL }, "", "the daemon's figures" },
	{ "reload", "reload", { NULL }, "", "reload the policy tables" },
	{ "verify", "verify", { NULL }, "",
	  "walk the ledger's hash chain; name the first record that does not hold" },
	{ "raw", NULL, { "json" }, "", "send one JSON request as given" },
};
#define CMD_COUNT	(sizeof cmd_table / sizeof cmd_table[0])

static void
usage(FILE *f)
{
	fprintf(f, "usage: consentctl [--socket PATH] [--json] COMMAND [ARGS] [--OPTION VALUE...]\n"
	    "\nCommands:\n");
	for (size_t i = 0; i < CMD_COUNT; i++) {
		const struct cmd *c = &cmd_table[i];
		char line[160] = "";

		for (int a = 0; a < 4 && c->args[a]; a++) {
			const char *k = c->args[a];

			snprintf(line + strlen(line), sizeof line - strlen(line), " %s%s%s",
			    *k == '?' ? "[" : "", *k == '?' ? k + 1 : k, *k == '?' ? "]" : "");
		}
		for (char *p = line; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p -= 'a' - 'A';
		fprintf(f, "  %-12s%s\n      %s\n", c->name, line, c->help);
		if (c->options[0])
			fprintf(f, "      options: --%s\n", c->options);
	}
	fprintf(f, "\nThe socket is --socket, else $CONSENTD_SOCKET, else " DEFAULT_SOCKET ".\n"
	    "Exit: 0 ok (check: allow), 1 deny, 2 prompt, 3 error reply, 4 usage, 5 no daemon.\n");
}

/* The command named by a unique prefix of word, or NULL (printing the choices). */
static const struct cmd *
find_cmd(const char *word)
{
	const struct cmd *found = NULL;
	int matches = 0;

	for (size_t i = 0; i < CMD_COUNT; i++) {
		if (strcmp(cmd_table[i].name, word) == 0)
			return &cmd_table[i];
		if (strncmp(cmd_table[i].name, word, strlen(word)) == 0) {
			found = &cmd_table[i];
			matches++;
		}
	}
	if (matches == 1)
		return found;
	fprintf(stderr, "consentctl: %s command \"%s\"; one of:", matches ? "ambiguous" :
	    "unknown", word);
	for (size_t i = 0; i < CMD_COUNT; i++)
		fprintf(stderr, " %s", cmd_table[i].name);
	fprintf(stderr, "\n");
	return NULL;
}

static bool
option_allowed(const struct cmd *c, const char *opt)
{
	const char *p = c->options;
	size_t n = strlen(opt);

	while ((p = strstr(p, opt)) != NULL) {
		if ((p == c->options || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* Build the request of command c from its arguments; NULL after a usage message. */
static json_t *
build_request(const struct cmd *c, int argc, char **argv)
{
	json_t *req = json_object();
	int pos = 0;

	json_object_set_new(req, "op", json_string(c->op));
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			char key[64];
			const char *opt = argv[i] + 2;

			if (!option_allowed(c, opt) || i + 1 >= argc) {
				fprintf(stderr, "consentctl %s: %s \"%s\"; options: %s\n", c->name,
				    i + 1 >= argc ? "no value for" : "unknown option", argv[i],
				    c->options[0] ? c->options : "none");
				goto bad;
			}
			snprintf(key, sizeof key, "%s", opt);
			for (char *k = key; *k; k++)
				if (*k == '-')
					*k = '_';
			if (strcmp(key, "limit") == 0)
				json_object_set_new(req, key, json_integer(atoll(argv[++i])));
			else if (strcmp(key, "hold") == 0) {
				if (json_object_get(req, "holds") == NULL)
					json_object_set_new(req, "holds", json_array());
				json_array_append_new(json_object_get(req, "holds"),
				    json_string(argv[++i]));
			} else
				json_object_set_new(req, key, json_string(argv[++i]));
			continue;
		}
		if (pos >= 4 || c->args[pos] == NULL) {
			fprintf(stderr, "consentctl %s: unexpected argument \"%s\"\n", c->name,
			    argv[i]);
			goto bad;
		}
		json_object_set_new(req, c->args[pos][0] == '?' ? c->args[pos] + 1 :
		    c->args[pos], json_string(argv[i]));
		pos++;
	}
	if (pos < 4 && c->args[pos] != NULL && c->args[pos][0] != '?') {
		fprintf(stderr, "consentctl %s: missing %s\n", c->name, c->args[pos]);
		goto bad;
	}
	return req;
bad:
	json_decref(req);
	return NULL;
}

static int
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

/* Read one reply line; malloc'd, without its newline, or NULL. */
static char *
read_line(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		ssize_t n;

		if (len == cap) {
			char *g = cap < REPLY_MAX_BYTES ? realloc(buf, cap * 2) : NULL;

			if (g == NULL)
				break;
			buf = g;
			cap *= 2;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL) {
			*(char *)memchr(buf, '\n', len) = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

static void
print_decision(json_t *r, bool trace)
{
	json_t *reasons = json_object_get(r, "reasons"), *prompt = json_object_get(r, "prompt");
	const char *basis = json_string_value(json_object_get(r, "basis"));
	size_t i;
	json_t *v;

	printf("%s", json_string_value(json_object_get(r, "decision")));
	if (json_array_size(reasons) > 0) {
		printf(":");
		json_array_foreach(reasons, i, v)
			printf(" %s", json_string_value(v));
	}
	printf("  (%s, basis %s, %s)\n", json_string_value(json_object_get(r, "policy")),
	    basis ? basis : "-", json_string_value(json_object_get(r, "decision_id")));
	printf("  %s\n", json_string_value(json_object_get(r, "detail")));
	if (prompt)
		printf("  prompt for %s%s\n", json_string_value(json_object_get(prompt, "scope")),
		    json_is_true(json_object_get(prompt, "separate")) ? " (separate consent)" :
		    "");
	if (json_object_get(r, "retry_after"))
		printf("  ask again after %lld (unix time)\n",
		    (long long)json_integer_value(json_object_get(r, "retry_after")));
	if (!trace)
		return;
	json_array_foreach(json_object_get(r, "trace"), i, v) {
		json_t *cl;
		size_t k;

		printf("  %-18s %-6s %s\n", json_string_value(json_object_get(v, "rule")),
		    json_string_value(json_object_get(v, "result")),
		    json_string_value(json_object_get(v, "detail")));
		json_array_foreach(json_object_get(v, "clauses"), k, cl) {
			const char *q = json_string_value(json_object_get(cl, "quote"));

			printf("  %-25s seed %s %s%s%s%s\n", "",
			    json_string_value(json_object_get(cl, "seed")),
			    json_string_value(json_object_get(cl, "section")),
			    q ? ": \u300c" : "", q ? q : "", q ? "\u300d" : "");
		}
	}
}

/* Print r for a person; returns the exit code. */
static int
print_reply(const struct cmd *c, json_t *r)
{
	if (!json_is_true(json_object_get(r, "ok"))) {
		json_t *e = json_object_get(r, "error");

		fprintf(stderr, "consentctl: %s: %s\n", json_string_value(json_object_get(e,
		    "code")), json_string_value(json_object_get(e, "message")));
		return EXIT_ERROR;
	}
	if (c->op && (strcmp(c->op, "check") == 0 || strcmp(c->op, "explain") == 0)) {
		const char *d = json_string_value(json_object_get(r, "decision"));

		print_decision(r, strcmp(c->op, "explain") == 0);
		return strcmp(d, "allow") == 0 ? EXIT_ALLOW : strcmp(d, "prompt") == 0 ?
		    EXIT_PROMPT : EXIT_DENY;
	}
	if (c->op && strcmp(c->op, "verify") == 0) {
		json_t *h = json_object_get(r, "head");

		printf("chain holds: %lld records, head seq %lld hash %s\n",
		    (long long)json_integer_value(json_object_get(r, "records")),
		    (long long)json_integer_value(json_object_get(h, "seq")),
		    json_string_value(json_object_get(h, "hash")));
		return 0;
	}
	if (json_object_get(r, "seq") && json_object_size(r) <= 4) {
		printf("recorded as seq %lld at %lld\n",
		    (long long)json_integer_value(json_object_get(r, "seq")),
		    (long long)json_integer_value(json_object_get(r, "at")));
		return 0;
	}
	json_object_del(r, "ok");
	json_dumpf(r, stdout, JSON_INDENT(2));
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("CONSENTD_SOCKET");
	const struct cmd *c;
	bool raw_json = false;
	json_t *req, *reply;
	char *line, *out;
	size_t len;
	int i, fd, rc;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0)
			raw_json = true;
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else {
			fprintf(stderr, "consentctl: unknown option \"%s\"\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((c = find_cmd(argv[i])) == NULL)
		return EXIT_USAGE;
	if (i + 1 < argc && strcmp(argv[i + 1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (c->op == NULL) {
		json_error_t err;

		if (i + 2 != argc) {
			fprintf(stderr, "consentctl raw: give one JSON request\n");
			return EXIT_USAGE;
		}
		if ((req = json_loads(argv[i + 1], 0, &err)) == NULL) {
			fprintf(stderr, "consentctl raw: %s\n", err.text);
			return EXIT_USAGE;
		}
	} else if ((req = build_request(c, argc - i - 1, argv + i + 1)) == NULL)
		return EXIT_USAGE;
	if ((fd = connect_socket(sock ? sock : DEFAULT_SOCKET)) == -1) {
		json_decref(req);
		return EXIT_UNREACHABLE;
	}
	out = proto_encode(req, &len);
	json_decref(req);
	if (out == NULL || write_all(fd, out, len) == -1 || (line = read_line(fd)) == NULL) {
		fprintf(stderr, "consentctl: no reply from the daemon\n");
		free(out);
		close(fd);
		return EXIT_UNREACHABLE;
	}
	free(out);
	close(fd);
	if (raw_json) {
		puts(line);
		reply = json_loads(line, 0, NULL);
		rc = reply && json_is_true(json_object_get(reply, "ok")) ? 0 : EXIT_ERROR;
		if (reply && rc == 0 && c->op && strcmp(c->op, "check") == 0) {
			const char *d = json_string_value(json_object_get(reply, "decision"));

			rc = strcmp(d, "allow") == 0 ? 0 : strcmp(d, "prompt") == 0 ? 2 : 1;
		}
	} else if ((reply = json_loads(line, 0, NULL)) == NULL) {
		fprintf(stderr, "consentctl: unreadable reply\n");
		rc = EXIT_ERROR;
	} else
		rc = print_reply(c, reply);
	json_decref(reply);
	free(line);
	return rc;
}
