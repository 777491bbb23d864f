/* PROGRAM, found as execvp(3) will find it, before any rank spends time on GPUs: a
 * name with a '/' is that path; any other is searched for in PATH ("/bin:/usr/bin"
 * when PATH is unset; an empty entry is the current directory). The agent checks it
 * right after bootstrap, so a typo costs seconds, not a whole NCCL pre-flight. */
#ifndef HG_PROGRAM_H
#define HG_PROGRAM_H

#include <stddef.h>

#include "util/error.h"

/* execvp's search path when PATH is unset (glibc's, confstr(_CS_PATH)). */
#define HG_PROGRAM_DEFAULT_PATH "/bin:/usr/bin"

/* 0 when program can be executed: an executable regular file (and, for a script, an
 * executable "#!" interpreter); its path goes to found (len bytes; found may be NULL).
 * Otherwise HG_EINVAL and err->msg is "cannot run PROGRAM 'NAME': REASON", REASON
 * being strerror's text for the path, "not found on PATH", "PATH/NAME: Permission
 * denied" (found on PATH, but not executable), "is a directory" or "its interpreter
 * 'I': ...". path is the PATH to search (NULL: unset). */
int hg_program_resolve(const char *program, const char *path, char *found, size_t len,
                       hg_error *err);

#endif
