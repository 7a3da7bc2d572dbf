/* imap_parser.c - the incremental IMAP command parser.
 *
 * Input is gathered a line at a time (never more than what is left of
 * max_line), and each complete line is tokenised whole: a line is the unit
 * between literals, and no token but a list spans two of them. State that
 * lives across lines: the tag and name, the open lists, and whether an
 * argument just ended. Literal bytes go into a buffer of their own that
 * grows as they arrive. Skipping (after an error or a refused literal)
 * stores nothing: it only watches for a "{n+}" marker at each line's end.
 */
#include "lib/common.h"

#include "imap/imap_parser.h"

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16
/* Argument vectors larger than this are freed between commands. */
#define ARGVEC_KEEP 256
/* number64 of RFC 9051: the largest literal size that can be announced. */
#define LITERAL_SIZE_MAX ((uint64_t)INT64_MAX)

enum state {
	ST_LINE,	 /* gathering a line of the command */
	ST_LITERAL_WAIT, /* LITERAL returned: the caller decides */
	ST_LITERAL,	 /* reading an accepted literal's bytes */
	ST_SKIP_LINE,	 /* discarding up to the end of a line */
	ST_SKIP_LITERAL, /* discarding a non-synchronising literal's bytes */
};

enum phase {
	PH_TAG,
	PH_NAME,
	PH_ARGS,
};

/* Recognises a literal marker "{n}" or "{n+}" just before a line's end,
 * one byte at a time, so that skipping needs no line buffer. */
enum marker_state {
	MK_NONE,
	MK_DIGITS, /* "{" and maybe digits */
	MK_PLUS,   /* "{n+" */
	MK_CLOSE,  /* "{n}" or "{n+}" */
	MK_CR,	   /* ... and a CR */
};

struct marker {
	enum marker_state st;
	bool plus, overflow, digits;
	uint64_t n;
};

struct chunk {
	struct chunk *next;
	char *mem;
	size_t used, size;
};

struct argvec {
	struct imap_arg *v;
	size_t n, cap;
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum state state;
	bool reset_pending; /* a command ended: forget it on the next feed */

	struct buf line;  /* the line being gathered, line end included */
	size_t cmd_bytes; /* bytes of the command's earlier lines */

	/* The command being built; everything in the arena. */
	enum phase phase;
	char *tag, *name;
	struct argvec *levels; /* levels[0]: the command's arguments */
	unsigned nlevels;      /* allocated */
	unsigned depth;	       /* open lists */
	size_t nargs;
	bool need_sep;	  /* an argument just ended */
	bool no_brackets; /* a '[' of this line found no ']': no more tries */
	struct chunk *arena;
	struct imap_command cmd;

	/* The announced literal, and its bytes once accepted. */
	uint64_t lit_size;
	bool lit_sync, lit8;
	struct buf lit;

	uint64_t skip_left;
	struct marker mk;
	const char *error;
	const char *error_tag;
};

/* --- the arena: one command's strings and lists --- */

static void *
arena_alloc(struct imap_parser *p, size_t n)
{
	struct chunk *c = p->arena;
	size_t start = c != NULL ? (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) : 0;

	if (c == NULL || start > c->size || c->size - start < n) {
		c = xmalloc(sizeof(*c));
		c->size = MAX(n, (size_t)ARENA_CHUNK);
		c->mem = xmalloc(c->size);
		c->used = 0;
		c->next = p->arena;
		p->arena = c;
		start = 0;
	}
	c->used = start + n;
	return c->mem + start;
}

/* Take over mem (from xmalloc or buf_steal): freed with the arena. */
static void
arena_adopt(struct imap_parser *p, char *mem, size_t size)
{
	struct chunk *c = xmalloc(sizeof(*c));

	c->mem = mem;
	c->used = c->size = size;
	/* Behind the current chunk, so that it stays the one allocated from. */
	if (p->arena == NULL) {
		c->next = NULL;
		p->arena = c;
	} else {
		c->next = p->arena->next;
		p->arena->next = c;
	}
}

