#include <cstdio>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string m = argv[1];
    char cwd[4096]; if (getcwd(cwd, sizeof cwd)) fprintf(stderr, "CWD=%s\n", cwd);
    unlink("main.cpp"); if (symlink("/etc/passwd", "main.cpp")) perror("symlink");
    unlink("main"); if (symlink("/etc/passwd", "main")) perror("symlink");
    if (symlink("loop_a", "loop_b") || symlink("loop_b", "loop_a")) perror("loop");
    mkdir("locked", 0700);
    int fd = open("locked/secret", O_WRONLY | O_CREAT, 0600); close(fd);
    mkdir("locked/sub", 0700); chmod("locked/sub", 0); chmod("locked", 0);
    if (symlink("/", "root_dir")) perror("root");
    if (symlink("/etc/shadow", ("/dev/shm/" + m + "-shadow").c_str())) perror("shm link");
    if (symlink("/etc", ("/tmp/" + m + "-etc").c_str())) perror("tmp link");
    puts("planted");
}
