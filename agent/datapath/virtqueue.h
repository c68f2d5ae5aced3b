/*
 * Split virtqueues (virtio 1.x, section 2.6) seen from the device side, for
 * the software data path: take descriptor chains the driver made available,
 * hand them back through the used ring, decide when the driver wants an
 * interrupt, and log every write we make into guest memory for migration.
 *
 * TRUST BOUNDARY.  Everything in the rings (indices, descriptors, indirect
 * tables, flags, event indices) is written by the guest at any moment and
 * may be hostile.  Each shared field is read once into a local, checked,
 * then used.  A guest error marks the ring broken (first reason kept): every
 * later vq_pop() returns -EIO until vq_setup()/vq_reset().  The ring
 * addresses come from the front end and are range-checked once in
 * vq_setup().  Nothing here asserts on, or trusts, guest data.
 *
 * Threading: a vq belongs to one data-path thread.  Other threads may read
 * the counters (vq_get_stats()) and the broken state at any time.
 *
 * Dirty logging: a vq_logger is the seam to the dirty log.  Every write we
 * make into guest memory is marked after the write and before the used
 * index that makes it visible is published; the logger is flushed before
 * that release store.  used->idx itself is marked before its store and
 * again after it (a harvest in between would have sent the old value).
 * Used-ring writes are logged at log_guest_addr + offset, and only with
 * VQ_F_LOG; buffer writes at their guest-physical addresses.
 */
#ifndef VDPA_AGENT_VIRTQUEUE_H
#define VDPA_AGENT_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath/guest_mem.h"

#define VQ_MAX_SIZE 32768u

/*
 * Segments kept per chain.  A chain may legally be as long as the ring; a
 * network frame needs at most MAX_SKB_FRAGS + 2 (19) in Linux.  Beyond this
 * the chain is still walked and validated but its tail is not kept and
 * vq_chain.truncated is set (the net helpers then drop a TX frame and use
 * the kept part of an RX chain).
 */
#define VQ_MAX_SEGS 256u

/* Largest indirect table accepted, in descriptors. */
#define VQ_MAX_INDIRECT 32768u

/* vq_setup() flags. */
enum {
	VQ_F_LOG = 1u << 0,		/* log used-ring writes (SET_VRING_ADDR bit 0) */
	VQ_F_EVENT_IDX = 1u << 1,	/* VIRTIO_RING_F_EVENT_IDX negotiated */
	VQ_F_INDIRECT = 1u << 2,	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
};

/* Where and how much; bytes of guest-physical memory we wrote into. */
struct vq_logger {
	void (*mark)(void *opaque, uint64_t gpa, uint64_t len);
	void (*flush)(void *opaque);
	void *opaque;
};

/* Per-ring counters.  Written by the data-path thread only. */
struct vq_stats {
	uint64_t kicks;		/* counted by the caller: vq_count_kick() */
	uint64_t calls;		/* vq_need_notify() said yes */
	uint64_t chains;	/* chains popped */
	uint64_t used;		/* used elements pushed */
	uint64_t frames;	/* frames moved (net helpers) */
	uint64_t bytes;		/* frame bytes moved, headers excluded */
	uint64_t drops;		/* frames dropped (malformed, too large) */
	uint64_t no_bufs;	/* RX: not enough buffers available */
	uint64_t log_marks;	/* calls to logger->mark */
	uint64_t log_bytes;	/* bytes covered by those marks */
	uint64_t log_pages;	/* 4 KiB pages covered by those marks */
	uint64_t errors;	/* guest errors that broke the ring */
};

struct vq_seg {
	void *ptr;		/* our address */
	uint64_t gpa;		/* guest-physical address of ptr (for the log) */
	uint32_t len;		/* non-zero */
	bool writable;
};

/* One descriptor chain: readable segments first, then writable ones. */
struct vq_chain {
	uint16_t head;
	uint16_t nsegs;
	uint16_t nreadable;	/* seg[0 .. nreadable) are readable */
	bool truncated;		/* more segments than VQ_MAX_SEGS */
	uint64_t readable;	/* bytes in the kept readable segments */
	uint64_t writable;	/* bytes in the kept writable segments */
	struct vq_seg seg[VQ_MAX_SEGS];
};

/* Fields are private to virtqueue.c; in the header so a vq can be embedded. */
struct vring_desc_le;
struct vq {
	/* Configuration (vq_setup). */
	uint16_t num;
	uint32_t flags;			/* VQ_F_* */
	const struct vring_desc_le *desc;
	uint16_t *avail;		/* flags, idx, ring[num], used_event */
	uint16_t *used;			/* flags, idx, ring[num] of 8 bytes, avail_event */
	uint64_t log_guest_addr;
	const struct vq_logger *logger;	/* NULL: logging off */

	/* Ring state. */
	uint16_t last_avail_idx;	/* next avail entry to consume */
	uint16_t used_idx;		/* shadow: next used entry to write */
	uint16_t published_idx;		/* last value stored to used->idx */
	uint16_t signalled_idx;		/* used idx at the last vq_need_notify() */
	bool signalled_valid;
	uint16_t used_flags;		/* shadow of used->flags */

