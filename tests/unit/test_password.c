/* test_password.c - hashing, verification of real Dovecot/libxcrypt vectors,
 * import validation. */
#include "lib/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "auth/password.h"
#include "lib/buf.h"

#define PW "correct horse battery staple"

/* Generated with `doveadm pw -s SCHEME -p 'correct horse battery staple'`
 * (Dovecot 2.3.19), with libxcrypt's crypt_gensalt()+crypt() for the
 * methods doveadm does not write, and with `openssl passwd`. */
static const char *const vectors[] = {
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	"6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$h6stFGuD1ZXzWFNj7bQDPQ$"
	"g9WcKiZakbz6+FgrpW9hS0e2Q9RDmUMTiUqFu6pprgA",
	"{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2.ebYy6r25OoPcFJG0w.dHkqG0oBKo9lC/"
	"PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/",
	"{SHA256-CRYPT}$5$NJTpcsWHSNg8xCTh$d4qka7MKAuvpClDTV/Vav8Gx9DTuPQRBa1uWfTOPEX3",
	"{BLF-CRYPT}$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK",
	"{CRYPT}$2y$05$u8lIY9uoQNYu3bt7E3wtyO6AKGDJpbwQiDqYVK7jF5Hs.DtolL2B2",
	/* scheme names are case-insensitive, as in Dovecot */
	"{sha512-crypt}$6$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2.ebYy6r25OoPcFJG0w.dHkqG0oBKo9lC/"
	"PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/",
	/* libxcrypt */
	"{CRYPT}$y$j9T$RpDPkd7ZmuQgYRdRpBO3W1$uN4CdP9kd5wO/gfealadhTeBaGA1Xo/Jf.qauPg0SP2",
	"{CRYPT}$gy$j9T$.hFJeVsePXpa4nU/kDAZT1$3gxlZGtyj6WEbhJVskf0IdTvDtLRuBH6/RY0wCvCEc5",
	"{CRYPT}$7$CU..../....Y7VkVaPV74VarB1Z1/qgs0$V86pqODyIq9kmQNdSpTwf4S2sPh3agDLVX4ZhU8TUY.",
	"{BLF-CRYPT}$2a$05$Jcf2u93n6Z0BocvgLuOti.HYoEPlPcXN4908UNxoaOy0NMG17AN6y",
	"{BLF-CRYPT}$2b$05$5Bf2s5Bd6W/AZ3D6yYRNIOD03G4bUT5eXXFYGV05EoDqBFB0Ty.nu",
	/* bare crypt strings, no scheme: openssl passwd -6 / -5, libxcrypt */
	"$6$saltsaltsalt$ST/mWEmUvGaF8bR7RgZUdh5cwHaiiTTLMzdmz6VYMGgVtDKO8Huz6GcoOtpj0X0zfFtfnn1aYJnZ"
	"LSFBw4K2p0",
	"$5$abcdefgh$BWZ40aBGwHskxJEAPaQ7BeX5CsJQnxWro9FnP3/JCe5",
	"$y$j9T$RpDPkd7ZmuQgYRdRpBO3W1$uN4CdP9kd5wO/gfealadhTeBaGA1Xo/Jf.qauPg0SP2",
	"$2b$05$5Bf2s5Bd6W/AZ3D6yYRNIOD03G4bUT5eXXFYGV05EoDqBFB0Ty.nu",
	"$argon2id$v=19$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	"6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
};

static void
test_vectors(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(vectors); i++) {
		const char *error = NULL;
		int rc = password_verify(PW, vectors[i], &error);
		if (rc != 1)
			fail_msg("%s: verify = %d (%s)", vectors[i], rc, error ? error : "");
		assert_int_equal(password_verify("correct horse battery stapler", vectors[i], &error),
				 0);
		assert_int_equal(password_verify("", vectors[i], &error), 0);
		struct buf b;
		buf_init(&b, BUF_UNLIMITED);
		if (password_import(vectors[i], &b, &error) != 0)
			fail_msg("%s: import refused: %s", vectors[i], error);
		/* The stored form verifies the same way. */
		assert_int_equal(password_verify(PW, buf_cstr(&b), &error), 1);
		assert_true(buf_cstr(&b)[0] == '{');
		buf_release(&b);
	}
}

