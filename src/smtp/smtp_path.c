/* smtp_path.c - SMTP envelope addresses: paths, domains, address literals,
 * UTF-8 validation (RFC 5321 4.1.2-4.1.3, RFC 6531 3.3). */
#include "lib/common.h"

#include "smtp/smtp_path.h"

static bool
is_hex(unsigned char c)
{
	return ascii_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned
hex_value(unsigned char c)
{
	if (ascii_is_digit(c))
		return c - '0';
	return (unsigned)ascii_tolower(c) - 'a' + 10;
}

/* RFC 5322 atext (ASCII part). */
static bool
is_atext(unsigned char c)
{
	return ascii_is_letdig(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 dcontent: %d33-90 / %d94-126 */
static bool
is_dcontent(unsigned char c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

static bool
ci_prefix(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (ascii_tolower((unsigned char)s[i]) != ascii_tolower((unsigned char)lit[i]))
			return false;
	}
	return true;
}

size_t
smtp_utf8_seq(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp, min;
	size_t n;

	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2, cp = u[0] & 0x1f, min = 0x80;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3, cp = u[0] & 0x0f, min = 0x800;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4, cp = u[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (u[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
smtp_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = smtp_utf8_seq(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t
smtp_domain_span(const char *s, size_t len, bool utf8, bool *utf8_r)
{
	size_t i = 0, end = 0;
	bool seen_utf8 = false;

	for (;;) {
		size_t start = i;
		bool label_utf8 = false, last_hyphen = false;

		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (ascii_is_letdig(c)) {
				i++;
				last_hyphen = false;
			} else if (c == '-' && i > start) {
				i++;
				last_hyphen = true;
			} else if (c >= 0x80 && utf8) {
				size_t n = smtp_utf8_seq(s + i, len - i);
				if (n == 0)
					break;
				i += n;
				label_utf8 = true;
				last_hyphen = false;
			} else {
				break;
			}
		}
		/* sub-domain = Let-dig [Ldh-str]: no final hyphen; RFC 1035
		 * caps a label at 63 octets (a U-label's A-label may fit when
		 * its UTF-8 form does not, so only ASCII labels are capped). */
		if (i == start || last_hyphen || (!label_utf8 && i - start > 63))
			return 0;
		seen_utf8 = seen_utf8 || label_utf8;
		end = i;
		if (i + 1 < len && s[i] == '.' &&
		    (ascii_is_letdig((unsigned char)s[i + 1]) ||
		     (utf8 && (unsigned char)s[i + 1] >= 0x80))) {
			i++;
			continue;
		}
		break;
	}
	if (seen_utf8 && utf8_r != NULL)
		*utf8_r = true;
	return end;
}

bool
smtp_ipv4_parse(const char *s, size_t len, uint8_t addr_r[4])
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		unsigned v = 0, digits = 0;
		while (i < len && ascii_is_digit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
		addr_r[k] = (uint8_t)v;
	}
	return i == len;
}

/* RFC 5321 4.1.3:
 *   IPv6-full   = IPv6-hex 7(":" IPv6-hex)
 *   IPv6-comp   = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]
 *                 ; at most 6 groups besides the "::"
 *   IPv6v4-full = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
 *   IPv6v4-comp = [IPv6-hex *3(":" IPv6-hex)] "::"
 *                 [IPv6-hex *3(":" IPv6-hex) ":"] IPv4-address-literal
 *                 ; at most 4 groups besides the "::" and the IPv4 part */
bool
smtp_ipv6_parse(const char *s, size_t len, uint8_t addr_r[16])
{
	uint16_t head[8], tail[8];
	size_t nhead = 0, ntail = 0, i = 0;
	bool compressed = false, has_v4 = false;
	uint8_t v4[4];

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		compressed = true;
		i = 2;
	} else if (len == 0 || s[0] == ':') {
		return false;
	}
	while (i < len) {
		size_t j = i;
		bool dot = false;
		while (j < len && s[j] != ':') {
			if (s[j] == '.')
				dot = true;
			j++;
		}
		if (dot) {
			/* The IPv4 part can only come last. */
			if (j != len || !smtp_ipv4_parse(s + i, j - i, v4))
				return false;
			has_v4 = true;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		unsigned v = 0;
		for (size_t k = i; k < j; k++) {
			if (!is_hex((unsigned char)s[k]))
				return false;
			v = (v << 4) | hex_value((unsigned char)s[k]);
		}
		if (nhead + ntail >= 8)
			return false;
		if (compressed)
			tail[ntail++] = (uint16_t)v;
		else
			head[nhead++] = (uint16_t)v;
		if (j == len)
			break;
		/* s[j] == ':' */
		if (j + 1 < len && s[j + 1] == ':') {
			if (compressed)
				return false;
			compressed = true;
			i = j + 2;
			if (i < len && s[i] == ':')
				return false;
			continue;
		}
		i = j + 1;
		if (i == len)
			return false; /* a single trailing ':' */
	}
	size_t groups = nhead + ntail;
	if (!compressed) {
		if (!(has_v4 ? groups == 6 : groups == 8))
			return false;
	} else if (groups > (has_v4 ? 4u : 6u)) {
		return false;
	}
	memset(addr_r, 0, 16);
	for (size_t k = 0; k < nhead; k++) {
		addr_r[2 * k] = (uint8_t)(head[k] >> 8);
		addr_r[2 * k + 1] = (uint8_t)head[k];
	}
	size_t end = has_v4 ? 12 : 16;
	for (size_t k = 0; k < ntail; k++) {
		size_t at = end - 2 * (ntail - k);
		addr_r[at] = (uint8_t)(tail[k] >> 8);
		addr_r[at + 1] = (uint8_t)tail[k];
	}
	if (has_v4)
		memcpy(addr_r + 12, v4, 4);
	return true;
}

bool
smtp_literal_parse(const char *s, size_t len, enum smtp_literal *kind_r, uint8_t addr_r[16])
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	const char *in = s + 1;
	size_t n = len - 2;
	for (size_t i = 0; i < n; i++) {
		if (!is_dcontent((unsigned char)in[i]))
			return false;
	}
	if (ci_prefix(in, n, "IPv6:")) {
		if (!smtp_ipv6_parse(in + 5, n - 5, addr_r))
			return false;
		*kind_r = SMTP_LITERAL_IPV6;
		return true;
	}
	if (smtp_ipv4_parse(in, n, addr_r)) {
		*kind_r = SMTP_LITERAL_IPV4;
		return true;
	}
	/* General-address-literal = Standardized-tag ":" 1*dcontent, the tag
	 * an Ldh-str (letters, digits, hyphens, ending in a letter or digit). */
	const char *colon = memchr(in, ':', n);
	if (colon == NULL || colon == in || colon == in + n - 1 ||
	    !ascii_is_letdig((unsigned char)colon[-1]))
		return false;
	for (const char *p = in; p < colon; p++) {
		if (!ascii_is_letdig((unsigned char)*p) && *p != '-')
			return false;
	}
	*kind_r = SMTP_LITERAL_GENERAL;
	return true;
}

/* Local part as a Dot-string: atoms of atext (or UTF-8) separated by
 * single dots. */
static bool
is_dot_string(const char *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			size_t n = c >= 0x80 ? smtp_utf8_seq(s + i, len - i) : is_atext(c);
			if (n == 0)
				break;
			i += n;
		}
		if (i == start)
			return false;
		if (i == len)
			return true;
		if (s[i] != '.')
			return false;
		i++;
	}
}

static enum smtp_path_error
syntax(const char **text_r, const char *text)
{
	*text_r = text;
	return SMTP_PATH_E_SYNTAX;
}

/* Scan a local part starting at s[i]; returns the offset after it, or 0. */
static size_t
scan_local(const char *s, size_t len, size_t i, bool *quoted_r, bool *utf8_r,
	   const char **text_r)
{
	if (i < len && s[i] == '"') {
		*quoted_r = true;
		for (i++;;) {
			if (i >= len) {
				*text_r = "Unterminated quoted local part";
				return 0;
			}
			unsigned char c = (unsigned char)s[i];
			if (c == '"')
				return i + 1;
			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= len || (unsigned char)s[i + 1] < 32 ||
				    (unsigned char)s[i + 1] > 126) {
					*text_r = "Bad quoted pair in local part";
					return 0;
				}
				i += 2;
			} else if (c >= 32 && c <= 126) {
				i++;
			} else if (c >= 0x80 && smtp_utf8_seq(s + i, len - i) > 0) {
				*utf8_r = true;
				i += smtp_utf8_seq(s + i, len - i);
			} else {
				*text_r = "Bad character in quoted local part";
				return 0;
			}
		}
	}
	for (;;) {
		size_t start = i;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (is_atext(c)) {
				i++;
			} else if (c >= 0x80 && smtp_utf8_seq(s + i, len - i) > 0) {
				*utf8_r = true;
				i += smtp_utf8_seq(s + i, len - i);
			} else {
				break;
			}
		}
		if (i == start) {
			*text_r = "Bad local part";
			return 0;
		}
		if (i < len && s[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

/* Copy the local part s[0..len) (as written) into out, unquoting. */
static void
copy_local(const char *s, size_t len, bool quoted, char *out)
{
	size_t o = 0;

	if (!quoted) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	for (size_t i = 1; i + 1 < len; i++) {
		if (s[i] == '\\')
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
}

enum smtp_path_error
smtp_path_parse(const char *s, size_t len, unsigned parse_flags, struct smtp_path *path_r,
		size_t *used_r, const char **text_r)
{
	bool rcpt = (parse_flags & SMTP_PATH_PARSE_RCPT) != 0;
	bool utf8 = false, quoted = false;
	size_t i = 1;

	memset(path_r, 0, sizeof(*path_r));
	*used_r = 0;
	*text_r = "Bad address syntax";
	if (len == 0 || s[0] != '<')
		return syntax(text_r, "Address must be in angle brackets");
	if (len >= 2 && s[1] == '>') {
		if (rcpt)
			return syntax(text_r, "Null recipient address");
		path_r->null = true;
		*used_r = 2;
		return SMTP_PATH_OK;
	}
	if (rcpt && ci_prefix(s, len, "<Postmaster>")) {
		path_r->postmaster = true;
		memcpy(path_r->local, "Postmaster", sizeof("Postmaster"));
		*used_r = 12;
		return SMTP_PATH_OK;
	}

	/* A-d-l ":" : a source route, checked then dropped (RFC 5321 C). */
	if (i < len && s[i] == '@') {
		for (;;) {
			i++;
			size_t n = smtp_domain_span(s + i, len - i, true, &utf8);
			if (n == 0)
				return syntax(text_r, "Bad source route");
			i += n;
			if (i + 1 < len && s[i] == ',' && s[i + 1] == '@') {
				i++;
				continue;
			}
			if (i < len && s[i] == ':') {
				i++;
				break;
			}
			return syntax(text_r, "Bad source route");
		}
		path_r->flags |= SMTP_PATH_ROUTE;
	}

	size_t lstart = i;
	i = scan_local(s, len, i, &quoted, &utf8, text_r);
	if (i == 0)
		return SMTP_PATH_E_SYNTAX;
	size_t lend = i;
	if (i >= len || s[i] != '@') {
		if (i < len && s[i] == '>')
			return syntax(text_r, "Address needs a domain");
		return syntax(text_r, "Bad local part");
	}
	i++;

	size_t dstart = i;
	if (i < len && s[i] == '[') {
		const char *close = memchr(s + i, ']', len - i);
		size_t n = close != NULL ? (size_t)(close - (s + i)) + 1 : 0;
		if (n == 0 || !smtp_literal_parse(s + i, n, &path_r->literal, path_r->addr))
			return syntax(text_r, "Bad address literal");
		i += n;
	} else {
		size_t n = smtp_domain_span(s + i, len - i, true, &utf8);
		if (n == 0)
			return syntax(text_r, "Bad domain");
		i += n;
	}
	size_t dend = i;
	if (i >= len || s[i] != '>')
		return syntax(text_r, i < len && s[i] == '.' ? "Bad domain" : "Bad address syntax");
	i++;

	if (lend - lstart > SMTP_LOCAL_MAX) {
		*text_r = "Local part too long";
		return SMTP_PATH_E_LOCAL_TOO_LONG;
	}
	if (dend - dstart > SMTP_DOMAIN_MAX) {
		*text_r = "Domain too long";
		return SMTP_PATH_E_DOMAIN_TOO_LONG;
	}
	if (i > SMTP_PATH_MAX) {
		*text_r = "Path too long";
		return SMTP_PATH_E_PATH_TOO_LONG;
	}
	if (utf8 && (parse_flags & SMTP_PATH_PARSE_UTF8) == 0) {
		*text_r = "Non-ASCII address needs SMTPUTF8";
		return SMTP_PATH_E_UTF8;
	}

	if (quoted)
		path_r->flags |= SMTP_PATH_QUOTED;
	if (utf8)
		path_r->flags |= SMTP_PATH_UTF8;
	copy_local(s + lstart, lend - lstart, quoted, path_r->local);
	memcpy(path_r->domain, s + dstart, dend - dstart);
	path_r->domain[dend - dstart] = '\0';
	path_r->flags |= smtp_path_relay_hack(path_r);
	*used_r = i;
	*text_r = NULL;
	return SMTP_PATH_OK;
}

unsigned
smtp_path_relay_hack(const struct smtp_path *path)
{
	unsigned flags = 0;

	if (path->null || path->postmaster)
		return 0;
	if (strchr(path->local, '%') != NULL)
		flags |= SMTP_PATH_PERCENT;
	if (strchr(path->local, '!') != NULL)
		flags |= SMTP_PATH_BANG;
	if (strchr(path->local, '@') != NULL)
		flags |= SMTP_PATH_AT;
	return flags;
}

int
smtp_path_format(const struct smtp_path *path, struct buf *out)
{
	size_t mark = out->len;
	size_t llen = strlen(path->local);
	int ret = 0;

	if (path->null)
		return 0;
	if (path->postmaster)
		return buf_add_str(out, "Postmaster");
	if (is_dot_string(path->local, llen)) {
		ret = buf_add(out, path->local, llen);
	} else {
		ret = buf_add_char(out, '"');
		for (size_t i = 0; i < llen && ret == 0; i++) {
			if (path->local[i] == '"' || path->local[i] == '\\')
				ret = buf_add_char(out, '\\');
			if (ret == 0)
				ret = buf_add_char(out, path->local[i]);
		}
		if (ret == 0)
			ret = buf_add_char(out, '"');
	}
	if (ret == 0)
		ret = buf_add_char(out, '@');
	if (ret == 0)
		ret = buf_add_str(out, path->domain);
	if (ret < 0) {
		buf_set_len(out, mark);
		return -1;
	}
	return 0;
}
