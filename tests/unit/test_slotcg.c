/*
 * test_slotcg.c - the slot cgroups, cgroup v2 included, without a v2 host (this project's CI
 * machines are v1 only).
 *
 * slotcg.c is included and run with a slotcg_sys_t pointed at a fake cgroup tree in a
 * temporary directory: a fake /proc/self/cgroup and /proc/self/mountinfo, and hooks that
 * behave as the kernel's cgroup2 does for what slotcg.c touches:
 * - mkdir makes a cgroup with cgroup.procs, cgroup.controllers (its parent's
 *   cgroup.subtree_control) and the interface files of those controllers;
 * - "+memory +pids" into cgroup.subtree_control fails with ENOENT for a controller missing
 *   from cgroup.controllers and with EBUSY while processes live in the cgroup (v2's
 *   no-internal-processes rule; not at the hierarchy's real root), else enables them in the
 *   children;
 * - a pid into cgroup.procs moves it from wherever it is (ESRCH when nowhere; EBUSY into a
 *   cgroup that gives controllers to children);
 * - rmdir refuses a cgroup with processes or children;
 * - writes and mkdirs under a "denied" directory fail with EACCES (a cgroup not delegated to
 *   us: root ignores file modes, so the test cannot use them).
 * Every write is logged, so the tests assert which files were written with what, in order.
 * The per-run side is tested in test_slotcg_run.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_fixture.h"

#include "slotcg.c"

#define SELF 4242 /* the executor's pid in the fake tree */

static char tmp[PATH_MAX];    /* the test's directory */
static char cgroot[PATH_MAX]; /* tmp/cg: the fake cgroup2 mount */
static char proc_cgroup[PATH_MAX], mountinfo[PATH_MAX];

static struct {
    bool real_root;      /* cgroot is the hierarchy's real root (no internal-process rule) */
    char deny[PATH_MAX]; /* writes and mkdirs at or under this path: EACCES */
    int remount_rc;      /* what remount_rw answers */
    int remounts;        /* how often it was asked */
    char remounted[PATH_MAX];
    int version;            /* what mkdir makes: 2 = cgroup2 files, 1 = cgroup.procs only */
    char log[32][PATH_MAX]; /* "<path under tmp> <- <value> = <rc>" */
    int nlog;
} fake;

/* ---- files ---- */


static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            (void)mkdir(p, 0755);
            *s = '/';
        }
    assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- the fake cgroup2 ---- */

static bool denied(const char *path)
{
    size_t n = strlen(fake.deny);
    return n && !strncmp(path, fake.deny, n) && (path[n] == '\0' || path[n] == '/');
}

static void logw(const char *dir, const char *file, const char *val, int rc)
{
    assert_true(fake.nlog < 32);
    snprintf(fake.log[fake.nlog++], PATH_MAX, "%s/%s <- %s = %d", dir + strlen(tmp) + 1, file, val,
             rc);
}

/* The interface files of the controllers in list (space-separated), as the kernel shows them in
 * a child of a cgroup that enables them. */
static void populate(const char *dir, const char *list)
{
    put(dir, "cgroup.controllers", list);
    if (has_token(list, "memory", " ") && !get(dir, "memory.max")) {
        put(dir, "memory.max", "max\n");
        put(dir, "memory.swap.max", "max\n");
        put(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        put(dir, "memory.peak", "0\n");
    }
    if (has_token(list, "pids", " ") && !get(dir, "pids.max"))
        put(dir, "pids.max", "max\n");
}

static int fake_mkdir(const char *path)
{
    char parent[PATH_MAX];
    if (denied(path))
        return -EACCES;
    if (mkdir(path, 0755) != 0)
        return -errno;
    put(path, "cgroup.procs", "");
    if (fake.version == 2) {
        snprintf(parent, sizeof parent, "%s", path);
        *strrchr(parent, '/') = '\0';
        put(path, "cgroup.subtree_control", "");
        populate(path, get(parent, "cgroup.subtree_control"));
    }
    return 0;
}

static bool empty(const char *s)
{
    return !s || !*s || !strcmp(s, "\n");
}

/* Takes the pid out of whichever cgroup.procs lists it (nftw's callback). */
static long moving_pid;
static bool moved;
static int take_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_F || strcmp(path + ftw->base, "cgroup.procs") != 0)
        return 0;
    char dir[PATH_MAX], out[4096] = "", line[32];
    snprintf(dir, sizeof dir, "%.*s", ftw->base - 1, path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        if (strtol(line, NULL, 10) == moving_pid)
            moved = true;
        else
            strcat(out, line);
    }
    fclose(f);
    put(dir, "cgroup.procs", out);
    return 0;
}

