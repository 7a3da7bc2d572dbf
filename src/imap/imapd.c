/* imapd.c - the IMAP session: input, commands, replies, IDLE.
 *
 * Input goes through the incremental parser (imap_parser.h); each complete
 * command is dispatched by name and state. A command either finishes at
 * once (its tagged reply written) or leaves the session waiting (password
 * check, SASL exchange, IDLE, a FETCH paused until the client reads); input
 * is not read meanwhile, so pipelined commands run in order. Nor is it
 * while more output waits than conn_output_full() allows: a client that
 * pipelines commands without reading their answers gets the next ones run
 * once it has read (the drained callback), so its output stays bounded.
 */
#include "lib/common.h"

#include <sys/stat.h>

#include "auth/sasl.h"
#include "auth/verify.h"
#include "imap/imap_string.h"
#include "imap/imapd.h"
#include "imap/imapd_private.h"
#include "lib/linereader.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/server.h"

/* Longest SASL response or DONE line. */
#define IMAPD_RAW_LINE_MAX 16384
/* What a session is told when the server stops (RFC 5530 UNAVAILABLE). */
#define IMAPD_GOODBYE "* BYE [UNAVAILABLE] Server shutting down\r\n"

static void imapd_input(struct conn *c);

struct evbuffer *
imapd_out(struct imapd *s)
{
	return bufferevent_get_output(s->conn->bev);
}

bool
imapd_output_high(struct imapd *s)
{
	return evbuffer_get_length(imapd_out(s)) > IMAPD_OUTPUT_HIGH;
}

void
imapd_untagged(struct imapd *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn->bev == NULL || s->conn->closing)
		return;
	struct evbuffer *out = imapd_out(s);
	evbuffer_add(out, "* ", 2);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void tagged_v(struct imapd *s, const char *tag, const char *status, const char *fmt,
		     va_list ap) ATTR_PRINTF(4, 0);

static void
tagged_v(struct imapd *s, const char *tag, const char *status, const char *fmt, va_list ap)
{
	if (s->conn->bev == NULL || s->conn->closing)
		return;
	struct evbuffer *out = imapd_out(s);
	evbuffer_add_printf(out, "%s %s ", tag != NULL ? tag : "*", status);
	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

void
imapd_tagged(struct imapd *s, const char *tag, const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tagged_v(s, tag, status, fmt, ap);
	va_end(ap);
	if (strcmp(status, "BAD") != 0)
		s->errors = 0;
}

void
imapd_bad(struct imapd *s, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tagged_v(s, tag, "BAD", fmt, ap);
	va_end(ap);
	if (++s->errors >= IMAPD_MAX_ERRORS) {
		imapd_untagged(s, "BYE Too many invalid commands");
		imapd_set_state(s, IMAPD_LOGOUT);
		conn_close_after_flush(s->conn);
	}
}

void
imapd_set_state(struct imapd *s, enum imapd_state state)
{
	static const char *const names[] = {"NOT-AUTHENTICATED", "AUTHENTICATED", "SELECTED",
					    "LOGOUT"};

	if (s->state != state)
		conn_log(s->conn, LOG_LVL_DEBUG, "imap: %s -> %s", names[s->state], names[state]);
	s->state = state;
}

bool
imapd_plaintext_allowed(const struct imapd *s)
{
	const struct conn *c = s->conn;

	return c->tls || (c->peer_loopback && c->srv->cfg->auth_allow_plaintext_loopback);
}

void
imapd_put_string(struct imapd *s, struct evbuffer *out, const char *str, size_t len)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (imap_append_nstring(&b, str, len, s->utf8) < 0)
		panic("imapd: string");
	evbuffer_add(out, b.data, b.len);
	buf_release(&b);
}

void
imapd_store_failed(struct imapd *s, const char *tag, const char *what, const char *error)
{
	conn_log(s->conn, LOG_LVL_ERROR, "%s: %s: %s", s->address != NULL ? s->address : "-", what,
		 error);
	imapd_tagged(s, tag, "NO", "[SERVERBUG] %s failed: internal error", what);
}

/* Tell the selected mailbox's changes before a command runs; -1 when it
 * cannot, with the command answered (a mailbox deleted or made again
 * under the session has sent BYE and closes, which no answer follows). */
static int
sync_before(struct imapd *s, const char *tag, bool allow_expunge)
{
	if (s->state != IMAPD_SELECTED || imapd_view_sync(s, allow_expunge) == 0)
		return 0;
	imapd_tagged(s, tag, "NO", "[SERVERBUG] Mailbox unavailable");
	return -1;
}

