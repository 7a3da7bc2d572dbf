/* imapd_mbox.c - mailbox names and the commands on mailboxes as a whole:
 * LIST (RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154
 * SPECIAL-USE, RFC 3348 CHILDREN), LSUB, NAMESPACE, STATUS, CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.
 *
 * Names travel in modified UTF-7 (RFC 3501 5.1.3), or UTF-8 once the
 * client enabled UTF8=ACCEPT or IMAP4rev2; the store knows them in UTF-8
 * with '.' as the hierarchy separator and refuses every name that could
 * not be one safe directory (mailbox_name_resolve).
 */
#include "lib/common.h"

#include <errno.h>

#include "imap/imap_pattern.h"
#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "store/names.h"

#define SEP "."
/* Patterns in one LIST (RFC 5258 allows a list): each is matched against
 * every mailbox. */
#define IMAPD_LIST_PATTERNS_MAX 32

int
imapd_mailbox_arg(struct imapd *s, const char *tag, const struct imap_arg *arg, struct buf *name)
{
	const char *raw = imap_arg_astring(arg), *error;

	if (raw == NULL) {
		imapd_bad(s, tag, "Mailbox name expected");
		return -1;
	}
	if (arg->len > STORE_MAILBOX_NAME_MAX * 4 || memchr(raw, '\0', arg->len) != NULL) {
		imapd_tagged(s, tag, "NO", "[CANNOT] Invalid mailbox name");
		return -1;
	}
	buf_reset(name);
	if (s->utf8 || s->rev2) {
		/* UTF-8 names (RFC 6855 3): '&' is an ordinary character. */
		if (!utf8_valid(raw, arg->len) || buf_add(name, raw, arg->len) < 0) {
			imapd_tagged(s, tag, "NO", "[CANNOT] Invalid mailbox name");
			return -1;
		}
	} else if (mutf7_decode(raw, arg->len, name) < 0) {
		imapd_tagged(s, tag, "NO",
			     "[CANNOT] Invalid mailbox name (modified UTF-7 expected)");
		return -1;
	}
	/* The store's own check, and its normal form ("inbox.x" is
	 * "INBOX.x"), so that names compare equal in this session. */
	struct buf norm, dir;
	buf_init(&norm, STORE_MAILBOX_NAME_MAX);
	buf_init(&dir, BUF_UNLIMITED);
	int r = mailbox_name_resolve(buf_cstr(name), &norm, &dir, &error);
	if (r < 0) {
		imapd_tagged(s, tag, "NO", "[CANNOT] Invalid mailbox name: %s", error);
	} else {
		buf_reset(name);
		r = buf_add(name, norm.data, norm.len); /* norm is shorter than name's cap */
	}
	buf_release(&norm);
	buf_release(&dir);
	return r;
}

/* ASTRING-CHAR (RFC 9051 9): ATOM-CHAR or ']'. */
static bool
astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\\\"", c) == NULL;
}

/* A name goes out as an atom when it can (as clients are used to:
 * INBOX, Sent), else quoted or as a literal. */
static void
put_astring(struct imapd *s, struct evbuffer *out, const char *str, size_t len)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(str, "NIL", 3) == 0);

	for (size_t i = 0; i < len && atom; i++)
		atom = astring_char((unsigned char)str[i]);
	if (atom)
		evbuffer_add(out, str, len);
	else
		imapd_put_string(s, out, str, len);
}

void
imapd_put_mailbox(struct imapd *s, struct evbuffer *out, const char *name)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (!s->utf8 && !s->rev2) {
		if (mutf7_encode(name, strlen(name), &b) < 0)
			buf_reset(&b);
		put_astring(s, out, buf_cstr(&b), b.len);
	} else {
		put_astring(s, out, name, strlen(name));
	}
	buf_release(&b);
}

/* ---- LIST ---- */

/* One pattern of a LIST, compiled. INBOX is matched case-insensitively:
 * names under INBOX go against the pattern with a leading "inbox", in
 * whatever case it was sent, upper-cased. */
struct list_pattern {
	struct imap_pattern *as_sent;
	struct imap_pattern *inbox; /* NULL unless the pattern starts with "inbox" */
	bool parents;		    /* has a '%': missing parents are listed */
};

