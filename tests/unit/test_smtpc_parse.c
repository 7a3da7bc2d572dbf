/* test_smtpc_parse.c - the SMTP client's pure parts: EHLO keywords, and the
 * dot-stuffer fed whole, byte by byte and in random chunks. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtpc.h"
#include "smtpc_test.h"

/* ---- EHLO ---- */

static void
parse(const char *text, struct smtpc_peer *peer)
{
	smtpc_parse_ehlo(text, strlen(text), peer);
}

static void
test_ehlo_full(void **state)
{
	struct smtpc_peer peer = {0};

	parse("mx.example.net hello\nPIPELINING\nSIZE 10240000\n8BITMIME\nAUTH PLAIN LOGIN "
	      "CRAM-MD5\nSTARTTLS\nDSN\nENHANCEDSTATUSCODES\nCHUNKING\nBINARYMIME\nSMTPUTF8",
	      &peer);
	assert_int_equal(peer.ext, SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE | SMTPC_EXT_8BITMIME |
				       SMTPC_EXT_AUTH | SMTPC_EXT_STARTTLS | SMTPC_EXT_DSN |
				       SMTPC_EXT_ENHANCEDSTATUSCODES | SMTPC_EXT_CHUNKING |
				       SMTPC_EXT_BINARYMIME | SMTPC_EXT_SMTPUTF8);
	assert_int_equal(peer.size_max, 10240000);
	assert_int_equal(peer.auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN);

	/* The first line is the greeting, never a keyword. */
	parse("PIPELINING", &peer);
	assert_int_equal(peer.ext, 0);
	assert_int_equal(peer.size_max, 0);
	assert_int_equal(peer.auth, 0);
	parse("", &peer);
	assert_int_equal(peer.ext, 0);
}

static void
test_ehlo_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t size;
	} cases[] = {
	    {"mx\nSIZE", 0},
	    {"mx\nSIZE ", 0},
	    {"mx\nSIZE 0", 0},
	    {"mx\nSIZE 1", 1},
	    {"mx\n  size   500  ", 500},
	    {"mx\nSIZE abc", 0},
	    {"mx\nSIZE 12x", 0},
	    {"mx\nSIZE 18446744073709551615", UINT64_MAX},
	    {"mx\nSIZE 18446744073709551616", 0},
	    {"mx\nSIZE 99999999999999999999999", 0},
	    {"mx\nSIZE 100\nSIZE 200", 200},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct smtpc_peer peer = {.size_max = 7};
		parse(cases[i].text, &peer);
		assert_int_equal(peer.ext, SMTPC_EXT_SIZE);
		assert_true(peer.size_max == cases[i].size);
	}
}

static void
test_ehlo_keywords(void **state)
{
	struct smtpc_peer peer = {0};

	/* Lower case, the old AUTH= form, unknown keywords and look-alikes. */
	parse("mx\npipelining\nauth=login\nX-PIPELINING\nPIPELININGX\n8bitmime extra\nxdsn", &peer);
	assert_int_equal(peer.ext, SMTPC_EXT_PIPELINING | SMTPC_EXT_AUTH | SMTPC_EXT_8BITMIME);
	assert_int_equal(peer.auth, SMTPC_AUTH_LOGIN);
	/* AUTH without a mechanism we use, or none at all. */
	parse("mx\nAUTH CRAM-MD5 XOAUTH2", &peer);
	assert_int_equal(peer.ext, SMTPC_EXT_AUTH);
	assert_int_equal(peer.auth, 0);
	parse("mx\nAUTH", &peer);
	assert_int_equal(peer.ext, SMTPC_EXT_AUTH);
	assert_int_equal(peer.auth, 0);
	parse("mx\nAUTH  plain\tlogin ", &peer);
	assert_int_equal(peer.auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN);
	/* Empty lines and trailing line break. */
	parse("mx\n\n\nDSN\n", &peer);
	assert_int_equal(peer.ext, SMTPC_EXT_DSN);
	/* Lines are separated by '\n' only: a NUL inside stays in its line. */
	struct smtpc_peer p2 = {0};
	smtpc_parse_ehlo("mx\nDSN\0x\nSTARTTLS", 17, &p2);
	assert_int_equal(p2.ext, SMTPC_EXT_STARTTLS);
}

/* ---- stuffer ---- */

