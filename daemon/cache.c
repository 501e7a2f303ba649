/*
 * cache.c: a hash of (product, subject) to the subject's consent state, with an LRU list.
 *
 * Buckets are chosen by the subject alone, so that forgetting a subject for every product
 * (set_subject changes what each product sees) walks one chain. Each entry is one allocation:
 * the entry, its key, and a compact copy of the ledger snapshot with its strings.
 */
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct cache_entry {
	TAILQ_ENTRY(cache_entry) lru;		/* most recently used first */
	struct cache_entry	*next;		/* in the bucket */
	uint64_t		 hash;
	const char		*product, *subject;
	struct ledger_snapshot	 snap;
	/* consent entries, then the key and snapshot strings */
};

struct cache {
	struct cache_entry	**buckets;
	size_t			 mask;
	size_t			 entries, max_entries;
	uint64_t		 hits, misses, evictions;
	TAILQ_HEAD(cache_lru, cache_entry) lru;
};

/* FNV-1a: short keys, no adversary gains from collisions beyond one bucket's chain. */
static uint64_t
hash_subject(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

struct cache *
cache_new(size_t max_entries)
{
	struct cache *c = calloc(1, sizeof *c);
	size_t n = 16;

	if (c == NULL)
		return NULL;
	while (n < max_entries)
		n <<= 1;
	if ((c->buckets = calloc(n, sizeof *c->buckets)) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max_entries = max_entries > 0 ? max_entries : 1;
	TAILQ_INIT(&c->lru);
	return c;
}

static void
entry_unlink(struct cache *c, struct cache_entry *e)
{
	struct cache_entry **p = &c->buckets[e->hash & c->mask];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->entries--;
	free(e);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	cache_clear(c);
	free(c->buckets);
	free(c);
}

static size_t
str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static char *
str_put(char **at, const char *s)
{
	char *start = *at;
	size_t n = str_size(s);

	if (s == NULL)
		return NULL;
	memcpy(start, s, n);
	*at += n;
	return start;
}

/* One allocation holding the key and a copy of snap that owns nothing else. */
static struct cache_entry *
entry_new(const char *product, const char *subject, uint64_t hash,
    const struct ledger_snapshot *snap)
{
	size_t n = snap->state.nentries, size = sizeof(struct cache_entry) +
	    n * sizeof(struct consent_entry) + str_size(product) + str_size(subject) +
	    str_size(snap->holds);
	struct cache_entry *e;
	struct consent_entry *ce;
	char *at;

	for (size_t i = 0; i < n; i++)
		size += str_size(snap->state.entries[i].scope) +
		    str_size(snap->state.entries[i].policy_version);
	if ((e = malloc(size)) == NULL)
		return NULL;
	ce = (struct consent_entry *)(e + 1);
	at = (char *)(ce + n);
	e->next = NULL;
	e->hash = hash;
	e->product = str_put(&at, product);
	e->subject = str_put(&at, subject);
	e->snap = *snap;
	e->snap.entries = ce;
	e->snap.holds = str_put(&at, snap->holds);
	for (size_t i = 0; i < n; i++) {
		ce[i] = snap->state.entries[i];
		ce[i].scope = str_put(&at, ce[i].scope);
		ce[i].policy_version = str_put(&at, ce[i].policy_version);
	}
	e->snap.state.entries = ce;
	return e;
}

static struct cache_entry *
lookup(struct cache *c, const char *product, const char *subject, uint64_t hash)
{
	struct cache_entry *e;

	for (e = c->buckets[hash & c->mask]; e != NULL; e = e->next)
		if (e->hash == hash && strcmp(e->subject, subject) == 0 &&
		    strcmp(e->product, product) == 0)
			return e;
	return NULL;
}

const struct ledger_snapshot *
cache_get(struct cache *c, struct ledger *l, const char *product, const char *subject)
{
	uint64_t hash = hash_subject(subject);
	struct cache_entry *e = lookup(c, product, subject, hash);
	struct ledger_snapshot snap;

	if (e != NULL) {
		c->hits++;
		if (e != TAILQ_FIRST(&c->lru)) {
			TAILQ_REMOVE(&c->lru, e, lru);
			TAILQ_INSERT_HEAD(&c->lru, e, lru);
		}
		return &e->snap;
	}
	c->misses++;
	if (ledger_snapshot(l, product, subject, &snap) == -1)
		return NULL;
	if ((e = entry_new(product, subject, hash, &snap)) == NULL)
		return NULL;
	if (c->entries == c->max_entries) {
		entry_unlink(c, TAILQ_LAST(&c->lru, cache_lru));
		c->evictions++;
	}
	e->next = c->buckets[hash & c->mask];
	c->buckets[hash & c->mask] = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->entries++;
	return &e->snap;
}

void
cache_forget(struct cache *c, const char *product, const char *subject)
{
	uint64_t hash = hash_subject(subject);
	struct cache_entry *e, *next;

	for (e = c->buckets[hash & c->mask]; e != NULL; e = next) {
		next = e->next;
		if (e->hash == hash && strcmp(e->subject, subject) == 0 &&
		    (product == NULL || strcmp(e->product, product) == 0))
			entry_unlink(c, e);
	}
}

void
cache_clear(struct cache *c)
{
	struct cache_entry *e;

	while ((e = TAILQ_FIRST(&c->lru)) != NULL)
		entry_unlink(c, e);
}

void
cache_get_stats(const struct cache *c, struct cache_stats *s)
{
	s->entries = c->entries;
	s->max_entries = c->max_entries;
	s->hits = c->hits;
	s->misses = c->misses;
	s->evictions = c->evictions;
}
