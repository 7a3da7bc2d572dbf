/* log.c - levelled logging to stderr or syslog. */
#include "lib/common.h"

#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static enum log_level log_min = LOG_LVL_INFO;
static bool log_syslog;
static char log_role[32] = "postern";

static const char *const level_names[] = {
	[LOG_LVL_DEBUG] = "debug",     [LOG_LVL_INFO] = "info",   [LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_WARNING] = "warning", [LOG_LVL_ERROR] = "error",
};

static const int level_prio[] = {
	[LOG_LVL_DEBUG] = LOG_DEBUG,     [LOG_LVL_INFO] = LOG_INFO, [LOG_LVL_NOTICE] = LOG_NOTICE,
	[LOG_LVL_WARNING] = LOG_WARNING, [LOG_LVL_ERROR] = LOG_ERR,
};

void
log_open(const char *ident, enum log_level min, bool use_syslog)
{
	log_min = min;
	if (log_syslog)
		closelog();
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_role(const char *role)
{
	if (str_copy(log_role, sizeof(log_role), role) < 0)
		log_role[0] = '\0';
}

void
log_set_level(enum log_level min)
{
	log_min = min;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(level_names); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return (size_t)level < N_ELEMENTS(level_names) ? level_names[level] : "?";
}

bool
log_enabled(enum log_level level)
{
	return level >= log_min;
}

void
log_vsid(enum log_level level, const char *sid, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved_errno = errno;

	if (!log_enabled(level))
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	/* Never let peer-supplied bytes forge log lines or terminal escapes. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_syslog) {
		syslog(level_prio[level], "%s: %s%s%s%s", log_role, sid ? "[" : "", sid ? sid : "",
		       sid ? "] " : "", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ postern[%ld] %s: %s: %s%s%s%s\n", when,
			ts.tv_nsec / 1000000, (long)getpid(), log_role, level_names[level],
			sid ? "[" : "", sid ? sid : "", sid ? "] " : "", msg);
	}
	errno = saved_errno;
}

void
log_sid(enum log_level level, const char *sid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vsid(level, sid, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vsid(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vsid(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	abort();
}