static int subtree_write(const char *dir, const char *val)
{
    const char *ctl = get(dir, "cgroup.controllers");
    char cur[256], tok[64];
    snprintf(cur, sizeof cur, "%s", get(dir, "cgroup.subtree_control"));
    cur[strcspn(cur, "\n")] = '\0';
    for (const char *p = val; sscanf(p, "%63s", tok) == 1; p = strstr(p, tok) + strlen(tok)) {
        if (tok[0] != '+' || !has_token(ctl, tok + 1, " \n"))
            return -ENOENT;
    }
    if (!(fake.real_root && !strcmp(dir, cgroot)) && !empty(get(dir, "cgroup.procs")))
        return -EBUSY;
    for (const char *p = val; sscanf(p, "%63s", tok) == 1; p = strstr(p, tok) + strlen(tok))
        if (!has_token(cur, tok + 1, " ")) {
            size_t l = strlen(cur);
            snprintf(cur + l, sizeof cur - l, "%s%s", l ? " " : "", tok + 1);
        }
    put(dir, "cgroup.subtree_control", cur);
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char child[PATH_MAX + 256];
            snprintf(child, sizeof child, "%s/%s", dir, e->d_name);
            populate(child, cur);
        }
    closedir(d);
    return 0;
}

static int procs_write(const char *dir, const char *val)
{
    char line[4096];
    if (!(fake.real_root && !strcmp(dir, cgroot)) && !empty(get(dir, "cgroup.subtree_control")))
        return -EBUSY;
    moving_pid = strcmp(val, "0") ? strtol(val, NULL, 10) : SELF;
    moved = false;
    assert_int_equal(nftw(cgroot, take_cb, 16, FTW_PHYS), 0);
    if (!moved)
        return -ESRCH;
    snprintf(line, sizeof line, "%s%ld\n", get(dir, "cgroup.procs"), moving_pid);
    put(dir, "cgroup.procs", line);
    return 0;
}

static int fake_write(const char *dir, const char *file, const char *val)
{
    int rc;
    if (denied(dir))
        rc = -EACCES;
    else if (!strcmp(file, "cgroup.subtree_control"))
        rc = subtree_write(dir, val);
    else if (!strcmp(file, "cgroup.procs"))
        rc = procs_write(dir, val);
    else if (!get(dir, file))
        rc = -ENOENT;
    else {
        put(dir, file, val);
        rc = 0;
    }
    logw(dir, file, val, rc);
    return rc;
}

static int fake_rmdir(const char *path)
{
    DIR *d;
    struct dirent *e;
    if (!empty(get(path, "cgroup.procs")))
        return -EBUSY;
    if (!(d = opendir(path)))
        return -errno;
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            closedir(d);
            return -EBUSY;
        }
    closedir(d);
    assert_int_equal(nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
    return 0;
}

static int fake_remount_rw(const char *mnt)
{
    fake.remounts++;
    snprintf(fake.remounted, sizeof fake.remounted, "%s", mnt);
    return fake.remount_rc;
}

static pid_t fake_self(void)
{
    return SELF;
}

static slotcg_sys_t sys = {
    .proc_cgroup = proc_cgroup,
    .mountinfo = mountinfo,
    .self = fake_self,
    .write = fake_write,
    .mkdir = fake_mkdir,
    .rmdir = fake_rmdir,
    .remount_rw = fake_remount_rw,
};

/* ---- scenes ---- */

static void put_path(const char *path, const char *val)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(val, f);
    fclose(f);
}

/* Mount lines every fake mountinfo has besides the cgroups. */
#define OTHER_MOUNTS                                                                               \
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"                                      \
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"

/*
 * A cgroup2 hierarchy mounted at cgroot (with mount options opts) in which we live in own
 * ("/" = the namespace's root), whose cgroup.controllers lists ctl and cgroup.procs procs.
 * Returns our cgroup's directory (static).
 */
