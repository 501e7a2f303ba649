/*
 * ledger-private.h: what the ledger's files share (ledger.c: opening, the writer and the
 * threads; ledger-read.c: the reads; ledger-purge.c: retention). Nothing outside them sees it.
 */
#ifndef CONSENTD_LEDGER_PRIVATE_H
#define CONSENTD_LEDGER_PRIVATE_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>

#include "chain.h"
#include "ledger.h"

/* The columns of a record, in the order the reads select them. */
#define RECORD_COLUMNS	"seq, at, op, product, subject, scope, state, policy_version, source, " \
			"guardian, attrs, peer_uid, prev_hash, hash, erased_by"

/* A committed write as the log tells it (ledger.c, take_notes). */
struct write_note {
	int64_t		 seq;
	enum ledger_op	 op;
	char		 product[32], scope[288], subject[136];
};

struct ledger {
	sqlite3			*wdb, *rdb;
	sqlite3_stmt		*read_begin, *read_end;
	sqlite3_stmt		*read_consent, *read_subject, *read_guardian;
	struct consent_entry	*snap_entries;		/* LEDGER_SCOPES_MAX, for ledger_snapshot */
	char			*snap_text;		/* LEDGER_SNAP_TEXT_BYTES */
	int			 lock_fd;
	int			 notify[2];		/* threads -> loop: writes are done */
	struct event		*notify_ev;
	ledger_done_cb		 done_cb;
	void			*done_arg;
	pthread_t		 writer, reader;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv, read_cv;
	struct ledger_write	*queue, **queue_tail;	/* submitted, not yet taken */
	struct ledger_write	*read_queue;		/* reads, newest first */
	struct ledger_write	*done, **done_tail;	/* finished, not yet called back */
	bool			 stopping;
	size_t			 pending;		/* loop thread only */
	/* Writer thread only. */
	int64_t			 last_seq;
	char			 last_hash[CHAIN_HASH_BYTES];
	sqlite3_stmt		*begin, *commit;
	sqlite3_stmt		*ins_record, *up_consent, *up_subject, *cancel_scopes;
	sqlite3_stmt		*read_holds, *granted_scopes, *mark_cancel, *reopen;
	sqlite3_stmt		*expired, *erase_pair, *erase_defaults, *live_records;
	sqlite3_stmt		*forget_consent, *forget_subject;
	int			 wal_pages;		/* in the WAL after the last commit */
	struct chain_hasher	*hasher;
	int			 head_fd;		/* the chain head file */
	char			 head_path[PATH_MAX + 32];
	struct chain_head	 head;			/* as last written there */
	uint64_t		 head_written_ms, head_logged_ms;
	struct write_note	*notes;			/* LEDGER_BATCH_MAX */
	size_t			 nnotes;
	/* Reader thread only. */
	sqlite3			*qdb;
	struct chain_hasher	*qhasher;
	sqlite3_stmt		*history, *subject_rows, *consent_rows;
	/* Under mu. */
	int64_t			 commits, batched, committed_seq;
	char			 path[PATH_MAX];
};

/* sqlite helpers: -1 with sqlite's message in err. */
int	 ledger_exec(sqlite3 *, const char *sql, char *err, size_t len);
int	 ledger_prepare(sqlite3 *, const char *sql, sqlite3_stmt **, char *err, size_t len);
void	 ledger_bind_text(sqlite3_stmt *, int i, const char *s);
/* Step a statement that returns no row, then reset it: 0 or -1. */
int	 ledger_step_done(sqlite3_stmt *);
const char *ledger_column(sqlite3_stmt *, int i);

/* Writer thread, inside the group's transaction: append w as the next record of the chain. */
int	 ledger_append(struct ledger *, struct ledger_write *w);

/* ledger-read.c, on the reader thread's connection. */
int	 reader_prepare(struct ledger *, char *err, size_t len);
/* A history or export: w->result, or w->failed. */
void	 reader_run(struct ledger *, struct ledger_write *w);
/* A record row selected as RECORD_COLUMNS, as history and export show it. */
json_t	*record_json(sqlite3_stmt *);

/* ledger-purge.c, on the writer's connection. */
int	 purge_prepare(struct ledger *, char *err, size_t len);
/*
 * Writer thread, inside the group's transaction: erase what has expired by now and append the
 * purge record. -1 when the database fails (the group is rolled back).
 */
int	 purge_run(struct ledger *, struct ledger_write *w, int64_t now);

#endif
