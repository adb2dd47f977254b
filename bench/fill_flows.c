// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fill_flows: put N established connections of one service into a pinned
 * xlb_flows map, as pairs (client 192.0.2.x:p -> VIP:VPORT, NAT tuple
 * VIP:natport <-> BACKEND:9000+), last seen now.  For measuring what the
 * daemon does with a big table (bench/service_del.sh); nothing else.
 *
 *   fill_flows PINNED_MAP N SERVICE_ID VIP VPORT BACKEND
 *
 * Addresses must be IPv4 documentation addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "conntrack.h"
#include "fixture.h"
#include "xlb_abi.h"

/* A TCP/IPv4 flow key. */
static void key_of(struct xlb_flow_key *k, __be32 src, __be32 dst,
		   __u16 sport, __u16 dport)
{
	fx_flow_key(k, XLB_FAMILY_V4, IPPROTO_TCP, (const __u8 *)&src, sport,
		    (const __u8 *)&dst, dport);
}

static int doc_addr(const char *s, __be32 *out)
{
	__u32 h;

	if (inet_pton(AF_INET, s, out) != 1)
		return -1;
	h = ntohl(*out) & 0xffffff00u;
	return h == 0xc0000200u || h == 0xc6336400u || h == 0xcb007100u ? 0 : -1;
}

int main(int argc, char **argv)
{
	const unsigned int chunk = 65536;
	struct xlb_flow_key *keys;
	struct xlb_flow *vals;
	unsigned long n, svc, vport;
	__be32 vip, be;
	__u64 now;
	int fd;

	if (argc != 7 || doc_addr(argv[4], &vip) || doc_addr(argv[6], &be)) {
		fprintf(stderr, "usage: fill_flows PINNED_MAP N SERVICE_ID VIP "
				"VPORT BACKEND (IPv4 documentation addresses)\n");
		return 2;
	}
	n = strtoul(argv[2], NULL, 0);
	svc = strtoul(argv[3], NULL, 0);
	vport = strtoul(argv[5], NULL, 0);
	if (!n || n > 4000000 || svc >= XLB_MAX_SERVICES || !vport ||
	    vport > 65535) {
		fprintf(stderr, "fill_flows: N 1-4000000, SERVICE_ID < %d, "
				"VPORT 1-65535\n", XLB_MAX_SERVICES);
		return 2;
	}
	fd = bpf_obj_get(argv[1]);
	keys = calloc(2 * chunk, sizeof(*keys));
	vals = calloc(2 * chunk, sizeof(*vals));
	if (fd < 0 || !keys || !vals) {
		fprintf(stderr, "fill_flows: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	now = xlb_now_ns();
	for (unsigned long base = 0; base < n; base += chunk) {
		unsigned int m = n - base < chunk ? n - base : chunk;
		__u32 count = 2 * m;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		memset(vals, 0, 2 * chunk * sizeof(*vals));
		for (unsigned int j = 0; j < m; j++) {
			unsigned long i = base + j;
			__be32 client = htonl(0xc0000200u + 1 + i % 250);
			__u16 cport = 1024 + i / 250, nat = 1024 + i % 31744;
			__u16 bport = 9000 + i / 31744;
			struct xlb_flow *fv = &vals[2 * j], *rv = &vals[2 * j + 1];

			key_of(&keys[2 * j], client, vip, cport, vport);
			key_of(&keys[2 * j + 1], be, vip, bport, nat);
			key_of(&fv->rewritten, vip, be, nat, bport);
			key_of(&rv->rewritten, vip, client, vport, cport);
			fv->dir = XLB_DIR_TO_BACKEND;
			rv->dir = XLB_DIR_TO_CLIENT;
			fv->created_ns = rv->created_ns = now;
			fv->last_seen_ns = rv->last_seen_ns = now;
			fv->service_id = rv->service_id = svc;
		}
		if (bpf_map_update_batch(fd, keys, vals, &count, &bo)) {
			fprintf(stderr, "fill_flows: at %lu: %s\n", base,
				strerror(errno));
			return 1;
		}
	}
	printf("filled %lu connections of service %lu\n", n, svc);
	return 0;
}
