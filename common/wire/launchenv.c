/* hg_launcher_rank, hg_status_token: read from the environment on every call (a
 * handoff may change it), nothing cached. */
#include "wire/launchenv.h"

#include <stdlib.h>

#include "grid/config.h"
#include "util/intparse.h"
#include "wire/protocol.h"

int hg_launcher_rank(void)
{
    static const char *const names[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                         "SLURM_PROCID", NULL };
    for (int i = 0; names[i]; i++) {
        int r = hg_int_env(names[i], HG_MAX_WORLD - 1);
        if (r >= 0)
            return r;
    }
    return -1;
}

const char *hg_status_token(void)
{
    const char *t = getenv(HG_ENV_STATUS_TOKEN);
    if (!t || !*t)
        return NULL;
    for (const char *c = t; *c; c++)
        if (*c <= ' ' || *c == ':' || *c == 0x7f)
            return NULL;
    return t;
}
