/* smtpd_auth.c - AUTH (RFC 4954) and STARTTLS (RFC 3207). */
#include "lib/common.h"

#include "auth/sasl.h"
#include "auth/verify.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "smtp/smtpd.h"

bool
smtpd_auth_offered(const struct smtpd *s)
{
	const struct conn *c = s->conn;

	return s->auth_user == NULL &&
	       (c->tls || (c->peer_loopback && c->srv->cfg->auth_allow_plaintext_loopback));
}

void
smtpd_auth_free(struct smtpd *s)
{
	sasl_free(&s->sasl);
	auth_request_cancel(&s->auth_req);
}

static void
auth_done(enum auth_result result, const char *address, const char *reason, void *ctx)
{
	struct smtpd *s = ctx;

	s->auth_req = NULL;
	sasl_free(&s->sasl);
	if (s->state == SMTPD_QUIT)
		return; /* closed meanwhile (time-out): told 421 already */
	smtpd_set_state(s, SMTPD_READY);
	switch (result) {
	case AUTH_OK:
		s->auth_user = xstrdup(address);
		conn_log(s->conn, LOG_LVL_INFO, "sasl_method=%s sasl_username=%s", s->auth_mech,
			 address);
		smtpd_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case AUTH_FAILED:
		conn_log(s->conn, LOG_LVL_NOTICE, "authentication failed (%s): %s", s->auth_mech,
			 reason);
		smtpd_reply(s, 535, "5.7.8", "Error: authentication failed");
		break;
	case AUTH_TEMPFAIL:
		conn_log(s->conn, LOG_LVL_WARNING, "authentication unavailable: %s", reason);
		smtpd_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	case AUTH_REFUSED:
		conn_log(s->conn, LOG_LVL_NOTICE, "authentication refused (%s): %s", s->auth_mech,
			 reason);
		smtpd_close(s, "4.7.0", "Error: too many failed logins, try again later");
		return;
	}
	/* Commands the client pipelined while we waited. */
	if (s->state == SMTPD_READY && !s->conn->closing)
		s->conn->proto->input(s->conn);
}

static void
auth_next(struct smtpd *s, const char *response)
{
	struct buf b64;
	const char *error;

	buf_init(&b64, 2048);
	switch (sasl_next(s->sasl, response, &b64, &error)) {
	case SASL_CONTINUE:
		smtpd_set_state(s, SMTPD_AUTH);
		conn_printf(s->conn, "334 %s\r\n", buf_cstr(&b64));
		break;
	case SASL_DENIED:
		sasl_free(&s->sasl);
		smtpd_set_state(s, SMTPD_READY);
		smtpd_reply(s, 535, "5.7.8", "Error: authorization identity not allowed");
		break;
	case SASL_DONE:
		smtpd_set_state(s, SMTPD_AUTH_CHECK);
		s->auth_req =
		    auth_verify(s->conn->srv->auth, s->conn->srv->accounts, s->conn->peer_ip,
				sasl_authcid(s->sasl), sasl_password(s->sasl), auth_done, s);
		break;
	case SASL_FAIL:
		sasl_free(&s->sasl);
		smtpd_set_state(s, SMTPD_READY);
		smtpd_reply(s, 501, "5.5.2", "Error: %s", error);
		break;
	}
	buf_release(&b64);
}

void
smtpd_cmd_auth(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (s->auth_user != NULL) {
		smtpd_reply(s, 503, "5.5.1", "Error: already authenticated");
		return;
	}
	if (!smtpd_auth_offered(s)) {
		smtpd_reply(s, 538, "5.7.11",
			    "Encryption required for requested authentication "
			    "mechanism");
		return;
	}
	s->sasl = sasl_new(cmd->auth_mech);
	if (s->sasl == NULL) {
		smtpd_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	str_copy(s->auth_mech, sizeof(s->auth_mech), cmd->auth_mech);
	if (!cmd->ir_present) {
		auth_next(s, NULL);
		return;
	}
	char *ir = cmd->ir.len == 0 ? xstrdup("=") : xstrndup(cmd->ir.p, cmd->ir.len);
	auth_next(s, ir);
	free(ir);
}

void
smtpd_auth_response(struct smtpd *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		sasl_free(&s->sasl);
		smtpd_set_state(s, SMTPD_READY);
		smtpd_reply(s, 501, "5.0.0", "Authentication aborted");
		return;
	}
	if (len > 4 * 1024 || memchr(line, '\0', len) != NULL) {
		sasl_free(&s->sasl);
		smtpd_set_state(s, SMTPD_READY);
		smtpd_reply(s, 501, "5.5.2", "Error: cannot decode response");
		return;
	}
	char *response = xstrndup(line, len);
	auth_next(s, response);
	free(response);
}

void
smtpd_cmd_starttls(struct smtpd *s)
{
	if (s->conn->tls) {
		smtpd_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->conn->srv->tls == NULL) {
		smtpd_reply(s, 454, "4.7.0", "TLS not available due to temporary reason");
		return;
	}
	smtpd_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (conn_starttls(s->conn) < 0) {
		smtpd_close(s, "4.7.0", "TLS not available");
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before; the client must send
	 * EHLO again. Whatever it pipelined behind STARTTLS is discarded by the
	 * TLS switch; our own reader starts afresh. */
	free(s->helo);
	s->helo = NULL;
	free(s->auth_user);
	s->auth_user = NULL;
	s->esmtp = false;
	s->extensions = 0;
	line_reader_init(&s->lr, s->conn->srv->cfg->smtpd_max_line);
	smtpd_set_state(s, SMTPD_HELO);
}
