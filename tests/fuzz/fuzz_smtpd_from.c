/* fuzz_smtpd_from.c - the From: address extraction on arbitrary values. */
#include "lib/common.h"

#include "smtp/smtpd_from.h"

static int
accept_all(const char *address, void *ctx)
{
	size_t *n = ctx;

	if (strchr(address, '@') == NULL)
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;

	if (smtpd_from_check((const char *)data, size, accept_all, &n) == 0 &&
	    (n == 0 || n > SMTPD_FROM_MAX_ADDRESSES))
		abort();
	return 0;
}
