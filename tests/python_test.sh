#!/usr/bin/env bash
# Tests of the Python package python/hgrid without torch (CI has none): the unittest
# files in tests/python/ (each says what it covers):
#   test_launch.py   hgrid.plan() in every rank of real launches of the golden layouts of
#                    <= 20 ranks, and Python's group sharing against the agent's count;
#   test_order.py    group creation order, every rank of every golden layout, moe64 and
#                    the gtp_remat layouts of tests/golden-gtp (their dry-run plans, and
#                    plans built from their group lists in two kind orders);
#   test_errors.py   PlanError's exact messages;
#   test_torch.py    hgrid.torch's torch-free logic (every ProcessGroupCollection field
#                    from the plan's kinds and "fields", older plans' fallback),
#                    init() on a stand-in torch (high_priority_stream_groups too, the
#                    bridge groups handed to a stand-in BridgeCommunicator's caches), the
#                    bridge caches' keys against Megatron's formulas re-derived from the
#                    golden modules on every rank, torch
#                    too old or missing;
#   test_flight.py   the flight recorder summary (issue 25): torch 2.11-shaped dumps to
#                    lines, written after the stacks on SIGUSR1; none under torch 1.13;
#   test_package.py  version, environment names (protocol.h), plan schema, kinds from the plan, types, exceptions, pip
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
. tests/lib.sh
mpi_env
export HGRID_LAUNCH=$L PYTHONPATH=$ROOT/python PYTHONDONTWRITEBYTECODE=1
suite python

"$PY" -m unittest discover -v -s tests/python >"$T/out" 2>&1
rc=$?
# unittest -v: "NAME (MODULE.CLASS) ... ok", or the name, then the docstring's first line
# and " ... ok"; a skip is not a pass.
prev=
while IFS= read -r line; do
    case $line in
    *' ... ok') ok "${prev:+$prev: }${line% ... ok}" ;;
    *' ... FAIL' | *' ... ERROR' | *' ... skipped '*) bad "${prev:+$prev: }$line" ;;
    *' ('*')') prev=$line; continue ;;
    esac
    prev=
done <"$T/out"
if ((failed > 0 || rc != 0)); then
    sed -n '/^=\{20,\}$/,$p' "$T/out" | head -150
    ((failed > 0)) || failed=1
fi
summary
