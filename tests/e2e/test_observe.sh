#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Observability: `xlb stats -j` agrees with what the client saw; `xlb trace`
# prints one line per new connection, naming the backend the client got;
# `xlb show` and the metrics count each backend's open connections.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

case_stats() {
	local out=$CASE_DIR/answers.txt json=$CASE_DIR/stats.json n1 n2 why
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 10 "http://$VIP:8000/" >"$out"
	n1=$(count backend-01 "$out") n2=$(count backend-02 "$out")
	info "client saw backend-01 $n1, backend-02 $n2"
	[ $((n1 + n2)) -eq 10 ] || { fail "only $((n1 + n2)) of 10 requests answered"; return; }
	xlb_cmd stats -i "$LB_IF" -j >"$json" 2>"$CASE_DIR/stats-stderr.log" ||
		{ fail "xlb stats -j failed: $(head -c 300 "$CASE_DIR/stats-stderr.log")"; return; }
	why=$("$PY" - "$json" "$n1" "$n2" "$VIP" "$BE1_IP" "$BE2_IP" <<'PYEOF'
import json, sys
path, n1, n2, vip, be1, be2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
errs, notes = [], []
try:
    d = json.load(open(path))
except Exception as e:
    print("not JSON: %s" % e); sys.exit(1)
svcs = [s for s in d.get("services", []) if s.get("vip") == vip + ":8000/tcp"]
if len(svcs) != 1:
    print("no service with vip %s:8000/tcp in %s" % (vip, [s.get("vip") for s in d.get("services", [])]))
    sys.exit(1)
s = svcs[0]
if s.get("algo") != "rr":
    errs.append("service algo %r" % s.get("algo"))
if s.get("conns") != n1 + n2:
    errs.append("service conns %r, client made %d" % (s.get("conns"), n1 + n2))
bes = {b.get("addr"): b for b in s.get("backends", [])}
for addr, want, bid in ((be1 + ":8000", n1, 0), (be2 + ":8000", n2, 1)):
    b = bes.get(addr)
    if b is None:
        errs.append("no backend %s in %s" % (addr, list(bes)))
        continue
    if b.get("conns") != want:
        errs.append("backend %s conns %r, client saw %d" % (addr, b.get("conns"), want))
    if b.get("id") != bid or b.get("weight") != 1:
        errs.append("backend %s id/weight %r/%r, expected %d/1" % (addr, b.get("id"), b.get("weight"), bid))
    for k in ("packets", "bytes"):
        if not isinstance(b.get(k), int) or b.get(k) <= 0:
            errs.append("backend %s %s %r" % (addr, k, b.get(k)))
for k in ("packets", "bytes"):
    tot = sum(b.get(k, 0) for b in s.get("backends", []))
    if s.get(k) != tot:
        errs.append("service %s %r != sum of backends %r" % (k, s.get(k), tot))
c = d.get("counters", {})
for k in ("rx", "new_flow", "pass_no_service", "drop_no_flow"):
    if not isinstance(c.get(k), int):
        errs.append("counter %s missing or not a number" % k)
# an HTTP connection is at least 5 packets through the balancer (SYN,
# SYN-ACK, request, answer, FIN), each received before it is forwarded
if isinstance(s.get("packets"), int) and s["packets"] < 5 * (n1 + n2):
    errs.append("service packets %d < 5 for each of %d connections" % (s["packets"], n1 + n2))
if isinstance(c.get("rx"), int) and isinstance(s.get("packets"), int) and c["rx"] < s["packets"]:
    errs.append("counter rx %d < the service's %d packets" % (c["rx"], s["packets"]))
notes.append("rx %r, service packets %r bytes %r" % (c.get("rx"), s.get("packets"), s.get("bytes")))
if isinstance(c.get("new_flow"), int) and c["new_flow"] < n1 + n2:
    errs.append("counter new_flow %d < %d connections" % (c["new_flow"], n1 + n2))
print("; ".join(errs) or ("ok" + ("; note: " + "; ".join(notes) if notes else "")))
sys.exit(1 if errs else 0)
PYEOF
	) || { fail "stats -j: $why"; return; }
	info "stats -j: $why"
	xlb_cmd stats -i "$LB_IF" >"$CASE_DIR/stats.txt" 2>&1 || { fail "xlb stats (text) failed"; return; }
	grep -q "$BE1_IP" "$CASE_DIR/stats.txt" && grep -q "$BE2_IP" "$CASE_DIR/stats.txt" ||
		{ fail "xlb stats (text) does not list both backends"; return; }
	# output that cannot be written is an error, said once
	local rc=0 f
	for f in "" -j; do
		rc=0
		xlb_cmd stats -i "$LB_IF" $f >/dev/full 2>"$CASE_DIR/full.err" || rc=$?
		[ "$rc" = 1 ] && grep -q "cannot write the output" "$CASE_DIR/full.err" ||
			{ fail "xlb stats $f to /dev/full: exit $rc, $(head -c 200 "$CASE_DIR/full.err")"; return; }
	done
}

