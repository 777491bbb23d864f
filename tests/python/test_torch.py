"""hgrid.torch without torch (CI has none): `import hgrid.torch` imports no torch; its
torch-free logic (which groups, shared memberships, Megatron fields, from the plan's
kinds); init() against a stand-in torch.distributed that records its calls (local
synchronization, one group per distinct membership, a Megatron ProcessGroupCollection
with unset fields), the torch < 2.1 error, and init() without torch (hidden, as if not
installed: HgridTorchError naming the torch it needs)."""
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
class group: WORLD = "WORLD"
def is_initialized(): return _init[0]
def init_process_group(backend, init_method=None, rank=None, world_size=None, **kw):
    calls.append(("init", backend, rank, world_size, tuple(sorted(kw)))); _init[0] = True
def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None):
    calls.append(("new_group", tuple(ranks), use_local_synchronization))
    return ("pg", tuple(ranks))
def destroy_process_group(group=None):
    calls.append(("destroy", group))
    if group is None: _init[0] = False
def get_rank(): return 0
def get_world_size(): return 1
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
    def __init__(self, **kw):
        names = [f.name for f in fields(self)]
        for k, v in kw.items():
            if k not in names: raise ValueError("Unknown attribute: %s" % k)
            setattr(self, k, v)
'''
ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")


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
        # The plan's kinds in base.h's order, each Megatron alias after its kind.
        self.assertEqual(g.group_spec(self.c3).field_names, (
            "tp", "cp", "pp", "dp", "dp_cp", "intra_dp_cp", "tp_cp", "mp", "tp_dp",
            "tp_dp_cp", "tp_cp_dp_pp", "ep", "expt_tp", "expt_dp", "intra_expt_dp", "tp_ep",
            "tp_ep_pp", "embd", "pos_embd"))
        self.assertEqual(self.c3.kinds["tp_ep_pp"].dims, ("expt_tp", "ep", "pp"))
        self.assertEqual([k for k, v in self.c3.kinds.items() if v.partial], ["embd", "pos_embd"])
        kinds, unset = g.field_kinds(["tp", "hcp", "intra_dist_opt", "dp_cp_gtp_remat",
                                      "gtp_remat", "embd"], self.c3.kinds)
        self.assertEqual(kinds, {"tp": "tp", "intra_dist_opt": "tp_cp_dp_pp",
                                 "dp_cp_gtp_remat": "dp_cp", "embd": "embd"})
        self.assertEqual(unset, ["hcp", "gtp_remat"])

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
        self.assertEqual([c[1] for c in made], g.group_spec(self.r9).create)
        self.assertEqual({c[2] for c in made}, {True})
        self.assertEqual(gr.pgc.tp, ("pg", tuple(self.r9.groups["tp"].members)))
        self.assertEqual(gr.pgc.embd, ("pg", tuple(self.r9.groups["embd"].members)))
        self.assertEqual(gr.pgc.fields, g.group_spec(self.r9).field_names)
        self.assertEqual(gr.bridges, self.r9.bridges)
        gr.destroy()
        destroys = [c[1] for c in dist.calls if c[0] == "destroy"]
        self.assertIsNone(destroys[-1])
        self.assertEqual(len(destroys), len(made) + 1)

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
        self.assertEqual(v.unset_fields, ["hcp", "gtp_remat"])
        self.assertIsNone(v.embd)
        self.assertFalse(hasattr(v, "hcp"))
        self.assertEqual(gr["vision"].tp, gr["language"].cp)  # shared across modules


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
