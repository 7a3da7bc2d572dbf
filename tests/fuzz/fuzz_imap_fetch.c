/* fuzz_imap_fetch.c - FETCH items: a command line through the command
 * parser, then its arguments through imap_fetch_parse (and each argument
 * through imap_fetch_parse_partial). Input: the items, after "T FETCH 1 ". */
#include "lib/common.h"

#include "imap/imap_fetch.h"
#include "imap/imap_parser.h"
#include "lib/buf.h"

static void
check(const struct imap_fetch *f)
{
	for (size_t i = 0; i < f->nsections; i++) {
		const struct imap_fetch_section *s = &f->sections[i];
		bool fields = s->text == MIME_SECTION_HEADER_FIELDS ||
			      s->text == MIME_SECTION_HEADER_FIELDS_NOT;
		if (s->part == NULL || s->reply_name == NULL || fields != (s->nfields > 0))
			abort();
		if (s->kind != IMAP_SECTION_BODY && s->text != MIME_SECTION_ALL)
			abort();
		if (s->text == MIME_SECTION_MIME && s->part[0] == '\0')
			abort();
		/* PARTIAL's RFC822 items keep their own names. */
		if (strncmp(s->reply_name, s->kind == IMAP_SECTION_BODY ? "BODY[" : "BINARY", 5) !=
			0 &&
		    strncmp(s->reply_name, "RFC822", 6) != 0)
			abort();
		if (s->part[0] == '0' || strstr(s->part, ".0") != NULL)
			abort();
		if (!s->peek && s->kind != IMAP_SECTION_BINARY_SIZE && !f->sets_seen)
			abort();
	}
}

static void
try_args(const struct imap_arg *args, size_t count, uint32_t start)
{
	struct imap_fetch f;
	const char *error = NULL;

	if (imap_fetch_parse(args, count, &f, &error) == 0) {
		check(&f);
		if (f.vanished && f.changedsince == 0 && !(f.items & IMAP_FETCH_MODSEQ))
			abort();
		imap_fetch_clear(&f);
	} else if (error == NULL || f.sections != NULL || f.nsections != 0) {
		abort();
	}
	for (size_t i = 0; i < count; i++) {
		error = NULL;
		if (imap_fetch_parse_partial(&args[i], start, 100, &f, &error) == 0) {
			if (f.nsections != 1 || !f.sections[0].partial ||
			    f.sections[0].offset != start - 1)
				abort();
			check(&f);
			imap_fetch_clear(&f);
		} else if (error == NULL || f.sections != NULL) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct buf in;
	size_t off = 0;

	buf_init(&in, BUF_UNLIMITED);
	if (buf_add_str(&in, "T FETCH 1 ") < 0 || buf_add(&in, data, size) < 0 ||
	    buf_add_str(&in, "\r\n") < 0)
		abort();
	while (off < in.len) {
		enum imap_parse_event ev;
		off += imap_parser_feed(p, in.data + off, in.len - off, &ev);
		if (ev == IMAP_PARSE_COMMAND) {
			const struct imap_command *c = imap_parser_command(p);
			if (c->count > 0)
				try_args(c->args + 1, c->count - 1, (uint32_t)(size % 7));
			try_args(c->args, c->count, 1);
		} else if (ev == IMAP_PARSE_LITERAL) {
			uint64_t lsize;
			bool sync;
			const char *tag, *name;
			imap_parser_literal(p, &lsize, &sync, &tag, &name);
			if (lsize < 4096)
				imap_parser_literal_accept(p);
			else
				imap_parser_literal_refuse(p);
		}
	}
	imap_parser_free(&p);
	buf_release(&in);
	return 0;
}
