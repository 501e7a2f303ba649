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
 * The socket is read and written with plain events and evbuffers rather than a bufferevent:
 * one read and one write per request and no ioctl, and the write event armed only while the
 * socket is full.
 *
 * A connection whose peer has gone is unlinked at once but freed only when its last ledger
 * write has called back, since the write holds a pointer to it.
 *
 * A subscribed connection also gets consent_changed events, written straight to its output
 * (they carry no id, so they need no slot). Its queue is bounded: past SUBSCRIBER_QUEUE_BYTES
 * unsent it gets one overflow event and is closed, after SUBSCRIBER_LINGER_SECONDS at most for
 * that last event to go out. A slow subscriber therefore costs memory bounded per connection
 * and never holds a write or another client.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

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
	int			 fd;
	struct event		*ev_read, *ev_write;
	struct evbuffer		*in, *out;
	bool			 reading, writing;	/* the events are added */
	struct peer		 peer;
	TAILQ_HEAD(, reply_slot) slots;
	int			 nslots;
	int			 inflight_writes;
	json_t			*held;		/* a read waiting for this connection's writes */
	bool			 closing;	/* close once every reply is out */
	bool			 dead;		/* gone; free when no write is in flight */
	bool			 no_more_input;	/* stopping: answer what was read, read no more */
	bool			 subscribed;
	int			 sub_product;	/* events of this product only; -1: every one */
	TAILQ_ENTRY(client)	 sub_entry;	/* in subscribers, while subscribed */
	struct event		*linger;	/* after an overflow: the end of its grace */
};

/* What a ledger write carries back to its connection. */
struct write_ctx {
	struct client		*client;
	struct reply_slot	*slot;
	json_t			*id;
};

static void	 client_read_cb(evutil_socket_t, short, void *);
static void	 client_write_cb(evutil_socket_t, short, void *);
static void	 process_input(struct client *);
static void	 client_kill(struct client *);
static void	 push_output(struct client *);
static void	 close_io(struct client *);
static void	 set_reading(struct client *, bool);
static void	 reap_cb(evutil_socket_t, short, void *);
static void	 bury(struct client *);
static void	 unsubscribe(struct client *);

/*
 * Connections that died, freed from the loop once the callback that killed them has returned:
 * every caller up the stack may still look at c->dead.
 */
static TAILQ_HEAD(, client)	 graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static TAILQ_HEAD(, client)	 subscribers = TAILQ_HEAD_INITIALIZER(subscribers);
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
	c->fd = fd;
	c->ev_read = event_new(consentd->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
	c->ev_write = event_new(consentd->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->ev_read == NULL || c->ev_write == NULL || c->in == NULL || c->out == NULL) {
		close_io(c);
		free(c);
		return;
	}
	c->peer = *peer;
	TAILQ_INIT(&c->slots);
	set_reading(c, true);
	TAILQ_INSERT_TAIL(&consentd->clients, c, entry);
	consentd->nclients++;
	consentd->stats.connections_total++;
}

/* The socket, its events and buffers. */
static void
close_io(struct client *c)
{
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	c->ev_read = c->ev_write = NULL;
	c->in = c->out = NULL;
	if (c->linger != NULL)
		event_free(c->linger);
	c->linger = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/* Add or remove an event only when that changes something: each is a system call. */
static void
set_event(struct client *c, struct event *ev, bool *added, bool on)
{
	if (c->dead || *added == on)
		return;
	*added = on;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
}

static void
set_reading(struct client *c, bool on)
{
	set_event(c, c->ev_read, &c->reading, on);
}

static void
set_writing(struct client *c, bool on)
{
	set_event(c, c->ev_write, &c->writing, on);
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
	unsubscribe(c);
	close_io(c);
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
			evbuffer_add(c->out, s->data, s->len);
		if (s->close_after)
			c->closing = true;
		free(s->data);
		free(s);
	}
	if (c->closing && !c->dead && c->inflight_writes == 0 &&
	    evbuffer_get_length(c->out) == 0)
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
		evbuffer_add(c->out, text->data, text->len);
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

	set_reading(c, false);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
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
		    c->out) > CLIENT_OUTPUT_HIGH_BYTES) {
			set_reading(c, false);
			push_output(c);
			return;		/* resumed as replies go out */
		}
		in = c->in;
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
			evbuffer_drain(c->in, (size_t)end + 1);
		/* Let a pipelining peer start on the first replies while the rest are made. */
		if (!c->dead && evbuffer_get_length(c->out) >= CLIENT_WRITE_EARLY_BYTES)
			push_output(c);
	}
out:
	if (!c->dead && !c->closing && !c->no_more_input)
		set_reading(c, true);
	push_output(c);
}

