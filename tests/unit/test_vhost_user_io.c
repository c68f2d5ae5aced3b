// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/vhost_user_io.c over real socketpairs: whole
 * messages with fds, a header split across several writes, fds in the
 * wrong place, too many fds (MSG_CTRUNC), an oversized size field, EOF at
 * and inside a message, timeouts, short writes on send.  Every error case
 * checks /proc/self/fd for leaks.
 *
 * The writer side plays the untrusted front end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/sock_io.h"
#include "protocol/vhost_user.h"
#include "protocol/vhost_user_io.h"
#include "tests/helpers/testhelp.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * len bytes with nfds fds on the first byte: sio_send(), the sender under
 * vu_io_send() without its VU_MAX_FDS bound, so more fds than we accept
 * can be sent (up to SIO_MAX_FDS).
 */
static void raw_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	assert_int_equal(sio_send(sock, 1000, buf, len, fds, nfds), 0);
}

static size_t encode(uint8_t *buf, uint32_t req, uint32_t size, uint8_t fill)
{
	struct vu_wire_hdr h = { .request = req, .flags = VU_VERSION, .size = size };

	memcpy(buf, &h, sizeof(h));
	memset(buf + VU_HDR_SIZE, fill, size);
	return VU_HDR_SIZE + size;
}

static void make_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fds[i] = th_memfd("io", 4096);
		assert_true(fds[i] >= 0);
	}
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* ---- whole messages -------------------------------------------------------- */

static void test_recv_whole(void **state)
{
	uint8_t buf[VU_HDR_SIZE + 264];
	struct vu_io_msg m;
	int sv[2], fds[VU_MAX_FDS];
	int before = th_count_fds();
	size_t len;

	(void)state;
	pair(sv);
	/* No payload, no fds. */
	len = encode(buf, VU_REQ_GET_FEATURES, 0, 0);
	raw_send(sv[0], buf, len, NULL, 0);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), VU_HDR_SIZE);
	assert_int_equal(m.len, VU_HDR_SIZE);
	assert_int_equal(m.nfds, 0);
	assert_memory_equal(m.buf, buf, len);

	/* Largest legal message with the most fds, then one more behind it:
	 * the first read must not eat into the second. */
	len = encode(buf, VU_REQ_SET_MEM_TABLE, 264, 0xab);
	make_fds(fds, VU_MAX_FDS);
	raw_send(sv[0], buf, len, fds, VU_MAX_FDS);
	raw_send(sv[0], buf, VU_HDR_SIZE + 8, NULL, 0); /* hdr says 264: partial */
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), (int)len);
	assert_memory_equal(m.buf, buf, len);
	assert_int_equal(m.nfds, VU_MAX_FDS);
	for (size_t i = 0; i < VU_MAX_FDS; i++) {
		struct stat a, b;

		assert_int_equal(fstat(fds[i], &a), 0);
		assert_int_equal(fstat(m.fds[i], &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
		/* MSG_CMSG_CLOEXEC */
		assert_true(fcntl(m.fds[i], F_GETFD) & FD_CLOEXEC);
	}
	close_fds(m.fds, m.nfds);
	close_fds(fds, VU_MAX_FDS);
	/* The second message is short and the sender stays: times out. */
	assert_int_equal(vu_io_recv(sv[1], 50, &m), -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
}

/* ---- a header split across writes ------------------------------------------ */

struct writer {
	int sock;
	const uint8_t *buf;
	const size_t *cuts;   /* piece boundaries, ending at len */
	size_t ncuts;
	const int *fds;
	size_t nfds;
	size_t fd_piece;      /* which piece carries the fds */
};

static void *writer_main(void *arg)
{
	const struct writer *w = arg;
	size_t at = 0;

	for (size_t i = 0; i < w->ncuts; i++) {
		raw_send(w->sock, w->buf + at, w->cuts[i] - at,
			 i == w->fd_piece ? w->fds : NULL,
			 i == w->fd_piece ? w->nfds : 0);
		at = w->cuts[i];
		sleep_ms(20);
	}
	return NULL;
}

static int recv_split(const size_t *cuts, size_t ncuts, size_t fd_piece,
		      size_t nfds, struct vu_io_msg *m, size_t *len)
{
	static uint8_t buf[VU_HDR_SIZE + 40];
	int sv[2], fds[VU_MAX_FDS];
	struct writer w;
	pthread_t t;
	int rc;

	*len = encode(buf, VU_REQ_SET_VRING_ADDR, 40, 0x11);
	make_fds(fds, nfds);
	pair(sv);
	w = (struct writer){ sv[0], buf, cuts, ncuts, fds, nfds, fd_piece };
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	rc = vu_io_recv(sv[1], 2000, m);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (rc > 0)
		assert_memory_equal(m->buf, buf, *len);
	close_fds(fds, nfds);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_split_header(void **state)
{
	const size_t cuts[] = { 1, 5, 11, 12, 30, 52 };
	struct vu_io_msg m;
	int before = th_count_fds();
	size_t len;

	(void)state;
	/* fds with the first byte of the header. */
	assert_int_equal(recv_split(cuts, 6, 0, 2, &m, &len), 52);
	assert_int_equal(m.nfds, 2);
	close_fds(m.fds, m.nfds);
	/* fds with a later piece of the header: still the header. */
	assert_int_equal(recv_split(cuts, 6, 2, 3, &m, &len), 52);
	assert_int_equal(m.nfds, 3);
	close_fds(m.fds, m.nfds);
	/* fds attached to payload bytes: refused, all closed. */
	assert_int_equal(recv_split(cuts, 6, 4, 2, &m, &len), -EPROTO);
	assert_int_equal(th_count_fds(), before);
}

/* ---- too many fds: MSG_CTRUNC ------------------------------------------------ */

static void test_ctrunc(void **state)
{
	uint8_t buf[VU_HDR_SIZE];
	struct vu_io_msg m;
	int sv[2], fds[12];
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_SET_OWNER, 0, 0);

	(void)state;
	pair(sv);
	make_fds(fds, 12);
	raw_send(sv[0], buf, len, fds, 12);
	close_fds(fds, 12);
	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -ENOBUFS);
	assert_int_equal(m.len, 0x5a5a5a5a5a5a5a5a); /* untouched */
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* Exactly VU_MAX_FDS + 1. */
	pair(sv);
	make_fds(fds, VU_MAX_FDS + 1);
	raw_send(sv[0], buf, len, fds, VU_MAX_FDS + 1);
	close_fds(fds, VU_MAX_FDS + 1);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -ENOBUFS);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
}

