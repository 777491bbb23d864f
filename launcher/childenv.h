/* The environment a standalone launch gives mpirun or srun, built as an array (SLURM's
 * env_array): a copy of the launcher's own, then the job's names (the run id, the
 * restart counts, the status token, the plan directory, the ranks' channel). The
 * launcher's own environment is never changed for its children, so nothing it means for
 * the ranks can be read back by the launcher itself: it passes such values explicitly. */
#ifndef HG_CHILDENV_H
#define HG_CHILDENV_H

#include "strv.h"

/* "NAME=VALUE" strings, NULL-terminated: execve's envp (strv.h); `failed`: out of
 * memory at some step, the array is incomplete. */
typedef hg_strv hg_childenv;

/* A copy of from (NULL-terminated "NAME=VALUE" strings, e.g. environ). */
void hg_childenv_copy(hg_childenv *e, char *const *from);
/* Sets NAME to VALUE: in place where NAME is there (unless !overwrite, which keeps the
 * value there), else at the end, as setenv does. */
void hg_childenv_set(hg_childenv *e, const char *name, const char *value, int overwrite);
/* NAME's value, or NULL. */
const char *hg_childenv_get(const hg_childenv *e, const char *name);
static inline void hg_childenv_free(hg_childenv *e)
{
    hg_strv_free(e);
}

#endif
