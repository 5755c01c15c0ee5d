/* libarchive's declarations only: berth does not link libarchive, CBerthSys loads it on
 * first use (archive_loader.c), so berth processes that never touch an image don't pay
 * for it. */
#include <archive.h>
#include <archive_entry.h>
