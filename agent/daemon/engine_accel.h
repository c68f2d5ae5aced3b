// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The accelerator data path of a port: the device (agent/daemon/accel_dev.h) moves
 * the frames with its own DMA; this engine sets it up from the vhost-user
 * device state, relays kicks to its doorbells, binds the guest's call
 * eventfds to its interrupts, and during a migration harvests the device's
 * dirty log into QEMU's log.
 *
 * Like the software engine it implements struct vu_dev_ops.  The device is
 * configured as a whole: every change (a ring starting or stopping, a new
 * memory table or log) stops it, which ends its DMA, takes the final
 * harvest, logs the used rings (the device logs packet buffers only, as
 * real hardware does) and reads every ring's next avail index; then the
 * device is configured again and restarted.
 */
#ifndef VDPA_AGENT_ENGINE_ACCEL_H
#define VDPA_AGENT_ENGINE_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/daemon/accel_dev.h"
#include "agent/daemon/vu_dev.h"

struct engine_accel;

extern const struct vu_dev_ops engine_accel_ops;

/* How the device's writes reach QEMU's log while it logs (dirty-tracking=). */
enum engine_accel_tracking {
	ENGINE_ACCEL_AUTO,		/* the device's log when it has one, else the relay */
	ENGINE_ACCEL_DEVICE_LOG,	/* the device's log (the port refuses a device without) */
	ENGINE_ACCEL_RELAY,		/* shadow rings and the relay (shadow.h) */
	ENGINE_ACCEL_SOFTWARE,		/* the rings leave the device (engine_accel_wants_software()) */
};

/* Takes ownership of adev.  harvest_ms: the harvester's period. */
int engine_accel_new(const char *name, struct vu_dev *dev, struct accel_dev *adev,
		     unsigned harvest_ms, enum engine_accel_tracking tracking,
		     struct engine_accel **ret);
void engine_accel_free(struct engine_accel *e);

/*
 * Asks the running device whether it is well (the device has no way to say
 * so by itself): a ring it broke on a DMA fault answers EIO.  0 when well,
 * else a negative errno and the engine is failed.
 */
int engine_accel_probe(struct engine_accel *e);

/*
 * How often the device stopped while QEMU's migration log was on without
 * its own log being merged into it afterwards (the stop failed, or the
 * merge did): pages it wrote before may be missing from QEMU's log.
 * Every clean stop takes the final harvest before it returns, so the
 * GET_VRING_BASE reply that follows comes after the merge.
 */
uint64_t engine_accel_harvest_misses(struct engine_accel *e);

/*
 * QEMU turned its migration log on and the device has none of its own (a
 * kernel vhost-vdpa device): the device was left stopped, its rings at
 * exact bases, and the port must move them to the software engine, which
 * logs every page it writes.
 */
bool engine_accel_wants_software(const struct engine_accel *e);

/* Whether the device failed (a request failed or it went away). */
bool engine_accel_failed(const struct engine_accel *e);
struct accel_dev *engine_accel_device(struct engine_accel *e);
/*
 * The front end has no more requests waiting (the port read all it sent):
 * what a destination's device can be told before DRIVER_OK goes now, in
 * one send (prepare() in engine_accel.c), not one per request.
 */
void engine_accel_idle(struct engine_accel *e);
/*
 * The device's fd turned readable while no request waits: 0 when that was
 * the replies to the DMA mapping sent without waiting (read now), or
 * nothing any more; < 0 when the device spoke unasked or its connection
 * broke (a failed mapping fails the engine, and says why).
 */
int engine_accel_device_readable(struct engine_accel *e);

struct engine_accel_stats {
	uint64_t harvest_rounds;
	uint64_t harvest_pages;		/* device pages harvested in all */
	uint64_t last_round_pages;
	uint64_t last_harvest_ns;	/* CLOCK_MONOTONIC */
	double dirty_rate;		/* device pages per second, last round */
	uint64_t last_switchover_us;	/* GET_VRING_BASE received to reply */
	uint64_t device_stops;
	uint64_t device_starts;
	/* Guest memory DMA-mapped anew (a new memory table), and call fds swapped without a stop. */
	uint64_t memory_maps;
	uint64_t call_swaps;
	/* Configuration requests sent before DRIVER_OK, as the rings came (a destination). */
	uint64_t prepared_requests;
	/* The last stop: the device's confirmation, the final harvest (with
	 * the used-ring marks), reading the rings' bases. */
	uint64_t last_stop_us, last_harvest_us, last_bases_us;
	/* The last start: DMA mapping, configuration, the start itself. */
	uint64_t last_map_us, last_config_us, last_start_us;
	/* Device pages harvested that fall outside QEMU's log (not merged). */
	uint64_t log_errors;
	/* Chains the device completed through shadow rings; whether they serve now. */
	uint64_t relayed;
	bool relay_on;
	/*
	 * What the device offers (VHOST_GET_FEATURES), and the ring-layout
	 * features a front end may negotiate that it lacks: a port whose
	 * front end acked one of them serves in software.
	 */
	uint64_t device_features, unserved_features;
};
void engine_accel_stats(struct engine_accel *e, struct engine_accel_stats *ret);

/*
 * Reads ring idx's next avail index as the guest sees it (used->idx), for
 * taking over a ring from a device that died: every chain up to there was
 * completed; chains it held beyond were lost with it.
 */
int engine_accel_used_index(struct vu_dev *dev, unsigned idx, uint16_t *ret);

#endif
