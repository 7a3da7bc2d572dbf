/* smtpc_txn.c - one mail transaction of the SMTP client: the checks made
 * before sending (SIZE, 8-bit, SMTPUTF8, address syntax), RSET, MAIL, RCPT
 * and DATA (pipelined when offered), the content streamed from memory or
 * the queue file (dot-stuffed for DATA, raw in BDAT chunks for BINARYMIME),
 * and one reply per recipient. */
#include "lib/common.h"

#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtp/smtpc_private.h"

/* Longest address or ESMTP parameter value passed on. */
#define SMTPC_VALUE_MAX 1000

static void
txn_finish(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;
	size_t ok = 0;

	for (size_t i = 0; i < t->msg->nrcpts; i++)
		if (smtp_reply_class(t->replies[i].code) == 2)
			ok++;
	smtpc_log(c, LOG_LVL_DEBUG, "smtpc: transaction done: %zu of %zu recipients accepted%s",
		  ok, t->msg->nrcpts, t->broken ? ", connection closed" : "");
	t->sending = false;
	if (t->failed)
		c->need_rset = true; /* else left as it was: nothing was sent */
	if (t->broken)
		smtpc_close(c);
	else
		smtpc_set_state(c, SMTPC_S_READY);
	smtpc_notify(c, SMTPC_NOTIFY_DONE);
}

/* Give every recipient still without a final reply this one. */
static void
reply_open(struct smtpc_txn *t, bool accepted_only, const struct smtp_reply *r,
	   const char *stage)
{
	for (size_t i = 0; i < t->msg->nrcpts; i++) {
		if (t->rstate[i] == SMTPC_RCPT_FINAL ||
		    (accepted_only && t->rstate[i] != SMTPC_RCPT_ACCEPTED))
			continue;
		smtpc_reply_from(&t->replies[i], r, stage);
		t->rstate[i] = SMTPC_RCPT_FINAL;
	}
}

void
smtpc_txn_lost(struct smtpc *c, const char *stage, const char *text)
{
	struct smtpc_txn *t = &c->txn;

	for (size_t i = 0; i < t->msg->nrcpts; i++) {
		if (t->rstate[i] == SMTPC_RCPT_FINAL)
			continue;
		smtpc_reply_gen(&t->replies[i], 451, "4.4.2", stage, "%s", text);
		t->rstate[i] = SMTPC_RCPT_FINAL;
	}
	t->broken = true;
	txn_finish(c);
}

/* ---- checks before sending ---- */

/* An address or parameter value that cannot break the command line. */
static bool
value_ok(const char *s, bool allow_space)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char ch = (unsigned char)s[n];
		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && !allow_space))
			return false;
	}
	return n <= SMTPC_VALUE_MAX;
}

/* Refuse the whole transaction with a generated reply. */
static void
refuse_all(struct smtpc *c, unsigned code, const char *enhanced, const char *text)
{
	struct smtpc_txn *t = &c->txn;

	for (size_t i = 0; i < t->msg->nrcpts; i++) {
		smtpc_reply_gen(&t->replies[i], code, enhanced, "MAIL FROM", "%s", text);
		t->rstate[i] = SMTPC_RCPT_FINAL;
	}
	smtpc_log(c, LOG_LVL_INFO, "smtpc: not sent: %u %s %s", code, enhanced, text);
	txn_finish(c);
}

