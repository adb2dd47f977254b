// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Configuration model, file parser and writer (see config.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include "config.h"
#include "errmsg.h"

#define MAX_WORDS 64
#define MS_PER_S 1000ull
#define TIMEOUT_MAX_MS (30ull * 24 * 3600 * MS_PER_S) /* 30 days */
#define SLOW_START_MAX_MS (3600ull * MS_PER_S)        /* one hour */
#define MAX_FLOWS_MAX (64u << 20)

void xlb_config_init(struct xlb_config *c)
{
	struct xlb_load_opts load = XLB_LOAD_OPTS_DEFAULT;
	struct xlb_timeouts t = XLB_TIMEOUTS_DEFAULT;

	memset(c, 0, sizeof(*c));
	c->max_flows = load.max_flows;
	c->nat_port_min = load.nat_port_min;
	c->nat_port_max = load.nat_port_max;
	c->xdp_mode = XLB_XDP_AUTO;
	c->timeouts = t;
}

void xlb_config_free(struct xlb_config *c)
{
	for (size_t i = 0; i < c->n_svcs; i++)
		free(c->svcs[i].backends);
	free(c->svcs);
	c->svcs = NULL;
	c->n_svcs = c->cap_svcs = 0;
}

int xlb_config_copy(struct xlb_config *dst, const struct xlb_config *src)
{
	*dst = *src;
	dst->svcs = NULL;
	dst->n_svcs = dst->cap_svcs = 0;
	if (!src->n_svcs)
		return 0;
	dst->svcs = calloc(src->n_svcs, sizeof(*dst->svcs));
	if (!dst->svcs)
		return -ENOMEM;
	dst->cap_svcs = src->n_svcs;
	for (size_t i = 0; i < src->n_svcs; i++) {
		const struct xlb_config_service *s = &src->svcs[i];
		struct xlb_config_service *d = &dst->svcs[i];

		*d = *s;
		d->backends = NULL;
		d->n_backends = d->cap_backends = 0;
		dst->n_svcs = i + 1;
		if (!s->n_backends)
			continue;
		d->backends = malloc(s->n_backends * sizeof(*d->backends));
		if (!d->backends) {
			xlb_config_free(dst);
			return -ENOMEM;
		}
		memcpy(d->backends, s->backends,
		       s->n_backends * sizeof(*d->backends));
		d->n_backends = d->cap_backends = s->n_backends;
	}
	return 0;
}

static bool endpoint_eq(const struct xlb_endpoint *a,
			const struct xlb_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

struct xlb_config_service *xlb_config_service_find(const struct xlb_config *c,
						   const struct xlb_endpoint *vip,
						   __u8 proto)
{
	for (size_t i = 0; i < c->n_svcs; i++)
		if (c->svcs[i].proto == proto &&
		    endpoint_eq(&c->svcs[i].vip, vip))
			return &c->svcs[i];
	return NULL;
}

struct xlb_config_backend *
xlb_config_backend_find(const struct xlb_config_service *s,
			const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < s->n_backends; i++)
		if (endpoint_eq(&s->backends[i].ep, ep))
			return &s->backends[i];
	return NULL;
}

struct xlb_config_backend *
xlb_config_backend_find_near(const struct xlb_config_service *s,
			     const struct xlb_endpoint *ep, size_t hint)
{
	if (hint < s->n_backends && endpoint_eq(&s->backends[hint].ep, ep))
		return &s->backends[hint];
	return xlb_config_backend_find(s, ep);
}

struct xlb_config_service *xlb_config_service_add(struct xlb_config *c,
						  const struct xlb_endpoint *vip,
						  __u8 proto)
{
	struct xlb_config_service *s;

	if (xlb_config_service_find(c, vip, proto)) {
		errno = EEXIST;
		return NULL;
	}
	if (c->n_svcs >= XLB_MAX_SERVICES) {
		errno = E2BIG;
		return NULL;
	}
	if (c->n_svcs == c->cap_svcs) {
		size_t cap = c->cap_svcs ? 2 * c->cap_svcs : 8;
		void *p = realloc(c->svcs, cap * sizeof(*c->svcs));

		if (!p) {
			errno = ENOMEM;
			return NULL;
		}
		c->svcs = p;
		c->cap_svcs = cap;
	}
	s = &c->svcs[c->n_svcs++];
	memset(s, 0, sizeof(*s));
	s->vip.addr = vip->addr; /* field by field: no padding garbage */
	s->vip.family = vip->family;
	s->vip.port = vip->port;
	s->proto = proto;
	s->algo = XLB_ALGO_RR;
	xlb_health_conf_init(&s->check);
	s->id = XLB_ID_NONE;
	return s;
}

