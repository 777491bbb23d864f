# hgrid build; see README.md.
#   make           the product, in $(BUILD)/ (build/): hgrid-launch, hgrid-agent, libhgrid
#                  (.a, and .so with SONAME libhgrid.so.0) and the example trainer. Needs
#                  no Check: the tests are built by the check targets only.
#   make check     every test, plain and under ASan+UBSan (check-san, in $(BUILD)-san/:
#                  the unit, CLI and SVG tests and a few launches of the launcher).
#                  The integration tests run a test variant of the programs, built in
#                  $(BUILD)/test/ with -DHG_TEST_HOOKS (the HGRID_TEST_* fault hooks);
#                  `make install` never ships it.
#   make install   the product into $(DESTDIR)$(PREFIX): bin/, lib/ (libhgrid.a,
#                  libhgrid.so.X.Y.Z and its links), include/hgrid.h (+ include/hgrid/),
#                  lib/pkgconfig/hgrid.pc.
# Every object depends on one flags stamp, $(BUILD)/flags, rewritten when the compiler
# command changes (CC, MPICC, CFLAGS, CPPFLAGS, LDFLAGS, SANITIZE, NCCL, DEVELOPER, ...),
# so `make CFLAGS=-O0` rebuilds everything, never a mix of flags.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
MPICC ?= mpicc
NCCL ?= 1
CUDA_HOME ?= /usr/local/cuda
SANITIZE ?= 0
# DEVELOPER=1 adds -Werror (git's convention): on in developer and CI builds, off for
# users' compilers. The check targets default to it (`make check` is what CI runs).
ifneq ($(filter check%,$(MAKECMDGOALS)),)
DEVELOPER ?= 1
else
DEVELOPER ?= 0
endif

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif
# Where check-san builds.
SAN_BUILD := $(if $(filter build,$(BUILD)),build-san,$(BUILD)-san)

# The version, x.y.z, from the one place it is written: the HG_VERSION_MAJOR/_MINOR/
# _PATCH macros of include/hgrid/base.h.
VERSION := $(shell for p in MAJOR MINOR PATCH; do \
    sed -n "s/^.define HG_VERSION_$$p \([0-9][0-9]*\).*/\1/p" include/hgrid/base.h \
    | head -n 1; done | paste -s -d .)
ifneq ($(words $(subst ., ,$(VERSION))),3)
$(error cannot read the version x.y.z from include/hgrid/base.h (got '$(VERSION)'))
endif
SO_MAJOR := $(firstword $(subst ., ,$(VERSION)))

