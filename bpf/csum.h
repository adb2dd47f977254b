/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')).
 * A rewrite accumulates one 32-bit difference over every changed word
 * (addresses, ports, TTL) and applies it once per checksum field.  Values
 * are used as they lie in the packet (network order); one's-complement
 * sums do not care about byte order as long as all terms agree.
 */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include "vmlinux.h"

static __always_inline __u32 csum_add(__u32 sum, __u32 addend)
{
	sum += addend;
	return sum + (sum < addend);
}

/* Account for a 32-bit word changing from old to new. */
static __always_inline __u32 csum_diff32(__u32 diff, __u32 old, __u32 new)
{
	return csum_add(csum_add(diff, ~old), new);
}

/* Account for a 16-bit word changing from old to new. */
static __always_inline __u32 csum_diff16(__u32 diff, __u16 old, __u16 new)
{
	return csum_add(csum_add(diff, (__u16)~old), new);
}

/* Account for a 16-byte address changing (IPv6; IPv4 uses one word). */
static __always_inline __u32 csum_diff_addr(__u32 diff, const __u32 *old,
					    const __u32 *new, int words)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (i < words)
			diff = csum_diff32(diff, old[i], new[i]);
	}
	return diff;
}

/* Apply an accumulated difference to a checksum field. */
static __always_inline __u16 csum_apply(__u16 check, __u32 diff)
{
	__u32 sum = csum_add(diff, (__u16)~check);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

#endif /* XLB_CSUM_H */
