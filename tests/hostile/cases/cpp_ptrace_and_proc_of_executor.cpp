#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
static long ppid_of(long pid) {
    char p[64]; snprintf(p, sizeof p, "/proc/%ld/status", pid);
    FILE *f = fopen(p, "r"); char l[256]; long pp = -1;
    while (f && fgets(l, sizeof l, f)) if (sscanf(l, "PPid: %ld", &pp) == 1) break;
    if (f) fclose(f);
    return pp;
}
static void r(const char *what, long rc) { printf("%s=%s ", what, rc < 0 ? strerrorname_np(errno) : "ALLOWED"); }
int main() {
    long la = getppid(), ex = ppid_of(la);
    r("attach_launcher", ptrace(PTRACE_ATTACH, la, 0, 0));
    r("attach_executor", ptrace(PTRACE_ATTACH, ex, 0, 0));
    r("seize_executor", ptrace(PTRACE_SEIZE, ex, 0, 0));
    r("attach_init", ptrace(PTRACE_ATTACH, 1, 0, 0));
    char buf[64]; struct iovec lo = {buf, sizeof buf}, rem = {(void *)0x400000, sizeof buf};
    r("vm_readv", process_vm_readv(ex, &lo, 1, &rem, 1, 0));
    char p[64];
    snprintf(p, sizeof p, "/proc/%ld/mem", ex); r("mem", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/environ", ex); r("environ", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/fd/0", ex); r("fd", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/root/", ex); r("root", open(p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/%ld/cwd/", ex); r("cwd", open(p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/%ld/environ", la); r("launcher_environ", open(p, O_RDONLY));
    puts("");
}
