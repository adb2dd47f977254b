// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Control channel (see ctl.h). */
#define _GNU_SOURCE /* accept4, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conntrack.h"
#include "ctl.h"
#include "maps.h"

int xlb_run_path(const char *ifname, const char *ext, char *buf, size_t len)
{
	char suffix[32];
	int n;

	xlb_instance_suffix(ifname, suffix, sizeof(suffix));
	n = snprintf(buf, len, "%s/%s%s%s", XLB_RUN_DIR, ifname, suffix, ext);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int run_dir(void)
{
	struct stat st;

	if (mkdir(XLB_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (stat(XLB_RUN_DIR, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	/* whoever made it, only its owner gets in */
	if ((st.st_mode & 0777) != 0700 && chmod(XLB_RUN_DIR, 0700))
		return -errno;
	return 0;
}

static pid_t read_pid(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? (pid_t)atol(buf) : 0;
}

int xlb_lock_take(const char *path, int *fd_out, pid_t *holder)
{
	char buf[32];
	int fd, err = run_dir(), n;

	*holder = 0;
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		*holder = read_pid(fd);
		close(fd);
		return err;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n) {
		err = -errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

pid_t xlb_lock_holder(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK)
		pid = read_pid(fd);
	close(fd);
	return pid;
}

static int sun_of(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int xlb_ctl_listen(const char *path, int *fd_out)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, err;

	err = run_dir();
	if (!err)
		err = sun_of(path, &sun);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* the caller holds the instance lock: a socket left there is stale */
	unlink(path);
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(fd, 16))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

int xlb_ctl_accept(int listen_fd, int *fd_out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		err = -errno;
	else if (cred.uid != geteuid())
		err = -EPERM;
	else
		err = 0;
	if (err) {
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

/* The deadline of an exchange that may take at most ms from now. */
static __u64 deadline_in(int ms)
{
	return xlb_now_ns() + (__u64)ms * 1000000;
}

/* Wait until fd is ready for events, until deadline_ns at the latest:
 * 0, -ETIMEDOUT or -errno.  A deadline per exchange, not per read: a
 * peer that trickles bytes cannot hold the daemon's loop for longer. */
static int wait_ready(int fd, short events, __u64 deadline_ns)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		__u64 now = xlb_now_ns();
		int n;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
		if (n > 0)
			return 0; /* ready, or an error the call reports */
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int read_all(int fd, void *buf, size_t len, __u64 deadline_ns)
{
	char *p = buf;

	while (len) {
		int err = wait_ready(fd, POLLIN, deadline_ns);
		ssize_t n;

		if (err)
			return err;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, __u64 deadline_ns)
{
	const char *p = buf;

	while (len) {
		int err = wait_ready(fd, POLLOUT, deadline_ns);
		ssize_t n;

		if (err)
			return err;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int xlb_ctl_read_request(int fd, int *argc_out, char ***argv_out)
{
	__u64 deadline = deadline_in(XLB_CTL_IO_TIMEOUT_MS);
	__u32 len;
	char *buf, **argv;
	int argc = 0, err;

	err = read_all(fd, &len, sizeof(len), deadline);
	if (err)
		return err;
	if (!len || len > XLB_CTL_MAX_REQUEST)
		return -EMSGSIZE;
	/* argv pointers and the strings in one allocation */
	argv = calloc(1, (XLB_CTL_MAX_ARGS + 1) * sizeof(char *) + len + 1);
	if (!argv)
		return -ENOMEM;
	buf = (char *)(argv + XLB_CTL_MAX_ARGS + 1);
	err = read_all(fd, buf, len, deadline);
	if (!err && buf[len - 1] != 0)
		err = -EBADMSG;
	for (__u32 off = 0; !err && off < len; off += strlen(buf + off) + 1) {
		if (argc == XLB_CTL_MAX_ARGS) {
			err = -E2BIG;
			break;
		}
		argv[argc++] = buf + off;
	}
	if (err) {
		free(argv);
		return err;
	}
	*argc_out = argc;
	*argv_out = argv;
	return 0;
}

int xlb_ctl_write_reply(int fd, int rc, const char *out, size_t out_len,
			const char *err, size_t err_len)
{
	/* 2 s, plus 1 ms per 64 KiB (a reply of a big table: up to
	 * XLB_CTL_MAX_REPLY) */
	__u64 deadline = deadline_in(XLB_CTL_IO_TIMEOUT_MS +
				     (int)((out_len + err_len) / (64u << 10)));
	__u32 hdr[3] = { rc, out_len, err_len };
	int e = write_all(fd, hdr, sizeof(hdr), deadline);

	if (!e && out_len)
		e = write_all(fd, out, out_len, deadline);
	if (!e && err_len)
		e = write_all(fd, err, err_len, deadline);
	return e;
}

static int read_str(int fd, __u32 len, char **s, __u64 deadline_ns)
{
	int err;

	*s = malloc(len + 1);
	if (!*s)
		return -ENOMEM;
	err = read_all(fd, *s, len, deadline_ns);
	(*s)[len] = 0;
	return err;
}

int xlb_ctl_call(const char *path, int argc, char *const *argv,
		 int timeout_ms, int *rc, char **out, char **err_out)
{
	__u64 deadline = deadline_in(timeout_ms);
	struct sockaddr_un sun;
	__u32 len = 0, hdr[3];
	char *req, *p;
	int fd, err;

	*out = *err_out = NULL;
	err = sun_of(path, &sun);
	if (err)
		return err;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!len || len > XLB_CTL_MAX_REQUEST || argc > XLB_CTL_MAX_ARGS)
		return -EMSGSIZE;
	req = malloc(sizeof(len) + len);
	if (!req)
		return -ENOMEM;
	memcpy(req, &len, sizeof(len));
	p = req + sizeof(len);
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(p, argv[i], n);
		p += n;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* (SO_SNDTIMEO bounds connect() to a full backlog) */
	err = set_timeouts(fd, timeout_ms);
	if (!err && connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		err = -errno;
	if (!err)
		err = write_all(fd, req, sizeof(len) + len, deadline);
	if (!err)
		err = read_all(fd, hdr, sizeof(hdr), deadline);
	if (!err && (hdr[1] > XLB_CTL_MAX_REPLY || hdr[2] > XLB_CTL_MAX_REPLY))
		err = -EMSGSIZE;
	if (!err)
		err = read_str(fd, hdr[1], out, deadline);
	if (!err)
		err = read_str(fd, hdr[2], err_out, deadline);
	if (!err)
		*rc = (int)hdr[0];
	close(fd);
out:
	free(req);
	if (err) {
		free(*out);
		free(*err_out);
		*out = *err_out = NULL;
	}
	return err;
}
