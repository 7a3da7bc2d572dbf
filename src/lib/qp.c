/* qp.c - quoted-printable encoding and decoding (RFC 2045 6.7, RFC 2047 4.2).
 *
 * Table-driven state machines. Each call reserves its output in dst (capped
 * at what dst may still take), writes with a bounds check per token, and
 * commits with buf_set_len() only on success; on failure the caller's codec
 * state is left untouched because the call works on a copy.
 */
#include "lib/common.h"

#include "lib/log.h"
#include "lib/qp.h"

static const char hex_upper[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
				   '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};

/* hex_value[c]: 0..15 for 0-9, A-F, a-f; 0xff otherwise. */
static const uint8_t hex_value[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Encoder classes: printable ASCII but '=' (33..60, 62..126) is literal;
 * SP and TAB depend on what follows; CR and LF are line breaks in text
 * mode; everything else is escaped. */
enum qp_enc_class { QE_LIT = 0, QE_ESC = 1, QE_WS = 2, QE_CR = 3, QE_LF = 4 };

static const uint8_t qp_enc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Characters an encoded word may carry as themselves in any position
 * (RFC 2047 5(3)): letters, digits, "!", "*", "+", "-", "/". */
static const uint8_t q_safe[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Decoder classes: everything but these five passes through as is. */
enum qp_dec_class { QD_PLAIN = 0, QD_WS, QD_CR, QD_LF, QD_EQ };

static const uint8_t qp_dec_class[256] = {
    [' '] = QD_WS, ['\t'] = QD_WS, ['\r'] = QD_CR, ['\n'] = QD_LF, ['='] = QD_EQ,
};

/* A window of reserved output in dst: p..end. */
struct qp_out {
	char *p;
	char *end;
};

/* Reserve up to bound bytes (no more than dst may still take). */
static bool
out_open(struct qp_out *o, struct buf *dst, size_t bound)
{
	size_t room = dst->len < dst->max ? dst->max - dst->len : 0;
	size_t want = MIN(bound, room);

	o->p = buf_reserve(dst, want);
	if (o->p == NULL)
		return false;
	o->end = o->p + want;
	return true;
}

static inline bool
out_room(const struct qp_out *o, size_t n)
{
	return (size_t)(o->end - o->p) >= n;
}

static inline size_t
sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* ---- body encoder ---- */

void
qp_encoder_init(struct qp_encoder *enc, enum qp_mode mode)
{
	enc->mode = mode;
	enc->col = 0;
	enc->held_cr = false;
	enc->ws = 0;
}

/* Write w bytes of token t, preceded by a soft break when the line would
 * otherwise pass QP_LINE_MAX - 1 characters (leaving room for its '='). */
static inline bool
enc_token(struct qp_out *o, size_t *col, const char *t, size_t w)
{
	bool soft = *col + w > QP_LINE_MAX - 1;

	if (!out_room(o, w + (soft ? 3 : 0)))
		return false;
	if (soft) {
		memcpy(o->p, "=\r\n", 3);
		o->p += 3;
		*col = 0;
	}
	memcpy(o->p, t, w);
	o->p += w;
	*col += w;
	return true;
}

static inline bool
enc_escape(struct qp_out *o, size_t *col, unsigned char c)
{
	char t[3] = {'=', hex_upper[c >> 4], hex_upper[c & 0x0f]};

	return enc_token(o, col, t, 3);
}

static inline bool
enc_hard_break(struct qp_out *o, size_t *col)
{
	if (!out_room(o, 2))
		return false;
	memcpy(o->p, "\r\n", 2);
	o->p += 2;
	*col = 0;
	return true;
}

/* Write the held space or tab: literally when something other than a line
 * break follows it, escaped when it would end a line. */
static inline bool
enc_flush_ws(struct qp_encoder *e, struct qp_out *o, bool line_end)
{
	if (e->ws == 0)
		return true;
	char c = (char)e->ws;
	bool ok = line_end ? enc_escape(o, &e->col, e->ws) : enc_token(o, &e->col, &c, 1);
	if (ok)
		e->ws = 0;
	return ok;
}

/* Encode s[n] into o, updating e. False when o is too small. */
static bool
enc_run(struct qp_encoder *e, struct qp_out *o, const unsigned char *s, size_t n)
{
	const unsigned char *end = s + n;
	bool text = e->mode == QP_MODE_TEXT;

	while (s < end) {
		unsigned char c = *s;
		unsigned int cls = qp_enc_class[c];

		if (!text && cls >= QE_CR)
			cls = QE_ESC;
		if (e->held_cr && cls != QE_LF) {
			/* A bare CR: escaped, so the space before it is not
			 * at the end of a line. */
			if (!enc_flush_ws(e, o, false) || !enc_escape(o, &e->col, '\r'))
				return false;
			e->held_cr = false;
		}
		switch ((enum qp_enc_class)cls) {
		case QE_LIT:
			if (!enc_flush_ws(e, o, false))
				return false;
			if (e->col < QP_LINE_MAX - 1) {
				/* Copy the run that fits the line: literals, and
				 * spaces or tabs with a literal right after them
				 * (which makes them literal too). */
				size_t max = MIN((size_t)(end - s), QP_LINE_MAX - 1 - e->col);
				size_t k = 1;
				while (k < max) {
					unsigned int next = qp_enc_class[s[k]];
					if (next == QE_LIT)
						k++;
					else if (next == QE_WS && k + 1 < max &&
						 qp_enc_class[s[k + 1]] == QE_LIT)
						k += 2;
					else
						break;
				}
				if (!out_room(o, k))
					return false;
				memcpy(o->p, s, k);
				o->p += k;
				e->col += k;
				s += k;
				continue;
			}
			if (!enc_token(o, &e->col, (const char *)s, 1))
				return false;
			break;
		case QE_ESC:
			if (!enc_flush_ws(e, o, false) || !enc_escape(o, &e->col, c))
				return false;
			break;
		case QE_WS:
			if (!enc_flush_ws(e, o, false))
				return false;
			e->ws = c;
			break;
		case QE_CR:
			e->held_cr = true;
			break;
		case QE_LF:
			if (!enc_flush_ws(e, o, true) || !enc_hard_break(o, &e->col))
				return false;
			e->held_cr = false;
			break;
		}
		s++;
	}
	return true;
}

/* Input is encoded in slices so that the reservation per slice stays small:
 * a slice of m bytes plus the (at most two) held ones yields at most 3 bytes
 * each, plus a 3-byte soft break per 73 bytes of output, below 4m + 16. */
#define QP_ENC_SLICE 4096

int
qp_encoder_more(struct qp_encoder *enc, struct buf *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	struct qp_encoder e = *enc;
	size_t orig_len = dst->len;

	while (n > 0) {
		size_t m = MIN(n, (size_t)QP_ENC_SLICE);
		struct qp_out o;
		if (!out_open(&o, dst, 4 * m + 16))
			goto fail;
		char *start = o.p;
		if (!enc_run(&e, &o, s, m))
			goto fail;
		buf_set_len(dst, dst->len + (size_t)(o.p - start));
		s += m;
		n -= m;
	}
	*enc = e;
	return 0;
fail:
	buf_set_len(dst, orig_len);
	return -1;
}

int
qp_encoder_finish(struct qp_encoder *enc, struct buf *dst)
{
	struct qp_encoder e = *enc;
	struct qp_out o;

	if (!out_open(&o, dst, 16))
		return -1;
	char *start = o.p;
	if (e.held_cr) {
		if (!enc_flush_ws(&e, &o, false) || !enc_escape(&o, &e.col, '\r'))
			return -1;
	} else if (!enc_flush_ws(&e, &o, true)) {
		return -1;
	}
	buf_set_len(dst, dst->len + (size_t)(o.p - start));
	qp_encoder_init(enc, enc->mode);
	return 0;
}

int
qp_encode(struct buf *dst, const void *src, size_t n, enum qp_mode mode)
{
	struct qp_encoder enc;
	size_t orig_len = dst->len;

	qp_encoder_init(&enc, mode);
	if (qp_encoder_more(&enc, dst, src, n) < 0)
		return -1;
	if (qp_encoder_finish(&enc, dst) < 0) {
		buf_set_len(dst, orig_len);
		return -1;
	}
	return 0;
}

/* ---- body decoder ---- */

enum qp_dec_state {
	QS_TEXT,     /* ordinary text; whitespace may be held */
	QS_CR,	     /* CR held (after any held whitespace) */
	QS_EQ,	     /* "=" */
	QS_EQ_HEX,   /* "=X", X in hex1 */
	QS_EQ_CR,    /* "=\r" */
	QS_EQ_WS,    /* "=" and whitespace (held) */
	QS_EQ_WS_CR, /* "=", whitespace (held), "\r" */
};

void
qp_decoder_init(struct qp_decoder *dec)
{
	dec->state = QS_TEXT;
	dec->hex1 = 0;
	dec->ws_spilled = false;
	dec->nws = 0;
	dec->damage = 0;
}

static inline bool
dec_put(struct qp_out *o, const void *p, size_t n)
{
	if (!out_room(o, n))
		return false;
	memcpy(o->p, p, n);
	o->p += n;
	return true;
}

/* Write the held whitespace: something other than a line end follows. */
static inline bool
dec_flush_ws(struct qp_decoder *d, struct qp_out *o)
{
	if (!dec_put(o, d->ws, d->nws))
		return false;
	d->nws = 0;
	d->ws_spilled = false;
	return true;
}

/* Drop the held whitespace: it ends a line. */
static inline void
dec_drop_ws(struct qp_decoder *d)
{
	if (d->ws_spilled)
		d->damage++;
	d->nws = 0;
	d->ws_spilled = false;
}

/* Hold one more space or tab, spilling the run when the hold is full. */
static inline bool
dec_hold_ws(struct qp_decoder *d, struct qp_out *o, unsigned char c)
{
	if (d->nws == QP_WS_HOLD) {
		if (!dec_put(o, d->ws, d->nws))
			return false;
		d->nws = 0;
		d->ws_spilled = true;
	}
	d->ws[d->nws++] = c;
	return true;
}

/* Decode s[n] into o, updating d. False when o is too small. */
static bool
dec_run(struct qp_decoder *d, struct qp_out *o, const unsigned char *s, size_t n)
{
	const unsigned char *end = s + n;

	while (s < end) {
		if (d->state == QS_TEXT && d->nws == 0 && qp_dec_class[*s] == QD_PLAIN) {
			/* Fast path: a run of bytes that pass through. */
			const unsigned char *r = s + 1;
			while (r < end && qp_dec_class[*r] == QD_PLAIN)
				r++;
			if (!dec_put(o, s, (size_t)(r - s)))
				return false;
			s = r;
			continue;
		}
		unsigned char c = *s;
		unsigned int cls = qp_dec_class[c];
	again:
		switch ((enum qp_dec_state)d->state) {
		case QS_TEXT:
			switch ((enum qp_dec_class)cls) {
			case QD_WS:
				if (!dec_hold_ws(d, o, c))
					return false;
				break;
			case QD_CR:
				d->state = QS_CR;
				break;
			case QD_LF:
				dec_drop_ws(d);
				if (!dec_put(o, "\n", 1))
					return false;
				break;
			case QD_EQ:
				if (!dec_flush_ws(d, o))
					return false;
				d->state = QS_EQ;
				break;
			case QD_PLAIN:
				if (!dec_flush_ws(d, o) || !dec_put(o, &c, 1))
					return false;
				break;
			}
			break;
		case QS_CR:
			if (cls == QD_LF) {
				dec_drop_ws(d);
				if (!dec_put(o, "\r\n", 2))
					return false;
				d->state = QS_TEXT;
				break;
			}
			/* A bare CR is an ordinary byte. */
			if (!dec_flush_ws(d, o) || !dec_put(o, "\r", 1))
				return false;
			d->state = QS_TEXT;
			goto again;
		case QS_EQ:
			if (hex_value[c] != 0xff) {
				d->hex1 = c;
				d->state = QS_EQ_HEX;
			} else if (cls == QD_CR) {
				d->state = QS_EQ_CR;
			} else if (cls == QD_LF) {
				d->state = QS_TEXT; /* soft break */
			} else if (cls == QD_WS) {
				d->ws[0] = c;
				d->nws = 1;
				d->state = QS_EQ_WS;
			} else {
				if (!dec_put(o, "=", 1))
					return false;
				d->damage++;
				d->state = QS_TEXT;
				goto again;
			}
			break;
		case QS_EQ_HEX:
			if (hex_value[c] != 0xff) {
				unsigned char b =
				    (unsigned char)(hex_value[d->hex1] << 4 | hex_value[c]);
				if (!dec_put(o, &b, 1))
					return false;
				d->state = QS_TEXT;
				break;
			}
			{
				char t[2] = {'=', (char)d->hex1};
				if (!dec_put(o, t, 2))
					return false;
			}
			d->damage++;
			d->state = QS_TEXT;
			goto again;
		case QS_EQ_CR:
			if (cls == QD_LF) {
				d->state = QS_TEXT; /* soft break */
				break;
			}
			if (!dec_put(o, "=", 1))
				return false;
			d->damage++;
			d->state = QS_CR;
			goto again;
		case QS_EQ_WS:
			if (cls == QD_WS && d->nws < QP_WS_HOLD) {
				d->ws[d->nws++] = c;
			} else if (cls == QD_CR) {
				d->state = QS_EQ_WS_CR;
			} else if (cls == QD_LF) {
				d->nws = 0; /* soft break with transport padding */
				d->state = QS_TEXT;
			} else {
				/* Not a soft break (or padding beyond reason):
				 * the '=' was literal and the whitespace is
				 * text, still held. */
				if (!dec_put(o, "=", 1))
					return false;
				d->damage++;
				d->state = QS_TEXT;
				goto again;
			}
			break;
		case QS_EQ_WS_CR:
			if (cls == QD_LF) {
				d->nws = 0;
				d->state = QS_TEXT;
				break;
			}
			if (!dec_put(o, "=", 1))
				return false;
			d->damage++;
			d->state = QS_CR;
			goto again;
		}
		s++;
	}
	return true;
}

int
qp_decoder_more(struct qp_decoder *dec, struct buf *dst, const void *src, size_t n)
{
	if (n == 0)
		return 0;

	/* Each input byte gives at most one output byte, besides what was
	 * held: the whitespace, a CR, and "=X". */
	struct qp_out o;
	if (!out_open(&o, dst, sat_add(n, QP_WS_HOLD + 4)))
		return -1;
	char *start = o.p;
	struct qp_decoder d = *dec;
	if (!dec_run(&d, &o, src, n))
		return -1;
	*dec = d;
	buf_set_len(dst, dst->len + (size_t)(o.p - start));
	return 0;
}

int
qp_decoder_finish(struct qp_decoder *dec, struct buf *dst)
{
	struct qp_out o;

	if (!out_open(&o, dst, QP_WS_HOLD + 4))
		return -1;
	char *start = o.p;
	struct qp_decoder d = *dec;

	switch ((enum qp_dec_state)d.state) {
	case QS_TEXT:
		dec_drop_ws(&d);
		break;
	case QS_CR:
		if (!dec_flush_ws(&d, &o) || !dec_put(&o, "\r", 1))
			return -1;
		break;
	case QS_EQ:
	case QS_EQ_WS:
		/* A soft break at the very end: "no final line break". */
		d.nws = 0;
		break;
	case QS_EQ_HEX: {
		char t[2] = {'=', (char)d.hex1};
		if (!dec_put(&o, t, 2))
			return -1;
		d.damage++;
		break;
	}
	case QS_EQ_CR:
	case QS_EQ_WS_CR:
		d.damage++;
		if (!dec_put(&o, "=", 1) || !dec_flush_ws(&d, &o) || !dec_put(&o, "\r", 1))
			return -1;
		break;
	}
	buf_set_len(dst, dst->len + (size_t)(o.p - start));
	d.state = QS_TEXT;
	d.nws = 0;
	d.ws_spilled = false;
	*dec = d;
	return 0;
}

int
qp_decode(struct buf *dst, const void *src, size_t n, size_t *damage_r)
{
	struct qp_decoder dec;
	size_t orig_len = dst->len;

	qp_decoder_init(&dec);
	if (qp_decoder_more(&dec, dst, src, n) < 0)
		return -1;
	if (qp_decoder_finish(&dec, dst) < 0) {
		buf_set_len(dst, orig_len);
		return -1;
	}
	if (damage_r != NULL)
		*damage_r = dec.damage;
	return 0;
}

/* ---- RFC 2047 Q ---- */

size_t
qp_q_char_size(unsigned char c)
{
	return q_safe[c] || c == ' ' ? 1 : 3;
}

size_t
qp_q_encoded_size(const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t total = 0;

	if (n > SIZE_MAX / 3)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		total += qp_q_char_size(s[i]);
	return total;
}

int
qp_encode_q(struct buf *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t total = qp_q_encoded_size(src, n);

	if (total == SIZE_MAX)
		return -1;
	char *start = buf_reserve(dst, total);
	if (start == NULL)
		return -1;
	char *p = start;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (q_safe[c]) {
			*p++ = (char)c;
		} else if (c == ' ') {
			*p++ = '_';
		} else {
			p[0] = '=';
			p[1] = hex_upper[c >> 4];
			p[2] = hex_upper[c & 0x0f];
			p += 3;
		}
	}
	if ((size_t)(p - start) != total)
		panic("qp_encode_q: wrote %zu of %zu", (size_t)(p - start), total);
	buf_set_len(dst, dst->len + total);
	return 0;
}

int
qp_decode_q(struct buf *dst, const void *src, size_t n, size_t *damage_r)
{
	const unsigned char *s = src;
	struct qp_out o;
	size_t damage = 0;

	if (!out_open(&o, dst, n))
		return -1;
	char *start = o.p;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			if (n - i >= 3 && hex_value[s[i + 1]] != 0xff &&
			    hex_value[s[i + 2]] != 0xff) {
				c = (unsigned char)(hex_value[s[i + 1]] << 4 | hex_value[s[i + 2]]);
				i += 2;
			} else {
				damage++;
			}
		}
		if (!dec_put(&o, &c, 1))
			return -1;
	}
	buf_set_len(dst, dst->len + (size_t)(o.p - start));
	if (damage_r != NULL)
		*damage_r = damage;
	return 0;
}
