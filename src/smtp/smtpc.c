/* smtpc.c - the SMTP client's connection: TCP connect, reading replies and
 * matching them to the commands, time-outs, failures, QUIT and freeing. The
 * greeting, EHLO, STARTTLS and AUTH are in smtpc_setup.c, the mail
 * transaction in smtpc_txn.c, the pure parts in smtpc_parse.c; the
 * behaviour is described in smtpc.h and docs/outbound.md. */
#include "lib/common.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"
#include "smtp/smtpc_private.h"

/* Commands are flushed once this much is built (a long pipelined group). */
#define SMTPC_OUT_FLUSH (32 * 1024)
/* No command line is longer (addresses and parameters are checked first). */
#define SMTPC_OUT_MAX (1024 * 1024)
/* How long smtpc_quit waits for the reply to QUIT, unscaled seconds. */
#define SMTPC_QUIT_WAIT 10

static const char *const state_names[] = {
	[SMTPC_S_CONNECT] = "CONNECT",	   [SMTPC_S_GREETING] = "GREETING",
	[SMTPC_S_EHLO] = "EHLO",	   [SMTPC_S_STARTTLS] = "STARTTLS",
	[SMTPC_S_HANDSHAKE] = "HANDSHAKE", [SMTPC_S_AUTH] = "AUTH",
	[SMTPC_S_READY] = "READY",	   [SMTPC_S_TXN] = "TXN",
	[SMTPC_S_QUIT] = "QUIT",	   [SMTPC_S_DEAD] = "DEAD",
};

static const struct {
	const char *stage;
	unsigned timeout; /* RFC 5321 4.5.3.2, seconds */
} cmd_info[] = {
	[SMTPC_CMD_GREETING] = {"greeting", 300},  [SMTPC_CMD_EHLO] = {"EHLO", 300},
	[SMTPC_CMD_HELO] = {"HELO", 300},	   [SMTPC_CMD_STARTTLS] = {"STARTTLS", 300},
	[SMTPC_CMD_AUTH] = {"AUTH", 300},	   [SMTPC_CMD_AUTH_USER] = {"AUTH", 300},
	[SMTPC_CMD_AUTH_PASS] = {"AUTH", 300},	   [SMTPC_CMD_RSET] = {"RSET", 300},
	[SMTPC_CMD_MAIL] = {"MAIL FROM", 300},	   [SMTPC_CMD_RCPT] = {"RCPT TO", 300},
	[SMTPC_CMD_DATA] = {"DATA", 120},	   [SMTPC_CMD_BDAT] = {"BDAT", 600},
	[SMTPC_CMD_DOT] = {"end of data", 600},	   [SMTPC_CMD_QUIT] = {"QUIT", SMTPC_QUIT_WAIT},
};

/* Writing any block (a command group, a piece of content) may stall this
 * long (RFC 5321 4.5.3.2.5, data block). */
#define SMTPC_WRITE_TIMEOUT 180

const char *
smtpc_cmd_stage(enum smtpc_cmd cmd)
{
	return cmd_info[cmd].stage;
}

unsigned
smtpc_cmd_timeout(enum smtpc_cmd cmd)
{
	return cmd_info[cmd].timeout;
}

void
smtpc_set_state(struct smtpc *c, enum smtpc_state state)
{
	if (c->state == state)
		return;
	smtpc_log(c, LOG_LVL_DEBUG, "smtpc: %s -> %s", state_names[c->state], state_names[state]);
	c->state = state;
}

struct timeval
smtpc_timeout(const struct smtpc *c, unsigned seconds)
{
	uint64_t scale = c->cfg->timeout_scale > 1 ? c->cfg->timeout_scale : 1;
	uint64_t us = (uint64_t)seconds * 1000000u / scale;

	return (struct timeval){.tv_sec = (time_t)(us / 1000000u),
			       .tv_usec = (suseconds_t)(us % 1000000u)};
}

/* ---- replies awaited ---- */

/* The timer bounds the wait for the reply at the head of the queue. */
static void
arm_timer(struct smtpc *c)
{
	if (c->pend_count == 0) {
		evtimer_del(c->timer);
		return;
	}
	struct timeval tv = smtpc_timeout(c, cmd_info[c->pend[c->pend_head].cmd].timeout);
	evtimer_add(c->timer, &tv);
}

