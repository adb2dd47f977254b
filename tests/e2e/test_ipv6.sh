#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119,SC2016  # "A && B || fail" is intended; helpers take optional args; bash -c scripts
# The IPv4 suite's checks over IPv6 (topology: lib.sh topo_ipv6): round-robin
# and weighted round-robin distribution, two clients on the same source
# port, a UDP service, 10 MiB intact, the balancer's own IPv6 address
# (a local TCP service, ping, neighbour discovery), an IPv4 and an IPv6
# service in one instance, and a first connection that does not wait for
# the gateway's neighbour entry.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SAME_PORT=40000
URL6="http://[$VIP6]:8000"

# http_loop6 NS COUNT URL: like http_loop (curl -g: the URL has brackets).
http_loop6() {
	local ns=$1 count=$2 url=$3
	tmo $((count / 2 + 30)) ip netns exec "$ns" bash -c '
		for ((i = 0; i < $1; i++)); do
			out=$(curl -g -s --max-time 5 -w " %{local_port}" "$2") || out="error-$? -"
			echo "$out" | tr "\n" " " | sed "s/  */ /g; s/ $//"; echo
		done' _ "$count" "$url"
}

start_http6_backends() {
	start_http "$NS_BE1" "$BE1_IP6" backend-01 8000 &&
		start_http "$NS_BE2" "$BE2_IP6" backend-02 8000
}

case_rr6() {
	local out=$CASE_DIR/answers.txt n1 n2 nerr seq
	need_xlb || return
	start_http6_backends || return
	xlb_start --vip "[$VIP6]:8000" --backends "[$BE1_IP6],[$BE2_IP6]" || return
	http_loop6 "$NS_CLI" 100 "$URL6/" >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	nerr=$(grep -c '^error' "$out")
	seq=$(head -n 10 "$out" | awk '{ print $1 }' | tr '\n' ' ')
	info "100 connections: backend-01 $n1, backend-02 $n2, errors $nerr; first 10: $seq"
	[ "$n1" -eq 50 ] && [ "$n2" -eq 50 ] ||
		{ fail "expected 50/50, got backend-01 $n1, backend-02 $n2, errors $nerr"; return; }
	head -n 10 "$out" | awk 'NR > 1 && $1 == prev { bad = 1 } { prev = $1 } END { exit bad }' ||
		{ fail "first 10 answers do not alternate: $seq"; return; }
	xlb_stop || return
	[ "$XLB_RC" = 0 ] || fail "xlb run exited with $XLB_RC after xlb stop"
}

case_wrr6() {
	local out=$CASE_DIR/answers.txt n1 n2 nerr runs
	need_xlb || return
	start_http6_backends || return
	xlb_start --vip "[$VIP6]:8000" --algo wrr --backends "[$BE1_IP6]@1,[$BE2_IP6]@2" || return
	http_loop6 "$NS_CLI" 90 "$URL6/" >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	nerr=$(grep -c '^error' "$out")
	info "90 connections: backend-01 $n1, backend-02 $n2, errors $nerr; first 9: $(head -n 9 "$out" | awk '{ print $1 }' | tr '\n' ' ')"
	[ "$n1" -eq 30 ] && [ "$n2" -eq 60 ] ||
		{ fail "expected 30/60, got backend-01 $n1, backend-02 $n2, errors $nerr"; return; }
	runs=$(awk '{ if ($1 == prev) r++; else r = 1; prev = $1;
		if (r > max[$1]) max[$1] = r }
		END { printf "%d %d", max["backend-01"], max["backend-02"] }' "$out")
	[ "$runs" = "1 2" ] || fail "longest runs (backend-01 backend-02) are $runs, expected 1 2"
}

# Two clients, same source port, one backend, connections open at once
# (the server answers after 1 s): each must get its own answer.
case_same_source_port6() {
	local t1 t2 p1 p2 a1 a2
	need_xlb || return
	start_tcp_echo "$NS_BE1" "$BE1_IP6" 8001 backend-01 1 || return
	xlb_start --vip "[$VIP6]:8001" --backends "[$BE1_IP6]" || return
	t1=token-client1-$RANDOM t2=token-client2-$RANDOM
	bg echo-client1 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP6" --port 8001 \
		--bind-port "$SAME_PORT" --send "$t1" --timeout 8
	p1=$BG_PID
	bg echo-client2 "$NS_CLI2" "$PY" "$NETTOOL" tcp-client --dst "$VIP6" --port 8001 \
		--bind-port "$SAME_PORT" --send "$t2" --timeout 8
	p2=$BG_PID
	wait_pid "$p1" 12
	wait_pid "$p2" 12
	a1=$(cat "$CASE_DIR/echo-client1.log") a2=$(cat "$CASE_DIR/echo-client2.log")
	info "client1 got '$a1'; client2 got '$a2'"
	[ "$a1" = "backend-01 $t1" ] || { fail "client1 expected 'backend-01 $t1', got '$a1'"; return; }
	[ "$a2" = "backend-01 $t2" ] || fail "client2 expected 'backend-01 $t2', got '$a2'"
}

