// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Control command lines (see request.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "errmsg.h"

#define HEALTH_WORDS 32

static const struct {
	const char *object, *command;
	enum xlb_req_op op;
	int positional; /* 0: none, 1: VIP, 2: VIP ADDR */
} ops[] = {
	{ "service", "add", XLB_REQ_SERVICE_ADD, 1 },
	{ "service", "set", XLB_REQ_SERVICE_SET, 1 },
	{ "service", "del", XLB_REQ_SERVICE_DEL, 1 },
	{ "service", "list", XLB_REQ_SERVICE_LIST, 0 },
	{ "backend", "add", XLB_REQ_BACKEND_ADD, 2 },
	{ "backend", "set", XLB_REQ_BACKEND_SET, 2 },
	{ "backend", "del", XLB_REQ_BACKEND_DEL, 2 },
	{ "backend", "drain", XLB_REQ_BACKEND_DRAIN, 2 },
	{ "backend", "undrain", XLB_REQ_BACKEND_UNDRAIN, 2 },
	{ "show", NULL, XLB_REQ_SHOW, 0 },
	{ "save", NULL, XLB_REQ_SAVE, 0 },
	{ "reload", NULL, XLB_REQ_RELOAD, 0 },
	{ "stop", NULL, XLB_REQ_STOP, 0 },
};

void xlb_request_usage(const char *object, FILE *f)
{
	if (!strcmp(object, "service"))
		fputs("usage: xlb service add VIP:PORT[/tcp|/udp] [--algo rr|wrr|mh|wlc] "
		      "[--health SPEC] [--slow-start DURATION] [-i IFACE]\n"
		      "       xlb service set VIP:PORT[/PROTO] [--algo ...] "
		      "[--health SPEC|none] [--slow-start DURATION]\n"
		      "       xlb service del VIP:PORT[/PROTO]\n"
		      "       xlb service list [-j]\n"
		      "SPEC: \"tcp|http [PATH] [port N] [status N|any] "
		      "[host NAME] [interval D] [timeout D] [rise N] [fall N] "
		      "[jitter PERCENT]\"\n",
		      f);
	else if (!strcmp(object, "backend"))
		fputs("usage: xlb backend add VIP:PORT[/PROTO] ADDR[:PORT] "
		      "[--weight N] [--drain] [-i IFACE]\n"
		      "       xlb backend set VIP:PORT[/PROTO] ADDR[:PORT] "
		      "--weight N\n"
		      "       xlb backend del|drain|undrain VIP:PORT[/PROTO] "
		      "ADDR[:PORT]\n",
		      f);
	else if (!strcmp(object, "show"))
		fputs("usage: xlb show [-i IFACE] [-j]\n", f);
	else
		fprintf(f, "usage: xlb %s [-i IFACE]\n", object);
}

#define fail(err, errlen, ...) xlb_errmsg(err, errlen, -EINVAL, __VA_ARGS__)

