// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb trace [-i IFACE] [-j]: one line per new connection, read from the
 * xlb_trace_events ring.  The program emits records only while a tracer
 * holds the lease (xlb_settings.trace_until_ns), renewed every second, so
 * nobody pays for tracing when nobody traces.  One tracer at a time.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "cli.h"
#include "conntrack.h"
#include "json.h"

#define LEASE_NS (3 * XLB_NS_PER_SEC)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

struct trace_ctx {
	bool json;
	__u64 start_ns;
};

static int on_event(void *arg, void *data, size_t size)
{
	const struct trace_ctx *t = arg;
	const struct xlb_event *ev = data;
	char client[XLB_ENDPOINT_STRLEN], vip[XLB_ENDPOINT_STRLEN],
		backend[XLB_ENDPOINT_STRLEN];
	struct xlb_json j;

	/* records left in the ring from before this tracer started */
	if (size < sizeof(*ev) || ev->type != XLB_EVENT_NEW_FLOW ||
	    ev->ts_ns < t->start_ns)
		return 0;
	xlb_endpoint_str(&ev->client, ev->family, ntohs(ev->client_port),
			 client, sizeof(client));
	xlb_endpoint_str(&ev->vip, ev->family, ntohs(ev->vip_port), vip,
			 sizeof(vip));
	xlb_endpoint_str(&ev->backend, ev->family, ntohs(ev->backend_port),
			 backend, sizeof(backend));
	if (!t->json) {
		printf("%s %s -> %s backend %u %s nat-port %u\n",
		       xlb_proto_name(ev->proto), client, vip, ev->backend_id,
		       backend, ntohs(ev->nat_port));
		return 0;
	}
	xlb_json_init(&j, stdout);
	xlb_json_begin_object(&j);
	xlb_json_kv_string(&j, "event", "new");
	xlb_json_kv_string(&j, "proto", xlb_proto_name(ev->proto));
	xlb_json_kv_string(&j, "client", client);
	xlb_json_kv_string(&j, "vip", vip);
	xlb_json_kv_u64(&j, "backend_id", ev->backend_id);
	xlb_json_kv_string(&j, "backend", backend);
	xlb_json_kv_u64(&j, "nat_port", ntohs(ev->nat_port));
	xlb_json_end_object(&j);
	xlb_json_end(&j);
	return 0;
}

static int renew_lease(const struct xlb_maps *m, __u64 until_ns)
{
	struct xlb_settings s;
	int err = xlb_settings_read(m, &s);

	if (err)
		return err;
	s.trace_until_ns = until_ns;
	return xlb_settings_write(m, &s);
}

int cmd_trace(int argc, char **argv)
{
	struct trace_ctx t = { .start_ns = xlb_now_ns() };
	struct xlb_view_args a;
	struct ring_buffer *rb;
	char name[IFNAMSIZ];
	struct xlb_maps m;
	__u64 renewed = 0;
	int rc, err = 0;

	rc = xlb_view_args_parse(argc, argv, "trace", &a);
	if (rc)
		return rc < 0 ? XLB_EXIT_OK : rc;
	t.json = a.json;
	rc = xlb_open_instance(a.ifname, &m, name);
	if (rc)
		return rc;
	rb = ring_buffer__new(m.trace_events, on_event, &t, NULL);
	if (!rb) {
		xlb_errf("cannot read the trace ring of %s: %s", name,
			 strerror(errno));
		xlb_maps_close(&m);
		return XLB_EXIT_RUNTIME;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_requested) {
		__u64 now = xlb_now_ns();

		if (now - renewed >= XLB_NS_PER_SEC) {
			err = renew_lease(&m, now + LEASE_NS);
			if (err) {
				xlb_errf("cannot renew the trace lease on %s: "
					 "%s (did xlb run stop?)",
					 name, strerror(-err));
				break;
			}
			renewed = now;
		}
		rc = ring_buffer__poll(rb, 200);
		if (rc < 0 && rc != -EINTR) {
			err = rc;
			xlb_errf("trace ring: %s", strerror(-rc));
			break;
		}
	}
	/* drain what arrived before the signal */
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	xlb_maps_close(&m);
	return err ? XLB_EXIT_RUNTIME : XLB_EXIT_OK;
}
