/* config.h - postern's configuration: embedded defaults, an INI file, and
 * command-line overrides.
 *
 * Every key lives in one table (config.c) with its type, default and help.
 * Keys are "section.key". Sources apply in order: defaults, then the file
 * given with -c, then each -o section.key=value. Unknown keys and bad values
 * are errors that name the key (and the file and line for the file).
 * config_finish() derives what depends on the environment (hostname, listener
 * defaults for root and non-root) and checks cross-key rules.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include "lib/common.h"

#include "lib/log.h"
#include "lib/net.h"

enum service {
	SVC_SMTP,
	SVC_SUBMISSION,
	SVC_SMTPS,
	SVC_IMAP,
	SVC_IMAPS,
	SVC_POP3,
	SVC_POP3S,
	SVC_HTTP,
	SVC_HTTPS,
	SVC_COUNT
};

struct listen_addr {
	char host[64]; /* numeric IPv4 or IPv6 (without brackets), or "*" for all */
	uint16_t port;
};

struct service_config {
	const char *name;            /* section name: "smtp", "imaps", ... */
	bool implicit_tls;           /* smtps, imaps, pop3s, https */
	struct listen_addr *listen;  /* listen_count entries; none = service off */
	size_t listen_count;
	unsigned max_connections;    /* per service, across all workers; 0 = unlimited */
	unsigned max_per_ip;         /* per client address; 0 = unlimited */
	unsigned idle_timeout;       /* seconds */
	bool listen_set;             /* listen given explicitly (else derived) */
};

struct config {
	char *hostname;       /* server.hostname; default: the machine's FQDN */
	char *data_dir;       /* server.data_dir; --data overrides; default ./var */
	char *user;           /* server.user: unprivileged user when started as root */
	unsigned workers;     /* server.workers; 0 = one per core */
	unsigned grace;       /* server.grace: seconds sessions get on shutdown */
	unsigned reload_grace; /* server.reload_grace: how long the workers replaced
				* by a reload keep serving their sessions */
	enum log_level log_level; /* log.level */
	bool log_syslog;      /* log.syslog */
	char *tls_cert;       /* tls.cert; NULL = generated self-signed in data_dir */
	char *tls_key;        /* tls.key */
	unsigned tls_handshake_timeout; /* seconds a client has to finish its TLS handshake */
	struct service_config svc[SVC_COUNT];

	/* [smtpd]: the SMTP server on smtp, submission and smtps */
	uint64_t smtpd_max_message_size; /* bytes, announced in EHLO SIZE */
	unsigned smtpd_max_recipients;   /* per transaction; 452 4.5.3 beyond */
	unsigned smtpd_max_line;         /* command line length (>= 512) */
	unsigned smtpd_max_errors;       /* then 421 and close */
	unsigned smtpd_max_hops;         /* Received: fields; 0: no limit */
	unsigned smtpd_data_timeout;     /* seconds between DATA/BDAT blocks */
	unsigned smtpd_vrfy;             /* SMTPD_DISCLOSE_* */
	unsigned smtpd_expn;
	bool smtpd_bare_lf_normalise;    /* else bare CR/LF in DATA is refused */
	unsigned smtpd_quota_reply;      /* 452 (temporary) or 552 (permanent) */
	unsigned smtpd_delivery_threads; /* deliveries (fsyncs) in progress at once per worker */
	char *smtpd_relay_networks;      /* clients that may relay without AUTH (text) */
	struct net_cidr *relay_nets;     /* ... parsed by config_finish */
	size_t relay_net_count;

