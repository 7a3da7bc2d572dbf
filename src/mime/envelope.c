/* envelope.c - ENVELOPE from a header section. */
#include "lib/common.h"

#include "imap/imap_string.h"
#include "mime/address.h"
#include "mime/envelope.h"

/* The value trimmed of surrounding white space. */
static void
trimmed(const struct mime_header_field *f, const char **s_r, size_t *len_r)
{
	const char *s = f->value;
	size_t len = f->value_len;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*s_r = s;
	*len_r = len;
}

static int
text_field(const struct mime_header *hdr, const char *name, bool utf8, struct buf *out)
{
	const struct mime_header_field *f = mime_header_find(hdr, name);
	const char *s;
	size_t len;

	if (f == NULL)
		return imap_append_nstring(out, NULL, 0, utf8);
	trimmed(f, &s, &len);
	return imap_append_nstring(out, s, len, utf8);
}

static int
nstr(struct buf *out, const char *s, bool utf8)
{
	return imap_append_nstring(out, s, s != NULL ? strlen(s) : 0, utf8);
}

/* Parse the field's addresses; 0 when there are none (or no field). */
static size_t
addresses(const struct mime_header *hdr, const char *name, struct mime_address_list *list)
{
	const struct mime_header_field *f = mime_header_find(hdr, name);

	memset(list, 0, sizeof(*list));
	if (f == NULL)
		return 0;
	(void)mime_address_parse(f->value, f->value_len, list);
	return list->count;
}

static int
address_list(const struct mime_address_list *list, bool utf8, struct buf *out)
{
	if (list->count == 0)
		return buf_add_str(out, "NIL");
	if (buf_add_char(out, '(') < 0)
		return -1;
	for (size_t i = 0; i < list->count; i++) {
		const struct mime_address *a = &list->addrs[i];
		if (buf_add_char(out, '(') < 0 || nstr(out, a->name, utf8) < 0 ||
		    buf_add_char(out, ' ') < 0 || nstr(out, a->adl, utf8) < 0 ||
		    buf_add_char(out, ' ') < 0 || nstr(out, a->mailbox, utf8) < 0 ||
		    buf_add_char(out, ' ') < 0 || nstr(out, a->host, utf8) < 0 ||
		    buf_add_char(out, ')') < 0)
			return -1;
	}
	return buf_add_char(out, ')');
}

int
mime_envelope(const struct mime_header *hdr, bool utf8, struct buf *out)
{
	static const char *const lists[] = {"From", "Sender", "Reply-To", "To", "Cc", "Bcc"};
	struct mime_address_list parsed[N_ELEMENTS(lists)];
	size_t start = out->len;
	int ret = -1;

	for (size_t i = 0; i < N_ELEMENTS(lists); i++)
		(void)addresses(hdr, lists[i], &parsed[i]);
	if (buf_add_char(out, '(') < 0 || text_field(hdr, "Date", utf8, out) < 0 ||
	    buf_add_char(out, ' ') < 0 || text_field(hdr, "Subject", utf8, out) < 0)
		goto out;
	for (size_t i = 0; i < N_ELEMENTS(lists); i++) {
		/* An absent or empty Sender or Reply-To is From. */
		const struct mime_address_list *l =
			(i == 1 || i == 2) && parsed[i].count == 0 ? &parsed[0] : &parsed[i];
		if (buf_add_char(out, ' ') < 0 || address_list(l, utf8, out) < 0)
			goto out;
	}
	if (buf_add_char(out, ' ') < 0 || text_field(hdr, "In-Reply-To", utf8, out) < 0 ||
	    buf_add_char(out, ' ') < 0 || text_field(hdr, "Message-ID", utf8, out) < 0 ||
	    buf_add_char(out, ')') < 0)
		goto out;
	ret = 0;
out:
	for (size_t i = 0; i < N_ELEMENTS(lists); i++)
		mime_address_list_clear(&parsed[i]);
	if (ret < 0)
		buf_set_len(out, start);
	return ret;
}
