/* dns.c - MX routing with libunbound on the caller's event loop (dns.h).
 *
 * libunbound runs in its asynchronous threaded mode: ub_ctx_async(ctx, 1)
 * makes it start exactly one background thread, at the first query, which
 * does the network work; its answers come back through a pipe, ub_fd(),
 * that an event on the caller's event_base watches and drains with
 * ub_process(). The thread starts with every signal blocked, so that the
 * process's signal handling stays on the loop's thread, and ub_ctx_delete()
 * stops and joins it. No process is forked.
 *
 * A route is one dns_query: first the MX lookup (unless DNS_ROUTE_NO_MX),
 * then AAAA and A lookups of every host, all at once. Each libunbound query
 * in flight is one dns_lookup on its query's list. The callback is never
 * called from a libunbound callback: the query's "done" event is activated
 * instead, so that the caller may do anything (dns_free included) in it.
 */
#include "lib/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <unbound.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/xalloc.h"
#include "smtp/dns.h"

#define RR_A 1
#define RR_MX 15
#define RR_AAAA 28
#define RR_CLASS_IN 1
#define RCODE_NXDOMAIN 3

/* MX records read from one answer, before the lowest DNS_MX_MAX are kept
 * (an answer fits in 64 KiB, so this only bounds the work of hostile ones). */
#define DNS_MX_READ_MAX 256

#define HOST_NONE SIZE_MAX /* dns_lookup.host of the MX lookup */

struct dns {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ub_event; /* ub_fd() readable */
	unsigned timeout;	/* seconds per route */
	bool thread_started;
	struct dns_query *queries;  /* every query not yet called back */
	struct dns_lookup *orphans; /* cancelled, but libunbound would not cancel them */
};

struct dns_lookup {
	struct dns *dns;
	struct dns_query *q; /* NULL for an orphan */
	struct dns_lookup *next;
	int id; /* libunbound's async_id */
	int rrtype;
	size_t host; /* index in q->hosts, or HOST_NONE */
};

struct host_state {
	bool tempfail; /* a lookup failed temporarily */
	bool nxdomain; /* the name does not exist */
};

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	dns_route_cb *cb;
	void *arg;
	unsigned flags;
	bool finished; /* route is final, the done event is active */
	char name[DNS_NAME_MAX + 1];
	struct dns_route route;
	struct host_state *hstate;  /* per route.hosts entry */
	struct dns_lookup *lookups; /* in flight */
	struct event *timer;
	struct event *done;
};

static __thread char dns_error_buf[256];

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK:
		return "OK";
	case DNS_NXDOMAIN:
		return "domain not found";
	case DNS_NULL_MX:
		return "null MX";
	case DNS_NO_ADDRESS:
		return "no address";
	case DNS_TEMPFAIL:
		return "temporary failure";
	case DNS_INVALID:
		return "invalid name";
	}
	return "unknown";
}

/* ---- pure parts ---- */

static bool
dns_name_char(unsigned char c)
{
	return ascii_is_letdig(c) || c == '-' || c == '_';
}

int
dns_mx_parse(const unsigned char *rdata, size_t len, unsigned *pref_r, char name[DNS_NAME_MAX + 1])
{
	size_t pos = 2, out = 0;

	if (len < 3)
		return -1;
	*pref_r = (unsigned)rdata[0] << 8 | rdata[1];
	for (;;) {
		size_t label = rdata[pos++];
		if (label == 0)
			break;
		if (label > 63) /* 0xc0 and up: a compression pointer */
			return -1;
		/* the wire form of a name is at most 255 octets */
		if (label > len - pos || pos - 2 + label + 1 > 255)
			return -1;
		if (out > 0)
			name[out++] = '.';
		for (size_t i = 0; i < label; i++) {
			unsigned char c = rdata[pos + i];
			if (!dns_name_char(c))
				return -1;
			name[out++] = (char)ascii_tolower(c);
		}
		pos += label;
		if (pos >= len)
			return -1; /* no terminating root label */
	}
	if (pos != len)
		return -1;
	name[out] = '\0';
	return 0;
}

struct mx_slot {
	unsigned pref;
	size_t index; /* in the input */
};

