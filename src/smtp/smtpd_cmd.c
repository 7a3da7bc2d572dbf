/* smtpd_cmd.c - HELO/EHLO, MAIL, RCPT (routing and relay policy), VRFY,
 * EXPN, HELP and the transaction reset. */
#include "lib/common.h"

#include "auth/sasl.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"
#include "server/server.h"
#include "smtp/smtp_reply.h"
#include "smtp/smtpd.h"
#include "store/accounts.h"

/* Most octets of a client's own argument quoted back in a reply (a reply
 * line is at most 512 octets). */
#define ECHO_MAX 200

void
smtpd_reset(struct smtpd *s)
{
	smtpd_data_abort(s);
	free(s->sender);
	s->sender = NULL;
	memset(&s->mail, 0, sizeof(s->mail));
	for (size_t i = 0; i < s->nrcpts; i++) {
		free(s->rcpts[i].address);
		free(s->rcpts[i].orcpt);
	}
	for (size_t i = 0; i < s->nlocal; i++) {
		free(s->local[i].address);
		free(s->local[i].folder);
	}
	for (size_t i = 0; i < s->nremote; i++)
		free(s->remote[i].address);
	free(s->rcpts);
	free(s->local);
	free(s->remote);
	s->rcpts = NULL;
	s->local = NULL;
	s->remote = NULL;
	s->nrcpts = s->nlocal = s->nremote = 0;
	if (s->state == SMTPD_MAIL || s->state == SMTPD_RCPT || s->state == SMTPD_DATA ||
	    s->state == SMTPD_BDAT || s->state == SMTPD_BDAT_WAIT || s->state == SMTPD_DELIVERING)
		smtpd_set_state(s, SMTPD_READY);
}

void
smtpd_cmd_helo(struct smtpd *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->conn->srv->cfg;
	struct smtp_reply_builder b;

	if (cmd->helo.kind == SMTP_HELO_INVALID) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: %s hostname (%s)",
			    cmd->verb == SMTP_VERB_EHLO ? "EHLO" : "HELO",
			    cmd->helo.problem ? cmd->helo.problem : "invalid name");
		return;
	}
	/* RFC 5321 4.1.4: HELO/EHLO in a session resets it. */
	if (s->state != SMTPD_HELO)
		smtpd_reset(s);
	free(s->helo);
	s->helo = xstrndup(cmd->helo.name.p, cmd->helo.name.len);
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	smtpd_set_state(s, SMTPD_READY);
	if (!s->esmtp) {
		s->extensions = 0;
		smtpd_reply(s, 250, NULL, "%s", cfg->hostname);
		return;
	}
	s->extensions = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN;
	if (smtpd_auth_offered(s))
		s->extensions |= SMTP_EXT_AUTH;
	smtp_reply_begin(&b, &s->out, 250, NULL);
	(void)smtp_reply_line(&b, "%s", cfg->hostname);
	(void)smtp_reply_line(&b, "PIPELINING");
	(void)smtp_reply_line(&b, "SIZE %llu", (unsigned long long)cfg->smtpd_max_message_size);
	if (!s->conn->tls && s->conn->srv->tls != NULL)
		(void)smtp_reply_line(&b, "STARTTLS");
	if (s->extensions & SMTP_EXT_AUTH)
		(void)smtp_reply_line(&b, "AUTH %s", sasl_mechanisms());
	(void)smtp_reply_line(&b, "ENHANCEDSTATUSCODES");
	(void)smtp_reply_line(&b, "8BITMIME");
	(void)smtp_reply_line(&b, "DSN");
	(void)smtp_reply_line(&b, "SMTPUTF8");
	(void)smtp_reply_line(&b, "CHUNKING");
	(void)smtp_reply_line(&b, "ETRN");
	smtpd_reply_send(s, &b);
}

bool
smtpd_sender_owned(struct smtpd *s, const char *address)
{
	struct accounts_rcpt r = {0};
	const char *error;
	struct buf canon;
	bool owned = false;

	if (s->auth_user == NULL)
		return false;
	buf_init(&canon, ADDR_INPUT_MAX);
	if (addr_canon(address, &canon, &error) == 0) {
		if (strcmp(buf_cstr(&canon), s->auth_user) == 0)
			owned = true;
		else if (accounts_resolve(s->conn->srv->accounts, buf_cstr(&canon), &r, &error) ==
			 ACCOUNTS_RCPT_FOUND) {
			for (size_t i = 0; i < r.local_count; i++)
				if (strcmp(r.local[i].address, s->auth_user) == 0)
					owned = true;
		}
		accounts_rcpt_clear(&r);
	}
	buf_release(&canon);
	return owned;
}

