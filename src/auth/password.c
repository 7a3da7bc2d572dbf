/* password.c - argon2id hashing; verification of Dovecot scheme strings. */
#include "lib/common.h"

#include <sys/random.h>

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>

#include "auth/password.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Caps on stored hash parameters (see password.h). */
#define ARGON2_M_MAX (256u * 1024) /* KiB */
#define ARGON2_T_MAX 10u
#define ARGON2_P_MAX 4u
#define ARGON2_SALT_LEN 16
#define ARGON2_HASH_LEN 32
#define BCRYPT_COST_MAX 14
#define SHACRYPT_ROUNDS_MAX 1000000ul
#define SCRYPT_MEM_LOG2_MAX 28 /* 256 MiB */
#define SCRYPT_P_MAX 4u

const struct password_cost password_default_cost = {.m_kib = 65536, .t = 3, .p = 1};

/* argon2id of a password nobody uses, at the default cost; its result is
 * never looked at (password_dummy_hash). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
static const char dummy_hash[] =
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$cG9zdGVybi1kdW1teS0xNg$"
	"SPswy4t+bu3fcEs4TftiOc7n/VUjEkBaW9QI+RmOKzM";
#else
/* Fuzz builds only (POSTERN_FUZZ): the cheapest argon2id, so that each
 * failed login of a session fuzzer does not cost 0.2 s and 64 MiB. */
static const char dummy_hash[] =
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$cG9zdGVybi1kdW1teS0xNg$"
	"+4D0rBSbEe2ROQJiosw7H58TaTBXVyhwlN8n3PJz6Q4";
#endif

enum scheme_kind { KIND_ARGON2ID, KIND_ARGON2I, KIND_CRYPT };

struct scheme {
	const char *name;
	enum scheme_kind kind;
	const char *prefix; /* the hash must start with it; NULL: any crypt method */
	const char *prefix2, *prefix3;
};

static const struct scheme schemes[] = {
	{"ARGON2ID", KIND_ARGON2ID, "$argon2id$", NULL, NULL},
	{"ARGON2I", KIND_ARGON2I, "$argon2i$", NULL, NULL},
	{"SHA512-CRYPT", KIND_CRYPT, "$6$", NULL, NULL},
	{"SHA256-CRYPT", KIND_CRYPT, "$5$", NULL, NULL},
	{"BLF-CRYPT", KIND_CRYPT, "$2y$", "$2b$", "$2a$"},
	{"CRYPT", KIND_CRYPT, NULL, NULL, NULL},
};

/* Dovecot schemes postern refuses, and why. */
static const char *const plaintext_schemes[] = {
	"PLAIN", "CLEARTEXT", "CLEAR", "PLAIN-TRUNC", "PLAIN-TEXT",
};
static const char *const weak_schemes[] = {
	"MD5",	   "PLAIN-MD5", "LDAP-MD5",	"SMD5",	    "MD5-CRYPT", "PLAIN-MD4",
	"SHA",	   "SHA1",	"SSHA",		"SHA256",   "SSHA256",	 "SHA512",
	"SSHA512", "NTLM",	"LANMAN",	"CRAM-MD5", "HMAC-MD5",	 "DIGEST-MD5",
	"RPA",	   "OTP",	"SKEY",		"PBKDF2",   "DES-CRYPT", "LDAP-CRYPT",
};

static _Thread_local char errbuf[256];

static const char *
errorf(const char *fmt, ...) ATTR_PRINTF(1, 2);

static const char *
errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(errbuf, sizeof(errbuf), fmt, ap) < 0)
		errbuf[0] = '\0';
	va_end(ap);
	return errbuf;
}

struct parsed {
	const struct scheme *scheme;
	const char *hash; /* after "{SCHEME}" */
};

