/* test_qp.c - quoted-printable bodies and RFC 2047 "Q" words. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/qp.h"

/* Deterministic xorshift64* so failures reproduce. */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* ---- helpers ---- */

struct decoded {
	struct buf out;
	size_t damage;
};

/* Decode in[n] in chunks of chunk bytes (0: at once). */
static void
decode_chunked(struct decoded *r, const void *in, size_t n, size_t chunk)
{
	struct qp_decoder dec;
	const char *p = in;

	buf_init(&r->out, BUF_UNLIMITED);
	qp_decoder_init(&dec);
	if (chunk == 0)
		chunk = n > 0 ? n : 1;
	for (size_t off = 0; off < n; off += chunk)
		assert_int_equal(qp_decoder_more(&dec, &r->out, p + off, MIN(chunk, n - off)), 0);
	assert_int_equal(qp_decoder_finish(&dec, &r->out), 0);
	r->damage = qp_decoder_damage(&dec);
}

static void
assert_decode_n(const char *in, size_t n, const char *want, size_t want_len, size_t want_damage)
{
	struct decoded one, bytewise;
	struct buf b;
	size_t damage = 99;

	decode_chunked(&one, in, n, 0);
	decode_chunked(&bytewise, in, n, 1);
	assert_int_equal(one.out.len, want_len);
	assert_memory_equal(buf_cstr(&one.out), want, want_len);
	assert_int_equal(one.damage, want_damage);
	assert_int_equal(bytewise.out.len, want_len);
	assert_memory_equal(buf_cstr(&bytewise.out), want, want_len);
	assert_int_equal(bytewise.damage, want_damage);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(qp_decode(&b, in, n, &damage), 0);
	assert_int_equal(b.len, want_len);
	assert_memory_equal(buf_cstr(&b), want, want_len);
	assert_int_equal(damage, want_damage);
	buf_release(&b);
	buf_release(&one.out);
	buf_release(&bytewise.out);
}

static void
assert_decode(const char *in, const char *want, size_t want_damage)
{
	assert_decode_n(in, strlen(in), want, strlen(want), want_damage);
}

/* Check what the encoder promises about its output: CRLF line breaks only,
 * lines of at most QP_LINE_MAX, no whitespace at the end of a line, only
 * printable ASCII, '=' only in "=XX" (upper-case hex) or as a soft break,
 * and no soft break at the very end. */
static void
assert_well_formed(const struct buf *enc, enum qp_mode mode)
{
	const unsigned char *p = (const unsigned char *)buf_cstr(enc);
	const unsigned char *end = p + enc->len;
	size_t col = 0;

	for (; p < end; p++) {
		unsigned char c = *p;
		if (c == '\r') {
			assert_true(mode == QP_MODE_TEXT || p[-1] == '=');
			assert_true(p + 1 < end && p[1] == '\n');
			assert_true(col == 0 || (p[-1] != ' ' && p[-1] != '\t'));
			p++;
			col = 0;
			continue;
		}
		assert_true((c >= 33 && c <= 126) || c == ' ' || c == '\t');
		col++;
		assert_true(col <= QP_LINE_MAX);
		if (c == '=') {
			if (p + 1 < end && p[1] == '\r')
				continue; /* soft break */
			assert_true(end - p >= 3);
			assert_non_null(memchr("0123456789ABCDEF", p[1], 16));
			assert_non_null(memchr("0123456789ABCDEF", p[2], 16));
		}
	}
	if (enc->len > 0) {
		unsigned char last = (unsigned char)enc->data[enc->len - 1];
		assert_true(last != ' ' && last != '\t');
		if (enc->len >= 3 && enc->data[enc->len - 1] == '\n')
			assert_true(enc->data[enc->len - 3] != '=');
	}
}

static void
assert_encode_n(const char *in, size_t n, enum qp_mode mode, const char *want)
{
	struct buf b, inc;
	struct qp_encoder enc;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(qp_encode(&b, in, n, mode), 0);
	assert_string_equal(buf_cstr(&b), want);
	assert_well_formed(&b, mode);
	/* One byte at a time gives the same. */
	buf_init(&inc, BUF_UNLIMITED);
	qp_encoder_init(&enc, mode);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(qp_encoder_more(&enc, &inc, in + i, 1), 0);
	assert_int_equal(qp_encoder_finish(&enc, &inc), 0);
	assert_string_equal(buf_cstr(&inc), want);
	buf_release(&b);
	buf_release(&inc);
}

