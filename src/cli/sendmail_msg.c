/* sendmail_msg.c - 'postern sendmail': recipients from arguments and
 * header fields, the fields added to a message that lacks them, and
 * delivery through the submission socket or directly into the queue. */
#include "lib/common.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/sendmail.h"
#include "lib/base64.h"
#include "lib/config.h"
#include "lib/xalloc.h"
#include "mime/address.h"
#include "mime/header.h"
#include "queue/queue.h"

void
sendmail_why(struct buf *why, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		(void)str_copy(text, sizeof(text), "error");
	va_end(ap);
	buf_reset(why);
	if (buf_add_str(why, text) < 0)
		buf_reset(why);
}

char *
sendmail_from(const struct sendmail *sm, const char *sender)
{
	if (sender[0] != '\0')
		return xstrdup(sender);
	return xasprintf("%s@%s", sm->login[0] != '\0' ? sm->login : "MAILER-DAEMON",
			 sm->cfg->hostname);
}

/* ---- recipients ---- */

static bool
atext(unsigned char c)
{
	return ascii_is_letdig(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* local@domain, the local part quoted again when it is not a dot-atom. */
static int
mailbox_add(struct buf *out, const char *local, const char *domain)
{
	size_t n = strlen(local);
	bool dot_atom = n > 0 && local[0] != '.' && local[n - 1] != '.' && !strstr(local, "..");

	for (size_t i = 0; i < n && dot_atom; i++)
		dot_atom = local[i] == '.' || atext((unsigned char)local[i]);
	if (dot_atom)
		return buf_printf(out, "%s@%s", local, domain);
	int ret = buf_add_char(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (local[i] == '"' || local[i] == '\\')
			ret |= buf_add_char(out, '\\');
		ret |= buf_add_char(out, local[i]);
	}
	return ret | buf_printf(out, "\"@%s", domain);
}

static void
rcpt_append(struct submit_request *req, const char *addr)
{
	for (size_t i = 0; i < req->nrcpts; i++)
		if (strcmp(req->rcpts[i].addr, addr) == 0)
			return;
	req->rcpts = xreallocarray(req->rcpts, req->nrcpts + 1, sizeof(*req->rcpts));
	req->rcpts[req->nrcpts].addr = xstrdup(addr);
	req->rcpts[req->nrcpts].notify = 0;
	req->nrcpts++;
}

/* A bare local part ("root"): a dot-atom without '@'. */
static bool
bare_local(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(atext((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] != '.')))
			return false;
	return true;
}

/* One element of an address list (no comma outside quotes, comments and
 * angle brackets). */
static int
add_element(struct sendmail *sm, const char *s, size_t len, struct submit_request *req,
	    struct buf *addr, struct buf *why)
{
	struct mime_address_list al;
	int rc = 0;

	while (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
			   s[len - 1] == '\n'))
		len--;
	if (len == 0)
		return 0;
	buf_reset(addr);
	if (bare_local(s, len)) {
		if (buf_printf(addr, "%.*s@%s", (int)len, s, sm->cfg->hostname) < 0)
			goto bad;
		rcpt_append(req, addr->data);
		return 0;
	}
	(void)mime_address_parse(s, len, &al);
	if (al.flags != 0)
		rc = -1;
	for (size_t i = 0; i < al.count && rc == 0; i++) {
		const struct mime_address *a = &al.addrs[i];
		if (mime_address_is_group_start(a) || mime_address_is_group_end(a))
			continue;
		buf_reset(addr);
		if (mailbox_add(addr, a->mailbox, a->host) < 0 ||
		    !queue_addr_valid(addr->data, addr->len, false))
			rc = -1;
		else
			rcpt_append(req, addr->data);
	}
	mime_address_list_clear(&al);
	if (rc == 0)
		return 0;
bad:
	sendmail_why(why, "bad address syntax: %.*s", (int)MIN(len, (size_t)200), s);
	return EX_DATAERR;
}

int
sendmail_add_rcpts(struct sendmail *sm, const char *list, size_t len, struct submit_request *req,
		   struct buf *why)
{
	struct buf addr;
	size_t start = 0;
	int depth = 0, rc = 0;
	bool quoted = false;

