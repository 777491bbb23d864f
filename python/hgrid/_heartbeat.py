"""Heartbeats for hgrid-launch's stall detection (--stall-timeout).

Under a standalone hgrid-launch, HGRID_HEARTBEAT_FD names the write end of a pipe to
the rank's keeper; each heartbeat is one line "STEP stacks" on it (common/protocol.h).
The first call registers faulthandler on SIGUSR1, so a stalled rank's threads' stacks
reach its stderr (and the --log-dir file) before the launcher stops it. Without the
variable (no launcher, or srun/mpirun directly) a heartbeat does nothing.
"""
import faulthandler
import os
import signal
import sys
from typing import Optional

ENV_FD = "HGRID_HEARTBEAT_FD"
ENV_RESTART_COUNT = "HGRID_RESTART_COUNT"

_fd: Optional[int] = None
_ready = False


def _open() -> Optional[int]:
    global _fd, _ready
    if _ready:
        return _fd
    _ready = True
    value = os.environ.get(ENV_FD, "")
    if not value.isdigit():
        return None
    _fd = int(value)
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    except (AttributeError, ValueError, RuntimeError, OSError):
        pass  # no SIGUSR1 (not POSIX) or no usable stderr: heartbeats still count
    return _fd


def heartbeat(step: int) -> None:
    """Tells hgrid-launch this rank reached `step` (an int >= 0). Cheap: one write of a
    few bytes; call it once per training step. A no-op outside hgrid-launch."""
    step = int(step)
    if step < 0:
        raise ValueError("heartbeat step must be >= 0, got %d" % step)
    fd = _open()
    if fd is None:
        return
    try:
        os.write(fd, b"%d stacks\n" % step)
    except OSError:
        pass  # the keeper is gone: the job is ending, and saying so is the keeper's


def restart_count() -> int:
    """Which attempt of the job this is: 0 the first, n after n restarts
    (hgrid-launch --max-restarts; HGRID_RESTART_COUNT, also TORCHELASTIC_RESTART_COUNT)."""
    value = os.environ.get(ENV_RESTART_COUNT, "0")
    return int(value) if value.isdigit() else 0
