/*
 * chain.c: the ledger's hash chain: canonical form, hashing, the head file, verification
 * (see chain.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "chain.h"

#define HEAD_FORMAT	"consentd chain head\nseq %020" PRId64 "\nhash %s\n"
#define HEAD_BYTES	115	/* what HEAD_FORMAT prints */

struct chain_hasher {
	EVP_MD		*md;
	EVP_MD_CTX	*ctx;
	char		*canon;		/* the canonical form being hashed */
	size_t		 size;
};

struct chain_hasher *
chain_hasher_new(void)
{
	struct chain_hasher *h = calloc(1, sizeof *h);

	/* Fetched once: an implicit fetch per record costs more than the digest itself. */
	if (h == NULL || (h->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (h->ctx = EVP_MD_CTX_new()) == NULL) {
		chain_hasher_free(h);
		return NULL;
	}
	return h;
}

void
chain_hasher_free(struct chain_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h->canon);
	free(h);
}

/* SHA-256 of data as lowercase hex. */
static int
sha256_hex(struct chain_hasher *h, const char *data, size_t len, char out[CHAIN_HASH_BYTES])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, data, len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, digest, &n) != 1 || n != 32)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/*
 * The canonical form built by jansson: the reference for the fast path below, and what a
 * record holding a control character (none can arrive through the protocol) is hashed from.
 */
static char *
canonical_jansson(const struct chain_record *r, const char *prev)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "seq", json_integer(r->seq));
	json_object_set_new(o, "at", json_integer(r->at));
	json_object_set_new(o, "op", str_or_null(r->op));
	json_object_set_new(o, "product", str_or_null(r->product));
	json_object_set_new(o, "subject", str_or_null(r->subject));
	json_object_set_new(o, "scope", str_or_null(r->scope));
	json_object_set_new(o, "state", str_or_null(r->state));
	json_object_set_new(o, "policy_version", str_or_null(r->policy_version));
	json_object_set_new(o, "source", str_or_null(r->source));
	json_object_set_new(o, "guardian", str_or_null(r->guardian));
	json_object_set_new(o, "attrs", str_or_null(r->attrs));
	json_object_set_new(o, "peer_uid", json_integer(r->peer_uid));
	json_object_set_new(o, "prev", json_string(prev));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Where canonical_fast writes next; canonical_bound sized the buffer. */
struct canon {
	char	*p;
};

static void
canon_raw(struct canon *c, const char *s)
{
	size_t n = strlen(s);

	memcpy(c->p, s, n);
	c->p += n;
}

static bool
canon_str(struct canon *c, const char *key, const char *s)
{
	canon_raw(c, key);
	if (s == NULL) {
		canon_raw(c, "null");
		return true;
	}
	*c->p++ = '"';
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20)
			return false;
		if (*s == '"' || *s == '\\')
			*c->p++ = '\\';
		*c->p++ = *s;
	}
	*c->p++ = '"';
	return true;
}

static void
canon_int(struct canon *c, const char *key, long long v)
{
	canon_raw(c, key);
	c->p += sprintf(c->p, "%lld", v);
}

/* The most canonical_fast writes for r: every string byte escaped, plus keys and numbers. */
static size_t
canonical_bound(const struct chain_record *r, const char *prev)
{
	const char *s[] = { r->op, r->product, r->subject, r->scope, r->state, r->policy_version,
	    r->source, r->guardian, r->attrs, prev };
	size_t n = 512;

	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		n += s[i] ? 2 * strlen(s[i]) : 0;
	return n;
}

/*
 * The canonical form written straight into buf, without building a JSON tree per record.
 * For strings without control characters (valid UTF-8, as everything read through jansson
 * is) jansson's compact output is the bytes as they are with '"' and '\' escaped, which is
 * what this writes. Returns the length, or 0 when a string holds a control character and
 * the record must go through canonical_jansson.
 */
