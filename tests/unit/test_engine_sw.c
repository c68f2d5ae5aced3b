// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for agent/daemon/engine_sw.c: a real worker on a loop endpoint, the
 * test playing the guest driver in memfd-backed guest memory.
 *
 * What is checked is what QEMU would see in its dirty log at the moments
 * the pause protocol promises (docs/architecture.md): after a pause every
 * write the worker made into guest memory is in the log.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/datapath/endpoint.h"
#include "agent/daemon/engine_sw.h"
#include "agent/datapath/guest_mem.h"
#include "agent/datapath/virtio_net.h"
#include "agent/daemon/vu_dev.h"
#include "dirtylog/dirtylog.h"
#include "tests/helpers/testhelp.h"

#define MEM_SIZE 0x100000ull
#define UVA 0x10000000ull
/* Per ring: descriptors, avail, used; RX is ring 0, TX ring 1. */
#define DESC(r) (0x0000ull + 0x8000ull * (r))
#define AVAIL(r) (0x1000ull + 0x8000ull * (r))
#define USED(r) (0x2000ull + 0x8000ull * (r))
#define TX_BUF 0x20000ull
#define RX_BUF 0x50000ull	/* page 0x50, beyond a log of one word (256 KiB) */
#define NUM 8u

struct t {
	struct vu_dev d;
	struct endpoint *ep;
	struct engine_sw *e;
	struct dirtylog *log;
};

static void *gpa(struct t *t, uint64_t a, uint64_t len)
{
	void *p = guest_mem_gpa_range(&t->d.mem, a, len);

	assert_non_null(p);
	return p;
}

