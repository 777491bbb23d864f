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
. tests/lib.sh
mpi_env
export OMPI_MCA_pml=ob1
# Open MPI waits this long between SIGTERM and SIGKILL when it tears a failed job down.
export OMPI_MCA_odls_base_sigkill_timeout=0
unset HGRID_TEST_FAIL_RANK HGRID_TEST_ABORT_RANK HGRID_TEST_HANG_RANK
# The fault cases need the agent beside the launcher to carry the test hooks
# (agent/testhooks.h: the test variant, built with -DHG_TEST_HOOKS).
A=${HGRID_AGENT:-$(dirname "$L")/hgrid-agent}
grep -qa HGRID_TEST_FAIL_RANK "$A" $(ldd "$A" 2>/dev/null | awk '/libhgrid/ { print $3 }') \
  || { echo "launch_test: $A has no test hooks (build the test variant: make test-programs)"; exit 2; }

suite launch
# Plan files of in-job runs land here; a standalone launch removes its own.
export TMPDIR=$T
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

ENVPROG='echo "env rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK/$LOCAL_WORLD_SIZE module=$HGRID_MODULE role=$HGRID_ROLE mrank=$HGRID_MODULE_RANK/$HGRID_MODULE_SIZE tp=$HGRID_TP_RANK/$HGRID_TP_SIZE dp=$HGRID_DP_RANK/$HGRID_DP_SIZE ep=$HGRID_EP_RANK/$HGRID_EP_SIZE expt_dp=$HGRID_EXPT_DP_RANK/$HGRID_EXPT_DP_SIZE master=${MASTER_ADDR:+set}:${MASTER_PORT:+set} plan=$(test -s "$HGRID_PLAN" && echo ok) group=$GROUP_RANK/$GROUP_WORLD_SIZE role=$ROLE_NAME:$ROLE_RANK/$ROLE_WORLD_SIZE run=$TORCHELASTIC_RUN_ID errfile=$TORCHELASTIC_ERROR_FILE"'

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
    # torchrun's names: one host, one role (the world); the run id and error file below.
    local rank=${r#env rank=}; rank=${rank%% *}
    grep -qF -- "$r master=set:set plan=ok group=0/1 role=default:$rank/8 run=" "$out" || { echo "     missing: $r"; ok=0; }
    grep -qE -- "^env rank=$rank .* errfile=/.*rank$rank-[^ ]*\.json$" "$out" || { echo "     rank $rank: no error file of its own"; ok=0; }
  done
  [[ $(grep -c '^env ' "$out") -eq 8 ]] || { echo "     expected 8 env lines"; ok=0; }
  [[ $(grep -oE ' run=[^ ]+ ' "$out" | sort -u | wc -l) -eq 1 ]] || { echo "     expected one run id on every rank"; ok=0; }
  [[ $(grep -oE ' errfile=[^ ]+$' "$out" | sort -u | wc -l) -eq 8 ]] || { echo "     expected 8 distinct error files"; ok=0; }
  [[ $ok -eq 1 ]]
}

# --- standalone: success ------------------------------------------------------------
start ok --backend mpi "$CFG" -- bash -c "$ENVPROG"
finish ok
check "standalone: exit 0" test "$RC" -eq 0 || show ok
check "standalone: readiness summary" grep -qE '^hgrid: 8/8 ranks ready in [0-9.]+ s \(bootstrap' "$T/ok.err"
check "standalone: environment contract on all 8 ranks" expect_env "$T/ok.out"
check "standalone: TORCHELASTIC_RUN_ID is a UUID, the error files are in the plan directory" bash -c "[[ \$(grep -cE ' run=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} errfile=$T/hgrid-job-[^/ ]+/rank[0-7]-error\.json$' '$T/ok.out') -eq 8 ]]"
check "standalone: nothing left running" none_left ok
check "standalone: the plan directory is removed" bash -c "! compgen -G '$T/hgrid-job-*' >/dev/null"
HGRID_RUN_ID=my-run-7 start runid --backend mpi configs/smoke-2gpu.yaml -- bash -c "$ENVPROG"
finish runid
check "standalone: HGRID_RUN_ID names the run" test "$RC" -eq 0 -a "$(grep -c ' run=my-run-7 ' "$T/runid.out")" -eq 2 || show runid
# The launcher sleeps until something is due (common/stream/evloop.c), not every 100 ms: a
# 3 s job of 2 ranks wakes for its events and, by the clock alone, a handful of times
# (a fixed 100 ms poll: 30 or more).
HGRID_TEST_WAKEUPS=1 start wake --backend mpi configs/smoke-2gpu.yaml -- sleep 3
finish wake
timeouts=$(sed -n 's/^hgrid-test: [0-9]* wakeups, \([0-9]*\) timeouts$/\1/p' "$T/wake.err")
check "event loop: exit 0, a 3 s job woken by the clock alone at most 10 times (${timeouts:-none})" \
  test "$RC" -eq 0 -a -n "$timeouts" -a "${timeouts:-99}" -le 10 || show wake

# --- standalone, in-process handoff into the example trainer ---------------------------
TRAINER=$(dirname "$L")/hgrid-example-trainer
start inproc --backend mpi --in-process "$CFG" -- "$TRAINER"
finish inproc
check "in-process: exit 0" test "$RC" -eq 0 || show inproc
check "in-process: every rank's all-reduces checked" test "$(grep -c 'done: .* all kinds ok' "$T/inproc.out")" -eq 8
check "in-process: readiness summary" grep -qE '^hgrid: 8/8 ranks ready in' "$T/inproc.err"

# --- bridges and colocated layouts (docs/DESIGN.md, "Module graph and bridges") -------
# Two encoders fanning out into the language module: every bridge link proved before go,
# and each rank's HGRID_PLAN carries its bridge roles.
TWO=configs/two-encoders-14.yaml
start bridges --backend mpi "$TWO" -- sh -c 'echo "modules $RANK $HGRID_MODULES"; [ "$RANK" = 0 ] && cat "$HGRID_PLAN"; exit 0'
finish bridges
check "bridges: exit 0" test "$RC" -eq 0 || show bridges
check "bridges: the summary counts the 8 links and 2 bridge groups proved" grep -qE '^hgrid: 14/14 ranks ready in [0-9.]+ s \(.*, bridges [0-9.]+; 4-9 communicators/rank, 8 bridge links and 2 bridge groups verified, mpi backend\)$' "$T/bridges.err"
check "bridges: rank 0 sends to 6 and 8 (HGRID_PLAN)" has "$T/bridges.out" '"bridges":[{"src":"audio","dest":"language","side":"src","role":"sender","peers":[6,8],"leader":0,"broadcast":[0],"group":[0,1,6,8,10,12]}]'
check "bridges: HGRID_MODULES is each rank's module" bash -c "grep -qx 'modules 1 audio' '$T/bridges.out' && grep -qx 'modules 4 vision' '$T/bridges.out' && grep -qx 'modules 9 language' '$T/bridges.out'"
check "bridges: nothing left running" none_left bridges
# A rank that sends nothing across its bridge: its receivers name it within seconds.
HGRID_TEST_BRIDGE_SILENT_RANK=3 start silent --backend mpi --timeout 60 "$TWO" -- touch "$T/silent-ran"
finish silent
check "silent bridge peer: exit 3" test "$RC" -eq 3 || show silent
check "silent bridge peer: finished in seconds, not at the 60 s deadline" under 20
check "silent bridge peer: rank 6 names rank 3 and the bridge" has "$T/silent.err" "hgrid: rank 6 (language): bridge vision -> language: rank 3 sent nothing to rank 6 (rank 3 reports the link done) [phase bridges, host $(hostname)]"
check "silent bridge peer: so does rank 8" has "$T/silent.err" "hgrid: rank 8 (language): bridge vision -> language: rank 3 sent nothing to rank 8 (rank 3 reports the link done)"
check "silent bridge peer: no rank handed off" test ! -e "$T/silent-ran"
check "silent bridge peer: nothing left running" none_left silent
# Colocated: every module's groups on every rank, in process through the trainer, and
# the exec handoff's HGRID_MODULES lists every module.
start coloc --backend mpi --in-process configs/colocated-8.yaml -- "$TRAINER"
finish coloc
check "colocated, in process: exit 0, every rank's kinds checked" test "$RC" -eq 0 -a "$(grep -c 'done: 7 communicators, all kinds ok' "$T/coloc.out")" -eq 8 || show coloc
start colocexec --backend mpi configs/colocated-8.yaml -- sh -c 'echo "modules $RANK $HGRID_MODULE $HGRID_MODULES"'
finish colocexec
check "colocated, exec: HGRID_MODULE the language module, HGRID_MODULES both" test "$RC" -eq 0 -a "$(grep -c '^modules [0-7] language vision,language$' "$T/colocexec.out")" -eq 8 || show colocexec

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
# The agents' watchdog starts before MPI_Init, long before rank 0's config reaches them:
# they get the config's agent.init_timeout_s (60 here) on their command line.
check "deadline: the agents get agent.init_timeout_s as --timeout" grep -qE "^hgrid: running: mpirun -np 2 .*/hgrid-agent --backend mpi --timeout 60 " "$T/bind.err"

