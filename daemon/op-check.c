/*
 * op-check.c: check, explain and decisions.
 *
 * A check reads the request, takes the subject's consent snapshot from the ledger, runs the
 * engine, logs the decision in the bounded in-memory log, and answers. When the ledger cannot
 * be read, what rules 2-4 decide stands and everything else is deny ledger_unavailable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "ops.h"
#include "string-copy.h"

/* The request's keys, parsed and validated. */
struct check_args {
	struct decide_request	 dr;
	const char		*product, *subject, *feature, *item, *purpose;
};

static int
parse_check(struct request *r, struct check_args *a, json_t **reply)
{
	const char *platform, *region;
	struct decide_request *dr = &a->dr;
	bool has_field = json_object_get(r->msg, "field") != NULL;
	bool has_perm = json_object_get(r->msg, "permission") != NULL;
	const struct registry *reg = &consentd->policy->reg;

	memset(a, 0, sizeof *a);
	dr->field = dr->permission = dr->purpose = dr->exception = -1;
	if (req_product(r, &dr->product, reply) == -1 ||
	    req_string(r, "subject", true, ID_BYTES_MAX, &a->subject, reply) == -1 ||
	    req_id(r, "feature", ID_FEATURE, true, &dr->feature, reply) == -1)
		return -1;
	if (has_field == has_perm) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "exactly one of \"field\" and "
		    "\"permission\" is needed");
		return -1;
	}
	if (req_id(r, "field", ID_FIELD, false, &dr->field, reply) == -1 ||
	    req_id(r, "permission", ID_PERMISSION, false, &dr->permission, reply) == -1 ||
	    req_id(r, "purpose", ID_PURPOSE, false, &dr->purpose, reply) == -1 ||
	    req_string(r, "platform", false, 16, &platform, reply) == -1 ||
	    req_string(r, "os_version", false, 32, &dr->os_version, reply) == -1 ||
	    req_string(r, "rom", false, 32, &dr->rom, reply) == -1 ||
	    req_string(r, "region", false, 16, &region, reply) == -1)
		return -1;
	if ((dr->platform = platform ? platform_parse(platform) : PLATFORM_NONE) < 0 && platform) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"platform\" must be android, ios "
		    "or web");
		return -1;
	}
	if (dr->os_version && !os_version_valid(dr->os_version)) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"os_version\" must be numbers "
		    "separated by dots, such as \"13\" or \"10.3\"");
		return -1;
	}
	if ((dr->region = region ? region_parse(region) : REGION_NONE) < 0 && region) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"region\" must be one of cn, hk, "
		    "eea, uk, ch, in, ru, sg, other");
		return -1;
	}
	if (json_object_get(r->msg, "exception") != NULL && r->peer->role != ROLE_ADMIN) {
		*reply = req_error(r, PROTO_ERR_FORBIDDEN, "\"exception\" is for admins only");
		return -1;
	}
	if (req_id(r, "exception", ID_EXCEPTION, false, &dr->exception, reply) == -1)
		return -1;
	dr->now = clock_now();
	a->product = registry_name(reg, ID_PRODUCT, dr->product);
	a->feature = registry_name(reg, ID_FEATURE, dr->feature);
	a->item = dr->field >= 0 ? registry_name(reg, ID_FIELD, dr->field) :
	    registry_name(reg, ID_PERMISSION, dr->permission);
	a->purpose = dr->purpose >= 0 ? registry_name(reg, ID_PURPOSE, dr->purpose) : NULL;
	return 0;
}

/* Keep the decision in the ring that "decisions" reads. */
static void
log_decision(struct request *r, const struct check_args *a, const struct decision *d,
    const char *id)
{
	struct decision_record *rec = &consentd->decisions[consentd->ndecisions++ %
	    DECISION_LOG_MAX];

	string_copy(rec->id, sizeof rec->id, id);
	rec->at = a->dr.now;
	rec->uid = r->peer->uid;
	string_copy(rec->product, sizeof rec->product, a->product);
	string_copy(rec->subject, sizeof rec->subject, a->subject);
	string_copy(rec->feature, sizeof rec->feature, a->feature);
	string_copy(rec->item, sizeof rec->item, a->item);
	rec->is_permission = a->dr.permission >= 0;
	string_copy(rec->purpose, sizeof rec->purpose, a->purpose);
	rec->outcome = d->outcome;
	rec->nreasons = d->nreasons;
	memcpy(rec->reasons, d->reasons, sizeof rec->reasons);
}

