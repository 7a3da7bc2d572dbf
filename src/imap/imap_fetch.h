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
	char *part;		    /* "" or "1.2.3" */
	enum mime_section_text text;
	char **fields;		    /* HEADER.FIELDS(.NOT) names, as sent */
	size_t nfields;
	bool partial;		    /* <offset.length> or <offset> (RFC 1730 PARTIAL) */
	uint32_t offset, length;    /* length UINT32_MAX: to the end */
	/* The name to answer with: "BODY[HEADER.FIELDS (DATE FROM)]<0>"
	 * (RFC 9051: the origin octet only, fields upper-cased as Dovecot
	 * answers or as sent?) - imap_fetch_parse builds it. */
	char *reply_name;
};

struct imap_fetch {
	unsigned items;		   /* enum imap_fetch_item */
	struct imap_fetch_section *sections;
	size_t nsections;
	bool sets_seen;		   /* some item sets \Seen (non-PEEK BODY/BINARY, RFC822, RFC822.TEXT) */
	uint64_t changedsince;	   /* CHANGEDSINCE modifier, 0: none */
	bool vanished;		   /* VANISHED modifier (UID FETCH, QRESYNC) */
};

/* Parse the items of "FETCH set items [(modifiers)]": args points at the
 * items argument (a macro ALL/FAST/FULL, one item, or a list) and count
 * includes the optional modifier list after it. Returns 0 or -1 with
 * *error_r (static text for a BAD reply). Free with imap_fetch_clear. */
int imap_fetch_parse(const struct imap_arg *args, size_t count, struct imap_fetch *fetch_r,
		     const char **error_r);
void imap_fetch_clear(struct imap_fetch *fetch);

/* The RFC 1730 PARTIAL command "PARTIAL msg item start length" mapped onto
 * one BODY[...]<start.length> section (item: RFC822, RFC822.HEADER,
 * RFC822.TEXT, BODY[...] or BODY.PEEK[...]). */
int imap_fetch_parse_partial(const struct imap_arg *item, uint32_t start, uint32_t length,
			     struct imap_fetch *fetch_r, const char **error_r);

#endif
