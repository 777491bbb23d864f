#!/usr/bin/env bash
# Tests of the Python package python/hgrid without torch (CI has none): the unittest
# files in tests/python/ (each says what it covers):
#   test_launch.py   hgrid.plan() in every rank of real launches of the golden layouts of
#                    <= 20 ranks, and Python's group sharing against the agent's count;
#   test_order.py    group creation order, every rank of every golden layout and moe64;
#   test_errors.py   PlanError's exact messages;
#   test_torch.py    hgrid.torch's torch-free logic, init() on a stand-in torch, torch too
#                    old or missing;
#   test_package.py  version, plan schema, kinds from the plan, types, exceptions, pip
#                    install into a venv offline.
# Also runnable alone: HGRID_LAUNCH=build/test/bin/hgrid-launch python3 -m unittest
# discover -s tests/python (tests that need the launcher skip without it).
#
#   make check-python     (or: HGRID_LAUNCH=build/test/bin/hgrid-launch bash tests/python_test.sh)
# Prints one ok/FAIL line per test and `python: N passed, M failed`.
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
export HGRID_LAUNCH=$L PYTHONPATH=$ROOT/python PYTHONDONTWRITEBYTECODE=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$PY" -m unittest discover -v -s tests/python >"$T/out" 2>&1
rc=$?
# unittest -v: "NAME (MODULE.CLASS) ... ok", or the name, then the docstring's first line
# and " ... ok"; a skip is not a pass.
pass=0
fail=0
prev=
while IFS= read -r line; do
    case $line in
    *' ... ok') pass=$((pass + 1)); echo "ok   ${prev:+$prev: }${line% ... ok}" ;;
    *' ... FAIL' | *' ... ERROR' | *' ... skipped '*)
        fail=$((fail + 1)); echo "FAIL ${prev:+$prev: }$line" ;;
    *' ('*')') prev=$line; continue ;;
    esac
    prev=
done <"$T/out"
if ((fail > 0 || rc != 0)); then
    sed -n '/^=\{20,\}$/,$p' "$T/out" | head -150
    ((fail > 0)) || fail=1
fi
echo "python: $pass passed, $fail failed"
((fail == 0))
