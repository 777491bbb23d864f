#!/usr/bin/env bash
# GPU tests of the NCCL backend, run on the GPU machine through `device` (see
# ../shared/device/README.md): builds there, then
#   - one-gpu.yaml (1 rank) end to end in exec mode (hg-rank-check checks the handoff,
#     and that the program inherits no descriptor NCCL left open), with shared
#     communicators and with one ncclCommSplit per kind (HGRID_TEST_NO_SHARE);
#   - the same in process: the example trainer's ncclAllReduce on every kind, started
#     under mpirun directly and through hgrid-agent --in-process;
#   - injected failures after GPU, world and group init, a verification past the
#     deadline (exit 124), and the exec handoff refused by hg_init;
#   - CUDA_VISIBLE_DEVICES empty: no GPU, said once for both ranks (exit 3);
#   - two-gpu.yaml (2 ranks) on one GPU: both ranks would share it, refused (exit 3);
#   - with 2+ GPUs visible: two-gpu.yaml and configs/smoke-2gpu.yaml end to end, both
#     handoff modes, shared and per kind, and a failure after world or group init on
#     one rank failing both at once, not at the deadline;
#   - with 2+ GPUs: bridge-2gpu.yaml (an encoder rank feeding a language rank: the link
#     proved by NCCL send/recv, the summary counts it) and colocated-2gpu.yaml (both
#     modules on both GPUs, communicators shared across modules), exec and in process,
#     shared and per kind; a rank that sends nothing across the bridge (test hook):
#     the job fails, naming the bridge and both ranks, by the deadline;
#   - GPU choice on 2 GPUs: every rank sees both (device = local rank); each rank sees
#     one of its own through tests/gpu/one-gpu-per-rank.sh (CUDA_VISIBLE_DEVICES = local
#     rank, as srun --gpus-per-task=1; device 0), under mpirun, in process and as
#     hgrid-launch's HGRID_AGENT; both see only GPU 0 (refused, exit 3); 3 ranks on 2
#     GPUs (refused, exit 3);
#   - then scripts/bench-ready (skip with BENCH=0).
# Prints `gpu: N passed, M failed`; logs go to $OUT (when set) as well.
# Missing libraries (libyaml, jansson, check headers) come as .deb files in .devdeps,
# unpacked to /tmp/deps, never into /.
set -u
cd "$(dirname "$0")/../.."
log=${OUT:-/tmp}/gpu-tests.log
: >"$log"
say() { echo "$@" | tee -a "$log"; }

. tests/gpu/devdeps.sh
. tests/lib.sh

say "== build ($(nvidia-smi -L 2>/dev/null | grep -c '^GPU') GPU(s); $(mpirun --version | head -1))"
# The tests run the test variant (build/test/: the HGRID_TEST_* hooks compiled in);
# scripts/bench-ready the product's agent (build/bin/).
B=build/test
if ! make -j"$(nproc)" NCCL=1 "CPPFLAGS=${CPPFLAGS:-}" "LDFLAGS=${LDFLAGS:-}" \
    test-programs build/bin/hgrid-agent build/lib/libhgrid_core.a \
    >>"$log" 2>&1; then
    tail -30 "$log"
    say "gpu: build failed"
    exit 1
fi
AGENT=$B/bin/hgrid-agent
TRAINER=$B/bin/hgrid-example-trainer
CHECK=$B/tests/progs/hg-rank-check
BARE=build/tests/gpu/bare_nccl
mkdir -p build/tests/gpu
mpicc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Icommon -Iinclude -I/usr/local/cuda/include ${CPPFLAGS:-} \
    -o $BARE tests/gpu/bare_nccl.c build/lib/libhgrid_core.a ${LDFLAGS:-} -lyaml -ljansson \
    -L/usr/local/cuda/lib64 -lnccl -lcudart >>"$log" 2>&1 || { say "gpu: bare_nccl build failed"; exit 1; }
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work
out=$work/out
rc=0

