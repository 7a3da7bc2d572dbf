/* master.c - the master process: listeners, workers, signals, reload. */
#include "lib/common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/penalty.h"
#include "cli/cli.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "server/datadir.h"
#include "server/limits.h"
#include "server/master.h"
#include "server/privs.h"
#include "server/runner.h"
#include "server/server.h"

#define MAX_WORKERS 32
/* A dead worker is replaced at once. Only when workers keep dying within
 * RESPAWN_QUICK_DEATH seconds of their start, RESPAWN_LOOP times in a row,
 * does the master wait RESPAWN_DELAY between attempts, so that a crash
 * loop does not spin. */
#define RESPAWN_QUICK_DEATH 2
#define RESPAWN_LOOP 3
#define RESPAWN_DELAY 1
/* The queue runner is forked and watched like a worker, with this index. */
#define RUNNER_INDEX 0

struct worker_proc {
	pid_t pid; /* 0: free slot */
	int row;
	unsigned index;
	unsigned generation;
	time_t started;
};

struct master {
	const struct cli *cli;
	struct server srv; /* what the current generation of workers serves */
	bool root;
	struct privs privs;
	pid_t pid;
	unsigned generation;
	unsigned nworkers;
	struct worker_proc workers[LIMITS_ROWS];
	unsigned quick_deaths; /* consecutive deaths soon after start */
	bool stopping;
	struct event_base *base;
	struct event *kill_timer;
	struct event *respawn_timer;
};

/* server.workers, or one per core, at most MAX_WORKERS. */
static unsigned
workers_wanted(const struct config *cfg)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cfg->workers != 0)
		return MIN(cfg->workers, MAX_WORKERS);
	return cores > 0 ? (unsigned)MIN(cores, MAX_WORKERS) : 1;
}

static void
listeners_close(struct listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ls[i].fd >= 0)
			close(ls[i].fd);
}

static int
bind_one(struct listener *l, enum service svc, const char *host, uint16_t port)
{
	bool v6 = strchr(host, ':') != NULL;

	l->svc = svc;
	l->port = port;
	l->evl = NULL;
	l->srv = NULL;
	if (str_copy(l->host, sizeof(l->host), host) < 0)
		return -1;
	snprintf(l->name, sizeof(l->name), "%s %s%s%s:%u", config_service_name(svc),
		 v6 ? "[" : "", host, v6 ? "]" : "", port);
	l->fd = net_listen(host, port, 1024);
	return l->fd < 0 ? -1 : 0;
}

/* Bind every listener of cfg, reusing the open sockets in old[] for
 * addresses that did not change (they are moved: their fd becomes -1).
 * Returns -1 (nothing bound left open) with a message in err. */
static int
listeners_open(const struct config *cfg, struct listener *old, size_t nold,
	       struct listener **ls_r, size_t *n_r, char *err, size_t errsize)
{
	struct listener *ls = NULL;
	size_t n = 0;

