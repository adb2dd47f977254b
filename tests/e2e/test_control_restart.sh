#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Restart without loss, under continuous load and with a long transfer in
# flight: `kill -9` of xlb run then a restart (the data path keeps running
# meanwhile, the new daemon adopts the pinned maps and swaps its program
# into the pinned link); SIGTERM then a restart with a changed
# configuration (a planned upgrade); a second xlb run on the same interface
# is refused; xlb stop without a daemon removes everything.
set -u
# shellcheck source-path=SCRIPTDIR source=control_lib.sh
. "$(dirname "$0")/control_lib.sh"

ccase() {
	eval "_cc_$3() { $3; local rc=\$?; load_stop; control_cleanup; return \$rc; }"
	run_case "$1" "$2" "_cc_$3"
}

prog_id() { ip -n "$NS_LB" link show dev "$LB_IF" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; }

# transfer_start: a rate-limited 10 MiB download through the VIP (about 5 s).
TRANSFER_PID=""
transfer_start() {
	rm -f "$CASE_DIR/big.out"
	bg transfer "$NS_CLI" curl -sS --max-time 40 --limit-rate 2M \
		-o "$CASE_DIR/big.out" "http://$VIP:8000/big.bin"
	TRANSFER_PID=$BG_PID
	wait_for 5 "the transfer to start" test -s "$CASE_DIR/big.out"
}

# transfer_check: it completes, intact (sha256).
transfer_check() {
	local want got
	wait_pid "$TRANSFER_PID" 40
	[ "$STOP_RC" = 0 ] || { fail "the transfer failed (curl exit $STOP_RC): $(cat "$CASE_DIR/transfer.log")"; return 1; }
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	got=$(sha256sum <"$CASE_DIR/big.out" | awk '{ print $1 }')
	[ "$got" = "$want" ] || { fail "the transfer arrived corrupted ($(stat -c %s "$CASE_DIR/big.out") bytes)"; return 1; }
	info "10 MiB transfer across the restart: intact (sha256 $got)"
}

# alternation: consecutive answers of the load that came from the same
# backend (rr over two backends: 0 if the cursor went on across restarts).
repeats() { awk '$2 == "ok" { if ($3 == prev) n++; prev = $3 } END { print n + 0 }' "$LOAD_OUT"; }

case_kill9_restart() {
	local ids_before ids_after p1 p2 t_kill t_up
	need_xlb || return
	start_http_backends || return
	cat >"$CASE_DIR/xlb.conf" <<EOF
service $VIP:8000/tcp algo rr
	health http / interval 500ms timeout 300ms
	backend $BE1_IP
	backend $BE2_IP
EOF
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	show_json && ids_before=$(backend_field "$BE1_IP:8000" id),$(backend_field "$BE2_IP:8000" id)
	p1=$(prog_id)
	transfer_start || return
	load_start || return
	sleep 1
	mark "kill -9 xlb run"
	t_kill=$(now_ms)
	stop_pid "$XLB_PID" KILL 2
	XLB_PID=""
	xlb_attached && xlb_pinned || { fail "the data path went away with the daemon"; return; }
	sleep 1.5
	xlb_cmd show >"$CASE_DIR/show-nodaemon.txt" 2>&1 && grep -q "no daemon" "$CASE_DIR/show-nodaemon.txt" ||
		{ fail "show without a daemon: $(cat "$CASE_DIR/show-nodaemon.txt")"; return; }
	mark "xlb run again"
	xlb_start -c "$CASE_DIR/xlb.conf" || return
	t_up=$(now_ms)
	grep -q "adopted the pinned state" "$XLB_LOG" || { fail "the new daemon did not adopt the pinned state"; return; }
	# the transfer's connection at least
	grep -qE "adopted the pinned state .*, [1-9][0-9]* tracked connections kept" "$XLB_LOG" ||
		{ fail "the new daemon counted no kept connection: $(grep adopted "$XLB_LOG")"; return; }
	p2=$(prog_id)
	info "no daemon for $((t_up - t_kill)) ms; XDP program $p1 replaced by $p2 in the pinned link"
	[ -n "$p2" ] && [ "$p1" != "$p2" ] || { fail "program not swapped ($p1 -> $p2)"; return; }
	sleep 1
	mark "end"
	transfer_check || return
	load_stop
	load_report
	[ "$LOAD_FAILED" -eq 0 ] || { fail "$LOAD_FAILED of $LOAD_TOTAL requests failed"; return; }
	[ "$(load_count ok "$t_kill" "$t_up")" -gt 0 ] || { fail "no request was served while no daemon ran"; return; }
	info "rr answers repeating a backend: $(repeats) of $LOAD_TOTAL (the cursor continued)"
	[ "$(repeats)" -eq 0 ] || { fail "the rr sequence restarted or jumped: $(repeats) repeats"; return; }
	show_json && ids_after=$(backend_field "$BE1_IP:8000" id),$(backend_field "$BE2_IP:8000" id)
	[ "$ids_before" = "$ids_after" ] || { fail "backend ids changed: $ids_before -> $ids_after"; return; }
	xlb_ok stop || return
	xlb_gone
}

