# xlb: XDP layer-4 load balancer.  `make` builds build/xlb (the control
# program, with the XDP object embedded through a bpftool skeleton).
#
#   make deps   install the Debian packages the build, demo and tests need
#   make demo   run the tutorial's network in namespaces with the balancer
#   make test   unit tests (BPF_PROG_TEST_RUN, schedule builder) + e2e
#   make bench  benchmarks (not part of make test)

BUILD    ?= build
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
	./tests/run.sh unit

e2e: all
	./tests/run.sh e2e

test: all $(UNIT_BINS)
	./tests/run.sh all

demo: all
	./demo/demo.sh

# Benchmarks (bench/, docs/benchmarks.md); not part of make test.
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

$(BUILD)/bench/%: bench/%.c tests/unit/pkt.c tests/unit/pkt.h $(BUILD)/libxlb.a $(BUILD)/xlb.skel.h $(BUILD)/bench_floor.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote tests/unit -o $@ $< tests/unit/pkt.c $(BUILD)/libxlb.a $(LDLIBS)

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
