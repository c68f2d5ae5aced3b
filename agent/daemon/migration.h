/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A port's migration bookkeeping, per front-end connection: what the
 * control protocol's "migration" object says (docs/control-protocol.md)
 * and what `vdpa-migrate migrate` waits for before QEMU may switch over.
 *
 *   ran          a ring was started since the front end connected;
 *   handed_over  the last thing that happened to a ring was a
 *                GET_VRING_BASE, whose reply carried handed_base;
 *   quiesced     every ring that ran is handed over (and at least one ran):
 *                the data path writes nothing more into guest memory;
 *   final_harvest  quiesced, and every write the data path made while QEMU
 *                logged is in QEMU's log: no accelerator stop since logging
 *                went on missed its harvest.
 *
 * vu_dev.c feeds the ring events, port.c the harvest misses.  Pure state:
 * no I/O, no locks (the control thread owns it).
 */
#ifndef VDPA_AGENT_MIGRATION_H
#define VDPA_AGENT_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#define MIG_MAX_RINGS 16

struct migration {
	struct mig_ring {
		bool ran;
		bool handed_over;
		uint16_t handed_base;
	} ring[MIG_MAX_RINGS];
	/* Harvest misses counted when QEMU's log last went on, and whether it is on. */
	uint64_t misses_at_log_on;
	bool log_on;
};

/* A new connection: nothing ran, nothing handed over. */
void mig_reset(struct migration *m);

/* Ring i started on a data path: what was handed over is history. */
void mig_ring_started(struct migration *m, unsigned i);
/* SET_VRING_BASE on ring i: a new start will follow; no longer handed over. */
void mig_ring_rebased(struct migration *m, unsigned i);
/* GET_VRING_BASE answered base for ring i. */
void mig_ring_handed_over(struct migration *m, unsigned i, uint16_t base);

bool mig_quiesced(const struct migration *m);

/*
 * After each front-end request: log_all says whether QEMU logs now, misses
 * the harvest misses of the port so far.  Logging going on starts a new
 * count.
 */
void mig_log_state(struct migration *m, bool log_all, uint64_t misses);

/* quiesced, and no harvest missed since logging went on (misses: the count now). */
bool mig_final_harvest(const struct migration *m, uint64_t misses);

#endif
