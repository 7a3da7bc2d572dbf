/* address.c - RFC 5322 address list parser for ENVELOPE (see address.h). */
#include "lib/common.h"

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/address.h"

struct parser {
	const unsigned char *p;
	size_t n, i;
	struct buf comment; /* the last comment skipped */
	struct mime_address_list *list;
	size_t alloc; /* entries allocated in list->addrs */
	bool cut;
};

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 5322 atext, plus 8-bit bytes (RFC 6532). */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void add_bytes(struct parser *ps, struct buf *b, const unsigned char *src, size_t n);

/* Append src[n] without its NUL bytes (IMAP strings cannot hold them). */
static void
add(struct parser *ps, struct buf *b, const void *src, size_t n)
{
	const unsigned char *p = src, *end = p + n, *nul;

	while (p < end && (nul = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		add_bytes(ps, b, p, (size_t)(nul - p));
		p = nul + 1;
	}
	add_bytes(ps, b, p, (size_t)(end - p));
}

static void
add_bytes(struct parser *ps, struct buf *b, const unsigned char *src, size_t n)
{
	size_t room = b->max - b->len;

	if (n > room) {
		n = room;
		ps->cut = true;
	}
	if (buf_add(b, src, n) < 0)
		ps->cut = true;
}

static void
add_char(struct parser *ps, struct buf *b, unsigned char c)
{
	add(ps, b, &c, 1);
}

/* Skip a comment at ps->i ('('), keeping its text in ps->comment. */
static void
skip_comment(struct parser *ps)
{
	size_t depth = 0;
	bool space = false;

	buf_reset(&ps->comment);
	for (; ps->i < ps->n; ps->i++) {
		unsigned char c = ps->p[ps->i];

		if (c == '\\' && ps->i + 1 < ps->n) {
			c = ps->p[++ps->i];
		} else if (c == '(') {
			if (depth++ == 0)
				continue;
		} else if (c == ')') {
			if (--depth == 0) {
				ps->i++;
				return;
			}
		} else if (c == '\r' || c == '\n') {
			continue;
		}
		if (is_wsp(c)) {
			space = true;
			continue;
		}
		if (space && ps->comment.len > 0)
			add_char(ps, &ps->comment, ' ');
		space = false;
		add_char(ps, &ps->comment, c);
	}
}

static void
skip_cfws(struct parser *ps)
{
	while (ps->i < ps->n) {
		if (is_wsp(ps->p[ps->i]))
			ps->i++;
		else if (ps->p[ps->i] == '(')
			skip_comment(ps);
		else
			break;
	}
}

/* A quoted string at ps->i ('"'), its content appended to b. */
static void
read_quoted(struct parser *ps, struct buf *b)
{
	for (ps->i++; ps->i < ps->n; ps->i++) {
		unsigned char c = ps->p[ps->i];

		if (c == '"') {
			ps->i++;
			return;
		}
		if (c == '\\' && ps->i + 1 < ps->n)
			c = ps->p[++ps->i];
		/* Line breaks are folding, escaped or not. */
		if (c == '\r' || c == '\n')
			continue;
		add_char(ps, b, c);
	}
}

/* Atext (and dots when dots is set) appended to b; true when any. */
static bool
read_atom(struct parser *ps, struct buf *b, bool dots)
{
	size_t start = ps->i;

	while (ps->i < ps->n && (is_atext(ps->p[ps->i]) || (dots && ps->p[ps->i] == '.')))
		ps->i++;
	add(ps, b, ps->p + start, ps->i - start);
	return ps->i > start;
}

/* A phrase (display name) into b: words joined by one space. */
static void
read_phrase(struct parser *ps, struct buf *b)
{
	for (;;) {
		size_t before = b->len;

		skip_cfws(ps);
		if (ps->i >= ps->n)
			return;
		if (before > 0 &&
		    (ps->p[ps->i] == '"' || is_atext(ps->p[ps->i]) || ps->p[ps->i] == '.'))
			add_char(ps, b, ' ');
		if (ps->p[ps->i] == '"')
			read_quoted(ps, b);
		else if (!read_atom(ps, b, true))
			return;
	}
}

/* local-part (dot-atom, quoted string, obs-local-part) into b. */
static void
read_local(struct parser *ps, struct buf *b)
{
	for (;;) {
		skip_cfws(ps);
		if (ps->i < ps->n && ps->p[ps->i] == '"')
			read_quoted(ps, b);
		else
			(void)read_atom(ps, b, false);
		skip_cfws(ps);
		if (ps->i >= ps->n || ps->p[ps->i] != '.')
			return;
		add_char(ps, b, '.');
		ps->i++;
	}
}

/* domain (dot-atom, domain literal, obs-domain) into b. */
static void
read_domain(struct parser *ps, struct buf *b)
{
	skip_cfws(ps);
	if (ps->i < ps->n && ps->p[ps->i] == '[') {
		for (; ps->i < ps->n; ps->i++) {
			unsigned char c = ps->p[ps->i];

			if (c == '\\' && ps->i + 1 < ps->n)
				c = ps->p[++ps->i];
			if (c == '\r' || c == '\n')
				continue;
			add_char(ps, b, c);
			if (c == ']' && ps->p[ps->i] == ']') {
				ps->i++;
				return;
			}
		}
		return;
	}
	for (;;) {
		(void)read_atom(ps, b, false);
		skip_cfws(ps);
		if (ps->i >= ps->n || ps->p[ps->i] != '.')
			return;
		add_char(ps, b, '.');
		ps->i++;
		skip_cfws(ps);
	}
}

static char *
take(struct buf *b)
{
	return b->len == 0 ? NULL : buf_steal(b);
}

static struct mime_address *
append(struct parser *ps)
{
	struct mime_address_list *l = ps->list;
	struct mime_address *a;

	if (l->count == ps->alloc) {
		ps->alloc = ps->alloc == 0 ? 4 : ps->alloc * 2;
		l->addrs = xreallocarray(l->addrs, ps->alloc, sizeof(*l->addrs));
	}
	a = &l->addrs[l->count++];
	memset(a, 0, sizeof(*a));
	return a;
}

/* addr-spec at ps->i into a (name from comment when none given). */
static void
read_addr_spec(struct parser *ps, struct mime_address *a)
{
	struct buf local, domain;

	buf_init(&local, MIME_ADDRESS_STR_MAX);
	buf_init(&domain, MIME_ADDRESS_STR_MAX);
	read_local(ps, &local);
	if (ps->i < ps->n && ps->p[ps->i] == '@') {
		ps->i++;
		read_domain(ps, &domain);
	}
	if (local.len == 0 || domain.len == 0)
		a->invalid = true;
	a->mailbox = local.len > 0 ? buf_steal(&local) : xstrdup(MIME_ADDRESS_MISSING_MAILBOX);
	a->host = domain.len > 0 ? buf_steal(&domain) : xstrdup(MIME_ADDRESS_MISSING_DOMAIN);
	buf_release(&local);
	buf_release(&domain);
}

/* angle-addr after '<': [obs-route] addr-spec '>'. */
static void
read_angle(struct parser *ps, struct mime_address *a)
{
	skip_cfws(ps);
	if (ps->i < ps->n && ps->p[ps->i] == '@') {
		struct buf adl;

		buf_init(&adl, MIME_ADDRESS_STR_MAX);
		while (ps->i < ps->n && ps->p[ps->i] != ':' && ps->p[ps->i] != '>') {
			unsigned char c = ps->p[ps->i];

			if (c == '(') {
				skip_comment(ps);
				continue;
			}
			if (!is_wsp(c))
				add_char(ps, &adl, c);
			ps->i++;
		}
		if (ps->i < ps->n && ps->p[ps->i] == ':')
			ps->i++;
		else
			a->invalid = true;
		a->adl = take(&adl);
		buf_release(&adl);
	}
	read_addr_spec(ps, a);
	skip_cfws(ps);
	if (ps->i < ps->n && ps->p[ps->i] == '>') {
		ps->i++;
		return;
	}
	a->invalid = true;
	while (ps->i < ps->n && ps->p[ps->i] != '>')
		ps->i++;
	if (ps->i < ps->n)
		ps->i++;
}

static bool
full(struct parser *ps)
{
	if (ps->list->count < MIME_ADDRESS_MAX)
		return false;
	ps->list->flags |= MIME_ADDRESS_F_TOO_MANY;
	return true;
}

int
mime_address_parse(const char *value, size_t len, struct mime_address_list *list_r)
{
	struct parser ps = {.p = (const unsigned char *)value, .n = len, .list = list_r};
	bool in_group = false;
	struct buf phrase;
	size_t i;

	memset(list_r, 0, sizeof(*list_r));
	buf_init(&ps.comment, MIME_ADDRESS_STR_MAX);
	buf_init(&phrase, MIME_ADDRESS_STR_MAX);
	for (;;) {
		struct mime_address *a = NULL;
		size_t start;

		buf_reset(&ps.comment);
		skip_cfws(&ps);
		if (ps.i >= ps.n || full(&ps))
			break;
		if (ps.p[ps.i] == ',') {
			ps.i++;
			continue;
		}
		if (ps.p[ps.i] == ';') {
			ps.i++;
			if (in_group) {
				(void)append(&ps);
				in_group = false;
			}
			continue;
		}
		start = ps.i;
		buf_reset(&phrase);
		read_phrase(&ps, &phrase);
		if (ps.i < ps.n && ps.p[ps.i] == ':' && !in_group) {
			ps.i++;
			a = append(&ps);
			a->mailbox = phrase.len > 0 ? buf_steal(&phrase) : xstrdup("");
			in_group = true;
			continue;
		}
		if (ps.i < ps.n && ps.p[ps.i] == '<') {
			char *name = take(&phrase);

			ps.i++;
			if (name == NULL && ps.comment.len > 0)
				name = xstrdup(ps.comment.data);
			a = append(&ps);
			read_angle(&ps, a);
			a->name = name;
		} else {
			struct mime_address tmp = {.invalid = false};

			ps.i = start;
			read_addr_spec(&ps, &tmp);
			if (ps.i == start) {
				/* Nothing an address can start with: skip
				 * to the next one. */
				free(tmp.mailbox);
				free(tmp.host);
				list_r->flags |= MIME_ADDRESS_F_INVALID;
				while (ps.i < ps.n && ps.p[ps.i] != ',' &&
				       !(in_group && ps.p[ps.i] == ';'))
					ps.i++;
				if (ps.i == start)
					ps.i++;
				continue;
			}
			skip_cfws(&ps);
			if (ps.i < ps.n && ps.p[ps.i] == '<') {
				/* "a@b <c@d>": an unquoted address as display
				 * name (common); the angle address is the one. */
				size_t end = ps.i;

				while (end > start &&
				       (ps.p[end - 1] == ' ' || ps.p[end - 1] == '\t' ||
					ps.p[end - 1] == '\r' || ps.p[end - 1] == '\n'))
					end--;
				free(tmp.mailbox);
				free(tmp.host);
				buf_reset(&phrase);
				for (; start < end; start++) {
					if (ps.p[start] != '\r' && ps.p[start] != '\n')
						add(&ps, &phrase, ps.p + start, 1);
				}
				ps.i++;
				a = append(&ps);
				read_angle(&ps, a);
				a->name = take(&phrase);
			} else {
				a = append(&ps);
				*a = tmp;
			}
		}
		skip_cfws(&ps);
		if (a->name == NULL && ps.comment.len > 0)
			a->name = xstrdup(ps.comment.data);
		if (ps.i < ps.n && ps.p[ps.i] != ',' && ps.p[ps.i] != ';') {
			a->invalid = true;
			while (ps.i < ps.n && ps.p[ps.i] != ',' && !(in_group && ps.p[ps.i] == ';'))
				ps.i++;
		}
	}
	if (in_group)
		(void)append(&ps);
	for (i = 0; i < list_r->count; i++) {
		if (list_r->addrs[i].invalid)
			list_r->flags |= MIME_ADDRESS_F_INVALID;
	}
	if (ps.cut)
		list_r->flags |= MIME_ADDRESS_F_STR_CUT;
	buf_release(&phrase);
	buf_release(&ps.comment);
	return 0;
}

void
mime_address_list_clear(struct mime_address_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		free(list->addrs[i].name);
		free(list->addrs[i].adl);
		free(list->addrs[i].mailbox);
		free(list->addrs[i].host);
	}
	free(list->addrs);
	memset(list, 0, sizeof(*list));
}
