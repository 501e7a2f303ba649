/*
 * decide.c: the decision rules (CONTRACT §5), evaluated in order; the first that decides ends
 * the evaluation.
 *
 *   2 never_collect   3 not_declared   4 platform_excluded       (judge the current version)
 *   5 minors          6 policy acceptance and re-consent
 *   7 consent scopes  8 opted_out      9 allow with the basis
 *
 * Rules 5-8 are evaluated once per purpose the request is judged against (the one it names, or
 * every purpose of the declaration) and the strictest answer wins. Everything the engine reads
 * lives in the policy set and the subject snapshot; it writes only into *out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "decide.h"
#include "policy-diff.h"
#include "string-copy.h"

/* The declaration a request resolved to, and what it is judged under. */
struct target {
	const struct policy_set		*set;
	const struct table		*table;
	const struct feature_decl	*feature;
	const struct field_decl		*field;		/* NULL for a permission */
	const struct permission_decl	*permission;
	const struct idlist		*purposes;	/* the declaration's */
	enum basis			 basis;		/* of the field, in the region */
	int				 region;
};

/* The answer of rules 5-8 for one purpose. */
struct verdict {
	enum outcome	 outcome;
	const char	*reason;
	char		 scope[DECIDE_SCOPE_BYTES];
	bool		 separate;
	int64_t		 retry_after;
	enum basis	 basis;
	bool		 exception_used;
	int		 rule;		/* the rule that decided: an earlier one wins a tie */
	char		 detail[DECIDE_DETAIL_BYTES];
};

static void	 trace(struct decision *, const char *, const char *, const struct cites *,
		    const char *, ...) __attribute__((format(printf, 5, 6)));
static void	 finish(struct decision *, enum outcome, const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static bool	 rule_never_collect(const struct decide_request *, struct target *,
		    struct decision *);
static bool	 rule_not_declared(const struct decide_request *, struct target *,
		    struct decision *);
static bool	 rule_platform(const struct decide_request *, struct target *,
		    struct decision *);
static void	 judge_purpose(const struct decide_request *, const struct target *,
		    const struct subject_state *, int, struct verdict *, struct decision *);

static const char *const outcome_names[] = { "allow", "prompt", "deny" };
static const char *const platform_labels[] = { "android", "ios", "web" };

const char *
outcome_name(enum outcome o)
{
	return (unsigned)o <= OUTCOME_DENY ? outcome_names[o] : "deny";
}

const struct consent_entry *
subject_scope(const struct subject_state *s, const char *scope)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (strcmp(s->entries[i].scope, scope) == 0)
			return &s->entries[i];
	return NULL;
}

/* Append a step to the trace (silently dropped past DECIDE_TRACE_MAX). */
static void
trace(struct decision *d, const char *rule, const char *result, const struct cites *cite,
    const char *fmt, ...)
{
	struct trace_step *t;
	va_list ap;

	if (!d->tracing || d->ntrace == DECIDE_TRACE_MAX)
		return;
	t = &d->trace[d->ntrace++];
	t->rule = rule;
	t->result = result;
	t->cite = cite;
	va_start(ap, fmt);
	vsnprintf(t->detail, sizeof t->detail, fmt, ap);
	va_end(ap);
}

static void
finish(struct decision *d, enum outcome o, const char *reason, const char *fmt, ...)
{
	va_list ap;

	d->outcome = o;
	if (reason != NULL && d->nreasons < DECIDE_REASONS_MAX)
		d->reasons[d->nreasons++] = reason;
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof d->detail, fmt, ap);
	va_end(ap);
}

static const char *
name(const struct target *t, enum id_kind k, int i)
{
	return registry_name(&t->set->reg, k, i);
}

/* A field's product-wide attributes: the product's own, else what the umbrella fills. */
static const struct field_attr *
field_attr(const struct table *t, int field)
{
	if (t->field[field].declared || t->field[field].never_collect || t->umbrella == NULL)
		return &t->field[field];
	return &t->umbrella->field[field];
}

static bool
is_umbrella(const struct policy_set *s, int product)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i]->umbrella != NULL && s->tables[i]->umbrella->product == product)
			return true;
	return false;
}

