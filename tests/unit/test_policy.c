/*
 * test_policy.c: the id registry and policy-table loader (daemon/policy.c, proto/POLICY.md).
 *
 * The valid fixture (tests/unit/fixtures/) must load. Each broken-table test copies it into a
 * fresh temporary directory, makes one mutation with jansson, and checks that policy_load
 * refuses the set and reports the expected "file: $.json.path: message" line. Run from the
 * source tree's root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

#define FIXTURES	"tests/unit/fixtures"
#define FIXTURE_REGISTRY FIXTURES "/registry.json"
#define FIXTURE_VALID	FIXTURES "/valid"

#define PAY		"pay@2024-04-25.json"
#define SHOP_OLD	"shop@2021-07-22.json"
#define SHOP		"shop@2025-05-20.json"
#define UMBRELLA	"xiaomi@2021-01-15.json"
#define REGISTRY	NULL		/* as a file argument: the registry */

/* A private copy of the valid fixture. */
struct fx {
	char	dir[64];
	char	registry[128];
	char	policies[128];
};

static void	 copy_file(const char *, const char *);
static void	 remove_tree(const char *);
static int	 fx_setup(void **);
static int	 fx_teardown(void **);
static void	 fx_path(const struct fx *, const char *, char *, size_t);
static json_t	*doc_read(const struct fx *, const char *);
static void	 doc_write(const struct fx *, const char *, json_t *);
static json_t	*doc_at(json_t *, const char *);
static json_t	*doc_parent(json_t *, const char *, const char **);
static void	 mutate_set(const struct fx *, const char *, const char *, json_t *);
static void	 mutate_delete(const struct fx *, const char *, const char *);
static void	 write_raw(const struct fx *, const char *, const char *);
static void	 load_fails(const struct fx *, struct policy_errors *);
static void	 dump_errors(const struct policy_errors *);
static bool	 expect_line(const struct fx *, const struct policy_errors *, bool, const char *,
		    const char *, const char *, ...) __attribute__((format(printf, 6, 7)));
static json_t	*pay_cite(void);
static void	 expect_undeclared(struct fx *, const char *, const char *, json_t *,
		    const char *);

/* Copy a file byte for byte. */
static void
copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[8192];
	size_t n;

	if (in == NULL)
		fail_msg("cannot open %s (run the tests from the source tree's root)", from);
	out = fopen(to, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* Remove dir and the files (one level of subdirectories) under it. */
static void
remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) != 0)
			remove_tree(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A temporary directory holding registry.json and policies/ copied from the valid fixture. */
static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	DIR *d;

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/consentd-test-policy-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->registry, sizeof f->registry, "%s/registry.json", f->dir);
	snprintf(f->policies, sizeof f->policies, "%s/policies", f->dir);
	assert_int_equal(mkdir(f->policies, 0700), 0);
	copy_file(FIXTURE_REGISTRY, f->registry);
	if ((d = opendir(FIXTURE_VALID)) == NULL)
		fail_msg("cannot open %s (run the tests from the source tree's root)",
		    FIXTURE_VALID);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof from, "%s/%s", FIXTURE_VALID, de->d_name);
		snprintf(to, sizeof to, "%s/%s", f->policies, de->d_name);
		copy_file(from, to);
	}
	closedir(d);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f != NULL)
		remove_tree(f->dir);
	free(f);
	return 0;
}

/* The path of a table file in the copy (file NULL: the registry). */
static void
fx_path(const struct fx *f, const char *file, char *buf, size_t len)
{
	if (file == REGISTRY)
		snprintf(buf, len, "%s", f->registry);
	else
		snprintf(buf, len, "%s/%s", f->policies, file);
}

static json_t *
doc_read(const struct fx *f, const char *file)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *doc;

	fx_path(f, file, path, sizeof path);
	if ((doc = json_load_file(path, 0, &jerr)) == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return doc;
}

/* Write doc back to file; consumes doc. */
static void
doc_write(const struct fx *f, const char *file, json_t *doc)
{
	char path[PATH_MAX];

	fx_path(f, file, path, sizeof path);
	assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2)), 0);
	json_decref(doc);
}

/*
 * The node at path: keys (and array indexes) separated by '/', since ids carry dots, e.g.
 * "features/pay.payment/cite/0/lines". NULL if any step is missing.
 */
static json_t *
doc_at(json_t *doc, const char *path)
{
	char buf[512], *seg, *save = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	for (seg = strtok_r(buf, "/", &save); seg && doc; seg = strtok_r(NULL, "/", &save)) {
		if (json_is_array(doc))
			doc = json_array_get(doc, strtoul(seg, NULL, 10));
		else
			doc = json_object_get(doc, seg);
	}
	return doc;
}

/* The parent of the node at path, with *last pointing at path's last component. */
static json_t *
doc_parent(json_t *doc, const char *path, const char **last)
{
	const char *slash = strrchr(path, '/');
	char parent[512];
	json_t *p;

	if (slash == NULL) {
		*last = path;
		return doc;
	}
	snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
	*last = slash + 1;
	if ((p = doc_at(doc, parent)) == NULL)
		fail_msg("the fixture has no %s", parent);
	return p;
}

/* Set (or add, or append at index == size) the node at path of file; consumes value. */
static void
mutate_set(const struct fx *f, const char *file, const char *path, json_t *value)
{
	json_t *doc = doc_read(f, file), *parent;
	const char *key;

	parent = doc_parent(doc, path, &key);
	if (json_is_array(parent)) {
		size_t i = strtoul(key, NULL, 10);

		if (i == json_array_size(parent))
			assert_int_equal(json_array_append_new(parent, value), 0);
		else
			assert_int_equal(json_array_set_new(parent, i, value), 0);
	} else {
		assert_true(json_is_object(parent));
		assert_int_equal(json_object_set_new(parent, key, value), 0);
	}
	doc_write(f, file, doc);
}

/* Remove the node at path of file (it must be there). */
static void
mutate_delete(const struct fx *f, const char *file, const char *path)
{
	json_t *doc = doc_read(f, file), *parent;
	const char *key;

	parent = doc_parent(doc, path, &key);
	if (json_is_array(parent))
		assert_int_equal(json_array_remove(parent, strtoul(key, NULL, 10)), 0);
	else if (json_object_del(parent, key) != 0)
		fail_msg("the fixture has no %s", path);
	doc_write(f, file, doc);
}

