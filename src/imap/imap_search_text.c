/* imap_search_text.c - case folding and dates for SEARCH (see
 * imap_search_private.h). */
#include "lib/common.h"

#include "imap/imap_search_private.h"
#include "lib/buf.h"

/* Unicode simple case folding (CaseFolding.txt statuses C and S) for the
 * blocks named in imap_search.h: code points lo..hi, every stride-th one,
 * fold to c + delta. Mappings that would make the UTF-8 longer (U+023A ->
 * U+2C65 and the like) are left out, so folding never grows text; so are
 * characters whose full folding is several characters. Sorted by lo. */
static const struct fold_run {
	uint16_t lo, hi;
	int16_t delta;
	uint8_t stride;
} fold_runs[] = {
    {0x0041, 0x005a, 32, 1},	{0x00b5, 0x00b5, 775, 1},   {0x00c0, 0x00d6, 32, 1},
    {0x00d8, 0x00de, 32, 1},	{0x0100, 0x012e, 1, 2},	    {0x0132, 0x0136, 1, 2},
    {0x0139, 0x0147, 1, 2},	{0x014a, 0x0176, 1, 2},	    {0x0178, 0x0178, -121, 1},
    {0x0179, 0x017d, 1, 2},	{0x017f, 0x017f, -268, 1},  {0x0181, 0x0181, 210, 1},
    {0x0182, 0x0184, 1, 2},	{0x0186, 0x0186, 206, 1},   {0x0187, 0x0187, 1, 1},
    {0x0189, 0x018a, 205, 1},	{0x018b, 0x018b, 1, 1},	    {0x018e, 0x018e, 79, 1},
    {0x018f, 0x018f, 202, 1},	{0x0190, 0x0190, 203, 1},   {0x0191, 0x0191, 1, 1},
    {0x0193, 0x0193, 205, 1},	{0x0194, 0x0194, 207, 1},   {0x0196, 0x0196, 211, 1},
    {0x0197, 0x0197, 209, 1},	{0x0198, 0x0198, 1, 1},	    {0x019c, 0x019c, 211, 1},
    {0x019d, 0x019d, 213, 1},	{0x019f, 0x019f, 214, 1},   {0x01a0, 0x01a4, 1, 2},
    {0x01a6, 0x01a6, 218, 1},	{0x01a7, 0x01a7, 1, 1},	    {0x01a9, 0x01a9, 218, 1},
    {0x01ac, 0x01ac, 1, 1},	{0x01ae, 0x01ae, 218, 1},   {0x01af, 0x01af, 1, 1},
    {0x01b1, 0x01b2, 217, 1},	{0x01b3, 0x01b5, 1, 2},	    {0x01b7, 0x01b7, 219, 1},
    {0x01b8, 0x01b8, 1, 1},	{0x01bc, 0x01bc, 1, 1},	    {0x01c4, 0x01c4, 2, 1},
    {0x01c5, 0x01c5, 1, 1},	{0x01c7, 0x01c7, 2, 1},	    {0x01c8, 0x01c8, 1, 1},
    {0x01ca, 0x01ca, 2, 1},	{0x01cb, 0x01db, 1, 2},	    {0x01de, 0x01ee, 1, 2},
    {0x01f1, 0x01f1, 2, 1},	{0x01f2, 0x01f4, 1, 2},	    {0x01f6, 0x01f6, -97, 1},
    {0x01f7, 0x01f7, -56, 1},	{0x01f8, 0x021e, 1, 2},	    {0x0220, 0x0220, -130, 1},
    {0x0222, 0x0232, 1, 2},	{0x023b, 0x023b, 1, 1},	    {0x023d, 0x023d, -163, 1},
    {0x0241, 0x0241, 1, 1},	{0x0243, 0x0243, -195, 1},  {0x0244, 0x0244, 69, 1},
    {0x0245, 0x0245, 71, 1},	{0x0246, 0x024e, 1, 2},	    {0x0345, 0x0345, 116, 1},
    {0x0370, 0x0372, 1, 2},	{0x0376, 0x0376, 1, 1},	    {0x037f, 0x037f, 116, 1},
    {0x0386, 0x0386, 38, 1},	{0x0388, 0x038a, 37, 1},    {0x038c, 0x038c, 64, 1},
    {0x038e, 0x038f, 63, 1},	{0x0391, 0x03a1, 32, 1},    {0x03a3, 0x03ab, 32, 1},
    {0x03c2, 0x03c2, 1, 1},	{0x03cf, 0x03cf, 8, 1},	    {0x03d0, 0x03d0, -30, 1},
    {0x03d1, 0x03d1, -25, 1},	{0x03d5, 0x03d5, -15, 1},   {0x03d6, 0x03d6, -22, 1},
    {0x03d8, 0x03ee, 1, 2},	{0x03f0, 0x03f0, -54, 1},   {0x03f1, 0x03f1, -48, 1},
    {0x03f4, 0x03f4, -60, 1},	{0x03f5, 0x03f5, -64, 1},   {0x03f7, 0x03f7, 1, 1},
    {0x03f9, 0x03f9, -7, 1},	{0x03fa, 0x03fa, 1, 1},	    {0x03fd, 0x03ff, -130, 1},
    {0x0400, 0x040f, 80, 1},	{0x0410, 0x042f, 32, 1},    {0x0460, 0x0480, 1, 2},
    {0x048a, 0x04be, 1, 2},	{0x04c0, 0x04c0, 15, 1},    {0x04c1, 0x04cd, 1, 2},
    {0x04d0, 0x052e, 1, 2},	{0x0531, 0x0556, 48, 1},    {0x10a0, 0x10c5, 7264, 1},
    {0x10c7, 0x10c7, 7264, 1},	{0x10cd, 0x10cd, 7264, 1},  {0x1e00, 0x1e94, 1, 2},
    {0x1e9b, 0x1e9b, -58, 1},	{0x1ea0, 0x1efe, 1, 2},	    {0x1f08, 0x1f0f, -8, 1},
    {0x1f18, 0x1f1d, -8, 1},	{0x1f28, 0x1f2f, -8, 1},    {0x1f38, 0x1f3f, -8, 1},
    {0x1f48, 0x1f4d, -8, 1},	{0x1f59, 0x1f5f, -8, 2},    {0x1f68, 0x1f6f, -8, 1},
    {0x1fb8, 0x1fb9, -8, 1},	{0x1fba, 0x1fbb, -74, 1},   {0x1fbe, 0x1fbe, -7173, 1},
    {0x1fc8, 0x1fcb, -86, 1},	{0x1fd8, 0x1fd9, -8, 1},    {0x1fda, 0x1fdb, -100, 1},
    {0x1fe8, 0x1fe9, -8, 1},	{0x1fea, 0x1feb, -112, 1},  {0x1fec, 0x1fec, -7, 1},
    {0x1ff8, 0x1ff9, -128, 1},	{0x1ffa, 0x1ffb, -126, 1},  {0x2126, 0x2126, -7517, 1},
    {0x212a, 0x212a, -8383, 1}, {0x212b, 0x212b, -8262, 1}, {0x2132, 0x2132, 28, 1},
    {0x2160, 0x216f, 16, 1},	{0x2183, 0x2183, 1, 1},	    {0x24b6, 0x24cf, 26, 1},
    {0xff21, 0xff3a, 32, 1},
};

