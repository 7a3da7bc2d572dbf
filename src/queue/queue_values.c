/* queue_values.c - the relay queue formats' building blocks: the error
 * buffer, queue ids, value checks, names, numbers, and the record syntax
 * ("key SP value LF") shared by the message and state file parsers. Pure. */
#include "lib/common.h"

#include <arpa/inet.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "queue/queue_file.h"
#include "queue/queue_private.h"

static _Thread_local char queue_errbuf[512];

const char *
queue_error_set(const char **error_r, const char *fmt, ...)
{
	char tmp[sizeof(queue_errbuf)];
	va_list ap;

	va_start(ap, fmt);
	/* Format into a copy: an argument may be the buffer itself. */
	if (vsnprintf(tmp, sizeof(tmp), fmt, ap) < 0)
		(void)str_copy(tmp, sizeof(tmp), "queue error");
	va_end(ap);
	memcpy(queue_errbuf, tmp, sizeof(tmp));
	if (error_r != NULL)
		*error_r = queue_errbuf;
	return queue_errbuf;
}

const char *
queue_error_last(void)
{
	return queue_errbuf;
}

/* ---- ids ---- */

static const char base32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define ID_TIME_CHARS 11 /* 55 bits */
#define ID_RANDOM_BITS 25

void
queue_id_make(char *id, uint64_t usec, uint32_t rnd)
{
	unsigned __int128 v =
	    ((unsigned __int128)(usec & ((UINT64_C(1) << 55) - 1)) << ID_RANDOM_BITS) |
	    (rnd & ((UINT32_C(1) << ID_RANDOM_BITS) - 1));

	for (int i = QUEUE_ID_LEN - 1; i >= 0; i--) {
		id[i] = base32[(unsigned)(v & 31)];
		v >>= 5;
	}
	id[QUEUE_ID_LEN] = '\0';
}

static int
base32_value(char c)
{
	const char *p = c != '\0' ? strchr(base32, c) : NULL;

	return p != NULL ? (int)(p - base32) : -1;
}

