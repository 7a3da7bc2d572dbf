/* test_queue_file.c - the relay queue's formats: ids, the envelope encoder
 * and parser (whole, byte by byte, hostile input), state files. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"

#define TEST_ID "0CK9TQH4S2M3R7QX"

static struct queue_envelope *
full_envelope(void)
{
	struct queue_envelope *env = queue_envelope_new();

	memcpy(env->id, TEST_ID, QUEUE_ID_SIZE);
	env->arrival = 1700000000;
	env->sender = xstrdup("alice@example.org");
	env->body = QUEUE_BODY_8BITMIME;
	env->smtputf8 = true;
	env->requiretls = true;
	env->ret = QUEUE_RET_HDRS;
	env->envid = xstrdup("QQ314159+2B");
	env->declared_size = 12345;
	env->client_addr = xstrdup("2001:db8::25");
	env->client_name = xstrdup("mail.example.org");
	env->helo = xstrdup("[2001:db8::25] with spaces");
	env->auth = xstrdup("alice");
	env->protocol = xstrdup("ESMTPSA");
	assert_int_equal(queue_envelope_add_rcpt(env, "bob@example.net", "rfc822;bob@example.net",
						 QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY, NULL),
			 0);
	assert_int_equal(queue_envelope_add_rcpt(env, "\"carol q\"@example.com", NULL, 0, NULL), 0);
	assert_int_equal(queue_envelope_add_rcpt(env, "dörte@bücher.example",
						 "utf-8;d\\x{F6}rte@b\\x{FC}cher.example",
						 QUEUE_NOTIFY_NEVER, NULL),
			 0);
	env->content_size = 12;
	return env;
}

static const char full_text[] = "postern-queue 1\n"
				"id " TEST_ID "\n"
				"arrival 1700000000\n"
				"sender alice@example.org\n"
				"body 8bitmime\n"
				"smtputf8 yes\n"
				"requiretls yes\n"
				"ret hdrs\n"
				"envid QQ314159+2B\n"
				"declared-size 12345\n"
				"client-addr 2001:db8::25\n"
				"client-name mail.example.org\n"
				"helo [2001:db8::25] with spaces\n"
				"auth alice\n"
				"protocol ESMTPSA\n"
				"rcpt bob@example.net\n"
				"orcpt rfc822;bob@example.net\n"
				"notify failure,delay\n"
				"rcpt \"carol q\"@example.com\n"
				"rcpt dörte@bücher.example\n"
				"orcpt utf-8;d\\x{F6}rte@b\\x{FC}cher.example\n"
				"notify never\n"
				"content 00000000000000000012\n"
				"Hi!\r\nBye\r\n\r\n";

static void
assert_str_or_null_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_env_equal(const struct queue_envelope *a, const struct queue_envelope *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->arrival, b->arrival);
	assert_string_equal(a->sender, b->sender);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->requiretls, b->requiretls);
	assert_int_equal(a->ret, b->ret);
	assert_str_or_null_equal(a->envid, b->envid);
	assert_int_equal(a->declared_size, b->declared_size);
	assert_str_or_null_equal(a->client_addr, b->client_addr);
	assert_str_or_null_equal(a->client_name, b->client_name);
	assert_str_or_null_equal(a->helo, b->helo);
	assert_str_or_null_equal(a->auth, b->auth);
	assert_string_equal(a->protocol, b->protocol);
	assert_int_equal(a->content_size, b->content_size);
	assert_int_equal(a->rcpt_count, b->rcpt_count);
	for (size_t i = 0; i < a->rcpt_count; i++) {
		const struct queue_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];
		assert_string_equal(x->addr, y->addr);
		assert_str_or_null_equal(x->orcpt, y->orcpt);
		assert_int_equal(x->notify, y->notify);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->attempts, y->attempts);
		assert_int_equal(x->last_attempt, y->last_attempt);
		assert_int_equal(x->next_attempt, y->next_attempt);
		assert_str_or_null_equal(x->remote, y->remote);
		assert_str_or_null_equal(x->reply, y->reply);
	}
}

static void
test_ids(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE];
	uint64_t usec = UINT64_C(1700000000123456);

	queue_id_make(a, usec, 0);
	queue_id_make(b, usec, 0x1ffffff);
	queue_id_make(c, usec + 1, 0);
	assert_int_equal(strlen(a), QUEUE_ID_LEN);
	assert_true(queue_id_valid(a) && queue_id_valid(b) && queue_id_valid(c));
	/* ASCII order is time order; the random part never reaches the time. */
	assert_true(strcmp(a, b) < 0 && strcmp(b, c) < 0);
	assert_int_equal(queue_id_time(a), 1700000000);
	assert_int_equal(queue_id_time(b), 1700000000);
	/* Only the low 25 bits of the random value count. */
	queue_id_make(c, usec, 0xfe000000);
	assert_string_equal(a, c);
	/* Year 2100 still has 16 characters and sorts after today. */
	queue_id_make(c, UINT64_C(4102444800000000), 0);
	assert_true(strcmp(b, c) < 0);
	assert_int_equal(queue_id_time(c), 4102444800);

	static const char *const bad[] = {"",
					  "0CK9TQH4S2M3R7Q",
					  "0CK9TQH4S2M3R7QXX",
					  "0CK9TQH4S2M3R7Qx",
					  "0CK9TQH4S2M3R7QI",
					  "0CK9TQH4S2M3R7QO",
					  "0CK9TQH4S2M3R7QU",
					  "0CK9TQH4S2M3R7QL",
					  "0CK9TQH4S2M3R7Q.",
					  "../../etc/passwd"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		assert_false(queue_id_valid(bad[i]));
}

