// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb run: start (or adopt the pinned state of a previous run), then serve
 * until SIGTERM/SIGINT (the data path stays) or `xlb stop` (it goes).
 *
 * Start, fresh: load the program with new maps, apply the configuration,
 * pin the maps, attach through a new BPF link and pin it.  Nothing stays
 * attached or pinned if a step fails.
 * Start, adopting (the pin directory holds state): load the new program
 * reusing every pinned map, rebuild the running configuration from the
 * maps (ids, weights, drain and down flags), apply the wanted one over it
 * as a transaction, then swap the new program into the pinned link
 * (bpf_link_update: atomic).  The old program forwards until that moment,
 * the new one from then on, on the same maps: no connection notices.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "ctl.h"
#include "daemon.h"
#include "neigh.h"
#include "pins.h"
#include "sweeper.h"
#include "vlan.h"

#define POLL_MAX_MS 200
#define CTL_CLIENTS_PER_ROUND 16

static volatile sig_atomic_t exit_signal, reload_signal;

static void on_exit_signal(int sig)
{
	exit_signal = sig;
}

static void on_reload_signal(int sig)
{
	reload_signal = 1;
}

static void warnf(FILE *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warnf(FILE *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	fputs("xlb: warning: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/* The command-line settings of o over c. */
static void apply_overrides(const struct xlb_run_opts *o, struct xlb_config *c)
{
	const struct xlb_config *v = &o->cli;
	const struct xlb_timeouts *t = &v->timeouts;

	if (o->ifname)
		snprintf(c->ifname, sizeof(c->ifname), "%s", o->ifname);
	for (int i = 0; i < 2; i++) {
		if (o->given & (i ? XLB_OV_SNAT6 : XLB_OV_SNAT4)) {
			c->snat[i] = v->snat[i];
			c->have_snat[i] = true;
		}
	}
	if (o->given & XLB_OV_MAX_FLOWS) {
		c->max_flows = v->max_flows;
		c->lines.max_flows = 0;
	}
	if (o->given & XLB_OV_MAX_HALF_OPEN) {
		c->max_half_open = v->max_half_open;
		c->lines.max_half_open = 0;
	}
	if (o->given & XLB_OV_NAT_PORTS) {
		c->nat_port_min = v->nat_port_min;
		c->nat_port_max = v->nat_port_max;
		c->lines.nat_ports = 0;
	}
	if (o->given & XLB_OV_XDP_MODE) {
		c->xdp_mode = v->xdp_mode;
		c->lines.xdp_mode = 0;
	}
	if (o->given & XLB_OV_TIMEOUT_SYN)
		c->timeouts.syn_ns = t->syn_ns;
	if (o->given & XLB_OV_TIMEOUT_ESTABLISHED)
		c->timeouts.established_ns = t->established_ns;
	if (o->given & XLB_OV_TIMEOUT_CLOSING)
		c->timeouts.closing_ns = t->closing_ns;
	if (o->given & XLB_OV_TIMEOUT_CLOSED)
		c->timeouts.closed_ns = t->closed_ns;
	if (o->given & XLB_OV_TIMEOUT_UDP)
		c->timeouts.udp_ns = t->udp_ns;
	if (o->given & XLB_OV_METRICS)
		snprintf(c->metrics, sizeof(c->metrics), "%s", v->metrics);
}

int xlb_daemon_read_conf(const struct xlb_run_opts *o, const char *path,
			 struct xlb_config *c, char *err, size_t errlen)
{
	int rc = xlb_config_load(path, c, err, errlen);

	if (rc)
		return rc;
	apply_overrides(o, c);
	return 0;
}

/* First address of the family on the interface (not link-local). */
static int iface_addr(const char *ifname, __u8 family, struct xlb_addr *out)
{
	struct ifaddrs *ifa, *i;
	int rc = -ENOENT;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && rc; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		memset(out, 0, sizeof(*out));
		if (family == XLB_FAMILY_V4 && i->ifa_addr->sa_family == AF_INET) {
			out->ip4 = ((struct sockaddr_in *)i->ifa_addr)
					   ->sin_addr.s_addr;
			rc = 0;
		} else if (family == XLB_FAMILY_V6 &&
			   i->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr *a6 =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			memcpy(out->bytes, a6, 16);
			rc = 0;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

/* Is addr one of this node's addresses (any interface)? */
static bool addr_is_local(const struct xlb_addr *addr, __u8 family)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (family == XLB_FAMILY_V4 && i->ifa_addr->sa_family == AF_INET)
			found = ((struct sockaddr_in *)i->ifa_addr)
					->sin_addr.s_addr == addr->ip4;
		else if (family == XLB_FAMILY_V6 &&
			 i->ifa_addr->sa_family == AF_INET6)
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)
						 ->sin6_addr,
					addr->bytes, 16);
	}
	freeifaddrs(ifa);
	return found;
}

/* Every service's source address on the backend leg: the configured snat
 * of its family, else the interface's address.  A configured snat must be
 * one of the node's own addresses: xlb does not send traffic in the name
 * of addresses it does not own (replies would not come back to it, and
 * it would spoof someone else). */
static int resolve_snat(const struct xlb_daemon *d, struct xlb_config *c,
			char *err, size_t errlen)
{
	struct xlb_addr a[2];
	bool have[2] = { false, false };
	char name[XLB_SPEC_MAXLEN + 8];

	for (size_t i = 0; i < c->n_svcs; i++) {
		struct xlb_config_service *s = &c->svcs[i];
		int f = xlb_family_index(s->vip.family);

		if (c->have_snat[f]) {
			if (!addr_is_local(&c->snat[f], s->vip.family)) {
				char a_str[XLB_ENDPOINT_STRLEN];

				snprintf(err, errlen,
					 "snat %s is not an address of this "
					 "node: assign it to an interface "
					 "first (ip addr add), or use one that "
					 "is",
					 xlb_addr_str(&c->snat[f],
						      s->vip.family, a_str,
						      sizeof(a_str)));
				return -EADDRNOTAVAIL;
			}
			s->snat = c->snat[f];
			continue;
		}
		if (!have[f]) {
			if (iface_addr(d->ifname, s->vip.family, &a[f])) {
				snprintf(err, errlen,
					 "interface %s has no IPv%d address "
					 "for service %s's backend leg: add "
					 "one or set snat",
					 d->ifname, s->vip.family,
					 xlb_config_service_name(s, name,
								 sizeof(name)));
				return -EADDRNOTAVAIL;
			}
			have[f] = true;
		}
		s->snat = a[f];
	}
	return 0;
}

static int write_sysctl(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(value, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* bpf_fib_lookup() answers only if forwarding is on for the interface it
 * is asked about.  The program asks about the loopback interface (see
 * nat_fib()), so forwarding is turned on there only: the kernel forwards
 * nothing that arrives on IFACE (xlb is not an open relay), unless the
 * operator turned that on. */
static int enable_forwarding(const struct xlb_daemon *d,
			     const struct xlb_config *c)
{
	bool fam[2] = { false, false };
	char path[256];
	int err = 0;

	for (size_t i = 0; i < c->n_svcs; i++)
		fam[xlb_family_index(c->svcs[i].vip.family)] = true;
	for (int i = 0; i < 2 && !err; i++) {
		if (!fam[i])
			continue;
		snprintf(path, sizeof(path), "/proc/sys/net/ipv%d/conf/lo/forwarding",
			 i ? 6 : 4);
		err = write_sysctl(path, "1");
	}
	return err;
}

/* "FILE:LINE: " of a setting read from the configuration file, or "". */
static const char *where(const struct xlb_daemon *d, int line, char *buf,
			 size_t len)
{
	if (!line || !d->conf_path[0])
		return "";
	snprintf(buf, len, "%s:%d: ", d->conf_path, line);
	return buf;
}

/* Settings that only a fresh start changes: keep the running ones, and
 * say so when the wanted value was given explicitly (file or command
 * line) and differs. */
static void keep_fixed(const struct xlb_daemon *d, struct xlb_config *next,
		       FILE *warn)
{
	const struct xlb_config *c = &d->cur;
	unsigned int given = d->opts->given;
	struct xlb_load_opts a = { .max_flows = c->max_flows,
				   .max_half_open = c->max_half_open };
	struct xlb_load_opts b = { .max_flows = next->max_flows,
				   .max_half_open = next->max_half_open };
	char w[PATH_MAX + 32];

	if (next->max_flows != c->max_flows &&
	    (next->lines.max_flows || (given & XLB_OV_MAX_FLOWS)))
		warnf(warn,
		      "%smax-flows %u takes effect only at a fresh start (xlb "
		      "stop, then xlb run); running with %u",
		      where(d, next->lines.max_flows, w, sizeof(w)),
		      next->max_flows, c->max_flows);
	if (xlb_half_open_capacity(&a) != xlb_half_open_capacity(&b) &&
	    (next->lines.max_half_open || (given & XLB_OV_MAX_HALF_OPEN)))
		warnf(warn,
		      "%smax-half-open %u takes effect only at a fresh start; "
		      "running with %u",
		      where(d, next->lines.max_half_open, w, sizeof(w)),
		      xlb_half_open_capacity(&b), xlb_half_open_capacity(&a));
	if ((next->nat_port_min != c->nat_port_min ||
	     next->nat_port_max != c->nat_port_max) &&
	    (next->lines.nat_ports || (given & XLB_OV_NAT_PORTS)))
		warnf(warn,
		      "%snat-ports %u-%u take effect only at a fresh start; "
		      "running with %u-%u",
		      where(d, next->lines.nat_ports, w, sizeof(w)),
		      next->nat_port_min, next->nat_port_max, c->nat_port_min,
		      c->nat_port_max);
	if (d->mode_known && next->xdp_mode != XLB_XDP_AUTO &&
	    (next->xdp_mode == XLB_XDP_NATIVE) != d->native) {
		warnf(warn,
		      "%sxdp-mode %s takes effect only at a fresh start; "
		      "running in %s mode",
		      where(d, next->lines.xdp_mode, w, sizeof(w)),
		      xlb_xdp_mode_name(next->xdp_mode),
		      d->native ? "native" : "generic");
		next->xdp_mode = c->xdp_mode;
	}
	next->max_flows = c->max_flows;
	next->max_half_open = c->max_half_open;
	next->nat_port_min = c->nat_port_min;
	next->nat_port_max = c->nat_port_max;
	snprintf(next->ifname, sizeof(next->ifname), "%s", d->ifname);
}

/* Health checks (and every connection of this host) take source ports
 * from ip_local_port_range: a NAT port in it could be taken for a reply
 * of a tracked flow. */
static void check_port_ranges(const struct xlb_config *c)
{
	__u16 lo, hi;

	if (xlb_local_port_range(&lo, &hi) || hi < c->nat_port_min ||
	    lo > c->nat_port_max)
		return;
	warnf(stderr,
	      "net.ipv4.ip_local_port_range %u-%u overlaps the NAT ports "
	      "%u-%u: a connection of this host (e.g. a health check) may "
	      "meet a NAT reply; move one of them (--nat-ports)",
	      lo, hi, c->nat_port_min, c->nat_port_max);
}

/* ------------------------------------------------------------------ */
/* Health checks                                                       */
/* ------------------------------------------------------------------ */

static void target_conf(const struct xlb_config_service *s,
			const struct xlb_config_backend *b,
			struct xlb_health_conf *c)
{
	*c = s->check;
	c->addr = b->ep.addr;
	c->family = b->ep.family;
	if (!c->port)
		c->port = b->ep.port;
	c->start_down = b->down;
}

static const struct xlb_config_backend *
find_backend(const struct xlb_config *c, __u32 id,
	     const struct xlb_config_service **svc)
{
	for (size_t i = 0; i < c->n_svcs; i++)
		for (size_t j = 0; j < c->svcs[i].n_backends; j++)
			if (c->svcs[i].backends[j].id == id) {
				if (svc)
					*svc = &c->svcs[i];
				return &c->svcs[i].backends[j];
			}
	return NULL;
}

/* Health targets follow the configuration: one per backend of a service
 * with checks, its user id the backend id. */
static void sync_health(struct xlb_daemon *d, const struct xlb_config *old,
			FILE *warn)
{
	const struct xlb_config *c = &d->cur;
	__u64 now = xlb_now_ns();
	char ep[XLB_ENDPOINT_STRLEN];

	for (size_t i = 0; i < old->n_svcs; i++) {
		const struct xlb_config_service *os = &old->svcs[i];

		for (size_t j = 0; j < os->n_backends && os->health; j++) {
			const struct xlb_config_service *s;
			const struct xlb_config_backend *b =
				find_backend(c, os->backends[j].id, &s);

			if (!b || !s->health)
				xlb_health_remove(d->health,
						  os->backends[j].id);
		}
	}
	for (size_t i = 0; i < c->n_svcs; i++) {
		const struct xlb_config_service *s = &c->svcs[i];

		for (size_t j = 0; j < s->n_backends && s->health; j++) {
			const struct xlb_config_backend *b = &s->backends[j];
			const struct xlb_config_service *os = NULL;
			const struct xlb_config_backend *ob =
				find_backend(old, b->id, &os);
			struct xlb_health_conf hc, oc;
			int err = 0;

			target_conf(s, b, &hc);
			if (!ob || !os->health) {
				err = xlb_health_add(d->health, b->id, &hc, now);
			} else {
				target_conf(os, ob, &oc);
				oc.start_down = hc.start_down;
				if (memcmp(&oc, &hc, sizeof(hc)))
					err = xlb_health_update(d->health,
								b->id, &hc, now);
			}
			if (err && err != -EEXIST)
				warnf(warn,
				      "backend %s: cannot schedule its health "
				      "check: %s",
				      xlb_endpoint_str(&b->ep.addr,
						       b->ep.family,
						       b->ep.port, ep,
						       sizeof(ep)),
				      strerror(-err));
		}
	}
}

static void on_health_change(void *ctx, const struct xlb_health_event *ev)
{
	struct xlb_daemon *d = ctx;
	struct xlb_health_change *c;

	if (d->n_changes == d->cap_changes) {
		size_t cap = d->cap_changes ? 2 * d->cap_changes : 16;
		void *p = realloc(d->changes, cap * sizeof(*d->changes));

		if (!p)
			return; /* the next transition brings it back */
		d->changes = p;
		d->cap_changes = cap;
	}
	c = &d->changes[d->n_changes++];
	c->id = ev->id;
	c->up = ev->up;
	c->count = ev->count;
	c->at_ns = ev->at_ns;
	snprintf(c->reason, sizeof(c->reason), "%s",
		 ev->reason ? ev->reason : "");
}

/* Health transitions for `xlb trace`: one tab-separated line each in
 * XLB_RUN_DIR/IFACE.events (0600): monotonic ns, backend id, backend,
 * service, up|down, consecutive checks, reason.  Kept under 1 MiB. */
static void append_trace_event(const struct xlb_daemon *d,
			       const struct xlb_show_event *e)
{
	char path[512];
	struct stat st;
	FILE *f;
	int fd;

	if (xlb_run_path(d->ifname, ".events", path, sizeof(path)))
		return;
	if (stat(path, &st) == 0 && st.st_size > (1 << 20))
		truncate(path, 0);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return;
	}
	fprintf(f, "%llu\t%u\t%s\t%s\t%s\t%u\t%s\n",
		(unsigned long long)xlb_now_ns(), e->backend_id, e->backend,
		e->vip, e->up ? "up" : "down", e->count, e->reason);
	fclose(f);
}

static void log_event(struct xlb_daemon *d, const struct xlb_health_change *c,
		      const struct xlb_config_service *s,
		      const struct xlb_config_backend *b)
{
	struct xlb_show_event *e;

	if (d->n_events == XLB_DAEMON_EVENTS) {
		memmove(d->events, d->events + 1,
			(XLB_DAEMON_EVENTS - 1) * sizeof(*e));
		d->n_events--;
	}
	e = &d->events[d->n_events++];
	memset(e, 0, sizeof(*e));
	e->at_ns = c->at_ns;
	e->backend_id = b->id;
	e->up = c->up;
	e->count = c->count;
	snprintf(e->reason, sizeof(e->reason), "%s", c->reason);
	xlb_endpoint_str(&b->ep.addr, b->ep.family, b->ep.port, e->backend,
			 sizeof(e->backend));
	xlb_config_service_name(s, e->vip, sizeof(e->vip));
	append_trace_event(d, e);
	printf("xlb: health: backend %u %s of %s is %s (%u %s check%s%s%s); "
	       "%s rotation\n",
	       b->id, e->backend, e->vip, c->up ? "up" : "down", c->count,
	       c->up ? "passed" : "failed", c->count == 1 ? "" : "s",
	       c->reason[0] ? ": " : "", c->reason,
	       c->up ? (b->drain ? "drained, stays out of" : "back in") :
		       "out of");
}

/* A failed transaction of the daemon's own (a health transition, a
 * slow-start step) is tried again this often. */
#define RETRY_NS XLB_NS_PER_SEC

/*
 * Apply the transitions the engine reported, as one transaction, and log
 * them once applied.  The engine reports a transition once: if the
 * transaction fails (no SNAT address on the interface for a moment, say),
 * the transitions are kept and tried again every RETRY_NS, else a
 * dead backend would stay in rotation for good.
 */
static void apply_health_changes(struct xlb_daemon *d, __u64 now)
{
	struct xlb_config next;
	char err[512];
	bool any = false;

	if (!d->n_changes || now < d->health_retry_ns)
		return;
	if (xlb_config_copy(&next, &d->cur)) {
		/* keep them: retried after the next process */
		return;
	}
	for (size_t i = 0; i < d->n_changes; i++) {
		struct xlb_health_change *c = &d->changes[i];
		struct xlb_config_backend *b = (struct xlb_config_backend *)
			find_backend(&next, c->id, NULL);
		struct xlb_health_status st;

		/* a transition kept for a retry may be out of date: the
		 * backend gone, its check removed or re-created, or a
		 * later transition the other way (the engine's state now
		 * is what counts) */
		c->noop = !b || b->down == !c->up ||
			  xlb_health_get(d->health, c->id, &st) ||
			  st.up != c->up;
		if (c->noop)
			continue;
		b->down = !c->up;
		/* a slow start runs from when the backend enters rotation
		 * (now, also after a retry), not from the check's verdict */
		b->up_since_ns = c->up ? now : 0;
		any = true;
	}
	if (!any) {
		xlb_config_free(&next);
	} else if (xlb_daemon_commit(d, &next, err, sizeof(err), stderr)) {
		if (!d->health_retry_ns)
			xlb_errf("health: cannot apply %zu transition%s (tried "
				 "again every second): %s",
				 d->n_changes, d->n_changes == 1 ? "" : "s",
				 err);
		d->health_retry_ns = now + RETRY_NS;
		return;
	}
	if (d->health_retry_ns && any)
		printf("xlb: health: the transitions are applied now\n");
	d->health_retry_ns = 0;
	for (size_t i = 0; i < d->n_changes; i++) {
		const struct xlb_health_change *c = &d->changes[i];
		const struct xlb_config_service *s;
		const struct xlb_config_backend *b;

		if (c->noop)
			continue;
		b = find_backend(&d->cur, c->id, &s);
		if (b)
			log_event(d, c, s, b);
	}
	d->n_changes = 0;
}

/* ------------------------------------------------------------------ */
/* Commit                                                              */
/* ------------------------------------------------------------------ */

static int metrics_start(struct xlb_daemon *d, const char *addr,
			 struct xlb_metrics **out)
{
	static struct xlb_metrics_source src;
	struct xlb_metrics_opts o = { .mode = XLB_METRICS_POLL,
				      .render = xlb_metrics_render_source,
				      .ctx = &src };
	__u8 proto;
	char spec[XLB_SPEC_MAXLEN + 8];

	src.maps = &d->m;
	src.health = d->health;
	src.sweeper = &d->sweeper;
	src.resend = &d->resend.st;
	/* ADDR:PORT has the VIP syntax (without a protocol) */
	snprintf(spec, sizeof(spec), "%s", addr);
	if (xlb_vip_parse(spec, &o.listen, &proto, NULL, 0))
		return -EINVAL;
	return xlb_metrics_start(&o, out);
}

static void resolve_nexthop(const struct xlb_config_backend *b, FILE *warn)
{
	char buf[XLB_ENDPOINT_STRLEN];
	struct xlb_addr nh;
	int ifindex, err;

	err = xlb_route_nexthop(b->ep.family, &b->ep.addr, &nh, &ifindex);
	if (!err)
		err = xlb_neigh_ensure_managed(b->ep.family, &nh, ifindex);
	if (err)
		warnf(warn, "backend %s: cannot resolve its next hop: %s",
		      xlb_addr_str(&b->ep.addr, b->ep.family, buf, sizeof(buf)),
		      strerror(-err));
}

static void write_state(const struct xlb_daemon *d, FILE *warn)
{
	char tmp[sizeof(d->state_path) + 8];
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
	} else {
		fprintf(f, "# running configuration of xlb run on %s, kept for "
			   "its restarts (xlb save prints it)\n",
			d->ifname);
		err = xlb_config_write(&d->cur, f);
		if (fclose(f) && !err)
			err = -errno;
		if (!err && rename(tmp, d->state_path))
			err = -errno;
	}
	if (err)
		warnf(warn, "cannot write %s: %s", d->state_path,
		      strerror(-err));
}

/* algo wlc: after each sweep, the connection counts it made go into the
 * tables of the wlc services (a commit of the running configuration:
 * only the tables whose weights change are written). */
static void wlc_update(struct xlb_daemon *d)
{
	struct xlb_sweep_stats st;
	struct xlb_config next;
	char err[512];
	bool any = false;

	xlb_sweeper_stats(d->sweeper, &st);
	if (st.sweeps == d->load_sweeps)
		return;
	d->load_sweeps = st.sweeps;
	for (size_t i = 0; i < d->cur.n_svcs; i++)
		any |= d->cur.svcs[i].algo == XLB_ALGO_WLC;
	if (!any) {
		/* a service switched to wlc later starts as wrr until the
		 * next count, not with counts from long ago */
		d->txn.load = NULL;
		return;
	}
	if (!d->load)
		d->load = calloc(XLB_MAX_BACKENDS, sizeof(*d->load));
	/* a failed sweep counted nothing: the last counts stand */
	if (!d->load || !xlb_sweeper_conns(d->sweeper, d->load))
		return;
	d->txn.load = d->load;
	if (!xlb_txn_wlc_stale(&d->txn, &d->cur, xlb_now_ns()) ||
	    xlb_config_copy(&next, &d->cur))
		return;
	if (!xlb_daemon_commit(d, &next, err, sizeof(err), stderr)) {
		d->load_failed = false;
	} else if (!d->load_failed) {
		xlb_errf("algo wlc: %s (tried again after each sweep)", err);
		d->load_failed = true;
	}
}

int xlb_daemon_commit(struct xlb_daemon *d, struct xlb_config *next,
		      char *err, size_t errlen, FILE *warn)
{
	struct xlb_metrics *metrics = NULL;
	struct xlb_config old;
	char why[512], warnings[1024];
	bool new_metrics = false, stopped_old = false;
	__u64 now = xlb_now_ns();
	int rc;

	keep_fixed(d, next, warn);
	rc = resolve_snat(d, next, err, errlen);
	if (rc)
		goto fail;
	new_metrics = strcmp(next->metrics, d->metrics_bound);
	if (new_metrics && next->metrics[0]) {
		/* the old server may hold the port: let it go first */
		if (d->metrics) {
			xlb_metrics_stop(d->metrics);
			d->metrics = NULL;
			stopped_old = true;
		}
		rc = metrics_start(d, next->metrics, &metrics);
		if (rc) {
			snprintf(err, errlen,
				 "metrics %s: cannot serve there: %s",
				 next->metrics, strerror(-rc));
			goto fail;
		}
	}
	rc = enable_forwarding(d, next);
	if (rc) {
		snprintf(err, errlen, "cannot enable forwarding on lo: %s",
			 strerror(-rc));
		goto fail;
	}
	/* ids of removed services come back once their flush is done;
	 * the new ones go to the sweeper */
	xlb_sweeper_sync(d->sweeper, &d->txn);
	rc = xlb_txn_apply(&d->txn, &d->cur, next, now, why, sizeof(why),
			   warnings, sizeof(warnings));
	xlb_sweeper_sync(d->sweeper, &d->txn);
	if (rc) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	if (warnings[0])
		warnf(warn, "%s", warnings);
	old = d->cur;
	d->cur = *next;
	if (d->sweeper)
		xlb_sweeper_set_timeouts(d->sweeper, &d->cur.timeouts);
	sync_health(d, &old, warn);
	for (size_t i = 0; i < d->cur.n_svcs; i++)
		for (size_t j = 0; j < d->cur.svcs[i].n_backends; j++) {
			const struct xlb_config_backend *b =
				&d->cur.svcs[i].backends[j];

			if (!find_backend(&old, b->id, NULL))
				resolve_nexthop(b, warn);
		}
	if (new_metrics) {
		if (d->metrics)
			xlb_metrics_stop(d->metrics);
		d->metrics = metrics;
		snprintf(d->metrics_bound, sizeof(d->metrics_bound), "%s",
			 d->cur.metrics);
	}
	xlb_config_free(&old);
	d->next_ramp_ns = xlb_txn_next_ramp_ns(&d->cur, now);
	write_state(d, warn);
	return 0;
fail:
	xlb_metrics_stop(metrics);
	if (stopped_old && metrics_start(d, d->metrics_bound, &d->metrics))
		d->metrics_bound[0] = 0; /* could not bring it back */
	xlb_config_free(next);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Start                                                               */
/* ------------------------------------------------------------------ */

/* A bpffs for the pins (maps.c xlb_pin_scope): the host's when this
 * mount namespace has none of its own (ip netns exec), said once; a
 * private one is a warning: the data path then dies with the namespace. */
static int bpffs_ready(void)
{
	int err = xlb_bpffs_ensure();

	if (err) {
		xlb_errf("cannot mount bpffs at /sys/fs/bpf: %s", strerror(-err));
		return err;
	}
	char shown[128];

	if (xlb_pin_scope() == XLB_PINS_OUTER)
		printf("xlb: no bpffs at /sys/fs/bpf in this mount namespace "
		       "(ip netns exec gives a fresh /sys): pinning in %s, so "
		       "that the data path outlives this command\n",
		       xlb_pin_shown(xlb_pin_root(), shown, sizeof(shown)));
	else if (xlb_pin_scope() == XLB_PINS_PRIVATE)
		warnf(stderr,
		      "/sys/fs/bpf is a bpffs of this mount namespace only, "
		      "and PID 1 has none: the data path and its connections "
		      "end with the namespace (ip netns exec: with this "
		      "command), so a restart cannot adopt it; mount a bpffs "
		      "at /sys/fs/bpf on the host (mount -t bpf bpf "
		      "/sys/fs/bpf) or run xlb with nsenter --net=...");
	return 0;
}

/* Read the pinned settings: the NAT port range of the running program. */
static void pinned_nat_ports(const char *dir, struct xlb_load_opts *lo)
{
	struct xlb_settings s;
	char path[600];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/xlb_settings", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (!bpf_map_lookup_elem(fd, &zero, &s) && s.nat_port_min &&
	    s.nat_port_min <= s.nat_port_max) {
		lo->nat_port_min = s.nat_port_min;
		lo->nat_port_max = s.nat_port_max;
	}
	close(fd);
}

/* The wanted configuration: base (-c FILE or the command line), else,
 * when adopting without either, the state file of the previous run, else
 * the maps as they are.  base is consumed. */
static int wanted_config(struct xlb_daemon *d, bool adopt,
			 struct xlb_config *base, struct xlb_config *want)
{
	const struct xlb_run_opts *o = d->opts;
	char err[1024];
	int rc;

	if (d->conf_path[0] || o->cli_services || !adopt) {
		*want = *base;
		xlb_config_init(base);
		return 0;
	}
	xlb_config_free(base);
	if (!access(d->state_path, F_OK)) {
		rc = xlb_daemon_read_conf(o, d->state_path, want, err,
					  sizeof(err));
		if (!rc)
			return 0;
		warnf(stderr, "%s; adopting the pinned maps as they are", err);
	}
	rc = xlb_config_copy(want, &d->cur);
	if (!rc)
		apply_overrides(o, want);
	return rc;
}

static void print_config(const struct xlb_daemon *d, bool adopted,
			 __u64 conns)
{
	char buf[XLB_ENDPOINT_STRLEN], snat[XLB_ENDPOINT_STRLEN];
	char name[XLB_SPEC_MAXLEN + 8];

	printf("xlb: attached to %s (ifindex %d, %s XDP); flow table %u "
	       "connections; NAT ports %u-%u\n",
	       d->ifname, d->ifindex, d->native ? "native" : "generic",
	       d->cur.max_flows, d->cur.nat_port_min, d->cur.nat_port_max);
	if (adopted)
		printf("xlb: adopted the pinned state in %s: %zu service%s, "
		       "%llu tracked connections kept\n",
		       d->pin_shown, d->cur.n_svcs, d->cur.n_svcs == 1 ? "" : "s",
		       (unsigned long long)conns);
	for (size_t i = 0; i < d->cur.n_svcs; i++) {
		const struct xlb_config_service *s = &d->cur.svcs[i];

		printf("service %s %s snat %s%s\n",
		       xlb_config_service_name(s, name, sizeof(name)),
		       xlb_algo_name(s->algo),
		       xlb_addr_str(&s->snat, s->vip.family, snat,
				    sizeof(snat)),
		       s->health ? (s->check.kind == XLB_HEALTH_HTTP ?
					    " health http" :
					    " health tcp") :
				   "");
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct xlb_config_backend *b = &s->backends[j];

			printf("  backend %u %s weight %u%s%s\n", b->id,
			       xlb_endpoint_str(&b->ep.addr, b->ep.family,
						b->ep.port, buf, sizeof(buf)),
			       b->weight,
			       b->drain || !b->weight ? " (drain)" : "",
			       b->down ? " (down)" : "");
		}
	}
	if (!d->cur.n_svcs)
		printf("xlb: no service yet: add them with xlb service add and "
		       "xlb backend add, or xlb run -c FILE\n");
	if (d->metrics_bound[0])
		printf("xlb: metrics on http://%s/metrics\n", d->metrics_bound);
	printf("xlb: control socket %s\n", d->sock_path);
}

