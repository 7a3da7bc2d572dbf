/* qp.h - quoted-printable (RFC 2045 6.7) and the "Q" encoding of RFC 2047 4.2.
 *
 * The body encoder and decoder are incremental: they are fed chunks of any
 * size and give exactly the result of feeding the whole input at once. The
 * Q functions work on one encoded word's text and are one-shot.
 *
 * Output always goes to a struct buf. A call that fails because dst would
 * pass dst->max leaves dst and the codec state as they were before the call.
 * Nothing here allocates per byte: each call reserves its output once (the
 * encoder once per few kilobytes of input).
 */
#ifndef POSTERN_QP_H
#define POSTERN_QP_H

#include "lib/common.h"

#include "lib/buf.h"

/* The longest encoded line the encoder writes, soft-break '=' included. */
#define QP_LINE_MAX 76

enum qp_mode {
	/* Line-oriented text: CRLF (and a bare LF, written as CRLF) is a hard
	 * line break; a bare CR is encoded as =0D. Decoding gives back the
	 * input with every bare LF turned into CRLF. */
	QP_MODE_TEXT,
	/* Opaque bytes: CR and LF are encoded (=0D, =0A) and the output has
	 * soft line breaks only. Decoding gives back the input exactly. */
	QP_MODE_BINARY,
};

/* Incremental encoder. Writes printable ASCII except '=' (33..60, 62..126)
 * as itself, space and tab as themselves unless they end a line or the
 * input (then =20 / =09), everything else as =XX with upper-case hex, and a
 * soft break "=\r\n" before any character that would take the line past
 * QP_LINE_MAX - 1 characters, so no line is longer than QP_LINE_MAX and an
 * escape is never split. The output never ends with a line break that the
 * input did not have. Plain struct, no resources; init may be repeated. */
struct qp_encoder {
	enum qp_mode mode;
	size_t col;	  /* characters on the current output line */
	bool held_cr;	  /* text mode: a CR waiting to see if LF follows */
	unsigned char ws; /* held space or tab, 0 when none */
};

void qp_encoder_init(struct qp_encoder *enc, enum qp_mode mode);
/* Encode src[n]. At most one space or tab and, in text mode, one CR are held
 * back until the next character shows what they are. Returns 0, or -1 when
 * dst would pass dst->max (dst and enc unchanged). */
int qp_encoder_more(struct qp_encoder *enc, struct buf *dst, const void *src,
		    size_t n) ATTR_NODISCARD;
/* Write what was held back (a final space or tab encoded, a final CR as
 * =0D). Returns 0, or -1 when dst would pass dst->max (dst and enc
 * unchanged). The encoder is then ready for another body as after init. */
int qp_encoder_finish(struct qp_encoder *enc, struct buf *dst) ATTR_NODISCARD;
/* One-shot: init, more, finish. Returns 0, or -1 with dst unchanged. */
int qp_encode(struct buf *dst, const void *src, size_t n, enum qp_mode mode) ATTR_NODISCARD;

/* Incremental decoder for bodies.
 * - "=XX" (hex digits in either case) gives the byte XX.
 * - '=' followed by optional spaces and tabs and a line break (CRLF or a
 *   bare LF), or by optional spaces and tabs and the end of the input, is a
 *   soft line break and gives nothing.
 * - Spaces and tabs that end a line (or the input) are removed (RFC 2045
 *   6.7 rule 3); those before a '=' are kept.
 * - Any other '=' is malformed: it is passed through literally, the bytes
 *   after it are decoded as if it were an ordinary character, and damage is
 *   incremented.
 * - All other bytes, line breaks included, are passed through unchanged.
 * Spaces and tabs are held until what follows shows whether they end a
 * line, at most QP_WS_HOLD of them (conforming lines are at most 76): when
 * one more comes, the held ones are written out, and if the line then ends
 * they cannot be taken back, which counts as damage. Likewise a '=' followed
 * by more than QP_WS_HOLD of them is taken as a literal '=' (damage).
 * Plain struct, no resources; init may be repeated. */
#define QP_WS_HOLD 128

struct qp_decoder {
	unsigned int state; /* private */
	unsigned char hex1; /* first digit of a pending "=X" */
	bool ws_spilled;    /* the current whitespace run was written out early */
	size_t nws;	    /* spaces and tabs held in ws */
	size_t damage;	    /* malformed '=' sequences seen */
	unsigned char ws[QP_WS_HOLD];
};

void qp_decoder_init(struct qp_decoder *dec);
/* Decode src[n]. Returns 0, or -1 when dst would pass dst->max (dst and dec
 * unchanged). */
int qp_decoder_more(struct qp_decoder *dec, struct buf *dst, const void *src,
		    size_t n) ATTR_NODISCARD;
/* End of input: a pending "=X" is written literally (damage), held trailing
 * whitespace is dropped, a held CR is written. Returns 0, or -1 when dst
 * would pass dst->max (dst and dec unchanged). */
int qp_decoder_finish(struct qp_decoder *dec, struct buf *dst) ATTR_NODISCARD;
/* Malformed '=' sequences seen so far; 0 means the input was clean. */
static inline size_t
qp_decoder_damage(const struct qp_decoder *dec)
{
	return dec->damage;
}
/* One-shot: init, more, finish; *damage_r (may be NULL) gets the count of
 * malformed sequences. Returns 0, or -1 with dst unchanged. */
int qp_decode(struct buf *dst, const void *src, size_t n, size_t *damage_r) ATTR_NODISCARD;

/* RFC 2047 "Q" encoding of src[n], the text of one encoded word: space as
 * '_', letters, digits and "!*+-/" as themselves (the set allowed in a
 * phrase, 5(3), which is also safe in comments and unstructured text), all
 * else =XX. Splitting into words of at most 75 characters is the caller's
 * job (see qp_q_encoded_size). Returns 0, or -1 when dst would pass dst->max
 * (dst unchanged). */
int qp_encode_q(struct buf *dst, const void *src, size_t n) ATTR_NODISCARD;
/* Length of the Q encoding of one byte: 1 or 3. */
size_t qp_q_char_size(unsigned char c);
/* Length of the Q encoding of src[n]; cannot overflow when n <= SIZE_MAX / 3
 * (returns SIZE_MAX otherwise). */
size_t qp_q_encoded_size(const void *src, size_t n);

/* RFC 2047 "Q" decoding of src[n]: '_' gives a space, "=XX" (either case)
 * the byte XX, a malformed '=' passes through literally and is counted in
 * *damage_r (may be NULL); every other byte passes through. Returns 0, or -1
 * when dst would pass dst->max (dst unchanged). */
int qp_decode_q(struct buf *dst, const void *src, size_t n, size_t *damage_r) ATTR_NODISCARD;

#endif
