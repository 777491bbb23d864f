#!/bin/bash
# Hang types (issue 25): 4 torch gloo ranks on CPU (Debian's python3-torch, in
# /usr/bin/python3) all-reduce each step and heartbeat; one rank hangs. For each kind of
# hang: exit 5, that rank named the culprit, no other rank named, and the culprit's
# line within the stall timeout + 3 s of the hang's start (the rank writes the time it
# hangs; the launcher's stderr is stamped line by line as it arrives). Then the flight
# recorder's divergence (a stand-in recorder, torch 1.13 has none). The lost host
# (a rank dead without exit) is tests/cluster_test.sh's. Skipped, passing, without torch.
L=$(realpath "${HGRID_LAUNCH:-build/test/bin/hgrid-launch}")
PY=${HGRID_TORCH_PYTHON:-/usr/bin/python3}
. tests/lib.sh
mpi_env
suite hang
if ! "$PY" -c 'import torch.distributed' 2>/dev/null; then
  echo "hang: torch not found in $PY: skipped (scripts/install-deps.sh installs python3-torch)"
  summary; exit
fi
export PYTHONPATH=$PWD/python
cc -shared -fPIC -O0 -o "$T/spin.so" tests/hang/spin.c || exit 1
export HANG_SPIN_SO=$T/spin.so
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    dp: 4\nagent:\n  backend: mpi\n' >"$T/dp4.yaml"
STALL=2

# hang NAME KIND RANK [launcher options...]: runs the trainer; RC, the stamped stderr in
# $T/NAME.err (each line "SECONDS LINE"), the report in $T/NAME.json.
hang() {
  local name=$1 kind=$2 rank=$3; shift 3
  HANG=$kind HANG_RANK=$rank HANG_MARK=$T/$name.mark "$L" --backend mpi --grace 2 \
    --report "$T/$name.json" "$@" "$T/dp4.yaml" -- "$PY" tests/hang/train.py 2>&1 >"$T/$name.out" |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$T/$name.err"
  RC=${PIPESTATUS[0]}
}
# culprit_is NAME RANK: RANK is the one culprit named, in the lines and in the report.
culprit_is() {
  [[ $(grep -c ' hgrid: culprit: ' "$T/$1.err") -eq 1 ]] && grep -q " hgrid: culprit: rank $2 (language, dp $2) " "$T/$1.err" &&
    "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["stall"]; sys.exit(not ([c["rank"] for c in s["culprits"]] == [int(sys.argv[2])] and sum(w["count"] for w in s["waiting"]) == 3))' "$T/$1.json" "$2"
}
# in_time NAME LIMIT: seconds from the hang's start to the culprit's line, below LIMIT.
in_time() {
  local at took
  at=$(awk '/ hgrid: culprit: /{print $1; exit}' "$T/$1.err")
  [[ -n "$at" && -s "$T/$1.mark" ]] || return 1
  took=$(echo "$at - $(cat "$T/$1.mark")" | bc)
  echo "     $1: culprit named $took s after the hang began"
  (( $(echo "$took < $2" | bc) ))
}
show() { echo "     rc=$RC"; sed 's/^/     | /' "$T/$1.err" | grep -v '  File ' | tail -n "${2:-20}"; }

for c in "sleep:2:load_batch" "lock:1:deadlock" "mismatch:3:broadcast" "stop:2:" "cloop:0:c_loop"; do
  IFS=: read -r kind rank frame <<<"$c"
  hang "$kind" "$kind" "$rank" --stall-timeout $STALL
  check "$kind: exit 5" test "$RC" -eq 5 || show "$kind"
  check "$kind: rank $rank is the one culprit, 3 waiters" culprit_is "$kind" "$rank" || show "$kind"
  [[ -n "$frame" ]] && { check "$kind: its top frames say where" grep -qE " hgrid:   .*train.py:[0-9]+ in $frame\$| hgrid: culprit: .* in $frame while" "$T/$kind.err" || show "$kind"; }
  check "$kind: named within the stall timeout + 3 s" in_time "$kind" $((STALL + 3))
