/*
 * One vhost-user device as the front end configures it: negotiated
 * features, the guest memory table, per-ring configuration (size, addresses,
 * base, kick/call/err fds, enable), and QEMU's dirty log.
 *
 * vu_dev_handle() applies one parsed and validated request (protocol/
 * vhost_user.h) and fills the reply; the connection code sends it.  The
 * device does not move packets: it tells the data path, through struct
 * vu_dev_ops, when a ring is ready, when it must stop (GET_VRING_BASE), and
 * when it must pause around a change of shared state (memory table, log).
 */
#ifndef VDPA_AGENT_VU_DEV_H
#define VDPA_AGENT_VU_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/daemon/migration.h"
#include "agent/datapath/guest_mem.h"
#include "protocol/vhost_user.h"

#define VU_DEV_MAX_VRINGS MIG_MAX_RINGS	/* 16: 8 queue pairs */

struct dirtylog;

/* Virtio feature bits this device deals with. */
#define VIRTIO_NET_F_MTU            3
#define VIRTIO_NET_F_MAC            5
#define VIRTIO_NET_F_MRG_RXBUF      15
#define VIRTIO_NET_F_STATUS         16
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ             22
#define VIRTIO_F_INDIRECT_DESC      28
#define VIRTIO_F_EVENT_IDX          29
#define VIRTIO_F_VERSION_1          32
#define VU_BIT(b) (UINT64_C(1) << (b))

struct vu_ring_cfg {
	uint32_t num;
	struct vu_vring_addr addr;
	bool addr_set;
	uint16_t base;		/* next avail index to process (SET/GET_VRING_BASE) */
	int kick_fd;		/* -1: none (polling mode when nofd) */
	int call_fd;
	int err_fd;
	bool kick_set;		/* SET_VRING_KICK seen: the ring may start */
	bool enabled;		/* SET_VRING_ENABLE */
	bool started;		/* the data path runs it */
	/*
	 * The data path failed to stop the ring, so base is not where the ring
	 * stands: GET_VRING_BASE fails until SET_VRING_BASE gives a new one.
	 */
	bool base_lost;
};

struct vu_dev_ops {
	/* Ring idx is configured, kicked and enabled: start processing it. */
	int (*ring_start)(void *opaque, unsigned idx);
	/*
	 * Stop ring idx; on return the data path no longer touches it and
	 * *ret_base is the next avail index it would have processed.
	 */
	int (*ring_stop)(void *opaque, unsigned idx, uint16_t *ret_base);
	/* Quiesce / restart every running ring around a change of shared state. */
	void (*pause)(void *opaque);
	void (*resume)(void *opaque);
	/*
	 * Optional: ring idx's call fd changed (already in cfg) while it runs
	 * (QEMU swaps it when the guest masks or unmasks the ring's vector).
	 * 0: the engine took it without a pause; else the old fd is put back
	 * and the change goes through pause() and resume().
	 */
	int (*ring_call_changed)(void *opaque, unsigned idx);
	int (*send_rarp)(void *opaque, const uint8_t mac[6]);
	/*
	 * Optional: called after each front-end request but GET_VRING_BASE.
	 * QEMU stops a device by asking every ring's base in a row
	 * (vhost_dev_stop(), all queue pairs); an engine that stopped a whole
	 * device at the first may leave it stopped until this says the row is
	 * over, and restart then the rings not asked for; an engine that waits
	 * for vu_dev_driver_ok() to start its device starts it here.  Also
	 * called at the end of vu_dev_switch().
	 */
	void (*settle)(void *opaque);
};

