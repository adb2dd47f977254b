// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "maps.h"

const char *const xlb_map_names[] = {
	"xlb_services",	     "xlb_service_ports", "xlb_backends",
	"xlb_schedules",     "xlb_cursors",	  "xlb_flows",
	"xlb_embryos",
	"xlb_service_stats", "xlb_backend_stats", "xlb_stats",
	"xlb_settings",	     "xlb_trace_events",  "xlb_daemon_events",
	"xlb_tx_ports",	     "xlb_vlans",
};
_Static_assert(sizeof(xlb_map_names) / sizeof(xlb_map_names[0]) ==
		       XLB_NUM_MAPS,
	       "xlb_map_names matches struct xlb_maps");

int xlb_maps_from_obj(struct bpf_object *obj, struct xlb_maps *m)
{
	int *fds = (int *)m;

	for (size_t i = 0; i < XLB_NUM_MAPS; i++) {
		struct bpf_map *map =
			bpf_object__find_map_by_name(obj, xlb_map_names[i]);

		if (!map)
			return -ENOENT;
		fds[i] = bpf_map__fd(map);
		if (fds[i] < 0)
			return fds[i];
	}
	return 0;
}

int xlb_maps_open_pinned(const char *dir, struct xlb_maps *m)
{
	int *fds = (int *)m;
	char path[512];

	for (size_t i = 0; i < XLB_NUM_MAPS; i++)
		fds[i] = -1;
	for (size_t i = 0; i < XLB_NUM_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, xlb_map_names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			int err = -errno;

			xlb_maps_close(m);
			return err;
		}
	}
	return 0;
}

/* BPF map names are cut at 15 characters (BPF_OBJ_NAME_LEN - 1). */
static int map_index_by_name(const char *name)
{
	for (size_t i = 0; i < XLB_NUM_MAPS; i++)
		if (!strncmp(name, xlb_map_names[i], BPF_OBJ_NAME_LEN - 1))
			return i;
	return -1;
}

/* The map ids of a program (two calls: count, then ids). */
static int prog_map_ids(int prog_fd, __u32 **ids_out, __u32 *n_out)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n, *ids;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	if (strcmp(info.name, "xlb_xdp"))
		return -ENOENT; /* some other XDP program */
	n = info.nr_map_ids;
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len)) {
		free(ids);
		return -errno;
	}
	*ids_out = ids;
	*n_out = n < info.nr_map_ids ? n : info.nr_map_ids;
	return 0;
}

int xlb_maps_open_iface(int ifindex, struct xlb_maps *m)
{
	__u32 prog_id = 0, *ids = NULL, n = 0;
	int *fds = (int *)m, prog_fd, err;

	for (size_t i = 0; i < XLB_NUM_MAPS; i++)
		fds[i] = -1;
	if (bpf_xdp_query_id(ifindex, 0, &prog_id) || !prog_id)
		return -ENOENT;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return -errno;
	err = prog_map_ids(prog_fd, &ids, &n);
	close(prog_fd);
	for (__u32 i = 0; !err && i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]), idx = -1;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen))
			idx = map_index_by_name(mi.name);
		if (idx < 0 || fds[idx] >= 0) {
			close(fd);
			continue;
		}
		fds[idx] = fd;
	}
	free(ids);
	for (size_t i = 0; !err && i < XLB_NUM_MAPS; i++)
		if (fds[i] < 0)
			err = -ENOENT;
	if (err)
		xlb_maps_close(m);
	return err;
}

