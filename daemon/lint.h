/*
 * lint.h: each product's basic functions against the national list of the personal information
 * necessary for its type of app (常见类型移动互联网应用程序必要个人信息范围规定, 2021), kept in
 * necessary-pi.json beside the registry. The findings are about the published policies, not
 * errors in the tables.
 */
#ifndef CONSENTD_LINT_H
#define CONSENTD_LINT_H

#include <stddef.h>

#include <jansson.h>

#include "policy.h"

/* The rules file beside the registry, read and checked; NULL with err on a problem. */
json_t	*lint_load(const char *registry_path, char *err, size_t len);

/*
 * The findings for product's current table, in feature order: one object per field that a basic
 * function requires beyond its type's list. NULL when the rules do not cover the product.
 */
json_t	*lint_product(const struct policy_set *, const json_t *rules, int product);

#endif
