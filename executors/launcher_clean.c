/*
 * launcher_clean.c - after a run: removing what it left in places shared beyond its work dir
 * (temporary dirs, /dev/shm, SysV IPC objects).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"
#include "slotns.h"
#include "workdir.h"

/* Any owner, for clean_dir(). */
#define ANY_UID ((uid_t)-1)

/* Removes what uid (or anybody: ANY_UID) owns directly under dir (recursively, never following
 * a symlink). */
static void clean_dir(const char *dir, uid_t uid)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            (uid != ANY_UID && st.st_uid != uid))
            continue;
        if (S_ISDIR(st.st_mode))
            (void)workdir_remove(dir, de->d_name);
        else
            (void)unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Removes the SysV IPC objects (shared memory, message queues, semaphores) that uid owns or
 * created, as listed in /proc/sysvipc/<kind>. */
static void clean_ipc(const char *kind, uid_t uid)
{
    char path[64], line[512];
    FILE *f;

    snprintf(path, sizeof path, "/proc/sysvipc/%s", kind);
    f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long v[12] = {0};
        int n = sscanf(line, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
        int id = (int)v[1];
        bool mine;
        if (!strcmp(kind, "shm")) /* key shmid perms size cpid lpid nattch uid gid cuid cgid */
            mine = n >= 10 && (v[7] == uid || v[9] == uid);
        else if (!strcmp(kind, "msg")) /* key msqid perms cbytes qnum lspid lrpid uid gid cuid */
            mine = n >= 10 && (v[7] == uid || v[9] == uid);
        else /* sem: key semid perms nsems uid gid cuid cgid */
            mine = n >= 7 && (v[4] == uid || v[6] == uid);
        if (!mine)
            continue;
        if (!strcmp(kind, "shm"))
            shmctl(id, IPC_RMID, NULL);
        else if (!strcmp(kind, "msg"))
            msgctl(id, IPC_RMID, NULL);
        else
            semctl(id, 0, IPC_RMID);
    }
    fclose(f);
}

/* True when /proc/sysvipc lists any object of uid (owner or creator). */
static bool ipc_objects_of(uid_t uid)
{
    static const char *const kinds[] = {"shm", "msg", "sem"};

    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        bool found = false;
        if (fgets(line, sizeof line, f))
            while (!found && fgets(line, sizeof line, f)) {
                unsigned long v[8] = {0};
                int n = sscanf(line, "%lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7]);
                /* shm/msg: uid is column 8; sem: column 5. A loose check is enough here:
                 * clean_ipc() decides precisely. */
                for (int i = 4; i < n; i++)
                    if (v[i] == uid)
                        found = true;
            }
        fclose(f);
        if (found)
            return true;
    }
    return false;
}

/* After every process of the slot uid is gone: nothing it made may outlive the run. */
void launcher_clean_shared(uid_t uid, gid_t gid)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL};

    for (int i = 0; dirs[i]; i++)
        clean_dir(dirs[i], uid);
    /* IPC_RMID needs the owner's uid or CAP_SYS_ADMIN, which a container's root does not have:
     * remove the objects as the slot uid itself. Cheap when there are none (one read). */
    if (!ipc_objects_of(uid))
        return;
    int status;
    pid_t p = fork();
    if (p == 0) {
        if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
            _exit(1);
        clean_ipc("shm", uid);
        clean_ipc("msg", uid);
        clean_ipc("sem", uid);
        _exit(0);
    }
    if (p > 0)
        while (waitpid(p, &status, 0) < 0 && errno == EINTR)
            ;
}

/* In a box (serve mode, pid 1 of the slot's pid namespace, root, in the slot's own IPC
 * namespace): every place a program could write outside its work dir belongs to this slot
 * alone, so everything in it goes, whoever owns it now - an object given away with IPC_SET or
 * chown is removed all the same. Cheap when there is nothing: a few reads. */
void launcher_clean_box(void)
{
    static const char *const kinds[] = {"shm", "msg", "sem"};

    for (int i = 0; slotns_private_dirs[i]; i++)
        clean_dir(slotns_private_dirs[i], ANY_UID);
    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) /* header */
            while (fgets(line, sizeof line, f)) {
                long key, id;
                if (sscanf(line, "%ld %ld", &key, &id) != 2)
                    continue;
                if (k == 0)
                    shmctl((int)id, IPC_RMID, NULL);
                else if (k == 1)
                    msgctl((int)id, IPC_RMID, NULL);
                else
                    semctl((int)id, 0, IPC_RMID);
            }
        fclose(f);
    }
}
