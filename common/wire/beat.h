/* One heartbeat line (protocol.h HG_ENV_HEARTBEAT_FD), read by the keeper from PROGRAM
 * and by the launcher from the keeper's BEAT record: "STEP" then " KEY VALUE" pairs,
 * "stacks PID" (SIGUSR1 to PID dumps its stacks) and "compute US" (the rank's compute
 * time, microseconds outside collectives, summed from its first heartbeat: the
 * straggler detector's measure, launcher/straggler.h). A cumulative sum, not a
 * per-step figure, because the keeper forwards only the latest line (every
 * HG_BEAT_FORWARD_MS): no step's time is lost between two forwarded lines. */
#ifndef HG_BEAT_H
#define HG_BEAT_H

#include <stddef.h>

#define HG_BEAT_COMPUTE "compute"

typedef struct hg_beat {
    long step;            /* >= 0 */
    long stacks_pid;      /* > 0: "stacks PID"; 0: asks for none */
    long long compute_us; /* >= 0: "compute US"; -1: not said */
} hg_beat;

/* 0 and *out for a line (no newline) that starts with a step >= 0; -1 otherwise. Pairs
 * after the step are read up to the first that is not "WORD INTEGER"; unknown words
 * are skipped (a newer hgrid.heartbeat's), "stacks" without a PID asks for nothing. */
int hg_beat_parse(const char *line, hg_beat *out);

/* The line for *b, as hg_beat_parse reads it (no newline); snprintf's return. */
int hg_beat_format(const hg_beat *b, char *buf, size_t len);

#endif
