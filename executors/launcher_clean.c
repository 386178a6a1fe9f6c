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

/* Walks the SysV IPC objects (shared memory, message queues, semaphores) listed in
 * /proc/sysvipc that uid owns or created (every one with ANY_UID) and removes them when remove
 * is set. Returns how many there were. */
static int ipc_walk(uid_t uid, bool remove)
{
    static const char *const kinds[] = {"shm", "msg", "sem"};
    int count = 0;

    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) /* header */
            while (fgets(line, sizeof line, f)) {
                unsigned long v[12] = {0};
                int n =
                    sscanf(line, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1],
                           &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
                int id = (int)v[1];
                bool mine;
                if (n < 2)
                    continue;
                if (uid == ANY_UID)
                    mine = true;
                else if (k < 2) /* shm: key shmid perms size cpid lpid nattch uid gid cuid cgid;
                                   msg: key msqid perms cbytes qnum lspid lrpid uid gid cuid */
                    mine = n >= 10 && (v[7] == uid || v[9] == uid);
                else /* sem: key semid perms nsems uid gid cuid cgid */
                    mine = n >= 7 && (v[4] == uid || v[6] == uid);
                if (!mine)
                    continue;
                count++;
                if (!remove)
                    continue;
                if (k == 0)
                    shmctl(id, IPC_RMID, NULL);
                else if (k == 1)
                    msgctl(id, IPC_RMID, NULL);
                else
                    semctl(id, 0, IPC_RMID);
            }
        fclose(f);
    }
    return count;
}

/* After every process of the slot uid is gone: nothing it made may outlive the run. */
void launcher_clean_shared(uid_t uid, gid_t gid)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", NULL};

    for (int i = 0; dirs[i]; i++)
        clean_dir(dirs[i], uid);
    /* IPC_RMID needs the owner's uid or CAP_SYS_ADMIN, which a container's root does not have:
     * remove the objects as the slot uid itself. Cheap when there are none (one read). */
    if (ipc_walk(uid, false) == 0)
        return;
    int status;
    pid_t p = fork();
    if (p == 0) {
        if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
            _exit(1);
        (void)ipc_walk(uid, true);
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
    for (int i = 0; slotns_private_dirs[i]; i++)
        clean_dir(slotns_private_dirs[i], ANY_UID);
    (void)ipc_walk(ANY_UID, true);
}
