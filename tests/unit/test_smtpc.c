/* test_smtpc.c - the SMTP client's live sessions (its pure parts are in
 * test_smtpc_parse.c) against scripted fake servers on 127.0.0.1, each run in a thread
 * with blocking sockets (and OpenSSL for STARTTLS), recording what the
 * client sent. */
#include "tls_test.h"

#include <poll.h>
#include <pthread.h>

#include "smtp/smtpc.h"
#include "smtpc_test.h"

/* ---- fake servers ---- */

enum act {
	A_LINE,	     /* read a line (when expect), then write reply */
	A_CONTENT,   /* read DATA content up to CRLF.CRLF, then reply */
	A_BDAT,	     /* read a BDAT line and its chunk, then reply */
	A_TLS,	     /* read a line, write reply, then TLS handshake */
	A_CLOSE,     /* read a line (when expect), then close */
	A_CLOSE_MID, /* read some content, then close */
};

struct step {
	enum act act;
	const char *expect; /* the whole line, or a prefix when it ends with '*' */
	const char *reply;
};

struct fake {
	int lfd, fd;
	uint16_t port;
	pthread_t th;
	const struct step *steps;
	size_t nsteps;
	SSL_CTX *ctx;
	SSL *ssl;
	struct buf in;	    /* read, not yet used */
	struct buf rx;	    /* everything the client sent (plaintext) */
	struct buf content; /* DATA content or BDAT chunks */
	unsigned buffered;  /* most complete lines waiting after a command was read */
	char error[512];
	bool done;
};

