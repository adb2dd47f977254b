# shellcheck shell=bash
# shellcheck disable=SC2034,SC2016  # variables are used by the scripts sourcing this file
# tests/e2e/lib.sh: network-namespace topology and helpers shared by the
# end-to-end tests (tests/e2e/test_*.sh) and the demo (demo/demo.sh).
#
# Topology (the tutorial's, with documentation addresses):
#
#   client  203.0.113.20 --+                              +-- lb         198.51.100.10 (xlb)
#   client2 203.0.113.21 --+-- brc [gateway] eth1 --- br0 +-- backend-01 198.51.100.11
#                     203.0.113.2        198.51.100.2     +-- backend-02 198.51.100.12
#
# Every node is a network namespace named xlbt-<run token>-<case>-<node>;
# the lan switch (br0) lives in a namespace of its own.  The lb's interface
# is named lb<token><case>, unique, so that xlb's pins (under
# /sys/fs/bpf/xlb/<iface>[@netns<inode>]) never meet another run's.
# xlb commands enter the lb namespace with nsenter --net by default (see
# XLB_EXEC below).  Veth specifics of this kernel:
#   - XDP_TX frames from a veth reach the peer only if the peer has an XDP
#     program: xdp_pass is attached to the switch side of the lb's veth;
#   - packets built in a namespace carry a partial checksum (TX checksum
#     offload) that XDP cannot complete: tx offload is off on every veth.
#
# Test scripts use it like this:
#   . "$(dirname "$0")/lib.sh"
#   case_rr() { need_xlb || return; start_http_backends || return; ...; }
#   run_case rr full case_rr       # topology: full | full2 | min | none
#   e2e_finish                     # summary line, exit status
# A case function returns 0 (pass), 77 (skip) or anything else (fail); it
# sets the reason with fail/skip ("fail 'why'; return").  run_case prints
# exactly one "PASS name" / "FAIL name: reason" / "SKIP name: reason" line,
# dumps diagnostics on failure, and tears the case's namespaces down.
# Nothing outside the namespaces created here is touched (plus this run's
# own pins under /sys/fs/bpf/xlb/<lb iface>*, if xlb left any behind).
# Environment: XLB (binary), XLB_EXEC (nsenter|ip), KEEP_LOGS=1 (keep the
# per-case logs in /tmp/xlb-e2e.*), E2E_QUIET=1 (no info lines).

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
XLB=${XLB:-$ROOT/build/xlb}
XDP_PASS_OBJ=${XDP_PASS_OBJ:-$ROOT/build/xdp_pass.bpf.o}
NETTOOL=$E2E_DIR/nettool.py
PIN_ROOT=/sys/fs/bpf/xlb
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=$(command -v python3); fi

# Addresses (documentation ranges only).
CLIENT_IP=203.0.113.20
CLIENT2_IP=203.0.113.21
GW_CLIENT_IP=203.0.113.2
GW_LAN_IP=198.51.100.2
LB_IP=198.51.100.10
VIP=198.51.100.10
BE1_IP=198.51.100.11
BE2_IP=198.51.100.12
# IPv6 (2001:db8::/32): the same nodes, client net 2001:db8:203::/64, lan
# 2001:db8:198::/64 (see topo_ipv6).
CLIENT_IP6=2001:db8:203::20
CLIENT2_IP6=2001:db8:203::21
GW_CLIENT_IP6=2001:db8:203::2
GW_LAN_IP6=2001:db8:198::2
LB_IP6=2001:db8:198::10
VIP6=2001:db8:198::10
BE1_IP6=2001:db8:198::11
BE2_IP6=2001:db8:198::12
CLIENT_NET6=2001:db8:203::/64

RUN_TOKEN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
CASE_SEQ=0
CASE_NAME=""
CASE_DIR=""
T_REASON=""
N_PASS=0 N_FAIL=0 N_SKIP=0
PIDS=()       # background processes started by this script (by PID)
NAMESPACES=() # namespaces created for the current case
LB_IF=""
XLB_PID=""
XLB_LOG=""
XLB_RC=""
BG_PID=""
E2E_QUIET=${E2E_QUIET:-}
WORK=$(mktemp -d /tmp/xlb-e2e.XXXXXX)

# ---------------------------------------------------------------- output
info() { [ -n "$E2E_QUIET" ] || echo "  $*"; }
fail() { T_REASON=$*; return 1; }
skip() { T_REASON=$*; return 77; }