static void
write_raw(const struct fx *f, const char *file, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	fx_path(f, file, path, sizeof path);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Load the copy: it must be refused, with at least one error. */
static void
load_fails(const struct fx *f, struct policy_errors *errs)
{
	struct policy_set *s = policy_load(f->registry, f->policies, errs);

	if (s != NULL) {
		policy_unref(s);
		policy_errors_free(errs);
		fail_msg("the broken set was loaded");
	}
	assert_true(errs->n > 0);
}

static void
dump_errors(const struct policy_errors *errs)
{
	print_error("policy_load reported %zu error(s):\n", errs->n);
	for (size_t i = 0; i < errs->n; i++)
		print_error("  %s\n", errs->lines[i]);
}

/*
 * Whether errs holds the line "<file>: $<where>: <message>" (or one starting with it, with
 * prefix); prints what it holds when not. file is a table of the copy, REGISTRY for the
 * registry's own path, or taken literally (such as "registry") when it has no ".json".
 */
static bool
expect_line(const struct fx *f, const struct policy_errors *errs, bool prefix, const char *file,
    const char *where, const char *fmt, ...)
{
	char msg[512], want[PATH_MAX + 1024], path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (file != REGISTRY && strstr(file, ".json") == NULL)
		snprintf(path, sizeof path, "%s", file);
	else
		fx_path(f, file, path, sizeof path);
	snprintf(want, sizeof want, "%s: $%s: %s", path, where, msg);
	for (size_t i = 0; i < errs->n; i++)
		if (prefix ? strncmp(errs->lines[i], want, strlen(want)) == 0 :
		    strcmp(errs->lines[i], want) == 0)
			return true;
	dump_errors(errs);
	print_error("no error %s\"%s\"\n", prefix ? "starting with " : "", want);
	return false;
}

#define EXPECT(file, where, ...) do {						\
	if (!expect_line(f, &errs, false, file, where, __VA_ARGS__))		\
		fail_msg("the expected error is missing");			\
} while (0)
#define EXPECT_PREFIX(file, where, ...) do {					\
	if (!expect_line(f, &errs, true, file, where, __VA_ARGS__))		\
		fail_msg("the expected error is missing");			\
} while (0)

/* A minimal citation of seed 000 section 一、(一)2 (lines 21-40), for added declarations. */
static json_t *
pay_cite(void)
{
	return json_pack("[{s:s,s:s,s:[i,i],s:s}]", "seed", "000", "section", "一、(一)2",
	    "lines", 22, 22, "quote", "x");
}

/* ---- the valid fixture ---- */

