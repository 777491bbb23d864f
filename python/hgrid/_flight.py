"""PyTorch's flight recorder at a stall (issue 25): which collective each rank entered.

When hgrid-launch asks a stalled rank for its stacks (SIGUSR1, _heartbeat.py), a rank whose
torch has the flight recorder also dumps it on demand and writes, after faulthandler's
stacks and into the same stderr block, one line per process group (common/wire/protocol.h
HG_FLIGHT_*):

    hgrid-flight: pg=1 desc=undefined ranks=0,2,4,6 entered=42 completed=41 op=gloo:allreduce

the highest collective sequence number of that group this rank entered (recorded at all),
the highest it finished, and the op of the last entered. The launcher compares them across
a group's members (launcher/flight.c) and names the group by its members with hgrid's kind
name. Under a torch without the recorder (Debian's 1.13) nothing is written.

The signal is caught where the main thread cannot run Python (it waits inside a
collective, in C++): Python's own C-level SIGUSR1 handler, which faulthandler chains to,
writes the signal number to the wakeup descriptor (signal.set_wakeup_fd), and a daemon
thread reading it does the dump. summarize() and lines() are pure and tested alone.
"""
import json
import os
import signal
import sys
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional

TAG = "hgrid-flight:"  # protocol.h HG_FLIGHT_TAG
# The recorder's size: TORCH_FR_BUFFER_SIZE (protocol.h HG_ENV_TORCH_FR_BUFFER, which the
# exec handoff sets) and its old name TORCH_NCCL_TRACE_BUFFER_SIZE, as torch reads them.
_BUFFER_ENVS = ("TORCH_FR_BUFFER_SIZE", "TORCH_NCCL_TRACE_BUFFER_SIZE")

# The dump's fields, as torch 2.11 writes them (torch/csrc/distributed/c10d/
# FlightRecorder.hpp's DEFINE_CONSTANT keys, FlightRecorderDetail.hpp's dump_json and
# getCollectiveTrace): top level "entries" (oldest first, a ring of the buffer's size),
# "pg_config" {group name: {"name", "desc", "ranks": "[0, 2, 4]"}} (getPgConfig,
# TraceUtils.h ranks_str); per entry "process_group" (name, desc) (a tuple pickled, a list
# in JSON), "collective_seq_id", "p2p_seq_id", "is_p2p", "profiling_name"
# ("nccl:all_reduce"), "state" ("scheduled", "started", "completed") and "retired"
# (the backend is done with it: gloo's entries have no events and stay "scheduled",
# ProcessGroupGloo.cpp retires them when the work ends).


def _ranks(text: Any) -> List[int]:
    """pg_config's "ranks": "[0, 2, 4]" (ranks_str), or a list."""
    if isinstance(text, (list, tuple)):
        return [int(r) for r in text]
    return [int(r) for r in str(text or "").strip("[] ").replace(",", " ").split()]


def _word(text: Any) -> str:
    """A value with no spaces (the line is space-separated), never empty."""
    out = "_".join(str(text).split())
    return out if out else "-"


def summarize(dump: Mapping[str, Any], buffer_size: int = 0,
              world_size: Optional[int] = None) -> List[Dict[str, Any]]:
    """One dict per process group of one rank's dump: pg, desc, ranks, entered,
    completed (-1: none), op. A group without entries is said (entered -1) only while
    the ring has not filled (fewer entries than buffer_size, 0: unknown size, taken as
    full): once it wraps, a group's entries may just have been overwritten. The default
    group's empty ranks (older torch) are 0..world_size-1. Point-to-point entries are
    left out: pipeline stages send and receive different counts by design."""
    config = dump.get("pg_config") or {}
    entries = dump.get("entries") or []
    wrapped = buffer_size <= 0 or len(entries) >= buffer_size
    groups: Dict[str, Dict[str, Any]] = {}

    def group(name: str, desc: str) -> Dict[str, Any]:
        if name not in groups:
            info = config.get(name) or {}
            ranks = _ranks(info.get("ranks"))
            desc = str(info.get("desc", desc))
            if not ranks and desc == "default_pg" and world_size:
                ranks = list(range(world_size))
            groups[name] = {"pg": name, "desc": desc, "ranks": ranks, "entered": -1,
                            "completed": -1, "op": "", "seen": False}
        return groups[name]

    for e in entries:
        if e.get("is_p2p"):
            continue
        pg = e.get("process_group") or ("", "")
        g = group(str(pg[0]), str(pg[1]) if len(pg) > 1 else "")
        g["seen"] = True
        seq = int(e.get("collective_seq_id", -1))
        if seq >= g["entered"]:
            g["entered"] = seq
            g["op"] = str(e.get("profiling_name", ""))
        if (e.get("state") == "completed" or e.get("retired")) and seq > g["completed"]:
            g["completed"] = seq
    if not wrapped:
        for name, info in config.items():
            group(str(name), str(info.get("desc", "")))
    out = []
    for name in sorted(groups, key=lambda n: (len(n), n)):
        g = groups.pop(name)
        if g.pop("seen") or not wrapped:
            out.append(g)
    return out


