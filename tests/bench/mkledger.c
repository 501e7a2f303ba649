/*
 * mkledger.c: writes a consentd ledger of N records, for the ledger-scale bench (scale.py).
 *
 *   mkledger --records N --dir DIR [--seed S] [--block B]
 *
 * DIR/ledger.db gets the daemon's schema version 2 and statements (daemon/ledger-schema.h)
 * and DIR/chain-head the head of the chain, as consentd would have left them
 * after N writes; `consentd --verify --state-dir DIR` holds on the result.
 *
 * The records are what apps would have written for subjects bench-0, bench-1, ... (about ten
 * each): every subject accepts the mipay policy first (so that a check of mipay /
 * mipay.real_name_account / id_number is an allow for each of them), then grants some optional
 * features and a switchable purpose, withdraws or refuses some; most have their age band and
 * region set; most also use tianxing and mistore, and some carry a loan hold on tianxing.
 * The records of a block of subjects are interleaved at random, each subject's in its own
 * order, as apps writing for many people at once leave them. The same seed gives the same
 * ledger.
 *
 * Each record is hashed with the daemon's chain_hash (daemon/chain.c) and inserted, and the
 * derived tables (consent, subjects) are written with the daemon's own statements, one record
 * at a time, so that they hold exactly what the daemon would have derived. Cancel and purge
 * are never written: the bench's restore (scale.py) relies on no subject being cancelled.
 *
 * For speed the file has no journal and synchronous=OFF while it is written, an exclusive lock
 * and a large page cache, and one transaction per TXN_RECORDS records; it is switched to WAL
 * at the end, as the daemon keeps it. A crash leaves a broken file: run again on a new DIR.
 *
 * Progress goes to stderr; at the end one JSON object goes to stdout: records, subjects, the
 * head's seq and hash, and the seconds taken.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chain.h"
#include "ledger-schema.h"
#include "rng.h"

#define TXN_RECORDS	100000		/* records per transaction */
#define PLAN_MAX	32		/* records one subject's plan holds at most */
#define BLOCK_DEFAULT	4096		/* subjects whose records are interleaved */
#define AT_START	1714521600	/* 2024-05-01T00:00:00Z: the first record's time */
#define AT_STEP		3		/* seconds between records */
#define ADMIN_UID	0		/* set_subject comes from an operator's tool */
#define PROGRESS_NS	2000000000ull	/* progress on stderr at most this often */

enum op_kind { OP_GRANT, OP_WITHDRAW, OP_REFUSE, OP_SET_SUBJECT };

static const char *const op_names[] = {
	[OP_GRANT] = "grant", [OP_WITHDRAW] = "withdraw", [OP_REFUSE] = "refuse",
	[OP_SET_SUBJECT] = "set_subject",
};
static const char *const op_states[] = {
	[OP_GRANT] = "granted", [OP_WITHDRAW] = "withdrawn", [OP_REFUSE] = "refused",
	[OP_SET_SUBJECT] = NULL,
};

/*
 * A set_subject's attributes: the compact JSON the daemon stores (keys in its order: age_band,
 * region, holds) and what its derive_subject takes out of it.
 */
struct attrs {
	const char	*json, *age_band, *region, *holds;
};

static const struct attrs attrs_adult_cn = {
	"{\"age_band\":\"adult\",\"region\":\"cn\"}", "adult", "cn", NULL };
static const struct attrs attrs_cn = { "{\"region\":\"cn\"}", NULL, "cn", NULL };
static const struct attrs attrs_adult = { "{\"age_band\":\"adult\"}", "adult", NULL, NULL };
static const struct attrs attrs_loan_hold = {
	"{\"holds\":[\"outstanding_loan\"]}", NULL, NULL, "[\"outstanding_loan\"]" };

/* A product as its app uses it, and how often its users do what (percentages). */
struct product {
	const char		*name, *version;
	int64_t			 uid;		/* the app's uid: peer_uid of its writes */
	const char *const	*features;	/* optional features, as scopes */
	size_t			 nfeatures;
	const char		*purpose;	/* a switchable purpose, off until granted */
	int			 uses;		/* subjects using the product */
	int			 features_max;	/* 1 to this many features granted */
	int			 purpose_pct, withdraw_pct, refuse_pct, hold_pct;
};

