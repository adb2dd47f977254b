# xlb: XDP layer-4 load balancer.  `make` builds build/xlb (the control
# program, with the XDP object embedded through a bpftool skeleton).
#
#   make deps   install the Debian packages the build, demo and tests need
#   make demo   run the tutorial's network in namespaces with the balancer
#   make test   unit tests (BPF_PROG_TEST_RUN, schedule builder) + e2e
#   make bench  benchmarks (not part of make test)

BUILD    ?= build
# CLANG: the BPF compiler, e.g. make CLANG=clang-19 (docs/operations.md)
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS   ?= -O2 -g
# -iquote: our src/sched.h must not shadow the system <sched.h>
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -std=gnu11 \
	-iquote include -iquote $(BUILD) -iquote src
LDLIBS   += -lbpf -lelf -lz -lpthread -lmicrohttpd

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	-Wall -Wno-unused-function -iquote include -iquote $(BUILD) -iquote bpf

BPF_HDRS := $(wildcard bpf/*.h) include/xlb_abi.h
LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
HDRS     := $(wildcard src/*.h) include/xlb_abi.h

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TEST_LIB  := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

.PHONY: all deps demo test unit e2e bench bench-quick bench-build fuzz clean format
all: $(BUILD)/xlb $(BUILD)/xdp_pass.bpf.o

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: src/%.c $(HDRS) $(BUILD)/xlb.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libxlb.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/xlb: $(BUILD)/obj/main.o $(BUILD)/libxlb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB) $(wildcard tests/unit/*.h) $(BUILD)/libxlb.a $(BUILD)/xlb.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote tests/unit -o $@ $< $(TEST_LIB) $(BUILD)/libxlb.a $(LDLIBS)

deps:
	./scripts/deps.sh

unit: all $(UNIT_BINS)
	BUILD=$(BUILD) ./tests/run.sh unit

e2e: all
	BUILD=$(BUILD) ./tests/run.sh e2e

test: all $(UNIT_BINS)
	BUILD=$(BUILD) ./tests/run.sh all

demo: all
	./demo/demo.sh

# Benchmarks (bench/, docs/benchmarks.md); not part of make test.
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

$(BUILD)/bench/%: bench/%.c $(TEST_LIB) $(wildcard tests/unit/*.h) $(BUILD)/libxlb.a $(BUILD)/xlb.skel.h $(BUILD)/bench_floor.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote tests/unit -o $@ $< $(TEST_LIB) $(BUILD)/libxlb.a $(LDLIBS)

bench-build: all $(BENCH_BINS) $(BUILD)/bench_floor.bpf.o

bench: bench-build
	./bench/run.sh

bench-quick: bench-build
	./bench/run.sh --quick

# Test tools (tests/tools/: the e2e flood generator); built with `all`.
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
all: $(TOOL_BINS)

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

format:
	clang-format -i bpf/*.c bpf/*.h src/*.c src/*.h include/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf $(BUILD)

# Fuzzing (tests/fuzz/, docs/reliability.md).  The differential fuzzer of
# the data path (model vs. BPF_PROG_TEST_RUN) and the libFuzzer harnesses
# of the user-space parsers run briefly as part of `make test` (they are
# build/tests/test_* programs); `make fuzz` runs them long:
#   make fuzz [FUZZ_PACKETS=10000000] [FUZZ_TIME=300] [FUZZ_ARGS=...]
#   (FUZZ_TIME: seconds per parser harness)
FUZZ_CC      ?= clang
FUZZ_PACKETS ?= 10000000
FUZZ_TIME    ?= 300
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-iquote include -iquote $(BUILD) -iquote src -iquote tests/fuzz
FUZZ_HARNESS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_HARNESS))
FUZZ_OBJS    := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))
DIFF_FUZZ_SRCS := tests/fuzz/diff_fuzz.c tests/fuzz/model.c tests/fuzz/gen.c

$(BUILD)/fuzz/obj/%.o: src/%.c $(HDRS) $(BUILD)/xlb.skel.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

$(BUILD)/tests/test_diff_fuzz: $(DIFF_FUZZ_SRCS) $(wildcard tests/fuzz/*.h) $(TEST_LIB) $(wildcard tests/unit/*.h) $(BUILD)/libxlb.a $(BUILD)/xlb.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote tests/unit -iquote tests/fuzz -o $@ $(DIFF_FUZZ_SRCS) $(TEST_LIB) $(BUILD)/libxlb.a $(LDLIBS)

$(BUILD)/tests/test_fuzz_parsers: tests/fuzz/run_parsers.sh $(FUZZ_BINS)
	@mkdir -p $(dir $@)
	install -m 0755 $< $@

.PHONY: fuzz-build
fuzz-build: all $(BUILD)/tests/test_diff_fuzz $(FUZZ_BINS) $(BUILD)/tests/test_fuzz_parsers

test unit: $(BUILD)/tests/test_diff_fuzz $(BUILD)/tests/test_fuzz_parsers

# both runs, then the verdict (FUZZ_ARGS: e.g. -s SEED, --lenient)
fuzz: fuzz-build
	@rc=0; \
	$(BUILD)/tests/test_diff_fuzz -n $(FUZZ_PACKETS) -t 3600 $(FUZZ_ARGS) || rc=1; \
	FUZZ_TIME=$(FUZZ_TIME) $(BUILD)/tests/test_fuzz_parsers || rc=1; \
	exit $$rc
