// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus metrics (src/metrics.c): the exposition of hand-built
 * snapshots checked line by line (exact text for a small one, a format
 * validator for big and hostile ones), label escaping, write errors; the
 * HTTP endpoint inside a private network namespace (127.0.0.1 and ::1,
 * ephemeral ports) scraped with a plain socket client: 200 with the body
 * and Content-Type, HEAD, query strings, 404, 405 with Allow, 500, both
 * threading modes (and which thread renders), bind conflicts, bad
 * options, stop with a client connected; and a snapshot read from real
 * maps (xlb_load, services installed, per-CPU counters and flows written
 * by hand, a health engine overriding the map's state).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "health.h"
#include "loader.h"
#include "metrics.h"
#include "stats.h"
#include "tables.h"
#include "xtest.h"

#define RESP_BYTES (1 << 20)
#define WHY_BYTES 512
#define NS_PER_MS 1000000ULL

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	return err;
}

/* Render s into a malloc'd string (caller frees). */
static char *render_str(const struct xlb_metrics_snapshot *s, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = xlb_metrics_render(s, f);
	fclose(f);
	return buf;
}

/* First differing line of two texts, for failure messages. */
static void first_diff(const char *a, const char *b, char *why, size_t len)
{
	int line = 1;
	const char *la = a, *lb = b;

	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
		a++;
		b++;
	}
	snprintf(why, len, "line %d: got \"%.*s\" want \"%.*s\"", line,
		 (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
}

/* ------------------------------------------------------------------ */
/* A validator of the text format (0.0.4), as strict as we write it    */
/* ------------------------------------------------------------------ */

#define MAX_FAMILIES 32
#define MAX_SERIES 8192

struct expo {
	char families[MAX_FAMILIES][64];
	char types[MAX_FAMILIES][16];
	size_t samples[MAX_FAMILIES];
	int n_families;
	char **series; /* "name{labels}" seen, for duplicates */
	int n_series;
};

static int family_index(const struct expo *e, const char *name)
{
	for (int i = 0; i < e->n_families; i++)
		if (!strcmp(e->families[i], name))
			return i;
	return -1;
}

static bool name_ok(const char *s, size_t len)
{
	if (!len || !(s[0] == '_' || s[0] == ':' ||
		      ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(s[i] == '_' || s[i] == ':' ||
		      ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* One sample line: name{l="v",...} value.  Returns NULL or an error. */
static const char *parse_sample(struct expo *e, const char *line,
				int cur_family)
{
	size_t n = strcspn(line, "{ ");
	const char *p = line + n;
	char name[64];

	if (!name_ok(line, n) || n >= sizeof(name))
		return "bad metric name";
	memcpy(name, line, n);
	name[n] = '\0';
	if (cur_family < 0 || strcmp(e->families[cur_family], name))
		return "sample outside its family (no HELP/TYPE before)";
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = strcspn(p, "=");

			if (!name_ok(p, ln))
				return "bad label name";
			p += ln;
			if (p[0] != '=' || p[1] != '"')
				return "label without =\"";
			p += 2;
			while (*p != '"') {
				if (!*p || *p == '\n')
					return "unterminated label value";
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' &&
					    p[1] != 'n')
						return "bad escape in label";
					p++;
				}
				p++;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return "junk after a label";
		}
		p++;
	}
	if (*p != ' ')
		return "no space before the value";
	{
		size_t series_len = p - line;
		char *end;

		for (int i = 0; i < e->n_series; i++)
			if (strlen(e->series[i]) == series_len &&
			    !strncmp(e->series[i], line, series_len))
				return "duplicate series";
		if (e->n_series < MAX_SERIES)
			e->series[e->n_series++] = strndup(line, series_len);
		p++;
		/* non-negative, decimal: an integer, or seconds with a
		 * fraction */
		if (*p < '0' || *p > '9')
			return "value not a number";
		strtoull(p, &end, 10);
		if (*end == '.' && end[1] >= '0' && end[1] <= '9')
			strtoull(end + 1, &end, 10);
		if (*end)
			return "junk after the value";
	}
	e->samples[cur_family]++;
	return NULL;
}

/* Validate text; on error describe it (with the line) in why. */
static int expo_check(struct expo *e, const char *text, char *why,
		      size_t len)
{
	char *copy = strdup(text), *save = NULL, *line;
	int cur = -1, lineno = 0, rc = 0;
	const char *err = NULL;
	bool help_pending = false;
	char pending[64] = "";

	memset(e, 0, sizeof(*e));
	e->series = calloc(MAX_SERIES, sizeof(*e->series));
	if (!*text || text[strlen(text) - 1] != '\n') {
		snprintf(why, len, "does not end with a newline");
		rc = -1;
		goto out;
	}
	for (line = strtok_r(copy, "\n", &save); line && !err;
	     line = strtok_r(NULL, "\n", &save)) {
		char a[64], b[128];

		lineno++;
		if (!strncmp(line, "# HELP ", 7)) {
			if (sscanf(line + 7, "%63s %127[^\n]", a, b) != 2)
				err = "HELP without name and text";
			else if (family_index(e, a) >= 0)
				err = "family described twice";
			else if (help_pending)
				err = "HELP after HELP";
			help_pending = true;
			snprintf(pending, sizeof(pending), "%s", a);
		} else if (!strncmp(line, "# TYPE ", 7)) {
			if (sscanf(line + 7, "%63s %127s", a, b) != 2)
				err = "TYPE without name and type";
			else if (!help_pending || strcmp(a, pending))
				err = "TYPE not right after its HELP";
			else if (strcmp(b, "counter") && strcmp(b, "gauge"))
				err = "type neither counter nor gauge";
			else if (e->n_families == MAX_FAMILIES)
				err = "too many families";
			else {
				cur = e->n_families++;
				snprintf(e->families[cur], 64, "%s", a);
				snprintf(e->types[cur], 16, "%.15s", b);
				if (!strcmp(b, "counter") &&
				    (strlen(a) < 6 ||
				     strcmp(a + strlen(a) - 6, "_total")))
					err = "counter without _total";
			}
			help_pending = false;
		} else if (line[0] == '#') {
			err = "unknown comment";
		} else if (help_pending) {
			err = "sample between HELP and TYPE";
		} else {
			err = parse_sample(e, line, cur);
		}
	}
	if (err) {
		snprintf(why, len, "line %d: %s", lineno, err);
		rc = -1;
	}
out:
	free(copy);
	return rc;
}

static void expo_free(struct expo *e)
{
	for (int i = 0; i < e->n_series; i++)
		free(e->series[i]);
	free(e->series);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

static const char *const families[] = {
	"xlb_service_connections_total", "xlb_service_packets_total",
	"xlb_service_bytes_total",       "xlb_backend_connections_total",
	"xlb_backend_packets_total",     "xlb_backend_bytes_total",
	"xlb_backend_up",                "xlb_backend_weight",
	"xlb_backend_drained",
	"xlb_packets_total",             "xlb_events_total",
	"xlb_flows",                     "xlb_half_open_flows",
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static void small_snapshot(struct xlb_metrics_snapshot *s,
			   struct xlb_metrics_service *svc,
			   struct xlb_metrics_backend *be)
{
	memset(s, 0, sizeof(*s));
	memset(svc, 0, sizeof(*svc));
	memset(be, 0, 2 * sizeof(*be));
	strcpy(svc->vip, "198.51.100.10:8000/tcp");
	svc->traffic = (struct xlb_traffic){ 3, 10, 1000 };
	strcpy(be[0].vip, svc->vip);
	strcpy(be[0].backend, "198.51.100.11:8000");
	be[0].traffic = (struct xlb_traffic){ 2, 6, 600 };
	be[0].weight = 5;
	be[0].up = true;
	strcpy(be[1].vip, svc->vip);
	strcpy(be[1].backend, "[2001:db8::12]:8000");
	be[1].traffic = (struct xlb_traffic){ 1, 4, 400 };
	be[1].weight = 0;
	be[1].up = false;
	be[1].drained = true;
	s->services = svc;
	s->n_services = 1;
	s->backends = be;
	s->n_backends = 2;
	s->stats[XLB_STAT_FWD_TO_BACKEND] = 7;
	s->stats[XLB_STAT_FWD_TO_CLIENT] = 3;
	s->stats[XLB_STAT_DROP_NO_FLOW] = 1;
	s->stats[XLB_STAT_NEW_FLOW] = 3;
	s->flows = 6;
	s->half_open_flows = 2;
}

/* The exact exposition of small_snapshot(). */
static char *small_expected(void)
{
	static const char head[] =
		"# HELP xlb_service_connections_total New connections "
		"scheduled, per service.\n"
		"# TYPE xlb_service_connections_total counter\n"
		"xlb_service_connections_total{vip=\"198.51.100.10:8000/tcp\"} 3\n"
		"# HELP xlb_service_packets_total Packets forwarded, both "
		"directions, per service.\n"
		"# TYPE xlb_service_packets_total counter\n"
		"xlb_service_packets_total{vip=\"198.51.100.10:8000/tcp\"} 10\n"
		"# HELP xlb_service_bytes_total Bytes forwarded (frame length), "
		"both directions, per service.\n"
		"# TYPE xlb_service_bytes_total counter\n"
		"xlb_service_bytes_total{vip=\"198.51.100.10:8000/tcp\"} 1000\n"
		"# HELP xlb_backend_connections_total New connections "
		"scheduled, per backend.\n"
		"# TYPE xlb_backend_connections_total counter\n"
		"xlb_backend_connections_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 2\n"
		"xlb_backend_connections_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 1\n"
		"# HELP xlb_backend_packets_total Packets forwarded, both "
		"directions, per backend.\n"
		"# TYPE xlb_backend_packets_total counter\n"
		"xlb_backend_packets_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 6\n"
		"xlb_backend_packets_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 4\n"
		"# HELP xlb_backend_bytes_total Bytes forwarded (frame length), "
		"both directions, per backend.\n"
		"# TYPE xlb_backend_bytes_total counter\n"
		"xlb_backend_bytes_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 600\n"
		"xlb_backend_bytes_total{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 400\n"
		"# HELP xlb_backend_up 1 if the backend passes its health "
		"checks, else 0.\n"
		"# TYPE xlb_backend_up gauge\n"
		"xlb_backend_up{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 1\n"
		"xlb_backend_up{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 0\n"
		"# HELP xlb_backend_weight Configured weight of the backend "
		"(a drained one keeps its weight).\n"
		"# TYPE xlb_backend_weight gauge\n"
		"xlb_backend_weight{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 5\n"
		"xlb_backend_weight{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 0\n"
		"# HELP xlb_backend_drained 1 if the backend is drained (xlb "
		"backend drain, or weight 0): no new connections, else 0.\n"
		"# TYPE xlb_backend_drained gauge\n"
		"xlb_backend_drained{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\"} 0\n"
		"xlb_backend_drained{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\"} 1\n"
		"# HELP xlb_packets_total Packets seen by the XDP program, by "
		"verdict reason.\n"
		"# TYPE xlb_packets_total counter\n";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fputs(head, f);
	/* one line per verdict reason, in enum order, named as xlb stats */
	for (int i = 0; i < XLB_STAT_VERDICT_MAX; i++)
		fprintf(f, "xlb_packets_total{reason=\"%s\"} %d\n",
			xlb_stat_names[i],
			i == XLB_STAT_FWD_TO_BACKEND  ? 7
			: i == XLB_STAT_FWD_TO_CLIENT ? 3
			: i == XLB_STAT_DROP_NO_FLOW  ? 1
						      : 0);
	fputs("# HELP xlb_events_total Data-path events (not packets), by "
	      "kind.\n# TYPE xlb_events_total counter\n",
	      f);
	for (int i = XLB_STAT_VERDICT_MAX; i < XLB_STAT_MAX; i++)
		fprintf(f, "xlb_events_total{event=\"%s\"} %d\n",
			xlb_stat_names[i], i == XLB_STAT_NEW_FLOW ? 3 : 0);
	fputs("# HELP xlb_flows Entries in the flow table (two per tracked "
	      "connection).\n# TYPE xlb_flows gauge\nxlb_flows 6\n"
	      "# HELP xlb_half_open_flows Entries in the half-open table (two "
	      "per connection the client has not confirmed yet: TCP before "
	      "its last handshake ACK, UDP before its second datagram).\n"
	      "# TYPE xlb_half_open_flows gauge\nxlb_half_open_flows 2\n",
	      f);
	fclose(f);
	return buf;
}

static void test_render_golden(void)
{
	const char *name = "render_exact_small_snapshot";
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	char why[WHY_BYTES], *got, *want;
	int rc;

	small_snapshot(&s, &svc, be);
	got = render_str(&s, &rc);
	want = small_expected();
	if (rc || !got)
		xtest_fail(name, "render returned %d", rc);
	else if (strcmp(got, want)) {
		first_diff(got, want, why, sizeof(why));
		xtest_fail(name, "%s", why);
	} else
		xtest_pass(name);
	free(got);
	free(want);
}

static void test_render_valid(void)
{
	const char *name = "render_valid_exposition";
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	char why[WHY_BYTES], *got;
	struct expo e;
	int rc;

	small_snapshot(&s, &svc, be);
	got = render_str(&s, &rc);
	if (rc || expo_check(&e, got, why, sizeof(why))) {
		xtest_fail(name, "rc %d: %s", rc, why);
	} else {
		bool ok = e.n_families == (int)N_FAMILIES;

		for (size_t i = 0; ok && i < N_FAMILIES; i++)
			ok = family_index(&e, families[i]) == (int)i;
		if (!ok)
			xtest_fail(name, "%d families, want the %zu in order",
				   e.n_families, N_FAMILIES);
		else if (e.samples[9] != XLB_STAT_VERDICT_MAX ||
			 e.samples[10] != XLB_STAT_MAX - XLB_STAT_VERDICT_MAX)
			xtest_fail(name, "%zu reasons and %zu events, want %d "
				   "and %d",
				   e.samples[9], e.samples[10],
				   XLB_STAT_VERDICT_MAX,
				   XLB_STAT_MAX - XLB_STAT_VERDICT_MAX);
		else
			xtest_pass(name);
	}
	expo_free(&e);
	free(got);
}

/* With the daemon's sweeper figures: seven families more, after the
 * others, exactly these lines, and still a valid exposition. */
static void test_render_sweep(void)
{
	const char *name = "render_sweeper_figures";
	static const char want[] =
		"# HELP xlb_conntrack_sweeps_total Sweeps of the connection "
		"tables by the daemon's expiry.\n"
		"# TYPE xlb_conntrack_sweeps_total counter\n"
		"xlb_conntrack_sweeps_total 7\n"
		"# HELP xlb_conntrack_sweep_errors_total Sweeps that failed (the "
		"daemon logs the first of a run).\n"
		"# TYPE xlb_conntrack_sweep_errors_total counter\n"
		"xlb_conntrack_sweep_errors_total 1\n"
		"# HELP xlb_conntrack_expired_total Connections removed by the "
		"expiry, idle past their state's timeout.\n"
		"# TYPE xlb_conntrack_expired_total counter\n"
		"xlb_conntrack_expired_total 42\n"
		"# HELP xlb_conntrack_flushed_total Connections removed by the "
		"expiry because their service was removed.\n"
		"# TYPE xlb_conntrack_flushed_total counter\n"
		"xlb_conntrack_flushed_total 9\n"
		"# HELP xlb_conntrack_sweep_connections Connections the last "
		"sweep walked.\n"
		"# TYPE xlb_conntrack_sweep_connections gauge\n"
		"xlb_conntrack_sweep_connections 1000000\n"
		"# HELP xlb_conntrack_sweep_seconds How long the last sweep "
		"took.\n"
		"# TYPE xlb_conntrack_sweep_seconds gauge\n"
		"xlb_conntrack_sweep_seconds 1.250000\n"
		"# HELP xlb_conntrack_sweep_interval_seconds Time from the last "
		"sweep's start to the next's: 2 s, or ten times the sweep if "
		"longer (2 s while the flow table is over 80 % full).\n"
		"# TYPE xlb_conntrack_sweep_interval_seconds gauge\n"
		"xlb_conntrack_sweep_interval_seconds 12.500\n";
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	char why[WHY_BYTES], *got;
	struct expo e = { 0 };
	size_t gl;
	int rc;

	small_snapshot(&s, &svc, be);
	s.has_sweep = true;
	s.sweep = (struct xlb_sweep_stats){ .sweeps = 7, .errors = 1,
					    .removed = 42, .flushed = 9,
					    .conns = 1000000,
					    .last_ns = 1250000000,
					    .interval_ns = 12500000000ULL };
	got = render_str(&s, &rc);
	gl = got ? strlen(got) : 0;
	if (rc || !got || expo_check(&e, got, why, sizeof(why)))
		xtest_fail(name, "rc %d: %s", rc, got ? why : "no output");
	else if (e.n_families != (int)N_FAMILIES + 7)
		xtest_fail(name, "%d families, want %zu", e.n_families,
			   N_FAMILIES + 7);
	else if (gl < sizeof(want) - 1 ||
		 strcmp(got + gl - (sizeof(want) - 1), want))
		xtest_fail(name, "the sweeper's lines differ: ...%s",
			   got + (gl > 400 ? gl - 400 : 0));
	else
		xtest_pass(name);
	expo_free(&e);
	free(got);
}

/* With the connections per backend of the daemon's last sweep: one
 * family more, right after the other backend gauges, exactly these
 * lines; without them (the golden test) no such family. */
static void test_render_conns(void)
{
	const char *name = "render_backend_current_connections";
	static const char want[] =
		"backend=\"[2001:db8::12]:8000\"} 1\n"
		"# HELP xlb_backend_current_connections Connections of the "
		"backend as the daemon's last sweep of the connection tables "
		"counted them (up to a sweep interval old): active (TCP "
		"established), "
		"inactive (TCP handshake, closing or closed; UDP).\n"
		"# TYPE xlb_backend_current_connections gauge\n"
		"xlb_backend_current_connections{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\",state=\"active\"} 3\n"
		"xlb_backend_current_connections{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"198.51.100.11:8000\",state=\"inactive\"} 1\n"
		"xlb_backend_current_connections{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\",state=\"active\"} 0\n"
		"xlb_backend_current_connections{vip=\"198.51.100.10:8000/tcp\","
		"backend=\"[2001:db8::12]:8000\",state=\"inactive\"} 2\n"
		"# HELP xlb_packets_total ";
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	char why[WHY_BYTES], *got;
	struct expo e = { 0 };
	int rc, i;

	small_snapshot(&s, &svc, be);
	s.has_conns = true;
	be[0].active_conns = 3;
	be[0].inactive_conns = 1;
	be[1].inactive_conns = 2;
	got = render_str(&s, &rc);
	i = got && !expo_check(&e, got, why, sizeof(why)) ?
		    family_index(&e, "xlb_backend_current_connections") : -2;
	if (rc || !got)
		xtest_fail(name, "render returned %d", rc);
	else if (i == -2)
		xtest_fail(name, "%s", why);
	else if (e.n_families != (int)N_FAMILIES + 1 || i != 9 ||
		 e.samples[i] != 4 || strcmp(e.types[i], "gauge"))
		xtest_fail(name, "%d families (want %zu), xlb_backend_"
			   "connections at %d (want 9) with %zu samples "
			   "(want 4)", e.n_families, N_FAMILIES + 1, i,
			   i >= 0 ? e.samples[i] : 0);
	else if (!strstr(got, want))
		xtest_fail(name, "the connection lines differ (or are not "
			   "right after xlb_backend_drained): %s", got);
	else
		xtest_pass(name);
	expo_free(&e);
	free(got);
}

static void test_render_empty(void)
{
	const char *name = "render_empty_snapshot";
	struct xlb_metrics_snapshot s = {};
	char why[WHY_BYTES], *got;
	struct expo e;
	int rc;

	got = render_str(&s, &rc);
	if (rc || expo_check(&e, got, why, sizeof(why)))
		xtest_fail(name, "rc %d: %s", rc, why);
	else if (e.n_families != (int)N_FAMILIES || e.samples[0] ||
		 e.samples[7] || e.samples[8] ||
		 e.samples[9] != XLB_STAT_VERDICT_MAX ||
		 e.samples[11] != 1 || e.samples[12] != 1 ||
		 !strstr(got, "\nxlb_flows 0\n"))
		xtest_fail(name, "families %d, samples %zu %zu %zu %zu",
			   e.n_families, e.samples[0], e.samples[7],
			   e.samples[9], e.samples[11]);
	else
		xtest_pass(name);
	expo_free(&e);
	free(got);
}

/* Hostile label values: escaped, and the result still parses. */
static void test_render_escaping(void)
{
	const char *name = "render_label_escaping";
	struct xlb_metrics_snapshot s = {};
	struct xlb_metrics_service svc = {};
	struct xlb_metrics_backend be = {};
	char why[WHY_BYTES], *got;
	struct expo e;
	int rc;

	strcpy(svc.vip, "we\"ird\\vip\nname");
	strcpy(be.vip, svc.vip);
	strcpy(be.backend, "\\\"\n");
	be.up = true;
	s.services = &svc;
	s.n_services = 1;
	s.backends = &be;
	s.n_backends = 1;
	got = render_str(&s, &rc);
	if (rc || expo_check(&e, got, why, sizeof(why)))
		xtest_fail(name, "rc %d: %s", rc, why);
	else if (!strstr(got, "\nxlb_service_bytes_total{vip=\"we\\\"ird\\\\vip"
			      "\\nname\"} 0\n"))
		xtest_fail(name, "vip not escaped as we\\\"ird\\\\vip\\nname");
	else if (!strstr(got, "\nxlb_backend_up{vip=\"we\\\"ird\\\\vip\\nname\","
			      "backend=\"\\\\\\\"\\n\"} 1\n"))
		xtest_fail(name, "backend label not escaped");
	else
		xtest_pass(name);
	expo_free(&e);
	free(got);
}

/* Many services and backends: still valid, every series once. */
static void test_render_large(void)
{
	const char *name = "render_large_1000_backends";
	const size_t n_svc = 100, n_be = 1000;
	struct xlb_metrics_service *svc = calloc(n_svc, sizeof(*svc));
	struct xlb_metrics_backend *be = calloc(n_be, sizeof(*be));
	struct xlb_metrics_snapshot s = {};
	char why[WHY_BYTES], *got;
	struct expo e;
	int rc;

	for (size_t i = 0; i < n_svc; i++) {
		snprintf(svc[i].vip, sizeof(svc[i].vip),
			 "[2001:db8::%zx]:%zu/%s", i, 1000 + i,
			 i % 2 ? "udp" : "tcp");
		svc[i].traffic.bytes = ~0ULL - i; /* u64 range */
	}
	for (size_t i = 0; i < n_be; i++) {
		snprintf(be[i].vip, sizeof(be[i].vip), "%s",
			 svc[i % n_svc].vip);
		snprintf(be[i].backend, sizeof(be[i].backend),
			 "[2001:db8:1::%zx]:80", i);
		be[i].weight = i;
		be[i].up = i % 3;
	}
	s.services = svc;
	s.n_services = n_svc;
	s.backends = be;
	s.n_backends = n_be;
	got = render_str(&s, &rc);
	if (rc || expo_check(&e, got, why, sizeof(why)))
		xtest_fail(name, "rc %d: %s", rc, why);
	else if (e.samples[0] != n_svc || e.samples[3] != n_be ||
		 e.samples[7] != n_be)
		xtest_fail(name, "samples %zu %zu %zu", e.samples[0],
			   e.samples[3], e.samples[7]);
	else if (!strstr(got, "{vip=\"[2001:db8::0]:1000/tcp\"} "
			      "18446744073709551615\n"))
		xtest_fail(name, "u64 max not printed in full");
	else
		xtest_pass(name);
	expo_free(&e);
	free(got);
	free(svc);
	free(be);
}

static void test_render_write_error(void)
{
	const char *name = "render_write_error_eio";
	struct xlb_metrics_snapshot s = {};
	FILE *f = fopen("/dev/full", "w");
	int rc;

	if (!f) {
		xtest_skip(name, "no /dev/full");
		return;
	}
	setvbuf(f, NULL, _IONBF, 0);
	rc = xlb_metrics_render(&s, f);
	fclose(f);
	if (rc != -EIO)
		xtest_fail(name, "rc %d, want -EIO", rc);
	else
		xtest_pass(name);
}

struct escape_case {
	const char *name;
	const char *in;
	size_t out_len;
	int rc;
	const char *out;
};

static const struct escape_case escape_cases[] = {
	{ "escape_plain", "198.51.100.10:8000/tcp", 64, 0,
	  "198.51.100.10:8000/tcp" },
	{ "escape_quote", "a\"b", 64, 0, "a\\\"b" },
	{ "escape_backslash", "a\\b", 64, 0, "a\\\\b" },
	{ "escape_newline", "a\nb", 64, 0, "a\\nb" },
	{ "escape_all", "\\\"\n", 64, 0, "\\\\\\\"\\n" },
	{ "escape_tab_and_utf8_kept", "a\tb\xc3\xa9", 64, 0, "a\tb\xc3\xa9" },
	{ "escape_empty", "", 1, 0, "" },
	{ "escape_exact_fit", "ab\"", 5, 0, "ab\\\"" },
	{ "escape_too_small", "ab\"", 4, -ENOSPC, "" },
	{ "escape_zero_len", "a", 0, -ENOSPC, NULL },
};

static void test_escape(void)
{
	for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]);
	     i++) {
		const struct escape_case *tc = &escape_cases[i];
		char out[64] = "untouched";
		int rc = xlb_metrics_escape(tc->in, out, tc->out_len);

		if (rc != tc->rc || (tc->out && strcmp(out, tc->out)))
			xtest_fail(tc->name, "rc %d out \"%s\", want %d \"%s\"",
				   rc, out, tc->rc, tc->out ? tc->out : "");
		else
			xtest_pass(tc->name);
	}
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */
/* ------------------------------------------------------------------ */

struct render_ctx {
	const struct xlb_metrics_snapshot *snap;
	int fail;       /* return this instead of rendering */
	pid_t tid;      /* thread of the last render */
	int calls;
};

static int render_cb(void *ctx, FILE *f)
{
	struct render_ctx *rc = ctx;

	rc->tid = syscall(SYS_gettid);
	rc->calls++;
	if (rc->fail)
		return rc->fail;
	return xlb_metrics_render(rc->snap, f);
}

struct http_resp {
	int status;
	char *raw;      /* whole response, NUL-terminated */
	size_t raw_len;
	const char *body;
	size_t body_len;
};

static int connect_to(__u8 family, __u16 port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET,
			SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == XLB_FAMILY_V6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void resp_parse(struct http_resp *r)
{
	const char *end = strstr(r->raw, "\r\n\r\n");

	r->status = 0;
	sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
	r->body = end ? end + 4 : r->raw + r->raw_len;
	r->body_len = r->raw + r->raw_len - r->body;
}

/* Send req, read until EOF (blocking, with timeouts).  0 or -errno. */
static int http_do(__u8 family, __u16 port, const char *req,
		   struct http_resp *r)
{
	int fd = connect_to(family, port);
	size_t cap = RESP_BYTES;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return -EIO;
	}
	r->raw = malloc(cap + 1);
	while (r->raw_len < cap) {
		ssize_t n = recv(fd, r->raw + r->raw_len, cap - r->raw_len, 0);

		if (n <= 0)
			break;
		r->raw_len += n;
	}
	r->raw[r->raw_len] = '\0';
	close(fd);
	resp_parse(r);
	return 0;
}

/* Header value (case-insensitive name) into buf, or "" if absent. */
static const char *resp_header(const struct http_resp *r, const char *name,
			       char *buf, size_t len)
{
	size_t n = strlen(name);
	const char *p = strstr(r->raw, "\r\n");

	buf[0] = '\0';
	while (p && p < r->body - 2) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)strcspn(v, "\r\n"), v);
			return buf;
		}
		p = strstr(p, "\r\n");
	}
	return buf;
}