# tmo SECONDS CMD...: run CMD with a time limit; Ctrl-C still reaches it.
tmo() { timeout --foreground -k 2 "$@"; }

# nsx NS CMD...: run CMD in namespace NS.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# in_ns SECONDS NS CMD...: run CMD in namespace NS with a time limit.
in_ns() { local secs=$1 ns=$2; shift 2; tmo "$secs" ip netns exec "$ns" "$@"; }

# How xlb itself is started in a namespace.  Default "nsenter": only the
# network namespace is switched (nsenter --net), so every xlb command sees
# the host's bpffs at /sys/fs/bpf and `xlb stats`/`xlb trace` find the pins
# of `xlb run`.  XLB_EXEC=ip uses "ip netns exec", which also gives each
# command a private mount namespace with a fresh /sys without a bpffs: xlb
# then pins in the host's, reached from another mount namespace
# (test_observe.sh: stats_via_ip_netns_exec, test_control_restart.sh:
# ip_netns_exec_restart check that case).
XLB_EXEC=${XLB_EXEC:-nsenter}
# xlb_nsexec NS: the command prefix that enters NS for xlb, in XLB_NSEXEC.
XLB_NSEXEC=()
xlb_nsexec() {
	if [ "$XLB_EXEC" = nsenter ]; then
		XLB_NSEXEC=(nsenter --net="/run/netns/$1")
	else
		XLB_NSEXEC=(ip netns exec "$1")
	fi
}

# wait_for SECONDS DESC CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 desc=$2 i n
	shift 2
	n=$((secs * 10))
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	T_REASON="timeout (${secs}s) waiting for $desc"
	return 1
}

# ----------------------------------------------------- process handling
# bg NAME NS CMD...: start CMD in namespace NS in the background, output in
# $CASE_DIR/NAME.log; PID in BG_PID (and PIDS).  SIGINT/SIGTERM are reset
# to their defaults (a non-interactive shell starts background jobs with
# SIGINT ignored).
bg() {
	local name=$1 ns=$2
	shift 2
	local pre=(ip netns exec "$ns")
	if [ "$1" = "$XLB" ]; then
		xlb_nsexec "$ns"
		pre=("${XLB_NSEXEC[@]}")
	fi
	"${pre[@]}" env --default-signal=INT,TERM "$@" >"$CASE_DIR/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_pid PID [SIGNAL] [SECONDS]: signal PID, wait (bounded) for it to
# exit, SIGKILL it if it does not.  Exit status of the process in STOP_RC
# (empty if it had to be killed).
STOP_RC=""
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-5} i p
	STOP_RC=""
	local keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; STOP_RC=$?; return 0; }
	kill -s "$sig" "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -s KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	STOP_RC=$?
	return 0
}

# wait_pid PID SECONDS: wait (bounded) for PID to exit by itself; SIGKILL
# it after SECONDS.  Exit status in STOP_RC ("killed" if it had to be).
wait_pid() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		stop_pid "$pid" KILL 2
		STOP_RC=killed
		return 1
	fi
	stop_pid "$pid" # reaps it: STOP_RC is its exit status
}

stop_all_pids() {
	local p
	for p in "${PIDS[@]}"; do kill -s TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do stop_pid "$p" TERM 3; done
	PIDS=()
}

# -------------------------------------------------------------- topology
case_names() {
	local p="xlbt-$RUN_TOKEN-$CASE_SEQ-"
	NS_CLI=${p}client NS_CLI2=${p}client2 NS_GW=${p}gateway NS_SW=${p}lan
	NS_LB=${p}lb NS_BE1=${p}backend-01 NS_BE2=${p}backend-02
	LB_IF=lb$RUN_TOKEN$CASE_SEQ
}

ns_add() {
	local ns
	for ns in "$@"; do
		ip netns add "$ns" || return 1
		NAMESPACES+=("$ns")
		ip -n "$ns" link set lo up || return 1
		# no IPv6 DAD: addresses (link-local too) usable at once
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
}

# tx_off NS DEV: no TX checksum offload (see header).
tx_off() { ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1; }

# lan_port NS IF ADDR PORT: veth from the lan switch (PORT) to NS (IF).
lan_port() {
	local ns=$1 ifname=$2 addr=$3 port=$4
	ip -n "$NS_SW" link add "$port" type veth peer name "$ifname" netns "$ns" &&
		ip -n "$NS_SW" link set "$port" master br0 up &&
		ip -n "$ns" addr add "$addr/24" dev "$ifname" &&
		ip -n "$ns" link set "$ifname" up &&
		tx_off "$NS_SW" "$port" && tx_off "$ns" "$ifname"
}

