/*
 * docker_client.c - Docker Engine API v1.41 over the unix socket, with libcurl.
 *
 * Theory of operation
 * -------------------
 * Every public call builds a URL (docker_url_new), makes a fresh curl easy handle, performs one
 * request and frees the handle: the client object is read-only, so threads never share curl
 * state. CURLOPT_NOSIGNAL keeps libcurl away from signals (we are multi-threaded), and curl's
 * global init runs once under pthread_once before the first handle.
 *
 * Answers are collected in a bounded buffer (DOCKER_MAX_BODY). Streaming answers (build, events)
 * go through docker_lines_t instead when the status is 2xx: each complete line is handed to a
 * parser while the transfer runs, so a long build reports progress as it happens and memory
 * stays bounded. A non-2xx answer of a streaming call is an ordinary {"message"} body.
 *
 * A line callback that returns non-zero stops the transfer (the write callback returns 0, curl
 * fails with CURLE_WRITE_ERROR, and perform() turns that back into the callback's value: > 0 is
 * a clean stop, < 0 an error). The stop flag of docker_events is polled by curl's transfer-info
 * callback, which curl calls at least once a second even while no data flows.
 */
#include "docker_client.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_BASE_URL "http://localhost/v" DOCKER_API_VERSION
#define DOCKER_CONNECT_TIMEOUT_MS 5000L

struct docker_client {
    char socket[108]; /* sun_path */
    long timeout_ms;
};

typedef struct {
    char *data;
    size_t len, cap;
    bool overflow;
} buf_t;

/* One request: filled by the caller of perform(), results stored back. */
typedef struct {
    const char *method; /* "GET", "POST", "DELETE" */
    const char *url;
    const char *ctype; /* Content-Type of body, or NULL */
    const void *body;
    size_t body_len;
    long timeout_ms;       /* > 0 deadline, 0 client default, < 0 none */
    docker_lines_t *lines; /* streaming: 2xx bodies are fed here */
    const atomic_bool *stop;
    CURL *curl;
    long status;
    buf_t resp;
    int cb_rc;
} req_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- small helpers ---- */

