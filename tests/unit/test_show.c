// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb show (src/show.c): the connections per backend that the daemon's
 * last sweep counted, on each backend line of the text and as
 * "active_conns" / "inactive_conns" in the JSON (null, and nothing in
 * the text, when they are unknown: no daemon, or no sweep yet); for algo
 * wlc, each backend's share of new connections.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "show.h"
#include "xtest.h"

/* 198.51.100.10:8000/tcp with backends 198.51.100.11:8000 (id 3) and
 * 198.51.100.12:8000 (id 4); 0 or -1. */
static int two_backends(struct xlb_config *c)
{
	struct xlb_endpoint vip = { .family = XLB_FAMILY_V4, .port = 8000 };
	struct xlb_endpoint be = vip;
	struct xlb_config_service *svc;
	struct xlb_config_backend *b;

	xlb_config_init(c);
	inet_pton(AF_INET, "198.51.100.10", &vip.addr.ip4);
	svc = xlb_config_service_add(c, &vip, IPPROTO_TCP);
	if (!svc)
		return -1;
	svc->id = 0;
	for (__u32 id = 3; id <= 4; id++) {
		inet_pton(AF_INET, id == 3 ? "198.51.100.11" : "198.51.100.12",
			  &be.addr.ip4);
		b = xlb_config_backend_add(svc, &be, 1);
		if (!b)
			return -1;
		b->id = id;
	}
	return 0;
}

/* The text (json: the JSON) of xlb show for s, malloc()ed. */
static char *render(const struct xlb_show *s, bool json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (json)
		xlb_show_json(s, f);
	else
		xlb_show_text(s, f);
	fclose(f);
	return text;
}

static void check(const char *name, const char *got, const char *const *want,
		  const char *const *unwanted)
{
	for (; want && *want; want++)
		if (!got || !strstr(got, *want)) {
			xtest_fail(name, "no \"%s\" in: %s", *want,
				   got ? got : "(nothing)");
			return;
		}
	for (; unwanted && *unwanted; unwanted++)
		if (strstr(got, *unwanted)) {
			xtest_fail(name, "\"%s\" in: %s", *unwanted, got);
			return;
		}
	xtest_pass(name);
}

/* Render s as text and as JSON, and check each (render()'s output). */
static void check_both(const struct xlb_show *s, const char *text_name,
		       const char *const *text_want,
		       const char *const *text_unwanted, const char *json_name,
		       const char *const *json_want)
{
	char *text = render(s, false), *json = render(s, true);

	check(text_name, text, text_want, text_unwanted);
	check(json_name, json, json_want, NULL);
	free(text);
	free(json);
}

static void test_show_conns(void)
{
	static const char *const text_want[] = {
		"  backend 3 198.51.100.11:8000 weight 1 up  conns 2 active "
		"1 inactive\n",
		"  backend 4 198.51.100.12:8000 weight 1 up  conns 0 active "
		"5 inactive\n",
		NULL
	};
	static const char *const json_want[] = {
		"\"id\":3,\"addr\":\"198.51.100.11:8000\"",
		"\"state\":\"up\",\"active_conns\":2,\"inactive_conns\":1,",
		"\"state\":\"up\",\"active_conns\":0,\"inactive_conns\":5,",
		NULL
	};
	static const char *const text_unknown[] = { "conns", NULL };
	static const char *const json_unknown[] = {
		"\"state\":\"up\",\"active_conns\":null,"
		"\"inactive_conns\":null,",
		NULL
	};
	struct xlb_backend_conns *conns;
	struct xlb_config c;
	struct xlb_show s = { .ifname = "t", .pid = 1, .now_ns = 1 };

	conns = calloc(XLB_MAX_BACKENDS, sizeof(*conns));
	if (!conns || two_backends(&c)) {
		xtest_fail("show_backend_conns_text", "setup: %s",
			   strerror(errno));
		free(conns);
		return;
	}
	conns[3] = (struct xlb_backend_conns){ .active = 2, .inactive = 1 };
	conns[4] = (struct xlb_backend_conns){ .active = 0, .inactive = 5 };
	conns[5] = (struct xlb_backend_conns){ .active = 9, .inactive = 9 };
	s.c = &c;
	s.conns = conns;
	check_both(&s, "show_backend_conns_text", text_want, NULL,
		   "show_backend_conns_json", json_want);
	/* unknown: not in the text, null in the JSON */
	s.conns = NULL;
	check_both(&s, "show_backend_conns_unknown_text", NULL, text_unknown,
		   "show_backend_conns_unknown_json", json_unknown);
	free(conns);
	xlb_config_free(&c);
}

/*
 * algo wlc: each backend's share of new connections, from the weights
 * its table gets for the connections shown (xlb_sched_wlc: 3 and 5
 * held, weights 1: 8 poured, 5 and 3 of them: 2560 and 1536 of 4096);
 * a backend down gets none.  Not shown without counts, nor for rr.
 */
static void test_show_wlc(void)
{
	static const char *const text_want[] = {
		"  backend 3 198.51.100.11:8000 weight 1 (wlc: 63% of new) up  "
		"conns 2 active 1 inactive\n",
		"  backend 4 198.51.100.12:8000 weight 1 (wlc: 38% of new) up  "
		"conns 0 active 5 inactive\n",
		NULL
	};
	static const char *const json_want[] = {
		"\"inactive_conns\":1,\"wlc_share_pct\":63,",
		"\"inactive_conns\":5,\"wlc_share_pct\":38,",
		NULL
	};
	static const char *const down_want[] = {
		"weight 1 (wlc: 100% of new) up", "weight 1 (wlc: 0% of new) down",
		NULL
	};
	static const char *const text_none[] = { "(wlc:", NULL };
	static const char *const json_none[] = { "\"wlc_share_pct\":null,",
						 NULL };
	struct xlb_backend_conns *conns;
	struct xlb_config c;
	struct xlb_show s = { .ifname = "t", .pid = 1, .now_ns = 1 };
	char *text;

	conns = calloc(XLB_MAX_BACKENDS, sizeof(*conns));
	if (!conns || two_backends(&c)) {
		xtest_fail("show_wlc_share_text", "setup: %s", strerror(errno));
		free(conns);
		return;
	}
	conns[3] = (struct xlb_backend_conns){ .active = 2, .inactive = 1 };
	conns[4] = (struct xlb_backend_conns){ .active = 0, .inactive = 5 };
	c.svcs[0].algo = XLB_ALGO_WLC;
	s.c = &c;
	s.conns = conns;
	check_both(&s, "show_wlc_share_text", text_want, NULL,
		   "show_wlc_share_json", json_want);
	c.svcs[0].backends[1].down = true;
	text = render(&s, false);
	check("show_wlc_share_down_gets_none", text, down_want, NULL);
	free(text);
	c.svcs[0].backends[1].down = false;
	/* no counts: no share */
	s.conns = NULL;
	check_both(&s, "show_wlc_share_unknown_text", NULL, text_none,
		   "show_wlc_share_unknown_json", json_none);
	/* rr: no share */
	s.conns = conns;
	c.svcs[0].algo = XLB_ALGO_RR;
	check_both(&s, "show_wlc_share_not_for_rr_text", NULL, text_none,
		   "show_wlc_share_not_for_rr_json", json_none);
	free(conns);
	xlb_config_free(&c);
}

int main(void)
{
	test_show_conns();
	test_show_wlc();
	return xtest_done();
}
