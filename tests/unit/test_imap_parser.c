/* test_imap_parser.c - IMAP command parsing: every construct, errors and
 * limits, each input fed whole, one byte at a time and in random chunks
 * (all must give the same events). */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "imap/imap_parser.h"
#include "lib/buf.h"

static void
put_arg(struct buf *out, const struct imap_arg *a)
{
	int r = 0;

	switch (a->type) {
	case IMAP_ARG_NIL:
		r = buf_add_str(out, "<NIL>");
		break;
	case IMAP_ARG_ATOM:
		r = buf_add(out, a->str, a->len);
		break;
	case IMAP_ARG_STRING:
		r = buf_printf(out, "\"%.*s\"", (int)a->len, a->str);
		break;
	case IMAP_ARG_LITERAL:
		r = buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		if (r == 0)
			r = buf_add(out, a->str, a->len);
		assert_int_equal(a->str[a->len], '\0');
		break;
	case IMAP_ARG_LIST:
		r = buf_add_char(out, '(');
		for (size_t i = 0; r == 0 && i < a->count; i++) {
			if (i > 0)
				r = buf_add_char(out, ' ');
			put_arg(out, &a->list[i]);
		}
		if (r == 0)
			r = buf_add_char(out, ')');
		break;
	}
	assert_int_equal(r, 0);
}

/* Run input through a parser, fed in chunks of step bytes (0: random
 * sizes from seed). decide: 'A'/'R' per literal, accept when exhausted.
 * Transcript: "C tag NAME args|", "L<size><s|n>|", "E tag reason|". */
static void
run(const struct imap_parser_limits *limits, const char *input, size_t len, size_t step,
    unsigned seed, const char *decide, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(limits);
	struct buf pending;
	size_t off = 0;

	buf_init(&pending, BUF_UNLIMITED);
	while (off < len) {
		size_t n = step;
		if (n == 0) {
			seed = seed * 1103515245 + 12345;
			n = 1 + (seed >> 16) % 13;
		}
		n = MIN(n, len - off);
		assert_int_equal(buf_add(&pending, input + off, n), 0);
		off += n;
		for (;;) {
			enum imap_parse_event ev;
			size_t used = imap_parser_feed(p, pending.data, pending.len, &ev);
			assert_true(used <= pending.len);
			buf_consume(&pending, used);
			if (ev == IMAP_PARSE_MORE) {
				assert_int_equal(pending.len, 0);
				break;
			}
			if (ev == IMAP_PARSE_COMMAND) {
				const struct imap_command *c = imap_parser_command(p);
				assert_int_equal(buf_printf(out, "C %s %s", c->tag, c->name), 0);
				for (size_t i = 0; i < c->count; i++) {
					assert_int_equal(buf_add_char(out, ' '), 0);
					put_arg(out, &c->args[i]);
				}
				assert_int_equal(buf_add_char(out, '|'), 0);
			} else if (ev == IMAP_PARSE_LITERAL) {
				uint64_t size;
				bool sync;
				const char *tag, *name;
				imap_parser_literal(p, &size, &sync, &tag, &name);
				assert_non_null(tag);
				assert_non_null(name);
				assert_int_equal(buf_printf(out, "L%llu%c|",
							    (unsigned long long)size,
							    sync ? 's' : 'n'),
						 0);
				if (*decide == 'R')
					imap_parser_literal_refuse(p);
				else
					imap_parser_literal_accept(p);
				if (*decide != '\0')
					decide++;
			} else {
				const char *tag, *reason;
				imap_parser_error(p, &tag, &reason);
				assert_int_equal(
				    buf_printf(out, "E %s %s|", tag != NULL ? tag : "-", reason),
				    0);
			}
		}
	}
	buf_release(&pending);
	imap_parser_free(&p);
	assert_null(p);
}

