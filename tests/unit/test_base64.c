/* test_base64.c - base64 encoding, strict and lenient decoding. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Deterministic xorshift64* so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void
fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd();
}

struct lenient_result {
	struct buf out;
	int finish;
	bool clean;
	size_t junk;
};

/* Feed in[n] to a lenient decoder in chunks of chunk bytes (0: at once). */
static void
lenient(struct lenient_result *r, const void *in, size_t n, size_t chunk)
{
	struct base64_decoder dec;
	const char *p = in;

	buf_init(&r->out, BUF_UNLIMITED);
	base64_decoder_init(&dec);
	if (chunk == 0)
		chunk = n > 0 ? n : 1;
	for (size_t off = 0; off < n; off += chunk)
		assert_int_equal(base64_decoder_more(&dec, &r->out, p + off, MIN(chunk, n - off)),
				 0);
	r->finish = base64_decoder_finish(&dec, &r->out);
	assert_true(r->finish >= 0);
	r->clean = base64_decoder_is_clean(&dec);
	r->junk = dec.junk;
}

static void
assert_lenient(const char *in, const void *want, size_t want_len, int want_finish, bool want_clean)
{
	struct lenient_result one, bytewise;

	lenient(&one, in, strlen(in), 0);
	lenient(&bytewise, in, strlen(in), 1);
	assert_int_equal(one.out.len, want_len);
	assert_memory_equal(buf_cstr(&one.out), want, want_len);
	assert_int_equal(one.finish, want_finish);
	assert_int_equal(one.clean, want_clean);
	assert_int_equal(bytewise.out.len, one.out.len);
	assert_memory_equal(buf_cstr(&bytewise.out), buf_cstr(&one.out), one.out.len);
	assert_int_equal(bytewise.finish, one.finish);
	assert_int_equal(bytewise.clean, one.clean);
	assert_int_equal(bytewise.junk, one.junk);
	buf_release(&one.out);
	buf_release(&bytewise.out);
}

static void
test_rfc4648_vectors(void **state)
{
	static const char *const vec[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};

	for (size_t i = 0; i < N_ELEMENTS(vec); i++) {
		const char *plain = vec[i][0], *enc = vec[i][1];
		struct buf b;
		const char *error = NULL;

		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(base64_encode(&b, plain, strlen(plain), 0), 0);
		assert_string_equal(buf_cstr(&b), enc);
		size_t size;
		assert_int_equal(base64_encoded_size(strlen(plain), 0, &size), 0);
		assert_int_equal(size, strlen(enc));

		/* The incremental encoder fed one byte at a time. */
		struct base64_encoder e;
		buf_reset(&b);
		base64_encoder_init(&e, 0);
		for (size_t j = 0; j < strlen(plain); j++)
			assert_int_equal(base64_encoder_more(&e, &b, plain + j, 1), 0);
		assert_int_equal(base64_encoder_finish(&e, &b), 0);
		assert_string_equal(buf_cstr(&b), enc);

		buf_reset(&b);
		assert_int_equal(base64_decode_strict(&b, enc, strlen(enc), &error), 0);
		assert_int_equal(b.len, strlen(plain));
		assert_memory_equal(buf_cstr(&b), plain, strlen(plain));
		assert_true(base64_decoded_max(strlen(enc)) >= strlen(plain));
		buf_release(&b);

		assert_lenient(enc, plain, strlen(plain), 0, true);
	}
}

static void
test_alphabet_table(void **state)
{
	/* Every byte value: "AAA" + c is accepted strictly exactly when c
	 * is in the alphabet, and gives back c's value in the low bits. */
	for (int c = 0; c < 256; c++) {
		char in[4] = {'A', 'A', 'A', (char)c};
		const char *pos = memchr(alphabet, c, 64);
		const char *error = NULL;
		struct buf b;

		buf_init(&b, BUF_UNLIMITED);
		int ret = base64_decode_strict(&b, in, 4, &error);
		if (c != 0 && pos != NULL) {
			assert_int_equal(ret, 0);
			assert_int_equal(b.len, 3);
			assert_int_equal((unsigned char)b.data[2], (unsigned char)(pos - alphabet));
		} else if (c == '=') {
			assert_int_equal(ret, 0); /* "AAA=" is canonical padding */
			assert_int_equal(b.len, 2);
		} else {
			assert_int_equal(ret, -1);
			assert_non_null(error);
			assert_int_equal(b.len, 0);
		}
		buf_release(&b);

		/* Lenient: whitespace is clean, other non-alphabet is junk. */
		struct lenient_result r;
		lenient(&r, in, 4, 0);
		bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
		if (c != 0 && pos != NULL) {
			assert_true(r.clean);
			assert_int_equal(r.out.len, 3);
		} else if (c == '=') {
			assert_int_equal(r.out.len, 2);
			assert_int_equal(r.finish, 0);
			assert_true(r.clean);
		} else {
			assert_int_equal(r.finish, 1);
			assert_int_equal(r.junk, ws ? 0 : 1);
		}
		buf_release(&r.out);
	}
}

