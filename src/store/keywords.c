/* keywords.c - the keywords each mailbox has used.
 *
 * The index's keywords table holds one row per mailbox and keyword (case
 * does not count, as in IMAP), and triggers keep their number in the
 * mailbox row. Every keyword of a message is in its mailbox's rows: a row is
 * added, in the same transaction, before a message row carries the keyword
 * (idx_msg_add, store_flags_update). Rows are not removed while the mailbox
 * lives, as other IMAP servers keep their keyword lists, so the FLAGS list
 * of a mailbox is one read of its rows, not a pass over every message, and a
 * mailbox's list is bounded: past STORE_MAILBOX_KEYWORDS_MAX a new keyword
 * is refused or left off (store.h).
 */
#include "lib/common.h"

#include <errno.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "store/store_private.h"

/* Add one word to a space-separated list. */
static void
words_add(struct buf *b, const char *p, size_t len)
{
	if ((b->len > 0 && buf_add_char(b, ' ') < 0) || buf_add(b, p, len) < 0)
		panic("keywords: %zu bytes", b->len);
}

/* 1: the mailbox has used the keyword p[0..len), spelt as it was first
 * (added to out); 0: not; -1: error. */
static int
keyword_used(struct store_user *user, int64_t box, const char *p, size_t len, struct buf *out,
	     const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_KEYWORD_FIND);

	if (st == NULL)
		return user_db_fail(user, error_r, "keyword lookup");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_text(st, 2, p, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		words_add(out, name != NULL ? name : "", (size_t)sqlite3_column_bytes(st, 0));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "keyword lookup");
	return rc == SQLITE_ROW;
}

static int
keyword_count(struct store_user *user, int64_t box, uint32_t *count_r, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_KEYWORD_COUNT);

	if (st == NULL)
		return user_db_fail(user, error_r, "keyword count");
	sqlite3_bind_int64(st, 1, box);
	int rc = sqlite3_step(st);
	*count_r = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return user_db_fail(user, error_r, "keyword count");
	return 0;
}

static int
keyword_add(struct store_user *user, int64_t box, const char *p, size_t len, const char **error_r)
{
	sqlite3_stmt *st = idx_stmt(user, ST_KEYWORD_ADD);

	if (st == NULL)
		return user_db_fail(user, error_r, "keyword insert");
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_text(st, 2, p, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : user_db_fail(user, error_r, "keyword insert");
}

int
idx_keywords_admit(struct store_user *user, int64_t box, const char *keywords, bool strict,
		   char **kept_r, const char **error_r)
{
	struct buf kept;
	bool dropped = false, respelt = false;
	uint32_t count = 0;
	bool counted = false;
	int ret = -1;

	*kept_r = NULL;
	buf_init(&kept, BUF_UNLIMITED);
	for (const char *p = keywords != NULL ? keywords : ""; *p != '\0';) {
		size_t len = strcspn(p, " ");
		const char *word = p;
		p += len;
		if (*p == ' ')
			p++;
		if (len == 0)
			continue;
		size_t at = kept.len;
		int used = keyword_used(user, box, word, len, &kept, error_r);
		if (used < 0)
			goto out;
		if (used) {
			/* the spelling the mailbox knows (IMAP keywords are
			 * case-insensitive) */
			at += at > 0;
			respelt = respelt || memcmp(kept.data + at, word, len) != 0;
			continue;
		}
		if (!counted && keyword_count(user, box, &count, error_r) < 0)
			goto out;
		counted = true;
		if (count >= STORE_MAILBOX_KEYWORDS_MAX) {
			if (strict) {
				user_fail(user, error_r, E2BIG, "%s: a mailbox may use %d keywords",
					  user->address, STORE_MAILBOX_KEYWORDS_MAX);
				goto out;
			}
			dropped = true;
			continue;
		}
		if (keyword_add(user, box, word, len, error_r) < 0)
			goto out;
		count++;
		words_add(&kept, word, len);
	}
	if (dropped || respelt)
		*kept_r = buf_steal(&kept);
	ret = 0;
out:
	buf_release(&kept);
	return ret;
}

int
store_mailbox_keywords(struct store_mailbox *box, char **list_r, uint32_t *count_r,
		       const char **error_r)
{
	struct store_user *user = box->user;

	if (list_r == NULL)
		return keyword_count(user, box->row.id, count_r, error_r);
	sqlite3_stmt *st = idx_stmt(user, ST_KEYWORD_LIST);
	if (st == NULL)
		return user_db_fail(user, error_r, "keyword list");
	sqlite3_bind_int64(st, 1, box->row.id);
	struct buf b;
	uint32_t n = 0;
	int rc;
	buf_init(&b, BUF_UNLIMITED);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		words_add(&b, name != NULL ? name : "", (size_t)sqlite3_column_bytes(st, 0));
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		buf_release(&b);
		return user_db_fail(user, error_r, "keyword list");
	}
	*list_r = buf_steal(&b);
	*count_r = n;
	return 0;
}
