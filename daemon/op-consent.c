/*
 * op-consent.c: the ledger writes (set_subject, grant, withdraw, refuse) and status.
 *
 * A write is validated here, turned into a ledger record and submitted; the connection answers
 * it once the ledger calls back after the group commit (ops_write_reply). Scopes follow
 * CONTRACT §6 and must name registry ids that belong to the product or to its umbrella.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ops.h"

#define HOLDS_MAX	16

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Whether feature f may appear in a scope of product p: its own, or its umbrella's. */
static bool
feature_of_product(const struct policy_set *s, int p, int f)
{
	int owner = s->reg.feature_product[f];
	const struct table *t = policy_table(s, p, NULL);

	return owner == p || (t && t->umbrella && t->umbrella->product == owner);
}

/* Validate a scope of CONTRACT §6 for product p. */
static int
check_scope(struct request *r, int p, const char *scope, json_t **reply)
{
	const struct policy_set *s = consentd->policy;
	const char *colon = strchr(scope, ':'), *rest = colon ? colon + 1 : NULL;
	char feature[ID_BYTES_MAX + 1];
	int f;

	if (strcmp(scope, "policy") == 0)
		return 0;
	if (colon == NULL)
		goto unknown;
	if (strncmp(scope, "feature:", 8) == 0) {
		if ((f = registry_find(&s->reg, ID_FEATURE, rest)) < 0)
			goto unknown;
		if (!feature_of_product(s, p, f))
			goto other;
		return 0;
	}
	if (strncmp(scope, "field:", 6) == 0) {
		const char *slash = strchr(rest, '/');

		if (slash == NULL || (size_t)(slash - rest) > ID_BYTES_MAX)
			goto unknown;
		snprintf(feature, sizeof feature, "%.*s", (int)(slash - rest), rest);
		if ((f = registry_find(&s->reg, ID_FEATURE, feature)) < 0 ||
		    registry_find(&s->reg, ID_FIELD, slash + 1) < 0)
			goto unknown;
		if (!feature_of_product(s, p, f))
			goto other;
		return 0;
	}
	if (strncmp(scope, "permission:", 11) == 0 &&
	    registry_find(&s->reg, ID_PERMISSION, rest) >= 0)
		return 0;
	if (strncmp(scope, "purpose:", 8) == 0 && registry_find(&s->reg, ID_PURPOSE, rest) >= 0)
		return 0;
unknown:
	*reply = req_error(r, PROTO_ERR_UNKNOWN_SCOPE, "\"%s\" is not a scope: policy, "
	    "feature:<feature>, field:<feature>/<field>, permission:<permission> or "
	    "purpose:<purpose>, with ids of the registry", scope);
	return -1;
other:
	*reply = req_error(r, PROTO_ERR_UNKNOWN_SCOPE, "scope \"%s\" names a feature of "
	    "another product than %s", scope, registry_name(&s->reg, ID_PRODUCT, p));
	return -1;
}

static enum op_result
consent_write(struct request *r, json_t **reply, enum ledger_op op)
{
	const char *subject, *scope, *version, *source, *guardian;
	const struct table *t;
	struct ledger_write *w;
	int p;

	if (req_product(r, &p, reply) == -1 ||
	    req_string(r, "subject", true, ID_BYTES_MAX, &subject, reply) == -1 ||
	    req_string(r, "scope", true, 2 * ID_BYTES_MAX + 16, &scope, reply) == -1 ||
	    req_string(r, "policy_version", false, 16, &version, reply) == -1 ||
	    req_string(r, "source", false, TEXT_BYTES_MAX, &source, reply) == -1 ||
	    req_string(r, "guardian", false, ID_BYTES_MAX, &guardian, reply) == -1 ||
	    check_scope(r, p, scope, reply) == -1)
		return OP_REPLIED;
	if ((t = policy_table(consentd->policy, p, version)) == NULL) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, version ? "\"policy_version\": %s "
		    "has no version %s" : "%s has no policy table", registry_name(
		    &consentd->policy->reg, ID_PRODUCT, p), version);
		return OP_REPLIED;
	}
	if (guardian != NULL) {
		int adult = ledger_subject_is_adult(consentd->ledger, guardian);

		if (adult < 0) {
			*reply = req_error(r, PROTO_ERR_LEDGER_UNAVAILABLE, "the ledger cannot "
			    "be read");
			return OP_REPLIED;
		}
		if (op != LEDGER_GRANT || !adult || strcmp(guardian, subject) == 0) {
			*reply = req_error(r, PROTO_ERR_BAD_REQUEST, op != LEDGER_GRANT ?
			    "\"guardian\" goes with grant only" : "\"guardian\" must be another "
			    "subject, set with age_band adult");
			return OP_REPLIED;
		}
	}
	if ((w = ops_new_write(r, op, registry_name(&consentd->policy->reg, ID_PRODUCT, p),
	    subject)) == NULL) {
		*reply = req_error(r, PROTO_ERR_INTERNAL, "out of memory");
		return OP_REPLIED;
	}
	w->scope = strdup(scope);
	w->policy_version = strdup(t->version);
	w->source = dup_or_null(source);
	w->guardian = dup_or_null(guardian);
	r->write = w;
	return OP_PENDING;
}

enum op_result
op_grant(struct request *r, json_t **reply)
{
	return consent_write(r, reply, LEDGER_GRANT);
}

enum op_result
op_withdraw(struct request *r, json_t **reply)
{
	return consent_write(r, reply, LEDGER_WITHDRAW);
}