static int health_arg(struct xlb_request *r, const char *spec, char *err,
		      size_t errlen)
{
	char *copy = strdup(spec), *w[HEALTH_WORDS], *save = NULL, *t;
	char why[256];
	int n = 0, rc;

	if (!copy)
		return fail(err, errlen, "out of memory");
	for (t = strtok_r(copy, " \t", &save); t && n < HEALTH_WORDS;
	     t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (t) {
		free(copy);
		return fail(err, errlen, "--health \"%s\": at most %d words",
			    spec, HEALTH_WORDS);
	}
	rc = xlb_health_spec_parse(w, n, &r->health_on, &r->check, why,
				   sizeof(why));
	free(copy);
	if (rc)
		return fail(err, errlen, "--health \"%s\": %s", spec, why);
	r->has_health = true;
	return 0;
}

int xlb_request_parse(int argc, char **argv, struct xlb_request *r,
		      char *err, size_t errlen)
{
	enum { OPT_ALGO = 256, OPT_HEALTH, OPT_SLOW_START, OPT_WEIGHT,
	       OPT_DRAIN };
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "algo", required_argument, NULL, OPT_ALGO },
		{ "health", required_argument, NULL, OPT_HEALTH },
		{ "slow-start", required_argument, NULL, OPT_SLOW_START },
		{ "weight", required_argument, NULL, OPT_WEIGHT },
		{ "drain", no_argument, NULL, OPT_DRAIN },
		{},
	};
	const char *object = argv[0], *command = argc > 1 ? argv[1] : NULL;
	char why[256];
	int sub, c, npos = -1, i, first, idx;
	unsigned int seen = 0, bit;
	char **pos;
	__u64 v;

	memset(r, 0, sizeof(*r));
	xlb_health_conf_init(&r->check);
	for (i = 0; i < (int)(sizeof(ops) / sizeof(ops[0])); i++) {
		if (strcmp(ops[i].object, object))
			continue;
		if (!ops[i].command) {
			npos = ops[i].positional;
			r->op = ops[i].op;
			break;
		}
		if (command && !strcmp(ops[i].command, command)) {
			npos = ops[i].positional;
			r->op = ops[i].op;
			break;
		}
	}
	if (npos < 0) {
		if (command && (!strcmp(command, "-h") ||
				!strcmp(command, "--help") ||
				!strcmp(command, "help")))
			return 1;
		if (!command || command[0] == '-')
			return fail(err, errlen,
				    "%s: give a command (see xlb %s -h)",
				    object, object);
		return fail(err, errlen, "%s: unknown command \"%s\" (see xlb %s -h)",
			    object, command, object);
	}
	/* getopt sees argv[sub] as the program name */
	sub = ops[i].command ? 1 : 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - sub, argv + sub, "i:jh", opts, &idx)) !=
	       -1) {
		char o[64];
		bool service_opt = r->op == XLB_REQ_SERVICE_ADD ||
				   r->op == XLB_REQ_SERVICE_SET;

		/* the option as written, without its value */
		if (c >= OPT_ALGO)
			snprintf(o, sizeof(o), "--%s", opts[idx].name);
		else if (c == 'j')
			snprintf(o, sizeof(o), "-j");
		else
			snprintf(o, sizeof(o), "%s", argv[sub + optind - 1]);
		/* twice is a typo or a script's mistake: which one was
		 * meant?  (the configuration file refuses it too) */
		bit = c >= OPT_ALGO ? 1u << (c - OPT_ALGO + 2) :
		      c == 'i'	    ? 1u :
		      c == 'j'	    ? 2u :
					  0;
		if (seen & bit)
			return fail(err, errlen,
				    "%s%s%s: option %s given twice: give it "
				    "once",
				    object, sub ? " " : "", sub ? command : "",
				    c == 'i' ? "-i/--interface" : o);
		seen |= bit;
		switch (c) {
		case 'i':
			r->ifname = optarg;
			break;
		case 'j':
			if (r->op != XLB_REQ_SHOW &&
			    r->op != XLB_REQ_SERVICE_LIST)
				goto unknown;
			r->json = true;
			break;
		case 'h':
			return 1;
		case OPT_ALGO:
			if (!service_opt)
				goto unknown;
			if (xlb_algo_parse(optarg, &r->algo))
				return fail(err, errlen,
					    "unknown --algo \"%s\": use rr, "
					    "wrr, mh or wlc",
					    optarg);
			r->has_algo = true;
			break;
		case OPT_HEALTH:
			if (!service_opt)
				goto unknown;
			if (health_arg(r, optarg, err, errlen))
				return -EINVAL;
			break;
		case OPT_SLOW_START:
			if (!service_opt)
				goto unknown;
			if (xlb_duration_parse(optarg, 3600 * 1000, &v))
				return fail(err, errlen,
					    "--slow-start \"%s\": give a "
					    "duration up to 1h, e.g. 30s (0 = "
					    "off)",
					    optarg);
			r->slow_start_ms = v;
			r->has_slow_start = true;
			break;
		case OPT_WEIGHT:
			if (r->op != XLB_REQ_BACKEND_ADD &&
			    r->op != XLB_REQ_BACKEND_SET)
				goto unknown;
			if (xlb_u64_parse(optarg, 0, XLB_BACKEND_WEIGHT_MAX, &v))
				return fail(err, errlen,
					    "--weight \"%s\": give a number "
					    "from 0 to %d",
					    optarg, XLB_BACKEND_WEIGHT_MAX);
			r->weight = v;
			r->has_weight = true;
			break;
		case OPT_DRAIN:
			if (r->op != XLB_REQ_BACKEND_ADD)
				goto unknown;
			r->drain = true;
			break;
		default:
		unknown:
			return fail(err, errlen,
				    "%s%s%s: unknown or incomplete option \"%s\" "
				    "(see xlb %s -h)",
				    object, sub ? " " : "", sub ? command : "",
				    o, object);
		}
	}
	first = sub + optind;
	pos = argv + first;
	if (argc - first < npos)
		return fail(err, errlen, "%s%s%s: missing %s (see xlb %s -h)",
			    object, sub ? " " : "", sub ? command : "",
			    argc - first == 0 ? "VIP:PORT[/PROTO]" :
						"backend ADDR[:PORT]",
			    object);
	if (argc - first > npos)
		return fail(err, errlen, "%s%s%s: unexpected argument \"%s\"",
			    object, sub ? " " : "", sub ? command : "",
			    pos[npos]);
	if (npos >= 1 && xlb_vip_parse(pos[0], &r->vip, &r->proto, why,
				       sizeof(why)))
		return fail(err, errlen, "%s", why);
	if (npos >= 2) {
		struct xlb_backend_arg b;
		size_t n;

		if (strpbrk(pos[1], ",@"))
			return fail(err, errlen,
				    "backend \"%s\": give one ADDR[:PORT] (the "
				    "weight is --weight N)",
				    pos[1]);
		if (xlb_backends_parse(pos[1], r->vip.port, &b, 1, &n, why,
				       sizeof(why)))
			return fail(err, errlen, "%s", why);
		if (b.ep.family != r->vip.family)
			return fail(err, errlen,
				    "backend %s is IPv%d but VIP %s is IPv%d",
				    pos[1], b.ep.family, pos[0],
				    r->vip.family);
		r->backend = b.ep;
		r->backend_spec = pos[1];
	}
	if (r->op == XLB_REQ_SERVICE_SET && !r->has_algo && !r->has_health &&
	    !r->has_slow_start)
		return fail(err, errlen,
			    "service set: nothing to change: give --algo, "
			    "--health or --slow-start");
	if (r->op == XLB_REQ_BACKEND_SET && !r->has_weight)
		return fail(err, errlen, "backend set: give --weight N");
	if (r->op == XLB_REQ_BACKEND_ADD && !r->has_weight)
		r->weight = XLB_BACKEND_WEIGHT_DEFAULT;
	return 0;
}
