/* smtpc_setup.c - the SMTP client's session setup: greeting, EHLO with the
 * HELO fallback, STARTTLS (with the response-injection check) and AUTH
 * PLAIN or LOGIN, up to ready_cb. */
#include "lib/common.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "smtp/smtpc_private.h"

static void after_hello(struct smtpc *c);

static void
refused(struct smtpc *c, const struct smtp_reply *r, const char *stage)
{
	smtpc_reply_from(&c->error.reply, r, stage);
	smtpc_setup_failed(c, SMTPC_ERR_REPLY);
}

/* Write the credentials, then wipe them from memory. */
static void
flush_secret(struct smtpc *c)
{
	size_t len = c->out.len;

	smtpc_flush(c);
	if (c->out.data != NULL)
		explicit_bzero(c->out.data, len);
}

static void
send_hello(struct smtpc *c, enum smtpc_cmd cmd)
{
	smtpc_cmd(c, "%s %s", cmd == SMTPC_CMD_EHLO ? "EHLO" : "HELO", c->cfg->helo_name);
	smtpc_flush(c);
	smtpc_push(c, cmd, 0, false);
	smtpc_set_state(c, SMTPC_S_EHLO);
}

static void
setup_done(struct smtpc *c)
{
	smtpc_log(c, LOG_LVL_INFO, "smtpc: session ready (%s%s%s%s)",
		  c->peer.esmtp ? "ESMTP" : "SMTP", c->peer.tls ? ", " : "", c->peer.tls_desc,
		  c->peer.tls ? (c->peer.tls_verified ? ", verified" : ", unverified") : "");
	smtpc_set_state(c, SMTPC_S_READY);
	smtpc_notify(c, SMTPC_NOTIFY_READY);
}

void
smtpc_setup_error(struct smtpc *c, enum smtpc_error_kind kind, const char *stage, const char *text)
{
	smtpc_reply_gen(&c->error.reply, 451, "4.7.0", stage, "%s", text);
	smtpc_setup_failed(c, kind);
}

static void
add_base64(struct smtpc *c, const char *prefix, const void *data, size_t len)
{
	if (buf_add_str(&c->out, prefix) < 0 || base64_encode(&c->out, data, len, 0) < 0 ||
	    buf_add(&c->out, "\r\n", 2) < 0)
		panic("smtpc: AUTH line too long");
}

static void
start_auth(struct smtpc *c)
{
	const char *user = c->cfg->auth_user, *pass = c->cfg->auth_password;
	const char *why = NULL;
	char text[1024];

	/* Credentials go only where they cannot be read on the way, nor
	 * taken by whoever answers in the relay host's place: over TLS with
	 * a certificate verified for its name, or on loopback. */
	if (!c->loopback && !c->peer.tls_verified) {
		if (!c->peer.tls) {
			(void)snprintf(text, sizeof(text),
				       "not sending credentials to %s without TLS", c->peer.name);
		} else {
			(void)tls_peer_verified(c->bev, &why); /* false: asked for its reason */
			(void)snprintf(text, sizeof(text),
				       "not sending credentials to %s: its certificate did not "
				       "verify (%s)",
				       c->peer.name, why);
		}
		smtpc_setup_error(c, SMTPC_ERR_PROTOCOL, "AUTH", text);
		return;
	}
	if ((c->peer.ext & SMTPC_EXT_AUTH) == 0 ||
	    (c->peer.auth & (SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN)) == 0) {
		(void)snprintf(text, sizeof(text), "%s offers no AUTH mechanism we use (PLAIN, LOGIN)",
			       c->peer.name);
		smtpc_setup_error(c, SMTPC_ERR_PROTOCOL, "AUTH", text);
		return;
	}
	smtpc_set_state(c, SMTPC_S_AUTH);
	if (c->peer.auth & SMTPC_AUTH_PLAIN) {
		/* authzid (empty) NUL authcid NUL password, RFC 4616 */
		struct buf msg;
		buf_init(&msg, 4096);
		if (buf_add_char(&msg, '\0') < 0 || buf_add_str(&msg, user) < 0 ||
		    buf_add_char(&msg, '\0') < 0 || buf_add_str(&msg, pass != NULL ? pass : "") < 0)
			panic("smtpc: AUTH credentials too long");
		add_base64(c, "AUTH PLAIN ", msg.data, msg.len);
		explicit_bzero(msg.data, msg.len);
		buf_release(&msg);
	} else {
		smtpc_cmd(c, "AUTH LOGIN");
	}
	flush_secret(c);
	smtpc_push(c, SMTPC_CMD_AUTH, 0, false);
}

static void
auth_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r)
{
	bool login = (c->peer.auth & SMTPC_AUTH_PLAIN) == 0;

	if (r->code == 235) {
		smtpc_log(c, LOG_LVL_INFO, "smtpc: authenticated as %s", c->cfg->auth_user);
		setup_done(c);
		return;
	}
	if (r->code == 334 && login && p->cmd != SMTPC_CMD_AUTH_PASS) {
		bool user = p->cmd == SMTPC_CMD_AUTH;
		const char *s = user ? c->cfg->auth_user : c->cfg->auth_password;
		if (s == NULL)
			s = "";
		add_base64(c, "", s, strlen(s));
		flush_secret(c);
		smtpc_push(c, user ? SMTPC_CMD_AUTH_USER : SMTPC_CMD_AUTH_PASS, 0, false);
		return;
	}
	refused(c, r, "AUTH");
}

