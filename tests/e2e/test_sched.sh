#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Scheduling through the VIP: round-robin, weighted round-robin, several
# services with their own backends and backend ports; mh (Maglev on the
# client's address): affinity over TCP and UDP, a backend that goes
# (drained, deleted, down by health check) moves only its own clients and
# every client is back on its backend when it returns, weights, and a live
# switch between rr and mh; wlc (least connections per weight).
set -u
# shellcheck source-path=SCRIPTDIR source=control_lib.sh
. "$(dirname "$0")/control_lib.sh"

# check_alternating FILE N: the first N answers alternate.
check_alternating() {
	local seq
	seq=$(head -n "$2" "$1" | awk '{ print $1 }' | tr '\n' ' ')
	head -n "$2" "$1" | awk '{ print $1 }' |
		awk 'NR > 1 && $1 == prev { bad = 1 } { prev = $1 } END { exit bad }' ||
		{ fail "first $2 answers do not alternate: $seq"; return; }
}

case_rr() {
	local out=$CASE_DIR/answers.txt n1 n2 nerr
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 300 "http://$VIP:8000/" >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	nerr=$(grep -c '^error' "$out")
	info "300 connections: backend-01 $n1, backend-02 $n2, errors $nerr; first 8: $(head -n 8 "$out" | awk '{ print $1 }' | tr '\n' ' ')"
	[ "$(wc -l <"$out")" -eq 300 ] || { fail "only $(wc -l <"$out") of 300 requests ran"; return; }
	[ "$n1" -eq 150 ] && [ "$n2" -eq 150 ] ||
		{ fail "expected 150/150, got backend-01 $n1, backend-02 $n2, errors $nerr"; return; }
	check_alternating "$out" 10 || return
	if ! check_alternating "$out" 300; then info "note: not all 300 alternate"; fi
	xlb_stop || return
	[ "$XLB_RC" = 0 ] || fail "xlb run exited with $XLB_RC after xlb stop"
}

case_wrr() {
	local out=$CASE_DIR/answers.txt n1 n2 nerr runs
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --algo wrr --backends "$BE1_IP@1,$BE2_IP@2" || return
	http_loop "$NS_CLI" 300 "http://$VIP:8000/" >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	nerr=$(grep -c '^error' "$out")
	info "300 connections: backend-01 $n1, backend-02 $n2, errors $nerr; first 9: $(head -n 9 "$out" | awk '{ print $1 }' | tr '\n' ' ')"
	[ "$n1" -eq 100 ] && [ "$n2" -eq 200 ] ||
		{ fail "expected 100/200, got backend-01 $n1, backend-02 $n2, errors $nerr"; return; }
	# Smooth interleaving: backend-01 never twice in a row, backend-02 at
	# most twice in a row.
	runs=$(awk '{ if ($1 == prev) r++; else r = 1; prev = $1;
		if (r > max[$1]) max[$1] = r }
		END { printf "%d %d", max["backend-01"], max["backend-02"] }' "$out")
	[ "$runs" = "1 2" ] || fail "longest runs (backend-01 backend-02) are $runs, expected 1 2"
}

# Two services on one VIP, each with its own backend; the second maps VIP
# port 8001 to backend port 8000.
case_two_services() {
	local a b
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000/tcp" --backends "$BE1_IP" \
		--vip "$VIP:8001/tcp" --backends "$BE2_IP:8000" || return
	a=$(http_loop "$NS_CLI" 4 "http://$VIP:8000/" | awk '{ print $1 }' | sort | uniq -c | xargs)
	b=$(http_loop "$NS_CLI" 4 "http://$VIP:8001/" | awk '{ print $1 }' | sort | uniq -c | xargs)
	info "port 8000: $a; port 8001: $b"
	[ "$a" = "4 backend-01" ] || { fail "VIP port 8000 answers: $a (expected 4 backend-01)"; return; }
	[ "$b" = "4 backend-02" ] || fail "VIP port 8001 answers: $b (expected 4 backend-02)"
}

