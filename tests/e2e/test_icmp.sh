#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# ICMP through the balancer, over IPv4 and IPv6:
#   pmtu_upload*: path-MTU discovery for the client.  backend-03 sits behind
#     a router (rtr) on the lan whose leg towards backend-03 has MTU 1280.
#     The client uploads 5 MiB with full-size segments (the backend
#     advertised MSS 1460: its own interface has MTU 1500); rtr answers
#     "fragmentation needed" / "packet too big" to the sender it sees, the
#     balancer's SNAT address; xlb must translate it back to the client,
#     whose kernel lowers its path MTU to the VIP; the upload then
#     completes intact.  Without the translation the upload stalls (a PMTU
#     black hole: Linux does no MTU probing by default).
#   pmtu_download*: the same for the backend: the gateway's leg towards the
#     client has MTU 1280 (the client's own interface 1500); the gateway
#     sends the error to the VIP; xlb translates it to the backend, whose
#     kernel lowers its path MTU to the SNAT address; 10 MiB download intact.
#   pmtu_at_lb_upload*, pmtu_at_lb_download*: the narrow link is the
#     balancer's own egress (a route with MTU 1280 on the lb towards
#     backend-01, then towards the clients): no router on the way sends
#     the error, xlb must answer the oversize packet itself (ICMP
#     "fragmentation needed" / "packet too big" from the VIP to the client,
#     from the SNAT address to the backend: too_big_sent); the sender
#     lowers its path MTU and the transfer completes intact.
#   echo_and_untracked*: an echo request to the VIP is answered (by the
#     lb's kernel: the VIP is its address); an ICMP error quoting no flow
#     (port unreachable for a UDP datagram the lb itself sent) passes
#     untouched to the lb's kernel (pass_icmp), which reports it to the
#     sending socket (ECONNREFUSED).
# Each case checks `xlb stats -j` counters (fwd_icmp / pass_icmp).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SMALL_MTU=1280
RTR_IP=198.51.100.13 RTR_IP6=2001:db8:198::13
BE3_NET=192.0.2.0/24 RTR_BE3_IP=192.0.2.1 BE3_IP=192.0.2.11
BE3_NET6=2001:db8:1280::/64 RTR_BE3_IP6=2001:db8:1280::1 BE3_IP6=2001:db8:1280::11
ICMP_PY=$WORK/icmp.py

cat >"$ICMP_PY" <<'PYEOF'
"""Helpers for test_icmp.sh (every loop and socket bounded)."""
import hashlib, socket, sys, threading

def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET

def sink(bind, port):
    """Read each connection to EOF, answer "<sha256> <bytes>"."""
    ls = socket.socket(fam(bind), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, port))
    ls.listen(16)
    def handle(c):
        h, n = hashlib.sha256(), 0
        c.settimeout(30)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
        except OSError:
            pass
        c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def upload(dst, port, path, timeout):
    s = socket.socket(fam(dst), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((dst, port))
        with open(path, "rb") as f:
            s.sendall(f.read())
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError as e:
        print("error: %s" % e)
        return 1
    print(data.decode(errors="replace").strip())
    return 0

def refused(dst, port):
    """A connected UDP socket: the ICMP port unreachable for its datagram
    comes back as ECONNREFUSED."""
    s = socket.socket(fam(dst), socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((dst, port))
    try:
        s.send(b"anyone?")
        s.recv(100)
        print("answered")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    return 0

cmd = sys.argv[1]
if cmd == "sink":
    sink(sys.argv[2], int(sys.argv[3]))
elif cmd == "upload":
    sys.exit(upload(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
elif cmd == "refused":
    sys.exit(refused(sys.argv[2], int(sys.argv[3])))
PYEOF

# use_family 4|6: this family's addresses (VIP_, BE1_, BE3_, LB_, ...).
use_family() {
	FAM=$1
	if [ "$FAM" = 6 ]; then
		VIP_=$VIP6 VIP_EP="[$VIP6]" VIP_URL="[$VIP6]" BE1_=$BE1_IP6 BE1_EP="[$BE1_IP6]"
		BE3_=$BE3_IP6 BE3_EP="[$BE3_IP6]" LB_=$LB_IP6
	else
		VIP_=$VIP VIP_EP=$VIP VIP_URL=$VIP BE1_=$BE1_IP BE1_EP=$BE1_IP
		BE3_=$BE3_IP BE3_EP=$BE3_IP LB_=$LB_IP
	fi
}

# stats_counters FILE: `xlb stats -j` counters as name=value lines.
stats_counters() {
	xlb_cmd stats -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
for k, v in json.load(sys.stdin)["counters"].items():
    print("%s=%s" % (k, v))' >"$1"
}
# delta NAME: counter NAME in $CASE_DIR/s1 minus $CASE_DIR/s0.
delta() {
	echo $(( $(awk -F= -v k="$1" '$1 == k { print $2 }' "$CASE_DIR/s1") -
		$(awk -F= -v k="$1" '$1 == k { print $2 }' "$CASE_DIR/s0") ))
}

# rtr_up: router rtr on the lan (.13 / ::13) and backend-03 behind it on
# 192.0.2.0/24 / 2001:db8:1280::/64; rtr's leg to backend-03 has MTU 1280,
# backend-03's own interface 1500 (so it advertises MSS 1460: the small
# hop is in the middle of the path, not at an end).
rtr_up() {
	NS_RTR=${NS_LB%lb}rtr NS_BE3=${NS_LB%lb}backend-03
	ns_add "$NS_RTR" "$NS_BE3" &&
		lan_port "$NS_RTR" eth0 "$RTR_IP" p-rtr &&
		ip -n "$NS_RTR" -6 addr add "$RTR_IP6/64" dev eth0 nodad &&
		ip -n "$NS_RTR" link add eth1 type veth peer name eth0 netns "$NS_BE3" &&
		ip -n "$NS_RTR" link set eth1 mtu "$SMALL_MTU" &&
		ip -n "$NS_RTR" addr add "$RTR_BE3_IP/24" dev eth1 &&
		ip -n "$NS_RTR" -6 addr add "$RTR_BE3_IP6/64" dev eth1 nodad &&
		ip -n "$NS_RTR" link set eth1 up &&
		ip -n "$NS_BE3" addr add "$BE3_IP/24" dev eth0 &&
		ip -n "$NS_BE3" -6 addr add "$BE3_IP6/64" dev eth0 nodad &&
		ip -n "$NS_BE3" link set eth0 up &&
		ip -n "$NS_BE3" route add default via "$RTR_BE3_IP" &&
		ip -n "$NS_BE3" -6 route add default via "$RTR_BE3_IP6" &&
		tx_off "$NS_RTR" eth1 && tx_off "$NS_BE3" eth0 &&
		ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
		ip -n "$NS_LB" route add "$BE3_NET" via "$RTR_IP" &&
		ip -n "$NS_LB" -6 route add "$BE3_NET6" via "$RTR_IP6" || return 1
	wait_for 5 "rtr -> backend-03" ip netns exec "$NS_RTR" ping -c1 -W1 "$BE3_IP" &&
		wait_for 5 "rtr -> backend-03 (IPv6)" ip netns exec "$NS_RTR" ping -6 -c1 -W1 "$BE3_IP6"
}

# client_pmtu: the client's cached path MTU towards the VIP ("" if none).
client_pmtu() {
	ip -n "$NS_CLI" "-$FAM" route get "$VIP_" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -n1
}

# pmtu_upload NS ADDR EP COUNTER WHERE LABEL: the client uploads 5 MiB to
# a sink at ADDR (in NS, EP as a backend) behind the narrow link (WHERE);
# the upload completes intact, COUNTER grew (the error that told the
# client), and the client's path MTU to the VIP is the link's.
pmtu_upload() {
	local ns=$1 addr=$2 ep=$3 counter=$4 where=$5 label=$6
	local f=$WORK/upload.bin want got before after_mtu n
	[ -f "$f" ] || head -c 5242880 /dev/urandom >"$f"
	want="$(sha256sum <"$f" | awk '{ print $1 }') 5242880"
	bg sink "$ns" "$PY" "$ICMP_PY" sink "$addr" 8003
	wait_listen "$ns" tcp 8003 || return
	xlb_start --vip "$VIP_EP:8003" --backends "$ep" || return
	before=$(client_pmtu)
	stats_counters "$CASE_DIR/s0" || { fail "xlb stats -j failed"; return; }
	got=$(in_ns 40 "$NS_CLI" "$PY" "$ICMP_PY" upload "$VIP_" 8003 "$f" 30 2>&1)
	stats_counters "$CASE_DIR/s1"
	after_mtu=$(client_pmtu) n=$(delta "$counter")
	info "upload of 5 MiB through $where: '$got'; client path MTU to the VIP: '${before:-none}' -> '${after_mtu:-none}'; $counter +$n, drop_fib_frag +$(delta drop_fib_frag)"
	echo "$label$FAM ok=$([ "$got" = "$want" ] && echo yes || echo no) pmtu=${after_mtu:-none} $counter=+$n" >"$CASE_DIR/figures"
	[ "$got" = "$want" ] || { fail "upload through $where: server answered '$got', expected '$want' ($counter +$n, client path MTU ${after_mtu:-none})"; return; }
	[ "$n" -gt 0 ] || { fail "upload completed but $counter did not grow: the client was not told of the MTU by xlb"; return; }
	[ "$after_mtu" = "$SMALL_MTU" ] || fail "client's path MTU to the VIP is '${after_mtu:-none}', expected $SMALL_MTU"
}

# backend's cached path MTU towards the SNAT address (the lb's).
backend_pmtu() {
	ip -n "$NS_BE1" "-$FAM" route get "$LB_" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -n1
}

# pmtu_download COUNTER WHERE LABEL: the client downloads 10 MiB from
# backend-01 through the narrow link on the client's side (WHERE); it
# arrives intact, COUNTER grew, and backend-01's path MTU to the SNAT
# address is the link's.
pmtu_download() {
	local counter=$1 where=$2 label=$3 want got n after_mtu
	start_http "$NS_BE1" "$BE1_" backend-01 8000 || return
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	xlb_start --vip "$VIP_EP:8000" --backends "$BE1_EP" || return
	stats_counters "$CASE_DIR/s0" || { fail "xlb stats -j failed"; return; }
	in_ns 40 "$NS_CLI" curl -g -sS --max-time 30 -o "$CASE_DIR/got.bin" \
		"http://$VIP_URL:8000/big.bin" 2>"$CASE_DIR/curl.log"
	got=$(sha256sum <"$CASE_DIR/got.bin" 2>/dev/null | awk '{ print $1 }')
	stats_counters "$CASE_DIR/s1"
	after_mtu=$(backend_pmtu) n=$(delta "$counter")
	info "download of 10 MiB through $where: $(stat -c %s "$CASE_DIR/got.bin" 2>/dev/null) bytes, sha256 $([ "$got" = "$want" ] && echo ok || echo differs); backend path MTU to the SNAT address: ${after_mtu:-none}; $counter +$n"
	echo "$label$FAM ok=$([ "$got" = "$want" ] && echo yes || echo no) pmtu=${after_mtu:-none} $counter=+$n" >"$CASE_DIR/figures"
	[ "$got" = "$want" ] || { fail "download through $where failed: $(cat "$CASE_DIR/curl.log") ($counter +$n)"; return; }
	[ "$n" -gt 0 ] || { fail "download completed but $counter did not grow"; return; }
	[ "$after_mtu" = "$SMALL_MTU" ] || fail "backend's path MTU to the SNAT address is '${after_mtu:-none}', expected $SMALL_MTU"
}

case_pmtu_upload() {
	need_xlb || return
	rtr_up || { fail "router setup failed${T_REASON:+: $T_REASON}"; return; }
	pmtu_upload "$NS_BE3" "$BE3_" "$BE3_EP" fwd_icmp "the ${SMALL_MTU}-MTU hop" upload
}
case_pmtu_upload4() { use_family 4; case_pmtu_upload; }
case_pmtu_upload6() { use_family 6; case_pmtu_upload; }

case_pmtu_download() {
	need_xlb || return
	# the gateway's leg to the client: MTU 1280 (the client's end stays 1500)
	ip -n "$NS_GW" link set p-client mtu "$SMALL_MTU" || { fail "cannot set the MTU"; return; }
	pmtu_download fwd_icmp "the client-side ${SMALL_MTU}-MTU hop" download
}
case_pmtu_download4() { use_family 4; case_pmtu_download; }
case_pmtu_download6() { use_family 6; case_pmtu_download; }

# lb_route_mtu DEST: the lb's route to DEST (a host or the clients' net)
# gets MTU 1280, locked: the FIB answers FRAG_NEEDED above it.
lb_route_mtu() {
	local via
	if [ "$FAM" = 6 ]; then via=$GW_LAN_IP6; else via=$GW_LAN_IP; fi
	case $1 in
	clients) ip -n "$NS_LB" "-$FAM" route replace "$([ "$FAM" = 6 ] && echo "$CLIENT_NET6" || echo 203.0.113.0/24)" \
			via "$via" dev "$LB_IF" mtu lock "$SMALL_MTU" ;;
	*) ip -n "$NS_LB" "-$FAM" route replace "$1" dev "$LB_IF" mtu lock "$SMALL_MTU" ;;
	esac
}

case_pmtu_at_lb_upload() {
	need_xlb || return
	lb_route_mtu "$BE1_" || { fail "cannot set the lb's route MTU"; return; }
	pmtu_upload "$NS_BE1" "$BE1_" "$BE1_EP" too_big_sent "the lb's ${SMALL_MTU}-MTU egress" lb_upload
}
case_pmtu_at_lb_upload4() { use_family 4; case_pmtu_at_lb_upload; }
case_pmtu_at_lb_upload6() { use_family 6; case_pmtu_at_lb_upload; }

case_pmtu_at_lb_download() {
	need_xlb || return
	lb_route_mtu clients || { fail "cannot set the lb's route MTU"; return; }
	pmtu_download too_big_sent "the lb's ${SMALL_MTU}-MTU egress" lb_download
}
case_pmtu_at_lb_download4() { use_family 4; case_pmtu_at_lb_download; }
case_pmtu_at_lb_download6() { use_family 6; case_pmtu_at_lb_download; }

case_echo_and_untracked() {
	local a pass fwd
	need_xlb || return
	start_http "$NS_BE1" "$BE1_" backend-01 8000 || return
	xlb_start --vip "$VIP_EP:8000" --backends "$BE1_EP" || return
	a=$(http_loop "$NS_CLI" 1 "http://$VIP_URL:8000/" | awk '{ print $1 }')
	[ "$a" = backend-01 ] || { fail "VIP answers '$a'"; return; }
	# echo request to the VIP
	stats_counters "$CASE_DIR/s0" || { fail "xlb stats -j failed"; return; }
	in_ns 10 "$NS_CLI" ping "-$FAM" -c3 -i0.2 -W1 "$VIP_" >"$CASE_DIR/ping.log" 2>&1 ||
		{ fail "ping -$FAM $VIP_ (the VIP) got no answer: $(tail -n 2 "$CASE_DIR/ping.log" | tr '\n' ' ')"; return; }
	stats_counters "$CASE_DIR/s1"
	info "ping VIP: $(grep -o '[0-9]* received' "$CASE_DIR/ping.log"); pass_icmp +$(delta pass_icmp), fwd_icmp +$(delta fwd_icmp)"
	[ "$(delta pass_icmp)" -ge 3 ] || { fail "3 echo requests, pass_icmp +$(delta pass_icmp)"; return; }
	[ "$(delta fwd_icmp)" = 0 ] || { fail "echo requests counted as translated errors (fwd_icmp +$(delta fwd_icmp))"; return; }
	# an error quoting no flow: port unreachable for the lb's own datagram
	stats_counters "$CASE_DIR/s0"
	a=$(in_ns 10 "$NS_LB" "$PY" "$ICMP_PY" refused "$BE1_" 9 2>&1)
	stats_counters "$CASE_DIR/s1"
	pass=$(delta pass_icmp) fwd=$(delta fwd_icmp)
	info "lb's UDP datagram to $BE1_:9 (closed): $a; pass_icmp +$pass, fwd_icmp +$fwd"
	[ "$a" = refused ] || { fail "the port unreachable did not reach the lb's socket untouched: '$a' (pass_icmp +$pass, fwd_icmp +$fwd)"; return; }
	[ "$pass" -ge 1 ] || { fail "pass_icmp did not grow for an error quoting no flow"; return; }
	[ "$fwd" = 0 ] || fail "an error quoting no flow was translated (fwd_icmp +$fwd)"
}
case_echo_and_untracked4() { use_family 4; case_echo_and_untracked; }
case_echo_and_untracked6() { use_family 6; case_echo_and_untracked; }

# CASES="name ..." runs only those cases.
for c in pmtu_upload4 pmtu_upload6 pmtu_download4 pmtu_download6 \
	pmtu_at_lb_upload4 pmtu_at_lb_upload6 pmtu_at_lb_download4 pmtu_at_lb_download6 \
	echo_and_untracked4 echo_and_untracked6; do
	[ -z "${CASES:-}" ] || [[ " $CASES " = *" $c "* ]] || continue
	run_case "$c" full "case_$c"
done
e2e_finish
