// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_pass: an XDP program that passes every frame.  Test and demo
 * topologies attach it to the peer of a veth on which xlb runs: on veth,
 * frames sent with XDP_TX reach the other end only if that end has an XDP
 * program of its own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
