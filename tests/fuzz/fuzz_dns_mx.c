/* fuzz_dns_mx.c - libFuzzer target for the MX rdata parser (dns_mx_parse)
 * and the ordering of what it yields (dns_mx_order).
 *
 * Checks memory safety and what dns.h promises: a parsed name is at most
 * 253 characters, lower-case letters, digits, '-', '_' and single dots
 * between non-empty labels; encoding it again gives back the input. The
 * input is also split into records (a length byte, then rdata) whose hosts
 * are ordered: preferences come out non-decreasing and names unique.
 */
#include "lib/common.h"

#include "lib/log.h"
#include "smtp/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *name, const uint8_t *rdata, size_t len, unsigned pref)
{
	uint8_t wire[2 + DNS_NAME_MAX + 2];
	size_t n = strlen(name), pos = 2, label = 0;

	if (n > 253)
		panic("name of %zu characters", n);
	wire[0] = (uint8_t)(pref >> 8);
	wire[1] = (uint8_t)pref;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			if (i - label == 0 && n > 0)
				panic("empty label in '%s'", name);
			wire[pos++] = (uint8_t)(i - label);
			for (size_t k = label; k < i; k++) {
				unsigned char c = (unsigned char)name[k];
				if (!(ascii_is_letdig(c) || c == '-' || c == '_') ||
				    (c >= 'A' && c <= 'Z'))
					panic("bad character in '%s'", name);
				wire[pos++] = (uint8_t)ascii_tolower(c);
			}
			label = i + 1;
		}
	}
	if (n > 0)
		wire[pos++] = 0;
	if (pos != len)
		panic("'%s' re-encodes to %zu bytes, not %zu", name, pos, len);
	for (size_t i = 0; i < len; i++)
		if (wire[i] != (i < 2 ? rdata[i] : (uint8_t)ascii_tolower(rdata[i])))
			panic("'%s' re-encodes differently", name);
}

static uint32_t
next_byte(void *arg)
{
	uint32_t *state = arg;

	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX + 1];
	unsigned pref;

	if (dns_mx_parse(data, size, &pref, name) == 0)
		check_name(name, data, size, pref);

	struct dns_host hosts[16];
	size_t n = 0;
	for (size_t pos = 0; pos < size && n < N_ELEMENTS(hosts);) {
		size_t len = MIN(data[pos], size - pos - 1);
		const uint8_t *rdata = data + pos + 1;
		memset(&hosts[n], 0, sizeof(hosts[n]));
		if (dns_mx_parse(rdata, len, &hosts[n].pref, hosts[n].name) == 0)
			n++;
		pos += 1 + len;
	}
	uint32_t seed = (uint32_t)size;
	size_t kept = dns_mx_order(hosts, n, next_byte, &seed);
	if (kept > n || (n > 0 && kept == 0))
		panic("dns_mx_order kept %zu of %zu", kept, n);
	for (size_t i = 1; i < kept; i++) {
		if (hosts[i].pref < hosts[i - 1].pref)
			panic("preferences out of order");
		for (size_t k = 0; k < i; k++)
			if (strcmp(hosts[i].name, hosts[k].name) == 0)
				panic("duplicate '%s'", hosts[i].name);
	}
	return 0;
}
