#!/usr/bin/env bash
# `make install` as a user does it: a fresh build (its own build directory, default
# flags, no DEVELOPER) into a scratch prefix, on a machine without Check (a check.h that
# stops any compile including it, Check libraries that do not exist). Then:
#   - the layout: bin/, lib/libhgrid.{a,so,so.0,so.X.Y.Z}, include/hgrid.h and its
#     include/hgrid/ parts (exactly the source tree's include/), hgrid.pc; no internal
#     header, no libhgrid_core.a;
#   - the library as a dependency: SONAME libhgrid.so.0, `nm -D` lists exactly the
#     functions the installed headers declare HG_API, no HGRID_TEST_ hook in any
#     installed file (and some in the test variant, so the search means something),
#     hgrid.pc (Cflags, Requires.private), a program including <error.h> and <hgrid.h>
#     that calls glibc's error(), the example trainer built through pkg-config and run
#     under mpirun, the installed launcher finding its agent;
#   - the flags stamp: the same make again compiles nothing, `make CFLAGS=-O0 -g`
#     recompiles every object (product and test variant); the check targets build with
#     -Werror, a user's build without.
# Prints `install: N passed, M failed`.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
suite install
mpi_env
# The builds here are a user's: not the make that runs this test (its MAKEFLAGS,
# DEVELOPER and build directory stay out).
umake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u DEVELOPER make -j"$(nproc)" "$@"; }
B=$T/build
P=$T/prefix
mkdir -p "$T/nocheck"
printf '#error "a product build must not need Check"\n' >"$T/nocheck/check.h"
ARGS=(BUILD="$B" "CPPFLAGS=-I$T/nocheck ${CPPFLAGS:-}" CHECK_LIBS=-lhgrid-no-such-check)

umake install PREFIX="$P" "${ARGS[@]}" >"$T/install.log" 2>&1; rc=$?
check "make install without Check: exit 0" test "$rc" -eq 0 || tail -20 "$T/install.log"
check "make install compiled something" grep -qE ' -c common/grid/config\.c ' "$T/install.log"
check "make install builds no test (no tests/test_*, no Check library)" \
  bash -c "! grep -E 'tests/test_|hgrid-no-such-check|check\.h' '$T/install.log'"
check "a user's build: no -Werror" bash -c "! grep -E ' -c .* -Werror|-Werror .* -c ' '$T/install.log'"
check "every object is built with -fvisibility=hidden" \
  bash -c "! grep -E ' -c ' '$T/install.log' | grep -v -e -fvisibility=hidden"

# --- layout -------------------------------------------------------------------------
version=$("$P/bin/hgrid-launch" --version 2>&1 | sed -n 's/^hgrid-launch \([0-9]*\.[0-9]*\.[0-9]*\)$/\1/p')
check "installed hgrid-launch --version: x.y.z" test -n "$version"
for f in bin/hgrid-launch bin/hgrid-agent include/hgrid.h lib/libhgrid.a "lib/libhgrid.so.$version" \
         lib/pkgconfig/hgrid.pc; do
  check "installed $f" test -s "$P/$f"
done
check "lib/libhgrid.so.0 -> libhgrid.so.$version" test "$(readlink "$P/lib/libhgrid.so.0")" = "libhgrid.so.$version"
check "lib/libhgrid.so -> libhgrid.so.0" test "$(readlink "$P/lib/libhgrid.so")" = libhgrid.so.0
(cd include && find . -type f -name '*.h' | sort) >"$T/headers.want"
(cd "$P/include" && find . | sort | grep -v '^\.$' | grep -v '^\./hgrid$') >"$T/headers.got"
check "include/ holds exactly the public headers (hgrid.h, hgrid/*.h)" cmp -s "$T/headers.want" "$T/headers.got" \
  || diff "$T/headers.want" "$T/headers.got"
for h in error.h config.h layout.h protocol.h agent.h; do
  check "internal $h is not installed" bash -c "! find '$P' -name '$h' | grep -q ."
done
(cd "$P/lib" && find . | sort) >"$T/lib.got"
printf '%s\n' . ./libhgrid.a ./libhgrid.so ./libhgrid.so.0 "./libhgrid.so.$version" ./pkgconfig \
  ./pkgconfig/hgrid.pc | sort >"$T/lib.want"
check "lib/ holds libhgrid and hgrid.pc only" cmp -s "$T/lib.want" "$T/lib.got" || diff "$T/lib.want" "$T/lib.got"

