/* imap_search_match.c - does one message match a SEARCH program (see
 * imap_search.h).
 *
 * Keys on flags, sizes, dates and numbers look at the store's metadata
 * only. The first key that reads the message loads it; the header, the
 * folded header text (TEXT) and the folded body text (BODY, TEXT) are each
 * built once, when first needed, and freed when the call returns.
 */
#include "lib/common.h"

#include <time.h>

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/qp.h"
#include "mime/charset.h"
#include "mime/header.h"
#include "mime/params.h"
#include "mime/part.h"
#include "mime/rfc2047.h"

/* Bound on each decoded text buffer. */
#define DECODED_MAX (64 * 1024 * 1024)

struct match {
	const struct imap_search_msg *msg;
	int loaded; /* 0: not yet, 1: data/len valid, -1: the message is gone */
	const char *data;
	size_t len;
	size_t cap; /* bound on decoded text */
	bool have_header, have_sent, have_htext, have_btext;
	struct mime_header header;
	int64_t sent_day;
	struct buf htext; /* folded "Name: decoded value\n" of every field */
	struct buf btext; /* folded decoded text parts */
	struct buf scratch, scratch2;
};

static bool
load(struct match *m)
{
	if (m->loaded == 0) {
		m->loaded = -1;
		if (m->msg->load != NULL && m->msg->load(m->msg->ctx, &m->data, &m->len) == 0) {
			m->loaded = 1;
			/* Charset conversion may take a byte to three. */
			m->cap =
			    m->len > (DECODED_MAX - 4096) / 3 ? DECODED_MAX : m->len * 3 + 4096;
			buf_init(&m->htext, m->cap);
			buf_init(&m->btext, m->cap);
			buf_init(&m->scratch, m->cap);
			buf_init(&m->scratch2, m->cap);
		}
	}
	return m->loaded == 1;
}

static const struct mime_header *
header(struct match *m)
{
	if (!m->have_header) {
		(void)mime_header_parse(m->data, m->len, NULL, &m->header);
		m->have_header = true;
	}
	return &m->header;
}

static bool
contains(const struct buf *hay, const struct imap_search_key *key)
{
	return key->str_len == 0 || memmem(buf_cstr(hay), hay->len, key->str, key->str_len) != NULL;
}

/* Append src[n] (UTF-8) folded to dst, as much as fits. */
static void
add_folded(struct buf *dst, const void *src, size_t n)
{
	(void)imap_search_fold(dst, src, n);
}

/* The RFC 2047 decoded, folded value of f into m->scratch2. */
static void
decode_field(struct match *m, const struct mime_header_field *f)
{
	buf_reset(&m->scratch);
	buf_reset(&m->scratch2);
	if (rfc2047_decode(&m->scratch, f->value, f->value_len) < 0)
		return;
	add_folded(&m->scratch2, buf_cstr(&m->scratch), m->scratch.len);
}

static bool
match_header(struct match *m, const struct imap_search_key *key)
{
	const struct mime_header *h = header(m);
	const struct mime_header_field *f;

	for (f = mime_header_find(h, key->field); f != NULL;
	     f = mime_header_find_next(h, f, key->field)) {
		if (key->str_len == 0)
			return true;
		decode_field(m, f);
		if (contains(&m->scratch2, key))
			return true;
	}
	return false;
}

/* Append the folded, decoded fields of h to dst. */
static void
add_fields(struct match *m, struct buf *dst, const struct mime_header *h)
{
	size_t i;

	for (i = 0; i < h->count; i++) {
		const struct mime_header_field *f = &h->fields[i];

		if (f->no_colon)
			continue;
		decode_field(m, f);
		add_folded(dst, f->name, f->name_len);
		add_folded(dst, ": ", 2);
		add_folded(dst, buf_cstr(&m->scratch2), m->scratch2.len);
		add_folded(dst, "\n", 1);
	}
}

/* Decode a leaf part's body (transfer encoding, then charset) and append
 * it folded to m->btext. */
static void
add_part_text(struct match *m, const struct mime_part *part)
{
	const char *body = m->data + part->body_offset;
	const char *charset = mime_content_charset(&part->ct);
	int ret = 0;

	buf_reset(&m->scratch);
	buf_reset(&m->scratch2);
	if (strcmp(part->encoding, "base64") == 0) {
		struct base64_decoder dec;

		base64_decoder_init(&dec);
		ret = base64_decoder_more(&dec, &m->scratch, body, part->body_size);
		if (ret == 0)
			ret = base64_decoder_finish(&dec, &m->scratch) < 0 ? -1 : 0;
	} else if (strcmp(part->encoding, "quoted-printable") == 0) {
		ret = qp_decode(&m->scratch, body, part->body_size, NULL);
	} else {
		ret = buf_add(&m->scratch, body, part->body_size);
	}
	if (ret < 0 || mime_charset_to_utf8(&m->scratch2, charset != NULL ? charset : "utf-8",
					    buf_cstr(&m->scratch), m->scratch.len) < 0)
		return;
	add_folded(&m->btext, buf_cstr(&m->scratch2), m->scratch2.len);
	add_folded(&m->btext, "\n", 1);
}

/* Text of part into m->btext: text and message leaves, the headers of
 * encapsulated messages, multiparts' children; other types are skipped.
 * Recursion is bounded by the part tree's depth limit. */
