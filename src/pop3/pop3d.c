/* pop3d.c - the POP3 session. */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/verify.h"
#include "lib/addr.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/linereader.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3_cmd.h"
#include "pop3/pop3d.h"
#include "server/server.h"
#include "store/accounts.h"
#include "store/store.h"

/* RFC 2449 4: commands up to 255 octets; AUTH responses may be longer. */
#define POP3_LINE_MAX 8192
#define POP3_MAX_ERRORS 20
/* What a session is told when the server stops (RFC 3206 SYS/TEMP). */
#define POP3_GOODBYE "-ERR [SYS/TEMP] Server shutting down\r\n"
/* Largest message RETR/TOP builds in memory before sending. */
#define POP3_MESSAGE_MAX (1024ULL * 1024 * 1024)

enum pop3_state {
	POP3_AUTHORIZATION,
	POP3_AUTH_SASL,  /* AUTH exchange: the next line is a response */
	POP3_AUTH_CHECK, /* waiting for the password check */
	POP3_TRANSACTION,
	POP3_DONE,
};

struct pop3_msg {
	uint32_t uid;
	uint64_t size; /* CRLF octets */
	bool deleted;
};

struct pop3d {
	struct conn *conn;
	enum pop3_state state;
	struct line_reader lr;
	unsigned errors;
	char *user;           /* USER argument */
	char *address;        /* canonical, after login */
	struct sasl_exchange *sasl;
	struct auth_request *auth_req;
	bool via_sasl;
	char mech[32];
	int lock_fd;
	char timestamp[128];  /* APOP: <pid.time.id@host>, unique per connection */
	struct store_user *su;
	struct store_mailbox *box;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t nmsgs;
	size_t last;          /* RFC 1460 LAST: highest message number accessed */
};

static void
pop3_set_state(struct pop3d *p, enum pop3_state state)
{
	static const char *const names[] = {"AUTHORIZATION", "AUTH_SASL", "AUTH_CHECK",
					    "TRANSACTION", "DONE"};
	if (p->state != state)
		conn_log(p->conn, LOG_LVL_DEBUG, "pop3: %s -> %s", names[p->state], names[state]);
	p->state = state;
}

