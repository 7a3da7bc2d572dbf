/* imap_search_parse.c - SEARCH programs from a command's arguments, and
 * their resolution against a mailbox (see imap_search.h). */
#include "lib/common.h"

#include <time.h>

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/charset.h"

/* What follows a key's name. */
enum key_arg {
	ARG_NONE,
	ARG_STRING,   /* astring, converted and folded into str */
	ARG_FIELD,    /* HEADER: field-name string */
	ARG_DATE,     /* date */
	ARG_NUMBER,   /* nz-number (OLDER, YOUNGER) */
	ARG_NUMBER64, /* number64 (LARGER, SMALLER) */
	ARG_KEYWORD,  /* flag-keyword */
	ARG_SET,      /* sequence-set (UID) */
	ARG_MODSEQ,   /* [entry-name entry-type-req] mod-sequence-valzer */
	ARG_NOT,      /* one key */
	ARG_OR,	      /* two keys */
};

/* The key needs the header, the body, or both, of the message. */
enum key_reads {
	READS_HEADER = 1 << 0,
	READS_BODY = 1 << 1,
};

static const struct key_def {
	const char *name;
	enum imap_search_op op;
	enum key_arg arg;
	unsigned flags;	   /* FLAGS_SET/CLEAR: the flag */
	const char *field; /* header field of FROM, TO, ... */
	unsigned reads;	   /* enum key_reads */
} key_defs[] = {
    {"ALL", IMAP_SK_ALL, ARG_NONE, 0, NULL, 0},
    {"ANSWERED", IMAP_SK_FLAGS_SET, ARG_NONE, STORE_FLAG_ANSWERED, NULL, 0},
    {"BCC", IMAP_SK_HEADER, ARG_STRING, 0, "Bcc", READS_HEADER},
    {"BEFORE", IMAP_SK_BEFORE, ARG_DATE, 0, NULL, 0},
    {"BODY", IMAP_SK_BODY, ARG_STRING, 0, NULL, READS_BODY},
    {"CC", IMAP_SK_HEADER, ARG_STRING, 0, "Cc", READS_HEADER},
    {"DELETED", IMAP_SK_FLAGS_SET, ARG_NONE, STORE_FLAG_DELETED, NULL, 0},
    {"DRAFT", IMAP_SK_FLAGS_SET, ARG_NONE, STORE_FLAG_DRAFT, NULL, 0},
    {"FLAGGED", IMAP_SK_FLAGS_SET, ARG_NONE, STORE_FLAG_FLAGGED, NULL, 0},
    {"FROM", IMAP_SK_HEADER, ARG_STRING, 0, "From", READS_HEADER},
    {"HEADER", IMAP_SK_HEADER, ARG_FIELD, 0, NULL, READS_HEADER},
    {"KEYWORD", IMAP_SK_KEYWORD, ARG_KEYWORD, 0, NULL, 0},
    {"LARGER", IMAP_SK_LARGER, ARG_NUMBER64, 0, NULL, 0},
    {"MODSEQ", IMAP_SK_MODSEQ, ARG_MODSEQ, 0, NULL, 0},
    {"NEW", IMAP_SK_NEW, ARG_NONE, 0, NULL, 0},
    {"NOT", IMAP_SK_NOT, ARG_NOT, 0, NULL, 0},
    {"OLD", IMAP_SK_OLD, ARG_NONE, 0, NULL, 0},
    {"OLDER", IMAP_SK_OLDER, ARG_NUMBER, 0, NULL, 0},
    {"ON", IMAP_SK_ON, ARG_DATE, 0, NULL, 0},
    {"OR", IMAP_SK_OR, ARG_OR, 0, NULL, 0},
    {"RECENT", IMAP_SK_RECENT, ARG_NONE, 0, NULL, 0},
    {"SEEN", IMAP_SK_FLAGS_SET, ARG_NONE, STORE_FLAG_SEEN, NULL, 0},
    {"SENTBEFORE", IMAP_SK_SENTBEFORE, ARG_DATE, 0, NULL, READS_HEADER},
    {"SENTON", IMAP_SK_SENTON, ARG_DATE, 0, NULL, READS_HEADER},
    {"SENTSINCE", IMAP_SK_SENTSINCE, ARG_DATE, 0, NULL, READS_HEADER},
    {"SINCE", IMAP_SK_SINCE, ARG_DATE, 0, NULL, 0},
    {"SMALLER", IMAP_SK_SMALLER, ARG_NUMBER64, 0, NULL, 0},
    {"SUBJECT", IMAP_SK_HEADER, ARG_STRING, 0, "Subject", READS_HEADER},
    {"TEXT", IMAP_SK_TEXT, ARG_STRING, 0, NULL, READS_HEADER | READS_BODY},
    {"TO", IMAP_SK_HEADER, ARG_STRING, 0, "To", READS_HEADER},
    {"UID", IMAP_SK_UIDSET, ARG_SET, 0, NULL, 0},
    {"UNANSWERED", IMAP_SK_FLAGS_CLEAR, ARG_NONE, STORE_FLAG_ANSWERED, NULL, 0},
    {"UNDELETED", IMAP_SK_FLAGS_CLEAR, ARG_NONE, STORE_FLAG_DELETED, NULL, 0},
    {"UNDRAFT", IMAP_SK_FLAGS_CLEAR, ARG_NONE, STORE_FLAG_DRAFT, NULL, 0},
    {"UNFLAGGED", IMAP_SK_FLAGS_CLEAR, ARG_NONE, STORE_FLAG_FLAGGED, NULL, 0},
    {"UNKEYWORD", IMAP_SK_UNKEYWORD, ARG_KEYWORD, 0, NULL, 0},
    {"UNSEEN", IMAP_SK_FLAGS_CLEAR, ARG_NONE, STORE_FLAG_SEEN, NULL, 0},
    {"YOUNGER", IMAP_SK_YOUNGER, ARG_NUMBER, 0, NULL, 0},
};

