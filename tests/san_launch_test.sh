#!/usr/bin/env bash
# The launcher's runtime (the ranks' channel, the output queues, the supervisor) under
# AddressSanitizer and UndefinedBehaviorSanitizer: a handful of real launches of a
# sanitized hgrid-launch (make check-san builds it in $(BUILD)-san/test/), with the
# plain test variant's agent (HGRID_AGENT). Each asserts its exit status, its output,
# and that no sanitizer spoke (the first error aborts the launcher: exit 1 and a report).
# Usage: HGRID_LAUNCH=build-san/test/bin/hgrid-launch HGRID_AGENT=build/test/bin/hgrid-agent
#        bash tests/san_launch_test.sh
set -u
cd "$(dirname "$0")/.."
L=$(realpath "${HGRID_LAUNCH:-build-san/test/bin/hgrid-launch}")
export HGRID_AGENT=$(realpath "${HGRID_AGENT:-build/test/bin/hgrid-agent}")
. tests/lib.sh
mpi_env
export OMPI_MCA_pml=ob1 OMPI_MCA_odls_base_sigkill_timeout=0
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
suite san-launch
clean() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }
show_failure() { [[ -n ${LAST:-} ]] && sed -n '1,20p' "$T/$LAST.err" | cut -c1-200 | sed 's/^/     | /'; }

# 70 ranks (the channel's connection array grows past 64) while rank 0's partial line
# is open, with labels and log files: issue 23 A.1's use-after-free, in a real launch.
cat >"$T/flat70.yaml" <<'YAML'
version: 1
modules:
  - { name: lm, role: language, dp: 70 }
YAML
LAST=wide
"$L" --backend mpi --mpi-arg=--oversubscribe --label --log-dir "$T/logs" "$T/flat70.yaml" -- sh -c \
  'if [ "$RANK" = 0 ]; then printf "progress 50%%"; sleep 3; echo " done"; else sleep 1; echo "rank $RANK line"; fi' \
  >"$T/wide.out" 2>"$T/wide.err"; RC=$?
check "70 ranks, a partial line open: exit 0, sanitizers quiet" test "$RC" -eq 0 && clean "$T/wide.err"
check "70 ranks: 69 whole lines, each labelled" test "$(grep -cE '^\[([0-9]+) lm\] rank \1 line$' "$T/wide.out")" -eq 69
check "70 ranks: the partial line ended, its rest labelled again" test "$(grep -cxE '\[0 lm\] (progress 50%| done)' "$T/wide.out")" -eq 2
check "70 ranks: log files byte-exact" test "$(cat "$T/logs/rank0-lm.stdout")" = "progress 50% done"

# Both streams on one pipe (2>&1 | cat), lines over PIPE_BUF: the shared queue.
LAST=both
"$L" --backend mpi configs/vlm-8gpu-moe.yaml -- python3 tests/output/both.py 50 5000 2>&1 | cat >"$T/both.err"
check "both streams on one pipe: sanitizers quiet, 0 spliced" test "$(python3 tests/output/check_both.py "$T/both.err" 5000)" = "spliced 0, lines 800" && clean "$T/both.err"

# A failing rank after an unfinished line, the others stopped (the supervisor's stop).
LAST=fail
"$L" --backend mpi --label configs/smoke-2gpu.yaml -- sh -c 'if [ "$RANK" = 1 ]; then printf "fatal: bad input" >&2; exit 3; fi; exec sleep 30' >/dev/null 2>"$T/fail.err"; RC=$?
check "failing rank: exit 3, sanitizers quiet" test "$RC" -eq 3 && clean "$T/fail.err"
check "failing rank: its line ended before hgrid's" grep -qx '\[1 language\] fatal: bad input' "$T/fail.err"

# A stall: heartbeats, the stacks' SIGUSR1 and the held dump, then the stop.
LAST=stall
"$L" --backend mpi --stall-timeout 1 --grace 2 configs/smoke-2gpu.yaml -- sh -c \
  'trap "echo stack of $RANK >&2; echo frame of $RANK >&2" USR1; echo "1 stacks $$" >&$HGRID_HEARTBEAT_FD; while :; do sleep 0.1; done' \
  >/dev/null 2>"$T/stall.err"; RC=$?
check "stall: exit 5, sanitizers quiet" test "$RC" -eq 5 && clean "$T/stall.err"
check "stall: each rank's stacks framed" test "$(grep -cE '^hgrid: rank [01] \((encoder|language)\): stacks, dumped on SIGUSR1:$' "$T/stall.err")" -eq 2

summary