static void
test_valid_fixture_loads(void **state)
{
	struct policy_errors errs;
	struct policy_set *s;
	const struct registry *r;
	const struct table *pay, *shop, *shop_old, *umb;
	const struct feature_decl *rn, *d;
	const struct field_decl *face = NULL, *idn = NULL, *name = NULL;
	const struct permission_decl *cam = NULL;
	const struct purpose_decl *mk, *pr;
	int f_pay, f_shop, f_xiaomi;

	(void)state;
	s = policy_load(FIXTURE_REGISTRY, FIXTURE_VALID, &errs);
	if (s == NULL)
		dump_errors(&errs);
	assert_non_null(s);
	assert_int_equal(errs.n, 0);
	r = &s->reg;
	assert_int_equal(r->count[ID_PRODUCT], 3);
	assert_int_equal(r->count[ID_PERMISSION], 3);
	assert_int_equal(r->count[ID_EXCEPTION], 2);
	assert_int_equal(s->ntables, 4);
	assert_true(s->loaded_at[0] != '\0');

	f_pay = registry_find(r, ID_PRODUCT, "pay");
	f_shop = registry_find(r, ID_PRODUCT, "shop");
	f_xiaomi = registry_find(r, ID_PRODUCT, "xiaomi");
	assert_true(f_pay >= 0 && f_shop >= 0 && f_xiaomi >= 0);

	/* Current versions, older versions, umbrella links. */
	pay = policy_table(s, f_pay, NULL);
	shop = policy_table(s, f_shop, NULL);
	shop_old = policy_table(s, f_shop, "2021-07-22");
	umb = policy_table(s, f_xiaomi, NULL);
	assert_non_null(pay);
	assert_non_null(shop);
	assert_non_null(shop_old);
	assert_non_null(umb);
	assert_string_equal(pay->version, "2024-04-25");
	assert_string_equal(shop->version, "2025-05-20");
	assert_string_equal(shop_old->version, "2021-07-22");
	assert_ptr_equal(policy_table(s, f_shop, "2025-05-20"), shop);
	assert_null(policy_table(s, f_shop, "2023-01-01"));
	assert_null(policy_table(s, -1, NULL));
	assert_null(policy_table(s, 99, NULL));
	assert_ptr_equal(pay->umbrella, umb);
	assert_ptr_equal(shop_old->umbrella, umb);
	assert_null(umb->umbrella);
	assert_string_equal(pay->seed, "000");
	assert_non_null(strstr(pay->file, "/" PAY));
	assert_int_equal(pay->retention_years, 5);
	assert_int_equal(umb->retention_years, 0);
	assert_int_equal(pay->rights[RIGHT_ACCESS].n, 1);
	assert_string_equal(pay->rights[RIGHT_ACCESS].v[0].section_title, "您的权利");
	assert_int_equal(pay->rights[RIGHT_DELETION].n, 0);
	assert_int_equal(pay->response_days, 15);

	/* A core feature: basis, purposes, fields with their needs and bases. */
	rn = pay->feature[registry_find(r, ID_FEATURE, "pay.real_name_account")];
	assert_non_null(rn);
	assert_false(rn->optional);
	assert_int_equal(rn->basis, BASIS_LEGAL_OBLIGATION);
	assert_int_equal(rn->purposes.n, 2);
	assert_int_equal(rn->nfields, 3);
	assert_int_equal(rn->npermissions, 2);
	assert_ptr_equal(rn->owner, pay);
	assert_null(rn->adopted);
	for (size_t i = 0; i < rn->nfields; i++) {
		const char *n = registry_name(r, ID_FIELD, rn->fields[i].field);

		if (strcmp(n, "face_image") == 0)
			face = &rn->fields[i];
		else if (strcmp(n, "id_number") == 0)
			idn = &rn->fields[i];
		else if (strcmp(n, "real_name") == 0)
			name = &rn->fields[i];
	}
	assert_non_null(face);
	assert_non_null(idn);
	assert_non_null(name);
	assert_int_equal(name->need, NEED_REQUIRED);
	assert_int_equal(name->basis, BASIS_LEGAL_OBLIGATION);	/* the feature's */
	assert_int_equal(idn->basis, BASIS_LEGAL_OBLIGATION);
	assert_int_equal(face->need, NEED_CONDITIONAL);
	assert_string_equal(face->condition, "需要人脸识别的场景");
	assert_int_equal(face->basis, BASIS_CONSENT);
	assert_int_equal(face->purposes.n, 1);
	assert_string_equal(registry_name(r, ID_PURPOSE, face->purposes.v[0]),
	    "real_name_verification");
	assert_int_equal(face->cite.n, 1);
	assert_string_equal(face->cite.v[0].seed, "000");
	assert_string_equal(face->cite.v[0].section, "一、(一)1");
	assert_int_equal(face->cite.v[0].first_line, 14);
	assert_int_equal(face->cite.v[0].last_line, 15);
	assert_string_equal(face->cite.v[0].section_title, "实名");

	/* A permission with platform, OS and ROM limits. */
	for (size_t i = 0; i < rn->npermissions; i++)
		if (strcmp(registry_name(r, ID_PERMISSION, rn->permissions[i].permission),
		    "android.permission.CAMERA") == 0)
			cam = &rn->permissions[i];
	assert_non_null(cam);
	assert_true(cam->limits.present);
	assert_int_equal(cam->limits.platforms, 1u << PLATFORM_ANDROID);
	assert_string_equal(cam->limits.os_min[PLATFORM_ANDROID], "6.0");
	assert_string_equal(cam->limits.os_below[PLATFORM_ANDROID], "13");
	assert_null(cam->limits.os_min[PLATFORM_IOS]);
	assert_int_equal(cam->limits.nroms, 1);
	assert_string_equal(cam->limits.roms[0], "miui");
	assert_int_equal(r->permission_platform[cam->permission], PLATFORM_ANDROID);
	assert_int_equal(r->permission_platform[registry_find(r, ID_PERMISSION,
	    "NSCameraUsageDescription")], PLATFORM_IOS);

	/* A regional basis and a region limit. */
	d = pay->feature[registry_find(r, ID_FEATURE, "pay.risk_control")];
	assert_non_null(d);
	for (size_t i = 0; i < d->nfields; i++) {
		const char *n = registry_name(r, ID_FIELD, d->fields[i].field);

		if (strcmp(n, "device_id") == 0) {
			assert_int_equal(d->fields[i].basis, BASIS_CONTRACT);
			assert_int_equal(d->fields[i].nregional, 1);
			assert_int_equal(d->fields[i].regional[0].regions, (1u << REGION_EEA) |
			    (1u << REGION_UK) | (1u << REGION_CH));
			assert_int_equal(d->fields[i].regional[0].basis,
			    BASIS_LEGITIMATE_INTEREST);
			assert_false(d->fields[i].limits.present);
		} else {
			assert_string_equal(n, "ip_address");
			assert_true(d->fields[i].limits.present);
			assert_int_equal(d->fields[i].limits.regions, 1u << REGION_CN);
			assert_int_equal(d->fields[i].limits.platforms, 0);
		}
	}

	/* An optional feature; a group feature. */
	d = pay->feature[registry_find(r, ID_FEATURE, "pay.quick_payment")];
	assert_non_null(d);
	assert_true(d->optional);
	assert_int_equal(d->basis, BASIS_CONSENT);
	d = pay->feature[registry_find(r, ID_FEATURE, "pay.loan")];
	assert_non_null(d);
	assert_int_equal(d->members.n, 2);
	assert_int_equal(d->nfields, 0);

	/* Purposes: switchable with default off, default on with a regional default, a kind. */
	mk = pay->purpose[registry_find(r, ID_PURPOSE, "marketing")];
	pr = pay->purpose[registry_find(r, ID_PURPOSE, "personalized_recommendation")];
	assert_non_null(mk);
	assert_non_null(pr);
	assert_true(mk->switchable);
	assert_false(mk->default_on);
	assert_int_equal(mk->kind, PURPOSE_MARKETING);
	assert_true(pr->switchable);
	assert_true(pr->default_on);
	assert_int_equal(pr->kind, PURPOSE_PERSONALISATION);
	assert_int_equal(pr->region_default[REGION_EEA], 0);
	assert_int_equal(pr->region_default[REGION_CN], -1);
	assert_false(pay->purpose[registry_find(r, ID_PURPOSE, "payment_processing")]->switchable);
	assert_int_equal(pay->purpose[registry_find(r, ID_PURPOSE, "loan_servicing")]->kind,
	    PURPOSE_SERVICE);
	assert_null(pay->purpose[registry_find(r, ID_PURPOSE, "order_fulfilment")]);
	assert_int_equal(pay->npurposes, 6);

	/* Field attributes and never_collect. */
	assert_true(pay->field[registry_find(r, ID_FIELD, "id_number")].sensitive);
	assert_int_equal(pay->field[registry_find(r, ID_FIELD, "id_number")].cite.n, 1);
	assert_true(pay->field[registry_find(r, ID_FIELD, "face_image")].sensitive);
	assert_false(pay->field[registry_find(r, ID_FIELD, "phone_number")].sensitive);
	assert_true(pay->field[registry_find(r, ID_FIELD, "fingerprint_template")].never_collect);
	assert_false(pay->field[registry_find(r, ID_FIELD, "fingerprint_template")].declared);
	assert_int_equal(pay->field[registry_find(r, ID_FIELD,
	    "fingerprint_template")].never_cite.n, 1);
	assert_false(pay->field[registry_find(r, ID_FIELD, "shipping_address")].declared);

	/* Adopting an umbrella feature; not adopting another. */
	d = pay->feature[registry_find(r, ID_FEATURE, "xiaomi.push_service")];
	assert_non_null(d);
	assert_non_null(d->adopted);
	assert_int_equal(d->adopted->n, 1);
	assert_string_equal(d->adopted->v[0].section, "一、(一)2");
	assert_ptr_equal(d->owner, umb);
	assert_null(pay->feature[registry_find(r, ID_FEATURE, "xiaomi.find_device")]);
	assert_non_null(umb->feature[registry_find(r, ID_FEATURE, "xiaomi.find_device")]);
	assert_null(shop->feature[registry_find(r, ID_FEATURE, "xiaomi.push_service")]);

	/* Minors: refusing (pay), guardian and purposes refused (shop). */
	assert_false(pay->minors.refuse[AGE_ADULT]);
	assert_true(pay->minors.refuse[AGE_MINOR]);
	assert_true(pay->minors.refuse[AGE_CHILD]);
	assert_false(shop->minors.refuse[AGE_CHILD]);
	assert_true(shop->minors.guardian[AGE_CHILD]);
	assert_false(shop->minors.guardian[AGE_MINOR]);
	assert_true(shop->minors.purposes_refused_band[AGE_CHILD]);
	assert_int_equal(shop->minors.purposes_refused.n, 1);

	/* Exceptions. */
	assert_true(pay->exception[registry_find(r, ID_EXCEPTION, "ce_legal_obligation")]);
	assert_false(pay->exception[registry_find(r, ID_EXCEPTION, "ce_contract")]);
	assert_true(shop->exception[registry_find(r, ID_EXCEPTION, "ce_contract")]);

	/* A version dropped a feature; features of the older version stay there. */
	assert_non_null(shop_old->feature[registry_find(r, ID_FEATURE, "shop.legacy_chat")]);
	assert_null(shop->feature[registry_find(r, ID_FEATURE, "shop.legacy_chat")]);

	/* Reference counting. */
	assert_ptr_equal(policy_ref(s), s);
	assert_int_equal(s->refs, 2);
	policy_unref(s);
	assert_int_equal(s->refs, 1);
	policy_unref(s);
	policy_unref(NULL);
}