static void
fake_fail(struct fake *f, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void
fake_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->error[0] != '\0')
		return;
	va_start(ap, fmt);
	(void)vsnprintf(f->error, sizeof(f->error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fake server: %s\n", f->error);
}

static int
fake_fill(struct fake *f)
{
	char tmp[65536];
	ssize_t n;

	if (f->ssl == NULL || SSL_pending(f->ssl) == 0) {
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		if (poll(&pfd, 1, 10000) <= 0)
			return -1;
	}
	if (f->ssl != NULL)
		n = SSL_read(f->ssl, tmp, sizeof(tmp));
	else
		n = recv(f->fd, tmp, sizeof(tmp), 0);
	if (n <= 0)
		return -1;
	if (buf_add(&f->in, tmp, (size_t)n) < 0 || buf_add(&f->rx, tmp, (size_t)n) < 0)
		abort();
	return 0;
}

static void
fake_send(struct fake *f, const char *s)
{
	size_t len = strlen(s);

	if (f->ssl != NULL) {
		if (SSL_write(f->ssl, s, (int)len) != (int)len)
			fake_fail(f, "SSL_write failed");
	} else if (send(f->fd, s, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fake_fail(f, "send failed");
	}
}

/* Read one line (without CRLF) into line; -1 at EOF. */
static int
fake_line(struct fake *f, char *line, size_t size)
{
	char *nl;

	while ((nl = memchr(buf_cstr(&f->in), '\n', f->in.len)) == NULL)
		if (fake_fill(f) < 0)
			return -1;
	size_t n = (size_t)(nl - f->in.data) + 1;
	size_t keep = n >= 2 && nl[-1] == '\r' ? n - 2 : n - 1;
	(void)snprintf(line, size, "%.*s", (int)keep, f->in.data);
	buf_consume(&f->in, n);
	unsigned waiting = 0;
	for (size_t i = 0; i < f->in.len; i++)
		waiting += f->in.data[i] == '\n';
	f->buffered = MAX(f->buffered, waiting);
	return 0;
}

static bool
line_matches(const char *line, const char *expect)
{
	size_t n = strlen(expect);

	if (n > 0 && expect[n - 1] == '*')
		return strncmp(line, expect, n - 1) == 0;
	return strcmp(line, expect) == 0;
}

/* Read n bytes of content. */
static int
fake_bytes(struct fake *f, size_t n)
{
	while (f->in.len < n)
		if (fake_fill(f) < 0)
			return -1;
	if (buf_add(&f->content, f->in.data, n) < 0)
		abort();
	buf_consume(&f->in, n);
	return 0;
}

static int
fake_content(struct fake *f)
{
	for (;;) {
		const char *end = memmem(buf_cstr(&f->in), f->in.len, "\r\n.\r\n", 5);
		if (f->in.len >= 3 && memcmp(f->in.data, ".\r\n", 3) == 0)
			return fake_bytes(f, 3);
		if (end != NULL)
			return fake_bytes(f, (size_t)(end - f->in.data) + 5);
		if (fake_fill(f) < 0)
			return -1;
	}
}

static bool
fake_step(struct fake *f, const struct step *s)
{
	char line[4096];

	if (s->act == A_CONTENT) {
		if (fake_content(f) < 0) {
			fake_fail(f, "EOF in content");
			return false;
		}
	} else if (s->act == A_CLOSE_MID) {
		while (f->in.len < 4096 && fake_fill(f) == 0)
			;
		return false;
	} else if (s->expect != NULL) {
		if (fake_line(f, line, sizeof(line)) < 0) {
			fake_fail(f, "EOF instead of \"%s\"", s->expect);
			return false;
		}
		if (!line_matches(line, s->expect)) {
			fake_fail(f, "got \"%s\", expected \"%s\"", line, s->expect);
			return false;
		}
		if (s->act == A_BDAT) {
			unsigned long long n = 0;
			if (sscanf(line, "BDAT %llu", &n) != 1 || fake_bytes(f, n) < 0) {
				fake_fail(f, "bad BDAT chunk \"%s\"", line);
				return false;
			}
		}
	}
	if (s->act == A_CLOSE)
		return false;
	if (s->reply != NULL)
		fake_send(f, s->reply);
	if (s->act == A_TLS) {
		f->ssl = SSL_new(f->ctx);
		SSL_set_fd(f->ssl, f->fd);
		if (SSL_accept(f->ssl) != 1) {
			fake_fail(f, "TLS handshake failed");
			return false;
		}
	}
	return true;
}

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};

	if (poll(&pfd, 1, 10000) <= 0 || (f->fd = accept(f->lfd, NULL, NULL)) < 0) {
		fake_fail(f, "no connection");
		__atomic_store_n(&f->done, true, __ATOMIC_SEQ_CST);
		return NULL;
	}
	size_t i = 0;
	while (i < f->nsteps && fake_step(f, &f->steps[i]))
		i++;
	if (i < f->nsteps && f->steps[i].act != A_CLOSE && f->steps[i].act != A_CLOSE_MID)
		fake_fail(f, "script stopped at step %zu", i);
	else if (i == f->nsteps)
		/* The client closes after the script: nothing more may come. */
		while (fake_fill(f) == 0)
			;
	if (i == f->nsteps && f->in.len > 0)
		fake_fail(f, "unexpected data after the script: %.60s", f->in.data);
	if (f->ssl != NULL)
		SSL_free(f->ssl);
	close(f->fd);
	__atomic_store_n(&f->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
fake_start(struct fake *f, const struct step *steps, size_t nsteps, SSL_CTX *ctx)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->steps = steps;
	f->nsteps = nsteps;
	f->ctx = ctx;
	buf_init(&f->in, BUF_UNLIMITED);
	buf_init(&f->rx, BUF_UNLIMITED);
	buf_init(&f->content, BUF_UNLIMITED);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
}

static bool
fake_done(struct fake *f)
{
	return __atomic_load_n(&f->done, __ATOMIC_SEQ_CST);
}

/* Run the loop until the server thread has ended (it cannot wake the
 * loop up, so poll). */
static void
fake_wait(struct fixture *fx, struct fake *f)
{
	for (int i = 0; i < 10000 && !fake_done(f); i++) {
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(fake_done(f));
	assert_int_equal(pthread_join(f->th, NULL), 0);
}

/* Wait for the script's end; check it ran cleanly. */
static void
fake_finish(struct fixture *fx, struct fake *f)
{
	fake_wait(fx, f);
	close(f->lfd);
	settle(fx->base);
	if (f->error[0] != '\0')
		fail_msg("fake server: %s", f->error);
}

static void
fake_free(struct fake *f)
{
	buf_release(&f->in);
	buf_release(&f->rx);
	buf_release(&f->content);
}

/* ---- the client side ---- */

struct client {
	struct smtpc *c;
	bool ready, failed;
	struct smtpc_error err;
	bool done, usable;
	size_t nreplies;
	struct smtpc_reply replies[8];
};

static const struct smtpc_config default_cfg = {
	.helo_name = "client.example.test",
	.tls = DELIVERY_TLS_NONE,
	.connect_timeout = 5,
};

static void
on_ready(struct smtpc *c, const struct smtpc_error *error, void *arg)
{
	struct client *cl = arg;

	cl->ready = true;
	if (error != NULL) {
		cl->failed = true;
		cl->err = *error;
	}
}

static void
on_done(struct smtpc *c, const struct smtpc_result *result, void *arg)
{
	struct client *cl = arg;

	assert_true(result->nreplies <= N_ELEMENTS(cl->replies));
	cl->done = true;
	cl->usable = result->usable;
	cl->nreplies = result->nreplies;
	memcpy(cl->replies, result->replies, result->nreplies * sizeof(*result->replies));
}

static void
client_connect(struct fixture *fx, const struct smtpc_config *cfg, uint16_t port,
	       struct client *cl)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	memset(cl, 0, sizeof(*cl));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl->c = smtpc_connect(fx->base, cfg, (struct sockaddr *)&sin, sizeof(sin), HOST, on_ready,
			      cl);
	assert_non_null(cl->c);
	assert_false(cl->ready); /* never from inside the call */
	RUN_UNTIL(fx->base, cl->ready);
}

/* A fake server running steps, and a client connected to it. */
static void
session(struct fixture *fx, const struct smtpc_config *cfg, const struct step *steps,
	size_t nsteps, struct fake *f, struct client *cl)
{
	fake_start(f, steps, nsteps, cfg->tls_ctx != NULL ? fx->server_ctx : NULL);
	client_connect(fx, cfg, f->port, cl);
}

/* A session whose setup fails with kind; the error goes to *err. */
static void
setup_fails(struct fixture *fx, const struct smtpc_config *cfg, const struct step *steps,
	    size_t nsteps, enum smtpc_error_kind kind, struct smtpc_error *err)
{
	struct fake f;
	struct client cl;

	session(fx, cfg, steps, nsteps, &f, &cl);
	assert_true(cl.failed);
	assert_int_equal(cl.err.kind, kind);
	*err = cl.err;
	smtpc_free(cl.c);
	fake_finish(fx, &f);
	fake_free(&f);
}

static void
client_send(struct fixture *fx, struct client *cl, const struct smtpc_msg *msg)
{
	cl->done = false;
	smtpc_send(cl->c, msg, on_done, cl);
	assert_false(cl->done);
	RUN_UNTIL(fx->base, cl->done);
	assert_int_equal(cl->nreplies, msg->nrcpts);
}

static void
assert_reply(const struct smtpc_reply *r, unsigned code, const char *enhanced, const char *stage,
	     bool generated)
{
	assert_int_equal(r->code, code);
	assert_string_equal(r->enhanced, enhanced);
	assert_string_equal(r->stage, stage);
	assert_int_equal(r->generated, generated);
}

static const struct smtpc_rcpt two_rcpts[] = {
	{.addr = "a@example.net"},
	{.addr = "b@example.net"},
};

#define CONTENT "Subject: test\r\n\r\n.hello\r\nbare\nlf and bare\rcr\r\n.\r\nend"
#define CONTENT_STUFFED                                                                            \
	"Subject: test\r\n\r\n..hello\r\nbare\r\nlf and bare\r\ncr\r\n..\r\nend\r\n.\r\n"

static struct smtpc_msg
mem_msg(const char *content)
{
	return (struct smtpc_msg){
		.sender = "s@example.org",
		.body = QUEUE_BODY_7BIT,
		.rcpts = two_rcpts,
		.nrcpts = 2,
		.data = content,
		.fd = -1,
		.size = strlen(content),
	};
}

#define GREETING {A_LINE, NULL, "220 fake.example.test ESMTP\r\n"}
#define EHLO(ext) {A_LINE, "EHLO client.example.test", "250-fake.example.test\r\n" ext}
#define QUIT {A_LINE, "QUIT", "221 2.0.0 bye\r\n"}
/* MAIL, RCPT a and b, DATA pipelined: all answered by replies. */
#define PIPELINED(mail, replies)                                                                   \
	{A_LINE, mail, NULL}, {A_LINE, "RCPT TO:<a@example.net>", NULL},                           \
	    {A_LINE, "RCPT TO:<b@example.net>", NULL}, {A_LINE, "DATA", replies}
#define ALL_OK "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"
/* The same, one command at a time, all accepted, then the content. */
#define STEPWISE(mail, end)                                                                        \
	{A_LINE, mail, "250 ok\r\n"}, {A_LINE, "RCPT TO:<a@example.net>", "250 ok\r\n"},             \
	    {A_LINE, "RCPT TO:<b@example.net>", "250 ok\r\n"}, {A_LINE, "DATA", "354 go\r\n"},        \
	    {A_CONTENT, NULL, end}

static void
quit(struct fixture *fx, struct client *cl, struct fake *f)
{
	smtpc_quit(cl->c);
	fake_finish(fx, f);
	assert_true(crlf_clean(f->rx.data, f->rx.len));
}

static void
test_pipelined(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250-PIPELINING\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n"),
		/* Nothing is answered before DATA has come. */
		PIPELINED("MAIL FROM:<s@example.org> SIZE=52 BODY=7BIT",
			  "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n"),
		{A_CONTENT, NULL, "250-2.0.0 queued\r\n250 2.0.0 as 1234\r\n"},
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg(CONTENT);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	const struct smtpc_peer *peer = smtpc_peer(cl.c);
	assert_true(peer->esmtp);
	assert_false(peer->tls);
	assert_int_equal(peer->ext, SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE | SMTPC_EXT_8BITMIME);
	assert_int_equal(peer->size_max, 1000000);
	char name[64];
	(void)snprintf(name, sizeof(name), HOST "[127.0.0.1]:%u", f.port);
	assert_string_equal(peer->name, name);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	for (size_t i = 0; i < 2; i++) {
		assert_reply(&cl.replies[i], 250, "2.0.0", "end of data", false);
		assert_string_equal(cl.replies[i].text, "queued as 1234");
	}
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), CONTENT_STUFFED);
	assert_true(f.buffered >= 1);
	fake_free(&f);
}

