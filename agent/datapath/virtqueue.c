/*
 * Split virtqueue, device side.  See virtqueue.h for the trust boundary.
 *
 * Ring layout (virtio 1.x 2.6), little-endian, offsets in bytes:
 *   desc:  num x {u64 addr; u32 len; u16 flags; u16 next}
 *   avail: u16 flags; u16 idx; u16 ring[num]; u16 used_event
 *   used:  u16 flags; u16 idx; {u32 id; u32 len} ring[num]; u16 avail_event
 *
 * Shared-memory access rules used throughout:
 *  - 16/32-bit ring fields go through __atomic loads/stores (the setup
 *    checks guarantee their natural alignment in our mapping), so the
 *    compiler can neither tear nor re-read them.
 *  - Descriptors may sit in an indirect table of any alignment, so they are
 *    copied with memcpy followed by a compiler barrier: after the barrier
 *    the compiler may not reload a field from the ring instead of the copy.
 *  - avail->idx is observed with acquire (pairs with the driver's release
 *    or wmb before its idx store): ring entries and descriptors read after
 *    it are at least as new.  used->idx is stored with release.
 */
#include "agent/datapath/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY 1u

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vring_desc_le) == 16, "vring descriptor is 16 bytes");

#define DESC_SIZE 16u
#define AVAIL_SIZE(num) (6u + 2u * (uint64_t)(num))
#define USED_SIZE(num) (6u + 8u * (uint64_t)(num))
/* Byte offsets inside the used ring, as logged at log_guest_addr + off. */
#define USED_OFF_FLAGS 0u
#define USED_OFF_IDX 2u
#define USED_OFF_ELEM(i) (4u + 8u * (uint64_t)(i))
#define USED_OFF_AVAIL_EVENT(num) (4u + 8u * (uint64_t)(num))

/* ---- shared-memory accessors ----------------------------------------- */

static inline uint16_t ld16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint16_t ld16_acquire(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static inline void st16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline void st16_release(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static inline void st32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

static void desc_read(const uint8_t *table, uint32_t i, struct vring_desc_le *ret)
{
	struct vring_desc_le d;

	memcpy(&d, table + (size_t)i * DESC_SIZE, sizeof(d));
	__asm__ __volatile__("" ::: "memory");
	ret->addr = le64toh(d.addr);
	ret->len = le32toh(d.len);
	ret->flags = le16toh(d.flags);
	ret->next = le16toh(d.next);
}

static inline uint16_t *avail_ring(const struct vq *vq)
{
	return vq->avail + 2;
}

static inline uint16_t *used_event(const struct vq *vq)
{
	return vq->avail + 2 + vq->num;
}

static inline uint16_t *avail_event(const struct vq *vq)
{
	return (uint16_t *)((uint8_t *)vq->used + USED_OFF_AVAIL_EVENT(vq->num));
}

/* ---- counters --------------------------------------------------------- */

/* Single writer; relaxed atomics only so that readers never race in C11 terms. */
static inline void stat_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void stat_sub(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) - n, __ATOMIC_RELAXED);
}

void vq_count_kick(struct vq *vq)
{
	stat_add(&vq->stats.kicks, 1);
}

void vq_count_frame(struct vq *vq, uint64_t bytes)
{
	stat_add(&vq->stats.frames, 1);
	stat_add(&vq->stats.bytes, bytes);
}

void vq_count_drop(struct vq *vq)
{
	stat_add(&vq->stats.drops, 1);
}

void vq_count_no_bufs(struct vq *vq)
{
	stat_add(&vq->stats.no_bufs, 1);
}