uint32_t
imap_search_fold_cp(uint32_t c)
{
	size_t lo = 0, hi = N_ELEMENTS(fold_runs);

	if (c < 0x80)
		return (uint32_t)ascii_tolower((int)c);
	if (c > 0xffff)
		return c;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct fold_run *r = &fold_runs[mid];

		if (c < r->lo)
			hi = mid;
		else if (c > r->hi)
			lo = mid + 1;
		else if ((c - r->lo) % r->stride == 0)
			return (uint32_t)((int32_t)c + r->delta);
		else
			return c;
	}
	return c;
}

/* The code point of the well-formed sequence at p[n] (n > 0) and its
 * length in *len_r, or *len_r 0. */
static uint32_t
utf8_decode(const unsigned char *p, size_t n, size_t *len_r)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	uint32_t cp;
	size_t len, i;

	*len_r = 0;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : lo;
		hi = c == 0xed ? 0x9f : hi;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
		lo = c == 0xf0 ? 0x90 : lo;
		hi = c == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	*len_r = len;
	return cp;
}

static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int
imap_search_fold(struct buf *dst, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t room = MIN(n, dst->max - dst->len), i = 0, o = 0;
	char *out;

	if (room == 0)
		return n == 0 ? 0 : -1;
	out = buf_reserve(dst, room);
	if (out == NULL)
		return -1;
	while (i < n) {
		size_t k = 1;
		char enc[4];

		if (p[i] < 0x80) {
			if (o == room)
				break;
			out[o++] = (char)ascii_tolower(p[i]);
			i++;
			continue;
		}
		uint32_t cp = utf8_decode(p + i, n - i, &k);
		size_t m;

		if (k == 0) {
			k = 1;
			enc[0] = (char)p[i];
			m = 1;
		} else {
			m = utf8_encode(imap_search_fold_cp(cp), enc);
		}
		if (m > room - o)
			break;
		memcpy(out + o, enc, m);
		o += m;
		i += k;
	}
	buf_set_len(dst, dst->len + o);
	return i == n ? 0 : -1;
}

