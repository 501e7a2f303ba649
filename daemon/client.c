/*
 * client.c: one connection's life.
 *
 * Lines are read up to PROTO_LINE_MAX_BYTES, parsed, and answered through a queue of reply
 * slots, one per request, flushed strictly in request order: a read is answered at once into
 * its slot, a write's slot fills when the ledger calls back after the commit. A request that
 * reads consent state waits while this connection still has writes in flight, so a pipelined
 * grant-then-check sees its own grant. Bounds: slots in flight (CLIENT_INFLIGHT_MAX) and queued
 * output (CLIENT_OUTPUT_HIGH_BYTES) pause reading; the peer is never dropped for being slow
 * but stops being read until it catches up.
 *
 * A connection whose peer has gone is unlinked at once but freed only when its last ledger
 * write has called back, since the write holds a pointer to it.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "consentd.h"
#include "log.h"

struct reply_slot {
	TAILQ_ENTRY(reply_slot)	 entry;
	char			*data;
	size_t			 len;
	bool			 ready;
	bool			 close_after;
};

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct bufferevent	*bev;
	struct peer		 peer;
	TAILQ_HEAD(, reply_slot) slots;
	int			 nslots;
	int			 inflight_writes;
	json_t			*held;		/* a read waiting for this connection's writes */
	bool			 closing;	/* close once every reply is out */
	bool			 dead;		/* gone; free when no write is in flight */
	bool			 no_more_input;	/* stopping: answer what was read, read no more */
};

/* What a ledger write carries back to its connection. */
struct write_ctx {
	struct client		*client;
	struct reply_slot	*slot;
	json_t			*id;
};

static void	 client_read_cb(struct bufferevent *, void *);
static void	 client_write_cb(struct bufferevent *, void *);
static void	 client_event_cb(struct bufferevent *, short, void *);
static void	 process_input(struct client *);
static void	 client_kill(struct client *);
static void	 push_output(struct client *);
static void	 reap_cb(evutil_socket_t, short, void *);
static void	 bury(struct client *);

/*
 * Connections that died, freed from the loop once the callback that killed them has returned:
 * every caller up the stack may still look at c->dead.
 */
static TAILQ_HEAD(, client)	 graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static struct event		*reaper;

