/* queue.c - 'postern queue list|show|flush|hold|release|delete' and
 * 'mailq': the relay queue for the administrator (docs/queue.md,
 * "Administration"). The work is queue_admin.c's; this file parses and
 * prints, and wakes the runner through the submission socket. */
#include "lib/common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/xalloc.h"
#include "queue/queue.h"
#include "queue/submit.h"

#define SHOW_HEADER_MAX 65536 /* header bytes 'show' prints */

static const char queue_usage[] =
    "usage: postern queue list\n"
    "       postern queue show ID\n"
    "       postern queue flush [ID]\n"
    "       postern queue hold ID...\n"
    "       postern queue release ID...\n"
    "       postern queue delete ID...|ALL\n"
    "\n"
    "The relay queue (DATA_DIR/queue): mail waiting for delivery to other hosts.\n"
    "\n"
    "  list         every message: id, state, size, arrival (UTC), sender, and\n"
    "               each recipient with its state, attempts and last reply\n"
    "  show ID      one message: its envelope, every recipient, and its header\n"
    "  flush [ID]   make deferred mail (or message ID) due now and wake the runner\n"
    "  hold ID      keep messages from delivery until released\n"
    "  release ID   give held messages back to the runner, due now\n"
    "  delete ID    remove messages (ALL: every message in the queue)\n"
    "\n"
    "A message being delivered is busy: try again in a moment. 'mailq' and\n"
    "'postern mailq' are 'postern queue list'. Run as root, the commands act as\n"
    "the owner of the data directory.\n"
    "\n"
    "Global options: --data DIR, -c FILE, -o SECTION.KEY=VALUE.\n";

struct queue_cli {
	struct cli *cli;
	struct config *cfg;
	struct queue *q;
	char *qpath; /* DATA_DIR/queue */
};

/* Open the queue. 0; 1 after printing the error; 3 when there is no queue
 * directory (nothing was ever queued), without a message. */
