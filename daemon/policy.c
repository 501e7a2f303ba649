/*
 * policy.c: load and validate the id registry and the policy tables (format: proto/POLICY.md).
 *
 * Loading is all or nothing: every table is parsed, every reference resolved and every problem
 * collected with its file and JSON path; a set with any problem is freed and NULL returned, so a
 * broken table never replaces a working set. A loaded set is immutable and reference-counted.
 * Everything a set allocates comes from one arena, freed with the set.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

#define ARENA_CHUNK_BYTES	(64 * 1024)
#define TABLE_FILES_MAX		256
#define POLICY_ERRORS_MAX	200

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 used, size;
	max_align_t		 data[];
};

/* What one load needs while it runs. */
struct loader {
	struct policy_set	*set;
	struct arena_chunk	*arena;
	struct policy_errors	*errs;
	const char		*file;		/* the file being read, for messages */
	char			 path[256];	/* the JSON path being read */
	struct pending_cite	*cites;		/* resolved once every table is read */
	size_t			 ncites, capcites;
};

struct pending_cite {
	struct cite	*cite;
	const char	*file;
	char		 path[256];
};

static const char *const kind_keys[ID_KIND_COUNT] = {
	"products", "features", "fields", "permissions", "purposes", "exceptions"
};
static const char *const kind_names[ID_KIND_COUNT] = {
	"product", "feature", "field", "permission", "purpose", "exception"
};
static const char *const basis_names[] = {
	[BASIS_NONE] = "none", [BASIS_CONTRACT] = "contract",
	[BASIS_LEGAL_OBLIGATION] = "legal_obligation", [BASIS_CONSENT] = "consent",
	[BASIS_SEPARATE_CONSENT] = "separate_consent",
	[BASIS_LEGITIMATE_INTEREST] = "legitimate_interest", [BASIS_EXCEPTION] = "exception",
};
static const char *const platform_names[PLATFORM_COUNT] = { "android", "ios", "web" };
static const char *const region_names[REGION_COUNT] = {
	"cn", "hk", "eea", "uk", "ch", "in", "ru", "sg", "other"
};
static const char *const age_band_names[AGE_BAND_COUNT] = { "adult", "minor", "child" };
static const char *const right_names[RIGHT_COUNT] = {
	"access", "copy", "correction", "deletion", "withdrawal", "cancellation", "portability",
	"explanation", "objection", "restriction", "complaint", "response"
};

/* Keys that carry text for readers only and are accepted wherever they appear. */
static const char *const prose_keys[] = {
	"notes", "note", "why", "name_zh", "name_en", "sensitive_why", "source", "title",
	"description", NULL
};

