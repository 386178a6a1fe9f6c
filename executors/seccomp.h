/*
 * seccomp.h - the system-call filter every sandboxed program runs under.
 *
 * A deny list, not an allow list: students' programs in three languages (and g++) use a wide,
 * changing set of system calls, and the uid drop, rlimits and namespaces already bound what the
 * ordinary ones can do. The filter removes what a sandboxed program never needs and what widens
 * the kernel's attack surface or undoes the namespaces: new namespaces (unshare, setns, clone
 * with CLONE_NEW* flags; clone3 answers ENOSYS so the C library falls back to clone), mounts,
 * ptrace and cross-process memory access, keyrings, bpf, perf events, userfaultfd, io_uring,
 * module and kexec calls. Denied calls fail with EPERM (the program sees an ordinary error).
 * Calls of another ABI (x32, i386 on x86_64) are refused the same way.
 *
 * Needs no_new_privs (or CAP_SYS_ADMIN) already set. Installed last before exec.
 */
#ifndef CG_SECCOMP_H
#define CG_SECCOMP_H

/* 0, or -errno (-ENOSYS on an architecture the filter does not know). */
int sandbox_seccomp_install(void);

#endif
