/* fuzz_downgrade.c - libFuzzer target for the 8-bit to 7-bit conversion.
 *
 * Input: the message. Checks that a successful conversion is 7-bit
 * (mime_is_7bit) without the internal safety check having to step in,
 * that a failed one leaves the output as it was, that a 7-bit message
 * comes out unchanged, and that converting the result again changes
 * nothing.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "mime/downgrade.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_downgrade: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct buf out, again;
	const char *error = NULL;

	buf_init(&out, 16 * size + 4096);
	check(buf_add_str(&out, "x") == 0, "buf");
	if (mime_downgrade(msg, size, &out, &error) == 0) {
		check(mime_is_7bit(out.data + 1, out.len - 1), "result not 7-bit");
		if (mime_is_7bit(msg, size))
			check(out.len - 1 == size && memcmp(out.data + 1, msg, size) == 0,
			      "7-bit message changed");
		buf_init(&again, BUF_UNLIMITED);
		check(mime_downgrade(out.data + 1, out.len - 1, &again, &error) == 0 &&
			      again.len == out.len - 1 && memcmp(again.data, out.data + 1, again.len) == 0,
		      "second conversion changed the result");
		buf_release(&again);
	} else {
		check(error != NULL &&
			  strcmp(error, "internal error: conversion left 8-bit data") != 0,
		      "error");
		check(out.len == 1, "failed conversion wrote");
	}
	buf_release(&out);
	return 0;
}