static char *
arena_strndup(struct imap_parser *p, const char *s, size_t n)
{
	char *d = arena_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
arena_clear(struct imap_parser *p)
{
	while (p->arena != NULL) {
		struct chunk *c = p->arena;
		p->arena = c->next;
		free(c->mem);
		free(c);
	}
}

/* --- character classes (RFC 9051 9) --- */

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* ATOM-CHAR: CHAR except atom-specials. */
static bool
is_atom_char(unsigned char c)
{
	if (c >= 0x80 || is_ctl(c))
		return false;
	return strchr(" (){%*\"\\]", c) == NULL;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool
is_tag_char(unsigned char c)
{
	return c != '+' && (is_atom_char(c) || c == ']');
}

/* The lenient atom of imap_parser.h: anything but SP, ( ) " { and controls. */
static bool
is_arg_atom_char(unsigned char c)
{
	return !is_ctl(c) && strchr(" ()\"{", c) == NULL;
}

/* --- literal markers at line ends --- */

static void
marker_step(struct marker *m, unsigned char c)
{
	if (c == '{') {
		*m = (struct marker){.st = MK_DIGITS};
		return;
	}
	switch (m->st) {
	case MK_DIGITS:
		if (ascii_is_digit(c)) {
			unsigned d = (unsigned)(c - '0');
			if (m->n > (LITERAL_SIZE_MAX - d) / 10)
				m->overflow = true;
			else
				m->n = m->n * 10 + d;
			m->digits = true;
		} else if (c == '+' && m->digits) {
			m->st = MK_PLUS;
		} else if (c == '}' && m->digits) {
			m->st = MK_CLOSE;
		} else {
			m->st = MK_NONE;
		}
		break;
	case MK_PLUS:
		m->plus = true;
		m->st = c == '}' ? MK_CLOSE : MK_NONE;
		break;
	case MK_CLOSE:
		m->st = c == '\r' ? MK_CR : MK_NONE;
		break;
	case MK_CR:
	case MK_NONE:
		m->st = MK_NONE;
		break;
	}
}

/* At a line's LF: the size of a valid non-synchronising literal announced
 * at its end (true), then ready for the next line. */
static bool
marker_end(struct marker *m, uint64_t *size_r)
{
	bool nonsync = (m->st == MK_CLOSE || m->st == MK_CR) && m->plus && !m->overflow;

	*size_r = m->n;
	*m = (struct marker){.st = MK_NONE};
	return nonsync;
}

static void
marker_feed(struct marker *m, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		marker_step(m, (unsigned char)s[i]);
}

/* --- building the command --- */

static void
command_forget(struct imap_parser *p)
{
	arena_clear(p);
	for (unsigned i = 0; i < p->nlevels; i++) {
		struct argvec *v = &p->levels[i];
		if (v->cap > ARGVEC_KEEP) {
			free(v->v);
			v->v = NULL;
			v->cap = 0;
		}
		v->n = 0;
	}
	p->phase = PH_TAG;
	p->tag = p->name = NULL;
	p->depth = 0;
	p->nargs = 0;
	p->need_sep = false;
	p->cmd_bytes = 0;
	p->error = p->error_tag = NULL;
	buf_release(&p->lit);
	memset(&p->cmd, 0, sizeof(p->cmd));
}

static struct imap_arg *
arg_push(struct imap_parser *p, enum imap_arg_type type)
{
	struct argvec *v = &p->levels[p->depth];

	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 8 : v->cap * 2;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	struct imap_arg *a = &v->v[v->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* Count one more argument; false when that is one too many. */
static bool
arg_count(struct imap_parser *p)
{
	if (p->nargs >= p->limits.max_args)
		return false;
	p->nargs++;
	return true;
}

static bool
list_open(struct imap_parser *p)
{
	if (p->depth >= p->limits.max_depth)
		return false;
	if (p->depth + 1 >= p->nlevels) {
		unsigned n = p->nlevels * 2;
		p->levels = xreallocarray(p->levels, n, sizeof(*p->levels));
		memset(p->levels + p->nlevels, 0, (n - p->nlevels) * sizeof(*p->levels));
		p->nlevels = n;
	}
	p->depth++;
	p->levels[p->depth].n = 0;
	return true;
}

static void
list_close(struct imap_parser *p)
{
	struct argvec *v = &p->levels[p->depth];
	struct imap_arg *elems = NULL;

	if (v->n > 0) {
		elems = arena_alloc(p, v->n * sizeof(*elems));
		memcpy(elems, v->v, v->n * sizeof(*elems));
	}
	size_t n = v->n;
	v->n = 0;
	p->depth--;
	struct imap_arg *a = arg_push(p, IMAP_ARG_LIST);
	a->list = elems;
	a->count = n;
}

/* --- tokenising one line --- */

enum line_result {
	LR_OK,	    /* (helpers) the token was read: go on */
	LR_EMPTY,   /* a blank line between commands: ignored */
	LR_COMMAND, /* the command is complete */
	LR_LITERAL, /* a literal marker ends the line */
	LR_ERROR,   /* p->error set */
};

static enum line_result
line_error(struct imap_parser *p, const char *reason)
{
	p->error = reason;
	return LR_ERROR;
}

/* Where the ']' closing a '[' at s[from - 1] is, skipping quoted strings;
 * n when there is none on this line (or a control comes first). */
static size_t
bracket_end(const char *s, size_t from, size_t n)
{
	bool quoted = false;

	for (size_t i = from; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_ctl(c))
			return n;
		if (quoted) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == ']') {
			return i;
		}
	}
	return n;
}

/* The atom at s[i..): its end. */
static size_t
atom_end(struct imap_parser *p, const char *s, size_t i, size_t n)
{
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '[' && !p->no_brackets) {
			size_t close = bracket_end(s, i + 1, n);
			if (close < n) {
				i = close + 1;
				continue;
			}
			/* An unclosed '[' is an ordinary byte; later ones on this
			 * line are too, which keeps the line's scan linear. */
			p->no_brackets = true;
		}
		if (!is_arg_atom_char(c))
			break;
		i++;
	}
	return i;
}

