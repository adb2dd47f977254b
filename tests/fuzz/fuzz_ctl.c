// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the daemon's side of the control channel
 * (src/ctl.c, xlb_ctl_read_request: a 32-bit length, then NUL-terminated
 * strings), fed from a socket pair as a client would write it.
 * Properties: on success argc is 1..XLB_CTL_MAX_ARGS and the strings lie
 * inside the announced length.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ctl.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], argc = -1, rc;
	char **argv = NULL;
	size_t total = 0;

	if (size > 60000) /* one socket buffer: no writer thread needed */
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		abort();
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	close(sv[1]);
	rc = xlb_ctl_read_request(sv[0], &argc, &argv);
	close(sv[0]);
	if (rc)
		return 0;
	FZ_ASSERT(argc >= 1 && argc <= XLB_CTL_MAX_ARGS, "argc %d", argc);
	for (int i = 0; i < argc; i++)
		total += strlen(argv[i]) + 1;
	FZ_ASSERT(total + 4 <= size, "strings past the request (%zu > %zu)",
		  total + 4, size);
	free(argv);
	return 0;
}
