"""hgrid.torch without torch (CI has none): `import hgrid.torch` imports no torch; its
torch-free logic (which groups, shared memberships, Megatron fields, from the plan's
kinds and their "fields", older plans' fields from the one fallback table, gtp_remat
plans built from tests/golden-gtp's group lists); init() against a stand-in
torch.distributed that records its calls (local synchronization, one group per distinct
membership, a Megatron ProcessGroupCollection with unset fields, high-priority streams
on NCCL, ignored with a note on gloo, unknown names refused), the torch < 2.1 error,
and init() without torch (hidden, as if not installed: HgridTorchError naming the torch
it needs)."""
import dataclasses
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import unittest

import _util

import hgrid
from hgrid import _groups as g

FAKE_TORCH = '''
__version__ = "2.11.0+fake"
class _Cuda:
    @staticmethod
    def is_available(): return False
cuda = _Cuda()
def device(*a): return ("device",) + a
'''
FAKE_DIST = '''
calls = []
_init = [False]
_state = {"backend": "gloo", "rank": 0, "world": 1}
class group: WORLD = "WORLD"
class ProcessGroupNCCL:
    class Options:
        def __init__(self, is_high_priority_stream=False):
            self.is_high_priority_stream = is_high_priority_stream
def is_initialized(): return _init[0]
def get_backend(group=None): return _state["backend"]
def init_process_group(backend, init_method=None, rank=None, world_size=None, **kw):
    calls.append(("init", backend, rank, world_size, tuple(sorted(kw)))); _init[0] = True
def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None):
    calls.append(("new_group", tuple(ranks), use_local_synchronization,
                  pg_options and pg_options.is_high_priority_stream))
    return ("pg", tuple(ranks))
def destroy_process_group(group=None):
    calls.append(("destroy", group))
    if group is None: _init[0] = False
def get_rank(): return _state["rank"]
def get_world_size(): return _state["world"]
'''
FAKE_MEGATRON = '''
from dataclasses import dataclass, field, fields
@dataclass
class ProcessGroupCollection:
    tp: object = field(init=False)
    cp: object = field(init=False)
    hcp: object = field(init=False)
    dp: object = field(init=False)
    intra_dist_opt: object = field(init=False)
    embd: object = field(init=False)
    dp_cp_gtp_remat: object = field(init=False)
    gtp_remat: object = field(init=False)
    expt_gtp_remat: object = field(init=False)
    expt_dp_gtp_remat: object = field(init=False)
    tp_ep_pp_with_egtp_remat: object = field(init=False)
    def __init__(self, **kw):
        names = [f.name for f in fields(self)]
        for k, v in kw.items():
            if k not in names: raise ValueError("Unknown attribute: %s" % k)
            setattr(self, k, v)
'''
FAKE_BRIDGE = '''
class BridgeCommunicator:
    _broadcast_pg_cache = {}
    _bridge_pg_cache = {}
'''
ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")


def megatron_bridge_keys(modules, edges, rank):
    """Megatron's BridgeCommunicator's cache entries for `rank`, re-derived here from the
    modules' grids alone (not from hgrid's plan): {"bridge": {key: in it?}, "broadcast":
    {key: the rank's group or None}}. A grid [tp, gtp_remat, cp, dp, pp], tp fastest, from
    the module's offset; get_leader_rank takes, per (dp, gtp_remat) lane, the last rank of
    the lane's tp-cp-pp enumeration on the source side and the first on the destination;
    get_boundary_pp_stage_ranks, the tp-cp groups (cp fastest in Megatron's enumeration,
    cp = 1 at a bridge) of the last or first pp stage."""
    def grid(m):
        t, g, c, d, p = m["tp"], m.get("gtp_remat", 1), m["cp"], m["dp"], m["pp"]
        return lambda ti, gi, ci, di, pi: m["offset"] + ti + t * (gi + g * (ci + c * (di + d * pi)))

    out = {"bridge": {}, "broadcast": {}}
    for src, dest in edges:
        leaders, sides = [], []
        for m, is_src in ((modules[src], True), (modules[dest], False)):
            at = grid(m)
            t, g, c, d, p = m["tp"], m.get("gtp_remat", 1), m["cp"], m["dp"], m["pp"]
            stage = p - 1 if is_src else 0
            for di in range(d):
                for gi in range(g):
                    lane = [at(ti, gi, ci, di, pi) for pi in range(p) for ci in range(c)
                            for ti in range(t)]
                    leaders.append(lane[-1] if is_src else lane[0])
            sides.append([[at(ti, gi, ci, di, stage) for ti in range(t) for ci in range(c)]
                          for pi in (stage,) for di in range(d) for gi in range(g)])
        out["bridge"][str(sorted(set(leaders)))] = rank in leaders
        for groups in sides:
            out["broadcast"][str(sorted(tuple(x) for x in groups))] = next(
                (tuple(x) for x in groups if rank in x), None)
    return out
