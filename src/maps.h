/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* File descriptors of the xlb maps, from a loaded object or from pins. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <bpf/libbpf.h>
#include "xlb_abi.h"

/* One field per map of bpf/maps.h, same names without the xlb_ prefix. */
struct xlb_maps {
	int services;
	int service_ports;
	int backends;
	int schedules;
	int cursors;
	int flows;
	int embryos;
	int service_stats;
	int backend_stats;
	int stats;
	int settings;
	int trace_events;
	int daemon_events;
	int tx_ports;
	int vlans;
};

/* Name of every map, in struct xlb_maps order (for pinning and opening). */
extern const char *const xlb_map_names[];
#define XLB_NUM_MAPS (sizeof(struct xlb_maps) / sizeof(int))

/* Fill m from a loaded object (fds stay owned by the object). */
int xlb_maps_from_obj(struct bpf_object *obj, struct xlb_maps *m);
/* Open every map pinned under dir (fds owned by the caller). */
int xlb_maps_open_pinned(const char *dir, struct xlb_maps *m);
/* Open the maps of the xlb program attached to ifindex, found through the
 * interface (program id -> map ids), whatever bpffs this process sees:
 * `ip netns exec` gives each command a private /sys without the host's
 * bpffs.  -ENOENT if no xlb program is attached there. */
int xlb_maps_open_iface(int ifindex, struct xlb_maps *m);
void xlb_maps_close(struct xlb_maps *m);

/* Mount bpffs at /sys/fs/bpf if nothing is mounted there (as bpftool),
 * unless the pins go to another mount namespace's (XLB_PINS_OUTER). */
int xlb_bpffs_ensure(void);

/* Which bpffs holds the pins (maps.c): the one at /sys/fs/bpf (SHARED:
 * there is one, or one mounted there is PID 1's too); that of the nearest
 * process in another mount namespace (PID 1's, or the shell's that ran
 * ip netns exec), because this one has none (OUTER: ip netns exec); one
 * mounted at /sys/fs/bpf in a mount namespace not PID 1's, no other being
 * found (PRIVATE: the state dies with the namespace).  Decided once per
 * process, at the first call. */
enum xlb_pin_scope { XLB_PINS_SHARED, XLB_PINS_OUTER, XLB_PINS_PRIVATE };
enum xlb_pin_scope xlb_pin_scope(void);
/* XLB_PIN_ROOT in the bpffs of xlb_pin_scope(). */
const char *xlb_pin_root(void);
/* A path under xlb_pin_root() as a person can find it: for OUTER,
 * "/sys/fs/bpf/xlb/... (in the mount namespace of PID n)", not this
 * process's /proc/self/fd/N/... .  Returns buf. */
const char *xlb_pin_shown(const char *path, char *buf, size_t len);

/* bpffs is shared by all network namespaces but interface names are not:
 * the pin directory of the instance on ifname is XLB_PIN_ROOT/ifname in
 * the host's namespace and XLB_PIN_ROOT/ifname@netns<inode> elsewhere.
 * xlb_netns_suffix() gives that suffix ("" on the host). */
int xlb_pin_dir(const char *ifname, char *buf, size_t len);
int xlb_netns_suffix(char *buf, size_t len);
/* The suffix of ifname's instance: xlb_netns_suffix's, or in the host's
 * namespace the "@netnsN" of an instance pinned under that name by an
 * earlier version, while it is there. */
int xlb_instance_suffix(const char *ifname, char *buf, size_t len);

/* Settings element (index 0) read-modify-write helpers. */
int xlb_settings_read(const struct xlb_maps *m, struct xlb_settings *s);
int xlb_settings_write(const struct xlb_maps *m, const struct xlb_settings *s);

#endif
