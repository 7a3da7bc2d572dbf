/* test_smtp_data.c - the DATA/BDAT content reader: dot-unstuffing, end of
 * data, SMTP smuggling sequences, normalising, size limit, header observer;
 * every case is also fed one byte at a time, at every two-chunk split and in
 * random splits, and must give the one-shot result. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp_data.h"

struct outcome {
	struct buf out;
	enum smtp_data_status status;
	size_t consumed;
	enum smtp_data_result result;
	uint64_t bad_offset;
	uint64_t size;
	bool ends_with_eol;
	unsigned header_calls;
	size_t header_at; /* out.len when header_end ran */
	struct smtp_header_info info;
	const char *insert; /* header_end appends this to the output */
	bool fail_sink;
};

static int
sink(void *ctx, const char *data, size_t len)
{
	struct outcome *o = ctx;

	assert_true(len > 0);
	if (o->fail_sink)
		return -1;
	return buf_add(&o->out, data, len);
}

static int
on_header(void *ctx, const struct smtp_header_info *info)
{
	struct outcome *o = ctx;

	o->header_calls++;
	o->header_at = o->out.len;
	o->info = *info;
	if (o->insert != NULL && buf_add_str(&o->out, o->insert) < 0)
		return -1;
	return 0;
}

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

enum split {
	SPLIT_ONE_SHOT,
	SPLIT_STEP,   /* fixed steps of `arg` bytes */
	SPLIT_AT,     /* two chunks, cut at `arg` */
	SPLIT_RANDOM, /* random chunk sizes */
};

static size_t
next_chunk(enum split how, size_t arg, size_t off, size_t len)
{
	size_t left = len - off;

	switch (how) {
	case SPLIT_ONE_SHOT:
		return left;
	case SPLIT_STEP:
		return MIN(arg, left);
	case SPLIT_AT:
		return off < arg ? MIN(arg - off, left) : left;
	case SPLIT_RANDOM: {
		size_t n = 1 + rng() % 9; /* MIN evaluates its arguments twice */
		return MIN(n, left);
	}
	}
	return left;
}

static void
run(const char *in, size_t len, const struct smtp_data_options *base, enum split how, size_t arg,
    struct outcome *o, const char *insert, bool fail_sink)
{
	struct smtp_data_options opts = *base;
	struct smtp_data_reader *r = malloc(sizeof(*r));

	assert_non_null(r);
	memset(o, 0, sizeof(*o));
	buf_init(&o->out, 1 << 20);
	o->insert = insert;
	o->fail_sink = fail_sink;
	opts.sink = sink;
	opts.header_end = on_header;
	opts.ctx = o;
	smtp_data_init(r, &opts);
	o->status = SMTP_DATA_MORE;
	for (size_t off = 0; off < len;) {
		size_t n = next_chunk(how, arg, off, len), used;
		o->status = smtp_data_feed(r, in + off, n, &used);
		assert_true(used <= n);
		o->consumed += used;
		if (o->status == SMTP_DATA_DONE)
			break;
		assert_int_equal(used, n);
		off += n;
	}
	if (opts.mode == SMTP_DATA_BDAT)
		assert_int_equal(smtp_data_finish(r), 0);
	o->result = smtp_data_result(r);
	o->bad_offset = r->bad_offset;
	o->size = r->size;
	o->ends_with_eol = r->ends_with_eol;
	free(r);
}

static void
same_info(const struct smtp_header_info *a, const struct smtp_header_info *b)
{
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->line_too_long, b->line_too_long);
	assert_true(a->size == b->size);
	assert_int_equal(a->fields, b->fields);
	assert_int_equal(a->message_id, b->message_id);
	assert_int_equal(a->date, b->date);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->sender, b->sender);
	assert_int_equal(a->received, b->received);
	assert_int_equal(a->from_len, b->from_len);
	assert_memory_equal(a->from_value, b->from_value, a->from_len);
	assert_int_equal(a->from_truncated, b->from_truncated);
}