static void	*arena_alloc(struct loader *, size_t);
static void	 arena_free(struct arena_chunk *);
static void	 fail(struct loader *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static size_t	 path_push(struct loader *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 path_pop(struct loader *, size_t);
static bool	 check_keys(struct loader *, json_t *, const char *const *);
static const char *get_string(struct loader *, json_t *, const char *, bool);
static bool	 get_bool(struct loader *, json_t *, const char *, bool);
static json_t	*get_object(struct loader *, json_t *, const char *, bool);
static json_t	*get_array(struct loader *, json_t *, const char *, bool);
static int	 get_id(struct loader *, json_t *, enum id_kind);
static void	 parse_idlist(struct loader *, json_t *, const char *, enum id_kind,
		    struct idlist *);
static void	 parse_cites(struct loader *, json_t *, struct cites *, bool);
static void	 parse_limits(struct loader *, json_t *, struct limits *);
static enum basis parse_basis(struct loader *, json_t *, const char *, enum basis);
static unsigned	 parse_regions(struct loader *, json_t *, const char *);
static void	 load_registry(struct loader *, const char *);
static void	 load_table(struct loader *, const char *);
static void	 parse_purposes(struct loader *, struct table *, json_t *);
static void	 parse_fields(struct loader *, struct table *, json_t *);
static void	 parse_never_collect(struct loader *, struct table *, json_t *);
static void	 parse_features(struct loader *, struct table *, json_t *);
static void	 parse_feature(struct loader *, struct table *, struct feature_decl *,
		    const char *, json_t *);
static void	 parse_minors(struct loader *, struct table *, json_t *);
static void	 parse_exceptions(struct loader *, struct table *, json_t *);
static void	 parse_retention(struct loader *, struct table *, json_t *);
static void	 parse_rights(struct loader *, struct table *, json_t *);
static void	 parse_reconsent(struct loader *, struct table *, json_t *);
static int	 name_index(const char *, const char *const *, int);
static void	 link_tables(struct loader *);
static void	 check_purpose_refs(struct loader *, struct table *);
static void	 resolve_cites(struct loader *);
static void	 check_coverage(struct loader *);
static bool	 date_valid(const char *);
static int	 cmp_str(const void *, const void *);
static int	 cmp_table(const void *, const void *);

/* Allocate zeroed memory that lives as long as the set. */
static void *
arena_alloc(struct loader *l, size_t n)
{
	struct arena_chunk *c = l->arena;
	size_t size;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (c == NULL || c->size - c->used < n) {
		size = n > ARENA_CHUNK_BYTES ? n : ARENA_CHUNK_BYTES;
		if ((c = calloc(1, sizeof *c + size)) == NULL) {
			fprintf(stderr, "consentd: out of memory loading policies\n");
			abort();
		}
		c->size = size;
		c->next = l->arena;
		l->arena = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static void
arena_free(struct arena_chunk *c)
{
	struct arena_chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
}

/* Record a problem at the current file and path. */
static void
fail(struct loader *l, const char *fmt, ...)
{
	struct policy_errors *e = l->errs;
	char msg[512], *line;
	va_list ap;
	char **grown;

	if (e->n >= POLICY_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s: $%s: %s", l->file ? l->file : "-", l->path, msg) < 0)
		return;
	if ((grown = realloc(e->lines, (e->n + 1) * sizeof *grown)) == NULL) {
		free(line);
		return;
	}
	e->lines = grown;
	e->lines[e->n++] = line;
	if (e->n == POLICY_ERRORS_MAX)
		fprintf(stderr, "consentd: more than %d policy errors; the rest are not shown\n",
		    POLICY_ERRORS_MAX);
}

/* Append a component to the JSON path; returns the length to restore with path_pop. */
static size_t
path_push(struct loader *l, const char *fmt, ...)
{
	size_t old = strlen(l->path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->path + old, sizeof l->path - old, fmt, ap);
	va_end(ap);
	return old;
}

static void
path_pop(struct loader *l, size_t old)
{
	l->path[old] = '\0';
}

static bool
is_prose_key(const char *k)
{
	for (const char *const *p = prose_keys; *p; p++)
		if (strcmp(*p, k) == 0)
			return true;
	return false;
}

/* Report every key of obj that is neither in allowed nor a prose key. */
static bool
check_keys(struct loader *l, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	bool ok = true;

	json_object_foreach(obj, k, v) {
		const char *const *a;

		for (a = allowed; *a && strcmp(*a, k) != 0; a++)
			;
		if (*a == NULL && !is_prose_key(k)) {
			fail(l, "unknown key \"%s\"", k);
			ok = false;
		}
	}
	return ok;
}

static const char *
get_string(struct loader *l, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			fail(l, "missing key \"%s\"", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		fail(l, "\"%s\" must be a string", key);
		return NULL;
	}
	return json_string_value(v);
}

static bool
get_bool(struct loader *l, json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return dflt;
	if (!json_is_boolean(v)) {
		fail(l, "\"%s\" must be true or false", key);
		return dflt;
	}
	return json_is_true(v);
}

static json_t *
get_object(struct loader *l, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			fail(l, "missing key \"%s\"", key);
		return NULL;
	}
	if (!json_is_object(v)) {
		fail(l, "\"%s\" must be an object", key);
		return NULL;
	}
	return v;
}

static json_t *
get_array(struct loader *l, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			fail(l, "missing key \"%s\"", key);
		return NULL;
	}
	if (!json_is_array(v)) {
		fail(l, "\"%s\" must be an array", key);
		return NULL;
	}
	return v;
}

/* The registry index of a JSON string naming an id of kind, or -1 (reported). */
static int
get_id(struct loader *l, json_t *v, enum id_kind kind)
{
	int i;

	if (!json_is_string(v)) {
		fail(l, "a %s id must be a string", kind_names[kind]);
		return -1;
	}
	if ((i = registry_find(&l->set->reg, kind, json_string_value(v))) < 0)
		fail(l, "unknown %s \"%s\"", kind_names[kind], json_string_value(v));
	return i;
}

static void
parse_idlist(struct loader *l, json_t *obj, const char *key, enum id_kind kind,
    struct idlist *out)
{
	json_t *a = get_array(l, obj, key, false), *v;
	size_t i, old;

	memset(out, 0, sizeof *out);
	if (a == NULL)
		return;
	out->v = arena_alloc(l, (json_array_size(a) + 1) * sizeof *out->v);
	json_array_foreach(a, i, v) {
		int id;

		old = path_push(l, ".%s[%zu]", key, i);
		if ((id = get_id(l, v, kind)) >= 0) {
			for (size_t j = 0; j < out->n; j++)
				if (out->v[j] == id)
					fail(l, "duplicate %s \"%s\"", kind_names[kind],
					    json_string_value(v));
			out->v[out->n++] = id;
		}
		path_pop(l, old);
	}
}

/* Parse obj's "cite" list; the sections are checked once every table is read. */
static void
parse_cites(struct loader *l, json_t *obj, struct cites *out, bool required)
{
	static const char *const keys[] = { "seed", "section", "lines", "quote", NULL };
	json_t *a = get_array(l, obj, "cite", required), *c;
	size_t i, old;

	memset(out, 0, sizeof *out);
	if (a == NULL)
		return;
	if (json_array_size(a) == 0 && required) {
		old = path_push(l, ".cite");
		fail(l, "a declaration needs at least one citation");
		path_pop(l, old);
		return;
	}
	out->v = arena_alloc(l, json_array_size(a) * sizeof *out->v);
	json_array_foreach(a, i, c) {
		struct cite *ct = &out->v[out->n];
		json_t *lines;

		old = path_push(l, ".cite[%zu]", i);
		if (!json_is_object(c)) {
			fail(l, "a citation must be an object");
			path_pop(l, old);
			continue;
		}
		check_keys(l, c, keys);
		ct->seed = get_string(l, c, "seed", true);
		ct->section = get_string(l, c, "section", true);
		ct->quote = get_string(l, c, "quote", false);
		lines = json_object_get(c, "lines");
		if (lines != NULL) {
			if (!json_is_array(lines) || json_array_size(lines) != 2 ||
			    !json_is_integer(json_array_get(lines, 0)) ||
			    !json_is_integer(json_array_get(lines, 1))) {
				fail(l, "\"lines\" must be [first, last]");
			} else {
				ct->first_line = json_integer_value(json_array_get(lines, 0));
				ct->last_line = json_integer_value(json_array_get(lines, 1));
				if (ct->first_line < 1 || ct->last_line < ct->first_line)
					fail(l, "\"lines\" [%d, %d] is not a range of lines",
					    ct->first_line, ct->last_line);
			}
		}
		if (ct->seed != NULL && ct->section != NULL) {
			struct pending_cite *p;

			if (l->ncites == l->capcites) {
				size_t cap = l->capcites ? l->capcites * 2 : 1024;
				struct pending_cite *g = realloc(l->cites, cap * sizeof *g);

				if (g == NULL)
					abort();
				l->cites = g;
				l->capcites = cap;
			}
			p = &l->cites[l->ncites++];
			p->cite = ct;
			p->file = l->file;
			snprintf(p->path, sizeof p->path, "%s", l->path);
			out->n++;
		}
		path_pop(l, old);
	}
}

/* Set bits of the values of key (names from names[0..n)); report unknown ones. */
static unsigned
parse_name_bits(struct loader *l, json_t *obj, const char *key, const char *const *names,
    int n, const char *what)
{
	json_t *a = get_array(l, obj, key, false), *v;
	unsigned bits = 0;
	size_t i;

	if (a == NULL)
		return 0;
	json_array_foreach(a, i, v) {
		int k;

		for (k = 0; k < n; k++)
			if (json_is_string(v) && strcmp(json_string_value(v), names[k]) == 0)
				break;
		if (k == n) {
			size_t old = path_push(l, ".%s[%zu]", key, i);

			fail(l, "unknown %s %s", what, json_is_string(v) ?
			    json_string_value(v) : "(not a string)");
			path_pop(l, old);
		} else
			bits |= 1u << k;
	}
	return bits;
}

static unsigned
parse_regions(struct loader *l, json_t *obj, const char *key)
{
	return parse_name_bits(l, obj, key, region_names, REGION_COUNT, "region");
}

/* Parse {"android": "13", ...} into per-platform versions. */
static void
parse_os_bound(struct loader *l, json_t *lim, const char *key, const char **out)
{
	json_t *o = get_object(l, lim, key, false), *v;
	const char *k;

	if (o == NULL)
		return;
	json_object_foreach(o, k, v) {
		int p = platform_parse(k);
		size_t old = path_push(l, ".%s.%s", key, k);

		if (p < 0)
			fail(l, "unknown platform \"%s\"", k);
		else if (!json_is_string(v) || !os_version_valid(json_string_value(v)))
			fail(l, "an OS version must be a string such as \"13\" or \"10.3\"");
		else
			out[p] = json_string_value(v);
		path_pop(l, old);
	}
}

static void
parse_limits(struct loader *l, json_t *obj, struct limits *out)
{
	static const char *const keys[] = { "platforms", "os_min", "os_below", "roms",
		"regions", NULL };
	json_t *lim = get_object(l, obj, "limits", false), *roms, *v;
	size_t old, i;

	memset(out, 0, sizeof *out);
	if (lim == NULL)
		return;
	old = path_push(l, ".limits");
	check_keys(l, lim, keys);
	out->present = true;
	out->platforms = parse_name_bits(l, lim, "platforms", platform_names, PLATFORM_COUNT,
	    "platform");
	parse_os_bound(l, lim, "os_min", out->os_min);
	parse_os_bound(l, lim, "os_below", out->os_below);
	out->regions = parse_regions(l, lim, "regions");
	if ((roms = get_array(l, lim, "roms", false)) != NULL) {
		out->roms = arena_alloc(l, (json_array_size(roms) + 1) * sizeof *out->roms);
		json_array_foreach(roms, i, v) {
			if (json_is_string(v))
				out->roms[out->nroms++] = json_string_value(v);
			else
				fail(l, "\"roms\" must hold strings");
		}
	}
	for (int p = 0; p < PLATFORM_COUNT; p++)
		if (out->os_min[p] && out->os_below[p] &&
		    os_version_cmp(out->os_min[p], out->os_below[p]) >= 0)
			fail(l, "os_min %s is not below os_below %s for %s", out->os_min[p],
			    out->os_below[p], platform_names[p]);
	path_pop(l, old);
}

static enum basis
parse_basis(struct loader *l, json_t *obj, const char *key, enum basis dflt)
{
	const char *s = get_string(l, obj, key, dflt == BASIS_NONE);

	if (s == NULL)
		return dflt;
	for (int b = BASIS_CONTRACT; b <= BASIS_LEGITIMATE_INTEREST; b++)
		if (b != BASIS_SEPARATE_CONSENT && strcmp(s, basis_names[b]) == 0)
			return b;
	fail(l, "\"%s\": unknown basis \"%s\" (contract, legal_obligation, consent or "
	    "legitimate_interest)", key, s);
	return dflt == BASIS_NONE ? BASIS_CONTRACT : dflt;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Table files sort by name, whichever directory holds them. */
static int
cmp_basename(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');

	return strcmp(x ? x + 1 : *(char *const *)a, y ? y + 1 : *(char *const *)b);
}

int
registry_find(const struct registry *r, enum id_kind kind, const char *id)
{
	const char **hit;

	if (id == NULL || r->count[kind] == 0)
		return -1;
	hit = bsearch(&id, r->ids[kind], r->count[kind], sizeof *r->ids[kind], cmp_str);
	return hit == NULL ? -1 : (int)(hit - r->ids[kind]);
}

const char *
registry_name(const struct registry *r, enum id_kind kind, int i)
{
	if (i < 0 || (size_t)i >= r->count[kind])
		return "?";
	return r->ids[kind][i];
}

static void
load_registry(struct loader *l, const char *path)
{
	struct registry *r = &l->set->reg;
	json_error_t jerr;
	const char *k;
	json_t *v;

	l->file = path;
	if ((r->doc = json_load_file(path, 0, &jerr)) == NULL) {
		fail(l, "cannot read the registry: %s (line %d)", jerr.text, jerr.line);
		return;
	}
	for (int kind = 0; kind < ID_KIND_COUNT; kind++) {
		json_t *o = json_object_get(r->doc, kind_keys[kind]);
		size_t n = 0;

		if (!json_is_object(o)) {
			fail(l, "\"%s\" must be an object of ids", kind_keys[kind]);
			continue;
		}
		r->ids[kind] = arena_alloc(l, (json_object_size(o) + 1) * sizeof(char *));
		json_object_foreach(o, k, v)
			r->ids[kind][n++] = k;
		qsort(r->ids[kind], n, sizeof(char *), cmp_str);
		r->count[kind] = n;
	}
	r->feature_product = arena_alloc(l, (r->count[ID_FEATURE] + 1) * sizeof(int));
	for (size_t i = 0; i < r->count[ID_FEATURE]; i++) {
		const char *f = r->ids[ID_FEATURE][i], *dot = strchr(f, '.');
		char prod[64];

		snprintf(prod, sizeof prod, "%.*s", dot ? (int)(dot - f) : 0, f);
		if ((r->feature_product[i] = registry_find(r, ID_PRODUCT, prod)) < 0)
			fail(l, "feature %s names no product", f);
	}
	r->permission_platform = arena_alloc(l, (r->count[ID_PERMISSION] + 1) * sizeof(int));
	for (size_t i = 0; i < r->count[ID_PERMISSION]; i++) {
		json_t *p = json_object_get(json_object_get(r->doc, "permissions"),
		    r->ids[ID_PERMISSION][i]);
		const char *plat = json_string_value(json_object_get(p, "platform"));

		r->permission_platform[i] = plat ? platform_parse(plat) : PLATFORM_NONE;
	}
	l->file = NULL;
}

static bool
date_valid(const char *s)
{
	struct tm tm;
	const char *end;

	if (s == NULL || strlen(s) != 10)
		return false;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	return end != NULL && *end == '\0';
}

static void
parse_purposes(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "switchable", "default", "default_by_region", "kind",
		"cite", NULL };
	static const char *const kinds[] = { "plain", "marketing", "personalisation",
		"profiling", "service" };
	json_t *o = get_object(l, doc, "purposes", true), *v;
	const char *k;
	size_t old;

	if (o == NULL)
		return;
	t->purposes = arena_alloc(l, (json_object_size(o) + 1) * sizeof *t->purposes);
	json_object_foreach(o, k, v) {
		struct purpose_decl *p = &t->purposes[t->npurposes];
		json_t *byreg;
		const char *s;

		old = path_push(l, ".purposes.%s", k);
		if ((p->purpose = registry_find(&l->set->reg, ID_PURPOSE, k)) < 0) {
			fail(l, "unknown purpose \"%s\"", k);
			path_pop(l, old);
			continue;
		}
		if (!json_is_object(v)) {
			fail(l, "a purpose must be an object");
			path_pop(l, old);
			continue;
		}
		check_keys(l, v, keys);
		p->switchable = get_bool(l, v, "switchable", false);
		memset(p->region_default, -1, sizeof p->region_default);
		s = get_string(l, v, "default", p->switchable);
		if (s != NULL) {
			if (strcmp(s, "on") != 0 && strcmp(s, "off") != 0)
				fail(l, "\"default\" must be \"on\" or \"off\"");
			p->default_on = strcmp(s, "on") == 0;
		} else
			p->default_on = !p->switchable;
		if ((byreg = get_object(l, v, "default_by_region", false)) != NULL) {
			const char *rk;
			json_t *rv;

			json_object_foreach(byreg, rk, rv) {
				int r = region_parse(rk);
				const char *rs = json_string_value(rv);

				if (r < 0 || rs == NULL || (strcmp(rs, "on") && strcmp(rs, "off")))
					fail(l, "default_by_region.%s: a region mapped to "
					    "\"on\" or \"off\"", rk);
				else
					p->region_default[r] = strcmp(rs, "on") == 0;
			}
		}
		if ((s = get_string(l, v, "kind", false)) != NULL) {
			size_t i;

			for (i = 0; i < sizeof kinds / sizeof *kinds; i++)
				if (strcmp(s, kinds[i]) == 0)
					break;
			if (i == sizeof kinds / sizeof *kinds)
				fail(l, "unknown purpose kind \"%s\"", s);
			else
				p->kind = i;
		}
		parse_cites(l, v, &p->cite, true);
		if (t->purpose[p->purpose] != NULL)
			fail(l, "duplicate purpose");
		t->purpose[p->purpose] = p;
		t->npurposes++;
		path_pop(l, old);
	}
}

static void
parse_fields(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "sensitive", "cite", "category", NULL };
	json_t *o = get_object(l, doc, "fields", true), *v;
	const char *k;

	if (o == NULL)
		return;
	json_object_foreach(o, k, v) {
		size_t old = path_push(l, ".fields.%s", k);
		int f = registry_find(&l->set->reg, ID_FIELD, k);
		struct field_attr *a;

		if (f < 0) {
			fail(l, "unknown field \"%s\"", k);
		} else if (!json_is_object(v)) {
			fail(l, "a field must be an object");
		} else {
			a = &t->field[f];
			check_keys(l, v, keys);
			a->declared = true;
			a->sensitive = get_bool(l, v, "sensitive", false);
			a->name_zh = get_string(l, v, "name_zh", false);
			parse_cites(l, v, &a->cite, false);
			if (a->sensitive && a->cite.n == 0 &&
			    json_object_get(v, "sensitive_why") == NULL)
				fail(l, "a sensitive field needs \"cite\" or \"sensitive_why\"");
		}
		path_pop(l, old);
	}
}

static void
parse_never_collect(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "field", "features", "receives", "cite", NULL };
	json_t *a = get_array(l, doc, "never_collect", false), *v;
	size_t i;

	if (a == NULL)
		return;
	json_array_foreach(a, i, v) {
		size_t old = path_push(l, ".never_collect[%zu]", i);
		struct idlist features;
		json_t *recv;
		int f;

		if (!json_is_object(v)) {
			fail(l, "an entry must be an object");
			path_pop(l, old);
			continue;
		}
		check_keys(l, v, keys);
		f = json_object_get(v, "field") ? get_id(l, json_object_get(v, "field"), ID_FIELD)
		    : (fail(l, "missing key \"field\""), -1);
		parse_idlist(l, v, "features", ID_FEATURE, &features);
		if ((recv = json_object_get(v, "receives")) != NULL)
			get_id(l, recv, ID_FIELD);
		if (f >= 0) {
			t->field[f].never_collect = true;
			parse_cites(l, v, &t->field[f].never_cite, true);
		}
		path_pop(l, old);
	}
}

static void
parse_feature_fields(struct loader *l, struct table *t, struct feature_decl *d, json_t *o)
{
	static const char *const keys[] = { "need", "condition", "basis", "regional_basis",
		"purposes", "limits", "cite", "source", NULL };
	json_t *v;
	const char *k;

	d->fields = arena_alloc(l, (json_object_size(o) + 1) * sizeof *d->fields);
	json_object_foreach(o, k, v) {
		struct field_decl *fd = &d->fields[d->nfields];
		size_t old = path_push(l, ".fields.%s", k);
		const char *need;
		json_t *rb;

		if ((fd->field = registry_find(&l->set->reg, ID_FIELD, k)) < 0 ||
		    !json_is_object(v)) {
			fail(l, fd->field < 0 ? "unknown field \"%s\"" :
			    "a field declaration must be an object", k);
			path_pop(l, old);
			continue;
		}
		check_keys(l, v, keys);
		if (!t->field[fd->field].declared)
			fail(l, "field %s is missing from the table's \"fields\"", k);
		need = get_string(l, v, "need", true);
		if (need == NULL || strcmp(need, "required") == 0)
			fd->need = NEED_REQUIRED;
		else if (strcmp(need, "optional") == 0)
			fd->need = NEED_OPTIONAL;
		else if (strcmp(need, "conditional") == 0)
			fd->need = NEED_CONDITIONAL;
		else
			fail(l, "\"need\" must be required, optional or conditional");
		fd->condition = get_string(l, v, "condition", fd->need == NEED_CONDITIONAL);
		fd->basis = parse_basis(l, v, "basis", d->basis);
		if ((rb = get_array(l, v, "regional_basis", false)) != NULL) {
			size_t i;
			json_t *e;

			fd->regional = arena_alloc(l, (json_array_size(rb) + 1) *
			    sizeof *fd->regional);
			json_array_foreach(rb, i, e) {
				size_t o2 = path_push(l, ".regional_basis[%zu]", i);

				if (!json_is_object(e)) {
					fail(l, "an entry must be an object");
				} else {
					fd->regional[fd->nregional].regions =
					    parse_regions(l, e, "regions");
					fd->regional[fd->nregional].basis =
					    parse_basis(l, e, "basis", BASIS_NONE);
					fd->nregional++;
				}
				path_pop(l, o2);
			}
		}
		parse_idlist(l, v, "purposes", ID_PURPOSE, &fd->purposes);
		parse_limits(l, v, &fd->limits);
		parse_cites(l, v, &fd->cite, true);
		for (size_t j = 0; j < d->nfields; j++)
			if (d->fields[j].field == fd->field)
				fail(l, "duplicate field");
		d->nfields++;
		path_pop(l, old);
	}
}

static void
parse_feature_permissions(struct loader *l, struct feature_decl *d, json_t *o)
{
	static const char *const keys[] = { "purposes", "limits", "cite", NULL };
	json_t *v;
	const char *k;

	d->permissions = arena_alloc(l, (json_object_size(o) + 1) * sizeof *d->permissions);
	json_object_foreach(o, k, v) {
		struct permission_decl *pd = &d->permissions[d->npermissions];
		size_t old = path_push(l, ".permissions.%s", k);

		if ((pd->permission = registry_find(&l->set->reg, ID_PERMISSION, k)) < 0 ||
		    !json_is_object(v)) {
			fail(l, pd->permission < 0 ? "unknown permission \"%s\"" :
			    "a permission declaration must be an object", k);
			path_pop(l, old);
			continue;
		}
		check_keys(l, v, keys);
		parse_idlist(l, v, "purposes", ID_PURPOSE, &pd->purposes);
		parse_limits(l, v, &pd->limits);
		parse_cites(l, v, &pd->cite, true);
		d->npermissions++;
		path_pop(l, old);
	}
}

static void
parse_feature(struct loader *l, struct table *t, struct feature_decl *d, const char *name,
    json_t *v)
{
	static const char *const keys[] = { "kind", "basis", "purposes", "fields",
		"permissions", "members", "cite", NULL };
	const char *kind;
	json_t *o;

	check_keys(l, v, keys);
	d->name_zh = get_string(l, v, "name_zh", false);
	kind = get_string(l, v, "kind", true);
	if (kind != NULL && strcmp(kind, "core") != 0 && strcmp(kind, "optional") != 0)
		fail(l, "\"kind\" must be core or optional");
	d->optional = kind != NULL && strcmp(kind, "optional") == 0;
	d->basis = parse_basis(l, v, "basis", BASIS_NONE);
	parse_idlist(l, v, "purposes", ID_PURPOSE, &d->purposes);
	if ((o = get_object(l, v, "fields", false)) != NULL)
		parse_feature_fields(l, t, d, o);
	if ((o = get_object(l, v, "permissions", false)) != NULL)
		parse_feature_permissions(l, d, o);
	parse_idlist(l, v, "members", ID_FEATURE, &d->members);
	if (d->members.n > 0 && d->nfields > 0)
		fail(l, "a group feature (with \"members\") declares no fields itself");
	if (d->members.n == 0 && d->purposes.n == 0)
		fail(l, "feature %s serves no purpose", name);
	parse_cites(l, v, &d->cite, true);
	d->owner = t;
}

static void
parse_features(struct loader *l, struct table *t, json_t *doc)
{
	json_t *o = get_object(l, doc, "features", true), *v;
	const char *k;

	if (o == NULL)
		return;
	t->own = arena_alloc(l, (json_object_size(o) + 1) * sizeof *t->own);
	json_object_foreach(o, k, v) {
		size_t old = path_push(l, ".features.%s", k);
		struct feature_decl *d = &t->own[t->nown];
		int f = registry_find(&l->set->reg, ID_FEATURE, k);

		if (f < 0)
			fail(l, "unknown feature \"%s\"", k);
		else if (l->set->reg.feature_product[f] != t->product)
			fail(l, "feature %s belongs to another product", k);
		else if (!json_is_object(v))
			fail(l, "a feature must be an object");
		else {
			d->feature = f;
			parse_feature(l, t, d, k, v);
			t->feature[f] = d;
			t->nown++;
		}
		path_pop(l, old);
	}
}

static void
parse_minors(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "refuse", "guardian_required", "purposes_refused",
		"cite", NULL };
	json_t *m = get_object(l, doc, "minors", true), *pr;
	struct minors_rule *r = &t->minors;
	size_t old;
	unsigned bits;

	if (m == NULL)
		return;
	old = path_push(l, ".minors");
	check_keys(l, m, keys);
	bits = parse_name_bits(l, m, "refuse", age_band_names, AGE_BAND_COUNT, "age band");
	for (int b = 0; b < AGE_BAND_COUNT; b++)
		r->refuse[b] = bits & (1u << b);
	bits = parse_name_bits(l, m, "guardian_required", age_band_names, AGE_BAND_COUNT,
	    "age band");
	for (int b = 0; b < AGE_BAND_COUNT; b++)
		r->guardian[b] = bits & (1u << b);
	if ((pr = get_object(l, m, "purposes_refused", false)) != NULL) {
		size_t o2 = path_push(l, ".purposes_refused");

		bits = parse_name_bits(l, pr, "bands", age_band_names, AGE_BAND_COUNT, "age band");
		for (int b = 0; b < AGE_BAND_COUNT; b++)
			r->purposes_refused_band[b] = bits & (1u << b);
		parse_idlist(l, pr, "purposes", ID_PURPOSE, &r->purposes_refused);
		path_pop(l, o2);
	}
	if (r->refuse[AGE_ADULT] || r->guardian[AGE_ADULT])
		fail(l, "adults are neither refused nor in need of a guardian");
	parse_cites(l, m, &r->cite, true);
	path_pop(l, old);
}