static void
test_not_pipelined(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 SIZE\r\n"),
		STEPWISE("MAIL FROM:<s@example.org> SIZE=52", "250 queued\r\n"),
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg(CONTENT);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 250, "", "end of data", false);
	assert_reply(&cl.replies[1], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	/* The client always waited for the reply before the next command. */
	assert_int_equal(f.buffered, 0);
	assert_string_equal(buf_cstr(&f.content), CONTENT_STUFFED);
	fake_free(&f);
}

static void
test_rcpt_partly_refused(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org>", "250 ok\r\n"},
		{A_LINE, "RCPT TO:<a@example.net>", "550-5.1.1 no such\r\n550 5.1.1   user\r\n"},
		{A_LINE, "RCPT TO:<b@example.net>", "250 ok\r\n"},
		{A_LINE, "DATA", "354 go\r\n"},
		{A_CONTENT, NULL, "250 2.0.0 queued\r\n"},
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("x\r\n");

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 550, "5.1.1", "RCPT TO", false);
	assert_string_equal(cl.replies[0].text, "no such user");
	assert_reply(&cl.replies[1], 250, "2.0.0", "end of data", false);
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), "x\r\n.\r\n");
	fake_free(&f);
}

/* MAIL refused, then a second transaction on the same connection: RSET
 * first. */
