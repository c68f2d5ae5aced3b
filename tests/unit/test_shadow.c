/*
 * Unit tests for agent/daemon/shadow.c, the shadow rings and their relay.
 * The test plays both the guest driver (its rings in memfd guest memory,
 * tests/helpers/testhelp_ring.h) and the device (the shadow rings, read and
 * written through a mapping of shadow_fd() as a device's DMA would).  The
 * promise checked: a chain reaches the device unchanged at the guest's
 * index, and when the device completes it, every device-writable buffer,
 * the guest's used element and its used index are in QEMU's log before the
 * guest's used index moves; hostile guest rings and device used rings
 * break the ring with a reason, nothing else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "agent/daemon/shadow.h"
#include "dirtylog/dirtylog.h"
#include "tests/helpers/testhelp_ring.h"

#define NUM 8u
#define IOVA 0x40000000ull		/* above the test's guest memory */
#define SPAN (TH_GPA2 + TH_SZ2)

struct dev {				/* the device's view of the shadow rings */
	uint8_t *mem;
	uint64_t size;
	uint8_t *desc;
	uint16_t *avail, *used;
};

static void dev_map(struct shadow *s, unsigned ring, struct dev *d)
{
	uint64_t di, ai, ui;

	d->size = shadow_size(s);
	d->mem = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, shadow_fd(s), 0);
	assert_true(d->mem != MAP_FAILED);
	shadow_ring_iovas(s, ring, &di, &ai, &ui);
	assert_true(di >= IOVA && ai >= IOVA && ui >= IOVA);
	assert_true(ui - IOVA + 4 + 8 * NUM <= d->size);
	d->desc = d->mem + (di - IOVA);
	d->avail = (uint16_t *)(d->mem + (ai - IOVA));
	d->used = (uint16_t *)(d->mem + (ui - IOVA));
}

static void dev_unmap(struct dev *d)
{
	munmap(d->mem, d->size);
}

/* The device completes head with len bytes written at its used index. */
static void dev_use(struct dev *d, uint16_t head, uint32_t len)
{
	uint16_t idx = d->used[1];
	uint32_t *e = (uint32_t *)((uint8_t *)d->used + 4 + 8 * (idx % NUM));

	e[0] = head;
	e[1] = len;
	__atomic_store_n(&d->used[1], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static struct shadow *new_shadow_ev(struct th_ring *t, uint16_t base, bool event_idx)
{
	struct shadow_ring_cfg cfg[2] = {
		{ 0 },	/* ring 0 unused: ring 1 must not depend on it */
		{ .num = NUM, .desc_gpa = TH_DESC_GPA, .avail_gpa = TH_AVAIL_GPA,
		  .used_gpa = TH_USED_GPA, .base = base, .event_idx = event_idx },
	};
	struct shadow *s;

	t->num = NUM;
	t->avail_idx = base;
	th_avail_set_idx(t, base);
	th_used(t)[1] = base;
	assert_int_equal(shadow_new(cfg, 2, IOVA, &s), 0);
	return s;
}

static struct shadow *new_shadow(struct th_ring *t, uint16_t base)
{
	return new_shadow_ev(t, base, false);
}

static bool logged(struct dirtylog *log, uint64_t gpa)
{
	return dirtylog_test_page(log, gpa >> 12);
}

/* A receive chain: a header the device reads, a buffer it writes across pages. */
static void relay_marks_before_publish(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s = new_shadow(t, 0);
	struct dirtylog *log;
	struct dev d;
	uint64_t hdr = TH_BUF_GPA, buf = TH_BUF_GPA + 0x3000 - 100;
	uint32_t id, len;

	assert_int_equal(dirtylog_new(SPAN, 12, &log), 0);
	dev_map(s, 1, &d);
	th_set_desc(t, TH_DESC_GPA, 3, hdr, 12, TH_F_NEXT, 5);
	th_set_desc(t, TH_DESC_GPA, 5, buf, 300, TH_F_WRITE, 0);
	th_avail_put(t, 3);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 0);	/* nothing new */
	/* The device sees the chain at the guest's index, descriptors unchanged. */
	assert_int_equal(d.avail[1], 1);
	assert_int_equal(d.avail[2], 3);
	assert_memory_equal(d.desc + 16 * 3, th_gp(t, TH_DESC_GPA + 16 * 3, 16), 16);
	assert_memory_equal(d.desc + 16 * 5, th_gp(t, TH_DESC_GPA + 16 * 5, 16), 16);
	/* Not completed: the guest sees nothing and nothing is logged. */
	assert_int_equal(shadow_complete(s, 1, &t->mem, log), 0);
	assert_int_equal(th_used_idx(t), 0);
	assert_int_equal(dirtylog_count(log), 0);

	dev_use(&d, 3, 200);
	assert_int_equal(shadow_complete(s, 1, &t->mem, log), 1);
	assert_int_equal(th_used_idx(t), 1);
	th_used_elem(t, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 200);
	/* The written buffer's two pages, the used ring's page; not the header's. */
	assert_true(logged(log, buf));
	assert_true(logged(log, buf + 299));
	assert_true(logged(log, TH_USED_GPA));
	assert_false(logged(log, hdr));
	assert_int_equal(dirtylog_count(log), 3);
	assert_int_equal(shadow_relayed(s), 1);
	/* The head may come again once used. */
	th_avail_put(t, 3);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	dev_unmap(&d);
	dirtylog_free(log);
	shadow_free(s);
}

static void expect_broken(struct shadow *s, int r, const char *why);

/* A buffer across two regions adjacent in guest-physical space is guest memory. */
static void buffer_across_regions(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s = new_shadow(t, 0);
	struct dirtylog *log;
	struct dev d;
	uint64_t buf = TH_GPA2 - 0x800;

	assert_int_equal(dirtylog_new(SPAN, 12, &log), 0);
	dev_map(s, 1, &d);
	th_set_desc(t, TH_DESC_GPA, 0, buf, 0x1000, TH_F_WRITE, 0);
	th_avail_put(t, 0);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	dev_use(&d, 0, 0x1000);
	assert_int_equal(shadow_complete(s, 1, &t->mem, log), 1);
	assert_true(logged(log, buf));
	assert_true(logged(log, TH_GPA2));
	/* One byte past the last region is not. */
	th_set_desc(t, TH_DESC_GPA, 1, TH_GPA2 + TH_SZ2 - 8, 16, TH_F_WRITE, 0);
	th_avail_put(t, 1);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "outside guest memory");
	dev_unmap(&d);
	dirtylog_free(log);
	shadow_free(s);
}

