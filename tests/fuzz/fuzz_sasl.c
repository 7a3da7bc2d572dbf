/* fuzz_sasl.c - SASL PLAIN and LOGIN exchanges fed arbitrary responses:
 * every line of the input is one client response. */
#include "lib/common.h"

#include "auth/sasl.h"
#include "lib/buf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct sasl_exchange *ex = sasl_new(data[0] & 1 ? "LOGIN" : "PLAIN");
	struct buf ch, line;
	const char *error;
	size_t pos = 1;

	buf_init(&ch, 4096);
	buf_init(&line, 8192);
	/* A leading 0x00 byte means "no initial response". */
	if (size > 1 && data[1] == 0) {
		(void)sasl_step(ex, NULL, &ch, &error);
		pos = 2;
	}
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - data - pos) : size - pos;
		buf_reset(&line);
		if (memchr(data + pos, 0, n) == NULL && buf_add(&line, data + pos, n) == 0) {
			enum sasl_result r = sasl_step(ex, buf_cstr(&line), &ch, &error);
			if (r == SASL_DONE &&
			    (strlen(sasl_authcid(ex)) > SASL_FIELD_MAX || sasl_password(ex)[0] == 0))
				abort();
			if (r != SASL_CONTINUE)
				break;
		}
		pos += n + 1;
	}
	sasl_free(&ex);
	buf_release(&ch);
	buf_release(&line);
	return 0;
}