static void
assert_encode(const char *in, enum qp_mode mode, const char *want)
{
	assert_encode_n(in, strlen(in), mode, want);
}

static char *
repeat(char c, size_t n, const char *suffix)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_add_char(&b, c), 0);
	assert_int_equal(buf_add_str(&b, suffix), 0);
	return buf_steal(&b);
}

/* ---- encoder ---- */

static void
test_encode_basic(void **state)
{
	assert_encode("", QP_MODE_TEXT, "");
	assert_encode("Hello, World!", QP_MODE_TEXT, "Hello, World!");
	assert_encode("Hello=World", QP_MODE_TEXT, "Hello=3DWorld");
	assert_encode("caf\xc3\xa9", QP_MODE_TEXT, "caf=C3=A9");
	assert_encode("\x01\x7f\x80\xff", QP_MODE_TEXT, "=01=7F=80=FF");
	assert_encode_n("a\0b", 3, QP_MODE_TEXT, "a=00b");
	/* Whitespace is literal except at the end of a line or the input. */
	assert_encode("a  b\tc", QP_MODE_TEXT, "a  b\tc");
	assert_encode("a \r\nb", QP_MODE_TEXT, "a=20\r\nb");
	assert_encode("a\t\r\nb", QP_MODE_TEXT, "a=09\r\nb");
	assert_encode("a  \r\n", QP_MODE_TEXT, "a =20\r\n");
	assert_encode("a ", QP_MODE_TEXT, "a=20");
	assert_encode("a\t", QP_MODE_TEXT, "a=09");
	assert_encode(" ", QP_MODE_TEXT, "=20");
	/* Line breaks in text mode: CRLF kept, bare LF made CRLF, bare CR
	 * escaped. */
	assert_encode("a\r\nb\r\n", QP_MODE_TEXT, "a\r\nb\r\n");
	assert_encode("a\nb\n", QP_MODE_TEXT, "a\r\nb\r\n");
	assert_encode("a \n", QP_MODE_TEXT, "a=20\r\n");
	assert_encode("a\rb", QP_MODE_TEXT, "a=0Db");
	assert_encode("a \rb", QP_MODE_TEXT, "a =0Db");
	assert_encode("a\r", QP_MODE_TEXT, "a=0D");
	assert_encode("a \r", QP_MODE_TEXT, "a =0D");
	assert_encode("\r\r\n", QP_MODE_TEXT, "=0D\r\n");
	assert_encode("\r\n\r\n", QP_MODE_TEXT, "\r\n\r\n");
	/* Binary mode: no hard breaks at all. */
	assert_encode("a\r\nb", QP_MODE_BINARY, "a=0D=0Ab");
	assert_encode("a \r\n", QP_MODE_BINARY, "a =0D=0A");
	assert_encode("a\nb ", QP_MODE_BINARY, "a=0Ab=20");
	assert_encode("=", QP_MODE_BINARY, "=3D");
}

