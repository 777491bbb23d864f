#!/usr/bin/env bash
# Tests of the Python package python/hgrid without torch (CI has none):
#   - hgrid.plan() in every rank of real launches (the test launcher under mpirun, MPI
#     backend, exec handoff) of every golden layout of <= 20 ranks (bridges, colocated
#     and two encoders among them): the plan read from HGRID_PLAN equals the dry-run's
#     `--rank N` JSON field by field, and agrees with the rank's environment;
#   - PlanError's exact messages: HGRID_PLAN unset, a missing file, not JSON, not an
#     hgrid plan, the whole layout's plan, a wrong version, a bad field;
#   - `import hgrid` and `import hgrid.torch` import no torch;
#   - hgrid.torch's torch-free logic (which groups, shared memberships, Megatron fields)
#     and init() itself against a stand-in torch.distributed that records its calls
#     (local synchronization, one group per distinct membership, the torch < 2.1 error,
#     a Megatron ProcessGroupCollection with unset fields), and init() without torch
#     (hidden, as if not installed: HgridTorchError naming the torch it needs);
#   - `pip install --no-index --no-build-isolation ./python` into a fresh venv (offline).
#
#   make check-python     (or: HGRID_LAUNCH=build/test/bin/hgrid-launch bash tests/python_test.sh)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
L=${HGRID_LAUNCH:-$PWD/build/test/bin/hgrid-launch}
PY=${PYTHON:-python3}
[[ -x $L ]] || { echo "python_test: $L is not built (make test-programs)"; exit 2; }
command -v "$PY" >/dev/null || { echo "python_test: $PY not found"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_base_warn_component_unused=0
export PYTHONPATH=$ROOT/python PYTHONDONTWRITEBYTECODE=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# The rank program: hgrid.plan() from HGRID_PLAN against the expected JSON.
cat >"$T/rank.py" <<'EOF'
import dataclasses, json, os, sys
import hgrid
exp_dir = sys.argv[1]
p = hgrid.plan()
exp = json.load(open(os.path.join(exp_dir, "%d.json" % p.rank)))
def mp(m):
    return {"module": dataclasses.asdict(m.module), "module_rank": m.module_rank,
            "coords": m.coords,
            "groups": {k: g and {"index": g.index, "rank": g.rank, "members": g.members}
                       for k, g in m.groups.items()}}
top = [m for m in p.modules if m.module.name == p.module.name][0]
got = {"hgrid_rank_plan": 1, "world_size": p.world_size, "rank": p.rank, **mp(top),
       "bridges": [dataclasses.asdict(b) for b in p.bridges]}
if p.layout == "colocated":
    got["modules"] = [mp(m) for m in p.modules]
errs = []
if got != exp:
    errs.append("plan differs from the dry-run: %s" % json.dumps(got))
if json.load(open(os.environ["HGRID_PLAN"])) != exp:
    errs.append("HGRID_PLAN differs from the dry-run")
for var, want in (("RANK", p.rank), ("WORLD_SIZE", p.world_size),
                  ("HGRID_MODULE", p.module.name), ("HGRID_MODULE_RANK", p.module_rank),
                  ("HGRID_TP_RANK", p.coords["tp"]), ("HGRID_DP_SIZE", p.module.dp)):
    if os.environ.get(var) != str(want):
        errs.append("%s=%s, plan says %s" % (var, os.environ.get(var), want))
if os.environ.get("HGRID_MODULES", "").split(",") != [m.module.name for m in p.modules]:
    errs.append("HGRID_MODULES=%s, plan has %s" % (os.environ.get("HGRID_MODULES"), [m.module.name for m in p.modules]))
if "torch" in sys.modules:
    errs.append("import hgrid imported torch")
# A file per rank: mpirun's output forwarding may lose lines of a process that exits fast.
with open(os.path.join(exp_dir, "out.%d" % p.rank), "w") as f:
    f.write("rank %d %s\n" % (p.rank, "; ".join(errs) if errs else "plan-ok"))
sys.exit(1 if errs else 0)
EOF

layouts=()
for y in tests/golden/*.yaml; do
    n=$("$L" --dry-run --format json "$y" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["world_size"])')
    ((n <= 20)) && layouts+=("$y:$n")
done
for e in "${layouts[@]}"; do
    y=${e%:*} n=${e##*:} name=$(basename "$y" .yaml)
    mkdir -p "$T/$name"
    for ((r = 0; r < n; r++)); do
        "$L" --dry-run --format json --rank $r "$y" >"$T/$name/$r.json" 2>/dev/null
    done
    timeout 120 "$L" --backend mpi --mpi-arg=--oversubscribe "$y" -- "$PY" "$T/rank.py" "$T/$name" \
        >"$T/$name.out" 2>&1
    rc=$?
    good=$(cat "$T/$name"/out.* 2>/dev/null | grep -c '^rank [0-9]* plan-ok$')
    if [[ $rc == 0 && $good == "$n" ]]; then
        ok "hgrid.plan() on $name: $n ranks equal their dry-run plans"
    else
        bad "hgrid.plan() on $name: status $rc, $good of $n ranks ok"
        cat "$T/$name"/out.* 2>/dev/null | grep -v plan-ok | head -5
        tail -20 "$T/$name.out"
    fi
done

# Local synchronization names a group by its members and the creating rank's count of
# groups so far: every member must create each group as its same n-th one, or they wait
# under different names forever (hgrid/_groups.py). Checked for every rank of every
# golden layout, big128 included, and a 64-rank MoE layout with pp 2.
cat >"$T/names.py" <<'EOF'
import glob, os, sys
import hgrid
from hgrid import _groups as g
bad = 0
for d in sys.argv[1:]:
    at = {}
    n = len(glob.glob(os.path.join(d, "*.json")))
    for r in range(n):
        spec = g.group_spec(hgrid.plan(os.path.join(d, "%d.json" % r)))
        for i, members in enumerate(spec.create):
            at.setdefault(members, {})[r] = i
    wrong = [(m, c) for m, c in at.items() if len(set(c.values())) != 1 or sorted(c) != list(m)]
    name = os.path.basename(d)
    if wrong:
        bad += 1
        m, c = wrong[0]
        print("FAIL group creation order on %s: %d of %d groups differ, e.g. %s created as "
              "group #%s by ranks %s" % (name, len(wrong), len(at), list(m),
                                          sorted(set(c.values())), sorted(c)))
    else:
        print("ok   group creation order on %s: %d ranks, each of %d groups created as the "
              "same n-th group by all its members" % (name, n, len(at)))
sys.exit(1 if bad else 0)
EOF
dirs=()
for y in tests/golden/*.yaml tests/layouts/moe64.yaml; do
    name=names-$(basename "$y" .yaml)
    mkdir -p "$T/$name"
    n=$("$L" --dry-run --format json "$y" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["world_size"])')
    for ((r = 0; r < n; r++)); do
        "$L" --dry-run --format json --rank $r "$y" >"$T/$name/$r.json" 2>/dev/null
    done
    dirs+=("$T/$name")
done
while read -r line; do
    case $line in
    ok*) ok "${line#ok   }" ;;
    *) bad "${line#FAIL }" ;;
    esac
done < <("$PY" "$T/names.py" "${dirs[@]}" 2>&1)

# Error messages, exact.
"$L" --dry-run --format json --rank 5 configs/two-encoders-14.yaml >"$T/r5.json"
"$L" --dry-run --format json configs/two-encoders-14.yaml >"$T/full.json"
echo '{"hgrid_rank_plan": 2}' >"$T/v2.json"
echo '{"world": 1}' >"$T/other.json"
echo '{"hgrid_rank_plan": 1' >"$T/trunc.json"
"$PY" - "$T/r5.json" >"$T/badfield.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["module"]["tp"] = "2"; print(json.dumps(d))
EOF
check_err() {  # NAME EXPECTED [HGRID_PLAN] [PATH]
    local name=$1 want=$2
    got=$(env -u HGRID_PLAN ${3:+HGRID_PLAN=$3} "$PY" -c '
import sys, hgrid
try:
    hgrid.plan(*sys.argv[1:])
except hgrid.PlanError as e:
    print(e)
else:
    print("no error")' ${4:+"$4"} 2>&1)
    if [[ $got == "$want" ]]; then ok "PlanError: $name"; else bad "PlanError: $name: got '$got', want '$want'"; fi
}
check_err "HGRID_PLAN unset" "HGRID_PLAN is not set: start this program with hgrid-launch (its exec handoff sets it), or pass hgrid.plan(path)"
check_err "HGRID_PLAN names a missing file" "HGRID_PLAN=$T/none.json: cannot read the plan: No such file or directory" "$T/none.json"
check_err "a missing path" "$T/none.json: cannot read the plan: No such file or directory" "" "$T/none.json"
check_err "a directory" "HGRID_PLAN=$T: cannot read the plan: Is a directory" "$T"
check_err "not JSON" "HGRID_PLAN=$T/trunc.json: not JSON: Expecting ',' delimiter: line 2 column 1 (char 22)" "$T/trunc.json"
check_err "not an hgrid plan" "$T/other.json: not an hgrid rank plan (no \"hgrid_rank_plan\" key)" "" "$T/other.json"
check_err "the whole layout's plan" "HGRID_PLAN=$T/full.json: this is the whole layout's plan (\"hgrid_plan\"), not one rank's: use hgrid-launch --dry-run --format json --rank N" "$T/full.json"
check_err "a wrong version" "$T/v2.json: hgrid_rank_plan version 2 is not supported (this hgrid reads version 1)" "" "$T/v2.json"
check_err "a bad field" "$T/badfield.json: not a valid hgrid rank plan: module.tp must be an integer >= 1 (got \"2\")" "" "$T/badfield.json"

# No torch at import.
if "$PY" -c 'import sys, hgrid, hgrid.torch, hgrid._groups; sys.exit("torch" in sys.modules)'; then
    ok "import hgrid, hgrid.torch: torch not imported"
else
    bad "import hgrid imported torch"
fi

# hgrid.torch's logic, and init() against a stand-in torch.distributed.
mkdir -p "$T/fake/torch/distributed" "$T/fake/megatron/core" "$T/old/torch/distributed"
cat >"$T/fake/torch/__init__.py" <<'EOF'
__version__ = "2.11.0+fake"
class _Cuda:
    @staticmethod
    def is_available(): return False
cuda = _Cuda()
def device(*a): return ("device",) + a
EOF
cat >"$T/fake/torch/distributed/__init__.py" <<'EOF'
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
EOF
cp "$T/fake/torch/__init__.py" "$T/old/torch/"
sed 's/use_local_synchronization=False, //' "$T/fake/torch/distributed/__init__.py" \
    >"$T/old/torch/distributed/__init__.py"
touch "$T/fake/megatron/__init__.py" "$T/fake/megatron/core/__init__.py"
cat >"$T/fake/megatron/core/process_groups_config.py" <<'EOF'
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
EOF
"$L" --dry-run --format json --rank 3 configs/colocated-8.yaml >"$T/c3.json"
"$L" --dry-run --format json --rank 9 configs/two-encoders-14.yaml >"$T/r9.json"
"$L" --dry-run --format json configs/colocated-8.yaml >"$T/cfull.json"
cat >"$T/logic.py" <<'EOF'
import json, os, sys
import hgrid
from hgrid import _groups as g
T = sys.argv[1]
errs = []
def expect(name, got, want):
    if got != want:
        errs.append("%s: got %r, want %r" % (name, got, want))

c3 = hgrid.plan(T + "/c3.json")
spec = g.group_spec(c3)
# Colocated rank 3: vision's and language's groups once each, in module then kind order
# (embd, pos_embd last), ranks 0-7 = the default group.
expect("colocated create", spec.create,
       [(3,), (2, 3), (3, 7), (1, 3), (2, 3, 6, 7), (0, 1, 2, 3)])
fv, unset = spec.fields("vision")
expect("vision dp", fv["dp"], tuple(range(8)))
expect("vision embd", fv["embd"], None)
expect("unset", unset, [])
fl, _ = spec.fields("language")
expect("language fields", sorted(fl), sorted(g.FIELDS))
expect("intra_dp_cp", fl["intra_dp_cp"], fl["dp_cp"])
expect("intra_expt_dp", fl["intra_expt_dp"], fl["expt_dp"])
expect("embd", fl["embd"], (3, 7))
expect("pos_embd", fl["pos_embd"], (3,))
nows = g.group_spec(c3, share_world=False)
expect("share_world off", [m for m in nows.create if m not in spec.create], [tuple(range(8))])
kinds, unset = g.field_kinds(["tp", "hcp", "intra_dist_opt", "dp_cp_gtp_remat", "gtp_remat", "embd"])
expect("field kinds", kinds, {"tp": "tp", "intra_dist_opt": "tp_cp_dp_pp",
                              "dp_cp_gtp_remat": "dp_cp", "embd": "embd"})
expect("field unset", unset, ["hcp", "gtp_remat"])
full = json.load(open(T + "/cfull.json"))
expect("megatron order", len(g.megatron_order(full)),
       sum(len(v) for m in full["groups"].values() for v in m.values()))
expect("megatron order dedup", len(g.megatron_order(full, dedup=True)),
       len({tuple(x) for m in full["groups"].values() for v in m.values() for x in v}))

# init() on the stand-in torch: env, one local-sync new_group per distinct membership.
sys.path.insert(0, T + "/fake")
import hgrid.torch as ht
import torch.distributed as dist
os.environ.update(RANK="9", WORLD_SIZE="14", MASTER_ADDR="127.0.0.1", MASTER_PORT="1", LOCAL_RANK="1")
r9 = hgrid.plan(T + "/r9.json")
gr = ht.init(r9, megatron=False)
made = [c for c in dist.calls if c[0] == "new_group"]
expect("init", dist.calls[0], ("init", "gloo", 9, 14, ()))
expect("new_group distinct", [c[1] for c in made], g.group_spec(r9).create)
expect("local sync", {c[2] for c in made}, {True})
expect("pgc tp", gr.pgc.tp, ("pg", tuple(r9.groups["tp"].members)))
expect("pgc embd", gr.pgc.embd, ("pg", tuple(r9.groups["embd"].members)))
expect("bridges", gr.bridges, r9.bridges)
gr.destroy()
expect("destroy", [c[1] for c in dist.calls if c[0] == "destroy"][-1], None)
expect("destroy count", len([c for c in dist.calls if c[0] == "destroy"]), len(made) + 1)
# A rank plan that disagrees with RANK.
os.environ["RANK"] = "8"
try:
    ht.init(r9)
    errs.append("RANK mismatch: no error")
except ht.HgridTorchError as e:
    expect("RANK mismatch", str(e), "RANK=8 WORLD_SIZE=14 but the plan %s/r9.json is rank 9 of 14" % T)
os.environ["RANK"] = "3"; os.environ["WORLD_SIZE"] = "8"; del os.environ["MASTER_PORT"]
try:
    ht.init(c3)
    errs.append("MASTER_PORT unset: no error")
except ht.HgridTorchError as e:
    expect("MASTER_PORT unset", str(e).split(":")[0], "MASTER_PORT is not set")
os.environ["MASTER_PORT"] = "1"
# A Megatron ProcessGroupCollection: the fields hgrid determines, the others unset.
dist.calls.clear()
gr = ht.init(c3)
from megatron.core.process_groups_config import ProcessGroupCollection
v = gr["vision"]
expect("megatron class", type(v), ProcessGroupCollection)
expect("megatron dp = WORLD", v.dp, "WORLD")
expect("megatron intra_dist_opt", gr["language"].intra_dist_opt, "WORLD")
expect("megatron gtp", gr["language"].dp_cp_gtp_remat, ("pg", (1, 3)))
expect("megatron unset", v.unset_fields, ["hcp", "gtp_remat"])
expect("megatron embd None", v.embd, None)
expect("megatron no hcp", hasattr(v, "hcp"), False)
expect("shared across modules", gr["vision"].tp is gr["language"].cp or gr["vision"].tp == gr["language"].cp, True)
print("\n".join(errs) if errs else "logic-ok")
sys.exit(1 if errs else 0)
EOF
if out=$("$PY" "$T/logic.py" "$T" 2>&1) && [[ $out == logic-ok ]]; then
    ok "hgrid.torch logic and init() on a stand-in torch (colocated 8, two encoders 14)"
else
    bad "hgrid.torch logic: $out"
fi
got=$(cd "$T" && PYTHONPATH=$ROOT/python:$T/old "$PY" -c '
import hgrid, hgrid.torch as ht
try:
    ht.init(hgrid.plan("c3.json"))
except ht.HgridTorchError as e:
    print(e)' 2>&1)
want="hgrid.torch needs torch >= 2.1 (torch.distributed.new_group(..., use_local_synchronization=True)); this is torch 2.11.0+fake. hgrid creates only this rank's groups and does not fall back to creating every group on every rank"
if [[ $got == "$want" ]]; then ok "hgrid.torch: torch without local synchronization refused"; else bad "old torch: got '$got'"; fi

# init() without torch: HgridTorchError saying which torch, not a bare
# ModuleNotFoundError. torch is hidden by a meta path entry, as if not installed, so
# the case is the same where torch is installed.
cat >"$T/notorch.py" <<'EOF'
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
    print("init() returned")
EOF
got=$(cd "$T" && "$PY" notorch.py c3.json 2>&1)
want="HgridTorchError: hgrid.torch needs torch >= 2.1, and torch is not installed (No module named 'torch'); install it (pip install 'torch>=2.1'), or use hgrid.plan(), which needs no torch (from ModuleNotFoundError)"
if [[ $got == "$want" ]]; then ok "hgrid.torch.init() without torch: HgridTorchError names torch >= 2.1"; else bad "no torch: got '$got'"; fi

# pip install into a fresh venv, offline.
if "$PY" -m venv --system-site-packages "$T/venv" >"$T/venv.out" 2>&1 &&
    "$T/venv/bin/pip" install --no-index --no-build-isolation --disable-pip-version-check -q \
        "$ROOT/python" >>"$T/venv.out" 2>&1 &&
    (cd / && env -u PYTHONPATH "$T/venv/bin/python" -c '
import sys, hgrid, hgrid.torch
assert hgrid.__file__.startswith(sys.prefix), hgrid.__file__
assert "torch" not in sys.modules') >>"$T/venv.out" 2>&1; then
    ok "pip install --no-index --no-build-isolation ./python in a venv"
else
    bad "pip install into a venv"; tail -15 "$T/venv.out"
fi

echo "python: $pass passed, $fail failed"
((fail == 0))