	buf_init(&addr, QUEUE_ADDR_MAX);
	for (size_t i = 0; i <= len && rc == 0; i++) {
		char c = i < len ? list[i] : ',';
		if (quoted) {
			/* A backslash at the very end escapes nothing: the end of
			 * the list still closes the last element. */
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = false;
			if (i < len)
				continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '(' || c == '<')
			depth++;
		else if ((c == ')' || c == '>') && depth > 0)
			depth--;
		else if (c == ',' && (depth == 0 || i == len)) {
			rc = add_element(sm, list + start, i - start, req, &addr, why);
			start = i + 1;
		}
	}
	if (rc == 0 && req->nrcpts > QUEUE_RCPT_MAX) {
		sendmail_why(why, "more than %d recipients", QUEUE_RCPT_MAX);
		rc = EX_DATAERR;
	}
	buf_release(&addr);
	return rc;
}

/* ---- header fields ---- */

static void
rfc5322_date(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	if (strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		out[0] = '\0';
}

static int
message_id_add(struct buf *out, const char *hostname)
{
	uint8_t rnd[8];
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd)); /* the time and pid still differ */
	gmtime_r(&now, &tm);
	if (strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		stamp[0] = '\0';
	ret = buf_printf(out, "Message-ID: <%s.%lu.", stamp, (unsigned long)getpid());
	for (size_t i = 0; i < sizeof(rnd); i++)
		ret |= buf_printf(out, "%02x", rnd[i]);
	return ret | buf_printf(out, "@%s>\r\n", hostname);
}

/* From: "Full Name" <addr>, the name as a quoted string, or as an
 * encoded word (RFC 2047) when it is not ASCII. */