# --- a reader of the launcher's output that goes away does not orphan the job ----------
( "$L" --backend mpi "$CFG" -- bash -c 'for i in 1 2 3 4 5; do echo "line $i from $RANK" >&2; sleep 0.2; done' 2>&1 >/dev/null | head -c 1 >/dev/null; echo "${PIPESTATUS[0]}" >"$T/sigpipe.rc" )
check "closed stderr reader: the launcher survives and reports the job's status" test "$(cat "$T/sigpipe.rc")" -eq 0
check "closed stderr reader: the plan directory is removed" bash -c "! compgen -G '$T/hgrid-job-*' >/dev/null"

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
HGRID_TEST_ABORT_RANK=3 start abort --backend mpi --timeout 60 --report "$T/abort.json" "$CFG" -- true
finish abort
check "crashed rank: a pre-flight failure, exit 3" test "$RC" -eq 3 || show abort
check "crashed rank: finished in seconds" under 20
check "crashed rank: names the rank and the signal" has "$T/abort.err" "rank 3 (radio_encoder) was the first to fail, killed by signal 6 (Aborted)"
check "crashed rank: nothing left running" none_left abort
check "crashed rank: the readiness report is written, no-go" python3 -c "
import json, sys
r = json.load(open('$T/abort.json'))
sys.exit(not (r['go'] is False and r['exit_status'] == 3 and r['world_size'] == 8))"

# --- a rank hangs past the deadline --------------------------------------------------
# The deadline must pass in phase readiness: start-up reaches it first even at load 20
# (8 ranks: about a second at load 18 on 2 cores; 3 s was too close).
HGRID_TEST_HANG_RANK=2 start hang --backend mpi --timeout 8 "$CFG" -- true
finish hang
check "hung rank: exit 124" test "$RC" -eq 124 || show hang
check "hung rank: the coordinator names the missing rank" has "$T/hang.err" "readiness deadline of 8 s passed in phase readiness: 1 of 8 ranks never reported (rank 2)"
check "hung rank: the launcher's summary" has "$T/hang.err" "hgrid: readiness deadline of 8 s passed with 7/8 ranks ready; the job ended"
check "hung rank: finished in seconds" under 25
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

# --- a failed rank's root cause, from its error file (torch's @record) -----------------
# The JSON torch's ErrorHandler.record_exception writes (torch.distributed.elastic.
# multiprocessing.errors), from a plain Python program: the summary shows the exception,
# the traceback's last frame and the time, after the rank's failure line.
cat >"$T/cause.py" <<'PY'
import json, os, sys, time, traceback
def step(batch):
    raise ValueError("bad batch size %d\nsecond line" % batch)
if os.environ["RANK"] != "5":
    time.sleep(60)
try:
    step(3)
except ValueError as e:
    data = {"message": {"message": f"{type(e).__name__}: {e}",
                        "extraInfo": {"py_callstack": traceback.format_exc(), "timestamp": "1700000000"}}}
    with open(os.environ["TORCHELASTIC_ERROR_FILE"], "w") as fp:
        json.dump(data, fp)
    raise
PY
TZ=UTC start cause --backend mpi --grace 5 "$CFG" -- python3 "$T/cause.py"
finish cause
check "root cause: exit 1, the failure line then the error file's exception, time and last frame" \
  test "$RC" -eq 1 -a "$(grep -A2 '^hgrid: rank 5 (language) failed, exit status 1; stopping' "$T/cause.err" | tail -n 2)" = "hgrid: rank 5 (language) root cause (2023-11-14_22:13:20): ValueError: bad batch size 3
hgrid: rank 5 (language)   File \"$T/cause.py\", line 3, in step" || show cause 12
check "root cause: nothing left running" none_left cause
# No error file (a shell, or Python without @record): no root cause line.
start nocause --backend mpi --grace 5 "$CFG" -- bash -c '[ "$RANK" = 5 ] && exit 3; sleep 60'
finish nocause
check "no error file: no root cause line" test "$RC" -eq 3 -a "$(grep -c 'root cause' "$T/nocause.err")" -eq 0 || show nocause

# --- output: nothing lost, nothing altered ------------------------------------------
SMOKE=configs/smoke-2gpu.yaml
# 6,000 stderr lines and a traceback from the failing rank, all still in the pipes when
# mpirun exits, and a reader that takes 3 s to start reading.
cat >"$T/noisy.sh" <<'PROG'
if [ "$RANK" = 1 ]; then
  i=0; while [ $i -lt 6000 ]; do echo "noise line $i"; i=$((i + 1)); done >&2
  printf 'Traceback (most recent call last):\n  File "train.py", line 1\nRuntimeError: boom\n' >&2
  exit 1
fi
sleep 60
PROG
( "$L" --backend mpi "$SMOKE" -- sh "$T/noisy.sh" 2>&1 >/dev/null | { sleep 3; cat; } >"$T/slow.err"; echo "${PIPESTATUS[0]}" >"$T/slow.rc" )
check "slow reader: the workload's status" test "$(cat "$T/slow.rc")" -eq 1
check "slow reader: all 6,000 lines arrive" test "$(grep -c '^noise line ' "$T/slow.err")" -eq 6000
check "slow reader: the traceback arrives whole" has "$T/slow.err" $'  File "train.py", line 1\nRuntimeError: boom'
check "slow reader: the last noise line is whole" grep -qx 'noise line 5999' "$T/slow.err"
check "slow reader: mpirun's boxed failure report stays out (hgrid says it)" bash -c "! grep -q \"Process name:\" '$T/slow.err'"
check "slow reader: the summary is last" bash -c "tail -n 1 '$T/slow.err' | grep -qF 'rank 1 (language) was the first to fail, exit status 1'"

# A 10,000-byte line on each stream, and one without a newline at the end.
start longline --backend mpi "$SMOKE" -- sh -c '[ "$RANK" = 0 ] || exit 0; head -c 10000 /dev/zero | tr "\0" x; echo; head -c 10000 /dev/zero | tr "\0" y >&2; echo >&2; printf tail >&2'
finish longline
check "long lines: exit 0" test "$RC" -eq 0 || show longline
check "long lines: stdout's 10,000-byte line is one line" test "$(grep -c '^xxxx' "$T/longline.out")" -eq 1 -a "$(grep '^xxxx' "$T/longline.out" | wc -c)" -eq 10001
check "long lines: stderr's 10,000-byte line is one line" test "$(grep -c '^yyyy' "$T/longline.err")" -eq 1 -a "$(grep '^yyyy' "$T/longline.err" | wc -c)" -eq 10001
check "long lines: an unterminated last line arrives" grep -q 'tail' "$T/longline.err"

# The status channel stays out of the user's streams; a workload's own look-alike
# lines pass through untouched.
start proto --backend mpi "$SMOKE" -- sh -c 'echo "hgrid-status: go" >&2; echo "hgrid-status 0123456789abcdef: ready 1/2" >&2'
finish proto
check "protocol: exit 0" test "$RC" -eq 0 || show proto
check "protocol: the workload's look-alike lines are kept" test "$(grep -c '^hgrid-status: go$' "$T/proto.err")" -eq 2 -a "$(grep -c '^hgrid-status 0123456789abcdef: ready 1/2$' "$T/proto.err")" -eq 2
check "protocol: no other status line is shown" test "$(grep -c '^hgrid-status' "$T/proto.err")" -eq 4
mpirun -np 2 "$L" --backend mpi "$SMOKE" -- true >"$T/protompi.out" 2>"$T/protompi.err"; RC=$?
check "protocol under mpirun: exit 0" test "$RC" -eq 0
check "protocol under mpirun: no status lines" bash -c "! grep -q 'hgrid-status' '$T/protompi.err'"
check "protocol under mpirun: the readable summary" grep -qE '^hgrid: 2/2 ranks ready in' "$T/protompi.err"

# Standard streams closed at start: the job still runs.
bash -c "exec 0<&- 1>&- 2>&-; '$L' --backend mpi '$SMOKE' -- sh -c 'echo ran >$T/closed.\$RANK'; echo \$? >$T/closed.rc"
check "closed standard streams: exit 0" test "$(cat "$T/closed.rc")" -eq 0
check "closed standard streams: every rank ran" test -s "$T/closed.0" -a -s "$T/closed.1"

# `stty tostop`: neither mpirun nor a rank writes to the terminal itself.
if command -v script >/dev/null; then
  timeout 60 script -qfec "stty tostop; $L --backend mpi $SMOKE -- sh -c 'echo tostop-out-\$RANK; echo tostop-err-\$RANK >&2'; echo rc=\$?" "$T/tostop.log" </dev/null >/dev/null 2>&1
  check "stty tostop: the job ends with exit 0" grep -qa '^rc=0' "$T/tostop.log"
  check "stty tostop: both ranks' output reaches the terminal" test "$(grep -ac '^tostop-\(out\|err\)-[01]' "$T/tostop.log")" -eq 4
fi

