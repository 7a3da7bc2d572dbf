/* imapd_auth.c - CAPABILITY, ID, ENABLE, LOGIN, AUTHENTICATE. */
#include "lib/common.h"

#include "auth/sasl.h"
#include "auth/verify.h"
#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "store/accounts.h"

/* Extensions offered in every state after login. */
static const char caps_common[] =
    "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
    "CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES MULTIAPPEND BINARY "
    "STATUS=SIZE CONDSTORE QRESYNC UTF8=ACCEPT";

void
imapd_capability_list(struct imapd *s, struct buf *out)
{
	bool ok = buf_add_str(out, caps_common) == 0;

	if (s->state == IMAPD_NOT_AUTH) {
		if (!s->conn->tls && s->conn->srv->tls != NULL)
			ok = ok && buf_add_str(out, " STARTTLS") == 0;
		if (imapd_plaintext_allowed(s))
			ok = ok && buf_add_str(out, " AUTH=PLAIN AUTH=LOGIN") == 0;
		else
			ok = ok && buf_add_str(out, " LOGINDISABLED") == 0;
	}
	if (!ok)
		panic("imapd: capability list");
}

void
imapd_cmd_capability(struct imapd *s, const struct imap_command *cmd)
{
	struct buf caps;

	buf_init(&caps, 4096);
	imapd_capability_list(s, &caps);
	imapd_untagged(s, "CAPABILITY %s", buf_cstr(&caps));
	buf_release(&caps);
	imapd_tagged(s, cmd->tag, "OK", "CAPABILITY completed");
}

/* ID (RFC 2971): log what the client says, tell who we are. */
void
imapd_cmd_id(struct imapd *s, const struct imap_command *cmd)
{
	if (cmd->count != 1 ||
	    (cmd->args[0].type != IMAP_ARG_NIL && cmd->args[0].type != IMAP_ARG_LIST)) {
		imapd_bad(s, cmd->tag, "ID takes a list or NIL");
		return;
	}
	const struct imap_arg *l = &cmd->args[0];
	if (l->type == IMAP_ARG_LIST) {
		if (l->count % 2 != 0 || l->count > 60) {
			imapd_bad(s, cmd->tag, "ID list is field-value pairs (at most 30)");
			return;
		}
		for (size_t i = 0; i < l->count; i += 2) {
			const char *k = imap_arg_string(&l->list[i]);
			const char *v = l->list[i + 1].type == IMAP_ARG_NIL
					    ? "NIL"
					    : imap_arg_string(&l->list[i + 1]);
			if (k == NULL || v == NULL) {
				imapd_bad(s, cmd->tag, "ID fields and values are strings");
				return;
			}
			if (strcasecmp(k, "name") == 0 || strcasecmp(k, "version") == 0)
				conn_log(s->conn, LOG_LVL_INFO, "client id %.30s=%.60s", k, v);
		}
	}
	imapd_untagged(s, "ID (\"name\" \"postern\")");
	imapd_tagged(s, cmd->tag, "OK", "ID completed");
}

/* ENABLE (RFC 5161): CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2. */
void
imapd_cmd_enable(struct imapd *s, const struct imap_command *cmd)
{
	struct buf done;

	if (cmd->count == 0) {
		imapd_bad(s, cmd->tag, "ENABLE needs capability names");
		return;
	}
	buf_init(&done, 256);
	for (size_t i = 0; i < cmd->count; i++) {
		const char *name = imap_arg_atom(&cmd->args[i]);
		bool *flag = NULL;
		const char *canon = NULL;
		if (name == NULL) {
			buf_release(&done);
			imapd_bad(s, cmd->tag, "ENABLE takes atoms");
			return;
		}
		if (strcasecmp(name, "CONDSTORE") == 0) {
			flag = &s->condstore, canon = "CONDSTORE";
		} else if (strcasecmp(name, "QRESYNC") == 0) {
			flag = &s->qresync, canon = "QRESYNC";
			if (!s->condstore)
				s->condstore = true; /* QRESYNC implies CONDSTORE */
		} else if (strcasecmp(name, "UTF8=ACCEPT") == 0) {
			flag = &s->utf8, canon = "UTF8=ACCEPT";
		} else if (strcasecmp(name, "IMAP4rev2") == 0) {
			flag = &s->rev2, canon = "IMAP4rev2";
		}
		if (flag == NULL || *flag)
			continue; /* unknown or already on: not listed (RFC 5161 3.1) */
		*flag = true;
		if (buf_printf(&done, " %s", canon) < 0)
			panic("imapd: enable");
	}
	imapd_untagged(s, "ENABLED%s", buf_cstr(&done));
	buf_release(&done);
	imapd_tagged(s, cmd->tag, "OK", "ENABLE completed");
}

/* ---- login ---- */