# A case that outlives RUN_LIMIT (60 s: the slowest passing case takes 14) is a hang:
# what is still running, and where each process and thread waits, goes to the log
# before it is stopped (status 124), so one GPU run says where (the exec handoff with
# per-kind communicators hung past the program's exit on an H100 once).
RUN_LIMIT=${RUN_LIMIT:-60}
snapshot() {
    local p t
    echo "== still running after ${RUN_LIMIT} s:"
    ps -eo pid,ppid,stat,wchan:24,etime,args --forest | grep -v ' ps -eo ' | grep -E -A12 'mpirun|hgrid|hg-rank' | cut -c1-220
    for p in $(pgrep -f 'hgrid-agent|hg-rank-check|hgrid-example-trainer|mpirun|orted'); do
        echo "-- $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)"
        for t in /proc/$p/task/*; do
            echo "   task ${t##*/}: $(cut -d' ' -f3 "$t/stat" 2>/dev/null) $(cat "$t/wchan" 2>/dev/null) $(cat "$t/comm" 2>/dev/null)"
        done
        ls -l "/proc/$p/fd" 2>/dev/null | awk 'NR > 1 { print "   fd", $9, $11 }'
    done
}
run() {
    local t0=$(date +%s.%N) pid waited=0
    "$@" >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && ((waited < RUN_LIMIT * 10)); do
        sleep 0.1
        ((++waited))
    done
    if kill -0 "$pid" 2>/dev/null; then
        snapshot >>"$out" 2>&1
        kill -TERM "$pid" 2>/dev/null
        sleep 5
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rc=124
    else
        wait "$pid"
        rc=$?
    fi
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    { echo "\$ $*"; cat "$out"; echo "(status $rc, $secs s)"; } >>"$log"
}
# check NAME CONDITION... (tests/lib.sh): a failed one shows the last run's output.
show_failure() { sed 's/^/    | /' "$out" | tail -25 | tee -a "$log"; }
has() { grep -qE -- "$1" "$out"; }
faster_than() { awk -v s="$secs" -v m="$1" 'BEGIN { exit !(s < m) }'; }
count_is() { [[ $(grep -cE -- "$1" "$out") -eq $2 ]]; }
rc_is() { [[ $rc -eq $1 ]]; }
show() { grep -E '^(hgrid|trainer: rank [0-9]+ done|rank-check|DEV )' "$out" | sed 's/^/    /' | tee -a "$log"; }
# What an NCCL summary says after "nccl backend": the world init's roots (HGRID_NCCL_RANKS_PER_ROOT
# set: one root per that many ranks, ncclCommInitRankScalable past one) and the GPU
# memory the communicators took per rank.
tail_re() {
    local np=$1 k=${HGRID_NCCL_RANKS_PER_ROOT:-128} roots
    roots=$(((k > 0 && np > k) ? (np + k - 1) / k : 1))
    if ((roots > 1)); then
        printf ', %d NCCL roots \\(ncclCommInitRankScalable\\), [0-9]+(-[0-9]+)? MiB GPU memory/rank' "$roots"
    else
        printf ', 1 NCCL root, [0-9]+(-[0-9]+)? MiB GPU memory/rank'
    fi
}
# A program that prints the GPU the handoff gave it: DEV RANK HGRID_CUDA_DEVICE CUDA_VISIBLE_DEVICES.
DEVPROG=(sh -c 'echo "DEV $RANK ${HGRID_CUDA_DEVICE-unset} ${CUDA_VISIBLE_DEVICES-unset}"')
# Each rank gets one GPU of its own (or HGRID_TEST_VISIBLE's), then runs the real agent.
PER_RANK=$PWD/tests/gpu/one-gpu-per-rank.sh
export HGRID_TEST_REAL_AGENT=$PWD/$B/bin/hgrid-agent

$BARE --plan tests/gpu/one-gpu.yaml >"$work/one.json"
$BARE --plan tests/gpu/two-gpu.yaml >"$work/two.json"

# per_kind CONFIG: the summary's communicators/rank with one communicator per (module,
# kind) (HGRID_TEST_NO_SHARE=1), from the dry-run's rank plans, so it follows the kinds:
# the world plus each group the rank is in (a kind that does not apply, or a null group
# such as embd on a middle stage, makes none), plus the own group of each bridge it
# leads (its plan's bridge_groups; unshared too, the world's members or not); N, or
# MIN-MAX when the ranks differ.
per_kind() {
    python3 - "$B/bin/hgrid-launch" "$1" <<'PY'
import json, subprocess, sys
launch, config = sys.argv[1:]
def plan(*args):
    return json.loads(subprocess.run([launch, "--dry-run", "--format", "json", *args, config],
                                     check=True, capture_output=True, text=True).stdout)
counts = []
for r in range(plan()["world_size"]):
    p = plan("--rank", str(r))
    views = p.get("modules") or [p]
    counts.append(1 + sum(g is not None for v in views for g in v["groups"].values())
                  + sum(r in b["group"] for b in p.get("bridge_groups", [])))
lo, hi = min(counts), max(counts)
print(lo if lo == hi else "%d-%d" % (lo, hi))
PY
}
ONE_PER_KIND=$(per_kind tests/gpu/one-gpu.yaml)
TWO_PER_KIND=$(per_kind tests/gpu/two-gpu.yaml)
BRIDGE_PER_KIND=$(per_kind tests/gpu/bridge-2gpu.yaml)
COLOC_PER_KIND=$(per_kind tests/gpu/colocated-2gpu.yaml)
say "   one communicator per kind: one-gpu $ONE_PER_KIND, two-gpu $TWO_PER_KIND, bridge $BRIDGE_PER_KIND, colocated $COLOC_PER_KIND"

