// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb stats [-i IFACE] [-j]: traffic per service and backend, and every
 * global counter. */
#include <errno.h>
#include <stdlib.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"
#include "cli.h"
#include "json.h"
#include "sched.h"
#include "stats.h"
#include "view.h"

static void json_traffic(struct xlb_json *j, const struct xlb_traffic *t)
{
	xlb_json_kv_u64(j, "conns", t->conns);
	xlb_json_kv_u64(j, "packets", t->packets);
	xlb_json_kv_u64(j, "bytes", t->bytes);
}

/* The traffic of every service and backend of v, read before anything
 * is printed: a read that fails prints nothing. */
struct traffic {
	struct xlb_traffic *svcs, *backends; /* as v->svcs, v->backends */
};

static int traffic_read(const struct xlb_maps *m, const struct xlb_view *v,
			struct traffic *t)
{
	int err = 0;

	t->svcs = calloc(v->n_svcs ? v->n_svcs : 1, sizeof(*t->svcs));
	t->backends = calloc(v->n_backends ? v->n_backends : 1,
			     sizeof(*t->backends));
	if (!t->svcs || !t->backends)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_svcs && !err; i++)
		err = xlb_traffic_read(m->service_stats, v->svcs[i].svc.id,
				       &t->svcs[i]);
	for (size_t k = 0; k < v->n_backends && !err; k++)
		err = xlb_traffic_read(m->backend_stats, v->backends[k].id,
				       &t->backends[k]);
	return err;
}

static int print_json(const struct xlb_view *v, const struct traffic *t,
		      const __u64 *counters, __u64 rx)
{
	char buf[XLB_ENDPOINT_STRLEN + 8];
	struct xlb_json j;

	xlb_json_init(&j, stdout);
	xlb_json_begin_object(&j);
	xlb_json_key(&j, "services");
	xlb_json_begin_array(&j);
	for (size_t i = 0; i < v->n_svcs; i++) {
		const struct xlb_view_service *s = &v->svcs[i];

		xlb_json_begin_object(&j);
		xlb_json_kv_string(&j, "vip",
				   xlb_view_vip_str(&s->key, buf, sizeof(buf)));
		xlb_json_kv_string(&j, "algo", xlb_algo_name(s->svc.algo));
		json_traffic(&j, &t->svcs[i]);
		xlb_json_key(&j, "backends");
		xlb_json_begin_array(&j);
		for (size_t k = 0; k < v->n_backends; k++) {
			const struct xlb_view_backend *b = &v->backends[k];

			if (b->b.service_id != s->svc.id)
				continue;
			xlb_json_begin_object(&j);
			xlb_json_kv_u64(&j, "id", b->id);
			xlb_json_kv_string(
				&j, "addr",
				xlb_endpoint_str(&b->b.addr, b->b.family,
						 ntohs(b->b.port), buf,
						 sizeof(buf)));
			xlb_json_kv_u64(&j, "weight", b->b.weight);
			xlb_json_kv_string(&j, "state",
					   xlb_backend_state_name(&b->b));
			json_traffic(&j, &t->backends[k]);
			xlb_json_end_object(&j);
		}
		xlb_json_end_array(&j);
		xlb_json_end_object(&j);
	}
	xlb_json_end_array(&j);
	xlb_json_key(&j, "counters");
	xlb_json_begin_object(&j);
	xlb_json_kv_u64(&j, "rx", rx);
	for (int i = 0; i < XLB_STAT_MAX; i++)
		xlb_json_kv_u64(&j, xlb_stat_names[i], counters[i]);
	xlb_json_end_object(&j);
	xlb_json_end_object(&j);
	return xlb_json_end(&j) ? XLB_EXIT_RUNTIME : XLB_EXIT_OK;
}

static void print_text(const struct xlb_view *v, const struct traffic *tr,
		       const __u64 *counters, __u64 rx)
{
	char buf[XLB_ENDPOINT_STRLEN + 8];
	const struct xlb_traffic *t;

	for (size_t i = 0; i < v->n_svcs; i++) {
		const struct xlb_view_service *s = &v->svcs[i];

		t = &tr->svcs[i];
		printf("service %s %s  conns %llu packets %llu bytes %llu\n",
		       xlb_view_vip_str(&s->key, buf, sizeof(buf)),
		       xlb_algo_name(s->svc.algo), t->conns, t->packets,
		       t->bytes);
		for (size_t k = 0; k < v->n_backends; k++) {
			const struct xlb_view_backend *b = &v->backends[k];

			if (b->b.service_id != s->svc.id)
				continue;
			t = &tr->backends[k];
			printf("  backend %u %s weight %u %s  conns %llu "
			       "packets %llu bytes %llu\n",
			       b->id,
			       xlb_endpoint_str(&b->b.addr, b->b.family,
						ntohs(b->b.port), buf,
						sizeof(buf)),
			       b->b.weight, xlb_backend_state_name(&b->b),
			       t->conns, t->packets, t->bytes);
		}
	}
	printf("counters:\n  %-20s %llu\n", "rx", rx);
	for (int i = 0; i < XLB_STAT_MAX; i++)
		printf("  %-20s %llu\n", xlb_stat_names[i], counters[i]);
}

int cmd_stats(int argc, char **argv)
{
	__u64 counters[XLB_STAT_MAX], rx;
	struct xlb_view_args a;
	struct traffic t = { 0 };
	char name[IFNAMSIZ];
	struct xlb_view v;
	struct xlb_maps m;
	int rc, err;

	rc = xlb_view_args_parse(argc, argv, "stats", &a);
	if (rc)
		return rc < 0 ? XLB_EXIT_OK : rc;
	rc = xlb_open_instance(a.ifname, &m, name);
	if (rc)
		return rc;
	err = xlb_view_read(&m, &v);
	if (err) {
		xlb_errf("cannot read the maps of %s: %s", name,
			 strerror(-err));
		xlb_maps_close(&m);
		return XLB_EXIT_RUNTIME;
	}
	err = xlb_stats_read(&m, counters, &rx);
	if (!err)
		err = traffic_read(&m, &v, &t);
	if (err) {
		xlb_errf("cannot read the counters of %s: %s", name,
			 strerror(-err));
		rc = XLB_EXIT_RUNTIME;
	} else if (a.json) {
		rc = print_json(&v, &t, counters, rx);
	} else {
		print_text(&v, &t, counters, rx);
	}
	free(t.svcs);
	free(t.backends);
	xlb_view_free(&v);
	xlb_maps_close(&m);
	return rc;
}