# --- per-rank labels and log files ----------------------------------------------------
start label --backend mpi --label --log-dir "$T/logs" "$CFG" -- sh -c 'echo "out of $RANK"; printf "err of $RANK\nno newline" >&2'
finish label
check "label: exit 0" test "$RC" -eq 0 || show label
check "label: every stdout line names rank and module" test "$(grep -cE '^\[([0-9]) (radio_encoder|language)\] out of \1$' "$T/label.out")" -eq 8
check "label: rank 5 is [5 language]" grep -qx '\[5 language\] out of 5' "$T/label.out"
check "label: stderr lines too" grep -q '\[0 radio_encoder\] err of 0$' "$T/label.err"
check "log-dir: one stdout and one stderr file per rank" test "$(ls "$T/logs" | grep -c '^rank[0-7]-[a-z_]*\.std\(out\|err\)$')" -eq 16
check "log-dir: rank 5's stdout, byte-exact" cmp -s "$T/logs/rank5-language.stdout" <(printf 'out of 5\n')
check "log-dir: rank 0's stderr, byte-exact" cmp -s "$T/logs/rank0-radio_encoder.stderr" <(printf 'err of 0\nno newline')

start labelinproc --backend mpi --label --log-dir "$T/logs2" --in-process "$SMOKE" -- "$(dirname "$L")/hgrid-example-trainer"
finish labelinproc
check "label, in process: exit 0" test "$RC" -eq 0 || show labelinproc
check "label, in process: the launcher still reads the status lines (none shown)" bash -c "! grep -q hgrid-status '$T/labelinproc.err' && grep -q '^hgrid: 2/2 ranks ready, ' '$T/labelinproc.err'"
check "label, in process: status lines stay out of the logs" bash -c "! grep -q hgrid-status '$T/logs2/rank0-encoder.stderr'"

