// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb trace [-i IFACE] [-j]: one line per new connection, read from the
 * xlb_trace_events ring.  The program emits records only while a tracer
 * holds the lease (xlb_settings.trace_until_ns), renewed every second, so
 * nobody pays for tracing when nobody traces.  One tracer at a time.
 * Health transitions come from the daemon, which appends them to
 * XLB_RUN_DIR/IFACE.events; the tracer follows that file too.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include <stdlib.h>
#include <sys/stat.h>

#include "addr.h"
#include "cli.h"
#include "conntrack.h"
#include "ctl.h"
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
	char service[XLB_ENDPOINT_STRLEN + 8];
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
	/* as show, stats and the metrics name it, to join on */
	snprintf(service, sizeof(service), "%s/%s", vip,
		 xlb_proto_name(ev->proto));
	xlb_json_kv_string(&j, "service", service);
	xlb_json_kv_u64(&j, "backend_id", ev->backend_id);
	xlb_json_kv_string(&j, "backend", backend);
	xlb_json_kv_u64(&j, "nat_port", ntohs(ev->nat_port));
	xlb_json_end_object(&j);
	xlb_json_end(&j);
	return 0;
}

/* One line of the daemon's events file (see daemon.c): ts, backend id,
 * backend, service, up|down, count, reason. */
static void print_health_line(const struct trace_ctx *t, char *line)
{
	char *f[7];
	struct xlb_json j;
	int n = 0;

	for (char *p = line; n < 7; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (!p) {
			n++;
			break;
		}
		*p++ = 0;
	}
	if (n < 7 || strtoull(f[0], NULL, 10) < t->start_ns)
		return;
	if (!t->json) {
		printf("health backend %s %s of %s %s after %s %s check%s%s%s\n",
		       f[1], f[2], f[3], f[4], f[5],
		       strcmp(f[4], "up") ? "failed" : "passed",
		       strcmp(f[5], "1") ? "s" : "", f[6][0] ? ": " : "", f[6]);
		return;
	}
	xlb_json_init(&j, stdout);
	xlb_json_begin_object(&j);
	xlb_json_kv_string(&j, "event", "health");
	xlb_json_kv_u64(&j, "backend_id", strtoull(f[1], NULL, 10));
	xlb_json_kv_string(&j, "backend", f[2]);
	xlb_json_kv_string(&j, "vip", f[3]);
	xlb_json_kv_string(&j, "state", f[4]);
	xlb_json_kv_u64(&j, "checks", strtoull(f[5], NULL, 10));
	xlb_json_kv_string(&j, "reason", f[6]);
	xlb_json_end_object(&j);
	xlb_json_end(&j);
}

/* Print the complete lines appended to the events file since *offset. */
static void follow_events(const struct trace_ctx *t, const char *path,
			  long *offset)
{
	char line[1024];
	struct stat st;
	FILE *f;

	if (stat(path, &st))
		return;
	if (st.st_size < *offset)
		*offset = 0; /* truncated by the daemon */
	if (st.st_size == *offset)
		return;
	f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, *offset, SEEK_SET);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		if (!len || line[len - 1] != '\n')
			break; /* a partial line: read it next time */
		line[len - 1] = 0;
		*offset = ftell(f);
		print_health_line(t, line);
	}
	fclose(f);
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

/* One tracer per instance: the trace ring hands each event to one
 * reader, so a second tracer would see only some of them.  The lock is
 * /run/xlb/IFACE.trace, held for the tracer's life (flock).  Returns the
 * lock's fd, -1 if /run/xlb is not there (no daemon: nothing to share),
 * or -2 after printing the error. */
static int trace_lock(const char *name)
{
	char path[512];
	int fd;

	if (xlb_run_path(name, ".trace", path, sizeof(path)))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	close(fd);
	if (errno == EWOULDBLOCK) {
		xlb_errf("another xlb trace is running on %s: one tracer at a "
			 "time (each event reaches only one of them); stop it "
			 "first",
			 name);
		return -2;
	}
	return -1;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_ctx t = { .start_ns = xlb_now_ns() };
	struct xlb_view_args a;
	struct ring_buffer *rb;
	char name[IFNAMSIZ];
	char events[512] = "";
	struct xlb_maps m;
	__u64 renewed = 0;
	long events_offset = 0;
	int rc, err = 0, lock_fd;

	rc = xlb_view_args_parse(argc, argv, "trace", &a);
	if (rc)
		return rc < 0 ? XLB_EXIT_OK : rc;
	t.json = a.json;
	rc = xlb_open_instance(a.ifname, &m, name);
	if (rc)
		return rc;
	lock_fd = trace_lock(name);
	if (lock_fd == -2) {
		xlb_maps_close(&m);
		return XLB_EXIT_RUNTIME;
	}
	rb = ring_buffer__new(m.trace_events, on_event, &t, NULL);
	if (!rb) {
		xlb_errf("cannot read the trace ring of %s: %s", name,
			 strerror(errno));
		xlb_maps_close(&m);
		if (lock_fd >= 0)
			close(lock_fd);
		return XLB_EXIT_RUNTIME;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	xlb_run_path(name, ".events", events, sizeof(events));
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
		follow_events(&t, events, &events_offset);
	}
	/* drain what arrived before the signal */
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	xlb_maps_close(&m);
	if (lock_fd >= 0)
		close(lock_fd);
	return err ? XLB_EXIT_RUNTIME : XLB_EXIT_OK;
}
