// System calls that Swift cannot reach directly: glibc's syscall(2) is variadic, which Swift does
// not import. Header only (static inline), no library to link. Linux only; empty elsewhere.
#ifndef RESTORE_DRILL_CSYSCALL_SHIM_H
#define RESTORE_DRILL_CSYSCALL_SHIM_H

#ifdef __linux__
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

// openat2(2), Linux 5.6: its number is the same on every architecture (unified syscall table).
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

// The resolve flags of openat2(2) (linux/openat2.h, which older kernel headers lack).
static const uint64_t RD_RESOLVE_NO_XDEV = 0x01;
static const uint64_t RD_RESOLVE_NO_MAGICLINKS = 0x02;
static const uint64_t RD_RESOLVE_NO_SYMLINKS = 0x04;
static const uint64_t RD_RESOLVE_BENEATH = 0x08;

/// struct open_how of openat2(2): three 64-bit fields, in this order.
struct rd_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

/// openat2(dirfd, path, {flags, mode, resolve}): a descriptor, or -1 with errno set (ENOSYS
/// before Linux 5.6; EPERM where a seccomp filter refuses the call; ELOOP for a link that
/// RESOLVE_NO_SYMLINKS refuses; EXDEV for a path that leaves dirfd under RESOLVE_BENEATH).
static inline int rd_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct rd_open_how how = {flags, mode, resolve};
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    return (int)fd;
}
#endif

#endif