# --- exit status: one meaning per code ----------------------------------------------
"$L" --backend mpi --hostfile "$T/no-such-hosts" "$SMOKE" -- true >"$T/nohosts.out" 2>"$T/nohosts.err"; RC=$?
check "missing hostfile: exit 4" test "$RC" -eq 4
check "missing hostfile: names it" has "$T/nohosts.err" "cannot read the hostfile $T/no-such-hosts: No such file or directory"
"$L" --backend mpi --mpirun "$T/no-mpirun" "$SMOKE" -- true >"$T/nompirun.out" 2>"$T/nompirun.err"; RC=$?
check "mpirun missing: exit 4" test "$RC" -eq 4
check "mpirun missing: names it" has "$T/nompirun.err" "cannot run mpirun '$T/no-mpirun': No such file or directory"
env PATH="$T/empty" "$L" --backend mpi "$SMOKE" -- /bin/true >"$T/nopath.out" 2>"$T/nopath.err"; RC=$?
check "mpirun not on PATH: exit 4" test "$RC" -eq 4
check "mpirun not on PATH: says so" has "$T/nopath.err" "cannot run mpirun 'mpirun': not found on PATH"
"$L" --backend mpi --mpirun /bin/true "$SMOKE" -- true >"$T/true.out" 2>"$T/true.err"; RC=$?
check "mpirun that starts nothing: exit 4, not 0" test "$RC" -eq 4
check "mpirun that starts nothing: says so" has "$T/true.err" "the job could not be started: /bin/true exited with status 0 before any rank started"
"$L" --backend mpi "$SMOKE" -- /bin/true $(printf 'x%.0s' {1..50}; for i in $(seq 20000); do printf ' %050d' "$i"; done) >"$T/e2big.out" 2>"$T/e2big.err"; RC=$?
check "argument list too long: exit 4" test "$RC" -eq 4 || tail -3 "$T/e2big.err"
env -i "$L" --backend mpi --mpi-arg=--oversubscribe "$SMOKE" -- /bin/true >"$T/envi.out" 2>"$T/envi.err"; RC=$?
check "env -i: the job runs" test "$RC" -eq 0 || tail -5 "$T/envi.err"
TMPDIR="$T/no-tmp" "$L" --backend mpi "$SMOKE" -- true >"$T/notmp.out" 2>"$T/notmp.err"; RC=$?
check "TMPDIR missing: exit 4" test "$RC" -eq 4
check "TMPDIR missing: names it" has "$T/notmp.err" "TMPDIR=$T/no-tmp: No such file or directory"
: >"$T/tmp-is-a-file"
TMPDIR="$T/tmp-is-a-file" "$L" --backend mpi "$SMOKE" -- true >"$T/filetmp.out" 2>"$T/filetmp.err"; RC=$?
check "TMPDIR a regular file: exit 4, says not a directory" test "$RC" -eq 4 -a "$(grep -c "TMPDIR=$T/tmp-is-a-file: Not a directory (the ranks' plans are written there)" "$T/filetmp.err")" -eq 1
"$L" --backend mpi --report "$T/no-dir/r.json" "$SMOKE" -- true >"$T/noreport.out" 2>"$T/noreport.err"; RC=$?
check "--report into a missing directory: exit 2 before launching" test "$RC" -eq 2
check "--report into a missing directory: names it" has "$T/noreport.err" "--report $T/no-dir/r.json: cannot write there: No such file or directory"
start noexe --backend mpi "$CFG" -- "$T/no-such-program" --flag
finish noexe
check "missing program: exit 2" test "$RC" -eq 2
check "missing program: names it" has "$T/noexe.err" "cannot run PROGRAM '$T/no-such-program'"
check "missing program: nothing started" test ! -s "$T/noexe.pids"

# --- shutdown: the workload gets the signal and time to save --------------------------
cat >"$T/saver.sh" <<'PROG'
trap 'sleep 5; echo "saved on $1" >"$SAVE_DIR/saved.$RANK"; exit 0' INT TERM
echo "ready $RANK"
while :; do sleep 0.1; done
PROG
for sig in INT TERM; do
  mkdir -p "$T/save$sig"
  SAVE_DIR="$T/save$sig" start save$sig --backend mpi "$CFG" -- bash "$T/saver.sh"
  wait_for "$T/save$sig.out" "ready 7" 30; sleep 0.3
  kill -$sig "$LPID"
  finish save$sig
  want=$([[ $sig = INT ]] && echo 130 || echo 143)
  check "SIG$sig, workload saves for 5 s: exit $want" test "$RC" -eq "$want" || show save$sig
  check "SIG$sig, workload saves for 5 s: every rank saved" test "$(ls "$T/save$sig" | wc -l)" -eq 8
  check "SIG$sig, workload saves for 5 s: took the 5 s, not the whole grace" bash -c "(( $ELAPSED >= 5000 && $ELAPSED < 25000 ))"
  check "SIG$sig, workload saves for 5 s: nothing left running" none_left save$sig
done
mkdir -p "$T/saveshort"
SAVE_DIR="$T/saveshort" start saveshort --backend mpi --grace 2 "$CFG" -- bash "$T/saver.sh"
wait_for "$T/saveshort.out" "ready 7" 30; sleep 0.3
kill -INT "$LPID"
finish saveshort
check "--grace 2: killed after the grace, nothing saved" test "$(ls "$T/saveshort" | wc -l)" -eq 0 -a "$RC" -eq 130
check "--grace 2: in about 2 s" bash -c "(( $ELAPSED < 10000 ))"
check "--grace 2: nothing left running" none_left saveshort

# --- output through every stop (issue 17) ----------------------------------------------
# Each rank's program writes to its keeper, which sends whole lines to the launcher over
# hgrid's own channel; the launcher is their one writer.
OUTP=tests/output
# SIGTERM while the workload logs 300 lines per rank as it saves: every rank saves and
# every line arrives (mpirun's stopped I/O forwarding lost them all before).
for mode in plain label; do
  mkdir -p "$T/tl$mode"
  flags=(); [[ $mode = label ]] && flags=(--label --log-dir "$T/tl${mode}logs")
  SAVE_DIR="$T/tl$mode" start tl$mode --backend mpi --grace 15 "${flags[@]}" "$CFG" -- python3 "$OUTP/save_on_term.py"
  for ((i = 0; i < 300; i++)); do [[ $(ls "$T/tl$mode" | grep -c '^running') -eq 8 ]] && break; sleep 0.1; done
  kill -TERM "$LPID"
  finish tl$mode
  check "SIGTERM while logging ($mode): exit 143" test "$RC" -eq 143 || show tl$mode
  check "SIGTERM while logging ($mode): 8 of 8 ranks saved" test "$(ls "$T/tl$mode" | grep -c '^saved')" -eq 8
  check "SIGTERM while logging ($mode): all 2,400 lines and 8 SAVED arrived" test "$(grep -c ' saving line ' "$T/tl$mode.out")" -eq 2400 -a "$(grep -c ' SAVED$' "$T/tl$mode.out")" -eq 8
  check "SIGTERM while logging ($mode): in seconds" under 12
  check "SIGTERM while logging ($mode): nothing left running" none_left tl$mode
done
check "SIGTERM while logging: labelled under the own rank" test "$(grep -cE '^\[([0-7]) (radio_encoder|language)\] rank \1 (saving line|SAVED)' "$T/tllabel.out")" -eq 2408
check "SIGTERM while logging: log files hold every line" test "$(cat "$T"/tllabellogs/*.stdout | grep -c ' saving line ')" -eq 2400

# One rank fails: the others get SIGTERM and --grace (Open MPI gave them 1 s).
mkdir -p "$T/tlfail"
SAVE_DIR="$T/tlfail" FAIL_RANK=5 start tlfail --backend mpi --grace 15 "$CFG" -- python3 "$OUTP/save_on_term.py"
finish tlfail
check "failed rank, others save: exit 9" test "$RC" -eq 9 || show tlfail
check "failed rank, others save: 7 of 7 saved" test "$(ls "$T/tlfail" | grep -c '^saved')" -eq 7
check "failed rank, others save: all 2,100 lines arrived" test "$(grep -c ' saving line ' "$T/tlfail.out")" -eq 2100
check "failed rank, others save: says why the others stop" has "$T/tlfail.err" "hgrid: rank 5 (language) failed, exit status 9; stopping the other ranks (SIGTERM, 15 s to exit)"
check "failed rank, others save: the closing line" has "$T/tlfail.err" "hgrid: workload failed: rank 5 (language) was the first to fail, exit status 9; job exit status 9"
check "failed rank, others save: nothing left running" none_left tlfail

# Lines arrive whole, under their own rank's label: 8 ranks x 3,000 lines racing.
for lab in 1 0; do
  flags=(); [[ $lab = 1 ]] && flags=(--label)
  "$L" --backend mpi "${flags[@]}" "$CFG" -- python3 "$OUTP/lines.py" 3000 100 >"$T/lines$lab.out" 2>/dev/null; RC=$?
  check "8 x 3,000 lines (label $lab): exit 0, malformed 0" test "$RC" -eq 0 -a "$(python3 "$OUTP/check_lines.py" "$T/lines$lab.out" 8 3000 100 $lab)" = "malformed 0, misplaced 0, complete yes"
  "$L" --backend mpi "${flags[@]}" "$CFG" -- python3 "$OUTP/lines.py" 5 100000 >"$T/big$lab.out" 2>/dev/null; RC=$?
  check "100,000-byte lines (label $lab): malformed 0 of 40" test "$RC" -eq 0 -a "$(python3 "$OUTP/check_lines.py" "$T/big$lab.out" 8 5 100000 $lab)" = "malformed 0, misplaced 0, complete yes"
done
cat >"$T/flat16.yaml" <<'YAML'
version: 1
modules:
  - { name: lm, role: language, dp: 16 }
YAML
PYTHONUNBUFFERED=1 "$L" --backend mpi --label "$T/flat16.yaml" -- python3 -c 'import os; r = os.environ["RANK"]; [print("rank", r, "line", i) for i in range(40)]' >"$T/unbuf.out" 2>/dev/null
check "unbuffered Python, 16 ranks: 640 lines, each under its own label" test "$(grep -cE '^\[([0-9]+) lm\] rank \1 line [0-9]+$' "$T/unbuf.out")" -eq 640 -a "$(wc -l <"$T/unbuf.out")" -eq 640
# A line over HG_LINE_MAX (1 MiB) is cut with a mark on the terminal, exact in the log.
"$L" --backend mpi --label --log-dir "$T/cutlogs" "$SMOKE" -- python3 -c 'import sys; sys.stdout.write("a" * 1500000 + "\nend\n")' >"$T/cut.out" 2>/dev/null
check "a 1.5 MB line: cut once per rank, with the mark" test "$(grep -c 'line continues]$' "$T/cut.out")" -eq 2
check "a 1.5 MB line: the rest labelled again" test "$(grep -cE '^\[[01] [a-z]+\] a+$' "$T/cut.out")" -eq 2 -a "$(grep -cE '^\[[01] [a-z]+\] end$' "$T/cut.out")" -eq 2
check "a 1.5 MB line: the log file byte-exact" cmp -s "$T/cutlogs/rank0-encoder.stdout" <(python3 -c 'import sys; sys.stdout.write("a" * 1500000 + "\nend\n")')
# Partial lines (a prompt, a progress bar) show after a short silence, never inside
# another rank's line.
"$L" --backend mpi "$SMOKE" -- sh -c 'if [ "$RANK" = 0 ]; then printf "progress 50%%"; sleep 2; echo " done"; else sleep 1; echo "rank 1 line"; fi' >"$T/partial.out" 2>/dev/null
check "partial line: shown before its end, and whole lines stay whole" test "$(cat "$T/partial.out")" = $'progress 50%\nrank 1 line\n done'
# issue 23 B.1: a last line without a newline is ended when its rank is done, not glued
# to the next rank's line, with and without --label.
for flags in "" "--label"; do
  "$L" --backend mpi $flags "$SMOKE" -- sh -c 'if [ "$RANK" = 0 ]; then printf "last words, no newline"; else sleep 1; echo "a whole line"; fi' >"$T/lastwords.out" 2>/dev/null
  want=$'last words, no newline\na whole line'; [[ -n $flags ]] && want=$'[0 encoder] last words, no newline\n[1 language] a whole line'
  check "unterminated last line ends with its rank (${flags:-no flags})" test "$(cat "$T/lastwords.out")" = "$want"
done
# B.2: hgrid's own lines start on a line of their own after a rank's unfinished stderr
# line: a failing rank, a SIGKILLed one, a bar, the operator's SIGTERM.
"$L" --backend mpi --label "$SMOKE" -- sh -c 'if [ "$RANK" = 1 ]; then printf "fatal: bad input" >&2; exit 3; fi; sleep 2' >/dev/null 2>"$T/glued.err"
check "own line after an unfinished rank line: not glued" grep -qx '\[1 language\] fatal: bad input' "$T/glued.err"
check "own line after an unfinished rank line: at a line start" grep -q '^hgrid: rank 1 (language) failed, exit status 3; stopping' "$T/glued.err"
"$L" --backend mpi "$SMOKE" -- sh -c 'if [ "$RANK" = 1 ]; then printf "half a line" >&2; kill -9 $$; fi; sleep 2' >/dev/null 2>"$T/killed.err"
check "SIGKILLed mid-line: its half line ends, the failure line starts a line" grep -qx 'half a line' "$T/killed.err"
start termbar --backend mpi --grace 5 "$SMOKE" -- sh -c 'printf "bar 10%%" >&2; exec sleep 30'
for ((i = 0; i < 100; i++)); do [[ $(grep -c 'bar 10%' "$T/termbar.err" 2>/dev/null) -ge 1 ]] && break; sleep 0.1; done
sleep 0.5; kill -TERM "$LPID"; finish termbar
check "SIGTERM after a bar: the operator's line starts a line" grep -q '^hgrid: Terminated received' "$T/termbar.err" || show termbar
# B.3: a bar redrawn with \r every 0.1 s shows its redraws as they come, byte for byte,
# and with --label each redraw is labelled.
got=$(python3 "$OUTP/first_redraw.py" "$T/bar.out" "$L" --backend mpi "$SMOKE" -- sh -c '[ "$RANK" = 0 ] && exec python3 tests/output/bar.py 30; exit 0')
check "progress bar: first redraw within 1 s (got $got s)" python3 -c "import sys; sys.exit(not ('$got' != 'never' and float('$got') < 1.0))"
check "progress bar: the bytes exactly" cmp -s "$T/bar.out" <(python3 -c 'import sys; sys.stdout.write("start\n" + "".join("\r%3d%%" % i for i in range(30)) + "\n")')
python3 "$OUTP/first_redraw.py" "$T/barl.out" "$L" --backend mpi --label "$SMOKE" -- sh -c '[ "$RANK" = 0 ] && exec python3 tests/output/bar.py 30; exit 0' >/dev/null
check "progress bar, --label: each of 30 redraws labelled" test "$(grep -ao $'\r\\[0 encoder\\] ' "$T/barl.out" | wc -l)" -eq 30
# B.4: stdout and stderr on one pipe (2>&1 | cat): 8 ranks x 400 lines of 5,000 bytes
# over PIPE_BUF, none spliced.
"$L" --backend mpi "$CFG" -- python3 "$OUTP/both.py" 200 5000 2>&1 | cat >"$T/both.out"
check "stdout and stderr on one pipe: 0 spliced of 3,200" test "$(python3 "$OUTP/check_both.py" "$T/both.out" 5000)" = "spliced 0, lines 3200"
# B.6: a line of exactly HG_LINE_MAX bytes is whole; without --label the pieces of 8
# ranks' 2.5 MB lines name their rank and can be put back together.
"$L" --backend mpi "$SMOKE" -- python3 -c 'import sys; sys.stdout.write("a" * 1048576 + "\n")' >"$T/mib.out" 2>/dev/null
check "a line of exactly 1 MiB: whole, no mark" cmp -s "$T/mib.out" <(python3 -c 'import sys; sys.stdout.write(("a" * 1048576 + "\n") * 2)')
"$L" --backend mpi "$CFG" -- python3 -c 'import os, sys; sys.stdout.write(chr(97 + int(os.environ["RANK"])) * 2500000 + "\n")' >"$T/cut8.out" 2>/dev/null
check "8 ranks' 2.5 MB lines: every piece tagged, all put back together" test "$(python3 "$OUTP/cut_pieces.py" "$T/cut8.out" 8 2500000)" = "whole 8 of 8, tagged 16"
# The program's stdout is a pipe in every mode.
for flags in "" "--label"; do
  "$L" --backend mpi $flags "$SMOKE" -- sh -c '[ -p /dev/stdout ] && [ -p /dev/stderr ] && echo pipes' >"$T/kind.out" 2>/dev/null
  check "stdout and stderr are pipes (${flags:-no flags})" test "$(grep -c 'pipes$' "$T/kind.out")" -eq 2
done
# A stalled reader during the grace: the ranks still log and save; what the reader
# cannot take yet waits in memory, then in a spill file (test hook: 1 MiB of memory).
mkdir -p "$T/tlstall"
( SAVE_DIR="$T/tlstall" SAVE_LINES=20000 HGRID_TEST_SPILL_MEM=1048576 "$L" --backend mpi --grace 30 "$CFG" -- python3 "$OUTP/save_on_term.py" 2>"$T/tlstall.err" | { while [[ $(ls "$T/tlstall" | grep -c '^saved') -lt 8 ]]; do sleep 0.2; [[ -e "$T/tlstall.giveup" ]] && break; done; cat; } >"$T/tlstall.out"; echo "${PIPESTATUS[0]}" >"$T/tlstall.rc" ) &
STALL=$!
for ((i = 0; i < 300; i++)); do [[ $(ls "$T/tlstall" | grep -c '^running') -eq 8 ]] && break; sleep 0.1; done
pkill -TERM -f "^$L --backend mpi --grace 30 " ; ( sleep 40; touch "$T/tlstall.giveup" ) & GIVEUP=$!
wait "$STALL"; kill "$GIVEUP" 2>/dev/null
check "stalled reader during the grace: 8 of 8 saved" test "$(ls "$T/tlstall" | grep -c '^saved')" -eq 8
check "stalled reader during the grace: all 160,000 lines arrive" test "$(grep -c ' saving line ' "$T/tlstall.out")" -eq 160000 -a "$(cat "$T/tlstall.rc")" -eq 143
# A background child that keeps the streams open: the launch ends when the ranks do.
start bgchild --backend mpi "$SMOKE" -- sh -c 'sh -c "trap \"\" TERM; exec sleep 301" & exit 0'
finish bgchild
check "background child: exit 0, within seconds (not at its 301 s)" test "$RC" -eq 0 -a "$ELAPSED" -lt 10000 || show bgchild
check "background child: names the holder, rank and host" grep -qE "^hgrid: rank 0 \(encoder\): its program exited, but process [0-9]+ \(sleep\) on $(hostname) still held its output after 2 s of silence; killed it$" "$T/bgchild.err"
check "background child: nothing left running" none_left bgchild

# --- resilience: restarts, stalls (issue 19) ---------------------------------------------
# Fails on attempt 0 (rank 1 exits 3), succeeds on attempt 1: every rank sees count 1.
start restart --backend mpi --max-restarts 2 --report "$T/restart.json" "$CFG" -- sh -c '[ "$HGRID_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ] && exit 3; echo "rank $RANK attempt $HGRID_RESTART_COUNT $TORCHELASTIC_RESTART_COUNT of $TORCHELASTIC_MAX_RESTARTS"; exit 0'
finish restart
check "restart: exit 0 after a failed attempt" test "$RC" -eq 0 || show restart 12
check "restart: every rank of attempt 1 sees restart count 1 (hgrid's and torchrun's names)" test "$(grep -cE '^rank [0-7] attempt 1 1 of 2$' "$T/restart.out")" -eq 8
check "restart: says why and that it restarts" has "$T/restart.err" "hgrid: attempt 0 failed after "
check "restart: the summary lists both attempts" bash -c "grep -q '^hgrid: 2 attempts:$' '$T/restart.err' && grep -qE '^hgrid:   attempt 0: failed after [0-9.]+ s \\(rank 1 \\(radio_encoder\\) was the first to fail, exit status 3 on [^)]+\\), exit status 3$' '$T/restart.err' && grep -qE '^hgrid:   attempt 1: succeeded after [0-9.]+ s; go [0-9.]+ s after attempt 0 ended$' '$T/restart.err'"
check "restart: the report lists both attempts" python3 -c "
import json, sys
r = json.load(open('$T/restart.json'))
a = r['attempts']
sys.exit(not (r['restarts'] == 1 and len(a) == 2 and a[0]['exit_status'] == 3 and a[0]['failed_rank'] == 1
              and a[1]['exit_status'] == 0 and a[1]['from_last_failure_to_go_s'] > 0))"
check "restart: the failed attempt's line says it restarts, and no job exit status precedes it" bash -c "grep -qE '^hgrid: attempt 0 failed after [0-9.]+ s \\(rank 1 \\(radio_encoder\\) was the first to fail, exit status 3\\) on [^ ]+; restarting \\(2 restarts left\\)$' '$T/restart.err' && ! grep -qE '^hgrid: workload failed|job exit status' '$T/restart.err'" || show restart 12
check "restart: nothing left running" none_left restart
# A workload's status is its own, never hgrid's verdict: a rank that exits with one of
# hgrid's codes (6: too few hosts, 124: deadline, ...) is restarted like any other.
for code in 2 5 6 124; do
  start wexit$code --backend mpi --max-restarts 1 "$SMOKE" -- sh -c "[ \"\$HGRID_RESTART_COUNT\" = 0 ] && [ \"\$RANK\" = 1 ] && exit $code; exit 0"
  finish wexit$code
  check "workload exit $code on attempt 0: restarted, exit 0 after two attempts" test "$RC" -eq 0 -a "$(grep -c '^hgrid:   attempt [01]: ' "$T/wexit$code.err")" -eq 2 || show wexit$code
done
# --log-dir with restarts: every attempt's files in attempt_N/, mpirun's too.
start logrestart --backend mpi --max-restarts 1 --log-dir "$T/rlogs" "$SMOKE" -- sh -c 'echo "out $RANK attempt $HGRID_RESTART_COUNT"; [ "$HGRID_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ] && { echo "traceback of attempt 0" >&2; exit 3; }; exit 0'
finish logrestart
check "log-dir with restarts: exit 0" test "$RC" -eq 0 || show logrestart
check "log-dir with restarts: attempt 0's traceback kept in attempt_0/" cmp -s "$T/rlogs/attempt_0/rank1-language.stderr" <(printf 'traceback of attempt 0\n')
check "log-dir with restarts: attempt 1's output in attempt_1/" cmp -s "$T/rlogs/attempt_1/rank1-language.stdout" <(printf 'out 1 attempt 1\n')
check "log-dir with restarts: mpirun.stderr per attempt, nothing at the top" bash -c "test -f '$T/rlogs/attempt_0/mpirun.stderr' -a -f '$T/rlogs/attempt_1/mpirun.stderr' && [ \"\$(ls '$T/rlogs')\" = \"\$(printf 'attempt_0\\nattempt_1')\" ]"
# A second Ctrl-C kills at once and says so; the grace had not run out.
start twoint --backend mpi --grace 30 "$SMOKE" -- sh -c 'trap "" TERM INT; echo "ready $RANK"; while :; do sleep 0.1; done'
wait_for "$T/twoint.out" "ready 1" 30; sleep 0.3
kill -INT "$LPID"; sleep 0.5; kill -INT "$LPID"
finish twoint
check "second Ctrl-C: 'killing the job now', never 'did not exit within the grace period'" bash -c "grep -q 'received again, killing the job now\$' '$T/twoint.err' && ! grep -q 'grace period' '$T/twoint.err'" || show twoint
check "second Ctrl-C: ends within seconds" under 15
# --restart-delay: the next attempt waits, and says so.
start delay --backend mpi --max-restarts 1 --restart-delay 2 "$SMOKE" -- sh -c '[ "$HGRID_RESTART_COUNT" = 0 ] && exit 3; exit 0'
finish delay
check "--restart-delay 2: exit 0, says the wait, takes it" test "$RC" -eq 0 -a "$(grep -c 'restarting (1 restart left) in 2 s$' "$T/delay.err")" -eq 1 -a "$ELAPSED" -ge 2000 || show delay
# --max-restarts 0 (the default): no restart.
start norestart --backend mpi "$CFG" -- sh -c '[ "$RANK" = 1 ] && exit 3; exit 0'
finish norestart
check "no --max-restarts: the first failure ends the job" test "$RC" -eq 3 -a "$(grep -c 'attempt' "$T/norestart.err")" -eq 0 || show norestart
# Restarts exhausted: the last attempt's status.
start exhaust --backend mpi --max-restarts 2 "$CFG" -- sh -c '[ "$RANK" = 2 ] && exit 7; exit 0'
finish exhaust
check "restarts exhausted: exit 7, three attempts" test "$RC" -eq 7 -a "$(grep -c '^hgrid:   attempt [0-2]: failed' "$T/exhaust.err")" -eq 3 || show exhaust
check "restarts exhausted: one job exit status, after the last attempt only" test "$(grep -c 'job exit status 7$' "$T/exhaust.err")" -eq 1 -a "$(grep -c '; restarting (' "$T/exhaust.err")" -eq 2 || show exhaust
# A pre-flight failure restarts too; the config's agent.max_restarts counts.
sed 's/^agent:$/agent:\n  max_restarts: 1/' "$SMOKE" >"$T/smoke-restart.yaml"
grep -q 'max_restarts: 1' "$T/smoke-restart.yaml" || printf 'agent:\n  max_restarts: 1\n' >>"$T/smoke-restart.yaml"
HGRID_TEST_FAIL_RANK=1 HGRID_TEST_FAIL_ATTEMPT=0 start preflightrestart --backend mpi "$T/smoke-restart.yaml" -- true
finish preflightrestart
check "pre-flight failure, agent.max_restarts 1: exit 0 on attempt 1" test "$RC" -eq 0 -a "$(grep -c '^hgrid:   attempt' "$T/preflightrestart.err")" -eq 2 || show preflightrestart
# The operator's signal never restarts.
start oprestart --backend mpi --max-restarts 3 "$CFG" -- sh -c 'echo "ready $RANK"; exec sleep 60'
wait_for "$T/oprestart.out" "ready 7" 30; sleep 0.3
kill -TERM "$LPID"
finish oprestart
check "operator SIGTERM with --max-restarts: exit 143, no restart" test "$RC" -eq 143 -a "$(grep -c 'attempt' "$T/oprestart.err")" -eq 0 || show oprestart
check "operator SIGTERM with --max-restarts: nothing left running" none_left oprestart
# A stall: rank 6 stops heartbeating at step 5 (a shell writes to HGRID_HEARTBEAT_FD).
BEAT='i=0; while [ $i -lt 200 ]; do echo $i >&$HGRID_HEARTBEAT_FD; if [ "$RANK" = 6 ] && [ $i -ge 5 ]; then exec sleep 300; fi; i=$((i+1)); sleep 0.1; done'
start stall --backend mpi --stall-timeout 2 --grace 2 "$CFG" -- sh -c "$BEAT"
finish stall
check "stall: exit 5" test "$RC" -eq 5 || show stall
check "stall: names the rank, its module, coordinates and step, and where the others are" grep -qE '^hgrid: rank 6 \(language, tp 0 dp 1 ep 2\) stalled at step 5; 7 other ranks at steps? [0-9-]+ \(no heartbeat for 2 s\)$' "$T/stall.err"
check "stall: the group's others are said to be silent for less than the timeout, not unstalled" bash -c "grep -qE '^hgrid: the stalled rank is in language [a-z_]+ group [0-9]+ \\(ranks [-0-9, ]+\\), whose other [0-9]+ ranks? (was|were) silent for less than 2 s$' '$T/stall.err' && ! grep -q 'did not stall' '$T/stall.err'" || show stall 12
check "stall: within stall timeout + grace" under 15
check "stall: nothing left running" none_left stall
# Two ranks of one tp group stall: the group is named.
BEAT2='i=0; while [ $i -lt 200 ]; do echo $i >&$HGRID_HEARTBEAT_FD; if [ "$RANK" -ge 6 ] && [ $i -ge 5 ]; then exec sleep 300; fi; i=$((i+1)); sleep 0.1; done'
start stall2 --backend mpi --stall-timeout 2 --grace 2 "$CFG" -- sh -c "$BEAT2"
finish stall2
check "stall of a whole tp group: the group is named" has "$T/stall2.err" "hgrid: the stalled ranks are every rank of language tp group 1 (ranks 6-7)"
# Python: hgrid.heartbeat registers faulthandler, so the stalled rank's stack arrives.
cat >"$T/pybeat.py" <<'PY'
import os, time, hgrid
r = int(os.environ["RANK"])
for step in range(1000):
    hgrid.heartbeat(step)
    if r == 3 and step == 4:
        time.sleep(300)
    time.sleep(0.1)
PY
PYTHONPATH=$PWD/python start pystall --backend mpi --label --stall-timeout 2 --grace 2 "$CFG" -- python3 "$T/pybeat.py"
finish pystall
check "Python stall: exit 5, rank 3 named at step 4" test "$RC" -eq 5 -a "$(grep -c '^hgrid: rank 3 (radio_encoder, tp 1 dp 1) stalled at step 4' "$T/pystall.err")" -eq 1 || show pystall 15
check "Python stall: its stack arrived, under its label" grep -qE '^\[3 radio_encoder\] .*File ".*pybeat.py", line 6' "$T/pystall.err"
check "Python stall: nothing left running" none_left pystall
# The stacks signal goes to the process that asked for it, never to its process group:
# a bash wrapper without exec around a Python rank survives it (its TERM trap runs at the
# stop), and the Python rank still dumps its stack.
cat >"$T/wrapbeat.py" <<'PY'
import os, time, hgrid
r = int(os.environ["RANK"])
for step in range(1000):
    hgrid.heartbeat(step)
    if r == 3 and step == 4:
        time.sleep(300)
    time.sleep(0.1)
PY
WRAP='trap "echo wrapper $RANK: stopped; exit 0" TERM; python3 "$0" & wait $!; echo "wrapper $RANK: python ended"'
PYTHONPATH=$PWD/python start wrapstall --backend mpi --label --stall-timeout 2 --grace 4 "$CFG" -- bash -c "$WRAP" "$T/wrapbeat.py"
finish wrapstall
check "stall under a bash wrapper: exit 5, rank 3 named, asked every rank for its stack" test "$RC" -eq 5 -a "$(grep -c '^hgrid: rank 3 (radio_encoder, tp 1 dp 1) stalled at step 4' "$T/wrapstall.err")" -eq 1 -a "$(grep -c '^hgrid: asked 8 ranks for their stacks' "$T/wrapstall.err")" -eq 1 || show wrapstall 15
check "stall under a bash wrapper: the Python rank's stack arrived" grep -qE '^\[3 radio_encoder\] .*File ".*wrapbeat.py", line 6' "$T/wrapstall.err"
check "stall under a bash wrapper: every wrapper lived to the stop" test "$(grep -cE '^\[[0-7] [a-z_]+\] wrapper [0-7]: stopped$' "$T/wrapstall.out")" -eq 8 || { sed 's/^/     | /' "$T/wrapstall.out" | tail -12; show wrapstall 15; }
check "stall under a bash wrapper: no rank died of SIGUSR1" bash -c "! grep -qE 'killed by signal|failed' '$T/wrapstall.err'"
check "stall under a bash wrapper: nothing left running" none_left wrapstall
# A program that heartbeats without asking for stacks (a shell here, as C's
# hg_heartbeat) is never sent the stacks signal; SIGUSR1 would end it.
PLAIN='trap "echo plain $RANK: stopped; exit 0" TERM; i=0; while [ $i -lt 200 ]; do echo $i >&$HGRID_HEARTBEAT_FD; if [ "$RANK" = 6 ] && [ $i -ge 5 ]; then sleep 300 & wait $!; fi; i=$((i+1)); sleep 0.1; done'
start plainstall --backend mpi --stall-timeout 2 --grace 4 "$CFG" -- bash -c "$PLAIN"
finish plainstall
check "stall of a plain heartbeat: exit 5, no stacks asked, rank 6 lived to the stop" test "$RC" -eq 5 -a "$(grep -c 'for their stacks' "$T/plainstall.err")" -eq 0 -a "$(grep -c '^plain 6: stopped$' "$T/plainstall.out")" -eq 1 || show plainstall 15
# A heartbeat that names a process outside the rank asks for nothing: the keeper signals
# only PROGRAM's own processes.
sleep 300 & OUTSIDE=$!
start strangerpid --backend mpi --stall-timeout 2 --grace 2 "$CFG" -- sh -c "echo '1 stacks $OUTSIDE' >&\$HGRID_HEARTBEAT_FD; exec sleep 300"
finish strangerpid
check "a heartbeat naming another process's pid: exit 5, that process not signalled" test "$RC" -eq 5 -a "$(grep -c '^hgrid: asked 8 ranks for their stacks' "$T/strangerpid.err")" -eq 1 || show strangerpid
check "a heartbeat naming another process's pid: it still runs" kill -0 "$OUTSIDE"
kill "$OUTSIDE"; wait "$OUTSIDE" 2>/dev/null
# A stall, then a restart that runs through.
start stallrestart --backend mpi --stall-timeout 2 --grace 2 --max-restarts 1 "$CFG" -- sh -c 'echo 1 >&$HGRID_HEARTBEAT_FD; [ "$HGRID_RESTART_COUNT" = 0 ] && exec sleep 300; exit 0'
finish stallrestart
check "stall then restart: exit 0" test "$RC" -eq 0 -a "$(grep -c '^hgrid:   attempt' "$T/stallrestart.err")" -eq 2 || show stallrestart

# Failed hosts left out: rank 5 (on made-up host testnode2: HGRID_TEST_HOSTS_OF) fails
# pre-flight in phase gpu on attempt 0; attempt 1 runs without testnode2, the spare
# testnode4 in its place (HGRID_TEST_HOSTFILE_DRY: chosen and said, run here).
printf '# five hosts, one spare\ntestnode0 slots=2\ntestnode1 slots=2\ntestnode2 slots=2\ntestnode3 slots=2\ntestnode4 slots=2\n' >"$T/hosts5"
head -n 5 "$T/hosts5" >"$T/hosts4"
OMPI_MCA_plm_rsh_agent=true HGRID_TEST_HOSTS_OF=2 HGRID_TEST_FAIL_RANK=5 HGRID_TEST_FAIL_ATTEMPT=0 HGRID_TEST_HOSTFILE_DRY=1 \
  start exclude --backend mpi --hostfile "$T/hosts5" --exclude-failed-hosts --max-restarts 1 "$CFG" -- true
finish exclude
check "failed host left out: exit 0 on attempt 1" test "$RC" -eq 0 || show exclude 12
check "failed host left out: the spare takes its place" has "$T/exclude.err" "hgrid: attempt 1 runs on testnode0, testnode1, testnode3, testnode4; left out: testnode2 (rank 5 failed pre-flight in phase gpu)"
OMPI_MCA_plm_rsh_agent=true HGRID_TEST_HOSTS_OF=2 HGRID_TEST_FAIL_RANK=5 HGRID_TEST_FAIL_ATTEMPT=0 HGRID_TEST_HOSTFILE_DRY=1 \
  start nospare --backend mpi --hostfile "$T/hosts4" --exclude-failed-hosts --max-restarts 1 "$CFG" -- true
finish nospare
check "failed host, no spare: exit 6" test "$RC" -eq 6 || show nospare 12
check "failed host, no spare: no 'restarting' before 'too few hosts', and no closing line but that one" bash -c "grep -qE '^hgrid: attempt 0 failed after [0-9.]+ s \\(pre-flight failed' '$T/nospare.err' && ! grep -qE 'restarting|job exit status|job failed before' '$T/nospare.err'" || show nospare 12
check "failed host, no spare: says so" has "$T/nospare.err" "hgrid: too few hosts left for the layout: 6 slots, 8 ranks needed (hosts: testnode0, testnode1, testnode3; left out: testnode2 (rank 5 failed pre-flight in phase gpu))"
"$L" --backend mpi --exclude-failed-hosts "$SMOKE" -- true >"$T/nohostfile.out" 2>"$T/nohostfile.err"; RC=$?
check "--exclude-failed-hosts without --hostfile: exit 2, says why" test "$RC" -eq 2 -a "$(grep -c 'needs --hostfile' "$T/nohostfile.err")" -eq 1

# --- a config from a pipe or standard input; -v quotes as a shell would ---------------
start pipecfg --backend mpi <(cat "$SMOKE") -- sh -c 'echo "piped $RANK"'
finish pipecfg
check "config from <(...): exit 0" test "$RC" -eq 0 || show pipecfg
check "config from <(...): both ranks ran" test "$(grep -c '^piped [01]$' "$T/pipecfg.out")" -eq 2
"$L" --backend mpi - -- sh -c 'echo "stdin $RANK"' <"$SMOKE" >"$T/stdincfg.out" 2>"$T/stdincfg.err"; RC=$?
check "config from stdin (-): exit 0" test "$RC" -eq 0
check "config from stdin (-): both ranks ran" test "$(grep -c '^stdin [01]$' "$T/stdincfg.out")" -eq 2
"$L" --backend mpi -v "$SMOKE" -- printf "it's %s\n" 'a b' >"$T/quote.out" 2>"$T/quote.err"; RC=$?
check "-v: exit 0" test "$RC" -eq 0
cat >"$T/quote.want" <<'WANT'
 -- printf 'it'\''s %s\n' 'a b'
WANT
check "-v: arguments quoted for a shell" grep -qF -f "$T/quote.want" "$T/quote.err"
check "-v: the quoted words read back as the same arguments" bash -c "eval \"set -- \$(sed -n 's/^hgrid: running: .* -- //p' '$T/quote.err')\"; [[ \$# -eq 3 && \$1 = printf && \$2 = \"it's %s\\\\n\" && \$3 = 'a b' ]]"

# --- a plan directory left by a killed launcher is removed at the next start ------------
mkdir -p "$T/hgrid-job-999999999-1-abcdef" && touch "$T/hgrid-job-999999999-1-abcdef/rank0.json"
"$L" --backend mpi "$SMOKE" -- true >/dev/null 2>&1
check "stale plan directory: removed" test ! -e "$T/hgrid-job-999999999-1-abcdef"
live_start=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[20] }' /proc/$$/stat)
mkdir -p "$T/hgrid-job-$$-$live_start-abcdef"
"$L" --backend mpi "$SMOKE" -- true >/dev/null 2>&1
check "live launcher's plan directory: kept" test -d "$T/hgrid-job-$$-$live_start-abcdef"
rm -rf "$T/hgrid-job-$$-$live_start-abcdef"

