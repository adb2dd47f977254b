/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `xlb show` and `xlb service list`: the running configuration with the
 * state of every backend (weights, drain, health), as text or JSON. */
#ifndef XLB_SHOW_H
#define XLB_SHOW_H

#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "conntrack.h"
#include "health.h"

#define XLB_SHOW_EVENT_TEXT 256

/* A health transition, as the daemon logged it. */
struct xlb_show_event {
	__u64 at_ns;
	__u32 backend_id;
	bool up;
	char backend[XLB_ENDPOINT_STRLEN];
	char vip[XLB_SPEC_MAXLEN + 8];
	char reason[XLB_HEALTH_REASON_MAX];
	__u32 count; /* consecutive results that made it */
};

struct xlb_show {
	const char *ifname;
	const struct xlb_config *c;
	const struct xlb_health *health; /* NULL: no daemon */
	pid_t pid;                       /* daemon, 0 = none */
	const char *xdp_mode;            /* "native", "generic" or NULL */
	const char *conf_path;           /* -c FILE, NULL or "" = none */
	const char *metrics;             /* bound ADDR:PORT, NULL = off */
	__u64 now_ns;
	const struct xlb_show_event *events; /* oldest first */
	size_t n_events;
	/* connections per backend id (XLB_MAX_BACKENDS), from the daemon's
	 * last sweep; NULL: unknown (no daemon, or no sweep yet) */
	const struct xlb_backend_conns *conns;
};

/* "up", "drain" or "down" for a backend of the model. */
const char *xlb_show_state(const struct xlb_config_backend *b);

void xlb_show_text(const struct xlb_show *s, FILE *f);
int xlb_show_json(const struct xlb_show *s, FILE *f);
/* One line a service (xlb service list). */
void xlb_show_services_text(const struct xlb_show *s, FILE *f);
int xlb_show_services_json(const struct xlb_show *s, FILE *f);

#endif /* XLB_SHOW_H */