static void
test_utf8_password(void **state)
{
	static const char hash[] =
		"{SHA512-CRYPT}$6$rounds=10000$AqWRWhfj1J9cjiHC$uVgCg/G/0LJ79kimRTJkFZxrls0/"
		"QZv9VHND/v7nblfZrJRtpNywTjD/YLaWdJa4j/jOi6NenmyoVOqxrz7Wc.";
	const char *error;

	assert_int_equal(password_verify("Pässwörd", hash, &error), 1);
	assert_int_equal(password_verify("Passwort", hash, &error), 0);
	assert_int_equal(password_verify("pässwörd", hash, &error), 0);
}

static void
test_import_normalises(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"$6$saltsaltsalt$ST/mWEmUvGaF8bR7RgZUdh5cwHaiiTTLMzdmz6VYMGgVtDKO8Huz6GcoOtpj0X0zf"
		 "Ftfnn1aYJnZLSFBw4K2p0",
		 "{SHA512-CRYPT}$6$saltsaltsalt$ST/mWEmUvGaF8bR7RgZUdh5cwHaiiTTLMzdmz6VYMGgVtDKO8Hu"
		 "z6GcoOtpj0X0zfFtfnn1aYJnZLSFBw4K2p0"},
		{"$2b$05$5Bf2s5Bd6W/AZ3D6yYRNIOD03G4bUT5eXXFYGV05EoDqBFB0Ty.nu",
		 "{BLF-CRYPT}$2b$05$5Bf2s5Bd6W/AZ3D6yYRNIOD03G4bUT5eXXFYGV05EoDqBFB0Ty.nu"},
		{"$y$j9T$RpDPkd7ZmuQgYRdRpBO3W1$uN4CdP9kd5wO/gfealadhTeBaGA1Xo/Jf.qauPg0SP2",
		 "{CRYPT}$y$j9T$RpDPkd7ZmuQgYRdRpBO3W1$uN4CdP9kd5wO/gfealadhTeBaGA1Xo/Jf.qauPg0SP2"},
		{"{crypt}$2y$05$u8lIY9uoQNYu3bt7E3wtyO6AKGDJpbwQiDqYVK7jF5Hs.DtolL2B2",
		 "{CRYPT}$2y$05$u8lIY9uoQNYu3bt7E3wtyO6AKGDJpbwQiDqYVK7jF5Hs.DtolL2B2"},
		{"$argon2i$v=19$m=32768,t=4,p=1$h6stFGuD1ZXzWFNj7bQDPQ$"
		 "g9WcKiZakbz6+FgrpW9hS0e2Q9RDmUMTiUqFu6pprgA",
		 "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$h6stFGuD1ZXzWFNj7bQDPQ$"
		 "g9WcKiZakbz6+FgrpW9hS0e2Q9RDmUMTiUqFu6pprgA"},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct buf b;
		const char *error;
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(password_import(cases[i].in, &b, &error), 0);
		assert_string_equal(buf_cstr(&b), cases[i].out);
		buf_release(&b);
	}
}

struct refused {
	const char *hash;
	const char *why; /* substring of the message */
};