# --- inside an mpirun job -------------------------------------------------------------
mpirun -np 8 "$L" --backend mpi "$CFG" -- bash -c "$ENVPROG" >"$T/inmpi.out" 2>"$T/inmpi.err"; RC=$?
check "in mpirun: exit 0" test "$RC" -eq 0 || { RC=$RC; ELAPSED=-; show inmpi; }
check "in mpirun: environment contract" expect_env "$T/inmpi.out"
# Relay mode: rank 0's collector is the one writer of every rank's output (agent/
# collector.h); mpirun's I/O forwarding, which reads each rank's stream in pieces of at
# most 4096 bytes (stdout from a pseudo-terminal) and interleaves the pieces, carries only
# rank 0's. Every line whole, under its own label, on both streams and at any length.
inmpi_lines() { # NAME N WIDTH STREAM(out|err): every rank prints N lines of WIDTH bytes
  local redirect=; [[ $4 == err ]] && redirect='>&2'
  mpirun -np 8 --oversubscribe "$L" --backend mpi --label "$CFG" -- sh -c "python3 \"\$0\" $2 $3 $redirect" "$OUTP/lines.py" >"$T/$1.out" 2>"$T/$1.err"; RC=$?
  grep -v '^hgrid: ' "$T/$1.$4" >"$T/$1.prog"
  [[ $RC -eq 0 && "$(python3 "$OUTP/check_lines.py" "$T/$1.prog" 8 "$2" "$3" 1)" = "malformed 0, misplaced 0, complete yes" ]]
}
check "in mpirun, 8 x 3,000 labelled lines on stdout: exit 0, malformed 0, misplaced 0" inmpi_lines inmpilines 3000 100 out
check "in mpirun, 8 x 3,000 labelled lines on stderr: exit 0, malformed 0, misplaced 0" inmpi_lines inmpilineserr 3000 100 err
check "in mpirun, 8 x 40 labelled lines of 100 KB on stdout: all whole" inmpi_lines inmpi100k 40 100000 out
check "in mpirun, 8 x 40 labelled lines of 100 KB on stderr: all whole" inmpi_lines inmpi100kerr 40 100000 err
# Rank 0's program ends at once; mpirun still reads its streams, which the collector
# holds until the other ranks' programs, 2 s later, have written everything.
mpirun -np 8 "$L" --backend mpi --label "$CFG" -- sh -c '[ "$RANK" = 0 ] && exit 0; sleep 2; python3 "$0" 3000 100' "$OUTP/lines.py" >"$T/inmpilate.out" 2>"$T/inmpilate.err"; RC=$?
check "in mpirun, rank 0 ends first: the others' 7 x 3,000 lines still arrive whole" test "$RC" -eq 0 -a "$(grep -v '^hgrid: ' "$T/inmpilate.out" | grep -c '^\[[1-7] [a-z_]*\] [1-7]:[0-9]*:[0-9]\{100\}$')" -eq 21000
mpirun -np 8 "$L" --backend mpi --label "$CFG" -- sh -c 'printf "last words of $RANK"' >"$T/inmpilast.out" 2>"$T/inmpilast.err"; RC=$?
check "in mpirun: a last line without newline still arrives, labelled" test "$RC" -eq 0 -a "$(grep -oE '\[([0-7]) [a-z_]+\] last words of [0-7]' "$T/inmpilast.out" | sort -u | wc -l)" -eq 8
logs_made() {
  [[ $(ls "$1" | grep -c '^rank[0-7]-[a-z_]*\.std\(out\|err\)$') -eq 16 ]] \
    && cmp -s "$1/rank5-language.stdout" <(printf 'out of 5\n')
}
# Eight ranks make the same missing --log-dir (and its parent) at once, as the
# standalone launcher makes it before mpirun starts.
mpirun -np 8 "$L" --backend mpi --log-dir "$T/inmpilogs/new" "$CFG" -- sh -c 'echo "out of $RANK"' >"$T/inmpild.out" 2>"$T/inmpild.err"; RC=$?
check "in mpirun, --log-dir NEWDIR/NEW: exit 0" test "$RC" -eq 0 || { ELAPSED=-; show inmpild; }
check "in mpirun, --log-dir NEWDIR/NEW: 16 files, rank 5's byte-exact" logs_made "$T/inmpilogs/new"
# Byte-exact logs of long lines and a last line without newline, labels on the streams.
mpirun -np 8 "$L" --backend mpi --label --log-dir "$T/inmpilogs/big" "$CFG" -- sh -c 'python3 "$0" 40 100000; python3 "$0" 300 100 >&2; printf "tail of $RANK"' "$OUTP/lines.py" >"$T/inmpildb.out" 2>"$T/inmpildb.err"; RC=$?
check "in mpirun, --log-dir with 100 KB lines: rank 5's stdout byte-exact" cmp -s "$T/inmpilogs/big/rank5-language.stdout" <(RANK=5 python3 "$OUTP/lines.py" 40 100000; printf 'tail of 5')
check "in mpirun, --log-dir with 100 KB lines: rank 5's stderr byte-exact" cmp -s "$T/inmpilogs/big/rank5-language.stderr" <(RANK=5 python3 "$OUTP/lines.py" 300 100)
grep -v -e '^hgrid: ' -e '^\[[0-7] [a-z_]*\] tail of [0-7]$' "$T/inmpildb.out" >"$T/inmpildb.prog"
check "in mpirun, --log-dir with 100 KB lines: exit 0, every line whole on stdout" test "$RC" -eq 0 -a "$(python3 "$OUTP/check_lines.py" "$T/inmpildb.prog" 8 40 100000 1)" = "malformed 0, misplaced 0, complete yes" -a "$(grep -c '^\[[0-7] [a-z_]*\] tail of [0-7]$' "$T/inmpildb.out")" -eq 8
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
    # Restarts inside an allocation: each attempt an srun step (--launcher srun).
    salloc -n 8 "$L" --launcher srun --backend mpi --max-restarts 1 "$CFG" -- sh -c '[ "$HGRID_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ] && exit 3; echo "rank $RANK attempt $HGRID_RESTART_COUNT"' >"$T/srunrestart.out" 2>"$T/srunrestart.err"; RC=$?
    check "srun steps: a failed attempt restarted, exit 0" test "$RC" -eq 0 -a "$(grep -c '^rank [0-7] attempt 1$' "$T/srunrestart.out")" -eq 8 || tail -5 "$T/srunrestart.err"
    check "srun steps: the summary lists both attempts" bash -c "grep -q '^hgrid: 2 attempts:$' '$T/srunrestart.err'"
    # The only node's rank died by a signal: with --exclude-failed-hosts nothing is left.
    salloc -n 8 "$L" --launcher srun --backend mpi --max-restarts 1 --exclude-failed-hosts "$CFG" -- sh -c '[ "$RANK" = 3 ] && kill -9 $$; sleep 30' >"$T/srunexcl.out" 2>"$T/srunexcl.err"; RC=$?
    check "srun steps: the failed node left out, none to spare: exit 6" test "$RC" -eq 6 || tail -5 "$T/srunexcl.err"
    check "srun steps: says which node and why" has "$T/srunexcl.err" "hgrid: too few hosts left for the layout: 0 slots, 8 ranks needed (hosts: none; left out: $(hostname -s) (rank 3 killed by signal 9))"
    "$L" --launcher srun --backend mpi "$CFG" -- true >"$T/srunnoalloc.out" 2>"$T/srunnoalloc.err"; RC=$?
    check "--launcher srun outside an allocation: exit 2, says so" test "$RC" -eq 2 -a "$(grep -c 'runs inside a SLURM allocation' "$T/srunnoalloc.err")" -eq 1
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

