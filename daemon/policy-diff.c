/*
 * policy-diff.c: the diff between two versions of a product's policy (see policy-diff.h).
 *
 * Lists are in registry order (the registry is sorted), so a diff is stable from run to run.
 */
#include <stdio.h>
#include <string.h>

#include "policy-diff.h"

/* The purposes an item is declared for: its own list, or else its feature's. */
static const struct idlist *
item_purposes(const struct feature_decl *f, enum id_kind kind, int item)
{
	const struct field_decl *fd;
	const struct permission_decl *pd;

	if (kind == ID_FIELD) {
		if ((fd = feature_field(f, item)) == NULL)
			return NULL;
		return fd->purposes.n ? &fd->purposes : &f->purposes;
	}
	if ((pd = feature_permission(f, item)) == NULL)
		return NULL;
	return pd->purposes.n ? &pd->purposes : &f->purposes;
}

bool
policy_covers(const struct table *t, int feature, enum id_kind kind, int item, int purpose)
{
	const struct idlist *purposes;

	if (t == NULL || t->feature[feature] == NULL)
		return false;
	purposes = item_purposes(t->feature[feature], kind, item);
	return purposes != NULL && idlist_has(purposes, purpose);
}

/* Whether the feature uses purpose for itself or for any of its items. */
static bool
feature_uses(const struct feature_decl *f, int purpose)
{
	if (idlist_has(&f->purposes, purpose))
		return true;
	for (size_t i = 0; i < f->nfields; i++)
		if (idlist_has(&f->fields[i].purposes, purpose))
			return true;
	for (size_t i = 0; i < f->npermissions; i++)
		if (idlist_has(&f->permissions[i].purposes, purpose))
			return true;
	return false;
}

static bool
declares(const struct feature_decl *f, enum id_kind kind, int item)
{
	return kind == ID_FIELD ? feature_field(f, item) != NULL :
	    kind == ID_PERMISSION ? feature_permission(f, item) != NULL : feature_uses(f, item);
}

/* The ids of kind that b declares and a does not, and the other way round. */
static void
diff_ids(const struct registry *r, enum id_kind kind, const struct feature_decl *a,
    const struct feature_decl *b, json_t *out, const char *added_key, const char *removed_key,
    bool *changed)
{
	json_t *added = json_array(), *removed = json_array();

	for (size_t i = 0; i < r->count[kind]; i++) {
		bool in_a = declares(a, kind, (int)i), in_b = declares(b, kind, (int)i);

		if (in_b && !in_a)
			json_array_append_new(added, json_string(r->ids[kind][i]));
		else if (in_a && !in_b)
			json_array_append_new(removed, json_string(r->ids[kind][i]));
	}
	*changed |= json_array_size(added) || json_array_size(removed);
	json_object_set_new(out, added_key, added);
	json_object_set_new(out, removed_key, removed);
}

static json_t *
regions_json(unsigned bits)
{
	json_t *a = json_array();

	for (int r = 0; r < REGION_COUNT; r++)
		if (bits & (1u << r))
			json_array_append_new(a, json_string(region_name(r)));
	return a;
}

static json_t *
field_basis_json(const struct field_decl *fd)
{
	json_t *o = json_pack("{s:s}", "basis", basis_name(fd->basis)), *rb;

	if (fd->nregional == 0)
		return o;
	rb = json_array();
	for (size_t i = 0; i < fd->nregional; i++)
		json_array_append_new(rb, json_pack("{s:o,s:s}", "regions",
		    regions_json(fd->regional[i].regions), "basis",
		    basis_name(fd->regional[i].basis)));
	json_object_set_new(o, "regional_basis", rb);
	return o;
}

static bool
same_field_basis(const struct field_decl *x, const struct field_decl *y)
{
	if (x->basis != y->basis || x->nregional != y->nregional)
		return false;
	for (size_t i = 0; i < x->nregional; i++)
		if (x->regional[i].regions != y->regional[i].regions ||
		    x->regional[i].basis != y->regional[i].basis)
			return false;
	return true;
}

static json_t *
purpose_json(const struct purpose_decl *pd)
{
	json_t *o, *regions = json_object();

	if (pd == NULL)
		return json_null();
	o = json_pack("{s:b,s:b}", "switchable", pd->switchable, "default_on", pd->default_on);
	for (int r = 0; r < REGION_COUNT; r++)
		if (pd->region_default[r] >= 0)
			json_object_set_new(regions, region_name(r),
			    json_string(pd->region_default[r] ? "on" : "off"));
	if (json_object_size(regions) > 0)
		json_object_set_new(o, "region_defaults", regions);
	else
		json_decref(regions);
	return o;
}

