// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-vdpa's IOTLB messages, IOVA range and virtio-net config space
 * (vhost_vdpa.h).  Pure: bytes in, structs out.
 *
 * Trust boundary: a message read from the device's fd, its config space and
 * its IOVA range come from the kernel driver and the device behind it;
 * every field is checked here before anyone uses it.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "protocol/vhost_vdpa.h"

_Static_assert(VDPA_IOTLB_OFF + 26 <= VDPA_MSG_V2_SIZE, "the IOTLB message fits the union");

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static const char *iotlb_name(uint8_t type)
{
	static const char *const names[] = {
		[VDPA_IOTLB_MISS] = "IOTLB_MISS",
		[VDPA_IOTLB_UPDATE] = "IOTLB_UPDATE",
		[VDPA_IOTLB_INVALIDATE] = "IOTLB_INVALIDATE",
		[VDPA_IOTLB_ACCESS_FAIL] = "IOTLB_ACCESS_FAIL",
		[VDPA_IOTLB_BATCH_BEGIN] = "IOTLB_BATCH_BEGIN",
		[VDPA_IOTLB_BATCH_END] = "IOTLB_BATCH_END",
	};

	return type < MSG_ROWS(names) && names[type] ? names[type] : "IOTLB";
}

static bool perm_ok(uint8_t perm)
{
	return perm == VDPA_ACCESS_RO || perm == VDPA_ACCESS_WO || perm == VDPA_ACCESS_RW;
}

/* What a message of its type must satisfy, whoever made it. */
static int iotlb_check(const struct vdpa_iotlb *m, struct msg_err *err)
{
	const char *who = iotlb_name(m->type);

	switch (m->type) {
	case VDPA_IOTLB_UPDATE:
	case VDPA_IOTLB_INVALIDATE:
		if (m->size == 0)
			return msg_fail(err, m->type, who, -EINVAL, "size 0");
		if (m->iova > UINT64_MAX - (m->size - 1))
			return msg_fail(err, m->type, who, -EINVAL,
					"iova 0x%llx + size 0x%llx wraps",
					(unsigned long long)m->iova, (unsigned long long)m->size);
		if (m->type == VDPA_IOTLB_INVALIDATE)
			return 0;
		if (m->uaddr > UINT64_MAX - (m->size - 1))
			return msg_fail(err, m->type, who, -EINVAL,
					"uaddr 0x%llx + size 0x%llx wraps",
					(unsigned long long)m->uaddr, (unsigned long long)m->size);
		if (!perm_ok(m->perm))
			return msg_fail(err, m->type, who, -EINVAL, "perm %u is not RO, WO or RW",
					m->perm);
		return 0;
	case VDPA_IOTLB_MISS:
	case VDPA_IOTLB_ACCESS_FAIL:
		if (!perm_ok(m->perm))
			return msg_fail(err, m->type, who, -EINVAL, "perm %u is not RO, WO or RW",
					m->perm);
		return 0;
	case VDPA_IOTLB_BATCH_BEGIN:
	case VDPA_IOTLB_BATCH_END:
		return 0;
	default:
		return msg_fail(err, m->type, who, -EINVAL, "unknown IOTLB type %u", m->type);
	}
}

int vdpa_iotlb_encode(const struct vdpa_iotlb *m, uint8_t *buf, size_t len, size_t *ret_len,
		      struct msg_err *err)
{
	uint8_t *t = buf + VDPA_IOTLB_OFF;
	int r;

	if (m->type == VDPA_IOTLB_MISS || m->type == VDPA_IOTLB_ACCESS_FAIL)
		return msg_fail(err, m->type, iotlb_name(m->type), -EINVAL,
				"the kernel's report, not ours to send");
	r = iotlb_check(m, err);
	if (r < 0)
		return r;
	if (len < VDPA_MSG_V2_SIZE)
		return msg_fail(err, m->type, iotlb_name(m->type), -ENOSPC,
				"buffer of %zu bytes, %u needed", len, VDPA_MSG_V2_SIZE);
	memset(buf, 0, VDPA_MSG_V2_SIZE);
	put_le32(buf, VDPA_MSG_V2);
	put_le32(buf + 4, m->asid);
	if (m->type == VDPA_IOTLB_UPDATE || m->type == VDPA_IOTLB_INVALIDATE) {
		put_le64(t, m->iova);
		put_le64(t + 8, m->size);
	}
	if (m->type == VDPA_IOTLB_UPDATE) {
		put_le64(t + 16, m->uaddr);
		t[24] = m->perm;
	}
	t[25] = m->type;
	*ret_len = VDPA_MSG_V2_SIZE;
	return 0;
}

int vdpa_iotlb_parse(const uint8_t *buf, size_t len, struct vdpa_iotlb *ret,
		     struct msg_err *err)
{
	const uint8_t *t = buf + VDPA_IOTLB_OFF;
	struct vdpa_iotlb m;
	uint32_t type;

