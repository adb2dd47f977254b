#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Control plane at run time, under continuous load from the client (one new
# connection per request): adding, re-weighting, draining and removing
# backends fails no request; a dead backend fails requests only until its
# health check notices (the time is measured and printed); a reload with a
# broken file changes nothing and names the line; the metrics endpoint
# agrees with `xlb stats -j`; save -> run -c round-trips; the control
# socket is root-only; bad commands give one clear line.
set -u
# shellcheck source-path=SCRIPTDIR source=control_lib.sh
. "$(dirname "$0")/control_lib.sh"

HEALTH="http / interval 300ms timeout 200ms rise 2 fall 2"

# ccase NAME TOPO FN: run_case, with the run files of the case removed.
ccase() {
	eval "_cc_$3() { $3; local rc=\$?; load_stop; control_cleanup; return \$rc; }"
	run_case "$1" "$2" "_cc_$3"
}

# window_split FROM TO W1 W2 W3: the load's answers in [FROM, TO) split
# between backend-01..03 as the weights W1:W2:W3 say.  Smooth wrr (and rr,
# all weights 1) puts each backend within +-1 of its share N*Wi/sum(W) in
# any N consecutive picks; allowed: +-2.  Prints the counts.
window_split() {
	"$PY" - "$LOAD_OUT" "$@" <<'PYEOF'
import sys
out, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = [int(x) for x in sys.argv[4:7]]
names = ["backend-01", "backend-02", "backend-03"]
rows = [ln.split() for ln in open(out) if ln.strip()]
rows = [r for r in rows if len(r) >= 3 and t0 <= int(r[0]) < t1]
n = len(rows)
got = [sum(1 for r in rows if r[2] == b) for b in names]
desc = "%d requests: %s (weights %s)" % (n, " ".join("%s %d" % kv for kv in zip(names, got)), ":".join(map(str, w)))
errs = []
if n < 30:
    errs.append("too few requests")
if sum(got) != n:
    errs.append("%d not answered by a backend" % (n - sum(got)))
for b, g, wi in zip(names, got, w):
    share = n * wi / sum(w)
    if abs(g - share) > 2:
        errs.append("%s %d, expected %.1f +- 2" % (b, g, share))
print(("; ".join(errs) + ": " if errs else "") + desc)
sys.exit(1 if errs else 0)
PYEOF
}

case_changes_under_load() {
	local t0 n3 n1 t_w t_w_end t_rr split
	need_xlb || return
	start_http_backends && start_backend3 || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo wrr
	health $HEALTH
	backend $BE1_IP weight 1
	backend $BE2_IP weight 1
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	load_start || return
	requests_reach backend-02 5 || return
	mark "backend add .13"
	t0=$(now_ms)
	xlb_ok backend add "$VIP:8000" "$BE3_IP" --weight 2 || return
	requests_reach backend-03 10 || return
	info "new backend in rotation after $(($(now_ms) - t0)) ms (health rise 2 x 300ms)"
	mark "backend set .11 weight 3"
	xlb_ok backend set "$VIP:8000" "$BE1_IP" --weight 3 || return
	t_w=$(now_ms) # the command returns once the new schedule is in place
	sleep 1
	t_w_end=$(now_ms)
	mark "backend drain .13"
	xlb_ok backend drain "$VIP:8000" "$BE3_IP" || return
	sleep 0.5
	t0=$(now_ms)
	sleep 1
	n3=$(load_count backend-03 "$t0")
	[ "$n3" -eq 0 ] || { fail "$n3 new connections reached the drained backend"; return; }
	mark "backend undrain .13"
	xlb_ok backend undrain "$VIP:8000" "$BE3_IP" || return
	requests_reach backend-03 5 || return
	mark "backend del .12"
	xlb_ok backend del "$VIP:8000" "$BE2_IP" || return
	sleep 0.5
	t0=$(now_ms)
	sleep 1
	[ "$(load_count backend-02 "$t0")" -eq 0 ] || { fail "the deleted backend still gets new connections"; return; }
	mark "service set rr"
	xlb_ok service set "$VIP:8000" --algo rr || return
	t_rr=$(now_ms)
	sleep 1
	mark "end"
	load_stop
	load_report
	n1=$(load_count backend-01) n3=$(load_count backend-03)
	[ "$LOAD_TOTAL" -ge 200 ] || { fail "only $LOAD_TOTAL requests made"; return; }
	[ "$LOAD_FAILED" -eq 0 ] || { fail "$LOAD_FAILED of $LOAD_TOTAL requests failed"; return; }
	# each change's effect on the split of new connections (the load is
	# sequential: one schedule pick per request, consecutive cursor values)
	split=$(window_split "$t_w" "$t_w_end" 3 1 2) ||
		{ fail "after backend set .11 weight 3 (wrr 3:1:2): $split"; return; }
	info "wrr 3:1:2 window: $split"
	split=$(window_split "$t_rr" 99999999999999 1 0 1) ||
		{ fail "after service set --algo rr (backend-01, backend-03): $split"; return; }
	info "rr window: $split"
	show_json || { fail "xlb show -j failed"; return; }
	[ "$(backend_field "$BE1_IP:8000" weight)" = 3 ] &&
		[ "$(backend_field "$BE3_IP:8000" id)" = 2 ] &&
		[ "$(backend_field "$BE2_IP:8000" id)" = absent ] ||
		{ fail "show -j does not reflect the changes: $(cat "$CASE_DIR/show.json")"; return; }
	xlb_ok stop || return
	xlb_gone
}

