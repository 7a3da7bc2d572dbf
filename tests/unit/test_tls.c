/* test_tls.c - the TLS module's certificates and contexts: the self-signed
 * certificate (generation, reuse, regeneration, errors), server context
 * defaults and errors, protocol versions and ciphers.
 */
#include "tls_test.h"

static void
test_selfsigned_generate_and_reuse(void **state)
{
	struct fixture *f = *state;
	char path[256], *cert = NULL, *key = NULL;
	const char *error = NULL;
	struct buf before, after;

	/* setup() generated it: check the files. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls", f->dir) < (int)sizeof(path), 1);
	assert_int_equal(file_mode(path), 0700);
	assert_int_equal(file_mode(f->key), 0600);
	assert_int_equal(file_mode(f->cert), 0644);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.crt", f->dir) > 0, 1);
	assert_string_equal(f->cert, path);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.key", f->dir) > 0, 1);
	assert_string_equal(f->key, path);

	/* The certificate itself. */
	X509 *x = load_cert(f->cert);
	EVP_PKEY *k = load_key(f->key);
	char cn[256], group[64];

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, HOST);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(X509_verify(x, k), 1);
	/* Self-issued; not a CA, so no keyCertSign (X509_check_issued says so). */
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_int_equal(X509_check_issued(x, x), X509_V_ERR_KEYUSAGE_NO_CERTSIGN);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	/* SANs: exactly the four names. */
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_check_host(x, HOST, 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_host(x, "other.example.test", 0, 0, NULL), 0);
	/* CA:FALSE, digitalSignature, serverAuth. */
	uint32_t flags = X509_get_extension_flags(x);
	assert_true(flags & EXFLAG_BCONS);
	assert_false(flags & EXFLAG_CA);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	/* A positive random serial. */
	BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(serial);
	assert_false(BN_is_negative(serial));
	assert_true(BN_num_bits(serial) > 64);
	BN_free(serial);
	/* Valid from an hour ago, for 825 days. */
	int days, secs;
	assert_int_equal(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	assert_int_equal(days, TLS_SELFSIGNED_DAYS);
	assert_int_equal(secs, 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)), 1);
	assert_int_equal(days, 0);
	assert_true(secs <= -3600 + 60 && secs >= -3600 - 60);
	X509_free(x);
	EVP_PKEY_free(k);

	/* A second call reuses both files untouched. */
	buf_init(&before, BUF_UNLIMITED);
	buf_init(&after, BUF_UNLIMITED);
	read_file(f->cert, &before);
	ino_t ino = file_ino(f->cert);
	assert_int_equal(tls_selfsigned_ensure(f->dir, HOST, &cert, &key, &error), 0);
	assert_string_equal(cert, f->cert);
	assert_string_equal(key, f->key);
	read_file(f->cert, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	assert_int_equal(file_ino(f->cert), ino);
	/* Host names compare without case. */
	free(cert);
	free(key);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "MAIL.Example.Test", &cert, &key, &error),
			 0);
	free(cert);
	free(key);
	buf_release(&before);
	buf_release(&after);

	/* No temporary file is left behind. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.crt.tmp", f->dir) > 0, 1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(snprintf(path, sizeof(path), "%s/tls/selfsigned.key.tmp", f->dir) > 0, 1);
	assert_int_equal(access(path, F_OK), -1);
}

/* ensure() again and expect a regeneration (returns 1, a different cert). */
static void
expect_regenerated(struct fixture *f, const char *host)
{
	char *cert = NULL, *key = NULL;
	const char *error = NULL;
	struct buf before, after;

	buf_init(&before, BUF_UNLIMITED);
	buf_init(&after, BUF_UNLIMITED);
	read_file(f->cert, &before);
	assert_int_equal(tls_selfsigned_ensure(f->dir, host, &cert, &key, &error), 1);
	read_file(f->cert, &after);
	assert_false(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
	X509 *x = load_cert(cert);
	EVP_PKEY *k = load_key(key);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(X509_cmp_current_time(X509_get0_notAfter(x)), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	assert_int_equal(file_mode(key), 0600);
	free(cert);
	free(key);
	buf_release(&before);
	buf_release(&after);
}

static void
test_selfsigned_regenerates(void **state)
{
	struct fixture *f = *state;
	char other_dir[64], *ocert = NULL, *okey = NULL, *cert = NULL, *key = NULL;
	const char *error = NULL;

	/* Unreadable certificate. */
	write_text(f->cert, "garbage\n");
	expect_regenerated(f, HOST);

	/* Expired: the same certificate, re-signed with notAfter in the past. */
	X509 *x = load_cert(f->cert);
	EVP_PKEY *k = load_key(f->key);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -10 * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), -86400));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	write_cert(f->cert, x);
	/* ... which the server context still loads, with a warning. */
	SSL_CTX *ctx = tls_server_ctx_new(f->cert, f->key, &error);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	expect_regenerated(f, HOST);
	/* Expiring within the renewal margin. */
	X509_free(x);
	x = load_cert(f->cert);
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	write_cert(f->cert, x);
	X509_free(x);
	EVP_PKEY_free(k);
	expect_regenerated(f, HOST);

	/* A key that is not the certificate's (a crash between the renames). */
	make_tmpdir(other_dir, sizeof(other_dir));
	assert_int_equal(tls_selfsigned_ensure(other_dir, HOST, &ocert, &okey, &error), 1);
	assert_int_equal(rename(okey, f->key), 0);
	expect_regenerated(f, HOST);
	(void)rm_rf(other_dir);
	free(ocert);
	free(okey);

	/* Missing key only. */
	assert_int_equal(unlink(f->key), 0);
	expect_regenerated(f, HOST);

	/* The configured host name changed. */
	expect_regenerated(f, "imap.example.test");
	x = load_cert(f->cert);
	assert_int_equal(X509_check_host(x, "imap.example.test", 0, 0, NULL), 1);
	X509_free(x);

	/* An IP address as host name goes into an IP SAN. */
	expect_regenerated(f, "192.0.2.7");
	x = load_cert(f->cert);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	X509_free(x);

	/* Loose modes are tightened and the pair is kept. */
	char dir[128];
	assert_int_equal(snprintf(dir, sizeof(dir), "%s/tls", f->dir) > 0, 1);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(f->key, 0644), 0);
	ino_t ino = file_ino(f->cert);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "192.0.2.7", &cert, &key, &error), 0);
	assert_int_equal(file_ino(f->cert), ino);
	assert_int_equal(file_mode(dir), 0700);
	assert_int_equal(file_mode(f->key), 0600);
	free(cert);
	free(key);
}

