/* domain.c - 'postern domain': placeholder until the accounts store lands. */
#include "lib/common.h"

#include "cli/cli.h"

int
cmd_domain(struct cli *cli, int argc, char **argv)
{
	cli_error(cli, "not available in this build");
	return 1;
}