static void
test_encode_soft_breaks(void **state)
{
	char *in, *want;

	/* A long line is cut at 75 characters plus the '='. */
	in = repeat('x', 100, "");
	want = repeat('x', 75, "=\r\nxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	/* 75 characters and a hard break need no soft break. */
	in = repeat('x', 75, "\r\ny");
	assert_encode(in, QP_MODE_TEXT, in);
	free(in);
	in = repeat('x', 76, "\r\n");
	want = repeat('x', 75, "=\r\nx\r\n");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	/* An escape is never split across lines. */
	in = repeat('x', 73, "\xc3\xa9");
	want = repeat('x', 73, "=\r\n=C3=A9");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	in = repeat('x', 72, "\xc3");
	want = repeat('x', 72, "=C3");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	/* Trailing space escaped after a soft break when it does not fit. */
	in = repeat('x', 74, " \r\n");
	want = repeat('x', 74, "=\r\n=20\r\n");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	/* A literal space may end a line before the soft-break '='. */
	in = repeat('x', 74, " yz");
	want = repeat('x', 74, " =\r\nyz");
	assert_encode(in, QP_MODE_TEXT, want);
	free(in);
	free(want);
	/* Long binary input: many soft breaks, all lines full. */
	in = repeat('\xff', 60, "");
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(qp_encode(&b, in, 60, QP_MODE_BINARY), 0);
	assert_well_formed(&b, QP_MODE_BINARY);
	/* 25 escapes fill 75 columns; 60 escapes make lines of 25, 25, 10. */
	assert_int_equal(b.len, 60 * 3 + 2 * 3);
	assert_memory_equal(b.data + 75, "=\r\n=FF", 6);
	buf_release(&b);
	free(in);
}

static void
test_encode_rfc2045_example(void **state)
{
	/* RFC 2045 6.7 (5): the example decodes to one line; encoding that
	 * line again gives well-formed output that decodes back. */
	const char *line = "Now's the time for all folk to come to the aid of their country.";
	struct buf enc, dec;
	size_t damage = 9;

	buf_init(&enc, BUF_UNLIMITED);
	buf_init(&dec, BUF_UNLIMITED);
	assert_int_equal(qp_encode(&enc, line, strlen(line), QP_MODE_TEXT), 0);
	assert_string_equal(buf_cstr(&enc), line); /* 65 characters: one line */
	assert_int_equal(qp_decode(&dec, enc.data, enc.len, &damage), 0);
	assert_string_equal(buf_cstr(&dec), line);
	assert_int_equal(damage, 0);
	buf_release(&enc);
	buf_release(&dec);
}

/* ---- decoder ---- */

static void
test_decode_basic(void **state)
{
	assert_decode("", "", 0);
	assert_decode("plain text", "plain text", 0);
	assert_decode("=41=4a=4A", "AJJ", 0);
	assert_decode("a=3D=3d", "a==", 0);
	assert_decode("=0D=0A", "\r\n", 0);
	assert_decode("caf=C3=A9", "caf\xc3\xa9", 0);
	assert_decode_n("=00\xff", 4, "\0\xff", 2, 0);
	/* RFC 2045 6.7 rule 5 example. */
	assert_decode("Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.",
		      "Now's the time for all folk to come to the aid of their country.", 0);
	/* Hard line breaks pass through as they are. */
	assert_decode("a\r\nb\nc\r\n", "a\r\nb\nc\r\n", 0);
}

static void
test_decode_soft_breaks(void **state)
{
	assert_decode("a=\r\nb", "ab", 0);
	assert_decode("a=\nb", "ab", 0);
	assert_decode("a= \t\r\nb", "ab", 0);
	assert_decode("a=  \nb", "ab", 0);
	assert_decode("=\r\n=\r\n", "", 0);
	/* A soft break at the end of the input (no final line break). */
	assert_decode("=", "", 0);
	assert_decode("a=", "a", 0);
	assert_decode("a=  ", "a", 0);
}

static void
test_decode_trailing_whitespace(void **state)
{
	/* Rule 3: whitespace at the end of a line is transport padding. */
	assert_decode("abc  \r\ndef\t\n", "abc\r\ndef\n", 0);
	assert_decode("a  ", "a", 0);
	assert_decode(" \t \r\n", "\r\n", 0);
	/* Whitespace inside a line or before '=' is text. */
	assert_decode("a \t b", "a \t b", 0);
	assert_decode("a =\r\nb", "a b", 0);
	assert_decode("a =20\r\n", "a  \r\n", 0);
	/* A bare CR is not a line break: whitespace before it stays. */
	assert_decode("a\rb", "a\rb", 0);
	assert_decode("a \rb", "a \rb", 0);
	assert_decode("a \r", "a \r", 0);

	/* A run longer than the hold: kept when text follows ... */
	char *in = repeat(' ', 200, "x");
	assert_decode(in, in, 0);
	free(in);
	/* ... and counted as damage when it turns out to end a line, since
	 * its first QP_WS_HOLD bytes were already written. */
	in = repeat(' ', 200, "\r\n");
	char *want = repeat(' ', QP_WS_HOLD, "\r\n");
	assert_decode(in, want, 1);
	free(in);
	free(want);
	/* Exactly QP_WS_HOLD is still held and removed. */
	in = repeat(' ', QP_WS_HOLD, "\r\n");
	assert_decode(in, "\r\n", 0);
	free(in);
}

static void
test_decode_malformed(void **state)
{
	/* Malformed '=' sequences pass through literally, counted. */
	assert_decode("=G1", "=G1", 1);
	assert_decode("=4G", "=4G", 1);
	assert_decode("=4", "=4", 1);
	assert_decode("a=4\r\n", "a=4\r\n", 1);
	assert_decode("= x", "= x", 1);
	assert_decode("=\tx", "=\tx", 1);
	assert_decode("==41", "=A", 1);
	assert_decode("=4=41", "=4A", 1);
	assert_decode("=\rx", "=\rx", 1);
	assert_decode("=\r", "=\r", 1);
	assert_decode("= \r", "= \r", 1);
	assert_decode("= \rx", "= \rx", 1);
	assert_decode("x=\r=\n", "x=\r", 1);
	assert_decode("=Z=Y=X", "=Z=Y=X", 3);
	assert_decode("a=\xff", "a=\xff", 1);
	/* Whitespace after '=' beyond any hold: the '=' is not taken for a
	 * soft break, and the run ends a line after it was spilled. */
	char *in = repeat(' ', 200, "\r\n");
	in[0] = '=';
	char *want = repeat(' ', 1 + QP_WS_HOLD, "\r\n");
	want[0] = '=';
	assert_decode(in, want, 2);
	free(in);
	free(want);
}

static void
test_decode_bytewise_random(void **state)
{
	/* Every path, every split: chunked decoding equals one-shot. */
	static const char mix[] = "==  \t\r\n\r\n=\r\n4aAFfG0x\xff\x00";
	char in[400];

	for (int iter = 0; iter < 5000; iter++) {
		size_t n = rnd() % sizeof(in);
		for (size_t i = 0; i < n; i++)
			in[i] = mix[rnd() % (sizeof(mix) - 1)];
		if (iter % 50 == 0) /* long whitespace runs */
			for (size_t i = rnd() % (n + 1); i < n; i++)
				in[i] = rnd() % 3 ? ' ' : '\t';
		struct decoded one, other;
		decode_chunked(&one, in, n, 0);
		decode_chunked(&other, in, n, 1 + rnd() % 9);
		assert_int_equal(other.out.len, one.out.len);
		assert_memory_equal(buf_cstr(&other.out), buf_cstr(&one.out), one.out.len);
		assert_int_equal(other.damage, one.damage);
		assert_true(one.out.len <= n);
		buf_release(&one.out);
		buf_release(&other.out);
	}
}

/* ---- round trips ---- */

/* Text mode gives back the input with each bare LF made CRLF. */
static void
normalize_text(struct buf *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			assert_int_equal(buf_add_char(out, '\r'), 0);
		assert_int_equal(buf_add_char(out, (char)in[i]), 0);
	}
}

