/* postern.c - main: dispatch to a subcommand. */
#include "lib/common.h"

#include <locale.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/sqlite_vfs.h"

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
	bool as_data_owner; /* see struct cli */
};

static const struct command commands[] = {
	{"serve", cmd_serve, "run every service (SMTP, IMAP, POP3, HTTP)", false},
	{"check", cmd_check, "validate the configuration and data directory, print settings", false},
	{"domain", cmd_domain, "add, list or delete local domains", true},
	{"user", cmd_user, "add, list, delete users or change their passwords", true},
	{"alias", cmd_alias, "add, list or delete aliases", true},
	{"reindex", cmd_reindex, "rebuild a user's mail index from the Maildir", true},
	{"queue", cmd_queue, "list, show, flush, hold, release or delete queued mail", true},
	{"mailq", cmd_mailq, "list the mail queue (postern queue list)", true},
	{"sendmail", cmd_sendmail, "queue a message read from standard input (sendmail options)",
	 false},
	{"route", cmd_route, "show where mail for a domain goes (MX, addresses)", false},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: postern [--data DIR] [-c FILE] [-o SECTION.KEY=VALUE]... COMMAND [ARGS]\n"
		     "\ncommands:\n");
	for (size_t i = 0; i < N_ELEMENTS(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'postern COMMAND --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
	struct cli cli = {0};
	int i = 1;

	setlocale(LC_CTYPE, "C.UTF-8");
	log_open("postern", LOG_LVL_INFO, false);
	if (sqlite_vfs_relative_register() < 0)
		fatal("SQLite has no unix VFS");
	/* Invoked as sendmail or mailq: every argument is that command's;
	 * the data directory and configuration file come from the
	 * environment (docs/sendmail.md). */
	const char *self = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(self, "sendmail") == 0 || strcmp(self, "mailq") == 0) {
		cli.data_dir = getenv("POSTERN_DATA");
		cli.config_file = getenv("POSTERN_CONFIG");
		cli.command = self;
		return self[0] == 's' ? cmd_sendmail(&cli, argc, argv) : cmd_mailq(&cli, argc, argv);
	}
	while (i < argc) {
		int r = cli_global_option(&cli, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0)
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
	    strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
		if (strcmp(argv[i], commands[c].name) == 0) {
			cli.command = commands[c].name;
			cli.as_data_owner = commands[c].as_data_owner;
			return commands[c].run(&cli, argc - i, argv + i);
		}
	}
	fprintf(stderr, "postern: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