static void
test_sizes(void **state)
{
	static const size_t lines[] = {0, 1, 2, 3, 4, 5, 7, 64, 72, 76};
	unsigned char data[400];
	size_t size;

	fill_random(data, sizeof(data));
	for (size_t li = 0; li < N_ELEMENTS(lines); li++) {
		for (size_t n = 0; n <= sizeof(data); n++) {
			struct buf b;
			buf_init(&b, BUF_UNLIMITED);
			assert_int_equal(base64_encode(&b, data, n, lines[li]), 0);
			assert_int_equal(base64_encoded_size(n, lines[li], &size), 0);
			assert_int_equal(size, b.len);
			/* Every line but the last is exactly line_len long. */
			if (lines[li] != 0 && b.len > 0) {
				const char *p = b.data, *end = b.data + b.len;
				for (;;) {
					const char *nl = memchr(p, '\r', (size_t)(end - p));
					if (nl == NULL) {
						assert_true((size_t)(end - p) <= lines[li]);
						assert_true(end > p);
						break;
					}
					assert_int_equal(nl - p, lines[li]);
					assert_int_equal(nl[1], '\n');
					p = nl + 2;
				}
			}
			assert_true(base64_decoded_max(b.len) >= n);
			buf_release(&b);
		}
	}

	assert_int_equal(base64_decoded_max(0), 0);
	assert_int_equal(base64_decoded_max(1), 0);
	assert_int_equal(base64_decoded_max(2), 1);
	assert_int_equal(base64_decoded_max(3), 2);
	assert_int_equal(base64_decoded_max(4), 3);
	assert_int_equal(base64_decoded_max(SIZE_MAX), SIZE_MAX / 4 * 3 + 2);

	/* Overflow is reported, never wrapped. */
	assert_int_equal(base64_encoded_size(SIZE_MAX, 0, &size), -1);
	assert_int_equal(base64_encoded_size(SIZE_MAX / 4 * 3, 0, &size), 0);
	assert_int_equal(size, SIZE_MAX / 4 * 4);
	assert_int_equal(base64_encoded_size(SIZE_MAX / 4 * 3 + 1, 0, &size), -1);
	assert_int_equal(base64_encoded_size(SIZE_MAX / 4 * 3, BASE64_MIME_LINE, &size), -1);
	assert_int_equal(base64_encoded_size(SIZE_MAX / 3, 1, &size), -1);
	assert_int_equal(base64_encoded_size(SIZE_MAX / 4 * 3, SIZE_MAX, &size), 0);
}

static void
test_mime_wrapping(void **state)
{
	unsigned char data[114];
	struct buf b;

	memset(data, 0, sizeof(data));
	buf_init(&b, BUF_UNLIMITED);
	/* 57 bytes fill one 76-character line exactly: no CRLF at all. */
	assert_int_equal(base64_encode(&b, data, 57, BASE64_MIME_LINE), 0);
	assert_int_equal(b.len, 76);
	assert_null(memchr(b.data, '\r', b.len));
	buf_reset(&b);
	assert_int_equal(base64_encode(&b, data, 58, BASE64_MIME_LINE), 0);
	assert_int_equal(b.len, 76 + 2 + 4);
	assert_memory_equal(b.data + 76, "\r\nAA==", 6);
	buf_reset(&b);
	assert_int_equal(base64_encode(&b, data, 114, BASE64_MIME_LINE), 0);
	assert_int_equal(b.len, 76 + 2 + 76);
	/* A line length that is not a multiple of 4 splits quanta. */
	buf_reset(&b);
	assert_int_equal(base64_encode(&b, "foobar", 6, 5), 0);
	assert_string_equal(buf_cstr(&b), "Zm9vY\r\nmFy");
	buf_reset(&b);
	assert_int_equal(base64_encode(&b, "fooba", 5, 3), 0);
	assert_string_equal(buf_cstr(&b), "Zm9\r\nvYm\r\nE=");
	buf_release(&b);
}

