/* imapd_store.c - commands that change or search messages: STORE (RFC 7162
 * UNCHANGEDSINCE), COPY, MOVE (RFC 6851), SEARCH (RFC 4731 ESEARCH,
 * RFC 5182 SEARCHRES), APPEND (RFC 3502 MULTIAPPEND, RFC 4315 UIDPLUS). */
#include "lib/common.h"

#include <errno.h>
#include <time.h>

#include "imap/imap_search.h"
#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/workpool.h"
#include "lib/xalloc.h"
#include "mime/bodystructure.h"
#include "server/server.h"
#include "smtp/smtpd_deliver.h"

/* ---- flags ---- */

static int
flag_word(const char *w, unsigned *flags, struct buf *keywords)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
	    {"\\Seen", STORE_FLAG_SEEN},       {"\\Answered", STORE_FLAG_ANSWERED},
	    {"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
	    {"\\Draft", STORE_FLAG_DRAFT},
	};

	if (w[0] == '\\') {
		for (size_t i = 0; i < N_ELEMENTS(sys); i++) {
			if (strcasecmp(w, sys[i].name) == 0) {
				*flags |= sys[i].bit;
				return 0;
			}
		}
		/* \Recent cannot be set by clients; other system flags do not exist. */
		return strcasecmp(w, "\\Recent") == 0 ? 0 : -1;
	}
	size_t len = strlen(w);
	if (len == 0 || len > STORE_KEYWORD_MAX)
		return -1;
	for (const char *p = w; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		/* atom-specials and list/resp-specials are not keyword characters */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return -1;
	}
	if (keywords->len > 0 && buf_add_char(keywords, ' ') < 0)
		return -1;
	return buf_add_str(keywords, w);
}

int
imapd_flags_arg(struct imapd *s, const char *tag, const struct imap_arg *arg, unsigned *flags_r,
		struct buf *keywords)
{
	const struct imap_arg *v = arg;
	size_t n = 1;

	*flags_r = 0;
	buf_reset(keywords);
	if (arg->type == IMAP_ARG_LIST) {
		v = arg->list;
		n = arg->count;
	}
	for (size_t i = 0; i < n; i++) {
		const char *w = imap_arg_atom(&v[i]);
		if (w == NULL || flag_word(w, flags_r, keywords) < 0) {
			imapd_bad(s, tag, "Invalid flag %.40s", w != NULL ? w : "");
			return -1;
		}
	}
	return 0;
}

/* ---- STORE ---- */

static void
store_replies(struct imapd *s, const uint32_t *uids, size_t n, bool uid, bool silent,
	      uint64_t before, const uint32_t *modified, size_t nmodified)
{
	struct imapd_view *v = s->view;
	struct store_iter *it;
	const struct store_message *m;
	const char *error;
	int r;

	if (n == 0)
		return;
	/* A keyword new to the mailbox is in FLAGS before it is in a FETCH. */
	if (imapd_view_keywords(s, &error) < 0 ||
	    store_iter_init(v->box, uids[0], uids[n - 1], 0, &it, &error) < 0)
		goto fail;
	struct evbuffer *out = imapd_out(s);
	size_t j = 0, k = 0;
	while ((r = store_iter_next(it, &m, &error)) > 0) {
		while (j < n && uids[j] < m->uid)
			j++;
		if (j == n)
			break;
		if (uids[j] != m->uid)
			continue;
		uint32_t seq = imapd_view_seq(v, m->uid);
		/* modified ascends too (a subset of uids): walked along. */
		while (k < nmodified && modified[k] < m->uid)
			k++;
		if (seq == 0 || (k < nmodified && modified[k] == m->uid))
			continue;
		bool changed = m->modseq > before;
		/* .SILENT: the client knows what it asked for; CONDSTORE still
		 * learns the new MODSEQ (RFC 7162 3.2). */
		if (silent && (!s->condstore || !changed))
			continue;
		evbuffer_add_printf(out, "* %u FETCH (", seq);
		if (!silent) {
			evbuffer_add(out, "FLAGS ", 6);
			imapd_put_flags(out, m->flags, m->keywords);
		}
		if (uid || s->qresync)
			evbuffer_add_printf(out, "%sUID %u", silent ? "" : " ", m->uid);
		if (s->condstore)
			evbuffer_add_printf(out, "%sMODSEQ (%llu)",
					    silent && !(uid || s->qresync) ? "" : " ",
					    (unsigned long long)m->modseq);
		evbuffer_add(out, ")\r\n", 3);
	}
	store_iter_free(&it);
	if (r >= 0)
		return;
fail:
	conn_log(s->conn, LOG_LVL_ERROR, "%s: store replies: %s", s->address, error);
}

