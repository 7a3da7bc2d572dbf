/* config.c - the key table, value parsers, INI reader and printer. */
#include "lib/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netdb.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/xalloc.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)

enum key_type {
	KEY_STRING,
	KEY_UINT,
	KEY_DURATION,
	KEY_BOOL,
	KEY_LOGLEVEL,
	KEY_SIZE,      /* uint64_t bytes: "50M", "2G", "1024" */
	KEY_DISCLOSE,  /* enum smtpd_disclose: off, auth, all */
	KEY_REPLYCODE, /* 452 or 552 */
	KEY_TLSLEVEL,  /* enum delivery_tls: none, may, encrypt, verify */
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def; /* NULL: unset, derived or empty */
	const char *help;
};

static const struct key_def global_keys[] = {
	{"server.hostname", KEY_STRING, offsetof(struct config, hostname), NULL,
	 "name in greetings and Received headers (default: this machine's FQDN)"},
	{"server.data_dir", KEY_STRING, offsetof(struct config, data_dir), "./var",
	 "data directory: accounts, mail, queue, certificates"},
	{"server.user", KEY_STRING, offsetof(struct config, user), "postern",
	 "unprivileged user the services run as when started as root"},
	{"server.workers", KEY_UINT, offsetof(struct config, workers), "0",
	 "worker processes (0 = one per core)"},
	{"server.grace", KEY_DURATION, offsetof(struct config, grace), "10s",
	 "time sessions get to finish on shutdown"},
	{"server.reload_grace", KEY_DURATION, offsetof(struct config, reload_grace), "1h",
	 "after a reload, how long old workers keep serving their open sessions"},
	{"log.level", KEY_LOGLEVEL, offsetof(struct config, log_level), "info",
	 "debug, info, notice, warning or error"},
	{"log.syslog", KEY_BOOL, offsetof(struct config, log_syslog), "no",
	 "log to syslog (mail facility) instead of standard error"},
	{"tls.cert", KEY_STRING, offsetof(struct config, tls_cert), NULL,
	 "certificate chain, PEM (default: self-signed, generated in the data directory)"},
	{"tls.key", KEY_STRING, offsetof(struct config, tls_key), NULL, "private key, PEM"},
	{"tls.handshake_timeout", KEY_DURATION, offsetof(struct config, tls_handshake_timeout),
	 "60s", "longest TLS handshake (implicit TLS and STARTTLS), whatever the idle time-out"},
	{"smtpd.max_message_size", KEY_SIZE, offsetof(struct config, smtpd_max_message_size), "50M",
	 "largest message accepted (announced with EHLO SIZE); 552 5.3.4 beyond"},
	{"smtpd.max_recipients", KEY_UINT, offsetof(struct config, smtpd_max_recipients), "1000",
	 "recipients per message; 452 4.5.3 beyond"},
	{"smtpd.max_line", KEY_UINT, offsetof(struct config, smtpd_max_line), "4096",
	 "longest command line (RFC 5321 asks for at least 512); 500 5.5.2 beyond"},
	{"smtpd.max_errors", KEY_UINT, offsetof(struct config, smtpd_max_errors), "20",
	 "errors in one session before it is closed with 421"},
	{"smtpd.max_hops", KEY_UINT, offsetof(struct config, smtpd_max_hops), "50",
	 "Received: fields, ours included, at which a message is taken for a mail loop and "
	 "refused with 554 5.4.6 (0: no limit)"},
	{"smtpd.data_timeout", KEY_DURATION, offsetof(struct config, smtpd_data_timeout), "10m",
	 "longest wait for message data (RFC 5321 4.5.3.2 asks for at least 3 minutes)"},
	{"smtpd.vrfy", KEY_DISCLOSE, offsetof(struct config, smtpd_vrfy), "off",
	 "VRFY answers: off (252 for everyone), auth (authenticated users), all"},
	{"smtpd.expn", KEY_DISCLOSE, offsetof(struct config, smtpd_expn), "off",
	 "EXPN answers: off (502 for everyone), auth (authenticated users), all"},
	{"smtpd.bare_lf", KEY_BOOL, offsetof(struct config, smtpd_bare_lf_normalise), "no",
	 "accept bare LF/CR in message data by normalising it (default: refuse the message)"},
	{"smtpd.quota_reply", KEY_REPLYCODE, offsetof(struct config, smtpd_quota_reply), "452",
	 "reply when a mailbox is over quota: 452 (try later) or 552 (give up)"},
	{"smtpd.delivery_threads", KEY_UINT, offsetof(struct config, smtpd_delivery_threads), "4",
	 "deliveries each worker runs at once (their fsyncs overlap)"},
	{"smtpd.relay_networks", KEY_STRING, offsetof(struct config, smtpd_relay_networks), NULL,
	 "client addresses that may relay without authentication (e.g. 192.0.2.0/24, ::1)"},
	{"delivery.relayhost", KEY_STRING, offsetof(struct config, delivery_relayhost), NULL,
	 "send all outbound mail through this host (HOST:PORT; [HOST]:PORT skips the MX lookup)"},
	{"delivery.relayhost_user", KEY_STRING, offsetof(struct config, delivery_relayhost_user),
	 NULL, "user name for AUTH to the relay host (only over TLS)"},
	{"delivery.relayhost_password", KEY_STRING,
	 offsetof(struct config, delivery_relayhost_password), NULL, "password for AUTH to the relay host"},
	{"delivery.port", KEY_UINT, offsetof(struct config, delivery_port), "25",
	 "port of the mail exchangers found in DNS"},
	{"delivery.tls", KEY_TLSLEVEL, offsetof(struct config, delivery_tls), "may",
	 "STARTTLS to the next hop: none, may (opportunistic), encrypt, verify"},
	{"delivery.concurrency", KEY_UINT, offsetof(struct config, delivery_concurrency), "100",
	 "outbound connections at once"},
	{"delivery.destination_concurrency", KEY_UINT,
	 offsetof(struct config, delivery_destination_concurrency), "20",
	 "outbound connections at once to one destination domain"},
	{"delivery.mx_address_limit", KEY_UINT, offsetof(struct config, delivery_mx_address_limit),
	 "5", "addresses tried for one delivery attempt of a message (0 = every one)"},
	{"delivery.mx_session_limit", KEY_UINT, offsetof(struct config, delivery_mx_session_limit),
	 "2", "SMTP sessions (connections that were answered) for one delivery attempt (0 = no limit)"},
	{"delivery.connect_timeout", KEY_DURATION, offsetof(struct config, delivery_connect_timeout),
	 "30s", "longest wait for a TCP connection to a mail exchanger"},
	{"delivery.retry_min", KEY_DURATION, offsetof(struct config, delivery_retry_min), "5m",
	 "first retry of a deferred recipient after this long (then doubling)"},
	{"delivery.retry_max", KEY_DURATION, offsetof(struct config, delivery_retry_max), "1h",
	 "longest time between two retries"},
	{"delivery.max_lifetime", KEY_DURATION, offsetof(struct config, delivery_max_lifetime), "5d",
	 "give up and bounce after this long in the queue (RFC 5321 4.5.4.1)"},
	{"delivery.delay_warning", KEY_DURATION, offsetof(struct config, delivery_delay_warning),
	 "4h", "tell the sender that a message is delayed after this long (0 = never)"},
	{"delivery.bounce_size_limit", KEY_SIZE,
	 offsetof(struct config, delivery_bounce_size_limit), "50K",
	 "a bounced message larger than this comes back as its header only"},
	{"delivery.ipv6", KEY_BOOL, offsetof(struct config, delivery_ipv6), "yes",
	 "connect to mail exchangers over IPv6 too"},
	{"delivery.scan_interval", KEY_DURATION, offsetof(struct config, delivery_scan_interval),
	 "1m", "look through the whole queue at least this often"},
	{"dns.resolver", KEY_STRING, offsetof(struct config, dns_resolver), NULL,
	 "DNS resolvers to ask (IP or IP@PORT, comma-separated; default: /etc/resolv.conf)"},
	{"dns.trust_anchor", KEY_STRING, offsetof(struct config, dns_trust_anchor), NULL,
	 "DNSSEC root trust anchor file (RFC 5011, writable); unset = no validation"},
	{"auth.threads", KEY_UINT, offsetof(struct config, auth_threads), "1",
	 "password hashes each worker verifies at once (each argon2id needs 64 MiB)"},
	{"auth.cache_ttl", KEY_DURATION, offsetof(struct config, auth_cache_ttl), "1h",
	 "how long a successful login is remembered (0 = never)"},
	{"auth.failure_delay", KEY_UINT, offsetof(struct config, auth_failure_delay), "2000",
	 "milliseconds before a failed login is answered"},
	{"auth.max_failures", KEY_UINT, offsetof(struct config, auth_max_failures), "30",
	 "failed logins from one address within auth.failure_window before its logins are "
	 "refused (0 = never refuse)"},
	{"auth.failure_window", KEY_DURATION, offsetof(struct config, auth_failure_window), "15m",
	 "how long failed logins count against an address, from its first failure"},
	{"auth.plaintext_loopback", KEY_BOOL,
	 offsetof(struct config, auth_allow_plaintext_loopback), "yes",
	 "allow plaintext passwords without TLS from loopback clients"},
};