# client_port NS ADDR PORT: veth from the gateway's client bridge to NS.
client_port() {
	local ns=$1 addr=$2 port=$3
	ip -n "$NS_GW" link add "$port" type veth peer name eth0 netns "$ns" &&
		ip -n "$NS_GW" link set "$port" master brc up &&
		ip -n "$ns" addr add "$addr/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" route add default via "$GW_CLIENT_IP" &&
		tx_off "$NS_GW" "$port" && tx_off "$ns" eth0
}

# topo_up [NCLIENTS]: the full topology with 1 or 2 clients.
topo_up() {
	local nclients=${1:-1} ns
	ns_add "$NS_CLI" "$NS_GW" "$NS_SW" "$NS_LB" "$NS_BE1" "$NS_BE2" || return 1
	if [ "$nclients" -ge 2 ]; then ns_add "$NS_CLI2" || return 1; fi
	ip -n "$NS_SW" link add br0 type bridge &&
		ip -n "$NS_SW" link set br0 up &&
		lan_port "$NS_GW" eth1 "$GW_LAN_IP" p-gateway &&
		lan_port "$NS_LB" "$LB_IF" "$LB_IP" p-lb &&
		lan_port "$NS_BE1" eth0 "$BE1_IP" p-backend-01 &&
		lan_port "$NS_BE2" eth0 "$BE2_IP" p-backend-02 || return 1
	ip -n "$NS_GW" link add brc type bridge &&
		ip -n "$NS_GW" addr add "$GW_CLIENT_IP/24" dev brc &&
		ip -n "$NS_GW" link set brc up &&
		client_port "$NS_CLI" "$CLIENT_IP" p-client || return 1
	if [ "$nclients" -ge 2 ]; then
		client_port "$NS_CLI2" "$CLIENT2_IP" p-client2 || return 1
	fi
	ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 || return 1
	for ns in "$NS_LB" "$NS_BE1" "$NS_BE2"; do
		ip -n "$ns" route add 203.0.113.0/24 via "$GW_LAN_IP" || return 1
	done
	topo_ipv6 "$nclients" || return 1
	# XDP_TX from the lb's veth needs an XDP program on its peer.
	ip -n "$NS_SW" link set dev p-lb xdpdrv obj "$XDP_PASS_OBJ" sec xdp || return 1
	# Bridges need a moment to put ports into forwarding; wait for the
	# gateway to see the lan (bounded), without touching the lb's ARP table.
	wait_for 5 "gateway -> backend-01" ip netns exec "$NS_GW" ping -c1 -W1 "$BE1_IP" &&
		wait_for 5 "client -> gateway" ip netns exec "$NS_CLI" ping -c1 -W1 "$GW_CLIENT_IP"
}

# topo_ipv6 [NCLIENTS]: IPv6 addresses on every node of topo_up's topology
# (nodad: usable at once, not tentative for ~2 s), routes both ways,
# forwarding on the gateway.
topo_ipv6() {
	local nclients=${1:-1} ns
	ip -n "$NS_GW" -6 addr add "$GW_CLIENT_IP6/64" dev brc nodad &&
		ip -n "$NS_GW" -6 addr add "$GW_LAN_IP6/64" dev eth1 nodad &&
		ip -n "$NS_LB" -6 addr add "$LB_IP6/64" dev "$LB_IF" nodad &&
		ip -n "$NS_BE1" -6 addr add "$BE1_IP6/64" dev eth0 nodad &&
		ip -n "$NS_BE2" -6 addr add "$BE2_IP6/64" dev eth0 nodad &&
		ip -n "$NS_CLI" -6 addr add "$CLIENT_IP6/64" dev eth0 nodad &&
		ip -n "$NS_CLI" -6 route add default via "$GW_CLIENT_IP6" || return 1
	if [ "$nclients" -ge 2 ]; then
		ip -n "$NS_CLI2" -6 addr add "$CLIENT2_IP6/64" dev eth0 nodad &&
			ip -n "$NS_CLI2" -6 route add default via "$GW_CLIENT_IP6" || return 1
	fi
	ip netns exec "$NS_GW" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	for ns in "$NS_LB" "$NS_BE1" "$NS_BE2"; do
		ip -n "$ns" -6 route add "$CLIENT_NET6" via "$GW_LAN_IP6" || return 1
	done
}