/* The quoted string opening at s[*i]; *i moves past it. */
static enum line_result
read_quoted(struct imap_parser *p, const char *s, size_t *i, size_t n)
{
	size_t j = *i + 1, len = 0;

	for (;; j++, len++) {
		if (j >= n)
			return line_error(p, "unterminated quoted string");
		unsigned char c = (unsigned char)s[j];
		if (c == '"')
			break;
		if (c == '\\') {
			if (j + 1 >= n || (s[j + 1] != '"' && s[j + 1] != '\\'))
				return line_error(p, "bad escape in quoted string");
			j++;
		} else if (c == '\0' || c == '\r') {
			return line_error(p, "bad character in quoted string");
		}
	}
	char *d = arena_alloc(p, len + 1);
	size_t k = 0;
	for (size_t x = *i + 1; x < j; x++) {
		if (s[x] == '\\')
			x++;
		d[k++] = s[x];
	}
	d[k] = '\0';
	struct imap_arg *a = arg_push(p, IMAP_ARG_STRING);
	a->str = d;
	a->len = len;
	*i = j + 1;
	return LR_OK;
}

/* A literal marker "{n}", "{n+}", "~{n}" or "~{n+}" at s[i..n): it must
 * end the line. */
static enum line_result
read_marker(struct imap_parser *p, const char *s, size_t i, size_t n)
{
	uint64_t size = 0;
	size_t digits = 0;

	p->lit8 = s[i] == '~';
	if (p->lit8)
		i++;
	for (i++; i < n && ascii_is_digit((unsigned char)s[i]); i++, digits++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (size > (LITERAL_SIZE_MAX - d) / 10)
			return line_error(p, "literal size too big");
		size = size * 10 + d;
	}
	p->lit_sync = true;
	if (i < n && s[i] == '+') {
		p->lit_sync = false;
		i++;
	}
	if (digits == 0 || i >= n || s[i] != '}')
		return line_error(p, "bad literal");
	if (i + 1 != n)
		return line_error(p, "literal not at the end of the line");
	if (!arg_count(p))
		return line_error(p, "too many arguments");
	p->lit_size = size;
	return LR_LITERAL;
}

