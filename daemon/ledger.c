/*
 * ledger.c: the consent ledger (see ledger.h): opening it, the writer and the threads.
 *
 * Tables:
 *   records(seq, at, op, product, subject, scope, state, policy_version, source, guardian,
 *           attrs, peer_uid, prev_hash, hash, erased_by)
 *                                                  append-only, seq from 1 without gaps
 *   consent(product, subject, scope, state, policy_version, at, guardian, seq)
 *                                                  current state, derived from records
 *   subjects(subject, product, age_band, region, holds, seq, cancelled_at, cancel_seq)
 *                                                  attributes; product '' holds the defaults
 *
 * Each record is chained to the one before (chain.h). A record and its derived state are
 * written in one transaction, and a group's callbacks run only after COMMIT returned under
 * synchronous=FULL. The writer checkpoints the WAL itself, between groups (checkpoint_if_due),
 * and writes the chain head file after a commit when nothing more is queued, and at least every
 * HEAD_WRITE_MS while writes keep coming: an fsync of its own after every group would halve
 * what many writers get through. The database may therefore be ahead of the head file after a
 * crash, never behind it: start-up accepts the first and refuses the second.
 *
 * A purge (ledger-purge.c) is the one change to a record once written: it erases the personal
 * content of expired records, keeping their hashes, and marks them erased_by its own record.
 *
 * Threads: the writer thread owns the write connection and the chain head; the reader thread
 * answers verify, history and export on a connection of its own; the loop thread owns the read
 * connection for check and status. They share only the queues below, under one mutex.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "clock.h"
#include "ledger-private.h"
#include "ledger-schema.h"
#include "log.h"

#define LEDGER_CHECKPOINT_PAGES	1000	/* sqlite's default for its automatic checkpoint */
#define HEAD_WRITE_MS		100	/* the head file's lag, at most, while writes keep coming */
#define HEAD_LOG_MS		60000	/* the head goes to the log at most this often */

static const char *const op_names[LEDGER_PURGE + 1] = {
	[LEDGER_GRANT] = "grant", [LEDGER_WITHDRAW] = "withdraw", [LEDGER_REFUSE] = "refuse",
	[LEDGER_SET_SUBJECT] = "set_subject", [LEDGER_CANCEL] = "cancel",
	[LEDGER_PURGE] = "purge",
};
static const char *const op_states[LEDGER_PURGE + 1] = {
	[LEDGER_GRANT] = "granted", [LEDGER_WITHDRAW] = "withdrawn", [LEDGER_REFUSE] = "refused",
	[LEDGER_CANCEL] = "withdrawn",
};

static const char schema[] = LEDGER_SCHEMA_SQL;

/*
 * Version 1 had no erasure (subject NOT NULL, no erased_by) and kept no cancel time: the
 * records table is rebuilt, and each pair's last cancel not followed by a grant filled in.
 */
static const char migrate_v1[] =
	"BEGIN IMMEDIATE;"
	LEDGER_RECORDS_TABLE("records_v2")
	"INSERT INTO records_v2 SELECT *, NULL FROM records;"
	"DROP TABLE records;"
	"ALTER TABLE records_v2 RENAME TO records;"
	"ALTER TABLE subjects ADD COLUMN cancelled_at INTEGER;"
	"ALTER TABLE subjects ADD COLUMN cancel_seq INTEGER;"
	"INSERT INTO subjects (subject, product, seq, cancelled_at, cancel_seq)"
	" SELECT c.subject, c.product, c.seq, c.at, c.seq FROM records c"
	" WHERE c.op = 'cancel' AND NOT EXISTS (SELECT 1 FROM records g WHERE g.subject ="
	" c.subject AND g.product = c.product AND g.seq > c.seq AND g.op IN ('grant', 'cancel'))"
	" ON CONFLICT (subject, product) DO UPDATE SET cancelled_at = excluded.cancelled_at,"
	" cancel_seq = excluded.cancel_seq;"
	"PRAGMA user_version=2;"
	"COMMIT;";

static void	*writer_main(void *);
static void	*reader_main(void *);
static void	 notify_cb(evutil_socket_t, short, void *);

int
ledger_exec(sqlite3 *db, const char *sql, char *err, size_t len)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, len, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

int
ledger_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t len)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, len, "%s", sqlite3_errmsg(db));
	return -1;
}

void
ledger_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
ledger_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