static int
mx_slot_cmp(const void *a, const void *b)
{
	const struct mx_slot *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

size_t
dns_mx_order(struct dns_host *hosts, size_t n, uint32_t (*random)(void *), void *arg)
{
	if (n < 2)
		return n;
	struct mx_slot *slots = xcalloc(n, sizeof(*slots));
	for (size_t i = 0; i < n; i++)
		slots[i] = (struct mx_slot){hosts[i].pref, i};
	qsort(slots, n, sizeof(*slots), mx_slot_cmp);
	for (size_t start = 0, end; random != NULL && start < n; start = end) {
		for (end = start + 1; end < n && slots[end].pref == slots[start].pref; end++)
			;
		for (size_t i = end - start; i > 1; i--) { /* Fisher-Yates */
			size_t j = random(arg) % i;
			struct mx_slot t = slots[start + i - 1];
			slots[start + i - 1] = slots[start + j];
			slots[start + j] = t;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t k = 0; k < kept && !dup; k++)
			dup = strcmp(hosts[slots[k].index].name, hosts[slots[i].index].name) == 0;
		if (!dup)
			slots[kept++] = slots[i];
	}
	struct dns_host *sorted = xcalloc(kept, sizeof(*sorted));
	for (size_t i = 0; i < kept; i++)
		sorted[i] = hosts[slots[i].index];
	memcpy(hosts, sorted, kept * sizeof(*hosts));
	free(sorted);
	free(slots);
	return kept;
}

/* domain without its trailing dot, lower-cased, into name; -1 when it is
 * not a syntactically valid host or domain name. */
static int
dns_name_canon(const char *domain, char name[DNS_NAME_MAX + 1])
{
	size_t len = strlen(domain), label = 0;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (!dns_name_char(c) || ++label > 63) {
			return -1;
		}
		name[i] = (char)ascii_tolower(c);
	}
	if (label == 0)
		return -1;
	name[len] = '\0';
	return 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" into *sa: 1; 0 when domain is no
 * address literal; -1 when it is a malformed one. */
static int
dns_address_literal(const char *domain, struct sockaddr_storage *sa)
{
	size_t len = strlen(domain);
	char inner[64];

	if (len == 0 || domain[0] != '[')
		return 0;
	if (domain[len - 1] != ']' || len - 2 >= sizeof(inner))
		return -1;
	memcpy(inner, domain + 1, len - 2);
	inner[len - 2] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (ascii_ci_equal(inner, MIN(len - 2, 5), "IPv6:")) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
		sin6->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, inner + 5, &sin6->sin6_addr) == 1 ? 1 : -1;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	sin->sin_family = AF_INET;
	return inet_pton(AF_INET, inner, &sin->sin_addr) == 1 ? 1 : -1;
}

/* ---- setting up ---- */

static void dns_ub_ready(evutil_socket_t fd, short what, void *arg);

