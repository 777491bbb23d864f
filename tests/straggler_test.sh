#!/bin/bash
# Stragglers (issue 25 item 5): 4 torch gloo ranks on CPU (Debian's python3-torch, in
# /usr/bin/python3) compute ~40 ms a step (sleeping: CPU contention on a loaded machine
# would make a spinning rank truly slower), all-reduce and heartbeat, their collectives
# timed by hgrid.torch.time_collectives. One rank computing 15% more is named once,
# within the window and the launcher's second of latency; a balanced run names nobody;
# without the timing (step times only, which the all-reduce evens out) nobody is named;
# --stragglers and agent.stragglers change or turn it off. Skipped, passing, without torch.
L=$(realpath "${HGRID_LAUNCH:-build/test/bin/hgrid-launch}")
PY=${HGRID_TORCH_PYTHON:-/usr/bin/python3}
. tests/lib.sh
mpi_env
suite straggler
if ! "$PY" -c 'import torch.distributed' 2>/dev/null; then
  echo "straggler: torch not found in $PY: skipped (scripts/install-deps.sh installs python3-torch)"
  summary; exit
fi
export PYTHONPATH=$PWD/python COMPUTE_MS=40
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    dp: 4\nagent:\n  backend: mpi\n' >"$T/dp4.yaml"
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    dp: 4\nagent:\n  backend: mpi\n  stragglers: "off"\n' >"$T/off.yaml"

# run NAME CONFIG [launcher options...]: RC, stderr in $T/NAME.err, the report in $T/NAME.json.
run() {
  local name=$1 cfg=$2; shift 2
  "$L" --backend mpi --report "$T/$name.json" "$@" "$T/$cfg" -- "$PY" tests/hang/straggle.py \
    >"$T/$name.out" 2>"$T/$name.err"
  RC=$?
}
named() { grep -c ' is a straggler: ' "$T/$1.err"; }
show() { echo "     rc=$RC"; sed 's/^/     | /' "$T/$1.err" | tail -n 12; }
# report NAME EXPR: EXPR (Python, over s = the report's "stragglers" or None) holds.
report() { "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])).get("stragglers"); sys.exit(not eval(sys.argv[2]))' "$T/$1.json" "$2"; }

SLOW_RANK=2 SLOW_PCT=15 STEPS=80 run slow dp4.yaml
check "slow: exit 0" test "$RC" -eq 0 || show slow
check "slow: rank 2 named, once" test "$(named slow)" -eq 1 || show slow
check "slow: the line" grep -qE '^hgrid: rank 2 \(language, dp 2\) is a straggler: 1[0-9]% slower than the median of language'"'"'s other 3 ranks over steps [0-9]+-[0-9]+ \([0-9]+\.[0-9] ms vs [0-9]+\.[0-9] ms of compute a step\)$' "$T/slow.err" || show slow
# Named once the window (20 steps) is full and the launcher has seen it: heartbeats are
# forwarded every 0.5 s and compared every 0.5 s, about 25 steps of 40 ms at most.
check "slow: named by step 45" report slow 'len(s) == 1 and s[0]["rank"] == 2 and 10 <= s[0]["slower_pct"] <= 20 and s[0]["peers"] == 3 and s[0]["to_step"] - s[0]["from_step"] >= 20 and s[0]["to_step"] <= 45' || show slow
"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["stragglers"][0]; print("     slow: named at step %d (window %d-%d), %d%% (%.1f vs %.1f ms)" % (s["to_step"], s["from_step"], s["to_step"], s["slower_pct"], s["compute_ms"], s["peers_median_ms"]))' "$T/slow.json" 2>/dev/null

STEPS=150 run balanced dp4.yaml
check "balanced: exit 0, nobody named" test "$RC" -eq 0 -a "$(named balanced)" -eq 0 || show balanced
check "balanced: no stragglers in the report" report balanced 's is None' || show balanced

# Step times only: the all-reduce makes every rank's step as long as the slowest's.
TIMED=0 SLOW_RANK=2 SLOW_PCT=15 STEPS=80 run untimed dp4.yaml
check "untimed: nobody named (heartbeats say no compute)" test "$RC" -eq 0 -a "$(named untimed)" -eq 0 || show untimed

SLOW_RANK=1 SLOW_PCT=15 STEPS=80 run cli_off dp4.yaml --stragglers off
check "--stragglers off: nobody named" test "$RC" -eq 0 -a "$(named cli_off)" -eq 0 || show cli_off
# agent.stragglers: "off", and --stragglers overriding it.
SLOW_RANK=1 SLOW_PCT=15 STEPS=80 run cfg_off off.yaml
check "agent.stragglers off: nobody named" test "$RC" -eq 0 -a "$(named cfg_off)" -eq 0 || show cfg_off
SLOW_RANK=1 SLOW_PCT=15 STEPS=80 run cli_over off.yaml --stragglers 10:30
check "--stragglers 10:30 over agent.stragglers off: rank 1 named over 30 steps" report cli_over 'len(s) == 1 and s[0]["rank"] == 1 and s[0]["to_step"] - s[0]["from_step"] >= 30' || show cli_over
summary
