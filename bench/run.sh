#!/usr/bin/env bash
# bench/run.sh: `make bench` (full) and `make bench-quick` (--quick).
#   1. per-packet cost: build/bench/pkt_cost (BPF_PROG_TEST_RUN)
#   2. end to end and packet rate: bench/e2e.sh (network namespaces)
#   3. bench/report.py: summary lines, docs/benchmarks.md, docs/benchmarks.png
# Prints one machine-readable line per figure ("bench <name> <value> <unit> ...").
# Not part of `make test`.  Needs root.
#
# usage: bench/run.sh [--quick] [--skip-pkt] [--skip-e2e] [--doc FILE] [--raw DIR]
#   --raw DIR   keep the raw outputs (pkt.txt, e2e.txt, machine.txt) in DIR;
#               bench/report.py can rebuild the document from them
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODE=full
SKIP_PKT=0 SKIP_E2E=0
DOC=docs/benchmarks.md
RAW=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--skip-pkt) SKIP_PKT=1 ;;
	--skip-e2e) SKIP_E2E=1 ;;
	--doc) DOC=$2; shift ;;
	--raw) RAW=$2; shift ;;
	*) echo "usage: $0 [--quick] [--skip-pkt] [--skip-e2e] [--doc FILE] [--raw DIR]" >&2; exit 2 ;;
	esac
	shift
done
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (network namespaces, XDP, BPF_PROG_TEST_RUN)" >&2
	exit 1
fi
for t in wrk iperf3 haproxy nginx nft gnuplot ethtool python3; do
	command -v "$t" >/dev/null || { echo "bench: $t missing: run make deps" >&2; exit 1; }
done
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	{ echo "bench: nginx stream module missing (libnginx-mod-stream): run make deps" >&2; exit 1; }

OUTDIR=$(mktemp -d /tmp/xlb-bench-out.XXXXXX)
trap 'rm -rf "$OUTDIR"' EXIT
QUICK=()
[ "$MODE" = quick ] && QUICK=(--quick)
t0=$(date +%s)

{
	echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit:      ${BENCH_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo unknown)}"
	echo "load:        $(cut -d" " -f1-3 /proc/loadavg) (1/5/15-min load average at the start)"
	echo "kernel:      $(uname -r)"
	echo "os:          Debian $(cat /etc/debian_version 2>/dev/null)"
	echo "cpu:         $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1) guest"
	echo "caches:      $(lscpu | awk -F: '/^L[123][di]? cache/ { gsub(/^ +/, "", $2); printf "%s %s; ", $1, $2 }')"
	echo "memory:      $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
	echo "clang:       $(clang --version | head -1)"
	echo "libbpf:      $(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null)"
	echo "tools:       wrk $(dpkg-query -W -f='${Version}' wrk), iperf3 $(dpkg-query -W -f='${Version}' iperf3), haproxy $(dpkg-query -W -f='${Version}' haproxy), nginx $(dpkg-query -W -f='${Version}' nginx-common), nftables $(dpkg-query -W -f='${Version}' nftables)"
	echo "mode:        $MODE"
} >"$OUTDIR/machine.txt"
cat "$OUTDIR/machine.txt" | sed 's/^/# /'

if [ "$SKIP_PKT" -eq 0 ]; then
	echo "# per-packet cost (BPF_PROG_TEST_RUN)"
	timeout 900 "$BUILD/bench/pkt_cost" "${QUICK[@]}" --cpu 1 | tee "$OUTDIR/pkt.txt"
	[ "${PIPESTATUS[0]}" -eq 0 ] || echo "# pkt_cost failed or reported wrong verdicts (see above)"
fi
if [ "$SKIP_E2E" -eq 0 ]; then
	echo "# end to end (network namespaces)"
	timeout 3600 ./bench/e2e.sh "${QUICK[@]}" --out "$OUTDIR/e2e.txt" ||
		echo "# e2e.sh failed (exit $?)"
fi
mkdir -p "$(dirname "$DOC")"
python3 bench/report.py --pkt "$OUTDIR/pkt.txt" --e2e "$OUTDIR/e2e.txt" \
	--machine "$OUTDIR/machine.txt" --mode "$MODE" --notes bench/notes.md \
	--out "$DOC" --chart "${DOC%.md}.png"
if [ -n "$RAW" ]; then
	mkdir -p "$RAW" && cp "$OUTDIR"/*.txt "$RAW"/ && echo "# raw outputs kept in $RAW"
fi
echo "# bench: $(($(date +%s) - t0)) s; wrote $DOC; load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
