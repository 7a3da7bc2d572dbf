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

/* Parse a numeric address (IPv4, IPv6, or IPv4-mapped IPv6, which gives
 * its IPv4 form) into out: 4 or 16 bytes. Pure. Returns AF_INET, AF_INET6,
 * or 0 when ip is no address. */
int net_ip_parse(const char *ip, uint8_t out[16]);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
bool net_is_loopback(const struct sockaddr *sa);

/* An address block, "192.0.2.0/24", "2001:db8::/32" or a single address. */
struct net_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix; /* bits */
};

/* Parse one block; the address bits past the prefix must be zero. Pure.
 * Returns -1 on bad syntax. */
int net_cidr_parse(const char *s, struct net_cidr *out);
/* Parse a list separated by commas and/or spaces; *list_r is allocated
 * (NULL when empty). Returns -1 with *error_r (static) on a bad entry. */
int net_cidr_parse_list(const char *s, struct net_cidr **list_r, size_t *count_r,
			const char **error_r);
/* True when the numeric address ip (IPv4, IPv6, or IPv4-mapped IPv6)
 * lies in one of the blocks. */
bool net_cidr_match(const struct net_cidr *list, size_t count, const char *ip);

#endif
