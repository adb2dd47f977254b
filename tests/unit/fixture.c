// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* BPF_PROG_TEST_RUN fixture (see fixture.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <linux/sched.h> /* CLONE_NEWNET (<sched.h> may be src/sched.h) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "stats.h"
#include "fixture.h"

const char *fx_stat_name(__u32 stat)
{
	return stat < XLB_STAT_MAX && xlb_stat_names[stat] ? xlb_stat_names[stat] :
							     "?";
}

const char *fx_verdict_name(__u32 verdict)
{
	switch (verdict) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	}
	return "XDP_?";
}

int fx_netns_enter(char *why, size_t why_len)
{
	if (geteuid() != 0) {
		snprintf(why, why_len, "needs root (BPF, network namespace)");
		return -EPERM;
	}
	if (syscall(SYS_unshare, CLONE_NEWNET)) {
		int err = -errno;

		snprintf(why, why_len, "unshare(CLONE_NEWNET): %s",
			 strerror(errno));
		return err;
	}
	return 0;
}

int fx_sh(const char *fmt, ...)
{
	char cmd[1024], full[1200];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "(%s) >/tmp/xlb-fx-sh.$$ 2>&1; rc=$?; "
		 "[ $rc -ne 0 ] && cat /tmp/xlb-fx-sh.$$ >&2; "
		 "rm -f /tmp/xlb-fx-sh.$$; exit $rc", cmd);
	rc = system(full);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

