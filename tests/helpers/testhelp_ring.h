/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A split virtqueue in memfd guest memory, for the unit tests that play the
 * guest driver (the virtqueue and virtio-net tests): the test writes
 * descriptors and avail entries and reads the used ring back, all in
 * little-endian guest memory, as a driver would.  Its own header, apart
 * from testhelp.h, because it needs the datapath's structs whole.
 */
#ifndef VDPA_TESTS_TESTHELP_RING_H
#define VDPA_TESTS_TESTHELP_RING_H

#include <stdint.h>

#include "agent/datapath/guest_mem.h"
#include "agent/datapath/virtqueue.h"

/*
 * Two regions, contiguous in guest-physical space but not in the front
 * end's virtual space, so that a buffer across the boundary must split.
 */
#define TH_GPA1 0x100000ull
#define TH_SZ1 0x100000ull
#define TH_UVA1 0x7f1200000000ull
#define TH_GPA2 (TH_GPA1 + TH_SZ1)
#define TH_SZ2 0x10000ull
#define TH_UVA2 0x7f3400000000ull

/* Where the rings sit in region 1; buffers are handed out from TH_BUF_GPA. */
#define TH_DESC_GPA TH_GPA1
#define TH_AVAIL_GPA (TH_GPA1 + 0x10000)
#define TH_USED_GPA (TH_GPA1 + 0x20000)
#define TH_INDIR_GPA (TH_GPA1 + 0x30000)
#define TH_BUF_GPA (TH_GPA1 + 0x40000)

/* Descriptor flags as the guest writes them (VIRTQ_DESC_F_NEXT, _WRITE, _INDIRECT). */
#define TH_F_NEXT 1
#define TH_F_WRITE 2
#define TH_F_INDIRECT 4

struct th_ring {
	struct guest_mem mem;
	struct vq vq;
	unsigned num;		/* ring size, set by the test's vq_setup() */
	uint16_t avail_idx;	/* the driver's avail index */
	uint64_t next_buf;	/* next free buffer gpa */
};

/* cmocka setup and teardown: *state becomes a struct th_ring with both regions. */
int th_ring_create(void **state);
int th_ring_destroy(void **state);

/* The front end's address of gpa (region 1 only). */
uint64_t th_uva(uint64_t gpa);

/* Host pointer to len bytes at gpa; fails the test if they are not mapped. */
void *th_gp(struct th_ring *t, uint64_t gpa, uint64_t len);

/* Writes descriptor i of the table at gpa table. */
void th_set_desc(struct th_ring *t, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);

/* The avail and used rings as the guest sees them (le16 words). */
uint16_t *th_avail(struct th_ring *t);
uint16_t *th_used(struct th_ring *t);

/* Makes head available and publishes the new avail index (release). */
void th_avail_put(struct th_ring *t, uint16_t head);

/* Publishes avail index idx without adding entries. */
void th_avail_set_idx(struct th_ring *t, uint16_t idx);

/* The device's used index (acquire), and used element i. */
uint16_t th_used_idx(struct th_ring *t);
void th_used_elem(struct th_ring *t, uint16_t i, uint32_t *id, uint32_t *len);

/* len bytes of region 1 for a buffer, 16-byte aligned; fails the test when full. */
uint64_t th_alloc_buf(struct th_ring *t, uint64_t len);

#endif