/* ---- commands without a state of their own ---- */

static void
imapd_cmd_noop(struct imapd *s, const struct imap_command *cmd)
{
	if (sync_before(s, cmd->tag, true) < 0)
		return;
	imapd_tagged(s, cmd->tag, "OK", "%s completed", cmd->name);
}

static void
imapd_cmd_logout(struct imapd *s, const struct imap_command *cmd)
{
	imapd_untagged(s, "BYE Logging out");
	imapd_tagged(s, cmd->tag, "OK", "LOGOUT completed");
	imapd_view_close(s);
	imapd_set_state(s, IMAPD_LOGOUT);
	conn_close_after_flush(s->conn);
}

static void
imapd_cmd_starttls(struct imapd *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imapd_bad(s, cmd->tag, "STARTTLS takes no arguments");
		return;
	}
	if (s->conn->tls) {
		imapd_bad(s, cmd->tag, "TLS is already active");
		return;
	}
	if (s->conn->srv->tls == NULL) {
		imapd_tagged(s, cmd->tag, "NO", "[UNAVAILABLE] TLS not available");
		return;
	}
	imapd_tagged(s, cmd->tag, "OK", "Begin TLS negotiation now");
	if (conn_starttls(s->conn) < 0) {
		conn_close_after_flush(s->conn);
		return;
	}
	/* Anything pipelined after STARTTLS is discarded with the switch. */
	imap_parser_reset(s->parser);
}

/* ---- IDLE (RFC 2177) ---- */

static void
idle_stop_timer(struct imapd *s)
{
	if (s->idle_timer != NULL) {
		event_free(s->idle_timer);
		s->idle_timer = NULL;
	}
}

/* Cheap test first: has the index's write-ahead log changed at all? */
static bool
idle_wal_changed(struct imapd *s, struct imapd_idle_probe *last)
{
	char path[4096];
	struct stat st;

	int n = snprintf(path, sizeof(path), "%s-wal", store_user_index_path(s->su));
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) < 0)
		return true;
	struct imapd_idle_probe now = {st.st_ino, st.st_size, st.st_mtim};
	bool changed = now.ino != last->ino || now.size != last->size ||
		       now.mtime.tv_sec != last->mtime.tv_sec ||
		       now.mtime.tv_nsec != last->mtime.tv_nsec;
	*last = now;
	return changed;
}

static void
idle_tick(evutil_socket_t fd, short what, void *arg)
{
	struct imapd *s = arg;
	uint64_t changes;
	const char *error;

	(void)fd;
	(void)what;
	if (s->wait != IMAPD_WAIT_IDLE || s->su == NULL)
		return;
	if (!idle_wal_changed(s, &s->idle_probe))
		return;
	if (store_user_changes(s->su, &changes, &error) < 0) {
		conn_log(s->conn, LOG_LVL_ERROR, "%s: idle: %s", s->address, error);
		return;
	}
	if (changes == s->idle_changes)
		return;
	s->idle_changes = changes;
	if (s->state == IMAPD_SELECTED)
		imapd_view_sync(s, true);
}

static void
imapd_cmd_idle(struct imapd *s, const struct imap_command *cmd)
{
	const char *error;

	if (cmd->count != 0) {
		imapd_bad(s, cmd->tag, "IDLE takes no arguments");
		return;
	}
	if (sync_before(s, cmd->tag, true) < 0)
		return;
	if (store_user_changes(s->su, &s->idle_changes, &error) < 0) {
		imapd_store_failed(s, cmd->tag, "IDLE", error);
		return;
	}
	free(s->tag);
	s->tag = xstrdup(cmd->tag);
	/* An idling session holds as little memory as it can (cmd is gone). */
	imap_parser_reset(s->parser);
	s->wait = IMAPD_WAIT_IDLE;
	s->idle_timer = event_new(s->conn->srv->base, -1, EV_PERSIST, idle_tick, s);
	struct timeval tv = {0, 500 * 1000};
	event_add(s->idle_timer, &tv);
	conn_set_timeout(s->conn, IMAPD_IDLE_TIMEOUT);
	evbuffer_add_printf(imapd_out(s), "+ idling\r\n");
}

