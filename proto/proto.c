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

void
proto_buf_add(struct proto_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void
proto_buf_add_raw(struct proto_buf *b, const char *s)
{
	proto_buf_add(b, s, strlen(s));
}

/* The escapes jansson writes, so that both paths give the same bytes. */
void
proto_buf_add_string(struct proto_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s;

	proto_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = { '\\', 0 };
		size_t n = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		proto_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"': case '\\': esc[1] = (char)ch; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		proto_buf_add(b, esc, n);
	}
	proto_buf_add(b, run, (size_t)(s - run));
	proto_buf_add(b, "\"", 1);
}

void
proto_buf_add_scalar(struct proto_buf *b, const json_t *v)
{
	char small[64];
	size_t n = json_dumpb(v, small, sizeof small, JSON_COMPACT | JSON_ENCODE_ANY);
	char *big;

	if (n == 0) {
		b->failed = 1;
		return;
	}
	if (n <= sizeof small) {
		proto_buf_add(b, small, n);
		return;
	}
	if ((big = malloc(n)) == NULL || json_dumpb(v, big, n, JSON_COMPACT |
	    JSON_ENCODE_ANY) != n)
		b->failed = 1;
	else
		proto_buf_add(b, big, n);
	free(big);
}

void
proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}