const char *
ledger_column(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* mkdir -p for the state directory. */
static int
make_dir(const char *dir, char *err, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
		return snprintf(err, len, "state directory path too long"), -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) == -1 && errno != EEXIST)
			return snprintf(err, len, "cannot create %s: %s", buf, strerror(errno)), -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) == -1 && errno != EEXIST)
		return snprintf(err, len, "cannot create %s: %s", buf, strerror(errno)), -1;
	if (stat(buf, &st) == -1 || !S_ISDIR(st.st_mode))
		return snprintf(err, len, "%s is not a directory", buf), -1;
	if (access(buf, W_OK | X_OK) == -1)
		return snprintf(err, len, "cannot write to %s: %s", buf, strerror(errno)), -1;
	return 0;
}

/* The hash of w as record seq chained to prev (writer thread). */
static int
record_hash(struct ledger *l, const struct ledger_write *w, const char *state,
    const char *prev, char out[CHAIN_HASH_BYTES])
{
	struct chain_record r = {
		.seq = w->seq, .at = w->at, .peer_uid = w->peer_uid, .op = op_names[w->op],
		.product = w->product, .subject = w->subject, .scope = w->scope, .state = state,
		.policy_version = w->policy_version, .source = w->source, .guardian = w->guardian,
		.attrs = w->attrs,
	};

	return chain_hash(l->hasher, &r, prev, out);
}

