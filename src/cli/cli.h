/* cli.h - the postern command line: global options and subcommands.
 *
 * Global options may stand before or after the subcommand name:
 *   --data DIR   data directory (default ./var)
 *   -c FILE      configuration file
 *   -o S.K=V     override one configuration key (repeatable)
 * Exit status: 0 success, 1 failure (a one-line message on stderr), 2 usage.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include "lib/common.h"

struct config;

#define EXIT_USAGE 2

struct cli {
	const char *data_dir;    /* --data, or NULL */
	const char *config_file; /* -c, or NULL */
	const char **overrides;  /* -o values */
	size_t override_count;
	const char *command;     /* "user", "domain", ... */
	/* Administration commands: when run as root on a data directory that
	 * belongs to the unprivileged server user, cli_config() switches to
	 * that user, so that every file they create stays usable by the
	 * server. */
	bool as_data_owner;
};

/* If argv[*i] is a global option, consume it (and its argument), advance *i
 * and return 1; return 0 if it is not one; -1 (message printed) when its
 * argument is missing. */
int cli_global_option(struct cli *cli, int argc, char **argv, int *i);

/* Split argv into global options and the remaining positional words (plus
 * any other options, in order). Returns the count of words left in
 * words[], or -1 on a usage error (message printed). words must have argc
 * slots. */
int cli_collect(struct cli *cli, int argc, char **argv, char **words);

/* Build the effective configuration from defaults, -c, -o and --data (and
 * switch to the data directory's owner, see as_data_owner). Prints the
 * error and returns NULL on failure. */
struct config *cli_config(const struct cli *cli);

/* Print a one-line error "postern COMMAND: message" to stderr. */
void cli_error(const struct cli *cli, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Subcommands: argv[0] is the subcommand's name. */
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_domain(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_alias(struct cli *cli, int argc, char **argv);
int cmd_reindex(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_mailq(struct cli *cli, int argc, char **argv);
/* Exit codes of sendmail's (sysexits.h), not the ones above. */
int cmd_sendmail(struct cli *cli, int argc, char **argv);
int cmd_route(struct cli *cli, int argc, char **argv);

#endif
