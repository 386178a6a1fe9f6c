/*
 * protocol.c - encoder and decoder of the gateway <-> executor frames (see protocol.h).
 *
 * JSON members on the wire (camelCase). Every frame has "type", whose value is the lower-case
 * name of its cg_msg_type_t ("hello", "execute", "stdin", "close_stdin", "cancel", "kill",
 * "compile", "stdout", "stderr", "result", "done", "error", "ping", "pong"). R = required when
 * parsing, O = optional (default in brackets). The encoders always write every member listed.
 * Frames that carry program output (stdout, stderr, compile, result) are written straight into
 * one buffer by jsonw.c (output can be megabytes); the others go through a cJSON tree.
 *
 *   hello        v R (must be CG_PROTO_VERSION), language R (non-empty string),
 *                version R (string, may be ""), slots R (1..1024)
 *   execute      v R (must be CG_PROTO_VERSION), id R, language R (non-empty string),
 *                code R (string <= CG_MAX_CODE_BYTES),
 *                args O [[]] (<= CG_MAX_ARGS strings, each <= CG_MAX_ARG_BYTES),
 *                options O [[]] (<= CG_MAX_OPTIONS strings, each <= CG_MAX_OPTION_BYTES; the
 *                executor checks them against its language's allow-list),
 *                runs R (1..CG_MAX_RUNS objects {input O [""] (string <= CG_MAX_INPUT_BYTES),
 *                                                timeoutMs O [5000] (1..CG_MAX_TIMEOUT_MS, or
 *                                                1..CG_MAX_SESSION_MS when interactive)}),
 *                memoryMb O [256] (CG_MIN_MEMORY_MB..CG_MAX_MEMORY_MB),
 *                outputLimit O [CG_DEFAULT_OUTPUT_LIMIT] (1..CG_MAX_OUTPUT_LIMIT bytes),
 *                stream O [false], interactive O [false],
 *                budgetMs O [0 = none] (0, or CG_MIN_BUDGET_MS..CG_MAX_BUDGET_MS),
 *                files O [[]] (<= CG_MAX_FILES objects {name R (files.h rules, unique, no
 *                name a directory of another), content R (base64)}),
 *                outFilesMax, outFileMaxBytes, outFilesMaxBytes O [CG_DEFAULT_OUT_*]
 *                (0..CG_MAX_OUT_*: what of out/ comes back)
 *   stdin, stdout, stderr         id R, run R (0..CG_MAX_RUNS-1), data R (string)
 *   close_stdin, cancel, kill     id R
 *   compile, result  id R, run (result: R, 0..CG_MAX_RUNS-1; compile: not written, O, must
 *                be -1), status R (cg_status_name), exitCode R (-1..255, -1 = killed),
 *                signal R ("SIGKILL"-style name, or null for none; "SIGUNKNOWN" parses to -1),
 *                timedOut R, truncated R (booleans), durationMs R, cpuMs R, memoryKb R
 *                (0..2^53), stdout R, stderr R (strings)
 *   done         id R, runs O [0] (0..CG_MAX_RUNS), budgetExceeded O [false],
 *                files O (array: the out/ files {name, size, mimeType, content}),
 *                filesOmitted O (array: {name, reason} of out/ entries left out)
 *   error        id O, code R (non-empty string), message O (string)
 *   ping, pong   seq R (integer, |seq| <= 2^53)
 *
 * A member of the right name but the wrong JSON type is an error even where the member is
 * optional; null counts as a wrong type except for "signal". Unknown members are ignored; so
 * is "id" in hello, ping and pong, which have none. Elsewhere an "id" must satisfy
 * cg_id_valid() (error and unknown types: when present). Numbers must be integers:
 * 1.5 and 1e400 are rejected. Errors say which member and why, e.g.
 *   execute frame: "runs[3].timeoutMs" must be an integer between 1 and 30000 (got 99999)
 */
#include "protocol.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbig.h"
#include "jsonrd.h"
#include "jsonw.h"
#include "utf8.h"

/* Largest integer a JSON number (a double) carries exactly. */
#define JSON_INT_MAX (INT64_C(1) << 53)

static const char *const type_names[] = {
    [CG_MSG_UNKNOWN] = "unknown",
    [CG_MSG_HELLO] = "hello",
    [CG_MSG_EXECUTE] = "execute",
    [CG_MSG_STDIN] = "stdin",
    [CG_MSG_CLOSE_STDIN] = "close_stdin",
    [CG_MSG_CANCEL] = "cancel",
    [CG_MSG_KILL] = "kill",
    [CG_MSG_COMPILE] = "compile",
    [CG_MSG_STDOUT] = "stdout",
    [CG_MSG_STDERR] = "stderr",
    [CG_MSG_RESULT] = "result",
    [CG_MSG_DONE] = "done",
    [CG_MSG_ERROR] = "error",
    [CG_MSG_PING] = "ping",
    [CG_MSG_PONG] = "pong",
    [CG_MSG_DRAIN] = "drain",
};

