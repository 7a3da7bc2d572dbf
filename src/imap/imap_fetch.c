/* imap_fetch.c - FETCH data items and modifiers from a command's
 * arguments: macros, plain items, and BODY/BINARY sections read from the
 * bracketed atom text the command parser keeps whole. */
#include "lib/common.h"

#include "imap/imap_fetch.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static const struct {
	const char *name;
	unsigned items;
} simple_items[] = {
    {"ALL",
     IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE},
    {"FAST", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE},
    {"FULL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
		 IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY},
    {"UID", IMAP_FETCH_UID},
    {"FLAGS", IMAP_FETCH_FLAGS},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE},
    {"BODY", IMAP_FETCH_BODY},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
    {"MODSEQ", IMAP_FETCH_MODSEQ},
    {"RFC822", IMAP_FETCH_RFC822},
    {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
    {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
    {"SAVEDATE", IMAP_FETCH_SAVEDATE},
};
/* The macros: only alone, never inside a list. */
#define N_MACROS 3

static const struct {
	const char *name;
	enum imap_section_kind kind;
	bool peek;
} section_items[] = {
    {"BODY", IMAP_SECTION_BODY, false},
    {"BODY.PEEK", IMAP_SECTION_BODY, true},
    {"BINARY", IMAP_SECTION_BINARY, false},
    {"BINARY.PEEK", IMAP_SECTION_BINARY, true},
    {"BINARY.SIZE", IMAP_SECTION_BINARY_SIZE, false},
};

static const struct {
	const char *name;
	enum mime_section_text text;
} section_texts[] = {
    {"HEADER", MIME_SECTION_HEADER},
    {"HEADER.FIELDS", MIME_SECTION_HEADER_FIELDS},
    {"HEADER.FIELDS.NOT", MIME_SECTION_HEADER_FIELDS_NOT},
    {"TEXT", MIME_SECTION_TEXT},
    {"MIME", MIME_SECTION_MIME},
};

/* Reading an item's text. */
struct cursor {
	const char *s;
	size_t len, i;
};

static bool
at(const struct cursor *c, char ch)
{
	return c->i < c->len && c->s[c->i] == ch;
}

static bool
eat(struct cursor *c, char ch)
{
	if (!at(c, ch))
		return false;
	c->i++;
	return true;
}

/* Digits up to max; nz: no leading zero and not 0 (nz-number). */
static bool
read_number(struct cursor *c, uint64_t max, bool nz, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t start = c->i;

	while (c->i < c->len && ascii_is_digit((unsigned char)c->s[c->i])) {
		unsigned d = (unsigned)(c->s[c->i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
		c->i++;
	}
	if (c->i == start || (nz && (c->s[start] == '0')))
		return false;
	*n_r = n;
	return true;
}

static void
put(struct buf *b, const char *s, size_t n)
{
	if (buf_add(b, s, n) < 0)
		panic("imap_fetch: reply name buffer full");
}

static void
put_upper(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		put(b, &ch, 1);
	}
}

static void
section_clear(struct imap_fetch_section *s)
{
	free(s->part);
	for (size_t k = 0; k < s->nfields; k++)
		free(s->fields[k]);
	free(s->fields);
	free(s->reply_name);
}

static struct imap_fetch_section *
section_add(struct imap_fetch *f)
{
	f->sections = xreallocarray(f->sections, f->nsections + 1, sizeof(*f->sections));
	struct imap_fetch_section *s = &f->sections[f->nsections++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", names as
 * atoms or quoted strings; into sec->fields (as sent) and reply (upper-cased,
 * quoted when sent quoted). */
static const char *
read_header_list(struct cursor *c, struct imap_fetch_section *sec, struct buf *reply)
{
	if (!eat(c, ' '))
		return "missing header list";
	while (eat(c, ' '))
		;
	if (!eat(c, '('))
		return "missing header list";
	put(reply, " (", 2);
	for (;;) {
		while (eat(c, ' '))
			;
		if (eat(c, ')'))
			break;
		if (sec->nfields > 0 && c->s[c->i - 1] != ' ')
			return "bad header list";
		struct buf name;
		bool quoted = eat(c, '"');
		buf_init(&name, BUF_UNLIMITED);
		while (c->i < c->len) {
			unsigned char ch = (unsigned char)c->s[c->i];
			if (quoted) {
				if (ch == '"')
					break;
				if (ch == '\\') {
					c->i++;
					if (!at(c, '"') && !at(c, '\\'))
						break;
					ch = (unsigned char)c->s[c->i];
				}
			} else if (ch <= ' ' || ch >= 0x7f || strchr("(){%*\"\\]", ch) != NULL) {
				break;
			}
			put(&name, (const char *)&ch, 1);
			c->i++;
		}
		if ((quoted && !eat(c, '"')) || name.len == 0 ||
		    memchr(buf_cstr(&name), '\0', name.len) != NULL) {
			buf_release(&name);
			return "bad header field name";
		}
		if (sec->nfields > 0)
			put(reply, " ", 1);
		if (quoted)
			put(reply, "\"", 1);
		for (size_t k = 0; k < name.len; k++) {
			if (quoted && (name.data[k] == '"' || name.data[k] == '\\'))
				put(reply, "\\", 1);
			put_upper(reply, name.data + k, 1);
		}
		if (quoted)
			put(reply, "\"", 1);
		sec->fields = xreallocarray(sec->fields, sec->nfields + 1, sizeof(*sec->fields));
		sec->fields[sec->nfields++] = buf_steal(&name);
	}
	if (sec->nfields == 0)
		return "empty header list";
	put(reply, ")", 1);
	return NULL;
}

/* section-spec inside the brackets, up to the ']' (not eaten). */
static const char *
read_section_spec(struct cursor *c, struct imap_fetch_section *sec, struct buf *reply)
{
	size_t start = c->i;
	uint64_t n;

	/* section-part = nz-number *("." nz-number) */
	while (c->i < c->len && ascii_is_digit((unsigned char)c->s[c->i])) {
		if (!read_number(c, UINT32_MAX, true, &n))
			return "bad section part number";
		if (!(at(c, '.') && c->i + 1 < c->len &&
		      ascii_is_digit((unsigned char)c->s[c->i + 1])))
			break;
		c->i++;
	}
	sec->part = xstrndup(c->s + start, c->i - start);
	put(reply, sec->part, c->i - start);
	sec->text = MIME_SECTION_ALL;
	if (at(c, ']'))
		return NULL;
	if (sec->kind != IMAP_SECTION_BODY)
		return "BINARY takes part numbers only";
	if (sec->part[0] != '\0') {
		if (!eat(c, '.'))
			return "bad section";
		put(reply, ".", 1);
	}
	size_t kw = c->i;
	while (c->i < c->len && c->s[c->i] != ' ' && c->s[c->i] != ']')
		c->i++;
	size_t i;
	for (i = 0; i < N_ELEMENTS(section_texts); i++)
		if (ascii_ci_equal(c->s + kw, c->i - kw, section_texts[i].name))
			break;
	if (i == N_ELEMENTS(section_texts))
		return "bad section";
	sec->text = section_texts[i].text;
	put(reply, section_texts[i].name, strlen(section_texts[i].name));
	if (sec->text == MIME_SECTION_MIME && sec->part[0] == '\0')
		return "MIME needs a part number";
	if (sec->text == MIME_SECTION_HEADER_FIELDS || sec->text == MIME_SECTION_HEADER_FIELDS_NOT)
		return read_header_list(c, sec, reply);
	return NULL;
}

/* "<offset.length>" after the section; c at '<'. */
static const char *
read_partial(struct cursor *c, struct imap_fetch_section *sec, struct buf *reply)
{
	uint64_t off, len;

	if (!eat(c, '<') || !read_number(c, (uint64_t)INT64_MAX, false, &off))
		return "bad partial";
	if (!eat(c, '.'))
		return "partial needs <offset.length>";
	if (!read_number(c, (uint64_t)INT64_MAX, false, &len) || len == 0)
		return "partial length must be at least 1";
	if (!eat(c, '>') || c->i != c->len)
		return "bad partial";
	if (sec->kind == IMAP_SECTION_BINARY_SIZE)
		return "BINARY.SIZE takes no partial";
	/* Messages are far below 4 GiB: an offset past that gives nothing,
	 * a length past it everything, just as the values sent would. */
	sec->partial = true;
	sec->offset = (uint32_t)MIN(off, (uint64_t)UINT32_MAX);
	sec->length = (uint32_t)MIN(len, (uint64_t)UINT32_MAX);
	if (buf_printf(reply, "<%llu>", (unsigned long long)off) < 0)
		panic("imap_fetch: reply name buffer full");
	return NULL;
}

/* A BODY[...] / BINARY[...] item s[len] whose prefix ends at s[open] ==
 * '[', added to f->sections. allow_partial: "<...>" may follow the ']';
 * with_origin: the reply name ends in the partial's "<origin>". */
static const char *
read_section_item(struct imap_fetch *f, const char *s, size_t len, size_t open, bool allow_partial,
		  bool with_origin)
{
	size_t k;

	for (k = 0; k < N_ELEMENTS(section_items); k++)
		if (ascii_ci_equal(s, open, section_items[k].name))
			break;
	if (k == N_ELEMENTS(section_items))
		return "unknown FETCH item";

	struct imap_fetch_section *sec = section_add(f);
	struct cursor c = {s, len, open + 1};
	struct buf reply;
	const char *error;

	sec->kind = section_items[k].kind;
	sec->peek = section_items[k].peek;
	/* PEEK is never echoed: BODY.PEEK[...] is answered as BODY[...]. */
	const char *name = sec->kind == IMAP_SECTION_BINARY_SIZE ? "BINARY.SIZE["
			   : sec->kind == IMAP_SECTION_BINARY	 ? "BINARY["
								 : "BODY[";
	buf_init(&reply, BUF_UNLIMITED);
	put(&reply, name, strlen(name));
	error = read_section_spec(&c, sec, &reply);
	if (error == NULL && !eat(&c, ']'))
		error = "bad section";
	if (error == NULL) {
		put(&reply, "]", 1);
		size_t name_len = reply.len;
		if (c.i < len && !allow_partial)
			error = "unexpected text after section";
		else if (c.i < len && (error = read_partial(&c, sec, &reply)) == NULL &&
			 !with_origin)
			buf_set_len(&reply, name_len);
	}
	sec->reply_name = buf_steal(&reply);
	if (error == NULL && !sec->peek && sec->kind != IMAP_SECTION_BINARY_SIZE)
		f->sets_seen = true;
	return error;
}

/* The section just read is answered as an earlier one would be (same
 * name, same partial; PEEK aside, which only sets_seen records). */
static bool
section_repeated(const struct imap_fetch *f)
{
	const struct imap_fetch_section *last = &f->sections[f->nsections - 1];

	for (size_t i = 0; i + 1 < f->nsections; i++) {
		const struct imap_fetch_section *s = &f->sections[i];
		if (strcmp(s->reply_name, last->reply_name) == 0 && s->partial == last->partial &&
		    s->offset == last->offset && s->length == last->length)
			return true;
	}
	return false;
}

static const char *
read_item(struct imap_fetch *f, const struct imap_arg *a, bool macros)
{
	if (a->type != IMAP_ARG_ATOM)
		return "bad FETCH item";
	const char *open = memchr(a->str, '[', a->len);
	if (open != NULL) {
		const char *error =
		    read_section_item(f, a->str, a->len, (size_t)(open - a->str), true, true);
		if (error != NULL)
			return error;
		/* Asked again: answered once. At most IMAP_FETCH_MAX_SECTIONS
		 * others, each costing a copy of (part of) every message. */
		if (section_repeated(f))
			section_clear(&f->sections[--f->nsections]);
		else if (f->nsections > IMAP_FETCH_MAX_SECTIONS)
			return "too many FETCH sections";
		return NULL;
	}
	for (size_t i = macros ? 0 : N_MACROS; i < N_ELEMENTS(simple_items); i++) {
		if (ascii_ci_equal(a->str, a->len, simple_items[i].name)) {
			f->items |= simple_items[i].items;
			if (simple_items[i].items & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT))
				f->sets_seen = true;
			return NULL;
		}
	}
	return "unknown FETCH item";
}

/* fetch-modifiers: "(" CHANGEDSINCE n / VANISHED ... ")" (RFC 7162). */
static const char *
read_modifiers(struct imap_fetch *f, const struct imap_arg *a)
{
	bool changedsince = false;

	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return "bad FETCH modifiers";
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *m = &a->list[i];
		if (imap_arg_atom_is(m, "CHANGEDSINCE")) {
			if (changedsince)
				return "CHANGEDSINCE given twice";
			if (i + 1 >= a->count ||
			    !imap_arg_number64(&a->list[i + 1], &f->changedsince))
				return "CHANGEDSINCE needs a mod-sequence";
			changedsince = true;
			f->items |= IMAP_FETCH_MODSEQ;
			i++;
		} else if (imap_arg_atom_is(m, "VANISHED")) {
			if (f->vanished)
				return "VANISHED given twice";
			f->vanished = true;
		} else {
			return "unknown FETCH modifier";
		}
	}
	if (f->vanished && !changedsince)
		return "VANISHED needs CHANGEDSINCE";
	return NULL;
}

int
imap_fetch_parse(const struct imap_arg *args, size_t count, struct imap_fetch *fetch_r,
		 const char **error_r)
{
	const char *error = NULL;

	memset(fetch_r, 0, sizeof(*fetch_r));
	if (count == 0) {
		error = "missing FETCH items";
	} else if (count > 2) {
		error = "unexpected arguments after FETCH items";
	} else if (args[0].type == IMAP_ARG_LIST) {
		if (args[0].count == 0)
			error = "empty FETCH item list";
		for (size_t i = 0; error == NULL && i < args[0].count; i++)
			error = read_item(fetch_r, &args[0].list[i], false);
	} else {
		error = read_item(fetch_r, &args[0], true);
	}
	if (error == NULL && count == 2)
		error = read_modifiers(fetch_r, &args[1]);
	if (error != NULL) {
		imap_fetch_clear(fetch_r);
		*error_r = error;
		return -1;
	}
	return 0;
}

void
imap_fetch_clear(struct imap_fetch *fetch)
{
	for (size_t i = 0; i < fetch->nsections; i++)
		section_clear(&fetch->sections[i]);
	free(fetch->sections);
	memset(fetch, 0, sizeof(*fetch));
}

int
imap_fetch_parse_partial(const struct imap_arg *item, uint32_t start, uint32_t length,
			 struct imap_fetch *fetch_r, const char **error_r)
{
	static const struct {
		const char *name;
		const char *section;
	} rfc822[] = {
	    {"RFC822", "BODY[]"},
	    {"RFC822.HEADER", "BODY.PEEK[HEADER]"},
	    {"RFC822.TEXT", "BODY[TEXT]"},
	};
	const char *error = NULL;

	memset(fetch_r, 0, sizeof(*fetch_r));
	if (item->type != IMAP_ARG_ATOM) {
		error = "bad PARTIAL item";
	} else if (start == 0) {
		error = "PARTIAL counts octets from 1";
	} else {
		const char *s = item->str, *open = memchr(s, '[', item->len);
		size_t i;
		for (i = 0; open == NULL && i < N_ELEMENTS(rfc822); i++)
			if (ascii_ci_equal(s, item->len, rfc822[i].name))
				break;
		if (open != NULL) {
			error = read_section_item(fetch_r, s, item->len, (size_t)(open - s), false,
						  false);
			if (error == NULL && fetch_r->sections[0].kind != IMAP_SECTION_BODY)
				error = "PARTIAL takes RFC822 or BODY items";
		} else if (i < N_ELEMENTS(rfc822)) {
			const char *sec = rfc822[i].section;
			error = read_section_item(fetch_r, sec, strlen(sec),
						  (size_t)(strchr(sec, '[') - sec), false, false);
			free(fetch_r->sections[0].reply_name);
			fetch_r->sections[0].reply_name = xstrdup(rfc822[i].name);
		} else {
			error = "PARTIAL takes RFC822 or BODY items";
		}
	}
	if (error != NULL) {
		imap_fetch_clear(fetch_r);
		*error_r = error;
		return -1;
	}
	struct imap_fetch_section *sec = &fetch_r->sections[0];
	sec->partial = true;
	sec->offset = start - 1;
	sec->length = length;
	return 0;
}