/* Run in one shot into *o, then every other way, requiring the same. */
static void
run_all(const char *in, size_t len, const struct smtp_data_options *opts, struct outcome *o,
	const char *insert)
{
	run(in, len, opts, SPLIT_ONE_SHOT, 0, o, insert, false);
	for (int k = 0; k < 4 + (int)len + 40; k++) {
		struct outcome x;
		if (k < 4)
			run(in, len, opts, SPLIT_STEP, (size_t[]){1, 2, 3, 7}[k], &x, insert, false);
		else if (k < 4 + (int)len)
			run(in, len, opts, SPLIT_AT, (size_t)(k - 4), &x, insert, false);
		else
			run(in, len, opts, SPLIT_RANDOM, 0, &x, insert, false);
		if (x.status != o->status || x.consumed != o->consumed)
			fail_msg("split %d of '%.*s': status %d/%d consumed %zu/%zu", k, (int)len, in,
				 x.status, o->status, x.consumed, o->consumed);
		assert_int_equal(x.result, o->result);
		assert_true(x.bad_offset == o->bad_offset);
		assert_true(x.size == o->size);
		assert_int_equal(x.ends_with_eol, o->ends_with_eol);
		assert_int_equal(x.header_calls, o->header_calls);
		/* even for a refused message, what was delivered is the same */
		assert_int_equal(x.out.len, o->out.len);
		assert_memory_equal(x.out.data, o->out.data, o->out.len);
		if (o->header_calls > 0) {
			assert_int_equal(x.header_at, o->header_at);
			same_info(&x.info, &o->info);
		}
		buf_release(&x.out);
	}
}

#define RUN_ALL(s, opts, o) run_all((s), strlen(s), (opts), (o), NULL)

static struct smtp_data_options
data_opts(void)
{
	struct smtp_data_options o;

	smtp_data_options_init(&o);
	return o;
}

static struct smtp_data_options
bdat_opts(void)
{
	struct smtp_data_options o;

	smtp_data_options_init(&o);
	o.mode = SMTP_DATA_BDAT;
	return o;
}

/* A DATA input that must end exactly at its end, accepted, giving want. */
static void
expect_data(const char *in, const struct smtp_data_options *opts, const char *want, int line)
{
	struct outcome o;
	size_t len = strlen(in);

	run_all(in, len, opts, &o, NULL);
	if (o.status != SMTP_DATA_DONE || o.consumed != len || o.result != SMTP_DATA_OK ||
	    strcmp(buf_cstr(&o.out), want) != 0) {
		fail_msg("line %d: status %d consumed %zu/%zu result %d out '%s' want '%s'", line,
			 o.status, o.consumed, len, o.result, buf_cstr(&o.out), want);
	}
	buf_release(&o.out);
}

#define EXPECT_DATA(in, opts, want) expect_data((in), (opts), (want), __LINE__)

/* ---- DATA basics and dot-stuffing ---- */

static void
test_basic(void **state)
{
	struct smtp_data_options o = data_opts();

	EXPECT_DATA("Subject: x\r\n\r\nHello\r\n.\r\n", &o, "Subject: x\r\n\r\nHello\r\n");
	/* The very first line counts as a line start. */
	EXPECT_DATA(".\r\n", &o, "");
	EXPECT_DATA("\r\n.\r\n", &o, "\r\n");
	EXPECT_DATA("a\r\n\r\n\r\n.\r\n", &o, "a\r\n\r\n\r\n");

	o.output_lf = true;
	EXPECT_DATA("A: b\r\n\r\nline 1\r\nline 2\r\n.\r\n", &o, "A: b\n\nline 1\nline 2\n");

	/* What follows the end belongs to the next command. */
	struct outcome r;
	const char *in = "body\r\n.\r\nQUIT\r\n";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.consumed, strlen("body\r\n.\r\n"));
	assert_string_equal(buf_cstr(&r.out), "body\n");
	buf_release(&r.out);

	/* No end yet: all consumed, MORE. */
	o = data_opts();
	in = "body\r\n.";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.status, SMTP_DATA_MORE);
	assert_int_equal(r.consumed, strlen(in));
	buf_release(&r.out);
}

static void
test_dot_stuffing(void **state)
{
	struct smtp_data_options o = data_opts();

	EXPECT_DATA("..\r\n.\r\n", &o, ".\r\n");
	EXPECT_DATA("..foo\r\n.\r\n", &o, ".foo\r\n");
	EXPECT_DATA("...\r\n.\r\n", &o, "..\r\n");
	EXPECT_DATA("a\r\n..\r\nb\r\n.\r\n", &o, "a\r\n.\r\nb\r\n");
	/* RFC 5321 4.5.2: a first dot before other text is removed even when
	 * the client forgot to double it. */
	EXPECT_DATA(".foo\r\n.\r\n", &o, "foo\r\n");
	EXPECT_DATA(". \r\n.\r\n", &o, " \r\n");
	/* A dot that does not start a line is content. */
	EXPECT_DATA("a.\r\n.\r\n", &o, "a.\r\n");
	EXPECT_DATA("a.b\r\n.\r\n", &o, "a.b\r\n");
	/* ".\r\n" inside a line is not the end. */
	EXPECT_DATA("abc.\r\ndef\r\n.\r\n", &o, "abc.\r\ndef\r\n");
	EXPECT_DATA("x\r\n.x.\r\n.\r\n", &o, "x\r\nx.\r\n");
	/* A dot line after an empty line ends. */
	EXPECT_DATA("H: v\r\n\r\n.\r\n", &o, "H: v\r\n\r\n");
	o.output_lf = true;
	EXPECT_DATA("..\r\n...\r\n.\r\n", &o, ".\n..\n");
}

