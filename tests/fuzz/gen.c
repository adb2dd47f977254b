// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packet generator of the differential fuzzer (see gen.h).  Valid packets
 * come from tests/unit/pkt.c (pkt_build); mutations work on the bytes. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "pkt.h"
#include "gen.h"

#define MAX_GEN_FRAME 3400 /* BPF_PROG_TEST_RUN keeps it one buffer */
#define GEN_IP6_M 0x0001   /* IPv6 fragment header: more fragments */

/* ------------------------------------------------------------------ */
/* Randomness                                                          */
/* ------------------------------------------------------------------ */

uint64_t gen_rand(struct gen *g)
{
	/* splitmix64 */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t gen_below(struct gen *g, uint32_t n)
{
	return n ? (uint32_t)(gen_rand(g) % n) : 0;
}

static bool chance(struct gen *g, unsigned int percent)
{
	return gen_below(g, 100) < percent;
}

static void rand_bytes(struct gen *g, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)gen_rand(g);
}

void gen_init(struct gen *g, uint64_t seed, const uint8_t *lb_mac)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed;
	g->lb_mac = lb_mac;
}

const char *gen_kind_name(enum gen_kind k)
{
	static const char *const names[G_KINDS] = {
		"random", "new", "client", "reply", "spoof", "other", "icmp",
		"frag",
	};

	return k < G_KINDS ? names[k] : "?";
}

/* ------------------------------------------------------------------ */
/* Address and port pools (documentation ranges)                       */
/* ------------------------------------------------------------------ */

static const char *const clients4[] = {
	"203.0.113.1",	 "203.0.113.2",	  "203.0.113.7",   "203.0.113.9",
	"203.0.113.20",	 "203.0.113.21",  "203.0.113.130", /* mtu 1280 */
	"203.0.113.200", "192.0.2.70",	  /* unreachable */
	"192.0.2.130",	 /* blackhole */ "192.0.2.170", /* prohibit */
	"192.0.2.200",	 /* gateway without neighbour */
	"198.51.100.11", /* a backend as a client */
	"198.51.100.50", /* on link, no neighbour */
	"192.0.2.5",	 /* behind the second interface */
	"198.51.100.255", /* broadcast */
	"198.51.100.10", /* the balancer itself */
};

static const char *const clients6[] = {
	"2001:db8:200::1", "2001:db8:200::2",  "2001:db8:200::3",
	"2001:db8:201::1", /* mtu 1280 */ "2001:db8:f00::1", "2001:db8:f01::1",
	"2001:db8:f02::1", "2001:db8:f03::1", "fe80::1",
	"2001:db8:100::11", /* a backend as a client */
	"2001:db8:300::5",  "2001:db8:100::", /* anycast */
	"2001:db8:100::99", /* on link, no neighbour */
};

static const char *const routers4[] = { "198.51.100.2", "203.0.113.1",
					"192.0.2.33", "198.51.100.11" };
static const char *const routers6[] = { "2001:db8:100::2", "2001:db8:200::1",
					"2001:db8:100::11" };

static void pick_addr(struct gen *g, uint8_t family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (chance(g, 6)) { /* anywhere in a documentation range */
		if (family == 4) {
			static const uint8_t nets[3][3] = {
				{ 198, 51, 100 }, { 203, 0, 113 }, { 192, 0, 2 } };
			memcpy(out, nets[gen_below(g, 3)], 3);
			out[3] = (uint8_t)gen_rand(g);
		} else {
			out[0] = 0x20;
			out[1] = 0x01;
			out[2] = 0x0d;
			out[3] = 0xb8;
			rand_bytes(g, out + 4, 12);
		}
		return;
	}
	if (family == 4)
		pkt_addr(clients4[gen_below(g, sizeof(clients4) /
						 sizeof(clients4[0]))],
			 out);
	else
		pkt_addr(clients6[gen_below(g, sizeof(clients6) /
						 sizeof(clients6[0]))],
			 out);
}

static void pick_router(struct gen *g, uint8_t family, uint8_t out[16])
{
	if (chance(g, 20)) {
		pick_addr(g, family, out);
		return;
	}
	if (family == 4)
		pkt_addr(routers4[gen_below(g, 4)], out);
	else
		pkt_addr(routers6[gen_below(g, 3)], out);
}

static uint16_t pick_port(struct gen *g)
{
	static const uint16_t ports[] = { 1024, 1025, 2000, 2001, 8000, 80,
					  53,	40000, 40001, 65535, 0, 443 };

	if (chance(g, 45))
		return (uint16_t)gen_rand(g);
	return ports[gen_below(g, sizeof(ports) / sizeof(ports[0]))];
}

static uint8_t pick_flags(struct gen *g, int kind)
{
	static const uint8_t client[] = {
		PKT_TCP_ACK, PKT_TCP_ACK, PKT_TCP_ACK, PKT_TCP_ACK | PKT_TCP_PSH,
		PKT_TCP_ACK | PKT_TCP_PSH, PKT_TCP_ACK | PKT_TCP_FIN,
		PKT_TCP_RST, PKT_TCP_RST | PKT_TCP_ACK, PKT_TCP_SYN,
		PKT_TCP_SYN, PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_FIN, 0,
	};
	static const uint8_t reply[] = {
		PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_SYN | PKT_TCP_ACK,
		PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_ACK, PKT_TCP_ACK,
		PKT_TCP_ACK | PKT_TCP_PSH, PKT_TCP_ACK | PKT_TCP_FIN,
		PKT_TCP_RST, PKT_TCP_RST | PKT_TCP_ACK, PKT_TCP_SYN,
	};
	static const uint8_t opening[] = {
		PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_ACK, PKT_TCP_RST,
		PKT_TCP_FIN, PKT_TCP_SYN | PKT_TCP_FIN, PKT_TCP_SYN | PKT_TCP_RST,
		PKT_TCP_SYN | 0xc0, /* ECE+CWR: ECN setup */
		PKT_TCP_SYN | PKT_TCP_PSH, PKT_TCP_SYN | 0x20, /* URG */
		0, 0xff,
	};

	if (chance(g, 7))
		return (uint8_t)gen_rand(g);
	switch (kind) {
	case G_NEW:
		if (chance(g, 80))
			return PKT_TCP_SYN;
		return opening[gen_below(g, sizeof(opening))];
	case G_REPLY:
		return reply[gen_below(g, sizeof(reply))];
	default:
		return client[gen_below(g, sizeof(client))];
	}
}

