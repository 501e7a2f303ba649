/*
 * ledger-read.c: reading the ledger. The loop thread reads a subject's consent state for check
 * and status through its connection; the reader thread answers history and export on its own,
 * so that a long answer never holds the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger-private.h"
#include "log.h"

static enum consent_state
state_parse(const char *s)
{
	if (s == NULL)
		return CONSENT_NONE;
	if (strcmp(s, "granted") == 0)
		return CONSENT_GRANTED;
	if (strcmp(s, "withdrawn") == 0)
		return CONSENT_WITHDRAWN;
	if (strcmp(s, "refused") == 0)
		return CONSENT_REFUSED;
	return CONSENT_NONE;
}

/* Where a snapshot's strings go: the ledger's buffer, reused by the next snapshot. */
struct text_buf {
	char	*p, *end;
};

/* A copy of text in the buffer; NULL when there is none, or no room (a corrupt row). */
static char *
keep(struct text_buf *b, const unsigned char *text)
{
	size_t n = text ? strlen((const char *)text) + 1 : 0;
	char *at = b->p;

	if (text == NULL || n > (size_t)(b->end - b->p))
		return NULL;
	memcpy(at, text, n);
	b->p += n;
	return at;
}

/* The subject's scopes for product into s (and b). */
static int
read_scopes(struct ledger *l, const char *product, const char *subject,
    struct ledger_snapshot *s, struct text_buf *b)
{
	sqlite3_stmt *st = l->read_consent;
	size_t n = 0;
	int rc;

	ledger_bind_text(st, 1, product);
	ledger_bind_text(st, 2, subject);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < LEDGER_SCOPES_MAX) {
		struct consent_entry *e = &s->entries[n];

		e->scope = keep(b, sqlite3_column_text(st, 0));
		e->state = state_parse((const char *)sqlite3_column_text(st, 1));
		e->policy_version = keep(b, sqlite3_column_text(st, 2));
		e->at = sqlite3_column_int64(st, 3);
		e->has_guardian = sqlite3_column_type(st, 4) != SQLITE_NULL;
		/* A scope that cannot be kept is left out: it then counts as never given. */
		n += e->scope != NULL;
	}
	sqlite3_reset(st);
	s->state.nentries = n;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* One subjects row's attributes over what s holds. */
static void
apply_attributes(sqlite3_stmt *st, struct ledger_snapshot *s, struct text_buf *b)
{
	const char *band = (const char *)sqlite3_column_text(st, 1);
	const char *region = (const char *)sqlite3_column_text(st, 2);

	s->known = true;
	if (band && age_band_parse(band) >= 0)
		s->state.age_band = age_band_parse(band);
	if (region && region_parse(region) >= 0)
		s->state.region = region_parse(region);
	if (sqlite3_column_type(st, 3) != SQLITE_NULL)
		s->holds = keep(b, sqlite3_column_text(st, 3));
}

/*
 * The subject's attributes: the defaults (product ''), then the product's own over them. One
 * seek on the primary key's prefix reads every product's row; they come ordered by product, so
 * the defaults come first.
 */
static int
read_attributes(struct ledger *l, const char *product, const char *subject,
    struct ledger_snapshot *s, struct text_buf *b)
{
	sqlite3_stmt *st = l->read_subject;
	int rc;

	ledger_bind_text(st, 1, subject);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *p = ledger_column(st, 0);

		if (p != NULL && (*p == '\0' || strcmp(p, product) == 0))
			apply_attributes(st, s, b);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Both reads in one read transaction: one snapshot of the database, and one WAL read lock
 * taken and released instead of two, which is much of what a cache miss costs.
 */
int
ledger_snapshot(struct ledger *l, const char *product, const char *subject,
    struct ledger_snapshot *s)
{
	struct text_buf b = { l->snap_text, l->snap_text + LEDGER_SNAP_TEXT_BYTES };
	int rc = -1;

