/* bodystructure.c - IMAP BODY / BODYSTRUCTURE and the per-message cache
 * (see bodystructure.h and docs/mime.md). */
#include "lib/common.h"

#include "imap/imap_string.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/bodystructure.h"
#include "mime/envelope.h"
#include "mime/header.h"
#include "mime/part.h"

/* Parameters kept per Content-Type or Content-Disposition field; past it
 * they are dropped (a header holds few; this bounds the sort). */
#define BS_PARAMS_MAX 256

#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

/* A scanner over a header value with the token rules clients and Dovecot
 * share (RFC 2045 token, quoted string, comments as white space). */
struct scan {
	const unsigned char *p, *end;
};

struct param {
	char *key;
	char *value; /* NUL-terminated; cut at a NUL of the input */
	unsigned int idx;
	bool extended;
	size_t order;
};

struct plist {
	struct param *v;
	size_t n;
};

/* The Content-* fields of one part, as BODYSTRUCTURE sends them. */
struct cdata {
	bool has_type, has_subtype, type_ok;
	struct buf type, subtype;
	struct plist tparams;
	bool has_disp;
	struct buf disp;
	struct plist dparams;
	bool has_enc;
	struct buf enc;
	const struct mime_header_field *id, *md5, *desc, *loc, *lang;
};

static void
sadd(struct buf *b, const void *p, size_t n)
{
	/* Scratch buffers are unlimited and their input is a header value. */
	if (buf_add(b, p, n) < 0)
		panic("bodystructure: scratch buffer refused %zu bytes", n);
}

/* Bytes allowed in a MIME token: atext without '/', '=', '?', plus '.';
 * 8-bit bytes are accepted as mailers send them. */
static bool
is_token_char(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\".[]", c) == NULL;
}

/* Skip a comment at s->p ('('). -1 when unterminated, else 0/1 for end/more. */
static int
skip_comment(struct scan *s)
{
	int level = 1;

	for (s->p++; s->p < s->end; s->p++) {
		if (*s->p == '(') {
			level++;
		} else if (*s->p == ')') {
			if (--level == 0) {
				s->p++;
				return s->p < s->end;
			}
		} else if (*s->p == '\\') {
			if (++s->p == s->end)
				return -1;
		}
	}
	return -1;
}

/* Skip white space and comments: -1 bad comment, 0 at the end, 1 more. */
static int
skip_lwsp(struct scan *s)
{
	while (s->p < s->end) {
		if (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n') {
			s->p++;
			continue;
		}
		if (*s->p != '(')
			break;
		if (skip_comment(s) < 0)
			return -1;
	}
	return s->p < s->end;
}

/* A token (possibly empty) appended to out, then white space skipped. */
static int
scan_token(struct scan *s, struct buf *out, bool (*ok)(unsigned char))
{
	const unsigned char *start = s->p;

	while (s->p < s->end && (ok(*s->p) || *s->p == '.'))
		s->p++;
	sadd(out, start, (size_t)(s->p - start));
	return s->p < s->end ? skip_lwsp(s) : 0;
}

static int
scan_quoted(struct scan *s, struct buf *out)
{
	for (s->p++; s->p < s->end; s->p++) {
		if (*s->p == '"') {
			s->p++;
			return skip_lwsp(s);
		}
		if (*s->p == '\\') {
			if (++s->p == s->end)
				return -1;
		}
		if (*s->p != '\r' && *s->p != '\n')
			sadd(out, s->p, 1);
	}
	return -1;
}

/* One ";" key "=" value. 1 with key/value, 0 at the end, -1 broken. */
static int
scan_param(struct scan *s, struct buf *key, struct buf *value)
{
	int ret;

	buf_reset(key);
	buf_reset(value);
	if (s->p >= s->end)
		return 0;
	if (*s->p != ';')
		return -1;
	s->p++;
	if (skip_lwsp(s) <= 0 || scan_token(s, key, is_token_char) <= 0 || *s->p != '=')
		return -1;
	s->p++;
	if ((ret = skip_lwsp(s)) <= 0) {
		/* no value */
	} else if (*s->p == '"') {
		ret = scan_quoted(s, value);
	} else if (*s->p == '=') {
		/* name==?utf-8?b?...?= from broken mailers */
		while (s->p < s->end && *s->p != ';' && *s->p != ' ' && *s->p != '\t' &&
		       *s->p != '\r' && *s->p != '\n')
			sadd(value, s->p++, 1);
	} else {
		ret = scan_token(s, value, is_token_char);
	}
	return ret < 0 ? -1 : 1;
}

