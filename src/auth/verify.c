/* verify.c - login checks on a thread pool, with a cache of successes. */
#include "lib/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/verify.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/accounts.h"

#define CACHE_SLOTS 4096
/* Requests waiting for a thread before new ones are refused (tempfail). */
#define QUEUE_MAX 1024

struct cache_entry {
	uint8_t key[32];
	uint8_t mac[32];
	time_t expires;
};

struct auth_request {
	struct auth_verifier *v;
	struct auth_request *next;  /* in the job queue */
	auth_verify_cb *cb;
	void *ctx;
	char *address;              /* canonical */
	char *password;
	char *stored;               /* hash to verify against */
	bool must_fail;             /* unknown or disabled user: verify for timing only */
	const char *fail_reason;
	enum auth_result result;
	struct event *ev;           /* deferred callback or failure delay */
	atomic_bool cancelled;
	bool in_thread;             /* owned by the pool until it comes back */
	bool verified;              /* thread result */
	char error[128];
};

struct auth_verifier {
	struct event_base *base;
	unsigned nthreads, ttl, failure_delay_ms;
	pthread_t *threads;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth_request *head, *tail;
	size_t queued;
	bool stopping;
	int pipe_rd, pipe_wr;
	struct event *pipe_ev;
	uint8_t secret[32];
	struct cache_entry *cache;
	atomic_ulong hashes;
};

static void
cache_key(const struct auth_request *r, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 32;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, r->address, strlen(r->address) + 1) != 1 ||
	    EVP_DigestUpdate(md, r->stored, strlen(r->stored)) != 1 ||
	    EVP_DigestFinal_ex(md, out, &len) != 1)
		fatal("auth cache: SHA-256 failed");
	EVP_MD_CTX_free(md);
}

static void
cache_mac(const struct auth_verifier *v, const struct auth_request *r, uint8_t out[32])
{
	struct buf msg;
	unsigned len = 32;

	buf_init(&msg, BUF_UNLIMITED);
	if (buf_add(&msg, r->password, strlen(r->password) + 1) < 0 ||
	    buf_add_str(&msg, r->stored) < 0)
		panic("auth cache: buffer");
	if (HMAC(EVP_sha256(), v->secret, sizeof(v->secret), (const uint8_t *)msg.data, msg.len,
		 out, &len) == NULL)
		fatal("auth cache: HMAC failed");
	OPENSSL_cleanse(msg.data, msg.len);
	buf_release(&msg);
}

static struct cache_entry *
cache_slot(struct auth_verifier *v, const uint8_t key[32])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return &v->cache[h % CACHE_SLOTS];
}

static bool
cache_hit(struct auth_verifier *v, const struct auth_request *r)
{
	uint8_t key[32], mac[32];

	if (v->cache == NULL)
		return false;
	cache_key(r, key);
	struct cache_entry *e = cache_slot(v, key);
	if (e->expires < time(NULL) || CRYPTO_memcmp(e->key, key, 32) != 0)
		return false;
	cache_mac(v, r, mac);
	return CRYPTO_memcmp(e->mac, mac, 32) == 0;
}

static void
cache_store(struct auth_verifier *v, const struct auth_request *r)
{
	if (v->cache == NULL)
		return;
	uint8_t key[32];
	cache_key(r, key);
	struct cache_entry *e = cache_slot(v, key);
	memcpy(e->key, key, 32);
	cache_mac(v, r, e->mac);
	e->expires = time(NULL) + v->ttl;
}

static void
request_free(struct auth_request *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	free(r->address);
	if (r->password != NULL) {
		OPENSSL_cleanse(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->stored);
	free(r);
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *r = arg;

	if (!atomic_load(&r->cancelled))
		r->cb(r->result, r->result == AUTH_OK ? r->address : NULL, r->fail_reason, r->ctx);
	request_free(r);
}

/* Report r from the event loop after delay_ms. */
static void
finish(struct auth_request *r, enum auth_result result, unsigned delay_ms)
{
	struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};

	r->result = result;
	r->ev = evtimer_new(r->v->base, deliver, r);
	if (r->ev == NULL)
		fatal("auth: evtimer_new failed");
	evtimer_add(r->ev, &tv);
}

static void *
worker_thread(void *arg)
{
	struct auth_verifier *v = arg;

	for (;;) {
		pthread_mutex_lock(&v->lock);
		while (v->head == NULL && !v->stopping)
			pthread_cond_wait(&v->cond, &v->lock);
		if (v->head == NULL) {
			pthread_mutex_unlock(&v->lock);
			return NULL;
		}
		struct auth_request *r = v->head;
		v->head = r->next;
		if (v->head == NULL)
			v->tail = NULL;
		v->queued--;
		pthread_mutex_unlock(&v->lock);

		if (!atomic_load(&r->cancelled)) {
			const char *error = NULL;
			int ret = password_verify(r->password, r->stored, &error);
			atomic_fetch_add(&v->hashes, 1);
			r->verified = ret == 1;
			if (ret < 0)
				snprintf(r->error, sizeof(r->error), "unusable password hash: %s",
					 error != NULL ? error : "?");
		}
		ssize_t n;
		do
			n = write(v->pipe_wr, &r, sizeof(r));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(r))
			fatal("auth: result pipe: %s", strerror(errno));
	}
}

