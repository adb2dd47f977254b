/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The VLAN devices on the interface xlb runs on, for the XDP program's
 * xlb_vlans map: a tagged frame whose next hop the FIB puts on one of
 * them leaves on the interface with that device's VLAN ids (one-armed
 * routing between VLANs of a trunk port).  Read from the kernel's
 * /proc/net/vlan/config (present once the 8021q module is loaded, which
 * creating a VLAN device does), in the caller's network namespace.
 *
 * Functions return 0 or -errno and never print.
 */
#ifndef XLB_VLAN_H
#define XLB_VLAN_H

#include <stdio.h>
#include "xlb_abi.h"

struct xlb_vlan_dev {
	__u32 ifindex;
	struct xlb_vlan ids;
};

/*
 * The VLAN devices on ifname (one tag) and on those (two tags) listed in
 * f (the format of /proc/net/vlan/config), with their ifindex: at most
 * max in out, their number in *n.  Devices whose ifindex cannot be found
 * (gone meanwhile) are skipped.
 */
int xlb_vlans_read(FILE *f, const char *ifname, struct xlb_vlan_dev *out,
		   size_t max, size_t *n);

/*
 * Make the map (xlb_vlans) hold exactly the VLAN devices on ifname: new
 * and changed ones written, gone ones removed.  No /proc/net/vlan/config
 * (no VLAN device anywhere): the map is emptied.  *n: the devices.
 */
int xlb_vlans_sync(int map_fd, const char *ifname, size_t *n);

#endif /* XLB_VLAN_H */
