/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The discovery answers of a healthy vhost-vfio device, for the fake
 * devices of the tests: the unit test of the accelerated engine
 * (tests/unit/test_engine_accel.c) and the hostile device
 * (tests/tools/hostiledev.c) before it misbehaves.  Both must present the
 * layout of protocol/vhost_vfio.h the way vdpa-simd does, so the answers are
 * written once.
 *
 * Header-only (static inline) on purpose: hostiledev is built on its own by
 * tests/integration/agent.sh from its one .c against libprotocol.a and
 * libdirtylog.a only, so it cannot link a .c of tests/helpers/ (which the
 * unit tests link with cmocka); a header it can include.
 */
#ifndef VDPA_TESTS_TESTHELP_VFUDEV_H
#define VDPA_TESTS_TESTHELP_VFUDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/vfio_user.h"
#include "protocol/vhost_vfio.h"

/*
 * Fills rep (from vfu_reply_init(rep, m)) with a healthy device's answer
 * to m if m is one of the discovery commands and returns true; returns
 * false, rep untouched, for any other command.  The device: vfio-user 0.1;
 * two regions, the mailbox of mailbox_size bytes and the notify area of
 * rings * VV_NOTIFY_STRIDE, both read-write; one irq index of one eventfd
 * vector per ring; one doorbell ioeventfd per ring in the notify area,
 * bells[0..rings), attached to rep (the kernel sends copies: they stay the
 * caller's).  As vdpa-simd does, the mailbox has no doorbells, and a client
 * buffer too small for them gets the count alone.
 */
static inline bool th_vfu_discovery_reply(const struct vfu_msg *m, unsigned rings,
					  const int *bells, uint64_t mailbox_size,
					  struct vfu_msg *rep)
{
	switch (m->command) {
	case VFU_CMD_VERSION:
		rep->u.version.major = 0;
		rep->u.version.minor = 1;
		return true;
	case VFU_CMD_DEVICE_GET_INFO:
		rep->u.device_info.argsz = sizeof(struct vfu_wire_device_info);
		rep->u.device_info.num_regions = 2;
		rep->u.device_info.num_irqs = 1;
		return true;
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		rep->u.region_info.argsz = sizeof(struct vfu_wire_region_info);
		rep->u.region_info.index = m->u.region_info.index;
		rep->u.region_info.flags = VFU_REGION_READ | VFU_REGION_WRITE;
		rep->u.region_info.size = m->u.region_info.index == VV_REGION_MAILBOX ?
					  mailbox_size : (uint64_t)rings * VV_NOTIFY_STRIDE;
		return true;
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		rep->u.irq_info.argsz = sizeof(struct vfu_wire_irq_info);
		rep->u.irq_info.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_NORESIZE;
		rep->u.irq_info.index = m->u.irq_info.index;
		rep->u.irq_info.count = rings;
		return true;
	case VFU_CMD_DEVICE_GET_REGION_IO_FDS:
		rep->u.io_fds.index = m->u.io_fds.index;
		if (m->u.io_fds.index != VV_REGION_NOTIFY)
			return true;
		rep->u.io_fds.count = rings;
		if (m->u.io_fds.argsz < sizeof(struct vfu_wire_io_fds) +
					rings * sizeof(struct vfu_wire_sub_region))
			return true;
		for (unsigned i = 0; i < rings; i++) {
			rep->u.io_fds.sub[i] = (struct vfu_sub_region){
				.offset = (uint64_t)i * VV_NOTIFY_STRIDE,
				.size = 8,
				.fd_index = i,
				.type = VFU_SUB_IOEVENTFD,
			};
			rep->fds[i] = bells[i];
		}
		rep->u.io_fds.nsub = rings;
		rep->nfds = rings;
		return true;
	default:
		return false;
	}
}

#endif
