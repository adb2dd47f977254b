// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb service|backend|show|save|reload|stop: the command line is checked
 * here, then sent to the daemon of the instance over its control socket
 * (ctl.h), which applies it and answers with what to print.  Without a
 * daemon (killed, or between a stop and a start) the data path still runs
 * from its pinned state: show and save read it from the maps, stop
 * removes it; changes need a daemon.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "ctl.h"
#include "pins.h"
#include "request.h"
#include "show.h"
#include "txn.h"

#define CALL_TIMEOUT_MS 30000

/* Without a daemon: the configuration the maps hold (pinned, or found
 * through the program attached to the interface). */
static int read_pinned(const char *name, struct xlb_config *c)
{
	char ifname[IFNAMSIZ];
	struct xlb_maps m;
	int rc, err;

	rc = xlb_open_instance(name, &m, ifname);
	if (rc)
		return rc;
	err = xlb_txn_read(&m, c);
	xlb_maps_close(&m);
	if (err) {
		xlb_errf("cannot read the maps of %s: %s", name,
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", name);
	return 0;
}

static int show_pinned(const char *name, const struct xlb_request *r)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct xlb_show s = { .ifname = name };
	struct xlb_config c;
	int rc = read_pinned(name, &c), ifindex;

	if (rc)
		return rc;
	ifindex = if_nametoindex(name);
	if (ifindex && !bpf_xdp_query(ifindex, 0, &q))
		s.xdp_mode = q.attach_mode == XDP_ATTACHED_DRV ? "native" :
			     q.attach_mode == XDP_ATTACHED_SKB ? "generic" :
								 NULL;
	s.c = &c;
	s.now_ns = xlb_now_ns();
	switch (r->op) {
	case XLB_REQ_SAVE:
		printf("# read from the maps of %s (no daemon): health checks "
		       "and settings are not included\n",
		       name);
		rc = xlb_config_write(&c, stdout);
		break;
	case XLB_REQ_SERVICE_LIST:
		if (r->json)
			rc = xlb_show_services_json(&s, stdout);
		else
			xlb_show_services_text(&s, stdout);
		break;
	default:
		if (r->json)
			rc = xlb_show_json(&s, stdout);
		else
			xlb_show_text(&s, stdout);
		break;
	}
	if (rc)
		rc = XLB_EXIT_RUNTIME;
	xlb_config_free(&c);
	return rc;
}

/* Without a daemon: detach and remove the pinned state. */
static int stop_pinned(const char *name)
{
	char dir[512], path[512];
	pid_t holder;
	int lock_fd, err;

	xlb_run_path(name, ".lock", path, sizeof(path));
	err = xlb_lock_take(path, &lock_fd, &holder);
	if (err == -EBUSY) {
		xlb_errf("xlb run (pid %d) holds %s but does not answer on its "
			 "control socket: stop it first (kill %d)",
			 (int)holder, name, (int)holder);
		return XLB_EXIT_RUNTIME;
	}
	if (err) {
		xlb_errf("cannot take the lock %s: %s", path, strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	xlb_pin_dir(name, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		xlb_errf("no xlb instance on %s (no daemon, nothing pinned in "
			 "%s)",
			 name, dir);
		unlink(path);
		close(lock_fd);
		return XLB_EXIT_RUNTIME;
	}
	err = xlb_pins_remove(dir);
	xlb_run_path(name, ".state", path, sizeof(path));
	unlink(path);
	xlb_run_path(name, ".events", path, sizeof(path));
	unlink(path);
	xlb_run_path(name, ".trace", path, sizeof(path));
	unlink(path);
	xlb_run_path(name, ".sock", path, sizeof(path));
	unlink(path);
	xlb_run_path(name, ".lock", path, sizeof(path));
	unlink(path);
	close(lock_fd);
	if (err) {
		xlb_errf("stop: cannot remove everything pinned in %s: %s", dir,
			 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	printf("stopped xlb on %s: detached, unpinned (no daemon was "
	       "running)\n",
	       name);
	return XLB_EXIT_OK;
}

int cmd_ctl(int argc, char **argv)
{
	char why[512], name[IFNAMSIZ], sock[512];
	char **copy, *out = NULL, *err = NULL;
	struct xlb_request r;
	int rc, code = XLB_EXIT_RUNTIME;

	/* the parser permutes argv: the daemon gets the original */
	copy = calloc(argc + 1, sizeof(*copy));
	if (!copy) {
		xlb_errf("out of memory");
		return XLB_EXIT_RUNTIME;
	}
	memcpy(copy, argv, argc * sizeof(*copy));
	rc = xlb_request_parse(argc, copy, &r, why, sizeof(why));
	free(copy);
	if (rc > 0) {
		xlb_request_usage(argv[0], stdout);
		return XLB_EXIT_OK;
	}
	if (rc) {
		xlb_errf("%s", why);
		return XLB_EXIT_USAGE;
	}
	/* a bare IPv6 backend that looks like ADDR:PORT: say how it is read */
	if (r.backend_spec && xlb_backends_notes(r.backend_spec, r.vip.port,
						 why, sizeof(why)))
		xlb_warn_lines(why);
	if (geteuid() != 0) {
		xlb_errf("%s: must be root (the control socket and the pinned "
			 "maps are root-only)",
			 argv[0]);
		return XLB_EXIT_RUNTIME;
	}
	rc = xlb_instance_pick(r.ifname, name);
	if (rc)
		return rc;
	xlb_run_path(name, ".sock", sock, sizeof(sock));
	rc = xlb_ctl_call(sock, argc, argv, CALL_TIMEOUT_MS, &code, &out,
			  &err);
	if (!rc) {
		fputs(out, stdout);
		fflush(stdout);
		fputs(err, stderr);
		free(out);
		free(err);
		return code;
	}
	if (rc != -ENOENT && rc != -ECONNREFUSED) {
		xlb_errf("cannot talk to xlb run on %s (%s): %s", name, sock,
			 strerror(-rc));
		return XLB_EXIT_RUNTIME;
	}
	switch (r.op) {
	case XLB_REQ_SHOW:
	case XLB_REQ_SERVICE_LIST:
	case XLB_REQ_SAVE:
		return show_pinned(name, &r);
	case XLB_REQ_STOP:
		return stop_pinned(name);
	default:
		xlb_errf("no xlb run daemon on %s (nothing listens on %s): "
			 "start one with xlb run -i %s; the data path keeps "
			 "running from its pinned state meanwhile",
			 name, sock, name);
		return XLB_EXIT_RUNTIME;
	}
}
