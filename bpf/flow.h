/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking: a connection is a pair of entries, one per
 * direction, inserted and removed together: in xlb_embryos (LRU) while
 * half-open, in xlb_flows (hash, never evicted) once the client has
 * spoken after the backend's answer (the handshake's final ACK).
 * The NAT source port of the backend leg is claimed by inserting the
 * backend->SNAT entry with BPF_NOEXIST: a port is in use exactly while that
 * entry exists, so two connections can never share a tuple, on any CPU.
 */
#ifndef XLB_FLOW_H
#define XLB_FLOW_H

#include "maps.h"
#include "parse.h"

#define EEXIST 17

/* The program's clock: CLOCK_MONOTONIC at tick resolution (a few ms),
 * cheaper than bpf_ktime_get_ns() and fine for everything it times
 * (idle ages, 1 s caches and grace periods). */
static __always_inline __u64 xlb_now_ns(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* An event counter (not a verdict). */
static __always_inline void count_event(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&xlb_stats, &stat);

	if (n)
		*n += 1;
}

/* Flow entries' last_seen_ns is refreshed at most this often, so that a
 * busy flow does not dirty its cache line on every packet. */
#define XLB_TOUCH_NS 1000000000ULL

/* The same tuple seen from the other side (source and destination
 * swapped). */
static __always_inline void flow_partner_key_of(const struct xlb_flow_key *in,
						struct xlb_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = in->dst;
	k->dst = in->src;
	k->sport = in->dport;
	k->dport = in->sport;
	k->proto = in->proto;
	k->family = in->family;
}

/* The key of the partner entry: the rewritten tuple, swapped. */
static __always_inline void flow_partner_key(const struct xlb_flow *f,
					     struct xlb_flow_key *k)
{
	flow_partner_key_of(&f->rewritten, k);
}

/* Remove both entries of the connection that `key`/`f` belongs to. */
static __always_inline void flow_delete_pair(void *table,
					     const struct xlb_flow_key *key,
					     const struct xlb_flow *f)
{
	struct xlb_flow_key partner;

	flow_partner_key(f, &partner);
	bpf_map_delete_elem(table, &partner);
	bpf_map_delete_elem(table, key);
}

