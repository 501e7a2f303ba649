/*
 * consentctl: the command-line client of consentd.
 *
 * Each subcommand is a row of cmd_table: the op it sends, its positional arguments (request
 * keys, in order), the options it accepts ("--os-version V" sets key "os_version") and how its
 * reply is shown. Output is a human summary, tables aligned, or with --json the daemon's reply
 * line as it came. watch stays connected and prints each pushed event; history --all asks for
 * one page after another.
 *
 * Exit codes, as pkcheck's: 0 success (check, explain: allow), 1 deny, 2 prompt, 3 the daemon
 * answered an error (watch: it closed the connection after an overflow), 4 usage, 5 cannot
 * reach the daemon (watch: it closed the connection). An interrupted watch exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static const struct cmd policy_table[] = {
	{ "list", NULL, "policy", { NULL }, { NULL }, "",
	  "the products, their versions and the current one",
	  "Each product, its current version, every version consentd has a table for, the\n"
	  "umbrella table it inherits from and how many features it declares.",
	  EXITS_PLAIN, print_policy_list, NULL, 0 },
	{ "show", NULL, "policy", { "product", "?version" }, { NULL }, "",
	  "PRODUCT's table (default: the current version)",
	  "The features of PRODUCT's table at VERSION (default: the current one), each with its\n"
	  "kind, basis and purposes, and under it its fields (need, basis, sensitive, limits,\n"
	  "purposes), permissions and group members; then the purposes a person may switch,\n"
	  "what it never collects, its exceptions, rights and lint findings.",
	  EXITS_PLAIN, print_policy_show, NULL, 0 },
	{ "diff", NULL, "policy", { "product", "diff_from", "?version" }, { NULL, "FROM", "TO" },
	  "", "what changed from FROM to TO (default: current)",
	  "What PRODUCT's table at TO (default: the current version) added (+) to or removed (-)\n"
	  "from FROM, feature by feature: features, fields, permissions, purposes and bases\n"
	  "(~); then each item a consent given under FROM does not cover, for which check\n"
	  "answers reconsent_required.",
	  EXITS_PLAIN, print_policy_diff, NULL, 0 },
};

static const struct cmd cmd_table[] = {
	{ "hello", NULL, "hello", { NULL }, { NULL }, "", "who the daemon thinks you are",
	  "The uid the daemon read from the socket, the role its configuration gives that uid\n"
	  "and the products it may act for.", EXITS_PLAIN, print_hello, NULL, 0 },
	{ "check", NULL, "check", { "product", "subject", "feature" }, { NULL },
	  "field permission purpose platform os-version rom region exception",
	  "may PRODUCT collect it for FEATURE of SUBJECT?",
	  "May PRODUCT collect a field (--field) or use a device permission (--permission) for\n"
	  "FEATURE of SUBJECT? Prints the decision, its reasons, its legal basis and what to ask\n"
	  "the person for; the exit status is the decision.",
	  EXITS_DECISION, print_check, NULL, 0 },
	{ "explain", NULL, "explain", { "product", "subject", "feature" }, { NULL },
	  "field permission purpose platform os-version rom region exception",
	  "as check, with every rule and its clauses",
	  "As check, then every rule evaluated, in order, with its result and under it the\n"
	  "clauses of the policy it rests on: seed file, section, title, lines and the text.",
	  EXITS_DECISION, print_explain, NULL, 0 },
	{ "grant", NULL, "grant", { "product", "subject", "scope" }, { NULL },
	  "policy-version source guardian", "record that SUBJECT agreed to SCOPE",
	  "Record that SUBJECT agreed to SCOPE for PRODUCT; printed once the record is durable.\n"
	  "SCOPE: policy, feature:FEATURE, field:FEATURE/FIELD, permission:PERMISSION or\n"
	  "purpose:PURPOSE.", EXITS_PLAIN, print_recorded, NULL, 0 },
	{ "withdraw", NULL, "withdraw", { "product", "subject", "scope" }, { NULL },
	  "policy-version source", "record that SUBJECT withdrew SCOPE",
	  "Record that SUBJECT withdrew SCOPE (as for grant) for PRODUCT; printed once the\n"
	  "record is durable.", EXITS_PLAIN, print_recorded, NULL, 0 },
	{ "refuse", NULL, "refuse", { "product", "subject", "scope" }, { NULL },
	  "policy-version source", "record that SUBJECT refused SCOPE",
	  "Record that SUBJECT refused SCOPE (as for grant) for PRODUCT: check denies it with\n"
	  "refused_recently for 48 hours. Printed once the record is durable.",
	  EXITS_PLAIN, print_recorded, NULL, 0 },
	{ "cancel", NULL, "cancel", { "product", "subject" }, { NULL }, "source",
	  "SUBJECT leaves PRODUCT: withdraw every scope",
	  "SUBJECT closes their account with PRODUCT: one record withdraws every scope granted\n"
	  "for it and starts the retention clock. Refused (cancel_blocked) while a hold is set.",
	  EXITS_PLAIN, print_cancel, NULL, 0 },
	{ "set-subject", NULL, "set_subject", { "subject" }, { NULL },
	  "product age-band region hold clear-holds", "set SUBJECT's age band, region or holds",
	  "Set SUBJECT's age band, region or holds, at least one; only those given change.",
	  EXITS_PLAIN, print_recorded, NULL, 0 },
	{ "status", NULL, "status", { "product", "subject" }, { NULL }, "",
	  "SUBJECT's consent state for PRODUCT",
	  "Each scope's state (granted, withdrawn, refused, none), the policy version it was\n"
	  "given under and when, after the subject's attributes.",
	  EXITS_PLAIN, print_status, NULL, 0 },
	{ "history", NULL, "history", { "subject" }, { NULL }, "product since limit all",
	  "SUBJECT's ledger records, oldest first",
	  "SUBJECT's ledger records in seq order: a page of --limit after seq --since, or every\n"
	  "page with --all.", EXITS_PLAIN, print_history, NULL, 0 },
	{ "export", NULL, "export", { "subject" }, { NULL }, "", "everything held about SUBJECT",
	  "Everything the ledger holds about SUBJECT: attributes, each product's scopes and\n"
	  "cancellation, and how many records; --json prints the whole document, records\n"
	  "included, as an access or portability request needs it.",
	  EXITS_PLAIN, print_export, NULL, 0 },
	{ "watch", "subscribe", "subscribe", { "?product" }, { NULL }, "",
	  "print consent changes as they happen",
	  "Print each consent change of PRODUCT (default: every product you may act for) as it\n"
	  "is committed: seq, product, subject, scope and the new state, until interrupted.",
	  EXITS_WATCH, NULL, NULL, 0 },
	{ "policy", NULL, NULL, { NULL }, { NULL }, "", "the policy tables",
	  "The policy tables consentd serves; \"consentctl policy\" alone lists them.",
	  EXITS_PLAIN, NULL, policy_table, sizeof policy_table / sizeof policy_table[0] },
	{ "decisions", NULL, "decisions", { NULL }, { NULL }, "subject product limit",
	  "the most recent decisions, newest first",
	  "The most recent decisions of check and explain, newest first, from the daemon's\n"
	  "in-memory log of the last 4096.", EXITS_PLAIN, print_decisions, NULL, 0 },
	{ "stats", NULL, "stats", { NULL }, { NULL }, "", "the daemon's figures",
	  "Uptime, connections, requests by op, decisions by outcome, check latency, and the\n"
	  "ledger's, cache's and policy tables' figures.", EXITS_PLAIN, print_stats, NULL, 0 },
	{ "reload", NULL, "reload", { NULL }, { NULL }, "", "load the policy tables again",
	  "Load the policy directory again, as SIGHUP does. A set with any problem is refused\n"
	  "whole, every problem listed, and the old set keeps serving.",
	  EXITS_PLAIN, print_reload, NULL, 0 },
	{ "verify", NULL, "verify", { NULL }, { NULL }, "", "check the ledger's hash chain",
	  "Walk the ledger's hash chain and compare its tail with the chain head file. Where\n"
	  "it breaks, the error (chain_broken, exit 3) names the first record that does not\n"
	  "hold.", EXITS_PLAIN, print_verify, NULL, 0 },
	{ "purge", NULL, "purge", { NULL }, { NULL }, "dry-run", "erase what is past retention",
	  "Erase now the personal content of the records past retention, and append a purge\n"
	  "record that says what went, so that the chain still verifies.",
	  EXITS_PLAIN, print_purge, NULL, 0 },
	{ "raw", NULL, NULL, { "json" }, { "JSON" }, "", "send one JSON request as given",
	  "Send JSON, one request object, as it is, and print the reply.",
	  EXITS_PLAIN, NULL, NULL, 0 },
};
#define CMD_COUNT	(sizeof cmd_table / sizeof cmd_table[0])

/* What the command line asks, apart from the request itself. */
struct invocation {
	const struct cmd	*cmd;
	const char		*parent;	/* "policy" for its sub-words */
	char			 who[32];	/* the command as messages name it */
	const char		*socket;
	bool			 json, help;
	int			 argc;		/* the command's own arguments */
	char			**argv;
};