GTP16 = os.path.join(_util.GOLDEN_GTP, "gtp_llm_only16.json")
APPENDED = _util.GTP_APPENDED
_mg = {}
exec(FAKE_MEGATRON, _mg)
MegatronLike = _mg["ProcessGroupCollection"]


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class _Plans(_util.TempDirCase):
    def setUp(self):
        super().setUp()
        _util.need_launch(self)
        self.c3 = self.rank_plan("configs/colocated-8.yaml", 3)
        self.r9 = self.rank_plan("configs/two-encoders-14.yaml", 9)

    def rank_plan(self, config, r):
        path = os.path.join(self.tmp, "%s-%d.json" % (os.path.basename(config), r))
        with open(path, "wb") as f:
            f.write(_util.dry_run("--format", "json", "--rank", str(r), config))
        return hgrid.plan(path)


class TorchLogic(_Plans):
    def test_colocated_spec(self):
        spec = g.group_spec(self.c3)
        # Vision's and language's groups once each, in module then kind order (embd,
        # pos_embd last), ranks 0-7 = the default group.
        self.assertEqual(spec.create, [(3,), (2, 3), (3, 7), (1, 3), (2, 3, 6, 7), (0, 1, 2, 3)])
        fv, unset = spec.fields("vision")
        self.assertEqual(fv["dp"], tuple(range(8)))
        self.assertIsNone(fv["embd"])
        self.assertEqual(unset, [])
        fl, _ = spec.fields("language")
        self.assertEqual(list(fl), list(spec.field_names))
        self.assertEqual(fl["intra_dp_cp"], fl["dp_cp"])
        self.assertEqual(fl["intra_expt_dp"], fl["expt_dp"])
        self.assertEqual(fl["embd"], (3, 7))
        self.assertEqual(fl["pos_embd"], (3,))
        nows = g.group_spec(self.c3, share_world=False)
        self.assertEqual([m for m in nows.create if m not in spec.create], [tuple(range(8))])

    def test_fields_from_the_plan(self):
        # The plan's kinds in base.h's order, each followed by the fields the plan says
        # it fills.
        self.assertEqual(g.group_spec(self.c3).field_names, (
            "tp", "cp", "pp", "dp", "dp_cp", "intra_dp_cp", "tp_cp", "mp", "tp_dp",
            "tp_dp_cp", "tp_cp_dp_pp", "intra_dist_opt", "ep", "expt_tp", "expt_dp",
            "intra_expt_dp", "tp_ep", "tp_ep_pp", "embd", "pos_embd", "gtp_remat",
            "gtp_remat_dp_cp", "dp_cp_gtp_remat", "expt_gtp_remat", "tp_ep_gtp_remat_pp",
            "tp_ep_pp_with_egtp_remat", "ep_gtp_remat_dp", "expt_dp_gtp_remat"))
        self.assertEqual(self.c3.kinds["tp_ep_pp"].dims, ("expt_tp", "ep", "pp"))
        self.assertIn("intra_dist_opt", self.c3.kinds["tp_cp_dp_pp"].fields)
        self.assertEqual([k for k, v in self.c3.kinds.items() if v.partial], ["embd", "pos_embd"])
        names = ["tp", "hcp", "intra_dist_opt", "dp_cp_gtp_remat", "gtp_remat", "embd",
                 "expt_gtp_remat", "tp_ep_pp_with_egtp_remat", "expt_dp_gtp_remat"]
        kinds, unset = g.field_kinds(names, self.c3.kinds)
        self.assertEqual(kinds, {"tp": "tp", "intra_dist_opt": "tp_cp_dp_pp",
                                 "dp_cp_gtp_remat": "gtp_remat_dp_cp", "gtp_remat": "gtp_remat",
                                 "embd": "embd", "expt_gtp_remat": "expt_gtp_remat",
                                 "tp_ep_pp_with_egtp_remat": "tp_ep_gtp_remat_pp",
                                 "expt_dp_gtp_remat": "ep_gtp_remat_dp"})
        self.assertEqual(unset, ["hcp"])
        # gtp_remat 1: the gtp_remat fields are singletons or equal the plain groups.
        f, _ = g.group_spec(self.c3).fields("language")
        self.assertEqual((f["gtp_remat"], f["expt_gtp_remat"]), ((3,), (3,)))
        self.assertEqual(f["dp_cp_gtp_remat"], f["dp_cp"])
        self.assertEqual(f["expt_dp_gtp_remat"], f["expt_dp"])
        self.assertEqual(f["tp_ep_pp_with_egtp_remat"], f["tp_ep_pp"])
        self.assertEqual(f["intra_dist_opt"], tuple(range(8)))

    def older(self, plan, gtp_kinds):
        """plan as an older launcher wrote it: no "fields" (and no gtp_remat kinds)."""
        kinds = {n: dataclasses.replace(k, fields=None) for n, k in plan.kinds.items()
                 if gtp_kinds or "gtp" not in n}
        return dataclasses.replace(plan, kinds=kinds, modules=[dataclasses.replace(
            m, groups={k: v for k, v in m.groups.items() if k in kinds}) for m in plan.modules])

    def test_fields_of_older_plans(self):
        # Without "fields": FALLBACK_FIELDS, the one table; the gtp_remat fields from the
        # plain kinds when the plan has no gtp_remat kinds (gtp_remat = 1 then) ...
        old = self.older(self.c3, gtp_kinds=False)
        self.assertEqual(g.kind_fields(old.kinds)["dp_cp"],
                         ("dp_cp", "intra_dp_cp", "dp_cp_gtp_remat"))
        f, unset = g.group_spec(old).fields("language", [
            "intra_dist_opt", "dp_cp_gtp_remat", "expt_dp_gtp_remat", "tp_ep_pp_with_egtp_remat",
            "gtp_remat", "expt_gtp_remat"])
        self.assertEqual(f, {"intra_dist_opt": tuple(range(8)), "dp_cp_gtp_remat": (1, 3),
                             "expt_dp_gtp_remat": (1, 3), "tp_ep_pp_with_egtp_remat": (2, 3, 6, 7)})
        self.assertEqual(unset, ["gtp_remat", "expt_gtp_remat"])  # no kind gives them
        # ... and from the gtp_remat kinds when it has them.
        mid = self.older(self.c3, gtp_kinds=True)
        self.assertEqual(g.field_table(mid.kinds), g.field_table(self.c3.kinds))
        gtp = hgrid.load_plan(_util.gtp_rank_plans(GTP16, fields=False)[5])
        self.assertEqual(g.field_table(gtp.kinds), g.field_table(
            hgrid.load_plan(_util.gtp_rank_plans(GTP16)[5]).kinds))

    def test_gtp_fields_equal_the_golden_groups(self):
        # Every rank of every golden-gtp layout: each Megatron field is the group of
        # the kind that golden-gtp/README.md names, and nothing but Megatron's own
        # non-plan fields is unset.
        same = {"dp_cp_gtp_remat": "gtp_remat_dp_cp", "intra_dist_opt": "tp_cp_dp_pp",
                "expt_dp_gtp_remat": "ep_gtp_remat_dp",
                "tp_ep_pp_with_egtp_remat": "tp_ep_gtp_remat_pp",
                "intra_dp_cp": "dp_cp", "intra_expt_dp": "expt_dp"}
        names = [f.name for f in dataclasses.fields(MegatronLike)]
        n = 0
        for name, path, world in _util.goldens_gtp():
            with open(path) as fh:
                golden = json.load(fh)
            for d in _util.gtp_rank_plans(path, APPENDED):
                p = hgrid.load_plan(d)
                spec = g.group_spec(p)
                for mp in p.modules:
                    f, unset = spec.fields(mp.module.name, names)
                    self.assertEqual(unset, ["hcp"])
                    for field_name, members in f.items():
                        kind = same.get(field_name, field_name)
                        want = [tuple(x) for x in golden["groups"][mp.module.name].get(kind, [])
                                if p.rank in x]
                        self.assertEqual([members] if members else [], want,
                                         (name, p.rank, mp.module.name, field_name))
                        n += 1
        self.assertGreater(n, 600)

    def test_bridge_caches_every_rank(self):
        # Every rank of every golden layout with bridges, the GTP ones too: hgrid's keys and
        # values are those Megatron's BridgeCommunicator would compute.
        checked = 0
        for d in (_util.GOLDEN, _util.GOLDEN_GTP):
            for f in sorted(os.listdir(d)):
                if not f.endswith(".yaml"):
                    continue
                with open(os.path.join(d, f[:-5] + ".json")) as j:
                    golden = json.load(j)
                if not golden.get("bridges"):
                    continue
                modules = {m["name"]: m for m in golden["modules"]}
                edges = [(b["src"], b["dest"]) for b in golden["bridges"]]
                for r in range(golden["world_size"]):
                    p = self.rank_plan(os.path.join(d, f), r)
                    spec = g.bridge_spec(p)
                    want = megatron_bridge_keys(modules, edges, r)
                    got_bridge = {k: v is not None
                                  for k, v in spec.caches[g.BRIDGE_CACHE].items()}
                    self.assertEqual(got_bridge, want["bridge"], "%s rank %d" % (f, r))
                    self.assertEqual(spec.caches[g.BROADCAST_CACHE], want["broadcast"],
                                     "%s rank %d" % (f, r))
                    self.assertEqual(spec.create, [tuple(b.group) for b in p.bridge_groups
                                                   if r in b.group])
                    self.assertEqual(spec.every, [tuple(sorted(b["src_leaders"] + b["dest_leaders"]))
                                                  for b in golden["bridges"]])
                    checked += 1
        self.assertGreater(checked, 100)

    def test_bridge_spec_exact(self):
        # two-encoders-14: audio (0-1) and vision (2-5) both feed language (6-13, tp2 dp4).
        spec = g.bridge_spec(self.rank_plan("configs/two-encoders-14.yaml", 8))
        self.assertEqual(spec.create, [(0, 1, 6, 8, 10, 12), (3, 5, 6, 8, 10, 12)])
        self.assertEqual(spec.caches, {
            "_bridge_pg_cache": {"[0, 1, 6, 8, 10, 12]": (0, 1, 6, 8, 10, 12),
                                 "[3, 5, 6, 8, 10, 12]": (3, 5, 6, 8, 10, 12)},
            "_broadcast_pg_cache": {"[(0,), (1,)]": None,
                                    "[(6, 7), (8, 9), (10, 11), (12, 13)]": (8, 9),
                                    "[(2, 3), (4, 5)]": None}})
        spec = g.bridge_spec(self.rank_plan("configs/two-encoders-14.yaml", 4))
        self.assertEqual(spec.create, [])
        self.assertEqual(spec.caches["_bridge_pg_cache"],
                         {"[0, 1, 6, 8, 10, 12]": None, "[3, 5, 6, 8, 10, 12]": None})
        self.assertEqual(spec.caches["_broadcast_pg_cache"]["[(2, 3), (4, 5)]"], (4, 5))

    def test_megatron_order(self):
        # Benchmark code, in scripts/bench-torch-groups, not in the package.
        self.assertFalse(hasattr(g, "megatron_order"))
        path = os.path.join(_util.ROOT, "scripts", "bench-torch-groups")
        loader = importlib.machinery.SourceFileLoader("bench_torch_groups", path)
        spec = importlib.util.spec_from_loader(loader.name, loader)
        bench = importlib.util.module_from_spec(spec)
        loader.exec_module(bench)
        full = json.loads(_util.dry_run("--format", "json", "configs/colocated-8.yaml"))
        self.assertEqual(len(bench.megatron_order(full)),
                         sum(len(v) for m in full["groups"].values() for v in m.values()))
        self.assertEqual(len(bench.megatron_order(full, dedup=True)),
                         len({tuple(x) for m in full["groups"].values()
                              for v in m.values() for x in v}))