	memset(s, 0, sizeof *s);
	s->state.region = REGION_NONE;
	s->entries = l->snap_entries;
	s->state.entries = s->entries;
	if (ledger_step_done(l->read_begin) == 0) {
		rc = read_scopes(l, product, subject, s, &b) == 0 &&
		    read_attributes(l, product, subject, s, &b) == 0 ? 0 : -1;
		if (ledger_step_done(l->read_end) == -1)
			rc = -1;
	}
	if (rc == -1) {
		log_event(LOG_ERR, MSGID_LEDGER_FAILURE, (struct log_field[]){ {
		    "CONSENTD_ERROR", sqlite3_errmsg(l->rdb) } }, 1, "ledger: cannot read the "
		    "consent state: %s", sqlite3_errmsg(l->rdb));
		sqlite3_exec(l->rdb, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	s->known |= s->state.nentries > 0;
	return 0;
}

int
ledger_subject_is_adult(struct ledger *l, const char *subject)
{
	sqlite3_stmt *st = l->read_guardian;
	int rc, adult = 0;

	ledger_bind_text(st, 1, subject);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *band = (const char *)sqlite3_column_text(st, 0);

		adult = band == NULL || strcmp(band, "adult") == 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? adult : -1;
}

int
reader_prepare(struct ledger *l, char *err, size_t len)
{
	return ledger_prepare(l->qdb, "SELECT " RECORD_COLUMNS " FROM records "
	    "WHERE subject=?1 AND seq>?2 ORDER BY seq", &l->history, err, len) == -1 ||
	    ledger_prepare(l->qdb, "SELECT product, age_band, region, holds, cancelled_at "
	    "FROM subjects WHERE subject=?1 ORDER BY product", &l->subject_rows, err,
	    len) == -1 ||
	    ledger_prepare(l->qdb, "SELECT scope, state, policy_version, at, guardian FROM "
	    "consent WHERE product=?1 AND subject=?2 ORDER BY scope", &l->consent_rows, err,
	    len) == -1 ? -1 : 0;
}

static json_t *
text_or_null(sqlite3_stmt *st, int i)
{
	const char *s = ledger_column(st, i);

	return s ? json_string(s) : json_null();
}

static json_t *
int_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() :
	    json_integer(sqlite3_column_int64(st, i));
}

json_t *
record_json(sqlite3_stmt *st)
{
	static const char *const keys[] = { "seq", "at", "op", "product", "subject", "scope",
	    "state", "policy_version", "source", "guardian", "attrs", "peer_uid", "prev_hash",
	    "hash", "erased_by" };
	json_t *o = json_object();

	for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++) {
		bool number = i <= 1 || i == 11 || i == 14;

		json_object_set_new(o, keys[i], number ? int_or_null(st, i) : text_or_null(st, i));
	}
	return o;
}

/*
 * Whether a record of product belongs in w's answer: one of the products asked for (and the
 * peer may see), or none (set_subject's defaults, which apply to every product).
 */
static bool
record_wanted(const struct ledger_write *w, const char *product)
{
	if (product == NULL)
		return true;
	if (w->product != NULL)
		return strcmp(product, w->product) == 0;
	if (w->products == NULL)
		return true;
	for (size_t i = 0; i < w->nproducts; i++)
		if (strcmp(product, w->products[i]) == 0)
			return true;
	return false;
}

/*
 * The subject's records after since, up to limit (history) or LEDGER_EXPORT_MAX (export), into
 * an array; *more says whether one more was there. 0, or -1 when the database fails.
 */
static int
read_records(struct ledger *l, const struct ledger_write *w, int64_t since, int limit,
    json_t *out, bool *more)
{
	sqlite3_stmt *st = l->history;
	int rc, n = 0;

	*more = false;
	ledger_bind_text(st, 1, w->subject);
	sqlite3_bind_int64(st, 2, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!record_wanted(w, ledger_column(st, 3)))
			continue;
		if (n == limit) {
			*more = true;
			break;
		}
		json_array_append_new(out, record_json(st));
		n++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
history(struct ledger *l, struct ledger_write *w)
{
	json_t *events = json_array(), *last;
	bool more;

	if (read_records(l, w, w->since, w->limit, events, &more) == -1) {
		json_decref(events);
		return -1;
	}
	last = json_array_get(events, json_array_size(events) - 1);
	w->result = json_pack("{s:o,s:o}", "events", events, "next", more ?
	    json_incref(json_object_get(last, "seq")) : json_null());
	return 0;
}

static json_t *
attributes_json(sqlite3_stmt *st)
{
	const char *holds = ledger_column(st, 3);

	return json_pack("{s:o,s:o,s:o}", "age_band", text_or_null(st, 1), "region",
	    text_or_null(st, 2), "holds", holds ? json_loads(holds, 0, NULL) : json_array());
}

/* The current state of one product for w's subject: its scopes. */
static int
product_scopes(struct ledger *l, const struct ledger_write *w, const char *product,
    json_t *into)
{
	sqlite3_stmt *st = l->consent_rows;
	json_t *scopes = json_array();
	int rc;

	ledger_bind_text(st, 1, product);
	ledger_bind_text(st, 2, w->subject);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(scopes, json_pack("{s:o,s:o,s:o,s:o,s:o}", "scope",
		    text_or_null(st, 0), "state", text_or_null(st, 1), "policy_version",
		    text_or_null(st, 2), "at", int_or_null(st, 3), "guardian", text_or_null(st, 4)));
	sqlite3_reset(st);
	json_object_set_new(into, "scopes", scopes);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The per-product part of an export: for each product seen in records or attributes. */
static json_t *
product_entry(json_t *products, const char *product)
{
	json_t *p = json_object_get(products, product);

	if (p == NULL) {
		p = json_pack("{s:n,s:n}", "attributes", "cancelled_at");
		json_object_set_new(products, product, p);
	}
	return p;
}

/* Attributes (the defaults and per product) and when each product was cancelled. */
static int
export_attributes(struct ledger *l, const struct ledger_write *w, json_t *doc,
    json_t *products)
{
	sqlite3_stmt *st = l->subject_rows;
	int rc;

	ledger_bind_text(st, 1, w->subject);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *product = ledger_column(st, 0);
		bool has_attrs = sqlite3_column_type(st, 1) != SQLITE_NULL ||
		    sqlite3_column_type(st, 2) != SQLITE_NULL ||
		    sqlite3_column_type(st, 3) != SQLITE_NULL;
		json_t *p;

		if (product == NULL || *product == '\0') {
			json_object_set_new(doc, "attributes", attributes_json(st));
			continue;
		}
		if (!record_wanted(w, product))
			continue;
		p = product_entry(products, product);
		if (has_attrs)
			json_object_set_new(p, "attributes", attributes_json(st));
		json_object_set_new(p, "cancelled_at", int_or_null(st, 4));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Everything held about the subject: its attributes, per product the current state of every
 * scope and when it was cancelled, and every record with its hash.
 */
static int
export(struct ledger *l, struct ledger_write *w)
{
	json_t *doc = json_pack("{s:s,s:n}", "subject", w->subject, "attributes");
	json_t *products = json_object(), *records = json_array(), *r;
	const char *name;
	bool more;
	size_t i;

	if (read_records(l, w, 0, LEDGER_EXPORT_MAX, records, &more) == -1 ||
	    export_attributes(l, w, doc, products) == -1)
		goto fail;
	json_array_foreach(records, i, r)
		if ((name = json_string_value(json_object_get(r, "product"))) != NULL)
			product_entry(products, name);
	json_object_foreach(products, name, r)
		if (product_scopes(l, w, name, r) == -1)
			goto fail;
	json_object_set_new(doc, "products", products);
	json_object_set_new(doc, "records", records);
	json_object_set_new(doc, "truncated", json_boolean(more));
	w->result = doc;
	return 0;
fail:
	json_decref(products);
	json_decref(records);
	json_decref(doc);
	return -1;
}

void
reader_run(struct ledger *l, struct ledger_write *w)
{
	int rc = w->op == LEDGER_HISTORY ? history(l, w) : export(l, w);

	if (rc == -1) {
		w->failed = true;
		snprintf(w->error, sizeof w->error, "the ledger could not be read: %s",
		    sqlite3_errmsg(l->qdb));
		log_warnx("ledger: %s", w->error);
	}
}