static const char *const status_names[CG_ST__COUNT] = {
    [CG_ST_OK] = "ok",
    [CG_ST_RUNTIME_ERROR] = "runtime_error",
    [CG_ST_COMPILE_ERROR] = "compile_error",
    [CG_ST_TIMEOUT] = "timeout",
    [CG_ST_MEMORY_LIMIT] = "memory_limit",
    [CG_ST_OUTPUT_LIMIT] = "output_limit",
    [CG_ST_WRONG_ANSWER] = "wrong_answer",
    [CG_ST_SKIPPED] = "skipped",
    [CG_ST_INTERNAL_ERROR] = "internal_error",
    [CG_ST_CANCELLED] = "cancelled",
};

static const struct {
    int num;
    const char *name;
} signals[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},     {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"}, {SIGSTKFLT, "SIGSTKFLT"},
    {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},     {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},
    {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},     {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},
    {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"},
    {SIGIO, "SIGIO"},     {SIGPWR, "SIGPWR"},       {SIGSYS, "SIGSYS"},
};

#define NSIGNALS (sizeof signals / sizeof signals[0])

const char *cg_status_name(cg_status_t st)
{
    return (unsigned)st < CG_ST__COUNT ? status_names[st] : "internal_error";
}

int cg_status_parse(const char *name)
{
    for (int i = 0; name && i < CG_ST__COUNT; i++)
        if (strcmp(status_names[i], name) == 0)
            return i;
    return -1;
}

const char *cg_signal_name(int sig)
{
    if (sig == 0)
        return NULL;
    for (size_t i = 0; i < NSIGNALS; i++)
        if (signals[i].num == sig)
            return signals[i].name;
    return "SIGUNKNOWN";
}

/* Name -> number; "SIGUNKNOWN" -> -1 (a signal without a name); 0 when not a signal name. */
static int signal_parse(const char *name)
{
    if (strcmp(name, "SIGUNKNOWN") == 0)
        return -1;
    for (size_t i = 0; i < NSIGNALS; i++)
        if (strcmp(signals[i].name, name) == 0)
            return signals[i].num;
    return 0;
}

const char *cg_msg_type_name(cg_msg_type_t t)
{
    return (unsigned)t <= CG_MSG_DRAIN ? type_names[t] : "unknown";
}

const char *cg_proto_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case CG_EPROTO_JSON:
        return "the frame is not a JSON object";
    case CG_EPROTO_TYPE:
        return "the frame has no valid \"type\"";
    case CG_EPROTO_FIELD:
        return "a member is missing, of the wrong type or out of range";
    case CG_EPROTO_TOOBIG:
        return "a size limit is exceeded";
    case CG_EPROTO_NOMEM:
        return "out of memory";
    default:
        return "unknown protocol error";
    }
}

bool cg_id_valid(const char *id)
{
    size_t n = 0;

    if (!id)
        return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
        if (n >= CG_ID_MAX)
            return false;
    }
    return n >= 1;
}

/* ---- decoding ---- */

/* Decoder state: the frame's type name for messages and the first error. Later errors are
 * ignored, so every reader can run and the first failure is the one reported. */
typedef struct {
    const char *frame;
    char *err;
    size_t errlen;
    int rc;
} rd_t;

__attribute__((format(printf, 3, 4))) static void rd_fail(rd_t *r, int rc, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->rc != 0)
        return;
    r->rc = rc;
    if (!r->err || r->errlen == 0)
        return;
    n = snprintf(r->err, r->errlen, "%s frame: ", r->frame);
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* The member `name` of obj, reported as "<pre><name>"; NULL when absent (an error if required). */
static const cJSON *rd_member(rd_t *r, const cJSON *obj, const char *pre, const char *name,
                              bool required)
{
    const cJSON *it = jsonrd_member(obj, name, 0);

    if (!it && required)
        rd_fail(r, CG_EPROTO_FIELD, "\"%s%s\" is missing", pre, name);
    return it;
}

/* A string member of at most max bytes; NULL when absent or wrong. *len gets its length. */
static const char *rd_str(rd_t *r, const cJSON *obj, const char *pre, const char *name,
                          bool required, size_t max, size_t *len)
{
    const char *s = NULL;
    jsonrd_err_t je;

    if (len)
        *len = 0;
    switch (jsonrd_string(rd_member(r, obj, pre, name, required), max, &s, len, &je)) {
    case JSONRD_OK:
        return s;
    case JSONRD_ABSENT:
        return NULL;
    case JSONRD_TOO_LARGE:
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s%s\" is %zu bytes, more than the limit of %zu", pre, name,
                je.len, max);
        return NULL;
    default:
        rd_fail(r, CG_EPROTO_FIELD, "\"%s%s\" must be a string, not %s", pre, name,
                jsonrd_kind(je.item));
        return NULL;
    }
}

/* An integer member in [min, max] (both within +-2^53); def when absent or wrong. */
static int64_t rd_int(rd_t *r, const cJSON *obj, const char *pre, const char *name, bool required,
                      int64_t def, int64_t min, int64_t max)
{
    int64_t v = def;
    jsonrd_err_t je;

    switch (jsonrd_int(rd_member(r, obj, pre, name, required), min, max, &v, &je)) {
    case JSONRD_OK:
        return v;
    case JSONRD_ABSENT:
        return def;
    case JSONRD_TYPE:
        rd_fail(r, CG_EPROTO_FIELD, "\"%s%s\" must be an integer, not %s", pre, name,
                jsonrd_kind(je.item));
        return def;
    default:
        rd_fail(r, CG_EPROTO_FIELD, "\"%s%s\" must be an integer between %lld and %lld (got %.15g)",
                pre, name, (long long)min, (long long)max, je.item->valuedouble);
        return def;
    }
}

