/* fuzz_session_smtp.c - a whole SMTP server session (smtpd*.c) fed fuzzed
 * client input in every state (session_harness.h).
 *
 * The first byte chooses the service and the starting state: the harness
 * sends fixed commands that lead there, then the rest of the input. BDAT
 * takes its chunk size from the second byte.
 */
#include "lib/common.h"

#include "session_harness.h"

#define EHLO "EHLO client.example.net\r\n"
#define TXN EHLO "MAIL FROM:<alice@example.net>\r\nRCPT TO:<" HARNESS_USER ">\r\n"
/* AUTH PLAIN of HARNESS_USER, HARNESS_PASSWORD. */
#define LOGIN EHLO "AUTH PLAIN AHVzZXJAZXhhbXBsZS5vcmcAZnV6enBhc3M=\r\n"

static const struct {
	enum service svc;
	const char *prefix;
	bool bdat; /* ends with a BDAT command of the chunk size */
} starts[] = {
    {SVC_SMTP, "", false},			    /* greeting */
    {SVC_SMTP, EHLO, false},			    /* after EHLO */
    {SVC_SMTP, TXN, false},			    /* in a transaction */
    {SVC_SMTP, TXN "DATA\r\n", false},		    /* message content */
    {SVC_SMTP, TXN, true},			    /* a BDAT chunk */
    {SVC_SUBMISSION, "", false},		    /* submission greeting */
    {SVC_SUBMISSION, EHLO "AUTH PLAIN\r\n", false}, /* SASL exchange */
    {SVC_SUBMISSION, LOGIN, false},		    /* authenticated */
    {SVC_SUBMISSION,
     LOGIN "MAIL FROM:<" HARNESS_USER "> BODY=8BITMIME\r\n"
	   "RCPT TO:<bob@remote.example> NOTIFY=SUCCESS\r\n",
     false}, /* relay */
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char prefix[512];

	if (size < 2)
		return 0;
	unsigned i = data[0] % N_ELEMENTS(starts);
	/* The chunk size byte is used by BDAT and skipped by the others, so
	 * that one corpus file reads the same in every state. */
	if (starts[i].bdat)
		snprintf(prefix, sizeof(prefix), "%sBDAT %u%s\r\n", starts[i].prefix, data[1] >> 1,
			 data[1] & 1 ? " LAST" : "");
	else
		snprintf(prefix, sizeof(prefix), "%s", starts[i].prefix);
	harness_session(starts[i].svc, prefix, strlen(prefix), data + 2, size - 2);
	return 0;
}
