/*
 * consentctl: the command-line client of consentd.
 *
 * Each subcommand is a row of cmd_table: the op it sends, its positional arguments (request
 * keys, in order), the options it accepts ("--os-version V" sets key "os_version") and, where
 * the generic summary would not do, how its reply is shown. Output is a short human summary, or
 * with --json the daemon's reply line as it came. subscribe stays connected and prints each
 * pushed event; history --all asks for one page after another.
 *
 * Exit codes: 0 success (check: allow), 1 check: deny, 2 check: prompt, 3 the daemon answered
 * an error (subscribe: it closed the connection after an overflow), 4 usage, 5 cannot reach
 * the daemon (subscribe: it closed the connection). An interrupted subscribe exits 0.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Options that take no value, and options whose value is sent as a number, where accepted. */
#define FLAG_OPTIONS		"all dry-run"
#define INTEGER_OPTIONS		"limit since"

struct cmd {
	const char	*name;
	const char	*op;
	const char	*args[4];	/* positional request keys; "?key" is optional */
	const char	*options;	/* space-separated option names */
	const char	*help;
	int		(*print)(json_t *reply);	/* a successful reply for a person, where
							   the generic summary would not do;
							   returns the exit code */
};

static int	print_check(json_t *);
static int	print_explain(json_t *);
static int	print_verify(json_t *);
static int	print_history(json_t *);
static int	print_export(json_t *);
static int	print_cancel(json_t *);
static int	print_purge(json_t *);

static const struct cmd cmd_table[] = {
	{ "hello", "hello", { NULL }, "", "who the daemon thinks you are" },
	{ "check", "check", { "product", "subject", "feature" },
	  "field permission purpose platform os-version rom region exception",
	  "may PRODUCT collect --field F (or use --permission P) for FEATURE of SUBJECT",
	  print_check },
	{ "explain", "explain", { "product", "subject", "feature" },
	  "field permission purpose platform os-version rom region exception",
	  "as check, with every rule evaluated and the policy clause it comes from",
	  print_explain },
	{ "grant", "grant", { "product", "subject", "scope" },
	  "policy-version source guardian", "record that SUBJECT agreed to SCOPE" },
	{ "withdraw", "withdraw", { "product", "subject", "scope" },
	  "policy-version source", "record that SUBJECT withdrew SCOPE" },
	{ "refuse", "refuse", { "product", "subject", "scope" },
	  "policy-version source", "record that SUBJECT refused SCOPE" },
	{ "cancel", "cancel", { "product", "subject" }, "source",
	  "SUBJECT leaves PRODUCT: withdraw every scope (refused while a hold is set)",
	  print_cancel },
	{ "set-subject", "set_subject", { "subject" }, "product age-band region hold",
	  "set SUBJECT's age band (adult, minor, child), region or holds" },
	{ "status", "status", { "product", "subject" }, "", "SUBJECT's consent state" },
	{ "history", "history", { "subject" }, "product since limit all",
	  "SUBJECT's ledger records, oldest first: --limit (100) after seq --since, or --all",
	  print_history },
	{ "export", "export", { "subject" }, "",
	  "everything held about SUBJECT (--json: the whole document, for a portability request)",
	  print_export },
	{ "policy", "policy", { "?product", "?version" }, "", "products, or one table" },
	{ "decisions", "decisions", { NULL }, "subject product limit", "recent decisions" },
	{ "stats", "stats", { NULL }, "", "the daemon's figures" },
	{ "reload", "reload", { NULL }, "", "reload the policy tables" },
	{ "verify", "verify", { NULL }, "",
	  "walk the ledger's hash chain; name the first record that does not hold", print_verify },
	{ "purge", "purge", { NULL }, "dry-run",
	  "erase what is past retention (--dry-run: only count it)", print_purge },
	{ "subscribe", "subscribe", { "?product" }, "",
	  "print consent changes (of PRODUCT) as they happen, until interrupted" },
	{ "raw", NULL, { "json" }, "", "send one JSON request as given" },
};
#define CMD_COUNT	(sizeof cmd_table / sizeof cmd_table[0])

/* Whether word is one of the space-separated names in list. */
static bool
in_list(const char *list, const char *word)
{
	const char *p = list;
	size_t n = strlen(word);

	if (n == 0)
		return false;
	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* Each option as it is typed ("--limit N", "--all", "--source V"), wrapped before 96 columns. */
static void
usage_options(FILE *f, const char *options)
{
	int col = fprintf(f, "      options:");

	for (const char *p = options; *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		char opt[64];

		snprintf(opt, sizeof opt, "%.*s", (int)n, p);
		if (col + (int)n + 5 > 96)	/* 5: " --" and " V" */
			col = fprintf(f, "\n%14s", "") - 1;	/* the newline takes no column */
		col += fprintf(f, " --%s%s", opt, in_list(FLAG_OPTIONS, opt) ? "" :
		    in_list(INTEGER_OPTIONS, opt) ? " N" : " V");
		p += n;
	}
	fprintf(f, "\n");
}

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
			usage_options(f, c->options);
	}
	fprintf(f, "\nThe socket is --socket, else $CONSENTD_SOCKET, else " DEFAULT_SOCKET ".\n"
	    "Exit: 0 ok (check: allow), 1 deny, 2 prompt, 3 error reply, 4 usage, 5 no daemon.\n"
	    "subscribe exits 0 when interrupted, 3 when closed after an overflow, else 5.\n");
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