static void
plist_add(struct plist *l, const char *key, size_t klen, const char *value, size_t vlen,
	  unsigned int idx, bool extended)
{
	struct param *p;
	const char *nul = memchr(value, '\0', vlen);

	if (l->n >= BS_PARAMS_MAX)
		return;
	if (l->n % 16 == 0)
		l->v = xreallocarray(l->v, l->n + 16, sizeof(*l->v));
	p = &l->v[l->n];
	p->key = xstrndup(key, klen);
	p->value = xstrndup(value, nul != NULL ? (size_t)(nul - value) : vlen);
	p->idx = idx;
	p->extended = extended;
	p->order = l->n++;
}

static void
plist_clear(struct plist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	if (r != 0)
		return r;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* "%" in a plain section joined to encoded ones must stay literal. */
static void
add_escaped(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			sadd(b, "%25", 3);
		else
			sadd(b, s, 1);
	}
}

/* Join the RFC 2231 sections in l (sorted), appending to out: complete
 * ones as one "name" or "name*" parameter with the value kept encoded,
 * incomplete ones section by section. */
static void
merge_2231(struct plist *l, struct plist *out)
{
	struct buf v, k;
	size_t i, j, next;

	qsort(l->v, l->n, sizeof(*l->v), param_cmp);
	buf_init(&v, BUF_UNLIMITED);
	buf_init(&k, BUF_UNLIMITED);
	for (i = 0; i < l->n; i = next) {
		bool complete = true, any_ext = false;

		for (j = i; j < l->n && ascii_ci_equal(l->v[j].key, strlen(l->v[j].key), l->v[i].key) &&
			    strlen(l->v[j].key) == strlen(l->v[i].key);
		     j++) {
			complete = complete && l->v[j].idx == j - i;
			any_ext = any_ext || l->v[j].extended;
		}
		next = j;
		if (!complete) {
			for (j = i; j < next; j++) {
				buf_reset(&k);
				if (buf_printf(&k, l->v[j].extended ? "%s*%u*" : "%s*%u", l->v[j].key,
					       l->v[j].idx) < 0)
					panic("bodystructure: scratch buffer");
				plist_add(out, k.data, k.len, l->v[j].value, strlen(l->v[j].value),
					  0, false);
			}
			continue;
		}
		buf_reset(&v);
		buf_reset(&k);
		if (!l->v[i].extended && any_ext)
			sadd(&v, "''", 2);
		for (j = i; j < next; j++) {
			if (!l->v[j].extended && any_ext)
				add_escaped(&v, l->v[j].value);
			else
				sadd(&v, l->v[j].value, strlen(l->v[j].value));
		}
		sadd(&k, l->v[i].key, strlen(l->v[i].key));
		if (any_ext)
			sadd(&k, "*", 1);
		plist_add(out, k.data, k.len, buf_cstr(&v), v.len, 0, false);
	}
	buf_release(&v);
	buf_release(&k);
}

/* The parameters after a type, RFC 2231 sections joined. Unparsable
 * stretches are skipped one byte at a time up to the next ';'. */
