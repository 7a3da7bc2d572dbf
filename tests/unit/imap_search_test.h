/* imap_search_test.h - a message for imap_search_match's load callback,
 * shared by the unit test and the fuzz target: counts the loads and can
 * play a message that vanished; and a sample message to search. */
#ifndef POSTERN_TEST_IMAP_SEARCH_H
#define POSTERN_TEST_IMAP_SEARCH_H

#include "lib/common.h"

/* Russian, Vietnamese and Polish encoded words; KOI8-R base64 and
 * ISO-8859-1 quoted-printable text parts; an attachment; a message/rfc822
 * part. */
static const char test_search_sample[] =
    "Date: Tue, 1 Feb 1994 23:59:00 -1200\r\n"
    "From: =?koi8-r?B?8NLJ18XUIM3J0g==?= <ivan@example.ru>\r\n"
    "To: Nguyen <nguyen@example.vn>, \"Jan Kowalski\" <jan@example.pl>\r\n"
    "Cc: team@example.org\r\n"
    "Subject: =?koi8-r?B?8NLJ18XUIM3J0g==?= /\r\n"
    " =?utf-8?B?VGnhur9uZyBWaeG7h3QgY8OzIGThuqV1?= /\r\n"
    " =?iso-8859-2?Q?Za=BF=F3=B3=E6_g=EA=B6l=B1_ja=BC=F1?=\r\n"
    "X-Empty:\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble zebrafish\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=koi8-r\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "89/F29gg1sUgxd2jINzUycggzdHHy8nIIMbSwc7D1drTy8nIIMLVzM/LCg==\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Le caf=E9 est tr=E8s bon.\r\n"
    "=C0 bient=F4t\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0IGF0dGFjaG1lbnQgd29yZHM6IHplYnJhCg==\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner subject quokka\r\n"
    "\r\n"
    "inner body wombat\r\n"
    "--b1--\r\n";

struct test_msg {
	const char *data;
	size_t len;
	int loads;
	bool gone; /* load fails */
};

static int
test_msg_load(void *ctx, const char **data_r, size_t *len_r)
{
	struct test_msg *f = ctx;

	f->loads++;
	if (f->gone)
		return -1;
	*data_r = f->data;
	*len_r = f->len;
	return 0;
}

#endif
