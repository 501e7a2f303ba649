/*
 * test_decide.c: the decision rules of CONTRACT §5 (daemon/decide.c), one rule at a time.
 *
 * The valid fixture (tests/unit/fixtures/) is loaded once. Each test builds a request and the
 * subject's consent state by hand (no ledger) and checks outcome, reasons[0], basis, prompt
 * scope, separate and retry_after. The fixture's products:
 *   xiaomi  the umbrella; pay adopts xiaomi.push_service, not xiaomi.find_device
 *   pay     refuses minors' and children's information; one version
 *   shop    2021-07-22 and 2025-05-20 (current); children need a guardian and are kept
 *           from marketing and personalisation
 * Where a test is written to the contract and the engine disagrees, its comment says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "decide.h"

#define FIXTURE_REGISTRY "tests/unit/fixtures/registry.json"
#define FIXTURE_VALID	"tests/unit/fixtures/valid"

#define PAY_V		"2024-04-25"
#define SHOP_V		"2025-05-20"
#define SHOP_OLD_V	"2021-07-22"

#define T0		((int64_t)1700000000)	/* when the fixture's consents were given */
#define NOW		(T0 + 30 * 86400)	/* when requests are judged, by default */
#define WINDOW		((int64_t)DECIDE_REFUSAL_WINDOW_SECONDS)

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define GRANT(scope, v)		{ scope, CONSENT_GRANTED, v, T0, false }
#define GRANT_G(scope, v)	{ scope, CONSENT_GRANTED, v, T0, true }	/* with a guardian */
#define WITHDRAW(scope, v)	{ scope, CONSENT_WITHDRAWN, v, T0, false }
#define REFUSE(scope, v, at)	{ scope, CONSENT_REFUSED, v, at, false }

#define SUBJECT(band, region, e)	{ band, region, e, nitems(e) }
#define ADULT(e)			SUBJECT(AGE_ADULT, REGION_NONE, e)

static struct policy_set	*set;
static struct decision		 dec;

static int	 group_setup(void **);
static int	 group_teardown(void **);
static int	 id(enum id_kind, const char *);
static struct decide_request request(const char *, const char *, const char *, const char *,
		    const char *);
static const struct decision *run(const struct decide_request *, const struct subject_state *);
static void	 print_decision(const struct decision *);
static void	 expect_decision(const struct decision *, enum outcome, const char *, const char *,
		    int);
static struct decide_request camera(const char *, const char *);

static const struct subject_state nobody = { AGE_ADULT, REGION_NONE, NULL, 0 };

static int
group_setup(void **state)
{
	struct policy_errors errs;

	set = policy_load(FIXTURE_REGISTRY, FIXTURE_VALID, &errs);
	if (set == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("%s\n", errs.lines[i]);
		print_error("cannot load the fixture (run the tests from the source tree's root)\n");
		policy_errors_free(&errs);
		return -1;
	}
	*state = set;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	policy_unref(set);
	set = NULL;
	return 0;
}

/* The registry index of a fixture id (NULL: -1); a typo fails the test. */
static int
id(enum id_kind kind, const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	if ((i = registry_find(&set->reg, kind, s)) < 0)
		fail_msg("the fixture registry has no \"%s\"", s);
	return i;
}

/* A request with no exception, platform, OS, ROM or region, judged at NOW. */
static struct decide_request
request(const char *product, const char *feature, const char *field, const char *permission,
    const char *purpose)
{
	struct decide_request r = {
		.product = id(ID_PRODUCT, product),
		.feature = id(ID_FEATURE, feature),
		.field = id(ID_FIELD, field),
		.permission = id(ID_PERMISSION, permission),
		.purpose = id(ID_PURPOSE, purpose),
		.exception = -1,
		.platform = PLATFORM_NONE,
		.region = REGION_NONE,
		.now = NOW,
		.explain = true,
	};

	return r;
}

static const struct decision *
run(const struct decide_request *r, const struct subject_state *s)
{
	memset(&dec, 0xa5, sizeof dec);		/* decide must fill every field it reports */
	decide(set, r, s, &dec);
	return &dec;
}

static void
print_decision(const struct decision *d)
{
	print_error("decision: %s", outcome_name(d->outcome));
	for (size_t i = 0; i < d->nreasons && i < DECIDE_REASONS_MAX; i++)
		print_error(" %s", d->reasons[i]);
	print_error(", basis %s, scope \"%s\"%s, retry_after %lld: %s\n", basis_name(d->basis),
	    d->outcome == OUTCOME_PROMPT ? d->prompt_scope : "",
	    d->outcome == OUTCOME_PROMPT && d->separate ? " (separate)" : "",
	    (long long)d->retry_after, d->detail);
	for (size_t i = 0; i < d->ntrace && i < DECIDE_TRACE_MAX; i++)
		print_error("  %-18s %-6s %s\n", d->trace[i].rule, d->trace[i].result,
		    d->trace[i].detail);
}

/* Outcome and first reason (NULL: none, as for an allow). */
static void
expect_decision(const struct decision *d, enum outcome o, const char *reason, const char *file,
    int line)
{
	if (d->outcome == o && (reason == NULL ? d->nreasons == 0 :
	    d->nreasons > 0 && strcmp(d->reasons[0], reason) == 0))
		return;
	print_decision(d);
	print_error("expected: %s %s\n", outcome_name(o), reason ? reason : "(no reason)");
	_fail(file, line);
}

