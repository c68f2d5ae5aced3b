/*
 * Unit tests for agent/datapath/virtqueue.c.  The test plays the guest driver: it
 * writes descriptors and avail entries into memfd-backed guest memory and
 * reads the used ring back.  Hostile rings must break the vq with a
 * specific reason and never crash (run under ASan+UBSan too).
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/datapath/virtqueue.h"
#include "tests/helpers/testhelp_ring.h"

#define LOG_BASE 0x900000000ull	/* log_guest_addr: distinct from TH_USED_GPA on purpose */

static void tg_setup_base(struct th_ring *t, unsigned num, uint32_t flags, uint16_t base)
{
	t->num = num;
	t->avail_idx = base;
	th_avail_set_idx(t, base);	/* the driver's state that base describes */
	assert_int_equal(vq_setup(&t->vq, &t->mem, num, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, flags, base), 0);
}

static void tg_setup(struct th_ring *t, unsigned num, uint32_t flags)
{
	tg_setup_base(t, num, flags, 0);
}

/* One chain of a single writable byte per cycle: pop, push, publish. */
static void cycle(struct th_ring *t, unsigned n)
{
	struct vq_chain c;

	for (unsigned i = 0; i < n; i++) {
		uint16_t head = t->avail_idx % t->num;

		th_set_desc(t, TH_DESC_GPA, head, th_alloc_buf(t, 16), 1, TH_F_WRITE, 0);
		th_avail_put(t, head);
		assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
		assert_int_equal(c.head, head);
		assert_int_equal(vq_push(&t->vq, c.head, 1), 0);
	}
	vq_publish(&t->vq);
}

/* ---- a recording logger ---------------------------------------------- */

#define REC_MAX 64
struct rec {
	unsigned n, flushes;
	uint64_t gpa[REC_MAX], len[REC_MAX];
};

static void rec_mark(void *opaque, uint64_t gpa, uint64_t len)
{
	struct rec *r = opaque;

	if (r->n < REC_MAX) {
		r->gpa[r->n] = gpa;
		r->len[r->n] = len;
	}
	r->n++;
}

static void rec_flush(void *opaque)
{
	struct rec *r = opaque;

	r->flushes++;
}

static bool rec_has(const struct rec *r, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < r->n && i < REC_MAX; i++)
		if (r->gpa[i] == gpa && r->len[i] == len)
			return true;
	return false;
}

/* ---- setup ------------------------------------------------------------ */

static void setup_ok(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;

	tg_setup_base(t, 256, VQ_F_EVENT_IDX, 77);
	assert_int_equal(vq_get_base(&t->vq), 77);
	assert_null(vq_reason(&t->vq));
	assert_false(vq_is_broken(&t->vq));
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EAGAIN);
	assert_false(vq_has_avail(&t->vq));

	/* The largest ring fits in region 1 only at the region's start. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 32768, th_uva(TH_GPA1),
				  th_uva(TH_GPA1 + 0x80000), th_uva(TH_GPA1 + 0x92000), 0, 0, 0), 0);
}

/*
 * The indices in the rings are the guest's: at setup the used index must
 * be at most one ring behind the base (chains taken but not given back)
 * and the avail index at most one ring ahead of it.  Anything else breaks
 * the ring at once instead of letting the shadow used index start from a
 * value the guest made up.
 */