static const struct refused refused[] = {
	{"{PLAIN}secret", "plain text"},
	{"{plain}secret", "plain text"},
	{"{CLEARTEXT}secret", "plain text"},
	{"{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99", "weak"},
	{"{MD5}X03MO1qnZdYdgyfeuILPmQ==", "weak"},
	{"{SHA1}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "weak"},
	{"{SSHA}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "weak"},
	{"{SSHA512}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "weak"},
	{"{MD5-CRYPT}$1$xnfcs4sJ$NHhXyZkYcQpD6HhZ6MqKu1", "weak"},
	{"{CRYPT}$1$xnfcs4sJ$NHhXyZkYcQpD6HhZ6MqKu1", "weak"},
	{"$1$xnfcs4sJ$NHhXyZkYcQpD6HhZ6MqKu1", "weak"},
	{"0TQBb/eahD4z6", "weak"}, /* DES crypt */
	{"{CRYPT}0TQBb/eahD4z6", "weak"},
	{"$sha1$196694$I3RZRFkW.f0uBCbvd0uh$6ZPCQItaADAqbJimfspuLjIbtc6y", "weak"},
	{"{SCRAM-SHA-256}4096,abc,def,ghi", "unsupported"},
	{"{FOO}bar", "unsupported"},
	{"{SHA512-CRYPT}$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK", "$6$"},
	{"{BLF-CRYPT}$6$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2.ebYy6r25OoPcFJG0w.dHkqG0oBKo9lC/"
	 "PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/",
	 "$2y$"},
	{"{ARGON2ID}$argon2i$v=19$m=32768,t=4,p=1$h6stFGuD1ZXzWFNj7bQDPQ$"
	 "g9WcKiZakbz6+FgrpW9hS0e2Q9RDmUMTiUqFu6pprgA",
	 "$argon2id$"},
	{"{CRYPT}$argon2id$v=19$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "ARGON2"},
	{"", "empty"},
	{"{SHA512-CRYPT}", "empty"},
	{"{", "malformed"},
	{"{}$6$abc$def", "malformed"},
	{"{SHA512-CRYPT} $6$abc", "space"},
	{"garbage", "not a password hash"},
	{"{CRYPT}garbage", "not a password hash"},
	{"$9$abc$def", "not a crypt hash"},
	/* malformed crypt strings */
	{"{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$tooshort", "malformed"},
	{"{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$", "malformed"},
	{"{BLF-CRYPT}$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfi", NULL},
	{"{BLF-CRYPT}$2y$5$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK", NULL},
	/* too expensive */
	{"{BLF-CRYPT}$2y$31$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK", "expensive"},
	{"{SHA512-CRYPT}$6$rounds=999999999$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2.ebYy6r25OoPcFJG0w."
	 "dHkqG0oBKo9lC/PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/",
	 "expensive"},
	{"{CRYPT}$y$jFT$RpDPkd7ZmuQgYRdRpBO3W1$uN4CdP9kd5wO/gfealadhTeBaGA1Xo/Jf.qauPg0SP2",
	 "expensive"},
	{"{CRYPT}$7$GU..../....Y7VkVaPV74VarB1Z1/qgs0$V86pqODyIq9kmQNdSpTwf4S2sPh3agDLVX4ZhU8TUY.",
	 "expensive"},
	{"{ARGON2ID}$argon2id$v=19$m=1048576,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "expensive"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3000,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "expensive"},
	/* malformed argon2 */
	{"{ARGON2ID}$argon2id$v=16$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "version"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,p=1,t=3$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "parameters"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ=",
	 "hash value"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UgF4j$6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "salt"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$6yX0", "hash value"},
	{"{ARGON2ID}$argon2id$v=19$m=065536,t=3,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "parameters"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=0,p=1$UgF4j+XErnqOTlaia4jQDg$"
	 "6yX07hqDVqzoWFDtALJE3RXuXB87E3y+qJ21jWYftPQ",
	 "minimum"},
};

static void
test_refused(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(refused); i++) {
		struct buf b;
		const char *error = NULL;
		buf_init(&b, BUF_UNLIMITED);
		if (password_import(refused[i].hash, &b, &error) == 0)
			fail_msg("'%s' imported as '%s'", refused[i].hash, buf_cstr(&b));
		assert_int_equal(b.len, 0);
		assert_non_null(error);
		if (refused[i].why != NULL && strstr(error, refused[i].why) == NULL)
			fail_msg("'%s': unexpected message '%s'", refused[i].hash, error);
		/* Verification never succeeds against a refused hash. */
		assert_int_not_equal(password_verify(PW, refused[i].hash, &error), 1);
		assert_int_not_equal(password_verify("secret", refused[i].hash, &error), 1);
		buf_release(&b);
	}
}

static void
test_plain_never_verifies(void **state)
{
	const char *error = NULL;

	/* Even when the "hash" is the password itself. */
	assert_int_equal(password_verify("secret", "{PLAIN}secret", &error), -1);
	assert_non_null(strstr(error, "plain text"));
}

static void
test_hash_roundtrip(void **state)
{
	static const struct password_cost cheap = {.m_kib = 1024, .t = 1, .p = 1};
	struct buf a, b;
	const char *error;

	buf_init(&a, BUF_UNLIMITED);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(password_hash_cost("hunter2", &cheap, &a, &error), 0);
	assert_int_equal(password_hash_cost("hunter2", &cheap, &b, &error), 0);
	assert_true(strncmp(buf_cstr(&a), "{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$", 40) == 0);
	assert_string_not_equal(buf_cstr(&a), buf_cstr(&b)); /* random salt */
	assert_int_equal(password_verify("hunter2", buf_cstr(&a), &error), 1);
	assert_int_equal(password_verify("hunter3", buf_cstr(&a), &error), 0);
	assert_int_equal(password_verify("Hunter2", buf_cstr(&b), &error), 0);
	assert_true(password_needs_rehash(buf_cstr(&a)));
	buf_reset(&b);
	assert_int_equal(password_import(buf_cstr(&a), &b, &error), 0);
	assert_string_equal(buf_cstr(&a), buf_cstr(&b));

	/* The default cost, once. */
	buf_reset(&a);
	assert_int_equal(password_hash("Pässwörd with spaces", &a, &error), 0);
	assert_true(strncmp(buf_cstr(&a), "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$", 41) == 0);
	assert_int_equal(password_verify("Pässwörd with spaces", buf_cstr(&a), &error), 1);
	assert_false(password_needs_rehash(buf_cstr(&a)));
	buf_release(&a);
	buf_release(&b);
}

static void
test_hash_limits(void **state)
{
	static const struct password_cost cheap = {.m_kib = 1024, .t = 1, .p = 1};
	static const struct password_cost huge = {.m_kib = 4u << 20, .t = 1, .p = 1};
	char big[PASSWORD_MAX + 2];
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(password_hash_cost("", &cheap, &b, &error), -1);
	assert_non_null(strstr(error, "empty"));
	memset(big, 'x', PASSWORD_MAX + 1);
	big[PASSWORD_MAX + 1] = '\0';
	assert_int_equal(password_hash_cost(big, &cheap, &b, &error), -1);
	assert_non_null(strstr(error, "1024"));
	assert_int_equal(password_hash_cost("x", &huge, &b, &error), -1);
	assert_int_equal(b.len, 0);
	big[PASSWORD_MAX] = '\0'; /* exactly the maximum works */
	assert_int_equal(password_hash_cost(big, &cheap, &b, &error), 0);
	assert_int_equal(password_verify(big, buf_cstr(&b), &error), 1);
	/* Longer input never matches and costs nothing. */
	big[PASSWORD_MAX] = 'x';
	assert_int_equal(password_verify(big, vectors[2], &error), 0);
	buf_release(&b);

	/* A capped buffer fails cleanly. */
	buf_init(&b, 20);
	assert_int_equal(password_hash_cost("x", &cheap, &b, &error), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(password_import(vectors[4], &b, &error), -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void
test_needs_rehash(void **state)
{
	assert_false(password_needs_rehash(vectors[0])); /* argon2id 64 MiB t=3 */
	assert_true(password_needs_rehash(vectors[1]));  /* argon2i */
	assert_true(password_needs_rehash(vectors[2]));  /* SHA512-CRYPT */
	assert_true(password_needs_rehash(vectors[4]));  /* BLF-CRYPT */
	assert_true(password_needs_rehash("{PLAIN}x"));
}

static void
test_dummy(void **state)
{
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(password_import(password_dummy_hash(), &b, &error), 0);
	assert_false(password_needs_rehash(password_dummy_hash()));
	assert_int_equal(password_verify("guess", password_dummy_hash(), &error), 0);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),		 cmocka_unit_test(test_utf8_password),
		cmocka_unit_test(test_import_normalises), cmocka_unit_test(test_refused),
		cmocka_unit_test(test_plain_never_verifies), cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_hash_limits),	 cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_dummy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
