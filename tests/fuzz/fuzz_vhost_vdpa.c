// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for vhost-vdpa's wire formats (protocol/vhost_vdpa.c).
 *
 * The input plays the device (the kernel driver and what is behind it).
 * Layout:
 *   byte 0      which parser: 0 an IOTLB message read from the fd,
 *               1 the virtio-net config space, 2 the IOVA range
 *   bytes 1-8   features offered (little endian), for the config space
 *   rest        the bytes the device gave
 *
 * Beyond the sanitizers it checks: a refusal has a reason; an IOTLB
 * message that parses and is ours to send re-encodes to the same bytes
 * (apart from what its type does not carry); a config that parses only
 * claims members the features offered; a range check that passes keeps
 * the mapping inside the range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/vhost_vdpa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_err err = { 0 };
	uint64_t features;
	const uint8_t *p;
	size_t n;

	if (size < 9)
		return 0;
	features = le64(data + 1);
	p = data + 9;
	n = size - 9;
	switch (data[0] % 3) {
	case 0: {
		struct vdpa_iotlb m;
		uint8_t b[VDPA_MSG_V2_SIZE];
		size_t l;

		if (vdpa_iotlb_parse(p, n, &m, &err) < 0) {
			if (!err.reason[0])
				abort();
			break;
		}
		if (m.type == VDPA_IOTLB_MISS || m.type == VDPA_IOTLB_ACCESS_FAIL)
			break;
		if (vdpa_iotlb_encode(&m, b, sizeof(b), &l, &err) < 0 || l != n)
			abort();
		struct vdpa_iotlb m2;

		if (vdpa_iotlb_parse(b, l, &m2, &err) < 0 || m2.type != m.type || m2.asid != m.asid)
			abort();
		break;
	}
	case 1: {
		struct vdpa_net_config c;

		if (vdpa_net_config_parse(p, n, features, &c, &err) < 0) {
			if (!err.reason[0])
				abort();
			break;
		}
		if (c.has & ~(uint32_t)features)
			abort();
		break;
	}
	default: {
		struct vdpa_iova_range r;
		uint64_t iova, len;

		if (n < 32)
			break;
		r.first = le64(p);
		r.last = le64(p + 8);
		iova = le64(p + 16);
		len = le64(p + 24);
		if (vdpa_iova_check(&r, iova, len, &err) < 0) {
			if (!err.reason[0])
				abort();
			break;
		}
		if (len == 0 || iova < r.first || iova + (len - 1) > r.last || iova + (len - 1) < iova)
			abort();
		break;
	}
	}
	return 0;
}
