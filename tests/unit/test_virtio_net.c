/*
 * Unit tests for agent/datapath/virtio_net.c: TX and RX frames over a split
 * virtqueue in memfd guest memory, the test playing the guest driver.
 * Includes the migration-safety test: every byte RX writes into guest
 * memory is in the dirty log, and the log flushed, before used->idx moves.
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

#include "agent/datapath/virtio_net.h"
#include "agent/datapath/virtqueue.h"
#include "tests/helpers/testhelp_ring.h"

#define MEM_END (TH_GPA2 + TH_SZ2)

/* log_guest_addr = the used ring's gpa, as QEMU sets it. */
static void tg_setup(struct th_ring *t, unsigned num, uint32_t flags)
{
	t->num = num;
	t->avail_idx = 0;
	assert_int_equal(vq_setup(&t->vq, &t->mem, num, th_uva(TH_DESC_GPA), th_uva(TH_AVAIL_GPA),
				  th_uva(TH_USED_GPA), TH_USED_GPA, flags, 0), 0);
}

/* A buffer filled with 0xaa so that untouched bytes can be told apart. */
static uint64_t alloc_buf(struct th_ring *t, uint64_t len)
{
	uint64_t g = th_alloc_buf(t, len);

	memset(th_gp(t, g, len), 0xaa, len);
	return g;
}

/* A single-descriptor chain at slot head. */
static uint64_t post_buf(struct th_ring *t, uint16_t head, uint32_t len, uint16_t flags)
{
	uint64_t b = alloc_buf(t, len);

	th_set_desc(t, TH_DESC_GPA, head, b, len, flags, 0);
	th_avail_put(t, head);
	return b;
}

static void fill_frame(uint8_t *f, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The num_buffers field of a 12-byte header at gpa. */
static uint16_t num_buffers_at(struct th_ring *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, (uint8_t *)th_gp(t, gpa, 12) + 10, 2);
	return le16toh(v);
}

/* ---- TX ------------------------------------------------------------- */

static void hdr_len(void **state)
{
	(void)state;
	assert_int_equal(vnet_hdr_len(0), 10);
	assert_int_equal(vnet_hdr_len(1ull << VIRTIO_NET_F_MRG_RXBUF), 12);
	assert_int_equal(vnet_hdr_len(1ull << VIRTIO_F_VERSION_1), 12);
}

static void tx_roundtrip(void **state)
{
	struct th_ring *t = *state;
	uint8_t want[1000], got[2048];
	uint64_t h, p1, p2;
	size_t len = 0;
	uint32_t id, ulen;
	struct vq_stats st;

	tg_setup(t, 8, 0);
	fill_frame(want, sizeof(want), 1);
	h = alloc_buf(t, 12);
	p1 = alloc_buf(t, 300);
	p2 = alloc_buf(t, 700);
	memcpy(th_gp(t, p1, 300), want, 300);
	memcpy(th_gp(t, p2, 700), want + 300, 700);
	th_set_desc(t, TH_DESC_GPA, 5, h, 12, TH_F_NEXT, 2);
	th_set_desc(t, TH_DESC_GPA, 2, p1, 300, TH_F_NEXT, 7);
	th_set_desc(t, TH_DESC_GPA, 7, p2, 700, 0, 0);
	th_avail_put(t, 5);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), 0);
	assert_int_equal(len, 1000);
	assert_memory_equal(got, want, 1000);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EAGAIN);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 1);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(id, 5);
	assert_int_equal(ulen, 0);

	/* Legacy 10-byte header and payload in one descriptor (ANY_LAYOUT). */
	h = alloc_buf(t, 10 + 60);
	memcpy((uint8_t *)th_gp(t, h, 70) + 10, want, 60);
	th_set_desc(t, TH_DESC_GPA, 0, h, 70, 0, 0);
	th_avail_put(t, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 10, got, sizeof(got), &len), 0);
	assert_int_equal(len, 60);
	assert_memory_equal(got, want, 60);

	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.bytes, 1060);
	assert_int_equal(st.drops, 0);
}

