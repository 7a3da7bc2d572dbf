/* cli.c - global command-line options shared by every subcommand. */
#include "lib/common.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/config.h"
#include "lib/xalloc.h"

int
cli_global_option(struct cli *cli, int argc, char **argv, int *i)
{
	const char *opt = argv[*i];
	const char **target = NULL;
	bool is_override = false;

	if (strcmp(opt, "--data") == 0)
		target = &cli->data_dir;
	else if (strcmp(opt, "-c") == 0 || strcmp(opt, "--config") == 0)
		target = &cli->config_file;
	else if (strcmp(opt, "-o") == 0)
		is_override = true;
	else if (strncmp(opt, "--data=", 7) == 0) {
		cli->data_dir = opt + 7;
		(*i)++;
		return 1;
	} else
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "postern: option %s needs an argument\n", opt);
		return -1;
	}
	const char *value = argv[*i + 1];
	if (is_override) {
		cli->overrides = xreallocarray(cli->overrides, cli->override_count + 1,
					       sizeof(*cli->overrides));
		cli->overrides[cli->override_count++] = value;
	} else {
		*target = value;
	}
	*i += 2;
	return 1;
}

int
cli_collect(struct cli *cli, int argc, char **argv, char **words)
{
	int n = 0;
	bool only_words = false;

	for (int i = 0; i < argc;) {
		if (!only_words && strcmp(argv[i], "--") == 0) {
			only_words = true;
			i++;
			continue;
		}
		int r = only_words ? 0 : cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return -1;
		if (r == 0)
			words[n++] = argv[i++];
	}
	return n;
}

static int
become_data_owner(const struct cli *cli, struct config *cfg)
{
	struct stat st;

	if (geteuid() != 0 || stat(cfg->data_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	/* Enter the directory while still root: its parents need not be
	 * reachable by its owner (see lib/sqlite_vfs.h). */
	if (chdir(cfg->data_dir) < 0) {
		cli_error(cli, "%s: %s", cfg->data_dir, strerror(errno));
		return -1;
	}
	free(cfg->data_dir);
	cfg->data_dir = xstrdup(".");
	if (setgroups(1, &st.st_gid) < 0 || setresgid(st.st_gid, st.st_gid, st.st_gid) < 0 ||
	    setresuid(st.st_uid, st.st_uid, st.st_uid) < 0) {
		cli_error(cli, "cannot switch to the owner of %s (uid %lu): %s", cfg->data_dir,
			  (unsigned long)st.st_uid, strerror(errno));
		return -1;
	}
	return 0;
}

struct config *
cli_config(const struct cli *cli)
{
	struct config *cfg = config_new();
	const char *error;

	if (cli->config_file != NULL && config_load_file(cfg, cli->config_file, &error) < 0)
		goto fail;
	for (size_t i = 0; i < cli->override_count; i++)
		if (config_set_override(cfg, cli->overrides[i], &error) < 0)
			goto fail;
	if (cli->data_dir != NULL && config_set(cfg, "server.data_dir", cli->data_dir, &error) < 0)
		goto fail;
	if (config_finish(cfg, geteuid(), &error) < 0)
		goto fail;
	if (cli->as_data_owner && become_data_owner(cli, cfg) < 0) {
		config_free(&cfg);
		return NULL;
	}
	return cfg;
fail:
	cli_error(cli, "%s", error);
	config_free(&cfg);
	return NULL;
}

void
cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "postern%s%s: ", cli->command ? " " : "", cli->command ? cli->command : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
