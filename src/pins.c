// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pinned state: map reuse, the XDP link, removal (see pins.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pins.h"
#include "maps.h"

/* Maps of ours (not .rodata and the like). */
static bool ours(const struct bpf_map *map)
{
	return !strncmp(bpf_map__name(map), "xlb_", 4);
}

static int pin_path(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool xlb_pins_exist(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool any = false;

	while (d && !any && (e = readdir(d)))
		any = !strncmp(e->d_name, "xlb_", 4);
	if (d)
		closedir(d);
	return any;
}

/* A pinned per-CPU array shorter than this version's: an older
 * version's, before an entry was added at the end (a counter of enum
 * xlb_stat; per-CPU arrays hold counters and scratch space only).  It is
 * not reused: this version makes its own and carries the pinned values
 * over (xlb_pins_complete), which is right for counters only: a shorter
 * array of anything else (backends, cursors: read and written by the
 * start's transaction in between) does not fit. */
static bool grows(const struct bpf_map *map, const struct bpf_map_info *info)
{
	return bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY &&
	       info->max_entries < bpf_map__max_entries(map);
}

/* A pinned map can stand in for map: same layout, and an array indexed
 * by something the program knows (an enum, an id) is at least as long,
 * or grows.  Hash tables keep their pinned size (set at the first start).
 * The kernel adds BPF_F_RDONLY_PROG to some types (devmaps): not
 * compared. */
static bool fits(const struct bpf_map *map, const struct bpf_map_info *info)
{
	const __u32 kernel_flags = BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
	enum bpf_map_type t = bpf_map__type(map);

	if (info->type != t || info->key_size != bpf_map__key_size(map) ||
	    info->value_size != bpf_map__value_size(map) ||
	    (info->map_flags & ~kernel_flags) !=
		    (bpf_map__map_flags(map) & ~kernel_flags))
		return false;
	switch (t) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return info->max_entries >= bpf_map__max_entries(map);
	default: /* per-CPU arrays: longer, or grows */
		return true;
	}
}

int xlb_pins_compatible(const char *dir, char *bad, size_t badlen)
{
	struct bpf_object *obj;
	struct bpf_map *map;
	struct xlb *skel;
	int err = 0;

	skel = xlb__open();
	if (!skel)
		return -errno ? -errno : -ENOMEM;
	obj = skel->obj;
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[512];
		int fd;

		if (!ours(map) ||
		    pin_path(dir, bpf_map__name(map), path, sizeof(path)))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* new in this version: created */
			err = -errno;
		} else if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			err = -errno;
		} else if (!fits(map, &info)) {
			err = -EINVAL;
		}
		if (fd >= 0)
			close(fd);
		if (err) {
			if (bad)
				snprintf(bad, badlen, "%s", bpf_map__name(map));
			break;
		}
	}
	xlb__destroy(skel);
	return err;
}

int xlb_maps_reuse(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[512];
		int fd, err;

		if (!ours(map) ||
		    pin_path(dir, bpf_map__name(map), path, sizeof(path)))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			err = -errno;
			close(fd);
			return err;
		}
		if (grows(map, &info)) {
			close(fd); /* a new one, filled at xlb_pins_complete */
			continue;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd); /* reuse_fd keeps its own copy */
		if (err)
			return err;
	}
	return 0;
}

/* The map pinned at path is a shorter per-CPU array than map (grows):
 * copy its entries into map, then pin map in its place (a rename: whoever
 * opens the path sees one or the other).  Until the new program is
 * swapped in, the old one still counts into the old array: those counts
 * are lost; so are they if the start fails after this (the pin names the
 * new map, the old program counts into the old one, until a start
 * succeeds). */
static int grow_pinned(const struct bpf_map *map, const char *path)
{
	struct bpf_map_info info = {}, own = {};
	__u32 len = sizeof(info), own_len = sizeof(own);
	int ncpu = libbpf_num_possible_cpus();
	size_t vsize = (bpf_map__value_size(map) + 7) / 8 * 8; /* per CPU */
	int old, fd = bpf_map__fd(map), err = 0;
	char tmp[520];
	void *val;

	if (ncpu < 1)
		return ncpu ? ncpu : -EINVAL;
	old = bpf_obj_get(path);
	if (old < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(old, &info, &len) ||
	    bpf_obj_get_info_by_fd(fd, &own, &own_len)) {
		err = -errno;
		goto out;
	}
	if (info.id == own.id || !grows(map, &info))
		goto out; /* reused */
	val = calloc(ncpu, vsize);
	if (!val) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 k = 0; !err && k < info.max_entries; k++)
		if (bpf_map_lookup_elem(old, &k, val) ||
		    bpf_map_update_elem(fd, &k, val, BPF_ANY))
			err = -errno;
	free(val);
	if (!err && snprintf(tmp, sizeof(tmp), "%s@grown", path) >=
			    (int)sizeof(tmp))
		err = -ENAMETOOLONG;
	if (!err) {
		unlink(tmp); /* left by a start that failed here */
		if (bpf_obj_pin(fd, tmp) || rename(tmp, path))
			err = -errno;
		if (err)
			unlink(tmp);
	}
