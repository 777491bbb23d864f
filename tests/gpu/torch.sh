#!/usr/bin/env bash
# hgrid.torch on the GPU machine (torch >= 2.1 there), one compact run; prints ok/FAIL
# lines and `torch: N passed, M failed`; logs to $OUT/torch-tests.log when OUT is set.
#   - gloo under hgrid-launch --backend mpi (HGRID_TORCH_BACKEND=gloo): golden layouts of
#     8 (vlm8_moe), 14 (two encoders), 8 colocated, 20 (enc4_llm_pp4_20) ranks, a
#     64-rank layout and every gtp_remat layout of tests/golden-gtp (gtp_remat fields
#     set, one with high_priority_stream_groups: ignored, with a note):
#     tests/gpu/torch_groups.py in every rank (get_process_group_ranks of every field
#     equals the plan, shared memberships one group, one all-reduce per group);
#   - nccl on 2 GPUs under hgrid-launch: two-gpu, bridge-2gpu, colocated-2gpu, the same;
#     two-gpu and colocated-2gpu also with high_priority_stream_groups (exactly those
#     groups on high-priority streams), one-gpu (1 rank) so on any GPU machine;
#   - examples/train_torch.py: gloo on two encoders 14, colocated 8, vlm8; nccl on
#     bridge-2gpu and colocated-2gpu;
#   - the flight recorder at a stall (issue 25, tests/hang/train.py): gloo on 4 CPU ranks,
#     rank 2 sleeping instead of all-reducing, --stall-timeout 2: named from the ranks'
#     flight recorder summaries (the all-reduce it did not enter, of language dp
#     [0, 1, 2, 3], ranks 0, 1, 3 waiting in it), in the lines and the report's
#     stall.diverged; one NCCL rank on one GPU: its summary line read;
#   - scripts/bench-torch-groups: nccl on 2 GPUs and gloo at 32 and 64 ranks (BENCH=0
#     skips it, BENCH=full adds gloo 128 and tests/golden/big128.yaml).
#   tests/gpu/torch.sh      (from the repository root or anywhere; TORCH_ONLY=REGEX runs
#                           only the runs whose names match, e.g. TORCH_ONLY='gtp|priority')
set -u
cd "$(dirname "$0")/../.."
log=${OUT:-/tmp}/torch-tests.log
: >"$log"
say() { echo "$@" | tee -a "$log"; }
. tests/gpu/devdeps.sh
. tests/lib.sh
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1 HGRID_TEST_HANG_S=${HGRID_TEST_HANG_S:-45}
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python3}
say "== $("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.device_count(), "GPU(s)")' 2>&1 | tail -1)"
if ! make -j"$(nproc)" NCCL=${NCCL:-1} "CPPFLAGS=${CPPFLAGS:-}" "LDFLAGS=${LDFLAGS:-}" \
    build/bin/hgrid-launch build/bin/hgrid-agent >>"$log" 2>&1; then
    tail -20 "$log"; say "torch: build failed"; exit 1
fi
L=$PWD/build/bin/hgrid-launch
# Single node: gloo on loopback. The exec handoff's MASTER_ADDR is rank 0's host name;
# where that name does not resolve, the programs get 127.0.0.1 (said here).
export GLOO_SOCKET_IFNAME=lo
PFX=()
# MASTER_ADDR usable here: the host name resolves to an address of this machine.
if "$PY" -c 'import socket; s = socket.socket(); s.bind((socket.gethostbyname(socket.gethostname()), 0))' 2>/dev/null; then
    say "== host $(hostname): $(getent hosts "$(hostname)" | head -1) (local)"
else
    say "== host $(hostname) ($(getent hosts "$(hostname)" | head -1)) is not an address of this machine: MASTER_ADDR=127.0.0.1 for the programs"
    PFX=(env MASTER_ADDR=127.0.0.1)
fi
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
suite torch
work=$T