static void
test_format_golden(void **state)
{
	struct queue_envelope *env = full_envelope();
	struct buf out;
	const char *error;

	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(queue_env_format(env, &out, &error), 0);
	assert_int_equal(buf_add_str(&out, "Hi!\r\nBye\r\n\r\n"), 0);
	assert_string_equal(out.data, full_text);
	/* The writer patches the content length here. */
	assert_memory_equal(out.data + out.len - env->content_size - QUEUE_CONTENT_PATCH_BACK,
			    "00000000000000000012", QUEUE_CONTENT_DIGITS);
	buf_release(&out);
	queue_envelope_free(&env);
}

static void
test_parse_round_trip(void **state)
{
	struct queue_envelope *want = full_envelope();
	size_t offset;
	const char *error;
	struct queue_envelope *env =
	    queue_file_parse(full_text, sizeof(full_text) - 1, &offset, &error);

	assert_non_null(env);
	assert_env_equal(env, want);
	assert_memory_equal(full_text + offset, "Hi!\r\nBye\r\n\r\n", 12);
	/* Canonical: what parses formats back byte for byte. */
	struct buf out;
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(queue_env_format(env, &out, &error), 0);
	assert_int_equal(out.len, offset);
	assert_memory_equal(out.data, full_text, offset);
	buf_release(&out);
	queue_envelope_free(&env);

	/* The smallest envelope: null sender, no options, empty content. */
	static const char minimal[] = "postern-queue 1\nid " TEST_ID "\narrival 0\nsender \n"
				      "protocol local\nrcpt postmaster\n"
				      "content 00000000000000000000\n";
	env = queue_file_parse(minimal, sizeof(minimal) - 1, &offset, &error);
	assert_non_null(env);
	assert_string_equal(env->sender, "");
	assert_null(env->client_addr);
	assert_null(env->envid);
	assert_int_equal(env->body, QUEUE_BODY_NONE);
	assert_int_equal(env->ret, QUEUE_RET_NONE);
	assert_int_equal(env->rcpt_count, 1);
	assert_int_equal(env->rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(offset, sizeof(minimal) - 1);
	queue_envelope_free(&env);
	queue_envelope_free(&want);
}

/* Feed the envelope one byte at a time, the caller keeping what the parser
 * has not consumed, as a reader with tiny reads would. */
static void
test_byte_at_a_time(void **state)
{
	struct queue_env_parser p;
	struct buf pending;
	size_t total = 0, fed = 0;
	const char *error;
	enum queue_parse_result r = QUEUE_PARSE_NEED_MORE;

	queue_env_parser_init(&p);
	buf_init(&pending, QUEUE_LINE_MAX + 1);
	while (r == QUEUE_PARSE_NEED_MORE) {
		assert_true(fed < sizeof(full_text) - 1);
		assert_int_equal(buf_add_char(&pending, full_text[fed++]), 0);
		size_t consumed;
		r = queue_env_parse(&p, pending.data, pending.len, &consumed, &error);
		/* Only whole records are consumed. */
		assert_true(consumed == 0 || pending.data[consumed - 1] == '\n');
		total += consumed;
		buf_consume(&pending, consumed);
	}
	assert_int_equal(r, QUEUE_PARSE_DONE);
	assert_int_equal(pending.len, 0);
	struct queue_envelope *env = queue_env_parser_take(&p);
	struct queue_envelope *want = full_envelope();
	assert_env_equal(env, want);
	assert_int_equal(total, sizeof(full_text) - 1 - 12);
	queue_envelope_free(&env);
	queue_envelope_free(&want);
	queue_env_parser_release(&p);
	buf_release(&pending);
}

static void
test_truncated_and_trailing(void **state)
{
	size_t offset;
	const char *error;
	size_t len = sizeof(full_text) - 1;

	for (size_t n = 0; n < len; n++) {
		struct queue_envelope *env = queue_file_parse(full_text, n, &offset, &error);
		if (env != NULL)
			fail_msg("a file cut at %zu bytes parsed", n);
	}
	char *longer = xmalloc(len + 1);
	memcpy(longer, full_text, len);
	longer[len] = '\n';
	assert_null(queue_file_parse(longer, len + 1, &offset, &error));
	assert_non_null(strstr(error, "content is 13 bytes, the envelope says 12"));
	free(longer);
}

/* Replace the first occurrence of from in full_text by to and parse. */
static const char *
mutate_error(const char *from, const char *to, size_t to_len)
{
	const char *at = strstr(full_text, from);
	size_t len = sizeof(full_text) - 1, from_len = strlen(from);
	struct buf text;
	const char *error = NULL;
	size_t offset;

	if (at == NULL)
		fail_msg("'%s' is not in the test file", from);
	buf_init(&text, BUF_UNLIMITED);
	assert_int_equal(buf_add(&text, full_text, (size_t)(at - full_text)), 0);
	assert_int_equal(buf_add(&text, to, to_len), 0);
	assert_int_equal(buf_add(&text, at + from_len, len - (size_t)(at - full_text) - from_len),
			 0);
	struct queue_envelope *env = queue_file_parse(text.data, text.len, &offset, &error);
	if (env != NULL)
		fail_msg("accepted '%s' instead of '%s'", to, from);
	buf_release(&text);
	return error;
}

#define MUTATE(from, to) mutate_error(from, to, sizeof(to) - 1)

static void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("'%s' does not contain '%s'", s, part);
}

