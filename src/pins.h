/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned state of an instance, which outlives `xlb run`: the maps and
 * the XDP link under its pin directory (xlb_pin_dir()).  While they are
 * pinned the XDP program keeps forwarding with nobody running; a new
 * `xlb run` reuses every pinned map (xlb_load_opts.reuse_dir), loads its
 * program and swaps it into the pinned link in one atomic update.
 * `xlb stop` detaches the link and removes the pins.
 *
 * Functions return 0 or -errno and never print.
 */
#ifndef XLB_PINS_H
#define XLB_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>

#include "loader.h"

/* Name of the pinned XDP link in the pin directory. */
#define XLB_LINK_PIN_NAME "xlb_link"

/* Whether dir holds pinned state (any map or the link). */
bool xlb_pins_exist(const char *dir);

/* Check that every map pinned in dir fits this program's definition
 * (type, key and value sizes, flags; sizes of tables may differ: the
 * pinned ones are kept; a shorter per-CPU array grows).  -EINVAL with the map's
 * name in bad otherwise. */
int xlb_pins_compatible(const char *dir, char *bad, size_t badlen);

/* Before load: make obj use every map pinned in dir (xlb_load() calls it
 * when xlb_load_opts.reuse_dir is set). */
int xlb_maps_reuse(struct bpf_object *obj, const char *dir);

/* After load: pin the maps of obj that dir does not hold yet (all of them
 * on a first start), and those that replace a shorter pinned per-CPU
 * array (an older version's counters), its entries copied over.  dir is created (0700) if
 * needed. */
int xlb_pins_complete(struct bpf_object *obj, const char *dir);

/*
 * Attach prog_fd to ifindex through a new BPF link: native XDP, else (in
 * auto mode) generic.  *native tells which took.  -EEXIST/-EBUSY when the
 * interface already has an XDP program.
 */
int xlb_link_attach(int prog_fd, int ifindex, enum xlb_xdp_mode mode,
		    int *link_fd, bool *native);

/*
 * Open the link pinned in dir if it still attaches an XDP program to
 * ifindex; *native from the interface's attach mode.  -ENOENT when none is
 * pinned, -ESTALE when the pinned one is detached or elsewhere (e.g. the
 * interface was re-created).
 */
int xlb_link_open(const char *dir, int ifindex, int *link_fd, bool *native);

/* Swap prog_fd into the link, atomically. */
/* Is the XDP link link_fd still attached to ifindex?  (Deleting the
 * interface detaches it.)  True if its info cannot be read. */
bool xlb_link_on(int link_fd, int ifindex);

/* Is the XDP link pinned in dir, if any, attached to our ifindex (the
 * program there is the link's)?  0 yes, or no link, or a stale one (on
 * another interface number, or detached); -EXDEV if it is attached to an
 * interface of that number in another network namespace (one that shares
 * this bpffs and names its pin directory as we do: a container with a PID
 * namespace of its own); or -errno. */
int xlb_link_owned(const char *dir, int ifindex);
int xlb_link_update(int link_fd, int prog_fd);

/* Pin / unpin the link in dir. */
int xlb_link_pin(int link_fd, const char *dir);
void xlb_link_unpin(const char *dir);

/* Detach whatever link is pinned in dir, then remove every pin and the
 * directory.  0 if there was nothing. */
int xlb_pins_remove(const char *dir);

#endif /* XLB_PINS_H */
