/* fuzz_pop3_cmd.c - POP3 command lines and message numbers. */
#include "lib/common.h"

#include "pop3/pop3_cmd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[512];
	struct pop3_cmd c;
	size_t n;
	const char *rest;

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (pop3_cmd_parse(line, &c) == 0) {
		if (strlen(c.name) == 0 || strlen(c.name) > 4)
			abort();
		if (c.arg != NULL) {
			int r = pop3_msgnum(c.arg, 1000, &n, &rest);
			if (r == 1 && (n == 0 || n > 1000))
				abort();
		}
	}
	return 0;
}
