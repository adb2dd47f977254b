#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119,SC2016  # "A && B || fail" is intended; helpers take optional args; bash -c scripts
# A UDP flood at the highest rate this machine makes (tests/tools/flood,
# spoofed sources in 192.0.2.0/24, from a namespace on the balancer's
# LAN, straight to its MAC) against a UDP service of the VIP, while
# legitimate clients use that service and a TCP service of the same VIP:
# the legitimate success rates during the flood are the figures (issue 6;
# docs/reliability.md), and after the flood every request must succeed.
# (The SYN flood is test_lifecycle.sh, syn_flood4/6.)
# Environment: FLOOD_S (default 9: see below), FLOOD_MAX (packet bound, 20000000),
# FLOOD_MIN_TCP_PCT, FLOOD_MIN_UDP_PCT (minimum TCP / UDP success during
# the flood, default 1: on 2 cores the generator and the balancer share the
# CPUs, so the rate is a figure to report; at least one request must get
# through).  The flood itself must be seen: packets sent, and rx and the
# datagrams seen by the service (new_flow + drop_nat_ports +
# drop_table_full) at least 1% of them.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FLOOD=${FLOOD:-$ROOT/build/tools/flood}
# The flood takes every NAT port of both backends (2 x 31,744) in about a
# second; from then on a new UDP flow gets a port only as the flood's
# pairs age past 2 s of silence (XLB_UDP_PRESSED_GRACE_NS), in
# competition with the flood: about half the queries are answered on
# this 2-core box.  A query that started after the ports ran out saw
# them all refused while pairs held ports 5 s (CI, 2026-11-28: 0 of 6,
# docs/reliability.md B30); 9 s of flood give a dozen queries.
FLOOD_S=${FLOOD_S:-9}
FLOOD_MAX=${FLOOD_MAX:-20000000}
FLOOD_MIN_TCP_PCT=${FLOOD_MIN_TCP_PCT:-1}
FLOOD_MIN_UDP_PCT=${FLOOD_MIN_UDP_PCT:-1}
FLOOD_IP=198.51.100.67

ctr() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$1" "$2"; }

