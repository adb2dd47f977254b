/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Writing services, backends and schedule tables into the maps. */
#ifndef XLB_TABLES_H
#define XLB_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include "maps.h"
#include "sched.h"

struct xlb_backend_conf {
	struct xlb_addr addr;
	__u8 family;
	__u16 port;   /* host order */
	__u16 weight; /* 0 = drain */
	bool down;    /* excluded from new flows (health) */
};

struct xlb_service_conf {
	struct xlb_addr vip;
	__u8 family;
	__u16 port; /* host order */
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	enum xlb_algo algo;
	struct xlb_addr snat;       /* source address on the backend leg */
	__u32 first_backend_id;     /* backends get ids first.. first+n-1 */
	size_t n_backends;
	struct xlb_backend_conf *backends;
};

/* Service map key of a configuration. */
void xlb_service_key_of(const struct xlb_service_conf *c,
			struct xlb_service_key *k);

/* The xlb_service_ports bit of a service (backend false) or of a backend
 * (true) of protocol `proto` (IPPROTO_TCP / IPPROTO_UDP). */
static inline __u8 xlb_port_bit(__u8 proto, bool backend)
{
	if (proto == IPPROTO_UDP)
		return backend ? XLB_PORT_BACKEND_UDP : XLB_PORT_UDP;
	return backend ? XLB_PORT_BACKEND_TCP : XLB_PORT_TCP;
}

/*
 * Mark `port` (host order) as a port a backend of protocol `proto` listens
 * on, so that the program looks up the replies sent from it.  Call before
 * the backend can be scheduled; the mark is never cleared while the maps
 * live (a removed backend's connections still need their replies).
 * 0 or -errno.
 */
int xlb_backend_port_mark(const struct xlb_maps *m, __u16 port, __u8 proto);

/*
 * Install service `id`: its backends first, then its schedule table, then
 * the service entry and its port bit, so that the program never sees a
 * service without a table.  *approx (may be NULL) tells whether the table
 * only approximates the weights (see xlb_sched_build).  0 or -errno.
 */
int xlb_service_install(const struct xlb_maps *m, __u16 id,
			const struct xlb_service_conf *c, bool *approx);

/* Build the schedule of service `id` from its backends and swap it in as
 * one new inner map.  Returns the number of slots, or -errno. */
int xlb_schedule_install(const struct xlb_maps *m, __u16 id,
			 const struct xlb_service_conf *c, bool *approx);

/* Swap in slots[0..len-1] (backend ids) as service id's schedule table:
 * a new inner map, filled, then put in place with one update.  When this
 * returns, no running program uses the old table any more.  0 or -errno. */
int xlb_schedule_write(const struct xlb_maps *m, __u16 id, const __u32 *slots,
		       __u32 len);

#endif
