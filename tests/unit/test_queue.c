/* test_queue.c - the relay queue on disk: writing and committing, reading
 * back every field and the content, durable state updates, scan order,
 * locking, hold/release/flush/delete, listing, corrupt files, recovery
 * (the directories themselves: test_queue_setup.c). */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>

#include "queue/queue_private.h"
#include "queue_testlib.h"

/* The seconds of the clock a queue id is made from. time() reads a coarser
 * clock that can still show the last second for a tick after the id's clock
 * has passed into the next. */
static time_t
id_clock(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return ts.tv_sec;
}

/* With POSTERN_QUEUE_SEEDS set, committed files are copied there: the
 * fuzz target's seed corpus comes from real written files. */
static void
export_seed(const struct qt *t, const char *id, const char *name)
{
	const char *dir = getenv("POSTERN_QUEUE_SEEDS");

	if (dir == NULL)
		return;
	char *from = xasprintf("%s/incoming/%s", t->qpath, id);
	char *to = xasprintf("%s/%s", dir, name);
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char block[65536];
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, block, sizeof(block))) > 0)
		assert_int_equal(write(out, block, (size_t)n), n);
	close(in);
	close(out);
	free(from);
	free(to);
}

/* For the fuzz target's state file parser: a real message whose content
 * is the real state file of message id (same recipients), under the new
 * message's id. */
static void
export_state_seed(struct qt *t, const char *id, size_t nrcpt, const char *name)
{
	struct buf text;
	struct queue_writer *w;
	const char *error;
	struct queue_client client = {
	    .addr = "192.0.2.1", .helo = "client.example", .protocol = "ESMTP"};

	if (getenv("POSTERN_QUEUE_SEEDS") == NULL)
		return;
	char *path = xasprintf("%s/state/%s", t->qpath, id);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	buf_init(&text, BUF_UNLIMITED);
	char *dst = buf_reserve(&text, 65536);
	ssize_t n = read(fd, dst, 65536);
	assert_true(n > 0);
	buf_set_len(&text, (size_t)n);
	close(fd);
	free(path);
	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	char *at = strstr(text.data, id);
	assert_non_null(at);
	memcpy(at, queue_writer_id(w), QUEUE_ID_LEN);
	char seed_id[QUEUE_ID_SIZE];
	memcpy(seed_id, queue_writer_id(w), sizeof(seed_id));
	assert_int_equal(queue_writer_set_sender(w, "sender@example.org", &error), 0);
	assert_int_equal(queue_writer_set_client(w, &client, &error), 0);
	for (size_t i = 0; i < nrcpt; i++) {
		char addr[64];
		(void)snprintf(addr, sizeof(addr), "rcpt%zu@example.net", i);
		assert_int_equal(queue_writer_add_rcpt(w, addr, NULL, 0, &error), 0);
	}
	assert_int_equal(queue_writer_write(w, text.data, text.len, &error), 0);
	assert_int_equal(queue_writer_commit(&w, &error), 0);
	export_seed(t, seed_id, name);
	assert_int_equal(queue_delete(t->q, seed_id, &error), 0);
	buf_release(&text);
}

/* Queue a message with every envelope field set and size bytes of
 * content, written in uneven chunks: small ones (buffered) and one larger
 * than the writer's buffer (written through). */
static void
queue_full(struct qt *t, struct buf *content, size_t size, char *id)
{
	struct queue_writer *w;
	const char *error;
	struct queue_params params = {.body = QUEUE_BODY_BINARYMIME,
				      .smtputf8 = true,
				      .requiretls = true,
				      .ret = QUEUE_RET_FULL,
				      .envid = "env+2Did",
				      .declared_size = 300000};
	struct queue_client client = {.addr = "198.51.100.7",
				      .name = "mx.example.org",
				      .helo = "mx.example.org",
				      .auth = "alice@example.org",
				      .protocol = "ESMTPSA"};
	static const size_t chunks[] = {1, 2, 1000, 65535, 70000, 3};

	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	memcpy(id, queue_writer_id(w), QUEUE_ID_SIZE);
	assert_true(queue_id_valid(id));
	assert_true(qt_exists(t, "tmp", id));
	assert_int_equal(queue_writer_set_sender(w, "", &error), 0);
	assert_int_equal(queue_writer_set_params(w, &params, &error), 0);
	assert_int_equal(queue_writer_set_client(w, &client, &error), 0);
	assert_int_equal(queue_writer_add_rcpt(w, "bob@example.net", "rfc822;bob@example.net",
					       QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE, &error),
			 0);
	assert_int_equal(
	    queue_writer_add_rcpt(w, "ünïcode@example.net", NULL, QUEUE_NOTIFY_NEVER, &error), 0);
	qt_content(content, size);
	size_t off = 0;
	for (size_t i = 0; off < content->len; i = (i + 1) % N_ELEMENTS(chunks)) {
		size_t n = MIN(chunks[i], content->len - off);
		assert_int_equal(queue_writer_write(w, content->data + off, n, &error), 0);
		off += n;
	}
	/* Nothing is in incoming before the commit. */
	assert_false(qt_exists(t, "incoming", id));
	assert_int_equal(queue_writer_commit(&w, &error), 0);
	assert_null(w);
	assert_false(qt_exists(t, "tmp", id));
	assert_true(qt_exists(t, "incoming", id));
}