static void setup_index_bounds(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;

	/* In range: used 100 behind a base of 300, avail a full ring ahead. */
	th_used(t)[1] = htole16(200);
	tg_setup_base(t, 256, 0, 300);
	th_avail_set_idx(t, 300 + 256);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 256, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, 0, 300), 0);
	assert_false(vq_is_broken(&t->vq));

	/* The used index ahead of the base: more given back than taken. */
	th_used(t)[1] = htole16(301);
	th_avail_set_idx(t, 300);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 256, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, 0, 300), 0);
	assert_true(vq_is_broken(&t->vq));
	assert_string_equal(vq_reason(&t->vq), "used index not within one ring behind the base");
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EIO);

	/* The used index more than a ring behind. */
	th_used(t)[1] = htole16((uint16_t)(300 - 257));
	assert_int_equal(vq_setup(&t->vq, &t->mem, 256, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, 0, 300), 0);
	assert_true(vq_is_broken(&t->vq));

	/* The avail index more than a ring ahead, with a chain behind it. */
	th_used(t)[1] = htole16(300);
	th_set_desc(t, TH_DESC_GPA, 0, th_alloc_buf(t, 16), 16, TH_F_WRITE, 0);
	th_avail(t)[2 + 300 % 256] = 0;
	th_avail_set_idx(t, 300 + 257);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 256, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, 0, 300), 0);
	assert_true(vq_is_broken(&t->vq));
	assert_string_equal(vq_reason(&t->vq), "avail index not within one ring ahead of the base");

	/* Setting up again from sane indices heals it. */
	th_avail_set_idx(t, 300);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 256, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), LOG_BASE, 0, 300), 0);
	assert_false(vq_is_broken(&t->vq));
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EAGAIN);
}

static void setup_refusals(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;
	const uint64_t d = th_uva(TH_DESC_GPA), a = th_uva(TH_AVAIL_GPA), u = th_uva(TH_USED_GPA);

	/* Ring sizes. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 0, d, a, u, 0, 0, 0), -EINVAL);
	assert_string_equal(vq_reason(&t->vq), "ring size is not a power of two in 1..32768");
	assert_int_equal(vq_setup(&t->vq, &t->mem, 3, d, a, u, 0, 0, 0), -EINVAL);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 65536, d, a, u, 0, 0, 0), -EINVAL);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, a, u, 0, 1u << 7, 0), -EINVAL);
	assert_string_equal(vq_reason(&t->vq), "unknown ring flags");

	/* Misaligned rings. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d + 8, a, u, 0, 0, 0), -EINVAL);
	assert_string_equal(vq_reason(&t->vq), "misaligned ring address");
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, a + 1, u, 0, 0, 0), -EINVAL);
	assert_string_equal(vq_reason(&t->vq), "misaligned ring address");
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, a, u + 2, 0, 0, 0), -EINVAL);
	assert_string_equal(vq_reason(&t->vq), "misaligned ring address");

	/* Outside guest memory: unmapped, straddling a region end, gpa given as uva. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, 0x1000, a, u, 0, 0, 0), -EFAULT);
	assert_string_equal(vq_reason(&t->vq), "descriptor table outside guest memory");
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, TH_DESC_GPA, a, u, 0, 0, 0), -EFAULT);
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, th_uva(TH_GPA1 + TH_SZ1 - 16), u, 0, 0, 0),
			 -EFAULT);
	assert_string_equal(vq_reason(&t->vq), "avail ring outside guest memory");
	/* used needs 6 + 8 * 8 = 70 bytes; 68 are left. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, a, th_uva(TH_GPA1 + TH_SZ1 - 68), 0, 0, 0),
			 -EFAULT);
	assert_string_equal(vq_reason(&t->vq), "used ring outside guest memory");
	/* A used ring across two regions is refused even though gpas are contiguous. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 8, d, a, th_uva(TH_GPA1 + TH_SZ1 - 32), 0, 0, 0),
			 -EFAULT);
	/* Descriptor table too large for the region: 32768 * 16 from near the end. */
	assert_int_equal(vq_setup(&t->vq, &t->mem, 32768, th_uva(TH_GPA1 + TH_SZ1 - 0x1000), a, u,
				  0, 0, 0), -EFAULT);

	/* A failed setup leaves the vq unusable, not half-configured. */
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EINVAL);
	assert_int_equal(vq_push(&t->vq, 0, 0), -EINVAL);
	assert_false(vq_need_notify(&t->vq));
}

/* ---- pop / push ------------------------------------------------------- */

