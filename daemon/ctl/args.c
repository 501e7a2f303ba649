/*
 * consentctl's words: which command a (prefix of a) word names, the request its arguments
 * make, and the help that says so. The options' help lives here, one entry per option; where
 * an option means something narrower for one command, an entry "command:option" says that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct option_help {
	const char	*name;
	const char	*metavar;	/* NULL: a flag, sent as true */
	bool		 integer;	/* sent as a number */
	const char	*help;
};

static const struct option_help options[] = {
	{ "field", "F", false, "the field to collect (exactly one of --field, --permission)" },
	{ "permission", "P", false, "the device permission to use, instead of --field" },
	{ "purpose", "P", false, "judge for this purpose only (default: every one declared)" },
	{ "platform", "P", false, "android, ios or web" },
	{ "os-version", "V", false, "the OS version, digits and dots (13, 10.3)" },
	{ "rom", "R", false, "the ROM (miui)" },
	{ "region", "R", false,
	  "cn, hk, eea, uk, ch, in, ru, sg or other (default: the subject's)" },
	{ "exception", "E", false, "a consent exception the policy lists (admin only)" },
	{ "policy-version", "V", false, "the policy version it was given under (default: current)" },
	{ "source", "TEXT", false, "where the person said it, kept in the ledger" },
	{ "guardian", "SUBJECT", false, "the adult who consents for a child" },
	{ "product", "P", false, "only PRODUCT's" },
	{ "set-subject:product", "P", false,
	  "set them for PRODUCT only (default: for every product)" },
	{ "age-band", "B", false, "adult, minor or child (under 14)" },
	{ "set-subject:region", "R", false, "cn, hk, eea, uk, ch, in, ru, sg or other" },
	{ "hold", "H", false,
	  "a hold such as outstanding_loan; repeat for more; replaces the holds set" },
	{ "clear-holds", NULL, false, "set no holds (with --hold: only those given)" },
	{ "subject", "SUBJECT", false, "only SUBJECT's" },
	{ "since", "SEQ", true, "only records after SEQ (default 0)" },
	{ "limit", "N", true, "at most N: 1 to 1000, default 100" },
	{ "decisions:limit", "N", true, "at most N: 1 to 4096, default 100" },
	{ "all", NULL, false, "every page, one after another (--json: a line each)" },
	{ "dry-run", NULL, false, "only count what would go; erase nothing" },
};
#define OPTION_COUNT	(sizeof options / sizeof options[0])

/* The help of option opt (without its "--") for command c, or NULL if c takes no such option. */
static const struct option_help *
option_of(const struct cmd *c, const char *opt)
{
	const struct option_help *generic = NULL;
	size_t n = strlen(c->name);

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const char *name = options[i].name;

		if (strncmp(name, c->name, n) == 0 && name[n] == ':' &&
		    strcmp(name + n + 1, opt) == 0)
			return &options[i];
		if (strcmp(name, opt) == 0)
			generic = &options[i];
	}
	return generic;
}

/* Whether word is one of the space-separated names in list. */
static bool
in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (n == 0)
		return false;
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* The help of --opt if c accepts it, else NULL. */
static const struct option_help *
accepted(const struct cmd *c, const char *arg)
{
	if (strncmp(arg, "--", 2) != 0 || !in_list(c->options, arg + 2))
		return NULL;
	return option_of(c, arg + 2);
}

bool
takes_value(const struct cmd *c, const char *arg)
{
	const struct option_help *o = accepted(c, arg);

	return o != NULL && o->metavar != NULL;
}

/* The name of c that word begins (its name before its alias), or NULL. */
static const char *
prefixed(const struct cmd *c, const char *word)
{
	size_t len = strlen(word);

	if (strncmp(c->name, word, len) == 0)
		return c->name;
	return c->alias && strncmp(c->alias, word, len) == 0 ? c->alias : NULL;
}

/* Tell that word names none of table, or more than one: the words it could have been. */
static void
no_command(const struct cmd *table, size_t n, const char *word, const char *parent,
    size_t matches)
{
	fprintf(stderr, "consentctl%s%s: \"%s\": %s", parent ? " " : "", parent ? parent : "",
	    word, matches ? "ambiguous; it could be " : "no such command; commands: ");
	for (size_t i = 0, k = 0; i < n; i++) {
		const char *name = matches ? prefixed(&table[i], word) : table[i].name;

		if (name != NULL)
			fprintf(stderr, "%s%s", k++ ? ", " : "", name);
	}
	fprintf(stderr, "\n");
}

/*
 * The command of table named by word or by a unique prefix of it (of its name or its alias),
 * or NULL having listed the words there are, or those the prefix could mean.
 */
