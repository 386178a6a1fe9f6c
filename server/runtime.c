/*
 * runtime.c - what both runtimes share (see runtime.h).
 */
#include "runtime.h"

#include <string.h>

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
