/* imapd_select.c - SELECT, EXAMINE (with RFC 7162 CONDSTORE and QRESYNC
 * parameters), CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, CHECK. */
#include "lib/common.h"

#include <errno.h>

#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* QRESYNC (uidvalidity modseq [known-uids [seq-match]]). */
struct qresync_arg {
	bool given;
	uint32_t uidvalidity;
	uint64_t modseq;
	const struct imap_arg *known; /* NULL: all */
};

static int
select_params(struct imapd *s, const char *tag, const struct imap_arg *a, struct qresync_arg *q)
{
	if (a->type != IMAP_ARG_LIST)
		goto bad;
	for (size_t i = 0; i < a->count; i++) {
		if (imap_arg_atom_is(&a->list[i], "CONDSTORE")) {
			s->condstore = true;
			continue;
		}
		if (!imap_arg_atom_is(&a->list[i], "QRESYNC") || i + 1 >= a->count)
			goto bad;
		if (!s->qresync) {
			imapd_bad(s, tag, "QRESYNC must be enabled first");
			return -1;
		}
		const struct imap_arg *p = &a->list[++i];
		if (p->type != IMAP_ARG_LIST || p->count < 2 || p->count > 4 ||
		    !imap_arg_number(&p->list[0], &q->uidvalidity) ||
		    !imap_arg_number64(&p->list[1], &q->modseq) || q->uidvalidity == 0 ||
		    q->modseq == 0)
			goto bad;
		if (p->count >= 3) {
			if (imap_arg_atom(&p->list[2]) == NULL)
				goto bad;
			q->known = &p->list[2];
		}
		q->given = true;
	}
	return 0;
bad:
	imapd_bad(s, tag, "Invalid SELECT parameters");
	return -1;
}

/* After a QRESYNC SELECT: what changed since the client's modseq. */
static int
qresync_report(struct imapd *s, const struct qresync_arg *q, const char **error_r)
{
	struct imapd_view *v = s->view;
	if (q->uidvalidity != v->uidvalidity)
		return 0;
	if (imapd_view_vanished_since(s, q->modseq, q->known, error_r) < 0)
		return -1;

	struct store_iter *it;
	const struct store_message *m;
	int r;
	if (store_iter_init(v->box, 1, UINT32_MAX, q->modseq, &it, error_r) < 0)
		return -1;
	struct evbuffer *out = imapd_out(s);
	while ((r = store_iter_next(it, &m, error_r)) > 0) {
		uint32_t seq = imapd_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		evbuffer_add_printf(out, "* %u FETCH (UID %u FLAGS ", seq, m->uid);
		imapd_put_flags(out, m->flags, m->keywords);
		evbuffer_add_printf(out, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
	}
	store_iter_free(&it);
	return r;
}

static void
select_common(struct imapd *s, const struct imap_command *cmd, bool readonly)
{
	struct buf name;
	struct qresync_arg q = {0};
	const char *error;

	if (cmd->count < 1 || cmd->count > 2) {
		imapd_bad(s, cmd->tag, "Usage: %s mailbox [(parameters)]", cmd->name);
		return;
	}
	buf_init(&name, BUF_UNLIMITED);
	if (imapd_mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0)
		goto out;
	if (cmd->count == 2 && select_params(s, cmd->tag, &cmd->args[1], &q) < 0)
		goto out;
	if (s->view != NULL) {
		imapd_view_close(s);
		imapd_set_state(s, IMAPD_AUTH);
		imapd_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (imapd_view_open(s, buf_cstr(&name), readonly, &error) < 0) {
		if (errno == ENOENT) {
			imapd_tagged(s, cmd->tag, "NO", "[NONEXISTENT] Mailbox does not exist");
		} else {
			imapd_store_failed(s, cmd->tag, cmd->name, error);
		}
		goto out;
	}
	struct imapd_view *v = s->view;
	imapd_set_state(s, IMAPD_SELECTED);
	imapd_view_send_flags(s);
	imapd_untagged(s, "%zu EXISTS", v->count);
	if (!s->rev2) {
		imapd_untagged(s, "0 RECENT");
		for (size_t i = 0; i < v->count; i++) {
			if (!(v->msgs[i].flags & STORE_FLAG_SEEN)) {
				imapd_untagged(s, "OK [UNSEEN %zu] First unseen", i + 1);
				break;
			}
		}
	}
	imapd_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", v->uidvalidity);
	imapd_untagged(s, "OK [UIDNEXT %u] Predicted next UID", v->uidnext);
	imapd_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)v->modseq);
	if (s->rev2) {
		struct evbuffer *out = imapd_out(s);
		evbuffer_add(out, "* LIST () \".\" ", 14);
		imapd_put_mailbox(s, out, v->name);
		evbuffer_add(out, "\r\n", 2);
	}
	if (q.given && qresync_report(s, &q, &error) < 0) {
		imapd_store_failed(s, cmd->tag, cmd->name, error);
		goto out;
	}
	imapd_tagged(s, cmd->tag, "OK", "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE",
		     cmd->name);
out:
	buf_release(&name);
}