static bool
has_prefix(const char *s, const char *prefix)
{
	return prefix != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The scheme a bare hash belongs to, by its prefix. */
static const struct scheme *
scheme_for_bare(const char *hash)
{
	for (size_t i = 0; i < N_ELEMENTS(schemes); i++) {
		const struct scheme *s = &schemes[i];
		if (has_prefix(hash, s->prefix) || has_prefix(hash, s->prefix2) ||
		    has_prefix(hash, s->prefix3))
			return s;
	}
	return &schemes[N_ELEMENTS(schemes) - 1]; /* CRYPT */
}

/* Split "{SCHEME}hash" or a bare hash; refuse plain-text, weak and unknown
 * schemes and hashes that do not match their scheme's prefix. */
static int
parse_scheme(const char *stored, struct parsed *p, const char **error_r)
{
	size_t len = strnlen(stored, PASSWORD_HASH_MAX + 1);

	if (len == 0)
		return (*error_r = "empty password hash"), -1;
	if (len > PASSWORD_HASH_MAX)
		return (*error_r = "password hash too long"), -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)stored[i] <= ' ' || (unsigned char)stored[i] >= 0x7f)
			return (*error_r = "password hash contains a space, control or non-ASCII "
					   "character"), -1;
	if (stored[0] != '{') {
		p->scheme = scheme_for_bare(stored);
		p->hash = stored;
	} else {
		const char *close = strchr(stored, '}');
		char name[32];
		size_t n = close != NULL ? (size_t)(close - stored - 1) : 0;
		if (close == NULL || n == 0 || n >= sizeof(name))
			return (*error_r = "malformed {SCHEME} prefix"), -1;
		for (size_t i = 0; i < n; i++) {
			char c = stored[1 + i];
			name[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		}
		name[n] = '\0';
		for (size_t i = 0; i < N_ELEMENTS(plaintext_schemes); i++)
			if (strcmp(name, plaintext_schemes[i]) == 0)
				return (*error_r = errorf("{%s} keeps the password in plain text; "
							  "postern stores only hashes (set the "
							  "password with --password-stdin)",
							  name)), -1;
		for (size_t i = 0; i < N_ELEMENTS(weak_schemes); i++)
			if (strcmp(name, weak_schemes[i]) == 0)
				return (*error_r = errorf("{%s} is a weak password scheme; postern "
							  "refuses it (set a new password instead)",
							  name)), -1;
		p->scheme = NULL;
		for (size_t i = 0; i < N_ELEMENTS(schemes); i++)
			if (strcmp(name, schemes[i].name) == 0)
				p->scheme = &schemes[i];
		if (p->scheme == NULL)
			return (*error_r = errorf("unsupported password scheme {%s}", name)), -1;
		p->hash = close + 1;
		const struct scheme *s = p->scheme;
		if (p->hash[0] == '\0')
			return (*error_r = "empty password hash after the scheme"), -1;
		if (s->prefix != NULL && !has_prefix(p->hash, s->prefix) &&
		    !has_prefix(p->hash, s->prefix2) && !has_prefix(p->hash, s->prefix3))
			return (*error_r = errorf("the hash is not a {%s} hash (it should begin "
						  "with %s)",
						  s->name, s->prefix)), -1;
	}
	if (p->scheme->kind == KIND_CRYPT &&
	    (has_prefix(p->hash, "$argon2") || p->hash[0] == '\0'))
		return (*error_r = p->hash[0] == '\0' ? "empty password hash"
						      : "argon2 hashes need the {ARGON2ID} or "
							"{ARGON2I} scheme"), -1;
	return 0;
}

/* ---- argon2 ---- */

struct argon2_info {
	argon2_type type;
	uint32_t m, t, p;
	size_t salt_len, hash_len; /* decoded bytes */
};

static int
parse_u32(const char **sp, uint32_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	*sp = s;
	return 0;
}

/* Length in bytes of the unpadded base64 run at *sp, which must end at
 * terminator; -1 if malformed. */
