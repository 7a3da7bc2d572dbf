/* smtp_cmd.h - parse one SMTP command line (RFC 5321 and its extensions).
 *
 * The session reads a line with the bounded line reader (lib/linereader.h),
 * decides what to do about a bare LF or bare CR in it, then hands the bytes
 * of the line (terminator excluded) to smtp_cmd_parse(). The parser is pure:
 * no I/O, no allocation, linear in the length of the line, and it never reads
 * outside line[0..len).
 *
 * What it checks, and what it leaves to the session:
 *   - The verb (case-insensitive) must be followed by SP or the end of the
 *     line: "MAIL FROM:" is MAIL, "MAILX" is unknown.
 *   - A control character (0x00-0x1F, 0x7F, TAB included) or malformed UTF-8
 *     anywhere in the line is SMTP_CMD_E_BAD_CHAR. Spaces at the end of the
 *     line are ignored for every command.
 *   - MAIL/RCPT paths follow RFC 5321 4.1.2 exactly. The only looseness
 *     accepted is one space after "FROM:" / "TO:" (flagged). Parameters are
 *     separated by exactly one SP.
 *   - Which commands are allowed in which state, which extensions were
 *     advertised (passed in smtp_cmd_options), relay and sender policy, and
 *     the reply itself are the session's business.
 *
 * Result. cmd->error says what went wrong precisely enough to choose the
 * reply; smtp_cmd_status() gives the suggested code and enhanced status
 * (table below) and cmd->error_text a short human text for the reply
 * ("Bad sender address syntax"). Even on error cmd->verb is set, so the
 * session can count errors per verb and log.
 *
 *   error                       reply (MAIL / RCPT where they differ)
 *   SMTP_CMD_E_UNKNOWN          500 5.5.2
 *   SMTP_CMD_E_BAD_CHAR         500 5.5.2
 *   SMTP_CMD_E_NOT_IMPLEMENTED  502 5.5.1 (SEND, SOML, SAML, TURN)
 *   SMTP_CMD_E_SYNTAX           501 5.5.4
 *   SMTP_CMD_E_BASE64           501 5.5.2 (AUTH initial response, RFC 4954 4)
 *   SMTP_CMD_E_SENDER_SYNTAX    501 5.1.7
 *   SMTP_CMD_E_RCPT_SYNTAX      501 5.1.3
 *   SMTP_CMD_E_PATH_TOO_LONG    501 5.1.7 / 5.1.3 (RFC 5321 4.5.3.1.10)
 *   SMTP_CMD_E_LOCAL_TOO_LONG   553 5.1.7 / 5.1.3
 *   SMTP_CMD_E_DOMAIN_TOO_LONG  553 5.1.7 / 5.1.3
 *   SMTP_CMD_E_UTF8_REQUIRED    553 5.6.7 (RFC 6531: UTF-8 without SMTPUTF8)
 *   SMTP_CMD_E_PARAM_SYNTAX     501 5.5.4 (bad value, duplicate, too long)
 *   SMTP_CMD_E_PARAM_UNKNOWN    555 5.5.4 (unknown, not advertised, wrong verb)
 *   SMTP_CMD_E_SIZE_EXCEEDED    552 5.3.4 (SIZE= over the caller's limit)
 *
 * Line length is the line reader's cap. RFC 5321 4.5.3.1.4 allows 512
 * octets, extensions more (RFC 1870, 3461, 4954): 4096 holds a MAIL or RCPT
 * with every parameter at its largest; an AUTH line with an initial response
 * may need 12288 (RFC 4954 4).
 *
 * Lifetime. Arguments given as a struct smtp_slice point into the caller's
 * line and are valid as long as it is; everything decoded (paths, parameter
 * values) is copied into fixed arrays of struct smtp_cmd, sized by the
 * protocol limits that the parser enforces, so a struct smtp_cmd can be kept
 * after the line is gone (the slices excepted).
 */
#ifndef POSTERN_SMTP_CMD_H
#define POSTERN_SMTP_CMD_H

#include "lib/common.h"

#include "lib/buf.h"
#include "smtp/smtp_path.h"

/* RFC 3461 4.4 and 4.2: the whole parameter, keyword included. */
#define SMTP_ENVID_PARAM_MAX 100
#define SMTP_ORCPT_PARAM_MAX 500
/* Decoded value caps (a decoded value is never longer than its parameter). */
#define SMTP_ENVID_MAX (SMTP_ENVID_PARAM_MAX - 6)
#define SMTP_ORCPT_MAX (SMTP_ORCPT_PARAM_MAX - 6)
#define SMTP_ORCPT_TYPE_MAX 32
#define SMTP_AUTH_PARAM_MAX 500
/* RFC 4954 4: sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") */
#define SMTP_SASL_MECH_MAX 20

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_ETRN,
	/* Obsolete (RFC 821): recognised so that the answer is 502 5.5.1. */
	SMTP_VERB_SEND,
	SMTP_VERB_SOML,
	SMTP_VERB_SAML,
	SMTP_VERB_TURN,
};

