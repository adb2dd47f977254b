#!/usr/bin/env bash
# service_del.sh [XLB] [N]: how long `xlb service del` of a service with N
# connections takes (default 1,000,000), how long an `xlb show` sent 100 ms
# into it waits for the daemon, and how long the flush of its connections
# takes (the daemon's log).  Not part of `make bench` (docs/reliability.md,
# B9, has the figures, old code against new).
#
# A daemon on a veth in a namespace of its own, no traffic: its pinned
# xlb_flows is filled by build/bench/fill_flows.  Documentation addresses
# only; the namespace and the pins go on exit, failure included.
set -u
cd "$(dirname "$0")/.."
XLB=${1:-$PWD/build/xlb}
N=${2:-1000000}
FILL=$PWD/build/bench/fill_flows
VIP=198.51.100.10 BE=198.51.100.11
[ "$(id -u)" = 0 ] || { echo "service_del.sh: needs root" >&2; exit 2; }
[ -x "$XLB" ] && [ -x "$FILL" ] || { echo "service_del.sh: make bench-build first" >&2; exit 2; }
ns=xlbb-del-$$-$RANDOM
dir=$(mktemp -d)
pid=""
# outside `ip netns exec`: its private /sys would hide the pins
inns() { nsenter --net="/run/netns/$ns" "$@"; }
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	inns "$XLB" stop -i v0 >/dev/null 2>&1
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

ip netns add "$ns" || exit 1
ip -n "$ns" link add v0 type veth peer name v1 &&
	ip -n "$ns" addr add 198.51.100.1/24 dev v0 &&
	ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up &&
	ip -n "$ns" link set lo up || exit 1
cat >"$dir/xlb.conf" <<EOF
max-flows $((N + N / 10 + 1024))
service $VIP:8000/tcp
	backend $BE
service $VIP:8080/tcp
	backend $BE:9000
EOF
inns "$XLB" run -i v0 -c "$dir/xlb.conf" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	inns "$XLB" show -i v0 >/dev/null 2>&1 && break
	sleep 0.2
done
id=$(inns "$XLB" show -i v0 -j | python3 -c 'import json, sys
print([s["id"] for s in json.load(sys.stdin)["services"] if s["vip"].endswith(":8080/tcp")][0])') ||
	{ echo "service_del.sh: the daemon did not start: $(cat "$dir/log")" >&2; exit 1; }
pin=$(compgen -G "/sys/fs/bpf/xlb/v0@*" | head -1)
[ -n "$pin" ] || { echo "service_del.sh: no pins for v0" >&2; exit 1; }
"$FILL" "$pin/xlb_flows" "$N" "$id" "$VIP" 8080 "$BE" >/dev/null || exit 1
sleep 3 # a first sweep of the full table goes by
t0=$(date +%s%N)
(
	sleep 0.1
	s0=$(date +%s%N)
	inns "$XLB" show -i v0 >/dev/null
	ms_since "$s0" >"$dir/show_ms"
) &
spid=$!
inns "$XLB" service del -i v0 "$VIP:8080" >/dev/null || exit 1
del_ms=$(ms_since "$t0")
wait "$spid"
for _ in $(seq 300); do # 30 s
	grep -q "flushed" "$dir/log" && break
	sleep 0.1
done
flush=$(sed -n 's/.*flushed: \([0-9]*\), in a sweep of \([0-9.]*\) s.*/flushed=\1 flush_s=\2/p' "$dir/log")
echo "service_del n=$N del_ms=$del_ms show_ms=$(cat "$dir/show_ms") ${flush:-flush=(no log line: inline)}"
