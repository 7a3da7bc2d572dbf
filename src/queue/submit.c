/* submit.c - the local submission protocol's request head: encoder and
 * incremental parser (submit.h). Pure: no I/O. The records follow the
 * queue file's rules, so the value checks and the record syntax are the
 * queue module's (queue_values.c). */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"
#include "queue/queue_private.h"
#include "queue/submit.h"
#include <inttypes.h>

/* The longest ETRN argument: a domain name (RFC 1035), with a leading '@'
 * or '#' (RFC 1985). */
#define SUBMIT_ETRN_MAX 256

/* Parser ranks: the record last seen. Records must come in rank order;
 * rcpt and notify repeat (notify only right after its rcpt). */
enum rank {
	R_START,  /* nothing yet */
	R_SUBMIT, /* "SUBMIT" */
	R_SENDER,
	R_RET,
	R_ENVID,
	R_RCPT,
	R_NOTIFY,
	R_DONE,
	R_FAILED,
};

static const struct {
	unsigned bit;
	const char *name;
} notify_words[] = {
    {QUEUE_NOTIFY_SUCCESS, "success"},
    {QUEUE_NOTIFY_FAILURE, "failure"},
    {QUEUE_NOTIFY_DELAY, "delay"},
};

/* "never", or the words in the order of notify_words (the queue file's
 * canonical form). */
static int
notify_add(struct buf *out, unsigned notify)
{
	int ret = 0;
	bool first = true;

	if (notify == QUEUE_NOTIFY_NEVER)
		return buf_add_str(out, "never");
	for (size_t i = 0; i < N_ELEMENTS(notify_words); i++) {
		if ((notify & notify_words[i].bit) == 0)
			continue;
		ret |= buf_printf(out, "%s%s", first ? "" : ",", notify_words[i].name);
		first = false;
	}
	return ret;
}

static bool
notify_parse(const char *s, size_t len, unsigned *notify_r)
{
	char canon[32];
	struct buf b;

	for (unsigned m = 1; m < 16; m++) {
		if (!queue_notify_valid(m))
			continue;
		buf_init(&b, sizeof(canon));
		bool same = notify_add(&b, m) == 0 && b.len == len && memcmp(b.data, s, len) == 0;
		buf_release(&b);
		if (same) {
			*notify_r = m;
			return true;
		}
	}
	return false;
}

void
submit_request_free(struct submit_request *req)
{
	free(req->sender);
	free(req->envid);
	for (size_t i = 0; i < req->nrcpts; i++)
		free(req->rcpts[i].addr);
	free(req->rcpts);
	memset(req, 0, sizeof(*req));
}

static int
request_check(const struct submit_request *req, uint64_t content_size, const char **error_r)
{
	if (req->sender == NULL || !queue_addr_valid(req->sender, strlen(req->sender), true)) {
		queue_error_set(error_r, "invalid sender address");
		return -1;
	}
	if (req->ret != QUEUE_RET_NONE && req->ret != QUEUE_RET_FULL &&
	    req->ret != QUEUE_RET_HDRS) {
		queue_error_set(error_r, "invalid RET value");
		return -1;
	}
	if (req->envid != NULL && !queue_envid_valid(req->envid, strlen(req->envid))) {
		queue_error_set(error_r, "invalid ENVID");
		return -1;
	}
	if (req->nrcpts == 0 || req->nrcpts > QUEUE_RCPT_MAX) {
		queue_error_set(error_r, "%s recipients", req->nrcpts == 0 ? "no" : "too many");
		return -1;
	}
	for (size_t i = 0; i < req->nrcpts; i++) {
		const struct submit_rcpt *r = &req->rcpts[i];
		if (r->addr == NULL || !queue_addr_valid(r->addr, strlen(r->addr), false)) {
			queue_error_set(error_r, "invalid recipient address");
			return -1;
		}
		if (!queue_notify_valid(r->notify)) {
			queue_error_set(error_r, "invalid NOTIFY value");
			return -1;
		}
	}
	if (content_size > QUEUE_CONTENT_MAX) {
		queue_error_set(error_r, "content too large");
		return -1;
	}
	return 0;
}

int
submit_request_format(const struct submit_request *req, uint64_t content_size, struct buf *out,
		      const char **error_r)
{
	size_t start = out->len;
	int ret = 0;

	if (request_check(req, content_size, error_r) < 0)
		return -1;
	ret |= buf_printf(out, "SUBMIT\nsender %s\n", req->sender);
	if (req->ret != QUEUE_RET_NONE)
		ret |= buf_printf(out, "ret %s\n", queue_ret_names[req->ret]);
	if (req->envid != NULL)
		ret |= buf_printf(out, "envid %s\n", req->envid);
	for (size_t i = 0; i < req->nrcpts && ret == 0; i++) {
		ret |= buf_printf(out, "rcpt %s\n", req->rcpts[i].addr);
		if (req->rcpts[i].notify != 0) {
			ret |= buf_add_str(out, "notify ");
			ret |= notify_add(out, req->rcpts[i].notify);
			ret |= buf_add_char(out, '\n');
		}
	}
	ret |= buf_printf(out, "content %" PRIu64 "\n", content_size);
	if (ret != 0) {
		buf_set_len(out, start);
		queue_error_set(error_r, "request too large for the buffer");
		return -1;
	}
	return 0;
}

/* ---- parser ---- */

void
submit_parser_init(struct submit_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->rank = R_START;
}

