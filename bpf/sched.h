/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend selection in O(1): user space builds each service's schedule
 * table (rr: each live backend once; wrr: one period of smooth weighted
 * round-robin).  A new flow takes slot 1 + (cursor % n), where cursor is
 * a per-service counter advanced with an atomic fetch-and-add, so no two
 * new flows on any CPUs get the same cursor value: picks are never lost
 * or doubled, and every n consecutive cursor values cover the table once.
 * mh (Maglev): user space fills a table of prime length with each live
 * backend's preferred slots in turn, and a new flow takes slot
 * 1 + (hash of the client's address % n): a client keeps its backend, and
 * a backend that goes or comes moves little more than its own share.
 */
#ifndef XLB_SCHED_H
#define XLB_SCHED_H

#include "maps.h"
#include "xlb_hash.h"

/* Pick a backend id for a new flow of svc from client.  Returns 0 and
 * sets *backend_id, or -XLB_STAT_DROP_NO_BACKEND. */
static __always_inline int sched_pick(const struct xlb_service *svc,
				      const struct xlb_addr *client,
				      __u32 *backend_id)
{
	__u32 len_slot = XLB_SCHED_LEN_SLOT, service_id = svc->id, slot;
	struct xlb_cursor *cursor;
	__u32 *len, *id;
	void *table;
	__u64 ticket;

	table = bpf_map_lookup_elem(&xlb_schedules, &service_id);
	if (!table)
		return -XLB_STAT_DROP_NO_BACKEND;
	len = bpf_map_lookup_elem(table, &len_slot);
	if (!len || *len == 0)
		return -XLB_STAT_DROP_NO_BACKEND;
	if (svc->algo == XLB_ALGO_MH) {
		slot = 1 + xlb_client_hash(client) % *len;
	} else {
		cursor = bpf_map_lookup_elem(&xlb_cursors, &service_id);
		if (!cursor)
			return -XLB_STAT_DROP_NO_BACKEND;
		ticket = __sync_fetch_and_add(&cursor->next, 1);
		slot = 1 + (__u32)(ticket % *len);
	}
	id = bpf_map_lookup_elem(table, &slot);
	if (!id)
		return -XLB_STAT_DROP_NO_BACKEND;
	*backend_id = *id;
	return 0;
}

#endif /* XLB_SCHED_H */
