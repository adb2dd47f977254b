/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Control channel between the xlb commands and `xlb run`: a Unix stream
 * socket per instance, /run/xlb/IFACE.sock (IFACE@netns<inode>.sock
 * outside the host's network namespace, like the pin directory), in a
 * directory of mode 0700, the socket 0600, and the daemon serves only
 * peers whose SO_PEERCRED uid is its own (root).  Beside it: IFACE.lock
 * (held with flock() by the running daemon; it holds its pid) and
 * IFACE.state (the running configuration, rewritten after every change,
 * for a daemon that restarts without -c).
 *
 * One request per connection: the command's argv (e.g. "backend", "add",
 * "198.51.100.10:8000", "198.51.100.13"), framed as a 32-bit length and
 * NUL-terminated strings; one reply: exit code, then what the command
 * prints on stdout and on stderr.
 *
 * Functions return 0 or -errno and never print.
 */
#ifndef XLB_CTL_H
#define XLB_CTL_H

#include <stddef.h>
#include <sys/types.h>

#define XLB_RUN_DIR "/run/xlb"
#define XLB_CTL_MAX_REQUEST (64u << 10) /* bytes of one request */
#define XLB_CTL_MAX_ARGS 256
#define XLB_CTL_MAX_REPLY (256u << 20)  /* bytes of one reply */
#define XLB_CTL_IO_TIMEOUT_MS 2000      /* daemon: to read a request, to send a reply (+1 ms per 64 KiB) */

/* XLB_RUN_DIR/IFACE[@netnsN]EXT, e.g. ext ".sock". */
int xlb_run_path(const char *ifname, const char *ext, char *buf, size_t len);

/* Take the instance lock (non-blocking) and write our pid in it.
 * -EBUSY with the holder's pid in *holder (0 if unknown) when a live
 * daemon has it. */
int xlb_lock_take(const char *path, int *fd, pid_t *holder);
/* Pid in the lock if a daemon holds it, else 0. */
pid_t xlb_lock_holder(const char *path);

/* Daemon: listening socket at path (stale one replaced), non-blocking. */
int xlb_ctl_listen(const char *path, int *fd);
/* Daemon: accept one client; -EPERM if its uid is not ours (closed). */
int xlb_ctl_accept(int listen_fd, int *fd);
/* Daemon: read the request; *argv is one allocation (free it). */
int xlb_ctl_read_request(int fd, int *argc, char ***argv);
/* Daemon: send the reply. */
int xlb_ctl_write_reply(int fd, int rc, const char *out, size_t out_len,
			const char *err, size_t err_len);

/* Client: send argv to the daemon at path and wait (at most timeout_ms)
 * for the reply; *out and *err are NUL-terminated allocations.
 * -ENOENT / -ECONNREFUSED when no daemon listens. */
int xlb_ctl_call(const char *path, int argc, char *const *argv,
		 int timeout_ms, int *rc, char **out, char **err);

#endif /* XLB_CTL_H */
