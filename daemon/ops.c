/*
 * ops.c: the op table, the one place an op is added, and the dispatch that checks the peer's
 * role before any handler runs. A peer with no role may only say hello; an app peer acts only
 * for its own products (checked where the product key is read).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define R_NONE		(1u << ROLE_NONE)
#define R_APP		(1u << ROLE_APP)
#define R_READER	(1u << ROLE_READER)
#define R_ADMIN		(1u << ROLE_ADMIN)

struct op_entry {
	const char	*name;
	unsigned	 roles;
	bool		 write;		/* appends to the ledger: answered once durable */
	enum op_result	(*run)(struct request *, json_t **);
};

static const struct op_entry op_table[] = {
	{ "hello",	R_NONE | R_APP | R_READER | R_ADMIN, false, op_hello },
	{ "check",	R_APP | R_ADMIN,		false, op_check },
	{ "explain",	R_APP | R_ADMIN,		false, op_explain },
	{ "decisions",	R_READER | R_ADMIN,		false, op_decisions },
	{ "policy",	R_APP | R_READER | R_ADMIN,	false, op_policy },
	{ "set_subject", R_APP | R_ADMIN,		true,  op_set_subject },
	{ "grant",	R_APP | R_ADMIN,		true,  op_grant },
	{ "withdraw",	R_APP | R_ADMIN,		true,  op_withdraw },
	{ "refuse",	R_APP | R_ADMIN,		true,  op_refuse },
	{ "status",	R_APP | R_READER | R_ADMIN,	false, op_status },
	{ "stats",	R_READER | R_ADMIN,		false, op_stats },
	{ "reload",	R_ADMIN,			false, op_reload },
	/* Answered by the reader thread, after the writes before them: not writes themselves. */
	{ "verify",	R_ADMIN,			false, op_verify },
	{ "history",	R_APP | R_READER | R_ADMIN,	false, op_history },
	{ "export",	R_APP | R_ADMIN,		false, op_export },
	{ "cancel",	R_APP | R_ADMIN,		true,  op_cancel },
	{ "purge",	R_ADMIN,			true,  op_purge },
	{ "subscribe",	R_APP | R_ADMIN,		false, op_subscribe },
};
#define OP_COUNT	(sizeof op_table / sizeof op_table[0])

int
ops_find(const char *name)
{
	for (size_t i = 0; i < OP_COUNT; i++)
		if (strcmp(op_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
ops_is_write(int op)
{
	return op >= 0 && (size_t)op < OP_COUNT && op_table[op].write;
}

const char *
ops_name(int op)
{
	return op >= 0 && (size_t)op < OP_COUNT ? op_table[op].name : "?";
}

size_t
ops_count(void)
{
	return OP_COUNT;
}

json_t *
req_error(struct request *r, enum proto_error e, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return proto_reply_error(r->id, e, "%s", msg);
}

enum op_result
ops_dispatch(struct request *r, json_t **reply)
{
	json_t *op = json_object_get(r->msg, "op");
	const struct op_entry *e;

	if (op == NULL) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "missing key \"op\"");
		return OP_REPLIED;
	}
	if (!json_is_string(op)) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"op\" must be a string");
		return OP_REPLIED;
	}
	if (r->op < 0) {
		char esc[80];

		snprintf(esc, sizeof esc, "%.60s", json_string_value(op));
		*reply = req_error(r, PROTO_ERR_UNKNOWN_OP, "unknown op \"%s\"", esc);
		return OP_REPLIED;
	}
	e = &op_table[r->op];
	consentd->stats.by_op[r->op]++;
	if (!(e->roles & (1u << r->peer->role))) {
		*reply = req_error(r, PROTO_ERR_FORBIDDEN, "%s may not %s (uid %u)",
		    r->peer->role == ROLE_NONE ? "a peer with no role" : role_name(r->peer->role),
		    e->name, (unsigned)r->peer->uid);
		return OP_REPLIED;
	}
	return e->run(r, reply);
}

/* Whether s holds a control character (ids and text reach logs and hashes verbatim). */
static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int
req_string(struct request *r, const char *key, bool required, size_t max, const char **out,
    json_t **reply)
{
	json_t *v = json_object_get(r->msg, key);

	*out = NULL;
	if (v == NULL || (json_is_null(v) && !required)) {
		if (!required)
			return 0;
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "missing key \"%s\"", key);
		return -1;
	}
	if (!json_is_string(v)) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"%s\" must be a string", key);
		return -1;
	}
	if (json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    has_control(json_string_value(v))) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"%s\" must be 1 to %zu bytes of "
		    "text without control characters", key, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
req_int(struct request *r, const char *key, int64_t min, int64_t max, int64_t *out,
    json_t **reply)
{
	json_t *v = json_object_get(r->msg, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"%s\" must be a whole number from "
		    "%lld to %lld", key, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
req_bool(struct request *r, const char *key, bool *out, json_t **reply)
{
	json_t *v = json_object_get(r->msg, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"%s\" must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static const enum proto_error unknown_error[ID_KIND_COUNT] = {
	[ID_PRODUCT] = PROTO_ERR_UNKNOWN_PRODUCT, [ID_FEATURE] = PROTO_ERR_UNKNOWN_FEATURE,
	[ID_FIELD] = PROTO_ERR_UNKNOWN_FIELD, [ID_PERMISSION] = PROTO_ERR_UNKNOWN_PERMISSION,
	[ID_PURPOSE] = PROTO_ERR_UNKNOWN_PURPOSE, [ID_EXCEPTION] = PROTO_ERR_UNKNOWN_EXCEPTION,
};

int
req_id(struct request *r, const char *key, enum id_kind kind, bool required, int *out,
    json_t **reply)
{
	const char *s;

	*out = -1;
	if (req_string(r, key, required, ID_BYTES_MAX, &s, reply) == -1)
		return -1;
	if (s == NULL)
		return 0;
	if ((*out = registry_find(&consentd->policy->reg, kind, s)) < 0) {
		*reply = req_error(r, unknown_error[kind], "unknown %s \"%s\"", key, s);
		return -1;
	}
	return 0;
}

int
req_product(struct request *r, int *out, json_t **reply)
{
	const char *name;

	if (req_id(r, "product", ID_PRODUCT, true, out, reply) == -1)
		return -1;
	name = registry_name(&consentd->policy->reg, ID_PRODUCT, *out);
	if (r->peer->role == ROLE_APP && !peer_has_product(r->peer, name)) {
		*reply = req_error(r, PROTO_ERR_FORBIDDEN, "uid %u may not act for product %s",
		    (unsigned)r->peer->uid, name);
		return -1;
	}
	return 0;
}

struct ledger_write *
ops_new_write(struct request *r, enum ledger_op op, const char *product, const char *subject)
{
	struct ledger_write *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->op = op;
	w->peer_uid = r->peer->uid;
	if ((product != NULL && (w->product = strdup(product)) == NULL) ||
	    (subject != NULL && (w->subject = strdup(subject)) == NULL)) {
		ledger_write_free(w);
		return NULL;
	}
	return w;
}