struct xlb_config_backend *
xlb_config_backend_add(struct xlb_config_service *s,
		       const struct xlb_endpoint *ep, __u16 weight)
{
	struct xlb_config_backend *b;

	if (ep->family != s->vip.family) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (xlb_config_backend_find(s, ep)) {
		errno = EEXIST;
		return NULL;
	}
	if (s->n_backends >= XLB_MAX_BACKENDS) {
		errno = E2BIG;
		return NULL;
	}
	if (s->n_backends == s->cap_backends) {
		size_t cap = s->cap_backends ? 2 * s->cap_backends : 8;
		void *p = realloc(s->backends, cap * sizeof(*s->backends));

		if (!p) {
			errno = ENOMEM;
			return NULL;
		}
		s->backends = p;
		s->cap_backends = cap;
	}
	b = &s->backends[s->n_backends++];
	memset(b, 0, sizeof(*b));
	b->ep.addr = ep->addr;
	b->ep.family = ep->family;
	b->ep.port = ep->port;
	b->weight = weight;
	b->id = XLB_ID_NONE;
	return b;
}

void xlb_config_service_del(struct xlb_config *c, size_t i)
{
	free(c->svcs[i].backends);
	memmove(&c->svcs[i], &c->svcs[i + 1],
		(c->n_svcs - i - 1) * sizeof(*c->svcs));
	c->n_svcs--;
}

void xlb_config_backend_del(struct xlb_config_service *s, size_t i)
{
	memmove(&s->backends[i], &s->backends[i + 1],
		(s->n_backends - i - 1) * sizeof(*s->backends));
	s->n_backends--;
}

const char *xlb_config_service_name(const struct xlb_config_service *s,
				    char *buf, size_t len)
{
	char ep[XLB_ENDPOINT_STRLEN];

	snprintf(buf, len, "%s/%s",
		 xlb_endpoint_str(&s->vip.addr, s->vip.family, s->vip.port, ep,
				  sizeof(ep)),
		 xlb_proto_name(s->proto));
	return buf;
}

/* ------------------------------------------------------------------ */
/* Values                                                               */
/* ------------------------------------------------------------------ */

int xlb_duration_parse(const char *s, __u64 max_ms, __u64 *ms)
{
	static const struct {
		const char *suffix;
		__u64 ms;
	} units[] = { { "ms", 1 }, { "s", MS_PER_S }, { "m", 60 * MS_PER_S },
		      { "h", 3600 * MS_PER_S }, { "", MS_PER_S } };
	char digits[32];
	size_t n = strspn(s, "0123456789");
	__u64 v;

	if (!n || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].suffix))
			continue;
		if (xlb_u64_parse(digits, 0, max_ms / units[i].ms, &v))
			return -ERANGE;
		*ms = v * units[i].ms;
		return *ms > max_ms ? -ERANGE : 0;
	}
	return -EINVAL;
}

const char *xlb_duration_str(__u64 ms, char *buf, size_t len)
{
	if (ms && ms % (3600 * MS_PER_S) == 0)
		snprintf(buf, len, "%lluh", ms / (3600 * MS_PER_S));
	else if (ms && ms % (60 * MS_PER_S) == 0)
		snprintf(buf, len, "%llum", ms / (60 * MS_PER_S));
	else if (ms % MS_PER_S == 0)
		snprintf(buf, len, "%llus", ms / MS_PER_S);
	else
		snprintf(buf, len, "%llums", ms);
	return buf;
}

int xlb_xdp_mode_parse(const char *s, enum xlb_xdp_mode *mode)
{
	if (!strcmp(s, "auto"))
		*mode = XLB_XDP_AUTO;
	else if (!strcmp(s, "native"))
		*mode = XLB_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		*mode = XLB_XDP_GENERIC;
	else
		return -EINVAL;
	return 0;
}

const char *xlb_xdp_mode_name(enum xlb_xdp_mode mode)
{
	switch (mode) {
	case XLB_XDP_NATIVE:
		return "native";
	case XLB_XDP_GENERIC:
		return "generic";
	default:
		return "auto";
	}
}

#define errmsg(err, errlen, ...) xlb_errmsg(err, errlen, -EINVAL, __VA_ARGS__)