static void tx_drops(void **state)
{
	struct th_ring *t = *state;
	uint8_t got[256];
	size_t len = 12345;
	uint64_t b;
	struct vq_stats st;
	uint32_t id, ulen;

	tg_setup(t, 512, 0);
	/* Writable buffer in a TX chain. */
	b = alloc_buf(t, 100);
	th_set_desc(t, TH_DESC_GPA, 0, b, 50, TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, b + 50, 50, TH_F_WRITE, 0);
	th_avail_put(t, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EINVAL);
	/* Larger than the caller's buffer. */
	post_buf(t, 2, 12 + 257, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EMSGSIZE);
	/* Header only, and shorter than a header. */
	post_buf(t, 3, 12, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EINVAL);
	post_buf(t, 4, 5, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EINVAL);
	/* More segments than a chain keeps. */
	b = alloc_buf(t, 400);
	for (unsigned i = 10; i < 310; i++)
		th_set_desc(t, TH_DESC_GPA, i, b + i, 1, i < 309 ? TH_F_NEXT : 0,
			    (uint16_t)(i + 1));
	th_avail_put(t, 10);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), -EMSGSIZE);
	assert_int_equal(len, 12345);		/* ret_len only written on success */

	/* Not broken: a good frame still goes through. */
	assert_false(vq_is_broken(&t->vq));
	post_buf(t, 5, 12 + 20, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), 0);
	assert_int_equal(len, 20);
	vq_publish(&t->vq);
	/* Every dropped chain went back to the guest, with nothing written. */
	assert_int_equal(th_used_idx(t), 6);
	for (uint16_t i = 0; i < 6; i++) {
		th_used_elem(t, i, &id, &ulen);
		assert_int_equal(ulen, 0);
	}
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.drops, 5);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 11, got, sizeof(got), &len), -EINVAL);
}

/* ---- RX ------------------------------------------------------------- */

static void rx_single(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[100];
	uint64_t h, d;
	uint32_t id, ulen;
	const uint8_t *p;

	tg_setup(t, 8, 0);
	fill_frame(frame, sizeof(frame), 3);
	/* Header in a descriptor of its own, then the data buffer. */
	h = alloc_buf(t, 12);
	d = alloc_buf(t, 2048);
	th_set_desc(t, TH_DESC_GPA, 6, h, 12, TH_F_WRITE | TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, d, 2048, TH_F_WRITE, 0);
	th_avail_put(t, 6);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, sizeof(frame)), 0);
	assert_int_equal(th_used_idx(t), 0);	/* the caller publishes */
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 1);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(id, 6);
	assert_int_equal(ulen, 112);
	p = th_gp(t, h, 12);
	assert_true(all_bytes(p, 10, 0));
	assert_int_equal(num_buffers_at(t, h), 1);	/* VERSION_1 without MRG_RXBUF */
	p = th_gp(t, d, 2048);
	assert_memory_equal(p, frame, 100);
	assert_true(all_bytes(p + 100, 2048 - 100, 0xaa));
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, 10), -EAGAIN);
}

static void rx_legacy_header(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[60];
	uint64_t b;
	uint32_t id, ulen;
	const uint8_t *p;

	tg_setup(t, 8, 0);
	fill_frame(frame, sizeof(frame), 4);
	b = post_buf(t, 0, 1600, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 10, false, frame, sizeof(frame)), 0);
	vq_publish(&t->vq);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(ulen, 70);
	p = th_gp(t, b, 1600);
	assert_true(all_bytes(p, 10, 0));
	assert_memory_equal(p + 10, frame, 60);
	assert_true(all_bytes(p + 70, 1600 - 70, 0xaa));
	/* A 10-byte header cannot carry num_buffers. */
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 10, true, frame, 1), -EINVAL);
}

static void rx_too_small(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[100];
	struct vq_stats st;

	tg_setup(t, 8, 0);
	fill_frame(frame, sizeof(frame), 5);
	post_buf(t, 0, 64, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, 100), -EMSGSIZE);
	/* The chain stays available for a frame that fits. */
	assert_int_equal(vq_get_base(&t->vq), 0);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, 52), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 1);
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.bytes, 52);
}

static void rx_mergeable_3(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[150], back[150];
	uint64_t b0, b1a, b1b, b2;
	uint32_t id, ulen;
	const uint8_t *p;

	tg_setup(t, 8, 0);
	fill_frame(frame, sizeof(frame), 6);
	b0 = post_buf(t, 3, 64, TH_F_WRITE);
	/* The second buffer is a two-descriptor chain. */
	b1a = alloc_buf(t, 32);
	b1b = alloc_buf(t, 32);
	th_set_desc(t, TH_DESC_GPA, 0, b1a, 32, TH_F_WRITE | TH_F_NEXT, 7);
	th_set_desc(t, TH_DESC_GPA, 7, b1b, 32, TH_F_WRITE, 0);
	th_avail_put(t, 0);
	b2 = post_buf(t, 5, 64, TH_F_WRITE);
	post_buf(t, 6, 64, TH_F_WRITE);		/* not needed */

	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 3);
	assert_int_equal(vq_get_base(&t->vq), 3);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(id, 3);
	assert_int_equal(ulen, 64);
	th_used_elem(t, 1, &id, &ulen);
	assert_int_equal(id, 0);
	assert_int_equal(ulen, 64);
	th_used_elem(t, 2, &id, &ulen);
	assert_int_equal(id, 5);
	assert_int_equal(ulen, 12 + 150 - 128);
	assert_int_equal(num_buffers_at(t, b0), 3);
	assert_true(all_bytes(th_gp(t, b0, 10), 10, 0));
	/* Reassemble as the guest would. */
	memcpy(back, (uint8_t *)th_gp(t, b0, 64) + 12, 52);
	memcpy(back + 52, th_gp(t, b1a, 32), 32);
	memcpy(back + 84, th_gp(t, b1b, 32), 32);
	memcpy(back + 116, th_gp(t, b2, 34), 34);
	assert_memory_equal(back, frame, 150);
	p = th_gp(t, b2, 64);
	assert_true(all_bytes(p + 34, 30, 0xaa));
}