# exec_mode NAME NP CONFIG PLAN COMMS [ENV...]; $LINKS (", 1 bridge link and 1 bridge group verified") is
# what the summary says of bridges, nothing when the layout has none.
exec_mode() {
    local name=$1 np=$2 config=$3 plan=$4 comms=$5
    shift 5
    run env "$@" mpirun -np "$np" -x HGRID_TEST_NO_SHARE "$AGENT" --backend nccl --verbose \
        --report "$work/report.json" "$config" -- "$CHECK" "$plan"
    show
    check "$name: exec mode, exit 0 (${secs} s)" rc_is 0
    check "$name: every rank's handoff matches the plan" count_is '^rank-check: rank [0-9]+ ok' "$np"
    check "$name: the program inherits only fds 0, 1, 2 (none of NCCL's)" count_is '^FDS [0-9]+: 0 1 2$' "$np"
    check "$name: summary, nccl backend, $comms communicators/rank${LINKS:-}" has "^hgrid: $np/$np ranks ready in .*; $comms communicators?/rank${LINKS:-}, nccl backend$(tail_re "$np")\)$"
    check "$name: report: go, nccl" bash -c "grep -q '\"go\": true' $work/report.json && grep -q '\"backend\": \"nccl\"' $work/report.json"
}
# in_process NAME NP CONFIG [ENV...]
in_process() {
    local name=$1 np=$2 config=$3
    shift 3
    run env "$@" mpirun -np "$np" -x HGRID_TEST_NO_SHARE "$TRAINER" --backend nccl "$config"
    show
    check "$name: in-process trainer under mpirun, exit 0 (${secs} s)" rc_is 0
    check "$name: ncclAllReduce on every kind gives the plan's sum" count_is '^trainer: rank [0-9]+ done: .* all kinds ok$' "$np"
    run env "$@" mpirun -np "$np" -x HGRID_TEST_NO_SHARE "$AGENT" --in-process --backend nccl "$config" -- "$TRAINER"
    check "$name: in-process through hgrid-agent --in-process, exit 0" rc_is 0
    check "$name: in-process through the agent: all kinds ok" count_is '^trainer: rank [0-9]+ done: .* all kinds ok$' "$np"
}

say "== 1 rank, one GPU"
exec_mode "1 rank shared" 1 tests/gpu/one-gpu.yaml "$work/one.json" 1 HGRID_TEST_NO_SHARE=0
exec_mode "1 rank per kind" 1 tests/gpu/one-gpu.yaml "$work/one.json" "$ONE_PER_KIND" HGRID_TEST_NO_SHARE=1
in_process "1 rank shared" 1 tests/gpu/one-gpu.yaml HGRID_TEST_NO_SHARE=0
in_process "1 rank per kind" 1 tests/gpu/one-gpu.yaml HGRID_TEST_NO_SHARE=1

run env HGRID_TEST_FAIL_RANK=0 mpirun -np 1 -x HGRID_TEST_FAIL_RANK "$AGENT" --backend nccl tests/gpu/one-gpu.yaml -- true
show
check "1 rank, injected failure after GPU prewarm: exit 3, NCCL state released" bash -c "[[ $rc -eq 3 ]] && grep -q '^hgrid: rank 0 (language): injected pre-flight failure' $out"
for phase in world groups; do
    run env HGRID_TEST_FAIL_RANK=0 HGRID_TEST_FAIL_PHASE=$phase HGRID_TEST_NO_SHARE=1 mpirun -np 1 \
        -x HGRID_TEST_FAIL_RANK -x HGRID_TEST_FAIL_PHASE -x HGRID_TEST_NO_SHARE "$AGENT" --backend nccl tests/gpu/one-gpu.yaml -- true
    show
    check "1 rank, injected failure after $phase init: exit 3, communicators aborted" bash -c "[[ $rc -eq 3 ]] && grep -q '^hgrid: rank 0 (language): injected pre-flight failure .*\[phase $phase, ' $out"
done

run env HGRID_TEST_SLOW_RANK=0 mpirun -np 1 -x HGRID_TEST_SLOW_RANK "$AGENT" --backend nccl --timeout 10 tests/gpu/one-gpu.yaml -- true
show
check "1 rank, verify past the 10 s deadline: exit 124 (${secs} s)" rc_is 124
check "1 rank, verify past the deadline: named, and the deadline line" bash -c "grep -q '^hgrid: rank 0 (language): verify did not complete within the 10 s init timeout' $out && grep -q '^hgrid: readiness deadline of 10 s passed on 1 of 1 ranks$' $out"

