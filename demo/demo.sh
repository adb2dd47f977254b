#!/usr/bin/env bash
# demo/demo.sh (make demo): the tutorial's network in network namespaces,
# xlb balancing HTTP between two backends, first round-robin, then weighted
# round-robin with weights 1 and 2, then Maglev hashing of the client's
# address (two clients, each kept on its backend).  Everything is torn down at the end,
# also on failure or Ctrl-C.  Needs root and `make` (build/xlb,
# build/xdp_pass.bpf.o).
set -u
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. "$(dirname "$0")/../tests/e2e/lib.sh"
E2E_QUIET=1 # no per-step info lines from lib.sh

REQUESTS=${REQUESTS:-6}

section() { printf '\n== %s ==\n' "$*"; }
die() {
	echo "demo: $*" >&2
	if [ -n "$XLB_LOG" ] && [ -f "$XLB_LOG" ]; then
		echo "-- xlb output:" >&2
		tail -n 20 "$XLB_LOG" >&2
	fi
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, XDP)"
[ -x "$XLB" ] || die "$XLB not found: run make first"
[ -f "$XDP_PASS_OBJ" ] || die "$XDP_PASS_OBJ not found: run make first"

# part TITLE ARGS...: run xlb with ARGS, send requests from each client of
# FROM ("NAMESPACE=ADDRESS ..."; default: the first client), show trace and
# stats.
part() {
	local title=$1 i body tpid from c
	shift
	from=${FROM:-$NS_CLI=$CLIENT_IP}
	section "$title"
	echo "\$ xlb run -i $LB_IF $*"
	xlb_start "$@" || die "${T_REASON:-xlb run failed}"
	sed 's/^/  | /' "$XLB_LOG"
	bg "trace-$XLB_STARTS" "$NS_LB" "$XLB" trace -i "$LB_IF"
	tpid=$BG_PID
	sleep 1
	echo
	echo "client -> http://$VIP:8000/ ($REQUESTS requests per client, one connection each):"
	for ((i = 1; i <= REQUESTS; i++)); do
		for c in $from; do
			body=$(in_ns 10 "${c%%=*}" curl -s --max-time 5 "http://$VIP:8000/") || body="(no answer, curl exit $?)"
			echo "  ${c#*=} request $i -> $body"
		done
	done
	sleep 0.5
	stop_pid "$tpid" INT 5
	echo
	echo "\$ xlb trace -i $LB_IF"
	sed 's/^/  /' "$CASE_DIR/trace-$XLB_STARTS.log"
	echo
	echo "\$ xlb stats -i $LB_IF"
	xlb_cmd stats -i "$LB_IF" 2>&1 | sed 's/^/  /'
	echo
	echo "\$ xlb stop -i $LB_IF"
	xlb_stop || die "${T_REASON:-xlb did not stop}"
	sed 's/^/  /' "$CASE_DIR/xlb-stop.log"
	echo "(xlb run exited with $XLB_RC; nothing attached or pinned)"
}

CASE_SEQ=1
CASE_NAME=demo
CASE_DIR=$WORK/demo
mkdir -p "$CASE_DIR"
case_names

section "Topology"
topo_up 2 || die "topology setup failed: ${T_REASON:-see above}"
start_http_backends || die "${T_REASON:-backends failed to start}"
cat <<TOPO
  client      $CLIENT_IP   (ns $NS_CLI)   default via $GW_CLIENT_IP
  client2     $CLIENT2_IP   (ns $NS_CLI2)   default via $GW_CLIENT_IP
  gateway     $GW_CLIENT_IP | $GW_LAN_IP   (ns $NS_GW)   ip_forward=1
  lb          $LB_IP  (ns $NS_LB, interface $LB_IF)   runs xlb
  backend-01  $BE1_IP  (ns $NS_BE1)   python3 -m http.server 8000
  backend-02  $BE2_IP  (ns $NS_BE2)   python3 -m http.server 8000
  lan switch: bridge in ns $NS_SW; xdp_pass on the lb's peer (veth XDP_TX);
  TX checksum offload off on every veth.  The lb has not pinged the
  backends: xlb resolves their addresses itself.
TOPO

part "Part 1: round-robin" --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP"
part "Part 2: weighted round-robin, weights 1 and 2" \
	--vip "$VIP:8000" --algo wrr --backends "$BE1_IP@1,$BE2_IP@2"
REQUESTS=3 FROM="$NS_CLI=$CLIENT_IP $NS_CLI2=$CLIENT2_IP" \
	part "Part 3: Maglev hashing of the client's address (mh): each client keeps its backend" \
	--vip "$VIP:8000" --algo mh --backends "$BE1_IP,$BE2_IP"

section "Teardown"
topo_down
echo "namespaces removed; done."
