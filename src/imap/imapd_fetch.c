/* imapd_fetch.c - FETCH, UID FETCH and PARTIAL.
 *
 * Metadata (flags, dates, sizes, MODSEQ) comes from the index rows; ENVELOPE,
 * BODY and BODYSTRUCTURE from the cache kept with each row (built at
 * delivery, or here on first use and stored); sections from the message
 * file, read whole as CRLF and parsed once per message. Output is bounded:
 * the items that carry message content (sections, RFC822...) go out one at
 * a time, and when IMAPD_OUTPUT_HIGH bytes wait to be sent, after any
 * message or any such item, the FETCH stops producing and goes on as the
 * client reads. A session so holds at most about one message (loaded, and
 * one item made of it) beyond the high-water mark, whatever the set and
 * the items asked.
 */
#include "lib/common.h"

#include <errno.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_string.h"
#include "imap/imapd_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/bodystructure.h"
#include "mime/part.h"
#include "mime/section.h"

/* Rows read per store iteration. */
#define FETCH_BATCH 256

/* The message loaded for this response, and its part tree. */
struct loaded {
	struct buf msg;
	bool have, failed;
	struct mime_message tree;
	bool parsed;
	bool shallow_ok;   /* this FETCH needs no part below the message: the
			    * tree holds the message's own header only */
	bool header_ok;	   /* ... nor anything past the message's header */
};

/* A message whose response is open: its content items (RFC822.HEADER,
 * RFC822.TEXT, RFC822, then the sections) are written one at a time. */
struct fetch_msg {
	struct loaded l;
	/* "* n FETCH (" and the items before the content ones, held back
	 * while none of them was written (so that a first content item that
	 * fails leaves no empty response); NULL once sent. */
	struct evbuffer *head;
	bool sp;     /* an item was written: the next one needs a space */
	size_t item; /* the next content item */
};

struct imapd_fetch_job {
	char *tag;
	char what[16]; /* "FETCH", "UID FETCH" */
	struct imap_fetch f;
	uint32_t *uids;
	size_t n, next;	       /* uids[next] is the next message to begin */
	struct fetch_msg *cur; /* the message being written, or NULL */
	uint32_t *seen;	       /* UIDs whose \Seen this FETCH set: FLAGS go along */
	size_t nseen;
	bool gone;	  /* some message vanished meanwhile */
	bool unknown_cte; /* BINARY of an unknown encoding */
};

static void
fetch_msg_free(struct fetch_msg **fmp)
{
	struct fetch_msg *fm = *fmp;

	if (fm == NULL)
		return;
	if (fm->head != NULL)
		evbuffer_free(fm->head);
	if (fm->l.parsed)
		mime_message_clear(&fm->l.tree);
	buf_release(&fm->l.msg);
	free(fm);
	*fmp = NULL;
}

void
imapd_fetch_job_free(struct imapd_fetch_job **jobp)
{
	struct imapd_fetch_job *job = *jobp;

	if (job == NULL)
		return;
	fetch_msg_free(&job->cur);
	imap_fetch_clear(&job->f);
	free(job->tag);
	free(job->uids);
	free(job->seen);
	free(job);
	*jobp = NULL;
}

int
imapd_load_message(struct imapd *s, uint32_t uid, bool header_only, struct buf *out,
		   const char **error_r)
{
	struct store_content content;

	if (store_message_open(s->view->box, uid, &content, error_r) < 0)
		return -1;
	int r = header_only ? store_content_header_to_buf(&content, out, error_r)
			    : store_content_to_buf(&content, out, error_r);
	close(content.fd);
	return r;
}

static void
put_date(struct evbuffer *out, time_t t)
{
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	localtime_r(&t, &tm);
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	evbuffer_add_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"", tm.tm_mday,
			    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
			    sign, off / 60, off % 60);
}

static bool
load(struct imapd *s, uint32_t uid, struct loaded *l)
{
	const char *error;

	if (l->have || l->failed)
		return l->have;
	/* Header fields (what clients fetch to list a mailbox): the file is
	 * read no further than the header's end. */
	if (imapd_load_message(s, uid, l->header_ok, &l->msg, &error) < 0) {
		if (errno != ENOENT)
			conn_log(s->conn, LOG_LVL_ERROR, "%s: message %u: %s", s->address, uid,
				 error);
		l->failed = true;
		return false;
	}
	l->have = true;
	return true;
}

