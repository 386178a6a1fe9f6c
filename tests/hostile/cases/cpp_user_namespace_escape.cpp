#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sched.h>
#include <unistd.h>
#include <sys/wait.h>
int main() {
    int r = unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS);
    printf("unshare: %s\n", r == 0 ? "ok" : strerror(errno));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0) { if (fork() == 0) { for (;;) sleep(1); } _exit(0); }
        for (;;) sleep(1);
    }
    usleep(200000);
    return 0;
}