static bool rd_bool(rd_t *r, const cJSON *obj, const char *name, bool required)
{
    const cJSON *it = rd_member(r, obj, "", name, required);
    bool v = false;

    if (jsonrd_bool(it, &v, NULL) == JSONRD_TYPE)
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be a boolean, not %s", name, jsonrd_kind(it));
    return v;
}

/* "v": required, and this build speaks exactly one version. */
static int rd_version(rd_t *r, const cJSON *obj)
{
    int v = (int)rd_int(r, obj, "", "v", true, 0, 0, JSON_INT_MAX);

    if (r->rc == 0 && v != CG_PROTO_VERSION)
        rd_fail(r, CG_EPROTO_FIELD,
                "protocol version \"v\" %d is not supported (this side speaks %d)", v,
                CG_PROTO_VERSION);
    return v;
}

static const char *rd_name(rd_t *r, const cJSON *obj, const char *name)
{
    const char *s = rd_str(r, obj, "", name, true, 64, NULL);

    if (s && !s[0])
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must not be empty", name);
    return s;
}

/* A member that is an array of strings ("args", "options"): into out (NULL-terminated, into the
 * tree), *n entries. */
static void parse_strings(rd_t *r, const cJSON *obj, const char *name, int max, size_t max_len,
                          const char **out, int *n)
{
    const cJSON *arr = rd_member(r, obj, "", name, false);
    jsonrd_err_t je;
    int k = 0;

    out[0] = NULL;
    *n = 0;
    switch (jsonrd_strings(arr, max, max_len, out, &k, &je)) {
    case JSONRD_OK:
        *n = k;
        break;
    case JSONRD_ABSENT:
        break;
    case JSONRD_RANGE:
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s\" has %zu entries, more than the limit of %d", name,
                je.len, max);
        break;
    case JSONRD_TYPE:
        if (je.index < 0)
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be an array of strings, not %s", name,
                    jsonrd_kind(je.item));
        else
            rd_fail(r, CG_EPROTO_FIELD, "\"%s[%d]\" must be a string, not %s", name, je.index,
                    jsonrd_kind(je.item));
        break;
    default: /* an entry too long */
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s[%d]\" is longer than the limit of %zu bytes", name,
                je.index, max_len);
        break;
    }
}

static void parse_runs(rd_t *r, const cJSON *obj, cg_execute_t *ex)
{
    const cJSON *runs = rd_member(r, obj, "", "runs", true), *it;
    char pre[32];
    int n;

    if (!runs)
        return;
    if (!cJSON_IsArray(runs)) {
        rd_fail(r, CG_EPROTO_FIELD, "\"runs\" must be an array of objects, not %s",
                jsonrd_kind(runs));
        return;
    }
    n = cJSON_GetArraySize(runs);
    if (n > CG_MAX_RUNS) {
        rd_fail(r, CG_EPROTO_TOOBIG, "\"runs\" has %d entries, more than the limit of %d", n,
                CG_MAX_RUNS);
        return;
    }
    if (n < 1) {
        rd_fail(r, CG_EPROTO_FIELD, "\"runs\" must hold at least one run");
        return;
    }
    ex->nruns = 0;
    cJSON_ArrayForEach(it, runs)
    {
        cg_run_spec_t *rs = &ex->runs[ex->nruns];
        snprintf(pre, sizeof pre, "runs[%d]", ex->nruns);
        if (!cJSON_IsObject(it)) {
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be an object, not %s", pre, jsonrd_kind(it));
            return;
        }
        strcat(pre, ".");
        rs->input = rd_str(r, it, pre, "input", false, CG_MAX_INPUT_BYTES, &rs->input_len);
        rs->timeout_ms = (int)rd_int(r, it, pre, "timeoutMs", false, CG_DEFAULT_TIMEOUT_MS, 1,
                                     ex->interactive ? CG_MAX_SESSION_MS : CG_MAX_TIMEOUT_MS);
        ex->nruns++;
        if (r->rc)
            return;
    }
}

/* One file of "files": {name, content (base64)}; the name rules of files.h. */
static void parse_file(rd_t *r, const cJSON *it, const char *language, cg_file_t *f, char *pre)
{
    const char *why;
    size_t nlen = 0;

    if (!cJSON_IsObject(it)) {
        pre[strlen(pre) - 1] = '\0';
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be an object, not %s", pre, jsonrd_kind(it));
        return;
    }
    f->name = rd_str(r, it, pre, "name", true, CG_FILE_NAME_MAX, &nlen);
    f->b64 = rd_str(r, it, pre, "content", true, CG_MAX_FRAME_BYTES, &f->b64_len);
    if (r->rc)
        return;
    why = cg_file_name_rule(f->name, nlen, CG_FILE_NAME_MAX, CG_FILE_DEPTH_MAX, lang_get(language));
    if (why)
        rd_fail(r, CG_EPROTO_FIELD, "\"%sname\" %s", pre, why);
    else if (f->b64_len % 4 != 0)
        rd_fail(r, CG_EPROTO_FIELD, "\"%scontent\" is not base64", pre);
}

