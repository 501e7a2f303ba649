/*
 * ledger.h: the consent ledger (CONTRACT §7).
 *
 * Append-only records in sqlite (WAL, synchronous=FULL), each chained to the one before by
 * SHA-256, and the current state per (product, subject, scope) derived from them in the same
 * transaction. Writes are committed by a writer thread in groups: everything submitted while
 * the previous commit ran shares the next one. The loop thread submits and is called back once
 * the group is durable; it reads current state through its own connection, which sees only
 * committed data.
 */
#ifndef CONSENTD_LEDGER_H
#define CONSENTD_LEDGER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>
#include <jansson.h>

#include "decide.h"

#define LEDGER_SCHEMA_VERSION	2
#define LEDGER_SCOPES_MAX	512	/* scopes one subject may hold per product */
#define LEDGER_BATCH_MAX	1024	/* records in one commit */
#define LEDGER_HISTORY_MAX	1000	/* records in one history page */
#define LEDGER_EXPORT_MAX	100000	/* records in one export */
#define LEDGER_PURGE_MAX	10000	/* records one purge erases; the rest wait for the next */

/*
 * What a write does. The first ones append a record in the writer's group commit; the reads
 * from LEDGER_VERIFY on run on the reader thread, after what was submitted before them on the
 * same connection, and answer the same way.
 */
enum ledger_op { LEDGER_GRANT, LEDGER_WITHDRAW, LEDGER_REFUSE, LEDGER_SET_SUBJECT,
	LEDGER_CANCEL, LEDGER_PURGE, LEDGER_VERIFY, LEDGER_HISTORY, LEDGER_EXPORT };

#define LEDGER_OP_READS(op)	((op) >= LEDGER_VERIFY)

struct chain_verdict;

/* How long a product's records outlive the subject's cancel (purge). */
struct ledger_retention {
	char		*product;
	int		 years;		/* 0: erased at the first purge after the cancel */
};

/*
 * One record to append, or one read of the reader thread. Strings are owned by the write and
 * freed with ledger_write_free.
 */
struct ledger_write {
	enum ledger_op		 op;
	char			*product, *subject, *scope, *policy_version, *source, *guardian;
	char			*attrs;		/* set_subject: JSON object of the attributes set */
	uid_t			 peer_uid;
	/* history: records after since, at most limit; history and export: only products. */
	int64_t			 since;
	int			 limit;
	char			**products;	/* NULL: every product */
	size_t			 nproducts;
	/* purge */
	struct ledger_retention	*retention;
	size_t			 nretention;
	bool			 dry_run;
	/* Filled in by the ledger before the callback. */
	int64_t			 seq, at;
	bool			 failed;	/* the ledger could not be read or written */
	bool			 blocked;	/* cancel: refused while a hold is set */
	char			 error[256];
	struct chain_verdict	*verdict;	/* verify: what the walk found */
	json_t			*result;	/* cancel: scopes withdrawn; purge, history, export */
	/* The submitter's. */
	void			*cookie;
	struct ledger_write	*next;
};

/* Called on the loop thread once w is durable (or failed); w then belongs to the callee. */
typedef void (*ledger_done_cb)(struct ledger_write *w, void *arg);

struct ledger;

/*
 * Open (creating if needed) dir/ledger.db and start the writer. Fails with a message in err
 * if the directory cannot be created or written, the database is not a ledger, or another
 * consentd holds it.
 */
struct ledger	*ledger_open(const char *dir, struct event_base *, ledger_done_cb, void *arg,
		    char *err, size_t errlen);
/*
 * Walk the chain of the ledger in dir without a daemon (consentd --verify): 0 with v filled,
 * -1 with err when it cannot be read.
 */
int		 ledger_verify_dir(const char *dir, struct chain_verdict *v, char *err,
		    size_t errlen);
/* Commit what was submitted, stop the writer, close. */
void		 ledger_close(struct ledger *);

/* Queue w for the next group commit, or a read for the reader thread. */
void		 ledger_submit(struct ledger *, struct ledger_write *w);
void		 ledger_write_free(struct ledger_write *);

/* Writes submitted and not yet called back. */
size_t		 ledger_pending(const struct ledger *);

/*
 * The subject's consent state for product, into a snapshot the engine reads (loop thread).
 * Its entries and strings are the ledger's, valid until the next ledger_snapshot: a caller
 * that keeps them copies them (the cache does). Returns -1 when the ledger cannot be read.
 */
#define LEDGER_SNAP_TEXT_BYTES	(LEDGER_SCOPES_MAX * 320 + 4096)
struct ledger_snapshot {
	struct subject_state	 state;
	struct consent_entry	*entries;
	char			*holds;		/* JSON array text, or NULL */
	bool			 known;		/* the subject has any record */
};
int		 ledger_snapshot(struct ledger *, const char *product, const char *subject,
		    struct ledger_snapshot *);

/* Whether subject exists with age band adult (a valid guardian). -1 on error. */
int		 ledger_subject_is_adult(struct ledger *, const char *subject);

struct ledger_stats {
	int64_t		 records, last_seq;
	int64_t		 commits, batched_writes;
	int64_t		 db_bytes;
};
void		 ledger_get_stats(struct ledger *, struct ledger_stats *);

#endif
