/* test_smtp_cmd.c - the SMTP command line parser: verbs, HELO/EHLO, paths,
 * ESMTP parameters, BDAT/AUTH/ETRN/VRFY arguments, reply mapping. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp_cmd.h"

static struct smtp_cmd cmd;

static const struct smtp_cmd_options ehlo_all = {.extensions = SMTP_EXT_ALL};
static const struct smtp_cmd_options ehlo_utf8 = {.extensions = SMTP_EXT_ALL, .smtputf8 = true};

static const char *
err_name(enum smtp_cmd_error e)
{
	static const char *const names[] = {
		"OK", "UNKNOWN", "BAD_CHAR", "NOT_IMPLEMENTED", "SYNTAX", "BASE64",
		"SENDER_SYNTAX", "RCPT_SYNTAX", "PATH_TOO_LONG", "LOCAL_TOO_LONG",
		"DOMAIN_TOO_LONG", "UTF8_REQUIRED", "PARAM_SYNTAX", "PARAM_UNKNOWN",
		"SIZE_EXCEEDED",
	};
	return (size_t)e < N_ELEMENTS(names) ? names[e] : "?";
}

/* Parse line (given length, may hold NULs) and check the error. */
static void
expect_len(const char *line, size_t len, const struct smtp_cmd_options *opts,
	   enum smtp_cmd_error want, int lineno)
{
	int ret = smtp_cmd_parse(line, len, opts, &cmd);
	if (cmd.error != want || (ret == 0) != (want == SMTP_CMD_OK)) {
		fail_msg("line %d: '%.*s': got %s (%s), want %s", lineno, (int)len, line,
			 err_name(cmd.error), cmd.error_text != NULL ? cmd.error_text : "",
			 err_name(want));
	}
	if (want != SMTP_CMD_OK)
		assert_non_null(cmd.error_text);
}

#define EXPECT(line, opts, want) expect_len((line), strlen(line), (opts), (want), __LINE__)
#define OK(line, opts) EXPECT((line), (opts), SMTP_CMD_OK)

static void
assert_slice(struct smtp_slice s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("slice '%.*s' want '%s'", (int)s.len, s.p, want);
}

/* A valid domain of exactly n octets (labels of up to 63). */
static void
make_domain(char *out, size_t n)
{
	size_t i = 0, label = 0;

	while (i < n) {
		if (label == 63 || (label > 0 && i == n - 2)) {
			/* never end on a dot nor on a one-octet tail issue */
			out[i++] = '.';
			label = 0;
			continue;
		}
		out[i++] = 'a';
		label++;
	}
	out[n] = '\0';
}

/* ---- verbs ---- */

static void
test_verbs(void **state)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
	} cases[] = {
		{"HELO x", SMTP_VERB_HELO},       {"ehlo x", SMTP_VERB_EHLO},
		{"MaIl FROM:<>", SMTP_VERB_MAIL}, {"RCPT TO:<a@b>", SMTP_VERB_RCPT},
		{"DATA", SMTP_VERB_DATA},         {"bdat 1", SMTP_VERB_BDAT},
		{"RSET", SMTP_VERB_RSET},         {"NOOP", SMTP_VERB_NOOP},
		{"QUIT", SMTP_VERB_QUIT},         {"HELP", SMTP_VERB_HELP},
		{"VRFY a", SMTP_VERB_VRFY},       {"EXPN a", SMTP_VERB_EXPN},
		{"StartTLS", SMTP_VERB_STARTTLS}, {"AUTH PLAIN", SMTP_VERB_AUTH},
		{"ETRN a.b", SMTP_VERB_ETRN},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		OK(cases[i].line, &ehlo_all);
		assert_int_equal(cmd.verb, cases[i].verb);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");

	/* Obsolete verbs: recognised, answered 502 5.5.1. */
	const char *obsolete[] = {"SEND FROM:<a@b>", "SOML FROM:<a@b>", "saml FROM:<a@b>", "TURN"};
	enum smtp_verb ov[] = {SMTP_VERB_SEND, SMTP_VERB_SOML, SMTP_VERB_SAML, SMTP_VERB_TURN};
	for (size_t i = 0; i < N_ELEMENTS(obsolete); i++) {
		EXPECT(obsolete[i], NULL, SMTP_CMD_E_NOT_IMPLEMENTED);
		assert_int_equal(cmd.verb, ov[i]);
	}

	/* The verb must be followed by SP or the end of the line. */
	EXPECT("MAILX FROM:<>", NULL, SMTP_CMD_E_UNKNOWN);
	EXPECT("MAIL:FROM:<>", NULL, SMTP_CMD_E_UNKNOWN);
	EXPECT("DATAX", NULL, SMTP_CMD_E_UNKNOWN);
	EXPECT("", NULL, SMTP_CMD_E_UNKNOWN);
	EXPECT(" DATA", NULL, SMTP_CMD_E_UNKNOWN);
	EXPECT("GET / HTTP/1.1", NULL, SMTP_CMD_E_UNKNOWN);
	assert_int_equal(cmd.verb, SMTP_VERB_UNKNOWN);
}

