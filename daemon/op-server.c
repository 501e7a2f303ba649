/*
 * op-server.c: hello, policy, stats and reload: what the daemon says about itself and its
 * policy set.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ops.h"
#include "lint.h"
#include "policy-diff.h"

enum op_result
op_hello(struct request *r, json_t **reply)
{
	json_t *products = json_array();
	const struct peer *p = r->peer;

	if (p->role == ROLE_APP && p->rule != NULL)
		for (int i = 0; i < p->rule->nproducts; i++)
			json_array_append_new(products, json_string(p->rule->products[i]));
	else if (p->role == ROLE_ADMIN || p->role == ROLE_READER)
		for (size_t i = 0; i < consentd->policy->reg.count[ID_PRODUCT]; i++)
			json_array_append_new(products, json_string(
			    consentd->policy->reg.ids[ID_PRODUCT][i]));
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "server", json_string("consentd"));
	json_object_set_new(*reply, "version", json_string(CONSENTD_VERSION));
	json_object_set_new(*reply, "protocol", json_integer(PROTO_VERSION));
	json_object_set_new(*reply, "peer", json_pack("{s:I,s:s,s:o}", "uid",
	    (json_int_t)p->uid, "role", role_name(p->role), "products", products));
	return OP_REPLIED;
}

static json_t *
ids_json(const struct registry *reg, enum id_kind k, const struct idlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(registry_name(reg, k, l->v[i])));
	return a;
}

static json_t *
limits_json(const struct limits *lim)
{
	static const char *const platforms[] = { "android", "ios", "web" };
	json_t *o = json_object(), *a;

	if (!lim->present)
		return NULL;
	if (lim->platforms) {
		a = json_array();
		for (int p = 0; p < PLATFORM_COUNT; p++)
			if (lim->platforms & (1u << p))
				json_array_append_new(a, json_string(platforms[p]));
		json_object_set_new(o, "platforms", a);
	}
	for (int p = 0; p < PLATFORM_COUNT; p++) {
		char key[32];

		if (lim->os_min[p]) {
			snprintf(key, sizeof key, "os_min.%s", platforms[p]);
			json_object_set_new(o, key, json_string(lim->os_min[p]));
		}
		if (lim->os_below[p]) {
			snprintf(key, sizeof key, "os_below.%s", platforms[p]);
			json_object_set_new(o, key, json_string(lim->os_below[p]));
		}
	}
	if (lim->nroms) {
		a = json_array();
		for (size_t i = 0; i < lim->nroms; i++)
			json_array_append_new(a, json_string(lim->roms[i]));
		json_object_set_new(o, "roms", a);
	}
	return o;
}

static json_t *
feature_json(const struct registry *reg, const struct table *t, const struct feature_decl *d)
{
	static const char *const needs[] = { "required", "optional", "conditional" };
	json_t *o = json_object(), *fields = json_object(), *perms = json_object();

	json_object_set_new(o, "kind", json_string(d->optional ? "optional" : "core"));
	json_object_set_new(o, "basis", json_string(basis_name(d->basis)));
	if (d->name_zh)
		json_object_set_new(o, "name_zh", json_string(d->name_zh));
	json_object_set_new(o, "purposes", ids_json(reg, ID_PURPOSE, &d->purposes));
	for (size_t i = 0; i < d->nfields; i++) {
		const struct field_decl *f = &d->fields[i];
		const struct field_attr *a = &t->field[f->field];
		json_t *fo = json_pack("{s:s,s:s,s:b}", "need", needs[f->need], "basis",
		    basis_name(f->basis), "sensitive", a->sensitive || (t->umbrella &&
		    t->umbrella->field[f->field].sensitive));

		if (f->condition)
			json_object_set_new(fo, "condition", json_string(f->condition));
		if (f->purposes.n)
			json_object_set_new(fo, "purposes", ids_json(reg, ID_PURPOSE,
			    &f->purposes));
		if (f->limits.present)
			json_object_set_new(fo, "limits", limits_json(&f->limits));
		json_object_set_new(fields, registry_name(reg, ID_FIELD, f->field), fo);
	}
	for (size_t i = 0; i < d->npermissions; i++) {
		const struct permission_decl *p = &d->permissions[i];
		json_t *po = json_object();

		if (p->purposes.n)
			json_object_set_new(po, "purposes", ids_json(reg, ID_PURPOSE,
			    &p->purposes));
		if (p->limits.present)
			json_object_set_new(po, "limits", limits_json(&p->limits));
		json_object_set_new(perms, registry_name(reg, ID_PERMISSION, p->permission), po);
	}
	json_object_set_new(o, "fields", fields);
	json_object_set_new(o, "permissions", perms);
	if (d->members.n)
		json_object_set_new(o, "members", ids_json(reg, ID_FEATURE, &d->members));
	if (d->adopted)
		json_object_set_new(o, "adopted_from", json_string(registry_name(reg, ID_PRODUCT,
		    d->owner->product)));
	return o;
}

static const char *
table_product_name(const struct table *t)
{
	return registry_name(&consentd->policy->reg, ID_PRODUCT, t->product);
}

/* The rights the table grants, each with its clauses; the umbrella's where it is silent. */
static json_t *
rights_json(const struct table *t)
{
	json_t *o = json_object();

	for (int r = 0; r < RIGHT_COUNT; r++) {
		const struct table *from = t->rights[r].n || t->umbrella == NULL ? t : t->umbrella;
		json_t *v;

		if (from->rights[r].n == 0)
			continue;
		v = json_pack("{s:o}", "cite", cites_json(&from->rights[r]));
		if (r == RIGHT_RESPONSE && from->response_days > 0)
			json_object_set_new(v, "days", json_integer(from->response_days));
		if (from != t) {
			char name[64];

			snprintf(name, sizeof name, "%s@%s", table_product_name(from), from->version);
			json_object_set_new(v, "from", json_string(name));
		}
		json_object_set_new(o, right_name(r), v);
	}
	return o;
}

