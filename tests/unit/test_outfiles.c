/*
 * test_outfiles.c - reading a program's out/ (executors/outfiles.c): regular files come back
 * in name order with size, MIME type and base64 content; links, fifos, huge and sparse files,
 * too many files and too deep trees are left out with their reason, and nothing outside out/
 * is ever read. Also the writing of given files (executors/workdir.c: workdir_write_files).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "outfiles.h"
#include "workdir.h"

static char root[PATH_MAX];
static const char *job = "0-job";

static void put(const char *rel, const char *data, size_t len)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s/%s", root, job, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void mk(const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s/%s", root, job, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/cg-outfiles-test-%d", (int)getpid());
    assert_int_equal(workdir_prepare_root(root), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(workdir_remove(root, job), 0);
    rmdir(root);
    return 0;
}

static const cJSON *entry(const cJSON *arr, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!strcmp(cJSON_GetObjectItem(it, "name")->valuestring, name))
            return it;
    }
    return NULL;
}

static const char *reason(const cJSON *omitted, const char *name)
{
    const cJSON *e = entry(omitted, name);
    return e ? cJSON_GetObjectItem(e, "reason")->valuestring : NULL;
}

static void no_out_dir(void **state)
{
    (void)state;
    cJSON *files, *omitted;
    cg_out_limits_t lim = {16, 1024, 4096};
    assert_int_equal(outfiles_collect(root, job, &lim, &files, &omitted), 0);
    assert_null(files);
    assert_null(omitted);
}

static void regular_files_in_order(void **state)
{
    (void)state;
    cJSON *files, *omitted;
    cg_out_limits_t lim = {16, 1024, 4096};
    mk("out");
    mk("out/sub");
    put("out/b.txt", "bee", 3);
    put("out/a.png", "\x89PNG\r\n\x1a\n", 8);
    put("out/sub/c.csv", "1,2\n", 4);
    put("out/Z", "", 0);
    assert_int_equal(outfiles_collect(root, job, &lim, &files, &omitted), 0);
    assert_null(omitted);
    assert_int_equal(cJSON_GetArraySize(files), 4);
    const char *order[] = {"Z", "a.png", "b.txt", "sub/c.csv"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(files, i), "name")->valuestring,
                            order[i]);
    const cJSON *b = entry(files, "b.txt");
    assert_string_equal(cJSON_GetObjectItem(b, "content")->valuestring, "YmVl");
    assert_int_equal(cJSON_GetObjectItem(b, "size")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(b, "mimeType")->valuestring, "text/plain");
    assert_string_equal(cJSON_GetObjectItem(entry(files, "a.png"), "mimeType")->valuestring,
                        "image/png");
    assert_string_equal(cJSON_GetObjectItem(entry(files, "sub/c.csv"), "mimeType")->valuestring,
                        "text/csv");
    cJSON_Delete(files);
}

static void hostile_entries(void **state)
{
    (void)state;
    cJSON *files, *omitted;
    cg_out_limits_t lim = {3, 100, 150};
    char p[PATH_MAX * 2];
    char big[101];
    memset(big, 'x', sizeof big);
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    mk("out");

    snprintf(p, sizeof p, "%s/%s/out/link", root, job);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof p, "%s/%s/out/dirlink", root, job);
    assert_int_equal(symlink("/etc", p), 0);
    snprintf(p, sizeof p, "%s/%s/out/fifo", root, job);
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/%s/out/sparse", root, job);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0); /* 1 TiB, no blocks */
    close(fd);
    put("out/big", big, sizeof big);
    put("out/bad\x01name", "x", 1);
    put("out/m1", big, 90);
    put("out/m2", big, 90); /* 90 + 90 > 150 */
    put("out/m3", "y", 1);
    put("out/m4", "z", 1);
    put("out/m5", "z", 1); /* the 4th file: count */
    snprintf(p, sizeof p, "out");
    for (int i = 0; i < CG_FILE_DEPTH_MAX; i++) {
        strcat(p, "/d");
        mk(p);
    }
    assert_int_equal(outfiles_collect(root, job, &lim, &files, &omitted), 0);
    assert_non_null(files);
    assert_int_equal(cJSON_GetArraySize(files), 3);
    assert_non_null(entry(files, "m1"));
    assert_non_null(entry(files, "m3"));
    assert_null(entry(files, "d/d/d/d/d/d/d/d"));
    assert_string_equal(reason(omitted, "link"), "symlink");
    assert_string_equal(reason(omitted, "dirlink"), "symlink");
    assert_string_equal(reason(omitted, "fifo"), "not_regular");
    assert_string_equal(reason(omitted, "sparse"), "too_large");
    assert_string_equal(reason(omitted, "big"), "too_large");
    assert_string_equal(reason(omitted, "m2"), "total_too_large");
    assert_non_null(entry(files, "m4"));
    assert_string_equal(reason(omitted, "m5"), "too_many");
    char *om = cJSON_PrintUnformatted(omitted);
    assert_non_null(strstr(om, "bad_name"));
    assert_non_null(strstr(om, "too_deep"));
    free(om);
    char *all = cJSON_PrintUnformatted(files);
    assert_null(strstr(all, "cm9vd")); /* "root" in base64: nothing of /etc/passwd */
    free(all);
    cJSON_Delete(files);
    cJSON_Delete(omitted);
}

