/*
 * The policy op for a person: the products (policy list), one table (policy show), and what
 * changed between two versions of a product (policy diff).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int
print_policy_list(json_t *r)
{
	struct table *t = table_new(5);
	json_t *p;
	size_t i;

	table_cell(t, "PRODUCT");
	table_cell(t, "CURRENT");
	table_cell(t, "VERSIONS");
	table_cell(t, "INHERITS");
	table_cell(t, "FEATURES");
	json_array_foreach(json_object_get(r, "products"), i, p) {
		table_cell(t, "%s", text(p, "product"));
		table_cell(t, "%s", text(p, "current"));
		table_list(t, json_object_get(p, "versions"), "-");
		table_cell(t, "%s", text(p, "inherits"));
		table_cell(t, "%lld", number(p, "features"));
	}
	table_print(t, stdout, "");
	printf("loaded %s\n", text(r, "loaded_at"));
	return 0;
}

/* A declaration's limits, e.g. "android, android>=13, rom miui"; appended to f. */
static void
print_limits(FILE *f, json_t *limits)
{
	const char *k, *dot;
	json_t *v;

	json_object_foreach(limits, k, v) {
		char *list = join(v, "/", "-");

		if (ftell(f) > 0)
			fputs(", ", f);
		dot = strchr(k, '.');
		if (strncmp(k, "os_min.", 7) == 0)
			fprintf(f, "%s>=%s", dot + 1, json_string_value(v));
		else if (strncmp(k, "os_below.", 9) == 0)
			fprintf(f, "%s<%s", dot + 1, json_string_value(v));
		else if (strcmp(k, "roms") == 0)
			fprintf(f, "rom %s", list);
		else if (json_is_array(v))
			fputs(list, f);	/* platforms */
		else
			fprintf(f, "%s %s", k, json_is_string(v) ? json_string_value(v) : "?");
		free(list);
	}
}

/* The notes of a field or permission: sensitive, and where it is limited to. */
static void
notes_cell(struct table *t, json_t *item)
{
	size_t len = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &len);

	if (f == NULL) {
		table_cell(t, "?");
		return;
	}
	if (json_is_true(json_object_get(item, "sensitive")))
		fputs("sensitive", f);
	print_limits(f, json_object_get(item, "limits"));
	fclose(f);
	table_cell(t, "%s", s);
	free(s);
}

/* One field or permission of a feature, a row under it; kind says which. */
static void
item_row(struct table *t, const char *name, const char *kind, json_t *item)
{
	table_cell(t, "  %s", name);
	table_cell(t, "%s", kind);
	/* A permission has neither: it rests on the person's answer to the OS prompt. */
	table_cell(t, "%s", json_object_get(item, "need") ? text(item, "need") : "");
	table_cell(t, "%s", json_object_get(item, "basis") ? text(item, "basis") : "");
	notes_cell(t, item);
	table_list(t, json_object_get(item, "purposes"), "");
}

/* A feature's row, then a row for each of its fields, permissions and group members. */
static void
feature_rows(struct table *t, const char *name, json_t *f)
{
	json_t *item;
	const char *k;
	size_t i;

	table_cell(t, "%s", name);
	table_cell(t, "%s", text(f, "kind"));
	table_cell(t, "%s", "");
	table_cell(t, "%s", text(f, "basis"));
	table_cell(t, "%s", json_object_get(f, "members") ? "group" : "");
	table_list(t, json_object_get(f, "purposes"), "-");
	json_object_foreach(json_object_get(f, "fields"), k, item)
		item_row(t, k, "field", item);
	json_object_foreach(json_object_get(f, "permissions"), k, item)
		item_row(t, k, "permission", item);
	json_array_foreach(json_object_get(f, "members"), i, item) {
		table_cell(t, "  %s", json_string_value(item));
		table_cell(t, "member");
		table_end_row(t);
	}
}

/* The purposes a person may switch, with where each starts. */
static void
print_switchable(json_t *purposes)
{
	const char *k;
	json_t *p;
	bool any = false;

	printf("switchable purposes:");
	json_object_foreach(purposes, k, p) {
		if (!json_is_true(json_object_get(p, "switchable")))
			continue;
		printf("%s %s (%s)", any ? "," : "", k, text(p, "default"));
		any = true;
	}
	printf("%s\n", any ? "" : " none");
}

