/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-user socket I/O: moves whole messages (bytes + SCM_RIGHTS fds)
 * between a SOCK_STREAM unix socket and memory.  It knows the 16-byte
 * header's size field (the whole message, header included) and nothing
 * about commands: what it returns goes to vfu_parse() unjudged.
 *
 * Trust boundary: the peer is untrusted.  It may send short pieces, too
 * many fds, fds attached to payload bytes, a size meant to make us buffer
 * without bound, or hang up mid-message.  All of that ends in a negative
 * errno with every fd that arrived closed.
 *
 * The caller owns the loop: call vfu_recv_msg() when the socket is
 * readable.  Once a message has started, the rest is waited for (poll(),
 * at most timeout_ms in all).  After any error other than -EAGAIN the
 * stream is out of step and the connection must be closed.  Same approach
 * as vhost_user_io.h, for this header.
 */
#ifndef VDPA_PROTOCOL_VFIO_USER_IO_H
#define VDPA_PROTOCOL_VFIO_USER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/vfio_user.h"

/* One received message, ready for vfu_parse(buf, len, fds, nfds, ...).
 * About 64 KiB: allocate it, don't put it on a small stack. */
struct vfu_io_msg {
	uint8_t buf[VFU_MAX_MSG];
	size_t len;
	int fds[VFU_MAX_FDS]; /* owned by the caller; vfu_parse() takes them */
	size_t nfds;
};

/*
 * Receives one message.  Returns:
 *   > 0          its length; *ret filled, fds owned by the caller
 *   0            orderly EOF before the first byte of a message
 *   -ECONNRESET  EOF (or reset) in the middle of a message
 *   -EAGAIN      non-blocking socket with nothing to read (nothing consumed)
 *   -EBADMSG     header's size below 16
 *   -EMSGSIZE    header's size above VFU_MAX_MSG (payload left unread)
 *   -ENOBUFS     MSG_CTRUNC: more than VFU_MAX_FDS fds, or other control data
 *   -EPROTO      fds attached to payload bytes instead of the header
 *   -ENOMEM      no memory for the payload
 *   -ETIMEDOUT   a started message did not complete within timeout_ms
 *                (timeout_ms < 0: wait for ever)
 *   other        recvmsg()/poll() errno
 * On every error *ret is untouched and every fd that arrived is closed.
 */
int vfu_recv_msg(int sock, int timeout_ms, struct vfu_io_msg *ret);

/*
 * Sends len bytes (one whole encoded message) with nfds fds attached to
 * the first byte, finishing short writes; MSG_NOSIGNAL.  The fds stay
 * owned by the caller (the kernel passes duplicates).  Returns 0 or a
 * negative errno; -ETIMEDOUT if the socket stayed full for timeout_ms.
 */
int vfu_send_msg(int sock, int timeout_ms, const uint8_t *buf, size_t len,
		 const int *fds, size_t nfds);

#endif