case_health_detects_dead_backend() {
	local pid2 t_kill t_down t_last_fail failed back tpid
	need_xlb || return
	start_http "$NS_BE1" "$BE1_IP" backend-01 8000 || return
	start_http "$NS_BE2" "$BE2_IP" backend-02 8000 || return
	pid2=$BG_PID
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp
	health $HEALTH
	backend $BE1_IP
	backend $BE2_IP
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	bg trace "$NS_LB" "$XLB" trace -i "$LB_IF"
	tpid=$BG_PID
	load_start || return
	requests_reach backend-02 5 || return
	t_kill=$(now_ms)
	mark "kill backend-02 server"
	stop_pid "$pid2" KILL 2
	wait_for 10 "the health check to take backend-02 down" grep -q "198.51.100.12:8000.* is down" "$XLB_LOG" || return
	t_down=$(now_ms)
	sleep 1
	mark "backend-02 down"
	failed=$(load_count fail "$t_kill")
	t_last_fail=$(awk '$2 == "fail" { t = $1 } END { printf "%.0f\n", t }' "$LOAD_OUT")
	[ "$(load_count fail "$t_down")" -eq 0 ] ||
		{ fail "requests still fail after the backend left rotation"; return; }
	# back: the server returns, rise checks bring it in
	start_http "$NS_BE2" "$BE2_IP" backend-02 8000 || return
	mark "backend-02 server back"
	back=$(now_ms)
	requests_reach backend-02 10 || return
	mark "end"
	load_stop
	load_report
	echo "  detection: backend-02 out of rotation $((t_down - t_kill)) ms after its server died" \
		"(interval 300ms, fall 2); $failed requests failed, the last $((t_last_fail > 0 ? t_last_fail - t_kill : 0)) ms after the kill;" \
		"back in rotation $(($(now_ms) - back)) ms after its server returned"
	[ $((t_down - t_kill)) -le 3000 ] || { fail "detection took $((t_down - t_kill)) ms"; return; }
	show_json && [ "$(backend_field "$BE2_IP:8000" state)" = up ] ||
		{ fail "backend-02 not up in show: $(cat "$CASE_DIR/show.json")"; return; }
	xlb_cmd show >"$CASE_DIR/show.txt"
	grep -q "198.51.100.12:8000 of $VIP:8000/tcp down" "$CASE_DIR/show.txt" &&
		grep -q "198.51.100.12:8000 of $VIP:8000/tcp up" "$CASE_DIR/show.txt" ||
		{ fail "xlb show lists no health transitions: $(cat "$CASE_DIR/show.txt")"; return; }
	# the live trace shows both transitions too
	stop_pid "$tpid" INT 5
	grep -q "^health backend 1 $BE2_IP:8000 of $VIP:8000/tcp down after" "$CASE_DIR/trace.log" &&
		grep -q "^health backend 1 $BE2_IP:8000 of $VIP:8000/tcp up after" "$CASE_DIR/trace.log" ||
		{ fail "xlb trace shows no health transitions: $(grep -v '^tcp' "$CASE_DIR/trace.log" | head -5)"; return; }
	xlb_ok stop
}

# state_is ADDR STATE: xlb show -j gives the backend that state.
state_is() { show_json && [ "$(backend_field "$1" state)" = "$2" ]; }

