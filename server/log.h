/*
 * log.h - one JSON object per line on stdout, for requests and lifecycle events.
 *
 * Every line has "ts" (RFC 3339 UTC, milliseconds), "level" and either "event" (structured
 * events: request, executor_up, executor_down, ...) or "msg". Lines are written with a single
 * write() under a mutex, so lines from different threads never interleave. Any thread.
 */
#ifndef CG_LOG_H
#define CG_LOG_H

#include <cjson/cJSON.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Adds "ts" and "level" to obj, prints it and deletes it (obj may be NULL: no-op). */
void log_json(log_level_t level, cJSON *obj);

/* A structured event: {"event": event, ...obj's members}. Takes ownership of obj (may be NULL). */
void log_event(log_level_t level, const char *event, cJSON *fields);

/* A free-text line: {"msg": "..."}. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Messages below this level are dropped (default LOG_INFO). */
void log_set_level(log_level_t level);

#endif
