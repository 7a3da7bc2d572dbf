/* test_submit.c - the local submission socket: the request head's encoder
 * and parser (round trip, one byte at a time, every malformed head
 * refused), and a live server on an event loop in this process with
 * clients in forked children: a message queued with its envelope and
 * Received field, FLUSH and ETRN reaching the handler (and refused to
 * another uid), oversize content refused with 552, content over the
 * budget of the connections together refused with 451; the event-loop client
 * of FLUSH and ETRN against that server and against fake peers. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "lib/config.h"
#include "queue/submit.h"
#include "queue_testlib.h"

/* ---- codec ---- */

static void
request_fill(struct submit_request *req, size_t nrcpts)
{
	memset(req, 0, sizeof(*req));
	req->sender = xstrdup("alice@example.org");
	req->rcpts = xcalloc(nrcpts, sizeof(*req->rcpts));
	req->nrcpts = nrcpts;
	for (size_t i = 0; i < nrcpts; i++)
		req->rcpts[i].addr = xasprintf("rcpt%zu@example.net", i);
}

/* Parse data feeding it chunk bytes at a time (0: all at once), keeping
 * unconsumed bytes as a caller would. Returns the result; *used_r is the
 * total consumed. */
static enum submit_parse_result
parse_chunked(struct submit_parser *p, const char *data, size_t len, size_t chunk, size_t *used_r)
{
	struct buf pending;
	size_t fed = 0, used = 0;
	enum submit_parse_result r = SUBMIT_PARSE_MORE;
	const char *error;

	buf_init(&pending, BUF_UNLIMITED);
	while (r == SUBMIT_PARSE_MORE && fed < len) {
		size_t n = chunk == 0 ? len : MIN(chunk, len - fed);
		size_t consumed;
		assert_int_equal(buf_add(&pending, data + fed, n), 0);
		fed += n;
		r = submit_parse(p, pending.data, pending.len, &consumed, &error);
		buf_consume(&pending, consumed);
		used += consumed;
		if (r == SUBMIT_PARSE_ERROR)
			assert_non_null(error);
	}
	buf_release(&pending);
	*used_r = used;
	return r;
}

static void
test_round_trip(void **state)
{
	struct submit_request req;
	struct buf head;
	const char *error;

	request_fill(&req, 3);
	req.ret = QUEUE_RET_HDRS;
	req.envid = xstrdup("env+2Did");
	req.rcpts[0].notify = QUEUE_NOTIFY_NEVER;
	req.rcpts[2].notify = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY;
	buf_init(&head, BUF_UNLIMITED);
	assert_int_equal(submit_request_format(&req, 1234, &head, &error), 0);
	assert_string_equal(head.data, "SUBMIT\n"
				       "sender alice@example.org\n"
				       "ret hdrs\n"
				       "envid env+2Did\n"
				       "rcpt rcpt0@example.net\n"
				       "notify never\n"
				       "rcpt rcpt1@example.net\n"
				       "rcpt rcpt2@example.net\n"
				       "notify success,delay\n"
				       "content 1234\n");
	/* Content bytes after the head are not consumed. */
	assert_int_equal(buf_add_str(&head, "xyz"), 0);
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		struct submit_parser p;
		size_t used;
		submit_parser_init(&p);
		assert_int_equal(parse_chunked(&p, head.data, head.len, chunk, &used),
				 SUBMIT_PARSE_DONE);
		assert_int_equal(used, head.len - 3);
		assert_true(p.done);
		assert_int_equal(p.kind, SUBMIT_SUBMIT);
		assert_int_equal(p.content_size, 1234);
		assert_string_equal(p.req.sender, "alice@example.org");
		assert_int_equal(p.req.ret, QUEUE_RET_HDRS);
		assert_string_equal(p.req.envid, "env+2Did");
		assert_int_equal(p.req.nrcpts, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_string_equal(p.req.rcpts[i].addr, req.rcpts[i].addr);
			assert_int_equal(p.req.rcpts[i].notify, req.rcpts[i].notify);
		}
		/* Formatting the parsed request gives the same head. */
		struct buf again;
		buf_init(&again, BUF_UNLIMITED);
		assert_int_equal(submit_request_format(&p.req, p.content_size, &again, &error), 0);
		assert_memory_equal(again.data, head.data, again.len);
		buf_release(&again);
		submit_parser_release(&p);
	}
	buf_release(&head);
	submit_request_free(&req);
}