struct service_def {
	const char *name;
	bool implicit_tls;
	uint16_t root_port, user_port;
	unsigned max_connections, max_per_ip, idle_timeout;
};

static const struct service_def service_defs[SVC_COUNT] = {
	[SVC_SMTP] = {"smtp", false, 25, 2525, 1000, 50, 300},
	[SVC_SUBMISSION] = {"submission", false, 587, 2587, 1000, 50, 300},
	[SVC_SMTPS] = {"smtps", true, 465, 2465, 1000, 50, 300},
	[SVC_IMAP] = {"imap", false, 143, 1143, 50000, 100, 1800},
	[SVC_IMAPS] = {"imaps", true, 993, 1993, 50000, 100, 1800},
	[SVC_POP3] = {"pop3", false, 110, 1110, 1000, 20, 600},
	[SVC_POP3S] = {"pop3s", true, 995, 1995, 1000, 20, 600},
	[SVC_HTTP] = {"http", false, 80, 8080, 1000, 100, 60},
	[SVC_HTTPS] = {"https", true, 443, 8443, 1000, 100, 60},
};

struct service_key {
	const char *key;
	enum key_type type;
	size_t offset;
	const char *help;
};

static const struct service_key service_keys[] = {
	{"max_connections", KEY_UINT, offsetof(struct service_config, max_connections),
	 "connections at once, across workers (0 = unlimited)"},
	{"max_per_ip", KEY_UINT, offsetof(struct service_config, max_per_ip),
	 "connections at once from one client address (0 = unlimited)"},
	{"idle_timeout", KEY_DURATION, offsetof(struct service_config, idle_timeout),
	 "close a session idle this long"},
};