/* "files": at most CG_MAX_FILES, names unique and not clashing, CG_MAX_FILES_BYTES at most. */
static void parse_files(rd_t *r, const cJSON *obj, cg_msg_t *m)
{
    const cJSON *files = rd_member(r, obj, "", "files", false), *it;
    cg_execute_t *ex = &m->exec;
    size_t total = 0;
    char pre[32];

    ex->files = m->filev;
    ex->nfiles = 0;
    if (!files)
        return;
    if (!cJSON_IsArray(files)) {
        rd_fail(r, CG_EPROTO_FIELD, "\"files\" must be an array of objects, not %s",
                jsonrd_kind(files));
        return;
    }
    if (cJSON_GetArraySize(files) > CG_MAX_FILES) {
        rd_fail(r, CG_EPROTO_TOOBIG, "\"files\" has %d entries, more than the limit of %d",
                cJSON_GetArraySize(files), CG_MAX_FILES);
        return;
    }
    cJSON_ArrayForEach(it, files)
    {
        cg_file_t *f = &m->filev[ex->nfiles];
        snprintf(pre, sizeof pre, "files[%d].", ex->nfiles);
        parse_file(r, it, ex->language, f, pre);
        if (r->rc)
            return;
        total += f->b64_len / 4 * 3;
        for (int i = 0; i < ex->nfiles; i++) {
            const cg_file_t *g = &m->filev[i];
            size_t a = strlen(g->name), b = strlen(f->name);
            if (strcmp(g->name, f->name) == 0 || cg_file_name_clash(g->name, a, f->name, b) ||
                cg_file_name_clash(f->name, b, g->name, a)) {
                rd_fail(r, CG_EPROTO_FIELD, "\"%sname\" clashes with files[%d]", pre, i);
                return;
            }
        }
        ex->nfiles++;
    }
    if (total > CG_MAX_FILES_BYTES + 2u * (unsigned)ex->nfiles)
        rd_fail(r, CG_EPROTO_TOOBIG, "\"files\" hold more than %u bytes", CG_MAX_FILES_BYTES);
}

static void parse_execute(rd_t *r, const cJSON *obj, cg_msg_t *m)
{
    cg_execute_t *ex = &m->exec;

    m->version = rd_version(r, obj);
    ex->id = m->id;
    ex->language = rd_name(r, obj, "language");
    ex->code = rd_str(r, obj, "", "code", true, CG_MAX_CODE_BYTES, &ex->code_len);
    /* exec.args and exec.options always point at m's arrays, NULL-terminated, into the tree. */
    ex->args = m->argv;
    parse_strings(r, obj, "args", CG_MAX_ARGS, CG_MAX_ARG_BYTES, m->argv, &ex->nargs);
    ex->options = m->optv;
    parse_strings(r, obj, "options", CG_MAX_OPTIONS, CG_MAX_OPTION_BYTES, m->optv, &ex->noptions);
    ex->interactive = rd_bool(r, obj, "interactive", false); /* before runs: it sets their range */
    parse_runs(r, obj, ex);
    ex->memory_mb = (int)rd_int(r, obj, "", "memoryMb", false, CG_DEFAULT_MEMORY_MB,
                                CG_MIN_MEMORY_MB, CG_MAX_MEMORY_MB);
    ex->output_limit = (size_t)rd_int(r, obj, "", "outputLimit", false, CG_DEFAULT_OUTPUT_LIMIT, 1,
                                      CG_MAX_OUTPUT_LIMIT);
    ex->stream = rd_bool(r, obj, "stream", false);
    if (r->rc == 0 && ex->language)
        parse_files(r, obj, m);
    ex->out.max_files =
        (int)rd_int(r, obj, "", "outFilesMax", false, CG_DEFAULT_OUT_FILES, 0, CG_MAX_OUT_FILES);
    ex->out.max_file_bytes =
        (size_t)rd_int(r, obj, "", "outFileMaxBytes", false, CG_DEFAULT_OUT_FILE_KB * 1024, 0,
                       CG_MAX_OUT_FILE_BYTES);
    ex->out.max_bytes = (size_t)rd_int(r, obj, "", "outFilesMaxBytes", false,
                                       CG_DEFAULT_OUT_FILES_KB * 1024, 0, CG_MAX_OUT_FILES_BYTES);
    ex->budget_ms = (int)rd_int(r, obj, "", "budgetMs", false, 0, 0, CG_MAX_BUDGET_MS);
    if (r->rc == 0 && ex->budget_ms > 0 && ex->budget_ms < CG_MIN_BUDGET_MS)
        rd_fail(r, CG_EPROTO_FIELD, "\"budgetMs\" must be 0 (none) or between %d and %d (got %d)",
                CG_MIN_BUDGET_MS, CG_MAX_BUDGET_MS, ex->budget_ms);
}

