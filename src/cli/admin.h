/* admin.h - what 'postern domain', 'user' and 'alias' share: option
 * parsing, opening the accounts database, sizes and password input.
 *
 * Exit codes follow cli.h: 0 success, 1 failure (one line "postern CMD:
 * message" on stderr, nothing changed), EXIT_USAGE for usage errors.
 */
#ifndef POSTERN_CLI_ADMIN_H
#define POSTERN_CLI_ADMIN_H

#include "lib/common.h"

#include "cli/cli.h"
#include "lib/buf.h"

struct accounts;

/* Options the administration commands know; each action allows some. */
enum admin_opt {
	OPT_HELP = 1 << 0,      /* -h, --help */
	OPT_FORCE = 1 << 1,     /* --force */
	OPT_LONG = 1 << 2,      /* -l, --long */
	OPT_PW_STDIN = 1 << 3,  /* --password-stdin */
	OPT_PW_HASH = 1 << 4,   /* --password-hash HASH */
	OPT_QUOTA = 1 << 5,     /* --quota SIZE */
	OPT_DISABLED = 1 << 6,  /* --disabled */
	OPT_APOP = 1 << 7,      /* --apop-secret: read the APOP secret from stdin */
	OPT_NO_APOP = 1 << 8,   /* --no-apop */
};

struct admin_args {
	unsigned given; /* enum admin_opt bits seen */
	const char *pw_hash;
	const char *quota;
	char **words; /* positional words after the command name; words[0] is
		       * the action ("add", "list", ...) */
	int count;
	char **storage; /* owned; free with admin_args_free */
};

/* Split argv (argv[0] = command name) into global options (applied to cli),
 * the options above and positional words. Words after "--" are never
 * options. Returns 0, or EXIT_USAGE after printing the error and the usage
 * hint. */
int admin_parse(struct cli *cli, int argc, char **argv, struct admin_args *a);
void admin_args_free(struct admin_args *a);

/* EXIT_USAGE with a message unless only options in allowed were given and
 * the word count (action included) is within [min, max]. */
int admin_check(struct cli *cli, const struct admin_args *a, unsigned allowed, int min, int max);

/* Print "postern CMD: message" and a hint to run --help; returns EXIT_USAGE. */
int admin_usage_error(struct cli *cli, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Build the configuration and open the accounts database. On failure
 * prints the error and returns 1. *data_dir_r (may be NULL) receives the
 * data directory (owned; free it). */
int admin_open(struct cli *cli, struct accounts **db_r, char **data_dir_r);

/* The canonical form of a domain or address for messages (appended to
 * scratch), or the input itself when it has none. */
const char *admin_canon_domain(const char *in, struct buf *scratch);
const char *admin_canon_addr(const char *in, struct buf *scratch);

/* Parse SIZE: bytes, or a number with K, M, G or T (powers of 1024),
 * optionally followed by B or iB ("500M", "2GiB"); "0" or "none" is 0.
 * Returns 0 or -1. */
int admin_parse_size(const char *s, uint64_t *bytes_r);

/* The stored hash to set, from --password-hash (validated later by the
 * store), --password-stdin (one line read and hashed) or, on a terminal,
 * a prompt asked twice with echo off. Appends to hash_r; returns 0, 1
 * (error printed) or EXIT_USAGE (no way to get a password). */
/* Read one secret line from standard input (the APOP secret) into out,
 * refusing an empty one. Returns 0, or 1 after printing the error. */
int admin_read_secret(struct cli *cli, char *out, size_t size);
int admin_password(struct cli *cli, const struct admin_args *a, struct buf *hash_r);

#endif