void
smtpc_push(struct smtpc *c, enum smtpc_cmd cmd, size_t rcpt, bool last)
{
	if (c->pend_head + c->pend_count == c->pend_cap && c->pend_head > 0) {
		memmove(c->pend, c->pend + c->pend_head, c->pend_count * sizeof(*c->pend));
		c->pend_head = 0;
	}
	if (c->pend_count == c->pend_cap) {
		c->pend_cap = c->pend_cap > 0 ? c->pend_cap * 2 : 8;
		c->pend = xreallocarray(c->pend, c->pend_cap, sizeof(*c->pend));
	}
	c->pend[c->pend_head + c->pend_count] =
	    (struct smtpc_pending){.cmd = cmd, .rcpt = rcpt, .last = last};
	if (++c->pend_count == 1)
		arm_timer(c);
}

static struct smtpc_pending
pend_pop(struct smtpc *c)
{
	struct smtpc_pending p = c->pend[c->pend_head];

	c->pend_head++;
	if (--c->pend_count == 0)
		c->pend_head = 0;
	arm_timer(c);
	return p;
}

/* ---- output ---- */

void
smtpc_flush(struct smtpc *c)
{
	if (c->out.len == 0)
		return;
	if (c->bev != NULL && bufferevent_write(c->bev, c->out.data, c->out.len) < 0)
		smtpc_log(c, LOG_LVL_ERROR, "smtpc: cannot queue %zu bytes for writing",
			  c->out.len);
	buf_reset(&c->out);
}

void
smtpc_cmd(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;

	if (c->out.len > SMTPC_OUT_FLUSH)
		smtpc_flush(c);
	va_start(ap, fmt);
	int ret = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (ret < 0 || buf_add(&c->out, "\r\n", 2) < 0)
		panic("smtpc: command longer than %d bytes", SMTPC_OUT_MAX);
}

/* ---- replies ---- */

static void
reply_text(struct smtpc_reply *r, const char *text, size_t len)
{
	struct buf t;

	buf_init(&t, sizeof(r->text));
	queue_text_clean(&t, text, len, sizeof(r->text) - 1);
	memcpy(r->text, buf_cstr(&t), t.len + 1);
	buf_release(&t);
}

void
smtpc_reply_from(struct smtpc_reply *r, const struct smtp_reply *in, const char *stage)
{
	r->code = in->code;
	if (str_copy(r->enhanced, sizeof(r->enhanced), in->enhanced) < 0)
		r->enhanced[0] = '\0';
	reply_text(r, buf_cstr(&in->text), in->text.len);
	r->generated = false;
	r->stage = stage;
}

void
smtpc_reply_gen(struct smtpc_reply *r, unsigned code, const char *enhanced, const char *stage,
		const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	r->code = code;
	if (str_copy(r->enhanced, sizeof(r->enhanced), enhanced) < 0)
		r->enhanced[0] = '\0';
	reply_text(r, text, strlen(text));
	r->generated = true;
	r->stage = stage;
}

/* ---- callbacks, always from the event loop ---- */

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc *c = arg;
	enum smtpc_notify n = c->notify;

	c->notify = SMTPC_NOTIFY_NONE;
	if (n == SMTPC_NOTIFY_READY)
		c->ready_cb(c, c->failed ? &c->error : NULL, c->ready_arg);
	else if (n == SMTPC_NOTIFY_DONE)
		smtpc_txn_deliver(c);
}

void
smtpc_notify(struct smtpc *c, enum smtpc_notify what)
{
	c->notify = what;
	event_active(c->notify_ev, EV_TIMEOUT, 1);
}

/* ---- closing ---- */

static void
close_conn(struct smtpc *c)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		tls_free(&c->bev);
	}
	if (c->conn_ev != NULL) {
		event_free(c->conn_ev);
		c->conn_ev = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	evtimer_del(c->timer);
	c->pend_head = c->pend_count = 0;
}

void
smtpc_close(struct smtpc *c)
{
	close_conn(c);
	smtpc_set_state(c, SMTPC_S_DEAD);
}

void
smtpc_setup_failed(struct smtpc *c, enum smtpc_error_kind kind)
{
	static const char *const kinds[] = {
		[SMTPC_ERR_CONNECT] = "connect",
		[SMTPC_ERR_PROTOCOL] = "protocol",
		[SMTPC_ERR_REPLY] = "refused",
		[SMTPC_ERR_TLS] = "TLS",
	};

	c->failed = true;
	c->error.kind = kind;
	smtpc_log(c, LOG_LVL_NOTICE, "smtpc: %s error at %s: %u %s%s%s", kinds[kind],
		  c->error.reply.stage, c->error.reply.code, c->error.reply.enhanced,
		  c->error.reply.enhanced[0] != '\0' ? " " : "", c->error.reply.text);
	smtpc_close(c);
	smtpc_notify(c, SMTPC_NOTIFY_READY);
}

