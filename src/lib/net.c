/* net.c - binding listeners and naming peers. */
#include "lib/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/xalloc.h"

int
net_listen(const char *host, uint16_t port, int backlog)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int one = 1;

	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static bool
is_v4mapped(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int
net_addr_str(const struct sockaddr *sa, char *ip, size_t size, uint16_t *port_r)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)size) == NULL)
			return -1;
		*port_r = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const void *addr = &sin6->sin6_addr;
		int af = AF_INET6;
		if (is_v4mapped(sa)) {
			addr = sin6->sin6_addr.s6_addr + 12;
			af = AF_INET;
		}
		if (inet_ntop(af, addr, ip, (socklen_t)size) == NULL)
			return -1;
		*port_r = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

size_t
net_addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (is_v4mapped(sa)) {
			memcpy(out, a + 12, 4);
			return 4;
		}
		memcpy(out, a, 16);
		return 16;
	}
	return 0;
}

bool
net_is_loopback(const struct sockaddr *sa)
{
	uint8_t a[16];
	size_t n = net_addr_bytes(sa, a);

	if (n == 4)
		return a[0] == 127;
	if (n == 16)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

int
net_cidr_parse(const char *s, struct net_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		out->prefix = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		out->prefix = 128;
	} else {
		return -1;
	}
	if (slash != NULL) {
		const char *p = slash + 1;
		unsigned v = 0;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (v > out->prefix)
			return -1;
		out->prefix = v;
	}
	/* No host bits past the prefix. */
	for (unsigned bit = out->prefix; bit < (out->family == AF_INET ? 32u : 128u); bit++)
		if ((out->addr[bit / 8] & (0x80 >> (bit % 8))) != 0)
			return -1;
	return 0;
}

int
net_cidr_parse_list(const char *s, struct net_cidr **list_r, size_t *count_r,
		    const char **error_r)
{
	struct net_cidr *list = NULL;
	size_t count = 0;

	while (*s != '\0') {
		char item[INET6_ADDRSTRLEN + 8];
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		size_t n = strcspn(s, " ,\t");
		if (n == 0)
			break;
		if (n >= sizeof(item) || count >= 1024) {
			free(list);
			return (*error_r = "bad or too many address blocks"), -1;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		list = xreallocarray(list, count + 1, sizeof(*list));
		if (net_cidr_parse(item, &list[count]) < 0) {
			free(list);
			return (*error_r = "expected ADDRESS or ADDRESS/BITS with no host bits set"),
			       -1;
		}
		count++;
		s += n;
	}
	*list_r = list;
	*count_r = count;
	return 0;
}

int
net_ip_parse(const char *ip, uint8_t out[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (inet_pton(AF_INET, ip, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, ip, out) != 1)
		return 0;
	if (memcmp(out, mapped, sizeof(mapped)) == 0) {
		memmove(out, out + 12, 4);
		return AF_INET;
	}
	return AF_INET6;
}

bool
net_cidr_match(const struct net_cidr *list, size_t count, const char *ip)
{
	uint8_t a[16];
	int family = net_ip_parse(ip, a);

	if (family == 0)
		return false;
	for (size_t i = 0; i < count; i++) {
		const struct net_cidr *c = &list[i];
		if (c->family != family)
			continue;
		unsigned full = c->prefix / 8, rest = c->prefix % 8;
		if (memcmp(a, c->addr, full) != 0)
			continue;
		if (rest != 0 && ((a[full] ^ c->addr[full]) & (0xff << (8 - rest)) & 0xff) != 0)
			continue;
		return true;
	}
	return false;
}
