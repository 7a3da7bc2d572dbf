/* imapd_view.c - the selected mailbox as one session sees it.
 *
 * A session numbers the messages it has been told of (sequence numbers,
 * RFC 9051 2.3.1.2), kept as runs of consecutive UIDs (a few bytes for a
 * mailbox of thousands). Changes by others (SMTP deliveries, other
 * sessions, the session's own COPY into the same mailbox) reach it
 * through the index: new UIDs at or above the view's UIDNEXT become
 * EXISTS, UIDs in the store's expunge log with a MODSEQ above what the
 * view has told become EXPUNGE (or VANISHED under QRESYNC), and rows whose
 * MODSEQ passed the view's become FETCH (FLAGS ...). The session's own
 * flag changes are told in its replies and marked as told when nobody else
 * changed the mailbox meanwhile (imapd_view_own_change); otherwise a
 * client may hear of one twice, which IMAP allows. Expunges wait while a
 * command that uses sequence numbers runs, so numbers stay what the client
 * believes (RFC 9051 7.5.1).
 */
#include "lib/common.h"

#include <errno.h>

#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

void
imapd_put_flags(struct evbuffer *out, unsigned flags, const char *keywords)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
	    {STORE_FLAG_DELETED, "\\Deleted"},	 {STORE_FLAG_SEEN, "\\Seen"},
	    {STORE_FLAG_DRAFT, "\\Draft"},
	};
	bool first = true;

	evbuffer_add(out, "(", 1);
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		if (!(flags & names[i].bit))
			continue;
		evbuffer_add_printf(out, "%s%s", first ? "" : " ", names[i].name);
		first = false;
	}
	if (keywords != NULL && *keywords != '\0')
		evbuffer_add_printf(out, "%s%s", first ? "" : " ", keywords);
	evbuffer_add(out, ")", 1);
}

void
imapd_view_send_flags(struct imapd *s)
{
	struct imapd_view *v = s->view;
	const char *kw = v->keywords != NULL ? v->keywords : "";
	const char *sp = *kw != '\0' ? " " : "";

	imapd_untagged(s, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s)", sp, kw);
	if (v->readonly)
		imapd_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox");
	else
		/* Without \* once the mailbox may use no new keyword (RFC 9051
		 * 7.1: PERMANENTFLAGS). */
		imapd_untagged(
		    s,
		    "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s%s)]"
		    " Flags permitted",
		    sp, kw, v->nkeywords < STORE_MAILBOX_KEYWORDS_MAX ? " \\*" : "");
}

/* Read the keywords the mailbox has used; tell: send FLAGS with them. */
static int
keywords_read(struct imapd *s, struct imapd_view *v, bool tell, const char **error_r)
{
	char *list;
	uint32_t n;

	if (store_mailbox_keywords(v->box, &list, &n, error_r) < 0)
		return -1;
	free(v->keywords);
	v->keywords = list;
	v->nkeywords = n;
	if (tell)
		imapd_view_send_flags(s);
	return 0;
}

int
imapd_view_keywords(struct imapd *s, const char **error_r)
{
	struct imapd_view *v = s->view;
	uint32_t n;

	if (v == NULL)
		return 0;
	if (store_mailbox_keywords(v->box, NULL, &n, error_r) < 0)
		return -1;
	return n == v->nkeywords ? 0 : keywords_read(s, v, true, error_r);
}

static void
view_add(struct imapd_view *v, const struct store_message *m)
{
	struct imapd_range *last = v->nranges > 0 ? &v->ranges[v->nranges - 1] : NULL;

	if (last != NULL && last->uid + last->n == m->uid) {
		last->n++;
	} else {
		if (v->nranges == v->alloc) {
			v->alloc = v->alloc < 4 ? 4 : v->alloc * 2;
			v->ranges = xreallocarray(v->ranges, v->alloc, sizeof(*v->ranges));
		}
		v->ranges[v->nranges++] =
		    (struct imapd_range){.uid = m->uid, .n = 1, .seq = (uint32_t)v->count + 1};
	}
	v->count++;
	if (m->uid >= v->uidnext)
		v->uidnext = m->uid + 1;
}