	for (int s = 0; s < SVC_COUNT; s++) {
		const struct service_config *svc = &cfg->svc[s];
		for (size_t a = 0; a < svc->listen_count; a++) {
			const struct listen_addr *la = &svc->listen[a];
			bool any = strcmp(la->host, "*") == 0;
			const char *hosts[2] = {any ? "0.0.0.0" : la->host, any ? "::" : NULL};
			for (size_t h = 0; h < 2 && hosts[h] != NULL; h++) {
				ls = xreallocarray(ls, n + 1, sizeof(*ls));
				struct listener *l = &ls[n];
				size_t k;
				for (k = 0; k < nold; k++)
					if (old[k].fd >= 0 && old[k].svc == (enum service)s &&
					    old[k].port == la->port &&
					    strcmp(old[k].host, hosts[h]) == 0)
						break;
				if (k < nold) {
					*l = old[k];
					old[k].fd = -1;
					n++;
					continue;
				}
				if (bind_one(l, (enum service)s, hosts[h], la->port) == 0) {
					n++;
					continue;
				}
				/* "*" without IPv6 on this host: IPv4 alone is fine. */
				if (h == 1 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
					continue;
				snprintf(err, errsize, "%s: cannot listen: %s", l->name,
					 strerror(errno));
				/* Give moved sockets back, close new ones. */
				for (size_t i = 0; i < n; i++) {
					for (k = 0; k < nold; k++)
						if (old[k].fd < 0 && old[k].svc == ls[i].svc &&
						    old[k].port == ls[i].port &&
						    strcmp(old[k].host, ls[i].host) == 0)
							break;
					if (k < nold)
						old[k].fd = ls[i].fd;
					else
						close(ls[i].fd);
				}
				free(ls);
				return -1;
			}
		}
	}
	*ls_r = ls;
	*n_r = n;
	return 0;
}

/* The configured certificate, read as root (it may be root's alone); or
 * the self-signed one in the data directory, made and read with the
 * server user's rights (datadir.h). */
static SSL_CTX *
load_tls(const struct config *cfg, const struct master *m, const char **error_r)
{
	struct datadir_visit v;
	char *cert = NULL, *key = NULL;
	SSL_CTX *ctx = NULL;

	if (cfg->tls_cert != NULL)
		return tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, error_r);
	if (datadir_enter(cfg->data_dir, m->root ? &m->privs : NULL, &v, error_r) < 0)
		return NULL;
	if (tls_selfsigned_ensure(".", cfg->hostname, &cert, &key, error_r) >= 0)
		ctx = tls_server_ctx_new(cert, key, error_r);
	datadir_leave(&v);
	free(cert);
	free(key);
	return ctx;
}