static const char *const mipay_features[] = {
	"feature:mipay.balance_payment", "feature:mipay.quick_payment", "feature:mipay.transfer",
	"feature:mipay.payment_verification", "feature:mipay.sensitive_operation_verification",
	"feature:mipay.customer_service", "feature:mipay.marketing",
	"feature:mipay.face_recognition", "feature:mipay.scan", "feature:mipay.avatar_setting",
	"feature:mipay.user_feedback",
};
static const char *const tianxing_features[] = {
	"feature:tianxing.app_unlock_verification", "feature:tianxing.loan_third_party_credit_data",
	"feature:tianxing.change_card", "feature:tianxing.credit_card_application",
	"feature:tianxing.mobile_topup", "feature:tianxing.utility_payment",
	"feature:tianxing.marketing", "feature:tianxing.personalization", "feature:tianxing.scan",
	"feature:tianxing.customer_service",
};
static const char *const mistore_features[] = {
	"feature:mistore.newsletter", "feature:mistore.reviews_feedback", "feature:mistore.surveys",
	"feature:mistore.social_login", "feature:mistore.profile_enrichment",
	"feature:mistore.marketing_communications", "feature:mistore.personalization",
	"feature:mistore.data_combination_profiling",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The current policy versions of config/policies. mipay comes first: every subject uses it. */
static const struct product products[] = {
	{ "mipay", "2024-04-25", 10061, mipay_features, NELEM(mipay_features),
	  "purpose:marketing", 100, 4, 40, 30, 20, 0 },
	{ "tianxing", "2023-02-03", 10062, tianxing_features, NELEM(tianxing_features),
	  "purpose:personalized_recommendation", 70, 3, 30, 20, 25, 15 },
	{ "mistore", "2025-05-20", 10063, mistore_features, NELEM(mistore_features),
	  "purpose:marketing", 60, 4, 30, 30, 15, 0 },
};

/* One record of a subject's plan; a NULL product with set_subject sets the defaults. */
struct op {
	enum op_kind		 kind;
	const struct product	*product;
	const char		*scope, *source;
	const struct attrs	*attrs;
};

/* A subject of the block being written: its plan and how far it got. */
struct pending {
	uint64_t	 subject;
	struct op	 ops[PLAN_MAX];
	unsigned	 n, next;
};

struct options {
	int64_t		 records;
	const char	*dir;
	uint64_t	 seed;
	unsigned	 block;
};

struct gen {
	sqlite3			*db;
	sqlite3_stmt		*ins_record, *up_consent, *up_subject;
	struct chain_hasher	*hasher;
	int64_t			 seq;			/* the last record written */
	char			 hash[CHAIN_HASH_BYTES];	/* its hash */
	int64_t			 total, in_txn;
	uint64_t		 t_start, t_progress;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mkledger: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
usage(FILE *f, int status)
{
	fprintf(f,
	    "usage: mkledger --records N --dir DIR [--seed S] [--block B]\n"
	    "\n"
	    "Write a consentd ledger of exactly N records into DIR (created if missing; it must\n"
	    "not hold a ledger yet): DIR/ledger.db in the daemon's schema version 2, in WAL mode,\n"
	    "and DIR/chain-head. Subjects bench-0, bench-1, ... hold about ten records each and\n"
	    "have all accepted the mipay policy.\n"
	    "\n"
	    "  --records N  how many records (at least 1)\n"
	    "  --dir DIR    where to write\n"
	    "  --seed S     the random mix (default 1); the same seed gives the same ledger\n"
	    "  --block B    subjects whose records are interleaved (default %d)\n"
	    "  --help       print this help\n"
	    "\n"
	    "Progress goes to stderr; a JSON summary (records, subjects, head_seq, head_hash,\n"
	    "seconds) to stdout.\n", BLOCK_DEFAULT);
	exit(status);
}

/* A whole number of at least min from arg, or die naming the option. */
static long long
parse_number(const char *name, const char *arg, long long min)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min)
		die("--%s: \"%s\" is not a whole number of at least %lld", name, arg, min);
	return v;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "records",	required_argument, NULL, 'n' },
		{ "dir",	required_argument, NULL, 'd' },
		{ "seed",	required_argument, NULL, 's' },
		{ "block",	required_argument, NULL, 'b' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->block = BLOCK_DEFAULT;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': o->records = parse_number("records", optarg, 1); break;
		case 'd': o->dir = optarg; break;
		case 's': o->seed = (uint64_t)parse_number("seed", optarg, 0); break;
		case 'b': o->block = (unsigned)parse_number("block", optarg, 1); break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);
	if (o->records == 0 || o->dir == NULL)
		die("--records and --dir are needed (see --help)");
	if (o->block > 1000000)
		die("--block: at most 1000000 subjects");
}

