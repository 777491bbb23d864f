#!/usr/bin/env bash
# Integration tests of hgrid-agent: the real binary under `mpirun --oversubscribe` with
# the MPI backend (CI has no GPU), on the golden layouts of 8 to 20 ranks, bridges (two
# encoders, fan-out, fan-in) and a colocated layout among them. Each rank execs
# tests/progs/hg-rank-check, which compares its HGRID_PLAN with the golden groups
# computed by Megatron's code and its environment with the plan, and prints its
# environment and its open descriptors for the checks below; every rank's HGRID_PLAN
# must equal the dry-run's --rank plan, and its bridge roles the golden bridges'. A
# rank that sends nothing across a bridge (test hook) must be named, fast. The status channel
# (common/wire/protocol.h): its lines with HGRID_STATUS_TOKEN, exactly, and none without it.
# Then the failure paths: wrong world size, an invalid config, a program that exits
# non-zero, a PROGRAM that cannot run (found right after bootstrap, exit 2), configs
# that differ between ranks, injected failures in each phase, a verification past the
# deadline, an MPI error, a hung rank, an aborting rank, the NCCL backend without a GPU
# (one line for all ranks); the in-process example trainer, and the same trainer wrongly
# started by the exec handoff; the CLI's usage errors.
#
#   make check-agent        (or: HGRID_BUILD=$PWD/build bash tests/agent_test.sh)
set -u
cd "$(dirname "$0")/.."
B=${HGRID_BUILD:-$PWD/build}
AGENT=$B/bin/hgrid-agent
LAUNCH=$B/bin/hgrid-launch
CHECK=$B/tests/progs/hg-rank-check
TRAINER=$B/bin/hgrid-example-trainer
G=tests/golden
for f in "$AGENT" "$LAUNCH" "$CHECK" "$TRAINER"; do
    [[ -x $f ]] || { echo "agent_test: $f is not built (make check-agent builds it)"; exit 2; }
done
command -v mpirun >/dev/null || { echo "agent_test: mpirun not found"; exit 2; }
# The fault hooks (agent/testhooks.h) are in the test variant only (-DHG_TEST_HOOKS).
for f in "$AGENT" "$TRAINER"; do
    grep -qa HGRID_TEST_FAIL_RANK "$f" $(ldd "$f" | awk '/libhgrid/ { print $3 }') \
        || { echo "agent_test: $f has no test hooks (build the test variant: make test-programs)"; exit 2; }
done

. tests/lib.sh
# Quiet, loopback-only Open MPI: no fabric probing on CI machines.
mpi_env
# When a rank fails, kill its peers at once: Open MPI's default waits 1 s between
# SIGTERM and SIGKILL (odls_base_sigkill_timeout), in every failing job of this suite.
export OMPI_MCA_odls_base_sigkill_timeout=0
suite agent
work=$T
export TMPDIR=$work/tmp # the agents' plan files land here
mkdir -p "$TMPDIR"
out=$work/out
H=$(hostname)
rc=0
secs=0
# DL: the deadline of the cases that wait for it in a later phase (a mute bridge peer, a
# slow verify, a hung rank): start-up must reach that phase first. 14 ranks reached the
# bridges 1.7 s after mpirun started at load 18 on 2 cores; the 2 s these cases had
# failed at load 5. 8 s holds at load 20 and more; such a case takes DL + ~1 s.
DL=8

# check NAME CONDITION... (tests/lib.sh) is one assertion about the last run; a failed
# one shows that run's output.
show_failure() { sed 's/^/    | /' "$out" | tail -n 25; }
has() { grep -qE -- "$1" "$out"; }
lacks() { ! grep -qE -- "$1" "$out"; }
count_is() { [[ $(grep -cE -- "$1" "$out") -eq $2 ]]; }
count_in() { [[ $(grep -cE -- "$2" "$1") -eq $3 ]]; }
rc_is() { [[ $rc -eq $1 ]]; }
faster_than() { awk -v s="$secs" -v m="$1" 'BEGIN { exit !(s < m) }'; }

# links_text LINKS GROUPS [VERB]: the summary's bridge part (readiness.c): ", N bridge
# link(s) and M bridge group(s) verified" (the links, each bridge's own group), none
# without links.
links_text() {
    local l=links g=groups
    ((${1} == 0)) && return
    ((${1} == 1)) && l=link
    ((${2} == 1)) && g=group
    printf ', %s bridge %s and %s bridge %s %s' "$1" "$l" "$2" "$g" "${3:-verified}"
}

# mpirun NP ARGS...: one job, output to $out, status to $rc, wall seconds to $secs.
mpi() {
    local np=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    timeout 120 mpirun --oversubscribe -np "$np" "$@" >"$out" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    [[ -n ${HG_TIME_RUNS:-} ]] && echo "     ($secs s: mpirun -np $np ${*:1:4})"
}

# --- the golden layouts, end to end ------------------------------------------------
# golden NAME RANKS COMMS LINKS GROUPS [DIR]: COMMS is the summary's "communicators/rank"
# figure: the world plus one per distinct membership (e.g. vlm8_moe: tp, singletons, dp,
# the module span, and on the bridge's leaders its own group); LINKS the bridge links the
# layout has, each proved in pre-flight (the golden's "links"); GROUPS its bridges, whose
# own groups (Megatron's bridge_pg) each leader builds and all-reduces over before go:
# the report's record of every rank lists the bridge groups it is in (those its plan's
# "bridge_groups" put it in, none for a rank that leads no bridge) and how many of them
# the rank proved (bridge_groups_match).
# Each rank's program first keeps a copy of its HGRID_PLAN (plans_match compares them
# with the dry-run's) and prints HGRID_MODULES, then becomes hg-rank-check.
KEEP='cp "$HGRID_PLAN" "$HG_PLANS/rank$RANK.json" && echo "MODULES $RANK $HGRID_MODULES" && exec "$0" "$@"'
golden() {
    local name=$1 n=$2 comms=$3 links=$4 groups=$5 G=${6:-$G}
    rm -rf "$work/plans-$name"
    mkdir -p "$work/plans-$name"
    HG_PLANS=$work/plans-$name mpi "$n" -x HG_PLANS "$AGENT" --backend mpi --report "$work/$name.json" "$G/$name.yaml" -- \
        sh -c "$KEEP" "$CHECK" "$G/$name.json"
    check "$name: $n ranks exit 0 (${secs} s)" rc_is 0
    check "$name: every rank's groups match the golden" count_is '^rank-check: rank [0-9]+ ok: (20|22) kinds match$' "$n"
    check "$name: no mismatch" lacks 'FAIL'
    check "$name: summary line, $links bridge links verified" has "^hgrid: $n/$n ranks ready in [0-9]+\.[0-9]{2} s \(bootstrap [0-9.]+, gpu [0-9.]+, world [0-9.]+, groups [0-9.]+, verify [0-9.]+$( ((links)) && echo ', bridges [0-9.]+'); $comms communicators/rank$(links_text "$links" "$groups"), mpi backend\)$"
    check "$name: no status-channel line without HGRID_STATUS_TOKEN" lacks 'hgrid-status'
    check "$name: one MASTER_PORT on every rank" count_is "^ENV [0-9]+ MASTER_PORT=$(grep -m1 -oE 'MASTER_PORT=[0-9]+' "$out" | cut -d= -f2)$" "$n"
    check "$name: MASTER_ADDR is rank 0's host" count_is "^ENV [0-9]+ MASTER_ADDR=$(hostname)$" "$n"
    check "$name: report: go, every rank ready" bash -c "grep -q '\"go\": true' $work/$name.json && grep -q '\"ready\": $n,' $work/$name.json"
    check "$name: report: one record per rank" count_in "$work/$name.json" '"status": "ready"' "$n"
    # Relay mode runs PROGRAM under a keeper connected to rank 0's output collector: its
    # heartbeat pipe (HGRID_HEARTBEAT_FD) is the one descriptor above stderr.
    check "$name: the program inherits only fds 0, 1, 2 and the heartbeat pipe" count_is '^FDS [0-9]+: 0 1 2 hb$' "$n"
    check "$name: every rank's HGRID_PLAN is its dry-run --rank plan (bridges, modules)" plans_match "$name" "$n"
    check "$name: report: each rank's bridge groups, $groups in all, each proved by its members" bridge_groups_match "$name" "$n" "$groups"
    cp "$out" "$work/$name.out"
}
# bridge_groups_match NAME N GROUPS: the report (written by rank 0 from the layout, with
# the count each rank proved) against every rank's HGRID_PLAN: a rank's "bridge_groups"
# are the plan's bridge groups holding it, in plan order, and it proved every one of
# them (its own verify.c count); the report's totals are GROUPS and GROUPS verified.
bridge_groups_match() {
    python3 - "$work/$1.json" "$work/plans-$1" "$2" "$3" >>"$out" 2>&1 <<'PY'
import json, sys
report, plans, n, groups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(report))
bad = []
if (r["bridge_groups"], r["bridge_groups_verified"]) != (groups, groups):
    bad.append("totals %s/%s, expected %d" % (r["bridge_groups_verified"], r["bridge_groups"], groups))