/* The harness's copy of the fixture, before any mutation, loads too. */
static void
test_valid_copy_loads(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;
	struct policy_set *s = policy_load(f->registry, f->policies, &errs);

	if (s == NULL)
		dump_errors(&errs);
	assert_non_null(s);
	policy_unref(s);
	policy_errors_free(&errs);
}

/*
 * An override directory before the packaged one: its table replaces the packaged table of the
 * same name (here a broken one, which would fail the load), and a missing override is fine.
 */
static void
test_override_directory_wins_by_name(void **state)
{
	struct fx *f = *state;
	char over[256], missing[256], from[PATH_MAX], to[PATH_MAX];
	const char *dirs[2] = { over, f->policies };
	struct policy_errors errs;
	struct policy_set *s;

	snprintf(over, sizeof over, "%s/override", f->dir);
	snprintf(missing, sizeof missing, "%s/none", f->dir);
	assert_int_equal(mkdir(over, 0700), 0);
	fx_path(f, PAY, from, sizeof from);
	snprintf(to, sizeof to, "%s/%s", over, PAY);
	copy_file(from, to);
	write_raw(f, PAY, "{ broken");
	s = policy_load_dirs(f->registry, dirs, 2, &errs);
	if (s == NULL)
		dump_errors(&errs);
	assert_non_null(s);
	policy_unref(s);
	policy_errors_free(&errs);
	/* No override directory: the packaged (broken) table is read. */
	dirs[0] = missing;
	assert_null(policy_load_dirs(f->registry, dirs, 2, &errs));
	assert_non_null(strstr(errs.lines[0], f->policies));
	policy_errors_free(&errs);
	/* A broken override is reported as such. */
	dirs[0] = over;
	copy_file(FIXTURE_REGISTRY, to);
	assert_null(policy_load_dirs(f->registry, dirs, 2, &errs));
	assert_non_null(strstr(errs.lines[0], over));
	policy_errors_free(&errs);
}

/* A json round trip of every table (as the mutations do) keeps it valid. */
static void
test_valid_rewritten_loads(void **state)
{
	struct fx *f = *state;
	const char *files[] = { PAY, SHOP, SHOP_OLD, UMBRELLA, REGISTRY };
	struct policy_errors errs;
	struct policy_set *s;

	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		doc_write(f, files[i], doc_read(f, files[i]));
	s = policy_load(f->registry, f->policies, &errs);
	if (s == NULL)
		dump_errors(&errs);
	assert_non_null(s);
	policy_unref(s);
	policy_errors_free(&errs);
}

/* ---- broken tables ---- */

static void
test_invalid_json(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	write_raw(f, PAY, "{\"format\": 1, \"product\": \"pay\",\n");
	load_fails(f, &errs);
	EXPECT_PREFIX(PAY, "", "not valid JSON: ");
	policy_errors_free(&errs);
}

static void
test_duplicate_key_is_invalid_json(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	write_raw(f, UMBRELLA, "{\"format\": 1, \"format\": 1}\n");
	load_fails(f, &errs);
	EXPECT_PREFIX(UMBRELLA, "", "not valid JSON: ");
	policy_errors_free(&errs);
}

static void
test_table_not_an_object(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	write_raw(f, PAY, "[1, 2]\n");
	load_fails(f, &errs);
	EXPECT(PAY, "", "a table must be a JSON object");
	policy_errors_free(&errs);
}

static void
test_wrong_type_feature_kind(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/kind", json_integer(5));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment", "\"kind\" must be a string");
	policy_errors_free(&errs);
}

static void
test_wrong_type_purposes_list(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/purposes", json_string("payment_processing"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment", "\"purposes\" must be an array");
	policy_errors_free(&errs);
}

static void
test_unknown_right(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "rights/forgetting", json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".rights.forgetting", "unknown right forgetting");
	policy_errors_free(&errs);
}

static void
test_right_needs_a_citation(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "rights/deletion", json_object());
	load_fails(f, &errs);
	EXPECT(PAY, ".rights.deletion", "missing key \"cite\"");
	policy_errors_free(&errs);
}

static void
test_days_only_for_the_response(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "rights/deletion", json_pack("{s:o,s:i}", "cite", pay_cite(), "days",
	    30));
	mutate_set(f, PAY, "rights/response/days", json_integer(0));
	load_fails(f, &errs);
	EXPECT(PAY, ".rights.deletion",
	    "\"days\" is the response's, a whole number from 1 to 365");
	EXPECT(PAY, ".rights.response",
	    "\"days\" is the response's, a whole number from 1 to 365");
	policy_errors_free(&errs);
}

static void
test_wrong_type_format(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, SHOP, "format", json_string("1"));
	load_fails(f, &errs);
	EXPECT(SHOP, "", "\"format\" must be 1");
	policy_errors_free(&errs);
}

static void
test_wrong_type_switchable(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "purposes/marketing/switchable", json_string("yes"));
	load_fails(f, &errs);
	EXPECT(PAY, ".purposes.marketing", "\"switchable\" must be true or false");
	policy_errors_free(&errs);
}

