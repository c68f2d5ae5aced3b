// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Shadow rings: how an accelerator without a dirty log of its own (a kernel
 * vhost-vdpa device) keeps moving the frames while QEMU logs.  The device
 * is given split rings in the agent's memory (a memfd, DMA-mapped into the
 * device's IOVA space above guest memory) instead of the guest's; a relay
 * moves descriptors between them.  Buffers are not copied: a shadow
 * descriptor is the guest's, the device still DMAs into guest memory.
 *
 *   guest avail -> shadow_forward(): each new chain's descriptors are
 *       copied (validated) into the same slots of the shadow table and its
 *       head published on the shadow avail ring, at the same index
 *   shadow used -> shadow_complete(): for each used element, every
 *       device-writable buffer of its chain (read from the shadow copy,
 *       which the guest cannot change), the guest's used element and then
 *       its used index are marked in QEMU's log, and only then is the
 *       guest's used index published
 *
 * The shadow rings use the guest's indexes, so the device's
 * GET_VRING_BASE after a suspend is the index to hand over, exactly.
 *
 * Trust boundary: the guest's rings (descriptors, indexes) and the device's
 * used ring are untrusted: a chain that loops, leaves guest memory or is
 * too long, or a used element that names a head not in flight, breaks the
 * ring (shadow_broken()), never the agent.
 *
 * One thread at a time per shadow: the engine's relay thread while the
 * device runs, the control thread after it stopped it.
 */
#ifndef VDPA_AGENT_SHADOW_H
#define VDPA_AGENT_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath/guest_mem.h"
#include "dirtylog/dirtylog.h"

#define SHADOW_MAX_RINGS 16

struct shadow;

struct shadow_ring_cfg {
	uint32_t num;			/* power of two, <= 32768 */
	uint64_t desc_gpa, avail_gpa, used_gpa;	/* the guest's rings */
	uint16_t base;			/* next avail index: where both start */
	bool event_idx;			/* the guest negotiated VIRTIO_F_EVENT_IDX */
};

/*
 * Shadow rings for nrings rings (cfg[i].num == 0: ring i unused), placed
 * at IOVA iova in the device's space.  The memory is a memfd: map it for
 * the device with shadow_fd(), offset 0, shadow_size() bytes.
 */
int shadow_new(const struct shadow_ring_cfg *cfg, unsigned nrings, uint64_t iova,
	       struct shadow **ret);
void shadow_free(struct shadow *s);
int shadow_fd(const struct shadow *s);
uint64_t shadow_size(const struct shadow *s);
/* The device's ring addresses (IOVAs) for ring i. */
void shadow_ring_iovas(const struct shadow *s, unsigned i, uint64_t *desc, uint64_t *avail,
		       uint64_t *used);

/*
 * Publishes the guest's new avail entries of ring i on the shadow ring.
 * The guest's side of notifications is the relay's: the guest's used ring
 * flags are kept 0 and, with EVENT_IDX, its avail_event at the next index,
 * so that every new buffer is kicked (marked in log when written; NULL:
 * QEMU does not log).  The device is given no EVENT_IDX: the shadow's
 * flags ask it for every completion.  Returns how many chains went (0:
 * none new), or -EIO once the ring is broken (a reason in shadow_error()).
 */
int shadow_forward(struct shadow *s, unsigned i, const struct guest_mem *mem,
		   struct dirtylog *log);

/*
 * Moves the device's new used elements of ring i to the guest's used ring,
 * marking what the device wrote in log (NULL: QEMU does not log) before the
 * guest's used index moves.  Returns how many elements went, or -EIO.
 */
int shadow_complete(struct shadow *s, unsigned i, const struct guest_mem *mem,
		    struct dirtylog *log);

/*
 * Ring i's next avail index as the guest must see it once the device has
 * stopped and shadow_complete() has moved what it completed: the chains
 * forwarded and not completed are the guest's again (a device reset
 * dropped them).  And how many are forwarded and not completed now.
 */
uint16_t shadow_next_avail(const struct shadow *s, unsigned i);
unsigned shadow_in_flight(const struct shadow *s, unsigned i);

bool shadow_broken(const struct shadow *s, unsigned i);
const char *shadow_error(const struct shadow *s);
/* Chains the device completed through the shadow rings, all rings. */
uint64_t shadow_relayed(const struct shadow *s);

#endif
