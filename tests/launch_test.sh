#!/usr/bin/env bash
# Launcher integration tests: hgrid-launch standalone (supervising mpirun), inside an
# mpirun job, and inside a real local SLURM step, with the MPI backend. Fault cases
# assert the exit status, the message, that they finish in seconds, and that no
# process the launch started is left: descendants are recorded by PID while the job
# runs (never matched by name) and checked after it ends.
# Usage: HGRID_LAUNCH=build/bin/hgrid-launch bash tests/launch_test.sh [--no-slurm]
set -u
cd "$(dirname "$0")/.."
L=$(realpath "${HGRID_LAUNCH:-build/bin/hgrid-launch}")
CFG=configs/vlm-8gpu-moe.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Loopback only, and no complaints about missing high-speed fabrics.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_pml=ob1
unset HGRID_TEST_FAIL_RANK HGRID_TEST_ABORT_RANK HGRID_TEST_HANG_RANK

T=$(mktemp -d /tmp/hgrid-launch-test.XXXXXX)
# Plan files of in-job runs land here; a standalone launch removes its own.
export TMPDIR=$T
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # name condition-command...
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
has() { grep -qF -- "$2" "$1"; }

# All current descendants of $1, by PID.
descendants() {
  ps -eo pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q];
          if (q == root && p != root) print p } }'
}

