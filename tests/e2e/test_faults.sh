#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Faults under load (issue 6): while a client keeps a bounded stream of
# requests going (one new connection each, control_load.py) and a long
# transfer runs on the backend that stays healthy:
#   backend_killed     the other backend's server is killed
#   backend_link_down  the other backend's link goes down, then up again
#   backend_killed6, backend_link_down6   the same with an IPv6 service
#                      and IPv6 backends (lib.sh topo_ipv6)
#   config_reload      the configuration file changes and xlb reload
#   flow_table_full    every connection slot is taken by live connections
#   backend_slow       a backend accepts connections but answers only
#                      after the health check's timeout, then promptly again
#                      (sequential requests, no load or transfer)
# Each case records its figures (requests, failures, time to detection)
# in $CASE_DIR/figures (and in $FAULTS_FIGURES if set) and checks its
# target: failures only until the health check takes the backend out
# (fall x interval + timeout, plus the requests then in flight) and no
# new connection for it once xlb shows it down (its conns counter), none
# for a reload, none for the established connections of a full table.
# SIGKILL + restart of xlb run under load is test_control_restart.sh
# (kill9_restart).  docs/reliability.md has the figures.
set -u
# shellcheck source-path=SCRIPTDIR source=control_lib.sh
. "$(dirname "$0")/control_lib.sh"

INTERVAL_MS=200 TIMEOUT_MS=150 FALL=2 RISE=2
# detection bound: FALL failed checks, each up to INTERVAL + TIMEOUT, plus
# one interval of phase and the load's 2 s request timeout in flight
DETECT_MS=$((FALL * (INTERVAL_MS + TIMEOUT_MS) + INTERVAL_MS + 2000))

fcase() {
	eval "_fc_$3() { $3; local rc=\$?; load_stop; control_cleanup; return \$rc; }"
	run_case "$1" "$2" "_fc_$3"
}

figure() {
	echo "$CASE_NAME $*" >>"$CASE_DIR/figures"
	[ -n "${FAULTS_FIGURES:-}" ] && echo "$CASE_NAME $*" >>"$FAULTS_FIGURES"
	info "figure: $*"
}

# fam 4|6: the addresses the next fault case uses, of that family: F_VIP,
# F_BE1, F_BE2 (bare), F_URL (the VIP's base URL).
fam() {
	if [ "$1" = 6 ]; then
		F_VIP=$VIP6 F_BE1=$BE1_IP6 F_BE2=$BE2_IP6 F_URL="http://[$VIP6]:8000"
	else
		F_VIP=$VIP F_BE1=$BE1_IP F_BE2=$BE2_IP F_URL="http://$VIP:8000"
	fi
}
fam 4

# ep ADDR: ADDR with port 8000 as xlb writes it (IPv6: [ADDR]:8000).
ep() { case $1 in *:*) echo "[$1]:8000" ;; *) echo "$1:8000" ;; esac; }

health_conf() {
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $(ep "$F_VIP")/tcp algo rr
	health http / interval ${INTERVAL_MS}ms timeout ${TIMEOUT_MS}ms rise $RISE fall $FALL
	backend $(ep "$F_BE1")
	backend $(ep "$F_BE2")
EOF
}