static void scopy(char *dst, size_t dstlen, const char *src)
{
    if (!dstlen)
        return;
    if (!src)
        src = "";
    size_t n = strnlen(src, dstlen - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ASCII only, whatever the locale. */
static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void err_reset(docker_err_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

static int err_set(docker_err_t *err, int code, const char *fmt, const char *arg)
{
    if (err) {
        snprintf(err->msg, sizeof err->msg, fmt, arg ? arg : "");
    }
    return code;
}

static int buf_append(buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > DOCKER_MAX_BODY) {
        b->overflow = true;
        return DOCKER_ETOOBIG;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return DOCKER_ENOMEM;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* ---- pure helpers ---- */

const char *docker_strerror(int code)
{
    static const char *const text[] = {
        [0] = "success",
        [-DOCKER_ENOMEM] = "out of memory",
        [-DOCKER_EINVAL] = "invalid argument",
        [-DOCKER_ECONNECT] = "cannot connect to the Docker daemon",
        [-DOCKER_ETIMEDOUT] = "Docker call timed out",
        [-DOCKER_ETRANSPORT] = "Docker transport error",
        [-DOCKER_EBADREQ] = "Docker rejected the request (400)",
        [-DOCKER_EFORBIDDEN] = "Docker refused the operation (403)",
        [-DOCKER_ENOTFOUND] = "no such object (404)",
        [-DOCKER_ECONFLICT] = "conflict (409)",
        [-DOCKER_ESERVER] = "Docker daemon error (5xx)",
        [-DOCKER_EPROTO] = "unexpected answer from Docker",
        [-DOCKER_ETOOBIG] = "Docker answer too large",
        [-DOCKER_EBUILD] = "image build failed",
        [-DOCKER_ECANCELED] = "canceled",
    };
    if (code > 0 || -code >= (int)(sizeof text / sizeof text[0]) || !text[-code])
        return "unknown Docker client error";
    return text[-code];
}

bool docker_ref_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return false;
    for (const char *p = s; *p; p++) {
        if (!is_alnum((unsigned char)*p) && !strchr("_.:/@-", *p))
            return false;
    }
    return true;
}

char *docker_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_alnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *docker_url_new(const char *path, const docker_kv_t *query)
{
    buf_t b = {0};
    int rc = buf_append(&b, DOCKER_BASE_URL, strlen(DOCKER_BASE_URL));
    rc = rc ? rc : buf_append(&b, path, strlen(path));
    char sep = '?';
    for (const docker_kv_t *q = query; !rc && q && q->key; q++) {
        if (!q->value)
            continue;
        char *v = docker_url_escape(q->value);
        if (!v) {
            rc = DOCKER_ENOMEM;
            break;
        }
        rc = buf_append(&b, &sep, 1);
        rc = rc ? rc : buf_append(&b, q->key, strlen(q->key));
        rc = rc ? rc : buf_append(&b, "=", 1);
        rc = rc ? rc : buf_append(&b, v, strlen(v));
        free(v);
        sep = '&';
    }
    if (rc) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

char *docker_filters_json(const docker_kv_t *filters)
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

int docker_status_error(long status)
{
    if ((status >= 200 && status < 300) || status == 304)
        return 0;
    switch (status) {
    case 400:
        return DOCKER_EBADREQ;
    case 403:
        return DOCKER_EFORBIDDEN;
    case 404:
        return DOCKER_ENOTFOUND;
    case 409:
        return DOCKER_ECONFLICT;
    default:
        return status >= 500 && status < 600 ? DOCKER_ESERVER : DOCKER_EPROTO;
    }
}

int docker_error_from_body(docker_err_t *err, long status, const char *body, size_t len)
{
    int code = docker_status_error(status);
    if (!err)
        return code;
    err->http_status = status;
    err->msg[0] = '\0';
    cJSON *o = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const char *m = jstr(o, "message");
    if (m) {
        scopy(err->msg, sizeof err->msg, m);
    } else if (body && len) {
        size_t n = len < sizeof err->msg - 1 ? len : sizeof err->msg - 1;
        memcpy(err->msg, body, n);
        err->msg[n] = '\0';
    } else {
        snprintf(err->msg, sizeof err->msg, "HTTP %ld", status);
    }
    cJSON_Delete(o);
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == '\r'))
        err->msg[--n] = '\0';
    return code;
}

/* ---- line splitting ---- */

void docker_lines_init(docker_lines_t *lb, docker_line_cb cb, void *arg)
{
    memset(lb, 0, sizeof *lb);
    lb->cb = cb;
    lb->arg = arg;
}

static int lines_emit(docker_lines_t *lb, const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    return lb->cb(lb->arg, p, n);
}

int docker_lines_feed(docker_lines_t *lb, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t chunk = nl ? (size_t)(nl - data) : len;
        int rc = 0;
        if (lb->skipping) {
            /* drop the rest of an over-long line */
        } else if (lb->len + chunk > DOCKER_MAX_LINE) {
            lb->skipping = true;
            lb->len = 0;
        } else if (nl && lb->len == 0) {
            rc = lines_emit(lb, data, chunk); /* a whole line: no copy */
        } else {
            if (lb->len + chunk + 1 > lb->cap) {
                size_t cap = lb->cap ? lb->cap : 1024;
                while (cap < lb->len + chunk + 1)
                    cap *= 2;
                char *nb = realloc(lb->buf, cap);
                if (!nb)
                    return DOCKER_ENOMEM;
                lb->buf = nb;
                lb->cap = cap;
            }
            memcpy(lb->buf + lb->len, data, chunk);
            lb->len += chunk;
            if (nl) {
                lb->buf[lb->len] = '\0';
                rc = lines_emit(lb, lb->buf, lb->len);
                lb->len = 0;
            }
        }
        if (nl)
            lb->skipping = false;
        if (rc)
            return rc;
        data += chunk + (nl ? 1 : 0);
        len -= chunk + (nl ? 1 : 0);
    }
    return 0;
}

int docker_lines_flush(docker_lines_t *lb)
{
    int rc = 0;
    if (!lb->skipping && lb->len)
        rc = lines_emit(lb, lb->buf, lb->len);
    lb->len = 0;
    lb->skipping = false;
    return rc;
}

void docker_lines_free(docker_lines_t *lb)
{
    free(lb->buf);
    lb->buf = NULL;
    lb->len = lb->cap = 0;
}

/* ---- build stream ---- */

static void tail_append(docker_build_state_t *st, const char *s)
{
    size_t n = strlen(s), room = sizeof st->tail - 1;
    if (n >= room) {
        memcpy(st->tail, s + n - room, room);
        st->tail_len = room;
    } else {
        if (st->tail_len + n > room) {
            size_t drop = st->tail_len + n - room;
            memmove(st->tail, st->tail + drop, st->tail_len - drop);
            st->tail_len -= drop;
        }
        memcpy(st->tail + st->tail_len, s, n);
        st->tail_len += n;
    }
    st->tail[st->tail_len] = '\0';
}

int docker_build_parse_line(docker_build_state_t *st, const char *line, size_t len)
{
    cJSON *o = len ? cJSON_ParseWithLength(line, len) : NULL;
    int rc = 0;
    if (!cJSON_IsObject(o))
        goto out; /* blank or not JSON: ignore */
    const char *stream = jstr(o, "stream");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "errorDetail");
    const char *error = jstr(o, "error");
    const char *dmsg = jstr(detail, "message");
    if (error || dmsg) {
        scopy(st->error, sizeof st->error, dmsg ? dmsg : error);
        size_t n = strlen(st->error);
        while (n && (st->error[n - 1] == '\n' || st->error[n - 1] == '\r'))
            st->error[--n] = '\0';
        st->failed = true;
        rc = DOCKER_EBUILD;
        goto out;
    }
    if (stream) {
        if (strncmp(stream, "Step ", 5) == 0) {
            size_t n = strcspn(stream, "\r\n");
            if (n >= sizeof st->step)
                n = sizeof st->step - 1;
            memcpy(st->step, stream, n);
            st->step[n] = '\0';
        }
        tail_append(st, stream);
        if (st->progress && st->progress(st->progress_arg, stream) != 0)
            rc = DOCKER_ECANCELED;
    }
    const char *id = jstr(cJSON_GetObjectItemCaseSensitive(o, "aux"), "ID");
    if (id)
        scopy(st->image_id, sizeof st->image_id, id);
out:
    cJSON_Delete(o);
    return rc;
}

