# `make fuzz`: build the config fuzzer with libFuzzer + ASan + UBSan and run it.
#   FUZZ_SECONDS  how long to run (default 600)
#   FUZZ_FLAGS    extra libFuzzer flags (e.g. -jobs=2)
# New inputs go to build-fuzz/corpus (not in git); crashes to build-fuzz/crash-*.
# The checked-in seeds in tests/fuzz/corpus are read, never written.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_FLAGS ?=
FUZZ_DIR := build-fuzz
FUZZ_BIN := $(FUZZ_DIR)/fuzz_config
FUZZ_CFLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 \
    -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon -Iinclude

.PHONY: fuzz-run fuzz-build
fuzz-run: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_BIN) -max_len=65536 -timeout=10 -dict=tests/fuzz/yaml.dict \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_FLAGS) $(FUZZ_DIR)/corpus tests/fuzz/corpus

fuzz-build: $(FUZZ_BIN)

$(FUZZ_BIN): tests/fuzz/fuzz_config.c $(wildcard common/*/*.c common/*/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_config.c $(wildcard common/*/*.c) -lyaml -ljansson