run mpirun -np 1 "$AGENT" --backend nccl tests/gpu/one-gpu.yaml -- "$TRAINER" --backend nccl tests/gpu/one-gpu.yaml
show
check "exec handoff into hg_init: refused clearly, exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q \"^trainer: hg_init: this program was started by hgrid's exec handoff\" $out"

# NCCL init that can never complete (a world declared one rank larger than the job):
# the non-blocking init is polled to the deadline, aborted, and named; exit 124.
run env HGRID_TEST_NCCL_PHANTOM_PEER=1 mpirun -np 1 -x HGRID_TEST_NCCL_PHANTOM_PEER "$AGENT" \
    --backend nccl --timeout 5 tests/gpu/one-gpu.yaml -- true
show
check "1 rank, NCCL world init never completes: exit 124 (${secs} s)" rc_is 124
check "1 rank, NCCL world init never completes: aborted and named, within seconds" \
    bash -c "grep -q 'ncclCommInitRankConfig for .* did not complete within the 5 s init timeout; communicator aborted' $out && awk -v s=$secs 'BEGIN { exit !(s < 20) }'"

# No GPU visible at all: said once for both ranks, pointing at --backend mpi.
run env CUDA_VISIBLE_DEVICES= mpirun -np 2 -x CUDA_VISIBLE_DEVICES "$AGENT" --backend nccl tests/gpu/two-gpu.yaml -- "${DEVPROG[@]}"
show
check "CUDA_VISIBLE_DEVICES empty: exit 3" rc_is 3
check "CUDA_VISIBLE_DEVICES empty: no GPU, one line for both ranks" count_is '^hgrid: ranks 0-1 \(2 ranks: language\): no GPU found \(cudaGetDeviceCount: no CUDA-capable device is detected; CUDA_VISIBLE_DEVICES=\): the nccl backend needs one GPU per rank; run on CPUs with --backend mpi \(or agent.backend: mpi\) \[phase gpu, host [^]]+\]$' 1
check "CUDA_VISIBLE_DEVICES empty: said once" count_is 'no GPU found|cudaGetDeviceCount' 1

# Two ranks of one host on one GPU, refused by name: the GPU's UUID and PCI address.
SHARED='^hgrid: ranks 0-1 \(2 ranks: language\): local ranks 0-1 would share one GPU \(GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}, PCI [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.0; CUDA_VISIBLE_DEVICES=[^)]*\): each rank needs a GPU of its own: start at most one rank per GPU, and give every rank all of the host.s GPUs or each rank a different one \[phase gpu, host [^]]+\]$'
if ((ngpu < 2)); then
    say "== 2 ranks on $ngpu GPU: must fail pre-flight, clearly"
    run mpirun -np 2 "$AGENT" --backend nccl tests/gpu/two-gpu.yaml -- "$CHECK" "$work/two.json"
    show
    check "2 ranks, 1 GPU: exit 3" rc_is 3
    check "2 ranks, 1 GPU: both would share it, one line naming the GPU" count_is "$SHARED" 1
    check "2 ranks, 1 GPU: the program never runs" bash -c "! grep -q '^rank-check' $out"