class FakeTorch(_Plans):
    """init() on the stand-in torch (in this process; torch and megatron are removed
    from sys.modules and sys.path afterwards)."""

    def setUp(self):
        super().setUp()
        fake = os.path.join(self.tmp, "fake")
        _write(os.path.join(fake, "torch", "__init__.py"), FAKE_TORCH)
        _write(os.path.join(fake, "torch", "distributed", "__init__.py"), FAKE_DIST)
        _write(os.path.join(fake, "megatron", "__init__.py"), "")
        _write(os.path.join(fake, "megatron", "core", "__init__.py"), "")
        _write(os.path.join(fake, "megatron", "core", "process_groups_config.py"), FAKE_MEGATRON)
        _write(os.path.join(fake, "megatron", "core", "pipeline_parallel", "__init__.py"), "")
        _write(os.path.join(fake, "megatron", "core", "pipeline_parallel",
                            "bridge_communicator.py"), FAKE_BRIDGE)
        self.env = {k: os.environ.get(k) for k in ENV}
        sys.path.insert(0, fake)
        self.fake = fake
        import hgrid.torch as ht
        import torch.distributed as dist
        self.ht, self.dist = ht, dist
        os.environ.update(RANK="9", WORLD_SIZE="14", MASTER_ADDR="127.0.0.1", MASTER_PORT="1",
                          LOCAL_RANK="1")

    def tearDown(self):
        sys.path.remove(self.fake)
        for m in [m for m in sys.modules if m.split(".")[0] in ("torch", "megatron")]:
            del sys.modules[m]
        for k, v in self.env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        super().tearDown()

    def test_init(self):
        ht, dist = self.ht, self.dist
        gr = ht.init(self.r9, megatron=False)
        made = [c for c in dist.calls if c[0] == "new_group"]
        self.assertEqual(dist.calls[0], ("init", "gloo", 9, 14, ()))
        # Its module groups with local synchronization; then, though it leads no bridge,
        # every bridge group of the layout without it (as every rank: _groups.bridge_spec).
        self.assertEqual([c[1] for c in made], g.group_spec(self.r9).create
                         + [(0, 1, 6, 8, 10, 12), (3, 5, 6, 8, 10, 12)])
        self.assertEqual([c[2] for c in made], [True] * len(g.group_spec(self.r9).create)
                         + [False, False])
        self.assertEqual(len(gr.created), len(g.group_spec(self.r9).create))
        self.assertEqual(gr.pgc.tp, ("pg", tuple(self.r9.groups["tp"].members)))
        self.assertEqual(gr.pgc.embd, ("pg", tuple(self.r9.groups["embd"].members)))
        self.assertEqual(gr.pgc.fields, g.group_spec(self.r9).field_names)
        self.assertEqual(gr.bridges, self.r9.bridges)
        gr.destroy()
        destroys = [c[1] for c in dist.calls if c[0] == "destroy"]
        self.assertIsNone(destroys[-1])
        self.assertEqual(len(destroys), len(g.group_spec(self.r9).create) + 1)

    def test_bridge_groups_handed_to_megatron(self):
        # Rank 8 of two-encoders-14 leads both bridges: it creates their groups after its
        # module's, and Megatron's BridgeCommunicator finds every bridge's groups.
        ht, dist = self.ht, self.dist
        os.environ.update(RANK="8")
        p = self.rank_plan("configs/two-encoders-14.yaml", 8)
        gr = ht.init(p)
        from megatron.core.pipeline_parallel.bridge_communicator import BridgeCommunicator as B
        made = [c[1] for c in dist.calls if c[0] == "new_group"]
        self.assertEqual(made, g.group_spec(p).create + [(0, 1, 6, 8, 10, 12),
                                                         (3, 5, 6, 8, 10, 12)])
        self.assertEqual([c[2] for c in dist.calls if c[0] == "new_group"][-2:], [False, False])
        self.assertEqual(B._bridge_pg_cache, {
            "[0, 1, 6, 8, 10, 12]": ("pg", (0, 1, 6, 8, 10, 12)),
            "[3, 5, 6, 8, 10, 12]": ("pg", (3, 5, 6, 8, 10, 12))})
        self.assertEqual(B._broadcast_pg_cache, {
            "[(0,), (1,)]": None, "[(6, 7), (8, 9), (10, 11), (12, 13)]": ("pg", (8, 9)),
            "[(2, 3), (4, 5)]": None})
        # the boundary group is the rank's tp_cp group, the same live group
        self.assertIs(B._broadcast_pg_cache["[(6, 7), (8, 9), (10, 11), (12, 13)]"],
                      gr.group((8, 9)))
        gr.destroy()
        self.assertEqual((B._bridge_pg_cache, B._broadcast_pg_cache), ({}, {}))

    def test_bridge_groups_not_handed_without_megatron(self):
        ht = self.ht
        gr = ht.init(self.r9, megatron=False)
        from megatron.core.pipeline_parallel.bridge_communicator import BridgeCommunicator as B
        self.assertEqual((B._bridge_pg_cache, B._broadcast_pg_cache), ({}, {}))
        self.assertEqual(gr.bridge_caches["_bridge_pg_cache"]["[3, 5, 6, 8, 10, 12]"], None)
        gr.destroy()

    def test_rank_mismatch(self):
        os.environ["RANK"] = "8"
        with self.assertRaises(self.ht.HgridTorchError) as cm:
            self.ht.init(self.r9)
        self.assertEqual(str(cm.exception), "RANK=8 WORLD_SIZE=14 but the plan %s is rank 9 "
                         "of 14" % self.r9.path)
        self.assertIsInstance(cm.exception, hgrid.HgridError)
        self.assertIsInstance(cm.exception, RuntimeError)

    def test_master_port_unset(self):
        os.environ.update(RANK="3", WORLD_SIZE="8")
        del os.environ["MASTER_PORT"]
        with self.assertRaises(self.ht.HgridTorchError) as cm:
            self.ht.init(self.c3)
        self.assertEqual(str(cm.exception).split(":")[0], "MASTER_PORT is not set")

    def test_megatron_collection(self):
        os.environ.update(RANK="3", WORLD_SIZE="8")
        gr = self.ht.init(self.c3)
        from megatron.core.process_groups_config import ProcessGroupCollection
        v = gr["vision"]
        self.assertIs(type(v), ProcessGroupCollection)
        self.assertEqual(v.dp, "WORLD")
        self.assertEqual(gr["language"].intra_dist_opt, "WORLD")
        self.assertEqual(gr["language"].dp_cp_gtp_remat, ("pg", (1, 3)))
        self.assertEqual(v.unset_fields, ["hcp"])
        self.assertEqual(gr["language"].gtp_remat, ("pg", (3,)))
        self.assertEqual(gr["language"].expt_gtp_remat, ("pg", (3,)))
        self.assertEqual(gr["language"].tp_ep_pp_with_egtp_remat, ("pg", (2, 3, 6, 7)))
        self.assertIsNone(v.embd)
        self.assertFalse(hasattr(v, "hcp"))
        self.assertEqual(gr["vision"].tp, gr["language"].cp)  # shared across modules
        self.assertEqual(gr.notes, [])

    def test_high_priority_nccl(self):
        # As Megatron's create_topology: the named groups (plan kinds or fields) get
        # ProcessGroupNCCL.Options(is_high_priority_stream=True), the others none.
        dist = self.dist
        dist._state.update(backend="nccl", rank=9, world=14)
        dist._init[0] = True
        gr = self.ht.init(self.r9, megatron=False,
                          high_priority_stream_groups=["dp", "intra_dist_opt"])
        hp = {c[1] for c in dist.calls if c[0] == "new_group" and c[3]}
        self.assertEqual(hp, {self.r9.groups["dp"].members, self.r9.groups["tp_cp_dp_pp"].members})
        self.assertEqual(len([c for c in dist.calls if c[0] == "new_group" and c[2]]),
                         len(g.group_spec(self.r9).create))
        self.assertEqual(gr.notes, [])

    def test_high_priority_world_group(self):
        # A high-priority group whose members are the world is created, not the default
        # group (which has no high-priority stream).
        dist = self.dist
        dist._state.update(backend="cpu:gloo,cuda:nccl", rank=3, world=8)
        dist._init[0] = True
        gr = self.ht.init(self.c3, megatron=False, high_priority_stream_groups=["tp_cp_dp_pp"])
        made = [c for c in dist.calls if c[0] == "new_group"]
        self.assertEqual([c for c in made if c[3]], [("new_group", tuple(range(8)), True, True)])
        self.assertEqual([c[1] for c in made],
                         g.group_spec(self.c3, high_priority={"tp_cp_dp_pp"}).create)
        self.assertEqual(gr["language"].intra_dist_opt, ("pg", tuple(range(8))))
        self.assertEqual(gr["vision"].dp, ("pg", tuple(range(8))))  # the same membership
        self.assertEqual(gr.group(range(8)), ("pg", tuple(range(8))))

    def test_high_priority_gloo_ignored(self):
        os.environ.update(RANK="0", WORLD_SIZE="8")
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            gr = self.ht.init(self.rank_plan("configs/colocated-8.yaml", 0),
                              high_priority_stream_groups=["ep", "tp"])
        note = ("high_priority_stream_groups (ep, tp) ignored: the backend is gloo, and "
                "high-priority streams are NCCL's")
        self.assertEqual(gr.notes, [note])
        self.assertEqual([str(x.message) for x in w], ["hgrid.torch: " + note])
        self.assertEqual({c[3] for c in self.dist.calls if c[0] == "new_group"}, {None})

    def test_high_priority_unknown_name(self):
        with self.assertRaises(self.ht.HgridTorchError) as cm:
            self.ht.init(self.r9, high_priority_stream_groups=["dp", "hcp", "dpcp"])
        self.assertEqual(str(cm.exception), (
            "high_priority_stream_groups: 'hcp', 'dpcp' are no group of the plan %s; the "
            "valid names (plan kinds and ProcessGroupCollection fields): %s"
            % (self.r9.path, ", ".join(g.group_spec(self.r9).field_names))))
        self.assertEqual(self.dist.calls, [])  # refused before anything is created
        with self.assertRaises(self.ht.HgridTorchError) as cm:
            self.ht.init(self.r9, high_priority_stream_groups="ep")
        self.assertEqual(str(cm.exception), "high_priority_stream_groups must be a list of "
                         "group names, not the string 'ep'")


