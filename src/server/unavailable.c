/* unavailable.c - the "service not available" answer of the services not
 * built yet (HTTP: 503), greeting then closing. */
#include "lib/common.h"

#include "server/conn.h"
#include "server/protocols.h"
#include "server/server.h"

static void
http_unavailable(struct conn *c)
{
	static const char body[] = "Service not available\n";

	conn_printf(c,
		    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    sizeof(body) - 1, body);
	conn_close_after_flush(c);
}

static void
ignore_input(struct conn *c)
{
	struct evbuffer *in = conn_input(c);

	evbuffer_drain(in, evbuffer_get_length(in));
}

const struct protocol proto_http_unavailable = {
	.name = "http",
	.start = http_unavailable,
	.input = ignore_input,
	.refusal_prefix = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
			  "Connection: close\r\n\r\n",
	.refusal_suffix = "\n",
	.goodbye = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		   "Connection: close\r\n\r\nserver shutting down\n",
};
