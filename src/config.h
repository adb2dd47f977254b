/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The configuration model of an xlb instance: global settings, services
 * and their backends, as read from a configuration file (xlb run -c FILE),
 * built from the command line (--vip/--backends) or changed at run time
 * (xlb service/backend ...), and written back by `xlb save`.
 *
 * File format (docs/cli.md has the reference): one statement a line,
 * '#' starts a comment, indentation is free (by convention the lines of a
 * service are indented under it):
 *
 *	interface eth0
 *	snat 198.51.100.10
 *	max-flows 262144
 *	timeout-established 6h
 *	metrics 127.0.0.1:9100
 *
 *	service 198.51.100.10:8000/tcp algo wrr slow-start 10s
 *		health http /healthz status 200 interval 2s timeout 1s rise 2 fall 3
 *		backend 198.51.100.11:8000 weight 2
 *		backend 198.51.100.12 weight 1 drain
 *
 * Parsers return 0 or -errno and, on error, write one message into err
 * naming FILE:LINE and the cause ("xlb.conf:7: weight 70000 out of range
 * 0-65535").  Nothing here prints or touches the maps.
 *
 * Some fields are run-time state of the daemon rather than configuration
 * (backend and service ids, health state); the parsers leave them unset
 * and xlb_config_write() does not write them.
 */
#ifndef XLB_CONFIG_H
#define XLB_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>

#include "addr.h"
#include "conntrack.h"
#include "health.h"
#include "loader.h"
#include "sched.h"

#define XLB_ID_NONE 0xffffffffu /* id not assigned yet */
#define XLB_CONFIG_FILE_MAX (16u << 20) /* bytes of a configuration file */

struct xlb_config_backend {
	struct xlb_endpoint ep; /* port always set (default: the VIP's) */
	__u16 weight;           /* 0-65535; 0 = no new flows */
	bool drain;             /* no new flows; weight kept for undrain */
	int line;               /* line in the file, 0 if not from a file */
	/* run time (daemon) */
	__u32 id;          /* backend id, XLB_ID_NONE until applied */
	bool down;         /* out of rotation: failed health checks */
	__u64 up_since_ns; /* came (back) up at, for slow start; 0 = long ago */
};

struct xlb_config_service {
	struct xlb_endpoint vip;
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	enum xlb_algo algo;
	bool health;                  /* active health checks on */
	struct xlb_health_conf check; /* template: addr unset, port 0 = the
				       * backend's port */
	__u32 slow_start_ms;          /* 0 = off */
	struct xlb_config_backend *backends;
	size_t n_backends, cap_backends;
	int line;
	/* run time (daemon) */
	__u32 id;             /* service id, XLB_ID_NONE until applied */
	struct xlb_addr snat; /* source address on the backend leg */
	__u64 sched_sig;      /* signature of the installed schedule */
};

/* Lines of the settings that only take effect at start (for warnings). */
struct xlb_config_lines {
	int max_flows, max_half_open, nat_ports, xdp_mode, interface;
};

struct xlb_config {
	char ifname[IFNAMSIZ]; /* "" = not given */
	struct xlb_addr snat[2]; /* [0] IPv4, [1] IPv6 */
	bool have_snat[2];
	__u32 max_flows;
	__u32 max_half_open; /* 0 = derived from max_flows */
	__u16 nat_port_min, nat_port_max;
	enum xlb_xdp_mode xdp_mode;
	struct xlb_timeouts timeouts;
	char metrics[XLB_SPEC_MAXLEN]; /* ADDR:PORT, "" = off */
	struct xlb_config_service *svcs;
	size_t n_svcs, cap_svcs;
	struct xlb_config_lines lines;
	/* where it was read: the file (xlb_config_parse's name), "the command
	 * line" (xlb run --vip), "" for changes at run time; for the
	 * warnings of xlb_txn_apply, which clears it */
	char source[256];
};

/* Defaults (no service); free with xlb_config_free(). */
void xlb_config_init(struct xlb_config *c);
void xlb_config_free(struct xlb_config *c);
/* Deep copy into dst (initialised here).  0 or -ENOMEM. */
int xlb_config_copy(struct xlb_config *dst, const struct xlb_config *src);

/* Parse text (NUL-terminated) read from the file called name into c
 * (initialised here; freed on error).  0 or -EINVAL / -E2BIG / -ENOMEM
 * with "NAME:LINE: reason" in err. */
int xlb_config_parse(const char *name, const char *text, struct xlb_config *c,
		     char *err, size_t errlen);
/* Read and parse a file; "PATH: cannot read: reason" if it cannot be. */
int xlb_config_load(const char *path, struct xlb_config *c, char *err,
		    size_t errlen);
/* The configuration in the file format (what `xlb save` prints).  0 or
 * -EIO. */
int xlb_config_write(const struct xlb_config *c, FILE *f);

/* Lookups: NULL when absent. */
struct xlb_config_service *xlb_config_service_find(const struct xlb_config *c,
						   const struct xlb_endpoint *vip,
						   __u8 proto);
struct xlb_config_backend *
xlb_config_backend_find(const struct xlb_config_service *s,
			const struct xlb_endpoint *ep);
/* The same, trying position hint first: where a backend is when s is a
 * copy of the configuration searched, or the same file read again (the
 * transaction's walks of two versions of a service, linear instead of
 * quadratic in the number of backends). */
struct xlb_config_backend *
xlb_config_backend_find_near(const struct xlb_config_service *s,
			     const struct xlb_endpoint *ep, size_t hint);

/* Append a service (algo rr, no health check, no backend).  Returns it,
 * or NULL with errno EEXIST (same VIP), E2BIG (XLB_MAX_SERVICES) or
 * ENOMEM. */
struct xlb_config_service *xlb_config_service_add(struct xlb_config *c,
						  const struct xlb_endpoint *vip,
						  __u8 proto);
/* Append a backend.  NULL with errno EEXIST (same address and port),
 * EAFNOSUPPORT (not the VIP's family), E2BIG or ENOMEM. */
struct xlb_config_backend *
xlb_config_backend_add(struct xlb_config_service *s,
		       const struct xlb_endpoint *ep, __u16 weight);
/* Remove the service / backend at index i (order of the others kept). */
void xlb_config_service_del(struct xlb_config *c, size_t i);
void xlb_config_backend_del(struct xlb_config_service *s, size_t i);

/* "198.51.100.10:8000/tcp" */
const char *xlb_config_service_name(const struct xlb_config_service *s,
				    char *buf, size_t len);

/*
 * Health-check spec, the words after "health" in the file (and the value
 * of `xlb service add|set --health`):
 *   none | tcp [OPTION]... | http [PATH] [OPTION]...
 *   OPTION: port N, status N (http), host NAME (http), interval DURATION,
 *           timeout DURATION, rise N, fall N, jitter PERCENT
 * Sets *on and *check (defaults of xlb_health_conf_init() for what is not
 * given).  0 or -EINVAL with the reason in err (no FILE:LINE prefix).
 */
int xlb_health_spec_parse(char *const *words, int n, bool *on,
			  struct xlb_health_conf *check, char *err,
			  size_t errlen);
/* The spec as xlb_health_spec_parse() reads it (defaults left out). */
void xlb_health_spec_write(bool on, const struct xlb_health_conf *check,
			   FILE *f);

/* Durations: N (seconds) or N followed by ms, s, m or h, e.g. 500ms, 2s,
 * 6h.  0 or -EINVAL / -ERANGE (over max_ms). */
int xlb_duration_parse(const char *s, __u64 max_ms, __u64 *ms);
/* The shortest exact form: "500ms", "2s", "6h". */
const char *xlb_duration_str(__u64 ms, char *buf, size_t len);

/* ADDR:PORT to listen on (metrics): 198.51.100.10:9100, [::1]:9100.
 * 0 or -EINVAL with the reason in err. */
int xlb_listen_addr_check(const char *s, char *err, size_t errlen);

/* "auto", "native", "generic" */
int xlb_xdp_mode_parse(const char *s, enum xlb_xdp_mode *mode);
const char *xlb_xdp_mode_name(enum xlb_xdp_mode mode);

/* Index of a family in snat[]. */
static inline int xlb_family_index(__u8 family)
{
	return family == XLB_FAMILY_V6;
}

#endif /* XLB_CONFIG_H */
