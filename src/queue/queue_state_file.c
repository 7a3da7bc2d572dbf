/* queue_state_file.c - the relay queue's state file: each recipient's
 * delivery state, encoded and parsed. Pure: no I/O. */
#include "lib/common.h"

#include <inttypes.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"
#include "queue/queue_private.h"

#define QUEUE_STATE_MAGIC "postern-queue-state"

void
queue_rcpt_state_release(struct queue_rcpt *r)
{
	free(r->remote);
	free(r->reply);
	r->remote = NULL;
	r->reply = NULL;
}

bool
queue_opt_text_valid(const char *s, size_t max)
{
	return s == NULL || queue_text_valid(s, strlen(s), max);
}

int
queue_rcpt_state_check(const struct queue_rcpt *r, size_t i, const char **error_r)
{
	if ((size_t)r->state >= N_ELEMENTS(queue_rcpt_state_names) ||
	    r->attempts > QUEUE_ATTEMPTS_MAX || !queue_time_valid(r->last_attempt) ||
	    !queue_time_valid(r->next_attempt)) {
		queue_error_set(error_r, "recipient %zu: invalid delivery state", i);
		return -1;
	}
	if (!queue_opt_text_valid(r->remote, QUEUE_REMOTE_MAX) ||
	    !queue_opt_text_valid(r->reply, QUEUE_REPLY_MAX)) {
		queue_error_set(error_r, "recipient %zu: invalid remote host or reply text", i);
		return -1;
	}
	return 0;
}

/* ---- state files ---- */

int
queue_state_format(const struct queue_envelope *env, struct buf *out, const char **error_r)
{
	size_t start = out->len;
	int ret = 0;

	for (size_t i = 0; i < env->rcpt_count; i++)
		if (queue_rcpt_state_check(&env->rcpts[i], i, error_r) < 0)
			return -1;
	ret |= buf_printf(out, "%s %s\nid %s\nrcpts %zu\n", QUEUE_STATE_MAGIC, QUEUE_VERSION,
			  env->id, env->rcpt_count);
	for (size_t i = 0; i < env->rcpt_count && ret == 0; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		ret |= buf_printf(out, "rcpt %zu %s %u %" PRId64 " %" PRId64 "\n", i,
				  queue_rcpt_state_names[r->state], r->attempts,
				  (int64_t)r->last_attempt, (int64_t)r->next_attempt);
		if (r->remote != NULL)
			ret |= buf_printf(out, "remote %s\n", r->remote);
		if (r->reply != NULL)
			ret |= buf_printf(out, "reply %s\n", r->reply);
	}
	if (ret != 0) {
		buf_set_len(out, start);
		queue_error_set(error_r, "state file too large");
		return -1;
	}
	return 0;
}

/* The space-separated fields of a state "rcpt" record. */
static int
rcpt_state_parse(const char *v, size_t len, size_t index, struct queue_rcpt *r)
{
	const char *f[5];
	size_t flen[5], n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ' ')
			continue;
		if (n == N_ELEMENTS(f))
			return -1;
		f[n] = v + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != N_ELEMENTS(f))
		return -1;
	uint64_t idx, attempts;
	if (!queue_number_parse(f[0], flen[0], SIZE_MAX, &idx) || idx != index)
		return -1;
	bool found = false;
	for (size_t s = 0; s < N_ELEMENTS(queue_rcpt_state_names); s++)
		if (strlen(queue_rcpt_state_names[s]) == flen[1] &&
		    memcmp(queue_rcpt_state_names[s], f[1], flen[1]) == 0) {
			r->state = (enum queue_rcpt_state)s;
			found = true;
		}
	if (!found || !queue_number_parse(f[2], flen[2], QUEUE_ATTEMPTS_MAX, &attempts) ||
	    !queue_time_parse(f[3], flen[3], &r->last_attempt) ||
	    !queue_time_parse(f[4], flen[4], &r->next_attempt))
		return -1;
	r->attempts = (unsigned)attempts;
	return 0;
}

static void
rcpt_states_free(struct queue_rcpt *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		queue_rcpt_state_release(&st[i]);
	free(st);
}

