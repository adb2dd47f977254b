// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* VLAN devices on the interface, for xlb_vlans (see vlan.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <bpf/bpf.h>

#include "vlan.h"

#define VLAN_CONFIG "/proc/net/vlan/config"

/* One line of the config: "NAME | VID | REAL_DEV". */
struct vlan_line {
	char name[IFNAMSIZ];
	char real[IFNAMSIZ];
	unsigned int vid;
};

/* Copy the field [s, e) without surrounding blanks into out. */
static void field(const char *s, const char *e, char *out, size_t len)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		e--;
	snprintf(out, len, "%.*s", (int)(e - s), s);
}

static bool parse_line(const char *line, struct vlan_line *v)
{
	const char *a = strchr(line, '|'), *b = a ? strchr(a + 1, '|') : NULL;
	char vid[16], *end;

	if (!b)
		return false;
	field(line, a, v->name, sizeof(v->name));
	field(a + 1, b, vid, sizeof(vid));
	field(b + 1, b + strlen(b), v->real, sizeof(v->real));
	v->vid = strtoul(vid, &end, 10);
	return v->name[0] && v->real[0] && vid[0] && !*end && v->vid &&
	       v->vid < 4095;
}

/* The VID of the device named name among lines[0..n), or 0. */
static unsigned int vid_of(const struct vlan_line *lines, size_t n,
			   const char *name, const char **real)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(lines[i].name, name)) {
			*real = lines[i].real;
			return lines[i].vid;
		}
	return 0;
}

int xlb_vlans_read(FILE *f, const char *ifname, struct xlb_vlan_dev *out,
		   size_t max, size_t *n)
{
	struct vlan_line *lines = NULL;
	size_t n_lines = 0, cap = 0;
	char buf[256];
	int err = 0;

	*n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		struct vlan_line v;

		/* the header lines have no two '|' or no number */
		if (!parse_line(buf, &v))
			continue;
		if (n_lines == cap) {
			size_t c = cap ? 2 * cap : 16;
			void *p = realloc(lines, c * sizeof(*lines));

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			lines = p;
			cap = c;
		}
		lines[n_lines++] = v;
	}
	for (size_t i = 0; i < n_lines && *n < max; i++) {
		const struct vlan_line *v = &lines[i];
		struct xlb_vlan ids = {};
		const char *real2 = NULL;
		unsigned int outer;

		if (!strcmp(v->real, ifname)) {
			ids.outer_vid = v->vid;
		} else {
			/* a VLAN device on a VLAN device on ifname */
			outer = vid_of(lines, n_lines, v->real, &real2);
			if (!outer || strcmp(real2, ifname))
				continue;
			ids.outer_vid = outer;
			ids.inner_vid = v->vid;
		}
		out[*n].ifindex = if_nametoindex(v->name);
		out[*n].ids = ids;
		if (out[*n].ifindex)
			(*n)++;
	}
out:
	free(lines);
	return err;
}

static const struct xlb_vlan_dev *find_dev(const struct xlb_vlan_dev *d,
					   size_t n, __u32 ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (d[i].ifindex == ifindex)
			return &d[i];
	return NULL;
}

int xlb_vlans_sync(int map_fd, const char *ifname, size_t *n)
{
	struct xlb_vlan_dev *devs = calloc(XLB_MAX_VLANS, sizeof(*devs));
	__u32 key, next, *prev = NULL;
	FILE *f;
	int err = 0;

	*n = 0;
	if (!devs)
		return -ENOMEM;
	f = fopen(VLAN_CONFIG, "re");
	if (f) {
		err = xlb_vlans_read(f, ifname, devs, XLB_MAX_VLANS, n);
		fclose(f);
	} else if (errno != ENOENT) {
		err = -errno;
	}
	if (err)
		goto out;
	/* gone ones first: the walk goes on from a key that stays */
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		if (!find_dev(devs, *n, next)) {
			if (bpf_map_delete_elem(map_fd, &next) && errno != ENOENT) {
				err = -errno;
				goto out;
			}
			continue; /* from the same previous key */
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < *n; i++) {
		struct xlb_vlan cur;

		if (!bpf_map_lookup_elem(map_fd, &devs[i].ifindex, &cur) &&
		    !memcmp(&cur, &devs[i].ids, sizeof(cur)))
			continue;
		if (bpf_map_update_elem(map_fd, &devs[i].ifindex, &devs[i].ids,
					BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(devs);
	return err;
}