static void
test_unknown_key_in_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/colour", json_string("red"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment", "unknown key \"colour\"");
	policy_errors_free(&errs);
}

static void
test_unknown_key_at_top(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, SHOP, "colour", json_string("red"));
	load_fails(f, &errs);
	EXPECT(SHOP, "", "unknown key \"colour\"");
	policy_errors_free(&errs);
}

static void
test_unknown_key_in_citation(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite/0/page", json_integer(3));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite[0]", "unknown key \"page\"");
	policy_errors_free(&errs);
}

static void
test_unknown_key_in_limits(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/permissions/"
	    "android.permission.CAMERA/limits/os_max", json_pack("{s:s}", "android", "14"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account.permissions.android.permission.CAMERA"
	    ".limits", "unknown key \"os_max\"");
	policy_errors_free(&errs);
}

static void
test_unknown_product(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "product", json_string("nosuch"));
	load_fails(f, &errs);
	EXPECT(PAY, "", "unknown product \"nosuch\"");
	policy_errors_free(&errs);
}

static void
test_unknown_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.nosuch", json_pack("{s:s,s:s,s:[s],s:o}", "kind",
	    "core", "basis", "contract", "purposes", "payment_processing", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.nosuch", "unknown feature \"pay.nosuch\"");
	policy_errors_free(&errs);
}

static void
test_unknown_field_in_fields(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "fields/nosuch_field", json_pack("{s:b}", "sensitive", 0));
	load_fails(f, &errs);
	EXPECT(PAY, ".fields.nosuch_field", "unknown field \"nosuch_field\"");
	policy_errors_free(&errs);
}

static void
test_unknown_field_in_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/fields/nosuch_field",
	    json_pack("{s:s,s:o}", "need", "required", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.fields.nosuch_field", "unknown field \"nosuch_field\"");
	policy_errors_free(&errs);
}

static void
test_unknown_field_in_never_collect(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "never_collect/0/field", json_string("nosuch_field"));
	load_fails(f, &errs);
	EXPECT(PAY, ".never_collect[0]", "unknown field \"nosuch_field\"");
	policy_errors_free(&errs);
}

static void
test_unknown_permission(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/permissions/android.permission.NOSUCH",
	    json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account.permissions.android.permission.NOSUCH",
	    "unknown permission \"android.permission.NOSUCH\"");
	policy_errors_free(&errs);
}

static void
test_unknown_purpose_in_purposes(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "purposes/nosuch_purpose", json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".purposes.nosuch_purpose", "unknown purpose \"nosuch_purpose\"");
	policy_errors_free(&errs);
}

static void
test_unknown_purpose_in_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/purposes/2", json_string("nosuch_purpose"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.purposes[2]", "unknown purpose \"nosuch_purpose\"");
	policy_errors_free(&errs);
}

static void
test_unknown_exception(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "exceptions/ce_nosuch", json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".exceptions.ce_nosuch", "unknown exception \"ce_nosuch\"");
	policy_errors_free(&errs);
}

static void
test_unknown_adopted_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "adopts/xiaomi.nosuch", json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".adopts.xiaomi.nosuch", "unknown feature \"xiaomi.nosuch\"");
	policy_errors_free(&errs);
}

static void
test_unknown_platform_in_limits(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/fields/idfv/limits/platforms/0",
	    json_string("symbian"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.fields.idfv.limits.platforms[0]",
	    "unknown platform symbian");
	policy_errors_free(&errs);
}

static void
test_feature_of_another_product(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;
	json_t *pay = doc_read(f, PAY);
	json_t *orders = json_deep_copy(doc_at(pay, "features/pay.payment"));

	json_decref(pay);
	mutate_set(f, PAY, "features/shop.orders", orders);
	load_fails(f, &errs);
	EXPECT(PAY, ".features.shop.orders", "feature shop.orders belongs to another product");
	policy_errors_free(&errs);
}

static void
test_duplicate_purpose_in_list(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/purposes/2", json_string("payment_processing"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.purposes[2]", "duplicate purpose \"payment_processing\"");
	policy_errors_free(&errs);
}

static void
test_duplicate_member_in_list(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.loan/members/2", json_string("pay.loan_apply"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.loan.members[2]", "duplicate feature \"pay.loan_apply\"");
	policy_errors_free(&errs);
}

static void
test_field_missing_from_fields(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "fields/idfv");
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.fields.idfv",
	    "field idfv is missing from the table's \"fields\"");
	policy_errors_free(&errs);
}

static void
test_purpose_not_listed_by_table(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "purposes/risk_control");
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.risk_control",
	    "purpose risk_control is missing from the table's \"purposes\"");
	policy_errors_free(&errs);
}

static void
test_field_purpose_not_of_feature(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/fields/face_image/purposes/1",
	    json_string("marketing"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account",
	    "field face_image serves purpose marketing, which the feature does not list");
	policy_errors_free(&errs);
}

static void
test_member_not_in_table(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "features/pay.loan_repay");
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.loan", "member pay.loan_repay is not a feature of this table");
	policy_errors_free(&errs);
}

static void
test_member_of_another_product(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.loan/members/2", json_string("shop.orders"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.loan", "member shop.orders is not a feature of this table");
	policy_errors_free(&errs);
}

static void
test_group_feature_with_fields(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.loan/fields", json_pack("{s:{s:s,s:o}}", "income",
	    "need", "required", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.loan",
	    "a group feature (with \"members\") declares no fields itself");
	policy_errors_free(&errs);
}

static void
test_bad_version_date(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "version", json_string("2024-13-01"));
	load_fails(f, &errs);
	EXPECT(PAY, "", "\"version\" must be a date YYYY-MM-DD, not \"2024-13-01\"");
	policy_errors_free(&errs);
}

static void
test_bad_version_short_date(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "version", json_string("2024-4-25"));
	load_fails(f, &errs);
	EXPECT(PAY, "", "\"version\" must be a date YYYY-MM-DD, not \"2024-4-25\"");
	policy_errors_free(&errs);
}

static void
test_bad_effective_date(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "effective", json_string("25.04.2024"));
	load_fails(f, &errs);
	EXPECT(PAY, "", "\"effective\" must be a date YYYY-MM-DD");
	policy_errors_free(&errs);
}