/* Rule 2: the product states it never receives this field. */
static bool
rule_never_collect(const struct decide_request *req, struct target *t, struct decision *d)
{
	const struct field_attr *a;

	if (req->field < 0)
		return false;
	a = field_attr(t->table, req->field);
	if (!a->never_collect) {
		trace(d, "never_collect", "pass", NULL, "%s is not among what %s never receives",
		    name(t, ID_FIELD, req->field), name(t, ID_PRODUCT, req->product));
		return false;
	}
	trace(d, "never_collect", "deny", &a->never_cite, "%s states it never receives %s",
	    name(t, ID_PRODUCT, req->product), name(t, ID_FIELD, req->field));
	finish(d, OUTCOME_DENY, "never_collect", "%s never receives %s",
	    name(t, ID_PRODUCT, req->product), name(t, ID_FIELD, req->field));
	return true;
}

/* Rule 3: the current policy declares this field or permission for this feature and purpose. */
static bool
rule_not_declared(const struct decide_request *req, struct target *t, struct decision *d)
{
	const char *what = req->field >= 0 ? name(t, ID_FIELD, req->field) :
	    name(t, ID_PERMISSION, req->permission);
	const char *feat = name(t, ID_FEATURE, req->feature);
	const char *pol = t->table->version;
	const char *prod = name(t, ID_PRODUCT, req->product);

	t->feature = t->table->feature[req->feature];
	if (t->feature == NULL) {
		trace(d, "not_declared", "deny", NULL, "%s@%s declares no feature %s", prod, pol,
		    feat);
		finish(d, OUTCOME_DENY, "not_declared", "%s@%s declares no feature %s", prod,
		    pol, feat);
		return true;
	}
	if (req->field >= 0) {
		t->field = feature_field(t->feature, req->field);
		t->purposes = t->field && t->field->purposes.n ? &t->field->purposes :
		    &t->feature->purposes;
	} else {
		t->permission = feature_permission(t->feature, req->permission);
		t->purposes = t->permission && t->permission->purposes.n ?
		    &t->permission->purposes : &t->feature->purposes;
	}
	if (t->field == NULL && t->permission == NULL) {
		trace(d, "not_declared", "deny", &t->feature->cite, "%s does not declare %s%s",
		    feat, what, t->feature->members.n ? " (a group feature declares no fields)" :
		    "");
		finish(d, OUTCOME_DENY, "not_declared", "%s@%s: %s does not declare %s", prod,
		    pol, feat, what);
		return true;
	}
	if (req->purpose >= 0 && !idlist_has(t->purposes, req->purpose)) {
		trace(d, "not_declared", "deny", &t->feature->cite, "%s serves no purpose %s "
		    "for %s", feat, name(t, ID_PURPOSE, req->purpose), what);
		finish(d, OUTCOME_DENY, "not_declared", "%s@%s: %s does not use %s for %s",
		    prod, pol, feat, what, name(t, ID_PURPOSE, req->purpose));
		return true;
	}
	trace(d, "not_declared", "pass", t->field ? &t->field->cite : &t->permission->cite,
	    "%s declares %s%s", feat, what, t->feature->adopted ? " (adopted from the umbrella)"
	    : "");
	return false;
}

