/* accounts.h - the accounts database: domains, users, aliases, and the two
 * questions the protocols ask of it (where does mail for an address go, and
 * is this password right).
 *
 * Storage: SQLite file DATA_DIR/postern.db (WAL journal, 5 s busy timeout,
 * foreign keys on, synchronous=FULL, secure_delete on). The schema carries a
 * version (table schema_version) and is migrated forward on open, so later
 * features add columns (SCRAM keys, APOP secrets) with a new migration.
 *
 * Names: every address and domain argument may be given in any spelling
 * addr.h accepts; it is canonicalised before use (so "Bob@BÜcher.Example"
 * and "bob@xn--bcher-kva.example" are the same user). Results always carry
 * canonical forms.
 *
 * Errors: functions return 0 (or a documented non-negative value) on
 * success and one of the negative enum accounts_error values on failure,
 * with *error_r set to a one-line message (no trailing period) that stays
 * valid until the next call on the same handle. A failed call changes
 * nothing: every change runs in one transaction.
 *
 * Threads and processes: a handle belongs to one thread. Open a new handle
 * after fork(); never share one across processes. Any number of processes
 * may open the database at once (SQLite locking, WAL readers do not block).
 */
#ifndef POSTERN_ACCOUNTS_H
#define POSTERN_ACCOUNTS_H

#include "lib/common.h"

#include "lib/buf.h"

#define ACCOUNTS_DB_NAME "postern.db"

/* Alias expansion limits (accounts_resolve). */
#define ACCOUNTS_ALIAS_DEPTH_MAX 16    /* nested aliases */
#define ACCOUNTS_ALIAS_FANOUT_MAX 1000 /* distinct final recipients */
#define ACCOUNTS_ALIAS_STEPS_MAX 5000  /* addresses looked at in one expansion */

enum accounts_error {
	ACCOUNTS_ERR_INTERNAL = -1,  /* database or system failure; may be temporary */
	ACCOUNTS_ERR_INVALID = -2,   /* bad address, domain, hash or value */
	ACCOUNTS_ERR_NOT_FOUND = -3, /* no such domain, user or alias */
	ACCOUNTS_ERR_EXISTS = -4,    /* already there */
	ACCOUNTS_ERR_IN_USE = -5,    /* domain still has users or aliases */
};

struct accounts;

/* Open DATA_DIR/postern.db, creating it (mode 0600; when run as root, owned
 * by the owner of data_dir) inside an existing data_dir, and migrate its
 * schema. Fails with ACCOUNTS_ERR_NOT_FOUND when data_dir does not exist and
 * ACCOUNTS_ERR_INTERNAL otherwise (not a directory, unreadable, newer schema
 * than this program knows, ...). On failure *error_r is valid until the
 * next accounts_open() in this thread. */
int accounts_open(const char *data_dir, struct accounts **db_r, const char **error_r);
/* Close and set *db to NULL; NULL is fine. */
void accounts_close(struct accounts **db);
/* The schema version this program creates and understands. */
int accounts_schema_version(void);

/* ---- domains ---- */

int accounts_domain_add(struct accounts *db, const char *domain, const char **error_r);
/* Without force, fails with ACCOUNTS_ERR_IN_USE while the domain has users
 * or aliases (by source). With force, deletes those too. The number of
 * users and alias rows deleted are stored in *users_r / *aliases_r (either
 * may be NULL). Mail stores on disk are not touched. */
int accounts_domain_del(struct accounts *db, const char *domain, bool force, unsigned *users_r,
			unsigned *aliases_r, const char **error_r);
/* 1 when domain is a local domain, 0 when not (including syntactically
 * invalid names), <0 on database failure. */
int accounts_domain_exists(struct accounts *db, const char *domain, const char **error_r);
/* Call cb for each domain in byte order of the canonical name. A non-zero
 * return from cb stops the walk and is returned. cb must not call into db. */
typedef int accounts_domain_cb(const char *domain, void *ctx);
int accounts_domain_list(struct accounts *db, accounts_domain_cb *cb, void *ctx,
			 const char **error_r);

/* ---- users ---- */

struct accounts_user {
	int64_t id;
	char *address;	/* canonical */
	char *domain;	/* canonical */
	char *password; /* stored hash, "{SCHEME}..." (auth/password.h) */
	uint64_t quota; /* bytes; 0 = no quota */
	bool enabled;
	int64_t created; /* Unix time */
};
/* Free the strings of a user filled by accounts_user_get/authenticate and
 * zero it. */
void accounts_user_clear(struct accounts_user *user);

/* Append the canonical form of a user address to out, checking the rules
 * for user names below (ACCOUNTS_ERR_INVALID otherwise). Nothing is looked
 * up: use it to refuse a bad name before asking for a password. */
int accounts_user_canon(struct accounts *db, const char *address, struct buf *out,
			const char **error_r);

/* Add a user. password_hash is a stored hash: password_hash() output for a
 * new password, or anything password_import() accepts (it is validated and
 * normalised here again). The domain must exist. The local part may not be
 * quoted and may not contain '/' or the tag separator '+'. Quota up to
 * INT64_MAX bytes. ACCOUNTS_ERR_EXISTS when the user exists. */
int accounts_user_add(struct accounts *db, const char *address, const char *password_hash,
		      uint64_t quota, bool enabled, const char **error_r);
/* Delete a user. *aliases_left_r (may be NULL) is set to the number of
 * alias rows that still name the address as a target. */
int accounts_user_del(struct accounts *db, const char *address, unsigned *aliases_left_r,
		      const char **error_r);
