/* smtpc_parse.c - the SMTP client's pure parts: reading the EHLO reply's
 * extension keywords, and dot-stuffing the content with line-end repair. */
#include "lib/common.h"

#include "smtp/smtpc.h"

/* ---- EHLO ---- */

static const struct {
	const char *keyword;
	unsigned flag;
} ehlo_keywords[] = {
	{"PIPELINING", SMTPC_EXT_PIPELINING},
	{"SIZE", SMTPC_EXT_SIZE},
	{"8BITMIME", SMTPC_EXT_8BITMIME},
	{"BINARYMIME", SMTPC_EXT_BINARYMIME},
	{"CHUNKING", SMTPC_EXT_CHUNKING},
	{"SMTPUTF8", SMTPC_EXT_SMTPUTF8},
	{"DSN", SMTPC_EXT_DSN},
	{"STARTTLS", SMTPC_EXT_STARTTLS},
	{"AUTH", SMTPC_EXT_AUTH},
	{"ENHANCEDSTATUSCODES", SMTPC_EXT_ENHANCEDSTATUSCODES},
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The SIZE parameter: decimal digits only. An absent value, 0 (RFC 1870:
 * no fixed maximum) or one that overflows leaves size_max at 0. */
static uint64_t
parse_size(const char *s, size_t len)
{
	uint64_t v = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)((unsigned char)s[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return v;
}

/* The mechanisms after AUTH, separated by spaces. */
static unsigned
parse_auth(const char *s, size_t len)
{
	unsigned mechs = 0;
	size_t i = 0;

	while (i < len) {
		while (i < len && is_space(s[i]))
			i++;
		size_t start = i;
		while (i < len && !is_space(s[i]))
			i++;
		if (ascii_ci_equal(s + start, i - start, "PLAIN"))
			mechs |= SMTPC_AUTH_PLAIN;
		else if (ascii_ci_equal(s + start, i - start, "LOGIN"))
			mechs |= SMTPC_AUTH_LOGIN;
	}
	return mechs;
}

static void
parse_ehlo_line(const char *s, size_t len, struct smtpc_peer *peer)
{
	size_t k = 0;

	while (len > 0 && is_space(s[0]))
		s++, len--;
	/* "AUTH=PLAIN LOGIN" is an old form some servers still send. */
	while (k < len && !is_space(s[k]) && s[k] != '=')
		k++;
	size_t p = k < len ? k + 1 : k;
	while (p < len && is_space(s[p]))
		p++;
	/* Trailing blanks are not part of the value. */
	while (len > p && is_space(s[len - 1]))
		len--;
	for (size_t i = 0; i < N_ELEMENTS(ehlo_keywords); i++) {
		if (!ascii_ci_equal(s, k, ehlo_keywords[i].keyword))
			continue;
		peer->ext |= ehlo_keywords[i].flag;
		if (ehlo_keywords[i].flag == SMTPC_EXT_SIZE && p < len)
			peer->size_max = parse_size(s + p, len - p);
		else if (ehlo_keywords[i].flag == SMTPC_EXT_AUTH)
			peer->auth |= parse_auth(s + p, len - p);
		return;
	}
}

void
smtpc_parse_ehlo(const char *text, size_t len, struct smtpc_peer *peer)
{
	const char *nl = memchr(text, '\n', len);

	peer->ext = 0;
	peer->size_max = 0;
	peer->auth = 0;
	while (nl != NULL) {
		size_t start = (size_t)(nl - text) + 1;
		nl = memchr(text + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		parse_ehlo_line(text + start, end - start, peer);
	}
}

/* ---- dot-stuffing ---- */

void
smtpc_stuff_init(struct smtpc_stuffer *st)
{
	st->line_start = true;
	st->cr = false;
}

/* A CR emits the line break at once and remembers that an LF right after it
 * (in this chunk or the next) belongs to it. */
int
smtpc_stuff(struct smtpc_stuffer *st, const char *data, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		char ch = data[i];
		if (st->cr) {
			st->cr = false;
			if (ch == '\n') {
				i++;
				continue;
			}
		}
		if (ch == '\r' || ch == '\n') {
			if (buf_add(out, "\r\n", 2) < 0)
				return -1;
			st->cr = ch == '\r';
			st->line_start = true;
			i++;
			continue;
		}
		if (st->line_start && ch == '.' && buf_add_char(out, '.') < 0)
			return -1;
		st->line_start = false;
		size_t j = i + 1;
		while (j < len && data[j] != '\r' && data[j] != '\n')
			j++;
		if (buf_add(out, data + i, j - i) < 0)
			return -1;
		i = j;
	}
	return 0;
}

int
smtpc_stuff_finish(struct smtpc_stuffer *st, struct buf *out)
{
	if (!st->line_start && buf_add(out, "\r\n", 2) < 0)
		return -1;
	st->line_start = true;
	st->cr = false;
	return buf_add(out, ".\r\n", 3);
}
