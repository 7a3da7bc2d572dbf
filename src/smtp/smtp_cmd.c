/* smtp_cmd.c - parse one SMTP command line: the verb and its argument
 * (ESMTP parameters are in smtp_params.c, paths in smtp_path.c). */
#include "lib/common.h"

#include "smtp/smtp_cmd.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{"HELO", SMTP_VERB_HELO}, {"EHLO", SMTP_VERB_EHLO},
	{"MAIL", SMTP_VERB_MAIL}, {"RCPT", SMTP_VERB_RCPT},
	{"DATA", SMTP_VERB_DATA}, {"BDAT", SMTP_VERB_BDAT},
	{"RSET", SMTP_VERB_RSET}, {"NOOP", SMTP_VERB_NOOP},
	{"QUIT", SMTP_VERB_QUIT}, {"HELP", SMTP_VERB_HELP},
	{"VRFY", SMTP_VERB_VRFY}, {"EXPN", SMTP_VERB_EXPN},
	{"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH},
	{"ETRN", SMTP_VERB_ETRN}, {"SEND", SMTP_VERB_SEND},
	{"SOML", SMTP_VERB_SOML}, {"SAML", SMTP_VERB_SAML},
	{"TURN", SMTP_VERB_TURN},
};

const char *
smtp_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < N_ELEMENTS(verbs); i++) {
		if (verbs[i].verb == verb)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

static int
fail(struct smtp_cmd *cmd, enum smtp_cmd_error error, const char *text)
{
	cmd->error = error;
	cmd->error_text = text;
	return -1;
}

static void
skip_spaces(const char **s, size_t *len)
{
	while (*len > 0 && **s == ' ') {
		(*s)++;
		(*len)--;
	}
}

/* ---- HELO / EHLO ---- */

/* Labels of letters, digits, '-', '_' or UTF-8, separated by single dots,
 * with an optional final dot: what clients send when not a Domain. */
static bool
is_loose_name(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			i++;
			continue;
		}
		size_t n = ascii_is_letdig(c) || c == '-' || c == '_' ? 1 : 0;
		if (c >= 0x80)
			n = smtp_utf8_seq(s + i, len - i);
		if (n == 0)
			return false;
		label += n;
		i += n;
	}
	return label > 0;
}

static void
classify_helo(struct smtp_helo *h)
{
	const char *s = h->name.p;
	size_t len = h->name.len;

	h->problem = NULL;
	h->literal = SMTP_LITERAL_NONE;
	if (len > SMTP_DOMAIN_MAX) {
		h->kind = SMTP_HELO_INVALID;
		h->problem = "Host name too long";
	} else if (s[0] == '[') {
		if (smtp_literal_parse(s, len, &h->literal, h->addr)) {
			h->kind = SMTP_HELO_LITERAL;
		} else {
			h->kind = SMTP_HELO_INVALID;
			h->problem = "Bad address literal";
			h->literal = SMTP_LITERAL_NONE;
		}
	} else if (smtp_ipv4_parse(s, len, h->addr)) {
		/* all-digit labels would pass as a Domain: an address it is */
		h->kind = SMTP_HELO_LOOSE;
		h->literal = SMTP_LITERAL_IPV4;
		h->problem = "Address not in brackets";
	} else if (smtp_domain_span(s, len, false, NULL) == len) {
		h->kind = SMTP_HELO_DOMAIN;
	} else if (smtp_ipv6_parse(s, len, h->addr)) {
		h->kind = SMTP_HELO_LOOSE;
		h->literal = SMTP_LITERAL_IPV6;
		h->problem = "Address not in brackets";
	} else if (is_loose_name(s, len)) {
		h->kind = SMTP_HELO_LOOSE;
		h->problem = "Host name is not RFC 5321 syntax";
	} else {
		h->kind = SMTP_HELO_INVALID;
		h->problem = "Invalid host name";
	}
}

static int
parse_helo(struct smtp_cmd *cmd, const char *s, size_t len)
{
	skip_spaces(&s, &len);
	if (len == 0) {
		return fail(cmd, SMTP_CMD_E_SYNTAX, cmd->verb == SMTP_VERB_HELO
							     ? "Syntax: HELO hostname"
							     : "Syntax: EHLO hostname");
	}
	cmd->helo.name.p = s;
	cmd->helo.name.len = len;
	cmd->arg = cmd->helo.name;
	classify_helo(&cmd->helo);
	return 0;
}