static void
add_body_text(struct match *m, const struct mime_part *part, bool with_header)
{
	const struct mime_part *c;

	if (with_header) {
		struct mime_header h;

		(void)mime_header_parse(m->data + part->header_offset, part->header_size, NULL, &h);
		add_fields(m, &m->btext, &h);
		mime_header_clear(&h);
	}
	if ((part->flags & MIME_PART_F_MULTIPART) != 0) {
		for (c = part->children; c != NULL; c = c->next)
			add_body_text(m, c, false);
	} else if ((part->flags & MIME_PART_F_MESSAGE) != 0 && part->children != NULL) {
		add_body_text(m, part->children, true);
	} else if (mime_content_is(&part->ct, "text", NULL) ||
		   mime_content_is(&part->ct, "message", NULL)) {
		add_part_text(m, part);
	}
}

static bool
match_body(struct match *m, const struct imap_search_key *key)
{
	if (!m->have_btext) {
		struct mime_message mm;

		(void)mime_message_parse(m->data, m->len, NULL, &mm);
		add_body_text(m, mm.root, false);
		mime_message_clear(&mm);
		m->have_btext = true;
	}
	return contains(&m->btext, key);
}

static bool
match_text(struct match *m, const struct imap_search_key *key)
{
	if (!m->have_htext) {
		add_fields(m, &m->htext, header(m));
		m->have_htext = true;
	}
	return contains(&m->htext, key) || match_body(m, key);
}

static int64_t
local_day(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return INT64_MIN;
	return imap_search_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The Date: header's day, else the internal date's local day. */
static int64_t
sent_day(struct match *m)
{
	if (!m->have_sent) {
		const struct mime_header_field *f = mime_header_find(header(m), "Date");

		if (f == NULL || imap_search_sent_day(f->value, f->value_len, &m->sent_day) < 0)
			m->sent_day = local_day(m->msg->meta->internal_date);
		m->have_sent = true;
	}
	return m->sent_day;
}

/* keywords: space-separated (the store's form). */
static bool
has_keyword(const char *keywords, const char *kw)
{
	const char *p = keywords != NULL ? keywords : "", *end;

	while (*p != '\0') {
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		if (ascii_ci_equal(p, (size_t)(end - p), kw))
			return true;
		p = *end == ' ' ? end + 1 : end;
	}
	return false;
}

static bool match_key(struct match *m, const struct imap_search_key *key);

static bool
match_content(struct match *m, const struct imap_search_key *key)
{
	if (!load(m))
		return false;
	switch (key->op) {
	case IMAP_SK_HEADER:
		return match_header(m, key);
	case IMAP_SK_BODY:
		return match_body(m, key);
	case IMAP_SK_TEXT:
		return match_text(m, key);
	case IMAP_SK_SENTBEFORE:
		return sent_day(m) < key->day;
	case IMAP_SK_SENTON:
		return sent_day(m) == key->day;
	case IMAP_SK_SENTSINCE:
		return sent_day(m) >= key->day;
	default:
		return false;
	}
}

static bool
match_key(struct match *m, const struct imap_search_key *key)
{
	const struct store_message *meta = m->msg->meta;
	int64_t age = (int64_t)m->msg->now - (int64_t)meta->internal_date;
	size_t i;

	switch (key->op) {
	case IMAP_SK_ALL:
	case IMAP_SK_OLD:
		return true;
	case IMAP_SK_AND:
		for (i = 0; i < key->nchildren; i++) {
			if (!match_key(m, &key->children[i]))
				return false;
		}
		return true;
	case IMAP_SK_OR:
		return match_key(m, &key->children[0]) || match_key(m, &key->children[1]);
	case IMAP_SK_NOT:
		return !match_key(m, &key->children[0]);
	case IMAP_SK_SEQSET:
		return imap_seqset_contains(&key->set, m->msg->seq);
	case IMAP_SK_UIDSET:
		return imap_seqset_contains(&key->set, meta->uid);
	case IMAP_SK_FLAGS_SET:
		return (meta->flags & key->flags) == key->flags;
	case IMAP_SK_FLAGS_CLEAR:
		return (meta->flags & key->flags) == 0;
	case IMAP_SK_KEYWORD:
		return has_keyword(meta->keywords, key->str);
	case IMAP_SK_UNKEYWORD:
		return !has_keyword(meta->keywords, key->str);
	case IMAP_SK_NEW:
	case IMAP_SK_RECENT:
		return false;
	case IMAP_SK_BEFORE:
		return meta->internal_date < key->date;
	case IMAP_SK_ON:
		return meta->internal_date >= key->date && meta->internal_date < key->date_end;
	case IMAP_SK_SINCE:
		return meta->internal_date >= key->date;
	case IMAP_SK_OLDER:
		return age > (int64_t)key->number;
	case IMAP_SK_YOUNGER:
		return age <= (int64_t)key->number;
	case IMAP_SK_LARGER:
		return meta->crlf_size > key->number;
	case IMAP_SK_SMALLER:
		return meta->crlf_size < key->number;
	case IMAP_SK_MODSEQ:
		return meta->modseq >= key->number;
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		return match_content(m, key);
	}
	return false;
}

int
imap_search_match(const struct imap_search_program *prog, const struct imap_search_msg *msg)
{
	struct match m = {.msg = msg};
	bool ok = match_key(&m, &prog->root);

	if (m.have_header)
		mime_header_clear(&m.header);
	if (m.loaded == 1) {
		buf_release(&m.htext);
		buf_release(&m.btext);
		buf_release(&m.scratch);
		buf_release(&m.scratch2);
	}
	/* A message that vanished matches nothing, NOT included. */
	return ok && m.loaded != -1 ? 1 : 0;
}
