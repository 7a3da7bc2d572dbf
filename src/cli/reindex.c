/* reindex.c - 'postern reindex': rebuild a user's mail index from the
 * Maildir (docs/store.md, "Rebuilding the index"). */
#include "lib/common.h"

#include <idn2.h>

#include "cli/cli.h"
#include "lib/config.h"
#include "lib/xalloc.h"
#include "store/store.h"

static const char reindex_usage[] =
    "usage: postern reindex [--data DIR] [-c FILE] [-o SECTION.KEY=VALUE]... [--scratch]\n"
    "                       ADDRESS\n"
    "\n"
    "Rebuild the mail index of ADDRESS (mail/DOMAIN/LOCALPART/index.db under the\n"
    "data directory) from its Maildir. Messages the index still knows keep their\n"
    "UIDs, flags and keywords; files it does not know get new UIDs; rows whose file\n"
    "is gone are dropped; folders made by other programs are adopted. With\n"
    "--scratch, or when the index cannot be read (it is kept as\n"
    "index.db.broken-TIME), the index is built anew: every mailbox gets a new\n"
    "UIDVALIDITY and IMAP clients resynchronise. Safe while the server runs.\n";

/* The canonical form the store expects: the domain in lower-case ASCII
 * (A-labels), the local part as given. */
static char *
canonical_address(const char *address, const char **error_r)
{
	const char *at = strrchr(address, '@');
	char *ascii = NULL;

	if (at == NULL || at == address || at[1] == '\0') {
		*error_r = "not an address (local@domain)";
		return NULL;
	}
	if (idn2_to_ascii_8z(at + 1, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK) {
		*error_r = "the domain is not a valid domain name";
		return NULL;
	}
	for (char *p = ascii; *p != '\0'; p++)
		*p = (char)ascii_tolower((unsigned char)*p);
	char *canon = xasprintf("%.*s@%s", (int)(at - address), address, ascii);
	idn2_free(ascii);
	return canon;
}

int
cmd_reindex(struct cli *cli, int argc, char **argv)
{
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int n = words != NULL ? cli_collect(cli, argc - 1, argv + 1, words) : -1;
	const char *address = NULL, *error;
	bool scratch = false;

	for (int i = 0; i < n; i++) {
		if (strcmp(words[i], "--help") == 0 || strcmp(words[i], "-h") == 0) {
			fputs(reindex_usage, stdout);
			free(words);
			return 0;
		}
		if (strcmp(words[i], "--scratch") == 0)
			scratch = true;
		else if (address == NULL && words[i][0] != '-')
			address = words[i];
		else {
			cli_error(cli, "unexpected argument '%s'", words[i]);
			n = -1;
		}
	}
	if (n >= 0 && address == NULL) {
		cli_error(cli, "an address is needed");
		n = -1;
	}
	if (n < 0) {
		free(words);
		fputs(reindex_usage, stderr);
		return EXIT_USAGE;
	}
	char *canon = canonical_address(address, &error);
	free(words);
	if (canon == NULL) {
		cli_error(cli, "%s: %s", address, error);
		return 1;
	}
	struct config *cfg = cli_config(cli);
	if (cfg == NULL) {
		free(canon);
		return 1;
	}
	struct store *store;
	struct store_reindex_report rep;
	int ret = 1;
	if (store_open(cfg->data_dir, cfg->hostname, &store, &error) < 0) {
		cli_error(cli, "%s", error);
	} else {
		if (store_reindex(store, canon, scratch, &rep, &error) < 0) {
			cli_error(cli, "%s", error);
		} else {
			printf("%s: %zu mailboxes, %zu messages kept, %zu added, %zu removed%s\n",
			       canon, rep.mailboxes, rep.kept, rep.added, rep.removed,
			       rep.from_scratch ? "; rebuilt from scratch with new UIDVALIDITY"
						: "");
			ret = 0;
		}
		store_close(&store);
	}
	config_free(&cfg);
	free(canon);
	return ret;
}
