// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb conns [flush] [-i IFACE] [-j] [--vip ADDR:PORT[/PROTO]] [--backend ADDR[:PORT]]
 * Lists (or removes) the tracked connections, established and half-open.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "cli.h"
#include "conntrack.h"
#include "json.h"
#include "txn.h"

struct conns_filter {
	bool by_vip, by_backend;
	struct xlb_endpoint vip;
	__u8 vip_proto;
	struct xlb_endpoint backend; /* port 0 = any */
	const char *vip_text, *backend_text; /* as given */
};

struct conns_ctx {
	struct conns_filter filter;
	const struct xlb_maps *m;
	bool json, flush;
	bool dry; /* count the matches only */
	struct xlb_json *j;
	__u64 now_ns;
	__u64 count;
	int err;
};

static bool conn_matches(const struct conns_filter *f, const struct xlb_conn *c)
{
	if (f->by_vip &&
	    (c->key.family != f->vip.family || c->key.proto != f->vip_proto ||
	     ntohs(c->key.dport) != f->vip.port ||
	     memcmp(&c->key.dst, &f->vip.addr, sizeof(f->vip.addr))))
		return false;
	if (f->by_backend &&
	    (c->key.family != f->backend.family ||
	     (f->backend.port &&
	      ntohs(c->fwd.rewritten.dport) != f->backend.port) ||
	     memcmp(&c->fwd.rewritten.dst, &f->backend.addr,
		    sizeof(f->backend.addr))))
		return false;
	return true;
}

/* Whole seconds from then to now; 0 if then is later (a connection made,
 * or a packet seen, while the tables were read after the clock). */
static __u64 secs_since(__u64 now_ns, __u64 then_ns)
{
	return now_ns > then_ns ? (now_ns - then_ns) / XLB_NS_PER_SEC : 0;
}

static void print_conn(struct conns_ctx *x, const struct xlb_conn *c)
{
	char client[XLB_ENDPOINT_STRLEN], vip[XLB_ENDPOINT_STRLEN],
		backend[XLB_ENDPOINT_STRLEN];
	__u64 age_s = secs_since(x->now_ns, c->fwd.created_ns);
	__u64 last = xlb_conn_last_seen_ns(c);
	__u64 idle_s = last ? secs_since(x->now_ns, last) : age_s;
	char service[XLB_ENDPOINT_STRLEN + 8];
	const char *state = xlb_conn_state_name(xlb_conn_state(c));
	__u8 fam = c->key.family;

	xlb_endpoint_str(&c->key.src, fam, ntohs(c->key.sport), client,
			 sizeof(client));
	xlb_endpoint_str(&c->key.dst, fam, ntohs(c->key.dport), vip,
			 sizeof(vip));
	xlb_endpoint_str(&c->fwd.rewritten.dst, fam,
			 ntohs(c->fwd.rewritten.dport), backend,
			 sizeof(backend));
	/* last_seen is refreshed at most every XLB_TOUCH_NS: a young
	 * connection's idle time may round above its age */
	if (idle_s > age_s)
		idle_s = age_s;
	if (!x->json) {
		printf("%s %s -> %s backend %u %s nat-port %u %s age %llus "
		       "idle %llus\n",
		       xlb_proto_name(c->key.proto), client, vip,
		       c->fwd.backend_id, backend,
		       ntohs(c->fwd.rewritten.sport), state, age_s, idle_s);
		return;
	}
	xlb_json_begin_object(x->j);
	xlb_json_kv_string(x->j, "proto", xlb_proto_name(c->key.proto));
	xlb_json_kv_string(x->j, "client", client);
	xlb_json_kv_string(x->j, "vip", vip);
	/* as show, stats and the metrics name it, to join on */
	snprintf(service, sizeof(service), "%s/%s", vip,
		 xlb_proto_name(c->key.proto));
	xlb_json_kv_string(x->j, "service", service);
	xlb_json_kv_u64(x->j, "backend_id", c->fwd.backend_id);
	xlb_json_kv_string(x->j, "backend", backend);
	xlb_json_kv_u64(x->j, "nat_port", ntohs(c->fwd.rewritten.sport));
	xlb_json_kv_string(x->j, "state", state);
	xlb_json_kv_u64(x->j, "age_s", age_s);
	xlb_json_kv_u64(x->j, "idle_s", idle_s);
	xlb_json_end_object(x->j);
}

static int on_conn(const struct xlb_conn *c, void *arg)
{
	struct conns_ctx *x = arg;
	int rc;

	if (!conn_matches(&x->filter, c))
		return 0;
	if (x->dry) {
		x->count++;
		return 0;
	}
	if (!x->flush) {
		print_conn(x, c);
		x->count++;
		return 0;
	}
	/* a pair (or half pair) lives in one of the two tables */
	rc = xlb_conn_remove(x->m, c);
	if (rc < 0 && !x->err)
		x->err = rc;
	if (rc > 0)
		x->count++;
	return 0;
}

static void conns_usage(FILE *f)
{
	fprintf(f, "usage: xlb conns [flush] [-i IFACE] [-j] "
		   "[--vip ADDR:PORT[/PROTO]] [--backend ADDR[:PORT]]\n");
}

