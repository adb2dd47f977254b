// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb run: parse the command line (services with --vip/--backends, or a
 * configuration file with -c, and settings), then hand over to the daemon
 * (daemon.c).  Every bad argument is refused here, before anything is
 * loaded, attached or pinned.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "addr.h"
#include "cli.h"
#include "daemon.h"

#define MAX_BACKENDS_PER_SERVICE 4096
#define TIMEOUT_MAX_S (30 * 24 * 3600)

struct run_args {
	struct xlb_run_opts o;
	char vip_text[XLB_MAX_SERVICES][XLB_SPEC_MAXLEN];
	bool has_backends[XLB_MAX_SERVICES];
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: xlb run -i IFACE --vip ADDR:PORT[/tcp|/udp] "
		"--backends ADDR[:PORT][@WEIGHT],... [--algo rr|wrr|mh|wlc]\n"
		"               [--vip ... --backends ... [--algo ...]]...\n"
		"       xlb run -c FILE [-i IFACE]\n"
		"       xlb run -i IFACE      (no service yet, or adopt the "
		"pinned state)\n"
		"options: [--snat ADDR] [--max-flows N] [--max-half-open N] "
		"[--nat-ports MIN-MAX]\n"
		"         [--xdp-mode auto|native|generic] [--metrics "
		"ADDR:PORT]\n"
		"         [--timeout-syn|-established|-closing|-closed|-udp "
		"DURATION]\n"
		"Each --vip starts a service; the --backends and --algo after "
		"it are that service's.\n"
		"SIGTERM/SIGINT end the daemon and leave the data path "
		"attached and pinned;\n"
		"xlb stop -i IFACE detaches and removes it.\n");
}

static int add_backends(struct run_args *a, const char *spec)
{
	struct xlb_config *c = &a->o.cli;
	struct xlb_config_service *svc;
	struct xlb_backend_arg *args;
	size_t i = c->n_svcs - 1, n;
	char err[256], notes[1024];

	if (!c->n_svcs) {
		xlb_errf("--backends \"%s\" must follow the --vip it belongs "
			 "to",
			 spec);
		return XLB_EXIT_USAGE;
	}
	svc = &c->svcs[i];
	if (a->has_backends[i]) {
		xlb_errf("VIP %s has two --backends lists: give one, "
			 "comma-separated",
			 a->vip_text[i]);
		return XLB_EXIT_USAGE;
	}
	args = calloc(MAX_BACKENDS_PER_SERVICE, sizeof(*args));
	if (!args) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	if (xlb_backends_parse(spec, svc->vip.port, args,
			       MAX_BACKENDS_PER_SERVICE, &n, err,
			       sizeof(err))) {
		free(args);
		xlb_errf("%s", err);
		return XLB_EXIT_USAGE;
	}
	for (size_t k = 0; k < n; k++) {
		if (args[k].ep.family != svc->vip.family) {
			free(args);
			xlb_errf("backends of VIP %s must be IPv%d like the "
				 "VIP",
				 a->vip_text[i], svc->vip.family);
			return XLB_EXIT_USAGE;
		}
		if (!xlb_config_backend_add(svc, &args[k].ep,
					    args[k].weight)) {
			free(args);
			xlb_errf("out of memory");
			return XLB_EXIT_RUNTIME;
		}
	}
	free(args);
	if (xlb_backends_notes(spec, svc->vip.port, notes, sizeof(notes)))
		xlb_warn_lines(notes);
	a->has_backends[i] = true;
	return 0;
}

