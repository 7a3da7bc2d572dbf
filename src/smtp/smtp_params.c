/* smtp_params.c - ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY
 * (RFC 6152, 3030), SMTPUTF8 (RFC 6531), RET ENVID NOTIFY ORCPT (RFC 3461,
 * ORCPT utf-8 addresses of RFC 6533), AUTH (RFC 4954 5). */
#include "lib/common.h"

#include "lib/xtext.h"
#include "smtp/smtp_cmd.h"

struct pctx {
	struct smtp_params *params;
	const struct smtp_cmd_options *opts;
	enum smtp_cmd_error error;
	const char *text;
};

struct param_def {
	const char *name;
	unsigned bit;   /* SMTP_PARAM_* */
	unsigned ext;   /* any of these SMTP_EXT_* makes it known */
	bool rcpt;      /* a RCPT parameter (else MAIL) */
	bool has_value; /* takes "=value" (required), else takes none */
	int (*parse)(struct pctx *ctx, const char *v, size_t len);
};

static int
bad(struct pctx *ctx, enum smtp_cmd_error error, const char *text)
{
	ctx->error = error;
	ctx->text = text;
	return -1;
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ascii_is_digit(c);
}

static int
hex_value(unsigned char c)
{
	if (ascii_is_digit(c))
		return c - '0';
	c = (unsigned char)ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


/* Printable US-ASCII, space included ("graphic and white space", RFC 3461). */
static bool
is_printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

/* Printable ASCII or well-formed UTF-8 (no control characters). */
static bool
is_printable_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		size_t n = smtp_utf8_seq(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static int
parse_size(struct pctx *ctx, const char *v, size_t len)
{
	uint64_t size = 0;

	/* size-value ::= 1*20DIGIT; a value beyond 2^64-1 saturates (it is
	 * over any limit anyway). */
	if (len > 20)
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad SIZE parameter syntax");
	for (size_t i = 0; i < len; i++) {
		if (!ascii_is_digit((unsigned char)v[i]))
			return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad SIZE parameter syntax");
		unsigned d = (unsigned)(v[i] - '0');
		size = size > (UINT64_MAX - d) / 10 ? UINT64_MAX : size * 10 + d;
	}
	ctx->params->size = size;
	return 0;
}

static int
parse_body(struct pctx *ctx, const char *v, size_t len)
{
	unsigned ext = ctx->opts->extensions;

	if (ascii_ci_equal(v, len, "7BIT"))
		ctx->params->body = SMTP_BODY_7BIT;
	else if (ascii_ci_equal(v, len, "8BITMIME") && (ext & SMTP_EXT_8BITMIME) != 0)
		ctx->params->body = SMTP_BODY_8BITMIME;
	else if (ascii_ci_equal(v, len, "BINARYMIME") && (ext & SMTP_EXT_BINARYMIME) != 0)
		ctx->params->body = SMTP_BODY_BINARYMIME;
	else
		return bad(ctx, SMTP_CMD_E_PARAM_UNKNOWN, "Unsupported BODY type");
	return 0;
}

static int
parse_smtputf8(struct pctx *ctx, const char *v, size_t len)
{
	ctx->params->smtputf8 = true;
	return 0;
}

static int
parse_ret(struct pctx *ctx, const char *v, size_t len)
{
	if (ascii_ci_equal(v, len, "FULL"))
		ctx->params->ret = SMTP_RET_FULL;
	else if (ascii_ci_equal(v, len, "HDRS"))
		ctx->params->ret = SMTP_RET_HDRS;
	else
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad RET parameter syntax");
	return 0;
}

static int
parse_envid(struct pctx *ctx, const char *v, size_t len)
{
	if (len > SMTP_ENVID_PARAM_MAX - strlen("ENVID="))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "ENVID parameter too long");
	ssize_t n = xtext_decode(v, len, ctx->params->envid, SMTP_ENVID_MAX, 0);
	if (n < 0 || !is_printable_ascii(ctx->params->envid, (size_t)n))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad ENVID parameter syntax");
	return 0;
}

static int
parse_auth(struct pctx *ctx, const char *v, size_t len)
{
	if (len == 2 && v[0] == '<' && v[1] == '>') {
		ctx->params->auth_null = true;
		return 0;
	}
	ssize_t n = xtext_decode(v, len, ctx->params->auth, SMTP_AUTH_PARAM_MAX, 0);
	if (n <= 0 || !is_printable_utf8(ctx->params->auth, (size_t)n))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad AUTH parameter syntax");
	return 0;
}

static int
parse_notify(struct pctx *ctx, const char *v, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{"NEVER", SMTP_NOTIFY_NEVER},
		{"SUCCESS", SMTP_NOTIFY_SUCCESS},
		{"FAILURE", SMTP_NOTIFY_FAILURE},
		{"DELAY", SMTP_NOTIFY_DELAY},
	};
	unsigned notify = 0;
	size_t i = 0;

	for (;;) {
		const char *comma = memchr(v + i, ',', len - i);
		size_t wlen = comma != NULL ? (size_t)(comma - (v + i)) : len - i;
		unsigned bit = 0;
		for (size_t k = 0; k < N_ELEMENTS(words); k++) {
			if (ascii_ci_equal(v + i, wlen, words[k].name))
				bit = words[k].bit;
		}
		if (bit == 0 || (notify & bit) != 0)
			return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad NOTIFY parameter syntax");
		notify |= bit;
		if (comma == NULL)
			break;
		i += wlen + 1;
	}
	/* NEVER must stand alone (RFC 3461 4.1). */
	if ((notify & SMTP_NOTIFY_NEVER) != 0 && notify != SMTP_NOTIFY_NEVER)
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "NOTIFY=NEVER must stand alone");
	ctx->params->notify = notify;
	return 0;
}

