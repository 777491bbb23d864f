/* The agents' side of the status channel (common/wire/protocol.h): one line, "hgrid-status
 * TOKEN: MESSAGE", in one write(2) to stderr; nothing unless the launcher put its token
 * in HGRID_STATUS_TOKEN. Only rank 0 (and, before MPI, the agent that knows it is rank
 * 0) writes. Implemented in status.c. */
#ifndef HG_STATUS_H
#define HG_STATUS_H

void hg_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
