/* imapd_users.c - one store handle per user, and one per selected
 * mailbox, per worker, shared by the user's sessions.
 *
 * A store_user holds an SQLite connection, whose page cache and schema
 * cost far more than a session: a client with a phone, a laptop and a
 * webmail tab open has three sessions, and 50,000 idle sessions must fit
 * in a few hundred MiB. The worker runs one thread, and every store call
 * is done before the event loop goes on, so sessions can take turns on
 * one handle. Handles are counted; with its last session a handle goes
 * back to the store's cache of recent handles (store_user_put), where the
 * user's next login finds it open. A mailbox handle holds three directory
 * descriptors: sessions that select the same mailbox (read-write, or
 * read-only) share one, so that an idle session costs one descriptor, its
 * socket. A handle follows its mailbox (the index row), not the name it
 * was opened by: it is shared with a session that asks for the name the
 * mailbox has now, never with one asking for a name it had before a
 * rename or a name deleted and made again.
 */
#include "lib/common.h"

#include <errno.h>

#include "imap/imapd_private.h"
#include "lib/xalloc.h"

struct shared_user {
	struct shared_user *next;
	struct store *store;
	struct store_user *su;
	char *address;
	unsigned refs;
};

/* The worker's users with a session; few per worker in practice (each
 * login looks once), so a list does. */
static struct shared_user *users;

int
imapd_user_acquire(struct store *store, const char *address, struct store_user **su_r,
		   const char **error_r)
{
	for (struct shared_user *u = users; u != NULL; u = u->next) {
		if (strcmp(u->address, address) == 0) {
			u->refs++;
			*su_r = u->su;
			return 0;
		}
	}
	struct store_user *su;
	if (store_user_get(store, address, &su, error_r) < 0)
		return -1;
	struct shared_user *u = xcalloc(1, sizeof(*u));
	u->store = store;
	u->su = su;
	u->address = xstrdup(address);
	u->refs = 1;
	u->next = users;
	users = u;
	*su_r = su;
	return 0;
}

void
imapd_user_release(struct store_user **sup)
{
	struct store_user *su = *sup;

	if (su == NULL)
		return;
	*sup = NULL;
	for (struct shared_user **pp = &users; *pp != NULL; pp = &(*pp)->next) {
		struct shared_user *u = *pp;
		if (u->su != su)
			continue;
		if (--u->refs > 0)
			return;
		*pp = u->next;
		store_user_put(u->store, &u->su);
		free(u->address);
		free(u);
		return;
	}
	panic("imapd: releasing a store handle that is not shared");
}

struct shared_box {
	struct shared_box *next;
	struct store_user *su;
	struct store_mailbox *box;
	bool readonly;
	unsigned refs;
};

static struct shared_box *boxes;

int
imapd_box_acquire(struct store_user *su, const char *name, bool readonly,
		  struct store_mailbox **box_r, const char **error_r)
{
	for (struct shared_box *b = boxes; b != NULL; b = b->next) {
		const char *error;
		if (b->su != su || b->readonly != readonly ||
		    strcmp(store_mailbox_name(b->box), name) != 0)
			continue;
		/* What opening would do: look at the Maildir again. That reads
		 * the row anew: renamed since (its name is another now) or
		 * deleted (ENOENT), it is not the mailbox asked for. The
		 * sessions that hold it learn of it at their next sync. */
		if (store_mailbox_sync(b->box, &error) < 0) {
			if (errno == ENOENT)
				continue;
			*error_r = error;
			return -1;
		}
		if (strcmp(store_mailbox_name(b->box), name) != 0)
			continue;
		b->refs++;
		*box_r = b->box;
		return 0;
	}
	struct store_mailbox *box;
	if (store_mailbox_open(su, name, readonly, &box, error_r) < 0)
		return -1;
	struct shared_box *b = xcalloc(1, sizeof(*b));
	b->su = su;
	b->box = box;
	b->readonly = readonly;
	b->refs = 1;
	b->next = boxes;
	boxes = b;
	*box_r = box;
	return 0;
}

void
imapd_box_release(struct store_mailbox **boxp)
{
	struct store_mailbox *box = *boxp;

	if (box == NULL)
		return;
	*boxp = NULL;
	for (struct shared_box **pp = &boxes; *pp != NULL; pp = &(*pp)->next) {
		struct shared_box *b = *pp;
		if (b->box != box)
			continue;
		if (--b->refs > 0)
			return;
		*pp = b->next;
		store_mailbox_close(&b->box);
		free(b);
		return;
	}
	panic("imapd: releasing a mailbox handle that is not shared");
}
