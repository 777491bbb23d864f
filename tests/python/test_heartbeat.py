"""hgrid.heartbeat and hgrid.restart_count (issue 19), without a launcher: a heartbeat is
one "STEP stacks PID" line on the descriptor HGRID_HEARTBEAT_FD names (PID: the process
the stacks signal goes to, issue 23), and registers faulthandler on SIGUSR1 so a stalled
rank's stacks reach stderr, chaining to the program's own SIGUSR1 handler; without the
variable it does nothing; the restart count comes from HGRID_RESTART_COUNT. Each case
runs in a fresh interpreter, as the package reads the descriptor once."""
import os
import signal
import subprocess
import sys
import unittest

import _util


def _python(code, env, pass_fds=()):
    full = dict(os.environ, PYTHONPATH=_util.PYDIR, **env)
    return subprocess.run([sys.executable, "-c", code], env=full, pass_fds=pass_fds,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


class Heartbeat(unittest.TestCase):
    def test_lines_on_the_descriptor(self):
        r, w = os.pipe()
        try:
            out = _python("import os, hgrid\nfor s in (0, 1, 7):\n    hgrid.heartbeat(s)\n"
                          "print(os.getpid())\n", {"HGRID_HEARTBEAT_FD": str(w)}, pass_fds=(w,))
            os.close(w)
            w = -1
            self.assertEqual(out.returncode, 0, out.stderr)
            pid = int(out.stdout)
            self.assertEqual(os.read(r, 4096),
                             b"0 stacks %d\n1 stacks %d\n7 stacks %d\n" % (pid, pid, pid))
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    def test_sigusr1_dumps_stacks_after_the_first_heartbeat(self):
        r, w = os.pipe()
        code = ("import os, signal, time, hgrid\nhgrid.heartbeat(3)\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\ntime.sleep(0.2)\nprint('alive')\n")
        try:
            out = _python(code, {"HGRID_HEARTBEAT_FD": str(w)}, pass_fds=(w,))
        finally:
            os.close(w)
            os.close(r)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"alive\n")
        self.assertIn(b'File "<string>", line 3', out.stderr)

    def _run_with_pipe(self, code):
        r, w = os.pipe()
        try:
            out = _python(code, {"HGRID_HEARTBEAT_FD": str(w)}, pass_fds=(w,))
            os.close(w)
            w = -1
            return out, os.read(r, 4096)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    def test_own_sigusr1_handler_still_called_after_the_stacks(self):
        # SLURM's --signal=USR1@90: the program saves on SIGUSR1. hgrid.heartbeat() must
        # not take that from it: the stacks first, then the program's handler.
        code = ("import os, signal, sys, time, hgrid\n"
                "got = []\n"
                "signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))\n"
                "hgrid.heartbeat(3)\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\n"
                "time.sleep(0.2)\n"
                "print('own handler', got == [signal.SIGUSR1])\n"
                "sys.stdout.flush()\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\n"
                "time.sleep(0.2)\n"
                "print('twice', got == [signal.SIGUSR1] * 2)\n")
        out, beats = self._run_with_pipe(code)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"own handler True\ntwice True\n")
        self.assertEqual(out.stderr.count(b'File "<string>", line 5'), 1, out.stderr)
        self.assertEqual(out.stderr.count(b'File "<string>", line 9'), 1, out.stderr)
        self.assertRegex(beats, rb"^3 stacks [0-9]+\n$")

    def test_ignored_sigusr1_stays_ignored(self):
        code = ("import os, signal, time, hgrid\n"
                "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
                "hgrid.heartbeat(0)\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\n"
                "time.sleep(0.2)\n"
                "print('alive')\n")
        out, _ = self._run_with_pipe(code)
        self.assertEqual((out.returncode, out.stdout), (0, b"alive\n"), out.stderr)
        self.assertIn(b'File "<string>", line 4', out.stderr)

    def test_handler_set_after_the_first_heartbeat_is_the_programs(self):
        # The program takes SIGUSR1 back later: its handler alone runs, and the heartbeats
        # stop asking for stacks, so a stall sends it no SIGUSR1.
        code = ("import os, signal, time, hgrid\n"
                "hgrid.heartbeat(0)\n"
                "got = []\n"
                "signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))\n"
                "hgrid.heartbeat(1)\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\n"
                "time.sleep(0.2)\n"
                "print('own handler', got == [signal.SIGUSR1])\n")
        out, beats = self._run_with_pipe(code)
        self.assertEqual((out.returncode, out.stdout), (0, b"own handler True\n"), out.stderr)
        self.assertNotIn(b"Current thread", out.stderr)
        self.assertRegex(beats, rb"^0 stacks [0-9]+\n1\n$")

    def test_no_launcher_no_op(self):
        out = _python("import hgrid\nhgrid.heartbeat(5)\nprint(hgrid.restart_count())\n",
                      {"HGRID_HEARTBEAT_FD": "", "HGRID_RESTART_COUNT": ""})
        self.assertEqual((out.returncode, out.stdout), (0, b"0\n"), out.stderr)
        # SIGUSR1 was not taken over: it still ends the process.
        out = _python("import os, signal, hgrid\nhgrid.heartbeat(1)\n"
                      "os.kill(os.getpid(), signal.SIGUSR1)\n", {"HGRID_HEARTBEAT_FD": ""})
        self.assertEqual(out.returncode, -signal.SIGUSR1)

    def test_negative_step_refused(self):
        out = _python("import hgrid\nhgrid.heartbeat(-1)\n", {})
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"heartbeat step must be >= 0, got -1", out.stderr)

    def test_restart_count(self):
        out = _python("import hgrid\nprint(hgrid.restart_count())\n", {"HGRID_RESTART_COUNT": "2"})
        self.assertEqual(out.stdout, b"2\n")