struct vu_dev {
	const char *name;		/* port name, for messages */
	enum vu_state state;
	uint64_t features_offered;
	uint64_t protocol_features_offered;
	uint64_t features;		/* acked by SET_FEATURES */
	uint64_t protocol_features;
	uint8_t status;			/* SET_STATUS (F_STATUS), 0 at connect */
	bool status_read;		/* handling a GET_STATUS (vu_dev_driver_ok()) */
	bool features_set;
	unsigned nvrings;		/* 2 * queue pairs offered */
	uint16_t mtu;
	struct guest_mem mem;
	/*
	 * Changes whenever mem does (SET_MEM_TABLE, a reset), never repeats: an
	 * engine that mapped mem for a device knows whether it still may use
	 * that mapping.
	 */
	uint64_t mem_gen;
	struct vu_ring_cfg ring[VU_DEV_MAX_VRINGS];
	struct migration mig;		/* per connection; vu_dev_reset() clears it */
	struct dirtylog *log;		/* QEMU's log, NULL until SET_LOG_BASE */
	/*
	 * log is our own, standing in for QEMU's between its release (every
	 * ring stopped) and the next SET_LOG_BASE, which gets its marks.
	 */
	bool log_interim;
	bool log_all;			/* VHOST_F_LOG_ALL acked */
	bool bench_log;			/* port key bench-log: log into our own log */
	struct dirtylog *rec_log;	/* dirtylog-snapshot recording, NULL: off */
	const struct vu_dev_ops *ops;
	void *opaque;
	char err[200];			/* why the last request failed */
};

void vu_dev_init(struct vu_dev *d, const char *name, uint64_t features,
		 uint64_t protocol_features, unsigned queue_pairs,
		 const struct vu_dev_ops *ops, void *opaque);
/* Stops every ring and frees memory, log and fds (front end went away). */
void vu_dev_reset(struct vu_dev *d);

/*
 * Moves every running ring to another data path without the front end
 * noticing: each ring stops on the current one (which answers its next
 * avail index), then starts on the new one there.  Returns 0, or the first
 * error starting a ring on the new path (the ring then stays stopped).
 */
int vu_dev_switch(struct vu_dev *d, const struct vu_dev_ops *ops, void *opaque);

/*
 * Whether the front end lets the device run: always without F_STATUS; with
 * it, once the status it set has DRIVER_OK (QEMU: after the last queue
 * pair's rings are set up, so a device can be started once for all), or
 * while it waits for the status it is about to add DRIVER_OK to: a
 * GET_STATUS with FEATURES_OK set and every ring it enabled set up and
 * started (QEMU reads the status right before it sets DRIVER_OK,
 * vhost_user_add_status(); it sends nothing it waits for after that, and
 * resumes the guest's vCPUs, so a start at DRIVER_OK competed with them
 * for the cores, and the device ran later).  A status read at another
 * time (QEMU's FEATURES_OK, before a queue pair's rings) finds an enabled
 * ring not set up.
 */
bool vu_dev_driver_ok(const struct vu_dev *d);

/* The context vu_parse() needs for the next message. */
void vu_dev_parse_ctx(const struct vu_dev *d, struct vu_parse_ctx *ret);

/*
 * Applies m, which vu_parse() accepted with this device's context: calls
 * the one handler for m->request.  Returns 0, or a negative errno with
 * d->err saying why (the front end then gets a failing REPLY_ACK if it
 * asked for one).  reply is filled for requests that answer.  Takes the
 * fds it keeps out of m.
 */
int vu_dev_handle(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply);

/* Whether a handler exists for request; true for every vu_request_known() id. */
bool vu_dev_serves(uint32_t request);

/*
 * Recording for `vdpa-migrate dirtylog record`: a log of the agent's own
 * over all of guest memory that the data path marks besides QEMU's.
 * start needs a memory table (-ENODATA) and is a no-op when recording;
 * take moves the marks since the previous take into dst (dst_size >= the
 * log's size) and says how many pages and how much guest space they cover.
 */
int vu_dev_record_start(struct vu_dev *d);
void vu_dev_record_stop(struct vu_dev *d);
int vu_dev_record_take(struct vu_dev *d, void *dst, size_t dst_size, uint64_t *ret_pages);

/*
 * The source side of a switchover is done: at least one ring ran on this
 * connection and every ring that ran has since been stopped by
 * GET_VRING_BASE (and not restarted).  The data path then writes nothing
 * more into guest memory.  (mig_quiesced() of d->mig.)
 */
static inline bool vu_dev_quiesced(const struct vu_dev *d)
{
	return mig_quiesced(&d->mig);
}

/* The log the data path should mark, or NULL when not logging. */
static inline struct dirtylog *vu_dev_active_log(const struct vu_dev *d)
{
	return d->log_all || d->bench_log ? d->log : NULL;
}

#endif