/* Compile pat (taken) for names of at most longest bytes. */
static void
list_pattern_compile(char *pat, size_t longest, struct list_pattern *lp)
{
	size_t len = strlen(pat);

	lp->as_sent = imap_pattern_new(pat, len, SEP[0], longest);
	lp->inbox = NULL;
	if (strncasecmp(pat, "INBOX", 5) == 0) {
		memcpy(pat, "INBOX", 5);
		lp->inbox = imap_pattern_new(pat, len, SEP[0], longest);
	}
	lp->parents = strchr(pat, '%') != NULL;
	free(pat);
}

static void
list_patterns_free(struct list_pattern *lps, size_t n)
{
	for (size_t p = 0; lps != NULL && p < n; p++) {
		imap_pattern_free(&lps[p].as_sent);
		imap_pattern_free(&lps[p].inbox);
	}
	free(lps);
}

static bool
list_match(struct list_pattern *lp, const char *name)
{
	if (lp->inbox != NULL && strncmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == SEP[0]))
		return imap_pattern_match(lp->inbox, name);
	return imap_pattern_match(lp->as_sent, name);
}

enum list_opt {
	LIST_SEL_SUBSCRIBED = 1 << 0,
	LIST_SEL_RECURSIVE = 1 << 1,
	LIST_SEL_SPECIAL = 1 << 2,
	LIST_RET_SUBSCRIBED = 1 << 3,
	LIST_RET_CHILDREN = 1 << 4,
	LIST_RET_SPECIAL = 1 << 5,
	LIST_RET_STATUS = 1 << 6,
	LIST_EXTENDED = 1 << 7, /* some extended syntax was used */
	LIST_LSUB = 1 << 8,
};

static int status_items(struct imapd *s, const char *tag, const struct imap_arg *list,
			unsigned *items_r);
static void status_send(struct imapd *s, const char *name, unsigned items, bool quiet_missing);

