// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of src/neigh.c against the kernel, in throw-away network
 * namespaces: a forked child unshares two anonymous namespaces, "lb" (where
 * the calls run) and "peer", joined by a veth pair:
 *
 *   lb: a0 198.51.100.1/24 2001:db8:100::1/64 <-> peer: b0 198.51.100.2/24
 *       203.0.113.0/24 via 198.51.100.2             2001:db8:100::2/64
 *       2001:db8:203::/64 via 2001:db8:100::2       (answers ARP / ND)
 *       blackhole 192.0.2.0/25, unreachable 192.0.2.128/25,
 *       prohibit 203.0.113.128/25
 *
 * Nothing is named (no /run/netns entries): both namespaces vanish when
 * the child exits.  Only documentation addresses are used and nothing is
 * sent by the test itself: the kernel resolves managed entries on its own.
 * Without root every case is SKIP.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/sched.h> /* CLONE_NEWNET */

#include "neigh.h"
#include "xtest.h"

#define CMD_BYTES 512
#define RESOLVE_WAIT_MS 3000 /* managed entry must be REACHABLE by then */
#define POLL_MS 100

static const char *const case_names[] = {
	"route_v4_connected",
	"route_v4_gateway",
	"route_v6_connected",
	"route_v6_gateway",
	"route_v4_unreachable",
	"route_v4_blackhole",
	"route_v4_prohibit",
	"route_v6_no_route",
	"route_v4_local",
	"route_bad_family",
	"neigh_v4_managed_created",
	"neigh_v4_managed_resolves",
	"neigh_v6_managed_resolves",
	"neigh_ensure_idempotent",
	"neigh_gateway_nexthop_managed",
	"neigh_permanent_untouched",
	"neigh_stale_untouched",
	"neigh_unresolved_made_managed",
	"neigh_unanswered_still_managed",
	"neigh_bad_ifindex",
	"neigh_get_missing",
};

/*
 * unshare(2) and setns(2) through syscall(): glibc declares them in
 * <sched.h>, which the build's -Isrc shadows with src/sched.h.
 */
static int unshare_net(void)
{
	return syscall(SYS_unshare, CLONE_NEWNET);
}

static int setns_net(int fd)
{
	return syscall(SYS_setns, fd, CLONE_NEWNET);
}

static int fd_lb = -1, fd_peer = -1; /* the two namespaces */
static int ifindex_a0;
static char mac_b0[32]; /* "aa:bb:cc:dd:ee:ff" */

static __attribute__((format(printf, 1, 2))) int sh(const char *fmt, ...)
{
	char cmd[CMD_BYTES];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	ret = system(cmd);
	if (ret != 0)
		printf("command failed (%d): %s\n", ret, cmd);
	return ret;
}