static int
from_add(struct buf *out, const char *name, const char *addr)
{
	int ret = buf_add_str(out, "From: ");
	bool ascii = true;

	if (name == NULL || name[0] == '\0')
		return ret | buf_printf(out, "%s\r\n", addr);
	for (const char *p = name; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (ascii) {
		ret |= buf_add_char(out, '"');
		for (const char *p = name; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				continue;
			if (*p == '"' || *p == '\\')
				ret |= buf_add_char(out, '\\');
			ret |= buf_add_char(out, *p);
		}
		ret |= buf_add_char(out, '"');
	} else {
		ret |= buf_add_str(out, "=?UTF-8?B?");
		ret |= base64_encode(out, name, strlen(name), 0);
		ret |= buf_add_str(out, "?=");
	}
	return ret | buf_printf(out, " <%s>\r\n", addr);
}

static bool
name_starts(const struct mime_header_field *f, const char *prefix)
{
	size_t n = strlen(prefix);

	return f->name_len >= n && strncasecmp(f->name, prefix, n) == 0;
}

int
sendmail_fixup(struct sendmail *sm, struct buf *msg, const char *from, bool extract,
	       struct submit_request *req, struct buf *why)
{
	struct mime_header hdr;
	struct buf out, added;
	bool has_from = false, has_date = false, has_msgid = false, resent = false;
	size_t end, nfields;
	int rc = 0;

	(void)mime_header_parse(msg->data, msg->len, NULL, &hdr);
	/* The header section: fields up to the blank line, or up to the first
	 * line that is not a field (what follows is then body). */
	nfields = hdr.count;
	for (size_t i = 0; i < hdr.count; i++) {
		if (hdr.fields[i].no_colon) {
			nfields = i;
			break;
		}
	}
	bool blank = nfields == hdr.count && !(hdr.flags & MIME_HEADER_F_NO_END);
	end = nfields < hdr.count ? hdr.fields[nfields].offset : blank ? hdr.size - 2 : msg->len;
	for (size_t i = 0; i < nfields; i++) {
		const struct mime_header_field *f = &hdr.fields[i];
		has_from |= mime_header_field_is(f, "From");
		has_date |= mime_header_field_is(f, "Date");
		has_msgid |= mime_header_field_is(f, "Message-ID");
		resent |= name_starts(f, "Resent-");
	}
	buf_init(&out, BUF_UNLIMITED);
	buf_init(&added, 4096);
	size_t pos = 0;
	for (size_t i = 0; i < nfields && rc == 0; i++) {
		const struct mime_header_field *f = &hdr.fields[i];
		bool bcc = mime_header_field_is(f, "Bcc") || mime_header_field_is(f, "Resent-Bcc");
		bool to = resent
			      ? (mime_header_field_is(f, "Resent-To") ||
				 mime_header_field_is(f, "Resent-Cc") ||
				 mime_header_field_is(f, "Resent-Bcc"))
			      : (mime_header_field_is(f, "To") || mime_header_field_is(f, "Cc") ||
				 mime_header_field_is(f, "Bcc"));
		if (extract && to)
			rc = sendmail_add_rcpts(sm, f->value, f->value_len, req, why);
		if (bcc) {
			/* Drop the field: copy what precedes it. */
			if (buf_add(&out, msg->data + pos, f->offset - pos) < 0)
				panic("sendmail: message copy");
			pos = f->offset + f->size;
		}
	}
	if (rc == 0) {
		char date[64];
		int ret = 0;
		if (!has_date) {
			rfc5322_date(date, sizeof(date));
			ret |= buf_printf(&added, "Date: %s\r\n", date);
		}
		if (!has_msgid)
			ret |= message_id_add(&added, sm->cfg->hostname);
		if (!has_from)
			ret |= from_add(&added, sm->full_name, from);
		if (added.len > 0 && !blank)
			ret |= buf_add_str(&added, "\r\n");
		if (ret != 0)
			panic("sendmail: header fields");
		if (end < pos)
			end = pos;
		if (buf_add(&out, msg->data + pos, end - pos) < 0 ||
		    buf_add(&out, added.data, added.len) < 0 ||
		    buf_add(&out, msg->data + end, msg->len - end) < 0)
			panic("sendmail: message copy");
		buf_release(msg);
		*msg = out;
	} else {
		buf_release(&out);
	}
	buf_release(&added);
	mime_header_clear(&hdr);
	return rc;
}

/* ---- delivery ---- */

static int
direct_open(struct sendmail *sm, struct buf *why)
{
	const char *error;
	struct stat st;

	if (sm->q != NULL)
		return 0;
	if (geteuid() != 0 && (stat(sm->cfg->data_dir, &st) < 0 || st.st_uid != geteuid())) {
		sendmail_why(why, "%s", "mail system is not running");
		return EX_TEMPFAIL;
	}
	if (geteuid() == 0 && !sm->cli->as_data_owner) {
		/* Become the data directory's owner, as the administration
		 * commands do, so that the queue stays the server's. */
		sm->cli->as_data_owner = true;
		struct config *cfg = cli_config(sm->cli);
		if (cfg == NULL) {
			sendmail_why(why, "%s", "mail system is not running");
			return EX_TEMPFAIL;
		}
		config_free(&sm->cfg);
		sm->cfg = cfg;
		free(sm->sock);
		sm->sock = xasprintf("%s/%s", cfg->data_dir, SUBMIT_SOCKET);
	}
	char *qpath = xasprintf("%s/%s", sm->cfg->data_dir, QUEUE_DIR);
	int rc = queue_setup(qpath, (uid_t)-1, (gid_t)-1, &error) < 0 ||
			 queue_open(qpath, &sm->q, &error) < 0
		     ? EX_TEMPFAIL
		     : 0;
	if (rc != 0)
		sendmail_why(why, "mail system is not running, and the queue cannot be written: %s",
			     error);
	free(qpath);
	return rc;
}

int
sendmail_deliver(struct sendmail *sm, const struct submit_request *req, const char *content,
		 size_t len, char id_r[QUEUE_ID_SIZE], struct buf *why)
{
	struct buf reply;
	const char *error;
	bool temporary;

	buf_init(&reply, 1024);
	int code = submit_send(sm->sock, req, content, len, &reply, &error);
	if (code == 250 && str_copy(id_r, QUEUE_ID_SIZE, reply.data) == 0) {
		buf_release(&reply);
		return 0;
	}
	if (code >= 0) {
		sendmail_why(why, "%d %s", code, reply.data);
		buf_release(&reply);
		return code >= 400 && code < 500 ? EX_TEMPFAIL : EX_DATAERR;
	}
	buf_release(&reply);
	/* The runner is not there: queue directly when allowed. */
	int rc = direct_open(sm, why);
	if (rc != 0)
		return rc;
	if (submit_queue(sm->q, sm->cfg, req, sm->uid, content, len, id_r, &temporary, &error) <
	    0) {
		sendmail_why(why, "queue: %s", error);
		return temporary ? EX_TEMPFAIL : EX_DATAERR;
	}
	buf_init(&reply, 1024);
	(void)submit_flush(sm->sock, id_r, NULL, &reply,
			   &error); /* wake a runner that just came up */
	buf_release(&reply);
	return 0;
}
