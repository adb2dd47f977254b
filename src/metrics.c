// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prometheus exposition (format 0.0.4) and its HTTP endpoint (see
 * metrics.h). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <microhttpd.h>

#include "health.h"
#include "metrics.h"
#include "stats.h"
#include "view.h"

#define LISTEN_BACKLOG 64
#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10
#define FLOW_BATCH 4096

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/* Entries of a hash map, in batches (one syscall per FLOW_BATCH). */
static int count_entries(int fd, __u64 *count)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	void *keys = NULL, *vals = NULL, *batch = NULL;
	bool first = true;
	__u64 n = 0;
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	keys = calloc(FLOW_BATCH, info.key_size);
	vals = calloc(FLOW_BATCH, info.value_size);
	batch = calloc(1, info.key_size);
	if (!keys || !vals || !batch) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 got = FLOW_BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : batch, batch,
					   keys, vals, &got, NULL);
		first = false;
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		n += got;
		if (err) { /* ENOENT: the end */
			err = 0;
			break;
		}
	}
out:
	free(keys);
	free(vals);
	free(batch);
	if (!err)
		*count = n;
	return err;
}

static bool backend_up(const struct xlb_health *h, __u32 id,
		       const struct xlb_backend *b)
{
	struct xlb_health_status st;

	if (h && !xlb_health_get(h, id, &st))
		return st.up;
	return !(b->flags & XLB_BACKEND_DOWN);
}

static int snapshot_read(const struct xlb_maps *m, const struct xlb_health *h,
			 struct xlb_metrics_snapshot *out, bool count_tables)
{
	struct xlb_view v;
	int err;

	memset(out, 0, sizeof(*out));
	err = xlb_view_read(m, &v);
	if (err)
		return err;
	out->services = calloc(v.n_svcs ? v.n_svcs : 1,
			       sizeof(*out->services));
	out->backends = calloc(v.n_backends ? v.n_backends : 1,
			       sizeof(*out->backends));
	if (!out->services || !out->backends) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < v.n_svcs; i++) {
		struct xlb_metrics_service *s = &out->services[i];

		xlb_view_vip_str(&v.svcs[i].key, s->vip, sizeof(s->vip));
		err = xlb_traffic_read(m->service_stats, v.svcs[i].svc.id,
				       &s->traffic);
		if (err)
			goto out;
		out->n_services++;
	}
	for (size_t i = 0; i < v.n_backends; i++) {
		const struct xlb_view_backend *vb = &v.backends[i];
		const struct xlb_view_service *vs =
			xlb_view_service(&v, vb->b.service_id);
		struct xlb_metrics_backend *b =
			&out->backends[out->n_backends];

		if (!vs)
			continue;
		xlb_view_vip_str(&vs->key, b->vip, sizeof(b->vip));
		xlb_endpoint_str(&vb->b.addr, vb->b.family, ntohs(vb->b.port),
				 b->backend, sizeof(b->backend));
		b->id = vb->id;
		b->weight = vb->b.weight;
		b->up = backend_up(h, vb->id, &vb->b);
		b->drained = (vb->b.flags & XLB_BACKEND_DRAIN) != 0;
		err = xlb_traffic_read(m->backend_stats, vb->id, &b->traffic);
		if (err)
			goto out;
		out->n_backends++;
	}
	err = xlb_stats_read(m, out->stats, NULL);
	if (!err && count_tables)
		err = count_entries(m->flows, &out->flows);
	if (!err && count_tables)
		err = count_entries(m->embryos, &out->half_open_flows);
out:
	xlb_view_free(&v);
	if (err)
		xlb_metrics_snapshot_free(out);
	return err;
}

int xlb_metrics_snapshot_read(const struct xlb_maps *m,
			      const struct xlb_health *h,
			      struct xlb_metrics_snapshot *out)
{
	return snapshot_read(m, h, out, true);
}

void xlb_metrics_snapshot_free(struct xlb_metrics_snapshot *s)
{
	free(s->services);
	free(s->backends);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

int xlb_metrics_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		const char *rep = NULL;
		size_t n = 1;

		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		if (rep)
			n = 2;
		if (o + n >= len) {
			if (len)
				out[0] = '\0';
			return -ENOSPC;
		}
		if (rep)
			memcpy(out + o, rep, 2);
		else
			out[o] = *in;
		o += n;
	}
	if (!len)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

static void put_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The per-backend gauges, in the order they are written. */
enum { GAUGE_UP, GAUGE_WEIGHT, GAUGE_DRAINED, BACKEND_GAUGES };

