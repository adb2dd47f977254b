// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb run: validate the whole command line, load, fill the maps, pin,
 * attach, then serve in the foreground (neighbour resolution, connection
 * expiry) until SIGINT/SIGTERM; then detach and remove the pins.
 * Nothing is attached or pinned unless every step before succeeded.
 */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "cli.h"
#include "conntrack.h"
#include "loader.h"
#include "neigh.h"
#include "tables.h"

#define MAX_BACKENDS_PER_SERVICE 4096
#define EXPIRE_INTERVAL_NS (2 * XLB_NS_PER_SEC)

struct run_args {
	const char *ifname;
	struct xlb_service_conf svcs[XLB_MAX_SERVICES];
	char vip_text[XLB_MAX_SERVICES][XLB_SPEC_MAXLEN];
	size_t n_svcs;
	struct xlb_addr snat[2]; /* [0] IPv4, [1] IPv6 */
	bool have_snat[2];
	struct xlb_load_opts load;
	enum xlb_xdp_mode mode;
	struct xlb_timeouts timeouts;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: xlb run -i IFACE --vip ADDR:PORT[/tcp|/udp] "
		"--backends ADDR[:PORT][@WEIGHT],... [--algo rr|wrr]\n"
		"               [--vip ... --backends ... [--algo ...]]...\n"
		"               [--snat ADDR] [--max-flows N] "
		"[--nat-ports MIN-MAX] [--xdp-mode auto|native|generic]\n"
		"Each --vip starts a service; the --backends and --algo after "
		"it are that service's.\n");
}

static int fam_index(__u8 family)
{
	return family == XLB_FAMILY_V6;
}