static void
assert_strict_fails(const char *in, size_t n)
{
	struct buf b;
	const char *error = NULL;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&b, "keep"), 0);
	assert_int_equal(base64_decode_strict(&b, in, n, &error), -1);
	assert_non_null(error);
	assert_string_equal(buf_cstr(&b), "keep");
	buf_release(&b);
}

static void
test_strict_errors(void **state)
{
	/* Length. */
	assert_strict_fails("Z", 1);
	assert_strict_fails("Zm", 2);
	assert_strict_fails("Zm9", 3);
	assert_strict_fails("Zm9vY", 5);
	assert_strict_fails("Zm9v=", 5);
	assert_strict_fails("Zg=", 3);
	/* Padding in the wrong place or of the wrong length. */
	assert_strict_fails("====", 4);
	assert_strict_fails("Z===", 4);
	assert_strict_fails("=Zg=", 4);
	assert_strict_fails("Zg=a", 4);
	assert_strict_fails("Zg==Zg==", 8);
	assert_strict_fails("Zm8=Zm9v", 8);
	assert_strict_fails("Zm9vZ===", 8);
	/* Non-canonical trailing bits (Zg== and Zm8= are canonical). */
	assert_strict_fails("Zh==", 4);
	assert_strict_fails("Zv==", 4);
	assert_strict_fails("Zm9=", 4);
	assert_strict_fails("Zm/=", 4);
	/* Whitespace and characters outside the alphabet, anywhere. */
	assert_strict_fails("Zm9v\r\n", 6);
	assert_strict_fails("Zm 9", 4);
	assert_strict_fails(" Zm9v   ", 8);
	assert_strict_fails("Zm9v\tmFy", 8);
	assert_strict_fails("Zm9vYmF!", 8);
	assert_strict_fails("Zm-_", 4);
	assert_strict_fails("Zm9\0", 4);
	assert_strict_fails("Zm9\xff", 4);
	assert_strict_fails("\x80Zm9", 4);
	assert_strict_fails("Zm9vYm.y", 8);

	/* The canonical neighbours are accepted. */
	struct buf b;
	const char *error = NULL;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(base64_decode_strict(&b, "Zg==", 4, &error), 0);
	assert_int_equal(base64_decode_strict(&b, "Zm8=", 4, &error), 0);
	assert_int_equal(base64_decode_strict(&b, "", 0, &error), 0);
	assert_int_equal(base64_decode_strict(&b, "AA==", 4, &error), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "ffo\0", 4);
	buf_release(&b);
}

static void
test_strict_cap(void **state)
{
	struct buf b;
	const char *error = NULL;

	/* "foobar" is 6 bytes: 5 do not fit, 6 do. */
	buf_init(&b, 5);
	assert_int_equal(base64_decode_strict(&b, "Zm9vYmFy", 8, &error), -1);
	assert_non_null(error);
	assert_int_equal(b.len, 0);
	buf_release(&b);
	buf_init(&b, 8);
	assert_int_equal(buf_add_str(&b, "ab"), 0);
	assert_int_equal(base64_decode_strict(&b, "Zm9vYmFy", 8, &error), 0);
	assert_string_equal(buf_cstr(&b), "abfoobar");
	buf_release(&b);
}