static void
check_full(const struct imap_parser_limits *limits, const char *input, size_t len,
	   const char *decide, const char *expect, size_t exp_len)
{
	size_t steps[] = {len, 1, 2, 3, 7, 0, 0, 0, 0};

	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct buf out;
		buf_init(&out, BUF_UNLIMITED);
		run(limits, input, len, steps[i], (unsigned)i, decide, &out);
		if (out.len != exp_len || memcmp(buf_cstr(&out), expect, out.len) != 0)
			fail_msg("input '%s' step %zu: got '%s' want '%s'", input, steps[i],
				 buf_cstr(&out), expect);
		buf_release(&out);
	}
}

/* With literal decisions, or input holding NULs. */
static void
check_dec(const char *input, size_t len, const char *decide, const char *expect)
{
	check_full(NULL, input, len, decide, expect, strlen(expect));
}

static void
check(const char *input, const char *expect)
{
	check_full(NULL, input, strlen(input), "", expect, strlen(expect));
}

static void
check_lim(size_t max_line, size_t max_args, unsigned max_depth, const char *input,
	  const char *expect)
{
	struct imap_parser_limits l = {max_line, max_args, max_depth};

	check_full(&l, input, strlen(input), "", expect, strlen(expect));
}

static void
test_simple(void **state)
{
	(void)state;
	check("a1 noop\r\n", "C a1 NOOP|");
	check("a1 noop\n", "C a1 NOOP|");
	check("a1 noop\r\nA2 Capability\nA.3 LOGOUT\r\n",
	      "C a1 NOOP|C A2 CAPABILITY|C A.3 LOGOUT|");
	/* Tags may hold any ASTRING-CHAR but '+', ']' included. */
	check("x]y&! NOOP\r\n", "C x]y&! NOOP|");
	/* Blank lines between commands are ignored; spaces are lenient. */
	check("\r\n\nA1 NOOP\r\n", "C A1 NOOP|");
	check("A1  SELECT   INBOX  \r\n", "C A1 SELECT INBOX|");
	check("A1 UID FETCH 1:* FLAGS\r\n", "C A1 UID FETCH 1:* FLAGS|");
	/* No line end yet: nothing. */
	check("A1 NOOP", "");
}

static void
test_atoms_strings(void **state)
{
	(void)state;
	check("A1 STORE 1 +FLAGS (\\Seen \\*)\r\n", "C A1 STORE 1 +FLAGS (\\Seen \\*)|");
	check("A1 LIST \"\" %\r\n", "C A1 LIST \"\" %|");
	check("A1 SEARCH UID $\r\n", "C A1 SEARCH UID $|");
	check("A1 LOGIN user \"pa ss\"\r\n", "C A1 LOGIN user \"pa ss\"|");
	check("A1 X \"a\\\"b\\\\c\"\r\n", "C A1 X \"a\"b\\c\"|");
	check("A1 X \"\"\r\n", "C A1 X \"\"|");
	/* UTF8=ACCEPT: 8-bit bytes in quoted strings; tabs too. */
	check("A1 X \"caf\xc3\xa9\t\"\r\n", "C A1 X \"caf\xc3\xa9\t\"|");
	check("A1 X NIL nil \"NIL\" NILS\r\n", "C A1 X <NIL> <NIL> \"NIL\" NILS|");
	check("A1 X ~abc a~b\r\n", "C A1 X ~abc a~b|");
}

static void
test_lists(void **state)
{
	(void)state;
	check("A1 X (a (b c) ()) d\r\n", "C A1 X (a (b c) ()) d|");
	check("A1 X ()\r\n", "C A1 X ()|");
	check("A1 X ( a  b )\r\n", "C A1 X (a b)|");
	check("A1 X ((\"a\"))\r\n", "C A1 X ((\"a\"))|");
	check("A1 X (a\r\n", "E A1 unclosed list|");
	check("A1 X a)\r\n", "E A1 unexpected ')'|");
	check("A1 X (a)(b)\r\n", "E A1 missing space between arguments|");
	check("A1 X \"a\"\"b\"\r\n", "E A1 missing space between arguments|");
	check("A1 X a\"b\"\r\n", "E A1 missing space between arguments|");
}