# After a family's (nccl, gloo) first failure its other runs are skipped: a hang costs
# HGRID_TEST_HANG_S (torch_groups.py then prints every rank's Python stack) once, not
# once a run.
declare -A broken=()
skipped() {
    local fam=${1%% *}
    if [[ -n ${TORCH_ONLY:-} && ! $1 =~ $TORCH_ONLY ]]; then
        say "skip $1 (TORCH_ONLY=$TORCH_ONLY)"
        return 0
    fi
    if [[ -n ${broken[$fam]:-} ]]; then
        say "skip $1 (an earlier $fam run failed)"
        return 0
    fi
    return 1
}
# groups NAME NP CONFIG [LAUNCH ARGS...]
groups() {
    local name=$1 np=$2 config=$3
    shift 3
    skipped "$name" && return
    rm -rf "$work/g" && mkdir -p "$work/g"
    local t0=$(date +%s.%N)
    timeout 100 "$L" "$@" "$config" -- "${PFX[@]}" "$PY" tests/gpu/torch_groups.py "$work/g" >"$work/out" 2>&1
    local rc=$? secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    { echo "\$ $L $* $config"; cat "$work/out"; cat "$work/g"/out.* 2>/dev/null; } >>"$log"
    local good=$(cat "$work/g"/out.* 2>/dev/null | grep -c '^rank [0-9]* ok')
    if [[ $rc == 0 && $good == "$np" ]]; then
        ok "groups $name: $np ranks, every field = plan, all-reduces right (${secs} s)"
        say "     $(cat "$work/g/out.0")"
    else
        broken[${name%% *}]=1
        bad "groups $name: status $rc, $good of $np ranks ok (${secs} s)"
        { cat "$work/g"/out.* 2>/dev/null | grep -v ' ok' | head -5; tail -40 "$work/out"; } | sed 's/^/    | /' | tee -a "$log"
    fi
}
# train NAME NP CONFIG [LAUNCH ARGS...]
train() {
    local name=$1 np=$2 config=$3
    shift 3
    skipped "$name" && return
    timeout 100 "$L" "$@" "$config" -- "${PFX[@]}" "$PY" examples/train_torch.py >"$work/out" 2>&1
    local rc=$?
    { echo "\$ $L $* $config -- $PY examples/train_torch.py"; cat "$work/out"; } >>"$log"
    local good=$(grep -c '^train_torch: rank .*all ranks ok$' "$work/out")
    if [[ $rc == 0 ]]; then
        ok "train_torch $name: exit 0 ($good of $np rank lines seen)"
        grep '^train_torch: rank 0 \|^train_torch: rank 1 ' "$work/out" | head -2 | sed 's/^/     /' | tee -a "$log"
    else
        broken[${name%% *}]=1
        bad "train_torch $name: status $rc"
        tail -40 "$work/out" | sed 's/^/    | /' | tee -a "$log"
    fi
}

if ((ngpu >= 1)); then
    # One rank: its one group is the world, on a high-priority stream a group of its own.
    export HGRID_TEST_HIGH_PRIORITY=dp,intra_dist_opt
    groups "nccl one-gpu high-priority dp,intra_dist_opt" 1 tests/gpu/one-gpu.yaml
    unset HGRID_TEST_HIGH_PRIORITY
fi
if ((ngpu >= 2)); then
    groups "nccl two-gpu" 2 tests/gpu/two-gpu.yaml
    groups "nccl bridge-2gpu" 2 tests/gpu/bridge-2gpu.yaml
    groups "nccl colocated-2gpu" 2 tests/gpu/colocated-2gpu.yaml
    # What an exec'd PyTorch trainer is advised to use: torch builds its own groups.
    groups "nccl bridge-2gpu --preflight world" 2 tests/gpu/bridge-2gpu.yaml --preflight world
    export HGRID_TEST_HIGH_PRIORITY=dp,ep,intra_dist_opt
    groups "nccl two-gpu high-priority dp,ep,intra_dist_opt" 2 tests/gpu/two-gpu.yaml
    groups "nccl colocated-2gpu high-priority dp,ep,intra_dist_opt" 2 tests/gpu/colocated-2gpu.yaml
    unset HGRID_TEST_HIGH_PRIORITY
    groups "nccl colocated-2gpu --preflight none" 2 tests/gpu/colocated-2gpu.yaml --preflight none
    train "nccl bridge-2gpu" 2 tests/gpu/bridge-2gpu.yaml
    train "nccl colocated-2gpu" 2 tests/gpu/colocated-2gpu.yaml
else
    say "skip nccl: $ngpu GPU(s), 2 needed"
fi

