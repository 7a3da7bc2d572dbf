/* handoff.c - a connection just accepted, passed to a less busy worker
 * (handoff.h). */
#include "lib/common.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/conn.h"
#include "server/handoff.h"
#include "server/limits.h"
#include "server/server.h"

#define HANDOFF_MAGIC 0x706f6877u /* "powh" */
/* Descriptors taken per connection and loop turn: the rest wait. */
#define HANDOFF_BATCH 64

struct handoff_msg {
	uint32_t magic;
	uint32_t svc;
	uint16_t port; /* the listener's, to find it in the receiver */
};

static socklen_t
inbox_name(pid_t master, int row, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	/* abstract: sun_path[0] == '\0', the length says where it ends */
	int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "postern-handoff-%ld-%d",
			 (long)master, row);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static struct listener *
find_listener(struct server *srv, uint32_t svc, uint16_t port)
{
	for (size_t i = 0; i < srv->listener_count; i++)
		if ((uint32_t)srv->listeners[i].svc == svc && srv->listeners[i].port == port)
			return &srv->listeners[i];
	return NULL;
}

static void
close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

/* One message: a descriptor for a listener of ours, or nothing (whatever
 * came is closed). The sender's uid was checked when it connected. When
 * closing, the worker's loop has ended: the connection is turned away. */
static void
take_one(struct server *srv, struct msghdr *mh, ssize_t len, const struct handoff_msg *m,
	 bool closing)
{
	int fd = -1, fds = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		fds += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	}
	struct listener *l = NULL;
	if (fds != 1 || fd < 0 || (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
	    len != (ssize_t)sizeof(*m) || m->magic != HANDOFF_MAGIC ||
	    (l = find_listener(srv, m->svc, m->port)) == NULL) {
		log_warning("handoff: dropped a message (%d descriptors, %zd bytes)", fds, len);
		close_fds(mh);
		return;
	}
	limits_incoming(srv->limits, srv->limits_row, -1);
	if (closing) {
		conn_turn_away(l, fd);
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd); /* the client is gone already */
		return;
	}
	conn_accept_handed(l, fd, (struct sockaddr *)&ss, (int)sl);
}

struct peer {
	struct server *srv;
	int fd;
	struct event *ev;
	struct peer *next;
};

static void
peer_free(struct server *srv, struct peer *p)
{
	for (struct peer **pp = &srv->handoff_peers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	event_free(p->ev);
	close(p->fd);
	free(p);
}

/* Take up to max messages waiting on p's connection; false when it ended
 * (p is freed). */
static bool
peer_take(struct peer *p, int max, bool closing)
{
	for (int i = 0; i < max; i++) {
		struct handoff_msg m;
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} ctl;
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		if (n <= 0) {
			/* the sending worker has gone */
			if (n < 0)
				log_warning("handoff: recvmsg: %s", strerror(errno));
			peer_free(p->srv, p);
			return false;
		}
		take_one(p->srv, &mh, n, &m, closing);
	}
	return true;
}

static void
peer_read(evutil_socket_t sock, short what, void *arg)
{
	(void)peer_take(arg, HANDOFF_BATCH, false);
}

/* A worker connects to hand connections over: only one of our uid. False
 * when none was waiting. */
static bool
accept_peer(struct server *srv)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	int fd = accept4(srv->handoff_in, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
		log_warning("handoff: refused a connection from uid %ld",
			    len == sizeof(cred) ? (long)cred.uid : -1L);
		close(fd);
		return true;
	}
	struct peer *p = xcalloc(1, sizeof(*p));
	p->srv = srv;
	p->fd = fd;
	p->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, peer_read, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0)
		fatal("handoff: cannot watch a connection");
	p->next = srv->handoff_peers;
	srv->handoff_peers = p;
	return true;
}

static void
inbox_accept(evutil_socket_t sock, short what, void *arg)
{
	(void)accept_peer(arg);
}