for rank in range(n):
    plan = json.load(open("%s/rank%d.json" % (plans, rank)))
    want = [b["group"] for b in plan.get("bridge_groups", []) if rank in b["group"]]
    rec = r["ranks"][rank]
    if (rec["bridge_groups"], rec["bridge_groups_verified"]) != (want, len(want)):
        bad.append("rank %d: %s, %d verified; expected %s" % (rank, rec["bridge_groups"],
                                                               rec["bridge_groups_verified"], want))
print("bridge_groups_match: " + "; ".join(bad) if bad else "", end="")
sys.exit(1 if bad else 0)
PY
}
# plans_match NAME N: byte for byte, ranks 0..N-1.
plans_match() {
    local r
    for ((r = 0; r < $2; r++)); do
        "$LAUNCH" --dry-run --format json --rank "$r" "$G/$1.yaml" 2>/dev/null | cmp -s - "$work/plans-$1/rank$r.json" \
            || { echo "plans_match: rank $r's HGRID_PLAN differs from the dry-run's" >>"$out"; return 1; }
    done
}
# plan_has NAME RANK TEXT: rank RANK's HGRID_PLAN holds TEXT (fixed string).
plan_has() { grep -qF -- "$3" "$work/plans-$1/rank$2.json"; }
golden vlm8_moe 8 5-6 2 1
golden expert_tp_differs12 12 4-8 4 1
golden enc4_llm_pp4_20 20 5-10 2 1
# Bridges (docs/DESIGN.md, "Module graph and bridges"): two encoders fanning out into the
# language module, one encoder fanning out 1 -> 4, a pp 2 encoder fanning in 4 -> 2;
# every link proved in pre-flight. Colocated: both modules on all 8 ranks, identical
# memberships shared across modules (vision's singleton is language's cp group: 7, not
# 8; one communicator per (module, kind) would be 32-33).
golden two_encoders14 14 4-9 8 2
golden bridge_fanout12 12 3-6 4 1
golden bridge_fanin_pp16 16 5-9 4 1
golden colocated8 8 7 0 0
# The bridges' own groups in the report, as users read them: rank 6 leads language's first
# replica into both bridges; rank 7 is a member of both boundary groups and leads neither.
check "two_encoders14: report: rank 6 proved both bridge groups, rank 7 is in none" python3 -c "
import json, sys
r = json.load(open('$work/two_encoders14.json'))['ranks']
sys.exit(not ((r[6]['bridge_groups'], r[6]['bridge_groups_verified']) == ([[0, 1, 6, 8, 10, 12], [3, 5, 6, 8, 10, 12]], 2)
              and (r[7]['bridge_groups'], r[7]['bridge_groups_verified']) == ([], 0)))"
# Generalized Tensor Parallelism (issue 20; tests/golden-gtp, Megatron's HyperCommGrid with
# [tp, gtp_remat, cp, dp, pp] and BridgeCommunicator's one leader per dp x gtp_remat lane):
# every group and bridge link verified, HGRID_GTP_REMAT_RANK/SIZE checked by hg-rank-check.
golden gtp_llm_only16 16 10 0 0 tests/golden-gtp
golden gtp_vlm12 12 5-9 4 1 tests/golden-gtp
golden gtp_fanin20 20 6-10 8 1 tests/golden-gtp