/* VLAN devices on the interface, for tagged frames routed from one VLAN
 * to another (src/vlan.h): read at the start and every VLAN_SYNC_NS, as
 * devices come and go without telling us. */
#define VLAN_SYNC_NS (2 * XLB_NS_PER_SEC)

static void sync_vlans(struct xlb_daemon *d, __u64 now)
{
	size_t n;
	int err = xlb_vlans_sync(d->m.vlans, d->ifname, &n);

	d->vlans_at_ns = now;
	if (err && !d->vlans_failed)
		xlb_errf("cannot read the VLAN devices on %s: %s; tagged "
			 "frames routed to another VLAN are dropped",
			 d->ifname, strerror(-err));
	d->vlans_failed = err != 0;
	if (!err && n != d->n_vlans)
		xlb_logf("%zu VLAN device%s on %s", n, n == 1 ? "" : "s",
			 d->ifname);
	if (!err)
		d->n_vlans = n;
}

/* Attach: swap into the pinned link, or make (and pin) a new one. */
static int attach(struct xlb_daemon *d, enum xlb_xdp_mode mode)
{
	int prog_fd = bpf_program__fd(d->skel->progs.xlb_xdp);
	int err = xlb_link_open(d->pin_dir, d->ifindex, &d->link_fd, &d->native);

	if (!err) {
		err = xlb_link_update(d->link_fd, prog_fd);
		if (err)
			xlb_errf("cannot swap the new program into the XDP "
				 "link pinned in %s: %s",
				 d->pin_shown, strerror(-err));
		return err;
	}
	if (err == -ESTALE)
		xlb_link_unpin(d->pin_dir); /* its interface is gone */
	else if (err != -ENOENT) {
		xlb_errf("cannot open the XDP link pinned in %s: %s",
			 d->pin_shown, strerror(-err));
		return err;
	}
	err = xlb_link_attach(prog_fd, d->ifindex, mode, &d->link_fd,
			      &d->native);
	if (err == -EEXIST || err == -EBUSY) {
		xlb_errf("%s already has an XDP program attached: remove it "
			 "first (ip link set dev %s xdp off; if that says \"Can't "
			 "replace active BPF XDP link\", it is another xlb "
			 "instance's, or another tool's link: xlb stop -i "
			 "THAT_IFACE, or that tool)",
			 d->ifname, d->ifname);
		return err;
	}
	if (err) {
		xlb_errf("cannot attach XDP to %s%s: %s", d->ifname,
			 mode == XLB_XDP_NATIVE ? " in native mode" : "",
			 strerror(-err));
		return err;
	}
	err = xlb_link_pin(d->link_fd, d->pin_dir);
	if (err) {
		xlb_errf("cannot pin the XDP link in %s: %s", d->pin_shown,
			 strerror(-err));
		bpf_link_detach(d->link_fd);
	}
	return err;
}

