/* test_dsn.c - delivery status notifications: structure, fields, choice of
 * the returned content, boundaries, limits, xtext.
 *
 * With DSN_SAMPLES_DIR set, every DSN built here is also written to
 * DIR/<test>.eml, for tests/integration/test_dsn_format.py to parse with
 * Python's email package. */
#include "lib/common.h"

#include <setjmp.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "queue/dsn.h"

#include "samples_test.h"

#define QID "0CK9TQH4S2M3R7QX"
#define NOW ((time_t)1700000000)

static const char small_original[] = "From: Alice <alice@example.org>\r\n"
				     "To: bob@example.net\r\n"
				     "Subject: hello\r\n"
				     "Message-ID: <m1@example.org>\r\n"
				     "\r\n"
				     "Hello Bob,\r\n"
				     "the body of the message.\r\n";

static void
msg_init(struct dsn_msg *m, struct dsn_rcpt *rcpts, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->reporting_mta = "mail.example.org";
	m->sender = "alice@example.org";
	m->received_from = "client.example.org";
	m->arrival = NOW - 3600;
	m->now = NOW;
	m->queue_id = QID;
	m->ret = QUEUE_RET_NONE;
	m->original = small_original;
	m->original_len = strlen(small_original);
	m->max_original = 1000000;
	m->rcpts = rcpts;
	m->nrcpts = n;
}

static struct dsn_rcpt
rcpt_failed(const char *addr)
{
	struct dsn_rcpt r = {
	    .addr = addr,
	    .action = DSN_FAILED,
	    .remote_mta = "mx.example.net[192.0.2.7]",
	    .diagnostic = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
	    .reply_command = "RCPT TO",
	    .last_attempt = NOW - 60,
	};
	return r;
}

/* Every line ends with CRLF and has at most 998 octets before it. */
static void
assert_lines_ok(const struct buf *b)
{
	size_t col = 0;

	assert_true(b->len >= 2 && b->data[b->len - 2] == '\r' && b->data[b->len - 1] == '\n');
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(b->data[i] != '\n');
		assert_true(b->data[i] != '\0');
		col++;
		assert_true(col <= 998);
	}
}

static void
build(const char *name, const struct dsn_msg *m, struct buf *out, bool *eightbit_r)
{
	const char *error = NULL;

	buf_init(out, 10 * 1024 * 1024);
	assert_int_equal(dsn_build(m, out, eightbit_r, &error), 0);
	assert_null(error);
	assert_lines_ok(out);
	save_sample(name, out);
}

static void
assert_has(const struct buf *b, const char *s)
{
	if (strstr(buf_cstr(b), s) == NULL)
		fail_msg("missing \"%s\" in:\n%s", s, buf_cstr(b));
}

static void
assert_lacks(const struct buf *b, const char *s)
{
	if (strstr(buf_cstr(b), s) != NULL)
		fail_msg("unexpected \"%s\" in:\n%s", s, buf_cstr(b));
}

/* ---- tests ---- */

static void
test_failed_full(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;
	bool eight = true;

	(void)state;
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_FULL;
	build("failed_full", &m, &out, &eight);
	assert_false(eight);
	assert_has(&out, "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n");
	assert_has(&out, "To: <alice@example.org>\r\n");
	assert_has(&out, "Subject: Undelivered Mail Returned to Sender\r\n");
	assert_has(&out, "Date: ");
	assert_has(&out, "Message-ID: <dsn-" QID ".1700000000.");
	assert_has(&out, "Auto-Submitted: auto-replied\r\n");
	assert_has(&out, "MIME-Version: 1.0\r\n");
	assert_has(&out, "Content-Type: multipart/report; report-type=delivery-status;");
	assert_has(&out, "Content-Type: text/plain; charset=us-ascii\r\n");
	assert_has(&out, "could not be delivered to one or more recipients");
	assert_has(&out, "<bob@example.net>: host mx.example.net[192.0.2.7] said: 550 5.1.1");
	assert_has(&out, "(in reply to\r\n    RCPT TO command)");
	assert_has(&out, "Content-Type: message/delivery-status\r\n");
	assert_has(&out, "Reporting-MTA: dns; mail.example.org\r\n");
	assert_has(&out, "Received-From-MTA: dns; client.example.org\r\n");
	assert_has(&out, "Arrival-Date: ");
	assert_has(&out, "Final-Recipient: rfc822; bob@example.net\r\n");
	assert_has(&out, "Action: failed\r\nStatus: 5.1.1\r\n");
	assert_has(&out, "Remote-MTA: dns; mx.example.net\r\n");
	assert_has(&out, "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address\r\n"
			 " rejected: User unknown\r\n");
	assert_has(&out, "Last-Attempt-Date: ");
	assert_lacks(&out, "Will-Retry-Until");
	assert_lacks(&out, "Original-Envelope-Id");
	assert_lacks(&out, "Original-Recipient");
	assert_has(&out, "Content-Type: message/rfc822\r\n\r\n");
	assert_has(&out, small_original);
	assert_lacks(&out, "Content-Transfer-Encoding");
	buf_release(&out);
}