# --- a readiness deadline on many ranks: one line per cause, naming the ranks -----------
# One rank never starts its agent, so the other 15 wait in MPI_Init until their watchdogs
# fire in phase bootstrap, each knowing its rank only from mpirun's environment. However
# many of them get to say so before mpirun tears the job down, the launcher prints one line.
cat >"$T/sixteen.yaml" <<'YAML'
version: 1
world_size: 16
modules:
  - {name: vision, role: encoder, tp: 2, dp: 4}
  - {name: language, role: language, tp: 2, dp: 4}
YAML
printf '#!/bin/sh\n[ "$OMPI_COMM_WORLD_RANK" = 15 ] && exec sleep 30\nexec "%s" "$@"\n' "$A" >"$T/late-agent"
chmod +x "$T/late-agent"
HGRID_AGENT=$T/late-agent start deadline16 --backend mpi --timeout 1 "$T/sixteen.yaml" -- true
finish deadline16
check "deadline on 16 ranks: exit 124" test "$RC" -eq 124 || show deadline16 20
check "deadline on 16 ranks: exactly one deadline line" \
  test "$(grep -c 'readiness deadline of 1 s passed in phase' "$T/deadline16.err")" -eq 1 || show deadline16 20
check "deadline on 16 ranks: it names the ranks" \
  grep -qE '^hgrid: ranks? [0-9][-0-9, ]*: readiness deadline of 1 s passed in phase bootstrap$' "$T/deadline16.err"