/* ---- container create body ---- */

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

/* Integers as raw JSON text: cJSON stores doubles, and Docker's int64 fields want digits. */
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

cJSON *docker_container_spec_json(const docker_container_spec_t *s)
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

/* ---- answer parsing ---- */

int docker_container_info_parse(const char *json, size_t len, const char *network,
                                docker_container_info_t *info)
{
    memset(info, 0, sizeof *info);
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(o) || !jstr(o, "Id")) {
        cJSON_Delete(o);
        return DOCKER_EPROTO;
    }
    scopy(info->id, sizeof info->id, jstr(o, "Id"));
    const char *name = jstr(o, "Name");
    scopy(info->name, sizeof info->name, name && *name == '/' ? name + 1 : name);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "State");
    scopy(info->status, sizeof info->status, jstr(st, "Status"));
    info->running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "Running"));
    info->oom_killed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "OOMKilled"));
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(st, "ExitCode");
    info->exit_code = cJSON_IsNumber(num) ? num->valueint : 0;
    num = cJSON_GetObjectItemCaseSensitive(st, "Pid");
    info->pid = cJSON_IsNumber(num) ? num->valueint : 0;
    scopy(info->error, sizeof info->error, jstr(st, "Error"));
    scopy(info->health, sizeof info->health,
          jstr(cJSON_GetObjectItemCaseSensitive(st, "Health"), "Status"));
    const cJSON *nets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "NetworkSettings"), "Networks");
    const cJSON *net = network ? cJSON_GetObjectItemCaseSensitive(nets, network)
                               : (cJSON_IsObject(nets) ? nets->child : NULL);
    scopy(info->ip, sizeof info->ip, jstr(net, "IPAddress"));
    cJSON_Delete(o);
    return 0;
}

