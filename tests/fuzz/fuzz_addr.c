/* fuzz_addr.c - libFuzzer target for address and domain canonicalisation.
 *
 * Checks memory safety and the invariants addr.h promises: canonical forms
 * respect the length limits, are fixed points (canonicalising them again
 * gives the same bytes), and split_tag of a canonical address yields a
 * canonical address.
 */
#include "lib/common.h"

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static void
check_fixed_point(const char *canon, bool is_domain)
{
	struct buf again;
	const char *error;

	buf_init(&again, BUF_UNLIMITED);
	int rc = is_domain ? addr_domain_canon(canon, &again, &error)
			   : addr_canon(canon, &again, &error);
	if (rc != 0)
		panic("canonical form '%s' refused: %s", canon, error);
	if (strcmp(buf_cstr(&again), canon) != 0)
		panic("canonical form not a fixed point: '%s' -> '%s'", canon, buf_cstr(&again));
	buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	struct buf out, base;
	const char *error;

	memcpy(s, data, size);
	s[size] = '\0';
	buf_init(&out, BUF_UNLIMITED);
	buf_init(&base, BUF_UNLIMITED);

	if (addr_domain_canon(s, &out, &error) == 0) {
		if (out.len == 0 || out.len > ADDR_DOMAIN_MAX || !addr_is_ascii(buf_cstr(&out)))
			panic("bad canonical domain '%s'", buf_cstr(&out));
		check_fixed_point(buf_cstr(&out), true);
	}

	buf_reset(&out);
	if (addr_canon(s, &out, &error) == 0) {
		const char *canon = buf_cstr(&out);
		if (out.len > ADDR_MAX || addr_local_len(canon) > ADDR_LOCAL_MAX ||
		    addr_domain_part(canon) == NULL)
			panic("bad canonical address '%s'", canon);
		check_fixed_point(canon, false);
		if (addr_split_tag(canon, ADDR_TAG_SEP, &base, NULL) == 1)
			check_fixed_point(buf_cstr(&base), false);
	}

	/* The local-part parser on exact lengths (no terminating NUL in view). */
	buf_reset(&out);
	char *exact = xmalloc(size ? size : 1);
	memcpy(exact, data, size);
	(void)addr_local_canon(exact, size, &out, &error);
	free(exact);

	buf_release(&out);
	buf_release(&base);
	free(s);
	return 0;
}