bool
queue_id_valid_len(const char *s, size_t len)
{
	if (len != QUEUE_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (base32_value(s[i]) < 0)
			return false;
	return true;
}

bool
queue_id_valid(const char *s)
{
	return queue_id_valid_len(s, strnlen(s, QUEUE_ID_LEN + 1));
}

time_t
queue_id_time(const char *id)
{
	uint64_t usec = 0;

	for (int i = 0; i < ID_TIME_CHARS; i++)
		usec = usec << 5 | (uint64_t)base32_value(id[i]);
	return (time_t)(usec / 1000000);
}

/* ---- values ---- */

bool
queue_text_valid(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* A path the SMTP client can write between "<" and ">" as it is: outside
 * a quoted string no space, '<' or '>' (a sender "a@b> AUTH=<x@y>" given
 * to postern sendmail would add parameters to the next hop's MAIL), and
 * every quoted string closed. */
static bool
path_text_valid(const char *s, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (quoted && c == '\\' && i + 1 < len)
			i++;
		else if (c == '"')
			quoted = !quoted;
		else if (!quoted && (c == ' ' || c == '<' || c == '>'))
			return false;
	}
	return !quoted;
}

bool
queue_addr_valid(const char *s, size_t len, bool may_be_empty)
{
	if (len == 0)
		return may_be_empty;
	return queue_text_valid(s, len, QUEUE_ADDR_MAX) && path_text_valid(s, len);
}

/* xtext (RFC 3461) and utf-8-addr-xtext (RFC 6533): no space or control. */
static bool
xtext_valid(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool
queue_orcpt_valid(const char *s, size_t len)
{
	const char *semi = memchr(s, ';', len);

	return xtext_valid(s, len, QUEUE_ORCPT_MAX) && semi != NULL && semi != s &&
	       semi != s + len - 1;
}

bool
queue_envid_valid(const char *s, size_t len)
{
	return xtext_valid(s, len, QUEUE_ENVID_MAX);
}

bool
queue_ip_valid(const char *s, size_t len)
{
	char tmp[64];
	unsigned char addr[16];

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

bool
queue_protocol_valid(const char *s, size_t len)
{
	if (len == 0 || len > QUEUE_PROTOCOL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

bool
queue_notify_valid(unsigned notify)
{
	const unsigned all = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY;

	return notify == 0 || notify == QUEUE_NOTIFY_NEVER || (notify & ~all) == 0;
}

const char *const queue_rcpt_state_names[] = {
    [QUEUE_RCPT_PENDING] = "pending",
    [QUEUE_RCPT_DELIVERED] = "delivered",
    [QUEUE_RCPT_FAILED] = "failed",
    [QUEUE_RCPT_DELAYED] = "delayed",
};

const char *const queue_body_names[] = {
    [QUEUE_BODY_NONE] = "",
    [QUEUE_BODY_7BIT] = "7bit",
    [QUEUE_BODY_8BITMIME] = "8bitmime",
    [QUEUE_BODY_BINARYMIME] = "binarymime",
};

const char *const queue_ret_names[] = {
    [QUEUE_RET_NONE] = "",
    [QUEUE_RET_FULL] = "full",
    [QUEUE_RET_HDRS] = "hdrs",
};

const char *
queue_rcpt_state_name(enum queue_rcpt_state state)
{
	return (size_t)state < N_ELEMENTS(queue_rcpt_state_names) ? queue_rcpt_state_names[state]
								  : "?";
}

const char *
queue_body_name(enum queue_body body)
{
	return (size_t)body < N_ELEMENTS(queue_body_names) ? queue_body_names[body] : "?";
}

/* A decimal number without sign or leading zero, at most max. */
bool
queue_number_parse(const char *s, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

bool
queue_time_parse(const char *s, size_t len, time_t *t_r)
{
	uint64_t v;

	if (!queue_number_parse(s, len, (uint64_t)QUEUE_TIME_MAX, &v))
		return false;
	*t_r = (time_t)v;
	return true;
}

bool
queue_time_valid(time_t t)
{
	return t >= 0 && t <= QUEUE_TIME_MAX;
}

void
queue_text_clean(struct buf *out, const char *in, size_t len, size_t max)
{
	size_t start = out->len;
	bool space = true; /* drops leading whitespace */

	if (max < 4)
		panic("queue_text_clean: max %zu too small", max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool is_space = c < 0x20 || c == 0x7f || c == ' ';
		if (is_space && space)
			continue;
		/* One byte past max is enough to know it must be cut. */
		if (out->len - start > max || buf_add_char(out, is_space ? ' ' : (char)c) < 0)
			break;
		space = is_space;
	}
	size_t n = out->len - start;
	bool cut = n > max;
	if (cut) {
		/* Keep max - 3 bytes, not splitting a UTF-8 sequence: step
		 * back over continuation bytes, then drop their lead byte. */
		n = max - 3;
		const unsigned char *d = (const unsigned char *)out->data + start;
		if ((d[n] & 0xc0) == 0x80) {
			while (n > 0 && (d[n] & 0xc0) == 0x80)
				n--;
		}
	}
	while (n > 0 && out->data[start + n - 1] == ' ')
		n--;
	buf_set_len(out, start + n);
	if (cut && buf_add_str(out, "...") < 0)
		buf_set_len(out, start);
}

/* A printable rendering of an untrusted key for error messages. */
void
queue_key_show(const char *key, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < size; i++) {
		unsigned char c = (unsigned char)key[i];
		out[n++] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > 0 && n < len && n + 3 < size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* Split one record line[0..len) (without LF) into key and value. */
int
queue_record_split(const char *line, size_t len, const char **key_r, size_t *key_len_r,
		   const char **value_r, size_t *value_len_r, const char **error_r)
{
	const char *sp = memchr(line, ' ', len);

	if (sp == NULL) {
		char shown[40];
		queue_key_show(line, len, shown, sizeof(shown));
		queue_error_set(error_r, "record '%s' without a value", shown);
		return -1;
	}
	*key_r = line;
	*key_len_r = (size_t)(sp - line);
	*value_r = sp + 1;
	*value_len_r = len - *key_len_r - 1;
	for (size_t i = 0; i < *value_len_r; i++) {
		unsigned char c = (unsigned char)(*value_r)[i];
		if (c < 0x20 || c == 0x7f) {
			char shown[40];
			queue_key_show(line, *key_len_r, shown, sizeof(shown));
			queue_error_set(error_r, "control character 0x%02x in record '%s'", c,
					shown);
			return -1;
		}
	}
	return 0;
}

/* The next record in data[0..len): 1 with the line (without LF) and its
 * length including the LF, 0 when incomplete, -1 when too long. */
int
queue_record_next(const char *data, size_t len, size_t *line_len_r, size_t *consumed_r,
		  const char **error_r)
{
	const char *lf = memchr(data, '\n', MIN(len, (size_t)QUEUE_LINE_MAX + 1));

	if (lf == NULL) {
		if (len > QUEUE_LINE_MAX) {
			queue_error_set(error_r, "record longer than %d bytes", QUEUE_LINE_MAX);
			return -1;
		}
		return 0;
	}
	*line_len_r = (size_t)(lf - data);
	*consumed_r = *line_len_r + 1;
	return 1;
}