/* ------------------------------------------------------------------ */
/* Valid packets                                                       */
/* ------------------------------------------------------------------ */

struct tuple {
	uint8_t family; /* 4 / 6 */
	uint8_t proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order */
};

static void tuple_of_key(const struct xlb_flow_key *k, struct tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->family = k->family == XLB_FAMILY_V6 ? 6 : 4;
	t->proto = k->proto;
	memcpy(t->src, k->src.bytes, 16);
	memcpy(t->dst, k->dst.bytes, 16);
	t->sport = ntohs(k->sport);
	t->dport = ntohs(k->dport);
}

static size_t pick_payload_len(struct gen *g)
{
	unsigned int r = gen_below(g, 100);

	if (r < 60)
		return gen_below(g, 41);
	if (r < 85)
		return gen_below(g, 601);
	if (r < 95)
		return 1200 + gen_below(g, 301);
	return 1400 + gen_below(g, 1501);
}

static void spec_of(struct gen *g, struct pkt_spec *s, const struct tuple *t,
		    uint8_t flags)
{
	unsigned int r;

	pkt_spec_init(s);
	memcpy(s->dmac, g->lb_mac, 6);
	pkt_mac("02:00:00:00:00:fe", s->smac);
	r = gen_below(g, 100);
	s->n_vlans = r < 85 ? 0 : r < 93 ? 1 : r < 98 ? 2 : 3;
	for (int i = 0; i < s->n_vlans; i++) {
		s->vlans[i].tpid = chance(g, 50) ? PKT_ETH_P_8021Q :
						   PKT_ETH_P_8021AD;
		s->vlans[i].tci = (uint16_t)gen_rand(g);
	}
	s->family = t->family;
	memcpy(s->src, t->src, 16);
	memcpy(s->dst, t->dst, 16);
	if (chance(g, 6)) {
		static const uint8_t ttls[] = { 0, 1, 2, 255 };

		s->ttl = ttls[gen_below(g, 4)];
	}
	if (chance(g, 10))
		s->tos = (uint8_t)gen_rand(g);
	s->ip_id = (uint16_t)gen_rand(g);
	if (t->family == 4) {
		if (chance(g, 50))
			s->frag = PKT_IP_DF;
		if (chance(g, 10))
			s->ip_opt_len = 4 * (1 + gen_below(g, 10));
	}
	s->proto = t->proto;
	s->sport = t->sport;
	s->dport = t->dport;
	s->tcp_flags = flags;
	s->seq = (uint32_t)gen_rand(g);
	s->ack = flags & PKT_TCP_ACK ? (uint32_t)gen_rand(g) : 0;
	if (t->proto == IPPROTO_TCP && chance(g, 30))
		s->tcp_opt_len = 4 * (1 + gen_below(g, chance(g, 70) ? 3 : 10));
	if (t->proto == IPPROTO_UDP && chance(g, 5))
		s->udp_no_csum = true;
	s->payload_len = pick_payload_len(g);
	s->payload_seed = (uint8_t)gen_rand(g);
	if (chance(g, 8))
		s->trailer_len = gen_below(g, 24);
}

static size_t build_ack(struct gen *g, const struct tuple *t, uint8_t flags,
			uint8_t *buf, size_t cap, const uint32_t *ack,
			const uint32_t *seq)
{
	struct pkt_spec s;
	size_t n;

	spec_of(g, &s, t, flags);
	if (ack)
		s.ack = *ack;
	if (seq)
		s.seq = *seq;
	n = pkt_build(&s, buf, cap < MAX_GEN_FRAME ? cap : MAX_GEN_FRAME);
	if (!n) { /* too big: no payload */
		s.payload_len = 0;
		n = pkt_build(&s, buf, cap);
	}
	return n;
}

static size_t build(struct gen *g, const struct tuple *t, uint8_t flags,
		    uint8_t *buf, size_t cap)
{
	return build_ack(g, t, flags, buf, cap, NULL, NULL);
}

/* A random live entry of the model with direction dir (-1: any). */
static const struct m_entry *pick_entry(struct gen *g, const struct model *m,
					int dir)
{
	for (int tries = 0; tries < 16; tries++) {
		const struct m_table *t =
			chance(g, 50) ? &m->flows : &m->embryos;
		const struct m_entry *e;

		if (!t->s.n)
			t = t == &m->flows ? &m->embryos : &m->flows;
		if (!t->s.n)
			return NULL;
		e = m_table_at(t, gen_below(g, (uint32_t)t->s.n));
		if (dir < 0 || e->val.dir == dir)
			return e;
	}
	return NULL;
}

static const struct m_service *pick_service(struct gen *g,
					    const struct model *m)
{
	for (int tries = 0; tries < 64; tries++) {
		const struct m_service *s = &m->svc[gen_below(g, M_MAX_SVC)];

		if (s->in_use)
			return s;
	}
	return &m->svc[0];
}

static size_t gen_new(struct gen *g, const struct model *m, uint8_t *buf,
		      size_t cap, char *desc, size_t dl)
{
	const struct m_service *s = pick_service(g, m);
	struct tuple t = { .family = s->family == XLB_FAMILY_V6 ? 6 : 4 };
	uint8_t flags;

	t.proto = s->proto;
	if (chance(g, 3))
		t.proto = t.proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
	pick_addr(g, t.family, t.src);
	if (chance(g, 5)) { /* a backend of the service as the client */
		const struct m_backend *b =
			&m->be[s->first_backend + gen_below(g, s->n_backends)];

		memcpy(t.src, b->addr.bytes, 16);
		t.sport = b->port;
	} else {
		t.sport = pick_port(g);
	}
	memcpy(t.dst, s->vip.bytes, 16);
	t.dport = chance(g, 95) ? s->port : pick_port(g);
	flags = pick_flags(g, G_NEW);
	snprintf(desc, dl, "new %s%u svc:%u flags %02x",
		 t.proto == IPPROTO_TCP ? "tcp" : "udp", t.family,
		 (unsigned int)(s - m->svc), flags);
	return build(g, &t, flags, buf, cap);
}

/*
 * Make the UDP checksum of the packet as it will leave (rewritten to
 * `to`) come out as 0 from the sum, the case where a sender must put
 * 0xffff (0 means "no checksum"): two payload bytes absorb the
 * difference, then the input's checksums are made valid.
 */