static ssize_t
b64_run(const char **sp, char terminator)
{
	const char *s = *sp;
	size_t n = 0;

	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
	       *s == '+' || *s == '/') {
		s++;
		n++;
	}
	if (*s != terminator || n % 4 == 1)
		return -1;
	*sp = s;
	return (ssize_t)(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
}

/* Parse "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" strictly (the form libargon2
 * and libsodium write) and check the caps. */
static int
argon2_parse(const char *h, struct argon2_info *ai, const char **error_r)
{
	const char *s;
	ssize_t n;

	if (has_prefix(h, "$argon2id$")) {
		ai->type = Argon2_id;
		s = h + 10;
	} else if (has_prefix(h, "$argon2i$")) {
		ai->type = Argon2_i;
		s = h + 9;
	} else {
		return (*error_r = "not an argon2id or argon2i hash"), -1;
	}
	if (!has_prefix(s, "v=19$"))
		return (*error_r = "argon2 hash is not version 19 (v=19)"), -1;
	s += 5;
	if (!has_prefix(s, "m=") || (s += 2, parse_u32(&s, &ai->m)) < 0 ||
	    !has_prefix(s, ",t=") || (s += 3, parse_u32(&s, &ai->t)) < 0 ||
	    !has_prefix(s, ",p=") || (s += 3, parse_u32(&s, &ai->p)) < 0 || *s != '$')
		return (*error_r = "malformed argon2 parameters (expected m=..,t=..,p=..)"), -1;
	s++;
	if ((n = b64_run(&s, '$')) < 0)
		return (*error_r = "malformed argon2 salt"), -1;
	ai->salt_len = (size_t)n;
	s++;
	if ((n = b64_run(&s, '\0')) < 0)
		return (*error_r = "malformed argon2 hash value"), -1;
	ai->hash_len = (size_t)n;
	if (ai->salt_len < 8 || ai->salt_len > 64)
		return (*error_r = "argon2 salt must be 8 to 64 bytes"), -1;
	if (ai->hash_len < 16 || ai->hash_len > 64)
		return (*error_r = "argon2 hash value must be 16 to 64 bytes"), -1;
	if (ai->p < 1 || ai->t < 1 || ai->m < 8 * ai->p)
		return (*error_r = "argon2 parameters below the algorithm's minimum"), -1;
	if (ai->m > ARGON2_M_MAX || ai->t > ARGON2_T_MAX || ai->p > ARGON2_P_MAX)
		return (*error_r = "argon2 parameters too expensive (at most m=262144, t=10, "
				   "p=4)"), -1;
	return 0;
}

static int
argon2_check(const char *password, const char *h, const char **error_r)
{
	struct argon2_info ai;

	if (argon2_parse(h, &ai, error_r) < 0)
		return -1;
	int rc = argon2_verify(h, password, strlen(password), ai.type);
	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	*error_r = argon2_error_message(rc);
	return -1;
}

/* ---- crypt(3) methods ---- */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
atoi64(char c)
{
	const char *p = c != '\0' ? strchr(itoa64, c) : NULL;

	return p != NULL ? (int)(p - itoa64) : -1;
}

/* yescrypt's variable-length number encoding (one to six characters). */
static int
yes_decode(const char **sp, uint32_t min, uint64_t *out)
{
	const char *s = *sp;
	uint64_t start = 0, end = 47, chars = 1, bits = 0;
	int c = atoi64(*s++);

	if (c < 0)
		return -1;
	uint64_t v = min;
	while ((uint64_t)c > end) {
		v += (end + 1 - start) << bits;
		start = end + 1;
		end = start + (62 - end) / 2;
		chars++;
		bits += 6;
	}
	v += ((uint64_t)c - start) << bits;
	while (--chars) {
		if ((c = atoi64(*s++)) < 0)
			return -1;
		bits -= 6;
		v += (uint64_t)c << bits;
	}
	*out = v;
	*sp = s;
	return 0;
}

