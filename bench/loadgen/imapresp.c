/* imapresp.c - pure IMAP response framing and FETCH parsing (see imapresp.h). */
#include "imapresp.h"

#include <string.h>
#include <strings.h>

/* If the line p[0..eol) (eol excludes CR/LF) ends with a literal marker
 * "{N}" or "{N+}", store N and return 1; 0 when it does not; -1 when the
 * marker is malformed or too large. */
static int
literal_marker(const char *p, size_t eol, size_t *len_r)
{
	size_t i, v = 0;

	if (eol < 3 || p[eol - 1] != '}')
		return 0;
	i = eol - 1;
	if (p[i - 1] == '+')
		i--;
	size_t end = i;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i == 0 || p[i - 1] != '{' || i == end)
		return 0;
	for (size_t k = i; k < end; k++) {
		v = v * 10 + (size_t)(p[k] - '0');
		if (v > IMAP_MAX_LITERAL)
			return -1;
	}
	*len_r = v;
	return 1;
}

ssize_t
imap_response_len(const char *p, size_t n)
{
	size_t pos = 0;

	for (;;) {
		const char *lf = memchr(p + pos, '\n', n - pos);
		size_t eol, lit;
		int r;

		if (lf == NULL)
			return 0;
		eol = (size_t)(lf - p);
		size_t content_end = (eol > pos && p[eol - 1] == '\r') ? eol - 1 : eol;
		r = literal_marker(p + pos, content_end - pos, &lit);
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)(eol + 1);
		pos = eol + 1;
		if (n - pos < lit)
			return 0;
		pos += lit;
	}
}

static bool
is_sp(char c)
{
	return c == ' ';
}

/* Skip one value starting at p[*i]; sets its content span. Returns 0 or -1. */
static int
skip_value(const char *p, size_t n, size_t *i, const char **v_r, size_t *vlen_r, bool *is_str_r)
{
	size_t k = *i;

	*is_str_r = false;
	if (k >= n)
		return -1;
	if (p[k] == '"') {
		size_t start = ++k;

		while (k < n && p[k] != '"') {
			if (p[k] == '\\')
				k++;
			k++;
		}
		if (k >= n)
			return -1;
		*v_r = p + start;
		*vlen_r = k - start;
		*is_str_r = true;
		*i = k + 1;
		return 0;
	}
	if (p[k] == '{') {
		size_t len = 0, j = k + 1;

		while (j < n && p[j] >= '0' && p[j] <= '9') {
			len = len * 10 + (size_t)(p[j] - '0');
			if (len > IMAP_MAX_LITERAL)
				return -1;
			j++;
		}
		if (j < n && p[j] == '+')
			j++;
		if (j >= n || p[j] != '}')
			return -1;
		j++;
		if (j < n && p[j] == '\r')
			j++;
		if (j >= n || p[j] != '\n')
			return -1;
		j++;
		if (n - j < len)
			return -1;
		*v_r = p + j;
		*vlen_r = len;
		*is_str_r = true;
		*i = j + len;
		return 0;
	}
	if (p[k] == '(') {
		size_t start = ++k;
		int depth = 1;

		while (k < n && depth > 0) {
			if (p[k] == '(') {
				depth++;
				k++;
			} else if (p[k] == ')') {
				depth--;
				k++;
			} else if (p[k] == '"' || p[k] == '{') {
				const char *dv;
				size_t dl;
				bool ds;

				if (skip_value(p, n, &k, &dv, &dl, &ds) < 0)
					return -1;
			} else {
				k++;
			}
		}
		if (depth != 0)
			return -1;
		*v_r = p + start;
		*vlen_r = k - 1 - start;
		*i = k;
		return 0;
	}
	size_t start = k;
	while (k < n && !is_sp(p[k]) && p[k] != ')' && p[k] != '\r' && p[k] != '\n')
		k++;
	if (k == start)
		return -1;
	*v_r = p + start;
	*vlen_r = k - start;
	*i = k;
	return 0;
}

static bool
name_is(const char *name, size_t len, const char *want)
{
	size_t wl = strlen(want);

	return len == wl && strncasecmp(name, want, wl) == 0;
}

static bool
name_starts(const char *name, size_t len, const char *want)
{
	size_t wl = strlen(want);

	return len >= wl && strncasecmp(name, want, wl) == 0;
}

int
imap_parse_fetch(const char *p, size_t n, struct imap_fetch *f)
{
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	if (n == 0 || p[0] != '(')
		return -1;
	i = 1;
	for (;;) {
		size_t ns, nlen;
		const char *v;
		size_t vlen;
		bool is_str;

		while (i < n && is_sp(p[i]))
			i++;
		if (i >= n)
			return -1;
		if (p[i] == ')')
			return 0;
		/* item name: an atom with an optional [section] and <partial> */
		ns = i;
		while (i < n && !is_sp(p[i]) && p[i] != ')') {
			if (p[i] == '[') {
				const char *close = memchr(p + i, ']', n - i);

				if (close == NULL)
					return -1;
				i = (size_t)(close - p);
			}
			i++;
		}
		nlen = i - ns;
		if (i >= n || !is_sp(p[i]) || nlen == 0)
			return -1;
		i++;
		if (skip_value(p, n, &i, &v, &vlen, &is_str) < 0)
			return -1;
		const char *name = p + ns;
		if (name_is(name, nlen, "UID")) {
			size_t u = 0;

			for (size_t k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9' || u > UINT32_MAX / 10)
					return -1;
				u = u * 10 + (size_t)(v[k] - '0');
			}
			if (vlen == 0 || u > UINT32_MAX)
				return -1;
			f->uid = (uint32_t)u;
			f->has_uid = true;
		} else if (name_is(name, nlen, "RFC822.SIZE")) {
			size_t s = 0;

			for (size_t k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9' || s > (SIZE_MAX - 9) / 10)
					return -1;
				s = s * 10 + (size_t)(v[k] - '0');
			}
			if (vlen == 0)
				return -1;
			f->size = s;
			f->has_size = true;
		} else if (name_is(name, nlen, "FLAGS")) {
			f->flags = v;
			f->flags_len = vlen;
			f->has_flags = true;
		} else if (name_starts(name, nlen, "BODY[]") || name_is(name, nlen, "RFC822")) {
			if (!is_str)
				return -1;
			f->body = v;
			f->body_len = vlen;
			f->has_body = true;
		} else if (name_starts(name, nlen, "BODY[HEADER")) {
			if (!is_str)
				return -1;
			f->hdr = v;
			f->hdr_len = vlen;
			f->has_hdr = true;
		}
	}
}

const char *
imap_untagged_num(const char *p, size_t n, uint32_t *num_r, size_t *len_r)
{
	size_t i = 2;
	uint64_t v = 0;

	if (n < 4 || p[0] != '*' || p[1] != ' ' || p[2] < '0' || p[2] > '9')
		return NULL;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > UINT32_MAX)
			return NULL;
		i++;
	}
	if (i >= n || p[i] != ' ')
		return NULL;
	i++;
	size_t s = i;
	while (i < n && p[i] >= 'A' && ((p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
		i++;
	*num_r = (uint32_t)v;
	*len_r = i - s;
	return p + s;
}

bool
imap_has_flag(const char *flags, size_t n, const char *flag)
{
	size_t fl = strlen(flag), i = 0;

	while (i < n) {
		while (i < n && flags[i] == ' ')
			i++;
		size_t s = i;
		while (i < n && flags[i] != ' ')
			i++;
		if (i - s == fl && strncasecmp(flags + s, flag, fl) == 0)
			return true;
	}
	return false;
}