# Bridge roles in HGRID_PLAN, against the golden bridges (Megatron's BridgeCommunicator):
# two_encoders14: audio leaders 0, 1 and vision leaders 3, 5 each feed two of language's
# 6, 8, 10, 12; fan-in: vision's last-stage leaders 4, 5 -> 8 and 6, 7 -> 10.
check "HGRID_PLAN roles: two_encoders14 rank 0 sends to 6 and 8" plan_has two_encoders14 0 '"bridges":[{"src":"audio","dest":"language","side":"src","role":"sender","peers":[6,8],"leader":0,"broadcast":[0],"group":[0,1,6,8,10,12]}]'
check "HGRID_PLAN roles: two_encoders14 rank 5 sends to 10 and 12" plan_has two_encoders14 5 '"bridges":[{"src":"vision","dest":"language","side":"src","role":"sender","peers":[10,12],"leader":5,"broadcast":[4,5],"group":[3,5,6,8,10,12]}]'
check "HGRID_PLAN roles: two_encoders14 rank 2 is a member led by 3" plan_has two_encoders14 2 '"bridges":[{"src":"vision","dest":"language","side":"src","role":"member","peers":[],"leader":3,"broadcast":[2,3],"group":[3,5,6,8,10,12]}]'
check "HGRID_PLAN roles: two_encoders14 rank 6 receives on both bridges" plan_has two_encoders14 6 '"bridges":[{"src":"audio","dest":"language","side":"dest","role":"receiver","peers":[0],"leader":6,"broadcast":[6,7],"group":[0,1,6,8,10,12]},{"src":"vision","dest":"language","side":"dest","role":"receiver","peers":[3],"leader":6,"broadcast":[6,7],"group":[3,5,6,8,10,12]}]'
check "HGRID_PLAN roles: two_encoders14 rank 13 is a member of both" plan_has two_encoders14 13 '"bridges":[{"src":"audio","dest":"language","side":"dest","role":"member","peers":[],"leader":12,"broadcast":[12,13],"group":[0,1,6,8,10,12]},{"src":"vision","dest":"language","side":"dest","role":"member","peers":[],"leader":12,"broadcast":[12,13],"group":[3,5,6,8,10,12]}]'
check "HGRID_PLAN roles: fan-out rank 3 (tp 3 of 4) sends to 4, 6, 8, 10" plan_has bridge_fanout12 3 '"bridges":[{"src":"vision","dest":"language","side":"src","role":"sender","peers":[4,6,8,10],"leader":3,"broadcast":[0,1,2,3],"group":[3,4,6,8,10]}]'
check "HGRID_PLAN roles: fan-in rank 8 receives from 4 and 5" plan_has bridge_fanin_pp16 8 '"bridges":[{"src":"vision","dest":"language","side":"dest","role":"receiver","peers":[4,5],"leader":8,"broadcast":[8,9],"group":[4,5,6,7,8,10]}]'
check "HGRID_PLAN roles: fan-in rank 7 (last stage) sends to 10" plan_has bridge_fanin_pp16 7 '"bridges":[{"src":"vision","dest":"language","side":"src","role":"sender","peers":[10],"leader":7,"broadcast":[7],"group":[4,5,6,7,8,10]}]'
check "HGRID_PLAN roles: fan-in rank 3 (first stage) and 12 (last) are in no bridge" bash -c "grep -qF '\"bridges\":[]' $work/plans-bridge_fanin_pp16/rank3.json && grep -qF '\"bridges\":[]' $work/plans-bridge_fanin_pp16/rank12.json"
check "HGRID_PLAN colocated: no bridges, one modules entry per module" bash -c "grep -qF '\"bridges\":[],\"modules\":[{\"module\":{\"name\":\"vision\"' $work/plans-colocated8/rank5.json && grep -qF '{\"module\":{\"name\":\"language\"' $work/plans-colocated8/rank5.json"
out=$work/two_encoders14.out
check "HGRID_MODULES: disjoint, the rank's own module" bash -c "grep -q '^MODULES 0 audio$' $out && grep -q '^MODULES 3 vision$' $out && grep -q '^MODULES 13 language$' $out"
out=$work/colocated8.out
check "HGRID_MODULES: colocated, every module in config order, on every rank" count_is '^MODULES [0-7] vision,language$' 8
check "colocated: HGRID_MODULE and coordinates are the language module's" bash -c "grep -q '^ENV 5 HGRID_MODULE=language$' $out && grep -q '^ENV 5 HGRID_PP_RANK=1$' $out && grep -q '^ENV 5 HGRID_TP_RANK=1$' $out"
out=$work/out
HGRID_TEST_NO_SHARE=1 mpi 8 -x HGRID_TEST_NO_SHARE "$AGENT" --backend mpi "$G/colocated8.yaml" -- "$CHECK" "$G/colocated8.json"
check "colocated, no sharing: world + one per (module, kind) (20 + 22 kinds), each verified" bash -c "[[ $rc -eq 0 ]] && grep -q '; 42-43 communicators/rank, mpi backend)$' $out"

# A peer that sends nothing across a bridge (HGRID_TEST_BRIDGE_SILENT_RANK: its links
# are kept from the backend, and it says its side is done): each of its peers names it
# and itself, with the bridge, a second later: exit 3 long before the 60 s deadline.
HGRID_TEST_BRIDGE_SILENT_RANK=0 mpi 14 -x HGRID_TEST_BRIDGE_SILENT_RANK "$AGENT" --backend mpi --timeout 60 \
    --report "$work/silent.json" "$G/two_encoders14.yaml" -- "$CHECK" "$G/two_encoders14.json"
check "silent sender 0 (fan-out to 6, 8): exit 3 (${secs} s)" rc_is 3
check "silent sender: long before the 60 s deadline" faster_than 15
for r in 6 8; do
    check "silent sender: rank $r names rank 0, itself and the bridge" count_is "^hgrid: rank $r \(language\): bridge audio -> language: rank 0 sent nothing to rank $r \(rank 0 reports the link done\) \[phase bridges, host $H\]$" 1
done
check "silent sender: no-go, the others ready" has '^hgrid: no-go: pre-flight failed on 2 of 14 ranks \(0 skipped, 12 ready\)$'
check "silent sender: the program never runs" lacks '^rank-check'
check "silent sender: the report says phase bridges" count_in "$work/silent.json" '"phase": "bridges"' 2
HGRID_TEST_BRIDGE_SILENT_RANK=8 mpi 16 -x HGRID_TEST_BRIDGE_SILENT_RANK "$AGENT" --backend mpi --timeout 60 "$G/bridge_fanin_pp16.yaml" -- true
check "silent receiver 8 (fan-in from 4, 5): exit 3 (${secs} s)" rc_is 3
check "silent receiver: long before the 60 s deadline" faster_than 15
check "silent receiver: its senders name it" bash -c "for r in 4 5; do grep -q \"^hgrid: rank \$r (vision): bridge vision -> language: rank 8 sent nothing to rank \$r (rank 8 reports the link done) \[phase bridges, host $H\]$\" $out || exit 1; done"
check "silent receiver: no-go, the others ready" has '^hgrid: no-go: pre-flight failed on 2 of 16 ranks \(0 skipped, 14 ready\)$'
# A silent peer that does not say its side is done either (HGRID_TEST_BRIDGE_MUTE): its
# peers can only wait, and name it at the deadline: exit 124.
HGRID_TEST_BRIDGE_SILENT_RANK=1 HGRID_TEST_BRIDGE_MUTE=1 mpi 14 -x HGRID_TEST_BRIDGE_SILENT_RANK -x HGRID_TEST_BRIDGE_MUTE \
    "$AGENT" --backend mpi --timeout $DL "$G/two_encoders14.yaml" -- true
check "mute sender 1: exit 124 at the $DL s deadline (${secs} s)" rc_is 124
check "mute sender 1: within seconds of the deadline" faster_than $((DL + 13))
for r in 10 12; do
    check "mute sender: rank $r names rank 1, itself and the bridge" count_is "^hgrid: rank $r \(language\): bridge audio -> language: rank 1 sent nothing to rank $r within the $DL s init timeout \[phase bridges, host $H\]$" 1
done
check "mute sender: the deadline line" has "^hgrid: readiness deadline of $DL s passed on 2 of 14 ranks$"
# A failure before the bridges (here after group init) keeps every rank out of them.
HGRID_TEST_FAIL_RANK=6 HGRID_TEST_FAIL_PHASE=groups mpi 14 -x HGRID_TEST_FAIL_RANK -x HGRID_TEST_FAIL_PHASE "$AGENT" --backend mpi \
    --timeout 60 "$G/two_encoders14.yaml" -- true
check "failure before the bridges: exit 3, rank 6 named, no bridge line (${secs} s)" bash -c "[[ $rc -eq 3 ]] && grep -q '^hgrid: no-go: pre-flight failed on 1 of 14 ranks (13 skipped, 0 ready)$' $out && ! grep -q 'bridge ' $out"
check "failure before the bridges: long before the 60 s deadline" faster_than 15
# verify: false proves nothing, and the summary says so.
printf 'version: 1\nmodules:\n  - name: enc\n    role: encoder\n    dp: 1\n  - name: language\n    role: language\n    dp: 2\nagent:\n  verify: false\n' >"$work/noverify-bridge.yaml"
mpi 3 "$AGENT" --backend mpi "$work/noverify-bridge.yaml" -- true
check "verify off, a 1 -> 2 bridge: exit 0, links not verified" bash -c "[[ $rc -eq 0 ]] && grep -q 'bridges 0\.00; 2-3 communicators/rank, 2 bridge links and 1 bridge group not verified, mpi backend)$' $out"