static void
test_round_trip(void **state)
{
	struct qt *t = qt_new();
	const char *error;
	char id[QUEUE_ID_SIZE];
	struct buf content, back;
	time_t before = id_clock();

	buf_init(&content, BUF_UNLIMITED);
	queue_full(t, &content, 300, id);
	export_seed(t, id, "every-field");
	assert_int_equal(queue_delete(t->q, id, &error), 0);
	buf_reset(&content);
	queue_full(t, &content, 200000, id);
	assert_int_equal(qt_count(t, "tmp"), 0);
	char *path = xasprintf("%s/incoming/%s", t->qpath, id);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(path);

	struct queue_entry *entries;
	size_t count;
	assert_int_equal(queue_scan(t->q, &entries, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(entries[0].id, id);
	assert_int_equal(entries[0].state, QUEUE_INCOMING);
	assert_true(entries[0].due >= before && entries[0].due <= id_clock());
	free(entries);

	struct queue_msg *msg;
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	const struct queue_envelope *env = queue_msg_envelope(msg);
	assert_int_equal(queue_msg_state(msg), QUEUE_INCOMING);
	assert_string_equal(env->id, id);
	assert_true(env->arrival >= before && env->arrival <= id_clock());
	assert_string_equal(env->sender, "");
	assert_int_equal(env->body, QUEUE_BODY_BINARYMIME);
	assert_true(env->smtputf8);
	assert_true(env->requiretls);
	assert_int_equal(env->ret, QUEUE_RET_FULL);
	assert_string_equal(env->envid, "env+2Did");
	assert_int_equal(env->declared_size, 300000);
	assert_string_equal(env->client_addr, "198.51.100.7");
	assert_string_equal(env->client_name, "mx.example.org");
	assert_string_equal(env->helo, "mx.example.org");
	assert_string_equal(env->auth, "alice@example.org");
	assert_string_equal(env->protocol, "ESMTPSA");
	assert_int_equal(env->rcpt_count, 2);
	assert_string_equal(env->rcpts[0].addr, "bob@example.net");
	assert_string_equal(env->rcpts[0].orcpt, "rfc822;bob@example.net");
	assert_int_equal(env->rcpts[0].notify, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE);
	assert_string_equal(env->rcpts[1].addr, "ünïcode@example.net");
	assert_null(env->rcpts[1].orcpt);
	assert_int_equal(env->rcpts[1].notify, QUEUE_NOTIFY_NEVER);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(env->rcpts[i].state, QUEUE_RCPT_PENDING);
		assert_int_equal(env->rcpts[i].attempts, 0);
		assert_null(env->rcpts[i].reply);
	}
	assert_int_equal(env->content_size, content.len);

	/* Streamed back in odd pieces, and through the descriptor. */
	buf_init(&back, BUF_UNLIMITED);
	for (;;) {
		char piece[4097];
		ssize_t n = queue_msg_read(msg, back.len, piece, sizeof(piece), &error);
		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_int_equal(buf_add(&back, piece, (size_t)n), 0);
	}
	assert_int_equal(back.len, content.len);
	assert_memory_equal(back.data, content.data, content.len);
	char tail[10];
	assert_int_equal(pread(queue_msg_fd(msg), tail, sizeof(tail),
			       (off_t)(queue_msg_content_offset(msg) + content.len - sizeof(tail))),
			 (ssize_t)sizeof(tail));
	assert_memory_equal(tail, content.data + content.len - sizeof(tail), sizeof(tail));
	assert_int_equal(queue_msg_read(msg, content.len + 5, tail, sizeof(tail), &error), 0);
	queue_msg_close(&msg);
	assert_null(msg);
	buf_release(&back);
	buf_release(&content);
	qt_free(&t);
}

static void
test_writer_refuses(void **state)
{
	struct qt *t = qt_new();
	struct queue_writer *w;
	const char *error;
	char big[QUEUE_ADDR_MAX + 2];
	struct queue_client client = {.protocol = "ESMTP"};

	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	assert_int_equal(queue_writer_set_sender(w, "a\r\nb@example.org", &error), -1);
	assert_contains(error, "sender");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(queue_writer_add_rcpt(w, big, NULL, 0, &error), -1);
	assert_int_equal(queue_writer_add_rcpt(w, "", NULL, 0, &error), -1);
	assert_int_equal(queue_writer_add_rcpt(w, "a@b", "no-semicolon", 0, &error), -1);
	assert_contains(error, "ORCPT");
	assert_int_equal(queue_writer_add_rcpt(w, "a@b", NULL,
					       QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS, &error),
			 -1);
	assert_contains(error, "NOTIFY");
	struct queue_client bad = {.addr = "localhost", .protocol = "ESMTP"};
	assert_int_equal(queue_writer_set_client(w, &bad, &error), -1);
	assert_contains(error, "client address");
	bad.addr = NULL;
	bad.protocol = NULL;
	assert_int_equal(queue_writer_set_client(w, &bad, &error), -1);
	assert_contains(error, "protocol");
	struct queue_params params = {.envid = "has space"};
	assert_int_equal(queue_writer_set_params(w, &params, &error), -1);
	assert_contains(error, "ENVID");
	/* The recipient cap. */
	for (size_t i = 0; i < QUEUE_RCPT_MAX; i++) {
		char addr[32];
		(void)snprintf(addr, sizeof(addr), "r%zu@x", i);
		assert_int_equal(queue_writer_add_rcpt(w, addr, NULL, 0, &error), 0);
	}
	assert_int_equal(queue_writer_add_rcpt(w, "one@more", NULL, 0, &error), -1);
	assert_contains(error, "too many recipients");
	/* No sender and no client: commit fails and leaves nothing. */
	assert_int_equal(queue_writer_commit(&w, &error), -1);
	assert_null(w);
	assert_int_equal(qt_count(t, "tmp"), 0);
	assert_int_equal(qt_count(t, "incoming"), 0);

	/* Abort after content was written. */
	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	assert_int_equal(queue_writer_set_sender(w, "a@b", &error), 0);
	assert_int_equal(queue_writer_set_client(w, &client, &error), 0);
	assert_int_equal(queue_writer_add_rcpt(w, "c@d", NULL, 0, &error), 0);
	assert_int_equal(queue_writer_write(w, "x\r\n", 3, &error), 0);
	assert_int_equal(qt_count(t, "tmp"), 1);
	queue_writer_abort(&w);
	assert_null(w);
	queue_writer_abort(&w);
	assert_int_equal(qt_count(t, "tmp"), 0);
	assert_int_equal(qt_count(t, "incoming"), 0);

	/* A message with no content at all is still a message. */
	char id[QUEUE_ID_SIZE];
	qt_queue(t, 1, 0, 1, id);
	export_seed(t, id, "minimal-empty-content");
	struct queue_msg *msg;
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	assert_int_equal(queue_msg_envelope(msg)->content_size, 0);
	queue_msg_close(&msg);
	qt_free(&t);
}

/* A write error (here: over RLIMIT_FSIZE, as a full disk would) fails the
 * write and the commit, and leaves nothing in the queue. */
static void
test_write_error(void **state)
{
	struct qt *t = qt_new();
	struct queue_writer *w;
	const char *error;
	struct rlimit old, small = {.rlim_cur = 100000, .rlim_max = RLIM_INFINITY};
	struct queue_client client = {.protocol = "ESMTP"};
	static char block[30000];

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	assert_int_equal(queue_writer_set_sender(w, "a@b", &error), 0);
	assert_int_equal(queue_writer_set_client(w, &client, &error), 0);
	assert_int_equal(queue_writer_add_rcpt(w, "c@d", NULL, 0, &error), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int ret = 0;
	for (int i = 0; i < 10 && ret == 0; i++)
		ret = queue_writer_write(w, block, sizeof(block), &error);
	assert_int_equal(ret, -1);
	assert_contains(error, "File too large");
	assert_int_equal(queue_writer_write(w, "x", 1, &error), -1);
	assert_contains(error, "an earlier write failed");
	assert_int_equal(queue_writer_commit(&w, &error), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(qt_count(t, "tmp"), 0);
	assert_int_equal(qt_count(t, "incoming"), 0);
	qt_free(&t);
}

static void
test_state_survives_reopen(void **state)
{
	struct qt *t = qt_new();
	char id[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;

	qt_queue(t, 4, 5000, 700, id);
	export_seed(t, id, "4rcpt-5k");
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	struct queue_attempt ok = {.state = QUEUE_RCPT_DELIVERED,
				   .when = 1700000100,
				   .remote = "mx.example.net[192.0.2.7]",
				   .reply = "250 2.0.0 Ok: queued as 4Zx"};
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING,
				      .when = 1700000100,
				      .next_attempt = 1700001000,
				      .remote = "mx.example.net",
				      .reply = "451 4.7.1 Greylisted"};
	struct queue_attempt bad = {
	    .state = QUEUE_RCPT_FAILED, .when = 1700000100, .reply = "550 5.1.1 No such user"};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &ok, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 1, &later, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 2, &bad, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 3, &later, &error), 0);
	assert_int_equal(queue_msg_mark_delayed(msg, 3, &error), 0);
	/* Final recipients stay final; indexes are checked. */
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), -1);
	assert_contains(error, "already delivered");
	assert_int_equal(queue_msg_mark_delayed(msg, 2, &error), -1);
	assert_int_equal(queue_msg_record_attempt(msg, 4, &ok, &error), -1);
	struct queue_attempt invalid = later;
	invalid.reply = "two\nlines";
	assert_int_equal(queue_msg_record_attempt(msg, 1, &invalid, &error), -1);
	invalid = later;
	invalid.state = QUEUE_RCPT_DELAYED;
	assert_int_equal(queue_msg_record_attempt(msg, 1, &invalid, &error), -1);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	assert_null(msg);
	export_state_seed(t, id, 4, "content-is-state-file");
	assert_true(qt_exists(t, "deferred", id));
	assert_false(qt_exists(t, "incoming", id));
	assert_true(qt_exists(t, "state", id));

	/* A new handle, as after a restart. */
	queue_close(&t->q);
	assert_int_equal(queue_open(t->qpath, &t->q, &error), 0);
	struct queue_entry *entries;
	size_t count;
	assert_int_equal(queue_scan(t->q, &entries, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(entries[0].state, QUEUE_DEFERRED);
	assert_int_equal(entries[0].due, 1700001000);
	free(entries);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	const struct queue_envelope *env = queue_msg_envelope(msg);
	assert_int_equal(env->rcpts[0].state, QUEUE_RCPT_DELIVERED);
	assert_int_equal(env->rcpts[0].attempts, 1);
	assert_int_equal(env->rcpts[0].last_attempt, 1700000100);
	assert_int_equal(env->rcpts[0].next_attempt, 0);
	assert_string_equal(env->rcpts[0].remote, "mx.example.net[192.0.2.7]");
	assert_string_equal(env->rcpts[0].reply, "250 2.0.0 Ok: queued as 4Zx");
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_int_equal(env->rcpts[1].next_attempt, 1700001000);
	assert_string_equal(env->rcpts[1].reply, "451 4.7.1 Greylisted");
	assert_int_equal(env->rcpts[2].state, QUEUE_RCPT_FAILED);
	assert_null(env->rcpts[2].remote);
	assert_int_equal(env->rcpts[3].state, QUEUE_RCPT_DELAYED);

	/* A second attempt: a delayed recipient stays delayed while
	 * pending; the attempt count grows. queue_msg_sync alone is durable. */
	later.next_attempt = 1700009000;
	later.when = 1700001000;
	assert_int_equal(queue_msg_record_attempt(msg, 3, &later, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 1, &ok, &error), 0);
	assert_int_equal(queue_msg_sync(msg, &error), 0);
	queue_msg_close(&msg);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	env = queue_msg_envelope(msg);
	assert_int_equal(env->rcpts[3].state, QUEUE_RCPT_DELAYED);
	assert_int_equal(env->rcpts[3].attempts, 2);
	assert_int_equal(env->rcpts[3].next_attempt, 1700009000);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_DELIVERED);
	assert_int_equal(env->rcpts[1].attempts, 2);
	/* Changes not synced are lost on close. */
	assert_int_equal(queue_msg_record_attempt(msg, 3, &bad, &error), 0);
	queue_msg_close(&msg);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	assert_int_equal(queue_msg_envelope(msg)->rcpts[3].state, QUEUE_RCPT_DELAYED);
	/* The last one fails: every recipient is final, the message goes. */
	assert_int_equal(queue_msg_record_attempt(msg, 3, &bad, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	assert_int_equal(qt_count(t, "deferred"), 0);
	assert_int_equal(qt_count(t, "state"), 0);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), QUEUE_SKIP);
	qt_free(&t);
}