static int
set_error(struct config *cfg, const char **error_r, const char *fmt, ...) ATTR_PRINTF(3, 4);

static int
set_error(struct config *cfg, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap) < 0)
		cfg->error[0] = '\0';
	va_end(ap);
	*error_r = cfg->error;
	return -1;
}

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

/* "90", "90s", "15m", "2h", "5d" -> seconds, at most UINT_MAX. */
static int
parse_duration(const char *s, unsigned *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned long long mult = 1, v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[n - 1] = '\0'; break;
	case 'm': mult = 60; num[n - 1] = '\0'; break;
	case 'h': mult = 3600; num[n - 1] = '\0'; break;
	case 'd': mult = 86400; num[n - 1] = '\0'; break;
	default: break;
	}
	if (parse_uint(num, UINT32_MAX, &v) < 0 || v > UINT32_MAX / mult)
		return -1;
	*out = (unsigned)(v * mult);
	return 0;
}

/* "1024", "64K", "50M", "2G", "1T" -> bytes (powers of 1024). */
static int
parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned long long mult = 1, v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (ascii_tolower((unsigned char)num[n - 1])) {
	case 'k': mult = 1ULL << 10; num[n - 1] = '\0'; break;
	case 'm': mult = 1ULL << 20; num[n - 1] = '\0'; break;
	case 'g': mult = 1ULL << 30; num[n - 1] = '\0'; break;
	case 't': mult = 1ULL << 40; num[n - 1] = '\0'; break;
	default: break;
	}
	if (parse_uint(num, UINT64_MAX, &v) < 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < N_ELEMENTS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = true), 0;
		if (strcasecmp(s, no[i]) == 0)
			return (*out = false), 0;
	}
	return -1;
}