# ------------------------------------------------------------------- mh
# The mh cases' clients: 16 more addresses of the client network on the
# client's eth0 (the gateway finds them by ARP as it finds 203.0.113.20).
MH_CLIENTS="203.0.113.30 203.0.113.31 203.0.113.32 203.0.113.33 203.0.113.34 203.0.113.35 203.0.113.36 203.0.113.37 203.0.113.38 203.0.113.39 203.0.113.40 203.0.113.41 203.0.113.42 203.0.113.43 203.0.113.44 203.0.113.45"
# The backend of each client ("last octet:backend number"), from the
# client hash (include/xlb_hash.h) and the Maglev builder (src/sched.c)
# for backends 198.51.100.11.. port 8000.  Neither has a seed: the same on
# every run and every host of one byte order (the hash reads the
# address's words in host order; these are little endian's).  A change
# of either on purpose: mh_exact's failure prints the new map to put here.
MH_MAP2="30:2 31:2 32:2 33:2 34:2 35:2 36:1 37:2 38:2 39:2 40:2 41:1 42:2 43:2 44:2 45:1"
MH_MAP3="30:2 31:3 32:2 33:2 34:2 35:3 36:1 37:3 38:3 39:3 40:3 41:1 42:2 43:2 44:2 45:1"
# .11 of weight 2, .12 of weight 1
MH_MAP2W="30:1 31:2 32:2 33:2 34:1 35:2 36:1 37:1 38:2 39:2 40:1 41:1 42:1 43:2 44:2 45:1"
MH_EXACT=""
[ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" = 1 ] && MH_EXACT=1
HEALTH="http / interval 300ms timeout 200ms rise 2 fall 2"

# mh_clients: the MH_CLIENTS addresses on the client's eth0.
mh_clients() {
	local a
	for a in $MH_CLIENTS; do
		ip -n "$NS_CLI" addr add "$a/24" dev eth0 ||
			{ fail "cannot add $a to the client"; return 1; }
	done
}

# mh_probe tcp|udp ROUNDS: ROUNDS new connections (tcp: curl, a new source
# port each) or queries from new UDP sockets (new ports) from each
# MH_CLIENTS address in turn to VIP port 8000, into MH_OUT
# ($CASE_DIR/probe-N-PROTO.txt), lines "ADDR ANSWER" (ANSWER: the
# backend's name, error-*, timeout); its mh_map in MH_MAP.  Bounded: one
# curl at most 2 s, one query at most 3 x 0.5 s, all in 16 * ROUNDS + 10 s.
MH_PROBES=0
MH_OUT=""
MH_MAP=""
mh_probe() {
	local proto=$1 rounds=$2 n
	MH_PROBES=$((MH_PROBES + 1))
	MH_OUT=$CASE_DIR/probe-$MH_PROBES-$proto.txt
	if [ "$proto" = tcp ]; then
		# shellcheck disable=SC2016,SC2086 # the script expands; MH_CLIENTS: one word per address
		tmo $((16 * rounds + 10)) ip netns exec "$NS_CLI" bash -c '
			rounds=$1 url=$2
			shift 2
			for a in "$@"; do
				for ((i = 0; i < rounds; i++)); do
					out=$(curl -s --max-time 2 --interface "$a" "$url") || out="error-$?"
					echo "$a ${out:-empty}"
				done
			done' _ "$rounds" "http://$VIP:8000/" $MH_CLIENTS >"$MH_OUT"
	else
		# shellcheck disable=SC2016,SC2086
		tmo $((16 * rounds + 10)) ip netns exec "$NS_CLI" bash -c '
			rounds=$1 py=$2 tool=$3 vip=$4
			shift 4
			for a in "$@"; do
				"$py" "$tool" udp-client --dst "$vip" --port 8000 --bind "$a" \
					--count "$rounds" --timeout 0.5 --retries 2 | sed "s/^/$a /"
			done' _ "$rounds" "$PY" "$NETTOOL" "$VIP" $MH_CLIENTS >"$MH_OUT"
	fi
	n=$(wc -l <"$MH_OUT")
	MH_MAP=$(mh_map "$MH_OUT")
	[ "$n" -eq $((16 * rounds)) ] ||
		{ fail "probe $MH_PROBES: $n of $((16 * rounds)) answers: $MH_MAP"; return 1; }
}

# mh_map FILE: per address, in order, "OCTET:B" where B lists the numbers
# of the backends that answered it, "E" for a failure: "30:2 31:1,2 32:E".
mh_map() {
	awk '{ a = $1; sub(/.*\./, "", a); v = $2
		if (v ~ /^backend-[0-9]+$/) sub(/^backend-0*/, "", v); else v = "E"
		if (!(a in m)) { order[++n] = a; m[a] = v }
		else if (index("," m[a] ",", "," v ",") == 0) m[a] = m[a] "," v }
		END { for (i = 1; i <= n; i++) printf "%s%s:%s", (i > 1 ? " " : ""), order[i], m[order[i]]; print "" }' "$1"
}

