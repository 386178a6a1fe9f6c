#include <cstdio>
#include <unistd.h>
int main() {
    puts("1");
    unlink("main");
    if (symlink("/etc/passwd", "main")) perror("symlink");
}
