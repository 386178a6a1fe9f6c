/*
 * fuzz_protocol.c - libFuzzer target for the frame decoder (common/protocol.c).
 *
 * Every input is parsed from an exact-size copy (no NUL after it, so ASan sees any read past
 * the end). A frame that parses must satisfy the limits of protocol.h, and re-encoding it with
 * the encoder of its type must give a frame that parses again to the same values: the decoder
 * accepts nothing the encoder cannot express and the encoder writes nothing the decoder
 * refuses. Built and run by scripts/fuzz.sh (not part of make test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "utf8.h"
#include "fuzz.h"

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Strings that the encoders sanitize only compare when they were valid UTF-8 already. */
static bool same_text(const char *orig, const char *back)
{
    if (!orig || !cg_utf8_valid((const unsigned char *)orig, strlen(orig)))
        return back && cg_utf8_valid((const unsigned char *)back, strlen(back));
    return same_str(orig, back);
}

static void check_limits(const cg_msg_t *m)
{
    if (m->id)
        CHECK(cg_id_valid(m->id));
    if (m->type == CG_MSG_EXECUTE) {
        const cg_execute_t *ex = &m->exec;
        CHECK(ex->nruns >= 1 && ex->nruns <= CG_MAX_RUNS);
        CHECK(ex->nargs >= 0 && ex->nargs <= CG_MAX_ARGS);
        CHECK(ex->args == m->argv && ex->args[ex->nargs] == NULL);
        CHECK(ex->code && strlen(ex->code) == ex->code_len && ex->code_len <= CG_MAX_CODE_BYTES);
        CHECK(ex->memory_mb >= CG_MIN_MEMORY_MB && ex->memory_mb <= CG_MAX_MEMORY_MB);
        CHECK(ex->output_limit >= 1 && ex->output_limit <= CG_MAX_OUTPUT_LIMIT);
        for (int i = 0; i < ex->nruns; i++) {
            CHECK(ex->runs[i].timeout_ms >= 1 &&
                  ex->runs[i].timeout_ms <=
                      (ex->interactive ? CG_MAX_SESSION_MS : CG_MAX_TIMEOUT_MS));
            CHECK(ex->runs[i].input_len <= CG_MAX_INPUT_BYTES);
        }
        for (int i = 0; i < ex->nargs; i++)
            CHECK(strlen(ex->args[i]) <= CG_MAX_ARG_BYTES);
    }
    if (m->type == CG_MSG_RESULT)
        CHECK(m->outcome.run >= 0 && m->outcome.run < CG_MAX_RUNS);
    if (m->type == CG_MSG_COMPILE)
        CHECK(m->outcome.run == -1);
    if (m->type == CG_MSG_COMPILE || m->type == CG_MSG_RESULT) {
        CHECK((unsigned)m->outcome.status < CG_ST__COUNT);
        CHECK(m->outcome.exit_code >= -1 && m->outcome.exit_code <= 255);
        CHECK(m->outcome.out && m->outcome.err);
    }
}

static char *reencode(const cg_msg_t *m)
{
    switch (m->type) {
    case CG_MSG_HELLO:
        return cg_encode_hello(m->language, m->lang_version, m->slots);
    case CG_MSG_EXECUTE:
        return cg_encode_execute(&m->exec);
    case CG_MSG_STDIN:
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        return cg_encode_data(m->type, m->id, m->run, m->data, strlen(m->data));
    case CG_MSG_CLOSE_STDIN:
    case CG_MSG_CANCEL:
    case CG_MSG_KILL:
        return cg_encode_simple(m->type, m->id);
    case CG_MSG_COMPILE:
    case CG_MSG_RESULT:
        return cg_encode_outcome(m->type, m->id, &m->outcome);
    case CG_MSG_DONE:
        return cg_encode_done(m->id, m->runs, m->budget_exceeded);
    case CG_MSG_ERROR:
        return cg_encode_error(m->id, m->code, m->message);
    case CG_MSG_PING:
        return cg_encode_ping(m->type, m->seq);
    case CG_MSG_PONG:
        return cg_encode_pong(m->seq, m->slots_down, m->draining);
    case CG_MSG_DRAIN:
        return cg_encode_drain(m->grace_ms);
    default:
        return NULL;
    }
}

