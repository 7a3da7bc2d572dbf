/* fuzz_imap_search.c - libFuzzer target for SEARCH programs.
 *
 * Input: a program in IMAP argument syntax (tokenized by the test
 * tokenizer), optionally followed by "\n--MSG--\n" and a message;
 * otherwise a fixed multipart sample is searched. The sample is
 * imap_search_test.h's. Checks that parsing
 * either succeeds or gives an error text; that matching answers 0 or 1,
 * the same twice, loads at most once, and never loads for a program that
 * reads neither header nor body; and that a vanished message matches
 * nothing when the message is loaded.
 */
#include "lib/common.h"

#include <time.h>

#include "../unit/imap_args_test.h"
#include "../unit/imap_search_test.h"
#include "imap/imap_search.h"

static const char separator[] = "\n--MSG--\n";

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_imap_search: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t saved[] = {2, 3, 7, 9};
	static const struct store_message meta = {
	    .uid = 7,
	    .modseq = 42,
	    .flags = STORE_FLAG_SEEN,
	    .keywords = "$Forwarded Junk",
	    .internal_date = 760141800,
	    .crlf_size = sizeof(test_search_sample) - 1,
	};
	const uint8_t *msg = (const uint8_t *)test_search_sample, *sep;
	size_t plen = size, mlen = sizeof(test_search_sample) - 1;
	struct imap_search_program prog;
	struct imap_arg *args;
	size_t count;
	const char *error = NULL;
	bool bad;
	int r1, r2;

	sep = memmem(data, size, separator, sizeof(separator) - 1);
	if (sep != NULL) {
		plen = (size_t)(sep - data);
		msg = sep + sizeof(separator) - 1;
		mlen = size - plen - (sizeof(separator) - 1);
	}
	test_args_parse(data, plen, &args, &count);
	if (imap_search_parse(args, count, &prog, &bad, &error) < 0) {
		check(error != NULL && *error != '\0', "error text");
		test_args_free(args, count);
		return 0;
	}
	test_args_free(args, count); /* the program owns its strings */

	struct test_msg f = {.data = (const char *)msg, .len = mlen};
	struct imap_search_msg m = {
	    .seq = 3, .meta = &meta, .load = test_msg_load, .ctx = &f, .now = 760141800 + 86400};

	imap_search_resolve(&prog, 5, 9, saved, N_ELEMENTS(saved));
	r1 = imap_search_match(&prog, &m);
	check(r1 == 0 || r1 == 1, "result");
	check(f.loads <= 1, "one load");
	if (!prog.needs_header && !prog.needs_body)
		check(f.loads == 0, "no load without content keys");
	f.loads = 0;
	r2 = imap_search_match(&prog, &m);
	check(r1 == r2, "same answer twice");
	f.loads = 0;
	f.gone = true;
	r2 = imap_search_match(&prog, &m);
	check(f.loads == 0 || r2 == 0, "a vanished message matches nothing");
	imap_search_clear(&prog);
	return 0;
}