struct parser {
	struct imap_search_program *prog;
	const char *charset; /* of the strings; "utf-8" without CHARSET */
	size_t nkeys;
	const char *error;
};

static void key_clear(struct imap_search_key *key);

static bool
is_atom(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL;
}

/* The text of an atom (NIL is the atom "NIL"). */
static const char *
atom_text(const struct imap_arg *a, size_t *len_r)
{
	if (a->str == NULL) {
		*len_r = 3;
		return "NIL";
	}
	*len_r = a->len;
	return a->str;
}

static bool
atom_is(const struct imap_arg *a, const char *s)
{
	size_t len;
	const char *text;

	if (!is_atom(a))
		return false;
	text = atom_text(a, &len);
	return ascii_ci_equal(text, len, s);
}

/* An astring (atom, quoted string or literal). */
static int
get_astring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a->type == IMAP_ARG_LIST)
		return -1;
	if (is_atom(a)) {
		*s_r = atom_text(a, len_r);
		return 0;
	}
	*s_r = a->str != NULL ? a->str : "";
	*len_r = a->str != NULL ? a->len : 0;
	return 0;
}

/* Digits only, at most max. */
static int
get_number(const struct imap_arg *a, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t i;

	if (a->type != IMAP_ARG_ATOM || a->str == NULL || a->len == 0 || a->len > 20)
		return -1;
	for (i = 0; i < a->len; i++) {
		unsigned d = (unsigned char)a->str[i] - '0';

		if (d > 9 || n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*n_r = n;
	return 0;
}

/* Convert s[len] from the program's charset and fold it into key->str. */
static int
set_string(struct parser *p, struct imap_search_key *key, const char *s, size_t len)
{
	struct buf utf8, folded;
	int ret = 0;

	/* UTF-8 from any charset is at most 3 bytes per input byte (4 for
	 * UTF-16 surrogate pairs' 4 bytes). */
	buf_init(&utf8, len > SIZE_MAX / 4 - 16 ? SIZE_MAX : len * 4 + 16);
	buf_init(&folded, BUF_UNLIMITED);
	if (mime_charset_to_utf8(&utf8, p->charset, s, len) < 0 ||
	    imap_search_fold(&folded, utf8.data != NULL ? utf8.data : "", utf8.len) < 0) {
		p->error = "Search string too long";
		ret = -1;
	} else {
		key->str_len = folded.len;
		key->str = folded.len > 0 ? buf_steal(&folded) : xstrdup("");
	}
	buf_release(&folded);
	buf_release(&utf8);
	return ret;
}

/* Start (00:00 local time) of the day year-month-(day + add). */
static time_t
local_day_start(int year, int month, int day, int add)
{
	struct tm tm = {0};

	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day + add;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static int
set_date(struct parser *p, struct imap_search_key *key, const struct imap_arg *a)
{
	int year, month, day;

	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING) || a->str == NULL ||
	    imap_search_date_parse(a->str, a->len, &year, &month, &day) < 0) {
		p->error = "Invalid date";
		return -1;
	}
	key->day = imap_search_days(year, month, day);
	key->date = local_day_start(year, month, day, 0);
	key->date_end = local_day_start(year, month, day, 1);
	return 0;
}

static int
set_modseq(struct parser *p, struct imap_search_key *key, const struct imap_arg *args, size_t count,
	   size_t *i)
{
	/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] valzer. The
	 * entry is about per-flag modseqs, which postern does not keep:
	 * checked for syntax and ignored. */
	if (*i < count && args[*i].type == IMAP_ARG_STRING) {
		if (args[*i].len < 7 || memcmp(args[*i].str, "/flags/", 7) != 0 ||
		    *i + 1 >= count ||
		    (!atom_is(&args[*i + 1], "priv") && !atom_is(&args[*i + 1], "shared") &&
		     !atom_is(&args[*i + 1], "all"))) {
			p->error = "Invalid MODSEQ entry";
			return -1;
		}
		*i += 2;
	}
	if (*i >= count || get_number(&args[*i], INT64_MAX, &key->number) < 0) {
		p->error = "Invalid MODSEQ value";
		return -1;
	}
	(*i)++;
	p->prog->has_modseq = true;
	return 0;
}

