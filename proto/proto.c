/*
 * proto.c: framing and reply builders of the consentd protocol (see proto.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *const error_names[PROTO_ERR_COUNT] = {
	[PROTO_ERR_BAD_JSON] = "bad_json",
	[PROTO_ERR_BAD_REQUEST] = "bad_request",
	[PROTO_ERR_UNKNOWN_OP] = "unknown_op",
	[PROTO_ERR_UNKNOWN_PRODUCT] = "unknown_product",
	[PROTO_ERR_UNKNOWN_FEATURE] = "unknown_feature",
	[PROTO_ERR_UNKNOWN_FIELD] = "unknown_field",
	[PROTO_ERR_UNKNOWN_PERMISSION] = "unknown_permission",
	[PROTO_ERR_UNKNOWN_PURPOSE] = "unknown_purpose",
	[PROTO_ERR_UNKNOWN_EXCEPTION] = "unknown_exception",
	[PROTO_ERR_UNKNOWN_SCOPE] = "unknown_scope",
	[PROTO_ERR_FORBIDDEN] = "forbidden",
	[PROTO_ERR_TOO_LARGE] = "too_large",
	[PROTO_ERR_BUSY] = "busy",
	[PROTO_ERR_LEDGER_UNAVAILABLE] = "ledger_unavailable",
	[PROTO_ERR_CANCEL_BLOCKED] = "cancel_blocked",
	[PROTO_ERR_CHAIN_BROKEN] = "chain_broken",
	[PROTO_ERR_INTERNAL] = "internal",
};

const char *
proto_error_name(enum proto_error e)
{
	if ((unsigned)e >= PROTO_ERR_COUNT)
		return "internal";
	return error_names[e];
}

long
proto_line_end(const char *buf, size_t len, int *too_large)
{
	size_t scan = len < PROTO_LINE_MAX_BYTES ? len : PROTO_LINE_MAX_BYTES;
	const char *nl = memchr(buf, '\n', scan);

	/* The limit counts the newline: a line of PROTO_LINE_MAX_BYTES - 1 bytes plus '\n' fits. */
	*too_large = nl == NULL && len >= PROTO_LINE_MAX_BYTES;
	return nl == NULL ? -1 : (long)(nl - buf);
}

json_t *
proto_reply_ok(json_t *id)
{
	json_t *r = json_object();

	if (r == NULL)
		return NULL;
	if (id != NULL)
		json_object_set(r, "id", id);
	json_object_set_new(r, "ok", json_true());
	return r;
}

json_t *
proto_reply_error(json_t *id, enum proto_error e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *r = json_object();

	if (r == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (id != NULL)
		json_object_set(r, "id", id);
	json_object_set_new(r, "ok", json_false());
	json_object_set_new(r, "error", json_pack("{s:s,s:s}", "code",
	    proto_error_name(e), "message", msg));
	return r;
}

char *
proto_encode(const json_t *obj, size_t *len)
{
	size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	char *buf;

	if (n == 0 || (buf = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(obj, buf, n, JSON_COMPACT) != n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\n';
	*len = n + 1;
	return buf;
}

int
proto_id_valid(const json_t *id)
{
	return id == NULL || !(json_is_object(id) || json_is_array(id));
}
