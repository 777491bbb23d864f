"""hgrid.plan() in every rank of real launches (the test launcher under mpirun, MPI
backend, exec handoff) of every golden layout of <= 20 ranks: the plan read from
HGRID_PLAN equals the dry-run's --rank JSON field by field and agrees with the rank's
environment; and the groups hgrid.torch would create (hgrid._groups.group_spec, and the
bridges' own groups of bridge_spec that are no module group and not the world) are as
many as the communicators the agent built on that rank (its readiness record: module
groups and, on a bridge's leaders, the bridge's group), the one sharing rule of both
(common/grid/groups.c, _groups.py)."""
import glob
import json
import os
import subprocess
import sys
import unittest

import _util

import hgrid
from hgrid import _groups


class Launch(_util.TempDirCase):
    def launch(self, name, yaml, n):
        _util.need_launch(self)
        exp = os.path.join(self.tmp, name)
        _util.rank_plans(yaml, n, exp)
        report = os.path.join(self.tmp, "report.json")
        out = subprocess.run(
            ["timeout", "120", _util.LAUNCH, "--backend", "mpi", "--mpi-arg=--oversubscribe",
             "--report", report, yaml, "--", sys.executable,
             os.path.join(os.path.dirname(__file__), "rank_program.py"), exp],
            cwd=_util.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=_util.PYDIR))
        lines = []
        for path in sorted(glob.glob(os.path.join(exp, "out.*"))):
            with open(path) as f:
                lines.append(f.read().strip())
        good = [x for x in lines if x.endswith(" plan-ok")]
        self.assertEqual((out.returncode, len(good)), (0, n), "%s\n%s" % (
            "\n".join(x for x in lines if not x.endswith(" plan-ok"))[:2000],
            out.stdout.decode(errors="replace")[-3000:]))
        with open(report) as f:
            ranks = json.load(f)["ranks"]
        for r in range(n):
            p = hgrid.plan(os.path.join(exp, "%d.json" % r))
            spec = _groups.group_spec(p)
            # As hgrid.torch creates them: a bridge's group only where it is new.
            bridges = [m for m in _groups.bridge_spec(p).create
                       if m not in spec.create and not spec.is_world(m)]
            self.assertEqual(ranks[r]["rank"], r)
            self.assertEqual(1 + len(spec.create) + len(bridges), ranks[r]["communicators"],
                             "%s rank %d: the default group, %s and the bridge groups %s, the "
                             "agent built %d communicators" % (name, r, spec.create, bridges,
                                                               ranks[r]["communicators"]))
            self.assertEqual(ranks[r]["bridge_groups"],
                             [list(b.group) for b in p.bridge_groups if r in b.group],
                             "%s rank %d: the bridge groups in the agent's report" % (name, r))


def _make(name, yaml, n):
    def test(self):
        self.launch(name, yaml, n)
    test.__doc__ = "hgrid.plan() on %s: %d ranks equal their dry-run plans" % (name, n)
    return test


for _name, _yaml, _n in _util.goldens():
    if _n <= 20:
        setattr(Launch, "test_plan_%s" % _name, _make(_name, _yaml, _n))

if __name__ == "__main__":
    unittest.main()
