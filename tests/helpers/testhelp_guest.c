// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest memory for the unit tests that play a virtio driver (the
 * virtqueue and virtio-net tests): memfd-backed regions added the way the
 * vhost-user SET_MEM_TABLE handler adds them.
 */
#include "tests/helpers/testhelp.h"

#include "agent/datapath/guest_mem.h"

int th_guest_region(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr)
{
	int fd = th_memfd("guest", size);

	if (fd < 0)
		return fd;
	return guest_mem_add(m, gpa, size, uaddr, 0, &fd);	/* takes fd either way */
}