/* Paths of the run files, then the instance lock. */
static int lock_instance(struct xlb_daemon *d)
{
	pid_t holder;
	int rc;

	xlb_run_path(d->ifname, ".sock", d->sock_path, sizeof(d->sock_path));
	xlb_run_path(d->ifname, ".lock", d->lock_path, sizeof(d->lock_path));
	xlb_run_path(d->ifname, ".state", d->state_path,
		     sizeof(d->state_path));
	rc = xlb_lock_take(d->lock_path, &d->lock_fd, &holder);
	if (rc == -EBUSY)
		xlb_errf("xlb run (pid %d) already serves %s: change it with "
			 "xlb service/backend or xlb reload; to restart it, "
			 "end it with SIGTERM (kill %d, or systemctl restart "
			 "xlb) and start it again: connections survive; "
			 "xlb stop -i %s instead removes the data path and "
			 "ends every connection through it",
			 (int)holder, d->ifname, (int)holder, d->ifname);
	else if (rc)
		xlb_errf("cannot take the lock %s: %s", d->lock_path,
			 strerror(-rc));
	return rc;
}

/* Load the program, on the pinned maps when adopting.  d->cur gets the
 * settings that run (pinned sizes win over the wanted ones). */
static int load(struct xlb_daemon *d, const struct xlb_config *base,
		bool adopt)
{
	struct xlb_load_opts lo = XLB_LOAD_OPTS_DEFAULT, def = {};
	struct xlb_settings s;
	char bad[64] = "";
	int rc;

	if (adopt) {
		rc = xlb_pins_compatible(d->pin_dir, bad, sizeof(bad));
		if (rc) {
			xlb_errf("the state pinned in %s does not fit this "
				 "version of xlb (map %s): xlb stop -i %s "
				 "removes it (and its connections)",
				 d->pin_shown, bad[0] ? bad : "?", d->ifname);
			return rc;
		}
	}
	lo.max_flows = base->max_flows;
	lo.max_half_open = base->max_half_open;
	lo.nat_port_min = base->nat_port_min;
	lo.nat_port_max = base->nat_port_max;
	if (adopt) {
		lo.reuse_dir = d->pin_dir;
		pinned_nat_ports(d->pin_dir, &lo);
	}
	libbpf_set_print(NULL);
	rc = xlb_load(&lo, &d->skel, &d->m);
	if (rc) {
		xlb_errf("cannot load the XDP program: %s%s", strerror(-rc),
			 rc == -EPERM ? " (BPF not permitted here)" : "");
		return rc;
	}
	d->cur.max_flows = bpf_map__max_entries(d->skel->maps.xlb_flows) / 2;
	d->cur.max_half_open =
		bpf_map__max_entries(d->skel->maps.xlb_embryos) / 2;
	d->cur.nat_port_min = lo.nat_port_min;
	d->cur.nat_port_max = lo.nat_port_max;
	/* the default half-open size is derived from max-flows */
	def.max_flows = d->cur.max_flows;
	if (xlb_half_open_capacity(&def) == d->cur.max_half_open)
		d->cur.max_half_open = 0;
	if (!adopt && !xlb_settings_read(&d->m, &s)) {
		/* kept for the next run, which adopts these maps */
		s.nat_port_min = lo.nat_port_min;
		s.nat_port_max = lo.nat_port_max;
		xlb_settings_write(&d->m, &s);
	}
	return 0;
}