# topo_min: just the lb namespace with its (unconnected) veth, for command
# line tests.
topo_min() {
	ns_add "$NS_LB" || return 1
	ip -n "$NS_LB" link add "$LB_IF" type veth peer name peer0 &&
		ip -n "$NS_LB" addr add "$LB_IP/24" dev "$LB_IF" &&
		ip -n "$NS_LB" link set "$LB_IF" up &&
		ip -n "$NS_LB" link set peer0 up
}

topo_down() {
	local ns p
	# xlb's data path outlives xlb run: remove it the way users do
	if [ -n "$LB_IF" ] && [ -e "/run/netns/$NS_LB" ] && { [ -n "$XLB_PID" ] || xlb_pinned; }; then
		xlb_cmd stop -i "$LB_IF" >/dev/null 2>&1
	fi
	stop_all_pids
	for ns in "${NAMESPACES[@]}"; do
		# Anything still running in our own namespaces was started by us.
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -s KILL "$p" 2>/dev/null; done
	done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NAMESPACES=()
	if [ -n "$LB_IF" ]; then
		for p in "$PIN_ROOT/$LB_IF" "$PIN_ROOT/$LB_IF"@*; do
			[ -e "$p" ] || continue
			echo "  note: removing pins left behind: $p"
			rm -rf "$p"
		done
		rm -f /run/xlb/"$LB_IF"@* /run/xlb/"$LB_IF".* 2>/dev/null
	fi
	XLB_PID=""
}

# ------------------------------------------------------------- servers
# big_file: a 10 MiB random file shared by all cases of this run.
big_file() {
	[ -f "$WORK/big.bin" ] || head -c 10485760 /dev/urandom >"$WORK/big.bin"
	echo "$WORK/big.bin"
}

# wait_listen NS tcp|udp PORT: until something listens on PORT in NS.
listening() {
	local ns=$1 proto=$2 port=$3 opt=-Hltn
	[ "$proto" = udp ] && opt=-Hlun
	[ -n "$(ip netns exec "$ns" ss $opt "sport = :$port" 2>/dev/null)" ]
}
wait_listen() { wait_for 5 "$2 port $3 in $1" listening "$@"; }

# start_http NS ADDR NAME [PORT]: python http.server whose index.html is
# "NAME" and which also serves big.bin (10 MiB).
start_http() {
	local ns=$1 addr=$2 name=$3 port=${4:-8000} dir
	dir=$WORK/www-$name
	mkdir -p "$dir"
	echo "$name" >"$dir/index.html"
	[ -e "$dir/big.bin" ] || ln -s "$(big_file)" "$dir/big.bin"
	bg "http-$name-$port" "$ns" "$PY" -m http.server "$port" --bind "$addr" --directory "$dir"
	wait_listen "$ns" tcp "$port"
}
start_http_backends() {
	start_http "$NS_BE1" "$BE1_IP" backend-01 8000 &&
		start_http "$NS_BE2" "$BE2_IP" backend-02 8000
}

# start_tcp_echo NS ADDR PORT NAME [DELAY]: answers "NAME <line>".
start_tcp_echo() {
	bg "tcp-$4-$3" "$1" "$PY" "$NETTOOL" tcp-server --bind "$2" --port "$3" --name "$4" --delay "${5:-0}"
	wait_listen "$1" tcp "$3"
}
# start_udp_echo NS ADDR PORT NAME: answers "NAME <datagram>" (a request
# "fill N SEED": "NAME " and N bytes, see nettool.py).
start_udp_echo() {
	bg "udp-$4-$3" "$1" "$PY" "$NETTOOL" udp-server --bind "$2" --port "$3" --name "$4"
	wait_listen "$1" udp "$3"
}

# ----------------------------------------------------------------- xlb
need_xlb() {
	[ -x "$XLB" ] || { skip "$XLB not built (make)"; return; }
}

xlb_attached() { ip -n "$NS_LB" link show dev "$LB_IF" 2>/dev/null | grep -q xdp; }
# xlb pins under $PIN_ROOT/<iface> (host namespace) or
# $PIN_ROOT/<iface>@netns<inode> (other namespaces).
xlb_pinned() { compgen -G "$PIN_ROOT/$LB_IF" >/dev/null || compgen -G "$PIN_ROOT/$LB_IF@*" >/dev/null; }

