/* submit_server.c - the local submission socket on the queue runner's
 * event loop (submit.h): one request per connection, the peer's uid from
 * SO_PEERCRED, the message queued inline with submit_queue(). */
#include "lib/common.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/submit.h"

#define SUBMIT_TIMEOUT_SECS 60
#define SUBMIT_CONN_MAX 64 /* connections at once; more are told 451 */
#define SUBMIT_PULL 65536  /* head bytes handed to the parser at a time */
/* Content is held in memory until it is all there: the connections
 * together may announce this much (more are told 451); one alone may
 * always announce what smtpd.max_message_size allows. */
#define SUBMIT_CONTENT_BUDGET (256ULL * 1024 * 1024)

struct submit_server {
	struct event_base *base;
	struct queue *q;
	const struct config *cfg;
	struct submit_handlers h;
	void *arg;
	struct evconnlistener *evl;
	char *path;
	struct submit_conn *conns; /* open connections */
	size_t nconns;
	uint64_t reserved; /* content announced by the connections reading it */
};

enum submit_conn_state { SC_HEAD, SC_CONTENT, SC_REPLY };

struct submit_conn {
	struct submit_server *srv;
	struct submit_conn *prev, *next;
	struct bufferevent *bev;
	uid_t uid;
	enum submit_conn_state state;
	struct submit_parser parser;
	uint64_t reserved; /* its share of srv->reserved */
};

