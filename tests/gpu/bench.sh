#!/usr/bin/env bash
# The benchmarks of the GPU machine in one run (the device tool's calls are few and
# dear), each under its own time limit, all output to $OUT/bench.log as well:
#   - scripts/bench-scale: the MPI backend at 256, 512 and 1,024 ranks on the CPUs
#     (hgrid's own phases after MPI_Init, and how they grow);
#   - time to ready per pre-flight depth on two-gpu.yaml, one NCCL root (the default),
#     best of 3, and the one- and two-root configs' summaries;
#   - scripts/bench-torch-groups: Megatron's way against hgrid.torch.init, NCCL on 2
#     GPUs and gloo at 32, 64 and 128 ranks;
#   - scripts/bench-ready: the floor, hgrid and PyTorch on two-gpu.yaml.
# Benchmarks print measured figures; nothing here passes or fails.
#   tests/gpu/bench.sh    (from anywhere; SKIP="scale torch" skips steps by name: the
#                         steps together take longer than one device call;
#                         SCALE_RANKS=1024 and READY_RUNS=1 shorten two of them)
set -u
cd "$(dirname "$0")/../.."
log=${OUT:-/tmp}/bench.log
: >"$log"
. tests/gpu/devdeps.sh
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1 GLOO_SOCKET_IFNAME=lo
if ! make -j"$(nproc)" NCCL=1 "CPPFLAGS=${CPPFLAGS:-}" "LDFLAGS=${LDFLAGS:-}" \
    all test-programs build/lib/libhgrid_core.a >>"$log" 2>&1; then
    tail -20 "$log"
    echo "bench: build failed"
    exit 1
fi
# step NAME SECONDS CMD...: CMD under a time limit, its output to the terminal and log.
step() {
    local name=$1 limit=$2
    shift 2
    [[ " ${SKIP:-} " == *" $name "* ]] && return
    echo "== $name ($(date +%T), limit ${limit} s)" | tee -a "$log"
    timeout "$limit" "$@" 2>&1 | tee -a "$log"
    echo "== $name: status ${PIPESTATUS[0]}" | tee -a "$log"
}
depth() {
    local d i
    for d in full world none; do
        for i in 1 2 3; do
            mpirun -np 2 build/bin/hgrid-agent --preflight "$d" tests/gpu/two-gpu.yaml -- true 2>&1 |
                grep -o 'ready in .*'
        done | sort -n -k3 | head -1 | sed "s/^/$d: /"
    done
    sed 's/^agent:$/agent:\n  nccl_ranks_per_root: 1/' tests/gpu/two-gpu.yaml >/tmp/two-roots.yaml
    mpirun -np 2 build/bin/hgrid-agent /tmp/two-roots.yaml -- true 2>&1 | grep -o 'ready in .*' | sed 's/^/nccl_ranks_per_root 1: /'
}
# MPI_Init of 1,024 processes on the machine's cores takes minutes; shared memory
# segments for that many may not fit a container's /dev/shm: TCP on loopback.
step scale 330 env OMPI_MCA_btl=self,tcp BENCH_TIMEOUT_S=300 scripts/bench-scale --ranks "${SCALE_RANKS:-256,512,1024}"
step depth 60 bash -c "$(declare -f depth); depth"
step torch 210 python3 scripts/bench-torch-groups --launch build/bin/hgrid-launch \
    --nccl tests/gpu/two-gpu.yaml --nccl tests/gpu/bridge-2gpu.yaml --gloo 32,64,128
step ready 150 env RUNS="${READY_RUNS:-3}" MPICC=mpicc scripts/bench-ready tests/gpu/two-gpu.yaml
