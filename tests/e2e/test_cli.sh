#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Command-line errors and shutdown: a bad command line exits 2 (usage) or 1
# (runtime) with one "xlb: ..." line naming the culprit and leaves nothing
# attached or pinned; SIGINT/SIGTERM end the daemon and leave the data path
# (attached, pinned, forwarding) for the next xlb run; xlb stop removes it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

GOOD_VIP=198.51.100.10:8000
GOOD_BACKENDS=198.51.100.11,198.51.100.12

# bad_args RC CULPRIT [--as-nobody] ARGS...: xlb run ARGS... must exit RC
# ("1|2" allows either) with exactly one stderr line "xlb: ..." that
# contains CULPRIT (a regex, case-insensitive); nothing attached/pinned.
bad_args() {
	local want=$1 culprit=$2 rc err pre=()
	shift 2
	if [ "${1:-}" = --as-nobody ]; then
		pre=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		shift
	fi
	info "xlb run $*"
	xlb_nsexec "$NS_LB"
	tmo 5 "${XLB_NSEXEC[@]}" "${pre[@]}" "$XLB" run "$@" >"$CASE_DIR/stdout.log" 2>"$CASE_DIR/stderr.log"
	rc=$?
	err=$(cat "$CASE_DIR/stderr.log")
	info "exit $rc, stderr: $err"
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || { fail "xlb run accepted it (still running after 5s)"; return; }
	[[ "$rc" =~ ^($want)$ ]] || { fail "exit $rc, expected $want; stderr: $err"; return; }
	[ "$(wc -l <"$CASE_DIR/stderr.log")" -eq 1 ] ||
		{ fail "stderr is not one line: $(tr '\n' '|' <"$CASE_DIR/stderr.log")"; return; }
	[[ "$err" == "xlb: "* ]] || { fail "stderr does not start with 'xlb: ': $err"; return; }
	grep -qiE -- "$culprit" "$CASE_DIR/stderr.log" || { fail "message does not name '$culprit': $err"; return; }
	if xlb_attached; then fail "an XDP program stayed attached to $LB_IF"; return; fi
	if xlb_pinned; then fail "pins stayed in $PIN_ROOT/$LB_IF"; return; fi
	if [ -e "$PIN_ROOT/nosuch$RUN_TOKEN" ]; then fail "pins stayed in $PIN_ROOT/nosuch$RUN_TOKEN"; return; fi
}

case_badargs_unknown_iface() {
	need_xlb || return
	bad_args 1 "nosuch$RUN_TOKEN" -i "nosuch$RUN_TOKEN" --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS"
}
case_badargs_bad_address() {
	need_xlb || return
	bad_args 2 '198\.51\.100\.300' -i "$LB_IF" --vip "$GOOD_VIP" --backends 198.51.100.11,198.51.100.300
}
case_badargs_bad_vip_address() {
	need_xlb || return
	bad_args 2 '198\.51\.100\.1000' -i "$LB_IF" --vip 198.51.100.1000:8000 --backends "$GOOD_BACKENDS"
}
case_badargs_duplicate_backend() {
	need_xlb || return
	bad_args 2 '198\.51\.100\.11' -i "$LB_IF" --vip "$GOOD_VIP" --backends 198.51.100.11,198.51.100.12,198.51.100.11
}
case_badargs_weight_range() {
	need_xlb || return
	bad_args 2 70000 -i "$LB_IF" --vip "$GOOD_VIP" --algo wrr --backends 198.51.100.11@70000,198.51.100.12
}
case_badargs_no_backends() {
	need_xlb || return
	bad_args 2 'backend' -i "$LB_IF" --vip "$GOOD_VIP"
}
case_badargs_vip_without_port() {
	need_xlb || return
	bad_args 2 '198\.51\.100\.10' -i "$LB_IF" --vip 198.51.100.10 --backends "$GOOD_BACKENDS"
}
case_badargs_unknown_algo() {
	need_xlb || return
	bad_args 2 fancy -i "$LB_IF" --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS" --algo fancy
}
case_badargs_timeout() {
	need_xlb || return
	bad_args 2 'timeout-established "45d"' -i "$LB_IF" --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS" --timeout-established 45d
}
case_badargs_no_interface() {
	need_xlb || return
	bad_args 2 '(-i|interface|iface)' --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS"
}
case_badargs_not_root() {
	need_xlb || return
	bad_args '1|2' '(root|permi|privileg|CAP_)' --as-nobody -i "$LB_IF" --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS"
}

