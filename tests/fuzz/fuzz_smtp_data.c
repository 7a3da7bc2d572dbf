/* fuzz_smtp_data.c - the DATA/BDAT reader gives the same verdict, output and
 * header observations whatever the chunking (one-shot == random splits), and
 * agrees with a simple whole-input model of RFC 5321 4.5.2: in DATA mode the
 * content ends at the first <CRLF>.<CRLF> (or a leading ".<CRLF>") and
 * nowhere else, and with the default policy an accepted message has no bare
 * CR, bare LF or NUL and is the unstuffed input.
 * Input: 3 option bytes, 1 seed byte for the splits, then the content. */
#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtp_data.h"

struct outcome {
	struct buf out;
	enum smtp_data_status status;
	size_t consumed;
	enum smtp_data_result result;
	uint64_t bad_offset, size;
	bool ends_with_eol;
	unsigned header_calls;
	size_t header_at;
	struct smtp_header_info info;
};

static int
sink(void *ctx, const char *data, size_t len)
{
	struct outcome *o = ctx;

	if (len == 0)
		abort();
	return buf_add(&o->out, data, len);
}

static int
on_header(void *ctx, const struct smtp_header_info *info)
{
	struct outcome *o = ctx;

	o->header_calls++;
	o->header_at = o->out.len;
	o->info = *info;
	return 0;
}

static void
run(const char *in, size_t len, const struct smtp_data_options *base, uint32_t seed,
    struct outcome *o)
{
	static struct smtp_data_reader r;
	struct smtp_data_options opts = *base;

	memset(o, 0, sizeof(*o));
	buf_init(&o->out, BUF_UNLIMITED);
	opts.sink = sink;
	opts.header_end = on_header;
	opts.ctx = o;
	smtp_data_init(&r, &opts);
	for (size_t off = 0; off < len;) {
		size_t n = len - off, used;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			size_t k = 1 + (seed >> 16) % 13;
			n = MIN(n, k);
		}
		o->status = smtp_data_feed(&r, in + off, n, &used);
		if (used > n)
			abort();
		o->consumed += used;
		if (o->status == SMTP_DATA_DONE)
			break;
		if (used != n)
			abort();
		off += n;
	}
	if (opts.mode == SMTP_DATA_BDAT && smtp_data_finish(&r) < 0)
		abort();
	o->result = smtp_data_result(&r);
	o->bad_offset = r.bad_offset;
	o->size = r.size;
	o->ends_with_eol = r.ends_with_eol;
	if (o->header_calls > 1)
		abort();
	if (o->result == SMTP_DATA_OK && o->info.from_len > SMTP_HEADER_VALUE_MAX)
		abort();
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	if (a->status != b->status || a->consumed != b->consumed || a->result != b->result ||
	    a->bad_offset != b->bad_offset || a->size != b->size ||
	    a->ends_with_eol != b->ends_with_eol || a->header_calls != b->header_calls)
		abort();
	if (a->out.len != b->out.len || memcmp(buf_cstr(&a->out), buf_cstr(&b->out), a->out.len))
		abort();
	if (a->header_calls == 0)
		return;
	const struct smtp_header_info *x = &a->info, *y = &b->info;
	if (a->header_at != b->header_at || x->end != y->end ||
	    x->line_too_long != y->line_too_long || x->size != y->size ||
	    x->fields != y->fields || x->message_id != y->message_id || x->date != y->date ||
	    x->from != y->from || x->sender != y->sender || x->from_len != y->from_len ||
	    memcmp(x->from_value, y->from_value, x->from_len) != 0 ||
	    x->from_truncated != y->from_truncated)
		abort();
}

/* Offset just past the end of data per RFC 5321, or 0 when there is none. */
static size_t
model_end(const char *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++) {
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	}
	return 0;
}

/* The default policy's verdict and output for content in[0..len). */
static void
model_check(const char *in, size_t len, const struct smtp_data_options *o,
	    const struct outcome *got)
{
	bool clean = true;

	for (size_t i = 0; i < len; i++) {
		if ((in[i] == '\0' && !o->allow_nul) ||
		    (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) ||
		    (in[i] == '\r' && (i + 1 >= len || in[i + 1] != '\n')))
			clean = false;
	}
	if (clean != (got->result == SMTP_DATA_OK))
		abort();
	if (!clean)
		return;
	struct buf want;
	buf_init(&want, BUF_UNLIMITED);
	bool start = true;
	for (size_t i = 0; i < len; i++) {
		if (start && in[i] == '.' && o->mode == SMTP_DATA_DOT) {
			start = false;
			continue;
		}
		start = false;
		if (in[i] == '\r')
			continue; /* clean: always followed by LF */
		if (in[i] == '\n') {
			if (buf_add_str(&want, o->output_lf ? "\n" : "\r\n") < 0)
				abort();
			start = true;
			continue;
		}
		if (buf_add_char(&want, in[i]) < 0)
			abort();
	}
	if (want.len != got->out.len || memcmp(buf_cstr(&want), buf_cstr(&got->out), want.len))
		abort();
	buf_release(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	struct smtp_data_options opts;
	smtp_data_options_init(&opts);
	opts.mode = (data[0] & 1) ? SMTP_DATA_BDAT : SMTP_DATA_DOT;
	opts.eol = (data[0] & 2) ? SMTP_DATA_EOL_NORMALISE : SMTP_DATA_EOL_REJECT;
	opts.binary = opts.mode == SMTP_DATA_BDAT && (data[0] & 0x0c) == 0x0c;
	opts.allow_nul = (data[0] & 0x10) != 0;
	opts.output_lf = (data[0] & 0x20) != 0;
	opts.refuse_big_header = (data[0] & 0x40) != 0;
	bool limits = (data[0] & 0x80) != 0;
	/* the model knows nothing of size and header caps */
	bool model = !limits && !opts.refuse_big_header && !opts.binary &&
		     opts.eol == SMTP_DATA_EOL_REJECT;
	if (limits) {
		opts.max_size = data[1];
		opts.header_line_max = 1 + data[2] % 64;
		opts.header_max = 1 + (size_t)data[2] * 2;
	}
	uint32_t seed = 1 + data[3];
	const char *in = (const char *)data + 4;
	size_t len = size - 4;

	struct outcome one, split;
	run(in, len, &opts, 0, &one);
	run(in, len, &opts, seed, &split);
	same(&one, &split);

	if (opts.mode == SMTP_DATA_DOT) {
		/* the end is where RFC 5321 puts it, whatever the policy */
		size_t end = model_end(in, len);
		if ((end != 0) != (one.status == SMTP_DATA_DONE))
			abort();
		if (end != 0 && one.consumed != end)
			abort();
		if (end == 0 && one.consumed != len)
			abort();
		if (model && end != 0)
			model_check(in, end - 3, &opts, &one);
	} else if (model) {
		model_check(in, len, &opts, &one);
	}
	if (one.result == SMTP_DATA_OK && !opts.binary && !opts.output_lf) {
		/* whatever the policy, what is stored has CRLF line endings */
		for (size_t i = 0; i < one.out.len; i++) {
			if (one.out.data[i] == '\n' && (i == 0 || one.out.data[i - 1] != '\r'))
				abort();
			if (one.out.data[i] == '\r' &&
			    (i + 1 >= one.out.len || one.out.data[i + 1] != '\n'))
				abort();
		}
	}
	if (opts.max_size != 0 && one.result == SMTP_DATA_OK && one.size > opts.max_size)
		abort();
	buf_release(&one.out);
	buf_release(&split.out);
	return 0;
}