static enum line_result
read_atom(struct imap_parser *p, const char *s, size_t *i, size_t n)
{
	size_t end = atom_end(p, s, *i, n);

	if (end == *i)
		return line_error(p, "bad character");
	bool nil = ascii_ci_equal(s + *i, end - *i, "NIL");
	struct imap_arg *a = arg_push(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM);
	a->str = arena_strndup(p, s + *i, end - *i);
	a->len = end - *i;
	*i = end;
	return LR_OK;
}

/* "tag SP name": the first line's start. */
static enum line_result
read_tag_name(struct imap_parser *p, const char *s, size_t *ip, size_t n)
{
	size_t i = 0;

	while (i < n && is_tag_char((unsigned char)s[i]))
		i++;
	if (i == 0 || (i < n && s[i] != ' '))
		return line_error(p, "bad tag");
	p->tag = arena_strndup(p, s, i);
	while (i < n && s[i] == ' ')
		i++;
	size_t start = i;
	while (i < n && is_atom_char((unsigned char)s[i]))
		i++;
	if (i == start)
		return line_error(p, i == n ? "missing command name" : "bad command name");
	if (i < n && s[i] != ' ')
		return line_error(p, "bad command name");
	p->name = arena_strndup(p, s + start, i - start);
	for (char *c = p->name; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	*ip = i;
	p->phase = PH_ARGS;
	p->need_sep = true;
	return LR_OK;
}

/* Tokenise s[n] (a line without its line end). */
static enum line_result
parse_line(struct imap_parser *p, const char *s, size_t n)
{
	size_t i = 0;
	enum line_result r;

	p->no_brackets = false;
	if (p->phase == PH_TAG) {
		if (n == 0)
			return LR_EMPTY;
		if ((r = read_tag_name(p, s, &i, n)) != LR_OK)
			return r;
	}
	for (;;) {
		bool space = false;
		while (i < n && s[i] == ' ') {
			i++;
			space = true;
		}
		if (i == n)
			break;
		char c = s[i];
		if (c == ')') {
			if (p->depth == 0)
				return line_error(p, "unexpected ')'");
			list_close(p);
			p->need_sep = true;
			i++;
			continue;
		}
		if (p->need_sep && !space)
			return line_error(p, "missing space between arguments");
		if (c == '{' || (c == '~' && i + 1 < n && s[i + 1] == '{'))
			return read_marker(p, s, i, n);
		if (!arg_count(p))
			return line_error(p, "too many arguments");
		if (c == '(') {
			if (!list_open(p))
				return line_error(p, "lists nested too deep");
			p->need_sep = false;
			i++;
			continue;
		}
		r = c == '"' ? read_quoted(p, s, &i, n) : read_atom(p, s, &i, n);
		if (r != LR_OK)
			return r;
		p->need_sep = true;
	}
	if (p->depth > 0)
		return line_error(p, "unclosed list");
	return LR_COMMAND;
}

/* --- feeding --- */

/* After an error: skip what is left of the command. The line so far (in
 * s[n]) may end in a non-synchronising literal marker. */
static void
start_skipping(struct imap_parser *p, const char *s, size_t n, bool line_ended)
{
	uint64_t size;

	marker_feed(&p->mk, s, n);
	if (!line_ended) {
		p->state = ST_SKIP_LINE;
		return;
	}
	if (marker_end(&p->mk, &size)) {
		p->skip_left = size;
		p->state = size > 0 ? ST_SKIP_LITERAL : ST_SKIP_LINE;
	} else {
		p->state = ST_LINE;
	}
}

/* The line in p->line (LF included) is complete. Returns MORE to go on. */
static enum imap_parse_event
line_done(struct imap_parser *p)
{
	size_t n = p->line.len - 1;
	const char *s = p->line.data;

	p->cmd_bytes += p->line.len;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	enum line_result r = parse_line(p, s, n);
	enum imap_parse_event ev = IMAP_PARSE_MORE;
	switch (r) {
	case LR_OK: /* parse_line never returns it */
	case LR_EMPTY:
		p->cmd_bytes = 0;
		break;
	case LR_COMMAND:
		p->cmd.tag = p->tag;
		p->cmd.name = p->name;
		p->cmd.args = p->levels[0].v;
		p->cmd.count = p->levels[0].n;
		p->reset_pending = true;
		ev = IMAP_PARSE_COMMAND;
		break;
	case LR_LITERAL:
		p->state = ST_LITERAL_WAIT;
		ev = IMAP_PARSE_LITERAL;
		break;
	case LR_ERROR:
		p->error_tag = p->tag;
		p->reset_pending = true;
		start_skipping(p, p->line.data, p->line.len - 1, true);
		ev = IMAP_PARSE_ERROR;
		break;
	}
	buf_reset(&p->line);
	return ev;
}

/* More than max_line bytes: s[n] fill the line to the limit (all
 * consumed), and no LF came. */
static void
line_too_long(struct imap_parser *p, const char *s, size_t n)
{
	if (buf_add(&p->line, s, n) < 0)
		panic("imap_parser: line buffer full");
	if (p->phase == PH_TAG) {
		/* The tag, when it is whole and valid, for a tagged BAD. */
		size_t i = 0;
		const char *t = p->line.data;
		while (i < p->line.len && is_tag_char((unsigned char)t[i]))
			i++;
		if (i > 0 && i < p->line.len && t[i] == ' ')
			p->tag = arena_strndup(p, t, i);
	}
	p->error = "line too long";
	p->error_tag = p->tag;
	p->reset_pending = true;
	start_skipping(p, p->line.data, p->line.len, false);
	buf_reset(&p->line);
}

static void
literal_done(struct imap_parser *p)
{
	struct imap_arg *a = arg_push(p, IMAP_ARG_LITERAL);

	a->len = p->lit.len;
	a->literal8 = p->lit8;
	if (p->lit.data == NULL) {
		a->str = "";
	} else {
		char *mem = buf_steal(&p->lit);
		arena_adopt(p, mem, a->len + 1);
		a->str = mem;
	}
	buf_release(&p->lit);
	p->need_sep = true;
	p->state = ST_LINE;
}

size_t
imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
		 enum imap_parse_event *event_r)
{
	const char *in = data;
	size_t pos = 0;

