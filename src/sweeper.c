// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "bitmap.h"
#include "cli.h"
#include "maps.h"
#include "sweeper.h"
#include "txn.h"

struct xlb_sweeper {
	const struct xlb_maps *m;
	pthread_t thread;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* stop, flush_now */
	struct xlb_timeouts t;
	struct xlb_sweep_stats st;
	/* connections per backend id (XLB_MAX_BACKENDS each): the last
	 * sweep's if it succeeded (conns_ok), and the thread's own, which
	 * the sweep under way fills (not under the lock); swapped after a
	 * sweep that succeeded */
	struct xlb_backend_conns *conns, *counting;
	bool conns_ok; /* conns holds the last sweep's counts */
	__u64 flow_capacity; /* xlb_flows' max_entries (0: unknown) */
	__u8 flush[XLB_MAX_SERVICES / 8]; /* services to flush, not yet begun */
	bool flush_now;  /* a flush was asked for: sweep without waiting */
	bool flushing;   /* the sweep under way flushes */
	bool stop; /* also read by the walk, without the lock */
};

/* Wait until deadline (CLOCK_MONOTONIC, ns), a flush or stop; true if
 * stopping.  Called and returns with s->lock held. */
static bool wait_until(struct xlb_sweeper *s, __u64 deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / XLB_NS_PER_SEC,
		.tv_nsec = deadline_ns % XLB_NS_PER_SEC,
	};

	while (!s->stop && !s->flush_now && xlb_now_ns() < deadline_ns)
		if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) ==
		    ETIMEDOUT)
			break;
	return s->stop;
}

/* When the sweep that started at start and took took should be followed
 * by the next one. */
static __u64 next_sweep(const struct xlb_sweeper *s,
			const struct xlb_expire_counts *n, int err,
			__u64 start, __u64 took)
{
	__u64 gap = took * XLB_SWEEP_DUTY;
	bool full = !err && s->flow_capacity &&
		    n->flow_entries * 100 > s->flow_capacity * XLB_SWEEP_FULL_PCT;

	if (full || gap < XLB_SWEEP_INTERVAL_NS)
		gap = XLB_SWEEP_INTERVAL_NS;
	return start + gap;
}

/* Take the services to flush into flush (under s->lock); false if none. */
static bool take_flush(struct xlb_sweeper *s, __u8 *flush)
{
	memcpy(flush, s->flush, sizeof(s->flush));
	memset(s->flush, 0, sizeof(s->flush));
	s->flush_now = false;
	s->flushing = xlb_bits_any(flush, sizeof(s->flush));
	return s->flushing;
}

/* After a sweep that flushed (under s->lock): true if the flush is done;
 * else its services are kept for a sweep soon (no later than the next
 * regular one, and no sooner than this one took: a table that churns
 * faster than it is read must not take a whole core). */
static bool end_flush(struct xlb_sweeper *s, const __u8 *flush, bool ok,
		      __u64 end, __u64 took, __u64 *next)
{
	__u64 retry = end + (took > XLB_SWEEP_INTERVAL_NS ?
				     took : XLB_SWEEP_INTERVAL_NS);

	s->flushing = false;
	if (ok)
		return true;
	xlb_bits_or(s->flush, flush, sizeof(s->flush));
	if (retry < *next)
		*next = retry;
	return false;
}

/* After a sweep that succeeded (under s->lock): its counts per backend
 * are the ones shown; the next sweep fills the previous ones' array. */
static void publish_conns(struct xlb_sweeper *s)
{
	struct xlb_backend_conns *shown = s->counting;

	s->counting = s->conns;
	s->conns = shown;
	s->conns_ok = true;
}