void
imapd_cmd_store(struct imapd *s, const struct imap_command *cmd, bool uid)
{
	const struct imap_arg *a = cmd->args;
	size_t i = 1;
	uint64_t unchanged = 0;
	uint32_t *uids = NULL, *modified = NULL;
	size_t n = 0, nmodified = 0;
	struct buf kw;
	unsigned flags;
	const char *error;

	buf_init(&kw, 64 * 1024);
	if (cmd->count < 3)
		goto usage;
	if (a[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &a[1];
		if (l->count != 2 || !imap_arg_atom_is(&l->list[0], "UNCHANGEDSINCE") ||
		    !imap_arg_number64(&l->list[1], &unchanged))
			goto usage;
		i = 2;
		s->condstore = true;
	}
	const char *op = imap_arg_atom(&a[i]);
	if (op == NULL || i + 1 >= cmd->count)
		goto usage;
	enum store_flags_op fop;
	const char *rest = op;
	if (*rest == '+')
		fop = STORE_FLAGS_ADD, rest++;
	else if (*rest == '-')
		fop = STORE_FLAGS_REMOVE, rest++;
	else
		fop = STORE_FLAGS_SET;
	bool silent;
	if (strcasecmp(rest, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(rest, "FLAGS.SILENT") == 0)
		silent = true;
	else
		goto usage;
	/* Flags as one list, or as separate atoms (RFC 9051 6.4.6). */
	struct imap_arg list = {.type = IMAP_ARG_LIST,
				.list = (struct imap_arg *)&a[i + 1],
				.count = cmd->count - i - 1};
	const struct imap_arg *fa = cmd->count - i - 1 == 1 ? &a[i + 1] : &list;
	if (imapd_flags_arg(s, cmd->tag, fa, &flags, &kw) < 0)
		goto out;
	if (s->view->readonly) {
		imapd_tagged(s, cmd->tag, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (imapd_view_set(s, cmd->tag, &a[0], uid, &uids, &n) < 0)
		goto out;
	/* The view has told every flag change up to its MODSEQ (the sync
	 * before this command). */
	uint64_t before = s->view->modseq;
	if (n > 0 &&
	    store_flags_update(s->view->box, uids, n, fop, flags, kw.len > 0 ? buf_cstr(&kw) : NULL,
			       unchanged, &modified, &nmodified, &error) < 0) {
		if (errno == E2BIG)
			imapd_tagged(s, cmd->tag, "NO", "[LIMIT] Too many keywords");
		else
			imapd_store_failed(s, cmd->tag, "STORE", error);
		goto out;
	}
	store_replies(s, uids, n, uid, silent, before, modified, nmodified);
	imapd_view_own_change(s, before);
	if (nmodified > 0) {
		struct buf set;
		buf_init(&set, BUF_UNLIMITED);
		if (!uid)
			for (size_t k = 0; k < nmodified; k++)
				modified[k] = imapd_view_seq(s->view, modified[k]);
		if (imap_seqset_write(&set, modified, nmodified) < 0)
			panic("imapd: modified");
		imapd_tagged(s, cmd->tag, "OK", "[MODIFIED %s] Conditional STORE failed for some",
			     buf_cstr(&set));
		buf_release(&set);
	} else {
		imapd_tagged(s, cmd->tag, "OK", "%sSTORE completed", uid ? "UID " : "");
	}
	goto out;
usage:
	imapd_bad(s, cmd->tag, "Usage: %sSTORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (flags)",
		  uid ? "UID " : "");
out:
	buf_release(&kw);
	free(uids);
	free(modified);
}

/* ---- COPY, MOVE ---- */

void
imapd_cmd_copy(struct imapd *s, const struct imap_command *cmd, bool uid, bool move)
{
	const char *what = move ? (uid ? "UID MOVE" : "MOVE") : (uid ? "UID COPY" : "COPY");
	struct store_copy_result res = {0};
	struct buf name;
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *error;

	if (cmd->count != 2) {
		imapd_bad(s, cmd->tag, "Usage: %s set mailbox", what);
		return;
	}
	buf_init(&name, BUF_UNLIMITED);
	if (imapd_view_set(s, cmd->tag, &cmd->args[0], uid, &uids, &n) < 0 ||
	    imapd_mailbox_arg(s, cmd->tag, &cmd->args[1], &name) < 0)
		goto out;
	if (move && s->view->readonly) {
		imapd_tagged(s, cmd->tag, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (n == 0) {
		imapd_tagged(s, cmd->tag, "OK", "%s completed: no messages", what);
		goto out;
	}
	if (store_copy(s->view->box, uids, n, buf_cstr(&name), move, s->quota, &res, &error) < 0) {
		if (errno == ENOENT)
			imapd_tagged(s, cmd->tag, "NO", "[TRYCREATE] Mailbox does not exist");
		else if (errno == EDQUOT)
			imapd_tagged(s, cmd->tag, "NO", "[OVERQUOTA] Quota exceeded");
		else
			imapd_store_failed(s, cmd->tag, what, error);
		goto out;
	}
	struct buf src, dst;
	buf_init(&src, BUF_UNLIMITED);
	buf_init(&dst, BUF_UNLIMITED);
	if (imap_seqset_write(&src, res.src_uids, res.count) < 0 ||
	    imap_seqset_write(&dst, res.dst_uids, res.count) < 0)
		panic("imapd: copyuid");
	if (res.count == 0) {
		imapd_tagged(s, cmd->tag, "OK", "%s completed: no messages", what);
	} else if (move) {
		imapd_untagged(s, "OK [COPYUID %u %s %s] Moved", res.uidvalidity, buf_cstr(&src),
			       buf_cstr(&dst));
		imapd_view_expunged(s, res.expunged, res.expunged_count);
		imapd_tagged(s, cmd->tag, "OK", "%s completed", what);
	} else {
		imapd_tagged(s, cmd->tag, "OK", "[COPYUID %u %s %s] %s completed", res.uidvalidity,
			     buf_cstr(&src), buf_cstr(&dst), what);
	}
	buf_release(&src);
	buf_release(&dst);
	store_copy_result_free(&res);
out:
	buf_release(&name);
	free(uids);
}

/* ---- SEARCH ---- */

struct search_load {
	struct imapd *s;
	uint32_t uid;
	struct buf msg;
};

static int
search_load(void *ctx, const char **data_r, size_t *len_r)
{
	struct search_load *l = ctx;
	const char *error;

	buf_reset(&l->msg);
	if (imapd_load_message(l->s, l->uid, false, &l->msg, &error) < 0)
		return -1;
	*data_r = buf_cstr(&l->msg);
	*len_r = l->msg.len;
	return 0;
}

static void
search_reply(struct imapd *s, const char *tag, bool uid, const struct imap_search_program *prog,
	     const uint32_t *res, size_t n, uint64_t maxmodseq)
{
	struct evbuffer *out = imapd_out(s);
	unsigned ret = prog->ret;

	if (ret == IMAP_SEARCH_RET_SAVE)
		return; /* RFC 5182 2.1: SAVE alone, no ESEARCH */
	if (!prog->esearch && !s->rev2) {
		evbuffer_add(out, "* SEARCH", 8);
		for (size_t i = 0; i < n; i++)
			evbuffer_add_printf(out, " %u", res[i]);
		if (prog->has_modseq && n > 0)
			evbuffer_add_printf(out, " (MODSEQ %llu)", (unsigned long long)maxmodseq);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	if (!prog->esearch)
		ret = IMAP_SEARCH_RET_ALL;

	evbuffer_add(out, "* ESEARCH (TAG ", 15);
	imapd_put_string(s, out, tag, strlen(tag));
	evbuffer_add(out, ")", 1);
	if (uid)
		evbuffer_add(out, " UID", 4);
	if (n > 0 && (ret & IMAP_SEARCH_RET_MIN))
		evbuffer_add_printf(out, " MIN %u", res[0]);
	if (n > 0 && (ret & IMAP_SEARCH_RET_MAX))
		evbuffer_add_printf(out, " MAX %u", res[n - 1]);
	if (ret & IMAP_SEARCH_RET_COUNT)
		evbuffer_add_printf(out, " COUNT %zu", n);
	if (n > 0 && (ret & IMAP_SEARCH_RET_ALL)) {
		struct buf set;
		buf_init(&set, BUF_UNLIMITED);
		if (imap_seqset_write(&set, res, n) < 0)
			panic("imapd: esearch");
		evbuffer_add_printf(out, " ALL %s", buf_cstr(&set));
		buf_release(&set);
	}
	if (prog->has_modseq && n > 0)
		evbuffer_add_printf(out, " MODSEQ %llu", (unsigned long long)maxmodseq);
	evbuffer_add(out, "\r\n", 2);
}

void
imapd_cmd_search(struct imapd *s, const struct imap_command *cmd, bool uid)
{
	struct imapd_view *v = s->view;
	struct imap_search_program prog;
	struct search_load l = {.s = s};
	struct store_iter *it;
	const struct store_message *m;
	bool badcharset = false;
	const char *error;
	uint32_t *res = NULL, *resuids = NULL;
	size_t n = 0;
	uint64_t maxmodseq = 0;
	int r;

	if (imap_search_parse(cmd->args, cmd->count, &prog, &badcharset, &error) < 0) {
		if (badcharset)
			imapd_tagged(s, cmd->tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", error);
		else
			imapd_bad(s, cmd->tag, "%s", error);
		return;
	}
	if (prog.has_modseq)
		s->condstore = true;
	imap_search_resolve(&prog, (uint32_t)v->count, imapd_view_max_uid(v), v->saved, v->nsaved);
	buf_init(&l.msg, BUF_UNLIMITED);
	res = xcalloc(v->count + 1, sizeof(*res));
	resuids = xcalloc(v->count + 1, sizeof(*resuids));
	time_t now = time(NULL);
	if (store_iter_init(v->box, 1, UINT32_MAX, 0, &it, &error) < 0)
		goto fail;
	while ((r = store_iter_next(it, &m, &error)) > 0) {
		uint32_t seq = imapd_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		l.uid = m->uid;
		struct imap_search_msg sm = {
		    .seq = seq, .meta = m, .load = search_load, .ctx = &l, .now = now};
		if (imap_search_match(&prog, &sm) != 1)
			continue;
		res[n] = uid ? m->uid : seq;
		resuids[n++] = m->uid;
		if (m->modseq > maxmodseq)
			maxmodseq = m->modseq;
	}
	store_iter_free(&it);
	if (r < 0)
		goto fail;
	if (prog.ret & IMAP_SEARCH_RET_SAVE) {
		free(v->saved);
		v->saved = resuids;
		v->nsaved = n;
		resuids = NULL;
	}
	search_reply(s, cmd->tag, uid, &prog, res, n, maxmodseq);
	imapd_tagged(s, cmd->tag, "OK", "%sSEARCH completed", uid ? "UID " : "");
	goto out;
fail:
	imapd_store_failed(s, cmd->tag, "SEARCH", error);
out:
	imap_search_clear(&prog);
	buf_release(&l.msg);
	free(res);
	free(resuids);
}

/* ---- APPEND ---- */

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 date-time; the day may have a
 * leading space). */
static int
parse_date_time(const char *s, time_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	struct tm tm = {0};
	int day, year, hh, mm, ss, zone;
	char mon[4], sign;

	if (strlen(s) != 26 && strlen(s) != 25)
		return -1;
	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d", &day, mon, &year, &hh, &mm, &ss, &sign,
		   &zone) != 8)
		return -1;
	mon[3] = '\0';
	const char *p = NULL;
	for (int i = 0; i < 12 && p == NULL; i++)
		if (strncasecmp(months + 3 * i, mon, 3) == 0)
			p = months + 3 * i;
	if (p == NULL || (sign != '+' && sign != '-') || day < 1 || day > 31 || year < 1900 ||
	    hh > 23 || mm > 59 || ss > 60 || zone > 9999 || zone % 100 > 59)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = (int)(p - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	time_t t = timegm(&tm);
	long off = (zone / 100) * 3600L + (zone % 100) * 60L;
	*t_r = sign == '+' ? t - off : t + off;
	return 0;
}

struct append_one {
	unsigned flags;
	struct buf keywords;
	time_t date;
	const struct imap_arg *msg;
	struct store_spool *spool;
};

/* Parse "[(flags)] [date] literal" groups after the mailbox name. */
static int
append_args(struct imapd *s, const struct imap_command *cmd, struct append_one **v_r, size_t *n_r)
{
	struct append_one *v = NULL;
	size_t n = 0, i = 1;

	while (i < cmd->count) {
		const struct imap_arg *a = &cmd->args[i];
		v = xreallocarray(v, n + 1, sizeof(*v));
		struct append_one *o = &v[n++];
		memset(o, 0, sizeof(*o));
		buf_init(&o->keywords, 64 * 1024);
		if (a->type == IMAP_ARG_LIST) {
			if (imapd_flags_arg(s, cmd->tag, a, &o->flags, &o->keywords) < 0)
				goto fail_quiet;
			a = &cmd->args[++i];
			if (i >= cmd->count)
				goto bad;
		}
		if (a->type == IMAP_ARG_STRING) {
			if (parse_date_time(a->str, &o->date) < 0)
				goto bad;
			if (++i >= cmd->count)
				goto bad;
			a = &cmd->args[i];
		}
		/* RFC 6855 4: UTF8 (literal8) */
		if (imap_arg_atom_is(a, "UTF8") && i + 1 < cmd->count &&
		    cmd->args[i + 1].type == IMAP_ARG_LIST && cmd->args[i + 1].count == 1) {
			a = &cmd->args[++i].list[0];
		}
		if (a->type != IMAP_ARG_LITERAL)
			goto bad;
		o->msg = a;
		i++;
	}
	if (n == 0)
		goto bad;
	*v_r = v;
	*n_r = n;
	return 0;
bad:
	imapd_bad(s, cmd->tag, "Usage: APPEND mailbox [(flags)] [date-time] literal ...");
fail_quiet:
	for (size_t k = 0; k < n; k++)
		buf_release(&v[k].keywords);
	free(v);
	return -1;
}

/* APPEND's disk work (fsync of each message, link, directory fsync,
 * index commit) runs on the worker's delivery pool, so that the event
 * loop keeps serving the other sessions meanwhile; the session waits
 * (IMAPD_WAIT_APPEND) and answers when it is done. */
struct imapd_append {
	struct imapd *s; /* NULL once the session is gone */
	struct workpool_job *job;
	char *tag;
	char *address;
	char *mailbox;
	uint64_t quota;
	struct store_append_msg *msgs;
	char **keywords;
	char **data; /* the messages as sent (CRLF), written to spools by the job */
	size_t *len;
	size_t n;
	/* results */
	int rc, err;
	char error[256];
	uint32_t uidvalidity;
	uint32_t *uids;
};

static void
append_free(struct imapd_append *ap)
{
	for (size_t i = 0; i < ap->n; i++) {
		store_spool_free(&ap->msgs[i].spool);
		free(ap->keywords[i]);
		free(ap->data[i]);
	}
	free(ap->msgs);
	free(ap->keywords);
	free(ap->data);
	free(ap->len);
	free(ap->uids);
	free(ap->tag);
	free(ap->address);
	free(ap->mailbox);
	free(ap);
}

static void
append_run(void *thread_ctx, void *arg)
{
	struct imapd_append *ap = arg;
	struct store *store = smtpd_delivery_thread_store(thread_ctx);
	struct store_user *user = NULL;
	const char *error = "mail store unavailable";

	ap->rc = -1;
	ap->err = EIO;
	if (store == NULL)
		goto out;
	for (size_t i = 0; i < ap->n; i++) {
		struct store_spool *spool;
		if (store_spool_open(store, &spool, &error) < 0) {
			ap->err = errno;
			goto out;
		}
		ap->msgs[i].spool = spool;
		if (store_spool_write_crlf(spool, ap->data[i], ap->len[i], &error) < 0 ||
		    store_spool_finish(spool, &ap->err, &error) < 0)
			goto out;
		free(ap->data[i]);
		ap->data[i] = NULL;
		store_spool_cache(spool);
	}
	if (store_user_get(store, ap->address, &user, &error) < 0) {
		ap->err = errno;
		goto out;
	}
	ap->rc = store_append(user, ap->mailbox, ap->msgs, ap->n, ap->quota, &ap->uidvalidity,
			      ap->uids, &error);
	ap->err = errno;
	store_user_put(store, &user);
out:
	if (ap->rc < 0)
		str_copy(ap->error, sizeof(ap->error), error);
}

static void
append_done(void *arg, bool cancelled)
{
	struct imapd_append *ap = arg;
	struct imapd *s = ap->s;

	if (s == NULL || cancelled) {
		append_free(ap);
		return;
	}
	s->append = NULL;
	s->wait = IMAPD_WAIT_NONE;
	if (ap->rc < 0) {
		if (ap->err == ENOENT)
			imapd_tagged(s, ap->tag, "NO", "[TRYCREATE] Mailbox does not exist");
		else if (ap->err == EDQUOT)
			imapd_tagged(s, ap->tag, "NO", "[OVERQUOTA] Quota exceeded");
		else if (ap->err == ENOSPC)
			imapd_tagged(s, ap->tag, "NO", "[UNAVAILABLE] Mail store full, try later");
		else if (ap->err == E2BIG)
			imapd_tagged(s, ap->tag, "NO", "[LIMIT] Too many keywords");
		else
			imapd_store_failed(s, ap->tag, "APPEND", ap->error);
	} else {
		if (s->view != NULL)
			imapd_view_sync(s, true);
		struct buf set;
		buf_init(&set, BUF_UNLIMITED);
		if (imap_seqset_write(&set, ap->uids, ap->n) < 0)
			panic("imapd: appenduid");
		imapd_tagged(s, ap->tag, "OK", "[APPENDUID %u %s] APPEND completed",
			     ap->uidvalidity, buf_cstr(&set));
		buf_release(&set);
	}
	append_free(ap);
	imapd_resume(s);
}

void
imapd_append_cancel(struct imapd *s)
{
	if (s->append == NULL)
		return;
	s->append->s = NULL;
	workpool_cancel(s->append->job);
	s->append = NULL;
}

void
imapd_cmd_append(struct imapd *s, const struct imap_command *cmd)
{
	struct server *srv = s->conn->srv;
	struct append_one *v = NULL;
	struct imapd_append *ap = NULL;
	size_t n = 0;
	struct buf name;

	if (cmd->count < 2) {
		imapd_bad(s, cmd->tag, "Usage: APPEND mailbox [(flags)] [date-time] literal");
		return;
	}
	buf_init(&name, BUF_UNLIMITED);
	if (imapd_mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0 ||
	    append_args(s, cmd, &v, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (v[i].msg->len == 0) {
			imapd_tagged(s, cmd->tag, "NO", "Cannot append an empty message");
			goto out;
		}
	}
	if (srv->delivery == NULL) {
		imapd_tagged(s, cmd->tag, "NO", "[UNAVAILABLE] Mail store unavailable");
		goto out;
	}
	ap = xcalloc(1, sizeof(*ap));
	ap->s = s;
	ap->tag = xstrdup(cmd->tag);
	ap->address = xstrdup(s->address);
	ap->mailbox = buf_steal(&name);
	ap->quota = s->quota;
	ap->n = n;
	ap->msgs = xcalloc(n, sizeof(*ap->msgs));
	ap->keywords = xcalloc(n, sizeof(*ap->keywords));
	ap->data = xcalloc(n, sizeof(*ap->data));
	ap->len = xcalloc(n, sizeof(*ap->len));
	ap->uids = xcalloc(n, sizeof(*ap->uids));
	for (size_t i = 0; i < n; i++) {
		ap->data[i] = xmalloc(v[i].msg->len);
		memcpy(ap->data[i], v[i].msg->str, v[i].msg->len);
		ap->len[i] = v[i].msg->len;
		ap->keywords[i] = v[i].keywords.len > 0 ? buf_steal(&v[i].keywords) : NULL;
		ap->msgs[i].flags = v[i].flags;
		ap->msgs[i].keywords = ap->keywords[i];
		ap->msgs[i].internal_date = v[i].date;
	}
	s->append = ap;
	s->wait = IMAPD_WAIT_APPEND;
	ap->job = workpool_submit_keyed(srv->delivery, smtpd_delivery_key(s->address), append_run,
					append_done, ap);
out:
	for (size_t i = 0; i < n; i++)
		buf_release(&v[i].keywords);
	free(v);
	buf_release(&name);
}