/* Fill *user_r (caller clears it) or fail with ACCOUNTS_ERR_NOT_FOUND. */
int accounts_user_get(struct accounts *db, const char *address, struct accounts_user *user_r,
		      const char **error_r);
int accounts_user_set_password(struct accounts *db, const char *address, const char *password_hash,
			       const char **error_r);
int accounts_user_set_quota(struct accounts *db, const char *address, uint64_t quota,
			    const char **error_r);
int accounts_user_set_enabled(struct accounts *db, const char *address, bool enabled,
			      const char **error_r);
/* Call cb for each user of domain (NULL: all domains), ordered by domain
 * then address. The user's strings are valid during the call only.
 * ACCOUNTS_ERR_NOT_FOUND when the domain does not exist. A non-zero return
 * from cb stops the walk and is returned. cb must not call into db. */
typedef int accounts_user_cb(const struct accounts_user *user, void *ctx);
int accounts_user_list(struct accounts *db, const char *domain, accounts_user_cb *cb, void *ctx,
		       const char **error_r);

/* ---- aliases ---- */

/* Add source -> target rows, all or nothing. source is an address in a
 * local domain or "@domain" (catch-all for a local domain); targets are
 * addresses, local or external. Duplicate targets in the list count once.
 * Fails with ACCOUNTS_ERR_EXISTS when a row is already there, and with
 * ACCOUNTS_ERR_INVALID when a local target is neither a user nor an alias,
 * or when the new rows would make an expansion loop or exceed the limits. */
int accounts_alias_add(struct accounts *db, const char *source, const char *const *targets,
		       size_t target_count, const char **error_r);
/* Delete one row (target not NULL) or every row of source. Returns the
 * number of rows deleted (> 0) or ACCOUNTS_ERR_NOT_FOUND. */
int accounts_alias_del(struct accounts *db, const char *source, const char *target,
		       const char **error_r);
/* Rows of domain (NULL: all), ordered by source then target. cb rules as
 * for accounts_user_list. */
typedef int accounts_alias_cb(const char *source, const char *target, void *ctx);
int accounts_alias_list(struct accounts *db, const char *domain, accounts_alias_cb *cb, void *ctx,
			const char **error_r);
/* Targets of exactly source (no expansion), ordered. Returns the number of
 * targets (0 when source has no alias) or <0. */
int accounts_alias_lookup(struct accounts *db, const char *source, accounts_alias_cb *cb, void *ctx,
			  const char **error_r);

/* ---- delivery: where does mail for an address go ---- */

struct accounts_local {
	char *address; /* canonical address of a user */
	char *tag;     /* plus-address tag that led here ("user+tag"), or NULL */
};

struct accounts_rcpt {
	struct accounts_local *local; /* users to deliver to, deduplicated */
	size_t local_count;
	char **external; /* addresses in other domains to forward to, deduplicated */
	size_t external_count;
	char **unknown; /* local addresses aliases name that exist no more */
	size_t unknown_count;
};

enum accounts_rcpt_status {
	ACCOUNTS_RCPT_FOUND,	 /* local and/or external filled: accept */
	ACCOUNTS_RCPT_UNKNOWN,	 /* local domain, nobody there: 550 5.1.1 */
	ACCOUNTS_RCPT_NOT_LOCAL, /* not a local domain: relaying decision;
				  * external holds the address */
	ACCOUNTS_RCPT_LOOP,	 /* aliases loop or exceed a limit: 550 5.4.6;
				  * *error_r says which */
	ACCOUNTS_RCPT_INVALID,	 /* not a valid address: 553 5.1.3 */
};

/* Resolve a recipient. Disabled users still receive mail (they only cannot
 * log in). Order for an address in a local domain:
 *   1. an alias with exactly this source: expand each target
 *   2. a user with exactly this address
 *   3. for "user+tag@domain": an alias, then a user, for "user@domain"
 *   4. the catch-all alias "@domain": expand each target
 * Targets expand recursively (depth, fan-out and step limits above). An
 * address met again below itself (an alias that names its own source, e.g.
 * "info -> info, boss") is delivered to the user of that name without
 * further expansion; if there is no such user that is a loop. Local targets
 * that resolve to nobody are listed in unknown (and logged by the caller);
 * when nothing deliverable is left the status is UNKNOWN.
 * Returns a status >= 0 (r filled; caller calls accounts_rcpt_clear) or <0
 * on database failure (a temporary error: 451 4.3.0). */
int accounts_resolve(struct accounts *db, const char *address, struct accounts_rcpt *r,
		     const char **error_r);
void accounts_rcpt_clear(struct accounts_rcpt *r);

/* APOP (RFC 1939 7) needs the secret itself, not a hash of it: it is an
 * explicit per-user opt-in, off by default. secret NULL turns it off. */
int accounts_user_set_apop(struct accounts *db, const char *address, const char *secret,
			   const char **error_r);
/* The APOP secret of an enabled user (canonical address): 1 with it
 * appended to secret_r, 0 when the user has none (or does not exist, or is
 * disabled), <0 on failure. */
int accounts_user_apop(struct accounts *db, const char *address, struct buf *secret_r,
		       const char **error_r);

/* ---- authentication ---- */

/* Check a login. Returns 1 and fills *user_r (caller clears it) when the
 * user exists, is enabled and the password verifies; 0 when not, with
 * *error_r saying why for the log only ("unknown user", "wrong password",
 * "account disabled", "unusable password hash: ..."); <0 on database
 * failure. The address must be the user's own (no aliases, no +tag). An
 * unknown or invalid address costs the same hash verification as a real
 * one, so response time does not reveal which users exist. */
int accounts_authenticate(struct accounts *db, const char *address, const char *password,
			  struct accounts_user *user_r, const char **error_r);

#endif