static void
test_file_name_not_product_at_version(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;
	char from[PATH_MAX], to[PATH_MAX];

	fx_path(f, PAY, from, sizeof from);
	fx_path(f, "pay-2024-04-25.json", to, sizeof to);
	assert_int_equal(rename(from, to), 0);
	load_fails(f, &errs);
	EXPECT("pay-2024-04-25.json", "",
	    "the file of pay version 2024-04-25 must be named pay@2024-04-25.json");
	policy_errors_free(&errs);
}

static void
test_version_not_matching_file_name(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, SHOP_OLD, "version", json_string("2021-07-23"));
	load_fails(f, &errs);
	EXPECT(SHOP_OLD, "", "the file of shop version 2021-07-23 must be named "
	    "shop@2021-07-23.json");
	policy_errors_free(&errs);
}

/*
 * A second table for the same product and version. Its file can never be named
 * product@version.json (that name is taken), so the file-name rule refuses it before the
 * duplicate check in link_tables can run; either message refuses the set.
 */
static void
test_duplicate_product_version(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;
	char from[PATH_MAX], to[PATH_MAX], dup[PATH_MAX + 64];
	bool found = false;

	fx_path(f, SHOP, from, sizeof from);
	fx_path(f, "shop@2025-05-20.copy.json", to, sizeof to);
	copy_file(from, to);
	load_fails(f, &errs);
	snprintf(dup, sizeof dup, "%s: $: shop version 2025-05-20 is also in ", to);
	for (size_t i = 0; i < errs.n; i++)
		found |= strncmp(errs.lines[i], dup, strlen(dup)) == 0;
	if (!found)
		EXPECT("shop@2025-05-20.copy.json", "", "the file of shop version 2025-05-20 "
		    "must be named shop@2025-05-20.json");
	policy_errors_free(&errs);
}

static void
test_citation_names_no_section(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite/0/section", json_string("九、"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite[0]", "seed 000 has no section \"九、\"");
	policy_errors_free(&errs);
}

/* A section of another seed's table is no section of this seed. */
static void
test_citation_section_of_another_seed(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "purposes/marketing/cite/0/section", json_string("2021-HK 2"));
	load_fails(f, &errs);
	EXPECT(PAY, ".purposes.marketing.cite[0]", "seed 000 has no section \"2021-HK 2\"");
	policy_errors_free(&errs);
}

static void
test_citation_lines_outside_section(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite/0/lines", json_pack("[i,i]", 19, 22));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite[0]",
	    "lines 19-22 fall outside section \"一、(一)2\" (21-40)");
	policy_errors_free(&errs);
}

static void
test_citation_lines_past_section_end(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, SHOP, "features/shop.orders/fields/email/cite/0/lines",
	    json_pack("[i,i]", 40, 41));
	load_fails(f, &errs);
	EXPECT(SHOP, ".features.shop.orders.fields.email.cite[0]",
	    "lines 40-41 fall outside section \"2025-TC §3.1\" (20-40)");
	policy_errors_free(&errs);
}

static void
test_citation_lines_not_a_range(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite/0/lines", json_pack("[i,i]", 25, 21));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite[0]", "\"lines\" [25, 21] is not a range of lines");
	policy_errors_free(&errs);
}

static void
test_citation_unknown_seed(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite/0/seed", json_string("999"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite[0]", "no table encodes seed \"999\"");
	policy_errors_free(&errs);
}

static void
test_declaration_without_citation(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/cite", json_array());
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment.cite", "a declaration needs at least one citation");
	policy_errors_free(&errs);
}

/* Registry ids that no table declares, one kind per test. */
static void
expect_undeclared(struct fx *f, const char *kind_key, const char *id, json_t *entry,
    const char *kind_name)
{
	struct policy_errors errs;
	char path[256];

	snprintf(path, sizeof path, "%s/%s", kind_key, id);
	mutate_set(f, REGISTRY, path, entry);
	load_fails(f, &errs);
	EXPECT("registry", "", "%s %s is declared by no table", kind_name, id);
	policy_errors_free(&errs);
}

static void
test_registry_field_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "fields", "unused_field", json_pack("{s:s}", "name_zh", "x"),
	    "field");
}

static void
test_registry_feature_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "features", "pay.unused", json_pack("{s:s}", "product", "pay"),
	    "feature");
}

static void
test_registry_permission_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "permissions", "android.permission.NFC",
	    json_pack("{s:s}", "platform", "android"), "permission");
}

static void
test_registry_purpose_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "purposes", "unused_purpose", json_pack("{s:s}", "name_zh", "x"),
	    "purpose");
}

static void
test_registry_exception_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "exceptions", "ce_vital_interests",
	    json_pack("{s:s}", "name_zh", "x"), "exception");
}

static void
test_registry_product_declared_by_no_table(void **state)
{
	expect_undeclared(*state, "products", "ghost", json_pack("{s:[],s:n}", "versions",
	    "inherits"), "product");
}

/* A field only never_collect names counts as declared (fingerprint_template in the fixture). */
static void
test_registry_field_declared_by_never_collect_only(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "never_collect/0");
	load_fails(f, &errs);
	EXPECT("registry", "", "field fingerprint_template is declared by no table");
	policy_errors_free(&errs);
}

static void
test_registry_version_without_table(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, REGISTRY, "products/pay/versions/1", json_string("2025-01-01"));
	load_fails(f, &errs);
	EXPECT("registry", "", "no table for pay version 2025-01-01");
	policy_errors_free(&errs);
}

static void
test_registry_not_json(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	write_raw(f, REGISTRY, "{\"products\": ");
	load_fails(f, &errs);
	EXPECT_PREFIX(REGISTRY, "", "cannot read the registry: ");
	policy_errors_free(&errs);
}

static void
test_registry_kind_not_an_object(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, REGISTRY, "exceptions", json_array());
	load_fails(f, &errs);
	EXPECT(REGISTRY, "", "\"exceptions\" must be an object of ids");
	policy_errors_free(&errs);
}

static void
test_adopts_feature_umbrella_lacks(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, UMBRELLA, "features/xiaomi.push_service");
	load_fails(f, &errs);
	EXPECT(PAY, ".adopts.xiaomi.push_service",
	    "the umbrella declares no feature xiaomi.push_service to adopt");
	policy_errors_free(&errs);
}

static void
test_adopts_feature_of_a_product(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "adopts/shop.orders", json_pack("{s:o}", "cite", pay_cite()));
	load_fails(f, &errs);
	EXPECT(PAY, ".adopts.shop.orders", "the umbrella declares no feature shop.orders to adopt");
	policy_errors_free(&errs);
}

