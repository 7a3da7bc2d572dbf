/* store_deliver.c - how long local delivery takes per message.
 *
 * Not built by CMake (bench/ is outside the build's conventions). Build
 * against a release build of the core library and run it on the filesystem
 * the data directory lives on:
 *
 *   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/store_deliver.c build/libpostern_core.a \
 *      $(pkg-config --libs libevent libevent_openssl libevent_pthreads openssl sqlite3 \
 *        libidn2 libcrypt libargon2 zlib) -lm -o /tmp/bench_store_deliver
 *   /tmp/bench_store_deliver [DIR] [MESSAGES]
 *
 * It reports, per message: the spool (write + fsync), store_deliver for one
 * recipient and for ten, and a bare fsync of a small file and of a
 * directory for comparison.
 */
#include "lib/common.h"

#include <ftw.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/store.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, double *v, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-34s mean %7.3f ms  median %7.3f  p90 %7.3f  max %7.3f\n", what, sum / n, v[n / 2],
	       v[n * 9 / 10], v[n - 1]);
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int
main(int argc, char **argv)
{
	char dir[256];
	int n = argc > 2 ? atoi(argv[2]) : 200;
	const char *error;
	struct store *store;
	char body[4096];

	log_open("bench", LOG_LVL_WARNING, false);
	snprintf(dir, sizeof(dir), "%s/postern-bench-XXXXXX", argc > 1 ? argv[1] : "/var/tmp");
	if (mkdtemp(dir) == NULL || store_open(dir, "bench.example", &store, &error) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (i % 72 == 71) ? '\n' : (char)('a' + i % 26);
	double *spool_t = calloc((size_t)n, sizeof(double));
	double *one_t = calloc((size_t)n, sizeof(double));
	double *ten_t = calloc((size_t)n, sizeof(double));
	double *fsync_t = calloc((size_t)n, sizeof(double));
	double *dsync_t = calloc((size_t)n, sizeof(double));
	struct store_rcpt one = {.address = "one@bench.example"};
	struct store_rcpt ten[10];
	char addr[10][64];
	for (int i = 0; i < 10; i++) {
		snprintf(addr[i], sizeof(addr[i]), "user%d@bench.example", i);
		ten[i] = (struct store_rcpt){.address = addr[i]};
	}
	struct store_result res[10];
	/* Create the users first: first delivery is not the common case. */
	for (int pass = -1; pass < n; pass++) {
		struct store_spool *spool;
		double t0 = now_ms();
		if (store_spool_open(store, &spool, &error) < 0 ||
		    store_spool_write(spool, body, sizeof(body), &error) < 0 ||
		    store_spool_finish(spool, NULL, &error) < 0) {
			fprintf(stderr, "spool: %s\n", error);
			return 1;
		}
		double t1 = now_ms();
		if (store_deliver(spool, &one, 1, res) != 1) {
			fprintf(stderr, "deliver: %s\n", res[0].message);
			return 1;
		}
		double t2 = now_ms();
		if (store_deliver(spool, ten, 10, res) != 10) {
			fprintf(stderr, "deliver 10: %s\n", res[0].message);
			return 1;
		}
		double t3 = now_ms();
		store_spool_free(&spool);
		if (pass >= 0) {
			spool_t[pass] = t1 - t0;
			one_t[pass] = t2 - t1;
			ten_t[pass] = t3 - t2;
		}
	}
	for (int i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/tmp/raw%d", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		double t0 = now_ms();
		if (fd < 0 || write(fd, body, sizeof(body)) != (ssize_t)sizeof(body) ||
		    fsync(fd) < 0)
			return 1;
		double t1 = now_ms();
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);
		double t2 = now_ms();
		if (dfd < 0 || fsync(dfd) < 0)
			return 1;
		double t3 = now_ms();
		close(dfd);
		close(fd);
		unlink(path);
		fsync_t[i] = t1 - t0;
		dsync_t[i] = t3 - t2;
	}
	printf("%d messages of %zu bytes in %s\n", n, sizeof(body), dir);
	report("spool write + fsync", spool_t, n);
	report("store_deliver, 1 recipient", one_t, n);
	report("store_deliver, 10 recipients", ten_t, n);
	report("raw: write 4 KB + fsync", fsync_t, n);
	report("raw: fsync of a directory", dsync_t, n);
	store_close(&store);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : 1;
}