static void
parse_exceptions(struct loader *l, struct table *t, json_t *doc)
{
	json_t *o = get_object(l, doc, "exceptions", true), *v;
	const char *k;

	if (o == NULL)
		return;
	json_object_foreach(o, k, v) {
		size_t old = path_push(l, ".exceptions.%s", k);
		int e = registry_find(&l->set->reg, ID_EXCEPTION, k);
		struct cites c;

		if (e < 0)
			fail(l, "unknown exception \"%s\"", k);
		else if (!json_is_object(v))
			fail(l, "an exception must be an object");
		else {
			t->exception[e] = true;
			parse_cites(l, v, &c, true);
		}
		path_pop(l, old);
	}
}

static void
parse_retention(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "after_cancel_years", "cite", NULL };
	json_t *r = get_object(l, doc, "retention", false), *y;
	struct cites c;
	size_t old;

	if (r == NULL)
		return;
	old = path_push(l, ".retention");
	check_keys(l, r, keys);
	y = json_object_get(r, "after_cancel_years");
	if (y != NULL && (!json_is_integer(y) || json_integer_value(y) < 0 ||
	    json_integer_value(y) > 100))
		fail(l, "\"after_cancel_years\" must be a whole number of years");
	else if (y != NULL)
		t->retention_years = json_integer_value(y);
	parse_cites(l, r, &c, true);
	path_pop(l, old);
}