/* One table: what it declares. */
static json_t *
table_json(const struct policy_set *s, const struct table *t)
{
	const struct registry *reg = &s->reg;
	json_t *o = json_object(), *features = json_object(), *purposes = json_object();
	json_t *never = json_array(), *exc = json_array();

	for (size_t f = 0; f < reg->count[ID_FEATURE]; f++)
		if (t->feature[f])
			json_object_set_new(features, reg->ids[ID_FEATURE][f],
			    feature_json(reg, t, t->feature[f]));
	for (size_t p = 0; p < reg->count[ID_PURPOSE]; p++) {
		const struct purpose_decl *d = t->purpose[p];

		if (d == NULL)
			continue;
		json_object_set_new(purposes, reg->ids[ID_PURPOSE][p], d->switchable ?
		    json_pack("{s:b,s:s}", "switchable", 1, "default", d->default_on ? "on" :
		    "off") : json_pack("{s:b}", "switchable", 0));
	}
	for (size_t f = 0; f < reg->count[ID_FIELD]; f++)
		if (t->field[f].never_collect)
			json_array_append_new(never, json_string(reg->ids[ID_FIELD][f]));
	for (size_t e = 0; e < reg->count[ID_EXCEPTION]; e++)
		if (t->exception[e])
			json_array_append_new(exc, json_string(reg->ids[ID_EXCEPTION][e]));
	json_object_set_new(o, "product", json_string(reg->ids[ID_PRODUCT][t->product]));
	json_object_set_new(o, "version", json_string(t->version));
	json_object_set_new(o, "current", json_boolean(s->current[t->product] == t));
	json_object_set_new(o, "inherits", t->umbrella ? json_string(
	    reg->ids[ID_PRODUCT][t->umbrella->product]) : json_null());
	json_object_set_new(o, "features", features);
	json_object_set_new(o, "purposes", purposes);
	json_object_set_new(o, "never_collect", never);
	json_object_set_new(o, "exceptions", exc);
	json_object_set_new(o, "rights", rights_json(t));
	json_object_set_new(o, "reconsent", cites_json(policy_reconsent(t)));
	return o;
}