static int
queue_cli_open(struct queue_cli *qc, struct cli *cli)
{
	const char *error;
	struct stat st;

	memset(qc, 0, sizeof(*qc));
	qc->cli = cli;
	qc->cfg = cli_config(cli);
	if (qc->cfg == NULL)
		return 1;
	qc->qpath = xasprintf("%s/%s", qc->cfg->data_dir, QUEUE_DIR);
	if (stat(qc->qpath, &st) < 0 && errno == ENOENT)
		return 3;
	if (queue_open(qc->qpath, &qc->q, &error) < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	return 0;
}

static void
queue_cli_close(struct queue_cli *qc)
{
	queue_close(&qc->q);
	config_free(&qc->cfg);
	free(qc->qpath);
}

/* ---- list ---- */

struct list_totals {
	uint64_t bytes;
	size_t count;
	struct buf out;
};

static int
list_one(const struct queue_info *info, void *ctx)
{
	struct list_totals *t = ctx;

	buf_reset(&t->out);
	t->bytes += info->file_size;
	t->count++;
	if (queue_info_format(info, &t->out) < 0)
		return -1;
	return fwrite(t->out.data, 1, t->out.len, stdout) == t->out.len ? 0 : -1;
}

static int
queue_list_run(struct cli *cli)
{
	struct queue_cli qc;
	struct list_totals t = {0};
	const char *error = "write error";
	int rc = queue_cli_open(&qc, cli);

	if (rc == 3)
		printf("Mail queue is empty\n");
	if (rc != 0) {
		queue_cli_close(&qc);
		return rc == 3 ? 0 : rc;
	}
	buf_init(&t.out, BUF_UNLIMITED);
	if (queue_list(qc.q, list_one, &t, &error) != 0) {
		cli_error(cli, "%s", error);
		rc = 1;
	} else if (t.count == 0) {
		printf("Mail queue is empty\n");
	} else {
		printf("-- %" PRIu64 " Kbytes in %zu request%s.\n", (t.bytes + 1023) / 1024,
		       t.count, t.count == 1 ? "" : "s");
	}
	buf_release(&t.out);
	queue_cli_close(&qc);
	return rc;
}

/* ---- show ---- */

struct show_ctx {
	const char *id;
	bool found;
	enum queue_state state;
	uint64_t header_offset;
};

static void
time_show(const char *label, time_t t)
{
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		(void)snprintf(text, sizeof(text), "@%" PRId64, (int64_t)t);
	printf("%s%s\n", label, text);
}

static void
rcpt_show(const struct queue_rcpt *r)
{
	static const char *const notify[] = {"never", "success", "failure", "delay"};

	printf("  <%s>\n    state      %s, %u attempt%s\n", r->addr,
	       queue_rcpt_state_name(r->state), r->attempts, r->attempts == 1 ? "" : "s");
	if (r->last_attempt != 0)
		time_show("    last       ", r->last_attempt);
	if ((r->state == QUEUE_RCPT_PENDING || r->state == QUEUE_RCPT_DELAYED) &&
	    r->next_attempt != 0)
		time_show("    next       ", r->next_attempt);
	if (r->remote != NULL)
		printf("    remote     %s\n", r->remote);
	if (r->reply != NULL)
		printf("    reply      %s\n", r->reply);
	if (r->orcpt != NULL)
		printf("    orcpt      %s\n", r->orcpt);
	if (r->notify != 0) {
		const char *sep = "    notify     ";
		for (size_t i = 0; i < N_ELEMENTS(notify); i++) {
			if (r->notify & (1u << i)) {
				printf("%s%s", sep, notify[i]);
				sep = ",";
			}
		}
		printf("\n");
	}
}

static int
show_one(const struct queue_info *info, void *ctx)
{
	struct show_ctx *s = ctx;
	const struct queue_envelope *env = info->env;

	if (strcmp(info->id, s->id) != 0)
		return 0;
	s->found = true;
	s->state = info->state;
	printf("id         %s\nstate      %s\n", info->id, queue_state_name(info->state));
	if (env == NULL) {
		printf("unreadable %s\n", info->error ? info->error : "?");
		return 1;
	}
	s->header_offset = info->file_size - env->content_size;
	time_show("arrival    ", env->arrival);
	printf("sender     <%s>\nsize       %" PRIu64 " bytes\n", env->sender, env->content_size);
	if (env->client_addr == NULL)
		printf("client     local submission (%s)\n", env->protocol);
	else
		printf("client     %s [%s] helo %s (%s)\n",
		       env->client_name ? env->client_name : "unknown", env->client_addr,
		       env->helo ? env->helo : "-", env->protocol);
	if (env->auth != NULL)
		printf("auth       %s\n", env->auth);
	if (env->body != QUEUE_BODY_NONE || env->smtputf8 || env->requiretls)
		printf("body       %s%s%s\n", queue_body_name(env->body),
		       env->smtputf8 ? " smtputf8" : "", env->requiretls ? " requiretls" : "");
	if (env->ret != QUEUE_RET_NONE || env->envid != NULL)
		printf("dsn        ret %s, envid %s\n",
		       env->ret == QUEUE_RET_FULL   ? "full"
		       : env->ret == QUEUE_RET_HDRS ? "hdrs"
						    : "-",
		       env->envid ? env->envid : "-");
	printf("recipients %zu\n", env->rcpt_count);
	for (size_t i = 0; i < env->rcpt_count; i++)
		rcpt_show(&env->rcpts[i]);
	return 1;
}

/* The content's header section (up to SHOW_HEADER_MAX bytes), each line
 * indented. */
static void
header_show(const char *path, uint64_t offset)
{
	char *data = xmalloc(SHOW_HEADER_MAX);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, data, SHOW_HEADER_MAX, (off_t)offset) : -1;

	if (fd >= 0)
		close(fd);
	printf("header\n");
	if (n < 0) {
		printf("  (cannot read: %s)\n", strerror(errno));
		free(data);
		return;
	}
	size_t pos = 0, len = (size_t)n;
	bool ended = false;
	while (pos < len) {
		const char *lf = memchr(data + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - data) : len;
		size_t line = end - pos;
		if (line > 0 && data[end - 1] == '\r')
			line--;
		if (line == 0 && lf != NULL) {
			ended = true;
			break;
		}
		printf("  %.*s\n", (int)line, data + pos);
		pos = lf != NULL ? end + 1 : len;
	}
	if (!ended && len == SHOW_HEADER_MAX)
		printf("  ...\n");
	free(data);
}

static int
queue_show_run(struct queue_cli *qc, const char *id)
{
	struct show_ctx s = {.id = id};
	const char *error = "write error";

	if (!queue_id_valid(id)) {
		cli_error(qc->cli, "'%s' is not a queue id", id);
		return 1;
	}
	if (queue_list(qc->q, show_one, &s, &error) < 0) {
		cli_error(qc->cli, "%s", error);
		return 1;
	}
	if (!s.found) {
		cli_error(qc->cli, "message %s is not in the queue", id);
		return 1;
	}
	if (s.header_offset > 0) {
		char *path = xasprintf("%s/%s/%s", qc->qpath, queue_state_name(s.state), id);
		header_show(path, s.header_offset);
		free(path);
	}
	return 0;
}

/* ---- changes ---- */

static int
queue_flush_run(struct queue_cli *qc, const char *id)
{
	size_t count = 0;
	const char *error;
	struct buf reply;

	if (queue_flush(qc->q, id, time(NULL), &count, &error) < 0) {
		cli_error(qc->cli, "%s", error);
		return 1;
	}
	if (id != NULL)
		printf("message %s is due now", id);
	else
		printf("%zu deferred message%s due now", count, count == 1 ? " is" : "s are");
	char *sock = xasprintf("%s/%s", qc->cfg->data_dir, SUBMIT_SOCKET);
	buf_init(&reply, 1024);
	int code = submit_flush(sock, id, NULL, &reply, &error);
	if (code == 250)
		printf("; the queue runner was told\n");
	else if (code < 0)
		printf("; the queue runner is not running (%s)\n", error);
	else
		printf("; the queue runner answered: %d %s\n", code, reply.data);
	buf_release(&reply);
	free(sock);
	return 0;
}