static void
scan_params(struct scan *s, struct plist *out)
{
	struct plist sections = {0};
	struct buf key, value;
	unsigned int idx = 0;
	int ret;

	buf_init(&key, BUF_UNLIMITED);
	buf_init(&value, BUF_UNLIMITED);
	while ((ret = scan_param(s, &key, &value)) != 0) {
		const char *k = buf_cstr(&key), *star;

		if (ret < 0) {
			if (s->p >= s->end)
				break;
			s->p++;
			continue;
		}
		star = memchr(k, '*', key.len);
		if (star != NULL) {
			const char *q = star + 1;
			bool ext = false;

			if (*q != '\0') {
				for (idx = 0; ascii_is_digit((unsigned char)*q) && idx < 100000; q++)
					idx = idx * 10 + (unsigned int)(*q - '0');
			} else {
				q = star; /* "name*": the index of the previous section */
			}
			if (*q == '*') {
				ext = true;
				q++;
			}
			if (*q == '\0') {
				plist_add(&sections, k, (size_t)(star - k), value.data != NULL ? value.data : "",
					  value.len, idx, ext);
				continue;
			}
		}
		plist_add(out, k, key.len, buf_cstr(&value), value.len, 0, false);
	}
	if (sections.n > 0)
		merge_2231(&sections, out);
	plist_clear(&sections);
	buf_release(&key);
	buf_release(&value);
}

static void
parse_content_type(struct cdata *d, const struct mime_header_field *f)
{
	struct scan s = {(const unsigned char *)f->value,
			 (const unsigned char *)f->value + f->value_len};
	size_t sub;
	int ret;

	d->has_type = true;
	if (skip_lwsp(&s) <= 0)
		return;
	if (scan_token(&s, &d->type, is_token_char) <= 0 || d->type.len == 0)
		return; /* "text" alone: the type without subtype */
	if (*s.p != '/' || (s.p++, skip_lwsp(&s) <= 0)) {
		buf_reset(&d->type);
		return;
	}
	sub = d->subtype.len;
	ret = scan_token(&s, &d->subtype, is_token_char);
	if (ret < 0 || d->subtype.len == sub || (s.p < s.end && *s.p != ';')) {
		buf_reset(&d->type);
		buf_reset(&d->subtype);
		return;
	}
	d->has_subtype = true;
	d->type_ok = true;
	scan_params(&s, &d->tparams);
}

static void
parse_disposition(struct cdata *d, const struct mime_header_field *f)
{
	struct scan s = {(const unsigned char *)f->value,
			 (const unsigned char *)f->value + f->value_len};

	(void)skip_lwsp(&s);
	buf_reset(&d->disp);
	if (scan_token(&s, &d->disp, is_token_char) < 0)
		return;
	d->has_disp = true;
	plist_clear(&d->dparams);
	scan_params(&s, &d->dparams);
}

static void
parse_encoding(struct cdata *d, const struct mime_header_field *f)
{
	struct scan s = {(const unsigned char *)f->value,
			 (const unsigned char *)f->value + f->value_len};

	(void)skip_lwsp(&s);
	if (scan_token(&s, &d->enc, is_token_char) == 0 && d->enc.len > 0)
		d->has_enc = true;
	else
		buf_reset(&d->enc);
}

static bool
name_is(const struct mime_header_field *f, const char *suffix)
{
	return f->name_len > 8 && ascii_ci_equal(f->name, 8, "content-") &&
	       f->name_len - 8 == strlen(suffix) && ascii_ci_equal(f->name + 8, f->name_len - 8, suffix);
}

/* Read the Content-* fields of a part's header. They count only in a MIME
 * part: one with MIME-Version or Content-Type, or inside a multipart. */
static void
cdata_parse(struct cdata *d, const struct mime_header *h, bool in_multipart)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->type, BUF_UNLIMITED);
	buf_init(&d->subtype, BUF_UNLIMITED);
	buf_init(&d->disp, BUF_UNLIMITED);
	buf_init(&d->enc, BUF_UNLIMITED);
	if (!in_multipart && mime_header_find(h, "mime-version") == NULL &&
	    mime_header_find(h, "content-type") == NULL)
		return;
	for (size_t i = 0; i < h->count; i++) {
		const struct mime_header_field *f = &h->fields[i];

		if (f->no_colon)
			continue;
		if (name_is(f, "type") && !d->has_type)
			parse_content_type(d, f);
		else if (name_is(f, "transfer-encoding") && !d->has_enc)
			parse_encoding(d, f);
		else if (name_is(f, "disposition") && d->dparams.n == 0)
			parse_disposition(d, f);
		else if (name_is(f, "id") && d->id == NULL)
			d->id = f;
		else if (name_is(f, "md5") && d->md5 == NULL)
			d->md5 = f;
		else if (name_is(f, "description") && d->desc == NULL)
			d->desc = f;
		else if (name_is(f, "location") && d->loc == NULL)
			d->loc = f;
		else if (name_is(f, "language") && d->lang == NULL)
			d->lang = f;
	}
}