static void resp_free(struct http_resp *r)
{
	free(r->raw);
	r->raw = NULL;
}

struct http_case {
	const char *name;
	const char *request;
	int status;
	const char *allow;  /* expected Allow header, NULL = not checked */
	bool body_metrics;  /* body must be the rendered exposition */
	bool body_empty;
	int render_fail;
};

#define REQ(method, path)                                                  \
	method " " path " HTTP/1.1\r\nHost: 127.0.0.1\r\n"                \
	       "Connection: close\r\n\r\n"

static const struct http_case http_cases[] = {
	{ .name = "http_get_metrics_200",
	  .request = REQ("GET", "/metrics"),
	  .status = 200,
	  .body_metrics = true },
	{ .name = "http_get_metrics_http10",
	  .request = "GET /metrics HTTP/1.0\r\n\r\n",
	  .status = 200,
	  .body_metrics = true },
	{ .name = "http_get_query_ignored",
	  .request = REQ("GET", "/metrics?name[]=xlb_flows"),
	  .status = 200,
	  .body_metrics = true },
	{ .name = "http_head_metrics",
	  .request = REQ("HEAD", "/metrics"),
	  .status = 200,
	  .body_empty = true },
	{ .name = "http_get_root_404",
	  .request = REQ("GET", "/"),
	  .status = 404 },
	{ .name = "http_get_other_404",
	  .request = REQ("GET", "/metricsx"),
	  .status = 404 },
	{ .name = "http_get_sub_404",
	  .request = REQ("GET", "/metrics/x"),
	  .status = 404 },
	{ .name = "http_post_405",
	  .request = "POST /metrics HTTP/1.1\r\nHost: x\r\n"
		     "Content-Length: 5\r\nConnection: close\r\n\r\nhello",
	  .status = 405,
	  .allow = "GET, HEAD" },
	{ .name = "http_put_405",
	  .request = REQ("PUT", "/metrics"),
	  .status = 405,
	  .allow = "GET, HEAD" },
	{ .name = "http_delete_405",
	  .request = REQ("DELETE", "/metrics"),
	  .status = 405,
	  .allow = "GET, HEAD" },
	{ .name = "http_render_error_500",
	  .request = REQ("GET", "/metrics"),
	  .status = 500,
	  .render_fail = -EIO },
};