static void
test_delivered_at_once(void **state)
{
	struct qt *t = qt_new();
	char id[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;
	struct queue_attempt ok = {.state = QUEUE_RCPT_DELIVERED, .when = time(NULL)};

	qt_queue(t, 2, 100, 100, id);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	/* Opened by nobody else meanwhile, and finishing without a change
	 * leaves a never-tried message where it is. */
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	assert_true(qt_exists(t, "incoming", id));
	assert_int_equal(qt_count(t, "state"), 0);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 0, &ok, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 1, &ok, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	assert_int_equal(qt_count(t, "incoming"), 0);
	assert_int_equal(qt_count(t, "deferred"), 0);
	assert_int_equal(qt_count(t, "state"), 0);
	qt_free(&t);
}

static void
test_scan_order(void **state)
{
	struct qt *t = qt_new();
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;
	time_t now = time(NULL);

	qt_queue(t, 1, 10, 10, a);
	qt_queue(t, 1, 10, 10, b);
	qt_queue(t, 1, 10, 10, c);
	qt_queue(t, 1, 10, 10, d);
	assert_true(strcmp(a, b) < 0 && strcmp(b, c) < 0 && strcmp(c, d) < 0);
	/* a: due in two hours, b: due in one hour, c and d: never tried. */
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING, .when = now};
	later.next_attempt = now + 7200;
	assert_int_equal(queue_msg_open(t->q, a, &msg, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	later.next_attempt = now + 3600;
	assert_int_equal(queue_msg_open(t->q, b, &msg, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	/* d is held: not ready. */
	assert_int_equal(queue_hold(t->q, d, &error), 0);

	struct queue_entry *e;
	size_t n;
	assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].id, c);
	assert_int_equal(e[0].state, QUEUE_INCOMING);
	assert_string_equal(e[1].id, b);
	assert_int_equal(e[1].state, QUEUE_DEFERRED);
	assert_int_equal(e[1].due, now + 3600);
	assert_string_equal(e[2].id, a);
	assert_int_equal(e[2].due, now + 7200);
	free(e);
	/* Held since the scan: the runner is told to skip it. */
	assert_int_equal(queue_msg_open(t->q, d, &msg, &error), QUEUE_SKIP);
	assert_int_equal(queue_msg_open(t->q, "0000000000000000", &msg, &error), QUEUE_SKIP);
	assert_int_equal(queue_msg_open(t->q, "../incoming", &msg, &error), -1);

	/* A wrong hint (the state file's time touched) is repaired by the
	 * next finish, which knows the truth. */
	char *path = xasprintf("%s/state/%s", t->qpath, a);
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 5}};
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
	assert_string_equal(e[0].id, a);
	free(e);
	assert_int_equal(queue_msg_open(t->q, a, &msg, &error), 0);
	assert_int_equal(queue_envelope_due(queue_msg_envelope(msg)), now + 7200);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, now + 7200);
	free(path);
	qt_free(&t);
}

