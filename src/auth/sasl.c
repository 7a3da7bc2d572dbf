/* sasl.c - PLAIN and LOGIN, server side. */
#include "lib/common.h"

#include <openssl/crypto.h>

#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/xalloc.h"

enum mech { MECH_PLAIN, MECH_LOGIN };

struct sasl_exchange {
	enum mech mech;
	unsigned step; /* responses received so far */
	char authzid[SASL_FIELD_MAX + 1];
	char authcid[SASL_FIELD_MAX + 1];
	char password[SASL_FIELD_MAX + 1];
};

const char *
sasl_mechanisms(void)
{
	return "PLAIN LOGIN";
}

struct sasl_exchange *
sasl_new(const char *mech)
{
	enum mech m;

	if (strcasecmp(mech, "PLAIN") == 0)
		m = MECH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		m = MECH_LOGIN;
	else
		return NULL;
	struct sasl_exchange *ex = xcalloc(1, sizeof(*ex));
	ex->mech = m;
	return ex;
}

void
sasl_free(struct sasl_exchange **exp)
{
	if (*exp == NULL)
		return;
	OPENSSL_cleanse(*exp, sizeof(**exp));
	free(*exp);
	*exp = NULL;
}

/* Copy a field that must be valid UTF-8 without NUL, at most
 * SASL_FIELD_MAX octets. */
static int
take_field(char *dst, const char *src, size_t len, const char **error_r)
{
	if (len > SASL_FIELD_MAX) {
		*error_r = "field longer than 255 octets";
		return -1;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)src[i];
		size_t n = c < 0x80		? 1
			   : (c & 0xe0) == 0xc0 ? 2
			   : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4
						: 0;
		if (c == 0 || n == 0 || i + n > len || (n == 2 && c < 0xc2) ||
		    (n == 4 && c > 0xf4)) {
			*error_r = "field is not valid UTF-8";
			return -1;
		}
		for (size_t k = 1; k < n; k++)
			if (((unsigned char)src[i + k] & 0xc0) != 0x80) {
				*error_r = "field is not valid UTF-8";
				return -1;
			}
		/* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
		unsigned char c1 = n > 1 ? (unsigned char)src[i + 1] : 0;
		if ((n == 3 && c == 0xe0 && c1 < 0xa0) || (n == 3 && c == 0xed && c1 >= 0xa0) ||
		    (n == 4 && c == 0xf0 && c1 < 0x90) || (n == 4 && c == 0xf4 && c1 >= 0x90)) {
			*error_r = "field is not valid UTF-8";
			return -1;
		}
		i += n;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int
decode(const char *response, struct buf *out, const char **error_r)
{
	buf_reset(out);
	if (strcmp(response, "=") == 0)
		return 0;
	if (base64_decode_strict(out, response, strlen(response), error_r) < 0) {
		*error_r = "invalid base64";
		return -1;
	}
	return 0;
}

static enum sasl_result
plain_step(struct sasl_exchange *ex, const char *response, struct buf *challenge,
	   const char **error_r)
{
	struct buf msg;

	if (response == NULL) {
		/* No initial response: an empty challenge asks for it. */
		if (ex->step++ > 0) {
			*error_r = "response expected";
			return SASL_FAIL;
		}
		return SASL_CONTINUE;
	}
	buf_init(&msg, 3 * (SASL_FIELD_MAX + 1));
	enum sasl_result r = SASL_FAIL;
	if (decode(response, &msg, error_r) < 0)
		goto out;
	/* authzid NUL authcid NUL passwd */
	const char *p = buf_cstr(&msg), *end = p + msg.len;
	const char *nul1 = memchr(p, '\0', msg.len);
	const char *nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
	if (nul2 == NULL) {
		*error_r = "malformed PLAIN message";
		goto out;
	}
	if (take_field(ex->authzid, p, (size_t)(nul1 - p), error_r) < 0 ||
	    take_field(ex->authcid, nul1 + 1, (size_t)(nul2 - nul1 - 1), error_r) < 0 ||
	    take_field(ex->password, nul2 + 1, (size_t)(end - nul2 - 1), error_r) < 0)
		goto out;
	if (ex->authcid[0] == '\0' || ex->password[0] == '\0') {
		*error_r = "empty user name or password";
		goto out;
	}
	r = SASL_DONE;
out:
	if (msg.data != NULL)
		OPENSSL_cleanse(msg.data, msg.len);
	buf_release(&msg);
	return r;
}

static enum sasl_result
login_step(struct sasl_exchange *ex, const char *response, struct buf *challenge,
	   const char **error_r)
{
	struct buf field;
	enum sasl_result r = SASL_FAIL;

	buf_init(&field, SASL_FIELD_MAX + 1);
	if (response == NULL) {
		/* No initial response: ask for the user name. */
		if (ex->step != 0) {
			*error_r = "response expected";
			goto out;
		}
		ex->step = 1;
		r = buf_add_str(challenge, "Username:") < 0 ? SASL_FAIL : SASL_CONTINUE;
		goto out;
	}
	if (decode(response, &field, error_r) < 0)
		goto out;
	switch (ex->step) {
	case 0: /* initial response: the user name */
	case 1:
		if (take_field(ex->authcid, buf_cstr(&field), field.len, error_r) < 0)
			goto out;
		if (ex->authcid[0] == '\0') {
			*error_r = "empty user name";
			goto out;
		}
		ex->step = 2;
		r = buf_add_str(challenge, "Password:") < 0 ? SASL_FAIL : SASL_CONTINUE;
		break;
	case 2:
		if (take_field(ex->password, buf_cstr(&field), field.len, error_r) < 0)
			goto out;
		if (ex->password[0] == '\0') {
			*error_r = "empty password";
			goto out;
		}
		ex->step = 3;
		r = SASL_DONE;
		break;
	default:
		*error_r = "exchange already complete";
		break;
	}
out:
	if (field.data != NULL)
		OPENSSL_cleanse(field.data, field.len);
	buf_release(&field);
	return r;
}

enum sasl_result
sasl_step(struct sasl_exchange *ex, const char *response, struct buf *challenge,
	  const char **error_r)
{
	buf_reset(challenge);
	switch (ex->mech) {
	case MECH_PLAIN:
		return plain_step(ex, response, challenge, error_r);
	case MECH_LOGIN:
		return login_step(ex, response, challenge, error_r);
	}
	panic("sasl: bad mechanism %d", ex->mech);
}

const char *
sasl_authcid(const struct sasl_exchange *ex)
{
	return ex->authcid;
}

const char *
sasl_authzid(const struct sasl_exchange *ex)
{
	return ex->authzid;
}

const char *
sasl_password(const struct sasl_exchange *ex)
{
	return ex->password;
}

enum sasl_result
sasl_next(struct sasl_exchange *ex, const char *response, struct buf *b64, const char **error_r)
{
	struct buf challenge;
	enum sasl_result r;

	buf_init(&challenge, 1024);
	buf_reset(b64);
	r = sasl_step(ex, response, &challenge, error_r);
	if (r == SASL_CONTINUE && base64_encode(b64, challenge.data, challenge.len, 0) < 0)
		panic("sasl: challenge does not fit");
	if (r == SASL_DONE && sasl_authzid(ex)[0] != '\0' &&
	    strcasecmp(sasl_authzid(ex), sasl_authcid(ex)) != 0)
		r = SASL_DENIED;
	buf_release(&challenge);
	return r;
}
