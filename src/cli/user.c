/* user.c - 'postern user add|list|del|passwd|quota|enable|disable'. */
#include "lib/common.h"

#include <inttypes.h>

#include "cli/admin.h"
#include "cli/cli.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "store/accounts.h"

static const char usage_text[] =
	"usage: postern user add ADDRESS [--password-stdin | --password-hash HASH]\n"
	"                        [--quota SIZE] [--disabled]\n"
	"       postern user list [DOMAIN] [-l | --long]\n"
	"       postern user del ADDRESS\n"
	"       postern user passwd ADDRESS [--password-stdin | --password-hash HASH]\n"
	"       postern user passwd ADDRESS --apop-secret | --no-apop\n"
	"       postern user quota ADDRESS SIZE\n"
	"       postern user enable ADDRESS\n"
	"       postern user disable ADDRESS\n"
	"\n"
	"A user is a mailbox and a login, named by its address in a local domain.\n"
	"Addresses are compared without regard to case.\n"
	"\n"
	"  --password-stdin     read the password from the first line of standard\n"
	"                       input (the trailing newline is removed)\n"
	"  --password-hash HASH store an existing hash, e.g. migrated from Dovecot:\n"
	"                       {ARGON2ID}, {ARGON2I}, {SHA512-CRYPT}, {SHA256-CRYPT},\n"
	"                       {BLF-CRYPT}, {CRYPT} or a bare crypt string ($6$...)\n"
	"                       Plain-text and weak schemes are refused.\n"
	"  Without either, the password is asked twice on the terminal. New\n"
	"  passwords are hashed with argon2id.\n"
	"  --quota SIZE         storage quota: bytes, or K, M, G, T (powers of 1024),\n"
	"                       e.g. 500M, 2G; 0 or none = no quota (the default)\n"
	"  --disabled           create the account disabled: it cannot log in (mail\n"
	"                       for it is still accepted and delivered)\n"
	"  -l, --long           list: ADDRESS, quota in bytes and enabled/disabled,\n"
	"                       separated by tabs\n"
	"\n"
	"'del' removes the account only: mail on disk is never touched.\n"
	"\n"
	"Global options: --data DIR, -c FILE, -o SECTION.KEY=VALUE.\n";

static int
print_user(const struct accounts_user *u, void *ctx)
{
	const bool *long_list = ctx;
	int n;

	if (*long_list)
		n = printf("%s\t%" PRIu64 "\t%s\n", u->address, u->quota,
			   u->enabled ? "enabled" : "disabled");
	else
		n = printf("%s\n", u->address);
	return n < 0 ? -1 : 0;
}

static int
fail(struct cli *cli, const char *error)
{
	cli_error(cli, "%s", error);
	return 1;
}

static int
user_add(struct cli *cli, struct accounts *db, const struct admin_args *a)
{
	const char *address = a->words[1], *error;
	struct accounts_user existing;
	struct buf canon, hash;
	uint64_t quota = 0;
	int rc;

	if (a->quota != NULL && admin_parse_size(a->quota, &quota) < 0)
		return admin_usage_error(cli, "bad size '%s' (use bytes, or e.g. 500M, 2G)",
					 a->quota);
	/* Check what can be checked before asking for a password. */
	buf_init(&canon, BUF_UNLIMITED);
	if (accounts_user_canon(db, address, &canon, &error) < 0) {
		cli_error(cli, "%s", error);
		buf_release(&canon);
		return 1;
	}
	rc = accounts_domain_exists(db, addr_domain_part(canon.data), &error);
	if (rc <= 0) {
		if (rc == 0)
			cli_error(cli, "unknown domain '%s' (add it with 'postern domain add')",
				  addr_domain_part(canon.data));
		else
			cli_error(cli, "%s", error);
		buf_release(&canon);
		return 1;
	}
	if (accounts_user_get(db, canon.data, &existing, &error) == 0) {
		accounts_user_clear(&existing);
		cli_error(cli, "user '%s' already exists", canon.data);
		buf_release(&canon);
		return 1;
	}
	buf_init(&hash, BUF_UNLIMITED);
	if ((rc = admin_password(cli, a, &hash)) == 0) {
		if (accounts_user_add(db, address, hash.data, quota, !(a->given & OPT_DISABLED),
				      &error) < 0)
			rc = fail(cli, error);
		else
			printf("user %s added%s\n", canon.data,
			       (a->given & OPT_DISABLED) ? " (disabled)" : "");
	}
	if (hash.data != NULL)
		explicit_bzero(hash.data, hash.len);
	buf_release(&hash);
	buf_release(&canon);
	return rc;
}

