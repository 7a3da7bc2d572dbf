/* header.c - RFC 5322 header section parser (see header.h for the policy). */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/header.h"

static const struct mime_header_limits default_limits = {
    .max_size = MIME_HEADER_DEFAULT_MAX_SIZE,
    .max_fields = MIME_HEADER_DEFAULT_MAX_FIELDS,
    .max_value = MIME_HEADER_DEFAULT_MAX_VALUE,
};

struct line {
	size_t start;
	size_t content_end; /* before the line break */
	size_t next;	    /* after the line break, or len */
	bool has_lf;
};

static void
line_at(const unsigned char *p, size_t len, size_t pos, struct line *l)
{
	const unsigned char *lf = memchr(p + pos, '\n', len - pos);

	l->start = pos;
	if (lf == NULL) {
		l->content_end = len;
		l->next = len;
		l->has_lf = false;
		return;
	}
	l->has_lf = true;
	l->next = (size_t)(lf - p) + 1;
	l->content_end = (size_t)(lf - p);
	if (l->content_end > pos && p[l->content_end - 1] == '\r')
		l->content_end--;
}

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Append the unfolded form of raw[n] to values (a NUL follows it). Returns
 * the value length; *cut_r is set when max_value cut it. */
static size_t
unfold(struct buf *values, const unsigned char *raw, size_t n, size_t max_value, bool *cut_r)
{
	size_t start = values->len, i = 0, vlen;
	char *out;

	*cut_r = false;
	while (i < n && (is_wsp(raw[i]) || raw[i] == '\r' || raw[i] == '\n'))
		i++;
	/* The unfolded value is never longer than the raw one. */
	out = buf_reserve(values, n - i + 1);
	if (out == NULL)
		panic("mime header: value storage overflow");
	vlen = 0;
	for (; i < n; i++) {
		unsigned char c = raw[i];

		if (c == '\n' || (c == '\r' && i + 1 < n && raw[i + 1] == '\n'))
			continue;
		out[vlen++] = (char)c;
	}
	while (vlen > 0 && is_wsp((unsigned char)out[vlen - 1]))
		vlen--;
	if (vlen > max_value) {
		size_t k = max_value, back = 0;

		/* Do not leave half a UTF-8 sequence at the cut. */
		while (k > 0 && back < 3 && ((unsigned char)out[k] & 0xc0) == 0x80) {
			k--;
			back++;
		}
		if (((unsigned char)out[k] & 0xc0) == 0x80)
			k = max_value;
		vlen = k;
		*cut_r = true;
	}
	out[vlen] = '\0';
	buf_set_len(values, start + vlen + 1);
	return vlen;
}

int
mime_header_parse(const void *msg, size_t len, const struct mime_header_limits *limits,
		  struct mime_header *hdr_r)
{
	const unsigned char *p = msg;
	struct buf values;
	size_t *value_off = NULL, alloc = 0, pos = 0, i;
	struct line l;

	if (limits == NULL)
		limits = &default_limits;
	memset(hdr_r, 0, sizeof(*hdr_r));
	buf_init(&values, BUF_UNLIMITED);

