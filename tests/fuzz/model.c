// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reference model of the xlb data path (see model.h). */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "model.h"
#include "stats.h"

#define ETH_HLEN 14
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* ------------------------------------------------------------------ */
/* Checksums                                                           */
/* ------------------------------------------------------------------ */

uint64_t m_sum(const uint8_t *p, size_t n, uint64_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += rd16(p + i);
	if (n & 1)
		acc += (uint64_t)p[n - 1] << 8;
	return acc;
}

uint16_t m_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* Pseudo-header sum of an L4 segment (RFC 768/793, RFC 8200 8.1). */
static uint64_t pseudo_sum(uint8_t family, const uint8_t *src,
			   const uint8_t *dst, uint8_t proto, size_t seg_len)
{
	uint64_t acc = 0;

	if (family == 4) {
		acc = m_sum(src, 4, acc);
		acc = m_sum(dst, 4, acc);
		acc += proto;
		acc += seg_len;
	} else {
		acc = m_sum(src, 16, acc);
		acc = m_sum(dst, 16, acc);
		acc += (seg_len >> 16) + (seg_len & 0xffff);
		acc += proto;
	}
	return acc;
}

/* Sum of a region with its checksum field (at field, inside the region)
 * counted as zero, plus pseudo. */
static uint16_t sum_without_field(const uint8_t *f, size_t start, size_t len,
				  size_t field, uint64_t pseudo)
{
	uint64_t acc = m_sum(f + start, len, pseudo);

	return m_fold(acc - rd16(f + field)); /* the field is in acc */
}

/*
 * The value of a checksum field such that the region (plus pseudo) sums
 * to `target`, the sum the same region had in the input: 0xffff for a
 * valid input, anything else for a broken one (whose error is kept, as
 * an incremental update keeps it).  Computed from scratch.
 */
static uint16_t csum_keep(const uint8_t *f, size_t start, size_t len,
			  size_t field, uint64_t pseudo, uint16_t target)
{
	uint16_t rest = sum_without_field(f, start, len, field, pseudo);

	return m_fold((uint64_t)target + (uint16_t)~rest);
}