/*
 * "rights": {"access": {"cite": [..]}, .., "response": {"days": 15, "cite": [..]}}: which
 * rights the policy grants the data subject, each where the text says so. "days" (response
 * only): how long the policy gives itself to answer a request.
 */
static void
parse_rights(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "cite", "days", NULL };
	json_t *o = get_object(l, doc, "rights", false), *v, *days;
	const char *k;

	if (o == NULL)
		return;
	json_object_foreach(o, k, v) {
		int r = name_index(k, right_names, RIGHT_COUNT);
		size_t old = path_push(l, ".rights.%s", k);

		if (r < 0)
			fail(l, "unknown right %s", k);
		else if (!json_is_object(v))
			fail(l, "a right must be an object");
		else {
			check_keys(l, v, keys);
			parse_cites(l, v, &t->rights[r], true);
			days = json_object_get(v, "days");
			if (days != NULL && (r != RIGHT_RESPONSE || !json_is_integer(days) ||
			    json_integer_value(days) < 1 || json_integer_value(days) > 365))
				fail(l, "\"days\" is the response's, a whole number from 1 to 365");
			else if (days != NULL)
				t->response_days = (int)json_integer_value(days);
		}
		path_pop(l, old);
	}
}

/*
 * "reconsent": {"cite": [..]}: where the policy says it asks for consent again before using
 * data for a new or changed purpose, or for any purpose it does not list. consentd applies
 * that rule to every product (reconsent_required, not_declared); these are the clauses explain
 * shows for it.
 */
