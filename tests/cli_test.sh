#!/usr/bin/env bash
# CLI tests of `hgrid-launch --dry-run`: exit codes, what goes to stdout and what to
# stderr, the JSON plan against the golden layouts byte for byte, --rank, --strict,
# several configs in one call, --format megatron (the Megatron MIMO example's
# arguments, and the layouts it cannot express), standard input and pipes as configs,
# output that cannot be written (a full disk, a closed pipe), options of the other
# mode, the table's alignment at the largest world, the README's CI check on the
# bundled configs, and every hostile file of tests/bad (its expected diagnostic is
# listed in tests/bad/EXPECTED). Plain bash and coreutils (plus grep); jq, where
# present, also parses the JSON.
#
#   HGRID_LAUNCH=build/bin/hgrid-launch bash tests/cli_test.sh
#
# The last line is `cli: N passed, M failed`; the exit status is non-zero when M > 0.
set -u
cd "$(dirname "$0")/.." || exit 1
L=${HGRID_LAUNCH:?set HGRID_LAUNCH to the hgrid-launch binary}
case $L in /*) ;; *) L=$PWD/$L ;; esac

# Each case: begin NAME, `fail WHY` for each thing wrong, end (tests/lib.sh).
. tests/lib.sh
suite cli
tmp=$T

# run ARGS...: runs the launcher; sets rc, and the files $tmp/out and $tmp/err.
run() {
    "$L" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

want_rc() { [ "$rc" = "$1" ] || fail "exit status $rc, want $1"; }
want_empty_stdout() { [ ! -s "$tmp/out" ] || fail "stdout not empty: $(head -c 200 "$tmp/out")"; }
want_empty_stderr() { [ ! -s "$tmp/err" ] || fail "stderr not empty: $(head -c 300 "$tmp/err")"; }
# want_line FILE LINE: FILE holds LINE as one whole line.
want_line() { grep -Fxq -- "$2" "$1" || fail "no line '$2' in $(basename "$1"): $(head -c 300 "$1")"; }
no_line_with() { ! grep -Fq -- "$2" "$1" || fail "'$2' found in $(basename "$1")"; }
want_first_line() {
    local first
    IFS= read -r first <"$1"
    [ "$first" = "$2" ] || fail "first line '$first', want '$2'"
}

# ---- usage ----

begin help
run --help
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "usage: hgrid-launch [OPTIONS] CONFIG -- PROGRAM [ARGS...]"
want_line "$tmp/out" "       hgrid-launch --dry-run [--format table|json] [--rank N] [--strict]"
want_line "$tmp/out" "                    [--gpus-per-node N] CONFIG..."
want_line "$tmp/out" "       hgrid-launch --dry-run --format megatron [--strict] [--gpus-per-node N] CONFIG"
want_line "$tmp/out" "  --strict             layouts the MIMO runtime does not accept are errors"
end

# The exit codes, as common/wire/protocol.h defines them (the numbers are read from there,
# not copied), and the 128+N of a signal, as the README's table lists them; the list
# ends the help.
exit_code() { sed -n "s/^#define HG_EXIT_$1 \([0-9][0-9]*\).*/\1/p" common/wire/protocol.h; }
begin help_exit_codes
run --help
want_rc 0
want=$(printf '%s\n' "Exit status:"
    printf '  %-6s %s\n' "$(exit_code OK)" "every rank's workload exited 0" \
        "$(exit_code OUTPUT)" "dry-run only: the plan could not be written" \
        "$(exit_code USAGE)" "usage error or invalid config (a bad config never launches)" \
        "$(exit_code PREFLIGHT)" "an agent failed pre-flight" \
        "$(exit_code NOT_STARTED)" "the job could not be started" \
        "$(exit_code STALLED)" "ranks stalled: no heartbeat for --stall-timeout" \
        "$(exit_code NO_HOSTS)" "too few hosts left for the layout (unreachable or left out)" \
        "$(exit_code LOST)" "a host was lost (--host-timeout), or ranks ended with no exit status" \
        "$(exit_code DEADLINE)" "the readiness deadline passed" \
        "128+N" "hgrid-launch itself was stopped by signal N" \
        "other" "the workload's own status: the first failing rank's exit code, or"
    printf '         %s\n' "128+N when a rank was killed by signal N"
    printf '%s\n' "With --max-restarts the status is the last attempt's.")
got=$(sed -n '/^Exit status:$/,$p' "$tmp/out")
[ "$got" = "$want" ] || fail "exit status list: $(printf '%s' "$got" | head -c 600)"
# Every code protocol.h defines is listed.
for name in $(sed -n 's/^#define HG_EXIT_\([A-Z_]*\) .*/\1/p' common/wire/protocol.h); do
    grep -Eq "^  $(exit_code "$name") +[a-z]" "$tmp/out" || fail "HG_EXIT_$name not in --help"
done
# The README's table lists the same codes.
for c in "$(exit_code OK)" "$(exit_code OUTPUT)" "$(exit_code USAGE)" "$(exit_code PREFLIGHT)" \
    "$(exit_code NOT_STARTED)" "$(exit_code STALLED)" "$(exit_code NO_HOSTS)" "$(exit_code LOST)" \
    "$(exit_code DEADLINE)" "128+N" other; do
    grep -q "^| $c | " README.md || fail "README's exit status table has no row '$c'"
done
end

begin help_short
run -h
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "usage: hgrid-launch [OPTIONS] CONFIG -- PROGRAM [ARGS...]"
end

version=
for p in MAJOR MINOR PATCH; do
    n=$(sed -n "s/^#define HG_VERSION_$p \([0-9][0-9]*\).*/\1/p" include/hgrid/base.h)
    version=${version:+$version.}$n
done

begin version
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no HG_VERSION_MAJOR/MINOR/PATCH in include/hgrid/base.h"
run --version
want_rc 0
want_empty_stderr
[ "$(cat "$tmp/out")" = "hgrid-launch $version" ] || fail "stdout '$(cat "$tmp/out")'"
run -V
want_rc 0
[ "$(cat "$tmp/out")" = "hgrid-launch $version" ] || fail "-V: stdout '$(cat "$tmp/out")'"
end

begin unknown_option
run --dry-run --bogus tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: unknown option '--bogus' (see --help)" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin no_config
run --dry-run
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: no config file given (see --help)" ] ||
    fail "stderr '$(cat "$tmp/err")'"
run
want_rc 2
want_empty_stdout
end

begin option_needs_value
run --dry-run tests/golden/vlm8_moe.yaml --format
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --format needs a value" ] || fail "stderr '$(cat "$tmp/err")'"
end

begin bad_format
run --dry-run --format yaml tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --format: expected table, json, megatron or svg, got 'yaml'" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

# Options of the other mode are errors that say so, never silently ignored.
begin dry_run_refuses_launch_options
run --dry-run --timeout 5 tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --timeout does not apply to --dry-run (it sets the launch's readiness deadline)" ] ||
    fail "stderr '$(cat "$tmp/err")'"
for o in --backend=mpi --preflight=world --report=r.json --hostfile=h --mpirun=mpirun \
    --mpi-arg=--oversubscribe --in-process --label --log-dir=logs --grace=5; do
    run --dry-run "$o" tests/golden/vlm8_moe.yaml
    want_rc 2
    want_empty_stdout
    [[ $(cat "$tmp/err") == "hgrid-launch: ${o%%=*} does not apply to --dry-run ("*")" ]] ||
        fail "$o: stderr '$(cat "$tmp/err")'"
done
end

begin launch_refuses_dry_run_options
run --format json tests/golden/vlm8_moe.yaml -- true
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --format applies only to --dry-run" ] || fail "stderr '$(cat "$tmp/err")'"
run --rank 0 tests/golden/vlm8_moe.yaml -- true
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --rank applies only to --dry-run" ] || fail "stderr '$(cat "$tmp/err")'"
end

# mpirun aborts on an empty argument: refused before anything starts.
begin empty_mpi_arg
run --mpi-arg= tests/golden/vlm8_moe.yaml -- true
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --mpi-arg: expected an mpirun argument, got ''" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin dry_run_with_program
run --dry-run tests/golden/vlm8_moe.yaml -- ./train.py
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --dry-run launches nothing; drop '-- ./train.py'" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

# ---- files that cannot be read ----

begin missing_file
run --dry-run tests/no-such-file.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "tests/no-such-file.yaml: error: cannot open: No such file or directory" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin directory
run --dry-run tests
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "tests: error: is a directory, not a config file" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

# An endless device is cut at the size limit, never read to the end.
begin dev_zero
run --dry-run /dev/zero
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "/dev/zero:1:1: error: the file is larger than 1048576 bytes" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin dev_null
run --dry-run /dev/null
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "/dev/null:1:1: error: the file is empty" ] || fail "stderr '$(cat "$tmp/err")'"
end