enum smtp_cmd_error {
	SMTP_CMD_OK,
	SMTP_CMD_E_UNKNOWN,
	SMTP_CMD_E_BAD_CHAR,
	SMTP_CMD_E_NOT_IMPLEMENTED,
	SMTP_CMD_E_SYNTAX,
	SMTP_CMD_E_BASE64,
	SMTP_CMD_E_SENDER_SYNTAX,
	SMTP_CMD_E_RCPT_SYNTAX,
	SMTP_CMD_E_PATH_TOO_LONG,
	SMTP_CMD_E_LOCAL_TOO_LONG,
	SMTP_CMD_E_DOMAIN_TOO_LONG,
	SMTP_CMD_E_UTF8_REQUIRED,
	SMTP_CMD_E_PARAM_SYNTAX,
	SMTP_CMD_E_PARAM_UNKNOWN,
	SMTP_CMD_E_SIZE_EXCEEDED,
};

/* Extensions the session advertised in its EHLO reply (0 after HELO). A
 * parameter belonging to an extension that was not advertised is unknown
 * (555), as RFC 5321 4.1.1.11 asks. */
#define SMTP_EXT_SIZE (1u << 0)       /* RFC 1870: SIZE= */
#define SMTP_EXT_8BITMIME (1u << 1)   /* RFC 6152: BODY=7BIT|8BITMIME */
#define SMTP_EXT_BINARYMIME (1u << 2) /* RFC 3030: BODY=BINARYMIME (with CHUNKING) */
#define SMTP_EXT_SMTPUTF8 (1u << 3)   /* RFC 6531: SMTPUTF8 */
#define SMTP_EXT_DSN (1u << 4)        /* RFC 3461: RET= ENVID= NOTIFY= ORCPT= */
#define SMTP_EXT_AUTH (1u << 5)       /* RFC 4954: AUTH= */
#define SMTP_EXT_ALL                                                                    \
	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME | SMTP_EXT_SMTPUTF8 |  \
	 SMTP_EXT_DSN | SMTP_EXT_AUTH)

struct smtp_cmd_options {
	unsigned extensions; /* SMTP_EXT_* advertised */
	/* For RCPT: SMTPUTF8 was given on this transaction's MAIL, so UTF-8 is
	 * allowed in the path and in ORCPT. (MAIL itself allows UTF-8 when its
	 * own parameters include SMTPUTF8.) */
	bool smtputf8;
	/* Largest message accepted, for SIZE= on MAIL; 0: no limit. */
	uint64_t size_limit;
};

/* A piece of the caller's line (not NUL-terminated). */
struct smtp_slice {
	const char *p;
	size_t len;
};

/* ---- HELO / EHLO ---- */

enum smtp_helo_kind {
	SMTP_HELO_DOMAIN,  /* RFC 5321 Domain (LDH labels of 63 octets at most) */
	SMTP_HELO_LITERAL, /* valid address literal: [192.0.2.1], [IPv6:2001:db8::1] */
	/* Not RFC 5321 syntax but a form real clients send and Postfix accepts:
	 * a bare IP address, '_' in a label, a label that starts or ends with
	 * '-', a final dot, UTF-8 labels. Accept it, or refuse it with 501 when
	 * the policy is strict (problem says what is wrong). */
	SMTP_HELO_LOOSE,
	/* Anything else (spaces, other punctuation, empty labels, a broken
	 * literal, over 255 octets): the session may answer 501 5.5.2. */
	SMTP_HELO_INVALID,
};

struct smtp_helo {
	struct smtp_slice name; /* the argument, without surrounding spaces */
	enum smtp_helo_kind kind;
	const char *problem;    /* for LOOSE and INVALID: what is wrong; else NULL */
	enum smtp_literal literal; /* LITERAL, or LOOSE for a bare address */
	uint8_t addr[16];       /* the literal's address (4 or 16 bytes used) */
};

/* ---- ESMTP parameters (MAIL, RCPT) ---- */

enum smtp_body {
	SMTP_BODY_NONE, /* no BODY= */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME, /* the session must insist on BDAT (RFC 3030 3) */
};

