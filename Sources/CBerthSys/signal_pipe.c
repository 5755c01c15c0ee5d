#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "CBerthSys.h"

/* The write end the handler writes to; -1 when no pipe is installed. A plain int read by
 * the handler: it is set before the handlers are installed and reset after they are gone. */
static volatile int signal_pipe_write = -1;

static void signal_pipe_handler(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    int fd = signal_pipe_write;
    if (fd >= 0) (void)write(fd, &byte, 1);
    errno = saved;
}

int berth_signal_pipe_install(const int *signals, int count) {
    if (signal_pipe_write >= 0) { errno = EBUSY; return -1; }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
    signal_pipe_write = fds[1];
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = signal_pipe_handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &act, NULL) < 0) {
            int saved = errno;
            berth_signal_pipe_remove(fds[0], signals, i);
            errno = saved;
            return -1;
        }
    }
    /* A signal blocked in this thread would still reach another thread, but unblock them
     * here too: the caller's thread is the one that is sure to exist. */
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return fds[0];
}

void berth_signal_pipe_remove(int read_fd, const int *signals, int count) {
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = SIG_DFL;
    sigemptyset(&act.sa_mask);
    for (int i = 0; i < count; i++) (void)sigaction(signals[i], &act, NULL);
    int fd = signal_pipe_write;
    signal_pipe_write = -1;
    if (fd >= 0) close(fd);
    if (read_fd >= 0) close(read_fd);
}
