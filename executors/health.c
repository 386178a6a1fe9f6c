/*
 * health.c - the body and status of GET /healthz (see health.h).
 */
#include "health.h"

#include <stdio.h>

int health_answer(const health_t *h, char *buf, size_t len)
{
    bool down = h->slots_down >= h->slots;
    const char *st = h->draining ? "draining" : down ? "unavailable" : "ok";

    /* The language is a name of the language table: no character needs escaping. */
    snprintf(buf, len,
             "{\"status\":\"%s\",\"language\":\"%s\",\"slots\":%d,\"busy\":%d,\"slotsDown\":%d,"
             "\"draining\":%s}",
             st, h->language ? h->language : "", h->slots, h->busy, h->slots_down,
             h->draining ? "true" : "false");
    return h->draining || down ? 503 : 200;
}
