#!/usr/bin/env bash
# The library as a dependency: `make install` to a scratch prefix, then a program built
# against today's installed header (source compatibility), and the same program built
# against an older header whose hg_init_opts lacks its last fields (made here from
# today's by deleting them), both linked with today's libhgrid.so and run on 8 ranks
# under mpirun (MPI backend). They must print the same lines and exit 0: a library
# that read or wrote fields the old program does not have would fail. Also checks the
# installed header is self-contained (compiles alone, in C and C++).
# Prints `abi: N passed, M failed`.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
suite abi
mpi_env
P=$T/prefix
GOLDEN=tests/golden
make -s install PREFIX="$P" BUILD="${BUILD:-build}" >"$T/install.log" 2>&1
check "make install" test $? -eq 0 || tail -20 "$T/install.log"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
FLAGS=$(pkg-config --cflags --libs hgrid)

# The header alone, as the first include, in C and C++.
printf '#include <hgrid.h>\nint main(void) { return hg_version() == 0; }\n' >"$T/alone.c"
# shellcheck disable=SC2086
mpicc -std=c99 -Wall -Wextra -Werror -pedantic -o "$T/alone" "$T/alone.c" $FLAGS >"$T/alone.log" 2>&1
check "hgrid.h compiles alone (C99, -pedantic)" test $? -eq 0 || cat "$T/alone.log"
cp "$T/alone.c" "$T/alone.cc"
# Open MPI 4.1's own C++ bindings (mpi.h pulls them in) fail -Wextra -Werror by themselves.
# shellcheck disable=SC2086
mpicxx -DOMPI_SKIP_MPICXX -Wall -Wextra -Werror -o "$T/alonecc" "$T/alone.cc" $FLAGS >"$T/alonecc.log" 2>&1
check "hgrid.h compiles alone (C++)" test $? -eq 0 || cat "$T/alonecc.log"

# An older header: hg_init_opts without its last two fields.
mkdir -p "$T/old/hgrid"
cp "$P/include/hgrid/base.h" "$T/old/hgrid/"
sed -e '/^    int verbose;$/d' -e '/^    int strict;  /d' \
    -e 's/^#define HG_INIT_OPTS_INIT { sizeof(hg_init_opts), NULL, HG_BACKEND_FROM_CONFIG, 0, NULL, 0, 0 }$/#define HG_INIT_OPTS_INIT { sizeof(hg_init_opts), NULL, HG_BACKEND_FROM_CONFIG, 0, NULL }/' \
    "$P/include/hgrid.h" >"$T/old/hgrid.h"
check "the older header differs only in hg_init_opts" test "$(diff "$P/include/hgrid.h" "$T/old/hgrid.h" | grep -c '^<')" -eq 3

# shellcheck disable=SC2086
mpicc -std=c11 -Wall -Wextra -Werror -o "$T/new" tests/abi/abi_program.c $FLAGS >"$T/new.log" 2>&1
check "program builds against today's header" test $? -eq 0 || cat "$T/new.log"
# shellcheck disable=SC2086
mpicc -std=c11 -Wall -Wextra -Werror -I"$T/old" -o "$T/old.bin" tests/abi/abi_program.c $FLAGS >"$T/oldb.log" 2>&1
check "program builds against the older header" test $? -eq 0 || cat "$T/oldb.log"
sz() { printf '#include <hgrid.h>\n#include <stdio.h>\nint main(void){printf("%%zu\\n", sizeof(hg_init_opts));return 0;}\n' >"$T/sz.c"; mpicc "$@" -o "$T/sz" "$T/sz.c" $FLAGS && LD_LIBRARY_PATH=$P/lib "$T/sz"; }
new_size=$(sz) old_size=$(sz -I"$T/old")
check "the older struct is smaller ($old_size < $new_size bytes)" test "$old_size" -lt "$new_size"

for v in new old; do
  bin=$T/$v; [[ $v == old ]] && bin=$T/old.bin
  HGRID_CONFIG=configs/vlm-8gpu-moe.yaml HGRID_BACKEND=mpi LD_LIBRARY_PATH=$P/lib \
    mpirun -np 8 "$bin" >"$T/$v.out" 2>"$T/$v.err"
  check "$v-header program on today's library: exit 0" test $? -eq 0 || tail -5 "$T/$v.err"
  sort "$T/$v.out" >"$T/$v.sorted"
done
check "both print one line per rank" test "$(grep -c '^abi: rank' "$T/new.sorted")" -eq 8
check "both print the same" cmp -s "$T/new.sorted" "$T/old.sorted" || diff "$T/new.sorted" "$T/old.sorted" | head
check "rank 5: language, tp group [4..5], sum 11" grep -q '^abi: rank 5/8 language (language) module rank 1/4 tp 1/2 group 2 \[4..5\] sum 11 lib ' "$T/new.sorted"