/* True when 128 * r * 2^n_log2 bytes is within the memory cap. */
static bool
scrypt_mem_ok(uint64_t n_log2, uint64_t r)
{
	if (r == 0 || n_log2 == 0 || n_log2 > SCRYPT_MEM_LOG2_MAX - 7)
		return false;
	return r <= UINT64_C(1) << (SCRYPT_MEM_LOG2_MAX - 7 - n_log2);
}

static int
yescrypt_cost_ok(const char *params, const char **error_r)
{
	const char *s = params;
	uint64_t flavor, n_log2, r, have = 0, p = 1, t = 0, g = 0;

	if (yes_decode(&s, 0, &flavor) < 0 || yes_decode(&s, 1, &n_log2) < 0 ||
	    yes_decode(&s, 1, &r) < 0)
		return (*error_r = "malformed yescrypt parameters"), -1;
	if (*s != '$') {
		if (yes_decode(&s, 1, &have) < 0 || have > 7 ||
		    ((have & 1) && yes_decode(&s, 2, &p) < 0) ||
		    ((have & 2) && yes_decode(&s, 1, &t) < 0) ||
		    ((have & 4) && yes_decode(&s, 1, &g) < 0) || *s != '$')
			return (*error_r = "malformed or unsupported yescrypt parameters"), -1;
	}
	if (!scrypt_mem_ok(n_log2, r) || p > SCRYPT_P_MAX || t > 4 || g > 4)
		return (*error_r = "yescrypt parameters too expensive (at most 256 MiB)"), -1;
	return 0;
}

static int
scrypt_cost_ok(const char *params, const char **error_r)
{
	int n_log2 = atoi64(params[0]);
	uint64_t r = 0, p = 0;

	if (strnlen(params, 11) < 11)
		return (*error_r = "malformed scrypt parameters"), -1;
	for (int i = 0; i < 5; i++) {
		int c1 = atoi64(params[1 + i]), c2 = c1 < 0 ? -1 : atoi64(params[6 + i]);
		if (c1 < 0 || c2 < 0)
			return (*error_r = "malformed scrypt parameters"), -1;
		r |= (uint64_t)c1 << (6 * i);
		p |= (uint64_t)c2 << (6 * i);
	}
	if (n_log2 < 1 || !scrypt_mem_ok((uint64_t)n_log2, r) || p < 1 || p > SCRYPT_P_MAX)
		return (*error_r = "scrypt parameters too expensive (at most 256 MiB)"), -1;
	return 0;
}

/* Only the non-legacy libxcrypt methods are accepted; each one's cost is
 * capped. */
static int
crypt_cost_ok(const char *h, const char **error_r)
{
	if (has_prefix(h, "$6$") || has_prefix(h, "$5$")) {
		const char *s = h + 3;
		if (has_prefix(s, "rounds=")) {
			uint32_t rounds;
			s += 7;
			if (parse_u32(&s, &rounds) < 0 || *s != '$')
				return (*error_r = "malformed SHA-crypt rounds"), -1;
			if (rounds > SHACRYPT_ROUNDS_MAX)
				return (*error_r = "SHA-crypt rounds too expensive (at most "
						   "1000000)"), -1;
		}
		return 0;
	}
	if (has_prefix(h, "$2y$") || has_prefix(h, "$2b$") || has_prefix(h, "$2a$")) {
		const char *s = h + 4;
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != '$')
			return (*error_r = "malformed bcrypt cost"), -1;
		if ((s[0] - '0') * 10 + (s[1] - '0') > BCRYPT_COST_MAX)
			return (*error_r = "bcrypt cost too expensive (at most 14)"), -1;
		return 0;
	}
	if (has_prefix(h, "$y$"))
		return yescrypt_cost_ok(h + 3, error_r);
	if (has_prefix(h, "$gy$"))
		return yescrypt_cost_ok(h + 4, error_r);
	if (has_prefix(h, "$7$"))
		return scrypt_cost_ok(h + 3, error_r);
	return (*error_r = "unsupported crypt method (postern accepts yescrypt, scrypt, "
			   "bcrypt, SHA-crypt and argon2)"), -1;
}