static void
idle_line(struct imapd *s, const char *line)
{
	idle_stop_timer(s);
	s->wait = IMAPD_WAIT_NONE;
	conn_set_timeout(s->conn, s->conn->scfg->idle_timeout);
	if (strcasecmp(line, "DONE") != 0) {
		imapd_bad(s, s->tag, "Expected DONE");
	} else {
		if (s->state == IMAPD_SELECTED)
			imapd_view_sync(s, true);
		imapd_tagged(s, s->tag, "OK", "IDLE terminated");
	}
	free(s->tag);
	s->tag = NULL;
}

/* ---- dispatch ---- */

#define S_NA (1u << IMAPD_NOT_AUTH)
#define S_AU (1u << IMAPD_AUTH)
#define S_SE (1u << IMAPD_SELECTED)
#define S_ANY (S_NA | S_AU | S_SE)

struct imapd_command {
	const char *name;
	unsigned states;
	bool sync_first; /* tell other sessions' changes before it runs */
	bool expunge_ok; /* pending expunges may be told before it runs */
	void (*run)(struct imapd *s, const struct imap_command *cmd);
};

static void uid_command(struct imapd *s, const struct imap_command *cmd);

static void
imapd_cmd_fetch_seq(struct imapd *s, const struct imap_command *cmd)
{
	imapd_cmd_fetch(s, cmd, false);
}

static void
imapd_cmd_store_seq(struct imapd *s, const struct imap_command *cmd)
{
	imapd_cmd_store(s, cmd, false);
}

static void
imapd_cmd_search_seq(struct imapd *s, const struct imap_command *cmd)
{
	imapd_cmd_search(s, cmd, false);
}

static void
imapd_cmd_copy_seq(struct imapd *s, const struct imap_command *cmd)
{
	imapd_cmd_copy(s, cmd, false, false);
}

static void
imapd_cmd_move_seq(struct imapd *s, const struct imap_command *cmd)
{
	imapd_cmd_copy(s, cmd, false, true);
}

static const struct imapd_command commands[] = {
    {"CAPABILITY", S_ANY, true, true, imapd_cmd_capability},
    {"NOOP", S_ANY, false, true, imapd_cmd_noop},
    {"LOGOUT", S_ANY, false, true, imapd_cmd_logout},
    {"ID", S_ANY, true, true, imapd_cmd_id},
    {"STARTTLS", S_NA, true, true, imapd_cmd_starttls},
    {"LOGIN", S_NA, true, true, imapd_cmd_login},
    {"AUTHENTICATE", S_NA, true, true, imapd_cmd_authenticate},
    {"ENABLE", S_AU | S_SE, true, true, imapd_cmd_enable},
    {"SELECT", S_AU | S_SE, false, true, imapd_cmd_select},
    {"EXAMINE", S_AU | S_SE, false, true, imapd_cmd_examine},
    {"CREATE", S_AU | S_SE, true, true, imapd_cmd_create},
    {"DELETE", S_AU | S_SE, true, true, imapd_cmd_delete},
    {"RENAME", S_AU | S_SE, true, true, imapd_cmd_rename},
    {"SUBSCRIBE", S_AU | S_SE, true, true, imapd_cmd_subscribe},
    {"UNSUBSCRIBE", S_AU | S_SE, true, true, imapd_cmd_unsubscribe},
    {"LIST", S_AU | S_SE, true, true, imapd_cmd_list},
    {"LSUB", S_AU | S_SE, true, true, imapd_cmd_lsub},
    {"NAMESPACE", S_AU | S_SE, true, true, imapd_cmd_namespace},
    {"STATUS", S_AU | S_SE, true, true, imapd_cmd_status},
    {"APPEND", S_AU | S_SE, true, true, imapd_cmd_append},
    {"IDLE", S_AU | S_SE, false, true, imapd_cmd_idle},
    {"CHECK", S_SE, true, true, imapd_cmd_check},
    {"CLOSE", S_SE, false, true, imapd_cmd_close},
    {"UNSELECT", S_SE, false, true, imapd_cmd_unselect},
    {"EXPUNGE", S_SE, true, true, imapd_cmd_expunge},
    {"SEARCH", S_SE, true, false, imapd_cmd_search_seq},
    {"FETCH", S_SE, true, false, imapd_cmd_fetch_seq},
    {"PARTIAL", S_SE, true, false, imapd_cmd_partial},
    {"STORE", S_SE, true, false, imapd_cmd_store_seq},
    {"COPY", S_SE, true, false, imapd_cmd_copy_seq},
    {"MOVE", S_SE, true, false, imapd_cmd_move_seq},
    {"UID", S_SE, true, true, uid_command},
};

/* UID FETCH/STORE/SEARCH/COPY/MOVE/EXPUNGE: the rest of the command after
 * its first argument. */
