/* smtp_data.c - the DATA/BDAT content reader: unstuffing, end of data,
 * smuggling defence, size limit, header observer. */
#include "lib/common.h"

#include "smtp/smtp_data.h"

/* Content states. A "start" is the start of a line; only S_START (after a
 * real CRLF, or the very beginning) can begin the end-of-data line. */
enum {
	S_START,      /* line start after CRLF */
	S_MID,        /* inside a line */
	S_CR,         /* a CR was read, the LF may follow */
	S_DOT,        /* S_START then "." */
	S_DOT_CR,     /* S_START then ".\r" */
	S_SOFT_START, /* normalise: line start after a bare LF */
	S_SOFT_DOT,   /* S_SOFT_START then "." */
	S_DONE,
};

/* Header observer states. */
enum {
	H_LINE_START, /* start of a header line */
	H_NAME,       /* field name, held back until its ':' proves it a field */
	H_NAME_WSP,   /* white space after the name (obsolete syntax) */
	H_VALUE,      /* field body, continuation lines included */
	H_BODY,       /* the header section ended: not observing */
};

enum {
	F_OTHER,
	F_FROM,
	F_DATE,
	F_MESSAGE_ID,
	F_SENDER,
};

void
smtp_data_options_init(struct smtp_data_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->mode = SMTP_DATA_DOT;
	opts->eol = SMTP_DATA_EOL_REJECT;
	opts->header_line_max = 998;
	opts->header_max = 256 * 1024;
}

void
smtp_data_init(struct smtp_data_reader *r, const struct smtp_data_options *opts)
{
	memset(r, 0, sizeof(*r));
	r->opt = *opts;
	if (r->opt.mode != SMTP_DATA_BDAT)
		r->opt.binary = false; /* BINARYMIME content only comes by BDAT */
	if (r->opt.binary)
		r->opt.output_lf = false;
	r->state = S_START;
	r->storing = true;
	r->bad = SMTP_DATA_OK;
	r->hstate = H_LINE_START;
	r->header.end = SMTP_HEADER_END_NONE;
}

/* ---- output ---- */

static void
flush(struct smtp_data_reader *r)
{
	if (r->nout > 0 && r->storing && r->opt.sink != NULL &&
	    r->opt.sink(r->opt.ctx, r->out, r->nout) < 0) {
		r->sink_failed = true;
		r->storing = false;
	}
	r->nout = 0;
}

static void stage(struct smtp_data_reader *r, const char *p, size_t n);

/* Deliver nothing more; what was accepted before (a field name held back
 * by the header observer included) is delivered first, so the output never
 * depends on how the input was cut. */
static void
stop(struct smtp_data_reader *r)
{
	if (r->storing && r->nhold > 0) {
		stage(r, r->hold, r->nhold);
		r->nhold = 0;
	}
	flush(r);
	r->storing = false;
}

static void
stage(struct smtp_data_reader *r, const char *p, size_t n)
{
	while (n > 0 && r->storing) {
		if (r->nout == 0 && n >= sizeof(r->out)) {
			/* A long run goes to the sink directly. */
			if (r->opt.sink != NULL && r->opt.sink(r->opt.ctx, p, n) < 0) {
				r->sink_failed = true;
				r->storing = false;
			}
			return;
		}
		size_t k = MIN(n, sizeof(r->out) - r->nout);
		memcpy(r->out + r->nout, p, k);
		r->nout += k;
		p += k;
		n -= k;
		if (r->nout == sizeof(r->out))
			flush(r);
	}
}

static void
stage_eol(struct smtp_data_reader *r)
{
	if (r->opt.output_lf)
		stage(r, "\n", 1);
	else
		stage(r, "\r\n", 2);
}

/* ---- header observer ---- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
name_is(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (ascii_tolower((unsigned char)s[i]) != ascii_tolower((unsigned char)lit[i]))
			return false;
	}
	return true;
}

/* The current field is complete: close the From: capture. */
static void
field_done(struct smtp_data_reader *r)
{
	struct smtp_header_info *h = &r->header;

	if (r->hcapture) {
		while (h->from_len > 0 && is_wsp(h->from_value[h->from_len - 1]))
			h->from_len--;
		h->from_value[h->from_len] = '\0';
		r->hcapture = false;
	}
	r->hfield = F_OTHER;
}