/* ---- MAIL / RCPT ---- */

static int
parse_mail_rcpt(struct smtp_cmd *cmd, const char *s, size_t len,
		const struct smtp_cmd_options *opts)
{
	bool rcpt = cmd->verb == SMTP_VERB_RCPT;
	const char *kw = rcpt ? "TO:" : "FROM:";
	size_t kwlen = strlen(kw), used;
	enum smtp_cmd_error bad = rcpt ? SMTP_CMD_E_RCPT_SYNTAX : SMTP_CMD_E_SENDER_SYNTAX;
	const char *text;

	if (len < kwlen || !ascii_ci_equal(s, kwlen, kw)) {
		return fail(cmd, SMTP_CMD_E_SYNTAX,
			    rcpt ? "Syntax: RCPT TO:<address>" : "Syntax: MAIL FROM:<address>");
	}
	size_t i = kwlen;
	bool space = false;
	if (i < len && s[i] == ' ') {
		space = true;
		i++;
	}
	/* UTF-8 is decided once the parameters (SMTPUTF8) are known. */
	unsigned pf = SMTP_PATH_PARSE_UTF8 | (rcpt ? SMTP_PATH_PARSE_RCPT : 0);
	switch (smtp_path_parse(s + i, len - i, pf, &cmd->path, &used, &text)) {
	case SMTP_PATH_OK:
		break;
	case SMTP_PATH_E_LOCAL_TOO_LONG:
		return fail(cmd, SMTP_CMD_E_LOCAL_TOO_LONG, text);
	case SMTP_PATH_E_DOMAIN_TOO_LONG:
		return fail(cmd, SMTP_CMD_E_DOMAIN_TOO_LONG, text);
	case SMTP_PATH_E_PATH_TOO_LONG:
		return fail(cmd, SMTP_CMD_E_PATH_TOO_LONG, text);
	case SMTP_PATH_E_UTF8:
		return fail(cmd, SMTP_CMD_E_UTF8_REQUIRED, text);
	case SMTP_PATH_E_SYNTAX:
	default:
		return fail(cmd, bad, text);
	}
	if (space)
		cmd->path.flags |= SMTP_PATH_SPACE;
	i += used;
	if (i < len) {
		enum smtp_cmd_error error;
		if (s[i] != ' ')
			return fail(cmd, bad, "Bad address syntax");
		i++;
		if (smtp_params_parse(s + i, len - i, rcpt, opts, &cmd->params, &error, &text) < 0)
			return fail(cmd, error, text);
	}
	bool utf8_ok = rcpt ? opts->smtputf8 : cmd->params.smtputf8;
	if ((cmd->path.flags & SMTP_PATH_UTF8) != 0 && !utf8_ok)
		return fail(cmd, SMTP_CMD_E_UTF8_REQUIRED, "Non-ASCII address needs SMTPUTF8");
	if (!rcpt && (cmd->params.present & SMTP_PARAM_SIZE) != 0 && opts->size_limit != 0 &&
	    cmd->params.size > opts->size_limit) {
		return fail(cmd, SMTP_CMD_E_SIZE_EXCEEDED,
			    "Message size exceeds fixed maximum message size");
	}
	return 0;
}

/* ---- BDAT, AUTH, ETRN ---- */

static int
parse_bdat(struct smtp_cmd *cmd, const char *s, size_t len)
{
	static const char usage[] = "Syntax: BDAT chunk-size [LAST]";
	uint64_t size = 0;
	size_t i = 0;

	while (i < len && ascii_is_digit((unsigned char)s[i])) {
		unsigned d = (unsigned)(s[i] - '0');
		if (size > (UINT64_MAX - d) / 10)
			return fail(cmd, SMTP_CMD_E_SYNTAX, "BDAT chunk size too large");
		size = size * 10 + d;
		i++;
	}
	if (i == 0)
		return fail(cmd, SMTP_CMD_E_SYNTAX, usage);
	if (i < len) {
		if (s[i] != ' ' || !ascii_ci_equal(s + i + 1, len - i - 1, "LAST"))
			return fail(cmd, SMTP_CMD_E_SYNTAX, usage);
		cmd->bdat_last = true;
	}
	cmd->bdat_size = size;
	return 0;
}

