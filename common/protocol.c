/*
 * protocol.c - encoder and decoder of the gateway <-> executor frames (see protocol.h).
 *
 * Members on the wire (camelCase; "type" in every frame):
 *   hello       {"type","v","language","version","slots"}
 *   execute     {"type","v","id","language","code","args":[..],"runs":[{"input","timeoutMs"}],
 *                "memoryMb","outputLimit","stream","interactive"}
 *   stdin/stdout/stderr  {"type","id","run","data"}
 *   close_stdin/cancel/kill  {"type","id"}
 *   compile/result  {"type","id","run","status","exitCode","signal","timedOut","truncated",
 *                "durationMs","cpuMs","memoryKb","stdout","stderr"}  (signal: "SIGKILL" or null)
 *   done        {"type","id","runs"}
 *   error       {"type","id"?,"code","message"}
 *   ping/pong   {"type","seq"}
 */
#include "protocol.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [CG_MSG_UNKNOWN] = "unknown", [CG_MSG_HELLO] = "hello",   [CG_MSG_EXECUTE] = "execute",
    [CG_MSG_STDIN] = "stdin",     [CG_MSG_CLOSE_STDIN] = "close_stdin",
    [CG_MSG_CANCEL] = "cancel",   [CG_MSG_KILL] = "kill",     [CG_MSG_COMPILE] = "compile",
    [CG_MSG_STDOUT] = "stdout",   [CG_MSG_STDERR] = "stderr", [CG_MSG_RESULT] = "result",
    [CG_MSG_DONE] = "done",       [CG_MSG_ERROR] = "error",   [CG_MSG_PING] = "ping",
    [CG_MSG_PONG] = "pong",
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
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},   {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},   {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"}, {SIGSTKFLT, "SIGSTKFLT"},
    {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},   {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},
    {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},   {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},
    {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"},
    {SIGIO, "SIGIO"},     {SIGPWR, "SIGPWR"},     {SIGSYS, "SIGSYS"},
};

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
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (signals[i].num == sig)
            return signals[i].name;
    return "SIGUNKNOWN";
}

static int signal_parse(const char *name)
{
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (strcmp(signals[i].name, name) == 0)
            return signals[i].num;
    return -1;
}

const char *cg_msg_type_name(cg_msg_type_t t)
{
    return (unsigned)t <= CG_MSG_PONG ? type_names[t] : "unknown";
}

const char *cg_proto_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case CG_EPROTO_JSON:
        return "not a JSON object";
    case CG_EPROTO_TYPE:
        return "missing or invalid type";
    case CG_EPROTO_FIELD:
        return "a member is missing or invalid";
    case CG_EPROTO_TOOBIG:
        return "a limit is exceeded";
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
    }
    return n >= 1 && n <= CG_ID_MAX;
}

/* ---- decoding ---- */

typedef struct {
    const cJSON *obj;
    char *err;
    size_t errlen;
    int rc;
} rd_t;

static void rd_fail(rd_t *r, int rc, const char *fmt, const char *name)
{
    if (r->rc == 0) {
        r->rc = rc;
        if (r->err && r->errlen)
            snprintf(r->err, r->errlen, fmt, name);
    }
}

/* Required (or optional) string member; NULL when absent or failed. */
static const char *rd_str(rd_t *r, const char *name, bool required)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->obj, name);

    if (!it) {
        if (required)
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" is missing", name);
        return NULL;
    }
    if (!cJSON_IsString(it) || !it->valuestring) {
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be a string", name);
        return NULL;
    }
    return it->valuestring;
}

static int64_t rd_int(rd_t *r, const char *name, bool required, int64_t def, int64_t min,
                      int64_t max)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->obj, name);
    double d;

    if (!it || cJSON_IsNull(it)) {
        if (required)
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" is missing", name);
        return def;
    }
    if (!cJSON_IsNumber(it)) {
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be a number", name);
        return def;
    }
    d = it->valuedouble;
    if (d != (double)(int64_t)d || d < (double)min || d > (double)max) {
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" is not an integer in range", name);
        return def;
    }
    return (int64_t)d;
}

static bool rd_bool(rd_t *r, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->obj, name);

    if (!it)
        return false;
    if (!cJSON_IsBool(it)) {
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be a boolean", name);
        return false;
    }
    return cJSON_IsTrue(it);
}