# trace_ports FILE: the client ports of the trace lines (text or JSON) in
# FILE, one a line (the first CLIENT_IP:PORT of each line: the client).
trace_ports() { grep -o "${CLIENT_IP//./\\.}:[0-9]*" "$1" 2>/dev/null | cut -d: -f2; }

# trace_start [-j]: start xlb trace (PID in TRACE_PID) and wait until it
# reports connections: probe connections, one at a time (at most 15, each
# given 1 s to show up), until one appears in $CASE_DIR/trace.log.  Their
# answers in probes.txt.
TRACE_PID=""
trace_start() {
	local i k
	: >"$CASE_DIR/probes.txt"
	bg trace "$NS_LB" "$XLB" trace -i "$LB_IF" "$@"
	TRACE_PID=$BG_PID
	for ((i = 0; i < 15; i++)); do
		kill -0 "$TRACE_PID" 2>/dev/null ||
			{ wait "$TRACE_PID"; fail "xlb trace exited early ($?): $(head -c 300 "$CASE_DIR/trace.log")"; return; }
		http_loop "$NS_CLI" 1 "http://$VIP:8000/" >>"$CASE_DIR/probes.txt"
		for ((k = 0; k < 10; k++)); do
			[ -n "$(trace_ports "$CASE_DIR/trace.log")" ] && return 0
			sleep 0.1
		done
	done
	fail "xlb trace reported none of $i probe connections"
}

# trace_run COUNT [-j]: start xlb trace (trace_start), make COUNT
# connections, wait (at most 5 s) until the trace names each of their
# client ports, stop it.  Trace output in $CASE_DIR/trace.log, without the
# probes' lines in trace.counted; client answers in answers.txt.
trace_run() {
	local n=$1 i p missing
	shift
	trace_start "$@" || return
	http_loop "$NS_CLI" "$n" "http://$VIP:8000/" >"$CASE_DIR/answers.txt"
	for ((i = 0; i < 50; i++)); do
		missing=0
		for p in $(awk '{ print $2 }' "$CASE_DIR/answers.txt"); do
			trace_ports "$CASE_DIR/trace.log" | grep -qx "$p" || missing=$((missing + 1))
		done
		[ "$missing" = 0 ] && break
		sleep 0.1
	done
	stop_pid "$TRACE_PID" INT 5 || { fail "xlb trace did not stop within 5s of SIGINT"; return; }
	[ "$STOP_RC" = 0 ] || { fail "xlb trace exited with $STOP_RC after SIGINT"; return; }
	# the lines of the counted connections (and any stray one): not the probes'
	"$PY" - "$CASE_DIR/trace.log" "$CASE_DIR/probes.txt" "$CLIENT_IP" >"$CASE_DIR/trace.counted" <<'PYEOF'
import re, sys
probes = {ln.split()[1] for ln in open(sys.argv[2]) if len(ln.split()) > 1}
rx = re.compile(re.escape(sys.argv[3]) + r":(\d+)")
for ln in open(sys.argv[1]):
    m = rx.search(ln)
    if m and m.group(1) in probes:
        continue
    sys.stdout.write(ln)
PYEOF
}