const struct cmd *
find_cmd(const struct cmd *table, size_t n, const char *word, const char *parent)
{
	const struct cmd *found = NULL;
	size_t matches = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cmd *c = &table[i];

		if (strcmp(c->name, word) == 0 || (c->alias && strcmp(c->alias, word) == 0))
			return c;
		if (prefixed(c, word) != NULL) {
			found = c;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	no_command(table, n, word, parent, matches);
	return NULL;
}

/* Put text into req at key as a number; -1 after a usage message. */
static int
add_integer(const char *who, json_t *req, const char *key, const char *text)
{
	/* strtoll alone would also take leading blanks and a "+". */
	bool digits = (*text >= '0' && *text <= '9') || *text == '-';
	long long v;
	char *end;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (!digits || end == text || *end != '\0' || errno == ERANGE) {
		fprintf(stderr, "consentctl %s: --%s needs a whole number, not \"%s\"\n", who,
		    key, text);
		return -1;
	}
	json_object_set_new(req, key, json_integer(v));
	return 0;
}

/* The holds of set-subject: --hold appends, --clear-holds makes sure the list is sent. */
static void
add_hold(json_t *req, const char *hold)
{
	if (json_object_get(req, "holds") == NULL)
		json_object_set_new(req, "holds", json_array());
	if (hold != NULL)
		json_array_append_new(json_object_get(req, "holds"), json_string(hold));
}

/*
 * Put the option at argv[*i] (and its value, moving *i past it) into req; -1 after a usage
 * message. A flag goes in as true: --all too, though it is consentctl's own (history takes it
 * out again before anything is sent).
 */
static int
add_option(const struct cmd *c, const char *who, json_t *req, int argc, char **argv, int *i)
{
	const struct option_help *o = accepted(c, argv[*i]);
	char key[64];

	if (o == NULL || (o->metavar && *i + 1 >= argc)) {
		fprintf(stderr, "consentctl %s: %s \"%s\"; options: %s\n", who,
		    o ? "no value for" : "unknown option", argv[*i],
		    c->options[0] ? c->options : "none");
		return -1;
	}
	snprintf(key, sizeof key, "%s", argv[*i] + 2);
	for (char *k = key; *k; k++)
		if (*k == '-')
			*k = '_';
	if (strcmp(key, "hold") == 0 || strcmp(key, "clear_holds") == 0)
		add_hold(req, o->metavar ? argv[++*i] : NULL);
	else if (o->metavar == NULL)
		json_object_set_new(req, key, json_true());
	else if (o->integer)
		return add_integer(who, req, key, argv[++*i]);
	else
		json_object_set_new(req, key, json_string(argv[++*i]));
	return 0;
}

/* How a positional argument is named in messages: its metavar in lower case, or its key. */
static void
arg_name(const struct cmd *c, int pos, char *buf, size_t len)
{
	const char *k = c->args[pos];

	snprintf(buf, len, "%s", c->metavars[pos] ? c->metavars[pos] : k + (*k == '?'));
	for (char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
}

/* Build the request of command c from its arguments; NULL after a usage message. */
static json_t *
build_request(const struct cmd *c, const char *who, int argc, char **argv)
{
	json_t *req = json_object();
	char name[32];
	int pos = 0;

	json_object_set_new(req, "op", json_string(c->op));
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if (add_option(c, who, req, argc, argv, &i) == -1)
				goto bad;
			continue;
		}
		if (pos >= 4 || c->args[pos] == NULL) {
			fprintf(stderr, "consentctl %s: unexpected argument \"%s\"\n", who, argv[i]);
			goto bad;
		}
		json_object_set_new(req, c->args[pos] + (c->args[pos][0] == '?'),
		    json_string(argv[i]));
		pos++;
	}
	if (pos < 4 && c->args[pos] != NULL && c->args[pos][0] != '?') {
		arg_name(c, pos, name, sizeof name);
		fprintf(stderr, "consentctl %s: missing %s\n", who, name);
		goto bad;
	}
	return req;
bad:
	fprintf(stderr, "consentctl %s --help shows its usage\n", who);
	json_decref(req);
	return NULL;
}

/* The request of c: from its arguments, or for raw the JSON given; NULL after a message. */
json_t *
make_request(const struct cmd *c, const char *who, int argc, char **argv)
{
	json_error_t err;
	json_t *req;

	if (c->op != NULL)
		return build_request(c, who, argc, argv);
	if (argc != 1) {
		fprintf(stderr, "consentctl raw: give one JSON request\n");
		return NULL;
	}
	if ((req = json_loads(argv[0], 0, &err)) == NULL)
		fprintf(stderr, "consentctl raw: %s\n", err.text);
	return req;
}