static const char *v2_scene(const char *own, const char *ctl, const char *procs, const char *opts)
{
    static char dir[PATH_MAX];
    char line[2 * PATH_MAX];

    fake.version = 2;
    snprintf(dir, sizeof dir, "%s%s", cgroot, !strcmp(own, "/") ? "" : own);
    mkdirs(dir);
    put(dir, "cgroup.controllers", ctl);
    put(dir, "cgroup.subtree_control", "");
    put(dir, "cgroup.procs", procs);
    snprintf(line, sizeof line, "0::%s\n", own);
    put_path(proc_cgroup, line);
    snprintf(line, sizeof line,
             OTHER_MOUNTS "35 24 0:30 / %s %s shared:9 - cgroup2 cgroup2 rw,nsdelegate\n", cgroot,
             opts);
    put_path(mountinfo, line);
    return dir;
}

static int create_fake(slotcg_t *cg, int n, int *version, char *err, size_t len)
{
    err[0] = '\0';
    return create(&sys, cg, n, 61000, version, err, len);
}

static void assert_logged(int i, const char *entry)
{
    assert_true(i < fake.nlog);
    assert_string_equal(fake.log[i], entry);
}

static void assert_contains(const char *s, const char *part)
{
    if (!s || !strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", part);
}

static int setup(void **state)
{
    (void)state;
    alarm(30);
    memset(&fake, 0, sizeof fake);
    snprintf(tmp, sizeof tmp, "/tmp/cg-slotcg-test-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(cgroot, sizeof cgroot, "%s/cg", tmp);
    snprintf(proc_cgroup, sizeof proc_cgroup, "%s/cgroup", tmp);
    snprintf(mountinfo, sizeof mountinfo, "%s/mountinfo", tmp);
    mkdirs(cgroot);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    alarm(0);
    return 0;
}

#define ALL_CONTROLLERS "cpuset cpu io memory hugetlb pids rdma misc\n"
#define RW "rw,nosuid,nodev,noexec,relatime"
#define RO "ro,nosuid,nodev,noexec,relatime"

/* ---- cgroup v2: creation ---- */

/* A container with its own cgroup namespace: our cgroup is the namespace's root and holds the
 * container's init and the executor. Both move into the leaf, then the controllers go to the
 * children, then one cgroup per slot; removing them leaves the leaf (we live in it). */
static void test_v2_container_root_moves_processes_into_leaf(void **state)
{
    (void)state;
    slotcg_t cg[3];
    char err[256], p[PATH_MAX + 64];
    int version = 0;
    const char *dir = v2_scene("/", ALL_CONTROLLERS, "1\n4242\n", RW);

    assert_int_equal(create_fake(cg, 3, &version, err, sizeof err), 0);
    assert_int_equal(version, 2);
    assert_int_equal(fake.nlog, 4);
    assert_logged(0, "cg/cgroup.subtree_control <- +memory +pids = -16"); /* EBUSY */
    assert_logged(1, "cg/executor/cgroup.procs <- 1 = 0");
    assert_logged(2, "cg/executor/cgroup.procs <- 4242 = 0");
    assert_logged(3, "cg/cgroup.subtree_control <- +memory +pids = 0");
    assert_string_equal(get(dir, "cgroup.procs"), "");
    snprintf(p, sizeof p, "%s/executor", dir);
    assert_string_equal(get(p, "cgroup.procs"), "1\n4242\n");
    assert_string_equal(get(dir, "cgroup.subtree_control"), "memory pids");
    assert_int_equal(fake.remounts, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/codegate-%d", dir, 61000 + i);
        assert_string_equal(cg[i].dir, p);
        assert_string_equal(cg[i].pids, p); /* one directory holds both controllers */
        assert_string_equal(get(p, "memory.max"), "max\n");
        assert_string_equal(get(p, "pids.max"), "max\n");
    }
    remove_dirs(&sys, cg, 3);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/codegate-%d", dir, 61000 + i);
        assert_false(exists(p));
        assert_string_equal(cg[i].dir, "");
        assert_string_equal(cg[i].pids, "");
    }
    snprintf(p, sizeof p, "%s/executor", dir);
    assert_true(exists(p));
}

/* The executor started again in the same container: it already lives in the leaf, the
 * controllers are on, the slots' directories may still be there. */
static void test_v2_second_start_in_the_same_container(void **state)
{
    (void)state;
    slotcg_t cg[2];
    char err[256];
    int version = 0;

    v2_scene("/", ALL_CONTROLLERS, "1\n4242\n", RW);
    assert_int_equal(create_fake(cg, 2, &version, err, sizeof err), 0);
    fake.nlog = 0;
    assert_int_equal(create_fake(cg, 2, &version, err, sizeof err), 0);
    assert_int_equal(version, 2);
    assert_int_equal(fake.nlog, 1);
    assert_logged(0, "cg/cgroup.subtree_control <- +memory +pids = 0");
    remove_dirs(&sys, cg, 2);
}

/* A systemd unit with Delegate=yes: the executor alone in its cgroup moves itself. */
static void test_v2_delegated_unit_moves_itself(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256], p[PATH_MAX + 64];
    int version = 0;
    const char *dir = v2_scene("/system.slice/codegate.service", "memory pids\n", "4242\n", RW);

    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), 0);
    assert_int_equal(version, 2);
    assert_int_equal(fake.nlog, 3);
    assert_logged(0, "cg/system.slice/codegate.service/cgroup.subtree_control <- +memory +pids "
                     "= -16");
    assert_logged(1, "cg/system.slice/codegate.service/executor/cgroup.procs <- 4242 = 0");
    assert_logged(2, "cg/system.slice/codegate.service/cgroup.subtree_control <- +memory +pids "
                     "= 0");
    snprintf(p, sizeof p, "%s/codegate-61000", dir);
    assert_string_equal(cg[0].dir, p);
    assert_string_equal(get(p, "cgroup.controllers"), "memory pids");
    remove_dirs(&sys, cg, 1);
}

