#!/usr/bin/env bash
# bench/profile.sh: where the per-packet time goes, for one figure of
# build/bench/pkt_cost at a time.  perf samples the CPU while pkt_cost runs
# the figure (and the floor) for many rounds; only samples taken inside
# BPF_PROG_TEST_RUN (bpf_test_run in the call chain) are counted, by the
# function they were in: the JIT-ed program itself (bpf_prog_*_xlb_xdp), a
# map or FIB helper, or the test harness (timer reads, bh enable: the floor
# pays those too).
#
# usage: bench/profile.sh [FIGURE...]   (default: the main paths, 1M flows)
#   FIGURE is a substring of a pkt_cost figure name, e.g. tcp_new_1m
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
command -v perf >/dev/null || { echo "profile: perf missing (apt-get install linux-perf)" >&2; exit 1; }
[ $# -gt 0 ] || set -- tcp_new_1m tcp_synack_1m tcp_est_c2b_1m_a65536 nonvip_natrange_1m
TMP=$(mktemp -d /tmp/xlb-profile.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
for fig in "$@"; do
	echo "== $fig"
	timeout 600 perf record -q -g -o "$TMP/perf.data" -- \
		"$BUILD/bench/pkt_cost" --cpu 1 --rounds 30 --calls 4000 --only "$fig" \
		>"$TMP/out.txt" 2>&1 || { tail -5 "$TMP/out.txt"; continue; }
	grep "^bench pkt_" "$TMP/out.txt" | grep -v "pkt_config"
	perf script -i "$TMP/perf.data" 2>/dev/null | awk '
		/^[^ \t]/ { leaf = ""; keep = 0; nf = 0; next }
		/^[ \t]*$/ { if (keep) { cnt[leaf]++; tot++ } next }
		{ nf++; sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
		  if (nf == 1) leaf = sym
		  if (sym == "bpf_test_run") keep = 1 }
		END {
			for (k in cnt) printf "  %5.1f%%  %s\n", 100 * cnt[k] / tot, k | "sort -rn | head -12"
			close("sort -rn | head -12")
			printf "  (%d samples inside BPF_PROG_TEST_RUN, floor included)\n", tot
		}'
done
