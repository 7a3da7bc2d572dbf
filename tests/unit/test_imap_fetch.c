/* test_imap_fetch.c - FETCH items, sections, partials and modifiers, read
 * from command lines through the command parser; PARTIAL mapping. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "imap/imap_fetch.h"
#include "imap/imap_parser.h"
#include "lib/buf.h"

static const char *const item_names[] = {
    "UID",	     "FLAGS",  "INTERNALDATE", "RFC822.SIZE",	"ENVELOPE",    "BODY",
    "BODYSTRUCTURE", "MODSEQ", "RFC822",       "RFC822.HEADER", "RFC822.TEXT", "SAVEDATE",
};

static const char *const text_names[] = {"ALL", "HEADER", "FIELDS", "FIELDS.NOT", "TEXT", "MIME"};

/* "ITEM ITEM ... [seen] [cs=n] [vanished] {reply|kind|peek|part|text|f1,f2|off.len}" */
static void
describe(const struct imap_fetch *f, struct buf *out)
{
	int r = 0;

	for (size_t i = 0; i < N_ELEMENTS(item_names); i++)
		if (f->items & (1u << i))
			r |= buf_printf(out, "%s ", item_names[i]);
	if (f->sets_seen)
		r |= buf_add_str(out, "seen ");
	if (f->changedsince != 0)
		r |= buf_printf(out, "cs=%llu ", (unsigned long long)f->changedsince);
	if (f->vanished)
		r |= buf_add_str(out, "vanished ");
	for (size_t i = 0; i < f->nsections; i++) {
		const struct imap_fetch_section *s = &f->sections[i];
		r |= buf_printf(out, "{%s|%d|%d|%s|%s|", s->reply_name, (int)s->kind, s->peek,
				s->part, text_names[s->text]);
		for (size_t k = 0; k < s->nfields; k++)
			r |= buf_printf(out, "%s%s", k > 0 ? "," : "", s->fields[k]);
		if (s->partial)
			r |= buf_printf(out, "|%u.%u", s->offset, s->length);
		r |= buf_add_str(out, "} ");
	}
	assert_int_equal(r, 0);
	if (out->len > 0)
		buf_set_len(out, out->len - 1);
}

/* Parse "T FETCH 1 <items>" and the items; the description or "ERR: why". */
static void
fetch_is(const char *items, const char *want)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct buf line, out;
	enum imap_parse_event ev;
	struct imap_fetch f;
	const char *error;

	buf_init(&line, BUF_UNLIMITED);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&line, "T FETCH 1 %s\r\n", items), 0);
	size_t n = imap_parser_feed(p, line.data, line.len, &ev);
	if (ev != IMAP_PARSE_COMMAND || n != line.len)
		fail_msg("'%s': not a command", items);
	const struct imap_command *c = imap_parser_command(p);
	assert_true(c->count >= 1);
	if (imap_fetch_parse(c->args + 1, c->count - 1, &f, &error) == 0) {
		describe(&f, &out);
		imap_fetch_clear(&f);
	} else {
		assert_int_equal(buf_printf(&out, "ERR: %s", error), 0);
		assert_null(f.sections);
		assert_int_equal(f.nsections, 0);
	}
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("'%s': got '%s' want '%s'", items, buf_cstr(&out), want);
	assert_null(f.sections);
	buf_release(&line);
	buf_release(&out);
	imap_parser_free(&p);
}