/* Put text into req at key as a number; -1 after a usage message. */
static int
add_integer(const struct cmd *c, json_t *req, const char *key, const char *text)
{
	/* strtoll alone would also take leading blanks and a "+". */
	bool digits = (*text >= '0' && *text <= '9') || *text == '-';
	long long v;
	char *end;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (!digits || end == text || *end != '\0' || errno == ERANGE) {
		fprintf(stderr, "consentctl %s: --%s needs a whole number, not \"%s\"\n", c->name,
		    key, text);
		return -1;
	}
	json_object_set_new(req, key, json_integer(v));
	return 0;
}

/*
 * Put the option at argv[*i] (and its value, moving *i past it) into req; -1 after a usage
 * message. A flag goes in as true: --all too, though it is consentctl's own (history takes it
 * out again before anything is sent).
 */
static int
add_option(const struct cmd *c, json_t *req, int argc, char **argv, int *i)
{
	const char *opt = argv[*i] + 2;
	bool known = in_list(c->options, opt), flag = in_list(FLAG_OPTIONS, opt);
	char key[64];

	if (!known || (!flag && *i + 1 >= argc)) {
		fprintf(stderr, "consentctl %s: %s \"%s\"; options: %s\n", c->name,
		    known ? "no value for" : "unknown option", argv[*i],
		    c->options[0] ? c->options : "none");
		return -1;
	}
	snprintf(key, sizeof key, "%s", opt);
	for (char *k = key; *k; k++)
		if (*k == '-')
			*k = '_';
	if (flag)
		json_object_set_new(req, key, json_true());
	else if (in_list(INTEGER_OPTIONS, opt))
		return add_integer(c, req, key, argv[++*i]);
	else if (strcmp(key, "hold") == 0) {
		if (json_object_get(req, "holds") == NULL)
			json_object_set_new(req, "holds", json_array());
		json_array_append_new(json_object_get(req, "holds"), json_string(argv[++*i]));
	} else
		json_object_set_new(req, key, json_string(argv[++*i]));
	return 0;
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
			if (add_option(c, req, argc, argv, &i) == -1)
				goto bad;
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

/* The request of c: from its arguments, or for raw the JSON given; NULL after a message. */
static json_t *
make_request(const struct cmd *c, int argc, char **argv)
{
	json_error_t err;
	json_t *req;

	if (c->op != NULL)
		return build_request(c, argc, argv);
	if (argc != 1) {
		fprintf(stderr, "consentctl raw: give one JSON request\n");
		return NULL;
	}
	if ((req = json_loads(argv[0], 0, &err)) == NULL)
		fprintf(stderr, "consentctl raw: %s\n", err.text);
	return req;
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

/* A connection to the daemon; buf keeps what was read past the last line taken. */
struct conn {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
	size_t	 seen;		/* bytes of buf already searched for a newline */
};

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
static char *
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
static char *
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

/* The string at key of o, or "-" where it is null or absent. */
static const char *
text(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
number(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The unix time at key of o as ISO-8601 UTC, in buf; "-" where there is none. */
static const char *
iso_time(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (!json_is_integer(v) || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

/* The strings of array a after a space, comma-separated, or " none". */
static void
print_names(json_t *a)
{
	json_t *v;
	size_t i;

	if (json_array_size(a) == 0)
		printf(" none");
	json_array_foreach(a, i, v)
		printf("%s %s", i ? "," : "", json_string_value(v));
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

/* The exit code of a check's decision. */
static int
decision_exit(json_t *r)
{
	const char *d = json_string_value(json_object_get(r, "decision"));

	if (d != NULL && strcmp(d, "allow") == 0)
		return EXIT_ALLOW;
	return d != NULL && strcmp(d, "prompt") == 0 ? EXIT_PROMPT : EXIT_DENY;
}

static int
print_check(json_t *r)
{
	print_decision(r, false);
	return decision_exit(r);
}

static int
print_explain(json_t *r)
{
	print_decision(r, true);
	return decision_exit(r);
}

static int
print_verify(json_t *r)
{
	json_t *h = json_object_get(r, "head");

	printf("chain holds: %lld records, head seq %lld hash %s\n", number(r, "records"),
	    number(h, "seq"), text(h, "hash"));
	return 0;
}

/* One ledger record on a line; a set_subject shows its attributes where others a scope. */
static void
print_record(json_t *rec)
{
	char at[32];

	printf("%6lld  %s  %-11s %-8s %-40s %s%s\n", number(rec, "seq"),
	    iso_time(rec, "at", at, sizeof at), text(rec, "op"), text(rec, "product"),
	    text(rec, json_is_string(json_object_get(rec, "scope")) ? "scope" : "attrs"),
	    text(rec, "state"), number(rec, "erased_by") > 0 ? "  (erased)" : "");
}

/* The records of a history page; how many there were. */
static size_t
print_events(json_t *events)
{
	json_t *rec;
	size_t i;

	json_array_foreach(events, i, rec)
		print_record(rec);
	return json_array_size(events);
}

static int
print_history(json_t *r)
{
	json_t *next = json_object_get(r, "next");

	if (print_events(json_object_get(r, "events")) == 0)
		printf("no records\n");
	if (json_is_integer(next))
		printf("more after seq %lld: --since %lld for the next page, --all for every one\n",
		    number(r, "next"), number(r, "next"));
	return 0;
}

/* A subject's attributes after label; "none set" where they never were. */
static void
print_attributes(const char *label, json_t *a)
{
	if (!json_is_object(a)) {
		printf("%snone set\n", label);
		return;
	}
	printf("%sage band %s, region %s, holds", label, text(a, "age_band"), text(a, "region"));
	print_names(json_object_get(a, "holds"));
	printf("\n");
}

/* One product of an export: when it was cancelled, its own attributes, every scope's state. */
static void
print_export_product(const char *name, json_t *p)
{
	json_t *scopes = json_object_get(p, "scopes"), *s;
	char when[32];
	size_t i;

	printf("%s", name);
	if (json_is_integer(json_object_get(p, "cancelled_at")))
		printf(": cancelled %s", iso_time(p, "cancelled_at", when, sizeof when));
	printf("\n");
	/* null: the subject's defaults hold for this product. */
	if (json_is_object(json_object_get(p, "attributes")))
		print_attributes("  attributes: ", json_object_get(p, "attributes"));
	if (json_array_size(scopes) == 0)
		printf("  no consent recorded\n");
	json_array_foreach(scopes, i, s) {
		const char *guardian = json_string_value(json_object_get(s, "guardian"));

		printf("  %-40s %-9s %-10s %s%s%s\n", text(s, "scope"), text(s, "state"),
		    text(s, "policy_version"), iso_time(s, "at", when, sizeof when),
		    guardian ? "  guardian " : "", guardian ? guardian : "");
	}
}

static int
print_export(json_t *r)
{
	json_t *records = json_object_get(r, "records"), *p;
	const char *name;

	printf("subject %s\n", text(r, "subject"));
	print_attributes("attributes: ", json_object_get(r, "attributes"));
	json_object_foreach(json_object_get(r, "products"), name, p)
		print_export_product(name, p);
	printf("%zu ledger record%s%s\n", json_array_size(records),
	    json_array_size(records) == 1 ? "" : "s",
	    json_is_true(json_object_get(r, "truncated")) ?
	    " (truncated: history --all lists every one)" : "");
	return 0;
}

static int
print_cancel(json_t *r)
{
	char at[32];

	printf("withdrawn:");
	print_names(json_object_get(r, "withdrawn"));
	printf("\ncancelled as seq %lld at %s\n", number(r, "seq"),
	    iso_time(r, "at", at, sizeof at));
	return 0;
}

/* A purge's count; seq is null when it erased nothing or was a dry run. */
static int
print_purge(json_t *r)
{
	long long n = number(r, "purged");
	const char *s = n == 1 ? "" : "s";

	if (json_is_integer(json_object_get(r, "seq")))
		printf("purged %lld record%s past retention; purge record seq %lld\n", n, s,
		    number(r, "seq"));
	else if (n > 0)
		printf("would purge %lld record%s past retention (dry run: nothing erased)\n", n,
		    s);
	else
		printf("nothing is past retention; no purge record\n");
	if (json_is_true(json_object_get(r, "more")))
		printf("more are past retention than one purge erases: purge again\n");
	return 0;
}

static void
print_error(json_t *r)
{
	json_t *e = json_object_get(r, "error");

	fprintf(stderr, "consentctl: %s: %s\n", text(e, "code"), text(e, "message"));
}

/*
 * The reply in line, printed as it came with --json. *rc is 0 for a successful reply, else
 * EXIT_ERROR, the error (or that the line is no JSON) told to stderr unless --json.
 */
static json_t *
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

/* Print a successful reply r for a person; returns the exit code. */
static int
print_reply(const struct cmd *c, json_t *r)
{
	if (c->print != NULL)
		return c->print(r);
	if (json_object_get(r, "seq") && json_object_size(r) <= 4) {
		printf("recorded as seq %lld at %lld\n", number(r, "seq"), number(r, "at"));
		return 0;
	}
	json_object_del(r, "ok");
	json_dumpf(r, stdout, JSON_INDENT(2));
	printf("\n");
	return 0;
}

/* One request, one reply: the exit code. */
static int
run_once(const struct cmd *c, struct conn *cn, json_t *req, bool raw_json)
{
	char *line = call(cn, req);
	json_t *reply;
	int rc;

	if (line == NULL)
		return EXIT_UNREACHABLE;
	reply = take_reply(line, raw_json, &rc);
	free(line);
	if (rc == 0 && raw_json && c->op && strcmp(c->op, "check") == 0)
		rc = decision_exit(reply);
	else if (rc == 0 && !raw_json)
		rc = print_reply(c, reply);
	json_decref(reply);
	return rc;
}

/*
 * history --all: page after page on one connection, each asked from the last one's "next",
 * until it is null. With --json every page's reply is printed, one line each.
 */
static int
run_history_all(struct conn *cn, json_t *req, bool raw_json)
{
	json_t *reply = NULL, *next;
	size_t shown = 0;
	char *line;
	int rc = 0;

	json_object_del(req, "all");
	for (;;) {
		if ((line = call(cn, req)) == NULL)
			return EXIT_UNREACHABLE;
		reply = take_reply(line, raw_json, &rc);
		free(line);
		if (rc != 0)
			break;
		if (!raw_json)
			shown += print_events(json_object_get(reply, "events"));
		next = json_object_get(reply, "next");
		/* A next that does not move on would ask for the same page forever. */
		if (!json_is_integer(next) || json_integer_value(next) <=
		    json_integer_value(json_object_get(req, "since")))
			break;
		json_object_set(req, "since", next);
		json_decref(reply);
	}
	json_decref(reply);
	if (rc == 0 && !raw_json && shown == 0)
		printf("no records\n");
	return rc;
}

static volatile sig_atomic_t	 interrupted;
static int			 subscribed_fd = -1;

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
	shutdown(subscribed_fd, SHUT_RD);
	errno = saved;
}

/* One pushed line for a person, or as it came with --json; whether it was the overflow. */
static bool
print_event(const char *line, bool raw_json)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *kind = json_string_value(json_object_get(ev, "event"));
	bool overflow = kind != NULL && strcmp(kind, "overflow") == 0;

	/* An event this consentctl does not know is shown as it came. */
	if (raw_json || kind == NULL || (!overflow && strcmp(kind, "consent_changed") != 0))
		puts(line);
	else if (!overflow)
		printf("%6lld  %-8s %-20s %-40s %s\n", number(ev, "seq"), text(ev, "product"),
		    text(ev, "subject"), text(ev, "scope"), text(ev, "state"));
	if (overflow)
		fprintf(stderr, "consentctl: %s (events from seq %lld on were not sent)\n",
		    text(ev, "message"), number(ev, "seq"));
	/* Whoever reads a pipe wants each event as it comes, not when a buffer fills. */
	fflush(stdout);
	json_decref(ev);
	return overflow;
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
 * subscribe: every event until the user interrupts (0) or the daemon closes the connection
 * (EXIT_ERROR after an overflow, else EXIT_UNREACHABLE).
 */
static int
run_subscribe(struct conn *cn, json_t *req, bool raw_json)
{
	struct sigaction sa;
	bool overflowed = false;
	char *line;
	int rc;

	if ((rc = subscribe_ack(cn, req, raw_json)) != 0)
		return rc;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	subscribed_fd = cn->fd;
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

int
main(int argc, char **argv)
{
	const char *sock = getenv("CONSENTD_SOCKET");
	struct conn cn = { .fd = -1 };
	const struct cmd *c;
	bool raw_json = false;
	json_t *req;
	int i, rc;

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
	if ((req = make_request(c, argc - i - 1, argv + i + 1)) == NULL)
		return EXIT_USAGE;
	if ((cn.fd = connect_socket(sock ? sock : DEFAULT_SOCKET)) == -1) {
		json_decref(req);
		return EXIT_UNREACHABLE;
	}
	if (c->op && strcmp(c->op, "subscribe") == 0)
		rc = run_subscribe(&cn, req, raw_json);
	else if (c->op && strcmp(c->op, "history") == 0 && json_object_get(req, "all"))
		rc = run_history_all(&cn, req, raw_json);
	else
		rc = run_once(c, &cn, req, raw_json);
	json_decref(req);
	close(cn.fd);
	free(cn.buf);
	return rc;
}