else
    say "== 2 ranks, $ngpu GPUs"
    exec_mode "2 ranks shared" 2 tests/gpu/two-gpu.yaml "$work/two.json" 2 HGRID_TEST_NO_SHARE=0
    exec_mode "2 ranks per kind" 2 tests/gpu/two-gpu.yaml "$work/two.json" "$TWO_PER_KIND" HGRID_TEST_NO_SHARE=1
    in_process "2 ranks shared" 2 tests/gpu/two-gpu.yaml HGRID_TEST_NO_SHARE=0
    in_process "2 ranks per kind" 2 tests/gpu/two-gpu.yaml HGRID_TEST_NO_SHARE=1
    # Rank 1 fails after world (or group) init: the agreement after each phase keeps
    # rank 0 out of the ncclCommSplit (or all-reduce) it would wait in until the deadline.
    for phase in world groups; do
        run env HGRID_TEST_FAIL_RANK=1 HGRID_TEST_FAIL_PHASE=$phase HGRID_TEST_NO_SHARE=1 mpirun -np 2 \
            -x HGRID_TEST_FAIL_RANK -x HGRID_TEST_FAIL_PHASE -x HGRID_TEST_NO_SHARE \
            "$AGENT" --backend nccl --timeout 60 tests/gpu/two-gpu.yaml -- "$CHECK" "$work/two.json"
        show
        check "2 ranks, rank 1 fails after $phase init: exit 3 (${secs} s)" rc_is 3
        check "2 ranks, failure after $phase: long before the 60 s deadline" faster_than 30
        check "2 ranks, failure after $phase: rank 1 named, rank 0 skipped" bash -c "grep -q '^hgrid: rank 1 (language): injected pre-flight failure .*\[phase $phase, ' $out && grep -q '^hgrid: no-go: pre-flight failed on 1 of 2 ranks (1 skipped, 0 ready)$' $out"
    done
    if [[ -f configs/smoke-2gpu.yaml ]]; then
        $BARE --plan configs/smoke-2gpu.yaml >"$work/smoke.json"
        # Encoder and language: with one communicator per kind, the encoder rank passes
        # no color at embd and pos_embd (it has none), the language rank does.
        LINKS=', 1 bridge link and 1 bridge group verified' exec_mode "smoke-2gpu per kind" 2 configs/smoke-2gpu.yaml "$work/smoke.json" "$(per_kind configs/smoke-2gpu.yaml)" HGRID_TEST_NO_SHARE=1
        in_process "smoke-2gpu per kind" 2 configs/smoke-2gpu.yaml HGRID_TEST_NO_SHARE=1
    fi

    say "== bridges and colocated layouts, 2 ranks on $ngpu GPUs"
    $BARE --plan tests/gpu/bridge-2gpu.yaml >"$work/bridge.json"
    $BARE --plan tests/gpu/colocated-2gpu.yaml >"$work/coloc.json"
    # Encoder rank 0 -> language rank 1: one link, proved before go, and the bridge's own
    # group [0, 1], which is the world's members (shared: 2); per kind, the encoder's
    # kinds and the language's, plus the world and the bridge's group (per_kind).
    LINKS=', 1 bridge link and 1 bridge group verified' exec_mode "bridge 1 -> 1" 2 tests/gpu/bridge-2gpu.yaml "$work/bridge.json" 2 HGRID_TEST_NO_SHARE=0
    LINKS=', 1 bridge link and 1 bridge group verified' exec_mode "bridge 1 -> 1 per kind" 2 tests/gpu/bridge-2gpu.yaml "$work/bridge.json" "$BRIDGE_PER_KIND" HGRID_TEST_NO_SHARE=1
    in_process "bridge 1 -> 1" 2 tests/gpu/bridge-2gpu.yaml HGRID_TEST_NO_SHARE=0
    check "bridge 1 -> 1: in process, hg_init proved the link" has "^hgrid: 2/2 ranks ready in .*; 2 communicators/rank, 1 bridge link and 1 bridge group verified, nccl backend$(tail_re 2)\)$"
    in_process "bridge 1 -> 1 per kind" 2 tests/gpu/bridge-2gpu.yaml HGRID_TEST_NO_SHARE=1
    run "$B/bin/hgrid-launch" tests/gpu/bridge-2gpu.yaml -- "$CHECK" "$work/bridge.json"
    show
    check "bridge 1 -> 1: hgrid-launch, exit 0, the link proved (${secs} s)" bash -c "[[ $rc -eq 0 ]] && grep -qE '^hgrid: 2/2 ranks ready in .*, bridges [0-9.]+; 2 communicators/rank, 1 bridge link and 1 bridge group verified, nccl backend$(tail_re 2)\)$' $out"
    # Both modules on both GPUs: vision's tp and language's cp are one communicator (the
    # rank alone), the rest the world: 2; one per (module, kind): the world plus both
    # modules' kinds (per_kind).
    exec_mode "colocated" 2 tests/gpu/colocated-2gpu.yaml "$work/coloc.json" 2 HGRID_TEST_NO_SHARE=0
    exec_mode "colocated per (module, kind)" 2 tests/gpu/colocated-2gpu.yaml "$work/coloc.json" "$COLOC_PER_KIND" HGRID_TEST_NO_SHARE=1
    in_process "colocated" 2 tests/gpu/colocated-2gpu.yaml HGRID_TEST_NO_SHARE=0
    in_process "colocated per (module, kind)" 2 tests/gpu/colocated-2gpu.yaml HGRID_TEST_NO_SHARE=1
    run mpirun -np 2 "$AGENT" --backend nccl tests/gpu/colocated-2gpu.yaml -- sh -c 'echo "MODULES $RANK $HGRID_MODULE $HGRID_MODULES"'
    check "colocated: HGRID_MODULE the language module, HGRID_MODULES both, on both ranks" count_is '^MODULES [01] language vision,language$' 2
    # Rank 0 sends nothing on its link (HGRID_TEST_BRIDGE_SILENT_RANK: the link is kept
    # from its backend, and it says its side is done). With NCCL its peer cannot even
    # connect the link; it names rank 0 after the grace (exit 3), or at the 10 s
    # deadline (exit 124), with the bridge and both ranks.
    run env HGRID_TEST_BRIDGE_SILENT_RANK=0 mpirun -np 2 -x HGRID_TEST_BRIDGE_SILENT_RANK "$AGENT" --backend nccl \
        --timeout 10 tests/gpu/bridge-2gpu.yaml -- "${DEVPROG[@]}"
    show
    check "bridge, rank 0 silent: the job fails, exit 124 or 3 (${secs} s)" bash -c "[[ $rc -eq 124 || $rc -eq 3 ]]"
    check "bridge, rank 0 silent: by the deadline, not the watchdog's backstop" faster_than 30
    check "bridge, rank 0 silent: the bridge and both ranks named" has '^hgrid: rank [01] \((encoder|language)\): bridge encoder -> language: (rank 0 sent nothing to rank 1|rank 1 sent nothing to rank 0|the link from rank 0 to rank 1 did not connect|the link from rank [01] to rank [01] failed: )'
    check "bridge, rank 0 silent: the program never runs" bash -c "! grep -q '^DEV' $out"

    say "== pre-flight depth and GPU memory, 2 ranks on $ngpu GPUs"
    # full builds and proves every group and bridge, world the world communicator and one
    # all-reduce, none nothing of NCCL; each hands off the same plan. The summary's time
    # to ready and the report's GPU memory per rank are printed for docs/PERFORMANCE.md.
    # pf NAME CONFIG PLAN DEPTH COMMS [ENV...]
    pf() {
        local name=$1 config=$2 plan=$3 depth=$4 comms=$5 want
        shift 5
        run env "$@" mpirun -np 2 -x HGRID_TEST_NO_SHARE "$AGENT" --backend nccl --preflight "$depth" \
            --report "$work/pf.json" "$config" -- "$CHECK" "$plan"
        case $depth in
        full) want="; $comms communicators/rank(, 1 bridge link and 1 bridge group verified)?, nccl backend$(tail_re 2)\)$" ;;
        world) want="; 1 communicator/rank(, 1 bridge link and 1 bridge group not verified)?, nccl backend$(tail_re 2), pre-flight world\)$" ;;
        none) want="; 0 communicators/rank(, 1 bridge link and 1 bridge group not verified)?, nccl backend, pre-flight none\)$" ;;
        esac
        check "$name, --preflight $depth: exit 0, both handoffs match the plan" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -cE '^rank-check: rank [0-9]+ ok' $out) -eq 2 ]]"
        check "$name, --preflight $depth: summary ($comms communicators/rank)" has "^hgrid: 2/2 ranks ready in [0-9.]+ s \(.*$want"
        say "     $name, pre-flight $depth: $(grep -oE 'ready in [0-9.]+ s \(.*' "$out" | head -1)"
        python3 - "$work/pf.json" <<'PY' | tee -a "$log"
