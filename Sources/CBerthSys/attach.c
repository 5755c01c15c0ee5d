#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "CBerthSys.h"

/* Bytes and descriptors in one message (SCM_RIGHTS): how a CLI hands its stdio to the
 * supervisor along with a request line, and how a container's first process hands its pty
 * master to the monitor. */
int berth_send_with_fds(int sock, const void *data, size_t len, const int *fds, int count) {
    if (count < 0 || count > BERTH_MAX_PASSED_FDS || len == 0) { errno = EINVAL; return -1; }
    struct iovec iov = { (void *)data, len };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_PASSED_FDS)]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (count > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)count);
    }
    ssize_t r;
    do { r = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : (int)r;
}

long berth_recv_with_fds(int sock, void *buffer, size_t len, int *fds, int max, int *count) {
    struct iovec iov = { buffer, len };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_PASSED_FDS)]; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    *count = 0;
    ssize_t r;
    do { r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int received[BERTH_MAX_PASSED_FDS];
        if (n > BERTH_MAX_PASSED_FDS) n = BERTH_MAX_PASSED_FDS;
        memcpy(received, CMSG_DATA(c), sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) {
            if (*count < max) fds[(*count)++] = received[i];
            else close(received[i]);
        }
    }
    return (long)r;
}

/* One descriptor with one byte (the console socket's pty master). */
int berth_send_fd(int sock, int fd) {
    char byte = 'F';
    return berth_send_with_fds(sock, &byte, 1, &fd, 1) == 1 ? 0 : -1;
}

int berth_recv_fd(int sock) {
    char byte;
    int fd = -1, count = 0;
    long r = berth_recv_with_fds(sock, &byte, 1, &fd, 1, &count);
    if (r <= 0) { if (r == 0) errno = ECONNRESET; return -1; }
    if (count == 0) { errno = EPROTO; return -1; }
    return fd;
}
