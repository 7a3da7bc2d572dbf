/* imap_search.h - SEARCH programs (RFC 9051 6.4.4, RFC 3501 6.4.4,
 * RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 7162 MODSEQ, RFC 5032 WITHIN):
 * parsing from a command's arguments, and matching one message. Pure (the
 * message content is read through a callback).
 *
 * Matching text (HEADER, FROM..., SUBJECT, BODY, TEXT): the search string is
 * converted from the CHARSET to UTF-8; header values are RFC 2047 decoded,
 * body parts decoded from their transfer encoding and converted from their
 * charset to UTF-8; then a case-insensitive substring test. Case folding is
 * Unicode simple case folding (CaseFolding.txt C+S) for ASCII, Latin-1,
 * Latin Extended-A/B and Additional, Greek, Cyrillic, Armenian, Georgian
 * capitals, letterlike symbols, Roman numerals, circled and fullwidth
 * letters; other characters compare as they are (docs/imap-search.md).
 * Address keys (FROM, TO, CC, BCC) match the decoded header text. TEXT =
 * header or body; BODY looks at the text parts (and message/rfc822 bodies)
 * only, never at binary attachments' encoded form.
 *
 * Dates: BEFORE/ON/SINCE compare the internal date by its day in the
 * server's local time zone; SENTBEFORE/SENTON/SENTSINCE the day written in
 * the Date: header (its zone ignored; the internal date's day when Date: is
 * missing or unreadable).
 */
#ifndef POSTERN_IMAP_SEARCH_H
#define POSTERN_IMAP_SEARCH_H

#include "lib/common.h"

#include <time.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "store/store.h"

/* Nesting of "(...)", NOT and OR; keys in one program in all. */
#define IMAP_SEARCH_MAX_DEPTH 64
#define IMAP_SEARCH_MAX_KEYS 1000

enum imap_search_op {
	IMAP_SK_ALL,
	IMAP_SK_AND,	    /* children: all match (the top level, "(...)" lists) */
	IMAP_SK_OR,	    /* two children */
	IMAP_SK_NOT,	    /* one child */
	IMAP_SK_SEQSET,	    /* set: sequence numbers */
	IMAP_SK_UIDSET,	    /* set: UIDs ("$" is always a UID set, saved true) */
	IMAP_SK_FLAGS_SET,  /* flags: all these system flags set (ANSWERED, DELETED, ...) */
	IMAP_SK_FLAGS_CLEAR,/* flags: all clear (UNANSWERED, ...) */
	IMAP_SK_KEYWORD,    /* str */
	IMAP_SK_UNKEYWORD,  /* str */
	IMAP_SK_NEW,	    /* RECENT and not SEEN: postern has no \Recent: = false */
	IMAP_SK_OLD,	    /* not RECENT: true */
	IMAP_SK_RECENT,	    /* false (IMAP4rev2 dropped \Recent; never set) */
	IMAP_SK_BEFORE,	    /* date, date_end (internal date, by local day) */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE, /* day (Date: header day) */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_OLDER,	    /* number: seconds; now - internal date > n (YOUNGER: <= n) */
	IMAP_SK_YOUNGER,
	IMAP_SK_LARGER,	    /* number: RFC822.SIZE */
	IMAP_SK_SMALLER,
	IMAP_SK_HEADER,	    /* field, str ("" matches every message with the field) */
	IMAP_SK_BODY,	    /* str */
	IMAP_SK_TEXT,	    /* str */
	IMAP_SK_MODSEQ,	    /* number: MODSEQ >= n (entry name/type accepted, ignored) */
};

struct imap_search_key {
	enum imap_search_op op;
	struct imap_search_key *children;
	size_t nchildren;
	struct imap_seqset set;
	bool saved;   /* the set is "$": imap_search_resolve fills it */
	bool content; /* this key or one below reads the message */
	unsigned flags; /* enum store_flag bits */
	char *field;  /* HEADER field name; FROM/TO/CC/BCC/SUBJECT become HEADER */
	char *str;    /* UTF-8, case-folded (may hold NULs: str_len) */
	size_t str_len;
	time_t date;	 /* start of the day, 00:00 local time */
	time_t date_end; /* start of the next day */
	int64_t day;	 /* SENT*: days since 1970-01-01 of the date */
	uint64_t number;
};

enum imap_search_return {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
};

struct imap_search_program {
	struct imap_search_key root; /* AND */
	bool esearch;		     /* RETURN (...) given: answer ESEARCH (RFC 5182:
				      * not when SAVE is the only option) */
	unsigned ret;		     /* enum imap_search_return; RETURN () = ALL */
	bool has_modseq;	     /* a MODSEQ key: answer with (MODSEQ n) */
	bool needs_header;	     /* some key reads the header */
	bool needs_body;	     /* some key reads the body */
};

/* Parse "[RETURN (...)] [CHARSET x] keys..." (args after SEARCH / UID
 * SEARCH). Strings are converted from the charset (UTF-8, US-ASCII or any
 * charset iconv knows); an unknown charset fails with *badcharset_r true
 * (answer NO [BADCHARSET (UTF-8 US-ASCII)]); any other error is a BAD.
 * Keys are reordered so that those not reading the message come first
 * (AND and OR don't care about order). Returns 0, or -1 with *error_r
 * (static text) and nothing to free. Free with imap_search_clear. */
int imap_search_parse(const struct imap_arg *args, size_t count,
		      struct imap_search_program *prog_r, bool *badcharset_r,
		      const char **error_r);
void imap_search_clear(struct imap_search_program *prog);

/* Resolve '*' in every set of the program: nmessages for sequence sets,
 * max_uid for UID sets; "$" sets take saved[nsaved] (ascending UIDs of the
 * last SEARCH SAVE; sequence-set "$" is UIDs too, RFC 5182). */
void imap_search_resolve(struct imap_search_program *prog, uint32_t nmessages,
			 uint32_t max_uid, const uint32_t *saved, size_t nsaved);

/* One message, as the session knows it. */
struct imap_search_msg {
	uint32_t seq;
	const struct store_message *meta; /* uid, flags, keywords, dates, sizes, modseq */
	/* Give the whole message (CRLF); called at most once per message and
	 * only when the program needs the header or body. 0, or -1 (the
	 * message is gone: it does not match). */
	int (*load)(void *ctx, const char **data_r, size_t *len_r);
	void *ctx;
	time_t now;
};

/* 1: matches, 0: does not. Call imap_search_resolve first. Allocates
 * nothing unless a key reads the message; then the message is loaded,
 * parsed and decoded once for all keys (decoded text bounded by 3 x its
 * size + 4 KiB and 64 MiB, the rest is not searched) and freed on return. */
int imap_search_match(const struct imap_search_program *prog, const struct imap_search_msg *msg);

#endif
