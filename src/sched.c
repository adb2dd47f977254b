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
 */
#include <errno.h>
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
 * Write one period (len = sum of weights) of smooth WRR over e[0..m-1].
 * Returns len or -ENOMEM.
 */
static int sched_smooth(struct sched_entry *e, size_t m, __u64 len,
			const struct xlb_sched_backend *in, __u32 *slots)
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
		slots[step - 1] = in[best_index].id;
		if (++best->next == best->size) {
			best->next = 0;
			best->rounds++;
		}
	}
	free(groups);
	return (int)len;
}

static int sched_build_wrr(const struct xlb_sched_backend *in, size_t n,
			   __u32 *slots, size_t max_slots, size_t m,
			   bool *approx)
{
	struct sched_entry *e;
	__u64 total = 0, div = 0, len;
	size_t i, j = 0;
	int ret;

	e = calloc(m, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!in[i].live || !in[i].weight)
			continue;
		e[j].weight = in[i].weight;
		e[j].index = i;
		total += in[i].weight;
		div = gcd_u64(div, in[i].weight);
		j++;
	}

	*approx = total / div > max_slots;
	if (*approx) {
		sched_scale(e, m, total, max_slots);
		div = 0;
		for (i = 0; i < m; i++)
			div = gcd_u64(div, e[i].weight);
		total = max_slots;
	}
	len = total / div;
	for (i = 0; i < m; i++)
		e[i].weight /= div;

	ret = sched_smooth(e, m, len, in, slots);
	free(e);
	return ret;
}

int xlb_sched_build(enum xlb_algo algo, const struct xlb_sched_backend *in,
		    size_t n, __u32 *slots, size_t max_slots, bool *approx)
{
	bool approx_unused;
	size_t m = 0, i;

	if ((n && (!in || !slots)) || !max_slots)
		return -EINVAL;
	if (algo != XLB_ALGO_RR && algo != XLB_ALGO_WRR)
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

	if (algo == XLB_ALGO_WRR)
		return sched_build_wrr(in, n, slots, max_slots, m, approx);

	for (i = 0, m = 0; i < n; i++)
		if (in[i].live && in[i].weight)
			slots[m++] = in[i].id;
	return (int)m;
}

int xlb_algo_parse(const char *s, enum xlb_algo *algo)
{
	if (!s || !algo)
		return -EINVAL;
	if (!strcmp(s, "rr"))
		*algo = XLB_ALGO_RR;
	else if (!strcmp(s, "wrr"))
		*algo = XLB_ALGO_WRR;
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
	}
	return "unknown";
}
