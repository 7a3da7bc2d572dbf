/* fuzz_mutf7.c - modified UTF-7 and mailbox names: decoding never
 * overruns, what decodes re-encodes to the same bytes (one canonical
 * form), what encodes decodes back, and a folder directory maps to a name
 * that maps back to the same directory. */
#include "lib/common.h"

#include "lib/buf.h"
#include "store/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf a, b;

	buf_init(&a, 1 << 16);
	buf_init(&b, 1 << 16);
	if (mutf7_decode(in, size, &a) == 0) {
		if (!utf8_valid(buf_cstr(&a), a.len))
			abort();
		if (mutf7_encode(buf_cstr(&a), a.len, &b) < 0 || b.len != size ||
		    memcmp(buf_cstr(&b), in, size) != 0)
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (utf8_valid(in, size)) {
		if (mutf7_encode(in, size, &a) < 0 || mutf7_decode(a.data, a.len, &b) < 0 ||
		    b.len != size || memcmp(buf_cstr(&b), in, size) != 0)
			abort();
	}
	/* As a directory entry of a user's Maildir. */
	char entry[300];
	if (size < sizeof(entry) && memchr(in, '\0', size) == NULL) {
		memcpy(entry, in, size);
		entry[size] = '\0';
		struct buf name, norm, dir;
		buf_init(&name, 4096);
		buf_init(&norm, 4096);
		buf_init(&dir, 4096);
		if (mailbox_dir_to_name(entry, &name) == 0) {
			if (mailbox_name_resolve(name.data, &norm, &dir, NULL) < 0 ||
			    strcmp(buf_cstr(&dir), entry) != 0 || strchr(entry, '/') != NULL)
				abort();
		}
		buf_reset(&norm);
		buf_reset(&dir);
		/* As a mailbox name: never a path outside the Maildir. */
		if (mailbox_name_resolve(entry, &norm, &dir, NULL) == 0) {
			const char *d = buf_cstr(&dir);
			if (strchr(d, '/') != NULL || strcmp(d, ".") == 0 || strcmp(d, "..") == 0 ||
			    (dir.len > 0 && (d[0] != '.' || d[1] == '.')) || dir.len > 255)
				abort();
		}
		buf_release(&name);
		buf_release(&norm);
		buf_release(&dir);
	}
	buf_release(&a);
	buf_release(&b);
	return 0;
}