/* Check one "IP" or "IP@PORT" and hand it to libunbound. */
static int
dns_add_forwarder(struct ub_ctx *ub, const char *spec, size_t len, const char **error_r)
{
	char entry[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *at;
	int r;

	if (len == 0 || len >= sizeof(entry))
		goto bad;
	memcpy(entry, spec, len);
	entry[len] = '\0';
	at = strchr(entry, '@');
	size_t alen = at != NULL ? (size_t)(at - entry) : len;
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, entry, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
		goto bad;
	if (at != NULL) {
		unsigned long port = 0;
		const char *p = at + 1;
		if (*p == '\0')
			goto bad;
		for (; *p != '\0'; p++) {
			if (!ascii_is_digit((unsigned char)*p) ||
			    (port = port * 10 + (unsigned)(*p - '0')) > 65535)
				goto bad;
		}
		if (port == 0)
			goto bad;
	}
	if ((r = ub_ctx_set_fwd(ub, entry)) != 0) {
		snprintf(dns_error_buf, sizeof(dns_error_buf), "resolver '%s': %s", entry,
			 ub_strerror(r));
		*error_r = dns_error_buf;
		return -1;
	}
	return 0;
bad:
	snprintf(dns_error_buf, sizeof(dns_error_buf),
		 "bad resolver address '%.*s' (IP or IP@PORT expected)", (int)MIN(len, 64), spec);
	*error_r = dns_error_buf;
	return -1;
}

static int
dns_setup(struct ub_ctx *ub, const char *resolvers, const char **error_r)
{
	static const char *const options[][2] = {
	    /* no trust anchor: no validation; the iterator alone */
	    {"module-config:", "iterator"},
	    /* resolvers on loopback (127.0.0.53, tests) are allowed */
	    {"do-not-query-localhost:", "no"},
	    {"use-syslog:", "no"},
	    /* libunbound answers "test." (RFC 6761) itself by default, as an
	     * empty zone: pass it on to the resolvers, as test setups need */
	    {"local-zone:", "test. transparent"},
	};
	int r;

	if ((r = ub_ctx_async(ub, 1)) != 0)
		goto ub_error;
	for (size_t i = 0; i < N_ELEMENTS(options); i++)
		if ((r = ub_ctx_set_option(ub, options[i][0], options[i][1])) != 0)
			goto ub_error;
	if (resolvers == NULL || resolvers[0] == '\0') {
		/* without them, libunbound resolves from the root servers */
		if ((r = ub_ctx_resolvconf(ub, NULL)) != 0)
			log_warning("dns: /etc/resolv.conf: %s; resolving without forwarders",
				    ub_strerror(r));
		if ((r = ub_ctx_hosts(ub, NULL)) != 0)
			log_warning("dns: /etc/hosts: %s", ub_strerror(r));
		return 0;
	}
	for (const char *p = resolvers;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, ",");
		size_t t = n;
		while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
			t--;
		if (dns_add_forwarder(ub, p, t, error_r) < 0)
			return -1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
ub_error:
	snprintf(dns_error_buf, sizeof(dns_error_buf), "libunbound: %s", ub_strerror(r));
	*error_r = dns_error_buf;
	return -1;
}

int
dns_new(struct event_base *base, const char *resolvers, struct dns **dns_r, const char **error_r)
{
	struct ub_ctx *ub = ub_ctx_create();

	if (ub == NULL) {
		*error_r = "libunbound: cannot create a context";
		return -1;
	}
	if (dns_setup(ub, resolvers, error_r) < 0) {
		ub_ctx_delete(ub);
		return -1;
	}
	struct dns *dns = xcalloc(1, sizeof(*dns));
	dns->base = base;
	dns->ub = ub;
	dns->timeout = DNS_TIMEOUT;
	dns->ub_event = event_new(base, ub_fd(ub), EV_READ | EV_PERSIST, dns_ub_ready, dns);
	if (dns->ub_event == NULL || event_add(dns->ub_event, NULL) < 0)
		fatal("dns: cannot watch libunbound's descriptor");
	*dns_r = dns;
	return 0;
}

int
dns_set_trust_anchor(struct dns *dns, const char *file, const char **error_r)
{
	int r;

	if ((r = ub_ctx_set_option(dns->ub, "module-config:", "validator iterator")) != 0 ||
	    (r = ub_ctx_add_ta_autr(dns->ub, file)) != 0) {
		snprintf(dns_error_buf, sizeof(dns_error_buf), "trust anchor %s: libunbound: %s",
			 file, ub_strerror(r));
		*error_r = dns_error_buf;
		return -1;
	}
	return 0;
}

void
dns_set_timeout(struct dns *dns, unsigned seconds)
{
	dns->timeout = seconds > 0 ? seconds : 1;
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;

	if (dns == NULL)
		return;
	while (dns->queries != NULL)
		dns_cancel(dns->queries);
	event_free(dns->ub_event);
	ub_ctx_delete(dns->ub); /* stops and joins the background thread */
	while (dns->orphans != NULL) {
		struct dns_lookup *l = dns->orphans;
		dns->orphans = l->next;
		free(l);
	}
	free(dns);
	*dnsp = NULL;
}

static void
dns_ub_ready(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	int r = ub_process(dns->ub);

	if (r != 0)
		log_error("dns: libunbound: %s", ub_strerror(r));
}

/* ---- lookups ---- */

static const char *
rr_name(int rrtype)
{
	return rrtype == RR_MX ? "MX" : rrtype == RR_AAAA ? "AAAA" : "A";
}

static const char *
lookup_name(const struct dns_query *q, const struct dns_lookup *l)
{
	return l->host == HOST_NONE ? q->name : q->route.hosts[l->host].name;
}

static void dns_lookup_done(void *arg, int err, struct ub_result *result);

/* Start one libunbound query; -1 (nothing started) on failure. */
static int
dns_lookup_start(struct dns_query *q, size_t host, int rrtype)
{
	struct dns *dns = q->dns;
	struct dns_lookup *l = xcalloc(1, sizeof(*l));
	sigset_t all, old;
	int r;

	l->dns = dns;
	l->q = q;
	l->host = host;
	l->rrtype = rrtype;
	if (!dns->thread_started) {
		/* the background thread inherits this mask */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	r = ub_resolve_async(dns->ub, lookup_name(q, l), rrtype, RR_CLASS_IN, l, dns_lookup_done,
			     &l->id);
	if (!dns->thread_started) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		dns->thread_started = r == 0;
	}
	if (r != 0) {
		log_error("dns: %s %s: libunbound: %s", lookup_name(q, l), rr_name(rrtype),
			  ub_strerror(r));
		free(l);
		return -1;
	}
	l->next = q->lookups;
	q->lookups = l;
	return 0;
}

static void
dns_lookup_unlink(struct dns_lookup **list, struct dns_lookup *l)
{
	for (struct dns_lookup **p = list; *p != NULL; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			return;
		}
	}
	panic("dns: lookup not on its list");
}

