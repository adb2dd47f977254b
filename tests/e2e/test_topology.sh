#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# The test topology itself, without the balancer: the client reaches both
# backends through the gateway, and the lb's own address answers.  If this
# fails, the other e2e failures say nothing about xlb.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

case_topology_direct() {
	local b1 b2
	start_http_backends || return
	b1=$(in_ns 10 "$NS_CLI" curl -s --max-time 5 "http://$BE1_IP:8000/") ||
		{ fail "client -> $BE1_IP:8000 direct failed"; return; }
	b2=$(in_ns 10 "$NS_CLI" curl -s --max-time 5 "http://$BE2_IP:8000/") ||
		{ fail "client -> $BE2_IP:8000 direct failed"; return; }
	[ "$b1" = backend-01 ] && [ "$b2" = backend-02 ] ||
		{ fail "unexpected answers '$b1' '$b2'"; return; }
	in_ns 10 "$NS_CLI" ping -c2 -i0.2 -W1 "$LB_IP" >/dev/null ||
		{ fail "client cannot ping $LB_IP"; return; }
	# The lb must not have learnt the backends' addresses (xlb resolves them).
	if ip -n "$NS_LB" neigh | grep -qE "^($BE1_IP|$BE2_IP) "; then
		fail "lb already has neighbour entries for the backends"; return
	fi
}

case_topology_two_clients() {
	local a b
	start_http "$NS_BE1" "$BE1_IP" backend-01 || return
	a=$(in_ns 10 "$NS_CLI" curl -s --max-time 5 "http://$BE1_IP:8000/") || { fail "client 1 failed"; return; }
	b=$(in_ns 10 "$NS_CLI2" curl -s --max-time 5 "http://$BE1_IP:8000/") || { fail "client 2 failed"; return; }
	[ "$a" = backend-01 ] && [ "$b" = backend-01 ] || fail "unexpected answers '$a' '$b'"
}

run_case topology_direct full case_topology_direct
run_case topology_two_clients full2 case_topology_two_clients
e2e_finish