static int count_parse(const char *what, const char *s, __u64 min, __u64 max,
		       __u64 *v, char *err, size_t errlen)
{
	if (xlb_u64_parse(s, min, max, v))
		return errmsg(err, errlen,
			      "%s \"%s\": give a number from %llu to %llu",
			      what, s, (unsigned long long)min,
			      (unsigned long long)max);
	return 0;
}

static int duration_arg(const char *what, const char *s, __u64 min_ms,
			__u64 max_ms, __u64 *ms, char *err, size_t errlen)
{
	char a[32], b[32];
	int rc = xlb_duration_parse(s, max_ms, ms);

	if (!rc && *ms >= min_ms)
		return 0;
	return errmsg(err, errlen,
		      "%s \"%s\": give a duration from %s to %s (e.g. 500ms, "
		      "2s, 5m, 6h; a bare number is seconds)",
		      what, s, xlb_duration_str(min_ms, a, sizeof(a)),
		      xlb_duration_str(max_ms, b, sizeof(b)));
}

/* A health option's name (so that "http status 200 fall" is an option
 * without its value, not a path without its '/'). */
static bool health_option_name(const char *k)
{
	static const char *const names[] = { "port", "interval", "timeout",
					     "rise", "fall", "jitter",
					     "status", "host" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(k, names[i]))
			return true;
	return false;
}

int xlb_health_spec_parse(char *const *w, int n, bool *on,
			  struct xlb_health_conf *check, char *err,
			  size_t errlen)
{
	struct xlb_health_conf c, probe;
	__u64 v;
	int i = 1;

	xlb_health_conf_init(&c);
	if (n < 1)
		return errmsg(err, errlen,
			      "health: give none, tcp or http [PATH], then "
			      "options");
	if (!strcmp(w[0], "none")) {
		if (n > 1)
			return errmsg(err, errlen,
				      "health none takes no option (\"%s\")",
				      w[1]);
		*on = false;
		*check = c;
		return 0;
	}
	if (!strcmp(w[0], "tcp")) {
		c.kind = XLB_HEALTH_TCP;
		if (n > 1 && w[1][0] == '/')
			return errmsg(err, errlen,
				      "tcp health checks take no path "
				      "(\"%s\"): http checks do, e.g. "
				      "http %s",
				      w[1], w[1]);
	} else if (!strcmp(w[0], "http")) {
		c.kind = XLB_HEALTH_HTTP;
		strcpy(c.http_path, "/");
		if (n > 1 && w[1][0] != '/' && n % 2 == 0 &&
		    !health_option_name(w[1]))
			return errmsg(err, errlen,
				      "health path \"%s\" must start with '/'",
				      w[1]);
		if (n > 1 && w[1][0] == '/') {
			if (strlen(w[1]) >= sizeof(c.http_path))
				return errmsg(err, errlen,
					      "health path is too long (at "
					      "most %zu bytes)",
					      sizeof(c.http_path) - 1);
			strcpy(c.http_path, w[1]);
			i = 2;
		}
	} else {
		return errmsg(err, errlen,
			      "unknown health check \"%s\": use none, tcp or "
			      "http",
			      w[0]);
	}
	for (int first = i; i < n; i += 2) {
		const char *k = w[i], *val = i + 1 < n ? w[i + 1] : NULL;
		int rc = 0;

		if (!val)
			return errmsg(err, errlen,
				      "health option \"%s\" needs a value", k);
		for (int j = first; j < i; j += 2)
			if (!strcmp(w[j], k))
				return errmsg(err, errlen,
					      "health option \"%s\" is given "
					      "twice",
					      k);
		if (!strcmp(k, "port")) {
			rc = count_parse("health port", val, 1, 65535, &v, err,
					 errlen);
			c.port = v;
		} else if (!strcmp(k, "interval")) {
			rc = duration_arg("health interval", val,
					  XLB_HEALTH_INTERVAL_MS_MIN,
					  XLB_HEALTH_MS_MAX, &v, err, errlen);
			c.interval_ms = v;
		} else if (!strcmp(k, "timeout")) {
			rc = duration_arg("health timeout", val, 1,
					  XLB_HEALTH_MS_MAX, &v, err, errlen);
			c.timeout_ms = v;
		} else if (!strcmp(k, "rise")) {
			rc = count_parse("health rise", val, 1,
					 XLB_HEALTH_COUNT_MAX, &v, err, errlen);
			c.rise = v;
		} else if (!strcmp(k, "fall")) {
			rc = count_parse("health fall", val, 1,
					 XLB_HEALTH_COUNT_MAX, &v, err, errlen);
			c.fall = v;
		} else if (!strcmp(k, "jitter")) {
			rc = count_parse("health jitter", val, 0,
					 XLB_HEALTH_JITTER_PCT_MAX, &v, err,
					 errlen);
			c.jitter_pct = v;
		} else if (!strcmp(k, "status") &&
			   c.kind == XLB_HEALTH_HTTP) {
			if (!strcmp(val, "any")) {
				c.http_status = 0;
			} else {
				rc = count_parse("health status", val, 100,
						 599, &v, err, errlen);
				c.http_status = v;
			}
		} else if (!strcmp(k, "host") && c.kind == XLB_HEALTH_HTTP) {
			if (strlen(val) >= sizeof(c.http_host))
				return errmsg(err, errlen,
					      "health host is too long");
			strcpy(c.http_host, val);
		} else {
			return errmsg(err, errlen,
				      "unknown %s health option \"%s\" (use "
				      "port, interval, timeout, rise, fall, "
				      "jitter%s)",
				      w[0], k,
				      c.kind == XLB_HEALTH_HTTP ?
					      ", status, host" :
					      "");
		}
		if (rc)
			return rc;
	}
	/* the engine's own checks, on a stand-in target */
	probe = c;
	probe.family = XLB_FAMILY_V4;
	if (!probe.port)
		probe.port = 1;
	if (xlb_health_conf_check(&probe, err, errlen))
		return -EINVAL;
	*on = true;
	*check = c;
	return 0;
}

