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

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events until deadline (ms, CLOCK_MONOTONIC; < 0: none). */
static int wait_for(int sock, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			if (left > 60000)
				left = 60000;
		}
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0; /* ready, or HUP/ERR: the next call says which */
		if (r == 0)
			continue;
		if (errno != EINTR)
			return -errno;
	}
}

static void close_fds(int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * One recvmsg() of at most want bytes into dst, appending SCM_RIGHTS fds to
 * fds[*nfds].  Returns bytes read (> 0), 0 on EOF, or -errno; a truncated
 * control message is -ENOBUFS after its fds were collected (so the caller
 * closes them); fds beyond VFU_MAX_FDS are closed here.
 */
static ssize_t recv_some(int sock, uint8_t *dst, size_t want, bool dontwait,
			 int *fds, size_t *nfds, bool *ret_got_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = dst, .iov_len = want };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	bool overflow = false;
	ssize_t r;

	memset(ctl.buf, 0, sizeof(ctl.buf));
	r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (dontwait ? MSG_DONTWAIT : 0));
	if (r < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfds < VFU_MAX_FDS) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				overflow = true;
			}
			*ret_got_fds = true;
		}
	}
	if ((mh.msg_flags & MSG_CTRUNC) || overflow)
		return -ENOBUFS;
	return r;
}

/*
 * Reads exactly want bytes into dst; fds are accepted only while fds_ok
 * (the header).  first: nothing of this message has arrived yet, which
 * makes EOF clean and EAGAIN harmless.  Returns 1, 0 (clean EOF) or -errno.
 */
static int read_full(int sock, uint8_t *dst, size_t want, int *fds, size_t *nfds,
		     bool fds_ok, bool first, int timeout_ms, int64_t *deadline)
{
	size_t got = 0;

	while (got < want) {
		bool start = first && got == 0;
		bool got_fds = false;
		ssize_t r = recv_some(sock, dst + got, want - got, !start, fds, nfds,
				      &got_fds);
		int rc;

		if (got_fds && !fds_ok)
			return r == -ENOBUFS ? -ENOBUFS : -EPROTO;
		if (r > 0) {
			got += (size_t)r;
			if (*deadline < 0 && timeout_ms >= 0)
				*deadline = now_ms() + timeout_ms;
			continue;
		}
		if (r == 0)
			return start ? 0 : -ECONNRESET;
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == -EWOULDBLOCK) {
			if (start)
				return -EAGAIN;
			rc = wait_for(sock, POLLIN, timeout_ms < 0 ? -1 : *deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		return (int)r;
	}
	return 1;
}

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
	rc = read_full(sock, hdr, sizeof(hdr), fds, &nfds, true, true, timeout_ms,
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
		rc = read_full(sock, payload, psize, fds, &nfds, false, false, timeout_ms,
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
	close_fds(fds, nfds);
	return rc;
}

int vfu_send_msg(int sock, int timeout_ms, const uint8_t *buf, size_t len,
		 const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t done = 0;
	bool fds_sent = nfds == 0;

	if (!buf || len == 0 || nfds > VFU_MAX_FDS || (nfds && !fds))
		return -EINVAL;
	while (done < len) {
		struct iovec iov = {
			.iov_base = (void *)(uintptr_t)(buf + done),
			.iov_len = len - done,
		};
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;
		int rc;

		if (!fds_sent) {
			struct cmsghdr *c;

			memset(ctl.buf, 0, sizeof(ctl.buf));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		r = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0) {
			/* The fds went with the first byte; never again. */
			fds_sent = true;
			done += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_for(sock, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}
