/* imap_parser.h - incremental IMAP command parser (RFC 9051 9, RFC 3501 9,
 * RFC 7888 literals). Pure: bytes in, events out; no I/O.
 *
 * The parser reads "tag SP command [SP args] CRLF" where args are a generic
 * tree: atoms, quoted strings, literals ({n}, {n+}, ~{n} literal8), lists
 * "(...)" and NIL. Per-command meaning is the caller's. Two lexical rules
 * serve FETCH and friends:
 *  - an atom is a run of bytes other than SP, CR, LF, '(', ')', '"', '{'
 *    and controls (so "\Seen", "\*", "1:*", "$", "%" are atoms);
 *  - a '[' inside an atom opens a bracket that runs to the next ']' on
 *    the same line outside quoted strings, spaces, parentheses and quoted
 *    strings included, and the atom goes on after it:
 *    "BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048>" is one atom (its text
 *    exactly as sent, quotes included). A '[' with no such ']' is an
 *    ordinary atom byte ("SUBJECT [bug" is two atoms), and so is every
 *    later '[' of that line.
 * Tags are 1*<ASTRING-CHAR except '+'>, command names ATOM-CHARs. Lines
 * end in CRLF or a bare LF. Arguments are separated by spaces (a run of
 * them counts as one; spaces after '(', before ')' and at the line end are
 * ignored); a blank line between commands is ignored. Quoted strings take
 * the escapes \" and \\ only, and any byte but NUL, CR and LF (8-bit
 * bytes for UTF8=ACCEPT; not checked to be UTF-8).
 * Literals may appear wherever an argument can (not as tag or name), and
 * their marker must end its line; after "{n}" CRLF the next n bytes are
 * taken verbatim. n is at most 2^63-1 (number64), else the command is an
 * error. The caller decides on every literal before its bytes are read
 * (event LITERAL): accept it (and send "+ " for a synchronising one) or
 * refuse it. An accepted literal's buffer grows as its bytes arrive.
 *
 * Limits (struct imap_parser_limits): bytes of one command outside its
 * literals, literal size (the caller's decision, see LITERAL), arguments
 * in all, list nesting. Bytes past a limit are never stored: the command is
 * answered as an error and the rest of it skipped, non-synchronising
 * literals of the skipped lines included (RFC 7888 4), so their bytes are
 * never parsed as commands; a synchronising marker ends the skip at its
 * line end (the client waits for a "+" that never comes). Memory is
 * O(limits) plus the accepted literals, not O(input).
 */
#ifndef POSTERN_IMAP_PARSER_H
#define POSTERN_IMAP_PARSER_H

#include "lib/common.h"

#define IMAP_PARSER_DEFAULT_MAX_LINE (64 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_ARGS 10000
#define IMAP_PARSER_DEFAULT_MAX_DEPTH 32

struct imap_parser_limits {
	size_t max_line;    /* bytes of a command outside literals, CRLF included */
	size_t max_args;    /* arguments in all, list elements counted */
	unsigned max_depth; /* list nesting */
};

enum imap_arg_type {
	IMAP_ARG_NIL,	  /* the atom NIL (any case); str holds it as sent */
	IMAP_ARG_ATOM,	  /* see above; numbers are atoms */
	IMAP_ARG_STRING,  /* quoted string, escapes removed */
	IMAP_ARG_LITERAL, /* literal or literal8 (literal8 set) */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;      /* ATOM, STRING, LITERAL: NUL-terminated copy (a
			       * literal may contain NULs: use len) */
	size_t len;
	bool literal8;	      /* ~{n} */
	struct imap_arg *list; /* LIST: its elements */
	size_t count;
};

struct imap_command {
	const char *tag;
	const char *name; /* upper-cased command name ("UID": the real command is args[0]) */
	struct imap_arg *args;
	size_t count;
};

enum imap_parse_event {
	IMAP_PARSE_MORE,    /* all input consumed; feed more */
	IMAP_PARSE_COMMAND, /* a whole command: imap_parser_command() */
	IMAP_PARSE_LITERAL, /* a literal was announced (imap_parser_literal()):
			     * call imap_parser_literal_accept() or
			     * imap_parser_literal_refuse() before feeding on */
	IMAP_PARSE_ERROR,   /* the command is bad: imap_parser_error(); the
			     * rest of it is skipped as input comes */
};

struct imap_parser;

/* limits may be NULL for the defaults. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);

/* Parse data[len]; returns how many bytes were consumed and the event in
 * *event_r. Call again with the unconsumed rest (and more input) until
 * MORE (which consumes everything). COMMAND returns right after the
 * command's last line end. A COMMAND (and the tag of an ERROR) stays valid
 * until the next call. Calling it while a LITERAL is undecided panics. */
size_t imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
			enum imap_parse_event *event_r);

/* After COMMAND. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/* After LITERAL: its size, whether the client waits for "+"
 * (synchronising), and the tag and command name read so far (NULL when the
 * literal came before them: an error the parser reports itself). */
void imap_parser_literal(const struct imap_parser *p, uint64_t *size_r, bool *sync_r,
			 const char **tag_r, const char **name_r);
/* Go on reading the literal's bytes (the caller sends "+ ..." first when it
 * is synchronising). */
void imap_parser_literal_accept(struct imap_parser *p);
/* Refuse it: a synchronising literal ends the command here (the client sends
 * nothing more for it); a non-synchronising one is skipped with the rest of
 * its command. Either way the caller answers the tag (NO [TOOBIG] or BAD);
 * the parser then starts on the next command. */
void imap_parser_literal_refuse(struct imap_parser *p);

/* After ERROR: the tag (NULL when none could be read: answer "* BAD") and a
 * short reason for the BAD reply (static text). Errors: "line too long"
 * (max_line), "too many arguments", "lists nested too deep", syntax. */
void imap_parser_error(const struct imap_parser *p, const char **tag_r, const char **reason_r);

/* Forget any partial command (after STARTTLS, or when the caller takes
 * over the input for IDLE's DONE or AUTHENTICATE responses between
 * commands: the parser only ever consumes up to the end of a command),
 * and free the memory earlier commands made it keep. The last command's
 * arguments are gone afterwards. */
void imap_parser_reset(struct imap_parser *p);

/* Helpers for command handlers. */
/* An argument that is an astring (atom or NIL, quoted or literal): its
 * text, or NULL (also for a literal holding a NUL byte, which would read
 * short as a C string; use a->str and a->len for binary data). */
const char *imap_arg_astring(const struct imap_arg *a);
/* A string (quoted or literal): its text, or NULL (as above). */
const char *imap_arg_string(const struct imap_arg *a);
/* An atom (NIL included): its text, or NULL. */
const char *imap_arg_atom(const struct imap_arg *a);
/* A number (RFC 9051 number / number64: an atom of digits, at most
 * 2^32-1 / 2^63-1). */
bool imap_arg_number(const struct imap_arg *a, uint32_t *n_r);
bool imap_arg_number64(const struct imap_arg *a, uint64_t *n_r);
/* Case-insensitive compare of an atom with s. */
bool imap_arg_atom_is(const struct imap_arg *a, const char *s);

#endif
