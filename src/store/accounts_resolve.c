/* accounts_resolve.c - recipient resolution (aliases, users, plus-tags,
 * catch-alls) and password authentication (see accounts.h). */
#include "lib/common.h"

#include "auth/password.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/accounts.h"
#include "store/accounts_int.h"

/* expand() results besides <0 (database failure). */
enum {
	EX_OK = 0,	/* resolved to at least one thing, or aliases ran out */
	EX_UNKNOWN = 1, /* nothing by this name */
	EX_BROKEN = 2,	/* loop or limit; message in the handle's error */
};

struct expand {
	struct accounts *db;
	struct accounts_rcpt *r;
	/* The addresses being expanded, outermost first. */
	const char *path[ACCOUNTS_ALIAS_DEPTH_MAX + 1];
	size_t depth;
	unsigned steps;
	char *cycle; /* first address met again below itself, not a user */
	const char **error_r;
};

static int expand(struct expand *ex, const char *addr);

static bool
on_path(const struct expand *ex, const char *addr)
{
	for (size_t i = 0; i < ex->depth; i++)
		if (strcmp(ex->path[i], addr) == 0)
			return true;
	return false;
}

static int
fanout_check(struct expand *ex)
{
	if (ex->r->local_count + ex->r->external_count < ACCOUNTS_ALIAS_FANOUT_MAX)
		return EX_OK;
	return acc_error(ex->db, EX_BROKEN, ex->error_r,
			 "aliases expand to more than %d recipients", ACCOUNTS_ALIAS_FANOUT_MAX);
}

static int
add_local(struct expand *ex, const char *addr, const char *tag)
{
	struct accounts_rcpt *r = ex->r;

	for (size_t i = 0; i < r->local_count; i++)
		if (strcmp(r->local[i].address, addr) == 0)
			return EX_OK;
	if (fanout_check(ex) != EX_OK)
		return EX_BROKEN;
	r->local = xreallocarray(r->local, r->local_count + 1, sizeof(*r->local));
	r->local[r->local_count].address = xstrdup(addr);
	r->local[r->local_count].tag = tag != NULL ? xstrdup(tag) : NULL;
	r->local_count++;
	return EX_OK;
}

/* Append addr to a deduplicated string list. */
static void
strv_add(char ***v, size_t *count, const char *addr)
{
	for (size_t i = 0; i < *count; i++)
		if (strcmp((*v)[i], addr) == 0)
			return;
	*v = xreallocarray(*v, *count + 1, sizeof(**v));
	(*v)[(*count)++] = xstrdup(addr);
}

static int
add_external(struct expand *ex, const char *addr)
{
	for (size_t i = 0; i < ex->r->external_count; i++)
		if (strcmp(ex->r->external[i], addr) == 0)
			return EX_OK;
	if (fanout_check(ex) != EX_OK)
		return EX_BROKEN;
	strv_add(&ex->r->external, &ex->r->external_count, addr);
	return EX_OK;
}

/* addr is being expanded already, further up. If a user has that name,
 * deliver to it (the "info -> info, boss" idiom: keep a copy); otherwise
 * the repeat adds nothing and is dropped, but remembered: an expansion
 * that ends with no recipient and a cycle is a loop. */
static int
deliver_self(struct expand *ex, const char *addr)
{
	struct buf base, tag;
	int rc;

	if ((rc = acc_user_exists(ex->db, addr, ex->error_r)) != 0)
		return rc < 0 ? rc : add_local(ex, addr, NULL);
	buf_init(&base, BUF_UNLIMITED);
	buf_init(&tag, BUF_UNLIMITED);
	if (addr_split_tag(addr, ADDR_TAG_SEP, &base, &tag) == 1 &&
	    (rc = acc_user_exists(ex->db, base.data, ex->error_r)) != 0) {
		rc = rc < 0 ? rc : add_local(ex, base.data, tag.data);
	} else {
		if (ex->cycle == NULL)
			ex->cycle = xstrdup(addr);
		rc = EX_OK;
	}
	buf_release(&base);
	buf_release(&tag);
	return rc;
}