void xlb_health_spec_write(bool on, const struct xlb_health_conf *c, FILE *f)
{
	struct xlb_health_conf d;
	char buf[32];

	if (!on) {
		fputs("none", f);
		return;
	}
	xlb_health_conf_init(&d);
	fputs(c->kind == XLB_HEALTH_HTTP ? "http" : "tcp", f);
	if (c->kind == XLB_HEALTH_HTTP) {
		fprintf(f, " %s", c->http_path[0] ? c->http_path : "/");
		if (c->http_status != d.http_status) {
			if (c->http_status)
				fprintf(f, " status %u", c->http_status);
			else
				fputs(" status any", f);
		}
		if (c->http_host[0])
			fprintf(f, " host %s", c->http_host);
	}
	if (c->port)
		fprintf(f, " port %u", c->port);
	fprintf(f, " interval %s",
		xlb_duration_str(c->interval_ms, buf, sizeof(buf)));
	fprintf(f, " timeout %s",
		xlb_duration_str(c->timeout_ms, buf, sizeof(buf)));
	fprintf(f, " rise %u fall %u", c->rise, c->fall);
	if (c->jitter_pct)
		fprintf(f, " jitter %u", c->jitter_pct);
}

int xlb_listen_addr_check(const char *s, char *err, size_t errlen)
{
	char host[XLB_SPEC_MAXLEN];
	const char *colon = strrchr(s, ':');
	struct xlb_addr a;
	size_t hl;
	__u8 fam;
	__u64 port;

	if (!colon || strlen(s) >= sizeof(host))
		goto bad;
	hl = colon - s;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (host[0] == '[') {
		if (hl < 2 || host[hl - 1] != ']')
			goto bad;
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
		if (!strchr(host, ':'))
			goto bad;
	} else if (strchr(host, ':')) {
		goto bad;
	}
	if (xlb_addr_parse(host, &a, &fam, NULL, 0) ||
	    xlb_u64_parse(colon + 1, 1, 65535, &port))
		goto bad;
	return 0;
bad:
	return errmsg(err, errlen,
		      "metrics \"%s\": give ADDR:PORT, e.g. 127.0.0.1:9100 or "
		      "[::1]:9100, or off",
		      s);
}

/* ------------------------------------------------------------------ */
/* Parser                                                               */
/* ------------------------------------------------------------------ */

enum global_key {
	K_INTERFACE,
	K_SNAT4,
	K_SNAT6,
	K_MAX_FLOWS,
	K_MAX_HALF_OPEN,
	K_NAT_PORTS,
	K_XDP_MODE,
	K_TIMEOUT_SYN,
	K_TIMEOUT_ESTABLISHED,
	K_TIMEOUT_CLOSING,
	K_TIMEOUT_CLOSED,
	K_TIMEOUT_UDP,
	K_METRICS,
	K_MAX,
};

