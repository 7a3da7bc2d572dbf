/* sendmail_smtp.c - 'sendmail -bs': a small SMTP server on standard input
 * and output for local programs. Commands are parsed by smtp_cmd.h and the
 * content read by smtp_data.h; each transaction is queued like a message
 * given to 'sendmail' (fields added when missing, sendmail_deliver). */
#include "lib/common.h"

#include <inttypes.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail.h"
#include "lib/config.h"
#include "lib/linereader.h"
#include "lib/xalloc.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_data.h"

#define SMTP_LINE_MAX 4096
#define SMTP_ERRORS_MAX 20
#define SMTP_EXTENSIONS (SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN)

struct session {
	struct sendmail *sm;
	struct buf in; /* read from standard input, not yet used */
	bool eof;
	bool esmtp;
	bool mail;     /* MAIL given */
	bool smtputf8; /* on MAIL */
	struct submit_request req;
	unsigned errors;
};

static void reply(const char *fmt, ...) ATTR_PRINTF(1, 2);

static void
reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
}

/* More input into s->in; false at the end of input or on an error. */
static bool
fill(struct session *s)
{
	char *p = buf_reserve(&s->in, 65536);
	ssize_t n;

	if (s->eof || p == NULL)
		return false;
	do
		n = read(STDIN_FILENO, p, 65536);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		s->eof = true;
		return false;
	}
	buf_set_len(&s->in, s->in.len + (size_t)n);
	return true;
}

static void
tx_reset(struct session *s)
{
	submit_request_free(&s->req);
	s->mail = false;
	s->smtputf8 = false;
}

static void
do_mail(struct session *s, const struct smtp_cmd *cmd)
{
	struct buf addr;

	if (s->mail) {
		reply("503 5.5.1 Error: nested MAIL command");
		return;
	}
	buf_init(&addr, QUEUE_ADDR_MAX);
	if (!cmd->path.null && smtp_path_format(&cmd->path, &addr) < 0) {
		reply("501 5.1.7 Bad sender address syntax");
		buf_release(&addr);
		return;
	}
	s->req.sender = xstrdup(buf_cstr(&addr));
	buf_release(&addr);
	s->req.ret = cmd->params.ret == SMTP_RET_FULL	? QUEUE_RET_FULL
		     : cmd->params.ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS
							: s->sm->ret;
	if (cmd->params.present & SMTP_PARAM_ENVID)
		s->req.envid = xstrdup(cmd->params.envid);
	s->smtputf8 = cmd->params.smtputf8;
	s->mail = true;
	reply("250 2.1.0 Ok");
}

static void
do_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	struct buf addr;
	unsigned max = s->sm->cfg->smtpd_max_recipients;

	if (!s->mail) {
		reply("503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->req.nrcpts >= QUEUE_RCPT_MAX || (max != 0 && s->req.nrcpts >= max)) {
		reply("452 4.5.3 Error: too many recipients");
		return;
	}
	buf_init(&addr, QUEUE_ADDR_MAX);
	if (cmd->path.postmaster) {
		if (buf_printf(&addr, "postmaster@%s", s->sm->cfg->hostname) < 0)
			buf_reset(&addr);
	} else if (smtp_path_format(&cmd->path, &addr) < 0) {
		buf_reset(&addr);
	}
	if (addr.len == 0) {
		reply("501 5.1.3 Bad recipient address syntax");
		buf_release(&addr);
		return;
	}
	s->req.rcpts = xreallocarray(s->req.rcpts, s->req.nrcpts + 1, sizeof(*s->req.rcpts));
	struct submit_rcpt *r = &s->req.rcpts[s->req.nrcpts++];
	r->addr = buf_steal(&addr);
	r->notify = s->sm->notify;
	if (cmd->params.present & SMTP_PARAM_NOTIFY) {
		unsigned n = cmd->params.notify;
		r->notify = (n & SMTP_NOTIFY_NEVER ? QUEUE_NOTIFY_NEVER : 0) |
			    (n & SMTP_NOTIFY_SUCCESS ? QUEUE_NOTIFY_SUCCESS : 0) |
			    (n & SMTP_NOTIFY_FAILURE ? QUEUE_NOTIFY_FAILURE : 0) |
			    (n & SMTP_NOTIFY_DELAY ? QUEUE_NOTIFY_DELAY : 0);
	}
	buf_release(&addr);
	reply("250 2.1.5 Ok");
}

/* DATA: read the content, fix it up, queue it. false when the input
 * ended inside the content. */
