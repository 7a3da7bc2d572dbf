/* conn.c - accepting connections, their buffers, limits and lifetime. */
#include "lib/common.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "server/conn.h"
#include "server/handoff.h"
#include "server/server.h"

/* Time a peer gets to accept our output before we give up on it. */
#define CONN_WRITE_TIMEOUT 300
/* Input held while the session does not take it (it waits for a password
 * check or a delivery): reading stops beyond this. Above the longest line a
 * session needs whole (smtpd.max_line is at most 1 MiB). */
#define CONN_INPUT_MAX (2 * 1024 * 1024)
/* Replies not yet taken by the client: reading stops beyond this until the
 * client has read them all, so pipelining without reading cannot make the
 * output grow without bound. */
#define CONN_OUTPUT_MAX (256 * 1024)

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void shutdown_one(struct conn *c);

static void
make_id(char id[12])
{
	static const char alphabet[] = "0123456789bcdfghjklmnpqrstvwxyz";
	uint64_t r = ((uint64_t)arc4random() << 32) | arc4random();

	for (int i = 0; i < 11; i++, r /= 31)
		id[i] = alphabet[r % 31];
	id[11] = '\0';
}

static void
set_timeouts(struct conn *c, unsigned read_seconds)
{
	struct timeval rd = {.tv_sec = read_seconds}, wr = {.tv_sec = CONN_WRITE_TIMEOUT};

	bufferevent_set_timeouts(c->bev, read_seconds ? &rd : NULL, &wr);
}

/* The time a client gets for a TLS handshake: tls.handshake_timeout, or
 * the idle time-out when shorter (0, no idle time-out, is not shorter). */
static unsigned
handshake_timeout(const struct conn *c)
{
	unsigned idle = c->scfg->idle_timeout, limit = c->srv->cfg->tls_handshake_timeout;

	return idle != 0 && idle < limit ? idle : limit;
}

static void
attach(struct conn *c, struct bufferevent *bev, unsigned read_timeout)
{
	c->bev = bev;
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	set_timeouts(c, read_timeout);
	bufferevent_setwatermark(bev, EV_READ, 0, CONN_INPUT_MAX);
	c->read_paused = false;
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A new connection of svc from peer_ip, linked into srv->conns. */
static struct conn *
conn_new(struct server *srv, enum service svc, const char *peer_ip, bool loopback)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->srv = srv;
	c->svc = svc;
	c->scfg = &srv->cfg->svc[svc];
	c->proto = protocol_for(svc);
	make_id(c->id);
	buf_init(&c->line, BUF_UNLIMITED);
	str_copy(c->peer_ip, sizeof(c->peer_ip), peer_ip);
	c->peer_loopback = loopback;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->conn_count++;
	return c;
}