# mh_affine WHAT N: in MH_MAP every address had one backend, and N
# different backends were used.
mh_affine() {
	local used
	case $MH_MAP in *,* | *E*)
		fail "$1: an address went to several backends or failed: $MH_MAP"
		return 1 ;;
	esac
	used=$(echo "$MH_MAP" | tr ' ' '\n' | cut -d: -f2 | sort -u | xargs)
	[ "$(echo "$used" | wc -w)" -eq "$2" ] ||
		{ fail "$1: backends used: $used, expected $2 different ones: $MH_MAP"; return 1; }
}

# mh_exact WHAT EXPECTED: MH_MAP is EXPECTED (checked on little-endian
# hosts).
mh_exact() {
	[ -z "$MH_EXACT" ] || [ "$MH_MAP" = "$2" ] ||
		{ fail "$1: got $MH_MAP, expected $2"; return 1; }
}

# mh_moved WHAT BEFORE GONE [stay]: compared with the map BEFORE, MH_MAP
# kept every client of the other backends on its backend, and moved every
# client of backend GONE to one other backend (with "stay": to one
# backend, maybe GONE).  The moves in MH_MOVES.
MH_MOVES=""
mh_moved() {
	MH_MOVES=$(awk -v b="$2" -v c="$MH_MAP" -v g="$3" -v s="${4:-}" 'BEGIN {
		n = split(b, B, " ")
		if (split(c, C, " ") != n) { print "not the same addresses"; exit 1 }
		for (i = 1; i <= n; i++) {
			split(B[i], x, ":"); split(C[i], y, ":")
			if (x[2] != g && y[2] != x[2]) bad = bad " " x[1] ":" x[2] "->" y[2]
			else if (x[2] == g && ((y[2] == g && s == "") || y[2] !~ /^[0-9]+$/)) bad = bad " " x[1] ":" x[2] "->" y[2]
			else if (x[2] == g && y[2] != g) moved = moved " " x[1] ":" x[2] "->" y[2]
		}
		if (bad != "") { print "wrong moves:" bad; exit 1 }
		print substr(moved, 2) }') ||
		{ fail "$1: $MH_MOVES (before $2, after $MH_MAP)"; return 1; }
}

# mh_same WHAT BEFORE: MH_MAP is BEFORE: every client on its backend.
mh_same() {
	[ "$MH_MAP" = "$2" ] ||
		{ fail "$1: not every client is back on its backend: before $2, now $MH_MAP"; return 1; }
}

# mh_rr WHAT: in MH_MAP every address's two connections went to both
# backends (rr alternates).
mh_rr() {
	echo "$MH_MAP" | tr ' ' '\n' | cut -d: -f2 | grep -qvxE '1,2|2,1' &&
		{ fail "$1: an address kept one backend (not rr): $MH_MAP"; return 1; }
	return 0
}

# n_up_is N: xlb show -j says N backends of the service are up.
n_up_is() {
	show_json && [ "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["services"][0]["n_up"])' "$CASE_DIR/show.json")" = "$1" ]
}

# mh over TCP: every connection of one address goes to one backend, both
# backends get addresses, as the hash and the table say.
case_mh_affinity() {
	need_xlb || return
	start_http_backends && mh_clients || return
	xlb_start --vip "$VIP:8000" --algo mh --backends "$BE1_IP,$BE2_IP" || return
	mh_probe tcp 4 || return
	info "4 connections from each address: $MH_MAP"
	mh_affine "mh, 4 connections from each address" 2 &&
		mh_exact "mh, two backends" "$MH_MAP2"
}

# mh over UDP: the queries of one address from new sockets (new ports) go
# to one backend; the same backends (address and port) make the same
# table as over TCP.
case_mh_udp() {
	need_xlb || return
	start_udp_echo "$NS_BE1" "$BE1_IP" 8000 backend-01 &&
		start_udp_echo "$NS_BE2" "$BE2_IP" 8000 backend-02 && mh_clients || return
	xlb_start --vip "$VIP:8000/udp" --algo mh --backends "$BE1_IP,$BE2_IP" || return
	mh_probe udp 4 || return
	info "4 sockets from each address: $MH_MAP"
	mh_affine "mh/udp, 4 sockets from each address" 2 &&
		mh_exact "mh/udp, two backends" "$MH_MAP2"
}

