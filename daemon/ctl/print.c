/*
 * Replies for a person: one function per reply shape, each returning the exit code. Lists of
 * like things (scopes, decisions, rules) are aligned tables; history prints a record a line at
 * fixed widths instead, since its pages come one after another and cannot be measured first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The exit code of a check's decision; anything unknown counts as deny. */
int
decision_exit(json_t *r)
{
	const char *d = json_string_value(json_object_get(r, "decision"));

	if (d != NULL && strcmp(d, "allow") == 0)
		return EXIT_ALLOW;
	return d != NULL && strcmp(d, "prompt") == 0 ? EXIT_PROMPT : EXIT_DENY;
}

/* The decision, its reasons and what the app should do next. */
static void
print_decision(json_t *r)
{
	json_t *prompt = json_object_get(r, "prompt");
	char *reasons = join(json_object_get(r, "reasons"), " ", "");
	const char *basis = json_string_value(json_object_get(r, "basis"));
	char when[32];

	printf("%s%s%s  (%s, basis %s, %s)\n", text(r, "decision"), reasons[0] ? ": " : "",
	    reasons, text(r, "policy"), basis ? basis : "-", text(r, "decision_id"));
	free(reasons);
	printf("  %s\n", text(r, "detail"));
	if (prompt)
		printf("  prompt for %s%s\n", text(prompt, "scope"),
		    json_is_true(json_object_get(prompt, "separate")) ? " (separate consent)" :
		    "");
	if (json_object_get(r, "retry_after"))
		printf("  ask again after %s\n", iso_time(r, "retry_after", when, sizeof when));
}

int
print_check(json_t *r)
{
	print_decision(r);
	return decision_exit(r);
}

/* Where a clause is: seed, section, title and lines. */
static void
clause_cell(struct table *t, json_t *cl)
{
	json_t *lines = json_object_get(cl, "lines");
	long long first = (long long)json_integer_value(json_array_get(lines, 0));
	long long last = (long long)json_integer_value(json_array_get(lines, 1));
	const char *q = json_string_value(json_object_get(cl, "quote"));
	char where[64] = "";

	if (first > 0 && last > first)
		snprintf(where, sizeof where, ", lines %lld-%lld", first, last);
	else if (first > 0)
		snprintf(where, sizeof where, ", line %lld", first);
	table_cell(t, "seed %s %s %s%s%s%s%s", text(cl, "seed"), text(cl, "section"),
	    text(cl, "title"), where, q ? ": \u300c" : "", q ? q : "", q ? "\u300d" : "");
}

/* Each rule evaluated, in order, with the clauses of the policy it rests on under it. */
int
print_explain(json_t *r)
{
	struct table *t = table_new(3);
	json_t *step, *cl;
	size_t i, k;

	print_decision(r);
	printf("\n");
	table_cell(t, "RULE");
	table_cell(t, "RESULT");
	table_cell(t, "DETAIL");
	json_array_foreach(json_object_get(r, "trace"), i, step) {
		table_cell(t, "%s", text(step, "rule"));
		table_cell(t, "%s", text(step, "result"));
		table_cell(t, "%s", text(step, "detail"));
		json_array_foreach(json_object_get(step, "clauses"), k, cl) {
			table_cell(t, "%s", "");
			table_cell(t, "%s", "");
			clause_cell(t, cl);
		}
	}
	table_print(t, stdout, "");
	return decision_exit(r);
}

int
print_hello(json_t *r)
{
	json_t *peer = json_object_get(r, "peer");

	printf("%s %s, protocol %lld\n", text(r, "server"), text(r, "version"),
	    number(r, "protocol"));
	printf("you are uid %lld, role %s, for products", number(peer, "uid"), text(peer, "role"));
	print_names(json_object_get(peer, "products"));
	printf("\n");
	return 0;
}