enum op_result
op_refuse(struct request *r, json_t **reply)
{
	return consent_write(r, reply, LEDGER_REFUSE);
}

/* Validate "holds": a list of up to HOLDS_MAX short names. */
static int
check_holds(struct request *r, json_t *holds, json_t **reply)
{
	json_t *v;
	size_t i;

	if (!json_is_array(holds) || json_array_size(holds) > HOLDS_MAX)
		goto bad;
	json_array_foreach(holds, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || *s == '\0' || strlen(s) > 64 || strspn(s,
		    "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
			goto bad;
	}
	return 0;
bad:
	*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"holds\" must be a list of at most %d "
	    "names such as \"outstanding_loan\"", HOLDS_MAX);
	return -1;
}

enum op_result
op_set_subject(struct request *r, json_t **reply)
{
	const char *subject, *band, *region, *product = NULL;
	json_t *holds = json_object_get(r->msg, "holds"), *attrs;
	struct ledger_write *w;
	int p = -1;

	if (req_string(r, "subject", true, ID_BYTES_MAX, &subject, reply) == -1 ||
	    req_string(r, "age_band", false, 16, &band, reply) == -1 ||
	    req_string(r, "region", false, 16, &region, reply) == -1)
		return OP_REPLIED;
	if (json_object_get(r->msg, "product") != NULL || r->peer->role == ROLE_APP) {
		/* An app sets what it learnt for its own products only. */
		if (req_product(r, &p, reply) == -1)
			return OP_REPLIED;
		product = registry_name(&consentd->policy->reg, ID_PRODUCT, p);
	}
	if (band && age_band_parse(band) < 0) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"age_band\" must be adult, minor "
		    "or child");
		return OP_REPLIED;
	}
	if (region && region_parse(region) < 0) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"region\" must be one of cn, hk, "
		    "eea, uk, ch, in, ru, sg, other");
		return OP_REPLIED;
	}
	if (holds != NULL && check_holds(r, holds, reply) == -1)
		return OP_REPLIED;
	if (!band && !region && !holds) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "set_subject needs at least one of "
		    "\"age_band\", \"region\", \"holds\"");
		return OP_REPLIED;
	}
	attrs = json_object();
	if (band)
		json_object_set_new(attrs, "age_band", json_string(band));
	if (region)
		json_object_set_new(attrs, "region", json_string(region));
	if (holds)
		json_object_set(attrs, "holds", holds);
	w = ops_new_write(r, LEDGER_SET_SUBJECT, product, subject);
	if (w != NULL)
		w->attrs = json_dumps(attrs, JSON_COMPACT);
	json_decref(attrs);
	if (w == NULL || w->attrs == NULL) {
		ledger_write_free(w);
		*reply = req_error(r, PROTO_ERR_INTERNAL, "out of memory");
		return OP_REPLIED;
	}
	r->write = w;
	return OP_PENDING;
}

static const char *const state_names[] = { "none", "granted", "withdrawn", "refused" };

static int
cmp_entry(const void *a, const void *b)
{
	const struct consent_entry *x = a, *y = b;

	/* The policy first, then the rest by name. */
	if (strcmp(x->scope, "policy") == 0 || strcmp(y->scope, "policy") == 0)
		return strcmp(y->scope, "policy") == 0 ? (strcmp(x->scope, "policy") != 0) : -1;
	return strcmp(x->scope, y->scope);
}

enum op_result
op_status(struct request *r, json_t **reply)
{
	struct ledger_snapshot snap;
	const char *subject;
	json_t *scopes, *subj;
	int p;

	if (req_product(r, &p, reply) == -1 ||
	    req_string(r, "subject", true, ID_BYTES_MAX, &subject, reply) == -1)
		return OP_REPLIED;
	if (ledger_snapshot(consentd->ledger, registry_name(&consentd->policy->reg,
	    ID_PRODUCT, p), subject, &snap) == -1) {
		*reply = req_error(r, PROTO_ERR_LEDGER_UNAVAILABLE, "the ledger cannot be read");
		return OP_REPLIED;
	}
	qsort(snap.entries, snap.state.nentries, sizeof *snap.entries, cmp_entry);
	scopes = json_array();
	if (subject_scope(&snap.state, "policy") == NULL)
		json_array_append_new(scopes, json_pack("{s:s,s:s,s:n,s:n}", "scope", "policy",
		    "state", "none", "policy_version", "at"));
	for (size_t i = 0; i < snap.state.nentries; i++) {
		const struct consent_entry *e = &snap.entries[i];

		json_array_append_new(scopes, json_pack("{s:s,s:s,s:s?,s:I}", "scope", e->scope,
		    "state", state_names[e->state], "policy_version", e->policy_version, "at",
		    (json_int_t)e->at));
	}
	subj = json_pack("{s:s,s:s?}", "age_band", age_band_name(snap.state.age_band),
	    "region", snap.state.region >= 0 ? (const char *[]){ "cn", "hk", "eea", "uk",
	    "ch", "in", "ru", "sg", "other" }[snap.state.region] : NULL);
	json_object_set_new(subj, "holds", snap.holds ? json_loads(snap.holds, 0, NULL) :
	    json_array());
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "product", json_string(registry_name(&consentd->policy->reg,
	    ID_PRODUCT, p)));
	json_object_set_new(*reply, "subject", json_string(subject));
	json_object_set_new(*reply, "scopes", scopes);
	json_object_set_new(*reply, "attributes", subj);
	return OP_REPLIED;
}
