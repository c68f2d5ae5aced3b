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

/*
 * The backend's part of a switchover (CLOCK_MONOTONIC ns), for `port show`
 * and `migrate`'s summary beside QEMU's downtime:
 *
 *   source       from the first GET_VRING_BASE while rings ran to the reply
 *                to the one that left none running; handling: the time
 *                spent inside those requests (stopping the data path, the
 *                final harvest, used-ring marks), the rest is waiting for
 *                QEMU's next request;
 *   destination  from a SET_MEM_TABLE that arrives while no ring runs (a
 *                device start; QEMU sends it first) to the start of the
 *                last ring that started since, with the time spent mapping
 *                guest memory and in the requests that started rings (DMA
 *                mapping, device configuration and start), and the time
 *                spent handling every request up to that start (the rest
 *                is QEMU's, between its requests).
 */
struct mig_phases {
	bool src_open, src_done, dst_open;
	uint64_t src_first_ns, src_last_ns, src_handling_ns, src_requests;
	uint64_t dst_first_ns, dst_last_ns, dst_mem_ns, dst_start_ns, dst_rings;
	/* Every request's handling since the memory table; up to the last ring start. */
	uint64_t dst_acc_ns, dst_handling_ns;
};

struct migration {
	struct mig_ring {
		bool ran;
		bool handed_over;
		uint16_t handed_base;
	} ring[MIG_MAX_RINGS];
	/* Harvest misses counted when QEMU's log last went on, and whether it is on. */
	uint64_t misses_at_log_on;
	bool log_on;
	struct mig_phases phases;
};

/* A new connection: nothing ran, nothing handed over (the phases stay). */
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

/*
 * Work done for the front end between its requests (the port's pause
 * hook, engine_accel_idle()): ns of it, counted in the destination's
 * handling while one is open.
 */
void mig_work(struct migration *m, uint64_t ns);

/*
 * After each front-end request: its id, when it arrived, when its handler
 * returned and when the reply (if any) was sent, and how many rings ran
 * before and after it.  Feeds the phases.
 */
void mig_request(struct migration *m, uint32_t request, uint64_t t_in, uint64_t t_handled,
		 uint64_t t_done, unsigned running_before, unsigned running_after);

/* quiesced, and no harvest missed since logging went on (misses: the count now). */
bool mig_final_harvest(const struct migration *m, uint64_t misses);

#endif
