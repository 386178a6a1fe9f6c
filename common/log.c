/*
 * log.c - JSON-lines logging for the gateway and the executor (see log.h).
 */
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_min = LOG_INFO;
static int log_fd = STDOUT_FILENO;
static const char *log_src;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(int fd, const char *src)
{
    log_fd = fd;
    log_src = src;
}

void log_set_level(log_level_t level)
{
    atomic_store(&log_min, (int)level);
}

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    return -1;
}

bool log_enabled(log_level_t level)
{
    return (int)level >= atomic_load(&log_min);
}

/* s as a JSON string literal (malloc'ed, the caller frees), or NULL. */
static char *json_string(const char *s)
{
    cJSON *j = s ? cJSON_CreateString(s) : NULL;
    char *out = j ? cJSON_PrintUnformatted(j) : NULL;

    cJSON_Delete(j);
    return out;
}

static void format_ts(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

/* Prints {"ts":..,"level":..[,"src":..][,"event":..], <members of obj>} as one line with one
 * write(). */
static void emit(log_level_t level, const char *event, cJSON *obj)
{
    char ts[40], head[256], *ev = NULL, *src = NULL, *body;
    size_t hlen, blen;

    format_ts(ts, sizeof ts);
    ev = json_string(event);
    src = json_string(log_src);
    body = cJSON_PrintUnformatted(obj); /* "{...}" */
    cJSON_Delete(obj);
    if (!body) {
        free(ev);
        free(src);
        return;
    }
    blen = strlen(body);
    hlen = (size_t)snprintf(head, sizeof head, "{\"ts\":\"%s\",\"level\":\"%s\"%s%s%s%s%s", ts,
                            level_names[level], src ? ",\"src\":" : "", src ? src : "",
                            ev ? ",\"event\":" : "", ev ? ev : "", blen > 2 ? "," : "");
    free(ev);
    free(src);
    if (hlen >= sizeof head)
        hlen = sizeof head - 1;
    /* body[0] is '{': replace it by the head, keep the rest and end with a newline. */
    char *line = malloc(hlen + blen + 1);
    if (line) {
        memcpy(line, head, hlen);
        memcpy(line + hlen, body + 1, blen - 1);
        line[hlen + blen - 1] = '\n';
        pthread_mutex_lock(&log_mu);
        (void)cg_write_all(log_fd, line, hlen + blen);
        pthread_mutex_unlock(&log_mu);
        free(line);
    }
    free(body);
}

void log_json(log_level_t level, cJSON *obj)
{
    if (!obj)
        return;
    if (!log_enabled(level)) {
        cJSON_Delete(obj);
        return;
    }
    emit(level, NULL, obj);
}

void log_event(log_level_t level, const char *event, cJSON *fields)
{
    cJSON *obj = fields ? fields : cJSON_CreateObject();

    if (!obj)
        return;
    if (!log_enabled(level)) {
        cJSON_Delete(obj);
        return;
    }
    emit(level, event, obj);
}

void log_vmsg(log_level_t level, const char *fmt, va_list ap)
{
    char buf[1024];
    cJSON *obj;

    if (!log_enabled(level))
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    obj = cJSON_CreateObject();
    if (!obj)
        return;
    cJSON_AddStringToObject(obj, "msg", buf);
    log_json(level, obj);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
