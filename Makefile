# hgrid build. `make` builds everything (the NCCL backend too, unless NCCL=0);
# `make check` runs every test, plain and under ASan+UBSan; see README.md.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
MPICC ?= mpicc
NCCL ?= 1
CUDA_HOME ?= /usr/local/cuda
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif

CFLAGS ?= -O2 -g
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -Icommon -Iinclude $(CPPFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
CORE_LIBS := -lyaml -ljansson
CHECK_LIBS := -lcheck -lsubunit -lm -lrt -lpthread

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LAUNCHER_SRC := $(wildcard launcher/*.c)
LAUNCHER_OBJ := $(LAUNCHER_SRC:%.c=$(BUILD)/%.o)

CORE_LIB := $(BUILD)/lib/libhgrid_core.a
# The launcher's modules without main(), for its unit tests.
LAUNCHER_LIB := $(BUILD)/lib/libhgrid_launcher.a
LAUNCH_BIN := $(BUILD)/bin/hgrid-launch

UNIT_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: all check check-unit check-cli check-launch check-install check-valgrind check-san install clean fuzz bench
all: $(LAUNCH_BIN) $(UNIT_TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(CORE_LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LAUNCHER_LIB): $(filter-out $(BUILD)/launcher/main.o,$(LAUNCHER_OBJ))
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LAUNCH_BIN): $(LAUNCHER_OBJ) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(LAUNCHER_OBJ) $(CORE_LIB) $(CORE_LIBS)

$(BUILD)/tests/test_%: tests/test_%.c $(LAUNCHER_LIB) $(CORE_LIB) tests/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Ilauncher -DHG_SOURCE_DIR='"$(CURDIR)"' -o $@ $< \
	    $(LAUNCHER_LIB) $(CORE_LIB) $(ALL_LDFLAGS) $(CORE_LIBS) $(CHECK_LIBS)

include agent/agent.mk

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CK_FORK=yes $$t; done

check-cli: $(LAUNCH_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) bash tests/cli_test.sh

check-launch: all
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) bash tests/launch_test.sh

# Memcheck with full leak checking on the dry-run of every config.
check-valgrind: $(LAUNCH_BIN)
	HGRID_LAUNCH=$(CURDIR)/$(LAUNCH_BIN) scripts/valgrind-dryrun.sh

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer, in build-san/.
check-san:
	$(MAKE) SANITIZE=1 check-unit check-cli

check: check-unit check-cli check-agent check-launch check-install check-valgrind
	$(MAKE) check-san

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk

bench: $(LAUNCH_BIN)
	scripts/bench-plan

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/hgrid \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(LAUNCH_BIN) $(DESTDIR)$(PREFIX)/bin/
	$(MAKE) install-agent
	install -m 644 common/*.h $(DESTDIR)$(PREFIX)/include/hgrid/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/.*HG_VERSION "\(.*\)"/\1/p' common/version.h)|' \
	    -e 's|@LIBS_PRIVATE@|$(CORE_LIBS) $(AGENT_LIBS)|' hgrid.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hgrid.pc

# Installs into a scratch prefix and builds and runs the example trainer against it.
check-install:
	bash tests/install_test.sh

clean:
	rm -rf build build-san build-fuzz

-include $(COMMON_OBJ:.o=.d) $(LAUNCHER_OBJ:.o=.d)