/* ----- the random mix ----- */

static unsigned
rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

static bool
rng_chance(uint64_t *s, int pct)
{
	return (int)rng_below(s, 100) < pct;
}

static void
plan_add(struct pending *p, enum op_kind kind, const struct product *prod, const char *scope,
    const char *source, const struct attrs *attrs)
{
	if (p->n == PLAN_MAX)
		die("a subject's plan is over %d records", PLAN_MAX);
	p->ops[p->n++] = (struct op){ kind, prod, scope, source, attrs };
}

/*
 * One product's records for a subject: the policy, 1 to features_max optional features, maybe
 * the purpose, then maybe a withdrawal of something granted and a refusal of a feature not
 * granted. None of them touches what mipay's real_name_account check needs.
 */
static void
plan_product(struct pending *p, uint64_t *rng, const struct product *prod)
{
	unsigned order[PLAN_MAX], k, granted;
	const char *scopes[PLAN_MAX];

	plan_add(p, OP_GRANT, prod, "policy", "first-run dialog", NULL);
	for (unsigned i = 0; i < prod->nfeatures; i++)
		order[i] = i;
	/* The first k of a partial shuffle are granted; the one after them may be refused. */
	k = 1 + rng_below(rng, (unsigned)prod->features_max);
	for (unsigned i = 0; i <= k && i < prod->nfeatures; i++) {
		unsigned j = i + rng_below(rng, (unsigned)prod->nfeatures - i), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (granted = 0; granted < k; granted++) {
		scopes[granted] = prod->features[order[granted]];
		plan_add(p, OP_GRANT, prod, scopes[granted], "in-app prompt", NULL);
	}
	if (rng_chance(rng, prod->purpose_pct)) {
		scopes[granted++] = prod->purpose;
		plan_add(p, OP_GRANT, prod, prod->purpose, "privacy settings", NULL);
	}
	if (rng_chance(rng, prod->withdraw_pct))
		plan_add(p, OP_WITHDRAW, prod, scopes[rng_below(rng, granted)],
		    "privacy settings", NULL);
	if (k < prod->nfeatures && rng_chance(rng, prod->refuse_pct))
		plan_add(p, OP_REFUSE, prod, prod->features[order[k]], "in-app prompt", NULL);
	if (rng_chance(rng, prod->hold_pct))
		plan_add(p, OP_SET_SUBJECT, prod, NULL, NULL, &attrs_loan_hold);
}

/* A subject's records, in the order its apps write them: mipay's policy always first. */
static void
plan_subject(struct pending *p, uint64_t seed, uint64_t subject)
{
	uint64_t rng = seed * 0x100000001b3ull ^ subject;
	unsigned pick;

	p->subject = subject;
	p->n = p->next = 0;
	rng_next(&rng);
	plan_product(p, &rng, &products[0]);
	if (rng_chance(&rng, 75)) {
		pick = rng_below(&rng, 10);
		plan_add(p, OP_SET_SUBJECT, NULL, NULL, NULL, pick < 7 ? &attrs_adult_cn :
		    pick < 9 ? &attrs_cn : &attrs_adult);
	}
	for (size_t i = 1; i < NELEM(products); i++)
		if (rng_chance(&rng, products[i].uses))
			plan_product(p, &rng, &products[i]);
}

/* ----- the database ----- */

static void
exec_sql(struct gen *g, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(g->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("%.60s...: %s", sql, msg ? msg : sqlite3_errmsg(g->db));
	sqlite3_free(msg);
}

static sqlite3_stmt *
prepare(struct gen *g, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(g->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK)
		die("cannot prepare \"%.60s...\": %s", sql, sqlite3_errmsg(g->db));
	return st;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void
step_done(struct gen *g, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("writing record %" PRId64 ": %s", g->seq + 1, sqlite3_errmsg(g->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* mkdir DIR if needed; refuse a DIR that already holds a ledger. */
static void
make_dir(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		die("cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		die("%s is not a directory", dir);
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	if (access(path, F_OK) == 0)
		die("%s exists: mkledger writes a new ledger only", path);
}

static void
open_db(struct gen *g, const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/ledger.db", dir);
	if (sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		die("cannot open %s: %s", path, g->db ? sqlite3_errmsg(g->db) : "out of memory");
	/* Nothing to recover if this fails half-way: the file is written afresh. */
	exec_sql(g, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	    "PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"
	    "PRAGMA cache_size=-1048576;");
	exec_sql(g, LEDGER_SCHEMA_SQL);
	exec_sql(g, "PRAGMA user_version=2");
	g->ins_record = prepare(g, LEDGER_INSERT_RECORD_SQL);
	g->up_consent = prepare(g, LEDGER_UPSERT_CONSENT_SQL);
	g->up_subject = prepare(g, LEDGER_UPSERT_SUBJECT_SQL);
	if ((g->hasher = chain_hasher_new()) == NULL)
		die("cannot set up SHA-256");
	memset(g->hash, '0', 64);
	g->hash[64] = '\0';
	exec_sql(g, "BEGIN");
}

/* The derived rows, as derive_subject and derive_consent in daemon/ledger.c write them. */
static void
derive(struct gen *g, const struct op *op, const char *subject, const char *product,
    int64_t at)
{
	sqlite3_stmt *st;

	if (op->kind == OP_SET_SUBJECT) {
		st = g->up_subject;
		bind_text(st, 1, subject);
		bind_text(st, 2, product ? product : "");
		bind_text(st, 3, op->attrs->age_band);
		bind_text(st, 4, op->attrs->region);
		bind_text(st, 5, op->attrs->holds);
		sqlite3_bind_int64(st, 6, g->seq);
		step_done(g, st);
		return;
	}
	/* The daemon's grant also reopens a cancelled pair; no pair here is ever cancelled. */
	st = g->up_consent;
	bind_text(st, 1, product);
	bind_text(st, 2, subject);
	bind_text(st, 3, op->scope);
	bind_text(st, 4, op_states[op->kind]);
	bind_text(st, 5, op->product->version);
	sqlite3_bind_int64(st, 6, at);
	bind_text(st, 7, NULL);
	sqlite3_bind_int64(st, 8, g->seq);
	step_done(g, st);
}

static void
progress(struct gen *g, bool last)
{
	uint64_t now = now_ns();
	double secs = (double)(now - g->t_start) / 1e9;

	/* The last line comes once, at the end. */
	if (!last && (now - g->t_progress < PROGRESS_NS || g->seq == g->total))
		return;
	g->t_progress = now;
	fprintf(stderr, "mkledger: %" PRId64 " of %" PRId64 " records (%.0f%%), %.0f s", g->seq,
	    g->total, 100.0 * (double)g->seq / (double)g->total, secs);
	if (!last && g->seq > 0)
		fprintf(stderr, ", about %.0f s left", secs * (double)(g->total - g->seq) /
		    (double)g->seq);
	fprintf(stderr, "\n");
}

/* Append one record, chained to the last, and its derived rows, as ledger_append does. */
static void
append(struct gen *g, const struct op *op, uint64_t subject_no)
{
	char subject[32], hash[CHAIN_HASH_BYTES];
	const char *product = op->product ? op->product->name : NULL;
	int64_t seq = g->seq + 1, at = AT_START + AT_STEP * seq;
	int64_t uid = op->kind == OP_SET_SUBJECT && product == NULL ? ADMIN_UID : op->product->uid;
	struct chain_record r = {
		.seq = seq, .at = at, .peer_uid = uid, .op = op_names[op->kind],
		.product = product, .subject = subject, .scope = op->scope,
		.state = op_states[op->kind],
		.policy_version = op->kind == OP_SET_SUBJECT ? NULL : op->product->version,
		.source = op->source, .guardian = NULL,
		.attrs = op->attrs ? op->attrs->json : NULL,
	};
	sqlite3_stmt *st = g->ins_record;

	snprintf(subject, sizeof subject, "bench-%" PRIu64, subject_no);
	if (chain_hash(g->hasher, &r, g->hash, hash) == -1)
		die("cannot hash record %" PRId64, seq);
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, at);
	bind_text(st, 3, r.op);
	bind_text(st, 4, product);
	bind_text(st, 5, subject);
	bind_text(st, 6, r.scope);
	bind_text(st, 7, r.state);
	bind_text(st, 8, r.policy_version);
	bind_text(st, 9, r.source);
	bind_text(st, 10, NULL);
	bind_text(st, 11, r.attrs);
	sqlite3_bind_int64(st, 12, uid);
	bind_text(st, 13, g->hash);
	bind_text(st, 14, hash);
	step_done(g, st);
	g->seq = seq;
	memcpy(g->hash, hash, sizeof hash);
	derive(g, op, subject, product, at);
	if (++g->in_txn == TXN_RECORDS) {
		exec_sql(g, "COMMIT; BEGIN");
		g->in_txn = 0;
		progress(g, false);
	}
}

/*
 * Plan the next block of subjects, from subject first, holding at most budget records: the
 * plan that does not fit whole is cut short (its first record, mipay's policy, always stays).
 * Returns how many subjects the block holds.
 */
static unsigned
plan_block(struct pending *block, unsigned size, uint64_t seed, uint64_t first,
    int64_t budget)
{
	unsigned n = 0;

	while (n < size && budget > 0) {
		struct pending *p = &block[n++];

		plan_subject(p, seed, first + n - 1);
		if ((int64_t)p->n > budget)
			p->n = (unsigned)budget;
		budget -= p->n;
	}
	return n;
}

/* Write a block's records: a random subject's next record each time, until all are written. */
static void
write_block(struct gen *g, struct pending *block, unsigned n, uint64_t *rng)
{
	unsigned *active = malloc(n * sizeof *active), left = n;

	if (active == NULL)
		die("out of memory");
	for (unsigned i = 0; i < n; i++)
		active[i] = i;
	while (left > 0) {
		unsigned pick = rng_below(rng, left);
		struct pending *p = &block[active[pick]];

		append(g, &p->ops[p->next++], p->subject);
		if (p->next == p->n)
			active[pick] = active[--left];
	}
	free(active);
}

/*
 * Commit and close; then open the file again as the daemon does and switch it to WAL, as the
 * daemon keeps it. A switch under the exclusive lock would leave an empty WAL behind.
 */
static void
finish_db(struct gen *g, const char *dir)
{
	char path[PATH_MAX];

	exec_sql(g, "COMMIT");
	chain_hasher_free(g->hasher);
	sqlite3_finalize(g->ins_record);
	sqlite3_finalize(g->up_consent);
	sqlite3_finalize(g->up_subject);
	if (sqlite3_close(g->db) != SQLITE_OK)
		die("cannot close the ledger: %s", sqlite3_errmsg(g->db));
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	if (sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("cannot open %s again: %s", path, sqlite3_errmsg(g->db));
	exec_sql(g, "PRAGMA journal_mode=WAL");
	if (sqlite3_close(g->db) != SQLITE_OK)
		die("cannot close the ledger: %s", sqlite3_errmsg(g->db));
}

/* DIR/chain-head, in the daemon's format (chain_head_write), for the last record. */
static void
write_head(const struct gen *g, const char *dir)
{
	char path[PATH_MAX];
	struct chain_head h;
	int fd;

	snprintf(path, sizeof path, "%s/" CHAIN_HEAD_FILE, dir);
	h.seq = g->seq;
	memcpy(h.hash, g->hash, CHAIN_HASH_BYTES);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1)
		die("cannot create %s: %s", path, strerror(errno));
	if (chain_head_write(fd, &h) == -1)
		die("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct gen g = { 0 };
	struct pending *block;
	uint64_t subjects = 0, rng;

	parse_options(argc, argv, &o);
	if ((block = calloc(o.block, sizeof *block)) == NULL)
		die("out of memory for a block of %u subjects", o.block);
	make_dir(o.dir);
	open_db(&g, o.dir);
	g.total = o.records;
	g.t_start = g.t_progress = now_ns();
	rng = o.seed ^ 0x6d6b6c6564676572ull;
	while (g.seq < o.records) {
		unsigned n = plan_block(block, o.block, o.seed, subjects, o.records - g.seq);

		write_block(&g, block, n, &rng);
		subjects += n;
	}
	progress(&g, true);
	finish_db(&g, o.dir);
	write_head(&g, o.dir);
	printf("{\"records\":%" PRId64 ",\"subjects\":%" PRIu64 ",\"head_seq\":%" PRId64 ","
	    "\"head_hash\":\"%s\",\"seed\":%" PRIu64 ",\"seconds\":%.1f}\n", g.seq, subjects,
	    g.seq, g.hash, o.seed, (double)(now_ns() - g.t_start) / 1e9);
	free(block);
	return 0;
}
