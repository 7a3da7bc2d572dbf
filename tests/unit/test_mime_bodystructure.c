/* test_mime_bodystructure.c - ENVELOPE, BODY, BODYSTRUCTURE and sections
 * against Dovecot's answers.
 *
 * For every tests/data/mime/NAME.expected (written by dovecot-answers.py),
 * NAME.eml is read, every LF not preceded by CR made CRLF (the .eml files
 * are kept with either ending; the script converts the same way), and each
 * record "ITEM LENGTH\n<bytes>\n" or "ITEM NO\n" compared with postern's
 * answer. NAME.postern, when present, holds records in the same format that
 * replace Dovecot's: the intentional differences listed in docs/mime.md.
 */
#include "lib/common.h"

#include <dirent.h>
#include <setjmp.h>

#include <cmocka.h> /* after setjmp.h */

#include "lib/buf.h"
#include "mime/bodystructure.h"
#include "mime/envelope.h"
#include "mime/header.h"
#include "mime/part.h"
#include "mime/section.h"

#define MAX_RECORDS 64
#define MAX_FIELDS 8

struct record {
	char item[128];
	bool no; /* Dovecot refused */
	char *data;
	size_t len;
};

struct records {
	struct record r[MAX_RECORDS];
	size_t n;
};

static char *
load_path(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	long n;

	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	data[n] = '\0';
	fclose(fp);
	*len_r = (size_t)n;
	return data;
}

static char *
load(const char *name, const char *ext, size_t *len_r)
{
	const char *srcdir = getenv("POSTERN_SRCDIR");
	char path[1024];

	assert_non_null(srcdir);
	assert_true(snprintf(path, sizeof(path), "%s/tests/data/mime/%s%s", srcdir, name, ext) <
		    (int)sizeof(path));
	return load_path(path, len_r);
}

/* Every LF not preceded by CR becomes CRLF. */
static char *
to_crlf(const char *in, size_t len, size_t *len_r)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			assert_int_equal(buf_add_char(&b, '\r'), 0);
		assert_int_equal(buf_add_char(&b, in[i]), 0);
	}
	*len_r = b.len;
	return buf_steal(&b);
}

/* Parse records; a later record of the same item replaces an earlier one. */
static void
parse_records(char *data, size_t len, struct records *rs)
{
	size_t pos = 0;

	while (pos < len) {
		char *nl = memchr(data + pos, '\n', len - pos), *sp;
		struct record rec = {0};
		size_t i;

		assert_non_null(nl);
		*nl = '\0';
		if (data[pos] == '#') {
			pos = (size_t)(nl - data) + 1;
			continue;
		}
		sp = strrchr(data + pos, ' ');
		assert_non_null(sp);
		assert_true((size_t)(sp - (data + pos)) < sizeof(rec.item));
		memcpy(rec.item, data + pos, (size_t)(sp - (data + pos)));
		pos = (size_t)(nl - data) + 1;
		if (strcmp(sp + 1, "NO") == 0) {
			rec.no = true;
		} else {
			rec.len = strtoul(sp + 1, NULL, 10);
			assert_true(rec.len < len - pos);
			rec.data = data + pos;
			pos += rec.len + 1;
		}
		for (i = 0; i < rs->n && strcmp(rs->r[i].item, rec.item) != 0; i++)
			;
		if (i == rs->n) {
			assert_true(rs->n < MAX_RECORDS);
			rs->n++;
		}
		rs->r[i] = rec;
	}
}

/* "BODY[1.2.HEADER.FIELDS (A B)]" into part "1.2", text and fields. */
static void
parse_section(const char *spec, char *part, size_t partsize, enum mime_section_text *text_r,
	      char fields[MAX_FIELDS][64], size_t *nfields_r)
{
	const char *p = strchr(spec, '[') + 1, *t;
	size_t n = 0;

	while (ascii_is_digit((unsigned char)p[n]) || (p[n] == '.' && ascii_is_digit((unsigned char)p[n + 1])))
		n++;
	assert_true(n < partsize);
	memcpy(part, p, n);
	part[n] = '\0';
	t = p + n + (p[n] == '.');
	*nfields_r = 0;
	if (*t == ']')
		*text_r = MIME_SECTION_ALL;
	else if (strncmp(t, "MIME]", 5) == 0)
		*text_r = MIME_SECTION_MIME;
	else if (strncmp(t, "TEXT]", 5) == 0)
		*text_r = MIME_SECTION_TEXT;
	else if (strncmp(t, "HEADER]", 7) == 0)
		*text_r = MIME_SECTION_HEADER;
	else {
		const char *list = strchr(t, '(') + 1;

		*text_r = strncmp(t, "HEADER.FIELDS.NOT", 17) == 0 ? MIME_SECTION_HEADER_FIELDS_NOT
								    : MIME_SECTION_HEADER_FIELDS;
		while (*list != ')') {
			size_t k = strcspn(list, " )");

			assert_true(*nfields_r < MAX_FIELDS && k < 64);
			memcpy(fields[*nfields_r], list, k);
			fields[(*nfields_r)++][k] = '\0';
			list += k + (list[k] == ' ');
		}
	}
}