static void
test_hostile_records(void **state)
{
	char big[QUEUE_ADDR_MAX + 32];

	assert_contains(MUTATE("postern-queue 1\n", "postern-queue 2\n"), "unsupported queue file");
	assert_contains(MUTATE("postern-queue 1\n", "From alice Mon\n"),
			"not a postern queue file");
	assert_contains(MUTATE("postern-queue 1\n", ""), "not a postern queue file");
	assert_contains(MUTATE("ret hdrs\n", "ret hdrs\nx-unknown 1\n"),
			"unknown record 'x-unknown'");
	assert_contains(MUTATE("ret hdrs\n", "ret hdrs\nret full\n"), "record 'ret' repeated");
	assert_contains(MUTATE("ret hdrs\n", "ret hdrs\nbody 7bit\n"), "out of order");
	assert_contains(MUTATE("id " TEST_ID "\n", ""), "record 'id' missing");
	assert_contains(MUTATE("sender alice@example.org\n", ""), "record 'sender' missing");
	assert_contains(MUTATE("protocol ESMTPSA\n", ""), "record 'protocol' missing");
	assert_contains(MUTATE("content 0", "contents 0"), "unknown record 'contents'");
	/* orcpt/notify belong to a recipient and come after it. */
	assert_contains(MUTATE("protocol ESMTPSA\n", "protocol ESMTPSA\norcpt rfc822;a@b\n"),
			"record 'rcpt' missing");
	assert_contains(
	    MUTATE("notify failure,delay\n", "notify failure,delay\norcpt rfc822;a@b\n"),
	    "out of order");
	assert_contains(MUTATE("notify failure,delay\n", "notify failure,delay\nnotify never\n"),
			"repeated");
	/* No recipient at all. */
	{
		static const char none[] = "postern-queue 1\nid " TEST_ID "\narrival 0\nsender \n"
					   "protocol ESMTP\ncontent 00000000000000000000\n";
		size_t offset;
		const char *error;
		assert_null(queue_file_parse(none, sizeof(none) - 1, &offset, &error));
		assert_contains(error, "record 'rcpt' missing");
	}
	/* Bytes that no value may hold. */
	assert_contains(mutate_error("alice@example.org", "al\0ce@example.org", 17),
			"control character 0x00");
	assert_contains(MUTATE("alice@example.org", "alice@example.org\r"),
			"control character 0x0d");
	assert_contains(MUTATE("alice@example.org", "alice\x7f@example.org"),
			"control character 0x7f");
	assert_contains(MUTATE("auth alice", "auth\talice"), "without a value");
	assert_contains(MUTATE("auth alice", "auth"), "without a value");
	/* Values out of range or not canonical. */
	assert_contains(MUTATE("arrival 1700000000", "arrival 01700000000"),
			"invalid value for 'arrival'");
	assert_contains(MUTATE("arrival 1700000000", "arrival 253402300800"), "'arrival'");
	assert_contains(MUTATE("arrival 1700000000", "arrival 99999999999999999999999"),
			"'arrival'");
	assert_contains(MUTATE("arrival 1700000000", "arrival -1"), "'arrival'");
	assert_contains(MUTATE("arrival 1700000000", "arrival "), "'arrival'");
	assert_contains(MUTATE("id " TEST_ID, "id 0ck9tqh4s2m3r7qx"), "'id'");
	assert_contains(MUTATE("body 8bitmime", "body 8BITMIME"), "'body'");
	assert_contains(MUTATE("smtputf8 yes", "smtputf8 no"), "'smtputf8'");
	assert_contains(MUTATE("ret hdrs", "ret "), "'ret'");
	assert_contains(MUTATE("envid QQ314159+2B", "envid QQ 314"), "'envid'");
	assert_contains(MUTATE("declared-size 12345", "declared-size 0"), "'declared-size'");
	assert_contains(MUTATE("declared-size 12345", "declared-size 4294967297"),
			"'declared-size'");
	assert_contains(MUTATE("client-addr 2001:db8::25", "client-addr mail.example.org"),
			"'client-addr'");
	assert_contains(MUTATE("client-addr 2001:db8::25", "client-addr 192.0.2.256"),
			"'client-addr'");
	assert_contains(MUTATE("protocol ESMTPSA", "protocol ESMTP SA"), "'protocol'");
	assert_contains(MUTATE("protocol ESMTPSA", "protocol ESMTPSAESMTPSAESMTPSAESMTPSA!"),
			"'protocol'");
	assert_contains(MUTATE("rcpt bob@example.net", "rcpt "), "'rcpt'");
	assert_contains(MUTATE("orcpt rfc822;bob@example.net", "orcpt bob@example.net"), "'orcpt'");
	assert_contains(MUTATE("orcpt rfc822;bob@example.net", "orcpt rfc822;"), "'orcpt'");
	assert_contains(MUTATE("notify failure,delay", "notify delay,failure"), "'notify'");
	assert_contains(MUTATE("notify failure,delay", "notify never,failure"), "'notify'");
	assert_contains(MUTATE("notify failure,delay", "notify FAILURE"), "'notify'");
	assert_contains(MUTATE("content 00000000000000000012", "content 11"), "'content'");
	assert_contains(MUTATE("content 00000000000000000012", "content 0000000000000000001x"),
			"'content'");
	assert_contains(MUTATE("content 00000000000000000012", "content 99999999999999999999"),
			"'content'");
	/* Oversized fields. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "sender ", 7);
	big[7 + QUEUE_ADDR_MAX + 1] = '\0';
	assert_contains(mutate_error("sender alice@example.org", big, strlen(big)), "'sender'");
	big[7 + QUEUE_ADDR_MAX] = '\0'; /* exactly the limit is fine */
	{
		const char *at = strstr(full_text, "sender alice@example.org");
		struct buf text;
		size_t offset;
		const char *error;
		buf_init(&text, BUF_UNLIMITED);
		assert_int_equal(buf_add(&text, full_text, (size_t)(at - full_text)), 0);
		assert_int_equal(buf_add_str(&text, big), 0);
		assert_int_equal(buf_add_str(&text, at + 24), 0);
		struct queue_envelope *env = queue_file_parse(text.data, text.len, &offset, &error);
		assert_non_null(env);
		assert_int_equal(strlen(env->sender), QUEUE_ADDR_MAX);
		queue_envelope_free(&env);
		buf_release(&text);
	}
	/* A record longer than any valid one, without its LF in sight. */
	char *huge = xmalloc(QUEUE_LINE_MAX + 10);
	memcpy(huge, "helo ", 5);
	memset(huge + 5, 'h', QUEUE_LINE_MAX + 5);
	assert_contains(mutate_error("helo [2001:db8::25] with spaces", huge, QUEUE_LINE_MAX + 10),
			"record longer than");
	free(huge);
}

