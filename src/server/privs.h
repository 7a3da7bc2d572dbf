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

#endif