/* Mix the client tuple into a starting point for NAT port probing. */
static __always_inline __u32 flow_hash(const struct xlb_flow_key *k)
{
	__u32 h = k->src.ip6[0] ^ k->src.ip6[1] ^ k->src.ip6[2] ^
		  k->src.ip6[3] ^ ((__u32)k->sport << 16 | k->dport);

	/* murmur3 finaliser */
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Distance between the NAT ports a new flow probes: spread over the
 * range (from bits of the hash that the start hardly uses), so that the
 * probes of flows starting near each other do not walk the same run of
 * held ports, as consecutive probes do; XLB_NAT_PORT_PROBES * step never
 * wraps the range, so the probes are distinct.  1 for a small range. */
static __always_inline __u32 flow_probe_step(__u32 hash, __u32 range)
{
	__u32 spread = range / XLB_NAT_PORT_PROBES;

	return spread > 1 ? 1 + (hash >> 16) % spread : 1;
}

/* A client's RST or FIN of an established connection counts (closes it,
 * or its half) only if its sequence number is within this distance of
 * what the backend last acknowledged, as netfilter's window check does
 * (with a fixed window): a blind attacker must hit a 2 MiB window of the
 * 4 GiB sequence space, where before any RST (or a FIN each way) on the
 * tuple closed the connection (expired 10 s later, its NAT port given
 * away after 2 s of silence).  The backend's side is trusted (it is on
 * the balancer's side of the network, and its ACK numbers are what the
 * client's packets are judged against): its RST and FIN always count,
 * and only its ACK numbers are recorded, so that a spoofed client ACK
 * cannot move the window.  Real client packets further off (a client
 * far ahead of the backend's ACKs: an upload's last bytes) go through
 * all the same: for a RST, the backend answers with a challenge ACK (RFC
 * 5961) and the client's stack with an exact RST, which counts; a FIN is
 * kept pending (fin_seq) and counts once the backend has acknowledged it
 * (flow_fin_acked).  Beyond XLB_SEQ_AHEAD_MAX (a TCP window's largest
 * size) a FIN cannot be real and is ignored. */
#define XLB_SEQ_WINDOW (1 << 20)
#define XLB_SEQ_AHEAD_MAX (1 << 30)

/* Has the backend (rev) acknowledged the client's (fwd) pending FIN?
 * Then it counts as seen, wherever both entries are read. */
static __always_inline bool flow_fin_acked(const struct xlb_flow *fwd,
					   const struct xlb_flow *rev)
{
	return (fwd->flags & XLB_FLOW_FIN_PENDING) &&
	       (__s32)(bpf_ntohl(rev->ack_seq) - bpf_ntohl(fwd->fin_seq)) > 0;
}

/* What a client packet of an established pair may record, judged
 * against the backend's side (the partner in xlb_flows): its RST and FIN
 * (near the backend's ACK number?), and a pending FIN of the client, now
 * acknowledged.  Only packets with a RST or FIN, or of an entry with a
 * pending FIN, look the partner up; without a partner, all counts. */
struct flow_judge {
	bool rst_ok;
	bool fin_ok;	/* within the window */
	bool fin_ahead; /* beyond it, within a window's largest size */
	bool fin_acked;
};

static __always_inline void flow_judge(const struct xlb_pkt *p,
				       const struct xlb_flow *f,
				       struct flow_judge *j)
{
	struct xlb_flow_key pk;
	struct xlb_flow *peer;
	__s32 d;

	j->rst_ok = j->fin_ok = true;
	j->fin_ahead = j->fin_acked = false;
	if (!p->tcp || f->dir != XLB_DIR_TO_BACKEND ||
	    (!(p->tcp_flags & (XLB_TCP_RST | XLB_TCP_FIN)) &&
	     !(f->flags & XLB_FLOW_FIN_PENDING)))
		return;
	flow_partner_key(f, &pk);
	peer = bpf_map_lookup_elem(&xlb_flows, &pk);
	if (!peer) {
		j->fin_acked = true;
		return;
	}
	d = (__s32)(bpf_ntohl(p->tcp->seq) - bpf_ntohl(peer->ack_seq));
	j->rst_ok = j->fin_ok = d > -XLB_SEQ_WINDOW && d < XLB_SEQ_WINDOW;
	j->fin_ahead = d >= XLB_SEQ_WINDOW && d < XLB_SEQ_AHEAD_MAX;
	j->fin_acked = flow_fin_acked(f, peer);
}

/* Record the packet's TCP FIN/RST in its direction's entry: as judged
 * (j) in an established entry (est), where the backend's side records
 * its ACK number too; always in a half-open one. */
static __always_inline void flow_touch(struct xlb_flow *f,
				       const struct xlb_pkt *p, __u64 now_ns,
				       bool est, const struct flow_judge *j)
{
	__u8 bits = 0;

	/* a pending FIN counts once acknowledged; data past it shows that
	 * it was not the sender's (a sender sends nothing after its FIN) */
	if (est && (f->flags & XLB_FLOW_FIN_PENDING)) {
		if (j->fin_acked)
			bits |= XLB_FLOW_FIN_SEEN;
		if (j->fin_acked ||
		    (p->tcp && p->tcp_payload &&
		     (__s32)(bpf_ntohl(p->tcp->seq) + p->tcp_payload -
			     bpf_ntohl(f->fin_seq)) > 0))
			f->flags &= ~XLB_FLOW_FIN_PENDING;
	}
	if (p->tcp_flags & XLB_TCP_FIN) {
		if (!est || j->fin_ok) {
			bits |= XLB_FLOW_FIN_SEEN;
		} else if (j->fin_ahead && !(f->flags & XLB_FLOW_FIN_SEEN)) {
			/* the FIN's own sequence number: after the data */
			f->fin_seq = bpf_htonl(bpf_ntohl(p->tcp->seq) +
					       p->tcp_payload);
			bits |= XLB_FLOW_FIN_PENDING;
		}
		/* far behind: not the sender's; ignored */
	}
	if ((p->tcp_flags & XLB_TCP_RST) && (!est || j->rst_ok))
		bits |= XLB_FLOW_RST_SEEN;
	/* the backend's ACK number, forward only: a reordered older
	 * segment does not take it back */
	if (est && p->tcp && f->dir == XLB_DIR_TO_CLIENT &&
	    (p->tcp_flags & XLB_TCP_ACK) &&
	    (__s32)(bpf_ntohl(p->tcp->ack_seq) - bpf_ntohl(f->ack_seq)) > 0)
		f->ack_seq = p->tcp->ack_seq;
	/* the backend's SYN-ACK: the client's ACK must acknowledge it
	 * before the pair is promoted (a blind ACK cannot) */
	if (p->tcp && !est && f->dir == XLB_DIR_TO_CLIENT &&
	    (p->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) ==
		    (XLB_TCP_SYN | XLB_TCP_ACK) &&
	    !(f->flags & XLB_FLOW_SYN_ACK_SEEN)) {
		f->syn_seq = p->tcp->seq;
		bits |= XLB_FLOW_SYN_ACK_SEEN;
	}
	if ((f->flags & bits) != bits)
		f->flags |= bits;
	if (now_ns - f->last_seen_ns >= XLB_TOUCH_NS)
		f->last_seen_ns = now_ns;
}

/* Has this half-open connection been answered by the backend and
 * confirmed by this client packet?  For TCP: a non-SYN packet whose ACK
 * number acknowledges the backend's SYN-ACK; for UDP: any datagram after
 * the backend's answer. */
static __always_inline bool flow_confirmed(const struct xlb_pkt *p,
					   const struct xlb_flow *rev)
{
	if (!rev->last_seen_ns)
		return false;
	if (!p->tcp)
		return true;
	if (p->tcp_flags & XLB_TCP_SYN || !(p->tcp_flags & XLB_TCP_ACK) ||
	    !(rev->flags & XLB_FLOW_SYN_ACK_SEEN))
		return false;
	return p->tcp->ack_seq ==
	       bpf_htonl(bpf_ntohl(rev->syn_seq) + 1);
}

/* A client SYN that hits an existing entry starts a new connection on the
 * same tuple if the old one is over (FIN or RST seen on either side);
 * otherwise it is a retransmission and follows the existing flow. */
static __always_inline bool flow_is_over(const struct xlb_flow *f,
					 void *table)
{
	struct xlb_flow_key partner;
	struct xlb_flow *other;

	if (f->flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN))
		return true;
	flow_partner_key(f, &partner);
	other = bpf_map_lookup_elem(table, &partner);
	return other &&
	       ((other->flags & (XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN)) ||
		flow_fin_acked(f, other));
}

