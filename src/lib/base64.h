/* base64.h - base64 content-transfer encoding (RFC 4648 section 4, RFC 2045 6.8).
 *
 * Three ways in:
 * - encoding, one-shot or incremental, optionally wrapped into CRLF lines
 *   (BASE64_MIME_LINE for MIME bodies, 0 for protocol use);
 * - strict one-shot decoding for protocols (SASL in SMTP AUTH and IMAP
 *   AUTHENTICATE, IMAP URLAUTH...): only the alphabet with canonical '='
 *   padding, nothing else is accepted;
 * - an incremental lenient decoder for MIME bodies, fed chunks of any size,
 *   which skips line breaks and, as RFC 2045 6.8 asks, every character outside
 *   the alphabet, stops at the padding, and remembers whether the input was
 *   clean so a caller can flag a damaged part.
 *
 * Output always goes to a struct buf. A call that fails because dst would
 * pass dst->max leaves dst and the codec state as they were before the call,
 * so the caller can report "too large" without guessing what was written.
 * Nothing here allocates per byte: each call reserves its output once.
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include "lib/common.h"

#include "lib/buf.h"

/* The line length of base64 in MIME bodies (RFC 2045 6.8). */
#define BASE64_MIME_LINE 76

/* Exact length of the encoding of n bytes when wrapped every line_len
 * characters with CRLF between lines (line_len 0: one line). No CRLF follows
 * the last line. Returns 0 with *size_r set, or -1 when the length does not
 * fit in a size_t. */
int base64_encoded_size(size_t n, size_t line_len, size_t *size_r) ATTR_NODISCARD;

/* Upper bound of the bytes decoded from n characters of input, in either
 * mode (whitespace, junk and padding only make the result shorter). Cannot
 * overflow: the result is at most 3n/4. */
size_t base64_decoded_max(size_t n);

/* Append the padded encoding of src[n] to dst, wrapped as described for
 * base64_encoded_size(). Returns 0, or -1 when dst would pass dst->max
 * (dst unchanged). */
int base64_encode(struct buf *dst, const void *src, size_t n, size_t line_len) ATTR_NODISCARD;

/* Incremental encoder: the output of any sequence of base64_encoder_more()
 * calls followed by base64_encoder_finish() equals base64_encode() of the
 * concatenated input. Plain struct, no resources; init may be repeated. */
struct base64_encoder {
	size_t line_len; /* 0: no wrapping */
	size_t col;	 /* characters on the current line; == line_len: CRLF due */
	unsigned char pending[2];
	unsigned int npending;
};

void base64_encoder_init(struct base64_encoder *enc, size_t line_len);
/* Encode src[n] (at most two bytes are held back until more input or
 * finish). Returns 0, or -1 when dst would pass dst->max (dst and enc
 * unchanged). */
int base64_encoder_more(struct base64_encoder *enc, struct buf *dst, const void *src,
			size_t n) ATTR_NODISCARD;
/* Write the held-back bytes with padding. Returns 0, or -1 when dst would
 * pass dst->max (dst and enc unchanged). The encoder is then ready for
 * another message as after init. */
int base64_encoder_finish(struct base64_encoder *enc, struct buf *dst) ATTR_NODISCARD;

/* Strict decoding of src[n] for protocol use: n must be a multiple of 4, all
 * characters from the RFC 4648 alphabet, '=' only as the final one or two
 * characters of the last quantum, and the unused bits before the padding
 * zero (so every accepted input is the one canonical encoding of its result).
 * No whitespace is accepted. An empty input decodes to nothing. Returns 0
 * with the bytes appended to dst, or -1 with *error_r set (static string)
 * and dst unchanged: malformed input, or dst would pass dst->max. */
int base64_decode_strict(struct buf *dst, const void *src, size_t n,
			 const char **error_r) ATTR_NODISCARD;

/* Incremental lenient decoder for MIME bodies. CR, LF, space and tab are
 * skipped silently. Other characters outside the alphabet are skipped and
 * counted in junk. The first '=' ends the data: a second '=' may complete
 * the padding, and anything else that is not whitespace after the end is
 * counted as junk. Feeding the input in chunks of any size gives exactly the
 * result of feeding it at once. */
struct base64_decoder {
	uint32_t acc;	    /* sextets of the current quantum */
	unsigned int nacc;  /* 0..3 sextets in acc */
	unsigned int state; /* private: data, awaiting second '=', ended */
	bool bad_padding;   /* '=' where no padding belongs, or one '=' short */
	bool truncated;	    /* a partial quantum was left (at '=' or at the end) */
	size_t junk;	    /* characters skipped that are not whitespace */
};

void base64_decoder_init(struct base64_decoder *dec);
/* Decode src[n], appending to dst whatever complete bytes it yields.
 * Returns 0, or -1 when dst would pass dst->max (dst and dec unchanged). */
int base64_decoder_more(struct base64_decoder *dec, struct buf *dst, const void *src,
			size_t n) ATTR_NODISCARD;
/* End of input. An unpadded final quantum of 2 or 3 characters still yields
 * its 1 or 2 bytes (appended to dst); a lone final character carries no
 * whole byte and is dropped. Returns 0 when the input ended on a quantum
 * boundary or with its padding, 1 when a partial quantum was left, -1 when
 * dst would pass dst->max (dst and dec unchanged). */
int base64_decoder_finish(struct base64_decoder *dec, struct buf *dst) ATTR_NODISCARD;
/* True when everything fed so far was well-formed base64 apart from line
 * breaks and whitespace: no junk, no misplaced or missing padding and, after
 * finish, no partial quantum. Non-zero bits before the padding are not
 * counted as damage (they lose no data). */
bool base64_decoder_is_clean(const struct base64_decoder *dec);

#endif