MPI=(--backend mpi --mpi-arg=--oversubscribe)
export HGRID_TORCH_BACKEND=gloo
groups "gloo vlm8_moe" 8 tests/golden/vlm8_moe.yaml "${MPI[@]}"
groups "gloo colocated8" 8 tests/golden/colocated8.yaml "${MPI[@]}"
groups "gloo two_encoders14" 14 tests/golden/two_encoders14.yaml "${MPI[@]}"
groups "gloo enc4_llm_pp4_20" 20 tests/golden/enc4_llm_pp4_20.yaml "${MPI[@]}"
groups "gloo 64 ranks" 64 tests/layouts/moe64.yaml "${MPI[@]}"
for y in tests/golden-gtp/*.yaml; do
    [[ -e $y ]] || continue
    groups "gloo $(basename "$y" .yaml)" "$(awk '/^world_size:/ { print $2 }' "$y")" "$y" "${MPI[@]}"
done
if [[ -e tests/golden-gtp/gtp_vlm12.yaml ]]; then
    export HGRID_TEST_HIGH_PRIORITY=ep,dp_cp_gtp_remat
    groups "gloo gtp_vlm12 high-priority ep,dp_cp_gtp_remat (ignored)" 12 tests/golden-gtp/gtp_vlm12.yaml "${MPI[@]}"
    unset HGRID_TEST_HIGH_PRIORITY
fi
# Megatron's own BridgeCommunicator on hgrid's groups: it creates none itself. Needs
# Megatron-LM's megatron/core/{hyper_comm_grid,pipeline_parallel/bridge_communicator}.py
# in .megatron/ (carried, never committed; empty __init__.py files beside them).
# megatron NAME NP CONFIG [LAUNCH ARGS...]
megatron() {
    local name=$1 np=$2 config=$3
    shift 3
    skipped "$name" && return
    rm -rf "$work/g" && mkdir -p "$work/g"
    "$L" --dry-run --format json "$config" >"$work/whole.json" 2>/dev/null
    timeout 100 env PYTHONPATH="$PWD/.megatron${PYTHONPATH:+:$PYTHONPATH}" "$L" "$@" "$config" -- \
        "${PFX[@]}" "$PY" tests/gpu/megatron_bridge.py "$work/g" "$work/whole.json" >"$work/out" 2>&1
    local rc=$?
    { echo "\$ $L $* $config -- megatron_bridge.py"; cat "$work/out"; cat "$work/g"/out.* 2>/dev/null; } >>"$log"
    local good=$(cat "$work/g"/out.* 2>/dev/null | grep -c '^rank [0-9]* ok')
    if [[ $rc == 0 && $good == "$np" ]]; then
        ok "$name: $np ranks, Megatron's BridgeCommunicator created no group"
        say "     $(cat "$work/g/out.0")"
    else
        bad "$name: status $rc, $good of $np ranks ok"
        { cat "$work/g"/out.* 2>/dev/null | grep -v ' ok' | head -5; tail -30 "$work/out"; } | sed 's/^/    | /' | tee -a "$log"
    fi
}
if [[ -e .megatron/megatron/core/pipeline_parallel/bridge_communicator.py ]]; then
    for y in two_encoders14:14 bridge_fanout12:12 bridge_fanin_pp16:16 vlm8_moe:8; do
        megatron "megatron gloo ${y%%:*}" "${y##*:}" "tests/golden/${y%%:*}.yaml" "${MPI[@]}"
    done
else
    say "skip megatron: no .megatron/ (Megatron-LM's bridge_communicator.py) carried"
fi
train "gloo two_encoders14" 14 tests/golden/two_encoders14.yaml "${MPI[@]}"
train "gloo colocated8" 8 tests/golden/colocated8.yaml "${MPI[@]}"
train "gloo vlm8_moe" 8 tests/golden/vlm8_moe.yaml "${MPI[@]}"
unset HGRID_TORCH_BACKEND
# The flight recorder at a stall (issue 25). flight NAME NP CONFIG [LAUNCH ARGS...], with
# HANG* in the environment (tests/hang/train.py): RC, the launcher's stderr in
# $work/flight.err, the report in $work/flight.json.
flight() {
    local name=$1 np=$2 config=$3
    shift 3
    timeout 100 env HANG_STEP=3 HANG_MARK="$work/flight.mark" "$L" --grace 2 --stall-timeout 2 \
        --report "$work/flight.json" "$@" "$config" -- "${PFX[@]}" "$PY" tests/hang/train.py \
        >"$work/flight.out" 2>"$work/flight.err"
    RC=$?
    { echo "\$ $L --stall-timeout 2 $* $config -- $PY tests/hang/train.py (HANG=$HANG HANG_RANK=$HANG_RANK ${HANG_BACKEND:+HANG_BACKEND=$HANG_BACKEND})"
      cat "$work/flight.err"; } >>"$log"
}
flight_show() { echo "     rc=$RC"; grep -v '^  File \|^hgrid:   ' "$work/flight.err" | tail -25 | sed 's/^/    | /' | tee -a "$log"; }
printf 'version: 1\nmodules:\n  - name: language\n    role: language\n    dp: 4\nagent:\n  backend: mpi\n' >"$work/dp4.yaml"
if ! skipped "flight gloo"; then
    HANG=sleep HANG_RANK=2 flight "flight gloo" 4 "$work/dp4.yaml" "${MPI[@]}"
    fr_div='did not enter [^ ]+ #[0-9]+ of language dp \[0, 1, 2, 3\]'
    if [[ $RC == 5 ]]; then ok "flight gloo: exit 5 (stalled)"; else bad "flight gloo: status $RC, 5 expected"; flight_show; fi
    # The ranks whose stacks block (HG_STACKS_HEAD ... FOOT) holds a line of the world group.
    n=$(awk '/^hgrid: rank [0-9]+ \(language\): stacks, dumped on SIGUSR1:$/ { r = $3 }
             /^hgrid: rank [0-9]+: end of stacks$/ { r = "" }
             r != "" && /^hgrid-flight: pg=[^ ]+ desc=[^ ]+ ranks=0,1,2,3 entered=[0-9]+ completed=-?[0-9]+ op=[^ ]+$/ { seen[r] = 1 }
             END { for (k in seen) c++; print c + 0 }' "$work/flight.err")
    if [[ $n == 4 ]]; then ok "flight gloo: each of the 4 ranks summarized its recorder in its stacks block"
    else bad "flight gloo: $n ranks wrote a summary line of the world group in their stacks block, 4 expected"; flight_show; fi
    if grep -qE "^hgrid: flight recorder: rank 2 $fr_div; ranks 0-1, 3 wait in it\$" "$work/flight.err"; then
        ok "flight gloo: the divergence said: $(grep '^hgrid: flight recorder: ' "$work/flight.err" | head -1)"
    else bad "flight gloo: no 'rank 2 did not enter ... of language dp [0, 1, 2, 3]' line"; flight_show; fi
    if [[ $(grep -c '^hgrid: culprit: ' "$work/flight.err") == 1 ]] &&
        grep -qE "^hgrid: culprit: rank 2 \(language, dp 2\) on .*: $fr_div \(flight recorder\)\$" "$work/flight.err"; then
        ok "flight gloo: rank 2 the one culprit, by the flight recorder"
    else bad "flight gloo: rank 2 not the one culprit named by the flight recorder"; flight_show; fi
    if "$PY" - "$work/flight.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))["stall"]["diverged"]
sys.exit(not (len(d) == 1 and d[0]["group"] == "language dp [0, 1, 2, 3]" and d[0]["behind"] == [2]
              and d[0]["waiting"] == [0, 1, 3] and d[0]["seq"] > 0 and d[0]["op"]))
PYEOF
    then ok "flight gloo: --report's stall.diverged: $("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["stall"]["diverged"]))' "$work/flight.json")"
    else bad "flight gloo: --report's stall.diverged wrong or missing"; cat "$work/flight.json" 2>/dev/null | head -c 2000 | sed 's/^/    | /' | tee -a "$log"; fi
fi
if ((ngpu >= 1)) && ! skipped "flight nccl"; then
    # One rank: nothing can diverge; what is checked is that NCCL's recorder is read.
    HANG=sleep HANG_RANK=0 HANG_BACKEND=nccl flight "flight nccl" 1 tests/gpu/one-gpu.yaml
    if [[ $RC == 5 ]] && grep -qE '^hgrid-flight: pg=[^ ]+ desc=[^ ]+ ranks=0 entered=[1-9][0-9]* completed=[-0-9]+ op=nccl:[^ ]+$' "$work/flight.err"; then
        ok "flight nccl one-gpu: NCCL's recorder summarized: $(grep -m1 '^hgrid-flight: ' "$work/flight.err")"
    else bad "flight nccl one-gpu: status $RC (5 expected), or no NCCL summary line"; flight_show; fi
fi
if [[ ${BENCH:-1} != 0 ]]; then
    say "== scripts/bench-torch-groups"
    args=()
    if [[ -z ${broken[gloo]:-} ]]; then
        if [[ ${BENCH:-1} == full ]]; then
            args+=(--gloo 32,64,128 --gloo-config tests/golden/big128.yaml)
        else
            args+=(--gloo 32,64)
        fi
    fi
    if ((ngpu >= 2)) && [[ -z ${broken[nccl]:-} ]]; then
        args+=(--nccl tests/gpu/two-gpu.yaml --nccl tests/gpu/bridge-2gpu.yaml)
    fi
    ((${#args[@]})) || args=(--gloo 16)
    timeout 400 "$PY" scripts/bench-torch-groups --launch "$L" "${args[@]}" 2>&1 | tee -a "$log"
fi
summary
