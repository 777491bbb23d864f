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
/* The launcher's stdout and stderr. When both reach the same file or pipe (same device
 * and inode: `2>&1`, one terminal), the second puts its bytes into the first, which
 * writes them all through out_fd in the order they were put: a record put whole is never
 * split by the other stream's bytes. Returns -1 when out of memory. Free both; out last. */
int hg_outq_pair(int out_fd, int err_fd, hg_outq **out, hg_outq **err);
/* Whether a and b write to the same queue (hg_outq_pair found one destination). */
int hg_outq_same(const hg_outq *a, const hg_outq *b);
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
/* fn(arg) runs before each write through hg_outq_stream's stream (the launcher's own
 * messages), e.g. to end a rank's open partial line first; NULL removes it. */
void hg_outq_on_own_write(hg_outq *q, void (*fn)(void *), void *arg);

#endif