static int parse_container_list(const char *json, size_t len, docker_container_summary_t **out)
{
    cJSON *arr = cJSON_ParseWithLength(json, len);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1, i = 0;
    docker_container_summary_t *v = NULL;
    *out = NULL;
    if (n < 0) {
        cJSON_Delete(arr);
        return DOCKER_EPROTO;
    }
    if (n > 0 && !(v = calloc((size_t)n, sizeof *v))) {
        cJSON_Delete(arr);
        return DOCKER_ENOMEM;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (!jstr(c, "Id"))
            continue;
        scopy(v[i].id, sizeof v[i].id, jstr(c, "Id"));
        const cJSON *names = cJSON_GetObjectItemCaseSensitive(c, "Names");
        const cJSON *first = cJSON_IsArray(names) ? names->child : NULL;
        const char *name = cJSON_IsString(first) ? first->valuestring : "";
        scopy(v[i].name, sizeof v[i].name, *name == '/' ? name + 1 : name);
        scopy(v[i].image, sizeof v[i].image, jstr(c, "Image"));
        scopy(v[i].state, sizeof v[i].state, jstr(c, "State"));
        i++;
    }
    cJSON_Delete(arr);
    if (i == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    return i;
}

static int parse_network_list(const char *json, size_t len, docker_network_t **out)
{
    cJSON *arr = cJSON_ParseWithLength(json, len);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1, i = 0;
    docker_network_t *v = NULL;
    *out = NULL;
    if (n < 0) {
        cJSON_Delete(arr);
        return DOCKER_EPROTO;
    }
    if (n > 0 && !(v = calloc((size_t)n, sizeof *v))) {
        cJSON_Delete(arr);
        return DOCKER_ENOMEM;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (!jstr(c, "Id"))
            continue;
        scopy(v[i].id, sizeof v[i].id, jstr(c, "Id"));
        scopy(v[i].name, sizeof v[i].name, jstr(c, "Name"));
        v[i].internal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "Internal"));
        i++;
    }
    cJSON_Delete(arr);
    if (i == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    return i;
}

size_t docker_logs_demux(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    size_t o = 0, i = 0;
    if (!outlen)
        return 0;
    while (i < len && o < outlen - 1) {
        const unsigned char *h = in + i;
        bool framed = len - i >= 8 && h[0] <= 2 && !h[1] && !h[2] && !h[3];
        size_t n;
        if (framed) {
            n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
            i += 8;
            if (n > len - i)
                n = len - i;
        } else {
            n = len - i; /* not a frame: copy the rest as it is */
        }
        size_t c = n < outlen - 1 - o ? n : outlen - 1 - o;
        memcpy(out + o, in + i, c);
        o += c;
        i += n;
    }
    out[o] = '\0';
    return o;
}

/* ---- transport ---- */

docker_client_t *docker_client_new(const char *socket_path, long default_timeout_ms)
{
    if (!socket_path || !*socket_path)
        socket_path = DOCKER_DEFAULT_SOCKET;
    if (strlen(socket_path) >= sizeof((docker_client_t *)0)->socket)
        return NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return NULL;
    docker_client_t *dc = calloc(1, sizeof *dc);
    if (!dc)
        return NULL;
    scopy(dc->socket, sizeof dc->socket, socket_path);
    dc->timeout_ms = default_timeout_ms > 0 ? default_timeout_ms : 30000;
    return dc;
}

void docker_client_free(docker_client_t *dc)
{
    free(dc);
}

const char *docker_client_socket(const docker_client_t *dc)
{
    return dc->socket;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    req_t *r = userdata;
    size_t n = size * nmemb;
    if (r->lines) {
        if (!r->status)
            curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->status >= 200 && r->status < 300) {
            int rc = docker_lines_feed(r->lines, ptr, n);
            if (rc) {
                r->cb_rc = rc;
                return 0;
            }
            return n;
        }
    }
    return buf_append(&r->resp, ptr, n) == 0 ? n : 0;
}

static int on_xferinfo(void *p, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    const req_t *r = p;
    return r->stop && atomic_load(r->stop) ? 1 : 0;
}

static int map_curl(docker_client_t *dc, req_t *r, CURLcode cc, const char *ebuf, docker_err_t *err)
{
    const char *detail = *ebuf ? ebuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_OK:
        return 0;
    case CURLE_WRITE_ERROR:
        if (r->cb_rc)
            return r->cb_rc > 0 ? 0 : err_set(err, r->cb_rc, "%s", docker_strerror(r->cb_rc));
        if (r->resp.overflow)
            return err_set(err, DOCKER_ETOOBIG, "%s", "answer larger than DOCKER_MAX_BODY");
        return err_set(err, DOCKER_ENOMEM, "%s", detail);
    case CURLE_ABORTED_BY_CALLBACK:
        return err_set(err, DOCKER_ECANCELED, "%s", "stopped");
    case CURLE_COULDNT_CONNECT:
        if (err)
            snprintf(err->msg, sizeof err->msg, "cannot connect to %s: %s", dc->socket, detail);
        return DOCKER_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return err_set(err, DOCKER_ETIMEDOUT, "%s", detail);
    case CURLE_OUT_OF_MEMORY:
        return err_set(err, DOCKER_ENOMEM, "%s", detail);
    default:
        return err_set(err, DOCKER_ETRANSPORT, "%s", detail);
    }
}