static void udp_zero_sum_out(uint8_t *f, size_t len,
			     const struct xlb_flow_key *to)
{
	struct m_layout lo;
	uint64_t acc;
	size_t seg, w;
	uint16_t want;

	if (m_layout_of(f, len, &lo) || lo.proto != IPPROTO_UDP ||
	    lo.end - lo.l4 < 8 + 2)
		return;
	seg = lo.end - lo.l4;
	w = lo.l4 + 8; /* first payload word */
	f[w] = f[w + 1] = 0;
	/* pseudo-header of the output + its ports + the rest, field 0 */
	acc = m_sum(to->src.bytes, lo.family == 4 ? 4 : 16, 0);
	acc = m_sum(to->dst.bytes, lo.family == 4 ? 4 : 16, acc);
	acc += IPPROTO_UDP + (seg & 0xffff) + (seg >> 16);
	acc = m_sum((const uint8_t *)&to->sport, 2, acc);
	acc = m_sum((const uint8_t *)&to->dport, 2, acc);
	acc += (uint64_t)(f[lo.l4 + 4] << 8 | f[lo.l4 + 5]); /* length */
	acc = m_sum(f + w, seg - 8, acc);
	want = (uint16_t)~m_fold(acc); /* the word that makes it 0xffff */
	f[w] = want >> 8;
	f[w + 1] = want & 0xff;
	m_fix_checksums(f, len);
}