static void
test_failed_ret_none_is_full(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, &r, 1);
	build("failed_ret_none", &m, &out, NULL);
	assert_has(&out, "Content-Type: message/rfc822\r\n");
	assert_has(&out, "the body of the message.");
	buf_release(&out);
}

static void
test_failed_large(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_FULL;
	m.max_original = m.original_len - 1;
	build("failed_large", &m, &out, NULL);
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n");
	assert_lacks(&out, "message/rfc822");
	assert_has(&out, "Message-ID: <m1@example.org>\r\n\r\n");
	assert_lacks(&out, "the body of the message.");
	buf_release(&out);
}

static void
test_failed_hdrs(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_HDRS;
	build("failed_hdrs", &m, &out, NULL);
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n");
	assert_has(&out, "Subject: hello\r\n");
	assert_lacks(&out, "the body of the message.");
	buf_release(&out);
}

/* A header without a body: the whole content is the header. */
static void
test_headers_without_body(void **state)
{
	static const char orig[] = "Subject: only a header\r\nFrom: a@example.org\r\n";
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_HDRS;
	m.original = orig;
	m.original_len = strlen(orig);
	build("headers_only_original", &m, &out, NULL);
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n\r\n" "Subject: only a header\r\n"
			 "From: a@example.org\r\n");
	buf_release(&out);
}

static void
test_delayed(void **state)
{
	struct dsn_rcpt r = {
	    .addr = "carol@example.net",
	    .action = DSN_DELAYED,
	    .reason = "Host or domain name not found. Name service error for name=example.net "
		      "type=MX: Host not found, try again",
	    .last_attempt = NOW - 120,
	    .will_retry_until = NOW + 4 * 86400,
	};
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_FULL;
	build("delayed", &m, &out, NULL);
	assert_has(&out, "Subject: Delayed Mail (still being retried)\r\n");
	assert_has(&out, "has not been delivered yet");
	assert_has(&out, "<carol@example.net>: Host or domain name not found.");
	assert_has(&out, "The mail system will give up on this message at ");
	assert_has(&out, "Action: delayed\r\nStatus: 4.0.0\r\n");
	assert_has(&out, "Diagnostic-Code: X-Postern; Host or domain name not found.");
	assert_has(&out, "Will-Retry-Until: ");
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n");
	assert_lacks(&out, "the body of the message.");
	assert_lacks(&out, "Remote-MTA");
	buf_release(&out);
}