static void
refuse(const struct protocol *proto, int fd, const char *reason)
{
	char msg[256];

	if (proto->refusal_prefix == NULL)
		return;
	int n = snprintf(msg, sizeof(msg), "%s%s%s", proto->refusal_prefix, reason,
			 proto->refusal_suffix);
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
accept_again(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	if (l->evl != NULL && !l->srv->stopping && !l->srv->retiring)
		evconnlistener_enable(l->evl);
}

/* Workers share each listening socket, and a woken worker would accept
 * every connection waiting (a burst of 20 clients landing on one worker
 * while the other idles). Taking one per turn of the event loop lets the
 * other workers, woken too, take theirs; what still lands unevenly is
 * evened out by handing connections over (handoff.h). */
static void
accept_yield(struct listener *l)
{
	static const struct timeval now = {0, 0};
	struct server *srv = l->srv;

	if (l->evl == NULL)
		return;
	evconnlistener_disable(l->evl);
	if (event_base_once(srv->base, -1, EV_TIMEOUT, accept_again, l, &now) < 0)
		evconnlistener_enable(l->evl);
}

static void accepted(struct listener *l, int fd, struct sockaddr *sa, bool handed);

void
conn_turn_away(struct listener *l, int fd)
{
	const struct protocol *proto = protocol_for(l->svc);

	if (proto->goodbye != NULL && !l->srv->cfg->svc[l->svc].implicit_tls)
		(void)send(fd, proto->goodbye, strlen(proto->goodbye), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

void
conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int socklen,
	    void *arg)
{
	struct listener *l = arg;

	if (l->srv->stopping || l->srv->retiring) {
		conn_turn_away(l, fd);
		return;
	}
	accept_yield(l);
	if (handoff_give(l, fd))
		return;
	accepted(l, fd, sa, false);
}

void
conn_accept_handed(struct listener *l, int fd, struct sockaddr *sa, int socklen)
{
	/* A retiring worker still serves what was handed to it in the
	 * instant before it stopped accepting, unless it has nothing else to
	 * serve: then its loop is about to end. */
	if (l->srv->stopping || (l->srv->retiring && l->srv->conn_count == 0)) {
		conn_turn_away(l, fd);
		return;
	}
	accepted(l, fd, sa, true);
}

static void
accepted(struct listener *l, int fd, struct sockaddr *sa, bool handed)
{
	struct server *srv = l->srv;
	const struct service_config *scfg = &srv->cfg->svc[l->svc];
	const struct protocol *proto = protocol_for(l->svc);
	struct limit_ticket ticket;
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = 0;

	if (net_addr_str(sa, ip, sizeof(ip), &port) < 0)
		str_copy(ip, sizeof(ip), "unknown");
	enum limit_verdict v = limits_admit(srv->limits, srv->limits_row, l->svc, sa,
					    scfg->max_connections, scfg->max_per_ip, &ticket);
	if (v != LIMIT_OK) {
		const char *why = v == LIMIT_TOTAL ? "too many connections"
						   : "too many connections from your address";
		log_notice("%s: refused %s port %u: %s", l->name, ip, port, why);
		if (!scfg->implicit_tls)
			refuse(proto, fd, why);
		close(fd);
		return;
	}

	struct conn *c = conn_new(srv, l->svc, ip, net_is_loopback(sa));
	c->ticket = ticket;
	c->peer_port = port;
	str_copy(c->local_ip, sizeof(c->local_ip), l->host);
	c->local_port = l->port;

	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_log(c, LOG_LVL_INFO, "connect from %s port %u to %s%s", ip, port, l->name,
		 handed ? " (handed over)" : "");
	if (scfg->implicit_tls) {
		const char *error;
		struct bufferevent *bev = tls_accept_socket(srv->base, fd, srv->tls, &error);
		if (bev == NULL) {
			conn_log(c, LOG_LVL_ERROR, "cannot start TLS: %s", error);
			conn_close(c);
			return;
		}
		c->tls = true;
		attach(c, bev, handshake_timeout(c));
		return; /* started once the handshake completes (conn_event_cb) */
	}
	struct bufferevent *bev = tls_plain_socket(srv->base, fd);
	if (bev == NULL) {
		conn_log(c, LOG_LVL_ERROR, "out of memory for a connection");
		conn_close(c);
		return;
	}
	attach(c, bev, scfg->idle_timeout);
	c->started = true;
	c->proto->start(c);
}

void
conn_open_bufferevent(struct server *srv, enum service svc, struct bufferevent *bev,
		      const char *peer_ip, bool loopback)
{
	struct conn *c = conn_new(srv, svc, peer_ip, loopback);

	str_copy(c->local_ip, sizeof(c->local_ip), "127.0.0.1");
	attach(c, bev, c->scfg->idle_timeout);
	c->started = true;
	c->proto->start(c);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

bool
conn_output_full(struct conn *c)
{
	return c->bev != NULL &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) > CONN_OUTPUT_MAX;
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->bev != NULL && !c->closing)
		bufferevent_write(c->bev, data, len);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bev == NULL || c->closing)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

enum line_result
conn_read_line(struct conn *c, struct line_reader *lr, struct line *line_r)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return LINE_NEED_MORE;
		size_t window = avail;
		if (lr->max <= SIZE_MAX - 2 && window > lr->max + 2)
			window = lr->max + 2;
		const char *data = (const char *)evbuffer_pullup(in, (ssize_t)window);
		size_t consumed;
		enum line_result r = line_reader_next(lr, data, window, line_r, &consumed);
		if (r == LINE_OK) {
			buf_reset(&c->line);
			if (buf_add(&c->line, line_r->data, line_r->len) < 0)
				panic("conn_read_line: line buffer smaller than the reader");
			line_r->data = c->line.data;
		}
		evbuffer_drain(in, consumed);
		if (r != LINE_NEED_MORE || consumed == 0)
			return r;
		/* Skipped the tail of a long line: look again. */
	}
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	if (c->bev != NULL)
		set_timeouts(c, seconds);
}

