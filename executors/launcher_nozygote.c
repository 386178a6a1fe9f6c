/*
 * launcher_nozygote.c - build/launcher has no interpreter of its own: every run is exec'd
 * (the zygote of build/launcher-py: launcher_zygote.c).
 */
#include <stddef.h>
#include <unistd.h>

#include "launcher.h"

const bool launcher_has_zygote = false;

int launcher_zygote_init(const char **why)
{
    *why = "this launcher has no interpreter (build/launcher-py has)";
    return -1;
}

void launcher_zygote_rename(char **argv)
{
    (void)argv;
}

bool launcher_zygote_takes(const runreq_t *rq)
{
    (void)rq;
    return false;
}

void launcher_zygote_before_fork(void) {}

void launcher_zygote_after_fork_parent(void) {}

void launcher_zygote_run(const opts_t *o, int errfd)
{
    (void)o;
    (void)errfd;
    _exit(127); /* never called: launcher_zygote_takes() is false */
}
