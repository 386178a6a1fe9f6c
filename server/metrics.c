/*
 * metrics.c - the gateway's metrics registry and its Prometheus text rendering (see metrics.h).
 *
 * Request statuses are counted per (language, status) in a small table that grows on first
 * use of a pair (bounded: the statuses come from a fixed vocabulary). Histograms use fixed
 * buckets in milliseconds, rendered in seconds as Prometheus expects.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"

#define MAX_PAIRS 128
#define NBUCKETS 14

static const double bucket_ms[NBUCKETS] = {5,    10,   25,   50,    100,   250,   500,
                                           1000, 2500, 5000, 10000, 30000, 60000, 300000};
static const char *const hist_names[METRIC_H__COUNT] = {
    "codegate_request_duration_seconds",
    "codegate_queue_wait_seconds",
    "codegate_compile_duration_seconds",
    "codegate_run_duration_seconds",
};
static const char *const hist_help[METRIC_H__COUNT] = {
    "Time from the arrival of an execute request to its answer.",
    "Time an execution waited for a free executor slot.",
    "Duration of compile steps.",
    "Duration of program runs (wall clock).",
};

typedef struct {
    uint64_t buckets[NBUCKETS];
    uint64_t count;
    double sum_ms;
} hist_t;

/* A counter labelled by a number and a name: (language, status) or (HTTP status, code). */
typedef struct {
    int num;
    char name[32];
    uint64_t n;
} pair_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pair_t pairs[MAX_PAIRS];
static int npairs;
static hist_t hists[METRIC_H__COUNT][LANG_COUNT + 1]; /* last: no language */
static uint64_t restarts;
static uint64_t cache[LANG_COUNT][2]; /* [lang][hit] */

static pair_t resps[MAX_PAIRS];
static int nresps;
static uint64_t closed_per_ip, closed_timeout;

void metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(pairs, 0, sizeof pairs);
    npairs = 0;
    memset(hists, 0, sizeof hists);
    restarts = 0;
    memset(cache, 0, sizeof cache);
    memset(resps, 0, sizeof resps);
    nresps = 0;
    closed_per_ip = closed_timeout = 0;
    pthread_mutex_unlock(&mu);
}

/* Adds one to the counter (num, name) of tab, making it on first use. Caller holds mu. */
static void bump(pair_t *tab, int *count, int num, const char *name)
{
    for (int i = 0; i < *count; i++)
        if (tab[i].num == num && !strcmp(tab[i].name, name)) {
            tab[i].n++;
            return;
        }
    if (*count < MAX_PAIRS) {
        tab[*count].num = num;
        snprintf(tab[*count].name, sizeof tab[*count].name, "%s", name);
        tab[*count].n = 1;
        (*count)++;
    }
}

void metrics_response(int status, const char *code)
{
    pthread_mutex_lock(&mu);
    bump(resps, &nresps, status, code && code[0] ? code : "none");
    pthread_mutex_unlock(&mu);
}

void metrics_connection_closed(const char *reason)
{
    pthread_mutex_lock(&mu);
    if (!strcmp(reason, "per_ip"))
        closed_per_ip++;
    else
        closed_timeout++;
    pthread_mutex_unlock(&mu);
}

void metrics_request(int lang, const char *status)
{
    if (lang < -1 || lang >= LANG_COUNT || !status)
        return;
    pthread_mutex_lock(&mu);
    bump(pairs, &npairs, lang, status);
    pthread_mutex_unlock(&mu);
}

void metrics_observe(metric_hist_t h, int lang, int64_t ms)
{
    hist_t *t;

    if ((unsigned)h >= METRIC_H__COUNT || lang < -1 || lang >= LANG_COUNT || ms < 0)
        return;
    pthread_mutex_lock(&mu);
    t = &hists[h][lang < 0 ? LANG_COUNT : lang];
    for (int i = 0; i < NBUCKETS; i++)
        if ((double)ms <= bucket_ms[i])
            t->buckets[i]++;
    t->count++;
    t->sum_ms += (double)ms;
    pthread_mutex_unlock(&mu);
}

void metrics_executor_restart(void)
{
    pthread_mutex_lock(&mu);
    restarts++;
    pthread_mutex_unlock(&mu);
}

void metrics_compile_cache(int lang, bool hit)
{
    if (lang < 0 || lang >= LANG_COUNT)
        return;
    pthread_mutex_lock(&mu);
    cache[lang][hit ? 1 : 0]++;
    pthread_mutex_unlock(&mu);
}

static const char *lang_label(int lang)
{
    return lang < 0 || lang >= LANG_COUNT ? "none" : lang_table[lang].name;
}

