/*
 * pty.h - the pseudo-terminal of an interactive run (profiles with a pty).
 *
 * Ownership: pty_open returns two descriptors, both the caller's to close. Any thread.
 */
#ifndef CG_PTY_H
#define CG_PTY_H

/*
 * Opens a pseudo-terminal set up for a program that reads lines: canonical input, ^D at the
 * start of a line is EOF, no echo, no signals, no output processing ("\n" stays "\n"). Returns
 * the master (close-on-exec) and sets *slave, or returns -1.
 */
int pty_open(int *slave);

#endif