static void
test_inherits_unknown_umbrella(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, SHOP, "inherits", json_string("nosuch"));
	load_fails(f, &errs);
	EXPECT(SHOP, "", "\"inherits\": no umbrella table \"nosuch\"");
	policy_errors_free(&errs);
}

static void
test_sensitive_field_without_why(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "fields/face_image/sensitive_why");
	load_fails(f, &errs);
	EXPECT(PAY, ".fields.face_image", "a sensitive field needs \"cite\" or \"sensitive_why\"");
	policy_errors_free(&errs);
}

static void
test_sensitive_field_without_cite(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "fields/id_number/cite");
	load_fails(f, &errs);
	EXPECT(PAY, ".fields.id_number", "a sensitive field needs \"cite\" or \"sensitive_why\"");
	policy_errors_free(&errs);
}

static void
test_os_min_equal_os_below(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/permissions/"
	    "android.permission.CAMERA/limits/os_min/android", json_string("13.0"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account.permissions.android.permission.CAMERA"
	    ".limits", "os_min 13.0 is not below os_below 13 for android");
	policy_errors_free(&errs);
}

static void
test_os_min_above_os_below(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/permissions/"
	    "android.permission.CAMERA/limits/os_min/android", json_string("14"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account.permissions.android.permission.CAMERA"
	    ".limits", "os_min 14 is not below os_below 13 for android");
	policy_errors_free(&errs);
}

static void
test_os_version_malformed_in_limits(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.real_name_account/permissions/"
	    "android.permission.CAMERA/limits/os_below/android", json_string("1..3"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.real_name_account.permissions.android.permission.CAMERA"
	    ".limits.os_below.android", "an OS version must be a string such as \"13\" or \"10.3\"");
	policy_errors_free(&errs);
}

static void
test_switchable_purpose_without_default(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_delete(f, PAY, "purposes/marketing/default");
	load_fails(f, &errs);
	EXPECT(PAY, ".purposes.marketing", "missing key \"default\"");
	policy_errors_free(&errs);
}

static void
test_unknown_basis(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/basis", json_string("separate_consent"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment", "\"basis\": unknown basis \"separate_consent\" "
	    "(contract, legal_obligation, consent or legitimate_interest)");
	policy_errors_free(&errs);
}

static void
test_adult_refused(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "minors/refuse/2", json_string("adult"));
	load_fails(f, &errs);
	EXPECT(PAY, ".minors", "adults are neither refused nor in need of a guardian");
	policy_errors_free(&errs);
}

static void
test_empty_policy_directory(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;
	const char *files[] = { PAY, SHOP, SHOP_OLD, UMBRELLA };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		fx_path(f, files[i], path, sizeof path);
		assert_int_equal(unlink(path), 0);
	}
	load_fails(f, &errs);
	EXPECT(f->policies, "", "no policy tables (*.json) in this directory");
	policy_errors_free(&errs);
}

/* Every problem is reported, not only the first, each in its own file. */
static void
test_errors_from_several_files(void **state)
{
	struct fx *f = *state;
	struct policy_errors errs;

	mutate_set(f, PAY, "features/pay.payment/colour", json_string("red"));
	mutate_set(f, SHOP, "features/shop.orders/colour", json_string("blue"));
	load_fails(f, &errs);
	EXPECT(PAY, ".features.pay.payment", "unknown key \"colour\"");
	EXPECT(SHOP, ".features.shop.orders", "unknown key \"colour\"");
	policy_errors_free(&errs);
}

/* ---- OS versions, ids ---- */

static void
test_os_version_cmp(void **state)
{
	(void)state;
	assert_int_equal(os_version_cmp("8", "8.0"), 0);
	assert_int_equal(os_version_cmp("8.0", "8"), 0);
	assert_int_equal(os_version_cmp("8", "8.0.0"), 0);
	assert_true(os_version_cmp("8", "8.1") < 0);
	assert_true(os_version_cmp("8.0", "8.1") < 0);
	assert_true(os_version_cmp("8.1", "10.3") < 0);
	assert_true(os_version_cmp("8", "10.3") < 0);
	assert_true(os_version_cmp("10.3", "8.1") > 0);
	assert_true(os_version_cmp("9.9", "10") < 0);	/* numeric, not text */
	assert_true(os_version_cmp("10.10", "10.9") > 0);
	assert_true(os_version_cmp("13", "12.9") > 0);
	assert_true(os_version_cmp("6.0.1", "6.0") > 0);
	assert_int_equal(os_version_cmp("13", "13"), 0);
	assert_int_equal(os_version_cmp("08", "8"), 0);
}

static void
test_os_version_valid(void **state)
{
	(void)state;
	assert_true(os_version_valid("8"));
	assert_true(os_version_valid("8.0"));
	assert_true(os_version_valid("10.3"));
	assert_true(os_version_valid("1.2.3"));
	assert_false(os_version_valid(""));
	assert_false(os_version_valid(NULL));
	assert_false(os_version_valid("1..2"));
	assert_false(os_version_valid(".1"));
	assert_false(os_version_valid("1."));
	assert_false(os_version_valid("."));
	assert_false(os_version_valid("a"));
	assert_false(os_version_valid("13a"));
	assert_false(os_version_valid("1 2"));
	assert_false(os_version_valid("-1"));
}

static void
test_registry_find(void **state)
{
	struct policy_errors errs;
	struct policy_set *s = policy_load(FIXTURE_REGISTRY, FIXTURE_VALID, &errs);
	const struct registry *r;
	int i;

	(void)state;
	assert_non_null(s);
	r = &s->reg;
	for (int k = 0; k < ID_KIND_COUNT; k++)
		for (size_t j = 0; j < r->count[k]; j++)
			assert_int_equal(registry_find(r, k, r->ids[k][j]), (int)j);
	i = registry_find(r, ID_PRODUCT, "pay");
	assert_true(i >= 0);
	assert_string_equal(registry_name(r, ID_PRODUCT, i), "pay");
	i = registry_find(r, ID_FEATURE, "pay.loan");
	assert_true(i >= 0);
	assert_string_equal(registry_name(r, ID_FEATURE, i), "pay.loan");
	assert_int_equal(r->feature_product[i], registry_find(r, ID_PRODUCT, "pay"));
	assert_true(registry_find(r, ID_PERMISSION, "android.permission.CAMERA") >= 0);
	assert_true(registry_find(r, ID_PURPOSE, "marketing") >= 0);
	assert_true(registry_find(r, ID_EXCEPTION, "ce_contract") >= 0);
	assert_true(registry_find(r, ID_FIELD, "fingerprint_template") >= 0);
	assert_int_equal(registry_find(r, ID_PRODUCT, "nosuch"), -1);
	assert_int_equal(registry_find(r, ID_PRODUCT, NULL), -1);
	assert_int_equal(registry_find(r, ID_PRODUCT, ""), -1);
	assert_int_equal(registry_find(r, ID_PRODUCT, "Pay"), -1);	/* exact */
	assert_int_equal(registry_find(r, ID_FEATURE, "pay"), -1);	/* wrong kind */
	assert_int_equal(registry_find(r, ID_FIELD, "marketing"), -1);
	assert_string_equal(registry_name(r, ID_PRODUCT, -1), "?");
	assert_string_equal(registry_name(r, ID_PRODUCT, (int)r->count[ID_PRODUCT]), "?");
	policy_unref(s);
}