static void
test_null_sender_minimal(void **state)
{
	static const char head[] = "SUBMIT\nsender \nrcpt bob@example.net\ncontent 0\n";
	struct submit_parser p;
	size_t used;

	submit_parser_init(&p);
	assert_int_equal(parse_chunked(&p, head, strlen(head), 1, &used), SUBMIT_PARSE_DONE);
	assert_string_equal(p.req.sender, "");
	assert_int_equal(p.req.ret, QUEUE_RET_NONE);
	assert_null(p.req.envid);
	assert_int_equal(p.content_size, 0);
	submit_parser_release(&p);
}

static void
test_format_refuses(void **state)
{
	struct submit_request req;
	struct buf head;
	const char *error;

	buf_init(&head, BUF_UNLIMITED);
	request_fill(&req, 0);
	assert_int_equal(submit_request_format(&req, 1, &head, &error), -1);
	submit_request_free(&req);

	request_fill(&req, 1);
	free(req.rcpts[0].addr);
	req.rcpts[0].addr = xstrdup("");
	assert_int_equal(submit_request_format(&req, 1, &head, &error), -1);
	free(req.rcpts[0].addr);
	req.rcpts[0].addr = xstrdup("bob@example.net\nrcpt eve@example.net");
	assert_int_equal(submit_request_format(&req, 1, &head, &error), -1);
	free(req.rcpts[0].addr);
	req.rcpts[0].addr = xstrdup("bob@example.net");
	req.rcpts[0].notify = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS;
	assert_int_equal(submit_request_format(&req, 1, &head, &error), -1);
	req.rcpts[0].notify = 0;
	req.envid = xstrdup("with space");
	assert_int_equal(submit_request_format(&req, 1, &head, &error), -1);
	assert_int_equal(submit_request_format(&req, QUEUE_CONTENT_MAX + 1, &head, &error), -1);
	assert_int_equal(head.len, 0);
	submit_request_free(&req);
	buf_release(&head);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    "HELLO\n",
	    "submit\n",
	    "SUBMIT \n",
	    "SUBMIT\nrcpt bob@example.net\n",		/* sender not first */
	    "SUBMIT\ncontent 1\n",			/* no sender */
	    "SUBMIT\nsender\n",				/* no value */
	    "SUBMIT\nsender a@b\nsender a@b\n",		/* twice */
	    "SUBMIT\nsender a@b\ncontent 1\n",		/* no recipient */
	    "SUBMIT\nsender a@b\nrcpt \n",		/* empty recipient */
	    "SUBMIT\nsender a@b\nrcpt x@y\nret full\n", /* ret after rcpt */
	    "SUBMIT\nsender a@b\nenvid e\nret full\n",	/* ret after envid */
	    "SUBMIT\nsender a@b\nret full\nret full\n",
	    "SUBMIT\nsender a@b\nret none\n",
	    "SUBMIT\nsender a@b\nenvid a b\n",
	    "SUBMIT\nsender a@b\nnotify never\n", /* notify before any rcpt */
	    "SUBMIT\nsender a@b\nrcpt x@y\nnotify never\nnotify never\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\nnotify delay,success\n", /* not canonical */
	    "SUBMIT\nsender a@b\nrcpt x@y\nnotify never,success\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\nnotify\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent 01\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent -1\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent \n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent 1x\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent 4294967297\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\ncontent 99999999999999999999999\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\nbogus 1\n",
	    "SUBMIT\nsender a@\tb\n",
	    "SUBMIT\nsender a@b\r\n",
	    "SUBMIT\nsender a@b\nrcpt x@y\x7f\n",
	    "FLUSH \n",
	    "FLUSH 123\n",
	    "FLUSH 0CK9TQH4S2M3R7QX \n",
	    "FLUSH 0CK9TQH4S2M3R7QI\n", /* I is not in the alphabet */
	    "FLUSH\r\n",
	    "ETRN\n",
	    "ETRN \n",
	    "ETRN a b\n",
	    "ETRN caf\xc3\xa9.example\n",
	    "ETRN a\tb\n",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		for (size_t chunk = 0; chunk <= 1; chunk++) {
			struct submit_parser p;
			size_t used;
			submit_parser_init(&p);
			if (parse_chunked(&p, bad[i], strlen(bad[i]), chunk, &used) !=
			    SUBMIT_PARSE_ERROR)
				fail_msg("accepted: '%s'", bad[i]);
			/* Once refused, always refused. */
			const char *error;
			assert_int_equal(submit_parse(&p, "SUBMIT\n", 7, &used, &error),
					 SUBMIT_PARSE_ERROR);
			submit_parser_release(&p);
		}
	}
}