# transfer_on BACKEND: a 10 MiB download (about 10 s) that lands on
# BACKEND (rr: retried until it does, at most 4 times).
TRANSFER_PID=""
transfer_on() {
	local want=$1 i be
	for ((i = 0; i < 4; i++)); do
		rm -f "$CASE_DIR/big.out"
		bg transfer "$NS_CLI" curl -g -sS --max-time 40 --limit-rate 1M \
			-o "$CASE_DIR/big.out" "$F_URL/big.bin"
		TRANSFER_PID=$BG_PID
		sleep 0.5
		be=$(xlb_cmd conns -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    # "closing": the backend may have sent the whole file already (it
    # fits in the receive buffer of the client, tcp_rmem up to 32 MiB) and
    # closed its side while curl still reads; earlier attempts are
    # "closed" (killed: RST)
    if c.get("state") in ("established", "closing"):
        print(c["backend"]); break')
		[ "$be" = "$(ep "$want")" ] && return 0
		stop_pid "$TRANSFER_PID" KILL 2
	done
	fail "could not get the transfer onto $want"
	return 1
}

transfer_check() {
	local want got
	wait_pid "$TRANSFER_PID" 45
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	got=$(sha256sum <"$CASE_DIR/big.out" 2>/dev/null | awk '{ print $1 }')
	figure "transfer curl_exit=$STOP_RC $([ "$got" = "$want" ] && echo intact || echo broken)"
	[ "$STOP_RC" = 0 ] && [ "$got" = "$want" ] || { fail "the long transfer broke (curl exit $STOP_RC)"; return 1; }
}

# backend_state ADDR: up/down as xlb show -j says.
backend_state() { show_json && backend_field "$1" state; }

# stats_backend ADDR FIELD: a field of a backend in xlb stats -j; prints
# "absent" and fails if the backend is not there.
stats_backend() {
	xlb_cmd stats -i "$LB_IF" -j 2>/dev/null | "$PY" -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    for b in s["backends"]:
        if b["addr"] == sys.argv[1]:
            print(b[sys.argv[2]]); sys.exit(0)
print("absent"); sys.exit(1)' "$1" "$2"
}

# backend_stat VAR ADDR FIELD: stats_backend into VAR; fails the case if
# xlb stats -j failed or does not list the backend.
backend_stat() {
	local v
	v=$(stats_backend "$2" "$3") && [ -n "$v" ] ||
		{ fail "xlb stats -j: no $3 for backend $2 (${v:-xlb stats -j failed})"; return 1; }
	printf -v "$1" '%s' "$v"
}

# wait_state ADDR STATE SECONDS: until xlb shows the backend in STATE;
# the time it took (ms since $2's call) in WAITED_MS.
WAITED_MS=0
wait_state() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(backend_state "$1")" = "$2" ] && { WAITED_MS=$(($(now_ms) - t0)); return 0; }
		sleep 0.1
	done
	fail "$1 not $2 after $3 s (state $(backend_state "$1"))"
	return 1
}

# load_window FROM_MS TO_MS: "N requests, F failed, last failure at +X ms".
fail_stats() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { n++; if ($2 == "fail") { f++; last = $1 } }
		END { printf "%d %d %d\n", n, f, f ? last - a : -1 }' "$LOAD_OUT"
}

# backend_killed FAMILY
backend_killed() {
	local pid t_kill t_det c c2 n f last
	need_xlb || return
	fam "$1"
	start_http "$NS_BE1" "$F_BE1" backend-01 8000 || return
	start_http "$NS_BE2" "$F_BE2" backend-02 8000 || return
	pid=$BG_PID # backend-02's server
	health_conf
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	wait_state "$(ep "$F_BE2")" up 5 || return
	transfer_on "$F_BE1" || return
	load_start "$F_URL/" || return
	sleep 1
	t_kill=$(now_ms)
	mark "kill backend-02's server"
	stop_pid "$pid" KILL 2
	wait_state "$(ep "$F_BE2")" down 10 || return
	t_det=$(now_ms)
	backend_stat c2 "$(ep "$F_BE2")" conns || return
	figure "detection_ms=$WAITED_MS (health: interval ${INTERVAL_MS}ms timeout ${TIMEOUT_MS}ms fall $FALL)"
	sleep 2
	mark "end"
	backend_stat c "$(ep "$F_BE2")" conns || return
	c2=$((c - c2))
	transfer_check || return
	load_stop
	load_report
	read -r n f last < <(fail_stats "$t_kill" 99999999999999)
	figure "requests=$LOAD_TOTAL failed=$LOAD_FAILED after_kill=$n failed_after_kill=$f last_failure_ms=$last bound_ms=$DETECT_MS"
	figure "after_detection: backend-01 answered $(load_count backend-01 "$t_det"), backend-02 $(load_count backend-02 "$t_det"); backend-02 conns +$c2"
	[ "$(load_count fail 0 "$t_kill")" = 0 ] || { fail "failures before the kill"; return; }
	[ "$last" -le "$DETECT_MS" ] || { fail "failures until +$last ms, past detection (bound $DETECT_MS ms)"; return; }
	[ "$(load_count backend-01 "$t_det")" -gt 0 ] || { fail "no request answered by backend-01 after the detection"; return; }
	[ "$c2" = 0 ] || { fail "backend-02 got $c2 new connections after xlb marked it down"; return; }
	xlb_ok stop
}
case_backend_killed() { backend_killed 4; }
case_backend_killed6() { backend_killed 6; }