case_trace() {
	local re line port bid baddr want got lines
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	trace_run 4 || return
	info "trace: $(tr '\n' '|' <"$CASE_DIR/trace.counted")"
	lines=$(grep -c '^tcp ' "$CASE_DIR/trace.counted")
	[ "$lines" -eq 4 ] || { fail "$lines 'tcp ...' trace lines for 4 connections"; return; }
	re="^tcp ${CLIENT_IP//./\\.}:([0-9]+) -> ${VIP//./\\.}:8000 backend ([0-9]+) ([0-9.]+):8000 nat-port ([0-9]+)$"
	while read -r line; do
		[[ "$line" =~ $re ]] || { fail "trace line not in the expected format: $line"; return; }
		port=${BASH_REMATCH[1]} bid=${BASH_REMATCH[2]} baddr=${BASH_REMATCH[3]}
		case $bid:$baddr in
		"0:$BE1_IP") want=backend-01 ;;
		"1:$BE2_IP") want=backend-02 ;;
		*) fail "trace names backend $bid $baddr: $line"; return ;;
		esac
		got=$(awk -v p="$port" '$2 == p { print $1 }' "$CASE_DIR/answers.txt")
		[ "$got" = "$want" ] || { fail "client port $port got '$got' but trace says $want: $line"; return; }
	done < <(grep '^tcp ' "$CASE_DIR/trace.counted")
}

case_trace_json() {
	local why
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	trace_run 2 -j || return
	why=$("$PY" - "$CASE_DIR/trace.counted" "$CASE_DIR/answers.txt" "$CLIENT_IP" "$VIP" "$BE1_IP" "$BE2_IP" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
client, vip, be1, be2 = sys.argv[3:]
# client port -> the backend that answered it
answers = {ln.split()[1]: ln.split()[0] for ln in open(sys.argv[2]) if len(ln.split()) > 1}
backends = {0: (be1 + ":8000", "backend-01"), 1: (be2 + ":8000", "backend-02")}
objs = []
try:
    d = json.loads(text)
    objs = d if isinstance(d, list) else [d]
except ValueError:
    for ln in text.splitlines():
        if ln.strip():
            try:
                objs.append(json.loads(ln))
            except ValueError:
                print("not a JSON line: %s" % ln[:200]); sys.exit(1)
if len(objs) != 2:
    print("%d JSON events for 2 connections" % len(objs)); sys.exit(1)
seen = set()
for o in objs:
    s = json.dumps(o)[:300]
    if o.get("event") != "new" or o.get("proto") != "tcp":
        print("event/proto not new/tcp: %s" % s); sys.exit(1)
    if o.get("vip") != vip + ":8000" or o.get("service") != vip + ":8000/tcp":
        print("vip %r service %r, expected %s:8000 and %s:8000/tcp: %s" % (o.get("vip"), o.get("service"), vip, vip, s)); sys.exit(1)
    host, _, port = str(o.get("client")).rpartition(":")
    if host != client or port not in answers:
        print("client %r is none of the connections made (%s:%s): %s" % (o.get("client"), client, sorted(answers), s)); sys.exit(1)
    seen.add(port)
    bid = o.get("backend_id")
    if bid not in backends or o.get("backend") != backends[bid][0]:
        print("backend_id %r / backend %r: not one of %s: %s" % (bid, o.get("backend"), backends, s)); sys.exit(1)
    if answers[port] != backends[bid][1]:
        print("client port %s got %r but the event says %s: %s" % (port, answers[port], backends[bid][1], s)); sys.exit(1)
    nat = o.get("nat_port")
    if not isinstance(nat, int) or not 1024 <= nat <= 32767:
        print("nat_port %r outside the NAT range 1024-32767: %s" % (nat, s)); sys.exit(1)
if len(seen) != 2:
    print("events for client ports %s, connections made from %s" % (sorted(seen), sorted(answers))); sys.exit(1)
print("ok")
PYEOF
	) || fail "trace -j: $why"
}

# The tutorial's way: `ip netns exec LB xlb run ...`, then, from another
# shell, `ip netns exec LB xlb stats`.  Each ip netns exec has its own mount
# namespace with a fresh /sys, so xlb must still find the running instance.
case_stats_via_ip_netns_exec() {
	local XLB_EXEC=ip out
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 2 "http://$VIP:8000/" >/dev/null
	out=$(tmo 10 ip netns exec "$NS_LB" "$XLB" stats -i "$LB_IF" -j 2>&1) ||
		{ fail "ip netns exec ... xlb stats -j: $out"; return; }
	"$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(d["services"][0]["conns"] != 2)' "$out" ||
		fail "stats after 2 connections: ${out:0:300}"
}