/* The end split at every position, with a line-start dot on each side. */
static void
test_end_split_everywhere(void **state)
{
	struct smtp_data_options o = data_opts();
	const char *in = "From: a@b\r\nSubject: s\r\n\r\n..x\r\n.\r\n.\r\n";
	struct outcome r;

	/* run_all tries one byte at a time, every two-chunk split and random
	 * splits, and compares each with the one-shot run. */
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.consumed, strlen("From: a@b\r\nSubject: s\r\n\r\n..x\r\n.\r\n"));
	assert_string_equal(buf_cstr(&r.out), "From: a@b\r\nSubject: s\r\n\r\n.x\r\n");
	buf_release(&r.out);

	/* A long body, with stuffed dots all over, in random splits. */
	struct buf big;
	buf_init(&big, BUF_UNLIMITED);
	struct buf want;
	buf_init(&want, BUF_UNLIMITED);
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(buf_printf(&big, "%s%d\r\n", i % 7 == 0 ? ".." : "", i), 0);
		assert_int_equal(buf_printf(&want, "%s%d\r\n", i % 7 == 0 ? "." : "", i), 0);
	}
	assert_int_equal(buf_add_str(&big, ".\r\nNOOP\r\n"), 0);
	for (int k = 0; k < 20; k++) {
		run(big.data, big.len, &o, k == 0 ? SPLIT_ONE_SHOT : SPLIT_RANDOM, 0, &r, NULL,
		    false);
		assert_int_equal(r.status, SMTP_DATA_DONE);
		assert_int_equal(r.consumed, big.len - strlen("NOOP\r\n"));
		assert_int_equal(r.out.len, want.len);
		assert_memory_equal(r.out.data, want.data, want.len);
		buf_release(&r.out);
	}
	buf_release(&big);
	buf_release(&want);
}

/* ---- SMTP smuggling ---- */

/* The end-of-data sequences of the SMTP smuggling research (SEC Consult,
 * Timo Longin, December 2023), as listed in its scanner
 * (github.com/The-Login/SMTP-Smuggling-Tools, smtp_smuggling_scanner.py):
 *   inbound:  "\n.\n"  "\n.\r"  "\r.\n"  "\r.\r"  "\n.\r\n"  "\r.\r\n"
 *             "\r\n\x00.\r\n"
 *   outbound: the same plus "\r\n.\r\r\n"  "\r\r\n.\r\r\n"
 * and some friends of theirs. The scanner puts each one after a CRLF and
 * before CRLF + smuggled commands, which is how they are embedded here. */
static const struct {
	const char *seq;
	size_t len;
	enum smtp_data_result want;
} smuggling[] = {
	{"\n.\n", 3, SMTP_DATA_BARE_LF},
	{"\n.\r", 3, SMTP_DATA_BARE_LF},
	{"\r.\n", 3, SMTP_DATA_BARE_CR},
	{"\r.\r", 3, SMTP_DATA_BARE_CR},
	{"\n.\r\n", 4, SMTP_DATA_BARE_LF},
	{"\r.\r\n", 4, SMTP_DATA_BARE_CR},
	{"\r\n\x00.\r\n", 6, SMTP_DATA_NUL},
	{"\r\n.\r\r\n", 6, SMTP_DATA_BARE_CR},
	{"\r\r\n.\r\r\n", 7, SMTP_DATA_BARE_CR},
	/* friends */
	{"\r\n.\n", 4, SMTP_DATA_BARE_LF},
	{"\r\n.\r", 4, SMTP_DATA_BARE_CR},
	{".\n", 2, SMTP_DATA_BARE_LF},
	{".\r", 2, SMTP_DATA_BARE_CR},
	{"\n\n.\n\n", 5, SMTP_DATA_BARE_LF},
	{"\r\r.\r\r", 5, SMTP_DATA_BARE_CR},
	{"\n\r.\r\n", 5, SMTP_DATA_BARE_LF},
	{"\r\n.\x00\r\n", 6, SMTP_DATA_NUL},
	{"\x00.\r\n", 4, SMTP_DATA_NUL},
};

static const char smuggle_head[] = "From: a@b\r\nSubject: s\r\n\r\nTESTING\r\n";
static const char smuggle_tail[] = "\r\nmail FROM:<smuggled@x>\r\nrcpt TO:<victim@y>\r\ndata\r\n"
				   "From: smuggled@x\r\n\r\nSMUGGLED\r\n";