# mh, three backends: a backend that leaves (drained, deleted, down by
# health check) moves its own clients only, each to one other backend;
# when it returns (undrained, added again, up) every client is back on
# its first backend.
case_mh_disruption() {
	local base pid3
	need_xlb || return
	start_http_backends && start_backend3 || return
	pid3=$BG_PID
	mh_clients || return
	printf '%s\n' "service $VIP:8000/tcp algo mh" "	health $HEALTH" \
		"	backend $BE1_IP" "	backend $BE2_IP" "	backend $BE3_IP" >"$CASE_DIR/xlb.conf"
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	wait_for 5 "3 backends up" n_up_is 3 || return
	mh_probe tcp 2 || return
	base=$MH_MAP
	info "three backends: $base"
	mh_affine "mh, three backends" 3 && mh_exact "mh, three backends" "$MH_MAP3" || return

	xlb_ok backend drain "$VIP:8000" "$BE2_IP" || return
	mh_probe tcp 2 && mh_moved "backend-02 drained" "$base" 2 || return
	info "backend-02 drained: $MH_MOVES"
	xlb_ok backend undrain "$VIP:8000" "$BE2_IP" || return
	mh_probe tcp 2 && mh_same "backend-02 undrained" "$base" || return

	xlb_ok backend del "$VIP:8000" "$BE1_IP" || return
	mh_probe tcp 2 && mh_moved "backend-01 deleted" "$base" 1 || return
	info "backend-01 deleted: $MH_MOVES"
	xlb_ok backend add "$VIP:8000" "$BE1_IP" || return
	wait_for 5 "backend-01 up again" n_up_is 3 || return
	mh_probe tcp 2 && mh_same "backend-01 added again" "$base" || return

	stop_pid "$pid3"
	wait_for 5 "backend-03 down" n_up_is 2 || return
	mh_probe tcp 2 && mh_moved "backend-03 down" "$base" 3 || return
	info "backend-03 down (health check): $MH_MOVES"
	start_http "$NS_BE1" "$BE3_IP" backend-03 8000 || return
	wait_for 5 "backend-03 up again" n_up_is 3 || return
	mh_probe tcp 2 && mh_same "backend-03 up again" "$base"
}

# A running rr service switched to mh by service set, and back: new
# connections follow the algorithm in place.  With mh a backend's weight
# counts: weight 2 takes more clients and keeps its own, weight 1 again
# gives the first table back.
case_mh_live_switch() {
	local base
	need_xlb || return
	start_http_backends && mh_clients || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	mh_probe tcp 2 && mh_rr "rr" || return

	xlb_ok service set "$VIP:8000" --algo mh || return
	mh_probe tcp 2 || return
	base=$MH_MAP
	info "after service set --algo mh: $base"
	mh_affine "after service set --algo mh" 2 &&
		mh_exact "after service set --algo mh" "$MH_MAP2" || return

	xlb_ok backend set "$VIP:8000" "$BE1_IP" --weight 2 || return
	mh_probe tcp 2 || return
	info "backend-01 weight 2: $MH_MAP"
	mh_affine "backend-01 weight 2" 2 && mh_exact "backend-01 weight 2" "$MH_MAP2W" &&
		mh_moved "backend-01 weight 2" "$base" 2 stay || return
	[ "$(echo "$MH_MAP" | grep -o ':1' | wc -l)" -gt "$(echo "$base" | grep -o ':1' | wc -l)" ] ||
		{ fail "backend-01 of weight 2 took no more clients: before $base, now $MH_MAP"; return; }
	xlb_ok backend set "$VIP:8000" "$BE1_IP" --weight 1 || return
	mh_probe tcp 2 && mh_same "backend-01 weight 1 again" "$base" || return

	xlb_ok service set "$VIP:8000" --algo rr || return
	mh_probe tcp 2 && mh_rr "after service set --algo rr"
}