static int parse_key(struct parser *p, const struct imap_arg *args, size_t count, size_t *i,
		     unsigned depth, struct imap_search_key *key);

/* Keys args[count] as the children of an AND key. Those that read the
 * message go last so that the matcher rarely needs to load it. */
static int
parse_list(struct parser *p, const struct imap_arg *args, size_t count, unsigned depth,
	   struct imap_search_key *key)
{
	size_t i = 0, n = 0, cap = 0, cheap = 0;

	key->op = IMAP_SK_AND;
	if (count == 0) {
		p->error = "Empty search key list";
		return -1;
	}
	while (i < count) {
		struct imap_search_key child;

		if (parse_key(p, args, count, &i, depth, &child) < 0)
			return -1;
		if (n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			key->children = xreallocarray(key->children, cap, sizeof(child));
		}
		key->nchildren = ++n;
		if (child.content) {
			key->children[n - 1] = child;
			key->content = true;
		} else {
			memmove(key->children + cheap + 1, key->children + cheap,
				(n - 1 - cheap) * sizeof(child));
			key->children[cheap++] = child;
		}
	}
	return 0;
}

static int
parse_children(struct parser *p, const struct imap_arg *args, size_t count, size_t *i,
	       unsigned depth, struct imap_search_key *key, size_t n)
{
	size_t k;

	key->children = xcalloc(n, sizeof(*key->children));
	for (k = 0; k < n; k++) {
		if (*i >= count) {
			p->error = "Missing search key";
			return -1;
		}
		if (parse_key(p, args, count, i, depth + 1, &key->children[k]) < 0)
			return -1;
		key->nchildren = k + 1;
		key->content = key->content || key->children[k].content;
	}
	if (n == 2 && key->children[0].content && !key->children[1].content) {
		struct imap_search_key t = key->children[0];

		key->children[0] = key->children[1];
		key->children[1] = t;
	}
	return 0;
}

static int
parse_set(struct parser *p, const char *s, size_t len, struct imap_search_key *key)
{
	const char *error;

	if (imap_seqset_parse(s, len, &key->set, &error) < 0) {
		p->error = error;
		return -1;
	}
	if (key->set.saved) {
		/* "$" is the saved UIDs, also where a sequence set goes. */
		key->saved = true;
		key->set.saved = false;
		key->op = IMAP_SK_UIDSET;
	}
	return 0;
}

static const struct key_def *
find_key(const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < N_ELEMENTS(key_defs); k++) {
		if (ascii_ci_equal(name, len, key_defs[k].name))
			return &key_defs[k];
	}
	return NULL;
}

