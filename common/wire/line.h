/* What a line of PROGRAM's output is, for the three that handle one: the keeper (cuts
 * PROGRAM's bytes into pieces, one record each), the relay (labels lines where no
 * launcher takes them) and the launcher's channel (puts pieces of many ranks on one
 * terminal). One home for the label, the status-line prefix, the cut mark and the
 * partial-line bookkeeping, so that the three cannot drift apart; the strings
 * themselves are the wire's (protocol.h). Pure functions over caller-owned state:
 * tests/test_line.c asserts their bytes. */
#ifndef HG_LINE_H
#define HG_LINE_H

#include <stddef.h>

/* Room for a label ("[RANK MODULE] ") and for a status prefix ("hgrid-status TOKEN: "). */
#define HG_LINE_LABEL_MAX 160
#define HG_LINE_TOKEN_MAX 63
#define HG_LINE_PREFIX_MAX 80
/* Room for what goes before a piece (a label or the continuation tag) and after it
 * (a cut mark). */
#define HG_LINE_HEAD_MAX HG_LINE_LABEL_MAX
#define HG_LINE_TAIL_MAX 96

/* "[RANK MODULE] " (--label) into buf; its length, or 0 when it does not fit. */
size_t hg_line_label(char *buf, size_t len, int rank, const char *module);

/* "hgrid-status TOKEN: ", the start of the launcher's status lines that PROGRAM's
 * stderr carries (protocol.h), into buf; its length, or 0 (buf "") for no status lines:
 * no token, an empty one, one longer than HG_LINE_TOKEN_MAX or one with a space, a
 * control character or a colon, or a buf too small. */
size_t hg_line_status_prefix(char *buf, size_t len, const char *token);

/* Whether the n bytes at p are a status line's start: the prefix and at least one byte
 * more. Never with an empty prefix. */
int hg_line_is_status(const char *p, size_t n, const char *prefix, size_t prefix_len);

/* The keeper's cutting. buf holds len bytes of one stream not yet sent, of which the
 * first *scanned are known to end no piece. Returns the length of the first whole piece
 * and its record flags (record.h): up to and with a newline (0), up to and with a
 * carriage return that a byte other than a newline follows (PARTIAL|REDRAW: a progress
 * bar's redraw shows at once), or, when neither is there and more than HG_LINE_MAX bytes
 * are, HG_LINE_MAX of them (CUT); *scanned is then 0 for the rest. Returns 0 when no
 * piece is whole yet, *scanned saying how far it looked (a carriage return at the end
 * waits: it may be a CRLF's). */
size_t hg_line_piece(const char *buf, size_t len, size_t *scanned, unsigned *flags);

/* The flags of the n > 0 bytes of a line sent before it ended (silence, the stream's
 * end): PARTIAL, and REDRAW when they end with a carriage return. */
unsigned hg_line_partial_flags(const char *p, size_t n);

/* One rank's stream on the user's terminal. */
typedef struct hg_line_writer {
    int at_start; /* its next piece starts a line or a redraw: labelled with --label */
    int cut;      /* its last piece was cut at HG_LINE_MAX: the line goes on */
} hg_line_writer;
#define HG_LINE_WRITER_INIT { 1, 0 }

/* What goes before a writer's next piece, into buf (at least HG_LINE_HEAD_MAX): the
 * label at a line's or a redraw's start (label: --label), or, without labels, the tag
 * naming the rank when the piece continues a cut line (other ranks' lines may come
 * between the pieces). Its length. */
size_t hg_line_head(const hg_line_writer *w, int label, int rank, const char *module, char *buf,
                    size_t len);

/* What goes after a piece with these record flags, into buf (at least
 * HG_LINE_TAIL_MAX): the cut mark when it was cut, naming the rank without labels. Its
 * length. */
size_t hg_line_tail(unsigned flags, int label, int rank, char *buf, size_t len);

/* A piece with these flags went out: a whole line or a redraw starts the next one. */
void hg_line_wrote(hg_line_writer *w, unsigned flags);

/* Something else was written where the writer's partial line was open (another rank's
 * piece, the launcher's message): a newline ended it, and its next piece is labelled. */
void hg_line_broken(hg_line_writer *w);

/* One destination (stdout, stderr, or both when they are one file): whose partial line
 * is open there. */
typedef struct hg_line_dest {
    int open_rank;   /* -1: none */
    int open_stream; /* 0 stdout, 1 stderr */
} hg_line_dest;
#define HG_LINE_DEST_INIT { -1, 0 }

/* Whether a piece of rank's stream must first end the partial line open there (another
 * rank's or stream's) with a newline. */
int hg_line_dest_must_break(const hg_line_dest *d, int rank, int stream);

/* A piece of rank's stream with these flags went there: its line is open after it
 * unless it ended. */
void hg_line_dest_wrote(hg_line_dest *d, int rank, int stream, unsigned flags);

#endif
