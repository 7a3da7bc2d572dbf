/* spool_cache.c - the ENVELOPE/BODYSTRUCTURE cache of a finished spool
 * (store.h), built where the message is written (SMTP delivery, IMAP
 * APPEND) so that FETCH never parses the message for it. */
#include "lib/common.h"

#include "lib/buf.h"
#include "mime/bodystructure.h"
#include "store/store.h"

void
store_spool_cache(struct store_spool *spool)
{
	struct store_content c = {
	    .fd = store_spool_fd(spool),
	    .disk_size = store_spool_disk_size(spool),
	    .crlf_size = store_spool_crlf_size(spool),
	};
	struct buf msg, cache;
	const char *error;

	if (c.crlf_size > STORE_SPOOL_CACHE_MAX)
		return;
	buf_init(&msg, (size_t)c.crlf_size);
	buf_init(&cache, BUF_UNLIMITED);
	if (store_content_to_buf(&c, &msg, &error) == 0 &&
	    mime_cache_build(buf_cstr(&msg), msg.len, &cache) == 0)
		store_spool_set_cache(spool, buf_cstr(&cache));
	buf_release(&msg);
	buf_release(&cache);
}
