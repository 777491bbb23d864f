/* The agents' side of the status channel (common/wire/protocol.h): lines meant for a
 * standalone hgrid-launch only. They are written only when the launcher has put its
 * per-job token in HGRID_STATUS_TOKEN; a user who runs mpirun or srun directly sees
 * none of them, only the readable lines the coordinator prints anyway. Each line goes
 * out in one write(2), so a line from another thread or process cannot land inside it. */
#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/launchenv.h"
#include "wire/line.h"
#include "wire/protocol.h"

void hg_status(const char *fmt, ...)
{
    char msg[HG_STATUS_LINE_MAX], line[HG_STATUS_LINE_MAX];
    const char *t = hg_status_token(); /* NULL for none, or one that could break the line */
    va_list ap;
    int n;
    if (!t)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return;
    size_t pl = hg_line_status_prefix(line, sizeof(line), t);
    if (!pl)
        return;
    n = snprintf(line + pl, sizeof(line) - pl, "%s\n", msg);
    if (n < 0 || (size_t)n >= sizeof(line) - pl)
        return; /* the launcher would not take a longer line for status */
    n += (int)pl;
    fflush(stderr); /* what stdio still holds came first */
    while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR) {
    }
}
