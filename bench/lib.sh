# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts sourcing this file
# bench/lib.sh: namespaces, processes and teardown for the end-to-end
# benchmarks (bench/e2e.sh).  Everything runs in network namespaces
# created here, named xlbb-<run token>-<node>, with documentation
# addresses only; every process is started here, tracked by PID and
# stopped by PID; an EXIT/INT/TERM trap tears it all down.
#
# The demo's network (tests/e2e/lib.sh draws it too):
#
#   client 203.0.113.20 -- gateway 203.0.113.2 | 198.51.100.2 -- lan switch (br0)
#                                                                 |-- lb 198.51.100.10 (VIP)
#                                                                 |-- backend-01 198.51.100.11
#                                                                 `-- backend-02 198.51.100.12
#
# Veth specifics of this kernel (see tests/e2e/lib.sh and docs):
#   - XDP_TX frames from a veth reach the peer only if the peer runs an XDP
#     program: xdp_pass sits on the switch side of the lb's veth;
#   - packets made in a namespace carry a partial checksum (TX offload)
#     that XDP cannot finish: TX checksum offload is off on every veth.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
XLB=${XLB:-$BUILD/xlb}
XDP_PASS_OBJ=${XDP_PASS_OBJ:-$BUILD/xdp_pass.bpf.o}
FLOOR_OBJ=${FLOOR_OBJ:-$BUILD/bench_floor.bpf.o}
PKT_RATE=${PKT_RATE:-$BUILD/bench/pkt_rate}
PIN_ROOT=/sys/fs/bpf/xlb

CLIENT_IP=203.0.113.20
GW_CLIENT_IP=203.0.113.2
GW_LAN_IP=198.51.100.2
VIP=198.51.100.10
BE1_IP=198.51.100.11
BE2_IP=198.51.100.12

TOKEN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
P=xlbb-$TOKEN
NS_CLI=$P-client NS_GW=$P-gateway NS_SW=$P-lan NS_LB=$P-lb
NS_BE1=$P-backend-01 NS_BE2=$P-backend-02
NS_GEN=$P-gen NS_LBR=$P-lbrate
LB_IF=xb$TOKEN   # unique: xlb pins under $PIN_ROOT/<iface>...
LBR_IF=xr$TOKEN
WORK=${WORK:-$(mktemp -d /tmp/xlb-bench.XXXXXX)}

PIDS=()
NAMESPACES=()
XLB_IFACES=() # "ns iface" pairs an xlb ran on
BPF_STATS_SAVED="" # kernel.bpf_stats_enabled to restore, while changed