static void
stuff_chunks(const char *in, size_t len, size_t (*next)(void *), void *arg, struct buf *out)
{
	struct smtpc_stuffer st;

	smtpc_stuff_init(&st);
	for (size_t off = 0; off < len;) {
		size_t k = next(arg), n = MIN(len - off, k);
		assert_int_equal(smtpc_stuff(&st, in + off, n, out), 0);
		off += n;
	}
	assert_int_equal(smtpc_stuff_finish(&st, out), 0);
}

static size_t
chunk_all(void *arg)
{
	return SIZE_MAX;
}

static size_t
chunk_one(void *arg)
{
	return 1;
}

static size_t
chunk_random(void *arg)
{
	unsigned *seed = arg;
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) % 7; /* includes empty chunks */
}

static void
check_stuff(const char *in, size_t len, const char *expect, size_t expect_len)
{
	struct buf out, ref;
	unsigned seed = (unsigned)len;

	buf_init(&out, BUF_UNLIMITED);
	buf_init(&ref, BUF_UNLIMITED);
	stuff_reference(in, len, &ref);
	if (expect != NULL) {
		assert_int_equal(ref.len, expect_len);
		assert_memory_equal(ref.data, expect, expect_len);
	}
	size_t (*const modes[])(void *) = {chunk_all, chunk_one, chunk_random, chunk_random};
	for (size_t m = 0; m < N_ELEMENTS(modes); m++) {
		buf_reset(&out);
		stuff_chunks(in, len, modes[m], &seed, &out);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.data, ref.data, ref.len);
		assert_true(crlf_clean(out.data, out.len));
		assert_true(out.len >= 3 && memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);
		assert_true(out.len == 3 || memcmp(out.data + out.len - 5, "\r\n.\r\n", 5) == 0);
	}
	buf_release(&out);
	buf_release(&ref);
}

static void
test_stuff_cases(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ".\r\n"},
	    {"a", "a\r\n.\r\n"},
	    {"a\r\n", "a\r\n.\r\n"},
	    {".a\r\n", "..a\r\n.\r\n"},
	    {"..\r\n", "...\r\n.\r\n"},
	    {".", "..\r\n.\r\n"},
	    {"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
	    {"a\r\n.\r\n", "a\r\n..\r\n.\r\n"},
	    {"a\rb", "a\r\nb\r\n.\r\n"},
	    {"a\nb\n", "a\r\nb\r\n.\r\n"},
	    {"a\r\r\nb", "a\r\n\r\nb\r\n.\r\n"},
	    {"a\n\rb", "a\r\n\r\nb\r\n.\r\n"},
	    {"\r", "\r\n.\r\n"},
	    {"\n", "\r\n.\r\n"},
	    {"a\r", "a\r\n.\r\n"},
	    {"\n.\n", "\r\n..\r\n.\r\n"},
	    {"\r.x", "\r\n..x\r\n.\r\n"},
	    {"\r\n.", "\r\n..\r\n.\r\n"},
	    {"x.y\r\n a.", "x.y\r\n a.\r\n.\r\n"},
	    {"a\n\n.\r\r.", "a\r\n\r\n..\r\n\r\n..\r\n.\r\n"},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_stuff(cases[i].in, strlen(cases[i].in), cases[i].out, strlen(cases[i].out));
	/* NUL bytes pass through. */
	check_stuff("a\0b\r\n", 5, "a\0b\r\n.\r\n", 8);
}

static void
test_stuff_random(void **state)
{
	static const char alphabet[] = {'a', '.', '\r', '\n', ' ', '\0'};
	unsigned seed = 42;
	char in[4096];

	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)round * 19 % sizeof(in);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % sizeof(alphabet)];
		}
		check_stuff(in, len, NULL, 0);
	}
}

static void
test_stuff_cap(void **state)
{
	struct smtpc_stuffer st;
	struct buf out;

	buf_init(&out, 5);
	smtpc_stuff_init(&st);
	assert_int_equal(smtpc_stuff(&st, "abc\n", 4, &out), 0);
	assert_string_equal(buf_cstr(&out), "abc\r\n");
	assert_int_equal(smtpc_stuff(&st, "x", 1, &out), -1);
	buf_release(&out);
	buf_init(&out, 4);
	smtpc_stuff_init(&st);
	assert_int_equal(smtpc_stuff(&st, "ab\n", 3, &out), 0);
	assert_int_equal(smtpc_stuff_finish(&st, &out), -1);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ehlo_full),	  cmocka_unit_test(test_ehlo_size),
	    cmocka_unit_test(test_ehlo_keywords), cmocka_unit_test(test_stuff_cases),
	    cmocka_unit_test(test_stuff_random),  cmocka_unit_test(test_stuff_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