static void pop_push_basic(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;
	uint64_t b0, b1, b2;
	uint32_t id, len;
	uint8_t out[64];

	tg_setup(t, 8, 0);
	b0 = th_alloc_buf(t, 100);
	b1 = th_alloc_buf(t, 200);
	b2 = th_alloc_buf(t, 300);
	memset(th_gp(t, b0, 100), 'a', 100);
	memset(th_gp(t, b1, 200), 'b', 200);
	/* 3 -> 5 -> 1 -> 6: readable, readable, zero-length (ignored), writable. */
	th_set_desc(t, TH_DESC_GPA, 3, b0, 100, TH_F_NEXT, 5);
	th_set_desc(t, TH_DESC_GPA, 5, b1, 200, TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, 0xdead0000, 0, TH_F_NEXT | TH_F_WRITE, 6);
	th_set_desc(t, TH_DESC_GPA, 6, b2, 300, TH_F_WRITE, 0);
	th_avail_put(t, 3);
	assert_true(vq_has_avail(&t->vq));
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nsegs, 3);
	assert_int_equal(c.nreadable, 2);
	assert_false(c.truncated);
	assert_int_equal(c.readable, 300);
	assert_int_equal(c.writable, 300);
	assert_ptr_equal(c.seg[0].ptr, th_gp(t, b0, 100));
	assert_int_equal(c.seg[1].gpa, b1);
	assert_true(c.seg[2].writable);
	assert_int_equal(vq_get_base(&t->vq), 1);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EAGAIN);

	/* Reading across segments. */
	assert_int_equal(vq_chain_read(&c, 90, out, sizeof(out)), sizeof(out));
	assert_memory_equal(out, "aaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 64);
	assert_int_equal(vq_chain_read(&c, 290, out, sizeof(out)), 10);
	assert_int_equal(vq_chain_write(&t->vq, &c, 295, "xyzxyzxyzx", 10), 5);
	assert_memory_equal((uint8_t *)th_gp(t, b2, 300) + 295, "xyzxy", 5);

	/* Not visible before publish. */
	assert_int_equal(vq_push(&t->vq, 3, 5), 0);
	assert_int_equal(th_used_idx(t), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 1);
	th_used_elem(t, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 5);
	assert_int_equal(vq_push(&t->vq, 8, 0), -EINVAL);

	/* Unpop makes the chain available again. */
	th_set_desc(t, TH_DESC_GPA, 0, b0, 10, 0, 0);
	th_avail_put(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	vq_unpop(&t->vq, 1);
	assert_int_equal(vq_get_base(&t->vq), 1);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.head, 0);
}

static void pop_across_regions(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;

	tg_setup(t, 8, 0);
	/* 100 bytes at the end of region 1 and 156 at the start of region 2. */
	th_set_desc(t, TH_DESC_GPA, 0, TH_GPA2 - 100, 256, 0, 0);
	th_avail_put(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.nsegs, 2);
	assert_int_equal(c.seg[0].len, 100);
	assert_int_equal(c.seg[0].gpa, TH_GPA2 - 100);
	assert_int_equal(c.seg[1].len, 156);
	assert_int_equal(c.seg[1].gpa, TH_GPA2);
	assert_ptr_equal(c.seg[1].ptr, th_gp(t, TH_GPA2, 156));
	assert_int_equal(c.readable, 256);
}

