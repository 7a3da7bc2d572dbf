/* fuzz_qp.c - libFuzzer target for quoted-printable and RFC 2047 "Q".
 *
 * Input: byte 0 chooses a small output cap, byte 1 the number (0..7) of
 * split bytes that follow, which give the chunk sizes for the incremental
 * calls; the rest is the payload. For every payload:
 * - the body decoder fed in fuzzer-chosen chunks, with an output cap that
 *   makes calls fail and be retried, equals the one-shot result (output and
 *   damage), and never writes more than it read;
 * - encoding in binary mode decodes back exactly, in text mode back to the
 *   payload with bare LFs made CRLF; the output is well-formed (CRLF only,
 *   lines of at most 76, no trailing whitespace, printable ASCII, '=' only
 *   as "=XX" or a soft break) and chunked encoding equals one-shot;
 * - Q encoding decodes back without damage; Q decoding of anything is
 *   bounded by its input.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/qp.h"

struct splits {
	const uint8_t *len;
	size_t n;
	size_t next;
};

static size_t
next_chunk(struct splits *sp, size_t left)
{
	size_t k = sp->n == 0 ? left : sp->len[sp->next++ % sp->n];

	return MIN(k, left);
}

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_qp: %s\n", what);
		abort();
	}
}

static bool
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(buf_cstr(a), buf_cstr(b), a->len) == 0;
}

static void
feed(struct qp_decoder *dec, struct buf *out, const uint8_t *p, size_t k)
{
	size_t before = out->len;

	if (qp_decoder_more(dec, out, p, k) == 0)
		return;
	check(out->len == before, "failed more changed dst");
	out->max = BUF_UNLIMITED;
	check(qp_decoder_more(dec, out, p, k) == 0, "retried more");
}

static void
fuzz_decode(const uint8_t *p, size_t n, struct splits *sp, size_t cap)
{
	struct buf one, chunked;
	struct qp_decoder dec;
	size_t damage = 0;

	buf_init(&one, BUF_UNLIMITED);
	buf_init(&chunked, cap);
	check(qp_decode(&one, p, n, &damage) == 0, "one-shot decode");
	check(one.len <= n, "decoded output longer than input");

	qp_decoder_init(&dec);
	for (size_t off = 0; off < n;) {
		size_t k = next_chunk(sp, n - off);
		feed(&dec, &chunked, p + off, k);
		off += k;
		if (k == 0) {
			feed(&dec, &chunked, p + off, 1);
			off++;
		}
	}
	size_t before = chunked.len;
	if (qp_decoder_finish(&dec, &chunked) < 0) {
		check(chunked.len == before, "failed finish changed dst");
		chunked.max = BUF_UNLIMITED;
		check(qp_decoder_finish(&dec, &chunked) == 0, "retried finish");
	}
	check(same(&one, &chunked), "chunked decoding differs from one-shot");
	check(qp_decoder_damage(&dec) == damage, "chunked damage differs");
	buf_release(&one);
	buf_release(&chunked);
}

static void
check_well_formed(const struct buf *enc, enum qp_mode mode)
{
	const unsigned char *s = (const unsigned char *)buf_cstr(enc);
	size_t n = enc->len, col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '\r') {
			check(i + 1 < n && s[i + 1] == '\n', "CR without LF");
			check(mode == QP_MODE_TEXT || (i > 0 && s[i - 1] == '='),
			      "hard break in binary mode");
			check(col == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'),
			      "trailing whitespace");
			i++;
			col = 0;
			continue;
		}
		check((c >= 33 && c <= 126) || c == ' ' || c == '\t', "unsafe character");
		check(++col <= QP_LINE_MAX, "line too long");
		if (c == '=' && !(i + 1 < n && s[i + 1] == '\r')) {
			check(i + 2 < n, "truncated escape");
			check(memchr("0123456789ABCDEF", s[i + 1], 16) != NULL &&
				  memchr("0123456789ABCDEF", s[i + 2], 16) != NULL,
			      "bad escape");
		}
	}
	check(n == 0 || (s[n - 1] != ' ' && s[n - 1] != '\t'), "whitespace at the end");
}

static void
fuzz_encode(const uint8_t *p, size_t n, struct splits *sp, enum qp_mode mode)
{
	struct buf enc, enc2, dec, want;
	struct qp_encoder e;
	size_t damage = 1;

	buf_init(&enc, BUF_UNLIMITED);
	buf_init(&enc2, BUF_UNLIMITED);
	buf_init(&dec, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	check(qp_encode(&enc, p, n, mode) == 0, "encode");
	check_well_formed(&enc, mode);

	qp_encoder_init(&e, mode);
	for (size_t off = 0; off < n;) {
		size_t k = next_chunk(sp, n - off);
		if (k == 0)
			k = 1;
		check(qp_encoder_more(&e, &enc2, p + off, k) == 0, "encoder more");
		off += k;
	}
	check(qp_encoder_finish(&e, &enc2) == 0, "encoder finish");
	check(same(&enc, &enc2), "chunked encoding differs");

	if (mode == QP_MODE_TEXT) {
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
				check(buf_add_char(&want, '\r') == 0, "add");
			check(buf_add_char(&want, (char)p[i]) == 0, "add");
		}
	} else {
		check(buf_add(&want, p, n) == 0, "add");
	}
	check(qp_decode(&dec, buf_cstr(&enc), enc.len, &damage) == 0, "decode own encoding");
	check(damage == 0, "own encoding decoded with damage");
	check(same(&dec, &want), "round trip");
	buf_release(&enc);
	buf_release(&enc2);
	buf_release(&dec);
	buf_release(&want);
}

static void
fuzz_q(const uint8_t *p, size_t n)
{
	struct buf enc, dec;
	size_t damage = 1;

	buf_init(&enc, BUF_UNLIMITED);
	buf_init(&dec, BUF_UNLIMITED);
	check(qp_encode_q(&enc, p, n) == 0, "encode q");
	check(enc.len == qp_q_encoded_size(p, n), "q size");
	for (size_t i = 0; i < enc.len; i++) {
		unsigned char c = (unsigned char)enc.data[i];
		check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c != 0 && strchr("!*+-/=_", c) != NULL),
		      "unsafe q character");
	}
	check(qp_decode_q(&dec, buf_cstr(&enc), enc.len, &damage) == 0, "decode q");
	check(damage == 0 && dec.len == n && memcmp(buf_cstr(&dec), p, n) == 0, "q round trip");
	buf_reset(&dec);
	check(qp_decode_q(&dec, p, n, NULL) == 0 && dec.len <= n, "q decode of payload");
	buf_release(&enc);
	buf_release(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t ctl = data[0];
	size_t nsplit = data[1] % 8;
	if (size - 2 < nsplit)
		return 0;
	struct splits sp = {data + 2, nsplit, 0};
	const uint8_t *p = data + 2 + nsplit;
	size_t n = size - 2 - nsplit;
	size_t cap = (ctl & 0x80) ? BUF_UNLIMITED : (size_t)(ctl & 0x7f);

	fuzz_decode(p, n, &sp, cap);
	sp.next = 0;
	fuzz_encode(p, n, &sp, QP_MODE_BINARY);
	sp.next = 0;
	fuzz_encode(p, n, &sp, QP_MODE_TEXT);
	fuzz_q(p, n);
	return 0;
}
