/* check.c - 'postern check'. */
#include "lib/common.h"

#include "cli/cli.h"

int
cmd_check(struct cli *cli, int argc, char **argv)
{
	cli_error(cli, "not available in this build");
	return 1;
}