	if (len != VDPA_MSG_V2_SIZE)
		return msg_fail(err, 0, "vhost-vdpa message", -EBADMSG, "%zu bytes, %u expected",
				len, VDPA_MSG_V2_SIZE);
	type = get_le32(buf);
	if (type != VDPA_MSG_V2)
		return msg_fail(err, 0, "vhost-vdpa message", -EBADMSG, "type %u, not MSG_V2 (%u)",
				type, VDPA_MSG_V2);
	memset(&m, 0, sizeof(m));
	m.asid = get_le32(buf + 4);
	m.iova = get_le64(t);
	m.size = get_le64(t + 8);
	m.uaddr = get_le64(t + 16);
	m.perm = t[24];
	m.type = t[25];
	if (iotlb_check(&m, err) < 0) {
		if (err)
			err->id = m.type;
		return -EBADMSG;
	}
	*ret = m;
	return 0;
}

int vdpa_iova_check(const struct vdpa_iova_range *range, uint64_t iova, uint64_t size,
		    struct msg_err *err)
{
	if (range->first > range->last)
		return msg_fail(err, 0, "IOVA range", -EINVAL, "first 0x%llx above last 0x%llx",
				(unsigned long long)range->first, (unsigned long long)range->last);
	if (size == 0 || iova > UINT64_MAX - (size - 1))
		return msg_fail(err, 0, "IOVA range", -EINVAL, "mapping 0x%llx + 0x%llx is empty or wraps",
				(unsigned long long)iova, (unsigned long long)size);
	if (iova < range->first || iova + (size - 1) > range->last)
		return msg_fail(err, 0, "IOVA range", -ERANGE,
				"mapping 0x%llx..0x%llx outside the device's 0x%llx..0x%llx",
				(unsigned long long)iova, (unsigned long long)(iova + (size - 1)),
				(unsigned long long)range->first, (unsigned long long)range->last);
	return 0;
}

/* virtio_net_config: mac[6] @0, status @6, max_virtqueue_pairs @8, mtu @10. */
int vdpa_net_config_parse(const uint8_t *buf, size_t len, uint64_t features,
			  struct vdpa_net_config *ret, struct msg_err *err)
{
	static const struct {
		unsigned bit;
		size_t off, size;
		const char *name;
	} member[] = {
		{ VDPA_NET_F_MAC, 0, 6, "mac" },
		{ VDPA_NET_F_STATUS, 6, 2, "status" },
		{ VDPA_NET_F_MQ, 8, 2, "max_virtqueue_pairs" },
		{ VDPA_NET_F_MTU, 10, 2, "mtu" },
	};
	struct vdpa_net_config c;

	if (len > VDPA_NET_CONFIG_MAX)
		return msg_fail(err, 0, "net config", -EBADMSG, "%zu bytes, at most %u", len,
				VDPA_NET_CONFIG_MAX);
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < MSG_ROWS(member); i++) {
		if (!(features & (1ULL << member[i].bit)))
			continue;
		if (member[i].off + member[i].size > len)
			return msg_fail(err, 0, "net config", -EBADMSG,
					"%s offered but the config has %zu bytes", member[i].name,
					len);
		c.has |= 1u << member[i].bit;
	}
	if (c.has & (1u << VDPA_NET_F_MAC))
		memcpy(c.mac, buf, 6);
	if (c.has & (1u << VDPA_NET_F_STATUS))
		c.status = get_le16(buf + 6);
	if (c.has & (1u << VDPA_NET_F_MQ)) {
		c.max_virtqueue_pairs = get_le16(buf + 8);
		if (c.max_virtqueue_pairs < 1 || c.max_virtqueue_pairs > 0x8000)
			return msg_fail(err, 0, "net config", -EBADMSG,
					"max_virtqueue_pairs %u outside 1..32768",
					c.max_virtqueue_pairs);
	}
	if (c.has & (1u << VDPA_NET_F_MTU)) {
		c.mtu = get_le16(buf + 10);
		if (c.mtu < 68)
			return msg_fail(err, 0, "net config", -EBADMSG, "mtu %u below 68", c.mtu);
	}
	*ret = c;
	return 0;
}

const char *vdpa_backend_feature_name(unsigned bit)
{
	static const char *const names[] = {
		[VDPA_BACKEND_F_IOTLB_MSG_V2] = "IOTLB_MSG_V2",
		[VDPA_BACKEND_F_IOTLB_BATCH] = "IOTLB_BATCH",
		[VDPA_BACKEND_F_IOTLB_ASID] = "IOTLB_ASID",
		[VDPA_BACKEND_F_SUSPEND] = "SUSPEND",
		[VDPA_BACKEND_F_RESUME] = "RESUME",
		[VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK] = "ENABLE_AFTER_DRIVER_OK",
		[VDPA_BACKEND_F_DESC_ASID] = "DESC_ASID",
		[VDPA_BACKEND_F_IOTLB_PERSIST] = "IOTLB_PERSIST",
	};

	return bit < MSG_ROWS(names) ? names[bit] : NULL;
}