/* Total sum of a region of the input, its checksum field included. */
static uint16_t sum_total(const uint8_t *f, size_t start, size_t len,
			  uint64_t pseudo)
{
	return m_fold(m_sum(f + start, len, pseudo));
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

/* FNV-1a over a key's bytes (padding included: keys are zeroed). */
static uint64_t bytes_hash(const void *k, size_t n)
{
	const uint8_t *p = k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static bool key_eq(const struct xlb_flow_key *a, const struct xlb_flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The key of entry e: right after its node. */
static void *set_key(const struct m_node *e)
{
	return (char *)e + sizeof(*e);
}

static int set_init(struct m_set *s, size_t n_buckets, size_t cap,
		    size_t key_size)
{
	memset(s, 0, sizeof(*s));
	s->n_buckets = n_buckets;
	s->key_size = key_size;
	s->buckets = calloc(n_buckets, sizeof(*s->buckets));
	s->cap_items = cap;
	s->items = calloc(cap, sizeof(*s->items));
	return s->buckets && s->items ? 0 : -1;
}

static void set_clear(struct m_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	s->n = 0;
	memset(s->buckets, 0, s->n_buckets * sizeof(*s->buckets));
}

static void set_free(struct m_set *s)
{
	set_clear(s);
	free(s->buckets);
	free(s->items);
}

static struct m_node **set_bucket(const struct m_set *s, const void *key)
{
	return &s->buckets[bytes_hash(key, s->key_size) % s->n_buckets];
}

static void *set_find(const struct m_set *s, const void *key)
{
	struct m_node *e = *set_bucket(s, key);

	for (; e; e = e->next)
		if (!memcmp(set_key(e), key, s->key_size))
			return e;
	return NULL;
}

/* A new entry of entry_size bytes (zeroed, its key set; key absent). */
static void *set_add(struct m_set *s, const void *key, size_t entry_size)
{
	struct m_node **b = set_bucket(s, key), *e;

	if (s->n == s->cap_items) {
		void *n = realloc(s->items, 2 * s->cap_items * sizeof(*s->items));

		if (!n)
			abort();
		s->items = n;
		s->cap_items *= 2;
	}
	e = calloc(1, entry_size);
	if (!e)
		abort();
	memcpy(set_key(e), key, s->key_size);
	e->next = *b;
	*b = e;
	e->idx = s->n;
	s->items[s->n++] = e;
	return e;
}

/* 0, or -ENOENT (-2). */
static int set_delete(struct m_set *s, const void *key)
{
	struct m_node **pp = set_bucket(s, key), *e, *last;

	for (; (e = *pp); pp = &e->next) {
		if (memcmp(set_key(e), key, s->key_size))
			continue;
		*pp = e->next;
		last = s->items[--s->n];
		s->items[e->idx] = last;
		last->idx = e->idx;
		free(e);
		return 0;
	}
	return -2;
}

_Static_assert(offsetof(struct m_entry, key) == sizeof(struct m_node),
	       "m_entry: key after node");
_Static_assert(offsetof(struct m_frag, key) == sizeof(struct m_node),
	       "m_frag: key after node");

static int table_init(struct m_table *t, size_t max_entries)
{
	t->max_entries = max_entries;
	return set_init(&t->s, 8192, 1024, sizeof(struct xlb_flow_key));
}

struct m_entry *m_table_find(const struct m_table *t,
			     const struct xlb_flow_key *k)
{
	return set_find(&t->s, k);
}

/* BPF_NOEXIST insert: 0, -EEXIST (17) or -E2BIG (7) when full. */
static int table_insert(struct m_table *t, const struct xlb_flow_key *k,
			const struct xlb_flow *v, const struct m_nh *nh,
			bool touched, uint64_t created_lo, uint64_t created_hi)
{
	struct m_entry *e;

	if (m_table_find(t, k))
		return -17;
	if (t->s.n >= t->max_entries)
		return -7;
	e = set_add(&t->s, k, sizeof(*e));
	e->val = *v;
	if (nh)
		e->nh = *nh;
	e->touched = touched;
	e->created_lo = created_lo;
	e->created_hi = created_hi;
	/* a client entry is created with last_seen_ns = created_ns */
	e->seen_lo = touched ? created_lo : 0;
	e->seen_hi = touched ? created_hi : 0;
	return 0;
}

int m_table_delete(struct m_table *t, const struct xlb_flow_key *k)
{
	return set_delete(&t->s, k);
}

bool m_flow_equal(const struct m_entry *e, const struct xlb_flow *b,
		  const int *ifindex)
{
	const struct xlb_flow *a = &e->val;

	if (memcmp(&a->rewritten, &b->rewritten, sizeof(a->rewritten)) ||
	    a->backend_id != b->backend_id || a->service_id != b->service_id ||
	    a->dir != b->dir || a->flags != b->flags ||
	    ((a->flags & XLB_FLOW_SYN_ACK_SEEN ||
	      a->dir == XLB_DIR_TO_BACKEND) &&
	     a->syn_seq != b->syn_seq) || a->fin_seq != b->fin_seq)
		return false;
	if (!e->nh.lo)
		return b->nh_at_ns == 0;
	return b->nh_at_ns != 0 && (int)b->nh.ifindex == ifindex[e->nh.iface] &&
	       b->nh_max_bytes == e->nh.max_bytes &&
	       !memcmp(b->nh.smac, e->nh.smac, 6) &&
	       !memcmp(b->nh.dmac, e->nh.dmac, 6);
}

/* The fragment records (struct m_frags): a replacing insert, no LRU. */
struct m_frag *m_frag_find(const struct m_frags *t,
			   const struct xlb_frag_key *k)
{
	return set_find(&t->s, k);
}

/* BPF_ANY: the record of k, new or the one to overwrite. */
static struct m_frag *frag_put(struct m_frags *t, const struct xlb_frag_key *k)
{
	struct m_frag *e = m_frag_find(t, k);

	return e ? e : set_add(&t->s, k, sizeof(*e));
}

int m_frag_delete(struct m_frags *t, const struct xlb_frag_key *k)
{
	return set_delete(&t->s, k);
}

int model_init(struct model *m, const struct m_topo *t, uint16_t nat_min,
	       uint16_t nat_max, size_t flows_max, size_t embryos_max,
	       unsigned int opts)
{
	memset(m, 0, sizeof(*m));
	m->opts = opts;
	m->topo = t;
	m->nat_port_min = nat_min;
	m->nat_port_max = nat_max;
	if (table_init(&m->flows, flows_max) ||
	    table_init(&m->embryos, embryos_max) ||
	    set_init(&m->frags.s, 4096, 256, sizeof(struct xlb_frag_key)))
		return -1;
	return 0;
}

void model_free(struct model *m)
{
	for (int i = 0; i < M_MAX_SVC; i++) {
		free(m->svc[i].slots);
		m->svc[i].slots = NULL;
	}
	set_free(&m->flows.s);
	set_free(&m->embryos.s);
	set_free(&m->frags.s);
}

void model_clear_tables(struct model *m)
{
	set_clear(&m->flows.s);
	set_clear(&m->embryos.s);
	set_clear(&m->frags.s);
}

/* ------------------------------------------------------------------ */
/* FIB (what bpf_fib_lookup() answers in the fuzzer's namespace)       */
/* ------------------------------------------------------------------ */

static bool prefix_match(const uint8_t *a, const uint8_t *prefix, int plen)
{
	int bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, prefix, bytes))
		return false;
	if (!bits)
		return true;
	return ((a[bytes] ^ prefix[bytes]) & (0xff << (8 - bits))) == 0;
}

/* Addresses an IPv6 lookup refuses outright (rt6_need_strict():
 * multicast, link-local, loopback). */
static bool ip6_strict(const uint8_t *a)
{
	static const uint8_t loopback[16] = { [15] = 1 };

	return a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	       !memcmp(a, loopback, 16);
}

/* Local, broadcast and anycast destinations: RTN_LOCAL / RTN_BROADCAST /
 * RTN_ANYCAST in the local table, "not forwarded" for bpf_fib_lookup. */
static bool is_local(const struct m_topo *t, uint8_t family, const uint8_t *a)
{
	if (family == 4 && a[0] == 127)
		return true;
	for (int i = 0; i < t->n_ifaces; i++) {
		const struct m_iface *f = &t->ifaces[i];

		if (family == 4) {
			uint8_t bcast[4];

			if (!memcmp(a, f->addr4, 4))
				return true;
			memcpy(bcast, f->addr4, 4);
			for (int b = f->plen4; b < 32; b++)
				bcast[b / 8] |= 0x80 >> (b % 8);
			if (!memcmp(a, bcast, 4))
				return true;
		} else {
			uint8_t anycast[16] = { 0 };

			if (!memcmp(a, f->addr6, 16))
				return true;
			/* subnet-router anycast (forwarding is on) */
			memcpy(anycast, f->addr6, f->plen6 / 8);
			if (!memcmp(a, anycast, 16))
				return true;
		}
	}
	return false;
}

static const struct m_neigh *neigh_find(const struct m_topo *t, uint8_t family,
					const uint8_t *a, int iface)
{
	for (int i = 0; i < t->n_neigh; i++) {
		const struct m_neigh *n = &t->neigh[i];

		if (n->family == family && n->iface == iface &&
		    !memcmp(n->addr, a, family == 4 ? 4 : 16))
			return n;
	}
	return NULL;
}

void m_fib_lookup(const struct m_topo *t, uint8_t family, const uint8_t *dst,
		  uint32_t tot_len, struct m_fib *res)
{
	const struct m_route *best = NULL;
	struct m_route connected[M_MAX_IFACES];
	int best_plen = -1, iface;
	const struct m_neigh *n;
	const uint8_t *nh;
	uint32_t mtu;

	memset(res, 0, sizeof(*res));
	res->rc = M_FIB_NOT_FWDED;
	res->iface = -1;
	if (family == 6 && ip6_strict(dst))
		return;
	if (is_local(t, family, dst))
		return;
	for (int i = 0; i < t->n_ifaces; i++) {
		const struct m_iface *f = &t->ifaces[i];
		struct m_route *c = &connected[i];

		memset(c, 0, sizeof(*c));
		c->family = family;
		c->type = M_RT_UNICAST;
		c->iface = i;
		if (family == 4) {
			memcpy(c->prefix, f->addr4, 4);
			c->plen = f->plen4;
		} else {
			memcpy(c->prefix, f->addr6, 16);
			c->plen = f->plen6;
		}
		if (c->plen && prefix_match(dst, c->prefix, c->plen) &&
		    c->plen > best_plen) {
			best = c;
			best_plen = c->plen;
		}
	}
	for (int i = 0; i < t->n_routes; i++) {
		const struct m_route *r = &t->routes[i];

		if (r->family == family && prefix_match(dst, r->prefix, r->plen) &&
		    r->plen > best_plen) {
			best = r;
			best_plen = r->plen;
		}
	}
	if (!best)
		return; /* no route: -ENETUNREACH */
	switch (best->type) {
	case M_RT_BLACKHOLE:
		res->rc = M_FIB_BLACKHOLE;
		return;
	case M_RT_UNREACHABLE:
		res->rc = M_FIB_UNREACHABLE;
		return;
	case M_RT_PROHIBIT:
		res->rc = M_FIB_PROHIBIT;
		return;
	default:
		break;
	}
	iface = best->iface;
	mtu = best->mtu_lock ? best->mtu_lock : t->ifaces[iface].mtu;
	if (tot_len > mtu) {
		res->rc = M_FIB_FRAG_NEEDED;
		res->mtu = mtu;
		return;
	}
	nh = best->has_gw ? best->gw : dst;
	n = neigh_find(t, family, nh, iface);
	res->iface = iface;
	if (!n) {
		res->rc = M_FIB_NO_NEIGH;
		return;
	}
	res->rc = M_FIB_SUCCESS;
	memcpy(res->smac, t->ifaces[iface].mac, 6);
	memcpy(res->dmac, n->mac, 6);
}

static uint32_t fib_reason(int rc)
{
	switch (rc) {
	case M_FIB_NO_NEIGH:
		return XLB_STAT_DROP_FIB_NO_NEIGH;
	case M_FIB_FRAG_NEEDED:
		return XLB_STAT_DROP_FIB_FRAG;
	case M_FIB_BLACKHOLE:
	case M_FIB_UNREACHABLE:
	case M_FIB_PROHIBIT:
	case M_FIB_NOT_FWDED: /* no route, or a local/broadcast address */
		return XLB_STAT_DROP_FIB_UNREACH;
	default:
		return XLB_STAT_DROP_FIB_OTHER;
	}
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

struct m_pkt {
	const uint8_t *f;
	size_t len;
	int vlan_tags;
	uint8_t family;
	size_t l3, l4;
	size_t end; /* end of the IP packet (IPv4 total / IPv6 payload length) */
	uint8_t proto;
	uint8_t tcp_flags;
	struct xlb_flow_key key;
	bool strict;      /* headers must end inside the IP packet */
	bool beyond;      /* a header ended past the IP packet, in the frame */
	uint8_t frag;     /* M_FRAG_*: a whole packet, or which fragment */
	uint32_t frag_id; /* a fragment's identification, as keyed (see
			   * frag_key_of) */
};

/* A TCP/UDP datagram's fragments: the first carries the L4 header (its
 * key is complete), a later one none (its ports come from the first's
 * record).  An IPv6 atomic fragment (offset 0, no more: RFC 6946) is a
 * whole packet. */
enum { M_FRAG_NONE = 0, M_FRAG_FIRST, M_FRAG_LATER };

/* Does a header ending at off fit?  Inside the IP packet always; past
 * its end but inside the frame only without MODEL_STRICT_IP_LEN (and
 * that is recorded: the program checked only the frame's end). */
static bool inside(struct m_pkt *p, size_t off)
{
	if (off <= p->end)
		return true;
	if (off <= p->len)
		p->beyond = true;
	return !p->strict && off <= p->len;
}

/* 0, or the PASS_* reason. */
static uint32_t parse(const struct model *m, struct m_pkt *p)
{
	const uint8_t *f = p->f;
	size_t len = p->len, off = 12, l4, end;
	uint16_t type;
	uint8_t proto;

	if (len < ETH_HLEN)
		return XLB_STAT_PASS_MALFORMED;
	type = rd16(f + 12);
	off = ETH_HLEN;
	/* up to two tags (802.1Q or 802.1ad); a third leaves the
	 * ethertype a TPID: not IP */
	for (int i = 0; i < 2; i++) {
		if (type != 0x8100 && type != 0x88a8)
			break;
		if (off + 4 > len)
			return XLB_STAT_PASS_MALFORMED;
		type = rd16(f + off + 2);
		off += 4;
		p->vlan_tags++;
	}
	p->l3 = off;
	if (type == 0x0800) {
		const uint8_t *ip = f + off;
		size_t hlen, tot;

		if (off + 20 > len)
			return XLB_STAT_PASS_MALFORMED;
		hlen = (ip[0] & 0xf) * 4u;
		tot = rd16(ip + 2);
		if (ip[0] >> 4 != 4 || hlen < 20 || off + hlen > len ||
		    tot < hlen || off + tot > len)
			return XLB_STAT_PASS_MALFORMED;
		proto = ip[9];
		if (rd16(ip + 6) & 0x3fff) { /* MF or an offset */
			/* only a TCP/UDP datagram's fragments can follow
			 * its first one; any other is passed */
			if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
				return XLB_STAT_PASS_FRAGMENT;
			/* the 16 bits as they lie in the packet, then two
			 * zero bytes (the key's __be32, zero-extended from
			 * the header's __be16 on a little-endian host) */
			memcpy(&p->frag_id, ip + 4, 2);
			p->frag = rd16(ip + 6) & 0x1fff ? M_FRAG_LATER :
							  M_FRAG_FIRST;
		}
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP &&
		    proto != IPPROTO_ICMP)
			return XLB_STAT_PASS_NOT_L4;
		p->family = 4;
		p->key.family = XLB_FAMILY_V4;
		memcpy(p->key.src.bytes, ip + 12, 4);
		memcpy(p->key.dst.bytes, ip + 16, 4);
		l4 = off + hlen;
		end = off + tot;
	} else if (type == 0x86dd) {
		const uint8_t *ip6 = f + off;

		if (off + 40 > len)
			return XLB_STAT_PASS_MALFORMED;
		if (ip6[0] >> 4 != 6 || off + 40 + rd16(ip6 + 4) > len)
			return XLB_STAT_PASS_MALFORMED;
		proto = ip6[6];
		l4 = off + 40;
		end = off + 40 + rd16(ip6 + 4);
		if (proto == 44) {
			/* a fragment header (RFC 8200 4.5), inside the IP
			 * packet: 8 bytes, then TCP or UDP (anything else
			 * after it, ICMPv6 or another extension, is passed
			 * as a fragment) */
			const uint8_t *fh = f + l4;
			uint16_t fo;

			if (l4 + 8 > end)
				return XLB_STAT_PASS_MALFORMED;
			proto = fh[0];
			if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
				return XLB_STAT_PASS_FRAGMENT;
			fo = rd16(fh + 2);
			if (fo & 0xfff9) { /* an offset, or M: a fragment */
				memcpy(&p->frag_id, fh + 4, 4);
				p->frag = fo & 0xfff8 ? M_FRAG_LATER :
							M_FRAG_FIRST;
			}
			l4 += 8;
		}
		/* hop-by-hop, routing, destination options, AH: refused
		 * (documented policy: passed untouched) */
		if (proto == 0 || proto == 43 || proto == 60 || proto == 51)
			return XLB_STAT_PASS_IPV6_EXT;
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP &&
		    proto != IPPROTO_ICMPV6)
			return XLB_STAT_PASS_NOT_L4;
		p->family = 6;
		p->key.family = XLB_FAMILY_V6;
		memcpy(p->key.src.bytes, ip6 + 8, 16);
		memcpy(p->key.dst.bytes, ip6 + 24, 16);
	} else {
		return XLB_STAT_PASS_NOT_IP;
	}
	/* The L4 header must lie inside the IP packet (see inside()). */
	p->strict = m->opts & MODEL_STRICT_IP_LEN;
	p->l4 = l4;
	p->end = end;
	p->proto = proto;
	p->key.proto = proto;
	if (p->frag == M_FRAG_LATER)
		return 0; /* no L4 header: ports 0 until its record's */
	if (proto == IPPROTO_TCP) {
		size_t doff;

		if (!inside(p, l4 + 20))
			return XLB_STAT_PASS_MALFORMED;
		doff = (f[l4 + 12] >> 4) * 4u;
		if (doff < 20 || !inside(p, l4 + doff))
			return XLB_STAT_PASS_MALFORMED;
		memcpy(&p->key.sport, f + l4, 2);
		memcpy(&p->key.dport, f + l4 + 2, 2);
		p->tcp_flags = f[l4 + 13];
	} else if (proto == IPPROTO_UDP) {
		if (!inside(p, l4 + 8))
			return XLB_STAT_PASS_MALFORMED;
		memcpy(&p->key.sport, f + l4, 2);
		memcpy(&p->key.dport, f + l4 + 2, 2);
	} else {
		if (!inside(p, l4 + 8))
			return XLB_STAT_PASS_MALFORMED;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connection tracking (the discipline of bpf/flow.h and xlb.bpf.c)    */
/* ------------------------------------------------------------------ */

static void touch(struct m_result *r, int table, const struct xlb_flow_key *k)
{
	if (r->touched.n < M_MAX_TOUCHED) {
		r->touched.k[r->touched.n].table = table;
		r->touched.k[r->touched.n].key = *k;
		r->touched.n++;
	}
}

static void swap_key(const struct xlb_flow_key *in, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src = in->dst;
	k->dst = in->src;
	k->sport = in->dport;
	k->dport = in->sport;
	k->proto = in->proto;
	k->family = in->family;
}

struct m_entry *m_table_partner(const struct m_table *t,
				const struct m_entry *e)
{
	struct xlb_flow_key pk;

	swap_key(&e->val.rewritten, &pk);
	return m_table_find(t, &pk);
}

/* COPIED from bpf/flow.h flow_hash(): the NAT port's starting point must
 * be the program's to predict its choice. */
static uint32_t flow_hash(const struct xlb_flow_key *k)
{
	uint32_t h = k->src.ip6[0] ^ k->src.ip6[1] ^ k->src.ip6[2] ^
		     k->src.ip6[3] ^ ((uint32_t)k->sport << 16 | k->dport);

	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static void count(struct model *m, uint32_t stat)
{
	m->stats[stat]++;
}

/*
 * bpf/flow.h flow_touch(): what a packet records in the entry it goes
 * through: FIN/RST seen in its direction; on the backend's side the
 * sequence number of its first SYN-ACK (that the client's ACK must
 * acknowledge for the pair to be promoted); last_seen_ns (only whether it
 * is set matters here).  Returns whether the entry changed.
 */
/* bpf/flow.h XLB_TOUCH_NS */
#define M_TOUCH_NS 1000000000ULL

/* last_seen_ns of an entry a packet goes through at the coarse-clock
 * reading c (flow_touch(): refreshed if (u64)(now - last_seen) >=
 * XLB_TOUCH_NS, so also when a precise creation stamp is ahead of the
 * coarse clock); when it depends on the exact readings, the interval
 * grows to cover both outcomes. */
static void touch_seen(struct m_entry *e, const struct m_clock *c)
{
	bool surely, surely_not;

	if (!e->touched) {
		e->seen_lo = c->clo;
		e->seen_hi = c->chi;
		return;
	}
	surely = c->clo >= e->seen_hi + M_TOUCH_NS || c->chi < e->seen_lo;
	surely_not = c->clo >= e->seen_hi && c->chi < e->seen_lo + M_TOUCH_NS;
	if (surely) {
		e->seen_lo = c->clo;
		e->seen_hi = c->chi;
	} else if (!surely_not) {
		e->seen_lo = e->seen_lo < c->clo ? e->seen_lo : c->clo;
		e->seen_hi = e->seen_hi > c->chi ? e->seen_hi : c->chi;
	}
}

/* bpf/flow.h XLB_SEQ_WINDOW, XLB_SEQ_AHEAD_MAX */
#define M_SEQ_WINDOW (1 << 20)
#define M_SEQ_AHEAD_MAX (1 << 30)

/* bpf/flow.h flow_fin_acked(): the backend (rev) acknowledged the
 * client's (fwd) pending FIN. */
static bool fin_acked(const struct xlb_flow *fwd, const struct xlb_flow *rev)
{
	return (fwd->flags & XLB_FLOW_FIN_PENDING) &&
	       (int32_t)(ntohl(rev->ack_seq) - ntohl(fwd->fin_seq)) > 0;
}

static uint32_t pkt_seq(const struct m_pkt *p, int off)
{
	uint32_t v;

	memcpy(&v, p->f + p->l4 + off, 4);
	return ntohl(v);
}

/* TCP payload bytes (inside the IP packet). */
static uint32_t tcp_payload(const struct m_pkt *p)
{
	return (uint32_t)(p->end - p->l4 - (p->f[p->l4 + 12] >> 4) * 4);
}

/* bpf/flow.h flow_judge(): an established entry e's RST and FIN against
 * the ACK number its partner (in xlb_flows) last sent, and whether the
 * partner acknowledged e's pending FIN. */
struct m_judge {
	bool rst_ok, fin_ok, fin_ahead, fin_acked;
};

static void judge(struct model *m, const struct m_pkt *p,
		  const struct m_entry *e, struct m_judge *j)
{
	const struct m_entry *peer;
	uint32_t peer_ack;
	int32_t d;

	j->rst_ok = j->fin_ok = true;
	j->fin_ahead = j->fin_acked = false;
	if (p->proto != IPPROTO_TCP || e->val.dir != XLB_DIR_TO_BACKEND ||
	    (!(p->tcp_flags & (TCP_RST | TCP_FIN)) &&
	     !(e->val.flags & XLB_FLOW_FIN_PENDING)))
		return;
	peer = m_table_partner(&m->flows, e);
	if (!peer) {
		j->fin_acked = true;
		return;
	}
	peer_ack = ntohl(peer->val.ack_seq);
	d = (int32_t)(pkt_seq(p, 4) - peer_ack);
	j->rst_ok = j->fin_ok = d > -M_SEQ_WINDOW && d < M_SEQ_WINDOW;
	j->fin_ahead = d >= M_SEQ_WINDOW && d < M_SEQ_AHEAD_MAX;
	j->fin_acked = fin_acked(&e->val, &peer->val);
}

static bool touch_entry(struct m_entry *e, const struct m_pkt *p,
			const struct m_clock *now, bool est,
			const struct m_judge *j)
{
	uint8_t bits = 0, old = e->val.flags;
	uint32_t old_ack = e->val.ack_seq, old_fin = e->val.fin_seq;
	bool was = e->touched;

	touch_seen(e, now);

	if (p->proto == IPPROTO_TCP) {
		uint32_t pl = tcp_payload(p);

		if (est && (e->val.flags & XLB_FLOW_FIN_PENDING)) {
			if (j->fin_acked)
				bits |= XLB_FLOW_FIN_SEEN;
			if (j->fin_acked ||
			    (pl && (int32_t)(pkt_seq(p, 4) + pl -
					     ntohl(e->val.fin_seq)) > 0))
				e->val.flags &= ~XLB_FLOW_FIN_PENDING;
		}
		if (p->tcp_flags & TCP_FIN) {
			if (!est || j->fin_ok) {
				bits |= XLB_FLOW_FIN_SEEN;
			} else if (j->fin_ahead &&
				   !(e->val.flags & XLB_FLOW_FIN_SEEN)) {
				e->val.fin_seq = htonl(pkt_seq(p, 4) + pl);
				bits |= XLB_FLOW_FIN_PENDING;
			}
		}
		if ((p->tcp_flags & TCP_RST) && (!est || j->rst_ok))
			bits |= XLB_FLOW_RST_SEEN;
		if (est && e->val.dir == XLB_DIR_TO_CLIENT &&
		    (p->tcp_flags & TCP_ACK) &&
		    (int32_t)(pkt_seq(p, 8) - ntohl(e->val.ack_seq)) > 0)
			e->val.ack_seq = htonl(pkt_seq(p, 8));
		if (!est && e->val.dir == XLB_DIR_TO_CLIENT &&
		    (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
		    !(e->val.flags & XLB_FLOW_SYN_ACK_SEEN)) {
			memcpy(&e->val.syn_seq, p->f + p->l4 + 4, 4);
			bits |= XLB_FLOW_SYN_ACK_SEEN;
		}
	}
	e->val.flags |= bits;
	e->touched = true;
	return e->val.flags != old || e->val.ack_seq != old_ack ||
	       e->val.fin_seq != old_fin || !was;
}

/* Does this client packet confirm the half-open connection (the backend
 * answered; for TCP, an ACK of the backend's SYN-ACK, no SYN)? */
static bool confirmed(const struct m_pkt *p, const struct m_entry *rev)
{
	uint32_t ack, seq;

	if (!rev->touched)
		return false;
	if (p->proto != IPPROTO_TCP)
		return true;
	if ((p->tcp_flags & TCP_SYN) || !(p->tcp_flags & TCP_ACK) ||
	    !(rev->val.flags & XLB_FLOW_SYN_ACK_SEEN))
		return false;
	memcpy(&ack, p->f + p->l4 + 8, 4);
	seq = rev->val.syn_seq;
	return ntohl(ack) == ntohl(seq) + 1;
}

/* bpf/flow.h flow_syn_restarts(): does a client SYN on the half-open
 * pair fwd/rev start a new connection?  After a FIN or RST, yes, except
 * for the pair's own SYN again after only the client reset: that one
 * stays, and the client entry forgets its RST. */
static bool syn_restarts(const struct m_pkt *p, struct m_entry *fwd,
			 struct m_entry *rev, struct m_result *r)
{
	const uint8_t over = XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN;
	uint32_t seq;

	if (!((fwd->val.flags | rev->val.flags) & over))
		return false;
	memcpy(&seq, p->f + p->l4 + 4, 4);
	if ((rev->val.flags & over) || (fwd->val.flags & XLB_FLOW_FIN_SEEN) ||
	    seq != fwd->val.syn_seq)
		return true;
	fwd->val.flags &= ~XLB_FLOW_RST_SEEN;
	touch(r, 1, &fwd->key);
	/* and the SYN-ACK the client refused is forgotten */
	rev->val.flags &= ~XLB_FLOW_SYN_ACK_SEEN;
	touch(r, 1, &rev->key);
	return false;
}

static bool bare_syn(const struct m_pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/* A finished connection: FIN or RST seen in either direction. */
static bool flow_over(struct model *m, const struct xlb_flow *f)
{
	struct xlb_flow_key pk;
	struct m_entry *o;

	if (f->flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN))
		return true;
	swap_key(&f->rewritten, &pk);
	o = m_table_find(&m->flows, &pk);
	return o && ((o->val.flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN)) ||
		     fin_acked(f, &o->val));
}

/* Remove both entries of an established connection. */
static void delete_pair(struct model *m, const struct xlb_flow_key *k,
			const struct xlb_flow *f, struct m_result *r)
{
	struct xlb_flow_key pk;

	swap_key(&f->rewritten, &pk);
	m_table_delete(&m->flows, &pk);
	touch(r, 0, &pk);
	m_table_delete(&m->flows, k);
	touch(r, 0, k);
}

/* The partner of a half-open entry, if it is there and points back at
 * it (eviction removes entries one at a time), else NULL. */
static struct m_entry *embryo_partner(struct model *m,
				      const struct xlb_flow_key *k,
				      const struct xlb_flow *f)
{
	struct xlb_flow_key pk, back;
	struct m_entry *o;

	swap_key(&f->rewritten, &pk);
	o = m_table_find(&m->embryos, &pk);
	if (!o)
		return NULL;
	swap_key(&o->val.rewritten, &back);
	back.family = k->family; /* the program compares all but family */
	return key_eq(&back, k) ? o : NULL;
}

static void seen_copy(struct m_entry *to, const struct m_entry *from)
{
	to->seen_lo = from->seen_lo;
	to->seen_hi = from->seen_hi;
}

/*
 * The client spoke again after the backend answered: the pair moves from
 * xlb_embryos to xlb_flows (both entries as they are, cached next hops
 * included).  Returns the client entry now in xlb_flows, or NULL with
 * *reason (table full).
 */
static struct m_entry *promote(struct model *m, const struct m_pkt *p,
			       struct m_entry *fwd, struct m_entry *rev,
			       uint32_t *reason, struct m_result *r)
{
	const struct xlb_flow_key *fkey = &p->key;
	struct m_entry f = *fwd, v = *rev;
	struct xlb_flow_key rkey;
	int err;

	/* established: the backend's last ACK number, the promoting
	 * packet's seq (bpf/flow.h flow_promote()) */
	if (p->proto == IPPROTO_TCP)
		v.val.ack_seq = htonl(pkt_seq(p, 4));
	swap_key(&f.val.rewritten, &rkey);
	err = table_insert(&m->flows, fkey, &f.val, &f.nh, f.touched,
			   f.created_lo, f.created_hi);
	if (!err)
		seen_copy(m_table_find(&m->flows, fkey), &f);
	touch(r, 0, fkey);
	if (err && err != -17) {
		*reason = XLB_STAT_DROP_TABLE_FULL;
		return NULL;
	}
	err = table_insert(&m->flows, &rkey, &v.val, &v.nh, v.touched,
			   v.created_lo, v.created_hi);
	if (!err)
		seen_copy(m_table_find(&m->flows, &rkey), &v);
	touch(r, 0, &rkey);
	if (err && err != -17) {
		m_table_delete(&m->flows, fkey);
		*reason = XLB_STAT_DROP_TABLE_FULL;
		return NULL;
	}
	m_table_delete(&m->embryos, &rkey);
	touch(r, 1, &rkey);
	m_table_delete(&m->embryos, fkey);
	touch(r, 1, fkey);
	return m_table_find(&m->flows, fkey);
}

/*
 * Existing state of the packet: the entry (in xlb_flows or xlb_embryos),
 * NULL + 0 (none) or NULL + reason.  *promoted is set when the pair was
 * just moved to xlb_flows.
 */
static struct m_entry *flow_find(struct model *m, struct m_pkt *p,
				 uint32_t *reason, bool *promoted,
				 struct m_result *r)
{
	struct m_entry *e = m_table_find(&m->flows, &p->key), *partner;

	*reason = 0;
	if (e) {
		/* a client SYN on a finished connection's tuple replaces it */
		if (e->val.dir == XLB_DIR_TO_BACKEND && bare_syn(p) &&
		    flow_over(m, &e->val)) {
			struct xlb_flow v = e->val;

			delete_pair(m, &p->key, &v, r);
			count(m, XLB_STAT_SYN_RESCHEDULED);
			return NULL;
		}
		return e;
	}
	e = m_table_find(&m->embryos, &p->key);
	if (!e)
		return NULL;
	partner = embryo_partner(m, &p->key, &e->val);
	if (!partner) {
		/* a stale client half is forgotten; a backend half is left
		 * alone (it may be a connection being created on another
		 * CPU): bpf/xlb.bpf.c flow_find() */
		if (e->val.dir == XLB_DIR_TO_BACKEND) {
			m_table_delete(&m->embryos, &p->key);
			touch(r, 1, &p->key);
		}
		return NULL;
	}
	if (e->val.dir != XLB_DIR_TO_BACKEND)
		return e; /* the backend's packets go through their half */
	/* a SYN after a RST or FIN of this half-open pair: start afresh */
	if (bare_syn(p) && syn_restarts(p, e, partner, r)) {
		struct xlb_flow_key pk;

		swap_key(&e->val.rewritten, &pk);
		m_table_delete(&m->embryos, &pk);
		touch(r, 1, &pk);
		m_table_delete(&m->embryos, &p->key);
		touch(r, 1, &p->key);
		count(m, XLB_STAT_SYN_RESCHEDULED);
		return NULL;
	}
	/* the client confirms the backend's answer: the pair moves to
	 * xlb_flows, with what this packet records (its FIN/RST) */
	if (confirmed(p, partner)) {
		touch_entry(e, p, &m->now, false, NULL);
		touch(r, 1, &p->key);
		e = promote(m, p, e, partner, reason, r);
		if (e) {
			count(m, XLB_STAT_PROMOTED);
			*promoted = true;
			r->promoted = true;
		}
		return e;
	}
	return e;
}

/* Time comparisons against the program's clock (see struct m_clock): 1
 * if surely at least `age` ns passed from a reading in [lo, hi] to the
 * current packet's reading in [now_lo, now_hi], 0 if surely not, and -1
 * (r->clock_uncertain) if it depends on when exactly. */
static int older_than(uint64_t now_lo, uint64_t now_hi, uint64_t lo,
		      uint64_t hi, uint64_t age, struct m_result *r)
{
	if (now_lo >= hi && now_lo - hi >= age)
		return 1;
	if (now_hi < lo || now_hi - lo < age)
		return 0;
	r->clock_uncertain = true;
	return -1;
}

/* A half-open pair older than this gives its NAT port to a new connection
 * that needs it (bpf/flow.h XLB_EMBRYO_GRACE_NS). */
#define M_EMBRYO_GRACE_NS 1000000000ULL

/* A half-open UDP pair gives its NAT port only once silent both ways
 * this long (bpf/flow.h XLB_UDP_IDLE_GRACE_NS). */
#define M_UDP_IDLE_GRACE_NS 5000000000ULL

/* ... or this long when every probed port is held (bpf/flow.h
 * XLB_UDP_PRESSED_GRACE_NS). */
#define M_UDP_PRESSED_GRACE_NS 2000000000ULL

/* A closed pair quiet this long gives its NAT port away (bpf/flow.h
 * XLB_CLOSED_GRACE_NS). */
#define M_CLOSED_GRACE_NS 2000000000ULL

/* Has entry e been quiet for M_CLOSED_GRACE_NS at the precise reading of
 * the current packet?  1, 0, or -1 (depends on the exact readings). */
static int quiet(const struct model *m, const struct m_entry *e)
{
	struct m_result scratch = { 0 };

	/* signed in the program: a stamp ahead of now is not old */
	return older_than(m->now.lo, m->now.hi, e->seen_lo, e->seen_hi,
			  M_CLOSED_GRACE_NS, &scratch);
}

/* bpf/flow.h flow_free_closed(): the NAT port of rkey is held by the
 * established entry `old`; free it (both entries of the pair removed)
 * if its connection is closed (RST either way, FIN both ways) and both
 * entries are quiet.  1 if freed, 0 if not. */
static int free_closed(struct model *m, const struct xlb_flow_key *rkey,
		       struct m_entry *old, struct m_result *r)
{
	struct xlb_flow_key fkey, back;
	struct m_entry *fwd;
	struct m_result scratch = { 0 };
	uint8_t a, b;
	int qa, qb, qc;

	if (old->val.rewritten.proto != IPPROTO_TCP)
		return 0;
	swap_key(&old->val.rewritten, &fkey);
	fwd = m_table_find(&m->flows, &fkey);
	if (!fwd)
		return 0;
	swap_key(&fwd->val.rewritten, &back);
	back.family = rkey->family; /* the program compares all but family */
	if (!key_eq(&back, rkey))
		return 0;
	a = old->val.flags;
	b = fwd->val.flags;
	if (!((a | b) & XLB_FLOW_RST_SEEN) &&
	    !((a & XLB_FLOW_FIN_SEEN) &&
	      ((b & XLB_FLOW_FIN_SEEN) || fin_acked(&fwd->val, &old->val))))
		return 0;
	qa = quiet(m, old);
	qb = quiet(m, fwd);
	/* and created before the grace time (another CPU's claim is not) */
	qc = older_than(m->now.lo, m->now.hi, old->created_lo, old->created_hi,
			M_CLOSED_GRACE_NS, &scratch);
	if (!qa || !qb || !qc)
		return 0;
	if (qa < 0 || qb < 0 || qc < 0) {
		r->clock_uncertain = true;
		return 0;
	}
	m_table_delete(&m->flows, &fkey);
	touch(r, 0, &fkey);
	m_table_delete(&m->flows, rkey);
	touch(r, 0, rkey);
	count(m, XLB_STAT_PORT_TAKEOVER);
	return 1;
}

/* bpf/flow.h flow_udp_silence(), against a grace: has the UDP pair of the half-open reverse
 * entry rev (client half at ckey) seen a packet either way within
 * grace_ns?  An entry never touched has a zero stamp: quiet.  A reading
 * too close to call is flagged (and taken as quiet, as in claim_port's
 * grace check). */
static bool udp_busy(const struct model *m, const struct m_entry *rev,
		     const struct xlb_flow_key *ckey, uint64_t grace_ns,
		     struct m_result *r)
{
	const struct m_entry *cli = m_table_find(&m->embryos,
						 ckey);

	if (rev->touched && older_than(m->now.lo, m->now.hi, rev->seen_lo,
				       rev->seen_hi, grace_ns, r) == 0)
		return true;
	return cli && cli->touched &&
	       older_than(m->now.lo, m->now.hi, cli->seen_lo, cli->seen_hi,
			  grace_ns, r) == 0;
}

/* Claim the NAT port of rkey (bpf/flow.h flow_claim_port()): 0, -EEXIST,
 * 1 (XLB_CLAIM_PRESSED: a UDP pair silent less than udp_grace_ns but at
 * least M_UDP_PRESSED_GRACE_NS holds it) or -E2BIG.  Insert into the half-open table first, then check the
 * established one, in the program's order.  A port held by a half-open
 * entry older than the grace time is taken over: that entry's partner is
 * removed, the entry replaced; so is one held by a closed, quiet
 * established pair (free_closed()). */
static int claim_port(struct model *m, const struct xlb_flow_key *rkey,
		      const struct xlb_flow *rev, uint64_t udp_grace_ns,
		      struct m_result *r)
{
	struct xlb_flow_key old_partner;
	struct m_entry *old;
	int err;

	err = table_insert(&m->embryos, rkey, rev, NULL, false, m->now.lo,
			   m->now.hi);
	if (err == -17) {
		old = m_table_find(&m->embryos, rkey);
		/* precise clock on both sides (created_ns, flow_create's
		 * now) */
		if (older_than(m->now.lo, m->now.hi, old->created_lo,
			       old->created_hi, M_EMBRYO_GRACE_NS, r) == 0)
			return -17;
		swap_key(&old->val.rewritten, &old_partner);
		if (rkey->proto == IPPROTO_UDP &&
		    udp_busy(m, old, &old_partner, udp_grace_ns, r))
			return udp_grace_ns > M_UDP_PRESSED_GRACE_NS &&
					       !udp_busy(m, old, &old_partner,
							 M_UDP_PRESSED_GRACE_NS,
							 r) ?
				       1 :
				       -17;
		m_table_delete(&m->embryos, &old_partner);
		touch(r, 1, &old_partner);
		count(m, XLB_STAT_PORT_TAKEOVER);
		m_table_delete(&m->embryos, rkey);
		err = table_insert(&m->embryos, rkey, rev, NULL, false,
				   m->now.lo, m->now.hi);
	}
	if (err)
		return err;
	old = m_table_find(&m->flows, rkey);
	if (!old || free_closed(m, rkey, old, r))
		return 0;
	m_table_delete(&m->embryos, rkey);
	return -17;
}

/* COPIED from include/xlb_hash.h xlb_hash_mix32(): murmur3's fmix32. */
static uint32_t mh_mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* COPIED from include/xlb_hash.h xlb_client_hash(): the address's four
 * 32-bit words in host order, from the golden ratio; not the port. */
static uint32_t mh_client_hash(const struct xlb_addr *a)
{
	uint32_t h = 0x9e3779b9u, w;

	for (int i = 0; i < 4; i++) {
		memcpy(&w, a->bytes + 4 * i, 4);
		h = mh_mix32(h ^ w);
	}
	return h;
}

/* The table index (slot - 1) a new flow of service sid from client
 * takes.  COPIED from bpf/sched.h sched_pick(): algo mh takes slot
 * 1 + (client hash % n) and leaves the cursor alone; rr and wrr take
 * slot 1 + (cursor++ % n). */
static uint32_t sched_slot(struct model *m, uint32_t sid,
			   const struct xlb_addr *client)
{
	const struct m_service *s = &m->svc[sid];

	if (s->algo == XLB_ALGO_MH)
		return mh_client_hash(client) % s->n_slots;
	return m->cursor[sid]++ % s->n_slots;
}

/* A new connection: service, SYN rule, schedule, NAT port, pair. */
/* Not 0/8, 127/8, multicast or 240/4; not ::, ::1 or multicast. */
static bool client_source_ok(const struct xlb_flow_key *k)
{
	const uint8_t *a = k->src.bytes;

	if (k->family == XLB_FAMILY_V4)
		return a[0] != 0 && a[0] != 127 && a[0] < 224;
	if (a[0] == 0xff)
		return false;
	for (int i = 0; i < 15; i++)
		if (a[i])
			return true;
	return a[15] > 1;
}

static struct m_entry *new_flow(struct model *m, struct m_pkt *p,
				uint32_t *reason, bool *ours,
				struct m_result *r)
{
	struct m_service *s = NULL;
	struct xlb_flow_key rkey;
	struct xlb_flow fwd, rev;
	struct m_backend *b;
	uint32_t sid, bid, range, start, step;
	uint16_t pressed_port = 0;
	int err = -17;

	for (sid = 0; sid < M_MAX_SVC; sid++) {
		struct m_service *c = &m->svc[sid];

		if (c->in_use && c->family == p->key.family &&
		    c->proto == p->proto &&
		    !memcmp(&c->vip, &p->key.dst, sizeof(c->vip)) &&
		    htons(c->port) == p->key.dport) {
			s = c;
			break;
		}
	}
	if (!s) {
		*reason = XLB_STAT_PASS_NO_SERVICE;
		return NULL;
	}
	*ours = true;
	/* COPIED: a source no client can have (bpf/xlb.bpf.c
	 * client_source_ok) */
	if (!client_source_ok(&p->key)) {
		*reason = XLB_STAT_PASS_MALFORMED;
		return NULL;
	}
	/* a TCP connection starts with a bare SYN (no ACK, RST or FIN:
	 * Linux refuses SYN+FIN too) */
	if (p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN) {
		*reason = XLB_STAT_DROP_NO_FLOW;
		return NULL;
	}
	if (!s->n_slots) {
		*reason = XLB_STAT_DROP_NO_BACKEND;
		return NULL;
	}
	bid = s->slots[sched_slot(m, sid, &p->key.src)];
	b = bid < M_MAX_BE ? &m->be[bid] : NULL;
	if (!b || !b->in_use) {
		*reason = XLB_STAT_DROP_NO_BACKEND;
		return NULL;
	}

	/* backend -> SNAT, rewritten to VIP -> client */
	memset(&rkey, 0, sizeof(rkey));
	memset(&rev, 0, sizeof(rev));
	rkey.src = b->addr;
	rkey.dst = s->snat;
	rkey.sport = htons(b->port);
	rkey.proto = p->proto;
	rkey.family = p->key.family;
	swap_key(&p->key, &rev.rewritten);
	rev.backend_id = bid;
	rev.service_id = sid;
	rev.dir = XLB_DIR_TO_CLIENT;

	/* COPIED from bpf/flow.h flow_create(): XLB_NAT_PORT_PROBES ports
	 * (at most the range's size) from flow_hash(client tuple), `step`
	 * apart (flow_probe_step), the first whose backend tuple is free in
	 * both tables; if none, the first held by a UDP pair silent
	 * M_UDP_PRESSED_GRACE_NS. */
	range = (uint32_t)m->nat_port_max - m->nat_port_min + 1;
	start = flow_hash(&p->key);
	step = range / XLB_NAT_PORT_PROBES > 1 ?
		       1 + (start >> 16) % (range / XLB_NAT_PORT_PROBES) :
		       1;
	for (uint32_t i = 0; i < XLB_NAT_PORT_PROBES && i < range; i++) {
		rkey.dport = htons(m->nat_port_min + (start + i * step) % range);
		err = claim_port(m, &rkey, &rev, M_UDP_IDLE_GRACE_NS, r);
		if (err == 1) {
			if (!pressed_port)
				pressed_port = rkey.dport;
			err = -17;
		}
		if (err != -17)
			break;
	}
	if (err == -17 && pressed_port) {
		rkey.dport = pressed_port;
		err = claim_port(m, &rkey, &rev, M_UDP_PRESSED_GRACE_NS, r);
	}
	if (err) {
		*reason = err == -17 ? XLB_STAT_DROP_NAT_PORTS :
				       XLB_STAT_DROP_TABLE_FULL;
		return NULL;
	}
	touch(r, 1, &rkey);

	/* client -> VIP, rewritten to SNAT -> backend */
	memset(&fwd, 0, sizeof(fwd));
	swap_key(&rkey, &fwd.rewritten);
	fwd.backend_id = bid;
	fwd.service_id = sid;
	fwd.dir = XLB_DIR_TO_BACKEND;
	if (p->proto == IPPROTO_TCP) /* the client's SYN: its sequence */
		memcpy(&fwd.syn_seq, p->f + p->l4 + 4, 4);
	err = table_insert(&m->embryos, &p->key, &fwd, NULL, true, m->now.lo,
			   m->now.hi);
	touch(r, 1, &p->key);
	if (err) {
		m_table_delete(&m->embryos, &rkey);
		if (err != -17) {
			*reason = XLB_STAT_DROP_TABLE_FULL;
			return NULL;
		}
	} else {
		count(m, XLB_STAT_NEW_FLOW);
		m->svc_traffic[sid].conns++;
		m->be_traffic[bid].conns++;
	}
	/* the stored client entry (bpf/flow.h flow_create forwards the SYN
	 * from it).  It is always there: the model's inserts never evict,
	 * and nothing else runs between; the BPF program's fallback to its
	 * copy, if another CPU deleted the entry meanwhile, has no
	 * counterpart here. */
	*reason = XLB_STAT_DROP_TABLE_FULL; /* if it is not there */
	return m_table_find(&m->embryos, &p->key);
}

/* ------------------------------------------------------------------ */
/* Rewrite, from scratch                                               */
/* ------------------------------------------------------------------ */

/* Sums of the input's checksummed regions (their targets). */
struct m_sums {
	uint16_t ip4_hdr, l4, inner_ip4;
	bool udp_none; /* UDP with checksum 0 (IPv4: none; IPv6: tunnels): stays 0 */
};

static uint64_t l4_pseudo(const uint8_t *f, const struct m_pkt *p)
{
	const uint8_t *ip = f + p->l3;
	size_t seg = p->end - p->l4;

	if (p->proto == IPPROTO_ICMP)
		return 0;
	if (p->family == 4)
		return pseudo_sum(4, ip + 12, ip + 16, p->proto, seg);
	return pseudo_sum(6, ip + 8, ip + 24, p->proto, seg);
}

static size_t l4_csum_off(const struct m_pkt *p)
{
	if (p->proto == IPPROTO_TCP)
		return p->l4 + 16;
	if (p->proto == IPPROTO_UDP)
		return p->l4 + 6;
	return p->l4 + 2;
}

static void sums_of(const uint8_t *in, const struct m_pkt *p, size_t inner,
		    struct m_sums *s)
{
	memset(s, 0, sizeof(*s));
	if (p->family == 4)
		s->ip4_hdr = sum_total(in, p->l3, (in[p->l3] & 0xf) * 4u, 0);
	if (p->frag == M_FRAG_LATER)
		return; /* no L4 header, no L4 checksum */
	s->l4 = sum_total(in, p->l4, p->end - p->l4, l4_pseudo(in, p));
	s->udp_none = p->proto == IPPROTO_UDP &&
		       rd16(in + p->l4 + 6) == 0;
	if (inner)
		s->inner_ip4 = sum_total(in, inner, (in[inner] & 0xf) * 4u, 0);
}

static void equiv(struct m_result *r, size_t off)
{
	if (r->n_equiv < 4)
		r->equiv_off[r->n_equiv++] = off;
}

/* Outer IP: addresses of `to`, TTL / hop limit - 1. */
static void rewrite_ip(uint8_t *o, const struct m_pkt *p,
		       const struct xlb_flow_key *to)
{
	uint8_t *ip = o + p->l3;

	if (p->family == 4) {
		ip[8]--;
		memcpy(ip + 12, to->src.bytes, 4);
		memcpy(ip + 16, to->dst.bytes, 4);
	} else {
		ip[7]--;
		memcpy(ip + 8, to->src.bytes, 16);
		memcpy(ip + 24, to->dst.bytes, 16);
	}
}

static void finish_checksums(uint8_t *o, const struct m_pkt *p,
			     const struct m_sums *s, struct m_result *r)
{
	size_t c = l4_csum_off(p);
	uint16_t v;

	if (p->family == 4) {
		size_t hl = (o[p->l3] & 0xf) * 4u;

		wr16(o + p->l3 + 10,
		     csum_keep(o, p->l3, hl, p->l3 + 10, 0, s->ip4_hdr));
		equiv(r, p->l3 + 10);
	}
	/* a later fragment has none: its datagram's checksum, in the first
	 * fragment, covers it (and was updated there) */
	if (p->frag == M_FRAG_LATER)
		return;
	if (s->udp_none)
		return; /* no checksum, and it stays so */
	v = csum_keep(o, p->l4, p->end - p->l4, c, l4_pseudo(o, p), s->l4);
	if (p->proto == IPPROTO_UDP) {
		if (v == 0)
			v = 0xffff; /* 0 would mean "no checksum" */
	} else {
		equiv(r, c);
	}
	wr16(o + c, v);
}

/* The IP packet's length, what the FIB compares with the MTU (bpf/nat.h
 * pkt_ip_bytes), and whether its TTL / hop limit allows no further hop
 * (nat_check_ttl). */
static uint32_t ip_length(const uint8_t *in, const struct m_pkt *p)
{
	const uint8_t *ip = in + p->l3;

	return p->family == 4 ? rd16(ip + 2) : 40u + rd16(ip + 4);
}

static bool ttl_spent(const uint8_t *in, const struct m_pkt *p)
{
	const uint8_t *ip = in + p->l3;

	return (p->family == 4 ? ip[8] : ip[7]) <= 1;
}

/* Next hop of the rewritten packet: 0 or a drop reason; fills fib and
 * *checked, the IP size the answer holds for.  COPIED from bpf/nat.h
 * nat_fib(): the FIB is asked with at least min_bytes, then with the
 * path's MTU if that is smaller and the packet fits. */
static uint32_t next_hop(struct model *m, const uint8_t *in,
			 const struct m_pkt *p, const struct xlb_flow_key *to,
			 struct m_fib *fib, uint32_t min_bytes,
			 uint32_t *checked)
{
	uint32_t ip_bytes = ip_length(in, p), tot;

	if (ttl_spent(in, p))
		return XLB_STAT_DROP_TTL;
	tot = ip_bytes > min_bytes ? ip_bytes : min_bytes;
	m_fib_lookup(m->topo, p->family, to->dst.bytes, tot, fib);
	if (fib->rc == M_FIB_FRAG_NEEDED && tot > ip_bytes &&
	    fib->mtu >= ip_bytes) {
		tot = fib->mtu;
		m_fib_lookup(m->topo, p->family, to->dst.bytes, tot, fib);
	}
	if (fib->rc != M_FIB_SUCCESS)
		return fib_reason(fib->rc);
	*checked = tot;
	return 0;
}

/*
 * The next hop of a tracked flow's packet (bpf/nat.h flow_next_hop()):
 * the TTL check, then the answer cached in the entry while it is younger
 * than XLB_NEXT_HOP_TTL_NS and the packet is no longer than the one the
 * FIB checked against the MTU (no new lookup: routes and neighbours are
 * not looked at again), else a lookup whose success is cached.
 */
static uint32_t flow_next_hop(struct model *m, const uint8_t *in,
			      const struct m_pkt *p, struct m_entry *e,
			      struct m_fib *fib, struct m_result *r)
{
	bool in_map = m_table_find(&m->flows, &e->key) == e ||
		      m_table_find(&m->embryos, &e->key) == e;
	uint32_t ip_bytes = ip_length(in, p), rc, checked = 0;

	if (ttl_spent(in, p))
		return XLB_STAT_DROP_TTL;
	if (e->nh.lo && ip_bytes <= e->nh.max_bytes) {
		/* coarse clock on both sides */
		if (older_than(m->now.clo, m->now.chi, e->nh.lo, e->nh.hi,
			       XLB_NEXT_HOP_TTL_NS, r) != 1) {
			memset(fib, 0, sizeof(*fib));
			fib->rc = M_FIB_SUCCESS;
			fib->iface = e->nh.iface;
			memcpy(fib->smac, e->nh.smac, 6);
			memcpy(fib->dmac, e->nh.dmac, 6);
			return 0;
		}
	}
	rc = next_hop(m, in, p, &e->val.rewritten, fib,
		      XLB_NEXT_HOP_CHECK_BYTES, &checked);
	if (rc)
		return rc;
	e->nh.lo = m->now.clo ? m->now.clo : 1; /* 0 means "none" */
	e->nh.hi = m->now.chi;
	e->nh.iface = fib->iface;
	e->nh.max_bytes = checked;
	memcpy(e->nh.smac, fib->smac, 6);
	memcpy(e->nh.dmac, fib->dmac, 6);
	if (in_map)
		touch(r, m_table_find(&m->flows, &e->key) == e ? 0 : 1,
		      &e->key);
	return 0;
}

/* MACs, then out: verdict or drop reason. */
static uint32_t transmit(struct model *m, uint8_t *o, const struct m_pkt *p,
			 const struct m_fib *fib, uint32_t *verdict)
{
	memcpy(o, fib->dmac, 6);
	memcpy(o + 6, fib->smac, 6);
	if (fib->iface == 0) {
		*verdict = M_XDP_TX;
		return 0;
	}
	/* a tagged frame leaves by another interface only if that is a
	 * VLAN device on this one (xlb_vlans): none in the fuzzer's set-up */
	if (p->vlan_tags)
		return XLB_STAT_DROP_REDIRECT;
	if (!m->tx_port[fib->iface])
		return XLB_STAT_DROP_REDIRECT;
	*verdict = M_XDP_REDIRECT;
	return 0;
}

/* ------------------------------------------------------------------ */
/* ICMP errors                                                         */
/* ------------------------------------------------------------------ */

static bool icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == 3 || type == 11 || type == 12;
	return type == 1 || type == 2 || type == 3 || type == 4;
}

/* XLB_STAT_FWD_ICMP + verdict, or a PASS/DROP reason. */
static uint32_t icmp_packet(struct model *m, const uint8_t *in, uint8_t *o,
			    struct m_pkt *p, uint32_t *verdict,
			    struct m_result *r)
{
	size_t q = p->l4 + 8, ports;
	struct xlb_flow_key key, outer, inner;
	struct m_entry *e;
	struct m_sums s;
	struct m_fib fib;
	uint8_t iproto;
	uint32_t rc, checked;

	if (!icmp_is_error(p->family, in[p->l4]))
		return XLB_STAT_PASS_ICMP;
	memset(&key, 0, sizeof(key));
	if (p->family == 4) {
		/* a quoted later fragment has no ports */
		if (!inside(p, q + 20) || (in[q] & 0xf) < 5 ||
		    (rd16(in + q + 6) & 0x1fff))
			return XLB_STAT_PASS_ICMP;
		ports = q + (in[q] & 0xf) * 4u;
		iproto = in[q + 9];
		key.family = XLB_FAMILY_V4;
		memcpy(key.src.bytes, in + q + 16, 4);
		memcpy(key.dst.bytes, in + q + 12, 4);
	} else {
		if (!inside(p, q + 40))
			return XLB_STAT_PASS_ICMP;
		ports = q + 40;
		iproto = in[q + 6];
		if (iproto == 44) {
			/* a quoted fragment: the first one's ports follow
			 * its fragment header; a later one has none */
			if (!inside(p, q + 48) || (rd16(in + q + 42) & 0xfff8))
				return XLB_STAT_PASS_ICMP;
			iproto = in[q + 40];
			ports = q + 48;
		}
		key.family = XLB_FAMILY_V6;
		memcpy(key.src.bytes, in + q + 24, 16);
		memcpy(key.dst.bytes, in + q + 8, 16);
	}
	if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP)
		return XLB_STAT_PASS_ICMP;
	if (!inside(p, ports + 4))
		return XLB_STAT_PASS_ICMP;
	key.proto = iproto;
	memcpy(&key.sport, in + ports + 2, 2);
	memcpy(&key.dport, in + ports, 2);

	/* the quoted packet is one we sent: the entry of the other
	 * direction of its connection */
	e = m_table_find(&m->flows, &key);
	if (!e)
		e = m_table_find(&m->embryos, &key);
	if (!e)
		return XLB_STAT_PASS_ICMP;
	r->ours = true;
	outer = e->val.rewritten;
	outer.proto = p->proto;
	outer.sport = outer.dport = 0;
	swap_key(&e->val.rewritten, &inner);

	rc = next_hop(m, in, p, &outer, &fib, 0, &checked);
	if (rc)
		return rc;
	sums_of(in, p, p->family == 4 ? q : 0, &s);
	rewrite_ip(o, p, &outer);
	/* the quoted packet as its receiver sent it */
	if (p->family == 4) {
		size_t ihl = (o[q] & 0xf) * 4u;

		memcpy(o + q + 12, inner.src.bytes, 4);
		memcpy(o + q + 16, inner.dst.bytes, 4);
		wr16(o + q + 10, csum_keep(o, q, ihl, q + 10, 0, s.inner_ip4));
		equiv(r, q + 10);
	} else {
		memcpy(o + q + 8, inner.src.bytes, 16);
		memcpy(o + q + 24, inner.dst.bytes, 16);
	}
	memcpy(o + ports, &inner.sport, 2);
	memcpy(o + ports + 2, &inner.dport, 2);
	/* the quoted L4 checksum is left as it is (documented) */
	finish_checksums(o, p, &s, r);
	return transmit(m, o, p, &fib, verdict) ?: XLB_STAT_FWD_ICMP;
}

/* ------------------------------------------------------------------ */
/* The pipeline                                                        */
/* ------------------------------------------------------------------ */

/* bpf/xlb.bpf.c xlb_process(): a service port, or a NAT port from a
 * port that a backend of the packet's protocol listens on (the model's
 * backends never leave, so "has listened" is "listens") */
static bool port_prefilter(const struct model *m, const struct m_pkt *p)
{
	uint16_t dport = ntohs(p->key.dport), sport = ntohs(p->key.sport);

	for (int i = 0; i < M_MAX_SVC; i++)
		if (m->svc[i].in_use && m->svc[i].port == dport &&
		    m->svc[i].proto == p->proto)
			return true;
	if (dport < m->nat_port_min || dport > m->nat_port_max)
		return false;
	for (int i = 0; i < M_MAX_SVC; i++) {
		const struct m_service *s = &m->svc[i];

		if (!s->in_use || s->proto != p->proto)
			continue;
		for (uint32_t j = 0; j < s->n_backends; j++)
			if (m->be[s->first_backend + j].port == sport)
				return true;
	}
	return false;
}

/* The reassembly key of the fragment p (struct xlb_frag_key, zeroed
 * padding: the map compares bytes). */
static void frag_key_of(const struct m_pkt *p, struct xlb_frag_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src = p->key.src;
	k->dst = p->key.dst;
	memcpy(&k->id, &p->frag_id, sizeof(k->id));
	k->proto = p->key.proto;
	k->family = p->key.family;
}

/* A datagram's first fragment was forwarded (or handed to xlb run): its
 * ports, as it arrived, for the later fragments.  A datagram that reuses
 * the identification replaces the record (BPF_ANY). */
static void frag_record(struct model *m, const struct m_pkt *p)
{
	struct xlb_frag_key k;
	struct m_entry *f;
	struct m_frag *e;

	frag_key_of(p, &k);
	/* the connection it went by: its entry's rewritten destination
	 * (none left: no record) */
	f = m_table_find(&m->flows, &p->key);
	if (!f)
		f = m_table_find(&m->embryos, &p->key);
	if (!f) {
		m_frag_delete(&m->frags, &k);
		return;
	}
	e = frag_put(&m->frags, &k);
	memset(&e->val, 0, sizeof(e->val));
	e->val.sport = p->key.sport;
	e->val.dport = p->key.dport;
	e->val.to = f->val.rewritten.dst;
	e->val.to_port = f->val.rewritten.dport;
	/* the coarse clock, read once the packet was known to be ours */
	e->seen_lo = m->now.clo;
	e->seen_hi = m->now.chi;
}

/*
 * The flow of a later fragment: its datagram's record, younger than
 * XLB_FRAG_TIMEOUT_NS, gives the ports; then the entry as flow_find
 * would find it (established, or half-open with its partner pointing
 * back), but nothing changes: no stale half forgotten, no promotion, no
 * new connection.  NULL: passed as a fragment.
 */
static struct m_entry *frag_flow(struct model *m, struct m_pkt *p,
				 struct m_result *r)
{
	struct xlb_frag_key k;
	struct m_frag *fr;
	struct m_entry *e;

	frag_key_of(p, &k);
	fr = m_frag_find(&m->frags, &k);
	/* coarse clock on both sides; signed in the program: a record
	 * ahead of the reading is not old.  Too close to call: flagged */
	if (!fr || older_than(m->now.clo, m->now.chi, fr->seen_lo, fr->seen_hi,
			      XLB_FRAG_TIMEOUT_NS, r) != 0)
		return NULL;
	p->key.sport = fr->val.sport;
	p->key.dport = fr->val.dport;
	e = m_table_find(&m->flows, &p->key);
	if (!e) {
		e = m_table_find(&m->embryos, &p->key);
		if (e && !embryo_partner(m, &p->key, &e->val))
			e = NULL;
	}
	/* still the connection the first fragment went by (the same
	 * rewritten destination), not one that took the key over */
	if (!e || e->val.rewritten.dport != fr->val.to_port ||
	    memcmp(&e->val.rewritten.dst, &fr->val.to, sizeof(fr->val.to)))
		return NULL;
	return e;
}

/* Forward the packet p of entry e (bpf/nat.h nat_forward): the verdict's
 * reason (FWD_*), or the drop reason. */
static uint32_t forward(struct model *m, const uint8_t *in, uint8_t *o,
			const struct m_pkt *p, struct m_entry *e,
			uint32_t *verdict, struct m_result *r)
{
	struct xlb_flow_key to = e->val.rewritten;
	struct m_sums s;
	struct m_fib fib;
	uint32_t rc;

	/* a copy (promoted connection) uses the cached next hop it carries,
	 * and what it caches is lost */
	rc = flow_next_hop(m, in, p, e, &fib, r);
	if (rc == XLB_STAT_DROP_FIB_FRAG)
		r->too_big_mtu = fib.mtu; /* model_packet answers it */
	if (rc && rc != XLB_STAT_DROP_FIB_NO_NEIGH)
		return rc;
	/* a packet bound for an interface the program cannot send to (a
	 * tagged frame: no VLAN devices here; an untagged one: not in
	 * xlb_tx_ports) is not handed over: it could not be sent later
	 * either */
	if (rc && fib.iface != 0 && (p->vlan_tags || !m->tx_port[fib.iface]))
		return XLB_STAT_DROP_REDIRECT;
	sums_of(in, p, 0, &s);
	rewrite_ip(o, p, &to);
	if (p->frag != M_FRAG_LATER) { /* a later fragment has no ports */
		memcpy(o + p->l4, &to.sport, 2);
		memcpy(o + p->l4 + 2, &to.dport, 2);
	}
	finish_checksums(o, p, &s, r);
	if (rc) {
		/* rewritten, then handed to xlb run if it fits a record */
		uint32_t len = ip_length(in, p);

		r->handed_over = len >= 1 && len <= XLB_PACKET_EVENT_BYTES &&
				 p->l3 + len <= p->len;
		r->handed_off = p->l3;
		r->handed_len = len;
		r->handed_iface = fib.iface;
		return rc;
	}
	rc = transmit(m, o, p, &fib, verdict);
	if (rc)
		return rc;
	if (p->frag == M_FRAG_LATER)
		count(m, XLB_STAT_FRAG_FORWARDED);
	m->svc_traffic[e->val.service_id].packets++;
	m->svc_traffic[e->val.service_id].bytes += p->len;
	m->be_traffic[e->val.backend_id].packets++;
	m->be_traffic[e->val.backend_id].bytes += p->len;
	return e->val.dir == XLB_DIR_TO_BACKEND ? XLB_STAT_FWD_TO_BACKEND :
						  XLB_STAT_FWD_TO_CLIENT;
}

static uint32_t process(struct model *m, const uint8_t *in, uint8_t *o,
			struct m_pkt *p, uint32_t *verdict, struct m_result *r)
{
	struct m_entry *e;
	bool promoted = false;
	struct m_entry copy;
	uint32_t rc;

	rc = parse(m, p);
	if (rc)
		return rc;
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
		return icmp_packet(m, in, o, p, verdict, r);
	if (p->frag == M_FRAG_LATER) {
		/* no ports: its first fragment's flow, untouched (no port
		 * pre-filter, no table change) */
		e = frag_flow(m, p, r);
		if (!e)
			return XLB_STAT_PASS_FRAGMENT;
		r->ours = true;
		return forward(m, in, o, p, e, verdict, r);
	}
	if (!port_prefilter(m, p))
		return XLB_STAT_PASS_NO_SERVICE;

	e = flow_find(m, p, &rc, &promoted, r);
	if (e || rc)
		r->ours = true;
	if (!e && rc)
		return rc;
	if (!e) {
		e = new_flow(m, p, &rc, &r->ours, r);
		if (!e)
			return rc;
	}
	/* what the packet records in its entry (a copy for a just promoted
	 * connection: nothing more reaches the tables; a new connection's
	 * SYN goes from its stored client entry, as its retransmission
	 * does: bpf/flow.h flow_create) */
	if (promoted) {
		copy = *e;
		e = &copy;
		touch_entry(e, p, &m->now, false, NULL);
	} else {
		bool est = m_table_find(&m->flows, &e->key) == e;
		struct m_judge j = { .rst_ok = true, .fin_ok = true };

		if (est) {
			judge(m, p, e, &j);
			if ((p->tcp_flags & TCP_RST) && !j.rst_ok)
				count(m, XLB_STAT_RST_IGNORED);
		}
		if (touch_entry(e, p, &m->now, est, &j))
			touch(r, est ? 0 : 1, &e->key);
	}
	return forward(m, in, o, p, e, verdict, r);
}

/*
 * bpf/pmtu.h, written from the RFCs: the error a router sends for a
 * packet over its egress MTU, in place of the frame: ICMP type 3 code 4
 * (IPv4, DF set) or ICMPv6 type 2, with the MTU, from the packet's
 * destination to its source, back to the MAC address it came from (tags
 * kept), TTL 64, quoting the first 64 bytes of the IP packet.  false if
 * the packet gets none (IPv4 without DF, or an IPv4 header too long for
 * the quote to hold 8 bytes after it): dropped.
 */
#define M_TOO_BIG_QUOTE 64
static bool too_big_error(const uint8_t *in, const struct m_pkt *p,
			  uint32_t mtu, uint8_t *o, size_t *o_len)
{
	const uint8_t *ip = in + p->l3;
	size_t hdr = p->family == 4 ? 20 + 8 : 40 + 8;
	uint8_t quote[M_TOO_BIG_QUOTE], *n = o + p->l3, *icmp = n + hdr - 8;
	uint64_t acc;

	if (p->family == 4 && (!(rd16(ip + 6) & 0x4000) ||
			       (ip[0] & 15) * 4 + 8 > M_TOO_BIG_QUOTE ||
			       mtu < 68 || mtu > 0xffff))
		return false;
	if ((p->family == 6 && mtu < 1280) || p->len <= p->l3 + sizeof(quote))
		return false;
	memcpy(quote, ip, sizeof(quote));
	memcpy(o, in + 6, 6);
	memcpy(o + 6, in, 6);
	memcpy(o + 12, in + 12, p->l3 - 12);
	memset(n, 0, hdr);
	memcpy(n + hdr, quote, sizeof(quote));
	if (p->family == 4) {
		n[0] = 0x45;
		n[1] = 0xc0;
		wr16(n + 2, (uint16_t)(hdr + sizeof(quote)));
		n[8] = 64;
		n[9] = 1;
		memcpy(n + 12, ip + 16, 4);
		memcpy(n + 16, ip + 12, 4);
		wr16(n + 10, (uint16_t)~m_fold(m_sum(n, 20, 0)));
		icmp[0] = 3;
		icmp[1] = 4;
		wr16(icmp + 6, (uint16_t)mtu);
		acc = 0;
	} else {
		n[0] = 0x60;
		wr16(n + 4, (uint16_t)(8 + sizeof(quote)));
		n[6] = 58;
		n[7] = 64;
		memcpy(n + 8, ip + 24, 16);
		memcpy(n + 24, ip + 8, 16);
		icmp[0] = 2;
		wr16(icmp + 4, (uint16_t)(mtu >> 16));
		wr16(icmp + 6, (uint16_t)mtu);
		acc = pseudo_sum(6, n + 8, n + 24, 58, 8 + sizeof(quote));
	}
	wr16(icmp + 2,
	     (uint16_t)~m_fold(m_sum(icmp, 8 + sizeof(quote), acc)));
	*o_len = p->l3 + hdr + sizeof(quote);
	return true;
}

void model_packet(struct model *m, const uint8_t *in, size_t len,
		  uint8_t *out, size_t *out_len, struct m_result *r,
		  const struct m_clock *now)
{
	struct m_pkt p = { .f = in, .len = len };
	uint32_t verdict = M_XDP_PASS, reason;

	m->now = *now;
	memset(r, 0, sizeof(*r));
	memcpy(out, in, len);
	*out_len = len;
	reason = process(m, in, out, &p, &verdict, r);
	/* a datagram's first fragment, sent (or handed to xlb run, which
	 * sends it): its later fragments follow.  Any other (passed,
	 * dropped, answered with "too big": the sender sends it again,
	 * smaller) removes an earlier datagram's record of the same key,
	 * which its later fragments would otherwise follow. */
	if (p.frag == M_FRAG_FIRST) {
		if (reason == XLB_STAT_FWD_TO_BACKEND ||
		    reason == XLB_STAT_FWD_TO_CLIENT ||
		    reason == XLB_STAT_DROP_FIB_NO_NEIGH) {
			frag_record(m, &p);
		} else {
			struct xlb_frag_key k;

			frag_key_of(&p, &k);
			m_frag_delete(&m->frags, &k);
		}
	}
	r->beyond_ip_len = p.beyond;
	if (reason == XLB_STAT_DROP_FIB_FRAG && r->too_big_mtu &&
	    too_big_error(in, &p, r->too_big_mtu, out, out_len)) {
		/* dropped, and answered (counted both ways) */
		count(m, reason);
		count(m, XLB_STAT_TOO_BIG_SENT);
		r->reason = XLB_STAT_TOO_BIG_SENT;
		r->n_equiv = 0;
		r->verdict = M_XDP_TX;
		return;
	}
	count(m, reason);
	r->reason = reason;
	if (reason <= XLB_STAT_FWD_ICMP) {
		r->verdict = verdict;
		return;
	}
	/* nothing changes unless it is sent (by the program, or by xlb run:
	 * the NO_NEIGH hand-over) */
	if (reason != XLB_STAT_DROP_FIB_NO_NEIGH) {
		r->n_equiv = 0;
		memcpy(out, in, len);
	}
	r->verdict = reason >= XLB_STAT_FIRST_DROP ? M_XDP_DROP : M_XDP_PASS;
}

/* ------------------------------------------------------------------ */
/* Generator helpers                                                   */
/* ------------------------------------------------------------------ */

int m_layout_of(const uint8_t *f, size_t len, struct m_layout *lo)
{
	size_t off = ETH_HLEN;
	uint16_t type;

	memset(lo, 0, sizeof(*lo));
	if (len < ETH_HLEN)
		return -1;
	type = rd16(f + 12);
	while ((type == 0x8100 || type == 0x88a8) && off + 4 <= len) {
		type = rd16(f + off + 2);
		off += 4;
		lo->vlan_tags++;
	}
	lo->ethertype = type;
	lo->l3 = off;
	if (type == 0x0800 && off + 20 <= len) {
		size_t hl = (f[off] & 0xf) * 4u, tot = rd16(f + off + 2);

		lo->family = 4;
		if (hl < 20 || off + hl > len || tot < hl || off + tot > len)
			return -1;
		lo->l4 = off + hl;
		lo->end = off + tot;
		lo->proto = f[off + 9];
		lo->later = (rd16(f + off + 6) & 0x1fff) != 0;
	} else if (type == 0x86dd && off + 40 <= len) {
		lo->family = 6;
		lo->l4 = off + 40;
		lo->end = off + 40 + rd16(f + off + 4);
		lo->proto = f[off + 6];
		if (lo->end > len)
			return -1;
		if (lo->proto == 44 && lo->l4 + 8 <= lo->end) {
			/* a fragment header: the L4 header follows it (in
			 * the first fragment, or an atomic one) */
			lo->frag6 = lo->l4;
			lo->proto = f[lo->l4];
			lo->later = (rd16(f + lo->l4 + 2) & 0xfff8) != 0;
			lo->l4 += 8;
		}
	} else {
		return -1;
	}
	return 0;
}

void m_fix_checksums(uint8_t *f, size_t len)
{
	struct m_layout lo;
	size_t c = 0, seg;
	uint64_t pseudo = 0;

	if (m_layout_of(f, len, &lo))
		return;
	if (lo.family == 4) {
		size_t hl = (f[lo.l3] & 0xf) * 4u;

		wr16(f + lo.l3 + 10, 0);
		wr16(f + lo.l3 + 10, ~m_fold(m_sum(f + lo.l3, hl, 0)));
	}
	/* a later fragment has no L4 header; a first one's checksum covers
	 * the whole datagram: computed here as if it were all of it (the
	 * rewrite keeps any error, and fragments' L4 sums are not checked) */
	if (lo.later)
		return;
	seg = lo.end - lo.l4;
	if (lo.proto == IPPROTO_TCP && seg >= 20)
		c = lo.l4 + 16;
	else if (lo.proto == IPPROTO_UDP && seg >= 8)
		c = lo.l4 + 6;
	else if ((lo.proto == IPPROTO_ICMP || lo.proto == IPPROTO_ICMPV6) &&
		 seg >= 4)
		c = lo.l4 + 2;
	if (!c)
		return;
	if ((lo.proto == IPPROTO_ICMP) && lo.family == 4 && seg >= 8 + 20) {
		/* quoted IPv4 header of an error */
		size_t q = lo.l4 + 8, hl = (f[q] & 0xf) * 4u;

		if (f[q] >> 4 == 4 && hl >= 20 && q + hl <= lo.end) {
			wr16(f + q + 10, 0);
			wr16(f + q + 10, ~m_fold(m_sum(f + q, hl, 0)));
		}
	}
	if (lo.proto != IPPROTO_ICMP) {
		const uint8_t *ip = f + lo.l3;

		pseudo = lo.family == 4 ?
				 pseudo_sum(4, ip + 12, ip + 16, lo.proto, seg) :
				 pseudo_sum(6, ip + 8, ip + 24, lo.proto, seg);
	}
	wr16(f + c, 0);
	wr16(f + c, (uint16_t)~m_fold(m_sum(f + lo.l4, seg, pseudo)));
	if (lo.proto == IPPROTO_UDP && rd16(f + c) == 0)
		wr16(f + c, 0xffff);
}

/* Names only (for messages): the control program's table, not a copy. */
const char *m_stat_name(uint32_t stat)
{
	return stat < XLB_STAT_MAX && xlb_stat_names[stat] ?
		       xlb_stat_names[stat] :
		       "?";
}

const char *m_verdict_name(uint32_t v)
{
	static const char *const names[] = { "XDP_ABORTED", "XDP_DROP",
					     "XDP_PASS", "XDP_TX",
					     "XDP_REDIRECT" };

	return v < 5 ? names[v] : "XDP_?";
}