static const struct {
	const char *name, *help;
} backend_gauges[BACKEND_GAUGES] = {
	[GAUGE_UP] = { "xlb_backend_up",
		       "1 if the backend passes its health checks, else 0." },
	[GAUGE_WEIGHT] = { "xlb_backend_weight",
			   "Configured weight of the backend (a drained one "
			   "keeps its weight)." },
	[GAUGE_DRAINED] = { "xlb_backend_drained",
			    "1 if the backend is drained (xlb backend drain, "
			    "or weight 0): no new connections, else 0." },
};

static __u64 backend_gauge(const struct xlb_metrics_backend *b, int g)
{
	switch (g) {
	case GAUGE_UP:
		return b->up;
	case GAUGE_WEIGHT:
		return b->weight;
	default:
		return b->drained;
	}
}

/* name{k1="v1",k2="v2",k3="v3"} value (k2, k3 may be NULL: fewer
 * labels) */
static void sample3(FILE *f, const char *name, const char *k1,
		    const char *v1, const char *k2, const char *v2,
		    const char *k3, const char *v3, __u64 value)
{
	fprintf(f, "%s{%s=\"", name, k1);
	put_value(f, v1);
	if (k2) {
		fprintf(f, "\",%s=\"", k2);
		put_value(f, v2);
	}
	if (k3) {
		fprintf(f, "\",%s=\"", k3);
		put_value(f, v3);
	}
	fprintf(f, "\"} %llu\n", (unsigned long long)value);
}

/* name{k1="v1"[,k2="v2"]} value */
static void sample(FILE *f, const char *name, const char *k1, const char *v1,
		   const char *k2, const char *v2, __u64 value)
{
	sample3(f, name, k1, v1, k2, v2, NULL, NULL, value);
}

/* xlb_backend_current_connections{vip,backend,state}: the last sweep. */
static void render_backend_conns(FILE *f, const struct xlb_metrics_snapshot *s)
{
	static const char name[] = "xlb_backend_current_connections";

	family(f, name, "gauge",
	       "Connections of the backend as the daemon's last sweep of the "
	       "connection tables counted them (up to a sweep interval old): "
	       "active (TCP established), inactive (TCP handshake, closing or "
	       "closed; UDP).");
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct xlb_metrics_backend *b = &s->backends[i];

		sample3(f, name, "vip", b->vip, "backend", b->backend, "state",
			"active", b->active_conns);
		sample3(f, name, "vip", b->vip, "backend", b->backend, "state",
			"inactive", b->inactive_conns);
	}
}

/* The __u64 at `offset` in struct xlb_traffic. */
static __u64 traffic_field(const struct xlb_traffic *t, size_t offset)
{
	__u64 v;

	memcpy(&v, (const char *)t + offset, sizeof(v));
	return v;
}

static void render_sweep(FILE *f, const struct xlb_sweep_stats *w)
{
	struct {
		const char *name, *type, *help;
		char value[32];
	} rows[] = {
		{ "xlb_conntrack_sweeps_total", "counter",
		  "Sweeps of the connection tables by the daemon's expiry.",
		  "" },
		{ "xlb_conntrack_sweep_errors_total", "counter",
		  "Sweeps that failed (the daemon logs the first of a run).",
		  "" },
		{ "xlb_conntrack_expired_total", "counter",
		  "Connections removed by the expiry, idle past their state's "
		  "timeout.",
		  "" },
		{ "xlb_conntrack_flushed_total", "counter",
		  "Connections removed by the expiry because their service was "
		  "removed.",
		  "" },
		{ "xlb_conntrack_sweep_connections", "gauge",
		  "Connections the last sweep walked.",
		  "" },
		{ "xlb_conntrack_sweep_seconds", "gauge",
		  "How long the last sweep took.",
		  "" },
		{ "xlb_conntrack_sweep_interval_seconds", "gauge",
		  "Time from the last sweep's start to the next's: 2 s, or ten "
		  "times the sweep if longer (2 s while the flow table is "
		  "over 80 % full).",
		  "" },
	};
	const __u64 counts[] = { w->sweeps, w->errors, w->removed, w->flushed,
				 w->conns };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		snprintf(rows[i].value, sizeof(rows[i].value), "%llu",
			 (unsigned long long)counts[i]);
	snprintf(rows[5].value, sizeof(rows[5].value), "%.6f",
		 w->last_ns / 1e9);
	snprintf(rows[6].value, sizeof(rows[6].value), "%.3f",
		 w->interval_ns / 1e9);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		family(f, rows[i].name, rows[i].type, rows[i].help);
		fprintf(f, "%s %s\n", rows[i].name, rows[i].value);
	}
}

