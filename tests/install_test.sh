#!/usr/bin/env bash
# `make install` into a scratch prefix, then what a user of the library does: build the
# example trainer from its source against the installed header and library through
# pkg-config, and run it under mpirun (MPI backend). Also checks the installed
# binaries run. Prints `install: N passed, M failed`.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/hgrid-install-test.XXXXXX)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0
fail=0
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
P=$T/prefix
make -s install PREFIX="$P" >"$T/install.log" 2>&1; rc=$?
check "make install: exit 0" test "$rc" -eq 0 || tail -20 "$T/install.log"
for f in bin/hgrid-launch bin/hgrid-agent include/hgrid/hgrid.h include/hgrid/layout.h \
         lib/libhgrid.a lib/libhgrid.so lib/pkgconfig/hgrid.pc; do
  check "installed $f" test -s "$P/$f"
done
"$P/bin/hgrid-launch" --version >"$T/v.out" 2>&1
check "installed hgrid-launch --version" grep -qE '^hgrid-launch [0-9]+\.[0-9]+\.[0-9]+$' "$T/v.out"
"$P/bin/hgrid-launch" --dry-run configs/vlm-8gpu-moe.yaml >"$T/dry.out" 2>&1
check "installed hgrid-launch --dry-run" grep -q '^language .* 4-7 ' "$T/dry.out"

export PKG_CONFIG_PATH=$P/lib/pkgconfig
# shellcheck disable=SC2046
mpicc -std=c11 -D_GNU_SOURCE -o "$T/trainer" examples/trainer.c $(pkg-config --cflags --libs hgrid) \
  >"$T/cc.log" 2>&1; rc=$?
check "trainer builds against the installed library via pkg-config" test "$rc" -eq 0 || cat "$T/cc.log"
LD_LIBRARY_PATH=$P/lib mpirun -np 8 "$T/trainer" --backend mpi configs/vlm-8gpu-moe.yaml \
  >"$T/run.out" 2>"$T/run.err"; rc=$?
check "installed trainer under mpirun: exit 0" test "$rc" -eq 0 || tail -5 "$T/run.err"
check "installed trainer: all kinds ok on 8 ranks" test "$(grep -c 'done: .* all kinds ok' "$T/run.out")" -eq 8
# The standalone launcher finds the agent installed beside it.
env -u HGRID_AGENT "$P/bin/hgrid-launch" --backend mpi configs/vlm-8gpu-moe.yaml -- true \
  >"$T/launch.out" 2>"$T/launch.err"; rc=$?
check "installed hgrid-launch finds its agent and launches" test "$rc" -eq 0 || tail -5 "$T/launch.err"

echo "install: $pass passed, $fail failed"
[[ $fail -eq 0 ]] && rm -rf "$T"
[[ $fail -eq 0 ]]