# The previous release's header (tests/abi/prev: include/ as it was before issue 20
# appended the gtp_remat dims and the five GTP kinds): a program built against it runs on
# today's library, on a layout without GTP and on one with it, and prints what the same
# program built against today's header prints. Existing hg_kind and hg_dim values kept
# their numbers, so the old program's HG_KIND_TP is the library's.
# shellcheck disable=SC2086
mpicc -std=c11 -Wall -Wextra -Werror -Itests/abi/prev -o "$T/prev.bin" tests/abi/abi_program.c $FLAGS >"$T/prev.log" 2>&1
check "program builds against the previous release's header" test $? -eq 0 || cat "$T/prev.log"
check "the previous header lacks the GTP kinds and dims" bash -c "! grep -q GTP_REMAT tests/abi/prev/hgrid/base.h && grep -q GTP_REMAT '$P/include/hgrid/base.h'"
check "the previous header's kinds are today's first ones, in order" cmp -s \
  <(sed -n 's/^ *X(\([A-Z_]*\), [a-z_]*).*/\1/p' tests/abi/prev/hgrid/base.h) \
  <(sed -n 's/^ *X(\([A-Z_]*\), [a-z_]*).*/\1/p' "$P/include/hgrid/base.h" | head -n "$(grep -c '^ *X([A-Z_]*, [a-z_]*)' tests/abi/prev/hgrid/base.h)")
for cfg in configs/vlm-8gpu-moe.yaml tests/golden-gtp/gtp_colocated8.yaml; do
  for v in new prev; do
    bin=$T/$v; [[ $v == prev ]] && bin=$T/prev.bin
    HGRID_CONFIG=$cfg HGRID_BACKEND=mpi LD_LIBRARY_PATH=$P/lib \
      mpirun -np 8 "$bin" >"$T/$v.gtp.out" 2>"$T/$v.gtp.err"
    check "$v-header program on today's library ($cfg): exit 0" test $? -eq 0 || tail -5 "$T/$v.gtp.err"
    sort "$T/$v.gtp.out" >"$T/$v.gtp.sorted"
  done
  check "previous and today's header print the same ($cfg)" cmp -s "$T/new.gtp.sorted" "$T/prev.gtp.sorted" || diff "$T/new.gtp.sorted" "$T/prev.gtp.sorted" | head
  check "one line per rank ($cfg)" test "$(grep -c '^abi: rank' "$T/prev.gtp.sorted")" -eq 8
done

# The topology API (bridges, colocated modules), through the installed header: the
# example trainer reduces over every module's communicators and prints each bridge role.
# shellcheck disable=SC2086
mpicc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$T/trainer" examples/trainer.c $FLAGS >"$T/tr.log" 2>&1
check "trainer builds against the installed header" test $? -eq 0 || cat "$T/tr.log"
LD_LIBRARY_PATH=$P/lib mpirun -np 14 "$T/trainer" --backend mpi tests/golden/two_encoders14.yaml >"$T/two.out" 2>"$T/two.err"
check "two encoders: exit 0, all kinds ok on 14 ranks" test $? -eq 0 -a "$(grep -c 'done: .* all kinds ok' "$T/two.out")" -eq 14 || tail -5 "$T/two.err"
# What each rank must say of each bridge, from the golden file (Megatron's own map).
python3 - "$GOLDEN/two_encoders14.json" >"$T/two.want" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
for b in g["bridges"]:
    for side, leaders, groups in (("src", b["src_leaders"], b["src_broadcast"]),
                                  ("dest", b["dest_leaders"], b["dest_broadcast"])):
        for leader, group in zip(leaders, groups):
            for r in group:
                if r != leader:
                    role, peers = "member", []
                elif side == "src":
                    role, peers = "sender", [d for s, d in b["links"] if s == r]
                else:
                    role, peers = "receiver", [s for s, d in b["links"] if d == r]
                print("trainer: rank %d bridge %s -> %s: %s, leader %d, peers [%s], broadcast [%s]"
                      % (r, b["src"], b["dest"], role, leader, ", ".join(map(str, sorted(peers))),
                         ", ".join(map(str, group))))
PY
check "two encoders: every rank's bridge roles equal the golden file's" \
  cmp -s <(sort "$T/two.want") <(grep ' bridge ' "$T/two.out" | sort) || diff <(sort "$T/two.want") <(grep ' bridge ' "$T/two.out" | sort) | head
LD_LIBRARY_PATH=$P/lib mpirun -np 8 "$T/trainer" --backend mpi tests/golden/colocated8.yaml >"$T/co.out" 2>"$T/co.err"
check "colocated: exit 0, all kinds ok on 8 ranks" test $? -eq 0 -a "$(grep -c 'done: .* all kinds ok' "$T/co.out")" -eq 8 || tail -5 "$T/co.err"
modules=$(python3 -c "import json; print(' '.join(m['name'] for m in json.load(open('$GOLDEN/colocated8.json'))['modules']))")
for m in $modules; do
  check "colocated: rank 3 reduces over $m's own groups" grep -q "^trainer: rank 3 $m tp: sum [0-9]* expected [0-9]* ok$" "$T/co.out"
done
check "colocated: no bridges" bash -c "! grep -q ' bridge ' '$T/co.out'"

summary