void
smtpd_cmd_mail(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct buf addr;

	if (s->state != SMTPD_READY) {
		smtpd_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (s->submission && s->auth_user == NULL) {
		smtpd_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	if (cmd->params.body == SMTP_BODY_BINARYMIME) {
		smtpd_reply(s, 555, "5.5.4", "BODY=BINARYMIME is not supported");
		return;
	}
	buf_init(&addr, SMTP_PATH_MAX + 8);
	if (smtp_path_format(&cmd->path, &addr) < 0)
		panic("smtpd: sender does not fit its buffer");
	if (s->auth_user != NULL && !smtpd_sender_owned(s, buf_cstr(&addr))) {
		conn_log(s->conn, LOG_LVL_NOTICE, "sender <%s> not owned by %s", buf_cstr(&addr),
			 s->auth_user);
		smtpd_reply(s, 553, "5.7.1", "<%s>: Sender address rejected: not owned by user %s",
			    buf_cstr(&addr), s->auth_user);
		buf_release(&addr);
		return;
	}
	s->sender = buf_steal(&addr);
	s->mail = cmd->params;
	smtpd_set_state(s, SMTPD_MAIL);
	conn_log(s->conn, LOG_LVL_INFO, "from=<%s>%s%s", s->sender,
		 s->auth_user ? " sasl_username=" : "", s->auth_user ? s->auth_user : "");
	smtpd_reply(s, 250, "2.1.0", "Ok");
}

static void
add_local(struct smtpd *s, const char *address, const char *tag, size_t rcpt)
{
	struct accounts_user user = {0};
	const char *error;

	for (size_t i = 0; i < s->nlocal; i++)
		if (strcmp(s->local[i].address, address) == 0)
			return; /* delivered once per mailbox */
	s->local = xreallocarray(s->local, s->nlocal + 1, sizeof(*s->local));
	struct smtpd_local *l = &s->local[s->nlocal++];
	l->address = xstrdup(address);
	l->folder = tag != NULL && tag[0] != '\0' ? xstrdup(tag) : NULL;
	l->quota = 0;
	l->rcpt = rcpt;
	if (accounts_user_get(s->conn->srv->accounts, address, &user, &error) == 0)
		l->quota = user.quota;
	accounts_user_clear(&user);
}

static void
add_remote(struct smtpd *s, const char *address, size_t rcpt)
{
	for (size_t i = 0; i < s->nremote; i++)
		if (strcmp(s->remote[i].address, address) == 0)
			return;
	s->remote = xreallocarray(s->remote, s->nremote + 1, sizeof(*s->remote));
	s->remote[s->nremote].address = xstrdup(address);
	s->remote[s->nremote].rcpt = rcpt;
	s->nremote++;
}

/* ORCPT in its RFC 3461 form, "addr-type;xtext", for the queue and DSNs. */
static char *
orcpt_encode(const char *type, const char *value)
{
	struct buf b;

	buf_init(&b, 3 * SMTP_ORCPT_MAX + SMTP_ORCPT_TYPE_MAX + 2);
	if (buf_printf(&b, "%s;", type[0] != '\0' ? type : "rfc822") < 0)
		goto fail;
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		int r = (*p < 33 || *p > 126 || *p == '+' || *p == '=')
				? buf_printf(&b, "+%02X", *p)
				: buf_add_char(&b, (char)*p);
		if (r < 0)
			goto fail;
	}
	return buf_steal(&b);
fail:
	buf_release(&b);
	return NULL;
}

static size_t
new_rcpt(struct smtpd *s, const char *address, const struct smtp_params *params)
{
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	struct smtpd_rcpt *r = &s->rcpts[s->nrcpts];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->orcpt = (params->present & SMTP_PARAM_ORCPT)
			   ? orcpt_encode(params->orcpt_type, params->orcpt)
			   : orcpt_encode("rfc822", address);
	/* Encoded again it may outgrow what a queue file holds (RFC 3461's
	 * 500: UTF-8 octets become "+XX"): kept without it (it only informs
	 * a DSN), rather than refused with a 451 on every try. */
	if (r->orcpt != NULL && strlen(r->orcpt) > QUEUE_ORCPT_MAX) {
		conn_log(s->conn, LOG_LVL_NOTICE, "ORCPT of <%s> too long once encoded: dropped",
			 address);
		free(r->orcpt);
		r->orcpt = NULL;
	}
	r->notify = params->notify;
	r->first_local = s->nlocal;
	r->first_remote = s->nremote;
	return s->nrcpts++;
}

static void
close_rcpt(struct smtpd *s, size_t i)
{
	s->rcpts[i].nlocal = s->nlocal - s->rcpts[i].first_local;
	s->rcpts[i].nremote = s->nremote - s->rcpts[i].first_remote;
	smtpd_set_state(s, SMTPD_RCPT);
}

/* Is the local part "postmaster" (RFC 5321 4.5.1: case-insensitive)? */
static bool
is_postmaster(const char *address)
{
	return strncasecmp(address, "postmaster@", 11) == 0;
}

void
smtpd_cmd_rcpt(struct smtpd *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->conn->srv->cfg;
	struct accounts_rcpt r = {0};
	struct buf given, canon;
	const char *error;

	if (s->state != SMTPD_MAIL && s->state != SMTPD_RCPT) {
		smtpd_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->nrcpts >= cfg->smtpd_max_recipients) {
		smtpd_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	buf_init(&given, SMTP_PATH_MAX + 16);
	buf_init(&canon, ADDR_INPUT_MAX);
	if (cmd->path.postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> without a domain is ours. */
		if (buf_printf(&given, "postmaster@%s", cfg->hostname) < 0)
			panic("smtpd: postmaster address");
	} else if (smtp_path_format(&cmd->path, &given) < 0) {
		panic("smtpd: recipient does not fit its buffer");
	}
	const char *addr = buf_cstr(&given);

	/* user%host@, host!user@, "user@host"@: never interpreted, and never
	 * accepted from an unauthenticated client, whatever the domain. */
	if (smtp_path_relay_hack(&cmd->path) != 0 && s->auth_user == NULL) {
		smtpd_reply(s, 554, "5.7.1", "<%s>: Relay access denied", addr);
		goto out;
	}
	int status;
	if (cmd->path.literal != SMTP_LITERAL_NONE)
		status = ACCOUNTS_RCPT_NOT_LOCAL; /* we have no local address literals */
	else if (addr_canon(addr, &canon, &error) < 0)
		status = ACCOUNTS_RCPT_INVALID;
	else
		status = accounts_resolve(s->conn->srv->accounts, buf_cstr(&canon), &r, &error);

	/* Every local domain has a postmaster (RFC 5321 4.5.1): when nobody
	 * was set up for it, its mail is kept in a mailbox of that name,
	 * readable once an administrator creates the user. */
	if ((status == ACCOUNTS_RCPT_UNKNOWN && is_postmaster(buf_cstr(&canon))) ||
	    (cmd->path.postmaster && status != ACCOUNTS_RCPT_FOUND)) {
		size_t i = new_rcpt(s, addr, &cmd->params);
		add_local(s, buf_cstr(&canon), NULL, i);
		close_rcpt(s, i);
		smtpd_reply(s, 250, "2.1.5", "Ok");
		goto out;
	}
	switch (status) {
	case ACCOUNTS_RCPT_FOUND: {
		size_t i = new_rcpt(s, addr, &cmd->params);
		/* The folder a +tag names, spelt as the client wrote it (the
		 * canonical address is lower-case). */
		const char *plus = strchr(cmd->path.local, ADDR_TAG_SEP);
		for (size_t k = 0; k < r.local_count; k++)
			add_local(s, r.local[k].address,
				  r.local[k].tag != NULL && plus != NULL ? plus + 1 : NULL, i);
		for (size_t k = 0; k < r.external_count; k++)
			add_remote(s, r.external[k], i);
		close_rcpt(s, i);
		for (size_t k = 0; k < r.unknown_count; k++)
			conn_log(s->conn, LOG_LVL_WARNING, "alias of <%s> names <%s>, which exists no more",
				 addr, r.unknown[k]);
		if (r.local_count == 0 && r.external_count == 1)
			smtpd_reply(s, 251, "2.1.5", "User not local; will forward to <%s>",
				    r.external[0]);
		else
			smtpd_reply(s, 250, "2.1.5", "Ok");
		break;
	}
	case ACCOUNTS_RCPT_UNKNOWN:
		smtpd_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: User unknown", addr);
		break;
	case ACCOUNTS_RCPT_NOT_LOCAL:
		if (s->auth_user == NULL &&
		    !net_cidr_match(cfg->relay_nets, cfg->relay_net_count, s->conn->peer_ip)) {
			conn_log(s->conn, LOG_LVL_NOTICE, "relay refused: <%s>", addr);
			smtpd_reply(s, 554, "5.7.1", "<%s>: Relay access denied", addr);
			break;
		}
		size_t i = new_rcpt(s, addr, &cmd->params);
		add_remote(s, addr, i);
		close_rcpt(s, i);
		smtpd_reply(s, 250, "2.1.5", "Ok");
		break;
	case ACCOUNTS_RCPT_LOOP:
		conn_log(s->conn, LOG_LVL_WARNING, "<%s>: %s", addr, error);
		smtpd_reply(s, 550, "5.4.6", "<%s>: Recipient address rejected: alias loop", addr);
		break;
	case ACCOUNTS_RCPT_INVALID:
		smtpd_reply(s, 553, "5.1.3", "<%s>: Recipient address rejected: bad address syntax",
			    addr);
		break;
	default:
		conn_log(s->conn, LOG_LVL_ERROR, "resolving <%s>: %s", addr, error);
		smtpd_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
		break;
	}
out:
	accounts_rcpt_clear(&r);
	buf_release(&given);
	buf_release(&canon);
}

/* May this client learn whether addresses exist (smtpd.vrfy/expn)? */
static bool
may_disclose(const struct smtpd *s, unsigned policy)
{
	return policy == SMTPD_DISCLOSE_ALL ||
	       (policy == SMTPD_DISCLOSE_AUTH && s->auth_user != NULL);
}

/* The address in a VRFY/EXPN argument: "user", "user@domain", "Name
 * <user@domain>". */
static void
argument_address(const struct smtp_slice *arg, struct buf *out)
{
	const char *p = arg->p, *end = arg->p + arg->len;
	const char *lt = memchr(p, '<', arg->len);

	if (lt != NULL) {
		const char *gt = memchr(lt, '>', (size_t)(end - lt));
		if (gt != NULL) {
			p = lt + 1;
			end = gt;
		}
	}
	if (buf_add(out, p, (size_t)(end - p)) < 0)
		buf_reset(out);
}

/* Resolve a VRFY/EXPN argument. A bare user name is looked up in every
 * local domain; *matches_r counts the domains where it exists. */
struct lookup {
	struct smtpd *s;
	const char *local;
	struct buf found; /* first match */
	unsigned matches;
	struct buf all;   /* every match, '\n' separated */
};

static int
ignore_target(const char *source, const char *target, void *ctx)
{
	return 0;
}

/* A user or an alias of exactly this name in domain (a catch-all does not
 * make a name exist). */
static int
lookup_domain(const char *domain, void *ctx)
{
	struct lookup *lk = ctx;
	struct accounts *db = lk->s->conn->srv->accounts;
	struct accounts_user user = {0};
	char address[ADDR_MAX + 1];
	struct buf canon;
	const char *error;

	if (snprintf(address, sizeof(address), "%s@%s", lk->local, domain) >= (int)sizeof(address))
		return 0;
	buf_init(&canon, ADDR_INPUT_MAX);
	bool exists = addr_canon(address, &canon, &error) == 0 &&
		      (accounts_user_get(db, buf_cstr(&canon), &user, &error) == 0 ||
		       accounts_alias_lookup(db, buf_cstr(&canon), ignore_target, NULL, &error) > 0);
	accounts_user_clear(&user);
	if (exists) {
		str_copy(address, sizeof(address), buf_cstr(&canon));
		if (lk->matches++ == 0 && buf_add_str(&lk->found, address) < 0)
			buf_reset(&lk->found);
		if (buf_printf(&lk->all, "%s\n", address) < 0)
			buf_reset(&lk->all);
	}
	buf_release(&canon);
	return 0;
}

static void
vrfy_expn(struct smtpd *s, const struct smtp_cmd *cmd, bool expn)
{
	struct buf arg, canon;
	struct accounts_rcpt r = {0};
	const char *error;

	buf_init(&arg, 1024);
	buf_init(&canon, ADDR_INPUT_MAX);
	argument_address(&cmd->arg, &arg);
	if (arg.len == 0) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: %s address", expn ? "EXPN" : "VRFY");
		goto out;
	}
	if (strchr(buf_cstr(&arg), '@') == NULL) {
		/* A user name alone: try it in every local domain. */
		struct lookup lk = {.s = s, .local = buf_cstr(&arg)};
		buf_init(&lk.found, ADDR_MAX + 1);
		buf_init(&lk.all, 64 * 1024);
		(void)accounts_domain_list(s->conn->srv->accounts, lookup_domain, &lk, &error);
		if (lk.matches == 0) {
			smtpd_reply(s, 550, "5.1.1", "<%.*s>: User unknown", ECHO_MAX, buf_cstr(&arg));
		} else if (lk.matches > 1) {
			/* RFC 5321 3.5.3: ambiguous, list the possibilities. */
			struct smtp_reply_builder b;
			smtp_reply_begin(&b, &s->out, 553, "5.1.4");
			(void)smtp_reply_line(&b, "User ambiguous; possibilities are");
			for (char *line = lk.all.data, *nl; line != NULL && *line != '\0';
			     line = nl + 1) {
				nl = strchr(line, '\n');
				*nl = '\0';
				(void)smtp_reply_line(&b, "<%s>", line);
			}
			smtpd_reply_send(s, &b);
		} else {
			buf_reset(&arg);
			if (buf_add_str(&arg, buf_cstr(&lk.found)) < 0)
				panic("smtpd: VRFY buffer");
		}
		bool done = lk.matches != 1;
		buf_release(&lk.found);
		buf_release(&lk.all);
		if (done)
			goto out;
	}
	if (addr_canon(buf_cstr(&arg), &canon, &error) < 0) {
		smtpd_reply(s, 553, "5.1.3", "<%.*s>: bad address syntax", ECHO_MAX,
			    buf_cstr(&arg));
		goto out;
	}
	int status = accounts_resolve(s->conn->srv->accounts, buf_cstr(&canon), &r, &error);
	if (status == ACCOUNTS_RCPT_NOT_LOCAL) {
		/* Not ours: we would relay, we cannot verify. */
		smtpd_reply(s, 252, "2.1.5", "Cannot verify <%s>, not a local address",
			    buf_cstr(&canon));
		goto out;
	}
	if (status != ACCOUNTS_RCPT_FOUND) {
		smtpd_reply(s, 550, "5.1.1", "<%s>: User unknown", buf_cstr(&canon));
		goto out;
	}
	if (!expn) {
		if (r.local_count == 1 && r.external_count == 0)
			smtpd_reply(s, 250, "2.1.5", "<%s>", r.local[0].address);
		else if (r.local_count == 0 && r.external_count == 1)
			/* RFC 5321 3.4: a forwarded address; we will forward. */
			smtpd_reply(s, 251, "2.1.5", "User not local; will forward to <%s>",
				    r.external[0]);
		else
			smtpd_reply(s, 553, "5.1.4", "<%s> is a list; use EXPN",
				    buf_cstr(&canon));
		goto out;
	}
	struct smtp_reply_builder b;
	smtp_reply_begin(&b, &s->out, 250, "2.1.5");
	for (size_t i = 0; i < r.local_count; i++)
		(void)smtp_reply_line(&b, "<%s>", r.local[i].address);
	for (size_t i = 0; i < r.external_count; i++)
		(void)smtp_reply_line(&b, "<%s>", r.external[i]);
	smtpd_reply_send(s, &b);
out:
	accounts_rcpt_clear(&r);
	buf_release(&arg);
	buf_release(&canon);
}

void
smtpd_cmd_vrfy(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (!may_disclose(s, s->conn->srv->cfg->smtpd_vrfy)) {
		/* RFC 5321 3.5.3: the same answer whether or not the user exists. */
		smtpd_reply(s, 252, "2.5.2",
			    "Cannot VRFY user, but will accept message and attempt delivery");
		return;
	}
	vrfy_expn(s, cmd, false);
}

void
smtpd_cmd_expn(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (!may_disclose(s, s->conn->srv->cfg->smtpd_expn)) {
		smtpd_reply(s, 502, "5.5.1", "Error: command not implemented");
		return;
	}
	vrfy_expn(s, cmd, true);
}

void
smtpd_cmd_help(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct smtp_reply_builder b;

	smtp_reply_begin(&b, &s->out, 214, "2.0.0");
	(void)smtp_reply_line(&b, "postern SMTP server; commands:");
	(void)smtp_reply_line(&b, "HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT");
	(void)smtp_reply_line(&b, "HELP VRFY EXPN STARTTLS AUTH");
	(void)smtp_reply_line(&b, "See RFC 5321; end of HELP info");
	smtpd_reply_send(s, &b);
}
