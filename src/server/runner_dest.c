/* runner_dest.c - destinations: their route, their waiting requests and
 * their SMTP connections (tried host by host, address by address). */
#include "lib/common.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <time.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/xalloc.h"
#include "mime/downgrade.h"
#include "server/runner_private.h"

#define DEST_BUCKETS 1024

static void conn_connect(struct rconn *rc);
static void conn_send(struct rconn *rc);
static void dest_dispatch(struct rdest *d);

static size_t
dest_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)ascii_tolower((unsigned char)*key);
		h *= 1099511628211ULL;
	}
	return (size_t)(h % DEST_BUCKETS);
}

static void
sprintf_literal(char *out, const char *ip, bool v4)
{
	size_t n = strlen(ip);

	out[0] = '[';
	if (v4) {
		memcpy(out + 1, ip, n);
		out[n + 1] = '\0';
	} else {
		memcpy(out + 1, "IPv6:", 5);
		memcpy(out + 6, ip, n);
		out[n + 6] = '\0';
	}
	n = strlen(out);
	out[n] = ']';
	out[n + 1] = '\0';
}

/* The relay host "[host]:port", "host:port", "[host]" or "host". */
static void
parse_relayhost(struct rdest *d, const char *spec, unsigned default_port)
{
	const char *host = spec, *end, *colon;

	d->lookup_flags = 0;
	d->port = (uint16_t)default_port;
	if (*spec == '[' && (end = strchr(spec, ']')) != NULL) {
		host = spec + 1;
		d->lookup_flags |= DNS_ROUTE_NO_MX;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(spec, ':');
		end = colon != NULL ? colon : spec + strlen(spec);
	}
	d->lookup = xstrndup(host, (size_t)(end - host));
	/* A numeric address is routed as an address literal. */
	unsigned char bin[16];
	bool v4 = inet_pton(AF_INET, d->lookup, bin) == 1;
	if (v4 || inet_pton(AF_INET6, d->lookup, bin) == 1) {
		char *literal = xmalloc(strlen(d->lookup) + 8);
		sprintf_literal(literal, d->lookup, v4);
		free(d->lookup);
		d->lookup = literal;
	}
	if (colon != NULL) {
		unsigned long p = strtoul(colon + 1, NULL, 10);
		if (p > 0 && p < 65536)
			d->port = (uint16_t)p;
	}
}

static struct rdest *
dest_get(struct runner *r, const char *domain)
{
	const char *key = domain[0] != '\0' ? domain : r->cfg->delivery_relayhost;

	if (r->dests == NULL) {
		r->ndest_buckets = DEST_BUCKETS;
		r->dests = xcalloc(DEST_BUCKETS, sizeof(*r->dests));
	}
	size_t b = dest_hash(key);
	for (struct rdest *d = r->dests[b]; d != NULL; d = d->next)
		if (strcasecmp(d->key, key) == 0)
			return d;
	struct rdest *d = xcalloc(1, sizeof(*d));
	d->r = r;
	d->key = xstrdup(key);
	if (domain[0] == '\0') {
		parse_relayhost(d, key, r->cfg->delivery_port);
	} else {
		d->lookup = xstrdup(domain);
		d->port = (uint16_t)r->cfg->delivery_port;
	}
	if (r->cfg->delivery_ipv6)
		d->lookup_flags |= DNS_ROUTE_IPV6;
	d->next = r->dests[b];
	r->dests[b] = d;
	return d;
}

static void
route_free(struct dns_route **route)
{
	if (*route == NULL)
		return;
	free((*route)->hosts);
	free(*route);
	*route = NULL;
}