	/* Broken state: reason is set before broken (release). */
	bool broken;
	const char *reason;

	struct vq_stats stats;
};

/* Zeroes the vq: not configured, not broken, no logger, counters zero. */
void vq_init(struct vq *vq);

/*
 * Configures the ring from SET_VRING_NUM/ADDR/BASE.  num a power of two,
 * 1..VQ_MAX_SIZE; the three addresses are front-end virtual addresses, each
 * area wholly inside one region and aligned (desc 16, avail 2, used 4).
 * base is the next avail index to consume; the shadow used index is read
 * from used->idx.  Clears the broken state; keeps the logger and counters.
 * Returns 0, or -EINVAL (bad num or alignment) / -EFAULT (not in guest
 * memory) with the vq left unconfigured and vq_reason() telling why.  A
 * used index more than num behind base, or an avail index more than num
 * ahead of it, is a guest error: 0, with the ring broken.
 */
int vq_setup(struct vq *vq, const struct guest_mem *mem, unsigned num, uint64_t desc_uaddr,
	     uint64_t avail_uaddr, uint64_t used_uaddr, uint64_t log_guest_addr,
	     uint32_t flags, uint16_t base);

/* Unconfigures the ring and clears the broken state (keeps logger, counters). */
void vq_reset(struct vq *vq);

/* The next avail index to consume: the GET_VRING_BASE answer. */
uint16_t vq_get_base(const struct vq *vq);

/*
 * Switches logging (VHOST_F_LOG_ALL, SET_LOG_BASE, or SET_VRING_ADDR with a
 * changed log flag) without touching the ring state.  The logger must stay
 * valid until replaced; flush the old one first if it caches marks.
 */
void vq_set_logger(struct vq *vq, const struct vq_logger *logger);
void vq_set_log_used(struct vq *vq, bool log_used, uint64_t log_guest_addr);

/*
 * Takes the next available chain.  Returns 0 with *chain filled, -EAGAIN
 * when none is available, -EIO when the ring is (or just became) broken,
 * -EINVAL when the vq is not set up.  On failure *chain holds garbage and
 * nothing was consumed.  Buffer contents are guest memory: read each byte
 * you use once.  Every popped chain must be pushed (or unpopped) exactly
 * once: the guest gets its buffer back only through the used ring.
 */
int vq_pop(struct vq *vq, const struct guest_mem *mem, struct vq_chain *chain);

/* Gives back the last n popped chains not yet pushed (they become available again). */
void vq_unpop(struct vq *vq, uint16_t n);

/*
 * Writes a used element (head, bytes written) and logs it; invisible to the
 * guest until vq_publish().  -EINVAL for a head out of range.
 */
int vq_push(struct vq *vq, uint16_t head, uint32_t len);

/* Flushes the logger, then stores used->idx with release ordering. */
void vq_publish(struct vq *vq);

/*
 * After vq_publish(): true if the driver wants an interrupt for what was
 * published since the previous call (EVENT_IDX: used_event crossed; else
 * NO_INTERRUPT clear).  The caller then signals the call eventfd.
 */
bool vq_need_notify(struct vq *vq);

/*
 * Sleep/wake: vq_disable_notify() while polling; vq_enable_notify() before
 * sleeping on the kick eventfd.  enable returns 1 if chains became available
 * meanwhile (do not sleep, poll again), 0 if not, -EIO if broken.
 */
void vq_disable_notify(struct vq *vq);
int vq_enable_notify(struct vq *vq);

/* Whether a chain is available now (acquire), without consuming it. */
bool vq_has_avail(struct vq *vq);

/*
 * Marks the ring broken for a guest error found by a user of the vq (e.g.
 * an RX chain with readable buffers); keeps the first reason.  reason must
 * be a string literal (kept by pointer).  Returns -EIO.
 */
int vq_set_broken(struct vq *vq, const char *reason);

bool vq_is_broken(const struct vq *vq);
/* Why the ring broke, or why vq_setup() failed; NULL if neither. */
const char *vq_reason(const struct vq *vq);

void vq_count_kick(struct vq *vq);
/* Snapshot of the counters; callable from any thread. */
void vq_get_stats(const struct vq *vq, struct vq_stats *ret);

/*
 * Helpers for writers into chains (net RX): copy into the writable
 * segments starting at byte offset off of the chain's writable part, and
 * mark what was written.  Returns the bytes copied (less than len when the
 * chain is too small).
 */
size_t vq_chain_write(struct vq *vq, const struct vq_chain *c, size_t off, const void *src,
		      size_t len);
/* The same over an array of writable segments (e.g. a saved chain prefix). */
size_t vq_segs_write(struct vq *vq, const struct vq_seg *segs, unsigned nsegs, size_t off,
		     const void *src, size_t len);
/* Copies readable bytes [off, off + len) of the chain out; returns bytes copied. */
size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len);

/* Internal to the net helpers: counts a frame, a drop or a lack of buffers. */
void vq_count_frame(struct vq *vq, uint64_t bytes);
void vq_count_drop(struct vq *vq);
void vq_count_no_bufs(struct vq *vq);

#endif
