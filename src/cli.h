/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Command layer: entry points of the xlb commands and what they share.
 * Only this layer prints; it prints one message naming the object and the
 * cause, and returns an exit code. */
#ifndef XLB_CLI_H
#define XLB_CLI_H

#include <stdbool.h>
#include "maps.h"

#define XLB_EXIT_OK 0
#define XLB_EXIT_RUNTIME 1
#define XLB_EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_conns(int argc, char **argv);
/* service, backend, show, save, reload, stop: through the daemon */
int cmd_ctl(int argc, char **argv);

/* "xlb: <message>" on stderr. */
void xlb_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "xlb: warning: <line>" on stderr for each line of text. */
void xlb_warn_lines(const char *text);
/* "xlb: <message>" on stdout, flushed: the daemon's log of changes. */
void xlb_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open the maps of the instance on ifname, or of the only instance when
 * ifname is NULL (picked by xlb_instance_pick, as the control commands
 * pick it); name (IFNAMSIZ) gets its interface.  Prints the error and
 * returns an exit code (0 on success). */
int xlb_open_instance(const char *ifname, struct xlb_maps *m, char *name);

/* The instance a control command addresses: ifname, or else the only one
 * in this network namespace (a daemon socket or pinned state).  name
 * (IFNAMSIZ) gets it.  Prints the error and returns an exit code. */
int xlb_instance_pick(const char *ifname, char *name);

/* Parse -i IFACE and -j from argv for the read-only commands; unknown
 * options are a usage error.  Returns 0 or an exit code. */
struct xlb_view_args {
	const char *ifname;
	bool json;
};
int xlb_view_args_parse(int argc, char **argv, const char *cmd,
			struct xlb_view_args *a);

#endif
