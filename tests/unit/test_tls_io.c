/* test_tls_io.c - the TLS module on real connections: handshakes over
 * loopback TCP driven by a libevent loop (implicit TLS, dirty close,
 * verification, session resumption, reload, STARTTLS with the command
 * injection attack, time-outs, plaintext helpers).
 */
#include "tls_test.h"

static void
test_echo_round_trip(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);
	char desc[128];
	const size_t big = 1024 * 1024 + 17;

	peer_init(&server);
	peer_init(&client);
	server.echo = true;
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.connected && client.connected);
	assert_true(tls_is_tls(server.bev));

	/* A line, then a megabyte (many records, partial writes). */
	assert_int_equal(bufferevent_write(client.bev, "hello, tls\r\n", 12), 0);
	RUN_UNTIL(f->base, client.got.len >= 12);
	assert_int_equal(client.got.len, 12);
	assert_memory_equal(client.got.data, "hello, tls\r\n", 12);
	buf_reset(&client.got);
	char *data = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 31 + (i >> 9));
	assert_int_equal(bufferevent_write(client.bev, data, big), 0);
	RUN_UNTIL(f->base, client.got.len >= big || client.error || server.error);
	assert_int_equal(client.got.len, big);
	assert_memory_equal(client.got.data, data, big);
	free(data);

	/* Both sides describe the same session. */
	assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), 0);
	char cdesc[128];
	assert_int_equal(tls_describe(client.bev, cdesc, sizeof(cdesc)), 0);
	assert_string_equal(desc, cdesc);
	assert_true(
	    strncmp(desc, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", 64) == 0);
	/* Too small a buffer: -1 and an empty string, never a cut one. */
	char tiny[16];
	assert_int_equal(tls_describe(server.bev, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "");

	/* The client says goodbye properly: the server sees EOF. */
	tls_free(&client.bev);
	RUN_UNTIL(f->base, server.eof || server.error);
	assert_true(server.eof);
	assert_false(server.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_dirty_close_is_eof(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.connected && client.connected);
	/* Close the TCP connection without close_notify, as many mail clients
	 * do: reported as EOF, not as an error. */
	shutdown(bufferevent_getfd(client.bev), SHUT_RDWR);
	RUN_UNTIL(f->base, server.eof || server.error);
	assert_true(server.eof);
	assert_false(server.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_verification(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	const char *reason = NULL;
	SSL_CTX *cctx;

	/* Opportunistic: connects, but says the peer is not verified. */
	cctx = client_ctx(false, NULL);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(client.connected);
	assert_false(tls_peer_verified(client.bev, &reason));
	assert_non_null(strstr(reason, "self-signed"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);

	/* Verifying, with the certificate as trust anchor: the right name
	 * (and the IP SAN) pass... */
	static const char *const good[] = {HOST, "localhost", "127.0.0.1"};
	cctx = client_ctx(true, f->cert);
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		peer_init(&server);
		peer_init(&client);
		handshake(f, f->server_ctx, cctx, good[i], &server, &client);
		assert_true(client.connected);
		assert_true(tls_peer_verified(client.bev, &reason));
		assert_string_equal(reason, "verified");
		/* SNI carried the name (not for an IP address). */
		SSL *ssl = bufferevent_openssl_get_ssl(server.bev);
		const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		if (i < 2)
			assert_string_equal(sni, good[i]);
		else
			assert_null(sni);
		peer_done(&server);
		peer_done(&client);
	}
	/* ... a wrong name fails the handshake. */
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, "wrong.example.test", &server, &client);
	assert_true(client.error);
	assert_false(client.connected);
	assert_non_null(strstr(client.errtext, "certificate verify failed"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);

	/* Verifying against the system store only: self-signed fails. */
	cctx = client_ctx(true, NULL);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(client.error);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

static void
test_session_resumption(void **state)
{
	struct fixture *f = *state;
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

	for (size_t i = 0; i < N_ELEMENTS(versions); i++) {
		SSL_CTX *cctx = client_ctx(false, NULL);
		SSL_SESSION *sess;
		struct peer server, client;
		evutil_socket_t sfd, cfd;
		const char *error = NULL;

		assert_int_equal(SSL_CTX_set_max_proto_version(cctx, versions[i]), 1);
		peer_init(&server);
		peer_init(&client);
		server.echo = true;
		handshake(f, f->server_ctx, cctx, HOST, &server, &client);
		/* A round trip, so that a TLS 1.3 ticket has arrived. */
		assert_int_equal(bufferevent_write(client.bev, "x\n", 2), 0);
		RUN_UNTIL(f->base, client.got.len == 2);
		sess = SSL_get1_session(bufferevent_openssl_get_ssl(client.bev));
		assert_non_null(sess);
		assert_true(SSL_SESSION_is_resumable(sess));
		peer_done(&server);
		peer_done(&client);
		settle(f->base);

		/* The second connection resumes from the ticket, although the
		 * server keeps no session cache. */
		peer_init(&server);
		peer_init(&client);
		tcp_pair(&sfd, &cfd);
		peer_attach(&server, tls_accept_socket(f->base, sfd, f->server_ctx, &error));
		peer_attach(&client, tls_connect_socket(f->base, cfd, cctx, HOST, &error));
		assert_int_equal(SSL_set_session(bufferevent_openssl_get_ssl(client.bev), sess), 1);
		RUN_UNTIL(f->base,
			  (server.connected && client.connected) || server.error || client.error);
		assert_true(server.connected && client.connected);
		assert_true(SSL_session_reused(bufferevent_openssl_get_ssl(server.bev)));
		assert_true(SSL_session_reused(bufferevent_openssl_get_ssl(client.bev)));
		SSL_SESSION_free(sess);
		peer_done(&server);
		peer_done(&client);
		settle(f->base);
		SSL_CTX_free(cctx);
	}
}

/* SIGHUP: the old context is freed while a connection still uses it. */
static void
test_reload_keeps_connections(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	const char *error = NULL;
	SSL_CTX *cctx = client_ctx(false, NULL);
	SSL_CTX *old = tls_server_ctx_new(f->cert, f->key, &error);

	assert_non_null(old);
	peer_init(&server);
	peer_init(&client);
	server.echo = true;
	handshake(f, old, cctx, HOST, &server, &client);
	assert_true(server.connected);
	SSL_CTX *fresh = tls_server_ctx_new(f->cert, f->key, &error);
	assert_non_null(fresh);
	SSL_CTX_free(old);
	assert_int_equal(bufferevent_write(client.bev, "still here\n", 11), 0);
	RUN_UNTIL(f->base, client.got.len == 11);
	assert_memory_equal(client.got.data, "still here\n", 11);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(fresh);
	SSL_CTX_free(cctx);
}

/* ---- STARTTLS ---- */

static void
server_tls_ready(struct bufferevent *bev, size_t discarded, const char *error, void *arg)
{
	struct peer *p = arg;

	assert_non_null(bev);
	assert_null(error);
	p->switched = true;
	p->discarded = discarded;
	peer_attach(p, bev);
}

/* The server's plaintext reader: one command, STARTTLS. */
static void
server_plain_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	char all[64];

	/* The attack's precondition: both commands arrived together. */
	assert_int_equal(len, 16);
	assert_int_equal(evbuffer_copyout(in, all, len), 16);
	assert_memory_equal(all, "STARTTLS\r\nRSET\r\n", 16);

	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
	assert_non_null(line);
	assert_string_equal(line, "STARTTLS");
	free(line);
	assert_int_equal(bufferevent_write(bev, "220 ready\r\n", 11), 0);
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
}

static void
client_plain_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *error = NULL;
	size_t n, discarded = 99;
	char *line;

	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL)
		return;
	assert_string_equal(line, "220 ready");
	free(line);
	p->bev = tls_starttls_client(bev, p->ctx, HOST, &discarded, &error);
	assert_non_null(p->bev);
	assert_int_equal(discarded, 0);
	p->switched = true;
	bufferevent_setcb(p->bev, peer_read, NULL, peer_event, p);
	assert_int_equal(bufferevent_enable(p->bev, EV_READ | EV_WRITE), 0);
	/* Queued now, sent once the handshake is done. */
	assert_int_equal(bufferevent_write(p->bev, "NOOP\r\n", 6), 0);
}

static void
test_starttls_injection(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(true, f->cert);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	server.reply = "250 ok\r\n";
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);

	/* The attacker's single write: a command pipelined behind STARTTLS. */
	assert_int_equal(write(cfd, "STARTTLS\r\nRSET\r\n", 16), 16);
	server.bev = tls_plain_socket(f->base, sfd);
	assert_non_null(server.bev);
	assert_false(tls_is_tls(server.bev));
	bufferevent_setcb(server.bev, server_plain_read, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	assert_non_null(client.bev);
	bufferevent_setcb(client.bev, client_plain_read, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);

	RUN_UNTIL(f->base,
		  client.got.len >= 8 || client.error || server.error || client.eof || server.eof);
	assert_true(server.switched && client.switched);
	/* RSET was dropped, NOOP (sent through TLS) arrived, alone. */
	assert_int_equal(server.discarded, 6);
	assert_int_equal(server.got.len, 6);
	assert_memory_equal(server.got.data, "NOOP\r\n", 6);
	assert_int_equal(client.got.len, 8);
	assert_memory_equal(client.got.data, "250 ok\r\n", 8);
	/* The same sockets carry TLS now, verified. */
	assert_int_equal(bufferevent_getfd(server.bev), sfd);
	assert_int_equal(bufferevent_getfd(client.bev), cfd);
	assert_true(tls_is_tls(server.bev));
	assert_true(tls_peer_verified(client.bev, NULL));

	/* Freeing the TLS bufferevent closes the fd, exactly once. */
	peer_done(&server);
	peer_done(&client);
	settle(f->base);
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
	assert_int_equal(fcntl(cfd, F_GETFD), -1);
	SSL_CTX_free(cctx);
}

/* Plaintext that arrives after the switch (still in the kernel when the
 * server went TLS) is read as a TLS record: the handshake fails and nothing
 * reaches the TLS reader. */
static void
server_plain_read_one(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	assert_string_equal(line, "STARTTLS");
	free(line);
	assert_int_equal(bufferevent_write(bev, "220 ready\r\n", 11), 0);
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
}

static void
client_inject_late(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	const char *error = NULL;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	free(line);
	/* A man in the middle adds plaintext after the 220. */
	assert_true(tls_output_drained(bev));
	assert_int_equal(write(bufferevent_getfd(bev), "RSET\r\n", 6), 6);
	p->bev = tls_starttls_client(bev, p->ctx, HOST, NULL, &error);
	assert_non_null(p->bev);
	p->switched = true;
	bufferevent_setcb(p->bev, peer_read, NULL, peer_event, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(p->bev, "NOOP\r\n", 6), 0);
}

static void
test_starttls_late_plaintext(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);
	server.bev = tls_plain_socket(f->base, sfd);
	bufferevent_setcb(server.bev, server_plain_read_one, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	bufferevent_setcb(client.bev, client_inject_late, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(client.bev, "STARTTLS\r\n", 10), 0);

	RUN_UNTIL(f->base, server.error || server.eof);
	assert_true(server.switched);
	assert_true(server.error);
	assert_false(server.connected);
	assert_int_equal(server.got.len, 0);
	assert_int_equal(server.nread, 0);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

/* The "ready" reply was already flushed when the helper is called: the
 * switch still happens, from the loop. */
static void
server_plain_read_flushed(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF_STRICT);

	if (line == NULL)
		return;
	free(line);
	assert_int_equal(write(bufferevent_getfd(bev), "220 ready\r\n", 11), 11);
	assert_true(tls_output_drained(bev));
	p->bev = NULL;
	tls_starttls_when_flushed(bev, p->ctx, server_tls_ready, p);
	/* Never from inside the call. */
	assert_false(p->switched);
}

static void
test_starttls_already_flushed(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	evutil_socket_t sfd, cfd;
	SSL_CTX *cctx = client_ctx(false, NULL);

	peer_init(&server);
	peer_init(&client);
	server.ctx = f->server_ctx;
	server.reply = "250 ok\r\n";
	client.ctx = cctx;
	tcp_pair(&sfd, &cfd);
	server.bev = tls_plain_socket(f->base, sfd);
	bufferevent_setcb(server.bev, server_plain_read_flushed, NULL, peer_event, &server);
	bufferevent_enable(server.bev, EV_READ | EV_WRITE);
	client.bev = tls_plain_socket(f->base, cfd);
	bufferevent_setcb(client.bev, client_plain_read, NULL, peer_event, &client);
	bufferevent_enable(client.bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(client.bev, "STARTTLS\r\n", 10), 0);

	RUN_UNTIL(f->base, client.got.len >= 8 || client.error || server.error);
	assert_int_equal(server.discarded, 0);
	assert_int_equal(server.got.len, 6);
	assert_memory_equal(server.got.data, "NOOP\r\n", 6);
	assert_memory_equal(client.got.data, "250 ok\r\n", 8);
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

struct lost {
	bool called;
	char error[256];
};

static void
lost_cb(struct bufferevent *bev, size_t discarded, const char *error, void *arg)
{
	struct lost *l = arg;

	assert_null(bev);
	assert_non_null(error);
	l->called = true;
	assert_int_equal(str_copy(l->error, sizeof(l->error), error), 0);
}

/* The client resets the connection while the reply is still queued. */
static void
test_starttls_connection_lost(void **state)
{
	struct fixture *f = *state;
	evutil_socket_t sfd, cfd;
	struct lost lost = {0};
	const size_t big = 8 * 1024 * 1024;

	tcp_pair(&sfd, &cfd);
	int small = 4096;
	assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	struct bufferevent *plain = tls_plain_socket(f->base, sfd);
	assert_non_null(plain);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	/* More than the socket buffers hold, so the output cannot drain. */
	char *data = xcalloc(big, 1);
	assert_int_equal(bufferevent_write(plain, data, big), 0);
	free(data);
	tls_starttls_when_flushed(plain, f->server_ctx, lost_cb, &lost);
	settle(f->base);
	assert_false(lost.called);
	/* RST instead of FIN. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(cfd);
	RUN_UNTIL(f->base, lost.called);
	assert_non_null(strstr(lost.error, "before STARTTLS"));
	settle(f->base);
	/* plain was freed, and its fd closed. */
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
}

/* A client that connects and never sends a ClientHello is ended by the
 * timeout the caller sets. */
static void
test_handshake_timeout(void **state)
{
	struct fixture *f = *state;
	struct peer server;
	evutil_socket_t sfd, cfd;
	const char *error = NULL;
	struct timeval tv = {0, 200 * 1000};

	peer_init(&server);
	tcp_pair(&sfd, &cfd);
	peer_attach(&server, tls_accept_socket(f->base, sfd, f->server_ctx, &error));
	bufferevent_set_timeouts(server.bev, &tv, &tv);
	RUN_UNTIL(f->base, server.timeout || server.error || server.eof);
	assert_true(server.timeout);
	assert_false(server.connected);
	peer_done(&server);
	close(cfd);
}

static void
test_plain_helpers(void **state)
{
	struct fixture *f = *state;
	evutil_socket_t sfd, cfd;
	char text[128];

	tcp_pair(&sfd, &cfd);
	struct bufferevent *bev = tls_plain_socket(f->base, sfd);
	assert_non_null(bev);
	assert_false(tls_is_tls(bev));
	assert_true(tls_output_drained(bev));
	assert_int_equal(tls_describe(bev, text, sizeof(text)), -1);
	assert_false(tls_peer_verified(bev, NULL));
	assert_int_equal(tls_error_text(bev, text, sizeof(text)), 0);
	assert_string_equal(text, "connection closed");
	/* Freeing the plain bufferevent closes its fd. */
	tls_free(&bev);
	assert_null(bev);
	settle(f->base);
	assert_int_equal(fcntl(sfd, F_GETFD), -1);
	close(cfd);
	tls_free(&bev); /* NULL is fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_echo_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_close_is_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verification, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_resumption, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_late_plaintext, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_already_flushed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_connection_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_helpers, setup, teardown),
	};

	/* A peer that vanishes must not kill the process (libevent writes
	 * with write(), not send(MSG_NOSIGNAL)). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
