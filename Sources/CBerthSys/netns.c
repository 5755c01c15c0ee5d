#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

/* A network namespace made beside the caller: a clone child sharing our memory and fd
 * table (no CLONE_VFORK: we go on) unshares one and opens it; finish waits for it. Creating
 * one costs ~0.6 ms here, which a container start would otherwise spend in its first
 * process before it can mount anything. */
struct netns_async {
    char *stack;
    pid_t pid;
    int fd;
    int error;
};

static int netns_async_child(void *arg) {
    struct netns_async *job = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        job->error = errno;
        return 1;
    }
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        job->error = errno;
        return 1;
    }
    job->fd = fd;
    return 0;
}

void *berth_netns_async_start(void) {
    const size_t size = 64 * 1024;
    struct netns_async *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->fd = -1;
    job->stack = malloc(size);
    if (!job->stack) { free(job); return NULL; }
    job->pid = clone(netns_async_child, job->stack + size, CLONE_VM | CLONE_FILES, job);
    if (job->pid < 0) {
        int saved = errno;
        free(job->stack);
        free(job);
        errno = saved;
        return NULL;
    }
    return job;
}

int berth_netns_async_finish(void *handle) {
    struct netns_async *job = handle;
    int status;
    while (waitpid(job->pid, &status, __WCLONE) < 0 && errno == EINTR) {}
    int fd = job->fd, error = job->error;
    free(job->stack);
    free(job);
    if (fd < 0) { errno = error ? error : ECHILD; return -1; }
    return fd;
}

int berth_accept_nonblock(int fd, void *addr, unsigned int *len) {
    socklen_t l = *len;
    int r = accept4(fd, (struct sockaddr *)addr, &l, SOCK_CLOEXEC | SOCK_NONBLOCK);
    *len = (unsigned int)l;
    return r;
}