static void
test_overlong_line(void **state)
{
	struct buf in;
	struct submit_parser p;
	size_t used;

	buf_init(&in, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&in, "SUBMIT\nsender "), 0);
	for (size_t i = 0; i < QUEUE_LINE_MAX; i++)
		assert_int_equal(buf_add_char(&in, 'a'), 0);
	/* No LF at all: refused as soon as the line is too long. */
	submit_parser_init(&p);
	assert_int_equal(parse_chunked(&p, in.data, in.len, 1, &used), SUBMIT_PARSE_ERROR);
	submit_parser_release(&p);
	/* A long first line too. */
	submit_parser_init(&p);
	assert_int_equal(parse_chunked(&p, in.data + 7, in.len - 7, 0, &used), SUBMIT_PARSE_ERROR);
	submit_parser_release(&p);
	buf_release(&in);
}

static void
test_rcpt_cap(void **state)
{
	struct buf in;
	struct submit_parser p;
	size_t used;

	buf_init(&in, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&in, "SUBMIT\nsender a@b\n"), 0);
	for (size_t i = 0; i < QUEUE_RCPT_MAX; i++)
		assert_int_equal(buf_printf(&in, "rcpt r%zu@x\n", i), 0);
	size_t at_max = in.len;
	assert_int_equal(buf_add_str(&in, "content 5\n"), 0);
	submit_parser_init(&p);
	assert_int_equal(parse_chunked(&p, in.data, in.len, 4096, &used), SUBMIT_PARSE_DONE);
	assert_int_equal(p.req.nrcpts, QUEUE_RCPT_MAX);
	submit_parser_release(&p);

	buf_set_len(&in, at_max);
	assert_int_equal(buf_add_str(&in, "rcpt one-too-many@x\ncontent 5\n"), 0);
	submit_parser_init(&p);
	assert_int_equal(parse_chunked(&p, in.data, in.len, 4096, &used), SUBMIT_PARSE_ERROR);
	submit_parser_release(&p);
	buf_release(&in);
}

static void
test_flush_etrn_lines(void **state)
{
	static const struct {
		const char *in;
		enum submit_kind kind;
		const char *arg;
	} good[] = {
	    {"FLUSH\n", SUBMIT_FLUSH, ""},
	    {"FLUSH 0CK9TQH4S2M3R7QX\n", SUBMIT_FLUSH, "0CK9TQH4S2M3R7QX"},
	    {"ETRN example.org\n", SUBMIT_ETRN, "example.org"},
	    {"ETRN @example.org\n", SUBMIT_ETRN, "@example.org"},
	    {"ETRN #queue\n", SUBMIT_ETRN, "#queue"},
	};
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		struct submit_parser p;
		size_t used;
		submit_parser_init(&p);
		assert_int_equal(parse_chunked(&p, good[i].in, strlen(good[i].in), 1, &used),
				 SUBMIT_PARSE_DONE);
		assert_int_equal(used, strlen(good[i].in));
		assert_int_equal(p.kind, good[i].kind);
		assert_string_equal(p.arg, good[i].arg);
		submit_parser_release(&p);
	}
}