/* Adopting: the running configuration as the maps hold it, and the mode
 * of the pinned link.  *conns: tracked connections. */
static int read_pinned(struct xlb_daemon *d, __u64 *conns)
{
	struct xlb_config pinned;
	int rc, fd;

	rc = xlb_txn_read_tidy(&d->m, &pinned);
	if (rc) {
		xlb_errf("cannot read the pinned state in %s: %s", d->pin_shown,
			 strerror(-rc));
		return rc;
	}
	pinned.max_flows = d->cur.max_flows;
	pinned.max_half_open = d->cur.max_half_open;
	pinned.nat_port_min = d->cur.nat_port_min;
	pinned.nat_port_max = d->cur.nat_port_max;
	xlb_config_free(&d->cur);
	d->cur = pinned;
	/* (state from a build before the backend port marks: its replies
	 * must keep passing the program's pre-filter once it is swapped;
	 * the running program can create connections to the backends of
	 * `pinned` only) */
	rc = xlb_txn_mark_backend_ports(&d->m, &d->cur);
	if (!rc)
		rc = xlb_conn_mark_backend_ports(&d->m, conns);
	if (rc) {
		xlb_errf("cannot read the connections pinned in %s: %s",
			 d->pin_shown, strerror(-rc));
		return rc;
	}
	if (!xlb_link_open(d->pin_dir, d->ifindex, &fd, &d->native)) {
		close(fd);
		d->mode_known = true;
	}
	return 0;
}

