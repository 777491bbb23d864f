# The harness the shell test suites share, sourced from the repository root
# (`. tests/lib.sh`): the pass/fail counters and the lines they print ("ok   NAME",
# "FAIL NAME"), the scratch directory, the last line ("NAME: N passed, M failed") and the
# exit status, and the Open MPI environment of a single machine. What a suite runs and
# how it looks at the result (has, rc_is, count_is, ...) stays in the suite: those differ.

pass=0
failed=0

# say LINE...: one line of the suite's output. A suite that also keeps a log (tests/gpu)
# defines its own before sourcing this file.
declare -F say >/dev/null || say() { echo "$@"; }

ok() { pass=$((pass + 1)); say "ok   $*"; }
bad() { failed=$((failed + 1)); say "FAIL $*"; }

# check NAME COMMAND...: one assertion, COMMAND's status. On failure the suite's
# show_failure, where it defines one, prints what explains it (the last run's output),
# and the status is 1, so `check ... || more detail` runs the detail then only.
check() {
    local name=$1
    shift
    if "$@"; then
        ok "$name"
    else
        bad "$name"
        if declare -F show_failure >/dev/null; then show_failure; fi
        return 1
    fi
}

# Cases of several assertions, counted once (cli_test.sh, svg_test.sh): begin NAME, then
# `fail WHY` for each thing wrong ("FAIL NAME: WHY" on stderr), then end.
case_name='' case_ok=1
begin() { case_name=$1 case_ok=1; }
fail() { case_ok=0; printf 'FAIL %s: %s\n' "$case_name" "$*" >&2; }
end() {
    if [ "$case_ok" = 1 ]; then pass=$((pass + 1)); else failed=$((failed + 1)); fi
}

# suite NAME: the suite's name (its last line's) and T, a fresh scratch directory
# /tmp/hgrid-NAME-test.XXXXXX, which summary removes when nothing failed (kept otherwise,
# to look at).
suite() {
    SUITE=$1
    T=$(mktemp -d "/tmp/hgrid-$1-test.XXXXXX") || exit 1
}

# summary [MORE]: the last line, "NAME: N passed, M failed[ MORE]"; status 0 when nothing
# failed, 1 otherwise: the suite's exit status when it ends with it.
summary() {
    say "$SUITE: $pass passed, $failed failed${1:+ $1}"
    ((failed == 0)) || return 1
    rm -rf "$T"
}

# mpi_env: Open MPI on one machine, for suites that run mpirun: as root, more ranks than
# cores, loopback only, and no complaints about missing high-speed fabrics.
mpi_env() {
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
    export OMPI_MCA_btl_base_warn_component_unused=0
}