/* The part tree, parsed on first use: only as deep as the FETCH needs
 * (sections of the message itself need its header, not its parts). */
static const struct mime_message *
tree(struct loaded *l)
{
	static const struct mime_part_limits top = {.max_depth = 0, .max_parts = 1};

	if (!l->parsed) {
		mime_message_parse(l->msg.data, l->msg.len, l->shallow_ok ? &top : NULL, &l->tree);
		l->parsed = true;
	}
	return &l->tree;
}

/* A literal of data: for BINARY, ~{n} (literal8) when it holds a NUL;
 * else {n}, which holds no NUL (RFC 9051 4.3): each goes out as 0x80, as
 * Dovecot sends it (the size is the same). */
static void
put_literal(struct evbuffer *out, const char *data, size_t len, bool binary)
{
	bool nul = memchr(data, '\0', len) != NULL;
	struct buf b;

	evbuffer_add_printf(out, "%s{%zu}\r\n", nul && binary ? "~" : "", len);
	if (!nul || binary) {
		evbuffer_add(out, data, len);
		return;
	}
	buf_init(&b, BUF_UNLIMITED);
	if (imap_append_nonul(&b, data, len) < 0)
		panic("imapd: literal");
	evbuffer_add(out, b.data, b.len);
	buf_release(&b);
}

/* The ENVELOPE/BODY/BODYSTRUCTURE text: from the row's cache, else built
 * (and the cache stored; cache holds it for the message's other items). */
static bool
structure(struct imapd *s, const struct store_message *m, struct loaded *l,
	  enum mime_cache_item item, struct buf *cache, const char **p_r, size_t *len_r)
{
	const char *error;

	if (m->cache != NULL && mime_cache_get(m->cache, item, p_r, len_r) == 0)
		return true;
	if (!load(s, m->uid, l))
		return false;
	if (cache->len == 0) {
		if (mime_cache_build(l->msg.data, l->msg.len, cache) < 0)
			return false;
		if (store_message_set_cache(s->view->box, m->uid, buf_cstr(cache), &error) < 0)
			conn_log(s->conn, LOG_LVL_WARNING, "%s: cache %u: %s", s->address, m->uid,
				 error);
	}
	return mime_cache_get(buf_cstr(cache), item, p_r, len_r) == 0;
}

static void
slice(const char **p, size_t *len, const struct imap_fetch_section *sec)
{
	if (!sec->partial)
		return;
	size_t off = sec->offset < *len ? sec->offset : *len;
	size_t n = *len - off;
	if (sec->length != UINT32_MAX && sec->length < n)
		n = sec->length;
	*p += off;
	*len = n;
}

/* The bytes of a BODY section: a piece of the message as loaded when the
 * section is one (the whole message, HEADER, TEXT, a part, MIME: no copy),
 * else (HEADER.FIELDS) the section copied into tmp. */
static void
section_bytes(struct loaded *l, const char *part, enum mime_section_text text,
	      const char *const *fields, size_t nfields, struct buf *tmp, const char **p_r,
	      size_t *len_r)
{
	size_t off, n;

	if (part[0] == '\0' && text == MIME_SECTION_ALL) {
		*p_r = buf_cstr(&l->msg);
		*len_r = l->msg.len;
		return;
	}
	if (mime_section_range(tree(l), part, text, &off, &n) == 0 && off <= l->msg.len &&
	    n <= l->msg.len - off) {
		*p_r = l->msg.data + off;
		*len_r = n;
		return;
	}
	if (mime_section_get(l->msg.data, l->msg.len, tree(l), part, text, fields, nfields, tmp) <
	    0)
		panic("imapd: section");
	*p_r = buf_cstr(tmp);
	*len_r = tmp->len;
}

/* One section item into out; false when the whole FETCH must fail
 * (UNKNOWN-CTE), out then unchanged. */