/* postern's answer for item: 0 with bytes in out, 1 for NO. */
static int
answer(const char *msg, size_t len, const struct mime_message *tree, const char *item,
       struct buf *out)
{
	char part[64], fields[MAX_FIELDS][64];
	const char *fp[MAX_FIELDS];
	enum mime_section_text text;
	size_t nfields;

	if (strcmp(item, "ENVELOPE") == 0) {
		struct mime_header h;
		int ret;

		(void)mime_header_parse(msg, tree->root->header_size, NULL, &h);
		ret = mime_envelope(&h, false, out);
		mime_header_clear(&h);
		assert_int_equal(ret, 0);
		return 0;
	}
	if (strcmp(item, "BODY") == 0 || strcmp(item, "BODYSTRUCTURE") == 0) {
		assert_int_equal(mime_bodystructure(msg, len, tree, item[4] != '\0', false, out), 0);
		return 0;
	}
	parse_section(item, part, sizeof(part), &text, fields, &nfields);
	if (strncmp(item, "BINARY[", 7) == 0) {
		enum mime_binary_result r = mime_binary_get(msg, len, tree, part, out);

		assert_true(r == MIME_BINARY_OK || r == MIME_BINARY_NO_PART ||
			    r == MIME_BINARY_UNKNOWN_CTE);
		return r == MIME_BINARY_UNKNOWN_CTE;
	}
	for (size_t i = 0; i < nfields; i++)
		fp[i] = fields[i];
	assert_int_equal(mime_section_get(msg, len, tree, part, text, fp, nfields, out), 0);
	return 0;
}

/* With POSTERN_MIME_DUMP=dir, a differing answer is appended to
 * dir/NAME.postern in the record format, to review and copy when a
 * difference is intended. */
static void
dump(const char *name, const char *item, int no, const struct buf *out)
{
	const char *dir = getenv("POSTERN_MIME_DUMP");
	char path[1024];
	FILE *fp;

	if (dir == NULL || snprintf(path, sizeof(path), "%s/%s.postern", dir, name) >= (int)sizeof(path))
		return;
	fp = fopen(path, "ab");
	if (fp == NULL)
		return;
	if (no)
		fprintf(fp, "%s NO\n", item);
	else
		fprintf(fp, "%s %zu\n%.*s\n", item, out->len, (int)out->len, buf_cstr(out));
	fclose(fp);
}

static size_t
check_message(const char *name)
{
	size_t raw_len, len, exp_len, over_len = 0, failures = 0;
	char *raw = load(name, ".eml", &raw_len), *msg, *exp, *over;
	struct records rs = {.n = 0};
	struct mime_message tree;
	struct buf out;

	assert_non_null(raw);
	msg = to_crlf(raw, raw_len, &len);
	exp = load(name, ".expected", &exp_len);
	assert_non_null(exp);
	parse_records(exp, exp_len, &rs);
	over = load(name, ".postern", &over_len);
	if (over != NULL)
		parse_records(over, over_len, &rs);
	assert_int_equal(mime_message_parse(msg, len, NULL, &tree), 0);
	buf_init(&out, BUF_UNLIMITED);
	for (size_t i = 0; i < rs.n; i++) {
		const struct record *r = &rs.r[i];
		int no;

		buf_reset(&out);
		no = answer(msg, len, &tree, r->item, &out);
		if (no == (int)r->no && (no || (out.len == r->len && memcmp(out.data, r->data, r->len) == 0)))
			continue;
		failures++;
		dump(name, r->item, no, &out);
		fprintf(stderr, "%s %s: want %zu got %zu\n  want %s%.*s\n  got  %s%.*s\n", name, r->item, r->len, out.len,
			r->no ? "NO" : "", (int)r->len, r->no ? "" : r->data, no ? "NO" : "",
			(int)out.len, buf_cstr(&out));
	}
	buf_release(&out);
	mime_message_clear(&tree);
	free(raw);
	free(msg);
	free(exp);
	free(over);
	return failures;
}

static void
test_dovecot_answers(void **state)
{
	char dir[1024];
	DIR *d;
	struct dirent *de;
	size_t files = 0, failures = 0;

	(void)state;
	assert_true(snprintf(dir, sizeof(dir), "%s/tests/data/mime", getenv("POSTERN_SRCDIR")) <
		    (int)sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char name[256];

		if (n <= 9 || strcmp(de->d_name + n - 9, ".expected") != 0 || n - 9 >= sizeof(name))
			continue;
		memcpy(name, de->d_name, n - 9);
		name[n - 9] = '\0';
		failures += check_message(name);
		files++;
	}
	closedir(d);
	assert_true(files >= 15);
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