static void pop_truncated(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;
	uint64_t b = th_alloc_buf(t, 4096);

	/* 300 one-byte descriptors: valid, longer than VQ_MAX_SEGS. */
	tg_setup(t, 512, 0);
	for (unsigned i = 0; i < 300; i++)
		th_set_desc(t, TH_DESC_GPA, i, b + i, 1, i < 299 ? TH_F_NEXT : 0,
			    (uint16_t)(i + 1));
	th_avail_put(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_true(c.truncated);
	assert_int_equal(c.nsegs, VQ_MAX_SEGS);
	assert_int_equal(c.readable, VQ_MAX_SEGS);
	assert_false(vq_is_broken(&t->vq));
}

static void pop_indirect(void **state)
{
	struct th_ring *t = *state;
	struct vq_chain c;
	uint64_t b0, b1, b2;

	tg_setup(t, 8, VQ_F_INDIRECT);
	b0 = th_alloc_buf(t, 10);
	b1 = th_alloc_buf(t, 20);
	b2 = th_alloc_buf(t, 30);
	/* Table entries chain 0 -> 2 -> 1 (any order within the table). */
	th_set_desc(t, TH_INDIR_GPA, 0, b0, 10, TH_F_NEXT, 2);
	th_set_desc(t, TH_INDIR_GPA, 2, b1, 20, TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA, 1, b2, 30, TH_F_WRITE, 0);
	/* The WRITE flag on the indirect descriptor itself must be ignored. */
	th_set_desc(t, TH_DESC_GPA, 4, TH_INDIR_GPA, 3 * 16, TH_F_INDIRECT | TH_F_WRITE, 0);
	th_avail_put(t, 4);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.head, 4);
	assert_int_equal(c.nsegs, 3);
	assert_int_equal(c.nreadable, 2);
	assert_int_equal(c.seg[1].gpa, b1);
	assert_int_equal(c.readable, 30);
	assert_int_equal(c.writable, 30);

	/* Direct descriptors followed by one indirect (virtio 1.1 2.7.5.3.2). */
	th_set_desc(t, TH_DESC_GPA, 5, b0, 10, TH_F_NEXT, 6);
	th_set_desc(t, TH_DESC_GPA, 6, TH_INDIR_GPA + 16, 16, TH_F_INDIRECT, 0);
	th_avail_put(t, 5);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.nsegs, 2);
	assert_int_equal(c.seg[1].gpa, b2);
	assert_int_equal(c.nreadable, 1);

	/* An unaligned indirect table is fine (memcpy, not atomics, reads it). */
	th_set_desc(t, TH_INDIR_GPA + 0x1003, 0, b1, 20, 0, 0);
	th_set_desc(t, TH_DESC_GPA, 7, TH_INDIR_GPA + 0x1003, 16, TH_F_INDIRECT, 0);
	th_avail_put(t, 7);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(c.readable, 20);
	assert_false(vq_is_broken(&t->vq));
}

/* ---- hostile rings ----------------------------------------------------- */

struct hostile {
	const char *reason;
	uint32_t flags;
	void (*build)(struct th_ring *t);
};

/* Descriptor 0, the head of a chain, made available. */
static void head_only(struct th_ring *t, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	th_set_desc(t, TH_DESC_GPA, 0, addr, len, flags, next);
	th_avail_put(t, 0);
}

static void h_loop(struct th_ring *t)
{
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 8, TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA, 8, TH_F_NEXT, 0);
	th_avail_put(t, 0);
}

static void h_self_loop(struct th_ring *t)
{
	th_set_desc(t, TH_DESC_GPA, 3, TH_BUF_GPA, 8, TH_F_NEXT, 3);
	th_avail_put(t, 3);
}

static void h_longer_than_ring(struct th_ring *t)
{
	/* Every descriptor of the ring in one chain, and the last points back. */
	for (unsigned i = 0; i < 8; i++)
		th_set_desc(t, TH_DESC_GPA, i, TH_BUF_GPA + 8 * i, 8, TH_F_NEXT,
			    (uint16_t)((i + 1) % 8));
	th_avail_put(t, 0);
}

static void h_next_out_of_range(struct th_ring *t)
{
	head_only(t, TH_BUF_GPA, 8, TH_F_NEXT, 8);
}

static void h_next_far_out_of_range(struct th_ring *t)
{
	head_only(t, TH_BUF_GPA, 8, TH_F_NEXT, 0xffff);
}

static void h_head_out_of_range(struct th_ring *t)
{
	th_avail_put(t, 8);
}

static void h_addr_outside(struct th_ring *t)
{
	head_only(t, 0x1000, 8, 0, 0);
}

static void h_addr_partly_outside(struct th_ring *t)
{
	/* Starts inside region 2, ends past it. */
	head_only(t, TH_GPA2 + TH_SZ2 - 10, 20, TH_F_WRITE, 0);
}

static void h_addr_len_overflow(struct th_ring *t)
{
	head_only(t, UINT64_MAX - 0xf, 0x20, 0, 0);
}

static void h_readable_after_writable(struct th_ring *t)
{
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 8, TH_F_NEXT | TH_F_WRITE, 1);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA + 8, 8, 0, 0);
	th_avail_put(t, 0);
}

static void h_avail_jump(struct th_ring *t)
{
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 8, 0, 0);
	th_avail_set_idx(t, 9);
}

