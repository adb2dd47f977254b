// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb conns [-i IFACE] [-j]: the tracked connections. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"
#include "cli.h"
#include "conntrack.h"
#include "json.h"

struct conns_ctx {
	bool json;
	struct xlb_json *j;
	__u64 now_ns;
	__u64 count;
};

static int print_conn(const struct xlb_conn *c, void *arg)
{
	struct conns_ctx *x = arg;
	char client[XLB_ENDPOINT_STRLEN], vip[XLB_ENDPOINT_STRLEN],
		backend[XLB_ENDPOINT_STRLEN];
	__u64 age_s = (x->now_ns - c->fwd.created_ns) / XLB_NS_PER_SEC;
	__u64 last = xlb_conn_last_seen_ns(c);
	__u64 idle_s = last && x->now_ns > last ?
			       (x->now_ns - last) / XLB_NS_PER_SEC :
			       age_s;
	const char *state = xlb_conn_state_name(xlb_conn_state(c));
	__u8 fam = c->key.family;

	xlb_endpoint_str(&c->key.src, fam, ntohs(c->key.sport), client,
			 sizeof(client));
	xlb_endpoint_str(&c->key.dst, fam, ntohs(c->key.dport), vip,
			 sizeof(vip));
	xlb_endpoint_str(&c->fwd.rewritten.dst, fam,
			 ntohs(c->fwd.rewritten.dport), backend,
			 sizeof(backend));
	x->count++;
	if (!x->json) {
		printf("%s %s -> %s backend %u %s nat-port %u %s age %llus "
		       "idle %llus\n",
		       xlb_proto_name(c->key.proto), client, vip,
		       c->fwd.backend_id, backend,
		       ntohs(c->fwd.rewritten.sport), state, age_s, idle_s);
		return 0;
	}
	xlb_json_begin_object(x->j);
	xlb_json_kv_string(x->j, "proto", xlb_proto_name(c->key.proto));
	xlb_json_kv_string(x->j, "client", client);
	xlb_json_kv_string(x->j, "vip", vip);
	xlb_json_kv_u64(x->j, "backend_id", c->fwd.backend_id);
	xlb_json_kv_string(x->j, "backend", backend);
	xlb_json_kv_u64(x->j, "nat_port", ntohs(c->fwd.rewritten.sport));
	xlb_json_kv_string(x->j, "state", state);
	xlb_json_kv_u64(x->j, "age_s", age_s);
	xlb_json_kv_u64(x->j, "idle_s", idle_s);
	xlb_json_end_object(x->j);
	return 0;
}

int cmd_conns(int argc, char **argv)
{
	struct conns_ctx x = { .now_ns = xlb_now_ns() };
	struct xlb_view_args a;
	char name[IFNAMSIZ];
	struct xlb_json j;
	struct xlb_maps m;
	int rc, err;

	rc = xlb_view_args_parse(argc, argv, "conns", &a);
	if (rc)
		return rc < 0 ? XLB_EXIT_OK : rc;
	rc = xlb_open_instance(a.ifname, &m, name);
	if (rc)
		return rc;
	x.json = a.json;
	x.j = &j;
	if (a.json) {
		xlb_json_init(&j, stdout);
		xlb_json_begin_array(&j);
	}
	err = xlb_conn_walk_all(&m, print_conn, &x);
	if (a.json) {
		xlb_json_end_array(&j);
		xlb_json_end(&j);
	}
	xlb_maps_close(&m);
	if (err) {
		xlb_errf("cannot read the flow table of %s: %s", name,
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	return XLB_EXIT_OK;
}
