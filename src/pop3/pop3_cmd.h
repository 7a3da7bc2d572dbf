/* pop3_cmd.h - parsing a POP3 command line (RFC 1939 3, RFC 2449). Pure. */
#ifndef POSTERN_POP3_CMD_H
#define POSTERN_POP3_CMD_H

#include "lib/common.h"

enum pop3_verb {
	POP3_UNKNOWN,
	POP3_CAPA, POP3_QUIT, POP3_NOOP, POP3_USER, POP3_PASS, POP3_APOP, POP3_AUTH,
	POP3_STLS, POP3_STAT, POP3_LIST, POP3_RETR, POP3_DELE, POP3_RSET, POP3_TOP,
	POP3_UIDL, POP3_LAST,
};

struct pop3_cmd {
	enum pop3_verb verb;
	const char *name; /* the keyword as the client wrote it */
	const char *arg;  /* everything after the first space, or NULL */
};

/* Split line (NUL-terminated, no CRLF; modified in place) into keyword and
 * argument. Returns -1 for an empty line, a keyword longer than 4
 * characters or with characters other than letters, or a control
 * character anywhere. */
int pop3_cmd_parse(char *line, struct pop3_cmd *cmd_r);

/* A message number: decimal, 1..max, nothing else but an optional " rest"
 * (returned in *rest_r, may be NULL). Returns -1 when malformed, 0 when out
 * of range (*n_r set), 1 when good. */
int pop3_msgnum(const char *arg, size_t max, size_t *n_r, const char **rest_r);

/* RFC 1939 7: the APOP digest, MD5(timestamp || secret) in lower-case hex
 * (33 bytes with the NUL). Returns -1 when MD5 is unavailable. */
int pop3_apop_digest(const char *timestamp, const char *secret, char out[33]);

/* Compare a client's digest with ours in constant time (case-insensitive
 * hex). */
bool pop3_apop_match(const char *ours, const char *theirs);

#endif
