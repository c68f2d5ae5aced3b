/*
 * virtio-net frame helpers over a vq.  See virtio_net.h.
 *
 * The guest's TX header is read from guest memory only to be skipped: no
 * offload is offered by the software path, so its fields have no meaning
 * for us.  RX writes header and payload straight into the guest's buffers;
 * the used elements are written only once the whole frame has landed, so
 * a frame that does not fit leaves the rings as they were (the bytes
 * already copied sit in buffers the device still owns, which is harmless).
 */
#include "agent/datapath/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

size_t vnet_hdr_len(uint64_t features)
{
	if (features & ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF)))
		return VNET_HDR_LEN;
	return VNET_HDR_LEN_LEGACY;
}

/* Returns a dropped chain to the guest and counts it. */
static int tx_drop(struct vq *vq, uint16_t head, int err)
{
	vq_push(vq, head, 0);
	vq_count_drop(vq);
	return err;
}

int vnet_tx_pop(struct vq *vq, const struct guest_mem *mem, size_t hdr_len, uint8_t *frame,
		size_t cap, size_t *ret_len)
{
	struct vq_chain c;
	size_t len;
	int r;

	if (hdr_len != VNET_HDR_LEN && hdr_len != VNET_HDR_LEN_LEGACY)
		return -EINVAL;
	r = vq_pop(vq, mem, &c);
	if (r < 0)
		return r;
	/* A TX chain the device would have to write into is meaningless. */
	if (c.nsegs != c.nreadable)
		return tx_drop(vq, c.head, -EINVAL);
	if (c.truncated)
		return tx_drop(vq, c.head, -EMSGSIZE);
	if (c.readable <= hdr_len)
		return tx_drop(vq, c.head, -EINVAL);
	len = (size_t)(c.readable - hdr_len);
	if (len > cap)
		return tx_drop(vq, c.head, -EMSGSIZE);
	if (vq_chain_read(&c, hdr_len, frame, len) != len)
		return tx_drop(vq, c.head, -EINVAL);	/* cannot happen: sizes checked */
	vq_push(vq, c.head, 0);
	vq_count_frame(vq, len);
	*ret_len = len;
	return 0;
}

int vnet_rx_push(struct vq *vq, const struct guest_mem *mem, size_t hdr_len, bool mergeable,
		 const uint8_t *frame, size_t len)
{
	struct vq_chain c;
	struct vq_seg hseg[VNET_HDR_LEN];	/* where the header went: >= 1 byte each */
	unsigned nhseg = 0;
	uint16_t heads[VNET_RX_MAX_BUFS];
	uint32_t lens[VNET_RX_MAX_BUFS];
	unsigned nbufs = 0, max_bufs;
	size_t done = 0;
	struct vnet_hdr hdr;
	int r;

	if (hdr_len != VNET_HDR_LEN && hdr_len != VNET_HDR_LEN_LEGACY)
		return -EINVAL;
	if (mergeable && hdr_len != VNET_HDR_LEN)
		return -EINVAL;
	/* Used lengths are 32-bit. */
	if (len > UINT32_MAX - hdr_len) {
		vq_count_drop(vq);
		return -EMSGSIZE;
	}
	max_bufs = 1;
	if (mergeable)
		/* More chains than the ring holds would never become available. */
		max_bufs = vq->num < VNET_RX_MAX_BUFS ? vq->num : VNET_RX_MAX_BUFS;

	do {
		size_t off = 0, n;

		if (nbufs >= max_bufs) {
			vq_unpop(vq, (uint16_t)nbufs);
			vq_count_drop(vq);
			return -EMSGSIZE;
		}
		r = vq_pop(vq, mem, &c);
		if (r < 0) {
			vq_unpop(vq, (uint16_t)nbufs);
			if (r == -EAGAIN)
				vq_count_no_bufs(vq);
			return r;
		}
		nbufs++;
		if (c.nreadable) {
			vq_unpop(vq, (uint16_t)nbufs);
			return vq_set_broken(vq, "RX chain with readable buffers");
		}
		/* 5.1.6.3.1: with mergeable every buffer holds at least a header. */
		if ((nbufs == 1 || mergeable) && c.writable < hdr_len) {
			vq_unpop(vq, (uint16_t)nbufs);
			return vq_set_broken(vq, "RX buffer smaller than the virtio-net header");
		}
		if (!mergeable && c.writable - hdr_len < len) {
			/* Like QEMU: leave the chain for a smaller frame. */
			vq_unpop(vq, 1);
			vq_count_drop(vq);
			return -EMSGSIZE;
		}
		if (nbufs == 1) {
			size_t need = hdr_len;

			for (unsigned i = c.nreadable; i < c.nsegs && need; i++) {
				hseg[nhseg] = c.seg[i];
				if (hseg[nhseg].len > need)
					hseg[nhseg].len = (uint32_t)need;
				need -= hseg[nhseg].len;
				nhseg++;
			}
			off = hdr_len;
		}
		n = vq_chain_write(vq, &c, off, frame + done, len - done);
		done += n;
		heads[nbufs - 1] = c.head;
		lens[nbufs - 1] = (uint32_t)(off + n);
	} while (done < len);

	memset(&hdr, 0, sizeof(hdr));
	hdr.num_buffers = htole16((uint16_t)(mergeable ? nbufs : 1));
	vq_segs_write(vq, hseg, nhseg, 0, &hdr, hdr_len);
	for (unsigned i = 0; i < nbufs; i++)
		vq_push(vq, heads[i], lens[i]);
	vq_count_frame(vq, len);
	return 0;
}