# A pipe is read like a file (its size is not known in advance).
begin pipe
"$L" --dry-run --format json <(cat tests/golden/vlm8_moe.yaml) >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 0
want_empty_stderr
"$L" --dry-run --format json tests/golden/vlm8_moe.yaml >"$tmp/want"
want_first_line "$tmp/out" "$(cat "$tmp/want")"
grep -Fq '{"hgrid_plan":1,"layout":"disjoint","world_size":8,' "$tmp/out" || fail "no plan: $(head -c 100 "$tmp/out")"
end

# "-" is standard input, "<stdin>" in diagnostics; /dev/stdin and a pipe read the same.
"$L" --dry-run --format json tests/golden/vlm8_moe.yaml >"$tmp/vlm8.json"

begin stdin_dash
run --dry-run --format json - <tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
cmp -s "$tmp/out" "$tmp/vlm8.json" || fail "the plan differs from the file's: $(head -c 100 "$tmp/out")"
cat tests/golden/vlm8_moe.yaml | "$L" --dry-run - >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "hgrid plan: 8 ranks, 2 modules"
end

begin stdin_dev_stdin_pipe
cat tests/golden/vlm8_moe.yaml | "$L" --dry-run --format json /dev/stdin >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 0
want_empty_stderr
cmp -s "$tmp/out" "$tmp/vlm8.json" || fail "the plan differs from the file's: $(head -c 100 "$tmp/out")"
end

begin stdin_diagnostics
cat tests/bad/float.yaml | "$L" --dry-run - >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "<stdin>:5:9: error: dp: expected an integer, got '2.5'" ] || fail "stderr '$(cat "$tmp/err")'"
run --dry-run - </dev/null
want_rc 2
[ "$(cat "$tmp/err")" = "<stdin>:1:1: error: the file is empty" ] || fail "empty: stderr '$(cat "$tmp/err")'"
run --dry-run - <&-
want_rc 2
[ "$(cat "$tmp/err")" = "<stdin>: error: cannot read: Bad file descriptor" ] || fail "closed: stderr '$(cat "$tmp/err")'"
run --dry-run - <tests
want_rc 2
[ "$(cat "$tmp/err")" = "<stdin>: error: is a directory, not a config file" ] || fail "directory: stderr '$(cat "$tmp/err")'"
end

# An endless stream is cut at the limit, as a file is.
begin stdin_endless
run --dry-run - </dev/zero
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "<stdin>:1:1: error: the file is larger than 1048576 bytes" ] || fail "stderr '$(cat "$tmp/err")'"
end

begin stdin_with_other_configs
run --dry-run --format json - tests/golden/llm_only8.yaml <tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
[[ $(head -n 1 "$tmp/out") == '{"hgrid_plan":1,"config":"<stdin>","layout":"disjoint","world_size":8,'* ]] ||
    fail "first line: $(head -c 80 "$tmp/out")"
run --dry-run - tests/golden/llm_only8.yaml <tests/golden/vlm8_moe.yaml
want_rc 0
want_first_line "$tmp/out" "== <stdin>"
run --dry-run - tests/golden/llm_only8.yaml - </dev/null
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: '-' (standard input) can be read only once" ] || fail "stderr '$(cat "$tmp/err")'"
end

# 1.1 MiB: a valid config padded with comments is refused for its size alone; exactly
# 1 MiB is accepted.
pad_to() { # pad_to FILE BYTES: a valid config, then comment lines up to BYTES bytes
    cat tests/golden/vlm8_moe.yaml >"$1"
    local have
    have=$(wc -c <"$1")
    yes '# padding padding padding padding padding padding padding padding padding' |
        head -c $(($2 - have - 1)) >>"$1"
    printf '\n' >>"$1"
}
pad_to "$tmp/too-big.yaml" $((1100 * 1024))
pad_to "$tmp/max.yaml" $((1024 * 1024))

begin too_big_file
[ "$(wc -c <"$tmp/too-big.yaml")" = 1126400 ] || fail "generated $(wc -c <"$tmp/too-big.yaml") bytes"
run --dry-run "$tmp/too-big.yaml"
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "$tmp/too-big.yaml:1:1: error: the file is larger than 1048576 bytes" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin max_size_file
[ "$(wc -c <"$tmp/max.yaml")" = 1048576 ] || fail "generated $(wc -c <"$tmp/max.yaml") bytes"
run --dry-run --format json "$tmp/max.yaml"
want_rc 0
want_empty_stderr
grep -Fq '{"hgrid_plan":1,"layout":"disjoint","world_size":8,' "$tmp/out" || fail "no plan: $(head -c 100 "$tmp/out")"
end

# Through a pipe, whose size is unknown until its end, the limit is the same.
begin max_size_pipe
cat "$tmp/max.yaml" | "$L" --dry-run --format json - >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 0
want_empty_stderr
cmp -s "$tmp/out" "$tmp/vlm8.json" || fail "no plan: $(head -c 100 "$tmp/out")"
cat "$tmp/too-big.yaml" | "$L" --dry-run - >"$tmp/out" 2>"$tmp/err"
rc=$?
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "<stdin>:1:1: error: the file is larger than 1048576 bytes" ] || fail "stderr '$(cat "$tmp/err")'"
end

# ---- the JSON plan ----

# From "world_size" on, a golden file is exactly the plan's bytes (the golden files are
# compact JSON in the plan's key order; they add "name" and "note" before "layout",
# which the plan has right after "hgrid_plan"). A golden layout may be beyond what the
# MIMO example runtime supports (bridge_fanin_pp16's encoder has pp 2): rule 8 warns.
golden_stderr_ok() { # golden_stderr_ok FILE: stderr holds only rule 8 warnings
    ! grep -v ': warning: .* is beyond what the MIMO example runtime supports ' "$tmp/err" |
        grep -q . || fail "stderr: $(head -c 300 "$tmp/err")"
}
for g in tests/golden/*.yaml; do
    begin "json_golden_$(basename "$g" .yaml)"
    run --dry-run --format json "$g"
    want_rc 0
    golden_stderr_ok
    plan=$(cat "$tmp/out")
    golden=$(cat "${g%.yaml}.json")
    layout=$(sed -n 's/.*"layout":"\([a-z]*\)".*/\1/p' "${g%.yaml}.json")
    [ -n "$layout" ] || fail "no layout in ${g%.yaml}.json"
    head='{"hgrid_plan":1,"layout":"'$layout'","world_size":'
    [ "${plan:0:${#head}}" = "$head" ] || fail "plan starts '${plan:0:60}'"
    [ "${plan#*\"world_size\":}" = "${golden#*\"world_size\":}" ] ||
        fail "plan differs from ${g%.yaml}.json"
    [ "$(wc -l <"$tmp/out")" = 1 ] || fail "plan is not one line"
    # Each bridge's own group is Megatron's bridge_ranks: sorted(src leaders | dest leaders).
    python3 -c 'import json, sys
