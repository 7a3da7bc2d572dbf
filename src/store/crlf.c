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
	bool last_cr = st->last_cr;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !last_cr)
			extra++;
		last_cr = p[i] == '\r';
	}
	if (n > 0)
		st->last_cr = last_cr;
	return extra;
}

/* Feed the CRLF form of the file to emit(), checking that it is exactly
 * crlf_size bytes from exactly disk_size bytes. */
typedef int emit_fn(void *ctx, const char *p, size_t n);

static int
convert(const struct store_content *c, emit_fn *emit, void *ctx, const char **why)
{
	char in[32768], out[2 * sizeof(in)];
	uint64_t done = 0, produced = 0;
	bool last_cr = false;

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
		size_t o = 0;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && !last_cr)
				out[o++] = '\r';
			out[o++] = in[i];
			last_cr = in[i] == '\r';
		}
		done += (uint64_t)n;
		produced += o;
		if (done > c->disk_size || produced > c->crlf_size) {
			*why = "message file is larger than its recorded size";
			return -1;
		}
		if (emit(ctx, out, o) < 0) {
			*why = "output buffer full";
			return -1;
		}
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
