/* penalty.c - failed logins counted per client address, shared by every
 * process (penalty.h). */
#include "lib/common.h"

#include <pthread.h>
#include <sys/mman.h>

#include "auth/penalty.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/siphash.h"

/* An address as counted: family byte, then 4 bytes (IPv4) or the first 8
 * (the IPv6 /64), the rest zero. */
#define ADDR_KEY_LEN 9

struct slot {
	uint8_t addr[ADDR_KEY_LEN]; /* addr[0] == 0: free */
	uint32_t failures;
	time_t window_start; /* first failure of the current window */
};

struct auth_penalty {
	pthread_mutex_t lock;
	uint8_t key[16];
	struct slot slots[PENALTY_SLOTS];
};

struct auth_penalty *
auth_penalty_create(void)
{
	pthread_mutexattr_t attr;
	struct auth_penalty *p =
	    mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap of the failed-login table (%zu bytes): %s", sizeof(*p),
		      strerror(errno));
	if (pthread_mutexattr_init(&attr) != 0 ||
	    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&p->lock, &attr) != 0)
		fatal("failed-login table: cannot make a shared mutex");
	pthread_mutexattr_destroy(&attr);
	arc4random_buf(p->key, sizeof(p->key));
	return p;
}

void
auth_penalty_destroy(struct auth_penalty **pp)
{
	if (*pp != NULL) {
		pthread_mutex_destroy(&(*pp)->lock);
		munmap(*pp, sizeof(**pp));
	}
	*pp = NULL;
}

static bool
addr_key(const char *ip, uint8_t key[ADDR_KEY_LEN])
{
	uint8_t a[16];
	int family = net_ip_parse(ip, a);

	memset(key, 0, ADDR_KEY_LEN);
	if (family == 0)
		return false;
	key[0] = family == AF_INET ? 4 : 6;
	memcpy(key + 1, a, family == AF_INET ? 4 : 8);
	return true;
}

static void
lock(struct auth_penalty *p)
{
	int r = pthread_mutex_lock(&p->lock);

	/* The holder died: the table may be half updated, but every slot
	 * write is a plain count or time, harmless to keep. */
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&p->lock);
	else if (r != 0)
		fatal("failed-login table: lock: %s", strerror(r));
}

static bool
live(const struct slot *s, unsigned window, time_t now)
{
	return s->addr[0] != 0 && now >= s->window_start &&
	       (unsigned long long)(now - s->window_start) < window;
}

/* The slot of key; with create, one is taken for it (free, dead, or the
 * oldest live one of its probe run). NULL when absent and !create. */
static struct slot *
find(struct auth_penalty *p, const uint8_t key[ADDR_KEY_LEN], unsigned window, time_t now,
     bool create)
{
	size_t start = siphash24(p->key, key, ADDR_KEY_LEN) % PENALTY_SLOTS;
	struct slot *take = NULL;

	for (size_t i = 0; i < PENALTY_PROBE; i++) {
		struct slot *s = &p->slots[(start + i) % PENALTY_SLOTS];
		if (memcmp(s->addr, key, ADDR_KEY_LEN) == 0)
			return s;
		if (!create)
			continue;
		if (!live(s, window, now)) {
			if (take == NULL || live(take, window, now))
				take = s;
		} else if (take == NULL ||
			   (live(take, window, now) && s->window_start < take->window_start)) {
			take = s;
		}
	}
	if (take != NULL) {
		memcpy(take->addr, key, ADDR_KEY_LEN);
		take->failures = 0;
		take->window_start = now;
	}
	return take;
}

bool
auth_penalty_refused(struct auth_penalty *p, const char *ip, unsigned max, unsigned window,
		     time_t now)
{
	uint8_t key[ADDR_KEY_LEN];
	bool refused = false;

	if (p == NULL || max == 0 || !addr_key(ip, key))
		return false;
	lock(p);
	struct slot *s = find(p, key, window, now, false);
	if (s != NULL && live(s, window, now))
		refused = s->failures >= max;
	pthread_mutex_unlock(&p->lock);
	return refused;
}

unsigned
auth_penalty_fail(struct auth_penalty *p, const char *ip, unsigned window, time_t now)
{
	uint8_t key[ADDR_KEY_LEN];
	unsigned n;

	if (p == NULL || !addr_key(ip, key))
		return 0;
	lock(p);
	struct slot *s = find(p, key, window, now, true);
	if (!live(s, window, now)) {
		s->failures = 0;
		s->window_start = now;
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
	n = s->failures;
	pthread_mutex_unlock(&p->lock);
	return n;
}