static void
test_bad_chars(void **state)
{
	EXPECT("NOOP \x01", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO a\tb", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO a\x7f", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO a\rb", NULL, SMTP_CMD_E_BAD_CHAR);
	expect_len("DATA\0", 5, NULL, SMTP_CMD_E_BAD_CHAR, __LINE__);
	expect_len("MAIL FROM:<a\0@b>", 16, &ehlo_all, SMTP_CMD_E_BAD_CHAR, __LINE__);
	assert_int_equal(cmd.verb, SMTP_VERB_MAIL);
	/* malformed UTF-8: stray continuation, truncated, overlong,
	 * surrogate, beyond U+10FFFF */
	EXPECT("HELO \x80", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO \xc3", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO \xc0\xaf", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO \xed\xa0\x80", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO \xf4\x90\x80\x80", NULL, SMTP_CMD_E_BAD_CHAR);
	EXPECT("HELO \xff", NULL, SMTP_CMD_E_BAD_CHAR);
	/* trailing spaces are ignored */
	OK("DATA ", NULL);
	OK("QUIT   ", NULL);
}

/* ---- HELO / EHLO ---- */

static void
helo(const char *line, enum smtp_helo_kind kind, const char *name, int lineno)
{
	expect_len(line, strlen(line), NULL, SMTP_CMD_OK, lineno);
	if (cmd.helo.kind != kind)
		fail_msg("line %d: '%s': kind %d want %d", lineno, line, cmd.helo.kind, kind);
	assert_slice(cmd.helo.name, name);
	assert_slice(cmd.arg, name);
	if (kind == SMTP_HELO_DOMAIN || kind == SMTP_HELO_LITERAL)
		assert_null(cmd.helo.problem);
	else
		assert_non_null(cmd.helo.problem);
}

#define HELO(line, kind, name) helo((line), (kind), (name), __LINE__)

static void
test_helo(void **state)
{
	HELO("EHLO mail.example.com", SMTP_HELO_DOMAIN, "mail.example.com");
	HELO("HELO localhost", SMTP_HELO_DOMAIN, "localhost");
	HELO("HELO  spaced.example  ", SMTP_HELO_DOMAIN, "spaced.example");
	HELO("EHLO 3com.example", SMTP_HELO_DOMAIN, "3com.example");
	HELO("EHLO [192.0.2.1]", SMTP_HELO_LITERAL, "[192.0.2.1]");
	assert_int_equal(cmd.helo.literal, SMTP_LITERAL_IPV4);
	assert_memory_equal(cmd.helo.addr, "\xc0\x00\x02\x01", 4);
	HELO("EHLO [IPv6:2001:db8::1]", SMTP_HELO_LITERAL, "[IPv6:2001:db8::1]");
	assert_int_equal(cmd.helo.literal, SMTP_LITERAL_IPV6);
	assert_memory_equal(cmd.helo.addr,
			    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);

	/* What real clients send: accepted, flagged. */
	HELO("EHLO 192.0.2.1", SMTP_HELO_LOOSE, "192.0.2.1");
	assert_int_equal(cmd.helo.literal, SMTP_LITERAL_IPV4);
	HELO("EHLO 2001:db8::1", SMTP_HELO_LOOSE, "2001:db8::1");
	assert_int_equal(cmd.helo.literal, SMTP_LITERAL_IPV6);
	HELO("EHLO my_pc.local", SMTP_HELO_LOOSE, "my_pc.local");
	HELO("EHLO host.example.", SMTP_HELO_LOOSE, "host.example.");
	HELO("EHLO -weird-.example", SMTP_HELO_LOOSE, "-weird-.example");
	HELO("EHLO b\xc3\xbc" "cher.example", SMTP_HELO_LOOSE, "b\xc3\xbc" "cher.example");

	/* Not a host name at all: flagged invalid so the session may 501. */
	HELO("EHLO a..b", SMTP_HELO_INVALID, "a..b");
	HELO("EHLO my host", SMTP_HELO_INVALID, "my host");
	HELO("EHLO <host>", SMTP_HELO_INVALID, "<host>");
	HELO("EHLO [1.2.3]", SMTP_HELO_INVALID, "[1.2.3]");
	assert_int_equal(cmd.helo.literal, SMTP_LITERAL_NONE);
	HELO("EHLO [192.0.2.1", SMTP_HELO_INVALID, "[192.0.2.1");
	HELO("EHLO .", SMTP_HELO_INVALID, ".");
	HELO("EHLO host@example", SMTP_HELO_INVALID, "host@example");
	char line[300] = "EHLO ";
	make_domain(line + 5, 256);
	HELO(line, SMTP_HELO_INVALID, line + 5);
	make_domain(line + 5, 255);
	HELO(line, SMTP_HELO_DOMAIN, line + 5);

	EXPECT("EHLO", NULL, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: EHLO hostname");
	EXPECT("HELO   ", NULL, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: HELO hostname");
}

/* ---- paths ---- */

static void
test_mail_paths(void **state)
{
	OK("MAIL FROM:<>", &ehlo_all);
	assert_true(cmd.path.null);
	assert_int_equal(cmd.path.flags, 0);

	OK("MAIL FROM:<user@example.com>", &ehlo_all);
	assert_false(cmd.path.null);
	assert_string_equal(cmd.path.local, "user");
	assert_string_equal(cmd.path.domain, "example.com");
	assert_int_equal(cmd.path.literal, SMTP_LITERAL_NONE);
	assert_int_equal(cmd.params.present, 0);

	OK("mail from:<First.Last+tag@Sub.Example.COM>", &ehlo_all);
	assert_string_equal(cmd.path.local, "First.Last+tag");
	assert_string_equal(cmd.path.domain, "Sub.Example.COM");
	OK("MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x>", &ehlo_all);
	assert_string_equal(cmd.path.local, "!#$%&'*+-/=?^_`{|}~");

	/* The one tolerated looseness: a space after the colon. */
	OK("MAIL FROM: <user@example.com>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_SPACE);
	OK("MAIL FROM: <>", &ehlo_all);
	assert_true(cmd.path.null);
	EXPECT("MAIL FROM:  <a@b>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:user@example.com", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b>x", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b>>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<<a@b>>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<user>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	assert_string_equal(cmd.error_text, "Address needs a domain");
	EXPECT("MAIL FROM:<Postmaster>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<@example.com>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a b@c>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM <a@b>", &ehlo_all, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: MAIL FROM:<address>");
	EXPECT("MAIL TO:<a@b>", &ehlo_all, SMTP_CMD_E_SYNTAX);
	EXPECT("MAIL", &ehlo_all, SMTP_CMD_E_SYNTAX);
	EXPECT("MAIL  FROM:<a@b>", &ehlo_all, SMTP_CMD_E_SYNTAX);

	/* dot-string */
	OK("MAIL FROM:<a.b.c@d>", &ehlo_all);
	EXPECT("MAIL FROM:<.a@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a.@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a..b@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a(b)@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a,b@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);

	/* domains */
	OK("MAIL FROM:<a@b-c.d1>", &ehlo_all);
	OK("MAIL FROM:<a@1.2.3.4>", &ehlo_all); /* all-digit labels are a Domain */
	EXPECT("MAIL FROM:<a@b.>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@.b>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@-b.c>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b-.c>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b_c.d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a@b..c>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	char line[400];
	char label[70];
	memset(label, 'x', 64);
	label[64] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@%s.com>", label) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX); /* a 64-octet label */
	label[63] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@%s.com>", label) > 0);
	OK(line, &ehlo_all);
}

static void
test_source_routes(void **state)
{
	OK("MAIL FROM:<@relay.example:user@example.com>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_ROUTE);
	assert_string_equal(cmd.path.local, "user");
	assert_string_equal(cmd.path.domain, "example.com");
	OK("RCPT TO:<@a.example,@b.example:user@c.example>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_ROUTE);
	assert_string_equal(cmd.path.domain, "c.example");
	EXPECT("RCPT TO:<@a,b:u@d>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<@:u@d>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<@a,:u@d>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<@a u@d>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<@a:>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<@[1.2.3.4]:u@d>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
}

static void
test_quoted_local(void **state)
{
	OK("MAIL FROM:<\"john doe\"@example.com>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_QUOTED);
	assert_string_equal(cmd.path.local, "john doe");
	OK("MAIL FROM:<\"a\\\"b\\\\c\"@d>", &ehlo_all);
	assert_string_equal(cmd.path.local, "a\"b\\c");
	OK("MAIL FROM:<\"\"@d>", &ehlo_all);
	assert_string_equal(cmd.path.local, "");
	OK("MAIL FROM:<\"a>b\"@d>", &ehlo_all);
	assert_string_equal(cmd.path.local, "a>b");
	OK("MAIL FROM:<\"plain\"@d>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_QUOTED);
	assert_string_equal(cmd.path.local, "plain");
	EXPECT("MAIL FROM:<\"unterminated@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<\"a\"b@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<a\"b\"@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<\"a\".b@d>", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
	EXPECT("MAIL FROM:<\"a\\", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);
}

static void
test_literals(void **state)
{
	static const struct {
		const char *line;
		bool ok;
		enum smtp_literal kind;
	} cases[] = {
		{"<a@[192.0.2.1]>", true, SMTP_LITERAL_IPV4},
		{"<a@[0.0.0.0]>", true, SMTP_LITERAL_IPV4},
		{"<a@[255.255.255.255]>", true, SMTP_LITERAL_IPV4},
		{"<a@[010.1.1.1]>", true, SMTP_LITERAL_IPV4}, /* Snum = 1*3DIGIT */
		{"<a@[256.1.1.1]>", false, 0},
		{"<a@[1.2.3]>", false, 0},
		{"<a@[1.2.3.4.5]>", false, 0},
		{"<a@[1.2.3.1234]>", false, 0},
		{"<a@[1..2.3]>", false, 0},
		{"<a@[]>", false, 0},
		{"<a@[1.2.3.4>", false, 0},
		{"<a@[IPv6:2001:db8::1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[ipv6:2001:DB8::1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:::1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:::]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4:5:6:7:8]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4:5:6::]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3::4:5:6]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4:5:6:7::]>", false, 0}, /* 7 groups besides "::" */
		{"<a@[IPv6:1:2:3::4:5:6:7]>", false, 0},
		{"<a@[IPv6:1:2:3:4:5:6:7]>", false, 0},
		{"<a@[IPv6:1:2:3:4:5:6:7:8:9]>", false, 0},
		{"<a@[IPv6:1::2::3]>", false, 0},
		{"<a@[IPv6::::1]>", false, 0},
		{"<a@[IPv6:1:::2]>", false, 0},
		{"<a@[IPv6:1:2:3:4:5:6:7:]>", false, 0},
		{"<a@[IPv6::1]>", false, 0},
		{"<a@[IPv6:12345::1]>", false, 0},
		{"<a@[IPv6:g::1]>", false, 0},
		{"<a@[IPv6:]>", false, 0},
		{"<a@[IPv6:::ffff:192.0.2.1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4:5:6:192.0.2.1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4::192.0.2.1]>", true, SMTP_LITERAL_IPV6},
		{"<a@[IPv6:1:2:3:4:5::192.0.2.1]>", false, 0}, /* 5 groups besides "::" */
		{"<a@[IPv6:1:2:3:4:5:192.0.2.1]>", false, 0},
		{"<a@[IPv6:192.0.2.1]>", false, 0},
		{"<a@[IPv6:::192.0.2.1:1]>", false, 0},
		{"<a@[IPv6:::256.0.2.1]>", false, 0},
		{"<a@[x-tag:any=thing]>", true, SMTP_LITERAL_GENERAL},
		{"<a@[tag-:x]>", false, 0},
		{"<a@[tag:]>", false, 0},
		{"<a@[:x]>", false, 0},
		{"<a@[a\\b]>", false, 0},
		{"<a@[a[b]>", false, 0},
		{"<a@[ 1.2.3.4]>", false, 0},
	};
	char line[128];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		assert_true(snprintf(line, sizeof(line), "RCPT TO:%s", cases[i].line) > 0);
		expect_len(line, strlen(line), &ehlo_all,
			   cases[i].ok ? SMTP_CMD_OK : SMTP_CMD_E_RCPT_SYNTAX, __LINE__);
		if (cases[i].ok) {
			assert_int_equal(cmd.path.literal, cases[i].kind);
			assert_int_equal(cmd.path.domain[0], '[');
		}
	}
	OK("RCPT TO:<a@[IPv6:::ffff:192.0.2.1]>", &ehlo_all);
	assert_memory_equal(cmd.path.addr,
			    "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16);
	assert_string_equal(cmd.path.domain, "[IPv6:::ffff:192.0.2.1]");
	OK("RCPT TO:<a@[IPv6:1:2:3::4:5:6]>", &ehlo_all);
	assert_memory_equal(cmd.path.addr,
			    "\0\x01\0\x02\0\x03\0\0\0\0\0\x04\0\x05\0\x06", 16);
	OK("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8]>", &ehlo_all);
	assert_memory_equal(cmd.path.addr,
			    "\0\x01\0\x02\0\x03\0\x04\0\x05\0\x06\0\x07\0\x08", 16);
}

static void
test_lengths(void **state)
{
	char local[80], domain[300], line[600];

	/* local part: 64 octets as written */
	memset(local, 'l', 64);
	local[64] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<%s@d.example>", local) > 0);
	OK(line, &ehlo_all);
	local[64] = 'l', local[65] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<%s@d.example>", local) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_LOCAL_TOO_LONG);
	assert_true(snprintf(line, sizeof(line), "RCPT TO:<%s@d.example>", local) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_LOCAL_TOO_LONG);
	/* quotes count: "x...x" with 63 x is 65 octets */
	memset(local, 'q', 63);
	local[63] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<\"%s\"@d>", local) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_LOCAL_TOO_LONG);
	local[62] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<\"%s\"@d>", local) > 0);
	OK(line, &ehlo_all);

	/* domain: 255 octets; then the path (256 with brackets) is over */
	make_domain(domain, 256);
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@%s>", domain) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_DOMAIN_TOO_LONG);
	make_domain(domain, 255);
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@%s>", domain) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PATH_TOO_LONG);

	/* path: "<" + local + "@" + domain + ">" = 256 octets at most */
	memset(local, 'l', 64);
	local[64] = '\0';
	make_domain(domain, 256 - 3 - 64);
	assert_true(snprintf(line, sizeof(line), "RCPT TO:<%s@%s>", local, domain) > 0);
	OK(line, &ehlo_all);
	make_domain(domain, 256 - 3 - 64 + 1);
	assert_true(snprintf(line, sizeof(line), "RCPT TO:<%s@%s>", local, domain) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PATH_TOO_LONG);
	/* a source route counts in the path */
	make_domain(domain, 200);
	assert_true(snprintf(line, sizeof(line), "RCPT TO:<@r.example:%.50s@%s>", local, domain) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PATH_TOO_LONG);

	const char *enh;
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PATH_TOO_LONG);
	assert_int_equal(smtp_cmd_status(&cmd, &enh), 501);
	assert_string_equal(enh, "5.1.3");
}

static void
test_utf8(void **state)
{
	const char *mail = "MAIL FROM:<j\xc3\xb6ran@b\xc3\xbc" "cher.example> SMTPUTF8";
	OK(mail, &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_UTF8);
	assert_true(cmd.params.smtputf8);
	assert_string_equal(cmd.path.local, "j\xc3\xb6ran");
	assert_string_equal(cmd.path.domain, "b\xc3\xbc" "cher.example");
	/* without SMTPUTF8 on the MAIL command */
	EXPECT("MAIL FROM:<j\xc3\xb6ran@example.com>", &ehlo_all, SMTP_CMD_E_UTF8_REQUIRED);
	EXPECT("MAIL FROM:<a@b\xc3\xbc" "cher.example>", &ehlo_all, SMTP_CMD_E_UTF8_REQUIRED);
	/* SMTPUTF8 not advertised: the parameter is unknown */
	struct smtp_cmd_options no_utf8 = {.extensions = SMTP_EXT_ALL & ~SMTP_EXT_SMTPUTF8};
	EXPECT(mail, &no_utf8, SMTP_CMD_E_PARAM_UNKNOWN);
	/* ASCII with SMTPUTF8 is fine */
	OK("MAIL FROM:<a@b> SMTPUTF8", &ehlo_all);
	assert_false(cmd.path.flags & SMTP_PATH_UTF8);

	/* RCPT: allowed when the MAIL had SMTPUTF8 */
	OK("RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>",
	   &ehlo_utf8);
	assert_true(cmd.path.flags & SMTP_PATH_UTF8);
	EXPECT("RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@example.com>", &ehlo_all,
	       SMTP_CMD_E_UTF8_REQUIRED);
	OK("RCPT TO:<\"\xc3\xa9t\xc3\xa9 x\"@example.com>", &ehlo_utf8);
	assert_string_equal(cmd.path.local, "\xc3\xa9t\xc3\xa9 x");
	/* UTF-8 is not allowed in a quoted pair */
	EXPECT("RCPT TO:<\"\\\xc3\xa9\"@example.com>", &ehlo_utf8, SMTP_CMD_E_RCPT_SYNTAX);
	/* malformed UTF-8 in a path */
	EXPECT("RCPT TO:<\xc3(@example.com>", &ehlo_utf8, SMTP_CMD_E_BAD_CHAR);

	const char *enh;
	EXPECT("RCPT TO:<\xc3\xa9@example.com>", &ehlo_all, SMTP_CMD_E_UTF8_REQUIRED);
	assert_int_equal(smtp_cmd_status(&cmd, &enh), 553);
	assert_string_equal(enh, "5.6.7");

	/* the path parser on its own checks UTF-8 too */
	struct smtp_path path;
	size_t used;
	const char *text;
	const char *p1 = "<\xc3(@x>", *p2 = "<a@\xed\xa0\x80>", *p3 = "<\xc3\xa9@x> SIZE=1";
	assert_int_equal(smtp_path_parse(p1, strlen(p1), SMTP_PATH_PARSE_UTF8, &path, &used, &text),
			 SMTP_PATH_E_SYNTAX);
	assert_int_equal(smtp_path_parse(p2, strlen(p2), SMTP_PATH_PARSE_UTF8, &path, &used, &text),
			 SMTP_PATH_E_SYNTAX);
	assert_int_equal(smtp_path_parse(p3, strlen(p3), 0, &path, &used, &text), SMTP_PATH_E_UTF8);
	assert_int_equal(smtp_path_parse(p3, strlen(p3), SMTP_PATH_PARSE_UTF8, &path, &used, &text),
			 SMTP_PATH_OK);
	assert_int_equal(used, 6);

	assert_true(smtp_utf8_valid("", 0));
	assert_true(smtp_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	assert_false(smtp_utf8_valid("\xe0\x80\xaf", 3)); /* overlong */
	assert_false(smtp_utf8_valid("\xf0\x80\x80\xaf", 4));
	assert_false(smtp_utf8_valid("\xe2\x82", 2));
	assert_true(smtp_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
}

static void
test_rcpt_paths(void **state)
{
	OK("RCPT TO:<Postmaster>", &ehlo_all);
	assert_true(cmd.path.postmaster);
	assert_string_equal(cmd.path.local, "Postmaster");
	assert_string_equal(cmd.path.domain, "");
	OK("rcpt to:<postmaster>", &ehlo_all);
	assert_true(cmd.path.postmaster);
	OK("RCPT TO:<Postmaster> NOTIFY=NEVER", &ehlo_all);
	assert_true(cmd.path.postmaster);
	assert_int_equal(cmd.params.notify, SMTP_NOTIFY_NEVER);
	OK("RCPT TO:<Postmaster@example.com>", &ehlo_all);
	assert_false(cmd.path.postmaster);
	OK("RCPT TO: <user@example.com>", &ehlo_all);
	assert_true(cmd.path.flags & SMTP_PATH_SPACE);
	EXPECT("RCPT TO:<Postmaster>x", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<Postmasterx>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT TO:<>", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	assert_string_equal(cmd.error_text, "Null recipient address");
	EXPECT("RCPT TO:user@example.com", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
	EXPECT("RCPT FROM:<a@b>", &ehlo_all, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: RCPT TO:<address>");
	EXPECT("RCPT", &ehlo_all, SMTP_CMD_E_SYNTAX);
	EXPECT("RCPT TO:", &ehlo_all, SMTP_CMD_E_RCPT_SYNTAX);
}

static void
test_relay_hacks(void **state)
{
	OK("RCPT TO:<user%other.example@example.com>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), SMTP_PATH_PERCENT);
	assert_true(cmd.path.flags & SMTP_PATH_PERCENT);
	OK("RCPT TO:<other.example!user@example.com>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), SMTP_PATH_BANG);
	OK("RCPT TO:<\"user@other.example\"@example.com>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), SMTP_PATH_AT);
	OK("RCPT TO:<\"a%b!c@d\"@example.com>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), SMTP_PATH_RELAY_HACKS);
	OK("RCPT TO:<plain.user@example.com>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), 0);
	assert_int_equal(cmd.path.flags & SMTP_PATH_RELAY_HACKS, 0);
	OK("RCPT TO:<Postmaster>", &ehlo_all);
	assert_int_equal(smtp_path_relay_hack(&cmd.path), 0);
	/* a source route is flagged apart */
	OK("RCPT TO:<@other.example:user@example.com>", &ehlo_all);
	assert_int_equal(cmd.path.flags & SMTP_PATH_RELAY_HACKS, 0);
	assert_true(cmd.path.flags & SMTP_PATH_ROUTE);
}

static void
check_format(const char *line, const char *want)
{
	struct buf b;

	buf_init(&b, 1000);
	OK(line, &ehlo_utf8);
	assert_int_equal(smtp_path_format(&cmd.path, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
}

static void
test_format(void **state)
{
	check_format("MAIL FROM:<>", "");
	check_format("RCPT TO:<Postmaster>", "Postmaster");
	check_format("RCPT TO:<a.b@c.d>", "a.b@c.d");
	check_format("RCPT TO:<\"plain\"@c.d>", "plain@c.d");
	check_format("RCPT TO:<\"john doe\"@c.d>", "\"john doe\"@c.d");
	check_format("RCPT TO:<\"a\\\"b\\\\c\"@c.d>", "\"a\\\"b\\\\c\"@c.d");
	check_format("RCPT TO:<\"a..b\"@c.d>", "\"a..b\"@c.d");
	check_format("RCPT TO:<\"\"@c.d>", "\"\"@c.d");
	check_format("RCPT TO:<@r:u@[192.0.2.1]>", "u@[192.0.2.1]");
	check_format("RCPT TO:<\xc3\xa9@c.d>", "\xc3\xa9@c.d");

	/* a full buffer: -1 and unchanged */
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_add_str(&b, "x"), 0);
	OK("RCPT TO:<\"john doe\"@c.d>", &ehlo_all);
	assert_int_equal(smtp_path_format(&cmd.path, &b), -1);
	assert_string_equal(buf_cstr(&b), "x");
	buf_release(&b);
}

/* ---- parameters ---- */

static void
test_param_size_body(void **state)
{
	struct smtp_cmd_options lim = {.extensions = SMTP_EXT_ALL, .size_limit = 1000};

	OK("MAIL FROM:<a@b> SIZE=1000", &lim);
	assert_true(cmd.params.present & SMTP_PARAM_SIZE);
	assert_int_equal(cmd.params.size, 1000);
	EXPECT("MAIL FROM:<a@b> SIZE=1001", &lim, SMTP_CMD_E_SIZE_EXCEEDED);
	const char *enh;
	assert_int_equal(smtp_cmd_status(&cmd, &enh), 552);
	assert_string_equal(enh, "5.3.4");
	OK("MAIL FROM:<a@b> SIZE=0", &lim);
	OK("MAIL FROM:<a@b> size=18446744073709551615", &ehlo_all);
	assert_true(cmd.params.size == UINT64_MAX);
	OK("MAIL FROM:<a@b> SIZE=99999999999999999999", &ehlo_all); /* saturates */
	assert_true(cmd.params.size == UINT64_MAX);
	EXPECT("MAIL FROM:<a@b> SIZE=99999999999999999999", &lim, SMTP_CMD_E_SIZE_EXCEEDED);
	EXPECT("MAIL FROM:<a@b> SIZE=123456789012345678901", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=12a", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=-1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=+1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE==1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=1 SIZE=2", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	assert_string_equal(cmd.error_text, "Duplicate parameter");
	EXPECT("RCPT TO:<a@b> SIZE=1", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	struct smtp_cmd_options no_size = {.extensions = SMTP_EXT_ALL & ~SMTP_EXT_SIZE};
	EXPECT("MAIL FROM:<a@b> SIZE=1", &no_size, SMTP_CMD_E_PARAM_UNKNOWN);
	/* after HELO nothing is advertised */
	EXPECT("MAIL FROM:<a@b> SIZE=1", NULL, SMTP_CMD_E_PARAM_UNKNOWN);

	OK("MAIL FROM:<a@b> BODY=7BIT", &ehlo_all);
	assert_int_equal(cmd.params.body, SMTP_BODY_7BIT);
	OK("MAIL FROM:<a@b> body=8bitmime", &ehlo_all);
	assert_int_equal(cmd.params.body, SMTP_BODY_8BITMIME);
	OK("MAIL FROM:<a@b> BODY=BINARYMIME", &ehlo_all);
	assert_int_equal(cmd.params.body, SMTP_BODY_BINARYMIME);
	EXPECT("MAIL FROM:<a@b> BODY=FOO", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("MAIL FROM:<a@b> BODY", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	struct smtp_cmd_options no_bin = {.extensions = SMTP_EXT_ALL & ~SMTP_EXT_BINARYMIME};
	EXPECT("MAIL FROM:<a@b> BODY=BINARYMIME", &no_bin, SMTP_CMD_E_PARAM_UNKNOWN);
	OK("MAIL FROM:<a@b> BODY=8BITMIME", &no_bin);
	EXPECT("MAIL FROM:<a@b> BODY=8BITMIME BODY=7BIT", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> BODY=8BITMIME", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);

	EXPECT("MAIL FROM:<a@b> SMTPUTF8=yes", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> SMTPUTF8", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);

	OK("MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x AUTH=<>", &ehlo_all);
	assert_int_equal(cmd.params.present, SMTP_PARAM_SIZE | SMTP_PARAM_BODY |
						     SMTP_PARAM_SMTPUTF8 | SMTP_PARAM_RET |
						     SMTP_PARAM_ENVID | SMTP_PARAM_AUTH);
}

static void
test_param_syntax(void **state)
{
	EXPECT("MAIL FROM:<a@b> FOO=bar", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	const char *enh;
	assert_int_equal(smtp_cmd_status(&cmd, &enh), 555);
	assert_string_equal(enh, "5.5.4");
	EXPECT("MAIL FROM:<a@b> X-FOO", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("MAIL FROM:<a@b> -X=1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> X_Y=1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> =1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> SIZE=1  BODY=7BIT", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	OK("MAIL FROM:<a@b> SIZE=1 BODY=7BIT  ", &ehlo_all); /* trailing spaces */
	EXPECT("MAIL FROM:<a@b>  SIZE=1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	/* the first problem, left to right, is the one reported */
	EXPECT("MAIL FROM:<a@b> FOO=1 SIZE=x", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("MAIL FROM:<a@b> SIZE=x FOO=1", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	/* path errors come before parameter errors */
	EXPECT("MAIL FROM:<a@b.> FOO=1", &ehlo_all, SMTP_CMD_E_SENDER_SYNTAX);

	/* smtp_params_parse on its own */
	struct smtp_params p;
	enum smtp_cmd_error e;
	const char *text;
	assert_int_equal(smtp_params_parse("SIZE=5 RET=FULL", 15, false, &ehlo_all, &p, &e, &text),
			 0);
	assert_int_equal(p.size, 5);
	assert_int_equal(p.ret, SMTP_RET_FULL);
	assert_int_equal(smtp_params_parse("", 0, false, &ehlo_all, &p, &e, &text), -1);
	assert_int_equal(e, SMTP_CMD_E_PARAM_SYNTAX);
}

static void
test_param_dsn(void **state)
{
	OK("MAIL FROM:<a@b> RET=FULL", &ehlo_all);
	assert_int_equal(cmd.params.ret, SMTP_RET_FULL);
	OK("MAIL FROM:<a@b> ret=hdrs", &ehlo_all);
	assert_int_equal(cmd.params.ret, SMTP_RET_HDRS);
	EXPECT("MAIL FROM:<a@b> RET=ALL", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> RET", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> RET=FULL", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	struct smtp_cmd_options no_dsn = {.extensions = SMTP_EXT_ALL & ~SMTP_EXT_DSN};
	EXPECT("MAIL FROM:<a@b> RET=FULL", &no_dsn, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("MAIL FROM:<a@b> ENVID=x", &no_dsn, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("RCPT TO:<a@b> NOTIFY=NEVER", &no_dsn, SMTP_CMD_E_PARAM_UNKNOWN);
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822;a@b", &no_dsn, SMTP_CMD_E_PARAM_UNKNOWN);

	/* ENVID: xtext, printable ASCII, the whole parameter 100 octets */
	OK("MAIL FROM:<a@b> ENVID=QQ314159+2Bx+20y", &ehlo_all);
	assert_string_equal(cmd.params.envid, "QQ314159+x y");
	OK("MAIL FROM:<a@b> ENVID=a+2bb", &ehlo_all); /* lower case hex tolerated */
	assert_string_equal(cmd.params.envid, "a+b");
	EXPECT("MAIL FROM:<a@b> ENVID=+ZZ", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=a+2", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=a+", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=+00", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=+0A", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=+C3+A9", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ENVID=a ENVID=b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	char line[400], value[200];
	memset(value, 'e', 94);
	value[94] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@b> ENVID=%s", value) > 0);
	OK(line, &ehlo_all);
	assert_int_equal(strlen(cmd.params.envid), 94);
	value[94] = 'e', value[95] = '\0';
	assert_true(snprintf(line, sizeof(line), "MAIL FROM:<a@b> ENVID=%s", value) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	assert_string_equal(cmd.error_text, "ENVID parameter too long");

	/* NOTIFY */
	OK("RCPT TO:<a@b> NOTIFY=NEVER", &ehlo_all);
	assert_int_equal(cmd.params.notify, SMTP_NOTIFY_NEVER);
	OK("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", &ehlo_all);
	assert_int_equal(cmd.params.notify,
			 SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	OK("RCPT TO:<a@b> notify=delay,failure", &ehlo_all);
	assert_int_equal(cmd.params.notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	EXPECT("RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY=SUCCESS,NEVER", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY=SUCCESS,", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY=,SUCCESS", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY=SOMETIMES", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> NOTIFY", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> NOTIFY=NEVER", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	assert_string_equal(cmd.error_text, "Not a MAIL parameter");

	/* ORCPT */
	OK("RCPT TO:<a@b> ORCPT=rfc822;user+40example.com", &ehlo_all);
	assert_string_equal(cmd.params.orcpt_type, "rfc822");
	assert_string_equal(cmd.params.orcpt, "user@example.com");
	OK("RCPT TO:<a@b> NOTIFY=FAILURE ORCPT=RFC822;x+2By@z", &ehlo_all);
	assert_string_equal(cmd.params.orcpt_type, "RFC822");
	assert_string_equal(cmd.params.orcpt, "x+y@z");
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822;", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=;a@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=rf(c;a@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822;+ZZ", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822;a+0Db", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", &ehlo_all,
	       SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> ORCPT=rfc822;a@b", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	memset(value, 't', 33);
	value[33] = '\0';
	assert_true(snprintf(line, sizeof(line), "RCPT TO:<a@b> ORCPT=%s;a@b", value) > 0);
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	/* the whole ORCPT parameter is 500 octets at most */
	char big[600];
	memset(big, 'o', sizeof(big));
	memcpy(big, "RCPT TO:<a@b> ORCPT=rfc822;", 27);
	big[14 + 500] = '\0';
	OK(big, &ehlo_all);
	big[14 + 500] = 'o', big[14 + 501] = '\0';
	EXPECT(big, &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);

	/* RFC 6533 utf-8 addresses */
	OK("RCPT TO:<a@b> ORCPT=utf-8;j\\x{F6}ran\\x{2B}x@example.com", &ehlo_all);
	assert_string_equal(cmd.params.orcpt_type, "utf-8");
	assert_string_equal(cmd.params.orcpt, "j\xc3\xb6ran+x@example.com");
	OK("RCPT TO:<a@b> ORCPT=UTF-8;\\x{1F600}@x", &ehlo_all);
	assert_string_equal(cmd.params.orcpt, "\xf0\x9f\x98\x80@x");
	OK("RCPT TO:<a@b> ORCPT=utf-8;j\xc3\xb6ran@example.com", &ehlo_utf8);
	assert_string_equal(cmd.params.orcpt, "j\xc3\xb6ran@example.com");
	/* raw UTF-8 (utf-8-addr-unitext) needs SMTPUTF8 */
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;j\xc3\xb6ran@example.com", &ehlo_all,
	       SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{1}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{D800}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{110000}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{1234567}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{F}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\x{F6@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\y{F6}@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a+2B@b", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> ORCPT=utf-8;a\\", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
}

static void
test_param_auth(void **state)
{
	OK("MAIL FROM:<a@b> AUTH=<>", &ehlo_all);
	assert_true(cmd.params.auth_null);
	assert_string_equal(cmd.params.auth, "");
	OK("MAIL FROM:<a@b> AUTH=user+40example.com", &ehlo_all);
	assert_false(cmd.params.auth_null);
	assert_string_equal(cmd.params.auth, "user@example.com");
	OK("MAIL FROM:<a@b> AUTH=+C3+A9@x", &ehlo_all); /* UTF-8 once decoded */
	assert_string_equal(cmd.params.auth, "\xc3\xa9@x");
	EXPECT("MAIL FROM:<a@b> AUTH=", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> AUTH", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> AUTH=a+0Ab", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> AUTH=+FF", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("MAIL FROM:<a@b> AUTH=<> AUTH=<>", &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
	EXPECT("RCPT TO:<a@b> AUTH=<>", &ehlo_all, SMTP_CMD_E_PARAM_UNKNOWN);
	struct smtp_cmd_options no_auth = {.extensions = SMTP_EXT_ALL & ~SMTP_EXT_AUTH};
	EXPECT("MAIL FROM:<a@b> AUTH=<>", &no_auth, SMTP_CMD_E_PARAM_UNKNOWN);
	char line[700];
	memset(line, 'u', sizeof(line));
	memcpy(line, "MAIL FROM:<a@b> AUTH=", 21);
	line[21 + 500] = '\0';
	OK(line, &ehlo_all);
	line[21 + 500] = 'u', line[21 + 501] = '\0';
	EXPECT(line, &ehlo_all, SMTP_CMD_E_PARAM_SYNTAX);
}

/* ---- other commands ---- */

static void
test_bdat(void **state)
{
	OK("BDAT 100", NULL);
	assert_true(cmd.bdat_size == 100);
	assert_false(cmd.bdat_last);
	OK("BDAT 0 LAST", NULL);
	assert_true(cmd.bdat_size == 0);
	assert_true(cmd.bdat_last);
	OK("bdat 100 last", NULL);
	assert_true(cmd.bdat_last);
	OK("BDAT 18446744073709551615 LAST", NULL);
	assert_true(cmd.bdat_size == UINT64_MAX);
	EXPECT("BDAT 18446744073709551616", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 99999999999999999999999", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT x", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT -1", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 1x", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 100 LASTX", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 100 LAST x", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 100  LAST", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("BDAT 100 FIRST", NULL, SMTP_CMD_E_SYNTAX);
}

static void
test_auth(void **state)
{
	OK("AUTH PLAIN", NULL);
	assert_string_equal(cmd.auth_mech, "PLAIN");
	assert_false(cmd.ir_present);
	OK("auth plain dGVzdAB0ZXN0AHRlc3Q=", NULL);
	assert_string_equal(cmd.auth_mech, "PLAIN");
	assert_true(cmd.ir_present);
	assert_slice(cmd.ir, "dGVzdAB0ZXN0AHRlc3Q=");
	OK("AUTH PLAIN dGVzdA==", NULL);
	assert_slice(cmd.ir, "dGVzdA==");
	OK("AUTH EXTERNAL =", NULL);
	assert_true(cmd.ir_present);
	assert_int_equal(cmd.ir.len, 0);
	OK("AUTH SCRAM-SHA-256", NULL);
	assert_string_equal(cmd.auth_mech, "SCRAM-SHA-256");
	OK("AUTH X_MECH_20_CHARS_XXXX", NULL);
	assert_int_equal(strlen(cmd.auth_mech), 20);
	EXPECT("AUTH X_MECH_21_CHARS_XXXXX", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("AUTH", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("AUTH P@AIN", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("AUTH PLAIN dGVzdA=", NULL, SMTP_CMD_E_BASE64);
	const char *enh;
	assert_int_equal(smtp_cmd_status(&cmd, &enh), 501);
	assert_string_equal(enh, "5.5.2");
	EXPECT("AUTH PLAIN dG=zdA==", NULL, SMTP_CMD_E_BASE64);
	EXPECT("AUTH PLAIN dGVzd===", NULL, SMTP_CMD_E_BASE64);
	EXPECT("AUTH PLAIN dGVz dA==", NULL, SMTP_CMD_E_BASE64);
	EXPECT("AUTH PLAIN ==", NULL, SMTP_CMD_E_BASE64);
	EXPECT("AUTH PLAIN *", NULL, SMTP_CMD_E_BASE64);
	EXPECT("AUTH PLAIN dGVzdA==  x", NULL, SMTP_CMD_E_BASE64);
}

static void
test_etrn(void **state)
{
	OK("ETRN example.com", NULL);
	assert_int_equal(cmd.etrn_kind, SMTP_ETRN_DOMAIN);
	assert_slice(cmd.etrn_name, "example.com");
	OK("ETRN @example.com", NULL);
	assert_int_equal(cmd.etrn_kind, SMTP_ETRN_SUBDOMAINS);
	assert_slice(cmd.etrn_name, "example.com");
	OK("ETRN #queue-1", NULL);
	assert_int_equal(cmd.etrn_kind, SMTP_ETRN_QUEUE);
	assert_slice(cmd.etrn_name, "queue-1");
	EXPECT("ETRN", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN @", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN #", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN a..b", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN a b", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN #a b", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("ETRN #a/b", NULL, SMTP_CMD_E_SYNTAX);
}

static void
test_simple_commands(void **state)
{
	OK("VRFY user", NULL);
	assert_slice(cmd.arg, "user");
	OK("VRFY <user@example.com>", NULL);
	assert_slice(cmd.arg, "<user@example.com>");
	OK("EXPN staff list", NULL);
	assert_slice(cmd.arg, "staff list");
	EXPECT("VRFY", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("EXPN  ", NULL, SMTP_CMD_E_SYNTAX);

	OK("HELP", NULL);
	assert_int_equal(cmd.arg.len, 0);
	OK("HELP MAIL", NULL);
	assert_slice(cmd.arg, "MAIL");
	OK("NOOP", NULL);
	OK("NOOP anything at all: <>", NULL);

	OK("DATA", NULL);
	OK("RSET", NULL);
	OK("QUIT", NULL);
	OK("STARTTLS", NULL);
	EXPECT("DATA x", NULL, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: DATA");
	EXPECT("RSET x", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("QUIT now", NULL, SMTP_CMD_E_SYNTAX);
	EXPECT("STARTTLS x", NULL, SMTP_CMD_E_SYNTAX);
	assert_string_equal(cmd.error_text, "Syntax: STARTTLS");
}

static void
test_status_table(void **state)
{
	static const struct {
		enum smtp_verb verb;
		enum smtp_cmd_error error;
		unsigned code;
		const char *enh;
	} cases[] = {
		{SMTP_VERB_NOOP, SMTP_CMD_OK, 250, "2.0.0"},
		{SMTP_VERB_UNKNOWN, SMTP_CMD_E_UNKNOWN, 500, "5.5.2"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_BAD_CHAR, 500, "5.5.2"},
		{SMTP_VERB_TURN, SMTP_CMD_E_NOT_IMPLEMENTED, 502, "5.5.1"},
		{SMTP_VERB_DATA, SMTP_CMD_E_SYNTAX, 501, "5.5.4"},
		{SMTP_VERB_AUTH, SMTP_CMD_E_BASE64, 501, "5.5.2"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_SENDER_SYNTAX, 501, "5.1.7"},
		{SMTP_VERB_RCPT, SMTP_CMD_E_RCPT_SYNTAX, 501, "5.1.3"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_PATH_TOO_LONG, 501, "5.1.7"},
		{SMTP_VERB_RCPT, SMTP_CMD_E_PATH_TOO_LONG, 501, "5.1.3"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_LOCAL_TOO_LONG, 553, "5.1.7"},
		{SMTP_VERB_RCPT, SMTP_CMD_E_DOMAIN_TOO_LONG, 553, "5.1.3"},
		{SMTP_VERB_RCPT, SMTP_CMD_E_UTF8_REQUIRED, 553, "5.6.7"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_PARAM_SYNTAX, 501, "5.5.4"},
		{SMTP_VERB_RCPT, SMTP_CMD_E_PARAM_UNKNOWN, 555, "5.5.4"},
		{SMTP_VERB_MAIL, SMTP_CMD_E_SIZE_EXCEEDED, 552, "5.3.4"},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct smtp_cmd c = {.verb = cases[i].verb, .error = cases[i].error};
		const char *enh;
		assert_int_equal(smtp_cmd_status(&c, &enh), cases[i].code);
		assert_string_equal(enh, cases[i].enh);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_bad_chars),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_mail_paths),
		cmocka_unit_test(test_source_routes),
		cmocka_unit_test(test_quoted_local),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_rcpt_paths),
		cmocka_unit_test(test_relay_hacks),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_param_size_body),
		cmocka_unit_test(test_param_syntax),
		cmocka_unit_test(test_param_dsn),
		cmocka_unit_test(test_param_auth),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_etrn),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_status_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
