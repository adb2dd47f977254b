// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pkt_rate: a bounded UDP packet generator for the packet-rate benchmark
 * (bench/e2e.sh), and the XDP_DROP sink at the other end.
 *
 * Debian's xdp-tools 1.3.1 ships xdp-trafficgen, but its programs need the
 * xdp_redirect_map_err tracepoint that this kernel no longer has, so this
 * does the same thing itself: BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES) with a small program that writes the
 * frame's headers from a template and returns XDP_TX, which transmits `count` copies of one frame out of IFACE from
 * inside the kernel (no socket, no stack), in chunks, stopping after
 * `count` packets or `seconds`, whichever comes first.
 *
 *   pkt_rate send IFACE --dmac MAC --src A --dst B --sport P --dport Q
 *                       [--count N] [--seconds S] [--size BYTES]
 *   pkt_rate sink IFACE     attach an XDP_DROP program (native mode) to
 *                           IFACE and exit; `ip link set dev IFACE xdp off`
 *                           removes it
 *
 * send prints "sent N packets in S s (R pps)".  Only documentation
 * addresses are accepted (198.51.100.0/24, 203.0.113.0/24, 192.0.2.0/24).
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"

#define CHUNK 262144 /* packets per test run call */

static int prog_returning(__u32 verdict)
{
	struct bpf_insn insns[] = {
		/* r0 = verdict; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = (__s32)verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_bench_gen", "GPL", insns,
			       2, NULL);

	if (fd < 0)
		fprintf(stderr, "pkt_rate: prog load: %s\n", strerror(errno));
	return fd;
}

/*
 * The sender: rewrite the first TEMPLATE_BYTES of the frame from the
 * template, then XDP_TX.  Live-frame pages are recycled without being
 * re-copied, and on a veth the receiver (xlb, the floor) rewrites the very
 * same page in place, so every frame must be written afresh.
 */
#define TEMPLATE_BYTES 48

static int prog_tx_template(const __u8 *frame, size_t len)
{
	struct bpf_insn insns[9 + 3 * TEMPLATE_BYTES / 8];
	int n = 0, fd, jump;

	if (len < TEMPLATE_BYTES)
		return -1;
	/* r2 = ctx->data; r3 = ctx->data_end; r4 = r2 + TEMPLATE_BYTES */
	insns[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_W,
					.dst_reg = BPF_REG_2, .src_reg = BPF_REG_1,
					.off = offsetof(struct xdp_md, data) };
	insns[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_W,
					.dst_reg = BPF_REG_3, .src_reg = BPF_REG_1,
					.off = offsetof(struct xdp_md, data_end) };
	insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
					.dst_reg = BPF_REG_4, .src_reg = BPF_REG_2 };
	insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K,
					.dst_reg = BPF_REG_4, .imm = TEMPLATE_BYTES };
	/* if r4 > r3 goto drop */
	jump = n;
	insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JGT | BPF_X,
					.dst_reg = BPF_REG_4, .src_reg = BPF_REG_3 };
	for (int off = 0; off < TEMPLATE_BYTES; off += 8) {
		__u64 v;

		memcpy(&v, frame + off, 8);
		/* r1 = v (ld_imm64); *(u64 *)(r2 + off) = r1 */
		insns[n++] = (struct bpf_insn){ .code = BPF_LD | BPF_DW | BPF_IMM,
						.dst_reg = BPF_REG_1,
						.imm = (__s32)(__u32)v };
		insns[n++] = (struct bpf_insn){ .imm = (__s32)(__u32)(v >> 32) };
		insns[n++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_DW,
						.dst_reg = BPF_REG_2,
						.src_reg = BPF_REG_1, .off = off };
	}
	insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
					.dst_reg = BPF_REG_0, .imm = XDP_TX };
	insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	insns[jump].off = n - jump - 1; /* drop: */
	insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
					.dst_reg = BPF_REG_0, .imm = XDP_DROP };
	insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_bench_gen", "GPL", insns, n,
			   NULL);
	if (fd < 0)
		fprintf(stderr, "pkt_rate: prog load: %s\n", strerror(errno));
	return fd;
}

static bool documentation_v4(const __u8 *a)
{
	return (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	       (a[0] == 203 && a[1] == 0 && a[2] == 113) ||
	       (a[0] == 192 && a[1] == 0 && a[2] == 2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: pkt_rate send IFACE --dmac MAC --src A --dst B "
		"--sport P --dport Q [--count N] [--seconds S] [--size BYTES]\n"
		"       pkt_rate sink IFACE\n");
	return 2;
}

static int cmd_sink(const char *ifname)
{
	int ifindex = if_nametoindex(ifname), fd, err;

	if (!ifindex) {
		fprintf(stderr, "pkt_rate: no interface %s\n", ifname);
		return 1;
	}
	fd = prog_returning(XDP_DROP);
	if (fd < 0)
		return 1;
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "pkt_rate: attach to %s: %s\n", ifname,
			strerror(-err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dmac", required_argument, NULL, 'm' },
		{ "smac", required_argument, NULL, 'M' },
		{ "src", required_argument, NULL, 'A' },
		{ "dst", required_argument, NULL, 'a' },
		{ "sport", required_argument, NULL, 'P' },
		{ "dport", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{},
	};
	unsigned long long count = 10000000, sent = 0;
	double seconds = 5, t0, t1;
	size_t size = 64;
	struct pkt_spec s;
	__u8 frame[2048];
	size_t len;
	int c, ifindex, fd;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "sink"))
		return cmd_sink(argv[2]);
	if (strcmp(argv[1], "send"))
		return usage();
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "pkt_rate: no interface %s\n", argv[2]);
		return 1;
	}
	pkt_spec_init(&s);
	s.proto = IPPROTO_UDP;
	optind = 3;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (pkt_mac(optarg, s.dmac))
				return usage();
			break;
		case 'M':
			if (pkt_mac(optarg, s.smac))
				return usage();
			break;
		case 'A':
			if (pkt_addr(optarg, s.src) != 4)
				return usage();
			break;
		case 'a':
			if (pkt_addr(optarg, s.dst) != 4)
				return usage();
			break;
		case 'P':
			s.sport = atoi(optarg);
			break;
		case 'p':
			s.dport = atoi(optarg);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 's':
			size = strtoul(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	if (!documentation_v4(s.src) || !documentation_v4(s.dst)) {
		fprintf(stderr, "pkt_rate: only documentation addresses\n");
		return 2;
	}
	if (seconds <= 0 || seconds > 600 || size < 60 || size > 1514)
		return usage();
	s.family = 4;
	/* frame without FCS: 14 + 20 + 8 + payload */
	s.payload_len = size - 42;
	len = pkt_build(&s, frame, sizeof(frame));
	if (!len)
		return usage();
	fd = prog_tx_template(frame, len);
	if (fd < 0)
		return 1;
	t0 = now_s();
	t1 = t0;
	while (sent < count && t1 - t0 < seconds) {
		struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
		unsigned long long n = count - sent < CHUNK ? count - sent : CHUNK;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = n,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "pkt_rate: live test run: %s\n",
				strerror(errno));
			return 1;
		}
		sent += n;
		t1 = now_s();
	}
	printf("sent %llu packets in %.3f s (%.0f pps)\n", sent, t1 - t0,
	       sent / (t1 - t0));
	return 0;
}