static bool
put_section(struct evbuffer *out, const struct imap_fetch_section *sec, struct loaded *l)
{
	struct buf b;
	const char *p;
	size_t len;

	buf_init(&b, BUF_UNLIMITED);
	if (sec->kind == IMAP_SECTION_BODY) {
		section_bytes(l, sec->part, sec->text, (const char *const *)sec->fields,
			      sec->nfields, &b, &p, &len);
		slice(&p, &len, sec);
		evbuffer_add_printf(out, "%s ", sec->reply_name);
		put_literal(out, p, len, false);
	} else {
		enum mime_binary_result r =
		    mime_binary_get(l->msg.data, l->msg.len, tree(l), sec->part, &b);
		if (r == MIME_BINARY_UNKNOWN_CTE) {
			buf_release(&b);
			return false;
		}
		if (r == MIME_BINARY_FULL)
			panic("imapd: binary");
		p = buf_cstr(&b), len = b.len;
		if (sec->kind == IMAP_SECTION_BINARY_SIZE) {
			evbuffer_add_printf(out, "%s %zu", sec->reply_name, len);
		} else {
			/* MIME_BINARY_NO_PART: an empty string, as for BODY[]. */
			slice(&p, &len, sec);
			evbuffer_add_printf(out, "%s ", sec->reply_name);
			put_literal(out, p, len, true);
		}
	}
	buf_release(&b);
	return true;
}

static bool
in_list(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x;
}

/* The content items before the sections, in the order they are answered:
 * BODY[HEADER], BODY[TEXT] and BODY[] under other names. */
static const struct {
	unsigned item;
	enum mime_section_text text;
	const char *name;
} rfc822_items[] = {
    {IMAP_FETCH_RFC822_HEADER, MIME_SECTION_HEADER, "RFC822.HEADER"},
    {IMAP_FETCH_RFC822_TEXT, MIME_SECTION_TEXT, "RFC822.TEXT"},
    {IMAP_FETCH_RFC822, MIME_SECTION_ALL, "RFC822"},
};

static size_t
content_count(const struct imap_fetch *f)
{
	return N_ELEMENTS(rfc822_items) + f->nsections;
}

/* Open the response of a message: "* seq FETCH (" and the items that come
 * from the index and the cache, and the message loaded when content items
 * follow. false when the message is skipped (it could not be read). */
