/* maildir_name.c - parse and build Maildir file names (pure). */
#include "lib/common.h"

#include "store/maildir_name.h"
#include "store/store.h"

static const struct {
	char letter;
	unsigned flag;
} flag_letters[] = {
    {'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED}, {'R', STORE_FLAG_ANSWERED},
    {'S', STORE_FLAG_SEEN},  {'T', STORE_FLAG_DELETED},
};

static unsigned
letter_flag(char c)
{
	for (size_t i = 0; i < N_ELEMENTS(flag_letters); i++)
		if (flag_letters[i].letter == c)
			return flag_letters[i].flag;
	return 0;
}

/* Decimal digits [p, end) into *v; false on empty, non-digit, leading zero
 * (except "0" itself) or a value over MAILDIR_SIZE_MAX. */
static bool
parse_size(const char *p, const char *end, uint64_t *v)
{
	uint64_t n = 0;

	if (p == end || (*p == '0' && end - p > 1))
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (n > (MAILDIR_SIZE_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

/* The ",KEY=value" fields of the base after its first ','. */
static void
parse_fields(const char *base, size_t len, struct maildir_name *r)
{
	const char *comma = memchr(base, ',', len);
	unsigned seen_s = 0, seen_w = 0;
	uint64_t s = 0, w = 0;

	if (comma == NULL)
		return;
	const char *end = base + len;
	const char *p = comma + 1;
	for (;;) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		if (q == NULL)
			q = end;
		if (q - p >= 2 && p[1] == '=') {
			uint64_t v = 0;
			bool ok = parse_size(p + 2, q, &v);
			if (p[0] == 'S') {
				seen_s += ok ? 1 : 2;
				s = v;
			} else if (p[0] == 'W') {
				seen_w += ok ? 1 : 2;
				w = v;
			}
		}
		if (q == end)
			break;
		p = q + 1;
	}
	/* Present exactly once and well formed, or not at all. */
	if (seen_s == 1) {
		r->has_disk_size = true;
		r->disk_size = s;
	}
	if (seen_w == 1) {
		r->has_crlf_size = true;
		r->crlf_size = w;
	}
}

int
maildir_name_parse(const char *name, size_t len, struct maildir_name *r)
{
	memset(r, 0, sizeof(*r));
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.')
		return -1;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return -1;
	const char *colon = memchr(name, ':', len);
	r->base_len = colon != NULL ? (size_t)(colon - name) : len;
	parse_fields(name, r->base_len, r);
	if (colon == NULL)
		return 0;
	size_t rest = len - r->base_len - 1;
	if (rest < 2 || colon[1] != '2' || colon[2] != ',')
		return 0;
	r->has_info = true;
	r->flags_off = r->base_len + 3;
	r->flags_len = len - r->flags_off;
	for (size_t i = 0; i < r->flags_len; i++)
		r->flags |= letter_flag(name[r->flags_off + i]);
	return 0;
}

int
maildir_flags_letters(unsigned flags, const char *old, size_t old_len, struct buf *out)
{
	bool have[256] = {false};

	for (size_t i = 0; i < old_len; i++) {
		unsigned char c = (unsigned char)old[i];
		/* Only printable ASCII other than the separators is kept. */
		if (c > ' ' && c < 0x7f && c != '/' && c != ':' && c != ',' &&
		    letter_flag((char)c) == 0)
			have[c] = true;
	}
	for (size_t i = 0; i < N_ELEMENTS(flag_letters); i++)
		if ((flags & flag_letters[i].flag) != 0)
			have[(unsigned char)flag_letters[i].letter] = true;
	for (unsigned c = 0; c < 256; c++)
		if (have[c] && buf_add_char(out, (char)c) < 0)
			return -1;
	return 0;
}

int
maildir_host_escape(const char *hostname, struct buf *out)
{
	if (hostname == NULL || *hostname == '\0')
		return buf_add_str(out, "localhost");
	for (const unsigned char *p = (const unsigned char *)hostname; *p != '\0'; p++) {
		int r;
		if (*p == '/' || *p == ':' || *p == ',' || *p == '\\' || *p <= ' ' || *p >= 0x7f)
			r = buf_printf(out, "\\%03o", *p);
		else
			r = buf_add_char(out, (char)*p);
		if (r < 0)
			return -1;
	}
	return 0;
}

int
maildir_base_make(struct buf *out, int64_t sec, long usec, long pid, unsigned long counter,
		  const char *host)
{
	return buf_printf(out, "%lld.M%06ldP%ldQ%lu.%s", (long long)sec, usec, pid, counter, host);
}

int
maildir_base_add_sizes(struct buf *out, uint64_t disk_size, uint64_t crlf_size)
{
	return buf_printf(out, ",S=%llu,W=%llu", (unsigned long long)disk_size,
			  (unsigned long long)crlf_size);
}
