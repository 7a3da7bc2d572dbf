/* domain.c - 'postern domain add|list|del': the local domains. */
#include "lib/common.h"

#include "cli/admin.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "store/accounts.h"

static const char usage_text[] =
	"usage: postern domain add DOMAIN\n"
	"       postern domain list\n"
	"       postern domain del DOMAIN [--force]\n"
	"\n"
	"Local domains are the domains postern receives mail for. Names are\n"
	"stored in lower-case ASCII; internationalised names in their xn-- form\n"
	"(IDNA2008), so 'bücher.example' and 'xn--bcher-kva.example' are one domain.\n"
	"\n"
	"  add DOMAIN         add a local domain\n"
	"  list               print the local domains, one per line, sorted\n"
	"  del DOMAIN         delete a domain that has no users and no aliases\n"
	"      --force        delete its users and aliases too (and aliases elsewhere\n"
	"                     that point into it); mail on disk is never touched\n"
	"\n"
	"Global options: --data DIR, -c FILE, -o SECTION.KEY=VALUE.\n";

static int
print_domain(const char *domain, void *ctx)
{
	return printf("%s\n", domain) < 0 ? -1 : 0;
}

static int
domain_add(struct cli *cli, struct accounts *db, const char *name)
{
	const char *error;
	struct buf canon;

	if (accounts_domain_add(db, name, &error) < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	buf_init(&canon, BUF_UNLIMITED);
	printf("domain %s added\n", admin_canon_domain(name, &canon));
	buf_release(&canon);
	return 0;
}

static int
domain_del(struct cli *cli, struct accounts *db, const char *data_dir, const char *name,
	   bool force)
{
	unsigned users, aliases;
	const char *error;
	struct buf canon;
	int rc = accounts_domain_del(db, name, force, &users, &aliases, &error);

	if (rc == ACCOUNTS_ERR_IN_USE) {
		cli_error(cli, "%s; delete them first, or use --force to delete them with it",
			  error);
		return 1;
	}
	if (rc < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	buf_init(&canon, BUF_UNLIMITED);
	printf("domain %s deleted", admin_canon_domain(name, &canon));
	buf_release(&canon);
	if (users > 0 || aliases > 0)
		printf(" with %u user%s and %u alias%s", users, users == 1 ? "" : "s", aliases,
		       aliases == 1 ? "" : "es");
	printf("; mail stored under %s/mail/ was not touched\n", data_dir);
	return 0;
}

int
cmd_domain(struct cli *cli, int argc, char **argv)
{
	struct admin_args a;
	struct accounts *db = NULL;
	char *data_dir = NULL;
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
		rc = admin_check(cli, &a, 0, 2, 2);
	else if (strcmp(action, "list") == 0)
		rc = admin_check(cli, &a, 0, 1, 1);
	else if (strcmp(action, "del") == 0)
		rc = admin_check(cli, &a, OPT_FORCE, 2, 2);
	else
		rc = admin_usage_error(cli, "unknown action '%s'", action);
	if (rc == 0)
		rc = admin_open(cli, &db, &data_dir);
	if (rc == 0) {
		const char *error;
		if (strcmp(action, "add") == 0) {
			rc = domain_add(cli, db, a.words[1]);
		} else if (strcmp(action, "list") == 0) {
			if (accounts_domain_list(db, print_domain, NULL, &error) < 0) {
				cli_error(cli, "%s", error);
				rc = 1;
			}
		} else {
			rc = domain_del(cli, db, data_dir, a.words[1], (a.given & OPT_FORCE) != 0);
		}
	}
	accounts_close(&db);
	free(data_dir);
	admin_args_free(&a);
	if (fflush(stdout) != 0 && rc == 0) {
		cli_error(cli, "write error: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