static void
test_delivered_relayed(void **state)
{
	struct dsn_rcpt r[2] = {
	    {.addr = "dave@example.net",
	     .action = DSN_DELIVERED,
	     .remote_mta = "mx.example.net[192.0.2.7]",
	     .diagnostic = "250 2.0.0 Ok: queued as 4XyZ",
	     .reply_command = "end of DATA",
	     .last_attempt = NOW},
	    {.addr = "erin@example.com", .action = DSN_RELAYED, .status = "2.0.0",
	     .remote_mta = "old.example.com", .last_attempt = NOW},
	};
	struct dsn_msg m;
	struct buf out;

	(void)state;
	msg_init(&m, r, 2);
	m.ret = QUEUE_RET_FULL;
	build("delivered_relayed", &m, &out, NULL);
	assert_has(&out, "Subject: Successful Mail Delivery Report\r\n");
	assert_has(&out, "was delivered to the recipients below");
	assert_has(&out, "passed on to the next mail system");
	assert_has(&out, "Action: delivered\r\nStatus: 2.0.0\r\n");
	assert_has(&out, "Action: relayed\r\nStatus: 2.0.0\r\n");
	assert_has(&out, "Remote-MTA: dns; old.example.com\r\n");
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n");
	assert_lacks(&out, "the body of the message.");
	assert_lacks(&out, "postmaster");
	buf_release(&out);
}

static void
test_mixed(void **state)
{
	struct dsn_rcpt r[3] = {
	    {.addr = "dave@example.net", .action = DSN_DELIVERED, .last_attempt = NOW},
	    {.addr = "carol@example.net", .action = DSN_DELAYED, .reason = "connection timed out",
	     .will_retry_until = NOW + 86400},
	    rcpt_failed("bob@example.net"),
	};
	struct dsn_msg m;
	struct buf out;
	const char *f, *d, *s;

	(void)state;
	msg_init(&m, r, 3);
	build("mixed", &m, &out, NULL);
	assert_has(&out, "Subject: Undelivered Mail Returned to Sender\r\n");
	/* Human part: failures first, then delays, then successes. */
	f = strstr(buf_cstr(&out), "<bob@example.net>: host");
	d = strstr(buf_cstr(&out), "<carol@example.net>: connection timed out");
	s = strstr(buf_cstr(&out), "<dave@example.net>: delivered");
	assert_true(f != NULL && d != NULL && s != NULL && f < d && d < s);
	/* Report: in the recipients' order. */
	f = strstr(buf_cstr(&out), "Action: failed");
	d = strstr(buf_cstr(&out), "Action: delayed");
	s = strstr(buf_cstr(&out), "Action: delivered");
	assert_true(f != NULL && d != NULL && s != NULL && s < d && d < f);
	assert_has(&out, "Content-Type: message/rfc822\r\n");
	buf_release(&out);
}

static void
test_envid_orcpt(void **state)
{
	struct dsn_rcpt r[2] = {rcpt_failed("bob@example.net"), rcpt_failed("bo@example.net")};
	struct dsn_msg m;
	struct buf out;

	(void)state;
	r[0].orcpt = "rfc822;Bob+2Bdsn@Example.NET";
	r[1].orcpt = "utf-8;b+C3+B6@example.net";
	msg_init(&m, r, 2);
	m.envid = "QQ314159+2Bx";
	build("envid_orcpt", &m, &out, NULL);
	assert_has(&out, "Original-Envelope-Id: QQ314159+x\r\n");
	assert_has(&out, "Original-Recipient: rfc822; Bob+dsn@Example.NET\r\n"
			 "Final-Recipient: rfc822; bob@example.net\r\n");
	/* Not a global report: the UTF-8 address as utf-8-addr-xtext. */
	assert_has(&out, "Original-Recipient: utf-8; b\\x{F6}@example.net\r\n");
	buf_release(&out);
}

static void
test_utf8_address(void **state)
{
	struct dsn_rcpt r = rcpt_failed("j\xc3\xb6ran@b\xc3\xbc\x63her.example");
	struct dsn_msg m;
	struct buf out;
	bool eight = false;

	(void)state;
	r.orcpt = "utf-8;j+C3+B6ran@b+C3+BC" "cher.example";
	msg_init(&m, &r, 1);
	build("utf8_address", &m, &out, &eight);
	assert_true(eight);
	assert_has(&out, "report-type=global-delivery-status");
	assert_has(&out, "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: 8bit\r\n");
	assert_has(&out, "Content-Type: message/global-delivery-status\r\n");
	assert_has(&out, "Final-Recipient: utf-8; j\xc3\xb6ran@b\xc3\xbc" "cher.example\r\n");
	assert_has(&out, "Original-Recipient: utf-8; j\xc3\xb6ran@b\xc3\xbc" "cher.example\r\n");
	assert_has(&out, "<j\xc3\xb6ran@b\xc3\xbc" "cher.example>: host");
	buf_release(&out);
}