static void
test_locking(void **state)
{
	struct qt *t = qt_new();
	char id[QUEUE_ID_SIZE];
	struct queue_msg *msg, *other;
	const char *error;
	struct queue *q2;

	qt_queue(t, 1, 10, 10, id);
	/* A second handle stands for a second process: flock locks belong to
	 * open files, so the same process can test both sides. */
	assert_int_equal(queue_open(t->qpath, &q2, &error), 0);
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	assert_int_equal(queue_msg_open(q2, id, &other, &error), QUEUE_SKIP);
	assert_contains(error, "busy");
	assert_int_equal(queue_delete(q2, id, &error), -1);
	assert_contains(error, "being delivered");
	assert_int_equal(queue_hold(q2, id, &error), -1);
	assert_int_equal(queue_quarantine(q2, id, &error), -1);
	size_t count;
	assert_int_equal(queue_flush(q2, NULL, time(NULL), &count, &error), 0);
	queue_msg_close(&msg);
	assert_int_equal(queue_msg_open(q2, id, &other, &error), 0);
	queue_msg_close(&other);

	/* A message being written is locked: recovery leaves it alone. */
	struct queue_writer *w;
	struct queue_recovery r;
	assert_int_equal(queue_writer_create(t->q, &w, &error), 0);
	assert_int_equal(queue_writer_write(w, "x", 1, &error), -1); /* no envelope yet */
	assert_int_equal(queue_recover(q2, &r, &error), 0);
	assert_int_equal(r.tmp_removed, 0);
	assert_true(qt_exists(t, "tmp", queue_writer_id(w)));
	queue_writer_abort(&w);
	queue_close(&q2);
	qt_free(&t);
}

