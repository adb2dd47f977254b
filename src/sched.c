// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Schedule-table builder (see sched.h).
 *
 * WRR is nginx's smooth weighted round-robin, computed without the
 * O(len * n) scan over all backends.  With total weight P, after s - 1
 * picks backend i holds current = s * w_i - P * k_i before the s-th pick,
 * k_i being how often it was picked so far.  Backends of equal weight are
 * therefore picked in turn, in input order: within such a group the best
 * candidate is the one picked least often, the first on ties, and the
 * group behaves as a round-robin.  Each step compares only the candidate
 * of each group, and the number of distinct weights d that sum to at most
 * P is below sqrt(2 * P).
 *
 * MH is Maglev (Eisenbud et al., NSDI 2016) with weights: each backend
 * walks its own permutation of the M slots (M prime; offset and skip from
 * a hash of its address and port) and claims its next free slot when its
 * turn comes.  The turns follow the smooth WRR sequence of the weights,
 * so that wherever the table fills up every backend has had its share of
 * turns to within one: the table holds each backend in proportion to its
 * weight, and adding or removing one backend moves few slots between the
 * others.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

/* A scheduled backend during the build. */
struct sched_entry {
	__u64 weight; /* reduced or scaled weight */
	__u64 scaled; /* scaling: slots given to this backend */
	__u64 rem; /* scaling: remainder of weight * budget / total */
	size_t index; /* position in the caller's array */
};

/* Backends of one weight: a round-robin over entries[first..first+size-1]. */
struct sched_group {
	__u64 weight;
	__u64 rounds; /* full turns done: picks of the next candidate */
	size_t first;
	size_t size;
	size_t next; /* offset of the next candidate within the group */
};