static void
header_end(struct smtp_data_reader *r, enum smtp_header_end how)
{
	field_done(r);
	r->header.end = how;
	r->hstate = H_BODY;
	if (r->opt.header_end != NULL && r->storing) {
		flush(r);
		if (r->storing && r->opt.header_end(r->opt.ctx, &r->header) < 0) {
			r->sink_failed = true;
			r->storing = false;
		}
	}
}

/* The held field name turned out not to be one: the header section ended
 * before it, and it is the first line of the body. */
static void
end_before_held(struct smtp_data_reader *r, enum smtp_header_end how)
{
	header_end(r, how);
	stage(r, r->hold, r->nhold);
	r->nhold = 0;
}

static void
start_field(struct smtp_data_reader *r)
{
	struct smtp_header_info *h = &r->header;
	size_t n = r->nhold;

	while (n > 0 && is_wsp(r->hold[n - 1]))
		n--;
	h->fields++;
	r->hfield = F_OTHER;
	if (name_is(r->hold, n, "From")) {
		r->hfield = F_FROM;
		if (h->from++ == 0)
			r->hcapture = true;
	} else if (name_is(r->hold, n, "Date")) {
		r->hfield = F_DATE;
		h->date++;
	} else if (name_is(r->hold, n, "Message-ID")) {
		r->hfield = F_MESSAGE_ID;
		h->message_id++;
	} else if (name_is(r->hold, n, "Sender")) {
		r->hfield = F_SENDER;
		h->sender++;
	} else if (name_is(r->hold, n, "Received")) {
		h->received++;
	}
	stage(r, r->hold, r->nhold);
	r->nhold = 0;
}

/* Account for n more octets of the header section; false when that goes
 * over a cap that ends the observation (already handled). */
static bool
header_account(struct smtp_data_reader *r, size_t n, bool eol)
{
	struct smtp_header_info *h = &r->header;

	if (h->size + n > r->opt.header_max) {
		if (r->opt.refuse_big_header && !r->header_too_big) {
			r->header_too_big = true;
			stop(r);
		}
		if (r->hstate == H_NAME || r->hstate == H_NAME_WSP)
			end_before_held(r, SMTP_HEADER_END_OVERFLOW);
		else
			header_end(r, SMTP_HEADER_END_OVERFLOW);
		return false;
	}
	h->size += n;
	if (eol) {
		r->hline = 0;
	} else if (++r->hline > r->opt.header_line_max && !h->line_too_long) {
		h->line_too_long = true;
		if (r->opt.refuse_big_header && !r->header_too_big) {
			r->header_too_big = true;
			stop(r);
		}
	}
	return true;
}