	/* [delivery]: the queue runner's outbound SMTP (docs/outbound.md) */
	char *delivery_relayhost;        /* "host:port", "[host]:port" (no MX lookup); NULL = MX routing */
	char *delivery_relayhost_user;   /* AUTH to the relay host; NULL = none */
	char *delivery_relayhost_password;
	unsigned delivery_port;          /* port of exchangers found by MX (25) */
	unsigned delivery_tls;           /* DELIVERY_TLS_*: outbound STARTTLS policy */
	unsigned delivery_concurrency;   /* connections at once, all destinations */
	unsigned delivery_destination_concurrency; /* connections at once per destination */
	unsigned delivery_mx_address_limit; /* addresses tried per attempt; 0 = all */
	unsigned delivery_mx_session_limit; /* answered connections per attempt; 0 = all */
	unsigned delivery_connect_timeout; /* seconds */
	unsigned delivery_retry_min;     /* first retry after this many seconds ... */
	unsigned delivery_retry_max;     /* ... doubling up to this */
	unsigned delivery_max_lifetime;  /* give up (bounce) after this long in the queue */
	unsigned delivery_delay_warning; /* delay DSN after this long; 0 = never */
	uint64_t delivery_bounce_size_limit; /* larger originals come back as headers only */
	bool delivery_ipv6;              /* connect to IPv6 addresses too */
	unsigned delivery_scan_interval; /* full queue scan at least this often */

	/* [dns] */
	char *dns_resolver;              /* "IP" or "IP@PORT", comma-separated; NULL = system */
	char *dns_trust_anchor;          /* DNSSEC root key file; NULL = no validation */

	/* [auth] */
	unsigned auth_threads;           /* password hashes verified at once */
	unsigned auth_cache_ttl;         /* seconds a successful login is cached */
	unsigned auth_failure_delay;     /* milliseconds before a failure is told */
	unsigned auth_max_failures;      /* per address and window, then refused */
	unsigned auth_failure_window;    /* seconds */
	bool auth_allow_plaintext_loopback; /* plaintext passwords from loopback without TLS */

	char error[512];      /* last error message (see error_r below) */
};

/* smtpd.vrfy and smtpd.expn: who may learn whether an address exists. */
enum smtpd_disclose {
	SMTPD_DISCLOSE_OFF,  /* VRFY 252, EXPN 502, identical for every address */
	SMTPD_DISCLOSE_AUTH, /* real answers for authenticated users */
	SMTPD_DISCLOSE_ALL,  /* real answers for everyone (discloses users) */
};

/* delivery.tls: STARTTLS to the next hop. */
enum delivery_tls {
	DELIVERY_TLS_NONE,    /* never */
	DELIVERY_TLS_MAY,     /* when offered, without certificate checks (RFC 7435) */
	DELIVERY_TLS_ENCRYPT, /* required, without certificate checks */
	DELIVERY_TLS_VERIFY,  /* required, certificate verified against the system CAs */
};

/* The section name of a service ("smtp", "imaps", ...). */
const char *config_service_name(enum service svc);

/* A configuration holding the embedded defaults. */
struct config *config_new(void);
void config_free(struct config **cfg);

/* Set one key from its text form. name is "section.key". On error returns -1
 * and *error_r names the key and says what is wrong; the message stays valid
 * until the next call on cfg or config_free. */
int config_set(struct config *cfg, const char *name, const char *value, const char **error_r);
/* Apply "section.key=value" (the -o form). */
int config_set_override(struct config *cfg, const char *assignment, const char **error_r);
/* Parse INI text (pure: no I/O); name prefixes error messages. */
int config_load_buffer(struct config *cfg, const char *name, const char *data, size_t len,
		       const char **error_r);
/* Read an INI file (at most 1 MiB): "[section]" lines, "key = value" lines, '#' or ';'
 * comments, blank lines. Errors carry "FILE:LINE: ". */
int config_load_file(struct config *cfg, const char *path, const char **error_r);
/* Derive environment-dependent defaults; euid decides the default ports. */
int config_finish(struct config *cfg, uid_t euid, const char **error_r);

/* Print every effective setting as INI that config_load_file accepts. */
void config_print(const struct config *cfg, FILE *out);

/* Parse a listen list ("127.0.0.1:25, [::1]:25, *:25"; "" = none). Pure;
 * used by config_set and exposed for tests. Returns -1 with *error_r set
 * (static string) on bad syntax. */
int config_parse_listen(const char *value, struct listen_addr **addrs_r, size_t *count_r,
			const char **error_r);

#endif
