/* test_config.c - configuration values, the INI parser and derived defaults. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/config.h"

static void
test_listen_lists(void **state)
{
	struct listen_addr *a;
	size_t n;
	const char *error;

	assert_int_equal(config_parse_listen("127.0.0.1:25, [::1]:587 *:2525", &a, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_string_equal(a[0].host, "127.0.0.1");
	assert_int_equal(a[0].port, 25);
	assert_string_equal(a[1].host, "::1");
	assert_int_equal(a[1].port, 587);
	assert_string_equal(a[2].host, "*");
	free(a);
	assert_int_equal(config_parse_listen("", &a, &n, &error), 0);
	assert_int_equal(n, 0);
	free(a);

	static const char *const bad[] = {
		"localhost:25", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:25",
		"[::1]25", "[::1:25", "[127.0.0.1]:25", "1.2.3.4:2x", "[]:25", ":25",
		"127.0.0.1:99999999999999999999",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		if (config_parse_listen(bad[i], &a, &n, &error) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void
test_values(void **state)
{
	struct config *cfg = config_new();
	const char *error;

	assert_int_equal(config_set(cfg, "server.grace", "90", &error), 0);
	assert_int_equal(cfg->grace, 90);
	assert_int_equal(config_set(cfg, "server.grace", "2m", &error), 0);
	assert_int_equal(cfg->grace, 120);
	assert_int_equal(config_set(cfg, "server.grace", "1d", &error), 0);
	assert_int_equal(cfg->grace, 86400);
	assert_int_equal(config_set(cfg, "server.grace", "50000d", &error), -1);
	assert_non_null(strstr(error, "server.grace"));
	assert_int_equal(config_set(cfg, "server.grace", "-1", &error), -1);
	assert_int_equal(config_set(cfg, "log.syslog", "On", &error), 0);
	assert_true(cfg->log_syslog);
	assert_int_equal(config_set(cfg, "log.syslog", "maybe", &error), -1);
	assert_int_equal(config_set(cfg, "imap.max_per_ip", "4294967295", &error), 0);
	assert_int_equal(cfg->svc[SVC_IMAP].max_per_ip, 4294967295U);
	assert_int_equal(config_set(cfg, "imap.max_per_ip", "4294967296", &error), -1);
	assert_int_equal(config_set(cfg, "imapx.listen", "", &error), -1);
	assert_string_equal(error, "unknown key 'imapx.listen'");
	assert_int_equal(config_set(cfg, "server", "x", &error), -1);
	assert_int_equal(config_set_override(cfg, "server.hostname = mx.example.test", &error), 0);
	assert_string_equal(cfg->hostname, "mx.example.test");
	config_free(&cfg);
	assert_null(cfg);
}

static void
test_buffer_parser(void **state)
{
	struct config *cfg = config_new();
	const char *error;
	static const char text[] = "; comment\n  [ server ]  \r\n hostname=a.example\n"
				   "\n# x\n[pop3]\nlisten=127.0.0.1:110\n[pop3s]\nlisten =";

	assert_int_equal(config_load_buffer(cfg, "t", text, sizeof(text) - 1, &error), 0);
	assert_string_equal(cfg->hostname, "a.example");
	assert_int_equal(cfg->svc[SVC_POP3].listen_count, 1);
	assert_true(cfg->svc[SVC_POP3S].listen_set);
	assert_int_equal(cfg->svc[SVC_POP3S].listen_count, 0);
	/* A NUL byte is an error, not a silent end of line. */
	assert_int_equal(config_load_buffer(cfg, "t", "[log]\nlevel = info\0x\n", 21, &error), -1);
	assert_string_equal(error, "t:2: NUL byte");
	config_free(&cfg);
}

static void
test_finish_defaults(void **state)
{
	struct config *cfg = config_new();
	const char *error;

	assert_int_equal(config_finish(cfg, 1000, &error), 0);
	assert_int_equal(cfg->svc[SVC_SMTP].listen[0].port, 2525);
	assert_int_equal(cfg->svc[SVC_HTTPS].listen[0].port, 8443);
	assert_non_null(cfg->hostname);
	config_free(&cfg);

	cfg = config_new();
	assert_int_equal(config_set(cfg, "imap.listen", "127.0.0.1:9", &error), 0);
	assert_int_equal(config_finish(cfg, 0, &error), 0);
	assert_int_equal(cfg->svc[SVC_SMTP].listen[0].port, 25);
	assert_int_equal(cfg->svc[SVC_IMAP].listen[0].port, 9);
	config_free(&cfg);

	cfg = config_new();
	assert_int_equal(config_set(cfg, "server.hostname", "bad host", &error), 0);
	assert_int_equal(config_finish(cfg, 0, &error), -1);
	assert_non_null(strstr(error, "server.hostname"));
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_lists),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_buffer_parser),
		cmocka_unit_test(test_finish_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