# backend_link_down FAMILY
backend_link_down() {
	local t_down t_det t_up c c2 n f last
	need_xlb || return
	fam "$1"
	start_http "$NS_BE1" "$F_BE1" backend-01 8000 &&
		start_http "$NS_BE2" "$F_BE2" backend-02 8000 || return
	health_conf
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	wait_state "$(ep "$F_BE2")" up 5 || return
	transfer_on "$F_BE1" || return
	load_start "$F_URL/" || return
	sleep 1
	t_down=$(now_ms)
	mark "backend-02 link down"
	ip -n "$NS_SW" link set p-backend-02 down || { fail "link down"; return; }
	wait_state "$(ep "$F_BE2")" down 10 || return
	t_det=$(now_ms)
	backend_stat c2 "$(ep "$F_BE2")" conns || return
	figure "detection_ms=$WAITED_MS"
	sleep 2.5 # the requests in flight at the failure time out (2 s)
	backend_stat c "$(ep "$F_BE2")" conns || return
	c2=$((c - c2))
	t_up=$(now_ms)
	mark "backend-02 link up"
	ip -n "$NS_SW" link set p-backend-02 up || { fail "link up"; return; }
	wait_state "$(ep "$F_BE2")" up 15 || return
	figure "back_up_ms=$WAITED_MS (rise $RISE)"
	requests_reach backend-02 5 || return
	mark "end"
	transfer_check || return
	load_stop
	load_report
	read -r n f last < <(fail_stats "$t_down" "$t_up")
	figure "requests=$LOAD_TOTAL failed=$LOAD_FAILED while_down=$n failed_while_down=$f last_failure_ms=$last bound_ms=$DETECT_MS failed_after_up=$(load_count fail "$t_up")"
	figure "after_detection: backend-01 answered $(load_count backend-01 "$t_det" "$t_up"), backend-02 $(load_count backend-02 "$t_det" "$t_up"); backend-02 conns +$c2"
	[ "$(load_count fail 0 "$t_down")" = 0 ] || { fail "failures before the link went down"; return; }
	[ "$last" -le "$DETECT_MS" ] || { fail "failures until +$last ms, past detection (bound $DETECT_MS ms)"; return; }
	[ "$(load_count fail "$t_up")" = 0 ] || { fail "failures after the link came back"; return; }
	[ "$(load_count backend-01 "$t_det" "$t_up")" -gt 0 ] || { fail "no request answered by backend-01 while backend-02 was down"; return; }
	[ "$c2" = 0 ] || { fail "backend-02 got $c2 new connections while xlb had it down"; return; }
	xlb_ok stop
}
case_backend_link_down() { backend_link_down 4; }
case_backend_link_down6() { backend_link_down 6; }