static void h_avail_jump_far(struct th_ring *t)
{
	th_avail_set_idx(t, 0x8000);
}

static void h_indirect_len_zero(struct th_ring *t)
{
	head_only(t, TH_INDIR_GPA, 0, TH_F_INDIRECT, 0);
}

static void h_indirect_len_odd(struct th_ring *t)
{
	head_only(t, TH_INDIR_GPA, 17, TH_F_INDIRECT, 0);
}

static void h_indirect_too_large(struct th_ring *t)
{
	head_only(t, TH_INDIR_GPA, 16u * (VQ_MAX_INDIRECT + 1), TH_F_INDIRECT, 0);
}

static void h_indirect_outside(struct th_ring *t)
{
	head_only(t, TH_GPA2 + TH_SZ2 - 16, 32, TH_F_INDIRECT, 0);
}

static void h_indirect_nested(struct th_ring *t)
{
	th_set_desc(t, TH_INDIR_GPA, 0, TH_BUF_GPA, 8, TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA, 1, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
	head_only(t, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
}

static void h_indirect_with_next(struct th_ring *t)
{
	th_set_desc(t, TH_INDIR_GPA, 0, TH_BUF_GPA, 8, 0, 0);
	th_set_desc(t, TH_DESC_GPA, 0, TH_INDIR_GPA, 16, TH_F_INDIRECT | TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA, 8, 0, 0);
	th_avail_put(t, 0);
}

static void h_indirect_loop(struct th_ring *t)
{
	th_set_desc(t, TH_INDIR_GPA, 0, TH_BUF_GPA, 8, TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA, 1, TH_BUF_GPA, 8, TH_F_NEXT, 0);
	head_only(t, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
}

static void h_indirect_next_out_of_range(struct th_ring *t)
{
	/* next 2 is inside the ring (8) but outside the 2-entry table. */
	th_set_desc(t, TH_INDIR_GPA, 0, TH_BUF_GPA, 8, TH_F_NEXT, 2);
	head_only(t, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
}

static void h_indirect_buf_outside(struct th_ring *t)
{
	th_set_desc(t, TH_INDIR_GPA, 0, 0x10, 8, 0, 0);
	head_only(t, TH_INDIR_GPA, 16, TH_F_INDIRECT, 0);
}

static const char R_LOOP[] = "descriptor chain loops or is longer than the ring";

static struct hostile H_LOOP = { R_LOOP, 0, h_loop };
static struct hostile H_SELF_LOOP = { R_LOOP, 0, h_self_loop };
static struct hostile H_LONG = { R_LOOP, 0, h_longer_than_ring };
static struct hostile H_NEXT = { "descriptor next out of range", 0, h_next_out_of_range };
static struct hostile H_NEXT_FAR = { "descriptor next out of range", 0,
					   h_next_far_out_of_range };
static struct hostile H_HEAD = { "avail ring entry out of range", 0, h_head_out_of_range };
static struct hostile H_ADDR = { "descriptor address outside guest memory", 0,
				       h_addr_outside };
static struct hostile H_ADDR_PART = { "descriptor address outside guest memory", 0,
					    h_addr_partly_outside };
static struct hostile H_OVERFLOW = { "descriptor address + length overflows", 0,
					   h_addr_len_overflow };
static struct hostile H_ORDER = { "readable descriptor after a writable one", 0,
					h_readable_after_writable };
static struct hostile H_JUMP = { "avail index moved ahead by more than the ring size", 0,
				       h_avail_jump };
static struct hostile H_JUMP_FAR = { "avail index moved ahead by more than the ring size",
					   0, h_avail_jump_far };
static struct hostile H_IND_ZERO = { "indirect table length not a multiple of 16",
					   VQ_F_INDIRECT, h_indirect_len_zero };
static struct hostile H_IND_ODD = { "indirect table length not a multiple of 16",
					  VQ_F_INDIRECT, h_indirect_len_odd };
static struct hostile H_IND_BIG = { "indirect table too large", VQ_F_INDIRECT,
					  h_indirect_too_large };
static struct hostile H_IND_OUT = { "indirect table outside guest memory", VQ_F_INDIRECT,
					  h_indirect_outside };
static struct hostile H_IND_NEST = { "nested indirect descriptor", VQ_F_INDIRECT,
					   h_indirect_nested };
static struct hostile H_IND_NEXT = { "indirect descriptor with NEXT", VQ_F_INDIRECT,
					   h_indirect_with_next };
static struct hostile H_IND_LOOP = { "indirect descriptor chain loops", VQ_F_INDIRECT,
					   h_indirect_loop };
static struct hostile H_IND_RANGE = { "indirect descriptor next out of range",
					    VQ_F_INDIRECT, h_indirect_next_out_of_range };
static struct hostile H_IND_BUF = { "descriptor address outside guest memory",
					  VQ_F_INDIRECT, h_indirect_buf_outside };
static struct hostile H_IND_NEG = { "indirect descriptor not negotiated", 0,
					  h_indirect_len_odd };

/* Runs one hostile case: broken with its reason, sticky, nothing consumed. */
static void hostile_run(void **state)
{
	const struct hostile *h = *state;
	struct th_ring *t;
	struct vq_chain *c = malloc(sizeof(*c));
	void *ts = NULL;
	struct vq_stats st;

	assert_non_null(c);
	assert_int_equal(th_ring_create(&ts), 0);
	t = ts;
	tg_setup(t, 8, h->flags);
	h->build(t);
	assert_int_equal(vq_pop(&t->vq, &t->mem, c), -EIO);
	assert_true(vq_is_broken(&t->vq));
	assert_string_equal(vq_reason(&t->vq), h->reason);
	assert_int_equal(vq_get_base(&t->vq), 0);
	/* Sticky, first reason kept, and the rest of the API stays safe. */
	assert_int_equal(vq_pop(&t->vq, &t->mem, c), -EIO);
	assert_int_equal(vq_enable_notify(&t->vq), -EIO);
	assert_int_equal(vq_set_broken(&t->vq, "second"), -EIO);
	assert_string_equal(vq_reason(&t->vq), h->reason);
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.chains, 0);
	/* A fresh setup clears it. */
	tg_setup(t, 8, h->flags);
	assert_false(vq_is_broken(&t->vq));
	assert_null(vq_reason(&t->vq));
	th_ring_destroy(&ts);
	free(c);
}

/* ---- notification ------------------------------------------------------ */

static void set_used_event(struct th_ring *t, uint16_t v)
{
	__atomic_store_n(&th_avail(t)[2 + t->num], htole16(v), __ATOMIC_RELEASE);
}

static uint16_t get_avail_event(struct th_ring *t)
{
	return le16toh(*(uint16_t *)((uint8_t *)th_used(t) + 4 + 8 * t->num));
}

static void notify_event_idx(void **state)
{
	struct th_ring *t = *state;

	tg_setup(t, 8, VQ_F_EVENT_IDX);
	assert_false(vq_need_notify(&t->vq));	/* nothing published */
	cycle(t, 1);				/* used 1 */
	assert_true(vq_need_notify(&t->vq));	/* first signal: always */
	assert_false(vq_need_notify(&t->vq));	/* nothing new */

	set_used_event(t, 1);			/* "interrupt me once entry 1 is used" */
	cycle(t, 1);				/* used 2 */
	assert_true(vq_need_notify(&t->vq));
	set_used_event(t, 5);
	cycle(t, 1);				/* used 3: 5 not reached */
	assert_false(vq_need_notify(&t->vq));
	cycle(t, 2);				/* used 5: 5 not yet used */
	assert_false(vq_need_notify(&t->vq));
	cycle(t, 1);				/* used 6: entry 5 used */
	assert_true(vq_need_notify(&t->vq));
	cycle(t, 3);				/* used 9: event stale behind old */
	assert_false(vq_need_notify(&t->vq));
}

static void notify_event_idx_wrap(void **state)
{
	struct th_ring *t = *state;

	/* A ring that migrated in close to the 16-bit wrap. */
	t->num = 8;
	th_used(t)[1] = htole16(65533);
	tg_setup_base(t, 8, VQ_F_EVENT_IDX, 65533);
	assert_int_equal(vq_get_base(&t->vq), 65533);
	cycle(t, 1);				/* used 65534 */
	assert_true(vq_need_notify(&t->vq));
	assert_int_equal(th_used_idx(t), 65534);

	set_used_event(t, 65535);
	cycle(t, 3);				/* used 1: crossed 65535 and 0 */
	assert_int_equal(th_used_idx(t), 1);
	assert_true(vq_need_notify(&t->vq));

	set_used_event(t, 2);
	cycle(t, 1);				/* used 2 */
	assert_false(vq_need_notify(&t->vq));
	cycle(t, 1);				/* used 3 */
	assert_true(vq_need_notify(&t->vq));

	/* event just behind the wrap, new well past it */
	set_used_event(t, 65535);
	cycle(t, 2);				/* used 5, old 3 */
	assert_false(vq_need_notify(&t->vq));
	assert_int_equal(vq_get_base(&t->vq), 5);
}

static void notify_flags(void **state)
{
	struct th_ring *t = *state;

	tg_setup(t, 8, 0);
	cycle(t, 1);
	assert_true(vq_need_notify(&t->vq));
	th_avail(t)[0] = htole16(1);		/* VRING_AVAIL_F_NO_INTERRUPT */
	cycle(t, 1);
	assert_false(vq_need_notify(&t->vq));
	th_avail(t)[0] = 0;
	assert_false(vq_need_notify(&t->vq));	/* nothing new since */
	cycle(t, 1);
	assert_true(vq_need_notify(&t->vq));
}

static void enable_disable_flags(void **state)
{
	struct th_ring *t = *state;

	tg_setup(t, 8, 0);
	vq_disable_notify(&t->vq);
	assert_int_equal(le16toh(th_used(t)[0]), 1);	/* VRING_USED_F_NO_NOTIFY */
	assert_int_equal(vq_enable_notify(&t->vq), 0);
	assert_int_equal(le16toh(th_used(t)[0]), 0);
	vq_disable_notify(&t->vq);
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 1, 0, 0);
	th_avail_put(t, 0);
	/* Made available while kicks were off: enable must report it. */
	assert_int_equal(vq_enable_notify(&t->vq), 1);
	assert_int_equal(le16toh(th_used(t)[0]), 0);
}

static void enable_event_idx(void **state)
{
	struct th_ring *t = *state;
	struct rec r = { 0 };
	struct vq_logger lg = { rec_mark, rec_flush, &r };

	tg_setup(t, 8, VQ_F_EVENT_IDX | VQ_F_LOG);
	vq_set_logger(&t->vq, &lg);
	vq_disable_notify(&t->vq);
	assert_int_equal(r.n, 0);		/* nothing to write with EVENT_IDX */
	assert_int_equal(le16toh(th_used(t)[0]), 0);
	cycle(t, 3);
	r.n = 0;
	assert_int_equal(vq_enable_notify(&t->vq), 0);
	assert_int_equal(get_avail_event(t), 3);
	/* avail_event is a write into guest memory: logged and flushed. */
	assert_true(rec_has(&r, LOG_BASE + 4 + 8 * 8, 2));
	assert_true(r.flushes > 0);
	vq_set_logger(&t->vq, NULL);
}

/* ---- logging ------------------------------------------------------------ */

static void log_used_ring(void **state)
{
	struct th_ring *t = *state;
	struct rec r = { 0 };
	struct vq_logger lg = { rec_mark, rec_flush, &r };
	struct vq_chain c;
	uint64_t b = th_alloc_buf(t, 64);

	tg_setup(t, 8, VQ_F_LOG);
	vq_set_logger(&t->vq, &lg);
	th_set_desc(t, TH_DESC_GPA, 2, b, 64, TH_F_WRITE, 0);
	th_avail_put(t, 2);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(vq_chain_write(&t->vq, &c, 4, "hello", 5), 5);
	assert_int_equal(vq_push(&t->vq, c.head, 9), 0);
	vq_publish(&t->vq);
	assert_true(rec_has(&r, b + 4, 5));			/* buffer, at its gpa */
	assert_true(rec_has(&r, LOG_BASE + 4, 8));		/* used elem 0 */
	assert_true(rec_has(&r, LOG_BASE + 2, 2));		/* used idx */
	assert_true(r.flushes >= 1);

	/* Without the LOG flag, used-ring writes are not logged; buffers still are. */
	vq_set_log_used(&t->vq, false, 0);
	r.n = 0;
	th_set_desc(t, TH_DESC_GPA, 3, b, 64, TH_F_WRITE, 0);
	th_avail_put(t, 3);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), 0);
	assert_int_equal(vq_chain_write(&t->vq, &c, 0, "x", 1), 1);
	assert_int_equal(vq_push(&t->vq, c.head, 1), 0);
	vq_publish(&t->vq);
	assert_int_equal(r.n, 1);
	assert_true(rec_has(&r, b, 1));

	/* Logging off: nothing. */
	vq_set_logger(&t->vq, NULL);
	cycle(t, 1);
	assert_int_equal(r.n, 1);
}