case_udp6() {
	local out=$CASE_DIR/answers.txt n1 n2 seq
	need_xlb || return
	start_udp_echo "$NS_BE1" "$BE1_IP6" 5353 backend-01 &&
		start_udp_echo "$NS_BE2" "$BE2_IP6" 5353 backend-02 || return
	xlb_start --vip "[$VIP6]:5353/udp" --backends "[$BE1_IP6],[$BE2_IP6]" || return
	in_ns 60 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP6" --port 5353 \
		--count 10 --timeout 1 --retries 3 >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	seq=$(awk '{ print $1 }' "$out" | tr '\n' ' ')
	info "10 queries (one socket each): $seq"
	[ "$n1" -eq 5 ] && [ "$n2" -eq 5 ] || { fail "expected 5/5 answers, got: $seq"; return; }
	awk 'NR > 1 && $1 == prev { bad = 1 } { prev = $1 } END { exit bad }' "$out" ||
		fail "answers do not alternate: $seq"
}

# 10 MiB through the IPv6 VIP, once from each backend, compared by sha256.
case_transfer_10mb6() {
	local want got i
	need_xlb || return
	start_http6_backends || return
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	xlb_start --vip "[$VIP6]:8000" --backends "[$BE1_IP6],[$BE2_IP6]" || return
	for i in 1 2; do
		rm -f "$CASE_DIR/got.bin"
		in_ns 40 "$NS_CLI" curl -g -sS --max-time 30 -o "$CASE_DIR/got.bin" \
			"$URL6/big.bin" 2>"$CASE_DIR/curl-$i.log" ||
			{ fail "transfer $i: curl failed: $(cat "$CASE_DIR/curl-$i.log")"; return; }
		got=$(sha256sum <"$CASE_DIR/got.bin" | awk '{ print $1 }')
		[ "$got" = "$want" ] ||
			{ fail "transfer $i: sha256 differs ($(stat -c %s "$CASE_DIR/got.bin") bytes received)"; return; }
	done
}

