/*
 * apikeys.c - API keys, their per-minute token buckets and concurrent-run counters (see
 * apikeys.h for the file format and the ownership rules).
 *
 * Keys are kept as SHA-256 digests; a token is hashed once and compared with every stored
 * digest with a branch-free loop, so neither the position of a match nor the length of a key
 * shows in the time taken. Entries are never freed before apikeys_free: a reload edits them
 * in place under the mutex, so pointers handed out stay valid.
 */
#include "apikeys.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cg_util.h"
#include "sha256.h"

#define KEY_MIN 16
#define KEY_MAX 256
#define NAME_MAX_LEN 64

struct apikey {
    char name[NAME_MAX_LEN + 1];
    unsigned char digest[32];
    int rpm, concurrent;
    bool admin; /* admin=1: the admin endpoints (dead letters) */
    bool active;
    /* token bucket: tokens at bucket_ms */
    double tokens;
    int64_t bucket_ms;
    int running;
    uint64_t n_ok, n_rate, n_conc;
    struct apikey *next;
};

struct apikeys {
    pthread_mutex_t mu;
    char path[4096];
    bool enabled;
    apikey_t *keys; /* every entry ever loaded; inactive ones are skipped */
    uint64_t refused;
    int64_t (*now_ms)(void);
};

static apikey_t anonymous = {.name = "anonymous", .active = true};

/* One parsed line. */
typedef struct {
    char name[NAME_MAX_LEN + 1];
    unsigned char digest[32];
    int rpm, concurrent, admin;
} line_t;

static void digest_of(const char *s, size_t n, unsigned char out[32])
{
    cg_sha256_t h;

    cg_sha256_init(&h);
    cg_sha256_update(&h, s, n);
    cg_sha256_final(&h, out);
}

