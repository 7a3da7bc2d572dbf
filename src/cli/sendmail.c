/* sendmail.c - 'postern sendmail' and the binary invoked as 'sendmail':
 * the sendmail command-line interface (options, the message on standard
 * input, exit codes). docs/sendmail.md describes it. */
#include "lib/common.h"

#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail.h"
#include "lib/config.h"
#include "lib/xalloc.h"
#include "queue/queue.h"

#define READ_CHUNK 65536

static const char sendmail_usage[] =
    "usage: sendmail [-t] [-i] [-f SENDER] [-F NAME] [-N DSN] [-R full|hdrs] [-V ENVID]\n"
    "                [-bm|-bs|-bp] [--] [RECIPIENT...]\n"
    "       postern [--data DIR] [-c FILE] sendmail [OPTION...] [--] [RECIPIENT...]\n"
    "\n"
    "Queue the message read from standard input for the recipients.\n"
    "\n"
    "  -t         recipients also from To:, Cc:, Bcc: (Resent-* when present);\n"
    "             Bcc: is removed from the message\n"
    "  -i, -oi    a line with a single '.' does not end the message\n"
    "  -f ADDR    envelope sender (also -r; '<>' for none); default LOGIN@HOSTNAME\n"
    "  -F NAME    full name for the From: field added when the message has none\n"
    "  -N DSN     never, or a list of success, failure, delay\n"
    "  -R RET     full or hdrs: what a delivery status notification returns\n"
    "  -V ENVID   envelope id for notifications\n"
    "  -bm        read a message from standard input (the default)\n"
    "  -bs        speak SMTP on standard input and output\n"
    "  -bp        list the queue (mailq)\n"
    "  -q         ask the queue runner to try deferred mail now\n"
    "\n"
    "Accepted and ignored: -B TYPE, -odb, -odi, -oem and other -o options, -v, -U,\n"
    "-m, -n, -x, -G, -I, -c, -h N, -L TAG, -C FILE, -O OPT, -X FILE, -p PROTO.\n"
    "Invoked as 'sendmail', the data directory and configuration file come from\n"
    "$POSTERN_DATA and $POSTERN_CONFIG. Exit codes: sysexits.h (0 queued, 64 usage,\n"
    "65 data error, 67 unknown user, 75 try again later, 78 configuration).\n";

/* Options whose letter takes an argument (attached or the next word). */
static const char with_arg[] = "ABCFLNORVXbefhopr";

static int usage_error(struct sendmail *sm, const char *fmt, ...) ATTR_PRINTF(2, 3);

static int
usage_error(struct sendmail *sm, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "postern sendmail: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sendmail --help'.\n");
	return EX_USAGE;
}

static int
notify_parse(const char *s, unsigned *notify_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {{"never", QUEUE_NOTIFY_NEVER},
		     {"success", QUEUE_NOTIFY_SUCCESS},
		     {"failure", QUEUE_NOTIFY_FAILURE},
		     {"delay", QUEUE_NOTIFY_DELAY}};
	unsigned m = 0;

	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		size_t k;
		for (k = 0; k < N_ELEMENTS(words); k++)
			if (ascii_ci_equal(s, n, words[k].name))
				break;
		if (k == N_ELEMENTS(words) || (m & words[k].bit))
			return -1;
		m |= words[k].bit;
		s += n + (s[n] == ',');
	}
	if (m == 0 || !queue_notify_valid(m))
		return -1;
	*notify_r = m;
	return 0;
}

enum mode { MODE_MESSAGE, MODE_SMTP, MODE_LIST, MODE_FLUSH, MODE_ALIASES };

struct invocation {
	enum mode mode;
	const char *etrn; /* -qR */
	char **rcpts;	  /* arguments that are recipients */
	int nrcpts;
};

static int
option_value(struct sendmail *sm, struct invocation *inv, char opt, const char *v)
{
	switch (opt) {
	case 'b':
		if (strcmp(v, "m") == 0)
			inv->mode = MODE_MESSAGE;
		else if (strcmp(v, "s") == 0)
			inv->mode = MODE_SMTP;
		else if (strcmp(v, "p") == 0)
			inv->mode = MODE_LIST;
		else if (strcmp(v, "i") == 0)
			inv->mode = MODE_ALIASES;
		else
			return usage_error(sm, "-b%s is not supported", v);
		break;
	case 'f':
	case 'r':
		sm->sender_opt = v;
		break;
	case 'F':
		sm->full_name = v;
		break;
	case 'N':
		if (notify_parse(v, &sm->notify) < 0)
			return usage_error(sm, "-N %s: never, or success, failure, delay", v);
		break;
	case 'R':
		if (strcasecmp(v, "full") == 0)
			sm->ret = QUEUE_RET_FULL;
		else if (strcasecmp(v, "hdrs") == 0)
			sm->ret = QUEUE_RET_HDRS;
		else
			return usage_error(sm, "-R %s: full or hdrs", v);
		break;
	case 'V':
		if (!queue_envid_valid(v, strlen(v)))
			return usage_error(sm, "-V %s: not a valid envelope id", v);
		sm->envid = v;
		break;
	case 'o':
		if (strcmp(v, "i") == 0)
			sm->dots = false;
		break; /* -odb, -oem, ...: ignored */
	default:
		break; /* -A -B -C -L -O -X -e -h -p: ignored */
	}
	return 0;
}

