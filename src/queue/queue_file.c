/* queue_file.c - the relay queue's message file: the envelope in memory,
 * its checks, its encoder, and its incremental parser. Pure: no I/O. */
#include "lib/common.h"

#include <inttypes.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"
#include "queue/queue_private.h"

#define QUEUE_MAGIC "postern-queue"

/* The canonical NOTIFY value: "never" or the words in this order. */
static void
notify_format(unsigned notify, char *out, size_t size)
{
	out[0] = '\0';
	if (notify == QUEUE_NOTIFY_NEVER) {
		(void)str_copy(out, size, "never");
		return;
	}
	static const struct {
		unsigned bit;
		const char *name;
	} words[] = {
	    {QUEUE_NOTIFY_SUCCESS, "success"},
	    {QUEUE_NOTIFY_FAILURE, "failure"},
	    {QUEUE_NOTIFY_DELAY, "delay"},
	};
	size_t len = 0;
	for (size_t i = 0; i < N_ELEMENTS(words); i++) {
		if ((notify & words[i].bit) == 0)
			continue;
		int n = snprintf(out + len, size - len, "%s%s", len > 0 ? "," : "", words[i].name);
		if (n < 0 || (size_t)n >= size - len)
			panic("notify_format: buffer too small");
		len += (size_t)n;
	}
}

static bool
notify_parse(const char *s, size_t len, unsigned *notify_r)
{
	char canon[32];

	for (unsigned m = 1; m < 16; m++) {
		if (!queue_notify_valid(m))
			continue;
		notify_format(m, canon, sizeof(canon));
		if (strlen(canon) == len && memcmp(canon, s, len) == 0) {
			*notify_r = m;
			return true;
		}
	}
	return false;
}

/* ---- envelopes ---- */

struct queue_envelope *
queue_envelope_new(void)
{
	return xcalloc(1, sizeof(struct queue_envelope));
}

void
queue_envelope_free(struct queue_envelope **envp)
{
	struct queue_envelope *env = *envp;

	if (env == NULL)
		return;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		queue_rcpt_state_release(&env->rcpts[i]);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->envid);
	free(env->client_addr);
	free(env->client_name);
	free(env->helo);
	free(env->auth);
	free(env->protocol);
	free(env);
	*envp = NULL;
}

/* A new zeroed recipient; callers check QUEUE_RCPT_MAX first. */
static struct queue_rcpt *
rcpt_append(struct queue_envelope *env)
{
	if (env->rcpt_count >= QUEUE_RCPT_MAX)
		panic("rcpt_append: more than %d recipients", QUEUE_RCPT_MAX);
	if (env->rcpt_count == env->rcpt_alloc) {
		size_t n = env->rcpt_alloc == 0 ? 4 : env->rcpt_alloc * 2;
		n = MIN(n, (size_t)QUEUE_RCPT_MAX);
		env->rcpts = xreallocarray(env->rcpts, n, sizeof(*env->rcpts));
		env->rcpt_alloc = n;
	}
	struct queue_rcpt *r = &env->rcpts[env->rcpt_count++];
	memset(r, 0, sizeof(*r));
	return r;
}

int
queue_envelope_add_rcpt(struct queue_envelope *env, const char *addr, const char *orcpt,
			unsigned notify, const char **error_r)
{
	if (env->rcpt_count >= QUEUE_RCPT_MAX) {
		queue_error_set(error_r, "too many recipients (at most %d)", QUEUE_RCPT_MAX);
		return -1;
	}
	struct queue_rcpt *r = rcpt_append(env);
	r->addr = xstrdup(addr);
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	return 0;
}

