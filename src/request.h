/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The control commands (xlb service|backend|show|save|reload|stop) as
 * parsed from their argv.  The client parses them to refuse a bad command
 * line without bothering the daemon, then sends the same argv; the daemon
 * parses them again and executes them.  Nothing here prints.
 */
#ifndef XLB_REQUEST_H
#define XLB_REQUEST_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

enum xlb_req_op {
	XLB_REQ_SERVICE_ADD,
	XLB_REQ_SERVICE_SET,
	XLB_REQ_SERVICE_DEL,
	XLB_REQ_SERVICE_LIST,
	XLB_REQ_BACKEND_ADD,
	XLB_REQ_BACKEND_SET,
	XLB_REQ_BACKEND_DEL,
	XLB_REQ_BACKEND_DRAIN,
	XLB_REQ_BACKEND_UNDRAIN,
	XLB_REQ_SHOW,
	XLB_REQ_SAVE,
	XLB_REQ_RELOAD,
	XLB_REQ_STOP,
};

struct xlb_request {
	enum xlb_req_op op;
	const char *ifname; /* -i, NULL if not given */
	bool json;          /* -j */
	struct xlb_endpoint vip;
	__u8 proto;
	struct xlb_endpoint backend; /* port defaults to the VIP's */
	const char *backend_spec;    /* as written (in argv), NULL if none */
	bool has_algo, has_health, has_slow_start, has_weight, drain;
	enum xlb_algo algo;
	bool health_on;
	struct xlb_health_conf check;
	__u32 slow_start_ms;
	__u16 weight;
};

/*
 * Parse argv (argv[0] is the object: "service", "backend", "show", "save",
 * "reload" or "stop").  argv may be permuted.  Returns 0, 1 when help was
 * asked (the usage is in err), or -EINVAL with one message in err.
 */
int xlb_request_parse(int argc, char **argv, struct xlb_request *r,
		      char *err, size_t errlen);

/* Usage of an object's commands. */
void xlb_request_usage(const char *object, FILE *f);

#endif /* XLB_REQUEST_H */