static void check_http_case(const struct http_case *tc, __u8 family,
			    __u16 port, struct render_ctx *rctx,
			    const char *want_body, const char *suffix)
{
	char name[128], hdr[256];
	struct http_resp r;
	int rc;

	snprintf(name, sizeof(name), "%s%s", tc->name, suffix);
	rctx->fail = tc->render_fail;
	rc = http_do(family, port, tc->request, &r);
	rctx->fail = 0;
	if (rc) {
		xtest_fail(name, "request failed: %s", strerror(-rc));
		return;
	}
	if (r.status != tc->status)
		xtest_fail(name, "status %d, want %d (%.60s)", r.status,
			   tc->status, r.raw);
	else if (tc->allow && strcmp(resp_header(&r, "Allow", hdr,
						 sizeof(hdr)),
				     tc->allow))
		xtest_fail(name, "Allow \"%s\", want \"%s\"", hdr, tc->allow);
	else if ((tc->body_metrics || tc->body_empty) &&
		 strcmp(resp_header(&r, "Content-Type", hdr, sizeof(hdr)),
			XLB_METRICS_CONTENT_TYPE))
		xtest_fail(name, "Content-Type \"%s\"", hdr);
	else if (tc->body_metrics && (r.body_len != strlen(want_body) ||
				      memcmp(r.body, want_body, r.body_len)))
		xtest_fail(name, "body of %zu bytes differs from the %zu "
			   "rendered",
			   r.body_len, strlen(want_body));
	else if (tc->body_empty && r.body_len)
		xtest_fail(name, "HEAD with a %zu-byte body", r.body_len);
	else
		xtest_pass(name);
	resp_free(&r);
}

