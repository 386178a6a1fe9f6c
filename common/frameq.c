/*
 * frameq.c - a FIFO of outgoing frames with headroom (see frameq.h).
 */
#include "frameq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

frameq_item_t *frameq_item_new(size_t pre, const void *a, size_t alen, const void *b, size_t blen)
{
    frameq_item_t *f = malloc(sizeof *f + pre + alen + blen);

    if (!f)
        return NULL;
    f->next = NULL;
    f->len = alen + blen;
    f->counted = 0;
    f->close = false;
    f->data = f->buf + pre;
    if (alen)
        memcpy(f->data, a, alen);
    if (blen)
        memcpy(f->data + alen, b, blen);
    return f;
}

void frameq_push(frameq_t *q, frameq_item_t *f)
{
    f->next = NULL;
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->bytes += f->counted;
}

int frameq_push_copy(frameq_t *q, size_t pre, const void *payload, size_t len)
{
    frameq_item_t *f = frameq_item_new(pre, payload, len, NULL, 0);

    if (!f)
        return -ENOMEM;
    f->counted = len;
    frameq_push(q, f);
    return 0;
}

frameq_item_t *frameq_peek(const frameq_t *q)
{
    return q->head;
}

frameq_item_t *frameq_pop(frameq_t *q)
{
    frameq_item_t *f = q->head;

    if (!f)
        return NULL;
    q->head = f->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= f->counted;
    f->next = NULL;
    return f;
}

bool frameq_empty(const frameq_t *q)
{
    return q->head == NULL;
}

void frameq_clear(frameq_t *q)
{
    frameq_item_t *f;

    while ((f = frameq_pop(q)))
        free(f);
    q->bytes = 0;
}
