/*
 * file_fixture.h - write and read small files of a test's directory tree (the cgroup tests'
 * interface files). Include after <cmocka.h>.
 */
#ifndef CG_TEST_FILE_FIXTURE_H
#define CG_TEST_FILE_FIXTURE_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

/* Writes val to dir/file (created or truncated). */
static inline void put(const char *dir, const char *file, const char *val)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(val, f);
    fclose(f);
}

/* The file's content, or NULL when it does not exist. Four rotating buffers. */
static inline const char *get(const char *dir, const char *file)
{
    static char bufs[4][4096];
    static int next;
    char p[PATH_MAX + 64], *b = bufs[next++ % 4];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, b, sizeof bufs[0] - 1);
    close(fd);
    b[n > 0 ? n : 0] = '\0';
    return b;
}

#endif