static void
parse_reconsent(struct loader *l, struct table *t, json_t *doc)
{
	static const char *const keys[] = { "cite", NULL };
	json_t *o = get_object(l, doc, "reconsent", false);
	size_t old;

	if (o == NULL)
		return;
	old = path_push(l, ".reconsent");
	check_keys(l, o, keys);
	parse_cites(l, o, &t->reconsent, true);
	path_pop(l, old);
}

/* Parse the sections, checking each range; kept in the document for resolve_cites. */
static void
check_sections(struct loader *l, json_t *doc)
{
	json_t *o = get_object(l, doc, "sections", true), *v, *lines;
	const char *k;

	if (o == NULL)
		return;
	json_object_foreach(o, k, v) {
		size_t old = path_push(l, ".sections.%s", k);

		lines = json_object_get(v, "lines");
		if (!json_is_object(v) || !json_is_array(lines) || json_array_size(lines) != 2 ||
		    !json_is_integer(json_array_get(lines, 0)) ||
		    !json_is_integer(json_array_get(lines, 1)) ||
		    json_integer_value(json_array_get(lines, 0)) < 1 ||
		    json_integer_value(json_array_get(lines, 1)) <
		    json_integer_value(json_array_get(lines, 0)))
			fail(l, "a section needs \"lines\": [first, last]");
		path_pop(l, old);
	}
}

