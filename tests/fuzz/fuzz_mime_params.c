/* fuzz_mime_params.c - libFuzzer target for Content-Type / -Disposition.
 *
 * Input: a header value, parsed both ways. Checks that a Content-Type always
 * has a lower-case type and subtype made of token characters; that there
 * are at most MIME_PARAMS_MAX parameters, with distinct lower-case names;
 * that values end with a NUL at value_len and are no longer than
 * MIME_PARAM_VALUE_MAX (extended ones: valid UTF-8 of at most that size);
 * and that text types always have a charset.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "mime/charset.h"
#include "mime/params.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime_params: %s\n", what);
		abort();
	}
}

static void
check_lower_token(const char *s)
{
	check(s[0] != '\0' && strlen(s) <= MIME_TOKEN_MAX, "token length");
	for (; *s != '\0'; s++)
		check(!(*s >= 'A' && *s <= 'Z') && strchr(" \t\r\n;=\"/()", *s) == NULL,
		      "token character");
}

static void
check_content(const struct mime_content *c)
{
	size_t i, j;

	check(c->nparams <= MIME_PARAMS_MAX, "too many");
	for (i = 0; i < c->nparams; i++) {
		const struct mime_param *p = &c->params[i];

		check_lower_token(p->name);
		check(p->value[p->value_len] == '\0', "value NUL");
		check(p->value_len <= MIME_PARAM_VALUE_MAX, "value length");
		if (p->extended) {
			struct buf b;

			buf_init(&b, BUF_UNLIMITED);
			check(mime_utf8_append_valid(&b, p->value, p->value_len) == 0, "append");
			check(b.len == p->value_len, "extended value not UTF-8");
			buf_release(&b);
			check(p->charset != NULL && p->language != NULL, "extended fields");
		}
		{
			struct buf d;

			buf_init(&d, 4 * MIME_PARAM_VALUE_MAX);
			check(mime_param_decode(p, &d) == 0, "decode");
			check(memchr(buf_cstr(&d), '\n', d.len) == NULL, "decoded LF");
			buf_release(&d);
		}
		for (j = 0; j < i; j++)
			check(strcmp(c->params[j].name, p->name) != 0, "duplicate name");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_content c;

	(void)mime_content_type_parse((const char *)data, size, &c);
	check(c.type != NULL && c.subtype != NULL, "no type");
	check_lower_token(c.type);
	check_lower_token(c.subtype);
	check_content(&c);
	if (strcmp(c.type, "text") == 0)
		check(mime_content_charset(&c) != NULL, "text without charset");
	mime_content_clear(&c);

	(void)mime_content_disposition_parse((const char *)data, size, &c);
	check(c.subtype == NULL, "disposition subtype");
	if (c.type != NULL)
		check_lower_token(c.type);
	check_content(&c);
	mime_content_clear(&c);
	return 0;
}
