/* base64.c - base64 encoding, strict and lenient decoding (RFC 4648, RFC 2045 6.8).
 *
 * Table-driven. Every call reserves its whole output in dst once and
 * commits it with buf_set_len() only when it succeeded, which is what makes
 * a failed call leave dst and the codec state unchanged.
 */
#include "lib/common.h"

#include "lib/base64.h"
#include "lib/log.h"

static const char b64_alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_value[c]: 0..63 for the alphabet, B64_WS for CR LF SP TAB, B64_PAD
 * for '=', B64_BAD for everything else. Every non-alphabet class is >= 64,
 * so (a | b | c | d) < 64 tells that four characters are all data. */
#define B64_WS 0x40
#define B64_PAD 0x41
#define B64_BAD 0x80

static const uint8_t b64_value[256] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x40, 0x80, 0x80, 0x40, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x3e, 0x80, 0x80, 0x80, 0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x80, 0x80, 0x80, 0x41, 0x80, 0x80,
    0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

enum b64_dec_state {
	B64D_DATA,  /* reading quanta */
	B64D_PAD2,  /* "xx=" seen: a second '=' completes the padding */
	B64D_ENDED, /* padding seen: only whitespace is expected */
};

/* Wrapping. col is the number of characters on the current line, and a
 * CRLF is written before a character when col == line_len, so no line ever
 * ends with a CRLF that nothing follows. Writing k > 0 characters from col
 * therefore writes (col + k - 1) / line_len CRLFs, computed here without
 * forming col + k, which could overflow. */
static size_t
wrap_breaks(size_t line_len, size_t col, size_t k)
{
	if (line_len == 0 || k == 0)
		return 0;
	size_t r = (k - 1) % line_len;
	return (k - 1) / line_len + (r >= line_len - col ? 1 : 0);
}

/* Characters plus CRLFs for k characters from col; -1 on overflow. */
static int
wrap_total(size_t line_len, size_t col, size_t k, size_t *total_r)
{
	size_t breaks = wrap_breaks(line_len, col, k);

	if (breaks > (SIZE_MAX - k) / 2)
		return -1;
	*total_r = k + 2 * breaks;
	return 0;
}

int
base64_encoded_size(size_t n, size_t line_len, size_t *size_r)
{
	size_t quanta = n / 3 + (n % 3 != 0 ? 1 : 0);

	if (quanta > SIZE_MAX / 4)
		return -1;
	return wrap_total(line_len, 0, quanta * 4, size_r);
}

size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3 + (n % 4) * 3 / 4;
}

void
base64_encoder_init(struct base64_encoder *enc, size_t line_len)
{
	enc->line_len = line_len;
	enc->col = 0;
	enc->npending = 0;
}

/* Write the four characters q with wrapping at *col. */
static inline char *
put_quantum(char *p, const char q[4], size_t line_len, size_t *col)
{
	if (line_len == 0) {
		memcpy(p, q, 4);
		return p + 4;
	}
	if (line_len >= 4 && *col <= line_len - 4) {
		memcpy(p, q, 4);
		*col += 4;
		return p + 4;
	}
	for (int i = 0; i < 4; i++) {
		if (*col == line_len) {
			*p++ = '\r';
			*p++ = '\n';
			*col = 0;
		}
		*p++ = q[i];
		(*col)++;
	}
	return p;
}

static inline void
quantum3(char q[4], unsigned int b0, unsigned int b1, unsigned int b2)
{
	q[0] = b64_alphabet[b0 >> 2];
	q[1] = b64_alphabet[((b0 & 0x03) << 4) | (b1 >> 4)];
	q[2] = b64_alphabet[((b1 & 0x0f) << 2) | (b2 >> 6)];
	q[3] = b64_alphabet[b2 & 0x3f];
}

int
base64_encoder_more(struct base64_encoder *enc, struct buf *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t quanta = n / 3 + (n % 3 + enc->npending) / 3;

	if (quanta == 0) {
		for (size_t i = 0; i < n; i++)
			enc->pending[enc->npending++] = s[i];
		return 0;
	}
	if (quanta > SIZE_MAX / 4)
		return -1;
	size_t total;
	if (wrap_total(enc->line_len, enc->col, quanta * 4, &total) < 0)
		return -1;
	char *start = buf_reserve(dst, total);
	if (start == NULL)
		return -1;

	char *p = start;
	size_t col = enc->col;
	char q[4];
	/* Complete the held-back quantum first. */
	if (enc->npending > 0) {
		unsigned char b[3];
		size_t take = 3 - enc->npending;
		memcpy(b, enc->pending, enc->npending);
		memcpy(b + enc->npending, s, take);
		s += take;
		n -= take;
		quantum3(q, b[0], b[1], b[2]);
		p = put_quantum(p, q, enc->line_len, &col);
	}
	if (enc->line_len == 0) {
		for (; n >= 3; n -= 3, s += 3) {
			quantum3(p, s[0], s[1], s[2]);
			p += 4;
		}
	} else {
		for (; n >= 3; n -= 3, s += 3) {
			quantum3(q, s[0], s[1], s[2]);
			p = put_quantum(p, q, enc->line_len, &col);
		}
	}
	memcpy(enc->pending, s, n);
	enc->npending = (unsigned int)n;
	if ((size_t)(p - start) != total)
		panic("base64_encoder_more: wrote %zu of %zu", (size_t)(p - start), total);
	enc->col = col;
	buf_set_len(dst, dst->len + total);
	return 0;
}