/* Expand the alias rows of source on behalf of addr. EX_UNKNOWN when
 * source has none. */
static int
expand_alias(struct expand *ex, const char *addr, const char *source)
{
	char **targets;
	int n =
	    acc_alias_targets(ex->db, source, ACCOUNTS_ALIAS_FANOUT_MAX + 1, &targets, ex->error_r);
	int ret = EX_OK;

	if (n <= 0) {
		acc_strv_free(&targets);
		return n < 0 ? n : EX_UNKNOWN;
	}
	if (n > ACCOUNTS_ALIAS_FANOUT_MAX) {
		acc_strv_free(&targets);
		return acc_error(ex->db, EX_BROKEN, ex->error_r,
				 "alias '%s' has more than %d targets", source,
				 ACCOUNTS_ALIAS_FANOUT_MAX);
	}
	if (ex->depth >= ACCOUNTS_ALIAS_DEPTH_MAX) {
		acc_strv_free(&targets);
		return acc_error(ex->db, EX_BROKEN, ex->error_r,
				 "aliases nest deeper than %d levels at '%s'",
				 ACCOUNTS_ALIAS_DEPTH_MAX, addr);
	}
	ex->path[ex->depth++] = addr;
	for (int i = 0; i < n; i++) {
		int rc = expand(ex, targets[i]);
		if (rc < 0 || rc == EX_BROKEN) {
			ret = rc;
			break;
		}
		if (rc == EX_UNKNOWN)
			strv_add(&ex->r->unknown, &ex->r->unknown_count, targets[i]);
	}
	ex->depth--;
	acc_strv_free(&targets);
	return ret;
}

static int
expand(struct expand *ex, const char *addr)
{
	const char *domain = addr_domain_part(addr);
	struct buf base, tag, catchall;
	int64_t id;
	int rc;

	if (++ex->steps > ACCOUNTS_ALIAS_STEPS_MAX)
		return acc_error(ex->db, EX_BROKEN, ex->error_r,
				 "alias expansion looks at more than %d addresses",
				 ACCOUNTS_ALIAS_STEPS_MAX);
	if (domain == NULL)
		return EX_UNKNOWN;
	if ((rc = acc_domain_id(ex->db, domain, &id, ex->error_r)) <= 0)
		return rc < 0 ? rc : add_external(ex, addr);
	if (on_path(ex, addr))
		return deliver_self(ex, addr);

	/* 1. alias, 2. user */
	if ((rc = expand_alias(ex, addr, addr)) != EX_UNKNOWN)
		return rc;
	if ((rc = acc_user_exists(ex->db, addr, ex->error_r)) != 0)
		return rc < 0 ? rc : add_local(ex, addr, NULL);

	/* 3. the same without the +tag */
	buf_init(&base, BUF_UNLIMITED);
	buf_init(&tag, BUF_UNLIMITED);
	buf_init(&catchall, BUF_UNLIMITED);
	rc = EX_UNKNOWN;
	if (addr_split_tag(addr, ADDR_TAG_SEP, &base, &tag) == 1) {
		if (on_path(ex, base.data)) {
			rc = deliver_self(ex, base.data);
		} else if ((rc = expand_alias(ex, addr, base.data)) == EX_UNKNOWN) {
			int user = acc_user_exists(ex->db, base.data, ex->error_r);
			rc = user < 0	 ? user
			     : user == 0 ? EX_UNKNOWN
					 : add_local(ex, base.data, tag.data);
		}
	}

	/* 4. catch-all */
	if (rc == EX_UNKNOWN) {
		if (buf_printf(&catchall, "@%s", domain) < 0)
			rc = acc_error(ex->db, ACCOUNTS_ERR_INTERNAL, ex->error_r, "out of buffer");
		else
			rc = expand_alias(ex, addr, catchall.data);
	}
	buf_release(&base);
	buf_release(&tag);
	buf_release(&catchall);
	return rc;
}