void
conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->starttls_pending) {
		/* The TLS module owns the socket until starttls_done. */
		c->closing = true;
		return;
	}
	if (c->proto->free != NULL)
		c->proto->free(c);
	if (c->bev != NULL)
		tls_free(&c->bev);
	if (srv->limits != NULL)
		limits_release(srv->limits, &c->ticket);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->conn_count--;
	conn_log(c, LOG_LVL_INFO, "disconnect from %s", c->peer_ip);
	buf_release(&c->line);
	free(c);
	if ((srv->stopping || srv->retiring) && srv->conn_count == 0)
		worker_idle(srv);
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->bev == NULL)
		return; /* STARTTLS in progress: starttls_done closes */
	bufferevent_disable(c->bev, EV_READ);
	/* The write callback fires (deferred) once the output is empty. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_trigger(c->bev, EV_WRITE,
			    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
starttls_done(struct bufferevent *bev, size_t discarded, const char *error, void *arg)
{
	struct conn *c = arg;

	c->starttls_pending = false;
	if (c->closing) {
		if (bev != NULL)
			tls_free(&bev);
		conn_close(c);
		return;
	}
	if (bev == NULL) {
		conn_log(c, LOG_LVL_INFO, "STARTTLS failed: %s", error);
		conn_close(c);
		return;
	}
	if (discarded > 0)
		conn_log(c, LOG_LVL_NOTICE,
			 "discarded %zu bytes of plaintext pipelined after STARTTLS", discarded);
	c->tls = true;
	/* The idle time-out again once the handshake is done (conn_event_cb). */
	attach(c, bev, handshake_timeout(c));
}

int
conn_starttls(struct conn *c)
{
	if (c->srv->tls == NULL || c->tls || c->starttls_pending)
		return -1;
	c->starttls_pending = true;
	struct bufferevent *plain = c->bev;
	c->bev = NULL;
	tls_starttls_when_flushed(plain, c->srv->tls, starttls_done, c);
	return 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing || c->starttls_pending)
		return;
	c->proto->input(c);
	/* Sessions only close after a flush, so c is still ours here. */
	if (!c->closing && !c->starttls_pending && c->bev == bev && conn_output_full(c)) {
		bufferevent_disable(bev, EV_READ);
		c->read_paused = true; /* until the output is drained */
	}
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (c->read_paused) {
		c->read_paused = false;
		bufferevent_enable(bev, EV_READ);
	}
	if (c->proto->drained != NULL && !c->starttls_pending)
		c->proto->drained(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		/* Implicit TLS handshake done. */
		set_timeouts(c, c->scfg->idle_timeout);
		if (!c->started) {
			c->started = true;
			c->proto->start(c);
			if (c->srv->stopping && !c->closing)
				shutdown_one(c);
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && c->started && !c->closing &&
		    c->proto->timeout != NULL) {
			conn_log(c, LOG_LVL_INFO, "idle timeout");
			c->proto->timeout(c);
			return;
		}
		conn_log(c, LOG_LVL_INFO, "%s timeout",
			 what & BEV_EVENT_READING ? "read" : "write");
	} else if (what & BEV_EVENT_ERROR) {
		if (EVUTIL_SOCKET_ERROR() != 0 && EVUTIL_SOCKET_ERROR() != ECONNRESET)
			conn_log(c, LOG_LVL_INFO, "connection error: %s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	conn_close(c);
}

static void
shutdown_one(struct conn *c)
{
	if (c->proto->shutdown != NULL)
		c->proto->shutdown(c);
	else
		conn_close_after_flush(c);
}

void
conn_shutdown_all(struct server *srv)
{
	struct conn *next;

	for (struct conn *c = srv->conns; c != NULL; c = next) {
		next = c->next;
		/* A session still in its TLS handshake is told when it starts. */
		if (c->closing || !c->started)
			continue;
		shutdown_one(c);
	}
}
