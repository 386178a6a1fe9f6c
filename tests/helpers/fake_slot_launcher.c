/*
 * fake_slot_launcher.c - a stand-in for `launcher --serve` whose slot can never be prepared: it
 * answers every run request with the report a real launcher writes when the slot's memory limit
 * cannot be set ("slot: ..."), so that tests reach the runner's slot reset and out-of-service
 * paths. Each start appends a line to $FAKE_LAUNCHER_LOG (when set).
 *
 *   fake_slot_launcher --serve --control-fd 3 [ignored options...]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../executors/runreq.c"

int main(void)
{
    const char *logp = getenv("FAKE_LAUNCHER_LOG");
    static char buf[RUNREQ_INLINE_MAX];

    if (logp) {
        FILE *f = fopen(logp, "a");
        if (f) {
            fprintf(f, "start %d\n", (int)getpid());
            fclose(f);
        }
    }
    for (;;) {
        union {
            char b[CMSG_SPACE(5 * sizeof(int))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf.b,
                            .msg_controllen = sizeof cbuf.b};
        ssize_t n = recvmsg(3, &mh, MSG_CMSG_CLOEXEC);
        int fds[5], nfd = 0;

        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                for (size_t j = 0; j < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < 5; j++)
                    memcpy(&fds[nfd++], CMSG_DATA(cm) + j * sizeof(int), sizeof(int));
        if (nfd >= 4) {
            runreq_report_t rep;
            unsigned char out[RUNREQ_REPORT_MAX];
            memset(&rep, 0, sizeof rep);
            rep.exit_code = 127;
            snprintf(rep.error, sizeof rep.error,
                     "slot: cannot set the memory limit: Device or resource busy");
            size_t len = runreq_report_encode(&rep, out);
            (void)!write(fds[3], out, len);
        }
        for (int j = 0; j < nfd; j++)
            close(fds[j]);
    }
}