static void
test_smtputf8_original(void **state)
{
	static const char orig[] = "From: j\xc3\xb6ran@example.org\r\nSubject: gr\xc3\xbc\xc3\x9f"
				   "e\r\n\r\nK\xc3\xa4se\r\n";
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;
	bool eight = false;

	(void)state;
	msg_init(&m, &r, 1);
	m.smtputf8 = true;
	m.original = orig;
	m.original_len = strlen(orig);
	build("smtputf8_original", &m, &out, &eight);
	assert_true(eight);
	assert_has(&out, "Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n");
	assert_has(&out, orig);
	buf_release(&out);
}

static void
test_8bit_original(void **state)
{
	static const char orig[] = "From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; "
				   "charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
				   "caf\xe9\r\n";
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;
	bool eight = false;

	(void)state;
	msg_init(&m, &r, 1);
	m.original = orig;
	m.original_len = strlen(orig);
	build("eightbit_original", &m, &out, &eight);
	assert_true(eight);
	assert_has(&out, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n");
	assert_has(&out, "report-type=delivery-status;");
	assert_has(&out, "charset=us-ascii");
	buf_release(&out);
}

static void
test_boundary_collision(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out, orig;
	const char *b, *end;
	char boundary[128];

	(void)state;
	/* The first choice, found from a build over a harmless original. */
	msg_init(&m, &r, 1);
	build("boundary_plain", &m, &out, NULL);
	b = strstr(buf_cstr(&out), "boundary=\"");
	assert_non_null(b);
	b += strlen("boundary=\"");
	end = strchr(b, '"');
	assert_true(end != NULL && (size_t)(end - b) < sizeof(boundary));
	memcpy(boundary, b, (size_t)(end - b));
	boundary[end - b] = '\0';
	buf_release(&out);

	buf_init(&orig, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&orig, "Subject: trap\r\n\r\n--%s\r\nContent-Type: text/plain"
					   "\r\n\r\nfake\r\n--%s--\r\n",
				    boundary, boundary),
			 0);
	m.original = orig.data;
	m.original_len = orig.len;
	build("boundary_collision", &m, &out, NULL);
	b = strstr(buf_cstr(&out), "boundary=\"");
	assert_non_null(b);
	assert_memory_not_equal(b + strlen("boundary=\""), boundary, strlen(boundary) + 1);
	assert_has(&out, buf_cstr(&orig));
	buf_release(&out);
	buf_release(&orig);
}

/* A reply without spaces longer than a line: cut, every line <= 998. */
static void
test_long_fields(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out, diag;

	(void)state;
	buf_init(&diag, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&diag, "550 5.7.1 "), 0);
	for (int i = 0; i < 2500; i++)
		assert_int_equal(buf_add_char(&diag, (char)('a' + i % 26)), 0);
	assert_int_equal(buf_add_str(&diag, " end\r\ninjected: yes\x01"), 0);
	r.diagnostic = diag.data;
	msg_init(&m, &r, 1);
	build("long_fields", &m, &out, NULL);
	assert_has(&out, "Status: 5.7.1\r\n");
	assert_lacks(&out, "\r\ninjected: yes");
	assert_has(&out, " end injected: yes\r\n");
	buf_release(&out);
	buf_release(&diag);
}

/* An original with a line over 998 octets cannot travel whole. */
static void
test_original_long_line(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out, orig;

	(void)state;
	buf_init(&orig, BUF_UNLIMITED);
	assert_int_equal(buf_add_str(&orig, "Subject: long\r\nX-Long: "), 0);
	for (int i = 0; i < 1500; i++)
		assert_int_equal(buf_add_char(&orig, 'x'), 0);
	assert_int_equal(buf_add_str(&orig, "\r\n\r\nbody\r\n"), 0);
	for (int i = 0; i < 1500; i++)
		assert_int_equal(buf_add_char(&orig, 'y'), 0);
	assert_int_equal(buf_add_str(&orig, "\r\n"), 0);
	msg_init(&m, &r, 1);
	m.ret = QUEUE_RET_FULL;
	m.original = orig.data;
	m.original_len = orig.len;
	build("original_long_line", &m, &out, NULL);
	assert_has(&out, "Content-Type: text/rfc822-headers\r\n");
	assert_lacks(&out, "yyyy");
	buf_release(&out);
	buf_release(&orig);
}

