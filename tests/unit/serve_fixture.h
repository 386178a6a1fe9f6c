/*
 * serve_fixture.h - drive a launcher in serve mode as the executor does (runner_step.c): start
 * one on a SOCK_SEQPACKET control socket, send it a run with its four descriptors (stdin,
 * stdout, stderr, status). Shared by test_launcher.c and test_launcher_zygote.c. Include after
 * <cmocka.h>.
 */
#ifndef CG_TEST_SERVE_FIXTURE_H
#define CG_TEST_SERVE_FIXTURE_H

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* Starts `launcher --serve --control-fd 3`; returns its pid, our end of the socket in *ctl. */
static inline pid_t serve_fixture_start(const char *launcher, int *ctl)
{
    int sv[2];
    pid_t pid;

    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(sv[1], 3);
        for (int fd = 4; fd < 64; fd++)
            close(fd);
        execl(launcher, launcher, "--serve", "--control-fd", "3", (char *)NULL);
        _exit(99);
    }
    close(sv[1]);
    *ctl = sv[0];
    return pid;
}

/* Sends one encoded request with fresh pipes as the run's stdin, stdout, stderr and status,
 * keeping our ends: ours[0] writes the run's stdin, ours[1..3] read stdout, stderr, status. */
static inline void serve_fixture_send(int ctl, const void *msg, size_t len, int ours[4])
{
    int in[2], o[2], e[2], st[2];

    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(o), 0);
    assert_int_equal(pipe(e), 0);
    assert_int_equal(pipe(st), 0);
    int fds[4] = {in[0], o[1], e[1], st[1]};
    union {
        char b[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    assert_int_equal(sendmsg(ctl, &mh, 0), (ssize_t)len);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    ours[0] = in[1];
    ours[1] = o[0];
    ours[2] = e[0];
    ours[3] = st[0];
}

#endif