/* Random bytes and every single-byte change of a valid file: never a crash,
 * and whatever is accepted re-encodes to the same bytes. */
static void
test_mutations(void **state)
{
	size_t len = sizeof(full_text) - 1;
	char *copy = xmalloc(len);
	static const char replacements[] = {'\0', '\n', ' ', 'x', '0', '9', '\r', (char)0xff};

	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < N_ELEMENTS(replacements); k++) {
			size_t offset;
			const char *error;
			memcpy(copy, full_text, len);
			copy[i] = replacements[k];
			struct queue_envelope *env = queue_file_parse(copy, len, &offset, &error);
			if (env == NULL)
				continue;
			struct buf out;
			buf_init(&out, BUF_UNLIMITED);
			assert_int_equal(queue_env_format(env, &out, &error), 0);
			assert_int_equal(out.len, offset);
			assert_memory_equal(out.data, copy, offset);
			buf_release(&out);
			queue_envelope_free(&env);
		}
	}
	free(copy);
}

static void
test_recipient_cap(void **state)
{
	struct queue_envelope *env = full_envelope();
	struct buf out;
	const char *error;
	size_t offset;
	char addr[64];

	while (env->rcpt_count < QUEUE_RCPT_MAX) {
		(void)snprintf(addr, sizeof(addr), "user%zu@example.net", env->rcpt_count);
		assert_int_equal(queue_envelope_add_rcpt(env, addr, NULL, 0, &error), 0);
	}
	assert_int_equal(queue_envelope_add_rcpt(env, "one.more@example.net", NULL, 0, &error), -1);
	assert_contains(error, "too many recipients");
	env->content_size = 0;
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(queue_env_format(env, &out, &error), 0);
	struct queue_envelope *back = queue_file_parse(out.data, out.len, &offset, &error);
	assert_non_null(back);
	assert_int_equal(back->rcpt_count, QUEUE_RCPT_MAX);
	assert_string_equal(back->rcpts[QUEUE_RCPT_MAX - 1].addr, "user9999@example.net");
	queue_envelope_free(&back);

	/* One more recipient record in the file is refused. */
	size_t at = out.len - strlen("content 00000000000000000000\n");
	char *tail = xstrdup(out.data + at);
	buf_set_len(&out, at);
	assert_int_equal(buf_add_str(&out, "rcpt extra@example.net\n"), 0);
	assert_int_equal(buf_add_str(&out, tail), 0);
	assert_null(queue_file_parse(out.data, out.len, &offset, &error));
	assert_contains(error, "more than 10000 recipients");
	free(tail);
	buf_release(&out);
	queue_envelope_free(&env);
}