int
queue_envelope_check(const struct queue_envelope *env, const char **error_r)
{
	const char *what = NULL;

	if (!queue_id_valid_len(env->id, strnlen(env->id, sizeof(env->id))))
		what = "id";
	else if (!queue_time_valid(env->arrival))
		what = "arrival time";
	else if (env->sender == NULL || !queue_addr_valid(env->sender, strlen(env->sender), true))
		what = "sender";
	else if ((size_t)env->body >= N_ELEMENTS(queue_body_names))
		what = "BODY";
	else if ((size_t)env->ret >= N_ELEMENTS(queue_ret_names))
		what = "RET";
	else if (env->envid != NULL && !queue_envid_valid(env->envid, strlen(env->envid)))
		what = "ENVID";
	else if (env->declared_size > QUEUE_CONTENT_MAX)
		what = "SIZE";
	else if (env->client_addr != NULL &&
		 !queue_ip_valid(env->client_addr, strlen(env->client_addr)))
		what = "client address";
	else if (!queue_opt_text_valid(env->client_name, QUEUE_NAME_MAX))
		what = "client host name";
	else if (!queue_opt_text_valid(env->helo, QUEUE_NAME_MAX))
		what = "HELO name";
	else if (!queue_opt_text_valid(env->auth, QUEUE_NAME_MAX))
		what = "authenticated user";
	else if (env->protocol == NULL ||
		 !queue_protocol_valid(env->protocol, strlen(env->protocol)))
		what = "protocol";
	else if (env->rcpt_count == 0 || env->rcpt_count > QUEUE_RCPT_MAX)
		what = "recipient count";
	else if (env->content_size > QUEUE_CONTENT_MAX)
		what = "content size";
	if (what != NULL) {
		queue_error_set(error_r, "invalid or missing %s", what);
		return -1;
	}
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->addr == NULL || !queue_addr_valid(r->addr, strlen(r->addr), false))
			what = "address";
		else if (r->orcpt != NULL && !queue_orcpt_valid(r->orcpt, strlen(r->orcpt)))
			what = "ORCPT";
		else if (!queue_notify_valid(r->notify))
			what = "NOTIFY";
		if (what != NULL) {
			queue_error_set(error_r, "recipient %zu: invalid %s", i, what);
			return -1;
		}
		if (queue_rcpt_state_check(r, i, error_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- the envelope's records ---- */

/* Ranks: records appear in this order; rcpt, orcpt and notify repeat as a
 * block. */
enum rec {
	REC_NONE,
	REC_MAGIC,
	REC_ID,
	REC_ARRIVAL,
	REC_SENDER,
	REC_BODY,
	REC_SMTPUTF8,
	REC_REQUIRETLS,
	REC_RET,
	REC_ENVID,
	REC_SIZE,
	REC_CLIENT_ADDR,
	REC_CLIENT_NAME,
	REC_HELO,
	REC_AUTH,
	REC_PROTOCOL,
	REC_RCPT,
	REC_ORCPT,
	REC_NOTIFY,
	REC_CONTENT,
	REC_COUNT
};

static const struct {
	const char *key;
	bool mandatory;
} recs[REC_COUNT] = {
    [REC_MAGIC] = {QUEUE_MAGIC, true},
    [REC_ID] = {"id", true},
    [REC_ARRIVAL] = {"arrival", true},
    [REC_SENDER] = {"sender", true},
    [REC_BODY] = {"body", false},
    [REC_SMTPUTF8] = {"smtputf8", false},
    [REC_REQUIRETLS] = {"requiretls", false},
    [REC_RET] = {"ret", false},
    [REC_ENVID] = {"envid", false},
    [REC_SIZE] = {"declared-size", false},
    [REC_CLIENT_ADDR] = {"client-addr", false},
    [REC_CLIENT_NAME] = {"client-name", false},
    [REC_HELO] = {"helo", false},
    [REC_AUTH] = {"auth", false},
    [REC_PROTOCOL] = {"protocol", true},
    [REC_RCPT] = {"rcpt", true},
    [REC_ORCPT] = {"orcpt", false},
    [REC_NOTIFY] = {"notify", false},
    [REC_CONTENT] = {"content", true},
};

static int
rec_add(struct buf *out, enum rec r, const char *value)
{
	return buf_printf(out, "%s %s\n", recs[r].key, value);
}

static int
rec_add_opt(struct buf *out, enum rec r, const char *value)
{
	return value == NULL ? 0 : rec_add(out, r, value);
}

int
queue_env_format(const struct queue_envelope *env, struct buf *out, const char **error_r)
{
	size_t start = out->len;
	char num[32];
	int ret = 0;

	if (queue_envelope_check(env, error_r) < 0)
		return -1;
	ret |= rec_add(out, REC_MAGIC, QUEUE_VERSION);
	ret |= rec_add(out, REC_ID, env->id);
	ret |= buf_printf(out, "%s %" PRId64 "\n", recs[REC_ARRIVAL].key, (int64_t)env->arrival);
	ret |= rec_add(out, REC_SENDER, env->sender);
	if (env->body != QUEUE_BODY_NONE)
		ret |= rec_add(out, REC_BODY, queue_body_names[env->body]);
	if (env->smtputf8)
		ret |= rec_add(out, REC_SMTPUTF8, "yes");
	if (env->requiretls)
		ret |= rec_add(out, REC_REQUIRETLS, "yes");
	if (env->ret != QUEUE_RET_NONE)
		ret |= rec_add(out, REC_RET, queue_ret_names[env->ret]);
	ret |= rec_add_opt(out, REC_ENVID, env->envid);
	if (env->declared_size != 0)
		ret |= buf_printf(out, "%s %" PRIu64 "\n", recs[REC_SIZE].key, env->declared_size);
	ret |= rec_add_opt(out, REC_CLIENT_ADDR, env->client_addr);
	ret |= rec_add_opt(out, REC_CLIENT_NAME, env->client_name);
	ret |= rec_add_opt(out, REC_HELO, env->helo);
	ret |= rec_add_opt(out, REC_AUTH, env->auth);
	ret |= rec_add(out, REC_PROTOCOL, env->protocol);
	for (size_t i = 0; i < env->rcpt_count && ret == 0; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		ret |= rec_add(out, REC_RCPT, r->addr);
		ret |= rec_add_opt(out, REC_ORCPT, r->orcpt);
		if (r->notify != 0) {
			notify_format(r->notify, num, sizeof(num));
			ret |= rec_add(out, REC_NOTIFY, num);
		}
	}
	ret |= buf_printf(out, "%s %0*" PRIu64 "\n", recs[REC_CONTENT].key, QUEUE_CONTENT_DIGITS,
			  env->content_size);
	if (ret != 0) {
		buf_set_len(out, start);
		queue_error_set(error_r, "envelope too large");
		return -1;
	}
	return 0;
}

/* ---- parsing ---- */

void
queue_env_parser_init(struct queue_env_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->env = queue_envelope_new();
}

void
queue_env_parser_release(struct queue_env_parser *p)
{
	queue_envelope_free(&p->env);
}

struct queue_envelope *
queue_env_parser_take(struct queue_env_parser *p)
{
	struct queue_envelope *env = p->env;

	if (!p->done)
		panic("queue_env_parser_take before the envelope is complete");
	p->env = NULL;
	return env;
}

static enum rec
rec_lookup(const char *key, size_t len)
{
	for (int r = REC_MAGIC; r < REC_COUNT; r++)
		if (strlen(recs[r].key) == len && memcmp(recs[r].key, key, len) == 0)
			return (enum rec)r;
	return REC_NONE;
}

/* Whether record r may follow the last record seen; *error_r says why not. */
static int
rec_order_check(struct queue_env_parser *p, enum rec r, const char **error_r)
{
	unsigned last = p->rank;

	if (r == REC_RCPT && last >= REC_RCPT && last <= REC_NOTIFY)
		return 0;
	if (r <= last) {
		queue_error_set(error_r, "record '%s' %s", recs[r].key,
				r == last ? "repeated" : "out of order");
		return -1;
	}
	for (unsigned k = last + 1; k < r; k++) {
		if (recs[k].mandatory) {
			queue_error_set(error_r, "record '%s' missing before '%s'", recs[k].key,
					recs[r].key);
			return -1;
		}
	}
	return 0;
}

static int
value_error(enum rec r, const char **error_r)
{
	queue_error_set(error_r, "invalid value for '%s'", recs[r].key);
	return -1;
}

static int
rec_apply(struct queue_env_parser *p, enum rec r, const char *v, size_t len, const char **error_r)
{
	struct queue_envelope *env = p->env;
	struct queue_rcpt *rcpt = env->rcpt_count > 0 ? &env->rcpts[env->rcpt_count - 1] : NULL;
	uint64_t n;

	switch (r) {
	case REC_MAGIC:
		if (len != strlen(QUEUE_VERSION) || memcmp(v, QUEUE_VERSION, len) != 0) {
			char shown[40];
			queue_key_show(v, len, shown, sizeof(shown));
			queue_error_set(error_r, "unsupported queue file version '%s'", shown);
			return -1;
		}
		return 0;
	case REC_ID:
		if (!queue_id_valid_len(v, len))
			return value_error(r, error_r);
		memcpy(env->id, v, len);
		env->id[len] = '\0';
		return 0;
	case REC_ARRIVAL:
		return queue_time_parse(v, len, &env->arrival) ? 0 : value_error(r, error_r);
	case REC_SENDER:
		if (!queue_addr_valid(v, len, true))
			return value_error(r, error_r);
		env->sender = xstrndup(v, len);
		return 0;
	case REC_BODY:
	case REC_RET: {
		const char *const *names = r == REC_BODY ? queue_body_names : queue_ret_names;
		size_t count =
		    r == REC_BODY ? N_ELEMENTS(queue_body_names) : N_ELEMENTS(queue_ret_names);
		for (size_t i = 1; i < count; i++)
			if (strlen(names[i]) == len && memcmp(names[i], v, len) == 0) {
				if (r == REC_BODY)
					env->body = (enum queue_body)i;
				else
					env->ret = (enum queue_ret)i;
				return 0;
			}
		return value_error(r, error_r);
	}
	case REC_SMTPUTF8:
	case REC_REQUIRETLS:
		if (len != 3 || memcmp(v, "yes", 3) != 0)
			return value_error(r, error_r);
		*(r == REC_SMTPUTF8 ? &env->smtputf8 : &env->requiretls) = true;
		return 0;
	case REC_ENVID:
		if (!queue_envid_valid(v, len))
			return value_error(r, error_r);
		env->envid = xstrndup(v, len);
		return 0;
	case REC_SIZE:
		if (!queue_number_parse(v, len, QUEUE_CONTENT_MAX, &n) || n == 0)
			return value_error(r, error_r);
		env->declared_size = n;
		return 0;
	case REC_CLIENT_ADDR:
		if (!queue_ip_valid(v, len))
			return value_error(r, error_r);
		env->client_addr = xstrndup(v, len);
		return 0;
	case REC_CLIENT_NAME:
	case REC_HELO:
	case REC_AUTH: {
		if (!queue_text_valid(v, len, QUEUE_NAME_MAX))
			return value_error(r, error_r);
		char **field = r == REC_CLIENT_NAME ? &env->client_name
			       : r == REC_HELO	    ? &env->helo
						    : &env->auth;
		*field = xstrndup(v, len);
		return 0;
	}
	case REC_PROTOCOL:
		if (!queue_protocol_valid(v, len))
			return value_error(r, error_r);
		env->protocol = xstrndup(v, len);
		return 0;
	case REC_RCPT:
		if (!queue_addr_valid(v, len, false))
			return value_error(r, error_r);
		if (env->rcpt_count >= QUEUE_RCPT_MAX) {
			queue_error_set(error_r, "more than %d recipients", QUEUE_RCPT_MAX);
			return -1;
		}
		rcpt = rcpt_append(env);
		rcpt->addr = xstrndup(v, len);
		return 0;
	case REC_ORCPT:
		if (!queue_orcpt_valid(v, len))
			return value_error(r, error_r);
		rcpt->orcpt = xstrndup(v, len);
		return 0;
	case REC_NOTIFY:
		return notify_parse(v, len, &rcpt->notify) ? 0 : value_error(r, error_r);
	case REC_CONTENT:
		if (len != QUEUE_CONTENT_DIGITS)
			return value_error(r, error_r);
		n = 0;
		for (size_t i = 0; i < len; i++) {
			if (v[i] < '0' || v[i] > '9')
				return value_error(r, error_r);
			if (n > (UINT64_MAX - 9) / 10)
				return value_error(r, error_r);
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (n > QUEUE_CONTENT_MAX)
			return value_error(r, error_r);
		env->content_size = n;
		return 0;
	case REC_NONE:
	case REC_COUNT:
		break;
	}
	panic("rec_apply: record %d", (int)r);
}

static enum queue_parse_result
parse_fail(struct queue_env_parser *p, const char **error_r, uint64_t offset)
{
	queue_error_set(error_r, "offset %" PRIu64 ": %s", offset, queue_error_last());
	p->done = false;
	p->rank = REC_COUNT; /* any further record is refused */
	return QUEUE_PARSE_ERROR;
}

enum queue_parse_result
queue_env_parse(struct queue_env_parser *p, const char *data, size_t len, size_t *consumed_r,
		const char **error_r)
{
	size_t off = 0;

	*consumed_r = 0;
	if (p->done || p->rank == REC_COUNT) {
		queue_error_set(error_r, "parser already finished");
		return QUEUE_PARSE_ERROR;
	}
	for (;;) {
		size_t line_len, used;
		int got = queue_record_next(data + off, len - off, &line_len, &used, error_r);
		if (got < 0)
			return parse_fail(p, error_r, p->offset);
		if (got == 0)
			return QUEUE_PARSE_NEED_MORE;
		const char *key, *value;
		size_t key_len, value_len;
		if (queue_record_split(data + off, line_len, &key, &key_len, &value, &value_len,
				       error_r) < 0)
			return parse_fail(p, error_r, p->offset);
		enum rec r = rec_lookup(key, key_len);
		if (p->rank == REC_NONE && r != REC_MAGIC) {
			queue_error_set(error_r, "not a postern queue file");
			return parse_fail(p, error_r, p->offset);
		}
		if (r == REC_NONE) {
			char shown[40];
			queue_key_show(key, key_len, shown, sizeof(shown));
			queue_error_set(error_r, "unknown record '%s'", shown);
			return parse_fail(p, error_r, p->offset);
		}
		if (rec_order_check(p, r, error_r) < 0 ||
		    rec_apply(p, r, value, value_len, error_r) < 0)
			return parse_fail(p, error_r, p->offset);
		p->rank = r;
		p->offset += used;
		off += used;
		*consumed_r = off;
		if (r == REC_CONTENT) {
			p->done = true;
			return QUEUE_PARSE_DONE;
		}
	}
}

struct queue_envelope *
queue_file_parse(const char *data, size_t len, size_t *content_offset_r, const char **error_r)
{
	struct queue_env_parser p;
	struct queue_envelope *env = NULL;
	size_t consumed;

	queue_env_parser_init(&p);
	switch (queue_env_parse(&p, data, len, &consumed, error_r)) {
	case QUEUE_PARSE_DONE:
		if (len - consumed != p.env->content_size) {
			queue_error_set(error_r, "content is %zu bytes, the envelope says %" PRIu64,
					len - consumed, p.env->content_size);
			break;
		}
		env = queue_env_parser_take(&p);
		*content_offset_r = consumed;
		break;
	case QUEUE_PARSE_NEED_MORE:
		queue_error_set(error_r, "truncated envelope");
		break;
	case QUEUE_PARSE_ERROR:
		break;
	}
	queue_env_parser_release(&p);
	return env;
}