static bool
fetch_begin(struct imapd *s, struct imapd_fetch_job *job, uint32_t seq,
	    const struct store_message *m)
{
	const struct imap_fetch *f = &job->f;
	struct fetch_msg *fm = xcalloc(1, sizeof(*fm));
	struct loaded *l = &fm->l;
	struct evbuffer *out = evbuffer_new();
	struct buf cache;
	const char *p;
	size_t len;
	bool ok = true, content = false;

	fm->head = out;
	buf_init(&l->msg, BUF_UNLIMITED);
	l->shallow_ok = true;
	for (size_t i = 0; i < f->nsections; i++)
		if (f->sections[i].part[0] != '\0' || f->sections[i].kind != IMAP_SECTION_BODY)
			l->shallow_ok = false;
	/* Only header sections of the message itself: its header is enough.
	 * (Not with a structure item, which may be built from what is loaded
	 * and stored as the message's cache.) */
	l->header_ok = l->shallow_ok && !(f->items & (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY |
						      IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_RFC822 |
						      IMAP_FETCH_RFC822_TEXT));
	for (size_t i = 0; i < f->nsections && l->header_ok; i++)
		if (f->sections[i].text != MIME_SECTION_HEADER &&
		    f->sections[i].text != MIME_SECTION_HEADER_FIELDS &&
		    f->sections[i].text != MIME_SECTION_HEADER_FIELDS_NOT)
			l->header_ok = false;
	buf_init(&cache, BUF_UNLIMITED);
	evbuffer_add_printf(out, "* %u FETCH (", seq);
#define SEP() (fm->sp ? evbuffer_add(out, " ", 1) : (fm->sp = true, 0))
	if (f->items & IMAP_FETCH_UID) {
		SEP();
		evbuffer_add_printf(out, "UID %u", m->uid);
	}
	if ((f->items & IMAP_FETCH_FLAGS) || in_list(job->seen, job->nseen, m->uid)) {
		SEP();
		evbuffer_add(out, "FLAGS ", 6);
		imapd_put_flags(out, m->flags, m->keywords);
	}
	if (f->items & IMAP_FETCH_INTERNALDATE) {
		SEP();
		evbuffer_add(out, "INTERNALDATE ", 13);
		put_date(out, m->internal_date);
	}
	if (f->items & IMAP_FETCH_RFC822_SIZE) {
		SEP();
		evbuffer_add_printf(out, "RFC822.SIZE %llu", (unsigned long long)m->crlf_size);
	}
	if ((f->items & IMAP_FETCH_MODSEQ) || f->changedsince > 0) {
		SEP();
		evbuffer_add_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
	}
	if (f->items & IMAP_FETCH_SAVEDATE) {
		SEP();
		evbuffer_add(out, "SAVEDATE ", 9);
		put_date(out, m->internal_date);
	}
	static const struct {
		unsigned item;
		enum mime_cache_item which;
		const char *name;
	} structs[] = {
	    {IMAP_FETCH_ENVELOPE, MIME_CACHE_ENVELOPE, "ENVELOPE "},
	    {IMAP_FETCH_BODY, MIME_CACHE_BODY, "BODY "},
	    {IMAP_FETCH_BODYSTRUCTURE, MIME_CACHE_BODYSTRUCTURE, "BODYSTRUCTURE "},
	};
	for (size_t i = 0; i < N_ELEMENTS(structs) && ok; i++) {
		if (!(f->items & structs[i].item))
			continue;
		if (!structure(s, m, l, structs[i].which, &cache, &p, &len)) {
			ok = false;
			break;
		}
		SEP();
		evbuffer_add(out, structs[i].name, strlen(structs[i].name));
		evbuffer_add(out, p, len);
	}
#undef SEP
	buf_release(&cache);
	for (size_t i = 0; i < N_ELEMENTS(rfc822_items); i++)
		content = content || (f->items & rfc822_items[i].item);
	content = content || f->nsections > 0;
	/* Read now, before anything of the response is sent. */
	if (ok && content && !load(s, m->uid, l))
		ok = false;
	if (!ok) {
		if (l->failed)
			job->gone = true;
		fetch_msg_free(&fm);
		return false;
	}
	if (fm->sp) {
		evbuffer_add_buffer(imapd_out(s), out);
		evbuffer_free(out);
		fm->head = NULL;
	}
	job->cur = fm;
	return true;
}

/* Content item i of the open message into out; false for an UNKNOWN-CTE
 * (out unchanged). Items not asked for add nothing. */
static bool
put_content(struct imapd_fetch_job *job, size_t i, struct evbuffer *out)
{
	const struct imap_fetch *f = &job->f;

	if (i >= N_ELEMENTS(rfc822_items))
		return put_section(out, &f->sections[i - N_ELEMENTS(rfc822_items)], &job->cur->l);
	if (!(f->items & rfc822_items[i].item))
		return true;
	const struct imap_fetch_section sec = {
	    .kind = IMAP_SECTION_BODY,
	    .part = (char *)"",
	    .text = rfc822_items[i].text,
	    .reply_name = (char *)rfc822_items[i].name,
	};
	return put_section(out, &sec, &job->cur->l);
}

/* Write the open message's content items and close its response: true
 * when done with it, false when paused (output full, items left). After
 * an UNKNOWN-CTE the response ends with what was written before it, and
 * the FETCH fails (as Dovecot answers). */
