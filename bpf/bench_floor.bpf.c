// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_floor: the per-packet floor of `make bench`.  The least an XDP
 * forwarder can do: check that an Ethernet header is there, swap the MAC
 * addresses and send the frame back out with XDP_TX.  xlb's figures are
 * reported next to this program measured the same way in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define ETH_ALEN 6

SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
