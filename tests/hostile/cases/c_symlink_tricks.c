#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char cwd[4096], p[512];
    if (argc < 2) return 2;
    if (getcwd(cwd, sizeof cwd)) fprintf(stderr, "CWD=%s\n", cwd);
    unlink("main.c"); if (symlink("/etc/passwd", "main.c")) perror("symlink");
    unlink("main"); if (symlink("/etc/passwd", "main")) perror("symlink");
    if (symlink("loop_a", "loop_b") || symlink("loop_b", "loop_a")) perror("loop");
    mkdir("locked", 0700);
    int fd = open("locked/secret", O_WRONLY | O_CREAT, 0600); close(fd);
    mkdir("locked/sub", 0700); chmod("locked/sub", 0); chmod("locked", 0);
    if (symlink("/", "root_dir")) perror("root");
    snprintf(p, sizeof p, "/dev/shm/%s-shadow", argv[1]);
    if (symlink("/etc/shadow", p)) perror("shm link");
    snprintf(p, sizeof p, "/tmp/%s-etc", argv[1]);
    if (symlink("/etc", p)) perror("tmp link");
    snprintf(p, sizeof p, "../%s-escape", argv[1]);
    fd = open(p, O_WRONLY | O_CREAT, 0644); if (fd >= 0) close(fd);
    puts("planted");
    return 0;
}