/* Recovery running in the instant between a file's creation and its
 * locking (the racy point of the lock protocol). */
static struct queue *race_queue;
static int race_runs;

static void
race_hook(const char *point)
{
	struct queue_recovery r;
	const char *error;

	if (race_runs > 0 ||
	    (strcmp(point, "create-opened") != 0 && strcmp(point, "state-tmp-opened") != 0))
		return;
	race_runs++;
	assert_int_equal(queue_recover(race_queue, &r, &error), 0);
	assert_int_equal(r.tmp_removed + r.state_tmp_removed, 1);
}

static void
test_recovery_race(void **state)
{
	struct qt *t = qt_new();
	const char *error;
	char id[QUEUE_ID_SIZE];
	struct queue_msg *msg;

	assert_int_equal(queue_open(t->qpath, &race_queue, &error), 0);
	queue_crash_hook = race_hook;
	race_runs = 0;
	/* The writer notices that its first file was removed, and makes
	 * another with a new id. */
	qt_queue(t, 1, 10, 10, id);
	assert_int_equal(race_runs, 1);
	assert_true(qt_exists(t, "incoming", id));
	assert_int_equal(qt_count(t, "tmp"), 0);
	/* Likewise the state file's temporary file. */
	race_runs = 0;
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING, .when = 1, .next_attempt = 2};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	assert_int_equal(race_runs, 1);
	queue_crash_hook = NULL;
	assert_int_equal(queue_msg_open(t->q, id, &msg, &error), 0);
	assert_int_equal(queue_msg_envelope(msg)->rcpts[0].attempts, 1);
	queue_msg_close(&msg);
	queue_close(&race_queue);
	qt_free(&t);
}