static void
test_brackets(void **state)
{
	(void)state;
	check("A1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE \"Fr)om\")]<0.2048> UID)\r\n",
	      "C A1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE \"Fr)om\")]<0.2048> UID)|");
	check("A1 FETCH 1 BODY[]\r\n", "C A1 FETCH 1 BODY[]|");
	check("A1 FETCH 1 (BODY[1] BODY[2])\r\n", "C A1 FETCH 1 (BODY[1] BODY[2])|");
	check("A1 FETCH 1 x[a][b c]d\r\n", "C A1 FETCH 1 x[a][b c]d|");
	/* An unclosed '[' is an ordinary atom byte, and so are later ones. */
	check("A1 SEARCH SUBJECT [bug fix\r\n", "C A1 SEARCH SUBJECT [bug fix|");
	check("A1 X [a \"b] c\" [d e]\r\n", "C A1 X [a \"b] c\" [d e]|");
	check("A1 X BODY[HEADER.FIELDS (A\r\n", "E A1 unclosed list|");
}

static void
test_literals(void **state)
{
	static const char in1[] = "A1 LOGIN {4}\r\nuser {5}\r\npa\0ss\r\n";
	static const char exp1[] = "L4s|L5s|C A1 LOGIN {4}user {5}pa\0ss|";
	static const char in2[] = "A1 APPEND box ~{3}\r\na\0c\r\n";
	static const char exp2[] = "L3s|C A1 APPEND box ~{3}a\0c|";

	(void)state;
	check_full(NULL, in1, sizeof(in1) - 1, "", exp1, sizeof(exp1) - 1);
	check_full(NULL, in2, sizeof(in2) - 1, "", exp2, sizeof(exp2) - 1);
	check("A1 APPEND box (\\Seen) {3+}\r\nabc\r\n", "L3n|C A1 APPEND box (\\Seen) {3}abc|");
	check("A1 APPEND box ~{3+}\r\nabc\nA2 NOOP\r\n", "L3n|C A1 APPEND box ~{3}abc|C A2 NOOP|");
	check("A1 X (a {1}\r\nb c)\r\n", "L1s|C A1 X (a {1}b c)|");
	check("A1 X {0}\r\n\r\n", "L0s|C A1 X {0}|");
	check("A1 X {2}\r\n\r\n {0+}\r\n (x)\r\n", "L2s|L0n|C A1 X {2}\r\n {0} (x)|");
	/* Literals are verbatim: no parsing of what they hold. */
	check("A1 X {7}\r\n\"(\r\n{1}\r\n", "L7s|C A1 X {7}\"(\r\n{1}|");
	check("A1 X {3}\r\nabcd\r\n", "L3s|E A1 missing space between arguments|");
	check("A1 X {18446744073709551616}\r\nA2 NOOP\r\n", "E A1 literal size too big|C A2 NOOP|");
	check("A1 X {9223372036854775808}\r\nA2 NOOP\r\n", "E A1 literal size too big|C A2 NOOP|");
	check_dec("A1 X {9223372036854775807}\r\nA2 NOOP\r\n", 37, "R",
		  "L9223372036854775807s|C A2 NOOP|");
	check("A1 X {12a}\r\n", "E A1 bad literal|");
	check("A1 X {}\r\n", "E A1 bad literal|");
	check("A1 X {+}\r\n", "E A1 bad literal|");
	check("A1 X {5\r\n", "E A1 bad literal|");
	check("A1 X {5} x\r\n", "E A1 literal not at the end of the line|");
	check("A1 X {5}x\r\n", "E A1 literal not at the end of the line|");
	check("A1 X a{5}\r\n", "E A1 missing space between arguments|");
	/* Before the tag: the parser's own error (bad tag), no LITERAL. */
	check("{5}\r\nA2 NOOP\r\n", "E - bad tag|C A2 NOOP|");
	check("{5+}\r\nA1 XY\r\nA2 NOOP\r\n", "E - bad tag|C A2 NOOP|");
	check("{5+}\r\nA1 XYA2 NOOP\r\n", "E - bad tag|");
}