static void
connect_failed(struct smtpc *c, const char *why)
{
	smtpc_reply_gen(&c->error.reply, 451, "4.4.1", "connect", "connect to %s: %s",
			c->peer.name, why);
	smtpc_setup_failed(c, SMTPC_ERR_CONNECT);
}

/* What the client was doing, for "... while <doing>". */
static const char *
doing(const struct smtpc *c, const char **stage_r)
{
	if (c->pend_count > 0) {
		enum smtpc_cmd cmd = c->pend[c->pend_head].cmd;
		*stage_r = cmd_info[cmd].stage;
		return cmd == SMTPC_CMD_GREETING ? "waiting for the greeting" : NULL;
	}
	switch (c->state) {
	case SMTPC_S_HANDSHAKE:
		*stage_r = "STARTTLS";
		return "performing the TLS handshake";
	case SMTPC_S_TXN:
		*stage_r = "end of data";
		return "sending the message content";
	default:
		*stage_r = "MAIL FROM";
		return "idle";
	}
}

void
smtpc_broken(struct smtpc *c, const char *fmt, ...)
{
	char what[512], text[1024];
	const char *stage;
	const char *activity = doing(c, &stage);
	enum smtpc_state state = c->state;
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	if (activity != NULL)
		(void)snprintf(text, sizeof(text), "%s with %s while %s", what, c->peer.name,
			       activity);
	else
		(void)snprintf(text, sizeof(text), "%s with %s while sending %s", what,
			       c->peer.name, stage);
	close_conn(c);
	switch (state) {
	case SMTPC_S_CONNECT:
		connect_failed(c, what);
		return;
	case SMTPC_S_GREETING:
	case SMTPC_S_EHLO:
	case SMTPC_S_STARTTLS:
	case SMTPC_S_HANDSHAKE:
	case SMTPC_S_AUTH:
		smtpc_reply_gen(&c->error.reply, 451, "4.4.2", stage, "%s", text);
		smtpc_setup_failed(c, state == SMTPC_S_HANDSHAKE ? SMTPC_ERR_TLS : SMTPC_ERR_PROTOCOL);
		return;
	case SMTPC_S_TXN:
		smtpc_log(c, LOG_LVL_NOTICE, "smtpc: %s", text);
		smtpc_txn_lost(c, stage, text);
		return;
	case SMTPC_S_READY:
		smtpc_log(c, LOG_LVL_INFO, "smtpc: %s", text);
		smtpc_set_state(c, SMTPC_S_DEAD);
		return;
	case SMTPC_S_QUIT:
		smtpc_free(c);
		return;
	case SMTPC_S_DEAD:
		return;
	}
}

/* ---- I/O callbacks ---- */

/* One complete reply is in c->parser.reply. Returns false when c is gone. */
static bool
handle_reply(struct smtpc *c)
{
	const struct smtp_reply *r = &c->parser.reply;

	if (c->pend_count == 0) {
		bool quit = c->state == SMTPC_S_QUIT;
		smtpc_broken(c, "unexpected reply \"%u %.100s\"", r->code, buf_cstr(&r->text));
		return !quit;
	}
	struct smtpc_pending p = pend_pop(c);
	smtpc_log(c, LOG_LVL_DEBUG, "smtpc: %s: %u %s", cmd_info[p.cmd].stage, r->code,
		  buf_cstr(&r->text));
	if (p.cmd == SMTPC_CMD_QUIT) {
		smtpc_free(c);
		return false;
	}
	if (p.cmd <= SMTPC_CMD_AUTH_PASS)
		smtpc_setup_reply(c, &p, r);
	else
		smtpc_txn_reply(c, &p, r);
	return true;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;

	/* c->bev changes with STARTTLS and becomes NULL when the connection
	 * is closed by a reply's handler. */
	while (c->bev != NULL) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t len = evbuffer_get_length(in), used = 0;
		const char *error = NULL;

		if (len == 0)
			return;
		const char *data = (const char *)evbuffer_pullup(in, -1);
		enum smtp_reply_status st = smtp_reply_parse(&c->parser, data, len, &used, &error);
		evbuffer_drain(in, used);
		if (st == SMTP_REPLY_MORE)
			return;
		if (st == SMTP_REPLY_ERROR) {
			smtpc_broken(c, "malformed reply (%s)", error);
			return;
		}
		if (!handle_reply(c))
			return;
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;

	if (c->state == SMTPC_S_TXN)
		smtpc_txn_pump(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == SMTPC_S_HANDSHAKE)
			smtpc_tls_done(c);
		return;
	}
	if (c->state == SMTPC_S_HANDSHAKE && (what & BEV_EVENT_ERROR)) {
		char err[384], text[1024];
		(void)tls_error_text(bev, err, sizeof(err));
		(void)snprintf(text, sizeof(text), "TLS handshake with %s failed: %s",
			       c->peer.name, err);
		smtpc_setup_error(c, SMTPC_ERR_TLS, "STARTTLS", text);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		smtpc_broken(c, "conversation timed out");
	else
		smtpc_broken(c, "lost connection");
}

