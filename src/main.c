// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb: command dispatch.  Exit codes: 0 ok, 1 runtime error, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef XLB_VERSION
#define XLB_VERSION "0.1.0"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "run", cmd_run, "load, attach and serve (foreground)" },
	{ "stats", cmd_stats, "per-service/backend traffic and every counter" },
	{ "trace", cmd_trace, "a line per new connection, live" },
	{ "conns", cmd_conns, "list tracked connections" },
	{ "service", cmd_ctl, "add, set, del, list services (VIP:PORT/PROTO)" },
	{ "backend", cmd_ctl, "add, set, del, drain, undrain backends" },
	{ "show", cmd_ctl, "services, backends, weights, health, state" },
	{ "save", cmd_ctl, "print the running configuration (file format)" },
	{ "reload", cmd_ctl, "re-read the configuration file (also SIGHUP)" },
	{ "stop", cmd_ctl, "detach the data path and remove its pins" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xlb COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-8s %s\n\n", "version", "print the version");
	fprintf(f, "xlb COMMAND -h shows the options of a command; "
		   "docs/cli.md has the reference.\n");
}

/* A command's output that could not be written (a full disk, /dev/full)
 * is a runtime error, said once here for every command. */
static int output_checked(int rc)
{
	if (fflush(stdout)) {
		xlb_errf("cannot write the output: %s", strerror(errno));
	} else if (ferror(stdout)) {
		/* a line written earlier failed (errno is long gone) */
		xlb_errf("cannot write the output: a write to standard output "
			 "failed");
	} else {
		return rc;
	}
	return rc ? rc : XLB_EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage(stderr);
		return XLB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return output_checked(XLB_EXIT_OK);
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("xlb %s\n", XLB_VERSION);
		return output_checked(XLB_EXIT_OK);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name))
			return output_checked(
				commands[i].fn(argc - 1, argv + 1));
	}
	xlb_errf("unknown command \"%s\" (try xlb help)", argv[1]);
	return XLB_EXIT_USAGE;
}
