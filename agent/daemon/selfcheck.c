/*
 * Host self-check.  Each check exercises the real facility the daemon uses
 * (a shared memfd mapping as QEMU hands over guest memory, fd passing over a
 * unix socket as vhost-user does, eventfds as kick/call, a socket in the
 * runtime directory), so a failure here names the thing that would break a
 * port later, with the errno.
 */
#include "agent/daemon/selfcheck.h"
#include "agent/common/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct check {
	const char *name;
	int (*fn)(const char *runtime_dir, char *why, size_t len);
};

static int check_memfd_shared(const char *rd, char *why, size_t len)
{
	const size_t sz = 2u << 20;
	uint8_t *a = MAP_FAILED, *b = MAP_FAILED;
	int fd, r = 0;

	(void)rd;
	fd = memfd_create("vdpa-selfcheck", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "memfd_create: %s", strerror(errno));
		return -errno;
	}
	if (ftruncate(fd, (off_t)sz) < 0) {
		r = -errno;
		snprintf(why, len, "ftruncate: %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		r = -errno;
		snprintf(why, len, "mmap MAP_SHARED: %s", strerror(errno));
		goto out;
	}
	a[sz - 1] = 0x5a;
	if (b[sz - 1] != 0x5a) {
		r = -EIO;
		snprintf(why, len, "two shared mappings of one memfd disagree");
	}
out:
	if (a != MAP_FAILED)
		munmap(a, sz);
	if (b != MAP_FAILED)
		munmap(b, sz);
	close(fd);
	return r;
}

static int check_fd_passing(const char *rd, char *why, size_t len)
{
	int sv[2], efd, got = -1, r = 0;
	char byte = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	uint64_t v = 1;

	(void)rd;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, len, "socketpair: %s", strerror(errno));
		return -errno;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		r = -errno;
		snprintf(why, len, "eventfd: %s", strerror(errno));
		goto out;
	}
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &efd, sizeof(int));
	if (sendmsg(sv[0], &mh, MSG_NOSIGNAL) != 1) {
		r = -errno;
		snprintf(why, len, "sendmsg SCM_RIGHTS: %s", strerror(errno));
		goto out;
	}
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC) != 1 || !(cm = CMSG_FIRSTHDR(&mh)) ||
	    cm->cmsg_type != SCM_RIGHTS) {
		r = -EIO;
		snprintf(why, len, "recvmsg did not deliver the fd");
		goto out;
	}
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	/* The received fd must be the same eventfd: a write on it is seen on ours. */
	if (write(got, &v, sizeof(v)) != sizeof(v) || read(efd, &v, sizeof(v)) != sizeof(v)) {
		r = -EIO;
		snprintf(why, len, "passed eventfd does not signal the original");
	}
out:
	if (got >= 0)
		close(got);
	if (efd >= 0)
		close(efd);
	close(sv[0]);
	close(sv[1]);
	return r;
}

static int check_runtime_dir(const char *rd, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r = 0;

	if (stat(rd, &st) < 0) {
		snprintf(why, len, "%s: %s (the daemon creates it when run with the right to)", rd,
			 strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s: not a directory", rd);
		return -ENOTDIR;
	}
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.selfcheck-%d.sock", rd,
			     (int)getpid()) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "%s: too long for a unix socket path", rd);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -errno;
	}
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		r = -errno;
		snprintf(why, len, "bind %s: %s", sa.sun_path, strerror(errno));
	}
	unlink(sa.sun_path);
	close(fd);
	return r;
}

static const struct check checks[] = {
	{ "shared memfd mappings (guest memory)", check_memfd_shared },
	{ "fd passing over unix sockets (vhost-user)", check_fd_passing },
	{ "runtime directory accepts sockets", check_runtime_dir },
};

int selfcheck_run(FILE *out, const char *runtime_dir)
{
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		char why[256] = "";
		int r = checks[i].fn(runtime_dir, why, sizeof(why));

		fprintf(out, "%-4s %s%s%s\n", r < 0 ? "FAIL" : "ok", checks[i].name,
			r < 0 ? ": " : "", r < 0 ? why : "");
		if (r < 0)
			failures++;
	}
	return failures;
}
