"""Local synchronization names a group by its members and the creating rank's count of
groups so far: every member must create each group as its same n-th one, or they wait
under different names forever (hgrid/_groups.py); the bridge groups, made by every rank
without it, the same list on every rank. Checked for every rank of every
golden layout, big128 included, a 64-rank MoE layout with pp 2, and the gtp_remat
layouts of tests/golden-gtp: their dry-run plans, and plans built here from the golden
files' group lists (the launcher not needed) with the kinds in Megatron's order and in
the plan's (new kinds appended), with high-priority groups too."""
import os
import unittest

import _util

import hgrid
from hgrid import _groups

APPENDED = _util.GTP_APPENDED


class CreationOrder(_util.TempDirCase):
    def check_specs(self, specs):
        at = {}
        for r, spec in enumerate(specs):
            for i, members in enumerate(spec.create):
                at.setdefault(members, {})[r] = i
        wrong = [(m, c) for m, c in at.items()
                 if len(set(c.values())) != 1 or sorted(c) != list(m)]
        if wrong:
            m, c = wrong[0]
            self.fail("%d of %d groups differ, e.g. %s created as group #%s by ranks %s"
                      % (len(wrong), len(at), list(m), sorted(set(c.values())), sorted(c)))
        return at

    def check(self, yaml, n):
        _util.need_launch(self)
        _util.rank_plans(yaml, n, self.tmp)
        plans = [hgrid.plan(os.path.join(self.tmp, "%d.json" % r)) for r in range(n)]
        at = self.check_specs([_groups.group_spec(p) for p in plans])
        # The bridge groups: not local synchronization, which would name each by its
        # members' counts of groups, unequal across the two modules (two_encoders14:
        # 2 and 6); every rank creates every one, in the same order, so the list is the
        # same on every rank, and none is a module group (their ranks are two modules').
        every = [_groups.bridge_spec(p).every for p in plans]
        self.assertEqual(every, [every[0]] * n)
        self.assertEqual([m for m in every[0] if m in at], [])

    def check_built(self, golden, order, high_priority=()):
        plans = [hgrid.load_plan(p) for p in _util.gtp_rank_plans(golden, order)]
        kinds = [_groups.priority_kinds(high_priority, p.kinds)[0] for p in plans]
        specs = [_groups.group_spec(p, high_priority=k) for p, k in zip(plans, kinds)]
        at = self.check_specs(specs)
        # The gtp_remat kinds' groups are among them (or equal an earlier one, or the world).
        for p, spec in zip(plans, specs):
            for m in p.modules:
                for k in ("gtp_remat_dp_cp", "tp_ep_gtp_remat_pp", "ep_gtp_remat_dp"):
                    members = m.groups[k].members
                    self.assertTrue(members in at or spec.is_world(members), (k, members))
        return specs


def _make(yaml, n):
    def test(self):
        self.check(yaml, n)
    test.__doc__ = "group creation order on %s: %d ranks" % (os.path.basename(yaml), n)
    return test


def _make_built(golden, n, order, high_priority=()):
    def test(self):
        self.check_built(golden, order, high_priority)
    test.__doc__ = "group creation order on %s's group lists, %s kind order%s: %d ranks" % (
        os.path.basename(golden), "the plan's" if order else "Megatron's",
        ", high-priority %s" % ",".join(high_priority) if high_priority else "", n)
    return test


for _name, _yaml, _n in _util.goldens() + [
        ("moe64", os.path.join(_util.ROOT, "tests", "layouts", "moe64.yaml"), 64)]:
    setattr(CreationOrder, "test_order_%s" % _name, _make(_yaml, _n))
for _name, _json, _n in _util.goldens_gtp():
    if os.path.exists(_json[:-5] + ".yaml"):
        setattr(CreationOrder, "test_order_%s" % _name, _make(_json[:-5] + ".yaml", _n))
    setattr(CreationOrder, "test_order_%s_built" % _name, _make_built(_json, _n, None))
    setattr(CreationOrder, "test_order_%s_built_appended" % _name,
            _make_built(_json, _n, APPENDED, ("tp_cp_dp_pp", "ep", "dp_cp_gtp_remat")))


def _world_high_priority(self):
    """a high-priority membership equal to the world is a group of its own"""
    golden = os.path.join(_util.GOLDEN_GTP, "gtp_llm_only16.json")
    plain = self.check_built(golden, APPENDED)
    hp = self.check_built(golden, APPENDED, ("intra_dist_opt", "ep"))
    world = tuple(range(16))
    # intra_dist_opt (tp_cp_dp_pp) spans the world: the default group, unless it is
    # to be on a high-priority stream; then a group of its own, at the same place on
    # every rank.
    self.assertNotIn(world, plain[0].create)
    self.assertEqual([s.create.index(world) for s in hp], [hp[0].create.index(world)] * 16)
    self.assertIn((0, 1, 2, 3), hp[0].high_priority)  # rank 0's ep group
    self.assertEqual(hp[0].high_priority, {world, (0, 1, 2, 3)})
    self.assertEqual([m for m in hp[0].create if m not in plain[0].create], [world])


if os.path.exists(os.path.join(_util.GOLDEN_GTP, "gtp_llm_only16.json")):
    CreationOrder.test_world_high_priority = _world_high_priority


if __name__ == "__main__":
    unittest.main()
