#!/usr/bin/env python3
"""Turn the raw benchmark output into summary lines and docs/benchmarks.md.

  report.py --pkt PKT.txt --e2e E2E.txt --machine MACHINE.txt --mode full|quick
            --out docs/benchmarks.md --chart docs/benchmarks.png [--notes FILE]

PKT.txt   lines of build/bench/pkt_cost ("bench pkt_<figure> <value> <unit> k=v ...")
E2E.txt   lines of bench/e2e.sh ("e2e <round> <setup> <metric> <value> <unit>")
Prints one machine-readable line per end-to-end figure:
  bench e2e_<metric>_<setup> <median> <unit> min=<> max=<> n=<> ratio=<x to direct>
and one per target ("bench target_<name> <value> <unit> target... PASS|FAIL").
Standard library only; the chart is drawn with gnuplot if it is installed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

SETUP_NAMES = {
    "direct": "direct (no balancer)",
    "router": "router hop (no balancer)",
    "xlb": "xlb (XDP)",
    "xlb1": "xlb, one backend (as direct)",
    "nft": "nftables DNAT+SNAT",
    "haproxy": "HAProxy (tcp, roundrobin)",
    "nginx": "nginx stream (rr)",
    "floor": "floor (MAC swap + XDP_TX)",
}
E2E_METRICS = [
    # metric, label, unit shown, higher is better
    ("keepalive_rps", "keep-alive HTTP requests/s", "req/s", True),
    ("newconn_cps", "new connections/s (1 request each)", "conn/s", True),
    ("iperf_bps", "TCP throughput (iperf3, 1 stream)", "Gbit/s", True),
    ("latency_p50", "latency p50, 1 request at a time", "us", False),
    ("latency_p99", "latency p99, 1 request at a time", "us", False),
    ("keepalive_p99", "latency p99 under keep-alive load", "us", False),
    ("keepalive_cpu", "machine CPU per keep-alive request", "us/req", False),
    ("newconn_cpu", "machine CPU per new connection", "us/conn", False),
]
# xlb's own cost (bench/e2e.sh xlb_cost): metric, label, unit shown, and
# the machine-CPU figure of the same setup it is a share of (or None)
OWN_METRICS = [
    ("xdp_newconn", "XDP time per new connection", "us/conn", "newconn_cpu"),
    ("daemon_newconn", "daemon CPU per new connection", "us/conn", "newconn_cpu"),
    ("xdp_pkts_newconn", "packets through XDP per new connection", "pkt", None),
    ("xdp_pkt_newconn", "XDP time per packet, new connections", "ns", None),
    ("xdp_keepalive", "XDP time per keep-alive request", "us/req", "keepalive_cpu"),
    ("daemon_keepalive", "daemon CPU per keep-alive request", "us/req", "keepalive_cpu"),
    ("xdp_pkts_keepalive", "packets through XDP per keep-alive request", "pkt", None),
    ("xdp_pkt_keepalive", "XDP time per packet, keep-alive requests", "ns", None),
]


def parse_pkt(path):
    figs = {}
    if not path or not os.path.exists(path):
        return figs
    for line in open(path):
        t = line.split()
        if len(t) < 3 or t[0] != "bench" or not t[1].startswith("pkt_"):
            continue
        name = t[1][4:]
        d = {"raw": line.rstrip("\n")}
        try:
            d["value"] = float(t[2])
        except ValueError:
            d["value"] = None
        d["unit"] = t[3] if len(t) > 3 else ""
        for tok in t[4:]:
            if "=" in tok and not tok.startswith("target"):
                k, v = tok.split("=", 1)
                d[k] = v
            elif tok.startswith("target"):
                d["target"] = tok[len("target"):]
            elif tok in ("PASS", "FAIL"):
                d["result"] = tok
            elif tok == "BAD_VERDICTS":
                d["bad"] = True
        figs[name] = d
    return figs


def parse_e2e(path):
    samples = {}  # (setup, metric) -> [values]
    units = {}
    config = ""
    if not path or not os.path.exists(path):
        return samples, units, config
    for line in open(path):
        t = line.split()
        if len(t) >= 2 and t[0] == "e2e" and t[1] == "config":
            config = " ".join(t[2:])
            continue
        if len(t) < 6 or t[0] != "e2e":
            continue
        try:
            v = float(t[4])
        except ValueError:
            continue
        samples.setdefault((t[2], t[3]), []).append(v)
        units[t[3]] = t[5]
    return samples, units, config


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "bit/s" or unit == "Gbit/s":
        return "%.2f" % (v / 1e9)
    if unit == "pkt/s":
        return "%.2f M" % (v / 1e6)
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


class Report:
    def __init__(self, a):
        self.a = a
        self.pkt = parse_pkt(a.pkt)
        self.samples, self.units, self.e2e_config = parse_e2e(a.e2e)
        self.lines = []  # machine-readable summary lines
        self.targets = []  # (area, description, measured, target, result)

    # ------------------------------------------------------------ e2e
    def stat(self, setup, metric):
        xs = self.samples.get((setup, metric), [])
        if not xs:
            return None
        return {"med": med(xs), "min": min(xs), "max": max(xs), "n": len(xs)}

    def e2e_summary(self):
        setups = []
        for (s, _m) in self.samples:
            if s not in setups:
                setups.append(s)
        order = [s for s in ["direct", "router", "xlb", "xlb1", "nft", "haproxy", "nginx", "floor"]
                 if s in setups]
        order += [s for s in setups if s not in order]
        self.setups = order
        for s in order:
            for (metric, _l, _u, _h) in E2E_METRICS + [("rate_pps", "", "", True)]:
                st = self.stat(s, metric)
                if not st:
                    continue
                base = self.stat("floor" if metric == "rate_pps" else "direct", metric)
                ratio = st["med"] / base["med"] if base and base["med"] else None
                unit = self.units.get(metric, "")
                self.lines.append(
                    "bench e2e_%s_%s %.6g %s min=%.6g max=%.6g n=%d%s"
                    % (metric, s, st["med"], unit, st["min"], st["max"], st["n"],
                       " ratio=%.2f" % ratio if ratio is not None else ""))
            for (metric, _l, _u, _share) in OWN_METRICS:
                st = self.stat(s, metric)
                if st:
                    self.lines.append("bench e2e_%s_%s %.6g %s min=%.6g max=%.6g n=%d"
                                      % (metric, s, st["med"], self.units.get(metric, ""),
                                         st["min"], st["max"], st["n"]))
        for (s, m), xs in sorted(self.samples.items()):
            if (m.endswith("_errors") or m.startswith("drop_")
                    or m in ("setup_failed", "rate_not_forwarded")):
                self.lines.append("bench e2e_%s_%s %d count rounds=%d (problem: see docs)" %
                                  (m, s, sum(xs), len(xs)))

    def ratio(self, setup, metric, base="direct"):
        a, b = self.stat(setup, metric), self.stat(base, metric)
        if not a or not b or not b["med"]:
            return None
        return a["med"] / b["med"]

    def target(self, area, desc, measured, op, limit, unit="x"):
        if measured is None:
            res = "n/a"
        elif op == ">=":
            res = "PASS" if measured >= limit else "FAIL"
        elif op == "<=":
            res = "PASS" if measured <= limit else "FAIL"
        elif op == ">":
            res = "PASS" if measured > limit else "FAIL"
        else:
            res = "PASS" if measured < limit else "FAIL"
        self.targets.append((area, desc, measured, "%s %s%s" % (op, fmt(limit), unit), res))
        key = "".join(c if c.isalnum() else "_" for c in desc.lower()).strip("_")
        while "__" in key:
            key = key.replace("__", "_")
        self.lines.append("bench target_%s %s %s target%s%s %s" %
                          (key, "%.3f" % measured if measured is not None else "n/a",
                           unit, op, limit, res))

    def e2e_targets(self):
        r = self.ratio
        self.target("e2e", "xlb keep-alive req/s vs direct", r("xlb", "keepalive_rps"), ">=", 0.85)
        self.target("e2e", "xlb new conn/s vs direct", r("xlb", "newconn_cps"), ">=", 0.85)
        self.target("e2e", "xlb CPU per keep-alive request vs direct", r("xlb", "keepalive_cpu"), "<=", 1.15)
        self.target("e2e", "xlb CPU per new connection vs direct", r("xlb", "newconn_cpu"), "<=", 1.15)
        for (m, label, _u, higher) in E2E_METRICS:
            x = self.stat("xlb", m)
            n = self.stat("nft", m)
            if not x or not n or not n["med"]:
                continue
            # "ahead": as a factor where > 1 means xlb is better
            adv = x["med"] / n["med"] if higher else n["med"] / x["med"] if x["med"] else None
            self.target("e2e", "xlb ahead of nftables: " + label, adv, ">", 1.0)
        for other in ("haproxy", "nginx"):
            self.target("e2e", "xlb new conn/s vs " + other,
                        r("xlb", "newconn_cps", other), ">=", 1.5)
        self.target("rate", "xlb UDP packet rate vs floor", r("xlb", "rate_pps", "floor"), ">=", 0.8)

    # ------------------------------------------------------------ pkt
    def pkt_targets(self):
        for name, d in self.pkt.items():
            if "result" not in d:
                continue
            if name.startswith("table_ratio_"):
                self.targets.append(("per-packet", "1 flow vs 1M flows: " + name[12:],
                                     d["value"], d.get("target", ""), d["result"]))
            elif name == "backends_spread":
                self.targets.append(("per-packet", "new-flow cost spread, 2/64/1024 backends, rr/wrr/mh (%)",
                                     d["value"], d.get("target", ""), d["result"]))
            elif name.startswith("tcp_new_be"):
                continue  # counted once, as the spread below
            else:
                label = name + " (ns)"
                for sfx, what in (("_a1024", "1,024 active flows"), ("_a65536", "65,536 active flows")):
                    if name.endswith(sfx):
                        label = name + " (ns, %s)" % what
                self.targets.append(("per-packet", label, d["value"],
                                     d.get("target", ""), d["result"]))

    @staticmethod
    def setup_table(w, setups, rows, cell):
        """A markdown table with a column per setup and a row per (metric,
        label); cell(setup, metric) fills it."""
        w("| figure | " + " | ".join(SETUP_NAMES.get(s, s) for s in setups) + " |")
        w("|---|" + "---|" * len(setups))
        for (m, label) in rows:
            w("| %s | %s |" % (label, " | ".join(cell(s, m) for s in setups)))
        w("")

    # ------------------------------------------------------------ chart
    def chart(self):
        if not self.a.chart or not shutil.which("gnuplot"):
            return False
        metrics = [("keepalive_rps", "keep-alive req/s"), ("newconn_cps", "new conn/s"),
                   ("iperf_bps", "TCP throughput"), ("latency_p50", "latency p50"),
                   ("keepalive_cpu", "CPU/request"), ("newconn_cpu", "CPU/connection")]
        setups = [s for s in self.setups if s not in ("direct", "floor")]
        if not setups:
            return False
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
            for (m, label) in metrics:
                vals = []
                for s in setups:
                    x = self.ratio(s, m)
                    vals.append("%.3f" % x if x is not None else "NaN")
                f.write('"%s" %s\n' % (label, " ".join(vals)))
            # packet rate: ratio to the floor program, xlb only
            x = self.ratio("xlb", "rate_pps", "floor")
            f.write('"UDP pkt/s (vs floor)" %s\n' % " ".join(
                ("%.3f" % x if (x is not None and s == "xlb") else "NaN") for s in setups))
            dat = f.name
        cols = " , ".join(
            "'%s' using %d:xtic(1) title '%s'" % (dat if i == 0 else "", i + 2, SETUP_NAMES.get(s, s))
            for i, s in enumerate(setups))
        script = """