import json, sys
r = json.load(open(sys.argv[1]))
g = r["gpu_mib_per_rank"]
per = [x["gpu_mib"] for x in r["ranks"]]
print("     report: preflight %s, nccl_roots %d, communicators/rank %s, GPU MiB/rank %s; rank 0 by phase %s"
      % (r["preflight"], r["nccl_roots"], r["communicators_per_rank"], g,
         per[0] and {k: round(v, 1) for k, v in per[0].items()}))
PY
    }
    for d in full world none; do
        pf "two-gpu" tests/gpu/two-gpu.yaml "$work/two.json" $d 2 HGRID_TEST_NO_SHARE=0
        pf "bridge 1 -> 1" tests/gpu/bridge-2gpu.yaml "$work/bridge.json" $d 2 HGRID_TEST_NO_SHARE=0
        pf "colocated" tests/gpu/colocated-2gpu.yaml "$work/coloc.json" $d 2 HGRID_TEST_NO_SHARE=0
    done
    pf "two-gpu per kind" tests/gpu/two-gpu.yaml "$work/two.json" full "$TWO_PER_KIND" HGRID_TEST_NO_SHARE=1
    pf "colocated per (module, kind)" tests/gpu/colocated-2gpu.yaml "$work/coloc.json" full "$COLOC_PER_KIND" HGRID_TEST_NO_SHARE=1
    # A rank that fails in world init with --preflight world fails both at once.
    run env HGRID_TEST_FAIL_RANK=1 HGRID_TEST_FAIL_PHASE=world mpirun -np 2 -x HGRID_TEST_FAIL_RANK \
        -x HGRID_TEST_FAIL_PHASE "$AGENT" --backend nccl --preflight world --timeout 60 tests/gpu/two-gpu.yaml -- true
    show
    check "--preflight world, rank 1 fails after world init: exit 3, fast (${secs} s)" bash -c "[[ $rc -eq 3 ]] && awk -v s=$secs 'BEGIN { exit !(s < 30) }'"
    # Two bootstrap roots whatever the environment says: agent.nccl_ranks_per_root: 1.
    sed 's/^agent:$/agent:\n  nccl_ranks_per_root: 1/' tests/gpu/two-gpu.yaml >"$work/two-roots.yaml"
    run env -u HGRID_NCCL_RANKS_PER_ROOT mpirun -np 2 "$AGENT" --backend nccl "$work/two-roots.yaml" -- "$CHECK" "$work/two.json"
    show
    check "agent.nccl_ranks_per_root: 1: 2 roots, ncclCommInitRankScalable, handoffs ok" bash -c "[[ $rc -eq 0 ]] && grep -qE '^hgrid: 2/2 ranks ready in .*, nccl backend, 2 NCCL roots \(ncclCommInitRankScalable\), [0-9]+(-[0-9]+)? MiB GPU memory/rank\)$' $out"
    sed 's/^agent:$/agent:\n  nccl_ranks_per_root: 0/' tests/gpu/two-gpu.yaml >"$work/one-root.yaml"
    run env -u HGRID_NCCL_RANKS_PER_ROOT mpirun -np 2 "$AGENT" --backend nccl "$work/one-root.yaml" -- "$CHECK" "$work/two.json"
    show
    check "agent.nccl_ranks_per_root: 0: one root, ncclCommInitRankConfig" bash -c "[[ $rc -eq 0 ]] && grep -qE '^hgrid: 2/2 ranks ready in .*, nccl backend, 1 NCCL root, ' $out"

    say "== GPU choice, 2 ranks on $ngpu GPUs"
    # Every rank sees every GPU (mpirun, plain srun): device = local rank.
    run mpirun -np 2 "$AGENT" --backend nccl tests/gpu/two-gpu.yaml -- "${DEVPROG[@]}"
    show
    check "all GPUs visible: exit 0 (${secs} s)" rc_is 0
    check "all GPUs visible: rank 0 on device 0, rank 1 on device 1" bash -c "grep -q '^DEV 0 0 ' $out && grep -q '^DEV 1 1 ' $out"
    # Each rank sees one GPU of its own (srun --gpus-per-task=1): device 0 in each.
    run mpirun -np 2 -x HGRID_TEST_REAL_AGENT "$PER_RANK" --backend nccl tests/gpu/two-gpu.yaml -- "${DEVPROG[@]}"
    show
    check "one GPU per rank: exit 0 (${secs} s)" rc_is 0
    check "one GPU per rank: each on its device 0, CUDA_VISIBLE_DEVICES = local rank" bash -c "grep -q '^DEV 0 0 0$' $out && grep -q '^DEV 1 0 1$' $out"
    run mpirun -np 2 -x HGRID_TEST_REAL_AGENT "$PER_RANK" --backend nccl --report "$work/report.json" \
        tests/gpu/two-gpu.yaml -- "$CHECK" "$work/two.json"
    show
    check "one GPU per rank: NCCL groups verified, handoff matches the plan" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -cE '^rank-check: rank [0-9]+ ok' $out) -eq 2 ]] && grep -q '\"go\": true' $work/report.json"
    run mpirun -np 2 -x HGRID_TEST_REAL_AGENT "$PER_RANK" --in-process --backend nccl tests/gpu/two-gpu.yaml -- "$TRAINER"
    show
    check "one GPU per rank, in process: ncclAllReduce on every kind ok" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -cE '^trainer: rank [0-9]+ done: .* all kinds ok$' $out) -eq 2 ]]"
    run env HGRID_AGENT="$PER_RANK" "$B/bin/hgrid-launch" tests/gpu/two-gpu.yaml -- "${DEVPROG[@]}"
    show
    check "one GPU per rank through hgrid-launch (HGRID_AGENT): exit 0, each on its own GPU" bash -c "[[ $rc -eq 0 ]] && grep -q '^DEV 0 0 0$' $out && grep -q '^DEV 1 0 1$' $out"
    # Both ranks see only GPU 0: they would share it; refused before NCCL.
    run env HGRID_TEST_VISIBLE=0 mpirun -np 2 -x HGRID_TEST_REAL_AGENT -x HGRID_TEST_VISIBLE "$PER_RANK" \
        --backend nccl tests/gpu/two-gpu.yaml -- "${DEVPROG[@]}"
    show
    check "both ranks see only GPU 0: exit 3 (${secs} s)" rc_is 3
    check "both ranks see only GPU 0: one line naming both local ranks and the GPU" count_is "${SHARED/CUDA_VISIBLE_DEVICES=\[^)\]\*/CUDA_VISIBLE_DEVICES=0}" 1
    check "both ranks see only GPU 0: the program never runs" bash -c "! grep -q '^DEV' $out"
    if ((ngpu == 2)); then
        # Three ranks, two GPUs, all visible: neither all-visible nor one each: refused.
        printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    dp: 3\n' >"$work/three.yaml"
        run mpirun -np 3 "$AGENT" --backend nccl "$work/three.yaml" -- "${DEVPROG[@]}"
        show
        check "3 ranks on 2 GPUs: exit 3" rc_is 3
        check "3 ranks on 2 GPUs: each rank names its local rank, the count and CUDA_VISIBLE_DEVICES" count_is '^hgrid: rank [0-2] \(language\): local rank [0-2] of 3 ranks on this host sees 2 GPUs \(CUDA_VISIBLE_DEVICES=[^)]*\): give every rank all of the host.s GPUs \(at least 3\), or each rank exactly one \(srun --gpus-per-task=1\), or start at most 2 ranks on this host \[phase gpu, host [^]]+\]$' 3
    fi
