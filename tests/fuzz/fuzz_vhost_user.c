// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the vhost-user parser (protocol/vhost_user.c) and,
 * in one mode, the socket layer in front of it (protocol/vhost_user_io.c).
 *
 * The input plays the untrusted front end.  Layout:
 *   byte 0   bits 0-3: fds to attach (capped at 8; memfds made here, since
 *            a fuzzer cannot pass real ones)
 *            bit 4: connection state OWNED (else CONNECTED)
 *            bit 5: every protocol feature negotiated (else none)
 *            bit 6: go through a socketpair and vu_io_recv(), parsing every
 *                   message until EOF (else one vu_parse() of the bytes)
 *   byte 1-2 size of each memfd in 4 KiB pages (little endian)
 *   rest     the message bytes
 *
 * Beyond the sanitizers it checks the fd rules: after each input, no fd is
 * open that was not open before it (vu_parse() consumes its fds,
 * vu_msg_close() closes the rest, vu_io_recv() closes on error).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/vhost_user.h"
#include "protocol/vhost_user_io.h"

/*
 * fds are allocated lowest-first, and one input makes at most 8 memfds, a
 * socketpair and 8 received copies, so a leak shows up below this.
 */
#define FD_SCAN 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/*
 * The baseline is taken per input: between inputs libFuzzer itself may
 * open fds (the symbolizer's pipes when it prints a new function).
 */
static void snapshot(bool *open_fds)
{
	for (int fd = 0; fd < FD_SCAN; fd++)
		open_fds[fd] = fd_open(fd);
}

static void check_no_leak(const bool *before)
{
	for (int fd = 0; fd < FD_SCAN; fd++) {
		if (fd_open(fd) && !before[fd]) {
			fprintf(stderr, "fd %d leaked\n", fd);
			abort();
		}
	}
}

/* What a handler would do with a parsed message, minus the handling. */
static void answer(struct vu_msg *m, uint64_t pf)
{
	uint8_t out[VU_MAX_REPLY];
	struct vu_reply r = { .request = m->request };
	size_t len;

	switch (vu_respond(m, pf)) {
	case VU_RESPOND_REPLY:
		r.u.inflight.mmap_size = 4096;
		r.u.inflight.num_queues = 1;
		if (vu_encode_reply(&r, out, sizeof(out), &len) < 0 || len < VU_HDR_SIZE)
			abort(); /* every request that replies has an encoder */
		break;
	case VU_RESPOND_ACK:
		if (vu_encode_ack(m->request, 0, out, sizeof(out), &len) < 0)
			abort();
		break;
	case VU_RESPOND_NONE:
		break;
	}
	if (m->nfds > VU_MAX_FDS)
		abort();
	vu_msg_close(m);
}

static void parse_one(const uint8_t *buf, size_t len, int *fds, size_t nfds,
		      const struct vu_parse_ctx *ctx)
{
	struct msg_err err;
	struct vu_msg m;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = vu_parse(buf, len, fds, nfds, ctx, &m, &err);
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] != -1)
			abort(); /* vu_parse() always takes the fds */
	if (rc == 0)
		answer(&m, ctx->protocol_features);
	else if (rc > 0 || err.reason[0] == '\0' || !memchr(err.reason, '\0', sizeof(err.reason)))
		abort();
}

static void via_socket(const uint8_t *msg, size_t len, int *fds, size_t nfds,
		       const struct vu_parse_ctx *ctx)
{
	struct vu_io_msg io;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* Inputs are capped well below the socket buffer, so this never blocks. */
	if (vu_io_send(sv[0], -1, msg, len, fds, nfds) < 0)
		abort();
	shutdown(sv[0], SHUT_WR);

	for (int n = 0; n < 64; n++) {
		int rc = vu_io_recv(sv[1], 0, &io);

		if (rc <= 0)
			break;
		if ((size_t)rc != io.len || io.nfds > VU_MAX_FDS)
			abort();
		parse_one(io.buf, io.len, io.fds, io.nfds, ctx);
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vu_parse_ctx ctx = {
		.features_offered = UINT64_MAX >> 1,
		.protocol_features_offered = UINT64_MAX >> 1,
		.max_vrings = 16,
	};
	int fds[VU_MAX_FDS];
	bool before[FD_SCAN];
	size_t nfds;
	uint64_t fd_size;

	if (size < 3 || size > 16384)
		return 0;
	snapshot(before);
	nfds = data[0] & 0x0f;
	if (nfds > VU_MAX_FDS)
		nfds = VU_MAX_FDS;
	ctx.state = (data[0] & 0x10) ? VU_STATE_OWNED : VU_STATE_CONNECTED;
	ctx.protocol_features = (data[0] & 0x20) ? UINT64_MAX : 0;
	fd_size = ((uint64_t)data[1] | (uint64_t)data[2] << 8) * 4096;

	for (size_t i = 0; i < nfds; i++) {
		fds[i] = memfd_create("fuzz", MFD_CLOEXEC);
		if (fds[i] < 0 || ftruncate(fds[i], (off_t)fd_size) < 0)
			abort();
	}

	if (data[0] & 0x40) {
		if (size > 3)
			via_socket(data + 3, size - 3, fds, nfds, &ctx);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]); /* ours: the kernel passed copies */
	} else {
		parse_one(data + 3, size - 3, fds, nfds, &ctx);
	}

	check_no_leak(before);
	return 0;
}