static void
test_mail_refused_then_second(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 8BITMIME\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org> BODY=7BIT", "451 4.3.0 try later\r\n"},
		{A_LINE, "RSET", "250 ok\r\n"},
		STEPWISE("MAIL FROM:<s@example.org> BODY=7BIT", "250 queued\r\n"),
		/* A third, after a success: no RSET. */
		STEPWISE("MAIL FROM:<> BODY=7BIT", "250 queued again\r\n"),
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("x\r\n");

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 451, "4.3.0", "MAIL FROM", false);
	assert_reply(&cl.replies[1], 451, "4.3.0", "MAIL FROM", false);
	assert_string_equal(cl.replies[1].text, "try later");
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 250, "", "end of data", false);
	assert_reply(&cl.replies[1], 250, "", "end of data", false);
	msg.sender = "";
	client_send(fx, &cl, &msg);
	assert_string_equal(cl.replies[1].text, "queued again");
	quit(fx, &cl, &f);
	fake_free(&f);
}

/* Pipelined, every RCPT refused, but DATA gets 354: "." at once; the next
 * transaction starts with RSET. */
static void
test_all_rcpts_refused(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		PIPELINED("MAIL FROM:<s@example.org>", "250 ok\r\n550 no\r\n550 5.1.1 no\r\n354 go\r\n"),
		{A_CONTENT, NULL, "554 no valid recipients\r\n"},
		{A_LINE, "RSET", NULL},
		PIPELINED("MAIL FROM:<s@example.org>",
			  "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n451 4.3.0 no DATA now\r\n"),
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("x\r\n");

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 550, "", "RCPT TO", false);
	assert_reply(&cl.replies[1], 550, "5.1.1", "RCPT TO", false);
	/* DATA refused: the reply goes to the accepted recipients. */
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 451, "4.3.0", "DATA", false);
	assert_reply(&cl.replies[1], 451, "4.3.0", "DATA", false);
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), ".\r\n");
	fake_free(&f);
}

static void
test_end_of_data_4xx(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		PIPELINED("MAIL FROM:<s@example.org>", ALL_OK),
		{A_CONTENT, NULL, "452 4.3.1 insufficient\tstorage\r\n"},
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("");
	const struct smtpc_rcpt bad[] = {{.addr = "a@example.net\r\nRSET"}};
	struct smtpc_msg bad_msg = msg;

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 452, "4.3.1", "end of data", false);
	assert_reply(&cl.replies[1], 452, "4.3.1", "end of data", false);
	assert_string_equal(cl.replies[0].text, "insufficient storage");
	/* A recipient that would break the command line is never sent. */
	bad_msg.rcpts = bad;
	bad_msg.nrcpts = 1;
	client_send(fx, &cl, &bad_msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 553, "5.1.3", "RCPT TO", true);
	bad_msg.sender = "x\ry";
	bad_msg.rcpts = two_rcpts;
	bad_msg.nrcpts = 2;
	client_send(fx, &cl, &bad_msg);
	assert_reply(&cl.replies[1], 553, "5.1.7", "MAIL FROM", true);
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), ".\r\n");
	fake_free(&f);
}

/* Refusals made by the client itself: nothing is sent. */
static void
test_generated_refusals(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250-SIZE 100\r\n250 PIPELINING\r\n"),
		QUIT,
	};
	struct fake f;
	struct client cl;
	char big[201];
	struct smtpc_msg msg;

	memset(big, 'x', 200);
	big[200] = '\0';
	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);

	msg = mem_msg(big);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 552, "5.3.4", "MAIL FROM", true);
	assert_reply(&cl.replies[1], 552, "5.3.4", "MAIL FROM", true);
	assert_non_null(strstr(cl.replies[0].text, "exceeds fixed limit"));

	msg = mem_msg("x\r\n");
	msg.body = QUEUE_BODY_8BITMIME;
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[0], 554, "5.6.3", "MAIL FROM", true);
	assert_true(cl.usable);

	msg.body = QUEUE_BODY_BINARYMIME;
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[1], 554, "5.6.3", "MAIL FROM", true);

	msg.body = QUEUE_BODY_NONE;
	msg.smtputf8 = true;
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[0], 553, "5.6.7", "MAIL FROM", true);
	assert_reply(&cl.replies[1], 553, "5.6.7", "MAIL FROM", true);
	assert_true(cl.usable);
	quit(fx, &cl, &f);
	assert_null(memmem(f.rx.data, f.rx.len, "MAIL", 4));
	fake_free(&f);
}