fi

# launch_mode NAME NP CONFIG PLAN: the one command users type, standalone (the launcher
# starts and supervises mpirun), NCCL backend, both handoff modes and two faults.
LAUNCH=$B/bin/hgrid-launch
launch_mode() {
    local name=$1 np=$2 config=$3 plan=$4
    run "$LAUNCH" "$config" -- "$CHECK" "$plan"
    show
    check "$name: hgrid-launch exec mode, exit 0 (${secs} s)" rc_is 0
    check "$name: hgrid-launch: every rank's handoff matches the plan" count_is '^rank-check: rank [0-9]+ ok' "$np"
    check "$name: hgrid-launch: summary, nccl backend" has "^hgrid: $np/$np ranks ready in .*, nccl backend$(tail_re "$np")\)$"
    run "$LAUNCH" --in-process "$config" -- "$TRAINER"
    show
    check "$name: hgrid-launch --in-process, exit 0 (${secs} s)" rc_is 0
    check "$name: hgrid-launch --in-process: all kinds ok" count_is '^trainer: rank [0-9]+ done: .* all kinds ok$' "$np"
    run env HGRID_TEST_HANG_RANK=0 "$LAUNCH" --timeout 5 "$config" -- true
    show
    check "$name: hgrid-launch, rank 0 hangs after NCCL init: exit 124 (${secs} s)" rc_is 124
    run "$LAUNCH" "$config" -- bash -c '[ "$RANK" = 0 ] && exit 7; sleep 30'
    show
    check "$name: hgrid-launch, workload exits 7 on rank 0: exit 7, rank named (${secs} s)" \
        bash -c "[[ $rc -eq 7 ]] && grep -q 'rank 0 (.*) was the first to fail, exit status 7' $out"
}
say "== hgrid-launch standalone"
launch_mode "1 rank" 1 tests/gpu/one-gpu.yaml "$work/one.json"
if ((ngpu >= 2)); then
    launch_mode "smoke-2gpu" 2 configs/smoke-2gpu.yaml "$work/smoke.json"