void
imapd_cmd_select(struct imapd *s, const struct imap_command *cmd)
{
	select_common(s, cmd, false);
}

void
imapd_cmd_examine(struct imapd *s, const struct imap_command *cmd)
{
	select_common(s, cmd, true);
}

static bool
no_args(struct imapd *s, const struct imap_command *cmd)
{
	if (cmd->count == 0)
		return true;
	imapd_bad(s, cmd->tag, "%s takes no arguments", cmd->name);
	return false;
}

void
imapd_cmd_check(struct imapd *s, const struct imap_command *cmd)
{
	if (no_args(s, cmd))
		imapd_tagged(s, cmd->tag, "OK", "CHECK completed");
}

void
imapd_cmd_unselect(struct imapd *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imapd_view_close(s);
	imapd_set_state(s, IMAPD_AUTH);
	imapd_tagged(s, cmd->tag, "OK", "UNSELECT completed");
}

/* CLOSE: expunge silently (unless read-only), then unselect. */
void
imapd_cmd_close(struct imapd *s, const struct imap_command *cmd)
{
	const char *error;
	size_t n;

	if (!no_args(s, cmd))
		return;
	if (!s->view->readonly && store_expunge(s->view->box, NULL, 0, NULL, &n, &error) < 0)
		conn_log(s->conn, LOG_LVL_ERROR, "%s: close: expunge: %s", s->address, error);
	imapd_view_close(s);
	imapd_set_state(s, IMAPD_AUTH);
	imapd_tagged(s, cmd->tag, "OK", "CLOSE completed");
}

/* Expunge uids (NULL: every \Deleted message) and tell the client. */
static void
expunge(struct imapd *s, const char *tag, const uint32_t *uids, size_t n, const char *what)
{
	uint32_t *gone = NULL;
	size_t count = 0;
	const char *error;

	if (s->view->readonly) {
		imapd_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((uids == NULL || n > 0) &&
	    store_expunge(s->view->box, uids, n, &gone, &count, &error) < 0) {
		imapd_store_failed(s, tag, what, error);
		return;
	}
	imapd_view_expunged(s, gone, count);
	free(gone);
	if (s->condstore) {
		struct store_status_info st;
		if (store_mailbox_refresh(s->view->box, &error) == 0) {
			store_mailbox_status(s->view->box, &st);
			imapd_tagged(s, tag, "OK", "[HIGHESTMODSEQ %llu] %s completed",
				     (unsigned long long)st.highestmodseq, what);
			return;
		}
	}
	imapd_tagged(s, tag, "OK", "%s completed", what);
}

void
imapd_cmd_expunge(struct imapd *s, const struct imap_command *cmd)
{
	if (no_args(s, cmd))
		expunge(s, cmd->tag, NULL, 0, "EXPUNGE");
}

/* UID EXPUNGE set (RFC 4315 2.1): only the \Deleted messages of the set. */
void
imapd_cmd_uid_expunge(struct imapd *s, const struct imap_command *cmd)
{
	uint32_t *uids;
	size_t n, k = 0;
	struct store_iter *it;
	const struct store_message *m;
	const char *error;
	int r;

	if (cmd->count != 1) {
		imapd_bad(s, cmd->tag, "Usage: UID EXPUNGE set");
		return;
	}
	if (imapd_view_set(s, cmd->tag, &cmd->args[0], true, &uids, &n) < 0)
		return;
	if (n > 0) {
		if (store_iter_init(s->view->box, uids[0], uids[n - 1], 0, &it, &error) < 0) {
			free(uids);
			imapd_store_failed(s, cmd->tag, "UID EXPUNGE", error);
			return;
		}
		size_t j = 0;
		while ((r = store_iter_next(it, &m, &error)) > 0) {
			while (j < n && uids[j] < m->uid)
				j++;
			if (j < n && uids[j] == m->uid && (m->flags & STORE_FLAG_DELETED))
				uids[k++] = m->uid;
		}
		store_iter_free(&it);
		if (r < 0) {
			free(uids);
			imapd_store_failed(s, cmd->tag, "UID EXPUNGE", error);
			return;
		}
	}
	expunge(s, cmd->tag, uids, k, "UID EXPUNGE");
	free(uids);
}