static void set_desc(struct t *t, unsigned r, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags)
{
	uint8_t *p = gpa(t, DESC(r) + 16ull * i, 16);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = 0;

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

static void offer(struct t *t, unsigned r, uint16_t head, uint16_t idx)
{
	uint16_t *a = gpa(t, AVAIL(r), 4 + 2 * NUM);

	a[2 + (idx - 1) % NUM] = htole16(head);
	__atomic_store_n(&a[1], htole16(idx), __ATOMIC_RELEASE);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * One queue pair, mergeable RX buffers, QEMU's log over log_span bytes,
 * the worker spinning (poll=on: it never goes idle, so nothing but the
 * pause protocol flushes what it cached).
 */
static void setup(struct t *t, uint64_t log_span)
{
	char err[128];

	memset(t, 0, sizeof(*t));
	vu_dev_init(&t->d, "t0", 0, 0, 1, &engine_sw_ops, NULL);
	assert_int_equal(th_guest_region(&t->d.mem, 0, MEM_SIZE, UVA), 0);
	t->d.features = VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			VU_BIT(VU_F_LOG_ALL);
	t->d.features_set = true;
	assert_int_equal(dirtylog_new(log_span, DIRTYLOG_QEMU_PAGE_SHIFT, &t->log), 0);
	t->d.log = t->log;
	t->d.log_all = true;
	for (unsigned r = 0; r < 2; r++) {
		struct vu_ring_cfg *rc = &t->d.ring[r];

		rc->num = NUM;
		rc->addr.desc_user_addr = UVA + DESC(r);
		rc->addr.avail_user_addr = UVA + AVAIL(r);
		rc->addr.used_user_addr = UVA + USED(r);
		rc->addr_set = true;
		rc->kick_set = true;
		rc->enabled = true;
	}
	assert_int_equal(endpoint_open(PORT_ENDPOINT_LOOP, NULL, 1, &t->ep, err, sizeof(err)), 0);
	assert_int_equal(engine_sw_new("t0", &t->d, t->ep, true, &t->e), 0);
	t->d.opaque = t->e;
}

/* As the port does: stop the rings while the engine exists (frees the log). */
static void teardown(struct t *t)
{
	vu_dev_reset(&t->d);
	engine_sw_free(t->e);
	endpoint_close(t->ep);
}

/*
 * The guest sends one 1000-byte frame (the loop endpoint brings it back)
 * and offers one 100-byte receive buffer: the worker writes the first part
 * of the frame into it, finds no second buffer, gives the first back
 * (-EAGAIN) and keeps the frame for later.  Waits until it tried.
 */
static void frame_into_too_few_buffers(struct t *t)
{
	uint8_t *tx = gpa(t, TX_BUF, VNET_HDR_LEN + 1000);
	struct engine_ring_info ri;
	int i;

	memset(tx, 0, VNET_HDR_LEN);
	memset(tx + VNET_HDR_LEN, 0x5a, 1000);
	set_desc(t, 1, 0, TX_BUF, VNET_HDR_LEN + 1000, 0);
	set_desc(t, 0, 0, RX_BUF, VNET_HDR_LEN + 100, 2 /* WRITE */);
	offer(t, 0, 0, 1);
	assert_int_equal(engine_sw_ops.ring_start(t->e, 0), 0);
	assert_int_equal(engine_sw_ops.ring_start(t->e, 1), 0);
	t->d.ring[0].started = t->d.ring[1].started = true;
	offer(t, 1, 0, 1);
	for (i = 0; i < 2000; i++) {
		engine_sw_ring_info(t->e, 0, &ri);
		if (ri.stats.no_bufs >= 2)
			break;
		sleep_ms(1);
	}
	assert_true(ri.stats.no_bufs >= 2);
	/* The buffer was written (and its chain given back, not used). */
	assert_int_equal(((uint8_t *)gpa(t, RX_BUF, VNET_HDR_LEN + 100))[VNET_HDR_LEN], 0x5a);
	assert_int_equal(ri.used, 0);
}

/*
 * A chain written and then given back unpublished: the write is in guest
 * memory all the same, so its page must be in QEMU's log once the worker
 * is paused (GET_VRING_BASE, a new log, the end of the migration all come
 * through a pause), and a resume must not lose it either.
 */
static void pause_flushes_marks_of_unpopped_chains(void **state)
{
	struct t t;

	(void)state;
	setup(&t, MEM_SIZE);
	frame_into_too_few_buffers(&t);
	engine_sw_ops.pause(t.e);
	assert_true(dirtylog_test_page(t.log, RX_BUF >> 12));
	engine_sw_ops.resume(t.e);
	assert_true(dirtylog_test_page(t.log, RX_BUF >> 12));
	assert_int_equal(engine_sw_log_errors(t.e), 0);
	teardown(&t);
}

/* Writes beyond QEMU's log cannot be marked: counted, for port show. */
static void log_errors_counted(void **state)
{
	struct t t;

	(void)state;
	setup(&t, 0x40000);	/* one word of log: the receive buffer lies beyond */
	frame_into_too_few_buffers(&t);
	engine_sw_ops.pause(t.e);
	assert_true(engine_sw_log_errors(t.e) >= 1);
	engine_sw_ops.resume(t.e);
	teardown(&t);
}

/*
 * A front end with F_STATUS (QEMU): rings started before DRIVER_OK are
 * not served (the virtio rule; a destination's rings then start with one
 * pause of the worker, not one each), nor is a call fd swap a pause;
 * DRIVER_OK starts them all.  A ring stopped before DRIVER_OK answers the
 * base it was given.
 */
static void rings_wait_for_driver_ok(void **state)
{
	struct engine_ring_info ri;
	uint16_t base = 0;
	struct t t;

	(void)state;
	setup(&t, MEM_SIZE);
	t.d.protocol_features |= VU_PF(VU_PROTO_F_STATUS);
	for (unsigned r = 0; r < 2; r++) {
		assert_int_equal(engine_sw_ops.ring_start(t.e, r), 0);
		t.d.ring[r].started = true;
		assert_int_equal(engine_sw_ops.ring_call_changed(t.e, r), 0);
	}
	engine_sw_ops.settle(t.e);
	for (unsigned r = 0; r < 2; r++) {
		engine_sw_ring_info(t.e, r, &ri);
		assert_false(ri.running);
	}
	t.d.ring[1].base = 7;
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 1, &base), 0);
	t.d.ring[1].started = false;
	assert_int_equal(base, 7);

	t.d.status = VU_STATUS_DRIVER_OK;
	engine_sw_ops.settle(t.e);
	engine_sw_ring_info(t.e, 0, &ri);
	assert_true(ri.running);
	engine_sw_ring_info(t.e, 1, &ri);
	assert_false(ri.running);
	/* A running ring's call fd goes through a pause. */
	assert_int_not_equal(engine_sw_ops.ring_call_changed(t.e, 0), 0);
	assert_int_equal(engine_sw_ops.ring_start(t.e, 1), 0);
	t.d.ring[1].started = true;
	engine_sw_ring_info(t.e, 1, &ri);
	assert_true(ri.running);
	teardown(&t);
}

/*
 * A worker serving no ring parks itself: a destination's first start (and
 * any pause of an idle port) is no handshake with a thread that may wait
 * for a core inside the downtime.  Stopping a running ring still is one.
 */
static void wait_parked(struct t *t, bool parked)
{
	for (unsigned i = 0; i < 10000 && engine_sw_parked(t->e) != parked; i++)
		usleep(1000);
	assert_int_equal(engine_sw_parked(t->e), parked);
}

