"""hgrid.heartbeat and hgrid.restart_count (issue 19), without a launcher: a heartbeat is
one "STEP stacks" line on the descriptor HGRID_HEARTBEAT_FD names, and registers
faulthandler on SIGUSR1 so a stalled rank's stacks reach stderr; without the variable it
does nothing; the restart count comes from HGRID_RESTART_COUNT. Each case runs in a
fresh interpreter, as the package reads the descriptor once."""
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
            out = _python("import hgrid\nfor s in (0, 1, 7):\n    hgrid.heartbeat(s)\n",
                          {"HGRID_HEARTBEAT_FD": str(w)}, pass_fds=(w,))
            os.close(w)
            w = -1
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(os.read(r, 4096), b"0 stacks\n1 stacks\n7 stacks\n")
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


if __name__ == "__main__":
    unittest.main()