static bool
is_base64(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (ascii_is_letdig(c) || c == '+' || c == '/')
			continue;
		/* '=' only as the last one or two characters */
		if (c == '=' && (i == len - 1 || (i == len - 2 && s[len - 1] == '=')))
			continue;
		return false;
	}
	return true;
}

static int
parse_auth(struct smtp_cmd *cmd, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] != ' ') {
		unsigned char c = (unsigned char)s[i];
		if (!ascii_is_letdig(c) && c != '-' && c != '_')
			return fail(cmd, SMTP_CMD_E_SYNTAX, "Bad SASL mechanism name");
		if (i >= SMTP_SASL_MECH_MAX)
			return fail(cmd, SMTP_CMD_E_SYNTAX, "SASL mechanism name too long");
		cmd->auth_mech[i] = (char)(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
		i++;
	}
	cmd->auth_mech[i] = '\0';
	if (i == 0)
		return fail(cmd, SMTP_CMD_E_SYNTAX, "Syntax: AUTH mechanism [initial-response]");
	if (i == len)
		return 0;
	i++;
	cmd->ir_present = true;
	cmd->ir.p = s + i;
	cmd->ir.len = len - i;
	if (cmd->ir.len == 1 && s[i] == '=') {
		cmd->ir.len = 0;
		return 0;
	}
	if (!is_base64(cmd->ir.p, cmd->ir.len))
		return fail(cmd, SMTP_CMD_E_BASE64, "Cannot decode initial response");
	return 0;
}

static int
parse_etrn(struct smtp_cmd *cmd, const char *s, size_t len)
{
	static const char usage[] = "Syntax: ETRN domain";

	cmd->etrn_kind = SMTP_ETRN_DOMAIN;
	if (len > 0 && s[0] == '@') {
		cmd->etrn_kind = SMTP_ETRN_SUBDOMAINS;
		s++, len--;
	} else if (len > 0 && s[0] == '#') {
		cmd->etrn_kind = SMTP_ETRN_QUEUE;
		s++, len--;
	}
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return fail(cmd, SMTP_CMD_E_SYNTAX, usage);
	if (cmd->etrn_kind == SMTP_ETRN_QUEUE) {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!ascii_is_letdig(c) && c != '-' && c != '_' && c != '.')
				return fail(cmd, SMTP_CMD_E_SYNTAX, "Bad queue name");
		}
	} else if (smtp_domain_span(s, len, false, NULL) != len) {
		return fail(cmd, SMTP_CMD_E_SYNTAX, usage);
	}
	cmd->etrn_name.p = s;
	cmd->etrn_name.len = len;
	return 0;
}

/* ---- the line ---- */

static enum smtp_verb
lookup_verb(const char *s, size_t len)
{
	for (size_t i = 0; i < N_ELEMENTS(verbs); i++) {
		if (ascii_ci_equal(s, len, verbs[i].name))
			return verbs[i].verb;
	}
	return SMTP_VERB_UNKNOWN;
}

int
smtp_cmd_parse(const char *line, size_t len, const struct smtp_cmd_options *opts,
	       struct smtp_cmd *cmd)
{
	static const struct smtp_cmd_options no_opts;

	memset(cmd, 0, sizeof(*cmd));
	cmd->arg.p = line;
	if (opts == NULL)
		opts = &no_opts;
	while (len > 0 && line[len - 1] == ' ')
		len--;