static bool
same_purpose(const struct purpose_decl *x, const struct purpose_decl *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return x->switchable == y->switchable && x->default_on == y->default_on &&
	    memcmp(x->region_default, y->region_default, sizeof x->region_default) == 0;
}

static void
set_change(json_t *changes, const char *key, json_t *from, json_t *to)
{
	json_object_set_new(changes, key, json_pack("{s:o,s:o}", "from", from, "to", to));
}

/* What changed in the basis of the feature, of its fields, and of the purposes both use. */
static json_t *
basis_changes(const struct policy_set *s, const struct table *from, const struct table *to,
    const struct feature_decl *a, const struct feature_decl *b)
{
	const struct registry *r = &s->reg;
	json_t *c = json_object();
	char key[128];

	if (a->basis != b->basis)
		set_change(c, "feature", json_string(basis_name(a->basis)),
		    json_string(basis_name(b->basis)));
	for (size_t i = 0; i < b->nfields; i++) {
		const struct field_decl *fb = &b->fields[i], *fa = feature_field(a, fb->field);

		if (fa != NULL && !same_field_basis(fa, fb))
			set_change(c, r->ids[ID_FIELD][fb->field], field_basis_json(fa),
			    field_basis_json(fb));
	}
	for (size_t p = 0; p < r->count[ID_PURPOSE]; p++) {
		const struct purpose_decl *pa = policy_purpose(from, (int)p);
		const struct purpose_decl *pb = policy_purpose(to, (int)p);

		if (!feature_uses(a, (int)p) || !feature_uses(b, (int)p) || same_purpose(pa, pb))
			continue;
		snprintf(key, sizeof key, "purpose:%s", r->ids[ID_PURPOSE][p]);
		set_change(c, key, purpose_json(pa), purpose_json(pb));
	}
	return c;
}

/* A feature both versions declare: its changes, or NULL when there are none. */
static json_t *
feature_diff(const struct policy_set *s, const struct table *from, const struct table *to,
    const struct feature_decl *a, const struct feature_decl *b)
{
	const struct registry *r = &s->reg;
	json_t *o = json_object(), *basis;
	bool changed = false;

	diff_ids(r, ID_FIELD, a, b, o, "fields_added", "fields_removed", &changed);
	diff_ids(r, ID_PERMISSION, a, b, o, "permissions_added", "permissions_removed", &changed);
	diff_ids(r, ID_PURPOSE, a, b, o, "purposes_added", "purposes_removed", &changed);
	basis = basis_changes(s, from, to, a, b);
	changed |= json_object_size(basis) > 0;
	json_object_set_new(o, "basis_changed", basis);
	if (!changed) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The items of one kind of feature f that a consent given under from does not cover. */
static void
uncovered(const struct registry *r, const struct table *from, const struct feature_decl *f,
    enum id_kind kind, json_t *out)
{
	size_t n = kind == ID_FIELD ? f->nfields : f->npermissions;
	const char *key = kind == ID_FIELD ? "field" : "permission";

	for (size_t i = 0; i < n; i++) {
		int item = kind == ID_FIELD ? f->fields[i].field : f->permissions[i].permission;
		const struct idlist *purposes = item_purposes(f, kind, item);

		for (size_t p = 0; p < purposes->n; p++)
			if (!policy_covers(from, f->feature, kind, item, purposes->v[p]))
				json_array_append_new(out, json_pack("{s:s,s:s}", key,
				    r->ids[kind][item], "purpose",
				    r->ids[ID_PURPOSE][purposes->v[p]]));
	}
}

json_t *
policy_diff(const struct policy_set *s, const struct table *from, const struct table *to)
{
	const struct registry *r = &s->reg;
	json_t *added = json_array(), *removed = json_array(), *changed = json_object();
	json_t *reconsent = json_object();

	for (size_t i = 0; i < r->count[ID_FEATURE]; i++) {
		const struct feature_decl *a = from->feature[i], *b = to->feature[i];
		json_t *c, *items;

		if (b == NULL) {
			if (a != NULL)
				json_array_append_new(removed, json_string(r->ids[ID_FEATURE][i]));
			continue;
		}
		if (a == NULL)
			json_array_append_new(added, json_string(r->ids[ID_FEATURE][i]));
		else if ((c = feature_diff(s, from, to, a, b)) != NULL)
			json_object_set_new(changed, r->ids[ID_FEATURE][i], c);
		items = json_array();
		uncovered(r, from, b, ID_FIELD, items);
		uncovered(r, from, b, ID_PERMISSION, items);
		if (json_array_size(items) > 0)
			json_object_set_new(reconsent, r->ids[ID_FEATURE][i], items);
		else
			json_decref(items);
	}
	return json_pack("{s:o,s:o,s:o,s:o}", "features_added", added, "features_removed",
	    removed, "changed", changed, "reconsent", reconsent);
}