case_udp_flood() {
	local ns_fl lb_mac fl_pid line sent pps w wpids=() udp_ok udp_all tcp_ok tcp_all
	local after_udp after_tcp upct tpct t_end rx_d seen_d why=()
	need_xlb || return
	[ -x "$FLOOD" ] || { skip "$FLOOD not built (make)"; return; }
	start_http_backends || return
	start_udp_echo "$NS_BE1" "$BE1_IP" 5353 backend-01 &&
		start_udp_echo "$NS_BE2" "$BE2_IP" 5353 backend-02 || return
	xlb_start --vip "$VIP:5353/udp" --backends "$BE1_IP,$BE2_IP" \
		--vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	ns_fl=xlbt-$RUN_TOKEN-$CASE_SEQ-flood
	ns_add "$ns_fl" && lan_port "$ns_fl" eth0 "$FLOOD_IP" p-flood || { fail "flood namespace"; return; }
	lb_mac=$(ip -n "$NS_LB" -br link show dev "$LB_IF" | awk '{ print $3 }')
	# the service works before
	in_ns 20 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP" --port 5353 --count 4 \
		--timeout 1 --retries 2 >"$CASE_DIR/before.txt"
	[ "$(grep -c '^backend-0' "$CASE_DIR/before.txt")" = 4 ] || { fail "UDP service not working before the flood"; return; }
	xlb_cmd stats -i "$LB_IF" -j >"$CASE_DIR/s0.json" || { fail "xlb stats"; return; }

	bg flood "$ns_fl" "$FLOOD" -i eth0 --dmac "$lb_mac" --dst "$VIP" --dport 5353 --proto udp \
		--src 192.0.2.0/24 --count "$FLOOD_MAX" --duration "$FLOOD_S" --batch 64
	fl_pid=$BG_PID
	sleep 0.3
	# legitimate clients while it runs, bounded by its end, time and count:
	# UDP queries (each from a new socket: a new flow; one retry after
	# 0.5 s) and HTTP requests (each a new connection)
	bg during-udp "$NS_CLI" "$PY" -c '
import os, socket, sys, time
pid, vip, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.monotonic() + secs
for i in range(1000):
    if time.monotonic() > end:
        break
    try:
        os.kill(pid, 0)
    except OSError:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    ans = "timeout"
    for attempt in range(2):
        try:
            s.sendto(b"q%d" % i, (vip, 5353))
            ans = s.recv(512).decode(errors="replace").split()[0]
            break
        except OSError:
            pass
    s.close()
    print(ans, flush=True)' "$fl_pid" "$VIP" $((FLOOD_S + 3))
	wpids+=("$BG_PID")
	# three HTTP clients side by side, each request allowed 3 s (the
	# SYN and its retransmissions at 1 s and 3 s): one sequential client
	# with 2 s made only ~3 attempts in the flood, and 0 of 3 happened
	# (1 run in 4 on this 2-core box, before and after the changes of
	# 2026-11-27): too few samples for a rate
	for w in 1 2 3; do
		bg "during-tcp$w" "$NS_CLI" bash -c '
			end=$((SECONDS + $1))
			for ((i = 0; i < 200 && SECONDS < end; i++)); do
				kill -0 "$2" 2>/dev/null || break
				curl -s --max-time 3 "$3" || echo "error-$?"
				echo
			done' _ $((FLOOD_S + 3)) "$fl_pid" "http://$VIP:8000/"
		wpids+=("$BG_PID")
	done
	wait_pid "$fl_pid" $((FLOOD_S + 5))
	t_end=$(date +%s%3N)
	for w in "${wpids[@]}"; do wait_pid "$w" 10; done
	xlb_cmd stats -i "$LB_IF" -j >"$CASE_DIR/s1.json"
	line=$(grep '^flood:' "$CASE_DIR/flood.log")
	[ -n "$line" ] || { fail "flood tool printed nothing: $(head -c 300 "$CASE_DIR/flood.log")"; return; }
	sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$line") pps=$(sed -n 's/.* pps=\([0-9]*\).*/\1/p' <<<"$line")
	udp_all=$(grep -c . "$CASE_DIR/during-udp.log") udp_ok=$(grep -c '^backend-0' "$CASE_DIR/during-udp.log")
	cat "$CASE_DIR"/during-tcp[123].log >"$CASE_DIR/during-tcp.log"
	tcp_all=$(grep -c . "$CASE_DIR/during-tcp.log") tcp_ok=$(grep -c '^backend-0' "$CASE_DIR/during-tcp.log")
	upct=$(( udp_all ? 100 * udp_ok / udp_all : 0 )) tpct=$(( tcp_all ? 100 * tcp_ok / tcp_all : 0 ))
	info "flood: $line"
	info "during the flood: UDP $udp_ok of $udp_all queries answered ($upct%), TCP $tcp_ok of $tcp_all requests ($tpct%)"
	info "counters during the flood: new_flow +$(( $(ctr "$CASE_DIR/s1.json" new_flow) - $(ctr "$CASE_DIR/s0.json" new_flow) )), fwd_to_backend +$(( $(ctr "$CASE_DIR/s1.json" fwd_to_backend) - $(ctr "$CASE_DIR/s0.json" fwd_to_backend) )), drop_fib_unreach +$(( $(ctr "$CASE_DIR/s1.json" drop_fib_unreach) - $(ctr "$CASE_DIR/s0.json" drop_fib_unreach) )), drop_nat_ports +$(( $(ctr "$CASE_DIR/s1.json" drop_nat_ports) - $(ctr "$CASE_DIR/s0.json" drop_nat_ports) ))"
	# after: back to normal, TCP at once (a half-open pair gives its NAT
	# port after 1 s), UDP once the flood's pairs have been silent for 5 s
	# (XLB_UDP_IDLE_GRACE_NS: a UDP pair keeps its port that long, for
	# slow answers; the flood may have taken every port of a backend)
	sleep 1
	after_tcp=$(http_loop "$NS_CLI" 20 "http://$VIP:8000/" | grep -c '^backend-0')
	w=$((t_end + 5500 - $(date +%s%3N)))
	[ "$w" -gt 0 ] && sleep "$(awk -v m="$w" 'BEGIN { printf "%.3f", m / 1000 }')"
	after_udp=$(in_ns 60 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP" --port 5353 --count 20 \
		--timeout 1 --retries 2 | grep -c '^backend-0')
	info "after the flood: UDP $after_udp of 20, TCP $after_tcp of 20"
	echo "udp_flood pps=$pps sent=$sent udp_during=$udp_ok/$udp_all tcp_during=$tcp_ok/$tcp_all udp_after=$after_udp/20 tcp_after=$after_tcp/20" |
		tee "$CASE_DIR/figures" >>"${FLOOD_FIGURES:-/dev/null}"
	# the flood happened and reached xlb (on this 2-core box rx grew by
	# ~13% and new_flow + drop_nat_ports by ~11% of sent, 2026-11-28: the
	# veth drops the rest): at least 1% each
	cdelta() { echo $(( $(ctr "$CASE_DIR/s1.json" "$1") - $(ctr "$CASE_DIR/s0.json" "$1") )); }
	rx_d=$(cdelta rx)
	seen_d=$(( $(cdelta new_flow) + $(cdelta drop_nat_ports) + $(cdelta drop_table_full) ))
	[ "${sent:-0}" -gt 0 ] || why+=("the flood sent no packet ($line)")
	[ "$rx_d" -ge $(( ${sent:-0} / 100 )) ] && [ "$rx_d" -gt 0 ] ||
		why+=("rx grew by $rx_d for ${sent:-0} flood packets sent (less than 1%)")
	[ "$seen_d" -ge $(( ${sent:-0} / 100 )) ] && [ "$seen_d" -gt 0 ] ||
		why+=("new_flow + drop_nat_ports + drop_table_full grew by $seen_d for ${sent:-0} datagrams sent (less than 1%)")
	[ "$udp_all" -gt 0 ] || why+=("no UDP query was made during the flood")
	[ "$tcp_all" -gt 0 ] || why+=("no HTTP request was made during the flood")
	[ "$udp_all" -gt 0 ] && [ "$upct" -lt "$FLOOD_MIN_UDP_PCT" ] &&
		why+=("during the flood only $udp_ok of $udp_all UDP queries answered ($upct% < $FLOOD_MIN_UDP_PCT%)")
	[ "$after_udp" = 20 ] || why+=("after the flood only $after_udp of 20 UDP queries answered")
	[ "$after_tcp" = 20 ] || why+=("after the flood only $after_tcp of 20 HTTP requests succeeded")
	[ "$tcp_all" -gt 0 ] && [ "$tpct" -lt "$FLOOD_MIN_TCP_PCT" ] &&
		why+=("during the flood only $tcp_ok of $tcp_all HTTP requests succeeded ($tpct% < $FLOOD_MIN_TCP_PCT%)")
	[ ${#why[@]} -eq 0 ] || fail "$(printf '%s; ' "${why[@]}" | sed 's/; $//')"
}

run_case udp_flood full case_udp_flood
e2e_finish