static size_t
smuggle_input(char *buf, size_t size, size_t i, bool with_end)
{
	size_t n = 0;

	memcpy(buf, smuggle_head, strlen(smuggle_head));
	n += strlen(smuggle_head);
	memcpy(buf + n, smuggling[i].seq, smuggling[i].len);
	n += smuggling[i].len;
	memcpy(buf + n, smuggle_tail, strlen(smuggle_tail));
	n += strlen(smuggle_tail);
	if (with_end) {
		memcpy(buf + n, ".\r\n", 3);
		n += 3;
	}
	assert_true(n < size);
	return n;
}

/* Lines of the output all end in CRLF: no bare CR or LF left. */
static void
assert_clean_eol(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n')
			assert_true(i > 0 && b->data[i - 1] == '\r');
		if (b->data[i] == '\r')
			assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
	}
}

static void
test_smuggling_data(void **state)
{
	struct smtp_data_options o = data_opts();
	char in[256];

	for (size_t i = 0; i < N_ELEMENTS(smuggling); i++) {
		size_t len = smuggle_input(in, sizeof(in), i, true);
		struct outcome r;

		/* Not ended by the sequence nor anywhere but the real end, and
		 * the message is refused, whatever the chunking. */
		run_all(in, len, &o, &r, NULL);
		if (r.status != SMTP_DATA_DONE || r.consumed != len || r.result != smuggling[i].want)
			fail_msg("sequence %zu: status %d consumed %zu/%zu result %d", i, r.status,
				 r.consumed, len, r.result);
		/* the offset of the first bad octet */
		size_t at = strlen(smuggle_head);
		while (at < len) {
			bool lf = in[at] == '\n' && (at == 0 || in[at - 1] != '\r');
			bool cr = in[at] == '\r' && in[at + 1] != '\n';
			if (lf || cr || in[at] == '\0')
				break;
			at++;
		}
		assert_true(r.bad_offset == at);
		buf_release(&r.out);

		/* Without the real end, the reader waits for more. */
		len = smuggle_input(in, sizeof(in), i, false);
		run(in, len, &o, SPLIT_ONE_SHOT, 0, &r, NULL, false);
		assert_int_equal(r.status, SMTP_DATA_MORE);
		assert_int_equal(r.consumed, len);
		buf_release(&r.out);
	}
}

static void
test_smuggling_normalise(void **state)
{
	struct smtp_data_options o = data_opts();
	char in[256];

	o.eol = SMTP_DATA_EOL_NORMALISE;
	for (size_t i = 0; i < N_ELEMENTS(smuggling); i++) {
		size_t len = smuggle_input(in, sizeof(in), i, true);
		struct outcome r;

		run_all(in, len, &o, &r, NULL);
		assert_int_equal(r.status, SMTP_DATA_DONE);
		assert_int_equal(r.consumed, len);
		if (smuggling[i].want == SMTP_DATA_NUL) {
			assert_int_equal(r.result, SMTP_DATA_NUL);
		} else {
			/* repaired: one message, only CRLF line endings */
			assert_int_equal(r.result, SMTP_DATA_OK);
			assert_clean_eol(&r.out);
			assert_non_null(strstr(buf_cstr(&r.out), "SMUGGLED\r\n"));
		}
		buf_release(&r.out);
	}
}

static void
test_smuggling_bdat(void **state)
{
	struct smtp_data_options o = bdat_opts();
	char in[256];

	for (size_t i = 0; i < N_ELEMENTS(smuggling); i++) {
		size_t len = smuggle_input(in, sizeof(in), i, false);
		struct outcome r;

		run_all(in, len, &o, &r, NULL);
		assert_int_equal(r.status, SMTP_DATA_MORE);
		assert_int_equal(r.consumed, len);
		if (r.result != smuggling[i].want)
			fail_msg("BDAT sequence %zu: result %d want %d", i, r.result,
				 smuggling[i].want);
		buf_release(&r.out);
	}

	/* normalised BDAT: only CRLF stored */
	o.eol = SMTP_DATA_EOL_NORMALISE;
	for (size_t i = 0; i < N_ELEMENTS(smuggling); i++) {
		size_t len = smuggle_input(in, sizeof(in), i, false);
		struct outcome r;

		run_all(in, len, &o, &r, NULL);
		if (smuggling[i].want != SMTP_DATA_NUL) {
			assert_int_equal(r.result, SMTP_DATA_OK);
			assert_clean_eol(&r.out);
		}
		buf_release(&r.out);
	}

	/* BODY=BINARYMIME: verbatim, no checks */
	o = bdat_opts();
	o.binary = true;
	o.output_lf = true; /* ignored in binary mode */
	for (size_t i = 0; i < N_ELEMENTS(smuggling); i++) {
		size_t len = smuggle_input(in, sizeof(in), i, false);
		struct outcome r;

		run_all(in, len, &o, &r, NULL);
		assert_int_equal(r.result, SMTP_DATA_OK);
		assert_int_equal(r.out.len, len);
		assert_memory_equal(r.out.data, in, len);
		buf_release(&r.out);
	}
}