case_config_reload() {
	local t_r1 t_r2 split
	need_xlb || return
	fam 4
	start_http_backends && start_backend3 || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo rr
	backend $BE1_IP
	backend $BE2_IP
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	transfer_on "$BE1_IP" || return
	load_start || return
	sleep 1
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo wrr
	backend $BE1_IP weight 2
	backend $BE2_IP weight 1 drain
	backend $BE3_IP weight 3
EOF
	t_r1=$(now_ms)
	mark "xlb reload (wrr, drain backend-02, add backend-03)"
	xlb_ok reload || return
	requests_reach backend-03 5 || return
	sleep 1
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo rr
	backend $BE1_IP
	backend $BE2_IP
EOF
	t_r2=$(now_ms)
	mark "xlb reload (back)"
	xlb_ok reload || return
	requests_reach backend-02 5 || return
	sleep 1
	mark "end"
	transfer_check || return
	load_stop
	load_report
	figure "requests=$LOAD_TOTAL failed=$LOAD_FAILED reloads=2"
	[ "$LOAD_FAILED" = 0 ] || { fail "$LOAD_FAILED of $LOAD_TOTAL requests failed across the reloads"; return; }
	split=$(reload_split "$t_r1" "$t_r2") || { fail "$split"; return; }
	figure "$split"
	xlb_ok stop
}

# reload_split T_R1 T_R2: the reloads' effect on where new connections go,
# from the load's answers (sequential, one new connection each, so every
# answer after the first one from backend-03 was scheduled by the reloaded
# table; each takes the service's next cursor value, bpf/sched.h).
#   wrr phase: from the first backend-03 answer after T_R1 to 100 ms before
#     T_R2: backend-02 (drain) gets none; backend-01 (weight 2) and
#     backend-03 (weight 3) follow smooth wrr's period of 5 (03 01 03 01 03),
#     in which any N consecutive picks hold 2N/5 +- 1 for backend-01;
#     allowed: +- 2.
#   back: from the first backend-02 answer after T_R2 to the end: rr over
#     backend-01 and backend-02, which alternate (|n1 - n2| <= 1; allowed
#     2); backend-03 (removed) gets none.
reload_split() {
	"$PY" - "$LOAD_OUT" "$1" "$2" <<'PYEOF'
import sys
rows = [ln.split() for ln in open(sys.argv[1]) if ln.strip()]
rows = [(int(r[0]), r[1], r[2]) for r in rows if len(r) >= 3]
r1, r2 = int(sys.argv[2]), int(sys.argv[3])
def after_first(who, t0):
    for i, (t, st, w) in enumerate(rows):
        if t >= t0 and w == who:
            return rows[i:]
    return []
def counts(rs):
    # requests, then those of backend-01, -02, -03
    return [len(rs)] + [sum(1 for r in rs if r[2] == "backend-0%d" % i)
                        for i in (1, 2, 3)]
errs = []
n, a1, a2, a3 = counts([r for r in after_first("backend-03", r1) if r[0] < r2 - 100])
if n < 20:
    errs.append("only %d requests in the wrr phase" % n)
if a2:
    errs.append("wrr phase: drained backend-02 got %d of %d new connections" % (a2, n))
if a1 + a2 + a3 != n:
    errs.append("wrr phase: %d of %d requests not answered by a backend" % (n - a1 - a2 - a3, n))
if abs(5 * a1 - 2 * n) > 10:
    errs.append("wrr phase: backend-01 %d, backend-03 %d of %d; weights 2:3 give backend-01 %.1f +- 2" % (a1, a3, n, 2 * n / 5))
m, b1, b2, b3 = counts(after_first("backend-02", r2))
if m < 20:
    errs.append("only %d requests after the reload back" % m)
if b3:
    errs.append("after the reload back: removed backend-03 got %d of %d" % (b3, m))
if b1 + b2 + b3 != m or abs(b1 - b2) > 2:
    errs.append("after the reload back (rr): backend-01 %d, backend-02 %d of %d, expected alternating" % (b1, b2, m))
summary = "wrr_phase=%d backend-01=%d backend-02=%d backend-03=%d back_phase=%d backend-01=%d backend-02=%d backend-03=%d" % (n, a1, a2, a3, m, b1, b2, b3)
print("; ".join(errs) + " (" + summary + ")" if errs else summary)
sys.exit(1 if errs else 0)
PYEOF
}