static void
test_selfsigned_errors(void **state)
{
	struct fixture *f = *state;
	char *cert = NULL, *key = NULL, path[128];
	const char *error = NULL;

	/* A host name that would inject SAN entries, and other junk. */
	assert_int_equal(tls_selfsigned_ensure(f->dir, "a.test,IP:10.0.0.1", &cert, &key, &error),
			 -1);
	assert_non_null(strstr(error, "a.test,IP:10.0.0.1"));
	assert_int_equal(tls_selfsigned_ensure(f->dir, "", &cert, &key, &error), -1);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "a..test", &cert, &key, &error), -1);
	assert_int_equal(tls_selfsigned_ensure(f->dir, "-.", &cert, &key, &error), -1);
	/* A data directory that does not exist. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/missing", f->dir) > 0, 1);
	assert_int_equal(tls_selfsigned_ensure(path, HOST, &cert, &key, &error), -1);
	assert_non_null(strstr(error, "missing/tls"));
	assert_non_null(strstr(error, "No such file or directory"));
	/* A name too long for a CN (64) still goes whole into the SAN. */
	char longname[128];
	memset(longname, 'a', 60);
	assert_int_equal(str_copy(longname + 60, sizeof(longname) - 60, ".example.test"), 0);
	assert_int_equal(tls_selfsigned_ensure(f->dir, longname, &cert, &key, &error), 1);
	X509 *x = load_cert(cert);
	char cn[128];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "postern self-signed");
	assert_int_equal(X509_check_host(x, longname, 0, 0, NULL), 1);
	X509_free(x);
	free(cert);
	free(key);
	/* DATA_DIR/tls is a file. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain", f->dir) > 0, 1);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain/tls", f->dir) > 0, 1);
	write_text(path, "x");
	assert_int_equal(snprintf(path, sizeof(path), "%s/plain", f->dir) > 0, 1);
	assert_int_equal(tls_selfsigned_ensure(path, HOST, &cert, &key, &error), -1);
	assert_non_null(strstr(error, "not a directory"));
}

/* ---- server context ---- */

static void
test_server_ctx_defaults(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *ctx = f->server_ctx;

	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
	/* Only the intended TLS 1.2 suites (plus the three TLS 1.3 ones). */
	STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
	int n12 = 0;
	for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
		const char *name = SSL_CIPHER_get_name(c);

		if (strncmp(name, "TLS_", 4) == 0)
			continue;
		n12++;
		assert_true(strstr(name, "GCM") != NULL || strstr(name, "CHACHA20") != NULL);
		assert_true(strncmp(name, "ECDHE-", 6) == 0 || strncmp(name, "DHE-", 4) == 0);
	}
	assert_int_equal(n12, 9);
}