static void
load_table(struct loader *l, const char *path)
{
	static const char *const keys[] = { "format", "product", "version", "effective",
		"language", "governing", "inherits", "seed", "sections", "purposes", "fields",
		"never_collect", "features", "adopts", "minors", "exceptions", "retention",
		"rights", "reconsent", "umbrella_fills", NULL };
	struct registry *r = &l->set->reg;
	struct table *t;
	json_error_t jerr;
	json_t *doc, *fmt, *seed;
	const char *base, *product, *s;
	char expect[160];
	size_t errs_before = l->errs->n;

	l->file = path;
	l->path[0] = '\0';
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fail(l, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		    jerr.column);
		return;
	}
	if (!json_is_object(doc)) {
		fail(l, "a table must be a JSON object");
		json_decref(doc);
		return;
	}
	t = arena_alloc(l, sizeof *t);
	t->doc = doc;
	t->file = path;
	t->feature = arena_alloc(l, (r->count[ID_FEATURE] + 1) * sizeof *t->feature);
	t->purpose = arena_alloc(l, (r->count[ID_PURPOSE] + 1) * sizeof *t->purpose);
	t->field = arena_alloc(l, (r->count[ID_FIELD] + 1) * sizeof *t->field);
	t->exception = arena_alloc(l, (r->count[ID_EXCEPTION] + 1) * sizeof *t->exception);
	l->set->tables[l->set->ntables++] = t;

	check_keys(l, doc, keys);
	fmt = json_object_get(doc, "format");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != 1)
		fail(l, "\"format\" must be 1");
	product = get_string(l, doc, "product", true);
	if (product != NULL && (t->product = registry_find(r, ID_PRODUCT, product)) < 0)
		fail(l, "unknown product \"%s\"", product);
	if (product == NULL)
		t->product = -1;
	t->version = get_string(l, doc, "version", true);
	if (t->version != NULL && !date_valid(t->version))
		fail(l, "\"version\" must be a date YYYY-MM-DD, not \"%s\"", t->version);
	if ((s = get_string(l, doc, "effective", false)) != NULL && !date_valid(s))
		fail(l, "\"effective\" must be a date YYYY-MM-DD");
	t->name_zh = get_string(l, doc, "name_zh", false);
	if ((seed = get_object(l, doc, "seed", true)) != NULL) {
		size_t old = path_push(l, ".seed");

		t->seed = get_string(l, seed, "id", true);
		get_string(l, seed, "file", true);
		path_pop(l, old);
	}
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(expect, sizeof expect, "%s@%s.json", product ? product : "?",
	    t->version ? t->version : "?");
	if (product && t->version && strcmp(base, expect) != 0)
		fail(l, "the file of %s version %s must be named %s", product, t->version, expect);
	if (t->product < 0 || t->version == NULL || l->errs->n > errs_before)
		return;	/* the rest would only report the same problem again */
	check_sections(l, doc);
	parse_purposes(l, t, doc);
	parse_fields(l, t, doc);
	parse_never_collect(l, t, doc);
	parse_features(l, t, doc);
	parse_minors(l, t, doc);
	parse_exceptions(l, t, doc);
	parse_retention(l, t, doc);
	parse_rights(l, t, doc);
	parse_reconsent(l, t, doc);
	{
		struct cites c;
		json_t *fills = get_array(l, doc, "umbrella_fills", false), *v;
		size_t i;

		json_array_foreach(fills, i, v) {
			size_t old = path_push(l, ".umbrella_fills[%zu]", i);

			if (json_is_object(v))
				parse_cites(l, v, &c, true);
			else
				fail(l, "an entry must be an object with \"cite\"");
			path_pop(l, old);
		}
	}
	check_purpose_refs(l, t);
}

/* A feature, field or permission may serve only purposes its table lists. */
static void
check_purpose_refs(struct loader *l, struct table *t)
{
	const struct registry *r = &l->set->reg;

	for (size_t i = 0; i < t->nown; i++) {
		struct feature_decl *d = &t->own[i];
		size_t old = path_push(l, ".features.%s", registry_name(r, ID_FEATURE, d->feature));

		for (size_t j = 0; j < d->purposes.n; j++)
			if (t->purpose[d->purposes.v[j]] == NULL)
				fail(l, "purpose %s is missing from the table's \"purposes\"",
				    registry_name(r, ID_PURPOSE, d->purposes.v[j]));
		for (size_t j = 0; j < d->nfields; j++)
			for (size_t k = 0; k < d->fields[j].purposes.n; k++) {
				int p = d->fields[j].purposes.v[k], found = 0;

				for (size_t m = 0; m < d->purposes.n; m++)
					found |= d->purposes.v[m] == p;
				if (!found)
					fail(l, "field %s serves purpose %s, which the feature "
					    "does not list", registry_name(r, ID_FIELD,
					    d->fields[j].field), registry_name(r, ID_PURPOSE, p));
			}
		for (size_t j = 0; j < d->npermissions; j++)
			for (size_t k = 0; k < d->permissions[j].purposes.n; k++) {
				int p = d->permissions[j].purposes.v[k], found = 0;

				for (size_t m = 0; m < d->purposes.n; m++)
					found |= d->purposes.v[m] == p;
				if (!found)
					fail(l, "permission %s serves purpose %s, which the "
					    "feature does not list", registry_name(r,
					    ID_PERMISSION, d->permissions[j].permission),
					    registry_name(r, ID_PURPOSE, p));
			}
		for (size_t j = 0; j < d->members.n; j++)
			if (t->feature[d->members.v[j]] == NULL ||
			    r->feature_product[d->members.v[j]] != t->product)
				fail(l, "member %s is not a feature of this table",
				    registry_name(r, ID_FEATURE, d->members.v[j]));
		path_pop(l, old);
	}
}

