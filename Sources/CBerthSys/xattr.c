/* Extended attributes and syncfs for the image store (layer unpacking, whiteouts). */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "CBerthSys.h"

int berth_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size) {
    return lsetxattr(path, name, value, size, 0);
}
long berth_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return (long)lgetxattr(path, name, value, size);
}
long berth_llistxattr(const char *path, char *list, size_t size) {
    return (long)llistxattr(path, list, size);
}
int berth_syncfs(int fd) {
    return syncfs(fd);
}