static int
parse_one_listen(const char *item, size_t len, struct listen_addr *a, const char **error_r)
{
	const char *colon, *host = item;
	size_t hostlen;
	char port[8];

	if (len > 0 && item[0] == '[') {
		const char *close = memchr(item, ']', len);
		if (close == NULL || close + 1 >= item + len || close[1] != ':')
			return (*error_r = "IPv6 addresses are written [ADDRESS]:PORT"), -1;
		host = item + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = memrchr(item, ':', len);
		if (colon == NULL)
			return (*error_r = "expected HOST:PORT"), -1;
		hostlen = (size_t)(colon - item);
		if (memchr(item, ':', hostlen) != NULL)
			return (*error_r = "IPv6 addresses are written [ADDRESS]:PORT"), -1;
	}
	size_t portlen = (size_t)(item + len - colon - 1);
	unsigned long long p;
	if (portlen == 0 || portlen >= sizeof(port))
		return (*error_r = "bad port"), -1;
	memcpy(port, colon + 1, portlen);
	port[portlen] = '\0';
	if (parse_uint(port, 65535, &p) < 0 || p == 0)
		return (*error_r = "port must be 1-65535"), -1;
	if (hostlen == 0 || hostlen >= sizeof(a->host))
		return (*error_r = "bad host"), -1;
	memcpy(a->host, host, hostlen);
	a->host[hostlen] = '\0';
	if (strcmp(a->host, "*") != 0) {
		unsigned char bin[16];
		int af = item[0] == '[' ? AF_INET6 : AF_INET;
		if (inet_pton(af, a->host, bin) != 1)
			return (*error_r = af == AF_INET6 ? "bad IPv6 address"
							  : "host must be a numeric IPv4 "
							    "address, [IPv6] or *"), -1;
	}
	a->port = (uint16_t)p;
	return 0;
}

int
config_parse_listen(const char *value, struct listen_addr **addrs_r, size_t *count_r,
		    const char **error_r)
{
	struct listen_addr *addrs = NULL;
	size_t count = 0;
	const char *p = value;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		const char *end = p;
		while (*end != '\0' && *end != ',' && *end != ' ' && *end != '\t')
			end++;
		if (count >= 64) {
			free(addrs);
			return (*error_r = "at most 64 addresses"), -1;
		}
		addrs = xreallocarray(addrs, count + 1, sizeof(*addrs));
		if (parse_one_listen(p, (size_t)(end - p), &addrs[count], error_r) < 0) {
			free(addrs);
			return -1;
		}
		count++;
		p = end;
	}
	*addrs_r = addrs;
	*count_r = count;
	return 0;
}

