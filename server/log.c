/*
 * log.c - JSON-lines logging to stdout (see log.h).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static log_level_t log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t level)
{
    log_min = level;
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

/* Prints {"ts":..,"level":..[,"event":..], <members of obj>} as one line with one write(). */
static void emit(log_level_t level, const char *event, cJSON *obj)
{
    char ts[40], head[160], *ev = NULL, *body;
    size_t hlen, blen;

    format_ts(ts, sizeof ts);
    if (event) {
        cJSON *s = cJSON_CreateString(event);
        ev = s ? cJSON_PrintUnformatted(s) : NULL;
        cJSON_Delete(s);
    }
    body = cJSON_PrintUnformatted(obj); /* "{...}" */
    cJSON_Delete(obj);
    if (!body) {
        free(ev);
        return;
    }
    blen = strlen(body);
    hlen = (size_t)snprintf(head, sizeof head, "{\"ts\":\"%s\",\"level\":\"%s\"%s%s%s", ts,
                            level_names[level], ev ? ",\"event\":" : "", ev ? ev : "",
                            blen > 2 ? "," : "");
    free(ev);
    if (hlen >= sizeof head)
        hlen = sizeof head - 1;
    /* body[0] is '{': replace it by the head, keep the rest and end with a newline. */
    char *line = malloc(hlen + blen + 1);
    if (line) {
        memcpy(line, head, hlen);
        memcpy(line + hlen, body + 1, blen - 1);
        line[hlen + blen - 1] = '\n';
        pthread_mutex_lock(&log_mu);
        (void)cg_write_all(STDOUT_FILENO, line, hlen + blen);
        pthread_mutex_unlock(&log_mu);
        free(line);
    }
    free(body);
}

void log_json(log_level_t level, cJSON *obj)
{
    if (!obj)
        return;
    if (level < log_min) {
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
    if (level < log_min) {
        cJSON_Delete(obj);
        return;
    }
    emit(level, event, obj);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    cJSON *obj;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    obj = cJSON_CreateObject();
    if (!obj)
        return;
    cJSON_AddStringToObject(obj, "msg", buf);
    log_json(level, obj);
}
