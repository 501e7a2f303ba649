/*
 * ledger-schema.h: the ledger's tables and the statements that append a record and derive the
 * current state from it, in one place for the daemon (ledger.c) and for whatever writes a
 * ledger the daemon must take as its own (tests/bench/mkledger.c). Columns: see ledger.c.
 */
#ifndef CONSENTD_LEDGER_SCHEMA_H
#define CONSENTD_LEDGER_SCHEMA_H

#define LEDGER_RECORDS_TABLE(name) \
	"CREATE TABLE IF NOT EXISTS " name " (" \
	" seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, op TEXT NOT NULL, product TEXT," \
	" subject TEXT, scope TEXT, state TEXT, policy_version TEXT, source TEXT," \
	" guardian TEXT, attrs TEXT, peer_uid INTEGER NOT NULL, prev_hash TEXT NOT NULL," \
	" hash TEXT NOT NULL, erased_by INTEGER);"

#define LEDGER_SCHEMA_SQL \
	LEDGER_RECORDS_TABLE("records") \
	"CREATE INDEX IF NOT EXISTS records_by_subject ON records (subject, seq);" \
	"CREATE TABLE IF NOT EXISTS consent (" \
	" product TEXT NOT NULL, subject TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL," \
	" policy_version TEXT, at INTEGER NOT NULL, guardian TEXT, seq INTEGER NOT NULL," \
	" PRIMARY KEY (product, subject, scope)) WITHOUT ROWID;" \
	"CREATE TABLE IF NOT EXISTS subjects (" \
	" subject TEXT NOT NULL, product TEXT NOT NULL, age_band TEXT, region TEXT, holds TEXT," \
	" seq INTEGER NOT NULL, cancelled_at INTEGER, cancel_seq INTEGER," \
	" PRIMARY KEY (subject, product)) WITHOUT ROWID;" \
	"CREATE INDEX IF NOT EXISTS subjects_cancelled ON subjects (product, cancelled_at)" \
	" WHERE cancelled_at IS NOT NULL;"

/* seq, at, op, product, subject, scope, state, policy_version, source, guardian, attrs,
 * peer_uid, prev_hash, hash */
#define LEDGER_INSERT_RECORD_SQL \
	"INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)"
/* product, subject, scope, state, policy_version, at, guardian, seq */
#define LEDGER_UPSERT_CONSENT_SQL \
	"INSERT INTO consent VALUES (?1,?2,?3,?4,?5,?6,?7,?8) " \
	"ON CONFLICT (product, subject, scope) DO UPDATE SET state=?4, " \
	"policy_version=?5, at=?6, guardian=?7, seq=?8"
/* subject, product ('' for every product), age_band, region, holds, seq */
#define LEDGER_UPSERT_SUBJECT_SQL \
	"INSERT INTO subjects (subject, product, age_band, region, holds, " \
	"seq) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT (subject, product) DO UPDATE SET " \
	"age_band=coalesce(?3, age_band), region=coalesce(?4, region), " \
	"holds=coalesce(?5, holds), seq=?6"

#endif