static void
test_dsn_params(void **state)
{
	struct fixture *fx = *state;
	static const struct step with_dsn[] = {
		GREETING,
		EHLO("250-DSN\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n"),
		{A_LINE,
		 "MAIL FROM:<s@example.org> SIZE=3 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1",
		 "250 ok\r\n"},
		{A_LINE, "RCPT TO:<a@example.net> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;a+2Bx",
		 "250 ok\r\n"},
		{A_LINE, "RCPT TO:<b@example.net> NOTIFY=NEVER", "250 ok\r\n"},
		{A_LINE, "RCPT TO:<c@example.net>", "250 ok\r\n"},
		{A_LINE, "DATA", "354 go\r\n"},
		{A_CONTENT, NULL, "250 ok\r\n"},
		QUIT,
	};
	static const struct step without_dsn[] = {
		GREETING,
		EHLO("250 8BITMIME\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org> BODY=8BITMIME", "250 ok\r\n"},
		{A_LINE, "RCPT TO:<a@example.net>", "250 ok\r\n"},
		{A_LINE, "RCPT TO:<b@example.net>", "250 ok\r\n"},
		{A_LINE, "RCPT TO:<c@example.net>", "250 ok\r\n"},
		{A_LINE, "DATA", "354 go\r\n"},
		{A_CONTENT, NULL, "250 ok\r\n"},
		QUIT,
	};
	static const struct smtpc_rcpt rcpts[] = {
		{.addr = "a@example.net",
		 .orcpt = "rfc822;a+2Bx",
		 .notify = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY},
		{.addr = "b@example.net", .notify = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_FAILURE},
		{.addr = "c@example.net"},
	};
	struct smtpc_msg msg = mem_msg("\xc3\xa9\n");
	struct fake f;
	struct client cl;

	msg.body = QUEUE_BODY_8BITMIME;
	msg.smtputf8 = true;
	msg.ret = QUEUE_RET_HDRS;
	msg.envid = "id+2B1";
	msg.rcpts = rcpts;
	msg.nrcpts = N_ELEMENTS(rcpts);
	session(fx, &default_cfg, with_dsn, N_ELEMENTS(with_dsn), &f, &cl);
	client_send(fx, &cl, &msg);
	for (size_t i = 0; i < 3; i++)
		assert_reply(&cl.replies[i], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), "\xc3\xa9\r\n.\r\n");
	fake_free(&f);

	msg.smtputf8 = false;
	session(fx, &default_cfg, without_dsn, N_ELEMENTS(without_dsn), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[2], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	fake_free(&f);
}

static void
test_helo_fallback(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		{A_LINE, "EHLO client.example.test", "502 5.5.2 what?\r\n"},
		{A_LINE, "HELO client.example.test", "250 fake.example.test\r\n"},
		STEPWISE("MAIL FROM:<s@example.org>", "250 ok\r\n"),
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg(CONTENT);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	assert_false(smtpc_peer(cl.c)->esmtp);
	assert_int_equal(smtpc_peer(cl.c)->ext, 0);
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[0], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	assert_int_equal(f.buffered, 0);
	fake_free(&f);
}

