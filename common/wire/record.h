/* The ranks' channel: framed records between each rank's keeper (agent/keeper.c) and a
 * standalone hgrid-launch (launcher/iochan.c), over one TCP connection per rank. A
 * record is an 8-byte header (type, stream, flags, a zero byte, payload length as a
 * 32-bit big-endian number) and its payload. Whole records are the unit: no hop can
 * splice one rank's bytes into another's, which mpirun's I/O forwarding does to lines.
 * The payloads' meaning is in protocol.h; this module only frames and unframes. */
#ifndef HG_RECORD_H
#define HG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define HG_RECORD_HEADER 8
/* The largest payload: a cut line (HG_LINE_MAX, protocol.h) and room to spare. */
#define HG_RECORD_PAYLOAD_MAX ((size_t)(1u << 20) + 4096)

typedef enum hg_record_type {
    /* keeper -> launcher */
    HG_REC_HELLO = 1,  /* "TOKEN RANK PID HOST": first record of a connection */
    HG_REC_OUT = 2,    /* bytes of PROGRAM's stream (1 stdout, 2 stderr), flags below */
    HG_REC_EXIT = 3,   /* "STATUS": PROGRAM's wait status, in decimal */
    HG_REC_HOLDER = 4, /* "PID COMM": a process that kept the streams open after PROGRAM */
    HG_REC_CLOSED = 5, /* both streams reached their end: no more OUT records */
    HG_REC_BEAT = 6,   /* "STEP" or "STEP stacks PID": PROGRAM's latest heartbeat, PID the
                        * process that dumps its stacks on SIGUSR1 (protocol.h) */
    HG_REC_CAUSE = 7,  /* "TIMESTAMP\nMESSAGE\nFRAME": the root cause in PROGRAM's error
                        * file (HG_ENV_TE_ERROR_FILE), before its EXIT; no newline inside
                        * a field, FRAME may be empty, TIMESTAMP seconds since the epoch */
    HG_REC_ALIVE = 8,  /* empty: the keeper and its host are alive (HG_ALIVE_INTERVAL_MS) */
    /* launcher -> keeper */
    HG_REC_SIGNAL = 16, /* "SIGNO": deliver it to PROGRAM's process group; "SIGNO PID": to
                         * PID alone, the stacks PID of the keeper's latest BEAT */
    HG_REC_RELEASE = 17, /* the job's stop is over: a keeper holding PROGRAM's status exits */
    HG_REC_WELCOME = 18  /* the HELLO was this job's: the keeper may start PROGRAM */
} hg_record_type;

/* OUT flags. A record without PARTIAL or CUT ends with its line's newline. */
#define HG_REC_PARTIAL 1u /* no newline yet: flushed after HG_PARTIAL_FLUSH_MS of silence,
                           * or ended by a carriage return (then REDRAW too) */
#define HG_REC_CUT 2u     /* the line was longer than HG_LINE_MAX: it goes on in the next */
#define HG_REC_REDRAW 4u  /* with PARTIAL: ends with '\r' (a progress bar's redraw): the
                           * line stays open, and the next piece rewrites it from its start */

typedef struct hg_record {
    int type, stream;
    unsigned flags;
    const char *data; /* points into the parser's buffer: valid until the next call */
    size_t len;
} hg_record;

/* Writes the header of a record of len payload bytes into hdr. */
void hg_record_header(unsigned char hdr[HG_RECORD_HEADER], int type, int stream, unsigned flags,
                      size_t len);

/* A parser over bytes as they arrive from a socket. */
typedef struct hg_record_parser hg_record_parser;
hg_record_parser *hg_record_parser_new(void);
void hg_record_parser_free(hg_record_parser *p);
/* Appends received bytes; returns -1 when out of memory. */
int hg_record_parser_feed(hg_record_parser *p, const void *buf, size_t n);
/* The next whole record: 1 and *r filled, 0 when more bytes are needed, -1 when the
 * stream is not records (a length over HG_RECORD_PAYLOAD_MAX, a nonzero pad byte). */
int hg_record_parser_next(hg_record_parser *p, hg_record *r);
/* Bytes received but not yet returned as records. */
size_t hg_record_parser_pending(const hg_record_parser *p);

#endif