/* Performs r. Returns 0 when an HTTP answer arrived (status in r->status, body in r->resp
 * unless streamed), or a transport error. */
static int perform(docker_client_t *dc, req_t *r, docker_err_t *err)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *h;
    int rc;
    CURL *c = r->curl = curl_easy_init();
    if (!c)
        return err_set(err, DOCKER_ENOMEM, "%s", "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, dc->socket);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
    long t = r->timeout_ms ? r->timeout_ms : dc->timeout_ms;
    if (t > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t);
    if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        /* No "Expect: 100-continue" round trip for large build contexts. */
        if (!(h = curl_slist_append(hdrs, "Expect:"))) {
            rc = err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
            goto fail;
        }
        hdrs = h;
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (r->ctype) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", r->ctype);
        if (!(h = curl_slist_append(hdrs, ct))) {
            rc = err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
            goto fail;
        }
        hdrs = h;
    }
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (r->stop) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (err)
        err->http_status = r->status;
    rc = map_curl(dc, r, cc, ebuf, err);
fail:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->curl = NULL;
    return rc;
}

/*
 * One ordinary call: method + path + query, optional body, bounded answer. Returns 0 for 2xx and
 * 304 (status in *status when not NULL; answer in *resp when not NULL, caller frees resp->data),
 * else the mapped error with the daemon's message in err.
 */
static int call(docker_client_t *dc, const char *method, const char *path, const docker_kv_t *query,
                const char *ctype, const void *body, size_t body_len, long timeout_ms, long *status,
                buf_t *resp, docker_err_t *err)
{
    req_t r = {.method = method,
               .ctype = ctype,
               .body = body,
               .body_len = body_len,
               .timeout_ms = timeout_ms};
    char *url = docker_url_new(path, query);
    if (!url)
        return err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    r.url = url;
    int rc = perform(dc, &r, err);
    if (rc == 0) {
        if (status)
            *status = r.status;
        rc = docker_status_error(r.status);
        if (rc)
            docker_error_from_body(err, r.status, r.resp.data, r.resp.len);
    }
    if (rc == 0 && resp) {
        *resp = r.resp;
        r.resp.data = NULL;
        if (!resp->data && buf_append(resp, "", 0) != 0) /* always a string */
            rc = err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    }
    free(r.resp.data);
    free(url);
    return rc;
}

static int call_json(docker_client_t *dc, const char *path, const docker_kv_t *query,
                     const cJSON *body, long *status, buf_t *resp, docker_err_t *err)
{
    char *text = cJSON_PrintUnformatted(body);
    if (!text)
        return err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    int rc =
        call(dc, "POST", path, query, "application/json", text, strlen(text), 0, status, resp, err);
    free(text);
    return rc;
}

static int path_for(char *out, size_t outlen, const char *fmt, const char *ref, docker_err_t *err)
{
    if (!docker_ref_ok(ref))
        return err_set(err, DOCKER_EINVAL, "invalid name or id: '%.200s'", ref);
    if ((size_t)snprintf(out, outlen, fmt, ref) >= outlen)
        return err_set(err, DOCKER_EINVAL, "%s", "name too long");
    return 0;
}

/* ---- API calls ---- */

int docker_ping(docker_client_t *dc, long timeout_ms, docker_err_t *err)
{
    buf_t b = {0};
    err_reset(err);
    int rc = call(dc, "GET", "/_ping", NULL, NULL, NULL, 0, timeout_ms, NULL, &b, err);
    if (rc == 0 && strncmp(b.data, "OK", 2) != 0)
        rc = err_set(err, DOCKER_EPROTO, "unexpected _ping answer '%.64s'", b.data);
    free(b.data);
    return rc;
}

int docker_version(docker_client_t *dc, char *api, size_t api_len, char *server, size_t server_len,
                   docker_err_t *err)
{
    buf_t b = {0};
    err_reset(err);
    int rc = call(dc, "GET", "/version", NULL, NULL, NULL, 0, 0, NULL, &b, err);
    if (rc)
        return rc;
    cJSON *o = cJSON_ParseWithLength(b.data, b.len);
    if (!jstr(o, "ApiVersion")) {
        rc = err_set(err, DOCKER_EPROTO, "%s", "version answer without ApiVersion");
    } else {
        if (api)
            scopy(api, api_len, jstr(o, "ApiVersion"));
        if (server)
            scopy(server, server_len, jstr(o, "Version"));
    }
    cJSON_Delete(o);
    free(b.data);
    return rc;
}

