/*
 * metrics.h - counters and histograms of the gateway, rendered as Prometheus text (GET /metrics).
 *
 * All functions are thread-safe (one mutex; every update is a few additions). The registry is
 * a process-wide singleton: metrics_*() may be called from any thread at any time after start.
 */
#ifndef CG_METRICS_H
#define CG_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lang.h"
#include "protocol.h"

typedef enum {
    METRIC_H_TOTAL,   /* request, from arrival to answer */
    METRIC_H_QUEUE,   /* waiting for a free executor slot */
    METRIC_H_COMPILE, /* compile step (C++) */
    METRIC_H_RUN,     /* one run of the program */
    METRIC_H__COUNT
} metric_hist_t;

/* One finished execute request: language index (lang_table order, -1 = none) and the
 * status name written in the log ("ok", "timeout", "invalid_request", ...). */
void metrics_request(int lang, const char *status);
void metrics_observe(metric_hist_t h, int lang, int64_t ms);
void metrics_executor_restart(void);
/* A compile step answered: from the executor's compile cache (hit) or compiled (miss). */
void metrics_compile_cache(int lang, bool hit);

/* One HTTP answer sent, by status and API error code (NULL or "" = none). Every answer of the
 * gateway passes here: handlers, the front door's early answers and the HTTP library's own. */
void metrics_response(int status, const char *code);
/* A connection closed by the front door before any request: reason "per_ip" (cap per client
 * address) or "request_timeout" (header or body deadline passed). */
void metrics_connection_closed(const char *reason);

/* Gauges sampled when rendering. */
typedef struct {
    int http_connections; /* open HTTP connections */
    int queue_depth;
    int sessions_open;
    int connections[LANG_COUNT]; /* per language: connected executor connections */
    int endpoints[LANG_COUNT];   /* per language: executors announced up */
    int busy[LANG_COUNT];
    int slots_down[LANG_COUNT]; /* per language: executor slots out of service */
    int ready[LANG_COUNT];      /* per language: executors connected and in service */
    int draining[LANG_COUNT];   /* per language: executors draining (no new jobs) */
} metrics_gauges_t;

/* Renders everything as Prometheus text exposition format 0.0.4. Returns a malloc'ed string. */
char *metrics_render(const metrics_gauges_t *g);

/* Test helper: zeroes every counter. */
void metrics_reset(void);

#endif