set terminal pngcairo size 1200,560 font 'DejaVu Sans,10'
set output '%s'
set title "xlb and baselines end to end, as a ratio to direct (client -> one backend, no balancer)\\nrates: higher is better; latency and CPU: lower is better; UDP pkt/s: ratio to the XDP_TX floor program; p99 latencies: see the table" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set yrange [0:2.6]
set ylabel 'ratio to direct'
set xtics noenhanced
set key noenhanced
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb '#444444'
set datafile missing 'NaN'
plot %s
""" % (self.a.chart, cols)
        with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as g:
            g.write(script)
            gp = g.name
        try:
            subprocess.run(["gnuplot", gp], check=True, capture_output=True, timeout=60)
            return True
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print("report: gnuplot failed: %s" % getattr(e, "stderr", e), file=sys.stderr)
            return False
        finally:
            os.unlink(dat)
            os.unlink(gp)

    # ------------------------------------------------------------ markdown
    def pkt_cell(self, name):
        d = self.pkt.get(name)
        if not d or d.get("value") is None:
            return "n/a", "n/a"
        cell = "%.0f (%s–%s)" % (d["value"], d.get("min", "?").split(".")[0], d.get("max", "?").split(".")[0])
        if d.get("bad"):
            cell += " **wrong verdicts**"
        return cell, d.get("ratio", "n/a")

    def markdown(self, chart_ok):
        a = self.a
        out = []
        w = out.append
        machine = open(a.machine).read().strip() if a.machine and os.path.exists(a.machine) else "(not recorded)"
        w("# Benchmarks")
        w("")
        w("Generated by `make %s` (bench/run.sh); do not edit by hand: edit bench/report.py "
          "or bench/notes.md and run it again." % ("bench" if a.mode == "full" else "bench-quick"))
        w("Every figure here comes from one run on the machine below; the end-to-end figures are "
          "medians over interleaved rounds, with the spread (min–max) next to them.")
        w("")
        w("## Machine and software")
        w("")
        w("```")
        w(machine)
        w("```")
        w("")
        w("## Reproduce")
        w("")
        w("```")
        w("make deps          # Debian packages, the benchmark tools included")
        w("make bench         # full run (~21 min): prints the lines, writes this file and the chart")
        w("make bench-quick   # under 2 min: 7 short per-packet rounds, 3 end-to-end rounds of 1 s runs, no xlb1")
        w("bench/run.sh [--quick] [--skip-pkt] [--skip-e2e] [--doc FILE] [--raw DIR]")
        w("bench/report.py --pkt DIR/pkt.txt --e2e DIR/e2e.txt --machine DIR/machine.txt --notes bench/notes.md --out docs/benchmarks.md --chart docs/benchmarks.png")
        w("bench/profile.sh [FIGURE...]   # perf: where a figure's time goes")
        w("build/bench/pkt_cost [--quick] [--rounds N] [--calls N] [--flows N] [--cpu N] [--only NAME]")
        w("bench/e2e.sh [--quick] [--rounds N] [--duration S] [--setups 'direct router xlb xlb1 nft haproxy nginx'] [--no-rate] [--out FILE]")
        w("```")
        w("")
        w("Both need root (network namespaces, XDP, BPF_PROG_TEST_RUN); everything runs in "
          "namespaces the scripts create and remove, with documentation addresses only "
          "(198.51.100.0/24, 203.0.113.0/24, 192.0.2.0/24), and every traffic loop is bounded "
          "in time and count.")
        w("")

        # ---- targets
        w("## Targets (issue 5, issue 3)")
        w("")
        w("| area | figure | measured | target | result |")
        w("|---|---|---|---|---|")
        for (area, desc, measured, tgt, res) in self.targets:
            mv = "n/a" if measured is None else ("%.2f" % measured if measured < 100 else "%.0f" % measured)
            w("| %s | %s | %s | %s | **%s** |" % (area, desc, mv, tgt, res))
        w("")
        npass = sum(1 for t in self.targets if t[4] == "PASS")
        nfail = sum(1 for t in self.targets if t[4] == "FAIL")
        w("%d targets met, %d missed." % (npass, nfail))
        w("")

        # ---- per packet
        w("## Per-packet cost (BPF_PROG_TEST_RUN)")
        w("")
        cfg = self.pkt.get("config", {}).get("raw", "")
        w("ns per packet: median of the per-round means, (min–max) over the rounds; ratio: "
          "to the floor program (MAC swap + XDP_TX, bpf/bench_floor.bpf.c) measured in the same "
          "rounds. `%s`" % cfg.replace("bench pkt_config ", ""))
        w("")
        w("| path | 1 flow in the table: ns | ratio to floor | 1,000,000 flows: ns | ratio to floor |")
        w("|---|---|---|---|---|")
        rows = [
            ("floor", "floor: MAC swap + XDP_TX", "floor", "floor"),
            ("tcp_new", "new TCP flow (SYN to VIP: schedule + NAT port + insert)", "tcp_new_1flow", "tcp_new_1m"),
            ("tcp_synack", "new TCP flow, 2nd packet: backend's SYN-ACK", "tcp_synack_1flow", "tcp_synack_1m"),
            ("tcp_ack3", "new TCP flow, 3rd packet: client's ACK (half-open pair promoted)", "tcp_ack3_1flow", "tcp_ack3_1m"),
            ("tcp_est_c2b", "established TCP, client → backend", "tcp_est_c2b_1flow", "tcp_est_c2b_1m"),
            ("tcp_est_b2c", "established TCP, reply backend → client", "tcp_est_b2c_1flow", "tcp_est_b2c_1m"),
            ("udp_new", "new UDP flow", "udp_new_1flow", "udp_new_1m"),
            ("udp_est_c2b", "established UDP, client → backend", "udp_est_c2b_1flow", "udp_est_c2b_1m"),
            ("udp_est_b2c", "established UDP, backend → client", "udp_est_b2c_1flow", "udp_est_b2c_1m"),
            ("nonvip22", "non-VIP: TCP to the balancer's port 22 (port pre-filter)", "nonvip_port22_1flow", "nonvip_port22_1m"),
            ("nonvipnat", "non-VIP: TCP to port 9999, inside the NAT port range (source port pre-filter)", "nonvip_natrange_1flow", "nonvip_natrange_1m"),
            ("nonvipnatbe", "non-VIP: TCP to port 9999 from port 8000, a backend's port (could be a reply: flow table miss)", "nonvip_natrange_beport_1flow", "nonvip_natrange_beport_1m"),
        ]
        for (_k, label, one, big) in rows:
            c1, r1 = self.pkt_cell(one)
            cm, rm = self.pkt_cell(big)
            w("| %s | %s | %s | %s | %s |" % (label, c1, r1, cm, rm))
        w("")
        w("With 1,000,000 flows, established packets spread over more active flows "
          "(random flows of the million, cycled):")
        w("")
        w("| active flows | client → backend: ns | ratio to floor | backend → client: ns | ratio to floor |")
        w("|---|---|---|---|---|")
        for (suffix, label) in (("", "1"), ("_a1024", "1,024"), ("_a65536", "65,536")):
            c1, r1 = self.pkt_cell("tcp_est_c2b_1m" + suffix)
            c2, r2 = self.pkt_cell("tcp_est_b2c_1m" + suffix)
            w("| %s | %s | %s | %s | %s |" % (label, c1, r1, c2, r2))
        w("")
        w("New-flow cost by number of backends (1,000,000 flows in the table):")
        w("")
        w("| backends | rr: ns | wrr: ns | mh: ns |")
        w("|---|---|---|---|")
        for n in (2, 64, 1024):
            cells = [self.pkt_cell("tcp_new_be%d_%s_1m" % (n, a))[0] for a in ("rr", "wrr", "mh")]
            w("| %d | %s |" % (n, " | ".join(cells)))
        w("")
        sw = self.pkt.get("sweep_1m")
        if sw and sw.get("value") is not None:
            w("The daemon's expiry sweep of the same table (`xlb_conn_expire_all`, what its "
              "sweeper thread runs: read both tables, pair the entries, judge each "
              "connection; nothing expires), next to its floor, a bare batch read of the "
              "table into one reused buffer, in alternating rounds:")
            w("")
            w("| connections (entries) | sweep: ms | read alone: ms | ratio to the read | ns per entry | next sweep after |")
            w("|---|---|---|---|---|---|")
            ms = sw["value"]
            w("| %s (%s) | %s (%s–%s) | %s | %s | %s | %s |" % (
                "{:,}".format(int(sw.get("conns", 0))),
                "{:,}".format(int(sw.get("entries", 0))),
                fmt(ms), fmt(float(sw.get("min", ms))), fmt(float(sw.get("max", ms))),
                fmt(float(sw.get("read", 0))), sw.get("ratio", "?"),
                sw.get("ns_per_entry", "?"),
                "%.1f s" % max(2.0, 10 * ms / 1000)))
            w("")

        # ---- e2e
        w("## End to end, in the demo's network")
        w("")
        w("Rounds interleaved (each round starts with the next setup), medians over the rounds, "
          "(min–max), and the ratio of the median to direct. `%s`" % self.e2e_config)
        w("")
        setups = [s for s in self.setups if s != "floor"]

        def vs_direct(s, m):
            st = self.stat(s, m)
            if not st:
                return "n/a"
            u = self.units.get(m, "")
            c = "%s (%s–%s)" % (fmt(st["med"], u), fmt(st["min"], u), fmt(st["max"], u))
            x = self.ratio(s, m) if s != "direct" else None
            return c + (" **%.2fx**" % x if x is not None else "")

        self.setup_table(w, setups, [(m, "%s, %s" % (label, unit)) for (m, label, unit, _h) in E2E_METRICS],
                         vs_direct)
        if self.stat("router", "keepalive_rps"):
            w("The same figures as a ratio to the router hop (the path every balancer here takes, "
              "without NAT or balancing): what each balancer costs on top of the topology.")
            w("")
            others = [s for s in setups if s not in ("direct", "router")]

            def vs_router(s, m):
                x = self.ratio(s, m, "router")
                return "%.2fx" % x if x is not None else "n/a"

            self.setup_table(w, others, [(m, label) for (m, label, _u, _h) in E2E_METRICS], vs_router)
        own = [s for s in setups if any(self.stat(s, m) for (m, _l, _u, _b) in OWN_METRICS)]
        if own:
            w("xlb's own cost, from a separate run of half the duration per round with the kernel's "
              "BPF run-time statistics on (`kernel.bpf_stats_enabled`: the time inside xlb's XDP "
              "program, which includes ~20 ns per packet of the statistics' own clock reads) and the "
              "daemon's CPU time (`/proc/PID/stat`, 10 ms ticks). \"share\" is the part of the "
              "setup's machine CPU per request (table above) that this is.")
            w("")
            shares = {m: base for (m, _l, _u, base) in OWN_METRICS}

            def own_cost(s, m):
                st = self.stat(s, m)
                if not st:
                    return "n/a"
                c = "%s (%s–%s)" % (fmt(st["med"]), fmt(st["min"]), fmt(st["max"]))
                b = self.stat(s, shares[m]) if shares[m] else None
                return c + (" (share %.1f%%)" % (100 * st["med"] / b["med"]) if b and b["med"] else "")

            self.setup_table(w, own, [(m, "%s, %s" % (label, unit)) for (m, label, unit, _b) in OWN_METRICS],
                             own_cost)
        fl = self.stat("floor", "rate_pps")
        xl = self.stat("xlb", "rate_pps")
        if fl or xl:
            w("UDP packet rate through the balancer's veth (64-byte frames, one flow, bench/pkt_rate):")
            w("")
            w("| program on the balancer's link | packets/s | ratio to floor |")
            w("|---|---|---|")
            for s, st in (("floor", fl), ("xlb", xl)):
                if st:
                    x = self.ratio(s, "rate_pps", "floor")
                    w("| %s | %s (%s–%s) | %.2f |" % (SETUP_NAMES[s], fmt(st["med"], "pkt/s"),
                                                     fmt(st["min"], "pkt/s"), fmt(st["max"], "pkt/s"), x or 0))
            w("")
        problems = [l for l in self.lines if "(problem" in l]
        if problems:
            w("Problems seen during the run (errors reported by wrk, setups that failed to start, "
              "packets not forwarded, packets xlb dropped, by reason):")
            w("")
            w("```")
            for l in problems:
                w(l)
            w("```")
            w("")
        if chart_ok:
            w("![end-to-end ratios to direct](%s)" % os.path.basename(a.chart))
            w("")

        # ---- method
        w("")
        w(METHOD)
        if a.notes and os.path.exists(a.notes):
            w(open(a.notes).read().rstrip())
            w("")
        w("## Raw lines of this run")
        w("")
        w("<details><summary>machine-readable output</summary>")
        w("")
        w("```")
        for d in self.pkt.values():
            w(d["raw"])
        for l in self.lines:
            w(l)
        w("```")
        w("")
        w("</details>")
        return "\n".join(out) + "\n"


METHOD = """## Method

