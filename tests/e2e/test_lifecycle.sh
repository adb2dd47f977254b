#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119,SC2016  # "A && B || fail" is intended; helpers take optional args; bash -c scripts
# Connection lifecycle through the VIP, over IPv4 and IPv6:
#   fin_rst_release*: a connection closed with FIN and one aborted with RST
#     show up as closing/closed in `xlb conns -j`, then their pairs are
#     removed by expiry;
#   syn_flood*: spoofed SYNs (tests/tools/flood, from a namespace on the
#     lan, sources in 192.0.2.0/24 / 2001:db8:ffff::/48) hit the VIP at the
#     highest rate this machine makes for FLOOD_S seconds; meanwhile a
#     long-lived echo session and a slow 10 MiB download must go on, fresh
#     connections are counted (success rate during the flood), and after it
#     every fresh connection must succeed.  `xlb stats -j` counters
#     (new_flow, promoted) and the flow table are reported and checked.
# Environment: FLOOD_S (default 6), FLOOD_MAX (packet bound, 20000000),
# FLOOD_MIN_OK_PCT (minimum success rate during the flood, default 1: on
# 2 cores the generator and the balancer share the CPUs, so the rate is a
# figure to report, not a property of xlb; at least one must get through),
# CASES (names of the cases to run, default all).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FLOOD=${FLOOD:-$ROOT/build/tools/flood}
FLOOD_S=${FLOOD_S:-6}
FLOOD_MAX=${FLOOD_MAX:-20000000}
FLOOD_MIN_OK_PCT=${FLOOD_MIN_OK_PCT:-1}
FLOOD_IP=198.51.100.66
LC_PY=$WORK/lifecycle.py

cat >"$LC_PY" <<'PYEOF'
"""Clients and servers for test_lifecycle.sh (every loop bounded)."""
import socket, struct, sys, threading, time

def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET

def close_client(dst, port, bind_port, how, token):
    """Send a line; 'fin': half-close (FIN), read the answer, close.
    'rst': close at once with SO_LINGER 0 (RST)."""
    s = socket.socket(fam(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    s.bind(("", bind_port))
    s.connect((dst, port))
    s.sendall((token + "\n").encode())
    if how == "rst":
        time.sleep(0.3)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("rst sent")
        return 0
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
    s.close()
    print(data.decode(errors="replace").strip())
    return 0

def echo_server(bind, port):
    """Echo every line back, any number of connections, until killed."""
    ls = socket.socket(fam(bind), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, port))
    ls.listen(64)
    def handle(c):
        c.settimeout(60)
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def session(dst, port, seconds, max_wait):
    """One connection for SECONDS: a line every 50 ms, each echoed back
    within MAX_WAIT seconds."""
    s = socket.socket(fam(dst), socket.SOCK_STREAM)
    s.settimeout(max_wait)
    t0 = time.monotonic()
    rounds, worst = 0, 0.0
    try:
        s.connect((dst, port))
        f = s.makefile("rb")
        while time.monotonic() - t0 < seconds:
            msg = b"ping %d\n" % rounds
            t = time.monotonic()
            s.sendall(msg)
            got = f.readline()
            if got != msg:
                print("fail after %d rounds: got %r" % (rounds, got[:60]))
                return 1
            worst = max(worst, time.monotonic() - t)
            rounds += 1
            time.sleep(0.05)
    except OSError as e:
        print("fail after %d rounds (%.1fs): %s" % (rounds, time.monotonic() - t0, e))
        return 1
    print("ok rounds=%d max_rtt_ms=%.0f" % (rounds, worst * 1000))
    return 0

cmd = sys.argv[1]
if cmd == "close":
    sys.exit(close_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]))
if cmd == "echo-server":
    echo_server(sys.argv[2], int(sys.argv[3]))