static int add_backends(struct run_args *a, const char *spec)
{
	struct xlb_service_conf *svc;
	struct xlb_backend_arg *args;
	char err[256];
	size_t n;
	int rc;

	if (!a->n_svcs) {
		xlb_errf("--backends \"%s\" must follow the --vip it belongs "
			 "to",
			 spec);
		return XLB_EXIT_USAGE;
	}
	svc = &a->svcs[a->n_svcs - 1];
	if (svc->n_backends) {
		xlb_errf("VIP %s has two --backends lists: give one, "
			 "comma-separated",
			 a->vip_text[a->n_svcs - 1]);
		return XLB_EXIT_USAGE;
	}
	args = calloc(MAX_BACKENDS_PER_SERVICE, sizeof(*args));
	svc->backends = calloc(MAX_BACKENDS_PER_SERVICE,
			       sizeof(*svc->backends));
	if (!args || !svc->backends) {
		free(args);
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	rc = xlb_backends_parse(spec, svc->port, args, MAX_BACKENDS_PER_SERVICE,
				&n, err, sizeof(err));
	if (rc) {
		free(args);
		xlb_errf("%s", err);
		return XLB_EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		if (args[i].ep.family != svc->family) {
			free(args);
			xlb_errf("backends of VIP %s must be IPv%d like the "
				 "VIP",
				 a->vip_text[a->n_svcs - 1], svc->family);
			return XLB_EXIT_USAGE;
		}
		svc->backends[i].addr = args[i].ep.addr;
		svc->backends[i].family = args[i].ep.family;
		svc->backends[i].port = args[i].ep.port;
		svc->backends[i].weight = args[i].weight;
	}
	svc->n_backends = n;
	free(args);
	return 0;
}

static int add_vip(struct run_args *a, const char *spec)
{
	struct xlb_service_conf *svc;
	struct xlb_endpoint ep;
	char err[256];
	__u8 proto;

	if (xlb_vip_parse(spec, &ep, &proto, err, sizeof(err))) {
		xlb_errf("%s", err);
		return XLB_EXIT_USAGE;
	}
	if (a->n_svcs == XLB_MAX_SERVICES) {
		xlb_errf("too many services: at most %d", XLB_MAX_SERVICES);
		return XLB_EXIT_USAGE;
	}
	for (size_t i = 0; i < a->n_svcs; i++) {
		const struct xlb_service_conf *o = &a->svcs[i];

		if (o->family == ep.family && o->port == ep.port &&
		    o->proto == proto && !memcmp(&o->vip, &ep.addr, 16)) {
			xlb_errf("VIP %s is given twice (first as \"%s\")",
				 spec, a->vip_text[i]);
			return XLB_EXIT_USAGE;
		}
	}
	svc = &a->svcs[a->n_svcs];
	memset(svc, 0, sizeof(*svc));
	svc->vip = ep.addr;
	svc->family = ep.family;
	svc->port = ep.port;
	svc->proto = proto;
	svc->algo = XLB_ALGO_RR;
	snprintf(a->vip_text[a->n_svcs], XLB_SPEC_MAXLEN, "%s", spec);
	a->n_svcs++;
	return 0;
}

static int parse_args(int argc, char **argv, struct run_args *a)
{
	enum { OPT_SNAT = 256, OPT_MAX_FLOWS, OPT_NAT_PORTS, OPT_XDP_MODE };
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "vip", required_argument, NULL, 'v' },
		{ "backends", required_argument, NULL, 'b' },
		{ "algo", required_argument, NULL, 'a' },
		{ "snat", required_argument, NULL, OPT_SNAT },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "nat-ports", required_argument, NULL, OPT_NAT_PORTS },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char err[256];
	__u64 v;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+i:v:b:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (a->ifname) {
				xlb_errf("-i is given twice (\"%s\", \"%s\"): "
					 "one interface per instance",
					 a->ifname, optarg);
				return XLB_EXIT_USAGE;
			}
			a->ifname = optarg;
			break;
		case 'v':
			rc = add_vip(a, optarg);
			if (rc)
				return rc;
			break;
		case 'b':
			rc = add_backends(a, optarg);
			if (rc)
				return rc;
			break;
		case 'a':
			if (!a->n_svcs) {
				xlb_errf("--algo %s must follow the --vip it "
					 "belongs to",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			if (xlb_algo_parse(optarg,
					   &a->svcs[a->n_svcs - 1].algo)) {
				xlb_errf("unknown --algo \"%s\": use rr or wrr",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			break;
		case OPT_SNAT: {
			struct xlb_addr addr;
			__u8 fam;

			if (xlb_addr_parse(optarg, &addr, &fam, err,
					   sizeof(err))) {
				xlb_errf("--snat: %s", err);
				return XLB_EXIT_USAGE;
			}
			a->snat[fam_index(fam)] = addr;
			a->have_snat[fam_index(fam)] = true;
			break;
		}
		case OPT_MAX_FLOWS:
			if (xlb_u64_parse(optarg, 1, 64u << 20, &v)) {
				xlb_errf("--max-flows \"%s\": give a number "
					 "from 1 to %u",
					 optarg, 64u << 20);
				return XLB_EXIT_USAGE;
			}
			a->load.max_flows = v;
			break;
		case OPT_NAT_PORTS:
			if (xlb_port_range_parse(optarg, &a->load.nat_port_min,
						 &a->load.nat_port_max, err,
						 sizeof(err))) {
				xlb_errf("--nat-ports: %s", err);
				return XLB_EXIT_USAGE;
			}
			break;
		case OPT_XDP_MODE:
			if (!strcmp(optarg, "auto"))
				a->mode = XLB_XDP_AUTO;
			else if (!strcmp(optarg, "native"))
				a->mode = XLB_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				a->mode = XLB_XDP_GENERIC;
			else {
				xlb_errf("unknown --xdp-mode \"%s\": use auto, "
					 "native or generic",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			break;
		case 'h':
			run_usage(stdout);
			return -1;
		default:
			xlb_errf("run: unknown or incomplete option \"%s\"",
				 argv[optind - 1]);
			run_usage(stderr);
			return XLB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		xlb_errf("run: unexpected argument \"%s\"", argv[optind]);
		return XLB_EXIT_USAGE;
	}
	if (!a->ifname) {
		xlb_errf("run: no interface: give -i IFACE");
		return XLB_EXIT_USAGE;
	}
	if (!a->n_svcs) {
		xlb_errf("run: no service: give --vip ADDR:PORT --backends "
			 "ADDR,...");
		return XLB_EXIT_USAGE;
	}
	for (size_t i = 0; i < a->n_svcs; i++) {
		if (!a->svcs[i].n_backends) {
			xlb_errf("VIP %s has no backends: add --backends "
				 "ADDR[:PORT][@WEIGHT],... after it",
				 a->vip_text[i]);
			return XLB_EXIT_USAGE;
		}
	}
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

/* The SNAT address of every service: --snat, else the interface's. */
static int resolve_snat(struct run_args *a)
{
	for (size_t i = 0; i < a->n_svcs; i++) {
		struct xlb_service_conf *s = &a->svcs[i];
		int f = fam_index(s->family);

		if (!a->have_snat[f]) {
			if (iface_addr(a->ifname, s->family, &a->snat[f])) {
				xlb_errf("interface %s has no IPv%d address "
					 "for VIP %s's backend leg: add one or "
					 "give --snat ADDR",
					 a->ifname, s->family, a->vip_text[i]);
				return XLB_EXIT_RUNTIME;
			}
			a->have_snat[f] = true;
		}
		s->snat = a->snat[f];
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

/* bpf_fib_lookup() forwards only if forwarding is on for the ingress
 * interface. */
static int enable_forwarding(const struct run_args *a)
{
	char path[256];
	bool v4 = false, v6 = false;
	int err = 0;

	for (size_t i = 0; i < a->n_svcs; i++) {
		v4 |= a->svcs[i].family == XLB_FAMILY_V4;
		v6 |= a->svcs[i].family == XLB_FAMILY_V6;
	}
	if (v4) {
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv4/conf/%s/forwarding", a->ifname);
		err = write_sysctl(path, "1");
	}
	if (!err && v6) {
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv6/conf/%s/forwarding", a->ifname);
		err = write_sysctl(path, "1");
	}
	return err;
}

/* Ask the kernel to keep every backend's next hop resolved. */
static void resolve_backends(const struct run_args *a)
{
	char buf[XLB_ENDPOINT_STRLEN];

	for (size_t i = 0; i < a->n_svcs; i++) {
		const struct xlb_service_conf *s = &a->svcs[i];

		for (size_t j = 0; j < s->n_backends; j++) {
			const struct xlb_backend_conf *b = &s->backends[j];
			struct xlb_addr nh;
			int ifindex, err;

			err = xlb_route_nexthop(b->family, &b->addr, &nh,
						&ifindex);
			if (!err)
				err = xlb_neigh_ensure_managed(b->family, &nh,
							       ifindex);
			if (err)
				fprintf(stderr,
					"xlb: warning: backend %s: cannot "
					"resolve its next hop: %s\n",
					xlb_addr_str(&b->addr, b->family, buf,
						     sizeof(buf)),
					strerror(-err));
		}
	}
}

/* Daemon events: the program met an unresolved next hop. */
static int on_daemon_event(void *ctx, void *data, size_t size)
{
	const struct xlb_event *ev = data;
	static struct xlb_addr last;
	static __u64 last_ns;
	__u64 now = xlb_now_ns();

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

static void print_config(const struct run_args *a, bool native, int ifindex)
{
	char buf[XLB_ENDPOINT_STRLEN], snat[XLB_ENDPOINT_STRLEN];
	__u32 bid = 0;

	printf("xlb: attached to %s (ifindex %d, %s XDP); flow table %u "
	       "connections; NAT ports %u-%u\n",
	       a->ifname, ifindex, native ? "native" : "generic",
	       a->load.max_flows, a->load.nat_port_min, a->load.nat_port_max);
	for (size_t i = 0; i < a->n_svcs; i++) {
		const struct xlb_service_conf *s = &a->svcs[i];

		printf("service %s/%s %s snat %s\n",
		       xlb_endpoint_str(&s->vip, s->family, s->port, buf,
					sizeof(buf)),
		       xlb_proto_name(s->proto), xlb_algo_name(s->algo),
		       xlb_addr_str(&s->snat, s->family, snat, sizeof(snat)));
		for (size_t j = 0; j < s->n_backends; j++, bid++) {
			const struct xlb_backend_conf *b = &s->backends[j];

			printf("  backend %u %s weight %u%s\n", bid,
			       xlb_endpoint_str(&b->addr, b->family, b->port,
						buf, sizeof(buf)),
			       b->weight, b->weight ? "" : " (drain)");
		}
	}
}

static int install_services(struct run_args *a, const struct xlb_maps *m)
{
	__u32 next_id = 0;

	for (size_t i = 0; i < a->n_svcs; i++) {
		struct xlb_service_conf *s = &a->svcs[i];
		bool approx = false;
		int err;

		s->first_backend_id = next_id;
		next_id += s->n_backends;
		err = xlb_service_install(m, i, s, &approx);
		if (err) {
			xlb_errf("VIP %s: cannot install the service: %s",
				 a->vip_text[i], strerror(-err));
			return XLB_EXIT_RUNTIME;
		}
		if (approx)
			fprintf(stderr,
				"xlb: warning: VIP %s: weights need more than "
				"%d schedule slots; they are scaled "
				"(approximate)\n",
				a->vip_text[i], XLB_SCHED_MAX_SLOTS);
	}
	return 0;
}

static int serve(const struct run_args *a, const struct xlb_maps *m)
{
	struct ring_buffer *rb;
	__u64 next_expire = xlb_now_ns() + EXPIRE_INTERVAL_NS;

	rb = ring_buffer__new(m->daemon_events, on_daemon_event, NULL, NULL);
	if (!rb) {
		xlb_errf("cannot read the daemon event ring: %s",
			 strerror(errno));
		return XLB_EXIT_RUNTIME;
	}
	while (!stop_requested) {
		int rc = ring_buffer__poll(rb, 200);

		if (rc < 0 && rc != -EINTR) {
			xlb_errf("event ring: %s", strerror(-rc));
			break;
		}
		if (xlb_now_ns() >= next_expire) {
			xlb_conn_expire_all(m, &a->timeouts, xlb_now_ns(),
					    NULL);
			next_expire = xlb_now_ns() + EXPIRE_INTERVAL_NS;
		}
	}
	ring_buffer__free(rb);
	return XLB_EXIT_OK;
}

static void free_args(struct run_args *a)
{
	for (size_t i = 0; i < a->n_svcs; i++)
		free(a->svcs[i].backends);
	free(a);
}

int cmd_run(int argc, char **argv)
{
	struct xlb_load_opts defaults = XLB_LOAD_OPTS_DEFAULT;
	struct xlb_timeouts timeouts = XLB_TIMEOUTS_DEFAULT;
	struct run_args *a = calloc(1, sizeof(*a));
	char pin_dir[512];
	struct xlb *skel = NULL;
	struct xlb_maps m;
	struct stat st;
	bool native = false;
	int ifindex, rc, err;

	if (!a) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	a->load = defaults;
	a->timeouts = timeouts;
	rc = parse_args(argc, argv, a);
	if (rc) {
		free_args(a);
		return rc < 0 ? XLB_EXIT_OK : rc;
	}
	rc = XLB_EXIT_RUNTIME;
	if (geteuid() != 0) {
		xlb_errf("run: must be root (loading XDP programs needs "
			 "CAP_BPF and CAP_NET_ADMIN)");
		goto out;
	}
	ifindex = if_nametoindex(a->ifname);
	if (!ifindex) {
		xlb_errf("interface \"%s\" not found (see ip link)",
			 a->ifname);
		goto out;
	}
	if (resolve_snat(a))
		goto out;
	err = xlb_bpffs_ensure();
	if (err) {
		xlb_errf("cannot mount bpffs at /sys/fs/bpf: %s",
			 strerror(-err));
		goto out;
	}
	xlb_pin_dir(a->ifname, pin_dir, sizeof(pin_dir));
	if (stat(pin_dir, &st) == 0) {
		xlb_errf("an instance already runs on %s (state pinned in %s); "
			 "stop it first, or remove %s if it is stale",
			 a->ifname, pin_dir, pin_dir);
		goto out;
	}
	libbpf_set_print(NULL);
	err = xlb_load(&a->load, &skel, &m);
	if (err) {
		xlb_errf("cannot load the XDP program: %s%s", strerror(-err),
			 err == -EPERM ? " (BPF not permitted here)" : "");
		goto out;
	}
	if (install_services(a, &m))
		goto out;
	err = enable_forwarding(a);
	if (err) {
		xlb_errf("cannot enable forwarding on %s: %s", a->ifname,
			 strerror(-err));
		goto out;
	}
	err = xlb_pin(skel, pin_dir);
	if (err) {
		xlb_errf("cannot pin maps in %s: %s", pin_dir, strerror(-err));
		goto out;
	}
	err = xlb_attach(skel, ifindex, a->mode, &native);
	if (err) {
		xlb_unpin(pin_dir);
		if (err == -EEXIST || err == -EBUSY)
			xlb_errf("%s already has an XDP program attached: "
				 "remove it first (ip link set dev %s xdp off)",
				 a->ifname, a->ifname);
		else
			xlb_errf("cannot attach XDP to %s%s: %s", a->ifname,
				 a->mode == XLB_XDP_NATIVE ? " in native mode" :
							     "",
				 strerror(-err));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	print_config(a, native, ifindex);
	resolve_backends(a);
	rc = serve(a, &m);
	xlb_detach(ifindex, native);
	xlb_unpin(pin_dir);
	printf("xlb: detached from %s\n", a->ifname);
out:
	xlb__destroy(skel);
	free_args(a);
	return rc;
}
