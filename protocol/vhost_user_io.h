/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user socket I/O: moves whole messages (bytes + SCM_RIGHTS fds)
 * between a SOCK_STREAM unix socket and memory.  It knows the 12-byte
 * header's size field and nothing about requests: the bytes and fds it
 * returns go to vu_parse() unjudged.
 *
 * Trust boundary: the peer is the front end and untrusted.  It may send
 * short pieces, too many fds, fds in the wrong place, a size field meant to
 * make us buffer without bound, or hang up mid-message.  All of that ends
 * in a negative errno with every fd that arrived closed.
 *
 * The caller owns the loop: call vu_io_recv() when the socket is readable.
 * Once a message has started, the rest is waited for (poll(), at most
 * timeout_ms in all) because QEMU and DPDK write each message at once.
 * After any error other than -EAGAIN the stream is out of step and the
 * connection must be closed.
 */
#ifndef VDPA_PROTOCOL_VHOST_USER_IO_H
#define VDPA_PROTOCOL_VHOST_USER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/vhost_user.h"

/* One received message, ready for vu_parse(buf, len, fds, nfds, ...). */
struct vu_io_msg {
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	size_t len;
	int fds[VU_MAX_FDS]; /* owned by the caller; vu_parse() takes them */
	size_t nfds;
};

/*
 * Receives one message.  Returns:
 *   > 0          its length (header + payload); *ret filled, fds owned by
 *                the caller
 *   0            orderly EOF before the first byte of a message
 *   -ECONNRESET  EOF (or reset) in the middle of a message
 *   -EAGAIN      non-blocking socket with nothing to read (nothing consumed)
 *   -EMSGSIZE    header's size above VU_MAX_PAYLOAD (payload left unread)
 *   -ENOBUFS     MSG_CTRUNC: more than VU_MAX_FDS fds, or other control data
 *   -EPROTO      fds attached to payload bytes instead of the header
 *   -ETIMEDOUT   a started message did not complete within timeout_ms
 *                (timeout_ms < 0: wait for ever)
 *   other        recvmsg()/poll() errno
 * On every error *ret is untouched and every fd that arrived is closed.
 */
int vu_io_recv(int sock, int timeout_ms, struct vu_io_msg *ret);

/*
 * The same, for an event loop that must never wait on one peer: a
 * connection keeps a struct vu_io_rx, and vu_io_rx_step() takes whatever the
 * socket has now (it never blocks, the socket may be blocking or not) and
 * returns a message once one is complete.  A front end that stops in the
 * middle of a message holds only its own buffer.  Returns:
 *   > 0          a complete message in *ret (fds owned by the caller)
 *   -EAGAIN      nothing more to read yet; bytes so far stay in rx
 *   0            orderly EOF between messages
 *   -ECONNRESET, -EMSGSIZE, -ENOBUFS, -EPROTO, other errno: as vu_io_recv()
 * After any error other than -EAGAIN, rx is reset (its fds closed) and the
 * connection must be closed.
 */
struct vu_io_rx {
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	size_t got;	/* bytes of the current message so far */
	int fds[VU_MAX_FDS];
	size_t nfds;
};

void vu_io_rx_init(struct vu_io_rx *rx);
/* Drops a partial message and closes its fds.  Takes NULL. */
void vu_io_rx_reset(struct vu_io_rx *rx);
int vu_io_rx_step(int sock, struct vu_io_rx *rx, struct vu_io_msg *ret);

/*
 * Sends len bytes (a whole encoded message) with nfds fds attached to the
 * first byte, finishing short writes; MSG_NOSIGNAL, so a vanished peer is
 * -EPIPE rather than SIGPIPE.  The fds stay owned by the caller (the kernel
 * passes duplicates).  Returns 0 or a negative errno; -ETIMEDOUT if the
 * socket stayed full for timeout_ms.
 */
int vu_io_send(int sock, int timeout_ms, const uint8_t *buf, size_t len,
	       const int *fds, size_t nfds);

#endif