static void
test_refuse(void **state)
{
	static const char in1[] = "A1 APPEND box {4294967295}\r\nA2 NOOP\r\n";
	static const char in2[] = "A1 APPEND box {5+}\r\nA2 NO x {3+}\r\nabc\r\nA3 NOOP\r\n";
	static const char in3[] = "A1 APPEND b {3+}\r\nabc {2+}\r\nxy\r\nA2 NOOP\r\n";
	static const char in4[] = "A1 APPEND b {3}\r\nabc {2+}\r\nxy\r\nA2 NOOP\r\n";
	static const char in5[] = "A1 X {0+}\r\n a {1+}\r\nb\r\nA2 NOOP\r\n";

	(void)state;
	/* A refused synchronising literal ends the command. */
	check_dec(in1, sizeof(in1) - 1, "R", "L4294967295s|C A2 NOOP|");
	/* A refused non-synchronising one is skipped with the rest of the
	 * command, its later literals included. */
	check_dec(in2, sizeof(in2) - 1, "R", "L5n|C A3 NOOP|");
	check_dec(in3, sizeof(in3) - 1, "R", "L3n|C A2 NOOP|");
	check_dec(in4, sizeof(in4) - 1, "AR", "L3s|L2n|C A2 NOOP|");
	check_dec(in5, sizeof(in5) - 1, "R", "L0n|C A2 NOOP|");
}

static void
test_errors(void **state)
{
	(void)state;
	check("+ NOOP\r\n", "E - bad tag|");
	check("* NOOP\r\n", "E - bad tag|");
	check("A{ NOOP\r\n", "E - bad tag|");
	check(" A1 NOOP\r\n", "E - bad tag|");
	check("A1\r\n", "E A1 missing command name|");
	check("A1 \r\n", "E A1 missing command name|");
	check("A1 NOOP(\r\n", "E A1 bad command name|");
	check("A1 (NOOP)\r\n", "E A1 bad command name|");
	check("A1 X \"abc\r\nA2 NOOP\r\n", "E A1 unterminated quoted string|C A2 NOOP|");
	check("A1 X \"a\\nb\"\r\n", "E A1 bad escape in quoted string|");
	check("A1 X \"a\\\r\n", "E A1 bad escape in quoted string|");
	check("A1 X \"a\rb\"\r\n", "E A1 bad character in quoted string|");
	check("A1 X a\rb\r\n", "E A1 missing space between arguments|");
	check("A1 X \x01\r\n", "E A1 bad character|");
	check("A1 X a\r\r\n", "E A1 missing space between arguments|");
	check_dec("A1 X \"a\0b\"\r\nA2 NOOP\r\n", 21, "",
		  "E A1 bad character in quoted string|C A2 NOOP|");
	/* The rest of a bad command is skipped, its non-synchronising literals
	 * included; a synchronising one ends it (the client waits). */
	check("A1 X ) {3+}\r\nab\nc\r\nA2 NOOP\r\n", "E A1 unexpected ')'|C A2 NOOP|");
	check("A1 X ) {3+}\r\nab\nc {2+}\r\n\r\n\r\nA2 NOOP\r\n", "E A1 unexpected ')'|C A2 NOOP|");
	check("A1 X ) {3}\r\nA2 NOOP\r\n", "E A1 unexpected ')'|C A2 NOOP|");
	check("A1 X ) {3+}x\r\nA2 NOOP\r\n", "E A1 unexpected ')'|C A2 NOOP|");
	check("A1 X ) {3+}\r\r\nA2 NOOP\r\n", "E A1 unexpected ')'|C A2 NOOP|");
	check("A1 X {1}\r\na ) {2+}\r\nA2NOOP\r\nA3 NOOP\r\n",
	      "L1s|E A1 unexpected ')'|C A3 NOOP|");
}