int fx_sysctl(const char *path, const char *value)
{
	char full[256];
	int fd, err = 0;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	fd = open(full, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int fx_topology_setup(char *why, size_t why_len)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add " FX_IF " type veth peer name " FX_PEER,
		"ip link set " FX_IF " address " FX_IF_MAC " mtu 9000",
		"ip link set " FX_PEER " address " FX_PEER_MAC " mtu 9000",
		"ip link set " FX_IF " up",
		"ip link set " FX_PEER " up",
		"ip addr add 198.51.100.10/24 dev " FX_IF,
		"ip -6 addr add 2001:db8:100::10/64 dev " FX_IF " nodad",
		"ip route add 203.0.113.0/24 via " FX_GW4 " dev " FX_IF,
		"ip -6 route add 2001:db8:200::/64 via " FX_GW6 " dev " FX_IF,
		"ip neigh replace " FX_GW4 " lladdr " FX_GW4_MAC
		" dev " FX_IF " nud permanent",
		"ip neigh replace 198.51.100.11 lladdr " FX_BE11_MAC
		" dev " FX_IF " nud permanent",
		"ip neigh replace 198.51.100.12 lladdr " FX_BE12_MAC
		" dev " FX_IF " nud permanent",
		"ip neigh replace 198.51.100.14 lladdr " FX_BE14_MAC
		" dev " FX_IF " nud permanent",
		"ip -6 neigh replace " FX_GW6 " lladdr " FX_GW6_MAC
		" dev " FX_IF " nud permanent",
		"ip -6 neigh replace 2001:db8:100::11 lladdr " FX_BE6_11_MAC
		" dev " FX_IF " nud permanent",
		"ip -6 neigh replace 2001:db8:100::12 lladdr " FX_BE6_12_MAC
		" dev " FX_IF " nud permanent",
	};
	static const char *const sysctls[][2] = {
		{ "net/ipv4/conf/all/forwarding", "1" },
		{ "net/ipv4/conf/" FX_IF "/forwarding", "1" },
		{ "net/ipv6/conf/all/forwarding", "1" },
		{ "net/ipv6/conf/" FX_IF "/forwarding", "1" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (fx_sh("%s", cmds[i])) {
			snprintf(why, why_len, "setup failed: %s", cmds[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		int err = fx_sysctl(sysctls[i][0], sysctls[i][1]);

		if (err) {
			snprintf(why, why_len, "sysctl %s: %s", sysctls[i][0],
				 strerror(-err));
			return -1;
		}
	}
	return 0;
}

int fx_ifindex(const char *name)
{
	unsigned int i = if_nametoindex(name);

	return i ? (int)i : -errno;
}

int fx_load_opts(struct fx_lb *lb, const struct xlb_load_opts *o)
{
	int err;

	memset(lb, 0, sizeof(*lb));
	err = xlb_load(o, &lb->skel, &lb->m);
	if (err)
		return err;
	lb->prog_fd = bpf_program__fd(lb->skel->progs.xlb_xdp);
	return lb->prog_fd < 0 ? lb->prog_fd : 0;
}

int fx_load(struct fx_lb *lb, __u32 max_flows, __u16 nat_port_min,
	    __u16 nat_port_max)
{
	struct xlb_load_opts o = {
		.max_flows = max_flows,
		.nat_port_min = nat_port_min,
		.nat_port_max = nat_port_max,
	};

	return fx_load_opts(lb, &o);
}

void fx_unload(struct fx_lb *lb)
{
	if (lb->skel)
		xlb__destroy(lb->skel);
	lb->skel = NULL;
}

int fx_run(int prog_fd, int ifindex, const void *in, size_t in_len,
	   void *out, size_t out_cap, size_t *out_len, __u32 *verdict)
{
	struct xdp_md ctx = {
		.data = 0,
		.data_end = (__u32)in_len,
		.ingress_ifindex = (__u32)ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
		    .data_size_in = (__u32)in_len, .data_out = out,
		    .data_size_out = (__u32)out_cap, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err)
		return err < 0 ? err : -errno;
	*out_len = o.data_size_out;
	*verdict = o.retval;
	return 0;
}

static int ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

int fx_counters_read(const struct xlb_maps *m, struct fx_counters *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = xlb_stats_read(m, c->stats, NULL);
	for (__u32 id = 0; !err && id < FX_MAX_SVC; id++)
		err = xlb_traffic_read(m->service_stats, id, &c->svc[id]);
	for (__u32 id = 0; !err && id < FX_MAX_BE; id++)
		err = xlb_traffic_read(m->backend_stats, id, &c->be[id]);
	return err;
}

static int traffic_cmp(const char *what, __u32 id,
		       const struct xlb_traffic *e, const struct xlb_traffic *a,
		       char *why, size_t why_len)
{
	const char *field = NULL;
	__u64 ev = 0, av = 0;

	if (e->conns != a->conns) {
		field = "conns";
		ev = e->conns;
		av = a->conns;
	} else if (e->packets != a->packets) {
		field = "packets";
		ev = e->packets;
		av = a->packets;
	} else if (e->bytes != a->bytes) {
		field = "bytes";
		ev = e->bytes;
		av = a->bytes;
	}
	if (!field)
		return 0;
	snprintf(why, why_len, "%s %u %s: expected %llu, got %llu", what, id,
		 field, (unsigned long long)ev, (unsigned long long)av);
	return -1;
}

int fx_counters_cmp(const struct fx_counters *exp,
		    const struct fx_counters *act, char *why, size_t why_len)
{
	for (__u32 s = 0; s < XLB_STAT_MAX; s++) {
		if (exp->stats[s] != act->stats[s]) {
			snprintf(why, why_len,
				 "counter %s: expected %llu, got %llu",
				 fx_stat_name(s),
				 (unsigned long long)exp->stats[s],
				 (unsigned long long)act->stats[s]);
			return -1;
		}
	}
	for (__u32 id = 0; id < FX_MAX_SVC; id++)
		if (traffic_cmp("service", id, &exp->svc[id], &act->svc[id],
				why, why_len))
			return -1;
	for (__u32 id = 0; id < FX_MAX_BE; id++)
		if (traffic_cmp("backend", id, &exp->be[id], &act->be[id], why,
				why_len))
			return -1;
	return 0;
}

static int percpu_zero(int fd, __u32 n_keys, size_t value_size)
{
	int n = ncpus();
	void *zeros = calloc(n > 0 ? n : 1, value_size);
	int err = 0;

	if (!zeros)
		return -ENOMEM;
	for (__u32 k = 0; k < n_keys && !err; k++)
		if (bpf_map_update_elem(fd, &k, zeros, BPF_ANY))
			err = -errno;
	free(zeros);
	return err;
}

int fx_counters_zero(const struct xlb_maps *m)
{
	int err = percpu_zero(m->stats, XLB_STAT_MAX, sizeof(__u64));

	if (!err)
		err = percpu_zero(m->service_stats, FX_MAX_SVC,
				  sizeof(struct xlb_traffic));
	if (!err)
		err = percpu_zero(m->backend_stats, FX_MAX_BE,
				  sizeof(struct xlb_traffic));
	return err;
}

void fx_flow_key(struct xlb_flow_key *k, __u8 family, __u8 proto,
		 const __u8 *src, __u16 sport, const __u8 *dst, __u16 dport)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src.bytes, src, family == XLB_FAMILY_V4 ? 4 : 16);
	memcpy(k->dst.bytes, dst, family == XLB_FAMILY_V4 ? 4 : 16);
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->proto = proto;
	k->family = family;
}

int fx_flow_get(int map_fd, const struct xlb_flow_key *k,
		struct xlb_flow *v)
{
	return bpf_map_lookup_elem(map_fd, k, v) ? -errno : 0;
}

long fx_map_count(int map_fd)
{
	struct xlb_flow_key k, next;
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		n++;
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? n : -errno;
}

int fx_schedule_read(int schedules, __u32 id, __u32 *out, size_t max)
{
	__u32 inner_id, key = XLB_SCHED_LEN_SLOT, len;
	int fd, rc = 0;

	if (bpf_map_lookup_elem(schedules, &id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, &len))
		rc = -errno;
	for (key = 1; !rc && key <= len && key <= max; key++)
		if (bpf_map_lookup_elem(fd, &key, &out[key - 1]))
			rc = -errno;
	close(fd);
	return rc ? rc : (int)len;
}

int fx_map_clear(int map_fd)
{
	struct xlb_flow_key k;

	/* always restart from the first key: deleting invalidates order */
	while (bpf_map_get_next_key(map_fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(map_fd, &k))
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}