static int add_vip(struct run_args *a, const char *spec)
{
	struct xlb_config *c = &a->o.cli;
	struct xlb_config_service *o;
	struct xlb_endpoint ep;
	char err[256];
	__u8 proto;

	if (xlb_vip_parse(spec, &ep, &proto, err, sizeof(err))) {
		xlb_errf("%s", err);
		return XLB_EXIT_USAGE;
	}
	if (c->n_svcs == XLB_MAX_SERVICES) {
		xlb_errf("too many services: at most %d", XLB_MAX_SERVICES);
		return XLB_EXIT_USAGE;
	}
	o = xlb_config_service_find(c, &ep, proto);
	if (o) {
		xlb_errf("VIP %s is given twice (first as \"%s\")", spec,
			 a->vip_text[o - c->svcs]);
		return XLB_EXIT_USAGE;
	}
	if (!xlb_config_service_add(c, &ep, proto)) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	snprintf(a->vip_text[c->n_svcs - 1], XLB_SPEC_MAXLEN, "%s", spec);
	a->o.cli_services = true;
	/* checked in full when applied (xlb_txn_apply's warnings) */
	snprintf(c->source, sizeof(c->source), "the command line");
	return 0;
}

/* A duration as in the file (6h, 90, 1500ms), 1 s to 30 days. */
static int timeout_arg(const char *opt, const char *s, __u64 *ns)
{
	__u64 ms;

	if (xlb_duration_parse(s, TIMEOUT_MAX_S * 1000ull, &ms) || ms < 1000) {
		xlb_errf("--%s \"%s\": give a duration from 1s to 30d (e.g. "
			 "90, 500ms... 6h; a bare number is seconds)",
			 opt, s);
		return XLB_EXIT_USAGE;
	}
	*ns = ms * (XLB_NS_PER_SEC / 1000);
	return 0;
}