# The lb's own IPv6 address: a local TCP service (not managed by xlb) stays
# reachable, the address answers ping -6, and neighbour discovery keeps
# working through the XDP program (the gateway's entry for the lb is
# flushed, so it must solicit it again while xlb is attached).
case_lb_local_service6() {
	local tok a
	need_xlb || return
	start_http6_backends || return
	start_tcp_echo "$NS_LB" "$LB_IP6" 9000 lb-local || return
	xlb_start --vip "[$VIP6]:8000" --backends "[$BE1_IP6],[$BE2_IP6]" || return
	a=$(http_loop6 "$NS_CLI" 2 "$URL6/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "VIP answers '$a'"; return; }
	tok=local-$RANDOM
	a=$(in_ns 10 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$LB_IP6" --port 9000 --send "$tok")
	[ "$a" = "lb-local $tok" ] || { fail "[$LB_IP6]:9000 answered '$a'"; return; }
	ip -n "$NS_GW" -6 neigh flush dev eth1
	ip -n "$NS_LB" -6 neigh flush dev "$LB_IF" nud all 2>/dev/null
	in_ns 10 "$NS_CLI" ping -6 -c3 -i0.2 -W1 "$LB_IP6" >"$CASE_DIR/ping.log" 2>&1 ||
		{ fail "ping -6 $LB_IP6 failed after flushing the neighbour caches"; return; }
	ip -n "$NS_GW" -6 neigh show "$LB_IP6" dev eth1 >"$CASE_DIR/gw-neigh.log"
	grep -qE 'REACHABLE|STALE|DELAY|PROBE' "$CASE_DIR/gw-neigh.log" ||
		{ fail "gateway did not re-learn $LB_IP6: $(cat "$CASE_DIR/gw-neigh.log")"; return; }
	# the VIP still works after the flush, and so does the local service
	a=$(http_loop6 "$NS_CLI" 2 "$URL6/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "VIP answers '$a' after the flush"; return; }
	a=$(in_ns 10 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$LB_IP6" --port 9000 --send "$tok")
	[ "$a" = "lb-local $tok" ] || fail "[$LB_IP6]:9000 answered '$a' the second time"
}

# The first connection after a start: the balancer has no neighbour entry
# for the gateway's global address (the gateway solicited the VIP from its
# link-local one), so the program cannot send the SYN-ACK
# (drop_fib_no_neigh); xlb run sends it through the kernel, which resolves
# the gateway, and the client does not wait 1 s for its SYN's
# retransmission.
syn_retrans() {
	ip netns exec "$1" awk '$1 == "TcpExt:" && !h { split($0, n); h = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (n[i] == "TCPSynRetrans") print $i }' /proc/net/netstat
}

case_first_connection6() {
	local port=9102 r0 r1 t a
	need_xlb || return
	start_http6_backends || return
	xlb_start --vip "[$VIP6]:8000" --backends "[$BE1_IP6],[$BE2_IP6]" \
		--metrics "127.0.0.1:$port" || return
	r0=$(syn_retrans "$NS_CLI")
	# curl's own exit status (not a pipe's), and the body must be an answer
	a=$(in_ns 10 "$NS_CLI" curl -g -s --max-time 5 -w ' %{time_connect}' "$URL6/") ||
		{ fail "the first request failed (curl exit $?): $(printf '%s' "$a" | tr '\n' ' ')"; return; }
	a=$(printf '%s' "$a" | tr '\n' ' ')
	r1=$(syn_retrans "$NS_CLI")
	t=${a##* }
	info "first connection: answer and connect time (s): $a; client SYN retransmissions $r0 -> $r1"
	case ${a%% *} in
	backend-01 | backend-02) ;;
	*) fail "the first request's answer is not a backend's: '$a'"; return ;;
	esac
	stats_snap
	[ "$(stat_of drop_fib_no_neigh)" -ge 1 ] ||
		{ fail "no drop_fib_no_neigh: the case did not meet an unresolved next hop"; return; }
	[ "$r1" = "$r0" ] || { fail "the client retransmitted its SYN ($r0 -> $r1)"; return; }
	"$PY" -c 'import sys; sys.exit(float(sys.argv[1]) >= 0.5)' "$t" ||
		{ fail "connect took $t s"; return; }
	in_ns 5 "$NS_LB" curl -sS --max-time 3 "http://127.0.0.1:$port/metrics" >"$CASE_DIR/metrics.txt" ||
		{ fail "scrape failed"; return; }
	grep -qE '^xlb_no_neigh_packets_total\{result="sent"\} [1-9]' "$CASE_DIR/metrics.txt" ||
		fail "metrics: $(grep no_neigh "$CASE_DIR/metrics.txt")"
}

# One instance, an IPv4 and an IPv6 service side by side.
case_dual_stack() {
	local a b
	need_xlb || return
	start_http_backends || return
	start_http "$NS_BE1" "$BE1_IP6" backend-01-v6 8000 &&
		start_http "$NS_BE2" "$BE2_IP6" backend-02-v6 8000 || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" \
		--vip "[$VIP6]:8000" --backends "[$BE1_IP6],[$BE2_IP6]" || return
	a=$(http_loop "$NS_CLI" 4 "http://$VIP:8000/" | awk '{ print $1 }' | sort | uniq -c | xargs)
	b=$(http_loop6 "$NS_CLI" 4 "$URL6/" | awk '{ print $1 }' | sort | uniq -c | xargs)
	info "IPv4 VIP: $a; IPv6 VIP: $b"
	[ "$a" = "2 backend-01 2 backend-02" ] || { fail "IPv4 VIP answers: $a"; return; }
	[ "$b" = "2 backend-01-v6 2 backend-02-v6" ] || fail "IPv6 VIP answers: $b"
}

run_case first_connection6 full case_first_connection6
run_case rr6 full case_rr6
run_case wrr6 full case_wrr6
run_case same_source_port6 full2 case_same_source_port6
run_case udp6 full case_udp6
run_case transfer_10mb6 full case_transfer_10mb6
run_case lb_local_service6 full case_lb_local_service6
run_case dual_stack full case_dual_stack
e2e_finish