/* Check one declaration's limits against the request; fills why on exclusion. */
static bool
limits_exclude(const struct limits *lim, const struct decide_request *req, int region,
    char *why, size_t len)
{
	if (lim->platforms != 0 || lim->os_min[0] || lim->os_min[1] || lim->os_min[2] ||
	    lim->os_below[0] || lim->os_below[1] || lim->os_below[2]) {
		if (req->platform < 0)
			return snprintf(why, len, "the declaration is limited by platform and "
			    "the request has no \"platform\""), true;
		if (lim->platforms != 0 && !(lim->platforms & (1u << req->platform)))
			return snprintf(why, len, "the declaration does not hold on %s",
			    platform_labels[req->platform]), true;
	}
	if (req->platform >= 0 && (lim->os_min[req->platform] || lim->os_below[req->platform])) {
		const char *lo = lim->os_min[req->platform], *hi = lim->os_below[req->platform];

		if (req->os_version == NULL)
			return snprintf(why, len, "the declaration is limited by OS version and "
			    "the request has no \"os_version\""), true;
		if (lo && os_version_cmp(req->os_version, lo) < 0)
			return snprintf(why, len, "%s %s is below %s", platform_labels[req->platform],
			    req->os_version, lo), true;
		if (hi && os_version_cmp(req->os_version, hi) >= 0)
			return snprintf(why, len, "the declaration holds below %s %s, not on %s",
			    platform_labels[req->platform], hi, req->os_version), true;
	}
	if (lim->nroms > 0) {
		size_t i;

		if (req->rom == NULL)
			return snprintf(why, len, "the declaration is limited by ROM and the "
			    "request has no \"rom\""), true;
		for (i = 0; i < lim->nroms && strcmp(lim->roms[i], req->rom) != 0; i++)
			;
		if (i == lim->nroms)
			return snprintf(why, len, "the declaration does not hold on ROM %s",
			    req->rom), true;
	}
	if (lim->regions != 0) {
		if (region < 0)
			return snprintf(why, len, "the declaration is limited by region and the "
			    "request has no \"region\""), true;
		if (!(lim->regions & (1u << region)))
			return snprintf(why, len, "the declaration does not hold in this region"),
			    true;
	}
	return false;
}

/* Rule 4: the declaration's platform, OS version, ROM or region limits. */
static bool
rule_platform(const struct decide_request *req, struct target *t, struct decision *d)
{
	const struct limits *lim = t->field ? &t->field->limits : &t->permission->limits;
	const struct cites *cite = t->field ? &t->field->cite : &t->permission->cite;
	char why[DECIDE_DETAIL_BYTES];

	if (t->permission != NULL && req->platform >= 0) {
		int own = t->set->reg.permission_platform[req->permission];

		if (own >= 0 && own != req->platform) {
			trace(d, "platform_excluded", "deny", cite, "%s is an %s permission, "
			    "asked on %s", name(t, ID_PERMISSION, req->permission),
			    platform_labels[own], platform_labels[req->platform]);
			finish(d, OUTCOME_DENY, "platform_excluded", "%s is an %s permission",
			    name(t, ID_PERMISSION, req->permission), platform_labels[own]);
			return true;
		}
	}
	if (!limits_exclude(lim, req, t->region, why, sizeof why)) {
		trace(d, "platform_excluded", "pass", lim->present ? cite : NULL, "%s",
		    lim->present ? "the request is within the declaration's limits" :
		    "the declaration holds on every platform");
		return false;
	}
	trace(d, "platform_excluded", "deny", cite, "%s", why);
	finish(d, OUTCOME_DENY, "platform_excluded", "%s", why);
	return true;
}

/* The field's basis in the request's region. */
static enum basis
effective_basis(const struct target *t)
{
	if (t->permission != NULL)
		return BASIS_CONSENT;
	for (size_t i = 0; i < t->field->nregional; i++)
		if (t->region >= 0 && (t->field->regional[i].regions & (1u << t->region)))
			return t->field->regional[i].basis;
	return t->field->basis;
}

static bool
is_marketing_kind(const struct purpose_decl *p)
{
	return p != NULL && (p->kind == PURPOSE_MARKETING || p->kind == PURPOSE_PERSONALISATION ||
	    p->kind == PURPOSE_PROFILING);
}

static void
verdict_set(struct verdict *v, enum outcome o, const char *reason, const char *scope,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
verdict_set(struct verdict *v, enum outcome o, const char *reason, const char *scope,
    const char *fmt, ...)
{
	va_list ap;

	v->outcome = o;
	v->reason = reason;
	string_copy(v->scope, sizeof v->scope, scope);
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof v->detail, fmt, ap);
	va_end(ap);
}

/* For a reconsent_required verdict, the policy's own words on asking again; else none. */
static const struct cites *
reconsent_cites(const struct target *t, const struct verdict *v)
{
	if (v->reason == NULL || strcmp(v->reason, "reconsent_required") != 0)
		return NULL;
	return policy_reconsent(t->table);
}

