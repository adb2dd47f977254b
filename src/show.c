// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `xlb show` rendering (see show.h). */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "show.h"
#include "txn.h"

const char *xlb_show_state(const struct xlb_config_backend *b)
{
	if (b->down)
		return "down";
	if (b->drain || !b->weight)
		return "drain";
	return "up";
}

static __u64 age_s(const struct xlb_show *s, __u64 at_ns)
{
	return at_ns && s->now_ns > at_ns ? (s->now_ns - at_ns) / XLB_NS_PER_SEC :
					    0;
}

/* The connections of backend b as the daemon's last sweep counted them,
 * or NULL if unknown. */
static const struct xlb_backend_conns *
backend_conns(const struct xlb_show *s, const struct xlb_config_backend *b)
{
	return s->conns && b->id < XLB_MAX_BACKENDS ? &s->conns[b->id] : NULL;
}

/* algo wlc: each backend's share of new connections (0..1), the table's
 * weights for the counts shown; NULL if not wlc, no counts, or no memory.
 * The caller frees it. */
static double *wlc_shares(const struct xlb_show *s,
			  const struct xlb_config_service *svc)
{
	__u32 *w;
	double *share = NULL, sum = 0;

	if (svc->algo != XLB_ALGO_WLC || !s->conns || !svc->n_backends)
		return NULL;
	w = calloc(svc->n_backends, sizeof(*w));
	if (w && !xlb_txn_table_weights(svc, s->conns, s->now_ns, w))
		share = calloc(svc->n_backends, sizeof(*share));
	for (size_t i = 0; share && i < svc->n_backends; i++)
		sum += svc->backends[i].down ? 0 : w[i];
	for (size_t i = 0; share && sum && i < svc->n_backends; i++)
		share[i] = svc->backends[i].down ? 0 : w[i] / sum;
	free(w);
	return share;
}

static void health_line(const struct xlb_config_service *svc, FILE *f)
{
	fputs(" health ", f);
	xlb_health_spec_write(svc->health, &svc->check, f);
}

/* share: of new connections (algo wlc), or NULL */
static void backend_text(const struct xlb_show *s,
			 const struct xlb_config_service *svc,
			 const struct xlb_config_backend *b,
			 const double *share, FILE *f)
{
	const struct xlb_backend_conns *n = backend_conns(s, b);
	char ep[XLB_ENDPOINT_STRLEN];
	struct xlb_health_status st;
	__u32 eff = xlb_txn_effective_weight(svc, b, s->now_ns);

	fprintf(f, "  backend %u %s weight %u", b->id,
		xlb_endpoint_str(&b->ep.addr, b->ep.family, b->ep.port, ep,
				 sizeof(ep)),
		b->weight);
	if (eff != b->weight && !b->drain)
		fprintf(f, " (slow start: %u)", eff);
	if (share)
		fprintf(f, " (wlc: %u%% of new)", (unsigned)(*share * 100 + 0.5));
	fprintf(f, " %s", xlb_show_state(b));
	if (b->drain)
		fputs(" (drained)", f);
	if (n)
		fprintf(f, "  conns %u active %u inactive", n->active,
			n->inactive);
	if (svc->health && s->health && b->id != XLB_ID_NONE &&
	    !xlb_health_get(s->health, b->id, &st)) {
		fprintf(f, "  health %s for %llus, %llu check%s, %llu failed",
			st.up ? "up" : "down",
			(unsigned long long)age_s(s, st.since_ns),
			(unsigned long long)st.checks,
			st.checks == 1 ? "" : "s",
			(unsigned long long)st.failures);
		if (st.last_reason[0])
			fprintf(f, ", last: %s", st.last_reason);
	}
	fputc('\n', f);
}