/* Returns false when the transaction was answered without sending. */
static bool
check_msg(struct smtpc *c)
{
	const struct smtpc_msg *m = c->txn.msg;
	const struct smtpc_peer *peer = &c->peer;
	char text[1024];

	if (c->state == SMTPC_S_DEAD) {
		(void)snprintf(text, sizeof(text), "lost connection with %s", peer->name);
		c->txn.broken = true;
		refuse_all(c, 451, "4.4.2", text);
		return false;
	}
	if (peer->size_max > 0 && m->size > peer->size_max) {
		(void)snprintf(text, sizeof(text),
			       "message size %llu exceeds fixed limit of %s (%llu bytes)",
			       (unsigned long long)m->size, peer->name,
			       (unsigned long long)peer->size_max);
		refuse_all(c, 552, "5.3.4", text);
		return false;
	}
	if ((m->body == QUEUE_BODY_8BITMIME && !(peer->ext & SMTPC_EXT_8BITMIME)) ||
	    (m->body == QUEUE_BODY_BINARYMIME &&
	     (peer->ext & (SMTPC_EXT_BINARYMIME | SMTPC_EXT_CHUNKING)) !=
		 (SMTPC_EXT_BINARYMIME | SMTPC_EXT_CHUNKING))) {
		(void)snprintf(text, sizeof(text), "%s does not support %s", peer->name,
			       m->body == QUEUE_BODY_8BITMIME ? "8BITMIME" : "BINARYMIME");
		refuse_all(c, 554, "5.6.3", text);
		return false;
	}
	if (m->smtputf8 && !(peer->ext & SMTPC_EXT_SMTPUTF8)) {
		(void)snprintf(text, sizeof(text),
			       "message requires SMTPUTF8, which %s does not support", peer->name);
		refuse_all(c, 553, "5.6.7", text);
		return false;
	}
	if (!value_ok(m->sender, true) || (m->envid != NULL && !value_ok(m->envid, false))) {
		refuse_all(c, 553, "5.1.7", "invalid sender address or ENVID");
		return false;
	}
	size_t bad = 0;
	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct smtpc_rcpt *r = &m->rcpts[i];
		if (value_ok(r->addr, true) && (r->orcpt == NULL || value_ok(r->orcpt, false)))
			continue;
		smtpc_reply_gen(&c->txn.replies[i], 553, "5.1.3", "RCPT TO",
				"invalid recipient address or ORCPT");
		c->txn.rstate[i] = SMTPC_RCPT_FINAL;
		bad++;
	}
	if (bad == m->nrcpts) {
		txn_finish(c);
		return false;
	}
	return true;
}

/* ---- commands ---- */

static void
cmd_mail(struct smtpc *c)
{
	const struct smtpc_msg *m = c->txn.msg;
	unsigned ext = c->peer.ext;
	char params[2 * SMTPC_VALUE_MAX + 128];
	size_t n = 0;

#define ADD(...) n += (size_t)snprintf(params + n, sizeof(params) - n, __VA_ARGS__)
	params[0] = '\0';
	if (ext & SMTPC_EXT_SIZE)
		ADD(" SIZE=%llu", (unsigned long long)m->size);
	if (m->body == QUEUE_BODY_7BIT && (ext & SMTPC_EXT_8BITMIME))
		ADD(" BODY=7BIT");
	else if (m->body == QUEUE_BODY_8BITMIME)
		ADD(" BODY=8BITMIME");
	else if (m->body == QUEUE_BODY_BINARYMIME)
		ADD(" BODY=BINARYMIME");
	if (m->smtputf8)
		ADD(" SMTPUTF8");
	if (ext & SMTPC_EXT_DSN) {
		if (m->ret != QUEUE_RET_NONE)
			ADD(" RET=%s", m->ret == QUEUE_RET_FULL ? "FULL" : "HDRS");
		if (m->envid != NULL)
			ADD(" ENVID=%s", m->envid);
	}
#undef ADD
	smtpc_cmd(c, "MAIL FROM:<%s>%s", m->sender, params);
	smtpc_push(c, SMTPC_CMD_MAIL, 0, false);
}

static void
cmd_rcpt(struct smtpc *c, size_t i)
{
	const struct smtpc_rcpt *r = &c->txn.msg->rcpts[i];
	static const struct {
		unsigned flag;
		const char *name;
	} notify[] = {
		{QUEUE_NOTIFY_NEVER, "NEVER"},
		{QUEUE_NOTIFY_SUCCESS, "SUCCESS"},
		{QUEUE_NOTIFY_FAILURE, "FAILURE"},
		{QUEUE_NOTIFY_DELAY, "DELAY"},
	};
	char params[2 * SMTPC_VALUE_MAX + 128] = "";
	size_t n = 0;

	if (c->peer.ext & SMTPC_EXT_DSN) {
		/* NEVER stands alone (RFC 3461 4.1). */
		unsigned mask = r->notify & QUEUE_NOTIFY_NEVER ? QUEUE_NOTIFY_NEVER : r->notify;
		const char *sep = " NOTIFY=";
		for (size_t k = 0; k < N_ELEMENTS(notify); k++) {
			if (!(mask & notify[k].flag))
				continue;
			n += (size_t)snprintf(params + n, sizeof(params) - n, "%s%s", sep,
					      notify[k].name);
			sep = ",";
		}
		if (r->orcpt != NULL)
			(void)snprintf(params + n, sizeof(params) - n, " ORCPT=%s", r->orcpt);
	}
	smtpc_cmd(c, "RCPT TO:<%s>%s", r->addr, params);
	smtpc_push(c, SMTPC_CMD_RCPT, i, false);
}

