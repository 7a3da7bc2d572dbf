/* addr.c - domain and address validation and canonical forms (see addr.h). */
#include "lib/common.h"

#include <idn2.h>

#include "lib/addr.h"

/* Length of the valid UTF-8 sequence starting at p (avail bytes left), 2-4,
 * or 0 when it is malformed: overlong, a surrogate, beyond U+10FFFF,
 * truncated, or a C1 control character (U+0080-U+009F). */
static size_t
utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	if (c == 0xc2)
		lo = 0xa0; /* U+0080-U+009F: C1 controls */
	else if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* qtextSMTP (RFC 5321): printable ASCII except '"' and '\'. */
static bool
is_qtext(unsigned char c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

/* True when s[0..len) is a dot-atom: atext (or UTF-8) runs separated by
 * single dots, not starting or ending with a dot. s is known to hold only
 * printable ASCII and valid UTF-8. */
static bool
is_dot_atom(const char *s, size_t len)
{
	bool prev_dot = true; /* no leading dot */

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (c >= 0x80 || is_atext(c)) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return !prev_dot;
}

/* Check an ASCII domain that is already lower case: LDH labels, lengths,
 * no reserved "??--" labels other than A-labels, no numeric top label. */
static int
check_ldh(const char *s, size_t len, const char **error_r)
{
	size_t start = 0;

	if (len == 0)
		return (*error_r = "empty domain"), -1;
	if (len > ADDR_DOMAIN_MAX)
		return (*error_r = "domain longer than 253 octets"), -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			char c = s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return (*error_r = "domain contains a character other than "
						   "letters, digits, hyphens and dots"), -1;
			continue;
		}
		size_t n = i - start;
		const char *label = s + start;
		if (n == 0)
			return (*error_r = i == len ? "domain ends with a dot"
						    : "domain has an empty label"), -1;
		if (n > ADDR_LABEL_MAX)
			return (*error_r = "domain label longer than 63 octets"), -1;
		if (label[0] == '-' || label[n - 1] == '-')
			return (*error_r = "domain label begins or ends with a hyphen"), -1;
		if (n >= 4 && label[2] == '-' && label[3] == '-' &&
		    !(label[0] == 'x' && label[1] == 'n'))
			return (*error_r = "domain label has hyphens in the third and fourth "
					   "positions (reserved by IDNA2008)"), -1;
		if (i == len) {
			bool numeric = true;
			for (size_t k = 0; k < n && numeric; k++)
				numeric = label[k] >= '0' && label[k] <= '9';
			if (numeric)
				return (*error_r = "top-level label is numeric (IP addresses are "
						   "not accepted as domains)"), -1;
		}
		start = i + 1;
	}
	return 0;
}

int
addr_domain_canon(const char *in, struct buf *out, const char **error_r)
{
	size_t len = strnlen(in, ADDR_INPUT_MAX + 1);
	char lower[ADDR_INPUT_MAX + 1];
	bool ascii = true, alabel = false;

	if (len == 0)
		return (*error_r = "empty domain"), -1;
	if (len > ADDR_INPUT_MAX)
		return (*error_r = "domain longer than 253 octets"), -1;
	if (in[0] == '[')
		return (*error_r = "IP address literals are not accepted as domains"), -1;
	if (in[len - 1] == '.')
		return (*error_r = "domain ends with a dot"), -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f)
			return (*error_r = "domain contains a control character"), -1;
		if (c >= 0x80)
			ascii = false;
		lower[i] = (char)ascii_tolower(c);
		if ((i == 0 || in[i - 1] == '.') && i + 4 <= len &&
		    strncasecmp(in + i, "xn--", 4) == 0)
			alabel = true;
	}
	lower[len] = '\0';
	if (ascii && !alabel) {
		if (check_ldh(lower, len, error_r) < 0)
			return -1;
		if (buf_add(out, lower, len) < 0)
			return (*error_r = "domain does not fit in the buffer"), -1;
		return 0;
	}

	/* Internationalised, or carries A-labels that libidn2 must validate:
	 * UTS #46 non-transitional mapping, then IDNA2008 checks per label. */
	char *ace = NULL;
	int rc = idn2_to_ascii_8z(lower, &ace, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		idn2_free(ace);
		return (*error_r = idn2_strerror(rc)), -1;
	}
	size_t alen = strlen(ace);
	for (size_t i = 0; i < alen; i++)
		ace[i] = (char)ascii_tolower((unsigned char)ace[i]);
	rc = check_ldh(ace, alen, error_r);
	if (rc == 0 && buf_add(out, ace, alen) < 0) {
		*error_r = "domain does not fit in the buffer";
		rc = -1;
	}
	idn2_free(ace);
	return rc;
}

int
addr_domain_to_utf8(const char *domain, struct buf *out, const char **error_r)
{
	char *u = NULL;
	int rc = idn2_to_unicode_8z8z(domain, &u, 0);

	if (rc != IDN2_OK) {
		idn2_free(u);
		return (*error_r = idn2_strerror(rc)), -1;
	}
	rc = buf_add_str(out, u);
	idn2_free(u);
	if (rc < 0)
		return (*error_r = "domain does not fit in the buffer"), -1;
	return 0;
}

/* Decode the quoted-string in[0..len) (which starts with '"') into content,
 * lower-casing ASCII letters. Returns the content length or -1. */