/* The necessary-information findings of product's current table; null where none apply. */
static json_t *
lint_json(int product)
{
	char err[PATH_MAX + 128];
	json_t *rules = lint_load(consentd->registry_path, err, sizeof err), *found;

	if (rules == NULL) {
		log_warnx("lint: %s", err);
		return json_null();
	}
	found = lint_product(consentd->policy, rules, product);
	json_decref(rules);
	return found ? found : json_null();
}

/* The table of product p at version (NULL: current), or a bad_request reply naming it. */
static const struct table *
table_or_error(struct request *r, int p, const char *version, json_t **reply)
{
	const struct policy_set *s = consentd->policy;
	const struct table *t = policy_table(s, p, version);

	if (t == NULL)
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "%s has no version %s",
		    registry_name(&s->reg, ID_PRODUCT, p), version ? version : "");
	return t;
}

/* {"op":"policy","product":P,"diff_from":V1[,"version":V2]}: what changed from V1 to V2. */
static enum op_result
policy_diff_reply(struct request *r, int p, const char *version, const char *from_version,
    json_t **reply)
{
	const struct policy_set *s = consentd->policy;
	const struct table *from, *to;

	if ((from = table_or_error(r, p, from_version, reply)) == NULL ||
	    (to = table_or_error(r, p, version, reply)) == NULL)
		return OP_REPLIED;
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "product", json_string(registry_name(&s->reg, ID_PRODUCT,
	    p)));
	json_object_set_new(*reply, "from", json_string(from->version));
	json_object_set_new(*reply, "to", json_string(to->version));
	json_object_set_new(*reply, "diff", policy_diff(s, from, to));
	return OP_REPLIED;
}

enum op_result
op_policy(struct request *r, json_t **reply)
{
	const struct policy_set *s = consentd->policy;
	const char *version, *diff_from;
	json_t *list;
	int p = -1;

	if (req_id(r, "product", ID_PRODUCT, false, &p, reply) == -1 ||
	    req_string(r, "version", false, 16, &version, reply) == -1 ||
	    req_string(r, "diff_from", false, 16, &diff_from, reply) == -1)
		return OP_REPLIED;
	if (diff_from != NULL && p < 0) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "\"diff_from\" needs \"product\"");
		return OP_REPLIED;
	}
	if (diff_from != NULL)
		return policy_diff_reply(r, p, version, diff_from, reply);
	if (p >= 0) {
		const struct table *t = table_or_error(r, p, version, reply);
		json_t *tj;

		if (t == NULL)
			return OP_REPLIED;
		*reply = proto_reply_ok(r->id);
		tj = table_json(s, t);
		json_object_update(*reply, tj);
		json_decref(tj);
		if (t == s->current[p])
			json_object_set_new(*reply, "lint", lint_json(p));
		return OP_REPLIED;
	}
	*reply = proto_reply_ok(r->id);
	list = json_array();
	for (size_t i = 0; i < s->reg.count[ID_PRODUCT]; i++) {
		json_t *versions = json_array();
		const struct table *cur = s->current[i];

		for (size_t t = 0; t < s->ntables; t++)
			if (s->tables[t]->product == (int)i)
				json_array_append_new(versions, json_string(s->tables[t]->version));
		json_array_append_new(list, json_pack("{s:s,s:o,s:s?,s:s?,s:I}", "product",
		    s->reg.ids[ID_PRODUCT][i], "versions", versions, "current", cur ?
		    cur->version : NULL, "inherits", cur && cur->umbrella ?
		    s->reg.ids[ID_PRODUCT][cur->umbrella->product] : NULL, "features",
		    (json_int_t)(cur ? cur->nown : 0)));
	}
	json_object_set_new(*reply, "products", list);
	json_object_set_new(*reply, "loaded_at", json_string(s->loaded_at));
	return OP_REPLIED;
}