char *metrics_render(const metrics_gauges_t *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    pthread_mutex_lock(&mu);
    fprintf(f, "# HELP codegate_requests_total Execute requests answered, by language and "
               "status.\n# TYPE codegate_requests_total counter\n");
    for (int i = 0; i < npairs; i++)
        fprintf(f, "codegate_requests_total{language=\"%s\",status=\"%s\"} %llu\n",
                lang_label(pairs[i].num), pairs[i].name, (unsigned long long)pairs[i].n);
    fprintf(f, "# HELP codegate_http_responses_total HTTP answers sent, by status and API error "
               "code.\n# TYPE codegate_http_responses_total counter\n");
    for (int i = 0; i < nresps; i++)
        fprintf(f, "codegate_http_responses_total{status=\"%d\",code=\"%s\"} %llu\n", resps[i].num,
                resps[i].name, (unsigned long long)resps[i].n);
    fprintf(f,
            "# HELP codegate_http_connections_closed_total Connections the front door closed: "
            "over the per-address cap, or past a header/body deadline.\n"
            "# TYPE codegate_http_connections_closed_total counter\n"
            "codegate_http_connections_closed_total{reason=\"per_ip\"} %llu\n"
            "codegate_http_connections_closed_total{reason=\"request_timeout\"} %llu\n",
            (unsigned long long)closed_per_ip, (unsigned long long)closed_timeout);
    for (int h = 0; h < METRIC_H__COUNT; h++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", hist_names[h], hist_help[h],
                hist_names[h]);
        for (int l = 0; l <= LANG_COUNT; l++) {
            const hist_t *t = &hists[h][l];
            const char *ll = lang_label(l < LANG_COUNT ? l : -1);
            if (!t->count && l == LANG_COUNT)
                continue;
            for (int i = 0; i < NBUCKETS; i++)
                fprintf(f, "%s_bucket{language=\"%s\",le=\"%g\"} %llu\n", hist_names[h], ll,
                        bucket_ms[i] / 1000.0, (unsigned long long)t->buckets[i]);
            fprintf(f, "%s_bucket{language=\"%s\",le=\"+Inf\"} %llu\n", hist_names[h], ll,
                    (unsigned long long)t->count);
            fprintf(f, "%s_sum{language=\"%s\"} %.3f\n", hist_names[h], ll, t->sum_ms / 1000.0);
            fprintf(f, "%s_count{language=\"%s\"} %llu\n", hist_names[h], ll,
                    (unsigned long long)t->count);
        }
    }
    fprintf(f,
            "# HELP codegate_executor_restarts_total Executors replaced after they died or "
            "hung.\n# TYPE codegate_executor_restarts_total counter\n"
            "codegate_executor_restarts_total %llu\n",
            (unsigned long long)restarts);
    fprintf(f, "# HELP codegate_compile_cache_total Compile steps answered from the executors' "
               "compile cache (hit) or compiled (miss), by language.\n"
               "# TYPE codegate_compile_cache_total counter\n");
    for (int l = 0; l < LANG_COUNT; l++)
        if (lang_table[l].compile || cache[l][0] || cache[l][1]) /* compiled: always listed */
            for (int h = 1; h >= 0; h--)
                fprintf(f, "codegate_compile_cache_total{language=\"%s\",result=\"%s\"} %llu\n",
                        lang_label(l), h ? "hit" : "miss", (unsigned long long)cache[l][h]);
    pthread_mutex_unlock(&mu);
    fprintf(f,
            "# HELP codegate_http_connections_open HTTP connections open.\n"
            "# TYPE codegate_http_connections_open gauge\ncodegate_http_connections_open %d\n",
            g->http_connections);
    fprintf(f,
            "# HELP codegate_queue_depth Executions waiting for a free slot.\n"
            "# TYPE codegate_queue_depth gauge\ncodegate_queue_depth %d\n",
            g->queue_depth);
    fprintf(f,
            "# HELP codegate_sessions_open Interactive sessions open.\n"
            "# TYPE codegate_sessions_open gauge\ncodegate_sessions_open %d\n",
            g->sessions_open);
    fprintf(f, "# HELP codegate_executors_up Executors announced up, by language.\n"
               "# TYPE codegate_executors_up gauge\n");
    for (int l = 0; l < LANG_COUNT; l++)
        fprintf(f, "codegate_executors_up{language=\"%s\"} %d\n", lang_label(l), g->endpoints[l]);
    fprintf(f, "# HELP codegate_executors_ready Executors connected and taking jobs, by "
               "language.\n# TYPE codegate_executors_ready gauge\n");
    for (int l = 0; l < LANG_COUNT; l++)
        fprintf(f, "codegate_executors_ready{language=\"%s\"} %d\n", lang_label(l), g->ready[l]);
    fprintf(f, "# HELP codegate_executors_draining Executors draining (finishing their jobs, "
               "taking no new ones), by language.\n# TYPE codegate_executors_draining gauge\n");
    for (int l = 0; l < LANG_COUNT; l++)
        fprintf(f, "codegate_executors_draining{language=\"%s\"} %d\n", lang_label(l),
                g->draining[l]);
    fprintf(f, "# HELP codegate_executor_connections Pooled executor connections, by language "
               "and state.\n# TYPE codegate_executor_connections gauge\n");
    for (int l = 0; l < LANG_COUNT; l++) {
        fprintf(f, "codegate_executor_connections{language=\"%s\",state=\"idle\"} %d\n",
                lang_label(l), g->connections[l] - g->busy[l]);
        fprintf(f, "codegate_executor_connections{language=\"%s\",state=\"busy\"} %d\n",
                lang_label(l), g->busy[l]);
    }
    fprintf(f, "# HELP codegate_executor_slots_down Executor slots taken out of service "
               "(their limits could not be applied even after a reset), by language.\n"
               "# TYPE codegate_executor_slots_down gauge\n");
    for (int l = 0; l < LANG_COUNT; l++)
        fprintf(f, "codegate_executor_slots_down{language=\"%s\"} %d\n", lang_label(l),
                g->slots_down[l]);
    fclose(f);
    return buf;
}