# --vip/--backend that name nothing configured are an error (ipvsadm: "No
# such service"), before anything is listed or flushed; a removed
# backend's lingering connections can still be listed and flushed.
case_conns_unknown_filter() {
	local out rc
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 2 "http://$VIP:8000/" >/dev/null
	for args in "flush --vip $VIP:12345" "--vip $VIP:12345" "--vip $VIP:8000/udp" \
		"--backend 198.51.100.99" "flush --backend 198.51.100.99" "--vip $VIP:8000 --backend $BE1_IP:9000"; do
		# shellcheck disable=SC2086
		out=$(xlb_cmd conns $args -i "$LB_IF" 2>&1)
		rc=$?
		info "xlb conns $args: exit $rc: $out"
		[ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && [[ "$out" == "xlb: conns --"*"no such "*"xlb show"* ]] ||
			{ fail "xlb conns $args: exit $rc: $out"; return; }
	done
	[ "$(xlb_cmd conns -i "$LB_IF" | wc -l)" = 2 ] || { fail "the refused flushes removed connections"; return; }
	out=$(xlb_cmd conns -i "$LB_IF" --vip "$VIP:8000" --backend "$BE1_IP") && [ "$(echo "$out" | wc -l)" = 1 ] ||
		{ fail "conns --vip --backend of a configured pair: $out"; return; }
	out=$(xlb_cmd backend del "$VIP:8000" "$BE1_IP" 2>&1) || { fail "backend del: $out"; return; }
	out=$(xlb_cmd conns flush -i "$LB_IF" --backend "$BE1_IP" 2>&1) && [ "$out" = "flushed 1 connection" ] ||
		{ fail "flush of a removed backend's connection: $out"; return; }
}

# One connection flushed: "flushed 1 connection" (singular).
case_conns_flush_one() {
	local flushed
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 1 "http://$VIP:8000/" >/dev/null
	flushed=$(xlb_cmd conns flush -i "$LB_IF") || { fail "conns flush failed: $flushed"; return; }
	[ "$flushed" = "flushed 1 connection" ] || fail "flush of one connection said '$flushed'"
}

# xlb conns lists each connection with its backend and state; flush with a
# backend filter removes that backend's connections only.
case_conns_and_flush() {
	local out=$CASE_DIR/answers.txt json=$CASE_DIR/conns.json why flushed
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	http_loop "$NS_CLI" 4 "http://$VIP:8000/" >"$out"
	xlb_cmd conns -i "$LB_IF" -j >"$json" || { fail "xlb conns -j failed"; return; }
	why=$("$PY" - "$json" "$VIP" "$BE1_IP" "$BE2_IP" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1])); vip, be1, be2 = sys.argv[2:]
if len(d) != 4: print("want 4 connections, got %d: %s" % (len(d), d)); sys.exit(1)
for c in d:
    if c["vip"] != vip + ":8000" or c["service"] != vip + ":8000/tcp" or c["backend"] not in (be1 + ":8000", be2 + ":8000"):
        print("bad entry %s" % c); sys.exit(1)
    if c["idle_s"] > c["age_s"]:
        print("bad entry %s" % c); sys.exit(1)
    if c["state"] not in ("closing", "closed"):
        print("a finished HTTP connection is %s, not closing/closed: %s" % (c["state"], c)); sys.exit(1)
    if not 1024 <= c["nat_port"] <= 32767: print("NAT port out of range: %s" % c); sys.exit(1)
if sorted(c["backend"] for c in d) != sorted([be1 + ":8000"] * 2 + [be2 + ":8000"] * 2):
    print("rr should give 2 and 2: %s" % d); sys.exit(1)
PYEOF
) || { fail "conns: $why"; return; }
	flushed=$(xlb_cmd conns flush -i "$LB_IF" --backend "$BE1_IP") || { fail "conns flush failed"; return; }
	[ "$flushed" = "flushed 2 connections" ] || { fail "flush said '$flushed', want 2"; return; }
	xlb_cmd conns -i "$LB_IF" -j >"$json"
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (len(d) == 2 and all(c["backend"] == sys.argv[2] + ":8000" for c in d)))' \
		"$json" "$BE2_IP" || fail "after flush --backend $BE1_IP: $(cat "$json")"
}