int
handoff_open(struct server *srv)
{
	struct sockaddr_un sun;

	srv->handoff_in = -1;
	for (size_t i = 0; i < N_ELEMENTS(srv->handoff_to); i++)
		srv->handoff_to[i] = -1;
	srv->master_pid = getppid();
	srv->handoff_in = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	socklen_t len = inbox_name(srv->master_pid, srv->limits_row, &sun);
	if (srv->handoff_in < 0 || bind(srv->handoff_in, (struct sockaddr *)&sun, len) < 0 ||
	    listen(srv->handoff_in, 64) < 0) {
		log_warning("handoff: cannot make the socket %s: %s", sun.sun_path + 1,
			    strerror(errno));
		handoff_close(srv);
		return -1;
	}
	srv->handoff_ev =
	    event_new(srv->base, srv->handoff_in, EV_READ | EV_PERSIST, inbox_accept, srv);
	if (srv->handoff_ev == NULL || event_add(srv->handoff_ev, NULL) < 0)
		fatal("handoff: cannot watch the socket");
	srv->handoff_open = true;
	limits_set_accepting(srv->limits, srv->limits_row, true);
	return 0;
}

void
handoff_stop_accepting(struct server *srv)
{
	if (srv->limits != NULL && srv->limits_row >= 0)
		limits_set_accepting(srv->limits, srv->limits_row, false);
}

void
handoff_close(struct server *srv)
{
	handoff_stop_accepting(srv);
	/* Connections handed over in the instant before accepting stopped
	 * get their goodbye, none is closed unanswered: the senders' pending
	 * connections are taken, no new one can come (the socket is closed),
	 * no more can be sent on the taken ones (a sender then serves its
	 * client itself: send_to fails), and what is queued is turned away. */
	if (srv->handoff_in >= 0)
		while (accept_peer(srv))
			;
	if (srv->handoff_ev != NULL) {
		event_free(srv->handoff_ev);
		srv->handoff_ev = NULL;
	}
	if (srv->handoff_in >= 0)
		close(srv->handoff_in);
	srv->handoff_in = -1;
	for (struct peer *p = srv->handoff_peers, *next; p != NULL; p = next) {
		next = p->next;
		(void)shutdown(p->fd, SHUT_RD);
		(void)peer_take(p, INT_MAX, true);
	}
	while (srv->handoff_peers != NULL)
		peer_free(srv, srv->handoff_peers);
	if (srv->handoff_open)
		for (size_t i = 0; i < N_ELEMENTS(srv->handoff_to); i++)
			if (srv->handoff_to[i] >= 0) {
				close(srv->handoff_to[i]);
				srv->handoff_to[i] = -1;
			}
	srv->handoff_open = false;
}

/* The connection to row's worker, made on first use; -1 when there is none
 * (not started, or gone). */
static int
connection_to(struct server *srv, int row)
{
	if (srv->handoff_to[row] >= 0)
		return srv->handoff_to[row];
	struct sockaddr_un sun;
	socklen_t len = inbox_name(srv->master_pid, row, &sun);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		close(fd);
		return -1;
	}
	/* Abstract names are anyone's to bind: a name left by a worker that
	 * died may have been taken by another local user, who must not be
	 * handed clients. */
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != getuid()) {
		log_warning("handoff: %s is held by uid %ld, not a worker: not used",
			    sun.sun_path + 1, clen == sizeof(cred) ? (long)cred.uid : -1L);
		close(fd);
		return -1;
	}
	srv->handoff_to[row] = fd;
	return fd;
}

static bool
send_to(struct server *srv, int row, const struct listener *l, int fd)
{
	struct handoff_msg m;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;

	memset(&m, 0, sizeof(m)); /* padding included */
	m.magic = HANDOFF_MAGIC;
	m.svc = (uint32_t)l->svc;
	m.port = l->port;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	/* Twice at most: a cached connection to a worker that has since been
	 * replaced fails (EPIPE), then one to its successor is made. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int sock = connection_to(srv, row);
		if (sock < 0)
			return false;
		if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(m))
			return true;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false; /* it is far behind: keep the connection */
		close(sock);
		srv->handoff_to[row] = -1;
	}
	return false;
}

bool
handoff_give(struct listener *l, int fd)
{
	struct server *srv = l->srv;

	if (!srv->handoff_open)
		return false;
	int row = limits_less_loaded(srv->limits, srv->limits_row);
	if (row < 0)
		return false;
	/* counted before it is sent, so that a burst does not all go there */
	limits_incoming(srv->limits, row, 1);
	if (!send_to(srv, row, l, fd)) {
		limits_incoming(srv->limits, row, -1);
		return false; /* kept here */
	}
	close(fd);
	return true;
}
