/* fuzz_mime_header.c - libFuzzer target for the RFC 5322 header parser.
 *
 * Input: the message. Checks that the header section lies within the input
 * and ends at an empty line or the end; that every field lies inside the
 * header, fields are in order and do not overlap; that raw values lie inside
 * their field; that an unfolded value is never longer than its raw value
 * (nor than max_value) and holds no line break; that lookups return fields
 * with the name asked for; and that small limits only drop fields.
 */
#include "lib/common.h"

#include "mime/header.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_header: %s\n", what);
		abort();
	}
}

static void
check_header(const uint8_t *data, size_t size, const struct mime_header *h, size_t max_value)
{
	const char *base = (const char *)data;
	size_t i, end = 0;

	check(h->size <= size && h->body_offset == h->size, "size");
	if ((h->flags & MIME_HEADER_F_NO_END) != 0)
		check(h->size == size, "no end");
	else
		check(h->size >= 1 && data[h->size - 1] == '\n', "end line");
	for (i = 0; i < h->count; i++) {
		const struct mime_header_field *f = &h->fields[i];
		char name[64];

		check(f->offset >= end && f->offset + f->size <= h->size, "field bounds");
		end = f->offset + f->size;
		check(f->name == base + f->offset || f->name_len == 0, "name start");
		check(f->raw >= base + f->offset && f->raw + f->raw_len <= base + end,
		      "raw bounds");
		check(f->value_len <= f->raw_len && f->value_len <= max_value, "value length");
		check(f->value[f->value_len] == '\0', "value NUL");
		check(memchr(f->value, '\n', f->value_len) == NULL, "LF in value");
		if (!f->no_colon && f->name_len > 0 && f->name_len < sizeof(name) &&
		    memchr(f->name, '\0', f->name_len) == NULL) {
			const struct mime_header_field *g;

			memcpy(name, f->name, f->name_len);
			name[f->name_len] = '\0';
			g = mime_header_find(h, name);
			check(g != NULL && g <= f && mime_header_field_is(g, name), "lookup");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_header h, small;
	struct mime_header_limits lim = {.max_size = 200, .max_fields = 5, .max_value = 7};
	size_t i;

	(void)mime_header_parse(data, size, NULL, &h);
	check_header(data, size, &h, MIME_HEADER_DEFAULT_MAX_VALUE);
	(void)mime_header_parse(data, size, &lim, &small);
	check_header(data, size, &small, lim.max_value);
	check(small.size == h.size && small.count <= h.count && small.count <= 5, "limits");
	for (i = 0; i < small.count; i++)
		check(small.fields[i].offset == h.fields[i].offset, "limits keep a prefix");
	mime_header_clear(&small);
	mime_header_clear(&h);
	return 0;
}
