/* hg_program_resolve: execvp's rules, checked with stat and access instead of tried.
 * It answers for this process's effective ids (AT_EACCESS), as execve does. A file the
 * kernel cannot run directly and that has no "#!" line is run by execvp through
 * /bin/sh (ENOEXEC), so only executability and the interpreter are checked, not the
 * format. */
#include "util/program.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Names are shown with control characters escaped: a "#!/bin/bash\r" line written on
 * Windows is a common cause, and a raw \r would hide it. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t used = 0;
    for (; *s && used + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n' || c == '\t')
            used += (size_t)snprintf(buf + used, len - used, "\\%c", c == '\r' ? 'r' : c == '\n' ? 'n' : 't');
        else if (c < 0x20 || c == 0x7f)
            used += (size_t)snprintf(buf + used, len - used, "\\x%02x", c);
        else
            buf[used++] = (char)c;
    }
    buf[used] = '\0';
    return buf;
}

/* 0, or the errno execve would give for this one file. */
static int runnable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR; /* execve says EACCES; "is a directory" says more */
    if (!S_ISREG(st.st_mode))
        return EACCES;
    return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? 0 : errno;
}

static const char *reason_text(int e)
{
    return e == EISDIR ? "is a directory" : e == EACCES ? "Permission denied" : strerror(e);
}

/* The "#!" interpreter of path, if the file starts with one; "" otherwise (or when the
 * file cannot be read: execve needs no read permission for a binary). */
static void interpreter(const char *path, char *out, size_t len)
{
    char head[256];
    ssize_t n = 0;
    size_t i = 2, k = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    out[0] = '\0';
    if (fd < 0)
        return;
    n = read(fd, head, sizeof(head) - 1);
    close(fd);
    if (n < 2 || head[0] != '#' || head[1] != '!')
        return;
    head[n] = '\0';
    /* Linux ends the interpreter at a space, tab, newline or NUL; not at '\r'. */
    while (i < (size_t)n && (head[i] == ' ' || head[i] == '\t'))
        i++;
    while (i < (size_t)n && head[i] && head[i] != ' ' && head[i] != '\t' && head[i] != '\n'
           && k + 1 < len)
        out[k++] = head[i++];
    out[k] = '\0';
}

static int fail(hg_error *err, const char *program, const char *reason)
{
    char name[512];
    return hg_error_set(err, HG_EINVAL, "cannot run PROGRAM '%s': %s",
                        shown(program, name, sizeof(name)), reason);
}

/* path is runnable; so must its interpreter be, when it is a script. */
static int check_script(const char *program, const char *path, hg_error *err)
{
    char interp[256], name[300], reason[400];
    int e;
    interpreter(path, interp, sizeof(interp));
    if (!interp[0] || (e = runnable(interp)) == 0)
        return 0;
    snprintf(reason, sizeof(reason), "its interpreter '%s': %s", shown(interp, name, sizeof(name)),
             reason_text(e));
    return fail(err, program, reason);
}

static int found_at(const char *program, const char *path, char *found, size_t len, hg_error *err)
{
    if (found && len)
        snprintf(found, len, "%s", path);
    return check_script(program, path, err);
}

int hg_program_resolve(const char *program, const char *path, char *found, size_t len,
                       hg_error *err)
{
    char cand[4096], denied[4096] = "";
    int e, denied_errno = 0;
    if (!program || !*program)
        return hg_error_set(err, HG_EINVAL, "cannot run PROGRAM '': %s", strerror(ENOENT));
    if (strchr(program, '/')) {
        if ((e = runnable(program)) != 0)
            return fail(err, program, reason_text(e));
        return found_at(program, program, found, len, err);
    }
    if (!path)
        path = HG_PROGRAM_DEFAULT_PATH;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int dlen = (int)(end - p);
        /* An empty entry is the current directory, as for execvp. */
        if ((size_t)snprintf(cand, sizeof(cand), "%.*s%s%s", dlen, p, dlen ? "/" : "", program)
            < sizeof(cand)) {
            if ((e = runnable(cand)) == 0)
                return found_at(program, cand, found, len, err);
            /* execvp goes on past an entry it may not run, and reports EACCES only when
             * nothing later runs; name the first such file, it is what the user meant. */
            if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG && e != ELOOP && !denied_errno) {
                denied_errno = e;
                snprintf(denied, sizeof(denied), "%s", cand);
            }
        }
        if (!*end)
            break;
        p = end;
    }
    if (denied_errno) {
        char name[600], reason[700];
        snprintf(reason, sizeof(reason), "%s: %s", shown(denied, name, sizeof(name)),
                 reason_text(denied_errno));
        return fail(err, program, reason);
    }
    return fail(err, program, "not found on PATH");
}
