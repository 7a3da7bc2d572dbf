/* limits.c - connection counts shared by all workers. */
#include "lib/common.h"

#include <stdatomic.h>
#include <sys/mman.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/siphash.h"
#include "server/limits.h"

struct limits {
	uint8_t key[16];
	uint8_t row_used[LIMITS_ROWS]; /* written by the master only */
	_Atomic uint32_t total[LIMITS_ROWS][SVC_COUNT];
	_Atomic uint32_t per_ip[LIMITS_ROWS][LIMITS_IP_BUCKETS];
	_Atomic int32_t incoming[LIMITS_ROWS]; /* handed, not yet admitted */
	_Atomic bool accepting[LIMITS_ROWS];
};

struct limits *
limits_create(void)
{
	struct limits *l =
	    mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED)
		fatal("mmap of the connection table (%zu bytes): %s", sizeof(*l), strerror(errno));
	arc4random_buf(l->key, sizeof(l->key));
	return l;
}

void
limits_destroy(struct limits **lp)
{
	if (*lp != NULL)
		munmap(*lp, sizeof(**lp));
	*lp = NULL;
}

int
limits_row_claim(struct limits *l)
{
	for (int r = 0; r < LIMITS_ROWS; r++) {
		if (l->row_used[r] == 0) {
			l->row_used[r] = 1;
			return r;
		}
	}
	return -1;
}

void
limits_row_release(struct limits *l, int row)
{
	for (int s = 0; s < SVC_COUNT; s++)
		atomic_store(&l->total[row][s], 0);
	atomic_store(&l->incoming[row], 0);
	atomic_store(&l->accepting[row], false);
	for (int b = 0; b < LIMITS_IP_BUCKETS; b++)
		if (atomic_load_explicit(&l->per_ip[row][b], memory_order_relaxed) != 0)
			atomic_store(&l->per_ip[row][b], 0);
	l->row_used[row] = 0;
}

static uint32_t
bucket_of(const struct limits *l, enum service svc, const struct sockaddr *peer)
{
	uint8_t key[17];
	size_t n = net_addr_bytes(peer, key + 1);

	key[0] = (uint8_t)svc;
	return (uint32_t)(siphash24(l->key, key, n + 1) % LIMITS_IP_BUCKETS);
}

unsigned
limits_current(struct limits *l, enum service svc)
{
	unsigned sum = 0;

	for (int r = 0; r < LIMITS_ROWS; r++)
		sum += atomic_load(&l->total[r][svc]);
	return sum;
}

void
limits_set_accepting(struct limits *l, int row, bool accepting)
{
	atomic_store(&l->accepting[row], accepting);
}

void
limits_incoming(struct limits *l, int row, int delta)
{
	atomic_fetch_add(&l->incoming[row], delta);
}

static long
load(struct limits *l, int row)
{
	long n = atomic_load_explicit(&l->incoming[row], memory_order_relaxed);

	for (int svc = 0; svc < SVC_COUNT; svc++)
		n += atomic_load_explicit(&l->total[row][svc], memory_order_relaxed);
	return n;
}

int
limits_less_loaded(struct limits *l, int row)
{
	long mine = load(l, row), best_load = mine;
	int best = -1;

	for (int r = 0; r < LIMITS_ROWS; r++) {
		if (r == row || l->row_used[r] == 0 ||
		    !atomic_load_explicit(&l->accepting[r], memory_order_relaxed))
			continue;
		long n = load(l, r);
		if (n < best_load) {
			best_load = n;
			best = r;
		}
	}
	return best;
}

static unsigned
bucket_sum(struct limits *l, uint32_t bucket)
{
	unsigned sum = 0;

	for (int r = 0; r < LIMITS_ROWS; r++)
		sum += atomic_load(&l->per_ip[r][bucket]);
	return sum;
}

enum limit_verdict
limits_admit(struct limits *l, int row, enum service svc, const struct sockaddr *peer,
	     unsigned max_total, unsigned max_per_ip, struct limit_ticket *ticket_r)
{
	uint32_t bucket = bucket_of(l, svc, peer);

	atomic_fetch_add(&l->total[row][svc], 1);
	atomic_fetch_add(&l->per_ip[row][bucket], 1);
	enum limit_verdict v = LIMIT_OK;
	if (max_total != 0 && limits_current(l, svc) > max_total)
		v = LIMIT_TOTAL;
	else if (max_per_ip != 0 && bucket_sum(l, bucket) > max_per_ip)
		v = LIMIT_PER_IP;
	if (v != LIMIT_OK) {
		atomic_fetch_sub(&l->total[row][svc], 1);
		atomic_fetch_sub(&l->per_ip[row][bucket], 1);
		return v;
	}
	ticket_r->row = row;
	ticket_r->svc = svc;
	ticket_r->bucket = bucket;
	return LIMIT_OK;
}

void
limits_release(struct limits *l, const struct limit_ticket *t)
{
	atomic_fetch_sub(&l->total[t->row][t->svc], 1);
	atomic_fetch_sub(&l->per_ip[t->row][t->bucket], 1);
}