static void parse_outcome(rd_t *r, const cJSON *obj, cg_msg_t *m)
{
    cg_outcome_t *o = &m->outcome;
    const cJSON *sj;
    const char *st;

    if (m->type == CG_MSG_RESULT)
        o->run = (int)rd_int(r, obj, "", "run", true, 0, 0, CG_MAX_RUNS - 1);
    else
        o->run = (int)rd_int(r, obj, "", "run", false, -1, -1, -1);
    st = rd_str(r, obj, "", "status", true, 64, NULL);
    if (st) {
        int s = cg_status_parse(st);
        if (s < 0)
            rd_fail(r, CG_EPROTO_FIELD, "\"status\" \"%.32s\" is not a known status", st);
        o->status = s < 0 ? CG_ST_INTERNAL_ERROR : (cg_status_t)s;
    }
    o->exit_code = (int)rd_int(r, obj, "", "exitCode", true, -1, -1, 255);
    sj = rd_member(r, obj, "", "signal", true);
    if (sj && !cJSON_IsNull(sj)) {
        if (!cJSON_IsString(sj))
            rd_fail(r, CG_EPROTO_FIELD, "\"signal\" must be a signal name or null, not %s",
                    jsonrd_kind(sj));
        else if ((o->signal = signal_parse(sj->valuestring)) == 0)
            rd_fail(r, CG_EPROTO_FIELD, "\"signal\" \"%.32s\" is not a signal name",
                    sj->valuestring);
    }
    o->timed_out = rd_bool(r, obj, "timedOut", true);
    o->truncated = rd_bool(r, obj, "truncated", true);
    o->duration_ms = rd_int(r, obj, "", "durationMs", true, 0, 0, JSON_INT_MAX);
    o->cpu_ms = rd_int(r, obj, "", "cpuMs", true, 0, 0, JSON_INT_MAX);
    o->memory_kb = rd_int(r, obj, "", "memoryKb", true, 0, 0, JSON_INT_MAX);
    o->cached = rd_bool(r, obj, "cached", false);
    o->out = rd_str(r, obj, "", "stdout", true, CG_MAX_FRAME_BYTES, NULL);
    o->err = rd_str(r, obj, "", "stderr", true, CG_MAX_FRAME_BYTES, NULL);
}

/* DONE's "files" (full: {name, size, mimeType, content}) or "filesOmitted" ({name, reason}):
 * absent, or an array of at most max such objects whose members are strings (size: a number).
 * What the gateway passes on to its clients has at least this shape. */
static bool out_files_ok(const cJSON *arr, int max, bool full)
{
    static const char *const file_keys[] = {"name", "mimeType", "content", NULL};
    static const char *const omit_keys[] = {"name", "reason", NULL};
    const cJSON *it;

    if (!arr)
        return true;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > max)
        return false;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsObject(it))
            return false;
        for (const char *const *k = full ? file_keys : omit_keys; *k; k++)
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, *k)))
                return false;
        if (full && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "size")))
            return false;
    }
    return true;
}

/* Members of every type but EXECUTE and COMPILE/RESULT. */
static void parse_small(rd_t *r, const cJSON *obj, cg_msg_t *m)
{
    switch (m->type) {
    case CG_MSG_HELLO:
        m->version = rd_version(r, obj);
        m->language = rd_name(r, obj, "language");
        m->lang_version = rd_str(r, obj, "", "version", true, 256, NULL);
        m->slots = (int)rd_int(r, obj, "", "slots", true, 1, 1, 1024);
        break;
    case CG_MSG_STDIN:
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        m->run = (int)rd_int(r, obj, "", "run", true, 0, 0, CG_MAX_RUNS - 1);
        m->data = rd_str(r, obj, "", "data", true, CG_MAX_FRAME_BYTES, NULL);
        break;
    case CG_MSG_DONE:
        m->runs = (int)rd_int(r, obj, "", "runs", false, 0, 0, CG_MAX_RUNS);
        m->budget_exceeded = rd_bool(r, obj, "budgetExceeded", false);
        m->files = rd_member(r, obj, "", "files", false);
        m->files_omitted = rd_member(r, obj, "", "filesOmitted", false);
        if (!out_files_ok(m->files, CG_MAX_OUT_FILES, true) ||
            !out_files_ok(m->files_omitted, CG_MAX_OUT_OMITTED + 1, false))
            rd_fail(r, CG_EPROTO_FIELD,
                    "\"files\" must be an array of {name, size, mimeType, content} and "
                    "\"filesOmitted\" of {name, reason}, within the limits of files.h");
        break;
    case CG_MSG_ERROR:
        m->code = rd_name(r, obj, "code");
        m->message = rd_str(r, obj, "", "message", false, CG_MAX_FRAME_BYTES, NULL);
        break;
    case CG_MSG_PING:
    case CG_MSG_PONG:
        m->seq = rd_int(r, obj, "", "seq", true, 0, -JSON_INT_MAX, JSON_INT_MAX);
        if (m->type == CG_MSG_PONG) {
            m->slots_down = (int)rd_int(r, obj, "", "slotsDown", false, 0, 0, 4096);
            m->draining = rd_bool(r, obj, "draining", false);
        }
        break;
    case CG_MSG_DRAIN:
        m->grace_ms = rd_int(r, obj, "", "graceMs", false, 0, 0, 86400000);
        break;
    default: /* CLOSE_STDIN, CANCEL, KILL: only the id; UNKNOWN: nothing */
        break;
    }
}