/* Indexes start at the base and wrap; no log: nothing marked, all relayed. */
static void base_and_wrap(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s = new_shadow(t, 65533);
	struct dev d;

	dev_map(s, 1, &d);
	assert_int_equal(d.avail[1], 65533);
	assert_int_equal(d.used[1], 65533);
	for (unsigned k = 0; k < 6; k++) {
		th_set_desc(t, TH_DESC_GPA, k, th_alloc_buf(t, 64), 64, TH_F_WRITE, 0);
		th_avail_put(t, (uint16_t)k);
	}
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 6);
	assert_int_equal(d.avail[1], (uint16_t)(65533 + 6));
	for (unsigned k = 0; k < 6; k++)
		dev_use(&d, (uint16_t)k, 64);
	assert_int_equal(shadow_complete(s, 1, &t->mem, NULL), 6);
	assert_int_equal(th_used_idx(t), 3);
	assert_false(shadow_broken(s, 1));
	dev_unmap(&d);
	shadow_free(s);
}

/* An indirect table: its writable entries are marked at completion. */
static void indirect_marked(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s = new_shadow(t, 0);
	struct dirtylog *log;
	struct dev d;
	uint64_t b1 = TH_BUF_GPA + 0x5000, b2 = TH_BUF_GPA + 0x8000;

	assert_int_equal(dirtylog_new(SPAN, 12, &log), 0);
	dev_map(s, 1, &d);
	th_set_desc(t, TH_INDIR_GPA, 0, b1, 16, TH_F_NEXT, 1);
	th_set_desc(t, TH_INDIR_GPA, 1, b2, 16, TH_F_WRITE, 0);
	th_set_desc(t, TH_DESC_GPA, 0, TH_INDIR_GPA, 32, TH_F_INDIRECT, 0);
	th_avail_put(t, 0);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	dev_use(&d, 0, 16);
	assert_int_equal(shadow_complete(s, 1, &t->mem, log), 1);
	assert_true(logged(log, b2));
	assert_false(logged(log, b1));
	dev_unmap(&d);
	dirtylog_free(log);
	shadow_free(s);
}

/*
 * The guest's side of notifications is the relay's: a NO_NOTIFY left in the
 * guest's used flags by the device is cleared, and with EVENT_IDX the
 * guest is asked to kick for the next buffer after each pass; both writes
 * are guest memory, so both are logged.
 */
static void guest_asked_to_kick(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s = new_shadow_ev(t, 10, true);
	uint16_t *used = th_used(t);
	struct dirtylog *log;

	assert_int_equal(dirtylog_new(SPAN, 12, &log), 0);
	used[0] = 1;			/* VRING_USED_F_NO_NOTIFY, as a device left it */
	used[2 + 4 * NUM] = 3;		/* a stale avail_event */
	assert_int_equal(shadow_forward(s, 1, &t->mem, log), 0);
	assert_int_equal(used[0], 0);
	assert_int_equal(used[2 + 4 * NUM], 10);
	assert_true(logged(log, TH_USED_GPA));
	dirtylog_clear(log);
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 16, TH_F_WRITE, 0);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA, 16, TH_F_WRITE, 0);
	th_avail_put(t, 0);
	th_avail_put(t, 1);
	assert_int_equal(shadow_forward(s, 1, &t->mem, log), 2);
	assert_int_equal(used[2 + 4 * NUM], 12);
	assert_true(logged(log, TH_USED_GPA + 4 + 8 * NUM));
	dirtylog_free(log);
	shadow_free(s);
}

