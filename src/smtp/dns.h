/* dns.h - where mail for a domain goes: asynchronous MX and address lookups
 * with libunbound on the caller's libevent loop (RFC 5321 5.1).
 *
 * One struct dns per process (the queue runner), bound to its event_base.
 * A lookup never blocks: dns_route() returns at once and calls its callback
 * later from the event loop (never from inside dns_route()), exactly once,
 * unless the query is cancelled first.
 *
 * Routing a domain (dns_route):
 * - "[192.0.2.1]" / "[IPv6:2001:db8::1]" (an address literal): that address,
 *   no lookup; one host named as written, whatever DNS_ROUTE_IPV6 says.
 * - MX records: hosts ordered by preference, shuffled among equal
 *   preferences (RFC 5321 5.1), duplicates dropped; each host's AAAA and A
 *   records looked up (AAAA only when IPv6 is wanted), all in parallel.
 *   Malformed MX records are skipped (none usable: DNS_TEMPFAIL); only the
 *   first 256 records of an answer are read.
 * - A single MX record "0 ." is a null MX (RFC 7505): DNS_NULL_MX, the
 *   domain accepts no mail (bounce at once, 556 5.1.10); so is any MX set
 *   whose only target is ".". An MX set mixing "." with other hosts ignores
 *   the "." entry.
 * - No MX records (NOERROR without data): the domain itself is the only
 *   host, preference 0 (the implicit MX), from its AAAA and A records.
 * - NXDOMAIN: DNS_NXDOMAIN (permanent).
 * - CNAMEs are followed (libunbound does it); an MX target that is itself
 *   a CNAME is accepted and resolved.
 * - SERVFAIL, time-outs, network errors: DNS_TEMPFAIL (retry later).
 * - DNS_ROUTE_NO_MX (a relay host written "[host]"): no MX lookup, the name's
 *   own addresses only.
 * Host address results: a host whose lookups failed temporarily has
 * status DNS_TEMPFAIL and no addresses; one with no address record,
 * DNS_NO_ADDRESS. The route is DNS_OK when at least one host has an
 * address; else DNS_TEMPFAIL when any lookup failed temporarily; else
 * DNS_NO_ADDRESS (permanent). Addresses keep the port 0: the caller sets it.
 * When the time limit strikes during the address lookups, the hosts still
 * waiting are DNS_TEMPFAIL and the route is settled with what came.
 *
 * Resolvers: NULL or "" uses the system's (/etc/resolv.conf and
 * /etc/hosts; without a readable resolv.conf, recursion from the root
 * servers, with a warning logged); else a comma-separated list of "IP" or "IP@PORT" (IPv4 or
 * IPv6) queried as forwarders (libunbound's ub_ctx_set_fwd), e.g.
 * "127.0.0.1@5353" for tests. Resolvers on loopback are allowed, and names
 * under "test." (RFC 6761), which libunbound would answer itself, go to
 * the resolvers like any other. Every lookup has an overall time limit
 * (DNS_TIMEOUT seconds) after which it is DNS_TEMPFAIL.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include "lib/common.h"

#include <event2/event.h>
#include <sys/socket.h>

#define DNS_TIMEOUT 60	    /* seconds for a whole route lookup */
#define DNS_MX_MAX 32	    /* MX hosts kept (lowest preferences) */
#define DNS_ADDRS_MAX 16    /* addresses kept per host */
#define DNS_NAME_MAX 255    /* a host name, without the trailing dot */

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,	/* the domain does not exist */
	DNS_NULL_MX,	/* the domain says it takes no mail (RFC 7505) */
	DNS_NO_ADDRESS, /* the domain or host exists, but has no usable address */
	DNS_TEMPFAIL,	/* try again later */
	DNS_INVALID,	/* not a valid domain name or address literal */
};

/* "OK", "domain not found", "null MX", ... for logs. */
const char *dns_status_name(enum dns_status status);

struct dns_host {
	char name[DNS_NAME_MAX + 1]; /* MX target (no trailing dot), or the domain itself */
	unsigned pref;
	enum dns_status status; /* DNS_OK when naddrs > 0 */
	size_t naddrs;
	struct sockaddr_storage addrs[DNS_ADDRS_MAX]; /* IPv6 first, then IPv4; port 0 */
};

struct dns_route {
	enum dns_status status;
	/* Why, for logs and bounces, when status is not DNS_OK:
	 * "Host or domain name not found. Name service error for
	 * name=example.net type=MX: Host not found" and the like. */
	char error[256];
	bool implicit_mx; /* no MX records: the domain's own addresses */
	bool secure;	  /* the MX answer was DNSSEC-validated */
	size_t nhosts;
	struct dns_host *hosts; /* in the order to try them */
};

struct dns;
struct dns_query;

/* resolvers: see above. Returns -1 with *error_r (static or per-thread
 * text) when libunbound cannot be set up or a resolver address is bad. */
int dns_new(struct event_base *base, const char *resolvers, struct dns **dns_r,
	    const char **error_r);
/* Validate answers with DNSSEC from the root trust anchor in file (an
 * RFC 5011 auto-updated key file such as Debian's /usr/share/dns/root.key
 * copied where the process may write it). Before the first lookup.
 * Validated MX answers set route->secure; bogus answers are DNS_TEMPFAIL. */
int dns_set_trust_anchor(struct dns *dns, const char *file, const char **error_r);
/* Cancels every query in flight (their callbacks are not called). */
void dns_free(struct dns **dns);
/* The time limit of routes started from now on (default DNS_TIMEOUT; 0
 * counts as 1), for tests and the command line. */
void dns_set_timeout(struct dns *dns, unsigned seconds);

#define DNS_ROUTE_IPV6 0x1u  /* look up AAAA records too */
#define DNS_ROUTE_NO_MX 0x2u /* the name is a host: no MX lookup */

/* route (and everything it points to) is valid during the call only. The
 * callback may start and cancel other queries, and call dns_free(). */
typedef void dns_route_cb(const struct dns_route *route, void *arg);

/* Look up domain (ASCII or an A-label; a trailing dot is allowed) as
 * described above. Returns a handle for dns_cancel(), valid until the
 * callback has been called. Never NULL: an invalid domain is reported
 * through the callback (DNS_INVALID), later, like every other result. */
struct dns_query *dns_route(struct dns *dns, const char *domain, unsigned flags, dns_route_cb *cb,
			    void *arg);
/* The callback will not be called. */
void dns_cancel(struct dns_query *q);

/* ---- pure parts, for tests and fuzzing ---- */

/* Parse the rdata of one MX record (wire format: 16-bit preference, then
 * an uncompressed domain name as libunbound returns it) into *pref_r and
 * name (no trailing dot; "" for the root, i.e. a null MX), lower-cased.
 * Returns -1 on malformed data (truncated, label too long, name too long,
 * characters outside letters, digits, '-' and '_'). */
int dns_mx_parse(const unsigned char *rdata, size_t len, unsigned *pref_r,
		 char name[DNS_NAME_MAX + 1]);

/* Sort hosts[0..n) by preference, in place, and shuffle each run of equal
 * preference with random() (NULL: keep their order); drop later duplicates
 * of a name. Returns the new count. Quadratic in n: the caller bounds it. */
size_t dns_mx_order(struct dns_host *hosts, size_t n, uint32_t (*random)(void *), void *arg);

#endif