static int
user_apop(struct cli *cli, struct accounts *db, const struct admin_args *a,
	  const struct accounts_user *existing)
{
	char secret[256];
	const char *error;
	int rc = 0;

	if ((a->given & OPT_APOP) && (a->given & OPT_NO_APOP))
		return admin_usage_error(cli, "--apop-secret and --no-apop exclude each other");
	if ((a->given & OPT_APOP) && (a->given & OPT_PW_STDIN))
		return admin_usage_error(cli, "--apop-secret reads standard input: set the password "
					      "in a separate command");
	if (a->given & OPT_NO_APOP) {
		if (accounts_user_set_apop(db, existing->address, NULL, &error) < 0)
			return fail(cli, error);
		printf("APOP turned off for %s\n", existing->address);
		return 0;
	}
	if ((rc = admin_read_secret(cli, secret, sizeof(secret))) != 0)
		return rc;
	if (accounts_user_set_apop(db, existing->address, secret, &error) < 0)
		rc = fail(cli, error);
	else
		printf("APOP secret of %s set (stored as given: APOP needs it)\n",
		       existing->address);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

static int
user_passwd(struct cli *cli, struct accounts *db, const struct admin_args *a)
{
	struct accounts_user existing;
	const char *error;
	struct buf hash;
	int rc;

	/* The user must exist before a password is asked for. */
	if (accounts_user_get(db, a->words[1], &existing, &error) < 0)
		return fail(cli, error);
	if ((a->given & (OPT_APOP | OPT_NO_APOP)) && !(a->given & (OPT_PW_STDIN | OPT_PW_HASH))) {
		rc = user_apop(cli, db, a, &existing);
		accounts_user_clear(&existing);
		return rc;
	}
	buf_init(&hash, BUF_UNLIMITED);
	if ((rc = admin_password(cli, a, &hash)) == 0) {
		if (accounts_user_set_password(db, existing.address, hash.data, &error) < 0)
			rc = fail(cli, error);
		else
			printf("password of %s changed\n", existing.address);
	}
	if (hash.data != NULL)
		explicit_bzero(hash.data, hash.len);
	buf_release(&hash);
	accounts_user_clear(&existing);
	return rc;
}

static int
user_del(struct cli *cli, struct accounts *db, const char *data_dir, const char *address)
{
	unsigned left;
	const char *error;
	struct buf canon;

	if (accounts_user_del(db, address, &left, &error) < 0)
		return fail(cli, error);
	buf_init(&canon, BUF_UNLIMITED);
	const char *name = admin_canon_addr(address, &canon);
	printf("user %s deleted; mail stored under %s/mail/ was not touched\n", name, data_dir);
	if (left > 0)
		cli_error(cli, "warning: %u alias%s still name%s %s as a target "
			       "(see 'postern alias list')",
			  left, left == 1 ? "" : "es", left == 1 ? "s" : "", name);
	buf_release(&canon);
	return 0;
}

static int
user_quota(struct cli *cli, struct accounts *db, const char *address, const char *size)
{
	uint64_t quota;
	const char *error;
	struct buf canon;

	if (admin_parse_size(size, &quota) < 0)
		return admin_usage_error(cli, "bad size '%s' (use bytes, or e.g. 500M, 2G)", size);
	if (accounts_user_set_quota(db, address, quota, &error) < 0)
		return fail(cli, error);
	buf_init(&canon, BUF_UNLIMITED);
	if (quota == 0)
		printf("quota of %s removed\n", admin_canon_addr(address, &canon));
	else
		printf("quota of %s set to %" PRIu64 " bytes\n", admin_canon_addr(address, &canon),
		       quota);
	buf_release(&canon);
	return 0;
}

static int
user_enable(struct cli *cli, struct accounts *db, const char *address, bool enable)
{
	const char *error;
	struct buf canon;

	if (accounts_user_set_enabled(db, address, enable, &error) < 0)
		return fail(cli, error);
	buf_init(&canon, BUF_UNLIMITED);
	printf("user %s %s\n", admin_canon_addr(address, &canon), enable ? "enabled" : "disabled");
	buf_release(&canon);
	return 0;
}

static int
check_action(struct cli *cli, const struct admin_args *a)
{
	const char *action = a->words[0];

	if (strcmp(action, "add") == 0)
		return admin_check(cli, a, OPT_PW_STDIN | OPT_PW_HASH | OPT_QUOTA | OPT_DISABLED, 2,
				   2);
	if (strcmp(action, "list") == 0)
		return admin_check(cli, a, OPT_LONG, 1, 2);
	if (strcmp(action, "del") == 0 || strcmp(action, "enable") == 0 ||
	    strcmp(action, "disable") == 0)
		return admin_check(cli, a, 0, 2, 2);
	if (strcmp(action, "passwd") == 0)
		return admin_check(cli, a, OPT_PW_STDIN | OPT_PW_HASH | OPT_APOP | OPT_NO_APOP, 2, 2);
	if (strcmp(action, "quota") == 0)
		return admin_check(cli, a, 0, 3, 3);
	return admin_usage_error(cli, "unknown action '%s'", action);
}

int
cmd_user(struct cli *cli, int argc, char **argv)
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
	if ((rc = check_action(cli, &a)) == 0 && (rc = admin_open(cli, &db, &data_dir)) == 0) {
		const char *action = a.words[0], *error;
		bool long_list = (a.given & OPT_LONG) != 0;
		if (strcmp(action, "add") == 0)
			rc = user_add(cli, db, &a);
		else if (strcmp(action, "list") == 0)
			rc = accounts_user_list(db, a.count > 1 ? a.words[1] : NULL, print_user,
						&long_list, &error) < 0
				     ? fail(cli, error)
				     : 0;
		else if (strcmp(action, "del") == 0)
			rc = user_del(cli, db, data_dir, a.words[1]);
		else if (strcmp(action, "passwd") == 0)
			rc = user_passwd(cli, db, &a);
		else if (strcmp(action, "quota") == 0)
			rc = user_quota(cli, db, a.words[1], a.words[2]);
		else
			rc = user_enable(cli, db, a.words[1], strcmp(action, "enable") == 0);
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
