/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend selection in O(1): user space builds each service's schedule
 * table (rr: each live backend once; wrr: one period of smooth weighted
 * round-robin).  A new flow takes slot 1 + (cursor % n), where cursor is
 * a per-service counter advanced with an atomic fetch-and-add, so no two
 * new flows on any CPUs get the same cursor value: picks are never lost
 * or doubled, and every n consecutive cursor values cover the table once.
 */
#ifndef XLB_SCHED_H
#define XLB_SCHED_H

#include "maps.h"

/* Pick a backend id for a new flow of service_id.  Returns 0 and sets
 * *backend_id, or -XLB_STAT_DROP_NO_BACKEND. */
static __always_inline int sched_pick(__u32 service_id, __u32 *backend_id)
{
	__u32 len_slot = XLB_SCHED_LEN_SLOT, slot;
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
	cursor = bpf_map_lookup_elem(&xlb_cursors, &service_id);
	if (!cursor)
		return -XLB_STAT_DROP_NO_BACKEND;
	ticket = __sync_fetch_and_add(&cursor->next, 1);
	slot = 1 + (__u32)(ticket % *len);
	id = bpf_map_lookup_elem(table, &slot);
	if (!id)
		return -XLB_STAT_DROP_NO_BACKEND;
	*backend_id = *id;
	return 0;
}

#endif /* XLB_SCHED_H */