static void
test_lenient(void **state)
{
	/* Line breaks and whitespace are ignored and clean (RFC 2045 6.8). */
	assert_lenient("Zm9v\r\nYmFy", "foobar", 6, 0, true);
	assert_lenient("Zm9v\nYmFy\n", "foobar", 6, 0, true);
	assert_lenient(" Z m 9 v\tY m F y \r\n", "foobar", 6, 0, true);
	assert_lenient("Zm8=\r\n", "fo", 2, 0, true);
	assert_lenient("Zg=\r\n=\r\n", "f", 1, 0, true);
	assert_lenient("", "", 0, 0, true);
	assert_lenient("\r\n\r\n", "", 0, 0, true);
	/* Characters outside the alphabet are skipped but make it unclean. */
	assert_lenient("Zm9v!YmFy", "foobar", 6, 0, false);
	assert_lenient("Zm9v-_YmFy", "foobar", 6, 0, false);
	assert_lenient("\xffZm9vYmFy\x01", "foobar", 6, 0, false);
	/* Missing padding: the whole bytes are still decoded. */
	assert_lenient("Zm8", "fo", 2, 1, false);
	assert_lenient("Zg", "f", 1, 1, false);
	assert_lenient("Zm9vY", "foo", 3, 1, false);
	assert_lenient("Zm9vYg=", "foob", 4, 0, false);
	/* Padding ends the data: what follows is junk. */
	assert_lenient("Zm8=Zm9v", "fo", 2, 0, false);
	assert_lenient("Zg==\r\nZm9v\r\n", "f", 1, 0, false);
	assert_lenient("Zg===", "f", 1, 0, false);
	assert_lenient("Zg=x", "f", 1, 0, false);
	/* Padding where none belongs. */
	assert_lenient("=", "", 0, 0, false);
	assert_lenient("Zm9v=", "foo", 3, 0, false);
	assert_lenient("Z=", "", 0, 1, false);
	assert_lenient("Zm9vZ==", "foo", 3, 1, false);
	/* Non-canonical trailing bits lose nothing and are accepted. */
	assert_lenient("Zh==", "f", 1, 0, true);
	assert_lenient("Zm9=", "fo", 2, 0, true);

	struct lenient_result r;
	lenient(&r, "Zm9v!!YmFy??", 12, 0);
	assert_int_equal(r.junk, 4);
	buf_release(&r.out);
}

static void
test_lenient_bytewise_random(void **state)
{
	/* Inputs drawn from a mix that exercises every path: alphabet,
	 * padding, whitespace, junk. Any chunking gives the one-shot result. */
	static const char mix[] = "AZaz09+/QUJD=== \t\r\n\r\n!-_.\x80\xff";
	char in[300];

	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rnd() % sizeof(in);
		for (size_t i = 0; i < n; i++)
			in[i] = mix[rnd() % (sizeof(mix) - 1)];
		if (iter % 3 == 0) /* mostly clean data too */
			for (size_t i = 0; i < n; i++)
				in[i] = alphabet[rnd() % 64];
		struct lenient_result one, other;
		lenient(&one, in, n, 0);
		lenient(&other, in, n, 1 + rnd() % 7);
		assert_int_equal(other.out.len, one.out.len);
		assert_memory_equal(buf_cstr(&other.out), buf_cstr(&one.out), one.out.len);
		assert_int_equal(other.finish, one.finish);
		assert_int_equal(other.clean, one.clean);
		assert_int_equal(other.junk, one.junk);
		assert_true(one.out.len <= base64_decoded_max(n));
		buf_release(&one.out);
		buf_release(&other.out);
	}
}

static void
test_roundtrip_random(void **state)
{
	unsigned char data[1200];
	static const size_t lines[] = {0, BASE64_MIME_LINE, 1, 5, 64};

	for (size_t n = 0; n <= sizeof(data); n += (n < 100 ? 1 : 37)) {
		fill_random(data, n);
		for (size_t li = 0; li < N_ELEMENTS(lines); li++) {
			size_t line = lines[li];
			struct buf enc, enc2, dec;
			const char *error = NULL;

			buf_init(&enc, BUF_UNLIMITED);
			buf_init(&enc2, BUF_UNLIMITED);
			buf_init(&dec, BUF_UNLIMITED);
			assert_int_equal(base64_encode(&enc, data, n, line), 0);

			/* Incremental encoding in random chunks is identical. */
			struct base64_encoder e;
			base64_encoder_init(&e, line);
			for (size_t off = 0; off < n;) {
				size_t r = rnd() % 9; /* MIN() evaluates twice */
				size_t k = MIN(n - off, r);
				assert_int_equal(base64_encoder_more(&e, &enc2, data + off, k), 0);
				off += k;
			}
			assert_int_equal(base64_encoder_finish(&e, &enc2), 0);
			assert_int_equal(enc2.len, enc.len);
			assert_memory_equal(buf_cstr(&enc2), buf_cstr(&enc), enc.len);

			if (line == 0) {
				assert_int_equal(
				    base64_decode_strict(&dec, enc.data, enc.len, &error), 0);
				assert_int_equal(dec.len, n);
				assert_memory_equal(buf_cstr(&dec), data, n);
			} else {
				assert_int_equal(
				    base64_decode_strict(&dec, buf_cstr(&enc), enc.len, &error),
				    enc.len > line ? -1 : 0);
			}

			struct lenient_result r;
			lenient(&r, buf_cstr(&enc), enc.len, 1 + rnd() % 100);
			assert_int_equal(r.out.len, n);
			assert_memory_equal(buf_cstr(&r.out), data, n);
			assert_int_equal(r.finish, 0);
			assert_true(r.clean);
			buf_release(&r.out);
			buf_release(&enc);
			buf_release(&enc2);
			buf_release(&dec);
		}
	}
}

