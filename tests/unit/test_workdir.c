/*
 * test_workdir.c - work dirs are created private and removed whole, and removal never follows
 * a symlink the program planted, whatever the tree looks like.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "workdir.h"

static char root[PATH_MAX], outside[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    alarm(120);
    snprintf(root, sizeof root, "/tmp/cg-workdir-test-%d", (int)getpid());
    snprintf(outside, sizeof outside, "/tmp/cg-workdir-outside-%d", (int)getpid());
    assert_int_equal(workdir_prepare_root(root), 0);
    assert_int_equal(mkdir(outside, 0755), 0);
    FILE *f = fopen("/tmp/cg-workdir-outside-keep", "w");
    fclose(f);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/precious", outside);
    f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx %s %s 2>/dev/null; rm -rf %s %s", root, outside, root,
             outside);
    (void)!system(cmd);
    unlink("/tmp/cg-workdir-outside-keep");
    return 0;
}

static void path(char *out, const char *rel)
{
    snprintf(out, PATH_MAX, "%s/%s", root, rel);
}

static void test_create_private_and_write(void **state)
{
    (void)state;
    char p[PATH_MAX];
    struct stat st;

    assert_int_equal(workdir_create(root, "0-job", 0, 0, false), 0);
    path(p, "0-job");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(workdir_create(root, "0-job", 0, 0, false), -EEXIST);
    assert_int_equal(workdir_write_file(root, "0-job", "main.py", "print(1)", 8, 0, 0, false), 0);
    assert_int_equal(workdir_write_file(root, "0-job", "main.py", "x", 1, 0, 0, false), -EEXIST);
    path(p, "0-job/main.py");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 8);
    assert_int_equal(workdir_remove(root, "0-job"), 0);
    path(p, "0-job");
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(workdir_remove(root, "0-job"), 0); /* already gone: fine */
}

static void test_hostile_tree(void **state)
{
    (void)state;
    char p[PATH_MAX], cmd[4 * PATH_MAX];

    assert_int_equal(workdir_create(root, "1-evil", 0, 0, false), 0);
    snprintf(cmd, sizeof cmd,
             "cd %s/1-evil && ln -s %s link_to_dir && ln -s /tmp/cg-workdir-outside-keep "
             "link_to_file && mkdir -p a/b/c && touch a/b/c/f && mkfifo fifo && "
             "mkdir locked && touch locked/inner && chmod 000 locked && "
             "touch 'odd name \n with newline' && ln -s . loop",
             root, outside);
    assert_int_equal(system(cmd), 0);
    /* deep nesting */
    snprintf(cmd, sizeof cmd, "cd %s/1-evil && for i in $(seq 1 120); do mkdir d && cd d; done",
             root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(workdir_remove(root, "1-evil"), 0);
    path(p, "1-evil");
    assert_int_equal(access(p, F_OK), -1);
    /* the symlink targets are untouched */
    snprintf(p, sizeof p, "%s/precious", outside);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(access("/tmp/cg-workdir-outside-keep", F_OK), 0);
}

static void test_workdir_itself_a_symlink(void **state)
{
    (void)state;
    char p[PATH_MAX];

    path(p, "2-link");
    assert_int_equal(symlink(outside, p), 0);
    assert_int_equal(workdir_remove(root, "2-link"), 0);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/precious", outside);
    assert_int_equal(access(p, F_OK), 0);
}

/* Far deeper than one pass goes: still removed whole, with a bounded number of fds. */
static void test_very_deep_tree_removed(void **state)
{
    (void)state;
    char p[PATH_MAX], cmd[2 * PATH_MAX];

    assert_int_equal(workdir_create(root, "3-deep", 0, 0, false), 0);
    snprintf(cmd, sizeof cmd,
             "cd %s/3-deep && for i in $(seq 1 %d); do mkdir d && touch d/f && cd d; done && "
             "ln -s %s escape && mkdir locked && chmod 000 locked",
             root, WORKDIR_MAX_DEPTH * 5 + 3, outside);
    assert_int_equal(system(cmd), 0);
    /* a name the lifting might pick is already taken */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/3-deep/.cg-deep-0/x %s/3-deep/.cg-deep-1", root, root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(workdir_remove(root, "3-deep"), 0);
    path(p, "3-deep");
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/precious", outside);
    assert_int_equal(access(p, F_OK), 0);
}

/* The removal as the (non-root) owner of the tree: permissions the program took away are
 * given back, and nothing of the outside is touched. Run in a child as an unprivileged uid
 * when we are root. */
static void test_remove_as_owner(void **state)
{
    (void)state;
    char own[PATH_MAX], p[PATH_MAX + 16], cmd[4 * PATH_MAX];
    bool root_user = geteuid() == 0;

    /* A work root of the unprivileged uid, as when the executor runs without root. */
    path(own, "ownroot");
    assert_int_equal(mkdir(own, 0711), 0);
    if (root_user)
        assert_int_equal(chown(own, 65534, 65534), 0);
    assert_int_equal(workdir_create(own, "4-own", 65534, 65534, root_user), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (root_user && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        snprintf(cmd, sizeof cmd,
                 "cd %s/4-own && mkdir -p a/b r w && touch a/b/f r/f w/f && chmod 000 a/b && "
                 "chmod 000 a && chmod 500 r && chmod 300 w && ln -s %s/precious lnk && "
                 "mkfifo a2 && chmod 000 .",
                 own, outside);
        if (system(cmd) != 0)
            _exit(11);
        _exit(workdir_remove(own, "4-own") == 0 ? 0 : 12);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(p, sizeof p, "%s/4-own", own);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/precious", outside);
    assert_int_equal(access(p, F_OK), 0);
}

/* The work root must be ours: a directory someone else planted is refused, a symlink too. */
static void test_prepare_root_checks(void **state)
{
    (void)state;
    char p[PATH_MAX];
    struct stat st;

    path(p, "sub");
    assert_int_equal(workdir_prepare_root(p), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(chmod(p, 0777), 0);
    assert_int_equal(workdir_prepare_root(p), 0); /* mode put back */
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    path(p, "link");
    assert_int_equal(symlink(outside, p), 0);
    assert_int_equal(workdir_prepare_root(p), -ENOTDIR);
    if (geteuid() == 0) {
        path(p, "theirs");
        assert_int_equal(mkdir(p, 0711), 0);
        assert_int_equal(chown(p, 65534, 65534), 0);
        assert_int_equal(workdir_prepare_root(p), -EPERM);
    }
}

/* Removing what is not a directory (a file or fifo where the work dir was) unlinks it. */
static void test_remove_non_directory(void **state)
{
    (void)state;
    char p[PATH_MAX];

    path(p, "5-fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(workdir_remove(root, "5-fifo"), 0);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(workdir_remove("/nonexistent-cg-root", "x"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_private_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workdir_itself_a_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_very_deep_tree_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_as_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_root_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_non_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
