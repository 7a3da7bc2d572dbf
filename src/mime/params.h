/* params.h - Content-Type and Content-Disposition (RFC 2045, 2183, 2231).
 *
 * Parses "type/subtype; name=value; ..." (Content-Disposition: "type;
 * name=value ...") from a header value (raw or unfolded; line breaks are
 * whitespace). Comments are skipped where RFC 822 allows them. The type,
 * subtype and parameter names are lower-cased. Values are quoted strings
 * (backslash escapes removed; an unterminated one runs to the end) or, being
 * lenient as mailers must be, everything up to the next ';' with runs of
 * whitespace and comments between words made one space ("name=a b.pdf").
 *
 * RFC 2231: "name*=charset'lang'%XX..." and continuations "name*0",
 * "name*1*", ... are joined from section 0 up to the first missing section
 * (at most MIME_PARAM_SECTIONS_MAX); sections marked '*' are percent-decoded
 * and the bytes converted from the charset of the first section to UTF-8
 * (charset.h; no or unknown charset: taken as UTF-8), CR, LF and NUL made
 * spaces. Such a parameter is
 * given once, under its plain name, with extended set; it wins over a plain
 * "name=" of the same name (Outlook sends both). Otherwise the first of
 * duplicate parameters wins. Values are not RFC 2047 decoded (BODYSTRUCTURE
 * sends them as written); mime_param_decode() gives the display form.
 *
 * Limits: MIME_PARAMS_MAX parameters (sections counted), MIME_PARAM_VALUE_MAX
 * bytes per joined value, MIME_TOKEN_MAX bytes per type, subtype or name;
 * beyond them parameters are dropped or values cut, with a flag.
 */
#ifndef POSTERN_MIME_PARAMS_H
#define POSTERN_MIME_PARAMS_H

#include "lib/common.h"

#include "lib/buf.h"

#define MIME_PARAMS_MAX 128
#define MIME_PARAM_SECTIONS_MAX 100
#define MIME_PARAM_VALUE_MAX 8192
#define MIME_TOKEN_MAX 128

enum mime_content_flags {
	MIME_CONTENT_F_DEFAULTED = 1 << 0,    /* no usable type: the defaults were used */
	MIME_CONTENT_F_BAD_SYNTAX = 1 << 1,   /* garbage was skipped */
	MIME_CONTENT_F_TOO_MANY = 1 << 2,     /* parameters past MIME_PARAMS_MAX dropped */
	MIME_CONTENT_F_VALUE_CUT = 1 << 3,    /* a value cut at MIME_PARAM_VALUE_MAX */
	MIME_CONTENT_F_BAD_SECTIONS = 1 << 4, /* RFC 2231 sections missing or repeated */
};

struct mime_param {
	char *name;  /* lower-case, without RFC 2231 markers */
	char *value; /* NUL-terminated (may contain NULs) */
	size_t value_len;
	bool extended;	/* RFC 2231 encoded: value is UTF-8 */
	char *charset;	/* extended: as declared (may be ""), else NULL */
	char *language; /* extended: as declared (may be ""), else NULL */
};

struct mime_content {
	char *type;    /* lower-case; NULL for a Content-Disposition without one */
	char *subtype; /* lower-case; NULL for Content-Disposition */
	struct mime_param *params;
	size_t nparams;
	unsigned int flags; /* enum mime_content_flags */
};

/* Parse a Content-Type value; value NULL means the field is absent. When
 * the type or subtype is missing or not a token, the type is text/plain
 * (RFC 2045 5.2) and the parameters are still parsed; when additionally no
 * charset is given, a "charset=us-ascii" parameter is added. Never fails:
 * returns 0 with *ct_r filled, to be freed with mime_content_clear(). */
int mime_content_type_parse(const char *value, size_t len, struct mime_content *ct_r);
/* Parse a Content-Disposition value (RFC 2183); type is NULL when absent or
 * invalid. Never fails: returns 0 with *cd_r filled. */
int mime_content_disposition_parse(const char *value, size_t len, struct mime_content *cd_r);
void mime_content_clear(struct mime_content *c);

/* The parameter named name (lower-case), or NULL. */
const struct mime_param *mime_content_param(const struct mime_content *c, const char *name);
/* Append p's value for display to dst as UTF-8: an extended value as it
 * is, any other through rfc2047_decode() (Outlook and others put encoded
 * words in quoted filenames). Returns 0, or -1 when dst would pass dst->max
 * (dst unchanged). */
int mime_param_decode(const struct mime_param *p, struct buf *dst) ATTR_NODISCARD;
/* The charset of a text part: the charset parameter, else "us-ascii" for
 * type text, else NULL. Points into c or to a static string. */
const char *mime_content_charset(const struct mime_content *c);
/* True when c's type is type (and subtype, unless NULL), lower-case. */
bool mime_content_is(const struct mime_content *c, const char *type, const char *subtype);

#endif
