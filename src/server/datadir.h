/* datadir.h - the data directory as the master prepares and uses it.
 *
 * When the master runs as root, the directory and what is in it belong to
 * the unprivileged user (server.user), who can put links there. So the
 * master never follows a path inside it with root's rights: it gives the
 * directory's fixed entries (the accounts database, queue/, public/,
 * tls/) to that user through descriptors opened without following links
 * (lib/owner.h), and does the rest of its work there (queue recovery, the
 * submission directory, the self-signed certificate) as that user
 * (datadir_enter). */
#ifndef POSTERN_DATADIR_H
#define POSTERN_DATADIR_H

#include "lib/common.h"
#include "server/privs.h"

/* Make dir where missing (mode 0751: other users may pass through to
 * public/ but not list it), give it and its fixed entries to p (NULL when
 * not root: nothing to give), make the queue's directories and public/
 * (0755), and recover the queue (messages whose writing never finished
 * were never acknowledged: removed before any worker writes). Fatal on
 * failure. */
void datadir_prepare(const char *dir, const struct privs *p);

struct datadir_visit {
	int cwd; /* where to come back to */
	bool entered;
};

/* Work in dir, the working directory until datadir_leave, with p's rights
 * when p is not NULL (privs_enter). Relative paths then lead inside dir,
 * whatever the rights on its parents. -1 with *error_r when dir cannot be
 * entered (nothing to leave). */
int datadir_enter(const char *dir, const struct privs *p, struct datadir_visit *v,
		  const char **error_r);

/* Back to root's rights and the working directory datadir_enter left.
 * Fatal when either fails. */
void datadir_leave(struct datadir_visit *v);

#endif