case_sigterm_upgrade() {
	local t0 rc out pdir n m f
	need_xlb || return
	start_http_backends && start_backend3 || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	transfer_start || return
	load_start || return
	sleep 0.5
	mark "SIGTERM"
	stop_pid "$XLB_PID" TERM 5 || { fail "xlb run did not exit on SIGTERM"; return; }
	XLB_PID=""
	[ "$STOP_RC" = 0 ] || { fail "xlb run exited $STOP_RC on SIGTERM"; return; }
	grep -q "stays attached" "$XLB_LOG" || { fail "no exit message: $(tail -n1 "$XLB_LOG")"; return; }
	xlb_attached && xlb_pinned || { fail "SIGTERM detached the data path"; return; }
	out=$(xlb_cmd backend add "$VIP:8000" "$BE3_IP" 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [[ "$out" == "xlb: no xlb run daemon on $LB_IF"* ]] ||
		{ fail "a change without a daemon: exit $rc: $out"; return; }
	# as if an older version had pinned the state: a map it did not
	# have (xlb_vlans) is not pinned; xlb run adopts the rest and pins
	# it (the commands meanwhile find the maps through the attached
	# program, which here is this version's)
	pdir=$(compgen -G "$PIN_ROOT/$LB_IF" || compgen -G "$PIN_ROOT/$LB_IF@*")
	rm -f "$pdir/xlb_vlans" || { fail "cannot remove $pdir/xlb_vlans"; return; }
	# ... and one counter fewer (xlb_stats one entry shorter), holding a
	# mark: the new daemon must take it over, longer, with the counts
	{ n=$(bpftool -j map show pinned "$pdir/xlb_stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])') &&
		bpftool map create "$pdir/xlb_stats@old" type percpu_array key 4 value 8 entries $((n - 1)) name xlb_stats &&
		bpftool map update pinned "$pdir/xlb_stats@old" key 0 0 0 0 value 0x40 0x42 0x0f 0 0 0 0 0 &&
		mv "$pdir/xlb_stats@old" "$pdir/xlb_stats"; } >"$CASE_DIR/shorter.log" 2>&1 ||
		{ fail "cannot pin a shorter xlb_stats: $(cat "$CASE_DIR/shorter.log")"; return; }
	sleep 0.5
	mark "xlb run, new config"
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP,$BE3_IP@2" --algo wrr || return
	grep -q "adopted the pinned state" "$XLB_LOG" || { fail "not adopted"; return; }
	[ -e "$pdir/xlb_vlans" ] || { fail "the new map was not pinned at the adoption"; return; }
	m=$(bpftool -j map show pinned "$pdir/xlb_stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')
	[ "$m" = "$n" ] || { fail "xlb_stats pinned with $m entries after the adoption, expected $n (grown from $((n - 1)))"; return; }
	f=$(xlb_cmd stats -i "$LB_IF" -j | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["counters"]["fwd_to_backend"])')
	info "xlb_stats grown from $((n - 1)) to $m entries; fwd_to_backend $f (the mark: 1,000,000 per CPU)"
	[ "${f:-0}" -ge 1000000 ] || { fail "the shorter array's counts were not carried over: fwd_to_backend $f"; return; }
	requests_reach backend-03 5 || return
	mark "end"
	transfer_check || return
	load_stop
	load_report
	[ "$LOAD_FAILED" -eq 0 ] || { fail "$LOAD_FAILED of $LOAD_TOTAL requests failed"; return; }
	show_json || return
	[ "$(backend_field "$BE1_IP:8000" id)" = 0 ] && [ "$(backend_field "$BE2_IP:8000" id)" = 1 ] &&
		[ "$(backend_field "$BE3_IP:8000" id)" = 2 ] && [ "$(backend_field "$BE3_IP:8000" weight)" = 2 ] ||
		{ fail "ids/weights after the upgrade: $(cat "$CASE_DIR/show.json")"; return; }
	t0=$(now_ms)
	xlb_ok stop || return
	info "xlb stop took $(($(now_ms) - t0)) ms"
	wait_pid "$XLB_PID" 5
	[ "$STOP_RC" = 0 ] || { fail "xlb run exited $STOP_RC after xlb stop"; return; }
	XLB_PID=""
	xlb_gone
}

# The tutorial's way, `ip netns exec LB xlb run ...`: each ip netns exec
# runs its command in a mount namespace of its own with a fresh /sys,
# gone with the command.  The pins go to the host's bpffs (PID 1's), so
# SIGTERM leaves the data path attached and the transfer going, a second
# `ip netns exec ... xlb run` adopts it, and `ip netns exec ... xlb stop`
# finds and removes it.
case_ip_netns_exec_restart() {
	local XLB_EXEC=ip out
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	grep -q "pinning in /sys/fs/bpf/xlb (in the mount namespace of PID [0-9]*)" "$XLB_LOG" ||
		{ fail "no word of where the state is pinned: $(head -n 3 "$XLB_LOG")"; return; }
	transfer_start || return
	mark "SIGTERM"
	stop_pid "$XLB_PID" TERM 5 || { fail "xlb run did not exit on SIGTERM"; return; }
	XLB_PID=""
	grep -q "stays attached" "$XLB_LOG" || { fail "exit message: $(tail -n1 "$XLB_LOG")"; return; }
	sleep 0.5
	xlb_attached && xlb_pinned ||
		{ fail "the data path went away with ip netns exec's mount namespace"; return; }
	# no daemon, no -i: the pins alone name the instance
	out=$(tmo 10 ip netns exec "$NS_LB" "$XLB" stats -j 2>&1) ||
		{ fail "ip netns exec ... xlb stats without -i and without a daemon: $out"; return; }
	mark "ip netns exec ... xlb run again"
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	grep -q "adopted the pinned state" "$XLB_LOG" || { fail "the second ip netns exec xlb run did not adopt the state"; return; }
	transfer_check || return
	xlb_ok stop || return
	xlb_gone
}

case_second_run_refused() {
	local out rc
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	xlb_nsexec "$NS_LB"
	out=$(tmo 10 "${XLB_NSEXEC[@]}" "$XLB" run -i "$LB_IF" --vip "$VIP:8000" --backends "$BE1_IP" 2>&1)
	rc=$?
	info "second xlb run: exit $rc: $out"
	[ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] &&
		[[ "$out" == "xlb: xlb run (pid $XLB_PID) already serves $LB_IF"* ]] ||
		{ fail "second run: exit $rc: $out"; return; }
	# a restart is SIGTERM; xlb stop is not a restart (it ends connections)
	[[ "$out" == *"SIGTERM (kill $XLB_PID"* ]] && [[ "$out" == *"xlb stop -i $LB_IF instead removes the data path and ends every connection"* ]] ||
		{ fail "second run: the message does not tell restart (SIGTERM) from xlb stop: $out"; return; }
	[ "$(http_loop "$NS_CLI" 2 "http://$VIP:8000/" | awk '{ print $1 }' | sort | xargs)" = "backend-01 backend-02" ] ||
		{ fail "the first instance was disturbed"; return; }
	xlb_ok stop
}

case_stop_without_daemon() {
	local out
	need_xlb || return
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	stop_pid "$XLB_PID" KILL 2
	XLB_PID=""
	out=$(xlb_cmd stop 2>&1) || { fail "xlb stop without a daemon: $out"; return; }
	info "xlb stop: $out"
	xlb_gone
}

# The interface deleted under a running daemon: the link goes with it,
# so the daemon says so and exits 1 (its supervisor restarts it); made
# again, xlb run attaches to it with the pinned state.
case_interface_recreated() {
	local i rc
	need_xlb || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	ip -n "$NS_LB" link del "$LB_IF" || return
	for ((i = 0; i < 50; i++)); do
		kill -0 "$XLB_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$XLB_PID" 2>/dev/null && { fail "xlb run went on without its interface"; return; }
	wait "$XLB_PID"
	rc=$?
	XLB_PID=""
	[ "$rc" = 1 ] && grep -q "$LB_IF was deleted or made again: the XDP program is no longer attached" "$XLB_LOG" ||
		{ fail "exit $rc: $(tail -n 2 "$XLB_LOG")"; return; }
	ip -n "$NS_LB" link add "$LB_IF" type veth peer name peer0 &&
		ip -n "$NS_LB" addr add "$LB_IP/24" dev "$LB_IF" &&
		ip -n "$NS_LB" link set "$LB_IF" up && ip -n "$NS_LB" link set peer0 up || return
	xlb_start || return
	grep -q "adopted the pinned state in .*: 1 service," "$XLB_LOG" || { fail "not adopted: $(head -n 3 "$XLB_LOG")"; return; }
	xlb_attached || { fail "not attached to the new $LB_IF"; return; }
	xlb_ok stop
}

# Two network namespaces that share the host's bpffs and each have a PID
# namespace of their own (containers): both name their pin directory
# /sys/fs/bpf/xlb/IFACE, and their interfaces have the same number.  The
# second xlb run must not adopt the first one's state (it used to: it
# replaced the first one's services in the shared maps and swapped its
# program into the first one's link).
# cont_run NS LOG ARGS...: xlb run -i $LB_IF ARGS in NS, as PID 1 of a PID
# namespace with a /run/xlb of its own.
cont_run() {
	local ns=$1 log=$2
	shift 2
	mkdir -p /run/xlb
	nsenter --net="/run/netns/$ns" unshare --pid --fork --kill-child --mount --mount-proc \
		sh -c 'mount -t tmpfs tmpfs /run/xlb && exec "$@"' _ "$XLB" run -i "$LB_IF" "$@" >"$log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

case_containers_share_bpffs() {
	local ns n i pid1 rc dump
	need_xlb || return
	for n in 1 2; do
		ns=xlbt-$RUN_TOKEN-$CASE_SEQ-c$n
		ns_add "$ns" && ip -n "$ns" link add "$LB_IF" type veth peer name peer0 &&
			ip -n "$ns" link set "$LB_IF" up && ip -n "$ns" link set peer0 up || return
	done
	ip -n "xlbt-$RUN_TOKEN-$CASE_SEQ-c1" addr add 198.51.100.10/24 dev "$LB_IF" &&
		ip -n "xlbt-$RUN_TOKEN-$CASE_SEQ-c2" addr add 203.0.113.10/24 dev "$LB_IF" || return
	cont_run "xlbt-$RUN_TOKEN-$CASE_SEQ-c1" "$CASE_DIR/c1.log" --vip 198.51.100.10:8000 --backends 198.51.100.11
	pid1=$BG_PID
	for ((i = 0; i < 100; i++)); do
		grep -q "control socket" "$CASE_DIR/c1.log" && break
		kill -0 "$pid1" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "control socket" "$CASE_DIR/c1.log" || { fail "first instance: $(head -c 300 "$CASE_DIR/c1.log")"; return; }
	[ -d "$PIN_ROOT/$LB_IF" ] || { skip "the pin directory has a namespace suffix here: no collision to test"; return; }
	cont_run "xlbt-$RUN_TOKEN-$CASE_SEQ-c2" "$CASE_DIR/c2.log" --vip 203.0.113.10:8000 --backends 203.0.113.11
	wait_pid "$BG_PID" 10
	rc=$STOP_RC
	[ "$rc" = 1 ] && grep -q "is another network namespace's: its XDP link is attached" "$CASE_DIR/c2.log" ||
		{ fail "second instance: exit $rc: $(head -c 300 "$CASE_DIR/c2.log")"; return; }
	dump=$(bpftool -j map dump pinned "$PIN_ROOT/$LB_IF/xlb_services" 2>&1)
	# the first instance's VIP (c6 33 64 0a) only
	[[ "$dump" == *'"0xc6","0x33","0x64","0x0a"'* ]] && [[ "$dump" != *'"0xcb","0x00","0x71","0x0a"'* ]] ||
		{ fail "the shared maps changed: $dump"; return; }
	kill -0 "$pid1" 2>/dev/null || { fail "the first instance died"; return; }
	stop_pid "$pid1" TERM 5
	rm -rf "${PIN_ROOT:?}/$LB_IF"
}

ccase kill9_restart_keeps_connections full case_kill9_restart
ccase sigterm_then_upgraded_config full case_sigterm_upgrade
ccase ip_netns_exec_restart full case_ip_netns_exec_restart
ccase second_run_refused full case_second_run_refused
ccase stop_without_daemon full case_stop_without_daemon
ccase interface_recreated min case_interface_recreated
ccase containers_share_bpffs none case_containers_share_bpffs
e2e_finish
