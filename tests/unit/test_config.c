// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Configuration file parser and writer (src/config.c) and the control
 * command lines (src/request.c): good files and what they give, bad files
 * and their exact "FILE:LINE: reason" messages, save -> parse round trips,
 * durations, health specs.  Plain C, no BPF, no root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "request.h"
#include "xtest.h"

#define ERRLEN 512

/* ------------------------------------------------------------------ */
/* Good files                                                          */
/* ------------------------------------------------------------------ */

static const char *full_text =
	"# a full configuration\n"
	"interface eth0\n"
	"snat 198.51.100.10\n"
	"snat 2001:db8::10   # the IPv6 one\n"
	"max-flows 1000\n"
	"max-half-open 3000\n"
	"nat-ports 20000-29999\n"
	"xdp-mode generic\n"
	"timeout-syn 5s\n"
	"timeout-established 2h\n"
	"timeout-closing 90\n"
	"timeout-closed 1500ms\n"
	"timeout-udp 1m\n"
	"metrics 127.0.0.1:9100\n"
	"\n"
	"service 198.51.100.10:8000/tcp algo wrr slow-start 10s\n"
	"\thealth http /healthz status 204 interval 500ms timeout 200ms rise 3 "
	"fall 4\n"
	"\tbackend 198.51.100.11:8000 weight 5\n"
	"\tbackend 198.51.100.12 weight 1 drain\n"
	"\tbackend 198.51.100.13:8080\n"
	"service 198.51.100.10:53/udp algo wlc\n"
	"  backend 198.51.100.11 weight 0\n"
	"service [2001:db8::10]:80 algo mh\n"
	"  health tcp port 8081 interval 1s\n"
	"  backend [2001:db8::11]:80\n"
	"  backend 2001:db8::12\n";

static bool addr_is(const struct xlb_addr *a, __u8 fam, const char *s)
{
	struct xlb_addr b = {};

	inet_pton(fam == XLB_FAMILY_V6 ? AF_INET6 : AF_INET, s, b.bytes);
	return !memcmp(a, &b, sizeof(b));
}

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			xtest_fail(name, "line %d: %s", __LINE__, #cond);  \
			goto out;                                          \
		}                                                          \
	} while (0)

static void test_full_file(void)
{
	const char *name = "parse_full_file";
	struct xlb_config c;
	const struct xlb_config_service *s;
	char err[ERRLEN];

	if (xlb_config_parse("x.conf", full_text, &c, err, sizeof(err))) {
		xtest_fail(name, "%s", err);
		return;
	}
	CHECK(!strcmp(c.ifname, "eth0") && c.lines.interface == 2);
	CHECK(c.have_snat[0] && addr_is(&c.snat[0], 4, "198.51.100.10"));
	CHECK(c.have_snat[1] && addr_is(&c.snat[1], 6, "2001:db8::10"));
	CHECK(c.max_flows == 1000 && c.lines.max_flows == 5);
	CHECK(c.max_half_open == 3000);
	CHECK(c.nat_port_min == 20000 && c.nat_port_max == 29999);
	CHECK(c.xdp_mode == XLB_XDP_GENERIC);
	CHECK(c.timeouts.syn_ns == 5 * XLB_NS_PER_SEC);
	CHECK(c.timeouts.established_ns == 7200 * XLB_NS_PER_SEC);
	CHECK(c.timeouts.closing_ns == 90 * XLB_NS_PER_SEC);
	CHECK(c.timeouts.closed_ns == 1500000000ull);
	CHECK(c.timeouts.udp_ns == 60 * XLB_NS_PER_SEC);
	CHECK(!strcmp(c.metrics, "127.0.0.1:9100"));
	CHECK(c.n_svcs == 3);
	s = &c.svcs[0];
	CHECK(s->vip.port == 8000 && s->proto == IPPROTO_TCP &&
	      s->algo == XLB_ALGO_WRR && s->slow_start_ms == 10000);
	CHECK(s->health && s->check.kind == XLB_HEALTH_HTTP &&
	      !strcmp(s->check.http_path, "/healthz") &&
	      s->check.http_status == 204 && s->check.interval_ms == 500 &&
	      s->check.timeout_ms == 200 && s->check.rise == 3 &&
	      s->check.fall == 4 && s->check.port == 0);
	CHECK(s->n_backends == 3);
	CHECK(s->backends[0].weight == 5 && !s->backends[0].drain &&
	      s->backends[0].line == 18);
	CHECK(s->backends[1].ep.port == 8000 && s->backends[1].drain &&
	      s->backends[1].weight == 1);
	CHECK(s->backends[2].ep.port == 8080 && s->backends[2].weight == 1);
	CHECK(s->backends[0].id == XLB_ID_NONE && s->id == XLB_ID_NONE);
	s = &c.svcs[1];
	CHECK(s->proto == IPPROTO_UDP && s->algo == XLB_ALGO_WLC &&
	      !s->health && s->n_backends == 1 && s->backends[0].weight == 0 &&
	      s->backends[0].ep.port == 53);
	s = &c.svcs[2];
	CHECK(s->vip.family == XLB_FAMILY_V6 && s->algo == XLB_ALGO_MH &&
	      s->health &&
	      s->check.kind == XLB_HEALTH_TCP && s->check.port == 8081 &&
	      s->check.interval_ms == 1000 && s->n_backends == 2 &&
	      s->backends[1].ep.port == 80 &&
	      addr_is(&s->backends[1].ep.addr, 6, "2001:db8::12"));
	xtest_pass(name);
out:
	xlb_config_free(&c);
}