/* The hierarchy's real root (a host, no namespace): processes may live in it beside
 * controllers given to children; nothing is moved. */
static void test_v2_real_root_moves_nothing(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256];
    int version = 0;
    char p[PATH_MAX + 64];

    fake.real_root = true;
    const char *dir = v2_scene("/", ALL_CONTROLLERS, "1\n4242\n", RW);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), 0);
    assert_int_equal(fake.nlog, 1);
    assert_logged(0, "cg/cgroup.subtree_control <- +memory +pids = 0");
    assert_string_equal(get(dir, "cgroup.procs"), "1\n4242\n");
    snprintf(p, sizeof p, "%s/executor", dir);
    assert_false(exists(p));
    remove_dirs(&sys, cg, 1);
}

/* Other programs share our (non-root) cgroup: we do not move what is not ours. The error names
 * a pid in the way and what to do; nothing is changed. */
static void test_v2_other_processes_are_not_moved(void **state)
{
    (void)state;
    slotcg_t cg[2];
    char err[256], p[PATH_MAX + 64];
    int version = 0;
    const char *dir = v2_scene("/user.slice/session-3.scope", "memory pids\n", "4242\n777\n", RW);

    assert_int_equal(create_fake(cg, 2, &version, err, sizeof err), -1);
    assert_contains(err, "pid 777 shares our cgroup");
    assert_contains(err, "(systemd: Delegate=yes)");
    assert_int_equal(fake.nlog, 1); /* the refused subtree_control write only */
    assert_string_equal(get(dir, "cgroup.procs"), "4242\n777\n");
    assert_string_equal(get(dir, "cgroup.subtree_control"), "");
    snprintf(p, sizeof p, "%s/executor", dir);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/codegate-61000", dir);
    assert_false(exists(p));
    assert_string_equal(cg[0].dir, "");
    assert_string_equal(cg[1].pids, "");
}

/* Our parent does not delegate a controller: the error names it and the file, before anything
 * is written. */
static void test_v2_missing_controllers_are_named(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256];
    int version = 0;

    v2_scene("/", "cpu io memory\n", "1\n4242\n", RW);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_contains(err, "cg/cgroup.controllers lacks pids");
    assert_contains(err, "\"cpu io memory\"");
    assert_int_equal(fake.nlog, 0);

    v2_scene("/", "cpu io\n", "1\n4242\n", RW);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_contains(err, "lacks memory and pids");
    assert_int_equal(fake.nlog, 0);
    assert_int_equal(fake.remounts, 0);
    assert_string_equal(cg[0].dir, "");
}