/* The callback will not come: free l, or keep it as an orphan until its
 * answer arrives when libunbound could not cancel it. */
static void
dns_lookup_cancel(struct dns_lookup *l)
{
	struct dns *dns = l->dns;

	if (ub_cancel(dns->ub, l->id) == 0) {
		free(l);
		return;
	}
	l->q = NULL;
	l->next = dns->orphans;
	dns->orphans = l;
}

static void ATTR_PRINTF(2, 3) route_error(struct dns_query *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->route.error, sizeof(q->route.error), fmt, ap);
	va_end(ap);
}

static void
route_lookup_error(struct dns_query *q, const char *name, int rrtype, const char *why)
{
	route_error(q, "Host or domain name not found. Name service error for name=%s type=%s: %s",
		    name, rr_name(rrtype), why);
}

/* The route is final: stop everything and call back from the loop. */
static void
dns_query_finish(struct dns_query *q, enum dns_status status)
{
	q->route.status = status;
	if (status == DNS_OK)
		q->route.error[0] = '\0';
	q->finished = true;
	evtimer_del(q->timer);
	while (q->lookups != NULL) {
		struct dns_lookup *l = q->lookups;
		q->lookups = l->next;
		dns_lookup_cancel(l);
	}
	event_active(q->done, 0, 0);
}

/* Is the address of sa among the first n addresses of h? */
static bool
host_has(const struct dns_host *h, size_t n, const struct sockaddr_storage *sa)
{
	uint8_t x[16], y[16];
	size_t len = net_addr_bytes((const struct sockaddr *)sa, x);

	for (size_t i = 0; i < n; i++)
		if (net_addr_bytes((const struct sockaddr *)&h->addrs[i], y) == len &&
		    memcmp(x, y, len) == 0)
			return true;
	return false;
}

/* Drop from each host the addresses an earlier host (or itself, earlier)
 * has: many MX names leading to one address are tried at it once. */
static void
dns_hosts_dedup(struct dns_route *route)
{
	for (size_t i = 0; i < route->nhosts; i++) {
		struct dns_host *h = &route->hosts[i];
		size_t kept = 0;
		for (size_t a = 0; a < h->naddrs; a++) {
			bool seen = host_has(h, kept, &h->addrs[a]);
			for (size_t j = 0; j < i && !seen; j++)
				seen = host_has(&route->hosts[j], route->hosts[j].naddrs, &h->addrs[a]);
			if (!seen)
				h->addrs[kept++] = h->addrs[a];
		}
		h->naddrs = kept;
	}
}

/* All hosts are done (or out of time): settle their statuses, then the
 * route's: OK with any address, else a temporary failure before a
 * permanent one. The error text names the first host that failed. */
static void
dns_hosts_finish(struct dns_query *q)
{
	struct dns_route *route = &q->route;
	size_t temp = SIZE_MAX, none = SIZE_MAX;
	bool ok = false;

	dns_hosts_dedup(route);
	for (size_t i = 0; i < route->nhosts; i++) {
		struct dns_host *h = &route->hosts[i];
		if (h->naddrs > 0) {
			h->status = DNS_OK;
			ok = true;
		} else if (q->hstate[i].tempfail) {
			h->status = DNS_TEMPFAIL;
			temp = MIN(temp, i);
		} else {
			h->status = DNS_NO_ADDRESS;
			none = MIN(none, i);
		}
	}
	if (ok) {
		dns_query_finish(q, DNS_OK);
	} else if (temp != SIZE_MAX) {
		route_lookup_error(q, route->hosts[temp].name, RR_A, "Host not found, try again");
		dns_query_finish(q, DNS_TEMPFAIL);
	} else {
		route_lookup_error(q, route->hosts[none].name, RR_A,
				   q->hstate[none].nxdomain
				       ? "Host not found"
				       : "Host found but no data record of requested type");
		dns_query_finish(q, DNS_NO_ADDRESS);
	}
}