/* The next recipient at or after i that is to be sent; nrcpts if none. */
static size_t
next_rcpt(const struct smtpc_txn *t, size_t i)
{
	while (i < t->msg->nrcpts && t->rstate[i] == SMTPC_RCPT_FINAL)
		i++;
	return i;
}

/* Send the next command, or with PIPELINING all of them up to DATA. */
static void
send_commands(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;
	bool pipelining = (c->peer.ext & SMTPC_EXT_PIPELINING) != 0;

	while (t->step != SMTPC_STEP_SENT) {
		switch (t->step) {
		case SMTPC_STEP_RSET:
			smtpc_cmd(c, "RSET");
			smtpc_push(c, SMTPC_CMD_RSET, 0, false);
			t->step = SMTPC_STEP_MAIL;
			break;
		case SMTPC_STEP_MAIL:
			cmd_mail(c);
			t->step = SMTPC_STEP_RCPT;
			t->next = next_rcpt(t, 0);
			break;
		case SMTPC_STEP_RCPT:
			cmd_rcpt(c, t->next);
			t->next = next_rcpt(t, t->next + 1);
			if (t->next == t->msg->nrcpts)
				t->step = t->bdat ? SMTPC_STEP_SENT : SMTPC_STEP_DATA;
			break;
		case SMTPC_STEP_DATA:
			smtpc_cmd(c, "DATA");
			smtpc_push(c, SMTPC_CMD_DATA, 0, false);
			t->step = SMTPC_STEP_SENT;
			break;
		case SMTPC_STEP_SENT:
			break;
		}
		if (!pipelining)
			break;
	}
	smtpc_flush(c);
}

/* ---- content ---- */

static void
start_content(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;

	t->sending = true;
	t->sent = 0;
	t->chunk_left = 0;
	smtpc_stuff_init(&t->st);
	buf_init(&t->stuffed, 2 * SMTPC_READ_CHUNK + 8);
	if (t->msg->data == NULL && t->chunk == NULL)
		t->chunk = xmalloc(SMTPC_READ_CHUNK);
	smtpc_txn_pump(c);
}

/* Content bytes [sent, sent + want) into *p; returns how many, or -1. */
static ssize_t
content_read(struct smtpc_txn *t, size_t want, const char **p)
{
	const struct smtpc_msg *m = t->msg;

	if (m->data != NULL) {
		*p = m->data + t->sent;
		return (ssize_t)want;
	}
	ssize_t n;
	do
		n = pread(m->fd, t->chunk, want, (off_t)(m->offset + t->sent));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = EIO; /* the file is shorter than the message */
	*p = t->chunk;
	return n > 0 ? n : -1;
}

static void
content_error(struct smtpc *c, const char *what)
{
	char text[1024];

	(void)snprintf(text, sizeof(text), "cannot read the message content: %s", what);
	smtpc_log(c, LOG_LVL_ERROR, "smtpc: %s", text);
	/* The peer holds part of the content: only closing keeps it from
	 * delivering a truncated message. */
	smtpc_close(c);
	smtpc_txn_lost(c, "end of data", text);
}

/* BDAT: announce the next chunk. */
static void
bdat_chunk(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;
	uint64_t n = MIN((uint64_t)SMTPC_BDAT_CHUNK, t->msg->size - t->sent);
	bool last = t->sent + n == t->msg->size;

	smtpc_cmd(c, "BDAT %llu%s", (unsigned long long)n, last ? " LAST" : "");
	smtpc_flush(c);
	smtpc_push(c, SMTPC_CMD_BDAT, 0, last);
	t->chunk_left = n;
	if (last && n == 0)
		t->sending = false;
}

