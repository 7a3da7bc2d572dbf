/* fuzz_config.c - the INI configuration parser on arbitrary bytes, then the
 * printer: whatever it accepts must print as a file it accepts again with
 * the same result. */
#include "lib/common.h"

#include "lib/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = config_new();
	const char *error;

	log_set_level(LOG_LVL_ERROR + 1);
	if (config_load_buffer(cfg, "fuzz", (const char *)data, size, &error) == 0 &&
	    config_finish(cfg, 1000, &error) == 0) {
		char *text = NULL, *text2 = NULL;
		size_t len = 0, len2 = 0;
		FILE *f = open_memstream(&text, &len);
		config_print(cfg, f);
		fclose(f);
		struct config *again = config_new();
		if (config_load_buffer(again, "again", text, len, &error) < 0 ||
		    config_finish(again, 1000, &error) < 0)
			abort();
		f = open_memstream(&text2, &len2);
		config_print(again, f);
		fclose(f);
		if (len != len2 || memcmp(text, text2, len) != 0)
			abort();
		free(text);
		free(text2);
		config_free(&again);
	}
	config_free(&cfg);
	return 0;
}