enum smtp_ret {
	SMTP_RET_NONE,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

#define SMTP_NOTIFY_NEVER (1u << 0)
#define SMTP_NOTIFY_SUCCESS (1u << 1)
#define SMTP_NOTIFY_FAILURE (1u << 2)
#define SMTP_NOTIFY_DELAY (1u << 3)

/* Which parameters were present (each at most once). */
#define SMTP_PARAM_SIZE (1u << 0)
#define SMTP_PARAM_BODY (1u << 1)
#define SMTP_PARAM_SMTPUTF8 (1u << 2)
#define SMTP_PARAM_RET (1u << 3)
#define SMTP_PARAM_ENVID (1u << 4)
#define SMTP_PARAM_AUTH (1u << 5)
#define SMTP_PARAM_NOTIFY (1u << 6)
#define SMTP_PARAM_ORCPT (1u << 7)

struct smtp_params {
	unsigned present;  /* SMTP_PARAM_* */
	uint64_t size;     /* SIZE=: saturated at UINT64_MAX (20 digits may overflow) */
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char envid[SMTP_ENVID_MAX + 1];    /* decoded xtext: printable US-ASCII */
	unsigned notify;                   /* SMTP_NOTIFY_*: NEVER alone, or a set */
	char orcpt_type[SMTP_ORCPT_TYPE_MAX + 1]; /* addr-type as given ("rfc822", "utf-8") */
	/* Decoded original recipient: xtext for any type; for "utf-8" (RFC 6533)
	 * the \x{HEX} escapes are resolved and the result is UTF-8. */
	char orcpt[SMTP_ORCPT_MAX + 1];
	bool auth_null;                    /* AUTH=<> */
	char auth[SMTP_AUTH_PARAM_MAX + 1]; /* AUTH=: decoded xtext (printable or UTF-8) */
};

/* ---- other arguments ---- */

enum smtp_etrn_kind {
	SMTP_ETRN_DOMAIN,     /* ETRN example.com */
	SMTP_ETRN_SUBDOMAINS, /* ETRN @example.com: the domain and its subdomains */
	SMTP_ETRN_QUEUE,      /* ETRN #queue */
};

struct smtp_cmd {
	enum smtp_verb verb;
	enum smtp_cmd_error error;
	const char *error_text; /* short reply text for error (static) */

	/* Raw argument after the verb and its SP, trailing spaces removed:
	 * VRFY/EXPN string (required), HELP topic and NOOP string (optional,
	 * len 0 when absent), HELO/EHLO name; empty otherwise. */
	struct smtp_slice arg;

	struct smtp_helo helo;     /* HELO, EHLO */
	struct smtp_path path;     /* MAIL, RCPT */
	struct smtp_params params; /* MAIL, RCPT */

	/* BDAT chunk-size [LAST] (RFC 3030 2). When BDAT fails to parse, the
	 * size of the chunk that follows is unknown: the session cannot find
	 * the next command and must close after its 501. */
	uint64_t bdat_size;
	bool bdat_last;

	/* AUTH mechanism [initial-response] (RFC 4954 4). The mechanism is
	 * upper-cased. ir_present: an initial response was given; ir is its
	 * base64 text (checked for alphabet, padding and length but not
	 * decoded), empty when the client sent "=" (an empty response). */
	char auth_mech[SMTP_SASL_MECH_MAX + 1];
	bool ir_present;
	struct smtp_slice ir;

	/* ETRN (RFC 1985): the domain or queue name without its '@' or '#'. */
	enum smtp_etrn_kind etrn_kind;
	struct smtp_slice etrn_name;
};

/* Parse line[0..len) (no CR/LF) into *cmd_r, which is overwritten entirely.
 * Returns 0 when the command is well formed, -1 when cmd_r->error says why
 * not. opts may be NULL: no extension advertised, no SMTPUTF8, no limit. */
int smtp_cmd_parse(const char *line, size_t len, const struct smtp_cmd_options *opts,
		   struct smtp_cmd *cmd_r);

/* The verb's name in upper case ("MAIL"; "UNKNOWN"), for logs. */
const char *smtp_verb_name(enum smtp_verb verb);

/* Suggested reply for cmd->error, as in the table above (code 250 and
 * "2.0.0" for SMTP_CMD_OK). enhanced_r gets a static string. */
unsigned smtp_cmd_status(const struct smtp_cmd *cmd, const char **enhanced_r);

/* Parse the parameters that follow a MAIL (rcpt false) or RCPT path and its
 * SP: s[0..len) is "keyword[=value]" *(SP keyword[=value]). Fills *params_r
 * (overwritten). Returns 0, or -1 with *error_r and *text_r (static) set.
 * Used by smtp_cmd_parse(). */
int smtp_params_parse(const char *s, size_t len, bool rcpt, const struct smtp_cmd_options *opts,
		      struct smtp_params *params_r, enum smtp_cmd_error *error_r,
		      const char **text_r);

#endif