static void
test_hold_release_flush_delete(void **state)
{
	struct qt *t = qt_new();
	char fresh[QUEUE_ID_SIZE], tried[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;
	time_t now = time(NULL);
	size_t count;

	qt_queue(t, 1, 10, 10, fresh);
	qt_queue(t, 2, 10, 10, tried);
	assert_int_equal(queue_msg_open(t->q, tried, &msg, &error), 0);
	struct queue_attempt later = {
	    .state = QUEUE_RCPT_PENDING, .when = now, .next_attempt = now + 86400};
	struct queue_attempt ok = {.state = QUEUE_RCPT_DELIVERED, .when = now};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 1, &ok, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);

	assert_int_equal(queue_hold(t->q, fresh, &error), 0);
	assert_int_equal(queue_hold(t->q, tried, &error), 0);
	assert_true(qt_exists(t, "hold", fresh) && qt_exists(t, "hold", tried));
	assert_int_equal(queue_hold(t->q, tried, &error), -1);
	assert_contains(error, "in hold");
	struct queue_entry *e;
	size_t n;
	assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(queue_flush(t->q, tried, now, &count, &error), -1);

	/* Never tried: back to incoming. Tried: deferred, due now, its
	 * delivered recipient untouched. */
	assert_int_equal(queue_release(t->q, fresh, now + 10, &error), 0);
	assert_true(qt_exists(t, "incoming", fresh));
	assert_int_equal(queue_release(t->q, fresh, now + 10, &error), -1);
	assert_contains(error, "not held");
	assert_int_equal(queue_release(t->q, tried, now + 10, &error), 0);
	assert_true(qt_exists(t, "deferred", tried));
	assert_int_equal(queue_msg_open(t->q, tried, &msg, &error), 0);
	const struct queue_envelope *env = queue_msg_envelope(msg);
	assert_int_equal(env->rcpts[0].next_attempt, now + 10);
	assert_int_equal(env->rcpts[0].attempts, 1);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_DELIVERED);
	later.next_attempt = now + 86400;
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);

	/* Flush: every deferred message due now; incoming ones already are. */
	assert_int_equal(queue_flush(t->q, NULL, now + 20, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(queue_scan(t->q, &e, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[1].id, tried);
	assert_int_equal(e[1].due, now + 20);
	free(e);
	assert_int_equal(queue_flush(t->q, fresh, now, &count, &error), 0);
	assert_int_equal(count, 0);
	assert_int_equal(queue_flush(t->q, tried, now + 30, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(queue_flush(t->q, "bogus", now, &count, &error), -1);

	/* Delete, from any state; the state file goes with the message. */
	assert_int_equal(queue_delete(t->q, tried, &error), 0);
	assert_false(qt_exists(t, "deferred", tried));
	assert_int_equal(qt_count(t, "state"), 0);
	assert_int_equal(queue_delete(t->q, tried, &error), -1);
	assert_contains(error, "not in the queue");
	assert_int_equal(queue_delete(t->q, "not-an-id", &error), -1);
	assert_contains(error, "not a queue id");
	assert_int_equal(queue_hold(t->q, fresh, &error), 0);
	assert_int_equal(queue_delete(t->q, fresh, &error), 0);
	assert_int_equal(qt_count(t, "hold"), 0);
	qt_free(&t);
}

struct collected {
	struct buf text;
	size_t count;
};

static int
collect(const struct queue_info *info, void *ctx)
{
	struct collected *c = ctx;

	c->count++;
	assert_int_equal(queue_info_format(info, &c->text), 0);
	return 0;
}

static int
stop_at_first(const struct queue_info *info, void *ctx)
{
	return 7;
}

static void
test_list(void **state)
{
	struct qt *t = qt_new();
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;
	struct collected c = {.count = 0};

	qt_queue(t, 1, 1234, 100, a);
	qt_queue(t, 2, 99, 100, b);
	assert_int_equal(queue_msg_open(t->q, b, &msg, &error), 0);
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING,
				      .when = 1700000000,
				      .next_attempt = 1700003600,
				      .remote = "mx.example.net",
				      .reply = "451 4.7.1 Try later"};
	struct queue_attempt ok = {.state = QUEUE_RCPT_DELIVERED, .when = 1700000000};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_record_attempt(msg, 1, &ok, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);

	buf_init(&c.text, BUF_UNLIMITED);
	assert_int_equal(queue_list(t->q, collect, &c, &error), 0);
	assert_int_equal(c.count, 2);
	char *want = xasprintf("%-16s  incoming        1234  ", a);
	assert_memory_equal(c.text.data, want, strlen(want));
	free(want);
	assert_contains(c.text.data, "  <sender@example.org>\n"
				     "    pending    <rcpt0@example.net>\n");
	want = xasprintf("%-16s  deferred          99  ", b);
	assert_contains(c.text.data, want);
	free(want);
	assert_contains(c.text.data,
			"    pending    <rcpt0@example.net>  1 attempt, next 2023-11-14 23:13:20Z\n"
			"               mx.example.net: 451 4.7.1 Try later\n"
			"    delivered  <rcpt1@example.net>  1 attempt\n");
	assert_int_equal(queue_list(t->q, stop_at_first, NULL, &error), 7);
	/* one state only */
	buf_reset(&c.text);
	c.count = 0;
	assert_int_equal(queue_list_state(t->q, QUEUE_DEFERRED, collect, &c, &error), 0);
	assert_int_equal(c.count, 1);
	assert_memory_equal(c.text.data, b, strlen(b));
	c.count = 0;
	assert_int_equal(queue_list_state(t->q, QUEUE_HOLD, collect, &c, &error), 0);
	assert_int_equal(c.count, 0);

	/* An unreadable file is listed with the reason. */
	char *path = xasprintf("%s/deferred/%s", t->qpath, b);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "!", 1), 1);
	close(fd);
	free(path);
	buf_reset(&c.text);
	c.count = 0;
	assert_int_equal(queue_list(t->q, collect, &c, &error), 0);
	assert_int_equal(c.count, 2);
	path = xasprintf("%s/deferred/%s", t->qpath, b);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	free(path);
	want = xasprintf("%-16s  deferred  %10zu  unreadable: %s: file is %zu bytes, "
			 "the envelope says %zu\n",
			 b, (size_t)st.st_size, b, (size_t)st.st_size, (size_t)st.st_size - 1);
	assert_contains(c.text.data, want);
	free(want);
	assert_contains(c.text.data, "the envelope says");
	buf_release(&c.text);
	qt_free(&t);
}

static void
test_info_format_golden(void **state)
{
	struct queue_envelope *env = queue_envelope_new();
	struct buf out;

	memcpy(env->id, "0CK9TQH4S2M3R7QX", QUEUE_ID_SIZE);
	env->arrival = 1700000000;
	env->sender = xstrdup("");
	env->content_size = 4321;
	assert_int_equal(queue_envelope_add_rcpt(env, "bob@example.net", NULL, 0, NULL), 0);
	assert_int_equal(queue_envelope_add_rcpt(env, "carol@example.net", NULL, 0, NULL), 0);
	assert_int_equal(queue_envelope_add_rcpt(env, "dan@example.net", NULL, 0, NULL), 0);
	env->rcpts[0].state = QUEUE_RCPT_DELAYED;
	env->rcpts[0].attempts = 3;
	env->rcpts[0].next_attempt = 1700086400;
	env->rcpts[0].remote = xstrdup("mx.example.net[192.0.2.7]");
	env->rcpts[0].reply = xstrdup("421 4.4.2 Timeout");
	env->rcpts[1].state = QUEUE_RCPT_FAILED;
	env->rcpts[1].attempts = 1;
	env->rcpts[1].reply = xstrdup("no MX or A record for example.net");
	struct queue_info info = {.id = env->id, .state = QUEUE_HOLD, .env = env};
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(queue_info_format(&info, &out), 0);
	assert_string_equal(
	    out.data, "0CK9TQH4S2M3R7QX  hold            4321  2023-11-14 22:13:20Z  <>\n"
		      "    delayed    <bob@example.net>  3 attempts, next 2023-11-15 22:13:20Z\n"
		      "               mx.example.net[192.0.2.7]: 421 4.4.2 Timeout\n"
		      "    failed     <carol@example.net>  1 attempt\n"
		      "               no MX or A record for example.net\n"
		      "    pending    <dan@example.net>\n");
	struct queue_info broken = {.id = "0CK9TQH4S2M3R7QY",
				    .state = QUEUE_CORRUPT,
				    .file_size = 17,
				    .error = "truncated envelope"};
	buf_reset(&out);
	assert_int_equal(queue_info_format(&broken, &out), 0);
	assert_string_equal(out.data, "0CK9TQH4S2M3R7QY  corrupt           17  unreadable: "
				      "truncated envelope\n");
	struct buf small;
	buf_init(&small, 20);
	assert_int_equal(queue_info_format(&info, &small), -1);
	assert_int_equal(small.len, 0);
	buf_release(&small);
	buf_release(&out);
	queue_envelope_free(&env);
}

static void
corrupt_file(const struct qt *t, const char *sub, const char *id, const char *text)
{
	char *path = xasprintf("%s/%s/%s", t->qpath, sub, id);
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(path);
}

static void
test_corrupt(void **state)
{
	struct qt *t = qt_new();
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	const char *error;

	qt_queue(t, 1, 100, 100, a);
	qt_queue(t, 1, 100, 100, b);
	corrupt_file(t, "incoming", a, "postern-queue 1\nid ");
	assert_int_equal(queue_msg_open(t->q, a, &msg, &error), QUEUE_CORRUPT_FILE);
	assert_contains(error, "truncated envelope");
	assert_int_equal(queue_quarantine(t->q, a, &error), 0);
	assert_true(qt_exists(t, "corrupt", a));
	assert_int_equal(queue_msg_open(t->q, a, &msg, &error), QUEUE_SKIP);

	/* A bad state file makes the message corrupt too: delivering it with
	 * a guessed state could repeat deliveries. */
	assert_int_equal(queue_msg_open(t->q, b, &msg, &error), 0);
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING, .when = 1, .next_attempt = 2};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	corrupt_file(t, "state", b, "postern-queue-state 1\nid 0000000000000000\n");
	assert_int_equal(queue_msg_open(t->q, b, &msg, &error), QUEUE_CORRUPT_FILE);
	assert_contains(error, "state file of another message");
	/* A message file under another message's name. */
	char *from = xasprintf("%s/deferred/%s", t->qpath, b);
	char *to = xasprintf("%s/deferred/0000000000000000", t->qpath);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(queue_msg_open(t->q, "0000000000000000", &msg, &error),
			 QUEUE_CORRUPT_FILE);
	assert_contains(error, "the file holds message");
	free(from);
	free(to);
	qt_free(&t);
}

