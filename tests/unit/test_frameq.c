/*
 * test_frameq.c - the outgoing-frame queue shared by the executor, the pool and sessions: FIFO
 * order, the headroom in front of each frame, the two-part copy, byte accounting of the
 * counted part, and clearing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frameq.h"

static void test_fifo_and_bytes(void **state)
{
    (void)state;
    frameq_t q = {0};
    frameq_item_t *f;

    assert_true(frameq_empty(&q));
    assert_null(frameq_pop(&q));
    assert_int_equal(frameq_push_copy(&q, 16, "one", 3), 0);
    assert_int_equal(frameq_push_copy(&q, 16, "three", 5), 0);
    assert_int_equal(q.bytes, 8);
    f = frameq_peek(&q);
    assert_int_equal(f->len, 3);
    assert_memory_equal(f->data, "one", 3);
    /* The headroom is in front of the data, inside the same allocation. */
    assert_ptr_equal(f->data, f->buf + 16);
    f = frameq_pop(&q);
    assert_memory_equal(f->data, "one", 3);
    assert_null(f->next);
    free(f);
    assert_int_equal(q.bytes, 5);
    f = frameq_pop(&q);
    assert_memory_equal(f->data, "three", 5);
    free(f);
    assert_true(frameq_empty(&q));
    assert_int_equal(q.bytes, 0);
    /* Usable again after it ran empty (the tail was reset). */
    assert_int_equal(frameq_push_copy(&q, 0, "x", 1), 0);
    assert_memory_equal(frameq_peek(&q)->data, "x", 1);
    frameq_clear(&q);
}

static void test_two_parts_and_counted(void **state)
{
    (void)state;
    frameq_t q = {0};
    frameq_item_t *f = frameq_item_new(0, "\x81\x05", 2, "hello", 5);
    frameq_item_t *ctl = frameq_item_new(0, "\x8a\x00", 2, NULL, 0);

    assert_non_null(f);
    assert_non_null(ctl);
    assert_int_equal(f->len, 7);
    assert_memory_equal(f->data, "\x81\x05hello", 7);
    assert_int_equal(f->counted, 0);
    assert_false(f->close);
    f->counted = 5; /* the payload counts, the header does not */
    frameq_push(&q, f);
    frameq_push(&q, ctl); /* a control frame counts nothing */
    assert_int_equal(q.bytes, 5);
    free(frameq_pop(&q));
    assert_int_equal(q.bytes, 0);
    assert_ptr_equal(frameq_peek(&q), ctl);
    frameq_clear(&q);
    assert_true(frameq_empty(&q));
    assert_null(q.tail);
}

static void test_clear_many(void **state)
{
    (void)state;
    frameq_t q = {0};

    for (int i = 0; i < 1000; i++)
        assert_int_equal(frameq_push_copy(&q, 8, "abc", 3), 0);
    assert_int_equal(q.bytes, 3000);
    frameq_clear(&q);
    assert_int_equal(q.bytes, 0);
    assert_true(frameq_empty(&q));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_bytes),
        cmocka_unit_test(test_two_parts_and_counted),
        cmocka_unit_test(test_clear_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