static void
dest_maybe_free(struct rdest *d)
{
	struct runner *r = d->r;

	if (d->active > 0 || d->waiting > 0 || d->dq != NULL || d->idle != NULL)
		return;
	size_t b = dest_hash(d->key);
	for (struct rdest **p = &r->dests[b]; *p != NULL; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	route_free(&d->route);
	free(d->key);
	free(d->lookup);
	free(d);
}

static struct rreq *
pop_waiting(struct rdest *d)
{
	struct rreq *rq = d->head;

	if (rq == NULL)
		return NULL;
	d->head = rq->next;
	if (d->head == NULL)
		d->tail = NULL;
	d->waiting--;
	rq->next = NULL;
	return rq;
}

static void
generated_reply(struct smtpc_reply *reply, unsigned code, const char *enhanced, const char *text)
{
	runner_reply(reply, code, enhanced, text, "connect");
}

/* Every recipient of rq gets reply; rq is freed. */
static void
request_answer(struct rreq *rq, const struct smtpc_reply *reply, const char *remote, bool peer_dsn)
{
	struct rmsg *m = rq->msg;

	for (size_t k = 0; k < rq->n; k++)
		rmsg_result(m, rq->rcpts[k], reply, remote, peer_dsn);
	free(rq->rcpts);
	free(rq);
	rmsg_request_done(m);
}

static void
fail_waiting(struct rdest *d, const struct smtpc_reply *reply)
{
	struct rreq *rq;

	while ((rq = pop_waiting(d)) != NULL)
		request_answer(rq, reply, NULL, false);
}

void
rdest_submit(struct runner *r, const char *domain, struct rreq *rq)
{
	struct rdest *d = dest_get(r, domain);

	rq->dest = d;
	rq->next = NULL;
	if (d->tail != NULL)
		d->tail->next = rq;
	else
		d->head = rq;
	d->tail = rq;
	d->waiting++;
	dest_dispatch(d);
}

/* ---- routes ---- */

static void
route_failed(struct rdest *d)
{
	const struct dns_route *route = d->route;
	struct smtpc_reply reply;

	switch (route->status) {
	case DNS_NULL_MX:
		generated_reply(&reply, 556, "5.1.10", "Recipient address has null MX");
		break;
	case DNS_TEMPFAIL:
		generated_reply(&reply, 451, "4.4.3", route->error);
		break;
	case DNS_INVALID:
		generated_reply(&reply, 550, "5.1.2", route->error);
		break;
	default:
		generated_reply(&reply, 550, "5.4.4", route->error);
		break;
	}
	if (reply.text[0] == '\0')
		str_copy(reply.text, sizeof(reply.text), dns_status_name(route->status));
	log_info("route for %s: %s", d->lookup, reply.text);
	route_free(&d->route);
	fail_waiting(d, &reply);
}

/* Is a (4 or 16 bytes) an address of this machine's interfaces? */
static bool
address_is_local(const uint8_t *a, size_t n)
{
	struct ifaddrs *all;
	bool found = false;

	if ((n == 4 && a[0] == 127) || (n == 16 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a)))
		return true;
	if (getifaddrs(&all) < 0)
		return false;
	for (struct ifaddrs *i = all; i != NULL && !found; i = i->ifa_next) {
		uint8_t b[16];
		if (i->ifa_addr != NULL && net_addr_bytes(i->ifa_addr, b) == n)
			found = memcmp(a, b, n) == 0;
	}
	freeifaddrs(all);
	return found;
}

/* Has a listener of this server address a (n bytes) at port (any local
 * address for a listener on "*")? */
static bool
listens_at(const struct config *cfg, unsigned port, const uint8_t *a, size_t n)
{
	bool wildcard = false;

	for (size_t s = 0; s < SVC_COUNT; s++) {
		for (size_t i = 0; i < cfg->svc[s].listen_count; i++) {
			const struct listen_addr *l = &cfg->svc[s].listen[i];
			uint8_t b[16];
			int family;
			if (l->port != port)
				continue;
			if (strcmp(l->host, "*") == 0)
				wildcard = true;
			else if ((family = net_ip_parse(l->host, b)) != 0 &&
				 (family == AF_INET ? 4u : 16u) == n && memcmp(a, b, n) == 0)
				return true;
		}
	}
	return wildcard && address_is_local(a, n);
}