void vq_get_stats(const struct vq *vq, struct vq_stats *ret)
{
	const struct vq_stats *s = &vq->stats;

	ret->kicks = __atomic_load_n(&s->kicks, __ATOMIC_RELAXED);
	ret->calls = __atomic_load_n(&s->calls, __ATOMIC_RELAXED);
	ret->chains = __atomic_load_n(&s->chains, __ATOMIC_RELAXED);
	ret->used = __atomic_load_n(&s->used, __ATOMIC_RELAXED);
	ret->frames = __atomic_load_n(&s->frames, __ATOMIC_RELAXED);
	ret->bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	ret->drops = __atomic_load_n(&s->drops, __ATOMIC_RELAXED);
	ret->no_bufs = __atomic_load_n(&s->no_bufs, __ATOMIC_RELAXED);
	ret->log_marks = __atomic_load_n(&s->log_marks, __ATOMIC_RELAXED);
	ret->log_bytes = __atomic_load_n(&s->log_bytes, __ATOMIC_RELAXED);
	ret->log_pages = __atomic_load_n(&s->log_pages, __ATOMIC_RELAXED);
	ret->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
}

/* ---- dirty log -------------------------------------------------------- */

/*
 * Marks [gpa, gpa + len) after we wrote it.  The release fence orders our
 * plain data stores before the mark: whoever sees the bit and copies the
 * page (QEMU harvesting) must see the new bytes, otherwise a page harvested
 * between mark and write would migrate stale.
 */
static void log_mark(struct vq *vq, uint64_t gpa, uint64_t len)
{
	const struct vq_logger *lg = vq->logger;

	if (!lg || len == 0)
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	lg->mark(lg->opaque, gpa, len);
	stat_add(&vq->stats.log_marks, 1);
	stat_add(&vq->stats.log_bytes, len);
	/* 4 KiB pages the mark touches (a page marked twice counts twice). */
	stat_add(&vq->stats.log_pages, ((gpa + len - 1) >> 12) - (gpa >> 12) + 1);
}

/* Used-ring writes are logged only when the front end asked (VQ_F_LOG). */
static void log_used(struct vq *vq, uint64_t off, uint64_t len)
{
	if (vq->flags & VQ_F_LOG)
		log_mark(vq, vq->log_guest_addr + off, len);
}

static void log_flush(struct vq *vq)
{
	const struct vq_logger *lg = vq->logger;

	if (lg && lg->flush)
		lg->flush(lg->opaque);
}

void vq_set_logger(struct vq *vq, const struct vq_logger *logger)
{
	vq->logger = logger;
}

void vq_set_log_used(struct vq *vq, bool log_used_ring, uint64_t log_guest_addr)
{
	if (log_used_ring)
		vq->flags |= VQ_F_LOG;
	else
		vq->flags &= ~(uint32_t)VQ_F_LOG;
	vq->log_guest_addr = log_guest_addr;
}

/* ---- broken state ----------------------------------------------------- */

int vq_set_broken(struct vq *vq, const char *reason)
{
	if (!__atomic_load_n(&vq->broken, __ATOMIC_RELAXED)) {
		__atomic_store_n(&vq->reason, reason, __ATOMIC_RELEASE);
		/* Release: a reader that sees broken also sees the reason. */
		__atomic_store_n(&vq->broken, true, __ATOMIC_RELEASE);
		stat_add(&vq->stats.errors, 1);
	}
	return -EIO;
}

bool vq_is_broken(const struct vq *vq)
{
	return __atomic_load_n(&vq->broken, __ATOMIC_ACQUIRE);
}

const char *vq_reason(const struct vq *vq)
{
	return __atomic_load_n(&vq->reason, __ATOMIC_ACQUIRE);
}

/* ---- setup ------------------------------------------------------------ */

