/*
 * test_tar_context.c - the reproducible build context: SHA-256 vectors, round trip through
 * libarchive's reader, determinism, hash sensitivity, skipped entries and argument errors.
 * Each test builds a small tree in a fresh temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/tar_context.c"

static char root[64];

static void put(const char *rel, const char *content, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void dir(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

/* A small repository: Makefile, include/, common/ with build/ and .git noise, a symlink. */
static int setup_tree(void **state)
{
    (void)state;
    alarm(20);
    snprintf(root, sizeof root, "/tmp/cg-test-tar-XXXXXX");
    assert_non_null(mkdtemp(root));
    put("Makefile", "all:\n\ttrue\n", 0644);
    dir("include");
    put("include/a.h", "#define A 1\n", 0600);
    dir("common");
    put("common/a.c", "int a;\n", 0644);
    put("common/run.sh", "#!/bin/sh\n", 0700);
    put("common/empty", "", 0644);
    dir("common/build");
    put("common/build/a.o", "junk", 0644);
    dir("common/.git");
    put("common/.git/HEAD", "ref", 0644);
    dir("common/sub");
    put("common/sub/deep.c", "int deep;\n", 0644);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/common/link.c", root);
    assert_int_equal(symlink("a.c", p), 0);
    return 0;
}

static int teardown_tree(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    alarm(0);
    return 0;
}

static tar_context_t *make_ctx(const char *const *paths, const char *dockerfile)
{
    tar_context_t *tc = tar_context_new();
    assert_non_null(tc);
    for (; *paths; paths++)
        assert_int_equal(tar_context_add_path(tc, root, *paths), 0);
    if (dockerfile)
        assert_int_equal(
            tar_context_add_data(tc, "Dockerfile", dockerfile, strlen(dockerfile), 0600), 0);
    assert_int_equal(tar_context_finish(tc), 0);
    return tc;
}

static const char *const repo_paths[] = {"Makefile", "include/", "common", NULL};

/* ---- SHA-256 ---- */

static void sha_of(const void *data, size_t len, size_t piece, char out[65])
{
    cg_sha256_t s;
    unsigned char md[32];
    cg_sha256_init(&s);
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i += piece)
        cg_sha256_update(&s, p + i, len - i < piece ? len - i : piece);
    assert_int_equal(cg_sha256_final(&s, md), 0);
    cg_sha256_hex(md, out);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    char h[65];
    sha_of("", 0, 1, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_of("abc", 3, 1, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t piece = 1; piece <= 64; piece += 21) {
        sha_of(m, strlen(m), piece, h);
        assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    sha_of(million, 1000000, 4096, h);
    free(million);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* A failure is sticky: later updates do nothing, final reports it, zeroes the digest and
     * still frees the context (the sanitizer build would report a leak). */
    cg_sha256_t s;
    unsigned char md[32];
    cg_sha256_init(&s);
    cg_sha256_update(&s, "abc", 3);
    s.ok = false;
    cg_sha256_update(&s, "def", 3);
    memset(md, 0xaa, sizeof md);
    assert_int_equal(cg_sha256_final(&s, md), -1);
    assert_null(s.ctx);
    for (size_t i = 0; i < sizeof md; i++)
        assert_int_equal(md[i], 0);
}

/* ---- archive ---- */

typedef struct {
    const char *path;
    int type;
    mode_t perm;
    const char *content;
} want_t;

static void test_round_trip(void **state)
{
    (void)state;
    tar_context_t *tc = make_ctx(repo_paths, "FROM scratch\n");
    size_t len;
    const void *data = tar_context_data(tc, &len);
    assert_non_null(data);
    assert_int_equal(len % 512, 0);
    const want_t want[] = {
        {"Dockerfile", AE_IFREG, 0644, "FROM scratch\n"},
        {"Makefile", AE_IFREG, 0644, "all:\n\ttrue\n"},
        {"common", AE_IFDIR, 0755, NULL},
        {"common/a.c", AE_IFREG, 0644, "int a;\n"},
        {"common/empty", AE_IFREG, 0644, ""},
        {"common/run.sh", AE_IFREG, 0755, "#!/bin/sh\n"},
        {"common/sub", AE_IFDIR, 0755, NULL},
        {"common/sub/deep.c", AE_IFREG, 0644, "int deep;\n"},
        {"include", AE_IFDIR, 0755, NULL},
        {"include/a.h", AE_IFREG, 0644, "#define A 1\n"},
    };
    assert_int_equal(tar_context_count(tc), sizeof want / sizeof want[0]);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
    struct archive_entry *ae;
    size_t i = 0;
    char buf[256];
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        assert_true(i < sizeof want / sizeof want[0]);
        const char *name = archive_entry_pathname(ae);
        size_t n = strlen(name);
        if (n && name[n - 1] == '/') /* directories may come back with a slash */
            n--;
        assert_int_equal(n, strlen(want[i].path));
        assert_memory_equal(name, want[i].path, n);
        assert_int_equal(archive_entry_filetype(ae), want[i].type);
        assert_int_equal(archive_entry_perm(ae), want[i].perm);
        assert_int_equal(archive_entry_mtime(ae), 0);
        assert_int_equal(archive_entry_uid(ae), 0);
        assert_int_equal(archive_entry_gid(ae), 0);
        if (want[i].content) {
            assert_int_equal(archive_entry_size(ae), strlen(want[i].content));
            la_ssize_t got = archive_read_data(a, buf, sizeof buf);
            assert_int_equal(got, (la_ssize_t)strlen(want[i].content));
            assert_memory_equal(buf, want[i].content, (size_t)got);
        }
        i++;
    }
    assert_int_equal(i, sizeof want / sizeof want[0]);
    archive_read_free(a);
    assert_int_equal(strlen(tar_context_hash(tc)), 64);
    tar_context_free(tc);
}