static int start_server(__u8 family, __u16 port, enum xlb_metrics_mode mode,
			struct render_ctx *rctx, struct xlb_metrics **out)
{
	struct xlb_metrics_opts o = {
		.mode = mode,
		.render = render_cb,
		.ctx = rctx,
	};

	o.listen.family = family;
	o.listen.port = port;
	if (family == XLB_FAMILY_V6)
		memcpy(o.listen.addr.bytes, &in6addr_loopback, 16);
	else
		o.listen.addr.ip4 = htonl(INADDR_LOOPBACK);
	return xlb_metrics_start(&o, out);
}

static void test_http_thread(__u8 family, const char *suffix)
{
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	struct render_ctx rctx = { .snap = &s };
	struct xlb_metrics *srv = NULL;
	char name[128], *want;
	int rc;

	small_snapshot(&s, &svc, be);
	want = render_str(&s, &rc);
	snprintf(name, sizeof(name), "http_start_port0%s", suffix);
	rc = start_server(family, 0, XLB_METRICS_THREAD, &rctx, &srv);
	if (rc || !xlb_metrics_port(srv)) {
		xtest_fail(name, "start: %s", strerror(-rc));
		free(want);
		return;
	}
	xtest_pass(name);
	for (size_t i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]);
	     i++)
		check_http_case(&http_cases[i], family, xlb_metrics_port(srv),
				&rctx, want, suffix);
	snprintf(name, sizeof(name), "http_thread_mode_renders_in_mhd%s",
		 suffix);
	if (!rctx.calls || rctx.tid == syscall(SYS_gettid))
		xtest_fail(name, "%d renders, tid %d (ours %ld)", rctx.calls,
			   rctx.tid, syscall(SYS_gettid));
	else
		xtest_pass(name);
	snprintf(name, sizeof(name), "http_poll_api_refused_in_thread_mode%s",
		 suffix);
	if (xlb_metrics_fd(srv) != -EINVAL ||
	    xlb_metrics_process(srv) != -EINVAL ||
	    xlb_metrics_timeout_ms(srv) != -1)
		xtest_fail(name, "fd/process/timeout not refused");
	else
		xtest_pass(name);
	xlb_metrics_stop(srv);
	free(want);
}

