# Agent build rules (MPI, NCCL, CUDA), included by the top Makefile. For each variant
# (the product in $(BUILD), the test variant in $(BUILD)/test) it builds bin/hgrid-agent,
# libhgrid (.a, and .so with SONAME libhgrid.so.MAJOR: common + agent, for in-process
# trainers, header include/hgrid.h) and the example trainer, linked with that variant's
# libhgrid.so (rpath $ORIGIN/../lib); the test variant also the programs in tests/progs.
# The NCCL backend is built when nccl.h and cuda_runtime.h are found (in
# $(CUDA_HOME)/include or /usr/include); `make NCCL=0` leaves it out, and so does a
# default build on a machine without them (with a notice), while an explicit `make
# NCCL=1` there is an error.

AGENT_NCCL := 0
ifeq ($(NCCL),1)
ifneq ($(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h),)
ifneq ($(wildcard $(CUDA_HOME)/include/cuda_runtime.h),)
AGENT_NCCL := 1
endif
endif
ifeq ($(AGENT_NCCL),0)
ifeq ($(origin NCCL),command line)
$(error agent: NCCL=1, but nccl.h or cuda_runtime.h is missing from $(CUDA_HOME)/include and /usr/include)
endif
$(info agent: no nccl.h/cuda_runtime.h under $(CUDA_HOME)/include or /usr/include: building without the NCCL backend, as NCCL=0)
endif
endif

NCCL_CFLAGS :=
NCCL_LIBS :=
ifeq ($(AGENT_NCCL),1)
NCCL_CFLAGS := -DHG_HAVE_NCCL=1 -I$(CUDA_HOME)/include
# libnccl may live in $(CUDA_HOME)/lib64 or in the system library directory.
NCCL_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lnccl -lcudart
endif
AGENT_LIBS := -lpthread $(NCCL_LIBS)
# The collector's process (agent/collector_main.c, hgrid-agent only) runs the output
# channel and queues of common/stream/, linked from libhgrid_stream.a, never libhgrid.
AGENT_ALL_CFLAGS = $(ALL_CFLAGS) -Iagent $(NCCL_CFLAGS)
# The example sees what a user of the installed library sees: include/ only.
EXAMPLE_CFLAGS = $(OBJ_CFLAGS) -Iinclude $(NCCL_CFLAGS) $(CPPFLAGS)

SO_NAME := libhgrid.so.$(SO_MAJOR)
SO_FILE := libhgrid.so.$(VERSION)
SO_LDFLAGS := -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined

AGENT_LIB_SRC := agent/agent.c agent/api.c agent/backend.c agent/bootstrap.c agent/verify.c \
    agent/bridges.c agent/readiness.c agent/watchdog.c agent/handoff.c agent/backend_mpi.c agent/status.c \
    agent/relay.c agent/keeper.c agent/collector.c