# Runs the launcher in the background, recording descendants every 0.1 s.
# start NAME ARGS... ; then `finish NAME` waits, sets RC and ELAPSED.
start() {
  local name=$1; shift
  : >"$T/$name.pids"
  local t0=$(date +%s%N)
  "$L" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  LPID=$!
  echo "$t0" >"$T/$name.t0"
  ( while kill -0 "$LPID" 2>/dev/null; do descendants "$LPID" >>"$T/$name.pids"; sleep 0.1; done ) &
  WATCH=$!
}
finish() {
  local name=$1
  wait "$LPID"; RC=$?
  wait "$WATCH" 2>/dev/null
  ELAPSED=$(( ($(date +%s%N) - $(cat "$T/$name.t0")) / 1000000 ))
}
none_left() {
  local name=$1 p left=""
  sleep 0.2
  for p in $(sort -u "$T/$name.pids"); do
    kill -0 "$p" 2>/dev/null && left="$left $p"
  done
  [[ -z "$left" ]] || { echo "     left running:$left"; ps -o pid,ppid,cmd -p ${left// /,} | sed 's/^/     /'; }
  [[ -s "$T/$name.pids" && -z "$left" ]]
}
under() { (( ELAPSED < $1 * 1000 )); }  # seconds
wait_for() { # file text seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do has "$1" "$2" && return 0; sleep 0.1; done
  return 1
}
show() { echo "     rc=$RC elapsed=${ELAPSED}ms"; sed 's/^/     | /' "$T/$1.err" | tail -n "${2:-8}"; }

ENVPROG='echo "env rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK/$LOCAL_WORLD_SIZE module=$HGRID_MODULE role=$HGRID_ROLE mrank=$HGRID_MODULE_RANK/$HGRID_MODULE_SIZE tp=$HGRID_TP_RANK/$HGRID_TP_SIZE dp=$HGRID_DP_RANK/$HGRID_DP_SIZE ep=$HGRID_EP_RANK/$HGRID_EP_SIZE expt_dp=$HGRID_EXPT_DP_RANK/$HGRID_EXPT_DP_SIZE master=${MASTER_ADDR:+set}:${MASTER_PORT:+set} plan=$(test -s "$HGRID_PLAN" && echo ok)"'

# The env line every rank of configs/vlm-8gpu-moe.yaml must print.
expect_env() {
  local out=$1 r ok=1
  local -a want=(
    "env rank=0 world=8 local=0/8 module=radio_encoder role=encoder mrank=0/4 tp=0/2 dp=0/2 ep=0/1 expt_dp=0/4"
    "env rank=1 world=8 local=1/8 module=radio_encoder role=encoder mrank=1/4 tp=1/2 dp=0/2 ep=0/1 expt_dp=1/4"
    "env rank=2 world=8 local=2/8 module=radio_encoder role=encoder mrank=2/4 tp=0/2 dp=1/2 ep=0/1 expt_dp=2/4"
    "env rank=3 world=8 local=3/8 module=radio_encoder role=encoder mrank=3/4 tp=1/2 dp=1/2 ep=0/1 expt_dp=3/4"
    "env rank=4 world=8 local=4/8 module=language role=language mrank=0/4 tp=0/2 dp=0/2 ep=0/4 expt_dp=0/1"
    "env rank=5 world=8 local=5/8 module=language role=language mrank=1/4 tp=1/2 dp=0/2 ep=1/4 expt_dp=0/1"
    "env rank=6 world=8 local=6/8 module=language role=language mrank=2/4 tp=0/2 dp=1/2 ep=2/4 expt_dp=0/1"
    "env rank=7 world=8 local=7/8 module=language role=language mrank=3/4 tp=1/2 dp=1/2 ep=3/4 expt_dp=0/1"
  )
  for r in "${want[@]}"; do
    grep -qF -- "$r master=set:set plan=ok" "$out" || { echo "     missing: $r"; ok=0; }
  done
  [[ $(grep -c '^env ' "$out") -eq 8 ]] || { echo "     expected 8 env lines"; ok=0; }
  [[ $ok -eq 1 ]]
}

# --- standalone: success ------------------------------------------------------------
start ok --backend mpi "$CFG" -- bash -c "$ENVPROG"
finish ok
check "standalone: exit 0" test "$RC" -eq 0 || show ok
check "standalone: readiness summary" grep -qE '^hgrid: 8/8 ranks ready in [0-9.]+ s \(bootstrap' "$T/ok.err"
check "standalone: environment contract on all 8 ranks" expect_env "$T/ok.out"
check "standalone: nothing left running" none_left ok
check "standalone: the plan directory is removed" bash -c "! compgen -G '$T/hgrid-??????' >/dev/null"

# --- standalone, in-process handoff into the example trainer ---------------------------
TRAINER=$(dirname "$L")/hgrid-example-trainer
start inproc --backend mpi --in-process "$CFG" -- "$TRAINER"
finish inproc
check "in-process: exit 0" test "$RC" -eq 0 || show inproc
check "in-process: every rank's all-reduces checked" test "$(grep -c 'done: .* all kinds ok' "$T/inproc.out")" -eq 8
check "in-process: readiness summary" grep -qE '^hgrid: 8/8 ranks ready in' "$T/inproc.err"

# --- on a terminal: one redrawn progress line, erased before the summary -------------
if command -v script >/dev/null; then
  script -qfec "$L --backend mpi $CFG -- true" "$T/tty.log" </dev/null >/dev/null 2>&1; RC=$?
  check "terminal: exit 0" test "$RC" -eq 0
  check "terminal: progress redrawn in place" grep -qaF $'\r\033[Khgrid: 8/8 ranks ready, ' "$T/tty.log"
  check "terminal: no plain progress lines" bash -c "! grep -qa '^hgrid: [0-9]*/8 ranks ready, ' '$T/tty.log'"
fi

# --- a hostfile and ranks per node go to mpirun ----------------------------------------
printf 'localhost slots=8\n' >"$T/hosts"
start hostfile --backend mpi --hostfile "$T/hosts" --gpus-per-node 8 --verbose "$CFG" -- true
finish hostfile
check "hostfile: exit 0" test "$RC" -eq 0 || show hostfile
check "hostfile: mpirun gets --hostfile and --map-by ppr:8:node" grep -qE "^hgrid: running: mpirun -np 8 .*--hostfile $T/hosts --map-by ppr:8:node " "$T/hostfile.err"

# --- ranks are not pinned to one core; the user's environment reaches every rank -------
mine=$(grep Cpus_allowed_list /proc/self/status | cut -f2)
# Two ranks: the case where Open MPI would bind each to a core.
NCCL_HGRID_PROBE=42 start bind --verbose --backend mpi configs/smoke-2gpu.yaml -- bash -c 'echo "cpus=$(grep Cpus_allowed_list /proc/self/status | cut -f2) probe=$NCCL_HGRID_PROBE"'
finish bind
check "binding: exit 0" test "$RC" -eq 0 || show bind
check "binding: every rank may use every CPU ($mine)" test "$(grep -c "^cpus=$mine probe=42$" "$T/bind.out")" -eq 2
check "binding: mpirun gets --bind-to none and -x for NCCL_* variables" grep -qE "^hgrid: running: mpirun -np 2 .*--bind-to none .*-x NCCL_HGRID_PROBE" "$T/bind.err"

# --- a reader of the launcher's output that goes away does not orphan the job ----------
( "$L" --backend mpi "$CFG" -- bash -c 'for i in 1 2 3 4 5; do echo "line $i from $RANK" >&2; sleep 0.2; done' 2>&1 >/dev/null | head -c 1 >/dev/null; echo "${PIPESTATUS[0]}" >"$T/sigpipe.rc" )
check "closed stderr reader: the launcher survives and reports the job's status" test "$(cat "$T/sigpipe.rc")" -eq 0
check "closed stderr reader: the plan directory is removed" bash -c "! compgen -G '$T/hgrid-??????' >/dev/null"

# --- a bad config never launches ----------------------------------------------------
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    tp: 3\n    size: 8\n' >"$T/bad.yaml"
start badcfg --backend mpi "$T/bad.yaml" -- touch "$T/launched"
finish badcfg
check "bad config: exit 2" test "$RC" -eq 2
check "bad config: diagnostic with location" has "$T/badcfg.err" "bad.yaml:6:11: error: language: size 8 is not divisible by tp*cp*pp = 3"
check "bad config: nothing launched" test ! -e "$T/launched"

# --- usage errors -------------------------------------------------------------------
"$L" "$CFG" >"$T/noprog.out" 2>"$T/noprog.err"; RC=$?
check "no program: exit 2" test "$RC" -eq 2
check "no program: message" has "$T/noprog.err" "no program to launch"

# --- a rank fails pre-flight ----------------------------------------------------------
HGRID_TEST_FAIL_RANK=6 start failrank --backend mpi "$CFG" -- bash -c 'touch '"$T"'/ran.$RANK'
finish failrank
check "failed rank: exit 3" test "$RC" -eq 3 || show failrank
check "failed rank: coordinator names rank 6" grep -qE 'rank 6 \(language\)' "$T/failrank.err"
check "failed rank: no rank handed off" bash -c "! ls $T/ran.* >/dev/null 2>&1"
check "failed rank: nothing left running" none_left failrank

# --- a rank crashes before readiness -------------------------------------------------
HGRID_TEST_ABORT_RANK=3 start abort --backend mpi --timeout 60 "$CFG" -- true
finish abort
check "crashed rank: non-zero exit, not a timeout" bash -c "[[ $RC -ne 0 && $RC -ne 124 ]]" || show abort
check "crashed rank: finished in seconds" under 20
check "crashed rank: names the rank and the signal" has "$T/abort.err" "rank 3 (radio_encoder) was the first to fail, killed by signal 6 (Aborted)"
check "crashed rank: nothing left running" none_left abort

# --- a rank hangs past the deadline --------------------------------------------------
HGRID_TEST_HANG_RANK=2 start hang --backend mpi --timeout 3 "$CFG" -- true
finish hang
check "hung rank: exit 124" test "$RC" -eq 124 || show hang
check "hung rank: the coordinator names the missing rank" has "$T/hang.err" "readiness deadline of 3 s passed in phase readiness: 1 of 8 ranks never reported (rank 2)"
check "hung rank: the launcher's summary" has "$T/hang.err" "hgrid: readiness deadline of 3 s passed with 7/8 ranks ready; the job ended"
check "hung rank: finished in seconds" under 20
check "hung rank: nothing left running" none_left hang

# --- SIGTERM to the launcher during startup ------------------------------------------
HGRID_TEST_HANG_RANK=1 start termstart --backend mpi --timeout 60 "$CFG" -- true
sleep 2
kill -TERM "$LPID"
finish termstart
check "SIGTERM mid-startup: exit 143" test "$RC" -eq 143 || show termstart
check "SIGTERM mid-startup: finished in seconds" under 15
check "SIGTERM mid-startup: nothing left running" none_left termstart

# --- SIGTERM to the launcher during the workload --------------------------------------
start termwork --backend mpi "$CFG" -- bash -c 'sleep 60'
wait_for "$T/termwork.err" "8/8 ranks ready in" 30
sleep 0.5
kill -TERM "$LPID"
finish termwork
check "SIGTERM mid-workload: exit 143" test "$RC" -eq 143 || show termwork
check "SIGTERM mid-workload: finished in seconds" under 30
check "SIGTERM mid-workload: nothing left running" none_left termwork

# --- a workload that ignores SIGINT: the second Ctrl-C kills -------------------------
start sigint2 --backend mpi "$CFG" -- bash -c 'trap "" INT TERM; sleep 60'
wait_for "$T/sigint2.err" "8/8 ranks ready in" 30
sleep 0.5
kill -INT "$LPID"
sleep 1
kill -INT "$LPID"
finish sigint2
check "second SIGINT: exit 130" test "$RC" -eq 130 || show sigint2
check "second SIGINT: says it kills" has "$T/sigint2.err" "received again, killing the job"
check "second SIGINT: nothing left running" none_left sigint2

# --- the workload exits 7 on one rank ------------------------------------------------
start exit7 --backend mpi "$CFG" -- bash -c '[ "$RANK" = 5 ] && exit 7; sleep 60'
finish exit7
check "workload exit 7: exit status 7" test "$RC" -eq 7 || show exit7
check "workload exit 7: names the first failing rank" has "$T/exit7.err" "rank 5 (language) was the first to fail, exit status 7"
check "workload exit 7: finished in seconds" under 30
check "workload exit 7: nothing left running" none_left exit7

# --- the workload crashes on one rank ------------------------------------------------
start segv --backend mpi "$CFG" -- bash -c '[ "$RANK" = 6 ] && kill -SEGV $$; sleep 60'
finish segv
check "workload crash: exit 139" test "$RC" -eq 139 || show segv
check "workload crash: names the rank and the signal" has "$T/segv.err" "workload failed: rank 6 (language) was the first to fail, killed by signal 11 (Segmentation fault)"
check "workload crash: nothing left running" none_left segv

# --- inside an mpirun job -------------------------------------------------------------
mpirun -np 8 "$L" --backend mpi "$CFG" -- bash -c "$ENVPROG" >"$T/inmpi.out" 2>"$T/inmpi.err"; RC=$?
check "in mpirun: exit 0" test "$RC" -eq 0 || { RC=$RC; ELAPSED=-; show inmpi; }
check "in mpirun: environment contract" expect_env "$T/inmpi.out"
mpirun -np 4 "$L" --backend mpi "$CFG" -- true >"$T/inmpi4.out" 2>"$T/inmpi4.err"; RC=$?
check "in mpirun, 4 tasks for 8 ranks: exit 2" test "$RC" -eq 2
check "in mpirun, 4 tasks for 8 ranks: message" has "$T/inmpi4.err" "the mpirun job has 4 tasks but $CFG describes 8 ranks"
check "in mpirun, 4 tasks for 8 ranks: said once" test "$(grep -c 'has 4 tasks' "$T/inmpi4.err")" -eq 1

# --- inside a SLURM step --------------------------------------------------------------
if [[ "${1:-}" != "--no-slurm" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "skip SLURM tests: not root"
  elif ! up=$(scripts/local-slurm-up.sh 2>"$T/slurm-up.err"); then
    bad "local SLURM came up"; cat "$T/slurm-up.err"
  else
    ok "local SLURM came up"
    eval "$up"
    trap 'scripts/local-slurm-down.sh >/dev/null' EXIT
    srun --mpi=pmix -n 8 "$L" --backend mpi "$CFG" -- bash -c "$ENVPROG" >"$T/srun.out" 2>"$T/srun.err"; RC=$?
    check "srun: exit 0" test "$RC" -eq 0 || { ELAPSED=-; show srun; }
    check "srun: readiness summary" grep -qE '^hgrid: 8/8 ranks ready in' "$T/srun.err"
    check "srun: environment contract" expect_env "$T/srun.out"
    srun --mpi=pmix -n 8 "$L" --backend mpi "$CFG" -- bash -c 'cat "$HGRID_PLAN"' >"$T/srunplan.out" 2>&1
    check "srun: rank 5's plan file holds its groups" grep -qF '"rank":5,' "$T/srunplan.out"
    srun --mpi=pmix -n 4 "$L" --backend mpi "$CFG" -- true >"$T/srun4.out" 2>"$T/srun4.err"; RC=$?
    check "srun -n 4 for 8 ranks: exit 2" test "$RC" -eq 2
    check "srun -n 4 for 8 ranks: message" has "$T/srun4.err" "the SLURM step has 4 tasks but $CFG describes 8 ranks"
    srun --mpi=none -n 8 "$L" --backend mpi "$CFG" -- true >"$T/srunnone.out" 2>"$T/srunnone.err"; RC=$?
    check "srun without PMIx: exit 2" test "$RC" -eq 2
    check "srun without PMIx: says --mpi=pmix" has "$T/srunnone.err" "srun --mpi=pmix"
    srun --mpi=pmix -n 8 "$L" --backend mpi "$CFG" -- bash -c '[ "$RANK" = 3 ] && exit 7; exit 0' >"$T/srun7.out" 2>"$T/srun7.err"; RC=$?
    check "srun: workload exit 7 is the step's status" test "$RC" -eq 7
    # An sbatch script as in the README.
    cat >"$T/job.sh" <<JOB
#!/bin/bash
#SBATCH --ntasks=8
#SBATCH --output=$T/job.log
srun --mpi=pmix "$L" --backend mpi "$PWD/$CFG" -- bash -c '$ENVPROG'
JOB
    id=$(sbatch --parsable "$T/job.sh")
    for ((i = 0; i < 300; i++)); do [[ -z $(squeue -h -j "$id" 2>/dev/null) ]] && break; sleep 0.1; done
    check "sbatch: job completed with exit 0" bash -c "scontrol show job $id | grep -q 'ExitCode=0:0'"
    check "sbatch: environment contract" expect_env "$T/job.log"
  fi
fi

echo "launch: $pass passed, $fail failed"
[[ $fail -eq 0 ]] && rm -rf "$T"
[[ $fail -eq 0 ]]
