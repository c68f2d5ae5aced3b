// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the vhost-vfio mailbox parser and encoders
 * (protocol/vhost_vfio.c).
 *
 * The input plays the untrusted other end of the mailbox (the client for
 * the device, the device for the agent).  Layout:
 *   byte 0   max_vrings - 1 (1..256 rings)
 *   rest     the mailbox message
 *
 * Beyond the sanitizers it checks: a refusal has a reason; whatever parses
 * re-encodes to the same length, and that encoding parses and re-encodes
 * to the same bytes; a parsed request's reply encodes and matches it; read
 * as a batch, the framing (vv_msg_size()) stays inside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/vhost_vfio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct vv_msg *m, const struct vv_parse_ctx *ctx,
			    size_t orig_len)
{
	uint8_t b1[VV_MAX_MSG], b2[VV_MAX_MSG];
	struct msg_err err;
	struct vv_msg m2, rep, rep2;
	size_t l1, l2;
	int rc;

	rc = vv_encode(m, ctx, b1, sizeof(b1), &l1, &err);
	if (rc < 0) {
		fprintf(stderr, "re-encode refused: %d %s\n", rc, err.reason);
		abort();
	}
	if (l1 != orig_len)
		abort();
	if (vv_parse(b1, l1, ctx, &m2, &err) < 0 ||
	    vv_encode(&m2, ctx, b2, sizeof(b2), &l2, NULL) < 0 || l2 != l1 ||
	    memcmp(b1, b2, l1) != 0)
		abort();
	if (vv_msg_is_reply(m))
		return;
	/* The device's answer, as vdpa-simd would build it. */
	vv_reply_init(&rep, m);
	rep.u.state.index = m->u.state.index;
	if (vv_encode(&rep, ctx, b1, sizeof(b1), &l1, &err) < 0 ||
	    vv_parse(b1, l1, ctx, &rep2, &err) < 0 ||
	    vv_match_reply(m, &rep2, &err) < 0)
		abort();
	rep.status = -EIO;
	if (vv_encode(&rep, ctx, b1, sizeof(b1), &l1, &err) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_parse_ctx ctx;
	struct msg_err err;
	struct vv_msg m;
	int rc;

	if (size < 1 || size > 4096)
		return 0;
	ctx.max_vrings = (uint32_t)data[0] + 1;
	memset(&err, 0, sizeof(err));
	rc = vv_parse(data + 1, size - 1, &ctx, &m, &err);
	if (rc == 0)
		check_roundtrip(&m, &ctx, size - 1);
	else if (rc > 0 || err.reason[0] == '\0' ||
		 !memchr(err.reason, '\0', sizeof(err.reason)))
		abort();
	/* As a batch: the framing never runs past the bytes there, and walks to their end. */
	for (size_t off = 1, n; off < size; off += n) {
		if (vv_msg_size(data + off, size - off, &n) < 0)
			break;
		if (n < VV_HDR_SIZE || n > size - off)
			abort();
	}
	return 0;
}