	if (p->state == ST_LITERAL_WAIT)
		panic("imap_parser_feed: literal neither accepted nor refused");
	if (p->reset_pending) {
		command_forget(p);
		p->reset_pending = false;
	}
	while (pos < len) {
		size_t avail = len - pos, n;
		switch (p->state) {
		case ST_LINE: {
			/* cmd_bytes + line.len <= max_line always. */
			size_t room = p->limits.max_line - p->cmd_bytes - p->line.len;
			const char *lf = memchr(in + pos, '\n', MIN(avail, room));
			if (lf == NULL && avail >= room) {
				line_too_long(p, in + pos, room);
				*event_r = IMAP_PARSE_ERROR;
				return pos + room;
			}
			n = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : avail;
			if (buf_add(&p->line, in + pos, n) < 0)
				panic("imap_parser: line buffer full");
			pos += n;
			if (lf != NULL) {
				enum imap_parse_event ev = line_done(p);
				if (ev != IMAP_PARSE_MORE) {
					*event_r = ev;
					return pos;
				}
			}
			break;
		}
		case ST_LITERAL:
			n = (size_t)MIN((uint64_t)avail, p->lit_size - p->lit.len);
			if (buf_add(&p->lit, in + pos, n) < 0)
				panic("imap_parser: literal buffer full");
			pos += n;
			if (p->lit.len == p->lit_size)
				literal_done(p);
			break;
		case ST_SKIP_LITERAL:
			n = (size_t)MIN((uint64_t)avail, p->skip_left);
			pos += n;
			p->skip_left -= n;
			if (p->skip_left == 0)
				p->state = ST_SKIP_LINE;
			break;
		case ST_SKIP_LINE: {
			const char *lf = memchr(in + pos, '\n', avail);
			n = lf != NULL ? (size_t)(lf - (in + pos)) : avail;
			marker_feed(&p->mk, in + pos, n);
			pos += n;
			if (lf != NULL) {
				pos++;
				start_skipping(p, NULL, 0, true);
			}
			break;
		}
		case ST_LITERAL_WAIT:
			panic("imap_parser_feed: unreachable state");
		}
	}
	*event_r = IMAP_PARSE_MORE;
	return len;
}