CFLAGS ?= -O2 -g
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
# Every object is position-independent (libhgrid.so takes common/ and agent/) and hides
# its symbols: libhgrid.so exports only what the public header marks HG_API.
OBJ_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -fvisibility=hidden
ALL_CFLAGS = $(OBJ_CFLAGS) -Icommon -Iinclude $(CPPFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
CORE_LIBS := -lyaml -ljansson
CHECK_LIBS := -lcheck -lsubunit -lm -lrt -lpthread
# The test variant's extra define.
TEST_DEFS := -DHG_TEST_HOOKS
UNIT_DEFS = -Itests -Ilauncher -DHG_SOURCE_DIR='"$(CURDIR)"'

FLAGS_STAMP := $(BUILD)/flags

# common/stream/ (the output channel both programs run) is not libhgrid's: its own
# library, libhgrid_stream.a, linked into hgrid-launch and hgrid-agent only.
STREAM_SRC := $(wildcard common/stream/*.c)
COMMON_SRC := $(filter-out $(STREAM_SRC),$(wildcard common/*/*.c))
LAUNCHER_SRC := $(wildcard launcher/*.c)

# Per variant (the product in $(BUILD), the test variant in $(BUILD)/test): objects,
# libraries and programs. $(call ..._of,DIR).
common_obj_of = $(COMMON_SRC:%.c=$(1)/%.o)
stream_obj_of = $(STREAM_SRC:%.c=$(1)/%.o)
launcher_obj_of = $(LAUNCHER_SRC:%.c=$(1)/%.o)
core_lib_of = $(1)/lib/libhgrid_core.a
stream_lib_of = $(1)/lib/libhgrid_stream.a
# The launcher's modules without main(), for its unit tests.
launcher_lib_of = $(1)/lib/libhgrid_launcher.a
launch_bin_of = $(1)/bin/hgrid-launch

TEST_BUILD := $(BUILD)/test
COMMON_OBJ := $(call common_obj_of,$(BUILD))
LAUNCHER_OBJ := $(call launcher_obj_of,$(BUILD))
CORE_LIB := $(call core_lib_of,$(BUILD))
STREAM_LIB := $(call stream_lib_of,$(BUILD))
LAUNCHER_LIB := $(call launcher_lib_of,$(BUILD))
LAUNCH_BIN := $(call launch_bin_of,$(BUILD))
TEST_LAUNCH_BIN := $(call launch_bin_of,$(TEST_BUILD))

UNIT_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: all check check-unit check-cli check-svg check-launch check-install check-abi check-valgrind \
    check-cluster check-san install install-launcher clean fuzz bench test-programs
all: $(LAUNCH_BIN)

# $(call core_rules,DIR,DEFS): compile and link rules of common/ and launcher/ for one
# variant.
define core_rules
$(1)/common/%.o: common/%.c $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $(2) -MMD -MP -c $$< -o $$@

$(1)/launcher/%.o: launcher/%.c $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $(2) -MMD -MP -c $$< -o $$@

$(call core_lib_of,$(1)): $(call common_obj_of,$(1))
	@mkdir -p $$(@D)
	rm -f $$@
	ar rcs $$@ $$^

$(call stream_lib_of,$(1)): $(call stream_obj_of,$(1))
	@mkdir -p $$(@D)
	rm -f $$@
	ar rcs $$@ $$^

$(call launcher_lib_of,$(1)): $(filter-out $(1)/launcher/main.o,$(call launcher_obj_of,$(1)))
	@mkdir -p $$(@D)
	rm -f $$@
	ar rcs $$@ $$^

$(call launch_bin_of,$(1)): $(call launcher_obj_of,$(1)) $(call stream_lib_of,$(1)) $(call core_lib_of,$(1)) \
    $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $(call launcher_obj_of,$(1)) $(call stream_lib_of,$(1)) \
	    $(call core_lib_of,$(1)) $$(CORE_LIBS)

-include $(patsubst %.o,%.d,$(call common_obj_of,$(1)) $(call stream_obj_of,$(1)) $(call launcher_obj_of,$(1)))
endef
$(eval $(call core_rules,$(BUILD),))
$(eval $(call core_rules,$(TEST_BUILD),$(TEST_DEFS)))

# Check suites of the product's modules (compiled and linked in one step).
$(BUILD)/tests/test_%: tests/test_%.c $(LAUNCHER_LIB) $(STREAM_LIB) $(CORE_LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(UNIT_DEFS) -MMD -MP -MT $@ -MF $@.d -o $@ $< \
	    $(LAUNCHER_LIB) $(STREAM_LIB) $(CORE_LIB) $(ALL_LDFLAGS) $(CORE_LIBS) $(CHECK_LIBS)
-include $(UNIT_TESTS:=.d)

include agent/agent.mk

# The test variant, for the integration tests: the launcher finds the agent beside it
# and launch_test.sh the trainer, so $(TEST_BUILD)/bin holds all three.
test-programs: $(TEST_LAUNCH_BIN) $(TEST_AGENT_PROGRAMS)

# Each case is held to 5 s of CPU (tests/testutil.h); its wall-clock limit (Check's
# default is 4 s for a case whose suite sets none) only catches a hang, so a loaded
# machine does not fail it.
check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CK_FORK=yes CK_DEFAULT_TIMEOUT=60 $$t; done

check-cli: $(LAUNCH_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) bash tests/cli_test.sh

# The layout picture (--format svg): XML, cells, arrows and highlights against the JSON
# plan, 131,072 ranks in time and size, PNGs through rsvg-convert.
check-svg: $(LAUNCH_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) bash tests/svg_test.sh

check-launch: test-programs
	HGRID_LAUNCH=$(CURDIR)/$(TEST_LAUNCH_BIN) bash tests/launch_test.sh

# Hang types (issue 25): torch gloo ranks on CPU, one hanging each way; the culprit
# named within the stall timeout + 3 s (~70 s; passes, skipped, without torch).
check-hang: test-programs
	HGRID_LAUNCH=$(CURDIR)/$(TEST_LAUNCH_BIN) bash tests/hang_test.sh

# Stragglers (issue 25 item 5): 4 torch gloo ranks, one computing 15% more named, a
# balanced run naming nobody (~2.5 min on a loaded 2-core machine; skipped without torch).
check-straggler: test-programs
	HGRID_LAUNCH=$(CURDIR)/$(TEST_LAUNCH_BIN) bash tests/straggler_test.sh

# The test cluster (scripts/cluster, docs/TESTING.md "Test cluster"): three hosts in namespaces,
# mpirun, hgrid-launch --hostfile and srun across them, partition/kill/slow/revive, and
# down leaving nothing. Needs root; says why and passes where it cannot run (~40 s).
check-cluster: $(LAUNCH_BIN) $(AGENT_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) bash tests/cluster_test.sh

# Memcheck with full leak checking on the dry-run of every config.
check-valgrind: $(LAUNCH_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) scripts/valgrind-dryrun.sh

# The unit, CLI and SVG tests under AddressSanitizer and UndefinedBehaviorSanitizer, and
# the launcher's runtime (channel, output queues, supervisor): a few real launches, one
# of 70 ranks, of the sanitized test variant of hgrid-launch with the plain test agent.
check-san:
	$(MAKE) SANITIZE=1 BUILD=$(SAN_BUILD) DEVELOPER=$(DEVELOPER) check-unit check-cli check-svg \
	    $(SAN_BUILD)/test/bin/hgrid-launch
	$(MAKE) DEVELOPER=$(DEVELOPER) test-programs
	HGRID_LAUNCH=$(CURDIR)/$(SAN_BUILD)/test/bin/hgrid-launch \
	    HGRID_AGENT=$(CURDIR)/$(TEST_BUILD)/bin/hgrid-agent bash tests/san_launch_test.sh

check: check-unit check-cli check-svg check-agent check-launch check-hang check-straggler check-install check-abi check-valgrind check-python \
    check-cluster
	$(MAKE) DEVELOPER=$(DEVELOPER) check-san

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk

bench: $(LAUNCH_BIN)
	scripts/bench-plan

install: install-launcher install-agent install-python
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(AGENT_LIBS)|' hgrid.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hgrid.pc

install-launcher: $(LAUNCH_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(LAUNCH_BIN) $(DESTDIR)$(PREFIX)/bin/

# The Python package (python/: hgrid.plan, hgrid.torch) without torch: hgrid.plan() in
# every rank of real launches of the golden layouts, errors, the torch-free logic of
# hgrid.torch, pip install into a venv offline.
.PHONY: check-python install-python check-hang check-straggler
check-python: $(TEST_LAUNCH_BIN) $(TEST_AGENT_PROGRAMS)
	HGRID_LAUNCH=$(CURDIR)/$(TEST_LAUNCH_BIN) bash tests/python_test.sh

# The Python package's source tree into $(PREFIX)/share/hgrid/python: use it with
# PYTHONPATH=$(PREFIX)/share/hgrid/python, or `pip install $(PREFIX)/share/hgrid/python`.
install-python:
	install -d $(DESTDIR)$(PREFIX)/share/hgrid/python/hgrid
	install -m 644 python/pyproject.toml python/_build_backend.py python/README.md \
	    $(DESTDIR)$(PREFIX)/share/hgrid/python/
	install -m 644 python/hgrid/*.py python/hgrid/py.typed $(DESTDIR)$(PREFIX)/share/hgrid/python/hgrid/

# A fresh build without Check installed into a scratch prefix, what a user of the
# library builds against it, and the flags stamp.
check-install:
	bash tests/install_test.sh

# Programs built against today's and an older installed header run on today's library.
# It installs from $(BUILD), with this build's flags (no rebuild).
check-abi: all
	BUILD=$(BUILD) DEVELOPER=$(DEVELOPER) bash tests/abi_test.sh

clean:
	rm -rf build build-san build-fuzz

# The flags stamp: every compile and link command of this build, and the sources each
# library is made of (a file moved out of common/ must leave libhgrid.so, though no
# object is newer than the library), rewritten (new mtime) only when one changes. Written while the makefile is read, so it is current before
# any rule looks at it.
define FLAGS_TEXT
version $(VERSION)
cc $(CC) $(ALL_CFLAGS)
mpicc $(MPICC) $(AGENT_ALL_CFLAGS)
example $(MPICC) $(EXAMPLE_CFLAGS)
test variant $(TEST_DEFS)
unit tests $(UNIT_DEFS) $(CHECK_LIBS)
link $(ALL_LDFLAGS) $(CORE_LIBS) $(AGENT_LIBS)
so $(SO_LDFLAGS)
sources $(COMMON_SRC) $(STREAM_SRC) $(LAUNCHER_SRC) $(AGENT_LIB_SRC)
endef
ifneq ($(FLAGS_TEXT),$(file <$(FLAGS_STAMP)))
$(shell mkdir -p $(BUILD))
$(file >$(FLAGS_STAMP),$(FLAGS_TEXT))
endif
$(FLAGS_STAMP): ;
