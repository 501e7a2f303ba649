/*
 * refserver.c: the two reference servers of the bench (see bench.py), on the same transport
 * as consentd: an AF_UNIX stream socket, libevent bufferevents, newline-delimited lines.
 *
 *   --mode echo   answers each line received with a fixed reply line (--reply, by default
 *                 250 bytes): what the transport alone costs, the ceiling for consentd.
 *   --mode json   parses each line with jansson (json_loadb) and answers with a small reply
 *                 object shaped like a check reply, made with json_dumps: what the JSON
 *                 library costs on top of the transport.
 *
 * Both take any number of connections and pipelined requests: each read callback answers every
 * complete line in the input buffer, in order. SIGTERM or SIGINT stops them.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#define LINE_MAX_BYTES	65536

enum mode { MODE_ECHO, MODE_JSON };

static enum mode	 mode = MODE_ECHO;
static char		*reply_line;		/* echo: the fixed reply, with its newline */
static size_t		 reply_len;
static uint64_t		 replies;

static void
usage(void)
{
	fprintf(stderr, "usage: refserver --mode echo|json --socket PATH [--reply LINE]\n");
	exit(2);
}

/* The reply of json mode: the request's id echoed, the rest shaped like a check's allow. */
static void
answer_json(struct evbuffer *out, const char *line, size_t len)
{
	json_error_t err;
	json_t *req = json_loadb(line, len, 0, &err), *rep, *id;
	char did[40], *text;

	rep = json_object();
	if (req == NULL || !json_is_object(req)) {
		json_object_set_new(rep, "ok", json_false());
		json_object_set_new(rep, "error", json_pack("{s:s,s:s}", "code", "bad_json",
		    "message", req == NULL ? err.text : "not an object"));
	} else {
		if ((id = json_object_get(req, "id")) != NULL)
			json_object_set(rep, "id", id);
		snprintf(did, sizeof did, "dref-%llx", (unsigned long long)replies + 1);
		json_object_set_new(rep, "ok", json_true());
		json_object_set_new(rep, "decision", json_string("allow"));
		json_object_set_new(rep, "reasons", json_array());
		json_object_set_new(rep, "basis", json_string("legal_obligation"));
		json_object_set_new(rep, "policy", json_string("mipay@2024-04-25"));
		json_object_set_new(rep, "decision_id", json_string(did));
		json_object_set_new(rep, "detail", json_string("allowed with basis "
		    "legal_obligation"));
	}
	json_decref(req);
	text = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	if (text != NULL) {
		evbuffer_add(out, text, strlen(text));
		evbuffer_add(out, "\n", 1);
		free(text);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
	size_t len = evbuffer_get_length(in), start = 0;
	const char *data, *nl;

	(void)arg;
	if (len == 0)
		return;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	while ((nl = memchr(data + start, '\n', len - start)) != NULL) {
		size_t n = (size_t)(nl - (data + start));

		if (mode == MODE_ECHO)
			evbuffer_add(out, reply_line, reply_len);
		else
			answer_json(out, data + start, n);
		replies++;
		start += n + 1;
	}
	if (start == 0 && len >= LINE_MAX_BYTES) {
		bufferevent_free(bev);		/* an endless line: drop the peer */
		return;
	}
	evbuffer_drain(in, start);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct event_base *base = arg;
	struct bufferevent *bev;

	(void)lev;
	(void)sa;
	(void)salen;
	if ((bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return;
	}
	/* As consentd: read at most a line and a bit ahead. */
	bufferevent_setwatermark(bev, EV_READ, 0, 2 * LINE_MAX_BYTES);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "refserver: socket path too long\n");
		return -1;
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 || listen(fd, 128) == -1) {
		fprintf(stderr, "refserver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode",	required_argument, NULL, 'm' },
		{ "socket",	required_argument, NULL, 's' },
		{ "reply",	required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *reply = NULL;
	struct event_base *base;
	struct evconnlistener *lev;
	struct event *sig_term, *sig_int;
	int ch, fd;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				mode = MODE_ECHO;
			else if (strcmp(optarg, "json") == 0)
				mode = MODE_JSON;
			else
				usage();
			break;
		case 's': path = optarg; break;
		case 'r': reply = optarg; break;
		default: usage();
		}
	}
	if (path == NULL)
		usage();
	if (reply != NULL) {
		reply_len = strlen(reply) + 1;
		if ((reply_line = malloc(reply_len)) == NULL)
			return 1;
		memcpy(reply_line, reply, reply_len - 1);
	} else {
		static const char head[] = "{\"id\":1,\"ok\":true,\"decision\":\"allow\",\"pad\":\"";

		reply_len = 250;
		if ((reply_line = malloc(reply_len)) == NULL)
			return 1;
		memset(reply_line, 'x', reply_len);
		memcpy(reply_line, head, sizeof head - 1);
		memcpy(reply_line + reply_len - 3, "\"}", 2);
	}
	reply_line[reply_len - 1] = '\n';
	signal(SIGPIPE, SIG_IGN);
	if ((fd = listen_unix(path)) == -1)
		return 1;
	if ((base = event_base_new()) == NULL ||
	    (lev = evconnlistener_new(base, accept_cb, base, LEV_OPT_CLOSE_ON_FREE, -1,
	    fd)) == NULL) {
		fprintf(stderr, "refserver: cannot set up the event loop\n");
		return 1;
	}
	sig_term = evsignal_new(base, SIGTERM, signal_cb, base);
	sig_int = evsignal_new(base, SIGINT, signal_cb, base);
	event_add(sig_term, NULL);
	event_add(sig_int, NULL);
	event_base_dispatch(base);
	evconnlistener_free(lev);
	event_free(sig_term);
	event_free(sig_int);
	event_base_free(base);
	unlink(path);
	free(reply_line);
	return 0;
}
