#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include "CBerthSys.h"

/* posix_spawn (vfork-like, safe from a multi-threaded process) in a new session, every
 * signal at its default and unblocked, stdin from /dev/null, stdout and stderr either
 * appended to `log_path` or onto `out_fd`, `pass[i]` as fd 3 + i, and no other
 * descriptor. Returns 0 and the pid, or an errno value. */
static int spawn_session(const char *path, char *const argv[], char *const envp[],
                         const char *log_path, int out_fd, const int *pass, int count, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }
    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) != 0) goto out;
    if (log_path != NULL) {
        if ((rc = posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600)) != 0) goto out;
    } else if ((rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1)) != 0) goto out;
    if ((rc = posix_spawn_file_actions_adddup2(&actions, 1, 2)) != 0) goto out;
    if (count > 0) {
        /* Each pass[i] becomes 3 + i. First every one goes to a number above all sources and
         * targets (so no dup2 overwrites a source still to be moved; dup2 onto itself would
         * also keep O_CLOEXEC), then down to its place. */
        int spare = 3 + count;
        for (int i = 0; i < count; i++) if (pass[i] + 1 > spare) spare = pass[i] + 1;
        for (int i = 0; i < count; i++)
            if ((rc = posix_spawn_file_actions_adddup2(&actions, pass[i], spare + i)) != 0) goto out;
        for (int i = 0; i < count; i++)
            if ((rc = posix_spawn_file_actions_adddup2(&actions, spare + i, 3 + i)) != 0) goto out;
        if ((rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3 + count)) != 0) goto out;
    } else if ((rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) != 0) goto out;
    if ((rc = posix_spawnattr_setsigmask(&attr, &none)) != 0) goto out;
    if ((rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0) goto out;
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0) goto out;
    rc = posix_spawn(pid_out, path, &actions, &attr, argv, envp);
out:
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

/* A process that outlives its spawner (see spawn_session), its output appended to log_path. */
int berth_spawn_detached(const char *path, char *const argv[], char *const envp[],
                         const char *log_path, int pass_fd, pid_t *pid_out) {
    return spawn_session(path, argv, envp, log_path, -1, &pass_fd, pass_fd >= 0 ? 1 : 0, pid_out);
}

/* berth_spawn_detached with several descriptors: pass[i] as fd 3 + i. */
int berth_spawn_passing(const char *path, char *const argv[], char *const envp[],
                        const char *log_path, const int *pass, int count, pid_t *pid_out) {
    if (count < 0 || count > 8) return EINVAL;
    for (int i = 0; i < count; i++) if (pass[i] < 0) return EBADF;
    return spawn_session(path, argv, envp, log_path, -1, pass, count, pid_out);
}

/* A process whose stdout and stderr go to out_fd (a pipe the caller reads); see spawn_session. */
int berth_spawn_piped(const char *path, char *const argv[], char *const envp[], int out_fd, pid_t *pid_out) {
    if (out_fd < 3) return EINVAL;
    return spawn_session(path, argv, envp, NULL, out_fd, NULL, 0, pid_out);
}
