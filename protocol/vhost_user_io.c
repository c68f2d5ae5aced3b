// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user socket I/O: recvmsg()/sendmsg() with SCM_RIGHTS, short reads
 * and writes, MSG_CTRUNC, EOF.  See vhost_user_io.h.
 *
 * Trust boundary: everything read from the socket, the ancillary data
 * included, comes from the untrusted front end.  The only field believed
 * here is the header's size, and only after it is bounded by
 * VU_MAX_PAYLOAD.  Every fd that arrives lands in one array and is closed
 * on every error path.
 */
#include "protocol/vhost_user_io.h"
#include "protocol/sock_io.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int vu_io_recv(int sock, int timeout_ms, struct vu_io_msg *ret)
{
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	int fds[VU_MAX_FDS];
	size_t nfds = 0;
	struct vu_wire_hdr h;
	int64_t deadline = -1; /* set when the first byte arrives */
	int rc;

	if (!ret)
		return -EINVAL;

	rc = sio_read_full(sock, buf, VU_HDR_SIZE, fds, &nfds, VU_MAX_FDS, true, true,
		       timeout_ms, &deadline);
	if (rc <= 0)
		goto out_close;

	memcpy(&h, buf, sizeof(h));
	/* Bound before reading: never buffer what the peer merely claims. */
	if (h.size > VU_MAX_PAYLOAD) {
		rc = -EMSGSIZE;
		goto out_close;
	}
	if (h.size) {
		rc = sio_read_full(sock, buf + VU_HDR_SIZE, h.size, fds, &nfds, VU_MAX_FDS,
				   false, false, timeout_ms, &deadline);
		if (rc <= 0)
			goto out_close;
	}

	ret->len = VU_HDR_SIZE + h.size;
	memcpy(ret->buf, buf, ret->len);
	for (size_t i = 0; i < VU_MAX_FDS; i++)
		ret->fds[i] = i < nfds ? fds[i] : -1;
	ret->nfds = nfds;
	return (int)ret->len;

out_close:
	sio_close_fds(fds, nfds);
	return rc;
}

void vu_io_rx_init(struct vu_io_rx *rx)
{
	rx->got = 0;
	rx->nfds = 0;
	for (size_t i = 0; i < VU_MAX_FDS; i++)
		rx->fds[i] = -1;
}

void vu_io_rx_reset(struct vu_io_rx *rx)
{
	if (!rx)
		return;
	sio_close_fds(rx->fds, rx->nfds);
	vu_io_rx_init(rx);
}

int vu_io_rx_step(int sock, struct vu_io_rx *rx, struct vu_io_msg *ret)
{
	int rc;

	for (;;) {
		struct vu_wire_hdr h;
		size_t want = VU_HDR_SIZE;
		bool got_fds = false;
		ssize_t r;

		if (rx->got >= VU_HDR_SIZE) {
			memcpy(&h, rx->buf, sizeof(h));
			if (h.size > VU_MAX_PAYLOAD) {
				rc = -EMSGSIZE;
				goto fail;
			}
			want = VU_HDR_SIZE + h.size;
		}
		if (rx->got == want) {
			ret->len = want;
			memcpy(ret->buf, rx->buf, want);
			for (size_t i = 0; i < VU_MAX_FDS; i++)
				ret->fds[i] = i < rx->nfds ? rx->fds[i] : -1;
			ret->nfds = rx->nfds;
			/* The fds moved to *ret: forget them without closing. */
			rx->nfds = 0;
			vu_io_rx_init(rx);
			return (int)want;
		}
		r = sio_recv_some(sock, rx->buf + rx->got, want - rx->got, true, rx->fds,
				  &rx->nfds, VU_MAX_FDS, &got_fds);
		/* As vu_io_recv(): fds belong with the header bytes only. */
		if (got_fds && rx->got >= VU_HDR_SIZE) {
			rc = r == -ENOBUFS ? -ENOBUFS : -EPROTO;
			goto fail;
		}
		if (r > 0) {
			rx->got += (size_t)r;
			continue;
		}
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return -EAGAIN;
		rc = r == 0 ? (rx->got ? -ECONNRESET : 0) : (int)r;
		goto fail;
	}
fail:
	vu_io_rx_reset(rx);
	return rc;
}

int vu_io_send(int sock, int timeout_ms, const uint8_t *buf, size_t len,
	       const int *fds, size_t nfds)
{
	if (nfds > VU_MAX_FDS)
		return -EINVAL;
	return sio_send(sock, timeout_ms, buf, len, fds, nfds);
}