struct parser {
	const char *name;
	int line;
	char *err;
	size_t errlen;
	struct xlb_config *c;
	struct xlb_config_service *svc; /* the service being read */
	int health_line;                /* of svc, 0 = none yet */
	int seen[K_MAX];                /* line of each global, 0 = not yet */
};

static int perr(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return errmsg(p->err, p->errlen, "%s:%d: %s", p->name, p->line, msg);
}

/* The reason in err, prefixed with NAME:LINE. */
static int perr_prefix(struct parser *p)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", p->err);
	return perr(p, "%s", msg);
}

static int once(struct parser *p, enum global_key k, const char *word)
{
	if (p->seen[k])
		return perr(p, "%s is given twice (first at line %d)", word,
			    p->seen[k]);
	p->seen[k] = p->line;
	return 0;
}

static int nargs(struct parser *p, char **w, int n, int want)
{
	if (n - 1 < want)
		return perr(p, "%s needs a value", w[0]);
	if (n - 1 > want)
		return perr(p, "unexpected \"%s\" after %s %s", w[want + 1],
			    w[0], w[1]);
	return 0;
}

static int parse_timeout(struct parser *p, char **w, int n, __u64 *ns)
{
	__u64 ms;

	if (nargs(p, w, n, 1))
		return -EINVAL;
	if (duration_arg(w[0], w[1], MS_PER_S, TIMEOUT_MAX_MS, &ms, p->err,
			 p->errlen))
		return perr_prefix(p);
	*ns = ms * (XLB_NS_PER_SEC / MS_PER_S);
	return 0;
}

static int parse_global(struct parser *p, char **w, int n)
{
	static const struct {
		const char *word;
		enum global_key key;
		size_t offset; /* in struct xlb_timeouts */
	} timeouts[] = {
		{ "timeout-syn", K_TIMEOUT_SYN,
		  offsetof(struct xlb_timeouts, syn_ns) },
		{ "timeout-established", K_TIMEOUT_ESTABLISHED,
		  offsetof(struct xlb_timeouts, established_ns) },
		{ "timeout-closing", K_TIMEOUT_CLOSING,
		  offsetof(struct xlb_timeouts, closing_ns) },
		{ "timeout-closed", K_TIMEOUT_CLOSED,
		  offsetof(struct xlb_timeouts, closed_ns) },
		{ "timeout-udp", K_TIMEOUT_UDP,
		  offsetof(struct xlb_timeouts, udp_ns) },
	};
	struct xlb_config *c = p->c;
	__u64 v;

	if (!strcmp(w[0], "interface")) {
		if (nargs(p, w, n, 1) || once(p, K_INTERFACE, w[0]))
			return -EINVAL;
		if (strlen(w[1]) >= IFNAMSIZ)
			return perr(p, "interface name \"%s\" is too long",
				    w[1]);
		strcpy(c->ifname, w[1]);
		c->lines.interface = p->line;
		return 0;
	}
	if (!strcmp(w[0], "snat")) {
		struct xlb_addr a;
		__u8 fam;

		if (nargs(p, w, n, 1))
			return -EINVAL;
		if (xlb_addr_parse(w[1], &a, &fam, p->err, p->errlen))
			return perr_prefix(p);
		if (once(p, fam == XLB_FAMILY_V6 ? K_SNAT6 : K_SNAT4,
			 fam == XLB_FAMILY_V6 ? "snat (IPv6)" : "snat (IPv4)"))
			return -EINVAL;
		c->snat[xlb_family_index(fam)] = a;
		c->have_snat[xlb_family_index(fam)] = true;
		return 0;
	}
	if (!strcmp(w[0], "max-flows")) {
		if (nargs(p, w, n, 1) || once(p, K_MAX_FLOWS, w[0]))
			return -EINVAL;
		if (count_parse("max-flows", w[1], 1, MAX_FLOWS_MAX, &v,
				p->err, p->errlen))
			return perr_prefix(p);
		c->max_flows = v;
		c->lines.max_flows = p->line;
		return 0;
	}
	if (!strcmp(w[0], "max-half-open")) {
		if (nargs(p, w, n, 1) || once(p, K_MAX_HALF_OPEN, w[0]))
			return -EINVAL;
		if (count_parse("max-half-open", w[1], XLB_MIN_HALF_OPEN,
				MAX_FLOWS_MAX, &v, p->err, p->errlen))
			return perr_prefix(p);
		c->max_half_open = v;
		c->lines.max_half_open = p->line;
		return 0;
	}
	if (!strcmp(w[0], "nat-ports")) {
		if (nargs(p, w, n, 1) || once(p, K_NAT_PORTS, w[0]))
			return -EINVAL;
		if (xlb_port_range_parse(w[1], &c->nat_port_min,
					 &c->nat_port_max, p->err, p->errlen))
			return perr_prefix(p);
		c->lines.nat_ports = p->line;
		return 0;
	}
	if (!strcmp(w[0], "xdp-mode")) {
		if (nargs(p, w, n, 1) || once(p, K_XDP_MODE, w[0]))
			return -EINVAL;
		if (xlb_xdp_mode_parse(w[1], &c->xdp_mode))
			return perr(p,
				    "unknown xdp-mode \"%s\": use auto, native "
				    "or generic",
				    w[1]);
		c->lines.xdp_mode = p->line;
		return 0;
	}
	if (!strcmp(w[0], "metrics")) {
		if (nargs(p, w, n, 1) || once(p, K_METRICS, w[0]))
			return -EINVAL;
		if (!strcmp(w[1], "off")) {
			c->metrics[0] = 0;
			return 0;
		}
		if (xlb_listen_addr_check(w[1], p->err, p->errlen))
			return perr_prefix(p);
		snprintf(c->metrics, sizeof(c->metrics), "%s", w[1]);
		return 0;
	}
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		if (strcmp(w[0], timeouts[i].word))
			continue;
		if (once(p, timeouts[i].key, w[0]))
			return -EINVAL;
		return parse_timeout(p, w, n,
				     (__u64 *)((char *)&c->timeouts +
					       timeouts[i].offset));
	}
	return 1; /* not a global keyword */
}