int
queue_state_parse(struct queue_envelope *env, const char *data, size_t len, const char **error_r)
{
	struct queue_rcpt *st = xcalloc(env->rcpt_count, sizeof(*st));
	size_t off = 0, line_no = 0, next = 0; /* next: the next recipient expected */
	int stage = 0; /* 0 magic, 1 id, 2 rcpts, 3 rcpt, 4 remote, 5 reply */

	while (off < len) {
		size_t line_len, used;
		const char *key, *value;
		size_t key_len, value_len;
		int got = queue_record_next(data + off, len - off, &line_len, &used, error_r);
		line_no++;
		if (got == 0)
			queue_error_set(error_r, "truncated record");
		if (got <= 0 || queue_record_split(data + off, line_len, &key, &key_len, &value,
						   &value_len, error_r) < 0)
			goto fail;
#define KEY_IS(k) (key_len == strlen(k) && memcmp(key, k, key_len) == 0)
		uint64_t n;
		if (stage == 0) {
			if (!KEY_IS(QUEUE_STATE_MAGIC)) {
				queue_error_set(error_r, "not a postern queue state file");
				goto fail;
			}
			if (value_len != 1 || value[0] != QUEUE_VERSION[0]) {
				queue_error_set(error_r, "unsupported state file version");
				goto fail;
			}
			stage = 1;
		} else if (stage == 1) {
			if (!KEY_IS("id") || value_len != QUEUE_ID_LEN ||
			    memcmp(value, env->id, QUEUE_ID_LEN) != 0) {
				queue_error_set(error_r, "state file of another message");
				goto fail;
			}
			stage = 2;
		} else if (stage == 2) {
			if (!KEY_IS("rcpts") ||
			    !queue_number_parse(value, value_len, SIZE_MAX, &n) ||
			    n != env->rcpt_count) {
				queue_error_set(error_r,
						"recipient count does not match the message");
				goto fail;
			}
			stage = 3;
		} else if (KEY_IS("rcpt")) {
			if (next >= env->rcpt_count ||
			    rcpt_state_parse(value, value_len, next, &st[next]) < 0) {
				queue_error_set(error_r, "invalid recipient state");
				goto fail;
			}
			next++;
			stage = 4;
		} else if (stage >= 4 && stage < 5 && KEY_IS("remote")) {
			if (!queue_text_valid(value, value_len, QUEUE_REMOTE_MAX)) {
				queue_error_set(error_r, "invalid remote host");
				goto fail;
			}
			st[next - 1].remote = xstrndup(value, value_len);
			stage = 5;
		} else if (stage >= 4 && stage < 6 && KEY_IS("reply")) {
			if (!queue_text_valid(value, value_len, QUEUE_REPLY_MAX)) {
				queue_error_set(error_r, "invalid reply text");
				goto fail;
			}
			st[next - 1].reply = xstrndup(value, value_len);
			stage = 6;
		} else {
			char shown[40];
			queue_key_show(key, key_len, shown, sizeof(shown));
			queue_error_set(error_r, "unexpected record '%s'", shown);
			goto fail;
		}
#undef KEY_IS
		off += used;
	}
	if (stage < 3 || next != env->rcpt_count) {
		queue_error_set(error_r, "truncated state file");
		goto fail_eof;
	}
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		queue_rcpt_state_release(r);
		r->state = st[i].state;
		r->attempts = st[i].attempts;
		r->last_attempt = st[i].last_attempt;
		r->next_attempt = st[i].next_attempt;
		r->remote = st[i].remote;
		r->reply = st[i].reply;
	}
	free(st);
	return 0;
fail:
	queue_error_set(error_r, "line %zu: %s", line_no, queue_error_last());
fail_eof:
	rcpt_states_free(st, env->rcpt_count);
	return -1;
}

time_t
queue_envelope_due(const struct queue_envelope *env)
{
	time_t due = -1;

	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING && r->state != QUEUE_RCPT_DELAYED)
			continue;
		if (due < 0 || r->next_attempt < due)
			due = r->next_attempt;
	}
	return due;
}
