/* test_smtpc.c - the SMTP client's transactions (its pure parts are in
 * test_smtpc_parse.c; failures, time-outs, TLS and AUTH in
 * test_smtpc_session.c) against scripted fake servers
 * (smtpc_fake_test.h). */
#include "tls_test.h"

#include "smtpc_fake_test.h"

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
		cmocka_unit_test_setup_teardown(test_bdat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_chain, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