/* Whether a consent given under version still covers the item, as re-consent reads it. */
static bool
widened_since(const struct target *t, const char *version, int purpose)
{
	const struct table *old;

	if (version == NULL || strcmp(version, t->table->version) == 0)
		return false;
	old = policy_table(t->set, t->table->product, version);
	return !policy_covers(old, t->feature->feature, t->field ? ID_FIELD : ID_PERMISSION,
	    t->field ? t->field->field : t->permission->permission, purpose);
}

/*
 * Judge one consent scope: granted (and valid), or the verdict it gives. Returns true when the
 * scope does not block.
 */
static bool
judge_scope(const struct decide_request *req, const struct target *t,
    const struct subject_state *s, const char *scope, bool separate, bool guardian, int purpose,
    struct verdict *v, struct decision *d)
{
	const struct consent_entry *e = subject_scope(s, scope);
	enum consent_state st = e ? e->state : CONSENT_NONE;

	switch (st) {
	case CONSENT_GRANTED:
		if (guardian && !e->has_guardian) {
			verdict_set(v, OUTCOME_PROMPT, "guardian_consent_missing", scope,
			    "a child's consent to %s needs a guardian", scope);
			break;
		}
		if (widened_since(t, e->policy_version, purpose)) {
			verdict_set(v, OUTCOME_PROMPT, "reconsent_required", scope,
			    "%s was given under %s, which did not declare this", scope,
			    e->policy_version);
			break;
		}
		trace(d, "consent", "pass", NULL, "%s granted", scope);
		return true;
	case CONSENT_WITHDRAWN:
		verdict_set(v, OUTCOME_DENY, "consent_withdrawn", scope, "%s was withdrawn", scope);
		break;
	case CONSENT_REFUSED:
		if (req->now < e->at + DECIDE_REFUSAL_WINDOW_SECONDS) {
			verdict_set(v, OUTCOME_DENY, "refused_recently", scope, "%s was refused; "
			    "ask again no sooner than 48 hours later", scope);
			v->retry_after = e->at + DECIDE_REFUSAL_WINDOW_SECONDS;
			break;
		}
		/* A refusal older than the window may be asked again. */
		__attribute__((fallthrough));
	case CONSENT_NONE:
		if (guardian)
			verdict_set(v, OUTCOME_PROMPT, "guardian_consent_missing", scope,
			    "a child's consent to %s must come with a guardian", scope);
		else
			verdict_set(v, OUTCOME_PROMPT, separate ? "separate_consent_missing" :
			    "consent_missing", scope, "%s is needed", scope);
		v->separate = separate;
		break;
	}
	trace(d, "consent", outcome_name(v->outcome), reconsent_cites(t, v), "%s", v->detail);
	return false;
}

/* Rule 5 for one purpose: minors and children. Returns true when it decided. */
static bool
rule_minors(const struct target *t, const struct subject_state *s, int purpose,
    struct verdict *v, struct decision *d)
{
	const struct minors_rule *m = &t->table->minors;
	const struct purpose_decl *pd = policy_purpose(t->table, purpose);
	enum age_band band = s->age_band;

	if (m->refuse[band]) {
		verdict_set(v, OUTCOME_DENY, "minor_refused", NULL, "%s does not process the "
		    "information of a %s", name(t, ID_PRODUCT, t->table->product),
		    age_band_name(band));
		trace(d, "minors", "deny", &m->cite, "%s", v->detail);
		return true;
	}
	if (m->purposes_refused_band[band] && (idlist_has(&m->purposes_refused, purpose) ||
	    is_marketing_kind(pd))) {
		verdict_set(v, OUTCOME_DENY, "minor_refused", NULL, "%s does not use a %s's "
		    "information for %s", name(t, ID_PRODUCT, t->table->product),
		    age_band_name(band), name(t, ID_PURPOSE, purpose));
		trace(d, "minors", "deny", &m->cite, "%s", v->detail);
		return true;
	}
	trace(d, "minors", "pass", band == AGE_ADULT ? NULL : &m->cite, "subject is %s",
	    age_band_name(band));
	return false;
}