static void
test_envelope_check(void **state)
{
	struct queue_envelope *env = full_envelope();
	const char *error;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	free(env->protocol);
	env->protocol = NULL;
	assert_int_equal(queue_env_format(env, &out, &error), -1);
	assert_contains(error, "protocol");
	assert_int_equal(out.len, 0);
	env->protocol = xstrdup("ESMTP");
	env->rcpts[1].notify = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_DELAY;
	assert_int_equal(queue_env_format(env, &out, &error), -1);
	assert_contains(error, "recipient 1: invalid NOTIFY");
	env->rcpts[1].notify = 0;
	env->content_size = QUEUE_CONTENT_MAX + 1;
	assert_int_equal(queue_env_format(env, &out, &error), -1);
	env->content_size = 0;
	env->rcpts[2].reply = xstrdup("line\nbreak");
	assert_int_equal(queue_env_format(env, &out, &error), -1);
	assert_contains(error, "recipient 2");
	free(env->rcpts[2].reply);
	env->rcpts[2].reply = NULL;
	/* A capped output buffer: refused, nothing half-written. */
	struct buf small;
	buf_init(&small, 100);
	assert_int_equal(queue_env_format(env, &small, &error), -1);
	assert_int_equal(small.len, 0);
	assert_int_equal(queue_env_format(env, &out, &error), 0);
	buf_release(&small);
	buf_release(&out);
	queue_envelope_free(&env);
}