int
imapd_view_open(struct imapd *s, const char *name, bool readonly, const char **error_r)
{
	struct imapd_view *v = xcalloc(1, sizeof(*v));
	struct store_status_info st;
	struct store_iter *it;
	const struct store_message *m;
	int r;

	if (imapd_box_acquire(s->su, name, readonly, &v->box, error_r) < 0) {
		free(v);
		return -1;
	}
	store_mailbox_status(v->box, &st);
	v->name = xstrdup(name);
	v->readonly = readonly;
	v->uidvalidity = st.uidvalidity;
	v->uidnext = st.uidnext;
	v->modseq = st.highestmodseq;
	v->expunge_modseq = st.highestmodseq;
	if (keywords_read(s, v, false, error_r) < 0 ||
	    store_iter_init(v->box, 1, UINT32_MAX, 0, &it, error_r) < 0) {
		r = -1;
	} else {
		while ((r = store_iter_next(it, &m, error_r)) > 0) {
			view_add(v, m);
			if (v->first_unseen == 0 && !(m->flags & STORE_FLAG_SEEN))
				v->first_unseen = (uint32_t)v->count;
		}
		store_iter_free(&it);
	}
	s->view = v;
	if (r < 0) {
		imapd_view_close(s);
		return -1;
	}
	return 0;
}

void
imapd_view_close(struct imapd *s)
{
	struct imapd_view *v = s->view;

	if (v == NULL)
		return;
	imapd_box_release(&v->box);
	free(v->name);
	free(v->ranges);
	free(v->keywords);
	free(v->saved);
	free(v);
	s->view = NULL;
}

/* The first run of v ending at or above uid: the run that holds it, if
 * any. */
