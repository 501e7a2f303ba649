/*
 * consentd.h: the daemon's shared state and the interfaces between its files.
 */
#ifndef CONSENTD_H
#define CONSENTD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <event2/event.h>
#include <jansson.h>

#include "cache.h"
#include "config.h"
#include "decide.h"
#include "ledger.h"
#include "policy.h"
#include "proto.h"

#define CONSENTD_VERSION	"0.1.0"
#define CLIENTS_MAX		1024		/* connections at once; more get "busy" */
#define CLIENT_INFLIGHT_MAX	256		/* requests awaiting replies per connection */
#define CLIENT_READ_BYTES	16384		/* one read from a socket */
#define CLIENT_WRITE_EARLY_BYTES 4096		/* write mid-batch once this much is queued */
#define CLIENT_OUTPUT_HIGH_BYTES (4 * 1024 * 1024)	/* stop reading past this output */
#define SUBSCRIBER_QUEUE_BYTES	(1024 * 1024)	/* unsent events before "overflow" */
#define SUBSCRIBER_LINGER_SECONDS 5		/* for the overflow event to go out */
#define DECISION_LOG_MAX	4096		/* decisions kept for "decisions" */
#define ID_BYTES_MAX		128		/* subject and other ids */
#define TEXT_BYTES_MAX		512		/* free text such as "source" */

struct client;

/* Counters for "stats". */
struct stats {
	int64_t		 started;
	int64_t		 connections_total, connections_refused;
	int64_t		 requests, errors;
	int64_t		 by_op[32];
	int64_t		 by_outcome[3];
	int64_t		 lines_too_large, bad_json;
	uint64_t	 latency_us[32];	/* check latency histogram, bucket = log2(us) */
	int64_t		 reloads, reloads_failed;
};

struct decision_record {
	char		 id[24];
	int64_t		 at;
	uid_t		 uid;
	char		 product[32], subject[ID_BYTES_MAX + 1], feature[96], item[96], purpose[64];
	bool		 is_permission;
	enum outcome	 outcome;
	const char	*reasons[DECIDE_REASONS_MAX];
	size_t		 nreasons;
};

struct consentd {
	struct event_base	*base;
	struct config		 config;
	const char		*registry_path;
	const char		*policy_dir;
	struct policy_set	*policy;
	struct ledger		*ledger;
	struct cache		*cache;		/* consent state of recent subjects */
	struct stats		 stats;
	struct decision_record	*decisions;	/* ring of DECISION_LOG_MAX */
	uint64_t		 ndecisions;
	int			 nclients;
	bool			 stopping;
	TAILQ_HEAD(, client)	 clients;
};

extern struct consentd	*consentd;

/* server.c */
int	 server_listen(const char *path, unsigned mode);
int	 server_start(int fd);
void	 server_stop(void);

/* client.c */
void	 client_create(int fd, const struct peer *);
void	 client_drain_all(void);	/* stopping: answer what was read, then close */
bool	 clients_idle(void);
void	 client_free_all(void);	/* at exit, after the ledger's last callbacks */
void	 client_write_done(struct ledger_write *, void *);
/* Send this connection consent_changed events of product (-1: every product it may see). */
void	 client_subscribe(struct client *, int product);
/* A committed write changed consent: tell the subscribers. */
void	 client_publish(const struct ledger_write *);

/* One request being answered. */
struct request {
	struct client		*client;
	const struct peer	*peer;
	json_t			*msg;
	json_t			*id;
	struct reply_slot	*slot;
	int			 op;
	struct ledger_write	*write;		/* set by a write op: submit, answer later */
	struct proto_buf	*text;		/* or the reply as a line, instead of *reply */
};

/* ops.c */
enum op_result { OP_REPLIED, OP_PENDING };
int		 ops_find(const char *);
bool		 ops_is_write(int op);
const char	*ops_name(int op);
size_t		 ops_count(void);
/* Check role and run op; fills *reply, or returns OP_PENDING for a ledger write. */
enum op_result	 ops_dispatch(struct request *, json_t **reply);

/* op-ledger.c: the reply to a ledger write once durable, or to a ledger read once answered. */
json_t		*ops_write_reply(const struct ledger_write *, json_t *id);

/* main.c: load the policy tables again; the old set keeps serving on a problem. */
int	 policy_reload(json_t **problems);

#endif