### Per-packet cost
`build/bench/pkt_cost` (bench/pkt_cost.c) loads xlb with `xlb_load()` and configures it with
`xlb_service_install()`, as the unit tests do, twice side by side: one instance holding only the
measured flows ("1 flow") and one holding 1,000,000 connections (2,000,000 entries, inserted
directly into `xlb_flows` as pairs with `bpf_map_update_batch`).
- One packet per `BPF_PROG_TEST_RUN` call (`repeat = 1`), the way production sees packets: a large
  `repeat` would make the program process its own rewritten output again, which a stateful
  program answers differently from a fresh packet.
- The figure is the `duration` the kernel reports for the run (ns, measured in the kernel around
  the program), not user-space time: one `repeat = 1` call costs about 0.5–3 µs of syscall and
  setup (the `wall=` field of each line), which would hide the program. The kernel's figure
  includes its timer reads and the bottom-half disable/enable around the run; the floor program
  pays the same, so compare ratios and differences to the floor.
- New flows use 5-tuples never seen before (203.0.113.x, ports 1024–65535, counted up); the
  pairs they create are deleted after each round, outside the timed calls. The 2nd and 3rd
  packets of a connection (the backend's SYN-ACK; the client's ACK, at which xlb moves the
  half-open pair to the established table) are timed the same way, the packets before them
  sent untimed.
