// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Shadow rings and their relay (shadow.h).  Split rings only, the virtio
 * layout (virtio 1.x, 2.7): a descriptor is {u64 addr, u32 len, u16 flags,
 * u16 next}; the avail ring {u16 flags, u16 idx, u16 ring[num]}; the used
 * ring {u16 flags, u16 idx, {u32 id, u32 len}[num]}.  Little endian (the
 * agent runs on x86-64 and VERSION_1 is required).
 */
#include "agent/daemon/shadow.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u
#define MAX_NUM 32768u
#define PAGE 4096u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct desc) == 16, "virtq_desc");

struct sring {
	uint32_t num;			/* 0: unused */
	struct shadow_ring_cfg g;	/* the guest's rings */
	struct desc *desc;		/* ours */
	uint16_t *avail, *used;
	uint64_t off_desc, off_avail, off_used;
	uint16_t fwd;			/* next guest avail index to forward */
	uint16_t done;			/* next used index to move to the guest */
	uint8_t *inflight;		/* per head: forwarded, not yet used */
	bool guest_side_set;		/* guest used flags cleared once */
	uint16_t avail_event;		/* what we last asked the guest for (EVENT_IDX) */
	bool broken;
};

struct shadow {
	int fd;
	uint8_t *mem;
	uint64_t size, iova;
	unsigned nrings;
	uint64_t relayed;
	struct sring r[SHADOW_MAX_RINGS];
	char err[200];
};

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static int broken(struct shadow *s, unsigned i, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!s->r[i].broken) {
		n = snprintf(s->err, sizeof(s->err), "ring %u: ", i);
		va_start(ap, fmt);
		vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	s->r[i].broken = true;
	return -EIO;
}

int shadow_new(const struct shadow_ring_cfg *cfg, unsigned nrings, uint64_t iova,
	       struct shadow **ret)
{
	struct shadow *s;
	uint64_t off = 0;