/* Does host h, at port, lead to this server? */
static bool
host_is_self(const struct config *cfg, unsigned port, const struct dns_host *h)
{
	for (size_t k = 0; k < h->naddrs; k++) {
		uint8_t a[16];
		size_t n = net_addr_bytes((const struct sockaddr *)&h->addrs[k], a);
		if (n > 0 && listens_at(cfg, port, a, n))
			return true;
	}
	return false;
}

/* RFC 5321 5.1: an exchanger that is this server, and every one of equal
 * or lower preference, are dropped (mail sent there would come back).
 * Returns false when none is left: the mail would loop. */
static bool
route_cut_self(const struct config *cfg, unsigned port, const char *lookup,
	       struct dns_route *route)
{
	for (size_t i = 0; i < route->nhosts; i++) {
		if (!host_is_self(cfg, port, &route->hosts[i]))
			continue;
		size_t cut = i;
		while (cut > 0 && route->hosts[cut - 1].pref == route->hosts[i].pref)
			cut--;
		log_info("route for %s: %s[port %u] is this server: %zu exchanger%s before it",
			 lookup, route->hosts[i].name, port, cut, cut == 1 ? "" : "s");
		route->nhosts = cut;
		break;
	}
	return route->nhosts > 0;
}

static void
route_done(const struct dns_route *route, void *arg)
{
	struct rdest *d = arg;

	d->dq = NULL;
	route_free(&d->route);
	d->route = xmalloc(sizeof(*d->route));
	*d->route = *route;
	d->route->hosts = xcalloc(route->nhosts + 1, sizeof(*route->hosts));
	if (route->nhosts > 0)
		memcpy(d->route->hosts, route->hosts, route->nhosts * sizeof(*route->hosts));
	d->route_time = time(NULL);
	if (d->route->status == DNS_OK && !route_cut_self(d->r->cfg, d->port, d->lookup, d->route)) {
		struct smtpc_reply reply;
		char text[300];
		(void)snprintf(text, sizeof(text), "mail for %s loops back to myself", d->lookup);
		generated_reply(&reply, 554, "5.4.6", text);
		log_info("route for %s: %s", d->lookup, text);
		route_free(&d->route);
		fail_waiting(d, &reply);
	}
	dest_dispatch(d);
	dest_maybe_free(d);
}

/* ---- connections ---- */

static void
conn_new(struct rdest *d, struct rreq *rq)
{
	struct rconn *rc = xcalloc(1, sizeof(*rc));

	rc->dest = d;
	rc->req = rq;
	buf_init(&rc->converted, QUEUE_CONTENT_MAX);
	d->active++;
	d->r->connections++;
	conn_connect(rc);
}

/* The connection is gone: free it and let others start. */
static void
conn_close(struct rconn *rc, bool quit)
{
	struct rdest *d = rc->dest;
	struct runner *r = d->r;
	bool was_full = r->connections >= r->cfg->delivery_concurrency;

	if (rc->c != NULL) {
		if (quit)
			smtpc_quit(rc->c);
		else
			smtpc_free(rc->c);
	}
	for (struct rconn **p = &d->idle; *p != NULL; p = &(*p)->next)
		if (*p == rc) {
			*p = rc->next;
			break;
		}
	if (rc->idle_timer != NULL)
		event_free(rc->idle_timer);
	free(rc->rcpts);
	buf_release(&rc->converted);
	free(rc);
	d->active--;
	r->connections--;
	dest_dispatch(d);
	dest_maybe_free(d);
	if (was_full)
		rdest_dispatch_all(r);
}

static void
idle_expired(evutil_socket_t fd, short what, void *arg)
{
	conn_close(arg, true);
}

static void
conn_park(struct rconn *rc)
{
	struct rdest *d = rc->dest;
	struct timeval tv = {.tv_sec = RUNNER_IDLE_SECS};

	rc->next = d->idle;
	d->idle = rc;
	if (rc->idle_timer == NULL)
		rc->idle_timer = evtimer_new(d->r->base, idle_expired, rc);
	evtimer_add(rc->idle_timer, &tv);
}