/* Rule 6: the policy accepted, by a guardian for a child, at a version covering this. */
static bool
rule_policy(const struct decide_request *req, const struct target *t,
    const struct subject_state *s, bool guardian, int purpose, struct verdict *v,
    struct decision *d)
{
	const struct consent_entry *e = subject_scope(s, "policy");

	if (e == NULL || e->state == CONSENT_NONE ||
	    (e->state == CONSENT_REFUSED && req->now >= e->at + DECIDE_REFUSAL_WINDOW_SECONDS)) {
		/* A child is never asked alone: the app must turn to a guardian. */
		if (guardian)
			verdict_set(v, OUTCOME_PROMPT, "guardian_consent_missing", "policy", "a "
			    "guardian must accept the %s privacy policy for a child",
			    name(t, ID_PRODUCT, req->product));
		else
			verdict_set(v, OUTCOME_PROMPT, "policy_not_accepted", "policy", "the subject "
			    "has not accepted the %s privacy policy", name(t, ID_PRODUCT, req->product));
	} else if (e->state == CONSENT_GRANTED && guardian && !e->has_guardian) {
		verdict_set(v, OUTCOME_PROMPT, "guardian_consent_missing", "policy", "a child's "
		    "acceptance of the policy needs a guardian");
	} else if (e->state == CONSENT_GRANTED && widened_since(t, e->policy_version, purpose)) {
		verdict_set(v, OUTCOME_PROMPT, "reconsent_required", "policy", "accepted %s; "
		    "%s widened %s to %s%s%s", e->policy_version, t->table->version,
		    name(t, ID_FEATURE, req->feature), t->field ? name(t, ID_FIELD, req->field) :
		    name(t, ID_PERMISSION, req->permission), " for ", name(t, ID_PURPOSE, purpose));
	} else if (e->state == CONSENT_GRANTED) {
		trace(d, "policy", "pass", NULL, "accepted %s@%s", name(t, ID_PRODUCT, req->product),
		    e->policy_version ? e->policy_version : "?");
		return false;
	} else if (e->state == CONSENT_WITHDRAWN) {
		verdict_set(v, OUTCOME_DENY, "consent_withdrawn", "policy", "the subject withdrew "
		    "acceptance of the policy");
	} else {
		verdict_set(v, OUTCOME_DENY, "refused_recently", "policy", "the subject refused "
		    "the policy; ask again no sooner than 48 hours later");
		v->retry_after = e->at + DECIDE_REFUSAL_WINDOW_SECONDS;
	}
	trace(d, "policy", outcome_name(v->outcome), reconsent_cites(t, v), "%s", v->detail);
	return true;
}

/* Keep the stricter of two verdicts; the earlier wins a tie. */
static void
stricter(struct verdict *best, bool *have, const struct verdict *v)
{
	if (!*have || v->outcome > best->outcome) {
		*best = *v;
		*have = true;
	}
}

/* The group feature of this table listing feature as a member and granted, if any. */
static bool
group_granted(const struct target *t, const struct subject_state *s, char *scope, size_t len)
{
	const struct table *tab = t->table;

	for (size_t i = 0; i < tab->nown; i++) {
		const struct consent_entry *e;

		if (!idlist_has(&tab->own[i].members, t->feature->feature))
			continue;
		snprintf(scope, len, "feature:%s", name(t, ID_FEATURE, tab->own[i].feature));
		if ((e = subject_scope(s, scope)) != NULL && e->state == CONSENT_GRANTED)
			return true;
	}
	return false;
}

/* Rule 7: every consent scope this request rests on; deny beats prompt. */
static bool
rule_consent(const struct decide_request *req, const struct target *t,
    const struct subject_state *s, bool guardian, int purpose, struct verdict *out,
    struct decision *d)
{
	const struct purpose_decl *pd = policy_purpose(t->table, purpose);
	const struct field_attr *fa = t->field ? field_attr(t->table, t->field->field) : NULL;
	struct verdict v, best;
	bool have = false;
	char scope[DECIDE_SCOPE_BYTES];
	enum basis b = effective_basis(t);