static void parse_execute(rd_t *r, cg_msg_t *m)
{
    cg_execute_t *ex = &m->exec;
    const cJSON *args, *runs, *it;
    ex->id = m->id;
    ex->language = rd_str(r, "language", true);
    ex->code = rd_str(r, "code", true);
    ex->code_len = ex->code ? strlen(ex->code) : 0;
    if (ex->code_len > CG_MAX_CODE_BYTES)
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s\" exceeds its limit", "code");
    ex->memory_mb = (int)rd_int(r, "memoryMb", false, CG_DEFAULT_MEMORY_MB, CG_MIN_MEMORY_MB,
                                CG_MAX_MEMORY_MB);
    ex->output_limit = (size_t)rd_int(r, "outputLimit", false, CG_DEFAULT_OUTPUT_LIMIT, 1,
                                      CG_MAX_OUTPUT_LIMIT);
    ex->stream = rd_bool(r, "stream");
    ex->interactive = rd_bool(r, "interactive");
    args = cJSON_GetObjectItemCaseSensitive(r->obj, "args");
    if (args && !cJSON_IsArray(args))
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be an array", "args");
    else if (args && cJSON_GetArraySize(args) > CG_MAX_ARGS)
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s\" has too many entries", "args");
    else if (args) {
        /* exec.args points into m->argv, which points into the tree. */
        int n = 0;
        cJSON_ArrayForEach(it, args)
        {
            if (!cJSON_IsString(it) || strlen(it->valuestring) > CG_MAX_ARG_BYTES) {
                rd_fail(r, CG_EPROTO_FIELD, "\"%s\" entries must be strings of bounded size",
                        "args");
                break;
            }
            m->argv[n++] = it->valuestring;
        }
        m->argv[n] = NULL;
        ex->args = m->argv;
        ex->nargs = n;
    }
    runs = cJSON_GetObjectItemCaseSensitive(r->obj, "runs");
    if (!runs || !cJSON_IsArray(runs)) {
        rd_fail(r, CG_EPROTO_FIELD, "\"%s\" must be an array", "runs");
        return;
    }
    int n = cJSON_GetArraySize(runs);
    if (n < 1 || n > CG_MAX_RUNS) {
        rd_fail(r, CG_EPROTO_TOOBIG, "\"%s\" must have 1 to 50 entries", "runs");
        return;
    }
    ex->nruns = 0;
    cJSON_ArrayForEach(it, runs)
    {
        rd_t sub = {it, r->err, r->errlen, 0};
        cg_run_spec_t *rs = &ex->runs[ex->nruns++];
        if (!cJSON_IsObject(it)) {
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" entries must be objects", "runs");
            return;
        }
        rs->input = rd_str(&sub, "input", false);
        rs->input_len = rs->input ? strlen(rs->input) : 0;
        rs->timeout_ms = (int)rd_int(&sub, "timeoutMs", false, CG_DEFAULT_TIMEOUT_MS, 1,
                                     CG_MAX_TIMEOUT_MS);
        if (rs->input_len > CG_MAX_INPUT_BYTES)
            rd_fail(&sub, CG_EPROTO_TOOBIG, "\"%s\" exceeds its limit", "runs[].input");
        if (sub.rc) {
            r->rc = sub.rc;
            return;
        }
    }
}

static void parse_outcome(rd_t *r, cg_msg_t *m)
{
    cg_outcome_t *o = &m->outcome;
    const char *st, *sig;
    const cJSON *sj;

    o->run = (int)rd_int(r, "run", m->type == CG_MSG_RESULT, -1, -1, CG_MAX_RUNS - 1);
    st = rd_str(r, "status", true);
    if (st) {
        int s = cg_status_parse(st);
        if (s < 0)
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" is not a known status", "status");
        else
            o->status = (cg_status_t)s;
    }
    o->exit_code = (int)rd_int(r, "exitCode", false, -1, -1, 255);
    sj = cJSON_GetObjectItemCaseSensitive(r->obj, "signal");
    o->signal = 0;
    if (sj && !cJSON_IsNull(sj)) {
        sig = cJSON_IsString(sj) ? sj->valuestring : NULL;
        int s = sig ? signal_parse(sig) : -1;
        if (s < 0 && !(sig && strcmp(sig, "SIGUNKNOWN") == 0))
            rd_fail(r, CG_EPROTO_FIELD, "\"%s\" is not a signal name", "signal");
        o->signal = s < 0 ? 0 : s;
    }
    o->timed_out = rd_bool(r, "timedOut");
    o->truncated = rd_bool(r, "truncated");
    o->duration_ms = rd_int(r, "durationMs", false, 0, 0, INT64_C(1) << 50);
    o->cpu_ms = rd_int(r, "cpuMs", false, 0, 0, INT64_C(1) << 50);
    o->memory_kb = rd_int(r, "memoryKb", false, 0, 0, INT64_C(1) << 50);
    o->out = rd_str(r, "stdout", false);
    o->err = rd_str(r, "stderr", false);
    if (!o->out)
        o->out = "";
    if (!o->err)
        o->err = "";
}

