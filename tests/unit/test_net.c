/* test_net.c - numeric addresses and address blocks (lib/net.c, the pure
 * parts): IPv4, IPv6, IPv4-mapped IPv6 folded to IPv4, and what is no
 * address. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include <sys/socket.h>

#include "lib/net.h"

static void
test_ip_parse(void **state)
{
	uint8_t a[16];

	assert_int_equal(net_ip_parse("192.0.2.7", a), AF_INET);
	assert_memory_equal(a, "\xc0\x00\x02\x07", 4);
	assert_int_equal(net_ip_parse("::ffff:192.0.2.7", a), AF_INET);
	assert_memory_equal(a, "\xc0\x00\x02\x07", 4);
	assert_int_equal(net_ip_parse("2001:db8::1", a), AF_INET6);
	assert_memory_equal(a, "\x20\x01\x0d\xb8", 4);
	assert_int_equal(a[15], 1);
	assert_int_equal(net_ip_parse("::1", a), AF_INET6);
	static const char *const bad[] = {"",	       "unknown",   "1.2.3", "1.2.3.4.5",
					  "256.1.1.1", "1.2.3.4/8", "[::1]", "::1%lo",
					  " 1.2.3.4",  "::g"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		assert_int_equal(net_ip_parse(bad[i], a), 0);
}

static void
test_cidr_match(void **state)
{
	struct net_cidr *list;
	size_t n;
	const char *error;

	assert_int_equal(
	    net_cidr_parse_list("127.0.0.0/8, 2001:db8::/32 192.0.2.1", &list, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_true(net_cidr_match(list, n, "127.1.2.3"));
	assert_true(net_cidr_match(list, n, "::ffff:127.0.0.1")); /* mapped: IPv4 */
	assert_true(net_cidr_match(list, n, "2001:db8:ffff::1"));
	assert_true(net_cidr_match(list, n, "192.0.2.1"));
	assert_false(net_cidr_match(list, n, "192.0.2.2"));
	assert_false(net_cidr_match(list, n, "2001:db9::1"));
	assert_false(net_cidr_match(list, n, "not an address"));
	free(list);
	struct net_cidr c;
	assert_int_equal(net_cidr_parse("10.0.0.1/8", &c), -1); /* host bits set */
	assert_int_equal(net_cidr_parse("10.0.0.0/33", &c), -1);
	assert_int_equal(net_cidr_parse("::/0", &c), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ip_parse),
	    cmocka_unit_test(test_cidr_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