static int start(struct xlb_daemon *d, const char *ifname,
		 struct xlb_config *base)
{
	struct xlb_config want;
	char err[1024];
	__u64 conns = 0, flushed = 0;
	bool adopt;
	int rc;

	snprintf(d->ifname, sizeof(d->ifname), "%s", ifname);
	if (geteuid() != 0) {
		xlb_errf("run: must be root (loading XDP programs needs "
			 "CAP_BPF and CAP_NET_ADMIN)");
		return XLB_EXIT_RUNTIME;
	}
	d->ifindex = if_nametoindex(d->ifname);
	if (!d->ifindex) {
		xlb_errf("interface \"%s\" not found (see ip link)", d->ifname);
		return XLB_EXIT_RUNTIME;
	}
	if (lock_instance(d) || bpffs_ready())
		return XLB_EXIT_RUNTIME;
	xlb_pin_dir(d->ifname, d->pin_dir, sizeof(d->pin_dir));
	xlb_pin_shown(d->pin_dir, d->pin_shown, sizeof(d->pin_shown));
	/* before anything of the pinned state is touched */
	rc = xlb_link_owned(d->pin_dir, d->ifindex);
	if (rc == -EXDEV) {
		xlb_errf("the state pinned in %s is another network "
			 "namespace's: its XDP link is attached to an "
			 "interface numbered as %s there; nothing adopted. "
			 "Give each network namespace a bpffs of its own "
			 "(mount -t bpf bpf /sys/fs/bpf in it), or stop that "
			 "instance",
			 d->pin_shown, d->ifname);
		return XLB_EXIT_RUNTIME;
	}
	if (rc) {
		xlb_errf("cannot read the XDP link pinned in %s: %s",
			 d->pin_shown, strerror(-rc));
		return XLB_EXIT_RUNTIME;
	}
	adopt = xlb_pins_exist(d->pin_dir);
	if (load(d, base, adopt) || (adopt && read_pinned(d, &conns)))
		return XLB_EXIT_RUNTIME;
	snprintf(d->cur.ifname, sizeof(d->cur.ifname), "%s", d->ifname);
	rc = xlb_health_new(on_health_change, d, &d->health);
	if (rc) {
		xlb_errf("cannot start the health checker: %s", strerror(-rc));
		return XLB_EXIT_RUNTIME;
	}
	rc = xlb_txn_init(&d->txn, &d->m, &d->cur);
	if (rc) {
		xlb_errf("cannot read the flow table: %s", strerror(-rc));
		return XLB_EXIT_RUNTIME;
	}
	/* connections of services that no longer exist (a flush that a
	 * stop cut short): before anything else, since their ids are held
	 * until they go (else left to the sweeper) */
	if (!xlb_sweeper_flush_now(&d->m, &d->txn, &flushed) && flushed)
		printf("xlb: flushed %llu connection%s of services that no "
		       "longer exist\n",
		       (unsigned long long)flushed, flushed == 1 ? "" : "s");
	if (wanted_config(d, adopt, base, &want)) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	d->cur.xdp_mode = want.xdp_mode;
	rc = xlb_daemon_commit(d, &want, err, sizeof(err), stderr);
	if (rc) {
		xlb_errf("%s", err);
		return XLB_EXIT_RUNTIME;
	}
	rc = xlb_pins_complete(d->skel->obj, d->pin_dir);
	if (rc) {
		xlb_errf("cannot pin maps in %s: %s", d->pin_shown,
			 strerror(-rc));
		goto undo;
	}
	/* before the program sees traffic: tagged frames routed to a VLAN
	 * device need it */
	sync_vlans(d, xlb_now_ns());
	if (attach(d, d->cur.xdp_mode))
		goto undo;
	d->mode_known = true;
	d->txn.new_backends_down = true;
	check_port_ranges(&d->cur);
	rc = xlb_ctl_listen(d->sock_path, &d->listen_fd);
	if (rc) {
		xlb_errf("cannot listen on %s: %s", d->sock_path,
			 strerror(-rc));
		goto undo;
	}
	print_config(d, adopt, conns);
	return 0;
undo:
	/* a first start leaves nothing behind; an adopted data path stays */
	if (!adopt) {
		if (d->link_fd >= 0)
			bpf_link_detach(d->link_fd);
		xlb_pins_remove(d->pin_dir);
		unlink(d->state_path);
	}
	return XLB_EXIT_RUNTIME;
}