static void render_resend(FILE *f, const struct xlb_resend_stats *r)
{
	static const char name[] = "xlb_no_neigh_packets_total";
	const struct {
		const char *result;
		__u64 n;
	} rows[] = {
		{ "sent", r->sent },
		{ "failed", r->failed },
		{ "limited", r->limited },
		{ "refused", r->refused },
		{ "stale", r->stale },
		{ "malformed", r->malformed },
	};

	family(f, name, "counter",
	       "Packets the XDP program could not send for want of a "
	       "neighbour entry (drop_fib_no_neigh) and handed to the daemon, "
	       "which sends them through the kernel, which resolves the next "
	       "hop: sent, failed, limited (over 1000 a second), refused (not "
	       "to a unicast address), stale (over 1 s old) or malformed.");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		sample(f, name, "result", rows[i].result, NULL, NULL,
		       rows[i].n);
}

int xlb_metrics_render(const struct xlb_metrics_snapshot *s, FILE *f)
{
	static const struct {
		const char *what; /* metric name part */
		size_t offset;    /* in struct xlb_traffic */
		const char *help;
	} traffic[] = {
		{ "connections", offsetof(struct xlb_traffic, conns),
		  "New connections scheduled" },
		{ "packets", offsetof(struct xlb_traffic, packets),
		  "Packets forwarded, both directions" },
		{ "bytes", offsetof(struct xlb_traffic, bytes),
		  "Bytes forwarded (frame length), both directions" },
	};
	char name[64], help[128];

	for (size_t k = 0; k < sizeof(traffic) / sizeof(traffic[0]); k++) {
		snprintf(name, sizeof(name), "xlb_service_%s_total",
			 traffic[k].what);
		snprintf(help, sizeof(help), "%s, per service.",
			 traffic[k].help);
		family(f, name, "counter", help);
		for (size_t i = 0; i < s->n_services; i++)
			sample(f, name, "vip", s->services[i].vip, NULL, NULL,
			       traffic_field(&s->services[i].traffic,
					     traffic[k].offset));
	}
	for (size_t k = 0; k < sizeof(traffic) / sizeof(traffic[0]); k++) {
		snprintf(name, sizeof(name), "xlb_backend_%s_total",
			 traffic[k].what);
		snprintf(help, sizeof(help), "%s, per backend.",
			 traffic[k].help);
		family(f, name, "counter", help);
		for (size_t i = 0; i < s->n_backends; i++)
			sample(f, name, "vip", s->backends[i].vip, "backend",
			       s->backends[i].backend,
			       traffic_field(&s->backends[i].traffic,
					     traffic[k].offset));
	}
	for (int g = 0; g < BACKEND_GAUGES; g++) {
		family(f, backend_gauges[g].name, "gauge",
		       backend_gauges[g].help);
		for (size_t i = 0; i < s->n_backends; i++)
			sample(f, backend_gauges[g].name, "vip",
			       s->backends[i].vip, "backend",
			       s->backends[i].backend,
			       backend_gauge(&s->backends[i], g));
	}
	if (s->has_conns)
		render_backend_conns(f, s);
	family(f, "xlb_packets_total", "counter",
	       "Packets seen by the XDP program, by verdict reason.");
	for (int i = 0; i < XLB_STAT_VERDICT_MAX; i++)
		sample(f, "xlb_packets_total", "reason", xlb_stat_names[i],
		       NULL, NULL, s->stats[i]);
	family(f, "xlb_events_total", "counter",
	       "Data-path events (not packets), by kind.");
	for (int i = XLB_STAT_VERDICT_MAX; i < XLB_STAT_MAX; i++)
		sample(f, "xlb_events_total", "event", xlb_stat_names[i], NULL,
		       NULL, s->stats[i]);
	family(f, "xlb_flows", "gauge",
	       "Entries in the flow table (two per tracked connection).");
	fprintf(f, "xlb_flows %llu\n", (unsigned long long)s->flows);
	family(f, "xlb_half_open_flows", "gauge",
	       "Entries in the half-open table (two per connection the "
	       "client has not confirmed yet: TCP before its last handshake "
	       "ACK, UDP before its second datagram).");
	fprintf(f, "xlb_half_open_flows %llu\n",
		(unsigned long long)s->half_open_flows);
	if (s->has_sweep)
		render_sweep(f, &s->sweep);
	if (s->has_resend)
		render_resend(f, &s->resend);
	return ferror(f) ? -EIO : 0;
}

/* The connections of s's backends, as the sweeper's last sweep counted
 * them (s->has_conns: once there is one).  0, or -ENOMEM (then s is
 * freed). */
static int snapshot_conns(struct xlb_sweeper *sw,
			  struct xlb_metrics_snapshot *s)
{
	struct xlb_backend_conns *conns =
		malloc(XLB_MAX_BACKENDS * sizeof(*conns));

	if (!conns) {
		xlb_metrics_snapshot_free(s);
		return -ENOMEM;
	}
	s->has_conns = xlb_sweeper_conns(sw, conns);
	for (size_t i = 0; s->has_conns && i < s->n_backends; i++) {
		struct xlb_metrics_backend *b = &s->backends[i];

		if (b->id >= XLB_MAX_BACKENDS)
			continue;
		b->active_conns = conns[b->id].active;
		b->inactive_conns = conns[b->id].inactive;
	}
	free(conns);
	return 0;
}