/* "check PRODUCT SUBJECT FEATURE", or with parent "policy diff PRODUCT FROM [TO]". */
static void
synopsis(char *buf, size_t len, const struct cmd *c, const char *parent)
{
	size_t n = (size_t)snprintf(buf, len, "%s%s%s", parent ? parent : "", parent ? " " : "",
	    c->name);

	for (int a = 0; a < 4 && c->args[a] && n < len; a++) {
		const char *k = c->args[a];
		bool optional = *k == '?';
		char name[32];

		arg_name(c, a, name, sizeof name);
		for (char *p = name; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p -= 'a' - 'A';
		n += (size_t)snprintf(buf + n, len - n, " %s%s%s", optional ? "[" : "", name,
		    optional ? "]" : "");
	}
}

/* A command's line in the list of commands, its sub-words' under it. */
static void
usage_rows(struct table *t, const struct cmd *c, const char *parent)
{
	char line[128];

	if (c->subs != NULL) {
		for (size_t i = 0; i < c->nsubs; i++)
			usage_rows(t, &c->subs[i], c->name);
		return;
	}
	synopsis(line, sizeof line, c, parent);
	table_cell(t, "%s", line);
	if (c->alias)
		table_cell(t, "%s (alias: %s)", c->help, c->alias);
	else
		table_cell(t, "%s", c->help);
}

static void
usage_exits(FILE *f)
{
	fprintf(f, "\nExit status:\n"
	    "  0  done; check and explain: allow\n"
	    "  1  check and explain: deny\n"
	    "  2  check and explain: prompt\n"
	    "  3  the daemon answered an error (watch: it closed the connection after an overflow)\n"
	    "  4  usage error\n"
	    "  5  the daemon cannot be reached (watch: it closed the connection)\n"
	    "watch exits 0 when interrupted.\n");
}

static void
global_options(FILE *f)
{
	fprintf(f, "\nOptions, before or after the command:\n"
	    "  --socket PATH  the daemon's socket (default: $CONSENTD_SOCKET, else\n"
	    "                 " DEFAULT_SOCKET ")\n"
	    "  --json         print the daemon's reply as it came, one JSON line, not a table\n"
	    "  --help, -h     this help; after a command, that command's usage, options and\n"
	    "                 exit codes\n");
}

void
usage(FILE *f, const struct cmd *table, size_t n)
{
	struct table *t = table_new(2);

	fprintf(f, "usage: consentctl [--socket PATH] [--json] COMMAND [ARGS] [OPTIONS]\n\n"
	    "Commands (a unique prefix will do):\n");
	for (size_t i = 0; i < n; i++)
		usage_rows(t, &table[i], NULL);
	table_print(t, f, "  ");
	global_options(f);
	fprintf(f, "Option values may also follow an \"=\" (--socket=PATH).\n"
	    "consentctl COMMAND --help lists the options of COMMAND.\n");
	usage_exits(f);
}

/* The exit codes of one command. */
static void
cmd_exits(FILE *f, const struct cmd *c)
{
	fprintf(f, "\nExit status:\n");
	if (c->exits == EXITS_DECISION)
		fprintf(f, "  0  allow\n  1  deny\n  2  prompt\n"
		    "  3  the daemon answered an error\n");
	else if (c->exits == EXITS_WATCH)
		fprintf(f, "  0  interrupted (SIGINT, SIGTERM)\n"
		    "  3  the daemon answered an error, or closed the connection after an "
		    "overflow\n");
	else
		fprintf(f, "  0  done\n  3  the daemon answered an error\n");
	fprintf(f, "  4  usage error\n  5  the daemon cannot be reached%s\n",
	    c->exits == EXITS_WATCH ? ", or closed the connection" : "");
}

/* The options c accepts, with their help. */
static void
cmd_options(FILE *f, const struct cmd *c)
{
	struct table *t = table_new(2);

	if (c->options[0] == '\0') {
		table_free(t);
		return;
	}
	fprintf(f, "\nOptions:\n");
	for (const char *p = c->options; *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		char opt[32];
		const struct option_help *o;

		snprintf(opt, sizeof opt, "%.*s", (int)n, p);
		p += n;
		if ((o = option_of(c, opt)) == NULL)
			continue;
		table_cell(t, "--%s%s%s", opt, o->metavar ? " " : "", o->metavar ? o->metavar : "");
		table_cell(t, "%s", o->help);
	}
	table_print(t, f, "  ");
}

/* text with each line indented by two spaces. */
static void
indented(FILE *f, const char *text)
{
	for (const char *p = text; *p != '\0'; ) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* consentctl COMMAND --help: its synopsis, what it does, its options and exit codes. */
void
cmd_help(FILE *f, const struct cmd *c, const char *parent)
{
	char line[128];

	if (c->subs != NULL) {
		fprintf(f, "usage:\n");
		for (size_t i = 0; i < c->nsubs; i++) {
			synopsis(line, sizeof line, &c->subs[i], c->name);
			fprintf(f, "  consentctl %s\n", line);
		}
		fprintf(f, "\n%s\n", c->about);
		for (size_t i = 0; i < c->nsubs; i++) {
			synopsis(line, sizeof line, &c->subs[i], c->name);
			fprintf(f, "\n%s\n", line);
			indented(f, c->subs[i].about);
		}
	} else {
		synopsis(line, sizeof line, c, parent);
		fprintf(f, "usage: consentctl %s%s\n\n%s\n", line, c->options[0] ?
		    " [OPTIONS]" : "", c->about);
		if (c->alias)
			fprintf(f, "\"consentctl %s\" is the same command.\n", c->alias);
		cmd_options(f, c);
	}
	fprintf(f, "\nThe socket is --socket PATH, else $CONSENTD_SOCKET, else " DEFAULT_SOCKET
	    ";\n--json prints the daemon's reply as it came.\n");
	cmd_exits(f, c);
}