check "deadline on 16 ranks: no rank is '?'" bash -c "! grep -q 'rank ?' '$T/deadline16.err'"
check "deadline on 16 ranks: nothing left running" none_left deadline16

# 64 ranks bootstrapping on a few cores with --timeout 1: the deadline is the verdict
# (124) whatever the ranks or mpirun made of it first (an agent's peer error, mpirun's own
# crash in PMIx teardown), and the first hgrid line names it; PMIx's and libevent's lines
# go to --log-dir's mpirun.stderr, not to the user.
for i in 1 2 3; do
  start deadline64_$i --backend mpi --timeout 1 --log-dir "$T/dl64logs$i" --report "$T/dl64_$i.json" tests/layouts/moe64.yaml -- true
  finish deadline64_$i
  check "deadline on 64 ranks, run $i: exit 124" test "$RC" -eq 124 || show deadline64_$i 20
  check "deadline on 64 ranks, run $i: the first hgrid line is the deadline's" bash -c "grep -m1 '^hgrid' '$T/deadline64_$i.err' | grep -qE '^hgrid: (ranks? [-0-9, ]+|[0-9]+ ranks \\(numbers unknown\\)): readiness deadline of 1 s passed in phase |^hgrid: readiness deadline of 1 s passed'" || show deadline64_$i 20
  check "deadline on 64 ranks, run $i: no PMIx or libevent line on stderr" bash -c "! grep -qE 'PMIX ERROR|pmix_|^\\[warn\\] Epoll' '$T/deadline64_$i.err'" || show deadline64_$i 20
  check "deadline on 64 ranks, run $i: the report counts what was kept out" python3 -c "import json; assert json.load(open('$T/dl64_$i.json'))['launcher_messages'] >= 0"
