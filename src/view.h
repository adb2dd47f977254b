/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A snapshot of the configured services and backends, read back from the
 * maps (what the data path really uses), for the show commands. */
#ifndef XLB_VIEW_H
#define XLB_VIEW_H

#include "maps.h"

struct xlb_view_service {
	struct xlb_service_key key;
	struct xlb_service svc;
};

struct xlb_view_backend {
	__u32 id;
	struct xlb_backend b;
};

struct xlb_view {
	struct xlb_view_service *svcs; /* sorted by service id */
	size_t n_svcs;
	struct xlb_view_backend *backends; /* in-use slots, by id */
	size_t n_backends;
};

int xlb_view_read(const struct xlb_maps *m, struct xlb_view *v);
void xlb_view_free(struct xlb_view *v);
/* The service with this id, or NULL. */
const struct xlb_view_service *xlb_view_service(const struct xlb_view *v,
						__u16 id);
/* "198.51.100.10:8000/tcp" */
const char *xlb_view_vip_str(const struct xlb_service_key *k, char *buf,
			     size_t len);
/* "up", "drain" or "down" */
const char *xlb_backend_state_name(const struct xlb_backend *b);

#endif
