// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Verifier headroom: the kernel explores at most 1,000,000 instructions
 * per program load, and how many it explores depends on the compiler's
 * code as much as on ours (a loop of 16 NAT port probes multiplies every
 * branch inside it).  A change that inlined one more function into that
 * loop once took the count from 185k to 479k, and a one-line variant of
 * it past the limit, which only shows as "program too large" at load
 * time.  This test loads the data-path program with the verifier's
 * statistics on and requires the count to stay under 40% of the limit,
 * so that a different clang has room too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "xlb.skel.h"
#include "xtest.h"

#define VERIFIER_LIMIT 1000000ul
#define HEADROOM_MAX (VERIFIER_LIMIT * 40 / 100)
#define LOG_BYTES (1u << 20)
#define LOG_STATS 4 /* BPF_LOG_STATS: the summary lines only */

/* "processed N insns" of the verifier's log, or 0 if absent. */
static unsigned long processed_insns(const char *log)
{
	const char *p = strstr(log, "processed ");

	return p ? strtoul(p + strlen("processed "), NULL, 10) : 0;
}

static void check_program(struct bpf_program *prog, const char *name,
			  const char *log)
{
	unsigned long n = processed_insns(log);

	if (!n) {
		xtest_fail(name, "no 'processed N insns' line in the verifier "
			   "log of %s", bpf_program__name(prog));
		return;
	}
	if (n > HEADROOM_MAX) {
		xtest_fail(name, "the verifier explored %lu instructions of "
			   "%s, more than %lu (40%% of its limit): move the "
			   "branchy part of the new code into a __noinline "
			   "function", n, bpf_program__name(prog),
			   HEADROOM_MAX);
		return;
	}
	printf("  %s: %lu instructions explored (%.0f%% of the limit)\n",
	       bpf_program__name(prog), n, 100.0 * n / VERIFIER_LIMIT);
	xtest_pass(name);
}

int main(void)
{
	char *log = calloc(1, LOG_BYTES);
	struct xlb *skel;
	int err;

	if (!log)
		return 1;
	skel = xlb__open();
	if (!skel) {
		xtest_fail("verifier_load", "opening the skeleton: %s",
			   strerror(errno));
		return xtest_done();
	}
	/* small tables: the verifier does not depend on their sizes */
	bpf_map__set_max_entries(skel->maps.xlb_flows, 2048);
	bpf_map__set_max_entries(skel->maps.xlb_embryos, 2048);
	bpf_program__set_log_level(skel->progs.xlb_xdp, LOG_STATS);
	bpf_program__set_log_buf(skel->progs.xlb_xdp, log, LOG_BYTES);
	err = xlb__load(skel);
	if (err)
		xtest_fail("verifier_load", "loading the program: %s "
			   "(verifier log: %.300s)", strerror(-err), log);
	else
		check_program(skel->progs.xlb_xdp, "verifier_headroom_xlb_xdp",
			      log);
	xlb__destroy(skel);
	free(log);
	return xtest_done();
}
