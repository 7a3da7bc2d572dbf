/* names.c - addresses, mailbox names, Maildir++ directories, modified
 * UTF-7 (pure). */
#include "lib/common.h"

#include <strings.h>

#include "store/names.h"
#include "store/store.h"

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Decode one UTF-8 sequence at s[0..len); returns its length (code point in
 * *cp) or 0 when invalid. */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_next(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static int
utf8_put(struct buf *out, uint32_t cp)
{
	char tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(out, tmp, n);
}

struct b64_run {
	uint32_t bits;
	unsigned nbits;
	bool open;
};

static int
run_unit(struct b64_run *run, struct buf *out, uint32_t unit)
{
	run->bits = (run->bits << 16) | unit;
	run->nbits += 16;
	while (run->nbits >= 6) {
		run->nbits -= 6;
		if (buf_add_char(out, b64_chars[(run->bits >> run->nbits) & 0x3f]) < 0)
			return -1;
	}
	run->bits &= (1u << run->nbits) - 1;
	return 0;
}

static int
run_close(struct b64_run *run, struct buf *out)
{
	if (!run->open)
		return 0;
	if (run->nbits > 0 &&
	    buf_add_char(out, b64_chars[(run->bits << (6 - run->nbits)) & 0x3f]) < 0)
		return -1;
	run->bits = 0;
	run->nbits = 0;
	run->open = false;
	return buf_add_char(out, '-');
}

int
mutf7_encode(const char *utf8, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)utf8;
	struct b64_run run = {0, 0, false};
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_next(p + i, len - i, &cp);
		if (n == 0)
			return -1;
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (run_close(&run, out) < 0)
				return -1;
			if (buf_add_char(out, (char)cp) < 0 ||
			    (cp == '&' && buf_add_char(out, '-') < 0))
				return -1;
			continue;
		}
		if (!run.open) {
			if (buf_add_char(out, '&') < 0)
				return -1;
			run.open = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (run_unit(&run, out, 0xd800 | (cp >> 10)) < 0 ||
			    run_unit(&run, out, 0xdc00 | (cp & 0x3ff)) < 0)
				return -1;
		} else if (run_unit(&run, out, cp) < 0) {
			return -1;
		}
	}
	return run_close(&run, out);
}

/* Decode the base64 run starting at s[*i] (after '&') up to its '-'. */
static int
decode_run(const unsigned char *s, size_t len, size_t *i, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	bool any = false;

	for (; *i < len && s[*i] != '-'; (*i)++) {
		int v = b64_value(s[*i]);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		uint32_t cp;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else {
			cp = unit;
		}
		/* Printable ASCII must stand for itself. */
		if (cp >= 0x20 && cp <= 0x7e)
			return -1;
		if (utf8_put(out, cp) < 0)
			return -1;
		any = true;
	}
	if (*i >= len || !any || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	(*i)++; /* '-' */
	return 0;
}

int
mutf7_decode(const char *mutf7, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)mutf7;
	bool after_run = false;

	for (size_t i = 0; i < len;) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return -1;
		if (s[i] != '&') {
			if (buf_add_char(out, (char)s[i]) < 0)
				return -1;
			i++;
			after_run = false;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (buf_add_char(out, '&') < 0)
				return -1;
			i++;
			after_run = false;
			continue;
		}
		/* Two runs in a row should have been one. */
		if (after_run || decode_run(s, len, &i, out) < 0)
			return -1;
		after_run = true;
	}
	return 0;
}

static bool
domain_valid(const char *d, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > STORE_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[len - 1] != '-';
}

int
store_address_split(const char *address, const char **local_r, size_t *local_len_r,
		    const char **domain_r, size_t *domain_len_r, const char **error_r)
{
	const char *at = strrchr(address, '@');
	const char *why = NULL;

	if (at == NULL) {
		why = "address has no '@'";
		goto fail;
	}
	size_t llen = (size_t)(at - address);
	const char *domain = at + 1;
	size_t dlen = strlen(domain);
	if (!domain_valid(domain, dlen)) {
		why = "domain is not a lower-case ASCII domain name";
		goto fail;
	}
	if (llen == 0 || llen > STORE_LOCALPART_MAX) {
		why = "local part is empty or longer than 64 bytes";
		goto fail;
	}
	if (address[0] == '.') {
		why = "local part starts with a dot";
		goto fail;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)address[i];
		if (c < 0x20 || c == 0x7f || c == '/') {
			why = "local part contains '/' or a control character";
			goto fail;
		}
	}
	if (!utf8_valid(address, llen)) {
		why = "local part is not valid UTF-8";
		goto fail;
	}
	*local_r = address;
	*local_len_r = llen;
	*domain_r = domain;
	*domain_len_r = dlen;
	return 0;