/* POLL mode: client and server in this one thread. */
static void test_http_poll(void)
{
	const char *name = "http_poll_mode_scrape";
	static const char req[] = REQ("GET", "/metrics");
	struct xlb_metrics_snapshot s;
	struct xlb_metrics_service svc;
	struct xlb_metrics_backend be[2];
	struct render_ctx rctx = { .snap = &s };
	struct xlb_metrics *srv = NULL;
	struct http_resp r = {};
	struct sockaddr_in a = { .sin_family = AF_INET };
	size_t sent = 0, cap = RESP_BYTES;
	bool eof = false;
	char *want;
	int rc, cfd;
	__u64 end;

	small_snapshot(&s, &svc, be);
	want = render_str(&s, &rc);
	rc = start_server(XLB_FAMILY_V4, 0, XLB_METRICS_POLL, &rctx, &srv);
	if (rc) {
		xtest_fail(name, "start: %s", strerror(-rc));
		free(want);
		return;
	}
	if (xlb_metrics_fd(srv) < 0) {
		xtest_fail(name, "no fd: %d", xlb_metrics_fd(srv));
		goto out;
	}
	a.sin_port = htons(xlb_metrics_port(srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	connect(cfd, (struct sockaddr *)&a, sizeof(a));
	r.raw = malloc(cap + 1);
	end = mono_ns() + 3000 * NS_PER_MS;
	while (!eof && mono_ns() < end) {
		struct pollfd p[2] = {
			{ .fd = xlb_metrics_fd(srv), .events = POLLIN },
			{ .fd = cfd,
			  .events = sent < sizeof(req) - 1 ? POLLOUT : POLLIN },
		};
		int t = xlb_metrics_timeout_ms(srv);

		poll(p, 2, t >= 0 && t < 100 ? t : 100);
		if (xlb_metrics_process(srv)) {
			xtest_fail(name, "process failed");
			close(cfd);
			goto out;
		}
		if (sent < sizeof(req) - 1 && (p[1].revents & POLLOUT)) {
			ssize_t n = send(cfd, req + sent,
					 sizeof(req) - 1 - sent, MSG_NOSIGNAL);

			if (n > 0)
				sent += n;
		} else if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t n = recv(cfd, r.raw + r.raw_len,
					 cap - r.raw_len, 0);

			if (n > 0)
				r.raw_len += n;
			else if (n == 0 || errno != EAGAIN)
				eof = true;
		}
	}
	close(cfd);
	r.raw[r.raw_len] = '\0';
	resp_parse(&r);
	if (!eof)
		xtest_fail(name, "no complete answer in 3 s (%zu bytes)",
			   r.raw_len);
	else if (r.status != 200 || r.body_len != strlen(want) ||
		 memcmp(r.body, want, r.body_len))
		xtest_fail(name, "status %d, body %zu bytes (want 200, %zu)",
			   r.status, r.body_len, strlen(want));
	else if (rctx.tid != syscall(SYS_gettid))
		xtest_fail(name, "render ran in thread %d, not the caller's",
			   rctx.tid);
	else
		xtest_pass(name);
out:
	resp_free(&r);
	xlb_metrics_stop(srv);
	free(want);
}

static void test_http_misc(void)
{
	struct xlb_metrics_snapshot s = {};
	struct render_ctx rctx = { .snap = &s };
	struct xlb_metrics *a = NULL, *b = NULL;
	struct xlb_metrics_opts o = { .render = render_cb, .ctx = &rctx };
	struct http_resp r;
	__u64 t0, took_ms;
	__u16 port;
	int rc, idle;

	/* a second server on the same port: refused, errno kept */
	rc = start_server(XLB_FAMILY_V4, 0, XLB_METRICS_THREAD, &rctx, &a);
	if (rc) {
		xtest_fail("http_bind_conflict_eaddrinuse", "start: %d", rc);
		return;
	}
	port = xlb_metrics_port(a);
	rc = start_server(XLB_FAMILY_V4, port, XLB_METRICS_THREAD, &rctx, &b);
	if (rc != -EADDRINUSE) {
		xtest_fail("http_bind_conflict_eaddrinuse", "rc %d", rc);
		xlb_metrics_stop(b);
	} else {
		xtest_pass("http_bind_conflict_eaddrinuse");
	}

	/* twenty scrapes in a row */
	rc = 0;
	for (int i = 0; i < 20 && !rc; i++) {
		rc = http_do(XLB_FAMILY_V4, port, REQ("GET", "/metrics"), &r);
		if (!rc && r.status != 200)
			rc = -r.status;
		resp_free(&r);
	}
	if (rc)
		xtest_fail("http_20_scrapes", "rc %d", rc);
	else
		xtest_pass("http_20_scrapes");

	/* stop with an idle client connected: prompt, port closed */
	idle = connect_to(XLB_FAMILY_V4, port);
	usleep(20000);
	t0 = mono_ns();
	xlb_metrics_stop(a);
	took_ms = (mono_ns() - t0) / NS_PER_MS;
	if (idle < 0 || took_ms > 1000)
		xtest_fail("http_stop_with_idle_client", "idle fd %d, stop "
			   "took %llu ms",
			   idle, (unsigned long long)took_ms);
	else
		xtest_pass("http_stop_with_idle_client");
	if (idle >= 0)
		close(idle);
	rc = connect_to(XLB_FAMILY_V4, port);
	if (rc != -ECONNREFUSED) {
		xtest_fail("http_port_closed_after_stop", "connect: %d", rc);
		if (rc >= 0)
			close(rc);
	} else {
		xtest_pass("http_port_closed_after_stop");
	}

	/* bad options */
	o.listen.family = 0;
	rc = xlb_metrics_start(&o, &b);
	if (rc != -EINVAL) {
		xtest_fail("http_start_bad_family_einval", "rc %d", rc);
		if (!rc)
			xlb_metrics_stop(b);
	} else {
		xtest_pass("http_start_bad_family_einval");
	}
	o.listen.family = XLB_FAMILY_V4;
	o.listen.addr.ip4 = htonl(INADDR_LOOPBACK);
	o.render = NULL;
	rc = xlb_metrics_start(&o, &b);
	if (rc != -EINVAL) {
		xtest_fail("http_start_no_render_einval", "rc %d", rc);
		if (!rc)
			xlb_metrics_stop(b);
	} else {
		xtest_pass("http_start_no_render_einval");
	}
	/* an address this host does not have */
	o.render = render_cb;
	inet_pton(AF_INET, "192.0.2.1", &o.listen.addr.ip4);
	rc = xlb_metrics_start(&o, &b);
	if (rc != -EADDRNOTAVAIL) {
		xtest_fail("http_start_foreign_address", "rc %d", rc);
		if (!rc)
			xlb_metrics_stop(b);
	} else {
		xtest_pass("http_start_foreign_address");
	}
	xlb_metrics_stop(NULL);
}

/* A daemon with many fds open: the listening socket lands above
 * FD_SETSIZE, where a select()-based server would fail. */
static void test_http_high_fds(void)
{
	const char *name = "http_thread_mode_fd_above_1024";
	struct xlb_metrics_snapshot s = {};
	struct render_ctx rctx = { .snap = &s };
	struct xlb_metrics *srv = NULL;
	struct rlimit rl;
	struct http_resp r = {};
	int fds[1100], n = 0, rc;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 2048) {
		xtest_skip(name, "fd limit %llu",
			   (unsigned long long)rl.rlim_max);
		return;
	}
	rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
	setrlimit(RLIMIT_NOFILE, &rl);
	while (n < 1100 && (fds[n] = dup(0)) >= 0 && fds[n] < 1100)
		n++;
	rc = start_server(XLB_FAMILY_V4, 0, XLB_METRICS_THREAD, &rctx, &srv);
	if (!rc)
		rc = http_do(XLB_FAMILY_V4, xlb_metrics_port(srv),
			     REQ("GET", "/metrics"), &r);
	if (rc || r.status != 200)
		xtest_fail(name, "rc %d status %d", rc, r.status);
	else
		xtest_pass(name);
	resp_free(&r);
	xlb_metrics_stop(srv);
	for (int i = 0; i <= n && i < 1100; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* ------------------------------------------------------------------ */
/* Snapshot from real maps                                             */
/* ------------------------------------------------------------------ */

static int put_traffic(int fd, __u32 id, const struct xlb_traffic *per_cpu0,
		       const struct xlb_traffic *per_cpu_last)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xlb_traffic *v;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[0] = *per_cpu0;
	if (ncpu > 1)
		v[ncpu - 1] = *per_cpu_last;
	else {
		v[0].conns += per_cpu_last->conns;
		v[0].packets += per_cpu_last->packets;
		v[0].bytes += per_cpu_last->bytes;
	}
	if (bpf_map_update_elem(fd, &id, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}

static int put_flows(int fd, int n)
{
	for (int i = 0; i < n; i++) {
		struct xlb_flow_key k = {};
		struct xlb_flow v = {};

		k.family = XLB_FAMILY_V4;
		k.proto = IPPROTO_TCP;
		inet_pton(AF_INET, "203.0.113.5", &k.src.ip4);
		inet_pton(AF_INET, "198.51.100.10", &k.dst.ip4);
		k.sport = htons(40000 + i);
		k.dport = htons(8000);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static const struct xlb_metrics_backend *
find_backend(const struct xlb_metrics_snapshot *s, const char *label)
{
	for (size_t i = 0; i < s->n_backends; i++)
		if (!strcmp(s->backends[i].backend, label))
			return &s->backends[i];
	return NULL;
}

static void test_snapshot_from_maps(void)
{
	const char *name = "snapshot_read_from_maps";
	struct xlb_load_opts lo = XLB_LOAD_OPTS_DEFAULT;
	struct xlb_backend_conf be4[3] = {}, be6[1] = {};
	struct xlb_service_conf sc[2] = {};
	struct xlb_metrics_snapshot s = {};
	const struct xlb_metrics_backend *b0, *b1, *b2, *b6;
	struct xlb_health *h = NULL;
	struct xlb_health_conf hc;
	struct xlb_maps m;
	struct xlb *skel = NULL;
	int rc;

	lo.max_flows = 1024;
	libbpf_set_print(NULL);
	rc = xlb_load(&lo, &skel, &m);
	if (rc) {
		xtest_skip(name, "cannot load the XDP object: %s",
			   strerror(-rc));
		xtest_skip("snapshot_scraped_over_http", "no maps");
		return;
	}
	/* service 0: IPv4 with three backends (ids 0-2), service 1: IPv6 */
	sc[0].family = XLB_FAMILY_V4;
	inet_pton(AF_INET, "198.51.100.10", &sc[0].vip.ip4);
	sc[0].port = 8000;
	sc[0].proto = IPPROTO_TCP;
	sc[0].algo = XLB_ALGO_WRR;
	sc[0].first_backend_id = 0;
	sc[0].n_backends = 3;
	sc[0].backends = be4;
	for (int i = 0; i < 3; i++) {
		char a[32];

		be4[i].family = XLB_FAMILY_V4;
		snprintf(a, sizeof(a), "198.51.100.%d", 11 + i);
		inet_pton(AF_INET, a, &be4[i].addr.ip4);
		be4[i].port = 8000;
		be4[i].weight = 1 + i;
	}
	be4[2].down = true; /* map says down */
	sc[1].family = XLB_FAMILY_V6;
	inet_pton(AF_INET6, "2001:db8::10", sc[1].vip.bytes);
	sc[1].port = 53;
	sc[1].proto = IPPROTO_UDP;
	sc[1].first_backend_id = 3;
	sc[1].n_backends = 1;
	sc[1].backends = be6;
	be6[0].family = XLB_FAMILY_V6;
	inet_pton(AF_INET6, "2001:db8::11", be6[0].addr.bytes);
	be6[0].port = 5353;
	be6[0].weight = 0; /* drained: still up */
	rc = xlb_service_install(&m, 0, &sc[0], NULL);
	if (!rc)
		rc = xlb_service_install(&m, 1, &sc[1], NULL);
	if (!rc)
		rc = put_traffic(m.service_stats, 0,
				 &(struct xlb_traffic){ 1, 2, 3 },
				 &(struct xlb_traffic){ 10, 20, 30 });
	if (!rc)
		rc = put_traffic(m.backend_stats, 1,
				 &(struct xlb_traffic){ 4, 5, 6 },
				 &(struct xlb_traffic){ 40, 50, 60 });
	if (!rc)
		rc = put_flows(m.flows, 3);
	if (!rc)
		rc = put_flows(m.embryos, 2);
	/* the health engine says backend 1 is down (the map says up) */
	if (!rc)
		rc = xlb_health_new(NULL, NULL, &h);
	if (!rc) {
		xlb_health_conf_init(&hc);
		hc.addr = be4[1].addr;
		hc.port = 8000;
		hc.start_down = true;
		rc = xlb_health_add(h, 1, &hc, mono_ns());
	}
	if (!rc)
		rc = xlb_metrics_snapshot_read(&m, h, &s);
	if (rc) {
		xtest_fail(name, "setup/read: %s", strerror(-rc));
		goto out;
	}
	b0 = find_backend(&s, "198.51.100.11:8000");
	b1 = find_backend(&s, "198.51.100.12:8000");
	b2 = find_backend(&s, "198.51.100.13:8000");
	b6 = find_backend(&s, "[2001:db8::11]:5353");
	if (s.n_services != 2 ||
	    strcmp(s.services[0].vip, "198.51.100.10:8000/tcp") ||
	    strcmp(s.services[1].vip, "[2001:db8::10]:53/udp"))
		xtest_fail(name, "services %zu: \"%s\" \"%s\"", s.n_services,
			   s.n_services > 0 ? s.services[0].vip : "",
			   s.n_services > 1 ? s.services[1].vip : "");
	else if (s.n_backends != 4 || !b0 || !b1 || !b2 || !b6)
		xtest_fail(name, "%zu backends, labels missing",
			   s.n_backends);
	else if (strcmp(b6->vip, "[2001:db8::10]:53/udp") ||
		 strcmp(b0->vip, "198.51.100.10:8000/tcp"))
		xtest_fail(name, "backend vip labels \"%s\" \"%s\"", b0->vip,
			   b6->vip);
	else if (!b0->up || b1->up || b2->up || !b6->up)
		xtest_fail(name, "up %d %d %d %d, want 1 0 (health) 0 (map) "
			   "1 (drained)",
			   b0->up, b1->up, b2->up, b6->up);
	else if (b0->weight != 1 || b1->weight != 2 || b2->weight != 3 ||
		 b6->weight != 0)
		xtest_fail(name, "weights %u %u %u %u", b0->weight,
			   b1->weight, b2->weight, b6->weight);
	else if (b0->drained || b1->drained || b2->drained || !b6->drained)
		xtest_fail(name, "drained %d %d %d %d, want 0 0 0 1 (weight 0)",
			   b0->drained, b1->drained, b2->drained, b6->drained);
	else if (s.services[0].traffic.conns != 11 ||
		 s.services[0].traffic.packets != 22 ||
		 s.services[0].traffic.bytes != 33 ||
		 s.services[1].traffic.conns != 0 || b1->traffic.conns != 44 ||
		 b1->traffic.bytes != 66 || b0->traffic.packets != 0)
		xtest_fail(name, "traffic not summed over CPUs by id");
	else if (s.flows != 3 || s.half_open_flows != 2)
		xtest_fail(name, "flows %llu half-open %llu, want 3 and 2",
			   (unsigned long long)s.flows,
			   (unsigned long long)s.half_open_flows);
	else
		xtest_pass(name);

	/* the ready-made render callback, directly and over HTTP (thread
	 * mode: nothing else touches h meanwhile) */
	{
		static const char *const want[] = {
			"\nxlb_service_connections_total{vip=\"198.51.100.10:"
			"8000/tcp\"} 11\n",
			"\nxlb_backend_up{vip=\"198.51.100.10:8000/tcp\","
			"backend=\"198.51.100.12:8000\"} 0\n",
			"\nxlb_backend_weight{vip=\"[2001:db8::10]:53/udp\","
			"backend=\"[2001:db8::11]:5353\"} 0\n",
			"\nxlb_flows 3\n",
			"\nxlb_half_open_flows 2\n",
			"\nxlb_no_neigh_packets_total{result=\"sent\"} 5\n"
			"xlb_no_neigh_packets_total{result=\"failed\"} 1\n"
			"xlb_no_neigh_packets_total{result=\"limited\"} 7\n"
			"xlb_no_neigh_packets_total{result=\"refused\"} 2\n"
			"xlb_no_neigh_packets_total{result=\"stale\"} 3\n"
			"xlb_no_neigh_packets_total{result=\"malformed\"} 0\n",
		};
		static const struct xlb_resend_stats resent = {
			.sent = 5, .failed = 1, .limited = 7, .refused = 2,
			.stale = 3 };
		struct xlb_metrics_source src = { .maps = &m, .health = h,
						  .resend = &resent };
		struct xlb_metrics_opts o = {
			.mode = XLB_METRICS_THREAD,
			.render = xlb_metrics_render_source,
			.ctx = &src,
		};
		struct xlb_metrics *srv = NULL;
		struct http_resp r = {};
		char *body = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&body, &len);
		size_t missing = 0;

		rc = xlb_metrics_render_source(&src, f);
		fclose(f);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			missing += !strstr(body, want[i]);
		if (rc || missing)
			xtest_fail("snapshot_rendered_by_source",
				   "rc %d, %zu expected lines missing", rc,
				   missing);
		else
			xtest_pass("snapshot_rendered_by_source");
		o.listen.family = XLB_FAMILY_V4;
		o.listen.addr.ip4 = htonl(INADDR_LOOPBACK);
		rc = xlb_metrics_start(&o, &srv);
		if (!rc)
			rc = http_do(XLB_FAMILY_V4, xlb_metrics_port(srv),
				     REQ("GET", "/metrics"), &r);
		if (rc || r.status != 200 || r.body_len != len ||
		    memcmp(r.body, body, len))
			xtest_fail("snapshot_scraped_over_http",
				   "rc %d status %d body %zu bytes, want %zu",
				   rc, r.status, r.body_len, len);
		else
			xtest_pass("snapshot_scraped_over_http");
		resp_free(&r);
		xlb_metrics_stop(srv);
		free(body);
	}
out:
	xlb_metrics_snapshot_free(&s);
	xlb_health_free(h);
	xlb__destroy(skel);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_escape();
	test_render_golden();
	test_render_valid();
	test_render_empty();
	test_render_sweep();
	test_render_conns();
	test_render_escaping();
	test_render_large();
	test_render_write_error();

	if (geteuid() != 0 || syscall(SYS_unshare, CLONE_NEWNET) || lo_up()) {
		xtest_skip("metrics_http_cases",
			   "needs root for a private network namespace (%s)",
			   strerror(errno));
		return xtest_done();
	}
	test_http_thread(XLB_FAMILY_V4, "");
	test_http_thread(XLB_FAMILY_V6, "_v6");
	test_http_poll();
	test_http_misc();
	test_http_high_fds();
	test_snapshot_from_maps();
	return xtest_done();
}
