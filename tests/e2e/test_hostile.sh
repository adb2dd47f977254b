#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2119  # "A && B || fail" is intended; helpers take optional args
# Hostile traffic and the balancer's control surface (issue 6; the figures
# and mechanisms are in docs/reliability.md):
#   - spoofed "replies" of connections that do not exist, packets to the
#     NAT port range from outside, replies of a live connection from the
#     wrong address or port, non-SYN packets without state, and packets
#     addressed to the backends through the balancer: none reaches a
#     client or a backend (sniffed for a marker in every frame) and each
#     is counted by xlb stats under its reason; a live transfer is not
#     disturbed;
#   - pins, the control socket and its directory have tight modes; a
#     non-root user can neither read nor change state;
#   - a configuration that would put someone else's address on the
#     backend leg (--snat not owned by the node) is refused.
# The packets are built by a small Python tool (written to the run's work
# directory) with AF_PACKET / raw sockets, inside the test's namespaces,
# documentation addresses only, bounded counts.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${HOSTILE_N:-100}        # packets per kind
ATTACKER_IP=198.51.100.66  # a host on the balancer's LAN
MARK=XLBHOSTILE$RUN_TOKEN  # in the payload of every hostile packet
TOOL=$WORK/hostile.py
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

cat >"$TOOL" <<'PY'
#!/usr/bin/env python3
"""hostile.py: raw packets for test_hostile.sh (stdlib only, bounded).

  send   --ifname IF --dst-mac MAC --src A --dst A --proto tcp|udp
         --sport P --dport P|LO-HI [--dport-avoid P,P,...] --flags F --count N --marker M
         frames sent as they are (AF_PACKET), source MAC of IF
  rsend  same without --ifname/--dst-mac: a raw IP socket (the kernel
         routes it; the source address is whatever --src says)
  sniff  --ifname IF --marker M --node A --seconds S --stop FILE --out FILE
         counts received frames that carry the marker, until FILE exists
         or S seconds pass; writes "RELAYED ICMP": frames that carry a
         hostile packet (relayed or NATed), and ICMP errors from the node
         A itself that quote one (its own stack answering for its own
         address); then a few summaries of the first kind
"""
import argparse, os, random, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

FLAGS = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}

def segment(a, sport, dport, flags, payload):
    src, dst = socket.inet_aton(a.src), socket.inet_aton(a.dst)
    if a.proto == "tcp":
        f = sum(FLAGS[c] for c in flags)
        seq = random.getrandbits(32)
        ack = random.getrandbits(32) if f & 16 else 0
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, f,
                         65535, 0, 0) + payload
        proto, off = 6, 16
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        proto, off = 17, 6
    c = csum(src + dst + struct.pack("!BBH", 0, proto, len(l4)) + l4)
    if proto == 17 and c == 0:
        c = 0xffff
    l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4),
                     random.getrandbits(16), 0x4000, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + l4

def ports(spec, avoid=""):
    """A port picker for P or LO-HI (random), never one of avoid (P,P,...)."""
    if "-" not in spec:
        return lambda: int(spec)
    lo, hi = (int(x) for x in spec.split("-"))
    skip = {int(x) for x in avoid.split(",") if x}
    if not set(range(lo, hi + 1)) - skip:
        sys.exit("--dport-avoid leaves no port in %s" % spec)
    def pick():
        while True:
            p = random.randint(lo, hi)
            if p not in skip:
                return p
    return pick

def send(a, raw):
    if raw:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    else:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((a.ifname, 0))
        smac = open("/sys/class/net/%s/address" % a.ifname).read().strip()
        eth = bytes.fromhex(a.dst_mac.replace(":", "")) + \
            bytes.fromhex(smac.replace(":", "")) + b"\x08\x00"
    sp, dp = ports(a.sport), ports(a.dport, a.dport_avoid)
    flags = a.flags.split(",")
    for i in range(a.count):
        pkt = segment(a, sp(), dp(), flags[i % len(flags)],
                      (a.marker + "-%d" % i).encode())
        if raw:
            s.sendto(pkt, (a.dst, 0))
        else:
            s.send(eth + pkt)
        if i % 50 == 49:
            time.sleep(0.01)
    print(a.count)