	if (nrings > SHADOW_MAX_RINGS || (iova & (PAGE - 1)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->nrings = nrings;
	s->iova = iova;
	for (unsigned i = 0; i < nrings; i++) {
		struct sring *r = &s->r[i];
		uint32_t num = cfg[i].num;

		if (!num)
			continue;
		if (num > MAX_NUM || (num & (num - 1))) {
			shadow_free(s);
			return -EINVAL;
		}
		r->num = num;
		r->g = cfg[i];
		r->fwd = r->done = cfg[i].base;
		r->off_desc = off;
		off += page_up(16 * (uint64_t)num);
		r->off_avail = off;
		off += page_up(6 + 2 * (uint64_t)num);
		r->off_used = off;
		off += page_up(6 + 8 * (uint64_t)num);
		r->inflight = calloc(num, 1);
		if (!r->inflight) {
			shadow_free(s);
			return -ENOMEM;
		}
	}
	s->size = off ? off : PAGE;
	s->fd = memfd_create("vdpa-shadow-rings", MFD_CLOEXEC);
	if (s->fd < 0 || ftruncate(s->fd, (off_t)s->size) < 0) {
		int r = -errno;

		shadow_free(s);
		return r;
	}
	s->mem = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->mem == MAP_FAILED) {
		int r = -errno;

		s->mem = NULL;
		shadow_free(s);
		return r;
	}
	for (unsigned i = 0; i < nrings; i++) {
		struct sring *r = &s->r[i];

		if (!r->num)
			continue;
		r->desc = (struct desc *)(s->mem + r->off_desc);
		r->avail = (uint16_t *)(s->mem + r->off_avail);
		r->used = (uint16_t *)(s->mem + r->off_used);
		/* Both rings start at the base: the device's SET_VRING_BASE. */
		r->avail[1] = cfg[i].base;
		r->used[1] = cfg[i].base;
	}
	*ret = s;
	return 0;
}

void shadow_free(struct shadow *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < SHADOW_MAX_RINGS; i++)
		free(s->r[i].inflight);
	if (s->mem)
		munmap(s->mem, s->size);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int shadow_fd(const struct shadow *s)
{
	return s->fd;
}

uint64_t shadow_size(const struct shadow *s)
{
	return s->size;
}

void shadow_ring_iovas(const struct shadow *s, unsigned i, uint64_t *desc, uint64_t *avail,
		       uint64_t *used)
{
	const struct sring *r = &s->r[i];

	*desc = s->iova + r->off_desc;
	*avail = s->iova + r->off_avail;
	*used = s->iova + r->off_used;
}

uint16_t shadow_next_avail(const struct shadow *s, unsigned i)
{
	return s->r[i].done;
}

unsigned shadow_in_flight(const struct shadow *s, unsigned i)
{
	return (uint16_t)(s->r[i].fwd - s->r[i].done);
}

bool shadow_broken(const struct shadow *s, unsigned i)
{
	return i < s->nrings && s->r[i].broken;
}

const char *shadow_error(const struct shadow *s)
{
	return s->err;
}

uint64_t shadow_relayed(const struct shadow *s)
{
	return __atomic_load_n(&s->relayed, __ATOMIC_RELAXED);
}

/*
 * Whether [gpa, gpa + len) is guest memory, possibly across regions that
 * are adjacent in guest-physical space (the device sees IOVA = GPA, so a
 * buffer may span them; our own pointers need not be contiguous).
 */
static bool in_guest(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	while (len) {
		uint64_t contig = 0;

		if (!guest_mem_gpa(mem, gpa, len, &contig) || contig == 0)
			return false;
		if (contig >= len)
			return true;
		gpa += contig;
		len -= contig;
	}
	return true;
}

/* Copies the chain at head from the guest's table into ours, checking it. */
static int copy_chain(struct shadow *s, unsigned i, const struct guest_mem *mem,
		      const struct desc *gdesc, uint16_t head)
{
	struct sring *r = &s->r[i];
	uint32_t idx = head;

	for (uint32_t steps = 0;; steps++) {
		struct desc d;

		if (steps >= r->num)
			return broken(s, i, "the chain at head %u loops", head);
		memcpy(&d, &gdesc[idx], sizeof(d));
		if (d.flags & D_INDIRECT) {
			if ((d.flags & D_NEXT) || d.len == 0 || d.len % 16 ||
			    d.len / 16 > MAX_NUM || !guest_mem_gpa_range(mem, d.addr, d.len))
				return broken(s, i, "head %u: bad indirect table (0x%llx, %u bytes)",
					      head, (unsigned long long)d.addr, d.len);
		} else if (d.len && !in_guest(mem, d.addr, d.len)) {
			return broken(s, i, "head %u: buffer 0x%llx (%u bytes) outside guest memory",
				      head, (unsigned long long)d.addr, d.len);
		}
		r->desc[idx] = d;
		if (!(d.flags & D_NEXT))
			return 0;
		if (d.next >= r->num)
			return broken(s, i, "head %u: next %u beyond the ring", head, d.next);
		idx = d.next;
	}
}

/*
 * The guest kicks for every new buffer: used flags 0 (no NO_NOTIFY) once,
 * and with EVENT_IDX avail_event at the next index to forward.  The
 * guest's used ring is guest memory: each write is marked.
 */
static int ask_kicks(struct shadow *s, unsigned i, const struct guest_mem *mem,
		     struct dirtylog *log)
{
	struct sring *r = &s->r[i];
	uint16_t *gused = guest_mem_gpa_range(mem, r->g.used_gpa, 6 + 8 * (uint64_t)r->num);

