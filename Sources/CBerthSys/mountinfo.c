/* The cgroup mounts of /proc/self/mountinfo, scanned in C: the container start path needs
 * only these few lines, and splitting the whole file into Swift strings cost ~0.2 ms per
 * start (more on a host with many mounts). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "CBerthSys.h"

/* Copies the whitespace-delimited field at *p to out (unescaping mountinfo's \ooo), moves
 * *p past it and the following space. Returns the bytes written. */
static size_t take_field(const char **p, const char *end, char *out, size_t room) {
    const char *s = *p;
    size_t n = 0;
    while (s < end && *s != ' ' && *s != '\n') {
        char c = *s;
        if (c == '\\' && end - s >= 4 && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            c = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            s++;
        }
        if (n < room) out[n] = c;
        n++;
    }
    if (s < end && *s == ' ') s++;
    *p = s;
    return n;
}

static void skip_field(const char **p, const char *end) {
    const char *s = *p;
    while (s < end && *s != ' ' && *s != '\n') s++;
    if (s < end && *s == ' ') s++;
    *p = s;
}

ssize_t berth_cgroup_mounts(char *out, size_t size) {
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t cap = 16384, len = 0;
    char *text = malloc(cap);
    if (!text) { close(fd); errno = ENOMEM; return -1; }
    for (;;) {
        if (len == cap) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) { free(text); close(fd); errno = ENOMEM; return -1; }
            text = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int saved = errno; free(text); close(fd); errno = saved; return -1; }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    size_t used = 0;
    const char *end = text + len;
    const char *line = text;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
        const char *dash = NULL;
        for (const char *s = line; s + 3 <= eol; s++) {
            if (s[0] == ' ' && s[1] == '-' && s[2] == ' ') { dash = s + 3; break; }
        }
        if (dash && eol - dash > 7 && memcmp(dash, "cgroup", 6) == 0 && (dash[6] == ' ' || (dash[6] == '2' && dash[7] == ' '))) {
            const char *p = line;
            for (int i = 0; i < 4; i++) skip_field(&p, eol);
            char point[4096];
            size_t pointLen = take_field(&p, eol, point, sizeof point);
            const char *q = dash;
            const char *type = q;
            skip_field(&q, eol);
            size_t typeLen = (size_t)(q - type) - (q < eol && q[-1] == ' ' ? 1 : 0);
            skip_field(&q, eol); /* source */
            const char *super = q;
            size_t superLen = (size_t)(eol - super);
            size_t need = pointLen + 1 + typeLen + 1 + superLen + 1;
            if (pointLen <= sizeof point) {
                if (used + need > size) { free(text); errno = ENOSPC; return -1; }
                memcpy(out + used, point, pointLen); used += pointLen; out[used++] = '\t';
                memcpy(out + used, type, typeLen); used += typeLen; out[used++] = '\t';
                memcpy(out + used, super, superLen); used += superLen; out[used++] = '\n';
            }
        }
        line = eol + 1;
    }
    free(text);
    return (ssize_t)used;
}
