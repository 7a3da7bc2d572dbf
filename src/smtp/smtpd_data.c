/* smtpd_data.c - DATA and BDAT: reading the content into the local spool
 * and the queue, the headers this server adds, and delivery before the
 * final reply. */
#include "lib/common.h"

#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "server/server.h"
#include "smtp/smtpd.h"
#include "smtp/smtpd_deliver.h"
#include "smtp/smtpd_from.h"
#include "store/store.h"

static void
rfc5322_date(char *out, size_t size, time_t when)
{
	struct tm tm;

	localtime_r(&when, &tm);
	if (strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		out[0] = '\0';
}

/* RFC 3848 (and RFC 6531 for SMTPUTF8) protocol name for Received. */
const char *
smtpd_protocol_name(const struct smtpd *s)
{
	static const char *const names[2][2][2][2] = {
	    /* [utf8][esmtp][tls][auth] */
	    {{{"SMTP", "SMTPA"}, {"SMTPS", "SMTPSA"}},
	     {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}}},
	    {{{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
	     {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}},
	};
	return names[s->mail.smtputf8][s->esmtp][s->conn->tls][s->auth_user != NULL];
}

/* A message id for logs and "queued as": seconds and microseconds, the
 * worker, and a per-process counter, so ids differ across workers and
 * restarts. (Messages for other domains use their queue id instead.) */
static void
make_msgid(struct smtpd *s)
{
	struct server *srv = s->conn->srv;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(s->msgid, sizeof(s->msgid), "%08llX%05lX%02X%03lX", (unsigned long long)ts.tv_sec,
		 (unsigned long)(ts.tv_nsec / 1000), srv->worker_index & 0xff,
		 ++srv->messages & 0xfff);
}

/* The trace fields this server adds on top (CRLF form). Return-Path goes
 * only into local copies (RFC 5321 4.4: at final delivery). */
static void
trace_fields(struct smtpd *s, struct buf *out)
{
	char date[64], tlsinfo[160];

	rfc5322_date(date, sizeof(date), time(NULL));
	if (buf_printf(out, "Received: from %s ([%s])\r\n", s->helo ? s->helo : "unknown",
		       s->conn->peer_ip) < 0)
		goto full;
	if (s->conn->tls && tls_describe(s->conn->bev, tlsinfo, sizeof(tlsinfo)) == 0 &&
	    buf_printf(out, "\t(using %s)\r\n", tlsinfo) < 0)
		goto full;
	if (s->auth_user != NULL &&
	    buf_printf(out, "\t(Authenticated sender: %s)\r\n", s->auth_user) < 0)
		goto full;
	if (buf_printf(out, "\tby %s (postern) with %s id %s", s->conn->srv->cfg->hostname,
		       smtpd_protocol_name(s), s->msgid) < 0)
		goto full;
	/* The recipient is shown only when there is one (privacy). */
	if (s->nrcpts == 1 && buf_printf(out, "\r\n\tfor <%s>", s->rcpts[0].address) < 0)
		goto full;
	if (buf_printf(out, "; %s\r\n", date) < 0)
		goto full;
	return;
full:
	panic("smtpd: trace fields do not fit");
}

static int
content_sink(void *ctx, const char *data, size_t len)
{
	struct smtpd *s = ctx;
	const char *error;

	if (s->spool != NULL && store_spool_write_crlf(s->spool, data, len, &error) < 0) {
		s->sink_errno = errno;
		conn_log(s->conn, LOG_LVL_ERROR, "spool: %s", error);
		s->sink_failed = true;
		return -1;
	}
	if (s->qw != NULL && queue_writer_write(s->qw, data, len, &error) < 0) {
		s->sink_errno = errno;
		conn_log(s->conn, LOG_LVL_ERROR, "queue: %s", error);
		s->sink_failed = true;
		return -1;
	}
	return 0;
}

/* Count the hops; on submission (RFC 6409 8): add Message-ID and Date
 * when missing, and check that From: is the user's. */
static int
header_done(void *ctx, const struct smtp_header_info *h)
{
	struct smtpd *s = ctx;
	struct buf add;
	char date[64];

	s->hops = h->received + 1;
	s->from_ok = true;
	if (s->auth_user == NULL)
		return 0;
	buf_init(&add, 2048);
	if (h->message_id == 0 && buf_printf(&add, "Message-ID: <%s.%s@%s>\r\n", s->msgid,
					     s->conn->id, s->conn->srv->cfg->hostname) < 0)
		panic("smtpd: Message-ID");
	if (h->date == 0) {
		rfc5322_date(date, sizeof(date), time(NULL));
		if (buf_printf(&add, "Date: %s\r\n", date) < 0)
			panic("smtpd: Date");
	}
	if (h->from == 0) {
		/* Unless the scan stopped inside the header section (a field name
		 * too long, past its size limit): a From: may follow there. */
		s->from_ok = h->end != SMTP_HEADER_END_OVERFLOW;
		if (buf_printf(&add, "From: <%s>\r\n", s->sender) < 0)
			panic("smtpd: From");
	} else {
		s->from_ok = h->from == 1 && !h->from_truncated &&
			     (h->end == SMTP_HEADER_END_BLANK || h->end == SMTP_HEADER_END_EOF) &&
			     smtpd_from_check(h->from_value, h->from_len, smtpd_from_owned, s) == 0;
	}
	/* A message with no header section: what we add becomes its header. */
	if (add.len > 0 && h->end == SMTP_HEADER_END_NONHEADER && buf_add_str(&add, "\r\n") < 0)
		panic("smtpd: header");
	int r = add.len > 0 ? content_sink(s, add.data, add.len) : 0;
	buf_release(&add);
	return r;
}

int
smtpd_from_owned(const char *address, void *ctx)
{
	return smtpd_sender_owned(ctx, address) ? 0 : -1;
}

void
smtpd_data_abort(struct smtpd *s)
{
	if (s->spool != NULL)
		store_spool_free(&s->spool);
	if (s->qw != NULL)
		queue_writer_abort(&s->qw);
	s->data_started = false;
	s->sink_failed = false;
	s->sink_errno = 0;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_failed = false;
}

/* Prepare the sinks: a spool for local copies, a queue file for remote
 * ones, and the trace fields at the top of each. */
static int
content_begin(struct smtpd *s, unsigned *code_r, const char **enhanced_r, const char **text_r)
{
	struct server *srv = s->conn->srv;
	struct buf trace;
	const char *error;

	make_msgid(s);
	*code_r = 451;
	*enhanced_r = "4.3.0";
	*text_r = "Error: queue file write error";
	if (s->nlocal > 0 && store_spool_open(srv->store, &s->spool, &error) < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			*code_r = 452;
			*enhanced_r = "4.3.1";
			*text_r = "Error: insufficient system storage";
		}
		conn_log(s->conn, LOG_LVL_ERROR, "spool: %s", error);
		return -1;
	}
	if (s->nremote > 0) {
		struct smtpd_env env;
		struct smtpd_env_rcpt *rcpts = xcalloc(s->nremote, sizeof(*rcpts));
		for (size_t i = 0; i < s->nremote; i++) {
			const struct smtpd_rcpt *rc = &s->rcpts[s->remote[i].rcpt];
			rcpts[i].address = s->remote[i].address;
			rcpts[i].orcpt = rc->orcpt;
			rcpts[i].notify = rc->notify;
		}
		smtpd_env_init(&env, s, smtpd_protocol_name(s));
		int r = queue_writer_create(srv->queue, &s->qw, &error);
		if (r == 0) {
			/* The queue id is the message's id. */
			str_copy(s->msgid, sizeof(s->msgid), queue_writer_id(s->qw));
			r = smtpd_env_write(&env, s->qw, rcpts, s->nremote, &error);
		}
		smtpd_env_free(&env);
		free(rcpts);
		if (r < 0) {
			conn_log(s->conn, LOG_LVL_ERROR, "queue: %s", error);
			smtpd_data_abort(s);
			return -1;
		}
	}
	buf_init(&trace, 8192);
	if (s->spool != NULL) {
		struct buf rp;
		buf_init(&rp, 1024);
		if (buf_printf(&rp, "Return-Path: <%s>\n", s->sender) < 0 ||
		    store_spool_write(s->spool, rp.data, rp.len, &error) < 0) {
			buf_release(&rp);
			buf_release(&trace);
			smtpd_data_abort(s);
			return -1;
		}
		buf_release(&rp);
	}
	trace_fields(s, &trace);
	int r = content_sink(s, trace.data, trace.len);
	buf_release(&trace);
	if (r < 0) {
		smtpd_data_abort(s);
		return -1;
	}
	struct smtp_data_options opts;
	smtp_data_options_init(&opts);
	opts.mode = s->state == SMTPD_BDAT ? SMTP_DATA_BDAT : SMTP_DATA_DOT;
	opts.eol =
	    srv->cfg->smtpd_bare_lf_normalise ? SMTP_DATA_EOL_NORMALISE : SMTP_DATA_EOL_REJECT;
	opts.max_size = srv->cfg->smtpd_max_message_size;
	opts.sink = content_sink;
	opts.header_end = header_done;
	opts.ctx = s;
	smtp_data_init(&s->data, &opts);
	s->from_ok = true;
	s->hops = 1;
	s->data_started = true;
	return 0;
}

void
smtpd_cmd_data(struct smtpd *s)
{
	unsigned code;
	const char *enhanced, *text;

	if (s->state == SMTPD_BDAT_WAIT) {
		smtpd_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (s->state == SMTPD_MAIL) {
		smtpd_reply(s, 554, "5.5.1", "Error: no valid recipients");
		return;
	}
	if (s->state != SMTPD_RCPT) {
		smtpd_reply(s, 503, "5.5.1", "Error: need RCPT command");
		return;
	}
	smtpd_set_state(s, SMTPD_DATA);
	if (content_begin(s, &code, &enhanced, &text) < 0) {
		smtpd_set_state(s, SMTPD_RCPT);
		smtpd_reply(s, code, enhanced, "%s", text);
		return;
	}
	smtpd_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

/* The content is complete: refuse it, or hand it to delivery. */
static void
content_end(struct smtpd *s)
{
	unsigned code;
	const char *enhanced, *text;
	enum smtp_data_result verdict = smtp_data_result(&s->data);

	if (s->sink_failed && (s->sink_errno == ENOSPC || s->sink_errno == EDQUOT) &&
	    (verdict == SMTP_DATA_OK || verdict == SMTP_DATA_SINK_FAILED)) {
		smtpd_reply(s, 452, "4.3.1", "Error: insufficient system storage");
		smtpd_reset(s);
		return;
	}
	if (verdict != SMTP_DATA_OK || s->sink_failed) {
		if (verdict == SMTP_DATA_OK)
			verdict = SMTP_DATA_SINK_FAILED;
		code = smtp_data_status_code(verdict, &enhanced, &text);
		conn_log(s->conn, LOG_LVL_NOTICE, "message refused: %s", text);
		smtpd_reply(s, code, enhanced, "%s", text);
		smtpd_reset(s);
		return;
	}
	/* RFC 5321 6.3: a message that has been round too many servers is in
	 * a loop (Postfix's hopcount_limit: ours counted, at the limit). */
	unsigned max_hops = s->conn->srv->cfg->smtpd_max_hops;
	if (max_hops != 0 && s->hops >= max_hops) {
		conn_log(s->conn, LOG_LVL_NOTICE, "message refused: %u hops, a mail loop?",
			 s->hops);
		smtpd_reply(s, 554, "5.4.6", "Error: too many hops (%u Received: fields)",
			    s->hops);
		smtpd_reset(s);
		return;
	}
	if (!s->from_ok) {
		conn_log(s->conn, LOG_LVL_NOTICE, "From: not owned by %s", s->auth_user);
		smtpd_reply(s, 553, "5.7.1", "Error: From: header not owned by user %s",
			    s->auth_user);
		smtpd_reset(s);
		return;
	}
	smtpd_deliver(s);
}

bool
smtpd_data_input(struct smtpd *s)
{
	struct evbuffer *in = conn_input(s->conn);
	size_t avail = evbuffer_get_length(in);

	if (avail == 0)
		return false;
	if (s->state == SMTPD_DATA) {
		struct evbuffer_iovec vec;
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
			return false;
		size_t consumed;
		enum smtp_data_status st =
		    smtp_data_feed(&s->data, vec.iov_base, vec.iov_len, &consumed);
		evbuffer_drain(in, consumed);
		if (st == SMTP_DATA_DONE)
			content_end(s);
		return true;
	}
	/* BDAT: exactly bdat_left bytes belong to this chunk. */
	struct evbuffer_iovec vec;
	if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
		return false;
	size_t n = MIN(vec.iov_len, s->bdat_left);
	size_t consumed = n;
	if (!s->bdat_failed)
		(void)smtp_data_feed(&s->data, vec.iov_base, n, &consumed);
	evbuffer_drain(in, n);
	s->bdat_left -= n;
	if (s->bdat_left > 0)
		return true;
	smtpd_bdat_chunk_done(s);
	return true;
}

void
smtpd_cmd_bdat(struct smtpd *s, const struct smtp_cmd *cmd)
{
	unsigned code;
	const char *enhanced, *text;

	s->bdat_left = cmd->bdat_size;
	s->bdat_last = cmd->bdat_last;
	if (s->state != SMTPD_RCPT && s->state != SMTPD_BDAT_WAIT) {
		/* The chunk is read and dropped so that the next command is
		 * found (RFC 3030 2); the error comes after it. */
		s->bdat_orphan = s->state;
		s->bdat_failed = true;
		s->bdat_code = s->state == SMTPD_MAIL ? 554 : 503;
		s->bdat_enhanced = "5.5.1";
		s->bdat_text = s->state == SMTPD_MAIL ? "Error: no valid recipients"
						      : "Error: need RCPT command";
		s->state = SMTPD_BDAT;
	} else {
		bool first = s->state == SMTPD_RCPT;
		smtpd_set_state(s, SMTPD_BDAT);
		if (first && !s->bdat_failed && content_begin(s, &code, &enhanced, &text) < 0) {
			s->bdat_failed = true;
			s->bdat_code = code;
			s->bdat_enhanced = enhanced;
			s->bdat_text = text;
		}
	}
	if (s->bdat_left == 0)
		smtpd_bdat_chunk_done(s);
}

void
smtpd_bdat_chunk_done(struct smtpd *s)
{
	if (s->bdat_orphan != SMTPD_BDAT) {
		s->state = s->bdat_orphan;
		s->bdat_orphan = SMTPD_BDAT;
		s->bdat_failed = false;
		smtpd_reply(s, s->bdat_code, s->bdat_enhanced, "%s", s->bdat_text);
		return;
	}
	if (!s->bdat_failed && smtp_data_result(&s->data) != SMTP_DATA_OK && !s->bdat_last) {
		/* Refused already (bare LF, too big): say so now. */
		s->bdat_failed = true;
		s->bdat_code = smtp_data_status_code(smtp_data_result(&s->data), &s->bdat_enhanced,
						     &s->bdat_text);
	}
	if (s->bdat_failed) {
		unsigned code = s->bdat_code;
		const char *enhanced = s->bdat_enhanced, *text = s->bdat_text;
		/* RFC 3030 3: the transaction has failed; forget it. */
		smtpd_reset(s);
		smtpd_reply(s, code, enhanced, "%s", text);
		return;
	}
	if (!s->bdat_last) {
		smtpd_set_state(s, SMTPD_BDAT_WAIT);
		smtpd_reply(s, 250, "2.0.0", "Ok: %llu octets received",
			    (unsigned long long)s->data.offset);
		return;
	}
	(void)smtp_data_finish(&s->data);
	content_end(s);
}
