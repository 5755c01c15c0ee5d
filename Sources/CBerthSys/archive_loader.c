/* libarchive, loaded with dlopen on first use.
 *
 * Linking libarchive.so into berth would make every berth process — each container start
 * re-executes berth — load it and its dependencies (libxml2 with ICU, nettle, acl, lzma,
 * zstd, lz4, bz2, z): measured +1.9 ms per process start on this machine. Instead these
 * definitions of the libarchive functions berth uses forward to the real ones, resolved
 * from libarchive.so.13 the first time one is called. Callers check
 * berth_archive_available() before the first call (BerthImages does, and reports a
 * missing library as an error); the forwarders abort only if that was skipped. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <archive.h>
#include <archive_entry.h>
#include "CBerthSys.h"

static void *library;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    library = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
}

int berth_archive_available(void) {
    pthread_once(&load_once, load);
    return library != NULL;
}

static void *resolve(void **slot, const char *name) {
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (fn) return fn;
    if (!berth_archive_available()) {
        fprintf(stderr, "berth: %s called but libarchive.so.13 could not be loaded (install libarchive13)\n", name);
        abort();
    }
    fn = dlsym(library, name);
    if (!fn) {
        fprintf(stderr, "berth: libarchive.so.13 has no %s (too old a libarchive)\n", name);
        abort();
    }
    __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    return fn;
}

#define FN(ret, params) ret(*) params

time_t archive_entry_atime(struct archive_entry * a0) {
    static void *slot;
    return ((FN(time_t, (struct archive_entry *)))resolve(&slot, "archive_entry_atime"))(a0);
}
long archive_entry_atime_nsec(struct archive_entry * a0) {
    static void *slot;
    return ((FN(long, (struct archive_entry *)))resolve(&slot, "archive_entry_atime_nsec"))(a0);
}
void archive_entry_copy_hardlink(struct archive_entry * a0, const char * a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, const char *)))resolve(&slot, "archive_entry_copy_hardlink"))(a0, a1);
}
void archive_entry_copy_pathname(struct archive_entry * a0, const char * a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, const char *)))resolve(&slot, "archive_entry_copy_pathname"))(a0, a1);
}
void archive_entry_copy_symlink(struct archive_entry * a0, const char * a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, const char *)))resolve(&slot, "archive_entry_copy_symlink"))(a0, a1);
}
__LA_MODE_T archive_entry_filetype(struct archive_entry * a0) {
    static void *slot;
    return ((FN(__LA_MODE_T, (struct archive_entry *)))resolve(&slot, "archive_entry_filetype"))(a0);
}
void archive_entry_free(struct archive_entry * a0) {
    static void *slot;
    ((FN(void, (struct archive_entry *)))resolve(&slot, "archive_entry_free"))(a0);
}
la_int64_t archive_entry_gid(struct archive_entry * a0) {
    static void *slot;
    return ((FN(la_int64_t, (struct archive_entry *)))resolve(&slot, "archive_entry_gid"))(a0);
}
const char * archive_entry_hardlink(struct archive_entry * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive_entry *)))resolve(&slot, "archive_entry_hardlink"))(a0);
}
void archive_entry_linkify(struct archive_entry_linkresolver * a0, struct archive_entry ** a1, struct archive_entry ** a2) {
    static void *slot;
    ((FN(void, (struct archive_entry_linkresolver *, struct archive_entry **, struct archive_entry **)))resolve(&slot, "archive_entry_linkify"))(a0, a1, a2);
}
void archive_entry_linkresolver_free(struct archive_entry_linkresolver * a0) {
    static void *slot;
    ((FN(void, (struct archive_entry_linkresolver *)))resolve(&slot, "archive_entry_linkresolver_free"))(a0);
}
struct archive_entry_linkresolver * archive_entry_linkresolver_new(void) {
    static void *slot;
    return ((FN(struct archive_entry_linkresolver *, (void)))resolve(&slot, "archive_entry_linkresolver_new"))();
}
void archive_entry_linkresolver_set_strategy(struct archive_entry_linkresolver * a0, int a1) {
    static void *slot;
    ((FN(void, (struct archive_entry_linkresolver *, int)))resolve(&slot, "archive_entry_linkresolver_set_strategy"))(a0, a1);
}
time_t archive_entry_mtime(struct archive_entry * a0) {
    static void *slot;
    return ((FN(time_t, (struct archive_entry *)))resolve(&slot, "archive_entry_mtime"))(a0);
}
long archive_entry_mtime_nsec(struct archive_entry * a0) {
    static void *slot;
    return ((FN(long, (struct archive_entry *)))resolve(&slot, "archive_entry_mtime_nsec"))(a0);
}
struct archive_entry * archive_entry_new(void) {
    static void *slot;
    return ((FN(struct archive_entry *, (void)))resolve(&slot, "archive_entry_new"))();
}
const char * archive_entry_pathname(struct archive_entry * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive_entry *)))resolve(&slot, "archive_entry_pathname"))(a0);
}
const char * archive_entry_pathname_utf8(struct archive_entry * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive_entry *)))resolve(&slot, "archive_entry_pathname_utf8"))(a0);
}
__LA_MODE_T archive_entry_perm(struct archive_entry * a0) {
    static void *slot;
    return ((FN(__LA_MODE_T, (struct archive_entry *)))resolve(&slot, "archive_entry_perm"))(a0);
}
dev_t archive_entry_rdevmajor(struct archive_entry * a0) {
    static void *slot;
    return ((FN(dev_t, (struct archive_entry *)))resolve(&slot, "archive_entry_rdevmajor"))(a0);
}
dev_t archive_entry_rdevminor(struct archive_entry * a0) {
    static void *slot;
    return ((FN(dev_t, (struct archive_entry *)))resolve(&slot, "archive_entry_rdevminor"))(a0);
}
void archive_entry_set_filetype(struct archive_entry * a0, unsigned int a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, unsigned int)))resolve(&slot, "archive_entry_set_filetype"))(a0, a1);
}
void archive_entry_set_gid(struct archive_entry * a0, la_int64_t a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, la_int64_t)))resolve(&slot, "archive_entry_set_gid"))(a0, a1);
}
void archive_entry_set_mtime(struct archive_entry * a0, time_t a1, long a2) {
    static void *slot;
    ((FN(void, (struct archive_entry *, time_t, long)))resolve(&slot, "archive_entry_set_mtime"))(a0, a1, a2);
}
void archive_entry_set_perm(struct archive_entry * a0, __LA_MODE_T a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, __LA_MODE_T)))resolve(&slot, "archive_entry_set_perm"))(a0, a1);
}
void archive_entry_set_rdevmajor(struct archive_entry * a0, dev_t a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, dev_t)))resolve(&slot, "archive_entry_set_rdevmajor"))(a0, a1);
}
void archive_entry_set_rdevminor(struct archive_entry * a0, dev_t a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, dev_t)))resolve(&slot, "archive_entry_set_rdevminor"))(a0, a1);
}
void archive_entry_set_size(struct archive_entry * a0, la_int64_t a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, la_int64_t)))resolve(&slot, "archive_entry_set_size"))(a0, a1);
}
void archive_entry_set_uid(struct archive_entry * a0, la_int64_t a1) {
    static void *slot;
    ((FN(void, (struct archive_entry *, la_int64_t)))resolve(&slot, "archive_entry_set_uid"))(a0, a1);
}
la_int64_t archive_entry_size(struct archive_entry * a0) {
    static void *slot;
    return ((FN(la_int64_t, (struct archive_entry *)))resolve(&slot, "archive_entry_size"))(a0);
}
const char * archive_entry_symlink(struct archive_entry * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive_entry *)))resolve(&slot, "archive_entry_symlink"))(a0);
}
const char * archive_entry_symlink_utf8(struct archive_entry * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive_entry *)))resolve(&slot, "archive_entry_symlink_utf8"))(a0);
}
la_int64_t archive_entry_uid(struct archive_entry * a0) {
    static void *slot;
    return ((FN(la_int64_t, (struct archive_entry *)))resolve(&slot, "archive_entry_uid"))(a0);
}
void archive_entry_xattr_add_entry(struct archive_entry * a0, const char * a1, const void * a2, size_t a3) {
    static void *slot;
    ((FN(void, (struct archive_entry *, const char *, const void *, size_t)))resolve(&slot, "archive_entry_xattr_add_entry"))(a0, a1, a2, a3);
}
int archive_entry_xattr_next(struct archive_entry * a0, const char ** a1, const void ** a2, size_t * a3) {
    static void *slot;
    return ((FN(int, (struct archive_entry *, const char **, const void **, size_t *)))resolve(&slot, "archive_entry_xattr_next"))(a0, a1, a2, a3);
}
int archive_entry_xattr_reset(struct archive_entry * a0) {
    static void *slot;
    return ((FN(int, (struct archive_entry *)))resolve(&slot, "archive_entry_xattr_reset"))(a0);
}
const char * archive_error_string(struct archive * a0) {
    static void *slot;
    return ((FN(const char *, (struct archive *)))resolve(&slot, "archive_error_string"))(a0);
}
la_ssize_t archive_read_data(struct archive * a0, void * a1, size_t a2) {
    static void *slot;
    return ((FN(la_ssize_t, (struct archive *, void *, size_t)))resolve(&slot, "archive_read_data"))(a0, a1, a2);
}
int archive_read_data_block(struct archive * a0, const void ** a1, size_t * a2, la_int64_t * a3) {
    static void *slot;
    return ((FN(int, (struct archive *, const void **, size_t *, la_int64_t *)))resolve(&slot, "archive_read_data_block"))(a0, a1, a2, a3);
}
int archive_read_disk_descend(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_disk_descend"))(a0);
}
struct archive * archive_read_disk_new(void) {
    static void *slot;
    return ((FN(struct archive *, (void)))resolve(&slot, "archive_read_disk_new"))();
}
int archive_read_disk_open(struct archive * a0, const char * a1) {
    static void *slot;
    return ((FN(int, (struct archive *, const char *)))resolve(&slot, "archive_read_disk_open"))(a0, a1);
}
int archive_read_disk_set_behavior(struct archive * a0, int a1) {
    static void *slot;
    return ((FN(int, (struct archive *, int)))resolve(&slot, "archive_read_disk_set_behavior"))(a0, a1);
}
int archive_read_disk_set_symlink_physical(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_disk_set_symlink_physical"))(a0);
}
int archive_read_free(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_free"))(a0);
}
struct archive * archive_read_new(void) {
    static void *slot;
    return ((FN(struct archive *, (void)))resolve(&slot, "archive_read_new"))();
}
int archive_read_next_header(struct archive * a0, struct archive_entry ** a1) {
    static void *slot;
    return ((FN(int, (struct archive *, struct archive_entry **)))resolve(&slot, "archive_read_next_header"))(a0, a1);
}
int archive_read_next_header2(struct archive * a0, struct archive_entry * a1) {
    static void *slot;
    return ((FN(int, (struct archive *, struct archive_entry *)))resolve(&slot, "archive_read_next_header2"))(a0, a1);
}
int archive_read_open(struct archive * a0, void * a1, archive_open_callback * a2, archive_read_callback * a3, archive_close_callback * a4) {
    static void *slot;
    return ((FN(int, (struct archive *, void *, archive_open_callback *, archive_read_callback *, archive_close_callback *)))resolve(&slot, "archive_read_open"))(a0, a1, a2, a3, a4);
}
int archive_read_support_filter_bzip2(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_filter_bzip2"))(a0);
}
int archive_read_support_filter_gzip(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_filter_gzip"))(a0);
}
int archive_read_support_filter_none(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_filter_none"))(a0);
}
int archive_read_support_filter_xz(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_filter_xz"))(a0);
}
int archive_read_support_filter_zstd(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_filter_zstd"))(a0);
}
int archive_read_support_format_empty(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_format_empty"))(a0);
}
int archive_read_support_format_raw(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_format_raw"))(a0);
}
int archive_read_support_format_tar(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_read_support_format_tar"))(a0);
}
int archive_write_add_filter_gzip(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_add_filter_gzip"))(a0);
}
int archive_write_add_filter_none(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_add_filter_none"))(a0);
}
int archive_write_add_filter_zstd(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_add_filter_zstd"))(a0);
}
int archive_write_close(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_close"))(a0);
}
la_ssize_t archive_write_data(struct archive * a0, const void * a1, size_t a2) {
    static void *slot;
    return ((FN(la_ssize_t, (struct archive *, const void *, size_t)))resolve(&slot, "archive_write_data"))(a0, a1, a2);
}
int archive_write_free(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_free"))(a0);
}
int archive_write_header(struct archive * a0, struct archive_entry * a1) {
    static void *slot;
    return ((FN(int, (struct archive *, struct archive_entry *)))resolve(&slot, "archive_write_header"))(a0, a1);
}
struct archive * archive_write_new(void) {
    static void *slot;
    return ((FN(struct archive *, (void)))resolve(&slot, "archive_write_new"))();
}
int archive_write_open(struct archive * a0, void * a1, archive_open_callback * a2, archive_write_callback * a3, archive_close_callback * a4) {
    static void *slot;
    return ((FN(int, (struct archive *, void *, archive_open_callback *, archive_write_callback *, archive_close_callback *)))resolve(&slot, "archive_write_open"))(a0, a1, a2, a3, a4);
}
int archive_write_set_bytes_in_last_block(struct archive * a0, int a1) {
    static void *slot;
    return ((FN(int, (struct archive *, int)))resolve(&slot, "archive_write_set_bytes_in_last_block"))(a0, a1);
}
int archive_write_set_format_pax(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_set_format_pax"))(a0);
}
int archive_write_set_format_pax_restricted(struct archive * a0) {
    static void *slot;
    return ((FN(int, (struct archive *)))resolve(&slot, "archive_write_set_format_pax_restricted"))(a0);
}