static void
roundtrip(const unsigned char *data, size_t n, enum qp_mode mode)
{
	struct buf enc, enc2, want;
	struct qp_encoder e;

	buf_init(&enc, BUF_UNLIMITED);
	buf_init(&enc2, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	assert_int_equal(qp_encode(&enc, data, n, mode), 0);
	assert_well_formed(&enc, mode);

	qp_encoder_init(&e, mode);
	for (size_t off = 0; off < n;) {
		size_t r = rnd() % 12; /* MIN() evaluates twice */
		size_t k = MIN(n - off, r);
		assert_int_equal(qp_encoder_more(&e, &enc2, data + off, k), 0);
		off += k;
	}
	assert_int_equal(qp_encoder_finish(&e, &enc2), 0);
	assert_int_equal(enc2.len, enc.len);
	assert_memory_equal(buf_cstr(&enc2), buf_cstr(&enc), enc.len);

	if (mode == QP_MODE_TEXT)
		normalize_text(&want, data, n);
	else
		assert_int_equal(buf_add(&want, data, n), 0);
	struct decoded d;
	decode_chunked(&d, buf_cstr(&enc), enc.len, 1 + rnd() % 80);
	assert_int_equal(d.out.len, want.len);
	assert_memory_equal(buf_cstr(&d.out), buf_cstr(&want), want.len);
	assert_int_equal(d.damage, 0);
	buf_release(&d.out);
	buf_release(&enc);
	buf_release(&enc2);
	buf_release(&want);
}

static void
test_roundtrip_random(void **state)
{
	unsigned char data[1500] = {0};
	static const char texty[] = "  \t\r\n\nabc=.\r\xc3\xa9";

	for (size_t n = 0; n <= sizeof(data); n += (n < 200 ? 1 : 53)) {
		/* Random binary. */
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)rnd();
		roundtrip(data, n, QP_MODE_BINARY);
		roundtrip(data, n, QP_MODE_TEXT);
		/* Text-like, dense in whitespace and line breaks. */
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)texty[rnd() % (sizeof(texty) - 1)];
		roundtrip(data, n, QP_MODE_BINARY);
		roundtrip(data, n, QP_MODE_TEXT);
	}
}

