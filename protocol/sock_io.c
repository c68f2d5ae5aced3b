// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unix stream socket I/O with SCM_RIGHTS; see sock_io.h.  The vhost-user
 * and vfio-user layers are thin wrappers over this.
 */
#include "protocol/sock_io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t sio_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events until deadline (ms, CLOCK_MONOTONIC; < 0: none) or *stop. */
static int wait_until(int sock, short events, int64_t deadline, const volatile sig_atomic_t *stop)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int64_t left;
	int r;

	for (;;) {
		if (stop && *stop)
			return -EINTR;
		left = -1;
		if (deadline >= 0) {
			left = deadline - sio_now_ms();
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

int sio_wait_for(int sock, short events, int64_t deadline)
{
	return wait_until(sock, events, deadline, NULL);
}

int sio_write_all(int sock, const void *buf, size_t len, int64_t deadline,
		  const volatile sig_atomic_t *stop, size_t *sent)
{
	const char *p = buf;
	size_t off = 0;
	int r = 0;

	while (off < len) {
		ssize_t n = send(sock, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			r = -errno;
			break;
		}
		r = wait_until(sock, POLLOUT, deadline, stop);
		if (r < 0)
			break;
	}
	if (sent)
		*sent = off;
	return r;
}

int sio_read_line(int sock, struct sio_line *l, size_t min, size_t max, int64_t deadline,
		  const volatile sig_atomic_t *stop, size_t *ret_len)
{
	for (;;) {
		char *nl = l->len ? memchr(l->buf, '\n', l->len) : NULL;
		ssize_t n;
		int r;

		if (nl) {
			*ret_len = (size_t)(nl - l->buf);
			return 1;
		}
		if (l->len >= max)
			return -EMSGSIZE;
		if (l->len == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : min;
			char *nb;

			if (cap > max)
				cap = max;
			nb = realloc(l->buf, cap);
			if (!nb)
				return -ENOMEM;
			l->buf = nb;
			l->cap = cap;
		}
		n = recv(sock, l->buf + l->len, l->cap - l->len, MSG_DONTWAIT);
		if (n > 0) {
			l->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			l->wait_failed = false;
			return -errno;
		}
		r = wait_until(sock, POLLIN, deadline, stop);
		if (r < 0) {
			l->wait_failed = true;
			return r;
		}
	}
}

void sio_line_drop(struct sio_line *l, size_t n)
{
	l->len -= n;
	memmove(l->buf, l->buf + n, l->len);
}

void sio_close_fds(int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int sio_take_fd(int *fds, size_t nfds, size_t i)
{
	int fd;

	if (i >= nfds)
		return -1;
	fd = fds[i];
	fds[i] = -1;
	return fd;
}

void sio_move_fds(int *dst, size_t cap, int *src, size_t n)
{
	for (size_t i = 0; i < cap; i++)
		dst[i] = i < n ? sio_take_fd(src, n, i) : -1;
}

/*
 * One recvmsg() of at most want bytes into dst, appending SCM_RIGHTS fds to
 * fds[*nfds].  Returns bytes read (> 0), 0 on EOF, or -errno; a truncated
 * control message is -ENOBUFS after its fds were collected (so the caller
 * closes them); fds beyond max_fds are closed here.
 */
ssize_t sio_recv_some(int sock, uint8_t *dst, size_t want, bool dontwait, int *fds,
		      size_t *nfds, size_t max_fds, bool *ret_got_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SIO_MAX_FDS)];
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
			if (*nfds < max_fds) {
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
int sio_read_full(int sock, uint8_t *dst, size_t want, int *fds, size_t *nfds, size_t max_fds,
		  bool fds_ok, bool first, int timeout_ms, int64_t *deadline)
{
	size_t got = 0;

	while (got < want) {
		bool start = first && got == 0;
		bool got_fds = false;
		ssize_t r = sio_recv_some(sock, dst + got, want - got, !start, fds, nfds,
					  max_fds, &got_fds);
		int rc;

		if (got_fds && !fds_ok)
			return r == -ENOBUFS ? -ENOBUFS : -EPROTO;
		if (r > 0) {
			got += (size_t)r;
			if (*deadline < 0 && timeout_ms >= 0)
				*deadline = sio_now_ms() + timeout_ms;
			continue;
		}
		if (r == 0)
			return start ? 0 : -ECONNRESET;
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == -EWOULDBLOCK) {
			if (start)
				return -EAGAIN;
			rc = sio_wait_for(sock, POLLIN, timeout_ms < 0 ? -1 : *deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		return (int)r;
	}
	return 1;
}

int sio_send(int sock, int timeout_ms, const uint8_t *buf, size_t len, const int *fds,
	     size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SIO_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	int64_t deadline = timeout_ms < 0 ? -1 : sio_now_ms() + timeout_ms;
	size_t done = 0;
	bool fds_sent = nfds == 0;

	if (!buf || len == 0 || nfds > SIO_MAX_FDS || (nfds && !fds))
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
			rc = sio_wait_for(sock, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}
