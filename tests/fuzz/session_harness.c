/* session_harness.c - a real server session run in-process (see
 * session_harness.h). */
#include "lib/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/password.h"
#include "auth/verify.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/workpool.h"
#include "queue/queue.h"
#include "server/conn.h"
#include "server/server.h"
#include "session_harness.h"
#include "store/accounts.h"
#include "store/store.h"

/* Loop turns a session may take before the harness gives up on it
 * standing still (a session that talks forever is cut off, not hung). */
#define MAX_TURNS 20000
/* Turns without any progress after which the session stands still: a
 * timer of 0 s added in one turn runs in the next. */
#define STILL_TURNS 3

static const char *const messages[] = {
    "From: Alice <alice@example.net>\r\nTo: " HARNESS_USER "\r\n"
    "Subject: first\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <1@example.net>\r\n\r\nHello.\r\n",
    "From: bob@example.net\r\nTo: " HARNESS_USER "\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    "--b\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--b--\r\n",
    "From: carol@example.net\r\nTo: " HARNESS_USER "\r\nSubject: third\r\n\r\n"
    "line 1\r\n.line 2\r\n\r\n",
};

static struct {
	bool ready;
	char base[64]; /* our directory under /dev/shm or /tmp */
	char tmpl[96]; /* the template data directory */
	char work[96]; /* the data directory of the current session */
	struct server srv;
	uint64_t received; /* bytes the client end has read */
	bool echo;	   /* HARNESS_ECHO: replies to stderr */
} h;

static void
die(const char *what, const char *error)
{
	fprintf(stderr, "session harness: %s: %s\n", what, error);
	exit(2);
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void
rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		die(path, strerror(errno));
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	char chunk[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);

	if (in < 0 || out < 0)
		die(from, strerror(errno));
	while ((n = read(in, chunk, sizeof(chunk))) > 0)
		if (write(out, chunk, (size_t)n) != n)
			die(to, strerror(errno));
	if (n < 0)
		die(from, strerror(errno));
	close(in);
	close(out);
}

/* nftw passes no context: the copy goes from h.tmpl to h.work. */
static int
copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char to[PATH_MAX];
	size_t skip = strlen(h.tmpl);

	if (snprintf(to, sizeof(to), "%s%s", h.work, path + skip) >= (int)sizeof(to))
		die(path, "path too long");
	if (type == FTW_D) {
		if (mkdir(to, st->st_mode & 07777) < 0)
			die(to, strerror(errno));
	} else if (type == FTW_F) {
		copy_file(path, to, st->st_mode);
	} else {
		die(path, "unexpected file type in the template");
	}
	return 0;
}

static void
deliver_samples(struct store *store)
{
	const char *error;

	for (size_t i = 0; i < N_ELEMENTS(messages); i++) {
		struct store_spool *spool;
		struct store_rcpt rcpt = {.address = HARNESS_USER};
		struct store_result result;

		if (i == 0)
			rcpt.flags = STORE_FLAG_SEEN;
		if (store_spool_open(store, &spool, &error) < 0 ||
		    store_spool_write_crlf(spool, messages[i], strlen(messages[i]), &error) < 0 ||
		    store_spool_finish(spool, NULL, &error) < 0)
			die("sample message", error);
		if (store_deliver(spool, &rcpt, 1, &result) != 1)
			die("sample delivery", result.message);
		store_spool_free(&spool);
	}
}

/* The template data directory: the domain, the user, their messages. */
static void
make_template(void)
{
	static const struct password_cost cheap = {.m_kib = 8, .t = 1, .p = 1};
	struct accounts *db;
	struct store *store;
	struct queue *q;
	struct buf hash;
	const char *error;

	if (mkdir(h.tmpl, 0700) < 0 || chdir(h.tmpl) < 0)
		die(h.tmpl, strerror(errno));
	buf_init(&hash, BUF_UNLIMITED);
	if (accounts_open(".", &db, &error) < 0 ||
	    accounts_domain_add(db, HARNESS_DOMAIN, &error) < 0 ||
	    password_hash_cost(HARNESS_PASSWORD, &cheap, &hash, &error) < 0 ||
	    accounts_user_add(db, HARNESS_USER, buf_cstr(&hash), 0, true, &error) < 0 ||
	    accounts_user_set_apop(db, HARNESS_USER, HARNESS_APOP, &error) < 0)
		die("accounts", error);
	buf_release(&hash);
	accounts_close(&db);
	if (store_open(".", h.srv.cfg->hostname, &store, &error) < 0)
		die("store", error);
	deliver_samples(store);
	store_close(&store);
	if (queue_setup(QUEUE_DIR, (uid_t)-1, (gid_t)-1, &error) < 0 ||
	    queue_open(QUEUE_DIR, &q, &error) < 0)
		die("queue", error);
	queue_close(&q);
	if (chdir(h.base) < 0)
		die(h.base, strerror(errno));
}

static void
cleanup(void)
{
	if (h.base[0] != '\0' && chdir("/") == 0)
		rm_tree(h.base);
}

/* A run that crashed left its directory (libFuzzer exits without atexit
 * handlers then): remove those of processes that are gone. */
static void
remove_stale(const char *top)
{
	char path[PATH_MAX];
	DIR *dir = opendir(top);
	struct dirent *de;
	long pid;
	char end;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		/* Alive (or another user's: EPERM) when kill does not say ESRCH. */
		if (sscanf(de->d_name, "postern-fuzz-%ld%c", &pid, &end) != 1 || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", top, de->d_name) < (int)sizeof(path))
			rm_tree(path);
	}
	closedir(dir);
}