# --- the library as a dependency ------------------------------------------------------
SO=$P/lib/libhgrid.so.$version
check "readelf -d: SONAME libhgrid.so.0" bash -c "readelf -d '$SO' | grep -qF '(SONAME)             Library soname: [libhgrid.so.0]'"
# HG_API declarations of the installed headers: the name before the first '(' of each.
perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
  while (/^\s*HG_API\b([^;(]*)\(/mg) { my $d = $1; print "$1\n" if $d =~ /(\w+)\s*$/ }' \
  "$P/include/hgrid.h" $(find "$P/include/hgrid" -name '*.h' 2>/dev/null) | sort -u >"$T/api.want"
nm -D --defined-only "$SO" | awk '{ print $NF }' | sort -u >"$T/api.got"
check "the headers declare an API ($(wc -l <"$T/api.want") HG_API functions)" test -s "$T/api.want"
check "nm -D --defined-only: exactly the HG_API functions" cmp -s "$T/api.want" "$T/api.got" \
  || { echo "    < declared HG_API, not exported; > exported, not declared"; diff "$T/api.want" "$T/api.got" | grep '^[<>]' | sed 's/^/    /'; }
# The layout picture is the dry run's (launcher/svg.c), not a trainer's: no symbol of it
# and none of its text in the library. hgrid-launch has both, so the search means something.
check "nm: the library has its internal symbols (hg_plan_write_json_named)" \
  bash -c "nm '$SO' | grep -q ' t hg_plan_write_json_named$'"
check "nm, ar t: no svg symbol or object in libhgrid.so or libhgrid.a" \
  bash -c "! nm '$SO' | grep -i svg && ! nm '$P/lib/libhgrid.a' 2>/dev/null | grep -i svg && ! ar t '$P/lib/libhgrid.a' | grep -i svg" \
  || nm "$SO" | grep -i svg | head -3 | sed 's/^/    /'
check "strings: no SVG namespace in libhgrid.so or libhgrid.a, one in hgrid-launch" \
  bash -c "! strings -a '$SO' '$P/lib/libhgrid.a' | grep -q 'www.w3.org/2000/svg' && strings -a '$P/bin/hgrid-launch' | grep -q 'www.w3.org/2000/svg'"
# The output channel (common/stream/: libhgrid_stream.a) is the launcher's and the
# collector's, not a trainer's: none of it in the library, all of it in both programs.
stream_syms='^hg_(iochan|outq|evloop|progress)_'
check "nm, ar t: no output channel symbol or object in libhgrid.so or libhgrid.a" \
  bash -c "! nm '$SO' | awk '{ print \$NF }' | grep -qE '$stream_syms' && ! nm '$P/lib/libhgrid.a' 2>/dev/null | awk '{ print \$NF }' | grep -qE '$stream_syms' && ! ar t '$P/lib/libhgrid.a' | grep -qE '^(iochan|outq|evloop|progress)\.o$'" \
  || nm "$SO" | awk '{ print $NF }' | grep -E "$stream_syms" | head -3 | sed 's/^/    /'
check "nm: hgrid-launch and hgrid-agent have the output channel (hg_iochan_listen)" \
  bash -c "nm '$P/bin/hgrid-launch' | grep -q ' hg_iochan_listen$' && nm '$P/bin/hgrid-agent' | grep -q ' hg_iochan_listen$'"
hooks=$(cd "$P" && for f in $(find bin lib -maxdepth 1 -type f | sort); do
  strings -a "$f" | grep -q HGRID_TEST_ && echo "$f"; done | xargs)
check "strings: no HGRID_TEST_ in any installed binary or library" test -z "$hooks" || echo "    in: $hooks"

export PKG_CONFIG_PATH=$P/lib/pkgconfig
check "pkg-config --cflags hgrid: -I<prefix>/include" test "$(pkg-config --cflags hgrid | xargs)" = "-I$P/include"
check "pkg-config --libs hgrid: -L<prefix>/lib -lhgrid" test "$(pkg-config --libs hgrid | xargs)" = "-L$P/lib -lhgrid"
check "pkg-config: Requires.private yaml-0.1 jansson" \
  test "$(pkg-config --print-requires-private hgrid | awk '{ print $1 }' | sort | xargs)" = "jansson yaml-0.1"
check "pkg-config --static --libs: libyaml, jansson" bash -c "pkg-config --static --libs hgrid | grep -- -lyaml | grep -q -- -ljansson"
check "pkg-config --modversion: $version" test "$(pkg-config --modversion hgrid)" = "$version"

# glibc's <error.h> next to <hgrid.h>: nothing of hgrid's may shadow a system header.
cat >"$T/errprog.c" <<'EOF'
#include <error.h>
#include <hgrid.h>
#include <stdio.h>

int main(void)
{
    error(0, 0, "x");
    printf("%s %s\n", hg_version_string(), hg_strerror(HG_EINVAL));
    return 0;
}
EOF
# shellcheck disable=SC2046
mpicc -Wall -Werror=implicit-function-declaration -o "$T/errprog" "$T/errprog.c" $(pkg-config --cflags --libs hgrid) \
  >"$T/errprog.log" 2>&1; rc=$?
check "<error.h> and <hgrid.h>: builds with pkg-config --cflags --libs hgrid" test "$rc" -eq 0 || cat "$T/errprog.log"
LD_LIBRARY_PATH=$P/lib "$T/errprog" >"$T/errprog.out" 2>"$T/errprog.err"; rc=$?
check "<error.h> program runs: glibc's error() printed 'x'" bash -c "[[ $rc -eq 0 ]] && grep -q ': x$' '$T/errprog.err'" \
  || cat "$T/errprog.err"
check "hg_version_string() is the installed version $version" grep -q "^$version " "$T/errprog.out" \
  || cat "$T/errprog.out"

# shellcheck disable=SC2046
mpicc -std=c11 -D_GNU_SOURCE -o "$T/trainer" examples/trainer.c $(pkg-config --cflags --libs hgrid) \
  >"$T/cc.log" 2>&1; rc=$?
check "trainer builds against the installed library via pkg-config" test "$rc" -eq 0 || cat "$T/cc.log"
LD_LIBRARY_PATH=$P/lib mpirun -np 8 "$T/trainer" --backend mpi configs/vlm-8gpu-moe.yaml \
  >"$T/run.out" 2>"$T/run.err"; rc=$?
check "installed trainer under mpirun: exit 0" test "$rc" -eq 0 || tail -5 "$T/run.err"
check "installed trainer: all kinds ok on 8 ranks" test "$(grep -c 'done: .* all kinds ok' "$T/run.out")" -eq 8
"$P/bin/hgrid-launch" --dry-run configs/vlm-8gpu-moe.yaml >"$T/dry.out" 2>&1
check "installed hgrid-launch --dry-run" grep -q '^language .* 4-7 ' "$T/dry.out"
# The standalone launcher finds the agent installed beside it.
env -u HGRID_AGENT "$P/bin/hgrid-launch" --backend mpi configs/vlm-8gpu-moe.yaml -- true \
  >"$T/launch.out" 2>"$T/launch.err"; rc=$?
check "installed hgrid-launch finds its agent and launches" test "$rc" -eq 0 || tail -5 "$T/launch.err"

# --- the flags stamp --------------------------------------------------------------------
umake all test-programs "${ARGS[@]}" >"$T/tp.log" 2>&1; rc=$?
check "test variant builds (make test-programs)" test "$rc" -eq 0 || tail -20 "$T/tp.log"
check "the test variant has the hooks (strings finds HGRID_TEST_ in $B/test/bin/hgrid-agent)" \
  bash -c "strings -a '$B/test/bin/hgrid-agent' | grep -q HGRID_TEST_"
umake all test-programs "${ARGS[@]}" >"$T/again.log" 2>&1
check "make again, same flags: nothing compiled" bash -c "! grep -E ' -c ' '$T/again.log'" || head -5 "$T/again.log"
touch "$T/marker"
umake all test-programs "${ARGS[@]}" CFLAGS="-O0 -g" >"$T/o0.log" 2>&1; rc=$?
nobj=$(find "$B" -name '*.o' | wc -l)
stale=$(find "$B" \( -name '*.o' -o -path '*/bin/*' -o -name '*.a' -o -name 'libhgrid.so.*.*.*' \) ! -newer "$T/marker")
check "make CFLAGS='-O0 -g': exit 0" test "$rc" -eq 0 || tail -20 "$T/o0.log"
check "make CFLAGS='-O0 -g': all $nobj objects, libraries and programs rebuilt" test -z "$stale" \
  || echo "$stale" | sed 's/^/    not rebuilt: /'
check "make CFLAGS='-O0 -g': every compile has -O0" bash -c "! grep -E ' -c ' '$T/o0.log' | grep -v -e '-O0 -g'"
# The check targets default to DEVELOPER=1 (-Werror), a plain build to DEVELOPER=0.
umake -n check-unit BUILD="$T/dev" >"$T/dev.log" 2>&1
check "make check-unit compiles with -Werror" grep -qE -- '-Werror .* -c common/grid/config\.c' "$T/dev.log"

summary