static bool
fetch_items(struct imapd *s, struct imapd_fetch_job *job)
{
	struct fetch_msg *fm = job->cur;
	struct evbuffer *out = imapd_out(s);
	struct evbuffer *piece = evbuffer_new();
	size_t count = content_count(&job->f);

	while (fm->item < count) {
		if (!put_content(job, fm->item++, piece)) {
			job->unknown_cte = true;
			break;
		}
		if (evbuffer_get_length(piece) == 0)
			continue;
		if (fm->head != NULL) {
			evbuffer_add_buffer(out, fm->head);
			evbuffer_free(fm->head);
			fm->head = NULL;
		}
		if (fm->sp)
			evbuffer_add(out, " ", 1);
		fm->sp = true;
		evbuffer_add_buffer(out, piece);
		if (fm->item < count && imapd_output_high(s)) {
			evbuffer_free(piece);
			return false;
		}
	}
	evbuffer_free(piece);
	/* Nothing written (the first content item failed): no response. */
	if (fm->head == NULL)
		evbuffer_add(out, ")\r\n", 3);
	fetch_msg_free(&job->cur);
	return true;
}

/* Produce until done (true) or the output is full (false: paused, after a
 * message or one of its content items; goes on from there). */
static bool
fetch_run(struct imapd *s, struct imapd_fetch_job *job)
{
	const char *error;

	if (job->cur != NULL && !fetch_items(s, job))
		return false;
	while (job->next < job->n && !job->unknown_cte) {
		if (imapd_output_high(s))
			return false;
		struct store_iter *it;
		const struct store_message *m;
		size_t end = job->next + FETCH_BATCH < job->n ? job->next + FETCH_BATCH : job->n;
		if (store_iter_init(s->view->box, job->uids[job->next], job->uids[end - 1],
				    job->f.changedsince, &it, &error) < 0) {
			conn_log(s->conn, LOG_LVL_ERROR, "%s: fetch: %s", s->address, error);
			job->gone = true;
			job->next = end;
			continue;
		}
		int r;
		size_t j = job->next;
		bool paused = false;
		while ((r = store_iter_next(it, &m, &error)) > 0) {
			while (j < end && job->uids[j] < m->uid)
				j++;
			if (j == end)
				break;
			if (job->uids[j] != m->uid)
				continue;
			uint32_t seq = imapd_view_seq(s->view, m->uid);
			if (seq == 0 || !fetch_begin(s, job, seq, m))
				continue;
			paused = !fetch_items(s, job) || imapd_output_high(s);
			if (paused || job->unknown_cte)
				break;
		}
		store_iter_free(&it);
		if (r < 0)
			conn_log(s->conn, LOG_LVL_ERROR, "%s: fetch: %s", s->address, error);
		/* Paused: the message at j is done or open in job->cur. */
		job->next = paused ? j + 1 : end;
		if (paused)
			return false;
	}
	return true;
}

