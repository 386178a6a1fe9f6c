/*
 * docker_json.c - builders and parsers of the Engine API's JSON bodies (see docker_json.h).
 *
 * Integers go out as raw JSON digits (add_i64): cJSON keeps numbers as doubles, and Docker's
 * int64 fields (Memory, NanoCpus, ...) want exact digits without an exponent.
 */
#include "docker_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *docker_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* src (NULL = "") into dst, truncated at dstlen - 1. */
static void scopy(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

int docker_json_get_str(const char *json, size_t len, const char *key, char *out, size_t outlen)
{
    cJSON *o = json && len ? cJSON_ParseWithLength(json, len) : NULL;
    const char *v = docker_json_str(o, key);
    scopy(out, outlen, v);
    cJSON_Delete(o);
    return v ? 0 : DOCKER_EPROTO;
}

/* ---- builders ---- */

static bool add_strings(cJSON *o, const char *key, const char *const *list)
{
    if (!list)
        return true;
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    if (!arr)
        return false;
    for (; *list; list++) {
        cJSON *s = cJSON_CreateString(*list);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return false;
        }
    }
    return true;
}

static bool add_map(cJSON *o, const char *key, const docker_kv_t *kv)
{
    if (!kv)
        return true;
    cJSON *m = cJSON_AddObjectToObject(o, key);
    if (!m)
        return false;
    for (; kv->key; kv++) {
        if (!cJSON_AddStringToObject(m, kv->key, kv->value ? kv->value : ""))
            return false;
    }
    return true;
}

static bool add_i64(cJSON *o, const char *key, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return cJSON_AddRawToObject(o, key, num) != NULL;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
    return !v || cJSON_AddStringToObject(o, key, v) != NULL;
}

static bool spec_host_config(cJSON *hc, const docker_container_spec_t *s)
{
    bool ok = true;
    if (s->memory)
        ok = ok && add_i64(hc, "Memory", s->memory);
    if (s->memory_swap)
        ok = ok && add_i64(hc, "MemorySwap", s->memory_swap);
    if (s->nano_cpus)
        ok = ok && add_i64(hc, "NanoCpus", s->nano_cpus);
    if (s->pids_limit)
        ok = ok && add_i64(hc, "PidsLimit", s->pids_limit);
    if (s->shm_size)
        ok = ok && add_i64(hc, "ShmSize", s->shm_size);
    ok = ok && add_str(hc, "NetworkMode", s->network_mode);
    ok = ok && cJSON_AddBoolToObject(hc, "ReadonlyRootfs", s->readonly_rootfs);
    ok = ok && add_map(hc, "Tmpfs", s->tmpfs);
    ok = ok && add_strings(hc, "CapDrop", s->cap_drop);
    ok = ok && add_strings(hc, "CapAdd", s->cap_add);
    ok = ok && add_strings(hc, "SecurityOpt", s->security_opt);
    ok = ok && cJSON_AddBoolToObject(hc, "Init", s->init);
    ok = ok && cJSON_AddBoolToObject(hc, "AutoRemove", s->auto_remove);
    if (ok && s->ulimit_nofile > 0) {
        cJSON *arr = cJSON_AddArrayToObject(hc, "Ulimits");
        cJSON *u = cJSON_CreateObject();
        ok = arr && u && cJSON_AddItemToArray(arr, u);
        if (!ok)
            cJSON_Delete(u);
        ok = ok && cJSON_AddStringToObject(u, "Name", "nofile");
        ok = ok && add_i64(u, "Soft", s->ulimit_nofile) && add_i64(u, "Hard", s->ulimit_nofile);
    }
    return ok;
}

cJSON *docker_json_container_spec(const docker_container_spec_t *s)
{
    if (!s || !s->image)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "Image", s->image) && add_strings(o, "Cmd", s->cmd) &&
              add_strings(o, "Env", s->env) && add_map(o, "Labels", s->labels) &&
              add_str(o, "User", s->user) && add_str(o, "WorkingDir", s->working_dir) &&
              add_str(o, "Hostname", s->hostname) && add_str(o, "StopSignal", s->stop_signal);
    if (ok && s->stop_timeout > 0)
        ok = add_i64(o, "StopTimeout", s->stop_timeout);
    cJSON *hc = ok ? cJSON_AddObjectToObject(o, "HostConfig") : NULL;
    if (!hc || !spec_host_config(hc, s)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *docker_json_network_create(const char *name, bool internal, const docker_kv_t *labels)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "Name", name) ||
        !cJSON_AddStringToObject(o, "Driver", "bridge") ||
        !cJSON_AddBoolToObject(o, "Internal", internal) ||
        !cJSON_AddBoolToObject(o, "CheckDuplicate", true) || !add_map(o, "Labels", labels)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *docker_json_filters(const docker_kv_t *filters)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;
    if (!o)
        return NULL;
    for (const docker_kv_t *f = filters; f && f->key; f++) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, f->key);
        if (!arr && !(arr = cJSON_AddArrayToObject(o, f->key)))
            goto fail;
        cJSON *v = cJSON_CreateString(f->value ? f->value : "");
        if (!v || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            goto fail;
        }
    }
    out = cJSON_PrintUnformatted(o);