static int
parse_arg(struct parser *p, const struct key_def *def, const struct imap_arg *args, size_t count,
	  size_t *i, unsigned depth, struct imap_search_key *key)
{
	const char *s;
	size_t len;
	uint64_t n;

	if (def->arg == ARG_NONE)
		return 0;
	if (def->arg == ARG_NOT || def->arg == ARG_OR)
		return parse_children(p, args, count, i, depth, key, def->arg == ARG_OR ? 2 : 1);
	if (def->arg == ARG_MODSEQ)
		return set_modseq(p, key, args, count, i);
	if (*i >= count) {
		p->error = "Missing search key argument";
		return -1;
	}
	const struct imap_arg *a = &args[(*i)++];

	if (def->arg == ARG_FIELD) {
		if (get_astring(a, &s, &len) < 0 || len == 0 || memchr(s, '\0', len) != NULL) {
			p->error = "Invalid header field name";
			return -1;
		}
		key->field = xstrndup(s, len);
		if (*i >= count) {
			p->error = "Missing search key argument";
			return -1;
		}
		a = &args[(*i)++];
	}
	switch (def->arg) {
	case ARG_FIELD:
	case ARG_STRING:
		if (get_astring(a, &s, &len) < 0) {
			p->error = "Invalid search string";
			return -1;
		}
		return set_string(p, key, s, len);
	case ARG_DATE:
		return set_date(p, key, a);
	case ARG_NUMBER:
	case ARG_NUMBER64:
		if (get_number(a, def->arg == ARG_NUMBER ? UINT32_MAX : INT64_MAX, &n) < 0 ||
		    (def->arg == ARG_NUMBER && n == 0)) {
			p->error = "Invalid number";
			return -1;
		}
		key->number = n;
		return 0;
	case ARG_KEYWORD:
	case ARG_SET:
		if (!is_atom(a)) {
			p->error = def->arg == ARG_SET ? "Invalid sequence set" : "Invalid keyword";
			return -1;
		}
		s = atom_text(a, &len);
		if (def->arg == ARG_SET)
			return parse_set(p, s, len, key);
		key->str = xstrndup(s, len);
		key->str_len = len;
		return 0;
	default:
		break;
	}
	p->error = "Invalid search key";
	return -1;
}

static int
parse_key(struct parser *p, const struct imap_arg *args, size_t count, size_t *i, unsigned depth,
	  struct imap_search_key *key)
{
	const struct imap_arg *a = &args[(*i)++];
	const struct key_def *def;
	const char *name;
	size_t len;

	memset(key, 0, sizeof(*key));
	if (depth >= IMAP_SEARCH_MAX_DEPTH) {
		p->error = "Search program nested too deeply";
		return -1;
	}
	if (++p->nkeys > IMAP_SEARCH_MAX_KEYS) {
		p->error = "Too many search keys";
		return -1;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (parse_list(p, a->list, a->count, depth + 1, key) < 0)
			goto fail;
		return 0;
	}
	if (!is_atom(a)) {
		p->error = "Invalid search key";
		return -1;
	}
	name = atom_text(a, &len);
	if (ascii_is_digit((unsigned char)name[0]) || name[0] == '*' || name[0] == '$') {
		key->op = IMAP_SK_SEQSET;
		return parse_set(p, name, len, key);
	}
	def = find_key(name, len);
	if (def == NULL) {
		p->error = "Unknown search key";
		return -1;
	}
	key->op = def->op;
	key->flags = def->flags;
	if (def->field != NULL)
		key->field = xstrdup(def->field);
	if (parse_arg(p, def, args, count, i, depth, key) < 0)
		goto fail;
	if (def->reads != 0) {
		key->content = true;
		if ((def->reads & READS_HEADER) != 0)
			p->prog->needs_header = true;
		if ((def->reads & READS_BODY) != 0)
			p->prog->needs_body = true;
	}
	return 0;
fail:
	key_clear(key);
	return -1;
}

static int
parse_return(struct parser *p, const struct imap_arg *a)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"MIN", IMAP_SEARCH_RET_MIN},   {"MAX", IMAP_SEARCH_RET_MAX},
	    {"ALL", IMAP_SEARCH_RET_ALL},   {"COUNT", IMAP_SEARCH_RET_COUNT},
	    {"SAVE", IMAP_SEARCH_RET_SAVE},
	};
	size_t i, k;

	if (a->type != IMAP_ARG_LIST) {
		p->error = "RETURN needs a list";
		return -1;
	}
	p->prog->esearch = true;
	for (i = 0; i < a->count; i++) {
		for (k = 0; k < N_ELEMENTS(opts); k++) {
			if (atom_is(&a->list[i], opts[k].name))
				break;
		}
		if (k == N_ELEMENTS(opts)) {
			p->error = "Unknown RETURN option";
			return -1;
		}
		p->prog->ret |= opts[k].bit;
	}
	if (p->prog->ret == 0)
		p->prog->ret = IMAP_SEARCH_RET_ALL; /* RFC 4731 3.1 */
	if (p->prog->ret == IMAP_SEARCH_RET_SAVE)
		p->prog->esearch = false; /* RFC 5182 2.1 */
	return 0;
}