static int
cmp_table(const void *a, const void *b)
{
	const struct table *x = *(const struct table *const *)a;
	const struct table *y = *(const struct table *const *)b;

	if (x->product != y->product)
		return x->product - y->product;
	return strcmp(x->version, y->version);
}

/* Pick each product's current version, find umbrellas, and copy adopted features in. */
static void
link_tables(struct loader *l)
{
	struct policy_set *s = l->set;
	struct registry *r = &s->reg;
	json_t *products = json_object_get(r->doc, "products");

	qsort(s->tables, s->ntables, sizeof *s->tables, cmp_table);
	s->current = arena_alloc(l, (r->count[ID_PRODUCT] + 1) * sizeof *s->current);
	for (size_t i = 0; i < s->ntables; i++) {
		struct table *t = s->tables[i];

		if (i > 0 && cmp_table(&s->tables[i - 1], &t) == 0) {
			l->file = t->file;
			l->path[0] = '\0';
			fail(l, "%s version %s is also in %s", r->ids[ID_PRODUCT][t->product],
			    t->version, s->tables[i - 1]->file);
		}
		s->current[t->product] = t;	/* sorted: the last is the newest */
	}
	for (size_t p = 0; p < r->count[ID_PRODUCT]; p++) {
		json_t *versions = json_object_get(json_object_get(products, r->ids[ID_PRODUCT][p]),
		    "versions"), *v;
		size_t i;

		l->file = "registry";
		l->path[0] = '\0';
		json_array_foreach(versions, i, v)
			if (policy_table(s, p, json_string_value(v)) == NULL)
				fail(l, "no table for %s version %s", r->ids[ID_PRODUCT][p],
				    json_string_value(v));
	}
	for (size_t i = 0; i < s->ntables; i++) {
		struct table *t = s->tables[i];
		json_t *inh = json_object_get(t->doc, "inherits"), *adopts, *v;
		const char *k;

		l->file = t->file;
		l->path[0] = '\0';
		if (json_is_string(inh)) {
			int u = registry_find(r, ID_PRODUCT, json_string_value(inh));

			if (u < 0 || s->current[u] == NULL || u == t->product)
				fail(l, "\"inherits\": no umbrella table \"%s\"",
				    json_string_value(inh));
			else
				t->umbrella = s->current[u];
		} else if (inh != NULL && !json_is_null(inh))
			fail(l, "\"inherits\" must be a product id or null");
		if ((adopts = get_object(l, t->doc, "adopts", false)) == NULL)
			continue;
		json_object_foreach(adopts, k, v) {
			size_t old = path_push(l, ".adopts.%s", k);
			int f = registry_find(r, ID_FEATURE, k);
			struct feature_decl *d;
			struct cites *why;

			if (f < 0)
				fail(l, "unknown feature \"%s\"", k);
			else if (t->umbrella == NULL || t->umbrella->feature[f] == NULL)
				fail(l, "the umbrella declares no feature %s to adopt", k);
			else if (t->feature[f] != NULL)
				fail(l, "feature %s is declared twice", k);
			else {
				d = arena_alloc(l, sizeof *d);
				*d = *t->umbrella->feature[f];
				why = arena_alloc(l, sizeof *why);
				parse_cites(l, v, why, true);
				d->adopted = why;
				t->feature[f] = d;
			}
			path_pop(l, old);
		}
	}
}

/* Every citation names a section of its seed's table, within that section's lines. */
static void
resolve_cites(struct loader *l)
{
	struct policy_set *s = l->set;

	for (size_t i = 0; i < l->ncites; i++) {
		struct pending_cite *p = &l->cites[i];
		struct cite *c = p->cite;
		json_t *sec = NULL, *lines;
		bool seed_found = false;

		for (size_t t = 0; t < s->ntables && sec == NULL; t++) {
			if (s->tables[t]->seed == NULL || strcmp(s->tables[t]->seed, c->seed) != 0)
				continue;
			seed_found = true;
			sec = json_object_get(json_object_get(s->tables[t]->doc, "sections"),
			    c->section);
		}
		l->file = p->file;
		snprintf(l->path, sizeof l->path, "%s", p->path);
		if (!seed_found) {
			fail(l, "no table encodes seed \"%s\"", c->seed);
			continue;
		}
		if (sec == NULL) {
			fail(l, "seed %s has no section \"%s\"", c->seed, c->section);
			continue;
		}
		c->section_title = json_string_value(json_object_get(sec, "title"));
		lines = json_object_get(sec, "lines");
		if (c->first_line > 0 &&
		    (c->first_line < json_integer_value(json_array_get(lines, 0)) ||
		    c->last_line > json_integer_value(json_array_get(lines, 1))))
			fail(l, "lines %d-%d fall outside section \"%s\" (%lld-%lld)",
			    c->first_line, c->last_line, c->section,
			    json_integer_value(json_array_get(lines, 0)),
			    json_integer_value(json_array_get(lines, 1)));
	}
}

/* Every registry id must be declared by some table, as its seed gives it. */
static void
check_coverage(struct loader *l)
{
	struct policy_set *s = l->set;
	struct registry *r = &s->reg;
	bool *seen[ID_KIND_COUNT];

	for (int k = 0; k < ID_KIND_COUNT; k++)
		seen[k] = arena_alloc(l, r->count[k] + 1);
	for (size_t i = 0; i < s->ntables; i++) {
		struct table *t = s->tables[i];

		seen[ID_PRODUCT][t->product] = true;
		for (size_t f = 0; f < r->count[ID_FIELD]; f++)
			seen[ID_FIELD][f] |= t->field[f].declared || t->field[f].never_collect;
		for (size_t p = 0; p < r->count[ID_PURPOSE]; p++)
			seen[ID_PURPOSE][p] |= t->purpose[p] != NULL;
		for (size_t e = 0; e < r->count[ID_EXCEPTION]; e++)
			seen[ID_EXCEPTION][e] |= t->exception[e];
		for (size_t j = 0; j < t->nown; j++) {
			seen[ID_FEATURE][t->own[j].feature] = true;
			for (size_t m = 0; m < t->own[j].npermissions; m++)
				seen[ID_PERMISSION][t->own[j].permissions[m].permission] = true;
		}
	}
	l->file = "registry";
	l->path[0] = '\0';
	for (int k = 0; k < ID_KIND_COUNT; k++)
		for (size_t i = 0; i < r->count[k]; i++)
			if (!seen[k][i])
				fail(l, "%s %s is declared by no table", kind_names[k],
				    r->ids[k][i]);
}

/* Whether name is already among the n table files found. */
static bool
listed(char *const *paths, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');

		if (strcmp(base ? base + 1 : paths[i], name) == 0)
			return true;
	}
	return false;
}

/*
 * The *.json files of dirs into paths, a name found in an earlier directory hiding the same name
 * in a later one. A missing directory is skipped when it is not the last (an override directory
 * nobody created); the last must exist. Returns how many, sorted by name.
 */