done

# Bootstrap eats 6 s of the 8 (HGRID_TEST_SLOW_BOOTSTRAP, as 64 ranks starting on a few
# cores do) and rank 1 stays mute on its bridge links, so ranks 10 and 12 run out of time
# in bridges: the deadline and where its time went come first, before their lines.
HGRID_TEST_SLOW_BOOTSTRAP=6 HGRID_TEST_BRIDGE_SILENT_RANK=1 HGRID_TEST_BRIDGE_MUTE=1 start slowboot --backend mpi --timeout 8 tests/golden/two_encoders14.yaml -- true
finish slowboot
check "slow bootstrap, bridges out of time: exit 124" test "$RC" -eq 124 || show slowboot 20
# cause_first FILE: its first two hgrid lines after progress are the deadline's and where
# its time went, bootstrap most of it; the ranks' bridges lines come after them.
cause_first() {
  local first
  first=$(grep '^hgrid: ' "$1" | grep -v ' ranks ready, ' | head -2)
  [ "$(sed -n 1p <<<"$first")" = "hgrid: readiness deadline of 8 s passed on 2 of 14 ranks" ] &&
    sed -n 2p <<<"$first" | grep -qE '^hgrid: where the 8 s went \(the slowest rank in each phase\): bootstrap [6-9]\.[0-9]{2} s, gpu [0-9.]+ s, world [0-9.]+ s, groups [0-9.]+ s, verify [0-9.]+ s, bridges [0-9.]+ s; most of it in bootstrap: the ranks below ran out of time in bridges, which does not make the peers they name slow$' &&
    [ "$(grep -c '^hgrid: rank 1[02] (language): bridge audio -> language: rank 1 sent nothing to rank 1[02] within the 8 s init timeout \[phase bridges, host [^]]*\]$' "$1")" -eq 2 ]
}
check "slow bootstrap: the deadline and where its time went first, then the ranks' lines" cause_first "$T/slowboot.err" || show slowboot 20

# --- mpirun's own end-of-job boxes and signal lines stay out of the user's streams ------
for name in failrank abort hang termwork exit7 segv deadline16 deadline64_1 deadline64_2 deadline64_3 slowboot; do
  check "$name: no mpirun end-of-job box or signal line" bash -c "! grep -qE 'Primary job +terminated normally|mpirun detected that|mpirun noticed that|mpirun: Forwarding signal|^-{74}\$' '$T/$name.err'"
done

summary