# mh across a restart of the daemon: SIGTERM leaves the data path, a new
# xlb run with the same backends adopts it and rebuilds the table: every
# client stays on its backend (the table depends only on the backends).
case_mh_restart() {
	local base
	need_xlb || return
	start_http_backends && mh_clients || return
	xlb_start --vip "$VIP:8000" --algo mh --backends "$BE1_IP,$BE2_IP" || return
	mh_probe tcp 1 || return
	base=$MH_MAP
	stop_pid "$XLB_PID" TERM 5 || { fail "xlb run did not exit on SIGTERM"; return; }
	XLB_PID=""
	xlb_start --vip "$VIP:8000" --algo mh --backends "$BE1_IP,$BE2_IP" || return
	grep -q "adopted the pinned state" "$XLB_LOG" || { fail "not adopted: $(tail -n 3 "$XLB_LOG")"; return; }
	mh_probe tcp 1 || return
	info "before the restart $base; after $MH_MAP"
	mh_affine "after a restart" 2 && mh_same "after a restart" "$base" || return
	xlb_stop || return
}

# wlc (weighted least-connection): after each sweep (every 2 s) the
# daemon rebuilds the table from the connections each backend holds.
# Eight connections held open on backend-01, the only backend; then
# backend-02 is added, and once a sweep has counted the eight (xlb show:
# backend-02 takes 100% of new connections), six new
# connections go to backend-02: all six while the table stays (the six
# are what it takes to bring it to backend-01's level, the eight of the
# sweep's estimate); a sweep in the middle, counting the first ones,
# could send one of the last to backend-01, so at least five (rr and
# wrr: three).
case_wlc() {
	local i a1 a2 end
	need_xlb || return
	# the backends answer 30 s after the request: connections held open
	start_tcp_echo "$NS_BE1" "$BE1_IP" 8000 backend-01 30 &&
		start_tcp_echo "$NS_BE2" "$BE2_IP" 8000 backend-02 30 || return
	xlb_start --vip "$VIP:8000" --algo wlc --backends "$BE1_IP" || return
	for ((i = 0; i < 8; i++)); do
		bg "hold-a$i" "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" \
			--port 8000 --send "a$i" --timeout 40
	done
	conns_wait "8 0 none none" 8 ||
		{ fail "8 held on backend-01, the only backend: show -j says '$CONNS'"; return; }
	xlb_ok backend add "$VIP:8000" "$BE2_IP" || return
	conns_wait "8 0 0 0" 8 ||
		{ fail "8 held on backend-01: show -j says (active inactive, backend-01 then -02) '$CONNS'"; return; }
	# the table follows the sweep within a turn of the daemon's loop (0.2 s)
	sleep 0.5
	xlb_cmd show -i "$LB_IF" >"$CASE_DIR/show.txt" || { fail "xlb show failed"; return; }
	grep -q "^service $VIP:8000/tcp id [0-9]* algo wlc " "$CASE_DIR/show.txt" &&
		grep -q "^  backend [0-9]* $BE1_IP:8000 weight 1 (wlc: 0% of new) up  conns 8 active 0 inactive\$" "$CASE_DIR/show.txt" &&
		grep -q "^  backend [0-9]* $BE2_IP:8000 weight 1 (wlc: 100% of new) up  conns 0 active 0 inactive\$" "$CASE_DIR/show.txt" ||
		{ fail "xlb show: $(tr '\n' '|' <"$CASE_DIR/show.txt")"; return; }
	for ((i = 0; i < 6; i++)); do
		bg "hold-b$i" "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" \
			--port 8000 --send "b$i" --timeout 40
	done
	end=$((SECONDS + 8))
	while :; do
		read -r a1 _ a2 _ <<<"$(show_conns)"
		[[ "$a1" =~ ^[0-9]+$ && "$a2" =~ ^[0-9]+$ ]] && [ $((a1 + a2)) -eq 14 ] && break
		[ "$SECONDS" -lt "$end" ] || { fail "14 connections not counted within 8 s: show -j says '$(show_conns)'"; return; }
		sleep 0.2
	done
	info "held: backend-01 $a1, backend-02 $a2"
	[ "$a2" -ge 5 ] ||
		{ fail "of 6 new connections, $((a2)) went to backend-02, which held none (backend-01 held 8): want at least 5"; return; }
}

# CASES="name ..." runs only those cases.
for c in rr wrr two_services mh_affinity mh_udp mh_disruption mh_live_switch mh_restart wlc; do
	[ -z "${CASES:-}" ] || [[ " $CASES " = *" $c "* ]] || continue
	run_case "$c" full "case_$c"
done
e2e_finish
