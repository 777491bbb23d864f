"""hgrid's flight recorder summary (python/hgrid/_flight.py, issue 25): torch 2.11's dump
reduced to one line per process group, and the SIGUSR1 path that writes the lines after
the stacks, even while the main thread is blocked. The dumps here are shaped as
torch/csrc/distributed/c10d/FlightRecorderDetail.hpp writes them (dump_json: pg_config's
ranks a string, process_group a [name, desc] list; the pickled dump_dict: a tuple).
Under a torch without the recorder (Debian's 1.13) nothing is written."""
import os
import re
import subprocess
import sys
import unittest

import _util

sys.path.insert(0, _util.PYDIR)
from hgrid import _flight  # noqa: E402


def entry(pg, seq, op="gloo:all_reduce", state="scheduled", retired=False, p2p=False,
          desc="undefined"):
    # One of getCollectiveTrace's/dump_json's entries, every key torch 2.11 writes.
    return {"record_id": seq, "pg_id": int(pg), "process_group": [pg, desc],
            "thread_name": "pt_main_thread", "thread_id": "1", "collective_seq_id": seq,
            "p2p_seq_id": 0, "op_id": seq, "profiling_name": op, "time_created_ns": 1,
            "input_sizes": [[4]], "input_dtypes": ["Float"], "output_sizes": [[4]],
            "output_dtypes": ["Float"], "state": state, "time_discovered_started_ns": 0,
            "time_discovered_completed_ns": 0, "retired": retired, "timeout_ms": 600000,
            "is_p2p": p2p}


CONFIG = {"0": {"name": "0", "desc": "default_pg", "ranks": "[0, 1, 2, 3]"},
          "1": {"name": "1", "desc": "undefined", "ranks": "[1, 3]"},
          "2": {"name": "2", "desc": "pipeline", "ranks": "[0, 1]"}}


def dump(entries, config=CONFIG):
    return {"version": "2.10", "comm_lib_version": "", "pg_config": config,
            "pg_status": {}, "entries": entries}


class Summarize(unittest.TestCase):
    def test_entered_completed_op_per_group(self):
        d = dump([entry("0", 1, retired=True), entry("1", 1, "gloo:broadcast", "completed"),
                  entry("0", 2, retired=True), entry("0", 3, "gloo:all_gather"),
                  entry("2", 0, "gloo:send", p2p=True)])
        self.assertEqual(_flight.summarize(d, 2000), [
            {"pg": "0", "desc": "default_pg", "ranks": [0, 1, 2, 3], "entered": 3,
             "completed": 2, "op": "gloo:all_gather"},
            {"pg": "1", "desc": "undefined", "ranks": [1, 3], "entered": 1, "completed": 1,
             "op": "gloo:broadcast"},
            {"pg": "2", "desc": "pipeline", "ranks": [0, 1], "entered": -1, "completed": -1,
             "op": ""}])

    def test_a_wrapped_ring_says_only_groups_it_holds(self):
        d = dump([entry("0", 7, retired=True), entry("0", 8)])
        self.assertEqual([g["pg"] for g in _flight.summarize(d, 2)], ["0"])
        self.assertEqual([g["pg"] for g in _flight.summarize(d, 0)], ["0"])
        self.assertEqual([g["pg"] for g in _flight.summarize(d, 3)], ["0", "1", "2"])

    def test_pickled_shape_and_default_group_ranks(self):
        # dump_dict (the pickled dump): process_group a tuple, ranks possibly empty for
        # the default group of an older torch.
        e = entry("0", 5, "nccl:all_reduce", "started")
        e["process_group"] = ("0", "default_pg")
        d = dump([e], {"0": {"name": "0", "desc": "default_pg", "ranks": "[]"}})
        self.assertEqual(_flight.summarize(d, 2000, world_size=2), [
            {"pg": "0", "desc": "default_pg", "ranks": [0, 1], "entered": 5, "completed": -1,
             "op": "nccl:all_reduce"}])

    def test_no_entries_key(self):
        # dump_json leaves "entries" out when there are none.
        d = {"version": "2.10", "pg_config": CONFIG, "pg_status": {}}
        self.assertEqual([g["entered"] for g in _flight.summarize(d, 2000)], [-1, -1, -1])

    def test_lines(self):
        d = dump([entry("0", 3, "gloo:all_reduce"), entry("1", 2, retired=True)])
        self.assertEqual(_flight.lines(_flight.summarize(d, 2)), [
            "hgrid-flight: pg=0 desc=default_pg ranks=0,1,2,3 entered=3 completed=-1 "
            "op=gloo:all_reduce\n",
            "hgrid-flight: pg=1 desc=undefined ranks=1,3 entered=2 completed=2 "
            "op=gloo:all_reduce\n"])

    def test_line_words(self):
        g = {"pg": "a b", "desc": "", "ranks": [], "entered": 1, "completed": 0,
             "op": "gloo:all reduce"}
        self.assertEqual(_flight.lines([g]), [
            "hgrid-flight: pg=a_b desc=- ranks=- entered=1 completed=0 op=gloo:all_reduce\n"])

    def test_tag_is_protocol_h(self):
        with open(os.path.join(_util.ROOT, "common", "wire", "protocol.h")) as f:
            m = re.search(r'^#define HG_FLIGHT_TAG "([^"]+)"', f.read(), re.M)
        self.assertIsNotNone(m)
        self.assertEqual(_flight.TAG, m.group(1))