static size_t
canonical_fast(const struct chain_record *r, const char *prev, char *buf)
{
	struct canon c = { buf };
	bool ok;

	canon_int(&c, "{\"seq\":", r->seq);
	canon_int(&c, ",\"at\":", r->at);
	ok = canon_str(&c, ",\"op\":", r->op) &&
	    canon_str(&c, ",\"product\":", r->product) &&
	    canon_str(&c, ",\"subject\":", r->subject) &&
	    canon_str(&c, ",\"scope\":", r->scope) &&
	    canon_str(&c, ",\"state\":", r->state) &&
	    canon_str(&c, ",\"policy_version\":", r->policy_version) &&
	    canon_str(&c, ",\"source\":", r->source) &&
	    canon_str(&c, ",\"guardian\":", r->guardian) &&
	    canon_str(&c, ",\"attrs\":", r->attrs);
	if (!ok)
		return 0;
	canon_int(&c, ",\"peer_uid\":", r->peer_uid);
	if (!canon_str(&c, ",\"prev\":", prev))
		return 0;
	*c.p++ = '}';
	*c.p = '\0';
	return (size_t)(c.p - buf);
}

int
chain_hash(struct chain_hasher *h, const struct chain_record *r, const char *prev,
    char out[CHAIN_HASH_BYTES])
{
	size_t need = canonical_bound(r, prev), len;
	char *text;
	int rc;

	if (need > h->size) {
		if ((text = realloc(h->canon, need)) == NULL)
			return -1;
		h->canon = text;
		h->size = need;
	}
	if ((len = canonical_fast(r, prev, h->canon)) > 0)
		return sha256_hex(h, h->canon, len, out);
	if ((text = canonical_jansson(r, prev)) == NULL)
		return -1;
	rc = sha256_hex(h, text, strlen(text), out);
	free(text);
	return rc;
}

int
chain_digest(struct chain_hasher *h, const char *data, size_t len, char out[CHAIN_HASH_BYTES])
{
	return sha256_hex(h, data, len, out);
}

void
chain_head_empty(struct chain_head *h)
{
	h->seq = 0;
	memset(h->hash, '0', 64);
	h->hash[64] = '\0';
}

static bool
is_hash(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int
chain_head_read(const char *path, struct chain_head *h, char *err, size_t len)
{
	char buf[HEAD_BYTES + 1], hash[CHAIN_HASH_BYTES + 1];
	int64_t seq;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		return snprintf(err, len, "cannot open %s: %s", path, strerror(errno)), -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n == -1)
		return snprintf(err, len, "cannot read %s: %s", path, strerror(errno)), -1;
	buf[n] = '\0';
	if (n == 0)
		return 0;	/* created, never written: a crash at the first start */
	if (n != HEAD_BYTES || sscanf(buf, "consentd chain head\nseq %" SCNd64 "\nhash %65s",
	    &seq, hash) != 2 || seq < 0 || !is_hash(hash))
		return snprintf(err, len, "%s is not a chain head file", path), -1;
	h->seq = seq;
	memcpy(h->hash, hash, CHAIN_HASH_BYTES);
	return 1;
}

int
chain_head_write(int fd, const struct chain_head *h)
{
	char buf[HEAD_BYTES + 1];

	if (snprintf(buf, sizeof buf, HEAD_FORMAT, h->seq, h->hash) != HEAD_BYTES) {
		errno = EINVAL;
		return -1;
	}
	/* Same length every time: one write in place, never a moment without a head. */
	if (pwrite(fd, buf, HEAD_BYTES, 0) != HEAD_BYTES)
		return -1;
	return fdatasync(fd);
}