static void
test_server_ctx_errors(void **state)
{
	struct fixture *f = *state;
	char other_dir[64], path[128], *ocert = NULL, *okey = NULL;
	const char *error = NULL;

	/* Missing files, named. */
	assert_null(tls_server_ctx_new("/nonexistent/cert.pem", f->key, &error));
	assert_string_equal(error, "certificate /nonexistent/cert.pem: No such file or directory");
	assert_null(tls_server_ctx_new(f->cert, "/nonexistent/key.pem", &error));
	assert_string_equal(error, "private key /nonexistent/key.pem: No such file or directory");

	/* Not PEM. */
	assert_int_equal(snprintf(path, sizeof(path), "%s/junk.pem", f->dir) > 0, 1);
	write_text(path, "this is not a certificate\n");
	assert_null(tls_server_ctx_new(path, f->key, &error));
	assert_non_null(strstr(error, path));
	assert_non_null(strstr(error, "no PEM data found"));
	assert_null(tls_server_ctx_new(f->cert, path, &error));
	assert_non_null(strstr(error, path));
	assert_non_null(strstr(error, "private key"));

	/* A key from another pair. */
	make_tmpdir(other_dir, sizeof(other_dir));
	assert_int_equal(tls_selfsigned_ensure(other_dir, HOST, &ocert, &okey, &error), 1);
	assert_null(tls_server_ctx_new(f->cert, okey, &error));
	assert_non_null(strstr(error, okey));
	assert_non_null(strstr(error, f->cert));
	assert_non_null(strstr(error, "does not match"));

	/* A key encrypted with a passphrase is refused, without prompting. */
	EVP_PKEY *k = load_key(f->key);
	FILE *fp = fopen(okey, "w");
	assert_non_null(fp);
	assert_int_equal(
	    PEM_write_PKCS8PrivateKey(fp, k, EVP_aes_256_cbc(), "secret", 6, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(k);
	assert_null(tls_server_ctx_new(f->cert, okey, &error));
	assert_non_null(strstr(error, "passphrase"));
	assert_non_null(strstr(error, okey));

	/* Nothing left on OpenSSL's error queue by any of this. */
	assert_int_equal(ERR_peek_error(), 0);
	(void)rm_rf(other_dir);
	free(ocert);
	free(okey);
}

/* ---- handshakes ---- */

static void
test_versions(void **state)
{
	struct fixture *f = *state;
	static const int versions[] = {TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
	char desc[128];

	for (size_t i = 0; i < N_ELEMENTS(versions); i++) {
		struct peer server, client;
		SSL_CTX *cctx = client_ctx(false, NULL);

		/* A client that speaks only this version. TLS 1.1 needs security
		 * level 0 in OpenSSL 3, or the client would not even offer it. */
		assert_int_equal(SSL_CTX_set_min_proto_version(cctx, versions[i]), 1);
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx, versions[i]), 1);
		if (versions[i] == TLS1_1_VERSION)
			assert_int_equal(SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0"), 1);
		peer_init(&server);
		peer_init(&client);
		handshake(f, f->server_ctx, cctx, HOST, &server, &client);
		if (versions[i] == TLS1_1_VERSION) {
			assert_true(server.error);
			assert_false(server.connected);
			assert_non_null(strstr(server.errtext, "unsupported protocol"));
			assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), -1);
			assert_string_equal(desc, "");
		} else {
			assert_true(server.connected && client.connected);
			assert_int_equal(tls_describe(server.bev, desc, sizeof(desc)), 0);
			if (versions[i] == TLS1_2_VERSION) {
				assert_true(strncmp(desc, "TLSv1.2 with cipher ECDHE-ECDSA-", 32) ==
					    0);
			} else {
				assert_true(strncmp(desc, "TLSv1.3 with cipher TLS_", 24) == 0);
			}
		}
		peer_done(&server);
		peer_done(&client);
		settle(f->base);
		SSL_CTX_free(cctx);
	}
}

static void
test_weak_cipher_refused(void **state)
{
	struct fixture *f = *state;
	struct peer server, client;
	SSL_CTX *cctx = client_ctx(false, NULL);

	/* TLS 1.2 with only a suite without forward secrecy. */
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(cctx, "AES128-SHA:AES256-GCM-SHA384"), 1);
	peer_init(&server);
	peer_init(&client);
	handshake(f, f->server_ctx, cctx, HOST, &server, &client);
	assert_true(server.error);
	assert_non_null(strstr(server.errtext, "no shared cipher"));
	peer_done(&server);
	peer_done(&client);
	SSL_CTX_free(cctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_selfsigned_generate_and_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selfsigned_regenerates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selfsigned_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ctx_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ctx_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weak_cipher_refused, setup, teardown),
	};

	/* A peer that vanishes must not kill the process (libevent writes
	 * with write(), not send(MSG_NOSIGNAL)). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
