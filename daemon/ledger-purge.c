/*
 * ledger-purge.c: retention. Records of a (product, subject) outlive the subject's cancel for
 * the product by the years its policy keeps them (struct ledger_retention); then a purge
 * erases their personal content: subject, scope, policy version, source, guardian and
 * attributes. What the chain needs stays: seq, time, op, product, state, peer, and both
 * hashes. Each erased record names the purge record that erased it (erased_by), and that
 * record, appended in the same transaction, lists the erased seqs and a digest of their hashes,
 * so that verify still walks the whole chain and knows which records it cannot recompute.
 *
 * A grant after the cancel reopens the pair (the retention clock stops). A subject's defaults
 * (set_subject without a product) go once no product of the subject keeps a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ledger-private.h"
#include "log.h"

#define PAIRS_PER_QUERY	64

/* The seqs and hashes a purge erased. */
struct erased {
	struct erased_record {
		int64_t	 seq;
		char	 hash[CHAIN_HASH_BYTES];
	}		*v;
	size_t		 n, cap;
};

int
purge_prepare(struct ledger *l, char *err, size_t len)
{
	static const char erase[] = "UPDATE records SET subject=NULL, scope=NULL, "
	    "policy_version=NULL, source=NULL, guardian=NULL, attrs=NULL, erased_by=?1 "
	    "WHERE subject=?2 AND product %s AND erased_by IS NULL RETURNING seq, hash";
	char sql[300];

	snprintf(sql, sizeof sql, erase, "=?3");
	if (ledger_prepare(l->wdb, sql, &l->erase_pair, err, len) == -1)
		return -1;
	snprintf(sql, sizeof sql, erase, "IS NULL");
	return ledger_prepare(l->wdb, sql, &l->erase_defaults, err, len) == -1 ||
	    ledger_prepare(l->wdb, "SELECT subject FROM subjects WHERE product=?1 AND "
	    "cancelled_at IS NOT NULL AND cancelled_at<=?2 LIMIT ?3", &l->expired, err,
	    len) == -1 ||
	    ledger_prepare(l->wdb, "SELECT 1 FROM records WHERE subject=?1 AND product IS NOT "
	    "NULL LIMIT 1", &l->live_records, err, len) == -1 ||
	    ledger_prepare(l->wdb, "DELETE FROM consent WHERE product=?1 AND subject=?2",
	    &l->forget_consent, err, len) == -1 ||
	    ledger_prepare(l->wdb, "DELETE FROM subjects WHERE subject=?1 AND product=?2",
	    &l->forget_subject, err, len) == -1 ? -1 : 0;
}

/* now, years earlier by the calendar (UTC). */
static int64_t
years_before(int64_t now, int years)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_year -= years;
	return (int64_t)timegm(&tm);
}