static void out_is_a_link(void **state)
{
    (void)state;
    cJSON *files, *omitted;
    cg_out_limits_t lim = {16, 1024, 4096};
    char p[PATH_MAX * 2];
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    snprintf(p, sizeof p, "%s/%s/out", root, job);
    assert_int_equal(symlink("/etc", p), 0);
    assert_int_equal(outfiles_collect(root, job, &lim, &files, &omitted), 0);
    assert_null(files);
    assert_string_equal(reason(omitted, "out"), "not_a_directory");
    cJSON_Delete(omitted);
}

static void many_omissions_summarised(void **state)
{
    (void)state;
    cJSON *files, *omitted;
    cg_out_limits_t lim = {1, 1024, 4096};
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    mk("out");
    for (int i = 0; i < 100; i++) {
        char n[32];
        snprintf(n, sizeof n, "out/f%03d", i);
        put(n, "x", 1);
    }
    assert_int_equal(outfiles_collect(root, job, &lim, &files, &omitted), 0);
    assert_int_equal(cJSON_GetArraySize(files), 1);
    assert_int_equal(cJSON_GetArraySize(omitted), CG_MAX_OUT_OMITTED + 1);
    const cJSON *last = cJSON_GetArrayItem(omitted, CG_MAX_OUT_OMITTED);
    assert_string_equal(cJSON_GetObjectItem(last, "name")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(last, "reason")->valuestring, "67 more");
    cJSON_Delete(files);
    cJSON_Delete(omitted);
}

static void write_given_files(void **state)
{
    (void)state;
    int bad;
    struct stat st;
    char p[PATH_MAX * 2];
    const lang_t *py = lang_get("python");
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    cg_file_t ok[] = {{"util.py", "eA==", 4}, {"a/b/c.bin", "AAH/", 4}, {"a/d.txt", "", 0}};
    assert_int_equal(workdir_write_files(root, job, py, ok, 3, 0, 0, false, &bad), 0);
    snprintf(p, sizeof p, "%s/%s/a/b/c.bin", root, job);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/%s/a/b", root, job);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(p, sizeof p, "%s/%s/out", root, job);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* The executor checks the names again, and never writes through a link. */
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    cg_file_t evil[] = {{"x", "eA==", 4}, {"../escape", "eA==", 4}};
    assert_int_equal(workdir_write_files(root, job, py, evil, 2, 0, 0, false, &bad), -EINVAL);
    assert_int_equal(bad, 1);
    cg_file_t nob64[] = {{"x", "e@==", 4}};
    assert_int_equal(workdir_write_files(root, job, py, nob64, 1, 0, 0, false, &bad), -EINVAL);
    assert_int_equal(workdir_remove(root, job), 0);
    assert_int_equal(workdir_create(root, job, 0, 0, false), 0);
    snprintf(p, sizeof p, "%s/%s/lnk", root, job);
    assert_int_equal(symlink("/tmp", p), 0);
    cg_file_t via[] = {{"lnk/x", "eA==", 4}};
    int rc = workdir_write_files(root, job, py, via, 1, 0, 0, false, &bad);
    assert_true(rc == -ENOTDIR || rc == -ELOOP);
    assert_int_equal(access("/tmp/x-never", F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_out_dir),
        cmocka_unit_test(regular_files_in_order),
        cmocka_unit_test(hostile_entries),
        cmocka_unit_test(out_is_a_link),
        cmocka_unit_test(many_omissions_summarised),
        cmocka_unit_test(write_given_files),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, setup, teardown);
}