# A stand-in torch whose recorder holds one pending all_reduce (only the generic
# recorder, keyed by backend as in newer torch).
FAKE = r'''
import json, os, signal, sys, threading, time, types
torch = types.ModuleType("torch")
torch._C = types.SimpleNamespace(_distributed_c10d=types.SimpleNamespace(
    _dump_fr_trace_json=lambda c, a, backend="gloo": json.dumps({
        "pg_config": {"0": {"name": "0", "desc": "default_pg", "ranks": "[0, 1]"}},
        "entries": [{"process_group": ["0", "default_pg"], "collective_seq_id": 4,
                     "profiling_name": "gloo:all_reduce", "state": "scheduled",
                     "retired": False, "is_p2p": False}]})))
sys.modules["torch"] = torch
import hgrid
hgrid.heartbeat(1)
print(signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL, flush=True)
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(1.0)
print("alive", flush=True)
'''


class Signal(unittest.TestCase):
    def _run(self, code, env=None):
        r, w = os.pipe()
        full = dict(os.environ, PYTHONPATH=_util.PYDIR, HGRID_HEARTBEAT_FD=str(w),
                    TORCH_NCCL_TRACE_BUFFER_SIZE="2000", **(env or {}))
        try:
            return subprocess.run([sys.executable, "-c", code], env=full, pass_fds=(w,),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        finally:
            os.close(w)
            os.close(r)

    def test_lines_after_the_stacks(self):
        out = self._run(FAKE)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"True\nalive\n")
        err = out.stderr.decode()
        self.assertIn('File "<string>", line 14', err)
        self.assertIn("hgrid-flight: pg=0 desc=default_pg ranks=0,1 entered=4 completed=-1 "
                      "op=gloo:all_reduce\n", err)
        self.assertLess(err.index("<string>"), err.index("hgrid-flight:"))

    def test_asyncio_wakeup_descriptor_left_alone(self):
        code = FAKE.replace("import hgrid\n", "import hgrid, socket\na, b = socket.socketpair()\n"
                            "a.setblocking(False)\nsignal.set_wakeup_fd(a.fileno())\n")
        out = self._run(code)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(b"hgrid-flight:", out.stderr)
        self.assertIn(b'File "<string>"', out.stderr)

    @unittest.skipUnless(subprocess.run(["/usr/bin/python3", "-c", "import torch.distributed"],
                                        stderr=subprocess.DEVNULL).returncode == 0
                         if os.path.exists("/usr/bin/python3") else False,
                         "no system python3 with torch")
    def test_torch_without_recorder_writes_nothing(self):
        # Debian's torch 1.13: no _dump_*_json; the stacks come as before, and no line.
        code = ("import os, signal, time, torch, torch.distributed, hgrid\n"
                "hgrid.heartbeat(1)\nos.kill(os.getpid(), signal.SIGUSR1)\n"
                "time.sleep(0.5)\nprint('alive')\n")
        r, w = os.pipe()
        env = dict(os.environ, PYTHONPATH=_util.PYDIR, HGRID_HEARTBEAT_FD=str(w))
        try:
            out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, pass_fds=(w,),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        finally:
            os.close(w)
            os.close(r)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"alive\n")
        self.assertIn(b'File "<string>", line 3', out.stderr)
        self.assertNotIn(b"hgrid-flight", out.stderr)


if __name__ == "__main__":
    unittest.main()