/* Every address failed: the request, and every other waiting for this
 * destination, is deferred with the last error. */
static void
conn_exhausted(struct rconn *rc)
{
	struct rdest *d = rc->dest;
	struct smtpc_reply reply;

	if (rc->have_error)
		reply = rc->last_error;
	else
		generated_reply(&reply, 451, "4.4.1", "no mail exchanger could be reached");
	if (reply.code / 100 != 4) {
		/* A refusal at connection time is the host's, not the
		 * recipient's: try again later (another host may be up). */
		reply.code = 451;
		str_copy(reply.enhanced, sizeof(reply.enhanced), "4.4.2");
	}
	request_answer(rc->req, &reply, NULL, false);
	rc->req = NULL;
	fail_waiting(d, &reply);
	conn_close(rc, false);
}

static void
conn_ready(struct smtpc *c, const struct smtpc_error *error, void *arg)
{
	struct rconn *rc = arg;
	struct runner *r = rc->dest->r;

	if (error == NULL) {
		rc->plain = false;
		conn_send(rc);
		return;
	}
	const struct dns_host *h = &rc->dest->route->hosts[rc->host];
	log_info("%s[port %u]: %s (%u %s %s)", h->name, rc->dest->port,
		 error->kind == SMTPC_ERR_CONNECT ? "connect failed"
		 : error->kind == SMTPC_ERR_TLS	  ? "TLS failed"
						  : "session failed",
		 error->reply.code, error->reply.enhanced, error->reply.text);
	enum smtpc_error_kind kind = error->kind;
	rc->last_error = error->reply; /* error belongs to c */
	rc->have_error = true;
	if (kind != SMTPC_ERR_CONNECT)
		rc->sessions++;
	smtpc_free(c);
	rc->c = NULL;
	if (kind == SMTPC_ERR_TLS && r->cfg->delivery_tls == DELIVERY_TLS_MAY && !rc->plain) {
		rc->plain = true; /* the same address, without STARTTLS */
	} else {
		rc->plain = false;
		rc->addr++;
	}
	conn_connect(rc);
}

static void
conn_connect(struct rconn *rc)
{
	struct rdest *d = rc->dest;
	struct runner *r = d->r;
	const struct dns_route *route = d->route;

	while (rc->host < route->nhosts && rc->addr >= route->hosts[rc->host].naddrs) {
		rc->host++;
		rc->addr = 0;
	}
	/* Each attempt walks a bounded part of the route, as Postfix's
	 * smtp_mx_address_limit and smtp_mx_session_limit: a domain whose
	 * 32 exchangers of 16 addresses each lead to one tarpit would
	 * otherwise hold a connection slot for days. */
	unsigned addr_limit = r->cfg->delivery_mx_address_limit;
	unsigned session_limit = r->cfg->delivery_mx_session_limit;
	if (rc->host >= route->nhosts || (addr_limit != 0 && !rc->plain && rc->addrs_tried >= addr_limit) ||
	    (session_limit != 0 && rc->sessions >= session_limit)) {
		conn_exhausted(rc);
		return;
	}
	if (!rc->plain)
		rc->addrs_tried++;
	const struct dns_host *h = &route->hosts[rc->host];
	struct sockaddr_storage sa = h->addrs[rc->addr];
	socklen_t len;
	if (sa.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(d->port);
		len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&sa)->sin_port = htons(d->port);
		len = sizeof(struct sockaddr_in);
	}
	rc->c = smtpc_connect(r->base, rc->plain ? &r->smtpc_plain : &r->smtpc,
			      (struct sockaddr *)&sa, len, h->name, conn_ready, rc);
}

static void conn_done(struct smtpc *c, const struct smtpc_result *result, void *arg);

/* A 7-bit copy of the content for a peer without 8BITMIME; false when
 * the conversion failed (the request is then answered). */
