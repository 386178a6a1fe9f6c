/*
 * keeper.h - one long-lived sandbox launcher per slot ("launcher --serve", see launcher.c and
 * launcher_serve.c): it lives in the slot's namespaces and cgroups and takes the slot's runs one
 * at a time over a SOCK_SEQPACKET socket, so that a run costs the program's own process and
 * nothing else of ours. The runner starts one per slot with itself and again whenever one dies
 * (a run it was serving then ends as a failure of the launcher).
 *
 * Ownership: the runner owns its keeper_t array and fills the configuration fields before
 * keeper_start(); the keeper owns its uv_process_t (freed when the handle has closed, possibly
 * after the keeper is gone: keeper_close and keeper_reset detach it) and its end of the control
 * socket. Threads: the loop's thread only.
 */
#ifndef CG_KEEPER_H
#define CG_KEEPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "slotcg.h"
#include "slotns.h"

typedef struct keeper keeper_t;

struct keeper {
    /* Set by the owner before keeper_start. */
    uv_loop_t *loop;
    const char *launcher; /* path of build/launcher */
    int slot;
    const slotns_t *ns; /* the slot's namespaces to enter, or NULL */
    const slotcg_t *cg; /* the slot's memory and pids cgroups to join, or NULL */
    /* The launcher ended by itself (not by keeper_reset or keeper_close); may be NULL. */
    void (*exited)(keeper_t *k, int64_t status, int sig);
    void *data; /* the owner's */
    /* The keeper's own. */
    uv_process_t *proc; /* NULL when none runs */
    int ctl;            /* our end of the control socket, -1 when none */
};

/* Starts the slot's launcher. 0 or a negative libuv/errno code. */
int keeper_start(keeper_t *k);
/* Hands a run to the launcher (starting one first when none runs, and once more when it turns
 * out to be gone): the encoded request (runreq.h) and the four descriptors of the program's
 * stdin, stdout, stderr and the status pipe (the caller keeps its copies). 0 or -errno. */
int keeper_send(keeper_t *k, const void *msg, size_t len, const int fds[4]);
/* Kills the launcher at once; the next keeper_send starts a fresh one. */
void keeper_reset(keeper_t *k);
/* Ends the launcher (EOF on its control socket) and lets go of its handle. */
void keeper_close(keeper_t *k);
/* The launcher's pid, or 0 when none runs. */
pid_t keeper_pid(const keeper_t *k);

#endif