static void
results_ready(evutil_socket_t fd, short what, void *arg)
{
	struct auth_verifier *v = arg;
	struct auth_request *r;

	while (read(v->pipe_rd, &r, sizeof(r)) == sizeof(r)) {
		r->in_thread = false;
		if (atomic_load(&r->cancelled)) {
			request_free(r);
			continue;
		}
		if (r->verified && !r->must_fail) {
			cache_store(v, r);
			finish(r, AUTH_OK, 0);
			continue;
		}
		if (r->fail_reason == NULL)
			r->fail_reason = r->error[0] != '\0' ? r->error : "wrong password";
		finish(r, AUTH_FAILED, v->failure_delay_ms);
	}
}

struct auth_verifier *
auth_verifier_new(struct event_base *base, unsigned threads, unsigned ttl,
		  unsigned failure_delay_ms)
{
	struct auth_verifier *v = xcalloc(1, sizeof(*v));
	int fds[2];

	v->base = base;
	v->nthreads = threads ? threads : 1;
	v->ttl = ttl;
	v->failure_delay_ms = failure_delay_ms;
	if (ttl > 0)
		v->cache = xcalloc(CACHE_SLOTS, sizeof(*v->cache));
	arc4random_buf(v->secret, sizeof(v->secret));
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("auth: pipe: %s", strerror(errno));
	/* The writers (threads) block rather than lose a result. */
	if (fcntl(fds[1], F_SETFL, 0) < 0)
		fatal("auth: fcntl: %s", strerror(errno));
	v->pipe_rd = fds[0];
	v->pipe_wr = fds[1];
	v->pipe_ev = event_new(base, v->pipe_rd, EV_READ | EV_PERSIST, results_ready, v);
	event_add(v->pipe_ev, NULL);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	return v;
}

static void
start_threads(struct auth_verifier *v)
{
	v->threads = xcalloc(v->nthreads, sizeof(*v->threads));
	for (unsigned i = 0; i < v->nthreads; i++) {
		int err = pthread_create(&v->threads[i], NULL, worker_thread, v);
		if (err != 0)
			fatal("auth: pthread_create: %s", strerror(err));
	}
	v->started = true;
}

struct auth_request *
auth_verify(struct auth_verifier *v, struct accounts *db, const char *address,
	    const char *password, auth_verify_cb *cb, void *ctx)
{
	struct auth_request *r = xcalloc(1, sizeof(*r));
	struct buf canon;
	struct accounts_user user = {0};
	const char *error;

	r->v = v;
	r->cb = cb;
	r->ctx = ctx;
	atomic_init(&r->cancelled, false);
	r->password = xstrdup(password);
	buf_init(&canon, ADDR_INPUT_MAX);
	if (addr_canon(address, &canon, &error) < 0) {
		r->address = xstrdup("");
		r->must_fail = true;
		r->fail_reason = "invalid user name";
	} else {
		r->address = buf_steal(&canon);
		int found = accounts_user_get(db, r->address, &user, &error);
		if (found < 0 && found != ACCOUNTS_ERR_NOT_FOUND) {
			log_error("auth: looking up %s: %s", r->address, error);
			buf_release(&canon);
			finish(r, AUTH_TEMPFAIL, 0);
			return r;
		}
		if (found < 0) {
			r->must_fail = true;
			r->fail_reason = "unknown user";
		} else if (!user.enabled) {
			r->must_fail = true;
			r->fail_reason = "account disabled";
		} else {
			r->stored = xstrdup(user.password);
		}
		accounts_user_clear(&user);
	}
	buf_release(&canon);
	if (r->stored == NULL)
		r->stored = xstrdup(password_dummy_hash());
	if (!r->must_fail && cache_hit(v, r)) {
		finish(r, AUTH_OK, 0);
		return r;
	}
	pthread_mutex_lock(&v->lock);
	if (v->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&v->lock);
		r->fail_reason = "too many logins in progress";
		finish(r, AUTH_TEMPFAIL, 0);
		return r;
	}
	if (!v->started)
		start_threads(v);
	r->in_thread = true;
	if (v->tail != NULL)
		v->tail->next = r;
	else
		v->head = r;
	v->tail = r;
	v->queued++;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return r;
}

void
auth_request_cancel(struct auth_request **reqp)
{
	struct auth_request *r = *reqp;

	if (r == NULL)
		return;
	*reqp = NULL;
	atomic_store(&r->cancelled, true);
	/* In the pool: freed when it comes back. Otherwise its event is
	 * pending: free now. */
	if (!r->in_thread)
		request_free(r);
}

unsigned long
auth_verifier_hashes(const struct auth_verifier *v)
{
	return atomic_load(&v->hashes);
}

void
auth_verifier_free(struct auth_verifier **vp)
{
	struct auth_verifier *v = *vp;

	if (v == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (v->started)
		for (unsigned i = 0; i < v->nthreads; i++)
			pthread_join(v->threads[i], NULL);
	/* Whatever came back after the loop stopped. */
	struct auth_request *r;
	while (read(v->pipe_rd, &r, sizeof(r)) == sizeof(r))
		request_free(r);
	for (r = v->head; r != NULL;) {
		struct auth_request *next = r->next;
		request_free(r);
		r = next;
	}
	event_free(v->pipe_ev);
	close(v->pipe_rd);
	close(v->pipe_wr);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	if (v->cache != NULL) {
		OPENSSL_cleanse(v->cache, CACHE_SLOTS * sizeof(*v->cache));
		free(v->cache);
	}
	OPENSSL_cleanse(v->secret, sizeof(v->secret));
	free(v->threads);
	free(v);
	*vp = NULL;
}