/* The 220 to STARTTLS is in: nothing may follow it before the handshake. */
static void
start_tls(struct smtpc *c)
{
	size_t pending = evbuffer_get_length(bufferevent_get_input(c->bev));
	const char *error = NULL;
	char text[1024];

	if (pending > 0 || !tls_output_drained(c->bev)) {
		(void)snprintf(text, sizeof(text),
			       "%s sent %zu bytes after its reply to STARTTLS (response injection)",
			       c->peer.name, pending);
		smtpc_setup_error(c, SMTPC_ERR_TLS, "STARTTLS", text);
		return;
	}
	size_t discarded = 0;
	struct bufferevent *bev = tls_starttls_client(c->bev, c->cfg->tls_ctx, c->host,
						      &discarded, &error);
	c->bev = bev;
	if (bev == NULL) {
		(void)snprintf(text, sizeof(text), "cannot start TLS with %s: %s", c->peer.name,
			       error);
		smtpc_setup_error(c, SMTPC_ERR_TLS, "STARTTLS", text);
		return;
	}
	smtpc_setup_bev(c);
	smtpc_set_state(c, SMTPC_S_HANDSHAKE);
	struct timeval tv = smtpc_timeout(c, smtpc_cmd_timeout(SMTPC_CMD_STARTTLS));
	evtimer_add(c->timer, &tv);
}

void
smtpc_tls_done(struct smtpc *c)
{
	const char *reason = NULL;
	char text[1024];

	evtimer_del(c->timer);
	c->peer.tls = true;
	c->peer.tls_verified = tls_peer_verified(c->bev, &reason);
	if (tls_describe(c->bev, c->peer.tls_desc, sizeof(c->peer.tls_desc)) < 0)
		c->peer.tls_desc[0] = '\0';
	smtpc_log(c, LOG_LVL_INFO, "smtpc: TLS established: %s, certificate %s",
		  c->peer.tls_desc, reason);
	if (c->cfg->tls == DELIVERY_TLS_VERIFY && !c->peer.tls_verified) {
		(void)snprintf(text, sizeof(text), "certificate of %s not verified: %s",
			       c->peer.name, reason);
		smtpc_setup_error(c, SMTPC_ERR_TLS, "STARTTLS", text);
		return;
	}
	send_hello(c, SMTPC_CMD_EHLO);
}

/* After EHLO or HELO: STARTTLS, AUTH, or ready. */
static void
after_hello(struct smtpc *c)
{
	const struct smtpc_config *cfg = c->cfg;
	char text[1024];

	if (!c->peer.tls && !c->tls_tried && cfg->tls != DELIVERY_TLS_NONE &&
	    cfg->tls_ctx != NULL && (c->peer.ext & SMTPC_EXT_STARTTLS)) {
		c->tls_tried = true;
		smtpc_cmd(c, "STARTTLS");
		smtpc_flush(c);
		smtpc_push(c, SMTPC_CMD_STARTTLS, 0, false);
		smtpc_set_state(c, SMTPC_S_STARTTLS);
		return;
	}
	if (!c->peer.tls && (cfg->tls == DELIVERY_TLS_ENCRYPT || cfg->tls == DELIVERY_TLS_VERIFY)) {
		if (cfg->tls_ctx == NULL)
			(void)snprintf(text, sizeof(text), "TLS required for %s, but no TLS context",
				       c->peer.name);
		else
			(void)snprintf(text, sizeof(text), "TLS required, but %s offers no STARTTLS",
				       c->peer.name);
		smtpc_setup_error(c, SMTPC_ERR_TLS, "STARTTLS", text);
		return;
	}
	if (cfg->auth_user != NULL) {
		start_auth(c);
		return;
	}
	setup_done(c);
}

void
smtpc_setup_reply(struct smtpc *c, const struct smtpc_pending *p, const struct smtp_reply *r)
{
	unsigned cls = smtp_reply_class(r->code);

	switch (p->cmd) {
	case SMTPC_CMD_GREETING:
		if (cls != 2) {
			refused(c, r, "greeting");
			return;
		}
		send_hello(c, SMTPC_CMD_EHLO);
		return;
	case SMTPC_CMD_EHLO:
		if (cls == 5) {
			smtpc_log(c, LOG_LVL_DEBUG, "smtpc: EHLO refused (%u), trying HELO",
				  r->code);
			send_hello(c, SMTPC_CMD_HELO);
			return;
		}
		if (cls != 2) {
			refused(c, r, "EHLO");
			return;
		}
		smtpc_parse_ehlo(buf_cstr(&r->text), r->text.len, &c->peer);
		c->peer.esmtp = true;
		after_hello(c);
		return;
	case SMTPC_CMD_HELO:
		if (cls != 2) {
			refused(c, r, "HELO");
			return;
		}
		c->peer.ext = 0;
		c->peer.size_max = 0;
		c->peer.auth = 0;
		c->peer.esmtp = false;
		after_hello(c);
		return;
	case SMTPC_CMD_STARTTLS:
		if (r->code == 220) {
			start_tls(c);
		} else if (c->cfg->tls == DELIVERY_TLS_MAY) {
			smtpc_log(c, LOG_LVL_NOTICE, "smtpc: STARTTLS refused (%u), going on without",
				  r->code);
			after_hello(c);
		} else {
			smtpc_reply_from(&c->error.reply, r, "STARTTLS");
			smtpc_setup_failed(c, SMTPC_ERR_TLS);
		}
		return;
	default:
		auth_reply(c, p, r);
		return;
	}
}
