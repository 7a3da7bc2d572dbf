/* fuzz_dsn_xtext.c - libFuzzer target for xtext decoding and the DSN
 * builder.
 *
 * Input: byte 0 picks options (action, RET, SMTPUTF8, a small max_original);
 * the rest is split at the first two NULs into an xtext value, a reply
 * text and an original message. Checks that xtext decoding is stable
 * (decoding the re-encoding gives the same bytes) and leaves out unchanged
 * on failure, and that every DSN built ends each line with CRLF, has no
 * line over 998 octets, no NUL, and reports 8-bit octets exactly.
 */
#include "lib/common.h"

#include "lib/buf.h"
#include "queue/dsn.h"

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_dsn_xtext: %s\n", what);
		abort();
	}
}

static void
check_xtext(const char *s, size_t n)
{
	struct buf d, e, d2;

	buf_init(&d, BUF_UNLIMITED);
	buf_init(&e, BUF_UNLIMITED);
	buf_init(&d2, BUF_UNLIMITED);
	check(buf_add_str(&d, "x") == 0, "buf");
	if (dsn_xtext_decode(s, n, &d) < 0) {
		check(d.len == 1, "failed decode wrote");
	} else {
		for (size_t i = 1; i < d.len; i++) {
			unsigned char c = (unsigned char)d.data[i];

			check(c >= 0x20 && c != 0x7f, "control decoded");
			check((c > 32 && c < 127 && c != '+' && c != '=' ? buf_add_char(&e, (char)c)
									 : buf_printf(&e, "+%02X", c)) == 0,
			      "buf");
		}
		check(dsn_xtext_decode(buf_cstr(&e), e.len, &d2) == 0, "re-encoding rejected");
		check(d2.len == d.len - 1 && memcmp(buf_cstr(&d2), d.data + 1, d2.len) == 0,
		      "round trip");
	}
	buf_release(&d);
	buf_release(&e);
	buf_release(&d2);
}

static void
check_dsn(const struct buf *b, bool eightbit)
{
	size_t col = 0;
	bool high = false;

	check(b->len >= 2 && b->data[b->len - 1] == '\n', "final CRLF");
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		high |= c >= 0x80;
		check(c != '\0', "NUL");
		if (c == '\r') {
			check(i + 1 < b->len && b->data[i + 1] == '\n', "bare CR");
			i++;
			col = 0;
			continue;
		}
		check(c != '\n', "bare LF");
		check(++col <= 998, "line too long");
	}
	check(high == eightbit, "eightbit flag");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	const char *nul1, *nul2;
	char *xtext, *reply;
	struct dsn_rcpt rc;
	struct dsn_msg m;
	struct buf out;
	const char *error;
	bool eightbit;
	uint8_t opt;

	if (size < 1)
		return 0;
	opt = data[0];
	nul1 = memchr(p, '\0', (size_t)(end - p));
	if (nul1 == NULL)
		nul1 = end;
	check_xtext(p, (size_t)(nul1 - p));
	nul2 = nul1 < end ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
	if (nul2 == NULL)
		nul2 = end;

	xtext = strndup(p, (size_t)(nul1 - p));
	reply = nul1 < end ? strndup(nul1 + 1, (size_t)(nul2 - nul1 - 1)) : strdup("");
	memset(&rc, 0, sizeof(rc));
	rc.addr = (opt & 0x40) != 0 ? "j\xc3\xb6ran@example.net" : "bob@example.net";
	rc.orcpt = NULL;
	rc.action = (enum dsn_action)(opt & 3);
	rc.diagnostic = (opt & 0x80) != 0 ? reply : NULL;
	rc.reason = reply;
	rc.remote_mta = reply;
	rc.last_attempt = 1700000000;
	rc.will_retry_until = 1700086400;
	memset(&m, 0, sizeof(m));
	m.reporting_mta = "mail.example.org";
	m.sender = "alice@example.org";
	m.envid = xtext[0] != '\0' && strlen(xtext) < 100 ? xtext : NULL;
	m.received_from = reply;
	m.arrival = 1700000000;
	m.now = 1700000100;
	m.queue_id = "0CK9TQH4S2M3R7QX";
	m.ret = (enum queue_ret)((opt >> 2) % 3);
	m.smtputf8 = (opt & 0x10) != 0;
	m.original = nul2 < end ? nul2 + 1 : "";
	m.original_len = nul2 < end ? (size_t)(end - nul2 - 1) : 0;
	m.max_original = (opt & 0x20) != 0 ? 64 : 1000000;
	m.rcpts = &rc;
	m.nrcpts = 1;
	buf_init(&out, 4 * 1024 * 1024);
	if (dsn_build(&m, &out, &eightbit, &error) == 0)
		check_dsn(&out, eightbit);
	else
		check(out.len == 0, "failed build wrote");
	/* The same with the xtext as an ORCPT. */
	buf_reset(&out);
	if (strchr(xtext, ';') != NULL) {
		rc.orcpt = xtext;
		m.envid = NULL;
		if (dsn_build(&m, &out, &eightbit, &error) == 0)
			check_dsn(&out, eightbit);
	}
	buf_release(&out);
	free(xtext);
	free(reply);
	return 0;
}