static void
login_finish(struct imapd *s, enum auth_result result, const char *address, const char *reason)
{
	struct server *srv = s->conn->srv;
	struct accounts_user u = {0};
	const char *error, *tag = s->tag;

	s->auth_req = NULL;
	s->wait = IMAPD_WAIT_NONE;
	sasl_free(&s->sasl);
	if (result == AUTH_TEMPFAIL) {
		conn_log(s->conn, LOG_LVL_WARNING, "authentication unavailable: %s", reason);
		imapd_tagged(s, tag, "NO", "[UNAVAILABLE] Temporary authentication failure");
		goto out;
	}
	if (result == AUTH_REFUSED) {
		conn_log(s->conn, LOG_LVL_NOTICE, "authentication refused: %s", reason);
		imapd_untagged(s, "BYE Too many failed logins, try again later");
		imapd_tagged(s, tag, "NO", "[UNAVAILABLE] Too many failed logins");
		imapd_set_state(s, IMAPD_LOGOUT);
		conn_close_after_flush(s->conn);
		goto out;
	}
	if (result == AUTH_FAILED) {
		conn_log(s->conn, LOG_LVL_NOTICE, "authentication failed: %s", reason);
		imapd_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		goto out;
	}
	if (imapd_user_acquire(srv->store, address, &s->su, &error) < 0) {
		conn_log(s->conn, LOG_LVL_ERROR, "%s: cannot open mail store: %s", address, error);
		imapd_tagged(s, tag, "NO", "[UNAVAILABLE] Mail store unavailable");
		goto out;
	}
	if (accounts_user_get(srv->accounts, address, &u, &error) == 0)
		s->quota = u.quota;
	accounts_user_clear(&u);
	s->address = xstrdup(address);
	conn_log(s->conn, LOG_LVL_INFO, "login %s", address);
	imapd_set_state(s, IMAPD_AUTH);
	struct buf caps;
	buf_init(&caps, 4096);
	imapd_capability_list(s, &caps);
	imapd_tagged(s, tag, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&caps));
	buf_release(&caps);
out:
	free(s->tag);
	s->tag = NULL;
}

static void
login_done(enum auth_result result, const char *address, const char *reason, void *ctx)
{
	struct imapd *s = ctx;

	login_finish(s, result, address, reason);
	imapd_resume(s);
}

static void
login_check(struct imapd *s, const char *tag, const char *user, const char *password)
{
	free(s->tag);
	s->tag = xstrdup(tag);
	s->wait = IMAPD_WAIT_AUTH;
	s->auth_req = auth_verify(s->conn->srv->auth, s->conn->srv->accounts, s->conn->peer_ip,
				  user, password, login_done, s);
}

void
imapd_cmd_login(struct imapd *s, const struct imap_command *cmd)
{
	if (!imapd_plaintext_allowed(s)) {
		imapd_tagged(s, cmd->tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	const char *user = cmd->count == 2 ? imap_arg_astring(&cmd->args[0]) : NULL;
	const char *pass = cmd->count == 2 ? imap_arg_astring(&cmd->args[1]) : NULL;
	if (user == NULL || pass == NULL) {
		imapd_bad(s, cmd->tag, "Usage: LOGIN user password");
		return;
	}
	login_check(s, cmd->tag, user, pass);
}

static void
sasl_advance(struct imapd *s, const char *response)
{
	struct buf b64;
	const char *error;

	buf_init(&b64, 2048);
	switch (sasl_next(s->sasl, response, &b64, &error)) {
	case SASL_CONTINUE:
		s->wait = IMAPD_WAIT_SASL;
		evbuffer_add_printf(imapd_out(s), "+ %s\r\n", buf_cstr(&b64));
		break;
	case SASL_DENIED:
		s->wait = IMAPD_WAIT_NONE;
		sasl_free(&s->sasl);
		imapd_tagged(s, s->tag, "NO",
			     "[AUTHORIZATIONFAILED] Authorization identity not allowed");
		free(s->tag);
		s->tag = NULL;
		break;
	case SASL_DONE: {
		s->wait = IMAPD_WAIT_NONE;
		char *tag = s->tag;
		s->tag = NULL;
		login_check(s, tag, sasl_authcid(s->sasl), sasl_password(s->sasl));
		free(tag);
		break;
	}
	case SASL_FAIL:
		s->wait = IMAPD_WAIT_NONE;
		sasl_free(&s->sasl);
		imapd_bad(s, s->tag, "%s", error);
		free(s->tag);
		s->tag = NULL;
		break;
	}
	buf_release(&b64);
}

void
imapd_cmd_authenticate(struct imapd *s, const struct imap_command *cmd)
{
	const char *mech = cmd->count >= 1 ? imap_arg_atom(&cmd->args[0]) : NULL;
	const char *ir = cmd->count == 2 ? imap_arg_atom(&cmd->args[1]) : NULL;

	if (mech == NULL || cmd->count > 2 || (cmd->count == 2 && ir == NULL)) {
		imapd_bad(s, cmd->tag, "Usage: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (!imapd_plaintext_allowed(s)) {
		imapd_tagged(s, cmd->tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if ((s->sasl = sasl_new(mech)) == NULL) {
		imapd_tagged(s, cmd->tag, "NO", "Unsupported authentication mechanism");
		return;
	}
	free(s->tag);
	s->tag = xstrdup(cmd->tag);
	sasl_advance(s, ir);
}

/* A line of the SASL exchange ("*" cancels, RFC 9051 6.2.2). */
void
imapd_sasl_response(struct imapd *s, const char *line)
{
	if (strcmp(line, "*") == 0) {
		s->wait = IMAPD_WAIT_NONE;
		sasl_free(&s->sasl);
		imapd_bad(s, s->tag, "Authentication cancelled");
		free(s->tag);
		s->tag = NULL;
		return;
	}
	sasl_advance(s, line);
}