static void
test_limits(void **state)
{
	(void)state;
	/* max_line counts the line end; 18 bytes fit exactly. */
	check_lim(18, 100, 8, "A1 X aaaaaaaaaaa\r\nA2 NOOP\r\n", "C A1 X aaaaaaaaaaa|C A2 NOOP|");
	check_lim(18, 100, 8, "A1 X aaaaaaaaaaaa\r\nA2 NOOP\r\n", "E A1 line too long|C A2 NOOP|");
	check_lim(17, 100, 8, "A1 X aaaaaaaaaaaaaaaaaaaaaaaaaaa {3+}\r\nxyz\r\nA2 NOOP\r\n",
		  "E A1 line too long|C A2 NOOP|");
	check_lim(17, 100, 8, "A1 X aaaaaaaaaaaaaaaaaaaaaaaaaaa {33+}\r\nA2 NOOP\r\nA3 NOOP\r\n",
		  "E A1 line too long|");
	check_lim(17, 100, 8, "A1 X aaaaaaaaaaaaaaaaaaaaaaaaaaa {3}\r\nA2 NOOP\r\n",
		  "E A1 line too long|C A2 NOOP|");
	/* Too long before the tag is complete: no tag. */
	check_lim(9, 100, 8, "A1234567890 NOOP\r\nA2 NOOP\r\n", "E - line too long|C A2 NOOP|");
	/* The limit holds for the whole command, literals excluded. */
	check_lim(20, 100, 8, "A1 X {3}\r\nabc {3}\r\nabc\r\n", "L3s|L3s|C A1 X {3}abc {3}abc|");
	check_lim(20, 100, 8, "A1 X {3}\r\nabc {3}\r\nabc xyz\r\nA2 NOOP\r\n",
		  "L3s|L3s|E A1 line too long|C A2 NOOP|");
	check_lim(10, 100, 8, "A1 X {3}\r\nabc\r\nA2 NOOP\r\n",
		  "L3s|E A1 line too long|C A2 NOOP|");
	/* Arguments in all, lists and their elements counted. */
	check_lim(100, 3, 8, "A1 X a b c\r\n", "C A1 X a b c|");
	check_lim(100, 3, 8, "A1 X a b c d\r\n", "E A1 too many arguments|");
	check_lim(100, 3, 8, "A1 X (a b)\r\n", "C A1 X (a b)|");
	check_lim(100, 3, 8, "A1 X (a b c)\r\n", "E A1 too many arguments|");
	check_lim(100, 3, 8, "A1 X a b {1}\r\n", "L1s|");
	check_lim(100, 3, 8, "A1 X a b c {1+}\r\nx\r\nA2 NOOP\r\n",
		  "E A1 too many arguments|C A2 NOOP|");
	check_lim(100, 100, 2, "A1 X ((a))\r\n", "C A1 X ((a))|");
	check_lim(100, 100, 2, "A1 X (((a)))\r\n", "E A1 lists nested too deep|");
	check_lim(100, 100, 0, "A1 X ()\r\n", "E A1 lists nested too deep|");
}

/* feed returns right after a command, so the caller can take the input
 * over (IDLE, AUTHENTICATE). */