#define EXPECT_DENY(d, reason) do {						\
	expect_decision(d, OUTCOME_DENY, reason, __FILE__, __LINE__);		\
	assert_int_equal((d)->retry_after, 0);					\
} while (0)
#define EXPECT_ALLOW(d, b) do {							\
	expect_decision(d, OUTCOME_ALLOW, NULL, __FILE__, __LINE__);		\
	assert_string_equal(basis_name((d)->basis), basis_name(b));		\
	assert_int_equal((d)->retry_after, 0);					\
} while (0)
#define EXPECT_PROMPT(d, reason, scope, sep) do {				\
	expect_decision(d, OUTCOME_PROMPT, reason, __FILE__, __LINE__);		\
	assert_string_equal((d)->prompt_scope, scope);				\
	assert_int_equal((d)->separate, sep);					\
	assert_int_equal((d)->retry_after, 0);					\
} while (0)

/* ---- rule 2: never_collect ---- */

static void
test_never_collect(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment_verification", "fingerprint_template",
	    NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "never_collect");
	assert_ptr_equal(dec.table, policy_table(set, id(ID_PRODUCT, "pay"), NULL));
	/* What it receives instead is declared and allowed. */
	r = request("pay", "pay.payment_verification", "biometric_verification_result", NULL, NULL);
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

/* The statement covers the whole product, not only the features it names. */
static void
test_never_collect_whole_product(void **state)
{
	struct decide_request r = request("pay", "pay.payment", "fingerprint_template", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &nobody), "never_collect");
	r = request("pay", "shop.orders", "fingerprint_template", NULL, NULL);
	EXPECT_DENY(run(&r, &nobody), "never_collect");
}

/* ---- rule 3: not_declared ---- */

static void
test_not_declared_feature_of_another_product(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "shop.orders", "shipping_address", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
}

static void
test_not_declared_feature_only_older_version_had(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_OLD_V),
		GRANT("feature:shop.legacy_chat", SHOP_OLD_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.legacy_chat", "chat_transcript", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
}

static void
test_not_declared_field_not_in_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "id_number", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
	/* A field another product declares, in a feature of this one. */
	r = request("pay", "pay.payment", "shipping_address", NULL, NULL);
	EXPECT_DENY(run(&r, &s), "not_declared");
}

static void
test_not_declared_permission_not_in_feature(void **state)
{
	struct decide_request r = request("pay", "pay.payment", NULL, "android.permission.CAMERA",
	    NULL);

	(void)state;
	r.platform = PLATFORM_ANDROID;
	r.os_version = "10";
	r.rom = "miui";
	EXPECT_DENY(run(&r, &nobody), "not_declared");
}

static void
test_not_declared_purpose_not_served(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V), GRANT("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.real_name_account", "real_name", NULL,
	    "marketing");

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
	/* A field tied to some of its feature's purposes serves only those. */
	r = request("pay", "pay.real_name_account", "face_image", NULL, "payment_processing");
	EXPECT_DENY(run(&r, &s), "not_declared");
	r = request("pay", "pay.real_name_account", "real_name", NULL, "payment_processing");
	EXPECT_ALLOW(run(&r, &s), BASIS_LEGAL_OBLIGATION);
}

static void
test_not_declared_umbrella_product(void **state)
{
	struct consent_entry e[] = { GRANT("policy", "2021-01-15") };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("xiaomi", "xiaomi.push_service", "device_token", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
	r = request("xiaomi", "xiaomi.find_device", NULL, "android.permission.ACCESS_FINE_LOCATION",
	    NULL);
	r.platform = PLATFORM_ANDROID;
	EXPECT_DENY(run(&r, &s), "not_declared");
}

static void
test_not_declared_umbrella_feature_not_adopted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:xiaomi.find_device", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "xiaomi.find_device", "precise_location", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
	/* shop adopts nothing. */
	r = request("shop", "xiaomi.push_service", "device_token", NULL, NULL);
	EXPECT_DENY(run(&r, &s), "not_declared");
}

static void
test_umbrella_feature_adopted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "xiaomi.push_service", "device_token", NULL,
	    NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	/* Adopting grants nothing the product's own policy needs: the policy still must be accepted. */
	EXPECT_PROMPT(run(&r, &nobody), "policy_not_accepted", "policy", false);
}

static void
test_not_declared_group_feature_declares_no_fields(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V), GRANT("feature:pay.loan", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan", "income", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "not_declared");
}

/* ---- rule 4: platform_excluded ---- */

/* android.permission.CAMERA in pay.real_name_account: android, 6.0 <= OS < 13, ROM miui. */
static struct decide_request
camera(const char *os, const char *rom)
{
	struct decide_request r = request("pay", "pay.real_name_account", NULL,
	    "android.permission.CAMERA", NULL);

	r.platform = PLATFORM_ANDROID;
	r.os_version = os;
	r.rom = rom;
	return r;
}

static struct consent_entry camera_granted[] = {
	GRANT("policy", PAY_V), GRANT("permission:android.permission.CAMERA", PAY_V)
};

static void
test_platform_within_limits(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	const char *inside[] = { "6", "6.0", "6.0.1", "8.1", "10", "12", "12.9.9" };

	(void)state;
	for (size_t i = 0; i < nitems(inside); i++) {
		struct decide_request r = camera(inside[i], "miui");

		EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	}
}

