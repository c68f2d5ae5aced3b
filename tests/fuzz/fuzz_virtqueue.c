// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the guest's side of the rings.  The input becomes the
 * contents of a small guest memory (descriptor table, avail ring, used ring
 * and buffers all in it), as a hostile guest could write it; the data path
 * then takes frames from the TX ring and puts frames into the RX ring, with
 * and without mergeable buffers, indirect descriptors and event index.
 * Nothing may crash, hang or touch memory outside the mapping (ASan).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/datapath/guest_mem.h"
#include "agent/datapath/virtio_net.h"
#include "agent/datapath/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE (64 * 1024)
#define RING 16
#define UADDR 0x7f0000000000ull
#define ENDPOINT_FRAME_MAX_FUZZ 65536

static struct guest_mem mem;
static uint8_t *guest;

static void marks(void *o, uint64_t gpa, uint64_t len)
{
	(void)o;
	/* A mark must describe memory that exists. */
	if (len && (gpa >= MEM_SIZE || len > MEM_SIZE - gpa))
		abort();
}

static void flush(void *o)
{
	(void)o;
}

static const struct vq_logger logger = { .mark = marks, .flush = flush };

static void setup(void)
{
	int fd;

	if (guest)
		return;
	fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MEM_SIZE) < 0)
		abort();
	guest_mem_init(&mem);
	if (guest_mem_add(&mem, 0, MEM_SIZE, UADDR, 0, &fd) < 0)
		abort();
	guest = guest_mem_gpa_range(&mem, 0, MEM_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[ENDPOINT_FRAME_MAX_FUZZ];
	struct vq vq;
	size_t len, n;
	uint32_t flags;
	uint8_t ctl;

	setup();
	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	memset(guest, 0, MEM_SIZE);
	n = size < MEM_SIZE ? size : MEM_SIZE;
	memcpy(guest, data, n);

	/* desc at 0 (16 * 16), avail at 0x100, used at 0x200; buffers anywhere. */
	flags = VQ_F_LOG | ((ctl & 1) ? VQ_F_EVENT_IDX : 0) | ((ctl & 2) ? VQ_F_INDIRECT : 0);
	vq_init(&vq);
	vq_set_logger(&vq, &logger);
	if (vq_setup(&vq, &mem, RING, UADDR, UADDR + 0x100, UADDR + 0x200, 0x200, flags,
		     (uint16_t)(ctl >> 4)) < 0)
		return 0;
	for (int i = 0; i < 2 * RING; i++) {
		int r;

		if (ctl & 4)
			r = vnet_tx_pop(&vq, &mem, VNET_HDR_LEN, frame, sizeof(frame), &len);
		else
			r = vnet_rx_push(&vq, &mem, (ctl & 8) ? VNET_HDR_LEN : VNET_HDR_LEN_LEGACY,
					 (ctl & 8) != 0, frame, 1 + (size_t)(i * 397) % 3000);
		if (r == -EAGAIN || r == -EIO)
			break;
	}
	vq_publish(&vq);
	(void)vq_need_notify(&vq);
	(void)vq_enable_notify(&vq);
	vq_reset(&vq);
	return 0;
}
