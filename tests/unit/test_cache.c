/*
 * test_cache.c: the subject cache in front of a real ledger in a temporary directory
 * (daemon/cache.c): bounds, LRU order, and exactness once a write is committed and forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"

struct fixture {
	char			 dir[64];
	struct event_base	*base;
	struct ledger		*ledger;
	int			 done;
};

static void
write_done(struct ledger_write *w, void *arg)
{
	struct fixture *f = arg;

	assert_false(w->failed);
	f->done++;
	ledger_write_free(w);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/consentd-test-cache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(f->base = event_base_new());
	f->ledger = ledger_open(f->dir, f->base, write_done, f, err, sizeof err);
	if (f->ledger == NULL)
		fail_msg("ledger_open: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	ledger_close(f->ledger);
	event_base_free(f->base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Grant scope to subject and run the loop until the write is durable. */
static void
grant(struct fixture *f, const char *subject, const char *scope)
{
	struct ledger_write *w = calloc(1, sizeof *w);
	int before = f->done;

	assert_non_null(w);
	w->op = LEDGER_GRANT;
	w->product = strdup("mipay");
	w->subject = strdup(subject);
	w->scope = strdup(scope);
	w->policy_version = strdup("2024-04-25");
	ledger_submit(f->ledger, w);
	while (f->done == before)
		event_base_loop(f->base, EVLOOP_ONCE);
}

static void
test_unknown_subject_is_empty(void **state)
{
	struct fixture *f = *state;
	struct cache *c = cache_new(4);
	const struct ledger_snapshot *s = cache_get(c, f->ledger, "mipay", "nobody");

	assert_non_null(s);
	assert_false(s->known);
	assert_int_equal(s->state.nentries, 0);
	cache_free(c);
}

static void
test_bounded_and_least_recent_goes_first(void **state)
{
	struct fixture *f = *state;
	struct cache *c = cache_new(2);
	struct cache_stats st;

	cache_get(c, f->ledger, "mipay", "a");
	cache_get(c, f->ledger, "mipay", "b");
	cache_get(c, f->ledger, "mipay", "a");		/* hit: b is now the oldest */
	cache_get(c, f->ledger, "mipay", "c");		/* evicts b */
	cache_get(c, f->ledger, "mipay", "a");		/* still there */
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 3);
	cache_get(c, f->ledger, "mipay", "b");		/* gone: read again */
	cache_get_stats(c, &st);
	assert_int_equal(st.misses, 4);
	cache_free(c);
}

static void
test_products_are_apart_and_forget_all(void **state)
{
	struct fixture *f = *state;
	struct cache *c = cache_new(8);
	struct cache_stats st;

	cache_get(c, f->ledger, "mipay", "s");
	cache_get(c, f->ledger, "tianxing", "s");
	cache_get(c, f->ledger, "mipay", "t");
	cache_forget(c, "mipay", "s");
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 2);
	cache_forget(c, NULL, "s");		/* set_subject: every product */
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	cache_free(c);
}

/* What the daemon does on every commit: forget, and the next read sees the write. */
static void
test_forget_after_commit_reads_the_write(void **state)
{
	struct fixture *f = *state;
	struct cache *c = cache_new(8);
	const struct ledger_snapshot *s = cache_get(c, f->ledger, "mipay", "u-1");

	assert_int_equal(s->state.nentries, 0);
	grant(f, "u-1", "policy");
	s = cache_get(c, f->ledger, "mipay", "u-1");
	assert_int_equal(s->state.nentries, 0);	/* not forgotten: still the old state */
	cache_forget(c, "mipay", "u-1");
	s = cache_get(c, f->ledger, "mipay", "u-1");
	assert_int_equal(s->state.nentries, 1);
	assert_string_equal(s->state.entries[0].scope, "policy");
	assert_int_equal(s->state.entries[0].state, CONSENT_GRANTED);
	assert_string_equal(s->state.entries[0].policy_version, "2024-04-25");
	cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_subject_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_and_least_recent_goes_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_products_are_apart_and_forget_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forget_after_commit_reads_the_write, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
