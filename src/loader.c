// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "pins.h"

__u32 xlb_half_open_capacity(const struct xlb_load_opts *o)
{
	__u32 n = o->max_half_open ? o->max_half_open : o->max_flows / 4;

	return n < XLB_MIN_HALF_OPEN ? XLB_MIN_HALF_OPEN : n;
}

int xlb_load(const struct xlb_load_opts *o, struct xlb **skel_out,
	     struct xlb_maps *m)
{
	struct xlb *skel;
	int err;

	if (!o->max_flows || o->nat_port_min == 0 ||
	    o->nat_port_min > o->nat_port_max)
		return -EINVAL;
	skel = xlb__open();
	if (!skel)
		return -errno ? -errno : -ENOMEM;
	skel->rodata->nat_port_min = o->nat_port_min;
	skel->rodata->nat_port_max = o->nat_port_max;
	err = bpf_map__set_max_entries(skel->maps.xlb_flows,
				       2 * o->max_flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.xlb_embryos,
					       2 * xlb_half_open_capacity(o));
	if (!err && o->reuse_dir)
		err = xlb_maps_reuse(skel->obj, o->reuse_dir);
	if (!err)
		err = xlb__load(skel);
	if (!err)
		err = xlb_maps_from_obj(skel->obj, m);
	if (err) {
		xlb__destroy(skel);
		return err;
	}
	*skel_out = skel;
	return 0;
}

int xlb_attach(struct xlb *skel, int ifindex, enum xlb_xdp_mode mode,
	       bool *native)
{
	int fd = bpf_program__fd(skel->progs.xlb_xdp);
	__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
	int err;

	if (mode != XLB_XDP_GENERIC) {
		err = bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_DRV_MODE,
				     NULL);
		if (!err) {
			*native = true;
			return 0;
		}
		if (mode == XLB_XDP_NATIVE || err == -EEXIST || err == -EBUSY)
			return err;
	}
	err = bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_SKB_MODE, NULL);
	if (!err)
		*native = false;
	return err;
}

int xlb_detach(int ifindex, bool native)
{
	return bpf_xdp_detach(ifindex,
			      native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
			      NULL);
}

int xlb_pin(struct xlb *skel, const char *dir)
{
	char path[512];
	struct bpf_map *map;
	int err;

	if (mkdir(XLB_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, skel->obj) {
		const char *name = bpf_map__name(map);

		if (strncmp(name, "xlb_", 4) != 0)
			continue; /* .rodata and friends */
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		err = bpf_map__pin(map, path);
		if (err) {
			xlb_unpin(dir);
			return err;
		}
	}
	return 0;
}

void xlb_unpin(const char *dir)
{
	char path[512];

	for (size_t i = 0; i < XLB_NUM_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, xlb_map_names[i]);
		unlink(path);
	}
	rmdir(dir);
}