/* --- the rest of the API --- */

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL) {
		p->limits = *limits;
	} else {
		p->limits.max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
		p->limits.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
		p->limits.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	}
	buf_init(&p->line, p->limits.max_line);
	buf_init(&p->lit, 0);
	p->nlevels = 4;
	p->levels = xcalloc(p->nlevels, sizeof(*p->levels));
	p->state = ST_LINE;
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	command_forget(p);
	for (unsigned i = 0; i < p->nlevels; i++)
		free(p->levels[i].v);
	free(p->levels);
	buf_release(&p->line);
	free(p);
	*pp = NULL;
}

const struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

void
imap_parser_literal(const struct imap_parser *p, uint64_t *size_r, bool *sync_r, const char **tag_r,
		    const char **name_r)
{
	*size_r = p->lit_size;
	*sync_r = p->lit_sync;
	*tag_r = p->tag;
	*name_r = p->name;
}

void
imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != ST_LITERAL_WAIT)
		panic("imap_parser_literal_accept: no literal");
	buf_init(&p->lit, (size_t)p->lit_size);
	p->state = ST_LITERAL;
	if (p->lit_size == 0)
		literal_done(p);
}

void
imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != ST_LITERAL_WAIT)
		panic("imap_parser_literal_refuse: no literal");
	p->reset_pending = true;
	if (p->lit_sync)
		p->state = ST_LINE;
	else if (p->lit_size > 0) {
		p->skip_left = p->lit_size;
		p->state = ST_SKIP_LITERAL;
	} else {
		p->state = ST_SKIP_LINE;
	}
}

void
imap_parser_error(const struct imap_parser *p, const char **tag_r, const char **reason_r)
{
	*tag_r = p->error_tag;
	*reason_r = p->error != NULL ? p->error : "bad command";
}

void
imap_parser_reset(struct imap_parser *p)
{
	command_forget(p);
	/* Give back what the last commands grew: an idle session keeps
	 * nothing but the parser itself. */
	for (unsigned i = 0; i < p->nlevels; i++) {
		free(p->levels[i].v);
		p->levels[i] = (struct argvec){0};
	}
	buf_release(&p->line);
	buf_init(&p->line, p->limits.max_line);
	p->mk = (struct marker){.st = MK_NONE};
	p->skip_left = 0;
	p->reset_pending = false;
	p->state = ST_LINE;
}

/* --- helpers for command handlers --- */

const char *
imap_arg_astring(const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL)
		return a->str;
	return imap_arg_string(a);
}

const char *
imap_arg_string(const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_STRING && a->type != IMAP_ARG_LITERAL)
		return NULL;
	/* Text with a NUL would read shorter as a C string than it is. */
	if (memchr(a->str, '\0', a->len) != NULL)
		return NULL;
	return a->str;
}

const char *
imap_arg_atom(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL ? a->str : NULL;
}

static bool
arg_digits(const struct imap_arg *a, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		if (!ascii_is_digit((unsigned char)a->str[i]))
			return false;
		unsigned d = (unsigned)(a->str[i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*n_r = n;
	return true;
}

bool
imap_arg_number(const struct imap_arg *a, uint32_t *n_r)
{
	uint64_t n;

	if (!arg_digits(a, UINT32_MAX, &n))
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool
imap_arg_number64(const struct imap_arg *a, uint64_t *n_r)
{
	return arg_digits(a, (uint64_t)INT64_MAX, n_r);
}

bool
imap_arg_atom_is(const struct imap_arg *a, const char *s)
{
	return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	       ascii_ci_equal(a->str, a->len, s);
}