int
base64_encoder_finish(struct base64_encoder *enc, struct buf *dst)
{
	if (enc->npending == 0) {
		enc->col = 0;
		return 0;
	}
	size_t total;
	if (wrap_total(enc->line_len, enc->col, 4, &total) < 0)
		return -1;
	char *start = buf_reserve(dst, total);
	if (start == NULL)
		return -1;

	unsigned int b0 = enc->pending[0];
	unsigned int b1 = enc->npending == 2 ? enc->pending[1] : 0;
	char q[4];
	quantum3(q, b0, b1, 0);
	q[3] = '=';
	if (enc->npending == 1)
		q[2] = '=';
	size_t col = enc->col;
	char *p = put_quantum(start, q, enc->line_len, &col);
	if ((size_t)(p - start) != total)
		panic("base64_encoder_finish: wrote %zu of %zu", (size_t)(p - start), total);
	buf_set_len(dst, dst->len + total);
	enc->npending = 0;
	enc->col = 0;
	return 0;
}

int
base64_encode(struct buf *dst, const void *src, size_t n, size_t line_len)
{
	struct base64_encoder enc;
	size_t orig_len = dst->len;

	base64_encoder_init(&enc, line_len);
	if (base64_encoder_more(&enc, dst, src, n) < 0)
		return -1;
	if (base64_encoder_finish(&enc, dst) < 0) {
		buf_set_len(dst, orig_len);
		return -1;
	}
	return 0;
}

int
base64_decode_strict(struct buf *dst, const void *src, size_t n, const char **error_r)
{
	const unsigned char *s = src;

	if (n % 4 != 0) {
		*error_r = "base64 length is not a multiple of 4";
		return -1;
	}
	if (n == 0)
		return 0;

	/* Every quantum but the last is four alphabet characters. */
	size_t full = n / 4 - 1;
	const unsigned char *last = s + full * 4;
	unsigned int a = b64_value[last[0]], b = b64_value[last[1]];
	unsigned int c = b64_value[last[2]], d = b64_value[last[3]];
	size_t tail;

	if ((a | b) >= 64) {
		*error_r = (a == B64_PAD || b == B64_PAD) ? "misplaced base64 padding"
							  : "invalid base64 character";
		return -1;
	}
	if (c == B64_PAD) {
		if (d != B64_PAD) {
			*error_r = "misplaced base64 padding";
			return -1;
		}
		if ((b & 0x0f) != 0) {
			*error_r = "non-canonical base64 trailing bits";
			return -1;
		}
		tail = 1;
	} else if (d == B64_PAD) {
		if (c >= 64) {
			*error_r = "invalid base64 character";
			return -1;
		}
		if ((c & 0x03) != 0) {
			*error_r = "non-canonical base64 trailing bits";
			return -1;
		}
		tail = 2;
	} else if ((c | d) >= 64) {
		*error_r = "invalid base64 character";
		return -1;
	} else {
		tail = 3;
	}

	size_t out_len = full * 3 + tail;
	unsigned char *start = (unsigned char *)buf_reserve(dst, out_len);
	if (start == NULL) {
		*error_r = "decoded base64 data too long";
		return -1;
	}
	unsigned char *p = start;
	for (size_t i = 0; i < full; i++, s += 4) {
		unsigned int v0 = b64_value[s[0]], v1 = b64_value[s[1]];
		unsigned int v2 = b64_value[s[2]], v3 = b64_value[s[3]];
		if ((v0 | v1 | v2 | v3) >= 64) {
			/* Nothing is committed: dst->len is untouched. */
			*error_r =
			    (v0 == B64_PAD || v1 == B64_PAD || v2 == B64_PAD || v3 == B64_PAD)
				? "misplaced base64 padding"
				: "invalid base64 character";
			return -1;
		}
		uint32_t w = (v0 << 18) | (v1 << 12) | (v2 << 6) | v3;
		p[0] = (unsigned char)(w >> 16);
		p[1] = (unsigned char)(w >> 8);
		p[2] = (unsigned char)w;
		p += 3;
	}
	p[0] = (unsigned char)((a << 2) | (b >> 4));
	if (tail >= 2)
		p[1] = (unsigned char)((b << 4) | (c >> 2));
	if (tail == 3)
		p[2] = (unsigned char)((c << 6) | d);
	buf_set_len(dst, dst->len + out_len);
	return 0;
}