/* First line of a command's output into out (empty if none). */
static int sh_read(char *out, size_t len, const char *cmd)
{
	FILE *p;

	out[0] = '\0';
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (!fgets(out, len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return pclose(p) == 0 ? 0 : -1;
}

static int enter(int fd)
{
	if (setns_net(fd)) {
		printf("setns: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -EIO;
}

/* No DAD: addresses (link-local too) usable at once, so that ND probes
 * have a source address.  Applies to interfaces created afterwards. */
static int no_dad(void)
{
	if (write_sysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/all/accept_dad", "0"))
		return -1;
	return 0;
}

static int setup(void)
{
	char path[64];

	if (unshare_net())
		return printf("unshare: %s\n", strerror(errno)), -1;
	fd_lb = open("/proc/thread-self/ns/net", O_RDONLY);
	if (unshare_net())
		return printf("unshare: %s\n", strerror(errno)), -1;
	fd_peer = open("/proc/thread-self/ns/net", O_RDONLY);
	if (fd_lb < 0 || fd_peer < 0)
		return printf("open ns: %s\n", strerror(errno)), -1;

	/* in peer */
	if (no_dad() || sh("ip link set lo up"))
		return -1;
	if (enter(fd_lb) || no_dad())
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_peer);
	if (sh("ip link set lo up && "
	       "ip link add a0 type veth peer name b0 netns %s && "
	       "ip addr add 198.51.100.1/24 dev a0 && "
	       "ip addr add 2001:db8:100::1/64 dev a0 nodad && "
	       "ip link set a0 up && "
	       "ip route add 203.0.113.0/24 via 198.51.100.2 && "
	       "ip -6 route add 2001:db8:203::/64 via 2001:db8:100::2 && "
	       "ip route add blackhole 192.0.2.0/25 && "
	       "ip route add unreachable 192.0.2.128/25 && "
	       "ip route add prohibit 203.0.113.128/25",
	       path))
		return -1;
	if (enter(fd_peer) ||
	    sh("ip addr add 198.51.100.2/24 dev b0 && "
	       "ip addr add 198.51.100.6/24 dev b0 && "
	       "ip addr add 2001:db8:100::2/64 dev b0 nodad && "
	       "ip link set b0 up") ||
	    sh_read(mac_b0, sizeof(mac_b0),
		    "ip -o link show b0 | sed -n 's/.*link\\/ether \\([0-9a-f:]*\\).*/\\1/p'") ||
	    enter(fd_lb))
		return -1;
	ifindex_a0 = if_nametoindex("a0");
	if (!ifindex_a0 || !mac_b0[0])
		return printf("no a0 (%d) or MAC of b0 (%s)\n", ifindex_a0,
			      mac_b0),
		       -1;
	return 0;
}

static struct xlb_addr addr_of(__u8 family, const char *text)
{
	struct xlb_addr a = {};

	inet_pton(family == XLB_FAMILY_V4 ? AF_INET : AF_INET6, text,
		  a.bytes);
	return a;
}

static const char *mac_str(const struct xlb_neigh_info *n, char *buf)
{
	int i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n->lladdr_len && i < 6; i++)
		off += sprintf(buf + off, i ? ":%02x" : "%02x", n->lladdr[i]);
	return buf;
}

/* ---- routes ---- */

struct route_case {
	const char *name;
	__u8 family;
	const char *dst;
	int want_ret;
	const char *want_nexthop; /* on success; ifindex must be a0's */
};

static const struct route_case route_cases[] = {
	{ "route_v4_connected", XLB_FAMILY_V4, "198.51.100.2", 0,
	  "198.51.100.2" },
	{ "route_v4_gateway", XLB_FAMILY_V4, "203.0.113.7", 0,
	  "198.51.100.2" },
	{ "route_v6_connected", XLB_FAMILY_V6, "2001:db8:100::2", 0,
	  "2001:db8:100::2" },
	{ "route_v6_gateway", XLB_FAMILY_V6, "2001:db8:203::7", 0,
	  "2001:db8:100::2" },
	{ "route_v4_unreachable", XLB_FAMILY_V4, "192.0.2.129", -EHOSTUNREACH,
	  NULL },
	{ "route_v4_blackhole", XLB_FAMILY_V4, "192.0.2.1", -ENETUNREACH,
	  NULL },
	{ "route_v4_prohibit", XLB_FAMILY_V4, "203.0.113.129", -EACCES, NULL },
	{ "route_v6_no_route", XLB_FAMILY_V6, "2001:db8:ffff::1", -ENETUNREACH,
	  NULL },
	{ "route_v4_local", XLB_FAMILY_V4, "198.51.100.1", -EADDRNOTAVAIL,
	  NULL },
	/* family 5: neither XLB_FAMILY_V4 nor _V6 (dst parsed as IPv4) */
	{ "route_bad_family", 5, "198.51.100.2", -EAFNOSUPPORT, NULL },
};

static void test_routes(void)
{
	char text[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		const struct route_case *c = &route_cases[i];
		__u8 fam = c->family == 5 ? XLB_FAMILY_V4 : c->family;
		struct xlb_addr dst = addr_of(fam, c->dst), nexthop;
		int ifindex = -1, ret;

		memset(&nexthop, 0xff, sizeof(nexthop));
		ret = xlb_route_nexthop(c->family, &dst, &nexthop, &ifindex);
		if (ret != c->want_ret) {
			xtest_fail(c->name, "%s: returned %d (%s), want %d",
				   c->dst, ret, strerror(-ret), c->want_ret);
			continue;
		}
		if (ret) {
			xtest_pass(c->name);
			continue;
		}
		inet_ntop(fam == XLB_FAMILY_V4 ? AF_INET : AF_INET6,
			  nexthop.bytes, text, sizeof(text));
		if (strcmp(text, c->want_nexthop) || ifindex != ifindex_a0)
			xtest_fail(c->name, "%s: next hop %s ifindex %d, want %s ifindex %d",
				   c->dst, text, ifindex, c->want_nexthop,
				   ifindex_a0);
		else if (fam == XLB_FAMILY_V4 &&
			 (nexthop.ip6[1] || nexthop.ip6[2] || nexthop.ip6[3]))
			xtest_fail(c->name, "bytes 4-15 of the next hop not zero");
		else
			xtest_pass(c->name);
	}
}

/* ---- neighbours ---- */

/* `ip -d neigh show ADDR dev a0`, one line */
static void ip_neigh(const char *addr, char *out, size_t len)
{
	char cmd[CMD_BYTES];

	snprintf(cmd, sizeof(cmd), "ip -d neigh show %s dev a0", addr);
	sh_read(out, len, cmd);
}

/* Poll until the entry is REACHABLE (bounded); returns its last state. */
static int wait_reachable(__u8 family, const struct xlb_addr *a,
			  struct xlb_neigh_info *info)
{
	struct timespec pause = { 0, POLL_MS * 1000000L };
	int waited_ms, ret = -1;

	for (waited_ms = 0; waited_ms <= RESOLVE_WAIT_MS; waited_ms += POLL_MS) {
		ret = xlb_neigh_get(family, a, ifindex_a0, info);
		if (!ret && info->state & NUD_REACHABLE)
			return 0;
		nanosleep(&pause, NULL);
	}
	return ret ? ret : -ETIMEDOUT;
}

static void check_managed_resolves(const char *name, __u8 family,
				   const char *text)
{
	struct xlb_addr a = addr_of(family, text);
	struct xlb_neigh_info info;
	char mac[32];
	int ret;

	ret = wait_reachable(family, &a, &info);
	if (ret)
		xtest_fail(name, "%s not REACHABLE after %d ms: %d, state 0x%x",
			   text, RESOLVE_WAIT_MS, ret, info.state);
	else if (!(info.ext_flags & NTF_EXT_MANAGED))
		xtest_fail(name, "%s lost the managed flag", text);
	else if (strcmp(mac_str(&info, mac), mac_b0))
		xtest_fail(name, "%s resolved to %s, want %s", text, mac,
			   mac_b0);
	else
		xtest_pass(name);
}

/* Add an entry with ip, run ensure, check it kept state, MAC and flags. */
static void check_untouched(const char *name, const char *text,
			    const char *nud, __u16 want_state)
{
	struct xlb_addr a = addr_of(XLB_FAMILY_V4, text);
	char line[256], mac[32];
	const char *want_mac = "02:00:5e:00:53:aa";
	struct xlb_neigh_info info;
	int ret;

	if (sh("ip neigh add %s dev a0 lladdr %s nud %s", text, want_mac, nud)) {
		xtest_fail(name, "could not add the %s entry", nud);
		return;
	}
	ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &a, ifindex_a0);
	if (ret) {
		xtest_fail(name, "ensure returned %d", ret);
		return;
	}
	ret = xlb_neigh_get(XLB_FAMILY_V4, &a, ifindex_a0, &info);
	ip_neigh(text, line, sizeof(line));
	if (ret) {
		xtest_fail(name, "get returned %d", ret);
		return;
	}
	mac_str(&info, mac);
	if (info.state != want_state || info.ext_flags & NTF_EXT_MANAGED ||
	    strcmp(mac, want_mac))
		xtest_fail(name, "changed: state 0x%x ext_flags 0x%x mac \"%s\" (ip: %s)",
			   info.state, info.ext_flags, mac, line);
	else if (strstr(line, "managed"))
		xtest_fail(name, "ip shows it managed: %s", line);
	else
		xtest_pass(name);
}

static void test_neigh(void)
{
	struct xlb_addr a = addr_of(XLB_FAMILY_V4, "198.51.100.2");
	struct xlb_addr gw_dst = addr_of(XLB_FAMILY_V4, "203.0.113.9");
	struct xlb_neigh_info info = {};
	struct xlb_addr nexthop;
	char line[256];
	int ret, ifindex;

	/* a new entry: created managed, resolved by the kernel */
	ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &a, ifindex_a0);
	ip_neigh("198.51.100.2", line, sizeof(line));
	if (ret)
		xtest_fail("neigh_v4_managed_created", "returned %d (%s)", ret,
			   strerror(-ret));
	else if (xlb_neigh_get(XLB_FAMILY_V4, &a, ifindex_a0, &info) ||
		 !(info.ext_flags & NTF_EXT_MANAGED))
		xtest_fail("neigh_v4_managed_created", "not flagged managed");
	else if (!strstr(line, "managed"))
		xtest_fail("neigh_v4_managed_created",
			   "ip -d neigh does not show managed: %s", line);
	else
		xtest_pass("neigh_v4_managed_created");
	check_managed_resolves("neigh_v4_managed_resolves", XLB_FAMILY_V4,
			       "198.51.100.2");

	{
		struct xlb_addr a6 = addr_of(XLB_FAMILY_V6, "2001:db8:100::2");

		ret = xlb_neigh_ensure_managed(XLB_FAMILY_V6, &a6, ifindex_a0);
		if (ret)
			xtest_fail("neigh_v6_managed_resolves", "returned %d",
				   ret);
		else
			check_managed_resolves("neigh_v6_managed_resolves",
					       XLB_FAMILY_V6, "2001:db8:100::2");
	}

	/* again: nothing changes */
	ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &a, ifindex_a0);
	if (ret || xlb_neigh_get(XLB_FAMILY_V4, &a, ifindex_a0, &info) ||
	    !(info.ext_flags & NTF_EXT_MANAGED) ||
	    !(info.state & NUD_REACHABLE))
		xtest_fail("neigh_ensure_idempotent",
			   "returned %d, state 0x%x ext_flags 0x%x", ret,
			   info.state, info.ext_flags);
	else
		xtest_pass("neigh_ensure_idempotent");

	/* the daemon's sequence for a backend behind a gateway */
	ret = xlb_route_nexthop(XLB_FAMILY_V4, &gw_dst, &nexthop, &ifindex);
	if (!ret)
		ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &nexthop, ifindex);
	if (ret || memcmp(&nexthop, &a, sizeof(a)) ||
	    xlb_neigh_get(XLB_FAMILY_V4, &nexthop, ifindex, &info) ||
	    !(info.ext_flags & NTF_EXT_MANAGED))
		xtest_fail("neigh_gateway_nexthop_managed", "returned %d", ret);
	else
		xtest_pass("neigh_gateway_nexthop_managed");

	/* someone else's entries stay as they are */
	check_untouched("neigh_permanent_untouched", "198.51.100.3",
			"permanent", NUD_PERMANENT);
	check_untouched("neigh_stale_untouched", "198.51.100.5", "stale",
			NUD_STALE);

	/* an unresolved entry is made managed in place and resolves */
	{
		struct xlb_addr b = addr_of(XLB_FAMILY_V4, "198.51.100.6");

		if (sh("ip neigh add 198.51.100.6 dev a0 nud none") ||
		    xlb_neigh_get(XLB_FAMILY_V4, &b, ifindex_a0, &info) ||
		    info.ext_flags & NTF_EXT_MANAGED) {
			xtest_fail("neigh_unresolved_made_managed",
				   "could not make an unmanaged NONE entry");
		} else {
			ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &b,
						       ifindex_a0);
			if (ret)
				xtest_fail("neigh_unresolved_made_managed",
					   "returned %d", ret);
			else
				check_managed_resolves(
					"neigh_unresolved_made_managed",
					XLB_FAMILY_V4, "198.51.100.6");
		}
	}

	/* nobody answers: still 0, entry managed (kernel keeps probing) */
	{
		struct xlb_addr none = addr_of(XLB_FAMILY_V4, "198.51.100.99");

		ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &none, ifindex_a0);
		if (ret ||
		    xlb_neigh_get(XLB_FAMILY_V4, &none, ifindex_a0, &info) ||
		    !(info.ext_flags & NTF_EXT_MANAGED) ||
		    info.state & NUD_REACHABLE)
			xtest_fail("neigh_unanswered_still_managed",
				   "returned %d state 0x%x ext_flags 0x%x", ret,
				   info.state, info.ext_flags);
		else
			xtest_pass("neigh_unanswered_still_managed");
	}

	ret = xlb_neigh_ensure_managed(XLB_FAMILY_V4, &a, 9999);
	if (ret != -ENODEV)
		xtest_fail("neigh_bad_ifindex", "returned %d, want -ENODEV", ret);
	else
		xtest_pass("neigh_bad_ifindex");

	{
		struct xlb_addr missing = addr_of(XLB_FAMILY_V4, "198.51.100.77");

		ret = xlb_neigh_get(XLB_FAMILY_V4, &missing, ifindex_a0, &info);
		if (ret != -ENOENT)
			xtest_fail("neigh_get_missing",
				   "returned %d, want -ENOENT", ret);
		else
			xtest_pass("neigh_get_missing");
	}
}

static int run_in_namespaces(void)
{
	if (setup()) {
		xtest_fail("neigh_setup", "could not build the namespaces");
		return xtest_done();
	}
	test_routes();
	test_neigh();
	return xtest_done();
}

int main(void)
{
	size_t i;
	pid_t pid;
	int status;

	if (geteuid() != 0 || system("command -v ip >/dev/null 2>&1")) {
		for (i = 0; i < sizeof(case_names) / sizeof(case_names[0]); i++)
			xtest_skip(case_names[i],
				   "needs root and iproute2 (network namespaces)");
		return xtest_done();
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		xtest_fail("neigh_fork", "%s", strerror(errno));
		return xtest_done();
	}
	if (pid == 0)
		exit(run_in_namespaces());
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		xtest_fail("neigh_child", "test process died (status 0x%x)",
			   status);
		return xtest_done();
	}
	return WEXITSTATUS(status);
}