static const char *
column(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void
record_from_row(sqlite3_stmt *st, struct chain_record *r)
{
	r->seq = sqlite3_column_int64(st, 0);
	r->at = sqlite3_column_int64(st, 1);
	r->op = column(st, 2);
	r->product = column(st, 3);
	r->subject = column(st, 4);
	r->scope = column(st, 5);
	r->state = column(st, 6);
	r->policy_version = column(st, 7);
	r->source = column(st, 8);
	r->guardian = column(st, 9);
	r->attrs = column(st, 10);
	r->peer_uid = sqlite3_column_int64(st, 11);
}

static void
broken(struct chain_verdict *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
broken(struct chain_verdict *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof v->why, fmt, ap);
	va_end(ap);
}

/*
 * A purge record against the records that name it as their eraser (st_erased, bound to its
 * seq): the same seqs as its ranges, and their hashes the same as its digest.
 */
static bool
check_purge(sqlite3_stmt *st_erased, struct chain_hasher *h, int64_t seq, const char *attrs,
    struct chain_verdict *v)
{
	json_t *a = json_loads(attrs ? attrs : "", 0, NULL), *ranges = json_object_get(a,
	    "ranges"), *range;
	const char *digest = json_string_value(json_object_get(a, "digest"));
	char *hashes = NULL, computed[CHAIN_HASH_BYTES];
	size_t i, n = 0, cap = 0;
	int64_t want = 0, last = -1, got;
	bool ok = true;
	int rc = SQLITE_ROW;

	if (!json_is_array(ranges) || digest == NULL) {
		json_decref(a);
		broken(v, seq, "purge record %" PRId64 " does not say what it erased", seq);
		return false;
	}
	sqlite3_bind_int64(st_erased, 1, seq);
	json_array_foreach(ranges, i, range) {
		int64_t from = json_integer_value(json_array_get(range, 0));
		int64_t to = json_integer_value(json_array_get(range, 1));

		for (want = from; ok && want <= to && want > last; want++) {
			if ((rc = sqlite3_step(st_erased)) != SQLITE_ROW ||
			    (got = sqlite3_column_int64(st_erased, 0)) != want) {
				ok = false;
				break;
			}
			if (n + 64 > cap) {
				char *more = realloc(hashes, cap = cap ? 2 * cap : 64 * 256);

				if (more == NULL) {
					ok = false;
					break;
				}
				hashes = more;
			}
			snprintf(computed, sizeof computed, "%s", column(st_erased, 1) ?
			    column(st_erased, 1) : "");
			memcpy(hashes + n, computed, 64);
			n += 64;
			last = want;
		}
		if (!ok)
			break;
	}
	if (ok && (rc = sqlite3_step(st_erased)) == SQLITE_ROW) {
		ok = false;
		want = INT64_MAX;
	}
	if (!ok) {
		got = rc == SQLITE_ROW ? sqlite3_column_int64(st_erased, 0) : INT64_MAX;
		if (got < want)
			broken(v, got, "record %" PRId64 " is erased, but purge record %" PRId64
			    " does not list it", got, seq);
		else
			broken(v, want, "purge record %" PRId64 " lists record %" PRId64 " as "
			    "erased, but it is not", seq, want);
	} else if (chain_digest(h, hashes ? hashes : "", n, computed) == -1 ||
	    strcmp(computed, digest) != 0) {
		broken(v, seq, "the records purge record %" PRId64 " erased do not match its "
		    "digest: their hashes were changed", seq);
		ok = false;
	} else
		v->erased_checked += (int64_t)n / 64;
	sqlite3_reset(st_erased);
	free(hashes);
	json_decref(a);
	return ok;
}

/*
 * One record against the chain so far: its place, its link, its content. An erased record's
 * content is gone: its hash is taken as stored, and checked by its purge record's digest.
 */
static bool
check_record(sqlite3_stmt *st, sqlite3_stmt *st_erased, struct chain_hasher *h,
    struct chain_verdict *v)
{
	int64_t want = v->head.seq + 1, erased_by = sqlite3_column_int64(st, 14);
	bool erased = sqlite3_column_type(st, 14) != SQLITE_NULL;
	struct chain_record r;
	const char *prev = column(st, 12), *hash = column(st, 13);
	char computed[CHAIN_HASH_BYTES];

	record_from_row(st, &r);
	if (r.seq != want) {
		broken(v, want, "record %" PRId64 " is missing: the next one is %" PRId64, want,
		    r.seq);
		return false;
	}
	if (prev == NULL || strcmp(prev, v->head.hash) != 0) {
		broken(v, want, "record %" PRId64 " does not link to record %" PRId64
		    ": removed, reordered or replaced", want, want - 1);
		return false;
	}
	if (erased && (erased_by <= want || hash == NULL || strlen(hash) != 64)) {
		broken(v, want, "record %" PRId64 " is marked erased by record %" PRId64
		    ", which cannot have erased it", want, erased_by);
		return false;
	}
	if (!erased && (hash == NULL || chain_hash(h, &r, prev, computed) == -1 ||
	    strcmp(computed, hash) != 0)) {
		broken(v, want, "record %" PRId64 " does not match its hash: edited", want);
		return false;
	}
	if (!erased && r.op != NULL && strcmp(r.op, "purge") == 0 &&
	    !check_purge(st_erased, h, want, r.attrs, v))
		return false;
	v->erased_seen += erased;
	v->head.seq = r.seq;
	memcpy(v->head.hash, hash, CHAIN_HASH_BYTES);
	v->records++;
	return true;
}

/* After the walk: an erased record whose eraser is no purge record that listed it. */
static int
check_erasers(sqlite3 *db, struct chain_verdict *v)
{
	sqlite3_stmt *st;
	int rc;

	if (v->erased_seen == v->erased_checked)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT min(seq), min(erased_by) FROM records r WHERE "
	    "erased_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM records p WHERE "
	    "p.seq = r.erased_by AND p.op = 'purge' AND p.erased_by IS NULL)", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		broken(v, sqlite3_column_int64(st, 0), "record %lld is marked erased by record "
		    "%lld, which is no purge record", (long long)sqlite3_column_int64(st, 0),
		    (long long)sqlite3_column_int64(st, 1));
	else if (rc == SQLITE_ROW)
		broken(v, v->head.seq, "%" PRId64 " records are marked erased, but the purge "
		    "records list %" PRId64, v->erased_seen, v->erased_checked);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
chain_verify(sqlite3 *db, struct chain_hasher *h, const struct chain_head *file_head,
    struct chain_verdict *v, char *err, size_t len)
{
	sqlite3_stmt *st = NULL, *st_erased = NULL;
	bool head_seen = file_head == NULL || file_head->seq == 0;
	int rc;

	memset(v, 0, sizeof *v);
	chain_head_empty(&v->head);
	if (sqlite3_prepare_v2(db, "SELECT seq, at, op, product, subject, scope, state, "
	    "policy_version, source, guardian, attrs, peer_uid, prev_hash, hash, erased_by "
	    "FROM records ORDER BY seq", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT seq, hash FROM records WHERE erased_by=? ORDER BY seq",
	    -1, &st_erased, NULL) != SQLITE_OK) {
		snprintf(err, len, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!check_record(st, st_erased, h, v))
			break;
		if (!head_seen && v->head.seq == file_head->seq) {
			head_seen = true;
			if (strcmp(v->head.hash, file_head->hash) != 0) {
				broken(v, v->head.seq, "record %" PRId64 " is not the one the "
				    "chain head file recorded: replaced", v->head.seq);
				break;
			}
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(st_erased);
	if ((rc != SQLITE_ROW && rc != SQLITE_DONE) || (v->bad_seq == 0 &&
	    check_erasers(db, v) == -1))
		return snprintf(err, len, "%s", sqlite3_errmsg(db)), -1;
	if (v->bad_seq == 0 && !head_seen)
		broken(v, v->head.seq + 1, "records %" PRId64 " to %" PRId64 " are missing: the "
		    "chain head file says the ledger ends at %" PRId64, v->head.seq + 1,
		    file_head->seq, file_head->seq);
	return 0;
}
