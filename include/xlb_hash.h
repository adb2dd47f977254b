/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client hash of algo mh (Maglev), shared by the XDP program, which
 * picks slot 1 + (xlb_client_hash(client) % n) of the service's schedule
 * table, and by user space, which tells which backend a client gets.
 *
 * Only the client's address counts, not its port: every connection and
 * datagram of one client goes to the same backend while the table stays
 * the same (source affinity, as IPVS sh/mh and HAProxy "balance source").
 * The hash has no random seed, so balancers with the same configuration
 * behind one ECMP route send a client to the same backend.  The words are
 * read in host order: the figure is the same on every host of one byte
 * order.
 */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include "xlb_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The finalizer of MurmurHash3 (fmix32): every input bit flips each
 * output bit with probability about 1/2. */
static __always_inline __u32 xlb_hash_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Hash of a client address (IPv4: the rest of the 16 bytes is zero). */
static __always_inline __u32 xlb_client_hash(const struct xlb_addr *a)
{
	__u32 h = 0x9e3779b9u; /* golden ratio: 0 does not hash to 0 */

	h = xlb_hash_mix32(h ^ (__u32)a->ip6[0]);
	h = xlb_hash_mix32(h ^ (__u32)a->ip6[1]);
	h = xlb_hash_mix32(h ^ (__u32)a->ip6[2]);
	h = xlb_hash_mix32(h ^ (__u32)a->ip6[3]);
	return h;
}

#endif /* XLB_HASH_H */
