/*
 * chain.h: the ledger's hash chain (CONTRACT §7).
 *
 * Each record's hash is hex(SHA-256(canonical)), where canonical is the record as compact JSON
 * with the keys in the order seq, at, op, product, subject, scope, state, policy_version, source,
 * guardian, attrs, peer_uid, prev (absent values as null; prev is the previous record's hash, 64
 * zeros for the first). The head (the last seq and its hash) is also kept in a file beside the
 * database, so that a truncated tail shows too.
 */
#ifndef CONSENTD_CHAIN_H
#define CONSENTD_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define CHAIN_HASH_BYTES	65	/* 64 hex digits and a NUL */
#define CHAIN_HEAD_FILE		"chain-head"

/* A record as the chain sees it: every field the canonical form holds, prev aside. */
struct chain_record {
	int64_t		 seq, at, peer_uid;
	const char	*op, *product, *subject, *scope, *state, *policy_version, *source;
	const char	*guardian, *attrs;
};

/* A digest context and the buffer the canonical form is built in; one per thread. */
struct chain_hasher;

struct chain_hasher	*chain_hasher_new(void);
void			 chain_hasher_free(struct chain_hasher *);
/* The hash of r chained to prev, into out. -1 when out of memory or libcrypto fails. */
int			 chain_hash(struct chain_hasher *, const struct chain_record *r,
			    const char *prev, char out[CHAIN_HASH_BYTES]);

/* SHA-256 of data as hex, into out (a purge record's digest). */
int			 chain_digest(struct chain_hasher *, const char *data, size_t len,
			    char out[CHAIN_HASH_BYTES]);

struct chain_head {
	int64_t		 seq;				/* 0: the empty ledger */
	char		 hash[CHAIN_HASH_BYTES];	/* 64 zeros for the empty ledger */
};

/* The head of an empty ledger. */
void	 chain_head_empty(struct chain_head *);
/*
 * Read the head file at path. Returns 1 with *h set, 0 when there is no such file (or it is
 * empty), -1 with err when it cannot be read or is not a head file.
 */
int	 chain_head_read(const char *path, struct chain_head *h, char *err, size_t len);
/* Overwrite the head file open as fd with h and fdatasync it. -1 with errno on failure. */
int	 chain_head_write(int fd, const struct chain_head *h);

/* What verifying the chain found. */
struct chain_verdict {
	int64_t			 records;	/* records checked */
	int64_t			 erased_seen;	/* of them erased by a purge */
	int64_t			 erased_checked; /* erased records their purge records list */
	struct chain_head	 head;		/* the last record's seq and hash */
	int64_t			 bad_seq;	/* 0: the chain holds; else the first bad record */
	char			 why[200];	/* what is wrong with bad_seq */
};

/*
 * Walk every record of db in seq order, recomputing each hash (an erased record's from its
 * purge record's digest) and link, and compare the end with file_head (NULL: no head file to compare with). Returns 0 with v filled (v->bad_seq
 * names a break), -1 with err when the database cannot be read.
 */
int	 chain_verify(sqlite3 *db, struct chain_hasher *, const struct chain_head *file_head,
	    struct chain_verdict *v, char *err, size_t len);

#endif
