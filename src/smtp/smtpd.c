/* smtpd.c - the SMTP server session: lifecycle, command dispatch, replies. */
#include "lib/common.h"

#include "lib/log.h"
#include "queue/submit.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "smtp/smtp_reply.h"
#include "smtp/smtpd.h"
#include "smtp/smtpd_deliver.h"

/* Command policy flags. */
#define CMD_NEEDS_HELO (1u << 0) /* 503 before HELO/EHLO */
#define CMD_NO_TXN (1u << 1)     /* 503 inside a mail transaction */
#define CMD_RESETS (1u << 2)     /* ends a BDAT sequence (anything but BDAT, NOOP...) */

struct smtpd_command {
	enum smtp_verb verb;
	unsigned flags;
	void (*run)(struct smtpd *s, const struct smtp_cmd *cmd);
};

static const char *const state_names[] = {
	[SMTPD_HELO] = "HELO",         [SMTPD_READY] = "READY",
	[SMTPD_MAIL] = "MAIL",         [SMTPD_RCPT] = "RCPT",
	[SMTPD_DATA] = "DATA",         [SMTPD_BDAT] = "BDAT",
	[SMTPD_BDAT_WAIT] = "BDAT_WAIT", [SMTPD_AUTH] = "AUTH",
	[SMTPD_AUTH_CHECK] = "AUTH_CHECK", [SMTPD_DELIVERING] = "DELIVERING",
	[SMTPD_ETRN_WAIT] = "ETRN_WAIT",
	[SMTPD_QUIT] = "QUIT",
};

void
smtpd_set_state(struct smtpd *s, enum smtpd_state state)
{
	if (s->state == state)
		return;
	conn_log(s->conn, LOG_LVL_DEBUG, "smtp: %s -> %s", state_names[s->state],
		 state_names[state]);
	/* While content is expected the client gets smtpd.data_timeout. */
	bool was_data = s->state == SMTPD_DATA || s->state == SMTPD_BDAT;
	bool is_data = state == SMTPD_DATA || state == SMTPD_BDAT;
	if (was_data != is_data)
		conn_set_timeout(s->conn, is_data ? s->conn->srv->cfg->smtpd_data_timeout
						  : s->conn->scfg->idle_timeout);
	s->state = state;
}

static void
send_out(struct smtpd *s)
{
	if (s->out.len > 0)
		conn_write(s->conn, s->out.data, s->out.len);
	buf_reset(&s->out);
}

void
smtpd_close(struct smtpd *s, const char *enhanced, const char *text)
{
	const char *error;

	if (s->state == SMTPD_QUIT)
		return;
	if (smtp_reply(&s->out, &error, 421, enhanced, "%s %s", s->conn->srv->cfg->hostname,
		       text) < 0)
		panic("smtpd: 421 reply: %s", error);
	send_out(s);
	smtpd_set_state(s, SMTPD_QUIT);
	conn_close_after_flush(s->conn);
}

static void
count_error(struct smtpd *s, unsigned code)
{
	if (code < 400)
		return;
	if (++s->errors >= s->conn->srv->cfg->smtpd_max_errors) {
		conn_log(s->conn, LOG_LVL_NOTICE, "too many errors (%u)", s->errors);
		smtpd_close(s, "4.7.0", "Error: too many errors");
	}
}

/* A reply that could not be built (a line over 512 octets, text over the
 * buffer, a control character, mostly from the client's own words): the
 * same code with a text of ours, never a crash. */
static void
reply_fallback(struct smtpd *s, const struct smtp_reply_builder *b, const char *why)
{
	const char *error;

	conn_log(s->conn, LOG_LVL_ERROR, "reply %u not sendable as built: %s", b->code, why);
	if (smtp_reply(&s->out, &error, b->code, b->enhanced[0] != '\0' ? b->enhanced : NULL,
		       "(reply text not sendable)") < 0)
		panic("smtpd: cannot build reply %u: %s", b->code, error);
}

void
smtpd_reply(struct smtpd *s, unsigned code, const char *enhanced, const char *fmt, ...)
{
	struct smtp_reply_builder b;
	const char *error;
	va_list ap;

	if (s->state == SMTPD_QUIT)
		return;
	smtp_reply_begin(&b, &s->out, code, enhanced);
	va_start(ap, fmt);
	int r = smtp_reply_vline(&b, fmt, ap);
	va_end(ap);
	if (r < 0 || smtp_reply_end(&b, &error) < 0)
		reply_fallback(s, &b, b.error ? b.error : "?");
	send_out(s);
	count_error(s, code);
}

void
smtpd_reply_send(struct smtpd *s, struct smtp_reply_builder *b)
{
	const char *error;
	unsigned code = b->code;

	if (smtp_reply_end(b, &error) < 0)
		reply_fallback(s, b, error);
	send_out(s);
	count_error(s, code);
}

