#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
int main() {
    char cwd[4096]; if (getcwd(cwd, sizeof cwd)) fprintf(stderr, "CWD=%s\n", cwd);
    int fd = open("big.bin", O_WRONLY | O_CREAT, 0600);
    static char b[1 << 20];
    for (int i = 0; i < 200; i++) (void)!write(fd, b, sizeof b);
    puts("not reached");
}
