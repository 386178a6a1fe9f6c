/*
 * utf8.c - UTF-8 sanitizing of program output (see utf8.h for the rule).
 *
 * Decoding follows RFC 3629's table of well-formed byte sequences; on an ill-formed sequence one
 * U+FFFD replaces its maximal subpart (the longest prefix that could still have begun a valid
 * sequence), and decoding resumes at the first byte not in it.
 */
#include "utf8.h"

#include <string.h>

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Length of the sequence a lead byte starts (0 = never valid) and the valid range of the
 * second byte; later bytes are always 80..BF. */
static int lead_info(unsigned char b, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b == 0xE0) {
        *lo = 0xA0;
        return 3;
    }
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        return 3;
    if (b == 0xED) {
        *hi = 0x9F; /* no surrogates */
        return 3;
    }
    if (b == 0xF0) {
        *lo = 0x90;
        return 4;
    }
    if (b >= 0xF1 && b <= 0xF3)
        return 4;
    if (b == 0xF4) {
        *hi = 0x8F; /* nothing above U+10FFFF */
        return 4;
    }
    return 0;
}

/* The stream as one array: the pending bytes, then the new input. */
typedef struct {
    const unsigned char *pend;
    size_t npend;
    const unsigned char *in;
    size_t len;
} view_t;

static unsigned char at(const view_t *v, size_t i)
{
    return i < v->npend ? v->pend[i] : v->in[i - v->npend];
}

size_t cg_utf8_sanitize(cg_utf8_state_t *st, const unsigned char *in, size_t len, char *out,
                        bool final)
{
    unsigned char pend[4];
    view_t v = {pend, 0, in, len};
    size_t total, i = 0, o = 0;

    if (st) {
        memcpy(pend, st->pend, st->npend);
        v.npend = st->npend;
        st->npend = 0;
    } else {
        final = true;
    }
    total = v.npend + len;
    while (i < total) {
        unsigned char b = at(&v, i), lo, hi;
        int n;
        if (b < 0x80) {
            if (b == 0) {
                memcpy(out + o, REPL, 3);
                o += 3;
            } else {
                out[o++] = (char)b;
            }
            i++;
            continue;
        }
        n = lead_info(b, &lo, &hi);
        if (n == 0) {
            memcpy(out + o, REPL, 3);
            o += 3;
            i++;
            continue;
        }
        int k = 1;
        while (k < n && i + (size_t)k < total) {
            unsigned char c = at(&v, i + (size_t)k);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
                break;
            k++;
        }
        if (k == n) {
            for (int j = 0; j < n; j++)
                out[o++] = (char)at(&v, i + (size_t)j);
            i += (size_t)n;
            continue;
        }
        if (i + (size_t)k == total && !final) {
            /* Cut at the end of this chunk: keep it for the next one. */
            for (int j = 0; j < k; j++)
                st->pend[j] = at(&v, i + (size_t)j);
            st->npend = (size_t)k;
            break;
        }
        memcpy(out + o, REPL, 3);
        o += 3;
        i += (size_t)k;
    }
    out[o] = '\0';
    return o;
}

/* True when the 8 bytes at p are ASCII without NUL: no high bit, no zero byte. */
static bool ascii8(const unsigned char *p)
{
    const uint64_t hi = UINT64_C(0x8080808080808080), ones = UINT64_C(0x0101010101010101);
    uint64_t w;

    memcpy(&w, p, sizeof w);
    return !(w & hi) && !((w - ones) & ~w & hi);
}

bool cg_utf8_valid(const unsigned char *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char b = buf[i], lo, hi;
        int n;
        /* Plain ASCII (most output) eight bytes at a time. */
        while (i + 8 <= len && ascii8(buf + i))
            i += 8;
        if (i == len)
            break;
        b = buf[i];
        if (b < 0x80) {
            if (b == 0)
                return false;
            i++;
            continue;
        }
        n = lead_info(b, &lo, &hi);
        if (n == 0 || i + (size_t)n > len)
            return false;
        if (buf[i + 1] < lo || buf[i + 1] > hi)
            return false;
        for (int k = 2; k < n; k++)
            if (buf[i + (size_t)k] < 0x80 || buf[i + (size_t)k] > 0xBF)
                return false;
        i += (size_t)n;
    }
    return true;
}