/* The next packet of a tracked tuple (client side or backend side). */
static size_t gen_tracked(struct gen *g, const struct model *m, int dir,
			  uint8_t *buf, size_t cap, char *desc, size_t dl)
{
	const struct m_entry *e = pick_entry(g, m, dir);
	struct tuple t;
	uint8_t flags;
	uint32_t ack = 0, seq = 0;
	bool have_ack = false, have_seq = false;
	size_t n;

	if (!e)
		return gen_new(g, m, buf, cap, desc, dl);
	tuple_of_key(&e->key, &t);
	flags = pick_flags(g, dir == XLB_DIR_TO_CLIENT ? G_REPLY : G_CLIENT);
	/* a half-open connection whose backend answered: the client
	 * usually acknowledges the SYN-ACK (the handshake's last ACK) */
	if (dir == XLB_DIR_TO_BACKEND && t.proto == IPPROTO_TCP &&
	    m_table_find(&m->embryos, &e->key) == e) {
		const struct m_entry *rev = m_table_partner(&m->embryos, e);

		if (rev && (rev->val.flags & XLB_FLOW_SYN_ACK_SEEN) &&
		    chance(g, 75)) {
			ack = ntohl(rev->val.syn_seq) + (chance(g, 90) ? 1 : 0);
			if (chance(g, 80))
				flags = chance(g, 80) ? PKT_TCP_ACK :
					PKT_TCP_ACK | (chance(g, 50) ? PKT_TCP_RST : PKT_TCP_FIN);
			have_ack = true;
		}
	}
	/* an established connection: half the time, a sequence number
	 * near what the other side last acknowledged (a RST there counts,
	 * one further off is ignored: bpf/flow.h XLB_SEQ_WINDOW) */
	if (t.proto == IPPROTO_TCP && m_table_find(&m->flows, &e->key) == e &&
	    chance(g, 50)) {
		const struct m_entry *peer = m_table_partner(&m->flows, e);

		if (peer) {
			/* within the window, or just outside it */
			uint32_t off = chance(g, 80) ? gen_below(g, 4096) :
						       (1u << 20) - 2 + gen_below(g, 4);

			seq = ntohl(peer->val.ack_seq) +
			      (chance(g, 50) ? off : -off);
			have_seq = true;
		}
	}
	/* the backend acknowledging a client FIN kept pending (or one
	 * short of it) */
	if (dir == XLB_DIR_TO_CLIENT && t.proto == IPPROTO_TCP &&
	    m_table_find(&m->flows, &e->key) == e) {
		const struct m_entry *cl = m_table_partner(&m->flows, e);

		if (cl && (cl->val.flags & XLB_FLOW_FIN_PENDING) &&
		    chance(g, 60)) {
			ack = ntohl(cl->val.fin_seq) + (chance(g, 80) ? 1 : 0);
			flags |= PKT_TCP_ACK;
			have_ack = true;
		}
	}
	/* a client SYN on its connection: the same SYN again (a
	 * retransmission) or, half the time, a new attempt */
	if (dir == XLB_DIR_TO_BACKEND && t.proto == IPPROTO_TCP &&
	    (flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN) {
		seq = chance(g, 50) ? ntohl(e->val.syn_seq) : gen_below(g, 1u << 31);
		have_seq = true;
	}
	snprintf(desc, dl, "%s %s%u flags %02x%s%s",
		 dir == XLB_DIR_TO_CLIENT ? "reply" : "client",
		 t.proto == IPPROTO_TCP ? "tcp" : "udp", t.family, flags,
		 have_ack ? " acks the SYN-ACK" : "",
		 have_seq && seq == ntohl(e->val.syn_seq) ? " same SYN" : "");
	n = build_ack(g, &t, flags, buf, cap, have_ack ? &ack : NULL,
		      have_seq ? &seq : NULL);
	if (t.proto == IPPROTO_UDP && chance(g, 20)) {
		udp_zero_sum_out(buf, n, &e->val.rewritten);
		snprintf(desc + strlen(desc), dl - strlen(desc), " csum-edge");
	}
	return n;
}

static size_t gen_spoof(struct gen *g, const struct model *m, uint8_t *buf,
			size_t cap, char *desc, size_t dl)
{
	const struct m_service *s = pick_service(g, m);
	const struct m_backend *b =
		&m->be[s->first_backend + gen_below(g, s->n_backends)];
	struct tuple t = { .family = s->family == XLB_FAMILY_V6 ? 6 : 4,
			   .proto = s->proto };
	uint32_t nat_range = m->nat_port_max - m->nat_port_min + 1u;
	const struct m_entry *e;
	const char *what;
	uint8_t flags = pick_flags(g, G_REPLY);

	switch (gen_below(g, 6)) {
	case 0: /* a backend's "reply" to a NAT port with no connection */
		what = "reply-no-flow";
		memcpy(t.src, b->addr.bytes, 16);
		memcpy(t.dst, s->snat.bytes, 16);
		t.sport = b->port;
		t.dport = m->nat_port_min + gen_below(g, nat_range);
		break;
	case 1: /* a live NAT port, from someone else */
		what = "natport-from-outside";
		e = pick_entry(g, m, XLB_DIR_TO_CLIENT);
		if (!e)
			return gen_new(g, m, buf, cap, desc, dl);
		tuple_of_key(&e->key, &t);
		if (chance(g, 50))
			pick_addr(g, t.family, t.src);
		else
			t.sport += chance(g, 50) ? 1 : (uint16_t)gen_rand(g);
		break;
	case 2: /* to a backend, through the balancer */
		what = "to-backend";
		pick_addr(g, t.family, t.src);
		memcpy(t.dst, b->addr.bytes, 16);
		t.sport = pick_port(g);
		t.dport = b->port;
		flags = pick_flags(g, G_NEW);
		break;
	case 3: /* to the VIP, on a port of the NAT range */
		what = "vip-natport";
		pick_addr(g, t.family, t.src);
		memcpy(t.dst, s->vip.bytes, 16);
		t.sport = pick_port(g);
		t.dport = m->nat_port_min + gen_below(g, nat_range);
		flags = pick_flags(g, chance(g, 50) ? G_NEW : G_CLIENT);
		break;
	case 4: /* to the SNAT address on a NAT port, from a client */
		what = "snat-natport";
		pick_addr(g, t.family, t.src);
		memcpy(t.dst, s->snat.bytes, 16);
		t.sport = chance(g, 50) ? b->port : pick_port(g);
		t.dport = m->nat_port_min + gen_below(g, nat_range);
		break;
	default: /* a backend's "reply" from another port or address */
		what = "reply-wrong-source";
		memcpy(t.src, b->addr.bytes, 16);
		if (chance(g, 50))
			t.src[t.family == 4 ? 3 : 15] ^= 1 + gen_below(g, 7);
		memcpy(t.dst, s->snat.bytes, 16);
		t.sport = b->port + 1 + gen_below(g, 3);
		t.dport = m->nat_port_min + gen_below(g, nat_range);
		break;
	}
	snprintf(desc, dl, "spoof %s %s%u flags %02x", what,
		 t.proto == IPPROTO_TCP ? "tcp" : "udp", t.family, flags);
	return build(g, &t, flags, buf, cap);
}

static size_t gen_other(struct gen *g, const struct model *m, uint8_t *buf,
			size_t cap, char *desc, size_t dl)
{
	const struct m_service *s = pick_service(g, m);
	struct tuple t = { .family = s->family == XLB_FAMILY_V6 ? 6 : 4,
			   .proto = IPPROTO_TCP };
	struct pkt_spec sp;
	size_t n;

	pick_addr(g, t.family, t.src);
	memcpy(t.dst, s->vip.bytes, 16);
	t.sport = pick_port(g);
	switch (gen_below(g, 7)) {
	case 0: /* ssh to the node */
		snprintf(desc, dl, "other ssh%u", t.family);
		t.dport = 22;
		return build(g, &t, PKT_TCP_SYN, buf, cap);
	case 1: /* another address */
		snprintf(desc, dl, "other dst%u", t.family);
		pick_addr(g, t.family, t.dst);
		t.dport = s->port;
		t.proto = s->proto;
		return build(g, &t, PKT_TCP_SYN, buf, cap);
	case 2: /* ARP */
		snprintf(desc, dl, "other arp");
		pkt_spec_init(&sp);
		memset(sp.dmac, 0xff, 6);
		pkt_mac("02:00:00:00:00:fe", sp.smac);
		sp.ethertype = PKT_ETH_P_ARP;
		sp.payload_len = 28;
		sp.payload_seed = (uint8_t)gen_rand(g);
		return pkt_build(&sp, buf, cap);
	case 3: /* echo request / ND */
		t.proto = t.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		n = build(g, &t, 0, buf, cap);
		if (t.family == 6 && chance(g, 50)) {
			struct m_layout lo;

			if (!m_layout_of(buf, n, &lo) && lo.l4 < n) {
				buf[lo.l4] = 133 + gen_below(g, 5);
				m_fix_checksums(buf, n);
			}
		}
		snprintf(desc, dl, "other icmp%u", t.family);
		return n;
	case 4: /* another transport */
		t.proto = chance(g, 50) ? 47 : 132; /* GRE, SCTP */
		snprintf(desc, dl, "other proto %u", t.proto);
		return build(g, &t, 0, buf, cap);
	case 5: /* a service port of the other protocol */
		t.proto = s->proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
		t.dport = s->port;
		snprintf(desc, dl, "other wrong-proto%u", t.family);
		return build(g, &t, PKT_TCP_SYN, buf, cap);
	default: /* a backend port on the VIP */
		t.dport = m->be[s->first_backend].port;
		t.proto = s->proto;
		snprintf(desc, dl, "other be-port%u", t.family);
		return build(g, &t, PKT_TCP_SYN, buf, cap);
	}
}

/* ICMP errors, quoting a packet we sent (or garbage). */
static size_t gen_icmp(struct gen *g, const struct model *m, uint8_t *buf,
		       size_t cap, char *desc, size_t dl)
{
	static const uint8_t err4[] = { 3, 3, 3, 11, 12 };
	static const uint8_t err6[] = { 1, 2, 2, 3, 4 };
	static const uint8_t other4[] = { 0, 4, 5, 8, 13, 42 };
	static const uint8_t other6[] = { 128, 129, 133, 134, 135, 136, 137 };
	uint8_t inner[256], type, code = 0;
	const struct m_entry *e = pick_entry(g, m, -1);
	struct tuple it, ot;
	struct pkt_spec s;
	struct m_layout lo;
	size_t n, in_len, keep, ihl;
	const char *what = "real";
	unsigned int r = gen_below(g, 100), qfrag;

	if (e) {
		/* the quoted packet is what we sent for this entry */
		tuple_of_key(&e->val.rewritten, &it);
	} else {
		const struct m_service *sv = pick_service(g, m);

		memset(&it, 0, sizeof(it));
		it.family = sv->family == XLB_FAMILY_V6 ? 6 : 4;
		it.proto = sv->proto;
		r = 60 + gen_below(g, 40); /* no real flow to quote */
	}
	if (r >= 60 && r < 75) {
		what = "garbage";
		pick_addr(g, it.family, it.src);
		pick_addr(g, it.family, it.dst);
		it.sport = pick_port(g);
		it.dport = pick_port(g);
	}
	if (!e && r >= 75) {
		pick_addr(g, it.family, it.src);
		pick_addr(g, it.family, it.dst);
	}
	/* inner packet */
	pkt_spec_init(&s);
	s.family = it.family;
	memcpy(s.src, it.src, 16);
	memcpy(s.dst, it.dst, 16);
	s.proto = it.proto;
	s.sport = it.sport;
	s.dport = it.dport;
	s.tcp_flags = pick_flags(g, G_CLIENT);
	s.seq = (uint32_t)gen_rand(g);
	s.ttl = 1 + gen_below(g, 64);
	if (it.family == 4 && chance(g, 10))
		s.ip_opt_len = 4 * (1 + gen_below(g, 5));
	s.payload_len = gen_below(g, 1400);
	/* sometimes the quoted packet is a fragment: a first one (ports
	 * after its header, and after an IPv6 fragment header) or a later
	 * one (no ports) */
	qfrag = chance(g, 12) ? 1 + gen_below(g, 2) : 0;
	if (qfrag && it.family == 4) {
		s.frag = qfrag == 1 ? 0x2000 :
				      (uint16_t)((1 + gen_below(g, 0x1fff)) |
						 (chance(g, 50) ? 0x2000 : 0));
	} else if (qfrag) {
		s.ip6_ext = true;
		s.ip6_ext_type = 44;
		s.ip6_frag = qfrag == 1 ? 1 :
				 (uint16_t)((1 + gen_below(g, 0x1fff)) << 3 |
					    gen_below(g, 2));
	}
	n = pkt_build(&s, buf, cap);
	if (n < 14 + 28)
		return gen_new(g, m, buf, cap, desc, dl);
	in_len = n - 14;
	ihl = it.family == 4 ? (buf[14] & 0xf) * 4u : s.ip6_ext ? 48 : 40;
	/* RFC 792: header + 8 bytes; RFC 1812 / 4443: as much as fits */
	keep = chance(g, 50) ? ihl + 8 : ihl + 8 + gen_below(g, 120);
	if (keep > in_len)
		keep = in_len;
	if (keep > sizeof(inner))
		keep = sizeof(inner);
	memcpy(inner, buf + 14, keep);

	type = it.family == 4 ? err4[gen_below(g, sizeof(err4))] :
				err6[gen_below(g, sizeof(err6))];
	if (r >= 75 && r < 85) {
		what = "not-error";
		type = it.family == 4 ? other4[gen_below(g, sizeof(other4))] :
					other6[gen_below(g, sizeof(other6))];
	} else if (r >= 85) {
		what = "malformed-quote";
		switch (gen_below(g, 5)) {
		case 0: /* inner IHL < 5 or > what is quoted */
			if (it.family == 4)
				inner[0] = 0x40 | gen_below(g, 16);
			else
				inner[0] = (uint8_t)gen_rand(g);
			break;
		case 1: /* cut inside the ports */
			keep = ihl + gen_below(g, 4);
			break;
		case 2: /* cut inside the IP header */
			keep = gen_below(g, (uint32_t)ihl);
			break;
		case 3: /* inner protocol not TCP/UDP */
			inner[it.family == 4 ? 9 : 6] =
				chance(g, 50) ? (it.family == 4 ? 1 : 58) :
						(uint8_t)gen_rand(g);
			break;
		default: /* inner version */
			inner[0] = (uint8_t)((gen_rand(g) & 0xf0) |
					     (inner[0] & 0xf));
			break;
		}
	}
	if (type == 3 || type == 11)
		code = gen_below(g, 6);

	/* outer packet: from a router (or the host) to our address */
	memset(&ot, 0, sizeof(ot));
	ot.family = it.family;
	ot.proto = it.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	pick_router(g, ot.family, ot.src);
	if (chance(g, 90))
		memcpy(ot.dst, it.src, 16);
	else
		pick_addr(g, ot.family, ot.dst);
	spec_of(g, &s, &ot, 0);
	s.ip_opt_len = 0;
	s.payload = inner;
	s.payload_len = keep;
	s.trailer_len = chance(g, 8) ? gen_below(g, 24) : 0;
	n = pkt_build(&s, buf, cap);
	if (!n || m_layout_of(buf, n, &lo) || lo.l4 + 8 > n)
		return n ? n : gen_new(g, m, buf, cap, desc, dl);
	buf[lo.l4] = type;
	buf[lo.l4 + 1] = code;
	memset(buf + lo.l4 + 4, 0, 4);
	if (it.family == 4 && type == 3 && code == 4)
		buf[lo.l4 + 6] = 0x05, buf[lo.l4 + 7] = 0x00; /* mtu 1280 */
	if (it.family == 6 && type == 2)
		buf[lo.l4 + 6] = 0x05, buf[lo.l4 + 7] = 0x00;
	m_fix_checksums(buf, n);
	snprintf(desc, dl, "icmp%u %s type %u code %u quote %zu%s", it.family,
		 what, type, code, keep,
		 qfrag == 1 ? " of a first fragment" :
		 qfrag == 2 ? " of a later fragment" : "");
	return n;
}

static size_t gen_random(struct gen *g, const struct model *m, uint8_t *buf,
			 size_t cap, char *desc, size_t dl)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8,
					  0x0806, 0x0800, 0x86dd };
	size_t n = 14 + gen_below(g, 200);
	unsigned int r = gen_below(g, 100);

	rand_bytes(g, buf, n);
	if (r < 35) {
		snprintf(desc, dl, "random bytes");
		return n;
	}
	buf[12] = types[gen_below(g, 7)] >> 8;
	buf[13] = types[gen_below(g, 7)] & 0xff;
	if (r < 65) {
		snprintf(desc, dl, "random ethertype %02x%02x", buf[12], buf[13]);
		return n;
	}
	/* an IP header skeleton aimed at a service */
	{
		const struct m_service *s = pick_service(g, m);
		static const uint8_t protos[] = { 6, 17, 1, 58, 6, 17 };
		uint8_t proto = protos[gen_below(g, sizeof(protos))];
		size_t l4;

		if (s->family == XLB_FAMILY_V4) {
			if (n < 14 + 20 + 20)
				n = 14 + 20 + 20 + gen_below(g, 40);
			buf[12] = 0x08, buf[13] = 0x00;
			buf[14] = 0x45;
			buf[16] = (uint8_t)((n - 14) >> 8);
			buf[17] = (uint8_t)(n - 14);
			buf[20] = buf[21] = 0;
			buf[22] = 64;
			buf[23] = proto;
			memcpy(buf + 30, s->vip.bytes, 4);
			l4 = 34;
		} else {
			if (n < 14 + 40 + 20)
				n = 14 + 40 + 20 + gen_below(g, 40);
			buf[12] = 0x86, buf[13] = 0xdd;
			buf[14] = 0x60;
			buf[18] = (uint8_t)((n - 54) >> 8);
			buf[19] = (uint8_t)(n - 54);
			buf[20] = proto;
			buf[21] = 64;
			memcpy(buf + 38, s->vip.bytes, 16);
			l4 = 54;
		}
		if (chance(g, 70)) {
			buf[l4 + 2] = s->port >> 8;
			buf[l4 + 3] = s->port & 0xff;
		}
		if (proto == 6)
			buf[l4 + 12] = (uint8_t)((5 + gen_below(g, 3)) << 4);
		if (chance(g, 50))
			m_fix_checksums(buf, n);
		snprintf(desc, dl, "random ip%u proto %u",
			 s->family == XLB_FAMILY_V4 ? 4 : 6, proto);
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Mutations                                                           */
/* ------------------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Insert n bytes at off (the frame grows); false if it does not fit. */
static bool insert_at(uint8_t *f, size_t *len, size_t cap, size_t off,
		      const uint8_t *bytes, size_t n)
{
	if (*len + n > cap || off > *len)
		return false;
	memmove(f + off + n, f + off, *len - off);
	memcpy(f + off, bytes, n);
	*len += n;
	return true;
}

/* An IPv6 extension header chain (1-3 headers) after the IPv6 header. */
static void ext_chain(struct gen *g, uint8_t *f, size_t *len, size_t cap,
		      const struct m_layout *lo)
{
	static const uint8_t types[] = { 0, 43, 60, 44, 51, 60, 0 };
	uint8_t chain[3 * 24], *ip6 = f + lo->l3;
	uint8_t next = ip6[6], first = 0;
	size_t used = 0;
	int k = 1 + gen_below(g, 3);
	uint8_t t[3];

	for (int i = 0; i < k; i++)
		t[i] = types[gen_below(g, sizeof(types))];
	for (int i = 0; i < k; i++) {
		uint8_t *h = chain + used;
		uint8_t nh = i + 1 < k ? t[i + 1] : next;
		size_t hl;

		if (i + 1 == k && chance(g, 10)) {
			static const uint8_t odd[] = { 59, 50, 135, 6, 17, 58 };

			nh = odd[gen_below(g, sizeof(odd))];
		}
		if (t[i] == 44) {
			hl = 8;
			memset(h, 0, hl);
			if (chance(g, 60))
				wr16(h + 2, (uint16_t)gen_rand(g) & 0xfff9);
		} else if (t[i] == 51) {
			hl = chance(g, 50) ? 16 : 24; /* (len + 2) * 4 */
			rand_bytes(g, h, hl);
			h[1] = (uint8_t)(hl / 4 - 2);
		} else {
			hl = 8 * (1 + gen_below(g, 3));
			memset(h, 0, hl);
			h[1] = (uint8_t)(hl / 8 - 1);
			if (t[i] == 43) { /* routing: type, segments left */
				h[2] = gen_below(g, 5);
			} else { /* PadN over the rest */
				h[2] = 1;
				h[3] = (uint8_t)(hl - 4);
			}
		}
		h[0] = nh;
		used += hl;
		if (i == 0)
			first = t[i];
	}
	if (!insert_at(f, len, cap, lo->l3 + 40, chain, used))
		return;
	ip6 = f + lo->l3;
	ip6[6] = first;
	wr16(ip6 + 4, (uint16_t)(rd16(ip6 + 4) + used));
}

static size_t mutate(struct gen *g, uint8_t *f, size_t len, size_t cap,
		     char *desc, size_t dl)
{
	int n = 1 + gen_below(g, 2);
	size_t used = strlen(desc);

	g->mutated++;
	for (int i = 0; i < n; i++) {
		struct m_layout lo;
		bool ip = !m_layout_of(f, len, &lo);
		unsigned int which = gen_below(g, 12);
		const char *name = "?";

		if (!ip && lo.l3 + (lo.family == 6 ? 40 : 20) <= len &&
		    lo.family)
			ip = true; /* enough to touch the IP header */
		switch (which) {
		case 0:
			name = "trunc";
			if (len > 14)
				len = 14 + (size_t)(g->trunc_ctr++ % (len - 14));
			break;
		case 1:
			name = "ihl";
			if (ip && lo.family == 4)
				f[lo.l3] = (f[lo.l3] & 0xf0) | gen_below(g, 16);
			break;
		case 2:
			name = "doff";
			if (ip && lo.proto == IPPROTO_TCP && lo.l4 + 13 < len)
				f[lo.l4 + 12] = (uint8_t)(gen_below(g, 16) << 4 |
							  (f[lo.l4 + 12] & 0xf));
			break;
		case 3: {
			size_t at = lo.family == 4 ? lo.l3 + 2 : lo.l3 + 4;
			uint16_t v = rd16(f + at);

			name = "iplen";
			if (!ip)
				break;
			switch (gen_below(g, 5)) {
			case 0: v = (uint16_t)gen_rand(g); break;
			case 1: v = (uint16_t)(v + gen_below(g, 17) - 8); break;
			case 2: v = 0; break;
			case 3: v = 0xffff; break;
			default: v = (uint16_t)(lo.family == 4 ? 20 + gen_below(g, 28) : gen_below(g, 28)); break;
			}
			wr16(f + at, v);
			break;
		}
		case 4:
			name = "frag";
			if (ip && lo.family == 4) {
				static const uint16_t fr[] = {
					0x2000, 0x2000 | 0x00b9, 0x00b9, 0x6000,
					0x8000, 0x4000, 0x0001, 0x3fff };
				uint16_t v = chance(g, 20) ?
						     (uint16_t)gen_rand(g) :
						     fr[gen_below(g, 8)];

				wr16(f + lo.l3 + 6, v);
			} else if (ip && lo.family == 6) {
				uint8_t fh[8] = { f[lo.l3 + 6], 0 };

				wr16(fh + 2, (uint16_t)gen_rand(g) &
						     (chance(g, 50) ? 0xfff9 : 0));
				if (insert_at(f, &len, cap, lo.l3 + 40, fh, 8)) {
					f[lo.l3 + 6] = 44;
					wr16(f + lo.l3 + 4,
					     (uint16_t)(rd16(f + lo.l3 + 4) + 8));
				}
			}
			break;
		case 5:
			name = "ext";
			if (ip && lo.family == 6)
				ext_chain(g, f, &len, cap, &lo);
			break;
		case 6: {
			int flips = 1 + gen_below(g, 4);

			name = "flip";
			for (int j = 0; j < flips; j++) {
				size_t at = chance(g, 70) && len > 60 ?
						    14 + gen_below(g, 46) :
						    gen_below(g, (uint32_t)len);

				f[at] ^= 1u << gen_below(g, 8);
			}
			break;
		}
		case 7:
			name = "byte";
			f[gen_below(g, (uint32_t)len)] = (uint8_t)gen_rand(g);
			break;
		case 8: {
			size_t add = 1 + gen_below(g, 32);

			name = "pad";
			if (len + add <= cap) {
				rand_bytes(g, f + len, add);
				len += add;
			}
			break;
		}
		case 9:
			name = "udp0";
			if (ip && lo.proto == IPPROTO_UDP && lo.l4 + 8 <= len)
				wr16(f + lo.l4 + 6, 0);
			break;
		case 10:
			name = "version";
			if (ip)
				f[lo.l3] = (uint8_t)((gen_below(g, 16) << 4) |
						     (f[lo.l3] & 0xf));
			break;
		default: {
			static const uint8_t pr[] = { 6, 17, 1, 58, 0, 43,
						      44, 60, 51, 50, 59, 132 };
			uint8_t v = chance(g, 20) ? (uint8_t)gen_rand(g) :
						    pr[gen_below(g, sizeof(pr))];

			name = "proto";
			if (ip)
				f[lo.l3 + (lo.family == 4 ? 9 : 6)] = v;
			break;
		}
		}
		used += snprintf(desc + used, used < dl ? dl - used : 0,
				 "%s%s", i ? "," : " +", name);
		if (used >= dl)
			used = dl - 1;
	}
	if (chance(g, 70))
		m_fix_checksums(f, len);
	return len;
}

/* ------------------------------------------------------------------ */
/* Fragments                                                           */
/* ------------------------------------------------------------------ */

/* An identification for a new datagram: random, or now and then one of
 * a few, so that datagrams of the same addresses reuse it (the later one
 * replaces the record of the first: its later fragments follow the new
 * datagram's ports). */
static uint32_t pick_frag_id(struct gen *g, uint8_t family, uint32_t id)
{
	if (chance(g, 15))
		return gen_below(g, 3);
	return family == 4 ? (uint16_t)id : id;
}

/*
 * Make the packet of a flow (whole, before any mutation) the first
 * fragment of a datagram: IPv4 with MF (now and then DF too: answered as
 * too big like any packet), or an IPv6 fragment header with M inserted
 * after the IPv6 header; the L4 header stays, as in any first fragment.
 * The datagram is remembered for its later fragments (gen_later).  An
 * IPv6 packet becomes an atomic fragment instead now and then (offset 0,
 * no M: a whole packet, RFC 6946).
 */
static size_t make_first_fragment(struct gen *g, uint8_t *f, size_t len,
				  size_t cap, char *desc, size_t dl)
{
	struct gen_dgram *d;
	struct m_layout lo;
	size_t used = strlen(desc);
	bool atomic = false;
	uint32_t id;

	if (m_layout_of(f, len, &lo) || lo.frag6 ||
	    (lo.proto != IPPROTO_TCP && lo.proto != IPPROTO_UDP))
		return len;
	if (lo.family == 4) {
		uint8_t *ip = f + lo.l3;

		id = pick_frag_id(g, 4, rd16(ip + 4));
		wr16(ip + 4, (uint16_t)id);
		wr16(ip + 6, PKT_IP_MF | (chance(g, 15) ? PKT_IP_DF : 0));
		/* the header's checksum only: the L4 one stays as it was
		 * (valid, or 0 for UDP without) */
		wr16(ip + 10, 0);
		wr16(ip + 10, (uint16_t)~m_fold(m_sum(ip, lo.l4 - lo.l3, 0)));
	} else {
		uint8_t fh[8] = { f[lo.l3 + 6], 0 };
		uint16_t fo = GEN_IP6_M;

		atomic = chance(g, 15);
		if (atomic)
			fo = 0;
		if (chance(g, 5)) /* the 2 reserved bits: ignored */
			fo |= 0x0006;
		id = pick_frag_id(g, 6, (uint32_t)gen_rand(g));
		wr16(fh + 2, fo);
		wr32(fh + 4, id);
		if (!insert_at(f, &len, cap, lo.l3 + 40, fh, sizeof(fh)))
			return len;
		/* the L4 checksum holds: the upper-layer length in its
		 * pseudo-header does not count the fragment header */
		f[lo.l3 + 6] = 44;
		wr16(f + lo.l3 + 4, (uint16_t)(rd16(f + lo.l3 + 4) + 8));
		lo.l4 += 8;
		lo.end += 8;
	}
	snprintf(desc + used, used < dl ? dl - used : 0, " %s id %x",
		 atomic ? "atomic-frag" : "first-frag", id);
	if (atomic) {
		g->atomic_frags++;
		return len;
	}
	g->first_frags++;
	d = &g->dgrams[g->dgram_next];
	g->dgram_next = (g->dgram_next + 1) % GEN_DGRAMS;
	if (g->n_dgrams < GEN_DGRAMS)
		g->n_dgrams++;
	memset(d, 0, sizeof(*d));
	d->family = lo.family;
	d->proto = lo.proto;
	memcpy(d->src, f + lo.l3 + (lo.family == 4 ? 12 : 8),
	       lo.family == 4 ? 4 : 16);
	memcpy(d->dst, f + lo.l3 + (lo.family == 4 ? 16 : 24),
	       lo.family == 4 ? 4 : 16);
	d->id = id;
	d->next_off = (uint16_t)((lo.end - lo.l4 + 7) / 8);
	return len;
}

/*
 * A later fragment: the datagram of a first fragment the program
 * recorded (the model's xlb_frags), or one the generator made lately
 * (forwarded or not); now and then with another identification or
 * protocol (a datagram nobody started).  Its own payload, no L4 header,
 * at the offset where the first fragment ended (or anywhere), with or
 * without more to come.
 */
static size_t gen_later(struct gen *g, const struct model *m, uint8_t *buf,
			size_t cap, char *desc, size_t dl)
{
	struct gen_dgram d;
	struct pkt_spec s;
	struct m_layout lo;
	struct tuple t;
	const char *from = "made";
	uint32_t off;
	bool more;
	size_t n;

	if (m->frags.s.n && (chance(g, 60) || !g->n_dgrams)) {
		const struct m_frag *e = m_frags_at(
			&m->frags, gen_below(g, (uint32_t)m->frags.s.n));
		const uint8_t *id = (const uint8_t *)&e->key.id;

		memset(&d, 0, sizeof(d));
		d.family = e->key.family == XLB_FAMILY_V6 ? 6 : 4;
		d.proto = e->key.proto;
		memcpy(d.src, e->key.src.bytes, 16);
		memcpy(d.dst, e->key.dst.bytes, 16);
		/* as the key holds it: IPv4's 16 bits as on the wire, then
		 * zeros; IPv6's 32 */
		d.id = d.family == 4 ? rd16(id) :
				       (uint32_t)rd16(id) << 16 | rd16(id + 2);
		from = "recorded";
	} else if (g->n_dgrams) {
		/* mostly one of the latest: its first fragment just went */
		uint32_t back = gen_below(g, chance(g, 70) && g->n_dgrams > 4 ?
							4 : g->n_dgrams);

		d = g->dgrams[(g->dgram_next + GEN_DGRAMS - 1 - back) %
			      GEN_DGRAMS];
	} else {
		return gen_new(g, m, buf, cap, desc, dl);
	}
	if (chance(g, 6)) {
		d.id ^= 1 + gen_below(g, 4);
		from = "unknown-id";
	} else if (chance(g, 3)) {
		d.proto = d.proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
		from = "other-proto";
	}
	memset(&t, 0, sizeof(t));
	t.family = d.family;
	t.proto = d.proto;
	memcpy(t.src, d.src, 16);
	memcpy(t.dst, d.dst, 16);
	spec_of(g, &s, &t, 0);
	/* no L4 header: a raw payload, its protocol set afterwards */
	s.proto = 253;
	s.tcp_opt_len = 0;
	off = d.next_off && chance(g, 70) ? d.next_off : 1 + gen_below(g, 400);
	if (chance(g, 3))
		off = 0x1fff; /* the last offset there is */
	if (off > 0x1fff)
		off = 0x1fff;
	more = chance(g, 50);
	if (more)
		s.payload_len &= ~(size_t)7; /* all but the last: 8-byte units */
	if (d.family == 4) {
		s.ip_id = (uint16_t)d.id;
		s.frag = (uint16_t)(off | (more ? PKT_IP_MF : 0) |
				    (chance(g, 8) ? PKT_IP_DF : 0));
	} else {
		s.ip6_ext = true;
		s.ip6_ext_type = 44;
		s.ip6_frag = (uint16_t)(off << 3 | (more ? GEN_IP6_M : 0) |
					(chance(g, 5) ? 0x0006 : 0));
	}
	n = pkt_build(&s, buf, cap);
	if (!n) { /* too big: no payload */
		s.payload_len = 0;
		n = pkt_build(&s, buf, cap);
	}
	if (!n || m_layout_of(buf, n, &lo))
		return n ? n : gen_new(g, m, buf, cap, desc, dl);
	if (d.family == 4) {
		buf[lo.l3 + 9] = d.proto;
	} else if (lo.frag6) {
		buf[lo.frag6] = d.proto;
		wr32(buf + lo.frag6 + 4, d.id);
	}
	m_fix_checksums(buf, n); /* the IPv4 header's */
	snprintf(desc, dl, "frag later %s%u %s id %x off %u%s payload %zu",
		 d.proto == IPPROTO_TCP ? "tcp" : "udp", d.family, from, d.id,
		 off, more ? " more" : "", s.payload_len);
	return n;
}

/* ------------------------------------------------------------------ */

size_t gen_packet(struct gen *g, const struct model *m, uint8_t *buf,
		  size_t cap, enum gen_kind *kind, char *desc, size_t dl)
{
	unsigned int r = gen_below(g, 100);
	size_t n;

	if (cap > MAX_GEN_FRAME)
		cap = MAX_GEN_FRAME;
	desc[0] = 0;
	if (r < 6) {
		*kind = G_RANDOM;
		n = gen_random(g, m, buf, cap, desc, dl);
	} else if (r < 28) {
		*kind = G_NEW;
		n = gen_new(g, m, buf, cap, desc, dl);
	} else if (r < 44) {
		*kind = G_CLIENT;
		n = gen_tracked(g, m, XLB_DIR_TO_BACKEND, buf, cap, desc, dl);
	} else if (r < 62) {
		*kind = G_REPLY;
		n = gen_tracked(g, m, XLB_DIR_TO_CLIENT, buf, cap, desc, dl);
	} else if (r < 74) {
		*kind = G_SPOOF;
		n = gen_spoof(g, m, buf, cap, desc, dl);
	} else if (r < 80) {
		*kind = G_OTHER;
		n = gen_other(g, m, buf, cap, desc, dl);
	} else if (r < 95) {
		*kind = G_ICMP;
		n = gen_icmp(g, m, buf, cap, desc, dl);
	} else {
		*kind = G_FRAG;
		n = gen_later(g, m, buf, cap, desc, dl);
	}
	if (n < 14) { /* never: the builder always makes a frame */
		memset(buf, 0, 14);
		n = 14;
	}
	g->kind_count[*kind]++;
	/* a packet of a flow, now and then the first fragment of a
	 * datagram: its later fragments follow (G_FRAG) */
	if ((*kind == G_NEW || *kind == G_CLIENT || *kind == G_REPLY) &&
	    chance(g, 8))
		n = make_first_fragment(g, buf, n, cap, desc, dl);
	/* later fragments less often: most should meet their record */
	if (*kind != G_RANDOM && chance(g, *kind == G_FRAG ? 15 : 35))
		n = mutate(g, buf, n, cap, desc, dl);
	if (n < 14)
		n = 14;
	return n;
}