fail:
    cJSON_Delete(o);
    return out;
}

/* ---- parsers ---- */

int docker_json_version(const char *json, size_t len, char *api, size_t api_len, char *server,
                        size_t server_len)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc = docker_json_str(o, "ApiVersion") ? 0 : DOCKER_EPROTO;
    if (rc == 0 && api)
        scopy(api, api_len, docker_json_str(o, "ApiVersion"));
    if (rc == 0 && server)
        scopy(server, server_len, docker_json_str(o, "Version"));
    cJSON_Delete(o);
    return rc;
}

int docker_json_wait(const char *json, size_t len, int *exit_code)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "StatusCode");
    int rc = cJSON_IsNumber(code) ? 0 : DOCKER_EPROTO;
    if (rc == 0 && exit_code)
        *exit_code = code->valueint;
    cJSON_Delete(o);
    return rc;
}

int docker_json_container_info(const char *json, size_t len, const char *network,
                               docker_container_info_t *info)
{
    memset(info, 0, sizeof *info);
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(o) || !docker_json_str(o, "Id")) {
        cJSON_Delete(o);
        return DOCKER_EPROTO;
    }
    scopy(info->id, sizeof info->id, docker_json_str(o, "Id"));
    const char *name = docker_json_str(o, "Name");
    scopy(info->name, sizeof info->name, name && *name == '/' ? name + 1 : name);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "State");
    scopy(info->status, sizeof info->status, docker_json_str(st, "Status"));
    info->running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "Running"));
    info->oom_killed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "OOMKilled"));
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(st, "ExitCode");
    info->exit_code = cJSON_IsNumber(num) ? num->valueint : 0;
    num = cJSON_GetObjectItemCaseSensitive(st, "Pid");
    info->pid = cJSON_IsNumber(num) ? num->valueint : 0;
    scopy(info->error, sizeof info->error, docker_json_str(st, "Error"));
    scopy(info->health, sizeof info->health,
          docker_json_str(cJSON_GetObjectItemCaseSensitive(st, "Health"), "Status"));
    const cJSON *nets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "NetworkSettings"), "Networks");
    const cJSON *net = network ? cJSON_GetObjectItemCaseSensitive(nets, network)
                               : (cJSON_IsObject(nets) ? nets->child : NULL);
    scopy(info->ip, sizeof info->ip, docker_json_str(net, "IPAddress"));
    cJSON_Delete(o);
    return 0;
}

static void fill_container(void *dst, const cJSON *c)
{
    docker_container_summary_t *v = dst;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(c, "Names");
    const cJSON *first = cJSON_IsArray(names) ? names->child : NULL;
    const char *name = cJSON_IsString(first) ? first->valuestring : "";
    scopy(v->id, sizeof v->id, docker_json_str(c, "Id"));
    scopy(v->name, sizeof v->name, *name == '/' ? name + 1 : name);
    scopy(v->image, sizeof v->image, docker_json_str(c, "Image"));
    scopy(v->state, sizeof v->state, docker_json_str(c, "State"));
}

static void fill_network(void *dst, const cJSON *c)
{
    docker_network_t *v = dst;
    scopy(v->id, sizeof v->id, docker_json_str(c, "Id"));
    scopy(v->name, sizeof v->name, docker_json_str(c, "Name"));
    v->internal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "Internal"));
}

/* An array answer into a calloc'ed array of size-byte elements, one per entry with an Id. */
static int parse_list(const char *json, size_t len, size_t size,
                      void (*fill)(void *, const cJSON *), void **out)
{
    cJSON *arr = cJSON_ParseWithLength(json, len);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1, i = 0;
    char *v = NULL;
    *out = NULL;
    if (n < 0) {
        cJSON_Delete(arr);
        return DOCKER_EPROTO;
    }
    if (n > 0 && !(v = calloc((size_t)n, size))) {
        cJSON_Delete(arr);
        return DOCKER_ENOMEM;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (docker_json_str(c, "Id"))
            fill(v + size * (size_t)i++, c);
    }
    cJSON_Delete(arr);
    if (i == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    return i;
}

int docker_json_container_list(const char *json, size_t len, docker_container_summary_t **out)
{
    void *v;
    int rc = parse_list(json, len, sizeof **out, fill_container, &v);
    *out = v;
    return rc;
}

int docker_json_network_list(const char *json, size_t len, docker_network_t **out)
{
    void *v;
    int rc = parse_list(json, len, sizeof **out, fill_network, &v);
    *out = v;
    return rc;
}
