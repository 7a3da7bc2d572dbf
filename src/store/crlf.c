/* crlf.c - messages are stored with LF line endings and given to clients
 * with CRLF: counting and streaming that conversion. An LF gets a CR unless
 * one is already before it, so a file that already has CRLF endings comes
 * out unchanged, and the CRLF size is the disk size plus one per bare LF. */
#include "lib/common.h"

#include <unistd.h>

#include <event2/buffer.h>

#include "store/store_private.h"

uint64_t
crlf_count(struct crlf_state *st, const char *p, size_t n)
{
	uint64_t extra = 0;
	const char *q = p, *end = p + n;

	if (n == 0)
		return 0;
	/* line by line: memchr is many times faster than a byte loop */
	while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (!(q > p ? q[-1] == '\r' : st->last_cr))
			extra++;
		q++;
	}
	st->last_cr = end[-1] == '\r';
	return extra;
}

/* Feed the CRLF form of the file to emit(), checking that it is exactly
 * crlf_size bytes from exactly disk_size bytes. emit() returns -1 (out of
 * room: fail), 0 (go on) or 1 (enough: stop, the sizes are not checked). */
typedef int emit_fn(void *ctx, const char *p, size_t n);

/* The CRLF form of in[0..n) into out (room for 2n), line by line. */
static size_t
to_crlf(const char *in, size_t n, char *out, bool *last_cr)
{
	const char *p = in, *end = in + n, *nl;
	size_t o = 0;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		memcpy(out + o, p, len);
		o += len;
		if (!(nl > in ? nl[-1] == '\r' : *last_cr))
			out[o++] = '\r';
		out[o++] = '\n';
		p = nl + 1;
	}
	memcpy(out + o, p, (size_t)(end - p));
	o += (size_t)(end - p);
	if (n > 0)
		*last_cr = end[-1] == '\r';
	return o;
}

static int
convert(const struct store_content *c, emit_fn *emit, void *ctx, const char **why)
{
	char in[32768], out[2 * sizeof(in)];
	uint64_t done = 0, produced = 0;
	bool last_cr = false;
	/* Equal sizes: the file has no bare LF, its bytes are the CRLF form
	 * (the sizes are checked all the same). */
	bool as_is = c->crlf_size == c->disk_size;

	for (;;) {
		ssize_t n = pread(c->fd, in, sizeof(in), (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return -1;
		}
		if (n == 0)
			break;
		const char *from = in;
		size_t o = (size_t)n;
		if (!as_is) {
			o = to_crlf(in, (size_t)n, out, &last_cr);
			from = out;
		}
		done += (uint64_t)n;
		produced += o;
		if (done > c->disk_size || produced > c->crlf_size) {
			*why = "message file is larger than its recorded size";
			return -1;
		}
		int r = emit(ctx, from, o);
		if (r < 0) {
			*why = "output buffer full";
			return -1;
		}
		if (r > 0)
			return 0;
	}
	if (done != c->disk_size || produced != c->crlf_size) {
		*why = "message file does not match its recorded size";
		return -1;
	}
	return 0;
}

static int
emit_buf(void *ctx, const char *p, size_t n)
{
	return buf_add(ctx, p, n);
}

static int
emit_evbuffer(void *ctx, const char *p, size_t n)
{
	return evbuffer_add(ctx, p, n);
}

int
store_content_to_buf(const struct store_content *content, struct buf *out, const char **error_r)
{
	static _Thread_local char error[128];
	size_t start = out->len;
	const char *why;

	if (content->crlf_size > out->max || out->len > out->max - content->crlf_size) {
		why = "output buffer too small for the message";
		goto fail;
	}
	if (convert(content, emit_buf, out, &why) == 0)
		return 0;
	buf_set_len(out, start);
fail:
	(void)snprintf(error, sizeof(error), "%s", why);
	if (error_r != NULL)
		*error_r = error;
	return -1;
}

/* The header section: through the first empty line, which in the CRLF
 * form is a CRLF at the start of the message or right after an LF (a
 * line holding a lone CR is not empty, as for the MIME parser). */
struct header_ctx {
	struct buf *out;
	size_t start;	/* where the message begins in out */
	size_t scanned; /* bytes of it looked at */
};

static int
emit_header(void *ctx, const char *p, size_t n)
{
	struct header_ctx *h = ctx;

	if (buf_add(h->out, p, n) < 0)
		return -1;
	const char *msg = h->out->data + h->start;
	size_t len = h->out->len - h->start;
	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
		buf_set_len(h->out, h->start + 2);
		return 1;
	}
	/* an "\n\r\n" may straddle the previous chunk */
	size_t from = h->scanned >= 2 ? h->scanned - 2 : 0;
	for (const char *q = msg + from; (q = memchr(q, '\n', len - (size_t)(q - msg))) != NULL;
	     q++) {
		size_t at = (size_t)(q - msg);
		if (at + 2 < len && q[1] == '\r' && q[2] == '\n') {
			buf_set_len(h->out, h->start + at + 3);
			return 1;
		}
		if (at + 2 >= len)
			break; /* decided by the next chunk */
	}
	h->scanned = len;
	return 0;
}

int
store_content_header_to_buf(const struct store_content *content, struct buf *out,
			    const char **error_r)
{
	static _Thread_local char error[128];
	struct header_ctx h = {.out = out, .start = out->len};
	const char *why;

	if (convert(content, emit_header, &h, &why) == 0)
		return 0;
	buf_set_len(out, h.start);
	(void)snprintf(error, sizeof(error), "%s", why);
	if (error_r != NULL)
		*error_r = error;
	return -1;
}

int
store_content_to_evbuffer(const struct store_content *content, struct evbuffer *out,
			  const char **error_r)
{
	static _Thread_local char error[128];
	struct evbuffer *tmp = evbuffer_new();
	const char *why = "out of memory";

	if (tmp != NULL && convert(content, emit_evbuffer, tmp, &why) == 0 &&
	    evbuffer_add_buffer(out, tmp) == 0) {
		evbuffer_free(tmp);
		return 0;
	}
	if (tmp != NULL)
		evbuffer_free(tmp);
	(void)snprintf(error, sizeof(error), "%s", why);
	if (error_r != NULL)
		*error_r = error;
	return -1;
}