out:
	close(old);
	return err;
}

int xlb_pins_complete(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *map;

	if (mkdir(xlb_pin_root(), 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, obj) {
		char path[512];
		int err;

		if (!ours(map))
			continue;
		err = pin_path(dir, bpf_map__name(map), path, sizeof(path));
		if (err)
			return err;
		if (!access(path, F_OK)) {
			err = grow_pinned(map, path);
			if (err)
				return err;
			continue;
		}
		err = bpf_obj_pin(bpf_map__fd(map), path);
		if (err)
			return -errno;
	}
	return 0;
}

int xlb_link_attach(int prog_fd, int ifindex, enum xlb_xdp_mode mode,
		    int *link_fd, bool *native)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd;

	if (mode != XLB_XDP_GENERIC) {
		opts.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
		if (fd >= 0) {
			*link_fd = fd;
			*native = true;
			return 0;
		}
		fd = -errno;
		if (mode == XLB_XDP_NATIVE || fd == -EEXIST || fd == -EBUSY)
			return fd;
	}
	opts.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	*link_fd = fd;
	*native = false;
	return 0;
}

/* Open the XDP link pinned in dir and read its info: the fd (the
 * caller's), or -errno (-ENOENT: none pinned). */
static int link_pinned(const char *dir, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	char path[512];
	int fd, err;

	err = pin_path(dir, XLB_LINK_PIN_NAME, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Is the link (info) attached to ifindex?  A detached one says 0. */
static bool link_on(const struct bpf_link_info *info, int ifindex)
{
	return info->type == BPF_LINK_TYPE_XDP &&
	       info->xdp.ifindex == (__u32)ifindex;
}

bool xlb_link_on(int link_fd, int ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	/* cannot tell: taken as attached */
	return bpf_obj_get_info_by_fd(link_fd, &info, &len) ||
	       link_on(&info, ifindex);
}

int xlb_link_open(const char *dir, int ifindex, int *link_fd, bool *native)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info;
	int fd = link_pinned(dir, &info);

	if (fd < 0)
		return fd;
	if (!link_on(&info, ifindex)) {
		close(fd);
		return -ESTALE;
	}
	*native = !bpf_xdp_query(ifindex, 0, &q) &&
		  q.attach_mode == XDP_ATTACHED_DRV;
	*link_fd = fd;
	return 0;
}

int xlb_link_owned(const char *dir, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info;
	int fd = link_pinned(dir, &info);

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	close(fd);
	/* a link on another interface number, or detached: stale,
	 * replaced at the attach */
	if (!link_on(&info, ifindex))
		return 0;
	if (bpf_xdp_query(ifindex, 0, &q))
		return -errno;
	return q.prog_id == info.prog_id || q.drv_prog_id == info.prog_id ||
			       q.skb_prog_id == info.prog_id ?
		       0 :
		       -EXDEV;
}

int xlb_link_update(int link_fd, int prog_fd)
{
	return bpf_link_update(link_fd, prog_fd, NULL) ? -errno : 0;
}

int xlb_link_pin(int link_fd, const char *dir)
{
	char path[512];
	int err = pin_path(dir, XLB_LINK_PIN_NAME, path, sizeof(path));

	if (err)
		return err;
	return bpf_obj_pin(link_fd, path) ? -errno : 0;
}

void xlb_link_unpin(const char *dir)
{
	char path[512];

	if (!pin_path(dir, XLB_LINK_PIN_NAME, path, sizeof(path)))
		unlink(path);
}

int xlb_pins_remove(const char *dir)
{
	DIR *d;
	struct dirent *e;
	char path[512];
	int fd, err = 0;

	if (!pin_path(dir, XLB_LINK_PIN_NAME, path, sizeof(path))) {
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			/* detach now, whoever else holds the link */
			if (bpf_link_detach(fd) && errno != ENOLINK)
				err = -errno;
			close(fd);
		}
	}
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? err : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    pin_path(dir, e->d_name, path, sizeof(path)))
			continue;
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && !err)
		err = -errno;
	return err;
}
