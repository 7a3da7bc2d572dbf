/* params.c - Content-Type / Content-Disposition parsing (see params.h). */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/charset.h"
#include "mime/params.h"
#include "mime/rfc2047.h"

struct cursor {
	const unsigned char *p;
	size_t n, i;
};

/* One name=value as written, before RFC 2231 assembly. */
struct raw_param {
	char *name; /* lower-case, markers removed */
	struct buf value;
	int section; /* -1: none */
	bool star;   /* percent-encoded */
	bool used;
};

static bool
is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

static bool
is_token_char(unsigned char c)
{
	/* 8-bit bytes are accepted: they occur and harm nothing here. */
	return c > ' ' && c != 0x7f && !is_tspecial(c);
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip whitespace and comments; true when any was skipped. */
static bool
skip_cfws(struct cursor *c)
{
	size_t start = c->i;

	while (c->i < c->n) {
		if (is_space(c->p[c->i])) {
			c->i++;
		} else if (c->p[c->i] == '(') {
			size_t depth = 0;

			for (; c->i < c->n; c->i++) {
				unsigned char ch = c->p[c->i];

				if (ch == '\\' && c->i + 1 < c->n) {
					c->i++;
				} else if (ch == '(') {
					depth++;
				} else if (ch == ')' && --depth == 0) {
					c->i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return c->i > start;
}

/* A lower-cased token of at most MIME_TOKEN_MAX bytes, or NULL. */
static char *
read_token(struct cursor *c)
{
	size_t start = c->i, k;
	char *t;

	while (c->i < c->n && is_token_char(c->p[c->i]))
		c->i++;
	if (c->i == start || c->i - start > MIME_TOKEN_MAX)
		return NULL;
	t = xstrndup((const char *)c->p + start, c->i - start);
	for (k = 0; t[k] != '\0'; k++)
		t[k] = (char)ascii_tolower((unsigned char)t[k]);
	return t;
}

/* Skip to just after the next ';' (or the end). */
static void
skip_to_semicolon(struct cursor *c)
{
	while (c->i < c->n && c->p[c->i] != ';')
		c->i++;
	if (c->i < c->n)
		c->i++;
}

/* Append as much of src[n] as fits under v->max. */
static void
add_capped(struct buf *v, const void *src, size_t n, bool *cut)
{
	size_t room = v->max - v->len;

	if (n > room) {
		n = room;
		*cut = true;
	}
	if (buf_add(v, src, n) < 0)
		*cut = true;
}

/* A value into v (capped by v->max); *cut set when bytes were lost. */
static void
read_value(struct cursor *c, struct buf *v, bool *cut)
{
	if (c->i < c->n && c->p[c->i] == '"') {
		for (c->i++; c->i < c->n && c->p[c->i] != '"'; c->i++) {
			unsigned char ch = c->p[c->i];

			if (ch == '\\' && c->i + 1 < c->n)
				ch = c->p[++c->i];
			/* Line breaks are folding, escaped or not. */
			if (ch == '\r' || ch == '\n')
				continue;
			if (buf_add_char(v, (char)ch) < 0)
				*cut = true;
		}
		if (c->i < c->n)
			c->i++;
		return;
	}
	for (;;) {
		size_t start = c->i;

		while (c->i < c->n && c->p[c->i] != ';' && c->p[c->i] != '(' &&
		       !is_space(c->p[c->i]))
			c->i++;
		add_capped(v, c->p + start, c->i - start, cut);
		skip_cfws(c);
		if (c->i >= c->n || c->p[c->i] == ';')
			return;
		if (buf_add_char(v, ' ') < 0)
			*cut = true;
	}
}

/* Split "name*N*" into its base, section and star. */
static void
split_name(struct raw_param *rp, char *name)
{
	size_t len = strlen(name);
	char *star;

	rp->section = -1;
	rp->star = false;
	rp->name = name;
	/* "*" or "*0": no name left without the markers, so none are. */
	if (name[0] == '*')
		return;
	if (len > 0 && name[len - 1] == '*') {
		rp->star = true;
		name[--len] = '\0';
	}
	star = strchr(name, '*');
	if (star != NULL && star[1] != '\0' && strspn(star + 1, "0123456789") == strlen(star + 1) &&
	    strlen(star + 1) <= 3 && (star[1] != '0' || star[2] == '\0')) {
		rp->section = atoi(star + 1);
		*star = '\0';
	}
	rp->name = name;
}

static struct mime_param *
add_param(struct mime_content *ct, const char *name)
{
	struct mime_param *p;

	ct->params = xreallocarray(ct->params, ct->nparams + 1, sizeof(*ct->params));
	p = &ct->params[ct->nparams++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	return p;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
percent_decode(struct buf *dst, const char *s, size_t n, bool *cut)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			ch = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
					     hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		if (buf_add_char(dst, (char)ch) < 0)
			*cut = true;
	}
}

/* Assemble the RFC 2231 sections of raw[first]'s name. */
static void
assemble_extended(struct mime_content *ct, struct raw_param *raw, size_t nraw, size_t first)
{
	const char *name = raw[first].name;
	struct raw_param *sec[MIME_PARAM_SECTIONS_MAX] = {NULL};
	struct raw_param *single = NULL;
	struct buf bytes, out;
	struct mime_param *p;
	bool cut = false, any_star = false;
	size_t i, nsec = 0;
	const char *charset = "";
	char *cs = NULL, *lang = NULL;

	for (i = first; i < nraw; i++) {
		if (raw[i].used || strcmp(raw[i].name, name) != 0)
			continue;
		if (raw[i].section < 0 && !raw[i].star)
			continue; /* the plain name= */
		raw[i].used = true;
		if (raw[i].section < 0) {
			if (single == NULL)
				single = &raw[i];
		} else if (raw[i].section >= MIME_PARAM_SECTIONS_MAX ||
			   sec[raw[i].section] != NULL) {
			ct->flags |= MIME_CONTENT_F_BAD_SECTIONS;
		} else {
			sec[raw[i].section] = &raw[i];
		}
	}
	if (sec[0] != NULL) {
		while (nsec < MIME_PARAM_SECTIONS_MAX && sec[nsec] != NULL)
			nsec++;
		for (i = nsec; i < MIME_PARAM_SECTIONS_MAX; i++) {
			if (sec[i] != NULL)
				ct->flags |= MIME_CONTENT_F_BAD_SECTIONS;
		}
	} else if (single != NULL) {
		sec[0] = single;
		nsec = 1;
	} else {
		ct->flags |= MIME_CONTENT_F_BAD_SECTIONS;
		return;
	}
	for (i = 0; i < nsec; i++)
		any_star = any_star || sec[i]->star;

	buf_init(&bytes, MIME_PARAM_VALUE_MAX);
	for (i = 0; i < nsec; i++) {
		const char *v = buf_cstr(&sec[i]->value);
		size_t vlen = sec[i]->value.len;

		if (i == 0 && sec[0]->star) {
			const char *q1 = memchr(v, '\'', vlen), *q2 = NULL;

			if (q1 != NULL)
				q2 = memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v));
			if (q2 != NULL) {
				cs = xstrndup(v, (size_t)(q1 - v));
				lang = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
				vlen -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		if (sec[i]->star)
			percent_decode(&bytes, v, vlen, &cut);
		else
			add_capped(&bytes, v, vlen, &cut);
	}
	p = add_param(ct, name);
	if (any_star) {
		charset = cs != NULL ? cs : "";
		/* The input is at most MIME_PARAM_VALUE_MAX bytes, so the
		 * output is bounded by the charset's expansion; it is then cut
		 * at a character boundary. */
		buf_init(&out, BUF_UNLIMITED);
		if (mime_charset_to_utf8(&out, charset[0] != '\0' ? charset : "utf-8",
					 buf_cstr(&bytes), bytes.len) < 0)
			panic("params: unlimited conversion failed");
		if (out.len > MIME_PARAM_VALUE_MAX) {
			size_t k = MIME_PARAM_VALUE_MAX;

			while (k > 0 && ((unsigned char)out.data[k] & 0xc0) == 0x80)
				k--;
			buf_set_len(&out, k);
			cut = true;
		}
		/* As for encoded words: a decoded value breaks no line. */
		for (size_t k = 0; k < out.len; k++) {
			if (out.data[k] == '\r' || out.data[k] == '\n' || out.data[k] == '\0')
				out.data[k] = ' ';
		}
		p->extended = true;
		p->charset = cs != NULL ? cs : xstrdup("");
		p->language = lang != NULL ? lang : xstrdup("");
		p->value_len = out.len;
		p->value = buf_steal(&out);
		buf_release(&out);
	} else {
		free(cs);
		free(lang);
		p->value_len = bytes.len;
		p->value = buf_steal(&bytes);
	}
	buf_release(&bytes);
	if (cut)
		ct->flags |= MIME_CONTENT_F_VALUE_CUT;
}

static void
parse_params(struct mime_content *ct, struct cursor *c)
{
	struct raw_param raw[MIME_PARAMS_MAX];
	size_t nraw = 0, i;

	while (c->i < c->n) {
		char *name;
		bool cut = false;

		skip_cfws(c);
		if (c->i >= c->n)
			break;
		if (c->p[c->i] == ';') {
			c->i++;
			continue;
		}
		name = read_token(c);
		skip_cfws(c);
		if (name == NULL || c->i >= c->n || c->p[c->i] != '=') {
			free(name);
			ct->flags |= MIME_CONTENT_F_BAD_SYNTAX;
			skip_to_semicolon(c);
			continue;
		}
		c->i++;
		skip_cfws(c);
		if (nraw == MIME_PARAMS_MAX) {
			free(name);
			ct->flags |= MIME_CONTENT_F_TOO_MANY;
			skip_to_semicolon(c);
			continue;
		}
		split_name(&raw[nraw], name);
		raw[nraw].used = false;
		buf_init(&raw[nraw].value, MIME_PARAM_VALUE_MAX);
		read_value(c, &raw[nraw].value, &cut);
		if (cut)
			ct->flags |= MIME_CONTENT_F_VALUE_CUT;
		nraw++;
		skip_cfws(c);
		if (c->i < c->n && c->p[c->i] != ';')
			ct->flags |= MIME_CONTENT_F_BAD_SYNTAX;
		skip_to_semicolon(c);
	}

	/* RFC 2231 parameters first claim their sections (and win over a
	 * plain parameter of the same name), in order of first appearance. */
	for (i = 0; i < nraw; i++) {
		if (!raw[i].used && (raw[i].section >= 0 || raw[i].star))
			assemble_extended(ct, raw, nraw, i);
	}
	for (i = 0; i < nraw; i++) {
		struct mime_param *p;

		if (raw[i].used)
			continue;
		raw[i].used = true;
		if (mime_content_param(ct, raw[i].name) != NULL)
			continue;
		p = add_param(ct, raw[i].name);
		p->value_len = raw[i].value.len;
		p->value = buf_steal(&raw[i].value);
	}
	for (i = 0; i < nraw; i++) {
		free(raw[i].name);
		buf_release(&raw[i].value);
	}
}

int
mime_content_type_parse(const char *value, size_t len, struct mime_content *ct_r)
{
	struct cursor c = {.p = (const unsigned char *)value, .n = value != NULL ? len : 0};

	memset(ct_r, 0, sizeof(*ct_r));
	skip_cfws(&c);
	ct_r->type = read_token(&c);
	skip_cfws(&c);
	if (ct_r->type != NULL && c.i < c.n && c.p[c.i] == '/') {
		c.i++;
		skip_cfws(&c);
		ct_r->subtype = read_token(&c);
	}
	if (ct_r->subtype == NULL) {
		free(ct_r->type);
		ct_r->type = xstrdup("text");
		ct_r->subtype = xstrdup("plain");
		ct_r->flags |= MIME_CONTENT_F_DEFAULTED;
		if (value != NULL)
			ct_r->flags |= MIME_CONTENT_F_BAD_SYNTAX;
	}
	skip_cfws(&c);
	if (c.i < c.n && c.p[c.i] != ';')
		ct_r->flags |= MIME_CONTENT_F_BAD_SYNTAX;
	skip_to_semicolon(&c);
	parse_params(ct_r, &c);
	if ((ct_r->flags & MIME_CONTENT_F_DEFAULTED) != 0 &&
	    mime_content_param(ct_r, "charset") == NULL) {
		struct mime_param *p = add_param(ct_r, "charset");

		p->value = xstrdup("us-ascii");
		p->value_len = strlen(p->value);
	}
	return 0;
}

int
mime_content_disposition_parse(const char *value, size_t len, struct mime_content *cd_r)
{
	struct cursor c = {.p = (const unsigned char *)value, .n = value != NULL ? len : 0};

	memset(cd_r, 0, sizeof(*cd_r));
	skip_cfws(&c);
	cd_r->type = read_token(&c);
	skip_cfws(&c);
	if (cd_r->type == NULL || (c.i < c.n && c.p[c.i] != ';'))
		cd_r->flags |= MIME_CONTENT_F_BAD_SYNTAX;
	skip_to_semicolon(&c);
	parse_params(cd_r, &c);
	return 0;
}

void
mime_content_clear(struct mime_content *c)
{
	size_t i;

	for (i = 0; i < c->nparams; i++) {
		free(c->params[i].name);
		free(c->params[i].value);
		free(c->params[i].charset);
		free(c->params[i].language);
	}
	free(c->params);
	free(c->type);
	free(c->subtype);
	memset(c, 0, sizeof(*c));
}

const struct mime_param *
mime_content_param(const struct mime_content *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nparams; i++) {
		if (strcmp(c->params[i].name, name) == 0)
			return &c->params[i];
	}
	return NULL;
}

const char *
mime_content_charset(const struct mime_content *c)
{
	const struct mime_param *p = mime_content_param(c, "charset");

	if (p != NULL && p->value_len > 0)
		return p->value;
	if (c->type != NULL && strcmp(c->type, "text") == 0)
		return "us-ascii";
	return NULL;
}

bool
mime_content_is(const struct mime_content *c, const char *type, const char *subtype)
{
	if (c->type == NULL || strcmp(c->type, type) != 0)
		return false;
	return subtype == NULL || (c->subtype != NULL && strcmp(c->subtype, subtype) == 0);
}

int
mime_param_decode(const struct mime_param *p, struct buf *dst)
{
	if (p->extended)
		return buf_add(dst, p->value, p->value_len);
	return rfc2047_decode(dst, p->value, p->value_len);
}
