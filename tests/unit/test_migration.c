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
#include <cmocka.h>

#include "agent/daemon/migration.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_ran),
		cmocka_unit_test(every_ring_that_ran),
		cmocka_unit_test(misses_since_logging_went_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