/* A content file of size bytes with dots, bare CRs and LFs. */
static int
content_file(struct fixture *fx, size_t size, struct buf *copy)
{
	char path[128];
	(void)snprintf(path, sizeof(path), "%s/content", fx->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	/* A header line to skip at offset 0. */
	assert_int_equal(write(fd, "HEADER\n", 7), 7);
	for (size_t i = 0; i < size; i++) {
		static const char pattern[] = ".line of text\r\n.\r\nbare\nlf\r.";
		char ch = pattern[(i * 7 + i / 100) % (sizeof(pattern) - 1)];
		assert_int_equal(buf_add_char(copy, ch), 0);
	}
	assert_int_equal(write(fd, copy->data, copy->len), (ssize_t)copy->len);
	return fd;
}

/* A message read from fd, after content_file's header line. */
static struct smtpc_msg
fd_msg(int fd, size_t size)
{
	struct smtpc_msg msg = mem_msg("");

	msg.data = NULL;
	msg.fd = fd;
	msg.offset = 7;
	msg.size = size;
	return msg;
}

static void
test_big_from_fd(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		PIPELINED("MAIL FROM:<s@example.org>", ALL_OK),
		{A_CONTENT, NULL, "250 ok\r\n"},
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct buf copy, expect;

	buf_init(&copy, BUF_UNLIMITED);
	buf_init(&expect, BUF_UNLIMITED);
	int fd = content_file(fx, 3 * 1024 * 1024 + 5, &copy);
	stuff_reference(copy.data, copy.len, &expect);
	struct smtpc_msg msg = fd_msg(fd, copy.len);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	assert_int_equal(f.content.len, expect.len);
	assert_memory_equal(f.content.data, expect.data, expect.len);
	close(fd);
	buf_release(&copy);
	buf_release(&expect);
	fake_free(&f);
}

static void
test_drop_mid_data(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		PIPELINED("MAIL FROM:<s@example.org>", "250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n"),
		{A_CLOSE_MID, NULL, NULL},
	};
	struct fake f;
	struct client cl;
	struct buf copy;

	buf_init(&copy, BUF_UNLIMITED);
	int fd = content_file(fx, 2 * 1024 * 1024, &copy);
	struct smtpc_msg msg = fd_msg(fd, copy.len);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_false(cl.usable);
	assert_reply(&cl.replies[0], 550, "", "RCPT TO", false);
	assert_reply(&cl.replies[1], 451, "4.4.2", "end of data", true);
	assert_non_null(strstr(cl.replies[1].text, "lost connection with " HOST "[127.0.0.1]"));
	smtpc_free(cl.c);
	fake_finish(fx, &f);
	close(fd);
	buf_release(&copy);
	fake_free(&f);
}

static void
test_timeout(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 SIZE\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org> SIZE=3", NULL},
	};
	struct smtpc_config cfg = default_cfg;
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("x\r\n");

	cfg.timeout_scale = 3000; /* MAIL: 300 s -> 0.1 s */
	session(fx, &cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_false(cl.usable);
	assert_reply(&cl.replies[0], 451, "4.4.2", "MAIL FROM", true);
	assert_non_null(strstr(cl.replies[1].text, "timed out"));
	smtpc_free(cl.c);
	fake_finish(fx, &f);
	fake_free(&f);
}

static void
test_greeting_refused(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		{A_LINE, NULL, "554 5.7.1 go away\r\n"},
	};
	struct smtpc_error err;

	setup_fails(fx, &default_cfg, steps, N_ELEMENTS(steps), SMTPC_ERR_REPLY, &err);
	assert_reply(&err.reply, 554, "5.7.1", "greeting", false);
	assert_string_equal(err.reply.text, "go away");
}

static void
test_connect_refused(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct client cl;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* A port that was just free: bound, never listened on, closed. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	close(s);
	client_connect(fx, &default_cfg, ntohs(sin.sin_port), &cl);
	assert_true(cl.failed);
	assert_int_equal(cl.err.kind, SMTPC_ERR_CONNECT);
	assert_reply(&cl.err.reply, 451, "4.4.1", "connect", true);
	assert_non_null(strstr(cl.err.reply.text, "refused"));
	smtpc_free(cl.c);
	settle(fx->base);
}

/* Lost connection during the setup. */
static void
test_setup_lost(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		{A_CLOSE, "EHLO client.example.test", NULL},
	};
	struct smtpc_error err;

	setup_fails(fx, &default_cfg, steps, N_ELEMENTS(steps), SMTPC_ERR_PROTOCOL, &err);
	assert_reply(&err.reply, 451, "4.4.2", "EHLO", true);
}

static void
test_starttls_injection(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 STARTTLS\r\n"),
		{A_LINE, "STARTTLS", "220 2.0.0 ready\r\n250 injected\r\n"},
	};
	struct smtpc_config cfg = default_cfg;
	struct smtpc_error err;

	cfg.tls = DELIVERY_TLS_MAY;
	cfg.tls_ctx = client_ctx(false, NULL);
	setup_fails(fx, &cfg, steps, N_ELEMENTS(steps), SMTPC_ERR_TLS, &err);
	assert_non_null(strstr(err.reply.text, "injection"));
	SSL_CTX_free(cfg.tls_ctx);
}

static void
test_starttls_auth_plain(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250-STARTTLS\r\n250 PIPELINING\r\n"),
		{A_TLS, "STARTTLS", "220 2.0.0 ready\r\n"},
		EHLO("250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n"),
		/* "\0user\0secret" */
		{A_LINE, "AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 ok\r\n"},
		PIPELINED("MAIL FROM:<s@example.org>", ALL_OK),
		{A_CONTENT, NULL, "250 ok\r\n"},
		QUIT,
	};
	struct smtpc_config cfg = default_cfg;
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg(CONTENT);

	cfg.tls = DELIVERY_TLS_ENCRYPT;
	cfg.tls_ctx = client_ctx(false, NULL);
	cfg.auth_user = "user";
	cfg.auth_password = "secret";
	session(fx, &cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	const struct smtpc_peer *peer = smtpc_peer(cl.c);
	assert_true(peer->tls);
	assert_false(peer->tls_verified);
	assert_non_null(strstr(peer->tls_desc, "TLSv1.3"));
	assert_int_equal(peer->auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN);
	client_send(fx, &cl, &msg);
	assert_reply(&cl.replies[1], 250, "", "end of data", false);
	quit(fx, &cl, &f);
	assert_string_equal(buf_cstr(&f.content), CONTENT_STUFFED);
	fake_free(&f);
	SSL_CTX_free(cfg.tls_ctx);
}