# A health transition whose transaction fails (here: the snat address is
# gone for a while) is applied once a transaction can be made again, not
# lost: the dead backend leaves rotation.
case_health_change_retried() {
	local pid2
	need_xlb || return
	start_http "$NS_BE1" "$BE1_IP" backend-01 8000 || return
	start_http "$NS_BE2" "$BE2_IP" backend-02 8000 || return
	pid2=$BG_PID
	ip -n "$NS_LB" addr add 198.51.100.9/32 dev lo || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
snat 198.51.100.9
service $VIP:8000/tcp
	health $HEALTH
	backend $BE1_IP
	backend $BE2_IP
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	sleep 1
	state_is "$BE2_IP:8000" up || { fail "backend-02 not up at start: $(cat "$CASE_DIR/show.json")"; return; }
	mark "snat address removed, backend-02 killed"
	ip -n "$NS_LB" addr del 198.51.100.9/32 dev lo || return
	stop_pid "$pid2" KILL 2
	wait_for 10 "the failed health transaction" grep -q "health: cannot apply 1 transition (tried again every second): snat 198.51.100.9 is not an address" "$XLB_LOG" || return
	state_is "$BE2_IP:8000" up || { fail "state changed by a failed transaction: $(cat "$CASE_DIR/show.json")"; return; }
	grep -q "198.51.100.12:8000.* is down" "$XLB_LOG" && { fail "a transition not applied was logged as done"; return; }
	sleep 1.5
	mark "snat address back"
	ip -n "$NS_LB" addr add 198.51.100.9/32 dev lo || return
	wait_for 5 "backend-02 out of rotation" state_is "$BE2_IP:8000" down || { fail "backend-02 stays in rotation: $(cat "$CASE_DIR/show.json")"; return; }
	grep -q "health: the transitions are applied now" "$XLB_LOG" &&
		grep -q "198.51.100.12:8000.* is down .*out of rotation" "$XLB_LOG" ||
		{ fail "no log of the applied transition: $(grep health "$XLB_LOG")"; return; }
	[ "$(grep -c "health: cannot apply" "$XLB_LOG")" -eq 1 ] || { fail "the failure was logged more than once"; return; }
	state_is "$BE1_IP:8000" up || { fail "backend-01 not up: $(cat "$CASE_DIR/show.json")"; return; }
	xlb_ok stop
}

# SIGHUP while xlb run is still starting (loading the program takes a
# while): the daemon lives, and reloads once started.
case_sighup_during_start() {
	local i pid t0 hups=0
	need_xlb || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp
	backend $BE1_IP
EOF
	t0=$(now_ms)
	xlb_start_nowait -c "$CASE_DIR/xlb.conf"
	pid=$XLB_PID
	sleep 0.1
	for ((i = 0; i < 1000; i++)); do
		grep -q "control socket" "$XLB_LOG" && break
		kill -0 "$pid" 2>/dev/null || break
		kill -HUP "$pid" 2>/dev/null && hups=$((hups + 1))
		sleep 0.01
	done
	info "$hups SIGHUPs during a start of $(($(now_ms) - t0)) ms"
	kill -0 "$pid" 2>/dev/null || { fail "xlb run died of a SIGHUP while starting: $(tail -3 "$XLB_LOG")"; return; }
	[ "$hups" -gt 0 ] || { fail "no SIGHUP was sent during the start"; return; }
	wait_for 5 "the reload after the start" grep -q "reloaded $CASE_DIR/xlb.conf" "$XLB_LOG" || return
	xlb_ok show || return
	xlb_ok stop
}