static bool
convert_content(struct rconn *rc, struct rmsg *m)
{
	struct smtpc_reply reply;
	const char *content, *error = "queue file read error";
	size_t len;

	buf_reset(&rc->converted);
	if ((content = rmsg_content(m, &len)) != NULL) {
		if (mime_is_7bit(content, len)) {
			rc->msg.data = content;
			rc->msg.size = len;
			return true;
		}
		if (mime_downgrade(content, len, &rc->converted, &error) == 0) {
			rc->msg.data = rc->converted.data;
			rc->msg.size = rc->converted.len;
			return true;
		}
	}
	char text[300];
	snprintf(text, sizeof(text), "conversion to 7bit for a peer without 8BITMIME failed: %s",
		 error);
	generated_reply(&reply, 554, "5.6.3", text);
	reply.stage = "MAIL FROM";
	request_answer(rc->req, &reply, smtpc_peer(rc->c)->name, false);
	rc->req = NULL;
	return false;
}

static void
conn_send(struct rconn *rc)
{
	struct rdest *d = rc->dest;
	const struct smtpc_peer *peer = smtpc_peer(rc->c);

	for (;;) {
		struct rreq *rq = rc->req;
		struct rmsg *m = rq->msg;
		const struct queue_envelope *env = m->env;

		free(rc->rcpts);
		rc->rcpts = xcalloc(rq->n, sizeof(*rc->rcpts));
		for (size_t k = 0; k < rq->n; k++) {
			const struct queue_rcpt *q = &env->rcpts[rq->rcpts[k]];
			rc->rcpts[k].addr = q->addr;
			rc->rcpts[k].orcpt = q->orcpt;
			rc->rcpts[k].notify = q->notify;
		}
		rc->msg = (struct smtpc_msg){
		    .sender = env->sender,
		    .body = env->body,
		    .smtputf8 = env->smtputf8,
		    .ret = env->ret,
		    .envid = env->envid,
		    .rcpts = rc->rcpts,
		    .nrcpts = rq->n,
		    .fd = queue_msg_fd(m->qm),
		    .offset = queue_msg_content_offset(m->qm),
		    .size = env->content_size,
		};
		bool eight =
		    env->body == QUEUE_BODY_8BITMIME && (peer->ext & SMTPC_EXT_8BITMIME) == 0;
		bool binary = env->body == QUEUE_BODY_BINARYMIME &&
			      (peer->ext & (SMTPC_EXT_BINARYMIME | SMTPC_EXT_CHUNKING)) !=
				  (SMTPC_EXT_BINARYMIME | SMTPC_EXT_CHUNKING);
		if (eight || binary) {
			rc->msg.body = QUEUE_BODY_NONE;
			if (!convert_content(rc, m)) {
				if ((rc->req = pop_waiting(d)) == NULL) {
					conn_park(rc);
					return;
				}
				continue;
			}
		}
		smtpc_send(rc->c, &rc->msg, conn_done, rc);
		return;
	}
}

/* A connection lost before any recipient was answered by the peer: the
 * next address may do better. */
static bool
lost_early(const struct smtpc_result *result)
{
	if (result->usable || result->nreplies == 0)
		return false;
	for (size_t k = 0; k < result->nreplies; k++) {
		const struct smtpc_reply *rp = &result->replies[k];
		if (!rp->generated || rp->code / 100 != 4 || rp->stage == NULL ||
		    strcmp(rp->stage, "end of data") == 0 || strcmp(rp->stage, "DATA") == 0)
			return false;
	}
	return true;
}

static void
conn_done(struct smtpc *c, const struct smtpc_result *result, void *arg)
{
	struct rconn *rc = arg;
	struct rdest *d = rc->dest;
	struct runner *r = d->r;
	const struct smtpc_peer *peer = smtpc_peer(c);

	if (lost_early(result)) {
		rc->last_error = result->replies[0];
		rc->have_error = true;
		rc->sessions++;
		smtpc_free(c);
		rc->c = NULL;
		rc->addr++;
		conn_connect(rc);
		return;
	}
	struct rreq *rq = rc->req;
	struct rmsg *m = rq->msg;
	for (size_t k = 0; k < rq->n && k < result->nreplies; k++)
		rmsg_result(m, rq->rcpts[k], &result->replies[k], peer->name,
			    (peer->ext & SMTPC_EXT_DSN) != 0);
	free(rq->rcpts);
	free(rq);
	rc->req = NULL;
	rmsg_request_done(m);
	if (!result->usable || r->stopping) {
		conn_close(rc, result->usable);
		return;
	}
	/* The next request starts its walk here, on this session. */
	rc->addrs_tried = rc->sessions = 1;
	if ((rc->req = pop_waiting(d)) != NULL) {
		conn_send(rc);
		return;
	}
	conn_park(rc);
}