/* A cgroup not delegated to us: its files are not ours to write. */
static void test_v2_not_writable(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256], p[PATH_MAX + 64];
    int version = 0;
    const char *dir = v2_scene("/", ALL_CONTROLLERS, "", RW);

    snprintf(fake.deny, sizeof fake.deny, "%s", dir);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_contains(err, "cgroup.subtree_control: Permission denied");
    assert_contains(err, "not delegated to us");
    snprintf(p, sizeof p, "%s/codegate-61000", dir);
    assert_false(exists(p));
}

/* A slot's directory cannot be made: the ones made before are removed again. */
static void test_v2_failed_mkdir_leaves_nothing(void **state)
{
    (void)state;
    slotcg_t cg[3];
    char err[256], p[PATH_MAX + 64];
    int version = 0;
    const char *dir = v2_scene("/", ALL_CONTROLLERS, "", RW);

    snprintf(fake.deny, sizeof fake.deny, "%s/codegate-61001", dir);
    assert_int_equal(create_fake(cg, 3, &version, err, sizeof err), -1);
    assert_contains(err, "mkdir ");
    assert_contains(err, "codegate-61001: Permission denied");
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/codegate-%d", dir, 61000 + i);
        assert_false(exists(p));
        assert_string_equal(cg[i].dir, "");
    }
}

/* Docker mounts the container's cgroup read-only: remounted writable first (CAP_SYS_ADMIN);
 * when that is refused, the error says so and nothing is written. */
static void test_v2_read_only_mount(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256];
    int version = 0;

    v2_scene("/", ALL_CONTROLLERS, "1\n4242\n", RO);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), 0);
    assert_int_equal(fake.remounts, 1);
    assert_string_equal(fake.remounted, cgroot);
    remove_dirs(&sys, cg, 1);

    fake.nlog = fake.remounts = 0;
    fake.remount_rc = -EPERM;
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_int_equal(fake.remounts, 1);
    assert_contains(err, "mounted read-only and cannot be remounted (Operation not permitted)");
    assert_contains(err, "CAP_SYS_ADMIN");
    assert_int_equal(fake.nlog, 0);
}

/* Our cgroup below a mount whose root is not the hierarchy's (a container without its own
 * cgroup namespace sees its cgroup at the mount point). */
static void test_v2_mount_root_below_the_hierarchy_root(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256], line[2 * PATH_MAX], p[PATH_MAX + 64];
    int version = 0;

    fake.version = 2;
    put(cgroot, "cgroup.controllers", ALL_CONTROLLERS);
    put(cgroot, "cgroup.subtree_control", "");
    put(cgroot, "cgroup.procs", "4242\n");
    put_path(proc_cgroup, "0::/kubepods/pod1/ctr\n");
    snprintf(line, sizeof line,
             OTHER_MOUNTS "35 24 0:30 /kubepods/pod1/ctr %s " RW " shared:9 - cgroup2 cgroup2 rw\n",
             cgroot);
    put_path(mountinfo, line);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/codegate-61000", cgroot);
    assert_string_equal(cg[0].dir, p);
    remove_dirs(&sys, cg, 1);

    /* Our cgroup outside what is mounted here. */
    put_path(proc_cgroup, "0::/elsewhere\n");
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_contains(err, "our cgroup2 cgroup /elsewhere is not under /kubepods/pod1/ctr");
}

/* ---- cgroup v1 and no cgroup at all ---- */

/* systemd's hybrid layout: v1 hierarchies with every controller, and an empty cgroup2 beside
 * them. v1 is used: a memory and a pids directory per slot; a read-only mount is remounted. */