/* Run an erase statement (bound but for ?1) to the end, keeping what it erased. */
static int
erase_rows(sqlite3_stmt *st, int64_t purge_seq, struct erased *e)
{
	int rc;

	sqlite3_bind_int64(st, 1, purge_seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hash = ledger_column(st, 1);

		if (e->n == e->cap) {
			size_t cap = e->cap ? 2 * e->cap : 256;
			struct erased_record *v = realloc(e->v, cap * sizeof *v);

			if (v == NULL)
				break;
			e->v = v;
			e->cap = cap;
		}
		e->v[e->n].seq = sqlite3_column_int64(st, 0);
		snprintf(e->v[e->n].hash, CHAIN_HASH_BYTES, "%s", hash ? hash : "");
		e->n++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
forget(sqlite3_stmt *st, const char *a, const char *b)
{
	ledger_bind_text(st, 1, a);
	ledger_bind_text(st, 2, b);
	return ledger_step_done(st);
}

/* Erase one expired pair; then the subject's defaults when nothing else of it is left. */
static int
erase_pair(struct ledger *l, const char *product, const char *subject, int64_t purge_seq,
    struct erased *e)
{
	sqlite3_stmt *st = l->erase_pair;
	int rc;

	ledger_bind_text(st, 2, subject);
	ledger_bind_text(st, 3, product);
	if (erase_rows(st, purge_seq, e) == -1 ||
	    forget(l->forget_consent, product, subject) == -1 ||
	    forget(l->forget_subject, subject, product) == -1)
		return -1;
	st = l->live_records;
	ledger_bind_text(st, 1, subject);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return -1;
	ledger_bind_text(l->erase_defaults, 2, subject);
	if (erase_rows(l->erase_defaults, purge_seq, e) == -1)
		return -1;
	return forget(l->forget_subject, subject, "");
}

/* The pairs of one product expired by cutoff, erased until the purge holds LEDGER_PURGE_MAX. */
static int
erase_product(struct ledger *l, const char *product, int64_t cutoff, int64_t purge_seq,
    struct erased *e, bool *more)
{
	sqlite3_stmt *st = l->expired;
	char *subjects[PAIRS_PER_QUERY];
	size_t n;
	int rc;

	do {
		if (e->n >= LEDGER_PURGE_MAX) {
			*more = true;
			return 0;
		}
		ledger_bind_text(st, 1, product);
		sqlite3_bind_int64(st, 2, cutoff);
		sqlite3_bind_int(st, 3, PAIRS_PER_QUERY);
		for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; n++)
			subjects[n] = strdup(ledger_column(st, 0));
		sqlite3_reset(st);
		for (size_t i = 0; i < n; i++) {
			if (rc == SQLITE_DONE && (subjects[i] == NULL || erase_pair(l, product,
			    subjects[i], purge_seq, e) == -1))
				rc = SQLITE_ERROR;
			free(subjects[i]);
		}
		if (rc != SQLITE_DONE)
			return -1;
	} while (n == PAIRS_PER_QUERY);
	return 0;
}

static int
cmp_erased(const void *a, const void *b)
{
	const struct erased_record *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * The purge record's attributes: how many records it erased, their seqs as ranges, and the
 * SHA-256 of their hashes concatenated in seq order.
 */
static char *
purge_attrs(struct ledger *l, struct erased *e)
{
	json_t *ranges = json_array(), *o;
	char *hashes = malloc(e->n * 64 + 1), digest[CHAIN_HASH_BYTES], *text = NULL;

	qsort(e->v, e->n, sizeof *e->v, cmp_erased);
	for (size_t i = 0, first = 0; hashes != NULL && i < e->n; i++) {
		memcpy(hashes + 64 * i, e->v[i].hash, 64);
		if (i + 1 < e->n && e->v[i + 1].seq == e->v[i].seq + 1)
			continue;
		json_array_append_new(ranges, json_pack("[I,I]", (json_int_t)e->v[first].seq,
		    (json_int_t)e->v[i].seq));
		first = i + 1;
	}
	if (hashes != NULL && chain_digest(l->hasher, hashes, e->n * 64, digest) == 0) {
		o = json_pack("{s:I,s:O,s:s}", "erased", (json_int_t)e->n, "ranges", ranges,
		    "digest", digest);
		text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	json_decref(ranges);
	free(hashes);
	return text;
}

/* Erase, then append the record that says what was erased (if anything was). */
static int
purge_erase(struct ledger *l, struct ledger_write *w, int64_t now, struct erased *e,
    bool *more)
{
	int64_t purge_seq = l->last_seq + 1;

	for (size_t i = 0; i < w->nretention; i++)
		if (erase_product(l, w->retention[i].product, years_before(now,
		    w->retention[i].years), purge_seq, e, more) == -1)
			return -1;
	if (e->n == 0 || w->dry_run)
		return 0;
	if ((w->attrs = purge_attrs(l, e)) == NULL)
		return -1;
	return ledger_append(l, w);
}

int
purge_run(struct ledger *l, struct ledger_write *w, int64_t now)
{
	struct erased e = { 0 };
	bool more = false;
	int rc;

	/* A dry run erases in a savepoint, to count exactly, and rolls it back. */
	if (w->dry_run && sqlite3_exec(l->wdb, "SAVEPOINT dry_run", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	rc = purge_erase(l, w, now, &e, &more);
	if (w->dry_run && (sqlite3_exec(l->wdb, "ROLLBACK TO dry_run", NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_exec(l->wdb, "RELEASE dry_run", NULL, NULL, NULL) != SQLITE_OK))
		rc = -1;
	free(e.v);
	if (rc == -1)
		return -1;
	json_decref(w->result);
	w->result = json_pack("{s:I,s:b}", "purged", (json_int_t)e.n, "more", more);
	return 0;
}