static void
cmd_noop(struct smtpd *s, const struct smtp_cmd *cmd)
{
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

static void
cmd_rset(struct smtpd *s, const struct smtp_cmd *cmd)
{
	smtpd_reset(s);
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

static void
cmd_quit(struct smtpd *s, const struct smtp_cmd *cmd)
{
	smtpd_reply(s, 221, "2.0.0", "%s Bye", s->conn->srv->cfg->hostname);
	smtpd_set_state(s, SMTPD_QUIT);
	conn_close_after_flush(s->conn);
}

/* The runner's answer to an ETRN. */
static void
etrn_done(int code, const char *text, const char *error, void *arg)
{
	struct smtpd *s = arg;
	char *node = s->etrn_node;

	s->etrn = NULL;
	s->etrn_node = NULL;
	if (s->state == SMTPD_QUIT) {
		free(node); /* closed meanwhile (time-out): told 421 already */
		return;
	}
	smtpd_set_state(s, SMTPD_READY);
	if (code == 250) {
		unsigned long n = strtoul(text, NULL, 10);
		if (n == 0)
			smtpd_reply(s, 251, "2.0.0", "OK, no messages waiting for node %s", node);
		else
			smtpd_reply(s, 253, "2.0.0", "OK, %lu pending messages for node %s started",
				    n, node);
	} else {
		conn_log(s->conn, LOG_LVL_WARNING, "ETRN %s: %s", node, code < 0 ? error : text);
		smtpd_reply(s, 458, "4.3.0", "Unable to queue messages for node %s", node);
	}
	free(node);
	s->conn->proto->input(s->conn);
}

/* ETRN (RFC 1985): ask the queue runner to try the deferred mail for a
 * domain now. Authenticated clients and loopback only. The runner scans
 * its queue for it: the session waits for the answer, the worker does not. */
static void
cmd_etrn(struct smtpd *s, const struct smtp_cmd *cmd)
{
	char node[QUEUE_ADDR_MAX];

	if (cmd->etrn_name.len + 2 > sizeof(node)) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: ETRN domain");
		return;
	}
	snprintf(node, sizeof(node), "%s%.*s",
		 cmd->etrn_kind == SMTP_ETRN_SUBDOMAINS ? "@" : "", (int)cmd->etrn_name.len,
		 cmd->etrn_name.p);
	if (s->auth_user == NULL && !s->conn->peer_loopback) {
		smtpd_reply(s, 459, "4.7.1", "<%s>: Node not allowed: authentication required",
			    node);
		return;
	}
	if (cmd->etrn_kind == SMTP_ETRN_QUEUE) {
		smtpd_reply(s, 458, "4.3.0", "Unable to queue messages for node #%s: no such queue",
			    node);
		return;
	}
	smtpd_set_state(s, SMTPD_ETRN_WAIT);
	s->etrn_node = xstrdup(node);
	s->etrn = submit_flush_start(s->conn->srv->base, SUBMIT_SOCKET, NULL, node, etrn_done, s);
}

static void
cmd_starttls(struct smtpd *s, const struct smtp_cmd *cmd)
{
	smtpd_cmd_starttls(s);
}

static void
cmd_data(struct smtpd *s, const struct smtp_cmd *cmd)
{
	smtpd_cmd_data(s);
}

static const struct smtpd_command commands[] = {
	{SMTP_VERB_HELO, 0, smtpd_cmd_helo},
	{SMTP_VERB_EHLO, 0, smtpd_cmd_helo},
	{SMTP_VERB_MAIL, CMD_NEEDS_HELO | CMD_RESETS, smtpd_cmd_mail},
	{SMTP_VERB_RCPT, CMD_NEEDS_HELO | CMD_RESETS, smtpd_cmd_rcpt},
	{SMTP_VERB_DATA, CMD_NEEDS_HELO | CMD_RESETS, cmd_data},
	{SMTP_VERB_BDAT, CMD_NEEDS_HELO, smtpd_cmd_bdat},
	{SMTP_VERB_RSET, 0, cmd_rset},
	{SMTP_VERB_NOOP, 0, cmd_noop},
	{SMTP_VERB_QUIT, 0, cmd_quit},
	{SMTP_VERB_HELP, 0, smtpd_cmd_help},
	{SMTP_VERB_VRFY, CMD_RESETS, smtpd_cmd_vrfy},
	{SMTP_VERB_EXPN, CMD_RESETS, smtpd_cmd_expn},
	{SMTP_VERB_STARTTLS, CMD_NEEDS_HELO | CMD_NO_TXN | CMD_RESETS, cmd_starttls},
	{SMTP_VERB_AUTH, CMD_NEEDS_HELO | CMD_NO_TXN | CMD_RESETS, smtpd_cmd_auth},
	{SMTP_VERB_ETRN, CMD_NEEDS_HELO | CMD_NO_TXN | CMD_RESETS, cmd_etrn},
};

static void
handle_line(struct smtpd *s, const struct line *line)
{
	struct smtp_cmd_options opts = {
		.extensions = s->extensions,
		.smtputf8 = s->mail.smtputf8,
		.size_limit = s->conn->srv->cfg->smtpd_max_message_size,
	};
	struct smtp_cmd cmd;
	const char *enhanced;

	if (smtp_cmd_parse(line->data, line->len, &opts, &cmd) < 0) {
		unsigned code = smtp_cmd_status(&cmd, &enhanced);
		/* A broken BDAT leaves its chunk size unknown: the rest of the
		 * input cannot be framed, so the session must end. */
		if (cmd.verb == SMTP_VERB_BDAT) {
			smtpd_reply(s, code, enhanced, "%s", cmd.error_text);
			smtpd_close(s, "4.5.0", "Error: cannot continue after a bad BDAT");
			return;
		}
		smtpd_reply(s, code, enhanced, "%s", cmd.error_text);
		return;
	}
	for (size_t i = 0; i < N_ELEMENTS(commands); i++) {
		const struct smtpd_command *c = &commands[i];
		if (c->verb != cmd.verb)
			continue;
		if ((c->flags & CMD_NEEDS_HELO) && s->state == SMTPD_HELO) {
			smtpd_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
			return;
		}
		if ((c->flags & CMD_NO_TXN) && s->state != SMTPD_READY) {
			smtpd_reply(s, 503, "5.5.1", "Error: not allowed during a mail transaction");
			return;
		}
		/* RFC 3030 2: after BDAT only BDAT, RSET, NOOP, QUIT... */
		if ((c->flags & CMD_RESETS) && s->state == SMTPD_BDAT_WAIT) {
			smtpd_reply(s, 503, "5.5.1", "Error: BDAT sequence not finished");
			return;
		}
		c->run(s, &cmd);
		return;
	}
	panic("smtpd: no handler for verb %s", smtp_verb_name(cmd.verb));
}

static void
smtpd_input(struct conn *c)
{
	struct smtpd *s = c->session;

	/* Commands pipelined while a check, delivery or ETRN was running are
	 * answered when it ends: stop while the client has not taken its
	 * replies (smtpd_drained resumes), or the output would grow with
	 * every command the input buffer holds. */
	while (s->state != SMTPD_QUIT && !c->closing && !c->starttls_pending &&
	       !conn_output_full(c)) {
		if (s->state == SMTPD_DATA || s->state == SMTPD_BDAT) {
			if (!smtpd_data_input(s))
				break;
			continue;
		}
		if (s->state == SMTPD_AUTH_CHECK || s->state == SMTPD_DELIVERING ||
		    s->state == SMTPD_ETRN_WAIT)
			break; /* resumed when the check, delivery or runner answers */
		struct line line;
		enum line_result r = conn_read_line(c, &s->lr, &line);
		if (r == LINE_NEED_MORE)
			break;
		if (r == LINE_TOO_LONG) {
			smtpd_reply(s, 500, "5.5.2", "Error: line too long");
			continue;
		}
		if (s->state == SMTPD_AUTH) {
			smtpd_auth_response(s, line.data, line.len);
			continue;
		}
		handle_line(s, &line);
	}
	if (s->shutting_down && s->state != SMTPD_QUIT &&
	    (s->state == SMTPD_READY || s->state == SMTPD_HELO))
		smtpd_close(s, "4.3.2", "Service shutting down");
}

static void
smtpd_start(struct conn *c)
{
	struct smtpd *s = xcalloc(1, sizeof(*s));

	c->session = s;
	s->conn = c;
	s->state = SMTPD_HELO;
	s->bdat_orphan = SMTPD_BDAT;
	s->submission = c->svc == SVC_SUBMISSION || c->svc == SVC_SMTPS;
	line_reader_init(&s->lr, c->srv->cfg->smtpd_max_line);
	buf_init(&s->out, 64 * 1024);
	if (worker_resources(c->srv) < 0) {
		smtpd_close(s, "4.3.0", "Error: service temporarily unavailable");
		return;
	}
	conn_printf(c, "220 %s ESMTP postern\r\n", c->srv->cfg->hostname);
}

static void
smtpd_timeout(struct conn *c)
{
	struct smtpd *s = c->session;

	smtpd_close(s, "4.4.2", "Error: timeout exceeded");
}

static void
smtpd_shutdown(struct conn *c)
{
	struct smtpd *s = c->session;

	s->shutting_down = true;
	/* Between commands: now. In a transaction: after it ends. */
	if (s->state == SMTPD_HELO || s->state == SMTPD_READY || s->state == SMTPD_AUTH)
		smtpd_close(s, "4.3.2", "Service shutting down");
}

static void
smtpd_free(struct conn *c)
{
	struct smtpd *s = c->session;

	if (s == NULL)
		return;
	smtpd_deliver_cancel(s);
	submit_call_cancel(s->etrn);
	free(s->etrn_node);
	smtpd_reset(s);
	free(s->helo);
	free(s->auth_user);
	smtpd_auth_free(s);
	buf_release(&s->out);
	free(s);
	c->session = NULL;
}

const struct protocol proto_smtp = {
	.name = "smtp",
	.start = smtpd_start,
	.input = smtpd_input,
	.timeout = smtpd_timeout,
	.shutdown = smtpd_shutdown,
	.drained = smtpd_input, /* commands held back while the output was full */
	.free = smtpd_free,
	.refusal_prefix = "421 4.7.0 Error: ",
	.refusal_suffix = "\r\n",
	.goodbye = "421 4.3.2 Service shutting down\r\n",
};