static void
test_platform_wrong_platform(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	/* idfv is limited to iOS. */
	struct decide_request r = request("pay", "pay.payment", "idfv", NULL, NULL);

	(void)state;
	r.platform = PLATFORM_ANDROID;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.platform = PLATFORM_WEB;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.platform = PLATFORM_IOS;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_platform_missing_platform(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	struct decide_request r = camera("10", "miui");

	(void)state;
	r.platform = PLATFORM_NONE;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	assert_non_null(strstr(dec.detail, "\"platform\""));
	r = request("pay", "pay.payment", "idfv", NULL, NULL);
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	assert_non_null(strstr(dec.detail, "\"platform\""));
}

static void
test_platform_os_below_min(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	const char *below[] = { "5", "5.1", "5.9.9", "0" };

	(void)state;
	for (size_t i = 0; i < nitems(below); i++) {
		struct decide_request r = camera(below[i], "miui");

		EXPECT_DENY(run(&r, &s), "platform_excluded");
	}
}

static void
test_platform_os_at_or_above_below(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	const char *above[] = { "13", "13.0", "13.0.1", "14", "100" };

	(void)state;
	for (size_t i = 0; i < nitems(above); i++) {
		struct decide_request r = camera(above[i], "miui");

		EXPECT_DENY(run(&r, &s), "platform_excluded");
	}
}

static void
test_platform_missing_os_version(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	struct decide_request r = camera(NULL, "miui");

	(void)state;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	assert_non_null(strstr(dec.detail, "\"os_version\""));
}

static void
test_platform_rom_mismatch(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	struct decide_request r = camera("10", "hyperos");

	(void)state;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.rom = "MIUI";		/* ROM names compare exactly */
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.rom = "miui ";
	EXPECT_DENY(run(&r, &s), "platform_excluded");
}

static void
test_platform_missing_rom(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	struct decide_request r = camera("10", NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	assert_non_null(strstr(dec.detail, "\"rom\""));
}

static void
test_platform_ios_permission_on_android(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("permission:NSCameraUsageDescription", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.real_name_account", NULL,
	    "NSCameraUsageDescription", NULL);

	(void)state;
	r.platform = PLATFORM_ANDROID;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.platform = PLATFORM_IOS;
	r.os_version = "17.2";
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	/* And an Android permission asked on iOS. */
	r = camera("10", "miui");
	r.platform = PLATFORM_IOS;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
}

/* ip_address in pay.risk_control is limited to region cn. */
static void
test_platform_region_limit(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct subject_state in_cn = SUBJECT(AGE_ADULT, REGION_CN, e);
	struct decide_request r = request("pay", "pay.risk_control", "ip_address", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	assert_non_null(strstr(dec.detail, "\"region\""));
	r.region = REGION_HK;
	EXPECT_DENY(run(&r, &s), "platform_excluded");
	r.region = REGION_CN;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	/* Without "region" in the request, the subject's region counts. */
	r.region = REGION_NONE;
	EXPECT_ALLOW(run(&r, &in_cn), BASIS_CONTRACT);
	r.region = REGION_EEA;
	EXPECT_DENY(run(&r, &in_cn), "platform_excluded");
}

/* Rules 2 to 4 judge before any consent: a subject with nothing gets the same denial. */
static void
test_platform_before_policy(void **state)
{
	struct decide_request r = camera("14", "miui");

	(void)state;
	EXPECT_DENY(run(&r, &nobody), "platform_excluded");
}

/* ---- rule 5: minors ---- */

static void
test_minor_refused_minor(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = SUBJECT(AGE_MINOR, REGION_NONE, e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_DENY(run(&r, &s), "minor_refused");
}

static void
test_minor_refused_child_even_with_guardian(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", PAY_V),
		GRANT_G("feature:pay.loan_apply", PAY_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "minor_refused");
	r = request("pay", "pay.real_name_account", "real_name", NULL, NULL);
	EXPECT_DENY(run(&r, &s), "minor_refused");
}

/* Rule 5 comes before rule 6: a minor who accepted nothing is refused, not prompted. */
static void
test_minor_refused_before_policy(void **state)
{
	struct subject_state s = { AGE_MINOR, REGION_NONE, NULL, 0 };
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "minor_refused");
}

static void
test_minor_adult_not_refused(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

/* shop keeps children from marketing (listed) whatever the guardian says. */
static void
test_purposes_refused_child_marketing(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V),
		GRANT_G("feature:shop.newsletter", SHOP_V), GRANT_G("purpose:marketing", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.newsletter", "email", NULL, "marketing");

	(void)state;
	EXPECT_DENY(run(&r, &s), "minor_refused");
	r.purpose = -1;
	EXPECT_DENY(run(&r, &s), "minor_refused");
}

/* ... and from personalisation (by the purpose's kind), likewise. */
static void
test_purposes_refused_child_personalisation(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V),
		GRANT_G("feature:shop.personalization", SHOP_V),
		GRANT_G("purpose:personalized_recommendation", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.personalization", "search_history", NULL,
	    "personalized_recommendation");

	(void)state;
	EXPECT_DENY(run(&r, &s), "minor_refused");
}

/* The same consents serve a minor (14 to 17): shop's rules are for children only. */
static void
test_purposes_refused_not_for_minor(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V),
		GRANT("feature:shop.newsletter", SHOP_V), GRANT("purpose:marketing", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_MINOR, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.newsletter", "email", NULL, "marketing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

static void
test_guardian_policy_accepted_by_child_alone(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.orders", "shipping_address", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "guardian_consent_missing", "policy", false);
}

static void
test_guardian_policy_accepted_with_guardian(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.orders", "shipping_address", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_guardian_feature_consent_without_guardian(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V),
		GRANT("feature:shop.reviews", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.reviews", "nickname", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "guardian_consent_missing", "feature:shop.reviews", false);
}

static void
test_guardian_feature_consent_with_guardian(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V),
		GRANT_G("feature:shop.reviews", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.reviews", "nickname", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

/*
 * CONTRACT §5 rule 5 (before rule 6): a child in a product that needs a guardian needs "a grant
 * carrying guardian ... on the policy and on each consent it relies on; without it
 * guardian_consent_missing". A child who accepted nothing has no such grant, so the answer is
 * guardian_consent_missing for scope policy, not policy_not_accepted (which would have the app
 * ask the child).
 */
static void
test_guardian_child_accepted_nothing(void **state)
{
	struct subject_state s = { AGE_CHILD, REGION_NONE, NULL, 0 };
	struct decide_request r = request("shop", "shop.orders", "shipping_address", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "guardian_consent_missing", "policy", false);
}

/* As above, for a consent the child relies on and nobody gave (rule 5 before rule 7). */
static void
test_guardian_child_feature_consent_absent(void **state)
{
	struct consent_entry e[] = { GRANT_G("policy", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_CHILD, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.reviews", "nickname", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "guardian_consent_missing", "feature:shop.reviews", false);
}

/* A minor (not a child) needs no guardian in shop. */
static void
test_guardian_not_for_minor(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V), GRANT("feature:shop.reviews", SHOP_V) };
	struct subject_state s = SUBJECT(AGE_MINOR, REGION_NONE, e);
	struct decide_request r = request("shop", "shop.reviews", "nickname", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

/* ---- rule 6: policy acceptance, re-consent ---- */

static void
test_policy_not_accepted(void **state)
{
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_PROMPT(run(&r, &nobody), "policy_not_accepted", "policy", false);
	/* Consents to other scopes do not stand for the policy. */
	{
		struct consent_entry e[] = { GRANT("feature:pay.loan_apply", PAY_V),
			GRANT("purpose:marketing", PAY_V) };
		struct subject_state s = ADULT(e);

		r = request("pay", "pay.loan_apply", "income", NULL, NULL);
		EXPECT_PROMPT(run(&r, &s), "policy_not_accepted", "policy", false);
	}
}

static void
test_policy_withdrawn(void **state)
{
	struct consent_entry e[] = { WITHDRAW("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_DENY(run(&r, &s), "consent_withdrawn");
}

static void
test_policy_refused_long_ago(void **state)
{
	struct consent_entry e[] = { REFUSE("policy", PAY_V, NOW - WINDOW) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "policy_not_accepted", "policy", false);
}

static void
test_reconsent_item_already_declared(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_OLD_V) };
	struct subject_state s = ADULT(e);
	/* shipping_address served order_fulfilment under 2021-07-22 too. */
	struct decide_request r = request("shop", "shop.orders", "shipping_address", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	r.purpose = id(ID_PURPOSE, "order_fulfilment");
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_reconsent_field_added(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_OLD_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.orders", "email", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "reconsent_required", "policy", false);
}

static void
test_reconsent_purpose_added(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_OLD_V) };
	struct subject_state s = ADULT(e);
	/* phone_number: order_fulfilment before, now also service_notices. */
	struct decide_request r = request("shop", "shop.orders", "phone_number", NULL,
	    "service_notices");

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "reconsent_required", "policy", false);
	r.purpose = -1;		/* judged against both: the strictest wins */
	EXPECT_PROMPT(run(&r, &s), "reconsent_required", "policy", false);
	r.purpose = id(ID_PURPOSE, "order_fulfilment");
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_reconsent_feature_added(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_OLD_V),
		GRANT("feature:shop.newsletter", SHOP_V), GRANT("purpose:marketing", SHOP_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.newsletter", "email", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "reconsent_required", "policy", false);
}

static void
test_reconsent_current_version_accepted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.orders", "email", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	r = request("shop", "shop.orders", "phone_number", NULL, NULL);
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

/* A feature consent given under the older version covers what it declared, not what it added. */
static void
test_reconsent_feature_consent(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V),
		GRANT("feature:shop.reviews", SHOP_OLD_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.reviews", "nickname", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	r = request("shop", "shop.reviews", "avatar", NULL, NULL);
	EXPECT_PROMPT(run(&r, &s), "reconsent_required", "feature:shop.reviews", false);
}

/* ---- rule 7: consent scopes ---- */

static void
test_consent_missing_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "feature:pay.loan_apply", false);
	assert_int_equal(dec.prompt_purpose, id(ID_PURPOSE, "loan_servicing"));
}

/* An optional, non-sensitive field of an optional feature follows the feature consent. */
static void
test_consent_optional_field_follows_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V) };
	struct consent_entry none[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e), without = ADULT(none);
	struct decide_request r = request("pay", "pay.quick_payment", "phone_number", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	EXPECT_PROMPT(run(&r, &without), "consent_missing", "feature:pay.quick_payment", false);
}

static void
test_separate_consent_missing(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "separate_consent_missing",
	    "field:pay.quick_payment/bank_card_number", true);
}

static void
test_separate_consent_granted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V),
		GRANT("field:pay.quick_payment/bank_card_number", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_SEPARATE_CONSENT);
}

/* A field consent is per feature: one given in another feature does not count. */
static void
test_separate_consent_other_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V),
		GRANT("field:pay.real_name_account/bank_card_number", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "separate_consent_missing",
	    "field:pay.quick_payment/bank_card_number", true);
}