# One tracer at a time: a second `xlb trace` is refused (exit 1, naming
# the cause) while one runs, and accepted once it has stopped.
case_second_tracer_refused() {
	local tpid rc
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	trace_start || return
	tpid=$TRACE_PID
	xlb_cmd trace -i "$LB_IF" >"$CASE_DIR/second.log" 2>&1
	rc=$?
	[ "$rc" = 1 ] || { fail "second xlb trace: exit $rc, expected 1: $(head -c 300 "$CASE_DIR/second.log")"; return; }
	grep -q "another xlb trace is running" "$CASE_DIR/second.log" ||
		{ fail "second xlb trace: no clear error: $(head -c 300 "$CASE_DIR/second.log")"; return; }
	stop_pid "$tpid" INT 5 || { fail "xlb trace did not stop within 5s of SIGINT"; return; }
	trace_run 1 || return
	grep -q '^tcp ' "$CASE_DIR/trace.counted" || fail "no trace line from the tracer started after the first one stopped"
}

# xlb show counts each backend's connections as the daemon's last sweep
# (every 2 s) found them: held open, they are active, as many on each
# backend as round robin gave them (the clients' answers say which);
# once closed, inactive (closed pairs stay 10 s).  The metrics say the
# same.
case_show_conns() {
	local n=4 port=9100 i n1 n2 pids=() m=$CASE_DIR/metrics.txt lab
	need_xlb || return
	# the backends answer 6 s after the request, then close
	start_tcp_echo "$NS_BE1" "$BE1_IP" 8000 backend-01 6 || return
	start_tcp_echo "$NS_BE2" "$BE2_IP" 8000 backend-02 6 || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" \
		--metrics "127.0.0.1:$port" || return
	for ((i = 0; i < n; i++)); do
		bg "hold-$i" "$NS_CLI" "$PY" "$NETTOOL" tcp-client --dst "$VIP" \
			--port 8000 --send "hold$i" --timeout 12
		pids+=("$BG_PID")
	done
	conns_wait "2 0 2 0" 5 ||
		{ fail "held open: show -j says (active inactive, backend-01 then -02) '$CONNS', want '2 0 2 0'"; return; }
	info "held open: $CONNS"
	in_ns 5 "$NS_LB" curl -sS --max-time 3 "http://127.0.0.1:$port/metrics" >"$m" ||
		{ fail "scrape failed"; return; }
	for lab in "$BE1_IP:8000\",state=\"active\"} 2" "$BE1_IP:8000\",state=\"inactive\"} 0" \
		"$BE2_IP:8000\",state=\"active\"} 2" "$BE2_IP:8000\",state=\"inactive\"} 0"; do
		grep -qxF "xlb_backend_current_connections{vip=\"$VIP:8000/tcp\",backend=\"$lab" "$m" ||
			{ fail "metrics: no '...$lab' in: $(grep '^xlb_backend_current_connections' "$m" | tr '\n' ' ')"; return; }
	done
	for i in "${pids[@]}"; do
		wait_pid "$i" 12 || { fail "a client did not end within 12 s"; return; }
	done
	n1=$(cat "$CASE_DIR"/hold-*.log | count backend-01 /dev/stdin)
	n2=$(cat "$CASE_DIR"/hold-*.log | count backend-02 /dev/stdin)
	[ "$n1" = 2 ] && [ "$n2" = 2 ] ||
		{ fail "the clients got backend-01 $n1 times, backend-02 $n2 times (want 2, 2): $(cat "$CASE_DIR"/hold-*.log | tr '\n' ' ')"; return; }
	conns_wait "0 $n1 0 $n2" 5 ||
		{ fail "closed: show -j says '$CONNS', want '0 $n1 0 $n2'"; return; }
	xlb_cmd show -i "$LB_IF" >"$CASE_DIR/show.txt" || { fail "xlb show failed"; return; }
	grep -q "^  backend 0 $BE1_IP:8000 weight 1 up  conns 0 active 2 inactive\$" "$CASE_DIR/show.txt" &&
		grep -q "^  backend 1 $BE2_IP:8000 weight 1 up  conns 0 active 2 inactive\$" "$CASE_DIR/show.txt" ||
		{ fail "xlb show (text): $(tr '\n' '|' <"$CASE_DIR/show.txt")"; return; }
}

# CASES="name ..." runs only those cases.
for c in stats stats_via_ip_netns_exec trace conns_and_flush conns_flush_one \
	conns_unknown_filter trace_json second_tracer_refused show_conns; do
	[ -z "${CASES:-}" ] || [[ " $CASES " = *" $c "* ]] || continue
	run_case "$c" full "case_$c"
done
e2e_finish