struct id_list {
	char **ids;
	size_t count;
};

static int
collect_id(const struct queue_info *info, void *ctx)
{
	struct id_list *l = ctx;

	l->ids = xreallocarray(l->ids, l->count + 1, sizeof(*l->ids));
	l->ids[l->count++] = xstrdup(info->id);
	return 0;
}

enum change { CHANGE_HOLD, CHANGE_RELEASE, CHANGE_DELETE };

static int
queue_change_run(struct queue_cli *qc, enum change what, char **ids, int count)
{
	static const char *const done[] = {"held", "released", "deleted"};
	struct id_list all = {0};
	const char *error;
	int rc = 0;

	if (what == CHANGE_DELETE && count == 1 && strcmp(ids[0], "ALL") == 0) {
		if (queue_list(qc->q, collect_id, &all, &error) < 0) {
			cli_error(qc->cli, "%s", error);
			return 1;
		}
		ids = all.ids;
		count = (int)all.count;
	}
	size_t changed = 0;
	for (int i = 0; i < count; i++) {
		int r;
		if (what == CHANGE_HOLD)
			r = queue_hold(qc->q, ids[i], &error);
		else if (what == CHANGE_RELEASE)
			r = queue_release(qc->q, ids[i], time(NULL), &error);
		else
			r = queue_delete(qc->q, ids[i], &error);
		if (r < 0) {
			cli_error(qc->cli, "%s", error);
			rc = 1;
			continue;
		}
		changed++;
		if (all.ids == NULL)
			printf("message %s %s\n", ids[i], done[what]);
	}
	if (all.ids != NULL) {
		printf("%zu message%s deleted\n", changed, changed == 1 ? "" : "s");
		for (size_t i = 0; i < all.count; i++)
			free(all.ids[i]);
		free(all.ids);
	}
	if (what == CHANGE_RELEASE && changed > 0) {
		struct buf reply;
		char *sock = xasprintf("%s/%s", qc->cfg->data_dir, SUBMIT_SOCKET);
		buf_init(&reply, 1024);
		(void)submit_flush(sock, NULL, NULL, &reply, &error);
		buf_release(&reply);
		free(sock);
	}
	return rc;
}

static int
finish(struct cli *cli, int rc)
{
	if (fflush(stdout) != 0 && rc == 0) {
		cli_error(cli, "write error: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	struct admin_args a;
	struct queue_cli qc;
	int rc;

	if ((rc = admin_parse(cli, argc, argv, &a)) != 0)
		return rc;
	if (a.given & OPT_HELP) {
		fputs(queue_usage, stdout);
		admin_args_free(&a);
		return 0;
	}
	if (a.count == 0) {
		fputs(queue_usage, stderr);
		admin_args_free(&a);
		return EXIT_USAGE;
	}
	const char *action = a.words[0];
	enum change what = CHANGE_HOLD;
	if (strcmp(action, "list") == 0)
		rc = admin_check(cli, &a, 0, 1, 1);
	else if (strcmp(action, "show") == 0)
		rc = admin_check(cli, &a, 0, 2, 2);
	else if (strcmp(action, "flush") == 0)
		rc = admin_check(cli, &a, 0, 1, 2);
	else if (strcmp(action, "hold") == 0 || strcmp(action, "release") == 0 ||
		 strcmp(action, "delete") == 0)
		rc = admin_check(cli, &a, 0, 2, INT32_MAX);
	else
		rc = admin_usage_error(cli, "unknown action '%s'", action);
	if (rc != 0) {
		admin_args_free(&a);
		return rc;
	}
	if (strcmp(action, "list") == 0) {
		admin_args_free(&a);
		return finish(cli, queue_list_run(cli));
	}
	rc = queue_cli_open(&qc, cli);
	if (rc == 3) {
		cli_error(cli, "there is no queue in %s", qc.cfg->data_dir);
		rc = 1;
	}
	if (rc == 0) {
		if (strcmp(action, "show") == 0)
			rc = queue_show_run(&qc, a.words[1]);
		else if (strcmp(action, "flush") == 0)
			rc = queue_flush_run(&qc, a.count == 2 ? a.words[1] : NULL);
		else {
			what = strcmp(action, "hold") == 0	? CHANGE_HOLD
			       : strcmp(action, "release") == 0 ? CHANGE_RELEASE
								: CHANGE_DELETE;
			rc = queue_change_run(&qc, what, a.words + 1, a.count - 1);
		}
	}
	queue_cli_close(&qc);
	admin_args_free(&a);
	return finish(cli, rc);
}

int
cmd_mailq(struct cli *cli, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs("usage: mailq\n       postern mailq\n\n"
			      "List the relay queue: 'postern queue list'. Options are ignored\n"
			      "(as sendmail's mailq ignores -v and the like).\n",
			      stdout);
			return 0;
		}
	}
	cli->as_data_owner = true;
	return finish(cli, queue_list_run(cli));
}
