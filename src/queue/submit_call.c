/* submit_call.c - FLUSH and ETRN through the runner's socket on an event
 * loop (submit.h): the SMTP server's ETRN, so that a worker's loop never
 * waits on the runner (the runner scans its whole queue for an ETRN). */
#include "lib/common.h"

#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/submit.h"

struct submit_call {
	int fd;
	struct event *ev;
	submit_done_fn *done;
	void *arg;
	char line[SUBMIT_REPLY_MAX]; /* the reply read so far */
	size_t len;
	const char *error; /* failed before the exchange: reported at once */
	char errbuf[256];
};

static void
call_free(struct submit_call *call)
{
	if (call->ev != NULL)
		event_free(call->ev);
	if (call->fd >= 0)
		close(call->fd);
	free(call);
}

/* Report and end the call: done comes last but one, so that what text and
 * error point to (in call) is still there. */
static void
finish(struct submit_call *call, int code, const char *text, const char *error)
{
	call->done(code, text, error, call->arg);
	call_free(call);
}

static void
fail_errno(struct submit_call *call, const char *what, int err)
{
	(void)snprintf(call->errbuf, sizeof(call->errbuf), "%s: %s", what, strerror(err));
	finish(call, -1, NULL, call->errbuf);
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	struct submit_call *call = arg;

	if (call->error != NULL) {
		finish(call, -1, NULL, call->error);
		return;
	}
	if (what & EV_TIMEOUT) {
		fail_errno(call, "reply", ETIMEDOUT);
		return;
	}
	if (call->len == sizeof(call->line)) {
		fail_errno(call, "reply", EMSGSIZE);
		return;
	}
	ssize_t n = recv(call->fd, call->line + call->len, sizeof(call->line) - call->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		fail_errno(call, "reply", n == 0 ? ECONNRESET : errno);
		return;
	}
	char *lf = memchr(call->line + call->len, '\n', (size_t)n);
	call->len += (size_t)n;
	if (lf == NULL)
		return;
	struct buf reply;
	const char *error = NULL;
	buf_init(&reply, SUBMIT_REPLY_MAX);
	int code = submit_reply_parse(call->line, (size_t)(lf - call->line), &reply, &error);
	if (code < 0) {
		str_copy(call->errbuf, sizeof(call->errbuf), error);
		finish(call, -1, NULL, call->errbuf);
	} else {
		finish(call, code, buf_cstr(&reply), NULL);
	}
	buf_release(&reply);
}

struct submit_call *
submit_flush_start(struct event_base *base, const char *path, const char *id, const char *domain,
		   submit_done_fn *done, void *arg)
{
	struct submit_call *call = xcalloc(1, sizeof(*call));
	char req[SUBMIT_FLUSH_LINE_MAX];
	const char *error = NULL;
	int n;

	call->fd = -1;
	call->done = done;
	call->arg = arg;
	if ((n = submit_flush_line(id, domain, req, &error)) < 0 ||
	    (call->fd = submit_connect(path, false, &error)) < 0) {
		/* the message may be in a buffer the next call overwrites */
		str_copy(call->errbuf, sizeof(call->errbuf), error);
		call->error = call->errbuf;
	} else {
		/* a new socket takes a line this short whole, or not at all */
		ssize_t sent = send(call->fd, req, (size_t)n, MSG_NOSIGNAL);
		if (sent != (ssize_t)n) {
			(void)snprintf(call->errbuf, sizeof(call->errbuf), "send: %s",
				       strerror(sent < 0 ? errno : EIO));
			call->error = call->errbuf;
		}
	}
	struct timeval limit = {.tv_sec = call->error != NULL ? 0 : SUBMIT_FLUSH_SECS};
	call->ev = call->error != NULL
		       ? evtimer_new(base, on_event, call)
		       : event_new(base, call->fd, EV_READ | EV_PERSIST, on_event, call);
	if (call->ev == NULL || event_add(call->ev, &limit) < 0)
		fatal("submit: cannot watch the runner's socket");
	return call;
}

void
submit_call_cancel(struct submit_call *call)
{
	if (call != NULL)
		call_free(call);
}