- The program runs with a real ingress device: a veth in a private network namespace
  (`unshare(CLONE_NEWNET)`), forwarding on, PERMANENT neighbour entries for the gateway and
  198.51.100.11–.210, so `bpf_fib_lookup` succeeds and forwarded packets end in `XDP_TX`; every
  call's verdict is checked, and the first forwarded packet of each figure has its checksums
  verified from scratch.
- Rounds interleave every figure (floor, paths, tables, backend counts), each round in a new
  random order; in each round a figure first makes untimed calls (64, or one pass over its
  working set of flows, so that a working set is measured in whatever state the caches and TLBs
  can keep it), then the timed ones; each round gives a mean ns/packet per figure, and a figure
  is the median of its rounds, with min and max. The process is pinned to one CPU.
- "1 flow" vs "1,000,000 flows" is measured with the same traffic (one flow); the second table
  spreads established packets over 1,024 and 65,536 random flows of the million: that is what a
  balancer with many active flows sees, and on this machine it is dominated by cache and TLB
  misses (each packet touches a random hash bucket and entry of a 2M-entry table, in a VM with
  nested paging).
- Backend counts: nine services (2, 64, 1024 backends; rr with weight 1, wrr and mh with weights
  1–4) in the 1,000,000-flow instance, new TCP flows to each (fresh client ports, the address
  changing every 64,512 flows: mh sends a round's flows to one or two backends; the figure is the
  pick's cost, not its spread).

### End to end
`bench/e2e.sh` builds the demo's network (client → gateway → lan bridge → balancer / backends,
bench/lib.sh) in fresh namespaces. Backends run nginx (HTTP, a 12-byte page, keep-alive, 2
workers) and an iperf3 server. Setups, all serving VIP 198.51.100.10:8000 from the balancer's
namespace:
- **direct**: the client talks to backend-01 through the gateway, no balancer on the path;
- **router hop**: the client talks to backend-01, but the gateway and backend-01 route through
  the balancer's namespace, which forwards in the kernel (no NAT, no balancing; pass-through XDP
  on its link like the baselines): the same path as every balancer's, so the gap between
  direct and router is the topology's, and a balancer's ratio to router is its own cost;