static void expect_broken(struct shadow *s, int r, const char *why)
{
	assert_int_equal(r, -EIO);
	assert_true(shadow_broken(s, 1));
	if (!strstr(shadow_error(s), why))
		fail_msg("error '%s' does not say '%s'", shadow_error(s), why);
	/* Broken stays broken. */
	assert_int_equal(shadow_forward(s, 1, NULL, NULL), -EIO);
}

static void hostile_guest(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s;

	/* A chain that loops. */
	s = new_shadow(t, 0);
	th_set_desc(t, TH_DESC_GPA, 0, TH_BUF_GPA, 16, TH_F_NEXT, 1);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA, 16, TH_F_NEXT, 0);
	th_avail_put(t, 0);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "loops");
	shadow_free(s);
	/* A head beyond the ring. */
	s = new_shadow(t, 0);
	th_avail_put(t, NUM);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "names head 8");
	shadow_free(s);
	/* A buffer outside guest memory. */
	s = new_shadow(t, 0);
	th_set_desc(t, TH_DESC_GPA, 2, 0x7000000000ull, 16, TH_F_WRITE, 0);
	th_avail_put(t, 2);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "outside guest memory");
	shadow_free(s);
	/* An avail index more than a ring ahead. */
	s = new_shadow(t, 0);
	th_avail_set_idx(t, NUM + 1);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "ahead");
	shadow_free(s);
	/* A head made available while in flight. */
	s = new_shadow(t, 0);
	th_set_desc(t, TH_DESC_GPA, 4, TH_BUF_GPA, 16, TH_F_WRITE, 0);
	th_avail_put(t, 4);
	th_avail_put(t, 4);
	expect_broken(s, shadow_forward(s, 1, &t->mem, NULL), "twice");
	shadow_free(s);
}

static void hostile_device(void **state)
{
	struct th_ring *t = *state;
	struct shadow *s;
	struct dev d;

	/* Used a head it was never given. */
	s = new_shadow(t, 0);
	dev_map(s, 1, &d);
	th_set_desc(t, TH_DESC_GPA, 1, TH_BUF_GPA, 16, TH_F_WRITE, 0);
	th_avail_put(t, 1);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	dev_use(&d, 2, 16);
	expect_broken(s, shadow_complete(s, 1, &t->mem, NULL), "not in flight");
	assert_int_equal(th_used_idx(t), 0);	/* the guest saw nothing */
	dev_unmap(&d);
	shadow_free(s);
	/* A used index beyond what is in flight. */
	s = new_shadow(t, 0);
	dev_map(s, 1, &d);
	th_avail_put(t, 1);
	assert_int_equal(shadow_forward(s, 1, &t->mem, NULL), 1);
	__atomic_store_n(&d.used[1], 5, __ATOMIC_RELEASE);
	expect_broken(s, shadow_complete(s, 1, &t->mem, NULL), "in flight");
	dev_unmap(&d);
	shadow_free(s);
}

static void refusals(void **state)
{
	struct shadow_ring_cfg cfg = { .num = 6 };
	struct shadow *s;

	(void)state;
	assert_int_equal(shadow_new(&cfg, 1, IOVA, &s), -EINVAL);	/* not a power of two */
	cfg.num = 8;
	assert_int_equal(shadow_new(&cfg, 1, IOVA + 1, &s), -EINVAL);	/* unaligned IOVA */
	assert_int_equal(shadow_new(&cfg, SHADOW_MAX_RINGS + 1, IOVA, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(relay_marks_before_publish, th_ring_create,
						th_ring_destroy),
		cmocka_unit_test_setup_teardown(base_and_wrap, th_ring_create, th_ring_destroy),
		cmocka_unit_test_setup_teardown(buffer_across_regions, th_ring_create,
						th_ring_destroy),
		cmocka_unit_test_setup_teardown(indirect_marked, th_ring_create, th_ring_destroy),
		cmocka_unit_test_setup_teardown(guest_asked_to_kick, th_ring_create,
						th_ring_destroy),
		cmocka_unit_test_setup_teardown(hostile_guest, th_ring_create, th_ring_destroy),
		cmocka_unit_test_setup_teardown(hostile_device, th_ring_create, th_ring_destroy),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