int xlb_metrics_render_source(void *ctx, FILE *f)
{
	const struct xlb_metrics_source *src = ctx;
	struct xlb_sweep_stats sw = { 0 };
	struct xlb_metrics_snapshot s;
	int err;

	/* the table sizes as the sweeper's last sweep left them, once one
	 * has succeeded: counting them here would read a million entries
	 * per scrape, in the daemon's thread */
	if (src->sweeper && *src->sweeper)
		xlb_sweeper_stats(*src->sweeper, &sw);
	err = snapshot_read(src->maps, src->health, &s, !sw.counted);
	if (!err && sw.counted)
		err = snapshot_conns(*src->sweeper, &s);
	if (err)
		return err;
	s.sweep = sw;
	s.has_sweep = sw.sweeps > 0;
	if (src->resend) {
		s.resend = *src->resend;
		s.has_resend = true;
	}
	if (sw.counted) {
		s.flows = sw.flow_entries;
		s.half_open_flows = sw.half_open_entries;
	}
	err = xlb_metrics_render(&s, f);
	xlb_metrics_snapshot_free(&s);
	return err;
}

/* ------------------------------------------------------------------ */
/* HTTP server                                                         */
/* ------------------------------------------------------------------ */

struct xlb_metrics {
	struct MHD_Daemon *mhd;
	enum xlb_metrics_mode mode;
	int (*render)(void *ctx, FILE *f);
	void *ctx;
	__u16 port;
};

static void quiet_logger(void *cls, const char *fmt, va_list ap)
{
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_metrics(struct xlb_metrics *s,
				     struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int err;

	if (!f)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "out of memory\n", NULL);
	err = s->render(s->ctx, f);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(body);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "cannot read the metrics\n", NULL);
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				XLB_METRICS_CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct xlb_metrics *s = cls;

	/* answered on the first call (headers complete); a body, if any,
	 * is not read */
	if (strcmp(url, XLB_METRICS_PATH))
		return reply(conn, MHD_HTTP_NOT_FOUND,
			     "not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "method not allowed: use GET\n", "GET, HEAD");
	return serve_metrics(s, conn);
}

static int listen_socket(const struct xlb_endpoint *ep, __u16 *port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1, fd, err;
	int af = ep->family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET;

	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->addr.bytes, 16);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		sin->sin_addr.s_addr = ep->addr.ip4;
		len = sizeof(*sin);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    listen(fd, LISTEN_BACKLOG))
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		goto fail;
	*port = ntohs(af == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				     : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int xlb_metrics_start(const struct xlb_metrics_opts *o,
		      struct xlb_metrics **out)
{
	unsigned int flags;
	struct xlb_metrics *s;
	int fd;

	if (!o->render ||
	    (o->listen.family != XLB_FAMILY_V4 &&
	     o->listen.family != XLB_FAMILY_V6) ||
	    (o->mode != XLB_METRICS_THREAD && o->mode != XLB_METRICS_POLL))
		return -EINVAL;
	if (o->mode == XLB_METRICS_POLL &&
	    MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES)
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mode = o->mode;
	s->render = o->render;
	s->ctx = o->ctx;
	fd = listen_socket(&o->listen, &s->port);
	if (fd < 0) {
		free(s);
		return fd;
	}
	/* AUTO picks epoll (else poll) for the internal thread: select()
	 * would fail on a daemon with more than FD_SETSIZE fds open */
	flags = o->mode == XLB_METRICS_THREAD ? MHD_USE_AUTO_INTERNAL_THREAD
					      : MHD_USE_EPOLL;
	if (o->listen.family == XLB_FAMILY_V6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
		(MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER,
		quiet_logger, NULL, MHD_OPTION_END);
	if (!s->mhd) {
		close(fd);
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void xlb_metrics_stop(struct xlb_metrics *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd); /* closes the listening socket too */
	free(s);
}

__u16 xlb_metrics_port(const struct xlb_metrics *s)
{
	return s->port;
}

int xlb_metrics_fd(const struct xlb_metrics *s)
{
	const union MHD_DaemonInfo *info;

	if (s->mode != XLB_METRICS_POLL)
		return -EINVAL;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return info ? info->epoll_fd : -EIO;
}

int xlb_metrics_timeout_ms(const struct xlb_metrics *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (s->mode != XLB_METRICS_POLL ||
	    MHD_get_timeout(s->mhd, &ms) != MHD_YES)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int xlb_metrics_process(struct xlb_metrics *s)
{
	if (s->mode != XLB_METRICS_POLL)
		return -EINVAL;
	return MHD_run(s->mhd) == MHD_YES ? 0 : -EIO;
}