/*
 * A sensitive field whose basis is consent, conditional in a core feature (face_image in
 * pay.real_name_account): the e2e scenarios (tianxing face_video) grant feature:<feature>
 * besides the field, and so does this test.
 */
static void
test_separate_consent_in_core_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.real_name_account", PAY_V) };
	struct consent_entry all[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.real_name_account", PAY_V),
		GRANT("field:pay.real_name_account/face_image", PAY_V) };
	struct subject_state s = ADULT(e), granted = ADULT(all);
	struct decide_request r = request("pay", "pay.real_name_account", "face_image", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "separate_consent_missing",
	    "field:pay.real_name_account/face_image", true);
	EXPECT_ALLOW(run(&r, &granted), BASIS_SEPARATE_CONSENT);
}

/* A sensitive field on a legal duty needs no separate consent: accepting the policy suffices. */
static void
test_sensitive_field_on_legal_duty(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.real_name_account", "id_number", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_LEGAL_OBLIGATION);
}

static void
test_permission_prompt(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = camera("10", "miui");

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "permission:android.permission.CAMERA",
	    false);
	assert_int_equal(dec.prompt_purpose, id(ID_PURPOSE, "real_name_verification"));
}

static void
test_permission_granted(void **state)
{
	struct subject_state s = ADULT(camera_granted);
	struct decide_request r = camera("10", "miui");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

static void
test_consent_withdrawn(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		WITHDRAW("feature:pay.loan_apply", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "consent_withdrawn");
}

static void
test_consent_withdrawn_permission(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		WITHDRAW("permission:android.permission.CAMERA", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = camera("10", "miui");

	(void)state;
	EXPECT_DENY(run(&r, &s), "consent_withdrawn");
}

/* Deny beats prompt among a request's scopes. */
static void
test_consent_withdrawn_field_beats_missing_feature(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		WITHDRAW("field:pay.quick_payment/bank_card_number", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "consent_withdrawn");
}

static void
test_refused_recently(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		REFUSE("feature:pay.loan_apply", PAY_V, T0) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	r.now = T0 + 3600;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, T0 + 172800);
	r.now = T0;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, T0 + 172800);
	r.now = T0 + 172799;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, T0 + 172800);
}