static cg_msg_type_t type_parse(const char *s)
{
    for (int t = CG_MSG_HELLO; t <= CG_MSG_PONG; t++)
        if (strcmp(type_names[t], s) == 0)
            return (cg_msg_type_t)t;
    return CG_MSG_UNKNOWN;
}

static bool needs_id(cg_msg_type_t t)
{
    return t != CG_MSG_HELLO && t != CG_MSG_PING && t != CG_MSG_PONG && t != CG_MSG_ERROR &&
           t != CG_MSG_UNKNOWN;
}

int cg_msg_parse(const char *buf, size_t len, cJSON **root, cg_msg_t *msg, char *errbuf,
                 size_t errlen)
{
    cJSON *tree;
    const cJSON *t;
    rd_t r;

    *root = NULL;
    memset(msg, 0, sizeof *msg);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (len > CG_MAX_FRAME_BYTES) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "frame of %zu bytes exceeds the limit", len);
        return CG_EPROTO_TOOBIG;
    }
    tree = cJSON_ParseWithLength(buf, len);
    if (!tree || !cJSON_IsObject(tree)) {
        cJSON_Delete(tree);
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "the frame is not a JSON object");
        return CG_EPROTO_JSON;
    }
    r = (rd_t){tree, errbuf, errlen, 0};
    t = cJSON_GetObjectItemCaseSensitive(tree, "type");
    if (!cJSON_IsString(t)) {
        cJSON_Delete(tree);
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "\"type\" is missing or not a string");
        return CG_EPROTO_TYPE;
    }
    msg->type = type_parse(t->valuestring);
    msg->id = rd_str(&r, "id", needs_id(msg->type));
    if (msg->id && !cg_id_valid(msg->id))
        rd_fail(&r, CG_EPROTO_FIELD, "\"%s\" must be 1-64 characters of [A-Za-z0-9_-]", "id");
    switch (msg->type) {
    case CG_MSG_HELLO:
        msg->version = (int)rd_int(&r, "v", true, 0, 1, 1000000);
        msg->language = rd_str(&r, "language", true);
        msg->lang_version = rd_str(&r, "version", false);
        msg->slots = (int)rd_int(&r, "slots", false, 1, 1, 1024);
        break;
    case CG_MSG_EXECUTE:
        msg->version = (int)rd_int(&r, "v", false, CG_PROTO_VERSION, 1, 1000000);
        parse_execute(&r, msg);
        break;
    case CG_MSG_STDIN:
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        msg->data = rd_str(&r, "data", true);
        msg->run = (int)rd_int(&r, "run", false, 0, 0, CG_MAX_RUNS - 1);
        break;
    case CG_MSG_COMPILE:
    case CG_MSG_RESULT:
        parse_outcome(&r, msg);
        break;
    case CG_MSG_DONE:
        msg->runs = (int)rd_int(&r, "runs", false, 0, 0, CG_MAX_RUNS);
        break;
    case CG_MSG_ERROR:
        msg->code = rd_str(&r, "code", true);
        msg->message = rd_str(&r, "message", false);
        break;
    case CG_MSG_PING:
    case CG_MSG_PONG:
        msg->seq = rd_int(&r, "seq", false, 0, INT64_MIN / 2, INT64_MAX / 2);
        break;
    default:
        break;
    }
    if (r.rc != 0) {
        cJSON_Delete(tree);
        memset(msg, 0, sizeof *msg);
        return r.rc;
    }
    *root = tree;
    return 0;
}

/* ---- encoding ---- */

static char *finish(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return s;
}

static cJSON *new_msg(cg_msg_type_t type, const char *id)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", cg_msg_type_name(type));
    if (id)
        cJSON_AddStringToObject(o, "id", id);
    return o;
}

char *cg_encode_hello(const char *language, const char *version, int slots)
{
    cJSON *o = new_msg(CG_MSG_HELLO, NULL);

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "v", CG_PROTO_VERSION);
    cJSON_AddStringToObject(o, "language", language);
    cJSON_AddStringToObject(o, "version", version ? version : "");
    cJSON_AddNumberToObject(o, "slots", slots);
    return finish(o);
}

