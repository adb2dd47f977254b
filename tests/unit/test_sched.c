// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Schedule-table builder (src/sched.c): exact sequences, agreement with a
 * literal transcription of nginx's smooth weighted round-robin, counts per
 * period, smoothness, scaling to the slot cap, build time, Maglev (mh)
 * shares, disruption and identity, bad arguments and algorithm names.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"
#include "xtest.h"

#define ID_BASE 1000 /* backend i gets id ID_BASE + i, printed 'a' + i */
#define SMALL_MAX 8 /* backends in a table-driven case */
#define SEQ_SHOWN 64 /* slots printed in a failure message */
#define WHY_BYTES 1024 /* failure message buffer */
#define BUILD_MAX_NS 1000000000ull /* 1 s: limit for one build */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static __u64 rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: same sequence on every libc. */
static __u64 rng_next(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static __u64 rng_range(__u64 lo, __u64 hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static __u64 gcd(__u64 a, __u64 b)
{
	while (b) {
		__u64 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static bool eligible(const struct xlb_sched_backend *b)
{
	return b->live && b->weight;
}

/* Append slots[0..len-1] to buf: letters for small sets, else ids. */
static void format_seq(char *buf, size_t size, const __u32 *slots, long len,
		       size_t n)
{
	size_t used = strlen(buf);
	long i;

	if (len < 0) {
		snprintf(buf + used, size - used, "error %ld", len);
		return;
	}
	for (i = 0; i < len && i < SEQ_SHOWN && used + 16 < size; i++) {
		if (n <= 26 && slots[i] >= ID_BASE && slots[i] < ID_BASE + n)
			used += snprintf(buf + used, size - used, "%c",
					 (char)('a' + slots[i] - ID_BASE));
		else
			used += snprintf(buf + used, size - used, "%s%u",
					 i ? "," : "", slots[i]);
	}
	if (len > SEQ_SHOWN)
		snprintf(buf + used, size - used, "... (len %ld)", len);
	else
		snprintf(buf + used, size - used, " (len %ld)", len);
}

/* "expected <seq>, got <seq>" into why. */
static void explain_seqs(char *why, size_t size, const __u32 *expect,
			 long expect_len, const __u32 *got, long got_len,
			 size_t n)
{
	long i;

	for (i = 0; i < expect_len && i < got_len; i++)
		if (expect[i] != got[i])
			break;
	snprintf(why, size, "first difference at slot %ld; expected ", i);
	format_seq(why, size, expect, expect_len, n);
	strncat(why, ", got ", size - strlen(why) - 1);
	format_seq(why, size, got, got_len, n);
}

/* Longest run of id in slots[0..len-1] (not wrapping around). */
static long longest_run(const __u32 *slots, long len, __u32 id)
{
	long i, run = 0, best = 0;

	for (i = 0; i < len; i++) {
		run = slots[i] == id ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/*
 * nginx's smooth weighted round-robin, transcribed literally from
 * ngx_http_upstream_get_peer(): every peer adds its weight, the first
 * peer with the largest current weight wins and gives back the total.
 * Writes one period, sum(w) / gcd(w) picks, of ids[i] for weights w[i]
 * (0 = skipped) into out (cap slots) and returns its length, or -1.
 */
static long ref_nginx(const __u32 *ids, const __u64 *w, size_t n, __u32 *out,
		      size_t cap)
{
	__u64 total = 0, div = 0, period, step;
	__s64 *current;
	size_t i;

	for (i = 0; i < n; i++) {
		total += w[i];
		div = gcd(div, w[i]);
	}
	if (!total)
		return 0;
	period = total / div;
	if (period > cap)
		return -1;
	current = calloc(n, sizeof(*current));
	if (!current)
		return -1;
	for (step = 0; step < period; step++) {
		long best = -1;

		for (i = 0; i < n; i++) {
			if (!w[i])
				continue;
			current[i] += w[i];
			if (best < 0 || current[i] > current[best])
				best = i;
		}
		current[best] -= total;
		out[step] = ids[best];
	}
	free(current);
	return period;
}

/*
 * Check a WRR table of len slots built from in[0..n-1] (ids ID_BASE + i)
 * with the given cap: lengths, approx flag, exact counts per period (or
 * counts within one slot of the proportional share when scaled, every
 * backend at least once), and the sequence itself against ref_nginx() on
 * the weights the table represents.  Returns false with why filled.
 */
static bool check_wrr(const struct xlb_sched_backend *in, size_t n,
		      size_t max_slots, const __u32 *slots, long len,
		      bool approx, char *why, size_t why_size)
{
	__u64 total = 0, div = 0, period, cap, unit;
	__u64 *count = calloc(n, sizeof(*count));
	__u64 *ref_w = calloc(n, sizeof(*ref_w));
	__u32 *ids = calloc(n, sizeof(*ids));
	__u32 *ref = NULL;
	bool ok = false, want_approx;
	long ref_len, i;
	size_t b, m = 0;

	why[0] = '\0';
	cap = max_slots < XLB_SCHED_MAX_SLOTS ? max_slots : XLB_SCHED_MAX_SLOTS;
	if (!count || !ref_w || !ids) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	for (b = 0; b < n; b++) {
		ids[b] = ID_BASE + b;
		if (!eligible(&in[b]))
			continue;
		total += in[b].weight;
		div = gcd(div, in[b].weight);
		m++;
	}
	if (!m) {
		if (len != 0 || approx)
			snprintf(why, why_size,
				 "no backend to schedule: expected 0 slots, "
				 "got %ld, approx %d",
				 len, approx);
		ok = len == 0 && !approx;
		goto out;
	}
	period = total / div;
	want_approx = period > cap;
	if (len <= 0 || (__u64)len > cap || approx != want_approx) {
		snprintf(why, why_size,
			 "len %ld (cap %llu, period %llu), approx %d not %d",
			 len, (unsigned long long)cap,
			 (unsigned long long)period, approx, want_approx);
		goto out;
	}
	for (i = 0; i < len; i++) {
		b = slots[i] - ID_BASE;
		if (slots[i] < ID_BASE || b >= n || !eligible(&in[b])) {
			snprintf(why, why_size,
				 "slot %ld holds id %u: not scheduled", i,
				 slots[i]);
			goto out;
		}
		count[b]++;
	}

	if (!want_approx) {
		/* Exact: len is the period, counts are the reduced weights. */
		if ((__u64)len != period) {
			snprintf(why, why_size, "len %ld, expected period %llu",
				 len, (unsigned long long)period);
			goto out;
		}
		for (b = 0; b < n; b++) {
			__u64 want = eligible(&in[b]) ? in[b].weight / div : 0;

			if (count[b] != want) {
				snprintf(why, why_size,
					 "backend %zu (weight %u) appears %llu "
					 "times, expected %llu",
					 b, in[b].weight,
					 (unsigned long long)count[b],
					 (unsigned long long)want);
				goto out;
			}
			ref_w[b] = want;
		}
	} else {
		/*
		 * Scaled: the table is the reduction of weights a_i summing to
		 * cap.  Ideal shares: a backend whose share of what is left is
		 * below one slot gets exactly one; the others get w * left /
		 * rest, left and rest being the slots and weight not taken by
		 * the former.  Every a_i must be within one slot of its share.
		 */
		bool *fixed = calloc(n, sizeof(*fixed));
		__u64 left = cap, rest = total;
		bool changed = true;

		if (!fixed) {
			snprintf(why, why_size, "out of memory");
			goto out;
		}
		if (cap % len) {
			snprintf(why, why_size,
				 "scaled len %ld does not divide the cap %llu",
				 len, (unsigned long long)cap);
			free(fixed);
			goto out;
		}
		unit = cap / len;
		while (changed) {
			__u64 l = left, r = rest;

			changed = false;
			for (b = 0; b < n; b++) {
				if (!eligible(&in[b]) || fixed[b] ||
				    in[b].weight * l >= r)
					continue;
				fixed[b] = true;
				left--;
				rest -= in[b].weight;
				changed = true;
			}
		}
		for (b = 0; b < n && !*why; b++) {
			__u64 a = count[b] * unit;
			__s64 diff; /* rest * (a - share), |diff| < rest */
			bool off;

			ref_w[b] = count[b];
			if (!eligible(&in[b]))
				continue;
			diff = (__s64)(a * rest) - (__s64)(in[b].weight * left);
			if (fixed[b])
				off = a != 1;
			else
				off = diff <= -(__s64)rest ||
				      diff >= (__s64)rest;
			if (off)
				snprintf(why, why_size,
					 "backend %zu (weight %u of %llu) has "
					 "%llu of %llu slots, share %.3f",
					 b, in[b].weight,
					 (unsigned long long)total,
					 (unsigned long long)a,
					 (unsigned long long)cap,
					 fixed[b] ? 1.0 :
						    (double)in[b].weight *
							    left / rest);
		}
		free(fixed);
		if (*why)
			goto out;
	}

	ref = calloc(len, sizeof(*ref));
	if (!ref) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	ref_len = ref_nginx(ids, ref_w, n, ref, len);
	if (ref_len != len || memcmp(ref, slots, len * sizeof(*slots))) {
		size_t used;

		snprintf(why, why_size, "differs from nginx: ");
		used = strlen(why);
		explain_seqs(why + used, why_size - used, ref, ref_len, slots,
			     len, n);
		goto out;
	}
	ok = true;
out:
	free(ref);
	free(ids);
	free(ref_w);
	free(count);
	return ok;
}

/* Fill in[0..n-1] with ids ID_BASE + i, weights lo..hi, live. */
static void random_backends(struct xlb_sched_backend *in, size_t n, __u64 lo,
			    __u64 hi)
{
	size_t i;

	for (i = 0; i < n; i++) {
		in[i].id = ID_BASE + i;
		in[i].weight = rng_range(lo, hi);
		in[i].live = true;
	}
}

/* ------------------------------------------------------------------ */
/* Exact sequences                                                     */
/* ------------------------------------------------------------------ */

struct seq_case {
	const char *name;
	enum xlb_algo algo;
	size_t n;
	__u16 weights[SMALL_MAX];
	const char *down; /* letters of backends that are not live, or NULL */
	size_t max_slots; /* 0: XLB_SCHED_MAX_SLOTS */
	const char *expect; /* backend i is 'a' + i */
	bool expect_approx;
	long max_run_a; /* if > 0: longest run of backend a */
};

/* clang-format off */
static const struct seq_case seq_cases[] = {
	/* name, algo, n, weights,
	   down, max_slots, expect, expect_approx, max_run_a */
	{ "rr two backends", XLB_ALGO_RR, 2, { 1, 1 },
	  NULL, 0, "ab", false, 0 },
	{ "rr three backends", XLB_ALGO_RR, 3, { 1, 1, 1 },
	  NULL, 0, "abc", false, 0 },
	{ "rr ignores weight values", XLB_ALGO_RR, 3, { 5, 1, 300 },
	  NULL, 0, "abc", false, 0 },
	{ "rr skips weight 0 and not live", XLB_ALGO_RR, 5, { 1, 0, 1, 4, 1 },
	  "d", 0, "ace", false, 0 },
	{ "rr single backend", XLB_ALGO_RR, 1, { 9 },
	  NULL, 0, "a", false, 0 },
	{ "rr nothing live", XLB_ALGO_RR, 2, { 1, 1 },
	  "ab", 0, "", false, 0 },
	{ "rr no backends", XLB_ALGO_RR, 0, { 0 },
	  NULL, 0, "", false, 0 },
	{ "rr exactly max_slots backends", XLB_ALGO_RR, 3, { 1, 1, 1 },
	  NULL, 3, "abc", false, 0 },
	{ "wrr 5,1,1 (nginx example)", XLB_ALGO_WRR, 3, { 5, 1, 1 },
	  NULL, 0, "aabacaa", false, 2 },
	{ "wrr 1,2", XLB_ALGO_WRR, 2, { 1, 2 },
	  NULL, 0, "bab", false, 0 },
	{ "wrr gcd 2,4 same as 1,2", XLB_ALGO_WRR, 2, { 2, 4 },
	  NULL, 0, "bab", false, 0 },
	{ "wrr gcd 10,10,20", XLB_ALGO_WRR, 3, { 10, 10, 20 },
	  NULL, 0, "cabc", false, 0 },
	{ "wrr 3,2", XLB_ALGO_WRR, 2, { 3, 2 },
	  NULL, 0, "ababa", false, 1 },
	{ "wrr 1,2,3 ties go to the first", XLB_ALGO_WRR, 3, { 1, 2, 3 },
	  NULL, 0, "cbacbc", false, 0 },
	{ "wrr 7,1", XLB_ALGO_WRR, 2, { 7, 1 },
	  NULL, 0, "aaaabaaa", false, 4 },
	{ "wrr 10,1,1,1,1", XLB_ALGO_WRR, 5, { 10, 1, 1, 1, 1 },
	  NULL, 0, "aabaacaadaaeaa", false, 2 },
	{ "wrr equal weights are rr", XLB_ALGO_WRR, 3, { 3, 3, 3 },
	  NULL, 0, "abc", false, 0 },
	{ "wrr all weight 0", XLB_ALGO_WRR, 3, { 0, 0, 0 },
	  NULL, 0, "", false, 0 },
	{ "wrr nothing live", XLB_ALGO_WRR, 2, { 5, 1 },
	  "ab", 0, "", false, 0 },
	{ "wrr skips down and weight 0", XLB_ALGO_WRR, 4, { 5, 1, 0, 1 },
	  "a", 0, "bd", false, 0 },
	{ "wrr single backend", XLB_ALGO_WRR, 1, { 7 },
	  NULL, 0, "a", false, 0 },
	{ "wrr single backend weight 65535", XLB_ALGO_WRR, 1, { 65535 },
	  NULL, 0, "a", false, 0 },
	{ "wrr 65535,65535 reduces to 1,1", XLB_ALGO_WRR, 2, { 65535, 65535 },
	  NULL, 0, "ab", false, 0 },
	{ "wrr 5,1,1 fits exactly 7 slots", XLB_ALGO_WRR, 3, { 5, 1, 1 },
	  NULL, 7, "aabacaa", false, 0 },
	{ "wrr 5,1,1 scaled to 4 slots", XLB_ALGO_WRR, 3, { 5, 1, 1 },
	  NULL, 4, "abca", true, 0 },
	{ "wrr 5,1,1 scaled to 3 slots", XLB_ALGO_WRR, 3, { 5, 1, 1 },
	  NULL, 3, "abc", true, 0 },
	{ "wrr 6,2 scaled to 2 slots", XLB_ALGO_WRR, 2, { 6, 2 },
	  NULL, 2, "ab", true, 0 },
};
/* clang-format on */

static void run_seq_case(const struct seq_case *c)
{
	struct xlb_sched_backend in[SMALL_MAX];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	__u32 expect[64];
	size_t max_slots = c->max_slots ? c->max_slots : XLB_SCHED_MAX_SLOTS;
	char why[WHY_BYTES] = "";
	long len, expect_len = strlen(c->expect), i;
	bool approx = !c->expect_approx;

	for (i = 0; i < (long)c->n; i++) {
		in[i].id = ID_BASE + i;
		in[i].weight = c->weights[i];
		in[i].live = !c->down || !strchr(c->down, 'a' + i);
	}
	for (i = 0; i < expect_len; i++)
		expect[i] = ID_BASE + (c->expect[i] - 'a');

	len = xlb_sched_build(c->algo, in, c->n, slots, max_slots, &approx);
	if (len != expect_len ||
	    (len > 0 && memcmp(slots, expect, len * sizeof(*slots)))) {
		explain_seqs(why, sizeof(why), expect, expect_len, slots, len,
			     c->n);
		xtest_fail(c->name, "%s", why);
		return;
	}
	if (approx != c->expect_approx) {
		xtest_fail(c->name, "approx %d, expected %d", approx,
			   c->expect_approx);
		return;
	}
	if (c->max_run_a > 0 &&
	    longest_run(slots, len, ID_BASE) != c->max_run_a) {
		xtest_fail(c->name, "longest run of a is %ld, expected %ld",
			   longest_run(slots, len, ID_BASE), c->max_run_a);
		return;
	}
	xtest_pass(c->name);
}

/* ------------------------------------------------------------------ */
/* Properties over generated weight sets                               */
/* ------------------------------------------------------------------ */

#define RANDOM_SETS 2000
#define RANDOM_MAX_N 12

/* Random small sets, some down or drained, weights of several ranges
 * (some with periods over the cap): all must pass check_wrr(). */
static void test_random_sets(void)
{
	static const __u64 weight_max[] = { 1, 3, 30, 300, 6000, 65535 };
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	const char *name = "wrr random sets: counts per period and nginx order";
	struct xlb_sched_backend in[RANDOM_MAX_N];
	char why[WHY_BYTES] = "";
	int set, approx_sets = 0;

	for (set = 0; set < RANDOM_SETS; set++) {
		size_t n = rng_range(1, RANDOM_MAX_N), i;
		__u64 hi = weight_max[rng_next() % 6];
		size_t max_slots = rng_next() % 4 ? XLB_SCHED_MAX_SLOTS :
						    rng_range(n, 64);
		bool approx;
		long len;

		random_backends(in, n, 1, hi);
		for (i = 0; i < n; i++) {
			if (rng_next() % 8 == 0)
				in[i].live = false;
			if (rng_next() % 8 == 0)
				in[i].weight = 0;
		}
		len = xlb_sched_build(XLB_ALGO_WRR, in, n, slots, max_slots,
				      &approx);
		approx_sets += approx;
		if (!check_wrr(in, n, max_slots, slots, len, approx, why,
			       sizeof(why))) {
			char weights[RANDOM_MAX_N * 16] = "";
			size_t used = 0;

			for (i = 0; i < n; i++)
				used += snprintf(weights + used,
						 sizeof(weights) - used,
						 " %u%s", in[i].weight,
						 in[i].live ? "" : "(down)");
			xtest_fail(name, "set %d, max_slots %zu, weights%s: %s",
				   set, max_slots, weights, why);
			return;
		}
	}
	printf("random sets: %d checked, %d scaled\n", RANDOM_SETS,
	       approx_sets);
	xtest_pass(name);
}

/*
 * Smoothness, one heavy backend h and k light ones of weight 1: nginx
 * spreads the heavy one into k + 1 runs of at most ceil(h / (k + 1)) and
 * never repeats a light one (5,1,1 -> a a b a c a a, longest run 2).
 */
static void test_heavy_and_light(void)
{
	static const __u16 heavy[] = { 2, 5, 7, 10, 64, 1000, 65000 };
	static const size_t light[] = { 1, 2, 3, 10, 100 };
	static struct xlb_sched_backend in[1 + 100];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	const char *name = "wrr smooth: heavy + light backends, short runs";
	size_t h, k, i;

	for (h = 0; h < sizeof(heavy) / sizeof(heavy[0]); h++) {
		for (k = 0; k < sizeof(light) / sizeof(light[0]); k++) {
			size_t n = 1 + light[k];
			long len, bound = (heavy[h] + n - 1) / n, run;
			bool approx;

			for (i = 0; i < n; i++) {
				in[i].id = ID_BASE + i;
				in[i].weight = i ? 1 : heavy[h];
				in[i].live = true;
			}
			len = xlb_sched_build(XLB_ALGO_WRR, in, n, slots,
					      XLB_SCHED_MAX_SLOTS, &approx);
			run = longest_run(slots, len, ID_BASE);
			if (len != (long)(heavy[h] + light[k]) || run > bound) {
				xtest_fail(name,
					   "weights %u + %zu x 1: len %ld, "
					   "longest heavy run %ld, bound %ld",
					   heavy[h], light[k], len, run, bound);
				return;
			}
			for (i = 1; i < n; i++) {
				if (longest_run(slots, len, ID_BASE + i) != 1) {
					xtest_fail(
						name,
						"%u + %zu x 1: light %zu repeats",
						heavy[h], light[k], i);
					return;
				}
			}
		}
	}
	xtest_pass(name);
}

/* ------------------------------------------------------------------ */
/* Limits and timing                                                   */
/* ------------------------------------------------------------------ */

struct limit_case {
	const char *name;
	size_t n;
	__u64 weight_lo, weight_hi;
	unsigned int down_per_16; /* backends not live, out of 16 */
	unsigned int drained_per_16; /* backends of weight 0, out of 16 */
	size_t max_slots;
	long expect_len; /* -1: any (check_wrr decides) */
	int expect_approx; /* -1: any */
};

static const struct limit_case limit_cases[] = {
	{ "wrr 1024 backends, weights 1..65535, scaled", 1024, 1, 65535, 0, 0,
	  XLB_SCHED_MAX_SLOTS, -1, 1 },
	{ "wrr 1024 backends, some down or drained", 1024, 1, 65535, 2, 2,
	  XLB_SCHED_MAX_SLOTS, -1, 1 },
	{ "wrr 1024 backends, weights 1..64 (exact or scaled)", 1024, 1, 64, 0,
	  0, XLB_SCHED_MAX_SLOTS, -1, -1 },
	{ "wrr 1024 backends all weight 65535 -> 1024 slots", 1024, 65535,
	  65535, 0, 0, XLB_SCHED_MAX_SLOTS, 1024, 0 },
	{ "wrr 65536 backends weight 1 fill the cap", 65536, 1, 1, 0, 0,
	  XLB_SCHED_MAX_SLOTS, 65536, 0 },
	{ "wrr 300 backends scaled to 1000 slots", 300, 1, 65535, 1, 1, 1000,
	  -1, 1 },
	{ "wrr max_slots above the cap counts as the cap", 5, 60000, 65535, 0,
	  0, 4 * XLB_SCHED_MAX_SLOTS, -1, 1 },
};

static void run_limit_case(const struct limit_case *c)
{
	static __u32 slots[4 * XLB_SCHED_MAX_SLOTS];
	struct xlb_sched_backend *in = calloc(c->n, sizeof(*in));
	char why[WHY_BYTES] = "";
	__u64 start_ns, build_ns;
	bool approx;
	size_t i;
	long len;

	if (!in) {
		xtest_fail(c->name, "out of memory");
		return;
	}
	random_backends(in, c->n, c->weight_lo, c->weight_hi);
	for (i = 0; i < c->n; i++) {
		if (rng_next() % 16 < c->down_per_16)
			in[i].live = false;
		if (rng_next() % 16 < c->drained_per_16)
			in[i].weight = 0;
	}

	start_ns = now_ns();
	len = xlb_sched_build(XLB_ALGO_WRR, in, c->n, slots, c->max_slots,
			      &approx);
	build_ns = now_ns() - start_ns;
	printf("%s: %ld slots, approx %d, built in %.3f ms\n", c->name, len,
	       approx, build_ns / 1e6);

	if (build_ns > BUILD_MAX_NS)
		xtest_fail(c->name, "build took %.3f ms, limit %.0f ms",
			   build_ns / 1e6, BUILD_MAX_NS / 1e6);
	else if (c->expect_len >= 0 && len != c->expect_len)
		xtest_fail(c->name, "len %ld, expected %ld", len,
			   c->expect_len);
	else if (c->expect_approx >= 0 && approx != c->expect_approx)
		xtest_fail(c->name, "approx %d, expected %d", approx,
			   c->expect_approx);
	else if (!check_wrr(in, c->n, c->max_slots, slots, len, approx, why,
			    sizeof(why)))
		xtest_fail(c->name, "%s", why);
	else
		xtest_pass(c->name);
	free(in);
}

/* Many distinct weights with no scaling: 1..361 sum to 65341 slots. */
static void test_distinct_weights(void)
{
	const char *name = "wrr 361 distinct weights, exact, matches nginx";
	static struct xlb_sched_backend in[361];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	char why[WHY_BYTES] = "";
	__u64 start_ns, build_ns;
	bool approx;
	size_t i;
	long len;

	for (i = 0; i < 361; i++) {
		/* Interleave so that ties and input order both matter. */
		in[i].id = ID_BASE + i;
		in[i].weight = i % 2 ? 361 - i / 2 : 1 + i / 2;
		in[i].live = true;
	}
	start_ns = now_ns();
	len = xlb_sched_build(XLB_ALGO_WRR, in, 361, slots, XLB_SCHED_MAX_SLOTS,
			      &approx);
	build_ns = now_ns() - start_ns;
	printf("%s: %ld slots, built in %.3f ms\n", name, len, build_ns / 1e6);
	if (build_ns > BUILD_MAX_NS)
		xtest_fail(name, "build took %.3f ms", build_ns / 1e6);
	else if (len != 65341 || approx)
		xtest_fail(name, "len %ld approx %d, expected 65341 exact", len,
			   approx);
	else if (!check_wrr(in, 361, XLB_SCHED_MAX_SLOTS, slots, len, approx,
			    why, sizeof(why)))
		xtest_fail(name, "%s", why);
	else
		xtest_pass(name);
}

/* 65536 live backends for rr: exactly the cap, in input order. */
static void test_rr_cap(void)
{
	const char *name = "rr 65536 backends fill the cap in input order";
	static struct xlb_sched_backend in[XLB_SCHED_MAX_SLOTS];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	bool approx = true;
	long len, i;

	random_backends(in, XLB_SCHED_MAX_SLOTS, 1, 65535);
	len = xlb_sched_build(XLB_ALGO_RR, in, XLB_SCHED_MAX_SLOTS, slots,
			      XLB_SCHED_MAX_SLOTS, &approx);
	if (len != XLB_SCHED_MAX_SLOTS || approx) {
		xtest_fail(name, "len %ld approx %d", len, approx);
		return;
	}
	for (i = 0; i < len; i++) {
		if (slots[i] != ID_BASE + i) {
			xtest_fail(name, "slot %ld holds %u, expected %ld", i,
				   slots[i], ID_BASE + i);
			return;
		}
	}
	xtest_pass(name);
}

/* ------------------------------------------------------------------ */
/* Maglev (mh)                                                         */
/* ------------------------------------------------------------------ */

#define MH_SIZE 65521 /* largest prime at most XLB_SCHED_MAX_SLOTS */

/* in[0..n-1]: ids ID_BASE + i, weights lo..hi, live, each its own ident
 * (as if backend 198.51.100.i:80). */
static void mh_backends(struct xlb_sched_backend *in, size_t n, __u64 lo,
			__u64 hi)
{
	random_backends(in, n, lo, hi);
	for (size_t i = 0; i < n; i++) {
		struct xlb_addr a = { .bytes = { 198, 51, 100, 0 } };

		a.bytes[3] = (__u8)i;
		a.bytes[2] = (__u8)(100 + (i >> 8));
		in[i].ident = xlb_sched_ident(&a, 80);
	}
}

/* Slots per backend (index i = id - ID_BASE) of slots[0..len-1]. */
static void mh_count(const __u32 *slots, long len, long *count, size_t n)
{
	memset(count, 0, n * sizeof(*count));
	for (long k = 0; k < len; k++)
		if (slots[k] - ID_BASE < n)
			count[slots[k] - ID_BASE]++;
}

/* Each scheduled backend holds its weight's share of len to within tol
 * slots, the others none; why says which one does not. */
static bool mh_shares_ok(const struct xlb_sched_backend *in, size_t n,
			 const __u32 *slots, long len, double tol, char *why,
			 size_t why_size)
{
	long *count = calloc(n, sizeof(*count));
	double total = 0;
	bool ok = true;

	if (!count)
		return false;
	mh_count(slots, len, count, n);
	for (size_t i = 0; i < n; i++)
		total += eligible(&in[i]) ? in[i].weight : 0;
	for (size_t i = 0; i < n && ok; i++) {
		double share = eligible(&in[i]) ? len * in[i].weight / total
						: 0;

		if (count[i] < share - tol || count[i] > share + tol) {
			snprintf(why, why_size,
				 "backend %zu (weight %u%s): %ld slots of %ld, "
				 "its share %.1f",
				 i, in[i].weight, in[i].live ? "" : ", down",
				 count[i], len, share);
			ok = false;
		}
	}
	free(count);
	return ok;
}

static void test_mh_shares(void)
{
	static const struct {
		size_t n;
		__u64 lo, hi;
	} sets[] = { { 2, 1, 1 }, { 3, 5, 5 }, { 7, 1, 3 }, { 10, 1, 100 },
		     { 64, 1, 4 }, { 1024, 1, 60 }, { 1024, 1, 1 } };
	static struct xlb_sched_backend in[1024];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	const char *name = "mh: 65521 slots, each backend its weight's share "
			   "to within one slot";
	char why[WHY_BYTES];
	bool approx;

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		long len;

		mh_backends(in, sets[s].n, sets[s].lo, sets[s].hi);
		if (sets[s].n > 3)
			in[1].live = false; /* down: holds nothing */
		len = xlb_sched_build(XLB_ALGO_MH, in, sets[s].n, slots,
				      XLB_SCHED_MAX_SLOTS, &approx);
		if (len != MH_SIZE || approx) {
			xtest_fail(name, "%zu backends: len %ld approx %d",
				   sets[s].n, len, approx);
			return;
		}
		if (!mh_shares_ok(in, sets[s].n, slots, len, 1.0, why,
				  sizeof(why))) {
			xtest_fail(name, "%zu backends: %s", sets[s].n, why);
			return;
		}
	}
	xtest_pass(name);
}

/* Clients (one per slot k of a, len_a slots) that table b (len_b slots)
 * sends elsewhere, not counting those a gave to backend gone (or, gone
 * == 0, none): the program picks slot hash % len. */
static long mh_moved(const __u32 *a, long len_a, const __u32 *b, long len_b,
		     __u32 gone)
{
	long moved = 0;

	for (long k = 0; k < len_a; k++)
		if (a[k] != gone && a[k] != b[k % len_b])
			moved++;
	return moved;
}

static void test_mh_disruption(void)
{
	static struct xlb_sched_backend in[64];
	static __u32 before[XLB_SCHED_MAX_SLOTS], during[XLB_SCHED_MAX_SLOTS],
		after[XLB_SCHED_MAX_SLOTS];
	const char *name = "mh: a backend going moves its own slots and under "
			   "1% of the others'; coming back restores the table";
	static const size_t sizes[] = { 2, 3, 5, 10, 33, 64 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], gone = rng_range(0, n - 1);
		long len, len_d, len_a, moved, back;

		mh_backends(in, n, 1, 3);
		len = xlb_sched_build(XLB_ALGO_MH, in, n, before,
				      XLB_SCHED_MAX_SLOTS, NULL);
		in[gone].live = false;
		len_d = xlb_sched_build(XLB_ALGO_MH, in, n, during,
					XLB_SCHED_MAX_SLOTS, NULL);
		in[gone].live = true;
		len_a = xlb_sched_build(XLB_ALGO_MH, in, n, after,
					XLB_SCHED_MAX_SLOTS, NULL);
		moved = mh_moved(before, len, during, len_d, ID_BASE + gone);
		back = mh_moved(before, len, after, len_a, 0);
		for (long k = 0; k < len_d; k++) {
			if (during[k] == ID_BASE + gone) {
				xtest_fail(name, "%zu backends: slot %ld still "
					   "on the backend gone", n, k);
				return;
			}
		}
		if (moved * 100 >= len || back || len_a != len) {
			xtest_fail(name, "%zu backends, backend %zu gone: %ld "
				   "of the others' slots moved, %ld differ "
				   "once it is back (%ld slots, %ld before)",
				   n, gone, moved, back, len_a, len);
			return;
		}
	}
	xtest_pass(name);
}

static void mh_reverse(struct xlb_sched_backend *in, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct xlb_sched_backend t = in[i];

		in[i] = in[n - 1 - i];
		in[n - 1 - i] = t;
	}
}

/* A backend's slots follow its ident, not its id nor its place in the
 * list: the same backends under other ids give the same table,
 * relabelled; in reverse order, the same table. */
static void test_mh_ident(void)
{
	static struct xlb_sched_backend in[8];
	static __u32 a[XLB_SCHED_MAX_SLOTS], b[XLB_SCHED_MAX_SLOTS];
	const char *name = "mh: slots follow the backend's address, not its id "
			   "nor its place in the list";
	long len;

	mh_backends(in, 8, 1, 4);
	len = xlb_sched_build(XLB_ALGO_MH, in, 8, a, XLB_SCHED_MAX_SLOTS,
			      NULL);
	/* the same backends in another order: the same table */
	mh_reverse(in, 8);
	xlb_sched_build(XLB_ALGO_MH, in, 8, b, XLB_SCHED_MAX_SLOTS, NULL);
	if (mh_moved(a, len, b, len, 0)) {
		xtest_fail(name, "backends in reverse order: %ld slots differ",
			   mh_moved(a, len, b, len, 0));
		return;
	}
	mh_reverse(in, 8);
	for (size_t i = 0; i < 8; i++)
		in[i].id = 7 * (__u32)i + 3;
	xlb_sched_build(XLB_ALGO_MH, in, 8, b, XLB_SCHED_MAX_SLOTS, NULL);
	for (long k = 0; k < len; k++) {
		if (b[k] != 7 * (a[k] - ID_BASE) + 3) {
			xtest_fail(name, "slot %ld: id %u, expected %u", k,
				   b[k], 7 * (a[k] - ID_BASE) + 3);
			return;
		}
	}
	/* the ident tells address and port apart */
	{
		struct xlb_addr x = { .bytes = { 198, 51, 100, 11 } };
		struct xlb_addr y = { .bytes = { 198, 51, 100, 12 } };

		if (xlb_sched_ident(&x, 80) == xlb_sched_ident(&x, 8080) ||
		    xlb_sched_ident(&x, 80) == xlb_sched_ident(&y, 80) ||
		    xlb_sched_ident(&x, 80) != xlb_sched_ident(&x, 80)) {
			xtest_fail(name, "ident: same for another port or "
				   "address, or not stable");
			return;
		}
	}
	/* another address for backend 0 gives it other slots */
	in[0].ident ^= 1;
	xlb_sched_build(XLB_ALGO_MH, in, 8, a, XLB_SCHED_MAX_SLOTS, NULL);
	if (!mh_moved(a, len, b, len, 0)) {
		xtest_fail(name, "a new ident for backend 0 changed nothing");
		return;
	}
	xtest_pass(name);
}

struct mh_case {
	const char *name;
	size_t n;
	__u16 weights[SMALL_MAX];
	size_t max_slots;
	long expect_len;
	bool expect_approx;
};

static const struct mh_case mh_cases[] = {
	{ "mh one backend: one slot", 1, { 3 }, 0, 1, false },
	{ "mh one live of three: one slot", 3, { 0, 2, 0 }, 0, 1, false },
	{ "mh nothing live: 0 slots", 2, { 0, 0 }, 0, 0, false },
	{ "mh max_slots 8: 7 slots (prime)", 3, { 1, 1, 1 }, 8, 7, false },
	{ "mh max_slots 4, 4 backends: E2BIG (prime 3)", 4, { 1, 1, 1, 1 }, 4,
	  -E2BIG, false },
	{ "mh 3 backends in 3 slots: one each", 3, { 1, 1, 1 }, 3, 3, false },
	{ "mh weights over the table scaled, approx, one slot at least", 3,
	  { 65535, 1, 65534 }, 11, 11, true },
};

static void run_mh_case(const struct mh_case *c)
{
	struct xlb_sched_backend in[SMALL_MAX];
	__u32 slots[XLB_SCHED_MAX_SLOTS];
	long len, count[SMALL_MAX];
	bool approx = !c->expect_approx;

	mh_backends(in, c->n, 1, 1);
	for (size_t i = 0; i < c->n; i++)
		in[i].weight = c->weights[i];
	len = xlb_sched_build(XLB_ALGO_MH, in, c->n, slots,
			      c->max_slots ? c->max_slots : XLB_SCHED_MAX_SLOTS,
			      &approx);
	if (len != c->expect_len || (len >= 0 && approx != c->expect_approx)) {
		xtest_fail(c->name, "len %ld approx %d, expected %ld approx %d",
			   len, approx, c->expect_len, c->expect_approx);
		return;
	}
	mh_count(slots, len < 0 ? 0 : len, count, c->n);
	for (size_t i = 0; i < c->n && len >= 0; i++) {
		if ((count[i] > 0) != (c->weights[i] > 0)) {
			xtest_fail(c->name, "backend %zu (weight %u): %ld slots",
				   i, c->weights[i], count[i]);
			return;
		}
	}
	xtest_pass(c->name);
}

static void test_mh_build_time(void)
{
	static struct xlb_sched_backend in[1024];
	static __u32 slots[XLB_SCHED_MAX_SLOTS];
	const char *name = "mh: 1024 backends, 65521 slots, built in under 1 s";
	__u64 t0, ns;
	long len;

	mh_backends(in, 1024, 1, 65535);
	t0 = now_ns();
	len = xlb_sched_build(XLB_ALGO_MH, in, 1024, slots,
			      XLB_SCHED_MAX_SLOTS, NULL);
	ns = now_ns() - t0;
	if (len != MH_SIZE || ns > BUILD_MAX_NS) {
		xtest_fail(name, "len %ld in %llu ns", len,
			   (unsigned long long)ns);
		return;
	}
	xtest_pass(name);
}

/* ------------------------------------------------------------------ */
/* Bad arguments                                                       */
/* ------------------------------------------------------------------ */

struct err_case {
	const char *name;
	enum xlb_algo algo;
	bool null_in;
	bool null_slots;
	bool null_approx;
	size_t n;
	size_t max_slots;
	int expect; /* return value */
};

static const struct err_case err_cases[] = {
	{ "bad args: NULL backends", XLB_ALGO_WRR, true, false, false, 3, 8,
	  -EINVAL },
	{ "bad args: NULL slots", XLB_ALGO_RR, false, true, false, 3, 8,
	  -EINVAL },
	{ "bad args: max_slots 0", XLB_ALGO_WRR, false, false, false, 3, 0,
	  -EINVAL },
	{ "bad args: max_slots 0 with no backends", XLB_ALGO_RR, true, true,
	  false, 0, 0, -EINVAL },
	{ "bad args: unknown algo", (enum xlb_algo)7, false, false, false, 3, 8,
	  -EINVAL },
	{ "bad args: unknown algo with no backends", (enum xlb_algo)7, true,
	  true, false, 0, 8, -EINVAL },
	{ "rr more backends than slots: E2BIG", XLB_ALGO_RR, false, false,
	  false, 4, 3, -E2BIG },
	{ "wrr more backends than slots: E2BIG", XLB_ALGO_WRR, false, false,
	  false, 4, 3, -E2BIG },
	{ "mh more backends than slots: E2BIG", XLB_ALGO_MH, false, false,
	  false, 4, 3, -E2BIG },
	{ "mh NULL backends", XLB_ALGO_MH, true, false, false, 3, 8, -EINVAL },
	{ "no backends with NULL pointers: 0 slots", XLB_ALGO_WRR, true, true,
	  false, 0, 8, 0 },
	{ "approx may be NULL", XLB_ALGO_WRR, false, false, true, 4, 8, 4 },
};

static void run_err_case(const struct err_case *c)
{
	static const struct xlb_sched_backend in[4] = {
		{ ID_BASE, 2, true, 1 },
		{ ID_BASE + 1, 2, true, 1 + 1 },
		{ ID_BASE + 2, 2, true, 2 + 1 },
		{ ID_BASE + 3, 2, true, 3 + 1 },
	};
	__u32 slots[8];
	bool approx = true;
	int ret;
	size_t i;

	memset(slots, 0xee, sizeof(slots));
	ret = xlb_sched_build(c->algo, c->null_in ? NULL : in, c->n,
			      c->null_slots ? NULL : slots, c->max_slots,
			      c->null_approx ? NULL : &approx);
	if (ret != c->expect) {
		xtest_fail(c->name, "returned %d, expected %d", ret, c->expect);
		return;
	}
	if (ret < 0) {
		for (i = 0; i < 8; i++) {
			if (slots[i] != 0xeeeeeeee) {
				xtest_fail(c->name, "slot %zu written on error",
					   i);
				return;
			}
		}
	}
	xtest_pass(c->name);
}

/* ------------------------------------------------------------------ */
/* Algorithm names                                                     */
/* ------------------------------------------------------------------ */

struct parse_case {
	const char *s;
	int expect;
	enum xlb_algo algo;
};

static const struct parse_case parse_cases[] = {
	{ "rr", 0, XLB_ALGO_RR },
	{ "wrr", 0, XLB_ALGO_WRR },
	{ "mh", 0, XLB_ALGO_MH },
	{ "MH", -EINVAL, XLB_ALGO_RR },
	{ "sh", -EINVAL, XLB_ALGO_RR },
	{ "RR", -EINVAL, XLB_ALGO_RR },
	{ "Wrr", -EINVAL, XLB_ALGO_RR },
	{ "", -EINVAL, XLB_ALGO_RR },
	{ "r", -EINVAL, XLB_ALGO_RR },
	{ "rrr", -EINVAL, XLB_ALGO_RR },
	{ "wrr ", -EINVAL, XLB_ALGO_RR },
	{ " rr", -EINVAL, XLB_ALGO_RR },
	{ "lc", -EINVAL, XLB_ALGO_RR },
	{ "wlc", 0, XLB_ALGO_WLC },
	{ "WLC", -EINVAL, XLB_ALGO_RR },
	{ "unknown", -EINVAL, XLB_ALGO_RR },
	{ NULL, -EINVAL, XLB_ALGO_RR },
};

static void test_algo_parse(void)
{
	const char *name = "algo parse: rr, wrr, mh, wlc; others rejected";
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		enum xlb_algo algo = (enum xlb_algo)99;
		int ret = xlb_algo_parse(c->s, &algo);

		if (ret != c->expect || (!ret && algo != c->algo) ||
		    (ret && algo != (enum xlb_algo)99)) {
			xtest_fail(name,
				   "\"%s\": %d algo %d, expected %d algo %d",
				   c->s ? c->s : "(null)", ret, algo, c->expect,
				   c->expect ? 99 : c->algo);
			return;
		}
	}
	if (xlb_algo_parse("rr", NULL) != -EINVAL) {
		xtest_fail(name, "NULL output accepted");
		return;
	}
	xtest_pass(name);
}

static void test_algo_names(void)
{
	static const enum xlb_algo algos[] = { XLB_ALGO_RR, XLB_ALGO_WRR,
					       XLB_ALGO_MH, XLB_ALGO_WLC };
	const char *name = "algo name: round trip, unknown value";
	const char *s;
	size_t i;

	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
		enum xlb_algo back;

		s = xlb_algo_name(algos[i]);
		if (!s || xlb_algo_parse(s, &back) || back != algos[i]) {
			xtest_fail(name, "algo %d: name \"%s\" not parsed back",
				   algos[i], s ? s : "(null)");
			return;
		}
	}
	s = xlb_algo_name((enum xlb_algo)42);
	if (!s || strcmp(s, "unknown")) {
		xtest_fail(name, "algo 42: name \"%s\", expected \"unknown\"",
			   s ? s : "(null)");
		return;
	}
	xtest_pass(name);
}

/* xlb_sched_wlc(): weights, connections held, the table weights. */
struct wlc_case {
	const char *name;
	size_t n;
	__u32 w[4];
	__u64 c[4];
	__u32 expect[4];
};

/* Shares: level * w - c of pour = max(sum c, backends); table weights
 * share / pour * T rounded, T = W * ceil(4096 / W), W the weights' sum. */
static const struct wlc_case wlc_cases[] = {
	{ "wlc no connections: as the weights (1:1)", 2, { 1, 1 }, { 0, 0 },
	  { 2048, 2048 } },
	{ "wlc no connections: as the weights (3:1)", 2, { 3, 1 }, { 0, 0 },
	  { 3072, 1024 } },
	{ "wlc no connections: as the weights (65535:1, exactly)", 2,
	  { 65535, 1 }, { 0, 0 }, { 65535, 1 } },
	{ "wlc 6 held by one, none by the other: all to the other", 2,
	  { 1, 1 }, { 6, 0 }, { 0, 4096 } },
	{ "wlc 6 and 2: 8 poured, 2 and 6 (both at 8)", 2, { 1, 1 },
	  { 6, 2 }, { 1024, 3072 } },
	{ "wlc weights count: 2,1 holding 4,0 end at 8/3 each", 2, { 2, 1 },
	  { 4, 0 }, { 1366, 2732 } },
	{ "wlc 9, 1, 2: the one above the level (7.5) gets none", 3,
	  { 1, 1, 1 }, { 9, 1, 2 }, { 0, 2220, 1878 } },
	{ "wlc weight 0 (down, drained) gets none, counts nothing", 3,
	  { 0, 1, 1 }, { 100, 3, 1 }, { 0, 1024, 3072 } },
	{ "wlc nothing scheduled: all 0", 2, { 0, 0 }, { 5, 0 }, { 0, 0 } },
	{ "wlc equal load: as the weights", 3, { 1, 2, 5 }, { 10, 20, 50 },
	  { 512, 1024, 2560 } },
};

static void run_wlc_case(const struct wlc_case *c)
{
	__u32 out[4] = { 7, 7, 7, 7 }, w[4];
	int rc = xlb_sched_wlc(c->w, c->c, c->n, out);

	if (rc) {
		xtest_fail(c->name, "returned %d", rc);
		return;
	}
	for (size_t i = 0; i < c->n; i++)
		if (out[i] != c->expect[i]) {
			xtest_fail(c->name, "backend %zu: %u, expected %u", i,
				   out[i], c->expect[i]);
			return;
		}
	/* in place: out may be the weights */
	memcpy(w, c->w, sizeof(w));
	rc = xlb_sched_wlc(w, c->c, c->n, w);
	if (rc || memcmp(w, out, c->n * sizeof(*w))) {
		xtest_fail(c->name, "in place: %d, or other weights", rc);
		return;
	}
	xtest_pass(c->name);
}

/*
 * Random weights (1 to 65,535, some 0) and loads: every backend given a
 * share holds fewer connections per weight than every scheduled one
 * given none; pouring the shares brings those given one to one level
 * (within the rounding: a table weight is share / pour * T to within a
 * half, T = W * ceil(4096 / W)); the weights sum to T to within one per
 * backend; no backend of weight 0 gets one.  With no connections, the
 * table weights are the weights times T / W, exactly.
 */
static void test_wlc_random(void)
{
	const char *name = "wlc random sets: one level, lowest first";
	static __u32 w[256], out[256];
	static __u64 c[256];

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)rng_range(1, round % 2 ? 256 : 8);
		double lo_none = 1e300, hi_given = 0, pour = 0, total;
		double level_lo = 1e300, level_hi = 0;
		__u64 sum = 0, wall = 0;
		bool idle = round % 5 == 0, capped = false;
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			w[i] = rng_next() % 4 ? (__u32)rng_range(1, round % 3 ? 100 : 65535) : 0;
			c[i] = !idle && rng_next() % 3 ? rng_range(0, 99999) : 0;
			if (w[i]) {
				pour += (double)c[i];
				wall += w[i];
				m++;
			}
		}
		if (pour < (double)m)
			pour = (double)m;
		total = wall ? (double)wall * ((4096 + wall - 1) / wall) : 0;
		if (xlb_sched_wlc(w, c, n, out)) {
			xtest_fail(name, "round %d: error", round);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			double r = w[i] ? (double)c[i] / w[i] : 0;

			sum += out[i];
			capped |= out[i] == 65535;
			if (!w[i] && out[i]) {
				xtest_fail(name, "round %d: weight 0 got %u",
					   round, out[i]);
				return;
			}
			if (idle && w[i] && wall <= 65535 &&
			    (__u64)out[i] * wall != (__u64)w[i] * (__u64)total) {
				xtest_fail(name, "round %d: no connections, "
					   "weight %u of %llu gave %u of %.0f",
					   round, w[i], (unsigned long long)wall,
					   out[i], total);
				return;
			}
			if (!w[i])
				continue;
			if (out[i]) {
				/* connections per weight once its share is
				 * in: out / T of pour, to within a half */
				double lvl = (c[i] + out[i] * pour / total) / w[i];

				hi_given = r > hi_given ? r : hi_given;
				level_lo = lvl < level_lo ? lvl : level_lo;
				level_hi = lvl > level_hi ? lvl : level_hi;
			} else if (r < lo_none) {
				lo_none = r;
			}
		}
		if (m && !capped &&
		    (hi_given > lo_none || sum > total + m || sum + m < total ||
		     level_hi - level_lo > pour / total + 1e-9)) {
			xtest_fail(name, "round %d (%zu backends): given up to "
				   "%.3f, none from %.3f; sum %llu of %.0f; "
				   "levels %.3f..%.3f",
				   round, n, hi_given, lo_none,
				   (unsigned long long)sum, total, level_lo,
				   level_hi);
			return;
		}
	}
	if (xlb_sched_wlc(NULL, c, 1, out) != -EINVAL ||
	    xlb_sched_wlc(w, c, 0, out) != 0) {
		xtest_fail(name, "NULL weights accepted, or n 0 refused");
		return;
	}
	xtest_pass(name);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++)
		run_seq_case(&seq_cases[i]);
	test_random_sets();
	test_heavy_and_light();
	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++)
		run_limit_case(&limit_cases[i]);
	test_distinct_weights();
	test_rr_cap();
	test_mh_shares();
	test_mh_disruption();
	test_mh_ident();
	for (i = 0; i < sizeof(mh_cases) / sizeof(mh_cases[0]); i++)
		run_mh_case(&mh_cases[i]);
	test_mh_build_time();
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		run_err_case(&err_cases[i]);
	for (i = 0; i < sizeof(wlc_cases) / sizeof(wlc_cases[0]); i++)
		run_wlc_case(&wlc_cases[i]);
	test_wlc_random();
	test_algo_parse();
	test_algo_names();
	return xtest_done();
}
