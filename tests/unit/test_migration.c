/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The migration bookkeeping (agent/daemon/migration.c): when a port counts
 * as quiesced and its final harvest as done, through the events vu_dev.c
 * and port.c feed it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/daemon/migration.h"
#include "protocol/vhost_user.h"

static void nothing_ran(void **state)
{
	struct migration m;

	(void)state;
	mig_reset(&m);
	/* Nothing to hand over is not a finished hand-over. */
	assert_false(mig_quiesced(&m));
	assert_false(mig_final_harvest(&m, 0));
}

static void every_ring_that_ran(void **state)
{
	struct migration m;

	(void)state;
	mig_reset(&m);
	mig_ring_started(&m, 0);
	mig_ring_started(&m, 1);
	mig_ring_handed_over(&m, 0, 100);
	assert_false(mig_quiesced(&m));		/* ring 1 still runs */
	mig_ring_handed_over(&m, 1, 7);
	assert_true(mig_quiesced(&m));		/* rings 2.. never ran: they do not count */
	assert_true(mig_final_harvest(&m, 0));
	assert_int_equal(m.ring[0].handed_base, 100);
	assert_int_equal(m.ring[1].handed_base, 7);

	/* A cancelled migration: QEMU sets the base again and restarts. */
	mig_ring_rebased(&m, 0);
	assert_false(m.ring[0].handed_over);
	assert_false(mig_quiesced(&m));
	mig_ring_started(&m, 0);
	assert_false(mig_quiesced(&m));
	mig_ring_handed_over(&m, 0, 130);
	assert_true(mig_quiesced(&m));
	assert_int_equal(m.ring[0].handed_base, 130);

	/* Out-of-range rings are ignored, never written. */
	mig_ring_started(&m, MIG_MAX_RINGS);
	mig_ring_handed_over(&m, MIG_MAX_RINGS + 3, 1);
	mig_ring_rebased(&m, 1000);
	assert_true(mig_quiesced(&m));
}

static void misses_since_logging_went_on(void **state)
{
	struct migration m;

	(void)state;
	mig_reset(&m);
	mig_ring_started(&m, 0);
	/* Two misses before this migration's log: not this migration's. */
	mig_log_state(&m, false, 2);
	mig_log_state(&m, true, 2);
	mig_log_state(&m, true, 2);
	mig_ring_handed_over(&m, 0, 5);
	assert_true(mig_final_harvest(&m, 2));
	/* A stop that missed its harvest while QEMU logged. */
	assert_false(mig_final_harvest(&m, 3));
	/* Logging off and on again: a new migration, a new count. */
	mig_log_state(&m, false, 3);
	mig_log_state(&m, true, 3);
	assert_true(mig_final_harvest(&m, 3));
	/* A new connection forgets all of it. */
	mig_reset(&m);
	assert_false(mig_final_harvest(&m, 3));
}

/*
 * The phases: a source's stop of two rings (the first request stops both,
 * the second is answered at once), then a destination's start; the
 * figures of a side stay after the connection ends, a half-seen stop's
 * do not.
 */
static void switchover_phases(void **state)
{
	struct migration m;
	const struct mig_phases *p = &m.phases;

	(void)state;
	memset(&m, 0, sizeof(m));
	mig_reset(&m);
	/* Traffic before: nothing recorded. */
	mig_request(&m, VU_REQ_SET_VRING_KICK, 10, 11, 12, 1, 2);
	assert_false(p->src_done);
	assert_false(p->dst_open);

	mig_request(&m, VU_REQ_GET_VRING_BASE, 1000, 1400, 1450, 2, 1);
	assert_true(p->src_open);
	assert_false(p->src_done);
	mig_request(&m, VU_REQ_GET_VRING_BASE, 1500, 1510, 1520, 1, 0);
	assert_true(p->src_done);
	assert_int_equal(p->src_last_ns - p->src_first_ns, 520);
	assert_int_equal(p->src_handling_ns, 410);
	assert_int_equal(p->src_requests, 2);
	mig_reset(&m);		/* the source's QEMU quits */
	assert_true(p->src_done);

	/* A destination: memory table with nothing running, then two ring starts. */
	mig_request(&m, VU_REQ_SET_MEM_TABLE, 5000, 5300, 5300, 0, 0);
	mig_request(&m, VU_REQ_SET_VRING_NUM, 5400, 5401, 5401, 0, 0);
	mig_request(&m, VU_REQ_SET_VRING_KICK, 5500, 5700, 5700, 0, 1);
	mig_request(&m, VU_REQ_SET_VRING_KICK, 5800, 5900, 5910, 1, 2);
	assert_int_equal(p->dst_last_ns - p->dst_first_ns, 910);
	assert_int_equal(p->dst_mem_ns, 300);
	assert_int_equal(p->dst_start_ns, 300);
	assert_int_equal(p->dst_rings, 2);
	/* Every request's handling up to the last start (300 + 1 + 200 + 100). */
	assert_int_equal(p->dst_handling_ns, 601);
	/* A request after the last start is no part of it. */
	mig_request(&m, VU_REQ_SET_VRING_ENABLE, 6000, 6050, 6050, 2, 2);
	assert_int_equal(p->dst_handling_ns, 601);

	/* A stop cut short by a disconnect: the next stop starts afresh. */
	mig_request(&m, VU_REQ_GET_VRING_BASE, 9000, 9100, 9100, 2, 1);
	mig_reset(&m);
	assert_false(p->src_open);
	mig_request(&m, VU_REQ_GET_VRING_BASE, 20000, 20010, 20020, 1, 0);
	assert_int_equal(p->src_last_ns - p->src_first_ns, 20);
	assert_int_equal(p->src_requests, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_ran),
		cmocka_unit_test(every_ring_that_ran),
		cmocka_unit_test(misses_since_logging_went_on),
		cmocka_unit_test(switchover_phases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