static size_t
range_find(const struct imapd_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imapd_range *r = &v->ranges[mid];
		if (r->uid + (r->n - 1) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
imapd_view_seq(const struct imapd_view *v, uint32_t uid)
{
	size_t i = range_find(v, uid);

	if (i == v->nranges || uid < v->ranges[i].uid)
		return 0;
	return v->ranges[i].seq + (uid - v->ranges[i].uid);
}

uint32_t
imapd_view_max_uid(const struct imapd_view *v)
{
	if (v->nranges == 0)
		return 0;
	const struct imapd_range *r = &v->ranges[v->nranges - 1];
	return r->uid + r->n - 1;
}

/* Take the (ascending) uids out of the view and number the rest anew. */
static void
view_remove(struct imapd_view *v, const uint32_t *uids, size_t n)
{
	struct imapd_range *out = xcalloc(v->nranges + n + 1, sizeof(*out));
	size_t nout = 0, j = 0;
	uint32_t seq = 1;

	for (size_t i = 0; i < v->nranges; i++) {
		uint32_t uid = v->ranges[i].uid, end = uid + v->ranges[i].n; /* [uid, end) */
		while (uid < end) {
			while (j < n && uids[j] < uid)
				j++;
			uint32_t stop = j < n && uids[j] < end ? uids[j] : end;
			if (stop > uid) {
				out[nout++] =
				    (struct imapd_range){.uid = uid, .n = stop - uid, .seq = seq};
				seq += stop - uid;
			}
			uid = stop < end ? stop + 1 : end; /* skip the removed one */
		}
	}
	free(v->ranges);
	v->ranges = out;
	v->nranges = nout;
	v->alloc = v->nranges + n + 1;
	v->count = seq - 1;
}

void
imapd_view_expunged(struct imapd *s, const uint32_t *uids, size_t n)
{
	struct imapd_view *v = s->view;
	uint32_t *gone, *seqs;
	size_t k = 0;

	if (n == 0 || v == NULL)
		return;
	gone = xcalloc(n, sizeof(*gone));
	seqs = xcalloc(n, sizeof(*seqs));
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = imapd_view_seq(v, uids[i]);
		if (seq != 0) {
			gone[k] = uids[i];
			seqs[k++] = seq;
		}
	}
	/* uids ascend, so seqs do: tell from the highest down, where each
	 * number is still the one the client knows. */
	if (k > 0 && s->qresync) {
		imapd_untagged_set(s, "VANISHED ", gone, k);
	} else {
		for (size_t i = k; i-- > 0;)
			imapd_untagged(s, "%u EXPUNGE", seqs[i]);
	}
	if (k > 0)
		view_remove(v, gone, k);
	free(gone);
	free(seqs);
}

static void
fetch_flags_reply(struct imapd *s, uint32_t seq, const struct store_message *m)
{
	struct evbuffer *out = imapd_out(s);

	evbuffer_add_printf(out, "* %u FETCH (", seq);
	if (s->qresync)
		evbuffer_add_printf(out, "UID %u ", m->uid);
	evbuffer_add(out, "FLAGS ", 6);
	imapd_put_flags(out, m->flags, m->keywords);
	if (s->condstore)
		evbuffer_add_printf(out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	evbuffer_add(out, ")\r\n", 3);
}

static int
sync_new(struct imapd *s, const char **error_r)
{
	struct imapd_view *v = s->view;
	struct store_iter *it;
	const struct store_message *m;
	size_t before = v->count;
	int r;

	if (store_iter_init(v->box, v->uidnext, UINT32_MAX, 0, &it, error_r) < 0)
		return -1;
	while ((r = store_iter_next(it, &m, error_r)) > 0)
		if (m->uid >= v->uidnext)
			view_add(v, m);
	store_iter_free(&it);
	if (v->count != before)
		imapd_untagged(s, "%zu EXISTS", v->count);
	return r;
}

static int
sync_flags(struct imapd *s, uint32_t below_uid, const char **error_r)
{
	struct imapd_view *v = s->view;
	struct store_iter *it;
	const struct store_message *m;
	int r;

	if (below_uid <= 1)
		return 0;
	if (store_iter_init(v->box, 1, below_uid - 1, v->modseq, &it, error_r) < 0)
		return -1;
	while ((r = store_iter_next(it, &m, error_r)) > 0) {
		uint32_t seq = imapd_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		fetch_flags_reply(s, seq, m);
	}
	store_iter_free(&it);
	return r;
}

int
imapd_view_sync(struct imapd *s, bool allow_expunge)
{
	struct imapd_view *v = s->view;
	struct store_status_info st;
	const char *error;

	if (v == NULL)
		return 0;
	if (store_mailbox_refresh(v->box, &error) < 0) {
		if (errno != ENOENT)
			goto fail;
		/* Deleted by someone else. The session cannot go on in a
		 * mailbox that is not there, nor fall back to AUTHENTICATED
		 * unasked: it is closed, as Dovecot closes it. */
		conn_log(s->conn, LOG_LVL_INFO, "%s: mailbox %s: %s", s->address, v->name, error);
		imapd_untagged(s, "BYE Selected mailbox was deleted, please log in again");
		goto bye;
	}
	store_mailbox_status(v->box, &st);
	if (st.uidvalidity != v->uidvalidity) {
		/* Deleted and made again by someone else (which the store
		 * reports as deleted already): nothing the client knows holds
		 * any more. */
		imapd_untagged(s, "BYE [UIDVALIDITY] Mailbox was recreated");
		goto bye;
	}
	if (allow_expunge && st.highestmodseq > v->expunge_modseq) {
		uint32_t *uids;
		size_t n;
		if (store_expunged_since(v->box, v->expunge_modseq, &uids, &n, &error) < 0)
			goto fail;
		imapd_view_expunged(s, uids, n);
		free(uids);
		v->expunge_modseq = st.highestmodseq;
	}
	/* New keywords come first: FETCH FLAGS below may show them. */
	if (st.keywords != v->nkeywords && keywords_read(s, v, true, &error) < 0)
		goto fail;
	uint32_t old_next = v->uidnext;
	if (st.uidnext > v->uidnext && sync_new(s, &error) < 0)
		goto fail;
	if (st.highestmodseq > v->modseq) {
		if (sync_flags(s, old_next, &error) < 0)
			goto fail;
		v->modseq = st.highestmodseq;
	}
	return 0;
fail:
	conn_log(s->conn, LOG_LVL_ERROR, "%s: mailbox %s: %s", s->address, v->name, error);
	return -1;
bye:
	imapd_set_state(s, IMAPD_LOGOUT);
	conn_close_after_flush(s->conn);
	return -1;
}

int
imapd_view_set(struct imapd *s, const char *tag, const struct imap_arg *arg, bool uid,
	       uint32_t **uids_r, size_t *n_r)
{
	struct imapd_view *v = s->view;
	struct imap_seqset set;
	const char *atom = imap_arg_atom(arg), *error;
	uint32_t *uids = NULL;
	size_t n = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (atom == NULL || imap_seqset_parse(atom, arg->len, &set, &error) < 0) {
		imapd_bad(s, tag, "Invalid %s set", uid ? "UID" : "sequence");
		return -1;
	}
	if (set.saved) {
		/* "$": the last SEARCH SAVE result, UIDs (RFC 5182 2.1). */
		uids = xcalloc(v->nsaved + 1, sizeof(*uids));
		for (size_t i = 0; i < v->nsaved; i++)
			if (imapd_view_seq(v, v->saved[i]) != 0)
				uids[n++] = v->saved[i];
		imap_seqset_clear(&set);
		*uids_r = uids;
		*n_r = n;
		return 0;
	}
	uint32_t star = uid ? imapd_view_max_uid(v) : (uint32_t)v->count;
	if (!uid) {
		for (size_t i = 0; i < set.count; i++) {
			uint32_t hi = set.ranges[i].hi == IMAP_SEQ_STAR ? star : set.ranges[i].hi;
			uint32_t lo = set.ranges[i].lo == IMAP_SEQ_STAR ? star : set.ranges[i].lo;
			if (hi > v->count || lo > v->count || hi == 0 || lo == 0) {
				imap_seqset_clear(&set);
				imapd_bad(s, tag, "Invalid message sequence number");
				return -1;
			}
		}
	}
	imap_seqset_resolve(&set, star);
	uids = xcalloc(v->count + 1, sizeof(*uids));
	for (size_t i = 0; i < v->nranges; i++) {
		const struct imapd_range *r = &v->ranges[i];
		for (uint32_t k = 0; k < r->n; k++)
			if (imap_seqset_contains(&set, uid ? r->uid + k : r->seq + k))
				uids[n++] = r->uid + k;
	}
	imap_seqset_clear(&set);
	*uids_r = uids;
	*n_r = n;
	return 0;
}

void
imapd_untagged_set(struct imapd *s, const char *prefix, const uint32_t *uids, size_t n)
{
	struct buf set;

	if (n == 0)
		return;
	buf_init(&set, BUF_UNLIMITED);
	if (imap_seqset_write(&set, uids, n) < 0)
		panic("imapd: set");
	imapd_untagged(s, "%s%s", prefix, buf_cstr(&set));
	buf_release(&set);
}

int
imapd_view_vanished_since(struct imapd *s, uint64_t since, const struct imap_arg *within,
			  const char **error_r)
{
	struct imapd_view *v = s->view;
	struct imap_seqset set = {0};
	uint32_t *uids;
	size_t n, k = 0;
	const char *perr;
	bool filter = within != NULL && imap_arg_atom(within) != NULL &&
		      imap_seqset_parse(within->str, within->len, &set, &perr) == 0 && !set.saved;

	if (filter)
		imap_seqset_resolve(&set, v->uidnext > 0 ? v->uidnext - 1 : 0);
	if (store_expunged_since(v->box, since, &uids, &n, error_r) < 0) {
		imap_seqset_clear(&set);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!filter || imap_seqset_contains(&set, uids[i]))
			uids[k++] = uids[i];
	imapd_untagged_set(s, "VANISHED (EARLIER) ", uids, k);
	free(uids);
	imap_seqset_clear(&set);
	return 0;
}

uint64_t
imapd_view_highestmodseq(struct imapd *s)
{
	struct store_status_info st;
	const char *error;

	if (store_mailbox_refresh(s->view->box, &error) < 0)
		return 0;
	store_mailbox_status(s->view->box, &st);
	return st.highestmodseq;
}

void
imapd_view_own_change(struct imapd *s, uint64_t before)
{
	struct imapd_view *v = s->view;

	if (v->modseq == before && imapd_view_highestmodseq(s) == before + 1)
		v->modseq = before + 1;
}
