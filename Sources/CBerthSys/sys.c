#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/bpf.h>
#include <time.h>
#include <unistd.h>
#include "CBerthSys.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

pid_t berth_clone_pidfd(unsigned long long flags, int *pidfd) {
    /* Raw clone with fork semantics (no new stack, no CLONE_VM). x86_64 and aarch64 take
     * (flags, stack, parent_tid, child_tid, tls); CLONE_PIDFD stores the fd via parent_tid. */
    int fd = -1;
    long r = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), NULL, &fd, NULL, NULL);
    if (r > 0 && pidfd) *pidfd = fd;
    return (pid_t)r;
}

/* vfork semantics for a child that runs our code up to execve: it shares our memory (no
 * page tables to copy, no copy-on-write faults: forking a large process costs ~0.5 ms), and
 * we sleep until it has called execve or exited. It runs on a stack of its own (8 MiB,
 * reserved lazily, a guard page below), never returns into our frames, and must leave the
 * memory it shares with us consistent: allocate freely (the leftovers are ours to leak),
 * never free what it did not allocate. */
struct vfork_call {
    void (*fn)(void *);
    void *arg;
};

static int vfork_trampoline(void *p) {
    struct vfork_call *call = p;
    call->fn(call->arg);
    _exit(127);
}

pid_t berth_vfork_call(void (*fn)(void *), void *arg, int *pidfd) {
    const size_t size = 8u << 20, guard = 4096;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    mprotect(stack, guard, PROT_NONE);
    struct vfork_call call = { fn, arg };
    int fd = -1;
    pid_t pid = clone(vfork_trampoline, stack + size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &call, &fd);
    int saved = errno;
    munmap(stack, size);
    if (pid > 0 && pidfd) *pidfd = fd;
    errno = saved;
    return pid;
}

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
pid_t berth_clone3_into_cgroup(unsigned long long flags, int cgroup_fd, int *pidfd) {
    struct clone_args args;
    int fd = -1;
    memset(&args, 0, sizeof args);
    args.flags = flags | CLONE_PIDFD | CLONE_INTO_CGROUP;
    args.pidfd = (unsigned long long)(unsigned long)&fd;
    args.exit_signal = SIGCHLD;
    args.cgroup = (unsigned long long)cgroup_fd;
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r > 0 && pidfd) *pidfd = fd;
    return (pid_t)r;
}

int berth_unshare(int flags) { return unshare(flags); }
int berth_setns(int fd, int nstype) { return setns(fd, nstype); }
int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int berth_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int berth_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}
pid_t berth_waitpid(pid_t pid, int *status, int nohang) {
    pid_t r;
    do { r = waitpid(pid, status, nohang ? WNOHANG : 0); } while (r < 0 && errno == EINTR);
    return r;
}
int berth_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int berth_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int berth_getppid(void) { return (int)getppid(); }

int berth_cap_last_cap(void) {
    /* Probe the bounding set: PR_CAPBSET_READ fails with EINVAL past the last cap. */
    int cap = 0;
    while (cap < 64 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) cap++;
    return cap;
}
int berth_capbset_read(int cap) { return prctl(PR_CAPBSET_READ, cap, 0, 0, 0); }
int berth_capbset_drop(int cap) { return prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); }

int berth_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)effective;
    data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted;
    data[1].permitted = (uint32_t)(permitted >> 32);
    data[0].inheritable = (uint32_t)inheritable;
    data[1].inheritable = (uint32_t)(inheritable >> 32);
    return (int)syscall(SYS_capset, &hdr, data);
}
int berth_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0) return -1;
    if (effective) *effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
    if (permitted) *permitted = ((uint64_t)data[1].permitted << 32) | data[0].permitted;
    if (inheritable) *inheritable = ((uint64_t)data[1].inheritable << 32) | data[0].inheritable;
    return 0;
}
int berth_clear_ambient(void) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}
int berth_set_keepcaps(int on) { return prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0); }
int berth_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
int berth_setgroups(size_t n, const gid_t *groups) {
    return (int)syscall(SYS_setgroups, n, groups);
}
int berth_setresuid(uid_t uid) { return (int)syscall(SYS_setresuid, uid, uid, uid); }
int berth_setresgid(gid_t gid) { return (int)syscall(SYS_setresgid, gid, gid, gid); }

int berth_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    int r;
    do { r = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (r < 0 && errno == EINTR);
    return r;
}
int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int berth_dup3(int oldfd, int newfd, int flags) { return dup3(oldfd, newfd, flags); }
int berth_close_range_cloexec(unsigned int first) {
    return (int)syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC);
}
int berth_close_range(unsigned int first) {
    return (int)syscall(SYS_close_range, first, ~0U, 0);
}
unsigned long long berth_makedev(unsigned int ma, unsigned int mi) { return makedev(ma, mi); }
unsigned int berth_major(unsigned long long dev) { return major(dev); }
unsigned int berth_minor(unsigned long long dev) { return minor(dev); }
int berth_mknod(const char *path, unsigned int mode, unsigned long long dev) {
    return mknod(path, mode, (dev_t)dev);
}
int berth_sethostname(const char *name, size_t len) { return sethostname(name, len); }
int berth_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }
long berth_statfs_flags(const char *path) {
    struct statvfs st;
    if (statvfs(path, &st) < 0) return -1;
    return (long)st.f_flag;
}
long long berth_statfs_type(const char *path) {
    struct statfs st;
    if (statfs(path, &st) < 0) return -1;
    return (long long)st.f_type;
}
int berth_fcntl_setfl_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
int berth_fcntl_setfd_cloexec(int fd, int on) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC));
}

int berth_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
int berth_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do { n = read(fd, &info, sizeof info); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n != (ssize_t)sizeof info) { errno = EIO; return -1; }
    return (int)info.ssi_signo;
}

