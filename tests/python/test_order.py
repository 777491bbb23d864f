"""Local synchronization names a group by its members and the creating rank's count of
groups so far: every member must create each group as its same n-th one, or they wait
under different names forever (hgrid/_groups.py). Checked for every rank of every
golden layout, big128 included, and a 64-rank MoE layout with pp 2."""
import os
import unittest

import _util

import hgrid
from hgrid import _groups


class CreationOrder(_util.TempDirCase):
    def check(self, yaml, n):
        _util.need_launch(self)
        _util.rank_plans(yaml, n, self.tmp)
        at = {}
        for r in range(n):
            spec = _groups.group_spec(hgrid.plan(os.path.join(self.tmp, "%d.json" % r)))
            for i, members in enumerate(spec.create):
                at.setdefault(members, {})[r] = i
        wrong = [(m, c) for m, c in at.items()
                 if len(set(c.values())) != 1 or sorted(c) != list(m)]
        if wrong:
            m, c = wrong[0]
            self.fail("%d of %d groups differ, e.g. %s created as group #%s by ranks %s"
                      % (len(wrong), len(at), list(m), sorted(set(c.values())), sorted(c)))


def _make(yaml, n):
    def test(self):
        self.check(yaml, n)
    test.__doc__ = "group creation order on %s: %d ranks" % (os.path.basename(yaml), n)
    return test


for _name, _yaml, _n in _util.goldens() + [
        ("moe64", os.path.join(_util.ROOT, "tests", "layouts", "moe64.yaml"), 64)]:
    setattr(CreationOrder, "test_order_%s" % _name, _make(_yaml, _n))

if __name__ == "__main__":
    unittest.main()
