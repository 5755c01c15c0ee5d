/* CBerthSys — the few system calls and macros Swift cannot reach on its own.
 * The public header includes only <sys/types.h> and kernel uapi headers: defining
 * _GNU_SOURCE here would break every module that also imports Dispatch or XCTest
 * (LINUX-NOTES.md). _GNU_SOURCE lives in the .c files only. Every function is
 * prefixed `berth_` and returns -1 with errno set on failure unless stated otherwise. */
#ifndef CBERTHSYS_H
#define CBERTHSYS_H
#include <sys/types.h>
#include <stdint.h>
#include <linux/sched.h>
#include <linux/openat2.h>
#include <linux/capability.h>
#include <linux/netlink.h>

/* Wait-status decoding (the W* macros are not importable). */
int berth_wifexited(int status);
int berth_wexitstatus(int status);
int berth_wifsignaled(int status);
int berth_wtermsig(int status);

/* ---- processes and namespaces ---- */

/* fork()-like clone: returns 0 in the child, the child's pid in the parent. `flags` are
 * CLONE_NEW* bits; SIGCHLD and CLONE_PIDFD are added here, the pidfd is stored in *pidfd.
 * Only call from a single-threaded process (see BerthRuntime/ProcessModel.swift). */
pid_t berth_clone_pidfd(unsigned long long flags, int *pidfd);
/* Runs fn(arg) in a child with vfork semantics (our memory shared, we sleep until it calls
 * execve or exits; SIGCHLD on exit, its pidfd in *pidfd): fn must end in execve or _exit and
 * never free what it did not allocate. Returns the child's pid or -1 with errno. */
pid_t berth_vfork_call(void (*fn)(void *), void *arg, int *pidfd);
/* The same through clone3 with CLONE_INTO_CGROUP: the child starts inside the cgroup2
 * directory `cgroup_fd`, so no migration (and no cgroup_threadgroup_rwsem) is needed. */
pid_t berth_clone3_into_cgroup(unsigned long long flags, int cgroup_fd, int *pidfd);
int berth_unshare(int flags);
int berth_setns(int fd, int nstype);
int berth_pivot_root(const char *new_root, const char *put_old);
int berth_pidfd_open(pid_t pid);
int berth_pidfd_send_signal(int pidfd, int sig);
/* Non-blocking reap of `pid`: 0 when still running, pid when reaped (status in *status). */
pid_t berth_waitpid(pid_t pid, int *status, int nohang);
int berth_set_child_subreaper(void);
int berth_set_pdeathsig(int sig);
int berth_getppid(void);

/* ---- capabilities and privileges ---- */
int berth_cap_last_cap(void);
int berth_capbset_read(int cap);
int berth_capbset_drop(int cap);
int berth_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);
int berth_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);
int berth_clear_ambient(void);
int berth_set_keepcaps(int on);
int berth_set_no_new_privs(void);
int berth_setgroups(size_t n, const gid_t *groups);
/* setresuid/setresgid as raw syscalls: they act on the calling thread only, which is what a
 * single-threaded container init wants, and avoid glibc's all-threads broadcast. */
int berth_setresuid(uid_t uid);
int berth_setresgid(gid_t gid);

/* ---- files, fds, mounts ---- */
/* O_PATH (a GNU extension in glibc's headers; generic value on x86_64 and aarch64). */
#define BERTH_O_PATH 010000000
int berth_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve);
int berth_pipe2(int fds[2], int flags);
int berth_dup3(int oldfd, int newfd, int flags);
/* Mark every fd >= first close-on-exec (close_range with CLOSE_RANGE_CLOEXEC). */
int berth_close_range_cloexec(unsigned int first);
int berth_close_range(unsigned int first);
unsigned long long berth_makedev(unsigned int major, unsigned int minor);
unsigned int berth_major(unsigned long long dev);
unsigned int berth_minor(unsigned long long dev);
int berth_mknod(const char *path, unsigned int mode, unsigned long long dev);
int berth_sethostname(const char *name, size_t len);
int berth_setdomainname(const char *name, size_t len);
/* statfs f_flags of a mount (ST_* bits), for keeping nosuid/nodev/noexec on remounts. */
long berth_statfs_flags(const char *path);
/* statfs f_type (file system magic), or -1. */
long long berth_statfs_type(const char *path);
/* Sets FS_TOPDIR_FL (`chattr +T`) on a directory: ext2/3/4's Orlov allocator then spreads its
 * subdirectories over block groups as it does for top-level ones. 0 or -errno (file systems
 * without inode flags, such as tmpfs, answer -ENOTTY or -EOPNOTSUPP). */
int berth_mark_top_directory(const char *path);
int berth_fcntl_setfl_nonblock(int fd);
int berth_fcntl_setfd_cloexec(int fd, int on);

/* ---- signals ---- */
/* Blocks `signals` in the calling thread and returns a non-blocking, close-on-exec
 * signalfd for them. */
