/* test_smtpc_session.c - the SMTP client's sessions that fail, time out,
 * go through STARTTLS or authenticate, against scripted fake servers
 * (smtpc_fake_test.h); its transactions are in test_smtpc.c. */
#include "tls_test.h"

#include "smtpc_fake_test.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drop_mid_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_greeting_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_auth_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_421, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
