// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unix stream socket I/O shared by the vhost-user and vfio-user layers:
 * whole messages with SCM_RIGHTS fds attached to their first bytes, short
 * reads and writes, MSG_CTRUNC, EOF, deadlines on CLOCK_MONOTONIC.  It knows
 * nothing of either protocol; the callers say how many fds a message may
 * carry and which bytes may carry them.
 *
 * Trust boundary: the peer is untrusted.  Every fd that arrives lands in the
 * caller's array (or is closed here when over the bound) so that every error
 * path can close it.
 */
#ifndef VDPA_PROTOCOL_SOCK_IO_H
#define VDPA_PROTOCOL_SOCK_IO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIO_MAX_FDS 64u	/* most fds any caller accepts in one message */

int64_t sio_now_ms(void);

/* Waits for events on sock until deadline (ms; < 0: none): 0, -ETIMEDOUT or -errno. */
int sio_wait_for(int sock, short events, int64_t deadline);

/*
 * Line-oriented text streams (QMP, the control protocol), on a non-blocking
 * socket, bounded by one deadline per exchange (ms on sio_now_ms(); < 0:
 * none).  stop (may be NULL) is a signal handler's flag: once set, a wait
 * ends with -EINTR.
 *
 * sio_write_all() sends len bytes, MSG_NOSIGNAL, finishing short writes.
 * Returns 0, -ETIMEDOUT, -EINTR, or the -errno of send() or poll();
 * *sent (may be NULL) says how many bytes went out, also on failure, so
 * that the caller knows whether half a message is on the wire.
 */
int sio_write_all(int sock, const void *buf, size_t len, int64_t deadline,
		  const volatile sig_atomic_t *stop, size_t *sent);

/* Bytes received and not yet taken; zero-initialise, free(buf) when done. */
struct sio_line {
	char *buf;
	size_t len, cap;
	bool wait_failed;	/* the last error came from poll(), not recv() */
};

/*
 * The next '\n'-terminated line: it is l->buf[0..*ret_len), its '\n' at
 * l->buf[*ret_len]; sio_line_drop(l, *ret_len + 1) takes it.  The buffer
 * grows from min up to max bytes.  Returns 1; 0 at EOF (l->len > 0: in
 * the middle of a line); -EMSGSIZE when max bytes hold no '\n'; -ENOMEM;
 * -ETIMEDOUT; -EINTR; or the -errno of recv() or poll().
 */
int sio_read_line(int sock, struct sio_line *l, size_t min, size_t max, int64_t deadline,
		  const volatile sig_atomic_t *stop, size_t *ret_len);

/* Takes the first n (<= l->len) bytes out of l. */
void sio_line_drop(struct sio_line *l, size_t n);

/* Closes fds[0..nfds) and leaves -1 in each slot. */
void sio_close_fds(int *fds, size_t nfds);

/* Returns fds[i] (i < nfds) and leaves -1 in its place; -1 if none. */
int sio_take_fd(int *fds, size_t nfds, size_t i);

/*
 * Hands n fds from src on to a message's dst[0..cap) (n <= cap): dst gets
 * them and -1 in the slots beyond, src is left all -1.  The one place a
 * parser's fds change owner.
 */
void sio_move_fds(int *dst, size_t cap, int *src, size_t n);

/*
 * One recvmsg() of at most want bytes, appending SCM_RIGHTS fds to
 * fds[*nfds] up to max_fds (beyond: closed here, and -ENOBUFS).  Returns
 * bytes read (> 0), 0 on EOF, or -errno; a truncated control message is
 * -ENOBUFS after its fds were collected (the caller closes them).
 * *ret_got_fds says whether any fd came with these bytes.
 */
ssize_t sio_recv_some(int sock, uint8_t *dst, size_t want, bool dontwait, int *fds,
		      size_t *nfds, size_t max_fds, bool *ret_got_fds);

/*
 * Reads exactly want bytes into dst.  fds are accepted only while fds_ok;
 * first: nothing of this message has arrived yet, so EOF is clean (0) and
 * EAGAIN harmless (-EAGAIN, nothing consumed).  Once a message has started
 * the rest is waited for, until *deadline (set at the first byte from
 * timeout_ms; < 0: for ever).  Returns 1, 0, -ECONNRESET, -EPROTO (fds on
 * bytes that may not carry them), -ETIMEDOUT or another -errno.
 */
int sio_read_full(int sock, uint8_t *dst, size_t want, int *fds, size_t *nfds, size_t max_fds,
		  bool fds_ok, bool first, int timeout_ms, int64_t *deadline);

/*
 * Sends len bytes with nfds (<= SIO_MAX_FDS) fds on the first byte,
 * finishing short writes, MSG_NOSIGNAL; -ETIMEDOUT if the socket stays full
 * for timeout_ms.  The fds stay the caller's.
 */
int sio_send(int sock, int timeout_ms, const uint8_t *buf, size_t len, const int *fds,
	     size_t nfds);

#endif
