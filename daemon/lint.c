/*
 * lint.c: the necessary-information lint (see lint.h).
 *
 * A basic function is a core feature (kind "core") of the product's current table; it is judged
 * against its product's type of app, or the type its feature is listed under. A field it needs
 * ("need": "required": without it the function is refused) that is not on that type's list is a
 * finding: beyond_necessary where the basis is the contract or consent, which art. 5 of the rule
 * forbids refusing the basic function over; required_by_law where the table gives a legal duty
 * as the basis (anti-money-laundering, real-name rules), which the rule leaves to those laws.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lint.h"

json_t *
lint_load(const char *registry_path, char *err, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	json_error_t je;
	json_t *doc, *types, *products, *v;
	const char *k;

	snprintf(dir, sizeof dir, "%s", registry_path);
	snprintf(path, sizeof path, "%s/necessary-pi.json", dirname(dir));
	if ((doc = json_load_file(path, 0, &je)) == NULL)
		return snprintf(err, len, "%s:%d: %s", path, je.line, je.text), NULL;
	types = json_object_get(doc, "types");
	products = json_object_get(doc, "products");
	if (!json_is_object(types) || !json_is_object(products)) {
		snprintf(err, len, "%s: needs the objects \"types\" and \"products\"", path);
		goto bad;
	}
	json_object_foreach(types, k, v) {
		if (!json_is_array(json_object_get(v, "necessary")) ||
		    !json_is_string(json_object_get(v, "name_zh"))) {
			snprintf(err, len, "%s: types.%s needs \"name_zh\" and \"necessary\"", path, k);
			goto bad;
		}
	}
	json_object_foreach(products, k, v) {
		const char *type = json_string_value(json_object_get(v, "type"));

		const char *fk;
		json_t *fv;

		if (type == NULL || json_object_get(types, type) == NULL) {
			snprintf(err, len, "%s: products.%s.type names no type", path, k);
			goto bad;
		}
		json_object_foreach(json_object_get(v, "features"), fk, fv)
			if (json_object_get(types, json_string_value(fv) ? json_string_value(fv) :
			    "") == NULL) {
				snprintf(err, len, "%s: products.%s.features.%s names no type",
				    path, k, fk);
				goto bad;
			}
	}
	return doc;
bad:
	json_decref(doc);
	return NULL;
}

static bool
listed(const json_t *list, const char *field)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), field) == 0)
			return true;
	return false;
}

/* The findings of one basic function. */
static void
lint_feature(const struct registry *r, const struct feature_decl *f, const char *type_id,
    const json_t *type, json_t *out)
{
	const json_t *necessary = json_object_get(type, "necessary");

	for (size_t i = 0; i < f->nfields; i++) {
		const struct field_decl *fd = &f->fields[i];
		const char *field = r->ids[ID_FIELD][fd->field];
		bool by_law = fd->basis == BASIS_LEGAL_OBLIGATION;

		/* The rule is about personal information: statistics that identify no one are not. */
		const char *category = json_string_value(json_object_get(json_object_get(
		    json_object_get(r->doc, "fields"), field), "category"));

		if (fd->need != NEED_REQUIRED || listed(necessary, field) ||
		    (category != NULL && strcmp(category, "non_personal") == 0))
			continue;
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}",
		    "finding", by_law ? "required_by_law" : "beyond_necessary",
		    "feature", r->ids[ID_FEATURE][f->feature], "field", field,
		    "basis", basis_name(fd->basis), "type", type_id,
		    "detail", by_law ?
		    "required for a basic function under a legal duty, beyond the list of necessary "
		    "information" :
		    "refusing it blocks a basic function, yet it is not on the list of necessary "
		    "information",
		    "cite", cites_json(fd->cite.n ? &fd->cite : &f->cite)));
	}
}

json_t *
lint_product(const struct policy_set *s, const json_t *rules, int product)
{
	const struct registry *r = &s->reg;
	const json_t *p = json_object_get(json_object_get(rules, "products"),
	    registry_name(r, ID_PRODUCT, product));
	const json_t *types = json_object_get(rules, "types"), *overrides;
	const struct table *t = s->current[product];
	json_t *out;

	if (p == NULL || t == NULL)
		return NULL;
	overrides = json_object_get(p, "features");
	out = json_array();
	for (size_t i = 0; i < t->nown; i++) {
		const struct feature_decl *f = &t->own[i];
		const char *type = json_string_value(json_object_get(overrides,
		    r->ids[ID_FEATURE][f->feature]));

		if (f->optional)
			continue;
		if (type == NULL)
			type = json_string_value(json_object_get(p, "type"));
		lint_feature(r, f, type, json_object_get(types, type), out);
	}
	return out;
}
