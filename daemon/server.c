/*
 * server.c: the listening socket: bind (or take it from systemd), accept, read the peer's
 * credentials and role, and hand the connection to client.c.
 *
 * Out of file descriptors, accept is paused for a second instead of spinning; past CLIENTS_MAX
 * connections a newcomer is told "busy" and closed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd.h"
#include "log.h"

#define LISTEN_BACKLOG		128
#define ACCEPT_PAUSE_SECONDS	1

static struct event	*accept_ev;
static struct event	*accept_pause_ev;
static int		 listen_fd = -1;

static void	accept_cb(evutil_socket_t, short, void *);
static void	accept_resume_cb(evutil_socket_t, short, void *);

/* Bind a fresh socket at path; a stale socket file there is replaced, anything else is not. */
int
server_listen(const char *path, unsigned mode)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s exists and is not a socket", path);
			return -1;
		}
		if (unlink(path) == -1) {
			log_warn("unlink %s", path);
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		log_warn("bind %s", path);
		close(fd);
		return -1;
	}
	if (chmod(path, mode) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("%s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int
server_start(int fd)
{
	listen_fd = fd;
	accept_ev = event_new(consentd->base, fd, EV_READ | EV_PERSIST, accept_cb, NULL);
	accept_pause_ev = evtimer_new(consentd->base, accept_resume_cb, NULL);
	if (accept_ev == NULL || accept_pause_ev == NULL || event_add(accept_ev, NULL) == -1) {
		log_warnx("cannot watch the listening socket");
		return -1;
	}
	return 0;
}

void
server_stop(void)
{
	if (accept_ev) {
		event_free(accept_ev);
		accept_ev = NULL;
	}
	if (accept_pause_ev) {
		event_free(accept_pause_ev);
		accept_pause_ev = NULL;
	}
	if (listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
	}
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (accept_ev != NULL)
		event_add(accept_ev, NULL);
}

/* Tell a connection we cannot take that we are busy, without waiting on it. */
static void
refuse_busy(int fd)
{
	json_t *r = proto_reply_error(NULL, PROTO_ERR_BUSY, "too many connections (%d)",
	    CLIENTS_MAX);
	size_t len;
	char *line = proto_encode(r, &len);

	if (line != NULL && send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("busy reply not sent");
	free(line);
	json_decref(r);
	close(fd);
	consentd->stats.connections_refused++;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct peer peer;
	int fd;

	(void)what;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			struct timeval tv = { ACCEPT_PAUSE_SECONDS, 0 };

			log_warn("accept; pausing for %d s", ACCEPT_PAUSE_SECONDS);
			event_del(accept_ev);
			evtimer_add(accept_pause_ev, &tv);
		} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (consentd->nclients >= CLIENTS_MAX || consentd->stopping) {
		refuse_busy(fd);
		return;
	}
	memset(&peer, 0, sizeof peer);
	peer.uid = cred.uid;
	peer.gid = cred.gid;
	peer.pid = cred.pid;
	config_peer(&consentd->config, &peer);
	log_debug("connection from uid %u pid %d: %s", (unsigned)peer.uid, (int)peer.pid,
	    role_name(peer.role));
	client_create(fd, &peer);
}