/* Look up the addresses of route.hosts[0..nhosts), all at once. */
static void
dns_hosts_start(struct dns_query *q)
{
	struct dns_route *route = &q->route;

	q->hstate = xcalloc(route->nhosts, sizeof(*q->hstate));
	for (size_t i = 0; i < route->nhosts; i++) {
		route->hosts[i].status = DNS_TEMPFAIL;
		if ((q->flags & DNS_ROUTE_IPV6) != 0 && dns_lookup_start(q, i, RR_AAAA) < 0)
			q->hstate[i].tempfail = true;
		if (dns_lookup_start(q, i, RR_A) < 0)
			q->hstate[i].tempfail = true;
	}
	if (q->lookups == NULL)
		dns_hosts_finish(q);
}

static void
dns_hosts_single(struct dns_query *q, const char *name)
{
	q->route.hosts = xcalloc(1, sizeof(*q->route.hosts));
	q->route.nhosts = 1;
	memcpy(q->route.hosts[0].name, name, strlen(name) + 1);
	dns_hosts_start(q);
}

/* Add an answer's addresses to a host: IPv6 ones before IPv4 ones. */
static void
dns_host_add(struct dns_host *h, const struct ub_result *res)
{
	bool v6 = res->qtype == RR_AAAA;
	size_t alen = v6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);
	struct sockaddr_storage found[DNS_ADDRS_MAX];
	size_t n = 0;

	for (size_t i = 0; res->data[i] != NULL && n < DNS_ADDRS_MAX; i++) {
		if ((size_t)res->len[i] != alen)
			continue;
		struct sockaddr_storage *sa = &found[n++];
		memset(sa, 0, sizeof(*sa));
		if (v6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, res->data[i], alen);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)sa;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, res->data[i], alen);
		}
	}
	if (v6) {
		size_t keep = MIN(h->naddrs, DNS_ADDRS_MAX - n);
		memmove(h->addrs + n, h->addrs, keep * sizeof(*h->addrs));
		memcpy(h->addrs, found, n * sizeof(*h->addrs));
		h->naddrs = n + keep;
	} else {
		size_t add = MIN(n, DNS_ADDRS_MAX - h->naddrs);
		memcpy(h->addrs + h->naddrs, found, add * sizeof(*h->addrs));
		h->naddrs += add;
	}
}

static void
dns_address_answer(struct dns_query *q, size_t host, int err, const struct ub_result *res)
{
	struct host_state *hs = &q->hstate[host];

	if (err != 0 || res->bogus || (res->rcode != 0 && res->rcode != RCODE_NXDOMAIN))
		hs->tempfail = true;
	else if (res->nxdomain || res->rcode == RCODE_NXDOMAIN)
		hs->nxdomain = true;
	else if (res->havedata)
		dns_host_add(&q->route.hosts[host], res);
	if (q->lookups == NULL)
		dns_hosts_finish(q);
}

static uint32_t
dns_random(void *arg)
{
	return arc4random();
}

static void
dns_mx_answer(struct dns_query *q, const struct ub_result *res)
{
	struct dns_route *route = &q->route;
	size_t n = 0, roots = 0, bad = 0;

	route->secure = res->secure != 0;
	if (!res->havedata) {
		route->implicit_mx = true;
		dns_hosts_single(q, q->name);
		return;
	}
	size_t count = 0;
	while (res->data[count] != NULL && count < DNS_MX_READ_MAX)
		count++;
	route->hosts = xcalloc(count, sizeof(*route->hosts));
	for (size_t i = 0; i < count; i++) {
		struct dns_host *h = &route->hosts[n];
		if (dns_mx_parse((const unsigned char *)res->data[i], (size_t)res->len[i], &h->pref,
				 h->name) < 0)
			bad++;
		else if (h->name[0] == '\0')
			roots++;
		else
			n++;
	}
	if (n == 0) {
		if (roots > 0 && bad == 0) {
			route_error(q, "Domain %s does not accept mail (nullMX)", q->name);
			dns_query_finish(q, DNS_NULL_MX);
		} else {
			route_lookup_error(q, q->name, RR_MX, "malformed MX record, try again");
			dns_query_finish(q, DNS_TEMPFAIL);
		}
		return;
	}
	n = dns_mx_order(route->hosts, n, dns_random, NULL);
	route->nhosts = MIN(n, DNS_MX_MAX);
	dns_hosts_start(q);
}

