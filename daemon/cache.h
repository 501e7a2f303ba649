/*
 * cache.h: the consent state of recently asked subjects, in front of the ledger.
 *
 * check reads a subject's state for a product from here; a miss reads the ledger and keeps
 * what it read. This daemon is the ledger's only writer, so the cache stays exact by forgetting
 * a subject as soon as a write about it is committed: the next read loads the committed state.
 * Bounded by entry count; the least recently used entry goes first.
 */
#ifndef CONSENTD_CACHE_H
#define CONSENTD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

#define CACHE_ENTRIES_DEFAULT	65536

struct cache;

struct cache	*cache_new(size_t max_entries);
void		 cache_free(struct cache *);

/*
 * The subject's state for product, or NULL when the ledger cannot be read. The snapshot
 * belongs to the cache and stays valid until the next call that takes this cache.
 */
const struct ledger_snapshot *cache_get(struct cache *, struct ledger *, const char *product,
		    const char *subject);

/* Forget what is kept of subject: for product, or for every product when product is NULL. */
void		 cache_forget(struct cache *, const char *product, const char *subject);

/* Forget everything (a purge erased subjects). */
void		 cache_clear(struct cache *);

struct cache_stats {
	size_t		 entries, max_entries;
	uint64_t	 hits, misses, evictions;
};
void		 cache_get_stats(const struct cache *, struct cache_stats *);

#endif