int docker_image_inspect(docker_client_t *dc, const char *name, char id_out[DOCKER_ID_LEN],
                         docker_err_t *err)
{
    char path[320];
    buf_t b = {0};
    err_reset(err);
    int rc = path_for(path, sizeof path, "/images/%s/json", name, err);
    rc = rc ? rc : call(dc, "GET", path, NULL, NULL, NULL, 0, 0, NULL, &b, err);
    if (rc == 0 && id_out) {
        cJSON *o = cJSON_ParseWithLength(b.data, b.len);
        scopy(id_out, DOCKER_ID_LEN, jstr(o, "Id"));
        cJSON_Delete(o);
    }
    free(b.data);
    return rc;
}

static int build_line(void *arg, const char *line, size_t len)
{
    int rc = docker_build_parse_line(arg, line, len);
    return rc == DOCKER_EBUILD ? 0 : rc; /* read on to the end; the state remembers */
}

int docker_build(docker_client_t *dc, const void *tar, size_t tar_len,
                 const docker_build_opts_t *opts, char id_out[DOCKER_ID_LEN], docker_err_t *err)
{
    docker_build_state_t st = {.progress = opts->progress, .progress_arg = opts->progress_arg};
    docker_lines_t lb;
    req_t r = {.method = "POST",
               .ctype = "application/x-tar",
               .body = tar,
               .body_len = tar_len,
               .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : -1,
               .lines = &lb};
    err_reset(err);
    if (id_out)
        id_out[0] = '\0';
    if (!docker_ref_ok(opts->tag))
        return err_set(err, DOCKER_EINVAL, "invalid image tag '%.200s'", opts->tag);
    const docker_kv_t query[] = {
        {"t", opts->tag},
        {"dockerfile", opts->dockerfile},
        {"buildargs", opts->buildargs_json},
        {"labels", opts->labels_json},
        {"rm", "1"},
        {"forcerm", "1"},
        {"nocache", opts->nocache ? "1" : NULL},
        {NULL, NULL},
    };
    char *url = docker_url_new("/build", query);
    if (!url)
        return err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    r.url = url;
    docker_lines_init(&lb, build_line, &st);
    int rc = perform(dc, &r, err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = docker_error_from_body(err, r.status, r.resp.data, r.resp.len);
    else if (rc == 0)
        rc = docker_lines_flush(&lb) == DOCKER_ECANCELED ? DOCKER_ECANCELED : 0;
    if ((rc == 0 || rc == DOCKER_ECANCELED) && st.failed) {
        rc = DOCKER_EBUILD;
        if (err) {
            scopy(err->msg, sizeof err->msg, st.error);
            scopy(err->step, sizeof err->step, st.step);
            scopy(err->tail, sizeof err->tail, st.tail);
        }
    } else if (rc == 0 && id_out) {
        scopy(id_out, DOCKER_ID_LEN, st.image_id);
    }
    docker_lines_free(&lb);
    free(r.resp.data);
    free(url);
    return rc;
}

int docker_network_create(docker_client_t *dc, const char *name, bool internal,
                          const docker_kv_t *labels, char id_out[DOCKER_ID_LEN], docker_err_t *err)
{
    buf_t b = {0};
    int rc = DOCKER_ENOMEM;
    err_reset(err);
    if (!docker_ref_ok(name))
        return err_set(err, DOCKER_EINVAL, "invalid network name '%.200s'", name);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "Name", name) ||
        !cJSON_AddStringToObject(o, "Driver", "bridge") ||
        !cJSON_AddBoolToObject(o, "Internal", internal) ||
        !cJSON_AddBoolToObject(o, "CheckDuplicate", true) || !add_map(o, "Labels", labels)) {
        err_set(err, rc, "%s", "out of memory");
        goto fail;
    }
    rc = call_json(dc, "/networks/create", NULL, o, NULL, &b, err);
    if (rc == 0 && id_out) {
        cJSON *a = cJSON_ParseWithLength(b.data, b.len);
        scopy(id_out, DOCKER_ID_LEN, jstr(a, "Id"));
        cJSON_Delete(a);
    }
