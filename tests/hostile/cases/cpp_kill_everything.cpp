#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <sys/wait.h>
static long ppid_of(long pid) {
    char p[64]; snprintf(p, sizeof p, "/proc/%ld/status", pid);
    FILE *f = fopen(p, "r"); char l[256]; long pp = -1;
    while (f && fgets(l, sizeof l, f)) if (sscanf(l, "PPid: %ld", &pp) == 1) break;
    if (f) fclose(f);
    return pp;
}
int main() {
    pid_t kids[3];
    for (int i = 0; i < 3; i++) if ((kids[i] = fork()) == 0) { pause(); _exit(0); }
    int a = kill(-1, SIGKILL);
    int dead = 0;
    for (int i = 0; i < 3; i++) { int st; if (waitpid(kids[i], &st, 0) > 0 && WIFSIGNALED(st)) dead++; }
    int b = kill(getppid(), SIGKILL); int eb = errno;
    int d = kill(1, SIGKILL); int ed = errno;
    printf("kill(-1)=%d own children killed=%d parent=%ld:%d/%s init=%d/%s\n", a, dead,
           (long)getppid(), b, strerrorname_np(eb), d, strerrorname_np(ed));
}
