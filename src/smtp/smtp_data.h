/* smtp_data.h - the incremental reader of message content after DATA and
 * BDAT: dot-unstuffing, end of data, the SMTP smuggling defence, the SIZE
 * limit, and a bounded observer of the header section.
 *
 * A state machine fed with chunks of any size (one byte at a time gives the
 * same result, output and callbacks as the whole input at once). Pure: no
 * I/O; the unstuffed content goes to the caller's sink callback.
 *
 * DATA (SMTP_DATA_DOT). The content ends at <CRLF>.<CRLF> only: the "." must
 * start a line that itself began after a real CRLF (the first line counts as
 * such a line, the CRLF of the DATA command being before it). A leading dot
 * is removed from any other line that starts with one (RFC 5321 4.5.2).
 *
 * Smuggling defence (the default, SMTP_DATA_EOL_REJECT). A bare LF, a bare
 * CR or a NUL anywhere in the content is an error recorded with its offset.
 * Such a line ending never ends a line for the purpose of finding the end of
 * data, so none of the sequences that other servers take for the end of data
 * ("\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r\n\0.\r\n", ...) ends it or
 * lets what follows be read as a command. The reader keeps consuming until the
 * real <CRLF>.<CRLF>, so the session stays in step with the client, and then
 * reports the error: the session must refuse the message (550 5.7.0), never
 * accept it. Why reject rather than normalise by default: a client whose
 * content has bare line endings is either broken or trying to smuggle; to
 * accept it would store content that another server may end early when we
 * relay it, and to repair it would change content that may be signed (DKIM)
 * without the sender knowing. Refusing is visible and safe; Postfix also
 * refuses bare LF by default since 3.9 (smtpd_forbid_bare_newline), though it
 * disconnects where this reader keeps the session in step.
 *
 * SMTP_DATA_EOL_NORMALISE repairs instead: a bare LF becomes CRLF and a bare
 * CR is dropped (a NUL is still refused unless allow_nul). The end of data is
 * still only <CRLF>.<CRLF> with real CRLFs; a line after a bare LF is
 * unstuffed but cannot end the data. Either way what is stored has only CRLF
 * line endings, so relaying it can never carry a smuggled end of data.
 *
 * BDAT (SMTP_DATA_BDAT). The session reads each chunk's bytes (it knows the
 * count from the BDAT command) and feeds exactly them; smtp_data_finish()
 * after the LAST chunk. No dot-unstuffing and no end marker, but the same
 * bare CR / bare LF / NUL policy, since a message accepted by BDAT may be
 * relayed later with DATA. With binary (BODY=BINARYMIME) the content is
 * passed through verbatim: no checks, CRLF kept whatever output_lf says.
 *
 * Size. The size counted is the message as RFC 1870 counts it: after
 * unstuffing, with CRLF line endings, whatever the output form. Past
 * max_size the reader stops delivering to the sink but keeps reading to the
 * end, then reports SMTP_DATA_TOO_BIG. The same happens after any error:
 * nothing more is delivered once the message is known to be refused; the
 * sink has then received exactly the content before the point of refusal
 * (the first max_size octets, or what preceded the bad octet), however the
 * input was cut.
 *
 * Header observer. The reader follows the header section of the content
 * (RFC 5322 2.2: fields up to the first empty line) with bounded memory and
 * reports what the session needs on submission: whether Message-ID:, Date:,
 * From: and Sender: are present (counts), and the first From: value
 * (unfolded, up to SMTP_HEADER_VALUE_MAX octets). The header_end callback
 * runs once, when the section ends, after every header byte was delivered
 * to the sink and before any later byte is: the session can add fields
 * (Message-ID, Date) right there. A header line over header_line_max or a
 * section over header_max either refuses the message (refuse_big_header:
 * SMTP_DATA_HEADER_TOO_BIG) or, by default, only makes the check
 * inconclusive (line_too_long, from_truncated, end == OVERFLOW). A policy
 * that depends on the check (From: against the authenticated user) must
 * treat anything but SMTP_HEADER_END_BLANK or _EOF, or a truncated From:, as
 * a failed check: a mail reader may show fields that follow a line this
 * observer could not read as a header.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include "lib/common.h"

#include "lib/buf.h"

#define SMTP_HEADER_VALUE_MAX 998 /* From: value kept for the check */
#define SMTP_HEADER_NAME_MAX 256  /* longer field names end the observation */
#define SMTP_DATA_STAGE 4096      /* output is delivered in pieces of up to this */

enum smtp_data_mode {
	SMTP_DATA_DOT,  /* after DATA: dot-stuffed, ends at <CRLF>.<CRLF> */
	SMTP_DATA_BDAT, /* after BDAT: raw chunks, ended by smtp_data_finish() */
};

enum smtp_data_eol {
	SMTP_DATA_EOL_REJECT,    /* default: bare CR or LF refuses the message */
	SMTP_DATA_EOL_NORMALISE, /* bare LF becomes CRLF, bare CR is dropped */
};

enum smtp_data_result {
	SMTP_DATA_OK,
	SMTP_DATA_BARE_LF,        /* 550 5.7.0 */
	SMTP_DATA_BARE_CR,        /* 550 5.7.0 */
	SMTP_DATA_NUL,            /* 550 5.6.0 */
	SMTP_DATA_HEADER_TOO_BIG, /* 552 5.3.4 (only with refuse_big_header) */
	SMTP_DATA_TOO_BIG,        /* 552 5.3.4 */
	SMTP_DATA_SINK_FAILED,    /* 451 4.3.0: the sink or header_end returned < 0 */
};

