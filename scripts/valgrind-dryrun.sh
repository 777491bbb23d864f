#!/usr/bin/env bash
# Runs hgrid-launch --dry-run under valgrind (memcheck, full leak check) on every
# config in configs/ and tests/golden/: table, JSON, SVG, and one rank's view as table
# and JSON (first and last rank), all of them in one call as CI does, from standard input,
# into a full disk (status 1), and on failing configs (tests/fuzz/corpus/hostile-*.yaml,
# the module graph's and colocated layouts' tests/bad files, a missing file, a rank
# outside the world), whose exit status must stay 2. Any memcheck error or leak fails the run (status 1).
# Last line: `valgrind: N passed, M failed`; the exit status is 0 only when M is 0.
# Usage: scripts/valgrind-dryrun.sh   (after `make`; env HGRID_LAUNCH, VALGRIND)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
LAUNCH=${HGRID_LAUNCH:-build/bin/hgrid-launch}
VALGRIND=${VALGRIND:-valgrind}
if [[ ! -x $LAUNCH ]]; then
    echo "valgrind-dryrun: $LAUNCH is missing; run make first" >&2
    exit 1
fi
if ! command -v "$VALGRIND" >/dev/null; then
    echo "valgrind-dryrun: $VALGRIND is not installed" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0

# check EXPECTED_STATUS ARGS...: one hgrid-launch run under memcheck, stdout to $OUT
# (default /dev/null) and stdin from $IN (default /dev/null).
check() {
    local want=$1 got
    shift
    "$VALGRIND" -q --leak-check=full --error-exitcode=1 \
        --errors-for-leak-kinds=definite,indirect,possible --log-file="$log" \
        "$LAUNCH" "$@" >"${OUT:-/dev/null}" <"${IN:-/dev/null}" 2>/dev/null
    got=$?
    if [[ $got == "$want" && ! -s $log ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL (status $got, expected $want): hgrid-launch $*"
        sed 's/^/    /' "$log"
    fi
}

configs=(configs/*.yaml tests/golden/*.yaml)
for cfg in "${configs[@]}"; do
    [[ -f $cfg ]] || continue
    world=$("$LAUNCH" --dry-run --format json "$cfg" 2>/dev/null \
        | sed -n 's/^{"hgrid_plan":1,"layout":"[a-z]*","world_size":\([0-9]*\),.*/\1/p')
    check 0 --dry-run "$cfg"
    check 0 --dry-run --format json "$cfg"
    check 0 --dry-run --rank 0 "$cfg"
    check 0 --dry-run --format svg --rank 0 --gpus-per-node 4 "$cfg"
    if [[ -n $world ]]; then
        check 0 --dry-run --format json --rank $((world - 1)) "$cfg"
        check 2 --dry-run --rank "$world" "$cfg"
    else
        failed=$((failed + 1))
        echo "FAIL: $cfg: no world_size in its JSON plan"
    fi
done
check 0 --dry-run "${configs[@]}"
check 0 --dry-run --format json "${configs[@]}"

for cfg in tests/fuzz/corpus/hostile-*.yaml tests/bad/feeds-*.yaml tests/bad/bridge-*.yaml \
    tests/bad/colocated-*.yaml; do
    check 2 --dry-run "$cfg"
done
check 2 --dry-run does/not/exist.yaml
# Standard input, and a plan that cannot be written (status 1).
IN=configs/vlm-8gpu-moe.yaml check 0 --dry-run --format json - configs/smoke-2gpu.yaml
IN=tests/fuzz/corpus/hostile-overflow.yaml check 2 --dry-run -
if [[ -w /dev/full ]]; then
    OUT=/dev/full check 1 --dry-run --format json "${configs[@]}"
    OUT=/dev/full check 1 --dry-run --rank 0 configs/large-1024.yaml
    OUT=/dev/full check 1 --dry-run --format svg configs/large-1024.yaml
fi
check 2 --dry-run --format json configs/*.yaml tests/fuzz/corpus/hostile-overflow.yaml

echo "valgrind: $passed passed, $failed failed"
[[ $failed == 0 ]]