static void
test_encoder_cap(void **state)
{
	struct buf b;
	struct base64_encoder e;

	/* "foobar" wrapped at 4 is "Zm9v\r\nYmFy": 10 bytes. */
	buf_init(&b, 9);
	assert_int_equal(base64_encode(&b, "foobar", 6, 4), -1);
	assert_int_equal(b.len, 0);
	b.max = 10;
	assert_int_equal(base64_encode(&b, "foobar", 6, 4), 0);
	assert_string_equal(buf_cstr(&b), "Zm9v\r\nYmFy");
	buf_release(&b);

	/* A failed more() or finish() changes neither dst nor the encoder:
	 * the same call succeeds once there is room. */
	buf_init(&b, 4);
	base64_encoder_init(&e, 4);
	assert_int_equal(base64_encoder_more(&e, &b, "fooba", 5), 0);
	assert_string_equal(buf_cstr(&b), "Zm9v");
	assert_int_equal(base64_encoder_finish(&e, &b), -1);
	assert_int_equal(base64_encoder_more(&e, &b, "r", 1), -1);
	assert_string_equal(buf_cstr(&b), "Zm9v");
	b.max = 9;
	assert_int_equal(base64_encoder_more(&e, &b, "rfo", 3), -1);
	assert_string_equal(buf_cstr(&b), "Zm9v");
	b.max = 10;
	assert_int_equal(base64_encoder_more(&e, &b, "r", 1), 0);
	assert_int_equal(base64_encoder_finish(&e, &b), 0);
	assert_string_equal(buf_cstr(&b), "Zm9v\r\nYmFy");
	buf_release(&b);
}

static void
test_decoder_cap(void **state)
{
	struct buf b;
	struct base64_decoder d;

	buf_init(&b, 4);
	base64_decoder_init(&d);
	assert_int_equal(base64_decoder_more(&d, &b, "Zm9v", 4), 0);
	/* "YmFy" would make 6 bytes: refused, nothing changed. */
	assert_int_equal(base64_decoder_more(&d, &b, "\r\nYm!Fy", 7), -1);
	assert_string_equal(buf_cstr(&b), "foo");
	assert_int_equal(d.junk, 0);
	/* A partial quantum fits until it completes. */
	assert_int_equal(base64_decoder_more(&d, &b, "Ym", 2), 0);
	assert_int_equal(base64_decoder_more(&d, &b, "F", 1), 0);
	assert_int_equal(base64_decoder_finish(&d, &b), -1);
	assert_string_equal(buf_cstr(&b), "foo");
	b.max = 6;
	assert_int_equal(base64_decoder_more(&d, &b, "y", 1), 0);
	assert_int_equal(base64_decoder_finish(&d, &b), 0);
	assert_string_equal(buf_cstr(&b), "foobar");
	assert_true(base64_decoder_is_clean(&d));
	buf_release(&b);

	/* Unpadded tail at finish needs room too. */
	buf_init(&b, 1);
	base64_decoder_init(&d);
	assert_int_equal(base64_decoder_more(&d, &b, "Zm8", 3), 0);
	assert_int_equal(base64_decoder_finish(&d, &b), -1);
	assert_int_equal(b.len, 0);
	b.max = 2;
	assert_int_equal(base64_decoder_finish(&d, &b), 1);
	assert_string_equal(buf_cstr(&b), "fo");
	assert_false(base64_decoder_is_clean(&d));
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_vectors),
	    cmocka_unit_test(test_alphabet_table),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_mime_wrapping),
	    cmocka_unit_test(test_strict_errors),
	    cmocka_unit_test(test_strict_cap),
	    cmocka_unit_test(test_lenient),
	    cmocka_unit_test(test_lenient_bytewise_random),
	    cmocka_unit_test(test_roundtrip_random),
	    cmocka_unit_test(test_encoder_cap),
	    cmocka_unit_test(test_decoder_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