void
accounts_rcpt_clear(struct accounts_rcpt *r)
{
	for (size_t i = 0; i < r->local_count; i++) {
		free(r->local[i].address);
		free(r->local[i].tag);
	}
	free(r->local);
	for (size_t i = 0; i < r->external_count; i++)
		free(r->external[i]);
	free(r->external);
	for (size_t i = 0; i < r->unknown_count; i++)
		free(r->unknown[i]);
	free(r->unknown);
	memset(r, 0, sizeof(*r));
}

int
acc_resolve_canon(struct accounts *db, const char *address, struct accounts_rcpt *r,
		  const char **error_r)
{
	struct expand ex = {.db = db, .r = r, .error_r = error_r};
	int64_t id;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = acc_domain_id(db, addr_domain_part(address), &id, error_r)) < 0)
		return rc;
	if (rc == 0) {
		strv_add(&r->external, &r->external_count, address);
		return ACCOUNTS_RCPT_NOT_LOCAL;
	}
	rc = expand(&ex, address);
	if (rc >= 0 && rc != EX_BROKEN && r->local_count + r->external_count == 0 &&
	    ex.cycle != NULL)
		rc = acc_error(db, EX_BROKEN, error_r,
			       "alias loop: '%s' leads back to itself and to no mailbox", ex.cycle);
	free(ex.cycle);
	if (rc < 0 || rc == EX_BROKEN) {
		accounts_rcpt_clear(r);
		return rc < 0 ? rc : ACCOUNTS_RCPT_LOOP;
	}
	if (rc == EX_UNKNOWN || r->local_count + r->external_count == 0)
		return ACCOUNTS_RCPT_UNKNOWN;
	return ACCOUNTS_RCPT_FOUND;
}

int
accounts_resolve(struct accounts *db, const char *address, struct accounts_rcpt *r,
		 const char **error_r)
{
	struct buf canon;
	int ret;

	memset(r, 0, sizeof(*r));
	buf_init(&canon, BUF_UNLIMITED);
	if (acc_canon_addr(db, address, "address", &canon, error_r) < 0) {
		buf_release(&canon);
		return ACCOUNTS_RCPT_INVALID;
	}
	/* One read transaction: a consistent snapshot for the whole walk. */
	if ((ret = acc_begin(db, false, error_r)) == 0) {
		ret = acc_resolve_canon(db, canon.data, r, error_r);
		if (ret < 0) {
			acc_rollback(db);
		} else {
			const char *cerr;
			if (acc_commit(db, &cerr) < 0) {
				accounts_rcpt_clear(r);
				*error_r = cerr;
				ret = ACCOUNTS_ERR_INTERNAL;
			}
		}
	}
	buf_release(&canon);
	return ret;
}

int
accounts_authenticate(struct accounts *db, const char *address, const char *password,
		      struct accounts_user *user_r, const char **error_r)
{
	struct accounts_user user;
	const char *why;
	int rc;

	memset(user_r, 0, sizeof(*user_r));
	rc = accounts_user_get(db, address, &user, error_r);
	if (rc == ACCOUNTS_ERR_INTERNAL)
		return rc;
	if (rc < 0) {
		/* Unknown or invalid: spend the same time as a real check. */
		(void)password_verify(password, password_dummy_hash(), &why);
		return acc_error(db, 0, error_r, "%s",
				 rc == ACCOUNTS_ERR_NOT_FOUND ? "unknown user" : "invalid address");
	}
	rc = password_verify(password, user.password, &why);
	if (rc < 0)
		rc = acc_error(db, 0, error_r, "unusable password hash: %s", why);
	else if (rc == 0)
		rc = acc_error(db, 0, error_r, "wrong password");
	else if (!user.enabled)
		rc = acc_error(db, 0, error_r, "account disabled");
	if (rc != 1) {
		accounts_user_clear(&user);
		return 0;
	}
	*user_r = user;
	return 1;
}
