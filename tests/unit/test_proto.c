/*
 * test_proto.c: framing and reply builders of the consentd protocol (proto/proto.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define KIB64	PROTO_LINE_MAX_BYTES

static char	*filled(size_t);
static void	 assert_json_equal(const json_t *, const char *);

/* A buffer of n 'a's (not NUL-terminated as far as the tests are concerned). */
static char *
filled(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	memset(b, 'a', n);
	b[n] = '\0';
	return b;
}

/* obj equals the JSON text want. */
static void
assert_json_equal(const json_t *obj, const char *want)
{
	json_error_t jerr;
	json_t *w = json_loads(want, 0, &jerr);
	char *got;

	assert_non_null(w);
	if (!json_equal((json_t *)obj, w)) {
		got = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		print_error("got  %s\nwant %s\n", got, want);
		free(got);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

/* ---- proto_line_end ---- */

static void
test_line_end_no_newline(void **state)
{
	int too_large = -1;

	(void)state;
	assert_int_equal(proto_line_end("{\"op\":\"hello\"}", 14, &too_large), -1);
	assert_int_equal(too_large, 0);
	assert_int_equal(proto_line_end("", 0, &too_large), -1);
	assert_int_equal(too_large, 0);
}

static void
test_line_end_newline_at_zero(void **state)
{
	int too_large = -1;

	(void)state;
	assert_int_equal(proto_line_end("\n", 1, &too_large), 0);
	assert_int_equal(too_large, 0);
	assert_int_equal(proto_line_end("\n{}\n", 4, &too_large), 0);
	assert_int_equal(too_large, 0);
}

static void
test_line_end_first_line(void **state)
{
	int too_large = -1;

	(void)state;
	assert_int_equal(proto_line_end("{}\n{\"a\":1}\n", 11, &too_large), 2);
	assert_int_equal(too_large, 0);
	/* Only the first len bytes count. */
	assert_int_equal(proto_line_end("{}\n", 2, &too_large), -1);
	assert_int_equal(too_large, 0);
}

/* PROTO_LINE_MAX_BYTES counts the newline: 64 KiB - 1 bytes and '\n' fit. */
static void
test_line_end_largest_line_fits(void **state)
{
	char *b = filled(KIB64);
	int too_large = -1;

	(void)state;
	b[KIB64 - 1] = '\n';
	assert_int_equal(proto_line_end(b, KIB64, &too_large), KIB64 - 1);
	assert_int_equal(too_large, 0);
	/* And with more bytes of the next line already buffered. */
	free(b);
	b = filled(KIB64 + 100);
	b[KIB64 - 1] = '\n';
	assert_int_equal(proto_line_end(b, KIB64 + 100, &too_large), KIB64 - 1);
	assert_int_equal(too_large, 0);
	free(b);
}

/* Still incomplete just under the limit: wait for more. */
static void
test_line_end_incomplete_under_limit(void **state)
{
	char *b = filled(KIB64 - 1);
	int too_large = -1;

	(void)state;
	assert_int_equal(proto_line_end(b, KIB64 - 1, &too_large), -1);
	assert_int_equal(too_large, 0);
	free(b);
}

static void
test_line_end_64k_without_newline_too_large(void **state)
{
	char *b = filled(KIB64);
	int too_large = 0;

	(void)state;
	assert_int_equal(proto_line_end(b, KIB64, &too_large), -1);
	assert_int_equal(too_large, 1);
	free(b);
}

static void
test_line_end_longer_too_large(void **state)
{
	char *b = filled(KIB64 + 1);
	int too_large = 0;

	(void)state;
	/* 64 KiB of text and then the newline: one byte too long. */
	b[KIB64] = '\n';
	assert_int_equal(proto_line_end(b, KIB64 + 1, &too_large), -1);
	assert_int_equal(too_large, 1);
	free(b);
	b = filled(4 * KIB64);
	too_large = 0;
	assert_int_equal(proto_line_end(b, 4 * KIB64, &too_large), -1);
	assert_int_equal(too_large, 1);
	b[3 * KIB64] = '\n';
	too_large = 0;
	assert_int_equal(proto_line_end(b, 4 * KIB64, &too_large), -1);
	assert_int_equal(too_large, 1);
	free(b);
}

/* ---- replies ---- */

static void
test_reply_ok_echoes_id(void **state)
{
	json_t *id = json_integer(7), *r;

	(void)state;
	r = proto_reply_ok(id);
	assert_json_equal(r, "{\"id\":7,\"ok\":true}");
	assert_int_equal(json_object_size(r), 2);
	json_decref(r);
	json_decref(id);

	id = json_string("req-1");
	r = proto_reply_ok(id);
	assert_json_equal(r, "{\"id\":\"req-1\",\"ok\":true}");
	json_decref(r);
	json_decref(id);
}

/* A JSON null id is an id, echoed; a missing id (NULL) is left out. */
static void
test_reply_ok_null_and_absent_id(void **state)
{
	json_t *id = json_null(), *r;

	(void)state;
	r = proto_reply_ok(id);
	assert_json_equal(r, "{\"id\":null,\"ok\":true}");
	json_decref(r);
	r = proto_reply_ok(NULL);
	assert_json_equal(r, "{\"ok\":true}");
	assert_null(json_object_get(r, "id"));
	json_decref(r);
}

/* The id is echoed verbatim: a real, a large integer, a boolean. */
static void
test_reply_id_verbatim(void **state)
{
	const char *ids[] = { "1.5", "9007199254740993", "true", "\"\"", "\"日本\"" };

	(void)state;
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		json_t *id = json_loads(ids[i], JSON_DECODE_ANY, NULL), *r, *want;

		assert_non_null(id);
		r = proto_reply_error(id, PROTO_ERR_BUSY, "slow down");
		want = json_object_get(r, "id");
		assert_non_null(want);
		assert_true(json_equal(want, id));
		json_decref(r);
		json_decref(id);
	}
}

static void
test_reply_error_shape(void **state)
{
	json_t *id = json_integer(42), *r, *err;

	(void)state;
	r = proto_reply_error(id, PROTO_ERR_UNKNOWN_OP, "no op \"%s\"", "frob");
	assert_json_equal(r, "{\"id\":42,\"ok\":false,\"error\":{\"code\":\"unknown_op\","
	    "\"message\":\"no op \\\"frob\\\"\"}}");
	assert_int_equal(json_object_size(r), 3);
	err = json_object_get(r, "error");
	assert_int_equal(json_object_size(err), 2);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(id);
}

static void
test_reply_error_absent_id(void **state)
{
	json_t *r;

	(void)state;
	r = proto_reply_error(NULL, PROTO_ERR_BAD_JSON, "not JSON at column %d", 3);
	assert_json_equal(r, "{\"ok\":false,\"error\":{\"code\":\"bad_json\","
	    "\"message\":\"not JSON at column 3\"}}");
	json_decref(r);
}

/* The caller keeps its reference to the id. */
static void
test_reply_does_not_steal_id(void **state)
{
	json_t *id = json_string("x"), *a, *b;

	(void)state;
	a = proto_reply_ok(id);
	b = proto_reply_error(id, PROTO_ERR_INTERNAL, "oops");
	assert_int_equal(id->refcount, 3);
	json_decref(a);
	json_decref(b);
	assert_int_equal(id->refcount, 1);
	json_decref(id);
}

/* A long message is cut, not overflowed; the reply stays valid JSON. */
static void
test_reply_error_long_message(void **state)
{
	char *big = filled(5000);
	json_t *r;
	const char *msg;

	(void)state;
	r = proto_reply_error(NULL, PROTO_ERR_BAD_REQUEST, "%s", big);
	msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
	assert_non_null(msg);
	assert_true(strlen(msg) > 0 && strlen(msg) < 5000);
	assert_int_equal(strspn(msg, "a"), strlen(msg));
	json_decref(r);
	free(big);
}

/* ---- proto_encode ---- */

static void
test_encode_one_line(void **state)
{
	json_t *id = json_integer(3), *r = proto_reply_ok(id), *back;
	size_t len = 0;
	char *line;

	(void)state;
	json_object_set_new(r, "text", json_string("two\nlines\r\nand a tab\t"));
	line = proto_encode(r, &len);
	assert_non_null(line);
	assert_true(len > 1);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));	/* exactly one newline, at the end */
	assert_null(memchr(line, '\0', len));
	back = json_loadb(line, len, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, r));
	json_decref(back);
	free(line);
	json_decref(r);
	json_decref(id);
}