fail:
	if (error_r != NULL)
		*error_r = why;
	return -1;
}

int
store_address_check(const char *address, const char **error_r)
{
	const char *l, *d;
	size_t ll, dl;

	return store_address_split(address, &l, &ll, &d, &dl, error_r);
}

static int
name_check(const char *name, size_t len, const char **why)
{
	const unsigned char *p = (const unsigned char *)name;

	if (len == 0) {
		*why = "empty mailbox name";
		return -1;
	}
	if (len > STORE_MAILBOX_NAME_MAX) {
		*why = "mailbox name too long";
		return -1;
	}
	if (!utf8_valid(name, len)) {
		*why = "mailbox name is not valid UTF-8";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)) {
			*why = "mailbox name contains a control character";
			return -1;
		}
		if (p[i] == '/' || p[i] == '%' || p[i] == '*') {
			*why = "mailbox name contains '/', '%' or '*'";
			return -1;
		}
		if (p[i] == STORE_SEPARATOR &&
		    (i == 0 || i + 1 == len || p[i + 1] == STORE_SEPARATOR)) {
			*why = "mailbox name has an empty level";
			return -1;
		}
	}
	return 0;
}

int
store_mailbox_name_check(const char *name, const char **error_r)
{
	struct buf norm, dir;

	buf_init(&norm, STORE_MAILBOX_NAME_MAX);
	buf_init(&dir, BUF_UNLIMITED);
	int r = mailbox_name_resolve(name, &norm, &dir, error_r);
	buf_release(&norm);
	buf_release(&dir);
	return r;
}

int
mailbox_name_resolve(const char *name, struct buf *norm, struct buf *dir, const char **error_r)
{
	size_t len = strlen(name);
	const char *why = NULL;

	if (name_check(name, len, &why) < 0)
		goto fail;
	buf_reset(norm);
	buf_reset(dir);
	size_t first = strcspn(name, ".");
	if (first == 5 && strncasecmp(name, "INBOX", 5) == 0) {
		if (buf_add_str(norm, "INBOX") < 0 || buf_add_str(norm, name + 5) < 0)
			goto toolong;
	} else if (buf_add(norm, name, len) < 0) {
		goto toolong;
	}
	if (strcmp(norm->data, "INBOX") == 0)
		return 0;
	if (buf_add_char(dir, '.') < 0 || mutf7_encode(norm->data, norm->len, dir) < 0)
		goto toolong;
	if (dir->len > 255)
		goto toolong;
	return 0;
toolong:
	why = "mailbox name too long";
fail:
	if (error_r != NULL)
		*error_r = why;
	return -1;
}

int
mailbox_dir_to_name(const char *entry, struct buf *name)
{
	size_t len = strlen(entry);
	struct buf norm, dir;
	int ret = -1;

	if (len < 2 || entry[0] != '.' || entry[1] == '.')
		return -1;
	buf_reset(name);
	if (mutf7_decode(entry + 1, len - 1, name) < 0)
		return -1;
	buf_init(&norm, STORE_MAILBOX_NAME_MAX);
	buf_init(&dir, 256);
	if (name->len == 0 || memchr(name->data, '\0', name->len) != NULL)
		goto out;
	if (mailbox_name_resolve(name->data, &norm, &dir, NULL) < 0)
		goto out;
	/* Only the canonical directory of a name counts. */
	if (strcmp(norm.data, name->data) != 0 || dir.len != len ||
	    memcmp(dir.data, entry, len) != 0)
		goto out;
	ret = 0;
out:
	buf_release(&norm);
	buf_release(&dir);
	return ret;
}

bool
mailbox_name_is_below(const char *name, const char *parent)
{
	size_t plen = strlen(parent);

	return strncmp(name, parent, plen) == 0 && name[plen] == STORE_SEPARATOR;
}
