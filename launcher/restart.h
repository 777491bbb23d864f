/* A launch outside any job: attempts under the supervisor until one succeeds or no
 * restart can help (--max-restarts, torchrun's restart environment), each on hosts just
 * probed (a hostfile, a SLURM allocation) with the failed ones left out when asked
 * (--exclude-failed-hosts), each attempt's logs in LOG_DIR/attempt_N. */
#ifndef HG_RESTART_H
#define HG_RESTART_H

#include <stddef.h>

#include "cli.h"
#include "grid/settings.h"
#include "grid/layout.h"

/* Runs the attempts of `agent` on layout (config_path, or the validated bytes when
 * CONFIG was a pipe) and returns the exit status of the last one (protocol.h); adds
 * the attempts to --report. The pre-flight checks (hg_launch) have passed; set is the
 * command line merged over the config (hg_settings_merge). */
int hg_restart_run(const hg_cli *cli, const hg_setting_values *set, const hg_layout *layout,
                   const char *agent, const char *config_path, const char *bytes, size_t len);

#endif
