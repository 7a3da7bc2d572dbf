/* admin.c - helpers shared by 'postern domain', 'user' and 'alias'. */
#include "lib/common.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "cli/admin.h"
#include "cli/cli.h"
#include "lib/addr.h"
#include "lib/config.h"
#include "lib/xalloc.h"
#include "store/accounts.h"

int
admin_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	cli_error(cli, "%s", msg);
	fprintf(stderr, "Try 'postern %s --help'.\n", cli->command != NULL ? cli->command : "");
	return EXIT_USAGE;
}

struct opt_def {
	const char *name, *alias;
	enum admin_opt bit;
	bool has_value;
};

static const struct opt_def opt_defs[] = {
	{"--help", "-h", OPT_HELP, false},
	{"--force", NULL, OPT_FORCE, false},
	{"--long", "-l", OPT_LONG, false},
	{"--password-stdin", NULL, OPT_PW_STDIN, false},
	{"--password-hash", NULL, OPT_PW_HASH, true},
	{"--quota", NULL, OPT_QUOTA, true},
	{"--disabled", NULL, OPT_DISABLED, false},
	{"--apop-secret", NULL, OPT_APOP, false},
	{"--no-apop", NULL, OPT_NO_APOP, false},
};

int
admin_parse(struct cli *cli, int argc, char **argv, struct admin_args *a)
{
	char **words = xcalloc((size_t)argc + 1, sizeof(*words));
	int literal = 0, n;

	memset(a, 0, sizeof(*a));
	/* cli_collect drops "--"; remember how many words followed it. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			literal = argc - i - 1;
			break;
		}
	}
	if ((n = cli_collect(cli, argc, argv, words)) < 0) {
		free(words);
		return EXIT_USAGE;
	}
	a->storage = xcalloc((size_t)n + 1, sizeof(*a->storage));
	int first_literal = n - literal;
	for (int i = 1; i < n; i++) {
		char *w = words[i];
		if (i >= first_literal || w[0] != '-' || w[1] == '\0') {
			a->storage[a->count++] = w;
			continue;
		}
		const struct opt_def *d = NULL;
		const char *value = NULL;
		for (size_t k = 0; k < N_ELEMENTS(opt_defs) && d == NULL; k++) {
			size_t len = strlen(opt_defs[k].name);
			if (strcmp(w, opt_defs[k].name) == 0 ||
			    (opt_defs[k].alias != NULL && strcmp(w, opt_defs[k].alias) == 0))
				d = &opt_defs[k];
			else if (opt_defs[k].has_value && strncmp(w, opt_defs[k].name, len) == 0 &&
				 w[len] == '=')
				d = &opt_defs[k], value = w + len + 1;
		}
		if (d == NULL) {
			free(words);
			admin_args_free(a);
			return admin_usage_error(cli, "unknown option '%s'", w);
		}
		if (d->has_value && value == NULL) {
			if (i + 1 >= n) {
				free(words);
				admin_args_free(a);
				return admin_usage_error(cli, "option %s needs a value", d->name);
			}
			value = words[++i];
		}
		a->given |= d->bit;
		if (d->bit == OPT_PW_HASH)
			a->pw_hash = value;
		else if (d->bit == OPT_QUOTA)
			a->quota = value;
	}
	a->words = a->storage;
	free(words);
	return 0;
}

void
admin_args_free(struct admin_args *a)
{
	free(a->storage);
	memset(a, 0, sizeof(*a));
}

int
admin_check(struct cli *cli, const struct admin_args *a, unsigned allowed, int min, int max)
{
	unsigned extra = a->given & ~(allowed | OPT_HELP);

	for (size_t k = 0; k < N_ELEMENTS(opt_defs); k++)
		if (extra & opt_defs[k].bit)
			return admin_usage_error(cli, "option %s does not apply to '%s'",
						 opt_defs[k].name, a->words[0]);
	if (a->count < min)
		return admin_usage_error(cli, "'%s' needs more arguments", a->words[0]);
	if (a->count > max)
		return admin_usage_error(cli, "too many arguments for '%s'", a->words[0]);
	return 0;
}

int
admin_open(struct cli *cli, struct accounts **db_r, char **data_dir_r)
{
	struct config *cfg = cli_config(cli);
	const char *error;
	int rc;

	*db_r = NULL;
	if (cfg == NULL)
		return 1;
	rc = accounts_open(cfg->data_dir, db_r, &error);
	if (rc == ACCOUNTS_ERR_NOT_FOUND)
		cli_error(cli, "%s (create it, or choose another with --data DIR)", error);
	else if (rc < 0)
		cli_error(cli, "%s", error);
	if (rc == 0 && data_dir_r != NULL)
		*data_dir_r = xstrdup(cfg->data_dir);
	config_free(&cfg);
	return rc < 0 ? 1 : 0;
}

const char *
admin_canon_domain(const char *in, struct buf *scratch)
{
	const char *why;

	return addr_domain_canon(in, scratch, &why) == 0 ? buf_cstr(scratch) : in;
}

const char *
admin_canon_addr(const char *in, struct buf *scratch)
{
	const char *why;

	if (in[0] == '@') {
		/* a catch-all alias source */
		if (buf_add_char(scratch, '@') == 0 &&
		    addr_domain_canon(in + 1, scratch, &why) == 0)
			return buf_cstr(scratch);
		return in;
	}
	return addr_canon(in, scratch, &why) == 0 ? buf_cstr(scratch) : in;
}