/* The smallest latency bucket bound (µs) under which a fraction q of checks fell. */
static json_int_t
latency_quantile(double q)
{
	uint64_t total = 0, seen = 0;

	for (int b = 0; b < 32; b++)
		total += consentd->stats.latency_us[b];
	if (total == 0)
		return 0;
	for (int b = 0; b < 32; b++) {
		seen += consentd->stats.latency_us[b];
		if ((double)seen >= q * (double)total)
			return (json_int_t)1 << b;
	}
	return (json_int_t)1 << 31;
}

enum op_result
op_stats(struct request *r, json_t **reply)
{
	struct stats *st = &consentd->stats;
	struct ledger_stats ls;
	struct cache_stats cs;
	json_t *by_op = json_object();

	ledger_get_stats(consentd->ledger, &ls);
	for (size_t i = 0; i < ops_count(); i++)
		json_object_set_new(by_op, ops_name(i), json_integer(st->by_op[i]));
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "uptime", json_integer(time(NULL) - st->started));
	json_object_set_new(*reply, "connections", json_pack("{s:i,s:I,s:I}", "current",
	    consentd->nclients, "total", (json_int_t)st->connections_total, "refused",
	    (json_int_t)st->connections_refused));
	json_object_set_new(*reply, "requests", json_pack("{s:I,s:I,s:I,s:I,s:o}", "total",
	    (json_int_t)st->requests, "errors", (json_int_t)st->errors, "too_large",
	    (json_int_t)st->lines_too_large, "bad_json", (json_int_t)st->bad_json, "by_op",
	    by_op));
	json_object_set_new(*reply, "decisions", json_pack("{s:I,s:I,s:I}", "allow",
	    (json_int_t)st->by_outcome[OUTCOME_ALLOW], "prompt",
	    (json_int_t)st->by_outcome[OUTCOME_PROMPT], "deny",
	    (json_int_t)st->by_outcome[OUTCOME_DENY]));
	json_object_set_new(*reply, "latency_us", json_pack("{s:I,s:I,s:I}", "p50",
	    latency_quantile(0.5), "p99", latency_quantile(0.99), "p999",
	    latency_quantile(0.999)));
	json_object_set_new(*reply, "ledger", json_pack("{s:I,s:I,s:I,s:I,s:I}", "records",
	    (json_int_t)ls.records, "last_seq", (json_int_t)ls.last_seq, "commits",
	    (json_int_t)ls.commits, "batched_writes", (json_int_t)ls.batched_writes, "bytes",
	    (json_int_t)ls.db_bytes));
	cache_get_stats(consentd->cache, &cs);
	json_object_set_new(*reply, "cache", json_pack("{s:I,s:I,s:I,s:I,s:I}", "entries",
	    (json_int_t)cs.entries, "max_entries", (json_int_t)cs.max_entries, "hits",
	    (json_int_t)cs.hits, "misses", (json_int_t)cs.misses, "evictions",
	    (json_int_t)cs.evictions));
	json_object_set_new(*reply, "policy", json_pack("{s:s,s:I,s:I,s:I}", "loaded_at",
	    consentd->policy->loaded_at, "tables", (json_int_t)consentd->policy->ntables,
	    "reloads", (json_int_t)st->reloads, "reloads_failed",
	    (json_int_t)st->reloads_failed));
	return OP_REPLIED;
}

enum op_result
op_reload(struct request *r, json_t **reply)
{
	json_t *problems = NULL, *loaded;

	if (policy_reload(&problems) == -1) {
		*reply = req_error(r, PROTO_ERR_BAD_REQUEST, "the new policy set was refused "
		    "and the old one keeps serving: %s", json_string_value(json_array_get(
		    problems, 0)));
		json_object_set_new(json_object_get(*reply, "error"), "problems", problems);
		return OP_REPLIED;
	}
	loaded = json_array();
	for (size_t i = 0; i < consentd->policy->ntables; i++) {
		const struct table *t = consentd->policy->tables[i];
		char name[96];

		snprintf(name, sizeof name, "%s@%s", registry_name(&consentd->policy->reg,
		    ID_PRODUCT, t->product), t->version);
		json_array_append_new(loaded, json_string(name));
	}
	*reply = proto_reply_ok(r->id);
	json_object_set_new(*reply, "policies", loaded);
	return OP_REPLIED;
}