/* A write's acknowledgement: it is durable now. */
int
print_recorded(json_t *r)
{
	char at[32];

	printf("recorded as seq %lld at %s\n", number(r, "seq"), iso_time(r, "at", at, sizeof at));
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

int
print_status(json_t *r)
{
	struct table *t = table_new(4);
	char label[300], at[32];
	json_t *s;
	size_t i;

	snprintf(label, sizeof label, "%s for %s: ", text(r, "subject"), text(r, "product"));
	print_attributes(label, json_object_get(r, "attributes"));
	table_cell(t, "SCOPE");
	table_cell(t, "STATE");
	table_cell(t, "VERSION");
	table_cell(t, "AT");
	if (json_array_size(json_object_get(r, "scopes")) == 0) {
		printf("no consent recorded\n");
		table_free(t);
		return 0;
	}
	json_array_foreach(json_object_get(r, "scopes"), i, s) {
		table_cell(t, "%s", text(s, "scope"));
		table_cell(t, "%s", text(s, "state"));
		table_cell(t, "%s", text(s, "policy_version"));
		table_cell(t, "%s", iso_time(s, "at", at, sizeof at));
	}
	table_print(t, stdout, "");
	return 0;
}

/* The request's field or permission, whichever it named. */
static const char *
asked(json_t *d)
{
	return json_is_string(json_object_get(d, "field")) ? text(d, "field") :
	    text(d, "permission");
}

int
print_decisions(json_t *r)
{
	json_t *list = json_object_get(r, "decisions"), *d;
	struct table *t = table_new(9);
	const char *head[] = { "AT", "ID", "UID", "PRODUCT", "SUBJECT", "FEATURE",
	    "FIELD/PERMISSION", "DECISION", "REASONS" };
	char at[32];
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no decisions\n");
		table_free(t);
		return 0;
	}
	for (i = 0; i < 9; i++)
		table_cell(t, "%s", head[i]);
	json_array_foreach(list, i, d) {
		table_cell(t, "%s", iso_time(d, "at", at, sizeof at));
		table_cell(t, "%s", text(d, "decision_id"));
		table_cell(t, "%lld", number(d, "uid"));
		table_cell(t, "%s", text(d, "product"));
		table_cell(t, "%s", text(d, "subject"));
		table_cell(t, "%s", text(d, "feature"));
		table_cell(t, "%s", asked(d));
		table_cell(t, "%s", text(d, "decision"));
		table_list(t, json_object_get(d, "reasons"), "-");
	}
	table_print(t, stdout, "");
	return 0;
}

/* One value of stats: a scalar as it is, an object as "key value" pairs. */
static void
stats_cell(struct table *t, json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), *d = NULL;
	size_t len = 0;
	FILE *f = json_is_object(v) ? open_memstream(&d, &len) : NULL;
	json_t *sub;
	const char *k;

	if (f == NULL) {
		table_cell(t, "%s", json_is_string(v) ? json_string_value(v) : s ? s : "?");
		free(s);
		return;
	}
	free(s);
	json_object_foreach(v, k, sub) {
		s = json_dumps(sub, JSON_ENCODE_ANY | JSON_COMPACT);
		fprintf(f, "%s%s %s", ftell(f) > 0 ? ", " : "", k,
		    json_is_string(sub) ? json_string_value(sub) : s ? s : "?");
		free(s);
	}
	fclose(f);
	table_cell(t, "%s", d);
	free(d);
}

/*
 * The daemon's figures, a line per group. Read generically, so that a figure the daemon adds
 * shows without a new consentctl; a group of groups (requests by op) gets a line of its own.
 */
int
print_stats(json_t *r)
{
	struct table *t = table_new(2);
	const char *k, *k2;
	json_t *v, *v2;

	json_object_del(r, "ok");
	json_object_foreach(r, k, v) {
		json_t *flat = json_is_object(v) ? json_object() : json_incref(v);

		json_object_foreach(v, k2, v2)
			if (!json_is_object(v2))
				json_object_set(flat, k2, v2);
		table_cell(t, "%s", k);
		stats_cell(t, flat);
		json_decref(flat);
		json_object_foreach(v, k2, v2) {
			if (!json_is_object(v2))
				continue;
			table_cell(t, "  %s", k2);
			stats_cell(t, v2);
		}
	}
	table_print(t, stdout, "");
	return 0;
}

int
print_reload(json_t *r)
{
	json_t *p = json_object_get(r, "policies"), *v;
	size_t i;

	printf("reloaded %zu policy table%s\n", json_array_size(p),
	    json_array_size(p) == 1 ? "" : "s");
	json_array_foreach(p, i, v)
		printf("  %s\n", json_string_value(v));
	return 0;
}

int
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
size_t
print_events(json_t *events)
{
	json_t *rec;
	size_t i;

	json_array_foreach(events, i, rec)
		print_record(rec);
	return json_array_size(events);
}

int
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

int
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

int
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
int
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

/* An error reply on stderr; a refused reload lists every problem, not just the first. */
void
print_error(json_t *r)
{
	json_t *e = json_object_get(r, "error"), *p;
	size_t i;

	fprintf(stderr, "consentctl: %s: %s\n", text(e, "code"), text(e, "message"));
	json_array_foreach(json_object_get(e, "problems"), i, p)
		fprintf(stderr, "  %s\n", json_string_value(p));
}

/* One pushed line for a person, or as it came with --json; whether it was the overflow. */
bool
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
