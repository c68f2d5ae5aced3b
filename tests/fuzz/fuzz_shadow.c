// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the shadow-ring relay (agent/daemon/shadow.c) between a
 * hostile guest and a hostile device.  The input's first byte picks the
 * base index and EVENT_IDX; the next 64 KiB become guest memory (descriptor
 * table at 0, avail ring at 0x100, used ring at 0x200, buffers and indirect
 * tables anywhere), the rest the device's doing: used elements it writes on
 * the shadow ring.  The relay forwards, the "device" completes, the relay
 * completes, twice over.  Nothing may crash, hang or touch memory outside
 * the mappings (ASan); the guest's used index moves by what the relay says
 * it moved, and never beyond what it forwarded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/daemon/shadow.h"
#include "agent/datapath/guest_mem.h"
#include "dirtylog/dirtylog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE (64 * 1024)
#define RING 16
#define UADDR 0x7f0000000000ull
#define IOVA 0x200000ull

static struct guest_mem mem;
static uint8_t *guest;
static struct dirtylog *log;

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
	if (!guest || dirtylog_new(MEM_SIZE, 12, &log) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shadow_ring_cfg cfg = { .num = RING, .desc_gpa = 0, .avail_gpa = 0x100,
				       .used_gpa = 0x200 };
	struct shadow *s;
	uint8_t *dev;
	uint64_t di, ai, ui, dsize;
	size_t n;
	uint8_t ctl;

	setup();
	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	n = size < MEM_SIZE ? size : MEM_SIZE;
	memset(guest, 0, MEM_SIZE);
	memcpy(guest, data, n);
	data += n;
	size -= n;
	cfg.base = (uint16_t)((ctl & 0x7f) * 517);
	cfg.event_idx = (ctl & 0x80) != 0;
	/* The guest's used index is where the base says (the engine's invariant). */
	memcpy(guest + 0x202, &cfg.base, 2);
	if (shadow_new(&cfg, 1, IOVA, &s) < 0)
		abort();
	dsize = shadow_size(s);
	dev = mmap(NULL, dsize, PROT_READ | PROT_WRITE, MAP_SHARED, shadow_fd(s), 0);
	if (dev == MAP_FAILED)
		abort();
	shadow_ring_iovas(s, 0, &di, &ai, &ui);
	for (int round = 0; round < 2; round++) {
		uint16_t *used = (uint16_t *)(dev + (ui - IOVA));
		const uint16_t *gused = (const uint16_t *)(guest + 0x200);
		uint16_t before = gused[1];
		int fwd, done;

		fwd = shadow_forward(s, 0, &mem, log);
		/* The device writes what the input says: a count, then elements. */
		if (size >= 1) {
			unsigned k = data[0] % (RING + 2);

			data++;
			size--;
			for (unsigned j = 0; j < k && size >= 8; j++) {
				uint16_t idx = (uint16_t)(used[1] + j);

				memcpy(dev + (ui - IOVA) + 4 + 8 * (idx % RING), data, 8);
				data += 8;
				size -= 8;
			}
			__atomic_store_n(&used[1], (uint16_t)(used[1] + k), __ATOMIC_RELEASE);
		}
		done = shadow_complete(s, 0, &mem, log);
		if (done > 0 && (uint16_t)(gused[1] - before) != (uint16_t)done)
			abort();
		if (done < 0 && gused[1] != before && fwd >= 0)
			abort();	/* a broken completion publishes nothing new */
		(void)fwd;
	}
	munmap(dev, dsize);
	shadow_free(s);
	dirtylog_clear(log);
	return 0;
}
