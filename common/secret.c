/*
 * secret.c - reading and checking shared secrets by one set of rules (see secret.h).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"

int cg_secret_check(const char *what, char *buf, size_t len, size_t min, size_t max,
                    size_t *out_len, char *err, size_t errlen)
{
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    buf[len] = '\0';
    if (len > max) {
        snprintf(err, errlen, "%s is longer than %zu characters", what, max);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f) {
            snprintf(err, errlen,
                     "%s holds a blank, control or non-ASCII character at offset %zu (one line of "
                     "printable characters; only a line end after it is allowed)",
                     what, i);
            return -1;
        }
    if (len < min) {
        snprintf(err, errlen,
                 "%s has %zu characters; at least %zu are required (a shared secret that short "
                 "can be guessed; e.g. openssl rand -hex 32)",
                 what, len, min);
        return -1;
    }
    *out_len = len;
    return 0;
}

int cg_secret_read(const char *path, size_t min, size_t max, char *out, size_t outcap,
                   size_t *out_len, char *err, size_t errlen)
{
    char what[PATH_MAX + 16];
    ssize_t n;
    int fd, rc = -1;

    snprintf(what, sizeof what, "the secret in %s", path);
    memset(out, 0, outcap);
    if (outcap < max + 4) { /* max, a CR LF, one more (a longer file is refused, not cut), NUL */
        snprintf(err, errlen, "%s: buffer too small", what);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    n = cg_read_full(fd, out, max + 3);
    close(fd);
    if (n < 0)
        snprintf(err, errlen, "cannot read %s: %s", path, strerror((int)-n));
    else
        rc = cg_secret_check(what, out, (size_t)n, min, max, out_len, err, errlen);
    if (rc != 0)
        explicit_bzero(out, outcap);
    return rc;
}