static cg_msg_type_t type_parse(const char *s)
{
    for (int t = CG_MSG_HELLO; t <= CG_MSG_DRAIN; t++)
        if (strcmp(type_names[t], s) == 0)
            return (cg_msg_type_t)t;
    return CG_MSG_UNKNOWN;
}

/* Frames about a job carry its id; error and unknown types may; hello, ping and pong have
 * none (an "id" member there is an unknown member and ignored). */
static bool has_id(cg_msg_type_t t)
{
    return t != CG_MSG_HELLO && t != CG_MSG_PING && t != CG_MSG_PONG && t != CG_MSG_DRAIN;
}

static bool needs_id(cg_msg_type_t t)
{
    return has_id(t) && t != CG_MSG_ERROR && t != CG_MSG_UNKNOWN;
}

static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", msg);
}

/* cJSON stops after the first value; only whitespace may follow it. */
static bool only_space(const char *p, const char *end)
{
    if (!p || p > end)
        return false;
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

int cg_msg_parse(const char *buf, size_t len, cJSON **root, cg_msg_t *msg, char *errbuf,
                 size_t errlen)
{
    const cJSON *t;
    cJSON *tree;
    size_t end = 0;
    rd_t r;

    *root = NULL;
    memset(msg, 0, sizeof *msg);
    set_err(errbuf, errlen, "");
    if (len > CG_MAX_FRAME_BYTES) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "the frame is %zu bytes, more than the limit of %u", len,
                     CG_MAX_FRAME_BYTES);
        return CG_EPROTO_TOOBIG;
    }
    /* Program output, code and stdin can be megabytes: cut out of cJSON's byte loops. */
    tree = buf ? cg_json_parse_big(buf, len, &end) : NULL;
    if (!tree || !cJSON_IsObject(tree) || !only_space(buf + end, buf + len)) {
        set_err(errbuf, errlen,
                !tree                   ? "the frame is not valid JSON"
                : !cJSON_IsObject(tree) ? "the frame is JSON but not an object"
                                        : "the frame has data after its JSON object");
        cJSON_Delete(tree);
        return CG_EPROTO_JSON;
    }
    t = cJSON_GetObjectItemCaseSensitive(tree, "type");
    if (!cJSON_IsString(t) || !t->valuestring) {
        set_err(errbuf, errlen, t ? "\"type\" must be a string" : "\"type\" is missing");
        cJSON_Delete(tree);
        return CG_EPROTO_TYPE;
    }
    msg->type = type_parse(t->valuestring);
    r = (rd_t){cg_msg_type_name(msg->type), errbuf, errlen, 0};
    if (has_id(msg->type))
        msg->id = rd_str(&r, tree, "", "id", needs_id(msg->type), CG_ID_MAX, NULL);
    if (msg->id && !cg_id_valid(msg->id))
        rd_fail(&r, CG_EPROTO_FIELD, "\"id\" must be 1 to %d characters of [A-Za-z0-9_-]",
                CG_ID_MAX);
    /* An over-long id is a malformed id, not a size problem. */
    if (r.rc == CG_EPROTO_TOOBIG)
        r.rc = CG_EPROTO_FIELD;
    if (msg->type == CG_MSG_EXECUTE)
        parse_execute(&r, tree, msg);
    else if (msg->type == CG_MSG_COMPILE || msg->type == CG_MSG_RESULT)
        parse_outcome(&r, tree, msg);
    else
        parse_small(&r, tree, msg);
    if (r.rc != 0) {
        cJSON_Delete(tree);
        memset(msg, 0, sizeof *msg);
        return r.rc;
    }
    *root = tree;
    return 0;
}

/* ---- encoding ---- */

/* Encoder state: the object under construction and whether every member made it. A frame with
 * a member missing would be worse than no frame, so any failure makes the encoder return NULL. */
typedef struct {
    cJSON *o;
    bool ok;
} enc_t;

static enc_t enc_new(cg_msg_type_t type, const char *id)
{
    enc_t e = {cJSON_CreateObject(), true};

    e.ok = e.o && cJSON_AddStringToObject(e.o, "type", cg_msg_type_name(type));
    if (e.ok && id)
        e.ok = cJSON_AddStringToObject(e.o, "id", id) != NULL;
    return e;
}

static void enc_num(enc_t *e, cJSON *obj, const char *name, double v)
{
    if (e->ok)
        e->ok = cJSON_AddNumberToObject(obj, name, v) != NULL;
}

static void enc_bool(enc_t *e, const char *name, bool v)
{
    if (e->ok)
        e->ok = cJSON_AddBoolToObject(e->o, name, v) != NULL;
}

static void enc_str(enc_t *e, cJSON *obj, const char *name, const char *s)
{
    if (e->ok)
        e->ok = cJSON_AddStringToObject(obj, name, s ? s : "") != NULL;
}

/* Adds s[0..len) (not necessarily NUL-terminated) as a string member, byte for byte. A NUL
 * inside cannot be carried (cJSON strings end at NUL) and fails the frame. */