/* RFC 6533 3: utf-8-addr-xtext / utf-8-addr-unitext:
 *   1*(QCHAR / EmbeddedUnicodeChar), QCHAR = %x21-2a / %x2c-3c / %x3e-5b /
 *   %x5d-7e (no '+', '=', '\\'), EmbeddedUnicodeChar = "\x{" HEXPOINT "}",
 *   and, with SMTPUTF8 (unitext), UTF-8 as such.
 * HEXPOINT is taken as 2 to 6 hex digits naming a scalar value that is not
 * a control character. Decodes into out[max + 1] as UTF-8. */
static ssize_t
utf8_addr_decode(const char *s, size_t len, bool unitext, char *out, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n;
		char enc[4];

		if (c == '\\') {
			size_t j = i + 3, digits = 0;
			if (i + 3 > len || s[i + 1] != 'x' || s[i + 2] != '{')
				return -1;
			cp = 0;
			while (j < len && hex_value((unsigned char)s[j]) >= 0 && digits < 6) {
				cp = cp << 4 | (uint32_t)hex_value((unsigned char)s[j]);
				j++, digits++;
			}
			if (digits < 2 || j >= len || s[j] != '}')
				return -1;
			if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				return -1;
			i = j + 1;
			if (cp < 0x80) {
				enc[0] = (char)cp, n = 1;
			} else if (cp < 0x800) {
				enc[0] = (char)(0xc0 | cp >> 6);
				enc[1] = (char)(0x80 | (cp & 0x3f));
				n = 2;
			} else if (cp < 0x10000) {
				enc[0] = (char)(0xe0 | cp >> 12);
				enc[1] = (char)(0x80 | (cp >> 6 & 0x3f));
				enc[2] = (char)(0x80 | (cp & 0x3f));
				n = 3;
			} else {
				enc[0] = (char)(0xf0 | cp >> 18);
				enc[1] = (char)(0x80 | (cp >> 12 & 0x3f));
				enc[2] = (char)(0x80 | (cp >> 6 & 0x3f));
				enc[3] = (char)(0x80 | (cp & 0x3f));
				n = 4;
			}
		} else if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
			enc[0] = (char)c, n = 1;
			i++;
		} else if (c >= 0x80 && unitext && (n = smtp_utf8_seq(s + i, len - i)) > 0) {
			if (n > max - o)
				return -1;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		} else {
			return -1;
		}
		if (n > max - o)
			return -1;
		memcpy(out + o, enc, n);
		o += n;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int
parse_orcpt(struct pctx *ctx, const char *v, size_t len)
{
	struct smtp_params *p = ctx->params;
	size_t t = 0;

	if (len > SMTP_ORCPT_PARAM_MAX - strlen("ORCPT="))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "ORCPT parameter too long");
	/* addr-type = atom */
	while (t < len && v[t] != ';') {
		unsigned char c = (unsigned char)v[t];
		if (!is_alnum(c) && (c == 0 || strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL))
			return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad ORCPT parameter syntax");
		t++;
	}
	if (t == 0 || t >= len || t > SMTP_ORCPT_TYPE_MAX)
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad ORCPT parameter syntax");
	memcpy(p->orcpt_type, v, t);
	p->orcpt_type[t] = '\0';
	const char *a = v + t + 1;
	size_t alen = len - t - 1;
	ssize_t n;
	if (ascii_ci_equal(p->orcpt_type, t, "utf-8")) {
		n = utf8_addr_decode(a, alen, ctx->opts->smtputf8, p->orcpt, SMTP_ORCPT_MAX);
	} else {
		/* RFC 3461 4.2: printable US-ASCII before xtext encoding. */
		n = xtext_decode(a, alen, p->orcpt, SMTP_ORCPT_MAX, 0);
		if (n >= 0 && !is_printable_ascii(p->orcpt, (size_t)n))
			n = -1;
	}
	if (n <= 0)
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad ORCPT parameter syntax");
	return 0;
}