	memset(&v, 0, sizeof v);
	if (t->feature->optional || (t->field && b == BASIS_CONSENT &&
	    t->field->need != NEED_REQUIRED)) {
		snprintf(scope, sizeof scope, "feature:%s", name(t, ID_FEATURE, req->feature));
		if (!group_granted(t, s, scope, sizeof scope)) {
			snprintf(scope, sizeof scope, "feature:%s", name(t, ID_FEATURE,
			    req->feature));
			if (!judge_scope(req, t, s, scope, false, guardian, purpose, &v, d))
				stricter(&best, &have, &v);
		}
	}
	if (t->field && fa->sensitive && b == BASIS_CONSENT) {
		snprintf(scope, sizeof scope, "field:%s/%s", name(t, ID_FEATURE, req->feature),
		    name(t, ID_FIELD, req->field));
		memset(&v, 0, sizeof v);
		if (!judge_scope(req, t, s, scope, true, guardian, purpose, &v, d))
			stricter(&best, &have, &v);
	}
	if (t->permission) {
		snprintf(scope, sizeof scope, "permission:%s", name(t, ID_PERMISSION,
		    req->permission));
		memset(&v, 0, sizeof v);
		if (!judge_scope(req, t, s, scope, false, guardian, purpose, &v, d))
			stricter(&best, &have, &v);
	}
	if (pd != NULL && pd->switchable) {
		const struct consent_entry *e;
		bool on = t->region >= 0 && pd->region_default[t->region] >= 0 ?
		    pd->region_default[t->region] : pd->default_on;

		snprintf(scope, sizeof scope, "purpose:%s", name(t, ID_PURPOSE, purpose));
		e = subject_scope(s, scope);
		/* A withdrawn purpose is rule 8's (opted_out); an unset one on by default passes. */
		if (!(e && e->state == CONSENT_WITHDRAWN) && !(on && (e == NULL ||
		    e->state == CONSENT_NONE))) {
			memset(&v, 0, sizeof v);
			if (!judge_scope(req, t, s, scope, false, guardian, purpose, &v, d))
				stricter(&best, &have, &v);
		}
	}
	if (have) {
		best.rule = out->rule;
		*out = best;
	}
	return have;
}

/* Rule 8: a purpose the person switched off. */
static bool
rule_opted_out(const struct target *t, const struct subject_state *s, int purpose,
    struct verdict *v, struct decision *d)
{
	const struct purpose_decl *pd = policy_purpose(t->table, purpose);
	const struct consent_entry *e;
	char scope[DECIDE_SCOPE_BYTES];

	if (pd == NULL || !pd->switchable)
		return false;
	snprintf(scope, sizeof scope, "purpose:%s", name(t, ID_PURPOSE, purpose));
	if ((e = subject_scope(s, scope)) == NULL || e->state != CONSENT_WITHDRAWN) {
		trace(d, "opted_out", "pass", &pd->cite, "%s is switched on", scope);
		return false;
	}
	verdict_set(v, OUTCOME_DENY, "opted_out", scope, "the subject switched %s off", scope);
	trace(d, "opted_out", "deny", &pd->cite, "%s", v->detail);
	return true;
}