static void
list_reply(struct imapd *s, const char *name, const char *attrs, bool child_info, unsigned opts)
{
	struct evbuffer *out = imapd_out(s);

	evbuffer_add_printf(out, "* %s (%s) \"" SEP "\" ", opts & LIST_LSUB ? "LSUB" : "LIST",
			    attrs);
	imapd_put_mailbox(s, out, name);
	if (child_info)
		evbuffer_add_printf(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	evbuffer_add(out, "\r\n", 2);
}

/* A name above mailboxes that is no mailbox: the first len bytes of
 * list[box].name (a few bytes, however long the name). */
struct list_parent {
	uint32_t box, len;
	bool told;
};

/* One LIST command's view of the mailboxes, and what it derives from
 * them once for all its patterns, so that a command costs O(n log n) in
 * the number of mailboxes (times the length of a name), not O(n^2). */
struct list_ctx {
	struct store_mailbox_info *list; /* INBOX first, then in name order */
	size_t n;
	unsigned opts, status;
	bool *told;		/* list[i] was answered (for an earlier pattern) */
	bool *subscribed_below; /* a subscribed mailbox is below list[i] */
	bool have_below;
	struct list_parent *parents; /* as met */
	size_t nparents, parents_alloc;
	bool have_parents;
};

/* strcmp order of p[0..len) and the string b. */
static int
name_cmp(const char *p, size_t len, const char *b)
{
	size_t blen = strlen(b);
	int r = memcmp(p, b, MIN(len, blen));

	return r != 0 ? r : len < blen ? -1 : len > blen ? 1 : 0;
}

/* The index of the mailbox named p[0..len), or -1. */
static ssize_t
list_find(const struct list_ctx *ctx, const char *p, size_t len)
{
	size_t lo = 0, hi = ctx->n;

	if (ctx->n > 0 && strcmp(ctx->list[0].name, "INBOX") == 0) {
		if (name_cmp(p, len, "INBOX") == 0)
			return 0;
		lo = 1;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = name_cmp(p, len, ctx->list[mid].name);
		if (r == 0)
			return (ssize_t)mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* For each mailbox list[i] (only the subscribed ones: subscribed_only),
 * each of its ancestors ("a.b", then "a", of "a.b.c": the first len bytes
 * of its name) that no mailbox before it has: fn(ctx, i, len). The names
 * below an ancestor are neighbours in name order, so an ancestor shared
 * with an earlier mailbox is shared with the one just before; comparing
 * with that one is enough. */
static void
each_new_ancestor(struct list_ctx *ctx, bool subscribed_only,
		  void (*fn)(struct list_ctx *ctx, size_t i, size_t len))
{
	const char *prev = "";

	for (size_t i = 0; i < ctx->n; i++) {
		const char *name = ctx->list[i].name;
		if (subscribed_only && !ctx->list[i].subscribed)
			continue;
		size_t same = 0; /* bytes in common with prev */
		while (name[same] != '\0' && name[same] == prev[same])
			same++;
		/* An ancestor ending (at its '.') before the first difference
		 * is one of prev's too. */
		for (size_t len = strlen(name); len-- > same;)
			if (name[len] == SEP[0])
				fn(ctx, i, len);
		prev = name;
	}
}

static void
mark_subscribed_below(struct list_ctx *ctx, size_t i, size_t len)
{
	ssize_t k = list_find(ctx, ctx->list[i].name, len);

	if (k >= 0)
		ctx->subscribed_below[k] = true;
}

/* Does a subscribed mailbox lie below list[i] (RECURSIVEMATCH)? */
static bool
has_subscribed_child(struct list_ctx *ctx, size_t i)
{
	if (!ctx->have_below) {
		ctx->subscribed_below = xcalloc(ctx->n + 1, sizeof(*ctx->subscribed_below));
		each_new_ancestor(ctx, true, mark_subscribed_below);
		ctx->have_below = true;
	}
	return ctx->subscribed_below[i];
}

static void
add_missing_parent(struct list_ctx *ctx, size_t i, size_t len)
{
	if (list_find(ctx, ctx->list[i].name, len) >= 0)
		return;
	if (ctx->nparents == ctx->parents_alloc) {
		ctx->parents_alloc = ctx->parents_alloc < 16 ? 16 : 2 * ctx->parents_alloc;
		ctx->parents =
		    xreallocarray(ctx->parents, ctx->parents_alloc, sizeof(*ctx->parents));
	}
	ctx->parents[ctx->nparents++] =
	    (struct list_parent){.box = (uint32_t)i, .len = (uint32_t)len};
}

/* The parents that are no mailboxes, found once per command. */
static size_t
list_parents(struct list_ctx *ctx)
{
	if (!ctx->have_parents) {
		each_new_ancestor(ctx, (ctx->opts & LIST_SEL_SUBSCRIBED) != 0, add_missing_parent);
		ctx->have_parents = true;
	}
	return ctx->nparents;
}

/* A parent that does not exist as a mailbox but whose children do is
 * listed (\NonExistent or \Noselect) when '%' stops at its level; with
 * SUBSCRIBED, only parents of subscribed mailboxes. */
static void
list_parent(struct imapd *s, struct list_ctx *ctx, struct list_pattern *lp, size_t k,
	    struct buf *name)
{
	struct list_parent *p = &ctx->parents[k];

	if (p->told)
		return;
	buf_reset(name);
	if (buf_add(name, ctx->list[p->box].name, p->len) < 0)
		panic("imapd: list parent");
	if (!list_match(lp, buf_cstr(name)))
		return;
	p->told = true;
	if (ctx->opts & LIST_SEL_SUBSCRIBED)
		list_reply(s, buf_cstr(name), "\\NonExistent", true, ctx->opts);
	else
		list_reply(s, buf_cstr(name), "\\Noselect \\HasChildren", false, ctx->opts);
}

static void
list_ctx_clear(struct list_ctx *ctx)
{
	free(ctx->parents);
	free(ctx->subscribed_below);
	free(ctx->told);
}

/* list[i], when it matches and was not told for an earlier pattern. */
static void
list_mailbox(struct imapd *s, struct list_ctx *ctx, struct list_pattern *lp, size_t i,
	     struct buf *attrs)
{
	const struct store_mailbox_info *m = &ctx->list[i];
	unsigned opts = ctx->opts;
	bool child_info = false;

	if (ctx->told[i] || !list_match(lp, m->name))
		return;
	if ((opts & LIST_SEL_SPECIAL) && m->special == STORE_SPECIAL_NONE)
		return;
	if ((opts & LIST_SEL_SUBSCRIBED) && !m->subscribed) {
		if (!(opts & LIST_SEL_RECURSIVE) || !has_subscribed_child(ctx, i))
			return;
		child_info = true;
	}
	ctx->told[i] = true;
	buf_reset(attrs);
	bool ok = buf_add_str(attrs, m->has_children ? "\\HasChildren" : "\\HasNoChildren") == 0;
	if (m->special != STORE_SPECIAL_NONE && !(opts & LIST_LSUB))
		ok = ok && buf_printf(attrs, " %s", store_special_name(m->special)) == 0;
	if ((opts & (LIST_RET_SUBSCRIBED | LIST_SEL_SUBSCRIBED)) && m->subscribed &&
	    !(opts & LIST_LSUB))
		ok = ok && buf_add_str(attrs, " \\Subscribed") == 0;
	if (!ok)
		panic("imapd: list attributes");
	list_reply(s, m->name, buf_cstr(attrs), child_info, opts);
	if ((opts & LIST_RET_STATUS) && !child_info)
		status_send(s, m->name, ctx->status, true);
}

/* A LIST answered as the client reads it, as FETCH is: one answer may
 * hold a million lines (10,000 folders, each with its missing parents).
 * It stops while IMAPD_OUTPUT_HIGH bytes wait to be sent, and after
 * LIST_STEP names matched, so that the worker's other sessions are
 * served meanwhile; the commands after it wait. */
#define LIST_STEP 4096

struct imapd_list_job {
	char *tag;
	bool lsub;
	struct list_ctx ctx; /* owns the mailbox list */
	struct list_pattern *pats;
	size_t npats;
	size_t p; /* the pattern being answered */
	size_t i; /* its next mailbox, then its next parent (i - ctx.n) */
	struct buf scratch;
	struct event *again; /* after LIST_STEP names */
};

void
imapd_list_free(struct imapd *s)
{
	struct imapd_list_job *job = s->list;

	if (job == NULL)
		return;
	list_patterns_free(job->pats, job->npats);
	list_ctx_clear(&job->ctx);
	store_mailbox_list_free(&job->ctx.list, job->ctx.n);
	buf_release(&job->scratch);
	if (job->again != NULL)
		event_free(job->again);
	free(job->tag);
	free(job);
	s->list = NULL;
	if (s->wait == IMAPD_WAIT_OUTPUT)
		s->wait = IMAPD_WAIT_NONE;
}

/* Answer until done (true), or paused: the output is full, or LIST_STEP
 * names were matched. */
static bool
list_run(struct imapd *s, struct imapd_list_job *job)
{
	struct list_ctx *ctx = &job->ctx;
	size_t steps = 0;

	for (; job->p < job->npats; job->p++, job->i = 0) {
		struct list_pattern *lp = &job->pats[job->p];
		size_t end = ctx->n + (lp->parents ? list_parents(ctx) : 0);
		for (; job->i < end; job->i++) {
			if (steps++ == LIST_STEP || imapd_output_high(s))
				return false;
			if (job->i < ctx->n)
				list_mailbox(s, ctx, lp, job->i, &job->scratch);
			else
				list_parent(s, ctx, lp, job->i - ctx->n, &job->scratch);
		}
	}
	return true;
}

static void
list_again(evutil_socket_t fd, short what, void *arg)
{
	struct imapd *s = arg;

	(void)fd;
	(void)what;
	imapd_list_continue(s);
	imapd_resume(s);
}

void
imapd_list_continue(struct imapd *s)
{
	struct imapd_list_job *job = s->list;

	s->wait = IMAPD_WAIT_NONE;
	if (job == NULL)
		return;
	if (!list_run(s, job)) {
		s->wait = IMAPD_WAIT_OUTPUT;
		/* Not held by the output: on again once the loop has served
		 * the other events (imapd_drained goes on otherwise). */
		if (!imapd_output_high(s))
			event_active(job->again, EV_TIMEOUT, 0);
		return;
	}
	imapd_tagged(s, job->tag, "OK", "%s completed", job->lsub ? "LSUB" : "LIST");
	imapd_list_free(s);
}

/* Reference and pattern make one pattern (RFC 3501 6.3.8): the reference
 * is a prefix. */
static char *
list_pattern(const struct buf *ref, const struct buf *pat)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (buf_add(&b, ref->data, ref->len) < 0 || buf_add(&b, pat->data, pat->len) < 0)
		panic("imapd: list pattern");
	return buf_steal(&b);
}

/* A pattern argument to UTF-8 (wildcards pass through mUTF-7 decoding). */
static int
pattern_arg(struct imapd *s, const struct imap_arg *a, struct buf *out)
{
	const char *raw = imap_arg_astring(a);

	buf_reset(out);
	if (raw == NULL || memchr(raw, '\0', a->len) != NULL || a->len > 4096)
		return -1;
	if (s->utf8 || s->rev2)
		return utf8_valid(raw, a->len) ? buf_add(out, raw, a->len) : -1;
	return mutf7_decode(raw, a->len, out);
}

static int
list_options(struct imapd *s, const char *tag, const struct imap_arg *a, bool ret, unsigned *opts,
	     unsigned *status)
{
	for (size_t i = 0; i < a->count; i++) {
		const char *o = imap_arg_atom(&a->list[i]);
		if (o == NULL) {
			imapd_bad(s, tag, "Invalid LIST option");
			return -1;
		}
		if (!ret && strcasecmp(o, "SUBSCRIBED") == 0)
			*opts |= LIST_SEL_SUBSCRIBED | LIST_RET_SUBSCRIBED;
		else if (!ret && strcasecmp(o, "RECURSIVEMATCH") == 0)
			*opts |= LIST_SEL_RECURSIVE;
		else if (!ret && strcasecmp(o, "SPECIAL-USE") == 0)
			*opts |= LIST_SEL_SPECIAL;
		else if (!ret && strcasecmp(o, "REMOTE") == 0)
			;
		else if (ret && strcasecmp(o, "SUBSCRIBED") == 0)
			*opts |= LIST_RET_SUBSCRIBED;
		else if (ret && strcasecmp(o, "CHILDREN") == 0)
			*opts |= LIST_RET_CHILDREN;
		else if (ret && strcasecmp(o, "SPECIAL-USE") == 0)
			*opts |= LIST_RET_SPECIAL;
		else if (ret && strcasecmp(o, "STATUS") == 0 && i + 1 < a->count &&
			 a->list[i + 1].type == IMAP_ARG_LIST) {
			if (status_items(s, tag, &a->list[++i], status) < 0)
				return -1;
			*opts |= LIST_RET_STATUS;
		} else {
			imapd_bad(s, tag, "Unknown LIST option %.40s", o);
			return -1;
		}
	}
	if ((*opts & LIST_SEL_RECURSIVE) && !(*opts & (LIST_SEL_SUBSCRIBED | LIST_SEL_SPECIAL))) {
		imapd_bad(s, tag, "RECURSIVEMATCH needs another selection option");
		return -1;
	}
	return 0;
}

static void
list_common(struct imapd *s, const struct imap_command *cmd, bool lsub)
{
	const struct imap_arg *a = cmd->args;
	size_t n = cmd->count, i = 0;
	unsigned opts = lsub ? LIST_LSUB | LIST_SEL_SUBSCRIBED : 0, status = 0;
	struct buf ref, pat;
	struct store_mailbox_info *list = NULL;
	struct list_pattern *lps = NULL;
	char **fulls = NULL;
	struct imapd_list_job *job;
	size_t count = 0;
	const char *error;

	if (!lsub && n > 0 && a[0].type == IMAP_ARG_LIST) {
		if (list_options(s, cmd->tag, &a[0], false, &opts, &status) < 0)
			return;
		opts |= LIST_EXTENDED;
		i++;
	}
	if (n < i + 2) {
		imapd_bad(s, cmd->tag, "Usage: %s reference mailbox", lsub ? "LSUB" : "LIST");
		return;
	}
	const struct imap_arg *ref_arg = &a[i], *pats = &a[i + 1];
	size_t npats = 1;
	if (!lsub && pats->type == IMAP_ARG_LIST) {
		npats = pats->count;
		pats = pats->list;
		opts |= LIST_EXTENDED;
		/* Each pattern is matched against every mailbox. */
		if (npats > IMAPD_LIST_PATTERNS_MAX) {
			imapd_bad(s, cmd->tag, "Too many LIST patterns (at most %d)",
				  IMAPD_LIST_PATTERNS_MAX);
			return;
		}
	}
	i += 2;
	if (!lsub && i < n) {
		if (i + 2 != n || !imap_arg_atom_is(&a[i], "RETURN") ||
		    a[i + 1].type != IMAP_ARG_LIST) {
			imapd_bad(s, cmd->tag, "Invalid LIST arguments");
			return;
		}
		if (list_options(s, cmd->tag, &a[i + 1], true, &opts, &status) < 0)
			return;
	} else if (i != n) {
		imapd_bad(s, cmd->tag, "Invalid %s arguments", lsub ? "LSUB" : "LIST");
		return;
	}
	buf_init(&ref, BUF_UNLIMITED);
	buf_init(&pat, BUF_UNLIMITED);
	if (pattern_arg(s, ref_arg, &ref) < 0) {
		imapd_bad(s, cmd->tag, "Invalid reference name");
		goto out;
	}
	/* LIST "" "": the hierarchy delimiter and root. */
	if (npats == 1 && pattern_arg(s, pats, &pat) == 0 && pat.len == 0 && !lsub) {
		imapd_untagged(s, "LIST (\\Noselect) \"" SEP "\" \"\"");
		imapd_tagged(s, cmd->tag, "OK", "LIST completed");
		goto out;
	}
	fulls = xcalloc(npats, sizeof(*fulls));
	for (size_t p = 0; p < npats; p++) {
		if (pattern_arg(s, &pats[p], &pat) < 0) {
			imapd_bad(s, cmd->tag, "Invalid mailbox pattern");
			goto out;
		}
		fulls[p] = list_pattern(&ref, &pat);
	}
	if (store_mailbox_list(s->su, &list, &count, &error) < 0) {
		imapd_store_failed(s, cmd->tag, lsub ? "LSUB" : "LIST", error);
		goto out;
	}
	/* The patterns take memory up to the longest name's length. */
	size_t longest = 0;
	for (size_t k = 0; k < count; k++)
		longest = MAX(longest, strlen(list[k].name));
	lps = xcalloc(npats, sizeof(*lps));
	for (size_t p = 0; p < npats; p++) {
		list_pattern_compile(fulls[p], longest, &lps[p]);
		fulls[p] = NULL;
	}
	job = xcalloc(1, sizeof(*job));
	job->tag = xstrdup(cmd->tag);
	job->lsub = lsub;
	job->ctx = (struct list_ctx){.list = list, .n = count, .opts = opts, .status = status};
	job->ctx.told = xcalloc(count + 1, sizeof(*job->ctx.told));
	job->pats = lps;
	job->npats = npats;
	buf_init(&job->scratch, BUF_UNLIMITED);
	job->again = event_new(s->conn->srv->base, -1, 0, list_again, s);
	if (job->again == NULL)
		fatal("imapd: event_new failed");
	s->list = job;
	list = NULL, lps = NULL;
	imapd_list_continue(s);
out:
	list_patterns_free(lps, npats);
	for (size_t p = 0; fulls != NULL && p < npats; p++)
		free(fulls[p]);
	free(fulls);
	store_mailbox_list_free(&list, count);
	buf_release(&ref);
	buf_release(&pat);
}

void
imapd_cmd_list(struct imapd *s, const struct imap_command *cmd)
{
	list_common(s, cmd, false);
}

void
imapd_cmd_lsub(struct imapd *s, const struct imap_command *cmd)
{
	list_common(s, cmd, true);
}

void
imapd_cmd_namespace(struct imapd *s, const struct imap_command *cmd)
{
	imapd_untagged(s, "NAMESPACE ((\"\" \"" SEP "\")) NIL NIL");
	imapd_tagged(s, cmd->tag, "OK", "NAMESPACE completed");
}

/* ---- STATUS ---- */

enum status_item {
	ST_MESSAGES = 1 << 0,
	ST_RECENT = 1 << 1,
	ST_UIDNEXT = 1 << 2,
	ST_UIDVALIDITY = 1 << 3,
	ST_UNSEEN = 1 << 4,
	ST_HIGHESTMODSEQ = 1 << 5,
	ST_SIZE = 1 << 6,
	ST_DELETED = 1 << 7,
};

static int
status_items(struct imapd *s, const char *tag, const struct imap_arg *list, unsigned *items_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"MESSAGES", ST_MESSAGES}, {"RECENT", ST_RECENT},
	    {"UIDNEXT", ST_UIDNEXT},   {"UIDVALIDITY", ST_UIDVALIDITY},
	    {"UNSEEN", ST_UNSEEN},     {"HIGHESTMODSEQ", ST_HIGHESTMODSEQ},
	    {"SIZE", ST_SIZE},	       {"DELETED", ST_DELETED},
	};

	*items_r = 0;
	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		imapd_bad(s, tag, "STATUS needs a list of items");
		return -1;
	}
	for (size_t i = 0; i < list->count; i++) {
		size_t k;
		for (k = 0; k < N_ELEMENTS(names); k++)
			if (imap_arg_atom_is(&list->list[i], names[k].name))
				break;
		if (k == N_ELEMENTS(names)) {
			imapd_bad(s, tag, "Unknown STATUS item");
			return -1;
		}
		*items_r |= names[k].bit;
	}
	return 0;
}