static void
test_refused_asked_again_after_48_hours(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		REFUSE("feature:pay.loan_apply", PAY_V, T0) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	r.now = T0 + 172800;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "feature:pay.loan_apply", false);
	r.now = T0 + 10 * 86400;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "feature:pay.loan_apply", false);
}

static void
test_refused_separate_consent(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V),
		REFUSE("field:pay.quick_payment/bank_card_number", PAY_V, T0) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    NULL);

	(void)state;
	r.now = T0 + 60;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, T0 + WINDOW);
	r.now = T0 + WINDOW;
	EXPECT_PROMPT(run(&r, &s), "separate_consent_missing",
	    "field:pay.quick_payment/bank_card_number", true);
}

static void
test_refused_permission(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		REFUSE("permission:android.permission.CAMERA", PAY_V, T0) };
	struct subject_state s = ADULT(e);
	struct decide_request r = camera("10", "miui");

	(void)state;
	r.now = T0 + 47 * 3600;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, T0 + 172800);
	r.now = T0 + 48 * 3600;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "permission:android.permission.CAMERA",
	    false);
}

/* ---- rule 8 and purposes ---- */

/* personalized_recommendation: switchable, on by default (off in the EEA). */
static void
test_default_on_purpose_allows(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e), in_cn = SUBJECT(AGE_ADULT, REGION_CN, e);
	struct decide_request r = request("pay", "pay.home_feed", "browsing_history", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	EXPECT_ALLOW(run(&r, &in_cn), BASIS_CONTRACT);
}

static void
test_opted_out_default_on_purpose(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		WITHDRAW("purpose:personalized_recommendation", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.home_feed", "browsing_history", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "opted_out");
	r.purpose = id(ID_PURPOSE, "personalized_recommendation");
	EXPECT_DENY(run(&r, &s), "opted_out");
}

/* marketing: switchable, off by default. */
static void
test_default_off_purpose_consent_missing(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.marketing_push", "phone_number", NULL,
	    NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "purpose:marketing", false);
	assert_int_equal(dec.prompt_purpose, id(ID_PURPOSE, "marketing"));
}

static void
test_default_off_purpose_granted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V), GRANT("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.marketing_push", "phone_number", NULL,
	    "marketing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

static void
test_opted_out_default_off_purpose(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V), WITHDRAW("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.marketing_push", "phone_number", NULL,
	    NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "opted_out");
}

/* A refused opt-in purpose is a refusal like any other. */
static void
test_refused_purpose(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V),
		REFUSE("purpose:marketing", PAY_V, NOW - 3600) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.marketing_push", "phone_number", NULL,
	    NULL);

	(void)state;
	expect_decision(run(&r, &s), OUTCOME_DENY, "refused_recently", __FILE__, __LINE__);
	assert_int_equal(dec.retry_after, NOW - 3600 + WINDOW);
}

