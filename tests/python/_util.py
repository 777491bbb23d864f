"""Shared by the Python tests (tests/python/test_*.py): where things are, the launcher
(HGRID_LAUNCH: the test variant, with tests/python_test.sh's MPI settings), dry-run
plans. Tests that need the launcher skip without it. Standard library only."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)
GOLDEN = os.path.join(ROOT, "tests", "golden")
LAUNCH = os.environ.get("HGRID_LAUNCH", "")


def goldens():
    """(name, yaml path, world size) of every golden layout, by name."""
    out = []
    for f in sorted(os.listdir(GOLDEN)):
        if f.endswith(".yaml"):
            name = f[:-5]
            with open(os.path.join(GOLDEN, name + ".json")) as j:
                out.append((name, os.path.join(GOLDEN, f), json.load(j)["world_size"]))
    return out


def need_launch(case):
    if not LAUNCH or not os.access(LAUNCH, os.X_OK):
        case.skipTest("HGRID_LAUNCH is not set to a built hgrid-launch (make test-programs)")


def dry_run(*args):
    """The launcher's --dry-run stdout for args (relative paths from the repository)."""
    return subprocess.run([LAUNCH, "--dry-run"] + list(args), cwd=ROOT, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def rank_plans(config, n, into):
    """Writes --rank r's JSON plan of config to into/r.json for r < n."""
    os.makedirs(into, exist_ok=True)
    for r in range(n):
        with open(os.path.join(into, "%d.json" % r), "wb") as f:
            f.write(dry_run("--format", "json", "--rank", str(r), config))


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()
