"""Heartbeats for hgrid-launch's stall detection (--stall-timeout).

Under a standalone hgrid-launch, HGRID_HEARTBEAT_FD names the write end of a pipe to
the rank's keeper; each heartbeat is one line "STEP stacks PID" on it (common/wire/protocol.h):
at a stall the launcher sends SIGUSR1 to process PID alone, never to its process group.
The first call registers faulthandler on SIGUSR1, so a stalled rank's threads' stacks
reach its stderr (and the --log-dir file) before the launcher stops it. Without the
variable (no launcher, or srun/mpirun directly) a heartbeat does nothing.

Where torch has PyTorch's flight recorder, the same signal also writes a summary of it
(_flight.py): which collective of each process group this rank entered last.

With collectives timed (hgrid.torch.time_collectives, which hgrid.torch.init calls),
a heartbeat also says the rank's compute time so far, "STEP ... compute US": the time
since its first heartbeat spent outside collectives, in microseconds, for the
launcher's straggler detector (--stragglers). A synchronous collective makes every
rank's step as long as the slowest's, so step times cannot tell who is slow; the time
a rank spends on its own work can. It is a running sum, so the keeper passing on only
the latest line loses nothing, and a duration on the rank's own clock, so hosts' clocks
need not agree.

SIGUSR1 stays the program's: a handler it set before the first heartbeat (SLURM's
--signal=USR1@90 checkpointing) still runs, after the stacks (faulthandler's chain). A
handler it sets later replaces hgrid's: from then on its heartbeats ask for no stacks
("STEP"), and a stall sends it no signal.
"""
import faulthandler
import os
import signal
import sys
import threading
import time
from typing import Optional

from . import _flight

ENV_FD = "HGRID_HEARTBEAT_FD"
ENV_RESTART_COUNT = "HGRID_RESTART_COUNT"

_fd: Optional[int] = None
_ready = False
# signal.getsignal(SIGUSR1) when faulthandler was registered; a different one later means
# the program took SIGUSR1 back. _NOT_OURS: registration failed or never happened.
_NOT_OURS = object()
_handler_then: object = _NOT_OURS


# Compute time (--stragglers): set by hgrid.torch.time_collectives. Seconds inside timed
# collectives, counted from the first heartbeat (what came before is start-up).
_timing = False
_waited = 0.0
_first: Optional[float] = None
_depth = threading.local()  # a collective inside another (all_gather_object) counts once


def _start_timing() -> None:
    global _timing
    _timing = True


def _timed(fn):
    """fn, with the time inside it counted as waiting, not compute."""
    import functools

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        global _waited
        depth = getattr(_depth, "n", 0)
        if depth:
            return fn(*args, **kwargs)
        _depth.n = 1
        t = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            _waited += time.monotonic() - t
            _depth.n = 0
    timed._hgrid_timed = True  # type: ignore[attr-defined]
    return timed


def _compute_us() -> int:
    """Microseconds outside timed collectives since the first heartbeat."""
    global _first, _waited
    now = time.monotonic()
    if _first is None:
        _first, _waited = now, 0.0
    return max(0, int((now - _first - _waited) * 1e6))


def _open() -> Optional[int]:
    global _fd, _ready, _handler_then
    if _ready:
        return _fd
    _ready = True
    value = os.environ.get(ENV_FD, "")
    if not value.isdigit():
        return None
    _fd = int(value)
    try:
        # First, so that faulthandler chains to Python's handler (_flight.py says why).
        _flight.install(sys.stderr.fileno())
        previous = signal.getsignal(signal.SIGUSR1)
        # chain=True re-raises SIGUSR1 to the previous handler after the dump: the
        # program's own (Python's, or one set from C: None), or SIG_IGN. With SIG_DFL
        # that would end the process, so the dump is all then.
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True,
                              chain=previous is not signal.SIG_DFL)
        _handler_then = previous
    except (AttributeError, ValueError, RuntimeError, OSError):
        pass  # no SIGUSR1 (not POSIX) or no usable stderr: heartbeats still count
    return _fd


def _stacks() -> bool:
    """Whether SIGUSR1 still dumps this process's stacks: registered, and the program
    has not set a handler of its own since."""
    if _handler_then is _NOT_OURS:
        return False
    try:
        return signal.getsignal(signal.SIGUSR1) is _handler_then
    except (AttributeError, ValueError):
        return False


def heartbeat(step: int) -> None:
    """Tells hgrid-launch this rank reached `step` (an int >= 0). Cheap: one write of a
    few bytes; call it once per training step. A no-op outside hgrid-launch."""
    step = int(step)
    if step < 0:
        raise ValueError("heartbeat step must be >= 0, got %d" % step)
    fd = _open()
    if fd is None:
        return
    line = b"%d stacks %d" % (step, os.getpid()) if _stacks() else b"%d" % step
    if _timing:
        line += b" compute %d" % _compute_us()
    try:
        os.write(fd, line + b"\n")
    except OSError:
        pass  # the keeper is gone: the job is ending, and saying so is the keeper's


def restart_count() -> int:
    """Which attempt of the job this is: 0 the first, n after n restarts
    (hgrid-launch --max-restarts; HGRID_RESTART_COUNT, also TORCHELASTIC_RESTART_COUNT)."""
    value = os.environ.get(ENV_RESTART_COUNT, "0")
    return int(value) if value.isdigit() else 0