/* libunbound's callback, from ub_process() on the loop. */
static void
dns_lookup_done(void *arg, int err, struct ub_result *result)
{
	struct dns_lookup *l = arg;
	struct dns_query *q = l->q;
	static const struct ub_result none = {0};
	const struct ub_result *res = result != NULL ? result : &none;

	if (q == NULL) {
		dns_lookup_unlink(&l->dns->orphans, l);
	} else {
		dns_lookup_unlink(&q->lookups, l);
		if (err != 0)
			log_info("dns: %s %s: libunbound: %s", lookup_name(q, l),
				 rr_name(l->rrtype), ub_strerror(err));
		if (l->host != HOST_NONE) {
			dns_address_answer(q, l->host, err, res);
		} else if (err != 0 || res->bogus ||
			   (res->rcode != 0 && res->rcode != RCODE_NXDOMAIN)) {
			route_lookup_error(q, q->name, RR_MX, "Host not found, try again");
			dns_query_finish(q, DNS_TEMPFAIL);
		} else if (res->nxdomain || res->rcode == RCODE_NXDOMAIN) {
			route_lookup_error(q, q->name, RR_MX, "Host not found");
			dns_query_finish(q, DNS_NXDOMAIN);
		} else {
			dns_mx_answer(q, res);
		}
	}
	free(l);
	if (result != NULL)
		ub_resolve_free(result);
}

/* ---- routes ---- */

static void
dns_query_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_lookup *l = q->lookups;

	if (l != NULL && l->host != HOST_NONE) {
		/* address lookups: keep the hosts found so far */
		for (; l != NULL; l = l->next)
			q->hstate[l->host].tempfail = true;
		dns_hosts_finish(q);
		return;
	}
	route_error(q,
		    "Host or domain name not found. Name service error for name=%s type=MX: "
		    "Host not found, try again (no answer within %u seconds)",
		    q->name, q->dns->timeout);
	dns_query_finish(q, DNS_TEMPFAIL);
}

static void
dns_query_unlink(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

static void
dns_query_free(struct dns_query *q)
{
	while (q->lookups != NULL) {
		struct dns_lookup *l = q->lookups;
		q->lookups = l->next;
		dns_lookup_cancel(l);
	}
	event_free(q->timer);
	event_free(q->done);
	free(q->route.hosts);
	free(q->hstate);
	free(q);
}

static void
dns_query_done(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	/* unlinked first: the callback may call dns_free() */
	dns_query_unlink(q);
	q->cb(&q->route, q->arg);
	dns_query_free(q);
}

/* Printable, bounded form of a caller's string for an error text. */
static void
route_invalid(struct dns_query *q, const char *domain)
{
	char shown[80];
	size_t i = 0;

	for (; domain[i] != '\0' && i < sizeof(shown) - 1; i++) {
		unsigned char c = (unsigned char)domain[i];
		shown[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	shown[i] = '\0';
	route_error(q, "Invalid host or domain name: %s%s", shown, domain[i] != '\0' ? "..." : "");
	dns_query_finish(q, DNS_INVALID);
}

struct dns_query *
dns_route(struct dns *dns, const char *domain, unsigned flags, dns_route_cb *cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	struct sockaddr_storage sa;
	int literal;

	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->flags = flags;
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;
	q->timer = evtimer_new(dns->base, dns_query_timeout, q);
	q->done = event_new(dns->base, -1, 0, dns_query_done, q);
	if (q->timer == NULL || q->done == NULL)
		fatal("dns: cannot create events");
	evtimer_add(q->timer, &(struct timeval){.tv_sec = dns->timeout});

	if (domain == NULL)
		domain = "";
	literal = dns_address_literal(domain, &sa);
	if (literal > 0 && strlen(domain) <= DNS_NAME_MAX) {
		q->route.hosts = xcalloc(1, sizeof(*q->route.hosts));
		q->route.nhosts = 1;
		memcpy(q->route.hosts[0].name, domain, strlen(domain) + 1);
		q->route.hosts[0].addrs[0] = sa;
		q->route.hosts[0].naddrs = 1;
		q->route.hosts[0].status = DNS_OK;
		dns_query_finish(q, DNS_OK);
	} else if (literal != 0 || dns_name_canon(domain, q->name) < 0) {
		route_invalid(q, domain);
	} else if ((flags & DNS_ROUTE_NO_MX) != 0) {
		dns_hosts_single(q, q->name);
	} else if (dns_lookup_start(q, HOST_NONE, RR_MX) < 0) {
		route_lookup_error(q, q->name, RR_MX, "resolver failure, try again");
		dns_query_finish(q, DNS_TEMPFAIL);
	}
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	dns_query_unlink(q);
	dns_query_free(q);
}