static void
uid_command(struct imapd *s, const struct imap_command *cmd)
{
	const char *sub = cmd->count > 0 ? imap_arg_atom(&cmd->args[0]) : NULL;
	struct imap_command rest = {
	    .tag = cmd->tag,
	    .name = sub,
	    .args = cmd->count > 0 ? cmd->args + 1 : NULL, /* args may be NULL */
	    .count = cmd->count > 0 ? cmd->count - 1 : 0,
	};

	if (sub == NULL) {
		imapd_bad(s, cmd->tag, "UID needs a command");
		return;
	}
	if (strcasecmp(sub, "FETCH") == 0)
		imapd_cmd_fetch(s, &rest, true);
	else if (strcasecmp(sub, "STORE") == 0)
		imapd_cmd_store(s, &rest, true);
	else if (strcasecmp(sub, "SEARCH") == 0)
		imapd_cmd_search(s, &rest, true);
	else if (strcasecmp(sub, "COPY") == 0)
		imapd_cmd_copy(s, &rest, true, false);
	else if (strcasecmp(sub, "MOVE") == 0)
		imapd_cmd_copy(s, &rest, true, true);
	else if (strcasecmp(sub, "EXPUNGE") == 0)
		imapd_cmd_uid_expunge(s, &rest);
	else
		imapd_bad(s, cmd->tag, "Unknown UID command");
}

static void
dispatch(struct imapd *s, const struct imap_command *cmd)
{
	const struct imapd_command *c = NULL;

	for (size_t i = 0; i < N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, cmd->name) == 0) {
			c = &commands[i];
			break;
		}
	}
	if (c == NULL) {
		imapd_bad(s, cmd->tag, "Unknown command %.40s", cmd->name);
		return;
	}
	if (!(c->states & (1u << s->state))) {
		if (s->state == IMAPD_NOT_AUTH)
			imapd_bad(s, cmd->tag, "%s needs authentication first", c->name);
		else if (c->states == S_SE)
			imapd_bad(s, cmd->tag, "%s needs a selected mailbox", c->name);
		else
			imapd_bad(s, cmd->tag, "%s is not allowed now", c->name);
		return;
	}
	str_copy(s->cmd_name, sizeof(s->cmd_name), c->name);
	/* Tell what other sessions changed before the command runs, so that
	 * a client learns it at its next command (RFC 9051 5.2). */
	if (c->sync_first && sync_before(s, cmd->tag, c->expunge_ok) < 0)
		return;
	c->run(s, cmd);
}

/* ---- input ---- */

static void
on_literal(struct imapd *s)
{
	uint64_t size, max = IMAPD_LITERAL_MAX;
	bool sync;
	const char *tag, *name;

	imap_parser_literal(s->parser, &size, &sync, &tag, &name);
	bool append = name != NULL && strcmp(name, "APPEND") == 0 && s->state != IMAPD_NOT_AUTH;
	if (append)
		max = IMAPD_APPEND_MAX;
	if (size > max || (append && s->literal_total + size > IMAPD_APPEND_TOTAL_MAX) ||
	    (!append && s->literal_total + size > 4 * IMAPD_LITERAL_MAX)) {
		imap_parser_literal_refuse(s->parser);
		s->literal_total = 0;
		imapd_tagged(s, tag, "NO", "[TOOBIG] Literal too large (at most %llu octets)",
			     (unsigned long long)max);
		return;
	}
	imap_parser_literal_accept(s->parser);
	s->literal_total += size;
	if (sync)
		evbuffer_add(imapd_out(s), "+ OK\r\n", 6);
}

/* A raw line (SASL response, DONE) while the parser rests. */
static bool
raw_line(struct imapd *s)
{
	struct line line;
	char text[IMAPD_RAW_LINE_MAX + 1];

	enum line_result r = conn_read_line(s->conn, &s->raw, &line);
	if (r == LINE_NEED_MORE)
		return false;
	if (r == LINE_TOO_LONG) {
		text[0] = '\0';
	} else {
		memcpy(text, line.data, line.len);
		text[line.len] = '\0';
	}
	if (s->wait == IMAPD_WAIT_IDLE)
		idle_line(s, text);
	else
		imapd_sasl_response(s, text);
	return true;
}

