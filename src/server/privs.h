/* privs.h - the unprivileged identity network-facing processes run as. */
#ifndef POSTERN_PRIVS_H
#define POSTERN_PRIVS_H

#include "lib/common.h"

struct privs {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Look up user name. Returns -1 with *error_r (static or in p) when the
 * user does not exist or is root. */
int privs_lookup(const char *name, struct privs *p, const char **error_r);

/* Drop to p for good (groups, gid, uid; no way back, no new privileges).
 * Fatal when any step fails or root can be regained. */
void privs_drop(const struct privs *p);

/* Act with p's rights (groups, effective gid and uid) until privs_leave;
 * the saved ids stay root's. For the master's work in the data directory,
 * which is p's: a link p put there then leads nowhere p could not go
 * itself. Fatal when a step fails. */
void privs_enter(const struct privs *p);

/* Back to root (effective ids 0, no supplementary groups: root needs none).
 * Fatal when a step fails. */
void privs_leave(void);

#endif
