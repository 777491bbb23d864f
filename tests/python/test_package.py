"""The package as a whole: its version is include/hgrid/base.h's (and the wheel's), the
environment names it reads are the ones common/wire/protocol.h and the exec handoff give, the
plan schema it reads is common/grid/plan.h's, the plan's kinds are its only table of kinds,
typed (py.typed, Group.members a tuple), one base exception, and `pip install
--no-index --no-build-isolation ./python` into a fresh venv (offline)."""
import ast
import glob
import os
import re
import subprocess
import sys
import unittest

import _util

import hgrid
import hgrid.torch


def _read(*path):
    with open(os.path.join(_util.ROOT, *path), encoding="utf-8") as f:
        return f.read()


# Environment names the package reads that no C program sets: the user's own settings.
PYTHON_ONLY_ENV = {"HGRID_TORCH_BACKEND"}


def _env_names_read(source):
    """The environment names a module reads: the string (or the module constant naming
    it, or each name of a `for NAME in (...)` tuple) given to os.environ.get,
    os.environ[...], os.getenv or hgrid.torch's _env_int."""
    tree = ast.parse(source)
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
              for t in n.targets if isinstance(t, ast.Name)}
    loops = {}
    for n in ast.walk(tree):
        if (isinstance(n, ast.For) and isinstance(n.target, ast.Name)
                and isinstance(n.iter, (ast.Tuple, ast.List))):
            loops.setdefault(n.target.id, set()).update(
                e.value for e in n.iter.elts if isinstance(e, ast.Constant))

    def names(arg):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return {arg.value}
        if isinstance(arg, ast.Name) and arg.id in consts:
            return {consts[arg.id]}
        if isinstance(arg, ast.Name) and arg.id in loops:
            return loops[arg.id]
        return set()  # a parameter (_env_int's own name): its callers are counted

    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and n.args:
            f = ast.unparse(n.func)
            if f in ("os.environ.get", "os.getenv", "_env_int"):
                out |= names(n.args[0])
        elif isinstance(n, ast.Subscript) and ast.unparse(n.value) == "os.environ":
            out |= names(n.slice)
    return out


class EnvNames(unittest.TestCase):
    """What python/hgrid reads from the environment is what the C side sets: the names
    are read from common/wire/protocol.h (HG_ENV_*) and from the exec handoff's own literals
    (agent/handoff.c: torchrun's RANK, WORLD_SIZE, ...), not copied here."""

    def setUp(self):
        self.defined = dict(re.findall(r'^#define (HG_ENV_[A-Z_]+) "([A-Z_]+)"',
                                       _read("common", "wire", "protocol.h"), re.M))
        self.handoff = set(re.findall(r'\b(?:set_int|setenv)\("([A-Z_]+)"',
                                      _read("agent", "handoff.c")))
        self.read = set()
        for f in sorted(glob.glob(os.path.join(_util.PYDIR, "hgrid", "*.py"))):
            with open(f, encoding="utf-8") as fh:
                self.read |= _env_names_read(fh.read())

    def test_sources_found(self):
        # The parsers above found what they look for (else the tests below prove nothing).
        self.assertIn("HG_ENV_PLAN", self.defined)
        self.assertIn("RANK", self.handoff)
        self.assertIn("HGRID_PLAN", self.read)
        self.assertIn("MASTER_PORT", self.read)

    def test_every_name_read_is_set_by_hgrid(self):
        given = set(self.defined.values()) | self.handoff
        self.assertEqual(sorted(self.read - given - PYTHON_ONLY_ENV), [])
        # A user setting that the C side starts to define is no longer Python's alone.
        self.assertEqual(sorted(PYTHON_ONLY_ENV & given), [])
        self.assertEqual(sorted(PYTHON_ONLY_ENV - self.read), [])

    def test_constants_are_protocol_h(self):
        from hgrid import _heartbeat, _plan
        self.assertEqual(_plan.ENV, self.defined["HG_ENV_PLAN"])
        self.assertEqual(_heartbeat.ENV_FD, self.defined["HG_ENV_HEARTBEAT_FD"])
        self.assertEqual(_heartbeat.ENV_RESTART_COUNT, self.defined["HG_ENV_RESTART_COUNT"])


