#include <string.h>
#include <unistd.h>
int main(void) {
    static char a[65536];
    memset(a, 'x', sizeof a);
    for (;;) (void)!write(1, a, sizeof a);
}