static int
set_typed(struct config *cfg, void *field, enum key_type type, const char *name,
	  const char *value, const char **error_r)
{
	unsigned long long v;
	int level;

	switch (type) {
	case KEY_STRING: {
		char **s = field;
		free(*s);
		*s = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	case KEY_UINT:
		if (parse_uint(value, UINT32_MAX, &v) < 0)
			return set_error(cfg, error_r, "%s: '%s' is not a whole number", name,
					 value);
		*(unsigned *)field = (unsigned)v;
		return 0;
	case KEY_DURATION:
		if (parse_duration(value, field) < 0)
			return set_error(cfg, error_r,
					 "%s: '%s' is not a duration (e.g. 30s, 5m, 2h, 1d)", name,
					 value);
		return 0;
	case KEY_BOOL:
		if (parse_bool(value, field) < 0)
			return set_error(cfg, error_r, "%s: '%s' is not yes or no", name, value);
		return 0;
	case KEY_SIZE:
		if (parse_size(value, field) < 0)
			return set_error(cfg, error_r, "%s: '%s' is not a size (e.g. 512K, 50M, 2G)",
					 name, value);
		return 0;
	case KEY_DISCLOSE:
		if (strcmp(value, "off") == 0)
			*(unsigned *)field = SMTPD_DISCLOSE_OFF;
		else if (strcmp(value, "auth") == 0)
			*(unsigned *)field = SMTPD_DISCLOSE_AUTH;
		else if (strcmp(value, "all") == 0)
			*(unsigned *)field = SMTPD_DISCLOSE_ALL;
		else
			return set_error(cfg, error_r, "%s: '%s' is not off, auth or all", name,
					 value);
		return 0;
	case KEY_REPLYCODE:
		if (strcmp(value, "452") != 0 && strcmp(value, "552") != 0)
			return set_error(cfg, error_r, "%s: '%s' is not 452 or 552", name, value);
		*(unsigned *)field = (unsigned)atoi(value);
		return 0;
	case KEY_TLSLEVEL: {
		static const char *const levels[] = {"none", "may", "encrypt", "verify"};
		for (unsigned i = 0; i < N_ELEMENTS(levels); i++)
			if (strcmp(value, levels[i]) == 0)
				return (*(unsigned *)field = i), 0;
		return set_error(cfg, error_r, "%s: '%s' is not none, may, encrypt or verify", name,
				 value);
	}
	case KEY_LOGLEVEL:
		if ((level = log_level_parse(value)) < 0)
			return set_error(cfg, error_r,
					 "%s: '%s' is not debug, info, notice, warning or error",
					 name, value);
		*(enum log_level *)field = (enum log_level)level;
		return 0;
	}
	panic("config: bad key type %d", type);
}

static int
set_service_key(struct config *cfg, struct service_config *svc, const char *name,
		const char *key, const char *value, const char **error_r)
{
	if (strcmp(key, "listen") == 0) {
		struct listen_addr *addrs;
		size_t count;
		const char *why;
		if (config_parse_listen(value, &addrs, &count, &why) < 0)
			return set_error(cfg, error_r, "%s: '%s': %s", name, value, why);
		free(svc->listen);
		svc->listen = addrs;
		svc->listen_count = count;
		svc->listen_set = true;
		return 0;
	}
	for (size_t i = 0; i < N_ELEMENTS(service_keys); i++)
		if (strcmp(key, service_keys[i].key) == 0)
			return set_typed(cfg, (char *)svc + service_keys[i].offset,
					 service_keys[i].type, name, value, error_r);
	return set_error(cfg, error_r, "unknown key '%s'", name);
}

int
config_set(struct config *cfg, const char *name, const char *value, const char **error_r)
{
	const char *dot = strchr(name, '.');

	for (size_t i = 0; i < N_ELEMENTS(global_keys); i++)
		if (strcmp(name, global_keys[i].name) == 0)
			return set_typed(cfg, (char *)cfg + global_keys[i].offset,
					 global_keys[i].type, name, value, error_r);
	if (dot != NULL) {
		for (size_t s = 0; s < SVC_COUNT; s++) {
			size_t n = strlen(service_defs[s].name);
			if ((size_t)(dot - name) == n && strncmp(name, service_defs[s].name, n) == 0)
				return set_service_key(cfg, &cfg->svc[s], name, dot + 1, value,
						       error_r);
		}
	}
	return set_error(cfg, error_r, "unknown key '%s'", name);
}

int
config_set_override(struct config *cfg, const char *assignment, const char **error_r)
{
	const char *eq = strchr(assignment, '=');
	char name[128];

	if (eq == NULL)
		return set_error(cfg, error_r, "-o '%s': expected SECTION.KEY=VALUE", assignment);
	size_t n = (size_t)(eq - assignment);
	while (n > 0 && (assignment[n - 1] == ' ' || assignment[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(name))
		return set_error(cfg, error_r, "-o '%s': bad key", assignment);
	memcpy(name, assignment, n);
	name[n] = '\0';
	const char *value = eq + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	return config_set(cfg, name, value, error_r);
}

const char *
config_service_name(enum service svc)
{
	return (size_t)svc < SVC_COUNT ? service_defs[svc].name : "?";
}

struct config *
config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	const char *error;

	for (size_t i = 0; i < N_ELEMENTS(global_keys); i++)
		if (global_keys[i].def != NULL &&
		    config_set(cfg, global_keys[i].name, global_keys[i].def, &error) < 0)
			panic("config default: %s", error);
	for (size_t s = 0; s < SVC_COUNT; s++) {
		const struct service_def *d = &service_defs[s];
		struct service_config *svc = &cfg->svc[s];
		svc->name = d->name;
		svc->implicit_tls = d->implicit_tls;
		svc->max_connections = d->max_connections;
		svc->max_per_ip = d->max_per_ip;
		svc->idle_timeout = d->idle_timeout;
	}
	return cfg;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < N_ELEMENTS(global_keys); i++)
		if (global_keys[i].type == KEY_STRING)
			free(*(char **)((char *)cfg + global_keys[i].offset));
	for (size_t s = 0; s < SVC_COUNT; s++)
		free(cfg->svc[s].listen);
	free(cfg->relay_nets);
	free(cfg);
	*cfgp = NULL;
}

static char *
trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* One "key = value" or "[section]" line; line is NUL-terminated and
 * writable. */
static int
load_line(struct config *cfg, const char *name, unsigned lineno, char *line, char *section,
	  size_t section_size, const char **error_r)
{
	char *p = trim(line);

	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	if (*p == '[') {
		char *close = strchr(p, ']');
		if (close == NULL || close[1] != '\0')
			return set_error(cfg, error_r, "%s:%u: bad section header", name, lineno);
		*close = '\0';
		char *sect = trim(p + 1);
		if (*sect == '\0' || str_copy(section, section_size, sect) < 0)
			return set_error(cfg, error_r, "%s:%u: bad section header", name, lineno);
		return 0;
	}
	char *eq = strchr(p, '=');
	if (section[0] == '\0')
		return set_error(cfg, error_r, "%s:%u: key outside a [section]", name, lineno);
	if (eq == NULL)
		return set_error(cfg, error_r, "%s:%u: expected key = value", name, lineno);
	*eq = '\0';
	char *key = trim(p), *value = trim(eq + 1);
	char full[256];
	if (*key == '\0' || snprintf(full, sizeof(full), "%s.%s", section, key) >= (int)sizeof(full))
		return set_error(cfg, error_r, "%s:%u: bad key", name, lineno);
	const char *why;
	if (config_set(cfg, full, value, &why) < 0) {
		char msg[sizeof(cfg->error)];
		if (str_copy(msg, sizeof(msg), why) < 0)
			msg[0] = '\0';
		return set_error(cfg, error_r, "%s:%u: %s", name, lineno, msg);
	}
	return 0;
}

int
config_load_buffer(struct config *cfg, const char *name, const char *data, size_t len,
		   const char **error_r)
{
	char line[CONFIG_LINE_MAX + 1];
	char section[64] = "";
	unsigned lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		lineno++;
		if (n > CONFIG_LINE_MAX)
			return set_error(cfg, error_r, "%s:%u: line longer than %d bytes", name,
					 lineno, CONFIG_LINE_MAX);
		if (memchr(data + pos, '\0', n) != NULL)
			return set_error(cfg, error_r, "%s:%u: NUL byte", name, lineno);
		memcpy(line, data + pos, n);
		line[n] = '\0';
		if (load_line(cfg, name, lineno, line, section, sizeof(section), error_r) < 0)
			return -1;
		pos += n + (nl != NULL);
	}
	return 0;
}