static void test_deterministic(void **state)
{
    (void)state;
    tar_context_t *a = make_ctx(repo_paths, "FROM scratch\n");
    sleep(1); /* mtimes and atimes move on; the bytes must not */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/common/a.c", root);
    assert_int_equal(utimensat(AT_FDCWD, p, NULL, 0), 0);
    const char *const reordered[] = {"common/", "include", "Makefile", NULL};
    tar_context_t *b = make_ctx(reordered, "FROM scratch\n");
    size_t la, lb;
    const void *da = tar_context_data(a, &la), *db = tar_context_data(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    assert_string_equal(tar_context_hash(a), tar_context_hash(b));
    tar_context_free(a);
    tar_context_free(b);
}

static void test_hash_changes(void **state)
{
    (void)state;
    tar_context_t *base = make_ctx(repo_paths, "FROM scratch\n");
    char h0[65];
    strcpy(h0, tar_context_hash(base));
    tar_context_free(base);

    put("common/sub/deep.c", "int deeper;\n", 0644); /* content */
    tar_context_t *t = make_ctx(repo_paths, "FROM scratch\n");
    char h1[65];
    strcpy(h1, tar_context_hash(t));
    tar_context_free(t);
    assert_string_not_equal(h0, h1);

    put("common/sub/deep.c", "int deep;\n", 0755); /* back, but executable */
    t = make_ctx(repo_paths, "FROM scratch\n");
    char h2[65];
    strcpy(h2, tar_context_hash(t));
    tar_context_free(t);
    assert_string_not_equal(h2, h0);
    assert_string_not_equal(h2, h1);

    put("common/sub/deep.c", "int deep;\n", 0644); /* fully back: the same hash again */
    t = make_ctx(repo_paths, "FROM scratch\n");
    assert_string_equal(tar_context_hash(t), h0);
    tar_context_free(t);

    t = make_ctx(repo_paths, "FROM scratch \n"); /* the Dockerfile counts */
    assert_string_not_equal(tar_context_hash(t), h0);
    tar_context_free(t);

    put("common/new.c", "", 0644); /* a new empty file */
    t = make_ctx(repo_paths, "FROM scratch\n");
    assert_string_not_equal(tar_context_hash(t), h0);
    tar_context_free(t);

    put("common/build/other.o", "more junk", 0644); /* skipped: no change */
    assert_int_equal(unlink(strcat(strcpy((char[PATH_MAX]){0}, root), "/common/new.c")), 0);
    t = make_ctx(repo_paths, "FROM scratch\n");
    assert_string_equal(tar_context_hash(t), h0);
    tar_context_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    tar_context_t *tc = tar_context_new();
    assert_int_equal(tar_context_add_path(tc, root, "/etc"), -EINVAL);
    assert_int_equal(tar_context_add_path(tc, root, "../x"), -EINVAL);
    assert_int_equal(tar_context_add_path(tc, root, "common/../include"), -EINVAL);
    assert_int_equal(tar_context_add_path(tc, root, "common//a.c"), -EINVAL);
    assert_int_equal(tar_context_add_path(tc, root, ""), -EINVAL);
    assert_int_equal(tar_context_add_path(tc, root, "missing"), -ENOENT);
    assert_non_null(strstr(tar_context_error(tc), "missing"));
    assert_int_equal(tar_context_add_path(tc, root, "common"), 0);
    assert_int_equal(tar_context_add_path(tc, root, "common/sub"), 0); /* overlap: same entries */
    assert_int_equal(tar_context_add_path(tc, root, "common/a.c"), 0);
    assert_int_equal(tar_context_add_data(tc, "common/a.c", "int a;\n", 7, 0600), 0);
    assert_int_equal(tar_context_add_data(tc, "common/a.c", "x", 1, 0644), -EEXIST);
    assert_int_equal(tar_context_add_data(tc, "common/a.c", "int a;\n", 7, 0755), -EEXIST);
    assert_int_equal(tar_context_add_data(tc, "common/sub", "", 0, 0644), -EEXIST);
    assert_int_equal(tar_context_count(tc), 6); /* common, a.c, empty, run.sh, sub, sub/deep.c */
    assert_int_equal(tar_context_finish(tc), 0);
    assert_int_equal(tar_context_add_data(tc, "Dockerfile", "x", 1, 0644), -EBUSY);
    assert_int_equal(tar_context_finish(tc), -EBUSY);
    tar_context_free(tc);
    tar_context_free(NULL);

    /* Unfinished contexts have no data or hash; an empty one is a valid (empty) archive. */
    tc = tar_context_new();
    size_t len = 1;
    assert_null(tar_context_data(tc, &len));
    assert_int_equal(len, 0);
    assert_null(tar_context_hash(tc));
    assert_int_equal(tar_context_finish(tc), 0);
    assert_non_null(tar_context_data(tc, &len));
    assert_true(len > 0);
    assert_string_equal(tar_context_hash(tc),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    tar_context_free(tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sha256_vectors, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_round_trip, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_deterministic, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_hash_changes, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_errors, setup_tree, teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
