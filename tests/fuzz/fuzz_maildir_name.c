/* fuzz_maildir_name.c - the Maildir file name parser: never reads out of
 * bounds, its results stay inside the name, and what the builders write
 * parses back to what was put in. */
#include "lib/common.h"

#include "lib/buf.h"
#include "store/maildir_name.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = (const char *)data;
	struct maildir_name mn;

	if (maildir_name_parse(name, size, &mn) < 0) {
		if (size > 0 && size <= MAILDIR_NAME_MAX && name[0] != '.' &&
		    memchr(name, '/', size) == NULL && memchr(name, '\0', size) == NULL)
			abort();
		return 0;
	}
	if (mn.base_len > size || (mn.base_len < size && name[mn.base_len] != ':'))
		abort();
	if (memchr(name, ':', mn.base_len) != NULL)
		abort();
	if (mn.has_info && (mn.flags_off != mn.base_len + 3 || mn.flags_off + mn.flags_len != size))
		abort();
	if ((mn.flags & ~STORE_FLAGS_ALL) != 0 || (!mn.has_info && mn.flags != 0))
		abort();
	if ((mn.has_disk_size && mn.disk_size > MAILDIR_SIZE_MAX) ||
	    (mn.has_crlf_size && mn.crlf_size > MAILDIR_SIZE_MAX))
		abort();

	/* Rebuild: base + sizes + letters from these flags and the old
	 * info; the result must parse to the same base, sizes and flags. */
	struct buf out;
	buf_init(&out, MAILDIR_NAME_MAX);
	unsigned flags = size > 0 ? (unsigned)data[0] & STORE_FLAGS_ALL : 0;
	const char *comma = memchr(name, ',', mn.base_len);
	size_t stem = comma != NULL ? (size_t)(comma - name) : mn.base_len;
	if (buf_add(&out, name, stem) == 0 &&
	    maildir_base_add_sizes(&out, mn.disk_size, mn.crlf_size) == 0 &&
	    buf_add_str(&out, ":2,") == 0 &&
	    maildir_flags_letters(flags, mn.has_info ? name + mn.flags_off : NULL, mn.flags_len,
				  &out) == 0) {
		struct maildir_name again;
		if (maildir_name_parse(out.data, out.len, &again) < 0)
			abort();
		if (again.base_len != out.len - 3 - (out.len - again.flags_off) ||
		    !again.has_disk_size || again.disk_size != mn.disk_size ||
		    !again.has_crlf_size || again.crlf_size != mn.crlf_size || !again.has_info ||
		    again.flags != flags)
			abort();
		/* Letters: sorted, no repeats. */
		for (size_t i = 1; i < again.flags_len; i++)
			if ((unsigned char)out.data[again.flags_off + i - 1] >=
			    (unsigned char)out.data[again.flags_off + i])
				abort();
	}
	buf_release(&out);
	return 0;
}
