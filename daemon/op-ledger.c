/*
 * op-ledger.c: the ledger's data-subject and operator ops: history, export, cancel, purge and
 * verify, and the reply to every ledger write once it is done.
 *
 * history, export and verify are reads answered by the ledger's reader thread; cancel and
 * purge are writes in the group commit. An app peer sees and acts for its own products only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "log.h"
#include "ops.h"
#include "retention.h"

/* Submit w as the answer to r, or answer out of memory. */
static enum op_result
pending(struct request *r, struct ledger_write *w, json_t **reply)
{
	if (w == NULL) {
		*reply = req_error(r, PROTO_ERR_INTERNAL, "out of memory");
		return OP_REPLIED;
	}
	r->write = w;
	return OP_PENDING;
}

/* An app peer without "product" reads its own products only. */
static int
limit_to_peer(struct request *r, struct ledger_write *w)
{
	const struct role_rule *rule = r->peer->rule;

	if (r->peer->role != ROLE_APP || w->product != NULL)
		return 0;
	if ((w->products = calloc(rule ? rule->nproducts + 1 : 1, sizeof *w->products)) == NULL)
		return -1;
	for (int i = 0; rule != NULL && i < rule->nproducts; i++)
		if ((w->products[w->nproducts++] = strdup(rule->products[i])) == NULL)
			return -1;
	return 0;
}

/* The subject and, if given, the product of a history or export. */
static struct ledger_write *
subject_read(struct request *r, enum ledger_op op, json_t **reply)
{
	const char *subject, *product = NULL;
	struct ledger_write *w;
	int p;

	if (req_string(r, "subject", true, ID_BYTES_MAX, &subject, reply) == -1)
		return NULL;
	if (json_object_get(r->msg, "product") != NULL) {
		if (req_product(r, &p, reply) == -1)
			return NULL;
		product = registry_name(&consentd->policy->reg, ID_PRODUCT, p);
	}
	if ((w = ops_new_write(r, op, product, subject)) == NULL || limit_to_peer(r, w) == -1) {
		ledger_write_free(w);
		*reply = req_error(r, PROTO_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return w;
}

enum op_result
op_history(struct request *r, json_t **reply)
{
	int64_t since = 0, limit = 100;
	struct ledger_write *w;

	if (req_int(r, "since", 0, INT64_MAX, &since, reply) == -1 ||
	    req_int(r, "limit", 1, LEDGER_HISTORY_MAX, &limit, reply) == -1 ||
	    (w = subject_read(r, LEDGER_HISTORY, reply)) == NULL)
		return OP_REPLIED;
	w->since = since;
	w->limit = (int)limit;
	return pending(r, w, reply);
}

enum op_result
op_export(struct request *r, json_t **reply)
{
	struct ledger_write *w;

	if (json_object_get(r->msg, "product") != NULL) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "export takes no \"product\": it "
		    "returns everything held about the subject");
		return OP_REPLIED;
	}
	if ((w = subject_read(r, LEDGER_EXPORT, reply)) == NULL)
		return OP_REPLIED;
	return pending(r, w, reply);
}

enum op_result
op_cancel(struct request *r, json_t **reply)
{
	const char *subject, *source;
	struct ledger_write *w;
	int p;

	if (req_product(r, &p, reply) == -1 ||
	    req_string(r, "subject", true, ID_BYTES_MAX, &subject, reply) == -1 ||
	    req_string(r, "source", false, TEXT_BYTES_MAX, &source, reply) == -1)
		return OP_REPLIED;
	w = ops_new_write(r, LEDGER_CANCEL, registry_name(&consentd->policy->reg, ID_PRODUCT, p),
	    subject);
	if (w != NULL && source != NULL && (w->source = strdup(source)) == NULL) {
		ledger_write_free(w);
		w = NULL;
	}
	return pending(r, w, reply);
}

enum op_result
op_purge(struct request *r, json_t **reply)
{
	struct ledger_write *w;
	bool dry_run = false;

	if (req_bool(r, "dry_run", &dry_run, reply) == -1)
		return OP_REPLIED;
	if ((w = retention_purge(r->peer->uid, "purge op")) != NULL)
		w->dry_run = dry_run;
	return pending(r, w, reply);
}

/* {"op":"verify"}: walk the whole chain on the reader thread; see verify_reply. */
enum op_result
op_verify(struct request *r, json_t **reply)
{
	return pending(r, ops_new_write(r, LEDGER_VERIFY, NULL, NULL), reply);
}

static json_t *
verify_reply(const struct ledger_write *w, json_t *id)
{
	const struct chain_verdict *v = w->verdict;
	json_t *rep;

	if (v->bad_seq > 0) {
		char seq[24];

		snprintf(seq, sizeof seq, "%lld", (long long)v->bad_seq);
		log_event(LOG_CRIT, MSGID_CHAIN_BROKEN, (struct log_field[]){ { "CONSENTD_SEQ",
		    seq } }, 1, "verify: the chain breaks at record %s: %s", seq, v->why);
		rep = proto_reply_error(id, PROTO_ERR_CHAIN_BROKEN, "the chain breaks at record "
		    "%lld: %s", (long long)v->bad_seq, v->why);
		/* The first bad record, both beside the error and in it. */
		json_object_set_new(json_object_get(rep, "error"), "seq",
		    json_integer(v->bad_seq));
		json_object_set_new(rep, "seq", json_integer(v->bad_seq));
		json_object_set_new(rep, "records", json_integer(v->records));
		return rep;
	}
	log_info("verify: %lld records, head seq %lld hash %s", (long long)v->records,
	    (long long)v->head.seq, v->head.hash);
	rep = proto_reply_ok(id);
	json_object_set_new(rep, "records", json_integer(v->records));
	json_object_set_new(rep, "head", json_pack("{s:I,s:s}", "seq", (json_int_t)v->head.seq,
	    "hash", v->head.hash));
	return rep;
}

/* The seq of the record a write appended: null when it appended none (a purge of nothing). */
static json_t *
seq_json(const struct ledger_write *w)
{
	return w->seq > 0 ? json_integer(w->seq) : json_null();
}

json_t *
ops_write_reply(const struct ledger_write *w, json_t *id)
{
	json_t *rep;

	if (w->failed)
		return proto_reply_error(id, PROTO_ERR_LEDGER_UNAVAILABLE, "%s", w->error);
	if (w->blocked)
		return proto_reply_error(id, PROTO_ERR_CANCEL_BLOCKED, "%s", w->error);
	if (w->op == LEDGER_VERIFY)
		return verify_reply(w, id);
	rep = proto_reply_ok(id);
	if (w->op == LEDGER_HISTORY || w->op == LEDGER_EXPORT) {
		json_object_update(rep, w->result);
		return rep;
	}
	json_object_set_new(rep, "seq", seq_json(w));
	if (w->op == LEDGER_PURGE) {
		retention_log(w);
		json_object_update(rep, w->result);
		return rep;
	}
	json_object_set_new(rep, "at", json_integer(w->at));
	if (w->op == LEDGER_CANCEL)
		json_object_set(rep, "withdrawn", w->result);
	return rep;
}

/* {"op":"subscribe"[,"product"]}: consent_changed events from now on, on this connection. */
enum op_result
op_subscribe(struct request *r, json_t **reply)
{
	int p = -1;

	if (json_object_get(r->msg, "product") != NULL && req_product(r, &p, reply) == -1)
		return OP_REPLIED;
	client_subscribe(r->client, p);
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "product", p >= 0 ? json_string(registry_name(
	    &consentd->policy->reg, ID_PRODUCT, p)) : json_null());
	return OP_REPLIED;
}