/*
 * The arguments with each "--name=value" split in two, so that either spelling reads the
 * same further on. One allocation, freed by the caller.
 */
static char **
split_equals(int argc, char **argv, int *n)
{
	size_t bytes = 0;
	char **out, *p;

	for (int i = 0; i < argc; i++)
		bytes += strlen(argv[i]) + 1;
	if ((out = malloc(2 * (size_t)argc * sizeof *out + bytes)) == NULL) {
		perror("consentctl");
		exit(EXIT_ERROR);
	}
	p = (char *)(out + 2 * argc);
	*n = 0;
	for (int i = 0; i < argc; i++) {
		char *eq = strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;
		char *copy = strcpy(p, argv[i]);

		p += strlen(argv[i]) + 1;
		out[(*n)++] = copy;
		if (eq != NULL) {
			copy[eq - argv[i]] = '\0';
			out[(*n)++] = copy + (eq - argv[i]) + 1;
		}
	}
	return out;
}

static bool
is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* A global option at argv[*i] taken into inv (moving *i past its value); false if none. */
static bool
global_option(struct invocation *inv, int argc, char **argv, int *i)
{
	if (is_help(argv[*i]))
		inv->help = true;
	else if (strcmp(argv[*i], "--json") == 0)
		inv->json = true;
	else if (strcmp(argv[*i], "--socket") == 0 && *i + 1 < argc)
		inv->socket = argv[++*i];
	else
		return false;
	return true;
}

