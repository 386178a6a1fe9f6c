/*
 * response.c - building the JSON answers of POST /api/code/execute.
 *
 * Shape (README "Response"): top-level fields describe the program's run - for a request
 * with tests, the first failing case, or the last case when all passed - plus totals over all
 * cases (durationMs and cpuMs summed, memoryKb the peak). `output`, `error` and
 * `executionTime` keep the shape of the original node service; `output` is stdout, followed by
 * stderr when the run failed. A compile error has no run: exitCode and signal are null, the
 * diagnostics are in compile.stderr, in stderr and in output. `files` lists what the program
 * wrote under out/, `filesOmitted` what of out/ was left out and why; each only when there is
 * something to say, so the answers of programs that write no files keep their shape.
 */
#include "response.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static void add_nullable_int(cJSON *o, const char *name, bool present, double v)
{
    if (present)
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

/* Adds s as a string member, quoted by jsonw.c (one pass over runs of plain bytes) and added
 * as a raw member without copying: cJSON would copy it into its tree and escape it byte by
 * byte (sprintf for each \u00XX). The tree frees the quoted text (cJSON's default allocator is
 * malloc/free; nothing here sets other hooks). Without memory the member is missing. */
static void add_text(cJSON *o, const char *name, const char *s)
{
    char *q = cg_json_quote(s ? s : "", s ? strlen(s) : 0, NULL);
    cJSON *it = q ? cJSON_CreateRaw("") : NULL;

    if (!it) {
        free(q);
        return;
    }
    free(it->valuestring);
    it->valuestring = q;
    if (!cJSON_AddItemToObject(o, name, it))
        cJSON_Delete(it);
}

static void add_signal(cJSON *o, int sig)
{
    const char *name = sig ? cg_signal_name(sig) : NULL;

    if (name)
        cJSON_AddStringToObject(o, "signal", name);
    else
        cJSON_AddNullToObject(o, "signal");
}

char *response_error(const char *code, const char *message, cJSON *details)
{
    cJSON *root = cJSON_CreateObject(), *err;
    char *s = NULL;

    if (!root) {
        cJSON_Delete(details);
        return NULL;
    }
    cJSON_AddFalseToObject(root, "success");
    err = cJSON_AddObjectToObject(root, "error");
    if (err) {
        cJSON_AddStringToObject(err, "code", code);
        cJSON_AddStringToObject(err, "message", message);
        if (details)
            cJSON_AddItemToObject(err, "details", details);
        else
            details = NULL;
    } else {
        cJSON_Delete(details);
    }
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Index of the run the top-level fields describe, or -1 when none ran. */
static int primary_run(const job_t *job)
{
    int last = -1;

    for (int i = 0; i < job->nruns; i++) {
        const job_outcome_t *o = &job->runs[i];
        if (!o->present)
            continue;
        if (job->req.ntests > 0 ? !o->passed : o->status != CG_ST_OK)
            return i;
        last = i;
    }
    return last;
}

cg_status_t response_overall_status(const job_t *job)
{
    int i;

    if (job->compile.present && job->compile.status != CG_ST_OK)
        return job->compile.status == CG_ST_TIMEOUT ? CG_ST_COMPILE_ERROR : job->compile.status;
    i = primary_run(job);
    if (i < 0)
        return job->budget_exceeded ? CG_ST_SKIPPED : CG_ST_INTERNAL_ERROR;
    return job->runs[i].status;
}

/* Why the job's budget ended it, in a sentence (README "Time budget"). */
static void budget_reason(const job_t *job, char *buf, size_t len)
{
    int ran = 0;

    for (int i = 0; i < job->nruns; i++)
        ran += job->runs[i].present;
    if (ran == job->nruns)
        snprintf(buf, len,
                 "the job's time budget of %d ms ran out during the last run: its timeout was cut "
                 "to what was left",
                 job->budget_ms);
    else if (ran == 0)
        snprintf(buf, len, "the job's time budget of %d ms was spent before the program ran",
                 job->budget_ms);
    else
        snprintf(buf, len,
                 "the job's time budget of %d ms was spent: %d of %d test cases were not run "
                 "(status skipped)",
                 job->budget_ms, job->nruns - ran, job->nruns);
}

static void add_compile(cJSON *data, const job_outcome_t *c)
{
    cJSON *o = cJSON_AddObjectToObject(data, "compile");

    if (!o)
        return;
    cJSON_AddStringToObject(o, "status", cg_status_name(c->status));
    add_text(o, "stdout", c->out);
    add_text(o, "stderr", c->err);
    add_nullable_int(o, "exitCode", c->exit_code >= 0, c->exit_code);
    cJSON_AddNumberToObject(o, "durationMs", (double)c->duration_ms);
    cJSON_AddBoolToObject(o, "cached", c->cached);
    if (c->timed_out)
        cJSON_AddTrueToObject(o, "timedOut");
}

static void add_tests(cJSON *data, const job_t *job, bool compile_failed)
{
    cJSON *arr = cJSON_AddArrayToObject(data, "tests");
    int passed = 0, failed = 0, skipped = 0;

    for (int i = 0; arr && i < job->req.ntests; i++) {
        const job_outcome_t *o = &job->runs[i];
        const request_test_t *t = &job->req.tests[i];
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddNumberToObject(e, "index", i);
        if (o->present) {
            cJSON_AddBoolToObject(e, "passed", o->passed);
            cJSON_AddStringToObject(e, "status", cg_status_name(o->status));
            add_text(e, "stdout", o->out);
            add_text(e, "stderr", o->err);
            add_nullable_int(e, "exitCode", o->exit_code >= 0, o->exit_code);
            add_signal(e, o->signal);
            cJSON_AddBoolToObject(e, "timedOut", o->timed_out);
            cJSON_AddBoolToObject(e, "truncated", o->truncated);
            cJSON_AddNumberToObject(e, "durationMs", (double)o->duration_ms);
            cJSON_AddNumberToObject(e, "cpuMs", (double)o->cpu_ms);
            cJSON_AddNumberToObject(e, "memoryKb", (double)o->memory_kb);
            if (o->passed)
                passed++;
            else
                failed++;
        } else {
            cJSON_AddFalseToObject(e, "passed");
            cJSON_AddStringToObject(e, "status", compile_failed ? "compile_error" : "skipped");
            if (compile_failed)
                failed++;
            else
                skipped++;
        }
        if (t->expected)
            cJSON_AddStringToObject(e, "expectedOutput", t->expected);
        else
            cJSON_AddNullToObject(e, "expectedOutput");
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(data, "passed", passed);
    cJSON_AddNumberToObject(data, "failed", failed);
    cJSON_AddNumberToObject(data, "skipped", skipped);
}

/*
 * The run's output goes into the answer once printed: the tree holds a 3-byte marker (\x01,
 * index, \x01: a control byte cJSON always escapes, so only these raw items print it) where a
 * text goes, and splice_texts escapes each text straight into the one buffer of the answer.
 * Printing megabytes through cJSON had cost a quoted copy, a growing print buffer (fresh
 * mappings: page faults) and a strlen and memcpy of each raw text.
 */
#define SPLICE_MAX 3

typedef struct {
    const char *a, *b; /* a then b (b may be NULL), between one pair of quotes */
    size_t alen, blen;
    size_t esc; /* escaped length of both */
} splice_t;

typedef struct {
    splice_t s[SPLICE_MAX];
    int n;
} splices_t;

static bool same_text(const splice_t *x, const splice_t *y)
{
    return x->a == y->a && x->alen == y->alen && x->b == y->b && x->blen == y->blen;
}

/* Adds a marker for a (then b) as member name; false when it could not be added. */
static bool add_splice(cJSON *o, const char *name, splices_t *sp, const char *a, size_t alen,
                       const char *b, size_t blen)
{
    char marker[4] = {'\x01', (char)('0' + sp->n), '\x01', '\0'};
    splice_t *t = &sp->s[sp->n];

    if (sp->n == SPLICE_MAX || !cJSON_AddRawToObject(o, name, marker))
        return false;
    t->a = a;
    t->alen = alen;
    t->b = b;
    t->blen = b ? blen : 0;
    t->esc = SIZE_MAX;
    for (int i = 0; i < sp->n; i++) /* the same text again ("stdout" after "output") */
        if (same_text(&sp->s[i], t))
            t->esc = sp->s[i].esc;
    if (t->esc == SIZE_MAX)
        t->esc = cg_json_escaped_len(a, alen) + (b ? cg_json_escaped_len(b, blen) : 0);
    sp->n++;
    return true;
}

/* The printed skeleton with its markers replaced by the texts, quoted (skel is freed); NULL
 * when out of memory or a marker is not one of ours. */
static char *splice_texts(char *skel, const splices_t *sp)
{
    size_t n = strlen(skel), total = n, at[SPLICE_MAX] = {0};
    const char *r = skel, *end = skel + n, *m;
    bool done[SPLICE_MAX] = {false};
    char *out, *w;

    for (int i = 0; i < sp->n; i++)
        total += sp->s[i].esc + 2 - 3; /* the quoted text for the marker */
    if (!(out = malloc(total + 1))) {
        free(skel);
        return NULL;
    }
    w = out;
    while ((m = memchr(r, '\x01', (size_t)(end - r)))) {
        int i = end - m >= 3 && m[2] == '\x01' ? m[1] - '0' : -1;
        if (i < 0 || i >= sp->n || done[i]) {
            free(out);
            free(skel);
            return NULL;
        }
        const splice_t *t = &sp->s[i];
        memcpy(w, r, (size_t)(m - r));
        w += m - r;
        at[i] = (size_t)(w - out);
        done[i] = true;
        int same = -1; /* an earlier splice of the same text: copied, not escaped again */
        for (int k = 0; k < i; k++)
            if (done[k] && same_text(&sp->s[k], t))
                same = k;
        if (same >= 0) {
            memmove(w, out + at[same], t->esc + 2);
            w += t->esc + 2;
        } else {
            *w++ = '"';
            w += cg_json_escape(w, t->a, t->alen);
            if (t->b)
                w += cg_json_escape(w, t->b, t->blen);
            *w++ = '"';
        }
        r = m + 3;
    }
    memcpy(w, r, (size_t)(end - r));
    w += end - r;
    *w = '\0';
    free(skel);
    if ((size_t)(w - out) != total) { /* a marker missing: never hand out a wrong length */
        free(out);
        return NULL;
    }
    return out;
}

static void add_run_fields(cJSON *data, const job_t *job, int pi, cg_status_t st, splices_t *sp)
{
    const job_outcome_t *o = pi >= 0 ? &job->runs[pi] : NULL;
    const job_outcome_t *c = &job->compile;
    bool compile_failed = c->present && c->status != CG_ST_OK;
    int64_t dur = 0, cpu = 0, mem = 0;

    for (int i = 0; i < job->nruns; i++) {
        if (!job->runs[i].present)
            continue;
        dur += job->runs[i].duration_ms;
        cpu += job->runs[i].cpu_ms;
        if (job->runs[i].memory_kb > mem)
            mem = job->runs[i].memory_kb;
    }
    const char *out = o && o->out ? o->out : "";
    const char *err = o && o->err ? o->err : (compile_failed && c->err ? c->err : "");
    size_t nout = strlen(out), nerr = strlen(err);
    /* `output` is what a client of the original contract shows: the program's stdout, and when
     * the run failed (error: true) its stderr after it - the traceback, or the compiler's
     * message on a compile error - so such a client can show why. */
    bool both = st != CG_ST_OK && err[0];
    add_splice(data, "output", sp, out, nout, both ? err : NULL, nerr);
    cJSON_AddBoolToObject(data, "error", st != CG_ST_OK);
    cJSON_AddNumberToObject(data, "executionTime", (double)dur);
    add_splice(data, "stdout", sp, out, nout, NULL, 0);
    add_splice(data, "stderr", sp, err, nerr, NULL, 0);
    add_nullable_int(data, "exitCode", o && o->exit_code >= 0, o ? o->exit_code : 0);
    add_signal(data, o ? o->signal : 0);
    cJSON_AddStringToObject(data, "status", cg_status_name(st));
    cJSON_AddBoolToObject(data, "timedOut", o ? o->timed_out : (compile_failed && c->timed_out));
    cJSON_AddBoolToObject(data, "truncated", o ? o->truncated : false);
    cJSON_AddNumberToObject(data, "durationMs", (double)dur);
    cJSON_AddNumberToObject(data, "cpuMs", (double)cpu);
    cJSON_AddNumberToObject(data, "memoryKb", (double)mem);
}

void response_add_files(cJSON *obj, const job_t *job)
{
    if (job->out_files) {
        cJSON *f = cJSON_Duplicate(job->out_files, true);
        if (f && !cJSON_AddItemToObject(obj, "files", f))
            cJSON_Delete(f);
    }
    if (job->out_omitted) {
        cJSON *o = cJSON_Duplicate(job->out_omitted, true);
        if (o && !cJSON_AddItemToObject(obj, "filesOmitted", o))
            cJSON_Delete(o);
    }
}

char *response_job(const job_t *job, int *http_status, const char **status_out)
{
    cJSON *root, *data;
    char *s;
    cg_status_t st;
    int pi;
    splices_t sp = {.n = 0};

    if (job->fail_http) {
        *http_status = job->fail_http;
        if (status_out)
            *status_out = job->fail_code;
        return response_error(job->fail_code, job->fail_msg, NULL);
    }
    pi = primary_run(job);
    if (pi < 0 && !(job->compile.present && job->compile.status != CG_ST_OK) &&
        !job->budget_exceeded) {
        *http_status = 500;
        if (status_out)
            *status_out = "internal_error";
        return response_error("internal_error", "the executor returned no result", NULL);
    }
    st = response_overall_status(job);
    if (status_out)
        *status_out = cg_status_name(st);
    if (st == CG_ST_INTERNAL_ERROR) {
        /* The sandbox could not run the program: that is our failure, not the program's. */
        const job_outcome_t *o = pi >= 0 ? &job->runs[pi] : &job->compile;
        char msg[256];
        snprintf(msg, sizeof msg, "the sandbox could not run the program%s%.200s",
                 o->err && o->err[0] ? ": " : "", o->err ? o->err : "");
        *http_status = 500;
        return response_error("internal_error", msg, NULL);
    }
    root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddTrueToObject(root, "success");
    data = cJSON_AddObjectToObject(root, "data");
    if (!data) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(data, "language", job->req.language);
    cJSON_AddStringToObject(data, "version", job->lang_version);
    add_run_fields(data, job, pi, st, &sp);
    cJSON_AddBoolToObject(data, "budgetExceeded", job->budget_exceeded);
    if (job->budget_exceeded) {
        char reason[200];
        budget_reason(job, reason, sizeof reason);
        cJSON_AddStringToObject(data, "reason", reason);
    }
    if (job->compile.present)
        add_compile(data, &job->compile);
    if (job->req.ntests > 0)
        add_tests(data, job, job->compile.present && job->compile.status != CG_ST_OK);
    response_add_files(data, job);
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *http_status = 200;
    return s ? splice_texts(s, &sp) : NULL;
}