static int parse_service(struct parser *p, char **w, int n)
{
	struct xlb_config_service *s, *o;
	struct xlb_endpoint vip;
	char name[XLB_SPEC_MAXLEN + 8];
	__u8 proto;
	__u64 ms;

	if (n < 2)
		return perr(p, "service needs VIP:PORT[/tcp|/udp]");
	if (xlb_vip_parse(w[1], &vip, &proto, p->err, p->errlen))
		return perr_prefix(p);
	o = xlb_config_service_find(p->c, &vip, proto);
	if (o)
		return perr(p, "service %s is given twice (first at line %d)",
			    xlb_config_service_name(o, name, sizeof(name)),
			    o->line);
	s = xlb_config_service_add(p->c, &vip, proto);
	if (!s)
		return errno == E2BIG ?
			       perr(p, "too many services: at most %d",
				    XLB_MAX_SERVICES) :
			       perr(p, "out of memory");
	s->line = p->line;
	for (int i = 2; i < n; i += 2) {
		if (i + 1 >= n)
			return perr(p, "service option \"%s\" needs a value",
				    w[i]);
		for (int j = 2; j < i; j += 2)
			if (!strcmp(w[j], w[i]))
				return perr(p, "service option \"%s\" is given "
					    "twice",
					    w[i]);
		if (!strcmp(w[i], "algo")) {
			if (xlb_algo_parse(w[i + 1], &s->algo))
				return perr(p,
					    "unknown algo \"%s\": use rr, wrr, "
					    "mh or wlc",
					    w[i + 1]);
		} else if (!strcmp(w[i], "slow-start")) {
			if (duration_arg("slow-start", w[i + 1], 0,
					 SLOW_START_MAX_MS, &ms, p->err,
					 p->errlen))
				return perr_prefix(p);
			s->slow_start_ms = ms;
		} else {
			return perr(p,
				    "unknown service option \"%s\" (use algo, "
				    "slow-start)",
				    w[i]);
		}
	}
	p->svc = s;
	p->health_line = 0;
	return 0;
}