static bool name_ok(const char *s, size_t n)
{
    if (n < 1 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static int limit_of(const char *w, const char *what, int *out)
{
    size_t n = strlen(what);
    char *end;
    long v;

    if (strncmp(w, what, n) != 0 || w[n] != '=' || !isdigit((unsigned char)w[n + 1]))
        return -1;
    errno = 0;
    v = strtol(w + n + 1, &end, 10);
    if (errno || *end || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Parses one non-comment line into l. Returns NULL or what is wrong. */
static const char *parse_line(char *s, line_t *l)
{
    char *save = NULL, *w;
    int i = 0;

    memset(l, 0, sizeof *l);
    for (w = strtok_r(s, " \t", &save); w; w = strtok_r(NULL, " \t", &save), i++) {
        size_t n = strlen(w);
        if (i == 0) {
            if (!name_ok(w, n))
                return "the name must be 1-64 characters of [A-Za-z0-9_.-]";
            memcpy(l->name, w, n + 1);
        } else if (i == 1) {
            if (n < KEY_MIN || n > KEY_MAX)
                return "the key must be 16 to 256 characters";
            for (size_t k = 0; k < n; k++)
                if (!isgraph((unsigned char)w[k]))
                    return "the key must be printable ASCII without blanks";
            digest_of(w, n, l->digest);
        } else if (limit_of(w, "rpm", &l->rpm) != 0 &&
                   limit_of(w, "concurrent", &l->concurrent) != 0 &&
                   (limit_of(w, "admin", &l->admin) != 0 || l->admin > 1)) {
            return "expected rpm=N, concurrent=N or admin=0|1 after the key";
        }
    }
    return i >= 2 ? NULL : "expected: name key [rpm=N] [concurrent=N] [admin=1]";
}

/* Reads the file into a new array (*out, *n). 0 or -1 with err. */
static int read_file(const char *path, line_t **out, int *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char buf[1024];
    line_t *lines = NULL;
    int cnt = 0, lineno = 0;

    *out = NULL;
    *n = 0;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(buf, sizeof buf, f)) {
        char *s = buf;
        const char *why;
        line_t l, *grown;
        lineno++;
        if (!strchr(buf, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        s[strcspn(s, "\r\n")] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if ((why = parse_line(s, &l)) != NULL) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            goto fail;
        }
        for (int i = 0; i < cnt; i++)
            if (!strcmp(lines[i].name, l.name) || !memcmp(lines[i].digest, l.digest, 32)) {
                snprintf(err, errlen, "%s:%d: duplicate name or key (%s)", path, lineno, l.name);
                goto fail;
            }
        grown = realloc(lines, (size_t)(cnt + 1) * sizeof *lines);
        if (!grown) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        lines = grown;
        lines[cnt++] = l;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    if (cnt == 0) {
        free(lines);
        snprintf(err, errlen, "%s: no keys (every request would be refused)", path);
        return -1;
    }
    *out = lines;
    *n = cnt;
    return 0;
fail:
    fclose(f);
    free(lines);
    return -1;
}

int apikeys_reload(apikeys_t *ks, char *err, size_t errlen)
{
    line_t *lines;
    int n;

    if (!ks->enabled)
        return 0;
    if (read_file(ks->path, &lines, &n, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&ks->mu);
    for (apikey_t *k = ks->keys; k; k = k->next)
        k->active = false;
    for (int i = 0; i < n; i++) {
        apikey_t *k;
        for (k = ks->keys; k && strcmp(k->name, lines[i].name) != 0; k = k->next)
            ;
        if (!k && (k = calloc(1, sizeof *k)) != NULL) {
            memcpy(k->name, lines[i].name, sizeof k->name);
            k->bucket_ms = ks->now_ms();
            k->tokens = lines[i].rpm;
            k->next = ks->keys;
            ks->keys = k;
        }
        if (!k)
            continue; /* out of memory: this key is refused until the next reload */
        memcpy(k->digest, lines[i].digest, 32);
        if (k->rpm != lines[i].rpm && k->tokens > lines[i].rpm)
            k->tokens = lines[i].rpm;
        k->rpm = lines[i].rpm;
        k->concurrent = lines[i].concurrent;
        k->admin = lines[i].admin == 1;
        k->active = true;
    }
    pthread_mutex_unlock(&ks->mu);
    free(lines);
    return 0;
}

apikeys_t *apikeys_new(const char *path, char *err, size_t errlen)
{
    apikeys_t *ks = calloc(1, sizeof *ks);

    if (!ks) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ks->mu, NULL);
    ks->now_ms = cg_now_ms;
    if (path && path[0]) {
        if (strlen(path) >= sizeof ks->path) {
            snprintf(err, errlen, "the keys file path is too long");
            apikeys_free(ks);
            return NULL;
        }
        snprintf(ks->path, sizeof ks->path, "%s", path);
        ks->enabled = true;
        if (apikeys_reload(ks, err, errlen) != 0) {
            apikeys_free(ks);
            return NULL;
        }
    }
    return ks;
}

void apikeys_free(apikeys_t *ks)
{
    if (!ks)
        return;
    for (apikey_t *k = ks->keys, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    pthread_mutex_destroy(&ks->mu);
    free(ks);
}

bool apikeys_enabled(const apikeys_t *ks)
{
    return ks && ks->enabled;
}

void apikeys_set_clock(apikeys_t *ks, int64_t (*now_ms)(void))
{
    ks->now_ms = now_ms;
}

const char *apikeys_bearer(const char *value)
{
    if (!value)
        return NULL;
    while (*value == ' ')
        value++;
    if (strncasecmp(value, "Bearer", 6) != 0 || (value[6] != ' ' && value[6] != '\t'))
        return NULL;
    value += 6;
    while (*value == ' ' || *value == '\t')
        value++;
    return *value ? value : NULL;
}

const apikey_t *apikeys_authenticate(apikeys_t *ks, const char *token)
{
    unsigned char d[32];
    apikey_t *found = NULL;

    if (!apikeys_enabled(ks))
        return &anonymous;
    if (!token)
        return NULL;
    digest_of(token, strlen(token), d);
    pthread_mutex_lock(&ks->mu);
    for (apikey_t *k = ks->keys; k; k = k->next) {
        unsigned diff = 0;
        for (int i = 0; i < 32; i++)
            diff |= (unsigned)(k->digest[i] ^ d[i]);
        /* Every entry is compared in full; the select below does not branch on diff. */
        uintptr_t m = (uintptr_t)0 - (uintptr_t)((diff == 0) & k->active);
        found = (apikey_t *)(((uintptr_t)k & m) | ((uintptr_t)found & ~m));
    }
    pthread_mutex_unlock(&ks->mu);
    return found;
}

const apikey_t *apikeys_find(apikeys_t *ks, const char *name)
{
    apikey_t *k;

    if (!apikeys_enabled(ks))
        return &anonymous;
    pthread_mutex_lock(&ks->mu);
    for (k = ks->keys; k && !(k->active && name && !strcmp(k->name, name)); k = k->next)
        ;
    pthread_mutex_unlock(&ks->mu);
    return k;
}

bool apikeys_is_admin(apikeys_t *ks, const apikey_t *k)
{
    bool admin;

    pthread_mutex_lock(&ks->mu);
    admin = k->admin && k->active;
    pthread_mutex_unlock(&ks->mu);
    return admin;
}

const char *apikey_name(const apikey_t *k)
{
    return k ? k->name : "";
}

/* Refills k's bucket up to now. Caller holds the mutex. */
static void refill(apikeys_t *ks, apikey_t *k)
{
    int64_t now = ks->now_ms();

    if (now > k->bucket_ms) {
        k->tokens += (double)(now - k->bucket_ms) * k->rpm / 60000.0;
        if (k->tokens > k->rpm)
            k->tokens = k->rpm;
    }
    k->bucket_ms = now;
}

/* Whole seconds, rounded up; the margin absorbs the rounding of the refill arithmetic. */
static int ceil_s(double s)
{
    s -= 1e-6;
    return s <= 0 ? 0 : (int)s + ((double)(int)s < s);
}

static void fill_quota(const apikey_t *k, apikey_quota_t *q)
{
    if (!q)
        return;
    memset(q, 0, sizeof *q);
    q->limit = k->rpm;
    if (k->rpm <= 0)
        return;
    q->remaining = (int)k->tokens;
    q->reset_s = ceil_s((k->rpm - k->tokens) * 60.0 / k->rpm);
    q->retry_after = k->tokens >= 1 ? 0 : ceil_s((1 - k->tokens) * 60.0 / k->rpm);
    if (q->retry_after == 0 && k->tokens < 1)
        q->retry_after = 1;
}

/* The entry to apply quotas to, locked; NULL (q zeroed) when keys are off or k is anonymous. */
static apikey_t *lock_limited(apikeys_t *ks, const apikey_t *ck, apikey_quota_t *q)
{
    if (q)
        memset(q, 0, sizeof *q);
    if (!apikeys_enabled(ks) || ck == &anonymous)
        return NULL;
    pthread_mutex_lock(&ks->mu);
    return (apikey_t *)ck;
}

int apikeys_take_request(apikeys_t *ks, const apikey_t *ck, apikey_quota_t *q)
{
    apikey_t *k = lock_limited(ks, ck, q);
    int rc = 0;

    if (!k)
        return 0;
    if (k->rpm > 0) {
        refill(ks, k);
        if (k->tokens >= 1)
            k->tokens -= 1;
        else
            rc = -1;
    }
    if (rc == 0)
        k->n_ok++;
    else
        k->n_rate++;
    fill_quota(k, q);
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

int apikeys_acquire(apikeys_t *ks, const apikey_t *ck, apikey_quota_t *q)
{
    apikey_t *k = lock_limited(ks, ck, q);
    int rc = 0;

    if (!k)
        return 0;
    if (k->concurrent > 0 && k->running >= k->concurrent) {
        rc = -1;
        k->n_conc++;
    } else {
        k->running++;
    }
    if (k->rpm > 0)
        refill(ks, k);
    fill_quota(k, q);
    if (rc && q)
        q->retry_after = q->retry_after > 1 ? q->retry_after : 1;
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

void apikeys_release(apikeys_t *ks, const apikey_t *ck)
{
    apikey_t *k = (apikey_t *)ck;

    if (!apikeys_enabled(ks) || k == &anonymous)
        return;
    pthread_mutex_lock(&ks->mu);
    if (k->running > 0)
        k->running--;
    pthread_mutex_unlock(&ks->mu);
}

void apikeys_count_refused(apikeys_t *ks)
{
    if (!ks)
        return;
    pthread_mutex_lock(&ks->mu);
    ks->refused++;
    pthread_mutex_unlock(&ks->mu);
}

void apikeys_render_metrics(apikeys_t *ks, FILE *f)
{
    if (!apikeys_enabled(ks))
        return;
    pthread_mutex_lock(&ks->mu);
    fprintf(f,
            "# HELP codegate_auth_refused_total Requests refused for a missing or unknown API "
            "key.\n# TYPE codegate_auth_refused_total counter\n"
            "codegate_auth_refused_total %llu\n",
            (unsigned long long)ks->refused);
    fprintf(f, "# HELP codegate_apikey_requests_total Execute requests by API key name and "
               "quota result.\n# TYPE codegate_apikey_requests_total counter\n");
    for (const apikey_t *k = ks->keys; k; k = k->next) {
        fprintf(f, "codegate_apikey_requests_total{key=\"%s\",result=\"ok\"} %llu\n", k->name,
                (unsigned long long)k->n_ok);
        fprintf(f, "codegate_apikey_requests_total{key=\"%s\",result=\"rate_limited\"} %llu\n",
                k->name, (unsigned long long)k->n_rate);
        fprintf(f,
                "codegate_apikey_requests_total{key=\"%s\",result=\"concurrency_limited\"} %llu\n",
                k->name, (unsigned long long)k->n_conc);
    }
    fprintf(f, "# HELP codegate_apikey_running Runs in progress by API key name.\n"
               "# TYPE codegate_apikey_running gauge\n");
    for (const apikey_t *k = ks->keys; k; k = k->next)
        fprintf(f, "codegate_apikey_running{key=\"%s\"} %d\n", k->name, k->running);
    pthread_mutex_unlock(&ks->mu);
}