# A stand-in for torch.distributed: its collectives sleep (the wait for a slow peer);
# all_gather_object calls all_gather through the module's globals, as torch's does.
FAKE_C10D = """
import time
def all_reduce(t, group=None, async_op=False):
    time.sleep(0.3)
def all_gather(out, t, group=None, async_op=False):
    time.sleep(0.3)
def all_gather_object(out, obj, group=None):
    all_gather(out, obj)
"""
COMPUTE = ("import os, sys, time, types, hgrid, hgrid.torch\n"
           "c10d = types.ModuleType('c10d')\nexec(%r, c10d.__dict__)\n"
           "dist = types.ModuleType('dist')\ndist.distributed_c10d = c10d\n"
           "for n in ('all_reduce', 'all_gather', 'all_gather_object'):\n"
           "    setattr(dist, n, getattr(c10d, n))\n"
           "print(sorted(hgrid.torch.time_collectives(dist)))\n"
           "assert hgrid.torch.time_collectives(dist) and dist.all_reduce._hgrid_timed\n"
           "hgrid.heartbeat(0)\ntime.sleep(0.2)\ndist.all_reduce(None)\nhgrid.heartbeat(1)\n"
           "time.sleep(0.2)\ndist.all_gather_object([], None)\nhgrid.heartbeat(2)\n" % FAKE_C10D)


class Compute(unittest.TestCase):
    """--stragglers: with the collectives timed, each heartbeat says the compute time
    so far (microseconds outside collectives since the first heartbeat)."""

    def test_compute_leaves_out_the_collectives(self):
        r, w = os.pipe()
        try:
            out = _python(COMPUTE, {"HGRID_HEARTBEAT_FD": str(w)}, pass_fds=(w,))
            os.close(w)
            w = -1
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, b"['all_gather', 'all_gather_object', 'all_reduce']\n")
            lines = os.read(r, 4096).decode().splitlines()
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        self.assertEqual(len(lines), 3, lines)
        us = []
        for i, line in enumerate(lines):
            f = line.split()
            self.assertEqual((f[0], f[1], f[3]), (str(i), "stacks", "compute"), line)
            us.append(int(f[4]))
        self.assertEqual(us[0], 0)
        # 0.2 s of compute, then 0.3 s in a collective: only the 0.2 s counts (a loaded
        # machine may stretch the sleep, never by the whole collective).
        self.assertTrue(190000 <= us[1] < 290000, us)
        # all_gather_object's inner all_gather is not counted twice: compute grows.
        self.assertTrue(190000 <= us[2] - us[1] < 290000, us)

    def test_untimed_heartbeats_say_no_compute(self):
        r, w = os.pipe()
        try:
            out = _python("import hgrid\nhgrid.heartbeat(4)\n", {"HGRID_HEARTBEAT_FD": str(w)},
                          pass_fds=(w,))
            os.close(w)
            w = -1
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn(b"compute", os.read(r, 4096))
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


if __name__ == "__main__":
    unittest.main()
