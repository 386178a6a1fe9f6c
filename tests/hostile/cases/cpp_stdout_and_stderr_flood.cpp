#include <cstring>
#include <unistd.h>
int main() {
    static char a[65536], b[65536];
    memset(a, 'o', sizeof a); memset(b, 'e', sizeof b);
    if (fork() == 0) for (;;) (void)!write(2, b, sizeof b);
    for (;;) (void)!write(1, a, sizeof a);
}
