// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-user socket I/O: recvmsg()/sendmsg() with SCM_RIGHTS, short reads
 * and writes, MSG_CTRUNC, EOF.  See vfio_user_io.h.
 *
 * Trust boundary: everything read from the socket, the ancillary data
 * included, comes from the untrusted peer.  The only field believed here is
 * the header's size, and only after it is bounded by VFU_MAX_MSG.  Every fd
 * that arrives lands in one array and is closed on every error path.
 */
#include "protocol/vfio_user_io.h"
#include "protocol/sock_io.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int vfu_recv_msg(int sock, int timeout_ms, struct vfu_io_msg *ret)
{
	uint8_t hdr[VFU_HDR_SIZE];
	uint8_t *payload = NULL;
	int fds[VFU_MAX_FDS];
	size_t nfds = 0, psize;
	struct vfu_wire_hdr h;
	int64_t deadline = -1; /* set when the first byte arrives */
	int rc;

	if (!ret)
		return -EINVAL;
	rc = sio_read_full(sock, hdr, sizeof(hdr), fds, &nfds, VFU_MAX_FDS, true, true, timeout_ms,
		       &deadline);
	if (rc <= 0)
		goto out_close;
	memcpy(&h, hdr, sizeof(h));
	/* Bound before reading: never buffer what the peer merely claims. */
	if (h.size < VFU_HDR_SIZE) {
		rc = -EBADMSG;
		goto out_close;
	}
	if (h.size > VFU_MAX_MSG) {
		rc = -EMSGSIZE;
		goto out_close;
	}
	psize = h.size - VFU_HDR_SIZE;
	if (psize) {
		payload = malloc(psize);
		if (!payload) {
			rc = -ENOMEM;
			goto out_close;
		}
		rc = sio_read_full(sock, payload, psize, fds, &nfds, VFU_MAX_FDS, false, false, timeout_ms,
			       &deadline);
		if (rc <= 0) {
			if (rc == 0)
				rc = -ECONNRESET;
			goto out_close;
		}
	}

	memcpy(ret->buf, hdr, sizeof(hdr));
	if (psize)
		memcpy(ret->buf + VFU_HDR_SIZE, payload, psize);
	ret->len = h.size;
	for (size_t i = 0; i < VFU_MAX_FDS; i++)
		ret->fds[i] = i < nfds ? fds[i] : -1;
	ret->nfds = nfds;
	free(payload);
	return (int)ret->len;

out_close:
	free(payload);
	sio_close_fds(fds, nfds);
	return rc;
}

int vfu_send_msg(int sock, int timeout_ms, const uint8_t *buf, size_t len,
		 const int *fds, size_t nfds)
{
	if (nfds > VFU_MAX_FDS)
		return -EINVAL;
	return sio_send(sock, timeout_ms, buf, len, fds, nfds);
}