# max-flows 16: 16 connections held open (the echo server answers after
# 6 s), then 8 more: refused (counted drop_table_full); the 16 complete;
# then a new connection succeeds once their closed pairs have expired
# (--timeout-closed 2; xlb run's sweeper runs every 2 s).
case_flow_table_full() {
	local i ok=0 refused=0 a before after t0 pids=()
	need_xlb || return
	start_tcp_echo "$NS_BE1" "$BE1_IP" 8001 backend-01 6 || return
	xlb_start --vip "$VIP:8001" --backends "$BE1_IP" --max-flows 16 --timeout-closed 2 || return
	for ((i = 0; i < 16; i++)); do
		bg "held-$i" "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" --port 8001 --send "held-$i" --timeout 15
		pids+=("$BG_PID")
	done
	sleep 1.5
	a=$(xlb_cmd conns -i "$LB_IF" -j | "$PY" -c 'import json,sys; print(sum(c.get("state") == "established" for c in json.load(sys.stdin)))')
	info "established: $a"
	before=$(xlb_cmd stats -i "$LB_IF" -j | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["counters"]["drop_table_full"])')
	for ((i = 0; i < 8; i++)); do
		bg "extra-$i" "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" --port 8001 --send "extra-$i" --timeout 3
		wait_pid "$BG_PID" 6
		grep -q "backend-01 extra-$i" "$CASE_DIR/extra-$i.log" || refused=$((refused + 1))
	done
	after=$(xlb_cmd stats -i "$LB_IF" -j | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["counters"]["drop_table_full"])')
	for ((i = 0; i < 16; i++)); do
		wait_pid "${pids[$i]}" 20
		grep -q "backend-01 held-$i" "$CASE_DIR/held-$i.log" && ok=$((ok + 1))
	done
	figure "held=16 established=$a completed=$ok extra=8 refused=$refused drop_table_full=+$((after - before))"
	[ "$ok" = 16 ] || { fail "$ok of 16 established connections completed"; return; }
	[ "$refused" = 8 ] || { fail "$((8 - refused)) of 8 connections over the limit were served"; return; }
	[ $((after - before)) -ge 8 ] || { fail "drop_table_full +$((after - before)) for 8 refused connections"; return; }
	# and a new connection works again once the table has room: a closed
	# connection's slot is freed by xlb run's expiry, not at once
	t0=$SECONDS
	# (each attempt 10 s: the echo server answers after 6 s)
	for ((i = 1; i <= 3; i++)); do
		a=$(in_ns 15 "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" --port 8001 --send again --timeout 10)
		[ "$a" = "backend-01 again" ] && break
	done
	info "after the held connections closed: '$a' after $((SECONDS - t0)) s, attempt $((i > 3 ? 3 : i)) of 3"
	[ "$a" = "backend-01 again" ] ||
		{ fail "no new connection in 3 attempts after the held ones closed (expiry did not free the table): '$a'"; return; }
	xlb_ok stop
}

# backend_slow: backend-02 (nettool.py http-server) accepts connections
# and reads the request, but while $CASE_DIR/slow exists it answers only
# after SLOW_DELAY_S, past the health check's timeout; then promptly again.
# It must go down for a timeout waiting for the status line, take no new
# connection while down (every answer from backend-01, its conns counter
# unchanged), and come back up (rise) into the rotation.
SLOW_INTERVAL_MS=500 SLOW_TIMEOUT_MS=500 SLOW_DELAY_S=2

# answers COUNT FILE: COUNT sequential requests to the VIP, a new
# connection each; "<body> <client port>" or "error-N -" per line in FILE;
# "backend-01 N1 backend-02 N2 errors E" on stdout.
answers() {
	http_loop "$NS_CLI" "$1" "$F_URL/" >"$2"
	echo "backend-01 $(count backend-01 "$2") backend-02 $(count backend-02 "$2") errors $(grep -c '^error' "$2")"
}

