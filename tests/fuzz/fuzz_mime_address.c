/* fuzz_mime_address.c - libFuzzer target for RFC 5322 address lists.
 *
 * Input: a header value. Checks that group markers are balanced (a start is
 * always followed by its end before another start, nothing closes an
 * unopened group); that every other entry has a mailbox and a host; that
 * strings are within MIME_ADDRESS_STR_MAX and hold no line break; that the
 * count is within MIME_ADDRESS_MAX plus one end marker; and that the flags
 * agree with the entries.
 */
#include "lib/common.h"

#include "mime/address.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_address: %s\n", what);
		abort();
	}
}

static void
check_str(const char *s)
{
	check(s == NULL || strlen(s) <= MIME_ADDRESS_STR_MAX, "string length");
	check(s == NULL || strpbrk(s, "\r\n") == NULL, "line break in a string");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_address_list l;
	bool in_group = false, any_invalid = false;
	size_t i;

	(void)mime_address_parse((const char *)data, size, &l);
	check(l.count <= MIME_ADDRESS_MAX + 1, "count");
	for (i = 0; i < l.count; i++) {
		const struct mime_address *a = &l.addrs[i];

		check_str(a->name);
		check_str(a->adl);
		check_str(a->mailbox);
		check_str(a->host);
		any_invalid = any_invalid || a->invalid;
		if (mime_address_is_group_start(a)) {
			check(!in_group, "nested group");
			check(a->name == NULL && a->adl == NULL, "group start fields");
			in_group = true;
		} else if (mime_address_is_group_end(a)) {
			check(in_group, "end without start");
			check(a->name == NULL && a->adl == NULL, "group end fields");
			in_group = false;
		} else {
			check(a->mailbox != NULL && a->mailbox[0] != '\0', "no mailbox");
			check(a->host != NULL && a->host[0] != '\0', "no host");
		}
	}
	check(!in_group, "unclosed group");
	check(any_invalid == ((l.flags & MIME_ADDRESS_F_INVALID) != 0) ||
		  (l.flags & MIME_ADDRESS_F_INVALID) != 0,
	      "invalid flag");
	mime_address_list_clear(&l);
	return 0;
}
