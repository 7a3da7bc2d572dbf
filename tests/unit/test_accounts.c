/* test_accounts.c - the accounts database against temporary directories. */
#include "lib/common.h"

#include <inttypes.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "auth/password.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/accounts.h"

struct fixture {
	char dir[64];
	char *db_path;
	struct accounts *db;
	char *hash;  /* cheap argon2id of "secret" */
	char *hash2; /* cheap argon2id of "other" */
};

static const struct password_cost cheap = {.m_kib = 1024, .t = 1, .p = 1};

static char *
cheap_hash(const char *pw)
{
	struct buf b;
	const char *error;

	buf_init(&b, BUF_UNLIMITED);
	if (password_hash_cost(pw, &cheap, &b, &error) < 0)
		fail_msg("hash: %s", error);
	return buf_steal(&b);
}

static void
remove_tree(const char *dir)
{
	static const char *const names[] = {"postern.db", "postern.db-wal", "postern.db-shm",
					    "postern.db-journal", "file"};
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error;

	str_copy(f->dir, sizeof(f->dir), "/tmp/postern-test-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->db_path = xasprintf("%s/postern.db", f->dir);
	if (accounts_open(f->dir, &f->db, &error) < 0) {
		fprintf(stderr, "open: %s\n", error);
		return -1;
	}
	f->hash = cheap_hash("secret");
	f->hash2 = cheap_hash("other");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	accounts_close(&f->db);
	remove_tree(f->dir);
	free(f->db_path);
	free(f->hash);
	free(f->hash2);
	free(f);
	return 0;
}

/* Run SQL on the database behind the API's back (to build states the API
 * refuses to create, such as alias loops). */
static void
raw_sql(struct fixture *f, const char *sql)
{
	sqlite3 *sq;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(f->db_path, &sq), SQLITE_OK);
	sqlite3_busy_timeout(sq, 5000);
	if (sqlite3_exec(sq, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(sq);
}

static int
raw_count(struct fixture *f, const char *sql)
{
	sqlite3 *sq;
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_open(f->db_path, &sq), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sq, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(sq);
	return n;
}

static void
add_domain(struct fixture *f, const char *d)
{
	const char *error;

	if (accounts_domain_add(f->db, d, &error) < 0)
		fail_msg("domain add %s: %s", d, error);
}

static void
add_user(struct fixture *f, const char *a)
{
	const char *error;

	if (accounts_user_add(f->db, a, f->hash, 0, true, &error) < 0)
		fail_msg("user add %s: %s", a, error);
}

static void
add_alias(struct fixture *f, const char *source, const char *target)
{
	const char *error;

	if (accounts_alias_add(f->db, source, &target, 1, &error) < 0)
		fail_msg("alias add %s -> %s: %s", source, target, error);
}

/* Collect list output into one string "a\nb\n". */
static int
collect_domain(const char *domain, void *ctx)
{
	return buf_printf(ctx, "%s\n", domain) < 0 ? -1 : 0;
}

static int
collect_user(const struct accounts_user *u, void *ctx)
{
	return buf_printf(ctx, "%s %" PRIu64 " %d\n", u->address, u->quota, u->enabled) < 0 ? -1
											   : 0;
}

static int
collect_alias(const char *source, const char *target, void *ctx)
{
	return buf_printf(ctx, "%s>%s\n", source, target) < 0 ? -1 : 0;
}

/* ---- open ---- */

static void
test_open(void **state)
{
	struct fixture *f = *state;
	struct accounts *db;
	const char *error;
	struct stat st;

	assert_int_equal(stat(f->db_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(raw_count(f, "SELECT version FROM schema_version"),
			 accounts_schema_version());
	assert_int_equal(raw_count(f, "PRAGMA journal_mode"), 0); /* text "wal" reads as 0 */

	/* A second handle on the same database. */
	assert_int_equal(accounts_open(f->dir, &db, &error), 0);
	add_domain(f, "example.com");
	assert_int_equal(accounts_domain_exists(db, "example.com", &error), 1);
	accounts_close(&db);
	assert_null(db);
	accounts_close(&db); /* NULL is fine */

	/* Missing directory: a clear error, nothing created. */
	char *missing = xasprintf("%s/nope", f->dir);
	assert_int_equal(accounts_open(missing, &db, &error), ACCOUNTS_ERR_NOT_FOUND);
	assert_null(db);
	assert_non_null(strstr(error, "does not exist"));
	assert_non_null(strstr(error, missing));
	assert_int_equal(stat(missing, &st), -1);

	/* A file where the directory should be. */
	char *file = xasprintf("%s/file", f->dir);
	FILE *fp = fopen(file, "w");
	fclose(fp);
	assert_int_equal(accounts_open(file, &db, &error), ACCOUNTS_ERR_INTERNAL);
	assert_non_null(strstr(error, "not a directory"));
	free(file);
	free(missing);
}

static void
test_open_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct accounts *db;
	const char *error;

	raw_sql(f, "UPDATE schema_version SET version = 99");
	assert_int_equal(accounts_open(f->dir, &db, &error), ACCOUNTS_ERR_INTERNAL);
	assert_non_null(strstr(error, "newer"));
	char sql[64];
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 accounts_schema_version());
	raw_sql(f, sql);
	assert_int_equal(accounts_open(f->dir, &db, &error), 0);
	accounts_close(&db);
}

static void
test_migrate_from_version_1(void **state)
{
	struct fixture *f = *state;
	struct accounts *db;
	const char *error;

	/* A database as version 1 left it. */
	raw_sql(f, "ALTER TABLE users DROP COLUMN apop_secret");
	raw_sql(f, "UPDATE schema_version SET version = 1");
	assert_int_equal(accounts_open(f->dir, &db, &error), 0);
	accounts_close(&db);
	assert_int_equal(raw_count(f, "SELECT version FROM schema_version"),
			 accounts_schema_version());
	assert_int_equal(raw_count(f, "SELECT COUNT(*) FROM pragma_table_info('users') "
				      "WHERE name = 'apop_secret'"), 1);
}

static void
test_open_existing_empty_file(void **state)
{
	char dir[] = "/tmp/postern-test-XXXXXX";
	struct accounts *db;
	const char *error;

	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/postern.db", dir);
	FILE *fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(accounts_open(dir, &db, &error), 0);
	assert_int_equal(accounts_domain_add(db, "example.org", &error), 0);
	accounts_close(&db);
	free(path);
	remove_tree(dir);
}

/* ---- domains ---- */

static void
test_domains(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	add_domain(f, "Example.COM");
	add_domain(f, "BÜcher.Example");
	add_domain(f, "a.example");
	assert_int_equal(accounts_domain_add(f->db, "example.com", &error), ACCOUNTS_ERR_EXISTS);
	assert_string_equal(error, "domain 'example.com' already exists");
	/* The same IDN in its other spelling is the same domain. */
	assert_int_equal(accounts_domain_add(f->db, "xn--bcher-kva.example", &error),
			 ACCOUNTS_ERR_EXISTS);
	assert_int_equal(accounts_domain_add(f->db, "bad_domain", &error), ACCOUNTS_ERR_INVALID);
	assert_non_null(strstr(error, "invalid domain 'bad_domain'"));
	assert_int_equal(accounts_domain_add(f->db, "192.0.2.1", &error), ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_domain_add(f->db, "[192.0.2.1]", &error), ACCOUNTS_ERR_INVALID);

	assert_int_equal(accounts_domain_list(f->db, collect_domain, &out, &error), 0);
	assert_string_equal(out.data, "a.example\nexample.com\nxn--bcher-kva.example\n");

	assert_int_equal(accounts_domain_exists(f->db, "EXAMPLE.com", &error), 1);
	assert_int_equal(accounts_domain_exists(f->db, "bücher.example", &error), 1);
	assert_int_equal(accounts_domain_exists(f->db, "example.net", &error), 0);
	assert_int_equal(accounts_domain_exists(f->db, "not valid", &error), 0);

	assert_int_equal(accounts_domain_del(f->db, "example.net", false, NULL, NULL, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_string_equal(error, "unknown domain 'example.net'");
	assert_int_equal(accounts_domain_del(f->db, "A.Example", false, NULL, NULL, &error), 0);
	buf_reset(&out);
	assert_int_equal(accounts_domain_list(f->db, collect_domain, &out, &error), 0);
	assert_string_equal(out.data, "example.com\nxn--bcher-kva.example\n");
	buf_release(&out);
}

static void
test_domain_del_in_use(void **state)
{
	struct fixture *f = *state;
	const char *error;
	unsigned users, aliases;
	struct accounts_user u;

	add_domain(f, "example.com");
	add_domain(f, "other.org");
	add_user(f, "alice@example.com");
	add_user(f, "bob@example.com");
	add_user(f, "carol@other.org");
	add_alias(f, "info@example.com", "alice@example.com");
	add_alias(f, "sales@other.org", "bob@example.com"); /* points into example.com */
	add_alias(f, "sales@other.org", "carol@other.org");

	assert_int_equal(accounts_domain_del(f->db, "example.com", false, &users, &aliases, &error),
			 ACCOUNTS_ERR_IN_USE);
	assert_int_equal(users, 2);
	assert_int_equal(aliases, 2);
	assert_string_equal(error, "domain 'example.com' still has 2 users and 2 aliases");
	/* Nothing changed. */
	assert_int_equal(accounts_domain_exists(f->db, "example.com", &error), 1);
	assert_int_equal(accounts_user_get(f->db, "alice@example.com", &u, &error), 0);
	accounts_user_clear(&u);

	assert_int_equal(accounts_domain_del(f->db, "example.com", true, &users, &aliases, &error),
			 0);
	assert_int_equal(users, 2);
	assert_int_equal(aliases, 2);
	assert_int_equal(accounts_domain_exists(f->db, "example.com", &error), 0);
	assert_int_equal(accounts_user_get(f->db, "alice@example.com", &u, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 1);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM aliases"), 1); /* sales -> carol */
}

/* ---- users ---- */

static void
test_users(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct accounts_user u;
	struct buf out;
	unsigned left;

	buf_init(&out, BUF_UNLIMITED);
	add_domain(f, "example.com");
	add_domain(f, "bücher.example");

	assert_int_equal(accounts_user_add(f->db, "Alice@Example.com", f->hash, 500u << 20, true,
					   &error),
			 0);
	assert_int_equal(accounts_user_add(f->db, "jörg@BÜCHER.example", f->hash, 0, false, &error),
			 0);
	assert_int_equal(accounts_user_add(f->db, "alice@EXAMPLE.COM", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_EXISTS);
	assert_string_equal(error, "user 'alice@example.com' already exists");
	assert_int_equal(accounts_user_add(f->db, "bob@example.org", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_string_equal(error, "unknown domain 'example.org'");
	assert_int_equal(accounts_user_add(f->db, "bob", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_user_add(f->db, "bob+x@example.com", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_non_null(strstr(error, "'+'"));
	assert_int_equal(accounts_user_add(f->db, "a/b@example.com", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_user_add(f->db, "\"b c\"@example.com", f->hash, 0, true, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_user_add(f->db, "bob@example.com", "{PLAIN}secret", 0, true,
					   &error),
			 ACCOUNTS_ERR_INVALID);
	assert_non_null(strstr(error, "plain text"));
	assert_int_equal(accounts_user_add(f->db, "bob@example.com", "nonsense", 0, true, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_user_add(f->db, "bob@example.com", f->hash, UINT64_MAX, true,
					   &error),
			 ACCOUNTS_ERR_INVALID);
	struct buf name;
	buf_init(&name, BUF_UNLIMITED);
	assert_int_equal(accounts_user_canon(f->db, "Zoë@BÜcher.Example", &name, &error), 0);
	assert_string_equal(name.data, "zoë@xn--bcher-kva.example");
	buf_reset(&name);
	assert_int_equal(accounts_user_canon(f->db, "zoe+x@example.com", &name, &error),
			 ACCOUNTS_ERR_INVALID);
	buf_release(&name);
	/* A migrated Dovecot hash, bare: stored with its scheme. */
	assert_int_equal(accounts_user_add(f->db, "bob@example.com",
					   "$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK",
					   0, true, &error),
			 0);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 3);

	assert_int_equal(accounts_user_get(f->db, "ALICE@example.com", &u, &error), 0);
	assert_string_equal(u.address, "alice@example.com");
	assert_string_equal(u.domain, "example.com");
	assert_int_equal(u.quota, 500u << 20);
	assert_true(u.enabled);
	assert_string_equal(u.password, f->hash);
	assert_true(u.created > 0 && u.created <= (int64_t)time(NULL));
	accounts_user_clear(&u);
	assert_null(u.address);

	assert_int_equal(accounts_user_get(f->db, "bob@example.com", &u, &error), 0);
	assert_string_equal(u.password,
			    "{BLF-CRYPT}$2y$05$CWpqbdTxjLxbicAJgB3z..lDI3iqa65tM2X4aLPgIrOdIWAI4zfiK");
	accounts_user_clear(&u);

	assert_int_equal(accounts_user_list(f->db, NULL, collect_user, &out, &error), 0);
	assert_string_equal(out.data, "alice@example.com 524288000 1\n"
				      "bob@example.com 0 1\n"
				      "jörg@xn--bcher-kva.example 0 0\n");
	buf_reset(&out);
	assert_int_equal(accounts_user_list(f->db, "BÜcher.example", collect_user, &out, &error),
			 0);
	assert_string_equal(out.data, "jörg@xn--bcher-kva.example 0 0\n");
	assert_int_equal(accounts_user_list(f->db, "nope.example", collect_user, &out, &error),
			 ACCOUNTS_ERR_NOT_FOUND);

	/* Changes. */
	assert_int_equal(accounts_user_set_quota(f->db, "alice@example.com", 2ull << 30, &error), 0);
	assert_int_equal(accounts_user_set_enabled(f->db, "alice@example.com", false, &error), 0);
	assert_int_equal(accounts_user_set_password(f->db, "alice@example.com", f->hash2, &error),
			 0);
	assert_int_equal(accounts_user_get(f->db, "alice@example.com", &u, &error), 0);
	assert_int_equal(u.quota, 2ull << 30);
	assert_false(u.enabled);
	assert_string_equal(u.password, f->hash2);
	accounts_user_clear(&u);
	assert_int_equal(accounts_user_set_password(f->db, "alice@example.com", "{MD5}abc", &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_user_set_quota(f->db, "nobody@example.com", 1, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_string_equal(error, "no such user 'nobody@example.com'");
	assert_int_equal(accounts_user_set_enabled(f->db, "nobody@example.com", true, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_int_equal(accounts_user_set_password(f->db, "nobody@example.com", f->hash, &error),
			 ACCOUNTS_ERR_NOT_FOUND);

	/* Delete; aliases naming the user are reported. */
	add_alias(f, "info@example.com", "alice@example.com");
	assert_int_equal(accounts_user_del(f->db, "Alice@example.com", &left, &error), 0);
	assert_int_equal(left, 1);
	assert_int_equal(accounts_user_del(f->db, "alice@example.com", &left, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_int_equal(accounts_user_get(f->db, "alice@example.com", &u, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	buf_release(&out);
}

static void
expect(struct fixture *f, const char *addr, int status, const char *local, const char *external)
{
	struct accounts_rcpt r;
	const char *error = NULL;
	struct buf l, e;

	int rc = accounts_resolve(f->db, addr, &r, &error);
	if (rc != status)
		fail_msg("%s: status %d, expected %d (%s)", addr, rc, status, error ? error : "");
	buf_init(&l, BUF_UNLIMITED);
	buf_init(&e, BUF_UNLIMITED);
	for (size_t i = 0; i < r.local_count; i++)
		assert_int_equal(buf_printf(&l, "%s%s%s%s", i ? " " : "", r.local[i].address,
					    r.local[i].tag ? "#" : "",
					    r.local[i].tag ? r.local[i].tag : ""),
				 0);
	for (size_t i = 0; i < r.external_count; i++)
		assert_int_equal(buf_printf(&e, "%s%s", i ? " " : "", r.external[i]), 0);
	if (strcmp(buf_cstr(&l), local) != 0 || strcmp(buf_cstr(&e), external) != 0)
		fail_msg("%s: local '%s' external '%s', expected '%s' / '%s'", addr, buf_cstr(&l),
			 buf_cstr(&e), local, external);
	accounts_rcpt_clear(&r);
	buf_release(&l);
	buf_release(&e);
}

/* ---- aliases ---- */

static void
test_aliases(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED);
	add_domain(f, "example.com");
	add_domain(f, "example.org");
	add_user(f, "alice@example.com");
	add_user(f, "bob@example.com");
	add_user(f, "carol@example.org");

	const char *two[] = {"Alice@example.com", "bob@EXAMPLE.com", "alice@example.com"};
	assert_int_equal(accounts_alias_add(f->db, "Team@example.com", two, 3, &error), 0);
	assert_int_equal(accounts_alias_add(f->db, "team@example.com", two, 1, &error),
			 ACCOUNTS_ERR_EXISTS);
	assert_string_equal(error, "alias 'team@example.com' -> 'alice@example.com' already exists");
	add_alias(f, "fwd@example.com", "someone@elsewhere.net");
	add_alias(f, "@example.org", "carol@example.org");

	/* All or nothing: the second target is bad, the first is not added. */
	const char *mixed[] = {"carol@example.org", "no such@example.com"};
	assert_int_equal(accounts_alias_add(f->db, "x@example.com", mixed, 2, &error),
			 ACCOUNTS_ERR_INVALID);
	const char *unknown[] = {"carol@example.org", "ghost@example.com"};
	assert_int_equal(accounts_alias_add(f->db, "x@example.com", unknown, 2, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_string_equal(error, "alias target 'ghost@example.com' is not a user or alias of "
				   "local domain 'example.com'");
	assert_int_equal(raw_count(f, "SELECT count(*) FROM aliases WHERE source = 'x@example.com'"),
			 0);
	assert_int_equal(accounts_alias_add(f->db, "x@example.net", two, 1, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_non_null(strstr(error, "unknown domain 'example.net'"));
	assert_int_equal(accounts_alias_add(f->db, "x@example.com", two, 0, &error),
			 ACCOUNTS_ERR_INVALID);
	const char *catchall_target[] = {"@example.org"};
	assert_int_equal(accounts_alias_add(f->db, "x@example.com", catchall_target, 1, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_int_equal(accounts_alias_add(f->db, "@bad_domain", two, 1, &error),
			 ACCOUNTS_ERR_INVALID);

	assert_int_equal(accounts_alias_list(f->db, NULL, collect_alias, &out, &error), 0);
	assert_string_equal(out.data, "@example.org>carol@example.org\n"
				      "fwd@example.com>someone@elsewhere.net\n"
				      "team@example.com>alice@example.com\n"
				      "team@example.com>bob@example.com\n");
	buf_reset(&out);
	assert_int_equal(accounts_alias_list(f->db, "example.org", collect_alias, &out, &error), 0);
	assert_string_equal(out.data, "@example.org>carol@example.org\n");
	buf_reset(&out);
	assert_int_equal(accounts_alias_lookup(f->db, "TEAM@example.com", collect_alias, &out,
					       &error),
			 2);
	assert_string_equal(out.data,
			    "team@example.com>alice@example.com\nteam@example.com>bob@example.com\n");
	assert_int_equal(accounts_alias_lookup(f->db, "none@example.com", collect_alias, &out,
					       &error),
			 0);

	assert_int_equal(accounts_alias_del(f->db, "team@example.com", "BOB@example.com", &error),
			 1);
	assert_int_equal(accounts_alias_del(f->db, "team@example.com", "bob@example.com", &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_string_equal(error, "no alias 'team@example.com' -> 'bob@example.com'");
	assert_int_equal(accounts_alias_del(f->db, "@EXAMPLE.org", NULL, &error), 1);
	assert_int_equal(accounts_alias_del(f->db, "@example.org", NULL, &error),
			 ACCOUNTS_ERR_NOT_FOUND);
	assert_string_equal(error, "no alias '@example.org'");
	buf_release(&out);
}

static void
test_alias_checks(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct accounts_rcpt r;

	add_domain(f, "example.com");
	add_user(f, "u@example.com");
	add_alias(f, "a@example.com", "u@example.com");
	add_alias(f, "b@example.com", "a@example.com");
	/* An alias naming itself with no such user leads nowhere. */
	const char *t = "c@example.com";
	assert_int_equal(accounts_alias_add(f->db, "c@example.com", &t, 1, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_non_null(strstr(error, "not a user or alias"));
	/* A catch-all target must exist before the catch-all does. */
	const char *ct[] = {"u@example.com", "nobody@example.com"};
	assert_int_equal(accounts_alias_add(f->db, "@example.com", ct, 2, &error),
			 ACCOUNTS_ERR_INVALID);
	assert_non_null(strstr(error, "nobody@example.com"));
	assert_int_equal(raw_count(f, "SELECT count(*) FROM aliases"), 2);
	/* A cycle with a way out is fine: a -> b -> a, and a -> u. */
	t = "b@example.com";
	assert_int_equal(accounts_alias_add(f->db, "a@example.com", &t, 1, &error), 0);
	expect(f, "a@example.com", ACCOUNTS_RCPT_FOUND, "u@example.com", "");
	expect(f, "b@example.com", ACCOUNTS_RCPT_FOUND, "u@example.com", "");
	/* "u -> u, b" (keep a copy) is fine: u is a user. */
	const char *keep[] = {"u@example.com", "b@example.com"};
	assert_int_equal(accounts_alias_add(f->db, "u@example.com", keep, 2, &error), 0);
	expect(f, "u@example.com", ACCOUNTS_RCPT_FOUND, "u@example.com", "");
	/* Deleting the way out leaves a pure cycle: resolution says so. */
	assert_int_equal(accounts_alias_del(f->db, "a@example.com", "u@example.com", &error), 1);
	assert_int_equal(accounts_alias_del(f->db, "u@example.com", NULL, &error), 2);
	assert_int_equal(accounts_resolve(f->db, "a@example.com", &r, &error), ACCOUNTS_RCPT_LOOP);
	assert_non_null(strstr(error, "alias loop"));
	accounts_rcpt_clear(&r);
}

/* ---- resolve ---- */

static void
test_resolve(void **state)
{
	struct fixture *f = *state;

	add_domain(f, "example.com");
	add_domain(f, "catch.example");
	add_domain(f, "bücher.example");
	add_user(f, "alice@example.com");
	add_user(f, "bob@example.com");
	add_user(f, "info@example.com");
	add_user(f, "boss@catch.example");
	add_user(f, "jörg@bücher.example");
	add_alias(f, "team@example.com", "alice@example.com");
	add_alias(f, "team@example.com", "bob@example.com");
	add_alias(f, "all@example.com", "team@example.com");
	add_alias(f, "all@example.com", "alice@example.com"); /* duplicate reach */
	add_alias(f, "all@example.com", "friend@elsewhere.net");
	add_alias(f, "info@example.com", "info@example.com"); /* keep a copy */
	add_alias(f, "info@example.com", "boss@catch.example");
	add_alias(f, "@catch.example", "boss@catch.example");
	add_alias(f, "sales@example.com", "bob+sales@example.com");
	add_alias(f, "bob+vip@example.com", "alice@example.com"); /* alias beats tag */

	expect(f, "alice@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com", "");
	expect(f, "ALICE@Example.COM", ACCOUNTS_RCPT_FOUND, "alice@example.com", "");
	expect(f, "alice+news@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com#news", "");
	expect(f, "alice+@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com#", "");
	expect(f, "team@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com bob@example.com", "");
	expect(f, "team+x@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com bob@example.com",
	       "");
	expect(f, "all@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com bob@example.com",
	       "friend@elsewhere.net");
	expect(f, "info@example.com", ACCOUNTS_RCPT_FOUND, "boss@catch.example info@example.com",
	       "");
	expect(f, "sales@example.com", ACCOUNTS_RCPT_FOUND, "bob@example.com#sales", "");
	expect(f, "bob+vip@example.com", ACCOUNTS_RCPT_FOUND, "alice@example.com", "");
	expect(f, "anything@catch.example", ACCOUNTS_RCPT_FOUND, "boss@catch.example", "");
	expect(f, "boss@catch.example", ACCOUNTS_RCPT_FOUND, "boss@catch.example", "");
	expect(f, "boss+x@catch.example", ACCOUNTS_RCPT_FOUND, "boss@catch.example#x", "");
	expect(f, "Jörg@BÜCHER.example", ACCOUNTS_RCPT_FOUND, "jörg@xn--bcher-kva.example", "");
	/* Disabled users cannot log in but still receive mail. */
	const char *error;
	assert_int_equal(accounts_user_add(f->db, "off@example.com", f->hash, 0, false, &error), 0);
	expect(f, "off@example.com", ACCOUNTS_RCPT_FOUND, "off@example.com", "");
	expect(f, "nobody@example.com", ACCOUNTS_RCPT_UNKNOWN, "", "");
	expect(f, "nobody+x@example.com", ACCOUNTS_RCPT_UNKNOWN, "", "");
	expect(f, "someone@elsewhere.net", ACCOUNTS_RCPT_NOT_LOCAL, "", "someone@elsewhere.net");
	expect(f, "not an address", ACCOUNTS_RCPT_INVALID, "", "");
	expect(f, "user@[192.0.2.1]", ACCOUNTS_RCPT_INVALID, "", "");
}

static void
test_resolve_broken_data(void **state)
{
	struct fixture *f = *state;
	struct accounts_rcpt r;
	const char *error;

	add_domain(f, "example.com");
	add_user(f, "u@example.com");
	/* Rows the API would refuse: a plain loop, a chain too deep, a huge
	 * fan-out, a target that is gone. */
	raw_sql(f, "INSERT INTO aliases (source, domain_id, target, created) VALUES "
		   "('a@example.com', 1, 'b@example.com', 0),"
		   "('b@example.com', 1, 'a@example.com', 0),"
		   "('gone@example.com', 1, 'ghost@example.com', 0),"
		   "('half@example.com', 1, 'ghost@example.com', 0),"
		   "('half@example.com', 1, 'u@example.com', 0)");
	expect(f, "a@example.com", ACCOUNTS_RCPT_LOOP, "", "");
	assert_int_equal(accounts_resolve(f->db, "a@example.com", &r, &error), ACCOUNTS_RCPT_LOOP);
	assert_non_null(strstr(error, "loop"));
	accounts_rcpt_clear(&r);

	assert_int_equal(accounts_resolve(f->db, "gone@example.com", &r, &error),
			 ACCOUNTS_RCPT_UNKNOWN);
	assert_int_equal(r.unknown_count, 1);
	assert_string_equal(r.unknown[0], "ghost@example.com");
	accounts_rcpt_clear(&r);
	assert_int_equal(accounts_resolve(f->db, "half@example.com", &r, &error),
			 ACCOUNTS_RCPT_FOUND);
	assert_int_equal(r.local_count, 1);
	assert_int_equal(r.unknown_count, 1);
	accounts_rcpt_clear(&r);

	/* d0 -> d1 -> ... -> d20 -> u: deeper than the limit. */
	struct buf sql;
	buf_init(&sql, BUF_UNLIMITED);
	for (int i = 0; i < 20; i++)
		assert_int_equal(buf_printf(&sql,
					    "INSERT INTO aliases (source, domain_id, target, created) "
					    "VALUES ('d%d@example.com', 1, 'd%d@example.com', 0);",
					    i, i + 1),
				 0);
	assert_int_equal(buf_add_str(&sql, "INSERT INTO aliases (source, domain_id, target, "
					   "created) VALUES ('d20@example.com', 1, 'u@example.com', "
					   "0);"),
			 0);
	raw_sql(f, sql.data);
	assert_int_equal(accounts_resolve(f->db, "d0@example.com", &r, &error), ACCOUNTS_RCPT_LOOP);
	assert_non_null(strstr(error, "deeper"));
	accounts_rcpt_clear(&r);
	expect(f, "d10@example.com", ACCOUNTS_RCPT_FOUND, "u@example.com", "");

	/* 1001 external targets. */
	buf_reset(&sql);
	assert_int_equal(buf_add_str(&sql, "INSERT INTO aliases (source, domain_id, target, "
					   "created) VALUES "),
			 0);
	for (int i = 0; i <= ACCOUNTS_ALIAS_FANOUT_MAX; i++)
		assert_int_equal(buf_printf(&sql, "%s('big@example.com', 1, 'x%d@elsewhere.net', 0)",
					    i ? "," : "", i),
				 0);
	raw_sql(f, sql.data);
	assert_int_equal(accounts_resolve(f->db, "big@example.com", &r, &error),
			 ACCOUNTS_RCPT_LOOP);
	assert_non_null(strstr(error, "more than 1000"));
	accounts_rcpt_clear(&r);
	buf_release(&sql);
}

/* ---- authentication ---- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_authenticate(void **state)
{
	struct fixture *f = *state;
	struct accounts_user u;
	const char *error;
	struct buf real;

	add_domain(f, "example.com");
	add_user(f, "alice@example.com");
	assert_int_equal(accounts_user_add(f->db, "carol@example.com",
					   "{SHA512-CRYPT}$6$92H5jESZ7YFgU/Aq$vsHtZNr8CFCkO4nmD9k2."
					   "ebYy6r25OoPcFJG0w.dHkqG0oBKo9lC/"
					   "PhblcUhmHfcLYJiaFyWovK5wQZw1dG7Q/",
					   0, true, &error),
			 0);
	assert_int_equal(accounts_user_add(f->db, "dave@example.com", f->hash, 0, false, &error), 0);

	assert_int_equal(accounts_authenticate(f->db, "alice@example.com", "secret", &u, &error), 1);
	assert_string_equal(u.address, "alice@example.com");
	accounts_user_clear(&u);
	assert_int_equal(accounts_authenticate(f->db, "Alice@EXAMPLE.com", "secret", &u, &error),
			 1);
	accounts_user_clear(&u);
	assert_int_equal(accounts_authenticate(f->db, "alice@example.com", "Secret", &u, &error), 0);
	assert_string_equal(error, "wrong password");
	assert_null(u.address);
	assert_int_equal(accounts_authenticate(f->db, "alice+tag@example.com", "secret", &u, &error),
			 0);
	assert_int_equal(accounts_authenticate(f->db, "carol@example.com",
					       "correct horse battery staple", &u, &error),
			 1);
	accounts_user_clear(&u);
	assert_int_equal(accounts_authenticate(f->db, "dave@example.com", "secret", &u, &error), 0);
	assert_string_equal(error, "account disabled");
	assert_int_equal(accounts_authenticate(f->db, "dave@example.com", "wrong", &u, &error), 0);
	assert_string_equal(error, "wrong password");
	assert_int_equal(accounts_authenticate(f->db, "not an address", "x", &u, &error), 0);
	assert_string_equal(error, "invalid address");

	/* An unknown user costs a full hash verification: compare with a
	 * user whose hash has the default cost. */
	buf_init(&real, BUF_UNLIMITED);
	assert_int_equal(password_hash("real", &real, &error), 0);
	assert_int_equal(accounts_user_add(f->db, "erin@example.com", real.data, 0, true, &error),
			 0);
	double t0 = now();
	assert_int_equal(accounts_authenticate(f->db, "erin@example.com", "wrong", &u, &error), 0);
	double known = now() - t0;
	t0 = now();
	assert_int_equal(accounts_authenticate(f->db, "nobody@example.com", "wrong", &u, &error), 0);
	double unknown = now() - t0;
	assert_string_equal(error, "unknown user");
	if (unknown < known / 4)
		fail_msg("unknown user took %.3f s, known %.3f s", unknown, known);
	buf_release(&real);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_newer_schema, setup, teardown),
		cmocka_unit_test(test_open_existing_empty_file),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_del_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_broken_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authenticate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