static int
parse_charset(struct parser *p, const struct imap_arg *a, bool *badcharset_r)
{
	struct buf probe;
	const char *s;
	size_t len;
	int ret;

	if (get_astring(a, &s, &len) < 0) {
		p->error = "Invalid charset";
		return -1;
	}
	/* Converting nothing tells whether iconv knows the charset. */
	buf_init(&probe, 16);
	ret = memchr(s, '\0', len) != NULL || !mime_charset_name_valid(s, len) ||
	      mime_charset_to_utf8(&probe, s, "", 0) != 0;
	buf_release(&probe);
	if (ret) {
		*badcharset_r = true;
		p->error = "Unsupported charset";
		return -1;
	}
	p->charset = s;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t count, struct imap_search_program *prog_r,
		  bool *badcharset_r, const char **error_r)
{
	struct parser p = {.prog = prog_r, .charset = "utf-8"};
	size_t i = 0;

	memset(prog_r, 0, sizeof(*prog_r));
	*badcharset_r = false;
	if (i + 1 < count && atom_is(&args[i], "RETURN")) {
		if (parse_return(&p, &args[i + 1]) < 0)
			goto fail;
		i += 2;
	}
	if (i + 1 < count && atom_is(&args[i], "CHARSET")) {
		if (parse_charset(&p, &args[i + 1], badcharset_r) < 0)
			goto fail;
		i += 2;
	}
	if (i >= count) {
		p.error = "Missing search key";
		goto fail;
	}
	if (parse_list(&p, args + i, count - i, 0, &prog_r->root) < 0)
		goto fail;
	return 0;
fail:
	imap_search_clear(prog_r);
	*error_r = p.error;
	return -1;
}

static void
key_clear(struct imap_search_key *key)
{
	size_t i;

	for (i = 0; i < key->nchildren; i++)
		key_clear(&key->children[i]);
	free(key->children);
	imap_seqset_clear(&key->set);
	free(key->field);
	free(key->str);
	memset(key, 0, sizeof(*key));
}

void
imap_search_clear(struct imap_search_program *prog)
{
	key_clear(&prog->root);
	memset(prog, 0, sizeof(*prog));
}

/* Fill a "$" set with the saved UIDs (ascending, as runs). */
static void
set_from_saved(struct imap_seqset *set, const uint32_t *saved, size_t nsaved)
{
	size_t i;

	imap_seqset_clear(set);
	if (nsaved == 0)
		return;
	set->ranges = xcalloc(nsaved, sizeof(*set->ranges));
	for (i = 0; i < nsaved; i++) {
		if (set->count > 0 && set->ranges[set->count - 1].hi + 1 == saved[i] &&
		    saved[i] != 0) {
			set->ranges[set->count - 1].hi = saved[i];
		} else {
			set->ranges[set->count].lo = saved[i];
			set->ranges[set->count++].hi = saved[i];
		}
	}
}

static void
key_resolve(struct imap_search_key *key, uint32_t nmessages, uint32_t max_uid,
	    const uint32_t *saved, size_t nsaved)
{
	size_t i;

	for (i = 0; i < key->nchildren; i++)
		key_resolve(&key->children[i], nmessages, max_uid, saved, nsaved);
	if (key->saved)
		set_from_saved(&key->set, saved, nsaved);
	if (key->op == IMAP_SK_SEQSET)
		imap_seqset_resolve(&key->set, nmessages);
	else if (key->op == IMAP_SK_UIDSET)
		imap_seqset_resolve(&key->set, max_uid);
}

void
imap_search_resolve(struct imap_search_program *prog, uint32_t nmessages, uint32_t max_uid,
		    const uint32_t *saved, size_t nsaved)
{
	key_resolve(&prog->root, nmessages, max_uid, saved, nsaved);
}