static void compare(const cg_msg_t *a, const cg_msg_t *b)
{
    CHECK(a->type == b->type);
    CHECK(same_str(a->id, b->id));
    switch (a->type) {
    case CG_MSG_HELLO:
        CHECK(a->version == b->version && a->slots == b->slots);
        CHECK(same_str(a->language, b->language) && same_str(a->lang_version, b->lang_version));
        break;
    case CG_MSG_EXECUTE:
        CHECK(same_str(a->exec.language, b->exec.language));
        CHECK(a->exec.code_len == b->exec.code_len && same_str(a->exec.code, b->exec.code));
        CHECK(a->exec.nargs == b->exec.nargs && a->exec.nruns == b->exec.nruns);
        for (int i = 0; i < a->exec.nargs; i++)
            CHECK(same_str(a->exec.args[i], b->exec.args[i]));
        for (int i = 0; i < a->exec.nruns; i++) {
            CHECK(same_str(a->exec.runs[i].input, b->exec.runs[i].input));
            CHECK(a->exec.runs[i].timeout_ms == b->exec.runs[i].timeout_ms);
        }
        CHECK(a->exec.memory_mb == b->exec.memory_mb);
        CHECK(a->exec.output_limit == b->exec.output_limit);
        CHECK(a->exec.stream == b->exec.stream && a->exec.interactive == b->exec.interactive);
        break;
    case CG_MSG_STDIN:
    case CG_MSG_STDOUT:
    case CG_MSG_STDERR:
        CHECK(a->run == b->run && same_text(a->data, b->data));
        break;
    case CG_MSG_COMPILE:
    case CG_MSG_RESULT: {
        const cg_outcome_t *x = &a->outcome, *y = &b->outcome;
        CHECK(x->run == y->run && x->status == y->status && x->exit_code == y->exit_code);
        CHECK(x->signal == y->signal && x->timed_out == y->timed_out);
        CHECK(x->truncated == y->truncated && x->duration_ms == y->duration_ms);
        CHECK(x->cpu_ms == y->cpu_ms && x->memory_kb == y->memory_kb);
        CHECK(same_text(x->out, y->out) && same_text(x->err, y->err));
        break;
    }
    case CG_MSG_DONE:
        CHECK(a->runs == b->runs);
        break;
    case CG_MSG_ERROR:
        CHECK(same_str(a->code, b->code) && same_text(a->message, b->message));
        break;
    case CG_MSG_PING:
        CHECK(a->seq == b->seq);
        break;
    case CG_MSG_PONG:
        CHECK(a->seq == b->seq && a->slots_down == b->slots_down && a->draining == b->draining);
        break;
    case CG_MSG_DRAIN:
        CHECK(a->grace_ms == b->grace_ms);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cg_msg_t m, m2; /* large (argv arrays): not on the stack */
    char *buf = malloc(size ? size : 1), *frame, err[160];
    cJSON *root = NULL, *root2 = NULL;
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    rc = cg_msg_parse(buf, size, &root, &m, err, sizeof err);
    free(buf);
    if (rc != 0) {
        CHECK(root == NULL && m.type == CG_MSG_UNKNOWN && m.id == NULL);
        CHECK(rc == CG_EPROTO_JSON || rc == CG_EPROTO_TYPE || rc == CG_EPROTO_FIELD ||
              rc == CG_EPROTO_TOOBIG);
        CHECK(err[0] != '\0' && strlen(err) < sizeof err);
        return 0;
    }
    CHECK(root != NULL);
    check_limits(&m);
    frame = reencode(&m);
    if (m.type != CG_MSG_UNKNOWN) {
        CHECK(frame != NULL);
        /* Program output is always valid UTF-8 on the wire (code, args, inputs and names
         * travel byte for byte and are not checked here). */
        if (m.type == CG_MSG_STDOUT || m.type == CG_MSG_STDERR || m.type == CG_MSG_STDIN ||
            m.type == CG_MSG_COMPILE || m.type == CG_MSG_RESULT)
            CHECK(cg_utf8_valid((const unsigned char *)frame, strlen(frame)));
        rc = cg_msg_parse(frame, strlen(frame), &root2, &m2, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "re-encoded frame rejected: %s\n%s\n", err, frame);
        CHECK(rc == 0);
        compare(&m, &m2);
        cJSON_Delete(root2);
    }
    free(frame);
    cJSON_Delete(root);
    return 0;
}