static void
test_names_and_parsers(void **state)
{
	(void)state;
	assert_string_equal(basis_name(BASIS_CONTRACT), "contract");
	assert_string_equal(basis_name(BASIS_LEGAL_OBLIGATION), "legal_obligation");
	assert_string_equal(basis_name(BASIS_CONSENT), "consent");
	assert_string_equal(basis_name(BASIS_SEPARATE_CONSENT), "separate_consent");
	assert_string_equal(basis_name(BASIS_LEGITIMATE_INTEREST), "legitimate_interest");
	assert_string_equal(basis_name(BASIS_EXCEPTION), "exception");
	assert_int_equal(platform_parse("android"), PLATFORM_ANDROID);
	assert_int_equal(platform_parse("ios"), PLATFORM_IOS);
	assert_int_equal(platform_parse("web"), PLATFORM_WEB);
	assert_int_equal(platform_parse("iOS"), -1);
	assert_int_equal(platform_parse(NULL), -1);
	assert_int_equal(region_parse("eea"), REGION_EEA);
	assert_int_equal(region_parse("cn"), REGION_CN);
	assert_int_equal(region_parse("mars"), -1);
	assert_int_equal(age_band_parse("child"), AGE_CHILD);
	assert_int_equal(age_band_parse("minor"), AGE_MINOR);
	assert_int_equal(age_band_parse("adult"), AGE_ADULT);
	assert_int_equal(age_band_parse("teen"), -1);
	assert_string_equal(age_band_name(AGE_CHILD), "child");
}

/* policy_errors_free on an empty list, and twice. */
static void
test_errors_free_empty(void **state)
{
	struct policy_errors errs = { NULL, 0 };

	(void)state;
	policy_errors_free(&errs);
	policy_errors_free(&errs);
	assert_null(errs.lines);
	assert_int_equal(errs.n, 0);
}

#define FX(t)	cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_fixture_loads),
		FX(test_valid_copy_loads),
		FX(test_override_directory_wins_by_name),
		FX(test_valid_rewritten_loads),
		FX(test_invalid_json),
		FX(test_duplicate_key_is_invalid_json),
		FX(test_table_not_an_object),
		FX(test_wrong_type_feature_kind),
		FX(test_wrong_type_purposes_list),
		FX(test_unknown_right),
		FX(test_right_needs_a_citation),
		FX(test_days_only_for_the_response),
		FX(test_wrong_type_format),
		FX(test_wrong_type_switchable),
		FX(test_unknown_key_in_feature),
		FX(test_unknown_key_at_top),
		FX(test_unknown_key_in_citation),
		FX(test_unknown_key_in_limits),
		FX(test_unknown_product),
		FX(test_unknown_feature),
		FX(test_unknown_field_in_fields),
		FX(test_unknown_field_in_feature),
		FX(test_unknown_field_in_never_collect),
		FX(test_unknown_permission),
		FX(test_unknown_purpose_in_purposes),
		FX(test_unknown_purpose_in_feature),
		FX(test_unknown_exception),
		FX(test_unknown_adopted_feature),
		FX(test_unknown_platform_in_limits),
		FX(test_feature_of_another_product),
		FX(test_duplicate_purpose_in_list),
		FX(test_duplicate_member_in_list),
		FX(test_field_missing_from_fields),
		FX(test_purpose_not_listed_by_table),
		FX(test_field_purpose_not_of_feature),
		FX(test_member_not_in_table),
		FX(test_member_of_another_product),
		FX(test_group_feature_with_fields),
		FX(test_bad_version_date),
		FX(test_bad_version_short_date),
		FX(test_bad_effective_date),
		FX(test_file_name_not_product_at_version),
		FX(test_version_not_matching_file_name),
		FX(test_duplicate_product_version),
		FX(test_citation_names_no_section),
		FX(test_citation_section_of_another_seed),
		FX(test_citation_lines_outside_section),
		FX(test_citation_lines_past_section_end),
		FX(test_citation_lines_not_a_range),
		FX(test_citation_unknown_seed),
		FX(test_declaration_without_citation),
		FX(test_registry_field_declared_by_no_table),
		FX(test_registry_feature_declared_by_no_table),
		FX(test_registry_permission_declared_by_no_table),
		FX(test_registry_purpose_declared_by_no_table),
		FX(test_registry_exception_declared_by_no_table),
		FX(test_registry_product_declared_by_no_table),
		FX(test_registry_field_declared_by_never_collect_only),
		FX(test_registry_version_without_table),
		FX(test_registry_not_json),
		FX(test_registry_kind_not_an_object),
		FX(test_adopts_feature_umbrella_lacks),
		FX(test_adopts_feature_of_a_product),
		FX(test_inherits_unknown_umbrella),
		FX(test_sensitive_field_without_why),
		FX(test_sensitive_field_without_cite),
		FX(test_os_min_equal_os_below),
		FX(test_os_min_above_os_below),
		FX(test_os_version_malformed_in_limits),
		FX(test_switchable_purpose_without_default),
		FX(test_unknown_basis),
		FX(test_adult_refused),
		FX(test_empty_policy_directory),
		FX(test_errors_from_several_files),
		cmocka_unit_test(test_os_version_cmp),
		cmocka_unit_test(test_os_version_valid),
		cmocka_unit_test(test_registry_find),
		cmocka_unit_test(test_names_and_parsers),
		cmocka_unit_test(test_errors_free_empty),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
