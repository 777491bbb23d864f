# Agent build rules (MPI, NCCL, CUDA), included by the top Makefile.
# Builds build/bin/hgrid-agent, libhgrid (.a and .so: common + agent, for in-process
# trainers, header include/hgrid.h) and the example trainer. The NCCL backend is built
# when nccl.h and cuda_runtime.h are found (in $(CUDA_HOME)/include or /usr/include);
# `make NCCL=0` leaves it out, and so does a default build on a machine without them
# (with a notice), while an explicit `make NCCL=1` there is an error.

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

AGENT_CFLAGS := -Iagent
AGENT_LIBS := -lpthread
ifeq ($(AGENT_NCCL),1)
AGENT_CFLAGS += -DHG_HAVE_NCCL=1 -I$(CUDA_HOME)/include
# libnccl may live in $(CUDA_HOME)/lib64 or in the system library directory.
AGENT_LIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lnccl -lcudart
endif

AGENT_LIB_SRC := agent/agent.c agent/api.c agent/bootstrap.c agent/groups.c agent/verify.c \
    agent/readiness.c agent/watchdog.c agent/handoff.c agent/backend_mpi.c agent/status.c \
    agent/relay.c
ifeq ($(AGENT_NCCL),1)
AGENT_LIB_SRC += agent/backend_nccl.c
endif
AGENT_OBJ := $(AGENT_LIB_SRC:%.c=$(BUILD)/%.o)
AGENT_MAIN_OBJ := $(BUILD)/agent/main.o
AGENT_A := $(BUILD)/lib/libhgrid.a
AGENT_SO := $(BUILD)/lib/libhgrid.so
AGENT_BIN := $(BUILD)/bin/hgrid-agent
EXAMPLE_TRAINER := $(BUILD)/bin/hgrid-example-trainer
AGENT_TEST_PROGS := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.c))

# Objects are rebuilt when the flags change (NCCL on or off), not only the sources.
AGENT_STAMP := $(BUILD)/agent/flags
.PHONY: hg-agent-flags
$(AGENT_STAMP): hg-agent-flags
	@mkdir -p $(dir $@)
	@echo '$(MPICC) $(ALL_CFLAGS) $(AGENT_CFLAGS) $(AGENT_LIBS)' | cmp -s - $@ \
	    || echo '$(MPICC) $(ALL_CFLAGS) $(AGENT_CFLAGS) $(AGENT_LIBS)' > $@

$(BUILD)/agent/%.o: agent/%.c $(AGENT_STAMP)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_CFLAGS) $(AGENT_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/examples/%.o: examples/%.c $(AGENT_STAMP)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_CFLAGS) $(AGENT_CFLAGS) -MMD -MP -c $< -o $@

$(AGENT_A): $(COMMON_OBJ) $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(AGENT_SO): $(COMMON_OBJ) $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	$(MPICC) -shared $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS) $(AGENT_LIBS)

$(AGENT_BIN): $(AGENT_MAIN_OBJ) $(AGENT_A)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_LDFLAGS) -o $@ $(AGENT_MAIN_OBJ) $(AGENT_A) $(CORE_LIBS) $(AGENT_LIBS)

$(EXAMPLE_TRAINER): $(BUILD)/examples/trainer.o $(AGENT_A)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_LDFLAGS) -o $@ $< $(AGENT_A) $(CORE_LIBS) $(AGENT_LIBS)

# Small programs the agent tests exec (plain C, no MPI).
$(BUILD)/tests/progs/%: tests/progs/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(ALL_LDFLAGS) $(CORE_LIBS)

all: $(AGENT_BIN) $(AGENT_A) $(AGENT_SO) $(EXAMPLE_TRAINER)

.PHONY: check-agent install-agent
check-agent: $(AGENT_BIN) $(EXAMPLE_TRAINER) $(AGENT_TEST_PROGS)
	HGRID_BUILD=$(CURDIR)/$(BUILD) bash tests/agent_test.sh

install-agent: $(AGENT_BIN) $(AGENT_A) $(AGENT_SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/hgrid
	install -m 755 $(AGENT_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CORE_LIB) $(AGENT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(AGENT_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/hgrid.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/hgrid/base.h $(DESTDIR)$(PREFIX)/include/hgrid/

-include $(AGENT_OBJ:.o=.d) $(AGENT_MAIN_OBJ:.o=.d) $(BUILD)/examples/trainer.d
