/*
 * judge.c - output comparison for test cases (see judge.h for the rules).
 */
#include "judge.h"

#include <string.h>

/* Cursor over text in "trim" mode: yields lines with trailing spaces, tabs and a final '\r'
 * removed, and treats trailing empty lines as absent. */
typedef struct {
    const char *p, *end;
} cursor_t;

/* Trims trailing newlines (and the spaces/tabs/CRs around them) off the end of the text. */
static const char *trim_end(const char *s, const char *end)
{
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

/* Next line: [*ls, *le) without its trailing blanks; returns false at the end. */
static bool next_line(cursor_t *c, const char **ls, const char **le)
{
    const char *nl;

    if (c->p >= c->end)
        return false;
    nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    *ls = c->p;
    *le = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    while (*le > *ls && ((*le)[-1] == ' ' || (*le)[-1] == '\t' || (*le)[-1] == '\r'))
        (*le)--;
    return true;
}

bool judge_equal(const char *actual, size_t alen, const char *expected, size_t elen,
                 judge_mode_t mode)
{
    cursor_t a, e;
    const char *as, *ae, *es, *ee;

    if (!actual)
        actual = "", alen = 0;
    if (!expected)
        expected = "", elen = 0;
    if (mode == JUDGE_EXACT)
        return alen == elen && memcmp(actual, expected, alen) == 0;
    a = (cursor_t){actual, trim_end(actual, actual + alen)};
    e = (cursor_t){expected, trim_end(expected, expected + elen)};
    for (;;) {
        bool ha = next_line(&a, &as, &ae), he = next_line(&e, &es, &ee);
        if (!ha || !he)
            return ha == he;
        if (ae - as != ee - es || memcmp(as, es, (size_t)(ae - as)) != 0)
            return false;
    }
}
