/* header.h - RFC 5322 header section parser over a message in memory.
 *
 * The message is bytes already stored (on disk LF or CRLF; both are accepted
 * line by line, a bare CR inside a line is an ordinary byte). The header ends
 * at the first empty line ("\n" or "\r\n"), or at the end of the input when
 * there is none. Each field keeps its raw value (the bytes after the colon up
 * to, not including, the line break ending the field, folding kept) as a
 * pointer into the input, and an unfolded copy (line breaks before
 * whitespace removed, leading and trailing whitespace trimmed).
 *
 * Garbage, handled as Dovecot does and never an error:
 * - a line without a colon is kept as a field whose name is the whole line
 *   and whose value is empty, marked no_colon (lookups never return it);
 * - whitespace before the colon ("Subject : x") is not part of the name;
 * - continuation lines before the first field are kept as a no_colon field
 *   with an empty name and the lines as its raw value;
 * - 8-bit bytes and NULs are kept as they are (values have lengths).
 * Limits never make parsing fail: past max_size bytes or max_fields fields
 * no more fields are collected (the end of the header is still found, by a
 * scan that allocates nothing); an unfolded value is cut at max_value bytes.
 * Each of these sets a flag so the caller can tell.
 */
#ifndef POSTERN_MIME_HEADER_H
#define POSTERN_MIME_HEADER_H

#include "lib/common.h"

/* Defaults used when mime_header_parse() gets NULL limits. */
#define MIME_HEADER_DEFAULT_MAX_SIZE (1024 * 1024)
#define MIME_HEADER_DEFAULT_MAX_FIELDS 5000
#define MIME_HEADER_DEFAULT_MAX_VALUE (64 * 1024)

struct mime_header_limits {
	size_t max_size;   /* bytes of header section in which fields are collected */
	size_t max_fields; /* fields collected */
	size_t max_value;  /* bytes of one unfolded value */
};

enum mime_header_flags {
	MIME_HEADER_F_NO_END = 1 << 0,	  /* no empty line: the header is the whole input */
	MIME_HEADER_F_TOO_LARGE = 1 << 1, /* fields past max_size were not collected */
	MIME_HEADER_F_TOO_MANY = 1 << 2,  /* fields past max_fields were not collected */
	MIME_HEADER_F_VALUE_CUT = 1 << 3, /* some unfolded value was cut at max_value */
	MIME_HEADER_F_GARBAGE = 1 << 4,	  /* some no_colon field was seen */
	MIME_HEADER_F_8BIT = 1 << 5,	  /* bytes >= 0x80 in the header */
	MIME_HEADER_F_NUL = 1 << 6,	  /* NUL bytes in the header */
	MIME_HEADER_F_BARE_LF = 1 << 7,	  /* some line ended with LF alone */
};

struct mime_header_field {
	const char *name; /* into the input, not NUL-terminated */
	size_t name_len;
	const char *raw; /* into the input: after the colon up to the field's line break */
	size_t raw_len;
	const char *value; /* unfolded, NUL-terminated (may contain NULs), owned by the header */
	size_t value_len;
	size_t offset; /* of the field's first byte in the input */
	size_t size;   /* bytes of the field, its final line break included */
	bool no_colon;
	bool value_cut;
};

struct mime_header {
	struct mime_header_field *fields;
	size_t count;
	size_t size;	    /* header section bytes, the empty line included */
	size_t body_offset; /* == size */
	unsigned int flags; /* enum mime_header_flags */
	char *values_;	    /* private: storage of the unfolded values */
};

/* Parse the header section at the start of msg[len]. limits may be NULL for
 * the defaults. Never fails on content: returns 0 with *hdr_r filled. The
 * name and raw pointers point into msg, which must outlive *hdr_r; free with
 * mime_header_clear(). */
int mime_header_parse(const void *msg, size_t len, const struct mime_header_limits *limits,
		      struct mime_header *hdr_r);
/* Free what mime_header_parse() allocated; *hdr is then empty (count 0). */
void mime_header_clear(struct mime_header *hdr);

/* First field named name (ASCII case-insensitive), or NULL. */
const struct mime_header_field *mime_header_find(const struct mime_header *hdr, const char *name);
/* Next field named name after prev (a field of hdr), or NULL: iterating from
 * mime_header_find() gives them all in order. */
const struct mime_header_field *mime_header_find_next(const struct mime_header *hdr,
						      const struct mime_header_field *prev,
						      const char *name);
/* True when field's name is name, ASCII case-insensitively. */
bool mime_header_field_is(const struct mime_header_field *field, const char *name);

#endif