# Environment values, against the layouts by hand (docs/DESIGN.md, "Rank enumeration and groups").
out=$work/vlm8_moe.out
check "env: rank 0 is the encoder's first" has '^ENV 0 HGRID_MODULE=radio_encoder$'
check "env: rank 0 role" has '^ENV 0 HGRID_ROLE=encoder$'
check "env: rank 5 RANK/WORLD_SIZE" bash -c "grep -q '^ENV 5 RANK=5$' $out && grep -q '^ENV 5 WORLD_SIZE=8$' $out"
check "env: rank 5 is language module rank 1 of 4" bash -c "grep -q '^ENV 5 HGRID_MODULE=language$' $out && grep -q '^ENV 5 HGRID_MODULE_RANK=1$' $out && grep -q '^ENV 5 HGRID_MODULE_SIZE=4$' $out"
check "env: rank 5 tp 1/2 dp 0/2" bash -c "grep -q '^ENV 5 HGRID_TP_RANK=1$' $out && grep -q '^ENV 5 HGRID_TP_SIZE=2$' $out && grep -q '^ENV 5 HGRID_DP_RANK=0$' $out && grep -q '^ENV 5 HGRID_DP_SIZE=2$' $out"
check "env: rank 7 ep 3/4, expt_dp 0/1" bash -c "grep -q '^ENV 7 HGRID_EP_RANK=3$' $out && grep -q '^ENV 7 HGRID_EP_SIZE=4$' $out && grep -q '^ENV 7 HGRID_EXPT_DP_SIZE=1$' $out"
check "env: one host, so LOCAL_RANK = RANK of 8" bash -c "grep -q '^ENV 6 LOCAL_RANK=6$' $out && grep -q '^ENV 6 LOCAL_WORLD_SIZE=8$' $out"
out=$work/enc4_llm_pp4_20.out
check "env: rank 17 is the last pp stage" bash -c "grep -q '^ENV 17 HGRID_PP_RANK=3$' $out && grep -q '^ENV 17 HGRID_PP_SIZE=4$' $out"
out=$work/expert_tp_differs12.out
check "env: rank 9 expert view differs from dense" bash -c "grep -q '^ENV 9 HGRID_TP_RANK=1$' $out && grep -q '^ENV 9 HGRID_EXPT_TP_RANK=1$' $out && grep -q '^ENV 9 HGRID_EP_RANK=0$' $out && grep -q '^ENV 9 HGRID_EXPT_DP_RANK=1$' $out"
out=$work/out

# --- the status channel ----------------------------------------------------------------
# With the launcher's token in the environment, rank 0 writes "hgrid-status TOKEN: MSG"
# lines: started (before MPI_Init), ready N/W, failed rank R, go or no-go, report. Every
# line whole, in that order; none reaches the program's environment.
TOKEN=0123456789abcdef
S="hgrid-status $TOKEN: "
status_lines_whole() { [[ $(grep -c 'hgrid-status' "$out") -eq $(grep -cE "^$S(started|ready [0-9]+/[0-9]+|failed rank [0-9]+|go|no-go|report)$" "$out") ]]; }
line_of() { grep -nE -- "$1" "$out" | head -1 | cut -d: -f1; }
in_order() {
    local last=0 n
    for re in "$@"; do
        n=$(line_of "$re")
        [[ -n $n && $n -gt $last ]] || return 1
        last=$n
    done
}
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    tp: 2\n    dp: 1\n' >"$work/two.yaml"
HGRID_STATUS_TOKEN=$TOKEN mpi 2 -x HGRID_STATUS_TOKEN "$AGENT" --backend mpi --report "$work/status.json" "$work/two.yaml" -- \
    sh -c 'echo "TOKEN $RANK ${HGRID_STATUS_TOKEN-unset} $HGRID_HANDOFF"'
check "status channel: exit 0" rc_is 0
check "status channel: started, once" count_is "^${S}started$" 1
check "status channel: ready 1/2, 2/2, one per rank" count_is "^${S}ready [12]/2$" 2
check "status channel: go, once; no no-go" bash -c "[[ \$(grep -c '^${S}go$' $out) -eq 1 ]] && ! grep -q '^${S}no-go$' $out"
check "status channel: report, once, after the file is written" bash -c "[[ \$(grep -c '^${S}report$' $out) -eq 1 ]] && grep -q '\"go\": true' $work/status.json"
check "status channel: started, ready 2/2, go, report, in order" in_order "^${S}started$" "^${S}ready 2/2$" "^${S}go$" "^${S}report$"
check "status channel: every line whole" status_lines_whole
check "status channel: the readable summary still printed" has '^hgrid: 2/2 ranks ready in '
check "status channel: the token never reaches the exec'd program" count_is '^TOKEN [01] unset exec$' 2
HGRID_STATUS_TOKEN=$TOKEN HGRID_TEST_FAIL_RANK=1 mpi 2 -x HGRID_STATUS_TOKEN -x HGRID_TEST_FAIL_RANK "$AGENT" --backend mpi "$work/two.yaml" -- true
check "status channel, rank 1 fails: exit 3" rc_is 3
check "status channel, rank 1 fails: failed rank 1, once" count_is "^${S}failed rank 1$" 1
check "status channel, rank 1 fails: no ready line, no go, no report without --report" bash -c "! grep -qE '^${S}(ready .*|go|report)$' $out"
check "status channel, rank 1 fails: started, failed, no-go, in order" in_order "^${S}started$" "^${S}failed rank 1$" "^${S}no-go$"
check "status channel, rank 1 fails: every line whole" status_lines_whole
# In process the token stays: hg_init's coordinator writes the lines, the agent "started".
HGRID_STATUS_TOKEN=$TOKEN mpi 2 -x HGRID_STATUS_TOKEN "$AGENT" --in-process --backend mpi "$work/two.yaml" -- "$TRAINER"
check "status channel, --in-process: exit 0" rc_is 0
check "status channel, --in-process: started (agent), ready 2/2 and go (hg_init)" in_order "^${S}started$" "^${S}ready 2/2$" "^${S}go$"
check "status channel, --in-process: every line whole" status_lines_whole
# A token that would break the line (a space) is no launcher's: nothing is written.
HGRID_STATUS_TOKEN='not a token' mpi 2 -x HGRID_STATUS_TOKEN "$AGENT" --backend mpi "$work/two.yaml" -- true
check "status channel: a malformed token writes nothing" bash -c "[[ $rc -eq 0 ]] && ! grep -q 'hgrid-status' $out"

# One communicator per kind (the split-per-kind path NCCL takes on one GPU), verified.
HGRID_TEST_NO_SHARE=1 mpi 8 -x HGRID_TEST_NO_SHARE "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "no sharing: exit 0" rc_is 0
check "no sharing: world + one per kind (20 encoder, 22 language) + the bridge's group on its leaders" has "; 21-24 communicators/rank$(links_text 2 1), mpi backend\)$"

# Descriptors a library leaves open without close-on-exec during pre-flight (NCCL's RAS
# sockets; here one /dev/null per rank) are closed at exec: the program sees 0, 1, 2 and
# its keeper's heartbeat pipe.
HGRID_TEST_LEAK_FD=1 mpi 8 -x HGRID_TEST_LEAK_FD "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "leaked fd in pre-flight: exit 0" rc_is 0
check "leaked fd in pre-flight: the program inherits only fds 0, 1, 2 and the heartbeat pipe" count_is '^FDS [0-9]+: 0 1 2 hb$' 8

