/* part.h - the MIME part tree of a whole message in memory (RFC 2045, 2046).
 *
 * Each part gives the offsets and sizes of its header and body in the
 * message, the LF count of its body, its parsed Content-Type and its
 * Content-Transfer-Encoding, so BODYSTRUCTURE and BODY[section] can be
 * built without parsing again (other fields: re-parse the header at its
 * offsets with mime_header_parse()).
 *
 * - multipart: the body is split at delimiter lines "--" boundary, with
 *   optional transport padding (spaces, tabs) before the line break; the
 *   close delimiter adds "--". The line break before a delimiter belongs to
 *   it (RFC 2046 5.1.1). Lines must match exactly, so a boundary that is a
 *   prefix of another does not cut it. Text before the first delimiter is
 *   the preamble and after the close delimiter the epilogue; neither is a
 *   part. With no close delimiter the last part runs to the end of the
 *   multipart's body (flag). With no delimiter at all, or no boundary
 *   parameter, the multipart has no children (flag).
 * - message/rfc822 and message/global (not base64 or quoted-printable
 *   encoded): one child, the encapsulated message, whose header is the
 *   whole child header.
 * - In multipart/digest a part without Content-Type is message/rfc822.
 * Limits: parts nested deeper than max_depth, or past max_parts in all,
 * are not split further: they stay leaves (flag). Parsing never fails on
 * content; work is at most O(max_depth * len).
 */
#ifndef POSTERN_MIME_PART_H
#define POSTERN_MIME_PART_H

#include "lib/common.h"

#include "mime/params.h"

#define MIME_PART_DEFAULT_MAX_DEPTH 32
#define MIME_PART_DEFAULT_MAX_PARTS 5000

struct mime_part_limits {
	unsigned int max_depth; /* levels of parts below the root */
	size_t max_parts;	/* parts in the tree, the root included */
};

enum mime_part_flags {
	MIME_PART_F_MULTIPART = 1 << 0,	   /* split at its boundary */
	MIME_PART_F_MESSAGE = 1 << 1,	   /* has the encapsulated message as child */
	MIME_PART_F_NO_CLOSE = 1 << 2,	   /* multipart without its close delimiter */
	MIME_PART_F_NO_DELIMITER = 1 << 3, /* multipart with no delimiter or boundary */
	MIME_PART_F_TOO_DEEP = 1 << 4,	   /* not split: max_depth */
	MIME_PART_F_TOO_MANY = 1 << 5,	   /* not split: max_parts */
};

struct mime_part {
	struct mime_part *parent;
	struct mime_part *children; /* first child */
	struct mime_part *next;	    /* next sibling */
	size_t nchildren;
	unsigned int depth; /* root: 0 */

	size_t header_offset, header_size; /* header size: the empty line included */
	size_t body_offset, body_size;
	size_t body_lines; /* LFs in the body */

	struct mime_content ct;
	char *encoding;	    /* Content-Transfer-Encoding, lower-case; "7bit" when absent */
	unsigned int flags; /* enum mime_part_flags */
};

struct mime_message {
	struct mime_part *root;
	size_t nparts;
	unsigned int flags; /* union of the parts' flags */
};

/* Parse msg[len]. limits may be NULL for the defaults. Never fails: returns
 * 0 with *msg_r filled; free with mime_message_clear(). The tree holds no
 * pointers into msg. */
int mime_message_parse(const void *msg, size_t len, const struct mime_part_limits *limits,
		       struct mime_message *msg_r);
void mime_message_clear(struct mime_message *msg);

/* The part an IMAP section number ("1", "2.1.3") names, RFC 3501 6.4.5:
 * "1" of a message whose body is not multipart is that body; a number after
 * a message/rfc822 part counts in the encapsulated message. Returns NULL
 * when no such part exists or section is malformed. */
const struct mime_part *mime_part_find(const struct mime_message *msg, const char *section);

#endif