/* ---- oversized: refused without reading the payload ------------------------ */

static void test_oversized(void **state)
{
	static uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD + 1];
	struct vu_io_msg m;
	int sv[2], fds[2], pending = 0;
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_SET_MEM_TABLE, VU_MAX_PAYLOAD + 1, 0);

	(void)state;
	pair(sv);
	make_fds(fds, 2);
	raw_send(sv[0], buf, len, fds, 2);
	close_fds(fds, 2);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -EMSGSIZE);
	/* The payload is still in the socket: nothing was buffered. */
	assert_int_equal(ioctl(sv[1], FIONREAD, &pending), 0);
	assert_int_equal(pending, VU_MAX_PAYLOAD + 1);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* The limit itself is fine. */
	pair(sv);
	len = encode(buf, VU_REQ_SET_MEM_TABLE, VU_MAX_PAYLOAD, 7);
	raw_send(sv[0], buf, len, NULL, 0);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), (int)len);
	assert_memory_equal(m.buf, buf, len);
	close(sv[0]);
	close(sv[1]);
}

/* ---- EOF, EAGAIN, timeouts -------------------------------------------------- */

static void test_eof(void **state)
{
	uint8_t buf[VU_HDR_SIZE + 8];
	struct vu_io_msg m;
	int sv[2], fds[3];
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_SET_VRING_KICK, 8, 0);

	(void)state;
	/* Clean EOF between messages: 0. */
	pair(sv);
	close(sv[0]);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), 0);
	close(sv[1]);

	/* EOF inside the header, with fds: -ECONNRESET, fds closed. */
	pair(sv);
	make_fds(fds, 3);
	raw_send(sv[0], buf, 5, fds, 3);
	close_fds(fds, 3);
	close(sv[0]);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -ECONNRESET);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* EOF inside the payload, with fds. */
	pair(sv);
	make_fds(fds, 1);
	raw_send(sv[0], buf, len - 3, fds, 1);
	close_fds(fds, 1);
	shutdown(sv[0], SHUT_WR);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
}

