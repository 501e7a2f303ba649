/*
 * retention.h: how long records outlive a cancel (each product's policy table says), and the
 * purge that erases what has expired: on demand (op purge) and daily inside the daemon.
 */
#ifndef CONSENTD_RETENTION_H
#define CONSENTD_RETENTION_H

#include <sys/types.h>

#include "ledger.h"

#define RETENTION_PURGE_SECONDS	(24 * 60 * 60)	/* the daily purge */

/* A purge under the current policy set's retention, noted as done by uid; NULL: no memory. */
struct ledger_write	*retention_purge(uid_t uid, const char *source);
/* Purge now (before serving), then every RETENTION_PURGE_SECONDS. */
int			 retention_start(void);
void			 retention_stop(void);
/* Log what a committed purge erased (nothing for a dry run or a purge of nothing). */
void			 retention_log(const struct ledger_write *);
/* The daemon's own purge is done; one that left more for later goes on at once. */
void			 retention_done(struct ledger_write *);

#endif