/* ------------------------------------------------------------------ */
/* Serve                                                               */
/* ------------------------------------------------------------------ */

/* A packet the program could not send for want of a neighbour entry:
 * the kernel sends it (src/resend.h).  The first failure of a run is
 * logged. */
static void resend(struct xlb_daemon *d, const void *data, size_t size)
{
	bool quiet = d->resend.st.failed > 0;
	int err = xlb_resend_packet(&d->resend, data, size, xlb_now_ns());

	if (!quiet && d->resend.st.failed)
		xlb_errf("cannot send a packet whose next hop had no neighbour "
			 "entry: %s (xlb_no_neigh_packets_total counts them)",
			 strerror(-err));
}

/* Daemon events: the program met an unresolved next hop, and handed
 * over the packet it could not send. */
static int on_daemon_event(void *ctx, void *data, size_t size)
{
	struct xlb_daemon *d = ctx;
	const struct xlb_event *ev = data;
	static struct xlb_addr last;
	static __u64 last_ns;
	__u64 now = xlb_now_ns();

	if (size >= offsetof(struct xlb_packet_event, data) &&
	    ev->type == XLB_EVENT_PACKET) {
		resend(d, data, size);
		return 0;
	}
	if (size < sizeof(*ev) || ev->type != XLB_EVENT_NO_NEIGH)
		return 0;
	/* a burst of packets to one next hop asks once */
	if (!memcmp(&last, &ev->client, sizeof(last)) &&
	    now - last_ns < XLB_NS_PER_SEC)
		return 0;
	last = ev->client;
	last_ns = now;
	xlb_neigh_ensure_managed(ev->family, &ev->client, ev->ifindex);
	return 0;
}

