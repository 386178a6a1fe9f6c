/*
 * alarm_fixture.h - a cmocka setup/teardown pair that bounds each test with alarm(): a hung
 * test dies of SIGALRM after TEST_ALARM_S seconds instead of stalling the suite. Define
 * TEST_ALARM_S before including to change the bound.
 */
#ifndef CG_TEST_ALARM_FIXTURE_H
#define CG_TEST_ALARM_FIXTURE_H

#include <unistd.h>

#ifndef TEST_ALARM_S
#define TEST_ALARM_S 20
#endif

static inline int setup_alarm(void **state)
{
    (void)state;
    alarm(TEST_ALARM_S);
    return 0;
}

static inline int teardown_alarm(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#endif
