/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-vdpa's wire formats (protocol/vhost_vdpa.c): the IOTLB V2 messages
 * laid out as the Linux uAPI reads them (checked against the build host's
 * <linux/vhost_types.h> and <linux/virtio_net.h>), and the refusals of
 * what a device may hand us.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/vhost_types.h>
#include <linux/virtio_net.h>

#include "protocol/vhost_vdpa.h"

/* Our offsets are the kernel's. */
static void layout_is_the_uapis(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vhost_msg_v2), VDPA_MSG_V2_SIZE);
	assert_int_equal(offsetof(struct vhost_msg_v2, iotlb), VDPA_IOTLB_OFF);
	assert_int_equal(VHOST_IOTLB_MSG_V2, VDPA_MSG_V2);
	assert_int_equal(VHOST_IOTLB_UPDATE, VDPA_IOTLB_UPDATE);
	assert_int_equal(VHOST_IOTLB_INVALIDATE, VDPA_IOTLB_INVALIDATE);
	assert_int_equal(VHOST_IOTLB_MISS, VDPA_IOTLB_MISS);
	assert_int_equal(VHOST_IOTLB_ACCESS_FAIL, VDPA_IOTLB_ACCESS_FAIL);
	assert_int_equal(VHOST_IOTLB_BATCH_BEGIN, VDPA_IOTLB_BATCH_BEGIN);
	assert_int_equal(VHOST_IOTLB_BATCH_END, VDPA_IOTLB_BATCH_END);
	assert_int_equal(VHOST_ACCESS_RW, VDPA_ACCESS_RW);
	assert_int_equal(VHOST_BACKEND_F_IOTLB_MSG_V2, VDPA_BACKEND_F_IOTLB_MSG_V2);
	assert_int_equal(VHOST_BACKEND_F_IOTLB_BATCH, VDPA_BACKEND_F_IOTLB_BATCH);
#ifdef VHOST_BACKEND_F_SUSPEND
	assert_int_equal(VHOST_BACKEND_F_SUSPEND, VDPA_BACKEND_F_SUSPEND);
#endif
#ifdef VHOST_BACKEND_F_RESUME
	assert_int_equal(VHOST_BACKEND_F_RESUME, VDPA_BACKEND_F_RESUME);
#endif
	assert_int_equal(offsetof(struct virtio_net_config, status), 6);
	assert_int_equal(offsetof(struct virtio_net_config, max_virtqueue_pairs), 8);
	assert_int_equal(offsetof(struct virtio_net_config, mtu), 10);
	assert_int_equal(VIRTIO_NET_F_MAC, VDPA_NET_F_MAC);
	assert_int_equal(VIRTIO_NET_F_MQ, VDPA_NET_F_MQ);
	assert_int_equal(VIRTIO_NET_F_MTU, VDPA_NET_F_MTU);
	assert_int_equal(VIRTIO_NET_F_STATUS, VDPA_NET_F_STATUS);
}