static void test_defaults(void)
{
	const char *name = "parse_empty_file_defaults";
	struct xlb_config c, d;
	char err[ERRLEN];

	xlb_config_init(&d);
	if (xlb_config_parse("e.conf", "# nothing\n\n   \n", &c, err,
			     sizeof(err))) {
		xtest_fail(name, "%s", err);
		return;
	}
	CHECK(c.n_svcs == 0 && !c.ifname[0] && !c.metrics[0]);
	CHECK(c.max_flows == d.max_flows && c.max_half_open == 0);
	CHECK(!memcmp(&c.timeouts, &d.timeouts, sizeof(d.timeouts)));
	CHECK(c.xdp_mode == XLB_XDP_AUTO);
	xtest_pass(name);
out:
	xlb_config_free(&c);
}

/* ------------------------------------------------------------------ */
/* Bad files: the exact message                                        */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name, *text, *err;
} bad[] = {
	{ "unknown_keyword", "service 198.51.100.10:80\nbackned 198.51.100.11\n",
	  "b.conf:2: unknown keyword \"backned\" (expected service, backend, "
	  "health, interface, snat, max-flows, max-half-open, nat-ports, "
	  "xdp-mode, timeout-*, metrics)" },
	{ "backend_outside_service", "\n  backend 198.51.100.11\n",
	  "b.conf:2: backend outside a service: put it after a service line" },
	{ "health_outside_service", "health tcp\n",
	  "b.conf:1: health outside a service: put it after a service line" },
	{ "bad_backend_address",
	  "service 198.51.100.10:80\n backend 198.51.100.300\n",
	  "b.conf:2: backend \"198.51.100.300\": not an IPv4 or IPv6 address" },
	{ "weight_out_of_range",
	  "service 198.51.100.10:80\n backend 198.51.100.11 weight 70000\n",
	  "b.conf:2: weight \"70000\": give a number from 0 to 65535" },
	{ "weight_missing",
	  "service 198.51.100.10:80\n backend 198.51.100.11 weight\n",
	  "b.conf:2: weight needs a value" },
	{ "backend_list", "service 198.51.100.10:80\n backend 198.51.100.11,198.51.100.12\n",
	  "b.conf:2: backend \"198.51.100.11,198.51.100.12\": one ADDR[:PORT] a "
	  "line; the weight is \"weight N\"" },
	{ "duplicate_backend",
	  "service 198.51.100.10:80\n backend 198.51.100.11\n"
	  " backend 198.51.100.11:80 weight 2\n",
	  "b.conf:3: backend 198.51.100.11:80 is given twice in service "
	  "198.51.100.10:80/tcp (first at line 2)" },
	{ "duplicate_service",
	  "service 198.51.100.10:80\nservice 198.51.100.10:80/tcp algo wrr\n",
	  "b.conf:2: service 198.51.100.10:80/tcp is given twice (first at "
	  "line 1)" },
	{ "family_mismatch",
	  "service 198.51.100.10:80\n backend [2001:db8::11]:80\n",
	  "b.conf:2: backend [2001:db8::11]:80 is IPv6 but service "
	  "198.51.100.10:80/tcp is IPv4" },
	{ "vip_without_port", "service 198.51.100.10\n",
	  "b.conf:1: VIP \"198.51.100.10\" needs a port, e.g. "
	  "198.51.100.10:8000" },
	{ "unknown_algo", "service 198.51.100.10:80 algo fancy\n",
	  "b.conf:1: unknown algo \"fancy\": use rr, wrr, mh or wlc" },
	{ "unknown_service_option", "service 198.51.100.10:80 weight 3\n",
	  "b.conf:1: unknown service option \"weight\" (use algo, slow-start)" },
	{ "health_twice",
	  "service 198.51.100.10:80\n health tcp\n health http /\n",
	  "b.conf:3: health is given twice for this service (first at line 2)" },
	{ "health_unknown_kind", "service 198.51.100.10:80\n health icmp\n",
	  "b.conf:2: unknown health check \"icmp\": use none, tcp or http" },
	{ "health_bad_interval",
	  "service 198.51.100.10:80\n health tcp interval 2x\n",
	  "b.conf:2: health interval \"2x\": give a duration from 10ms to 1h "
	  "(e.g. 500ms, 2s, 5m, 6h; a bare number is seconds)" },
	{ "health_rise_zero", "service 198.51.100.10:80\n health tcp rise 0\n",
	  "b.conf:2: health rise \"0\": give a number from 1 to 1000" },
	{ "health_status_on_tcp",
	  "service 198.51.100.10:80\n health tcp status 200\n",
	  "b.conf:2: unknown tcp health option \"status\" (use port, interval, "
	  "timeout, rise, fall, jitter)" },
	/* a path is for http checks: say so, not "needs a value" */
	{ "health_tcp_with_path",
	  "service 198.51.100.10:80\n health tcp /healthz\n",
	  "b.conf:2: tcp health checks take no path (\"/healthz\"): http "
	  "checks do, e.g. http /healthz" },
	{ "health_tcp_with_path_and_options",
	  "service 198.51.100.10:80\n health tcp /healthz interval 2s\n",
	  "b.conf:2: tcp health checks take no path (\"/healthz\"): http "
	  "checks do, e.g. http /healthz" },
	{ "health_path_without_slash",
	  "service 198.51.100.10:80\n health http healthz\n",
	  "b.conf:2: health path \"healthz\" must start with '/'" },
	{ "health_option_without_value",
	  "service 198.51.100.10:80\n health http / rise\n",
	  "b.conf:2: health option \"rise\" needs a value" },
	/* an option given twice: refused, as the global settings are */
	{ "service_option_twice",
	  "service 198.51.100.10:80 algo rr algo wrr\n",
	  "b.conf:1: service option \"algo\" is given twice" },
	{ "backend_option_twice",
	  "service 198.51.100.10:80\n backend 198.51.100.11 weight 3 drain "
	  "weight 0\n",
	  "b.conf:2: backend option \"weight\" is given twice" },
	{ "health_option_twice",
	  "service 198.51.100.10:80\n health http / host a host b\n",
	  "b.conf:2: health option \"host\" is given twice" },
	/* no path, and an option without its value: the option is named */
	{ "health_option_without_value_no_path",
	  "service 198.51.100.10:80\n health http status 200 fall\n",
	  "b.conf:2: health option \"fall\" needs a value" },
	{ "max_flows_zero", "max-flows 0\n",
	  "b.conf:1: max-flows \"0\": give a number from 1 to 67108864" },
	{ "max_half_open_below_floor", "max-half-open 300\n",
	  "b.conf:1: max-half-open \"300\": give a number from 1024 to "
	  "67108864" },
	{ "max_flows_twice", "max-flows 10\nmax-flows 20\n",
	  "b.conf:2: max-flows is given twice (first at line 1)" },
	{ "nat_ports_reversed", "nat-ports 3000-2000\n",
	  "b.conf:1: port range \"3000-2000\": MIN 3000 is greater than MAX 2000" },
	{ "timeout_zero", "timeout-udp 0\n",
	  "b.conf:1: timeout-udp \"0\": give a duration from 1s to 720h "
	  "(e.g. 500ms, 2s, 5m, 6h; a bare number is seconds)" },
	{ "snat_bad", "snat 198.51.100\n",
	  "b.conf:1: address \"198.51.100\": not an IPv4 or IPv6 address" },
	{ "snat_twice", "snat 198.51.100.10\nsnat 198.51.100.11\n",
	  "b.conf:2: snat (IPv4) is given twice (first at line 1)" },
	{ "metrics_bad", "metrics localhost\n",
	  "b.conf:1: metrics \"localhost\": give ADDR:PORT, e.g. "
	  "127.0.0.1:9100 or [::1]:9100, or off" },
	{ "interface_extra_word", "interface eth0 eth1\n",
	  "b.conf:1: unexpected \"eth1\" after interface eth0" },
	{ "xdp_mode_bad", "xdp-mode turbo\n",
	  "b.conf:1: unknown xdp-mode \"turbo\": use auto, native or generic" },
	{ "value_missing", "\n\n\nmax-flows\n",
	  "b.conf:4: max-flows needs a value" },
};

