// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The name of an instance (src/maps.c xlb_netns_suffix): in the host's
 * network namespace no suffix, whatever the process's capabilities.  The
 * systemd unit's daemon runs with a few capabilities only, so it cannot
 * read /proc/1/ns/net (that needs every capability pid 1 has, or
 * CAP_SYS_PTRACE); it used to take itself for another namespace and add
 * "@netnsN" to its socket, lock and pin directory, where a root shell's
 * commands then did not look.  Run in the host's namespace (no traffic);
 * SKIPs where that namespace has no fixed number (older kernels) or the
 * process is not root.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "maps.h"
#include "xtest.h"

/* Drop CAP_SYS_MODULE from the effective and permitted sets (for good:
 * the last thing this program does). */
static int drop_one_capability(void)
{
	struct __user_cap_header_struct h = { .version =
						      _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_SYS_MODULE / 32].effective &= ~(1u << (CAP_SYS_MODULE % 32));
	d[CAP_SYS_MODULE / 32].permitted &= ~(1u << (CAP_SYS_MODULE % 32));
	d[CAP_SYS_MODULE / 32].inheritable &= ~(1u << (CAP_SYS_MODULE % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* An instance an earlier version pinned in the host's namespace under
 * "IFACE@netnsN" keeps that name while its pins are there; a new one is
 * named without.  (Empty pin directories of a name no interface has.) */
static void test_legacy_name(const struct stat *self)
{
	const char *name = "host_instance_of_earlier_version_keeps_its_name";
	char plain[128], legacy[160], sfx[64], sfx2[64];
	const char *ifname = "xlbnt-legacy";

	snprintf(plain, sizeof(plain), "%s/%s", XLB_PIN_ROOT, ifname);
	snprintf(legacy, sizeof(legacy), "%s@netns%lu", plain,
		 (unsigned long)self->st_ino);
	if (xlb_bpffs_ensure() || (mkdir(XLB_PIN_ROOT, 0700) && errno != EEXIST) ||
	    mkdir(legacy, 0700)) {
		xtest_fail(name, "setup: %s", strerror(errno));
		return;
	}
	xlb_instance_suffix(ifname, sfx, sizeof(sfx));
	if (mkdir(plain, 0700))
		sfx2[0] = 0, snprintf(sfx2, sizeof(sfx2), "?");
	else
		xlb_instance_suffix(ifname, sfx2, sizeof(sfx2));
	rmdir(plain);
	rmdir(legacy);
	if (strcmp(sfx, strrchr(legacy, '@')) || sfx2[0])
		xtest_fail(name, "suffix \"%s\" with the earlier pins, \"%s\" "
			   "once both names exist", sfx, sfx2);
	else
		xtest_pass(name);
}

int main(void)
{
	const char *name = "host_instance_named_alike_with_fewer_capabilities";
	char before[64], after[64];
	struct stat self, init;
	int err;

	if (geteuid() != 0 || stat("/proc/self/ns/net", &self) ||
	    self.st_ino != 0xeffffff9UL) {
		xtest_skip(name, "not root in a host namespace of fixed "
				 "number");
		return xtest_done();
	}
	test_legacy_name(&self);
	err = xlb_netns_suffix(before, sizeof(before));
	if (!err)
		err = drop_one_capability();
	if (err) {
		xtest_fail(name, "%s", strerror(-err));
		return xtest_done();
	}
	if (!stat("/proc/1/ns/net", &init)) {
		xtest_skip(name, "/proc/1/ns/net still readable: cannot "
				 "stand in for the unit's daemon");
		return xtest_done();
	}
	err = xlb_netns_suffix(after, sizeof(after));
	if (err || before[0] || after[0])
		xtest_fail(name, "suffix \"%s\" with every capability, \"%s\" "
			   "without CAP_SYS_MODULE (want none either way)%s%s",
			   before, after, err ? ": " : "",
			   err ? strerror(-err) : "");
	else
		xtest_pass(name);
	return xtest_done();
}
