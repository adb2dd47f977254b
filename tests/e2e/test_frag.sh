#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# IP fragments through the balancer, over IPv4 and IPv6 (bpf/frag.h): UDP
# datagrams larger than the path MTU (every link 1500, the veth default),
# fragmented by the sender's kernel.  Only a datagram's first fragment
# carries the ports; xlb forwards it like a whole packet and its later
# fragments to the same flow.  Before, every fragment was passed to the
# lb's kernel, which reassembled the datagram for an address of its own
# (the VIP, the SNAT address) with nothing listening: it never reached
# the receiver.
#   upload*: the client sends 3500-byte datagrams (3 fragments each) to the
#     VIP, one socket each (a new flow each: round robin puts them on both
#     backends); the UDP echo answers "NAME <datagram>", fragmented by the
#     backend's kernel; every answer must come back byte for byte.
#   download*: a small request "fill 4000 SEED"; the backend answers with
#     4000 bytes made from SEED (3 fragments); every answer must be whole.
# Each case also checks `xlb stats -j`: frag_forwarded grew by at least
# the later fragments of the datagrams sent (both ways), pass_fragment
# did not grow (no fragment of these flows reached the lb's kernel).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=5353
QUERIES=6       # one flow each: 3 per backend
UP_BYTES=3500   # upload: the query's size (the answer: "backend-0N " + it)
DOWN_BYTES=4000 # download: the answer's size after "backend-0N "

# use_family 4|6: this family's addresses, and a fragment's most payload
# bytes at MTU 1500 (a multiple of 8 after the IP header, and the IPv6
# fragment header): 1480, 1448.
use_family() {
	FAM=$1
	if [ "$FAM" = 6 ]; then
		VIP_=$VIP6 VIP_EP="[$VIP6]" BE1_=$BE1_IP6 BE1_EP="[$BE1_IP6]"
		BE2_=$BE2_IP6 BE2_EP="[$BE2_IP6]" FRAG_BYTES=1448
	else
		VIP_=$VIP VIP_EP=$VIP BE1_=$BE1_IP BE1_EP=$BE1_IP
		BE2_=$BE2_IP BE2_EP=$BE2_IP FRAG_BYTES=1480
	fi
}

# stats_counters FILE: `xlb stats -j` counters as name=value lines.
stats_counters() {
	xlb_cmd stats -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
for k, v in json.load(sys.stdin)["counters"].items():
    print("%s=%s" % (k, v))' >"$1"
}
# delta NAME: counter NAME in $CASE_DIR/s1 minus $CASE_DIR/s0 (empty if
# either snapshot lacks it).
delta() {
	local a b
	a=$(awk -F= -v k="$1" '$1 == k { print $2 }' "$CASE_DIR/s0")
	b=$(awk -F= -v k="$1" '$1 == k { print $2 }' "$CASE_DIR/s1")
	[ -n "$a" ] && [ -n "$b" ] && echo $((b - a))
}

# later_frags UDP_BYTES: the fragments after the first of a UDP datagram
# of UDP_BYTES (header included) at MTU 1500.
later_frags() { echo $((($1 + FRAG_BYTES - 1) / FRAG_BYTES - 1)); }

# frag_case upload|download: QUERIES datagrams through the VIP, each on a
# new socket, each answer checked whole by nettool.py udp-client.
frag_case() {
	local how=$1 out=$CASE_DIR/answers.txt opt want_later n1 n2 nok fwd pass seq
	need_xlb || return
	start_udp_echo "$NS_BE1" "$BE1_" "$PORT" backend-01 &&
		start_udp_echo "$NS_BE2" "$BE2_" "$PORT" backend-02 || return
	xlb_start --vip "$VIP_EP:$PORT/udp" --backends "$BE1_EP,$BE2_EP" || return
	# later fragments per query, both ways: the UDP header is 8 bytes, the
	# answer's prefix "backend-0N " 11
	if [ "$how" = upload ]; then
		opt=(--size "$UP_BYTES")
		want_later=$(($(later_frags $((UP_BYTES + 8))) + $(later_frags $((UP_BYTES + 19)))))
	else
		opt=(--answer-size "$DOWN_BYTES")
		want_later=$(later_frags $((DOWN_BYTES + 19)))
	fi
	want_later=$((want_later * QUERIES))
	# Two small queries first (one per backend): the lb resolves its next
	# hops.  A packet to an unresolved one goes out through xlb run
	# (drop_fib_no_neigh), not the program: over IPv6 the gateway's global
	# address is not resolved at the start (test_ipv6.sh
	# first_connection6), and the first answer's fragments would not count
	# as frag_forwarded.
	in_ns 30 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP_" --port "$PORT" \
		--count 2 --timeout 1 --retries 3 >"$CASE_DIR/warmup.txt" ||
		{ fail "small queries before the test: $(paste -sd' ' "$CASE_DIR/warmup.txt")"; return; }
	stats_counters "$CASE_DIR/s0" || { fail "xlb stats -j failed"; return; }
	# a lost datagram is resent twice from its socket (1 s apart): 18 s at
	# most when none gets through
	in_ns 60 "$NS_CLI" "$PY" "$NETTOOL" udp-client --dst "$VIP_" --port "$PORT" \
		--count "$QUERIES" --timeout 1 --retries 2 "${opt[@]}" >"$out"
	stats_counters "$CASE_DIR/s1" || { fail "xlb stats -j failed"; return; }
	fwd=$(delta frag_forwarded) pass=$(delta pass_fragment)
	nok=$(awk '$2 == "intact"' "$out" | wc -l)
	n1=$(awk '$1 == "backend-01" && $2 == "intact"' "$out" | wc -l)
	n2=$(awk '$1 == "backend-02" && $2 == "intact"' "$out" | wc -l)
	# "backend-01 intact 3500", "timeout": one per query
	seq=$(awk '{ print (NF > 1 ? $1 " " $2 " " $3 : $1) }' "$out" | paste -sd, | sed 's/,/, /g')
	info "$QUERIES ${how}s: $seq; frag_forwarded +$fwd (at least $want_later expected), pass_fragment +$pass"
	[ "$nok" -eq "$QUERIES" ] ||
		{ fail "expected $QUERIES intact answers, got $nok: $seq"; return; }
	[ "$n1" -eq $((QUERIES / 2)) ] && [ "$n2" -eq $((QUERIES / 2)) ] ||
		{ fail "expected $((QUERIES / 2)) answers from each backend, got backend-01 $n1, backend-02 $n2"; return; }
	[[ $fwd =~ ^[0-9]+$ && $pass =~ ^-?[0-9]+$ ]] ||
		{ fail "counters frag_forwarded/pass_fragment missing from xlb stats -j: '$fwd' '$pass'"; return; }
	[ "$fwd" -ge "$want_later" ] ||
		{ fail "frag_forwarded +$fwd, expected at least $want_later (the later fragments of the datagrams, both ways)"; return; }
	[ "$pass" -eq 0 ] || fail "pass_fragment +$pass: fragments of tracked flows reached the lb's kernel"
}

case_upload4() { use_family 4; frag_case upload; }
case_upload6() { use_family 6; frag_case upload; }
case_download4() { use_family 4; frag_case download; }
case_download6() { use_family 6; frag_case download; }

# CASES="name ..." runs only those cases.
for c in upload4 upload6 download4 download6; do
	[ -z "${CASES:-}" ] || [[ " $CASES " = *" $c "* ]] || continue
	run_case "$c" full "case_$c"
done
e2e_finish