int berth_signalfd(const int *signals, int count);
/* Reads one pending signal from a signalfd: returns its number, 0 when none (EAGAIN). */
int berth_signalfd_read(int fd);
/* Resets dispositions of signals 1..64 to SIG_DFL with the raw rt_sigaction syscall
 * (glibc refuses 32/33) and clears the signal mask. */
int berth_reset_signals(void);
/* Installs a handler that does nothing for `sig` (so that it interrupts syscalls) — used
 * by the init to receive signals through a blocked mask + sigwaitinfo instead. */
int berth_block_all_signals(void);
int berth_sigtimedwait_all(int timeout_ms, int *out_pid);
/* A self-pipe for `signals` (one process-wide): their handler writes each signal's number
 * as one byte to a pipe whose non-blocking, close-on-exec read end is returned. Works
 * whichever thread the kernel delivers a signal to. EBUSY if one is installed already. */
int berth_signal_pipe_install(const int *signals, int count);
/* Restores the default disposition of `signals` and closes the pipe. */
void berth_signal_pipe_remove(int read_fd, const int *signals, int count);

/* ---- cgroup v2 device control ---- */
/* One device rule: type 'a', 'b' or 'c'; major/minor -1 for '*'; access bits 1 = mknod,
 * 2 = read, 4 = write (the kernel's BPF_DEVCG_ACC_*); allow or deny. */
struct berth_device_rule {
    char type;
    long long major;
    long long minor;
    unsigned int access;
    int allow;
};
/* Builds a BPF_PROG_TYPE_CGROUP_DEVICE program from `rules` (first match wins, default
 * deny) and attaches it to the cgroup2 directory `cgroup_fd`. `log` receives the verifier
 * log on failure. */
int berth_cgroup2_device_filter(int cgroup_fd, const struct berth_device_rule *rules, int count, char *log, size_t log_len);

/* ---- seccomp ---- */
/* Loads a raw classic-BPF seccomp program (`len` bytes of struct sock_filter). */
int berth_seccomp_load_bpf(const void *program, size_t len);

/* ---- terminals ---- */
int berth_set_ctty(int fd);
/* Opens a pty pair from the devpts instance behind `ptmx` (the container's own, so that
 * the slave is /dev/pts/N inside it): master close-on-exec, `name` receives the slave path
 * relative to that instance (pts number). */
int berth_open_ptmx(const char *ptmx, int *master, int *pts_number);
/* A close-on-exec AF_UNIX stream socketpair, and fd passing over it (SCM_RIGHTS). */
int berth_socketpair(int fds[2]);
int berth_send_fd(int sock, int fd);
/* Returns the received fd, or -1 (errno ECONNRESET when the peer closed without one). */
int berth_recv_fd(int sock);
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols);
/* Raw mode for the caller's terminal; saves the old settings in an opaque buffer. */
int berth_tty_make_raw(int fd, void *saved, size_t saved_len);
int berth_tty_restore(int fd, const void *saved, size_t saved_len);
size_t berth_termios_size(void);

/* ---- processes ---- */
/* posix_spawn of a process that outlives the caller: new session, default signals,
 * stdin /dev/null, stdout+stderr appended to log_path, pass_fd as fd 3 (-1: none), no other
 * fd. Safe from a multi-threaded process. Returns 0, or an errno value. */
int berth_spawn_detached(const char *path, char *const argv[], char *const envp[],
                         const char *log_path, int pass_fd, pid_t *pid_out);
/* The same, with stdout+stderr onto out_fd (≥ 3, e.g. a pipe's write end) instead of a log. */
int berth_spawn_piped(const char *path, char *const argv[], char *const envp[], int out_fd, pid_t *pid_out);

/* ---- attaching a CLI's stdio (attach.c) ---- */
#define BERTH_MAX_PASSED_FDS 8
/* sendmsg of `data` with `count` descriptors (SCM_RIGHTS); bytes sent or -1. */
int berth_send_with_fds(int sock, const void *data, size_t len, const int *fds, int count);
/* recvmsg into `buffer`; received descriptors (close-on-exec) go to `fds` (at most `max`,
 * extra ones are closed), their number to *count. Bytes read (0 at EOF) or -1. */
long berth_recv_with_fds(int sock, void *buffer, size_t len, int *fds, int max, int *count);
/* posix_spawn as berth_spawn_detached, with `pass[i]` as fd 3 + i (count ≤ 8). */
int berth_spawn_passing(const char *path, char *const argv[], char *const envp[],
                        const char *log_path, const int *pass, int count, pid_t *pid_out);

/* ---- network ---- */
/* Brings up `lo` in the calling process's network namespace. */
int berth_loopback_up(void);
/* Creates a new network namespace and bind-mounts it on `path` (an existing empty file).
 * The work runs in a short-lived clone(CLONE_VM|CLONE_VFORK) child that only makes raw
 * system calls, so it is safe from a multi-threaded process: the caller's own namespaces
 * never change. */
int berth_netns_create(const char *path);
/* socket(domain, type, protocol) created inside the network namespace `netns_fd` (same
 * vfork-style child, sharing the fd table): the socket stays bound to that namespace. */
