// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"

void xlb_errf(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	/* one line, whole: the daemon's expiry thread writes here too */
	flockfile(stderr);
	fputs("xlb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void xlb_warn_lines(const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		int n = nl ? (int)(nl - text) : (int)strlen(text);

		xlb_errf("warning: %.*s", n, text);
		text += n + (nl != NULL);
	}
}

void xlb_logf(const char *fmt, ...)
{
	va_list ap;

	flockfile(stdout);
	fputs("xlb: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
}

/* Add the instance called e (an entry of XLB_RUN_DIR or XLB_PIN_ROOT, with
 * ext after the name) to names if it belongs to this network namespace. */
static void collect(const char *e, const char *ext, const char *suffix,
		    char (*names)[IFNAMSIZ], int *n, int max)
{
	char buf[IFNAMSIZ + 64];
	size_t len = strlen(e), el = strlen(ext);
	char *at;

	if (e[0] == '.' || len <= el || len >= sizeof(buf) ||
	    strcmp(e + len - el, ext))
		return;
	memcpy(buf, e, len - el);
	buf[len - el] = 0;
	at = strchr(buf, '@');
	if (at ? strcmp(at, suffix) : suffix[0] != 0)
		return;
	if (at)
		*at = 0;
	if (strlen(buf) >= IFNAMSIZ)
		return;
	for (int i = 0; i < *n; i++)
		if (!strcmp(names[i], buf))
			return;
	if (*n < max)
		strcpy(names[(*n)++], buf);
}

int xlb_instance_pick(const char *ifname, char *name)
{
	char names[8][IFNAMSIZ], suffix[32];
	const char *dirs[] = { XLB_RUN_DIR, xlb_pin_root() };
	char shown[128];
	const char *exts[] = { ".sock", "" };
	int n = 0;

	if (ifname) {
		if (strlen(ifname) >= IFNAMSIZ) {
			xlb_errf("interface name \"%s\" is too long", ifname);
			return XLB_EXIT_USAGE;
		}
		snprintf(name, IFNAMSIZ, "%s", ifname);
		return 0;
	}
	xlb_netns_suffix(suffix, sizeof(suffix));
	for (int i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d)))
			collect(e->d_name, exts[i], suffix, names, &n, 8);
		if (d)
			closedir(d);
	}
	if (n == 0) {
		xlb_errf("no running instance in this network namespace (no "
			 "daemon socket in %s, nothing pinned in %s): start one "
			 "with xlb run",
			 XLB_RUN_DIR,
			 xlb_pin_shown(dirs[1], shown, sizeof(shown)));
		return XLB_EXIT_RUNTIME;
	}
	if (n > 1) {
		xlb_errf("several instances run (%s, %s%s): name one with -i "
			 "IFACE",
			 names[0], names[1], n > 2 ? ", ..." : "");
		return XLB_EXIT_USAGE;
	}
	snprintf(name, IFNAMSIZ, "%s", names[0]);
	return 0;
}

int xlb_open_instance(const char *ifname, struct xlb_maps *m, char *name)
{
	char dir[512];
	int err;

	if (geteuid() != 0) {
		xlb_errf("must be root: xlb's maps are readable by root only "
			 "(run with sudo)");
		return XLB_EXIT_RUNTIME;
	}
	/* the same instance xlb show/service/backend address */
	err = xlb_instance_pick(ifname, name);
	if (err)
		return err;
	xlb_pin_dir(name, dir, sizeof(dir));
	err = xlb_maps_open_pinned(dir, m);
	/* no pins visible (e.g. ip netns exec's private /sys): find the
	 * maps through the program attached to the interface */
	if (err && if_nametoindex(name))
		err = xlb_maps_open_iface(if_nametoindex(name), m);
	if (err) {
		if (err == -ENOENT && !access(dir, F_OK))
			xlb_errf("the instance pinned in %s lacks maps of this "
				 "version of xlb (another version pinned it): "
				 "xlb run -i %s of this version adopts it",
				 dir, name);
		else if (err == -ENOENT)
			xlb_errf("no instance runs on %s (nothing pinned in "
				 "%s): start one with xlb run -i %s",
				 name, dir, name);
		else
			xlb_errf("cannot open the maps pinned in %s: %s", dir,
				 strerror(-err));
		return XLB_EXIT_RUNTIME;
	}
	return 0;
}

int xlb_view_args_parse(int argc, char **argv, const char *cmd,
			struct xlb_view_args *a)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+i:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a->ifname = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			printf("usage: xlb %s [-i IFACE] [-j]\n", cmd);
			return -1;
		default:
			xlb_errf("%s: unknown option \"%s\" (usage: xlb %s "
				 "[-i IFACE] [-j])",
				 cmd, argv[optind - 1], cmd);
			return XLB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		xlb_errf("%s: unexpected argument \"%s\"", cmd, argv[optind]);
		return XLB_EXIT_USAGE;
	}
	return 0;
}
