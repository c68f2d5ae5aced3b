// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the vfio-user parser and encoders
 * (protocol/vfio_user.c) and, in one mode, the socket layer in front of
 * them (protocol/vfio_user_io.c).
 *
 * The input plays the untrusted peer (a client for the simulated device, a
 * device for the agent: the parser takes both).  Layout:
 *   byte 0   bits 0-5: fds to attach (memfds made here; a fuzzer cannot
 *            pass real ones)
 *            bit 6: go through a socketpair and vfu_recv_msg(), parsing
 *                   every message until EOF (else one vfu_parse())
 *   byte 1-2 size of each memfd in 4 KiB pages (little endian)
 *   rest     the message bytes
 *
 * Beyond the sanitizers it checks: vfu_parse() always consumes its fds; a
 * refusal has a reason; whatever parses re-encodes to the same length, and
 * that encoding parses and re-encodes to the same bytes (the encoders and
 * the one validator agree); no fd is open after an input that was not open
 * before it.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"

/* An input makes at most 63 memfds, a socketpair, 64 received copies and
 * 64 dups: a leak shows below this. */
#define FD_SCAN 320

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out1[VFU_MAX_MSG], out2[VFU_MAX_MSG];
static struct vfu_io_msg io;

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

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

/* Encode, parse again (with copies of the fds), encode again: same bytes. */
static void reencode(const struct vfu_msg *m, size_t orig_len)
{
	struct msg_err err;
	struct vfu_msg m2;
	int dups[VFU_MAX_FDS];
	size_t len1, len2;
	int rc;

	rc = vfu_encode(m, out1, sizeof(out1), &len1, &err);
	if (rc < 0) {
		fprintf(stderr, "re-encode refused: %d %s\n", rc, err.reason);
		abort();
	}
	if (len1 != orig_len)
		abort();
	for (size_t i = 0; i < m->nfds; i++)
		if ((dups[i] = fcntl(m->fds[i], F_DUPFD_CLOEXEC, 0)) < 0)
			abort();
	rc = vfu_parse(out1, len1, dups, m->nfds, &m2, &err);
	if (rc < 0) {
		fprintf(stderr, "re-parse refused: %d %s\n", rc, err.reason);
		abort();
	}
	if (vfu_encode(&m2, out2, sizeof(out2), &len2, NULL) < 0 || len2 != len1 ||
	    memcmp(out1, out2, len1) != 0)
		abort();
	/* A message never "answers" itself unless it is a reply to a command. */
	if (vfu_match_reply(m, &m2, NULL) == 0 &&
	    (vfu_msg_is_reply(m) || !vfu_msg_is_reply(&m2)))
		abort();
	vfu_msg_close(&m2);
}

static void parse_one(const uint8_t *buf, size_t len, int *fds, size_t nfds)
{
	struct msg_err err;
	struct vfu_msg m;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = vfu_parse(buf, len, fds, nfds, &m, &err);
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] != -1)
			abort(); /* vfu_parse() always takes the fds */
	if (rc == 0) {
		if (m.nfds != nfds || m.nfds > VFU_MAX_FDS)
			abort();
		reencode(&m, len);
		vfu_msg_close(&m);
	} else if (rc > 0 || err.reason[0] == '\0' ||
		   !memchr(err.reason, '\0', sizeof(err.reason))) {
		abort();
	}
}

static void via_socket(const uint8_t *msg, size_t len, int *fds, size_t nfds)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* Inputs are capped below the socket buffer, so this never blocks. */
	if (vfu_send_msg(sv[0], 1000, msg, len, fds, nfds) < 0)
		abort();
	shutdown(sv[0], SHUT_WR);
	for (int n = 0; n < 64; n++) {
		int rc = vfu_recv_msg(sv[1], 0, &io);

		if (rc <= 0)
			break;
		if ((size_t)rc != io.len || io.nfds > VFU_MAX_FDS)
			abort();
		parse_one(io.buf, io.len, io.fds, io.nfds);
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[VFU_MAX_FDS];
	bool before[FD_SCAN];
	size_t nfds;
	uint64_t fd_size;

	if (size < 3 || size > 100000)
		return 0;
	snapshot(before);
	nfds = data[0] & 0x3f;
	fd_size = ((uint64_t)data[1] | (uint64_t)data[2] << 8) * 4096;
	for (size_t i = 0; i < nfds; i++) {
		fds[i] = memfd_create("fuzz", MFD_CLOEXEC);
		if (fds[i] < 0 || ftruncate(fds[i], (off_t)fd_size) < 0)
			abort();
	}
	if (data[0] & 0x40) {
		if (size > 3)
			via_socket(data + 3, size - 3, fds, nfds);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]); /* ours: the kernel passed copies */
	} else {
		parse_one(data + 3, size - 3, fds, nfds);
	}
	check_no_leak(before);
	return 0;
}