static void
test_bare_positions(void **state)
{
	struct smtp_data_options o = bdat_opts();
	struct outcome r;

	RUN_ALL("ab\ncd\r\n", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_BARE_LF);
	assert_true(r.bad_offset == 2);
	buf_release(&r.out);
	RUN_ALL("ab\rcd\r\n", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_BARE_CR);
	assert_true(r.bad_offset == 2);
	buf_release(&r.out);
	/* a final CR in BDAT is bare */
	RUN_ALL("ab\r\ncd\r", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_BARE_CR);
	assert_true(r.bad_offset == 6);
	buf_release(&r.out);
	/* the first error is the one reported */
	run_all("a\0b\nc\r\n", 7, &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_NUL);
	assert_true(r.bad_offset == 1);
	buf_release(&r.out);
	o.allow_nul = true;
	run_all("a\0b\r\n", 5, &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_int_equal(r.out.len, 5);
	buf_release(&r.out);

	/* a refused message stops being delivered */
	o = data_opts();
	const char *in = "Subject: x\r\n\r\nbad\nline\r\nmore text\r\n.\r\n";
	run(in, strlen(in), &o, SPLIT_ONE_SHOT, 0, &r, NULL, false);
	assert_int_equal(r.result, SMTP_DATA_BARE_LF);
	assert_null(strstr(buf_cstr(&r.out), "more text"));
	buf_release(&r.out);
}

static void
test_normalise(void **state)
{
	struct smtp_data_options o = data_opts();

	o.eol = SMTP_DATA_EOL_NORMALISE;
	EXPECT_DATA("a\nb\r\n.\r\n", &o, "a\r\nb\r\n");
	EXPECT_DATA("a\rb\r\n.\r\n", &o, "ab\r\n");
	EXPECT_DATA("a\r\rb\r\r\n.\r\n", &o, "ab\r\n");
	/* a line after a bare LF is unstuffed but cannot end the data */
	EXPECT_DATA("\n..x\r\n.\r\n", &o, "\r\n.x\r\n");
	EXPECT_DATA("\n.\r\n.\r\n", &o, "\r\n.\r\n");
	EXPECT_DATA("\n.\n.\r\n.\r\n", &o, "\r\n.\r\n.\r\n");
	EXPECT_DATA("x\n.y\r\n.\r\n", &o, "x\r\ny\r\n");
	EXPECT_DATA(".\n.\r\n.\r\n", &o, ".\r\n.\r\n");
	o.output_lf = true;
	EXPECT_DATA("a\nb\r\nc\rd\r\n.\r\n", &o, "a\nb\ncd\n");
}

/* ---- size, sink ---- */

static void
test_size_limit(void **state)
{
	struct smtp_data_options o = data_opts();
	struct outcome r;

	/* "12345678\r\n" is 10 octets */
	o.max_size = 10;
	EXPECT_DATA("12345678\r\n.\r\n", &o, "12345678\r\n");
	RUN_ALL("123456789\r\n.\r\nRSET\r\n", &o, &r);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.consumed, 14); /* read to the end all the same */
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	assert_true(r.size == 11);
	assert_true(r.out.len <= 10);
	buf_release(&r.out);
	const char *enh, *text;
	assert_int_equal(smtp_data_status_code(r.result, &enh, &text), 552);
	assert_string_equal(enh, "5.3.4");

	/* the size is counted after unstuffing, with CRLF, whatever the output */
	o.output_lf = true;
	EXPECT_DATA("..345678\r\n.\r\n", &o, ".345678\n");
	o.max_size = 9;
	RUN_ALL("12345678\r\n.\r\n", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	buf_release(&r.out);

	/* what was delivered before the limit is exactly the first max_size
	 * octets, a field name held back by the header observer included */
	o = data_opts();
	o.max_size = 5;
	RUN_ALL("Subject: x\r\n\r\n.\r\n", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	assert_string_equal(buf_cstr(&r.out), "Subje");
	buf_release(&r.out);

	/* a large message goes through and is counted */
	o = data_opts();
	struct buf big;
	buf_init(&big, BUF_UNLIMITED);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_add_str(&big, "0123456789012345678901234567890123456789\r\n"), 0);
	size_t body = big.len;
	assert_int_equal(buf_add_str(&big, ".\r\n"), 0);
	run(big.data, big.len, &o, SPLIT_ONE_SHOT, 0, &r, NULL, false);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_true(r.size == body);
	assert_int_equal(r.out.len, body);
	buf_release(&r.out);
	o.max_size = body - 1;
	run(big.data, big.len, &o, SPLIT_RANDOM, 0, &r, NULL, false);
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	assert_int_equal(r.consumed, big.len);
	buf_release(&r.out);
	buf_release(&big);
}

static void
test_sink_failure(void **state)
{
	struct smtp_data_options o = data_opts();
	struct outcome r;
	const char *in = "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";

	run(in, strlen(in), &o, SPLIT_STEP, 3, &r, NULL, true);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.consumed, strlen(in) - 6);
	assert_int_equal(r.result, SMTP_DATA_SINK_FAILED);
	buf_release(&r.out);
	const char *enh, *text;
	assert_int_equal(smtp_data_status_code(r.result, &enh, &text), 451);
	assert_string_equal(enh, "4.3.0");

	/* a bare LF wins over the size as the verdict */
	o.max_size = 3;
	run(in, strlen(in), &o, SPLIT_ONE_SHOT, 0, &r, NULL, false);
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	buf_release(&r.out);
	const char *in2 = "Subject: x\r\n\r\nbo\ndy\r\n.\r\n";
	run(in2, strlen(in2), &o, SPLIT_ONE_SHOT, 0, &r, NULL, false);
	assert_int_equal(r.result, SMTP_DATA_BARE_LF);
	buf_release(&r.out);
}