void vq_init(struct vq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

void vq_reset(struct vq *vq)
{
	const struct vq_logger *logger = vq->logger;
	struct vq_stats stats = vq->stats;

	memset(vq, 0, sizeof(*vq));
	vq->logger = logger;
	vq->stats = stats;
}

static int setup_fail(struct vq *vq, int err, const char *reason)
{
	vq_reset(vq);
	__atomic_store_n(&vq->reason, reason, __ATOMIC_RELEASE);
	return err;
}

int vq_setup(struct vq *vq, const struct guest_mem *mem, unsigned num, uint64_t desc_uaddr,
	     uint64_t avail_uaddr, uint64_t used_uaddr, uint64_t log_guest_addr,
	     uint32_t flags, uint16_t base)
{
	void *desc, *avail, *used;

	vq_reset(vq);
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0)
		return setup_fail(vq, -EINVAL, "ring size is not a power of two in 1..32768");
	if (flags & ~(uint32_t)(VQ_F_LOG | VQ_F_EVENT_IDX | VQ_F_INDIRECT))
		return setup_fail(vq, -EINVAL, "unknown ring flags");
	if (desc_uaddr % 16 || avail_uaddr % 2 || used_uaddr % 4)
		return setup_fail(vq, -EINVAL, "misaligned ring address");
	/* The event fields are always part of the range: drivers allocate them. */
	desc = guest_mem_uva_range(mem, desc_uaddr, (uint64_t)num * DESC_SIZE);
	if (!desc)
		return setup_fail(vq, -EFAULT, "descriptor table outside guest memory");
	avail = guest_mem_uva_range(mem, avail_uaddr, AVAIL_SIZE(num));
	if (!avail)
		return setup_fail(vq, -EFAULT, "avail ring outside guest memory");
	used = guest_mem_uva_range(mem, used_uaddr, USED_SIZE(num));
	if (!used)
		return setup_fail(vq, -EFAULT, "used ring outside guest memory");
	/* Our atomics need natural alignment in our mapping, not only theirs. */
	if ((uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return setup_fail(vq, -EINVAL, "ring misaligned in our mapping");

	vq->num = (uint16_t)num;	/* 32768 fits */
	vq->flags = flags;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->log_guest_addr = log_guest_addr;
	vq->last_avail_idx = base;
	/*
	 * The used index in memory is what the guest has been told; continue
	 * from there (after a migration it equals base when every chain popped
	 * by the source was pushed, as GET_VRING_BASE guarantees).
	 */
	vq->used_idx = ld16(&vq->used[1]);
	vq->published_idx = vq->used_idx;
	vq->signalled_idx = vq->used_idx;
	vq->signalled_valid = false;
	vq->used_flags = ld16(&vq->used[0]);
	/*
	 * Both indices are guest memory.  Between the base and the used index
	 * lie the chains taken but not yet given back, at most a ring of them;
	 * between the base and avail->idx the chains offered, at most a ring.
	 * Outside that the guest (or a device that died writing) left the ring
	 * inconsistent: pushing from such a used index would hand the guest
	 * elements it never offered.  A guest error breaks the ring, like any
	 * other; the configuration itself was fine, so setup still succeeds.
	 */
	if ((uint16_t)(base - vq->used_idx) > vq->num)
		vq_set_broken(vq, "used index not within one ring behind the base");
	else if ((uint16_t)(ld16_acquire(&vq->avail[1]) - base) > vq->num)
		vq_set_broken(vq, "avail index not within one ring ahead of the base");
	return 0;
}

uint16_t vq_get_base(const struct vq *vq)
{
	return vq->last_avail_idx;
}

/* ---- taking chains ---------------------------------------------------- */

struct walk {
	struct vq *vq;
	const struct guest_mem *mem;
	struct vq_chain *c;
	bool seen_writable;
};

/* Translates one descriptor's buffer into segments, split at region ends. */
static int add_buffer(struct walk *w, uint64_t addr, uint32_t len, bool writable)
{
	struct vq_chain *c = w->c;
	uint64_t left = len;

	/* virtio 2.6.4.2: device-writable descriptors come after readable ones. */
	if (writable)
		w->seen_writable = true;
	else if (w->seen_writable)
		return vq_set_broken(w->vq, "readable descriptor after a writable one");
	if (len == 0)
		return 0;
	if (addr > UINT64_MAX - len)
		return vq_set_broken(w->vq, "descriptor address + length overflows");
	while (left) {
		uint64_t contig;
		void *p = guest_mem_gpa(w->mem, addr, left, &contig);

		if (!p || contig == 0)
			return vq_set_broken(w->vq, "descriptor address outside guest memory");
		if (c->nsegs < VQ_MAX_SEGS) {
			struct vq_seg *s = &c->seg[c->nsegs++];

			s->ptr = p;
			s->gpa = addr;
			s->len = (uint32_t)contig;
			s->writable = writable;
			if (writable) {
				c->writable += contig;
			} else {
				c->readable += contig;
				c->nreadable++;
			}
		} else {
			/* Keep validating: a truncated chain is still a valid chain. */
			c->truncated = true;
		}
		addr += contig;
		left -= contig;
	}
	return 0;
}

/*
 * Walks the chain from head.  In a table of n descriptors a chain that
 * takes more than n steps must visit one twice, so one counter catches both
 * loops and chains longer than the ring (2.6.5.3.1: a chain is never longer
 * than the queue size), without a visited set.
 */
static int walk_chain(struct walk *w, uint16_t head)
{
	struct vq *vq = w->vq;
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t table_n = vq->num;
	uint32_t i = head, steps = 0;
	bool in_indirect = false;

	for (;;) {
		struct vring_desc_le d;
		int r;

		if (++steps > table_n)
			return vq_set_broken(vq, in_indirect ?
					     "indirect descriptor chain loops" :
					     "descriptor chain loops or is longer than the ring");
		desc_read(table, i, &d);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* 2.6.5.3.1: one table per chain, no NEXT beside INDIRECT. */
			if (in_indirect)
				return vq_set_broken(vq, "nested indirect descriptor");
			if (!(vq->flags & VQ_F_INDIRECT))
				return vq_set_broken(vq, "indirect descriptor not negotiated");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_set_broken(vq, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % DESC_SIZE != 0)
				return vq_set_broken(vq, "indirect table length not a multiple of 16");
			if (d.len / DESC_SIZE > VQ_MAX_INDIRECT)
				return vq_set_broken(vq, "indirect table too large");
			table = guest_mem_gpa_range(w->mem, d.addr, d.len);
			if (!table)
				return vq_set_broken(vq, "indirect table outside guest memory");
			/* The WRITE flag of the table's own descriptor is ignored (2.6.5.3.2). */
			table_n = d.len / DESC_SIZE;
			in_indirect = true;
			i = 0;
			steps = 0;
			continue;
		}

		r = add_buffer(w, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= table_n)
			return vq_set_broken(vq, in_indirect ? "indirect descriptor next out of range" :
					     "descriptor next out of range");
		i = d.next;
	}
}

int vq_pop(struct vq *vq, const struct guest_mem *mem, struct vq_chain *chain)
{
	struct walk w = { .vq = vq, .mem = mem, .c = chain };
	uint16_t avail_idx, head;
	int r;

	if (vq_is_broken(vq))
		return -EIO;
	if (vq->num == 0)
		return -EINVAL;
	avail_idx = ld16_acquire(&vq->avail[1]);
	if (avail_idx == vq->last_avail_idx)
		return -EAGAIN;
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num)
		return vq_set_broken(vq, "avail index moved ahead by more than the ring size");
	head = ld16(&avail_ring(vq)[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num)
		return vq_set_broken(vq, "avail ring entry out of range");

	chain->head = head;
	chain->nsegs = 0;
	chain->nreadable = 0;
	chain->truncated = false;
	chain->readable = 0;
	chain->writable = 0;
	r = walk_chain(&w, head);
	if (r < 0)
		return r;
	vq->last_avail_idx++;
	stat_add(&vq->stats.chains, 1);
	return 0;
}

void vq_unpop(struct vq *vq, uint16_t n)
{
	vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
	stat_sub(&vq->stats.chains, n);
}

bool vq_has_avail(struct vq *vq)
{
	if (vq->num == 0)
		return false;
	return ld16_acquire(&vq->avail[1]) != vq->last_avail_idx;
}

/* ---- giving chains back ---------------------------------------------- */

int vq_push(struct vq *vq, uint16_t head, uint32_t len)
{
	uint64_t off;
	uint32_t *elem;

	if (vq->num == 0 || head >= vq->num)
		return -EINVAL;
	off = USED_OFF_ELEM(vq->used_idx & (vq->num - 1));
	elem = (uint32_t *)((uint8_t *)vq->used + off);
	st32(&elem[0], head);
	st32(&elem[1], len);
	log_used(vq, off, 8);
	vq->used_idx++;
	stat_add(&vq->stats.used, 1);
	return 0;
}

void vq_publish(struct vq *vq)
{
	if (vq->num == 0 || vq->used_idx == vq->published_idx)
		return;
	/*
	 * Everything the new index exposes was marked when written; the index
	 * itself is marked before the store, as the invariant asks, and again
	 * after it: a harvest between the first mark and the store would have
	 * copied the page with the old index and cleared the bit.
	 */
	log_used(vq, USED_OFF_IDX, 2);
	log_flush(vq);
	st16_release(&vq->used[1], vq->used_idx);
	vq->published_idx = vq->used_idx;
	log_used(vq, USED_OFF_IDX, 2);
	log_flush(vq);
}

/* virtio 2.6.7.2: has new_idx moved past event since old? (16-bit wrap) */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_need_notify(struct vq *vq)
{
	uint16_t new_idx, old;
	bool valid, need;

	if (vq->num == 0)
		return false;
	/*
	 * Store-load barrier: our used->idx store must be visible before we
	 * read the driver's suppression state, or the driver may decide to wait
	 * for an interrupt we decide not to send.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	new_idx = vq->published_idx;
	old = vq->signalled_idx;
	valid = vq->signalled_valid;
	vq->signalled_idx = new_idx;
	vq->signalled_valid = true;
	if (new_idx == old)
		return false;
	if (vq->flags & VQ_F_EVENT_IDX)
		/* Without a previous signal we cannot tell what the driver saw. */
		need = !valid || need_event(ld16(used_event(vq)), new_idx, old);
	else
		need = !(ld16(&vq->avail[0]) & VRING_AVAIL_F_NO_INTERRUPT);
	if (need)
		stat_add(&vq->stats.calls, 1);
	return need;
}

/* ---- kick suppression ------------------------------------------------- */

static void set_used_flags(struct vq *vq, uint16_t flags)
{
	if (vq->used_flags == flags)
		return;
	vq->used_flags = flags;
	st16(&vq->used[0], flags);
	log_used(vq, USED_OFF_FLAGS, 2);
	log_flush(vq);
}

void vq_disable_notify(struct vq *vq)
{
	if (vq->num == 0)
		return;
	/* With EVENT_IDX a stale avail_event already keeps the driver quiet. */
	if (!(vq->flags & VQ_F_EVENT_IDX))
		set_used_flags(vq, vq->used_flags | VRING_USED_F_NO_NOTIFY);
}

int vq_enable_notify(struct vq *vq)
{
	if (vq_is_broken(vq))
		return -EIO;
	if (vq->num == 0)
		return -EINVAL;
	if (vq->flags & VQ_F_EVENT_IDX) {
		st16(avail_event(vq), vq->last_avail_idx);
		log_used(vq, USED_OFF_AVAIL_EVENT(vq->num), 2);
		log_flush(vq);
	} else {
		set_used_flags(vq, vq->used_flags & (uint16_t)~VRING_USED_F_NO_NOTIFY);
	}
	/*
	 * Store-load barrier, then look again: a chain made available before
	 * the driver saw our store came without a kick, and we must not sleep
	 * on it.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(vq) ? 1 : 0;
}

/* ---- chain data ------------------------------------------------------- */

size_t vq_segs_write(struct vq *vq, const struct vq_seg *segs, unsigned nsegs, size_t off,
		     const void *src, size_t len)
{
	const uint8_t *from = src;
	size_t done = 0;

	for (unsigned i = 0; i < nsegs && done < len; i++) {
		const struct vq_seg *s = &segs[i];
		size_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)s->ptr + off, from + done, n);
		log_mark(vq, s->gpa + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_write(struct vq *vq, const struct vq_chain *c, size_t off, const void *src,
		      size_t len)
{
	return vq_segs_write(vq, c->seg + c->nreadable, (unsigned)(c->nsegs - c->nreadable), off,
			     src, len);
}

size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	uint8_t *to = dst;
	size_t done = 0;

	for (unsigned i = 0; i < c->nreadable && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		size_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(to + done, (const uint8_t *)s->ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}