/* What the table's own lint found: basic functions asking beyond the necessary. */
static void
print_lint(json_t *lint)
{
	struct table *t;
	json_t *l;
	size_t i;

	if (!json_is_array(lint))
		return;
	if (json_array_size(lint) == 0) {
		printf("lint: nothing beyond the necessary information\n");
		return;
	}
	printf("lint (core features asking beyond the necessary information):\n");
	t = table_new(4);
	json_array_foreach(lint, i, l) {
		table_cell(t, "%s", text(l, "finding"));
		table_cell(t, "%s", text(l, "feature"));
		table_cell(t, "%s", text(l, "field"));
		table_cell(t, "%s", text(l, "basis"));
	}
	table_print(t, stdout, "  ");
}

int
print_policy_show(json_t *r)
{
	struct table *t = table_new(6);
	const char *head[] = { "FEATURE", "KIND", "NEED", "BASIS", "NOTES", "PURPOSES" }, *k;
	json_t *features = json_object_get(r, "features"), *f, *rights;

	printf("%s %s%s, inherits %s: %zu features\n\n", text(r, "product"), text(r, "version"),
	    json_is_true(json_object_get(r, "current")) ? " (current)" : "",
	    text(r, "inherits"), json_object_size(features));
	for (size_t i = 0; i < 6; i++)
		table_cell(t, "%s", head[i]);
	json_object_foreach(features, k, f)
		feature_rows(t, k, f);
	table_print(t, stdout, "");
	printf("\n");
	print_switchable(json_object_get(r, "purposes"));
	printf("never collects:");
	print_names(json_object_get(r, "never_collect"));
	printf("\nexceptions:");
	print_names(json_object_get(r, "exceptions"));
	printf("\nrights:");
	rights = json_array();
	json_object_foreach(json_object_get(r, "rights"), k, f)
		json_array_append_new(rights, json_string(k));
	print_names(rights);
	json_decref(rights);
	printf("\n");
	print_lint(json_object_get(r, "lint"));
	return 0;
}

/* A field's basis, with the regions where another one holds: "contract; legitimate_interest
 * in eea, uk". */
static void
print_field_basis(FILE *f, json_t *b)
{
	json_t *rb;
	size_t i;

	fputs(text(b, "basis"), f);
	json_array_foreach(json_object_get(b, "regional_basis"), i, rb) {
		char *regions = join(json_object_get(rb, "regions"), ", ", "-");

		fprintf(f, "; %s in %s", text(rb, "basis"), regions);
		free(regions);
	}
}

/* A purpose's switch: "switchable, off by default (eea on)", or "not used" where absent. */
static void
print_switch(FILE *f, json_t *p)
{
	const char *k;
	json_t *v;
	bool first = true;

	if (!json_is_object(p)) {
		fputs("not used", f);
		return;
	}
	if (!json_is_true(json_object_get(p, "switchable"))) {
		fputs("not switchable", f);
		return;
	}
	fprintf(f, "switchable, %s by default",
	    json_is_true(json_object_get(p, "default_on")) ? "on" : "off");
	json_object_foreach(json_object_get(p, "region_defaults"), k, v) {
		fprintf(f, "%s%s %s", first ? " (" : ", ", k, json_string_value(v));
		first = false;
	}
	if (!first)
		fputs(")", f);
}

/* One basis_changed entry: the feature's basis, a field's, or a purpose's switch. */
static void
basis_change_cell(struct table *t, const char *what, json_t *ch)
{
	size_t len = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &len);

	if (f == NULL) {
		table_cell(t, "?");
		return;
	}
	fprintf(f, "%s: ", strcmp(what, "feature") == 0 ? "the feature" :
	    strncmp(what, "purpose:", 8) == 0 ? what + 8 : what);
	for (int side = 0; side < 2; side++) {
		json_t *v = json_object_get(ch, side ? "to" : "from");

		if (side)
			fputs(" -> ", f);
		if (strcmp(what, "feature") == 0)
			fputs(json_is_string(v) ? json_string_value(v) : "-", f);
		else if (strncmp(what, "purpose:", 8) == 0)
			print_switch(f, v);
		else
			print_field_basis(f, v);
	}
	fclose(f);
	table_cell(t, "%s", s);
	free(s);
}