static void test_v1_preferred_in_the_hybrid_layout(void **state)
{
    (void)state;
    slotcg_t cg[2];
    char err[256], mem[PATH_MAX], pids[PATH_MAX], uni[PATH_MAX], line[4 * PATH_MAX], p[PATH_MAX];
    int version = 0;

    fake.version = 1;
    snprintf(mem, sizeof mem, "%s/memory", tmp);
    snprintf(pids, sizeof pids, "%s/pids", tmp);
    snprintf(uni, sizeof uni, "%s/unified", tmp);
    mkdirs(mem);
    mkdirs(pids);
    mkdirs(uni);
    put(uni, "cgroup.controllers", "");
    put_path(proc_cgroup, "12:pids:/docker/abc\n6:cpu,cpuacct:/docker/abc\n"
                          "4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n");
    snprintf(line, sizeof line,
             OTHER_MOUNTS "30 24 0:26 /docker/abc %s " RW " - cgroup2 cgroup2 rw\n"
                          "31 24 0:27 /docker/abc %s/cpu " RO " - cgroup cgroup rw,cpu,cpuacct\n"
                          "32 24 0:28 /docker/abc %s " RO " - cgroup cgroup rw,memory\n"
                          "33 24 0:29 /docker/abc %s " RW " - cgroup cgroup rw,pids\n",
             uni, tmp, mem, pids);
    put_path(mountinfo, line);
    assert_int_equal(create_fake(cg, 2, &version, err, sizeof err), 0);
    assert_int_equal(version, 1);
    assert_int_equal(fake.remounts, 1); /* the memory mount; pids is writable */
    assert_string_equal(fake.remounted, mem);
    assert_int_equal(fake.nlog, 0); /* v1 needs no subtree_control */
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/codegate-%d", mem, 61000 + i);
        assert_string_equal(cg[i].dir, p);
        assert_true(exists(p));
        snprintf(p, sizeof p, "%s/codegate-%d", pids, 61000 + i);
        assert_string_equal(cg[i].pids, p);
        assert_true(exists(p));
    }
    remove_dirs(&sys, cg, 2);
    snprintf(p, sizeof p, "%s/codegate-61000", mem);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/codegate-61000", pids);
    assert_false(exists(p));

    /* Without a pids hierarchy: refused, and no memory directory is left. */
    snprintf(line, sizeof line,
             OTHER_MOUNTS "32 24 0:28 /docker/abc %s " RW " - cgroup cgroup rw,memory\n", mem);
    put_path(mountinfo, line);
    assert_int_equal(create_fake(cg, 2, &version, err, sizeof err), -1);
    assert_contains(err, "no v1 pids hierarchy");
    snprintf(p, sizeof p, "%s/codegate-61000", mem);
    assert_false(exists(p));
}

static void test_no_cgroup_mounted(void **state)
{
    (void)state;
    slotcg_t cg[1];
    char err[256];
    int version = 0;

    put_path(proc_cgroup, "0::/\n");
    put_path(mountinfo, OTHER_MOUNTS);
    assert_int_equal(create_fake(cg, 1, &version, err, sizeof err), -1);
    assert_contains(err, "no cgroup hierarchy with the memory controller is mounted here");
    assert_string_equal(cg[0].dir, "");
}

/* ---- the real proc files ---- */

static bool lists_pid(const char *dir, long pid)
{
    char path[PATH_MAX + 32];
    static long got[1 << 16]; /* a hierarchy's root lists every process of the host */
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int n = read_procs(path, got, 1 << 16);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        if (got[i] == pid)
            return true;
    return false;
}

/* The host's own /proc/self/cgroup and mountinfo (kernel-made lines: optional fields, super
 * options): the directory found for each hierarchy mounted here really is our cgroup - its
 * cgroup.procs lists us. Read only; this host has a v1 memory and pids hierarchy, v2 hosts
 * have cgroup2, hybrid ones both. */
static void test_real_proc_files_find_our_cgroups(void **state)
{
    (void)state;
    static const struct {
        int version;
        const char *what;
    } h[] = {{1, "memory"}, {1, "pids"}, {2, "cgroup2"}};
    slotcg_sys_t real = host_sys;
    where_t w;
    char err[256];
    int found = 0;

    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        int rc = locate(&real, h[i].version, h[i].what, &w, err, sizeof err);
        if (rc == -ENOENT)
            continue; /* not mounted here */
        if (rc != 0)
            fail_msg("%s: %s", h[i].what, err);
        if (!lists_pid(w.dir, (long)getpid()))
            fail_msg("%s: %s/cgroup.procs does not list us", h[i].what, w.dir);
        found++;
    }
    assert_true(found >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_container_root_moves_processes_into_leaf, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_v2_second_start_in_the_same_container, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_v2_delegated_unit_moves_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_real_root_moves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_other_processes_are_not_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_missing_controllers_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_not_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_failed_mkdir_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_read_only_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_mount_root_below_the_hierarchy_root, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_v1_preferred_in_the_hybrid_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cgroup_mounted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_proc_files_find_our_cgroups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