static void
test_default_by_region(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct consent_entry on[] = { GRANT("policy", PAY_V),
		GRANT("purpose:personalized_recommendation", PAY_V) };
	struct subject_state in_eea = SUBJECT(AGE_ADULT, REGION_EEA, e);
	struct subject_state in_cn = SUBJECT(AGE_ADULT, REGION_CN, e);
	struct subject_state eea_on = SUBJECT(AGE_ADULT, REGION_EEA, on);
	struct decide_request r = request("pay", "pay.home_feed", "browsing_history", NULL, NULL);

	(void)state;
	/* Off in the EEA until granted. */
	EXPECT_PROMPT(run(&r, &in_eea), "consent_missing", "purpose:personalized_recommendation",
	    false);
	EXPECT_ALLOW(run(&r, &eea_on), BASIS_CONTRACT);
	/* The request's region wins over the subject's. */
	r.region = REGION_EEA;
	EXPECT_PROMPT(run(&r, &in_cn), "consent_missing", "purpose:personalized_recommendation",
	    false);
	r.region = REGION_CN;
	EXPECT_ALLOW(run(&r, &in_eea), BASIS_CONTRACT);
	/* A region without its own default takes the table's. */
	r.region = REGION_UK;
	EXPECT_ALLOW(run(&r, &in_eea), BASIS_CONTRACT);
}

/* Service notices are not marketing: a marketing opt-out never blocks them. */
static void
test_service_notices_not_blocked_by_marketing_opt_out(void **state)
{
	struct consent_entry e[] = { GRANT("policy", SHOP_V), WITHDRAW("purpose:marketing", SHOP_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("shop", "shop.orders", "phone_number", NULL,
	    "service_notices");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	r.purpose = -1;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

/* pay.payment serves payment_processing and marketing (switchable, off by default). */
static void
test_strictest_purpose_wins(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL, NULL);

	(void)state;
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "purpose:marketing", false);
	assert_int_equal(dec.prompt_purpose, id(ID_PURPOSE, "marketing"));
	r.purpose = id(ID_PURPOSE, "payment_processing");
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_strictest_purpose_opted_out(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V), WITHDRAW("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL, NULL);

	(void)state;
	EXPECT_DENY(run(&r, &s), "opted_out");
	r.purpose = id(ID_PURPOSE, "payment_processing");
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

static void
test_strictest_purpose_all_granted(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V), GRANT("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
}

/* ---- group features ---- */

static void
test_group_grant_covers_members(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V), GRANT("feature:pay.loan", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	r = request("pay", "pay.loan_repay", "repayment_record", NULL, NULL);
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

/* A member's own grant serves without the group's; another group's grant does not. */
static void
test_group_member_own_grant(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.loan_apply", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
	r = request("pay", "pay.loan_repay", "repayment_record", NULL, NULL);
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "feature:pay.loan_repay", false);
}

/* ---- exceptions ---- */

static void
test_exception_allows(void **state)
{
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_ALLOW(run(&r, &nobody), BASIS_EXCEPTION);
	assert_true(dec.exception_used);
}

/* An exception skips rules 5 to 8: minors, policy, consents withdrawn or refused. */
static void
test_exception_skips_rules_5_to_8(void **state)
{
	struct consent_entry e[] = { WITHDRAW("policy", PAY_V),
		WITHDRAW("feature:pay.loan_apply", PAY_V) };
	struct subject_state child = { AGE_CHILD, REGION_NONE, NULL, 0 };
	struct subject_state withdrawn = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_ALLOW(run(&r, &child), BASIS_EXCEPTION);
	EXPECT_ALLOW(run(&r, &withdrawn), BASIS_EXCEPTION);
	r = request("pay", "pay.quick_payment", "bank_card_number", NULL, NULL);
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_ALLOW(run(&r, &nobody), BASIS_EXCEPTION);
}

/* ... never rules 2 to 4. */
static void
test_exception_never_skips_rules_2_to_4(void **state)
{
	struct decide_request r = request("pay", "pay.payment_verification", "fingerprint_template",
	    NULL, NULL);

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_DENY(run(&r, &nobody), "never_collect");
	assert_false(dec.exception_used);
	r = request("pay", "xiaomi.find_device", "precise_location", NULL, NULL);
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_DENY(run(&r, &nobody), "not_declared");
	r = camera("13", "miui");
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_DENY(run(&r, &nobody), "platform_excluded");
	r = request("xiaomi", "xiaomi.push_service", "device_token", NULL, NULL);
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_DENY(run(&r, &nobody), "not_declared");
}

/* An exception the product's policy does not list answers as without it. */
static void
test_exception_not_listed(void **state)
{
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_contract");
	EXPECT_PROMPT(run(&r, &nobody), "policy_not_accepted", "policy", false);
	assert_false(dec.exception_used);
}

/* An exception never allows a purpose the person may switch off. */
static void
test_exception_never_switchable_purpose(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V) };
	struct consent_entry off[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.marketing_push", PAY_V), WITHDRAW("purpose:marketing", PAY_V) };
	struct subject_state s = ADULT(e), opted_out = ADULT(off);
	struct decide_request r = request("pay", "pay.marketing_push", "phone_number", NULL,
	    "marketing");

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_PROMPT(run(&r, &s), "consent_missing", "purpose:marketing", false);
	assert_false(dec.exception_used);
	EXPECT_DENY(run(&r, &opted_out), "opted_out");
	assert_false(dec.exception_used);
	/* A default-on purpose is switchable too. */
	{
		struct consent_entry w[] = { GRANT("policy", PAY_V),
			WITHDRAW("purpose:personalized_recommendation", PAY_V) };
		struct subject_state sw = ADULT(w);

		r = request("pay", "pay.home_feed", "browsing_history", NULL, NULL);
		r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
		EXPECT_DENY(run(&r, &sw), "opted_out");
	}
}

/* Judged over every purpose: the switchable one answers as without the exception. */
static void
test_exception_strictest_purpose(void **state)
{
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL, NULL);

	(void)state;
	r.exception = id(ID_EXCEPTION, "ce_legal_obligation");
	EXPECT_PROMPT(run(&r, &nobody), "policy_not_accepted", "policy", false);
	assert_false(dec.exception_used);
	r.purpose = id(ID_PURPOSE, "payment_processing");
	EXPECT_ALLOW(run(&r, &nobody), BASIS_EXCEPTION);
	assert_true(dec.exception_used);
}

/* ---- rule 9: allow, with each basis ---- */

static void
test_allow_contract(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	assert_false(dec.exception_used);
	assert_int_equal(dec.nreasons, 0);
}

static void
test_allow_legal_obligation(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.real_name_account", "real_name", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_LEGAL_OBLIGATION);
}

static void
test_allow_consent(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.loan_apply", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL,
	    "loan_servicing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONSENT);
}

static void
test_allow_separate_consent(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		GRANT("feature:pay.quick_payment", PAY_V),
		GRANT("field:pay.quick_payment/bank_card_number", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.quick_payment", "bank_card_number", NULL,
	    "payment_processing");

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_SEPARATE_CONSENT);
}