/* An admin's exception is always logged, with who used it and for what. */
static void
log_exception(struct request *r, const struct check_args *a, const struct decision *d,
    const char *decision_id)
{
	const char *exception = registry_name(&consentd->policy->reg, ID_EXCEPTION,
	    a->dr.exception);
	char uid[16];
	struct log_field f[] = {
		{ "CONSENTD_EXCEPTION", exception }, { "CONSENTD_PRODUCT", a->product },
		{ "CONSENTD_FEATURE", a->feature }, { "CONSENTD_ITEM", a->item },
		{ "CONSENTD_SUBJECT", a->subject }, { "CONSENTD_PEER_UID", uid },
		{ "CONSENTD_DECISION_ID", decision_id },
	};

	snprintf(uid, sizeof uid, "%u", (unsigned)r->peer->uid);
	log_event(LOG_NOTICE, MSGID_EXCEPTION_USED, f, sizeof f / sizeof f[0], "exception %s "
	    "used by uid %s: %s %s %s for %s, decision %s (%s)", exception, uid, a->product,
	    a->feature, a->item, a->subject, outcome_name(d->outcome), decision_id);
}

static json_t *
trace_json(const struct decision *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->ntrace; i++) {
		const struct trace_step *t = &d->trace[i];

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o}", "rule", t->rule,
		    "result", t->result, "detail", t->detail, "clauses", cites_json(t->cite)));
	}
	return a;
}

static void
add_key_string(struct proto_buf *b, const char *key, const char *value)
{
	proto_buf_add_raw(b, key);
	proto_buf_add_string(b, value);
}

/* The reply, written straight into b: a check is answered many thousand times a second. */
static void
decision_reply(struct proto_buf *b, struct request *r, const struct check_args *a,
    const struct decision *d, const char *decision_id)
{
	const struct registry *reg = &consentd->policy->reg;
	char num[48], pol[96];

	b->len = 0;
	b->failed = 0;
	proto_buf_add_raw(b, "{");
	if (r->id != NULL) {
		proto_buf_add_raw(b, "\"id\":");
		proto_buf_add_scalar(b, r->id);
		proto_buf_add_raw(b, ",");
	}
	add_key_string(b, "\"ok\":true,\"decision\":", outcome_name(d->outcome));
	proto_buf_add_raw(b, ",\"reasons\":[");
	for (size_t i = 0; i < d->nreasons; i++)
		add_key_string(b, i > 0 ? "," : "", d->reasons[i]);
	proto_buf_add_raw(b, "],\"basis\":");
	if (d->basis == BASIS_NONE)
		proto_buf_add_raw(b, "null");
	else
		proto_buf_add_string(b, basis_name(d->basis));
	snprintf(pol, sizeof pol, "%s@%s", a->product, d->table ? d->table->version : "none");
	add_key_string(b, ",\"policy\":", pol);
	add_key_string(b, ",\"decision_id\":", decision_id);
	add_key_string(b, ",\"detail\":", d->detail);
	if (d->outcome == OUTCOME_PROMPT) {
		add_key_string(b, ",\"prompt\":{\"scope\":", d->prompt_scope);
		proto_buf_add_raw(b, ",\"fields\":[");
		if (a->dr.field >= 0)
			proto_buf_add_string(b, a->item);
		proto_buf_add_raw(b, "],\"purpose\":");
		if (d->prompt_purpose >= 0)
			proto_buf_add_string(b, registry_name(reg, ID_PURPOSE, d->prompt_purpose));
		else
			proto_buf_add_raw(b, "null");
		proto_buf_add_raw(b, d->separate ? ",\"separate\":true}" : ",\"separate\":false}");
	}
	if (d->retry_after > 0) {
		snprintf(num, sizeof num, ",\"retry_after\":%lld", (long long)d->retry_after);
		proto_buf_add_raw(b, num);
	}
	proto_buf_add_raw(b, "}\n");
}

/* explain: the check reply with the trace as its last key. */
static void
add_trace(struct proto_buf *b, const struct decision *d)
{
	json_t *trace = trace_json(d);
	char *text = json_dumps(trace, JSON_COMPACT);

	if (text == NULL) {
		b->failed = 1;
	} else {
		b->len -= 2;	/* the closing brace and newline */
		proto_buf_add_raw(b, ",\"trace\":");
		proto_buf_add_raw(b, text);
		proto_buf_add_raw(b, "}\n");
	}
	free(text);
	json_decref(trace);
}