# xlb_start ARGS...: xlb run -i $LB_IF ARGS... in the lb namespace; waits
# (bounded) for its "attached" line.
XLB_STARTS=0
# xlb_start_nowait ARGS: start xlb run in the background (XLB_PID,
# XLB_LOG); xlb_start also waits for it to attach.
xlb_start_nowait() {
	XLB_STARTS=$((XLB_STARTS + 1))
	bg "xlb-$XLB_STARTS" "$NS_LB" "$XLB" run -i "$LB_IF" "$@"
	XLB_PID=$BG_PID
	XLB_LOG=$CASE_DIR/xlb-$XLB_STARTS.log
	info "xlb run -i $LB_IF $* (pid $XLB_PID)"
}

xlb_start() {
	local i
	xlb_start_nowait "$@"
	for ((i = 0; i < 100; i++)); do
		grep -q attached "$XLB_LOG" 2>/dev/null && return 0
		if ! kill -0 "$XLB_PID" 2>/dev/null; then
			wait "$XLB_PID"
			XLB_RC=$?
			fail "xlb run exited with $XLB_RC before attaching: $(head -c 300 "$XLB_LOG" | tr '\n' ' ')"
			XLB_PID=""
			return 1
		fi
		sleep 0.1
	done
	fail "xlb run printed no 'attached' line within 10s (stdout not flushed?)"
}

# xlb_stop [SIGNAL]: stop xlb run and remove its data path, so that
# nothing stays attached or pinned.  Without SIGNAL: `xlb stop` (the daemon
# detaches, unpins and exits).  With SIGNAL: the daemon is sent SIGNAL
# first (it exits and leaves the data path attached and pinned, as for a
# restart), then `xlb stop` removes the data path.  The exit status of xlb
# run in XLB_RC.
xlb_stop() {
	[ -n "$XLB_PID" ] || return 0
	local pid=$XLB_PID sig=${1:-}
	XLB_PID=""
	if [ -n "$sig" ]; then
		if ! stop_pid "$pid" "$sig" 5; then
			XLB_RC=killed
			fail "xlb run did not exit within 5s of SIG$sig"
			return 1
		fi
		XLB_RC=$STOP_RC
	fi
	if ! xlb_cmd stop -i "$LB_IF" >"$CASE_DIR/xlb-stop.log" 2>&1; then
		fail "xlb stop -i $LB_IF failed: $(tr '\n' ' ' <"$CASE_DIR/xlb-stop.log")"
		stop_pid "$pid" KILL 2
		return 1
	fi
	[ -n "$sig" ] && return 0
	if ! wait_pid "$pid" 5; then
		XLB_RC=killed
		fail "xlb run did not exit within 5s of xlb stop"
		return 1
	fi
	XLB_RC=$STOP_RC
}

# xlb_cmd ARGS...: run another xlb command in the lb namespace (bounded).
xlb_cmd() {
	xlb_nsexec "$NS_LB"
	tmo 10 "${XLB_NSEXEC[@]}" "$XLB" "$@"
}

# ------------------------------------------------------------- traffic
http_loop() {
	# http_loop NS COUNT URL: COUNT sequential connections, one output line
	# each: "<body> <client port>" or "error-<curl exit code> -".
	local ns=$1 count=$2 url=$3
	tmo $((count / 2 + 30)) ip netns exec "$ns" bash -c '
		for ((i = 0; i < $1; i++)); do
			out=$(curl -s --max-time 5 -w " %{local_port}" "$2") || out="error-$? -"
			echo "$out" | tr "\n" " " | sed "s/  */ /g; s/ $//"; echo
		done' _ "$count" "$url"
}

# stat_of NAME: one counter of `xlb stats -j` (the "counters" object).
STATS_JSON=""
stats_snap() { STATS_JSON=$(xlb_cmd stats -i "$LB_IF" -j 2>/dev/null); }
stat_of() {
	printf '%s' "$STATS_JSON" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
def find(o, k):
    if isinstance(o, dict):
        if k in o and not isinstance(o[k], (dict, list)):
            return o[k]
        for v in o.values():
            r = find(v, k)
            if r is not None:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v, k)
            if r is not None:
                return r
    return None
v = find(d, sys.argv[1])
print(v if v is not None else -1)' "$1"
}