fi

if ((ngpu >= 2)); then
    say "== hgrid-launch standalone, 2 GPUs: labels, logs, stopping with a grace period"
    run "$LAUNCH" --label --log-dir "$work/logs" --in-process configs/smoke-2gpu.yaml -- "$TRAINER"
    show
    check "labels, in process on NCCL: exit 0" rc_is 0
    check "labels: no status line reaches the user" bash -c "! grep -q hgrid-status $out"
    check "labels: every trainer line names rank and module" count_is '^\[[01] (encoder|language)\] trainer: rank [01] done: .* all kinds ok$' 2
    check "log-dir: rank 1's stdout holds its unlabelled lines" \
        grep -q '^trainer: rank 1 done: .* all kinds ok$' "$work/logs/rank1-language.stdout"
    # A workload that needs 3 s to save after SIGINT, on live NCCL-verified ranks.
    cat >"$work/saver.sh" <<'PROG'
trap 'sleep 3; echo saved >"$SAVE_DIR/saved.$RANK"; exit 0' INT
echo "ready $RANK"
while :; do sleep 0.1; done
PROG
    mkdir -p "$work/saved"
    t0=$(date +%s.%N)
    SAVE_DIR=$work/saved timeout 120 "$LAUNCH" configs/smoke-2gpu.yaml -- bash "$work/saver.sh" >"$out" 2>&1 &
    lp=$!
    for ((i = 0; i < 300; i++)); do [[ $(grep -c '^ready' "$out") -eq 2 ]] && break; sleep 0.1; done
    kill -INT "$lp"
    wait "$lp"
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    { echo "\$ saver (SIGINT)"; cat "$out"; echo "(status $rc, $secs s)"; } >>"$log"
    show
    check "SIGINT: exit 130 (${secs} s)" rc_is 130
    check "SIGINT: both ranks saved within the grace period" test "$(ls "$work/saved" | wc -l)" -eq 2
fi

say "gpu: $pass passed, $failed failed"
if [[ ${BENCH:-1} == 1 ]]; then
    say "== scripts/bench-ready"
    MPICC=mpicc scripts/bench-ready 2>&1 | tee -a "$log"
fi
[[ $failed -eq 0 ]]