static void
record_latency(const struct timespec *t0)
{
	struct timespec t1;
	uint64_t us;
	int b = 0;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (uint64_t)(t1.tv_nsec -
	    t0->tv_nsec) / 1000;
	while (us > 0 && b < 31) {
		us >>= 1;
		b++;
	}
	consentd->stats.latency_us[b]++;
}

static bool
decided_without_ledger(const struct decision *d)
{
	static const char *const early[] = { "never_collect", "not_declared",
		"platform_excluded" };

	for (size_t i = 0; d->nreasons > 0 && i < 3; i++)
		if (strcmp(d->reasons[0], early[i]) == 0)
			return true;
	return false;
}

/* One reply at a time: the loop is single-threaded and the client copies it out at once. */
static struct proto_buf reply_text;

static enum op_result
run_check(struct request *r, json_t **reply, bool with_trace)
{
	static struct decision d;	/* large; the loop is single-threaded */
	const struct ledger_snapshot *snap;
	static const struct subject_state unknown = { .region = REGION_NONE };
	struct check_args a;
	struct timespec t0;
	char decision_id[24];
	bool ledger_ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (parse_check(r, &a, reply) == -1)
		return OP_REPLIED;
	a.dr.explain = with_trace;
	snap = cache_get(consentd->cache, consentd->ledger, a.product, a.subject);
	ledger_ok = snap != NULL;
	decide(consentd->policy, &a.dr, ledger_ok ? &snap->state : &unknown, &d);
	if (!ledger_ok && !decided_without_ledger(&d)) {
		d.outcome = OUTCOME_DENY;
		d.nreasons = 1;
		d.reasons[0] = "ledger_unavailable";
		d.retry_after = 0;
		snprintf(d.detail, sizeof d.detail, "the consent ledger cannot be read");
	}
	snprintf(decision_id, sizeof decision_id, "d%llx-%llx",
	    (unsigned long long)consentd->stats.started,
	    (unsigned long long)consentd->ndecisions + 1);
	log_decision(r, &a, &d, decision_id);
	consentd->stats.by_outcome[d.outcome]++;
	if (d.exception_used)
		log_exception(r, &a, &d, decision_id);
	else if (d.outcome == OUTCOME_DENY)
		log_debug("deny %s: %s %s %s for %s (%s)", d.reasons[0], a.product, a.feature,
		    a.item, a.subject, decision_id);
	decision_reply(&reply_text, r, &a, &d, decision_id);
	if (with_trace)
		add_trace(&reply_text, &d);
	r->text = &reply_text;
	record_latency(&t0);
	return OP_REPLIED;
}

enum op_result
op_check(struct request *r, json_t **reply)
{
	return run_check(r, reply, false);
}

enum op_result
op_explain(struct request *r, json_t **reply)
{
	return run_check(r, reply, true);
}

enum op_result
op_decisions(struct request *r, json_t **reply)
{
	const char *subject, *product;
	json_t *list;
	int64_t n = 100;

	if (req_string(r, "subject", false, ID_BYTES_MAX, &subject, reply) == -1 ||
	    req_string(r, "product", false, ID_BYTES_MAX, &product, reply) == -1 ||
	    req_int(r, "limit", 1, DECISION_LOG_MAX, &n, reply) == -1)
		return OP_REPLIED;
	list = json_array();
	for (uint64_t i = consentd->ndecisions; i > 0 && consentd->ndecisions - i <
	    DECISION_LOG_MAX && (int64_t)json_array_size(list) < n; i--) {
		const struct decision_record *d = &consentd->decisions[(i - 1) %
		    DECISION_LOG_MAX];
		json_t *reasons, *o;

		if ((subject && strcmp(subject, d->subject)) || (product &&
		    strcmp(product, d->product)))
			continue;
		reasons = json_array();
		for (size_t k = 0; k < d->nreasons; k++)
			json_array_append_new(reasons, json_string(d->reasons[k]));
		o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:o}", "decision_id", d->id,
		    "at", (json_int_t)d->at, "uid", (json_int_t)d->uid, "product", d->product,
		    "subject", d->subject, "feature", d->feature,
		    d->is_permission ? "permission" : "field", d->item, "decision", outcome_name(d->outcome),
		    "reasons", reasons);
		if (d->purpose[0])
			json_object_set_new(o, "purpose", json_string(d->purpose));
		json_array_append_new(list, o);
	}
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "decisions", list);
	return OP_REPLIED;
}