/* Messages flagged \Deleted: counted by reading the mailbox's rows. */
static int
count_deleted(struct imapd *s, const char *name, uint32_t *n_r, const char **error_r)
{
	struct store_mailbox *box;
	struct store_iter *it;
	const struct store_message *m;
	int r;

	*n_r = 0;
	if (store_mailbox_open(s->su, name, true, &box, error_r) < 0)
		return -1;
	if (store_iter_init(box, 1, UINT32_MAX, 0, &it, error_r) < 0) {
		store_mailbox_close(&box);
		return -1;
	}
	while ((r = store_iter_next(it, &m, error_r)) > 0)
		if (m->flags & STORE_FLAG_DELETED)
			(*n_r)++;
	store_iter_free(&it);
	store_mailbox_close(&box);
	return r;
}

/* "* STATUS name (...)"; false when the mailbox is missing or fails. */
static bool
status_reply(struct imapd *s, const char *name, unsigned items, const char **error_r, int *errno_r)
{
	struct store_mailbox_info info;
	uint32_t deleted = 0;
	struct buf b;

	if (store_mailbox_info(s->su, name, &info, error_r) < 0) {
		*errno_r = errno;
		return false;
	}
	/* The selected mailbox: what this session has been told. */
	if (s->view != NULL && strcmp(s->view->name, info.name) == 0 && (items & ST_MESSAGES))
		info.messages = (uint32_t)s->view->count;
	if ((items & ST_DELETED) && count_deleted(s, info.name, &deleted, error_r) < 0) {
		*errno_r = errno;
		store_mailbox_info_release(&info);
		return false;
	}
	buf_init(&b, 1024);
	bool ok = true;
#define ITEM(bit, fmt, v)                                                                          \
	if (items & (bit))                                                                         \
	ok = ok && buf_printf(&b, "%s" fmt, b.len ? " " : "", (v)) == 0
	ITEM(ST_MESSAGES, "MESSAGES %u", info.messages);
	ITEM(ST_RECENT, "RECENT %u", 0u);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", info.uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", info.uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %u", info.unseen);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)info.highestmodseq);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)info.bytes);
	ITEM(ST_DELETED, "DELETED %u", deleted);
#undef ITEM
	if (!ok)
		panic("imapd: status");
	struct evbuffer *out = imapd_out(s);
	evbuffer_add(out, "* STATUS ", 9);
	imapd_put_mailbox(s, out, info.name);
	evbuffer_add_printf(out, " (%s)\r\n", buf_cstr(&b));
	buf_release(&b);
	store_mailbox_info_release(&info);
	return true;
}