static bool
do_data(struct session *s)
{
	struct smtp_data_options opts;
	struct smtp_data_reader r;
	struct buf content, why;
	char id[QUEUE_ID_SIZE];

	if (!s->mail) {
		reply("503 5.5.1 Error: need MAIL command");
		return true;
	}
	if (s->req.nrcpts == 0) {
		reply("554 5.5.1 Error: no valid recipients");
		return true;
	}
	reply("354 End data with <CR><LF>.<CR><LF>");
	uint64_t max = s->sm->cfg->smtpd_max_message_size;
	buf_init(&content, BUF_UNLIMITED);
	buf_init(&why, 1024);
	smtp_data_options_init(&opts);
	opts.eol = SMTP_DATA_EOL_NORMALISE;
	opts.max_size = max;
	opts.sink = smtp_data_sink_buf;
	opts.ctx = &content;
	smtp_data_init(&r, &opts);
	for (;;) {
		size_t used = 0;
		if (s->in.len > 0 &&
		    smtp_data_feed(&r, s->in.data, s->in.len, &used) == SMTP_DATA_DONE) {
			buf_consume(&s->in, used);
			break;
		}
		if (used > 0)
			buf_consume(&s->in, used);
		if (!fill(s)) {
			buf_release(&content);
			buf_release(&why);
			return false;
		}
	}
	enum smtp_data_result result = smtp_data_result(&r);
	if (result != SMTP_DATA_OK) {
		const char *enh, *text;
		unsigned code = smtp_data_status_code(result, &enh, &text);
		reply("%u %s %s", code, enh, text);
	} else {
		char *from = sendmail_from(s->sm, s->req.sender);
		int rc = sendmail_fixup(s->sm, &content, from, false, &s->req, &why);
		free(from);
		if (rc == 0)
			rc = sendmail_deliver(s->sm, &s->req, buf_cstr(&content), content.len, id,
					      &why);
		if (rc == 0)
			reply("250 2.0.0 Ok: queued as %s", id);
		else if (rc == EX_TEMPFAIL)
			reply("451 4.3.0 Error: %s", why.data);
		else
			reply("554 5.6.0 Error: %s", why.data);
	}
	tx_reset(s);
	buf_release(&content);
	buf_release(&why);
	return true;
}

/* One command; false to end the session. */
static bool
command(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd_options opts = {
	    .extensions = s->esmtp ? SMTP_EXTENSIONS : 0,
	    .smtputf8 = s->smtputf8,
	    .size_limit = s->sm->cfg->smtpd_max_message_size,
	};
	static struct smtp_cmd cmd;
	const char *enh;

	if (smtp_cmd_parse(line, len, &opts, &cmd) < 0) {
		unsigned code = smtp_cmd_status(&cmd, &enh);
		reply("%u %s %s", code, enh, cmd.error_text);
		return ++s->errors < SMTP_ERRORS_MAX;
	}
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		tx_reset(s);
		s->esmtp = cmd.verb == SMTP_VERB_EHLO;
		if (!s->esmtp) {
			reply("250 %s", s->sm->cfg->hostname);
			break;
		}
		printf("250-%s\r\n250-PIPELINING\r\n", s->sm->cfg->hostname);
		if (s->sm->cfg->smtpd_max_message_size != 0)
			printf("250-SIZE %" PRIu64 "\r\n", s->sm->cfg->smtpd_max_message_size);
		reply("250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES");
		break;
	case SMTP_VERB_MAIL:
		do_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		do_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		return do_data(s);
	case SMTP_VERB_RSET:
		tx_reset(s);
		reply("250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		reply("250 2.0.0 Ok");
		break;
	case SMTP_VERB_VRFY:
		reply("252 2.0.0 Send some mail, I'll try my best");
		break;
	case SMTP_VERB_QUIT:
		reply("221 2.0.0 Bye");
		return false;
	default:
		reply("502 5.5.1 Error: command not implemented");
		return ++s->errors < SMTP_ERRORS_MAX;
	}
	return true;
}

int
sendmail_smtp(struct sendmail *sm)
{
	struct session s = {.sm = sm};
	struct line_reader lr;
	bool go = true;

	buf_init(&s.in, SMTP_LINE_MAX * 4 + 65536);
	line_reader_init(&lr, SMTP_LINE_MAX);
	reply("220 %s ESMTP postern", sm->cfg->hostname);
	while (go) {
		struct line line;
		size_t used = 0;
		enum line_result r = s.in.len == 0
					 ? LINE_NEED_MORE
					 : line_reader_next(&lr, s.in.data, s.in.len, &line, &used);
		if (r == LINE_OK) {
			char *copy = xstrndup(line.data, line.len);
			buf_consume(&s.in, used);
			go = command(&s, copy, line.len);
			free(copy);
			continue;
		}
		if (used > 0)
			buf_consume(&s.in, used);
		if (r == LINE_TOO_LONG) {
			reply("500 5.5.0 Error: line too long");
			go = ++s.errors < SMTP_ERRORS_MAX;
			continue;
		}
		go = fill(&s);
	}
	tx_reset(&s);
	buf_release(&s.in);
	return 0;
}