enum smtp_header_end {
	SMTP_HEADER_END_NONE,      /* not ended yet */
	SMTP_HEADER_END_BLANK,     /* at the empty line (the normal case) */
	SMTP_HEADER_END_NONHEADER, /* at a line that is not a field (no blank line) */
	SMTP_HEADER_END_EOF,       /* the content ended inside the header section */
	SMTP_HEADER_END_OVERFLOW,  /* over header_max, or a field name too long */
};

struct smtp_header_info {
	enum smtp_header_end end;
	bool line_too_long; /* a header line was longer than header_line_max */
	uint64_t size;      /* octets of the header section seen (CRLF form) */
	unsigned fields;    /* header fields seen */
	unsigned message_id, date, from, sender; /* occurrences of each field */
	unsigned received; /* Received: fields, the hops taken (RFC 5321 6.3) */
	/* First From: value: unfolded (CRLF of folds removed), surrounding
	 * white space and any control character but TAB removed; from_len
	 * octets, NUL-terminated. */
	char from_value[SMTP_HEADER_VALUE_MAX + 1];
	size_t from_len;
	bool from_truncated;
};

/* Output: len > 0 bytes of content. Return < 0 on failure (disk full): the
 * reader stops delivering and reports SMTP_DATA_SINK_FAILED at the end. */
typedef int smtp_data_sink_fn(void *ctx, const char *data, size_t len);
/* The header section ended (info->end says how). Return < 0 on failure, as
 * for the sink. */
typedef int smtp_data_header_fn(void *ctx, const struct smtp_header_info *info);

struct smtp_data_options {
	enum smtp_data_mode mode;
	enum smtp_data_eol eol;
	bool binary;            /* BDAT BODY=BINARYMIME: verbatim, no checks (BDAT only) */
	bool allow_nul;         /* NUL is content (default: refused, RFC 5322 2.1) */
	bool output_lf;         /* deliver LF line endings (mail store); else CRLF */
	uint64_t max_size;      /* 0: no limit */
	size_t header_line_max; /* default 998 (RFC 5322 2.1.1) */
	size_t header_max;      /* default 256 KiB */
	bool refuse_big_header; /* over either cap refuses the message */
	smtp_data_sink_fn *sink;          /* NULL: content is checked, not kept */
	smtp_data_header_fn *header_end;  /* may be NULL */
	void *ctx;                        /* for sink and header_end */
};

struct smtp_data_reader {
	struct smtp_data_options opt;
	int state;
	uint64_t offset;   /* content octets consumed so far */
	uint64_t size;     /* message size counted so far (see above) */
	bool storing;      /* still delivering to the sink */
	bool too_big, header_too_big, sink_failed;
	enum smtp_data_result bad;  /* first BARE_LF, BARE_CR or NUL; else OK */
	uint64_t bad_offset;        /* its offset in the content */
	bool ends_with_eol;         /* BDAT: the content ended with CRLF */

	struct smtp_header_info header;
	int hstate;
	int hfield;
	size_t hline;      /* length of the current header line */
	bool hcapture;     /* capturing the From: value */
	char hold[SMTP_HEADER_NAME_MAX];
	size_t nhold;

	char out[SMTP_DATA_STAGE];
	size_t nout;
};

/* Defaults: DATA, reject, CRLF output, no size limit, the header caps
 * above, no sink. */
void smtp_data_options_init(struct smtp_data_options *opts);

/* Start reading one message's content. opts is copied. */
void smtp_data_init(struct smtp_data_reader *r, const struct smtp_data_options *opts);

enum smtp_data_status {
	SMTP_DATA_MORE, /* all of the input was consumed; feed more */
	SMTP_DATA_DONE, /* the end of data was found (DATA mode) */
};

/* Feed data[0..len). *consumed_r is how many bytes were content: all of them
 * for SMTP_DATA_MORE; for SMTP_DATA_DONE the bytes up to and including the
 * final ".\r\n", the rest being the client's next command (pipelining).
 * Output for the consumed bytes has been delivered when this returns. Once
 * DONE (or finished), further calls consume nothing and return DONE. In BDAT
 * mode it returns MORE until smtp_data_finish(). */
enum smtp_data_status smtp_data_feed(struct smtp_data_reader *r, const char *data, size_t len,
				     size_t *consumed_r);

/* BDAT: the LAST chunk has been fed. Settles a final CR (bare), ends the
 * header section if still open, delivers what is left. Returns 0, or -1 in
 * DATA mode (where the end comes from the content). */
int smtp_data_finish(struct smtp_data_reader *r);

/* The verdict: the first smuggling error (bare LF, bare CR, NUL) if any,
 * else HEADER_TOO_BIG, TOO_BIG, SINK_FAILED, else OK. Meaningful after DONE
 * or finish; before, it says whether the message is already refused (the
 * BDAT session may answer the current chunk with it). */
enum smtp_data_result smtp_data_result(const struct smtp_data_reader *r);

/* Suggested reply for a result (see the enum); *enhanced_r and *text_r get
 * static strings. */
unsigned smtp_data_status_code(enum smtp_data_result result, const char **enhanced_r,
			       const char **text_r);

/* A sink appending to the struct buf given as ctx (fails when it is full). */
int smtp_data_sink_buf(void *ctx, const char *data, size_t len);

#endif