if cmd == "session":
    sys.exit(session(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
PYEOF

# use_family 4|6: the addresses of this family in VIP_, BE1_, BE2_,
# the URL host in VIP_URL and the spoofed source range in SPOOF_NET.
use_family() {
	FAM=$1
	if [ "$FAM" = 6 ]; then
		VIP_=$VIP6 BE1_=$BE1_IP6 BE2_=$BE2_IP6
		VIP_URL="[$VIP6]" VIP_EP="[$VIP6]" BE1_EP="[$BE1_IP6]" BE2_EP="[$BE2_IP6]"
		SPOOF_NET=2001:db8:ffff::/48
	else
		VIP_=$VIP BE1_=$BE1_IP BE2_=$BE2_IP
		VIP_URL=$VIP VIP_EP=$VIP BE1_EP=$BE1_IP BE2_EP=$BE2_IP
		SPOOF_NET=192.0.2.0/24
	fi
}

# Short expiry timeouts if this xlb has them (xlb run -h: --timeout-closed
# SECONDS); else the defaults (closed: 10 s).  Sets TIMEOUT_OPTS and RELEASE_WAIT (seconds).
TIMEOUT_OPTS=()
RELEASE_WAIT=20
detect_timeouts() {
	local h
	h=$("$XLB" run -h 2>&1)
	TIMEOUT_OPTS=()
	RELEASE_WAIT=20
	# "--timeout-closed" or "--timeout-syn|...|-closed SECONDS"
	if grep -Eq -- '--timeout-([a-z|-]*\|-)?closed' <<<"$h"; then
		# closing outlasts the FIN case's 2 s half-close; closed expires fast
		TIMEOUT_OPTS+=(--timeout-closing 6 --timeout-closed 2)
		RELEASE_WAIT=10
	fi
}

# conns_json FILE: xlb conns -j into FILE.
conns_json() { xlb_cmd conns -i "$LB_IF" -j >"$1" 2>"$1.err"; }

# conn_state FILE PORT: the state of the connection from client port PORT
# ("none" if absent).
conn_state() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
st = [c.get("state") for c in d if c.get("client", "").endswith(":" + sys.argv[2])]
print(",".join(st) if st else "none")
PYEOF
}

# FIN and RST both release the pair: closing/closed right after, gone once
# expired.
case_fin_rst_release() {
	local f=$CASE_DIR/conns.json s_fin s_rst p_fin=41001 p_rst=41002 i a pid deadline
	need_xlb || return
	detect_timeouts
	start_tcp_echo "$NS_BE1" "$BE1_" 8001 backend-01 2 || return
	start_tcp_echo "$NS_BE2" "$BE2_" 8001 backend-02 2 || return
	xlb_start --vip "$VIP_EP:8001" --backends "$BE1_EP,$BE2_EP" "${TIMEOUT_OPTS[@]}" || return
	[ ${#TIMEOUT_OPTS[@]} -gt 0 ] && info "expiry: ${TIMEOUT_OPTS[*]}" ||
		info "note: xlb run has no --timeout-closed: default timeouts (closed 10 s)"
	# FIN: the client half-closes at once; the server answers 2 s later
	# and closes: closing (client FIN only), then closed (both FINs).
	bg fin-client "$NS_CLI" "$PY" "$LC_PY" close "$VIP_" 8001 "$p_fin" fin tok-fin
	pid=$BG_PID
	s_fin=""
	for ((i = 0; i < 15; i++)); do
		conns_json "$f" && s_fin=$(conn_state "$f" "$p_fin")
		[ "$s_fin" = closing ] && break
		sleep 0.1
	done
	info "FIN connection while the server has not answered: $s_fin"
	[ "$s_fin" = closing ] || { fail "half-closed connection (client FIN): state '$s_fin', expected closing"; return; }
	wait_pid "$pid" 10
	a=$(cat "$CASE_DIR/fin-client.log")
	[[ "$a" = "backend-0"?" tok-fin" ]] || { fail "FIN client got '$a'"; return; }
	conns_json "$f" && s_fin=$(conn_state "$f" "$p_fin")
	info "FIN connection after both FINs: $s_fin"
	[ "$s_fin" = closed ] || { fail "after FIN both ways: state '$s_fin', expected closed"; return; }
	# RST: the client aborts while the server still holds the connection.
	in_ns 10 "$NS_CLI" "$PY" "$LC_PY" close "$VIP_" 8001 "$p_rst" rst tok-rst >"$CASE_DIR/rst-client.log" 2>&1 ||
		{ fail "RST client failed: $(cat "$CASE_DIR/rst-client.log")"; return; }
	conns_json "$f" && s_rst=$(conn_state "$f" "$p_rst")
	info "RST connection: $s_rst"
	[ "$s_rst" = closed ] || { fail "after RST: state '$s_rst', expected closed"; return; }
	# both pairs removed once expired
	deadline=$((SECONDS + RELEASE_WAIT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		conns_json "$f" || { fail "xlb conns -j failed: $(cat "$f.err")"; return; }
		s_fin=$(conn_state "$f" "$p_fin") s_rst=$(conn_state "$f" "$p_rst")
		[ "$s_fin" = none ] && [ "$s_rst" = none ] && break
		sleep 0.5
	done
	info "after expiry: FIN connection $s_fin, RST connection $s_rst ($((SECONDS - deadline + RELEASE_WAIT)) s)"
	[ "$s_fin" = none ] && [ "$s_rst" = none ] ||
		{ fail "not released within ${RELEASE_WAIT}s: FIN connection '$s_fin', RST connection '$s_rst'"; return; }
	# the table is empty: nothing else was left behind
	[ "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$f")" = 0 ] ||
		fail "flow table not empty after expiry: $(head -c 300 "$f")"
}
case_fin_rst_release4() { use_family 4; case_fin_rst_release; }
case_fin_rst_release6() { use_family 6; case_fin_rst_release; }

# stats_counters FILE: xlb stats -j counters as "name=value" lines.
stats_counters() {
	xlb_cmd stats -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
for k, v in json.load(sys.stdin)["counters"].items():
    print("%s=%s" % (k, v))' >"$1"
}
ctr() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }

# conns_summary: "N total: state=count ..." of the flow table.
conns_summary() {
	conns_json "$CASE_DIR/flood-conns.json" || { echo "xlb conns failed"; return; }
	"$PY" - "$CASE_DIR/flood-conns.json" <<'PYEOF'
import collections, json, sys
d = json.load(open(sys.argv[1]))
c = collections.Counter(x.get("state") for x in d)
print("%d total: %s" % (len(d), " ".join("%s=%d" % kv for kv in sorted(c.items()))))
PYEOF
}

# spoofed_established FILE: connections (from `xlb conns -j` in FILE)
# whose client is in SPOOF_NET and whose state is established.
spoofed_established() {
	"$PY" - "$1" "$SPOOF_NET" <<'PYEOF'
import ipaddress, json, sys
net = ipaddress.ip_network(sys.argv[2])
n = 0
for c in json.load(open(sys.argv[1])):
    host = c.get("client", "").rsplit(":", 1)[0].strip("[]")
    try:
        if ipaddress.ip_address(host) in net and c.get("state") == "established":
            n += 1
    except ValueError:
        pass
print(n)
PYEOF
}

case_syn_flood() {
	local ns_fl lb_mac sess_pid dl_pid fl_pid sent pps ok=0 err=0 pct after
	local want got rate a line new_d prom_d rx_d seen_d w back spoofed why wpids=()
	need_xlb || return
	[ -x "$FLOOD" ] || { skip "$FLOOD not built (make)"; return; }
	start_http "$NS_BE1" "$BE1_" backend-01 8000 &&
		start_http "$NS_BE2" "$BE2_" backend-02 8000 || return
	bg echo-be1 "$NS_BE1" "$PY" "$LC_PY" echo-server "$BE1_" 8002 &&
		bg echo-be2 "$NS_BE2" "$PY" "$LC_PY" echo-server "$BE2_" 8002 || return
	wait_listen "$NS_BE1" tcp 8002 && wait_listen "$NS_BE2" tcp 8002 || return
	xlb_start --vip "$VIP_EP:8000" --backends "$BE1_EP,$BE2_EP" \
		--vip "$VIP_EP:8002" --backends "$BE1_EP,$BE2_EP" || return
	# the attacker: a namespace on the lan, frames straight to the lb's MAC
	ns_fl=${NS_LB%lb}flood
	ns_add "$ns_fl" && lan_port "$ns_fl" eth0 "$FLOOD_IP" p-flood || { fail "flood namespace setup failed"; return; }
	lb_mac=$(ip -n "$NS_LB" -br link show dev "$LB_IF" | awk '{ print $3 }')
	# warm up (neighbours resolved) and check the service works
	a=$(http_loop "$NS_CLI" 2 "http://$VIP_URL:8000/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "before the flood the VIP answers '$a'"; return; }
	stats_counters "$CASE_DIR/s0" || { fail "xlb stats -j failed"; return; }
	# long-lived: an echo session and a slow 10 MiB download spanning the flood
	# survival is the test, not latency: with the CPUs saturated by the
	# flood a round may wait for TCP retransmissions (20 s allowed)
	bg session "$NS_CLI" "$PY" "$LC_PY" session "$VIP_" 8002 $((FLOOD_S + 4)) 20
	sess_pid=$BG_PID
	rate=$((10485760 / (FLOOD_S + 4)))
	bg slow-download "$NS_CLI" curl -g -sS --max-time $((FLOOD_S + 30)) --limit-rate "$rate" \
		-o "$CASE_DIR/slow.bin" "http://$VIP_URL:8000/big.bin"
	dl_pid=$BG_PID
	sleep 1
	info "before the flood: $(conns_summary)"
	bg flood "$ns_fl" "$FLOOD" -i eth0 --dmac "$lb_mac" --dst "$VIP_" --dport 8000 \
		--src "$SPOOF_NET" --count "$FLOOD_MAX" --duration "$FLOOD_S" --batch 64
	fl_pid=$BG_PID
	sleep 0.3
	# fresh connections while the flood runs: 6 workers, each sequential
	# (bounded by the flood's end, time and count); 4 s each lets the
	# client retransmit its SYN twice (1 s, 3 s), as a real client would:
	# with 3 workers of 2 s tries, a slower machine saw 0 of 9 succeed
	for w in 1 2 3 4 5 6; do
		bg "during-$w" "$NS_CLI" bash -c '
			end=$((SECONDS + $1))
			for ((i = 0; i < 100 && SECONDS < end; i++)); do
				kill -0 "$2" 2>/dev/null || break
				curl -g -s --max-time 4 "$3" || echo "error-$?"
				echo
			done' _ $((FLOOD_S + 3)) "$fl_pid" "http://$VIP_URL:8000/"
		wpids+=("$BG_PID")
	done
	wait_pid "$fl_pid" $((FLOOD_S + 5))
	for w in "${wpids[@]}"; do wait_pid "$w" 10; done
	cat "$CASE_DIR"/during-?.log | grep . >"$CASE_DIR/during.txt"
	line=$(grep '^flood:' "$CASE_DIR/flood.log")
	[ -n "$line" ] || { fail "flood tool printed nothing: $(head -c 300 "$CASE_DIR/flood.log")"; return; }
	sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$line") pps=$(sed -n 's/.* pps=\([0-9]*\).*/\1/p' <<<"$line")
	ok=$(grep -c '^backend-0' "$CASE_DIR/during.txt") err=$(grep -vc '^backend-0' "$CASE_DIR/during.txt")
	pct=$(( (ok + err) ? 100 * ok / (ok + err) : 0 ))
	stats_counters "$CASE_DIR/s1"
	info "flood: $line"
	info "during the flood: $ok of $((ok + err)) fresh connections succeeded ($pct%)"
	info "after the flood: $(conns_summary)"
	# after the flood: service back within 5 s, then 20 of 20 succeed
	# (gives up after 3 failures in a row)
	after=0 back=0
	for ((w = SECONDS + 5; SECONDS < w; )); do
		in_ns 3 "$NS_CLI" curl -g -sf --max-time 1 "http://$VIP_URL:8000/" >/dev/null && { back=1; break; }
		sleep 0.1
	done
	if [ "$back" = 1 ]; then
		after=$(in_ns 60 "$NS_CLI" bash -c '
			ok=0 bad=0
			for ((i = 0; i < 20 && bad < 3; i++)); do
				if curl -g -s --max-time 2 "$1" | grep -q "^backend-0"; then
					ok=$((ok + 1)) bad=0
				else
					bad=$((bad + 1))
				fi
			done
			echo "$ok"' _ "http://$VIP_URL:8000/")
	fi
	info "after the flood: $after of 20 fresh connections succeeded"
	# the long-lived connections
	wait_pid "$sess_pid" $((FLOOD_S + 30))
	wait_pid "$dl_pid" $((FLOOD_S + 30))
	info "echo session: $(cat "$CASE_DIR/session.log")"
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	got=$(sha256sum <"$CASE_DIR/slow.bin" 2>/dev/null | awk '{ print $1 }')
	new_d=$(( $(ctr "$CASE_DIR/s1" new_flow) - $(ctr "$CASE_DIR/s0" new_flow) ))
	prom_d=$(( $(ctr "$CASE_DIR/s1" promoted) - $(ctr "$CASE_DIR/s0" promoted) ))
	rx_d=$(( $(ctr "$CASE_DIR/s1" rx) - $(ctr "$CASE_DIR/s0" rx) ))
	# the SYNs that reached the service: a new half-open pair each, or
	# refused for want of a NAT port or a slot
	seen_d=$(( new_d + $(ctr "$CASE_DIR/s1" drop_nat_ports) - $(ctr "$CASE_DIR/s0" drop_nat_ports) +
		$(ctr "$CASE_DIR/s1" drop_table_full) - $(ctr "$CASE_DIR/s0" drop_table_full) ))
	info "counters during the flood: rx +$rx_d, new_flow +$new_d, promoted +$prom_d, drop_table_full +$(( $(ctr "$CASE_DIR/s1" drop_table_full) - $(ctr "$CASE_DIR/s0" drop_table_full) )), drop_nat_ports +$(( $(ctr "$CASE_DIR/s1" drop_nat_ports) - $(ctr "$CASE_DIR/s0" drop_nat_ports) ))"
	spoofed=$(spoofed_established "$CASE_DIR/flood-conns.json")
	info "spoofed sources in state established after the flood: $spoofed"
	echo "$FAM pps=$pps sent=$sent during_ok=$ok during_total=$((ok + err)) after_ok=$after new_flow=+$new_d promoted=+$prom_d spoofed_established=$spoofed" >"$CASE_DIR/figures"
	# every violated expectation, in one reason
	why=()
	# the flood happened and reached xlb: packets sent; rx and the SYNs
	# seen by the service (new_flow + drop_nat_ports + drop_table_full)
	# at least 1% of them (on this 2-core box both were 13-16% and 11-13%
	# of sent, 2026-11-28: the veth drops the rest); fresh connections
	# were tried during it
	[ "${sent:-0}" -gt 0 ] || why+=("the flood sent no packet ($line)")
	[ "$rx_d" -ge $(( ${sent:-0} / 100 )) ] && [ "$rx_d" -gt 0 ] ||
		why+=("rx grew by $rx_d for ${sent:-0} flood packets sent (less than 1%)")
	[ "$seen_d" -ge $(( ${sent:-0} / 100 )) ] && [ "$seen_d" -gt 0 ] ||
		why+=("new_flow + drop_nat_ports + drop_table_full grew by $seen_d for ${sent:-0} SYNs sent (less than 1%)")
	[ $((ok + err)) -gt 0 ] || why+=("no fresh connection was tried during the flood")
	grep -q '^ok ' "$CASE_DIR/session.log" || why+=("long-lived echo session broke: $(cat "$CASE_DIR/session.log")")
	[ "$got" = "$want" ] || why+=("slow download during the flood: sha256 differs or curl failed ($(stat -c %s "$CASE_DIR/slow.bin" 2>/dev/null) bytes)")
	[ "$after" -eq 20 ] || why+=("after the flood only $after of 20 fresh connections succeeded")
	if [ $((ok + err)) -gt 0 ] && [ "$pct" -lt "$FLOOD_MIN_OK_PCT" ]; then
		why+=("during the flood only $ok of $((ok + err)) fresh connections succeeded ($pct% < $FLOOD_MIN_OK_PCT%)")
	fi
	[ "$new_d" -ge "$ok" ] || why+=("new_flow grew by $new_d, fewer than the $ok legitimate connections")
	[ "$new_d" -le $((sent + ok + err + 10)) ] || why+=("new_flow grew by $new_d, more than the $sent SYNs sent + legitimate")
	[ "$prom_d" -ge "$ok" ] || why+=("promoted grew by $prom_d, fewer than the $ok legitimate connections")
	# spoofed SYNs never complete a handshake: they may only churn the
	# half-open table (xlb_abi.h), never become established flows
	[ "$spoofed" = 0 ] ||
		why+=("$spoofed spoofed half-open connections were promoted to established (promoted +$prom_d for $((ok + err)) legitimate connections)")
	[ ${#why[@]} -eq 0 ] || { fail "$(printf '%s; ' "${why[@]}" | sed 's/; $//')"; return; }
}
case_syn_flood4() { use_family 4; case_syn_flood; }
case_syn_flood6() { use_family 6; case_syn_flood; }

# CASES="name ..." runs only those cases.
for c in fin_rst_release4 fin_rst_release6 syn_flood4 syn_flood6; do
	[ -z "${CASES:-}" ] || [[ " $CASES " = *" $c "* ]] || continue
	run_case "$c" full "case_$c"
done
e2e_finish