static void
cdata_clear(struct cdata *d)
{
	buf_release(&d->type);
	buf_release(&d->subtype);
	buf_release(&d->disp);
	buf_release(&d->enc);
	plist_clear(&d->tparams);
	plist_clear(&d->dparams);
}

/* Output helpers: each returns -1 when out is full. */
static int
str_n(struct buf *out, const char *s, size_t len, bool utf8)
{
	const char *nul = s != NULL ? memchr(s, '\0', len) : NULL;

	return imap_append_nstring(out, s, nul != NULL ? (size_t)(nul - s) : len, utf8);
}

static int
str_buf(struct buf *out, const struct buf *b, bool utf8)
{
	return str_n(out, buf_cstr(b), b->len, utf8);
}

static int
str_field(struct buf *out, const struct mime_header_field *f, bool utf8)
{
	return f == NULL ? buf_add_str(out, "NIL") : str_n(out, f->value, f->value_len, utf8);
}

static int
params(struct buf *out, const struct plist *l, bool add_charset, bool utf8)
{
	bool charset = false;

	if (l->n == 0 && !add_charset)
		return buf_add_str(out, "NIL");
	if (buf_add_char(out, '(') < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		if (ascii_ci_equal(l->v[i].key, strlen(l->v[i].key), "charset") &&
		    strlen(l->v[i].key) == 7)
			charset = true;
		if ((i > 0 && buf_add_char(out, ' ') < 0) ||
		    str_n(out, l->v[i].key, strlen(l->v[i].key), utf8) < 0 ||
		    buf_add_char(out, ' ') < 0 ||
		    str_n(out, l->v[i].value, strlen(l->v[i].value), utf8) < 0)
			return -1;
	}
	if (add_charset && !charset &&
	    buf_add_str(out, l->n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"") < 0)
		return -1;
	return buf_add_char(out, ')');
}

static int
language(struct buf *out, const struct mime_header_field *f, bool utf8)
{
	struct scan s;
	struct buf atom;
	size_t n = 0;
	int ret = 0;

	if (f == NULL)
		return buf_add_str(out, "NIL");
	s.p = (const unsigned char *)f->value;
	s.end = s.p + f->value_len;
	buf_init(&atom, BUF_UNLIMITED);
	(void)skip_lwsp(&s);
	while (ret == 0 && s.p < s.end && is_atext(*s.p)) {
		buf_reset(&atom);
		(void)scan_token(&s, &atom, is_atext);
		ret = buf_add_str(out, n++ == 0 ? "(" : " ");
		if (ret == 0)
			ret = str_buf(out, &atom, utf8);
		if (s.p >= s.end || *s.p != ',')
			break;
		s.p++;
		(void)skip_lwsp(&s);
	}
	buf_release(&atom);
	if (ret < 0)
		return -1;
	return buf_add_str(out, n == 0 ? "NIL" : ")");
}

static int
disposition(struct buf *out, const struct cdata *d, bool utf8)
{
	if (!d->has_disp)
		return buf_add_str(out, "NIL");
	if (buf_add_char(out, '(') < 0 || str_buf(out, &d->disp, utf8) < 0 ||
	    buf_add_char(out, ' ') < 0 || params(out, &d->dparams, false, utf8) < 0)
		return -1;
	return buf_add_char(out, ')');
}

/* disposition, language, location: the tail both kinds of parts share. */
static int
extension_tail(struct buf *out, const struct cdata *d, bool utf8)
{
	if (buf_add_char(out, ' ') < 0 || disposition(out, d, utf8) < 0 ||
	    buf_add_char(out, ' ') < 0 || language(out, d->lang, utf8) < 0 ||
	    buf_add_char(out, ' ') < 0)
		return -1;
	return str_field(out, d->loc, utf8);
}