int
admin_parse_size(const char *s, uint64_t *bytes_r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (strcasecmp(s, "none") == 0) {
		*bytes_r = 0;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (ascii_tolower((unsigned char)*p)) {
	case 'k': shift = 10; p++; break;
	case 'm': shift = 20; p++; break;
	case 'g': shift = 30; p++; break;
	case 't': shift = 40; p++; break;
	default: break;
	}
	if (shift != 0 && (*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B'))
		p += 2;
	else if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0' || v > ((uint64_t)INT64_MAX >> shift))
		return -1;
	*bytes_r = v << shift;
	return 0;
}

/* ---- passwords ---- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void
restore_tty_and_die(int sig)
{
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read one line (at most PASSWORD_MAX bytes) from standard input into
 * buf[PASSWORD_MAX + 1], without the newline (and a CR before it). Returns
 * the length, or -1 with *error_r set. */
static ssize_t
read_line(char *buf, const char **error_r)
{
	size_t n = 0;
	bool nul = false;

	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return (*error_r = "cannot read the password"), -1;
		if (r == 0 || c == '\n')
			break;
		if (n >= PASSWORD_MAX) {
			/* Drain the rest of the line, then refuse. */
			while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
				;
			return (*error_r = "password longer than 1024 bytes"), -1;
		}
		if (c == '\0')
			nul = true;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (nul)
		return (*error_r = "password contains a NUL byte"), -1;
	if (n == 0)
		return (*error_r = "empty password"), -1;
	return (ssize_t)n;
}

/* Read a line with the terminal's echo off (if stdin is a terminal). */
static ssize_t
read_secret(const char *prompt, char *buf, const char **error_r)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = restore_tty_and_die}, old[N_ELEMENTS(sigs)];
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0;
	ssize_t n;

	if (!tty)
		return read_line(buf, error_r);
	for (size_t i = 0; i < N_ELEMENTS(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	struct termios quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	/* Echo goes off before the prompt shows, so nothing typed after the
	 * prompt can be echoed (or flushed by the mode change). */
	tty_changed = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	if (prompt != NULL) {
		fputs(prompt, stderr);
		fflush(stderr);
	}
	n = read_line(buf, error_r);
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	for (size_t i = 0; i < N_ELEMENTS(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (prompt != NULL)
		fputc('\n', stderr);
	return n;
}

int
admin_read_secret(struct cli *cli, char *out, size_t size)
{
	char pw[PASSWORD_MAX + 1];
	const char *error;

	if (read_secret(NULL, pw, &error) < 0) {
		cli_error(cli, "%s", error);
		return 1;
	}
	int r = str_copy(out, size, pw);
	explicit_bzero(pw, sizeof(pw));
	if (r < 0) {
		cli_error(cli, "secret too long");
		return 1;
	}
	return 0;
}

int
admin_password(struct cli *cli, const struct admin_args *a, struct buf *hash_r)
{
	char pw[PASSWORD_MAX + 1], again[PASSWORD_MAX + 1];
	const char *error;
	int ret = 0;

	if ((a->given & OPT_PW_HASH) && (a->given & OPT_PW_STDIN))
		return admin_usage_error(cli, "--password-stdin and --password-hash exclude each "
					      "other");
	if (a->given & OPT_PW_HASH) {
		if (buf_add_str(hash_r, a->pw_hash) < 0) {
			cli_error(cli, "password hash too long");
			return 1;
		}
		return 0;
	}
	if (a->given & OPT_PW_STDIN) {
		if (read_secret(NULL, pw, &error) < 0) {
			cli_error(cli, "%s", error);
			return 1;
		}
	} else if (isatty(STDIN_FILENO)) {
		if (read_secret("Password: ", pw, &error) < 0 ||
		    read_secret("Retype password: ", again, &error) < 0) {
			cli_error(cli, "%s", error);
			ret = 1;
		} else if (strcmp(pw, again) != 0) {
			cli_error(cli, "the passwords do not match");
			ret = 1;
		}
		explicit_bzero(again, sizeof(again));
	} else {
		return admin_usage_error(cli, "no password given: use --password-stdin or "
					      "--password-hash HASH (or run on a terminal)");
	}
	if (ret == 0 && password_hash(pw, hash_r, &error) < 0) {
		cli_error(cli, "%s", error);
		ret = 1;
	}
	explicit_bzero(pw, sizeof(pw));
	return ret;
}