log() { echo "# $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# xlb is entered with nsenter (network namespace only) so that it and
# `xlb stop` see the host's bpffs and its pins (ip netns exec would give
# each command a fresh /sys).
xlbx() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$XLB" "$@"; }

# bg NAME NS CMD...: start CMD in NS in the background; log in
# $WORK/NAME.log, PID in BG_PID.
bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" env --default-signal=INT,TERM "$@" >"$WORK/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_pid PID [SECONDS]: SIGTERM, wait (bounded), SIGKILL.
stop_pid() {
	local pid=$1 secs=${2:-5} i p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -s TERM "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

wait_for() { # wait_for SECONDS CMD...
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

listening() { # listening NS PORT
	[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]
}

ns_add() {
	local ns
	for ns in "$@"; do
		ip netns add "$ns" || return 1
		NAMESPACES+=("$ns")
		ip -n "$ns" link set lo up || return 1
	done
}

tx_off() { ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1; }

mac_of() { # mac_of NS IFACE
	ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# Stop xlb on an interface: `xlb stop` where the command exists (SIGTERM
# may leave the data path attached), then make sure nothing is attached.
xlb_detach() { # xlb_detach NS IFACE
	local ns=$1 ifc=$2 p
	if "$XLB" help 2>/dev/null | grep -qw stop; then
		timeout 10 nsenter --net="/run/netns/$ns" "$XLB" stop -i "$ifc" >/dev/null 2>&1
	fi
	ip -n "$ns" link set dev "$ifc" xdp off 2>/dev/null
	for p in "$PIN_ROOT/$ifc" "$PIN_ROOT/$ifc"@*; do
		[ -e "$p" ] && rm -rf "$p"
	done
	return 0
}

cleanup() {
	local p ns pair
	trap - EXIT INT TERM
	# BPF run-time statistics (bench/e2e.sh turns them on for a run)
	[ -n "${BPF_STATS_SAVED:-}" ] &&
		sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_SAVED"
	for p in "${PIDS[@]}"; do kill -s TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do stop_pid "$p" 3; done
	for pair in "${XLB_IFACES[@]}"; do
		# shellcheck disable=SC2086
		xlb_detach $pair
	done
	for ns in "${NAMESPACES[@]}"; do
		# anything still running in our own namespaces was started by us
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -s KILL "$p" 2>/dev/null; done
	done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	for p in "$PIN_ROOT/$LB_IF" "$PIN_ROOT/$LB_IF"@* "$PIN_ROOT/$LBR_IF" "$PIN_ROOT/$LBR_IF"@*; do
		[ -e "$p" ] && rm -rf "$p"
	done
	if [ -n "${KEEP_LOGS:-}" ]; then
		echo "bench: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
interrupted() {
	echo "bench: interrupted (SIG$1): tearing down" >&2
	cleanup
	exit 130
}
trap cleanup EXIT
trap 'interrupted INT' INT
trap 'interrupted TERM' TERM

# ------------------------------------------------------------ topology
lan_port() { # lan_port NS IFACE ADDR SWITCH_PORT
	ip -n "$NS_SW" link add "$4" type veth peer name "$2" netns "$1" &&
		ip -n "$NS_SW" link set "$4" master br0 up &&
		ip -n "$1" addr add "$3/24" dev "$2" &&
		ip -n "$1" link set "$2" up &&
		tx_off "$NS_SW" "$4" && tx_off "$1" "$2"
}

# The demo's network.  The client is joined to the gateway by one veth
# (the demo puts a bridge there for two clients; one is enough here).
topo_up() {
	local ns
	ns_add "$NS_CLI" "$NS_GW" "$NS_SW" "$NS_LB" "$NS_BE1" "$NS_BE2" || return 1
	ip -n "$NS_SW" link add br0 type bridge &&
		ip -n "$NS_SW" link set br0 up &&
		lan_port "$NS_GW" eth1 "$GW_LAN_IP" p-gateway &&
		lan_port "$NS_LB" "$LB_IF" "$VIP" p-lb &&
		lan_port "$NS_BE1" eth0 "$BE1_IP" p-backend-01 &&
		lan_port "$NS_BE2" eth0 "$BE2_IP" p-backend-02 || return 1
	ip -n "$NS_GW" link add eth0 type veth peer name eth0 netns "$NS_CLI" &&
		ip -n "$NS_GW" addr add "$GW_CLIENT_IP/24" dev eth0 &&
		ip -n "$NS_GW" link set eth0 up &&
		ip -n "$NS_CLI" addr add "$CLIENT_IP/24" dev eth0 &&
		ip -n "$NS_CLI" link set eth0 up &&
		ip -n "$NS_CLI" route add default via "$GW_CLIENT_IP" &&
		tx_off "$NS_GW" eth0 && tx_off "$NS_CLI" eth0 || return 1
	nsx "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 || return 1
	for ns in "$NS_LB" "$NS_BE1" "$NS_BE2"; do
		ip -n "$ns" route add 203.0.113.0/24 via "$GW_LAN_IP" || return 1
	done
	# the balancer forwards (nftables; xlb's FIB lookups) out of the
	# interface it came in on: no ICMP redirects for that
	nsx "$NS_LB" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.send_redirects=0 \
		"net.ipv4.conf.$LB_IF.send_redirects=0" \
		net.ipv4.ip_local_port_range="1024 65000" \
		net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_max_tw_buckets=0 || return 1
	# No TIME_WAIT sockets on the hosts: every balancer reaches the
	# backends from VIP-sourced tuples, and one setup's closed connections
	# (server-side TIME_WAIT, the server closes first with "Connection:
	# close") must not collide with the next setup's SYNs.
	for ns in "$NS_CLI" "$NS_BE1" "$NS_BE2"; do
		nsx "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
			net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
			net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_max_tw_buckets=0 || return 1
	done
	# XDP_TX from the lb's veth needs an XDP program on its peer
	ip -n "$NS_SW" link set dev p-lb xdpdrv obj "$XDP_PASS_OBJ" sec xdp || return 1
	wait_for 5 nsx "$NS_GW" ping -c1 -W1 "$BE1_IP" &&
		wait_for 5 nsx "$NS_GW" ping -c1 -W1 "$BE2_IP" &&
		wait_for 5 nsx "$NS_GW" ping -c1 -W1 "$VIP" &&
		wait_for 5 nsx "$NS_CLI" ping -c1 -W1 "$BE1_IP"
}

# ------------------------------------------------------------- servers
# Backends: nginx (HTTP on :8000, a 12-byte page, keep-alive) and an
# iperf3 server on :5201.
start_backend() { # start_backend NS ADDR NAME
	local ns=$1 addr=$2 name=$3 dir=$WORK/$3
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	server {
		listen $addr:8000 backlog=65535;
		location / { return 200 "$name\n"; }
	}
}
EOF
	bg "nginx-$name" "$ns" nginx -e "$dir/error.log" -c "$dir/nginx.conf" -p "$dir" || return 1
	bg "iperf3-$name" "$ns" iperf3 -s -B "$addr" -p 5201 || return 1
	wait_for 5 listening "$ns" 8000 && wait_for 5 listening "$ns" 5201
}