def lines(summary: Iterable[Mapping[str, Any]]) -> List[str]:
    """summarize()'s groups as protocol.h's lines, newline-terminated."""
    return ["%s pg=%s desc=%s ranks=%s entered=%d completed=%d op=%s\n"
            % (TAG, _word(g["pg"]), _word(g["desc"]),
               ",".join(str(r) for r in g["ranks"]) or "-", g["entered"], g["completed"],
               _word(g["op"])) for g in summary]


def _buffer_size() -> int:
    for name in _BUFFER_ENVS:
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return 0


def _recorders() -> List[Any]:
    """The dump functions this torch has, each called with no argument: the one gloo
    records into first (its dump is in-memory only), then NCCL's, which also asks each
    communicator for its state and so may block on a broken one. [] without
    torch.distributed or the recorder (torch < 2.5 has neither _dump_*_json)."""
    torch = sys.modules.get("torch")  # never import torch on the program's behalf
    c10d = getattr(getattr(torch, "_C", None), "_distributed_c10d", None)
    out = []
    for name, backend in (("_dump_fr_trace_json", "gloo"), ("_dump_nccl_trace_json", None)):
        fn = getattr(c10d, name, None)
        if fn is not None:
            out.append((fn, backend))
    return [lambda fn=fn, backend=backend: _call(fn, backend) for fn, backend in out]


def _call(fn: Any, backend: Optional[str]) -> Optional[Dict[str, Any]]:
    """One recorder's dump, parsed; JSON (no pickle, no stack symbolization, which may
    want the GIL); None when it fails (a diagnostic must not end the rank)."""
    raw = None
    # includeCollectives, onlyActive; newer torch keys the generic recorder by backend.
    for kw in ([{"backend": backend}] if backend else []) + [{}]:
        try:
            raw = fn(True, False, **kw)
            break
        except TypeError:
            continue
        except Exception:
            return None
    if raw is None:
        return None
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return None


def report(fd: int) -> None:
    """Writes this process's summary lines to fd, one write per recorder, each as soon
    as it is read."""
    world = os.environ.get("WORLD_SIZE", "")
    for recorder in _recorders():
        d = recorder()
        text = "".join(lines(summarize(d, _buffer_size(),
                                       int(world) if world.isdigit() else None))) if d else ""
        if text:
            try:
                os.write(fd, text.encode())
            except OSError:
                return


def _serve(r: int, fd: int) -> None:
    while True:
        try:
            got = os.read(r, 64)
        except InterruptedError:
            continue
        except OSError:
            return
        if not got:
            return
        if signal.SIGUSR1 in got:
            try:
                report(fd)
            except Exception:
                pass


def _noop(signum: int, frame: Any) -> None:
    pass


def install(stderr_fd: int) -> bool:
    """Arms the dump, from the main thread, before faulthandler.register (which then
    chains to Python's handler): installs a no-op Python SIGUSR1 handler when the
    program has none, takes the wakeup descriptor when nobody holds it, starts the
    reader. False, changing nothing, when SIGUSR1 is the program's C handler's or
    ignored, the wakeup descriptor is taken (asyncio), or this is not the main thread."""
    try:
        previous = signal.getsignal(signal.SIGUSR1)
        if previous is None or previous is signal.SIG_IGN:
            return False
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except (ValueError, TypeError):
            os.close(r)
            os.close(w)
            return False
        if old != -1:
            signal.set_wakeup_fd(old)
            os.close(r)
            os.close(w)
            return False
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGUSR1, _noop)
    except (AttributeError, ValueError, OSError):
        return False
    threading.Thread(target=_serve, args=(r, stderr_fd), name="hgrid-flight",
                     daemon=True).start()
    return True
