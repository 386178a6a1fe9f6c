/*
 * pty.c - the pseudo-terminal of an interactive run (see pty.h).
 */
#include "pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

/*
 * Interactive runs: the program's stdin and stdout are the slave side of a pseudo-terminal, so
 * that it behaves as at a terminal: C stdio line-buffers stdout and flushes it before reading
 * stdin, so a prompt printed without a newline (printf("n? "); scanf(...)) appears before the
 * program blocks. stderr stays a separate pipe. The line discipline is canonical (the program
 * reads whole lines, ^D at the start of a line is EOF) with echo, signals and output processing
 * off (no "\n" -> "\r\n", no ^C). We read and write the master side; the slave goes to the
 * launcher and is closed here after the spawn. Returns the master fd, or -1.
 */
int pty_open(int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    char *name;

    if (m < 0)
        return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || !(name = ptsname(m)))
        goto fail;
    *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0)
        goto fail;
    if (tcgetattr(*slave, &t) == 0) {
        t.c_oflag &= ~(tcflag_t)OPOST;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ISIG | IEXTEN);
        t.c_lflag |= ICANON;
        t.c_cc[VEOF] = 4;
        t.c_cc[VERASE] = t.c_cc[VKILL] = t.c_cc[VWERASE] = t.c_cc[VREPRINT] = _POSIX_VDISABLE;
        t.c_cc[VLNEXT] = t.c_cc[VEOL] = t.c_cc[VEOL2] = _POSIX_VDISABLE;
        tcsetattr(*slave, TCSANOW, &t);
    }
    return m;
fail:
    close(m);
    return -1;
}
