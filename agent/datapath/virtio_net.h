/*
 * virtio-net frames over split virtqueues (virtio 1.x 5.1.6): take one
 * transmitted frame out of a TX queue, put one received frame into an RX
 * queue (one chain, or several with VIRTIO_NET_F_MRG_RXBUF).
 *
 * TRUST BOUNDARY: the chains, and the header bytes the guest sends, come
 * from the guest; the frames handed to vnet_rx_push() come from the wire.
 * Chain structure is validated by vq_pop(); this layer checks what a frame
 * needs (direction of buffers, room for header and payload).  A malformed
 * TX chain is dropped and returned to the guest, not fatal: the spec gives
 * the device no way to report it and the ring itself is still sound.
 */
#ifndef VDPA_AGENT_VIRTIO_NET_H
#define VDPA_AGENT_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath/guest_mem.h"
#include "agent/datapath/virtqueue.h"

#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_F_VERSION_1 32

/* struct virtio_net_hdr_v1 / _mrg_rxbuf: the legacy header is the first 10 bytes. */
struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;	/* little-endian */
} __attribute__((packed));
_Static_assert(sizeof(struct vnet_hdr) == 12, "virtio-net header is 12 bytes");

#define VNET_HDR_LEN_LEGACY 10u
#define VNET_HDR_LEN 12u

/*
 * Most chains one received frame may span with MRG_RXBUF.  Linux posts
 * buffers of at least 1518 bytes, so a 64 KiB frame needs about 44; a frame
 * that needs more is dropped, not fatal.
 */
#define VNET_RX_MAX_BUFS 128u

/* The header length the driver uses: 12 with VERSION_1 or MRG_RXBUF, else 10. */
size_t vnet_hdr_len(uint64_t features);

/*
 * Takes one frame from a TX queue into frame[0 .. cap), skipping the
 * virtio-net header, and pushes the chain back (used length 0: we wrote
 * nothing).  The caller publishes (vq_publish) once per batch.
 * Returns 0 with *ret_len set, -EAGAIN when the queue is empty, -EIO when
 * the ring is broken; -EINVAL (writable buffers, shorter than the header,
 * empty frame) or -EMSGSIZE (larger than cap, or too many segments) when a
 * frame was dropped: the chain was consumed and returned, call again.
 */
int vnet_tx_pop(struct vq *vq, const struct guest_mem *mem, size_t hdr_len, uint8_t *frame,
		size_t cap, size_t *ret_len);

/*
 * Writes header + frame into the next chain (all header fields zero except
 * num_buffers: the chain count with mergeable, 1 with a 12-byte header
 * without it, 5.1.6.4.1), logs every byte written and pushes the used
 * elements; the caller publishes.  Returns 0; -EAGAIN when the available
 * chains cannot hold the frame (nothing consumed: retry when kicked);
 * -EMSGSIZE when the frame can never fit (without mergeable: the next
 * chain is too small, and it is left available; with mergeable: more than
 * VNET_RX_MAX_BUFS chains) and was dropped; -EIO when the ring is broken
 * (an RX chain with readable buffers, or a buffer smaller than the header,
 * is a guest error); -EINVAL for a bad hdr_len.
 */
int vnet_rx_push(struct vq *vq, const struct guest_mem *mem, size_t hdr_len, bool mergeable,
		 const uint8_t *frame, size_t len);

#endif