case_backend_slow() {
	local a b1 b2 c1 c2 n1 n2 st reason
	need_xlb || return
	fam 4
	start_http "$NS_BE1" "$F_BE1" backend-01 8000 || return
	bg http-backend-02 "$NS_BE2" "$PY" "$NETTOOL" http-server --bind "$F_BE2" --port 8000 \
		--name backend-02 --slow-file "$CASE_DIR/slow" --slow-delay "$SLOW_DELAY_S"
	wait_listen "$NS_BE2" tcp 8000 || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $(ep "$F_VIP")/tcp algo rr
	health http / interval ${SLOW_INTERVAL_MS}ms timeout ${SLOW_TIMEOUT_MS}ms rise 2 fall 2
	backend $(ep "$F_BE1")
	backend $(ep "$F_BE2")
EOF
	b1=$(ep "$F_BE1") b2=$(ep "$F_BE2")
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	wait_state "$b1" up 5 && wait_state "$b2" up 5 || return
	a=$(answers 6 "$CASE_DIR/before.txt")
	info "before: $a"
	[ "$a" = "backend-01 3 backend-02 3 errors 0" ] || { fail "before the fault: $a (expected 3/3)"; return; }

	mark "backend-02 slow (answers after ${SLOW_DELAY_S}s)"
	touch "$CASE_DIR/slow"
	wait_state "$b2" down 10 || return
	figure "detection_ms=$WAITED_MS (health: interval ${SLOW_INTERVAL_MS}ms timeout ${SLOW_TIMEOUT_MS}ms fall 2; answers after ${SLOW_DELAY_S}s)"
	reason=$(backend_field "$b2" health | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["last_reason"])')
	info "backend-02 down, last check: $reason"
	[[ $reason == "timeout after ${SLOW_TIMEOUT_MS} ms (waiting for the status line)" ]] ||
		{ fail "backend-02 down for '$reason', not a timeout waiting for the answer"; return; }
	backend_stat c1 "$b1" conns && backend_stat c2 "$b2" conns || return
	a=$(answers 20 "$CASE_DIR/down.txt")
	info "while down: $a"
	[ "$a" = "backend-01 20 backend-02 0 errors 0" ] || { fail "while backend-02 is down: $a (expected all 20 on backend-01)"; return; }
	backend_stat st "$b2" state || return
	[ "$st" = down ] || { fail "xlb stats: backend-02 $st during the 20 requests"; return; }
	backend_stat n1 "$b1" conns && backend_stat n2 "$b2" conns || return
	c1=$((n1 - c1)) c2=$((n2 - c2))
	figure "while_down: backend-01 conns +$c1, backend-02 conns +$c2 (20 requests)"
	[ "$c1" = 20 ] && [ "$c2" = 0 ] || { fail "conns while down: backend-01 +$c1, backend-02 +$c2 (expected +20, +0)"; return; }

	mark "backend-02 prompt again"
	rm -f "$CASE_DIR/slow"
	wait_state "$b2" up 10 || return
	figure "back_up_ms=$WAITED_MS (rise 2)"
	backend_stat c2 "$b2" conns || return
	a=$(answers 10 "$CASE_DIR/after.txt")
	info "after: $a"
	[ "$a" = "backend-01 5 backend-02 5 errors 0" ] || { fail "after backend-02 came back: $a (expected 5/5)"; return; }
	backend_stat n2 "$b2" conns || return
	c2=$((n2 - c2))
	[ "$c2" = 5 ] || { fail "backend-02 conns +$c2 after it came back (expected +5)"; return; }
	show_json || { fail "xlb show -j failed"; return; }
	a=$(backend_field "$b1" health | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["failures"])')
	[ "$a" = 0 ] || { fail "backend-01 failed $a health checks (it was never slow)"; return; }
	xlb_ok stop
}

fcase backend_killed full case_backend_killed
fcase backend_link_down full case_backend_link_down
fcase backend_killed6 full case_backend_killed6
fcase backend_link_down6 full case_backend_link_down6
fcase config_reload full case_config_reload
fcase flow_table_full full case_flow_table_full
fcase backend_slow full case_backend_slow
e2e_finish