# Start, forward, stop with SIGNAL: exit 0, and the data path stays
# (attached, pinned, forwarding) for the next xlb run; then `xlb stop`
# removes it: nothing attached, nothing pinned.
stop_cycle() {
	local sig=$1 a pid out
	# timeouts written as in the file (a duration, not only seconds)
	xlb_start --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS" --timeout-established 5h --timeout-closed 1500ms || return
	out=$(xlb_cmd save -i "$LB_IF" 2>&1)
	grep -q "^timeout-established 5h$" <<<"$out" && grep -q "^timeout-closed 1500ms$" <<<"$out" ||
		{ fail "--timeout-established 5h --timeout-closed 1500ms: xlb save says $(grep timeout <<<"$out" | tr '\n' '|')"; return; }
	xlb_attached || { fail "no XDP program on $LB_IF after 'attached'"; return; }
	xlb_pinned || { fail "nothing pinned in $PIN_ROOT/$LB_IF while running"; return; }
	a=$(http_loop "$NS_CLI" 2 "http://$VIP:8000/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "VIP answers '$a' (expected backend-01 backend-02)"; return; }
	pid=$XLB_PID XLB_PID=""
	stop_pid "$pid" "$sig" 5 || { fail "xlb run did not exit within 5s of SIG$sig"; return; }
	[ "$STOP_RC" = 0 ] || { fail "xlb run exited with $STOP_RC after SIG$sig"; return; }
	xlb_attached || { fail "SIG$sig detached the data path (it should stay for a restart)"; return; }
	xlb_pinned || { fail "SIG$sig removed the pins (they should stay for a restart)"; return; }
	a=$(http_loop "$NS_CLI" 2 "http://$VIP:8000/" | awk '{ print $1 }' | sort | xargs)
	[ "$a" = "backend-01 backend-02" ] || { fail "after SIG$sig the VIP answers '$a'"; return; }
	out=$(xlb_cmd stop -i "$LB_IF" 2>&1) || { fail "xlb stop failed: $out"; return; }
	if xlb_attached; then fail "XDP program still attached after xlb stop"; return; fi
	if xlb_pinned; then fail "$PIN_ROOT/$LB_IF still there after xlb stop"; return; fi
}
case_shutdown_and_restart() {
	need_xlb || return
	start_http_backends || return
	stop_cycle INT || return
	stop_cycle TERM
}

# Without -i, stats/conns/trace find the instance as show does: here a
# daemon started with ip netns exec (its pins in a private bpffs, invisible
# to other commands; its control socket in /run/xlb).
case_no_iface_finds_instance() {
	local XLB_EXEC=ip out rc cmd
	need_xlb || return
	xlb_start --vip "$GOOD_VIP" --backends "$GOOD_BACKENDS" || return
	out=$(xlb_cmd show 2>&1) || { fail "xlb show (no -i): $out"; return; }
	for cmd in stats conns; do
		out=$(xlb_cmd $cmd 2>&1) || { fail "xlb $cmd (no -i) while show finds the instance: $out"; return; }
	done
	xlb_nsexec "$NS_LB"
	out=$(tmo 2 "${XLB_NSEXEC[@]}" "$XLB" trace 2>&1)
	rc=$?
	[ "$rc" = 124 ] || { fail "xlb trace (no -i): exit $rc: $out"; return; }
}

run_case badargs_unknown_iface min case_badargs_unknown_iface
run_case badargs_bad_address min case_badargs_bad_address
run_case badargs_bad_vip_address min case_badargs_bad_vip_address
run_case badargs_duplicate_backend min case_badargs_duplicate_backend
run_case badargs_weight_range min case_badargs_weight_range
run_case badargs_no_backends min case_badargs_no_backends
run_case badargs_vip_without_port min case_badargs_vip_without_port
run_case badargs_unknown_algo min case_badargs_unknown_algo
run_case badargs_timeout min case_badargs_timeout
run_case badargs_no_interface min case_badargs_no_interface
run_case badargs_not_root min case_badargs_not_root
run_case shutdown_and_restart full case_shutdown_and_restart
run_case no_iface_finds_instance min case_no_iface_finds_instance
e2e_finish
