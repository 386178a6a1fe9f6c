/*
 * log.h - one JSON object per line, for requests and lifecycle events: the one logger of the
 * gateway (stdout) and the executor (stderr, every line marked "src":"executor").
 *
 * Every line has "ts" (RFC 3339 UTC, milliseconds), "level", "src" when set up with one, and
 * either "event" (structured events: request, executor_up, conn_accept, job_end, ...) or "msg",
 * in that order, then the event's own members. Lines are written with a single write() under a
 * mutex, so lines from different threads never interleave. Any thread; log_setup() and
 * log_set_level() belong to start-up, before other threads log.
 *
 * Ownership: log_json() and log_event() take the cJSON object they are given and delete it,
 * also when the line is dropped or cannot be written.
 */
#ifndef CG_LOG_H
#define CG_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Where the lines go (default: stdout) and the "src" every line carries (default: none; the
 * string must outlive the logger, e.g. a literal). */
void log_setup(int fd, const char *src);

/* Messages below this level are dropped (default LOG_INFO). */
void log_set_level(log_level_t level);

/* The level named "debug", "info", "warn" or "error": 0 and *out set, or -1 (also for NULL). */
int log_level_parse(const char *name, log_level_t *out);

/* True when a line of this level would be written. */
bool log_enabled(log_level_t level);

/* Adds "ts" and "level" to obj, prints it and deletes it (obj may be NULL: no-op). */
void log_json(log_level_t level, cJSON *obj);

/* A structured event: {"event": event, ...obj's members}. Takes ownership of obj (may be NULL). */
void log_event(log_level_t level, const char *event, cJSON *fields);

/* A free-text line: {"msg": "..."} (at most 1023 bytes of text). */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(log_level_t level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