/* Whether a failed read or write only means "not now". */
static bool
transient(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Write what is queued now; arm the write event only when the socket cannot take it all. */
static void
push_output(struct client *c)
{
	if (c->dead)
		return;
	if (evbuffer_get_length(c->out) > 0 && !c->writing) {
		if (evbuffer_write(c->out, c->fd) == -1 && !transient()) {
			client_kill(c);		/* the peer is gone */
			return;
		}
		if (evbuffer_get_length(c->out) > 0)
			set_writing(c, true);
	}
	if (c->closing && c->inflight_writes == 0 && evbuffer_get_length(c->out) == 0)
		client_kill(c);
}

/* The peer closed its side: answer what it sent before, then close. */
static void
end_of_input(struct client *c)
{
	c->no_more_input = true;
	set_reading(c, false);
	process_input(c);
	if (!c->dead && c->inflight_writes == 0 && c->held == NULL && c->nslots == 0) {
		c->closing = true;
		flush(c);
	}
	push_output(c);
}

static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct evbuffer_iovec v;
	ssize_t n;

	(void)what;
	if (evbuffer_reserve_space(c->in, CLIENT_READ_BYTES, &v, 1) < 1) {
		client_kill(c);
		return;
	}
	if ((n = read(fd, v.iov_base, v.iov_len)) > 0) {
		v.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &v, 1);
		process_input(c);
	} else if (n == 0) {
		end_of_input(c);
	} else if (!transient()) {
		client_kill(c);
	}
}

static void
client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)what;
	if (evbuffer_write(c->out, fd) == -1 && !transient()) {
		client_kill(c);
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		return;
	/* Everything queued is out: back to writing directly, and to reading if paused. */
	set_writing(c, false);
	if (c->closing) {
		flush(c);
		push_output(c);
		return;
	}
	process_input(c);
}

static void
unsubscribe(struct client *c)
{
	if (!c->subscribed)
		return;
	TAILQ_REMOVE(&subscribers, c, sub_entry);
	c->subscribed = false;
}

void
client_subscribe(struct client *c, int product)
{
	c->sub_product = product;
	if (!c->subscribed)
		TAILQ_INSERT_TAIL(&subscribers, c, sub_entry);
	c->subscribed = true;
}

static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_kill(arg);
}

/* The subscriber did not keep up: tell it, stop its events, and close. */
static void
overflow(struct client *c, int64_t seq)
{
	struct timeval tv = { SUBSCRIBER_LINGER_SECONDS, 0 };
	json_t *ev = json_pack("{s:s,s:I,s:s}", "event", "overflow", "seq", (json_int_t)seq,
	    "message", "events came faster than this connection read them; it is closed: "
	    "subscribe again and read status for what changed");
	size_t len;
	char *line = proto_encode(ev, &len);

	json_decref(ev);
	unsubscribe(c);
	if (line != NULL)
		evbuffer_add(c->out, line, len);
	free(line);
	c->closing = true;
	set_reading(c, false);
	if ((c->linger = evtimer_new(consentd->base, linger_cb, c)) == NULL ||
	    evtimer_add(c->linger, &tv) == -1) {
		client_kill(c);
		return;
	}
	push_output(c);
}

/* One consent_changed event to every subscriber of its product. */
static void
publish(const char *product, const char *subject, const char *scope, const char *state,
    int64_t seq)
{
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "event", "consent_changed",
	    "product", product, "subject", subject, "scope", scope, "state", state, "seq",
	    (json_int_t)seq);
	struct client *c, *next;
	size_t len;
	char *line = proto_encode(ev, &len);
	int p = registry_find(&consentd->policy->reg, ID_PRODUCT, product);

	json_decref(ev);
	for (c = TAILQ_FIRST(&subscribers); line != NULL && c != NULL; c = next) {
		next = TAILQ_NEXT(c, sub_entry);
		if ((c->sub_product >= 0 && c->sub_product != p) ||
		    !peer_has_product(&c->peer, product))
			continue;
		if (evbuffer_get_length(c->out) + len > SUBSCRIBER_QUEUE_BYTES) {
			overflow(c, seq);
			continue;
		}
		evbuffer_add(c->out, line, len);
		push_output(c);
	}
	free(line);
}

void
client_publish(const struct ledger_write *w)
{
	static const char *const states[] = { "granted", "withdrawn", "refused" };
	json_t *scope;
	size_t i;

	if (w->failed || w->blocked || TAILQ_EMPTY(&subscribers))
		return;
	if (w->op <= LEDGER_REFUSE)
		publish(w->product, w->subject, w->scope, states[w->op], w->seq);
	else if (w->op == LEDGER_CANCEL)
		json_array_foreach(w->result, i, scope)
			publish(w->product, w->subject, json_string_value(scope), "withdrawn",
			    w->seq);
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
		set_reading(c, false);
		process_input(c);
	}
}

bool
clients_idle(void)
{
	struct client *c;

	TAILQ_FOREACH(c, &consentd->clients, entry)
		if (c->nslots > 0 || c->inflight_writes > 0 || c->held != NULL ||
		    evbuffer_get_length(c->out) > 0)
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