static void idle_worker_needs_no_handshake(void **state)
{
	struct engine_ring_info ri;
	uint16_t base = 0;
	uint64_t h0;
	struct t t;

	(void)state;
	setup(&t, MEM_SIZE);
	t.d.protocol_features |= VU_PF(VU_PROTO_F_STATUS);
	wait_parked(&t, true);
	h0 = engine_sw_handshakes(t.e);
	for (unsigned r = 0; r < 2; r++) {
		assert_int_equal(engine_sw_ops.ring_start(t.e, r), 0);
		t.d.ring[r].started = true;
	}
	t.d.status = VU_STATUS_DRIVER_OK;
	engine_sw_ops.settle(t.e);
	for (unsigned r = 0; r < 2; r++) {
		engine_sw_ring_info(t.e, r, &ri);
		assert_true(ri.running);
	}
	assert_int_equal(engine_sw_handshakes(t.e), h0);
	/*
	 * Serving (once it woke): the first stop waits for the worker and
	 * stops the queue pair's other ring with it, whose stop then answers
	 * without waiting; the worker parks again.
	 */
	wait_parked(&t, false);
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 0, &base), 0);
	assert_int_equal(engine_sw_handshakes(t.e), h0 + 1);
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 1, &base), 0);
	assert_int_equal(engine_sw_handshakes(t.e), h0 + 1);
	wait_parked(&t, true);
	engine_sw_ops.pause(t.e);
	engine_sw_ops.resume(t.e);
	assert_int_equal(engine_sw_ops.ring_start(t.e, 0), 0);
	assert_int_equal(engine_sw_handshakes(t.e), h0 + 1);
	teardown(&t);
}

/*
 * A ring stopped with its sibling (the first GET_VRING_BASE of a queue
 * pair) answers its own stop with its position at that pause, where it
 * stays: frames the guest makes available meanwhile are not taken.  If a
 * request of another kind comes first (a lone stop: a ring disabled, say),
 * it is served again from there.
 */
static void sibling_stops_with_its_ring(void **state)
{
	struct engine_ring_info ri;
	uint16_t base = 99;
	struct t t;

	(void)state;
	setup(&t, MEM_SIZE);
	t.d.protocol_features |= VU_PF(VU_PROTO_F_STATUS);
	t.d.status = VU_STATUS_DRIVER_OK;
	for (unsigned r = 0; r < 2; r++) {
		assert_int_equal(engine_sw_ops.ring_start(t.e, r), 0);
		t.d.ring[r].started = true;
	}
	/* Ring 1 (transmit) stops; ring 0 with it. */
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 1, &base), 0);
	assert_int_equal(base, 0);
	t.d.ring[1].started = false;
	engine_sw_ring_info(t.e, 0, &ri);
	assert_false(ri.running);
	/* Another request: ring 0 is served again. */
	engine_sw_ops.settle(t.e);
	engine_sw_ring_info(t.e, 0, &ri);
	assert_true(ri.running);
	engine_sw_ring_info(t.e, 1, &ri);
	assert_false(ri.running);

	/* Ring 1 again, at base 0; both stop in a row now, each at its position. */
	assert_int_equal(engine_sw_ops.ring_start(t.e, 1), 0);
	t.d.ring[1].started = true;
	base = 99;
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 0, &base), 0);
	assert_int_equal(base, 0);
	engine_sw_ring_info(t.e, 1, &ri);
	assert_false(ri.running);
	/* A frame the guest sends now stays in the stopped ring (the worker spins: it would take it). */
	memset(gpa(&t, TX_BUF, VNET_HDR_LEN + 60), 0, VNET_HDR_LEN + 60);
	set_desc(&t, 1, 0, TX_BUF, VNET_HDR_LEN + 60, 0);
	offer(&t, 1, 0, 1);
	sleep_ms(50);
	base = 99;
	assert_int_equal(engine_sw_ops.ring_stop(t.e, 1, &base), 0);
	assert_int_equal(base, 0);
	/* Nothing left held: another request starts nothing. */
	engine_sw_ops.settle(t.e);
	for (unsigned r = 0; r < 2; r++) {
		engine_sw_ring_info(t.e, r, &ri);
		assert_false(ri.running);
	}
	teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pause_flushes_marks_of_unpopped_chains),
		cmocka_unit_test(log_errors_counted),
		cmocka_unit_test(rings_wait_for_driver_ok),
		cmocka_unit_test(idle_worker_needs_no_handshake),
		cmocka_unit_test(sibling_stops_with_its_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