static int parse_backend(struct parser *p, char **w, int n)
{
	struct xlb_config_service *s = p->svc;
	struct xlb_config_backend *b, *o;
	struct xlb_backend_arg arg;
	char name[XLB_SPEC_MAXLEN + 8], ep[XLB_ENDPOINT_STRLEN];
	bool drain = false, weight_given = false;
	__u16 weight = XLB_BACKEND_WEIGHT_DEFAULT;
	size_t got;
	__u64 v;

	if (!s)
		return perr(p, "backend outside a service: put it after a "
			       "service line");
	if (n < 2)
		return perr(p, "backend needs ADDR[:PORT]");
	if (strpbrk(w[1], ",@"))
		return perr(p,
			    "backend \"%s\": one ADDR[:PORT] a line; the weight "
			    "is \"weight N\"",
			    w[1]);
	if (xlb_backends_parse(w[1], s->vip.port, &arg, 1, &got, p->err,
			       p->errlen))
		return perr_prefix(p);
	for (int i = 2; i < n; i++) {
		if ((!strcmp(w[i], "drain") && drain) ||
		    (!strcmp(w[i], "weight") && weight_given))
			return perr(p, "backend option \"%s\" is given twice",
				    w[i]);
		if (!strcmp(w[i], "drain")) {
			drain = true;
		} else if (!strcmp(w[i], "weight")) {
			weight_given = true;
			if (++i >= n)
				return perr(p, "weight needs a value");
			if (count_parse("weight", w[i], 0,
					XLB_BACKEND_WEIGHT_MAX, &v, p->err,
					p->errlen))
				return perr_prefix(p);
			weight = v;
		} else {
			return perr(p,
				    "unknown backend option \"%s\" (use weight "
				    "N, drain)",
				    w[i]);
		}
	}
	xlb_endpoint_str(&arg.ep.addr, arg.ep.family, arg.ep.port, ep,
			 sizeof(ep));
	if (arg.ep.family != s->vip.family)
		return perr(p, "backend %s is IPv%d but service %s is IPv%d",
			    ep, arg.ep.family,
			    xlb_config_service_name(s, name, sizeof(name)),
			    s->vip.family);
	o = xlb_config_backend_find(s, &arg.ep);
	if (o)
		return perr(p, "backend %s is given twice in service %s "
			       "(first at line %d)",
			    ep, xlb_config_service_name(s, name, sizeof(name)),
			    o->line);
	b = xlb_config_backend_add(s, &arg.ep, weight);
	if (!b)
		return errno == E2BIG ?
			       perr(p, "too many backends: at most %d",
				    XLB_MAX_BACKENDS) :
			       perr(p, "out of memory");
	b->drain = drain;
	b->line = p->line;
	return 0;
}

static int parse_health(struct parser *p, char **w, int n)
{
	if (!p->svc)
		return perr(p, "health outside a service: put it after a "
			       "service line");
	if (p->health_line)
		return perr(p,
			    "health is given twice for this service (first at "
			    "line %d)",
			    p->health_line);
	if (xlb_health_spec_parse(w + 1, n - 1, &p->svc->health,
				  &p->svc->check, p->err, p->errlen))
		return perr_prefix(p);
	p->health_line = p->line;
	return 0;
}

/* Split one line (modified in place) into words; '#' starts a comment. */
static int split(char *line, char **w, int max)
{
	int n = 0;

	for (char *s = line; *s;) {
		s += strspn(s, " \t\r");
		if (!*s || *s == '#')
			break;
		if (n == max)
			return -E2BIG;
		w[n++] = s;
		s += strcspn(s, " \t\r#");
		if (*s == '#') {
			*s = 0;
			break;
		}
		if (*s)
			*s++ = 0;
	}
	return n;
}

static int parse_line(struct parser *p, char *line)
{
	char *w[MAX_WORDS];
	int n = split(line, w, MAX_WORDS), rc;

	if (n < 0)
		return perr(p, "too many words (at most %d)", MAX_WORDS);
	if (!n)
		return 0;
	if (!strcmp(w[0], "service"))
		return parse_service(p, w, n);
	if (!strcmp(w[0], "backend"))
		return parse_backend(p, w, n);
	if (!strcmp(w[0], "health"))
		return parse_health(p, w, n);
	rc = parse_global(p, w, n);
	if (rc <= 0)
		return rc;
	return perr(p,
		    "unknown keyword \"%s\" (expected service, backend, health, "
		    "interface, snat, max-flows, max-half-open, nat-ports, "
		    "xdp-mode, timeout-*, metrics)",
		    w[0]);
}