static void serve_client(struct xlb_daemon *d, int fd)
{
	char *out = NULL, *errbuf = NULL, **argv = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *o, *e;
	int argc, rc;

	rc = xlb_ctl_read_request(fd, &argc, &argv);
	if (rc)
		return;
	o = open_memstream(&out, &out_len);
	e = open_memstream(&errbuf, &err_len);
	if (!o || !e) {
		if (o)
			fclose(o);
		if (e)
			fclose(e);
		free(out);
		free(errbuf);
		free(argv);
		return;
	}
	rc = argc ? xlb_daemon_request(d, argc, argv, o, e) : XLB_EXIT_USAGE;
	fclose(o);
	fclose(e);
	xlb_ctl_write_reply(fd, rc, out, out_len, errbuf, err_len);
	free(out);
	free(errbuf);
	free(argv);
}

static void reload(struct xlb_daemon *d)
{
	char *argv[] = { "reload", NULL };
	FILE *reply = fopen("/dev/null", "we");
	int rc;

	/* the reply is for a client; the log has it all (once) */
	rc = xlb_daemon_request(d, 1, argv, reply ? reply : stdout, stderr);
	if (reply)
		fclose(reply);
	if (rc)
		xlb_errf("SIGHUP: reload failed; the running configuration "
			 "is unchanged");
}

/* Installed before start(), which can take seconds (loading, adopting,
 * flushing), with the signals held (*held) until the start is complete:
 * a SIGHUP then reloads and a SIGTERM ends serve() at once, never in the
 * middle of a transaction; a SIGHUP does not kill the daemon, nor does a
 * pending signal abort the verifier's load of the program (EAGAIN). */
static void install_signal_handlers(sigset_t *held)
{
	struct sigaction sa = {};

	sa.sa_handler = on_exit_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(held);
	sigaddset(held, SIGINT);
	sigaddset(held, SIGTERM);
	sigaddset(held, SIGHUP);
	sigprocmask(SIG_BLOCK, held, NULL);
}

/* Is the program still attached to the interface?  Deleting the
 * interface (or its network namespace) detaches the link, and one made
 * again under the same name has another number: nothing would forward
 * while the daemon went on as if it did. */
static bool still_attached(const struct xlb_daemon *d)
{
	return (int)if_nametoindex(d->ifname) == d->ifindex &&
	       xlb_link_on(d->link_fd, d->ifindex);
}

