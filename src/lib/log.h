/* log.h - levelled logging to stderr or syslog.
 *
 * Each line carries the process role ("master", "worker 1") and, for
 * session-related messages, the session id. panic() is for a broken
 * invariant (aborts, leaving a core), fatal() for a broken environment
 * (exit 1).
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include "lib/common.h"

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_NOTICE,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
};

/* ident names the program for syslog. Until called, messages at INFO and
 * above go to stderr. */
void log_open(const char *ident, enum log_level min, bool use_syslog);
void log_set_role(const char *role);
void log_set_level(enum log_level min);
/* Parse "debug", "info", "notice", "warning", "error"; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

bool log_enabled(enum log_level level);
/* sid may be NULL for messages that belong to no session. */
void log_sid(enum log_level level, const char *sid, const char *fmt, ...) ATTR_PRINTF(3, 4);
void log_vsid(enum log_level level, const char *sid, const char *fmt, va_list ap)
    ATTR_PRINTF(3, 0);

#define log_debug(...) log_sid(LOG_LVL_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_sid(LOG_LVL_INFO, NULL, __VA_ARGS__)
#define log_notice(...) log_sid(LOG_LVL_NOTICE, NULL, __VA_ARGS__)
#define log_warning(...) log_sid(LOG_LVL_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_sid(LOG_LVL_ERROR, NULL, __VA_ARGS__)

void fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
void panic(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

#endif
