/* fuzz_smtp_cmd.c - the SMTP command parser: never reads out of bounds, keeps
 * its output within the protocol limits, maps every error to a reply, and a
 * parsed path printed in canonical form parses back to the same address.
 * The first byte of the input chooses the options. */
#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtp_cmd.h"

static void
check_cstr(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

static void
check_path(const struct smtp_cmd *cmd)
{
	const struct smtp_path *p = &cmd->path;
	bool rcpt = cmd->verb == SMTP_VERB_RCPT;

	check_cstr(p->local, sizeof(p->local));
	check_cstr(p->domain, sizeof(p->domain));
	for (const char *c = p->local; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
	}
	if ((p->flags & SMTP_PATH_RELAY_HACKS) != smtp_path_relay_hack(p))
		abort();
	if (p->null && rcpt)
		abort();

	/* canonical form, then back */
	struct buf line;
	buf_init(&line, 4096);
	if (buf_add_str(&line, rcpt ? "RCPT TO:<" : "MAIL FROM:<") < 0 ||
	    smtp_path_format(p, &line) < 0 || buf_add_str(&line, ">") < 0)
		abort();
	if ((p->flags & SMTP_PATH_UTF8) != 0 && !rcpt && buf_add_str(&line, " SMTPUTF8") < 0)
		abort();
	struct smtp_cmd_options opts = {.extensions = SMTP_EXT_ALL, .smtputf8 = true};
	static struct smtp_cmd again;
	if (smtp_cmd_parse(line.data, line.len, &opts, &again) < 0)
		abort();
	if (again.path.null != p->null || again.path.postmaster != p->postmaster ||
	    strcmp(again.path.local, p->local) != 0 || strcmp(again.path.domain, p->domain) != 0 ||
	    again.path.literal != p->literal ||
	    memcmp(again.path.addr, p->addr, sizeof(p->addr)) != 0 ||
	    ((p->flags & SMTP_PATH_ROUTE) == 0 &&
	     (again.path.flags & SMTP_PATH_UTF8) != (p->flags & SMTP_PATH_UTF8)))
		abort();
	buf_release(&line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_cmd cmd;

	if (size < 1)
		return 0;
	struct smtp_cmd_options opts = {
		.extensions = data[0] & 0x3f,
		.smtputf8 = (data[0] & 0x40) != 0,
		.size_limit = (data[0] & 0x80) != 0 ? 1000 : 0,
	};
	const char *line = (const char *)data + 1;
	size_t len = size - 1;

	int ret = smtp_cmd_parse(line, len, &opts, &cmd);
	const char *enh = NULL;
	unsigned code = smtp_cmd_status(&cmd, &enh);
	if (enh == NULL || strlen(enh) < 5)
		abort();
	if (ret == 0) {
		if (cmd.error != SMTP_CMD_OK || code != 250)
			abort();
	} else {
		if (cmd.error == SMTP_CMD_OK || cmd.error_text == NULL)
			abort();
		if (code != 500 && code != 501 && code != 502 && code != 552 && code != 553 &&
		    code != 555)
			abort();
		return 0;
	}

	/* slices stay inside the line */
	const struct smtp_slice *slices[] = {&cmd.arg, &cmd.helo.name, &cmd.ir, &cmd.etrn_name};
	for (size_t i = 0; i < N_ELEMENTS(slices); i++) {
		if (slices[i]->len > 0 &&
		    (slices[i]->p < line || slices[i]->p + slices[i]->len > line + len))
			abort();
	}
	switch (cmd.verb) {
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		check_path(&cmd);
		check_cstr(cmd.params.envid, sizeof(cmd.params.envid));
		check_cstr(cmd.params.orcpt, sizeof(cmd.params.orcpt));
		check_cstr(cmd.params.orcpt_type, sizeof(cmd.params.orcpt_type));
		check_cstr(cmd.params.auth, sizeof(cmd.params.auth));
		if ((cmd.params.notify & SMTP_NOTIFY_NEVER) != 0 &&
		    cmd.params.notify != SMTP_NOTIFY_NEVER)
			abort();
		if (opts.size_limit != 0 && cmd.params.size > opts.size_limit)
			abort();
		if ((cmd.path.flags & SMTP_PATH_UTF8) != 0 &&
		    !(cmd.verb == SMTP_VERB_RCPT ? opts.smtputf8 : cmd.params.smtputf8))
			abort();
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (cmd.helo.name.len == 0 || (cmd.helo.kind == SMTP_HELO_DOMAIN) !=
						       (cmd.helo.problem == NULL &&
							cmd.helo.literal == SMTP_LITERAL_NONE))
			abort();
		break;
	case SMTP_VERB_AUTH:
		check_cstr(cmd.auth_mech, sizeof(cmd.auth_mech));
		if (cmd.auth_mech[0] == '\0' || (cmd.ir_present && cmd.ir.len % 4 != 0))
			abort();
		break;
	default:
		break;
	}
	return 0;
}
