/* An output queue in front of one of the launcher's own descriptors (stdout, stderr).
 * The supervisor never blocks on a slow or stopped reader: bytes wait here, and are
 * written when poll(2) says the descriptor takes more, so signals and the job are
 * served meanwhile. Nothing is dropped unless the reader is gone (EPIPE and the like),
 * after which later output is discarded. */
#ifndef HG_OUTQ_H
#define HG_OUTQ_H

#include <stddef.h>
#include <stdio.h>

typedef struct hg_outq hg_outq;

hg_outq *hg_outq_new(int fd);
void hg_outq_free(hg_outq *q);
int hg_outq_fd(const hg_outq *q);
/* Appends; returns -1 when out of memory (the bytes are lost, and said so once). */
int hg_outq_put(hg_outq *q, const void *buf, size_t n);
size_t hg_outq_pending(const hg_outq *q);
/* Beyond mem_max bytes waiting in memory, later bytes wait in an unlinked file in dir
 * (read back in order as the reader takes them); if the file cannot be made, memory. */
void hg_outq_set_spill(hg_outq *q, const char *dir, size_t mem_max);
/* Bytes waiting in the spill file. */
size_t hg_outq_spilled(const hg_outq *q);
/* Writes what the descriptor takes in one call; call when poll said POLLOUT. */
void hg_outq_write_some(hg_outq *q);
/* A stdio stream that appends to the queue (unbuffered), for fprintf. */
FILE *hg_outq_stream(hg_outq *q);

#endif
