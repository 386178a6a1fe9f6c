/*
 * frameq.h - a FIFO of outgoing frames, the one queue type of the executor's connections
 * (executors/executor.c), the gateway's executor connections (server/pool_frame.c) and the
 * gateway's session sockets (server/session.c).
 *
 * A frame is one allocation: `pre` bytes of headroom (LWS_PRE for lws_write, 0 for raw
 * sockets), then the bytes to send, given as up to two parts (a WebSocket header and its
 * payload, or a payload alone). `counted` is the part of the frame the owner wants counted in
 * frameq_t.bytes for backpressure (the payload; 0 for control frames).
 *
 * Ownership: the queue owns the frames pushed onto it; frameq_pop hands one back to the caller,
 * who frees it with free(). frameq_clear frees every frame. A frameq_t is zeroed to start.
 * Threads: none of its own; the owner serialises access (see each owner's lock map).
 */
#ifndef CG_FRAMEQ_H
#define CG_FRAMEQ_H

#include <stdbool.h>
#include <stddef.h>

typedef struct frameq_item {
    struct frameq_item *next;
    size_t len;          /* bytes at data */
    size_t counted;      /* added to frameq_t.bytes while queued */
    bool close;          /* the owner's mark: a close frame, the last one sent */
    unsigned char *data; /* after `pre` bytes of headroom in buf */
    unsigned char buf[];
} frameq_item_t;

typedef struct {
    frameq_item_t *head, *tail;
    size_t bytes; /* sum of `counted` over the queued frames */
} frameq_t;

/* A frame of a then b (b may be NULL with blen 0) after `pre` bytes of headroom; counted = 0.
 * NULL when out of memory. Free with free() unless pushed. */
frameq_item_t *frameq_item_new(size_t pre, const void *a, size_t alen, const void *b, size_t blen);
/* Appends f (taken over). */
void frameq_push(frameq_t *q, frameq_item_t *f);
/* Copies payload into a new frame with `pre` headroom, counted = len, and appends it.
 * 0 or -ENOMEM. */
int frameq_push_copy(frameq_t *q, size_t pre, const void *payload, size_t len);
/* The oldest frame, still queued, or NULL. */
frameq_item_t *frameq_peek(const frameq_t *q);
/* Removes the oldest frame and returns it (the caller frees it), or NULL. */
frameq_item_t *frameq_pop(frameq_t *q);
bool frameq_empty(const frameq_t *q);
/* Frees every frame; the queue is empty and reusable. */
void frameq_clear(frameq_t *q);

#endif