/* ---- dispatch ---- */

static void
dest_dispatch(struct rdest *d)
{
	struct runner *r = d->r;

	if (r->stopping || d->waiting == 0 || d->dq != NULL)
		return;
	if (d->route != NULL && d->active == 0 && time(NULL) - d->route_time >= RUNNER_ROUTE_TTL)
		route_free(&d->route);
	if (d->route == NULL) {
		d->dq = dns_route(r->dns, d->lookup, d->lookup_flags, route_done, d);
		return;
	}
	if (d->route->status != DNS_OK) {
		route_failed(d);
		return;
	}
	while (d->waiting > 0) {
		if (d->idle != NULL) {
			struct rconn *rc = d->idle;
			d->idle = rc->next;
			rc->next = NULL;
			evtimer_del(rc->idle_timer);
			rc->req = pop_waiting(d);
			conn_send(rc);
			continue;
		}
		if (d->active >= r->cfg->delivery_destination_concurrency ||
		    r->connections >= r->cfg->delivery_concurrency)
			break;
		conn_new(d, pop_waiting(d));
	}
}

void
rdest_dispatch_all(struct runner *r)
{
	if (r->dests == NULL)
		return;
	for (size_t b = 0; b < r->ndest_buckets; b++) {
		struct rdest *next;
		for (struct rdest *d = r->dests[b]; d != NULL; d = next) {
			next = d->next;
			if (d->waiting > 0)
				dest_dispatch(d);
			if (r->connections >= r->cfg->delivery_concurrency)
				return;
		}
	}
}

void
rdest_stop(struct runner *r)
{
	if (r->dests == NULL)
		return;
	for (size_t b = 0; b < r->ndest_buckets; b++) {
		struct rdest *next;
		for (struct rdest *d = r->dests[b]; d != NULL; d = next) {
			struct rreq *rq;
			next = d->next;
			/* Waiting requests are not tried: their recipients
			 * stay as they are, for the next runner. */
			while ((rq = pop_waiting(d)) != NULL) {
				struct rmsg *m = rq->msg;
				free(rq->rcpts);
				free(rq);
				rmsg_request_done(m);
			}
			/* The last close may free d. */
			struct rconn *idle = d->idle, *nrc;
			d->idle = NULL;
			for (; idle != NULL; idle = nrc) {
				nrc = idle->next;
				idle->next = NULL;
				conn_close(idle, true);
			}
		}
	}
}

void
rdest_free_all(struct runner *r)
{
	if (r->dests == NULL)
		return;
	for (size_t b = 0; b < r->ndest_buckets; b++) {
		while (r->dests[b] != NULL) {
			struct rdest *d = r->dests[b];
			struct rreq *rq;
			r->dests[b] = d->next;
			if (d->dq != NULL)
				dns_cancel(d->dq);
			while ((rq = pop_waiting(d)) != NULL) {
				free(rq->rcpts);
				free(rq);
			}
			while (d->idle != NULL) {
				struct rconn *rc = d->idle;
				d->idle = rc->next;
				smtpc_free(rc->c);
				if (rc->idle_timer != NULL)
					event_free(rc->idle_timer);
				buf_release(&rc->converted);
				free(rc->rcpts);
				free(rc);
			}
			route_free(&d->route);
			free(d->key);
			free(d->lookup);
			free(d);
		}
	}
	free(r->dests);
	r->dests = NULL;
}
