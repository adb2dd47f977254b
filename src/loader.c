// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
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