static void
fetch_finish(struct imapd *s)
{
	struct imapd_fetch_job *job = s->job;

	if (job->unknown_cte)
		imapd_tagged(s, job->tag, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
	else if (job->gone)
		imapd_tagged(s, job->tag, "OK",
			     "[EXPUNGEISSUED] %s completed; some messages were expunged meanwhile",
			     job->what);
	else
		imapd_tagged(s, job->tag, "OK", "%s completed", job->what);
	imapd_fetch_job_free(&s->job);
}

void
imapd_fetch_continue(struct imapd *s)
{
	s->wait = IMAPD_WAIT_NONE;
	if (s->job == NULL)
		return;
	if (!fetch_run(s, s->job)) {
		s->wait = IMAPD_WAIT_OUTPUT;
		return;
	}
	fetch_finish(s);
}

void
imapd_fetch_interrupt(struct imapd *s)
{
	struct fetch_msg *fm = s->job != NULL ? s->job->cur : NULL;

	if (fm != NULL && fm->head == NULL && s->conn->bev != NULL && !s->conn->closing)
		evbuffer_add(imapd_out(s), ")\r\n", 3);
	imapd_fetch_job_free(&s->job);
	if (s->wait == IMAPD_WAIT_OUTPUT)
		s->wait = IMAPD_WAIT_NONE;
}

/* FETCH that sets \Seen: set it first, so the responses show it (and
 * carry FLAGS for the messages it changed). */
static int
fetch_set_seen(struct imapd *s, struct imapd_fetch_job *job, const char **error_r)
{
	struct imapd_view *v = s->view;
	struct store_iter *it;
	const struct store_message *m;
	size_t j = 0;
	int r;

	job->seen = xcalloc(job->n + 1, sizeof(*job->seen));
	if (job->n == 0)
		return 0;
	if (store_iter_init(v->box, job->uids[0], job->uids[job->n - 1], 0, &it, error_r) < 0)
		return -1;
	while ((r = store_iter_next(it, &m, error_r)) > 0) {
		while (j < job->n && job->uids[j] < m->uid)
			j++;
		if (j == job->n)
			break;
		if (job->uids[j] == m->uid && !(m->flags & STORE_FLAG_SEEN))
			job->seen[job->nseen++] = m->uid;
	}
	store_iter_free(&it);
	if (r < 0)
		return -1;
	if (job->nseen == 0)
		return 0;
	uint64_t before = v->modseq;
	if (store_flags_update(v->box, job->seen, job->nseen, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
			       NULL, 0, NULL, NULL, error_r) < 0)
		return -1;
	imapd_view_own_change(s, before);
	return 0;
}

static void
fetch_start(struct imapd *s, const char *tag, struct imapd_fetch_job *job)
{
	const char *error;

	job->tag = xstrdup(tag);
	if (job->f.sets_seen && !s->view->readonly && fetch_set_seen(s, job, &error) < 0) {
		imapd_store_failed(s, tag, job->what, error);
		imapd_fetch_job_free(&job);
		return;
	}
	s->job = job;
	imapd_fetch_continue(s);
}

void
imapd_cmd_fetch(struct imapd *s, const struct imap_command *cmd, bool uid)
{
	struct imapd_fetch_job *job;
	const char *error;

	if (cmd->count < 2) {
		imapd_bad(s, cmd->tag, "Usage: %sFETCH set items", uid ? "UID " : "");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	str_copy(job->what, sizeof(job->what), uid ? "UID FETCH" : "FETCH");
	if (imap_fetch_parse(&cmd->args[1], cmd->count - 1, &job->f, &error) < 0) {
		imapd_bad(s, cmd->tag, "%s", error);
		imapd_fetch_job_free(&job);
		return;
	}
	if (job->f.vanished && (!uid || !s->qresync || job->f.changedsince == 0)) {
		imapd_bad(s, cmd->tag, "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE");
		imapd_fetch_job_free(&job);
		return;
	}
	if (imapd_view_set(s, cmd->tag, &cmd->args[0], uid, &job->uids, &job->n) < 0) {
		imapd_fetch_job_free(&job);
		return;
	}
	if (uid)
		job->f.items |= IMAP_FETCH_UID;
	/* RFC 7162 3.1: fetching MODSEQ or CHANGEDSINCE enables CONDSTORE. */
	if ((job->f.items & IMAP_FETCH_MODSEQ) || job->f.changedsince > 0)
		s->condstore = true;
	if (job->f.vanished &&
	    imapd_view_vanished_since(s, job->f.changedsince, &cmd->args[0], &error) < 0) {
		imapd_store_failed(s, cmd->tag, job->what, error);
		imapd_fetch_job_free(&job);
		return;
	}
	fetch_start(s, cmd->tag, job);
}

/* PARTIAL msg item start length (RFC 1730 6.4.6), answered as
 * BODY[...]<start> with the sequence number. */
void
imapd_cmd_partial(struct imapd *s, const struct imap_command *cmd)
{
	struct imapd_fetch_job *job;
	uint32_t start, length;
	const char *error;

	if (cmd->count != 4 || !imap_arg_number(&cmd->args[2], &start) ||
	    !imap_arg_number(&cmd->args[3], &length)) {
		imapd_bad(s, cmd->tag, "Usage: PARTIAL message item start length");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	str_copy(job->what, sizeof(job->what), "PARTIAL");
	if (imap_fetch_parse_partial(&cmd->args[1], start, length, &job->f, &error) < 0) {
		imapd_bad(s, cmd->tag, "%s", error);
		imapd_fetch_job_free(&job);
		return;
	}
	if (imapd_view_set(s, cmd->tag, &cmd->args[0], false, &job->uids, &job->n) < 0) {
		imapd_fetch_job_free(&job);
		return;
	}
	fetch_start(s, cmd->tag, job);
}
