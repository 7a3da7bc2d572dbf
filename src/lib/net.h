/* net.h - sockets: binding listeners and naming peers. */
#ifndef POSTERN_NET_H
#define POSTERN_NET_H

#include "lib/common.h"

#include <sys/socket.h>

/* Bind and listen on a numeric host ("*" not allowed here: the caller
 * expands it) and port. The socket is non-blocking and close-on-exec,
 * with SO_REUSEADDR; an IPv6 socket is IPV6_V6ONLY. Returns the fd, or -1
 * with errno set. */
int net_listen(const char *host, uint16_t port, int backlog);

/* Write the numeric address of sa into ip[size] (no brackets) and its port
 * into *port_r. An IPv4-mapped IPv6 address is shown as IPv4. Returns -1 for
 * an unknown family. */
int net_addr_str(const struct sockaddr *sa, char *ip, size_t size, uint16_t *port_r);

/* The raw address bytes of sa (4 or 16), for hashing; IPv4-mapped IPv6
 * addresses give their 4 IPv4 bytes. Returns the length or 0. */
size_t net_addr_bytes(const struct sockaddr *sa, uint8_t out[16]);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
bool net_is_loopback(const struct sockaddr *sa);

#endif