done
check "stop: no stack, said why" grep -q ' hgrid: culprit: rank 2 (language, dp 2) on .*, last step 3: no stack: it did not answer SIGUSR1' "$T/stop.err" || show stop
check "mismatch: said as a mismatch" grep -q ' hgrid: culprit: rank 3 .*: in broadcast while the others of its language dp \[0, 1, 2, 3\] are in all_reduce$' "$T/mismatch.err" || show mismatch

# Before the first heartbeat: rank 1 never reaches init_process_group; the others wait
# in it, heartbeat-less too, so only --first-beat-timeout catches it.
hang prebeat prebeat 1 --first-beat-timeout 4
check "first beat: exit 5, the late ranks said" test "$RC" -eq 5 -a "$(grep -c ' hgrid: ranks 0-3 (language) sent no heartbeat within 4 s of go (--first-beat-timeout)$' "$T/prebeat.err")" -eq 1 || show prebeat
check "first beat: no stack to be had, said so" grep -q " hgrid: no rank's stack came back (never heartbeat)" "$T/prebeat.err" || show prebeat

# The flight recorder (issue 25; torch 2.5+, a stand-in here: tests/hang/fake_flight.py):
# rank 2 entered all-reduces #1-#3 and sleeps, the others entered #4 and block outside
# torch.distributed (as NCCL's waiters may), so the stacks alone would name all four.
HANG_RANK=2 "$L" --backend mpi --grace 2 --stall-timeout $STALL --report "$T/flight.json" \
  "$T/dp4.yaml" -- "$PY" tests/hang/fake_flight.py >"$T/flight.out" 2>"$T/flight.err"
RC=$?
fshow() { echo "     rc=$RC"; grep -v '^  File ' "$T/flight.err" | tail -25 | sed 's/^/     | /'; }
check "flight: exit 5" test "$RC" -eq 5 || fshow
check "flight: the divergence said" grep -qx 'hgrid: flight recorder: rank 2 did not enter all_reduce #4 of language dp \[0, 1, 2, 3\]; ranks 0-1, 3 wait in it' "$T/flight.err" || fshow
check "flight: rank 2 the one culprit, by the recorder" test "$(grep -c '^hgrid: culprit: ' "$T/flight.err")" -eq 1 -a \
  "$(grep -c '^hgrid: culprit: rank 2 (language, dp 2) on .*, last step 3: did not enter all_reduce #4 of language dp \[0, 1, 2, 3\] (flight recorder)$' "$T/flight.err")" -eq 1 || fshow
check "flight: the report's stall.diverged" "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["stall"]["diverged"]; sys.exit(d != [{"group": "language dp [0, 1, 2, 3]", "op": "all_reduce", "seq": 4, "behind": [2], "waiting": [0, 1, 3]}])' "$T/flight.json" || fshow

# The flight recorder's buffer (protocol.h HG_ENV_TORCH_FR_BUFFER): set for each rank under
# its new name only (torch 2.11 warns on every rank about the old one), the user's own
# value kept under either name.
show_fr='echo "fr=${TORCH_FR_BUFFER_SIZE-unset} old=${TORCH_NCCL_TRACE_BUFFER_SIZE-unset}"'
"$L" --backend mpi configs/smoke-2gpu.yaml -- sh -c "$show_fr" >"$T/trace.out" 2>&1
check "TORCH_FR_BUFFER_SIZE: 2000 in each rank, the deprecated name unset" \
  test "$(grep -c '^fr=2000 old=unset$' "$T/trace.out")" -eq 2 || cat "$T/trace.out"
TORCH_NCCL_TRACE_BUFFER_SIZE=17 "$L" --backend mpi configs/smoke-2gpu.yaml -- sh -c "$show_fr" >"$T/trace.out" 2>&1
check "TORCH_NCCL_TRACE_BUFFER_SIZE: the user's value kept, no second name added" \
  test "$(grep -c '^fr=unset old=17$' "$T/trace.out")" -eq 2 || cat "$T/trace.out"
TORCH_FR_BUFFER_SIZE=0 "$L" --backend mpi configs/smoke-2gpu.yaml -- sh -c "$show_fr" >"$T/trace.out" 2>&1
check "TORCH_FR_BUFFER_SIZE: the user's 0 (off) kept" \
  test "$(grep -c '^fr=0 old=unset$' "$T/trace.out")" -eq 2 || cat "$T/trace.out"
summary
