/* queue_write.c - writing a message into the relay queue: the SMTP
 * session's side. The file is built in queue/tmp (locked against recovery),
 * then committed: fsync, link into queue/incoming, fsync that directory.
 * Only then may the session answer 250. */
#include "lib/common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

#define WRITE_BUFFER 65536
#define CREATE_ATTEMPTS 8

struct queue_writer {
	struct queue *q;
	int fd; /* queue/tmp/ID, locked */
	struct queue_envelope *env;
	struct buf out;	       /* bytes not yet written */
	uint64_t written;      /* bytes written to the file */
	uint64_t patch_offset; /* where the content length's digits are */
	bool started;	       /* the envelope is in out or the file */
	bool failed;	       /* an earlier write failed */
};

static int
new_id(char *id, const char **error_r)
{
	struct timespec ts;
	uint32_t rnd;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		queue_error_set(error_r, "clock_gettime: %s", strerror(errno));
		return -1;
	}
	while (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		if (errno != EINTR) {
			queue_error_set(error_r, "getrandom: %s", strerror(errno));
			return -1;
		}
	}
	queue_id_make(id, (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000, rnd);
	return 0;
}

int
queue_writer_create(struct queue *q, struct queue_writer **w_r, const char **error_r)
{
	char id[QUEUE_ID_SIZE];
	int fd = -1;

	for (int attempt = 0; fd < 0; attempt++) {
		if (attempt == CREATE_ATTEMPTS) {
			queue_error_set(error_r, "cannot create a file in %s/tmp: %s", q->path,
					strerror(EEXIST));
			return -1;
		}
		if (new_id(id, error_r) < 0)
			return -1;
		fd = queue_create_locked(q, QDIR_TMP, id);
		if (fd < 0 && errno != EEXIST) {
			queue_error_set(error_r, "cannot create %s/tmp/%s: %s", q->path, id,
					strerror(errno));
			return -1;
		}
	}
	struct queue_writer *w = xcalloc(1, sizeof(*w));
	w->q = q;
	w->fd = fd;
	w->env = queue_envelope_new();
	memcpy(w->env->id, id, sizeof(id));
	w->env->arrival = queue_id_time(id);
	buf_init(&w->out, BUF_UNLIMITED);
	*w_r = w;
	return 0;
}

const char *
queue_writer_id(const struct queue_writer *w)
{
	return w->env->id;
}

static void
check_not_started(const struct queue_writer *w, const char *what)
{
	if (w->started)
		panic("queue %s: %s after the content started", w->env->id, what);
}

static int
set_str(char **field, const char *value, bool valid, const char *what, const char **error_r)
{
	if (!valid) {
		queue_error_set(error_r, "invalid %s", what);
		return -1;
	}
	free(*field);
	*field = value != NULL ? xstrdup(value) : NULL;
	return 0;
}

static bool
opt_valid(const char *s, size_t max)
{
	return s == NULL || queue_text_valid(s, strlen(s), max);
}

int
queue_writer_set_sender(struct queue_writer *w, const char *sender, const char **error_r)
{
	check_not_started(w, "set_sender");
	return set_str(&w->env->sender, sender, queue_addr_valid(sender, strlen(sender), true),
		       "sender address", error_r);
}

int
queue_writer_set_params(struct queue_writer *w, const struct queue_params *p, const char **error_r)
{
	struct queue_envelope *env = w->env;

	check_not_started(w, "set_params");
	if (p->body > QUEUE_BODY_BINARYMIME || p->ret > QUEUE_RET_HDRS) {
		queue_error_set(error_r, "invalid BODY or RET");
		return -1;
	}
	if (p->declared_size > QUEUE_CONTENT_MAX) {
		queue_error_set(error_r, "invalid SIZE");
		return -1;
	}
	if (set_str(&env->envid, p->envid,
		    p->envid == NULL || queue_envid_valid(p->envid, strlen(p->envid)), "ENVID",
		    error_r) < 0)
		return -1;
	env->body = p->body;
	env->smtputf8 = p->smtputf8;
	env->requiretls = p->requiretls;
	env->ret = p->ret;
	env->declared_size = p->declared_size;
	return 0;
}

int
queue_writer_set_client(struct queue_writer *w, const struct queue_client *c, const char **error_r)
{
	struct queue_envelope *env = w->env;
	const char *what = NULL;

	check_not_started(w, "set_client");
	if (c->addr != NULL && !queue_ip_valid(c->addr, strlen(c->addr)))
		what = "client address";
	else if (!opt_valid(c->name, QUEUE_NAME_MAX))
		what = "client host name";
	else if (!opt_valid(c->helo, QUEUE_NAME_MAX))
		what = "HELO name";
	else if (!opt_valid(c->auth, QUEUE_NAME_MAX))
		what = "authenticated user";
	else if (c->protocol == NULL || !queue_protocol_valid(c->protocol, strlen(c->protocol)))
		what = "protocol";
	if (what != NULL) {
		queue_error_set(error_r, "invalid %s", what);
		return -1;
	}
	(void)set_str(&env->client_addr, c->addr, true, NULL, NULL);
	(void)set_str(&env->client_name, c->name, true, NULL, NULL);
	(void)set_str(&env->helo, c->helo, true, NULL, NULL);
	(void)set_str(&env->auth, c->auth, true, NULL, NULL);
	(void)set_str(&env->protocol, c->protocol, true, NULL, NULL);
	return 0;
}