static int parse_args(int argc, char **argv, const char **ifname,
		      struct conns_ctx *x)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "vip", required_argument, NULL, 'v' },
		{ "backend", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct xlb_backend_arg barg;
	char err[256];
	size_t n;
	int c;

	optind = 1;
	opterr = 0;
	if (argc > 1 && !strcmp(argv[1], "flush")) {
		x->flush = true;
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "+i:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			*ifname = optarg;
			break;
		case 'j':
			x->json = true;
			break;
		case 'v':
			if (xlb_vip_parse(optarg, &x->filter.vip,
					  &x->filter.vip_proto, err,
					  sizeof(err))) {
				xlb_errf("conns --vip: %s", err);
				return XLB_EXIT_USAGE;
			}
			x->filter.by_vip = true;
			x->filter.vip_text = optarg;
			break;
		case 'b':
			/* ADDR:PORT matches that port; ADDR alone, any port */
			if (!xlb_backends_parse(optarg, 0, &barg, 1, &n, err,
						sizeof(err))) {
				x->filter.backend = barg.ep;
			} else if (!xlb_backends_parse(optarg, 1, &barg, 1, &n,
						       err, sizeof(err))) {
				x->filter.backend = barg.ep;
				x->filter.backend.port = 0;
			} else {
				xlb_errf("conns --backend: %s", err);
				return XLB_EXIT_USAGE;
			}
			x->filter.by_backend = true;
			x->filter.backend_text = optarg;
			break;
		case 'h':
			conns_usage(stdout);
			return -1;
		default:
			xlb_errf("conns: unknown or incomplete option \"%s\"",
				 argv[optind - 1]);
			conns_usage(stderr);
			return XLB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		xlb_errf("conns: unexpected argument \"%s\"%s", argv[optind],
			 strcmp(argv[optind], "flush") ? "" :
			 " (flush comes first: xlb conns flush [OPTIONS])");
		return XLB_EXIT_USAGE;
	}
	if (x->flush && x->json) {
		xlb_errf("conns flush: -j is for listing; flush prints a count");
		return XLB_EXIT_USAGE;
	}
	return 0;
}

static bool backend_in(const struct conns_filter *f,
		       const struct xlb_config_service *s)
{
	for (size_t j = 0; j < s->n_backends; j++) {
		const struct xlb_endpoint *ep = &s->backends[j].ep;

		if (ep->family == f->backend.family &&
		    !memcmp(&ep->addr, &f->backend.addr, sizeof(ep->addr)) &&
		    (!f->backend.port || ep->port == f->backend.port))
			return true;
	}
	return false;
}

/* Do --vip and --backend name what the instance has configured?  If
 * not, and no tracked connection matches either (connections of a removed
 * service or backend outlive it, and may be listed or flushed), the
 * filter is a mistake (ipvsadm: "No such service"): an error naming it,
 * before anything is printed or removed.  Returns 0 or an exit code. */
static int check_filter(struct conns_ctx *x, const char *name)
{
	const struct conns_filter *f = &x->filter;
	struct conns_ctx dry = { .filter = *f, .m = x->m, .dry = true };
	const struct xlb_config_service *svc = NULL;
	bool vip_ok = true, be_ok = true;
	struct xlb_config c;
	int err;

	if (!f->by_vip && !f->by_backend)
		return 0;
	err = xlb_txn_read(x->m, &c);
	if (err) {
		xlb_errf("cannot read the services of %s: %s", name,
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	if (f->by_vip) {
		svc = xlb_config_service_find(&c, &f->vip, f->vip_proto);
		vip_ok = svc != NULL;
	}
	if (f->by_backend) {
		be_ok = false;
		for (size_t i = 0; i < c.n_svcs && !be_ok; i++)
			if (!svc || svc == &c.svcs[i])
				be_ok = backend_in(f, &c.svcs[i]);
	}
	if (vip_ok && be_ok) {
		xlb_config_free(&c);
		return 0;
	}
	err = xlb_conn_walk_all(x->m, on_conn, &dry);
	if (!err && dry.count) {
		xlb_config_free(&c);
		return 0; /* a removed one's connections */
	}
	if (!vip_ok)
		xlb_errf("conns --vip %s: no such service on %s (xlb show "
			 "lists them)",
			 f->vip_text, name);
	else if (svc)
		xlb_errf("conns --backend %s: no such backend in service %s "
			 "on %s (xlb show lists them)",
			 f->backend_text, f->vip_text, name);
	else
		xlb_errf("conns --backend %s: no such backend in any service "
			 "on %s (xlb show lists them)",
			 f->backend_text, name);
	xlb_config_free(&c);
	return XLB_EXIT_RUNTIME;
}

int cmd_conns(int argc, char **argv)
{
	struct conns_ctx x = { .now_ns = xlb_now_ns() };
	const char *ifname = NULL;
	char name[IFNAMSIZ];
	struct xlb_json j;
	struct xlb_maps m;
	int rc, err;

	rc = parse_args(argc, argv, &ifname, &x);
	if (rc)
		return rc < 0 ? XLB_EXIT_OK : rc;
	rc = xlb_open_instance(ifname, &m, name);
	if (rc)
		return rc;
	x.m = &m;
	rc = check_filter(&x, name);
	if (rc) {
		xlb_maps_close(&m);
		return rc;
	}
	x.j = &j;
	if (x.json) {
		xlb_json_init(&j, stdout);
		xlb_json_begin_array(&j);
	}
	err = xlb_conn_walk_all(&m, on_conn, &x);
	if (x.json) {
		xlb_json_end_array(&j);
		xlb_json_end(&j);
	}
	xlb_maps_close(&m);
	if (err) {
		xlb_errf("cannot read the flow tables of %s: %s", name,
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	if (x.flush)
		printf("flushed %llu connection%s\n", x.count,
		       x.count == 1 ? "" : "s");
	if (x.err) {
		xlb_errf("conns flush: cannot remove some connections of %s: "
			 "%s", name, strerror(-x.err));
		return XLB_EXIT_RUNTIME;
	}
	return XLB_EXIT_OK;
}
