/* fuzz_base64.c - libFuzzer target for the base64 codecs.
 *
 * Input: byte 0 chooses the line length and a small output cap, byte 1 the
 * number (0..7) of split bytes that follow, which give the chunk sizes for
 * the incremental calls; the rest is the payload. For every payload:
 * - strict decoding succeeds only on the canonical encoding of its result
 *   (re-encoding gives the input back) and then agrees with the lenient
 *   decoder, which calls it clean; on failure dst is unchanged;
 * - the lenient decoder fed in fuzzer-chosen chunks, with an output cap that
 *   makes calls fail and be retried, equals the one-shot result;
 * - encoding (one-shot and chunked, wrapped or not) has the predicted size
 *   and decodes back to the payload.
 */
#include "lib/common.h"

#include "lib/base64.h"
#include "lib/buf.h"

struct splits {
	const uint8_t *len;
	size_t n;
	size_t next;
};

/* The next chunk size, at most left; 0 sometimes, to exercise empty calls. */
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
		fprintf(stderr, "fuzz_base64: %s\n", what);
		abort();
	}
}

static void
lenient_oneshot(const uint8_t *p, size_t n, struct buf *out, int *finish_r, bool *clean_r,
		size_t *junk_r)
{
	struct base64_decoder dec;

	base64_decoder_init(&dec);
	check(base64_decoder_more(&dec, out, p, n) == 0, "lenient more");
	*finish_r = base64_decoder_finish(&dec, out);
	check(*finish_r >= 0, "lenient finish");
	*clean_r = base64_decoder_is_clean(&dec);
	*junk_r = dec.junk;
}

/* One more() call under the current cap: a failing call must leave dst as
 * it was; it is then retried without the cap. */
static void
feed(struct base64_decoder *dec, struct buf *out, const uint8_t *p, size_t k)
{
	size_t before = out->len;

	if (base64_decoder_more(dec, out, p, k) == 0)
		return;
	check(out->len == before, "failed more changed dst");
	out->max = BUF_UNLIMITED;
	check(base64_decoder_more(dec, out, p, k) == 0, "retried more");
}

/* Chunked as sp says (a 0 chunk is an empty call, then one byte), under an
 * output cap of cap bytes. */
static void
lenient_chunked(const uint8_t *p, size_t n, struct splits *sp, size_t cap, struct buf *out,
		int *finish_r, bool *clean_r, size_t *junk_r)
{
	struct base64_decoder dec;

	out->max = cap;
	base64_decoder_init(&dec);
	for (size_t off = 0; off < n;) {
		size_t k = next_chunk(sp, n - off);
		feed(&dec, out, p + off, k);
		off += k;
		if (k == 0) {
			feed(&dec, out, p + off, 1);
			off++;
		}
	}
	size_t before = out->len;
	*finish_r = base64_decoder_finish(&dec, out);
	if (*finish_r < 0) {
		check(out->len == before, "failed finish changed dst");
		out->max = BUF_UNLIMITED;
		*finish_r = base64_decoder_finish(&dec, out);
	}
	check(*finish_r >= 0, "chunked finish");
	*clean_r = base64_decoder_is_clean(&dec);
	*junk_r = dec.junk;
}

static void
fuzz_decode(const uint8_t *p, size_t n, struct splits *sp, size_t cap)
{
	struct buf strict, one, chunked, again;
	const char *error = NULL;
	int f1, f2;
	bool c1, c2;
	size_t j1, j2;

	buf_init(&strict, BUF_UNLIMITED);
	buf_init(&one, BUF_UNLIMITED);
	buf_init(&chunked, BUF_UNLIMITED);
	buf_init(&again, BUF_UNLIMITED);

	lenient_oneshot(p, n, &one, &f1, &c1, &j1);
	check(one.len <= base64_decoded_max(n), "lenient output over decoded_max");
	lenient_chunked(p, n, sp, cap, &chunked, &f2, &c2, &j2);
	check(chunked.len == one.len && memcmp(buf_cstr(&chunked), buf_cstr(&one), one.len) == 0,
	      "chunked lenient output differs from one-shot");
	check(f1 == f2 && c1 == c2 && j1 == j2, "chunked lenient status differs");

	if (base64_decode_strict(&strict, p, n, &error) == 0) {
		check(strict.len <= base64_decoded_max(n), "strict output over decoded_max");
		check(base64_encode(&again, strict.data, strict.len, 0) == 0, "re-encode");
		check(again.len == n && memcmp(buf_cstr(&again), p, n) == 0,
		      "strict accepted a non-canonical encoding");
		check(c1 && f1 == 0, "strict accepted what lenient calls unclean");
		check(one.len == strict.len &&
			  memcmp(buf_cstr(&one), buf_cstr(&strict), one.len) == 0,
		      "strict and lenient disagree");
	} else {
		check(error != NULL && strict.len == 0,
		      "strict failure without error or with output");
	}
	buf_release(&strict);
	buf_release(&one);
	buf_release(&chunked);
	buf_release(&again);
}

static void
fuzz_encode(const uint8_t *p, size_t n, struct splits *sp, size_t line_len)
{
	struct buf enc, enc2, dec;
	struct base64_encoder e;
	const char *error = NULL;
	size_t size;

	buf_init(&enc, BUF_UNLIMITED);
	buf_init(&enc2, BUF_UNLIMITED);
	buf_init(&dec, BUF_UNLIMITED);
	check(base64_encode(&enc, p, n, line_len) == 0, "encode");
	check(base64_encoded_size(n, line_len, &size) == 0 && size == enc.len, "encoded_size");

	base64_encoder_init(&e, line_len);
	for (size_t off = 0; off < n;) {
		size_t k = next_chunk(sp, n - off);
		if (k == 0)
			k = 1;
		check(base64_encoder_more(&e, &enc2, p + off, k) == 0, "encoder more");
		off += k;
	}
	check(base64_encoder_finish(&e, &enc2) == 0, "encoder finish");
	check(enc2.len == enc.len && memcmp(buf_cstr(&enc2), buf_cstr(&enc), enc.len) == 0,
	      "chunked encoding differs");

	if (line_len == 0) {
		check(base64_decode_strict(&dec, buf_cstr(&enc), enc.len, &error) == 0,
		      "strict decode of own encoding");
		check(dec.len == n && memcmp(buf_cstr(&dec), p, n) == 0, "strict round trip");
		buf_reset(&dec);
	}
	int f;
	bool clean;
	size_t junk;
	lenient_oneshot((const uint8_t *)buf_cstr(&enc), enc.len, &dec, &f, &clean, &junk);
	check(f == 0 && clean, "own encoding not clean");
	check(dec.len == n && memcmp(buf_cstr(&dec), p, n) == 0, "lenient round trip");
	buf_release(&enc);
	buf_release(&enc2);
	buf_release(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t lines[] = {0, BASE64_MIME_LINE, 1, 2, 3, 4, 5, 64};

	if (size < 2)
		return 0;
	uint8_t ctl = data[0];
	size_t nsplit = data[1] % 8;
	if (size - 2 < nsplit)
		return 0;
	struct splits sp = {data + 2, nsplit, 0};
	const uint8_t *p = data + 2 + nsplit;
	size_t n = size - 2 - nsplit;
	size_t line_len = lines[ctl % N_ELEMENTS(lines)];
	size_t cap = (ctl & 0x80) ? BUF_UNLIMITED : (size_t)(ctl >> 3);

	fuzz_decode(p, n, &sp, cap);
	sp.next = 0;
	fuzz_encode(p, n, &sp, line_len);
	return 0;
}