/* TLS required: a peer without STARTTLS, or a failed handshake. */
static void
test_tls_required(void **state)
{
	struct fixture *fx = *state;
	static const struct step no_tls[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
	};
	struct smtpc_config cfg = default_cfg;
	struct fake f;
	struct client cl;
	struct smtpc_error err;

	cfg.tls = DELIVERY_TLS_VERIFY;
	cfg.tls_ctx = client_ctx(true, NULL);
	setup_fails(fx, &cfg, no_tls, N_ELEMENTS(no_tls), SMTPC_ERR_TLS, &err);

	/* A certificate that does not verify fails the handshake. */
	static const struct step self_signed[] = {
		GREETING,
		EHLO("250 STARTTLS\r\n"),
		{A_TLS, "STARTTLS", "220 2.0.0 ready\r\n"},
	};
	session(fx, &cfg, self_signed, N_ELEMENTS(self_signed), &f, &cl);
	assert_true(cl.failed);
	assert_int_equal(cl.err.kind, SMTPC_ERR_TLS);
	assert_string_equal(cl.err.reply.stage, "STARTTLS");
	smtpc_free(cl.c);
	fake_wait(fx, &f);
	close(f.lfd);
	fake_free(&f);
	SSL_CTX_free(cfg.tls_ctx);

	/* STARTTLS refused with MAY: go on in plaintext. */
	static const struct step refused[] = {
		GREETING,
		EHLO("250 STARTTLS\r\n"),
		{A_LINE, "STARTTLS", "454 4.7.0 not now\r\n"},
		QUIT,
	};
	cfg.tls = DELIVERY_TLS_MAY;
	cfg.tls_ctx = client_ctx(false, NULL);
	session(fx, &cfg, refused, N_ELEMENTS(refused), &f, &cl);
	assert_false(cl.failed);
	assert_false(smtpc_peer(cl.c)->tls);
	quit(fx, &cl, &f);
	fake_free(&f);
	SSL_CTX_free(cfg.tls_ctx);
}

/* AUTH LOGIN, in plaintext to a loopback peer. */
static void
test_auth_login(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 AUTH LOGIN CRAM-MD5\r\n"),
		{A_LINE, "AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
		{A_LINE, "dXNlcg==", "334 UGFzc3dvcmQ6\r\n"},
		{A_LINE, "c2VjcmV0", "235 2.7.0 ok\r\n"},
		QUIT,
	};
	static const struct step refused[] = {
		GREETING,
		EHLO("250 AUTH PLAIN\r\n"),
		{A_LINE, "AUTH PLAIN AHVzZXIAc2VjcmV0", "535 5.7.8 bad credentials\r\n"},
	};
	struct smtpc_config cfg = default_cfg;
	struct fake f;
	struct client cl;
	struct smtpc_error err;

	cfg.auth_user = "user";
	cfg.auth_password = "secret";
	session(fx, &cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	quit(fx, &cl, &f);
	fake_free(&f);

	setup_fails(fx, &cfg, refused, N_ELEMENTS(refused), SMTPC_ERR_REPLY, &err);
	assert_reply(&err.reply, 535, "5.7.8", "AUTH", false);
}

/* BINARYMIME: BDAT chunks, the content sent as is. */
static void
test_bdat(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org> BODY=BINARYMIME", NULL},
		{A_LINE, "RCPT TO:<a@example.net>", NULL},
		{A_LINE, "RCPT TO:<b@example.net>", "250 ok\r\n250 ok\r\n550 no\r\n"},
		{A_BDAT, "BDAT 1048576", "250 2.0.0 chunk\r\n"},
		{A_BDAT, "BDAT 524295 LAST", "250 2.0.0 done\r\n"},
		/* An empty one */
		{A_LINE, "MAIL FROM:<s@example.org> BODY=BINARYMIME", NULL},
		{A_LINE, "RCPT TO:<a@example.net>", NULL},
		{A_LINE, "RCPT TO:<b@example.net>", "250 ok\r\n250 ok\r\n250 ok\r\n"},
		{A_BDAT, "BDAT 0 LAST", "554 5.6.0 empty\r\n"},
		QUIT,
	};
	struct fake f;
	struct client cl;
	struct buf copy;

	buf_init(&copy, BUF_UNLIMITED);
	int fd = content_file(fx, 1024 * 1024 + 524295, &copy);
	struct smtpc_msg msg = mem_msg("");
	msg.body = QUEUE_BODY_BINARYMIME;
	msg.data = NULL;
	msg.fd = fd;
	msg.offset = 7;
	msg.size = copy.len;

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_true(cl.usable);
	assert_reply(&cl.replies[0], 250, "2.0.0", "end of data", false);
	assert_string_equal(cl.replies[0].text, "done");
	assert_reply(&cl.replies[1], 550, "", "RCPT TO", false);
	assert_int_equal(f.content.len, copy.len);
	assert_memory_equal(f.content.data, copy.data, copy.len);

	struct smtpc_msg empty = mem_msg("");
	empty.body = QUEUE_BODY_BINARYMIME;
	client_send(fx, &cl, &empty);
	assert_reply(&cl.replies[0], 554, "5.6.0", "BDAT", false);
	smtpc_quit(cl.c);
	fake_finish(fx, &f);
	close(fd);
	buf_release(&copy);
	fake_free(&f);
}