/* The command (and policy's sub-word) at argv[*i], moving *i past it; false after a message. */
static bool
take_command(struct invocation *inv, int argc, char **argv, int *i)
{
	const struct cmd *c = find_cmd(cmd_table, CMD_COUNT, argv[(*i)++], NULL);

	if (c == NULL)
		return false;
	inv->cmd = c;
	snprintf(inv->who, sizeof inv->who, "%s", c->name);
	/* "policy --help" is about policy's sub-words, not about the first of them. */
	if (c->subs == NULL || (inv->help && *i == argc) || (*i < argc && is_help(argv[*i])))
		return true;
	if (*i < argc && argv[*i][0] != '-') {
		if ((inv->cmd = find_cmd(c->subs, c->nsubs, argv[(*i)++], c->name)) == NULL)
			return false;
	} else
		inv->cmd = &c->subs[0];		/* policy alone lists the products */
	inv->parent = c->name;
	snprintf(inv->who, sizeof inv->who, "%s %s", c->name, inv->cmd->name);
	return true;
}

/*
 * Parse argv into inv: global options, the command, then its arguments with any global
 * options among them taken out. The value of a command's option is passed over, so that
 * "--source --json" keeps its value. False after a usage message.
 */
static bool
parse(struct invocation *inv, int argc, char **argv)
{
	int i = 1, kept = 0;

	for (; i < argc && argv[i][0] == '-'; i++)
		if (!global_option(inv, argc, argv, &i)) {
			fprintf(stderr, "consentctl: %s \"%s\"; before a command: --socket PATH, "
			    "--json, --help\n", strcmp(argv[i], "--socket") == 0 ? "no value for" :
			    "unknown option", argv[i]);
			return false;
		}
	if (i == argc && !inv->help)
		usage(stderr, cmd_table, CMD_COUNT);
	if (i == argc)
		return inv->help;
	if (!take_command(inv, argc, argv, &i))
		return false;
	inv->argv = argv + i;
	for (; i < argc; i++) {
		if (global_option(inv, argc, argv, &i))
			continue;
		inv->argv[kept++] = argv[i];
		if (takes_value(inv->cmd, argv[i]) && i + 1 < argc)
			inv->argv[kept++] = argv[++i];
	}
	inv->argc = kept;
	return true;
}

/* Print a successful reply r for a person; returns the exit code. */
static int
print_reply(const struct cmd *c, json_t *r)
{
	if (c->print != NULL)
		return c->print(r);
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
	if (rc == 0 && raw_json && c->exits == EXITS_DECISION)
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

/* Connect, send the request and show what comes back: the exit code. */
static int
run(const struct invocation *inv, json_t *req)
{
	const char *sock = inv->socket ? inv->socket : getenv("CONSENTD_SOCKET");
	struct conn cn = { .fd = -1 };
	const struct cmd *c = inv->cmd;
	int rc;

	if ((cn.fd = connect_socket(sock && *sock ? sock : DEFAULT_SOCKET)) == -1)
		return EXIT_UNREACHABLE;
	if (c->exits == EXITS_WATCH)
		rc = run_watch(&cn, req, inv->json);
	else if (c->op && strcmp(c->op, "history") == 0 && json_object_get(req, "all"))
		rc = run_history_all(&cn, req, inv->json);
	else
		rc = run_once(c, &cn, req, inv->json);
	close(cn.fd);
	free(cn.buf);
	return rc;
}

int
main(int argc, char **argv)
{
	struct invocation inv = { 0 };
	json_t *req = NULL;
	char **args;
	int n, rc = EXIT_USAGE;

	args = split_equals(argc, argv, &n);
	if (!parse(&inv, n, args))
		rc = EXIT_USAGE;
	else if (inv.help && inv.cmd == NULL) {
		usage(stdout, cmd_table, CMD_COUNT);
		rc = 0;
	} else if (inv.help) {
		cmd_help(stdout, inv.cmd, inv.parent);
		rc = 0;
	} else if ((req = make_request(inv.cmd, inv.who, inv.argc, inv.argv)) != NULL)
		rc = run(&inv, req);
	json_decref(req);
	free(args);
	return rc;
}