int xlb_config_parse(const char *name, const char *text, struct xlb_config *c,
		     char *err, size_t errlen)
{
	struct parser p = { .name = name, .err = err, .errlen = errlen, .c = c };
	char *copy = strdup(text), *line, *next;
	int rc = 0;

	xlb_config_init(c);
	snprintf(c->source, sizeof(c->source), "%s", name);
	if (!copy) {
		errmsg(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	for (line = copy; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		p.line++;
		rc = parse_line(&p, line);
	}
	free(copy);
	if (rc)
		xlb_config_free(c);
	return rc;
}

int xlb_config_load(const char *path, struct xlb_config *c, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	char *text;
	size_t n;
	int rc;

	xlb_config_init(c);
	if (!f) {
		rc = -errno;
		errmsg(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > XLB_CONFIG_FILE_MAX) {
		fclose(f);
		return errmsg(err, errlen,
			      "%s: cannot read: not a regular file of at most "
			      "%u bytes",
			      path, XLB_CONFIG_FILE_MAX);
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		fclose(f);
		errmsg(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = fread(text, 1, st.st_size, f);
	fclose(f);
	text[n] = 0;
	if (strlen(text) != n) {
		free(text);
		return errmsg(err, errlen, "%s: cannot read: NUL byte in file",
			      path);
	}
	rc = xlb_config_parse(path, text, c, err, errlen);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writer                                                               */
/* ------------------------------------------------------------------ */

static void write_service(const struct xlb_config_service *s, FILE *f)
{
	char name[XLB_SPEC_MAXLEN + 8], ep[XLB_ENDPOINT_STRLEN], d[32];

	fprintf(f, "\nservice %s algo %s",
		xlb_config_service_name(s, name, sizeof(name)),
		xlb_algo_name(s->algo));
	if (s->slow_start_ms)
		fprintf(f, " slow-start %s",
			xlb_duration_str(s->slow_start_ms, d, sizeof(d)));
	fputc('\n', f);
	if (s->health) {
		fputs("\thealth ", f);
		xlb_health_spec_write(true, &s->check, f);
		fputc('\n', f);
	}
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct xlb_config_backend *b = &s->backends[i];

		fprintf(f, "\tbackend %s weight %u%s\n",
			xlb_endpoint_str(&b->ep.addr, b->ep.family, b->ep.port,
					 ep, sizeof(ep)),
			b->weight, b->drain ? " drain" : "");
	}
}

static void write_timeout(FILE *f, const char *word, __u64 ns, __u64 def_ns)
{
	char buf[32];

	if (ns != def_ns)
		fprintf(f, "%s %s\n", word,
			xlb_duration_str(ns / (XLB_NS_PER_SEC / MS_PER_S), buf,
					 sizeof(buf)));
}

int xlb_config_write(const struct xlb_config *c, FILE *f)
{
	const struct xlb_timeouts *t = &c->timeouts;
	struct xlb_config d;
	char buf[XLB_ENDPOINT_STRLEN];

	xlb_config_init(&d);
	fputs("# xlb configuration\n", f);
	if (c->ifname[0])
		fprintf(f, "interface %s\n", c->ifname);
	for (int i = 0; i < 2; i++)
		if (c->have_snat[i])
			fprintf(f, "snat %s\n",
				xlb_addr_str(&c->snat[i],
					     i ? XLB_FAMILY_V6 : XLB_FAMILY_V4,
					     buf, sizeof(buf)));
	if (c->max_flows != d.max_flows)
		fprintf(f, "max-flows %u\n", c->max_flows);
	if (c->max_half_open)
		fprintf(f, "max-half-open %u\n", c->max_half_open);
	if (c->nat_port_min != d.nat_port_min ||
	    c->nat_port_max != d.nat_port_max)
		fprintf(f, "nat-ports %u-%u\n", c->nat_port_min,
			c->nat_port_max);
	if (c->xdp_mode != XLB_XDP_AUTO)
		fprintf(f, "xdp-mode %s\n", xlb_xdp_mode_name(c->xdp_mode));
	write_timeout(f, "timeout-syn", t->syn_ns, d.timeouts.syn_ns);
	write_timeout(f, "timeout-established", t->established_ns,
		      d.timeouts.established_ns);
	write_timeout(f, "timeout-closing", t->closing_ns,
		      d.timeouts.closing_ns);
	write_timeout(f, "timeout-closed", t->closed_ns, d.timeouts.closed_ns);
	write_timeout(f, "timeout-udp", t->udp_ns, d.timeouts.udp_ns);
	if (c->metrics[0])
		fprintf(f, "metrics %s\n", c->metrics);
	for (size_t i = 0; i < c->n_svcs; i++)
		write_service(&c->svcs[i], f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