for b in json.load(open(sys.argv[1]))["bridges"]:
    want = sorted(set(b["src_leaders"]) | set(b["dest_leaders"]))
    if b["group"] != want:
        sys.exit("bridge %s -> %s: group %s, want %s" % (b["src"], b["dest"], b["group"], want))' \
        "$tmp/out" || fail "bridge group"
    if command -v jq >/dev/null; then
        jq -e '.hgrid_plan == 1' "$tmp/out" >/dev/null || fail "jq cannot parse the plan"
        for k in layout modules groups bridges; do
            [ "$(jq -c ".$k" "$tmp/out")" = "$(jq -c ".$k" "${g%.yaml}.json")" ] || fail "jq: $k differs"
        done
    fi
    cp "$tmp/out" "$tmp/first"
    run --dry-run --format=json "$g"
    cmp -s "$tmp/out" "$tmp/first" || fail "a second run wrote different bytes"
    end
done

# The GTP goldens (tests/golden-gtp, copies of ../shared/golden-gtp: Megatron-LM's own
# HyperCommGrid with [tp, gtp_remat, cp, dp, pp] and BridgeCommunicator): the dry-run's
# modules (gtp keys included), every group kind and the bridges equal each file, and
# every rank's --rank plan agrees with the whole plan (coords, groups, bridge roles).
for g in tests/golden-gtp/*.yaml; do
    begin "json_golden_gtp_$(basename "$g" .yaml)"
    run --dry-run --format json "$g"
    want_rc 0
    golden_stderr_ok
    python3 tests/golden-gtp/compare.py "$tmp/out" "${g%.yaml}.json" >"$tmp/cmp" ||
        fail "plan differs from ${g%.yaml}.json: $(head -c 600 "$tmp/cmp")"
    cp "$tmp/out" "$tmp/whole.json"
    n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["world_size"])' "$tmp/whole.json")
    rm -rf "$tmp/ranks" && mkdir "$tmp/ranks"
    for ((r = 0; r < n; r++)); do
        "$L" --dry-run --rank "$r" --format json "$g" >"$tmp/ranks/$r.json" 2>/dev/null ||
            fail "--rank $r failed"
    done
    python3 tests/golden-gtp/ranks_agree.py "$tmp/whole.json" "$tmp"/ranks/*.json >"$tmp/cmp" ||
        fail "rank plans: $(head -c 600 "$tmp/cmp")"
    end
done

# The example configs equal their golden layouts.
for pair in two-encoders-14:two_encoders14 colocated-8:colocated8; do
    begin "example_config_${pair%%:*}"
    run --dry-run --format json "configs/${pair%%:*}.yaml"
    want_rc 0
    want_empty_stderr
    plan=$(cat "$tmp/out")
    golden=$(cat "tests/golden/${pair#*:}.json")
    [ "${plan#*\"world_size\":}" = "${golden#*\"world_size\":}" ] || fail "plan differs from ${pair#*:}.json"
    end
done

begin table
run --dry-run tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "hgrid plan: 8 ranks, 2 modules"
want_line "$tmp/out" "radio_encoder        encoder  0-3                   4    2    1     2    1     1         1         4"
want_line "$tmp/out" "language             language 4-7                   4    2    1     2    1     4         1         1"
want_line "$tmp/out" "7     language                1    0    1    0     3       0       0"
end

begin table_large_is_summarised
run --dry-run --format table tests/golden/big128.yaml
want_rc 0
want_first_line "$tmp/out" "hgrid plan: 128 ranks, 2 modules"
want_line "$tmp/out" "128 ranks: per-rank coordinates not listed (use --rank N for one rank's view)"
end

# A plan that cannot be written is a failure (status 1, one message with the cause),
# not a silent success and not death by a signal.
begin write_error_full_disk
if [ -w /dev/full ]; then
    for args in "--format json" "--format table" "--rank 3" "--rank 3 --format json"; do
        # shellcheck disable=SC2086
        "$L" --dry-run $args tests/golden/big128.yaml >/dev/full 2>"$tmp/err"
        rc=$?
        want_rc 1
        [ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: No space left on device" ] ||
            fail "$args: stderr '$(cat "$tmp/err")'"
    done
    # Several configs: said once; the others are still checked.
    "$L" --dry-run --format json tests/golden/*.yaml >/dev/full 2>"$tmp/err"
    rc=$?
    want_rc 1
    [ "$(grep -v ': warning: ' "$tmp/err")" = "hgrid-launch: cannot write the plan: No space left on device" ] ||
        fail "several: stderr '$(cat "$tmp/err")'"
    "$L" --dry-run tests/golden/vlm8_moe.yaml tests/bad/float.yaml tests/golden/big128.yaml >/dev/full 2>"$tmp/err"
    rc=$?
    want_rc 2
    printf '%s\n' "hgrid-launch: cannot write the plan: No space left on device" \
        "tests/bad/float.yaml:5:9: error: dp: expected an integer, got '2.5'" \
        "hgrid-launch: 1 of 3 configs failed" >"$tmp/want"
    cmp -s "$tmp/err" "$tmp/want" || fail "with a bad config: stderr '$(cat "$tmp/err")'"
fi
end

# The reader went away: EPIPE, reported as such (SIGPIPE would give 141).
begin write_error_closed_pipe
"$L" --dry-run --format json configs/large-1024.yaml 2>"$tmp/err" | head -c1 >/dev/null
rc=${PIPESTATUS[0]}
want_rc 1
[ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: Broken pipe" ] || fail "stderr '$(cat "$tmp/err")'"
# A pipe whose reader is gone before anything is written (a FIFO opened for writing,
# then its only reader closed), for the small table output too.
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo" 4>"$tmp/fifo"
exec 3<&-
for args in "--format table" "--format json" "--rank 5"; do
    # shellcheck disable=SC2086
    "$L" --dry-run $args tests/golden/vlm8_moe.yaml >&4 2>"$tmp/err"
    rc=$?
    want_rc 1
    [ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: Broken pipe" ] ||
        fail "$args: stderr '$(cat "$tmp/err")'"
done
exec 4>&-
rm -f "$tmp/fifo"
end

# ---- --rank ----

begin rank_table
run --dry-run --rank 5 tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "rank 5 of 8: module language (language), module rank 1 of 4"
want_line "$tmp/out" "dense:  tp 1/2  cp 0/1  dp 0/2  pp 0/1"
want_line "$tmp/out" "expert: expt_tp 0/1  ep 1/4  expt_dp 0/1  pp 0/1"
want_line "$tmp/out" "dp                      1     0  [5, 7]"
want_line "$tmp/out" "ep                      0     1  [4, 5, 6, 7]"
end

begin rank_json
run --dry-run --rank=5 --format json tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
# "kinds" as the whole plan has it (tests/golden/vlm8_moe.json; test_layout.c: its bytes).
kinds=$(sed -n 's/.*,\("kinds":{.*}\)}$/\1/p' tests/golden/vlm8_moe.json)
want='{"hgrid_rank_plan":1,'$kinds',"world_size":8,"rank":5,"module":{"name":"language","role":"language","offset":4,"size":4,"tp":2,"cp":1,"dp":2,"pp":1,"ep":4,"expert_tp":1,"expert_dp":1,"gtp_remat":1,"expert_gtp_remat":1},"module_rank":1,"coords":{"tp":1,"cp":0,"dp":0,"pp":0,"ep":1,"expt_tp":0,"expt_dp":0,"gtp_remat":0,"expt_gtp_remat":0},"groups":{"tp":{"index":0,"rank":1,"members":[4,5]},"cp":{"index":1,"rank":0,"members":[5]},"pp":{"index":1,"rank":0,"members":[5]},"dp":{"index":1,"rank":0,"members":[5,7]},"dp_cp":{"index":1,"rank":0,"members":[5,7]},"tp_cp":{"index":0,"rank":1,"members":[4,5]},"mp":{"index":0,"rank":1,"members":[4,5]},"tp_dp":{"index":0,"rank":1,"members":[4,5,6,7]},"tp_dp_cp":{"index":0,"rank":1,"members":[4,5,6,7]},"tp_cp_dp_pp":{"index":0,"rank":1,"members":[4,5,6,7]},"ep":{"index":0,"rank":1,"members":[4,5,6,7]},"expt_tp":{"index":1,"rank":0,"members":[5]},"expt_dp":{"index":1,"rank":0,"members":[5]},"tp_ep":{"index":0,"rank":1,"members":[4,5,6,7]},"tp_ep_pp":{"index":0,"rank":1,"members":[4,5,6,7]},"embd":{"index":1,"rank":0,"members":[5]},"pos_embd":{"index":1,"rank":0,"members":[5]},"gtp_remat":{"index":1,"rank":0,"members":[5]},"gtp_remat_dp_cp":{"index":1,"rank":0,"members":[5,7]},"expt_gtp_remat":{"index":1,"rank":0,"members":[5]},"tp_ep_gtp_remat_pp":{"index":0,"rank":1,"members":[4,5,6,7]},"ep_gtp_remat_dp":{"index":1,"rank":0,"members":[5]}},"bridges":[{"src":"radio_encoder","dest":"language","side":"dest","role":"member","peers":[],"leader":4,"broadcast":[4,5],"group":[1,3,4,6]}],"bridge_groups":[{"src":"radio_encoder","dest":"language","group":[1,3,4,6],"src_broadcast":[[0,1],[2,3]],"dest_broadcast":[[4,5],[6,7]]}]}'
[ "$(cat "$tmp/out")" = "$want" ] || fail "rank JSON: $(head -c 300 "$tmp/out")"
end

# A middle pipeline stage holds no embedding: null in its JSON.
begin rank_json_middle_stage
run --dry-run --rank 8 --format json tests/golden/enc4_llm_pp4_20.yaml
want_rc 0
grep -Fq '"coords":{"tp":0,"cp":0,"dp":0,"pp":1,' "$tmp/out" || fail "rank 8 is not stage 1"
grep -Fq '"embd":null,"pos_embd":null,"gtp_remat":{' "$tmp/out" || fail "embd not null: $(tail -c 100 "$tmp/out")"
end

begin rank_last
run --dry-run --rank 127 tests/golden/big128.yaml
want_rc 0
want_first_line "$tmp/out" "rank 127 of 128: module language (language), module rank 95 of 96"
end

# ---- bridges and colocated layouts ----

begin table_bridges
run --dry-run tests/golden/two_encoders14.yaml
want_rc 0
want_empty_stderr
want_line "$tmp/out" "bridges (leaders per side, one per dp replica):"
want_line "$tmp/out" "  bridge             mode       leaders links  group"
want_line "$tmp/out" "  audio -> language  fan-out     2 -> 4     4  [0, 1, 6, 8, 10, 12]"
want_line "$tmp/out" "  vision -> language fan-out     2 -> 4     4  [3, 5, 6, 8, 10, 12]"
run --dry-run tests/golden/big128.yaml
want_line "$tmp/out" "bridges: none"
end

begin table_colocated
run --dry-run configs/colocated-8.yaml
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "hgrid plan: 8 ranks, 2 modules, colocated (every module spans every rank)"
no_line_with "$tmp/out" "bridge"
end

begin rank_bridges_table
run --dry-run --rank 8 tests/golden/two_encoders14.yaml
want_rc 0
want_empty_stderr
want_line "$tmp/out" "  audio -> language (fan-out): dest side, receiver, leader 8, receives from [0]"
want_line "$tmp/out" "  vision -> language (fan-out): dest side, receiver, leader 8, receives from [3]"
want_line "$tmp/out" "    broadcast: tp_cp group 1, [8, 9]"
want_line "$tmp/out" "    bridge group: [0, 1, 6, 8, 10, 12] (rank 3 of 6)"
want_line "$tmp/out" "    bridge group: [3, 5, 6, 8, 10, 12] (rank 3 of 6)"
run --dry-run --rank 4 tests/golden/two_encoders14.yaml
want_line "$tmp/out" "  vision -> language (fan-out): src side, member, leader 5"
want_line "$tmp/out" "    bridge group: [3, 5, 6, 8, 10, 12] (not a member)"
end

begin rank_bridges_json
run --dry-run --rank 3 --format json tests/golden/two_encoders14.yaml
want_rc 0
want_empty_stderr
grep -Fq '"bridges":[{"src":"vision","dest":"language","side":"src","role":"sender","peers":[6,8],"leader":3,"broadcast":[2,3],"group":[3,5,6,8,10,12]}],"bridge_groups":[{"src":"audio","dest":"language","group":[0,1,6,8,10,12],"src_broadcast":[[0],[1]],"dest_broadcast":[[6,7],[8,9],[10,11],[12,13]]},{"src":"vision","dest":"language","group":[3,5,6,8,10,12],"src_broadcast":[[2,3],[4,5]],"dest_broadcast":[[6,7],[8,9],[10,11],[12,13]]}]}' "$tmp/out" ||
    fail "bridges: $(tail -c 400 "$tmp/out")"
run --dry-run --rank 5 --format json tests/golden/bridge_fanin_pp16.yaml
grep -Fq '"bridges":[{"src":"vision","dest":"language","side":"src","role":"sender","peers":[8],"leader":5,"broadcast":[5],"group":[4,5,6,7,8,10]}],' "$tmp/out" ||
    fail "fan-in sender: $(tail -c 200 "$tmp/out")"
run --dry-run --rank 10 --format json tests/golden/bridge_fanin_pp16.yaml
grep -Fq '"bridges":[{"src":"vision","dest":"language","side":"dest","role":"receiver","peers":[6,7],"leader":10,"broadcast":[10,11],"group":[4,5,6,7,8,10]}],' "$tmp/out" ||
    fail "fan-in receiver: $(tail -c 200 "$tmp/out")"
end

begin rank_colocated_json
run --dry-run --rank 6 --format json configs/colocated-8.yaml
want_rc 0
want_empty_stderr
grep -Fq '"module":{"name":"language","role":"language","offset":0,"size":8,' "$tmp/out" ||
    fail "top-level module: $(head -c 200 "$tmp/out")"
grep -Fq '"bridges":[],"modules":[{"module":{"name":"vision","role":"encoder","offset":0,"size":8,' "$tmp/out" ||
    fail "modules: $(head -c 300 "$tmp/out")"
if command -v jq >/dev/null; then
    [ "$(jq -c '[.modules[] | [.module.name, .module_rank, .coords.dp]]' "$tmp/out")" = '[["vision",6,6],["language",6,1]]' ] ||
        fail "jq: $(jq -c '[.modules[] | [.module.name, .module_rank, .coords.dp]]' "$tmp/out")"
fi
run --dry-run --rank 6 configs/colocated-8.yaml
want_first_line "$tmp/out" "rank 6 of 8: colocated, in all 2 modules"
want_line "$tmp/out" "module vision (encoder), module rank 6 of 8"
want_line "$tmp/out" "module language (language), module rank 6 of 8"
end

# Column widths come from the data: aligned from 1 rank up to HG_MAX_WORLD (2^24).
# cols LINE: the "start:end" character positions of LINE's space-separated words.
cols() {
    local line=$1 i=0 n=${#1} s out=
    while [ $i -lt $n ]; do
        if [ "${line:i:1}" = " " ]; then
            i=$((i + 1))
            continue
        fi
        s=$i
        while [ $i -lt $n ] && [ "${line:i:1}" != " " ]; do i=$((i + 1)); done
        out+="$s:$((i - 1)) "
    done
    printf '%s' "$out"
}
# aligned HEADER ROW NLEFT NCOLS: the first NCOLS words of ROW line up with HEADER's,
# the first NLEFT by their start (text), the others by their end (numbers).
aligned() {
    local -a h r
    read -ra h <<<"$(cols "$1")"
    read -ra r <<<"$(cols "$2")"
    local c
    for ((c = 0; c < $4; c++)); do
        if [ $c -lt "$3" ]; then
            [ "${h[c]%:*}" = "${r[c]%:*}" ] || { fail "column $((c + 1)) of '$2' starts off its header"; return; }
        else
            [ "${h[c]#*:}" = "${r[c]#*:}" ] || { fail "column $((c + 1)) of '$2' ends off its header"; return; }
        fi
    done
}
printf 'version: 1\nworld_size: 16777216\nmodules:\n  - name: vision_encoder_with_a_long_name\n    role: encoder\n    tp: 2\n    dp: 4194304\n  - name: language\n    role: language\n    tp: 8\n    pp: 4\n    dp: 262144\n    moe:\n      num_experts: 64\n      ep: 8\n' >"$tmp/world-2-24.yaml"

begin table_aligned_at_max_world
run --dry-run "$tmp/world-2-24.yaml"
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" "hgrid plan: 16777216 ranks, 2 modules"
header=$(sed -n 3p "$tmp/out")
[[ $header == "module "* ]] || fail "line 3 is '$header'"
want_line "$tmp/out" "vision_encoder_with_a_long_name encoder  0-8388607         8388608    2    1 4194304    1     1         1   8388608"
want_line "$tmp/out" "language                        language 8388608-16777215  8388608    8    1  262144    4     8         1    262144"
for row in 4 5; do aligned "$header" "$(sed -n ${row}p "$tmp/out")" 3 11; done
want_line "$tmp/out" "16777216 ranks: per-rank coordinates not listed (use --rank N for one rank's view)"
# The per-rank table of the last rank: group index and rank reach 8388607.
run --dry-run --rank 16777215 "$tmp/world-2-24.yaml"
want_rc 0
header=$(grep '^kind ' "$tmp/out")
[ "$header" = "kind                 group    rank  members" ] || fail "header '$header'"
want_line "$tmp/out" "pos_embd                 -       -  (not a member)"
while IFS= read -r row; do aligned "$header" "$row" 1 3; done < <(sed '1,/^kind /d' "$tmp/out")
end

# The per-rank list of a small world: a long module name widens its column.
begin table_aligned_small_world_long_name
printf 'version: 1\nmodules:\n  - name: a_module_name_longer_than_twenty\n    role: language\n    dp: 1\n' >"$tmp/one.yaml"
run --dry-run "$tmp/one.yaml"
want_rc 0
want_first_line "$tmp/out" "hgrid plan: 1 rank, 1 module"
header=$(grep '^rank ' "$tmp/out")
want_line "$tmp/out" "0     a_module_name_longer_than_twenty    0    0    0    0     0       0       0"
aligned "$header" "$(tail -n 1 "$tmp/out")" 2 9
end

begin rank_out_of_range
run --dry-run --rank 8 tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "tests/golden/vlm8_moe.yaml: error: --rank 8 is outside the world of 8 ranks" ] ||
    fail "stderr '$(cat "$tmp/err")'"
run --dry-run --rank 99999999999 tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
end

begin rank_out_of_a_one_rank_world
run --dry-run --rank 1 "$tmp/one.yaml"
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "$tmp/one.yaml: error: --rank 1 is outside the world of 1 rank" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin rank_not_a_number
run --dry-run --rank -1 tests/golden/vlm8_moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --rank: expected an integer >= 0, got '-1'" ] ||
    fail "stderr '$(cat "$tmp/err")'"
run --dry-run --rank 3x tests/golden/vlm8_moe.yaml
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --rank: expected an integer >= 0, got '3x'" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin rank_with_two_configs
run --dry-run --rank 0 tests/golden/vlm8_moe.yaml tests/golden/llm_only8.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --rank takes one config, got 2" ] || fail "stderr '$(cat "$tmp/err")'"
end

# ---- several configs ----

begin several_configs_one_bad
run --dry-run tests/golden/vlm8_moe.yaml tests/bad/float.yaml tests/golden/llm_only8.yaml
want_rc 2
want_line "$tmp/out" "== tests/golden/vlm8_moe.yaml"
want_line "$tmp/out" "== tests/golden/llm_only8.yaml"
want_line "$tmp/out" "hgrid plan: 8 ranks, 2 modules"
want_line "$tmp/out" "hgrid plan: 8 ranks, 1 module"
no_line_with "$tmp/out" "float"
no_line_with "$tmp/out" "error"
want_line "$tmp/err" "tests/bad/float.yaml:5:9: error: dp: expected an integer, got '2.5'"
[ "$(tail -n 1 "$tmp/err")" = "hgrid-launch: 1 of 3 configs failed" ] || fail "last stderr line '$(tail -n 1 "$tmp/err")'"
[ "$(wc -l <"$tmp/err")" = 2 ] || fail "stderr has $(wc -l <"$tmp/err") lines"
end

# One plan per line, each naming its file in "config" right after "hgrid_plan"; from
# "world_size" on, each is the single-config plan (which has no "config" key).
begin several_configs_json
run --dry-run --format json tests/golden/vlm8_moe.yaml tests/bad/empty.yaml tests/golden/llm_only8.yaml
want_rc 2
[ "$(wc -l <"$tmp/out")" = 2 ] || fail "stdout has $(wc -l <"$tmp/out") lines, want one plan per line"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    [ $n = 1 ] && f=tests/golden/vlm8_moe.yaml || f=tests/golden/llm_only8.yaml
    single=$("$L" --dry-run --format json "$f")
    [ "${line%%\"world_size\":*}" = "{\"hgrid_plan\":1,\"config\":\"$f\",\"layout\":\"disjoint\"," ] ||
        fail "line $n starts '${line:0:60}'"
    [ "${line#*\"world_size\":}" = "${single#*\"world_size\":}" ] || fail "line $n differs from the single run"
    [ "${single:0:49}" = '{"hgrid_plan":1,"layout":"disjoint","world_size":' ] || fail "single run starts '${single:0:60}'"
done <"$tmp/out"
want_line "$tmp/err" "tests/bad/empty.yaml:1:1: error: the file is empty"
want_line "$tmp/err" "hgrid-launch: 1 of 3 configs failed"
if command -v jq >/dev/null; then
    [ "$(jq -r .config "$tmp/out" | tr '\n' ' ')" = "tests/golden/vlm8_moe.yaml tests/golden/llm_only8.yaml " ] ||
        fail "jq reads config as $(jq -r .config "$tmp/out")"
fi
end

# A file name is bytes, JSON is UTF-8: a quote is escaped, a byte that is not UTF-8
# becomes U+FFFD, and the line stays JSON.
begin several_configs_json_odd_name
odd="$tmp/we\"ird"$'\xff'"-é.yaml"
cp tests/golden/llm_only8.yaml "$odd"
run --dry-run --format json tests/golden/vlm8_moe.yaml "$odd"
want_rc 0
want_empty_stderr
want='{"hgrid_plan":1,"config":"'"$tmp"'/we\"ird'$'\xef\xbf\xbd''-é.yaml","layout":"disjoint","world_size":8,'
[[ $(sed -n 2p "$tmp/out") == "$want"* ]] ||
    fail "line 2 starts '$(sed -n 2p "$tmp/out" | head -c 100)'"
if command -v jq >/dev/null; then
    jq -e . "$tmp/out" >/dev/null || fail "jq cannot parse the plans"
fi
rm -f "$odd"
end

begin all_golden_configs
run --dry-run tests/golden/*.yaml
want_rc 0
golden_stderr_ok
[ "$(grep -c '^== tests/golden/' "$tmp/out")" = "$(ls tests/golden/*.yaml | wc -l)" ] || fail "not every plan printed"
end

# The README's CI check, exactly as the README writes it (read from there, so the two
# cannot drift): every bundled config passes it.
begin readme_ci_check
ci=$(tr '\n' ' ' <README.md | grep -o '`hgrid-launch --dry-run [^`]*` is a CI check' | head -n 1)
ci=${ci#\`}
ci=${ci%\` is a CI check}
read -ra words <<<"$ci"
if [ "${words[0]:-}" != hgrid-launch ] || [[ " ${words[*]} " != *" configs/*.yaml "* ]]; then
    fail "no '\`hgrid-launch ... configs/*.yaml\` is a CI check' in README.md (got '$ci')"
else
    args=()
    for w in "${words[@]:1}"; do
        # shellcheck disable=SC2206 # the README's glob expands, as in a shell
        args+=($w)
    done
    run "${args[@]}"
    want_rc 0
    want_empty_stderr
    [ "$(grep -c '^== configs/' "$tmp/out")" = "$(ls configs/*.yaml | wc -l)" ] ||
        fail "not every bundled config checked: $(grep '^== ' "$tmp/out" | tr '\n' ' ')"
fi
end

# What the README says of 8 GPUs per node: two-encoders-14 fails, at its ep key.
begin readme_ci_check_8_per_node
run --dry-run --strict --gpus-per-node 8 configs/two-encoders-14.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "configs/two-encoders-14.yaml:33:11: error: language: 1 of 2 ep groups span 2 nodes (8 GPUs per node): ranks [6-9] on nodes 0-1; expert parallelism's all-to-all then crosses the network in every MoE layer" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin all_bad_configs
nbad=$(ls tests/bad/*.yaml | wc -l)
run --dry-run --format json tests/bad/*.yaml
want_rc 2
want_empty_stdout
[ "$(tail -n 1 "$tmp/err")" = "hgrid-launch: $nbad of $nbad configs failed" ] || fail "last line '$(tail -n 1 "$tmp/err")'"
end

# ---- --strict and rule 8 ----

# An encoder with pp=2: beyond what the MIMO example runtime supports.
printf 'version: 1\nmodules:\n  - name: vision\n    role: encoder\n    pp: 2\n    dp: 2\n  - name: language\n    role: language\n    dp: 4\n' >"$tmp/encoder-pp2.yaml"
rule8="vision: cp=1 pp=2 is beyond what the MIMO example runtime supports (encoder cp and pp must be 1)"

begin rule8_warning
run --dry-run "$tmp/encoder-pp2.yaml"
want_rc 0
[ "$(cat "$tmp/err")" = "$tmp/encoder-pp2.yaml:5:9: warning: $rule8" ] || fail "stderr '$(cat "$tmp/err")'"
want_first_line "$tmp/out" "hgrid plan: 8 ranks, 2 modules"
end

begin rule8_strict
run --dry-run --strict "$tmp/encoder-pp2.yaml"
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "$tmp/encoder-pp2.yaml:5:9: error: $rule8" ] || fail "stderr '$(cat "$tmp/err")'"
run --strict --dry-run --format json tests/golden/vlm8_moe.yaml
want_rc 0
want_empty_stderr
end

# ---- --format megatron: the Megatron MIMO example's arguments ----

# want_megatron CONFIG LINE: exit 0, stdout exactly LINE (one newline-terminated line),
# nothing on stderr.
want_megatron() {
    run --dry-run --format megatron "$1"
    want_rc 0
    want_empty_stderr
    [ "$(cat "$tmp/out")" = "$2" ] || fail "$1: stdout '$(cat "$tmp/out")'"
    [ "$(wc -l <"$tmp/out")" = 1 ] || fail "$1: not one line"
}
# megatron_refuses CONFIG WHY: exit 2, nothing on stdout, stderr's last line exactly
# "hgrid-launch: CONFIG: --format megatron: WHY".
megatron_refuses() {
    run --dry-run --format megatron "$1"
    want_rc 2
    want_empty_stdout
    [ "$(tail -n 1 "$tmp/err")" = "hgrid-launch: $1: --format megatron: $2" ] ||
        fail "$1: stderr '$(cat "$tmp/err")'"
}

begin megatron_vlm
want_megatron configs/vlm-8gpu-moe.yaml "--encoder-tp 2 --encoder-dp 2 --llm-offset 4 --llm-tp 2 --llm-cp 1 --llm-pp 1 --llm-dp 2 --llm-ep 4 --llm-expt-tp 1 --num-experts 128"
# The same from standard input; --strict changes nothing for a layout the runtime takes.
run --dry-run --strict --format=megatron - <configs/vlm-8gpu-moe.yaml
want_rc 0
[ "$(cat "$tmp/out")" = "--encoder-tp 2 --encoder-dp 2 --llm-offset 4 --llm-tp 2 --llm-cp 1 --llm-pp 1 --llm-dp 2 --llm-ep 4 --llm-expt-tp 1 --num-experts 128" ] ||
    fail "stdin: stdout '$(cat "$tmp/out")'"
end

begin megatron_llm_only
want_megatron configs/llm-only-8gpu.yaml "--llm-only --llm-offset 0 --llm-tp 2 --llm-cp 1 --llm-pp 2 --llm-dp 2 --llm-ep 2 --llm-expt-tp 1 --num-experts 64"
end

begin megatron_without_num_experts
# moe.num_experts not given: no --num-experts; expert tp other than 1 is passed on.
want_megatron tests/golden/vlm8_moe.yaml "--encoder-tp 2 --encoder-dp 2 --llm-offset 4 --llm-tp 2 --llm-cp 1 --llm-pp 1 --llm-dp 2 --llm-ep 4 --llm-expt-tp 1"
want_megatron tests/golden/expert_tp_differs12.yaml "--encoder-tp 1 --encoder-dp 4 --llm-offset 4 --llm-tp 4 --llm-cp 1 --llm-pp 1 --llm-dp 2 --llm-ep 2 --llm-expt-tp 2"
want_megatron configs/smoke-2gpu.yaml "--encoder-tp 1 --encoder-dp 1 --llm-offset 1 --llm-tp 1 --llm-cp 1 --llm-pp 1 --llm-dp 1 --llm-ep 1 --llm-expt-tp 1"
end

begin table_gtp
# GTP in the table: the modules' and ranks' gtp_remat columns, one bridge leader per
# dp x gtp_remat lane (gtp_vlm12: 2 -> 4), and a rank's gtp_remat coordinate.
run --dry-run tests/golden-gtp/gtp_vlm12.yaml
want_rc 0
want_line "$tmp/out" "module               role     ranks              size   tp   cp    dp   pp    ep expert_tp expert_dp gtp_remat expert_gtp_remat"
want_line "$tmp/out" "language             language 4-11                  8    2    1     2    1     2         1         4         2                1"
want_line "$tmp/out" "bridge (leaders per side, one per dp x gtp_remat lane):"
want_line "$tmp/out" "  vision -> language fan-out     2 -> 4     4  [1, 3, 4, 6, 8, 10]"
run --dry-run --rank 6 tests/golden-gtp/gtp_vlm12.yaml
want_rc 0
want_line "$tmp/out" "dense:  tp 0/2  gtp_remat 1/2  cp 0/1  dp 0/2  pp 0/1"
want_line "$tmp/out" "gtp_remat               0     1  [4, 6]"
end

begin megatron_gtp
# Generalized Tensor Parallelism: the MIMO example (examples/mimo/training/args.py,
# resolve_hetero_gtp_degrees) reads the language module's GTP sizes from Megatron's
# --tensor-parallel-num-weight-shards (tp x gtp_remat) and
# --expert-tensor-parallel-num-weight-shards (expert_tp x expert_gtp_remat); its --llm-dp
# leaves GTP out, as hgrid's dp does. Its encoder takes none: refused, with why.
want_megatron tests/golden-gtp/gtp_vlm12.yaml "--encoder-tp 2 --encoder-dp 2 --llm-offset 4 --llm-tp 2 --llm-cp 1 --llm-pp 1 --llm-dp 2 --llm-ep 2 --llm-expt-tp 1 --tensor-parallel-num-weight-shards 4"
want_megatron tests/golden-gtp/gtp_llm_only16.yaml "--llm-only --llm-offset 0 --llm-tp 2 --llm-cp 1 --llm-pp 2 --llm-dp 2 --llm-ep 4 --llm-expt-tp 1 --tensor-parallel-num-weight-shards 4 --expert-tensor-parallel-num-weight-shards 2"
printf 'version: 1\nmodules:\n  - {name: language, role: language, tp: 2, dp: 4, moe: {ep: 2, expert_tp: 2, expert_gtp_remat: 2}}\n' >"$tmp/egtp.yaml"
want_megatron "$tmp/egtp.yaml" "--llm-only --llm-offset 0 --llm-tp 2 --llm-cp 1 --llm-pp 1 --llm-dp 4 --llm-ep 2 --llm-expt-tp 2 --expert-tensor-parallel-num-weight-shards 4"
megatron_refuses tests/golden-gtp/gtp_fanin20.yaml "encoder 'vision' has gtp_remat 2; the Megatron MIMO example takes a Generalized Tensor Parallelism size for the language module only (--tensor-parallel-num-weight-shards), its encoder has none"
end

begin megatron_two_encoders
megatron_refuses configs/two-encoders-14.yaml "2 encoders; the Megatron MIMO example has one"
end

begin megatron_colocated
megatron_refuses configs/colocated-8.yaml "a colocated layout; the Megatron MIMO example places its encoder and language module on disjoint ranks"
end

begin megatron_encoder_pp
# The layout is valid (a warning without --strict), but the example cannot express it.
megatron_refuses tests/golden/bridge_fanin_pp16.yaml "encoder 'vision' has pp = 2; the Megatron MIMO example's encoder has cp = 1 and pp = 1 (tp and dp only)"
[ "$(wc -l <"$tmp/err")" = 2 ] || fail "stderr: not the warning and the error: '$(cat "$tmp/err")'"
end

begin megatron_encoder_cp
# cp > 1 is valid only on an encoder without a bridge.
cat >"$tmp/enc_cp.yaml" <<'EOF'
version: 1
modules:
  - name: vision
    role: encoder
    cp: 2
    pp: 2
    dp: 2
    feeds: []
  - name: language
    role: language
    tp: 2
    dp: 2
EOF
megatron_refuses "$tmp/enc_cp.yaml" "encoder 'vision' has cp = 2 and pp = 2; the Megatron MIMO example's encoder has cp = 1 and pp = 1 (tp and dp only)"
sed -i 's/pp: 2/pp: 1/' "$tmp/enc_cp.yaml"
megatron_refuses "$tmp/enc_cp.yaml" "encoder 'vision' has cp = 2; the Megatron MIMO example's encoder has cp = 1 and pp = 1 (tp and dp only)"
end

begin megatron_encoder_experts
cat >"$tmp/enc_moe.yaml" <<'EOF'
version: 1
modules:
  - name: vision
    role: encoder
    dp: 2
    moe:
      ep: 2
  - name: language
    role: language
    tp: 2
    dp: 2
EOF
megatron_refuses "$tmp/enc_moe.yaml" "encoder 'vision' has experts (moe); the Megatron MIMO example's encoder has none"
end

begin megatron_encoder_feeds_nothing
cat >"$tmp/no_feed.yaml" <<'EOF'
version: 1
modules:
  - name: vision
    role: encoder
    dp: 2
    feeds: []
  - name: language
    role: language
    tp: 2
    dp: 2
EOF
megatron_refuses "$tmp/no_feed.yaml" "encoder 'vision' does not feed language module 'language' (feeds: []); the Megatron MIMO example bridges its encoder to the language module"
end

begin megatron_language_first
cat >"$tmp/lang_first.yaml" <<'EOF'
version: 1
modules:
  - name: language
    role: language
    tp: 2
    dp: 2
  - name: vision
    role: encoder
    tp: 2
    dp: 2
EOF
megatron_refuses "$tmp/lang_first.yaml" "language module 'language' starts at rank 0, not at rank 4 right after encoder 'vision'; the Megatron MIMO example places its encoder at rank 0 and the language module right after it"
end

begin megatron_invalid_config
# An invalid config fails as in every format: its diagnostics, exit 2, no arguments.
run --dry-run --format megatron tests/bad/float.yaml
want_rc 2
want_empty_stdout
want_line "$tmp/err" "tests/bad/float.yaml:5:9: error: dp: expected an integer, got '2.5'"
end

begin megatron_usage
run --dry-run --format megatron --rank 1 configs/vlm-8gpu-moe.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --rank does not apply to --format megatron (its arguments describe the whole layout)" ] ||
    fail "--rank: stderr '$(cat "$tmp/err")'"
run --dry-run --format megatron configs/vlm-8gpu-moe.yaml configs/llm-only-8gpu.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --format megatron takes one config, got 2" ] ||
    fail "two configs: stderr '$(cat "$tmp/err")'"
run --format megatron configs/vlm-8gpu-moe.yaml -- true
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --format applies only to --dry-run" ] ||
    fail "launch: stderr '$(cat "$tmp/err")'"
end

if [ -w /dev/full ]; then
    begin megatron_write_error
    "$L" --dry-run --format megatron configs/vlm-8gpu-moe.yaml >/dev/full 2>"$tmp/err"
    rc=$?
    want_rc 1
    [ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: No space left on device" ] ||
        fail "stderr '$(cat "$tmp/err")'"
    end
fi

# ---- every hostile file ----

declare -A seen=()
while read -r name loc msg; do
    case $name in '#'* | '') continue ;; esac
    f=tests/bad/$name
    begin "bad_${name}_${loc}"
    if [ ! -e "$f" ]; then
        fail "EXPECTED names $f, which does not exist"
        end
        continue
    fi
    seen[$name]=1
    run --dry-run "$f"
    want_rc 2
    want_empty_stdout
    want_line "$tmp/err" "$f:$loc: error: $msg"
    # Every line on stderr is a diagnostic about this file.
    while IFS= read -r l; do
        [[ $l == "$f:"[0-9]*:[0-9]*": error: "* || $l == "$f: error: "* ]] ||
            fail "not a diagnostic of $f: '$l'"
    done <"$tmp/err"
    end
done <tests/bad/EXPECTED

# A file listed more than once holds several problems: every one is reported, each once,
# in file order, so its stderr is exactly its lines of EXPECTED, in their order.
begin bad_files_every_problem_once
for name in $(grep -v '^#' tests/bad/EXPECTED | cut -d' ' -f1 | sort | uniq -d); do
    f=tests/bad/$name
    [ -e "$f" ] || continue
    run --dry-run "$f"
    want_rc 2
    grep -F "$name " tests/bad/EXPECTED | while read -r n loc msg; do
        [ "$n" = "$name" ] || continue
        printf '%s\n' "$f:$loc: error: $msg"
    done >"$tmp/want"
    cmp -s "$tmp/err" "$tmp/want" || fail "$f: stderr '$(cat "$tmp/err")', want '$(cat "$tmp/want")'"
done
end

begin bad_files_all_listed
nfiles=0
for f in tests/bad/*.yaml; do
    nfiles=$((nfiles + 1))
    [ -n "${seen[$(basename "$f")]:-}" ] || fail "$f has no line in tests/bad/EXPECTED"
done
[ "$nfiles" -ge 30 ] || fail "only $nfiles hostile files"
end

# ---- placement check (--gpus-per-node N: nodes of N consecutive ranks) ----

tp8_warn="tests/placement/tp8.yaml:7:9: warning: language: 2 of 2 tp groups span 2 nodes (4 GPUs per node): ranks [0-7] on nodes 0-1, [8-15] on nodes 2-3; tensor parallelism across nodes is slow (it communicates in every layer)"

begin placement_warns
run --dry-run --gpus-per-node 4 tests/placement/tp8.yaml
want_rc 0
want_first_line "$tmp/out" "hgrid plan: 16 ranks, 1 module"
[ "$(cat "$tmp/err")" = "$tp8_warn" ] || fail "stderr '$(cat "$tmp/err")'"
# The plan is the one without the check.
cp "$tmp/out" "$tmp/plan_gpn"
run --dry-run tests/placement/tp8.yaml
cmp -s "$tmp/out" "$tmp/plan_gpn" || fail "the plan differs with --gpus-per-node"
run --dry-run --format json --gpus-per-node=4 tests/placement/tp8.yaml
want_rc 0
[ "$(cat "$tmp/err")" = "$tp8_warn" ] || fail "json: stderr '$(cat "$tmp/err")'"
end

begin placement_strict_fails
run --dry-run --strict --gpus-per-node 4 tests/placement/tp8.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "${tp8_warn/: warning: /: error: }" ] || fail "stderr '$(cat "$tmp/err")'"
end

begin placement_misaligned
run --dry-run --gpus-per-node 4 tests/placement/misaligned.yaml
want_rc 0
want_first_line "$tmp/out" "hgrid plan: 18 ranks, 2 modules"
[ "$(cat "$tmp/err")" = "tests/placement/misaligned.yaml:12:9: warning: language: 4 of 4 tp groups span 2 nodes (4 GPUs per node): ranks [2-5] on nodes 0-1, [6-9] on nodes 1-2, [10-13] on nodes 2-3 and 1 more; tensor parallelism across nodes is slow (it communicates in every layer)" ] ||
    fail "stderr '$(cat "$tmp/err")'"
# Nodes of 6: one group of four is split.
run --dry-run --gpus-per-node 6 tests/placement/misaligned.yaml
want_rc 0
[ "$(cat "$tmp/err")" = "tests/placement/misaligned.yaml:12:9: warning: language: 1 of 4 tp groups span 2 nodes (6 GPUs per node): ranks [10-13] on nodes 1-2; tensor parallelism across nodes is slow (it communicates in every layer)" ] ||
    fail "nodes of 6: stderr '$(cat "$tmp/err")'"
end

begin placement_ep
run --dry-run --gpus-per-node 2 configs/vlm-8gpu-moe.yaml
want_rc 0
[ "$(cat "$tmp/err")" = "configs/vlm-8gpu-moe.yaml:31:11: warning: language: 1 of 1 ep groups span 2 nodes (2 GPUs per node): ranks [4-7] on nodes 2-3; expert parallelism's all-to-all then crosses the network in every MoE layer" ] ||
    fail "stderr '$(cat "$tmp/err")'"
end

begin placement_fits_says_nothing
for args in "--gpus-per-node 8 tests/placement/tp8.yaml" "--gpus-per-node 4 configs/vlm-8gpu-moe.yaml" \
    "--strict --gpus-per-node 4 configs/vlm-8gpu-moe.yaml" "--gpus-per-node 16 configs/vlm-8gpu-moe.yaml" \
    "--gpus-per-node 1024 tests/golden/big128.yaml" "--gpus-per-node 8 tests/golden/big128.yaml"; do
    # shellcheck disable=SC2086
    run --dry-run $args
    want_rc 0
    [ -s "$tmp/out" ] || fail "$args: no plan"
    [ ! -s "$tmp/err" ] || fail "$args: stderr '$(head -c 300 "$tmp/err")'"
done
end

begin placement_bad_gpus_per_node
for v in 0 x -4 ''; do
    run --dry-run --gpus-per-node "$v" tests/placement/tp8.yaml
    want_rc 2
    want_empty_stdout
    [ "$(cat "$tmp/err")" = "hgrid-launch: --gpus-per-node: expected an integer >= 1, got '$v'" ] ||
        fail "'$v': stderr '$(cat "$tmp/err")'"
done
end

# A launch checks the same before anything starts: with --strict it stops there
# (status 2, not the 4 of the missing mpirun behind it).
begin placement_launch
run --strict --gpus-per-node 4 --mpirun "$tmp/no-mpirun" tests/placement/tp8.yaml -- true
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "${tp8_warn/: warning: /: error: }" ] || fail "strict: stderr '$(cat "$tmp/err")'"
run --gpus-per-node 4 --mpirun "$tmp/no-mpirun" tests/placement/tp8.yaml -- true
want_rc 4
want_first_line "$tmp/err" "$tp8_warn"
end


# ---- --format svg: the layout as a picture (tests/svg_test.sh checks the picture) ----

begin svg_help
run --help
want_rc 0
want_line "$tmp/out" "       hgrid-launch --dry-run --format svg [--rank N] [--gpus-per-node N] CONFIG"
want_line "$tmp/out" "  --format table|json|megatron|svg"
want_line "$tmp/out" "                       (and GTP's --*-num-weight-shards);"
want_line "$tmp/out" "                       svg: a picture of the layout (--rank N highlights rank N)"
end

begin svg_usage
run --dry-run --format svg configs/vlm-8gpu-moe.yaml configs/llm-only-8gpu.yaml
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --format svg takes one config, got 2" ] ||
    fail "two configs: stderr '$(cat "$tmp/err")'"
run --dry-run --format=svg --rank 8 configs/vlm-8gpu-moe.yaml
want_rc 2
want_empty_stdout
want_line "$tmp/err" "configs/vlm-8gpu-moe.yaml: error: --rank 8 is outside the world of 8 ranks"
run --format svg configs/vlm-8gpu-moe.yaml -- true
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --format applies only to --dry-run" ] ||
    fail "launch: stderr '$(cat "$tmp/err")'"
run --dry-run --format SVG configs/vlm-8gpu-moe.yaml
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --format: expected table, json, megatron or svg, got 'SVG'" ] ||
    fail "SVG: stderr '$(cat "$tmp/err")'"
end

begin svg_ok
run --dry-run --format svg --rank 5 --gpus-per-node 4 configs/vlm-8gpu-moe.yaml
want_rc 0
want_empty_stderr
want_first_line "$tmp/out" '<?xml version="1.0" encoding="UTF-8"?>'
[ "$(tail -n 1 "$tmp/out")" = "</svg>" ] || fail "last line '$(tail -n 1 "$tmp/out")'"
end

begin svg_invalid_config
run --dry-run --format svg tests/bad/float.yaml
want_rc 2
want_empty_stdout
want_line "$tmp/err" "tests/bad/float.yaml:5:9: error: dp: expected an integer, got '2.5'"
end

# Write errors as in every format: exit 1 and the cause, once.
begin svg_write_error
if [ -w /dev/full ]; then
    "$L" --dry-run --format svg configs/vlm-8gpu-moe.yaml >/dev/full 2>"$tmp/err"
    rc=$?
    want_rc 1
    [ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: No space left on device" ] ||
        fail "full: stderr '$(cat "$tmp/err")'"
fi
"$L" --dry-run --format svg configs/large-1024.yaml 2>"$tmp/err" | head -c1 >/dev/null
rc=${PIPESTATUS[0]}
want_rc 1
[ "$(cat "$tmp/err")" = "hgrid-launch: cannot write the plan: Broken pipe" ] ||
    fail "closed pipe: stderr '$(cat "$tmp/err")'"
end


# --preflight: a launch option with three values; not with --in-process.
begin preflight_errors
run --preflight most tests/golden/vlm8_moe.yaml -- true
want_rc 2
want_empty_stdout
[ "$(cat "$tmp/err")" = "hgrid-launch: --preflight: expected full, world or none, got 'most'" ] ||
    fail "stderr '$(cat "$tmp/err")'"
run --in-process --preflight world tests/golden/vlm8_moe.yaml -- true
want_rc 2
[ "$(cat "$tmp/err")" = "hgrid-launch: --preflight world does not apply to --in-process (the program uses hgrid's communicators, which only the full pre-flight builds)" ] ||
    fail "stderr '$(cat "$tmp/err")'"
run --help
grep -q '^  --preflight full|world|none$' "$tmp/out" || fail "--help has no --preflight"
end

summary