static void
test_encode_compact(void **state)
{
	json_t *o = json_pack("{s:i,s:b}", "id", 1, "ok", 1);
	size_t len = 0;
	char *line;

	(void)state;
	line = proto_encode(o, &len);
	assert_non_null(line);
	assert_null(memchr(line, ' ', len));
	assert_int_equal(len, strlen("{\"id\":1,\"ok\":true}\n"));
	assert_memory_equal(line, "{\"id\":1,\"ok\":true}\n", len);
	/* Does not consume obj. */
	assert_int_equal(o->refcount, 1);
	free(line);
	json_decref(o);
}

static void
test_encode_utf8(void **state)
{
	json_t *o = json_pack("{s:s}", "name_zh", "小米支付");
	size_t len = 0;
	char *line;

	(void)state;
	line = proto_encode(o, &len);
	assert_non_null(line);
	assert_int_equal(line[len - 1], '\n');
	assert_non_null(memmem(line, len, "小米支付", strlen("小米支付")));
	free(line);
	json_decref(o);
}

/* ---- ids, error names ---- */

static void
test_id_valid(void **state)
{
	json_t *ok[] = { json_integer(0), json_integer(-5), json_real(2.5), json_string(""),
		json_string("abc"), json_null(), json_true(), json_false() };
	json_t *bad[] = { json_object(), json_array(), json_pack("{s:i}", "a", 1),
		json_pack("[i]", 1) };

	(void)state;
	assert_true(proto_id_valid(NULL));
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		assert_true(proto_id_valid(ok[i]));
		json_decref(ok[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_false(proto_id_valid(bad[i]));
		json_decref(bad[i]);
	}
}

static void
test_error_names(void **state)
{
	static const struct {
		enum proto_error	 e;
		const char		*name;
	} want[] = {
		{ PROTO_ERR_BAD_JSON, "bad_json" },
		{ PROTO_ERR_BAD_REQUEST, "bad_request" },
		{ PROTO_ERR_UNKNOWN_OP, "unknown_op" },
		{ PROTO_ERR_UNKNOWN_PRODUCT, "unknown_product" },
		{ PROTO_ERR_UNKNOWN_FEATURE, "unknown_feature" },
		{ PROTO_ERR_UNKNOWN_FIELD, "unknown_field" },
		{ PROTO_ERR_UNKNOWN_PERMISSION, "unknown_permission" },
		{ PROTO_ERR_UNKNOWN_PURPOSE, "unknown_purpose" },
		{ PROTO_ERR_UNKNOWN_EXCEPTION, "unknown_exception" },
		{ PROTO_ERR_UNKNOWN_SCOPE, "unknown_scope" },
		{ PROTO_ERR_FORBIDDEN, "forbidden" },
		{ PROTO_ERR_TOO_LARGE, "too_large" },
		{ PROTO_ERR_BUSY, "busy" },
		{ PROTO_ERR_LEDGER_UNAVAILABLE, "ledger_unavailable" },
		{ PROTO_ERR_CANCEL_BLOCKED, "cancel_blocked" },
		{ PROTO_ERR_CHAIN_BROKEN, "chain_broken" },
		{ PROTO_ERR_INTERNAL, "internal" },
	};

	(void)state;
	/* Every code of CONTRACT §2, each once. */
	assert_int_equal(sizeof want / sizeof *want, PROTO_ERR_COUNT);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		assert_string_equal(proto_error_name(want[i].e), want[i].name);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(want[i].e, want[j].e);
	}
	/* Out of range: never NULL. */
	assert_string_equal(proto_error_name(PROTO_ERR_COUNT), "internal");
	assert_string_equal(proto_error_name((enum proto_error)-1), "internal");
	assert_string_equal(proto_error_name((enum proto_error)1000), "internal");
}

