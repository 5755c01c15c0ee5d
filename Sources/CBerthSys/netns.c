#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CBerthSys.h"

/* Work done by a clone(CLONE_VM | CLONE_VFORK | CLONE_FILES) child: it shares our memory and
 * fd table, runs only system calls, and the calling thread sleeps until it exits. Its
 * exit_signal is 0, so only a __WCLONE wait sees it: a supervisor's waitpid(-1) cannot steal
 * it. Results travel through `struct job` in the shared memory. */
struct job {
    const char *path;  /* netns_create: bind target */
    int netns_fd;      /* socket_in_netns: namespace to enter */
    int domain, type, protocol;
    int result;        /* fd or 0 */
    int error;         /* errno of the failed step */
};

static int create_child(void *arg) {
    struct job *job = arg;
    if (mount("/proc/self/ns/net", job->path, NULL, MS_BIND, NULL) < 0) {
        job->error = errno;
        return 1;
    }
    return 0;
}

static int socket_child(void *arg) {
    struct job *job = arg;
    if (setns(job->netns_fd, CLONE_NEWNET) < 0) {
        job->error = errno;
        return 1;
    }
    int fd = socket(job->domain, job->type, job->protocol);
    if (fd < 0) {
        job->error = errno;
        return 1;
    }
    job->result = fd;
    return 0;
}

static int run_child(int (*fn)(void *), int flags, struct job *job) {
    const size_t size = 64 * 1024;
    char *stack = malloc(size);
    if (!stack) return -1;
    job->error = 0;
    job->result = -1;
    pid_t pid = clone(fn, stack + size, CLONE_VM | CLONE_VFORK | CLONE_FILES | flags, job);
    int saved = errno;
    if (pid > 0) {
        int status;
        while (waitpid(pid, &status, __WCLONE) < 0 && errno == EINTR) {}
    }
    free(stack);
    if (pid < 0) { errno = saved; return -1; }
    if (job->error) { errno = job->error; return -1; }
    return 0;
}

int berth_netns_create(const char *path) {
    struct job job = { .path = path };
    return run_child(create_child, CLONE_NEWNET, &job);
}

int berth_socket_in_netns(int netns_fd, int domain, int type, int protocol) {
    struct job job = { .netns_fd = netns_fd, .domain = domain, .type = type, .protocol = protocol };
    if (run_child(socket_child, 0, &job) < 0) return -1;
    return job.result;
}

int berth_accept_nonblock(int fd, void *addr, unsigned int *len) {
    socklen_t l = *len;
    int r = accept4(fd, (struct sockaddr *)addr, &l, SOCK_CLOEXEC | SOCK_NONBLOCK);
    *len = (unsigned int)l;
    return r;
}
