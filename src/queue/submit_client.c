/* submit_client.c - blocking clients of the local submission socket
 * (submit.h): submit a message, or ask for a flush or an ETRN; what the
 * event-loop client (submit_call.c) shares with them. */
#include "lib/common.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "queue/submit.h"

#define SUBMIT_SEND_SECS 60

static _Thread_local char client_errbuf[256];

static int
client_error(const char **error_r, const char *what, int err)
{
	(void)snprintf(client_errbuf, sizeof(client_errbuf), "%s: %s", what, strerror(err));
	*error_r = client_errbuf;
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 0, or -1 with
 * errno (ETIMEDOUT). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, (int)MIN(left, (int64_t)INT32_MAX));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int
submit_connect(const char *path, bool wait, const char **error_r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0)
		return client_error(error_r, path, ENAMETOOLONG);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0)
		return client_error(error_r, "socket", errno);
	/* Not waiting: a full backlog (the runner is busy) fails with EAGAIN. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		close(fd);
		return client_error(error_r, path, err);
	}
	/* Non-blocking from here: every wait goes through poll and the deadline. */
	if (wait && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int err = errno;
		close(fd);
		return client_error(error_r, "fcntl", err);
	}
	return fd;
}

/* 0, or -1 with errno. */
static int
write_all(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else if (n < 0 && errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/* Read the reply line "NNN SP TEXT LF": its code, TEXT in reply. */
static int
read_reply(int fd, int64_t deadline, struct buf *reply, const char **error_r)
{
	char line[SUBMIT_REPLY_MAX];
	size_t len = 0;

	for (;;) {
		if (len == sizeof(line))
			return client_error(error_r, "reply", EMSGSIZE);
		ssize_t n = recv(fd, line + len, sizeof(line) - len, 0);
		if (n > 0) {
			char *lf = memchr(line + len, '\n', (size_t)n);
			len += (size_t)n;
			if (lf != NULL) {
				len = (size_t)(lf - line);
				break;
			}
		} else if (n == 0) {
			return client_error(error_r, "reply", ECONNRESET);
		} else if (errno == EAGAIN) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return client_error(error_r, "reply", errno);
		} else if (errno != EINTR) {
			return client_error(error_r, "reply", errno);
		}
	}
	return submit_reply_parse(line, len, reply, error_r);
}

int
submit_reply_parse(const char *line, size_t len, struct buf *reply, const char **error_r)
{
	if (len < 4 || line[3] != ' ' || line[0] < '2' || line[0] > '5' ||
	    !ascii_is_digit((unsigned char)line[1]) || !ascii_is_digit((unsigned char)line[2])) {
		*error_r = "malformed reply from the submission socket";
		return -1;
	}
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	buf_reset(reply);
	if (buf_add(reply, line + 4, len - 4) < 0) {
		*error_r = "reply too long for the buffer";
		return -1;
	}
	return code;
}

/* One request: connect, send head and content, read the reply. A write
 * that fails because the server already answered and closed (a refusal
 * before the content) still reads that answer. */
static int
exchange(const char *path, const char *head, size_t head_len, const char *content, size_t len,
	 unsigned secs, struct buf *reply, const char **error_r)
{
	int64_t deadline = now_ms() + (int64_t)secs * 1000;
	int fd = submit_connect(path, true, error_r);

	if (fd < 0)
		return -1;
	int werr = 0;
	if (write_all(fd, head, head_len, deadline) < 0 ||
	    write_all(fd, content, len, deadline) < 0)
		werr = errno;
	int code = werr == ETIMEDOUT ? client_error(error_r, "send", werr)
				     : read_reply(fd, deadline, reply, error_r);
	if (code < 0 && werr != 0 && werr != ETIMEDOUT)
		code = client_error(error_r, "send", werr);
	close(fd);
	return code;
}

int
submit_send(const char *path, const struct submit_request *req, const char *content, size_t len,
	    struct buf *reply, const char **error_r)
{
	struct buf head;

	buf_init(&head, BUF_UNLIMITED);
	if (submit_request_format(req, len, &head, error_r) < 0) {
		buf_release(&head);
		return -1;
	}
	int code =
	    exchange(path, head.data, head.len, content, len, SUBMIT_SEND_SECS, reply, error_r);
	buf_release(&head);
	return code;
}

int
submit_flush(const char *path, const char *id, const char *domain, struct buf *reply,
	     const char **error_r)
{
	char line[SUBMIT_FLUSH_LINE_MAX];
	int n = submit_flush_line(id, domain, line, error_r);

	if (n < 0)
		return -1;
	return exchange(path, line, (size_t)n, "", 0, SUBMIT_FLUSH_SECS, reply, error_r);
}

int
submit_flush_line(const char *id, const char *domain, char line[SUBMIT_FLUSH_LINE_MAX],
		  const char **error_r)
{
	int n;

	if (domain != NULL)
		n = snprintf(line, SUBMIT_FLUSH_LINE_MAX, "ETRN %s\n", domain);
	else if (id != NULL)
		n = snprintf(line, SUBMIT_FLUSH_LINE_MAX, "FLUSH %s\n", id);
	else
		n = snprintf(line, SUBMIT_FLUSH_LINE_MAX, "FLUSH\n");
	if (n < 0 || n >= SUBMIT_FLUSH_LINE_MAX) {
		*error_r = "argument too long";
		return -1;
	}
	return n;
}