void
base64_decoder_init(struct base64_decoder *dec)
{
	dec->acc = 0;
	dec->nacc = 0;
	dec->state = B64D_DATA;
	dec->bad_padding = false;
	dec->truncated = false;
	dec->junk = 0;
}

int
base64_decoder_more(struct base64_decoder *dec, struct buf *dst, const void *src, size_t n)
{
	if (n == 0)
		return 0;

	/* The output is at most 3/4 of the characters, counting the (at most
	 * three) sextets held from before; reserve no more than dst may still
	 * take, and check each write against that. */
	size_t bound = base64_decoded_max(n) + 3;
	size_t room = dst->len < dst->max ? dst->max - dst->len : 0;
	size_t want = MIN(bound, room);
	unsigned char *start = (unsigned char *)buf_reserve(dst, want);
	if (start == NULL)
		return -1;
	unsigned char *p = start, *end = start + want;
	struct base64_decoder d = *dec;
	const unsigned char *s = src, *e = s + n;

	while (s < e) {
		if (d.state == B64D_DATA && d.nacc == 0) {
			/* Fast path: whole quanta of alphabet characters. */
			while (e - s >= 4) {
				unsigned int v0 = b64_value[s[0]], v1 = b64_value[s[1]];
				unsigned int v2 = b64_value[s[2]], v3 = b64_value[s[3]];
				if ((v0 | v1 | v2 | v3) >= 64)
					break;
				if (end - p < 3)
					return -1;
				uint32_t w = (v0 << 18) | (v1 << 12) | (v2 << 6) | v3;
				p[0] = (unsigned char)(w >> 16);
				p[1] = (unsigned char)(w >> 8);
				p[2] = (unsigned char)w;
				p += 3;
				s += 4;
			}
			if (s == e)
				break;
		}

		unsigned int v = b64_value[*s++];
		switch ((enum b64_dec_state)d.state) {
		case B64D_DATA:
			if (v < 64) {
				d.acc = (d.acc << 6) | v;
				if (++d.nacc == 4) {
					if (end - p < 3)
						return -1;
					p[0] = (unsigned char)(d.acc >> 16);
					p[1] = (unsigned char)(d.acc >> 8);
					p[2] = (unsigned char)d.acc;
					p += 3;
					d.acc = 0;
					d.nacc = 0;
				}
			} else if (v == B64_PAD) {
				if (d.nacc == 2) {
					if (end - p < 1)
						return -1;
					*p++ = (unsigned char)(d.acc >> 4);
					d.state = B64D_PAD2;
				} else if (d.nacc == 3) {
					if (end - p < 2)
						return -1;
					*p++ = (unsigned char)(d.acc >> 10);
					*p++ = (unsigned char)(d.acc >> 2);
					d.state = B64D_ENDED;
				} else {
					/* At a quantum boundary no padding belongs;
					 * after one sextet there is no whole byte. */
					d.bad_padding = true;
					if (d.nacc == 1)
						d.truncated = true;
					d.state = B64D_ENDED;
				}
				d.acc = 0;
				d.nacc = 0;
			} else if (v != B64_WS) {
				d.junk++;
			}
			break;
		case B64D_PAD2:
			if (v == B64_PAD) {
				d.state = B64D_ENDED;
			} else if (v != B64_WS) {
				d.bad_padding = true;
				d.junk++;
				d.state = B64D_ENDED;
			}
			break;
		case B64D_ENDED:
			if (v != B64_WS)
				d.junk++;
			break;
		}
	}
	*dec = d;
	buf_set_len(dst, dst->len + (size_t)(p - start));
	return 0;
}

int
base64_decoder_finish(struct base64_decoder *dec, struct buf *dst)
{
	if (dec->state == B64D_PAD2) {
		dec->bad_padding = true;
	} else if (dec->state == B64D_DATA && dec->nacc > 0) {
		unsigned char out[2];
		size_t k = 0;
		if (dec->nacc == 2) {
			out[k++] = (unsigned char)(dec->acc >> 4);
		} else if (dec->nacc == 3) {
			out[k++] = (unsigned char)(dec->acc >> 10);
			out[k++] = (unsigned char)(dec->acc >> 2);
		}
		if (buf_add(dst, out, k) < 0)
			return -1;
		dec->truncated = true;
	}
	dec->acc = 0;
	dec->nacc = 0;
	dec->state = B64D_ENDED;
	return dec->truncated ? 1 : 0;
}

bool
base64_decoder_is_clean(const struct base64_decoder *dec)
{
	return dec->junk == 0 && !dec->bad_padding && !dec->truncated;
}