/* device_id in pay.risk_control: legitimate interest in the EEA, the UK and Switzerland. */
static void
test_allow_legitimate_interest_in_region(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	const int regions[] = { REGION_EEA, REGION_UK, REGION_CH };
	struct decide_request r = request("pay", "pay.risk_control", "device_id", NULL, NULL);

	(void)state;
	for (size_t i = 0; i < nitems(regions); i++) {
		struct subject_state s = SUBJECT(AGE_ADULT, regions[i], e);

		EXPECT_ALLOW(run(&r, &s), BASIS_LEGITIMATE_INTEREST);
	}
}

static void
test_allow_default_basis_outside_region(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e), in_cn = SUBJECT(AGE_ADULT, REGION_CN, e);
	struct subject_state in_eea = SUBJECT(AGE_ADULT, REGION_EEA, e);
	struct decide_request r = request("pay", "pay.risk_control", "device_id", NULL, NULL);

	(void)state;
	EXPECT_ALLOW(run(&r, &in_cn), BASIS_CONTRACT);
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);		/* no region known */
	r.region = REGION_HK;
	EXPECT_ALLOW(run(&r, &in_eea), BASIS_CONTRACT);	/* the request's region wins */
	r.region = REGION_EEA;
	EXPECT_ALLOW(run(&r, &in_cn), BASIS_LEGITIMATE_INTEREST);
}

/* ---- the trace and helpers ---- */

/* check skips the trace; the decision must not depend on whether it was kept. */
static void
test_no_trace_same_decision(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.loan_apply", "income", NULL, NULL);
	struct decision traced;

	(void)state;
	traced = *run(&r, &s);
	r.explain = false;
	run(&r, &s);
	assert_int_equal(dec.ntrace, 0);
	assert_true(traced.ntrace > 0);
	assert_int_equal(dec.outcome, traced.outcome);
	assert_int_equal(dec.nreasons, traced.nreasons);
	assert_string_equal(dec.reasons[0], traced.reasons[0]);
	assert_string_equal(dec.detail, traced.detail);
	assert_string_equal(dec.prompt_scope, traced.prompt_scope);
	assert_int_equal(dec.basis, traced.basis);
}

static void
test_trace_lists_rules_in_order(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V) };
	struct subject_state s = ADULT(e);
	struct decide_request r = request("pay", "pay.payment", "phone_number", NULL,
	    "payment_processing");
	const char *order[] = { "never_collect", "not_declared", "platform_excluded" };

	(void)state;
	EXPECT_ALLOW(run(&r, &s), BASIS_CONTRACT);
	assert_true(dec.ntrace >= nitems(order) + 1);
	for (size_t i = 0; i < nitems(order); i++) {
		assert_string_equal(dec.trace[i].rule, order[i]);
		assert_string_equal(dec.trace[i].result, "pass");
	}
	assert_string_equal(dec.trace[dec.ntrace - 1].rule, "allow");
	assert_string_equal(dec.trace[dec.ntrace - 1].result, "allow");
	assert_non_null(dec.trace[dec.ntrace - 1].cite);
	assert_true(dec.trace[dec.ntrace - 1].cite->n > 0);
}