	for (;;) {
		struct mime_header_field f;
		size_t fstart = pos, name_end, colon, raw_end;
		bool collect;

		if (pos >= len) {
			hdr_r->flags |= MIME_HEADER_F_NO_END;
			hdr_r->size = len;
			break;
		}
		line_at(p, len, pos, &l);
		if (l.content_end == l.start && l.has_lf) {
			if (l.next - l.start == 1)
				hdr_r->flags |= MIME_HEADER_F_BARE_LF;
			hdr_r->size = l.next;
			break;
		}
		/* The field runs over the following lines that start with
		 * whitespace. */
		raw_end = l.content_end;
		if (l.has_lf && l.next - l.content_end == 1)
			hdr_r->flags |= MIME_HEADER_F_BARE_LF;
		pos = l.next;
		while (pos < len && is_wsp(p[pos])) {
			line_at(p, len, pos, &l);
			if (l.has_lf && l.next - l.content_end == 1)
				hdr_r->flags |= MIME_HEADER_F_BARE_LF;
			raw_end = l.content_end;
			pos = l.next;
		}

		collect = true;
		if (pos > limits->max_size) {
			hdr_r->flags |= MIME_HEADER_F_TOO_LARGE;
			collect = false;
		} else if (hdr_r->count >= limits->max_fields) {
			hdr_r->flags |= MIME_HEADER_F_TOO_MANY;
			collect = false;
		}
		if (!collect)
			continue;

		memset(&f, 0, sizeof(f));
		f.offset = fstart;
		f.size = pos - fstart;
		f.name = (const char *)p + fstart;
		colon = fstart;
		if (is_wsp(p[fstart])) {
			/* Continuation lines with no field to continue. */
			f.no_colon = true;
			f.name_len = 0;
			f.raw = (const char *)p + fstart;
			f.raw_len = raw_end - fstart;
		} else {
			const unsigned char *c = memchr(p + fstart, ':', raw_end - fstart);

			if (c == NULL) {
				f.no_colon = true;
				f.name_len = raw_end - fstart;
				f.raw = (const char *)p + raw_end;
				f.raw_len = 0;
			} else {
				colon = (size_t)(c - p);
				name_end = colon;
				while (name_end > fstart && is_wsp(p[name_end - 1]))
					name_end--;
				f.name_len = name_end - fstart;
				f.raw = (const char *)c + 1;
				f.raw_len = raw_end - colon - 1;
			}
		}
		if (f.no_colon)
			hdr_r->flags |= MIME_HEADER_F_GARBAGE;

		if (hdr_r->count == alloc) {
			alloc = alloc == 0 ? 16 : alloc * 2;
			hdr_r->fields = xreallocarray(hdr_r->fields, alloc, sizeof(*hdr_r->fields));
			value_off = xreallocarray(value_off, alloc, sizeof(*value_off));
		}
		value_off[hdr_r->count] = values.len;
		if (f.no_colon) {
			bool cut;

			f.value_len = 0;
			(void)unfold(&values, (const unsigned char *)f.raw, 0, 0, &cut);
		} else {
			f.value_len = unfold(&values, (const unsigned char *)f.raw, f.raw_len,
					     limits->max_value, &f.value_cut);
			if (f.value_cut)
				hdr_r->flags |= MIME_HEADER_F_VALUE_CUT;
		}
		hdr_r->fields[hdr_r->count++] = f;
	}
	hdr_r->body_offset = hdr_r->size;
	for (i = 0; i < hdr_r->size; i++) {
		if (p[i] >= 0x80)
			hdr_r->flags |= MIME_HEADER_F_8BIT;
		else if (p[i] == 0)
			hdr_r->flags |= MIME_HEADER_F_NUL;
	}
	hdr_r->values_ = buf_steal(&values);
	for (i = 0; i < hdr_r->count; i++)
		hdr_r->fields[i].value = hdr_r->values_ + value_off[i];
	free(value_off);
	return 0;
}

void
mime_header_clear(struct mime_header *hdr)
{
	free(hdr->fields);
	free(hdr->values_);
	memset(hdr, 0, sizeof(*hdr));
}

bool
mime_header_field_is(const struct mime_header_field *field, const char *name)
{
	size_t n = strlen(name), i;

	if (field->no_colon || field->name_len != n)
		return false;
	for (i = 0; i < n; i++) {
		if (ascii_tolower((unsigned char)field->name[i]) !=
		    ascii_tolower((unsigned char)name[i]))
			return false;
	}
	return true;
}

const struct mime_header_field *
mime_header_find_next(const struct mime_header *hdr, const struct mime_header_field *prev,
		      const char *name)
{
	size_t i = prev == NULL ? 0 : (size_t)(prev - hdr->fields) + 1;

	for (; i < hdr->count; i++) {
		if (mime_header_field_is(&hdr->fields[i], name))
			return &hdr->fields[i];
	}
	return NULL;
}

const struct mime_header_field *
mime_header_find(const struct mime_header *hdr, const char *name)
{
	return mime_header_find_next(hdr, NULL, name);
}