void
smtpc_setup_bev(struct smtpc *c)
{
	struct timeval wt = smtpc_timeout(c, SMTPC_WRITE_TIMEOUT);

	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, SMTPC_OUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0)
		smtpc_log(c, LOG_LVL_ERROR, "smtpc: cannot enable the bufferevent");
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	smtpc_broken(arg, "conversation timed out");
}

/* ---- connect ---- */

static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT) {
		connect_failed(c, "timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		connect_failed(c, strerror(err));
		return;
	}
	event_free(c->conn_ev);
	c->conn_ev = NULL;
	c->bev = tls_plain_socket(c->base, c->fd);
	c->fd = -1;
	if (c->bev == NULL) {
		connect_failed(c, "cannot create a bufferevent");
		return;
	}
	smtpc_setup_bev(c);
	smtpc_log(c, LOG_LVL_DEBUG, "smtpc: connected");
	smtpc_set_state(c, SMTPC_S_GREETING);
	smtpc_push(c, SMTPC_CMD_GREETING, 0, false);
}

struct smtpc *
smtpc_connect(struct event_base *base, const struct smtpc_config *cfg, const struct sockaddr *sa,
	      socklen_t salen, const char *host, smtpc_ready_cb *cb, void *arg)
{
	struct smtpc *c = xcalloc(1, sizeof(*c));
	char ip[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	c->base = base;
	c->cfg = cfg;
	c->fd = -1;
	c->ready_cb = cb;
	c->ready_arg = arg;
	c->state = SMTPC_S_CONNECT;
	if (net_addr_str(sa, ip, sizeof(ip), &port) < 0)
		(void)str_copy(ip, sizeof(ip), "?");
	c->host = xstrdup(host != NULL ? host : ip);
	if (port == 25)
		(void)snprintf(c->peer.name, sizeof(c->peer.name), "%.240s[%s]", c->host, ip);
	else
		(void)snprintf(c->peer.name, sizeof(c->peer.name), "%.240s[%s]:%u", c->host, ip,
			       port);
	c->loopback = net_is_loopback(sa);
	smtp_reply_parser_init(&c->parser, SMTPC_REPLY_LINE_MAX, SMTPC_REPLY_LINES_MAX,
			       SMTPC_REPLY_TEXT_MAX);
	buf_init(&c->out, SMTPC_OUT_MAX);
	c->timer = evtimer_new(base, timer_cb, c);
	c->notify_ev = event_new(base, -1, 0, notify_cb, c);
	if (c->timer == NULL || c->notify_ev == NULL)
		fatal("smtpc: cannot create events");

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		connect_failed(c, strerror(errno));
		return c;
	}
	if (connect(c->fd, sa, salen) < 0 && errno != EINPROGRESS) {
		connect_failed(c, strerror(errno));
		return c;
	}
	struct timeval tv = {.tv_sec = cfg->connect_timeout > 0 ? cfg->connect_timeout : 30};
	c->conn_ev = event_new(base, c->fd, EV_WRITE, connect_cb, c);
	if (c->conn_ev == NULL || event_add(c->conn_ev, &tv) < 0)
		connect_failed(c, "cannot create an event");
	return c;
}

const struct smtpc_peer *
smtpc_peer(const struct smtpc *c)
{
	return &c->peer;
}

void
smtpc_quit(struct smtpc *c)
{
	if (c->state != SMTPC_S_READY || c->bev == NULL || c->notify != SMTPC_NOTIFY_NONE ||
	    c->txn.msg != NULL) {
		smtpc_free(c);
		return;
	}
	smtpc_cmd(c, "QUIT");
	smtpc_flush(c);
	smtpc_push(c, SMTPC_CMD_QUIT, 0, false);
	smtpc_set_state(c, SMTPC_S_QUIT);
}

void
smtpc_free(struct smtpc *c)
{
	if (c == NULL)
		return;
	close_conn(c);
	event_free(c->timer);
	event_free(c->notify_ev);
	smtpc_txn_clear(&c->txn);
	smtp_reply_parser_deinit(&c->parser);
	buf_release(&c->out);
	free(c->pend);
	free(c->host);
	free(c);
}