static size_t
list_tables(struct loader *l, const char *const *dirs, size_t ndirs, char **paths)
{
	size_t n = 0;

	for (size_t k = 0; k < ndirs; k++) {
		struct dirent *de;
		DIR *d;

		if ((d = opendir(dirs[k])) == NULL) {
			if (errno == ENOENT && k + 1 < ndirs)
				continue;
			l->file = dirs[k];
			fail(l, "cannot open the policy directory: %s", strerror(errno));
			continue;
		}
		while ((de = readdir(d)) != NULL && n < TABLE_FILES_MAX) {
			size_t len = strlen(de->d_name);

			if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 ||
			    de->d_name[0] == '.' || listed(paths, n, de->d_name))
				continue;
			if ((paths[n] = arena_alloc(l, strlen(dirs[k]) + len + 2)) != NULL)
				sprintf(paths[n++], "%s/%s", dirs[k], de->d_name);
		}
		closedir(d);
	}
	qsort(paths, n, sizeof *paths, cmp_basename);
	return n;
}

struct policy_set *
policy_load(const char *registry_path, const char *dir, struct policy_errors *errs)
{
	return policy_load_dirs(registry_path, &dir, 1, errs);
}

struct policy_set *
policy_load_dirs(const char *registry_path, const char *const *dirs, size_t ndirs,
    struct policy_errors *errs)
{
	struct loader l = { .errs = errs };
	char *paths[TABLE_FILES_MAX];
	size_t npaths;
	time_t now = time(NULL);
	struct tm tm;

	memset(errs, 0, sizeof *errs);
	l.set = calloc(1, sizeof *l.set);
	if (l.set == NULL)
		return NULL;
	l.set->refs = 1;
	load_registry(&l, registry_path);
	if (errs->n > 0)
		goto fail;
	npaths = list_tables(&l, dirs, ndirs, paths);
	if (errs->n > 0)
		goto fail;
	l.set->tables = arena_alloc(&l, (npaths + 1) * sizeof *l.set->tables);
	for (size_t i = 0; i < npaths; i++)
		load_table(&l, paths[i]);
	if (npaths == 0) {
		l.file = dirs[ndirs - 1];
		fail(&l, "no policy tables (*.json) in this directory");
	}
	if (errs->n == 0)
		link_tables(&l);
	if (errs->n == 0)
		resolve_cites(&l);
	if (errs->n == 0)
		check_coverage(&l);
	free(l.cites);
	l.cites = NULL;
	if (errs->n > 0)
		goto fail;
	gmtime_r(&now, &tm);
	strftime(l.set->loaded_at, sizeof l.set->loaded_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* The arena travels with the set: its first chunk pointer is kept in a spare slot. */
	l.set->arena_head = l.arena;
	return l.set;
fail:
	free(l.cites);
	for (size_t i = 0; l.set->tables && i < l.set->ntables; i++)
		json_decref(l.set->tables[i]->doc);
	json_decref(l.set->reg.doc);
	arena_free(l.arena);
	free(l.set);
	return NULL;
}

void
policy_errors_free(struct policy_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	memset(e, 0, sizeof *e);
}

struct policy_set *
policy_ref(struct policy_set *s)
{
	s->refs++;
	return s;
}

void
policy_unref(struct policy_set *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->ntables; i++)
		json_decref(s->tables[i]->doc);
	json_decref(s->reg.doc);
	arena_free(s->arena_head);
	free(s);
}

const struct table *
policy_table(const struct policy_set *s, int product, const char *version)
{
	if (product < 0 || (size_t)product >= s->reg.count[ID_PRODUCT])
		return NULL;
	if (version == NULL)
		return s->current[product];
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i]->product == product && strcmp(s->tables[i]->version,
		    version) == 0)
			return s->tables[i];
	return NULL;
}

json_t *
cites_json(const struct cites *c)
{
	json_t *a = json_array();

	for (size_t i = 0; c != NULL && i < c->n; i++) {
		const struct cite *ct = &c->v[i];
		json_t *o = json_pack("{s:s,s:s}", "seed", ct->seed, "section", ct->section);

		if (ct->section_title)
			json_object_set_new(o, "title", json_string(ct->section_title));
		if (ct->first_line > 0)
			json_object_set_new(o, "lines", json_pack("[i,i]", ct->first_line,
			    ct->last_line));
		if (ct->quote)
			json_object_set_new(o, "quote", json_string(ct->quote));
		json_array_append_new(a, o);
	}
	return a;
}

bool
idlist_has(const struct idlist *l, int id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == id)
			return true;
	return false;
}

const struct field_decl *
feature_field(const struct feature_decl *f, int field)
{
	for (size_t i = 0; f != NULL && i < f->nfields; i++)
		if (f->fields[i].field == field)
			return &f->fields[i];
	return NULL;
}

const struct permission_decl *
feature_permission(const struct feature_decl *f, int permission)
{
	for (size_t i = 0; f != NULL && i < f->npermissions; i++)
		if (f->permissions[i].permission == permission)
			return &f->permissions[i];
	return NULL;
}

const struct cites *
policy_reconsent(const struct table *t)
{
	return t->reconsent.n || t->umbrella == NULL ? &t->reconsent : &t->umbrella->reconsent;
}

const struct purpose_decl *
policy_purpose(const struct table *t, int purpose)
{
	if (t->purpose[purpose] != NULL || t->umbrella == NULL)
		return t->purpose[purpose];
	return t->umbrella->purpose[purpose];
}

const char *
region_name(enum region r)
{
	return (unsigned)r < REGION_COUNT ? region_names[r] : "none";
}

const char *
right_name(enum right r)
{
	return (unsigned)r < RIGHT_COUNT ? right_names[r] : "none";
}

const char *
basis_name(enum basis b)
{
	return (unsigned)b <= BASIS_EXCEPTION ? basis_names[b] : "none";
}

static int
name_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
platform_parse(const char *s)
{
	return name_index(s, platform_names, PLATFORM_COUNT);
}

int
region_parse(const char *s)
{
	return name_index(s, region_names, REGION_COUNT);
}

int
age_band_parse(const char *s)
{
	return name_index(s, age_band_names, AGE_BAND_COUNT);
}

const char *
age_band_name(enum age_band b)
{
	return (unsigned)b < AGE_BAND_COUNT ? age_band_names[b] : "adult";
}

bool
os_version_valid(const char *s)
{
	bool digit = false;

	if (s == NULL || *s == '\0' || strlen(s) > 32)
		return false;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digit = true;
		else if (*s == '.' && digit)
			digit = false;
		else
			return false;
	}
	return digit;
}

int
os_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long x = 0, y = 0;

		/* A missing component counts as 0, so "8" equals "8.0". */
		while (*a >= '0' && *a <= '9')
			x = x * 10 + (unsigned long)(*a++ - '0');
		while (*b >= '0' && *b <= '9')
			y = y * 10 + (unsigned long)(*b++ - '0');
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}