int berth_socket_in_netns(int netns_fd, int domain, int type, int protocol);
/* A new network namespace, made by a helper sharing our memory and fd table while the caller
 * goes on: start returns a handle (NULL with errno on failure); finish waits for the helper
 * and returns an O_CLOEXEC fd of the namespace, or -1 with errno. Call finish exactly once. */
void *berth_netns_async_start(void);
int berth_netns_async_finish(void *handle);
/* accept4(fd, addr, len, SOCK_CLOEXEC | SOCK_NONBLOCK): `addr` is a struct sockaddr_in. */
int berth_accept_nonblock(int fd, void *addr, unsigned int *len);

/* ---- extended attributes, syncfs (xattr.c) ---- */
int berth_fsetxattr(int fd, const char *name, const void *value, size_t size);
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size);
/* Return the attribute's length (or the list's), -1 with errno on failure. */
long berth_lgetxattr(const char *path, const char *name, void *value, size_t size);
long berth_llistxattr(const char *path, char *list, size_t size);
int berth_syncfs(int fd);

/* ---- copying trees, mount attributes (copy.c) ---- */
/* copy_file_range between the fds' current offsets; bytes copied, 0 at EOF. */
long berth_copy_file_range(int in_fd, int out_fd, size_t len);
long berth_flistxattr(int fd, char *list, size_t size);
long berth_fgetxattr(int fd, const char *name, void *value, size_t size);
/* mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE]) with MOUNT_ATTR_* bits to set and
 * clear, and an MS_* propagation type (0 = unchanged). */
int berth_mount_setattr(int fd, int recursive, unsigned long long attr_set, unsigned long long attr_clr,
                        unsigned long long propagation);
#define BERTH_MOUNT_ATTR_RDONLY 0x00000001ULL

/* ---- TLS client (tls.c): OpenSSL through dlopen, loaded on first use ---- */
struct berth_tls;
/* 1 when libssl could be loaded; else 0 and the reason in `err`. */
int berth_tls_available(char *err, size_t errlen);
/* Handshake on the connected socket `fd` for `host` (SNI and name check, or IP check for
 * an address). `ca_file`, `cert_file`/`key_file` are optional (NULL). `verify` 0 accepts any
 * certificate. NULL with the reason in `err` on failure; the fd stays the caller's. */
struct berth_tls *berth_tls_connect(int fd, const char *host, const char *ca_file, const char *cert_file,
                                    const char *key_file, int verify, char *err, size_t errlen);
/* > 0 bytes, 0 at the end of the stream, -1 with the reason in `err`. */
long berth_tls_read(struct berth_tls *tls, void *buffer, size_t len, char *err, size_t errlen);
long berth_tls_write(struct berth_tls *tls, const void *buffer, size_t len, char *err, size_t errlen);
void berth_tls_close(struct berth_tls *tls);

/* ---- libarchive, loaded on first use (archive_loader.c) ---- */
/* 1 when libarchive.so.13 could be loaded; call before any archive_* function. */
int berth_archive_available(void);

/* ---- nftables ---- */
/* Runs an nft script as one transaction through libnftables (dlopen'd on first use; one
 * context per process, serialised). Returns 0 on success; 1 when nft refused the script,
 * with its error text in *message (free() it); -1 with errno ENOENT when libnftables.so.1
 * cannot be loaded (the caller then runs the nft program). */
int berth_nft_run(const char *script, char **message);

/* ---- SHA-256 (sha256.c) ---- */
/* Streaming SHA-256; uses the x86 SHA extensions when present. `portable` = 1 forces the
 * generic code (tests compare both). */
struct berth_sha256 {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
    size_t used;
    int portable;
};
void berth_sha256_init(struct berth_sha256 *ctx);
void berth_sha256_update(struct berth_sha256 *ctx, const void *bytes, size_t len);
void berth_sha256_final(struct berth_sha256 *ctx, uint8_t out[32]);
/* 1 when the SHA extensions are used on this CPU. */
int berth_sha256_accelerated(void);

/* ---- mountinfo (mountinfo.c) ---- */
/* The cgroup and cgroup2 mounts of /proc/self/mountinfo, in its order, as lines
 * "MOUNTPOINT\tFSTYPE\tSUPEROPTIONS\n" (the mount point unescaped) in out. Returns the
 * length, or -1 with errno (ENOSPC when out is too small). */
ssize_t berth_cgroup_mounts(char *out, size_t size);

/* ---- time ---- */
/* CLOCK_REALTIME as seconds + nanoseconds; CLOCK_MONOTONIC in nanoseconds. */
void berth_realtime(long long *sec, long *nsec);
long long berth_monotonic_ns(void);
/* Go's RFC3339Nano in UTC ("2006-01-02T15:04:05.999999999Z": trailing zeros of the
 * fraction dropped, no fraction when it is 0) into out. Returns the length or -1. */
int berth_format_rfc3339nano(long long sec, long nsec, char *out, size_t size);

#endif