# --- failures ----------------------------------------------------------------------
mpi 6 "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "world size 6 for an 8-rank layout: exit 2" rc_is 2
check "world size mismatch: one line naming both numbers" count_is "^hgrid: $G/vlm8_moe.yaml: the layout needs 8 ranks \(world_size\), but the job has 6 MPI ranks$" 1
check "world size mismatch: the program never runs" lacks '^rank-check'

printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    tp: 3\n    size: 4\n' >"$work/bad.yaml"
mpi 4 "$AGENT" --backend mpi "$work/bad.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "invalid config: exit 2" rc_is 2
check "invalid config: FILE:LINE:COL diagnostic, printed once (rank 0)" count_is "^$work/bad.yaml:[0-9]+:[0-9]+: error: " 1

mpi 4 "$AGENT" --backend mpi "$work/missing.yaml" -- true
check "unreadable config: exit 2" rc_is 2
check "unreadable config: says so once" count_is "^$work/missing.yaml: error: cannot open: No such file or directory$" 1

HG_EXIT_RANK=3 HG_EXIT_CODE=7 mpi 8 -x HG_EXIT_RANK -x HG_EXIT_CODE "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "a rank's program exits 7: the job exits 7" rc_is 7

mpi 2 "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$work/no-such-program"
check "a world-size error comes before exec" rc_is 2

# PROGRAM is resolved on every rank right after bootstrap, as execvp will: a usage error
# (exit 2) named by the coordinator, one line per reason, before any GPU or NCCL work.
NCCL_BUILD=0
ldd "$AGENT" | grep -q libnccl && NCCL_BUILD=1
mpi 2 "$AGENT" --backend mpi "$work/two.yaml" -- "$work/no-such-program"
check "PROGRAM missing on every rank: exit 2" rc_is 2
check "PROGRAM missing: one line for both ranks with path, phase and host" count_is "^hgrid: ranks 0-1 \(2 ranks: language\): cannot run PROGRAM '$work/no-such-program': No such file or directory \[phase bootstrap, host $H\]$" 1
check "PROGRAM missing: no-go, none ready" has '^hgrid: no-go: pre-flight failed on 2 of 2 ranks \(0 skipped, 0 ready\)$'
mpi 1 "$AGENT" --backend mpi "$work/two.yaml" -- true : -np 1 "$AGENT" --backend mpi "$work/two.yaml" -- hg-no-such-program
check "PROGRAM not on rank 1's PATH: exit 2" rc_is 2
check "PROGRAM not on rank 1's PATH: rank 1 named, with the name and host" count_is "^hgrid: rank 1 \(language\): cannot run PROGRAM 'hg-no-such-program': not found on PATH \[phase bootstrap, host $H\]$" 1
check "PROGRAM not on rank 1's PATH: rank 0 skipped the rest" has '^hgrid: no-go: pre-flight failed on 1 of 2 ranks \(1 skipped, 0 ready\)$'
printf '#!/bin/sh\necho ran\n' >"$work/noexec"
chmod 644 "$work/noexec"
backend=mpi
((NCCL_BUILD)) && backend=nccl # no GPU here: only a check before the GPU phase passes
mpi 2 "$AGENT" --backend $backend --timeout 20 "$work/two.yaml" -- "$work/noexec"
check "PROGRAM not executable ($backend backend): exit 2, not 3" rc_is 2
check "PROGRAM not executable: Permission denied, one line" count_is "^hgrid: ranks 0-1 \(2 ranks: language\): cannot run PROGRAM '$work/noexec': Permission denied \[phase bootstrap, host $H\]$" 1
check "PROGRAM not executable: found before any GPU work" lacks 'no GPU|cudaGetDeviceCount|phase gpu'
check "PROGRAM not executable: never runs" lacks '^ran$'
printf '#!/no/such/interpreter\n' >"$work/badinterp"
chmod 755 "$work/badinterp"
mpi 2 "$AGENT" --backend mpi "$work/two.yaml" -- "$work/badinterp"
check "PROGRAM's #! interpreter missing: exit 2, named" bash -c "[[ $rc -eq 2 ]] && grep -q \"^hgrid: ranks 0-1 (2 ranks: language): cannot run PROGRAM '$work/badinterp': its interpreter '/no/such/interpreter': No such file or directory \[phase bootstrap, host $H\]$\" $out"
mpi 2 "$AGENT" --in-process --backend mpi "$work/two.yaml" -- hg-no-such-program
check "--in-process, PROGRAM missing: exit 2, not 127" rc_is 2
check "--in-process, PROGRAM missing: rank, host and reason" has "^hgrid: rank [01] on $H: cannot run PROGRAM 'hg-no-such-program': not found on PATH$"

# Rank 0's bytes win: the other ranks get a different valid config, or none at all,
# and still build rank 0's layout (they never open their own path).
mpi 1 "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json" \
    : -np 7 "$AGENT" --backend mpi "$G/llm_only8.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "different config on ranks 1-7: rank 0's wins, exit 0" rc_is 0
check "different config on ranks 1-7: all 8 match rank 0's golden" count_is '^rank-check: rank [0-9]+ ok' 8
mpi 1 "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json" \
    : -np 7 "$AGENT" --backend mpi "$work/missing.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "no config file on ranks 1-7: still exit 0" rc_is 0
check "no config file on ranks 1-7: all 8 match" count_is '^rank-check: rank [0-9]+ ok' 8
mpi 1 "$AGENT" --backend mpi --timeout 30 "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json" \
    : -np 7 "$AGENT" --backend nccl "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "other ranks ask for nccl: rank 0's --backend mpi wins" has "; 5-6 communicators/rank$(links_text 2 1), mpi backend\)$"

HGRID_TEST_FAIL_RANK=5 mpi 8 -x HGRID_TEST_FAIL_RANK "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "injected failure on rank 5: every rank exits 3" rc_is 3
check "injected failure: the coordinator names rank 5 and why" count_is '^hgrid: rank 5 \(language\): injected pre-flight failure \(HGRID_TEST_FAIL_RANK=5\) \[phase gpu, host [^]]+\]$' 1
check "injected failure: no status-channel line without the token" lacks 'hgrid-status'
check "injected failure: no-go, the others skipped" has '^hgrid: no-go: pre-flight failed on 1 of 8 ranks \(7 skipped, 0 ready\)$'
check "injected failure: the program never runs" lacks '^rank-check'

# A failure after world or group init: the agreement that follows each phase makes the
# peers skip the steps that would wait for the failed rank (here MPI_Comm_split, with
# NCCL ncclCommSplit or the verification all-reduce) instead of waiting for the deadline.
for phase in world groups; do
    HGRID_TEST_FAIL_RANK=6 HGRID_TEST_FAIL_PHASE=$phase mpi 8 -x HGRID_TEST_FAIL_RANK -x HGRID_TEST_FAIL_PHASE \
        "$AGENT" --backend mpi --timeout 30 --report "$work/fail-$phase.json" "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
    check "failure on rank 6 after $phase: exit 3 (${secs} s)" rc_is 3
    check "failure after $phase: long before the 30 s deadline" faster_than 15
    check "failure after $phase: the coordinator names rank 6 and the phase" count_is "^hgrid: rank 6 \(language\): injected pre-flight failure \(HGRID_TEST_FAIL_RANK=6\) \[phase $phase, host [^]]+\]$" 1
    check "failure after $phase: the others skipped" has '^hgrid: no-go: pre-flight failed on 1 of 8 ranks \(7 skipped, 0 ready\)$'
    check "failure after $phase: the report says why they skipped" bash -c "grep -q 'skipped the rest of pre-flight after phase $phase: another rank failed' $work/fail-$phase.json"