	if (!gused)
		return broken(s, i, "the guest's used ring is outside guest memory");
	if (!r->guest_side_set) {
		__atomic_store_n(&gused[0], 0, __ATOMIC_RELAXED);
		if (log)
			dirtylog_mark(log, r->g.used_gpa, 2);
		r->guest_side_set = true;
		r->avail_event = (uint16_t)(r->fwd - 1);
	}
	if (r->g.event_idx && r->avail_event != r->fwd) {
		/* Before the avail index is read again: a store, then a full barrier. */
		__atomic_store_n(&gused[2 + 4 * r->num], r->fwd, __ATOMIC_RELAXED);
		if (log)
			dirtylog_mark(log, r->g.used_gpa + 4 + 8 * (uint64_t)r->num, 2);
		r->avail_event = r->fwd;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

/* One pass: asks for the next kick, then forwards what is there. */
static int forward_once(struct shadow *s, unsigned i, const struct guest_mem *mem,
			struct dirtylog *log)
{
	struct sring *r = &s->r[i];
	const struct desc *gdesc;
	const uint16_t *gavail;
	uint16_t avail_idx, n;

	if (r->broken)
		return -EIO;
	gdesc = guest_mem_gpa_range(mem, r->g.desc_gpa, 16 * (uint64_t)r->num);
	gavail = guest_mem_gpa_range(mem, r->g.avail_gpa, 4 + 2 * (uint64_t)r->num);
	if (!gdesc || !gavail)
		return broken(s, i, "the guest's rings are outside guest memory");
	if (ask_kicks(s, i, mem, log) < 0)
		return -EIO;
	avail_idx = __atomic_load_n(&gavail[1], __ATOMIC_ACQUIRE);
	n = (uint16_t)(avail_idx - r->fwd);
	if (n > r->num)
		return broken(s, i, "guest avail index %u is %u ahead of %u", avail_idx, n, r->fwd);
	for (uint16_t k = 0; k < n; k++) {
		uint16_t head = __atomic_load_n(&gavail[2 + r->fwd % r->num], __ATOMIC_RELAXED);
		int e;

		if (head >= r->num)
			return broken(s, i, "avail entry %u names head %u", r->fwd, head);
		if (r->inflight[head])
			return broken(s, i, "head %u made available twice", head);
		e = copy_chain(s, i, mem, gdesc, head);
		if (e < 0)
			return e;
		r->inflight[head] = 1;
		r->avail[2 + r->fwd % r->num] = head;
		r->fwd++;
	}
	if (n)
		__atomic_store_n(&r->avail[1], r->fwd, __ATOMIC_RELEASE);
	return n;
}

int shadow_forward(struct shadow *s, unsigned i, const struct guest_mem *mem,
		   struct dirtylog *log)
{
	int n, total = 0;

	/*
	 * Until a pass finds nothing: each asks for the next kick past what was
	 * taken and then looks again, for a buffer the guest added before it saw
	 * the request (it would not kick for that one).
	 */
	while ((n = forward_once(s, i, mem, log)) > 0)
		total += n;
	return n < 0 ? n : total;
}

/* Marks every device-writable buffer of the chain at head (our copy). */
static int mark_chain(struct shadow *s, unsigned i, const struct guest_mem *mem,
		      struct dirtylog *log, uint16_t head)
{
	struct sring *r = &s->r[i];
	uint32_t idx = head;

	for (uint32_t steps = 0; steps < r->num; steps++) {
		const struct desc *d = &r->desc[idx];

		if (d->flags & D_INDIRECT) {
			/* The table is the guest's: read it as a guest's, bounded. */
			const struct desc *t = guest_mem_gpa_range(mem, d->addr, d->len);
			uint32_t n = d->len / 16;

			if (!t)
				return broken(s, i, "head %u: indirect table left guest memory", head);
			for (uint32_t j = 0; j < n; j++) {
				struct desc td;

				memcpy(&td, &t[j], sizeof(td));
				if ((td.flags & D_WRITE) && td.len)
					dirtylog_mark(log, td.addr, td.len);
			}
		} else if ((d->flags & D_WRITE) && d->len) {
			dirtylog_mark(log, d->addr, d->len);
		}
		if (!(d->flags & D_NEXT))
			return 0;
		idx = d->next;
	}
	return broken(s, i, "the chain at head %u loops", head);
}

int shadow_complete(struct shadow *s, unsigned i, const struct guest_mem *mem,
		    struct dirtylog *log)
{
	struct sring *r = &s->r[i];
	uint16_t *gused;
	uint16_t used_idx, n;

	if (r->broken)
		return -EIO;
	gused = guest_mem_gpa_range(mem, r->g.used_gpa, 4 + 8 * (uint64_t)r->num);
	if (!gused)
		return broken(s, i, "the guest's used ring is outside guest memory");
	used_idx = __atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE);
	n = (uint16_t)(used_idx - r->done);
	if (n > (uint16_t)(r->fwd - r->done))
		return broken(s, i, "the device's used index %u is %u ahead of %u, %u in flight",
			      used_idx, n, r->done, (uint16_t)(r->fwd - r->done));
	for (uint16_t k = 0; k < n; k++) {
		uint32_t slot = r->done % r->num, id, len;
		uint32_t *ge = (uint32_t *)((uint8_t *)gused + 4 + 8 * (uint64_t)slot);
		const uint32_t *se = (const uint32_t *)((const uint8_t *)r->used + 4 + 8 * slot);

		id = __atomic_load_n(&se[0], __ATOMIC_RELAXED);
		len = __atomic_load_n(&se[1], __ATOMIC_RELAXED);
		if (id >= r->num || !r->inflight[id])
			return broken(s, i, "the device used head %u, not in flight", id);
		if (log && mark_chain(s, i, mem, log, (uint16_t)id) < 0)
			return -EIO;
		ge[0] = id;
		ge[1] = len;
		if (log)
			dirtylog_mark(log, r->g.used_gpa + 4 + 8 * (uint64_t)slot, 8);
		r->inflight[id] = 0;
		r->done++;
	}
	if (n) {
		if (log)
			dirtylog_mark(log, r->g.used_gpa + 2, 2);
		__atomic_store_n(&gused[1], r->done, __ATOMIC_RELEASE);
		__atomic_fetch_add(&s->relayed, n, __ATOMIC_RELAXED);
	}
	return n;
}
