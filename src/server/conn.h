/* conn.h - one client connection in a worker, and the protocol interface.
 *
 * The connection owns its socket and bufferevent, counts against the shared
 * limits, carries the session id that every log line of the session shows,
 * and hands input to its protocol. A protocol is a table of callbacks; the
 * session state lives in the protocol's own struct (conn->session).
 */
#ifndef POSTERN_CONN_H
#define POSTERN_CONN_H

#include "lib/common.h"

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <netinet/in.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/linereader.h"
#include "server/limits.h"

struct conn;
struct listener;
struct server;

struct protocol {
	const char *name;
	/* The connection is ready (after the handshake for implicit TLS): set
	 * up c->session and send the greeting. */
	void (*start)(struct conn *c);
	/* Input is waiting in conn_input(c). */
	void (*input)(struct conn *c);
	/* The peer was idle for the service's idle_timeout. Default: close. */
	void (*timeout)(struct conn *c);
	/* The server is stopping: finish at the next safe point. Default:
	 * close once pending output is flushed. */
	void (*shutdown)(struct conn *c);
	/* All output was sent (optional): a protocol that stopped producing
	 * to bound its output buffer goes on. */
	void (*drained)(struct conn *c);
	/* Free c->session; the connection is going away. */
	void (*free)(struct conn *c);
	/* A short refusal sent in plaintext when a limit refuses the
	 * connection: prefix, reason, suffix ("421 4.7.0 Error: ", reason,
	 * CRLF); NULL prefix to close silently. */
	const char *refusal_prefix;
	const char *refusal_suffix;
	/* The whole line (CRLF included) a connection gets when it comes in
	 * as its worker stops: handed over in the worker's last instant. NULL
	 * to close silently. Sent in plaintext only (not on implicit TLS). */
	const char *goodbye;
};

struct conn {
	struct conn *prev, *next;
	struct server *srv;
	enum service svc;
	const struct service_config *scfg;
	const struct protocol *proto;
	void *session;

	char id[12];    /* session id in logs */
	char peer_ip[INET6_ADDRSTRLEN];
	uint16_t peer_port;
	char local_ip[INET6_ADDRSTRLEN];
	uint16_t local_port;
	bool peer_loopback;
	bool tls;       /* the channel is encrypted now */

	struct bufferevent *bev;
	struct buf line; /* the last line read by conn_read_line */
	struct limit_ticket ticket;
	bool started;
	bool closing;   /* close when output is flushed */
	bool starttls_pending;
	bool read_paused; /* too much output not yet taken by the client */
};

/* The protocol serving each service. */
const struct protocol *protocol_for(enum service svc);

/* Accept callback for evconnlistener (arg: struct listener *). The
 * connection may be handed to a less busy worker (handoff.h). */
void conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
		 int socklen, void *arg);
/* A connection another worker accepted on l and handed to this one:
 * served here, never handed on. */
void conn_accept_handed(struct listener *l, int fd, struct sockaddr *sa, int socklen);
/* Close a connection that came in too late to be served (its worker is
 * stopping), after its protocol's goodbye line. */
void conn_turn_away(struct listener *l, int fd);

/* Serve svc on a connected bufferevent the caller made (one end of a
 * bufferevent_pair: the in-process session fuzzers,
 * tests/fuzz/session_harness.c), without a socket, TLS or limits: srv needs
 * cfg and base (srv->limits may be NULL, and is then not counted). The
 * connection takes bev, joins srv->conns and starts its protocol at once;
 * peer_ip is for logs, loopback for what a loopback peer may do. It closes
 * as an accepted one does (srv->conn_count tells when). */
void conn_open_bufferevent(struct server *srv, enum service svc, struct bufferevent *bev,
			   const char *peer_ip, bool loopback);

struct evbuffer *conn_input(struct conn *c);
/* More output is waiting for the client than a session should add to: a
 * session whose commands can answer with much more than they take (POP3
 * RETR) stops reading commands until its drained callback. The connection
 * itself stops reading from the socket while this is true. */
bool conn_output_full(struct conn *c);
void conn_write(struct conn *c, const void *data, size_t len);
void conn_printf(struct conn *c, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Read one line from the input with the protocol's reader. Returns as
 * line_reader_next; on LINE_OK, *line_r points into memory owned by the
 * connection, valid until the next call. */
enum line_result conn_read_line(struct conn *c, struct line_reader *lr, struct line *line_r);

/* Change how long the peer may stay silent (e.g. a longer time-out while
 * message data is expected). */
void conn_set_timeout(struct conn *c, unsigned seconds);

/* Close once all pending output has been sent (or the write times out). */
void conn_close_after_flush(struct conn *c);
/* Close now; pending output is lost. */
void conn_close(struct conn *c);

/* Start TLS on a plaintext connection once the pending output (the "go
 * ahead" reply) is flushed. Input already received is discarded so that no
 * pipelined plaintext is executed as if it came over TLS. The protocol's
 * start callback is not called again; input resumes through its input
 * callback. Returns -1 when TLS is not available. */
int conn_starttls(struct conn *c);

/* Every session's log lines go through these, carrying the session id. */
#define conn_log(c, level, ...) log_sid((level), (c)->id, __VA_ARGS__)

/* Stop every connection of a stopping worker. */
void conn_shutdown_all(struct server *srv);

#endif
