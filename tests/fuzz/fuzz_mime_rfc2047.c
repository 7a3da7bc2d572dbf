/* fuzz_mime_rfc2047.c - libFuzzer target for encoded words and charsets.
 *
 * Input: byte 0 picks a charset from a fixed list (for the direct
 * conversion) and an output cap; the rest is a header value. Checks that
 * the decoded output is valid UTF-8 and holds no line break; that a call
 * refused for the cap leaves dst exactly as it was and that a refused call
 * only happens when the unlimited output is longer than the cap; and that
 * the direct charset conversion gives valid UTF-8 as well.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "mime/charset.h"
#include "mime/rfc2047.h"

static const char *const charsets[] = {
    "utf-8",	  "us-ascii",  "iso-8859-1",   "windows-1252", "ISO-2022-JP",
    "shift_jis",  "gb18030",   "UTF-16",       "UTF-7",	       "big5",
    "koi8-r",	  "x-unknown", "EUC-KR",       "UTF-32",       "ISO-2022-KR",
    "HZ-GB-2312", "",	       "iso-8859-8-i",
};

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_rfc2047: %s\n", what);
		abort();
	}
}

static void
check_utf8(const struct buf *b)
{
	struct buf again;

	buf_init(&again, BUF_UNLIMITED);
	check(mime_utf8_append_valid(&again, buf_cstr(b), b->len) == 0, "append");
	check(again.len == b->len && memcmp(buf_cstr(&again), buf_cstr(b), b->len) == 0,
	      "output is not valid UTF-8");
	buf_release(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf full, small;
	size_t cap;
	int ret;

	if (size < 1)
		return 0;
	cap = data[0] % 64;
	buf_init(&full, BUF_UNLIMITED);
	check(rfc2047_decode(&full, data + 1, size - 1) == 0, "unlimited decode failed");
	check_utf8(&full);
	check(memchr(buf_cstr(&full), '\n', full.len) == NULL, "LF in output");

	buf_init(&small, cap + 2);
	check(buf_add(&small, "<>", 2) == 0, "prefix");
	ret = rfc2047_decode(&small, data + 1, size - 1);
	if (ret < 0) {
		check(small.len == 2 && memcmp(small.data, "<>", 2) == 0, "refused call wrote");
		check(full.len > cap, "refused though it fits");
	} else {
		check(small.len == full.len + 2 &&
			  memcmp(small.data + 2, buf_cstr(&full), full.len) == 0,
		      "capped output differs");
	}
	buf_release(&small);

	buf_reset(&full);
	ret = mime_charset_to_utf8(&full, charsets[data[0] % N_ELEMENTS(charsets)], data + 1,
				   size - 1);
	check(ret == 0 || ret == 1, "charset conversion failed");
	check_utf8(&full);
	buf_release(&full);
	return 0;
}