/* ---- header observer ---- */

static void
test_header_fields(void **state)
{
	struct smtp_data_options o = data_opts();
	struct outcome r;
	const char *in = "From: Alice <a@b>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			 "Message-ID: <1@b>\r\nSubject: s\r\nsender: x@y\r\n\r\nbody\r\n.\r\n";

	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_int_equal(r.header_calls, 1);
	assert_int_equal(r.info.end, SMTP_HEADER_END_BLANK);
	assert_int_equal(r.info.fields, 5);
	assert_int_equal(r.info.from, 1);
	assert_int_equal(r.info.date, 1);
	assert_int_equal(r.info.message_id, 1);
	assert_int_equal(r.info.sender, 1);
	assert_string_equal(r.info.from_value, "Alice <a@b>");
	assert_false(r.info.from_truncated);
	/* called before the empty line was delivered */
	size_t head = strlen(in) - strlen("\r\nbody\r\n.\r\n");
	assert_int_equal(r.header_at, head);
	assert_true(r.info.size == head);
	buf_release(&r.out);

	/* missing fields, folded From:, obsolete space before the colon */
	in = "Subject: s\r\nFROM : First\r\n\t<f@x>  \r\nfrom: second@x\r\n\r\n.\r\n";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.info.from, 2);
	assert_int_equal(r.info.date, 0);
	assert_int_equal(r.info.message_id, 0);
	assert_string_equal(r.info.from_value, "First\t<f@x>");
	assert_int_equal(r.info.from_len, strlen("First\t<f@x>"));
	buf_release(&r.out);

	/* names are compared whole */
	in = "From-X: a\r\nXFrom: b\r\nDate2: c\r\nMessage-IDs: d\r\nReceived-SPF: e\r\n"
	     "\r\n.\r\n";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.info.fields, 5);
	assert_int_equal(r.info.from + r.info.date + r.info.message_id + r.info.received, 0);
	buf_release(&r.out);

	/* the hops: Received: fields of the header section only */
	in = "Received: from a by b; x\r\nRECEIVED : folded\r\n by c\r\nreceived: d\r\n"
	     "Subject: s\r\n\r\nReceived: in the body\r\n.\r\n";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.info.received, 3);
	buf_release(&r.out);
}

