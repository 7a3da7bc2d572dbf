/* smtp_path.h - SMTP envelope addresses: the Path grammar of RFC 5321 4.1.2
 * with the UTF-8 extension of RFC 6531, domains, address literals.
 *
 * Pure and bounded: no I/O, no allocation; every function reads only
 * s[0..len) and runs in time linear in len. Used by the command parser
 * (smtp_cmd.h) for MAIL and RCPT, and reusable wherever an envelope address
 * arrives (sendmail -f, the SMTP client's own checks).
 *
 * Grammar accepted (RFC 5321 4.1.2, 4.1.3; RFC 6531 3.3):
 *   Path        = "<" [ A-d-l ":" ] Mailbox ">"        (the route is dropped)
 *   A-d-l       = At-domain *( "," At-domain ), At-domain = "@" Domain
 *   Mailbox     = Local-part "@" ( Domain / address-literal )
 *   Local-part  = Dot-string / Quoted-string
 *   atext, qtextSMTP and sub-domain also take UTF-8 (RFC 6531), which is
 *   reported with SMTP_PATH_UTF8 and refused unless the caller allows it.
 * Domain labels are 63 octets at most when ASCII (RFC 1035).
 */
#ifndef POSTERN_SMTP_PATH_H
#define POSTERN_SMTP_PATH_H

#include "lib/common.h"

#include "lib/buf.h"

/* RFC 5321 4.5.3.1, in octets as written on the wire: quotes and backslashes
 * count in the local part, brackets in a literal domain, and the path
 * includes its angle brackets and any source route. */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256

/* Address family of an address literal. */
enum smtp_literal {
	SMTP_LITERAL_NONE,    /* not a literal */
	SMTP_LITERAL_IPV4,    /* [192.0.2.1] */
	SMTP_LITERAL_IPV6,    /* [IPv6:2001:db8::1] */
	SMTP_LITERAL_GENERAL, /* General-address-literal: [tag:content] */
};

#define SMTP_PATH_QUOTED (1u << 0)  /* local part was a quoted string */
#define SMTP_PATH_ROUTE (1u << 1)   /* a source route was given and dropped */
#define SMTP_PATH_UTF8 (1u << 2)    /* non-ASCII (valid UTF-8) in the path, route included */
#define SMTP_PATH_SPACE (1u << 3)   /* set by smtp_cmd: "FROM: <...>" (tolerated space) */
/* Relay hacks in the local part after unquoting; see smtp_path_relay_hack(). */
#define SMTP_PATH_PERCENT (1u << 4) /* user%host@domain */
#define SMTP_PATH_BANG (1u << 5)    /* host!user@domain */
#define SMTP_PATH_AT (1u << 6)      /* "user@host"@domain */
#define SMTP_PATH_RELAY_HACKS (SMTP_PATH_PERCENT | SMTP_PATH_BANG | SMTP_PATH_AT)

struct smtp_path {
	bool null;       /* "<>" (MAIL only) */
	bool postmaster; /* "<Postmaster>" (RCPT only): local "Postmaster", domain "" */
	unsigned flags;  /* SMTP_PATH_* */
	/* Local part with quotes removed and quoted pairs resolved: with
	 * SMTP_PATH_QUOTED it may hold '@', '"', '\\' or spaces, never a
	 * control character. */
	char local[SMTP_LOCAL_MAX + 1];
	/* Domain as written (case kept), or the literal with its brackets:
	 * "[192.0.2.1]", "[IPv6:2001:db8::1]". */
	char domain[SMTP_DOMAIN_MAX + 1];
	enum smtp_literal literal;
	uint8_t addr[16]; /* the literal's address: 4 bytes (IPv4) or 16 */
};

enum smtp_path_error {
	SMTP_PATH_OK,
	SMTP_PATH_E_SYNTAX,
	SMTP_PATH_E_LOCAL_TOO_LONG,
	SMTP_PATH_E_DOMAIN_TOO_LONG,
	SMTP_PATH_E_PATH_TOO_LONG,
	SMTP_PATH_E_UTF8, /* valid UTF-8 but the caller did not allow it */
};

#define SMTP_PATH_PARSE_RCPT (1u << 0) /* forward-path: <Postmaster>, no <> */
#define SMTP_PATH_PARSE_UTF8 (1u << 1) /* UTF-8 allowed (SMTPUTF8 in effect) */

/* Parse the path that starts at s[0] (which must be '<'), ending at its
 * '>'; what follows is not looked at. On SMTP_PATH_OK, *path_r is filled
 * and *used_r is the path's length. Otherwise *text_r (always set) is a
 * short static reason. Lengths are checked in the order local part, domain,
 * path, so the most specific limit is reported. */
enum smtp_path_error smtp_path_parse(const char *s, size_t len, unsigned parse_flags,
				     struct smtp_path *path_r, size_t *used_r,
				     const char **text_r);

/* SMTP_PATH_PERCENT | SMTP_PATH_BANG | SMTP_PATH_AT found in the local part
 * of path (after unquoting). A relay policy must refuse such a recipient
 * for a domain it delivers or relays for, unless it implements the hack on
 * purpose: "user%other@ourdomain" would otherwise relay to "other". */
unsigned smtp_path_relay_hack(const struct smtp_path *path);

/* Append the mailbox in canonical form: "local@domain", with the local part
 * quoted again (escaping '"' and '\\') when it is not a dot-string; nothing
 * for the null path; "Postmaster" for <Postmaster>. Returns 0, or -1 when
 * out is full (out is then unchanged). */
int smtp_path_format(const struct smtp_path *path, struct buf *out);

/* Length of the Domain at the start of s (labels of letters, digits and
 * inner hyphens, UTF-8 labels too when utf8 is true; *utf8_r set when one
 * was seen), or 0 when s does not start with one. Stops before the first
 * byte that cannot continue it; a final '.' is not taken. */
size_t smtp_domain_span(const char *s, size_t len, bool utf8, bool *utf8_r);

/* s[0..len) is exactly an address literal, brackets included, per RFC 5321
 * 4.1.3 (the IPv6 forms with their group counts). Returns true and fills
 * *kind_r and addr_r (4 or 16 bytes; untouched for GENERAL). */
bool smtp_literal_parse(const char *s, size_t len, enum smtp_literal *kind_r,
			uint8_t addr_r[16]);
/* Bare forms, as in the literals: IPv4 "1.2.3.4" (Snum: 1-3 digits, 0-255),
 * IPv6 without the "IPv6:" tag. */
bool smtp_ipv4_parse(const char *s, size_t len, uint8_t addr_r[4]);
bool smtp_ipv6_parse(const char *s, size_t len, uint8_t addr_r[16]);

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) at the start of s, 0 when there is
 * none. An ASCII byte is a sequence of 1. */
size_t smtp_utf8_seq(const char *s, size_t len);
bool smtp_utf8_valid(const char *s, size_t len);

#endif