/* The rows of one changed feature: "+ fields", "- purposes", "~ basis", each a row. */
static void
changed_rows(struct table *t, const char *feature, json_t *ch)
{
	static const char *const kinds[] = { "fields", "permissions", "purposes" };
	const char *first = feature, *k;
	char key[32];
	json_t *v;

	for (size_t i = 0; i < 3; i++)
		for (int added = 1; added >= 0; added--) {
			snprintf(key, sizeof key, "%s_%s", kinds[i], added ? "added" : "removed");
			if (json_array_size(json_object_get(ch, key)) == 0)
				continue;
			table_cell(t, "%s", first);
			table_cell(t, "%c %s", added ? '+' : '-', kinds[i]);
			table_list(t, json_object_get(ch, key), "");
			first = "";
		}
	json_object_foreach(json_object_get(ch, "basis_changed"), k, v) {
		table_cell(t, "%s", first);
		table_cell(t, "~ %s", strncmp(k, "purpose:", 8) == 0 ? "switch" : "basis");
		basis_change_cell(t, k, v);
		first = "";
	}
}

/* A feature's reconsent items as {"field F": [purpose, ...]}, each item once. */
static json_t *
purposes_by_item(json_t *items)
{
	json_t *by = json_object(), *it, *list;
	char name[256];
	size_t i;

	json_array_foreach(items, i, it) {
		bool field = json_is_string(json_object_get(it, "field"));

		snprintf(name, sizeof name, "%s %s", field ? "field" : "permission",
		    text(it, field ? "field" : "permission"));
		if ((list = json_object_get(by, name)) == NULL)
			json_object_set_new(by, name, list = json_array());
		json_array_append(list, json_object_get(it, "purpose"));
	}
	return by;
}

/* Each item a consent given under the old version does not cover, by feature. */
static void
print_reconsent(json_t *reconsent, const char *from)
{
	struct table *t = table_new(3);
	const char *feature, *first, *item;
	json_t *items, *by, *purposes;

	printf("\nconsent given under %s does not cover (check answers reconsent_required):\n",
	    from);
	json_object_foreach(reconsent, feature, items) {
		first = feature;
		by = purposes_by_item(items);
		json_object_foreach(by, item, purposes) {
			char *list = join(purposes, ", ", "-");

			table_cell(t, "%s", first);
			table_cell(t, "%s", item);
			table_cell(t, "for %s", list);
			free(list);
			first = "";
		}
		json_decref(by);
	}
	table_print(t, stdout, "  ");
}

/* features_added or features_removed: a line each, after a heading. */
static void
print_feature_list(json_t *list, const char *heading, char sign)
{
	json_t *v;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("\n%s:\n", heading);
	json_array_foreach(list, i, v)
		printf("  %c %s\n", sign, json_string_value(v));
}

int
print_policy_diff(json_t *r)
{
	json_t *d = json_object_get(r, "diff"), *changed = json_object_get(d, "changed"), *ch;
	const char *k;

	printf("%s %s -> %s\n", text(r, "product"), text(r, "from"), text(r, "to"));
	if (json_array_size(json_object_get(d, "features_added")) == 0 &&
	    json_array_size(json_object_get(d, "features_removed")) == 0 &&
	    json_object_size(changed) == 0) {
		printf("no differences\n");
		return 0;
	}
	print_feature_list(json_object_get(d, "features_added"), "features added", '+');
	print_feature_list(json_object_get(d, "features_removed"), "features removed", '-');
	if (json_object_size(changed) > 0) {
		struct table *t = table_new(3);

		printf("\nfeatures changed:\n");
		json_object_foreach(changed, k, ch)
			changed_rows(t, k, ch);
		table_print(t, stdout, "  ");
	}
	if (json_object_size(json_object_get(d, "reconsent")) > 0)
		print_reconsent(json_object_get(d, "reconsent"), text(r, "from"));
	return 0;
}