def _python(code, *args, cwd=None, pythonpath=None):
    env = dict(os.environ, PYTHONPATH=pythonpath or _util.PYDIR)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)] + list(args), cwd=cwd,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                          ).stdout.decode().strip()


class NoTorch(_util.TempDirCase):
    def test_import_no_torch(self):
        out = _python('''
            import sys, hgrid, hgrid.torch, hgrid._groups
            print("torch" in sys.modules)''')
        self.assertEqual(out, "False")

    def plan_file(self):
        _util.need_launch(self)
        path = os.path.join(self.tmp, "c3.json")
        with open(path, "wb") as f:
            f.write(_util.dry_run("--format", "json", "--rank", "3", "configs/colocated-8.yaml"))
        return path

    def test_old_torch(self):
        path = self.plan_file()
        old = os.path.join(self.tmp, "old")
        _write(os.path.join(old, "torch", "__init__.py"), FAKE_TORCH)
        _write(os.path.join(old, "torch", "distributed", "__init__.py"),
               FAKE_DIST.replace("use_local_synchronization=False, ", ""))
        out = _python('''
            import sys, hgrid, hgrid.torch as ht
            try:
                ht.init(hgrid.plan(sys.argv[1]))
            except ht.HgridTorchError as e:
                print(e)''', path, pythonpath=_util.PYDIR + os.pathsep + old)
        self.assertEqual(out, "hgrid.torch needs torch >= 2.1 (torch.distributed.new_group(..., "
                         "use_local_synchronization=True)); this is torch 2.11.0+fake. hgrid "
                         "creates only this rank's groups and does not fall back to creating "
                         "every group on every rank")

    def test_without_torch(self):
        # torch hidden by a meta path entry, as if not installed, so the case is the same
        # where torch is installed.
        out = _python('''
            import sys
            class NoTorch:
                def find_spec(self, name, path=None, target=None):
                    if name == "torch":
                        raise ModuleNotFoundError("No module named 'torch'", name="torch")
                    return None
            for m in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
                del sys.modules[m]
            sys.meta_path.insert(0, NoTorch())
            import hgrid, hgrid.torch as ht
            try:
                ht.init(hgrid.plan(sys.argv[1]))
            except ht.HgridTorchError as e:
                print("%s: %s (from %s)" % (type(e).__name__, e, type(e.__cause__).__name__))
            except BaseException as e:
                print("%s: %s" % (type(e).__name__, e))
            else:
                print("init() returned")''', self.plan_file())
        self.assertEqual(out, "HgridTorchError: hgrid.torch needs torch >= 2.1, and torch is not "
                         "installed (No module named 'torch'); install it (pip install "
                         "'torch>=2.1'), or use hgrid.plan(), which needs no torch (from "
                         "ModuleNotFoundError)")


if __name__ == "__main__":
    unittest.main()