static int serve(struct xlb_daemon *d)
{
	int err;

	err = xlb_resend_open(&d->resend);
	if (err)
		xlb_errf("cannot open a raw socket (%s): a packet %swhose next "
			 "hop has no neighbour entry yet is dropped",
			 strerror(-err),
			 d->resend.fd4 >= 0 ? "of IPv6 " :
			 d->resend.fd6 >= 0 ? "of IPv4 " : "");
	d->rb = ring_buffer__new(d->m.daemon_events, on_daemon_event, d, NULL);
	if (!d->rb) {
		xlb_errf("cannot read the daemon event ring: %s",
			 strerror(errno));
		return XLB_EXIT_RUNTIME;
	}
	/* expiry beside the poll loop: a sweep of a big table takes
	 * seconds (src/sweeper.h) */
	err = xlb_sweeper_start(&d->sweeper, &d->m, &d->cur.timeouts);
	if (err) {
		xlb_errf("cannot start the connection expiry: %s",
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	xlb_sweeper_sync(d->sweeper, &d->txn);
	while (!exit_signal && !d->stop_requested) {
		struct pollfd p[4] = {
			{ .fd = d->listen_fd, .events = POLLIN },
			{ .fd = xlb_health_fd(d->health), .events = POLLIN },
			{ .fd = ring_buffer__epoll_fd(d->rb), .events = POLLIN },
			{ .fd = d->metrics ? xlb_metrics_fd(d->metrics) : -1,
			  .events = POLLIN },
		};
		int timeout = POLL_MAX_MS, n;
		__u64 now;

		if (d->metrics) {
			int t = xlb_metrics_timeout_ms(d->metrics);

			if (t >= 0 && t < timeout)
				timeout = t;
		}
		n = poll(p, 4, timeout);
		if (n < 0 && errno != EINTR) {
			xlb_errf("poll: %s", strerror(errno));
			return XLB_EXIT_RUNTIME;
		}
		if (reload_signal) {
			reload_signal = 0;
			reload(d);
		}
		for (int i = 0; n > 0 && (p[0].revents & POLLIN) &&
				i < CTL_CLIENTS_PER_ROUND && !d->stop_requested;
		     i++) {
			int fd, err = xlb_ctl_accept(d->listen_fd, &fd);

			if (err == -EAGAIN || err == -EWOULDBLOCK)
				break;
			if (err)
				continue; /* -EPERM: not root, closed */
			serve_client(d, fd);
			close(fd);
		}
		if (d->stop_requested)
			break;
		now = xlb_now_ns();
		/* due checks, and sockets with news */
		xlb_health_process(d->health, now);
		apply_health_changes(d, now);
		ring_buffer__consume(d->rb);
		if (now - d->vlans_at_ns >= VLAN_SYNC_NS) {
			sync_vlans(d, now);
			if (!still_attached(d)) {
				xlb_errf("%s was deleted or made again: the XDP "
					 "program is no longer attached to it; "
					 "exiting (xlb run again attaches it, "
					 "with the pinned state)",
					 d->ifname);
				d->detached = true;
				break;
			}
		}
		if (d->metrics)
			xlb_metrics_process(d->metrics);
		wlc_update(d);
		if (d->next_ramp_ns && now >= d->next_ramp_ns) {
			struct xlb_config next;
			char err[512];

			/* a step that cannot be made is tried again every
			 * second (a commit that succeeds sets the next) */
			d->next_ramp_ns = now + RETRY_NS;
			if (xlb_config_copy(&next, &d->cur))
				continue;
			if (!xlb_daemon_commit(d, &next, err, sizeof(err),
					       stderr)) {
				d->ramp_failed = false;
			} else if (!d->ramp_failed) {
				xlb_errf("slow start: %s (tried again every "
					 "second)", err);
				d->ramp_failed = true;
			}
		}
	}
	xlb_sweeper_stop(d->sweeper);
	d->sweeper = NULL;
	return d->detached ? XLB_EXIT_RUNTIME : XLB_EXIT_OK;
}

int xlb_daemon_teardown(struct xlb_daemon *d)
{
	char path[512];
	int err = 0;

	if (d->link_fd >= 0 && bpf_link_detach(d->link_fd) && errno != ENOLINK)
		err = -errno;
	if (!err)
		err = xlb_pins_remove(d->pin_dir);
	unlink(d->state_path);
	/* the health log and the tracers' lock go with the instance */
	if (!xlb_run_path(d->ifname, ".events", path, sizeof(path)))
		unlink(path);
	if (!xlb_run_path(d->ifname, ".trace", path, sizeof(path)))
		unlink(path);
	return err;
}

static void cleanup(struct xlb_daemon *d)
{
	xlb_sweeper_stop(d->sweeper);
	xlb_metrics_stop(d->metrics);
	xlb_health_free(d->health);
	ring_buffer__free(d->rb);
	xlb_resend_close(&d->resend);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
	}
	if (d->link_fd >= 0)
		close(d->link_fd);
	xlb__destroy(d->skel);
	xlb_config_free(&d->cur);
	free(d->changes);
	free(d->load);
	if (d->lock_fd >= 0) {
		if (d->stop_requested)
			unlink(d->lock_path);
		close(d->lock_fd);
	}
	free(d);
}

int xlb_daemon_main(const struct xlb_run_opts *o)
{
	struct xlb_daemon *d = calloc(1, sizeof(*d));
	struct xlb_config base;
	char err[1024], ifname[IFNAMSIZ] = "";
	sigset_t held;
	int rc;

	if (!d) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	d->opts = o;
	d->link_fd = d->lock_fd = d->listen_fd = -1;
	d->resend.fd4 = d->resend.fd6 = -1;
	xlb_config_init(&d->cur);
	if (o->conf_path) {
		if (!realpath(o->conf_path, d->conf_path))
			snprintf(d->conf_path, sizeof(d->conf_path), "%s",
				 o->conf_path);
		/* errors in the file are usage errors: reported first */
		rc = xlb_daemon_read_conf(o, d->conf_path, &base, err,
					  sizeof(err));
		if (rc) {
			xlb_errf("%s", err);
			cleanup(d);
			return XLB_EXIT_USAGE;
		}
	} else if (xlb_config_copy(&base, &o->cli)) {
		xlb_errf("out of memory");
		cleanup(d);
		return XLB_EXIT_RUNTIME;
	}
	if (o->ifname)
		snprintf(ifname, sizeof(ifname), "%s", o->ifname);
	else
		snprintf(ifname, sizeof(ifname), "%s", base.ifname);
	if (!ifname[0]) {
		xlb_errf("run: no interface: give -i IFACE%s",
			 o->conf_path ? " or \"interface IFACE\" in the file" :
					"");
		xlb_config_free(&base);
		cleanup(d);
		return XLB_EXIT_USAGE;
	}
	install_signal_handlers(&held);
	rc = start(d, ifname, &base);
	sigprocmask(SIG_UNBLOCK, &held, NULL);
	xlb_config_free(&base);
	if (!rc)
		rc = serve(d);
	if (d->stop_requested) {
		printf("xlb: detached from %s; pinned state removed\n",
		       d->ifname);
	} else if (d->link_fd >= 0 && !rc &&
		   xlb_pin_scope() == XLB_PINS_PRIVATE) {
		printf("xlb: exiting (SIG%s); the data path on %s ends with "
		       "this mount namespace's bpffs (%s), and its "
		       "connections with it\n",
		       exit_signal == SIGINT ? "INT" : "TERM", d->ifname,
		       d->pin_shown);
	} else if (d->link_fd >= 0 && !rc) {
		printf("xlb: exiting (SIG%s); the data path stays attached to "
		       "%s and pinned in %s: xlb run adopts it, xlb stop -i %s "
		       "removes it\n",
		       exit_signal == SIGINT ? "INT" : "TERM", d->ifname,
		       d->pin_shown, d->ifname);
	}
	cleanup(d);
	return rc;
}