static int
crypt_usable(const char *h, const char **error_r)
{
	static const char *const methods[] = {"$6$", "$5$", "$2y$", "$2b$", "$2a$",
					      "$y$", "$gy$", "$7$"};
	int salt_status = crypt_checksalt(h);

	for (size_t i = 0; i < N_ELEMENTS(methods); i++) {
		if (!has_prefix(h, methods[i]))
			continue;
		/* libxcrypt calls SHA256-crypt legacy; Dovecot does not, and
		 * neither does postern: only validity counts for these. */
		if (salt_status == CRYPT_SALT_INVALID)
			return (*error_r = "not a valid crypt hash"), -1;
		return crypt_cost_ok(h, error_r);
	}
	if (h[0] != '$' && h[0] != '_') {
		/* Traditional DES crypt is exactly 13 characters; anything
		 * else without a method prefix is not a hash at all. */
		bool des = strlen(h) == 13;
		for (const char *c = h; des && *c != '\0'; c++)
			des = atoi64(*c) >= 0;
		if (!des)
			return (*error_r = "not a password hash (expected {SCHEME}hash or a "
					   "crypt string such as $6$...)"), -1;
	}
	if (salt_status == CRYPT_SALT_METHOD_LEGACY)
		return (*error_r = "weak crypt method (DES, MD5-crypt, SHA1-crypt, NT and the "
				   "like are refused; set a new password instead)"), -1;
	return (*error_r = "not a crypt hash postern accepts (yescrypt, scrypt, bcrypt, "
			   "SHA-crypt or argon2)"), -1;
}

/* crypt(password, h) into a fresh struct crypt_data; returns the result
 * (inside *data_r, which the caller wipes and frees) or NULL. */
static const char *
run_crypt(const char *password, const char *h, struct crypt_data **data_r)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *out = crypt_rn(password, h, data, (int)sizeof(*data));

	*data_r = data;
	if (out == NULL || out[0] == '*')
		return NULL;
	return out;
}

static void
wipe_crypt(struct crypt_data **data)
{
	explicit_bzero(*data, sizeof(**data));
	free(*data);
	*data = NULL;
}

static int
crypt_check(const char *password, const char *h, const char **error_r)
{
	struct crypt_data *data;
	int ret;

	if (crypt_usable(h, error_r) < 0)
		return -1;
	const char *out = run_crypt(password, h, &data);
	size_t hlen = strlen(h);
	if (out == NULL) {
		*error_r = "crypt() cannot use this hash";
		ret = -1;
	} else {
		ret = strlen(out) == hlen && CRYPTO_memcmp(out, h, hlen) == 0 ? 1 : 0;
	}
	wipe_crypt(&data);
	return ret;
}

/* ---- public API ---- */