static void
test_macros_items(void **state)
{
	(void)state;
	fetch_is("ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
	fetch_is("fast", "FLAGS INTERNALDATE RFC822.SIZE");
	fetch_is("FULL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY");
	fetch_is("uid", "UID");
	fetch_is("(UID FLAGS ENVELOPE BODYSTRUCTURE body rfc822.size internaldate MODSEQ SAVEDATE)",
		 "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE MODSEQ SAVEDATE");
	fetch_is("RFC822", "RFC822 seen");
	fetch_is("RFC822.TEXT", "RFC822.TEXT seen");
	fetch_is("(RFC822.HEADER UID)", "UID RFC822.HEADER");
	fetch_is("(ALL)", "ERR: unknown FETCH item");
	fetch_is("()", "ERR: empty FETCH item list");
	fetch_is("FOO", "ERR: unknown FETCH item");
	fetch_is("(UID FOO)", "ERR: unknown FETCH item");
	fetch_is("\"UID\"", "ERR: bad FETCH item");
	fetch_is("(UID (FLAGS))", "ERR: bad FETCH item");
	fetch_is("NIL", "ERR: bad FETCH item");
	fetch_is("BODY.PEEK", "ERR: unknown FETCH item");
	fetch_is("UID FLAGS", "ERR: bad FETCH modifiers");
	fetch_is("UID (CHANGEDSINCE 1) x", "ERR: unexpected arguments after FETCH items");
}

static void
test_sections(void **state)
{
	(void)state;
	fetch_is("BODY[]", "seen {BODY[]|0|0||ALL|}");
	fetch_is("body.peek[]", "{BODY[]|0|1||ALL|}");
	fetch_is("BODY.PEEK[header]", "{BODY[HEADER]|0|1||HEADER|}");
	fetch_is("BODY[TEXT]", "seen {BODY[TEXT]|0|0||TEXT|}");
	fetch_is("BODY.PEEK[1.2]", "{BODY[1.2]|0|1|1.2|ALL|}");
	fetch_is("BODY.PEEK[1.2.header]", "{BODY[1.2.HEADER]|0|1|1.2|HEADER|}");
	fetch_is("BODY.PEEK[1.MIME]", "{BODY[1.MIME]|0|1|1|MIME|}");
	fetch_is("BODY.PEEK[3.text]", "{BODY[3.TEXT]|0|1|3|TEXT|}");
	fetch_is("BODY.PEEK[HEADER.FIELDS (date From)]",
		 "{BODY[HEADER.FIELDS (DATE FROM)]|0|1||FIELDS|date,From}");
	fetch_is("BODY.PEEK[header.fields.not (Subject \"X-Foo\")]",
		 "{BODY[HEADER.FIELDS.NOT (SUBJECT \"X-FOO\")]|0|1||FIELDS.NOT|Subject,X-Foo}");
	fetch_is("BODY[2.HEADER.FIELDS ( a   \"b c\" )]",
		 "seen {BODY[2.HEADER.FIELDS (A \"B C\")]|0|0|2|FIELDS|a,b c}");
	fetch_is("BODY.PEEK[HEADER.FIELDS (\"a\\\\b\\\"c\" d)]",
		 "{BODY[HEADER.FIELDS (\"A\\\\B\\\"C\" D)]|0|1||FIELDS|a\\b\"c,d}");
	fetch_is("(BODY.PEEK[HEADER] BODY[1] UID)",
		 "UID seen {BODY[HEADER]|0|1||HEADER|} {BODY[1]|0|0|1|ALL|}");
	fetch_is("BINARY[1.2]", "seen {BINARY[1.2]|1|0|1.2|ALL|}");
	fetch_is("binary.peek[]", "{BINARY[]|1|1||ALL|}");
	fetch_is("BINARY.SIZE[3]", "{BINARY.SIZE[3]|2|0|3|ALL|}");
	fetch_is("BINARY.SIZE[]", "{BINARY.SIZE[]|2|0||ALL|}");
}

static void
test_section_errors(void **state)
{
	(void)state;
	fetch_is("BODY[0]", "ERR: bad section part number");
	fetch_is("BODY[01]", "ERR: bad section part number");
	fetch_is("BODY[1.0]", "ERR: bad section part number");
	fetch_is("BODY[4294967296]", "ERR: bad section part number");
	fetch_is("BODY[4294967295]", "seen {BODY[4294967295]|0|0|4294967295|ALL|}");
	fetch_is("BODY[1.]", "ERR: bad section");
	fetch_is("BODY[.1]", "ERR: bad section");
	fetch_is("BODY[MIME]", "ERR: MIME needs a part number");
	fetch_is("BODY[HEADERX]", "ERR: bad section");
	fetch_is("BODY[1HEADER]", "ERR: bad section");
	fetch_is("BODY[HEADER ]", "ERR: bad section");
	fetch_is("BODY[TEXT.MIME]", "ERR: bad section");
	fetch_is("BODY[HEADER.FIELDS]", "ERR: missing header list");
	fetch_is("BODY[HEADER.FIELDS DATE]", "ERR: missing header list");
	fetch_is("BODY[HEADER.FIELDS ()]", "ERR: empty header list");
	fetch_is("BODY[HEADER.FIELDS (a b]", "ERR: bad header list");
	fetch_is("BODY[HEADER.FIELDS (a ]", "ERR: bad header field name");
	fetch_is("BODY[HEADER.FIELDS (a)x]", "ERR: bad section");
	fetch_is("BODY[HEADER.FIELDS (a\"b\")]", "ERR: bad header list");
	fetch_is("BODY[HEADER.FIELDS (\"\")]", "ERR: bad header field name");
	fetch_is("BODY[HEADER.FIELDS (\"a\\b\")]", "ERR: bad header field name");
	fetch_is("BODY[HEADER.FIELDS (a%)]", "ERR: bad header list");
	fetch_is("BODY[HEADER.FIELDS (%)]", "ERR: bad header field name");
	fetch_is("BODY[HEADER.FIELDS ((a))]", "ERR: bad header field name");
	fetch_is("BINARY[HEADER]", "ERR: BINARY takes part numbers only");
	fetch_is("BINARY[1.MIME]", "ERR: BINARY takes part numbers only");
	fetch_is("BINARY.SIZE[1.TEXT]", "ERR: BINARY takes part numbers only");
	fetch_is("BODYX[]", "ERR: unknown FETCH item");
	fetch_is("[]", "ERR: unknown FETCH item");
	fetch_is("BODY[]x", "ERR: bad partial");
	fetch_is("BODY[", "ERR: bad section");
}

static void
test_partial(void **state)
{
	(void)state;
	fetch_is("BODY[]<0.2048>", "seen {BODY[]<0>|0|0||ALL||0.2048}");
	fetch_is("BODY.PEEK[HEADER.FIELDS (DATE)]<10.5>",
		 "{BODY[HEADER.FIELDS (DATE)]<10>|0|1||FIELDS|DATE|10.5}");
	fetch_is("BINARY.PEEK[1]<1.3>", "{BINARY[1]<1>|1|1|1|ALL||1.3}");
	/* number64 origins are echoed; the values are capped. */
	fetch_is("BODY[]<9223372036854775807.9223372036854775807>",
		 "seen {BODY[]<9223372036854775807>|0|0||ALL||4294967295.4294967295}");
	fetch_is("BODY[]<9223372036854775808.1>", "ERR: bad partial");
	fetch_is("BODY[]<0.0>", "ERR: partial length must be at least 1");
	fetch_is("BODY[]<0>", "ERR: partial needs <offset.length>");
	fetch_is("BODY[]<0.1", "ERR: bad partial");
	fetch_is("BODY[]<0.1>x", "ERR: bad partial");
	fetch_is("BODY[]<.1>", "ERR: bad partial");
	fetch_is("BODY[]<-1.1>", "ERR: bad partial");
	fetch_is("BINARY.SIZE[1]<0.1>", "ERR: BINARY.SIZE takes no partial");
}

/* A section asked for again is kept once (PEEK or not); another partial or
 * another spelling of the field list is another section. */
static void
test_repeated_sections(void **state)
{
	(void)state;
	fetch_is("(BODY.PEEK[] BODY.PEEK[] body.peek[])", "{BODY[]|0|1||ALL|}");
	fetch_is("(BODY.PEEK[1] BODY[1] UID BODY.PEEK[1])", "UID seen {BODY[1]|0|1|1|ALL|}");
	fetch_is("(BODY.PEEK[HEADER.FIELDS (From)] BODY.PEEK[HEADER.FIELDS (FROM)])",
		 "{BODY[HEADER.FIELDS (FROM)]|0|1||FIELDS|From}");
	fetch_is("(BODY.PEEK[HEADER.FIELDS (From)] BODY.PEEK[HEADER.FIELDS (\"From\")])",
		 "{BODY[HEADER.FIELDS (FROM)]|0|1||FIELDS|From} "
		 "{BODY[HEADER.FIELDS (\"FROM\")]|0|1||FIELDS|From}");
	fetch_is("(BODY.PEEK[]<0.10> BODY.PEEK[]<0.10> BODY.PEEK[]<0.20> BODY.PEEK[])",
		 "{BODY[]<0>|0|1||ALL||0.10} {BODY[]<0>|0|1||ALL||0.20} {BODY[]|0|1||ALL|}");
	fetch_is("(BINARY.PEEK[1] BINARY[1] BINARY.SIZE[1] BINARY.SIZE[1] BODY.PEEK[1])",
		 "seen {BINARY[1]|1|1|1|ALL|} {BINARY.SIZE[1]|2|0|1|ALL|} {BODY[1]|0|1|1|ALL|}");
}

/* "(BODY.PEEK[]<0.1> ... BODY.PEEK[]<0.n>)" */
static void
many_partials(struct buf *items, unsigned n)
{
	buf_reset(items);
	assert_int_equal(buf_add_str(items, "("), 0);
	for (unsigned i = 1; i <= n; i++)
		assert_int_equal(buf_printf(items, "%sBODY.PEEK[]<0.%u>", i > 1 ? " " : "", i), 0);
	assert_int_equal(buf_add_str(items, ")"), 0);
}

/* IMAP_FETCH_MAX_SECTIONS distinct sections, then one too many; thousands
 * of the same section (what fits in a command line) are one. */
static void
test_section_limit(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct buf items, line;
	enum imap_parse_event ev;
	struct imap_fetch f;
	const char *error;

	(void)state;
	buf_init(&items, BUF_UNLIMITED);
	buf_init(&line, BUF_UNLIMITED);
	for (unsigned n = IMAP_FETCH_MAX_SECTIONS; n <= IMAP_FETCH_MAX_SECTIONS + 1; n++) {
		many_partials(&items, n);
		buf_reset(&line);
		assert_int_equal(buf_printf(&line, "T FETCH 1 %s\r\n", buf_cstr(&items)), 0);
		imap_parser_reset(p);
		assert_int_equal(imap_parser_feed(p, line.data, line.len, &ev), line.len);
		assert_int_equal(ev, IMAP_PARSE_COMMAND);
		const struct imap_command *c = imap_parser_command(p);
		int r = imap_fetch_parse(c->args + 1, c->count - 1, &f, &error);
		if (n == IMAP_FETCH_MAX_SECTIONS) {
			assert_int_equal(r, 0);
			assert_int_equal(f.nsections, n);
			imap_fetch_clear(&f);
		} else {
			assert_int_equal(r, -1);
			assert_string_equal(error, "too many FETCH sections");
			assert_null(f.sections);
		}
	}
	buf_reset(&line);
	assert_int_equal(buf_add_str(&line, "T FETCH 1 ("), 0);
	for (unsigned i = 0; i < 9000; i++)
		assert_int_equal(buf_add_str(&line, i > 0 ? " BODY[]" : "BODY[]"), 0);
	assert_int_equal(buf_add_str(&line, ")\r\n"), 0);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, line.data, line.len, &ev), line.len);
	assert_int_equal(ev, IMAP_PARSE_COMMAND);
	const struct imap_command *c = imap_parser_command(p);
	assert_int_equal(imap_fetch_parse(c->args + 1, c->count - 1, &f, &error), 0);
	assert_int_equal(f.nsections, 1);
	assert_true(f.sets_seen);
	imap_fetch_clear(&f);
	buf_release(&items);
	buf_release(&line);
	imap_parser_free(&p);
}

