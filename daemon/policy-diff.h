/*
 * policy-diff.h: what changed between two versions of a product's policy, and what a consent
 * given under the older one still covers. The engine's reconsent_required and the policy op's
 * diff_from both read it, so that the diff shows exactly what re-consent asks for.
 */
#ifndef CONSENTD_POLICY_DIFF_H
#define CONSENTD_POLICY_DIFF_H

#include <stdbool.h>

#include <jansson.h>

#include "policy.h"

/*
 * Whether table t declares item (a field or a permission: kind) for purpose under feature: what
 * a consent given under t covers. False when t is NULL or lacks the feature.
 */
bool	 policy_covers(const struct table *t, int feature, enum id_kind kind, int item,
	    int purpose);

/*
 * The diff from one table to another of the same product, as the policy op sends it:
 * features_added, features_removed, changed (per feature: fields, permissions and purposes
 * added and removed, basis_changed) and reconsent (per feature: each field or permission and
 * purpose a consent given under from does not cover).
 */
json_t	*policy_diff(const struct policy_set *, const struct table *from,
	    const struct table *to);

#endif
