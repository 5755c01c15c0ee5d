/* Copying file trees (volume copy-up) and mount attributes (recursive read-only binds). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/mount.h>
#include "CBerthSys.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

long berth_copy_file_range(int in_fd, int out_fd, size_t len) {
    return (long)copy_file_range(in_fd, NULL, out_fd, NULL, len, 0);
}

long berth_flistxattr(int fd, char *list, size_t size) {
    return (long)flistxattr(fd, list, size);
}

long berth_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return (long)fgetxattr(fd, name, value, size);
}

int berth_mount_setattr(int fd, int recursive, unsigned long long attr_set, unsigned long long attr_clr,
                        unsigned long long propagation) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    attr.attr_clr = attr_clr;
    attr.propagation = propagation;
    unsigned int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return (int)syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof attr);
}