int
config_load_file(struct config *cfg, const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return set_error(cfg, error_r, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int saved = errno;
		close(fd);
		return set_error(cfg, error_r, "%s: %s", path, strerror(saved));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		int saved = errno;
		close(fd);
		if (!S_ISREG(st.st_mode))
			return set_error(cfg, error_r, "%s: not a regular file", path);
		if (st.st_size > CONFIG_FILE_MAX)
			return set_error(cfg, error_r, "%s: larger than %d bytes", path,
					 CONFIG_FILE_MAX);
		return set_error(cfg, error_r, "%s: %s", path, strerror(saved));
	}
	char *data = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int saved = errno;
	close(fd);
	if (got != (size_t)st.st_size) {
		free(data);
		return set_error(cfg, error_r, "%s: read error: %s", path, strerror(saved));
	}
	int ret = config_load_buffer(cfg, path, data, got, error_r);
	free(data);
	return ret;
}

static char *
default_hostname(void)
{
	char host[256];
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai;

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') == NULL && getaddrinfo(host, NULL, &hints, &ai) == 0) {
		char *canon = ai->ai_canonname != NULL && strchr(ai->ai_canonname, '.') != NULL
				      ? xstrdup(ai->ai_canonname)
				      : NULL;
		freeaddrinfo(ai);
		if (canon != NULL)
			return canon;
	}
	return xstrdup(host);
}

