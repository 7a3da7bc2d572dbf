/* verify.c - login checks on a thread pool, with a cache of successes. */
#include "lib/common.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/penalty.h"
#include "auth/verify.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/workpool.h"
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
	auth_verify_cb *cb;
	void *ctx;
	char *address; /* canonical */
	char peer[64]; /* client address, "" when not counted */
	char *password;
	char *stored;	/* hash to verify against */
	bool must_fail; /* unknown or disabled user: verify for timing only */
	const char *fail_reason;
	enum auth_result result;
	struct event *ev;	  /* deferred callback or failure delay */
	struct workpool_job *job; /* while the hash is being verified */
	bool cancelled;
	bool verified; /* the pool's result */
	char error[128];
};

struct auth_verifier {
	struct event_base *base;
	unsigned ttl, failure_delay_ms;
	struct auth_penalty *penalty; /* NULL: failures not counted */
	unsigned max_failures, failure_window;
	struct workpool *pool;
	uint8_t secret[32];
	struct cache_entry *cache;
	atomic_ulong hashes;
	bool freeing;
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

	if (!r->cancelled)
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

static void
verify_run(void *thread_ctx, void *arg)
{
	struct auth_request *r = arg;
	const char *error = NULL;

	int ret = password_verify(r->password, r->stored, &error);
	atomic_fetch_add(&r->v->hashes, 1);
	r->verified = ret == 1;
	if (ret < 0)
		snprintf(r->error, sizeof(r->error), "unusable password hash: %s",
			 error != NULL ? error : "?");
}

static void fail(struct auth_request *r);

static void
verify_done(void *arg, bool cancelled)
{
	struct auth_request *r = arg;
	struct auth_verifier *v = r->v;

	r->job = NULL;
	if (cancelled || r->cancelled || v->freeing) {
		request_free(r);
		return;
	}
	if (r->verified && !r->must_fail) {
		cache_store(v, r);
		finish(r, AUTH_OK, 0);
		return;
	}
	if (r->fail_reason == NULL)
		r->fail_reason = r->error[0] != '\0' ? r->error : "wrong password";
	fail(r);
}

/* A failed login: counted against the client, reported after the delay. */
static void
fail(struct auth_request *r)
{
	struct auth_verifier *v = r->v;

	if (v->penalty != NULL && r->peer[0] != '\0') {
		unsigned n = auth_penalty_fail(v->penalty, r->peer, v->failure_window, time(NULL));
		if (v->max_failures != 0 && n == v->max_failures)
			log_notice("auth: %s: %u failed logins, refused for up to %u s", r->peer, n,
				   v->failure_window);
	}
	finish(r, AUTH_FAILED, v->failure_delay_ms);
}

/* A new request, not yet answered. */
static struct auth_request *
request_new(struct auth_verifier *v, const char *peer_ip, auth_verify_cb *cb, void *ctx)
{
	struct auth_request *r = xcalloc(1, sizeof(*r));

	r->v = v;
	r->cb = cb;
	r->ctx = ctx;
	if (peer_ip != NULL)
		str_copy(r->peer, sizeof(r->peer), peer_ip);
	return r;
}

/* Is r's client refused? Then it is answered so after the failure delay. */
static bool
refused(struct auth_request *r)
{
	struct auth_verifier *v = r->v;

	if (r->peer[0] == '\0' || !auth_penalty_refused(v->penalty, r->peer, v->max_failures,
							v->failure_window, time(NULL)))
		return false;
	r->fail_reason = "too many failed logins from this address";
	finish(r, AUTH_REFUSED, v->failure_delay_ms);
	return true;
}

struct auth_verifier *
auth_verifier_new(struct event_base *base, unsigned threads, unsigned ttl,
		  unsigned failure_delay_ms)
{
	struct auth_verifier *v = xcalloc(1, sizeof(*v));

	v->base = base;
	v->ttl = ttl;
	v->failure_delay_ms = failure_delay_ms;
	if (ttl > 0)
		v->cache = xcalloc(CACHE_SLOTS, sizeof(*v->cache));
	arc4random_buf(v->secret, sizeof(v->secret));
	v->pool = workpool_new(base, threads, NULL, NULL, NULL);
	return v;
}

void
auth_verifier_set_penalty(struct auth_verifier *v, struct auth_penalty *penalty,
			  unsigned max_failures, unsigned window)
{
	v->penalty = penalty;
	v->max_failures = max_failures;
	v->failure_window = window;
}

struct auth_request *
auth_verify_checked(struct auth_verifier *v, const char *peer_ip, const char *address,
		    const char *fail_reason, auth_verify_cb *cb, void *ctx)
{
	struct auth_request *r = request_new(v, peer_ip, cb, ctx);

	r->address = xstrdup(address != NULL ? address : "");
	if (refused(r))
		return r;
	if (address != NULL) {
		finish(r, AUTH_OK, 0);
		return r;
	}
	r->fail_reason = fail_reason;
	fail(r);
	return r;
}

struct auth_request *
auth_verify(struct auth_verifier *v, struct accounts *db, const char *peer_ip, const char *address,
	    const char *password, auth_verify_cb *cb, void *ctx)
{
	struct auth_request *r = request_new(v, peer_ip, cb, ctx);
	struct buf canon;
	struct accounts_user user = {0};
	const char *error;

	if (refused(r)) {
		r->address = xstrdup("");
		return r;
	}
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
	if (workpool_pending(v->pool) >= QUEUE_MAX) {
		r->fail_reason = "too many logins in progress";
		finish(r, AUTH_TEMPFAIL, 0);
		return r;
	}
	r->job = workpool_submit(v->pool, verify_run, verify_done, r);
	return r;
}

void
auth_request_cancel(struct auth_request **reqp)
{
	struct auth_request *r = *reqp;

	if (r == NULL)
		return;
	*reqp = NULL;
	r->cancelled = true;
	/* With the pool: freed when it reports back. Otherwise its event is
	 * pending: free now. */
	if (r->job != NULL)
		workpool_cancel(r->job);
	else
		request_free(r);
}

size_t
auth_verifier_pending(const struct auth_verifier *v)
{
	return workpool_pending(v->pool);
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
	/* Requests still in the pool come back and are freed. */
	v->freeing = true;
	workpool_free(&v->pool);
	if (v->cache != NULL) {
		OPENSSL_cleanse(v->cache, CACHE_SLOTS * sizeof(*v->cache));
		free(v->cache);
	}
	OPENSSL_cleanse(v->secret, sizeof(v->secret));
	free(v);
	*vp = NULL;
}
