// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fd helpers for the unit tests: counting open fds (leak checks around
 * every malformed-input case) and making memfds to stand in for guest
 * memory, logs and inflight areas.
 */
#include "tests/helpers/testhelp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int th_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* Not counting the directory's own fd, which is gone now. */
	return n - 1;
}

int th_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

bool th_fd_is_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}