/* ---- state files ---- */

static void
set_states(struct queue_envelope *env)
{
	struct queue_rcpt *r = env->rcpts;

	r[0].state = QUEUE_RCPT_DELAYED;
	r[0].attempts = 3;
	r[0].last_attempt = 1700003000;
	r[0].next_attempt = 1700006600;
	r[0].remote = xstrdup("mx.example.net[192.0.2.7]");
	r[0].reply = xstrdup("451 4.7.1 Try again later");
	r[1].state = QUEUE_RCPT_DELIVERED;
	r[1].attempts = 1;
	r[1].last_attempt = 1700000100;
	r[1].reply = xstrdup("250 2.0.0 Ok: queued as 4Zx");
	r[2].state = QUEUE_RCPT_FAILED;
	r[2].attempts = 1;
	r[2].last_attempt = 1700000100;
	r[2].remote = xstrdup("mx.bücher.example[2001:db8::7]");
}

static const char state_text[] = "postern-queue-state 1\n"
				 "id " TEST_ID "\n"
				 "rcpts 3\n"
				 "rcpt 0 delayed 3 1700003000 1700006600\n"
				 "remote mx.example.net[192.0.2.7]\n"
				 "reply 451 4.7.1 Try again later\n"
				 "rcpt 1 delivered 1 1700000100 0\n"
				 "reply 250 2.0.0 Ok: queued as 4Zx\n"
				 "rcpt 2 failed 1 1700000100 0\n"
				 "remote mx.bücher.example[2001:db8::7]\n";

static void
test_state_round_trip(void **state)
{
	struct queue_envelope *env = full_envelope(), *back = full_envelope();
	struct buf out;
	const char *error;

	set_states(env);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(queue_state_format(env, &out, &error), 0);
	assert_string_equal(out.data, state_text);
	assert_int_equal(queue_state_parse(back, out.data, out.len, &error), 0);
	assert_env_equal(back, env);
	assert_int_equal(queue_envelope_due(back), 1700006600);
	/* Parsing again replaces what was there. */
	assert_int_equal(queue_state_parse(back, out.data, out.len, &error), 0);
	assert_env_equal(back, env);
	back->rcpts[0].state = QUEUE_RCPT_DELIVERED;
	assert_int_equal(queue_envelope_due(back), -1);
	buf_release(&out);
	queue_envelope_free(&env);
	queue_envelope_free(&back);
}

static const char *
state_error(const char *from, const char *to)
{
	const char *at = strstr(state_text, from);
	struct buf text;
	const char *error = NULL;
	struct queue_envelope *env = full_envelope(), *before = full_envelope();

	if (at == NULL)
		fail_msg("'%s' is not in the state text", from);
	buf_init(&text, BUF_UNLIMITED);
	assert_int_equal(buf_add(&text, state_text, (size_t)(at - state_text)), 0);
	assert_int_equal(buf_add_str(&text, to), 0);
	assert_int_equal(buf_add_str(&text, at + strlen(from)), 0);
	if (queue_state_parse(env, text.data, text.len, &error) == 0)
		fail_msg("accepted '%s' instead of '%s'", to, from);
	/* Nothing applied. */
	assert_env_equal(env, before);
	buf_release(&text);
	queue_envelope_free(&env);
	queue_envelope_free(&before);
	return error;
}