static void
test_errors(void **state)
{
	struct dsn_rcpt r = rcpt_failed("bob@example.net");
	struct dsn_msg m;
	struct buf out;
	const char *error = NULL;

	(void)state;
	buf_init(&out, 100000);
	assert_int_equal(buf_add_str(&out, "keep"), 0);
	msg_init(&m, &r, 1);
	m.sender = "";
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	assert_non_null(error);
	msg_init(&m, &r, 0);
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	msg_init(&m, &r, 1);
	m.reporting_mta = "bad host";
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	r.addr = "bob\r\n@example.net";
	msg_init(&m, &r, 1);
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	r = rcpt_failed("bob@example.net");
	r.orcpt = "no-semicolon";
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	assert_string_equal(buf_cstr(&out), "keep");

	/* The cap: fails, and out is as it was. */
	r = rcpt_failed("bob@example.net");
	msg_init(&m, &r, 1);
	out.max = 600;
	error = NULL;
	assert_int_equal(dsn_build(&m, &out, NULL, &error), -1);
	assert_string_equal(error, "DSN too large");
	assert_string_equal(buf_cstr(&out), "keep");
	out.max = 100000;
	assert_int_equal(dsn_build(&m, &out, NULL, &error), 0);
	assert_memory_equal(out.data, "keepFrom: ", 10);
	buf_release(&out);
}

static void
assert_xtext(const char *in, int want_r, const char *want)
{
	struct buf b;

	buf_init(&b, 64);
	assert_int_equal(buf_add_str(&b, "<"), 0);
	assert_int_equal(dsn_xtext_decode(in, strlen(in), &b), want_r);
	if (want_r == 0) {
		assert_string_equal(b.data + 1, want);
	} else {
		assert_int_equal(b.len, 1);
	}
	buf_release(&b);
}

static void
test_xtext(void **state)
{
	(void)state;
	assert_xtext("", 0, "");
	assert_xtext("abc", 0, "abc");
	assert_xtext("a+2Bb+3Dc", 0, "a+b=c");
	assert_xtext("+20", 0, " ");
	assert_xtext("+C3+A9", 0, "\xc3\xa9");
	assert_xtext("+", -1, NULL);
	assert_xtext("+2", -1, NULL);
	assert_xtext("+2b", -1, NULL); /* upper-case hex only */
	assert_xtext("+ZZ", -1, NULL);
	assert_xtext("a=b", -1, NULL);
	assert_xtext("a b", -1, NULL);
	assert_xtext("a\x80", -1, NULL);
	assert_xtext("+0A", -1, NULL); /* control characters */
	assert_xtext("+00", -1, NULL);
	assert_xtext("+7F", -1, NULL);
	/* The cap of out. */
	struct buf b;
	buf_init(&b, 3);
	assert_int_equal(dsn_xtext_decode("abcd", 4, &b), -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed_full),
	    cmocka_unit_test(test_failed_ret_none_is_full),
	    cmocka_unit_test(test_failed_large),
	    cmocka_unit_test(test_failed_hdrs),
	    cmocka_unit_test(test_headers_without_body),
	    cmocka_unit_test(test_delayed),
	    cmocka_unit_test(test_delivered_relayed),
	    cmocka_unit_test(test_mixed),
	    cmocka_unit_test(test_envid_orcpt),
	    cmocka_unit_test(test_utf8_address),
	    cmocka_unit_test(test_smtputf8_original),
	    cmocka_unit_test(test_8bit_original),
	    cmocka_unit_test(test_boundary_collision),
	    cmocka_unit_test(test_long_fields),
	    cmocka_unit_test(test_original_long_line),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_xtext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
