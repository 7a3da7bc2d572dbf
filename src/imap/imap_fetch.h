/* imap_fetch.h - the data items of FETCH (RFC 9051 6.4.5, RFC 3501 6.4.5,
 * RFC 3516 BINARY, RFC 7162 CONDSTORE/QRESYNC modifiers), parsed from the
 * command's arguments. Pure.
 */
#ifndef POSTERN_IMAP_FETCH_H
#define POSTERN_IMAP_FETCH_H

#include "lib/common.h"

#include "imap/imap_parser.h"
#include "mime/section.h"

enum imap_fetch_item {
	IMAP_FETCH_UID = 1 << 0,
	IMAP_FETCH_FLAGS = 1 << 1,
	IMAP_FETCH_INTERNALDATE = 1 << 2,
	IMAP_FETCH_RFC822_SIZE = 1 << 3,
	IMAP_FETCH_ENVELOPE = 1 << 4,
	IMAP_FETCH_BODY = 1 << 5,	   /* BODY without a section: the structure */
	IMAP_FETCH_BODYSTRUCTURE = 1 << 6,
	IMAP_FETCH_MODSEQ = 1 << 7,
	IMAP_FETCH_RFC822 = 1 << 8,	   /* = BODY[] (sets \Seen), answered as RFC822 */
	IMAP_FETCH_RFC822_HEADER = 1 << 9, /* = BODY.PEEK[HEADER], answered as RFC822.HEADER */
	IMAP_FETCH_RFC822_TEXT = 1 << 10,  /* = BODY[TEXT] (sets \Seen), as RFC822.TEXT */
	IMAP_FETCH_SAVEDATE = 1 << 11,	   /* RFC 8514: answered NIL? see imapd */
};

enum imap_section_kind {
	IMAP_SECTION_BODY,	  /* BODY[...] / BODY.PEEK[...] */
	IMAP_SECTION_BINARY,	  /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_SECTION_BINARY_SIZE, /* BINARY.SIZE[...] */
};

struct imap_fetch_section {
	enum imap_section_kind kind;
	bool peek;
	char *part;		    /* "" or "1.2.3" (nz-numbers) */
	enum mime_section_text text; /* only ALL for BINARY and BINARY.SIZE */
	char **fields;		    /* HEADER.FIELDS(.NOT) names, as sent (case kept,
				     * quotes and escapes removed); at least one */
	size_t nfields;
	bool partial;		    /* <offset.length>, or PARTIAL's start/length */
	uint32_t offset, length;    /* values above 2^32-1 (number64) are capped
				     * there: past any message's end */
	/* The name to answer with (RFC 9051 7.5.2), built from the parsed
	 * section: "BODY[" / "BINARY[" / "BINARY.SIZE[" (PEEK never echoed),
	 * the part, the text keyword upper-cased, the field names upper-cased
	 * and quoted when they were sent quoted (as Dovecot answers), "]",
	 * then "<origin>" when partial: "BODY[1.HEADER.FIELDS (DATE FROM)]<0>". */
	char *reply_name;
};

/* Most distinct sections one FETCH may ask for (identical ones count once);
 * more is refused. Each is answered with its own copy of (part of) the
 * message, so this bounds what one FETCH can make of one message. */
#define IMAP_FETCH_MAX_SECTIONS 100

struct imap_fetch {
	unsigned items;		   /* enum imap_fetch_item */
	struct imap_fetch_section *sections;
	size_t nsections;
	bool sets_seen;		   /* some item sets \Seen (non-PEEK BODY/BINARY, RFC822, RFC822.TEXT) */
	uint64_t changedsince;	   /* CHANGEDSINCE modifier, 0: none */
	bool vanished;		   /* VANISHED modifier (UID FETCH, QRESYNC) */
};

/* Parse the items of "FETCH set items [(modifiers)]": args points at the
 * items argument (a macro ALL/FAST/FULL, one item, or a non-empty list of
 * items, macros not allowed there) and count includes the optional
 * modifier list after it. Items are case-insensitive: ENVELOPE, FLAGS,
 * INTERNALDATE, RFC822.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT, UID,
 * BODY, BODYSTRUCTURE, MODSEQ, SAVEDATE, and the sections
 * BODY[section]<partial>, BODY.PEEK[...]<...>, BINARY[part]<...>,
 * BINARY.PEEK[part]<...>, BINARY.SIZE[part] where section is "", HEADER,
 * HEADER.FIELDS (names), HEADER.FIELDS.NOT (names), TEXT, optionally
 * after a part number "1.2." (MIME only after one), and partial is
 * "<offset.length>" with length > 0 ("<offset>" alone is an error).
 * Modifiers (RFC 7162): CHANGEDSINCE n (also asks for MODSEQ) and
 * VANISHED (only with CHANGEDSINCE; the caller checks it is UID FETCH
 * with QRESYNC enabled), each at most once. Returns 0 or -1 with
 * *error_r (static text for a BAD reply) and *fetch_r empty. Free with
 * imap_fetch_clear. A section asked for again (the same reply name and
 * partial: BODY[1] and BODY.PEEK[1] are one) is kept once, so it is
 * answered once (the answer would be the same bytes under the same name);
 * more than IMAP_FETCH_MAX_SECTIONS distinct sections are an error. */
int imap_fetch_parse(const struct imap_arg *args, size_t count, struct imap_fetch *fetch_r,
		     const char **error_r);
void imap_fetch_clear(struct imap_fetch *fetch);

/* The RFC 1730 PARTIAL command "PARTIAL msg item start length" mapped onto
 * one BODY section with partial set (item: RFC822 = BODY[], RFC822.HEADER
 * = BODY.PEEK[HEADER], RFC822.TEXT = BODY[TEXT], BODY[...] or
 * BODY.PEEK[...] without a partial of their own). start counts from 1 as
 * in RFC 1730 (0 is an error): offset = start - 1, length = length. The
 * reply name is the item as named, without an origin ("RFC822",
 * "BODY[1]"), as RFC 1730 answers. Returns 0 or -1 with *error_r. */
int imap_fetch_parse_partial(const struct imap_arg *item, uint32_t start, uint32_t length,
			     struct imap_fetch *fetch_r, const char **error_r);

#endif
