/* pop3_cmd.c - POP3 command lines. */
#include "lib/common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pop3/pop3_cmd.h"

static const struct {
	const char *name;
	enum pop3_verb verb;
} verbs[] = {
	{"CAPA", POP3_CAPA}, {"QUIT", POP3_QUIT}, {"NOOP", POP3_NOOP}, {"USER", POP3_USER},
	{"PASS", POP3_PASS}, {"APOP", POP3_APOP}, {"AUTH", POP3_AUTH}, {"STLS", POP3_STLS},
	{"STAT", POP3_STAT}, {"LIST", POP3_LIST}, {"RETR", POP3_RETR}, {"DELE", POP3_DELE},
	{"RSET", POP3_RSET}, {"TOP", POP3_TOP},   {"UIDL", POP3_UIDL}, {"LAST", POP3_LAST},
};

int
pop3_cmd_parse(char *line, struct pop3_cmd *cmd_r)
{
	size_t n = 0;

	for (const char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	while (line[n] != '\0' && line[n] != ' ')
		n++;
	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= 'A' && line[i] <= 'Z')))
			return -1;
	cmd_r->arg = line[n] == ' ' ? line + n + 1 : NULL;
	line[n] = '\0';
	cmd_r->name = line;
	cmd_r->verb = POP3_UNKNOWN;
	for (size_t i = 0; i < N_ELEMENTS(verbs); i++)
		if (ascii_ci_equal(line, n, verbs[i].name))
			cmd_r->verb = verbs[i].verb;
	return 0;
}

int
pop3_msgnum(const char *arg, size_t max, size_t *n_r, const char **rest_r)
{
	size_t n = 0;
	const char *p = arg;

	if (arg == NULL || *p < '1' || *p > '9')
		return -1;
	for (; ascii_is_digit((unsigned char)*p); p++) {
		if (n > (SIZE_MAX - 9) / 10)
			return -1;
		n = n * 10 + (size_t)(*p - '0');
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	if (rest_r != NULL)
		*rest_r = *p == ' ' ? p + 1 : NULL;
	else if (*p != '\0')
		return -1;
	*n_r = n;
	return n <= max ? 1 : 0;
}

int
pop3_apop_digest(const char *timestamp, const char *secret, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
		 EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 16;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

bool
pop3_apop_match(const char *ours, const char *theirs)
{
	char lower[33];

	if (strlen(theirs) != 32)
		return false;
	for (int i = 0; i < 32; i++)
		lower[i] = (char)ascii_tolower((unsigned char)theirs[i]);
	lower[32] = '\0';
	return CRYPTO_memcmp(ours, lower, 32) == 0;
}