	const char *sp = len > 0 ? memchr(line, ' ', len) : NULL;
	size_t vlen = sp != NULL ? (size_t)(sp - line) : len;
	cmd->verb = lookup_verb(line, vlen);

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return fail(cmd, SMTP_CMD_E_BAD_CHAR, "Control character in command");
		size_t n = smtp_utf8_seq(line + i, len - i);
		if (n == 0)
			return fail(cmd, SMTP_CMD_E_BAD_CHAR, "Bad UTF-8 in command");
		i += n;
	}
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return fail(cmd, SMTP_CMD_E_UNKNOWN, "Command unrecognized");

	/* The argument: everything after the verb's SP. */
	const char *arg = sp != NULL ? sp + 1 : line + len;
	size_t alen = sp != NULL ? len - vlen - 1 : 0;
	bool has_arg = sp != NULL;

	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		return parse_helo(cmd, arg, alen);
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(cmd, arg, alen, opts);
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (has_arg) {
			switch (cmd->verb) {
			case SMTP_VERB_DATA:
				return fail(cmd, SMTP_CMD_E_SYNTAX, "Syntax: DATA");
			case SMTP_VERB_RSET:
				return fail(cmd, SMTP_CMD_E_SYNTAX, "Syntax: RSET");
			case SMTP_VERB_QUIT:
				return fail(cmd, SMTP_CMD_E_SYNTAX, "Syntax: QUIT");
			default:
				return fail(cmd, SMTP_CMD_E_SYNTAX, "Syntax: STARTTLS");
			}
		}
		return 0;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
		skip_spaces(&arg, &alen);
		cmd->arg.p = arg;
		cmd->arg.len = alen;
		return 0;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		skip_spaces(&arg, &alen);
		cmd->arg.p = arg;
		cmd->arg.len = alen;
		if (alen == 0) {
			return fail(cmd, SMTP_CMD_E_SYNTAX, cmd->verb == SMTP_VERB_VRFY
								     ? "Syntax: VRFY address"
								     : "Syntax: EXPN address");
		}
		return 0;
	case SMTP_VERB_BDAT:
		skip_spaces(&arg, &alen);
		return parse_bdat(cmd, arg, alen);
	case SMTP_VERB_AUTH:
		skip_spaces(&arg, &alen);
		return parse_auth(cmd, arg, alen);
	case SMTP_VERB_ETRN:
		skip_spaces(&arg, &alen);
		return parse_etrn(cmd, arg, alen);
	case SMTP_VERB_SEND:
	case SMTP_VERB_SOML:
	case SMTP_VERB_SAML:
	case SMTP_VERB_TURN:
		return fail(cmd, SMTP_CMD_E_NOT_IMPLEMENTED, "Command not implemented");
	case SMTP_VERB_UNKNOWN:
		break;
	}
	return fail(cmd, SMTP_CMD_E_UNKNOWN, "Command unrecognized");
}

unsigned
smtp_cmd_status(const struct smtp_cmd *cmd, const char **enhanced_r)
{
	bool rcpt = cmd->verb == SMTP_VERB_RCPT;

	switch (cmd->error) {
	case SMTP_CMD_OK:
		*enhanced_r = "2.0.0";
		return 250;
	case SMTP_CMD_E_UNKNOWN:
	case SMTP_CMD_E_BAD_CHAR:
		*enhanced_r = "5.5.2";
		return 500;
	case SMTP_CMD_E_NOT_IMPLEMENTED:
		*enhanced_r = "5.5.1";
		return 502;
	case SMTP_CMD_E_BASE64:
		*enhanced_r = "5.5.2";
		return 501;
	case SMTP_CMD_E_SENDER_SYNTAX:
		*enhanced_r = "5.1.7";
		return 501;
	case SMTP_CMD_E_RCPT_SYNTAX:
		*enhanced_r = "5.1.3";
		return 501;
	case SMTP_CMD_E_PATH_TOO_LONG:
		*enhanced_r = rcpt ? "5.1.3" : "5.1.7";
		return 501;
	case SMTP_CMD_E_LOCAL_TOO_LONG:
	case SMTP_CMD_E_DOMAIN_TOO_LONG:
		*enhanced_r = rcpt ? "5.1.3" : "5.1.7";
		return 553;
	case SMTP_CMD_E_UTF8_REQUIRED:
		*enhanced_r = "5.6.7";
		return 553;
	case SMTP_CMD_E_PARAM_UNKNOWN:
		*enhanced_r = "5.5.4";
		return 555;
	case SMTP_CMD_E_SIZE_EXCEEDED:
		*enhanced_r = "5.3.4";
		return 552;
	case SMTP_CMD_E_SYNTAX:
	case SMTP_CMD_E_PARAM_SYNTAX:
		break;
	}
	*enhanced_r = "5.5.4";
	return 501;
}
