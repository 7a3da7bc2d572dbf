/* route.c - 'postern route': show where mail for a domain goes, as the
 * queue runner would find it (docs/outbound.md, "DNS routing"). */
#include "lib/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cli/cli.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "smtp/dns.h"

static const char route_usage[] =
    "usage: postern route [--data DIR] [-c FILE] [-o SECTION.KEY=VALUE]... [--no-mx]\n"
    "                     [--timeout SECONDS] DOMAIN\n"
    "\n"
    "Look up where mail for DOMAIN goes: its MX hosts in the order they are tried,\n"
    "with preference and addresses, through the resolvers of dns.resolver (the\n"
    "system's when unset). IPv6 addresses are looked up when delivery.ipv6 is on.\n"
    "DOMAIN may be an address literal ([192.0.2.1], [IPv6:2001:db8::1]). With\n"
    "--no-mx, DOMAIN is a host: its own addresses only, as for a relay host\n"
    "written [host]. Exits 0 when mail can go somewhere, 1 otherwise.\n";

static void
print_host(const struct dns_host *h)
{
	char text[INET6_ADDRSTRLEN];

	printf("  %5u %s ", h->pref, h->name);
	if (h->status != DNS_OK)
		printf(" (%s)", dns_status_name(h->status));
	for (size_t i = 0; i < h->naddrs; i++) {
		const struct sockaddr_storage *sa = &h->addrs[i];
		const void *bin = sa->ss_family == AF_INET6
				      ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				      : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
		if (inet_ntop(sa->ss_family, bin, text, sizeof(text)) != NULL)
			printf(" %s", text);
	}
	putchar('\n');
}

struct route_result {
	const char *domain;
	unsigned flags;
	int exit;
	struct event_base *base;
};

static void
route_done(const struct dns_route *route, void *arg)
{
	struct route_result *res = arg;

	if (route->status == DNS_OK || route->nhosts > 0) {
		const char *kind = "MX";
		if (res->domain[0] == '[')
			kind = "address literal";
		else if ((res->flags & DNS_ROUTE_NO_MX) != 0)
			kind = "host";
		else if (route->implicit_mx)
			kind = "no MX, its own addresses (implicit MX)";
		printf("%s: %s, %s\n", res->domain, kind, dns_status_name(route->status));
		for (size_t i = 0; i < route->nhosts; i++)
			print_host(&route->hosts[i]);
	} else {
		printf("%s: %s\n", res->domain, dns_status_name(route->status));
	}
	if (route->status != DNS_OK)
		printf("  %s\n", route->error);
	res->exit = route->status == DNS_OK ? 0 : 1;
	event_base_loopbreak(res->base);
}

/* Non-ASCII domains are looked up by their A-label form. */
static const char *
route_domain(const char *domain, struct buf *ascii)
{
	const char *error;

	if (addr_is_ascii(domain) || addr_domain_canon(domain, ascii, &error) < 0)
		return domain; /* dns_route() says what is wrong with it */
	return buf_cstr(ascii);
}

static int
route_lookup(const struct cli *cli, const struct config *cfg, const char *domain, unsigned flags,
	     unsigned timeout)
{
	struct route_result res = {domain, flags, 1, event_base_new()};
	struct dns *dns;
	const char *error;
	struct buf ascii;

	if (res.base == NULL) {
		cli_error(cli, "cannot create an event loop");
		return 1;
	}
	if (dns_new(res.base, cfg->dns_resolver, &dns, &error) < 0) {
		cli_error(cli, "dns.resolver: %s", error);
		event_base_free(res.base);
		return 1;
	}
	if (timeout > 0)
		dns_set_timeout(dns, timeout);
	if (cfg->delivery_ipv6)
		flags |= DNS_ROUTE_IPV6;
	buf_init(&ascii, DNS_NAME_MAX * 4);
	dns_route(dns, route_domain(domain, &ascii), flags, route_done, &res);
	event_base_dispatch(res.base);
	dns_free(&dns);
	event_base_free(res.base);
	buf_release(&ascii);
	return res.exit;
}

int
cmd_route(struct cli *cli, int argc, char **argv)
{
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int n = words != NULL ? cli_collect(cli, argc - 1, argv + 1, words) : -1;
	const char *domain = NULL;
	unsigned flags = 0, timeout = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(words[i], "--help") == 0 || strcmp(words[i], "-h") == 0) {
			fputs(route_usage, stdout);
			free(words);
			return 0;
		}
		if (strcmp(words[i], "--no-mx") == 0) {
			flags |= DNS_ROUTE_NO_MX;
		} else if (strcmp(words[i], "--timeout") == 0 && i + 1 < n) {
			char *end;
			unsigned long t = strtoul(words[++i], &end, 10);
			if (*end != '\0' || t == 0 || t > 3600) {
				cli_error(cli, "--timeout: 1 to 3600 seconds");
				n = -1;
			}
			timeout = (unsigned)t;
		} else if (domain == NULL && words[i][0] != '-') {
			domain = words[i];
		} else {
			cli_error(cli, "unexpected argument '%s'", words[i]);
			n = -1;
		}
	}
	if (n >= 0 && domain == NULL) {
		cli_error(cli, "a domain is needed");
		n = -1;
	}
	free(words);
	if (n < 0) {
		fputs(route_usage, stderr);
		return EXIT_USAGE;
	}
	struct config *cfg = cli_config(cli);
	if (cfg == NULL)
		return 1;
	int ret = route_lookup(cli, cfg, domain, flags, timeout);
	config_free(&cfg);
	return ret;
}