static void test_bad_files(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[96], err[ERRLEN] = "";
		struct xlb_config c;
		int rc;

		snprintf(name, sizeof(name), "bad_%s", bad[i].name);
		rc = xlb_config_parse("b.conf", bad[i].text, &c, err,
				      sizeof(err));
		if (!rc) {
			xlb_config_free(&c);
			xtest_fail(name, "accepted; expected \"%s\"", bad[i].err);
		} else if (strcmp(err, bad[i].err)) {
			xtest_fail(name, "message\n  got:  %s\n  want: %s", err,
				   bad[i].err);
		} else {
			xtest_pass(name);
		}
	}
}

static void test_load_missing_file(void)
{
	const char *name = "load_missing_file";
	char err[ERRLEN];
	struct xlb_config c;
	int rc = xlb_config_load("/nonexistent/xlb.conf", &c, err, sizeof(err));

	if (rc != -ENOENT)
		xtest_fail(name, "rc %d", rc);
	else if (strcmp(err, "/nonexistent/xlb.conf: cannot read: No such file "
			     "or directory"))
		xtest_fail(name, "message: %s", err);
	else
		xtest_pass(name);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

static char *write_str(const struct xlb_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (xlb_config_write(c, f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Config fields (not run-time ones, not line numbers) equal? */
static bool same_config(const struct xlb_config *a, const struct xlb_config *b,
			char *why, size_t len)
{
	if (strcmp(a->ifname, b->ifname) || memcmp(a->snat, b->snat,
						    sizeof(a->snat)) ||
	    memcmp(a->have_snat, b->have_snat, sizeof(a->have_snat)) ||
	    a->max_flows != b->max_flows || a->max_half_open != b->max_half_open ||
	    a->nat_port_min != b->nat_port_min ||
	    a->nat_port_max != b->nat_port_max || a->xdp_mode != b->xdp_mode ||
	    memcmp(&a->timeouts, &b->timeouts, sizeof(a->timeouts)) ||
	    strcmp(a->metrics, b->metrics) || a->n_svcs != b->n_svcs) {
		snprintf(why, len, "global settings differ");
		return false;
	}
	for (size_t i = 0; i < a->n_svcs; i++) {
		const struct xlb_config_service *s = &a->svcs[i], *t = &b->svcs[i];

		if (memcmp(&s->vip.addr, &t->vip.addr, 16) ||
		    s->vip.family != t->vip.family ||
		    s->vip.port != t->vip.port ||
		    s->proto != t->proto || s->algo != t->algo ||
		    s->health != t->health ||
		    memcmp(&s->check, &t->check, sizeof(s->check)) ||
		    s->slow_start_ms != t->slow_start_ms ||
		    s->n_backends != t->n_backends) {
			snprintf(why, len, "service %zu differs", i);
			return false;
		}
		for (size_t j = 0; j < s->n_backends; j++) {
			const struct xlb_config_backend *x = &s->backends[j],
							*y = &t->backends[j];

			if (memcmp(&x->ep.addr, &y->ep.addr, 16) ||
			    x->ep.family != y->ep.family ||
			    x->ep.port != y->ep.port ||
			    x->weight != y->weight || x->drain != y->drain) {
				snprintf(why, len,
					 "service %zu backend %zu differs", i,
					 j);
				return false;
			}
		}
	}
	return true;
}

static void round_trip(const char *name, const char *text)
{
	struct xlb_config a, b;
	char err[ERRLEN], why[128];
	char *t1 = NULL, *t2 = NULL;

	if (xlb_config_parse("in.conf", text, &a, err, sizeof(err))) {
		xtest_fail(name, "parse: %s", err);
		return;
	}
	t1 = write_str(&a);
	if (!t1 || xlb_config_parse("saved.conf", t1, &b, err, sizeof(err))) {
		xtest_fail(name, "re-parse of the saved text: %s\n%s", err,
			   t1 ? t1 : "(write failed)");
		xlb_config_free(&a);
		free(t1);
		return;
	}
	t2 = write_str(&b);
	if (!same_config(&a, &b, why, sizeof(why)))
		xtest_fail(name, "%s after save -> parse:\n%s", why, t1);
	else if (!t2 || strcmp(t1, t2))
		xtest_fail(name, "save is not stable:\n%s---\n%s", t1,
			   t2 ? t2 : "");
	else
		xtest_pass(name);
	xlb_config_free(&a);
	xlb_config_free(&b);
	free(t1);
	free(t2);
}

static void test_round_trips(void)
{
	round_trip("round_trip_full", full_text);
	round_trip("round_trip_empty", "");
	round_trip("round_trip_defaults_spelled_out",
		   "max-flows 262144\nnat-ports 1024-32767\nxdp-mode auto\n"
		   "timeout-established 6h\nmetrics off\n"
		   "service 198.51.100.10:8000 algo rr\n"
		   " health http\n backend 198.51.100.11\n");
	round_trip("round_trip_health_any_status_host",
		   "service 198.51.100.10:80\n health http /a/b?c=d status any "
		   "host example.test jitter 10 timeout 1500ms\n"
		   " backend 198.51.100.11 weight 65535\n");
	round_trip("round_trip_service_without_backends",
		   "service 198.51.100.10:443\nservice [2001:db8::10]:53/udp "
		   "algo wrr\n");
}

/* ------------------------------------------------------------------ */
/* Durations                                                           */
/* ------------------------------------------------------------------ */

static void test_durations(void)
{
	static const struct {
		const char *in;
		int rc;
		__u64 ms;
		const char *out;
	} cases[] = {
		/* rc, then ms and out when rc is 0 */
		{ "500ms", 0, 500, "500ms" }, { "2s", 0, 2000, "2s" },
		{ "90", 0, 90000, "90s" },    { "1m", 0, 60000, "1m" },
		{ "120s", 0, 120000, "2m" },  { "6h", 0, 21600000, "6h" },
		{ "0", 0, 0, "0s" },          { "1500ms", 0, 1500, "1500ms" },
		{ "", -EINVAL, 0, NULL },     { "s", -EINVAL, 0, NULL },
		{ "2 s", -EINVAL, 0, NULL },  { "-1s", -EINVAL, 0, NULL },
		{ "3d", -EINVAL, 0, NULL },   { "25h", -ERANGE, 0, NULL },
		{ "99999999999999999999s", -ERANGE, 0, NULL },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 ms = 0;
		char buf[32];
		int rc = xlb_duration_parse(cases[i].in, 24 * 3600 * 1000,
					    &ms);

		if (rc != cases[i].rc || (!rc && ms != cases[i].ms) ||
		    (!rc && strcmp(xlb_duration_str(ms, buf, sizeof(buf)),
				   cases[i].out))) {
			xtest_fail("durations", "\"%s\": rc %d ms %llu", cases[i].in,
				   rc, (unsigned long long)ms);
			bad++;
		}
	}
	if (!bad)
		xtest_pass("durations");
}

/* ------------------------------------------------------------------ */
/* Control command lines                                               */
/* ------------------------------------------------------------------ */

static int parse_req(const char *line, struct xlb_request *r, char *err)
{
	char buf[512], *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return xlb_request_parse(argc, argv, r, err, ERRLEN);
}

static void test_requests(void)
{
	static const struct {
		const char *line;
		int rc;
		const char *err;
	} cases[] = {
		{ "backend add 198.51.100.10:8000 198.51.100.13 --weight 3", 0, NULL },
		{ "backend add --weight 3 -i lb0 198.51.100.10:8000 198.51.100.13:81",
		  0, NULL },
		{ "backend drain 198.51.100.10:53/udp 198.51.100.13", 0, NULL },
		{ "service add 198.51.100.10:8000 --algo wrr", 0, NULL },
		{ "show -j", 0, NULL },
		{ "stop -i lb0", 0, NULL },
		{ "backend", -EINVAL, "backend: give a command (see xlb backend -h)" },
		{ "backend frob 198.51.100.10:8000", -EINVAL,
		  "backend: unknown command \"frob\" (see xlb backend -h)" },
		{ "backend add 198.51.100.10:8000", -EINVAL,
		  "backend add: missing backend ADDR[:PORT] (see xlb backend -h)" },
		{ "backend add 198.51.100.10:8000 198.51.100.300", -EINVAL,
		  "backend \"198.51.100.300\": not an IPv4 or IPv6 address" },
		{ "backend add 198.51.100.10:8000 198.51.100.13 --weight 70000",
		  -EINVAL, "--weight \"70000\": give a number from 0 to 65535" },
		{ "backend set 198.51.100.10:8000 198.51.100.13", -EINVAL,
		  "backend set: give --weight N" },
		{ "backend add 198.51.100.10:8000 [2001:db8::13]:80", -EINVAL,
		  "backend [2001:db8::13]:80 is IPv6 but VIP 198.51.100.10:8000 is "
		  "IPv4" },
		{ "backend del 198.51.100.10:8000 198.51.100.13 extra", -EINVAL,
		  "backend del: unexpected argument \"extra\"" },
		{ "service add 198.51.100.10:8000 --algo fancy", -EINVAL,
		  "unknown --algo \"fancy\": use rr, wrr, mh or wlc" },
		{ "service add 198.51.100.10:8000 --weight 2", -EINVAL,
		  "service add: unknown or incomplete option \"--weight\" (see xlb "
		  "service -h)" },
		{ "service set 198.51.100.10:8000", -EINVAL,
		  "service set: nothing to change: give --algo, --health or "
		  "--slow-start" },
		{ "show extra", -EINVAL, "show: unexpected argument \"extra\"" },
		{ "save -j", -EINVAL,
		  "save: unknown or incomplete option \"-j\" (see xlb save -h)" },
		{ "backend -h", 1, NULL },
		{ "backend set 198.51.100.10:8000 198.51.100.13 --weight 2 "
		  "--weight 3", -EINVAL,
		  "backend set: option --weight given twice: give it once" },
		{ "service add 198.51.100.10:8000 --algo wrr --algo rr", -EINVAL,
		  "service add: option --algo given twice: give it once" },
		{ "stop -i lb0 --interface lb1", -EINVAL,
		  "stop: option -i/--interface given twice: give it once" },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlb_request r;
		char err[ERRLEN] = "";
		int rc = parse_req(cases[i].line, &r, err);

		if (rc != cases[i].rc ||
		    (cases[i].err && strcmp(err, cases[i].err))) {
			xtest_fail("requests", "\"%s\": rc %d, message \"%s\"",
				   cases[i].line, rc, err);
			bad++;
		}
	}
	if (!bad)
		xtest_pass("requests");
}

static void test_request_fields(void)
{
	const char *name = "request_fields";
	struct xlb_request r;
	char err[ERRLEN];

	if (parse_req("service add 198.51.100.10:8000/udp --algo wrr --health "
		      "tcp --slow-start 30s -i lb0",
		      &r, err)) {
		/* --health takes one argument: with spaces it comes quoted
		 * from a shell; here "tcp" alone */
		xtest_fail(name, "%s", err);
		return;
	}
	CHECK(r.op == XLB_REQ_SERVICE_ADD && r.proto == IPPROTO_UDP &&
	      r.has_algo && r.algo == XLB_ALGO_WRR && r.has_health &&
	      r.health_on && r.check.kind == XLB_HEALTH_TCP &&
	      r.has_slow_start && r.slow_start_ms == 30000 &&
	      !strcmp(r.ifname, "lb0"));
	CHECK(!parse_req("backend add 198.51.100.10:8000 198.51.100.13 --drain",
			 &r, err));
	CHECK(r.op == XLB_REQ_BACKEND_ADD && r.drain && r.weight == 1 &&
	      r.backend.port == 8000);
	xtest_pass(name);
out:;
}

int main(void)
{
	test_full_file();
	test_defaults();
	test_bad_files();
	test_load_missing_file();
	test_round_trips();
	test_durations();
	test_requests();
	test_request_fields();
	return xtest_done();
}