/* A 421 while idle: the next transaction fails at once, generated. */
static void
test_idle_421(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		{A_LINE, NULL, "421 4.3.2 shutting down\r\n"},
		{A_CLOSE, NULL, NULL},
	};
	struct fake f;
	struct client cl;
	struct smtpc_msg msg = mem_msg("x\r\n");

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	assert_false(cl.failed);
	fake_finish(fx, &f);
	client_send(fx, &cl, &msg);
	assert_false(cl.usable);
	assert_reply(&cl.replies[0], 451, "4.4.2", "MAIL FROM", true);
	smtpc_free(cl.c);
	fake_free(&f);
}

/* The queue file is shorter than the message: the connection is dropped
 * so that the peer never takes a truncated message. */
static void
test_short_file(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		PIPELINED("MAIL FROM:<s@example.org>", ALL_OK),
		{A_CLOSE_MID, NULL, NULL},
	};
	struct fake f;
	struct client cl;
	struct buf copy;

	buf_init(&copy, BUF_UNLIMITED);
	int fd = content_file(fx, 100000, &copy);
	struct smtpc_msg msg = fd_msg(fd, copy.len + 1);

	session(fx, &default_cfg, steps, N_ELEMENTS(steps), &f, &cl);
	client_send(fx, &cl, &msg);
	assert_false(cl.usable);
	assert_reply(&cl.replies[0], 451, "4.4.2", "end of data", true);
	assert_non_null(strstr(cl.replies[1].text, "cannot read the message content"));
	fake_finish(fx, &f);
	/* No end of data was sent. */
	assert_null(memmem(f.rx.data, f.rx.len, "\r\n.\r\n", 5));
	smtpc_free(cl.c);
	close(fd);
	buf_release(&copy);
	fake_free(&f);
}

/* The callbacks may free the client, and done_cb may start the next
 * transaction. */
struct chain {
	struct fixture *fx;
	struct smtpc_msg *msg;
	int sent;
	bool freed;
	unsigned last_code;
};

static void
chain_done(struct smtpc *c, const struct smtpc_result *result, void *arg)
{
	struct chain *ch = arg;

	ch->last_code = result->replies[0].code;
	if (++ch->sent < 3) {
		smtpc_send(c, ch->msg, chain_done, ch);
		return;
	}
	smtpc_free(c);
	ch->freed = true;
}

static void
chain_ready(struct smtpc *c, const struct smtpc_error *error, void *arg)
{
	struct chain *ch = arg;

	assert_null(error);
	smtpc_send(c, ch->msg, chain_done, ch);
}

static void
test_callbacks_chain(void **state)
{
	struct fixture *fx = *state;
	static const struct step steps[] = {
		GREETING,
		EHLO("250 PIPELINING\r\n"),
		{A_LINE, "MAIL FROM:<s@example.org>", NULL},
		{A_LINE, "RCPT TO:<a@example.net>", NULL},
		{A_LINE, "DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
		{A_CONTENT, NULL, "250 one\r\n"},
		{A_LINE, "MAIL FROM:<s@example.org>", NULL},
		{A_LINE, "RCPT TO:<a@example.net>", NULL},
		{A_LINE, "DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
		{A_CONTENT, NULL, "250 two\r\n"},
		{A_LINE, "MAIL FROM:<s@example.org>", NULL},
		{A_LINE, "RCPT TO:<a@example.net>", NULL},
		{A_LINE, "DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
		{A_CONTENT, NULL, "250 three\r\n"},
	};
	struct fake f;
	struct smtpc_msg msg = mem_msg("x");
	struct chain ch = {.fx = fx, .msg = &msg};
	struct sockaddr_in sin = {.sin_family = AF_INET};

	msg.nrcpts = 1;
	fake_start(&f, steps, N_ELEMENTS(steps), NULL);
	sin.sin_port = htons(f.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)smtpc_connect(fx->base, &default_cfg, (struct sockaddr *)&sin, sizeof(sin), HOST,
			    chain_ready, &ch);
	RUN_UNTIL(fx->base, ch.freed);
	assert_int_equal(ch.sent, 3);
	assert_int_equal(ch.last_code, 250);
	fake_finish(fx, &f);
	fake_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_partly_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_refused_then_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_rcpts_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_of_data_4xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generated_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsn_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helo_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_from_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_mid_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_greeting_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_auth_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bdat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_421, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_chain, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
