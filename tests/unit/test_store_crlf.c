/* test_store_crlf.c - the LF -> CRLF size count and conversion of stored
 * messages, against a byte-by-byte reference, over random contents and
 * random chunk boundaries; the as-is path for files already in CRLF form;
 * files that do not match their recorded sizes. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "lib/buf.h"
#include "mime/header.h"
#include "store/store.h"
#include "store/store_private.h"

/* The reference: a CR before every LF that has none. */
static size_t
reference(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	return o;
}

static void
random_text(char *p, size_t n, unsigned seed)
{
	static const char alphabet[] = "ab\r\n\n \r";

	srandom(seed);
	for (size_t i = 0; i < n; i++)
		p[i] = alphabet[random() % (sizeof(alphabet) - 1)];
}

static int
temp_file(const char *data, size_t n)
{
	char path[] = "/tmp/postern-crlf-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	return fd;
}

static void
test_count_any_chunking(void **state)
{
	enum { N = 200000 };
	char *in = malloc(N), *out = malloc(2 * N);

	for (unsigned seed = 1; seed <= 20; seed++) {
		random_text(in, N, seed);
		uint64_t want = reference(in, N, out) - N;
		struct crlf_state st = {false};
		uint64_t got = 0;
		for (size_t at = 0; at < N;) {
			size_t len = (size_t)random() % 70000;
			if (len > N - at)
				len = N - at;
			got += crlf_count(&st, in + at, len); /* zero-length chunks too */
			at += len;
		}
		assert_int_equal(got, want);
	}
	/* a CR at the end of one chunk pairs with the LF that starts the next */
	struct crlf_state st = {false};
	assert_int_equal(crlf_count(&st, "x\r", 2), 0);
	assert_int_equal(crlf_count(&st, "", 0), 0);
	assert_int_equal(crlf_count(&st, "\nx\n", 3), 1);
	free(in);
	free(out);
}

static void
check_convert(const char *in, size_t n)
{
	char *want = malloc(2 * n + 1);
	size_t want_len = reference(in, n, want);
	int fd = temp_file(in, n);
	uint64_t disk, crlf;
	struct buf out;
	const char *error;

	assert_int_equal(maildir_measure(fd, &disk, &crlf), 0);
	assert_int_equal(disk, n);
	assert_int_equal(crlf, want_len);
	struct store_content c = {.fd = fd, .disk_size = disk, .crlf_size = crlf};
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(store_content_to_buf(&c, &out, &error), 0);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data, want, want_len);
	/* sizes that do not match the file: refused, out unchanged */
	size_t before = out.len;
	c.crlf_size = crlf + 1;
	assert_int_equal(store_content_to_buf(&c, &out, &error), -1);
	c.disk_size = disk + 1;
	c.crlf_size = crlf + 1;
	assert_int_equal(store_content_to_buf(&c, &out, &error), -1);
	if (disk > 0) {
		c.disk_size = c.crlf_size = disk - 1;
		assert_int_equal(store_content_to_buf(&c, &out, &error), -1);
	}
	assert_int_equal(out.len, before);
	buf_release(&out);
	close(fd);
	free(want);
}

static void
test_convert(void **state)
{
	enum { N = 150000 }; /* several of convert's 32 KiB reads */
	char *in = malloc(N);

	for (unsigned seed = 1; seed <= 10; seed++) {
		random_text(in, N, seed);
		check_convert(in, N);
	}
	/* already CRLF: given as it is */
	for (size_t i = 0; i < N; i++)
		in[i] = i % 40 == 38 ? '\r' : i % 40 == 39 ? '\n' : 'a' + (char)(i % 26);
	check_convert(in, N);
	/* LF only, empty, a single LF, a CR at a read boundary */
	for (size_t i = 0; i < N; i++)
		in[i] = i % 40 == 39 ? '\n' : 'x';
	check_convert(in, N);
	check_convert("", 0);
	check_convert("\n", 1);
	memset(in, 'y', 32768);
	in[32767] = '\r';
	in[32768] = '\n';
	check_convert(in, 32769);
	free(in);
}

/* The header section alone: what the MIME parser calls the header of the
 * whole CRLF form, read no further than needed. */
static void
check_header(const char *in, size_t n)
{
	char *full = malloc(2 * n + 1);
	size_t full_len = reference(in, n, full);
	struct mime_header h;
	int fd = temp_file(in, n);
	uint64_t disk, crlf;
	struct buf out;
	const char *error;

	mime_header_parse(full, full_len, NULL, &h);
	assert_int_equal(maildir_measure(fd, &disk, &crlf), 0);
	struct store_content c = {.fd = fd, .disk_size = disk, .crlf_size = crlf};
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(buf_add(&out, "x", 1), 0); /* appended after what is there */
	assert_int_equal(store_content_header_to_buf(&c, &out, &error), 0);
	assert_int_equal(out.len - 1, h.size);
	assert_memory_equal(out.data + 1, full, h.size);
	mime_header_clear(&h);
	buf_release(&out);
	close(fd);
	free(full);
}

static void
test_header_only(void **state)
{
	enum { N = 100000 };
	char *in = malloc(N);

	/* header lines, then an empty line at a random place (LF or CRLF),
	 * sometimes across convert's 32 KiB reads, sometimes none at all */
	for (unsigned seed = 1; seed <= 200; seed++) {
		srandom(seed);
		size_t n = 1 + (size_t)random() % N;
		for (size_t i = 0; i < n; i++)
			in[i] = (random() % 30 == 0) ? '\n' : (random() % 40 == 0) ? '\r' : 'h';
		size_t blank = (size_t)random() % (n + n / 4 + 1);
		if (blank + 2 < n && seed % 7 != 0) {
			in[blank] = '\n';
			if (seed % 2)
				in[blank + 1] = '\r', in[blank + 2] = '\n';
			else
				in[blank + 1] = '\n';
		}
		check_header(in, n);
	}
#define CHECK_HEADER_STR(s) check_header(s, sizeof(s) - 1)
	CHECK_HEADER_STR("\r\nbody\n"); /* empty header */
	CHECK_HEADER_STR("\nbody\n");
	CHECK_HEADER_STR("A: b\n\nbody\n");
	CHECK_HEADER_STR("A: b\r\n\r\nbody\r\n");
	CHECK_HEADER_STR("A: b\n\r\rx\n\nbody\n"); /* a lone-CR line is not empty */
	CHECK_HEADER_STR("A: b\n");		   /* no body */
	memset(in, 'h', 40000);
	in[32766] = '\n'; /* the blank line straddles two reads */
	in[32767] = '\n';
	check_header(in, 40000);
	in[32766] = 'h'; /* LF, then CR LF across the boundary */
	in[32767] = '\n';
	in[32768] = '\r';
	in[32769] = '\n';
	check_header(in, 40000);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_any_chunking),
	    cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_header_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