# A reload tells what it changed, run-time changes that the file undoes
# included (a drain, a weight set with xlb backend), each in the reply
# and once in the log; a SIGHUP logs the same, once.
case_reload_reports_changes() {
	local out
	need_xlb || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo wrr
	backend $BE1_IP weight 1
	backend $BE2_IP weight 1
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	xlb_ok backend drain "$VIP:8000" "$BE2_IP" && xlb_ok backend set "$VIP:8000" "$BE1_IP" --weight 5 || return
	echo "	backend 198.51.100.13 weight 2" >>"$CASE_DIR/xlb.conf"
	out=$(xlb_cmd reload 2>&1) || { fail "xlb reload: $out"; return; }
	info "xlb reload: $(echo "$out" | tr '\n' '|')"
	[ "$out" = "reloaded $CASE_DIR/xlb.conf: 1 service
  backend $BE1_IP:8000 of $VIP:8000/tcp: weight 5 -> 1
  backend $BE2_IP:8000 of $VIP:8000/tcp: undrained (back in rotation)
  backend 198.51.100.13:8000 of $VIP:8000/tcp added (weight 2)" ] ||
		{ fail "the reload's reply does not list its changes: $out"; return; }
	[ "$(grep -c "reload: backend $BE2_IP:8000 of $VIP:8000/tcp: undrained" "$XLB_LOG")" = 1 ] ||
		{ fail "the undrain is not in the log once: $(grep reload "$XLB_LOG")"; return; }
	out=$(xlb_cmd reload 2>&1) || { fail "xlb reload: $out"; return; }
	[ "$out" = "reloaded $CASE_DIR/xlb.conf: 1 service
  nothing changed" ] || { fail "a reload of the same file: $out"; return; }
	sed -i 's/algo wrr/algo rr/; 1i timeout-established 5h' "$CASE_DIR/xlb.conf"
	kill -HUP "$XLB_PID"
	wait_for 5 "the SIGHUP's reload" grep -q "reload: service $VIP:8000/tcp: algo wrr -> rr" "$XLB_LOG" || return
	grep -q "reload: timeout-established: 6h -> 5h" "$XLB_LOG" ||
		{ fail "a changed setting is not reported: $(grep reload "$XLB_LOG")"; return; }
	sleep 0.2
	[ "$(grep -c "algo wrr -> rr" "$XLB_LOG")" = 1 ] &&
		[ "$(grep -c "reloaded $CASE_DIR/xlb.conf" "$XLB_LOG")" = 3 ] ||
		{ fail "a SIGHUP's reload is not logged once: $(grep reload "$XLB_LOG")"; return; }
	xlb_ok stop
}

case_reload_broken_file() {
	local before after err rc
	need_xlb || return
	start_http_backends || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo wrr
	backend $BE1_IP weight 1
	backend $BE2_IP weight 2
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	load_start || return
	before=$(xlb_cmd save)
	# a change and an error on line 5: nothing of it may apply
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo rr
	backend $BE1_IP weight 5
	backend $BE2_IP weight 2
service $VIP:9000
	backend 198.51.100.300
EOF
	mark "broken reload"
	xlb_cmd reload >"$CASE_DIR/reload.out" 2>"$CASE_DIR/reload.err"
	rc=$? err=$(cat "$CASE_DIR/reload.err")
	info "xlb reload: exit $rc: $err"
	[ "$rc" = 1 ] || { fail "reload of a broken file exited $rc"; return; }
	[ "$(wc -l <"$CASE_DIR/reload.err")" = 1 ] && [[ "$err" == "xlb: reload: $CASE_DIR/xlb.conf:5: backend \"198.51.100.300\": not an IPv4 or IPv6 address; nothing changed" ]] ||
		{ fail "unexpected message: $err"; return; }
	after=$(xlb_cmd save)
	[ "$before" = "$after" ] || { fail "the running configuration changed: $after"; return; }
	# SIGHUP with the same file: refused as well
	mark "broken SIGHUP"
	kill -HUP "$XLB_PID"
	wait_for 5 "the SIGHUP reload error" grep -q "SIGHUP: reload failed" "$XLB_LOG" || return
	[ "$(xlb_cmd save)" = "$before" ] || { fail "SIGHUP changed the configuration"; return; }
	# fixed: reload applies it
	sed -i 's/198.51.100.300/198.51.100.11/' "$CASE_DIR/xlb.conf"
	start_http "$NS_BE1" "$BE1_IP" backend-01-9000 9000 || return
	mark "good reload"
	xlb_ok reload || return
	xlb_cmd save >"$CASE_DIR/after.conf"
	grep -q "service $VIP:8000/tcp algo rr" "$CASE_DIR/after.conf" &&
		grep -q "backend $BE1_IP:8000 weight 5" "$CASE_DIR/after.conf" &&
		grep -q "service $VIP:9000/tcp" "$CASE_DIR/after.conf" ||
		{ fail "reload did not apply: $(cat "$CASE_DIR/after.conf")"; return; }
	in_ns 5 "$NS_CLI" curl -s --max-time 3 "http://$VIP:9000/" | grep -q backend-01-9000 ||
		{ fail "the reloaded service does not answer"; return; }
	mark "end"
	load_stop
	load_report
	[ "$LOAD_FAILED" -eq 0 ] || { fail "$LOAD_FAILED requests failed"; return; }
	xlb_ok stop
}

case_metrics_match_stats() {
	local port=9100
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP@2" --algo wrr \
		--metrics "127.0.0.1:$port" || return
	http_loop "$NS_CLI" 12 "http://$VIP:8000/" >"$CASE_DIR/answers.txt"
	# one backend drained: xlb_backend_drained 1, its weight kept
	xlb_cmd backend drain -i "$LB_IF" "$VIP:8000" "$BE2_IP" >/dev/null ||
		{ fail "xlb backend drain failed"; return; }
	sleep 0.3
	in_ns 5 "$NS_LB" curl -sS --max-time 3 "http://127.0.0.1:$port/metrics" >"$CASE_DIR/metrics.txt" ||
		{ fail "scrape failed"; return; }
	xlb_cmd stats -i "$LB_IF" -j >"$CASE_DIR/stats.json" || { fail "xlb stats -j failed"; return; }
	why=$("$PY" - "$CASE_DIR/metrics.txt" "$CASE_DIR/stats.json" <<'EOF'
import json, re, sys
samples = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    m = re.match(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$', line.strip())
    if not m:
        print("unparsable line: %r" % line); sys.exit(1)
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
    samples[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(3))
st = json.load(open(sys.argv[2]))
errs, n = [], 0
def check(name, labels, want):
    global n
    got = samples.get((name, tuple(sorted(labels.items()))))
    n += 1
    if got != want:
        errs.append("%s%s = %r, xlb stats says %r" % (name, labels, got, want))
for s in st["services"]:
    for k in ("connections", "packets", "bytes"):
        check("xlb_service_%s_total" % k, {"vip": s["vip"]}, s["conns" if k == "connections" else k])
    for b in s["backends"]:
        lab = {"vip": s["vip"], "backend": b["addr"]}
        for k in ("connections", "packets", "bytes"):
            check("xlb_backend_%s_total" % k, lab, b["conns" if k == "connections" else k])
        check("xlb_backend_weight", lab, b["weight"])
        check("xlb_backend_up", lab, 1 if b["state"] != "down" else 0)
        if b["state"] != "down":  # (a down backend may be drained too)
            check("xlb_backend_drained", lab, 1 if b["state"] == "drain" else 0)
for k, v in st["counters"].items():
    if k == "rx":
        continue
    if k.startswith("pass_") and ("xlb_packets_total", (("reason", k),)) in samples:
        # packets that are not ours (neighbour discovery, MLD) may arrive
        # between the scrape and xlb stats: stats, read second, may be a
        # little ahead, never behind
        got = samples[("xlb_packets_total", (("reason", k),))]
        n += 1
        if not got <= v <= got + 20:
            errs.append("xlb_packets_total{reason=%s} = %r, xlb stats says %r" % (k, got, v))
    elif ("xlb_packets_total", (("reason", k),)) in samples:
        check("xlb_packets_total", {"reason": k}, v)
    else:
        check("xlb_events_total", {"event": k}, v)
if errs:
    print("; ".join(errs)); sys.exit(1)
print("%d samples equal" % n)
EOF
	) || { fail "metrics differ from xlb stats: $why"; return; }
	info "metrics vs xlb stats -j: $why"
	grep -q 'xlb_backend_connections_total{vip="198.51.100.10:8000/tcp",backend="198.51.100.12:8000"} 8' "$CASE_DIR/metrics.txt" ||
		{ fail "backend-02 (weight 2) should have 8 of 12 connections: $(grep backend_connections "$CASE_DIR/metrics.txt")"; return; }
	# the daemon's expiry (its own thread) shows itself after a sweep
	# (the first 2 s after the start): one that walked the 12 connections
	local i walked=""
	for ((i = 0; i < 60; i++)); do
		in_ns 5 "$NS_LB" curl -sS --max-time 3 "http://127.0.0.1:$port/metrics" >"$CASE_DIR/metrics2.txt" ||
			{ fail "second scrape failed"; return; }
		walked=$(awk '$1 == "xlb_conntrack_sweep_connections" { print $2 }' "$CASE_DIR/metrics2.txt")
		[ "$walked" = 12 ] && break
		sleep 0.1
	done
	[ "$walked" = 12 ] && grep -q '^xlb_conntrack_sweeps_total [1-9]' "$CASE_DIR/metrics2.txt" ||
		{ fail "no sweep of the 12 connections within 6 s: $(grep conntrack "$CASE_DIR/metrics2.txt" | grep -v '^#')"; return; }
	# the table's size, as that sweep read it: two entries a connection
	grep -q '^xlb_flows 24$' "$CASE_DIR/metrics2.txt" ||
		{ fail "xlb_flows should be 24 after the sweep: $(grep '^xlb_flows' "$CASE_DIR/metrics2.txt")"; return; }
	info "expiry: $(grep '^xlb_conntrack_sweep' "$CASE_DIR/metrics2.txt" | tr '\n' ' ')"
	xlb_ok stop
}

# Deleting a service answers at once and its connections go in the
# background (the daemon's sweeper: seconds with a million of them); the
# other service's stay; a service added again at once gets a new id, and
# its connections are not taken by the flush of the old one.
svc_id() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print([s["id"] for s in d["services"] if s["vip"] == sys.argv[2]][0])' "$CASE_DIR/show.json" "$1"
}

case_service_del_flushes() {
	local port=9101 t0 took json=$CASE_DIR/conns.json old new
	need_xlb || return
	start_http_backends || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
metrics 127.0.0.1:$port
service $VIP:8000/tcp
	backend $BE1_IP
	backend $BE2_IP
service $VIP:8080/tcp
	backend $BE1_IP:8000
	backend $BE2_IP:8000
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	http_loop "$NS_CLI" 3 "http://$VIP:8000/" >"$CASE_DIR/answers.txt"
	http_loop "$NS_CLI" 4 "http://$VIP:8080/" >>"$CASE_DIR/answers.txt"
	[ "$(grep -c '^backend-0[12] ' "$CASE_DIR/answers.txt")" = 7 ] ||
		{ fail "7 requests: $(cat "$CASE_DIR/answers.txt")"; return; }
	show_json && old=$(svc_id "$VIP:8080/tcp") || { fail "show -j: $(cat "$CASE_DIR/show.json")"; return; }
	t0=$(now_ms)
	xlb_ok service del "$VIP:8080" || return
	took=$(($(now_ms) - t0))
	# added again at once: a new id, and it serves
	xlb_ok service add "$VIP:8080" || return
	xlb_ok backend add "$VIP:8080" "$BE1_IP:8000" || return
	http_loop "$NS_CLI" 2 "http://$VIP:8080/" >"$CASE_DIR/again.txt"
	[ "$(grep -c '^backend-01 ' "$CASE_DIR/again.txt")" = 2 ] ||
		{ fail "the service added again: $(cat "$CASE_DIR/again.txt")"; return; }
	show_json && new=$(svc_id "$VIP:8080/tcp") || { fail "show -j: $(cat "$CASE_DIR/show.json")"; return; }
	[ "$new" != "$old" ] || { fail "the service added again got id $new, the removed one's, before its flush"; return; }
	wait_for 5 "the removed service's flush" grep -q "connections of removed services flushed: 4," "$XLB_LOG" || return
	xlb_cmd conns -i "$LB_IF" -j >"$json" || { fail "xlb conns -j failed"; return; }
	"$PY" - "$json" "$VIP" <<'PYEOF' || { fail "after the flush, want 3 connections to :8000 and 2 to :8080: $(cat "$json")"; return; }
import json, sys
d = json.load(open(sys.argv[1])); vip = sys.argv[2]
sys.exit(sorted(c["vip"] for c in d) != [vip + ":8000"] * 3 + [vip + ":8080"] * 2)
PYEOF
	in_ns 5 "$NS_LB" curl -sS --max-time 3 "http://127.0.0.1:$port/metrics" >"$CASE_DIR/metrics.txt" ||
		{ fail "scrape failed"; return; }
	grep -qx "xlb_conntrack_flushed_total 4" "$CASE_DIR/metrics.txt" ||
		{ fail "metrics: $(grep conntrack "$CASE_DIR/metrics.txt")"; return; }
	info "service del answered in $took ms; its 4 connections flushed in the background"
}

case_save_round_trip() {
	local a b
	need_xlb || return
	start_http_backends || return
	xlb_start || return
	xlb_ok service add "$VIP:8000" --algo wrr --health "tcp interval 1s rise 1" || return
	xlb_ok backend add "$VIP:8000" "$BE1_IP" --weight 3 || return
	xlb_ok backend add "$VIP:8000" "$BE2_IP:8000" --drain || return
	xlb_ok service add "$VIP:5353/udp" || return
	xlb_ok backend add "$VIP:5353/udp" "$BE2_IP" || return
	xlb_cmd save >"$CASE_DIR/saved.conf" || { fail "xlb save failed"; return; }
	info "saved: $(grep -v '^#' "$CASE_DIR/saved.conf" | tr '\n\t' '| ')"
	xlb_ok stop || return
	xlb_gone || return
	xlb_start -c "$CASE_DIR/saved.conf" || return
	a=$(grep -v '^#' "$CASE_DIR/saved.conf")
	b=$(xlb_cmd save | grep -v '^#')
	[ "$a" = "$b" ] || { fail "save after run -c differs: $b"; return; }
	xlb_ok stop
}

case_socket_root_only() {
	local sock mode dmode out rc
	need_xlb || return
	xlb_start || return
	sock=$(compgen -G "/run/xlb/$LB_IF@*.sock" | head -n1)
	[ -S "$sock" ] || { fail "no control socket for $LB_IF in /run/xlb"; return; }
	mode=$(stat -c %a "$sock") dmode=$(stat -c %a /run/xlb)
	info "socket $sock mode $mode, directory mode $dmode"
	[ "$mode" = 600 ] && [ "$dmode" = 700 ] || { fail "modes $mode/$dmode, expected 600/700"; return; }
	xlb_nsexec "$NS_LB"
	out=$(tmo 5 "${XLB_NSEXEC[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups "$XLB" show 2>&1)
	rc=$?
	info "as nobody: exit $rc: $out"
	[ "$rc" = 1 ] && [[ "$out" == "xlb: show: must be root"* ]] || { fail "non-root show: exit $rc: $out"; return; }
	out=$(tmo 5 "${XLB_NSEXEC[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$sock" 2>&1)
	[ $? != 0 ] || { fail "nobody could connect to the control socket"; return; }
	xlb_ok stop
}

# Legitimate but surprising configurations are warned about, not refused:
# rr with different weights (start, reload, backend add/set, the command
# line), a service without backends in a file (start, reload; FILE:LINE).
case_config_warnings() {
	local conf=$CASE_DIR/xlb.conf rr empty
	need_xlb || return
	cat >"$conf" <<EOF
service $VIP:8000/tcp
	backend $BE1_IP weight 1
	backend $BE2_IP weight 5
service $VIP:8001/tcp
EOF
	rr="xlb: warning: $conf:1: service $VIP:8000/tcp: algo rr ignores the weights of its backends (from 1 to 5)"
	empty="xlb: warning: $conf:4: service $VIP:8001/tcp has no backends"
	xlb_start -c "$conf" || return
	grep -qF "$rr" "$XLB_LOG" && grep -qF "$empty" "$XLB_LOG" ||
		{ fail "start: no warnings: $(tr '\n' '|' <"$XLB_LOG")"; return; }
	xlb_ok reload || return
	grep -qF "$rr" "$CASE_DIR/cmd.log" && grep -qF "$empty" "$CASE_DIR/cmd.log" ||
		{ fail "reload: no warnings: $(tr '\n' '|' <"$CASE_DIR/cmd.log")"; return; }
	xlb_ok backend set "$VIP:8000" "$BE1_IP" --weight 3 || return
	grep -qF "service $VIP:8000/tcp: algo rr ignores the weights of its backends (from 3 to 5)" "$CASE_DIR/cmd.log" &&
		! grep -q "no backends" "$CASE_DIR/cmd.log" ||
		{ fail "backend set: $(tr '\n' '|' <"$CASE_DIR/cmd.log")"; return; }
	xlb_ok backend add "$VIP:8001" "$BE1_IP" || return
	! grep -q warning "$CASE_DIR/cmd.log" || { fail "backend add of weight 1: $(cat "$CASE_DIR/cmd.log")"; return; }
	xlb_ok backend add "$VIP:8001" "$BE2_IP" --weight 4 || return
	grep -qF "service $VIP:8001/tcp: algo rr ignores the weights of its backends (from 1 to 4)" "$CASE_DIR/cmd.log" ||
		{ fail "backend add: $(tr '\n' '|' <"$CASE_DIR/cmd.log")"; return; }
	xlb_ok stop || return
	wait_pid "$XLB_PID" 5
	XLB_PID=""
	# the command line, no --algo
	xlb_start --vip "$VIP:9000" --backends "$BE1_IP@1,$BE2_IP@5" || return
	grep -qF "xlb: warning: service $VIP:9000/tcp: algo rr ignores the weights of its backends (from 1 to 5): each gets the same share; --algo wrr" "$XLB_LOG" ||
		{ fail "command line: no warning: $(tr '\n' '|' <"$XLB_LOG")"; return; }
	xlb_ok stop
}

# A bare IPv6 backend whose last group looks like a port is accepted as
# the address it is, with a warning saying how it was read.
case_ipv6_backend_port_note() {
	local out
	need_xlb || return
	ip -n "$NS_LB" -6 addr add "$LB_IP6/64" dev "$LB_IF" nodad || { fail "IPv6 address"; return; }
	xlb_start || return
	xlb_ok service add "[$VIP6]:80" || return
	out=$(xlb_cmd backend add "[$VIP6]:80" 2001:db8:198::12:8080 2>&1) || { fail "backend add refused: $out"; return; }
	[[ "$out" == *"xlb: warning: backend \"2001:db8:198::12:8080\" is read as the IPv6 address 2001:db8:198::12:8080, port 80 (a bare IPv6 address has no port); to give a port, write [ADDR]:PORT, e.g. [2001:db8:198::12]:8080"* ]] ||
		{ fail "no warning: $out"; return; }
	out=$(xlb_cmd backend add "[$VIP6]:80" "$BE1_IP6" 2>&1) || { fail "backend add refused: $out"; return; }
	[[ "$out" != *warning* ]] || { fail "warning for $BE1_IP6: $out"; return; }
	xlb_ok stop
}

# bad_cmd RC CULPRIT ARGS...: xlb ARGS exits RC with one "xlb: " line
# matching CULPRIT.
bad_cmd() {
	local want=$1 culprit=$2 rc err
	shift 2
	xlb_cmd "$@" >/dev/null 2>"$CASE_DIR/err.log"
	rc=$? err=$(cat "$CASE_DIR/err.log")
	info "xlb $*: exit $rc: $err"
	[ "$rc" = "$want" ] || { fail "xlb $*: exit $rc, expected $want: $err"; return 1; }
	[ "$(wc -l <"$CASE_DIR/err.log")" = 1 ] && [[ "$err" == "xlb: "* ]] ||
		{ fail "xlb $*: not one 'xlb: ' line: $err"; return 1; }
	grep -qE -- "$culprit" "$CASE_DIR/err.log" || { fail "xlb $*: does not name '$culprit': $err"; return 1; }
}

case_command_errors() {
	need_xlb || return
	bad_cmd 1 "no xlb run daemon on $LB_IF" backend add -i "$LB_IF" "$VIP:8000" "$BE1_IP" || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP" || return
	bad_cmd 2 '198\.51\.100\.300' backend add "$VIP:8000" 198.51.100.300 || return
	bad_cmd 2 'weight' backend set "$VIP:8000" "$BE1_IP" || return
	bad_cmd 2 'frob' service frob || return
	bad_cmd 1 "service $VIP:9999/tcp does not exist" backend add "$VIP:9999" "$BE1_IP" || return
	bad_cmd 1 "backend $BE2_IP:8000 is not in service $VIP:8000/tcp" backend del "$VIP:8000" "$BE2_IP" || return
	bad_cmd 1 "service $VIP:8000/tcp already exists" service add "$VIP:8000" || return
	bad_cmd 1 "backend $BE1_IP:8000 of service $VIP:8000/tcp already exists" backend add "$VIP:8000" "$BE1_IP" || return
	bad_cmd 1 "started without -c" reload || return
	bad_cmd 1 "IPv6 address for service \[2001:db8::10\]:80/tcp" service add "[2001:db8::10]:80" || return
	xlb_ok stop
}

ccase config_warnings min case_config_warnings
ccase ipv6_backend_port_note min case_ipv6_backend_port_note
ccase changes_under_load full case_changes_under_load
ccase health_detects_dead_backend full case_health_detects_dead_backend
ccase health_change_retried full case_health_change_retried
ccase reload_broken_file full case_reload_broken_file
ccase reload_reports_changes min case_reload_reports_changes
ccase sighup_during_start min case_sighup_during_start
ccase metrics_match_stats full case_metrics_match_stats
ccase service_del_flushes full case_service_del_flushes
ccase save_round_trip full case_save_round_trip
ccase socket_root_only min case_socket_root_only
ccase command_errors min case_command_errors
e2e_finish