static void test_eagain_and_timeout(void **state)
{
	uint8_t buf[VU_HDR_SIZE + 8];
	struct vu_io_msg m;
	int sv[2], fds[2];
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_SET_VRING_CALL, 8, 0);

	(void)state;
	pair(sv);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	/* Nothing there: -EAGAIN, nothing consumed. */
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), -EAGAIN);
	/* Half a header and the peer goes quiet: -ETIMEDOUT, fds closed. */
	make_fds(fds, 2);
	raw_send(sv[0], buf, 6, fds, 2);
	close_fds(fds, 2);
	assert_int_equal(vu_io_recv(sv[1], 100, &m), -ETIMEDOUT);
	assert_int_equal(th_count_fds(), before + 2);
	close(sv[0]);
	close(sv[1]);

	/* Half a payload on a blocking socket: also bounded. */
	pair(sv);
	raw_send(sv[0], buf, len - 1, NULL, 0);
	assert_int_equal(vu_io_recv(sv[1], 100, &m), -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
	assert_int_equal(vu_io_recv(-1, 100, &m), -EBADF);
	assert_int_equal(vu_io_recv(0, 100, NULL), -EINVAL);
}

/* ---- send ------------------------------------------------------------------- */

struct reader {
	int sock;
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	size_t want;
	size_t got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	sleep_ms(50); /* let the sender fill the socket first */
	while (r->got < r->want) {
		ssize_t n = read(r->sock, r->buf + r->got, r->want - r->got);

		if (n <= 0)
			break;
		r->got += (size_t)n;
		sleep_ms(1);
	}
	return NULL;
}

static void test_send_short_writes(void **state)
{
	static uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	static struct reader r;
	int sv[2], fds[2], sndbuf = 1024;
	struct vu_io_msg m;
	pthread_t t;
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_GET_FEATURES, VU_MAX_PAYLOAD, 0x3c);

	(void)state;
	/* A tiny send buffer forces several partial sendmsg() calls. */
	pair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	r = (struct reader){ .sock = sv[1], .want = len };
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	assert_int_equal(vu_io_send(sv[0], 2000, buf, len, NULL, 0), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.got, len);
	assert_memory_equal(r.buf, buf, len);
	close(sv[0]);
	close(sv[1]);

	/* fds arrive with the header and stay ours. */
	pair(sv);
	make_fds(fds, 2);
	len = encode(buf, VU_REQ_SET_MEM_TABLE, 72, 0x3d);
	assert_int_equal(vu_io_send(sv[0], 1000, buf, len, fds, 2), 0);
	assert_true(th_fd_is_open(fds[0]) && th_fd_is_open(fds[1]));
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), (int)len);
	assert_memory_equal(m.buf, buf, len);
	assert_int_equal(m.nfds, 2);
	close_fds(m.fds, m.nfds);
	close_fds(fds, 2);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* Peer gone: -EPIPE, no SIGPIPE. */
	pair(sv);
	close(sv[1]);
	assert_int_equal(vu_io_send(sv[0], 1000, buf, VU_HDR_SIZE, NULL, 0), -EPIPE);
	close(sv[0]);

	/* Bad arguments. */
	assert_int_equal(vu_io_send(0, 1000, NULL, 12, NULL, 0), -EINVAL);
	assert_int_equal(vu_io_send(0, 1000, buf, 0, NULL, 0), -EINVAL);
	assert_int_equal(vu_io_send(0, 1000, buf, 12, NULL, 1), -EINVAL);
	assert_int_equal(vu_io_send(0, 1000, buf, 12, fds, VU_MAX_FDS + 1), -EINVAL);
	assert_int_equal(th_count_fds(), before);
}

static void test_send_recv_pair(void **state)
{
	uint8_t buf[VU_HDR_SIZE + 16];
	struct vu_io_msg m;
	int sv[2], fd;
	int before = th_count_fds();
	size_t len = encode(buf, VU_REQ_SET_LOG_BASE, 16, 0x42);

	(void)state;
	pair(sv);
	fd = th_memfd("log", 4096);
	assert_int_equal(vu_io_send(sv[0], 1000, buf, len, &fd, 1), 0);
	assert_int_equal(vu_io_send(sv[0], 1000, buf, len, NULL, 0), 0);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), (int)len);
	assert_int_equal(m.nfds, 1);
	assert_int_equal(m.fds[1], -1);
	close_fds(m.fds, m.nfds);
	assert_int_equal(vu_io_recv(sv[1], 1000, &m), (int)len);
	assert_int_equal(m.nfds, 0);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
}

