/*
 * The software data path of a port: one worker thread per queue pair moves
 * frames between the guest's virtqueues and the port's endpoint.
 *
 * The engine implements struct vu_dev_ops: the vhost-user device tells it
 * when rings start and stop and pauses it around changes of shared state.
 * Control-thread calls never touch a virtqueue while its worker runs: every
 * one of them pauses the worker (it finishes the batch at hand, flushes its
 * log cache, publishes, and waits), changes what it must, and resumes.  After
 * a pause every popped chain has been pushed and published, so the next
 * avail index is exact (GET_VRING_BASE) and no DMA-like write is in flight.
 */
#ifndef VDPA_AGENT_ENGINE_SW_H
#define VDPA_AGENT_ENGINE_SW_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/datapath/endpoint.h"
#include "agent/datapath/virtqueue.h"
#include "agent/daemon/vu_dev.h"

struct engine_sw;

extern const struct vu_dev_ops engine_sw_ops;

/*
 * Creates the workers for dev's queue pairs (dev->nvrings / 2), on endpoint
 * ep (borrowed, outlives the engine).  poll: spin instead of sleeping.
 */
int engine_sw_new(const char *name, struct vu_dev *dev, struct endpoint *ep, bool poll,
		  struct engine_sw **ret);
/* Stops and joins the workers.  Takes NULL. */
void engine_sw_free(struct engine_sw *e);

/* Counters and ring state of ring idx, for `port show`; any thread. */
struct engine_ring_info {
	bool running;
	bool broken;
	const char *reason;
	uint16_t next_avail;
	uint16_t used;
	struct vq_stats stats;
	/*
	 * CLOCK_REALTIME in ns (wall clock, so that two hosts' agents compare)
	 * of the first frame moved on the ring since it last started and of the
	 * last frame moved; 0 when none.  Taken once per batch.
	 */
	uint64_t first_frame_rt_ns;
	uint64_t last_frame_rt_ns;
};
void engine_sw_ring_info(struct engine_sw *e, unsigned idx, struct engine_ring_info *ret);

/*
 * Writes into guest memory the workers could not mark in QEMU's log (the
 * address lies beyond it) since the engine was made: pages that may
 * migrate stale.  Any thread; takes NULL (0).
 */
uint64_t engine_sw_log_errors(struct engine_sw *e);

/*
 * Pauses that had to wait for a worker thread to answer (a worker serving
 * no ring parks itself and needs none), and whether every worker is parked
 * so.  Any thread.
 */
uint64_t engine_sw_handshakes(struct engine_sw *e);
bool engine_sw_parked(struct engine_sw *e);

#endif