/* ---- counters ----------------------------------------------------------- */

static void counters(void **state)
{
	struct th_ring *t = *state;
	struct rec r = { 0 };
	struct vq_logger lg = { rec_mark, rec_flush, &r };
	struct vq_stats st;
	struct vq_chain c;

	tg_setup(t, 8, VQ_F_LOG);
	vq_set_logger(&t->vq, &lg);
	vq_count_kick(&t->vq);
	vq_count_kick(&t->vq);
	cycle(t, 3);
	assert_true(vq_need_notify(&t->vq));
	vq_count_frame(&t->vq, 1500);
	vq_count_drop(&t->vq);
	vq_count_no_bufs(&t->vq);
	h_loop(t);
	assert_int_equal(vq_pop(&t->vq, &t->mem, &c), -EIO);
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.kicks, 2);
	assert_int_equal(st.chains, 3);
	assert_int_equal(st.used, 3);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.bytes, 1500);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.no_bufs, 1);
	assert_int_equal(st.errors, 1);
	/* 3 used elements + used idx twice (before and after the store). */
	assert_int_equal(st.log_marks, 5);
	assert_int_equal(st.log_marks, r.n);
	assert_int_equal(st.log_bytes, 3 * 8 + 2 * 2);
	/* Counters survive a reset; the logger too. */
	vq_reset(&t->vq);
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.kicks, 2);
	vq_set_logger(&t->vq, NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_ring_create, th_ring_destroy)