/* The finalizer of splitmix64. */
static __u64 mix64(__u64 h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static __u64 gcd_u64(__u64 a, __u64 b)
{
	while (b) {
		__u64 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int cmp_weight_index(const void *pa, const void *pb)
{
	const struct sched_entry *a = pa, *b = pb;

	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_rem_desc_index(const void *pa, const void *pb)
{
	const struct sched_entry *a = pa, *b = pb;

	if (a->rem != b->rem)
		return a->rem > b->rem ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Scale the weights of e[0..m-1] (sum total) so that they sum to exactly
 * budget, m <= budget < total.  Backends whose proportional share is
 * below one slot get one slot; lowering the budget of the others can
 * push more below one, so they are taken lightest first until the next
 * one's share is at least one.  The rest get floor(w * left / rest) plus
 * one slot for the largest remainders, first in input order on ties.
 */
static void sched_scale(struct sched_entry *e, size_t m, __u64 total,
			__u64 budget)
{
	__u64 left = budget, rest = total, sum = 0;
	size_t fixed = 0, i;

	qsort(e, m, sizeof(*e), cmp_weight_index);
	while (fixed < m && e[fixed].weight * left < rest) {
		e[fixed].scaled = 1;
		e[fixed].rem = 0;
		left--;
		rest -= e[fixed].weight;
		fixed++;
	}
	/* m <= budget guarantees fixed < m here, so rest > 0. */
	for (i = fixed; i < m; i++) {
		e[i].scaled = e[i].weight * left / rest;
		e[i].rem = e[i].weight * left % rest;
		sum += e[i].scaled;
	}
	/* Each floor loses less than one slot: left - sum < m - fixed. */
	qsort(e + fixed, m - fixed, sizeof(*e), cmp_rem_desc_index);
	for (i = fixed; sum < left; i++, sum++)
		e[i].scaled++;
	for (i = 0; i < m; i++)
		e[i].weight = e[i].scaled;
}

/*
 * Write one period (len = sum of weights) of smooth WRR over e[0..m-1]:
 * order[k] is the index (into the caller's array) of the k-th pick.
 * Returns len or -ENOMEM.
 */
static int sched_smooth(struct sched_entry *e, size_t m, __u64 len,
			__u32 *order)
{
	struct sched_group *groups;
	size_t ngroups = 0, i, g;
	__u64 step;

	qsort(e, m, sizeof(*e), cmp_weight_index);
	groups = calloc(m, sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	for (i = 0; i < m; i++) {
		if (i == 0 || e[i].weight != e[i - 1].weight) {
			groups[ngroups].weight = e[i].weight;
			groups[ngroups].first = i;
			ngroups++;
		}
		groups[ngroups - 1].size++;
	}

	for (step = 1; step <= len; step++) {
		struct sched_group *best = NULL;
		size_t best_index = 0;
		__s64 best_current = 0;

		for (g = 0; g < ngroups; g++) {
			struct sched_group *grp = &groups[g];
			size_t index = e[grp->first + grp->next].index;
			__s64 current = (__s64)(step * grp->weight) -
					(__s64)(len * grp->rounds);

			if (!best || current > best_current ||
			    (current == best_current && index < best_index)) {
				best = grp;
				best_index = index;
				best_current = current;
			}
		}
		order[step - 1] = (__u32)best_index;
		if (++best->next == best->size) {
			best->next = 0;
			best->rounds++;
		}
	}
	free(groups);
	return (int)len;
}

/*
 * The backends of in[] that are scheduled (m of them), as entries whose
 * weights are divided by their gcd; scaled first to sum exactly budget if
 * the reduced sum exceeds it (*approx set).  Sets *len to the sum of the
 * entries' weights.  Returns the entries (free()) or NULL.
 */
static struct sched_entry *sched_weights(const struct xlb_sched_backend *in,
					 size_t n, size_t m, __u64 budget,
					 __u64 *len, bool *approx)
{
	struct sched_entry *e;
	__u64 total = 0, div = 0;
	size_t i, j = 0;

	e = calloc(m, sizeof(*e));
	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		if (!in[i].live || !in[i].weight)
			continue;
		e[j].weight = in[i].weight;
		e[j].index = i;
		total += in[i].weight;
		div = gcd_u64(div, in[i].weight);
		j++;
	}

	*approx = total / div > budget;
	if (*approx) {
		sched_scale(e, m, total, budget);
		div = 0;
		for (i = 0; i < m; i++)
			div = gcd_u64(div, e[i].weight);
		total = budget;
	}
	*len = total / div;
	for (i = 0; i < m; i++)
		e[i].weight /= div;
	return e;
}

static int sched_build_wrr(const struct xlb_sched_backend *in, size_t n,
			   __u32 *slots, size_t max_slots, size_t m,
			   bool *approx)
{
	struct sched_entry *e;
	__u64 len;
	int ret;

	e = sched_weights(in, n, m, max_slots, &len, approx);
	if (!e)
		return -ENOMEM;
	ret = sched_smooth(e, m, len, slots);
	for (int k = 0; k < ret; k++)
		slots[k] = in[slots[k]].id;
	free(e);
	return ret;
}

/* Largest prime at most n (n >= 2). */
static __u32 prime_at_most(__u32 n)
{
	for (;; n--) {
		__u32 d = 2;

		while (d * d <= n && n % d)
			d++;
		if (d * d > n)
			return n;
	}
}

/* One backend's walk through the table: offset, offset + skip, ... */
struct mh_walk {
	__u32 pos;
	__u32 skip;
};

/* Start each backend's walk where its ident says (any skip in 1..size-1
 * visits every slot: size is prime). */
static void mh_walks_init(struct mh_walk *walk,
			  const struct xlb_sched_backend *in, size_t n,
			  __u32 size)
{
	for (size_t i = 0; i < n; i++) {
		__u64 offset = mix64(in[i].ident ^ 0x5851f42d4c957f2dULL);
		__u64 skip = mix64(in[i].ident ^ 0x14057b7ef767814fULL);

		walk[i].pos = (__u32)(offset % size);
		walk[i].skip = (__u32)(skip % (size - 1)) + 1;
	}
}

/* Fill owner[0..size-1]: the backends take turns in order[0..len-1]
 * (again from the start when it runs out), each claiming the next free
 * slot of its walk. */
static void mh_fill(__u32 *owner, __u32 size, struct mh_walk *walk,
		    const __u32 *order, __u64 len)
{
	__u64 t = 0;

	memset(owner, 0xff, size * sizeof(*owner));
	for (__u32 k = 0; k < size; k++) {
		struct mh_walk *w = &walk[order[t]];

		while (owner[w->pos] != UINT32_MAX) {
			w->pos += w->skip;
			if (w->pos >= size)
				w->pos -= size;
		}
		owner[w->pos] = order[t];
		if (++t == len)
			t = 0;
	}
}

/* Build an mh table from in[] (in ident order: see sched_build_mh). */
static int mh_build(const struct xlb_sched_backend *in, size_t n,
		    __u32 *slots, size_t max_slots, size_t m, bool *approx)
{
	__u32 size, *order = NULL, *owner = NULL;
	struct mh_walk *walk = NULL;
	struct sched_entry *e;
	int ret = -ENOMEM;
	__u64 len;

	/* One backend: it takes every client whatever the length. */
	if (m == 1 || max_slots < 2) {
		for (size_t i = 0; i < n; i++)
			if (in[i].live && in[i].weight)
				slots[0] = in[i].id;
		return 1;
	}
	size = prime_at_most((__u32)max_slots);
	if (m > size)
		return -E2BIG;
	/* at most size turns, so that each backend gets one at least */
	e = sched_weights(in, n, m, size, &len, approx);
	if (!e)
		return -ENOMEM;
	order = calloc(len, sizeof(*order));
	owner = malloc(size * sizeof(*owner));
	walk = calloc(n, sizeof(*walk));
	if (!order || !owner || !walk)
		goto out;
	ret = sched_smooth(e, m, len, order);
	if (ret < 0)
		goto out;
	mh_walks_init(walk, in, n, size);
	mh_fill(owner, size, walk, order, len);
	for (__u32 k = 0; k < size; k++)
		slots[k] = in[owner[k]].id;
	ret = (int)size;
out:
	free(order);
	free(owner);
	free(walk);
	free(e);
	return ret;
}

static int cmp_ident(const void *pa, const void *pb)
{
	const struct xlb_sched_backend *a = pa, *b = pb;

	if (a->ident != b->ident)
		return a->ident < b->ident ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The table depends on the set of backends only, not on their order in
 * the configuration (the turns break ties by position): sorted by ident,
 * a backend deleted and added again, a file listing them in another
 * order, or a restart reading them back by id, build the same table. */
static int sched_build_mh(const struct xlb_sched_backend *in, size_t n,
			  __u32 *slots, size_t max_slots, size_t m,
			  bool *approx)
{
	struct xlb_sched_backend *sorted = malloc(n * sizeof(*sorted));
	int ret;

	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, in, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_ident);
	ret = mh_build(sorted, n, slots, max_slots, m, approx);
	free(sorted);
	return ret;
}

__u64 xlb_sched_ident(const struct xlb_addr *addr, __u16 port)
{
	__u64 h = 0x6a09e667f3bcc908ULL;

	for (int i = 0; i < 4; i++)
		h = mix64(h ^ addr->ip6[i]);
	return mix64(h ^ port);
}

int xlb_sched_build(enum xlb_algo algo, const struct xlb_sched_backend *in,
		    size_t n, __u32 *slots, size_t max_slots, bool *approx)
{
	bool approx_unused;
	size_t m = 0, i;

	if ((n && (!in || !slots)) || !max_slots)
		return -EINVAL;
	if (algo != XLB_ALGO_RR && algo != XLB_ALGO_WRR &&
	    algo != XLB_ALGO_MH && algo != XLB_ALGO_WLC)
		return -EINVAL;
	/* The table length travels as an int and in a __u32 map element. */
	if (max_slots > XLB_SCHED_MAX_SLOTS)
		max_slots = XLB_SCHED_MAX_SLOTS;
	if (!approx)
		approx = &approx_unused;

	for (i = 0; i < n; i++)
		if (in[i].live && in[i].weight)
			m++;
	if (m > max_slots)
		return -E2BIG;
	*approx = false;
	if (!m)
		return 0;

	if (algo == XLB_ALGO_WRR || algo == XLB_ALGO_WLC)
		return sched_build_wrr(in, n, slots, max_slots, m, approx);
	if (algo == XLB_ALGO_MH)
		return sched_build_mh(in, n, slots, max_slots, m, approx);

	for (i = 0, m = 0; i < n; i++)
		if (in[i].live && in[i].weight)
			slots[m++] = in[i].id;
	return (int)m;
}

struct wlc_item {
	double ratio; /* conns / weight */
	size_t i;
};

static int wlc_cmp(const void *a, const void *b)
{
	const struct wlc_item *x = a, *y = b;

	if (x->ratio != y->ratio)
		return x->ratio < y->ratio ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int xlb_sched_wlc(const __u32 *weight, const __u64 *conns, size_t n,
		  __u32 *out)
{
	struct wlc_item *v;
	double pour = 0, held = 0, wsum = 0, level = 0, total;
	__u64 wall = 0;
	size_t m = 0, k;

	if (n && (!weight || !conns || !out))
		return -EINVAL;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (weight[i]) {
			v[m].ratio = (double)conns[i] / weight[i];
			v[m++].i = i;
			pour += (double)conns[i];
			wall += weight[i];
		}
	if (pour < (double)m)
		pour = (double)m;
	qsort(v, m, sizeof(*v), wlc_cmp);
	/* the level: the lowest k backends take all that is poured, up to
	 * the (k+1)th's ratio */
	for (k = 0; k < m; k++) {
		held += (double)conns[v[k].i];
		wsum += weight[v[k].i];
		level = (pour + held) / wsum;
		if (k + 1 == m || level <= v[k + 1].ratio)
			break;
	}
	/* each one's share, into ratio: out may be weight */
	for (size_t j = 0; j < m; j++) {
		size_t i = v[j].i;

		v[j].ratio = j <= k ? level * weight[i] - (double)conns[i] : 0;
	}
	/* the weights' sum times the least whole number that makes it
	 * XLB_SCHED_WLC_MIN or more: shares in proportion to the weights
	 * (no connections) come out as the weights times that number */
	total = wall ? (double)wall *
			       ((XLB_SCHED_WLC_MIN + wall - 1) / wall) :
		       0;
	for (size_t i = 0; i < n; i++)
		out[i] = 0;
	for (size_t j = 0; j < m; j++) {
		double w = v[j].ratio / pour * total + 0.5;

		if (v[j].ratio > 0)
			out[v[j].i] = w >= 65535 ? 65535 : w < 1 ? 1 : (__u32)w;
	}
	free(v);
	return 0;
}

int xlb_algo_parse(const char *s, enum xlb_algo *algo)
{
	if (!s || !algo)
		return -EINVAL;
	if (!strcmp(s, "rr"))
		*algo = XLB_ALGO_RR;
	else if (!strcmp(s, "wrr"))
		*algo = XLB_ALGO_WRR;
	else if (!strcmp(s, "mh"))
		*algo = XLB_ALGO_MH;
	else if (!strcmp(s, "wlc"))
		*algo = XLB_ALGO_WLC;
	else
		return -EINVAL;
	return 0;
}

const char *xlb_algo_name(enum xlb_algo algo)
{
	switch (algo) {
	case XLB_ALGO_RR:
		return "rr";
	case XLB_ALGO_WRR:
		return "wrr";
	case XLB_ALGO_MH:
		return "mh";
	case XLB_ALGO_WLC:
		return "wlc";
	}
	return "unknown";
}
