/* Directories both programs make: the launcher its --log-dir, the agent's relay and
 * collector theirs when started without a launcher. */
#ifndef HG_DIRS_H
#define HG_DIRS_H

/* mkdir -p: makes dir and its missing parents (mode 0777 before the umask); one that
 * exists, or that another process makes at the same moment, is fine. Returns 0 or an
 * errno. */
int hg_dirs_make(const char *dir);

#endif