void
client_create(int fd, const struct peer *peer)
{
	struct client *c = calloc(1, sizeof *c);

	if (reaper == NULL)
		reaper = event_new(consentd->base, -1, 0, reap_cb, NULL);
	if (c == NULL || reaper == NULL) {
		free(c);
		close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(consentd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->peer = *peer;
	TAILQ_INIT(&c->slots);
	/* Read no more than a line and a bit ahead: an endless line costs 64 KiB, not memory. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * PROTO_LINE_MAX_BYTES);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
	/* Replies are written directly; the write event is armed only when the socket is full. */
	bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&consentd->clients, c, entry);
	consentd->nclients++;
	consentd->stats.connections_total++;
}

static void
client_free(struct client *c)
{
	struct reply_slot *s;

	while ((s = TAILQ_FIRST(&c->slots)) != NULL) {
		TAILQ_REMOVE(&c->slots, s, entry);
		free(s->data);
		free(s);
	}
	json_decref(c->held);
	free(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c;

	(void)fd;
	(void)what;
	(void)arg;
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		client_free(c);
	}
}

static void
bury(struct client *c)
{
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	event_active(reaper, EV_TIMEOUT, 0);
}

/* The peer is gone or must go: unlink now, free when no ledger write points here. */
static void
client_kill(struct client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	TAILQ_REMOVE(&consentd->clients, c, entry);
	consentd->nclients--;
	if (c->inflight_writes == 0)
		bury(c);
}

static struct reply_slot *
slot_new(struct client *c)
{
	struct reply_slot *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	TAILQ_INSERT_TAIL(&c->slots, s, entry);
	c->nslots++;
	return s;
}

/* Send every reply that is ready and has no unanswered request before it. */
static void
flush(struct client *c)
{
	struct reply_slot *s;

	while ((s = TAILQ_FIRST(&c->slots)) != NULL && s->ready) {
		TAILQ_REMOVE(&c->slots, s, entry);
		c->nslots--;
		if (!c->dead && !c->closing && s->data != NULL)
			bufferevent_write(c->bev, s->data, s->len);
		if (s->close_after)
			c->closing = true;
		free(s->data);
		free(s);
	}
	if (c->closing && !c->dead && c->inflight_writes == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_kill(c);
}

/* Fill slot with reply (consumed) and send what can be sent. */
static void
slot_fill(struct client *c, struct reply_slot *s, json_t *reply, bool close_after)
{
	if (reply != NULL) {
		if (json_is_false(json_object_get(reply, "ok")))
			consentd->stats.errors++;
		s->data = proto_encode(reply, &s->len);
		json_decref(reply);
	}
	s->ready = true;
	s->close_after = close_after;
	flush(c);
}

/*
 * The answer to a request that was answered at once: a JSON reply (consumed) or a line of text.
 * With nothing unanswered before it, it goes straight to the output without a slot.
 */
static void
answer(struct client *c, json_t *reply, const struct proto_buf *text)
{
	struct reply_slot *s;

	if (text != NULL && text->failed) {
		reply = proto_reply_error(NULL, PROTO_ERR_INTERNAL, "out of memory");
		text = NULL;
	}
	if (TAILQ_EMPTY(&c->slots) && text != NULL) {
		bufferevent_write(c->bev, text->data, text->len);
		return;
	}
	if ((s = slot_new(c)) == NULL) {
		json_decref(reply);
		client_kill(c);
		return;
	}
	if (text != NULL && (s->data = malloc(text->len)) != NULL) {
		memcpy(s->data, text->data, text->len);
		s->len = text->len;
		reply = NULL;
	} else if (text != NULL) {
		reply = proto_reply_error(NULL, PROTO_ERR_INTERNAL, "out of memory");
	}
	slot_fill(c, s, reply, false);
}

/* Answer at once with an error that ends the connection (too_large, bad_json). */
static void
reply_and_close(struct client *c, json_t *reply)
{
	struct reply_slot *s = slot_new(c);

	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	if (s == NULL) {
		json_decref(reply);
		client_kill(c);
		return;
	}
	slot_fill(c, s, reply, true);
}

/* Run one parsed request. Consumes msg. */
static void
handle_request(struct client *c, json_t *msg)
{
	struct request req = { .client = c, .peer = &c->peer, .msg = msg };
	struct write_ctx *ctx;
	struct ledger_write *w = NULL;
	json_t *reply = NULL, *op;

	consentd->stats.requests++;
	req.id = json_object_get(msg, "id");
	op = json_object_get(msg, "op");
	req.op = json_is_string(op) ? ops_find(json_string_value(op)) : -1;
	if (req.op >= 0 && !ops_is_write(req.op) && c->inflight_writes > 0) {
		c->held = msg;	/* resumed by client_write_done */
		return;
	}
	if (ops_dispatch(&req, &reply) == OP_REPLIED) {
		answer(c, reply, reply == NULL ? req.text : NULL);
		json_decref(msg);
		return;
	}
	w = req.write;
	if ((req.slot = slot_new(c)) == NULL) {
		ledger_write_free(w);
		json_decref(msg);
		client_kill(c);
		return;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL || w == NULL) {
		free(ctx);
		ledger_write_free(w);
		slot_fill(c, req.slot, proto_reply_error(req.id, PROTO_ERR_INTERNAL,
		    "out of memory"), false);
		json_decref(msg);
		return;
	}
	ctx->client = c;
	ctx->slot = req.slot;
	ctx->id = json_incref(req.id);
	w->cookie = ctx;
	c->inflight_writes++;
	ledger_submit(consentd->ledger, w);
	json_decref(msg);
}

/* Parse one line and run it. */
static void
handle_line(struct client *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *msg;
	size_t i;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
		;
	if (i == len)
		return;		/* a blank line asks nothing */
	if ((msg = json_loadb(line, len, 0, &err)) == NULL) {
		consentd->stats.bad_json++;
		consentd->stats.requests++;
		reply_and_close(c, proto_reply_error(NULL, PROTO_ERR_BAD_JSON,
		    "malformed JSON at column %d: %s", err.column, err.text));
		return;
	}
	if (!json_is_object(msg) || !proto_id_valid(json_object_get(msg, "id"))) {
		consentd->stats.requests++;
		answer(c, proto_reply_error(NULL, PROTO_ERR_BAD_REQUEST, json_is_object(msg) ?
		    "\"id\" must be a string, number, boolean or null" :
		    "a request must be a JSON object"), NULL);
		json_decref(msg);
		return;
	}
	handle_request(c, msg);
}

static void
process_input(struct client *c)
{
	struct evbuffer *in;

	while (!c->dead && !c->closing) {
		size_t len;
		long end;
		int too_large;
		char *data;

		if (c->held != NULL) {
			json_t *msg = c->held;

			if (c->inflight_writes > 0)
				goto out;
			c->held = NULL;
			handle_request(c, msg);
			continue;
		}
		if (c->nslots >= CLIENT_INFLIGHT_MAX || evbuffer_get_length(
		    bufferevent_get_output(c->bev)) > CLIENT_OUTPUT_HIGH_BYTES) {
			bufferevent_disable(c->bev, EV_READ);
			push_output(c);
			return;		/* resumed as replies go out */
		}
		in = bufferevent_get_input(c->bev);
		if ((len = evbuffer_get_length(in)) == 0)
			break;
		if (len > PROTO_LINE_MAX_BYTES)
			len = PROTO_LINE_MAX_BYTES;
		data = (char *)evbuffer_pullup(in, len);
		end = proto_line_end(data, len, &too_large);
		if (too_large) {
			consentd->stats.lines_too_large++;
			consentd->stats.requests++;
			reply_and_close(c, proto_reply_error(NULL, PROTO_ERR_TOO_LARGE,
			    "a line may hold at most %d bytes", PROTO_LINE_MAX_BYTES));
			goto out;
		}
		if (end < 0)
			break;		/* wait for the rest of the line */
		handle_line(c, data, (size_t)end);
		if (!c->dead && !c->closing)
			evbuffer_drain(bufferevent_get_input(c->bev), (size_t)end + 1);
	}
out:
	if (!c->dead && !c->closing && !c->no_more_input)
		bufferevent_enable(c->bev, EV_READ);
	push_output(c);
}

/* Write what is queued now; arm the write event only when the socket cannot take it all. */
static void
push_output(struct client *c)
{
	struct evbuffer *out;

	if (c->dead)
		return;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > 0 && !(bufferevent_get_enabled(c->bev) & EV_WRITE)) {
		(void)evbuffer_write(out, bufferevent_getfd(c->bev));
		/* Full, or failed: the bufferevent finishes the job or reports the error. */
		if (evbuffer_get_length(out) > 0)
			bufferevent_enable(c->bev, EV_WRITE);
	}
	if (c->closing && c->inflight_writes == 0 && evbuffer_get_length(out) == 0)
		client_kill(c);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	/* Everything queued is out: back to writing directly. */
	bufferevent_disable(bev, EV_WRITE);
	if (c->closing) {
		flush(c);
		return;
	}
	process_input(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* Answer what was read before the peer closed its side, if it still listens. */
		if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
			c->no_more_input = true;
			process_input(c);
			if (!c->dead && c->inflight_writes == 0 && c->held == NULL &&
			    c->nslots == 0) {
				c->closing = true;
				flush(c);
				push_output(c);
				return;
			}
			if (!c->dead)
				c->closing = c->nslots == 0 && c->inflight_writes == 0;
			push_output(c);
			return;
		}
		client_kill(c);
	}
}