static void
touch(const struct qt *t, const char *sub, const char *name)
{
	char *path = xasprintf("%s/%s/%s", t->qpath, sub, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "partial", 7), 7);
	close(fd);
	free(path);
}

static void
test_recovery(void **state)
{
	struct qt *t = qt_new();
	char kept[QUEUE_ID_SIZE], twice[QUEUE_ID_SIZE];
	struct queue_msg *msg;
	struct queue_recovery r;
	const char *error;

	qt_queue(t, 1, 100, 100, kept);
	qt_queue(t, 1, 100, 100, twice);
	assert_int_equal(queue_msg_open(t->q, kept, &msg, &error), 0);
	struct queue_attempt later = {.state = QUEUE_RCPT_PENDING, .when = 1, .next_attempt = 2};
	assert_int_equal(queue_msg_record_attempt(msg, 0, &later, &error), 0);
	assert_int_equal(queue_msg_finish(&msg, &error), 0);
	/* What crashes leave: an unacknowledged message, a half-written
	 * state file, the state file of a removed message, a message under
	 * two names, and a stray file that is not the queue's. */
	touch(t, "tmp", "0CK9TQH4S2M3R7QX");
	touch(t, "state", "0CK9TQH4S2M3R7QY.tmp");
	touch(t, "state", "0CK9TQH4S2M3R7QZ");
	touch(t, "tmp", "README");
	char *from = xasprintf("%s/incoming/%s", t->qpath, twice);
	char *to = xasprintf("%s/hold/%s", t->qpath, twice);
	assert_int_equal(link(from, to), 0);
	free(from);
	free(to);

	assert_int_equal(queue_recover(t->q, &r, &error), 0);
	assert_int_equal(r.tmp_removed, 1);
	assert_int_equal(r.state_tmp_removed, 1);
	assert_int_equal(r.orphans_removed, 1);
	assert_int_equal(r.links_removed, 1);
	assert_int_equal(r.unknown, 1);
	assert_int_equal(qt_count(t, "tmp"), 1); /* README */
	assert_int_equal(qt_count(t, "state"), 1);
	assert_true(qt_exists(t, "state", kept));
	assert_true(qt_exists(t, "deferred", kept));
	assert_true(qt_exists(t, "hold", twice));
	assert_false(qt_exists(t, "incoming", twice));
	/* Nothing more to do the second time. */
	assert_int_equal(queue_recover(t->q, &r, &error), 0);
	assert_int_equal(r.tmp_removed + r.state_tmp_removed + r.orphans_removed + r.links_removed,
			 0);
	assert_int_equal(queue_msg_open(t->q, kept, &msg, &error), 0);
	assert_int_equal(queue_msg_envelope(msg)->rcpts[0].attempts, 1);
	queue_msg_close(&msg);
	qt_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_round_trip, qt_cleanup),
		cmocka_unit_test_teardown(test_writer_refuses, qt_cleanup),
		cmocka_unit_test_teardown(test_write_error, qt_cleanup),
		cmocka_unit_test_teardown(test_state_survives_reopen, qt_cleanup),
		cmocka_unit_test_teardown(test_delivered_at_once, qt_cleanup),
		cmocka_unit_test_teardown(test_scan_order, qt_cleanup),
		cmocka_unit_test_teardown(test_locking, qt_cleanup),
		cmocka_unit_test_teardown(test_recovery_race, qt_cleanup),
		cmocka_unit_test_teardown(test_hold_release_flush_delete, qt_cleanup),
		cmocka_unit_test_teardown(test_list, qt_cleanup),
		cmocka_unit_test(test_info_format_golden),
		cmocka_unit_test_teardown(test_corrupt, qt_cleanup),
		cmocka_unit_test_teardown(test_recovery, qt_cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