static void
test_encoder_cap(void **state)
{
	struct buf b;
	struct qp_encoder e;

	buf_init(&b, 5);
	assert_int_equal(qp_encode(&b, "a=b", 3, QP_MODE_TEXT), 0);
	assert_string_equal(buf_cstr(&b), "a=3Db");
	buf_reset(&b);
	assert_int_equal(qp_encode(&b, "a=b ", 4, QP_MODE_TEXT), -1);
	assert_int_equal(b.len, 0);

	/* A failed call changes neither dst nor the encoder. */
	qp_encoder_init(&e, QP_MODE_TEXT);
	assert_int_equal(qp_encoder_more(&e, &b, "ab ", 3), 0);
	assert_string_equal(buf_cstr(&b), "ab");
	b.max = 4;
	assert_int_equal(qp_encoder_finish(&e, &b), -1); /* needs "=20" */
	assert_int_equal(qp_encoder_more(&e, &b, "\r\n", 2), -1);
	assert_string_equal(buf_cstr(&b), "ab");
	b.max = 7;
	assert_int_equal(qp_encoder_more(&e, &b, "\r\n", 2), 0);
	assert_int_equal(qp_encoder_finish(&e, &b), 0);
	assert_string_equal(buf_cstr(&b), "ab=20\r\n");
	buf_release(&b);

	/* Across the internal slices: a long input that does not fit leaves
	 * dst as it was. */
	char *big = repeat('\xff', 20000, "");
	buf_init(&b, 50000);
	assert_int_equal(buf_add_str(&b, "keep"), 0);
	qp_encoder_init(&e, QP_MODE_BINARY);
	assert_int_equal(qp_encoder_more(&e, &b, big, 20000), -1);
	assert_string_equal(buf_cstr(&b), "keep");
	b.max = BUF_UNLIMITED;
	assert_int_equal(qp_encoder_more(&e, &b, big, 20000), 0);
	assert_int_equal(qp_encoder_finish(&e, &b), 0);
	struct buf whole;
	buf_init(&whole, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&whole, "keep"), 0);
	assert_int_equal(qp_encode(&whole, big, 20000, QP_MODE_BINARY), 0);
	assert_int_equal(b.len, whole.len);
	assert_memory_equal(b.data, whole.data, b.len);
	buf_release(&whole);
	buf_release(&b);
	free(big);
}