static void
conn_free(struct submit_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->srv->nconns--;
	c->srv->reserved -= c->reserved;
	bufferevent_free(c->bev);
	submit_parser_release(&c->parser);
	free(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct submit_conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		log_info("submit: uid %lu: time-out", (unsigned long)c->uid);
	conn_free(c);
}

static void
conn_written(struct bufferevent *bev, void *arg)
{
	conn_free(arg);
}

/* Send one reply line, then close once it is written. */
static void conn_reply(struct submit_conn *c, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void
conn_reply(struct submit_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	c->state = SC_REPLY;
	bufferevent_disable(c->bev, EV_READ);
	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	(void)evbuffer_add(out, "\n", 1);
	bufferevent_setcb(c->bev, NULL, conn_written, conn_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
do_flush(struct submit_conn *c)
{
	const struct submit_parser *p = &c->parser;
	bool etrn = p->kind == SUBMIT_ETRN;

	if (c->uid != 0 && c->uid != geteuid()) {
		log_info("submit: %s from uid %lu refused", etrn ? "ETRN" : "FLUSH",
			 (unsigned long)c->uid);
		conn_reply(c, "550 not allowed for uid %lu", (unsigned long)c->uid);
		return;
	}
	size_t n = 0;
	if (c->srv->h.flush != NULL)
		n = c->srv->h.flush(!etrn && p->arg[0] != '\0' ? p->arg : NULL,
				    etrn ? p->arg : NULL, c->srv->arg);
	conn_reply(c, "250 %zu", n);
}

static void
do_submit(struct submit_conn *c, const char *content, size_t len)
{
	struct submit_server *srv = c->srv;
	char id[QUEUE_ID_SIZE];
	const char *error;
	bool temporary;

	if (submit_queue(srv->q, srv->cfg, &c->parser.req, c->uid, content, len, id, &temporary,
			 &error) < 0) {
		log_error("submit: uid %lu: %s", (unsigned long)c->uid, error);
		if (temporary)
			conn_reply(c, "451 4.3.0 %s", error);
		else
			conn_reply(c, "554 5.5.4 %s", error);
		return;
	}
	log_info("submit: %s: uid %lu, %zu recipient%s, %zu bytes", id, (unsigned long)c->uid,
		 c->parser.req.nrcpts, c->parser.req.nrcpts == 1 ? "" : "s", len);
	conn_reply(c, "250 %s", id);
	if (srv->h.queued != NULL)
		srv->h.queued(id, srv->arg);
}

static void
read_head(struct submit_conn *c, struct evbuffer *in)
{
	for (;;) {
		size_t have = evbuffer_get_length(in);
		size_t n = MIN(have, (size_t)SUBMIT_PULL), used;
		const char *error;
		if (have == 0)
			return;
		const char *data = (const char *)evbuffer_pullup(in, (ssize_t)n);
		enum submit_parse_result r = submit_parse(&c->parser, data, n, &used, &error);
		evbuffer_drain(in, used);
		if (r == SUBMIT_PARSE_ERROR) {
			log_info("submit: uid %lu: %s", (unsigned long)c->uid, error);
			conn_reply(c, "501 5.5.4 %s", error);
			return;
		}
		if (r == SUBMIT_PARSE_DONE)
			break;
		if (used == 0)
			return;
	}
	if (c->parser.kind != SUBMIT_SUBMIT) {
		do_flush(c);
		return;
	}
	uint64_t max = c->srv->cfg->smtpd_max_message_size;
	if (max != 0 && c->parser.content_size > max) {
		conn_reply(c, "552 5.3.4 message larger than %" PRIu64 " bytes", max);
		return;
	}
	uint64_t size = c->parser.content_size;
	if (c->srv->reserved > 0 && c->srv->reserved + size > SUBMIT_CONTENT_BUDGET) {
		log_notice("submit: uid %lu: %" PRIu64 " bytes refused for now, %" PRIu64
			   " being received",
			   (unsigned long)c->uid, size, c->srv->reserved);
		conn_reply(c, "451 4.3.1 too much content being received, try again later");
		return;
	}
	c->reserved = size;
	c->srv->reserved += size;
	c->state = SC_CONTENT;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct submit_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == SC_HEAD)
		read_head(c, in);
	if (c->state != SC_CONTENT)
		return;
	size_t have = evbuffer_get_length(in);
	size_t size = (size_t)c->parser.content_size;
	if (have < size)
		return;
	if (have > size) {
		conn_reply(c, "501 5.5.4 data after the content");
		return;
	}
	const char *content = size > 0 ? (const char *)evbuffer_pullup(in, (ssize_t)size) : "";
	if (content == NULL) {
		conn_reply(c, "451 4.3.0 out of memory");
		return;
	}
	do_submit(c, content, size);
	evbuffer_drain(in, size);
}

static void
conn_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen,
	    void *arg)
{
	struct submit_server *srv = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		log_error("submit: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	if (srv->nconns >= SUBMIT_CONN_MAX) {
		static const char busy[] = "451 4.3.2 too many connections\n";
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	struct submit_conn *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->uid = cred.uid;
	c->state = SC_HEAD;
	submit_parser_init(&c->parser);
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = srv->conns;
	if (c->next != NULL)
		c->next->prev = c;
	srv->conns = c;
	srv->nconns++;
	struct timeval tv = {.tv_sec = SUBMIT_TIMEOUT_SECS};
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

int
submit_server_new(struct event_base *base, struct queue *q, const struct config *cfg,
		  const char *path, const struct submit_handlers *h, void *arg,
		  struct submit_server **s_r, const char **error_r)
{
	static _Thread_local char errbuf[256];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1;

	*s_r = NULL;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
		*error_r = "socket path too long";
		return -1;
	}
	/* The directory: created 0755 when missing, so that every local user
	 * can reach the socket. */
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			(void)snprintf(errbuf, sizeof(errbuf), "%s: %s", dir, strerror(errno));
			free(dir);
			*error_r = errbuf;
			return -1;
		}
	}
	free(dir);
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0)
		goto fail;

	struct submit_server *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->q = q;
	s->cfg = cfg;
	s->h = *h;
	s->arg = arg;
	s->path = xstrdup(path);
	s->evl = evconnlistener_new(base, conn_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (s->evl == NULL) {
		free(s->path);
		free(s);
		goto fail;
	}
	*s_r = s;
	return 0;
fail:
	(void)snprintf(errbuf, sizeof(errbuf), "%s: %s", path, strerror(errno));
	*error_r = errbuf;
	if (fd >= 0)
		close(fd);
	return -1;
}

void
submit_server_free(struct submit_server **sp)
{
	struct submit_server *s = *sp;

	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_free(s->conns);
	evconnlistener_free(s->evl);
	(void)unlink(s->path);
	free(s->path);
	free(s);
	*sp = NULL;
}
