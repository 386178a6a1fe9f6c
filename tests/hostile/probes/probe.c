/* The strict hostile suite's probe in C (see probe.py: the same report, as JSON). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;
static char M[256];
static long LO, HI;
static char files[65536], procs[65536], ipc[16384];

static int slot(long u) { return u >= LO && u < HI; }

/* Appends s to the JSON array body arr (comma-separated quoted strings). */
static void add(char *arr, size_t cap, const char *s)
{
    size_t n = strlen(arr);
    if (n + 2 * strlen(s) + 16 >= cap)
        return;
    if (n)
        arr[n++] = ',';
    arr[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            arr[n++] = '\\';
            arr[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            n += (size_t)sprintf(arr + n, "\\u%04x", c);
        } else {
            arr[n++] = (char)c;
        }
    }
    arr[n++] = '"';
    arr[n] = '\0';
}

static void walk(const char *d, int depth)
{
    DIR *dir = opendir(d);
    struct dirent *de;
    int k = 0;
    if (!dir)
        return;
    while ((de = readdir(dir)) && k++ < 3000) {
        char p[4096], line[4300];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", d, de->d_name);
        if (lstat(p, &st))
            continue;
        if (strstr(de->d_name, M) || slot((long)st.st_uid)) {
            snprintf(line, sizeof line, "%s (uid %ld)", p, (long)st.st_uid);
            add(files, sizeof files, line);
        } else if (depth < 2 && S_ISDIR(st.st_mode)) {
            walk(p, depth + 1);
        }
    }
    closedir(dir);
}

static void scan_procs(void)
{
    DIR *pd = opendir("/proc");
    struct dirent *de;
    long self = getpid(), parent = getppid();
    while (pd && (de = readdir(pd))) {
        char path[64], buf[4096], cmd[200] = "", line[400];
        long pid, uids[4] = {-1, -1, -1, -1};
        FILE *f;
        size_t n;
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid = atol(de->d_name);
        if (pid == self || pid == parent)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        if (!(f = fopen(path, "r")))
            continue;
        while (fgets(buf, sizeof buf, f))
            if (!strncmp(buf, "Uid:", 4))
                sscanf(buf + 4, "%ld %ld %ld %ld", &uids[0], &uids[1], &uids[2], &uids[3]);
        fclose(f);
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        if (!(f = fopen(path, "r")))
            continue;
        n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        cmd[n] = '\0';
        if (uids[0] < 0)
            continue;
        if (slot(uids[0]) || slot(uids[1]) || slot(uids[2]) || slot(uids[3]) || strstr(cmd, M)) {
            snprintf(line, sizeof line, "pid %ld uid %ld: %.160s", pid, uids[0], cmd);
            add(procs, sizeof procs, line);
        }
    }
    if (pd)
        closedir(pd);
}

static void scan_ipc(long key)
{
    static const struct {
        const char *kind;
        int cu, cc;
    } kinds[] = {{"shm", 7, 9}, {"msg", 7, 9}, {"sem", 4, 6}};
    for (int k = 0; k < 3; k++) {
        char path[64], buf[1024];
        FILE *f;
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k].kind);
        if (!(f = fopen(path, "r")))
            continue;
        if (!fgets(buf, sizeof buf, f)) { /* the header */
            fclose(f);
            continue;
        }
        while (fgets(buf, sizeof buf, f)) {
            long v[12] = {0};
            char line[1100];
            int got = sscanf(buf, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", &v[0], &v[1],
                             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
            if (got <= kinds[k].cc)
                continue;
            if (v[0] == key || slot(v[kinds[k].cu]) || slot(v[kinds[k].cc])) {
                buf[strcspn(buf, "\n")] = '\0';
                snprintf(line, sizeof line, "%s: %s", kinds[k].kind, buf);
                add(ipc, sizeof ipc, line);
            }
        }
        fclose(f);
    }
    if (shmget((key_t)key, 0, 0) != -1)
        add(ipc, sizeof ipc, "shmget(key) finds a segment");
    if (msgget((key_t)key, 0) != -1)
        add(ipc, sizeof ipc, "msgget(key) finds a queue");
    if (semget((key_t)key, 0, 0) != -1)
        add(ipc, sizeof ipc, "semget(key) finds a set");
}

static void json_str(const char *s)
{
    char tmp[8192] = "";
    add(tmp, sizeof tmp, s);
    fputs(tmp, stdout);
}

int main(int argc, char **argv)
{
    char cwd[4096] = "";
    struct stat st;
    unsigned h = 0x811c9dc5u;
    FILE *f;
    int c;
    size_t n;

    if (argc < 6)
        return 2;
    n = strlen(argv[1]);
    if (n >= sizeof M)
        return 2;
    for (size_t i = 0; i < n; i++)
        M[i] = argv[1][n - 1 - i];
    LO = atol(argv[2]);
    HI = atol(argv[3]);
    for (const char *const *t = (const char *const[]){"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL}; *t; t++)
        walk(*t, 0);
    scan_procs();
    scan_ipc(atol(argv[5]));
    if ((f = fopen("/etc/passwd", "rb"))) {
        while ((c = getc(f)) != EOF)
            h = (h ^ (unsigned)c) * 0x01000193u;
        fclose(f);
    }
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    printf("{\"uid\": %ld, \"cwd\": ", (long)getuid());
    json_str(cwd);
    printf(", \"env\": {");
    for (char **e = environ; *e; e++) {
        char k[256];
        const char *eq = strchr(*e, '=');
        if (!eq || (size_t)(eq - *e) >= sizeof k)
            continue;
        snprintf(k, sizeof k, "%.*s", (int)(eq - *e), *e);
        printf("%s", e == environ ? "" : ", ");
        json_str(k);
        printf(": ");
        json_str(eq + 1);
    }
    printf("}, \"files\": [%s], \"procs\": [%s], \"ipc\": [%s], \"workdir\": %s, \"passwd\": \"%08x\"}\n",
           files, procs, ipc,
           strcmp(argv[4], "-") && lstat(argv[4], &st) == 0 ? "true" : "false", h);
    return 0;
}