static int parse_args(int argc, char **argv, struct run_args *a)
{
	enum { OPT_SNAT = 256, OPT_MAX_FLOWS, OPT_MAX_HALF_OPEN, OPT_NAT_PORTS,
	       OPT_XDP_MODE, OPT_METRICS, OPT_T_SYN, OPT_T_EST, OPT_T_CLOSING,
	       OPT_T_CLOSED, OPT_T_UDP };
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "vip", required_argument, NULL, 'v' },
		{ "backends", required_argument, NULL, 'b' },
		{ "algo", required_argument, NULL, 'a' },
		{ "snat", required_argument, NULL, OPT_SNAT },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "max-half-open", required_argument, NULL, OPT_MAX_HALF_OPEN },
		{ "nat-ports", required_argument, NULL, OPT_NAT_PORTS },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "timeout-syn", required_argument, NULL, OPT_T_SYN },
		{ "timeout-established", required_argument, NULL, OPT_T_EST },
		{ "timeout-closing", required_argument, NULL, OPT_T_CLOSING },
		{ "timeout-closed", required_argument, NULL, OPT_T_CLOSED },
		{ "timeout-udp", required_argument, NULL, OPT_T_UDP },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct xlb_config *c = &a->o.cli;
	char err[256];
	__u64 v;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+i:c:v:b:a:h", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'i':
			if (a->o.ifname) {
				xlb_errf("-i is given twice (\"%s\", \"%s\"): "
					 "one interface per instance",
					 a->o.ifname, optarg);
				return XLB_EXIT_USAGE;
			}
			if (strlen(optarg) >= IFNAMSIZ) {
				xlb_errf("interface name \"%s\" is too long",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			a->o.ifname = optarg;
			break;
		case 'c':
			if (a->o.conf_path) {
				xlb_errf("-c is given twice");
				return XLB_EXIT_USAGE;
			}
			a->o.conf_path = optarg;
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
			if (!c->n_svcs) {
				xlb_errf("--algo %s must follow the --vip it "
					 "belongs to",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			if (xlb_algo_parse(optarg,
					   &c->svcs[c->n_svcs - 1].algo)) {
				xlb_errf("unknown --algo \"%s\": use rr, wrr, mh or wlc",
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
			c->snat[xlb_family_index(fam)] = addr;
			c->have_snat[xlb_family_index(fam)] = true;
			a->o.given |= fam == XLB_FAMILY_V6 ? XLB_OV_SNAT6 :
							     XLB_OV_SNAT4;
			break;
		}
		case OPT_MAX_FLOWS:
		case OPT_MAX_HALF_OPEN: {
			unsigned int min = ch == OPT_MAX_FLOWS ?
						   1 :
						   XLB_MIN_HALF_OPEN;

			if (xlb_u64_parse(optarg, min, 64u << 20, &v)) {
				xlb_errf("--%s \"%s\": give a number from %u to "
					 "%u",
					 ch == OPT_MAX_FLOWS ? "max-flows" :
							       "max-half-open",
					 optarg, min, 64u << 20);
				return XLB_EXIT_USAGE;
			}
			if (ch == OPT_MAX_FLOWS) {
				c->max_flows = v;
				a->o.given |= XLB_OV_MAX_FLOWS;
			} else {
				c->max_half_open = v;
				a->o.given |= XLB_OV_MAX_HALF_OPEN;
			}
			break;
		}
		case OPT_NAT_PORTS:
			if (xlb_port_range_parse(optarg, &c->nat_port_min,
						 &c->nat_port_max, err,
						 sizeof(err))) {
				xlb_errf("--nat-ports: %s", err);
				return XLB_EXIT_USAGE;
			}
			a->o.given |= XLB_OV_NAT_PORTS;
			break;
		case OPT_XDP_MODE:
			if (xlb_xdp_mode_parse(optarg, &c->xdp_mode)) {
				xlb_errf("unknown --xdp-mode \"%s\": use auto, "
					 "native or generic",
					 optarg);
				return XLB_EXIT_USAGE;
			}
			a->o.given |= XLB_OV_XDP_MODE;
			break;
		case OPT_METRICS:
			if (strcmp(optarg, "off") &&
			    xlb_listen_addr_check(optarg, err, sizeof(err))) {
				xlb_errf("--%s", err);
				return XLB_EXIT_USAGE;
			}
			snprintf(c->metrics, sizeof(c->metrics), "%s",
				 strcmp(optarg, "off") ? optarg : "");
			a->o.given |= XLB_OV_METRICS;
			break;
		case OPT_T_SYN:
			rc = timeout_arg("timeout-syn", optarg,
					 &c->timeouts.syn_ns);
			if (rc)
				return rc;
			a->o.given |= XLB_OV_TIMEOUT_SYN;
			break;
		case OPT_T_EST:
			rc = timeout_arg("timeout-established", optarg,
					 &c->timeouts.established_ns);
			if (rc)
				return rc;
			a->o.given |= XLB_OV_TIMEOUT_ESTABLISHED;
			break;
		case OPT_T_CLOSING:
			rc = timeout_arg("timeout-closing", optarg,
					 &c->timeouts.closing_ns);
			if (rc)
				return rc;
			a->o.given |= XLB_OV_TIMEOUT_CLOSING;
			break;
		case OPT_T_CLOSED:
			rc = timeout_arg("timeout-closed", optarg,
					 &c->timeouts.closed_ns);
			if (rc)
				return rc;
			a->o.given |= XLB_OV_TIMEOUT_CLOSED;
			break;
		case OPT_T_UDP:
			rc = timeout_arg("timeout-udp", optarg,
					 &c->timeouts.udp_ns);
			if (rc)
				return rc;
			a->o.given |= XLB_OV_TIMEOUT_UDP;
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
	if (a->o.conf_path && a->o.cli_services) {
		xlb_errf("run: give services either in -c FILE or with --vip, "
			 "not both");
		return XLB_EXIT_USAGE;
	}
	if (!a->o.ifname && !a->o.conf_path) {
		xlb_errf("run: no interface: give -i IFACE");
		return XLB_EXIT_USAGE;
	}
	for (size_t i = 0; i < c->n_svcs; i++) {
		if (!a->has_backends[i]) {
			xlb_errf("VIP %s has no backends: add --backends "
				 "ADDR[:PORT][@WEIGHT],... after it",
				 a->vip_text[i]);
			return XLB_EXIT_USAGE;
		}
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_args *a = calloc(1, sizeof(*a));
	int rc;

	if (!a) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	xlb_config_init(&a->o.cli);
	rc = parse_args(argc, argv, a);
	if (!rc)
		rc = xlb_daemon_main(&a->o);
	else if (rc < 0)
		rc = XLB_EXIT_OK;
	xlb_config_free(&a->o.cli);
	free(a);
	return rc;
}