int
config_finish(struct config *cfg, uid_t euid, const char **error_r)
{
	if (cfg->hostname == NULL)
		cfg->hostname = default_hostname();
	for (const char *p = cfg->hostname; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return set_error(cfg, error_r,
					 "server.hostname: '%s' is not a valid host name",
					 cfg->hostname);
	if (cfg->data_dir == NULL)
		return set_error(cfg, error_r, "server.data_dir: must not be empty");
	if (cfg->user == NULL)
		return set_error(cfg, error_r, "server.user: must not be empty");
	if (cfg->smtpd_max_line < 512)
		return set_error(cfg, error_r, "smtpd.max_line: %u is below the 512 octets of "
				 "RFC 5321 4.5.3.1.4", cfg->smtpd_max_line);
	if (cfg->smtpd_max_line > 1024 * 1024)
		return set_error(cfg, error_r, "smtpd.max_line: at most 1M");
	if (cfg->smtpd_data_timeout == 0)
		return set_error(cfg, error_r, "smtpd.data_timeout: must not be 0");
	if (cfg->smtpd_max_recipients == 0)
		return set_error(cfg, error_r, "smtpd.max_recipients: at least 1");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		return set_error(cfg, error_r, "tls.cert and tls.key must be set together");
	if (cfg->delivery_port == 0 || cfg->delivery_port > 65535)
		return set_error(cfg, error_r, "delivery.port: must be 1-65535");
	if ((cfg->delivery_relayhost_user == NULL) != (cfg->delivery_relayhost_password == NULL))
		return set_error(cfg, error_r, "delivery.relayhost_user and "
				 "delivery.relayhost_password must be set together");
	/* Without a relay host they would be offered to every exchanger. */
	if (cfg->delivery_relayhost_user != NULL && cfg->delivery_relayhost == NULL)
		return set_error(cfg, error_r, "delivery.relayhost_user and "
				 "delivery.relayhost_password need delivery.relayhost");
	if (cfg->delivery_concurrency == 0 || cfg->delivery_destination_concurrency == 0)
		return set_error(cfg, error_r, "delivery.concurrency and "
				 "delivery.destination_concurrency: at least 1");
	if (cfg->delivery_retry_min == 0 || cfg->delivery_retry_max < cfg->delivery_retry_min)
		return set_error(cfg, error_r, "delivery.retry_min must be at least 1s and at most "
				 "delivery.retry_max");
	if (cfg->auth_max_failures != 0 && cfg->auth_failure_window == 0)
		return set_error(cfg, error_r, "auth.failure_window: at least 1s when "
				 "auth.max_failures is set");
	free(cfg->relay_nets);
	cfg->relay_nets = NULL;
	cfg->relay_net_count = 0;
	if (cfg->smtpd_relay_networks != NULL &&
	    net_cidr_parse_list(cfg->smtpd_relay_networks, &cfg->relay_nets, &cfg->relay_net_count,
				error_r) < 0)
		return set_error(cfg, error_r, "smtpd.relay_networks: %s", *error_r);
	if (cfg->delivery_scan_interval == 0)
		return set_error(cfg, error_r, "delivery.scan_interval: must not be 0");
	if (cfg->tls_handshake_timeout == 0)
		return set_error(cfg, error_r, "tls.handshake_timeout: must not be 0");
	for (size_t s = 0; s < SVC_COUNT; s++) {
		struct service_config *svc = &cfg->svc[s];
		if (svc->listen_set)
			continue;
		svc->listen = xcalloc(1, sizeof(*svc->listen));
		svc->listen_count = 1;
		str_copy(svc->listen[0].host, sizeof(svc->listen[0].host), "*");
		svc->listen[0].port =
			euid == 0 ? service_defs[s].root_port : service_defs[s].user_port;
	}
	return 0;
}

static void
print_listen(const struct service_config *svc, FILE *out)
{
	fprintf(out, "listen =%s", svc->listen_count ? " " : "");
	for (size_t i = 0; i < svc->listen_count; i++) {
		const struct listen_addr *a = &svc->listen[i];
		bool v6 = strchr(a->host, ':') != NULL;
		fprintf(out, "%s%s%s%s:%u", i ? ", " : "", v6 ? "[" : "", a->host, v6 ? "]" : "",
			a->port);
	}
	fputc('\n', out);
}

static void
print_typed(const void *field, enum key_type type, FILE *out)
{
	switch (type) {
	case KEY_STRING: {
		const char *s = *(char *const *)field;
		fprintf(out, "%s%s\n", s != NULL ? " " : "", s != NULL ? s : "");
		break;
	}
	case KEY_UINT: fprintf(out, " %u\n", *(const unsigned *)field); break;
	case KEY_DURATION: fprintf(out, " %us\n", *(const unsigned *)field); break;
	case KEY_BOOL: fprintf(out, " %s\n", *(const bool *)field ? "yes" : "no"); break;
	case KEY_LOGLEVEL:
		fprintf(out, " %s\n", log_level_name(*(const enum log_level *)field));
		break;
	case KEY_SIZE: {
		uint64_t v = *(const uint64_t *)field;
		static const char units[] = "KMGT";
		int u = -1;
		while (v != 0 && v % 1024 == 0 && u < 3) {
			v /= 1024;
			u++;
		}
		if (u >= 0)
			fprintf(out, " %llu%c\n", (unsigned long long)v, units[u]);
		else
			fprintf(out, " %llu\n", (unsigned long long)v);
		break;
	}
	case KEY_DISCLOSE: {
		static const char *const names[] = {"off", "auth", "all"};
		fprintf(out, " %s\n", names[*(const unsigned *)field % 3]);
		break;
	}
	case KEY_REPLYCODE: fprintf(out, " %u\n", *(const unsigned *)field); break;
	case KEY_TLSLEVEL: {
		static const char *const levels[] = {"none", "may", "encrypt", "verify"};
		fprintf(out, " %s\n", levels[*(const unsigned *)field % 4]);
		break;
	}
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	const char *section = "";

	for (size_t i = 0; i < N_ELEMENTS(global_keys); i++) {
		const struct key_def *k = &global_keys[i];
		const char *dot = strchr(k->name, '.');
		size_t slen = (size_t)(dot - k->name);
		if (strncmp(section, k->name, slen) != 0 || section[slen] != '.') {
			fprintf(out, "%s[%.*s]\n", i ? "\n" : "", (int)slen, k->name);
			section = k->name;
		}
		/* A password is not shown (postern check may be run where others
		 * see the output), only whether it is set: as a comment, so that
		 * the output read back as a configuration does not take the words
		 * for the password. */
		if (k->offset == offsetof(struct config, delivery_relayhost_password) &&
		    cfg->delivery_relayhost_password != NULL) {
			fprintf(out, "# %s\n# %s = (set, not shown)\n", k->help, dot + 1);
			continue;
		}
		fprintf(out, "# %s\n%s =", k->help, dot + 1);
		print_typed((const char *)cfg + k->offset, k->type, out);
	}
	for (size_t s = 0; s < SVC_COUNT; s++) {
		const struct service_config *svc = &cfg->svc[s];
		fprintf(out, "\n[%s]\n", svc->name);
		if (s == 0)
			fprintf(out, "# addresses to listen on: HOST:PORT, [IPV6]:PORT or *:PORT, "
				     "comma-separated; empty = off\n");
		print_listen(svc, out);
		for (size_t i = 0; i < N_ELEMENTS(service_keys); i++) {
			if (s == 0)
				fprintf(out, "# %s\n", service_keys[i].help);
			fprintf(out, "%s =", service_keys[i].key);
			print_typed((const char *)svc + service_keys[i].offset,
				    service_keys[i].type, out);
		}
	}
}