void
submit_parser_release(struct submit_parser *p)
{
	submit_request_free(&p->req);
	p->rank = R_FAILED;
}

static bool
key_is(const char *key, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(key, lit, len) == 0;
}

/* The first line: SUBMIT, FLUSH [ID] or ETRN DOMAIN. */
static int
parse_first(struct submit_parser *p, const char *line, size_t len, const char **error_r)
{
	if (key_is(line, len, "SUBMIT")) {
		p->kind = SUBMIT_SUBMIT;
		p->rank = R_SUBMIT;
		return 0;
	}
	if (key_is(line, len, "FLUSH")) {
		p->kind = SUBMIT_FLUSH;
		p->arg[0] = '\0';
		p->rank = R_DONE;
		return 0;
	}
	if (len > 6 && memcmp(line, "FLUSH ", 6) == 0 && queue_id_valid_len(line + 6, len - 6)) {
		p->kind = SUBMIT_FLUSH;
		memcpy(p->arg, line + 6, len - 6);
		p->arg[len - 6] = '\0';
		p->rank = R_DONE;
		return 0;
	}
	if (len > 5 && memcmp(line, "ETRN ", 5) == 0 && len - 5 <= SUBMIT_ETRN_MAX) {
		for (size_t i = 5; i < len; i++) {
			unsigned char c = (unsigned char)line[i];
			if (c <= 0x20 || c >= 0x7f) {
				queue_error_set(error_r, "invalid ETRN argument");
				return -1;
			}
		}
		p->kind = SUBMIT_ETRN;
		memcpy(p->arg, line + 5, len - 5);
		p->arg[len - 5] = '\0';
		p->rank = R_DONE;
		return 0;
	}
	queue_error_set(error_r, "unknown request");
	return -1;
}

static int
parse_record(struct submit_parser *p, const char *line, size_t len, const char **error_r)
{
	struct submit_request *req = &p->req;
	const char *key, *v;
	size_t klen, vlen;
	uint64_t n;

	if (queue_record_split(line, len, &key, &klen, &v, &vlen, error_r) < 0)
		return -1;
	if (p->rank == R_SUBMIT) {
		if (!key_is(key, klen, "sender")) {
			queue_error_set(error_r, "the sender must come first");
			return -1;
		}
		if (!queue_addr_valid(v, vlen, true))
			goto bad_value;
		req->sender = xstrndup(v, vlen);
		p->rank = R_SENDER;
	} else if (key_is(key, klen, "ret") && p->rank < R_RET) {
		if (key_is(v, vlen, "full"))
			req->ret = QUEUE_RET_FULL;
		else if (key_is(v, vlen, "hdrs"))
			req->ret = QUEUE_RET_HDRS;
		else
			goto bad_value;
		p->rank = R_RET;
	} else if (key_is(key, klen, "envid") && p->rank < R_ENVID) {
		if (!queue_envid_valid(v, vlen))
			goto bad_value;
		req->envid = xstrndup(v, vlen);
		p->rank = R_ENVID;
	} else if (key_is(key, klen, "rcpt")) {
		if (req->nrcpts >= QUEUE_RCPT_MAX) {
			queue_error_set(error_r, "more than %d recipients", QUEUE_RCPT_MAX);
			return -1;
		}
		if (!queue_addr_valid(v, vlen, false))
			goto bad_value;
		req->rcpts = xreallocarray(req->rcpts, req->nrcpts + 1, sizeof(*req->rcpts));
		req->rcpts[req->nrcpts].addr = xstrndup(v, vlen);
		req->rcpts[req->nrcpts].notify = 0;
		req->nrcpts++;
		p->rank = R_RCPT;
	} else if (key_is(key, klen, "notify") && p->rank == R_RCPT) {
		if (!notify_parse(v, vlen, &req->rcpts[req->nrcpts - 1].notify))
			goto bad_value;
		p->rank = R_NOTIFY;
	} else if (key_is(key, klen, "content") && p->rank >= R_RCPT) {
		if (!queue_number_parse(v, vlen, QUEUE_CONTENT_MAX, &n))
			goto bad_value;
		p->content_size = n;
		p->rank = R_DONE;
	} else {
		char shown[40];
		queue_key_show(key, klen, shown, sizeof(shown));
		queue_error_set(error_r, "unexpected record '%s'", shown);
		return -1;
	}
	return 0;
bad_value : {
	char shown[40];
	queue_key_show(key, klen, shown, sizeof(shown));
	queue_error_set(error_r, "invalid value of '%s'", shown);
	return -1;
}
}

enum submit_parse_result
submit_parse(struct submit_parser *p, const char *data, size_t len, size_t *consumed_r,
	     const char **error_r)
{
	size_t off = 0;

	*consumed_r = 0;
	if (p->rank == R_FAILED) {
		queue_error_set(error_r, "request already refused");
		return SUBMIT_PARSE_ERROR;
	}
	while (p->rank != R_DONE) {
		size_t line_len, used;
		int r = queue_record_next(data + off, len - off, &line_len, &used, error_r);
		if (r == 0)
			return SUBMIT_PARSE_MORE;
		if (r < 0 ||
		    (p->rank == R_START ? parse_first(p, data + off, line_len, error_r)
					: parse_record(p, data + off, line_len, error_r)) < 0) {
			p->rank = R_FAILED;
			return SUBMIT_PARSE_ERROR;
		}
		off += used;
		*consumed_r = off;
	}
	p->done = true;
	return SUBMIT_PARSE_DONE;
}