/* ---- incremental receive (event loops) ------------------------------------ */

/*
 * A message trickling in piece by piece: every step before the last says
 * -EAGAIN and never waits; fds that came with the first header byte arrive
 * with the message; a second message in the same write follows.
 */
static void test_rx_step_pieces(void **state)
{
	uint8_t buf[2 * (VU_HDR_SIZE + 64)];
	struct vu_io_rx rx;
	struct vu_io_msg m;
	int sv[2], fds[2];
	int before = th_count_fds();
	size_t len, len2;

	(void)state;
	pair(sv);
	make_fds(fds, 2);
	len = encode(buf, VU_REQ_SET_MEM_TABLE, 40, 0xaa);
	len2 = encode(buf + len, VU_REQ_GET_FEATURES, 0, 0);
	vu_io_rx_init(&rx);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	raw_send(sv[0], buf, 5, fds, 2);
	close_fds(fds, 2);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	raw_send(sv[0], buf + 5, 20, NULL, 0);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	raw_send(sv[0], buf + 25, len + len2 - 25, NULL, 0);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), (int)len);
	assert_memory_equal(m.buf, buf, len);
	assert_int_equal(m.nfds, 2);
	assert_true(th_fd_is_open(m.fds[0]) && th_fd_is_open(m.fds[1]));
	close_fds(m.fds, m.nfds);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), (int)len2);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	close(sv[0]);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), 0);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);
}

/* Each refusal resets the partial message and closes the fds that came. */
static void test_rx_step_refusals(void **state)
{
	uint8_t buf[VU_HDR_SIZE + 64];
	struct vu_io_rx rx;
	struct vu_io_msg m;
	int sv[2], fds[12];
	int before = th_count_fds();
	size_t len;

	(void)state;
	/* EOF in the middle of a message, fds held meanwhile. */
	pair(sv);
	make_fds(fds, 1);
	len = encode(buf, VU_REQ_SET_LOG_BASE, 16, 1);
	vu_io_rx_init(&rx);
	raw_send(sv[0], buf, len - 3, fds, 1);
	close_fds(fds, 1);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	assert_int_equal(th_count_fds(), before + 3);
	close(sv[0]);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -ECONNRESET);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* fds with payload bytes. */
	pair(sv);
	make_fds(fds, 1);
	vu_io_rx_init(&rx);
	raw_send(sv[0], buf, VU_HDR_SIZE, NULL, 0);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EAGAIN);
	raw_send(sv[0], buf + VU_HDR_SIZE, 16, fds, 1);
	close_fds(fds, 1);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EPROTO);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(th_count_fds(), before);

	/* Oversized size field; more fds than a message may carry. */
	pair(sv);
	vu_io_rx_init(&rx);
	encode(buf, VU_REQ_GET_FEATURES, 0, 0);
	((struct vu_wire_hdr *)(void *)buf)->size = VU_MAX_PAYLOAD + 1;
	raw_send(sv[0], buf, VU_HDR_SIZE, NULL, 0);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	vu_io_rx_init(&rx);
	make_fds(fds, 12);
	len = encode(buf, VU_REQ_GET_FEATURES, 0, 0);
	raw_send(sv[0], buf, len, fds, 12);
	close_fds(fds, 12);
	assert_int_equal(vu_io_rx_step(sv[1], &rx, &m), -ENOBUFS);
	close(sv[0]);
	close(sv[1]);
	vu_io_rx_reset(NULL);
	assert_int_equal(th_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recv_whole),
		cmocka_unit_test(test_split_header),
		cmocka_unit_test(test_ctrunc),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_eagain_and_timeout),
		cmocka_unit_test(test_send_short_writes),
		cmocka_unit_test(test_send_recv_pair),
		cmocka_unit_test(test_rx_step_pieces),
		cmocka_unit_test(test_rx_step_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