static void
status_send(struct imapd *s, const char *name, unsigned items, bool quiet_missing)
{
	const char *error;
	int err;

	if (!status_reply(s, name, items, &error, &err) && !(quiet_missing && err == ENOENT))
		conn_log(s->conn, LOG_LVL_WARNING, "%s: status %s: %s", s->address, name, error);
}

void
imapd_cmd_status(struct imapd *s, const struct imap_command *cmd)
{
	struct buf name;
	unsigned items;
	const char *error;
	int err;

	if (cmd->count != 2) {
		imapd_bad(s, cmd->tag, "Usage: STATUS mailbox (items)");
		return;
	}
	buf_init(&name, BUF_UNLIMITED);
	if (imapd_mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0 ||
	    status_items(s, cmd->tag, &cmd->args[1], &items) < 0)
		goto out;
	if (!status_reply(s, buf_cstr(&name), items, &error, &err)) {
		if (err == ENOENT)
			imapd_tagged(s, cmd->tag, "NO", "[NONEXISTENT] Mailbox does not exist");
		else
			imapd_store_failed(s, cmd->tag, "STATUS", error);
		goto out;
	}
	imapd_tagged(s, cmd->tag, "OK", "STATUS completed");
out:
	buf_release(&name);
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ---- */

/* The mailbox argument of a one-name command; a trailing separator (the
 * client's "this will have children") is dropped (RFC 9051 6.3.4). */
static int
one_name(struct imapd *s, const struct imap_command *cmd, struct buf *name, bool strip)
{
	if (cmd->count != 1) {
		imapd_bad(s, cmd->tag, "Usage: %s mailbox", cmd->name);
		return -1;
	}
	if (strip && cmd->args[0].len > 1 && cmd->args[0].str != NULL &&
	    cmd->args[0].str[cmd->args[0].len - 1] == SEP[0]) {
		struct imap_arg a = cmd->args[0];
		a.len--;
		char *copy = xstrndup(a.str, a.len);
		a.str = copy;
		int r = imapd_mailbox_arg(s, cmd->tag, &a, name);
		free(copy);
		return r;
	}
	return imapd_mailbox_arg(s, cmd->tag, &cmd->args[0], name);
}

static void
store_no(struct imapd *s, const char *tag, const char *what, const char *error)
{
	if (errno == EEXIST)
		imapd_tagged(s, tag, "NO", "[ALREADYEXISTS] Mailbox already exists");
	else if (errno == ENOENT)
		imapd_tagged(s, tag, "NO", "[NONEXISTENT] Mailbox does not exist");
	else if (errno == EDQUOT)
		imapd_tagged(s, tag, "NO", "[LIMIT] Too many mailboxes");
	else
		imapd_store_failed(s, tag, what, error);
}

static bool
is_inbox(const char *name)
{
	return strcmp(name, "INBOX") == 0;
}

void
imapd_cmd_create(struct imapd *s, const struct imap_command *cmd)
{
	struct buf name;
	const char *error;

	buf_init(&name, BUF_UNLIMITED);
	if (one_name(s, cmd, &name, true) == 0) {
		if (is_inbox(buf_cstr(&name)))
			imapd_tagged(s, cmd->tag, "NO", "[ALREADYEXISTS] INBOX always exists");
		else if (store_mailbox_create(s->su, buf_cstr(&name), STORE_SPECIAL_NONE, &error) <
			 0)
			store_no(s, cmd->tag, "CREATE", error);
		else
			imapd_tagged(s, cmd->tag, "OK", "CREATE completed");
	}
	buf_release(&name);
}

void
imapd_cmd_delete(struct imapd *s, const struct imap_command *cmd)
{
	struct buf name;
	const char *error;

	buf_init(&name, BUF_UNLIMITED);
	if (one_name(s, cmd, &name, false) == 0) {
		if (is_inbox(buf_cstr(&name)))
			imapd_tagged(s, cmd->tag, "NO", "[CANNOT] INBOX cannot be deleted");
		else if (s->view != NULL && strcmp(s->view->name, buf_cstr(&name)) == 0)
			imapd_tagged(s, cmd->tag, "NO",
				     "[INUSE] Mailbox is selected; close it first");
		else if (store_mailbox_delete(s->su, buf_cstr(&name), &error) < 0)
			store_no(s, cmd->tag, "DELETE", error);
		else
			imapd_tagged(s, cmd->tag, "OK", "DELETE completed");
	}
	buf_release(&name);
}

void
imapd_cmd_rename(struct imapd *s, const struct imap_command *cmd)
{
	struct buf from, to;
	const char *error;

	if (cmd->count != 2) {
		imapd_bad(s, cmd->tag, "Usage: RENAME from to");
		return;
	}
	buf_init(&from, BUF_UNLIMITED);
	buf_init(&to, BUF_UNLIMITED);
	if (imapd_mailbox_arg(s, cmd->tag, &cmd->args[0], &from) == 0 &&
	    imapd_mailbox_arg(s, cmd->tag, &cmd->args[1], &to) == 0) {
		if (is_inbox(buf_cstr(&to)))
			imapd_tagged(s, cmd->tag, "NO", "[ALREADYEXISTS] INBOX always exists");
		else if (s->view != NULL && strcmp(s->view->name, buf_cstr(&from)) == 0)
			imapd_tagged(s, cmd->tag, "NO",
				     "[INUSE] Mailbox is selected; close it first");
		else if (store_mailbox_rename(s->su, buf_cstr(&from), buf_cstr(&to), &error) < 0)
			store_no(s, cmd->tag, "RENAME", error);
		else
			imapd_tagged(s, cmd->tag, "OK", "RENAME completed");
	}
	buf_release(&from);
	buf_release(&to);
}

static void
subscribe(struct imapd *s, const struct imap_command *cmd, bool on)
{
	struct buf name;
	const char *error;

	buf_init(&name, BUF_UNLIMITED);
	if (one_name(s, cmd, &name, false) == 0) {
		if (store_mailbox_subscribe(s->su, buf_cstr(&name), on, &error) < 0)
			store_no(s, cmd->tag, on ? "SUBSCRIBE" : "UNSUBSCRIBE", error);
		else
			imapd_tagged(s, cmd->tag, "OK", "%s completed",
				     on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	}
	buf_release(&name);
}

void
imapd_cmd_subscribe(struct imapd *s, const struct imap_command *cmd)
{
	subscribe(s, cmd, true);
}

void
imapd_cmd_unsubscribe(struct imapd *s, const struct imap_command *cmd)
{
	subscribe(s, cmd, false);
}