int64_t
imap_search_days(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static const char months[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
				   "jul", "aug", "sep", "oct", "nov", "dec"};

/* 1..12 for the three letters at s, or 0. */
static int
month_of(const char *s)
{
	int m;

	for (m = 0; m < 12; m++) {
		if (ascii_tolower((unsigned char)s[0]) == months[m][0] &&
		    ascii_tolower((unsigned char)s[1]) == months[m][1] &&
		    ascii_tolower((unsigned char)s[2]) == months[m][2])
			return m + 1;
	}
	return 0;
}

static bool
date_valid(int year, int month, int day)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1])
		return false;
	if (month == 2 && day == 29)
		return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
	return true;
}

/* Up to max digits at s[*i]; at least one. */
static int
read_digits(const char *s, size_t len, size_t *i, size_t max, int *n_r)
{
	size_t start = *i;
	int n = 0;

	while (*i < len && *i - start < max && ascii_is_digit((unsigned char)s[*i]))
		n = n * 10 + (s[(*i)++] - '0');
	if (*i == start || (*i < len && ascii_is_digit((unsigned char)s[*i])))
		return -1;
	*n_r = n;
	return 0;
}

int
imap_search_date_parse(const char *s, size_t len, int *year_r, int *month_r, int *day_r)
{
	size_t i = 0;
	int day, year, month;

	if (read_digits(s, len, &i, 2, &day) < 0 || i + 5 > len || s[i] != '-' || s[i + 4] != '-')
		return -1;
	month = month_of(s + i + 1);
	i += 5;
	if (month == 0 || len - i != 4 || read_digits(s, len, &i, 4, &year) < 0 ||
	    !date_valid(year, month, day))
		return -1;
	*year_r = year;
	*month_r = month;
	*day_r = day;
	return 0;
}

/* Skip whitespace, comments (nested, with quoted pairs) and, as some
 * mailers write dates, '-' separators. */
static void
skip_cfws(const char *s, size_t len, size_t *i)
{
	size_t depth = 0;

	while (*i < len) {
		char c = s[*i];

		if (depth > 0 && c == '\\' && *i + 1 < len)
			(*i)++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '-')
			return;
		(*i)++;
	}
}

static size_t
alpha_run(const char *s, size_t len, size_t i)
{
	size_t n = 0;

	while (i + n < len && ((s[i + n] | 0x20) >= 'a' && (s[i + n] | 0x20) <= 'z'))
		n++;
	return n;
}

int
imap_search_sent_day(const char *s, size_t len, int64_t *day_r)
{
	size_t i = 0, n, start;
	int day, month, year;

	skip_cfws(s, len, &i);
	n = alpha_run(s, len, i);
	if (n > 0) {
		/* Day of week, with or without its comma. */
		i += n;
		skip_cfws(s, len, &i);
		if (i < len && s[i] == ',')
			i++;
		skip_cfws(s, len, &i);
	}
	if (read_digits(s, len, &i, 2, &day) < 0)
		return -1;
	skip_cfws(s, len, &i);
	n = alpha_run(s, len, i);
	if (n < 3 || (month = month_of(s + i)) == 0)
		return -1;
	i += n;
	skip_cfws(s, len, &i);
	start = i;
	if (read_digits(s, len, &i, 4, &year) < 0)
		return -1;
	if (i - start == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (i - start == 3)
		year += 1900;
	if (!date_valid(year, month, day))
		return -1;
	*day_r = imap_search_days(year, month, day);
	return 0;
}