void xlb_show_text(const struct xlb_show *s, FILE *f)
{
	char name[XLB_SPEC_MAXLEN + 8], snat[XLB_ENDPOINT_STRLEN], d[32];

	fprintf(f, "instance %s:", s->ifname);
	if (s->pid)
		fprintf(f, " daemon pid %d", (int)s->pid);
	else
		fputs(" no daemon (data path running from its pinned state; "
		      "no health checks)",
		      f);
	if (s->xdp_mode)
		fprintf(f, ", %s XDP", s->xdp_mode);
	if (s->conf_path && s->conf_path[0])
		fprintf(f, ", config %s", s->conf_path);
	if (s->metrics)
		fprintf(f, ", metrics http://%s/metrics", s->metrics);
	fputc('\n', f);
	for (size_t i = 0; i < s->c->n_svcs; i++) {
		const struct xlb_config_service *svc = &s->c->svcs[i];
		double *shares = wlc_shares(s, svc);

		fprintf(f, "service %s id %u algo %s snat %s",
			xlb_config_service_name(svc, name, sizeof(name)),
			svc->id, xlb_algo_name(svc->algo),
			xlb_addr_str(&svc->snat, svc->vip.family, snat,
				     sizeof(snat)));
		if (svc->slow_start_ms)
			fprintf(f, " slow-start %s",
				xlb_duration_str(svc->slow_start_ms, d,
						 sizeof(d)));
		if (svc->health)
			health_line(svc, f);
		fputc('\n', f);
		for (size_t j = 0; j < svc->n_backends; j++)
			backend_text(s, svc, &svc->backends[j],
				     shares ? &shares[j] : NULL, f);
		free(shares);
	}
	if (s->n_events)
		fputs("health events:\n", f);
	for (size_t i = 0; i < s->n_events; i++) {
		const struct xlb_show_event *e = &s->events[i];

		fprintf(f, "  %llus ago: backend %u %s of %s %s (%u %s%s%s)\n",
			(unsigned long long)age_s(s, e->at_ns), e->backend_id,
			e->backend, e->vip, e->up ? "up" : "down", e->count,
			e->up ? "passed" : "failed",
			e->reason[0] ? ": " : "", e->reason);
	}
}

static void health_json(struct xlb_json *j, const struct xlb_config_service *svc)
{
	const struct xlb_health_conf *c = &svc->check;

	xlb_json_key(j, "health");
	if (!svc->health) {
		xlb_json_null(j);
		return;
	}
	xlb_json_begin_object(j);
	xlb_json_kv_string(j, "kind",
			   c->kind == XLB_HEALTH_HTTP ? "http" : "tcp");
	if (c->kind == XLB_HEALTH_HTTP) {
		xlb_json_kv_string(j, "path", c->http_path[0] ? c->http_path :
								  "/");
		xlb_json_kv_u64(j, "status", c->http_status);
		if (c->http_host[0])
			xlb_json_kv_string(j, "host", c->http_host);
	}
	xlb_json_kv_u64(j, "port", c->port);
	xlb_json_kv_u64(j, "interval_ms", c->interval_ms);
	xlb_json_kv_u64(j, "timeout_ms", c->timeout_ms);
	xlb_json_kv_u64(j, "rise", c->rise);
	xlb_json_kv_u64(j, "fall", c->fall);
	xlb_json_kv_u64(j, "jitter_pct", c->jitter_pct);
	xlb_json_end_object(j);
}

/* "active_conns" and "inactive_conns": n's, or null if n is NULL. */
static void conns_json(struct xlb_json *j, const struct xlb_backend_conns *n)
{
	xlb_json_key(j, "active_conns");
	if (n)
		xlb_json_u64(j, n->active);
	else
		xlb_json_null(j);
	xlb_json_key(j, "inactive_conns");
	if (n)
		xlb_json_u64(j, n->inactive);
	else
		xlb_json_null(j);
}

static void backend_json(struct xlb_json *j, const struct xlb_show *s,
			 const struct xlb_config_service *svc,
			 const struct xlb_config_backend *b,
			 const double *share)
{
	const struct xlb_backend_conns *n = backend_conns(s, b);
	char ep[XLB_ENDPOINT_STRLEN];
	struct xlb_health_status st;

	xlb_json_begin_object(j);
	xlb_json_kv_u64(j, "id", b->id);
	xlb_json_kv_string(j, "addr",
			   xlb_endpoint_str(&b->ep.addr, b->ep.family,
					    b->ep.port, ep, sizeof(ep)));
	xlb_json_kv_u64(j, "weight", b->weight);
	xlb_json_kv_u64(j, "effective_weight",
			xlb_txn_effective_weight(svc, b, s->now_ns));
	xlb_json_kv_bool(j, "drain", b->drain);
	xlb_json_kv_string(j, "state", xlb_show_state(b));
	conns_json(j, n);
	xlb_json_key(j, "wlc_share_pct");
	if (share)
		xlb_json_u64(j, (__u64)(*share * 100 + 0.5));
	else
		xlb_json_null(j);
	xlb_json_key(j, "health");
	if (svc->health && s->health && b->id != XLB_ID_NONE &&
	    !xlb_health_get(s->health, b->id, &st)) {
		xlb_json_begin_object(j);
		xlb_json_kv_bool(j, "up", st.up);
		xlb_json_kv_u64(j, "since_s", age_s(s, st.since_ns));
		xlb_json_kv_u64(j, "checks", st.checks);
		xlb_json_kv_u64(j, "failures", st.failures);
		xlb_json_kv_u64(j, "ok_streak", st.ok_streak);
		xlb_json_kv_u64(j, "fail_streak", st.fail_streak);
		xlb_json_kv_string(j, "last_reason", st.last_reason);
		xlb_json_end_object(j);
	} else {
		xlb_json_null(j);
	}
	xlb_json_end_object(j);
}