ifeq ($(AGENT_NCCL),1)
AGENT_LIB_SRC += agent/backend_nccl.c
endif
PUBLIC_HEADER := include/hgrid.h
PUBLIC_SUBHEADERS := $(wildcard include/hgrid/*.h)

# $(call ..._of,DIR) as in the Makefile.
agent_obj_of = $(AGENT_LIB_SRC:%.c=$(1)/%.o)
agent_a_of = $(1)/lib/libhgrid.a
agent_so_of = $(1)/lib/libhgrid.so
agent_bin_of = $(1)/bin/hgrid-agent
trainer_of = $(1)/bin/hgrid-example-trainer
lib_obj_of = $(call common_obj_of,$(1)) $(call agent_obj_of,$(1))
agent_programs_of = $(call agent_bin_of,$(1)) $(call agent_a_of,$(1)) $(call agent_so_of,$(1)) \
    $(call trainer_of,$(1))
test_progs_of = $(patsubst tests/progs/%.c,$(1)/tests/progs/%,$(wildcard tests/progs/*.c))

AGENT_OBJ := $(call agent_obj_of,$(BUILD))
AGENT_A := $(call agent_a_of,$(BUILD))
AGENT_SO := $(call agent_so_of,$(BUILD))
AGENT_BIN := $(call agent_bin_of,$(BUILD))
EXAMPLE_TRAINER := $(call trainer_of,$(BUILD))
TEST_AGENT_PROGRAMS := $(call agent_programs_of,$(TEST_BUILD)) $(call test_progs_of,$(TEST_BUILD))

# $(call agent_rules,DIR,DEFS)
define agent_rules
$(1)/agent/%.o: agent/%.c $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(MPICC) $$(AGENT_ALL_CFLAGS) $(2) -MMD -MP -c $$< -o $$@

$(1)/examples/%.o: examples/%.c $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(MPICC) $$(EXAMPLE_CFLAGS) $(2) -MMD -MP -c $$< -o $$@

$(call agent_a_of,$(1)): $(call lib_obj_of,$(1))
	@mkdir -p $$(@D)
	rm -f $$@
	ar rcs $$@ $$^

$(1)/lib/$(SO_FILE): $(call lib_obj_of,$(1)) $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(MPICC) $$(SO_LDFLAGS) $$(ALL_LDFLAGS) -o $$@ $(call lib_obj_of,$(1)) $$(CORE_LIBS) $$(AGENT_LIBS)

$(1)/lib/$(SO_NAME): $(1)/lib/$(SO_FILE)
	ln -sf $(SO_FILE) $$@

$(call agent_so_of,$(1)): $(1)/lib/$(SO_NAME)
	ln -sf $(SO_NAME) $$@

$(call agent_bin_of,$(1)): $(1)/agent/main.o $(1)/agent/collector_main.o $(call agent_a_of,$(1)) \
    $(call stream_lib_of,$(1)) $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(MPICC) $$(ALL_LDFLAGS) -o $$@ $(1)/agent/main.o $(1)/agent/collector_main.o \
	    $(call stream_lib_of,$(1)) $(call agent_a_of,$(1)) $$(CORE_LIBS) $$(AGENT_LIBS)

$(call trainer_of,$(1)): $(1)/examples/trainer.o $(call agent_so_of,$(1)) $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(MPICC) $$(ALL_LDFLAGS) -o $$@ $(1)/examples/trainer.o -L$(1)/lib -lhgrid \
	    -Wl,-rpath,'$$$$ORIGIN/../lib' $$(NCCL_LIBS)

# Small programs the agent tests exec (plain C, no MPI).
$(1)/tests/progs/%: tests/progs/%.c $(call core_lib_of,$(1)) $$(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $(2) -MMD -MP -MT $$@ -MF $$@.d -o $$@ $$< $(call core_lib_of,$(1)) \
	    $$(ALL_LDFLAGS) $$(CORE_LIBS)

-include $(patsubst %.o,%.d,$(call agent_obj_of,$(1)) $(1)/agent/main.o $(1)/agent/collector_main.o \
    $(1)/examples/trainer.o)
-include $(addsuffix .d,$(call test_progs_of,$(1)))
endef
$(eval $(call agent_rules,$(BUILD),))
$(eval $(call agent_rules,$(TEST_BUILD),$(TEST_DEFS)))

all: $(call agent_programs_of,$(BUILD))

.PHONY: check-agent install-agent
check-agent: $(TEST_AGENT_PROGRAMS) $(TEST_LAUNCH_BIN)
	HGRID_BUILD=$(CURDIR)/$(TEST_BUILD) bash tests/agent_test.sh

# The product only; the public header goes to include/ (its own parts to include/hgrid/,
# which is never on a user's -I path); hgrid's internal headers are not installed.
install-agent: $(AGENT_BIN) $(AGENT_A) $(AGENT_SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/hgrid
	install -m 755 $(AGENT_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(AGENT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/lib/$(SO_FILE) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(SO_FILE) $(DESTDIR)$(PREFIX)/lib/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(PREFIX)/lib/libhgrid.so
	install -m 644 $(PUBLIC_HEADER) $(DESTDIR)$(PREFIX)/include/
	$(if $(PUBLIC_SUBHEADERS),install -m 644 $(PUBLIC_SUBHEADERS) $(DESTDIR)$(PREFIX)/include/hgrid/)