# show_conns: "A1 I1 A2 I2", the active and inactive connections of
# backend-01 and backend-02 (port 8000) in `xlb show -j` ("none" if
# unknown, "?" if show failed).
show_conns() {
	xlb_cmd show -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("?"); sys.exit(0)
bes = {b["addr"]: b for s in d["services"] for b in s["backends"]}
out = []
for a in sys.argv[1:]:
    b = bes.get(a + ":8000", {})
    out += [str(b.get("active_conns")).lower(), str(b.get("inactive_conns")).lower()]
print(" ".join(out))' "$BE1_IP" "$BE2_IP"
}

# conns_wait WANT SECONDS: poll show_conns until it says WANT (at most
# SECONDS, 50 tries); its last answer in CONNS.
CONNS=""
conns_wait() {
	local want=$1 end=$((SECONDS + $2)) i
	for ((i = 0; i < 50 && SECONDS < end; i++)); do
		CONNS=$(show_conns)
		[ "$CONNS" = "$want" ] && return 0
		sleep 0.2
	done
	return 1
}

# count WORD FILE: lines of FILE whose first field is WORD.
count() { awk -v w="$1" '$1 == w { n++ } END { print n + 0 }' "$2"; }

# ------------------------------------------------------------- results
dump_logs() {
	local f
	echo "---- diagnostics for $CASE_NAME ----"
	for f in "$CASE_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "-- $(basename "$f") (last 40 lines)"
		tail -n 40 "$f"
	done
	if [ -n "$XLB_PID" ] && kill -0 "$XLB_PID" 2>/dev/null; then
		echo "-- xlb stats -i $LB_IF"
		xlb_cmd stats -i "$LB_IF" 2>&1 | head -n 80
	fi
	if [ ${#NAMESPACES[@]} -gt 0 ] && [ -n "$LB_IF" ]; then
		echo "-- ip -n lb -d link"
		ip -n "$NS_LB" -d link 2>&1
		echo "-- ip -n lb neigh"
		ip -n "$NS_LB" neigh 2>&1
		echo "-- ip -n lb -s link show $LB_IF"
		ip -n "$NS_LB" -s link show dev "$LB_IF" 2>&1
	fi
	echo "---- end of diagnostics ----"
}

# run_case NAME TOPOLOGY FUNCTION: fresh namespaces, run, report, tear down.
run_case() {
	local name=$1 topo=$2 fn=$3 rc=0 t0 t1
	CASE_SEQ=$((CASE_SEQ + 1))
	CASE_NAME=$name
	CASE_DIR=$WORK/$CASE_SEQ-$name
	T_REASON=""
	XLB_PID="" XLB_RC="" XLB_STARTS=0
	mkdir -p "$CASE_DIR"
	case_names
	t0=$(date +%s.%N)
	if [ "$(id -u)" -ne 0 ]; then
		rc=77 T_REASON="needs root (network namespaces, XDP)"
	elif [ "$topo" != none ] && [ "$topo" != min ] && [ ! -f "$XDP_PASS_OBJ" ]; then
		rc=77 T_REASON="$XDP_PASS_OBJ not built (make build/xdp_pass.bpf.o)"
	else
		case $topo in
		full) topo_up 1 ;;
		full2) topo_up 2 ;;
		min) topo_min ;;
		none) true ;;
		esac || { rc=1 T_REASON="topology setup failed${T_REASON:+: $T_REASON}"; }
		if [ "$rc" -eq 0 ]; then
			"$fn"
			rc=$?
		fi
	fi
	t1=$(date +%s.%N)
	info "$name: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1fs", b - a }')"
	case $rc in
	0) echo "PASS $name"; N_PASS=$((N_PASS + 1)) ;;
	77) echo "SKIP $name: $T_REASON"; N_SKIP=$((N_SKIP + 1)) ;;
	*)
		echo "FAIL $name: ${T_REASON:-returned $rc}"
		N_FAIL=$((N_FAIL + 1))
		dump_logs
		;;
	esac
	topo_down
}

e2e_finish() {
	echo "# $(basename "$0"): $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
	[ "$N_FAIL" -eq 0 ]
}

_e2e_cleanup() {
	topo_down
	if [ -n "${KEEP_LOGS:-}" ]; then
		echo "logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
_e2e_interrupted() {
	trap - EXIT INT TERM
	echo "interrupted (SIG$1): tearing down" >&2
	_e2e_cleanup
	exit 130
}
trap _e2e_cleanup EXIT
trap '_e2e_interrupted INT' INT
trap '_e2e_interrupted TERM' TERM