static void service_json(struct xlb_json *j, const struct xlb_show *s,
			 const struct xlb_config_service *svc, bool backends)
{
	char name[XLB_SPEC_MAXLEN + 8], snat[XLB_ENDPOINT_STRLEN];
	size_t up = 0;

	xlb_json_begin_object(j);
	xlb_json_kv_string(j, "vip",
			   xlb_config_service_name(svc, name, sizeof(name)));
	xlb_json_kv_u64(j, "id", svc->id);
	xlb_json_kv_string(j, "algo", xlb_algo_name(svc->algo));
	xlb_json_kv_string(j, "snat",
			   xlb_addr_str(&svc->snat, svc->vip.family, snat,
					sizeof(snat)));
	xlb_json_kv_u64(j, "slow_start_ms", svc->slow_start_ms);
	health_json(j, svc);
	for (size_t k = 0; k < svc->n_backends; k++)
		up += !strcmp(xlb_show_state(&svc->backends[k]), "up");
	xlb_json_kv_u64(j, "n_backends", svc->n_backends);
	xlb_json_kv_u64(j, "n_up", up);
	if (backends) {
		xlb_json_key(j, "backends");
		xlb_json_begin_array(j);
		double *shares = wlc_shares(s, svc);

		for (size_t k = 0; k < svc->n_backends; k++)
			backend_json(j, s, svc, &svc->backends[k],
				     shares ? &shares[k] : NULL);
		free(shares);
		xlb_json_end_array(j);
	}
	xlb_json_end_object(j);
}

int xlb_show_json(const struct xlb_show *s, FILE *f)
{
	struct xlb_json j;

	xlb_json_init(&j, f);
	xlb_json_begin_object(&j);
	xlb_json_kv_string(&j, "interface", s->ifname);
	xlb_json_key(&j, "daemon");
	if (s->pid) {
		xlb_json_begin_object(&j);
		xlb_json_kv_u64(&j, "pid", s->pid);
		xlb_json_kv_string(&j, "config",
				   s->conf_path && s->conf_path[0] ?
					   s->conf_path :
					   NULL);
		xlb_json_kv_string(&j, "metrics", s->metrics);
		xlb_json_end_object(&j);
	} else {
		xlb_json_null(&j);
	}
	xlb_json_kv_string(&j, "xdp_mode", s->xdp_mode);
	xlb_json_key(&j, "services");
	xlb_json_begin_array(&j);
	for (size_t i = 0; i < s->c->n_svcs; i++)
		service_json(&j, s, &s->c->svcs[i], true);
	xlb_json_end_array(&j);
	xlb_json_key(&j, "events");
	xlb_json_begin_array(&j);
	for (size_t i = 0; i < s->n_events; i++) {
		const struct xlb_show_event *e = &s->events[i];

		xlb_json_begin_object(&j);
		xlb_json_kv_u64(&j, "age_s", age_s(s, e->at_ns));
		xlb_json_kv_u64(&j, "backend_id", e->backend_id);
		xlb_json_kv_string(&j, "backend", e->backend);
		xlb_json_kv_string(&j, "vip", e->vip);
		xlb_json_kv_string(&j, "state", e->up ? "up" : "down");
		xlb_json_kv_u64(&j, "count", e->count);
		xlb_json_kv_string(&j, "reason", e->reason);
		xlb_json_end_object(&j);
	}
	xlb_json_end_array(&j);
	xlb_json_end_object(&j);
	return xlb_json_end(&j);
}

void xlb_show_services_text(const struct xlb_show *s, FILE *f)
{
	char name[XLB_SPEC_MAXLEN + 8];

	for (size_t i = 0; i < s->c->n_svcs; i++) {
		const struct xlb_config_service *svc = &s->c->svcs[i];
		size_t up = 0;

		for (size_t k = 0; k < svc->n_backends; k++)
			up += !strcmp(xlb_show_state(&svc->backends[k]), "up");
		fprintf(f, "%s %s backends %zu up %zu%s\n",
			xlb_config_service_name(svc, name, sizeof(name)),
			xlb_algo_name(svc->algo), svc->n_backends, up,
			svc->health ? (svc->check.kind == XLB_HEALTH_HTTP ?
					       " health http" :
					       " health tcp") :
				      "");
	}
}

int xlb_show_services_json(const struct xlb_show *s, FILE *f)
{
	struct xlb_json j;

	xlb_json_init(&j, f);
	xlb_json_begin_array(&j);
	for (size_t i = 0; i < s->c->n_svcs; i++)
		service_json(&j, s, &s->c->svcs[i], false);
	xlb_json_end_array(&j);
	return xlb_json_end(&j);
}