def sniff(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((a.ifname, 0))
    s.settimeout(0.2)
    if a.ready:  # bound: every frame from now on is seen
        open(a.ready, "w").close()
    mark, n, icmp, seen = a.marker.encode(), 0, 0, []
    node = socket.inet_aton(a.node) if a.node else b""
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and not os.path.exists(a.stop):
        try:
            f, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or mark not in f:
            continue
        if len(f) >= 34 and f[12:14] == b"\x08\x00" and f[23] == 1 and \
                f[26:30] == node:
            icmp += 1
            continue
        n += 1
        if len(seen) < 5 and len(f) >= 34 and f[12:14] == b"\x08\x00":
            seen.append("%s -> %s proto %d from MAC %s" % (
                socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34]),
                f[23], f[6:12].hex(":")))
    with open(a.out, "w") as o:
        o.write("%d %d\n" % (n, icmp))
        for x in seen:
            o.write(x + "\n")

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["send", "rsend", "sniff"])
p.add_argument("--ifname"); p.add_argument("--dst-mac")
p.add_argument("--src"); p.add_argument("--dst")
p.add_argument("--proto", default="tcp")
p.add_argument("--sport", default="40000"); p.add_argument("--dport", default="80")
p.add_argument("--dport-avoid", default="")
p.add_argument("--flags", default="S")
p.add_argument("--count", type=int, default=1)
p.add_argument("--marker", default="")
p.add_argument("--seconds", type=float, default=60)
p.add_argument("--stop"); p.add_argument("--out"); p.add_argument("--node")
p.add_argument("--ready")
a = p.parse_args()
if a.count > 100000 or a.seconds > 600:
    sys.exit("bounds: count <= 100000, seconds <= 600")
if a.mode == "sniff":
    sniff(a)
else:
    send(a, a.mode == "rsend")
PY

# ------------------------------------------------------------- helpers
NS_ATK=""
# attacker_up: one more host on the lan switch, $ATTACKER_IP.
attacker_up() {
	NS_ATK=xlbt-$RUN_TOKEN-$CASE_SEQ-attacker
	ns_add "$NS_ATK" && lan_port "$NS_ATK" eth0 "$ATTACKER_IP" p-attacker
}

lb_mac() { ip -n "$NS_LB" -o link show dev "$LB_IF" | grep -o 'link/ether [0-9a-f:]*' | awk '{ print $2 }'; }

# sniffers_start: a marker counter on the client and both backends; returns
# once each has bound its socket (it creates sniff-ready-NAME), at most 5 s.
SNIFF_PIDS=()
sniffers_start() {
	local ns name
	rm -f "$CASE_DIR/sniff.stop" "$CASE_DIR"/sniff-ready-*
	SNIFF_PIDS=()
	for name in client backend-01 backend-02; do
		case $name in
		client) ns=$NS_CLI ;;
		backend-01) ns=$NS_BE1 ;;
		backend-02) ns=$NS_BE2 ;;
		esac
		bg "sniff-$name" "$ns" "$PY" "$TOOL" sniff --ifname eth0 --marker "$MARK" --node "$LB_IP" \
			--seconds 120 --stop "$CASE_DIR/sniff.stop" --out "$CASE_DIR/sniffed-$name.txt" \
			--ready "$CASE_DIR/sniff-ready-$name"
		SNIFF_PIDS+=("$BG_PID")
	done
	for name in client backend-01 backend-02; do
		wait_for 5 "sniffer on $name bound" test -e "$CASE_DIR/sniff-ready-$name" || return
	done
}
sniffers_stop() {
	local p
	sleep 0.5 # the last frames are delivered
	touch "$CASE_DIR/sniff.stop"
	for p in "${SNIFF_PIDS[@]}"; do wait_pid "$p" 5; done
	SNIFF_PIDS=()
}

# atk ARGS...: frames from the attacker, addressed (MAC) to the balancer.
atk() { in_ns 60 "$NS_ATK" "$PY" "$TOOL" send --ifname eth0 --dst-mac "$LBMAC" --marker "$MARK" "$@" >/dev/null; }
# cli ARGS...: raw IP packets from the client, routed by its kernel.
cli() { in_ns 60 "$NS_CLI" "$PY" "$TOOL" rsend --marker "$MARK" "$@" >/dev/null; }

# phase NAME REASON EXPECTED CMD...: run CMD (which sends EXPECTED packets)
# and check that xlb counted them under REASON (at least EXPECTED, at most
# 5 more for the node's own background traffic); the figure goes to
# $CASE_DIR/figures.
phase() {
	local name=$1 reason=$2 want=$3 before after d i
	shift 3
	stats_snap; before=$(stat_of "$reason")
	"$@" || { fail "$name: sending failed"; return 1; }
	# counted as they arrive: wait up to 2 s for all of them (a loaded
	# machine can take longer than a fixed pause), then 0.3 s for extras
	for ((i = 0; i < 20; i++)); do
		sleep 0.1
		stats_snap; after=$(stat_of "$reason")
		[ $((after - before)) -lt "$want" ] || break
	done
	sleep 0.3
	stats_snap; after=$(stat_of "$reason")
	d=$((after - before))
	info "$name: $want sent, $reason +$d"
	echo "$name $want $reason $d" >>"$CASE_DIR/figures"
	[ "$before" -ge 0 ] || { fail "xlb stats -j has no counter '$reason'"; return 1; }
	[ "$d" -ge "$want" ] && [ "$d" -le $((want + 5)) ] ||
		{ fail "$name: $want packets sent, $reason counted $d"; return 1; }
}

