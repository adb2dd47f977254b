#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Scheduling through the VIP: round-robin, weighted round-robin, several
# services with their own backends and backend ports.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

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

run_case rr full case_rr
run_case wrr full case_wrr
run_case two_services full case_two_services
e2e_finish