/* set_subject: the attributes it sets, over what was set before. */
static int
derive_subject(struct ledger *l, const struct ledger_write *w)
{
	json_t *a = json_loads(w->attrs ? w->attrs : "{}", 0, NULL);
	json_t *holds = json_object_get(a, "holds");
	char *holds_text = holds ? json_dumps(holds, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = l->up_subject;
	int rc;

	ledger_bind_text(st, 1, w->subject);
	ledger_bind_text(st, 2, w->product ? w->product : "");
	ledger_bind_text(st, 3, json_string_value(json_object_get(a, "age_band")));
	ledger_bind_text(st, 4, json_string_value(json_object_get(a, "region")));
	ledger_bind_text(st, 5, holds_text);
	sqlite3_bind_int64(st, 6, w->seq);
	rc = ledger_step_done(st);
	free(holds_text);
	json_decref(a);
	return rc;
}

/*
 * cancel: every granted scope withdrawn (the scopes go back in w->result, for subscribers), and
 * the retention clock started for the pair.
 */
static int
derive_cancel(struct ledger *l, struct ledger_write *w)
{
	sqlite3_stmt *st = l->granted_scopes;
	int rc;

	json_decref(w->result);
	w->result = json_array();
	ledger_bind_text(st, 1, w->product);
	ledger_bind_text(st, 2, w->subject);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(w->result, json_string(ledger_column(st, 0)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	st = l->cancel_scopes;
	sqlite3_bind_int64(st, 1, w->at);
	sqlite3_bind_int64(st, 2, w->seq);
	ledger_bind_text(st, 3, w->product);
	ledger_bind_text(st, 4, w->subject);
	if (ledger_step_done(st) == -1)
		return -1;
	st = l->mark_cancel;
	ledger_bind_text(st, 1, w->subject);
	ledger_bind_text(st, 2, w->product);
	sqlite3_bind_int64(st, 3, w->seq);
	sqlite3_bind_int64(st, 4, w->at);
	return ledger_step_done(st);
}

/* grant, withdraw, refuse: the scope's current state; a grant also reopens a cancelled pair. */
static int
derive_consent(struct ledger *l, const struct ledger_write *w, const char *state)
{
	sqlite3_stmt *st = l->up_consent;

	ledger_bind_text(st, 1, w->product);
	ledger_bind_text(st, 2, w->subject);
	ledger_bind_text(st, 3, w->scope);
	ledger_bind_text(st, 4, state);
	ledger_bind_text(st, 5, w->policy_version);
	sqlite3_bind_int64(st, 6, w->at);
	ledger_bind_text(st, 7, w->guardian);
	sqlite3_bind_int64(st, 8, w->seq);
	if (ledger_step_done(st) == -1)
		return -1;
	if (w->op != LEDGER_GRANT)
		return 0;
	st = l->reopen;
	ledger_bind_text(st, 1, w->subject);
	ledger_bind_text(st, 2, w->product);
	return ledger_step_done(st);
}

int
ledger_append(struct ledger *l, struct ledger_write *w)
{
	const char *state = op_states[w->op];
	char hash[CHAIN_HASH_BYTES];
	sqlite3_stmt *st = l->ins_record;
	int rc = 0;

	w->seq = l->last_seq + 1;
	if (record_hash(l, w, state, l->last_hash, hash) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, w->seq);
	sqlite3_bind_int64(st, 2, w->at);
	ledger_bind_text(st, 3, op_names[w->op]);
	ledger_bind_text(st, 4, w->product);
	ledger_bind_text(st, 5, w->subject);
	ledger_bind_text(st, 6, w->scope);
	ledger_bind_text(st, 7, state);
	ledger_bind_text(st, 8, w->policy_version);
	ledger_bind_text(st, 9, w->source);
	ledger_bind_text(st, 10, w->guardian);
	ledger_bind_text(st, 11, w->attrs);
	sqlite3_bind_int64(st, 12, w->peer_uid);
	ledger_bind_text(st, 13, l->last_hash);
	ledger_bind_text(st, 14, hash);
	if (ledger_step_done(st) == -1)
		return -1;
	if (w->op == LEDGER_SET_SUBJECT)
		rc = derive_subject(l, w);
	else if (w->op == LEDGER_CANCEL)
		rc = derive_cancel(l, w);
	else if (w->op != LEDGER_PURGE)
		rc = derive_consent(l, w, state);
	if (rc == -1)
		return -1;
	l->last_seq = w->seq;
	memcpy(l->last_hash, hash, sizeof hash);
	return 0;
}

/*
 * cancel is refused while the subject holds a hold for the product (its own, or else the
 * defaults): checked here, in the transaction, so that a set_subject just before it counts.
 * 1: blocked (w->error says why), 0: not, -1: the database failed.
 */
static int
cancel_blocked(struct ledger *l, struct ledger_write *w)
{
	sqlite3_stmt *st = l->read_holds;
	json_t *holds = NULL;
	int rc, blocked = 0;

	ledger_bind_text(st, 1, w->subject);
	ledger_bind_text(st, 2, w->product);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		holds = json_loads(ledger_column(st, 0), 0, NULL);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (json_array_size(holds) > 0) {
		char *text = json_dumps(holds, JSON_COMPACT);

		snprintf(w->error, sizeof w->error, "%s cannot be cancelled for %s while it holds "
		    "%.80s", w->product, w->subject, text ? text : "a hold");
		free(text);
		blocked = 1;
	}
	json_decref(holds);
	return blocked;
}

/* One write of a group, inside its transaction: 0, or -1 when the database failed. */
static int
commit_one(struct ledger *l, struct ledger_write *w, int64_t now)
{
	int rc;

	w->at = now;
	if (w->op == LEDGER_PURGE)
		return purge_run(l, w, now);
	if (w->op == LEDGER_CANCEL) {
		if ((rc = cancel_blocked(l, w)) != 0) {
			w->blocked = rc == 1;
			return rc == 1 ? 0 : -1;
		}
	}
	return ledger_append(l, w);
}

static size_t
group_size(const struct ledger_write *group)
{
	size_t n = 0;

	for (; group != NULL; group = group->next)
		n++;
	return n;
}

/* Commit one group (writer thread). On failure every write of the group is marked failed. */
static void
commit_group(struct ledger *l, struct ledger_write *group)
{
	char err[160] = "";
	int64_t seq0 = l->last_seq, now = clock_now();
	char hash0[CHAIN_HASH_BYTES];
	struct ledger_write *w;
	int rc = ledger_step_done(l->begin);

	memcpy(hash0, l->last_hash, sizeof hash0);
	for (w = group; rc == 0 && w != NULL; w = w->next) {
		if (commit_one(l, w, now) == -1) {
			snprintf(err, sizeof err, "%s", sqlite3_errmsg(l->wdb));
			rc = -1;
		}
	}
	if (rc == 0)
		rc = ledger_step_done(l->commit);
	if (rc == 0)
		return;
	if (err[0] == '\0')
		snprintf(err, sizeof err, "%s", sqlite3_errmsg(l->wdb));
	log_event(LOG_ERR, MSGID_LEDGER_FAILURE, (struct log_field[]){ { "CONSENTD_ERROR", err } },
	    1, "ledger: commit failed, %zu writes refused: %s", group_size(group), err);
	sqlite3_exec(l->wdb, "ROLLBACK", NULL, NULL, NULL);
	l->last_seq = seq0;
	memcpy(l->last_hash, hash0, sizeof hash0);
	for (w = group; w != NULL; w = w->next) {
		w->failed = true;
		w->blocked = false;
		w->seq = 0;
		json_decref(w->result);
		w->result = NULL;
		snprintf(w->error, sizeof w->error, "the ledger could not be written: %s", err);
	}
}

/* Take up to LEDGER_BATCH_MAX queued writes (under mu): one transaction, one fsync. */
static struct ledger_write *
take_group(struct ledger *l, size_t *n)
{
	struct ledger_write *group = l->queue, **tail;

	*n = 0;
	for (tail = &group; *tail != NULL && *n < LEDGER_BATCH_MAX; tail = &(*tail)->next)
		(*n)++;
	l->queue = *tail;
	if (l->queue == NULL)
		l->queue_tail = &l->queue;
	*tail = NULL;
	return group;
}

/*
 * Hand finished writes to the loop thread (under mu). One byte wakes the loop; while earlier
 * writes still wait in the done list their byte is unread, so none is written.
 */
static void
push_done(struct ledger *l, struct ledger_write *list)
{
	struct ledger_write *w;
	bool wake = l->done == NULL;

	for (w = list; w->next != NULL; w = w->next)
		;
	*l->done_tail = list;
	l->done_tail = &w->next;
	if (wake && write(l->notify[1], "", 1) == -1 && errno != EAGAIN)
		log_warn("ledger: notify");
}

/* Writer thread: a group is committed (under mu). */
static void
hand_back(struct ledger *l, struct ledger_write *group, size_t n)
{
	l->commits++;
	l->batched += n;
	l->committed_seq = l->last_seq;
	push_done(l, group);
}

/* Writer thread: the WAL's size in pages after each commit (see checkpoint_if_due). */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ledger *l = arg;

	(void)db;
	(void)name;
	l->wal_pages = pages;
	return SQLITE_OK;
}

/*
 * Copy the WAL back into the database once it holds LEDGER_CHECKPOINT_PAGES, as sqlite's
 * automatic checkpoint would, but after the group's callers were told: run inside COMMIT it
 * would hold their replies for the whole checkpoint (its own fsyncs). A checkpoint a reader
 * keeps from finishing is retried after the next commit.
 */
static void
checkpoint_if_due(struct ledger *l)
{
	if (l->wal_pages < LEDGER_CHECKPOINT_PAGES)
		return;
	if (sqlite3_wal_checkpoint_v2(l->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK)
		log_warnx("ledger: checkpoint: %s", sqlite3_errmsg(l->wdb));
	l->wal_pages = 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Writer thread: bring the head file up to the last commit, when the writer is idle or the file
 * is HEAD_WRITE_MS old; and the head to the log, at most every HEAD_LOG_MS and when stopping.
 */
static void
write_head(struct ledger *l, bool idle, bool stopping)
{
	uint64_t now = now_ms();

	if (stopping)
		log_info("ledger head: seq %lld hash %s", (long long)l->last_seq, l->last_hash);
	if (l->head.seq == l->last_seq || (!idle && now - l->head_written_ms < HEAD_WRITE_MS))
		return;
	l->head.seq = l->last_seq;
	memcpy(l->head.hash, l->last_hash, CHAIN_HASH_BYTES);
	l->head_written_ms = now;
	if (chain_head_write(l->head_fd, &l->head) == -1)
		log_warn("ledger: cannot write the chain head file");
	if (!stopping && now - l->head_logged_ms >= HEAD_LOG_MS) {
		l->head_logged_ms = now;
		log_info("ledger head: seq %lld hash %s", (long long)l->head.seq, l->head.hash);
	}
}

/*
 * Writer thread: what the log says of each committed consent write, copied before the group
 * goes back to the loop thread and logged after, so that logging never delays a reply. The
 * subject id is the only personal datum logged: never the source text or the attributes.
 */
static void
take_notes(struct ledger *l, const struct ledger_write *group)
{
	l->nnotes = 0;
	for (const struct ledger_write *w = group; w != NULL; w = w->next) {
		struct write_note *n = &l->notes[l->nnotes];

		if (w->failed || w->blocked || w->seq == 0 || w->op == LEDGER_PURGE)
			continue;
		n->seq = w->seq;
		n->op = w->op;
		snprintf(n->product, sizeof n->product, "%s", w->product ? w->product : "");
		snprintf(n->scope, sizeof n->scope, "%s", w->scope ? w->scope : "");
		snprintf(n->subject, sizeof n->subject, "%s", w->subject);
		l->nnotes++;
	}
}

static void
log_notes(struct ledger *l)
{
	for (size_t i = 0; i < l->nnotes; i++) {
		const struct write_note *n = &l->notes[i];
		const char *state = op_states[n->op] ? op_states[n->op] : "-";
		char seq[24];
		struct log_field f[] = {
			{ "CONSENTD_SEQ", seq }, { "CONSENTD_OP", op_names[n->op] },
			{ "CONSENTD_PRODUCT", n->product[0] ? n->product : NULL },
			{ "CONSENTD_SCOPE", n->scope[0] ? n->scope : NULL },
			{ "CONSENTD_STATE", op_states[n->op] }, { "CONSENTD_SUBJECT", n->subject },
		};

		snprintf(seq, sizeof seq, "%lld", (long long)n->seq);
		log_event(LOG_INFO, MSGID_CONSENT_WRITE, f, sizeof f / sizeof f[0],
		    "consent seq %s: %s %s %s %s for %s", seq, op_names[n->op],
		    n->product[0] ? n->product : "(every product)", n->scope[0] ? n->scope : "-",
		    state, n->subject);
	}
}

static void *
writer_main(void *arg)
{
	struct ledger *l = arg;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct ledger_write *group;
		size_t n;
		bool idle;

		while (l->queue == NULL && !l->stopping)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->queue == NULL && l->stopping)
			break;
		group = take_group(l, &n);
		pthread_mutex_unlock(&l->mu);

		commit_group(l, group);
		take_notes(l, group);

		pthread_mutex_lock(&l->mu);
		hand_back(l, group, n);
		idle = l->queue == NULL;
		pthread_mutex_unlock(&l->mu);
		log_notes(l);
		checkpoint_if_due(l);
		write_head(l, idle, false);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	write_head(l, true, true);
	return NULL;
}

/*
 * Reader thread: one walk of the chain answers every verify request in list. The head file is
 * read before the walk's snapshot begins, and written only after a commit, so the snapshot
 * holds at least what the file says; a torn read of the file (the writer rewriting it at that
 * moment) is read again.
 */
static void
verify_all(struct ledger *l, struct ledger_write *list)
{
	struct chain_verdict v;
	struct chain_head file;
	char err[200] = "";
	int found = -1, rc = -1;

	for (int tries = 0; tries < 3 && found == -1; tries++)
		found = chain_head_read(l->head_path, &file, err, sizeof err);
	if (found != -1)
		rc = chain_verify(l->qdb, l->qhasher, found ? &file : NULL, &v, err, sizeof err);
	for (struct ledger_write *w = list; w != NULL; w = w->next) {
		if (w->op != LEDGER_VERIFY)
			continue;
		if (rc == -1) {
			w->failed = true;
			snprintf(w->error, sizeof w->error, "the ledger could not be read: %s", err);
		} else if ((w->verdict = malloc(sizeof v)) != NULL)
			*w->verdict = v;
		else {
			w->failed = true;
			snprintf(w->error, sizeof w->error, "out of memory");
		}
	}
}

/* Reader thread: the reads taken from the queue; verify requests share one walk. */
static void
read_all(struct ledger *l, struct ledger_write *list)
{
	bool verify = false;

	for (struct ledger_write *w = list; w != NULL; w = w->next) {
		if (w->op == LEDGER_VERIFY)
			verify = true;
		else
			reader_run(l, w);
	}
	if (verify)
		verify_all(l, list);
}

static void *
reader_main(void *arg)
{
	struct ledger *l = arg;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct ledger_write *list;

		while (l->read_queue == NULL && !l->stopping)
			pthread_cond_wait(&l->read_cv, &l->mu);
		if ((list = l->read_queue) == NULL)
			break;
		l->read_queue = NULL;
		pthread_mutex_unlock(&l->mu);
		read_all(l, list);
		pthread_mutex_lock(&l->mu);
		push_done(l, list);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Loop thread: call back every write of the groups committed since last time, in order. */
static void
deliver_done(struct ledger *l)
{
	struct ledger_write *list, *next;

	pthread_mutex_lock(&l->mu);
	list = l->done;
	l->done = NULL;
	l->done_tail = &l->done;
	pthread_mutex_unlock(&l->mu);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		l->pending--;
		l->done_cb(list, l->done_arg);
	}
}

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	/* One read: bytes left over only make the (level-triggered) event fire again. */
	if (read(fd, buf, sizeof buf) == -1 && errno != EAGAIN)
		log_warn("ledger: notify");
	deliver_done(arg);
}

/* Read the chain head from the database (writer connection, before the thread starts). */
static int
load_head(struct ledger *l, char *err, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	memset(l->last_hash, '0', 64);
	l->last_hash[64] = '\0';
	if (ledger_prepare(l->wdb, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1", &st,
	    err, len) == -1)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);

		l->last_seq = sqlite3_column_int64(st, 0);
		if (h == NULL || strlen((const char *)h) != 64) {
			snprintf(err, len, "record %lld has no valid hash", (long long)l->last_seq);
			sqlite3_finalize(st);
			return -1;
		}
		memcpy(l->last_hash, h, 65);
	} else if (rc != SQLITE_DONE) {
		snprintf(err, len, "%s", sqlite3_errmsg(l->wdb));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* Create the schema, or bring an older one up to LEDGER_SCHEMA_VERSION. */
static int
set_up_schema(struct ledger *l, char *err, size_t len)
{
	int version = -1;
	sqlite3_stmt *st;

	if (ledger_prepare(l->wdb, "PRAGMA user_version", &st, err, len) == -1)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > LEDGER_SCHEMA_VERSION)
		return snprintf(err, len, "%s has schema version %d; this consentd knows %d",
		    l->path, version, LEDGER_SCHEMA_VERSION), -1;
	if (version == 1) {
		log_info("ledger: migrating %s from schema version 1 to 2", l->path);
		if (ledger_exec(l->wdb, migrate_v1, err, len) == -1) {
			sqlite3_exec(l->wdb, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (ledger_exec(l->wdb, schema, err, len) == -1 ||
	    ledger_exec(l->wdb, "PRAGMA user_version=2", err, len) == -1)
		return -1;
	return 0;
}

/* The writer's statements: appending a record and deriving the current state from it. */
static int
prepare_writer(struct ledger *l, char *err, size_t len)
{
	static const struct { size_t off; const char *sql; } stmts[] = {
#define W(field, sql)	{ offsetof(struct ledger, field), sql }
		W(begin, "BEGIN IMMEDIATE"),
		W(commit, "COMMIT"),
		W(ins_record, LEDGER_INSERT_RECORD_SQL),
		W(up_consent, LEDGER_UPSERT_CONSENT_SQL),
		W(up_subject, LEDGER_UPSERT_SUBJECT_SQL),
		W(cancel_scopes, "UPDATE consent SET state='withdrawn', at=?1, seq=?2 "
		    "WHERE product=?3 AND subject=?4 AND state='granted'"),
		W(granted_scopes, "SELECT scope FROM consent WHERE product=?1 AND subject=?2 AND "
		    "state='granted' ORDER BY scope"),
		W(mark_cancel, "INSERT INTO subjects (subject, product, seq, cancelled_at, "
		    "cancel_seq) VALUES (?1,?2,?3,?4,?3) ON CONFLICT (subject, product) DO UPDATE "
		    "SET cancelled_at=?4, cancel_seq=?3"),
		W(reopen, "UPDATE subjects SET cancelled_at=NULL, cancel_seq=NULL "
		    "WHERE subject=?1 AND product=?2 AND cancelled_at IS NOT NULL"),
		/* The product's own holds, else the defaults ('' sorts last in DESC). */
		W(read_holds, "SELECT holds FROM subjects WHERE subject=?1 AND product IN ('', ?2) "
		    "AND holds IS NOT NULL ORDER BY product DESC LIMIT 1"),
#undef W
	};

	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (ledger_prepare(l->wdb, stmts[i].sql, (sqlite3_stmt **)((char *)l +
		    stmts[i].off), err, len) == -1)
			return -1;
	return purge_prepare(l, err, len);
}

/* A read-only connection of the loop or the reader thread. */
static int
open_reader(struct ledger *l, sqlite3 **db, char *err, size_t len)
{
	if (sqlite3_open_v2(l->path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return snprintf(err, len, "cannot open %s for reading: %s", l->path,
		    *db ? sqlite3_errmsg(*db) : "out of memory"), -1;
	sqlite3_busy_timeout(*db, 1000);
	return 0;
}

static int
open_db(struct ledger *l, char *err, size_t len)
{
	if (sqlite3_open_v2(l->path, &l->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return snprintf(err, len, "cannot open %s: %s", l->path,
		    l->wdb ? sqlite3_errmsg(l->wdb) : "out of memory"), -1;
	sqlite3_busy_timeout(l->wdb, 5000);
	if (ledger_exec(l->wdb, "PRAGMA journal_mode=WAL", err, len) == -1 ||
	    ledger_exec(l->wdb, "PRAGMA synchronous=FULL", err, len) == -1 ||
	    set_up_schema(l, err, len) == -1)
		return -1;
	/* Replaces sqlite's automatic checkpoint: see checkpoint_if_due. */
	sqlite3_wal_hook(l->wdb, wal_hook, l);
	if (prepare_writer(l, err, len) == -1 || load_head(l, err, len) == -1)
		return -1;
	l->committed_seq = l->last_seq;
	if (open_reader(l, &l->rdb, err, len) == -1 || open_reader(l, &l->qdb, err, len) == -1)
		return -1;
	if (ledger_prepare(l->rdb, "BEGIN", &l->read_begin, err, len) == -1 ||
	    ledger_prepare(l->rdb, "COMMIT", &l->read_end, err, len) == -1 ||
	    ledger_prepare(l->rdb, "SELECT scope, state, policy_version, at, guardian FROM "
	    "consent WHERE product=? AND subject=? LIMIT 512", &l->read_consent, err, len) == -1 ||
	    ledger_prepare(l->rdb, "SELECT product, age_band, region, holds FROM subjects "
	    "WHERE subject=? ORDER BY product", &l->read_subject, err, len) == -1 ||
	    ledger_prepare(l->rdb, "SELECT age_band FROM subjects WHERE subject=? AND product=''",
	    &l->read_guardian, err, len) == -1)
		return -1;
	return reader_prepare(l, err, len);
}

/* The stored hash of record seq into out: 1, 0 when there is no such record, -1 on error. */
static int
hash_at(sqlite3 *db, int64_t seq, char out[CHAIN_HASH_BYTES])
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(db, "SELECT hash FROM records WHERE seq=?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
		snprintf(out, CHAIN_HASH_BYTES, "%s", (const char *)sqlite3_column_text(st, 0));
		found = 1;
	} else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		found = -1;
	sqlite3_finalize(st);
	return found;
}

/*
 * Compare the database's tail with the head file, before serving. Behind its head, the ledger
 * lost records; a record at the head's seq with another hash was replaced: both refuse to start,
 * since every answer would rest on a ledger that was altered. Ahead of the head is a crash
 * between a commit and the head's next write: accepted. Then the file is brought up to date.
 */
static int
check_head(struct ledger *l, const char *dir, char *err, size_t len)
{
	char path[PATH_MAX + 32], hash[CHAIN_HASH_BYTES];
	struct chain_head file;
	int found;

	snprintf(path, sizeof path, "%s/" CHAIN_HEAD_FILE, dir);
	snprintf(l->head_path, sizeof l->head_path, "%s", path);
	if ((found = chain_head_read(path, &file, err, len)) == -1)
		return -1;
	if (found == 0 && l->last_seq > 0)
		log_warnx("ledger: %s is missing; starting it at record %lld, so a tail removed "
		    "before now would not show", path, (long long)l->last_seq);
	if (found == 1 && file.seq > l->last_seq)
		return snprintf(err, len, "the ledger ends at record %lld but %s says it ends at "
		    "%lld: records were removed (consentd --verify names the first)",
		    (long long)l->last_seq, path, (long long)file.seq), -1;
	if (found == 1 && file.seq > 0 && (hash_at(l->wdb, file.seq, hash) != 1 ||
	    strcmp(hash, file.hash) != 0))
		return snprintf(err, len, "record %lld is not the one %s recorded: the ledger "
		    "was altered (consentd --verify names the first bad record)",
		    (long long)file.seq, path), -1;
	if ((l->head_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) == -1)
		return snprintf(err, len, "cannot open %s: %s", path, strerror(errno)), -1;
	l->head.seq = l->last_seq;
	memcpy(l->head.hash, l->last_hash, CHAIN_HASH_BYTES);
	if (chain_head_write(l->head_fd, &l->head) == -1)
		return snprintf(err, len, "cannot write %s: %s", path, strerror(errno)), -1;
	return 0;
}

int
ledger_verify_dir(const char *dir, struct chain_verdict *v, char *err, size_t len)
{
	char path[PATH_MAX + 32], head[PATH_MAX + 32];
	struct chain_hasher *h = NULL;
	struct chain_head file;
	sqlite3 *db = NULL;
	int found, rc = -1;

	snprintf(path, sizeof path, "%s/ledger.db", dir);
	snprintf(head, sizeof head, "%s/" CHAIN_HEAD_FILE, dir);
	if (access(path, F_OK) == -1)
		return snprintf(err, len, "no ledger at %s", path), -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		snprintf(err, len, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) :
		    "out of memory");
	else if ((found = chain_head_read(head, &file, err, len)) != -1) {
		if ((h = chain_hasher_new()) == NULL)
			snprintf(err, len, "cannot set up SHA-256");
		else
			rc = chain_verify(db, h, found ? &file : NULL, v, err, len);
	}
	chain_hasher_free(h);
	sqlite3_close(db);
	return rc;
}

/* Close db with every statement prepared on it. */
static void
close_db(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (db == NULL)
		return;
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Release what ledger_open set up (the writer is not running). */
static void
ledger_free(struct ledger *l)
{
	if (l->notify_ev)
		event_free(l->notify_ev);
	close_db(l->qdb);
	close_db(l->rdb);
	close_db(l->wdb);
	chain_hasher_free(l->hasher);
	chain_hasher_free(l->qhasher);
	for (int i = 0; i < 2; i++)
		if (l->notify[i] != -1)
			close(l->notify[i]);
	if (l->head_fd != -1)
		close(l->head_fd);
	if (l->lock_fd != -1)
		close(l->lock_fd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->read_cv);
	free(l->notes);
	free(l->snap_entries);
	free(l->snap_text);
	free(l);
}

struct ledger *
ledger_open(const char *dir, struct event_base *base, ledger_done_cb cb, void *arg,
    char *err, size_t len)
{
	struct ledger *l = calloc(1, sizeof *l);
	char lockpath[PATH_MAX];

	if (l == NULL)
		return snprintf(err, len, "out of memory"), NULL;
	l->lock_fd = l->head_fd = l->notify[0] = l->notify[1] = -1;
	l->queue_tail = &l->queue;
	l->done_tail = &l->done;
	l->done_cb = cb;
	l->done_arg = arg;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->read_cv, NULL);
	if (make_dir(dir, err, len) == -1)
		goto fail;
	snprintf(lockpath, sizeof lockpath, "%s/consentd.lock", dir);
	snprintf(l->path, sizeof l->path, "%s/ledger.db", dir);
	if ((l->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		snprintf(err, len, "cannot open %s: %s", lockpath, strerror(errno));
		goto fail;
	}
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, len, "%s is in use by another consentd", dir);
		goto fail;
	}
	if (open_db(l, err, len) == -1 || check_head(l, dir, err, len) == -1)
		goto fail;
	if ((l->notes = calloc(LEDGER_BATCH_MAX, sizeof *l->notes)) == NULL ||
	    (l->snap_entries = calloc(LEDGER_SCOPES_MAX, sizeof *l->snap_entries)) == NULL ||
	    (l->snap_text = malloc(LEDGER_SNAP_TEXT_BYTES)) == NULL) {
		snprintf(err, len, "out of memory");
		goto fail;
	}
	if ((l->hasher = chain_hasher_new()) == NULL ||
	    (l->qhasher = chain_hasher_new()) == NULL) {
		snprintf(err, len, "cannot set up SHA-256");
		goto fail;
	}
	if (pipe2(l->notify, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		goto fail;
	}
	l->notify_ev = event_new(base, l->notify[0], EV_READ | EV_PERSIST, notify_cb, l);
	if (l->notify_ev == NULL || event_add(l->notify_ev, NULL) == -1) {
		snprintf(err, len, "cannot watch the ledger's notifications");
		goto fail;
	}
	if (pthread_create(&l->reader, NULL, reader_main, l) != 0) {
		snprintf(err, len, "cannot start the ledger reader");
		goto fail;
	}
	if (pthread_create(&l->writer, NULL, writer_main, l) != 0) {
		snprintf(err, len, "cannot start the ledger writer");
		pthread_mutex_lock(&l->mu);
		l->stopping = true;
		pthread_cond_signal(&l->read_cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->reader, NULL);
		goto fail;
	}
	return l;
fail:
	ledger_free(l);
	return NULL;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_signal(&l->cv);
	pthread_cond_signal(&l->read_cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->writer, NULL);
	pthread_join(l->reader, NULL);
	deliver_done(l);
	ledger_free(l);
}

void
ledger_submit(struct ledger *l, struct ledger_write *w)
{
	bool was_empty;

	w->next = NULL;
	l->pending++;
	pthread_mutex_lock(&l->mu);
	if (LEDGER_OP_READS(w->op)) {
		/* Reads go in any order: a connection waits for its own before the next. */
		w->next = l->read_queue;
		l->read_queue = w;
		pthread_cond_signal(&l->read_cv);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	was_empty = l->queue == NULL;
	*l->queue_tail = w;
	l->queue_tail = &w->next;
	/* The writer waits only for an empty queue; later writes need no wake-up of their own. */
	if (was_empty)
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

size_t
ledger_pending(const struct ledger *l)
{
	return l->pending;
}

void
ledger_write_free(struct ledger_write *w)
{
	if (w == NULL)
		return;
	free(w->product);
	free(w->subject);
	free(w->scope);
	free(w->policy_version);
	free(w->source);
	free(w->guardian);
	free(w->attrs);
	for (size_t i = 0; i < w->nproducts; i++)
		free(w->products[i]);
	free(w->products);
	for (size_t i = 0; i < w->nretention; i++)
		free(w->retention[i].product);
	free(w->retention);
	free(w->verdict);
	json_decref(w->result);
	free(w);
}

void
ledger_get_stats(struct ledger *l, struct ledger_stats *s)
{
	struct stat st;
	char wal[PATH_MAX + 8];

	memset(s, 0, sizeof *s);
	pthread_mutex_lock(&l->mu);
	s->commits = l->commits;
	s->batched_writes = l->batched;
	s->last_seq = l->committed_seq;
	pthread_mutex_unlock(&l->mu);
	s->records = s->last_seq;
	if (stat(l->path, &st) == 0)
		s->db_bytes = st.st_size;
	snprintf(wal, sizeof wal, "%s-wal", l->path);
	if (stat(wal, &st) == 0)
		s->db_bytes += st.st_size;
}
