/* smtpc_fake_test.h - what the SMTP client's session tests share
 * (test_smtpc.c: transactions; test_smtpc_session.c: failures, time-outs,
 * TLS and AUTH): scripted fake servers on 127.0.0.1, each run in a thread
 * with blocking sockets (and OpenSSL for STARTTLS), recording what the
 * client sent; the client side's callbacks and checks. Include after
 * tls_test.h. */
#ifndef POSTERN_SMTPC_FAKE_TEST_H
#define POSTERN_SMTPC_FAKE_TEST_H

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

ATTR_UNUSED static void
fake_fail(struct fake *f, const char *fmt, ...) ATTR_PRINTF(2, 3);

ATTR_UNUSED static void
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

ATTR_UNUSED static int
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

ATTR_UNUSED static void
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
ATTR_UNUSED static int
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

ATTR_UNUSED static bool
line_matches(const char *line, const char *expect)
{
	size_t n = strlen(expect);

	if (n > 0 && expect[n - 1] == '*')
		return strncmp(line, expect, n - 1) == 0;
	return strcmp(line, expect) == 0;
}

/* Read n bytes of content. */
ATTR_UNUSED static int
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

ATTR_UNUSED static int
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

ATTR_UNUSED static bool
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

ATTR_UNUSED static void *
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

ATTR_UNUSED static void
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

ATTR_UNUSED static bool
fake_done(struct fake *f)
{
	return __atomic_load_n(&f->done, __ATOMIC_SEQ_CST);
}

/* Run the loop until the server thread has ended (it cannot wake the
 * loop up, so poll). */
ATTR_UNUSED static void
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
ATTR_UNUSED static void
fake_finish(struct fixture *fx, struct fake *f)
{
	fake_wait(fx, f);
	close(f->lfd);
	settle(fx->base);
	if (f->error[0] != '\0')
		fail_msg("fake server: %s", f->error);
}

ATTR_UNUSED static void
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

ATTR_UNUSED static const struct smtpc_config default_cfg = {
	.helo_name = "client.example.test",
	.tls = DELIVERY_TLS_NONE,
	.connect_timeout = 5,
};

ATTR_UNUSED static void
on_ready(struct smtpc *c, const struct smtpc_error *error, void *arg)
{
	struct client *cl = arg;

	cl->ready = true;
	if (error != NULL) {
		cl->failed = true;
		cl->err = *error;
	}
}

ATTR_UNUSED static void
on_done(struct smtpc *c, const struct smtpc_result *result, void *arg)
{
	struct client *cl = arg;

	assert_true(result->nreplies <= N_ELEMENTS(cl->replies));
	cl->done = true;
	cl->usable = result->usable;
	cl->nreplies = result->nreplies;
	memcpy(cl->replies, result->replies, result->nreplies * sizeof(*result->replies));
}

ATTR_UNUSED static void
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
ATTR_UNUSED static void
session(struct fixture *fx, const struct smtpc_config *cfg, const struct step *steps,
	size_t nsteps, struct fake *f, struct client *cl)
{
	fake_start(f, steps, nsteps, cfg->tls_ctx != NULL ? fx->server_ctx : NULL);
	client_connect(fx, cfg, f->port, cl);
}

/* A session whose setup fails with kind; the error goes to *err. */
ATTR_UNUSED static void
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

ATTR_UNUSED static void
client_send(struct fixture *fx, struct client *cl, const struct smtpc_msg *msg)
{
	cl->done = false;
	smtpc_send(cl->c, msg, on_done, cl);
	assert_false(cl->done);
	RUN_UNTIL(fx->base, cl->done);
	assert_int_equal(cl->nreplies, msg->nrcpts);
}

ATTR_UNUSED static void
assert_reply(const struct smtpc_reply *r, unsigned code, const char *enhanced, const char *stage,
	     bool generated)
{
	assert_int_equal(r->code, code);
	assert_string_equal(r->enhanced, enhanced);
	assert_string_equal(r->stage, stage);
	assert_int_equal(r->generated, generated);
}

ATTR_UNUSED static const struct smtpc_rcpt two_rcpts[] = {
	{.addr = "a@example.net"},
	{.addr = "b@example.net"},
};

#define CONTENT "Subject: test\r\n\r\n.hello\r\nbare\nlf and bare\rcr\r\n.\r\nend"
#define CONTENT_STUFFED                                                                            \
	"Subject: test\r\n\r\n..hello\r\nbare\r\nlf and bare\r\ncr\r\n..\r\nend\r\n.\r\n"

ATTR_UNUSED static struct smtpc_msg
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

ATTR_UNUSED static void
quit(struct fixture *fx, struct client *cl, struct fake *f)
{
	smtpc_quit(cl->c);
	fake_finish(fx, f);
	assert_true(crlf_clean(f->rx.data, f->rx.len));
}

/* A content file of size bytes with dots, bare CRs and LFs. */
ATTR_UNUSED static int
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
ATTR_UNUSED static struct smtpc_msg
fd_msg(int fd, size_t size)
{
	struct smtpc_msg msg = mem_msg("");

	msg.data = NULL;
	msg.fd = fd;
	msg.offset = 7;
	msg.size = size;
	return msg;
}

#endif