struct writer {
	const char *msg;
	bool extended, utf8;
	struct buf *out;
};

static int write_part(struct writer *w, const struct mime_part *part);

static int
write_multipart(struct writer *w, const struct mime_part *part, const struct cdata *d)
{
	const struct mime_part *c;

	if (part->children == NULL &&
	    buf_add_str(w->out, w->extended ? EMPTY_BODY " NIL NIL NIL NIL)" : EMPTY_BODY ")") < 0)
		return -1;
	for (c = part->children; c != NULL; c = c->next) {
		if (write_part(w, c) < 0)
			return -1;
	}
	if (buf_add_char(w->out, ' ') < 0 || str_buf(w->out, &d->subtype, w->utf8) < 0)
		return -1;
	if (!w->extended)
		return 0;
	if (buf_add_char(w->out, ' ') < 0 || params(w->out, &d->tparams, false, w->utf8) < 0)
		return -1;
	return extension_tail(w->out, d, w->utf8);
}

/* envelope body lines of a message/rfc822 part. */
static int
write_message(struct writer *w, const struct mime_part *part)
{
	const struct mime_part *c = part->children;
	struct mime_header h;
	int ret;

	if (c == NULL || (part->flags & MIME_PART_F_MESSAGE) == 0) {
		/* Not parsed (encoded, or too deep): an empty message. */
		if (buf_add_str(w->out, " (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ") < 0 ||
		    buf_add_str(w->out, w->extended ? EMPTY_BODY " NIL NIL NIL NIL)" : EMPTY_BODY ")") < 0)
			return -1;
		return buf_printf(w->out, " %zu", part->body_lines);
	}
	(void)mime_header_parse(w->msg + c->header_offset, c->header_size, NULL, &h);
	ret = buf_add_char(w->out, ' ');
	if (ret == 0)
		ret = mime_envelope(&h, w->utf8, w->out);
	mime_header_clear(&h);
	if (ret < 0 || buf_add_char(w->out, ' ') < 0 || write_part(w, c) < 0)
		return -1;
	return buf_printf(w->out, " %zu", part->body_lines);
}

static int
write_single(struct writer *w, const struct mime_part *part, const struct cdata *d)
{
	bool message = mime_content_is(&part->ct, "message", "rfc822");
	bool text = false;
	struct buf *out = w->out;

	if (message) {
		if (buf_add_str(out, "\"message\" \"rfc822\"") < 0)
			return -1;
	} else if (!d->has_type) {
		text = true;
		if (buf_add_str(out, "\"text\" \"plain\"") < 0)
			return -1;
	} else if (ascii_ci_equal(buf_cstr(&d->type), d->type.len, "multipart") &&
		   d->type.len == 9) {
		/* A multipart that could not be split is opaque data. */
		if (buf_add_str(out, "\"application\" \"octet-stream\"") < 0)
			return -1;
	} else {
		text = d->type.len == 4 && ascii_ci_equal(buf_cstr(&d->type), 4, "text");
		if (str_buf(out, &d->type, w->utf8) < 0 || buf_add_char(out, ' ') < 0 ||
		    str_buf(out, &d->subtype, w->utf8) < 0)
			return -1;
	}
	if (buf_add_char(out, ' ') < 0 || params(out, &d->tparams, text, w->utf8) < 0 ||
	    buf_add_char(out, ' ') < 0 || str_field(out, d->id, w->utf8) < 0 ||
	    buf_add_char(out, ' ') < 0 || str_field(out, d->desc, w->utf8) < 0 ||
	    buf_add_char(out, ' ') < 0)
		return -1;
	if ((d->has_enc ? str_buf(out, &d->enc, w->utf8) : buf_add_str(out, "\"7bit\"")) < 0 ||
	    buf_printf(out, " %zu", part->body_size) < 0)
		return -1;
	if (text && buf_printf(out, " %zu", part->body_lines) < 0)
		return -1;
	if (message && write_message(w, part) < 0)
		return -1;
	if (!w->extended)
		return 0;
	if (buf_add_char(out, ' ') < 0 || str_field(out, d->md5, w->utf8) < 0)
		return -1;
	return extension_tail(out, d, w->utf8);
}

