/* imap_search_private.h - helpers shared by the SEARCH parser and matcher
 * (imap_search_text.c): case folding and dates. Not for other modules.
 */
#ifndef POSTERN_IMAP_SEARCH_PRIVATE_H
#define POSTERN_IMAP_SEARCH_PRIVATE_H

#include "lib/common.h"

#include "lib/buf.h"

/* The simple case folding of code point c (itself when the table has no
 * entry; see imap_search.h for the blocks covered). Never longer in UTF-8
 * than c. */
uint32_t imap_search_fold_cp(uint32_t c);

/* Append src[n] (UTF-8) case-folded to dst; bytes that do not start a
 * well-formed sequence are copied as they are. The output is never longer
 * than the input. Returns 0, or -1 when not all of it fitted under
 * dst->max (what fitted, cut at a character boundary, is appended). */
int imap_search_fold(struct buf *dst, const void *src, size_t n);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t imap_search_days(int year, int month, int day);

/* date-text "1-Feb-1994" or "01-Feb-1994" (month in any case), exactly
 * s[len]. Returns 0 with year, month (1..12), day, or -1. */
int imap_search_date_parse(const char *s, size_t len, int *year_r, int *month_r, int *day_r);

/* The day written in an RFC 5322 Date: value ("[Dow,] d Mon yyyy ...",
 * comments and obsolete 2- and 3-digit years allowed; the zone is not
 * looked at). Returns 0 with the day number, or -1. */
int imap_search_sent_day(const char *s, size_t len, int64_t *day_r);

#endif