static void
ok(struct pop3d *p, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void
ok(struct pop3d *p, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(p->conn->bev);
	va_list ap;

	evbuffer_add(out, "+OK ", 4);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* Give the maildrop back at once (not when the connection is torn down):
 * a client may log in again as soon as it has read our answer to QUIT. */
static void
release_maildrop(struct pop3d *p)
{
	store_mailbox_close(&p->box);
	/* Back to the store's cache: the user's next login finds it open. */
	store_user_put(p->conn->srv->store, &p->su);
	if (p->lock_fd >= 0) {
		close(p->lock_fd);
		p->lock_fd = -1;
	}
}

static void
close_session(struct pop3d *p)
{
	pop3_set_state(p, POP3_DONE);
	release_maildrop(p);
	conn_close_after_flush(p->conn);
}

/* -ERR, with an RFC 2449 response code when code is not NULL. Too many
 * errors close the session. */
static void
err(struct pop3d *p, const char *code, const char *fmt, ...) ATTR_PRINTF(3, 4);

static void
err(struct pop3d *p, const char *code, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(p->conn->bev);
	va_list ap;

	evbuffer_add_printf(out, "-ERR %s%s%s", code ? "[" : "", code ? code : "", code ? "] " : "");
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (++p->errors >= POP3_MAX_ERRORS) {
		evbuffer_add_printf(out, "-ERR Too many errors, closing\r\n");
		close_session(p);
	}
}

static bool
plaintext_allowed(const struct pop3d *p)
{
	const struct conn *c = p->conn;

	return c->tls || (c->peer_loopback && c->srv->cfg->auth_allow_plaintext_loopback);
}

static void
cmd_capa(struct pop3d *p, const char *arg)
{
	struct evbuffer *out = bufferevent_get_output(p->conn->bev);

	ok(p, "Capability list follows");
	evbuffer_add_printf(out, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (p->state == POP3_AUTHORIZATION) {
		if (plaintext_allowed(p)) {
			evbuffer_add_printf(out, "USER\r\n");
			evbuffer_add_printf(out, "SASL %s\r\n", sasl_mechanisms());
		}
		if (!p->conn->tls && p->conn->srv->tls != NULL)
			evbuffer_add_printf(out, "STLS\r\n");
	}
	evbuffer_add_printf(out, "IMPLEMENTATION postern\r\n.\r\n");
}

/* ---- login ---- */

static int
open_maildrop(struct pop3d *p, const char **code_r, const char **error_r)
{
	struct server *srv = p->conn->srv;
	struct store_status_info st;
	struct store_iter *it;
	const struct store_message *m;
	char lock[4096];

	*code_r = "SYS/TEMP";
	if (store_user_get(srv->store, p->address, &p->su, error_r) < 0)
		return -1;
	/* The lock file lives beside the user's index. */
	const char *idx = store_user_index_path(p->su);
	const char *slash = strrchr(idx, '/');
	int n = snprintf(lock, sizeof(lock), "%.*s/pop3.lock", slash ? (int)(slash - idx) : 1,
			 slash ? idx : ".");
	if (n < 0 || (size_t)n >= sizeof(lock)) {
		*error_r = "lock path too long";
		return -1;
	}
	p->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p->lock_fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		*code_r = "IN-USE";
		*error_r = "maildrop already locked";
		return -1;
	}
	if (store_mailbox_open(p->su, "INBOX", false, &p->box, error_r) < 0)
		return -1;
	store_mailbox_status(p->box, &st);
	p->uidvalidity = st.uidvalidity;
	if (store_iter_init(p->box, 1, UINT32_MAX, 0, &it, error_r) < 0)
		return -1;
	int r;
	while ((r = store_iter_next(it, &m, error_r)) > 0) {
		p->msgs = xreallocarray(p->msgs, p->nmsgs + 1, sizeof(*p->msgs));
		p->msgs[p->nmsgs++] = (struct pop3_msg){.uid = m->uid, .size = m->crlf_size};
	}
	store_iter_free(&it);
	return r;
}

/* The login's outcome: open the maildrop, or say why not. */
static void
finish_login(struct pop3d *p, enum auth_result result, const char *address, const char *reason)
{
	const char *code, *error;

	p->auth_req = NULL;
	sasl_free(&p->sasl);
	pop3_set_state(p, POP3_AUTHORIZATION);
	if (result == AUTH_TEMPFAIL) {
		conn_log(p->conn, LOG_LVL_WARNING, "authentication unavailable: %s", reason);
		err(p, "SYS/TEMP", "Temporary authentication failure");
		return;
	}
	if (result == AUTH_REFUSED) {
		conn_log(p->conn, LOG_LVL_NOTICE, "authentication refused: %s", reason);
		err(p, "SYS/TEMP", "Too many failed logins, try again later");
		close_session(p);
		return;
	}
	if (result == AUTH_FAILED) {
		conn_log(p->conn, LOG_LVL_NOTICE, "authentication failed: %s", reason);
		err(p, "AUTH", "Authentication failed");
		return;
	}
	p->address = xstrdup(address);
	if (open_maildrop(p, &code, &error) < 0) {
		conn_log(p->conn, LOG_LVL_NOTICE, "%s: cannot open maildrop: %s", address, error);
		err(p, code, "%s", strcmp(code, "IN-USE") == 0 ? "maildrop already locked"
							       : "cannot open maildrop");
		/* RFC 1939: the server may close after a failed lock. */
		close_session(p);
		return;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < p->nmsgs; i++)
		total += p->msgs[i].size;
	conn_log(p->conn, LOG_LVL_INFO, "login %s%s%s: %zu messages", address,
		 p->via_sasl ? " method=" : "", p->via_sasl ? p->mech : "", p->nmsgs);
	pop3_set_state(p, POP3_TRANSACTION);
	ok(p, "maildrop has %zu message%s (%llu octets)", p->nmsgs, p->nmsgs == 1 ? "" : "s",
	   (unsigned long long)total);
}

/* Called later from the event loop: go on with what the client pipelined. */
static void
login_done(enum auth_result result, const char *address, const char *reason, void *ctx)
{
	struct pop3d *p = ctx;

	finish_login(p, result, address, reason);
	if (!p->conn->closing && p->state != POP3_DONE)
		p->conn->proto->input(p->conn);
}

static void
check_login(struct pop3d *p, const char *user, const char *password)
{
	pop3_set_state(p, POP3_AUTH_CHECK);
	p->auth_req = auth_verify(p->conn->srv->auth, p->conn->srv->accounts, p->conn->peer_ip, user,
				  password, login_done, p);
}

static void
cmd_user(struct pop3d *p, const char *arg)
{
	if (!plaintext_allowed(p)) {
		err(p, "AUTH", "Plaintext authentication disallowed on non-secure connections");
		return;
	}
	if (arg == NULL || *arg == '\0') {
		err(p, NULL, "Usage: USER name");
		return;
	}
	free(p->user);
	p->user = xstrdup(arg);
	ok(p, "Send your password");
}

static void
cmd_pass(struct pop3d *p, const char *arg)
{
	if (p->user == NULL) {
		err(p, NULL, "USER first");
		return;
	}
	if (arg == NULL) {
		err(p, NULL, "Usage: PASS password");
		return;
	}
	p->via_sasl = false;
	char *user = p->user;
	p->user = NULL;
	check_login(p, user, arg);
	free(user);
}

static void
sasl_advance(struct pop3d *p, const char *response)
{
	struct buf b64;
	const char *error;

	buf_init(&b64, 2048);
	switch (sasl_next(p->sasl, response, &b64, &error)) {
	case SASL_CONTINUE:
		pop3_set_state(p, POP3_AUTH_SASL);
		conn_printf(p->conn, "+ %s\r\n", buf_cstr(&b64));
		break;
	case SASL_DENIED:
		sasl_free(&p->sasl);
		pop3_set_state(p, POP3_AUTHORIZATION);
		err(p, "AUTH", "Authorization identity not allowed");
		break;
	case SASL_DONE:
		p->via_sasl = true;
		check_login(p, sasl_authcid(p->sasl), sasl_password(p->sasl));
		break;
	case SASL_FAIL:
		sasl_free(&p->sasl);
		pop3_set_state(p, POP3_AUTHORIZATION);
		err(p, NULL, "%s", error);
		break;
	}
	buf_release(&b64);
}

static void
cmd_auth(struct pop3d *p, const char *arg)
{
	if (arg == NULL || *arg == '\0') {
		/* RFC 5034 also allows listing mechanisms this way (old clients). */
		ok(p, "Mechanisms follow");
		conn_printf(p->conn, "PLAIN\r\nLOGIN\r\n.\r\n");
		return;
	}
	if (!plaintext_allowed(p)) {
		err(p, "AUTH", "Plaintext authentication disallowed on non-secure connections");
		return;
	}
	char mech[32];
	const char *sp = strchr(arg, ' ');
	size_t n = sp ? (size_t)(sp - arg) : strlen(arg);
	if (n >= sizeof(mech)) {
		err(p, NULL, "Unsupported authentication mechanism");
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = '\0';
	if ((p->sasl = sasl_new(mech)) == NULL) {
		err(p, NULL, "Unsupported authentication mechanism");
		return;
	}
	str_copy(p->mech, sizeof(p->mech), mech);
	sasl_advance(p, sp != NULL ? sp + 1 : NULL);
}

static void
auth_response(struct pop3d *p, const char *line)
{
	if (strcmp(line, "*") == 0) {
		sasl_free(&p->sasl);
		pop3_set_state(p, POP3_AUTHORIZATION);
		err(p, NULL, "Authentication cancelled");
		return;
	}
	sasl_advance(p, line);
}

/* APOP name digest (RFC 1939 7). The secret is the user's explicit APOP
 * opt-in; without one, APOP fails like a wrong digest (no enumeration).
 * The verifier answers: a failure is counted and delayed like a wrong
 * password, a client with too many failures refused. */
static void
cmd_apop(struct pop3d *p, const char *arg)
{
	struct server *srv = p->conn->srv;
	struct buf canon, secret;
	char name[512], ours[33];
	const char *error, *sp = arg != NULL ? strrchr(arg, ' ') : NULL;

	if (sp == NULL || (size_t)(sp - arg) >= sizeof(name) || sp == arg) {
		err(p, NULL, "Usage: APOP name digest");
		return;
	}
	memcpy(name, arg, (size_t)(sp - arg));
	name[sp - arg] = '\0';
	buf_init(&canon, 1024);
	buf_init(&secret, 1024);
	bool good = addr_canon(name, &canon, &error) == 0 &&
		    accounts_user_apop(srv->accounts, buf_cstr(&canon), &secret, &error) == 1 &&
		    pop3_apop_digest(p->timestamp, buf_cstr(&secret), ours) == 0 &&
		    pop3_apop_match(ours, sp + 1);
	if (secret.data != NULL)
		OPENSSL_cleanse(secret.data, secret.len);
	buf_release(&secret);
	str_copy(p->mech, sizeof(p->mech), "APOP");
	p->via_sasl = true;
	pop3_set_state(p, POP3_AUTH_CHECK);
	p->auth_req = auth_verify_checked(srv->auth, p->conn->peer_ip,
					  good ? buf_cstr(&canon) : NULL,
					  "APOP digest mismatch or no APOP secret", login_done, p);
	buf_release(&canon);
}

static void
cmd_stls(struct pop3d *p, const char *arg)
{
	if (p->conn->tls) {
		err(p, NULL, "Already using TLS");
		return;
	}
	if (p->conn->srv->tls == NULL) {
		err(p, "SYS/TEMP", "TLS not available");
		return;
	}
	ok(p, "Begin TLS negotiation");
	if (conn_starttls(p->conn) < 0) {
		close_session(p);
		return;
	}
	/* Whatever was pipelined behind STLS is discarded with the switch. */
	line_reader_init(&p->lr, POP3_LINE_MAX);
	free(p->user);
	p->user = NULL;
}

/* ---- transaction ---- */

/* A message number argument: 1..nmsgs, not deleted. */
static struct pop3_msg *
message_arg(struct pop3d *p, const char *arg, size_t *index_r, const char **rest_r)
{
	size_t n;

	switch (pop3_msgnum(arg, p->nmsgs, &n, rest_r)) {
	case -1:
		err(p, NULL, "Invalid message number");
		return NULL;
	case 0:
		err(p, NULL, "No such message");
		return NULL;
	default:
		break;
	}
	struct pop3_msg *m = &p->msgs[n - 1];
	if (m->deleted) {
		err(p, NULL, "message %zu already deleted", n);
		return NULL;
	}
	*index_r = n - 1;
	return m;
}

static void
cmd_stat(struct pop3d *p, const char *arg)
{
	size_t count = 0;
	uint64_t size = 0;

	for (size_t i = 0; i < p->nmsgs; i++)
		if (!p->msgs[i].deleted) {
			count++;
			size += p->msgs[i].size;
		}
	ok(p, "%zu %llu", count, (unsigned long long)size);
}

static void
cmd_list_uidl(struct pop3d *p, const char *arg, bool uidl)
{
	struct evbuffer *out = bufferevent_get_output(p->conn->bev);
	size_t i;

	if (arg != NULL && *arg != '\0') {
		struct pop3_msg *m = message_arg(p, arg, &i, NULL);
		if (m == NULL)
			return;
		if (uidl)
			ok(p, "%zu %08x%08x", i + 1, p->uidvalidity, m->uid);
		else
			ok(p, "%zu %llu", i + 1, (unsigned long long)m->size);
		return;
	}
	ok(p, "%s", uidl ? "Unique-ID listing follows" : "Scan listing follows");
	for (i = 0; i < p->nmsgs; i++) {
		if (p->msgs[i].deleted)
			continue;
		if (uidl)
			evbuffer_add_printf(out, "%zu %08x%08x\r\n", i + 1, p->uidvalidity,
					    p->msgs[i].uid);
		else
			evbuffer_add_printf(out, "%zu %llu\r\n", i + 1,
					    (unsigned long long)p->msgs[i].size);
	}
	evbuffer_add(out, ".\r\n", 3);
}

static void
cmd_list(struct pop3d *p, const char *arg)
{
	cmd_list_uidl(p, arg, false);
}

static void
cmd_uidl(struct pop3d *p, const char *arg)
{
	cmd_list_uidl(p, arg, true);
}

/* Send content (CRLF) byte-stuffed, with at most body_lines lines after
 * the header section when body_lines >= 0 (TOP), then the terminating dot. */
static void
send_stuffed(struct pop3d *p, const struct buf *msg, long long body_lines)
{
	struct evbuffer *out = bufferevent_get_output(p->conn->bev);
	const char *s = msg->data, *end = msg->data + msg->len;
	bool in_body = false;
	long long lines = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *next = nl != NULL ? nl + 1 : end;
		if (in_body && body_lines >= 0 && lines++ >= body_lines)
			break;
		if (*s == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, s, (size_t)(next - s));
		if (!in_body && (next - s == 2 && s[0] == '\r'))
			in_body = true;
		s = next;
	}
	if (msg->len > 0 && msg->data[msg->len - 1] != '\n')
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
}

static int
load_message(struct pop3d *p, const struct pop3_msg *m, struct buf *out)
{
	struct store_content content;
	const char *error;

	if (store_message_open(p->box, m->uid, &content, &error) < 0) {
		conn_log(p->conn, LOG_LVL_WARNING, "message %u: %s", m->uid, error);
		err(p, errno == ENOENT ? NULL : "SYS/TEMP", "%s",
		    errno == ENOENT ? "Message was removed meanwhile" : "Cannot read message");
		return -1;
	}
	buf_init(out, POP3_MESSAGE_MAX);
	int r = store_content_to_buf(&content, out, &error);
	close(content.fd);
	if (r < 0) {
		conn_log(p->conn, LOG_LVL_WARNING, "message %u: %s", m->uid, error);
		err(p, "SYS/TEMP", "Cannot read message");
		buf_release(out);
		return -1;
	}
	return 0;
}

static void
cmd_retr(struct pop3d *p, const char *arg)
{
	struct buf msg;
	size_t i;
	struct pop3_msg *m = message_arg(p, arg, &i, NULL);

	if (m == NULL || load_message(p, m, &msg) < 0)
		return;
	ok(p, "%llu octets", (unsigned long long)m->size);
	send_stuffed(p, &msg, -1);
	buf_release(&msg);
	p->last = MAX(p->last, i + 1);
}

static void
cmd_top(struct pop3d *p, const char *arg)
{
	struct buf msg;
	size_t i;
	const char *rest;
	struct pop3_msg *m = message_arg(p, arg, &i, &rest);

	if (m == NULL)
		return;
	char *end;
	if (rest == NULL || *rest < '0' || *rest > '9') {
		err(p, NULL, "Usage: TOP message lines");
		return;
	}
	errno = 0;
	long long lines = strtoll(rest, &end, 10);
	if (errno != 0 || *end != '\0' || lines < 0) {
		err(p, NULL, "Usage: TOP message lines");
		return;
	}
	if (load_message(p, m, &msg) < 0)
		return;
	ok(p, "Top of message follows");
	send_stuffed(p, &msg, lines);
	buf_release(&msg);
}

static void
cmd_dele(struct pop3d *p, const char *arg)
{
	size_t i;
	struct pop3_msg *m = message_arg(p, arg, &i, NULL);

	if (m == NULL)
		return;
	m->deleted = true;
	p->last = MAX(p->last, i + 1);
	ok(p, "message %zu deleted", i + 1);
}

static void
cmd_rset(struct pop3d *p, const char *arg)
{
	uint64_t total = 0;

	for (size_t i = 0; i < p->nmsgs; i++) {
		p->msgs[i].deleted = false;
		total += p->msgs[i].size;
	}
	p->last = 0;
	ok(p, "maildrop has %zu message%s (%llu octets)", p->nmsgs, p->nmsgs == 1 ? "" : "s",
	   (unsigned long long)total);
}

static void
cmd_last(struct pop3d *p, const char *arg)
{
	ok(p, "%zu", p->last);
}

static void
cmd_noop(struct pop3d *p, const char *arg)
{
	ok(p, "Nothing happens");
}

/* QUIT: from TRANSACTION, the UPDATE state: remove what DELE marked. */
static void
cmd_quit(struct pop3d *p, const char *arg)
{
	const char *host = p->conn->srv->cfg->hostname;

	if (p->state == POP3_TRANSACTION) {
		uint32_t *uids = xcalloc(p->nmsgs ? p->nmsgs : 1, sizeof(*uids));
		size_t n = 0, removed = 0;
		const char *error;
		for (size_t i = 0; i < p->nmsgs; i++)
			if (p->msgs[i].deleted)
				uids[n++] = p->msgs[i].uid;
		if (n > 0 && store_expunge(p->box, uids, n, NULL, &removed, &error) < 0) {
			conn_log(p->conn, LOG_LVL_ERROR, "%s: expunge: %s", p->address, error);
			free(uids);
			err(p, "SYS/TEMP", "Some deleted messages were not removed");
			close_session(p);
			return;
		}
		free(uids);
		conn_log(p->conn, LOG_LVL_INFO, "logout %s: %zu messages deleted", p->address, n);
		size_t left = p->nmsgs - n;
		if (left == 0)
			ok(p, "%s POP3 server signing off (maildrop empty)", host);
		else
			ok(p, "%s POP3 server signing off (%zu message%s left)", host, left,
			   left == 1 ? "" : "s");
	} else {
		ok(p, "%s POP3 server signing off", host);
	}
	close_session(p);
}

struct pop3_command {
	enum pop3_verb verb;
	unsigned states; /* bit per enum pop3_state */
	void (*run)(struct pop3d *p, const char *arg);
};

#define IN_AUTH (1u << POP3_AUTHORIZATION)
#define IN_TRANS (1u << POP3_TRANSACTION)

static const struct pop3_command commands[] = {
	{POP3_CAPA, IN_AUTH | IN_TRANS, cmd_capa}, {POP3_QUIT, IN_AUTH | IN_TRANS, cmd_quit},
	{POP3_NOOP, IN_TRANS, cmd_noop},           {POP3_USER, IN_AUTH, cmd_user},
	{POP3_PASS, IN_AUTH, cmd_pass},            {POP3_AUTH, IN_AUTH, cmd_auth},
	{POP3_STLS, IN_AUTH, cmd_stls},            {POP3_STAT, IN_TRANS, cmd_stat},
	{POP3_LIST, IN_TRANS, cmd_list},           {POP3_RETR, IN_TRANS, cmd_retr},
	{POP3_DELE, IN_TRANS, cmd_dele},           {POP3_RSET, IN_TRANS, cmd_rset},
	{POP3_TOP, IN_TRANS, cmd_top},             {POP3_UIDL, IN_TRANS, cmd_uidl},
	{POP3_LAST, IN_TRANS, cmd_last},
};

static void
handle_line(struct pop3d *p, const struct line *line)
{
	char text[POP3_LINE_MAX + 1];

	if (line->has_nul || line->bare_cr) {
		err(p, NULL, "Invalid characters in command");
		return;
	}
	memcpy(text, line->data, line->len);
	text[line->len] = '\0';
	if (p->state == POP3_AUTH_SASL) {
		auth_response(p, text);
		return;
	}
	struct pop3_cmd cmd;
	if (pop3_cmd_parse(text, &cmd) < 0 || cmd.verb == POP3_UNKNOWN) {
		err(p, NULL, "Unknown command");
		return;
	}
	if (cmd.verb == POP3_APOP) {
		if (p->state != POP3_AUTHORIZATION)
			err(p, NULL, "APOP is not allowed in this state");
		else
			cmd_apop(p, cmd.arg);
		return;
	}
	for (size_t i = 0; i < N_ELEMENTS(commands); i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if (!(commands[i].states & (1u << p->state))) {
			err(p, NULL, "%s is not allowed in this state", cmd.name);
			return;
		}
		commands[i].run(p, cmd.arg);
		return;
	}
	err(p, NULL, "Unknown command");
}

static void
pop3_input(struct conn *c)
{
	struct pop3d *p = c->session;

	/* Pipelined RETRs each add a whole message to the output: stop while
	 * the client has not taken what it asked for (pop3_drained resumes). */
	while (p->state != POP3_DONE && p->state != POP3_AUTH_CHECK && !c->closing &&
	       !c->starttls_pending && !conn_output_full(c)) {
		struct line line;
		enum line_result r = conn_read_line(c, &p->lr, &line);
		if (r == LINE_NEED_MORE)
			break;
		if (r == LINE_TOO_LONG) {
			err(p, NULL, "Line too long");
			continue;
		}
		handle_line(p, &line);
	}
}

static void
pop3_drained(struct conn *c)
{
	pop3_input(c);
}

static void
pop3_start(struct conn *c)
{
	struct pop3d *p = xcalloc(1, sizeof(*p));

	c->session = p;
	p->conn = c;
	p->lock_fd = -1;
	line_reader_init(&p->lr, POP3_LINE_MAX);
	if (worker_resources(c->srv) < 0) {
		conn_printf(c, "-ERR [SYS/TEMP] Service temporarily unavailable\r\n");
		close_session(p);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(p->timestamp, sizeof(p->timestamp), "<%ld.%lld.%ld.%s@%s>", (long)getpid(),
		 (long long)ts.tv_sec, ts.tv_nsec / 1000, c->id, c->srv->cfg->hostname);
	conn_printf(c, "+OK %s POP3 server (postern) ready %s\r\n", c->srv->cfg->hostname,
		    p->timestamp);
}

static void
pop3_timeout(struct conn *c)
{
	struct pop3d *p = c->session;

	/* RFC 1939 3: a time-out closes without entering UPDATE. */
	conn_printf(c, "-ERR Disconnected for inactivity\r\n");
	close_session(p);
}

static void
pop3_shutdown(struct conn *c)
{
	struct pop3d *p = c->session;

	if (p->state == POP3_AUTH_CHECK)
		return;
	conn_printf(c, "%s", POP3_GOODBYE);
	close_session(p);
}

static void
pop3_free(struct conn *c)
{
	struct pop3d *p = c->session;

	if (p == NULL)
		return;
	auth_request_cancel(&p->auth_req);
	sasl_free(&p->sasl);
	release_maildrop(p);
	free(p->msgs);
	free(p->user);
	free(p->address);
	free(p);
	c->session = NULL;
}

const struct protocol proto_pop3 = {
	.name = "pop3",
	.start = pop3_start,
	.input = pop3_input,
	.timeout = pop3_timeout,
	.shutdown = pop3_shutdown,
	.drained = pop3_drained,
	.free = pop3_free,
	.refusal_prefix = "-ERR [SYS/TEMP] ",
	.refusal_suffix = "\r\n",
	.goodbye = POP3_GOODBYE,
};
