/* serve.c - 'postern serve': run every service in the foreground. */
#include "lib/common.h"

#include "cli/cli.h"
#include "lib/config.h"
#include "server/master.h"

static const char serve_usage[] =
	"usage: postern serve [--data DIR] [-c FILE] [-o SECTION.KEY=VALUE]...\n"
	"\n"
	"Run every service (SMTP, submission, IMAP, POP3, HTTP and their TLS forms)\n"
	"in the foreground until SIGTERM or SIGINT. SIGHUP reloads the configuration\n"
	"and certificates without closing listeners. With no configuration, the\n"
	"embedded defaults apply: data in ./var, a self-signed certificate generated\n"
	"there on first start, and ports 2525 2587 2465 1143 1993 1110 1995 8080 8443\n"
	"(25 587 465 143 993 110 995 80 443 when started as root, in which case the\n"
	"services run as server.user). 'postern check' prints every setting.\n";

int
cmd_serve(struct cli *cli, int argc, char **argv)
{
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int n = words != NULL ? cli_collect(cli, argc - 1, argv + 1, words) : -1;

	if (n < 0) {
		free(words);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(words[i], "--help") == 0 || strcmp(words[i], "-h") == 0) {
			fputs(serve_usage, stdout);
			free(words);
			return 0;
		}
		cli_error(cli, "unexpected argument '%s'", words[i]);
		fputs(serve_usage, stderr);
		free(words);
		return EXIT_USAGE;
	}
	free(words);
	struct config *cfg = cli_config(cli);
	if (cfg == NULL)
		return 1;
	int status = master_run(cli, cfg);
	free(cli->overrides); /* kept for reloads until here */
	cli->overrides = NULL;
	cli->override_count = 0;
	return status;
}
