/*
 * health.h - the answer to GET /healthz on the executor's listener (served by executor.c over
 * plain HTTP on the WebSocket port, no token needed): what an orchestrator's readiness and
 * liveness checks and `executor --probe` (probe.h) look at. It reveals nothing secret: the
 * language, slot counts and whether the executor is draining.
 *
 *   200 {"status":"ok","language":"python","slots":4,"busy":1,"slotsDown":0,"draining":false}
 *   503 the same with "status":"draining" (after SIGTERM) or "unavailable" (every slot is out
 *       of service: runner_slots_down)
 *
 * Pure: no I/O, no state. Any thread.
 */
#ifndef CG_HEALTH_H
#define CG_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *language;
    int slots;      /* configured */
    int busy;       /* jobs running */
    int slots_down; /* out of service */
    bool draining;
} health_t;

/* Writes the JSON body (NUL-terminated, truncated to len) and returns the HTTP status. */
int health_answer(const health_t *h, char *buf, size_t len);

#endif
