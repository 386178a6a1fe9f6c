/*
 * keeper.c - the slots' long-lived launchers (see keeper.h).
 */
#include "keeper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cg_util.h"
#include "runreq.h"

static void keeper_closed(uv_handle_t *h)
{
    free(h);
}

/* proc->data is its keeper while it is the keeper's current launcher, else NULL. */
static void keeper_exit(uv_process_t *proc, int64_t status, int sig)
{
    keeper_t *k = proc->data;

    if (k && k->proc == proc) {
        k->proc = NULL;
        if (k->ctl >= 0)
            close(k->ctl);
        k->ctl = -1;
        if (k->exited)
            k->exited(k, status, sig);
    }
    uv_close((uv_handle_t *)proc, keeper_closed);
}

int keeper_start(keeper_t *k)
{
    uv_stdio_container_t stdio[7];
    uv_process_options_t opt;
    const char *argv[12];
    int sv[2], rc, n = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    k->proc = calloc(1, sizeof *k->proc);
    if (!k->proc) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    argv[n++] = k->launcher;
    argv[n++] = "--serve";
    argv[n++] = "--control-fd";
    argv[n++] = "3";
    memset(&opt, 0, sizeof opt);
    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD; /* its rare complaints go to our log */
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = sv[1];
    opt.stdio_count = 4;
    if (k->ns) {
        const int fds[3] = {k->ns->net, k->ns->ipc, k->ns->mnt};
        for (int i = 0; i < 3; i++) {
            stdio[4 + i].flags = UV_INHERIT_FD;
            stdio[4 + i].data.fd = fds[i];
        }
        opt.stdio_count = 7;
        argv[n++] = "--ns-fds";
        argv[n++] = "4";
    }
    if (k->cg) {
        argv[n++] = "--cgroup";
        argv[n++] = k->cg->dir;
        argv[n++] = "--pids-cgroup";
        argv[n++] = k->cg->pids;
    }
    argv[n] = NULL;
    opt.file = k->launcher;
    opt.args = (char **)argv;
    opt.stdio = stdio;
    opt.exit_cb = keeper_exit;
    k->proc->data = k;
    rc = uv_spawn(k->loop, k->proc, &opt);
    close(sv[1]);
    if (rc != 0) {
        uv_close((uv_handle_t *)k->proc, keeper_closed);
        k->proc = NULL;
        close(sv[0]);
        return rc;
    }
    uv_unref((uv_handle_t *)k->proc); /* it waits for work; it keeps no loop alive */
    k->ctl = sv[0];
    return 0;
}

/* A request longer than RUNREQ_INLINE_MAX (64 arguments of 4 KiB) travels in a memfd, as a
 * fifth descriptor with a one-byte message. */
int keeper_send(keeper_t *k, const void *msg, size_t len, const int fds4[4])
{
    union {
        char b[CMSG_SPACE(5 * sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    int fds[5] = {fds4[0], fds4[1], fds4[2], fds4[3], -1}, nfd = 4;
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf.b,
                        .msg_controllen = CMSG_SPACE(4 * sizeof(int))};
    struct cmsghdr *cm;
    int rc = 0;

    if (len > RUNREQ_INLINE_MAX) {
        int mfd = memfd_create("codegate-run", MFD_CLOEXEC);
        if (mfd < 0)
            return -errno;
        if (cg_write_all(mfd, msg, len) != 0) {
            close(mfd);
            return -EIO;
        }
        fds[nfd++] = mfd;
        iov.iov_base = (void *)"";
        iov.iov_len = 1;
        mh.msg_controllen = CMSG_SPACE(5 * sizeof(int));
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        if (k->ctl < 0 && (rc = keeper_start(k)) != 0)
            return rc;
        memset(&cbuf, 0, sizeof cbuf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfd * sizeof(int));
        ssize_t n;
        do
            n = sendmsg(k->ctl, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)iov.iov_len) {
            if (nfd == 5)
                close(fds[4]);
            return 0;
        }
        rc = n < 0 ? -errno : -EIO;
        /* Its launcher is gone (it died between runs): start another and try once more. The
         * old handle closes itself in keeper_exit once the process is reaped. */
        keeper_reset(k);
    }
    if (nfd == 5)
        close(fds[4]);
    return rc;
}

/* The old handle closes itself in keeper_exit once the process is reaped. */
void keeper_reset(keeper_t *k)
{
    if (k->ctl >= 0)
        close(k->ctl);
    k->ctl = -1;
    if (k->proc) {
        kill(k->proc->pid, SIGKILL);
        k->proc->data = NULL;
        k->proc = NULL;
    }
}

void keeper_close(keeper_t *k)
{
    /* EOF on its control socket ends a launcher; the handle goes with our loop. */
    if (k->ctl >= 0)
        close(k->ctl);
    k->ctl = -1;
    if (k->proc) {
        k->proc->data = NULL;
        uv_close((uv_handle_t *)k->proc, keeper_closed);
        k->proc = NULL;
    }
}

pid_t keeper_pid(const keeper_t *k)
{
    return k->proc ? k->proc->pid : 0;
}