void
client_write_done(struct ledger_write *w, void *arg)
{
	struct write_ctx *ctx = w->cookie;
	struct client *c = ctx->client;
	json_t *reply = ops_write_reply(w, ctx->id);

	(void)arg;
	c->inflight_writes--;
	if (c->dead) {
		json_decref(reply);
		free(ctx->slot->data);
		TAILQ_REMOVE(&c->slots, ctx->slot, entry);
		free(ctx->slot);
		if (c->inflight_writes == 0)
			bury(c);
	} else {
		slot_fill(c, ctx->slot, reply, false);
		if (!c->dead) {
			if (c->no_more_input && c->inflight_writes == 0 && c->held == NULL &&
			    c->nslots == 0)
				c->closing = true;
			if (!c->closing)
				process_input(c);
			else
				flush(c);
			push_output(c);
		}
	}
	json_decref(ctx->id);
	free(ctx);
	ledger_write_free(w);
}

void
client_drain_all(void)
{
	struct client *c, *next;

	for (c = TAILQ_FIRST(&consentd->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		c->no_more_input = true;
		bufferevent_disable(c->bev, EV_READ);
		process_input(c);
	}
}

bool
clients_idle(void)
{
	struct client *c;

	TAILQ_FOREACH(c, &consentd->clients, entry)
		if (c->nslots > 0 || c->inflight_writes > 0 || c->held != NULL ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return false;
	return true;
}

void
client_free_all(void)
{
	struct client *c;

	while ((c = TAILQ_FIRST(&consentd->clients)) != NULL)
		client_kill(c);
	reap_cb(-1, 0, NULL);
	if (reaper != NULL)
		event_free(reaper);
	reaper = NULL;
}