static void enc_strn(enc_t *e, cJSON *obj, const char *name, const char *s, size_t len)
{
    char *tmp;

    if (!e->ok)
        return;
    if (!s || len == 0) {
        enc_str(e, obj, name, "");
        return;
    }
    if (memchr(s, '\0', len) || !(tmp = malloc(len + 1))) {
        e->ok = false;
        return;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    enc_str(e, obj, name, tmp);
    free(tmp);
}

/* Adds program output: valid UTF-8 without NUL goes as is, anything else is sanitized first
 * so the frame always satisfies the wire rule of utf8.h. */
static void enc_text(enc_t *e, cJSON *obj, const char *name, const char *s, size_t len)
{
    char *tmp;

    if (!e->ok || !s || cg_utf8_valid((const unsigned char *)s, len)) {
        enc_strn(e, obj, name, s, len);
        return;
    }
    tmp = malloc(CG_UTF8_MAX_OUT(len));
    if (!tmp) {
        e->ok = false;
        return;
    }
    cg_utf8_sanitize(NULL, (const unsigned char *)s, len, tmp, true);
    enc_str(e, obj, name, tmp);
    free(tmp);
}

static char *enc_finish(enc_t *e)
{
    char *s = e->ok ? cJSON_PrintUnformatted(e->o) : NULL;

    cJSON_Delete(e->o);
    return s;
}

char *cg_encode_hello(const char *language, const char *version, int slots)
{
    enc_t e = enc_new(CG_MSG_HELLO, NULL);

    enc_num(&e, e.o, "v", CG_PROTO_VERSION);
    enc_str(&e, e.o, "language", language);
    enc_str(&e, e.o, "version", version);
    enc_num(&e, e.o, "slots", slots);
    return enc_finish(&e);
}

char *cg_encode_execute(const cg_execute_t *ex)
{
    enc_t e = enc_new(CG_MSG_EXECUTE, ex->id);
    cJSON *args = NULL, *opts = NULL, *runs = NULL, *files = NULL, *r;

    /* Counts beyond the arrays of cg_execute_t / cg_msg_t cannot be a valid frame. */
    if (ex->nruns < 1 || ex->nruns > CG_MAX_RUNS || ex->nargs < 0 || ex->nargs > CG_MAX_ARGS ||
        ex->noptions < 0 || ex->noptions > CG_MAX_OPTIONS)
        e.ok = false;
    enc_num(&e, e.o, "v", CG_PROTO_VERSION);
    enc_str(&e, e.o, "language", ex->language);
    enc_strn(&e, e.o, "code", ex->code, ex->code_len);
    if (e.ok)
        e.ok = (args = cJSON_AddArrayToObject(e.o, "args")) != NULL;
    for (int i = 0; e.ok && i < ex->nargs; i++) {
        cJSON *a = cJSON_CreateString(ex->args[i] ? ex->args[i] : "");
        e.ok = a && cJSON_AddItemToArray(args, a);
        if (!e.ok)
            cJSON_Delete(a);
    }
    if (e.ok)
        e.ok = (opts = cJSON_AddArrayToObject(e.o, "options")) != NULL;
    for (int i = 0; e.ok && i < ex->noptions; i++) {
        cJSON *a = cJSON_CreateString(ex->options[i] ? ex->options[i] : "");
        e.ok = a && cJSON_AddItemToArray(opts, a);
        if (!e.ok)
            cJSON_Delete(a);
    }
    if (e.ok)
        e.ok = (runs = cJSON_AddArrayToObject(e.o, "runs")) != NULL;
    for (int i = 0; e.ok && i < ex->nruns; i++) {
        e.ok = (r = cJSON_CreateObject()) && cJSON_AddItemToArray(runs, r);
        if (!e.ok) {
            cJSON_Delete(r);
            break;
        }
        enc_strn(&e, r, "input", ex->runs[i].input, ex->runs[i].input_len);
        enc_num(&e, r, "timeoutMs", ex->runs[i].timeout_ms);
    }
    enc_num(&e, e.o, "memoryMb", ex->memory_mb);
    enc_num(&e, e.o, "outputLimit", (double)ex->output_limit);
    enc_bool(&e, "stream", ex->stream);
    enc_bool(&e, "interactive", ex->interactive);
    enc_num(&e, e.o, "budgetMs", ex->budget_ms);
    if (ex->nfiles < 0 || ex->nfiles > CG_MAX_FILES)
        e.ok = false;
    if (e.ok && ex->nfiles > 0)
        e.ok = (files = cJSON_AddArrayToObject(e.o, "files")) != NULL;
    for (int i = 0; e.ok && i < ex->nfiles; i++) {
        e.ok = (r = cJSON_CreateObject()) && cJSON_AddItemToArray(files, r);
        if (!e.ok) {
            cJSON_Delete(r);
            break;
        }
        enc_str(&e, r, "name", ex->files[i].name);
        enc_strn(&e, r, "content", ex->files[i].b64, ex->files[i].b64_len);
    }
    enc_num(&e, e.o, "outFilesMax", ex->out.max_files);
    enc_num(&e, e.o, "outFileMaxBytes", (double)ex->out.max_file_bytes);
    enc_num(&e, e.o, "outFilesMaxBytes", (double)ex->out.max_bytes);
    return enc_finish(&e);
}

char *cg_encode_simple(cg_msg_type_t type, const char *id)
{
    enc_t e = enc_new(type, id);

    return enc_finish(&e);
}

/* ---- the frames that carry program output: written directly, not through a cJSON tree ---- */

/* Adds program output like enc_text: valid UTF-8 without NUL as it is, anything else
 * sanitized first; escaped straight into the frame's buffer. */
static void jw_text(cg_jw_t *w, const char *name, const char *s, size_t len)
{
    char *tmp;

    if (!s || cg_utf8_valid((const unsigned char *)s, len)) {
        cg_jw_str(w, name, s, s ? len : 0);
        return;
    }
    tmp = malloc(CG_UTF8_MAX_OUT(len));
    if (!tmp) {
        w->ok = false;
        return;
    }
    len = cg_utf8_sanitize(NULL, (const unsigned char *)s, len, tmp, true);
    cg_jw_str(w, name, tmp, len);
    free(tmp);
}

/* {"type":..., "id":...: the opening every output frame shares. */
static void jw_open(cg_jw_t *w, cg_msg_type_t type, const char *id, size_t hint)
{
    const char *t = cg_msg_type_name(type);

    cg_jw_begin(w, hint + 64);
    cg_jw_str(w, "type", t, strlen(t));
    if (id)
        cg_jw_str(w, "id", id, strlen(id));
}

char *cg_encode_data(cg_msg_type_t type, const char *id, int run, const char *data, size_t len)
{
    cg_jw_t w;

    jw_open(&w, type, id, len);
    cg_jw_int(&w, "run", run);
    jw_text(&w, "data", data, data ? len : 0);
    return cg_jw_finish(&w);
}

char *cg_encode_outcome(cg_msg_type_t type, const char *id, const cg_outcome_t *oc)
{
    const char *sig = cg_signal_name(oc->signal);
    const char *st = cg_status_name(oc->status);
    size_t nout = oc->out ? strlen(oc->out) : 0, nerr = oc->err ? strlen(oc->err) : 0;
    cg_jw_t w;

    jw_open(&w, type, id, nout + nerr + 256);
    if (type == CG_MSG_RESULT)
        cg_jw_int(&w, "run", oc->run);
    cg_jw_str(&w, "status", st, strlen(st));
    cg_jw_int(&w, "exitCode", oc->exit_code);
    if (sig)
        cg_jw_str(&w, "signal", sig, strlen(sig));
    else
        cg_jw_null(&w, "signal");
    cg_jw_bool(&w, "timedOut", oc->timed_out);
    cg_jw_bool(&w, "truncated", oc->truncated);
    cg_jw_int(&w, "durationMs", oc->duration_ms);
    cg_jw_int(&w, "cpuMs", oc->cpu_ms);
    cg_jw_int(&w, "memoryKb", oc->memory_kb);
    if (type == CG_MSG_COMPILE && oc->cached)
        cg_jw_bool(&w, "cached", true);
    jw_text(&w, "stdout", oc->out, nout);
    jw_text(&w, "stderr", oc->err, nerr);
    return cg_jw_finish(&w);
}

char *cg_encode_done(const char *id, int runs, bool budget_exceeded)
{
    enc_t e = enc_new(CG_MSG_DONE, id);

    enc_num(&e, e.o, "runs", runs);
    enc_bool(&e, "budgetExceeded", budget_exceeded);
    return enc_finish(&e);
}

char *cg_encode_done_files(const char *id, int runs, bool budget_exceeded, cJSON *files,
                           cJSON *omitted)
{
    enc_t e = enc_new(CG_MSG_DONE, id);

    enc_num(&e, e.o, "runs", runs);
    enc_bool(&e, "budgetExceeded", budget_exceeded);
    if (files && (!e.ok || !cJSON_AddItemToObject(e.o, "files", files))) {
        e.ok = false;
        cJSON_Delete(files);
    }
    if (omitted && (!e.ok || !cJSON_AddItemToObject(e.o, "filesOmitted", omitted))) {
        e.ok = false;
        cJSON_Delete(omitted);
    }
    return enc_finish(&e);
}

char *cg_encode_error(const char *id, const char *code, const char *message)
{
    enc_t e = enc_new(CG_MSG_ERROR, id);

    enc_str(&e, e.o, "code", code);
    enc_text(&e, e.o, "message", message, message ? strlen(message) : 0);
    return enc_finish(&e);
}

char *cg_encode_pong(int64_t seq, int slots_down, bool draining)
{
    enc_t e = enc_new(CG_MSG_PONG, NULL);

    enc_num(&e, e.o, "seq", (double)seq);
    enc_num(&e, e.o, "slotsDown", (double)slots_down);
    if (draining)
        enc_bool(&e, "draining", true);
    return enc_finish(&e);
}

char *cg_encode_drain(int64_t grace_ms)
{
    enc_t e = enc_new(CG_MSG_DRAIN, NULL);

    enc_num(&e, e.o, "graceMs", (double)grace_ms);
    return enc_finish(&e);
}

char *cg_encode_ping(cg_msg_type_t type, int64_t seq)
{
    enc_t e = enc_new(type, NULL);

    enc_num(&e, e.o, "seq", (double)seq);
    return enc_finish(&e);
}
