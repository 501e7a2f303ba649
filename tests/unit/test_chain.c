/*
 * test_chain.c: the hash chain on its own: the canonical hash against values computed
 * independently (Python's hashlib over json.dumps(separators=(",", ":"), ensure_ascii=False)),
 * the head file, and verification of a ledger table in memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"

static const char first_hash[] =
    "4808237efd363040330be87bd6ee7810a4e37832e422ed53163f3df5c30de399";
static const char second_hash[] =
    "df83e3f4a326818511bd72304a277ab144f1c71252d8621aadc3008607b70df1";

static struct chain_record
record(int64_t seq, const char *subject)
{
	struct chain_record r = {
		.seq = seq, .at = 1700000000, .peer_uid = 0, .op = "grant", .product = "mipay",
		.subject = subject, .scope = "policy", .state = "granted",
		.policy_version = "2024-04-25",
	};

	return r;
}

static void
test_hash_matches_an_independent_computation(void **state)
{
	struct chain_hasher *h = chain_hasher_new();
	struct chain_record r1 = record(1, "u\"1"), r2 = record(2, "用户");
	char zeros[CHAIN_HASH_BYTES], out[CHAIN_HASH_BYTES];

	(void)state;
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	assert_int_equal(chain_hash(h, &r1, zeros, out), 0);
	assert_string_equal(out, first_hash);
	assert_int_equal(chain_hash(h, &r2, first_hash, out), 0);
	assert_string_equal(out, second_hash);
	chain_hasher_free(h);
}

static void
test_head_file_round_trip(void **state)
{
	char dir[] = "/tmp/consentd-test-chain-XXXXXX", path[64], err[256];
	struct chain_head h = { .seq = 42 }, back;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/head", dir);
	assert_int_equal(chain_head_read(path, &back, err, sizeof err), 0);	/* none */
	memcpy(h.hash, first_hash, sizeof first_hash);
	assert_true((fd = open(path, O_RDWR | O_CREAT, 0600)) != -1);
	assert_int_equal(chain_head_read(path, &back, err, sizeof err), 0);	/* empty */
	assert_int_equal(chain_head_write(fd, &h), 0);
	assert_int_equal(chain_head_read(path, &back, err, sizeof err), 1);
	assert_int_equal(back.seq, 42);
	assert_string_equal(back.hash, first_hash);
	assert_int_equal(pwrite(fd, "x", 1, 30), 1);
	assert_int_equal(chain_head_read(path, &back, err, sizeof err), -1);
	assert_non_null(strstr(err, "is not a chain head file"));
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* A records table holding the two records above, chained. */
static sqlite3 *
two_records(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE records (seq INTEGER PRIMARY KEY, at, op, "
	    "product, subject, scope, state, policy_version, source, guardian, attrs, peer_uid, "
	    "prev_hash, hash, erased_by);"
	    "INSERT INTO records VALUES (1, 1700000000, 'grant', 'mipay', 'u\"1', 'policy', "
	    "'granted', '2024-04-25', NULL, NULL, NULL, 0, "
	    "'0000000000000000000000000000000000000000000000000000000000000000', "
	    "'4808237efd363040330be87bd6ee7810a4e37832e422ed53163f3df5c30de399', NULL);"
	    "INSERT INTO records VALUES (2, 1700000000, 'grant', 'mipay', '用户', 'policy', "
	    "'granted', '2024-04-25', NULL, NULL, NULL, 0, "
	    "'4808237efd363040330be87bd6ee7810a4e37832e422ed53163f3df5c30de399', "
	    "'df83e3f4a326818511bd72304a277ab144f1c71252d8621aadc3008607b70df1', NULL);",
	    NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
verify(sqlite3 *db, const struct chain_head *file, struct chain_verdict *v)
{
	struct chain_hasher *h = chain_hasher_new();
	char err[256];

	assert_int_equal(chain_verify(db, h, file, v, err, sizeof err), 0);
	chain_hasher_free(h);
}

static void
test_verify_sound_edited_and_truncated(void **state)
{
	struct chain_head file = { .seq = 2 };
	struct chain_verdict v;
	sqlite3 *db = two_records();

	(void)state;
	memcpy(file.hash, second_hash, sizeof second_hash);
	verify(db, &file, &v);
	assert_int_equal(v.bad_seq, 0);
	assert_int_equal(v.records, 2);
	assert_string_equal(v.head.hash, second_hash);

	file.seq = 3;
	verify(db, &file, &v);
	assert_int_equal(v.bad_seq, 3);
	assert_non_null(strstr(v.why, "missing"));

	assert_int_equal(sqlite3_exec(db, "UPDATE records SET scope='feature:x' WHERE seq=2",
	    NULL, NULL, NULL), SQLITE_OK);
	verify(db, NULL, &v);
	assert_int_equal(v.bad_seq, 2);
	assert_int_equal(v.records, 1);
	assert_non_null(strstr(v.why, "edited"));

	assert_int_equal(sqlite3_exec(db, "DELETE FROM records WHERE seq=1", NULL, NULL, NULL),
	    SQLITE_OK);
	verify(db, NULL, &v);
	assert_int_equal(v.bad_seq, 1);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_matches_an_independent_computation),
		cmocka_unit_test(test_head_file_round_trip),
		cmocka_unit_test(test_verify_sound_edited_and_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