# ------------------------------------------------------------- cases
case_hostile_traffic() {
	local conns natport tracked be cport rc want got f n d before after total=0 curl_pid problems=()
	need_xlb || return
	attacker_up || { fail "attacker namespace"; return; }
	# no source validation upstream: spoofed packets from the client side
	# reach the balancer (the worst case for it)
	ip netns exec "$NS_GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	start_http_backends || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP,$BE2_IP" || return
	LBMAC=$(lb_mac)
	[ -n "$LBMAC" ] || { fail "no MAC for $LB_IF"; return; }
	got=$(http_loop "$NS_CLI" 4 "http://$VIP:8000/" | awk '{ print $1 }' | sort | uniq -c | xargs)
	info "legitimate requests: $got"
	[ "$got" = "2 backend-01 2 backend-02" ] || { fail "service not working before the test: $got"; return; }

	# a live transfer (10 MiB at 400 KiB/s: ~25 s) that must survive it all
	want=$(sha256sum <"$(big_file)" | awk '{ print $1 }')
	bg curl-live "$NS_CLI" curl -sS --max-time 60 --limit-rate 400K -o "$CASE_DIR/live.bin" "http://$VIP:8000/big.bin"
	curl_pid=$BG_PID
	for ((n = 0; n < 50; n++)); do
		conns=$(xlb_cmd conns -i "$LB_IF" -j 2>/dev/null)
		natport=$(printf '%s' "$conns" | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    # closing: the backend may have sent the whole file (it fits in the
    # receive buffer of the client) and closed its side; curl still reads
    if c.get("state") in ("established", "closing"):
        print(c["nat_port"], c["backend"].rsplit(":", 1)[0], c["client"].rsplit(":", 1)[1]); break' 2>/dev/null)
		[ -n "$natport" ] && break
		sleep 0.1
	done
	read -r natport be cport <<<"$natport"
	# the NAT ports of every tracked connection (the legitimate requests'
	# closed ones too): a spoofed "reply" to one of them is no longer a
	# reply of a connection that does not exist
	tracked=$(printf '%s' "$conns" | "$PY" -c '
import json, sys
print(",".join(str(c["nat_port"]) for c in json.load(sys.stdin)))' 2>/dev/null)
	info "live connection: NAT port $natport, backend $be; NAT ports in use: $tracked"
	[[ "$natport" =~ ^[0-9]+$ ]] || { fail "no established connection in xlb conns -j: $(head -c 300 <<<"$conns")"; return; }

	sniffers_start || return
	# 1. "replies" of connections that do not exist: the backend's
	#    address and port, to the VIP on ports of the NAT range
	phase spoofed_replies_tcp pass_no_service "$N" \
		atk --src "$BE1_IP" --dst "$VIP" --sport 8000 --dport 9001-32767 --dport-avoid "$tracked" --flags A,SA,R,FA --count "$N" || return
	phase spoofed_replies_udp pass_no_service "$N" \
		atk --proto udp --src "$BE1_IP" --dst "$VIP" --sport 8000 --dport 9001-32767 --dport-avoid "$tracked" --count "$N" || return
	# ... the same, from the Internet side (spoofed source, through the gateway)
	phase spoofed_replies_from_outside pass_no_service "$N" \
		cli --src "$BE2_IP" --dst "$VIP" --sport 8000 --dport 9001-32767 --dport-avoid "$tracked" --flags A,SA --count "$N" || return
	# 2. the NAT port range from outside, from the client's own address
	phase natports_from_outside pass_no_service "$N" \
		cli --src "$CLIENT_IP" --dst "$VIP" --sport 1024-65535 --dport 1024-7999 --flags S,A,SA --count "$N" || return
	phase natports_from_outside_udp pass_no_service "$N" \
		cli --proto udp --src "$CLIENT_IP" --dst "$VIP" --sport 1024-65535 --dport 1024-7999 --count "$N" || return
	# 3. the live connection's NAT port, from the wrong source
	phase live_natport_wrong_port pass_no_service "$N" \
		atk --src "$be" --dst "$VIP" --sport 8001 --dport "$natport" --flags A,PA --count "$N" || return
	phase live_natport_wrong_addr pass_no_service "$N" \
		atk --src "$ATTACKER_IP" --dst "$VIP" --sport 8000 --dport "$natport" --flags A,PA --count "$N" || return
	phase live_natport_from_client pass_no_service "$N" \
		cli --src "$CLIENT_IP" --dst "$VIP" --sport 8000 --dport "$natport" --flags A --count "$N" || return
	# 4. non-SYN packets to the service without a connection
	# (source ports below the client's ephemeral range: none of them can
	# be the live transfer's, which would make it a packet of that flow)
	phase no_state_non_syn drop_no_flow "$N" \
		cli --src "$CLIENT_IP" --dst "$VIP" --sport 1024-32767 --dport 8000 --flags A,PA,FA,R,SA --count "$N" || return
	# 5. to the backends through the balancer (not an open relay)
	phase via_lb_to_backend_tcp pass_no_service "$N" \
		atk --src "$ATTACKER_IP" --dst "$BE1_IP" --sport 1024-65535 --dport 8000 --flags S --count "$N" || return
	phase via_lb_to_backend_udp pass_no_service "$N" \
		atk --proto udp --src "$ATTACKER_IP" --dst "$BE2_IP" --sport 1024-65535 --dport 8000 --count "$N" || return
	phase via_lb_spoofed_client pass_no_service "$N" \
		atk --src "$CLIENT_IP" --dst "$BE1_IP" --sport 1024-65535 --dport 8000 --flags S,A --count "$N" || return
	sniffers_stop
	# 6. RSTs spoofed on the live connection's own tuple, with random
	#    sequence numbers: forwarded (the backend ignores them, RFC 5961)
	#    but not taken as the connection's end (rst_ignored); one may
	#    land in the 2 MiB window by chance (1 in 2048)
	stats_snap; before=$(stat_of rst_ignored)
	cli --src "$CLIENT_IP" --dst "$VIP" --sport "$cport" --dport 8000 --flags R --count 20 ||
		{ fail "spoofed_rst_live: sending failed"; return; }
	for ((n = 0; n < 20; n++)); do
		sleep 0.1
		stats_snap; after=$(stat_of rst_ignored)
		[ $((after - before)) -lt 19 ] || break
	done
	info "spoofed_rst_live: 20 sent on client port $cport, rst_ignored +$((after - before))"
	[ $((after - before)) -ge 19 ] && [ $((after - before)) -le 20 ] ||
		{ fail "spoofed_rst_live: 20 RSTs with random sequence numbers, rst_ignored +$((after - before))"; return; }

	local icmp=0 relayed_by=""
	for f in client backend-01 backend-02; do
		read -r n d <"$CASE_DIR/sniffed-$f.txt" || { fail "sniffer on $f wrote nothing"; return; }
		total=$((total + n)) icmp=$((icmp + d))
		info "$f received $n hostile packets (relayed or NATed), $d ICMP errors of the node's own stack quoting one"
		[ "$n" = 0 ] || relayed_by="$relayed_by $f: $n ($(sed -n 2p "$CASE_DIR/sniffed-$f.txt"));"
	done
	echo "delivered $total" >>"$CASE_DIR/figures"
	echo "node_icmp $icmp" >>"$CASE_DIR/figures"
	if [ "$total" != 0 ]; then
		problems+=("$total hostile packets went through the balancer (ip forwarding on $LB_IF: $(ip netns exec "$NS_LB" cat "/proc/sys/net/ipv4/conf/$LB_IF/forwarding")):$relayed_by")
	fi

	wait_pid "$curl_pid" 60; rc=$STOP_RC
	got=$(sha256sum <"$CASE_DIR/live.bin" 2>/dev/null | awk '{ print $1 }')
	info "live transfer: curl exit $rc, sha256 $([ "$got" = "$want" ] && echo intact || echo DIFFERENT)"
	echo "live_transfer $rc $([ "$got" = "$want" ] && echo intact || echo broken)" >>"$CASE_DIR/figures"
	[ "$rc" = 0 ] && [ "$got" = "$want" ] || problems+=("the live transfer broke (curl exit $rc)")
	[ -n "${HOSTILE_FIGURES:-}" ] && cp "$CASE_DIR/figures" "$HOSTILE_FIGURES"
	[ ${#problems[@]} = 0 ] || fail "$(printf '%s; ' "${problems[@]}")"
}

# Modes of what xlb creates, and what a non-root user can do.  Every
# problem is collected, then reported together.
case_control_surface() {
	local pins d f mode bad="" out rc before after cmd problems=()
	need_xlb || return
	xlb_start --vip "$VIP:8000" --backends "$BE1_IP" || return
	pins=$(compgen -G "$PIN_ROOT/$LB_IF@*" | head -n1)
	[ -n "$pins" ] || pins=$PIN_ROOT/$LB_IF
	[ -d "$pins" ] || { fail "no pin directory for $LB_IF under $PIN_ROOT"; return; }
	for d in "$PIN_ROOT" "$pins" /run/xlb; do
		mode=$(stat -c %a "$d")
		info "$d: mode $mode, owner $(stat -c %U "$d")"
		[ "$mode" = 700 ] && [ "$(stat -c %u "$d")" = 0 ] || bad="$bad $d=$mode"
	done
	for f in "$pins"/* /run/xlb/"$LB_IF"@*; do
		[ -e "$f" ] || continue
		mode=$(stat -c %a "$f")
		# nothing for the group or others
		[ $((8#$mode & 8#077)) = 0 ] && [ "$(stat -c %u "$f")" = 0 ] || bad="$bad $(basename "$f")=$mode"
	done
	info "files: $(find "$pins" -mindepth 1 | wc -l) pins, $(find /run/xlb -name "$LB_IF@*" | wc -l) in /run/xlb"
	[ -z "$bad" ] || problems+=("modes too open:$bad")

	before=$(xlb_cmd service list -j 2>&1)
	xlb_nsexec "$NS_LB"
	# each command as nobody: refused with a message, nothing changes
	for cmd in "stats -i $LB_IF" "stats -i $LB_IF -j" "conns -i $LB_IF" \
		"conns flush -i $LB_IF" "show" "save" "service list" \
		"backend add $VIP:8000 $BE2_IP" "backend del $VIP:8000 $BE1_IP" \
		"service del $VIP:8000" "stop -i $LB_IF" "trace -i $LB_IF"; do
		# shellcheck disable=SC2086  # cmd is split on purpose
		out=$(tmo 5 "${XLB_NSEXEC[@]}" "${NOBODY[@]}" "$XLB" $cmd 2>&1 </dev/null)
		rc=$?
		info "as nobody: xlb $cmd: exit $rc: $(head -n1 <<<"$out")"
		if [ "$rc" = 0 ]; then
			problems+=("xlb $cmd succeeded for nobody")
		elif [ "$rc" = 124 ]; then
			problems+=("xlb $cmd hung for nobody")
		elif ! grep -qiE 'root|permi|privileg|denied|CAP_' <<<"$out"; then
			problems+=("xlb $cmd as nobody: no clear refusal ($(head -n1 <<<"$out"))")
		fi
	done
	out=$(tmo 5 "${NOBODY[@]}" ls "$pins" 2>&1) && problems+=("nobody can list $pins")
	out=$(tmo 5 "${NOBODY[@]}" ls /run/xlb 2>&1) && problems+=("nobody can list /run/xlb")
	after=$(xlb_cmd service list -j 2>&1)
	[ "$before" = "$after" ] || problems+=("state changed: $before -> $after")
	xlb_stop || return
	[ ${#problems[@]} = 0 ] || fail "$(printf '%s; ' "${problems[@]}")"
}

# SNAT addresses must be the node's own: xlb must not source packets from
# an address another host owns.
case_foreign_snat_refused() {
	local rc out
	need_xlb || return
	xlb_nsexec "$NS_LB"
	out=$(tmo 10 "${XLB_NSEXEC[@]}" "$XLB" run -i "$LB_IF" --vip "$VIP:8000" \
		--backends "$BE1_IP" --snat 198.51.100.99 2>&1 </dev/null)
	rc=$?
	info "xlb run --snat 198.51.100.99 (not on the node): exit $rc: $(head -n1 <<<"$out")"
	if [ "$rc" = 124 ]; then
		xlb_cmd stop -i "$LB_IF" >/dev/null 2>&1
		fail "xlb run accepted --snat 198.51.100.99, an address the node does not own"
		return
	fi
	[ "$rc" = 1 ] || [ "$rc" = 2 ] || { fail "exit $rc: $out"; return; }
	grep -q 198.51.100.99 <<<"$out" || { fail "the refusal does not name the address: $out"; return; }
	xlb_attached && { fail "left attached after the refusal"; return; }
	xlb_pinned && { fail "left pinned after the refusal"; return; }
	return 0
}

run_case hostile_traffic full case_hostile_traffic
run_case control_surface min case_control_surface
run_case foreign_snat_refused min case_foreign_snat_refused
e2e_finish