static void
test_subject_scope(void **state)
{
	struct consent_entry e[] = { GRANT("policy", PAY_V),
		WITHDRAW("feature:pay.loan_apply", PAY_V) };
	struct subject_state s = ADULT(e);

	(void)state;
	assert_ptr_equal(subject_scope(&s, "policy"), &e[0]);
	assert_ptr_equal(subject_scope(&s, "feature:pay.loan_apply"), &e[1]);
	assert_null(subject_scope(&s, "feature:pay.loan"));
	assert_null(subject_scope(&nobody, "policy"));
	assert_string_equal(outcome_name(OUTCOME_ALLOW), "allow");
	assert_string_equal(outcome_name(OUTCOME_PROMPT), "prompt");
	assert_string_equal(outcome_name(OUTCOME_DENY), "deny");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_collect),
		cmocka_unit_test(test_never_collect_whole_product),
		cmocka_unit_test(test_not_declared_feature_of_another_product),
		cmocka_unit_test(test_not_declared_feature_only_older_version_had),
		cmocka_unit_test(test_not_declared_field_not_in_feature),
		cmocka_unit_test(test_not_declared_permission_not_in_feature),
		cmocka_unit_test(test_not_declared_purpose_not_served),
		cmocka_unit_test(test_not_declared_umbrella_product),
		cmocka_unit_test(test_not_declared_umbrella_feature_not_adopted),
		cmocka_unit_test(test_umbrella_feature_adopted),
		cmocka_unit_test(test_not_declared_group_feature_declares_no_fields),
		cmocka_unit_test(test_platform_within_limits),
		cmocka_unit_test(test_platform_wrong_platform),
		cmocka_unit_test(test_platform_missing_platform),
		cmocka_unit_test(test_platform_os_below_min),
		cmocka_unit_test(test_platform_os_at_or_above_below),
		cmocka_unit_test(test_platform_missing_os_version),
		cmocka_unit_test(test_platform_rom_mismatch),
		cmocka_unit_test(test_platform_missing_rom),
		cmocka_unit_test(test_platform_ios_permission_on_android),
		cmocka_unit_test(test_platform_region_limit),
		cmocka_unit_test(test_platform_before_policy),
		cmocka_unit_test(test_minor_refused_minor),
		cmocka_unit_test(test_minor_refused_child_even_with_guardian),
		cmocka_unit_test(test_minor_refused_before_policy),
		cmocka_unit_test(test_minor_adult_not_refused),
		cmocka_unit_test(test_purposes_refused_child_marketing),
		cmocka_unit_test(test_purposes_refused_child_personalisation),
		cmocka_unit_test(test_purposes_refused_not_for_minor),
		cmocka_unit_test(test_guardian_policy_accepted_by_child_alone),
		cmocka_unit_test(test_guardian_policy_accepted_with_guardian),
		cmocka_unit_test(test_guardian_feature_consent_without_guardian),
		cmocka_unit_test(test_guardian_feature_consent_with_guardian),
		cmocka_unit_test(test_guardian_child_accepted_nothing),
		cmocka_unit_test(test_guardian_child_feature_consent_absent),
		cmocka_unit_test(test_guardian_not_for_minor),
		cmocka_unit_test(test_policy_not_accepted),
		cmocka_unit_test(test_policy_withdrawn),
		cmocka_unit_test(test_policy_refused_long_ago),
		cmocka_unit_test(test_reconsent_item_already_declared),
		cmocka_unit_test(test_reconsent_field_added),
		cmocka_unit_test(test_reconsent_purpose_added),
		cmocka_unit_test(test_reconsent_feature_added),
		cmocka_unit_test(test_reconsent_current_version_accepted),
		cmocka_unit_test(test_reconsent_feature_consent),
		cmocka_unit_test(test_consent_missing_feature),
		cmocka_unit_test(test_consent_optional_field_follows_feature),
		cmocka_unit_test(test_separate_consent_missing),
		cmocka_unit_test(test_separate_consent_granted),
		cmocka_unit_test(test_separate_consent_other_feature),
		cmocka_unit_test(test_separate_consent_in_core_feature),
		cmocka_unit_test(test_sensitive_field_on_legal_duty),
		cmocka_unit_test(test_permission_prompt),
		cmocka_unit_test(test_permission_granted),
		cmocka_unit_test(test_consent_withdrawn),
		cmocka_unit_test(test_consent_withdrawn_permission),
		cmocka_unit_test(test_consent_withdrawn_field_beats_missing_feature),
		cmocka_unit_test(test_refused_recently),
		cmocka_unit_test(test_refused_asked_again_after_48_hours),
		cmocka_unit_test(test_refused_separate_consent),
		cmocka_unit_test(test_refused_permission),
		cmocka_unit_test(test_default_on_purpose_allows),
		cmocka_unit_test(test_opted_out_default_on_purpose),
		cmocka_unit_test(test_default_off_purpose_consent_missing),
		cmocka_unit_test(test_default_off_purpose_granted),
		cmocka_unit_test(test_opted_out_default_off_purpose),
		cmocka_unit_test(test_refused_purpose),
		cmocka_unit_test(test_default_by_region),
		cmocka_unit_test(test_service_notices_not_blocked_by_marketing_opt_out),
		cmocka_unit_test(test_strictest_purpose_wins),
		cmocka_unit_test(test_strictest_purpose_opted_out),
		cmocka_unit_test(test_strictest_purpose_all_granted),
		cmocka_unit_test(test_group_grant_covers_members),
		cmocka_unit_test(test_group_member_own_grant),
		cmocka_unit_test(test_exception_allows),
		cmocka_unit_test(test_exception_skips_rules_5_to_8),
		cmocka_unit_test(test_exception_never_skips_rules_2_to_4),
		cmocka_unit_test(test_exception_not_listed),
		cmocka_unit_test(test_exception_never_switchable_purpose),
		cmocka_unit_test(test_exception_strictest_purpose),
		cmocka_unit_test(test_allow_contract),
		cmocka_unit_test(test_allow_legal_obligation),
		cmocka_unit_test(test_allow_consent),
		cmocka_unit_test(test_allow_separate_consent),
		cmocka_unit_test(test_allow_legitimate_interest_in_region),
		cmocka_unit_test(test_allow_default_basis_outside_region),
		cmocka_unit_test(test_trace_lists_rules_in_order),
		cmocka_unit_test(test_no_trace_same_decision),
		cmocka_unit_test(test_subject_scope),
	};

	return cmocka_run_group_tests_name("decide", tests, group_setup, group_teardown);
}