static void
test_modifiers(void **state)
{
	(void)state;
	fetch_is("FLAGS (CHANGEDSINCE 12345)", "FLAGS MODSEQ cs=12345");
	fetch_is("(FLAGS) (changedsince 5 vanished)", "FLAGS MODSEQ cs=5 vanished");
	fetch_is("(FLAGS) (VANISHED CHANGEDSINCE 5)", "FLAGS MODSEQ cs=5 vanished");
	fetch_is("FLAGS (CHANGEDSINCE 0)", "FLAGS MODSEQ");
	fetch_is("FLAGS (CHANGEDSINCE 9223372036854775807)", "FLAGS MODSEQ cs=9223372036854775807");
	fetch_is("FLAGS (CHANGEDSINCE 9223372036854775808)",
		 "ERR: CHANGEDSINCE needs a mod-sequence");
	fetch_is("FLAGS (CHANGEDSINCE)", "ERR: CHANGEDSINCE needs a mod-sequence");
	fetch_is("FLAGS (CHANGEDSINCE x)", "ERR: CHANGEDSINCE needs a mod-sequence");
	fetch_is("FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "ERR: CHANGEDSINCE given twice");
	fetch_is("FLAGS (VANISHED)", "ERR: VANISHED needs CHANGEDSINCE");
	fetch_is("FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)", "ERR: VANISHED given twice");
	fetch_is("FLAGS ()", "ERR: bad FETCH modifiers");
	fetch_is("FLAGS (FOO)", "ERR: unknown FETCH modifier");
	fetch_is("FLAGS CHANGEDSINCE", "ERR: bad FETCH modifiers");
}

static void
test_no_args(void **state)
{
	struct imap_fetch f;
	const char *error = NULL;

	(void)state;
	assert_int_equal(imap_fetch_parse(NULL, 0, &f, &error), -1);
	assert_string_equal(error, "missing FETCH items");
}

static void
partial_is(const char *item, uint32_t start, uint32_t len, const char *want)
{
	struct imap_arg a = {.type = IMAP_ARG_ATOM, .str = item, .len = strlen(item)};
	struct imap_fetch f;
	const char *error;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	if (imap_fetch_parse_partial(&a, start, len, &f, &error) == 0) {
		describe(&f, &out);
		imap_fetch_clear(&f);
	} else {
		assert_int_equal(buf_printf(&out, "ERR: %s", error), 0);
	}
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("'%s': got '%s' want '%s'", item, buf_cstr(&out), want);
	buf_release(&out);
}

static void
test_partial_command(void **state)
{
	struct imap_arg s = {.type = IMAP_ARG_STRING, .str = "RFC822", .len = 6};
	struct imap_fetch f;
	const char *error;

	(void)state;
	partial_is("RFC822", 1, 1024, "seen {RFC822|0|0||ALL||0.1024}");
	partial_is("rfc822.header", 11, 10, "{RFC822.HEADER|0|1||HEADER||10.10}");
	partial_is("RFC822.TEXT", 5, 0, "seen {RFC822.TEXT|0|0||TEXT||4.0}");
	partial_is("BODY[1.2]", 1, 5, "seen {BODY[1.2]|0|0|1.2|ALL||0.5}");
	partial_is("BODY.PEEK[HEADER.FIELDS (x)]", 3, 5,
		   "{BODY[HEADER.FIELDS (X)]|0|1||FIELDS|x|2.5}");
	partial_is("RFC822", 0, 5, "ERR: PARTIAL counts octets from 1");
	partial_is("BODY[]<0.5>", 1, 5, "ERR: unexpected text after section");
	partial_is("BINARY[1]", 1, 5, "ERR: PARTIAL takes RFC822 or BODY items");
	partial_is("UID", 1, 5, "ERR: PARTIAL takes RFC822 or BODY items");
	partial_is("BODY[MIME]", 1, 5, "ERR: MIME needs a part number");
	assert_int_equal(imap_fetch_parse_partial(&s, 1, 1, &f, &error), -1);
	assert_string_equal(error, "bad PARTIAL item");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_macros_items),    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_section_errors),  cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_modifiers),	    cmocka_unit_test(test_no_args),
	    cmocka_unit_test(test_partial_command), cmocka_unit_test(test_repeated_sections),
	    cmocka_unit_test(test_section_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