static void
spawn_worker(struct master *m, unsigned index)
{
	struct worker_proc *w = NULL;

	for (size_t i = 0; i < N_ELEMENTS(m->workers); i++)
		if (m->workers[i].pid == 0) {
			w = &m->workers[i];
			break;
		}
	/* The runner accepts no connection, so it has no row (a row in use
	 * that never accepted would only be counted for nothing). */
	int row = w != NULL && index != RUNNER_INDEX ? limits_row_claim(m->srv.limits) : -1;
	if (w == NULL || (row < 0 && index != RUNNER_INDEX)) {
		log_error("no free worker slot for worker %u", index);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		if (row >= 0)
			limits_row_release(m->srv.limits, row);
		return;
	}
	if (pid == 0) {
		char role[32];
		if (index == RUNNER_INDEX)
			snprintf(role, sizeof(role), "runner");
		else
			snprintf(role, sizeof(role), "worker %u", index);
		log_set_role(role);
		/* The name ps and top show. */
		(void)prctl(PR_SET_NAME, index == RUNNER_INDEX ? "postern-runner" : "postern-worker");
		/* Leave the master's event loop: its epoll instance is shared
		 * with the parent, so give it a private one first, then free
		 * it (this also hands signal handling to the worker's loop). */
		if (event_reinit(m->base) < 0)
			fatal("event_reinit failed");
		event_base_free(m->base);
		m->base = NULL;
		if (chdir(m->srv.cfg->data_dir) < 0)
			fatal("chdir %s: %s", m->srv.cfg->data_dir, strerror(errno));
		/* Out of the session of the terminal the master may have
		 * (postern serve run by hand as root): a child taken over
		 * could otherwise push input into the administrator's shell
		 * (TIOCSTI works only on the caller's controlling terminal).
		 * Standard input is not read; the log may still go to the
		 * terminal. */
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (setsid() < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0)
			fatal("detaching from the terminal: %s", strerror(errno));
		if (null != STDIN_FILENO)
			close(null);
		if (m->root)
			privs_drop(&m->privs);
		/* Die with the master, whatever kills it. Set after the
		 * privilege change, which clears it. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m->pid)
			_exit(1);
		m->srv.limits_row = row;
		m->srv.worker_index = index;
		exit(index == RUNNER_INDEX ? runner_run(&m->srv) : worker_run(&m->srv));
	}
	w->pid = pid;
	w->row = row;
	w->index = index;
	w->generation = m->generation;
	w->started = time(NULL);
	log_debug("worker %u started, pid %ld", index, (long)pid);
}

static bool
generation_has(const struct master *m, unsigned index)
{
	for (size_t i = 0; i < N_ELEMENTS(m->workers); i++)
		if (m->workers[i].pid != 0 && m->workers[i].generation == m->generation &&
		    m->workers[i].index == index)
			return true;
	return false;
}

static void
fill_generation(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	if (m->stopping)
		return;
	for (unsigned i = 1; i <= m->nworkers; i++)
		if (!generation_has(m, i))
			spawn_worker(m, i);
	if (!generation_has(m, RUNNER_INDEX))
		spawn_worker(m, RUNNER_INDEX);
}

static size_t
live_workers(const struct master *m)
{
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMENTS(m->workers); i++)
		n += m->workers[i].pid != 0;
	return n;
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;
	bool respawn_now = false, respawn_later = false;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker_proc *w = NULL;
		for (size_t i = 0; i < N_ELEMENTS(m->workers); i++)
			if (m->workers[i].pid == pid)
				w = &m->workers[i];
		if (w == NULL)
			continue;
		bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		bool current = w->generation == m->generation;
		if (WIFSIGNALED(status))
			log_sid(m->stopping || !current ? LOG_LVL_INFO : LOG_LVL_ERROR, NULL,
				"%s %u (pid %ld) killed by signal %d",
				w->index == RUNNER_INDEX ? "runner" : "worker", w->index, (long)pid,
				WTERMSIG(status));
		else if (!clean || (current && !m->stopping))
			log_error("%s %u (pid %ld) exited with status %d",
				  w->index == RUNNER_INDEX ? "runner" : "worker", w->index,
				  (long)pid, WEXITSTATUS(status));
		if (w->row >= 0)
			limits_row_release(m->srv.limits, w->row);
		if (current && !m->stopping) {
			if (time(NULL) - w->started < RESPAWN_QUICK_DEATH && !clean)
				m->quick_deaths++;
			else
				m->quick_deaths = 0;
			if (m->quick_deaths >= RESPAWN_LOOP)
				respawn_later = true;
			else
				respawn_now = true;
		}
		w->pid = 0;
	}
	if (m->stopping && live_workers(m) == 0) {
		event_base_loopexit(m->base, NULL);
		return;
	}
	if (respawn_now)
		fill_generation(-1, 0, m);
	if (respawn_later) {
		struct timeval delay = {.tv_sec = RESPAWN_DELAY};
		evtimer_add(m->respawn_timer, &delay);
	}
}

static void
signal_generation(struct master *m, int sig, bool old_only)
{
	for (size_t i = 0; i < N_ELEMENTS(m->workers); i++)
		if (m->workers[i].pid != 0 && (!old_only || m->workers[i].generation != m->generation))
			kill(m->workers[i].pid, sig);
}

static void
kill_stragglers(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	log_warning("%zu workers still running after the grace period: killing them",
		    live_workers(m));
	signal_generation(m, SIGKILL, false);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;
	struct timeval deadline = {.tv_sec = m->srv.cfg->grace + 2};

	if (m->stopping)
		return;
	m->stopping = true;
	log_notice("%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	listeners_close(m->srv.listeners, m->srv.listener_count);
	m->srv.listener_count = 0;
	if (live_workers(m) == 0) {
		event_base_loopexit(m->base, NULL);
		return;
	}
	signal_generation(m, SIGTERM, false);
	evtimer_add(m->kill_timer, &deadline);
}

static void
log_listeners(const struct master *m)
{
	for (size_t i = 0; i < m->srv.listener_count; i++)
		log_notice("listening: %s%s", m->srv.listeners[i].name,
			   m->srv.cfg->svc[m->srv.listeners[i].svc].implicit_tls ? " (TLS)" : "");
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;
	struct config *cfg;
	struct listener *ls;
	size_t n;
	char err[512];
	const char *error;

	if (m->stopping)
		return;
	log_notice("SIGHUP received: reloading configuration and certificates");
	if ((cfg = cli_config(m->cli)) == NULL) {
		log_error("reload failed: configuration error; keeping the running one");
		return;
	}
	if (strcmp(cfg->data_dir, m->srv.cfg->data_dir) != 0 ||
	    strcmp(cfg->user, m->srv.cfg->user) != 0)
		log_warning("server.data_dir and server.user changes need a restart; ignored");
	free(cfg->data_dir);
	cfg->data_dir = xstrdup(m->srv.cfg->data_dir);
	SSL_CTX *tls = load_tls(cfg, m, &error);
	if (tls == NULL) {
		log_error("reload failed: TLS: %s; keeping the running configuration", error);
		config_free(&cfg);
		return;
	}
	if (listeners_open(cfg, m->srv.listeners, m->srv.listener_count, &ls, &n, err,
			   sizeof(err)) < 0) {
		log_error("reload failed: %s; keeping the running configuration", err);
		SSL_CTX_free(tls);
		config_free(&cfg);
		return;
	}
	listeners_close(m->srv.listeners, m->srv.listener_count);
	free(m->srv.listeners);
	m->srv.listeners = ls;
	m->srv.listener_count = n;
	SSL_CTX_free(m->srv.tls);
	m->srv.tls = tls;
	config_free(&m->srv.cfg);
	m->srv.cfg = cfg;
	log_set_level(cfg->log_level);
	m->nworkers = workers_wanted(cfg);
	m->generation++;
	log_listeners(m);
	fill_generation(-1, 0, m);
	signal_generation(m, SIGUSR1, true);
}

int
master_run(const struct cli *cli, struct config *cfg)
{
	struct master m = {.cli = cli, .pid = getpid(), .root = geteuid() == 0};
	const char *error;
	char err[512];

	m.srv.cfg = cfg;
	log_open("postern", cfg->log_level, cfg->log_syslog);
	log_set_role("master");
	if (m.root && privs_lookup(cfg->user, &m.privs, &error) < 0)
		fatal("server.user '%s': %s", cfg->user, error);
	datadir_prepare(cfg->data_dir, m.root ? &m.privs : NULL);
	char *abs = realpath(cfg->data_dir, NULL);
	if (abs == NULL)
		fatal("data directory %s: %s", cfg->data_dir, strerror(errno));
	free(cfg->data_dir);
	cfg->data_dir = abs;
	if ((m.srv.tls = load_tls(cfg, &m, &error)) == NULL)
		fatal("TLS: %s", error);
	if (listeners_open(cfg, NULL, 0, &m.srv.listeners, &m.srv.listener_count, err,
			   sizeof(err)) < 0)
		fatal("%s", err);
	m.srv.limits = limits_create();
	m.srv.penalty = auth_penalty_create();
	m.srv.handoff_in = -1;
	m.nworkers = workers_wanted(cfg);

	signal(SIGPIPE, SIG_IGN);
	m.base = event_base_new();
	if (m.base == NULL)
		fatal("event_base_new failed");
	struct event *sig_chld = evsignal_new(m.base, SIGCHLD, on_sigchld, &m);
	struct event *sig_term = evsignal_new(m.base, SIGTERM, on_stop, &m);
	struct event *sig_int = evsignal_new(m.base, SIGINT, on_stop, &m);
	struct event *sig_hup = evsignal_new(m.base, SIGHUP, on_reload, &m);
	m.kill_timer = evtimer_new(m.base, kill_stragglers, &m);
	m.respawn_timer = evtimer_new(m.base, fill_generation, &m);
	evsignal_add(sig_chld, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_hup, NULL);

	log_notice("postern starting: host name %s, data directory %s, %u workers%s%s",
		   cfg->hostname, cfg->data_dir, m.nworkers, m.root ? ", running as " : "",
		   m.root ? m.privs.name : "");
	log_listeners(&m);
	fill_generation(-1, 0, &m);
	event_base_dispatch(m.base);

	log_notice("stopped");
	event_free(sig_chld);
	event_free(sig_term);
	event_free(sig_int);
	event_free(sig_hup);
	event_free(m.kill_timer);
	event_free(m.respawn_timer);
	event_base_free(m.base);
	listeners_close(m.srv.listeners, m.srv.listener_count);
	free(m.srv.listeners);
	SSL_CTX_free(m.srv.tls);
	limits_destroy(&m.srv.limits);
	auth_penalty_destroy(&m.srv.penalty);
	config_free(&m.srv.cfg);
	return 0;
}