void
smtpc_txn_pump(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;

	while (t->sending && c->bev != NULL &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) < SMTPC_OUT_HIGH) {
		const struct smtpc_msg *m = t->msg;
		if (t->bdat && t->chunk_left == 0) {
			/* One chunk at a time: wait for the previous one's reply. */
			if (c->pend_count > 0)
				return;
			bdat_chunk(c);
			continue;
		}
		if (!t->bdat && t->sent == m->size) {
			buf_reset(&t->stuffed);
			if (smtpc_stuff_finish(&t->st, &t->stuffed) < 0)
				panic("smtpc: stuffer output over its cap");
			bufferevent_write(c->bev, t->stuffed.data, t->stuffed.len);
			smtpc_push(c, SMTPC_CMD_DOT, 0, false);
			t->sending = false;
			return;
		}
		size_t want = (size_t)MIN((uint64_t)SMTPC_READ_CHUNK, m->size - t->sent);
		if (t->bdat)
			want = (size_t)MIN((uint64_t)want, t->chunk_left);
		const char *p = NULL;
		ssize_t n = content_read(t, want, &p);
		if (n < 0) {
			content_error(c, strerror(errno));
			return;
		}
		if (t->bdat) {
			bufferevent_write(c->bev, p, (size_t)n);
			t->chunk_left -= (uint64_t)n;
		} else {
			buf_reset(&t->stuffed);
			if (smtpc_stuff(&t->st, p, (size_t)n, &t->stuffed) < 0)
				panic("smtpc: stuffer output over its cap");
			bufferevent_write(c->bev, t->stuffed.data, t->stuffed.len);
		}
		t->sent += (uint64_t)n;
		if (t->bdat && t->sent == m->size)
			t->sending = false;
	}
}

/* ---- replies ---- */

/* After the replies to what was sent so far (without PIPELINING: after
 * each one): send more, start the content, or end. */
static void
txn_next(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;

	if (t->mail_failed) {
		txn_finish(c);
		return;
	}
	bool rcpts_done = t->step == SMTPC_STEP_DATA || t->step == SMTPC_STEP_SENT;
	if (rcpts_done && t->accepted == 0) {
		txn_finish(c);
		return;
	}
	if (t->step == SMTPC_STEP_SENT) {
		start_content(c); /* BDAT: DATA has its own reply */
		return;
	}
	send_commands(c);
}

static void
data_reply(struct smtpc *c, const struct smtp_reply *r)
{
	struct smtpc_txn *t = &c->txn;

	if (r->code == 354) {
		if (t->accepted > 0 && !t->mail_failed) {
			start_content(c);
			return;
		}
		/* Pipelined DATA accepted although nothing else was: end the
		 * empty content, ignore its reply. */
		t->aborted = true;
		smtpc_cmd(c, ".");
		smtpc_flush(c);
		smtpc_push(c, SMTPC_CMD_DOT, 0, false);
		return;
	}
	if (smtp_reply_class(r->code) < 4) {
		smtpc_broken(c, "unexpected reply %u to DATA", r->code);
		return;
	}
	reply_open(t, true, r, "DATA");
	txn_finish(c);
}

static void
bdat_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r)
{
	struct smtpc_txn *t = &c->txn;

	if (t->chunk_left > 0) {
		/* Replied before the chunk was all sent: whatever we send now
		 * would be read as commands. */
		if (smtp_reply_class(r->code) == 2) {
			smtpc_broken(c, "early reply %u to BDAT", r->code);
			return;
		}
		t->broken = true;
	}
	if (smtp_reply_class(r->code) == 2 && !p->last) {
		smtpc_txn_pump(c);
		return;
	}
	reply_open(t, true, r, smtp_reply_class(r->code) == 2 ? "end of data" : "BDAT");
	t->failed = smtp_reply_class(r->code) != 2;
	txn_finish(c);
}

