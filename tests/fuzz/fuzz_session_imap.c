/* fuzz_session_imap.c - a whole IMAP server session (imapd*.c) fed fuzzed
 * client input in every state (session_harness.h).
 *
 * The first byte chooses the starting state: the harness sends fixed
 * commands that lead there, then the rest of the input. APPEND takes its
 * literal size from the second byte.
 */
#include "lib/common.h"

#include "session_harness.h"

#define LOGIN "a LOGIN " HARNESS_USER " " HARNESS_PASSWORD "\r\n"
#define SELECT LOGIN "b SELECT INBOX\r\n"

static const struct {
	const char *prefix;
	bool literal; /* ends with the size of a literal, "{N}" */
} starts[] = {
    {"", false},			      /* not authenticated */
    {LOGIN, false},			      /* authenticated */
    {SELECT, false},			      /* selected, three messages */
    {SELECT "c IDLE\r\n", false},	      /* idling */
    {LOGIN "d APPEND INBOX (\\Seen) ", true}, /* an APPEND literal */
    {"e AUTHENTICATE PLAIN\r\n", false},      /* SASL exchange */
    {LOGIN "f EXAMINE INBOX\r\n", false},     /* selected read-only */
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char prefix[256];

	if (size < 2)
		return 0;
	unsigned i = data[0] % N_ELEMENTS(starts);
	/* The literal size byte is used by APPEND and skipped by the others. */
	if (starts[i].literal)
		snprintf(prefix, sizeof(prefix), "%s{%u}\r\n", starts[i].prefix, data[1]);
	else
		snprintf(prefix, sizeof(prefix), "%s", starts[i].prefix);
	harness_session(SVC_IMAP, prefix, strlen(prefix), data + 2, size - 2);
	return 0;
}
