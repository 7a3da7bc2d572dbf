/* submit_queue.c - writing a locally submitted message into the queue
 * (submit.h): the envelope of the request, a Received field naming the
 * local user, then the content. Used by the runner's submission socket and
 * by `postern sendmail` when it queues directly. */
#include "lib/common.h"

#include <inttypes.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "queue/queue.h"
#include "queue/queue_private.h"
#include "queue/submit.h"

#define PW_BUFFER 4096

static bool
has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* A login name safe inside a comment of the Received field; "" when the
 * uid has none (or an odd one). */
static void
login_name(uid_t uid, char *out, size_t size)
{
	char pwbuf[PW_BUFFER];
	struct passwd pw, *found = NULL;

	out[0] = '\0';
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || found == NULL)
		return;
	for (const char *p = pw.pw_name; *p != '\0'; p++)
		if (!ascii_is_letdig((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-' &&
		    *p != '$')
			return;
	(void)str_copy(out, size, pw.pw_name);
}

/*   Received: by HOST (postern, from userid UID LOGIN)
 *   	id ID
 *   	for <RCPT>; DATE            ("for" with one recipient only) */
static int
received_add(struct buf *out, const struct config *cfg, const struct submit_request *req, uid_t uid,
	     const char *id)
{
	char login[64], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int ret = 0;

	login_name(uid, login, sizeof(login));
	localtime_r(&now, &tm);
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		date[0] = '\0';
	ret |=
	    buf_printf(out, "Received: by %s (postern, from userid %lu%s%s)\r\n\tid %s",
		       cfg->hostname, (unsigned long)uid, login[0] != '\0' ? " " : "", login, id);
	if (req->nrcpts == 1)
		ret |= buf_printf(out, "\r\n\tfor <%s>", req->rcpts[0].addr);
	ret |= buf_printf(out, "; %s\r\n", date);
	return ret;
}

static int
envelope_set(struct queue_writer *w, const struct submit_request *req, const char *content,
	     size_t len, const char **error_r)
{
	struct queue_params params = {
	    .body = has_8bit(content, len) ? QUEUE_BODY_8BITMIME : QUEUE_BODY_NONE,
	    .smtputf8 = has_8bit(req->sender, strlen(req->sender)),
	    .ret = req->ret,
	    .envid = req->envid,
	};
	const struct queue_client client = {.protocol = "local"};

	for (size_t i = 0; i < req->nrcpts && !params.smtputf8; i++)
		params.smtputf8 = has_8bit(req->rcpts[i].addr, strlen(req->rcpts[i].addr));
	if (queue_writer_set_sender(w, req->sender, error_r) < 0 ||
	    queue_writer_set_params(w, &params, error_r) < 0 ||
	    queue_writer_set_client(w, &client, error_r) < 0)
		return -1;
	for (size_t i = 0; i < req->nrcpts; i++)
		if (queue_writer_add_rcpt(w, req->rcpts[i].addr, NULL, req->rcpts[i].notify,
					  error_r) < 0)
			return -1;
	return 0;
}

int
submit_queue(struct queue *q, const struct config *cfg, const struct submit_request *req, uid_t uid,
	     const char *content, size_t len, char id_r[QUEUE_ID_SIZE], bool *temporary_r,
	     const char **error_r)
{
	struct queue_writer *w = NULL;
	struct buf head;
	int ret = -1;

	*temporary_r = false;
	if (cfg->smtpd_max_message_size != 0 && len > cfg->smtpd_max_message_size) {
		queue_error_set(error_r, "message larger than %" PRIu64 " bytes",
				cfg->smtpd_max_message_size);
		return -1;
	}
	if (req->sender == NULL || req->nrcpts == 0 || req->nrcpts > QUEUE_RCPT_MAX) {
		queue_error_set(error_r, "no sender or no recipient");
		return -1;
	}
	buf_init(&head, 4096);
	if (queue_writer_create(q, &w, error_r) < 0) {
		*temporary_r = true;
		goto out;
	}
	if (envelope_set(w, req, content, len, error_r) < 0)
		goto out;
	if (received_add(&head, cfg, req, uid, queue_writer_id(w)) != 0) {
		queue_error_set(error_r, "Received field too long");
		goto out;
	}
	/* From here on every failure is the disk's. */
	*temporary_r = true;
	(void)str_copy(id_r, QUEUE_ID_SIZE, queue_writer_id(w));
	if (queue_writer_write(w, head.data, head.len, error_r) < 0 ||
	    queue_writer_write(w, content, len, error_r) < 0)
		goto out;
	ret = queue_writer_commit(&w, error_r);
	if (ret == 0)
		*temporary_r = false;
out:
	queue_writer_abort(&w);
	buf_release(&head);
	return ret;
}