static int
write_part(struct writer *w, const struct mime_part *part)
{
	struct mime_header h;
	struct cdata d;
	bool in_multipart = part->parent != NULL &&
			    (part->parent->flags & MIME_PART_F_MULTIPART) != 0;
	int ret;

	(void)mime_header_parse(w->msg + part->header_offset, part->header_size, NULL, &h);
	cdata_parse(&d, &h, in_multipart);
	ret = buf_add_char(w->out, '(');
	if (ret == 0)
		ret = (part->flags & MIME_PART_F_MULTIPART) != 0 ? write_multipart(w, part, &d)
								 : write_single(w, part, &d);
	if (ret == 0)
		ret = buf_add_char(w->out, ')');
	cdata_clear(&d);
	mime_header_clear(&h);
	return ret;
}

int
mime_bodystructure(const char *msg, size_t len, const struct mime_message *tree, bool extended,
		   bool utf8, struct buf *out)
{
	struct writer w = {.msg = msg, .extended = extended, .utf8 = utf8, .out = out};
	size_t start = out->len;

	(void)len; /* the tree's offsets are inside msg */
	if (tree->root == NULL || write_part(&w, tree->root) < 0) {
		buf_set_len(out, start);
		return -1;
	}
	return 0;
}

/* The cache: MIME_CACHE_PREFIX, then ENVELOPE, BODY and BODYSTRUCTURE, each
 * as its decimal length, LF, the bytes, LF. */
#define MIME_CACHE_PREFIX "postern-mime 1\n"

static int
cache_item(struct buf *out, const struct buf *item)
{
	if (buf_printf(out, "%zu\n", item->len) < 0 || buf_add(out, item->data, item->len) < 0)
		return -1;
	return buf_add_char(out, '\n');
}

int
mime_cache_build(const char *msg, size_t len, struct buf *out)
{
	struct mime_message tree;
	struct mime_header h;
	struct buf item;
	size_t start = out->len;
	int ret;

	(void)mime_message_parse(msg, len, NULL, &tree);
	(void)mime_header_parse(msg, tree.root->header_size, NULL, &h);
	buf_init(&item, out->max);
	ret = buf_add_str(out, MIME_CACHE_PREFIX);
	if (ret == 0 && (ret = mime_envelope(&h, false, &item)) == 0)
		ret = cache_item(out, &item);
	for (int ext = 0; ext < 2 && ret == 0; ext++) {
		buf_reset(&item);
		ret = mime_bodystructure(msg, len, &tree, ext == 1, false, &item);
		if (ret == 0)
			ret = cache_item(out, &item);
	}
	buf_release(&item);
	mime_header_clear(&h);
	mime_message_clear(&tree);
	if (ret < 0)
		buf_set_len(out, start);
	return ret;
}

int
mime_cache_get(const char *cache, enum mime_cache_item item, const char **p_r, size_t *len_r)
{
	size_t plen = strlen(MIME_CACHE_PREFIX), total = strlen(cache), pos = plen;
	const char *p = NULL;
	size_t len = 0;

	if (total < plen || memcmp(cache, MIME_CACHE_PREFIX, plen) != 0)
		return -1;
	for (int i = 0; i <= (int)MIME_CACHE_BODYSTRUCTURE; i++) {
		size_t n = 0, digits = 0;

		while (pos < total && ascii_is_digit((unsigned char)cache[pos])) {
			if (++digits > 12)
				return -1;
			n = n * 10 + (size_t)(cache[pos++] - '0');
		}
		if (digits == 0 || pos >= total || cache[pos] != '\n')
			return -1;
		pos++;
		if (n >= total - pos || cache[pos + n] != '\n')
			return -1;
		if (i == (int)item) {
			p = cache + pos;
			len = n;
		}
		pos += n + 1;
	}
	if (pos != total || p == NULL)
		return -1;
	*p_r = p;
	*len_r = len;
	return 0;
}
