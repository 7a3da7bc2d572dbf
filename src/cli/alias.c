/* alias.c - 'postern alias add|list|del'. */
#include "lib/common.h"

#include <limits.h>

#include "cli/admin.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "store/accounts.h"

static const char usage_text[] =
	"usage: postern alias add SOURCE TARGET [TARGET...]\n"
	"       postern alias list [DOMAIN]\n"
	"       postern alias del SOURCE [TARGET]\n"
	"\n"
	"An alias sends mail for SOURCE to each TARGET. SOURCE is an address in a\n"
	"local domain, or @DOMAIN for a catch-all that takes mail for addresses of\n"
	"DOMAIN that are neither users nor aliases. A TARGET is an address: a user,\n"
	"another alias, or an address elsewhere (mail is forwarded). A local target\n"
	"must exist, and aliases may not loop. An alias whose source is also a user\n"
	"replaces delivery to that user; name the user among the targets to keep a\n"
	"copy (postern alias add info@example.com info@example.com boss@example.com).\n"
	"\n"
	"  add SOURCE TARGET...  add one row per target (all or none)\n"
	"  list [DOMAIN]         print 'SOURCE<TAB>TARGET', one row per line, sorted\n"
	"  del SOURCE [TARGET]   delete one target, or every target of SOURCE\n"
	"\n"
	"Order of lookup for a recipient: an alias for the exact address, a user,\n"
	"then both again without a +tag (user+tag@domain), then the catch-all.\n"
	"\n"
	"Global options: --data DIR, -c FILE, -o SECTION.KEY=VALUE.\n";

static int
print_alias(const char *source, const char *target, void *ctx)
{
	return printf("%s\t%s\n", source, target) < 0 ? -1 : 0;
}

static int
alias_add(struct cli *cli, struct accounts *db, const struct admin_args *a)
{
	const char *source = a->words[1], *error;
	const char *const *targets = (const char *const *)a->words + 2;
	size_t count = (size_t)a->count - 2;
	struct accounts_user user;
	struct buf canon;

	if (accounts_alias_add(db, source, targets, count, &error) < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	buf_init(&canon, BUF_UNLIMITED);
	const char *name = admin_canon_addr(source, &canon);
	printf("alias %s added (%zu target%s)\n", name, count, count == 1 ? "" : "s");
	if (name[0] != '@' && accounts_user_get(db, name, &user, &error) == 0) {
		bool self = false;
		struct buf t;
		buf_init(&t, BUF_UNLIMITED);
		for (size_t i = 0; i < count && !self; i++) {
			buf_reset(&t);
			self = strcmp(admin_canon_addr(targets[i], &t), name) == 0;
		}
		if (!self)
			cli_error(cli, "note: %s is also a user; its mail now goes to the alias "
				       "targets only (add %s as a target to keep a copy)",
				  name, name);
		buf_release(&t);
		accounts_user_clear(&user);
	}
	buf_release(&canon);
	return 0;
}

static int
alias_del(struct cli *cli, struct accounts *db, const char *source, const char *target)
{
	const char *error;
	int n = accounts_alias_del(db, source, target, &error);
	struct buf canon;

	if (n < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	buf_init(&canon, BUF_UNLIMITED);
	printf("alias %s: %d target%s deleted\n", admin_canon_addr(source, &canon), n,
	       n == 1 ? "" : "s");
	buf_release(&canon);
	return 0;
}

int
cmd_alias(struct cli *cli, int argc, char **argv)
{
	struct admin_args a;
	struct accounts *db = NULL;
	int rc;

	if ((rc = admin_parse(cli, argc, argv, &a)) != 0)
		return rc;
	if (a.given & OPT_HELP) {
		fputs(usage_text, stdout);
		admin_args_free(&a);
		return 0;
	}
	if (a.count == 0) {
		fputs(usage_text, stderr);
		admin_args_free(&a);
		return EXIT_USAGE;
	}
	const char *action = a.words[0];
	if (strcmp(action, "add") == 0)
		rc = admin_check(cli, &a, 0, 3, INT_MAX);
	else if (strcmp(action, "list") == 0)
		rc = admin_check(cli, &a, 0, 1, 2);
	else if (strcmp(action, "del") == 0)
		rc = admin_check(cli, &a, 0, 2, 3);
	else
		rc = admin_usage_error(cli, "unknown action '%s'", action);
	if (rc == 0 && (rc = admin_open(cli, &db, NULL)) == 0) {
		const char *error;
		if (strcmp(action, "add") == 0) {
			rc = alias_add(cli, db, &a);
		} else if (strcmp(action, "list") == 0) {
			const char *domain = a.count > 1 ? a.words[1] : NULL;
			if (accounts_alias_list(db, domain, print_alias, NULL, &error) < 0) {
				cli_error(cli, "%s", error);
				rc = 1;
			}
		} else {
			rc = alias_del(cli, db, a.words[1], a.count > 2 ? a.words[2] : NULL);
		}
	}
	accounts_close(&db);
	admin_args_free(&a);
	if (fflush(stdout) != 0 && rc == 0) {
		cli_error(cli, "write error: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
