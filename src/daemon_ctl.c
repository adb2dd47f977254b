// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The daemon's side of the control commands: each change is made on a
 * copy of the running configuration and committed as one transaction
 * (xlb_daemon_commit), or refused with one "xlb: ..." line naming the
 * object and the cause, and nothing changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "request.h"
#include "sweeper.h"

static int errf(FILE *f, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int errf(FILE *f, int rc, const char *fmt, ...)
{
	va_list ap;

	fputs("xlb: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	return rc;
}

void xlb_daemon_show(const struct xlb_daemon *d, struct xlb_show *s)
{
	memset(s, 0, sizeof(*s));
	s->ifname = d->ifname;
	s->c = &d->cur;
	s->health = d->health;
	s->pid = getpid();
	s->xdp_mode = d->native ? "native" : "generic";
	s->conf_path = d->conf_path;
	s->metrics = d->metrics_bound[0] ? d->metrics_bound : NULL;
	s->now_ns = xlb_now_ns();
	s->events = d->events;
	s->n_events = d->n_events;
}

static int commit(struct xlb_daemon *d, struct xlb_config *next, FILE *err)
{
	char why[1024];

	if (xlb_daemon_commit(d, next, why, sizeof(why), err))
		return errf(err, XLB_EXIT_RUNTIME, "%s", why);
	return XLB_EXIT_OK;
}

static int service_op(struct xlb_daemon *d, const struct xlb_request *r,
		      FILE *out, FILE *err)
{
	struct xlb_config next;
	struct xlb_config_service *s;
	char name[XLB_SPEC_MAXLEN + 8];
	int rc;

	if (xlb_config_copy(&next, &d->cur))
		return errf(err, XLB_EXIT_RUNTIME, "out of memory");
	s = xlb_config_service_find(&next, &r->vip, r->proto);
	if (r->op == XLB_REQ_SERVICE_ADD) {
		if (s) {
			xlb_config_service_name(s, name, sizeof(name));
			xlb_config_free(&next);
			return errf(err, XLB_EXIT_RUNTIME,
				    "service %s already exists (xlb service set "
				    "changes it)",
				    name);
		}
		s = xlb_config_service_add(&next, &r->vip, r->proto);
		if (!s) {
			xlb_config_free(&next);
			return errf(err, XLB_EXIT_RUNTIME,
				    "cannot add a service: %s",
				    errno == E2BIG ? "at most 256 services" :
						     strerror(errno));
		}
	} else if (!s) {
		struct xlb_config_service tmp = { .vip = r->vip,
						  .proto = r->proto };

		xlb_config_free(&next);
		return errf(err, XLB_EXIT_RUNTIME,
			    "service %s does not exist (see xlb show)",
			    xlb_config_service_name(&tmp, name, sizeof(name)));
	}
	xlb_config_service_name(s, name, sizeof(name));
	if (r->op == XLB_REQ_SERVICE_DEL) {
		xlb_config_service_del(&next, s - next.svcs);
	} else {
		if (r->has_algo)
			s->algo = r->algo;
		if (r->has_health) {
			s->health = r->health_on;
			s->check = r->check;
		}
		if (r->has_slow_start)
			s->slow_start_ms = r->slow_start_ms;
	}
	rc = commit(d, &next, err);
	if (rc)
		return rc;
	s = xlb_config_service_find(&d->cur, &r->vip, r->proto);
	switch (r->op) {
	case XLB_REQ_SERVICE_ADD:
		fprintf(out, "service %s added (id %u)\n", name, s->id);
		xlb_logf("service %s added (id %u, %s)", name, s->id,
			 xlb_algo_name(s->algo));
		break;
	case XLB_REQ_SERVICE_DEL:
		fprintf(out, "service %s deleted\n", name);
		xlb_logf("service %s deleted; its connections go at the next "
			 "sweep",
			 name);
		break;
	default:
		fprintf(out, "service %s changed\n", name);
		xlb_logf("service %s changed (%s%s)", name,
			 xlb_algo_name(s->algo),
			 s->health ? ", health checks on" : "");
		break;
	}
	return XLB_EXIT_OK;
}

static int backend_op(struct xlb_daemon *d, const struct xlb_request *r,
		      FILE *out, FILE *err)
{
	struct xlb_config next;
	struct xlb_config_service *s;
	struct xlb_config_backend *b;
	char name[XLB_SPEC_MAXLEN + 8], ep[XLB_ENDPOINT_STRLEN];
	const char *what = "";
	int rc;

	xlb_endpoint_str(&r->backend.addr, r->backend.family, r->backend.port,
			 ep, sizeof(ep));
	if (xlb_config_copy(&next, &d->cur))
		return errf(err, XLB_EXIT_RUNTIME, "out of memory");
	s = xlb_config_service_find(&next, &r->vip, r->proto);
	if (!s) {
		struct xlb_config_service tmp = { .vip = r->vip,
						  .proto = r->proto };

		xlb_config_free(&next);
		return errf(err, XLB_EXIT_RUNTIME,
			    "service %s does not exist (add it with xlb service "
			    "add)",
			    xlb_config_service_name(&tmp, name, sizeof(name)));
	}
	xlb_config_service_name(s, name, sizeof(name));
	b = xlb_config_backend_find(s, &r->backend);
	if (r->op == XLB_REQ_BACKEND_ADD) {
		if (b) {
			xlb_config_free(&next);
			return errf(err, XLB_EXIT_RUNTIME,
				    "backend %s of service %s already exists "
				    "(xlb backend set changes it)",
				    ep, name);
		}
		b = xlb_config_backend_add(s, &r->backend, r->weight);
		if (!b) {
			xlb_config_free(&next);
			return errf(err, XLB_EXIT_RUNTIME,
				    "cannot add backend %s to service %s: %s",
				    ep, name, strerror(errno));
		}
		b->drain = r->drain;
	} else if (!b) {
		xlb_config_free(&next);
		return errf(err, XLB_EXIT_RUNTIME,
			    "backend %s is not in service %s (see xlb show)",
			    ep, name);
	}
	switch (r->op) {
	case XLB_REQ_BACKEND_ADD:
		what = "added";
		break;
	case XLB_REQ_BACKEND_SET:
		b->weight = r->weight;
		what = "re-weighted";
		break;
	case XLB_REQ_BACKEND_DEL:
		xlb_config_backend_del(s, b - s->backends);
		b = NULL;
		what = "deleted (its connections go on until they end)";
		break;
	case XLB_REQ_BACKEND_DRAIN:
		b->drain = true;
		what = "drained (no new connections)";
		break;
	case XLB_REQ_BACKEND_UNDRAIN:
		/* (its slow start begins in the transaction) */
		b->drain = false;
		what = "undrained";
		break;
	default:
		break;
	}
	rc = commit(d, &next, err);
	if (rc)
		return rc;
	s = xlb_config_service_find(&d->cur, &r->vip, r->proto);
	b = xlb_config_backend_find(s, &r->backend);
	if (b) {
		fprintf(out, "backend %s (id %u) of %s %s: weight %u, %s%s\n",
			ep, b->id, name, what, b->weight, xlb_show_state(b),
			b->down && s->health ?
				" until its health checks pass" :
				"");
		xlb_logf("backend %u %s of %s %s: weight %u, %s", b->id, ep,
			 name, what, b->weight, xlb_show_state(b));
	} else {
		fprintf(out, "backend %s of %s %s\n", ep, name, what);
		xlb_logf("backend %s of %s %s", ep, name, what);
	}
	return XLB_EXIT_OK;
}

/* One change a reload made, to the reply and the log. */
static void change(FILE *out, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void change(FILE *out, size_t *n, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(out, "  %s\n", line);
	xlb_logf("reload: %s", line);
	(*n)++;
}

/* Two services' health-check templates differ (field by field: the
 * strings end at their NUL). */
static bool check_differs(const struct xlb_health_conf *a,
			  const struct xlb_health_conf *b)
{
	return a->port != b->port || a->kind != b->kind ||
	       strcmp(a->http_path, b->http_path) ||
	       strcmp(a->http_host, b->http_host) ||
	       a->http_status != b->http_status ||
	       a->interval_ms != b->interval_ms ||
	       a->timeout_ms != b->timeout_ms || a->rise != b->rise ||
	       a->fall != b->fall || a->jitter_pct != b->jitter_pct ||
	       a->start_down != b->start_down;
}

/* The settings a reload changed (SNAT addresses, timeouts, metrics). */
static void settings_changes(const struct xlb_config *old,
			     const struct xlb_config *now, FILE *out,
			     size_t *n)
{
	static const struct {
		const char *name;
		size_t off;
	} t[] = {
		{ "timeout-syn", offsetof(struct xlb_timeouts, syn_ns) },
		{ "timeout-established",
		  offsetof(struct xlb_timeouts, established_ns) },
		{ "timeout-closing", offsetof(struct xlb_timeouts, closing_ns) },
		{ "timeout-closed", offsetof(struct xlb_timeouts, closed_ns) },
		{ "timeout-udp", offsetof(struct xlb_timeouts, udp_ns) },
	};
	char a[64], b[64];

	for (int f = 0; f < 2; f++) {
		__u8 fam = f ? XLB_FAMILY_V6 : XLB_FAMILY_V4;

		if (old->have_snat[f] == now->have_snat[f] &&
		    (!now->have_snat[f] ||
		     !memcmp(&old->snat[f], &now->snat[f], sizeof(now->snat[f]))))
			continue;
		change(out, n, "snat (%s): %s -> %s", f ? "IPv6" : "IPv4",
		       old->have_snat[f] ?
			       xlb_addr_str(&old->snat[f], fam, a, sizeof(a)) :
			       "the VIP",
		       now->have_snat[f] ?
			       xlb_addr_str(&now->snat[f], fam, b, sizeof(b)) :
			       "the VIP");
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		__u64 o = *(const __u64 *)((const char *)&old->timeouts + t[i].off);
		__u64 v = *(const __u64 *)((const char *)&now->timeouts + t[i].off);

		if (o != v)
			change(out, n, "%s: %s -> %s", t[i].name,
			       xlb_duration_str(o / 1000000, a, sizeof(a)),
			       xlb_duration_str(v / 1000000, b, sizeof(b)));
	}
	if (strcmp(old->metrics, now->metrics))
		change(out, n, "metrics: %s -> %s",
		       old->metrics[0] ? old->metrics : "off",
		       now->metrics[0] ? now->metrics : "off");
}

/* What a reload changed from old to now, service by service and backend
 * by backend: a drain or a weight set at run time and not saved to the
 * file goes back to the file's, and the operator must hear of it (as of
 * everything else the file changed).  Returns the number of changes. */
static size_t reload_changes(const struct xlb_config *old,
			     const struct xlb_config *now, FILE *out)
{
	char name[96], ep[64];
	size_t n = 0;

	settings_changes(old, now, out, &n);
	for (size_t i = 0; i < old->n_svcs; i++) {
		const struct xlb_config_service *s = &old->svcs[i];

		if (!xlb_config_service_find(now, &s->vip, s->proto))
			change(out, &n, "service %s removed",
			       xlb_config_service_name(s, name, sizeof(name)));
	}
	for (size_t i = 0; i < now->n_svcs; i++) {
		const struct xlb_config_service *s = &now->svcs[i], *o;

		xlb_config_service_name(s, name, sizeof(name));
		o = xlb_config_service_find(old, &s->vip, s->proto);
		if (!o) {
			change(out, &n, "service %s added (%zu backend%s)",
			       name, s->n_backends,
			       s->n_backends == 1 ? "" : "s");
			continue;
		}
		if (o->algo != s->algo)
			change(out, &n, "service %s: algo %s -> %s", name,
			       xlb_algo_name(o->algo), xlb_algo_name(s->algo));
		if (o->slow_start_ms != s->slow_start_ms)
			change(out, &n, "service %s: slow start %u ms -> %u ms",
			       name, o->slow_start_ms, s->slow_start_ms);
		if (o->health != s->health ||
		    (s->health && check_differs(&o->check, &s->check)))
			change(out, &n, "service %s: health check %s", name,
			       !s->health ? "removed" :
			       !o->health ? "added" : "changed");
		for (size_t k = 0; k < o->n_backends; k++) {
			const struct xlb_config_backend *b = &o->backends[k];

			if (!xlb_config_backend_find(s, &b->ep))
				change(out, &n, "backend %s of %s removed",
				       xlb_endpoint_str(&b->ep.addr,
							b->ep.family,
							b->ep.port, ep,
							sizeof(ep)),
				       name);
		}
		for (size_t k = 0; k < s->n_backends; k++) {
			const struct xlb_config_backend *b = &s->backends[k];
			const struct xlb_config_backend *ob =
				xlb_config_backend_find(o, &b->ep);

			xlb_endpoint_str(&b->ep.addr, b->ep.family, b->ep.port,
					 ep, sizeof(ep));
			if (!ob) {
				change(out, &n, "backend %s of %s added "
				       "(weight %u%s)", ep, name, b->weight,
				       b->drain ? ", drained" : "");
				continue;
			}
			if (ob->weight != b->weight)
				change(out, &n, "backend %s of %s: weight %u "
				       "-> %u", ep, name, ob->weight,
				       b->weight);
			if (ob->drain != b->drain)
				change(out, &n, "backend %s of %s: %s", ep,
				       name, b->drain ?
				       "drained (no new connections)" :
				       "undrained (back in rotation)");
		}
	}
	return n;
}

static int reload(struct xlb_daemon *d, FILE *out, FILE *err)
{
	struct xlb_config next, old;
	char why[1024];
	size_t n;
	int rc;

	if (!d->conf_path[0])
		return errf(err, XLB_EXIT_RUNTIME,
			    "reload: xlb run on %s was started without -c "
			    "FILE: nothing to reload (xlb save > FILE, then "
			    "restart with -c FILE)",
			    d->ifname);
	if (xlb_daemon_read_conf(d->opts, d->conf_path, &next, why,
				 sizeof(why)))
		return errf(err, XLB_EXIT_RUNTIME,
			    "reload: %s; nothing changed", why);
	if (!d->opts->ifname && next.ifname[0] &&
	    strcmp(next.ifname, d->ifname)) {
		rc = errf(err, XLB_EXIT_RUNTIME,
			  "reload: %s:%d: interface %s differs from the "
			  "running instance's (%s); nothing changed",
			  d->conf_path, next.lines.interface, next.ifname,
			  d->ifname);
		xlb_config_free(&next);
		return rc;
	}
	if (xlb_config_copy(&old, &d->cur)) {
		xlb_config_free(&next);
		return errf(err, XLB_EXIT_RUNTIME,
			    "reload: out of memory; nothing changed");
	}
	rc = xlb_daemon_commit(d, &next, why, sizeof(why), err);
	if (rc) {
		xlb_config_free(&old);
		return errf(err, XLB_EXIT_RUNTIME,
			    "reload: %s; nothing changed", why);
	}
	fprintf(out, "reloaded %s: %zu service%s\n", d->conf_path,
		d->cur.n_svcs, d->cur.n_svcs == 1 ? "" : "s");
	n = reload_changes(&old, &d->cur, out);
	xlb_config_free(&old);
	if (!n)
		fprintf(out, "  nothing changed\n");
	xlb_logf("reloaded %s: %zu service%s, %zu change%s", d->conf_path,
		 d->cur.n_svcs, d->cur.n_svcs == 1 ? "" : "s", n,
		 n == 1 ? "" : "s");
	return XLB_EXIT_OK;
}

/* xlb show, with the connections per backend of the sweeper's last
 * sweep (none before it). */
static int show(struct xlb_daemon *d, bool json, FILE *out, FILE *err)
{
	struct xlb_backend_conns *conns = NULL;
	struct xlb_show s;
	int rc = XLB_EXIT_OK;

	xlb_daemon_show(d, &s);
	if (d->sweeper) {
		conns = malloc(XLB_MAX_BACKENDS * sizeof(*conns));
		if (!conns)
			return errf(err, XLB_EXIT_RUNTIME,
				    "show: out of memory for the connection "
				    "counts");
		if (xlb_sweeper_conns(d->sweeper, conns))
			s.conns = conns;
	}
	if (json)
		rc = xlb_show_json(&s, out) ? XLB_EXIT_RUNTIME : XLB_EXIT_OK;
	else
		xlb_show_text(&s, out);
	free(conns);
	return rc;
}

int xlb_daemon_request(struct xlb_daemon *d, int argc, char **argv, FILE *out,
		       FILE *err)
{
	struct xlb_request r;
	struct xlb_show s;
	char why[512];
	int rc;

	rc = xlb_request_parse(argc, argv, &r, why, sizeof(why));
	if (rc > 0) {
		xlb_request_usage(argv[0], out);
		return XLB_EXIT_OK;
	}
	if (rc)
		return errf(err, XLB_EXIT_USAGE, "%s", why);
	switch (r.op) {
	case XLB_REQ_SERVICE_ADD:
	case XLB_REQ_SERVICE_SET:
	case XLB_REQ_SERVICE_DEL:
		return service_op(d, &r, out, err);
	case XLB_REQ_BACKEND_ADD:
	case XLB_REQ_BACKEND_SET:
	case XLB_REQ_BACKEND_DEL:
	case XLB_REQ_BACKEND_DRAIN:
	case XLB_REQ_BACKEND_UNDRAIN:
		return backend_op(d, &r, out, err);
	case XLB_REQ_SERVICE_LIST:
		xlb_daemon_show(d, &s);
		if (r.json)
			return xlb_show_services_json(&s, out) ?
				       XLB_EXIT_RUNTIME :
				       0;
		xlb_show_services_text(&s, out);
		return XLB_EXIT_OK;
	case XLB_REQ_SHOW:
		return show(d, r.json, out, err);
	case XLB_REQ_SAVE:
		return xlb_config_write(&d->cur, out) ? XLB_EXIT_RUNTIME : 0;
	case XLB_REQ_RELOAD:
		return reload(d, out, err);
	case XLB_REQ_STOP:
		rc = xlb_daemon_teardown(d);
		d->stop_requested = true;
		if (rc)
			return errf(err, XLB_EXIT_RUNTIME,
				    "stop: cannot remove everything pinned in "
				    "%s: %s",
				    d->pin_dir, strerror(-rc));
		fprintf(out, "stopped xlb on %s: detached, unpinned\n",
			d->ifname);
		return XLB_EXIT_OK;
	}
	return XLB_EXIT_USAGE;
}