/* Rules 5-9 for one purpose. */
static void
judge_purpose(const struct decide_request *req, const struct target *t,
    const struct subject_state *s, int purpose, struct verdict *v, struct decision *d)
{
	const struct purpose_decl *pd = policy_purpose(t->table, purpose);
	bool guardian = t->table->minors.guardian[s->age_band];
	enum basis b = effective_basis(t);

	memset(v, 0, sizeof *v);
	trace(d, "purpose", "skip", pd ? &pd->cite : NULL, "judging for purpose %s",
	    name(t, ID_PURPOSE, purpose));
	if (req->exception >= 0) {
		if (!t->table->exception[req->exception])
			trace(d, "exception", "skip", NULL, "%s does not list exception %s",
			    name(t, ID_PRODUCT, req->product), name(t, ID_EXCEPTION,
			    req->exception));
		else if (pd != NULL && pd->switchable)
			trace(d, "exception", "skip", &pd->cite, "an exception never allows %s, "
			    "a purpose the person may switch off", name(t, ID_PURPOSE, purpose));
		else {
			verdict_set(v, OUTCOME_ALLOW, NULL, NULL, "allowed under exception %s",
			    name(t, ID_EXCEPTION, req->exception));
			v->basis = BASIS_EXCEPTION;
			v->exception_used = true;
			trace(d, "exception", "allow", NULL, "%s", v->detail);
			return;
		}
	}
	if ((v->rule = 5, rule_minors(t, s, purpose, v, d)) ||
	    (v->rule = 6, rule_policy(req, t, s, guardian, purpose, v, d)) ||
	    (v->rule = 7, rule_consent(req, t, s, guardian, purpose, v, d)) ||
	    (v->rule = 8, rule_opted_out(t, s, purpose, v, d)))
		return;
	v->rule = 9;
	if (t->field && field_attr(t->table, t->field->field)->sensitive && b == BASIS_CONSENT)
		b = BASIS_SEPARATE_CONSENT;
	verdict_set(v, OUTCOME_ALLOW, NULL, NULL, "allowed with basis %s", basis_name(b));
	v->basis = b;
	trace(d, "allow", "allow", t->field ? &t->field->cite : &t->permission->cite, "%s",
	    v->detail);
}

static void
check_request(const struct decide_request *req, const struct subject_state *s,
    struct target *t, struct decision *d)
{
	struct verdict v, best;
	int best_purpose = -1;
	bool have = false, exception_used = false;
	const struct idlist one = { (int *)&req->purpose, 1 };
	const struct idlist *purposes = req->purpose >= 0 ? &one : t->purposes;

	t->basis = effective_basis(t);
	/* The strictest answer over the purposes wins; among equals, the earlier rule. */
	for (size_t i = 0; i < purposes->n; i++) {
		judge_purpose(req, t, s, purposes->v[i], &v, d);
		exception_used |= v.exception_used;
		if (!have || v.outcome > best.outcome ||
		    (v.outcome == best.outcome && v.rule < best.rule)) {
			best = v;
			best_purpose = purposes->v[i];
			have = true;
		}
	}
	if (!have) {
		finish(d, OUTCOME_DENY, "not_declared", "the declaration serves no purpose");
		return;
	}
	d->outcome = best.outcome;
	if (best.reason)
		d->reasons[d->nreasons++] = best.reason;
	string_copy(d->detail, sizeof d->detail, best.detail);
	d->basis = best.outcome == OUTCOME_ALLOW ? best.basis : t->basis;
	d->retry_after = best.retry_after;
	d->prompt_purpose = best_purpose;
	d->exception_used = exception_used && best.outcome == OUTCOME_ALLOW;
	if (d->exception_used)
		d->basis = BASIS_EXCEPTION;
	if (best.outcome == OUTCOME_PROMPT) {
		string_copy(d->prompt_scope, sizeof d->prompt_scope, best.scope);
		d->separate = best.separate;
	}
}

void
decide(const struct policy_set *set, const struct decide_request *req,
    const struct subject_state *s, struct decision *d)
{
	struct target t = { .set = set };

	/* The trace steps are written only as they are added. */
	memset(d, 0, offsetof(struct decision, trace));
	d->tracing = req->explain;
	d->outcome = OUTCOME_DENY;
	d->prompt_purpose = -1;
	t.table = policy_table(set, req->product, NULL);
	t.region = req->region >= 0 ? req->region : s->region;
	d->table = t.table;
	if (t.table == NULL || is_umbrella(set, req->product)) {
		trace(d, "not_declared", "deny", NULL, "%s is not an app: its policy fills "
		    "product policies and grants no collection", registry_name(&set->reg,
		    ID_PRODUCT, req->product));
		finish(d, OUTCOME_DENY, "not_declared", "%s is an umbrella policy, not an app",
		    registry_name(&set->reg, ID_PRODUCT, req->product));
		return;
	}
	if (rule_never_collect(req, &t, d) || rule_not_declared(req, &t, d) ||
	    rule_platform(req, &t, d))
		return;
	check_request(req, s, &t, d);
}