/* ---- live server ---- */

struct live {
	struct qt *t;
	struct config *cfg;
	struct event_base *base;
	struct submit_server *srv;
	char *sock;
	pid_t child;
	int child_status;
	char queued[QUEUE_ID_SIZE];
	unsigned flushes;
	char flush_id[QUEUE_ID_SIZE + 1];
	char flush_domain[64];
};

static void
on_queued(const char *id, void *arg)
{
	struct live *l = arg;

	assert_int_equal(str_copy(l->queued, sizeof(l->queued), id), 0);
}

static size_t
on_flush(const char *id, const char *domain, void *arg)
{
	struct live *l = arg;

	l->flushes++;
	(void)str_copy(l->flush_id, sizeof(l->flush_id), id != NULL ? id : "-");
	(void)str_copy(l->flush_domain, sizeof(l->flush_domain), domain != NULL ? domain : "-");
	return 7;
}

static void
watch_child(evutil_socket_t fd, short what, void *arg)
{
	struct live *l = arg;

	if (waitpid(l->child, &l->child_status, WNOHANG) == l->child)
		event_base_loopbreak(l->base);
}

static struct live *
live_new(void)
{
	struct live *l = xcalloc(1, sizeof(*l));
	const char *error;
	static const struct submit_handlers h = {on_queued, on_flush};

	l->t = qt_new();
	/* Reachable by another uid (test_live_flush). */
	assert_int_equal(chmod(l->t->dir, 0755), 0);
	l->cfg = config_new();
	assert_int_equal(config_set(l->cfg, "server.hostname", "mx.example.test", &error), 0);
	assert_int_equal(config_finish(l->cfg, geteuid(), &error), 0);
	l->base = event_base_new();
	l->sock = xasprintf("%s/%s", l->t->dir, SUBMIT_SOCKET);
	assert_int_equal(
	    submit_server_new(l->base, l->t->q, l->cfg, l->sock, &h, l, &l->srv, &error), 0);
	struct stat st;
	assert_int_equal(stat(l->sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	return l;
}

static void
live_free(struct live **lp)
{
	struct live *l = *lp;

	submit_server_free(&l->srv);
	event_base_free(l->base);
	config_free(&l->cfg);
	free(l->sock);
	qt_free(&l->t);
	free(l);
	*lp = NULL;
}

/* Run fn in a child (its exit status: the reply code / 10, or 1 on
 * failure) while the loop serves; returns the code the child saw. */
static int
live_run(struct live *l, int (*fn)(struct live *l))
{
	fflush(NULL);
	l->child = fork();
	assert_true(l->child >= 0);
	if (l->child == 0) {
		int code = fn(l);
		_exit(code < 0 ? 1 : code / 10);
	}
	struct timeval every = {.tv_usec = 10000};
	struct event *tick = event_new(l->base, -1, EV_PERSIST, watch_child, l);
	event_add(tick, &every);
	event_base_dispatch(l->base);
	event_free(tick);
	assert_true(WIFEXITED(l->child_status));
	return WEXITSTATUS(l->child_status) * 10;
}

static const char message[] = "Subject: hi\r\n\r\nHello \xc3\xa9t\xc3\xa9.\r\n";

static int
client_submit(struct live *l)
{
	struct submit_request req;
	struct buf reply;
	const char *error;

	request_fill(&req, 1);
	free(req.rcpts[0].addr);
	req.rcpts[0].addr = xstrdup("bob@example.net");
	req.rcpts[0].notify = QUEUE_NOTIFY_FAILURE;
	req.ret = QUEUE_RET_FULL;
	buf_init(&reply, 1024);
	int code = submit_send(l->sock, &req, message, strlen(message), &reply, &error);
	if (code == 250 && !queue_id_valid(reply.data))
		code = -1;
	buf_release(&reply);
	submit_request_free(&req);
	return code;
}

static void
test_live_submit(void **state)
{
	struct live *l = live_new();

	assert_int_equal(live_run(l, client_submit), 250);
	assert_true(queue_id_valid(l->queued));
	assert_true(qt_exists(l->t, "incoming", l->queued));

	char *path = xasprintf("%s/incoming/%s", l->t->qpath, l->queued);
	FILE *f = fopen(path, "rb");
	char data[8192];
	assert_non_null(f);
	size_t n = fread(data, 1, sizeof(data), f);
	fclose(f);
	free(path);
	size_t off;
	const char *error;
	struct queue_envelope *env = queue_file_parse(data, n, &off, &error);
	assert_non_null(env);
	assert_string_equal(env->sender, "alice@example.org");
	assert_int_equal(env->rcpt_count, 1);
	assert_string_equal(env->rcpts[0].addr, "bob@example.net");
	assert_int_equal(env->rcpts[0].notify, QUEUE_NOTIFY_FAILURE);
	assert_int_equal(env->ret, QUEUE_RET_FULL);
	assert_string_equal(env->protocol, "local");
	assert_null(env->client_addr);
	assert_int_equal(env->body, QUEUE_BODY_8BITMIME);
	assert_false(env->smtputf8);

	char *content = xstrndup(data + off, n - off);
	char *expect = xasprintf("Received: by mx.example.test (postern, from userid %lu",
				 (unsigned long)getuid());
	assert_true(strncmp(content, expect, strlen(expect)) == 0);
	char *id_line = xasprintf(")\r\n\tid %s\r\n\tfor <bob@example.net>; ", l->queued);
	assert_contains(content, id_line);
	size_t clen = strlen(content);
	assert_true(clen > strlen(message));
	assert_string_equal(content + clen - strlen(message), message);
	free(id_line);
	free(expect);
	free(content);
	queue_envelope_free(&env);
	live_free(&l);
}

static int
client_flush_one(struct live *l)
{
	struct buf reply;
	const char *error;

	buf_init(&reply, 1024);
	int code = submit_flush(l->sock, "0CK9TQH4S2M3R7QX", NULL, &reply, &error);
	if (code == 250 && strcmp(reply.data, "7") != 0)
		code = -1;
	buf_release(&reply);
	return code;
}

static int
client_flush_all(struct live *l)
{
	struct buf reply;
	const char *error;

	buf_init(&reply, 1024);
	int code = submit_flush(l->sock, NULL, NULL, &reply, &error);
	buf_release(&reply);
	return code;
}

static int
client_etrn(struct live *l)
{
	struct buf reply;
	const char *error;

	buf_init(&reply, 1024);
	int code = submit_flush(l->sock, NULL, "example.net", &reply, &error);
	buf_release(&reply);
	return code;
}

static int
client_flush_as_nobody(struct live *l)
{
	if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
		return -1;
	return client_flush_all(l);
}

static void
test_live_flush(void **state)
{
	struct live *l = live_new();

	assert_int_equal(live_run(l, client_flush_one), 250);
	assert_int_equal(l->flushes, 1);
	assert_string_equal(l->flush_id, "0CK9TQH4S2M3R7QX");
	assert_string_equal(l->flush_domain, "-");
	assert_int_equal(live_run(l, client_flush_all), 250);
	assert_int_equal(l->flushes, 2);
	assert_string_equal(l->flush_id, "-");
	assert_int_equal(live_run(l, client_etrn), 250);
	assert_int_equal(l->flushes, 3);
	assert_string_equal(l->flush_id, "-");
	assert_string_equal(l->flush_domain, "example.net");
	if (geteuid() == 0) {
		assert_int_equal(live_run(l, client_flush_as_nobody), 550);
		assert_int_equal(l->flushes, 3);
	}
	live_free(&l);
}

static int
client_big(struct live *l)
{
	struct submit_request req;
	struct buf reply, content;
	const char *error;

	request_fill(&req, 2);
	buf_init(&reply, 1024);
	buf_init(&content, BUF_UNLIMITED);
	qt_content(&content, 300000);
	int code = submit_send(l->sock, &req, content.data, content.len, &reply, &error);
	if (code == 552 && strstr(reply.data, "larger than") == NULL)
		code = -1;
	buf_release(&content);
	buf_release(&reply);
	submit_request_free(&req);
	return code;
}

static int
client_garbage(struct live *l)
{
	struct buf reply;
	const char *error;

	buf_init(&reply, 1024);
	/* An ETRN argument that the parser refuses. */
	int code = submit_flush(l->sock, NULL, "a b", &reply, &error);
	buf_release(&reply);
	return code;
}

static void
test_live_refusals(void **state)
{
	struct live *l = live_new();

	l->cfg->smtpd_max_message_size = 1000;
	assert_int_equal(live_run(l, client_big), 550); /* 552 / 10 * 10 */
	assert_int_equal(qt_count(l->t, "incoming"), 0);
	assert_int_equal(qt_count(l->t, "tmp"), 0);
	assert_int_equal(live_run(l, client_garbage), 500);
	assert_int_equal(l->flushes, 0);
	live_free(&l);
}

/* A connection that has sent the head of a message of size bytes (its
 * content not yet). */
static int
head_only(struct live *l, uint64_t size)
{
	struct submit_request req;
	struct buf head;
	const char *error;

	request_fill(&req, 1);
	buf_init(&head, BUF_UNLIMITED);
	int fd = submit_request_format(&req, size, &head, &error) < 0
		     ? -1
		     : submit_connect(l->sock, true, &error);
	if (fd >= 0 && send(fd, head.data, head.len, MSG_NOSIGNAL) != (ssize_t)head.len) {
		close(fd);
		fd = -1;
	}
	buf_release(&head);
	submit_request_free(&req);
	return fd;
}

/* The code of the reply on fd, waiting up to 5 s; -1 on failure. */
static int
reply_code(int fd)
{
	char line[256];
	size_t len = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		if (poll(&pfd, 1, 5000) != 1)
			return -1;
		ssize_t n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	return len >= 3 ? atoi(line) : -1;
}

/* Two messages announced at once over the content budget: the second is
 * told 451; once the first is gone, a message goes through again. */
static int
client_over_budget(struct live *l)
{
	int big = head_only(l, 200 * 1024 * 1024);
	int second = head_only(l, 100 * 1024 * 1024);
	int code = reply_code(second);

	close(second);
	close(big);
	usleep(200 * 1000); /* the server sees the first one gone */
	if (code == 451) {
		struct submit_request req;
		struct buf reply;
		const char *error;

		request_fill(&req, 1);
		buf_init(&reply, 1024);
		if (submit_send(l->sock, &req, "x\r\n", 3, &reply, &error) != 250)
			code = -1;
		buf_release(&reply);
		submit_request_free(&req);
	}
	return code;
}

static void
test_live_content_budget(void **state)
{
	struct live *l = live_new();

	l->cfg->smtpd_max_message_size = 300 * 1024 * 1024;
	assert_int_equal(live_run(l, client_over_budget), 450); /* 451 / 10 * 10 */
	assert_int_equal(qt_count(l->t, "incoming"), 1);
	live_free(&l);
}

/* ---- the event-loop client (submit_flush_start) ---- */

struct async {
	struct event_base *base;
	unsigned calls;
	int code;
	char text[256], error[256];
};

static void
async_done(int code, const char *text, const char *error, void *arg)
{
	struct async *a = arg;

	a->calls++;
	a->code = code;
	(void)str_copy(a->text, sizeof(a->text), text != NULL ? text : "(null)");
	(void)str_copy(a->error, sizeof(a->error), error != NULL ? error : "(null)");
	event_base_loopbreak(a->base);
}

/* Start a call; it never reports from inside the start, then reports
 * once as the loop runs. */
static void
async_run(struct event_base *base, const char *path, const char *domain, struct async *a)
{
	memset(a, 0, sizeof(*a));
	a->base = base;
	(void)submit_flush_start(base, path, NULL, domain, async_done, a);
	assert_int_equal(a->calls, 0);
	event_base_dispatch(base);
	assert_int_equal(a->calls, 1);
}

static void
test_async_flush(void **state)
{
	struct live *l = live_new();
	struct async a;

	async_run(l->base, l->sock, "example.net", &a);
	assert_int_equal(a.code, 250);
	assert_string_equal(a.text, "7");
	assert_string_equal(a.error, "(null)");
	assert_int_equal(l->flushes, 1);
	assert_string_equal(l->flush_domain, "example.net");
	/* refused by the runner: its code and text */
	async_run(l->base, l->sock, "a b", &a);
	assert_int_equal(a.code, 501);
	assert_int_equal(l->flushes, 1);
	/* cancelled: never reported, the server sees a connection close */
	a.calls = 0;
	submit_call_cancel(submit_flush_start(l->base, l->sock, NULL, "x.test", async_done, &a));
	for (int i = 0; i < 20; i++)
		event_base_loop(l->base, EVLOOP_NONBLOCK);
	assert_int_equal(a.calls, 0);
	/* no runner */
	async_run(l->base, "/nonexistent/submit.sock", "example.net", &a);
	assert_int_equal(a.code, -1);
	assert_contains(a.error, "/nonexistent/submit.sock");
	live_free(&l);
}

/* A peer that answers line (or closes when NULL) to whatever comes. */
static void
async_against(const char *dir, const char *line, struct async *a)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct event_base *base = event_base_new();
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fake.sock", dir);
	(void)unlink(sun.sun_path);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	memset(a, 0, sizeof(*a));
	a->base = base;
	(void)submit_flush_start(base, sun.sun_path, NULL, "example.net", async_done, a);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	if (line != NULL)
		assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	event_base_dispatch(base);
	assert_int_equal(a->calls, 1);
	close(lfd);
	event_base_free(base);
}

static void
test_async_bad_replies(void **state)
{
	struct qt *t = qt_new();
	struct async a;

	async_against(t->dir, "250 3\n", &a);
	assert_int_equal(a.code, 250);
	assert_string_equal(a.text, "3");
	async_against(t->dir, "hello\n", &a);
	assert_int_equal(a.code, -1);
	assert_string_equal(a.error, "malformed reply from the submission socket");
	async_against(t->dir, "250 no end of line", &a);
	assert_int_equal(a.code, -1);
	assert_contains(a.error, "reply: ");
	async_against(t->dir, NULL, &a);
	assert_int_equal(a.code, -1);
	assert_contains(a.error, "reply: ");
	qt_free(&t);
}

static void
test_unreachable(void **state)
{
	struct submit_request req;
	struct buf reply;
	const char *error = NULL;

	request_fill(&req, 1);
	buf_init(&reply, 1024);
	assert_int_equal(submit_send("/nonexistent/submit.sock", &req, "x", 1, &reply, &error), -1);
	assert_non_null(error);
	assert_int_equal(submit_flush("/nonexistent/submit.sock", NULL, NULL, &reply, &error), -1);
	buf_release(&reply);
	submit_request_free(&req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_null_sender_minimal),
	    cmocka_unit_test(test_format_refuses),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_rcpt_cap),
	    cmocka_unit_test(test_flush_etrn_lines),
	    cmocka_unit_test_teardown(test_live_submit, qt_cleanup),
	    cmocka_unit_test_teardown(test_live_flush, qt_cleanup),
	    cmocka_unit_test_teardown(test_live_refusals, qt_cleanup),
	    cmocka_unit_test_teardown(test_live_content_budget, qt_cleanup),
	    cmocka_unit_test_teardown(test_async_flush, qt_cleanup),
	    cmocka_unit_test_teardown(test_async_bad_replies, qt_cleanup),
	    cmocka_unit_test(test_unreachable),
	};
	/* as in the runner: a client gone before its reply is no signal */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
