/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by the unit tests (every .c in tests/helpers/ is linked
 * into every unit test).  Names start with th_; keep each helper tiny.
 */
#ifndef VDPA_TESTS_TESTHELP_H
#define VDPA_TESTS_TESTHELP_H

#include <stdbool.h>
#include <stdint.h>

/* Open fds of this process (entries of /proc/self/fd), or -errno. */
int th_count_fds(void);

/* A memfd (O_CLOEXEC) of size bytes, or -errno. */
int th_memfd(const char *name, uint64_t size);

/* Whether fd is an open descriptor. */
bool th_fd_is_open(int fd);

struct guest_mem;

/*
 * Adds a guest memory region of size bytes at gpa (front-end address
 * uaddr) backed by a fresh memfd, as SET_MEM_TABLE would: 0 or -errno.
 */
int th_guest_region(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr);

#endif
