/*
 * retention.c: see retention.h. The daily purge is a ledger write with no connection behind
 * it; main hands it back here once it is committed.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd.h"
#include "log.h"
#include "retention.h"

static struct event	*purge_ev;

struct ledger_write *
retention_purge(uid_t uid, const char *source)
{
	const struct policy_set *s = consentd->policy;
	size_t n = s->reg.count[ID_PRODUCT];
	struct ledger_write *w = calloc(1, sizeof *w);

	if (w == NULL || (w->retention = calloc(n, sizeof *w->retention)) == NULL ||
	    (w->source = strdup(source)) == NULL)
		goto fail;
	w->op = LEDGER_PURGE;
	w->peer_uid = uid;
	for (size_t p = 0; p < n; p++) {
		const struct table *t = policy_table(s, (int)p, NULL);
		struct ledger_retention *r = &w->retention[w->nretention];

		/* A product without a table keeps its records: nothing says they expired. */
		if (t == NULL)
			continue;
		if ((r->product = strdup(registry_name(&s->reg, ID_PRODUCT, (int)p))) == NULL)
			goto fail;
		r->years = t->retention_years;
		w->nretention++;
	}
	return w;
fail:
	ledger_write_free(w);
	return NULL;
}

static void
purge_now(void)
{
	struct ledger_write *w = retention_purge(getuid(), "daily purge");

	if (w == NULL)
		log_warnx("purge: out of memory; trying again tomorrow");
	else
		ledger_submit(consentd->ledger, w);
}

static void
purge_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	purge_now();
}

int
retention_start(void)
{
	struct timeval tv = { RETENTION_PURGE_SECONDS, 0 };

	purge_ev = event_new(consentd->base, -1, EV_PERSIST, purge_cb, NULL);
	if (purge_ev == NULL || event_add(purge_ev, &tv) == -1)
		return -1;
	purge_now();
	return 0;
}

void
retention_stop(void)
{
	if (purge_ev != NULL)
		event_free(purge_ev);
	purge_ev = NULL;
}

void
retention_log(const struct ledger_write *w)
{
	char purged[24], seq[24];
	struct log_field f[] = { { "CONSENTD_PURGED", purged }, { "CONSENTD_SEQ", seq } };

	if (w->failed || w->dry_run || w->seq == 0)
		return;
	snprintf(purged, sizeof purged, "%lld",
	    (long long)json_integer_value(json_object_get(w->result, "purged")));
	snprintf(seq, sizeof seq, "%lld", (long long)w->seq);
	log_event(LOG_INFO, MSGID_PURGE, f, 2, "purge: erased %s records past retention "
	    "(record %s)", purged, seq);
}

void
retention_done(struct ledger_write *w)
{
	json_t *r = w->result;

	if (w->failed)
		log_warnx("purge: %s; trying again tomorrow", w->error);
	else
		retention_log(w);
	if (!w->failed && json_is_true(json_object_get(r, "more")) && !consentd->stopping)
		purge_now();
	ledger_write_free(w);
}