static void
test_state_hostile(void **state)
{
	assert_contains(state_error("postern-queue-state 1", "postern-queue-state 2"), "version");
	assert_contains(state_error("postern-queue-state 1", "postern-queue 1"), "not a postern");
	assert_contains(state_error("id " TEST_ID, "id 0CK9TQH4S2M3R7QY"), "another message");
	assert_contains(state_error("rcpts 3", "rcpts 4"), "recipient count");
	assert_contains(state_error("rcpts 3", "rcpts 03"), "recipient count");
	assert_contains(state_error("rcpt 1 delivered", "rcpt 2 delivered"), "invalid recipient");
	assert_contains(state_error("rcpt 1 delivered", "rcpt 1 sent"), "invalid recipient");
	assert_contains(state_error("1 1700000100 0\nreply", "1 1700000100\nreply"),
			"invalid recipient");
	assert_contains(state_error("1 1700000100 0\nreply", "1 1700000100 0 \nreply"),
			"invalid recipient");
	assert_contains(state_error("delayed 3 ", "delayed 1000001 "), "invalid recipient");
	assert_contains(state_error("1700006600", "253402300800"), "invalid recipient");
	assert_contains(
	    state_error("rcpt 2 failed 1 1700000100 0\nremote mx.bücher.example[2001:db8::7]\n",
			""),
	    "truncated");
	assert_contains(state_error("::7]\n", "::7]"), "truncated record");
	assert_contains(
	    state_error("remote mx.example.net[192.0.2.7]\nreply 451 4.7.1 Try again later\n",
			"reply 451 4.7.1 Try again later\nremote mx.example.net[192.0.2.7]\n"),
	    "unexpected record 'remote'");
	assert_contains(state_error("reply 250", "reply 250\nreply 250"),
			"unexpected record 'reply'");
	assert_contains(state_error("reply 250 2.0.0", "reply 250\x01 2.0.0"), "control character");
	assert_contains(state_error("reply 250 2.0.0 Ok: queued as 4Zx", "reply "),
			"invalid reply");
	assert_contains(state_error("rcpts 3\n", "rcpts 3\nx-new 1\n"),
			"unexpected record 'x-new'");
	assert_contains(state_error("::7]\n", "::7]\n\n"), "without a value");
	assert_contains(state_error("::7]\n", "::7]\nrcpt 3 failed 1 1700000100 0\n"),
			"invalid recipient");
	assert_contains(state_error("postern-queue-state 1\n", ""), "not a postern");

	struct queue_envelope *env = full_envelope();
	const char *error;
	assert_int_equal(queue_state_parse(env, "", 0, &error), -1);
	assert_contains(error, "truncated");
	queue_envelope_free(&env);
}

static void
test_text_clean(void **state)
{
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	queue_text_clean(&out, "  451-4.7.1 first\r\n451 4.7.1 \x01second\t line  ", 44, 100);
	assert_string_equal(out.data, "451-4.7.1 first 451 4.7.1 second line");
	buf_reset(&out);
	queue_text_clean(&out, "abcdefghij", 10, 10);
	assert_string_equal(out.data, "abcdefghij");
	buf_reset(&out);
	queue_text_clean(&out, "abcdefghijk", 11, 10);
	assert_string_equal(out.data, "abcdefg...");
	buf_reset(&out);
	/* "ö" is two bytes; a cut inside it drops the whole character. */
	queue_text_clean(&out, "abcdefö123", 11, 10);
	assert_string_equal(out.data, "abcdef...");
	buf_reset(&out);
	queue_text_clean(&out, "\r\n\t ", 4, 10);
	assert_int_equal(out.len, 0);
	/* The result is always a valid value. */
	char noise[3000];
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char)(i * 7919 % 256);
	buf_reset(&out);
	queue_text_clean(&out, noise, sizeof(noise), QUEUE_REPLY_MAX);
	assert_true(queue_text_valid(out.data, out.len, QUEUE_REPLY_MAX));
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_recipient_cap),
		cmocka_unit_test(test_envelope_check),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_hostile),
		cmocka_unit_test(test_text_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