static void
test_header_end_kinds(void **state)
{
	struct smtp_data_options o = data_opts();
	struct outcome r;

	/* no empty line: the first non-field line ends the section, and the
	 * callback comes before it is delivered */
	const char *in = "From: a@b\r\nbody text: no\r\nmore\r\n.\r\n";
	RUN_ALL("From: a@b\r\nbody text\r\n.\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	assert_int_equal(r.header_at, strlen("From: a@b\r\n"));
	assert_string_equal(buf_cstr(&r.out), "From: a@b\r\nbody text\r\n");
	buf_release(&r.out);
	/* a name with a space inside is not a field name */
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	assert_int_equal(r.info.fields, 1);
	buf_release(&r.out);

	/* continuation before any field */
	RUN_ALL(" x: y\r\n\r\n.\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	assert_int_equal(r.info.fields, 0);
	assert_int_equal(r.header_at, 0);
	buf_release(&r.out);

	/* a line with no colon at all */
	RUN_ALL("Subject\r\n.\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	assert_int_equal(r.header_at, 0);
	assert_string_equal(buf_cstr(&r.out), "Subject\r\n");
	buf_release(&r.out);
	RUN_ALL(":x\r\n.\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	buf_release(&r.out);

	/* the content ends inside the header section */
	RUN_ALL("From: a@b\r\n.\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_EOF);
	assert_int_equal(r.header_calls, 1);
	buf_release(&r.out);
	RUN_ALL(".\r\n", &o, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_EOF);
	buf_release(&r.out);

	/* BDAT ending inside a held field name */
	struct smtp_data_options b = bdat_opts();
	RUN_ALL("A: b\r\nSubject", &b, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_NONHEADER);
	assert_string_equal(buf_cstr(&r.out), "A: b\r\nSubject");
	assert_false(r.ends_with_eol);
	buf_release(&r.out);
	RUN_ALL("A: b\r\n", &b, &r);
	assert_int_equal(r.info.end, SMTP_HEADER_END_EOF);
	assert_true(r.ends_with_eol);
	buf_release(&r.out);
}

static void
test_header_limits(void **state)
{
	struct smtp_data_options o = data_opts();
	struct outcome r;
	char in[4000];

	/* a long line: flagged, the check only; refused on request */
	o.header_line_max = 20;
	const char *longline = "Subject: 0123456789012345678901234567890\r\nFrom: a@b\r\n\r\n.\r\n";
	run_all(longline, strlen(longline), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_true(r.info.line_too_long);
	assert_int_equal(r.info.end, SMTP_HEADER_END_BLANK);
	assert_int_equal(r.info.from, 1);
	buf_release(&r.out);
	o.refuse_big_header = true;
	run_all(longline, strlen(longline), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_HEADER_TOO_BIG);
	assert_int_equal(r.consumed, strlen(longline));
	buf_release(&r.out);
	/* a long body line is no header line */
	const char *body = "A: b\r\n\r\n0123456789012345678901234567890\r\n.\r\n";
	run_all(body, strlen(body), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_false(r.info.line_too_long);
	buf_release(&r.out);

	/* the section over header_max: the observation stops, inconclusive */
	o = data_opts();
	o.header_max = 30;
	const char *many = "A: 0123456789\r\nB: 0123456789\r\nFrom: hidden@x\r\n\r\n.\r\n";
	run_all(many, strlen(many), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_int_equal(r.info.end, SMTP_HEADER_END_OVERFLOW);
	assert_int_equal(r.info.from, 0);
	assert_int_equal(r.header_at, 30);
	assert_string_equal(buf_cstr(&r.out), "A: 0123456789\r\nB: 0123456789\r\nFrom: hidden@x\r\n\r\n");
	buf_release(&r.out);
	o.refuse_big_header = true;
	run_all(many, strlen(many), &o, &r, NULL);
	assert_int_equal(r.result, SMTP_DATA_HEADER_TOO_BIG);
	buf_release(&r.out);

	/* a field name longer than the hold: inconclusive, content intact */
	o = data_opts();
	memset(in, 'N', 300);
	in[300] = '\0';
	assert_true(strlen(in) + 30 < sizeof(in));
	memcpy(in + 300, ": v\r\nFrom: x@y\r\n\r\n.\r\n", strlen(": v\r\nFrom: x@y\r\n\r\n.\r\n") + 1);
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.info.end, SMTP_HEADER_END_OVERFLOW);
	assert_int_equal(r.header_at, 0);
	assert_int_equal(r.out.len, strlen(in) - 3);
	assert_memory_equal(r.out.data, in, strlen(in) - 3);
	buf_release(&r.out);

	/* a From: value over the capture: truncated */
	memcpy(in, "From: ", 6);
	memset(in + 6, 'f', 1200);
	memcpy(in + 1206, "\r\n\r\n.\r\n", 8);
	o.header_line_max = 5000;
	run_all(in, 1213, &o, &r, NULL);
	assert_true(r.info.from_truncated);
	assert_int_equal(r.info.from_len, SMTP_HEADER_VALUE_MAX);
	assert_int_equal(r.out.len, 1210);
	buf_release(&r.out);
}

static void
test_header_insert(void **state)
{
	/* The callback can add fields where the section ends, before the
	 * empty line, in either output form. */
	struct smtp_data_options o = data_opts();
	struct outcome r;
	const char *in = "Subject: s\r\n\r\nbody\r\n.\r\n";

	run_all(in, strlen(in), &o, &r, "Message-ID: <new@x>\r\n");
	assert_string_equal(buf_cstr(&r.out), "Subject: s\r\nMessage-ID: <new@x>\r\n\r\nbody\r\n");
	buf_release(&r.out);
	o.output_lf = true;
	run_all(in, strlen(in), &o, &r, "Date: now\n");
	assert_string_equal(buf_cstr(&r.out), "Subject: s\nDate: now\n\nbody\n");
	buf_release(&r.out);
	/* without a blank line, before the first body line */
	in = "Subject: s\r\nbody\r\n.\r\n";
	run_all(in, strlen(in), &o, &r, "Date: now\n");
	assert_string_equal(buf_cstr(&r.out), "Subject: s\nDate: now\nbody\n");
	buf_release(&r.out);
}

static void
test_bdat(void **state)
{
	struct smtp_data_options o = bdat_opts();
	struct outcome r;

	/* no unstuffing, no end marker: "\r\n.\r\n" is content */
	const char *in = "Subject: a\r\n\r\n..x\r\n.\r\nmore\r\n";
	run_all(in, strlen(in), &o, &r, NULL);
	assert_int_equal(r.status, SMTP_DATA_MORE);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_string_equal(buf_cstr(&r.out), in);
	assert_true(r.ends_with_eol);
	assert_true(r.size == strlen(in));
	buf_release(&r.out);
	o.output_lf = true;
	run_all(in, strlen(in), &o, &r, NULL);
	assert_string_equal(buf_cstr(&r.out), "Subject: a\n\n..x\n.\nmore\n");
	buf_release(&r.out);
	/* a last line without CRLF */
	RUN_ALL("a: b\r\n\r\nend", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_OK);
	assert_false(r.ends_with_eol);
	buf_release(&r.out);
	o.max_size = 5;
	RUN_ALL("a: b\r\n", &o, &r);
	assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
	buf_release(&r.out);
}

static void
test_misuse_and_codes(void **state)
{
	struct smtp_data_options o = data_opts();
	struct smtp_data_reader *r = malloc(sizeof(*r));
	size_t used;

	assert_non_null(r);
	smtp_data_init(r, &o);
	assert_int_equal(smtp_data_feed(r, ".\r\nQUIT\r\n", 9, &used), SMTP_DATA_DONE);
	assert_int_equal(used, 3);
	assert_int_equal(smtp_data_feed(r, "QUIT\r\n", 6, &used), SMTP_DATA_DONE);
	assert_int_equal(used, 0);
	assert_int_equal(smtp_data_finish(r), -1);
	assert_int_equal(smtp_data_result(r), SMTP_DATA_OK);

	/* the buffer sink */
	struct buf b;
	buf_init(&b, 8);
	o.sink = smtp_data_sink_buf;
	o.ctx = &b;
	smtp_data_init(r, &o);
	assert_int_equal(smtp_data_feed(r, "1234\r\n.\r\n", 9, &used), SMTP_DATA_DONE);
	assert_int_equal(smtp_data_result(r), SMTP_DATA_OK);
	assert_string_equal(buf_cstr(&b), "1234\r\n");
	buf_reset(&b);
	smtp_data_init(r, &o);
	assert_int_equal(smtp_data_feed(r, "123456789\r\n.\r\n", 14, &used), SMTP_DATA_DONE);
	assert_int_equal(smtp_data_result(r), SMTP_DATA_SINK_FAILED);
	buf_release(&b);
	free(r);

	static const struct {
		enum smtp_data_result result;
		unsigned code;
		const char *enh;
	} codes[] = {
		{SMTP_DATA_OK, 250, "2.0.0"},
		{SMTP_DATA_BARE_LF, 550, "5.7.0"},
		{SMTP_DATA_BARE_CR, 550, "5.7.0"},
		{SMTP_DATA_NUL, 550, "5.6.0"},
		{SMTP_DATA_HEADER_TOO_BIG, 552, "5.3.4"},
		{SMTP_DATA_TOO_BIG, 552, "5.3.4"},
		{SMTP_DATA_SINK_FAILED, 451, "4.3.0"},
	};
	for (size_t i = 0; i < N_ELEMENTS(codes); i++) {
		const char *enh, *text;
		assert_int_equal(smtp_data_status_code(codes[i].result, &enh, &text), codes[i].code);
		assert_string_equal(enh, codes[i].enh);
		assert_non_null(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_end_split_everywhere),
		cmocka_unit_test(test_smuggling_data),
		cmocka_unit_test(test_smuggling_normalise),
		cmocka_unit_test(test_smuggling_bdat),
		cmocka_unit_test(test_bare_positions),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_sink_failure),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_header_end_kinds),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_header_insert),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_misuse_and_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