#define H(name, c) { "hostile_" name, hostile_run, NULL, NULL, (void *)&(c) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(setup_ok),
		T(setup_refusals),
		T(setup_index_bounds),
		T(pop_push_basic),
		T(pop_across_regions),
		T(pop_truncated),
		T(pop_indirect),
		H("loop", H_LOOP),
		H("self_loop", H_SELF_LOOP),
		H("chain_longer_than_ring", H_LONG),
		H("next_out_of_range", H_NEXT),
		H("next_far_out_of_range", H_NEXT_FAR),
		H("head_out_of_range", H_HEAD),
		H("addr_outside_memory", H_ADDR),
		H("addr_partly_outside_memory", H_ADDR_PART),
		H("addr_len_overflow", H_OVERFLOW),
		H("readable_after_writable", H_ORDER),
		H("avail_idx_jump", H_JUMP),
		H("avail_idx_jump_far", H_JUMP_FAR),
		H("indirect_len_zero", H_IND_ZERO),
		H("indirect_len_not_multiple", H_IND_ODD),
		H("indirect_too_large", H_IND_BIG),
		H("indirect_table_outside", H_IND_OUT),
		H("indirect_nested", H_IND_NEST),
		H("indirect_with_next", H_IND_NEXT),
		H("indirect_loop", H_IND_LOOP),
		H("indirect_next_out_of_range", H_IND_RANGE),
		H("indirect_buffer_outside", H_IND_BUF),
		H("indirect_not_negotiated", H_IND_NEG),
		T(notify_event_idx),
		T(notify_event_idx_wrap),
		T(notify_flags),
		T(enable_disable_flags),
		T(enable_event_idx),
		T(log_used_ring),
		T(counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
