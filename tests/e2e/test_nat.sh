#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Full NAT through the VIP: clients sharing a source port, UDP, the
# balancer's own address, a large transfer.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SAME_PORT=40000

# Two clients, same source port, same (single) backend, at the same time:
# each downloads 10 MiB (rate-limited so that the transfers overlap).
case_same_source_port_http() {
	local want p1 p2 h1 h2 rc1 rc2
	need_xlb || return
	start_http "$NS_BE1" "$BE1_IP" backend-01 || return
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP" || return
	bg curl-client1 "$NS_CLI" curl -sS --max-time 20 --limit-rate 5M --local-port "$SAME_PORT" \
		-o "$CASE_DIR/client1.bin" "http://$VIP:8000/big.bin"
	p1=$BG_PID
	bg curl-client2 "$NS_CLI2" curl -sS --max-time 20 --limit-rate 5M --local-port "$SAME_PORT" \
		-o "$CASE_DIR/client2.bin" "http://$VIP:8000/big.bin"
	p2=$BG_PID
	wait_pid "$p1" 25; rc1=$STOP_RC
	wait_pid "$p2" 25; rc2=$STOP_RC
	h1=$(sha256sum <"$CASE_DIR/client1.bin" 2>/dev/null | awk '{ print $1 }')
	h2=$(sha256sum <"$CASE_DIR/client2.bin" 2>/dev/null | awk '{ print $1 }')
	info "client1 curl exit $rc1, client2 curl exit $rc2"
	[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || { fail "curl exit codes: client1 $rc1, client2 $rc2"; return; }
	[ "$h1" = "$want" ] || { fail "client1 (port $SAME_PORT) got a corrupted file"; return; }
	[ "$h2" = "$want" ] || fail "client2 (port $SAME_PORT) got a corrupted file"
}

# Same, with a server that answers each connection with what it was sent
# (after a delay, so both connections are open at once): a client that
# receives the other one's answer shows up immediately.
case_same_source_port_echo() {
	local t1 t2 p1 p2 a1 a2
	need_xlb || return
	start_tcp_echo "$NS_BE1" "$BE1_IP" 8001 backend-01 1 || return
	xlb_start --vip "$VIP:8001" --backends "$BE1_IP" || return
	t1=token-client1-$RANDOM t2=token-client2-$RANDOM
	bg echo-client1 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" --port 8001 \
		--bind-port "$SAME_PORT" --send "$t1" --timeout 8
	p1=$BG_PID
	bg echo-client2 "$NS_CLI2" "$PY" "$NETTOOL" tcp-client --dst "$VIP" --port 8001 \
		--bind-port "$SAME_PORT" --send "$t2" --timeout 8
	p2=$BG_PID
	wait_pid "$p1" 12
	wait_pid "$p2" 12
	a1=$(cat "$CASE_DIR/echo-client1.log") a2=$(cat "$CASE_DIR/echo-client2.log")
	info "client1 got '$a1'; client2 got '$a2'"
	[ "$a1" = "backend-01 $t1" ] || { fail "client1 expected 'backend-01 $t1', got '$a1'"; return; }
	[ "$a2" = "backend-01 $t2" ] || fail "client2 expected 'backend-01 $t2', got '$a2'"
}

case_udp() {
	local out=$CASE_DIR/answers.txt n1 n2 seq
	need_xlb || return
	start_udp_echo "$NS_BE1" "$BE1_IP" 5353 backend-01 &&
		start_udp_echo "$NS_BE2" "$BE2_IP" 5353 backend-02 || return
	xlb_start --vip "$VIP:5353/udp" --backends "$BE1_IP,$BE2_IP" || return
	in_ns 60 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP" --port 5353 \
		--count 10 --timeout 1 --retries 3 >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	seq=$(awk '{ print $1 }' "$out" | tr '\n' ' ')
	info "10 queries (one socket each): $seq"
	[ "$n1" -eq 5 ] && [ "$n2" -eq 5 ] || { fail "expected 5/5 answers, got: $seq"; return; }
	awk 'NR > 1 && $1 == prev { bad = 1 } { prev = $1 } END { exit bad }' "$out" ||
		fail "answers do not alternate: $seq"
}

# A service on the balancer's own address, not managed by xlb, stays
# reachable; the address answers ping; the VIP still works.
case_lb_local_service() {
	local tok a
	need_xlb || return
	start_http_backends || return
	start_tcp_echo "$NS_LB" "$LB_IP" 9000 lb-local || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	a=$(http_loop "$NS_CLI" 2 "http://$VIP:8000/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "VIP answers '$a'"; return; }
	tok=local-$RANDOM
	a=$(in_ns 10 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$LB_IP" --port 9000 --send "$tok")
	[ "$a" = "lb-local $tok" ] || { fail "$LB_IP:9000 answered '$a'"; return; }
	in_ns 10 "$NS_CLI" ping -c3 -i0.2 -W1 "$LB_IP" >"$CASE_DIR/ping.log" 2>&1 ||
		{ fail "ping $LB_IP failed"; return; }
	# and the local service still works after more VIP traffic
	http_loop "$NS_CLI" 2 "http://$VIP:8000/" >/dev/null
	a=$(in_ns 10 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$LB_IP" --port 9000 --send "$tok")
	[ "$a" = "lb-local $tok" ] || fail "$LB_IP:9000 answered '$a' the second time"
}

# 10 MiB through the VIP, once from each backend, compared by sha256.
case_transfer_10mb() {
	local want got i
	need_xlb || return
	start_http_backends || return
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	for i in 1 2; do
		rm -f "$CASE_DIR/got.bin"
		in_ns 40 "$NS_CLI" curl -sS --max-time 30 -o "$CASE_DIR/got.bin" \
			"http://$VIP:8000/big.bin" 2>"$CASE_DIR/curl-$i.log" ||
			{ fail "transfer $i: curl failed: $(cat "$CASE_DIR/curl-$i.log")"; return; }
		got=$(sha256sum <"$CASE_DIR/got.bin" | awk '{ print $1 }')
		[ "$got" = "$want" ] ||
			{ fail "transfer $i: sha256 differs ($(stat -c %s "$CASE_DIR/got.bin") bytes received)"; return; }
	done
}

# A closed connection's NAT port goes to a new connection after 2 s of
# silence (bpf/flow.h flow_free_closed), not after the daemon's 10 s
# closed timeout.  8 NAT ports, one backend (Python's HTTP/1.0 server
# closes first, so each tuple sits in TIME_WAIT on the backend): 8
# connections hold every port; 3.5 s later 8 more connections all
# succeed on the same ports (the backend's TIME_WAIT takes the new SYNs),
# port_takeover +8 or more, no drop_nat_ports.  Without the takeover the
# second batch waits for the expiry (10-12 s) and its first curls time out.
case_nat_ports_reused_after_close() {
	local out1=$CASE_DIR/first.txt out2=$CASE_DIR/second.txt tw t0 t1 d0 d1
	need_xlb || return
	start_http "$NS_BE1" "$BE1_IP" backend-01 || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP" --nat-ports 20000-20007 || return
	http_loop "$NS_CLI" 8 "http://$VIP:8000/" >"$out1"
	[ "$(count backend-01 "$out1")" = 8 ] ||
		{ fail "first 8 connections: $(tr '\n' ' ' <"$out1")"; return; }
	tw=$(ip netns exec "$NS_BE1" ss -Htan state time-wait "( sport = :8000 )" | grep -c ":2000[0-7]")
	info "backend sockets in TIME_WAIT on NAT ports 20000-20007: $tw"
	[ "$tw" -ge 1 ] || { fail "no TIME_WAIT socket on the backend: the test proves nothing"; return; }
	stats_snap || { fail "xlb stats -j failed"; return; }
	t0=$(stat_of port_takeover) d0=$(stat_of drop_nat_ports)
	sleep 3.5
	http_loop "$NS_CLI" 8 "http://$VIP:8000/" >"$out2"
	stats_snap || { fail "xlb stats -j failed"; return; }
	t1=$(stat_of port_takeover) d1=$(stat_of drop_nat_ports)
	# stat_of prints -1 for a counter that is not there (and nothing if
	# the JSON is broken): both snapshots must have both counters
	[[ $t0 =~ ^[0-9]+$ && $t1 =~ ^[0-9]+$ && $d0 =~ ^[0-9]+$ && $d1 =~ ^[0-9]+$ ]] ||
		{ fail "counters port_takeover/drop_nat_ports missing from xlb stats -j: '$t0' '$t1' '$d0' '$d1'"; return; }
	info "second 8 connections: $(count backend-01 "$out2") answered; port_takeover +$((t1 - t0)), drop_nat_ports +$((d1 - d0))"
	[ "$(count backend-01 "$out2")" = 8 ] ||
		{ fail "second 8 connections, 3.5 s after the first closed: $(tr '\n' ' ' <"$out2")"; return; }
	[ $((t1 - t0)) -ge 8 ] || { fail "port_takeover +$((t1 - t0)), expected 8 or more"; return; }
	[ "$d1" = "$d0" ] || fail "drop_nat_ports +$((d1 - d0))"
}

run_case same_source_port_http full2 case_same_source_port_http
run_case same_source_port_echo full2 case_same_source_port_echo
run_case udp full case_udp
run_case lb_local_service full case_lb_local_service
run_case transfer_10mb full case_transfer_10mb
run_case nat_ports_reused_after_close full case_nat_ports_reused_after_close
e2e_finish