int
password_hash_cost(const char *password, const struct password_cost *cost, struct buf *out,
		   const char **error_r)
{
	uint8_t salt[ARGON2_SALT_LEN];
	size_t len = strnlen(password, PASSWORD_MAX + 1), got = 0;

	if (len == 0)
		return (*error_r = "empty password"), -1;
	if (len > PASSWORD_MAX)
		return (*error_r = "password longer than 1024 bytes"), -1;
	if (cost->m_kib > ARGON2_M_MAX || cost->t > ARGON2_T_MAX || cost->p > ARGON2_P_MAX ||
	    cost->t < 1 || cost->p < 1 || cost->m_kib < 8 * cost->p)
		return (*error_r = "argon2 cost out of range"), -1;
	while (got < sizeof(salt)) {
		ssize_t n = getrandom(salt + got, sizeof(salt) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (*error_r = errorf("getrandom: %s", strerror(errno))), -1;
		got += (size_t)n;
	}
	size_t enclen = argon2_encodedlen(cost->t, cost->m_kib, cost->p, sizeof(salt),
					  ARGON2_HASH_LEN, Argon2_id);
	char *enc = xmalloc(enclen);
	int rc = argon2id_hash_encoded(cost->t, cost->m_kib, cost->p, password, len, salt,
				       sizeof(salt), ARGON2_HASH_LEN, enc, enclen);
	explicit_bzero(salt, sizeof(salt));
	if (rc != ARGON2_OK) {
		free(enc);
		return (*error_r = argon2_error_message(rc)), -1;
	}
	size_t start = out->len;
	if (buf_add_str(out, "{ARGON2ID}") < 0 || buf_add_str(out, enc) < 0) {
		buf_set_len(out, start);
		free(enc);
		return (*error_r = "password hash does not fit in the buffer"), -1;
	}
	free(enc);
	return 0;
}

int
password_hash(const char *password, struct buf *out, const char **error_r)
{
	return password_hash_cost(password, &password_default_cost, out, error_r);
}

int
password_verify(const char *password, const char *stored, const char **error_r)
{
	struct parsed p;

	if (parse_scheme(stored, &p, error_r) < 0)
		return -1;
	if (strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
		return 0;
	switch (p.scheme->kind) {
	case KIND_ARGON2ID:
	case KIND_ARGON2I:
		return argon2_check(password, p.hash, error_r);
	case KIND_CRYPT:
		return crypt_check(password, p.hash, error_r);
	}
	panic("password: bad scheme kind %d", p.scheme->kind);
}

int
password_import(const char *hash, struct buf *out, const char **error_r)
{
	struct parsed p;
	struct argon2_info ai;

	if (parse_scheme(hash, &p, error_r) < 0)
		return -1;
	if (p.scheme->kind == KIND_CRYPT) {
		/* Beyond the prefix and cost: crypt() of anything with this hash
		 * as setting must give a string of the same shape, which checks
		 * the salt and the length and alphabet of the hash value. */
		struct crypt_data *data;
		if (crypt_usable(p.hash, error_r) < 0)
			return -1;
		const char *out_hash = run_crypt("", p.hash, &data);
		const char *last = strrchr(p.hash, '$');
		bool ok = out_hash != NULL && last != NULL && last[1] != '\0' &&
			  strlen(out_hash) == strlen(p.hash) &&
			  memcmp(out_hash, p.hash, (size_t)(last - p.hash + 1)) == 0;
		for (const char *c = last != NULL ? last + 1 : ""; ok && *c != '\0'; c++)
			ok = atoi64(*c) >= 0;
		wipe_crypt(&data);
		if (!ok)
			return (*error_r = "malformed crypt hash (wrong salt or hash length)"), -1;
	} else if (argon2_parse(p.hash, &ai, error_r) < 0) {
		return -1;
	} else if ((p.scheme->kind == KIND_ARGON2ID) != (ai.type == Argon2_id)) {
		return (*error_r = "argon2 variant does not match the scheme"), -1;
	}
	size_t start = out->len;
	if (buf_printf(out, "{%s}%s", p.scheme->name, p.hash) < 0) {
		buf_set_len(out, start);
		return (*error_r = "password hash does not fit in the buffer"), -1;
	}
	return 0;
}

bool
password_needs_rehash(const char *stored)
{
	struct parsed p;
	struct argon2_info ai;
	const char *error;

	if (parse_scheme(stored, &p, &error) < 0 || p.scheme->kind != KIND_ARGON2ID ||
	    argon2_parse(p.hash, &ai, &error) < 0)
		return true;
	return ai.m < password_default_cost.m_kib || ai.t < password_default_cost.t;
}

const char *
password_dummy_hash(void)
{
	return dummy_hash;
}