/* An UPDATE as the kernel's struct sees it, and back. */
static void update_roundtrip(void **state)
{
	struct vdpa_iotlb m = { .asid = 0, .type = VDPA_IOTLB_UPDATE, .perm = VDPA_ACCESS_RW,
				.iova = 0x100000, .size = 0x40000000, .uaddr = 0x7f0000000000 };
	struct vhost_msg_v2 k;
	struct vdpa_iotlb back;
	uint8_t buf[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(vdpa_iotlb_encode(&m, buf, sizeof(buf), &len, NULL), 0);
	assert_int_equal(len, sizeof(k));
	memcpy(&k, buf, sizeof(k));
	assert_int_equal(k.type, VHOST_IOTLB_MSG_V2);
	assert_int_equal(k.asid, 0);
	assert_int_equal(k.iotlb.iova, 0x100000);
	assert_int_equal(k.iotlb.size, 0x40000000);
	assert_int_equal(k.iotlb.uaddr, 0x7f0000000000);
	assert_int_equal(k.iotlb.perm, VHOST_ACCESS_RW);
	assert_int_equal(k.iotlb.type, VHOST_IOTLB_UPDATE);
	assert_int_equal(vdpa_iotlb_parse(buf, len, &back, NULL), 0);
	assert_memory_equal(&back, &m, sizeof(m));
}

static void batch_and_invalidate(void **state)
{
	struct vdpa_iotlb b = { .type = VDPA_IOTLB_BATCH_BEGIN };
	struct vdpa_iotlb inv = { .type = VDPA_IOTLB_INVALIDATE, .iova = 0, .size = 4096,
				  .uaddr = 0xdead, .perm = 9 };
	struct vhost_msg_v2 k;
	uint8_t buf[VDPA_MSG_V2_SIZE];
	size_t len;

	(void)state;
	assert_int_equal(vdpa_iotlb_encode(&b, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&k, buf, sizeof(k));
	assert_int_equal(k.iotlb.type, VHOST_IOTLB_BATCH_BEGIN);
	assert_int_equal(k.iotlb.size, 0);
	/* An INVALIDATE carries no address or permission, whatever the struct held. */
	assert_int_equal(vdpa_iotlb_encode(&inv, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&k, buf, sizeof(k));
	assert_int_equal(k.iotlb.type, VHOST_IOTLB_INVALIDATE);
	assert_int_equal(k.iotlb.uaddr, 0);
	assert_int_equal(k.iotlb.perm, 0);
	assert_int_equal(k.iotlb.size, 4096);
}

static void encode_refusals(void **state)
{
	static const struct {
		struct vdpa_iotlb m;
		const char *reason;
	} bad[] = {
		{ { .type = VDPA_IOTLB_UPDATE, .perm = VDPA_ACCESS_RW, .size = 0 },
		  "IOTLB_UPDATE: size 0" },
		{ { .type = VDPA_IOTLB_UPDATE, .perm = VDPA_ACCESS_RW, .iova = UINT64_MAX, .size = 2 },
		  "IOTLB_UPDATE: iova 0xffffffffffffffff + size 0x2 wraps" },
		{ { .type = VDPA_IOTLB_UPDATE, .perm = VDPA_ACCESS_RW, .size = 2, .uaddr = UINT64_MAX },
		  "IOTLB_UPDATE: uaddr 0xffffffffffffffff + size 0x2 wraps" },
		{ { .type = VDPA_IOTLB_UPDATE, .perm = 0, .size = 1 },
		  "IOTLB_UPDATE: perm 0 is not RO, WO or RW" },
		{ { .type = VDPA_IOTLB_MISS, .perm = VDPA_ACCESS_RO },
		  "IOTLB_MISS: the kernel's report, not ours to send" },
		{ { .type = 7 }, "IOTLB: unknown IOTLB type 7" },
	};
	uint8_t buf[VDPA_MSG_V2_SIZE];
	struct msg_err err;
	size_t len;

	(void)state;
	for (size_t i = 0; i < MSG_ROWS(bad); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(vdpa_iotlb_encode(&bad[i].m, buf, sizeof(buf), &len, &err), -EINVAL);
		assert_string_equal(err.reason, bad[i].reason);
	}
	/* Too small a buffer is no bad message. */
	struct vdpa_iotlb ok = { .type = VDPA_IOTLB_BATCH_END };
	assert_int_equal(vdpa_iotlb_encode(&ok, buf, sizeof(buf) - 1, &len, &err), -ENOSPC);
}

/* What the kernel reports on read(): a miss, checked like the rest. */
static void parse_what_the_kernel_sends(void **state)
{
	struct vhost_msg_v2 k;
	struct vdpa_iotlb m;
	struct msg_err err;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.type = VHOST_IOTLB_MSG_V2;
	k.iotlb.type = VHOST_IOTLB_MISS;
	k.iotlb.iova = 0x1234000;
	k.iotlb.perm = VHOST_ACCESS_WO;
	assert_int_equal(vdpa_iotlb_parse((const uint8_t *)&k, sizeof(k), &m, &err), 0);
	assert_int_equal(m.type, VDPA_IOTLB_MISS);
	assert_int_equal(m.iova, 0x1234000);
	assert_int_equal(m.perm, VDPA_ACCESS_WO);

	k.iotlb.perm = 0;
	assert_int_equal(vdpa_iotlb_parse((const uint8_t *)&k, sizeof(k), &m, &err), -EBADMSG);
	assert_string_equal(err.reason, "IOTLB_MISS: perm 0 is not RO, WO or RW");
	k.iotlb.perm = VHOST_ACCESS_RO;
	k.type = 1;	/* VHOST_IOTLB_MSG, the V1 layout */
	assert_int_equal(vdpa_iotlb_parse((const uint8_t *)&k, sizeof(k), &m, &err), -EBADMSG);
	assert_string_equal(err.reason, "vhost-vdpa message: type 1, not MSG_V2 (2)");
	k.type = VHOST_IOTLB_MSG_V2;
	assert_int_equal(vdpa_iotlb_parse((const uint8_t *)&k, sizeof(k) - 1, &m, &err), -EBADMSG);
	assert_string_equal(err.reason, "vhost-vdpa message: 71 bytes, 72 expected");
}

static void iova_range(void **state)
{
	struct vdpa_iova_range r = { .first = 0x1000, .last = 0xffffffff };
	struct msg_err err;

	(void)state;
	assert_int_equal(vdpa_iova_check(&r, 0x1000, 0xfffff000ULL, NULL), 0);
	assert_int_equal(vdpa_iova_check(&r, 0, 0x1000, &err), -ERANGE);
	assert_string_equal(err.reason, "IOVA range: mapping 0x0..0xfff outside the device's "
					"0x1000..0xffffffff");
	assert_int_equal(vdpa_iova_check(&r, 0xfffff000, 0x2000, &err), -ERANGE);
	assert_int_equal(vdpa_iova_check(&r, 0x2000, 0, &err), -EINVAL);
	r.first = 2;
	r.last = 1;
	assert_int_equal(vdpa_iova_check(&r, 0x2000, 1, &err), -EINVAL);
	assert_string_equal(err.reason, "IOVA range: first 0x2 above last 0x1");
}

/* The config of vdpa_sim_net as the kernel's struct lays it out. */
static void net_config(void **state)
{
	struct virtio_net_config k;
	struct vdpa_net_config c;
	struct msg_err err;
	uint64_t f = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
		     1ULL << VIRTIO_NET_F_MTU | 1ULL << VIRTIO_NET_F_MQ;

	(void)state;
	memset(&k, 0, sizeof(k));
	memcpy(k.mac, "\x52\x54\x00\x56\x00\x01", 6);
	k.status = 1;
	k.max_virtqueue_pairs = 4;
	k.mtu = 1500;
	assert_int_equal(vdpa_net_config_parse((const uint8_t *)&k, sizeof(k), f, &c, &err), 0);
	assert_memory_equal(c.mac, "\x52\x54\x00\x56\x00\x01", 6);
	assert_int_equal(c.status, 1);
	assert_int_equal(c.max_virtqueue_pairs, 4);
	assert_int_equal(c.mtu, 1500);
	assert_int_equal(c.has, f);

	/* Only what the features offer is read, and must be there. */
	assert_int_equal(vdpa_net_config_parse((const uint8_t *)&k, 6, 1ULL << VIRTIO_NET_F_MAC,
					       &c, &err), 0);
	assert_int_equal(c.max_virtqueue_pairs, 0);
	assert_int_equal(vdpa_net_config_parse((const uint8_t *)&k, 8, f, &c, &err), -EBADMSG);
	assert_string_equal(err.reason,
			    "net config: max_virtqueue_pairs offered but the config has 8 bytes");
	k.max_virtqueue_pairs = 0x8001;
	assert_int_equal(vdpa_net_config_parse((const uint8_t *)&k, sizeof(k), f, &c, &err),
			 -EBADMSG);
	assert_string_equal(err.reason, "net config: max_virtqueue_pairs 32769 outside 1..32768");
	k.max_virtqueue_pairs = 1;
	k.mtu = 67;
	assert_int_equal(vdpa_net_config_parse((const uint8_t *)&k, sizeof(k), f, &c, &err),
			 -EBADMSG);
	assert_string_equal(err.reason, "net config: mtu 67 below 68");
}

static void backend_feature_names(void **state)
{
	(void)state;
	assert_string_equal(vdpa_backend_feature_name(VDPA_BACKEND_F_SUSPEND), "SUSPEND");
	assert_string_equal(vdpa_backend_feature_name(1), "IOTLB_MSG_V2");
	assert_null(vdpa_backend_feature_name(0));
	assert_null(vdpa_backend_feature_name(64));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_is_the_uapis),
		cmocka_unit_test(update_roundtrip),
		cmocka_unit_test(batch_and_invalidate),
		cmocka_unit_test(encode_refusals),
		cmocka_unit_test(parse_what_the_kernel_sends),
		cmocka_unit_test(iova_range),
		cmocka_unit_test(net_config),
		cmocka_unit_test(backend_feature_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
