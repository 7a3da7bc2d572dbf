/* address.h - RFC 5322 address lists as IMAP ENVELOPE wants them.
 *
 * Parses From/To/Cc/Bcc/Sender/Reply-To values (raw or unfolded) into
 * (name, adl, mailbox, host) tuples (RFC 3501 7.4.2):
 * - "Name <local@domain>", "local@domain", "local@domain (Comment)",
 *   quoted local parts, domain literals, obsolete forms (CFWS around dots,
 *   "John Q. Public" phrases, source routes "<@a,@b:local@domain>" given
 *   as adl "@a,@b");
 * - display names as written, encoded words kept raw (ENVELOPE sends them
 *   so), quotes and backslash escapes removed, folding removed, words joined
 *   by one space; with no display name the last comment is the name (as
 *   Dovecot does); an unquoted address before an angle address is taken as
 *   the display name ("a@b <a@b>");
 * - a group "name: a, b;" gives a start marker (mailbox = name, host NULL),
 *   its mailboxes and an end marker (all NULL); an unclosed group is closed
 *   at the end.
 * NUL bytes are dropped from every string. Garbage is skipped to the next ',' and the address
 * marked invalid. A missing local part or domain is "MISSING_MAILBOX" / "MISSING_DOMAIN" (as
 * Dovecot fills them), so host is NULL only in group markers. Strings are
 * cut at MIME_ADDRESS_STR_MAX bytes; at most MIME_ADDRESS_MAX addresses
 * (group markers included), plus the end marker of a group left open, are
 * given. Work is linear in the input.
 */
#ifndef POSTERN_MIME_ADDRESS_H
#define POSTERN_MIME_ADDRESS_H

#include "lib/common.h"

#define MIME_ADDRESS_MAX 10000
#define MIME_ADDRESS_STR_MAX 2048

#define MIME_ADDRESS_MISSING_MAILBOX "MISSING_MAILBOX"
#define MIME_ADDRESS_MISSING_DOMAIN "MISSING_DOMAIN"

struct mime_address {
	char *name;    /* display name or NULL */
	char *adl;     /* source route or NULL */
	char *mailbox; /* local part; group name in a start marker; NULL in an end marker */
	char *host;    /* domain; NULL in group markers */
	bool invalid;  /* something was missing or skipped */
};

enum mime_address_flags {
	MIME_ADDRESS_F_INVALID = 1 << 0,  /* some address is invalid */
	MIME_ADDRESS_F_TOO_MANY = 1 << 1, /* addresses past MIME_ADDRESS_MAX dropped */
	MIME_ADDRESS_F_STR_CUT = 1 << 2,  /* some string cut at MIME_ADDRESS_STR_MAX */
};

struct mime_address_list {
	struct mime_address *addrs;
	size_t count;
	unsigned int flags; /* enum mime_address_flags */
};

/* Parse value[len]. Never fails: returns 0 with *list_r filled (possibly
 * empty), to be freed with mime_address_list_clear(). Strings are
 * NUL-terminated copies. */
int mime_address_parse(const char *value, size_t len, struct mime_address_list *list_r);
void mime_address_list_clear(struct mime_address_list *list);

/* True when a is a group start / end marker. */
static inline bool
mime_address_is_group_start(const struct mime_address *a)
{
	return a->host == NULL && a->mailbox != NULL;
}
static inline bool
mime_address_is_group_end(const struct mime_address *a)
{
	return a->host == NULL && a->mailbox == NULL;
}

#endif
