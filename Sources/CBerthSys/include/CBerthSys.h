/* CBerthSys — the few system calls and macros Swift cannot reach on its own.
 * The public header includes only <sys/types.h> and kernel uapi headers: defining
 * _GNU_SOURCE here would break every module that also imports Dispatch or XCTest
 * (LINUX-NOTES.md). _GNU_SOURCE lives in the .c files only. */
#ifndef CBERTHSYS_H
#define CBERTHSYS_H
#include <sys/types.h>

/* Wait-status decoding (the W* macros are not importable). */
int berth_wifexited(int status);
int berth_wexitstatus(int status);
int berth_wifsignaled(int status);
int berth_wtermsig(int status);

#endif
