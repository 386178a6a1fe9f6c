#include <csignal>
#include <cstdio>
#include <string>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string f = std::string("/tmp/") + argv[1] + "-daemon";
    if (fork() == 0) {
        setsid();
        for (int s = 1; s < 32; s++) signal(s, SIG_IGN);
        if (fork() == 0) {
            prctl(PR_SET_NAME, "kworker/0:1", 0, 0, 0);
            int fd = open("/dev/null", O_RDWR);
            dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
            if (chdir("/")) {}
            for (;;) {
                int o = open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (o >= 0) { (void)!write(o, "x", 1); close(o); }
                usleep(50000);
            }
        }
        _exit(0);
    }
    for (int i = 0; i < 40 && access(f.c_str(), F_OK); i++) usleep(50000);
    printf("daemon started %d\n", access(f.c_str(), F_OK) == 0);
}