/* Does a client SYN on a half-open pair (fwd/rev) start a new connection?
 * Yes once a FIN or RST was seen: the backend refused, or the client gave
 * up and tries again.  Except for the pair's own SYN again (same sequence
 * number) after only the client reset: that is Linux's answer to a stale
 * ACK in SYN_SENT (for instance from the backend's TIME_WAIT on a reused
 * NAT tuple): a RST, then the same SYN at once, which the backend now
 * accepts on the same tuple.  That retransmission stays on the pair and
 * the pair forgets the client's RST; rescheduling it would take another
 * schedule slot and another NAT port for the same connection. */
static __always_inline bool flow_syn_restarts(const struct xlb_pkt *p,
					      struct xlb_flow *fwd,
					      struct xlb_flow *rev)
{
	const __u8 over = XLB_FLOW_FIN_SEEN | XLB_FLOW_RST_SEEN;

	if (!((fwd->flags | rev->flags) & over))
		return false;
	if ((rev->flags & over) || (fwd->flags & XLB_FLOW_FIN_SEEN) ||
	    p->tcp->seq != fwd->syn_seq)
		return true;
	fwd->flags &= ~XLB_FLOW_RST_SEEN;
	/* the SYN-ACK the client refused (a stale one, from a request the
	 * backend still held for the tuple) is not the one its ACK will
	 * acknowledge: the next SYN-ACK is recorded instead */
	if (rev->flags & XLB_FLOW_SYN_ACK_SEEN)
		rev->flags &= ~XLB_FLOW_SYN_ACK_SEEN;
	return false;
}