static ssize_t
unquote(const char *in, size_t len, char *content, const char **error_r)
{
	size_t n = 0;

	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"') {
			if (i != len - 1)
				return (*error_r = "text after the closing quote of the local "
						   "part"), -1;
			return (ssize_t)n;
		}
		if (c == '\\') {
			if (++i >= len)
				break;
			c = (unsigned char)in[i];
			if (c < 32 || c > 126)
				return (*error_r = "invalid escaped character in the local "
						   "part"), -1;
			content[n++] = (char)ascii_tolower(c);
		} else if (is_qtext(c)) {
			content[n++] = (char)ascii_tolower(c);
		} else if (c >= 0x80) {
			size_t sl = utf8_seq_len((const unsigned char *)in + i, len - i);
			if (sl == 0)
				return (*error_r = "local part is not valid UTF-8"), -1;
			memcpy(content + n, in + i, sl);
			n += sl;
			i += sl - 1;
		} else {
			return (*error_r = "invalid character in the quoted local part"), -1;
		}
	}
	return (*error_r = "unterminated quoted local part"), -1;
}

int
addr_local_canon(const char *in, size_t len, struct buf *out, const char **error_r)
{
	char canon[ADDR_INPUT_MAX + 3];
	size_t n = 0;

	if (len == 0)
		return (*error_r = "empty local part"), -1;
	if (len > ADDR_INPUT_MAX)
		return (*error_r = "local part longer than 64 octets"), -1;
	if (in[0] == '"') {
		char content[ADDR_INPUT_MAX];
		ssize_t clen = unquote(in, len, content, error_r);
		if (clen < 0)
			return -1;
		if (clen == 0)
			return (*error_r = "empty local part"), -1;
		if (is_dot_atom(content, (size_t)clen)) {
			memcpy(canon, content, (size_t)clen);
			n = (size_t)clen;
		} else {
			/* Re-quote, escaping only what must be escaped. */
			canon[n++] = '"';
			for (ssize_t i = 0; i < clen && n <= ADDR_LOCAL_MAX + 1; i++) {
				if (content[i] == '"' || content[i] == '\\')
					canon[n++] = '\\';
				canon[n++] = content[i];
			}
			canon[n++] = '"';
		}
	} else {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)in[i];
			if (c >= 0x80) {
				size_t sl = utf8_seq_len((const unsigned char *)in + i, len - i);
				if (sl == 0)
					return (*error_r = "local part is not valid UTF-8"), -1;
				memcpy(canon + n, in + i, sl);
				n += sl;
				i += sl - 1;
			} else if (c == '.' || is_atext(c)) {
				canon[n++] = (char)ascii_tolower(c);
			} else if (c == '"' || c == '\\' || c == ' ') {
				return (*error_r = "local part has a quote, backslash or space "
						   "outside a quoted string"), -1;
			} else if (c < 0x20 || c == 0x7f) {
				return (*error_r = "local part contains a control character"), -1;
			} else {
				return (*error_r = "invalid character in the local part"), -1;
			}
		}
		if (!is_dot_atom(canon, n))
			return (*error_r = "local part begins or ends with a dot or has two "
					   "dots in a row"), -1;
	}
	if (n > ADDR_LOCAL_MAX)
		return (*error_r = "local part longer than 64 octets"), -1;
	if (buf_add(out, canon, n) < 0)
		return (*error_r = "address does not fit in the buffer"), -1;
	return 0;
}

int
addr_canon(const char *in, struct buf *out, const char **error_r)
{
	size_t len = strnlen(in, ADDR_INPUT_MAX + 1);
	size_t start = out->len;

	if (len == 0)
		return (*error_r = "empty address"), -1;
	if (len > ADDR_INPUT_MAX)
		return (*error_r = "address longer than 254 octets"), -1;
	const char *at = memrchr(in, '@', len);
	if (at == NULL)
		return (*error_r = "address has no domain (expected local-part@domain)"), -1;
	if (at == in)
		return (*error_r = "empty local part"), -1;
	if (at[1] == '\0')
		return (*error_r = "empty domain"), -1;
	if (addr_local_canon(in, (size_t)(at - in), out, error_r) < 0)
		return -1;
	if (buf_add_char(out, '@') < 0) {
		buf_set_len(out, start);
		return (*error_r = "address does not fit in the buffer"), -1;
	}
	if (addr_domain_canon(at + 1, out, error_r) < 0) {
		buf_set_len(out, start);
		return -1;
	}
	if (out->len - start > ADDR_MAX) {
		buf_set_len(out, start);
		return (*error_r = "address longer than 254 octets"), -1;
	}
	return 0;
}

const char *
addr_domain_part(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : NULL;
}

size_t
addr_local_len(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? (size_t)(at - addr) : strlen(addr);
}

bool
addr_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int
addr_split_tag(const char *addr, char sep, struct buf *base_r, struct buf *tag_r)
{
	size_t llen = addr_local_len(addr);
	const char *p;

	if (llen == 0 || addr[0] == '"')
		return 0;
	p = memchr(addr, sep, llen);
	if (p == NULL || p == addr || p[-1] == '.')
		return 0;
	size_t base_start = base_r->len;
	if (buf_add(base_r, addr, (size_t)(p - addr)) < 0 ||
	    buf_add_str(base_r, addr + llen) < 0) {
		buf_set_len(base_r, base_start);
		return -1;
	}
	if (tag_r != NULL && buf_add(tag_r, p + 1, llen - (size_t)(p - addr) - 1) < 0) {
		buf_set_len(base_r, base_start);
		return -1;
	}
	return 1;
}
