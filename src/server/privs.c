/* privs.c - looking up and dropping to the unprivileged user, for good
 * (the children) or for a while (the master in the data directory). */
#include "lib/common.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/log.h"
#include "server/privs.h"

int
privs_lookup(const char *name, struct privs *p, const char **error_r)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL) {
		*error_r = "user does not exist (create it with: useradd --system "
			   "--no-create-home --shell /usr/sbin/nologin USER)";
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		*error_r = "user must not be root or in group root";
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	if (str_copy(p->name, sizeof(p->name), name) < 0) {
		*error_r = "user name too long";
		return -1;
	}
	return 0;
}

void
privs_drop(const struct privs *p)
{
	uid_t r, e, s;

	if (setgroups(1, &p->gid) < 0)
		fatal("setgroups(%lu): %s", (unsigned long)p->gid, strerror(errno));
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		fatal("setresgid(%lu): %s", (unsigned long)p->gid, strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		fatal("setresuid(%lu): %s", (unsigned long)p->uid, strerror(errno));
	if (getresuid(&r, &e, &s) < 0 || r != p->uid || e != p->uid || s != p->uid)
		fatal("privileges were not dropped to uid %lu", (unsigned long)p->uid);
	if (setuid(0) == 0)
		panic("regained root after dropping privileges");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

void
privs_enter(const struct privs *p)
{
	if (setgroups(1, &p->gid) < 0)
		fatal("setgroups(%lu): %s", (unsigned long)p->gid, strerror(errno));
	if (setresgid((gid_t)-1, p->gid, (gid_t)-1) < 0)
		fatal("setresgid(-1, %lu, -1): %s", (unsigned long)p->gid, strerror(errno));
	if (setresuid((uid_t)-1, p->uid, (uid_t)-1) < 0)
		fatal("setresuid(-1, %lu, -1): %s", (unsigned long)p->uid, strerror(errno));
}

void
privs_leave(void)
{
	if (setresuid((uid_t)-1, 0, (uid_t)-1) < 0)
		fatal("setresuid(-1, 0, -1): %s", strerror(errno));
	if (setresgid((gid_t)-1, 0, (gid_t)-1) < 0)
		fatal("setresgid(-1, 0, -1): %s", strerror(errno));
	if (setgroups(0, NULL) < 0)
		fatal("setgroups(0): %s", strerror(errno));
}