done

# A rank whose verification outlives the deadline, yet reports (as an NCCL call that
# never settles does): the decision is a deadline, every rank exits 124, not 3.
HGRID_TEST_SLOW_RANK=3 mpi 8 -x HGRID_TEST_SLOW_RANK "$AGENT" --backend mpi --timeout $DL --report "$work/slow.json" "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "rank 3 verify past the $DL s deadline: exit 124 (${secs} s)" rc_is 124
check "verify past the deadline: within seconds" faster_than $((DL + 13))
check "verify past the deadline: the coordinator names rank 3 and why" count_is "^hgrid: rank 3 \(radio_encoder\): verify did not complete within the $DL s init timeout \(HGRID_TEST_SLOW_RANK=3\) \[phase verify, host [^]]+\]$" 1
check "verify past the deadline: no-go, then the deadline line" bash -c "grep -q '^hgrid: no-go: pre-flight failed on 1 of 8 ranks (0 skipped, 7 ready)$' $out && grep -q '^hgrid: readiness deadline of $DL s passed on 1 of 8 ranks$' $out"
check "verify past the deadline: the program never runs" lacks '^rank-check'
check "verify past the deadline: report go false" bash -c "grep -q '\"go\": false' $work/slow.json"
HGRID_TEST_SLOW_RANK=0 mpi 2 -x HGRID_TEST_SLOW_RANK "$AGENT" --backend mpi --timeout 1 "$work/two.yaml" -- true
check "the coordinator's own verify past the deadline: exit 124" rc_is 124
HGRID_TEST_SLOW_RANK=1 mpi 2 -x HGRID_TEST_SLOW_RANK "$TRAINER" --backend mpi --timeout $DL "$work/two.yaml"
check "in-process, verify past the deadline: hg_init fails, hg_exit_status 124" rc_is 124
# (The first rank to exit makes mpirun kill the other, perhaps before it prints.)
check "in-process, verify past the deadline: hg_init's summary names rank 1" has "^hgrid: rank 1 \(language\): verify did not complete within the $DL s init timeout"
check "in-process, verify past the deadline: the trainer says why" has "^trainer: rank (1: verify did not complete within the $DL s init timeout|0: no-go: the readiness deadline of $DL s passed on 1 rank$)"

# hg_init on a bad config: hg_error's file, line and col are the first error's (the
# trainer prints them); the message stays the summary.
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    tp: 3\n    size: 2\n' >"$work/bad-tp.yaml"
mpi 2 "$TRAINER" --backend mpi "$work/bad-tp.yaml"
check "in-process, bad config: hg_init fails, hg_exit_status 2" rc_is 2
check "in-process, bad config: the diagnostic, once" count_is "^$work/bad-tp.yaml:6:11: error: language: size 2 is not divisible by tp\*cp\*pp = 3$" 1
want=$work/bad-tp.yaml:6:11
# (The first rank to exit makes mpirun kill the other, perhaps before it prints.)
check "in-process, bad config: hg_error points at the first error ($want)" has "^trainer: $want: the first error$"
check "in-process, bad config: hg_error's message" has "^trainer: $work/bad-tp.yaml: invalid config \(1 error\)$"

# MPI errors come back as codes (MPI_ERRORS_RETURN on the agent's communicators), so a
# failing MPI call is a named pre-flight failure, not an abort with MPI's own status.
HGRID_TEST_MPI_ERROR_RANK=2 mpi 8 -x HGRID_TEST_MPI_ERROR_RANK "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "an MPI error on rank 2: exit 3" rc_is 3
check "an MPI error: the coordinator names rank 2, the call and MPI's reason" count_is '^hgrid: rank 2 \(radio_encoder\): MPI_Send to a missing rank \(HGRID_TEST_MPI_ERROR_RANK\): MPI_ERR_RANK: invalid rank \[phase verify, host [^]]+\]$' 1
check "an MPI error: MPI did not abort the job" lacks 'MPI_ERRORS_ARE_FATAL|MPI_ABORT'

HGRID_TEST_FAIL_RANK=0 mpi 2 -x HGRID_TEST_FAIL_RANK "$AGENT" --backend mpi --report "$work/fail.json" "$work/two.yaml" -- true
check "failure on the coordinator: exit 3" rc_is 3
check "failure on the coordinator: listed" has '^hgrid: rank 0 \(language\): injected pre-flight failure'
out=$work/fail.json
check "failure report: go false, rank 0 failed, rank 1 skipped" bash -c "grep -q '\"go\": false' $out && grep -q '\"status\": \"failed\"' $out && grep -q '\"status\": \"skipped\"' $out"
out=$work/out

HGRID_TEST_HANG_RANK=3 mpi 8 -x HGRID_TEST_HANG_RANK "$AGENT" --backend mpi --timeout $DL --report "$work/hang.json" "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "rank 3 hangs, --timeout $DL: exit 124" rc_is 124
check "hung rank: within seconds (${secs} s)" faster_than $((DL + 13))
check "hung rank: the deadline line names the missing rank" has "^hgrid: rank 0: readiness deadline of $DL s passed in phase readiness: 1 of 8 ranks never reported \(rank 3\)$"
check "hung rank: the program never runs" lacks '^rank-check'
check "hung rank: the report says which rank is missing" bash -c "grep -q '\"go\": false' $work/hang.json && grep -q '\"missing\": 1,' $work/hang.json && [[ \$(grep -c '\"status\": \"missing\"' $work/hang.json) -eq 1 ]]"

HGRID_TEST_ABORT_RANK=2 mpi 8 -x HGRID_TEST_ABORT_RANK "$AGENT" --backend mpi --timeout 10 "$G/vlm8_moe.yaml" -- "$CHECK" "$G/vlm8_moe.json"
check "rank 2 aborts: the job fails (status $rc)" bash -c "[[ $rc -ne 0 && $rc -ne 124 ]]"
check "aborting rank: torn down quickly (${secs} s)" faster_than 10
check "aborting rank: the program never runs" lacks '^rank-check'

# Rule 8 (beyond the MIMO runtime): a warning, printed once, or with --strict an error.
printf 'version: 1\nmodules:\n  - name: enc\n    role: encoder\n    pp: 2\n    dp: 1\n  - name: language\n    role: language\n    dp: 1\n' >"$work/pp-encoder.yaml"
mpi 3 "$AGENT" --backend mpi --verbose "$work/pp-encoder.yaml" -- true
check "encoder pp 2: runs with a warning, exit 0" rc_is 0
check "encoder pp 2: the warning, once, at its place" count_is "^$work/pp-encoder.yaml:5:9: warning: enc: cp=1 pp=2 is beyond what the MIMO example runtime supports" 1
check "--verbose: one line per rank's record" count_is '^hgrid: rank [0-9] \((enc|language)\) ready on [^,]+, local rank [0-9], after [0-9.]+ s: bootstrap ' 3
mpi 3 "$AGENT" --backend mpi --strict "$work/pp-encoder.yaml" -- true
check "encoder pp 2, --strict: exit 2" rc_is 2
check "--strict: the same diagnostic as an error, once" count_is "^$work/pp-encoder.yaml:5:9: error: enc: cp=1 pp=2 is beyond" 1

printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    tp: 2\n    dp: 1\nagent:\n  backend: mpi\n  verify: false\n  init_timeout_s: 30\n' >"$work/noverify.yaml"
mpi 2 "$AGENT" "$work/noverify.yaml" -- true
check "agent: section: backend mpi from the config, verify off: exit 0" rc_is 0
check "verify off: summary still printed, no bridges phase (no bridge)" has '^hgrid: 2/2 ranks ready in [0-9]+\.[0-9]{2} s \(bootstrap [0-9.]+, gpu [0-9.]+, world [0-9.]+, groups [0-9.]+, verify 0\.00; 2 communicators/rank, mpi backend\)$'

# The NCCL backend on a machine without a GPU fails pre-flight (exit 3) and says so once
# for all ranks, pointing at --backend mpi; in a build without NCCL, it is refused as a
# usage error (exit 2). (With a GPU here, tests/gpu/run.sh covers the GPU choice.)
if ((!NCCL_BUILD)); then
    mpi 2 "$AGENT" --backend nccl --timeout 20 "$work/two.yaml" -- true
    check "nccl in a build without NCCL: exit 2 and why" bash -c "[[ $rc -eq 2 ]] && grep -q 'built without the NCCL backend' $out"
elif nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    echo "skip nccl without a GPU: this machine has one"
else
    unset CUDA_VISIBLE_DEVICES
    mpi 2 "$AGENT" --timeout 20 configs/smoke-2gpu.yaml -- /bin/true
    check "nccl without a GPU: exit 3" rc_is 3
    check "nccl without a GPU: one line for both ranks, pointing at --backend mpi" count_is "^hgrid: ranks 0-1 \(2 ranks: encoder, language\): no GPU found \(cudaGetDeviceCount: (CUDA driver version is insufficient for CUDA runtime version|no CUDA-capable device is detected); CUDA_VISIBLE_DEVICES=unset\): the nccl backend needs one GPU per rank; run on CPUs with --backend mpi \(or agent.backend: mpi\) \[phase gpu, host $H\]$" 1
    check "nccl without a GPU: said once (no per-rank line, no other CUDA text)" bash -c "! grep -q '^hgrid: rank ' $out && [[ \$(grep -c 'cudaGetDeviceCount' $out) -eq 1 ]]"
    check "nccl without a GPU: no-go line" has '^hgrid: no-go: pre-flight failed on 2 of 2 ranks \(0 skipped, 0 ready\)$'
fi

# --- in-process: the example trainer links libhgrid and calls hg_init itself --------
mpi 8 "$TRAINER" --backend mpi "$G/vlm8_moe.yaml"
check "in-process trainer, 8 ranks under mpirun: exit 0" rc_is 0
check "in-process trainer: every rank's kinds all-reduce to the plan's sums" count_is '^trainer: rank [0-9]+ done: [56] communicators, all kinds ok$' 8
check "in-process trainer: the bridge's leaders 1, 3, 4, 6 hold its group too" count_is '^trainer: rank [1346] done: 6 communicators, all kinds ok$' 4
check "in-process trainer: one line per kind (20 + 22 + world each)" count_is '^trainer: rank [0-9]+ [a-z_]+ [a-z_]+: sum [0-9]+ expected [0-9]+ ok$' $((4 * 21 + 4 * 23))
check "in-process trainer: readiness summary from hg_init" has '^hgrid: 8/8 ranks ready in '
mpi 20 "$AGENT" --in-process --backend mpi "$G/enc4_llm_pp4_20.yaml" -- "$TRAINER"
check "in-process via hgrid-agent --in-process, 20 ranks: exit 0" rc_is 0
check "in-process, pp 4: all ranks ok" count_is '^trainer: rank [0-9]+ done: [0-9]+ communicators, all kinds ok$' 20
check "in-process, pp 4: middle stages hold no embedding group" count_is '^trainer: rank [0-9]+ language embd: not a member$' 8
mpi 14 "$TRAINER" --backend mpi "$G/two_encoders14.yaml"
check "in-process, two encoders: exit 0, every rank ok" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -cE '^trainer: rank [0-9]+ done: [0-9]+ communicators, all kinds ok$' $out) -eq 14 ]]"
check "in-process, two encoders: hg_init proved the 8 bridge links and 2 bridge groups" has "; 4-9 communicators/rank$(links_text 8 2), mpi backend\)$"
# hg_ctx_bridge_mpi_comm: each leader all-reduces over its bridges' own groups; the
# members of the boundary groups that lead nothing have none.
check "in-process, two encoders: the audio bridge's 6 leaders reduce over its group" count_is '^trainer: rank (0|1|6|8|10|12) bridge_group audio -> language \[0, 1, 6, 8, 10, 12\]: sum 43 expected 43 ok$' 6
check "in-process, two encoders: the vision bridge's 6 leaders reduce over its group" count_is '^trainer: rank (3|5|6|8|10|12) bridge_group vision -> language \[3, 5, 6, 8, 10, 12\]: sum 50 expected 50 ok$' 6
check "in-process, two encoders: no other rank has a bridge group" count_is '^trainer: rank [0-9]+ bridge_group ' 12
mpi 8 "$AGENT" --in-process --backend mpi "$G/colocated8.yaml" -- "$TRAINER"
check "in-process, colocated: exit 0, every rank ok" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -cE '^trainer: rank [0-9]+ done: 7 communicators, all kinds ok$' $out) -eq 8 ]]"
mpi 2 "$TRAINER" --backend mpi "$G/vlm8_moe.yaml"
check "in-process trainer, wrong world size: exit 2" rc_is 2
# Exec handoff into an MPI program: MPI was finalized in that process and cannot start
# again; hg_init says so (HGRID_HANDOFF=exec) instead of Open MPI's orte_init failure.
mpi 2 "$AGENT" --backend mpi "$work/two.yaml" -- "$TRAINER" --backend mpi "$work/two.yaml"
check "exec handoff into the in-process trainer: exit 2" rc_is 2
check "exec handoff into hg_init: it says to use --in-process" has "^trainer: hg_init: this program was started by hgrid's exec handoff, after MPI_Finalize in this same process, so MPI cannot start again; run it with --in-process "
check "exec handoff into hg_init: no Open MPI init failure" lacks 'orte_init|MPI_INIT failed'