/* A bare SYN from the client (not a SYN-ACK, RST or FIN). */
static __always_inline bool pkt_is_bare_syn(const struct xlb_pkt *p)
{
	return p->tcp && (p->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) ==
				 XLB_TCP_SYN;
}

struct flow_new_ctx {
	const struct xlb_pkt *pkt;
	const struct xlb_service *svc;
	const struct xlb_backend *backend;
	__u32 backend_id;
	struct xlb_flow *rev; /* scratch for the reverse entry */
	bool created; /* out: false if another CPU created it first */
};

/* A half-open pair older than this gives its NAT port to a new
 * connection that needs it: a real handshake completes within a round
 * trip, a spoofed one never does. */
#define XLB_EMBRYO_GRACE_NS 1000000000ULL

/* A UDP pair stays half-open for good when the client sends one datagram
 * (DNS) or never hears back (syslog): it gives its NAT port only once
 * silent both ways this long, so that a slow answer (a recursive DNS
 * lookup, RADIUS: 5 s is a stub resolver's default timeout) still finds
 * its client and a one-way stream keeps its port, and its backend. */
#define XLB_UDP_IDLE_GRACE_NS 5000000000ULL

/* ... except when a new flow finds every port it probes held (the pool
 * near exhaustion: 32 held in a row are 4% likely at 90% use): then a
 * UDP pair silent both ways this long gives its port.  Otherwise a
 * spoofed flood that took every port (a backend has 31,744: about a
 * second of a 50 kpps flood) shut out every new UDP client for as long
 * as it lasted, its pairs being renewed as fast as they aged past 5 s.
 * 2 s, not 1: last_seen_ns moves at most once a second (XLB_TOUCH_NS),
 * so this is at least 1 s of silence, and a stream sending twice a
 * second keeps its port.  The price, only then: an answer slower than
 * that is lost, or reaches the pair that took the port, as it does after
 * the half-open LRU evicted its pair. */
#define XLB_UDP_PRESSED_GRACE_NS 2000000000ULL

/* flow_claim_port(): held by a UDP pair silent XLB_UDP_PRESSED_GRACE_NS
 * (positive: no map operation returns it). */
#define XLB_CLAIM_PRESSED 1

/* A closed connection (RST either way, or FIN both ways) whose entries
 * both last saw a packet this long ago gives its NAT port to a new
 * connection that needs it, instead of holding it until the daemon
 * expires the pair (--timeout-closed, 10 s).  last_seen_ns is refreshed
 * at most once a second (XLB_TOUCH_NS), so this is at least 1 s of
 * silence: the final ACK and any retransmitted FIN are through.  The
 * backend's TIME_WAIT accepts the new SYN on the same tuple (timestamps,
 * or a higher sequence number: RFC 6191), as when a client host reuses a port. */
#define XLB_CLOSED_GRACE_NS 2000000000ULL

static __always_inline bool flow_addr_eq(const struct xlb_addr *a,
					 const struct xlb_addr *b)
{
	return a->ip6[0] == b->ip6[0] && a->ip6[1] == b->ip6[1] &&
	       a->ip6[2] == b->ip6[2] && a->ip6[3] == b->ip6[3];
}

