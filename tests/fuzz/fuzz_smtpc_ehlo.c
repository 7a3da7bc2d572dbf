/* fuzz_smtpc_ehlo.c - the SMTP client's EHLO reply parser: never crashes,
 * sets only known flags, and does not depend on the case of the input (the
 * keywords are case-insensitive and nothing else is read but digits). */
#include "lib/common.h"

#include "smtp/smtpc.h"

#define KNOWN_EXT 0x3ffu
#define KNOWN_AUTH (SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_peer a, b;
	char *upper = malloc(size + 1);

	if (upper == NULL)
		abort();
	memset(&a, 0xa5, sizeof(a));
	smtpc_parse_ehlo((const char *)data, size, &a);
	if ((a.ext & ~KNOWN_EXT) != 0 || (a.auth & ~KNOWN_AUTH) != 0)
		abort();
	if (a.size_max != 0 && !(a.ext & SMTPC_EXT_SIZE))
		abort();
	if (a.auth != 0 && !(a.ext & SMTPC_EXT_AUTH))
		abort();
	for (size_t i = 0; i < size; i++) {
		unsigned char c = data[i];
		upper[i] = (char)(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
	}
	memset(&b, 0, sizeof(b));
	smtpc_parse_ehlo(upper, size, &b);
	if (a.ext != b.ext || a.auth != b.auth || a.size_max != b.size_max)
		abort();
	free(upper);
	return 0;
}
