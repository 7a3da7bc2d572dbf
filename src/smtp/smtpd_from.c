/* smtpd_from.c - addresses in a From: field. */
#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtpd_from.h"

/* Skip a comment starting at p[0] == '('; nested, with quoted pairs.
 * Returns the position after it, or NULL when unterminated. */
static const char *
skip_comment(const char *p, const char *end)
{
	unsigned depth = 0;

	for (; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '(') {
			if (++depth > 32)
				return NULL;
		} else if (*p == ')' && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

static const char *
skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* One mailbox (between commas): the angle address if there is one, else
 * the addr-spec with comments and spaces removed. */
static int
one_mailbox(const char *p, const char *end, struct buf *out)
{
	const char *angle = NULL, *angle_end = NULL;

	buf_reset(out);
	for (const char *q = p; q < end;) {
		if (*q == '"') {
			if ((q = skip_quoted(q, end)) == NULL)
				return -1;
		} else if (*q == '(') {
			if ((q = skip_comment(q, end)) == NULL)
				return -1;
		} else if (*q == '<') {
			if (angle != NULL)
				return -1;
			angle = q + 1;
			angle_end = memchr(angle, '>', (size_t)(end - angle));
			if (angle_end == NULL)
				return -1;
			q = angle_end + 1;
		} else {
			q++;
		}
	}
	if (angle != NULL) {
		p = angle;
		end = angle_end;
	}
	/* The addr-spec: keep quoted local parts, drop comments and spaces. */
	for (const char *q = p; q < end;) {
		if (*q == '(') {
			q = skip_comment(q, end);
			if (q == NULL)
				return -1;
		} else if (*q == '"') {
			const char *e = skip_quoted(q, end);
			if (e == NULL || buf_add(out, q, (size_t)(e - q)) < 0)
				return -1;
			q = e;
		} else if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
			q++;
		} else {
			if (buf_add_char(out, *q) < 0)
				return -1;
			q++;
		}
	}
	return out->len > 0 && strchr(buf_cstr(out), '@') != NULL ? 0 : -1;
}

int
smtpd_from_check(const char *value, size_t len, smtpd_from_check_fn *check, void *ctx)
{
	const char *p = value, *end = value + len;
	struct buf addr;
	unsigned count = 0;
	int ret = -1;

	buf_init(&addr, 1024);
	/* A group "name: a, b;" : its addresses are the mailboxes. */
	for (const char *q = p; q < end;) {
		if (*q == '"') {
			if ((q = skip_quoted(q, end)) == NULL)
				goto out;
		} else if (*q == '(') {
			if ((q = skip_comment(q, end)) == NULL)
				goto out;
		} else if (*q == '<' || *q == '@') {
			break;
		} else if (*q == ':') {
			p = q + 1;
			const char *semi = memrchr(p, ';', (size_t)(end - p));
			if (semi != NULL)
				end = semi;
			break;
		} else {
			q++;
		}
	}
	while (p < end) {
		/* Find the comma that ends this mailbox, outside quotes,
		 * comments and angle brackets. */
		const char *q = p;
		bool in_angle = false;
		while (q < end && (*q != ',' || in_angle)) {
			if (*q == '"') {
				if ((q = skip_quoted(q, end)) == NULL)
					goto out;
				continue;
			}
			if (*q == '(') {
				if ((q = skip_comment(q, end)) == NULL)
					goto out;
				continue;
			}
			if (*q == '<')
				in_angle = true;
			else if (*q == '>')
				in_angle = false;
			q++;
		}
		if (one_mailbox(p, q, &addr) < 0 || ++count > SMTPD_FROM_MAX_ADDRESSES ||
		    check(buf_cstr(&addr), ctx) < 0)
			goto out;
		p = q < end ? q + 1 : q;
	}
	ret = count > 0 ? 0 : -1;
out:
	buf_release(&addr);
	return ret;
}