/* Parse argv[1..]: options anywhere before "--", the other words are
 * recipients. Returns 0, 1 for --help (printed), or EX_USAGE. */
static int
options_parse(struct sendmail *sm, struct invocation *inv, int argc, char **argv)
{
	bool only_rcpts = false;

	inv->rcpts = xcalloc((size_t)argc + 1, sizeof(*inv->rcpts));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_rcpts || arg[0] != '-' || arg[1] == '\0') {
			inv->rcpts[inv->nrcpts++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_rcpts = true;
			continue;
		}
		if (arg[1] == '-') {
			if (strcmp(arg, "--help") == 0) {
				fputs(sendmail_usage, stdout);
				return 1;
			}
			int r = cli_global_option(sm->cli, argc, argv, &i);
			if (r < 0)
				return EX_USAGE;
			if (r == 0)
				return usage_error(sm, "unknown option '%s'", arg);
			i--;
			continue;
		}
		for (const char *p = arg + 1; *p != '\0'; p++) {
			char opt = *p;
			if (opt == 'q') {
				inv->mode = MODE_FLUSH;
				if (p[1] == 'R' && p[2] != '\0')
					inv->etrn = p + 2;
				break;
			}
			if (strchr(with_arg, opt) != NULL) {
				const char *v =
				    p[1] != '\0' ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (v == NULL) {
					char o[3] = {'-', opt, '\0'};
					return usage_error(sm, "option %s needs a value", o);
				}
				int r = option_value(sm, inv, opt, v);
				if (r != 0)
					return r;
				break;
			}
			if (opt == 't')
				sm->extract = true;
			else if (opt == 'i')
				sm->dots = false;
			else if (strchr("GIUcmnvx", opt) == NULL) {
				char o[3] = {'-', opt, '\0'};
				return usage_error(sm, "unknown option '%s'", o);
			}
		}
	}
	return 0;
}

/* Read the message: LF or CRLF line ends become CRLF, a bare CR is
 * dropped, a final line without an end gets one; a line "." ends it
 * unless -i. 0, EX_DATAERR (too large) or EX_IOERR. */
