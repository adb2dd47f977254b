# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts sourcing this file
# tests/e2e/control_lib.sh: helpers of the control-plane tests
# (test_control*.sh), on top of lib.sh (sourced read-only).
#
# xlb is started with nsenter --net (XLB_EXEC=nsenter): it then sees the
# host's /sys/fs/bpf, so its pinned state outlives it, as on a real host
# (ip netns exec gives every command a private /sys and bpffs, which dies
# with the command).
XLB_EXEC=${XLB_EXEC:-nsenter}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOADGEN=$E2E_DIR/control_load.py
BE3_IP=198.51.100.13
LOAD_PID=""
LOAD_OUT=""

now_ms() { date +%s%3N; }

# mark NAME: note the time of an operation in $CASE_DIR/marks.
mark() { echo "$(now_ms) $1" >>"$CASE_DIR/marks"; }

# load_start [URL] [DURATION]: continuous requests from the client, one new
# connection each (bounded: 20000 requests or DURATION seconds, default 60),
# until load_stop.
load_start() {
	local url=${1:-http://$VIP:8000/} secs=${2:-60}
	LOAD_OUT=$CASE_DIR/load.txt
	rm -f "$CASE_DIR/load.stop"
	bg load "$NS_CLI" "$PY" "$LOADGEN" --url "$url" --out "$LOAD_OUT" \
		--count 20000 --duration "$secs" --timeout 2 --interval-ms 5 \
		--stop-file "$CASE_DIR/load.stop"
	LOAD_PID=$BG_PID
	wait_for 5 "first request of the load" test -s "$LOAD_OUT"
}

load_stop() {
	[ -n "$LOAD_PID" ] || return 0
	touch "$CASE_DIR/load.stop"
	wait_pid "$LOAD_PID" 5
	LOAD_PID=""
}

# load_count WHAT [FROM_MS] [TO_MS]: requests whose status (ok/fail) or
# body (backend-01...) is WHAT, in the time window.
load_count() {
	awk -v w="$1" -v a="${2:-0}" -v b="${3:-99999999999999}" \
		'$1 >= a && $1 < b && ($2 == w || $3 == w) { n++ } END { print n + 0 }' "$LOAD_OUT"
}

# load_report: per operation (between marks), requests and failures; the
# total in LOAD_TOTAL / LOAD_FAILED.
load_report() {
	local prev=0 prev_name=start t name
	LOAD_TOTAL=$(wc -l <"$LOAD_OUT")
	LOAD_FAILED=$(load_count fail)
	info "load: $LOAD_TOTAL requests, $LOAD_FAILED failed"
	[ -f "$CASE_DIR/marks" ] || return 0
	while read -r t name; do
		info "  $(printf '%-28s' "$prev_name"): $(load_count ok "$prev" "$t") ok, $(load_count fail "$prev" "$t") failed"
		prev=$t prev_name=$name
	done <"$CASE_DIR/marks"
	info "  $(printf '%-28s' "$prev_name"): $(load_count ok "$prev") ok, $(load_count fail "$prev") failed"
}

# requests_reach BACKEND SECONDS: wait until the load gets answers from it.
requests_reach() {
	local from
	from=$(now_ms)
	wait_for "$2" "requests answered by $1" \
		bash -c '[ "$(awk -v a="$2" -v w="$3" '\''$1 >= a && $3 == w'\'' "$1" | wc -l)" -ge 3 ]' \
		_ "$LOAD_OUT" "$from" "$1"
}

# xlb_ok ARGS...: xlb ARGS in the lb namespace must exit 0 (output in
# $CASE_DIR/cmd.log).
xlb_ok() {
	xlb_cmd "$@" >"$CASE_DIR/cmd.log" 2>&1 ||
		{ fail "xlb $* failed: $(tr '\n' ' ' <"$CASE_DIR/cmd.log")"; return 1; }
}

# show_json: xlb show -j into $CASE_DIR/show.json.
show_json() { xlb_cmd show -i "$LB_IF" -j >"$CASE_DIR/show.json" 2>"$CASE_DIR/show.err"; }

# backend_field ADDR FIELD: a field of a backend in show.json.
backend_field() {
	"$PY" - "$CASE_DIR/show.json" "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["services"]:
    for b in s["backends"]:
        if b["addr"] == sys.argv[2]:
            v = b[sys.argv[3]]
            print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
            sys.exit(0)
print("absent")
EOF
}

# start_backend3: a third backend, 198.51.100.13 (an address of
# backend-01's namespace), answering "backend-03".
start_backend3() {
	ip -n "$NS_BE1" addr add "$BE3_IP/24" dev eth0 &&
		start_http "$NS_BE1" "$BE3_IP" backend-03 8000
}

# xlb_gone: nothing attached, nothing pinned, no run files for LB_IF.
xlb_gone() {
	if xlb_attached; then fail "XDP still attached to $LB_IF"; return 1; fi
	if xlb_pinned; then fail "pins left in $PIN_ROOT/$LB_IF*"; return 1; fi
	# every run file of the instance: .sock, .state, .lock, .events, .trace
	if compgen -G "/run/xlb/$LB_IF@*" >/dev/null; then
		fail "files left in /run/xlb: $(ls /run/xlb | grep "$LB_IF" | xargs)"
		return 1
	fi
}

# control_cleanup: what lib.sh's topo_down does not know about (run files
# of this case's interface).
control_cleanup() {
	[ -n "$LB_IF" ] && rm -f /run/xlb/"$LB_IF"@* /run/xlb/"$LB_IF".* 2>/dev/null
	return 0
}