static void rx_mergeable_eagain(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[150];
	uint64_t b0;
	uint32_t id, ulen;
	struct vq_stats st;

	tg_setup(t, 8, 0);
	fill_frame(frame, sizeof(frame), 7);
	b0 = post_buf(t, 0, 64, TH_F_WRITE);
	post_buf(t, 1, 64, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), -EAGAIN);
	/* Nothing consumed, nothing pushed. */
	assert_int_equal(vq_get_base(&t->vq), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 0);
	vq_get_stats(&t->vq, &st);
	assert_int_equal(st.no_bufs, 1);
	assert_int_equal(st.chains, 0);
	assert_int_equal(st.used, 0);

	post_buf(t, 2, 64, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 3);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(id, 0);
	assert_int_equal(num_buffers_at(t, b0), 3);
}

static void rx_mergeable_too_many(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[200];

	/* A 4-entry ring of 16-byte buffers can never hold 212 bytes. */
	tg_setup(t, 4, 0);
	fill_frame(frame, sizeof(frame), 8);
	for (uint16_t i = 0; i < 4; i++)
		post_buf(t, i, 16, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), -EMSGSIZE);
	assert_int_equal(vq_get_base(&t->vq), 0);
	assert_false(vq_is_broken(&t->vq));
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, 30), 0);
	assert_int_equal(vq_get_base(&t->vq), 3);
}

static void rx_readable_chain(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[20] = { 0 };

	tg_setup(t, 8, 0);
	post_buf(t, 0, 64, 0);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, sizeof(frame)), -EIO);
	assert_true(vq_is_broken(&t->vq));
	assert_string_equal(vq_reason(&t->vq), "RX chain with readable buffers");
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, sizeof(frame)), -EIO);
}

static void rx_buffer_below_header(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[100] = { 0 };

	tg_setup(t, 8, 0);
	post_buf(t, 0, 64, TH_F_WRITE);
	post_buf(t, 1, 8, TH_F_WRITE);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), -EIO);
	assert_string_equal(vq_reason(&t->vq), "RX buffer smaller than the virtio-net header");
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 0);
}

static void rx_tx_indirect(void **state)
{
	struct th_ring *t = *state;
	uint8_t frame[1500], got[2048];
	uint64_t h, d;
	size_t len;
	uint32_t id, ulen;

	tg_setup(t, 8, VQ_F_INDIRECT);
	fill_frame(frame, sizeof(frame), 9);
	h = alloc_buf(t, 12);
	d = alloc_buf(t, 1600);
	th_set_desc(t, TH_INDIR_GPA, 0, h, 12, TH_F_WRITE | TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA, 1, d, 1600, TH_F_WRITE, 0);
	th_set_desc(t, TH_DESC_GPA, 2, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
	th_avail_put(t, 2);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), 0);
	vq_publish(&t->vq);
	th_used_elem(t, 0, &id, &ulen);
	assert_int_equal(id, 2);
	assert_int_equal(ulen, 1512);
	assert_int_equal(num_buffers_at(t, h), 1);
	assert_memory_equal(th_gp(t, d, 1500), frame, 1500);

	/* And send the same bytes back out through an indirect TX chain. */
	th_set_desc(t, TH_INDIR_GPA + 0x100, 0, h, 12, TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA + 0x100, 1, d, 1500, 0, 0);
	th_set_desc(t, TH_DESC_GPA, 4, TH_INDIR_GPA + 0x100, 32, TH_F_INDIRECT, 0);
	th_avail_put(t, 4);
	assert_int_equal(vnet_tx_pop(&t->vq, &t->mem, 12, got, sizeof(got), &len), 0);
	assert_int_equal(len, 1500);
	assert_memory_equal(got, frame, 1500);
}