int
queue_writer_add_rcpt(struct queue_writer *w, const char *addr, const char *orcpt, unsigned notify,
		      const char **error_r)
{
	check_not_started(w, "add_rcpt");
	if (!queue_addr_valid(addr, strlen(addr), false)) {
		queue_error_set(error_r, "invalid recipient address");
		return -1;
	}
	if (orcpt != NULL && !queue_orcpt_valid(orcpt, strlen(orcpt))) {
		queue_error_set(error_r, "invalid ORCPT");
		return -1;
	}
	if (!queue_notify_valid(notify)) {
		queue_error_set(error_r, "invalid NOTIFY");
		return -1;
	}
	return queue_envelope_add_rcpt(w->env, addr, orcpt, notify, error_r);
}

static int
flush(struct queue_writer *w, const char **error_r)
{
	if (w->out.len == 0)
		return 0;
	if (queue_write_full(w->fd, w->out.data, w->out.len) < 0) {
		w->failed = true;
		queue_error_set(error_r, "cannot write %s/tmp/%s: %s", w->q->path, w->env->id,
				strerror(errno));
		return -1;
	}
	w->written += w->out.len;
	buf_reset(&w->out);
	return 0;
}

/* Put the envelope (content length still 0) first in the file. */
static int
start(struct queue_writer *w, const char **error_r)
{
	if (w->started)
		return 0;
	if (queue_env_format(w->env, &w->out, error_r) < 0) {
		w->failed = true;
		return -1;
	}
	w->patch_offset = w->written + w->out.len - QUEUE_CONTENT_PATCH_BACK;
	w->started = true;
	return 0;
}

int
queue_writer_write(struct queue_writer *w, const void *data, size_t len, const char **error_r)
{
	if (w->failed) {
		queue_error_set(error_r, "queue %s: an earlier write failed", w->env->id);
		return -1;
	}
	if (start(w, error_r) < 0)
		return -1;
	uint64_t size = w->env->content_size;
	if (len > QUEUE_CONTENT_MAX || size > QUEUE_CONTENT_MAX - len) {
		w->failed = true;
		queue_error_set(error_r, "message larger than %" PRIu64 " bytes",
				QUEUE_CONTENT_MAX);
		return -1;
	}
	w->env->content_size += len;
	if (w->out.len + len >= WRITE_BUFFER && flush(w, error_r) < 0)
		return -1;
	if (len < WRITE_BUFFER) {
		if (buf_add(&w->out, data, len) < 0)
			panic("queue_writer_write: unlimited buffer refused %zu bytes", len);
		return 0;
	}
	/* A large chunk goes straight to the file. */
	if (queue_write_full(w->fd, data, len) < 0) {
		w->failed = true;
		queue_error_set(error_r, "cannot write %s/tmp/%s: %s", w->q->path, w->env->id,
				strerror(errno));
		return -1;
	}
	w->written += len;
	return 0;
}

static void
writer_free(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;

	if (w->fd >= 0)
		close(w->fd);
	queue_envelope_free(&w->env);
	buf_release(&w->out);
	free(w);
	*wp = NULL;
}

void
queue_writer_abort(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;

	if (w == NULL)
		return;
	if (unlinkat(w->q->dir_fd[QDIR_TMP], w->env->id, 0) < 0)
		log_warning("queue %s: cannot remove %s/tmp/%s: %s", w->env->id, w->q->path,
			    w->env->id, strerror(errno));
	writer_free(wp);
}

int
queue_writer_commit(struct queue_writer **wp, const char **error_r)
{
	struct queue_writer *w = *wp;
	struct queue *q = w->q;
	const char *id = w->env->id;
	char digits[QUEUE_CONTENT_DIGITS + 1];

	if (w->failed) {
		queue_error_set(error_r, "queue %s: an earlier write failed", id);
		goto fail;
	}
	if (start(w, error_r) < 0 || flush(w, error_r) < 0)
		goto fail;
	queue_crash_point("commit-written");
	/* The content length, now known, into its fixed-width field. */
	(void)snprintf(digits, sizeof(digits), "%0*" PRIu64, QUEUE_CONTENT_DIGITS,
		       w->env->content_size);
	ssize_t n;
	do {
		n = pwrite(w->fd, digits, QUEUE_CONTENT_DIGITS, (off_t)w->patch_offset);
	} while (n < 0 && errno == EINTR);
	if (n != QUEUE_CONTENT_DIGITS) {
		queue_error_set(error_r, "cannot write %s/tmp/%s: %s", q->path, id,
				n < 0 ? strerror(errno) : "short write");
		goto fail;
	}
	queue_crash_point("commit-patched");
	if (fsync(w->fd) < 0) {
		queue_error_set(error_r, "cannot sync %s/tmp/%s: %s", q->path, id, strerror(errno));
		goto fail;
	}
	queue_crash_point("commit-synced");
	/* link, not rename: it never replaces an existing name. */
	if (linkat(q->dir_fd[QDIR_TMP], id, q->dir_fd[QDIR_INCOMING], id, 0) < 0) {
		queue_error_set(error_r, "cannot link %s/tmp/%s into incoming: %s", q->path, id,
				errno == EEXIST ? "queue id collision" : strerror(errno));
		goto fail;
	}
	queue_crash_point("commit-linked");
	if (queue_dir_sync(q, QDIR_INCOMING, error_r) < 0) {
		/* Not durable, so not acknowledged: it must not be delivered
		 * either, or the client's retry would make a duplicate. */
		(void)unlinkat(q->dir_fd[QDIR_INCOMING], id, 0);
		goto fail;
	}
	queue_crash_point("commit-dir-synced");
	/* Committed. A tmp name that survives a crash from here on is a
	 * second link, removed by recovery. */
	if (unlinkat(q->dir_fd[QDIR_TMP], id, 0) < 0)
		log_warning("queue %s: cannot remove %s/tmp/%s: %s", id, q->path, id,
			    strerror(errno));
	queue_crash_point("commit-unlinked");
	writer_free(wp);
	return 0;
fail:
	queue_writer_abort(wp);
	return -1;
}