fail:
    cJSON_Delete(o);
    free(b.data);
    return rc;
}

int docker_network_remove(docker_client_t *dc, const char *id_or_name, docker_err_t *err)
{
    char path[320];
    err_reset(err);
    int rc = path_for(path, sizeof path, "/networks/%s", id_or_name, err);
    return rc ? rc : call(dc, "DELETE", path, NULL, NULL, NULL, 0, 0, NULL, NULL, err);
}

/* GET path?[all=1&]filters=... into b. */
static int list_call(docker_client_t *dc, const char *path, bool all, const docker_kv_t *filters,
                     buf_t *b, docker_err_t *err)
{
    char *f = filters && filters->key ? docker_filters_json(filters) : NULL;
    if (filters && filters->key && !f)
        return err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    const docker_kv_t query[] = {{"all", all ? "1" : NULL}, {"filters", f}, {NULL, NULL}};
    int rc = call(dc, "GET", path, query, NULL, NULL, 0, 0, NULL, b, err);
    free(f);
    return rc;
}

int docker_network_list(docker_client_t *dc, const docker_kv_t *filters, docker_network_t **out,
                        docker_err_t *err)
{
    buf_t b = {0};
    *out = NULL;
    err_reset(err);
    int rc = list_call(dc, "/networks", false, filters, &b, err);
    if (rc == 0 && (rc = parse_network_list(b.data, b.len, out)) < 0)
        err_set(err, rc, "%s", "cannot parse the network list");
    free(b.data);
    return rc;
}

int docker_container_create(docker_client_t *dc, const char *name, const cJSON *body,
                            char id_out[DOCKER_ID_LEN], docker_err_t *err)
{
    buf_t b = {0};
    err_reset(err);
    id_out[0] = '\0';
    if (name && !docker_ref_ok(name))
        return err_set(err, DOCKER_EINVAL, "invalid container name '%.200s'", name);
    const docker_kv_t query[] = {{"name", name}, {NULL, NULL}};
    int rc = call_json(dc, "/containers/create", query, body, NULL, &b, err);
    if (rc == 0) {
        cJSON *o = cJSON_ParseWithLength(b.data, b.len);
        scopy(id_out, DOCKER_ID_LEN, jstr(o, "Id"));
        cJSON_Delete(o);
        if (!*id_out)
            rc = err_set(err, DOCKER_EPROTO, "%s", "create answer without Id");
    }
    free(b.data);
    return rc;
}

int docker_container_start(docker_client_t *dc, const char *id, docker_err_t *err)
{
    char path[320];
    err_reset(err);
    int rc = path_for(path, sizeof path, "/containers/%s/start", id, err);
    return rc ? rc : call(dc, "POST", path, NULL, NULL, NULL, 0, 0, NULL, NULL, err);
}

int docker_container_stop(docker_client_t *dc, const char *id, int timeout_s, docker_err_t *err)
{
    char path[320], t[16];
    err_reset(err);
    if (timeout_s < 0)
        timeout_s = 0;
    snprintf(t, sizeof t, "%d", timeout_s);
    const docker_kv_t query[] = {{"t", t}, {NULL, NULL}};
    int rc = path_for(path, sizeof path, "/containers/%s/stop", id, err);
    return rc ? rc
              : call(dc, "POST", path, query, NULL, NULL, 0, (timeout_s + 30) * 1000L, NULL, NULL,
                     err);
}

int docker_container_kill(docker_client_t *dc, const char *id, const char *sig, docker_err_t *err)
{
    char path[320];
    err_reset(err);
    const docker_kv_t query[] = {{"signal", sig}, {NULL, NULL}};
    int rc = path_for(path, sizeof path, "/containers/%s/kill", id, err);
    return rc ? rc : call(dc, "POST", path, query, NULL, NULL, 0, 0, NULL, NULL, err);
}

int docker_container_remove(docker_client_t *dc, const char *id, bool force, docker_err_t *err)
{
    char path[320];
    err_reset(err);
    const docker_kv_t query[] = {{"v", "1"}, {"force", force ? "1" : NULL}, {NULL, NULL}};
    int rc = path_for(path, sizeof path, "/containers/%s", id, err);
    return rc ? rc : call(dc, "DELETE", path, query, NULL, NULL, 0, 0, NULL, NULL, err);
}