void xlb_maps_close(struct xlb_maps *m)
{
	int *fds = (int *)m;

	for (size_t i = 0; i < XLB_NUM_MAPS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Where this process's pins go.  The bpffs at /sys/fs/bpf when there is
 * one (the host's, a container's: whoever mounted it chose it).  When
 * there is none, this may be `ip netns exec`, which runs its command in a
 * mount namespace of its own with a fresh /sys: a bpffs mounted there
 * dies with the command, and the pins (the XDP link among them) with it.
 * Then the bpffs of the nearest process in another mount namespace (PID
 * 1, else the shell that ran ip netns exec: /proc/1/root needs every
 * capability PID 1 has), held open by a descriptor and reached as
 * /proc/self/fd/N: the state outlives the command, and `ip netns exec`,
 * `nsenter --net` and the host find the same instance.  If there is none,
 * one mounted at /sys/fs/bpf (xlb_bpffs_ensure), private if the mount
 * namespace is not PID 1's. */
static int pin_scope = -1; /* enum xlb_pin_scope, once known */
static char pin_root[64] = XLB_PIN_ROOT;
static int outer_pid; /* OUTER: whose mount namespace's bpffs */

static bool is_bpffs(const char *path)
{
	struct statfs fs;

	return !statfs(path, &fs) && fs.f_type == BPF_FS_MAGIC;
}

/* The parent of pid (0 if unknown). */
static int parent_of(int pid)
{
	char path[64], line[128];
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}

/* Open the bpffs of the nearest process in another mount namespace than
 * ours: PID 1, else our ancestors from the parent up.  fd or -1. */
static int outer_bpffs(void)
{
	struct stat self, other;
	char path[64];
	int pid = 1, fd;

	if (stat("/proc/self/ns/mnt", &self))
		return -1;
	for (int hops = 0; hops < 64 && pid > 0; hops++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (!stat(path, &other) && other.st_ino != self.st_ino) {
			snprintf(path, sizeof(path), "/proc/%d/root/sys/fs/bpf",
				 pid);
			if (is_bpffs(path)) {
				fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (fd >= 0) {
					outer_pid = pid;
					return fd;
				}
			}
		}
		pid = hops ? parent_of(pid) : getppid();
	}
	return -1;
}

enum xlb_pin_scope xlb_pin_scope(void)
{
	struct stat self, init;
	int fd;

	if (pin_scope >= 0)
		return (enum xlb_pin_scope)pin_scope;
	pin_scope = XLB_PINS_SHARED;
	if (is_bpffs("/sys/fs/bpf"))
		return (enum xlb_pin_scope)pin_scope;
	fd = outer_bpffs();
	if (fd >= 0) {
		pin_scope = XLB_PINS_OUTER;
		snprintf(pin_root, sizeof(pin_root), "/proc/self/fd/%d/xlb", fd);
	} else if (!stat("/proc/self/ns/mnt", &self) &&
		   !stat("/proc/1/ns/mnt", &init) &&
		   self.st_ino != init.st_ino) {
		pin_scope = XLB_PINS_PRIVATE;
	}
	return (enum xlb_pin_scope)pin_scope;
}

const char *xlb_pin_root(void)
{
	xlb_pin_scope();
	return pin_root;
}

const char *xlb_pin_shown(const char *path, char *buf, size_t len)
{
	size_t n = strlen(pin_root);

	if (xlb_pin_scope() != XLB_PINS_OUTER || strncmp(path, pin_root, n)) {
		snprintf(buf, len, "%s", path);
		return buf;
	}
	snprintf(buf, len, "%s%s (in the mount namespace of PID %d)",
		 XLB_PIN_ROOT, path + n, outer_pid);
	return buf;
}

int xlb_bpffs_ensure(void)
{
	if (xlb_pin_scope() == XLB_PINS_OUTER || is_bpffs("/sys/fs/bpf"))
		return 0;
	if (mkdir("/sys/fs/bpf", 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* The inode number of the host's (initial) network namespace on kernels
 * that fix it (PROC_NET_INIT_INO); other namespaces get numbers from
 * 0xf0000000 up, so it is never another's. */
#define XLB_NET_INIT_INO 0xeffffff9UL

int xlb_netns_suffix(char *buf, size_t len)
{
	struct stat self, init;

	buf[0] = 0;
	if (stat("/proc/self/ns/net", &self))
		return -errno;
	/* the host's namespace has no suffix.  Known by its fixed number,
	 * else as pid 1's: reading /proc/1/ns/net needs every capability
	 * pid 1 has (or CAP_SYS_PTRACE), which the systemd unit's daemon
	 * has not, while a root shell has: the two named the instance
	 * differently, and no command found the daemon */
	if (self.st_ino == XLB_NET_INIT_INO)
		return 0;
	if (stat("/proc/1/ns/net", &init) == 0 && init.st_ino == self.st_ino)
		return 0;
	snprintf(buf, len, "@netns%lu", (unsigned long)self.st_ino);
	return 0;
}

int xlb_instance_suffix(const char *ifname, char *buf, size_t len)
{
	char legacy[512], plain[512];
	struct stat self;
	int err = xlb_netns_suffix(buf, len);

	/* the host's instance of a version that could not tell the host
	 * (see above) is named with its namespace number: keep that name
	 * while its pins are there */
	if (err || buf[0] || stat("/proc/self/ns/net", &self))
		return err;
	snprintf(plain, sizeof(plain), "%s/%s", xlb_pin_root(), ifname);
	snprintf(legacy, sizeof(legacy), "%s/%s@netns%lu", xlb_pin_root(),
		 ifname, (unsigned long)self.st_ino);
	if (access(plain, F_OK) && !access(legacy, F_OK))
		snprintf(buf, len, "@netns%lu", (unsigned long)self.st_ino);
	return 0;
}

int xlb_pin_dir(const char *ifname, char *buf, size_t len)
{
	char suffix[32];
	int n;

	xlb_instance_suffix(ifname, suffix, sizeof(suffix));
	n = snprintf(buf, len, "%s/%s%s", xlb_pin_root(), ifname, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xlb_settings_read(const struct xlb_maps *m, struct xlb_settings *s)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->settings, &zero, s) ? -errno : 0;
}

int xlb_settings_write(const struct xlb_maps *m, const struct xlb_settings *s)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->settings, &zero, s, BPF_ANY) ? -errno : 0;
}