# --- pre-flight depth (agent.preflight, --preflight) ---------------------------------
# full proves every group and bridge; world builds the world alone and all-reduces over
# it once; none stops after the GPU check. The summary names the depth (and the bridge
# links that were not proved), the report carries it, the program still runs.
SUMMARY_HEAD='^hgrid: 8/8 ranks ready in [0-9]+\.[0-9]{2} s \(bootstrap [0-9.]+, gpu [0-9.]+, world [0-9.]+, groups [0-9.]+, verify [0-9.]+, bridges [0-9.]+; '
mpi 8 "$AGENT" --backend mpi --preflight world --report "$work/pf-world.json" "$G/vlm8_moe.yaml" -- true
check "--preflight world: exit 0" rc_is 0
check "--preflight world: the world alone, bridges not proved, depth named" has "${SUMMARY_HEAD}1 communicator/rank$(links_text 2 1 'not verified'), mpi backend, pre-flight world\)$"
check "--preflight world: groups took no time" has 'groups 0\.00, verify [0-9.]+, bridges 0\.00;'
check "--preflight world: report says so" bash -c "grep -q '\"preflight\": \"world\"' $work/pf-world.json && grep -q '\"communicators_per_rank\": {' $work/pf-world.json && [[ \$(grep -c '\"communicators\": 1,' $work/pf-world.json) -eq 8 ]]"
mpi 8 "$AGENT" --backend mpi --preflight none "$G/vlm8_moe.yaml" -- sh -c 'echo "RAN $RANK"'
check "--preflight none: exit 0, every rank ran" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -c '^RAN [0-9]' $out) -eq 8 ]]"
check "--preflight none: no communicator, depth named" has "${SUMMARY_HEAD}0 communicators/rank$(links_text 2 1 'not verified'), mpi backend, pre-flight none\)$"
sed 's/^agent:.*//' "$G/vlm8_moe.yaml" >"$work/pf.yaml"
printf 'agent:\n  preflight: world\n' >>"$work/pf.yaml"
mpi 8 "$AGENT" --backend mpi "$work/pf.yaml" -- true
check "agent.preflight: world in the config: the world alone" has "${SUMMARY_HEAD}1 communicator/rank$(links_text 2 1 'not verified'), mpi backend, pre-flight world\)$"
mpi 8 "$AGENT" --backend mpi --preflight full "$work/pf.yaml" -- true
check "--preflight full overrides agent.preflight: world" has "${SUMMARY_HEAD}5-6 communicators/rank$(links_text 2 1), mpi backend\)$"
HGRID_TEST_FAIL_RANK=3 HGRID_TEST_FAIL_PHASE=world mpi 8 -x HGRID_TEST_FAIL_RANK -x HGRID_TEST_FAIL_PHASE "$AGENT" --backend mpi --preflight world "$G/vlm8_moe.yaml" -- true
check "--preflight world, rank 3 fails in world: exit 3, named" bash -c "[[ $rc -eq 3 ]] && grep -q '^hgrid: rank 3 (radio_encoder): injected pre-flight failure (HGRID_TEST_FAIL_RANK=3) \[phase world, host ' $out"
mpi 8 "$TRAINER" --backend mpi "$work/pf.yaml"
check "in process with agent.preflight: world: exit 2, says why" bash -c "[[ $rc -eq 2 ]] && grep -q \"pf.yaml: pre-flight 'world' (agent.preflight) applies to the exec handoff; an in-process program (hg_init) uses hgrid's communicators, which only the full pre-flight builds$\" $out"

# A HGRID_NCCL_RANKS_PER_ROOT that is no count is said once (rank 0) and the config's
# agent.nccl_ranks_per_root counts; the job goes on.
HGRID_NCCL_RANKS_PER_ROOT=some mpi 8 -x HGRID_NCCL_RANKS_PER_ROOT "$AGENT" --backend mpi "$G/vlm8_moe.yaml" -- true
check "HGRID_NCCL_RANKS_PER_ROOT=some: exit 0, one warning naming it" bash -c "[[ $rc -eq 0 ]] && [[ \$(grep -c '^hgrid: warning: HGRID_NCCL_RANKS_PER_ROOT=some is not a number of ranks in 0..16777216; using agent.nccl_ranks_per_root$' $out) -eq 1 ]]"

# --- placement on the hosts the ranks report -----------------------------------------
# HGRID_TEST_HOSTS_OF=4: ranks 0-3 say testnode0, 4-7 testnode1, ...: tp=8 spans 2 hosts.
HGRID_TEST_HOSTS_OF=4 mpi 16 -x HGRID_TEST_HOSTS_OF "$AGENT" --backend mpi tests/placement/tp8.yaml -- true
check "tp 8 on hosts of 4: exit 0 (a warning)" rc_is 0
check "tp 8 on hosts of 4: the node numbers' host names" has '^hgrid: nodes: 0 = testnode0, 1 = testnode1, 2 = testnode2, 3 = testnode3$'
check "tp 8 on hosts of 4: the warning names both groups and their hosts" has '^hgrid: warning: placement on the hosts the ranks reported: language: 2 of 2 tp groups span 2 nodes: ranks \[0-7\] on nodes 0-1, \[8-15\] on nodes 2-3; tensor parallelism across nodes is slow \(it communicates in every layer\)$'
HGRID_TEST_HOSTS_OF=4 mpi 16 -x HGRID_TEST_HOSTS_OF "$AGENT" --backend mpi --strict tests/placement/tp8.yaml -- sh -c 'echo RAN'
check "tp 8 on hosts of 4, --strict: exit 2, nothing ran" bash -c "[[ $rc -eq 2 ]] && ! grep -q '^RAN' $out"
check "tp 8 on hosts of 4, --strict: an error, then the no-go" bash -c "grep -q '^hgrid: error: placement on the hosts the ranks reported: language: 2 of 2 tp groups' $out && grep -q '^hgrid: no-go: --strict refuses groups across hosts$' $out"
HGRID_TEST_HOSTS_OF=8 mpi 16 -x HGRID_TEST_HOSTS_OF "$AGENT" --backend mpi --strict tests/placement/tp8.yaml -- true
check "tp 8 on hosts of 8: fits, nothing said" bash -c "[[ $rc -eq 0 ]] && ! grep -q placement $out"

# --- the command line ----------------------------------------------------------------
cli() {
    "$AGENT" "$@" >"$out" 2>&1
    rc=$?
}
cli --help
check "--help: exit 0 and usage" bash -c "[[ $rc -eq 0 ]] && grep -q '^usage: hgrid-agent' $out"
check "--help: the exit codes of common/wire/protocol.h" bash -c "grep -q '^Exit status: 0 or PROGRAM.s own; 2 usage, invalid config, or PROGRAM cannot be$' $out && grep -q '^executed; 3 pre-flight failed; 124 the readiness deadline passed.$' $out"
check "--help: every option the launcher may pass" bash -c "for o in backend timeout preflight report verbose strict in-process label log-dir; do grep -q \"^  --\$o\" $out || exit 1; done"
cli --version
check "--version" bash -c "[[ $rc -eq 0 ]] && grep -qE '^hgrid-agent [0-9]+\.[0-9]+\.[0-9]+$' $out"
cli "$G/vlm8_moe.yaml" true
check "no '--': exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q \"expected '--' and a PROGRAM after CONFIG\" $out"
cli "$G/vlm8_moe.yaml" --
check "no PROGRAM: exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q 'missing PROGRAM' $out"
cli --backend gloo "$G/vlm8_moe.yaml" -- true
check "--backend gloo: exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q \"backend must be nccl or mpi, not 'gloo'\" $out"
cli --timeout 0 "$G/vlm8_moe.yaml" -- true
check "--timeout 0: exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q 'timeout must be a whole number' $out"
cli --frobnicate "$G/vlm8_moe.yaml" -- true
check "unknown option: exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q \"^hgrid-agent: unknown option '--frobnicate'$\" $out"
cli --timeout
check "an option without its value: exit 2" bash -c "[[ $rc -eq 2 ]] && grep -q '^hgrid-agent: --timeout needs a value (S)$' $out"

leftover=$(find "$TMPDIR" -name 'hgrid-plan-rank*' | wc -l)
summary "($leftover plan files written under TMPDIR)"