static int
read_message(struct sendmail *sm, struct buf *msg, struct buf *why)
{
	uint64_t max = sm->cfg->smtpd_max_message_size;
	size_t cap = max == 0 || max > QUEUE_CONTENT_MAX ? (size_t)QUEUE_CONTENT_MAX : (size_t)max;
	struct buf line;
	char *chunk = xmalloc(READ_CHUNK);
	int rc = 0;
	bool done = false, eof = false;

	buf_init(&line, BUF_UNLIMITED);
	while (!done && rc == 0) {
		ssize_t n = eof ? 0 : read(STDIN_FILENO, chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sendmail_why(why, "standard input: %s", strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (n == 0)
			eof = true;
		for (ssize_t i = 0; i <= n && rc == 0 && !done; i++) {
			bool end_of_line = i < n ? chunk[i] == '\n' : (eof && line.len > 0);
			if (i == n && !end_of_line)
				break;
			if (!end_of_line) {
				if (chunk[i] != '\r' && buf_add_char(&line, chunk[i]) < 0)
					panic("sendmail: line");
				if (msg->len + line.len > cap)
					rc = EX_DATAERR;
				continue;
			}
			if (sm->dots && line.len == 1 && line.data[0] == '.') {
				done = true;
				break;
			}
			if (msg->len + line.len + 2 > cap) {
				rc = EX_DATAERR;
				break;
			}
			if (buf_add(msg, line.data, line.len) < 0 || buf_add_str(msg, "\r\n") < 0)
				panic("sendmail: message");
			buf_reset(&line);
		}
		if (eof)
			done = true;
	}
	if (rc == EX_DATAERR)
		sendmail_why(why, "message larger than %zu bytes", cap);
	buf_release(&line);
	free(chunk);
	return rc;
}

static int
run_message(struct sendmail *sm, struct invocation *inv)
{
	struct submit_request req = {.ret = sm->ret};
	struct buf msg, why;
	char *from = NULL;
	char id[QUEUE_ID_SIZE];
	int rc = 0;

	buf_init(&msg, BUF_UNLIMITED);
	buf_init(&why, 1024);
	if (sm->sender_opt != NULL) {
		const char *s = sm->sender_opt;
		size_t n = strlen(s);
		if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
			s++, n -= 2;
		req.sender = xstrndup(s, n);
		if (!queue_addr_valid(req.sender, n, true)) {
			sendmail_why(&why, "bad sender address: %s", sm->sender_opt);
			rc = EX_DATAERR;
		}
	} else if (sm->login[0] == '\0') {
		sendmail_why(&why, "uid %lu has no login name; give the sender with -f",
			     (unsigned long)sm->uid);
		rc = EX_NOUSER;
	} else {
		req.sender = xasprintf("%s@%s", sm->login, sm->cfg->hostname);
	}
	if (rc == 0)
		from = sendmail_from(sm, req.sender);
	for (int i = 0; i < inv->nrcpts && rc == 0; i++)
		rc = sendmail_add_rcpts(sm, inv->rcpts[i], strlen(inv->rcpts[i]), &req, &why);
	if (rc == 0)
		rc = read_message(sm, &msg, &why);
	if (rc == 0)
		rc = sendmail_fixup(sm, &msg, from, sm->extract, &req, &why);
	if (rc == 0 && req.nrcpts == 0) {
		sendmail_why(&why, "%s", "no recipients");
		rc = EX_DATAERR;
	}
	for (size_t i = 0; i < req.nrcpts; i++)
		req.rcpts[i].notify = sm->notify;
	if (rc == 0 && sm->envid != NULL)
		req.envid = xstrdup(sm->envid);
	if (rc == 0)
		rc =
		    sendmail_deliver(sm, &req, msg.data != NULL ? msg.data : "", msg.len, id, &why);
	if (rc != 0)
		fprintf(stderr, "postern sendmail: %s\n", why.data);
	submit_request_free(&req);
	free(from);
	buf_release(&why);
	buf_release(&msg);
	return rc;
}

static int
run_flush(struct sendmail *sm, const char *etrn)
{
	struct buf reply;
	const char *error;

	buf_init(&reply, 1024);
	int code = submit_flush(sm->sock, NULL, etrn, &reply, &error);
	if (code != 250)
		fprintf(stderr, "postern sendmail: %s\n",
			code < 0 ? "mail system is not running" : reply.data);
	buf_release(&reply);
	return code == 250 ? 0 : code < 0 ? EX_TEMPFAIL : EX_NOPERM;
}

int
cmd_sendmail(struct cli *cli, int argc, char **argv)
{
	struct sendmail sm = {.cli = cli, .dots = true};
	struct invocation inv = {MODE_MESSAGE, NULL, NULL, 0};
	char pwbuf[4096];
	struct passwd pw, *found = NULL;
	int rc;

	cli->command = "sendmail";
	cli->as_data_owner = false;
	rc = options_parse(&sm, &inv, argc, argv);
	if (rc != 0) {
		free(inv.rcpts);
		return rc == 1 ? 0 : rc;
	}
	if (inv.mode == MODE_LIST) {
		free(inv.rcpts);
		return cmd_mailq(cli, 1, argv);
	}
	if (inv.mode == MODE_ALIASES) {
		free(inv.rcpts);
		printf("postern sendmail: aliases live in the accounts database "
		       "('postern alias'); nothing to rebuild\n");
		return 0;
	}
	sm.cfg = cli_config(cli);
	if (sm.cfg == NULL) {
		free(inv.rcpts);
		return EX_CONFIG;
	}
	sm.sock = xasprintf("%s/%s", sm.cfg->data_dir, SUBMIT_SOCKET);
	sm.uid = getuid();
	if (getpwuid_r(sm.uid, &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL)
		(void)str_copy(sm.login, sizeof(sm.login), pw.pw_name);
	if (inv.mode == MODE_FLUSH)
		rc = run_flush(&sm, inv.etrn);
	else if (inv.mode == MODE_SMTP)
		rc = sendmail_smtp(&sm);
	else
		rc = run_message(&sm, &inv);
	queue_close(&sm.q);
	config_free(&sm.cfg);
	free(sm.sock);
	free(inv.rcpts);
	return rc;
}
