/* fuzz_session_pop3.c - a whole POP3 server session (pop3d.c) fed fuzzed
 * client input in every state (session_harness.h).
 *
 * The first byte chooses the starting state: the harness sends fixed
 * commands that lead there, then the rest of the input.
 */
#include "lib/common.h"

#include "session_harness.h"

static const char *const starts[] = {
    "",							      /* authorization */
    "USER " HARNESS_USER "\r\n",			      /* after USER */
    "USER " HARNESS_USER "\r\nPASS " HARNESS_PASSWORD "\r\n", /* transaction */
    "AUTH PLAIN\r\n",					      /* SASL exchange */
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *prefix = starts[data[0] % N_ELEMENTS(starts)];
	harness_session(SVC_POP3, prefix, strlen(prefix), data + 1, size - 1);
	return 0;
}
