/*
 * runtime.c - what both runtimes share (see runtime.h).
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"

int runtime_claim_uids(runtime_t *rt)
{
    int rc = uidrange_claim(rt->cfg->instance, NULL, &rt->uids);

    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot claim a range of slot uids for instance %s: %s",
                rt->cfg->instance, strerror(-rc));
        return rc;
    }
    log_msg(LOG_INFO, "slot uids %u..%u (instance %s)", rt->uids.base,
            rt->uids.base + UIDRANGE_SPAN - 1, rt->cfg->instance);
    return 0;
}

int runtime_container_memory_mb(const config_t *cfg)
{
    int need = cfg->slots * (CG_MAX_MEMORY_MB + CG_RUN_MEMORY_EXTRA_MB) + CG_EXECUTOR_BASE_MB;

    if (cfg->container_memory_mb == 0)
        return need;
    return cfg->container_memory_mb >= need ? cfg->container_memory_mb : -need;
}

void runtime_init(runtime_t *rt, const runtime_ops_t *ops, const config_t *cfg,
                  runtime_endpoint_cb cb, void *arg)
{
    rt->ops = ops;
    rt->cfg = cfg;
    rt->cb = cb;
    rt->cb_arg = arg;
    rt->uids.lock_fd = -1;
    pthread_mutex_init(&rt->mu, NULL);
    atomic_init(&rt->stopping, false);
}

/* The watcher thread: a pass over the executors, then a pause cut short by runtime_stop(). */
static void *watcher_main(void *arg)
{
    runtime_t *rt = arg;

    while (!atomic_load(&rt->stopping)) {
        rt->ops->watch(rt);
        for (int t = 0; t < rt->ops->watch_ms / 50 && !atomic_load(&rt->stopping); t++)
            usleep(50000);
    }
    return NULL;
}

int runtime_start(runtime_t *rt)
{
    int rc = rt->ops->start(rt);

    if (rc == 0) {
        rc = -pthread_create(&rt->watcher, NULL, watcher_main, rt);
        rt->watcher_started = rc == 0;
    }
    if (rc != 0)
        rt->ops->stop_all(rt); /* whatever start created; it may have failed half-way */
    return rc;
}

void runtime_announce(runtime_t *rt, const runtime_endpoint_t *ep, bool up, cJSON *extra)
{
    cJSON *f = cJSON_CreateObject();

    if (f) {
        cJSON_AddStringToObject(f, "executor", ep->id);
        cJSON_AddStringToObject(f, "runtime", rt->ops->name);
        for (cJSON *x = extra ? extra->child : NULL; x;) {
            cJSON *next = x->next;
            cJSON_AddItemToObject(f, x->string, cJSON_DetachItemViaPointer(extra, x));
            x = next;
        }
    }
    cJSON_Delete(extra);
    log_event(up ? LOG_INFO : LOG_WARN, up ? "executor_up" : "executor_down", f);
    rt->cb(rt->cb_arg, ep, up);
}

void runtime_stop(runtime_t *rt)
{
    atomic_store(&rt->stopping, true);
    if (rt->watcher_started) {
        pthread_join(rt->watcher, NULL);
        rt->watcher_started = false;
    }
    rt->ops->stop_all(rt);
    log_event(LOG_INFO, "runtime_stopped", NULL);
}

void runtime_free(runtime_t *rt)
{
    if (!rt)
        return;
    uidrange_release(&rt->uids);
    rt->ops->destroy(rt);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}