int docker_container_inspect(docker_client_t *dc, const char *id, const char *network,
                             docker_container_info_t *info, docker_err_t *err)
{
    char path[320];
    buf_t b = {0};
    err_reset(err);
    memset(info, 0, sizeof *info);
    int rc = path_for(path, sizeof path, "/containers/%s/json", id, err);
    rc = rc ? rc : call(dc, "GET", path, NULL, NULL, NULL, 0, 0, NULL, &b, err);
    if (rc == 0 && (rc = docker_container_info_parse(b.data, b.len, network, info)) != 0)
        err_set(err, rc, "%s", "cannot parse the inspect answer");
    free(b.data);
    return rc;
}

int docker_container_list(docker_client_t *dc, const docker_kv_t *filters,
                          docker_container_summary_t **out, docker_err_t *err)
{
    buf_t b = {0};
    *out = NULL;
    err_reset(err);
    int rc = list_call(dc, "/containers/json", true, filters, &b, err);
    if (rc == 0 && (rc = parse_container_list(b.data, b.len, out)) < 0)
        err_set(err, rc, "%s", "cannot parse the container list");
    free(b.data);
    return rc;
}

int docker_container_wait(docker_client_t *dc, const char *id, long timeout_ms, int *exit_code,
                          docker_err_t *err)
{
    char path[320];
    buf_t b = {0};
    err_reset(err);
    const docker_kv_t query[] = {{"condition", "not-running"}, {NULL, NULL}};
    int rc = path_for(path, sizeof path, "/containers/%s/wait", id, err);
    rc = rc ? rc
            : call(dc, "POST", path, query, NULL, NULL, 0, timeout_ms > 0 ? timeout_ms : -1, NULL,
                   &b, err);
    if (rc == 0) {
        cJSON *o = cJSON_ParseWithLength(b.data, b.len);
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "StatusCode");
        if (cJSON_IsNumber(code)) {
            if (exit_code)
                *exit_code = code->valueint;
        } else {
            rc = err_set(err, DOCKER_EPROTO, "%s", "wait answer without StatusCode");
        }
        cJSON_Delete(o);
    }
    free(b.data);
    return rc;
}

int docker_container_logs(docker_client_t *dc, const char *id, int lines, char *out, size_t outlen,
                          docker_err_t *err)
{
    char path[320], tail[16];
    buf_t b = {0};
    err_reset(err);
    if (outlen)
        out[0] = '\0';
    snprintf(tail, sizeof tail, "%d", lines > 0 ? lines : 100);
    const docker_kv_t query[] = {{"stdout", "1"}, {"stderr", "1"}, {"tail", tail}, {NULL, NULL}};
    int rc = path_for(path, sizeof path, "/containers/%s/logs", id, err);
    rc = rc ? rc : call(dc, "GET", path, query, NULL, NULL, 0, 0, NULL, &b, err);
    if (rc == 0)
        rc = (int)docker_logs_demux((const unsigned char *)b.data, b.len, out, outlen);
    free(b.data);
    return rc;
}

typedef struct {
    docker_event_cb cb;
    void *arg;
} events_ctx_t;

static int event_line(void *arg, const char *line, size_t len)
{
    events_ctx_t *ec = arg;
    cJSON *o = len ? cJSON_ParseWithLength(line, len) : NULL;
    int rc = cJSON_IsObject(o) && ec->cb(ec->arg, o) != 0 ? 1 : 0; /* > 0: clean stop */
    cJSON_Delete(o);
    return rc;
}

int docker_events(docker_client_t *dc, const docker_kv_t *filters, docker_event_cb cb, void *arg,
                  const atomic_bool *stop, docker_err_t *err)
{
    events_ctx_t ec = {cb, arg};
    docker_lines_t lb;
    req_t r = {.method = "GET", .timeout_ms = -1, .lines = &lb, .stop = stop};
    err_reset(err);
    char *f = filters && filters->key ? docker_filters_json(filters) : NULL;
    const docker_kv_t query[] = {{"filters", f}, {NULL, NULL}};
    char *url = (!filters || !filters->key || f) ? docker_url_new("/events", query) : NULL;
    free(f);
    if (!url)
        return err_set(err, DOCKER_ENOMEM, "%s", "out of memory");
    r.url = url;
    docker_lines_init(&lb, event_line, &ec);
    int rc = perform(dc, &r, err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = docker_error_from_body(err, r.status, r.resp.data, r.resp.len);
    docker_lines_free(&lb);
    free(r.resp.data);
    free(url);
    return rc;
}