static __always_inline bool flow_key_eq(const struct xlb_flow_key *a,
					const struct xlb_flow_key *b)
{
	return flow_addr_eq(&a->src, &b->src) &&
	       flow_addr_eq(&a->dst, &b->dst) && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

/* The entry at key, established or half-open (its partner unchecked). */
static __always_inline struct xlb_flow *
flow_lookup(const struct xlb_flow_key *key)
{
	struct xlb_flow *f = bpf_map_lookup_elem(&xlb_flows, key);

	return f ? f : bpf_map_lookup_elem(&xlb_embryos, key);
}

/* An entry of xlb_embryos is only trusted while its partner is there and
 * points back at it: LRU eviction removes entries one at a time.  Returns
 * the partner, or NULL. */
static __always_inline struct xlb_flow *
embryo_partner(const struct xlb_flow_key *key, const struct xlb_flow *f)
{
	struct xlb_flow_key partner_key, back;
	struct xlb_flow *partner;

	flow_partner_key(f, &partner_key);
	partner = bpf_map_lookup_elem(&xlb_embryos, &partner_key);
	if (!partner)
		return NULL;
	flow_partner_key(partner, &back);
	return flow_key_eq(&back, key) ? partner : NULL;
}

/* Was the entry's last packet at least grace_ns ago?  Signed: a
 * creation stamp (precise clock) may be ahead of a coarse reading. */
static __always_inline bool flow_idle(const struct xlb_flow *f, __u64 now_ns,
				      __u64 grace_ns)
{
	return (__s64)(now_ns - f->last_seen_ns) >= (__s64)grace_ns;
}

/* ... at least XLB_CLOSED_GRACE_NS ago? */
static __always_inline bool flow_quiet(const struct xlb_flow *f, __u64 now_ns)
{
	return flow_idle(f, now_ns, XLB_CLOSED_GRACE_NS);
}

/* The NAT port of rkey is held by the established entry `old`: free it
 * if its connection is closed and quiet (both entries of the pair
 * removed from xlb_flows).  0 if freed, else -EEXIST.  One CPU frees a
 * given pair: the one that swaps its created_ns.  A BPF function of its
 * own: inlined into the (then unrolled) probe loop it quadrupled the
 * states the verifier explores (479k instructions instead of 185k). */
static __noinline int flow_free_closed(const struct xlb_flow_key *rkey,
					    struct xlb_flow *old, __u64 now_ns)
{
	struct xlb_flow_key fkey, back;
	struct xlb_flow *fwd;
	__u64 born;

	/* UDP flows never close; a busy pair is not quiet */
	if (old->rewritten.proto != IPPROTO_TCP || !flow_quiet(old, now_ns))
		return -EEXIST;
	flow_partner_key(old, &fkey);
	fwd = bpf_map_lookup_elem(&xlb_flows, &fkey);
	if (!fwd)
		return -EEXIST;
	flow_partner_key(fwd, &back);
	if (!flow_key_eq(&back, rkey) || !flow_quiet(fwd, now_ns))
		return -EEXIST;
	if (!((old->flags | fwd->flags) & XLB_FLOW_RST_SEEN) &&
	    !((old->flags & XLB_FLOW_FIN_SEEN) &&
	      ((fwd->flags & XLB_FLOW_FIN_SEEN) || flow_fin_acked(fwd, old))))
		return -EEXIST;
	/* a pair quiet for the grace time was created before it: a
	 * created_ns younger than that is another CPU's claim (its CAS) */
	born = old->created_ns;
	if ((__s64)(now_ns - born) < (__s64)XLB_CLOSED_GRACE_NS ||
	    __sync_val_compare_and_swap(&old->created_ns, born, now_ns) != born)
		return -EEXIST;
	bpf_map_delete_elem(&xlb_flows, &fkey);
	bpf_map_delete_elem(&xlb_flows, rkey);
	count_event(XLB_STAT_PORT_TAKEOVER);
	return 0;
}

/* How long the UDP pair of the half-open reverse entry rev (its client
 * half at ckey) has been silent both ways.  Signed: a stamp may be ahead
 * of this reading (then negative). */
static __always_inline __s64 flow_udp_silence(const struct xlb_flow *rev,
					      const struct xlb_flow_key *ckey,
					      __u64 now_ns)
{
	const struct xlb_flow *cli = bpf_map_lookup_elem(&xlb_embryos, ckey);
	__s64 s = (__s64)(now_ns - rev->last_seen_ns);

	if (cli && (__s64)(now_ns - cli->last_seen_ns) < s)
		s = (__s64)(now_ns - cli->last_seen_ns);
	return s;
}

/*
 * Claim the NAT port of rkey for the new connection's backend->SNAT entry
 * rev: 0, -EEXIST (held: probe the next port), XLB_CLAIM_PRESSED (held by
 * a UDP pair silent less than udp_grace_ns, but XLB_UDP_PRESSED_GRACE_NS
 * or more: the port to take if no other is found) or another error.
 *
 * A port is free if no pair, established or half-open, uses the tuple.
 * The claim is the NOEXIST insert into xlb_embryos, checked against
 * xlb_flows afterwards: insert first, check after, because a promotion
 * inserts its entries into xlb_flows before it removes them from
 * xlb_embryos, so a claim that got in after the move sees the moved entry
 * and backs off.  A port held by a stale half-open pair is taken over, so
 * that a flood of spoofed SYNs cannot hold every port of a backend (a
 * UDP pair only once silent both ways: flow_udp_silence); so is
 * one held by a closed, quiet established pair (flow_free_closed), so that
 * connection churn does not.  A BPF function of its own, for the
 * verifier's sake (it is the body of the probe loop).
 */
static __noinline int flow_claim_port(const struct xlb_flow_key *rkey,
				      const struct xlb_flow *rev,
				      __u64 now_ns, __u64 udp_grace_ns)
{
	struct xlb_flow_key old_partner;
	struct xlb_flow *old;
	__u64 seen;
	__s64 quiet;
	int err;

	err = bpf_map_update_elem(&xlb_embryos, rkey, rev, BPF_NOEXIST);
	if (err == -EEXIST) {
		old = bpf_map_lookup_elem(&xlb_embryos, rkey);
		if (!old)
			return -EEXIST;
		seen = old->created_ns;
		/* signed: another CPU may have created it after we read the
		 * clock, or be promoting it (see flow_hold), or have taken
		 * it over */
		if ((__s64)(now_ns - seen) < (__s64)XLB_EMBRYO_GRACE_NS)
			return -EEXIST;
		/* read before the swap: once swapped, the entry is ours,
		 * and the partner key read is the one of that entry */
		flow_partner_key(old, &old_partner);
		if (rkey->proto == IPPROTO_UDP) {
			quiet = flow_udp_silence(old, &old_partner, now_ns);
			if (quiet < (__s64)udp_grace_ns)
				return quiet >= (__s64)XLB_UDP_PRESSED_GRACE_NS ?
					       XLB_CLAIM_PRESSED :
					       -EEXIST;
		}
		/* one CPU takes a given stale pair over: the one that swaps
		 * its created_ns, before any promotion of the pair does */
		if (__sync_val_compare_and_swap(&old->created_ns, seen,
						XLB_CREATED_TAKEN) != seen)
			return -EEXIST;
		bpf_map_delete_elem(&xlb_embryos, &old_partner);
		count_event(XLB_STAT_PORT_TAKEOVER);
		err = bpf_map_update_elem(&xlb_embryos, rkey, rev, BPF_ANY);
		if (err) {
			/* no entry stays marked taken (it would never look
			 * stale again) */
			bpf_map_delete_elem(&xlb_embryos, rkey);
			return err;
		}
	}
	if (err)
		return err;
	old = bpf_map_lookup_elem(&xlb_flows, rkey);
	if (!old || !flow_free_closed(rkey, old, now_ns))
		return 0;
	bpf_map_delete_elem(&xlb_embryos, rkey);
	return -EEXIST;
}

/* The NAT port probes of one new flow (bpf_loop's context). */
struct flow_probe {
	struct xlb_flow_key rkey; /* dport: the port being probed */
	const struct xlb_flow *rev;
	__u64 now_ns;
	__u32 start, step, range;
	__u16 port_min;
	__u16 pressed_port; /* network order: the first XLB_CLAIM_PRESSED
			     * probe; 0 none */
	int err;
};

/* bpf_loop callback: probe port i; 1 (stop) unless it is held. */
static int flow_probe_one(__u32 i, void *data)
{
	struct flow_probe *pr = data;

	pr->rkey.dport =
		bpf_htons(pr->port_min + (pr->start + i * pr->step) % pr->range);
	pr->err = flow_claim_port(&pr->rkey, pr->rev, pr->now_ns,
				  XLB_UDP_IDLE_GRACE_NS);
	if (pr->err == XLB_CLAIM_PRESSED) {
		if (!pr->pressed_port)
			pr->pressed_port = pr->rkey.dport;
		pr->err = -EEXIST;
	}
	return pr->err != -EEXIST;
}

/*
 * Create the half-open pair for a new connection in xlb_embryos, its
 * client->backend entry built in *fwd, and point *entry at that entry as
 * stored.  Returns 0 or -reason.  The reverse entry claims the NAT port
 * first; if another CPU created the same connection meanwhile, its entry
 * wins and ours is withdrawn.
 */
static __always_inline int flow_create(struct flow_new_ctx *c,
				       __u16 port_min, __u16 port_max,
				       __u64 now_ns, struct xlb_flow *fwd,
				       struct xlb_flow **entry)
{
	const struct xlb_flow_key *ckey = &c->pkt->key;
	struct xlb_flow *stored, *rev = c->rev;
	struct flow_probe pr = {};
	struct xlb_flow_key *rkey = &pr.rkey;
	int err;

	/* backend -> SNAT, rewritten to VIP -> client */
	rkey->src = c->backend->addr;
	rkey->dst = c->svc->snat;
	rkey->sport = c->backend->port;
	rkey->proto = ckey->proto;
	rkey->family = ckey->family;
	__builtin_memset(rev, 0, sizeof(*rev));
	flow_partner_key_of(ckey, &rev->rewritten);
	rev->created_ns = now_ns;
	rev->backend_id = c->backend_id;
	rev->service_id = c->svc->id;
	rev->dir = XLB_DIR_TO_CLIENT;

	/* a bpf_loop, so that the verifier checks one probe, not each */
	pr.rev = rev;
	pr.now_ns = now_ns;
	pr.range = (__u32)port_max - port_min + 1;
	pr.start = flow_hash(ckey);
	pr.step = flow_probe_step(pr.start, pr.range);
	pr.port_min = port_min;
	pr.err = -EEXIST;
	bpf_loop(pr.range < XLB_NAT_PORT_PROBES ? pr.range :
						  XLB_NAT_PORT_PROBES,
		 flow_probe_one, &pr, 0);
	/* every probed port held: a UDP pair silent 2 s gives its port */
	if (pr.err == -EEXIST && pr.pressed_port) {
		rkey->dport = pr.pressed_port;
		pr.err = flow_claim_port(rkey, rev, now_ns,
					 XLB_UDP_PRESSED_GRACE_NS);
	}
	err = pr.err;
	if (err)
		return err == -EEXIST ? -XLB_STAT_DROP_NAT_PORTS :
					-XLB_STAT_DROP_TABLE_FULL;

	/* client -> VIP, rewritten to SNAT -> backend */
	__builtin_memset(fwd, 0, sizeof(*fwd));
	flow_partner_key_of(rkey, &fwd->rewritten);
	fwd->created_ns = now_ns;
	fwd->last_seen_ns = now_ns;
	if (c->pkt->tcp)
		fwd->syn_seq = c->pkt->tcp->seq;
	fwd->backend_id = c->backend_id;
	fwd->service_id = c->svc->id;
	fwd->dir = XLB_DIR_TO_BACKEND;
	err = bpf_map_update_elem(&xlb_embryos, ckey, fwd, BPF_NOEXIST);
	c->created = !err;
	if (err) {
		bpf_map_delete_elem(&xlb_embryos, rkey);
		if (err != -EEXIST)
			return -XLB_STAT_DROP_TABLE_FULL;
		/* else another CPU created this connection first: follow
		 * its pair */
	}
	/* The SYN is forwarded from the stored entry, as a retransmission
	 * of it is, so that the next hop it looks up stays cached there:
	 * the handshake's last ACK carries it into xlb_flows, and neither
	 * that ACK nor the first request asks the FIB again.  The entry
	 * cannot be recycled for another key under us: with per-CPU LRU
	 * lists (BPF_F_NO_COMMON_LRU) only this CPU reuses its nodes.  A
	 * delete by key meanwhile (another CPU, the daemon) leaves the
	 * copy. */
	stored = bpf_map_lookup_elem(&xlb_embryos, ckey);
	if (stored)
		*entry = stored;
	else if (c->created)
		*entry = fwd;
	else
		return -XLB_STAT_DROP_TABLE_FULL;
	return 0;
}

/* Hold the half-open pair fkey/fwd, rkey/rev for its promotion: swap
 * the reverse entry's created_ns to now, which makes the pair young, so
 * that no CPU takes its NAT port over from here on.  False if the pair
 * is lost: a takeover swapped first (XLB_CREATED_TAKEN, or a value that
 * changed under the swap), or an entry was replaced or removed meanwhile
 * (the entries looked up earlier may have been recycled).  *born: the
 * pair's real creation time. */
static __always_inline bool flow_hold(const struct xlb_flow_key *fkey,
				      const struct xlb_flow *fwd,
				      const struct xlb_flow_key *rkey,
				      struct xlb_flow *rev, __u64 now_ns,
				      __u64 *born)
{
	__u64 b = rev->created_ns;

	if (b == XLB_CREATED_TAKEN ||
	    __sync_val_compare_and_swap(&rev->created_ns, b, now_ns) != b)
		return false;
	*born = b;
	return bpf_map_lookup_elem(&xlb_embryos, rkey) == rev &&
	       bpf_map_lookup_elem(&xlb_embryos, fkey) == fwd;
}

/* Take the half-open pair of reverse entry rev for removal by this CPU
 * (a SYN starting afresh): swapped to XLB_CREATED_TAKEN as a takeover
 * does, so that no takeover can replace the entry before it goes.  False
 * if a takeover has it already. */
static __always_inline bool flow_release(struct xlb_flow *rev)
{
	__u64 seen = rev->created_ns;

	return seen != XLB_CREATED_TAKEN &&
	       __sync_val_compare_and_swap(&rev->created_ns, seen,
					   XLB_CREATED_TAKEN) == seen;
}

/*
 * The client spoke again after the backend answered (for TCP: the ACK
 * that completes the handshake, which a spoofed source never sends):
 * move the pair from xlb_embryos to xlb_flows, where it is never evicted.
 * fkey/fwd is the client->backend half, rev its partner, p the client's
 * packet.  The moved copies are made in s->flow (the client half, which
 * the caller forwards from) and s->rev.  0, 1 if the pair was lost to a
 * NAT port takeover on another CPU, or -reason (table full).
 */
static __always_inline int flow_promote(const struct xlb_pkt *p,
					const struct xlb_flow *fwd,
					struct xlb_flow *rev, __u64 now_ns,
					struct xlb_scratch *s)
{
	const struct xlb_flow_key *fkey = &p->key;
	struct xlb_flow_key rkey;
	bool inserted;
	__u64 born;
	int err;

	flow_partner_key(fwd, &rkey);
	if (!flow_hold(fkey, fwd, &rkey, rev, now_ns, &born))
		return 1;
	s->flow = *fwd;
	s->rev = *rev;
	s->rev.created_ns = born;
	/* established: the backend's last ACK number, as far as this
	 * packet shows: its sequence number, which the backend's SYN-ACK
	 * acknowledged (exact even when the SYN carried data) */
	if (p->tcp)
		s->rev.ack_seq = p->tcp->seq;
	/* -EEXIST: another CPU is promoting the same pair */
	err = bpf_map_update_elem(&xlb_flows, fkey, &s->flow, BPF_NOEXIST);
	inserted = !err;
	if (!err || err == -EEXIST) {
		err = bpf_map_update_elem(&xlb_flows, &rkey, &s->rev,
					  BPF_NOEXIST);
		/* undo only what this CPU inserted */
		if (err && err != -EEXIST && inserted)
			bpf_map_delete_elem(&xlb_flows, fkey);
	}
	if (err && err != -EEXIST) {
		/* the pair stays half-open, as it was (unless another CPU
		 * holds it by now) */
		__sync_val_compare_and_swap(&rev->created_ns, now_ns, born);
		return -XLB_STAT_DROP_TABLE_FULL;
	}
	bpf_map_delete_elem(&xlb_embryos, &rkey);
	bpf_map_delete_elem(&xlb_embryos, fkey);
	return 0;
}

#endif /* XLB_FLOW_H */