/* ---- dirty logging order ------------------------------------------------ */

/*
 * A logger that checks, at every mark, that used->idx in guest memory has
 * not moved yet (the only mark allowed after the store is the re-mark of
 * used->idx itself), and keeps a byte map of what was marked in time.
 */
struct olog {
	struct th_ring *t;
	uint16_t idx_before;
	uint8_t *map;		/* one byte per guest byte in [TH_GPA1, MEM_END) */
	bool late;		/* a mark after the store */
	bool outside;		/* a mark outside guest memory */
	bool unflushed;		/* marks made in time but not flushed in time */
	unsigned marks, flushes;
};

static void olog_mark(void *opaque, uint64_t gpa, uint64_t len)
{
	struct olog *o = opaque;

	o->marks++;
	if (th_used_idx(o->t) != o->idx_before) {
		if (!(gpa == TH_USED_GPA + 2 && len == 2))
			o->late = true;
		return;
	}
	if (gpa < TH_GPA1 || gpa > MEM_END || len > MEM_END - gpa) {
		o->outside = true;
		return;
	}
	memset(o->map + (gpa - TH_GPA1), 1, len);
	o->unflushed = true;
}

static void olog_flush(void *opaque)
{
	struct olog *o = opaque;

	o->flushes++;
	if (th_used_idx(o->t) == o->idx_before)
		o->unflushed = false;
}

static bool olog_covered(const struct olog *o, uint64_t gpa, uint64_t len)
{
	return all_bytes(o->map + (gpa - TH_GPA1), len, 1);
}

static void rx_log_order(void **state)
{
	struct th_ring *t = *state;
	struct olog o = { .t = t };
	struct vq_logger lg = { olog_mark, olog_flush, &o };
	uint8_t frame[150];
	uint64_t b0, b1, b2, s;

	o.map = calloc(1, MEM_END - TH_GPA1);
	assert_non_null(o.map);
	tg_setup(t, 8, VQ_F_LOG);
	vq_set_logger(&t->vq, &lg);
	fill_frame(frame, sizeof(frame), 10);

	/* Mergeable across three buffers; the middle one spans two regions. */
	b0 = post_buf(t, 0, 64, TH_F_WRITE);
	b1 = TH_GPA2 - 20;
	th_set_desc(t, TH_DESC_GPA, 1, b1, 64, TH_F_WRITE, 0);
	th_avail_put(t, 1);
	b2 = post_buf(t, 2, 64, TH_F_WRITE);
	o.idx_before = th_used_idx(t);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, true, frame, sizeof(frame)), 0);
	vq_publish(&t->vq);
	assert_int_equal(th_used_idx(t), 3);

	assert_false(o.late);
	assert_false(o.outside);
	assert_false(o.unflushed);
	assert_true(olog_covered(&o, b0, 64));		/* header + 52 bytes */
	assert_true(olog_covered(&o, b1, 64));		/* 20 + 44 over the region edge */
	assert_true(olog_covered(&o, b2, 12 + 150 - 128));
	for (s = 0; s < 3; s++)
		assert_true(olog_covered(&o, TH_USED_GPA + 4 + 8 * s, 8));
	assert_true(olog_covered(&o, TH_USED_GPA + 2, 2));
	/* And nothing the device did not write. */
	assert_false(olog_covered(&o, b2 + 34, 1));
	assert_true(o.flushes >= 1);

	/* A second frame in the same ring: the used ring wraps its slot count. */
	memset(o.map, 0, MEM_END - TH_GPA1);
	b0 = post_buf(t, 4, 2048, TH_F_WRITE);
	o.idx_before = th_used_idx(t);
	assert_int_equal(vnet_rx_push(&t->vq, &t->mem, 12, false, frame, 100), 0);
	vq_publish(&t->vq);
	assert_false(o.late);
	assert_false(o.unflushed);
	assert_true(olog_covered(&o, b0, 112));
	assert_true(olog_covered(&o, TH_USED_GPA + 4 + 8 * 3, 8));
	assert_true(olog_covered(&o, TH_USED_GPA + 2, 2));

	vq_set_logger(&t->vq, NULL);
	free(o.map);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_ring_create, th_ring_destroy)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr_len),
		T(tx_roundtrip),
		T(tx_drops),
		T(rx_single),
		T(rx_legacy_header),
		T(rx_too_small),
		T(rx_mergeable_3),
		T(rx_mergeable_eagain),
		T(rx_mergeable_too_many),
		T(rx_readable_chain),
		T(rx_buffer_below_header),
		T(rx_tx_indirect),
		T(rx_log_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