- **xlb**: `xlb run -i IFACE --vip 198.51.100.10:8000 --backends 198.51.100.11,198.51.100.12
  --vip 198.51.100.10:5201 --backends 198.51.100.11`;
- **xlb, one backend**: the same with `--backends 198.51.100.11` for port 8000, the one backend
  direct and router reach, and `--nat-ports 1024-65000` (one backend then takes ~25,000 new
  connections/s, more than the default range turns over: a closed connection's port comes
  back after 2 s). No target uses it: it tells xlb's own cost on the router's path
  from the cost of spreading requests over two servers on a two-vCPU machine, which every
  balancer pays (each backend's nginx then gets half the connections per wake-up);
- **nftables**: `dnat to numgen inc mod 2 map { 0 : .11, 1 : .12 }` in prerouting and
  `ct status dnat snat to VIP` in postrouting (how kube-proxy balances);
- **HAProxy** 2.6: `mode tcp`, `balance roundrobin`, `nbthread 2`;
- **nginx** 1.22 `stream`: 2 workers, round robin.

Each round runs every setup once, each round starting with the next setup (A B C, B C A, ...),
so that drift of the machine hits every setup alike; a figure is the median over the rounds.
- keep-alive requests/s: `wrk -t2 -c64 -d<S> --latency`; new connections/s: the same with
  `-H 'Connection: close'` (one request per connection; the server closes);
- latency p50/p99: `wrk -t1 -c1 --latency` (one request at a time; the p99 under load comes
  from the keep-alive run);
- TCP throughput: `iperf3 -t<S>`, one stream. Port 5201 of the VIP has one backend in every
  setup, because iperf3's control and data connections must reach the same server;
- CPU per request: all namespaces share the machine's two cores and the kernel does much of the
  balancers' work in softirq context, charged to whatever task is running, so CPU cannot be
  attributed to the balancer's namespace. The figure is the busy time of the whole machine
  (user + nice + system + irq + softirq from /proc/stat) during the wrk run divided by the
  requests it completed, for every setup including direct: the ratio to direct is what the
  balancer adds per request. The machine is saturated during these runs (the `*_util` samples
  in the raw lines), so this ratio is close to the inverse of the request-rate ratio.
- xlb's own cost (xlb and xlb one backend, after the figures above in each round): one more
  new-connection and one more keep-alive run, of half the duration each, with
  `kernel.bpf_stats_enabled=1` (restored after): the run time the kernel counts for xlb's XDP
  program and its run count, per request and per packet, and the daemon's user + system time
  from `/proc/PID/stat`. The statistics cost every BPF program about 40 ns per run in this VM
  (two clock reads; about half of it falls inside the counted time), which is why they are off
  for every other figure.
- **Throughput caveat**: an XDP program on a veth turns GSO off for that link. xlb needs one on
  the balancer's link, so the baselines run with a pass-through XDP program (build/xdp_pass.bpf.o)
  on the balancer's link too, for every figure: the comparison between balancers is under the
  same condition. On a physical NIC this cost does not exist. The switch side of the balancer's
  veth always runs xdp_pass (frames sent with XDP_TX on a veth reach the peer only if the peer
  has an XDP program), and TX checksum offload is off on every veth (XDP cannot complete a
  partial checksum), for every setup including direct.
- Packet rate: a separate veth pair (gen ↔ balancer). bench/pkt_rate sends 64-byte UDP frames
  of one flow with `BPF_PROG_TEST_RUN` in live-frames mode (what xdp-trafficgen does: Debian's
  xdp-tools 1.3.1 ships it, but its programs need the `xdp_redirect_map_err` tracepoint, which
  this kernel no longer has); an XDP_DROP program on gen's side drops what comes back. The
  figure is the number of frames the balancer's program sent back (`XDP_TX`, from `ethtool -S`)
  per second, with xlb (a UDP service whose flow was established first by a real exchange)
  and with the floor program. Sender, balancer and sink all run in the sender's softirq on one
  CPU, so the ratio understates the difference between the two programs alone.
- Other engineers' jobs on the same machine, if any ran at the time, add noise to everything;
  the interleaving spreads it over all setups.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkt")
    ap.add_argument("--e2e")
    ap.add_argument("--machine")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--out")
    ap.add_argument("--chart")
    ap.add_argument("--notes")
    a = ap.parse_args()
    r = Report(a)
    r.e2e_summary()
    r.pkt_targets()
    r.e2e_targets()
    for l in r.lines:
        print(l)
    chart_ok = r.chart()
    if a.out:
        with open(a.out, "w") as f:
            f.write(r.markdown(chart_ok))
        print("report: wrote %s%s" % (a.out, " and " + a.chart if chart_ok else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