static void
capture(struct smtp_data_reader *r, char c)
{
	struct smtp_header_info *h = &r->header;

	/* Control characters (possible only in binary mode or with
	 * allow_nul) are left out of the value. */
	if (!r->hcapture || (h->from_len == 0 && is_wsp(c)) ||
	    ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
		return;
	if (h->from_len < SMTP_HEADER_VALUE_MAX)
		h->from_value[h->from_len++] = c;
	else
		h->from_truncated = true;
}

/* One content octet while the header section is open. */
static void
header_byte(struct smtp_data_reader *r, char c)
{
	unsigned char u = (unsigned char)c;

	if (!header_account(r, 1, false)) {
		stage(r, &c, 1);
		return;
	}
	switch (r->hstate) {
	case H_LINE_START:
		if (is_wsp(c) && r->header.fields > 0) {
			/* continuation of the current field (unfolding keeps
			 * the white space) */
			r->hstate = H_VALUE;
			capture(r, c);
			stage(r, &c, 1);
			return;
		}
		field_done(r);
		if (u >= 33 && u <= 126 && c != ':') {
			r->hold[r->nhold++] = c;
			r->hstate = H_NAME;
			return;
		}
		header_end(r, SMTP_HEADER_END_NONHEADER);
		stage(r, &c, 1);
		return;
	case H_NAME:
	case H_NAME_WSP:
		if (c == ':') {
			start_field(r);
			r->hstate = H_VALUE;
			stage(r, &c, 1);
			return;
		}
		if ((r->hstate == H_NAME && u >= 33 && u <= 126) || is_wsp(c)) {
			if (r->nhold == sizeof(r->hold)) {
				end_before_held(r, SMTP_HEADER_END_OVERFLOW);
				stage(r, &c, 1);
				return;
			}
			r->hold[r->nhold++] = c;
			if (is_wsp(c))
				r->hstate = H_NAME_WSP;
			return;
		}
		end_before_held(r, SMTP_HEADER_END_NONHEADER);
		stage(r, &c, 1);
		return;
	case H_VALUE:
		capture(r, c);
		stage(r, &c, 1);
		return;
	default:
		stage(r, &c, 1);
		return;
	}
}

/* A line ending while the header section is open. */
static void
header_eol(struct smtp_data_reader *r)
{
	if (r->hstate == H_LINE_START) {
		/* the empty line: not part of the section's size */
		header_end(r, SMTP_HEADER_END_BLANK);
	} else if (header_account(r, 2, true)) {
		if (r->hstate == H_NAME || r->hstate == H_NAME_WSP)
			end_before_held(r, SMTP_HEADER_END_NONHEADER);
		else
			r->hstate = H_LINE_START;
	}
	stage_eol(r);
}

/* ---- content ---- */

/* Count n octets of the message; returns how many of them may still be
 * delivered: all while under max_size, those that fit when this crosses it
 * (so that what is delivered does not depend on how the input was cut), none
 * once stopped. The caller stops after delivering them if too_big is set. */
static size_t
count(struct smtp_data_reader *r, size_t n)
{
	uint64_t before = r->size, max = r->opt.max_size;

	r->size = before > UINT64_MAX - n ? UINT64_MAX : before + n;
	if (max != 0 && r->size > max)
		r->too_big = true;
	if (!r->storing)
		return 0;
	if (!r->too_big)
		return n;
	return before < max ? (size_t)(max - before) : 0;
}

static void
content(struct smtp_data_reader *r, const char *p, size_t n)
{
	size_t ok = count(r, n);

	if (r->hstate == H_BODY) {
		stage(r, p, ok);
	} else {
		for (size_t i = 0; i < ok; i++) {
			if (r->hstate == H_BODY) {
				stage(r, p + i, ok - i);
				break;
			}
			header_byte(r, p[i]);
		}
	}
	if (r->too_big)
		stop(r);
}

static void
eol(struct smtp_data_reader *r)
{
	if (count(r, 2) == 2) {
		if (r->hstate == H_BODY)
			stage_eol(r);
		else
			header_eol(r);
	}
	if (r->too_big)
		stop(r);
}

static void
bad(struct smtp_data_reader *r, enum smtp_data_result kind, uint64_t offset)
{
	if (r->bad == SMTP_DATA_OK) {
		r->bad = kind;
		r->bad_offset = offset;
	}
	stop(r);
}

/* A CR at offset that is not followed by LF. */
static void
bare_cr(struct smtp_data_reader *r, uint64_t offset)
{
	if (r->opt.binary)
		content(r, "\r", 1);
	else if (r->opt.eol == SMTP_DATA_EOL_REJECT)
		bad(r, SMTP_DATA_BARE_CR, offset);
	/* normalise: dropped */
}

/* A LF at offset not preceded by CR; returns the next state. */
static int
bare_lf(struct smtp_data_reader *r, uint64_t offset)
{
	if (r->opt.binary) {
		content(r, "\n", 1);
		return S_MID;
	}
	if (r->opt.eol == SMTP_DATA_EOL_REJECT) {
		bad(r, SMTP_DATA_BARE_LF, offset);
		return S_MID;
	}
	eol(r);
	return S_SOFT_START;
}

enum smtp_data_status
smtp_data_feed(struct smtp_data_reader *r, const char *data, size_t len, size_t *consumed_r)
{
	bool dot = r->opt.mode == SMTP_DATA_DOT;
	size_t i = 0;

	*consumed_r = 0;
	if (r->state == S_DONE)
		return SMTP_DATA_DONE;
	while (i < len) {
		unsigned char c = (unsigned char)data[i];
		uint64_t off = r->offset + i;

		switch (r->state) {
		case S_START:
		case S_SOFT_START:
			if (dot && c == '.') {
				r->state = r->state == S_START ? S_DOT : S_SOFT_DOT;
				i++;
			} else {
				r->state = S_MID;
			}
			break;
		case S_MID: {
			size_t j = i;
			while (j < len && data[j] != '\r' && data[j] != '\n' && data[j] != '\0')
				j++;
			if (j > i) {
				content(r, data + i, j - i);
				i = j;
			} else if (c == '\r') {
				r->state = S_CR;
				i++;
			} else if (c == '\n') {
				r->state = bare_lf(r, off);
				i++;
			} else {
				if (r->opt.binary || r->opt.allow_nul)
					content(r, data + i, 1);
				else
					bad(r, SMTP_DATA_NUL, off);
				i++;
			}
			break;
		}
		case S_CR:
			if (c == '\n') {
				eol(r);
				r->state = S_START;
				i++;
			} else {
				/* The CR before this octet was bare; this octet is
				 * looked at again inside the line. */
				bare_cr(r, off - 1);
				r->state = S_MID;
			}
			break;
		case S_DOT:
			if (c == '\r') {
				r->state = S_DOT_CR;
				i++;
			} else if (c == '\n') {
				/* ".\n": not the end. */
				if (r->opt.eol == SMTP_DATA_EOL_NORMALISE)
					content(r, ".", 1);
				r->state = bare_lf(r, off);
				i++;
			} else {
				/* A leading dot before other text is removed. */
				r->state = S_MID;
			}
			break;
		case S_DOT_CR:
			if (c == '\n') {
				r->state = S_DONE;
				r->ends_with_eol = true;
				i++;
				*consumed_r = i;
				r->offset += i;
				if (r->hstate != H_BODY) {
					if (r->hstate == H_NAME || r->hstate == H_NAME_WSP)
						end_before_held(r, SMTP_HEADER_END_NONHEADER);
					else
						header_end(r, SMTP_HEADER_END_EOF);
				}
				flush(r);
				return SMTP_DATA_DONE;
			}
			/* ".\r" and no LF: the CR is bare, the dot removed. */
			bare_cr(r, off - 1);
			r->state = S_MID;
			break;
		case S_SOFT_DOT:
			/* After a bare LF the line cannot end the data; a dot
			 * alone on it is kept, a dot before text removed. */
			if (c == '\r' || c == '\n')
				content(r, ".", 1);
			r->state = S_MID;
			break;
		default:
			i = len;
			break;
		}
	}
	r->offset += len;
	*consumed_r = len;
	flush(r);
	return SMTP_DATA_MORE;
}

int
smtp_data_finish(struct smtp_data_reader *r)
{
	if (r->opt.mode != SMTP_DATA_BDAT)
		return -1;
	if (r->state == S_DONE)
		return 0;
	if (r->state == S_CR)
		bare_cr(r, r->offset - 1);
	r->ends_with_eol = r->state == S_START || r->state == S_SOFT_START;
	r->state = S_DONE;
	if (r->hstate != H_BODY) {
		if (r->hstate == H_NAME || r->hstate == H_NAME_WSP)
			end_before_held(r, SMTP_HEADER_END_NONHEADER);
		else
			header_end(r, SMTP_HEADER_END_EOF);
	}
	flush(r);
	return 0;
}

enum smtp_data_result
smtp_data_result(const struct smtp_data_reader *r)
{
	if (r->bad != SMTP_DATA_OK)
		return r->bad;
	if (r->header_too_big)
		return SMTP_DATA_HEADER_TOO_BIG;
	if (r->too_big)
		return SMTP_DATA_TOO_BIG;
	if (r->sink_failed)
		return SMTP_DATA_SINK_FAILED;
	return SMTP_DATA_OK;
}

unsigned
smtp_data_status_code(enum smtp_data_result result, const char **enhanced_r, const char **text_r)
{
	switch (result) {
	case SMTP_DATA_OK:
		*enhanced_r = "2.0.0";
		*text_r = "Ok";
		return 250;
	case SMTP_DATA_BARE_LF:
		*enhanced_r = "5.7.0";
		*text_r = "Message refused: bare LF in message data";
		return 550;
	case SMTP_DATA_BARE_CR:
		*enhanced_r = "5.7.0";
		*text_r = "Message refused: bare CR in message data";
		return 550;
	case SMTP_DATA_NUL:
		*enhanced_r = "5.6.0";
		*text_r = "Message refused: NUL in message data";
		return 550;
	case SMTP_DATA_HEADER_TOO_BIG:
		*enhanced_r = "5.3.4";
		*text_r = "Message header too big";
		return 552;
	case SMTP_DATA_TOO_BIG:
		*enhanced_r = "5.3.4";
		*text_r = "Message size exceeds fixed maximum message size";
		return 552;
	case SMTP_DATA_SINK_FAILED:
		break;
	}
	*enhanced_r = "4.3.0";
	*text_r = "Error: cannot store the message";
	return 451;
}

int
smtp_data_sink_buf(void *ctx, const char *data, size_t len)
{
	return buf_add(ctx, data, len);
}
