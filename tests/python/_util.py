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
GOLDEN_GTP = os.path.join(ROOT, "tests", "golden-gtp")
LAUNCH = os.environ.get("HGRID_LAUNCH", "")

# The plan's kinds of a layout with Generalized Tensor Parallelism, as
# tests/golden-gtp/README.md names them (view, dims, members, roles, fields): the
# rank plans gtp_rank_plans builds from a golden file's group lists carry these.
GTP_KINDS = {
    "tp": ("dense", ["tp"], ["tp"]),
    "cp": ("dense", ["cp"], ["cp"]),
    "pp": ("dense", ["pp"], ["pp"]),
    "dp": ("dense", ["dp"], ["dp"]),
    "dp_cp": ("dense", ["cp", "dp"], ["dp_cp", "intra_dp_cp"]),
    "tp_cp": ("dense", ["tp", "cp"], ["tp_cp"]),
    "mp": ("dense", ["tp", "gtp_remat", "pp"], ["mp"]),
    "tp_dp": ("dense", ["tp", "gtp_remat", "dp"], ["tp_dp"]),
    "tp_dp_cp": ("dense", ["tp", "gtp_remat", "cp", "dp"], ["tp_dp_cp"]),
    "tp_cp_dp_pp": ("dense", ["tp", "gtp_remat", "cp", "dp", "pp"], ["intra_dist_opt"]),
    "ep": ("expert", ["ep"], ["ep"]),
    "expt_tp": ("expert", ["expt_tp"], ["expt_tp"]),
    "expt_dp": ("expert", ["expt_dp"], ["expt_dp", "intra_expt_dp"]),
    "tp_ep": ("expert", ["expt_tp", "ep"], ["tp_ep"]),
    "tp_ep_pp": ("expert", ["expt_tp", "ep", "pp"], ["tp_ep_pp"]),
    "embd": ("dense", ["pp"], ["embd"]),
    "pos_embd": ("dense", ["pp"], ["pos_embd"]),
    "gtp_remat": ("dense", ["gtp_remat"], ["gtp_remat"]),
    "gtp_remat_dp_cp": ("dense", ["gtp_remat", "cp", "dp"], ["dp_cp_gtp_remat"]),
    "expt_gtp_remat": ("expert", ["expt_gtp_remat"], ["expt_gtp_remat"]),
    "tp_ep_gtp_remat_pp": ("expert", ["expt_tp", "ep", "expt_gtp_remat", "pp"],
                           ["tp_ep_pp_with_egtp_remat"]),
    "ep_gtp_remat_dp": ("expert", ["expt_gtp_remat", "expt_dp"], ["expt_dp_gtp_remat"]),
}
# The same kinds as include/hgrid/base.h orders them: the gtp_remat kinds appended.
GTP_APPENDED = ["tp", "cp", "pp", "dp", "dp_cp", "tp_cp", "mp", "tp_dp", "tp_dp_cp",
                "tp_cp_dp_pp", "ep", "expt_tp", "expt_dp", "tp_ep", "tp_ep_pp", "embd",
                "pos_embd", "gtp_remat", "gtp_remat_dp_cp", "expt_gtp_remat",
                "tp_ep_gtp_remat_pp", "ep_gtp_remat_dp"]
PARTIAL = {"embd": "first and last", "pos_embd": "first"}
MODULE_KEYS = ("name", "role", "offset", "size", "tp", "cp", "dp", "pp", "ep", "expert_tp",
               "expert_dp", "gtp_remat", "expert_gtp_remat")


def goldens():
    """(name, yaml path, world size) of every golden layout, by name."""
    out = []
    for f in sorted(os.listdir(GOLDEN)):
        if f.endswith(".yaml"):
            name = f[:-5]
            with open(os.path.join(GOLDEN, name + ".json")) as j:
                out.append((name, os.path.join(GOLDEN, f), json.load(j)["world_size"]))
    return out


def goldens_gtp():
    """(name, json path, world size) of every file in tests/golden-gtp, by name (none
    where the directory is not there)."""
    if not os.path.isdir(GOLDEN_GTP):
        return []
    out = []
    for f in sorted(os.listdir(GOLDEN_GTP)):
        if f.endswith(".json"):
            with open(os.path.join(GOLDEN_GTP, f)) as j:
                out.append((f[:-5], os.path.join(GOLDEN_GTP, f), json.load(j)["world_size"]))
    return out


def gtp_rank_plans(golden, kind_order=None, fields=True):
    """Every rank's plan (dicts, as --rank writes them) built from a golden-gtp file's
    modules and group lists, not by the launcher: its kinds in kind_order (default
    the file's, Megatron's), with "fields" unless fields is False (an older plan)."""
    with open(golden) as f:
        g = json.load(f)
    order = kind_order or list(g["groups"][g["modules"][-1]["name"]])
    kinds = {}
    for k in order:
        view, dims, flds = GTP_KINDS[k]
        kinds[k] = {"view": view, "dims": dims}
        if k in PARTIAL:
            kinds[k].update(members=PARTIAL[k], roles=["language"])
        if fields:
            kinds[k]["fields"] = flds
    world = g["world_size"]
    plans = []
    for r in range(world):
        mods = []
        for m in g["modules"]:
            if not m["offset"] <= r < m["offset"] + m["size"]:
                continue
            groups = {}
            for k in order:
                lists = g["groups"][m["name"]].get(k)
                if lists is None:
                    continue  # a kind the module does not have (embd of an encoder)
                mine = [(i, x) for i, x in enumerate(lists) if r in x]
                groups[k] = mine and {"index": mine[0][0], "rank": mine[0][1].index(r),
                                      "members": mine[0][1]} or None
            mods.append({"module": {key: m[key] for key in MODULE_KEYS},
                         "module_rank": r - m["offset"], "coords": {}, "groups": groups})
        top = [m for m in mods if m["module"]["role"] == "language"] or mods
        plan = {"hgrid_rank_plan": 1, "kinds": kinds, "world_size": world, "rank": r,
                **top[0], "bridges": []}
        if g["layout"] == "colocated":
            plan["modules"] = mods
        plans.append(plan)
    return plans


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