static const struct param_def defs[] = {
	{"SIZE", SMTP_PARAM_SIZE, SMTP_EXT_SIZE, false, true, parse_size},
	{"BODY", SMTP_PARAM_BODY, SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, false, true,
	 parse_body},
	{"SMTPUTF8", SMTP_PARAM_SMTPUTF8, SMTP_EXT_SMTPUTF8, false, false, parse_smtputf8},
	{"RET", SMTP_PARAM_RET, SMTP_EXT_DSN, false, true, parse_ret},
	{"ENVID", SMTP_PARAM_ENVID, SMTP_EXT_DSN, false, true, parse_envid},
	{"AUTH", SMTP_PARAM_AUTH, SMTP_EXT_AUTH, false, true, parse_auth},
	{"NOTIFY", SMTP_PARAM_NOTIFY, SMTP_EXT_DSN, true, true, parse_notify},
	{"ORCPT", SMTP_PARAM_ORCPT, SMTP_EXT_DSN, true, true, parse_orcpt},
};

/* esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 (RFC 6531 3.3). */
static bool
is_esmtp_value(const char *v, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)v[i];
		size_t n = c >= 0x80 ? smtp_utf8_seq(v + i, len - i) : (c >= 33 && c <= 126 && c != '=');
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static int
parse_one(struct pctx *ctx, bool rcpt, const char *s, size_t len)
{
	size_t k = 0;

	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	while (k < len && (is_alnum((unsigned char)s[k]) || (k > 0 && s[k] == '-')))
		k++;
	if (k == 0 || (k < len && s[k] != '='))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad parameter syntax");
	bool has_value = k < len;
	const char *v = has_value ? s + k + 1 : s + len;
	size_t vlen = has_value ? len - k - 1 : 0;
	if (has_value && !is_esmtp_value(v, vlen))
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Bad parameter value");

	const struct param_def *def = NULL;
	for (size_t i = 0; i < N_ELEMENTS(defs); i++) {
		if (ascii_ci_equal(s, k, defs[i].name))
			def = &defs[i];
	}
	if (def == NULL || (def->ext & ctx->opts->extensions) == 0)
		return bad(ctx, SMTP_CMD_E_PARAM_UNKNOWN, "Unsupported parameter");
	if (def->rcpt != rcpt) {
		return bad(ctx, SMTP_CMD_E_PARAM_UNKNOWN,
			   rcpt ? "Not a RCPT parameter" : "Not a MAIL parameter");
	}
	if ((ctx->params->present & def->bit) != 0)
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX, "Duplicate parameter");
	if (has_value != def->has_value) {
		return bad(ctx, SMTP_CMD_E_PARAM_SYNTAX,
			   has_value ? "Parameter takes no value" : "Parameter needs a value");
	}
	ctx->params->present |= def->bit;
	return def->parse(ctx, v, vlen);
}

int
smtp_params_parse(const char *s, size_t len, bool rcpt, const struct smtp_cmd_options *opts,
		  struct smtp_params *params_r, enum smtp_cmd_error *error_r, const char **text_r)
{
	static const struct smtp_cmd_options no_opts;
	struct pctx ctx = {
		.params = params_r,
		.opts = opts != NULL ? opts : &no_opts,
	};
	size_t i = 0;

	memset(params_r, 0, sizeof(*params_r));
	*error_r = SMTP_CMD_OK;
	*text_r = NULL;
	for (;;) {
		const char *sp = memchr(s + i, ' ', len - i);
		size_t n = sp != NULL ? (size_t)(sp - (s + i)) : len - i;
		if (parse_one(&ctx, rcpt, s + i, n) < 0) {
			*error_r = ctx.error;
			*text_r = ctx.text;
			return -1;
		}
		if (sp == NULL)
			return 0;
		i += n + 1;
	}
}