static void
imapd_input(struct conn *c)
{
	struct imapd *s = c->session;

	/* Output the client has not taken: the next command waits for it
	 * (imapd_drained goes on), as POP3 does. */
	while (!c->closing && !c->starttls_pending && s->state != IMAPD_LOGOUT &&
	       !conn_output_full(c)) {
		if (s->wait == IMAPD_WAIT_AUTH || s->wait == IMAPD_WAIT_OUTPUT ||
		    s->wait == IMAPD_WAIT_APPEND)
			return;
		if (s->wait == IMAPD_WAIT_IDLE || s->wait == IMAPD_WAIT_SASL) {
			if (!raw_line(s))
				return;
			continue;
		}
		struct evbuffer *in = conn_input(c);
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		enum imap_parse_event ev;
		size_t used = imap_parser_feed(s->parser, v.iov_base, v.iov_len, &ev);
		evbuffer_drain(in, used);
		switch (ev) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_LITERAL:
			on_literal(s);
			break;
		case IMAP_PARSE_ERROR: {
			const char *tag, *reason;
			imap_parser_error(s->parser, &tag, &reason);
			s->literal_total = 0;
			imapd_bad(s, tag, "%s", reason);
			break;
		}
		case IMAP_PARSE_COMMAND:
			s->literal_total = 0;
			dispatch(s, imap_parser_command(s->parser));
			break;
		}
	}
}

void
imapd_resume(struct imapd *s)
{
	if (!s->conn->closing && s->state != IMAPD_LOGOUT)
		imapd_input(s->conn);
}

/* ---- connection callbacks ---- */

static void
imapd_start(struct conn *c)
{
	struct imapd *s = xcalloc(1, sizeof(*s));
	struct buf caps;

	c->session = s;
	s->conn = c;
	s->parser = imap_parser_new(NULL);
	line_reader_init(&s->raw, IMAPD_RAW_LINE_MAX);
	if (worker_resources(c->srv) < 0) {
		conn_printf(c, "* BYE [UNAVAILABLE] Service temporarily unavailable\r\n");
		imapd_set_state(s, IMAPD_LOGOUT);
		conn_close_after_flush(c);
		return;
	}
	buf_init(&caps, 4096);
	imapd_capability_list(s, &caps);
	conn_printf(c, "* OK [CAPABILITY %s] %s IMAP server (postern) ready\r\n", buf_cstr(&caps),
		    c->srv->cfg->hostname);
	buf_release(&caps);
}

static void
imapd_timeout(struct conn *c)
{
	struct imapd *s = c->session;

	imapd_fetch_interrupt(s);
	imapd_list_free(s);
	conn_printf(c, "* BYE Disconnected for inactivity\r\n");
	imapd_set_state(s, IMAPD_LOGOUT);
	conn_close_after_flush(c);
}

static void
imapd_shutdown(struct conn *c)
{
	struct imapd *s = c->session;

	if (s->wait == IMAPD_WAIT_AUTH || s->wait == IMAPD_WAIT_APPEND)
		return; /* answered first; the client is told at its next command */
	imapd_fetch_interrupt(s);
	imapd_list_free(s);
	conn_printf(c, "%s", IMAPD_GOODBYE);
	imapd_set_state(s, IMAPD_LOGOUT);
	conn_close_after_flush(c);
}

static void
imapd_drained(struct conn *c)
{
	struct imapd *s = c->session;

	/* A paused FETCH or LIST goes on; then the commands that wait. */
	if (s->wait == IMAPD_WAIT_OUTPUT && s->job != NULL)
		imapd_fetch_continue(s);
	else if (s->wait == IMAPD_WAIT_OUTPUT)
		imapd_list_continue(s);
	imapd_resume(s);
}

static void
imapd_free(struct conn *c)
{
	struct imapd *s = c->session;

	if (s == NULL)
		return;
	auth_request_cancel(&s->auth_req);
	imapd_append_cancel(s);
	sasl_free(&s->sasl);
	idle_stop_timer(s);
	imapd_fetch_job_free(&s->job);
	imapd_list_free(s);
	imapd_view_close(s);
	imapd_user_release(&s->su);
	imap_parser_free(&s->parser);
	free(s->tag);
	free(s->address);
	free(s);
	c->session = NULL;
}

const struct protocol proto_imap = {
    .name = "imap",
    .start = imapd_start,
    .input = imapd_input,
    .timeout = imapd_timeout,
    .shutdown = imapd_shutdown,
    .drained = imapd_drained,
    .free = imapd_free,
    .refusal_prefix = "* BYE [UNAVAILABLE] ",
    .refusal_suffix = "\r\n",
    .goodbye = IMAPD_GOODBYE,
};