static void
test_stop_after_command(void **state)
{
	static const char in[] = "A1 IDLE\r\nDONE\r\nA2 NOOP\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	enum imap_parse_event ev;

	(void)state;
	size_t n = imap_parser_feed(p, in, sizeof(in) - 1, &ev);
	assert_int_equal(ev, IMAP_PARSE_COMMAND);
	assert_int_equal(n, 9);
	assert_string_equal(imap_parser_command(p)->name, "IDLE");
	/* A partial command, then a reset: it is forgotten. */
	n = imap_parser_feed(p, "A3 NO", 5, &ev);
	assert_int_equal(ev, IMAP_PARSE_MORE);
	assert_int_equal(n, 5);
	imap_parser_reset(p);
	n = imap_parser_feed(p, in + 15, sizeof(in) - 1 - 15, &ev);
	assert_int_equal(ev, IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->tag, "A2");
	/* Reset in the middle of a skip and of a literal. */
	n = imap_parser_feed(p, "A1 X ) {9+}\r\n", 13, &ev);
	assert_int_equal(ev, IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	n = imap_parser_feed(p, "A1 X {9}\r\n", 10, &ev);
	assert_int_equal(ev, IMAP_PARSE_LITERAL);
	imap_parser_literal_accept(p);
	n = imap_parser_feed(p, "abc", 3, &ev);
	assert_int_equal(ev, IMAP_PARSE_MORE);
	imap_parser_reset(p);
	n = imap_parser_feed(p, "A4 NOOP\r\n", 9, &ev);
	assert_int_equal(ev, IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->tag, "A4");
	imap_parser_free(&p);
	imap_parser_free(&p);
}

/* Many arguments and deep lists: the vectors and the arena grow. */
static void
test_large(void **state)
{
	struct buf in, expect;

	(void)state;
	buf_init(&in, BUF_UNLIMITED);
	buf_init(&expect, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&in, "A1 X"), 0);
	assert_int_equal(buf_add_str(&expect, "C A1 X"), 0);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(buf_printf(&in, " (\"s%d\" a%d", i, i), 0);
		assert_int_equal(buf_printf(&expect, " (\"s%d\" a%d", i, i), 0);
		if (i % 7 == 0) {
			assert_int_equal(buf_add_str(&in, " ((((x))))"), 0);
			assert_int_equal(buf_add_str(&expect, " ((((x))))"), 0);
		}
		assert_int_equal(buf_add_str(&in, ")"), 0);
		assert_int_equal(buf_add_str(&expect, ")"), 0);
	}
	assert_int_equal(buf_add_str(&in, "\r\n"), 0);
	assert_int_equal(buf_add_str(&expect, "|"), 0);
	check_full(NULL, in.data, in.len, "", expect.data, expect.len);
	buf_release(&in);
	buf_release(&expect);
}

static struct imap_arg
atom(const char *s)
{
	return (struct imap_arg){.type = IMAP_ARG_ATOM, .str = s, .len = strlen(s)};
}

static void
test_helpers(void **state)
{
	struct imap_arg a = atom("4294967295"), b = atom("4294967296"), nil = atom("nil");
	struct imap_arg s = {.type = IMAP_ARG_STRING, .str = "x y", .len = 3};
	struct imap_arg lit = {.type = IMAP_ARG_LITERAL, .str = "a\0b", .len = 3};
	struct imap_arg list = {.type = IMAP_ARG_LIST};
	uint32_t n;
	uint64_t n64;

	(void)state;
	nil.type = IMAP_ARG_NIL;
	assert_true(imap_arg_number(&a, &n));
	assert_int_equal(n, UINT32_MAX);
	assert_false(imap_arg_number(&b, &n));
	assert_true(imap_arg_number64(&b, &n64));
	assert_int_equal(n64, 4294967296ULL);
	struct imap_arg big = atom("9223372036854775807"), bigger = atom("9223372036854775808");
	assert_true(imap_arg_number64(&big, &n64));
	assert_false(imap_arg_number64(&bigger, &n64));
	struct imap_arg empty = atom(""), neg = atom("-1"), mixed = atom("12a");
	assert_false(imap_arg_number(&empty, &n));
	assert_false(imap_arg_number(&neg, &n));
	assert_false(imap_arg_number(&mixed, &n));
	assert_false(imap_arg_number(&s, &n));
	assert_string_equal(imap_arg_astring(&a), "4294967295");
	assert_string_equal(imap_arg_astring(&nil), "nil");
	assert_string_equal(imap_arg_astring(&s), "x y");
	assert_null(imap_arg_astring(&lit));
	assert_null(imap_arg_astring(&list));
	assert_null(imap_arg_string(&a));
	assert_string_equal(imap_arg_string(&s), "x y");
	assert_string_equal(imap_arg_atom(&a), "4294967295");
	assert_string_equal(imap_arg_atom(&nil), "nil");
	assert_null(imap_arg_atom(&s));
	assert_true(imap_arg_atom_is(&nil, "NIL"));
	assert_false(imap_arg_atom_is(&s, "x y"));
	assert_false(imap_arg_atom_is(&a, "42949672"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_atoms_strings),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_brackets),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_refuse),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_stop_after_command),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