/* cJSON strings are NUL-terminated: a member with an explicit length is copied bounded. */
static cJSON *string_n(const char *s, size_t len)
{
    char *tmp;
    cJSON *it;

    if (!s)
        return cJSON_CreateString("");
    if (s[len] == '\0')
        return cJSON_CreateString(s);
    tmp = malloc(len + 1);
    if (!tmp)
        return NULL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    it = cJSON_CreateString(tmp);
    free(tmp);
    return it;
}

char *cg_encode_execute(const cg_execute_t *ex)
{
    cJSON *o = new_msg(CG_MSG_EXECUTE, ex->id), *args, *runs;

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "v", CG_PROTO_VERSION);
    cJSON_AddStringToObject(o, "language", ex->language);
    cJSON_AddItemToObject(o, "code", string_n(ex->code, ex->code_len));
    args = cJSON_AddArrayToObject(o, "args");
    for (int i = 0; args && i < ex->nargs; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(ex->args[i]));
    runs = cJSON_AddArrayToObject(o, "runs");
    for (int i = 0; runs && i < ex->nruns; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r)
            break;
        cJSON_AddItemToObject(r, "input", string_n(ex->runs[i].input, ex->runs[i].input_len));
        cJSON_AddNumberToObject(r, "timeoutMs", ex->runs[i].timeout_ms);
        cJSON_AddItemToArray(runs, r);
    }
    cJSON_AddNumberToObject(o, "memoryMb", ex->memory_mb);
    cJSON_AddNumberToObject(o, "outputLimit", (double)ex->output_limit);
    cJSON_AddBoolToObject(o, "stream", ex->stream);
    cJSON_AddBoolToObject(o, "interactive", ex->interactive);
    /* Every member must have made it: a partial frame would be worse than none. */
    if (cJSON_GetArraySize(runs) != ex->nruns || cJSON_GetArraySize(args) != ex->nargs ||
        !cJSON_GetObjectItem(o, "code") || !cJSON_GetObjectItem(o, "interactive")) {
        cJSON_Delete(o);
        return NULL;
    }
    return finish(o);
}

char *cg_encode_simple(cg_msg_type_t type, const char *id) { return finish(new_msg(type, id)); }

char *cg_encode_data(cg_msg_type_t type, const char *id, int run, const char *data, size_t len)
{
    cJSON *o = new_msg(type, id);

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "run", run);
    cJSON *d = string_n(data, len);
    if (!d) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(o, "data", d);
    return finish(o);
}

char *cg_encode_outcome(cg_msg_type_t type, const char *id, const cg_outcome_t *oc)
{
    cJSON *o = new_msg(type, id);
    const char *sig = cg_signal_name(oc->signal);

    if (!o)
        return NULL;
    if (type == CG_MSG_RESULT || oc->run >= 0)
        cJSON_AddNumberToObject(o, "run", oc->run);
    cJSON_AddStringToObject(o, "status", cg_status_name(oc->status));
    cJSON_AddNumberToObject(o, "exitCode", oc->exit_code);
    if (sig)
        cJSON_AddStringToObject(o, "signal", sig);
    else
        cJSON_AddNullToObject(o, "signal");
    cJSON_AddBoolToObject(o, "timedOut", oc->timed_out);
    cJSON_AddBoolToObject(o, "truncated", oc->truncated);
    cJSON_AddNumberToObject(o, "durationMs", (double)oc->duration_ms);
    cJSON_AddNumberToObject(o, "cpuMs", (double)oc->cpu_ms);
    cJSON_AddNumberToObject(o, "memoryKb", (double)oc->memory_kb);
    if (!cJSON_AddStringToObject(o, "stdout", oc->out ? oc->out : "") ||
        !cJSON_AddStringToObject(o, "stderr", oc->err ? oc->err : "")) {
        cJSON_Delete(o);
        return NULL;
    }
    return finish(o);
}

char *cg_encode_done(const char *id, int runs)
{
    cJSON *o = new_msg(CG_MSG_DONE, id);

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "runs", runs);
    return finish(o);
}

char *cg_encode_error(const char *id, const char *code, const char *message)
{
    cJSON *o = new_msg(CG_MSG_ERROR, id);

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message ? message : "");
    return finish(o);
}

char *cg_encode_ping(cg_msg_type_t type, int64_t seq)
{
    cJSON *o = new_msg(type, NULL);

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    return finish(o);
}