class Package(_util.TempDirCase):
    def test_version_is_base_h(self):
        base = _read("include", "hgrid", "base.h")
        want = ".".join(re.search(r"^#define HG_VERSION_%s (\d+)" % p, base, re.M).group(1)
                        for p in ("MAJOR", "MINOR", "PATCH"))
        self.assertEqual(hgrid.__version__, want)
        self.assertNotRegex(_read("python", "pyproject.toml"), r"(?m)^version\s*=")
        sys.path.insert(0, _util.PYDIR)
        try:
            import _build_backend
        finally:
            sys.path.remove(_util.PYDIR)
        self.assertEqual(_build_backend._project()[:2], ("hgrid", want))

    def test_plan_version_is_plan_h(self):
        v = re.search(r"^#define HG_PLAN_VERSION (\d+)", _read("common", "grid", "plan.h"), re.M)
        self.assertEqual(hgrid.RANK_PLAN_VERSION, int(v.group(1)))

    def test_no_table_of_kinds(self):
        # Kinds and their fields come from the plan: the package names kinds only in
        # the fields of older plans (intra_dp_cp = dp_cp, ...), and rewrites no names.
        from hgrid import _groups
        self.assertEqual({k for ks in _groups.FALLBACK_FIELDS.values() for k in ks}, {
            "dp_cp", "expt_dp", "tp_cp_dp_pp", "gtp_remat_dp_cp", "ep_gtp_remat_dp",
            "tp_ep_gtp_remat_pp", "tp_ep_pp"})
        for name in ("FIELDS", "FIELD_KIND", "KIND_ORDER", "PARTIAL_KINDS", "MEGATRON_ALIASES",
                     "EXTRA_FIELD_KIND", "gtp_reduced"):
            self.assertFalse(hasattr(_groups, name), name)
        self.assertFalse(hasattr(hgrid.torch, "FIELDS"))

    def test_plan_kinds_and_version(self):
        _util.need_launch(self)
        path = os.path.join(self.tmp, "r5.json")
        with open(path, "wb") as f:
            f.write(_util.dry_run("--format", "json", "--rank", "5", "tests/golden/vlm8_moe.yaml"))
        p = hgrid.plan(path)
        self.assertEqual(p.version, 1)
        self.assertEqual(list(p.kinds), list(p.groups))
        self.assertEqual(p.kinds["dp_cp"], hgrid.Kind(name="dp_cp", view="dense", dims=("cp", "dp"),
                                                      fields=("dp_cp", "intra_dp_cp")))
        self.assertEqual(p.kinds["embd"], hgrid.Kind(name="embd", view="dense", dims=("pp",),
                                                     members="first and last",
                                                     roles=("language",), fields=("embd",)))
        self.assertEqual(p.kinds["tp_ep_gtp_remat_pp"].fields, ("tp_ep_pp_with_egtp_remat",))
        self.assertEqual((p.module.gtp_remat, p.module.expert_gtp_remat), (1, 1))
        self.assertEqual(p.groups["dp"].members, (5, 7))
        self.assertIsInstance(p.groups["tp"].members, tuple)

    def test_typed(self):
        self.assertTrue(os.path.isfile(os.path.join(_util.PYDIR, "hgrid", "py.typed")))
        self.assertIn("return", hgrid.plan.__annotations__)
        self.assertIn("return", hgrid.load_plan.__annotations__)
        self.assertIn("return", hgrid.torch.init.__annotations__)

    def test_one_base_exception(self):
        self.assertTrue(issubclass(hgrid.PlanError, hgrid.HgridError))
        self.assertTrue(issubclass(hgrid.torch.HgridTorchError, hgrid.HgridError))
        self.assertTrue(issubclass(hgrid.torch.HgridTorchError, RuntimeError))

    def test_pip_install_offline(self):
        venv = os.path.join(self.tmp, "venv")
        log = []

        def run(*cmd, **kw):
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
            log.append(r.stdout.decode(errors="replace"))
            return r.returncode == 0
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        ok = (run(sys.executable, "-m", "venv", "--system-site-packages", venv)
              and run(os.path.join(venv, "bin", "pip"), "install", "--no-index",
                      "--no-build-isolation", "--disable-pip-version-check", "-q", _util.PYDIR)
              and run(os.path.join(venv, "bin", "python"), "-c",
                      "import os, sys, hgrid, hgrid.torch\n"
                      "assert hgrid.__file__.startswith(sys.prefix), hgrid.__file__\n"
                      "assert 'torch' not in sys.modules\n"
                      "assert os.path.isfile(os.path.join(os.path.dirname(hgrid.__file__),"
                      " 'py.typed'))\n"
                      "from importlib.metadata import version\n"
                      "assert version('hgrid') == hgrid.__version__, version('hgrid')\n",
                      cwd="/", env=env))
        self.assertTrue(ok, "\n".join(log)[-3000:])


if __name__ == "__main__":
    unittest.main()