static void
setup(void)
{
	static const char *const settings[][2] = {
	    {"server.hostname", "mx.example.org"},
	    {"auth.failure_delay", "0"},
	    {"auth.threads", "1"},
	    {"smtpd.delivery_threads", "1"},
	    {"smtpd.max_message_size", "1M"},
	    /* answered to anyone: their replies quote the client's words */
	    {"smtpd.vrfy", "all"},
	    {"smtpd.expn", "all"},
	};
	const char *error;

	signal(SIGPIPE, SIG_IGN);
	h.echo = getenv("HARNESS_ECHO") != NULL;
	log_open("fuzz", getenv("HARNESS_LOG") != NULL ? LOG_LVL_DEBUG : LOG_LVL_ERROR + 1, false);
	h.srv.cfg = config_new();
	for (size_t i = 0; i < N_ELEMENTS(settings); i++)
		if (config_set(h.srv.cfg, settings[i][0], settings[i][1], &error) < 0)
			die("config", error);
	if (config_finish(h.srv.cfg, geteuid(), &error) < 0)
		die("config", error);
	h.srv.base = event_base_new();
	if (h.srv.base == NULL)
		die("event_base_new", "failed");
	const char *top = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	remove_stale(top);
	snprintf(h.base, sizeof(h.base), "%s/postern-fuzz-%ld", top, (long)getpid());
	rm_tree(h.base);
	if (mkdir(h.base, 0700) < 0)
		die(h.base, strerror(errno));
	atexit(cleanup);
	snprintf(h.tmpl, sizeof(h.tmpl), "%s/template", h.base);
	snprintf(h.work, sizeof(h.work), "%s/data", h.base);
	make_template();
	h.ready = true;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	h.received += evbuffer_get_length(in);
	if (h.echo)
		(void)evbuffer_write(in, STDERR_FILENO);
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* What changes while the session makes progress. */
struct progress {
	size_t server_in, client_out, conns;
	uint64_t received;
};

static struct progress
progress_now(struct bufferevent *server_end, struct bufferevent *client)
{
	struct progress p = {
	    .client_out = evbuffer_get_length(bufferevent_get_output(client)),
	    .conns = h.srv.conn_count,
	    .received = h.received,
	};

	/* The server end is freed when the session closes. */
	if (h.srv.conn_count > 0)
		p.server_in = evbuffer_get_length(bufferevent_get_input(server_end));
	return p;
}

static bool
pools_busy(void)
{
	return (h.srv.delivery != NULL && workpool_pending(h.srv.delivery) > 0) ||
	       (h.srv.auth != NULL && auth_verifier_pending(h.srv.auth) > 0);
}

/* Run the loop until the session stands still or is closed. */
static void
run_until_still(struct bufferevent *server_end, struct bufferevent *client)
{
	unsigned still = 0;

	for (unsigned turn = 0; turn < MAX_TURNS && h.srv.conn_count > 0; turn++) {
		struct progress before = progress_now(server_end, client);
		if (pools_busy()) {
			/* A thread reports through a pipe: wait for it. */
			event_base_loop(h.srv.base, EVLOOP_ONCE);
			still = 0;
			continue;
		}
		event_base_loop(h.srv.base, EVLOOP_NONBLOCK);
		struct progress after = progress_now(server_end, client);
		if (memcmp(&before, &after, sizeof(before)) != 0)
			still = 0;
		else if (++still >= STILL_TURNS)
			return;
	}
}

static void
close_resources(void)
{
	struct server *srv = &h.srv;

	workpool_free(&srv->delivery);
	auth_verifier_free(&srv->auth);
	queue_close(&srv->queue);
	store_close(&srv->store);
	accounts_close(&srv->accounts);
}

void
harness_session(enum service svc, const void *prefix, size_t prefix_len, const uint8_t *input,
		size_t len)
{
	struct bufferevent *pair[2];

	if (!h.ready)
		setup();
	rm_tree(h.work);
	if (nftw(h.tmpl, copy_one, 16, FTW_PHYS) < 0 || chdir(h.work) < 0)
		die(h.work, strerror(errno));
	if (bufferevent_pair_new(h.srv.base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
				 pair) < 0)
		die("bufferevent_pair_new", "failed");
	bufferevent_setcb(pair[1], client_read, NULL, NULL, NULL);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	conn_open_bufferevent(&h.srv, svc, pair[0], "127.0.0.1", true);
	if (prefix_len > 0)
		bufferevent_write(pair[1], prefix, prefix_len);
	if (len > 0)
		bufferevent_write(pair[1], input, len);
	run_until_still(pair[0], pair[1]);
	/* The client hangs up: the session sees the end of its input. */
	if (h.srv.conn_count > 0)
		bufferevent_flush(pair[1], EV_WRITE, BEV_FINISHED);
	for (unsigned turn = 0; turn < MAX_TURNS && h.srv.conn_count > 0; turn++)
		event_base_loop(h.srv.base, pools_busy() ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
	if (h.srv.conn_count > 0)
		die("session", "still open after the client hung up");
	bufferevent_free(pair[1]);
	close_resources();
	if (chdir(h.base) < 0)
		die(h.base, strerror(errno));
}