struct berth_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

int berth_reset_signals(void) {
    struct berth_kernel_sigaction act;
    memset(&act, 0, sizeof act);
    act.handler = (void *)SIG_DFL;
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        /* Errors are ignored on purpose: some numbers may be invalid on a given arch. */
        (void)syscall(SYS_rt_sigaction, sig, &act, NULL, sizeof(unsigned long));
    }
    unsigned long empty = 0;
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);
}

int berth_block_all_signals(void) {
    unsigned long all = ~0UL;
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all);
}

int berth_sigtimedwait_all(int timeout_ms, int *out_pid) {
    /* sigfillset refuses 32/33 in glibc; build the raw kernel set through rt_sigtimedwait. */
    unsigned long all = ~0UL;
    siginfo_t info;
    struct timespec ts, *tsp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tsp = &ts;
    }
    long r;
    do {
        r = syscall(SYS_rt_sigtimedwait, &all, &info, tsp, sizeof all);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EAGAIN ? 0 : -1;
    if (out_pid) *out_pid = info.si_pid;
    return (int)r;
}

int berth_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = rows;
    ws.ws_col = cols;
    return ioctl(fd, TIOCSWINSZ, &ws);
}
size_t berth_termios_size(void) { return sizeof(struct termios); }
int berth_tty_make_raw(int fd, void *saved, size_t saved_len) {
    struct termios t;
    if (saved_len < sizeof t) { errno = EINVAL; return -1; }
    if (tcgetattr(fd, &t) < 0) return -1;
    memcpy(saved, &t, sizeof t);
    cfmakeraw(&t);
    return tcsetattr(fd, TCSANOW, &t);
}
int berth_tty_restore(int fd, const void *saved, size_t saved_len) {
    struct termios t;
    if (saved_len < sizeof t) { errno = EINVAL; return -1; }
    memcpy(&t, saved, sizeof t);
    return tcsetattr(fd, TCSANOW, &t);
}

int berth_loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    errno = e;
    return r;
}

void berth_realtime(long long *sec, long *nsec) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (long long)ts.tv_sec;
    *nsec = ts.tv_nsec;
}
int berth_format_rfc3339nano(long long sec, long nsec, char *out, size_t size) {
    time_t t = (time_t)sec;
    struct tm parts;
    if (!gmtime_r(&t, &parts)) return -1;
    char fraction[11] = "";
    if (nsec > 0 && nsec < 1000000000L) {
        snprintf(fraction, sizeof fraction, ".%09ld", nsec);
        size_t n = strlen(fraction);
        while (n > 1 && fraction[n - 1] == '0') fraction[--n] = 0;
    }
    int n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", parts.tm_year + 1900, parts.tm_mon + 1,
                     parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, fraction);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

long long berth_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int berth_seccomp_load_bpf(const void *program, size_t len) {
    struct sock_fprog prog;
    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)program;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int berth_open_ptmx(const char *ptmx, int *master, int *pts_number) {
    int fd = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    int unlock = 0;
    unsigned int n = 0;
    if (ioctl(fd, TIOCSPTLCK, &unlock) < 0 || ioctl(fd, TIOCGPTN, &n) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *master = fd;
    *pts_number = (int)n;
    return 0;
}

int berth_socketpair(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

/* A classic runc-style device filter in eBPF:
 *   r2 = type (access_type & 0xffff), r3 = access (access_type >> 16), r4 = major, r5 = minor
 *   per rule: skip unless type/access/major/minor match, else r0 = allow; exit
 *   default: r0 = 0; exit */
static struct bpf_insn insn(unsigned char code, unsigned char dst, unsigned char src, short off, int imm) {
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    return i;
}

int berth_cgroup2_device_filter(int cgroup_fd, const struct berth_device_rule *rules, int count, char *log, size_t log_len) {
    size_t cap = 8 + (size_t)count * 12 + 4;
    struct bpf_insn *p = calloc(cap, sizeof *p);
    if (!p) return -1;
    size_t n = 0;
    p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
    p[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
    p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);
    p[n++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
    p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
    for (int r = 0; r < count; r++) {
        const struct berth_device_rule *rule = &rules[r];
        struct bpf_insn block[12];
        int b = 0;
        if (rule->type == 'b' || rule->type == 'c') {
            int t = rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0 /* patched */, t);
        }
        if ((rule->access & 7) != 7) {
            /* requested access must be a subset of the rule's */
            block[b++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
            block[b++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int)(~rule->access & 7));
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
        }
        if (rule->major >= 0) block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int)rule->major);
        if (rule->minor >= 0) block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int)rule->minor);
        block[b++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, rule->allow ? 1 : 0);
        block[b++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        /* every conditional jump skips to the end of this block */
        for (int k = 0; k < b; k++) {
            if (BPF_CLASS(block[k].code) == BPF_JMP && BPF_OP(block[k].code) == BPF_JNE) {
                block[k].off = (short)(b - k - 1);
            }
        }
        for (int k = 0; k < b; k++) p[n++] = block[k];
    }
    p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (unsigned long long)(unsigned long)p;
    attr.insn_cnt = (unsigned int)n;
    attr.license = (unsigned long long)(unsigned long)"Apache";
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    int e = errno;
    if (prog < 0 && log && log_len) {
        /* Load again with the verifier log, only to explain the failure. */
        log[0] = 0;
        attr.log_buf = (unsigned long long)(unsigned long)log;
        attr.log_size = (unsigned int)log_len;
        attr.log_level = 1;
        (void)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    }
    free(p);
    if (prog < 0) { errno = e; return -1; }
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_bpf_fd = (unsigned int)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
    e = errno;
    close(prog);
    errno = e;
    return r;
}