static void
test_decoder_cap(void **state)
{
	struct buf b;
	struct qp_decoder d;

	buf_init(&b, 3);
	qp_decoder_init(&d);
	assert_int_equal(qp_decoder_more(&d, &b, "ab  ", 4), 0);
	assert_string_equal(buf_cstr(&b), "ab");
	/* The held spaces become text: 5 bytes do not fit. */
	assert_int_equal(qp_decoder_more(&d, &b, "c", 1), -1);
	assert_string_equal(buf_cstr(&b), "ab");
	/* The state is intact: a line end still drops them. */
	assert_int_equal(qp_decoder_more(&d, &b, "\n=4", 3), 0);
	assert_string_equal(buf_cstr(&b), "ab\n");
	assert_int_equal(qp_decoder_finish(&d, &b), -1); /* "=4" literal */
	assert_int_equal(qp_decoder_damage(&d), 0);
	b.max = 5;
	assert_int_equal(qp_decoder_finish(&d, &b), 0);
	assert_string_equal(buf_cstr(&b), "ab\n=4");
	assert_int_equal(qp_decoder_damage(&d), 1);
	buf_release(&b);

	buf_init(&b, 2);
	assert_int_equal(qp_decode(&b, "=41=42=43", 9, NULL), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(qp_decode(&b, "=41=42", 6, NULL), 0);
	assert_string_equal(buf_cstr(&b), "AB");
	buf_release(&b);
}

/* ---- RFC 2047 Q ---- */

static void
assert_q(const char *in, size_t n, const char *want)
{
	struct buf b, back;
	size_t damage = 9;

	buf_init(&b, BUF_UNLIMITED);
	buf_init(&back, BUF_UNLIMITED);
	assert_int_equal(qp_encode_q(&b, in, n), 0);
	assert_string_equal(buf_cstr(&b), want);
	assert_int_equal(qp_q_encoded_size(in, n), b.len);
	assert_int_equal(qp_decode_q(&back, b.data, b.len, &damage), 0);
	assert_int_equal(back.len, n);
	assert_memory_equal(buf_cstr(&back), in, n);
	assert_int_equal(damage, 0);
	buf_release(&b);
	buf_release(&back);
}

static void
test_q_encode(void **state)
{
	/* RFC 2047 section 8 example. */
	assert_q("Keld J\xf8rn Simonsen", 18, "Keld_J=F8rn_Simonsen");
	assert_q("Andr\xe9 Pirard", 12, "Andr=E9_Pirard");
	assert_q("", 0, "");
	assert_q("a_b=c?d", 7, "a=5Fb=3Dc=3Fd");
	assert_q("!*+-/", 5, "!*+-/");
	assert_q("(x)\"<>@,;:.[]\\", 14, "=28x=29=22=3C=3E=40=2C=3B=3A=2E=5B=5D=5C");
	assert_q("\t\r\n\x7f", 4, "=09=0D=0A=7F");

	/* Every byte: its size agrees with the encoder, the output uses only
	 * the safe set, '_' and "=XX", and it decodes back. */
	for (int c = 0; c < 256; c++) {
		unsigned char in = (unsigned char)c;
		struct buf b, back;
		buf_init(&b, BUF_UNLIMITED);
		buf_init(&back, BUF_UNLIMITED);
		assert_int_equal(qp_encode_q(&b, &in, 1), 0);
		assert_int_equal(b.len, qp_q_char_size(in));
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (alnum || (c != 0 && strchr("!*+-/", c) != NULL))
			assert_int_equal(b.len, 1);
		else if (c == ' ')
			assert_string_equal(b.data, "_");
		else
			assert_int_equal(b.data[0], '=');
		assert_int_equal(qp_decode_q(&back, b.data, b.len, NULL), 0);
		assert_int_equal(back.len, 1);
		assert_int_equal((unsigned char)back.data[0], in);
		buf_release(&b);
		buf_release(&back);
	}
	assert_int_equal(qp_q_encoded_size("x", SIZE_MAX / 3 + 1), SIZE_MAX);
}

static void
test_q_decode(void **state)
{
	static const struct {
		const char *in, *out;
		size_t damage;
	} vec[] = {
	    {"a_b", "a b", 0}, {"=3d=3D", "==", 0},
	    {"a=", "a=", 1},   {"=4", "=4", 1},
	    {"=G0", "=G0", 1}, {"=4g", "=4g", 1},
	    {"a b", "a b", 0}, {"==41", "=A", 1},
	    {"=5F_", "_ ", 0}, {"=E2=82=AC", "\xe2\x82\xac", 0},
	};

	for (size_t i = 0; i < N_ELEMENTS(vec); i++) {
		struct buf b;
		size_t damage = 99;
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(qp_decode_q(&b, vec[i].in, strlen(vec[i].in), &damage), 0);
		assert_string_equal(buf_cstr(&b), vec[i].out);
		assert_int_equal(damage, vec[i].damage);
		buf_release(&b);
	}

	struct buf b;
	buf_init(&b, 2);
	assert_int_equal(qp_decode_q(&b, "abc", 3, NULL), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(qp_decode_q(&b, "=41_", 4, NULL), 0);
	assert_string_equal(buf_cstr(&b), "A ");
	assert_int_equal(qp_encode_q(&b, "x", 1), -1);
	assert_string_equal(buf_cstr(&b), "A ");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_basic),
	    cmocka_unit_test(test_encode_soft_breaks),
	    cmocka_unit_test(test_encode_rfc2045_example),
	    cmocka_unit_test(test_decode_basic),
	    cmocka_unit_test(test_decode_soft_breaks),
	    cmocka_unit_test(test_decode_trailing_whitespace),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test(test_decode_bytewise_random),
	    cmocka_unit_test(test_roundtrip_random),
	    cmocka_unit_test(test_encoder_cap),
	    cmocka_unit_test(test_decoder_cap),
	    cmocka_unit_test(test_q_encode),
	    cmocka_unit_test(test_q_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