void
smtpc_txn_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r)
{
	struct smtpc_txn *t = &c->txn;
	unsigned cls = smtp_reply_class(r->code);

	if (r->code == 421)
		t->broken = true; /* the peer is closing */
	switch (p->cmd) {
	case SMTPC_CMD_RSET:
		if (cls != 2) {
			char text[1024];
			(void)snprintf(text, sizeof(text), "RSET refused by %s: %u %s", c->peer.name,
				       r->code, buf_cstr(&r->text));
			smtpc_txn_lost(c, "RSET", text);
			return;
		}
		break;
	case SMTPC_CMD_MAIL:
		if (cls != 2) {
			t->mail_failed = true;
			reply_open(t, false, r, "MAIL FROM");
		}
		break;
	case SMTPC_CMD_RCPT:
		if (t->mail_failed || t->rstate[p->rcpt] != SMTPC_RCPT_WAIT)
			break;
		if (cls == 2) {
			t->rstate[p->rcpt] = SMTPC_RCPT_ACCEPTED;
			t->accepted++;
		} else {
			smtpc_reply_from(&t->replies[p->rcpt], r, "RCPT TO");
			t->rstate[p->rcpt] = SMTPC_RCPT_FINAL;
		}
		break;
	case SMTPC_CMD_DATA:
		data_reply(c, r);
		return;
	case SMTPC_CMD_BDAT:
		bdat_reply(c, p, r);
		return;
	case SMTPC_CMD_DOT:
		if (!t->aborted) {
			reply_open(t, true, r, "end of data");
			t->failed = cls != 2;
		}
		txn_finish(c);
		return;
	default:
		smtpc_broken(c, "reply to %s during a transaction", smtpc_cmd_stage(p->cmd));
		return;
	}
	if (t->broken) {
		char text[1024];
		(void)snprintf(text, sizeof(text), "%s closed the connection: %u %s", c->peer.name,
			       r->code, buf_cstr(&r->text));
		smtpc_txn_lost(c, smtpc_cmd_stage(p->cmd), text);
		return;
	}
	if (c->pend_count == 0)
		txn_next(c);
}

/* ---- the API ---- */

void
smtpc_send(struct smtpc *c, const struct smtpc_msg *msg, smtpc_done_cb *cb, void *arg)
{
	struct smtpc_txn *t = &c->txn;

	if (t->msg != NULL || c->notify != SMTPC_NOTIFY_NONE || c->failed ||
	    (c->state != SMTPC_S_READY && c->state != SMTPC_S_DEAD))
		panic("smtpc_send: the session is not ready");
	if (msg->nrcpts == 0)
		panic("smtpc_send: no recipients");
	smtpc_txn_clear(t);
	t->msg = msg;
	t->cb = cb;
	t->arg = arg;
	t->replies = xcalloc(msg->nrcpts, sizeof(*t->replies));
	t->rstate = xcalloc(msg->nrcpts, sizeof(*t->rstate));
	t->bdat = msg->body == QUEUE_BODY_BINARYMIME;
	if (!check_msg(c))
		return;
	smtpc_set_state(c, SMTPC_S_TXN);
	/* Until the end of data is accepted, the peer may hold a transaction. */
	t->failed = true;
	t->step = c->need_rset ? SMTPC_STEP_RSET : SMTPC_STEP_MAIL;
	c->need_rset = false;
	send_commands(c);
}

void
smtpc_txn_deliver(struct smtpc *c)
{
	struct smtpc_txn *t = &c->txn;
	struct smtpc_reply *replies = t->replies;
	struct smtpc_result result = {
		.replies = replies,
		.nreplies = t->msg->nrcpts,
		.usable = c->state == SMTPC_S_READY && c->bev != NULL,
	};
	smtpc_done_cb *cb = t->cb;
	void *arg = t->arg;

	/* The callback may start the next transaction, or free c. */
	t->replies = NULL;
	smtpc_txn_clear(t);
	cb(c, &result, arg);
	free(replies);
}

void
smtpc_txn_clear(struct smtpc_txn *t)
{
	free(t->replies);
	free(t->rstate);
	free(t->chunk);
	buf_release(&t->stuffed);
	memset(t, 0, sizeof(*t));
}