static void *sweep_loop(void *arg)
{
	struct xlb_sweeper *s = arg;
	__u64 next = xlb_now_ns() + XLB_SWEEP_INTERVAL_NS;
	__u64 flushed = 0; /* by the sweeps of the flush under way */

	pthread_mutex_lock(&s->lock);
	while (!wait_until(s, next)) {
		struct xlb_timeouts t = s->t;
		__u8 flush[sizeof(s->flush)];
		struct xlb_sweep_args a = { .t = &t, .cancel = &s->stop,
					    .conns = s->counting };
		struct xlb_expire_counts n;
		__u64 start, took;
		int err, prev = s->st.last_err;
		bool done = false;

		if (take_flush(s, flush))
			a.flush = flush;
		pthread_mutex_unlock(&s->lock);
		start = xlb_now_ns();
		a.now_ns = start;
		err = xlb_conn_expire_all(s->m, &a, &n);
		took = xlb_now_ns() - start;
		next = next_sweep(s, &n, err, start, took);
		if (err && err != -ECANCELED && !prev)
			xlb_errf("connection expiry: a sweep failed: %s (the "
				 "next one in %llu s)", strerror(-err),
				 (unsigned long long)((next - start) /
						      XLB_NS_PER_SEC));
		else if (!err && prev)
			xlb_errf("connection expiry: sweeping again");
		pthread_mutex_lock(&s->lock);
		if (err == -ECANCELED)
			break;
		if (a.flush) {
			flushed += n.flushed;
			done = end_flush(s, flush, !err && !n.incomplete,
					 start + took, took, &next);
		}
		s->st.sweeps++;
		s->st.removed += n.removed;
		s->st.flushed += n.flushed;
		s->st.conns = n.conns;
		s->st.last_ns = took;
		s->st.interval_ns = next - start;
		s->st.last_err = err;
		if (err) {
			s->st.errors++;
			s->conns_ok = false; /* no stale counts */
		} else {
			s->st.flow_entries = n.flow_entries;
			s->st.half_open_entries = n.half_open_entries;
			s->st.counted = true;
			publish_conns(s);
		}
		if (done) {
			/* not under the lock: stdout may block */
			pthread_mutex_unlock(&s->lock);
			xlb_logf("connections of removed services flushed: "
				 "%llu, in a sweep of %.3f s",
				 (unsigned long long)flushed, took / 1e9);
			flushed = 0;
			pthread_mutex_lock(&s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Free s and its arrays. */
static void free_arrays(struct xlb_sweeper *s)
{
	free(s->conns);
	free(s->counting);
	free(s);
}

int xlb_sweeper_start(struct xlb_sweeper **out, const struct xlb_maps *m,
		      const struct xlb_timeouts *t)
{
	struct xlb_sweeper *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->conns = calloc(XLB_MAX_BACKENDS, sizeof(*s->conns));
	s->counting = calloc(XLB_MAX_BACKENDS, sizeof(*s->counting));
	if (!s->conns || !s->counting) {
		free_arrays(s);
		return -ENOMEM;
	}
	s->m = m;
	s->t = *t;
	{
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(m->flows, &info, &len))
			s->flow_capacity = info.max_entries;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* the thread inherits this mask: signals go to the daemon's
	 * thread, whose poll() they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, sweep_loop, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free_arrays(s);
		return -err;
	}
	*out = s;
	return 0;
}

void xlb_sweeper_set_timeouts(struct xlb_sweeper *s,
			      const struct xlb_timeouts *t)
{
	pthread_mutex_lock(&s->lock);
	s->t = *t;
	pthread_mutex_unlock(&s->lock);
}

void xlb_sweeper_stats(struct xlb_sweeper *s, struct xlb_sweep_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

bool xlb_sweeper_conns(struct xlb_sweeper *s, struct xlb_backend_conns *out)
{
	bool counted;

	pthread_mutex_lock(&s->lock);
	counted = s->conns_ok;
	if (counted)
		memcpy(out, s->conns, XLB_MAX_BACKENDS * sizeof(*out));
	pthread_mutex_unlock(&s->lock);
	return counted;
}

void xlb_sweeper_flush(struct xlb_sweeper *s, const __u8 *services)
{
	pthread_mutex_lock(&s->lock);
	xlb_bits_or(s->flush, services, sizeof(s->flush));
	s->flush_now = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

bool xlb_sweeper_flushed(struct xlb_sweeper *s)
{
	bool done;

	pthread_mutex_lock(&s->lock);
	done = !s->flushing && !xlb_bits_any(s->flush, sizeof(s->flush));
	pthread_mutex_unlock(&s->lock);
	return done;
}

void xlb_sweeper_sync(struct xlb_sweeper *s, struct xlb_txn *t)
{
	if (!s || xlb_sweeper_flushed(s))
		xlb_txn_release(t);
	if (s && xlb_bits_any(t->flush, sizeof(t->flush))) {
		xlb_sweeper_flush(s, t->flush);
		memset(t->flush, 0, sizeof(t->flush));
	}
}

int xlb_sweeper_flush_now(const struct xlb_maps *m, struct xlb_txn *t,
			  __u64 *flushed)
{
	struct xlb_sweep_args a = { .now_ns = xlb_now_ns(),
				    .flush = t->flush }; /* no expiry */
	struct xlb_expire_counts n = { 0 };
	int err = 0;

	if (xlb_bits_any(t->flush, sizeof(t->flush))) {
		err = xlb_conn_expire_all(m, &a, &n);
		if (!err && n.incomplete)
			err = -EAGAIN;
	}
	if (flushed)
		*flushed = n.flushed;
	if (err)
		return err;
	memset(t->flush, 0, sizeof(t->flush));
	xlb_txn_release(t);
	return 0;
}

void xlb_sweeper_stop(struct xlb_sweeper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free_arrays(s);
}