/* Each code travels in the reply. */
static void
test_reply_error_every_code(void **state)
{
	(void)state;
	for (int e = 0; e < PROTO_ERR_COUNT; e++) {
		json_t *r = proto_reply_error(NULL, e, "m");
		const char *code = json_string_value(json_object_get(json_object_get(r, "error"),
		    "code"));

		assert_non_null(code);
		assert_string_equal(code, proto_error_name(e));
		json_decref(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_end_no_newline),
		cmocka_unit_test(test_line_end_newline_at_zero),
		cmocka_unit_test(test_line_end_first_line),
		cmocka_unit_test(test_line_end_largest_line_fits),
		cmocka_unit_test(test_line_end_incomplete_under_limit),
		cmocka_unit_test(test_line_end_64k_without_newline_too_large),
		cmocka_unit_test(test_line_end_longer_too_large),
		cmocka_unit_test(test_reply_ok_echoes_id),
		cmocka_unit_test(test_reply_ok_null_and_absent_id),
		cmocka_unit_test(test_reply_id_verbatim),
		cmocka_unit_test(test_reply_error_shape),
		cmocka_unit_test(test_reply_error_absent_id),
		cmocka_unit_test(test_reply_does_not_steal_id),
		cmocka_unit_test(test_reply_error_long_message),
		cmocka_unit_test(test_encode_one_line),
		cmocka_unit_test(test_encode_compact),
		cmocka_unit_test(test_encode_utf8),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_reply_error_every_code),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
