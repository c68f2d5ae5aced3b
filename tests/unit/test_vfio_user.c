// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/vfio_user.c and vfio_user_io.c: every command and
 * every reply is encoded, sent over a socketpair with its fds, received and
 * parsed, and its fields compared; every malformed case, built byte by byte
 * as a hostile peer would, is refused with its own errno and reason and
 * leaks no fd (counted in /proc/self/fd around each case).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/common/util.h"
#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"
#include "tests/helpers/testhelp.h"

#define MiB (UINT64_C(1) << 20)
#define PAGE UINT64_C(4096)

static struct vfu_io_msg *io; /* 64 KiB: one, on the heap */

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Peer -> socketpair -> vfu_recv_msg() -> vfu_parse().  The caller's fds
 * stay the caller's (the kernel passes duplicates).  Parsed pointers point
 * into the static io buffer.
 */
static int through(const uint8_t *buf, size_t len, const int *fds, size_t nfds,
		   struct vfu_msg *ret, struct msg_err *err)
{
	int sv[2];
	int rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vfu_send_msg(sv[0], 1000, buf, len, fds, nfds), 0);
	assert_int_equal(vfu_recv_msg(sv[1], 1000, io), (int)len);
	assert_int_equal(io->nfds, nfds);
	rc = vfu_parse(io->buf, io->len, io->fds, io->nfds, ret, err);
	for (size_t i = 0; i < VFU_MAX_FDS; i++)
		assert_int_equal(io->fds[i], -1);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

/* Encodes m (with its fds), sends it, parses it: *out is what arrived. */
static void roundtrip(const struct vfu_msg *m, struct vfu_msg *out)
{
	uint8_t *buf = malloc(VFU_MAX_MSG);
	struct msg_err err = { 0 };
	size_t len = 0;
	int rc;

	assert_non_null(buf);
	rc = vfu_encode(m, buf, VFU_MAX_MSG, &len, &err);
	if (rc)
		print_error("encode %s: %d %s\n", vfu_command_name(m->command), rc, err.reason);
	assert_int_equal(rc, 0);
	rc = through(buf, len, m->fds, m->nfds, out, &err);
	if (rc)
		print_error("parse %s: %d %s\n", vfu_command_name(m->command), rc, err.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(out->msg_id, m->msg_id);
	assert_int_equal(out->command, m->command);
	assert_int_equal(out->flags, m->flags);
	assert_int_equal(out->error, m->error);
	assert_int_equal(out->nfds, m->nfds);
	for (size_t i = 0; i < out->nfds; i++)
		assert_true(th_fd_is_open(out->fds[i]));
	free(buf);
}

static void cmd(struct vfu_msg *m, uint16_t command, uint16_t id)
{
	vfu_msg_init(m, command, id);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_version(void **state)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":64,\"max_data_xfer_size\":65536}}";
	struct vfu_msg m, r, rep;

	(void)state;
	cmd(&m, VFU_CMD_VERSION, 1);
	m.u.version.major = 0;
	m.u.version.minor = 1;
	m.u.version.caps = caps;
	m.u.version.caps_len = strlen(caps);
	roundtrip(&m, &r);
	assert_int_equal(r.u.version.major, 0);
	assert_int_equal(r.u.version.minor, 1);
	assert_int_equal(r.u.version.caps_len, strlen(caps));
	assert_string_equal(r.u.version.caps, caps);

	/* Reply without capabilities: they are optional. */
	vfu_reply_init(&rep, &m);
	rep.u.version.major = 0;
	rep.u.version.minor = 1;
	roundtrip(&rep, &r);
	assert_true(vfu_msg_is_reply(&r));
	assert_null(r.u.version.caps);
	assert_int_equal(r.u.version.caps_len, 0);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
}

static void test_dma_map_unmap(void **state)
{
	struct vfu_msg m, r, rep;
	int before = th_count_fds();

	(void)state;
	cmd(&m, VFU_CMD_DMA_MAP, 2);
	m.u.dma_map.flags = VFU_DMA_READ | VFU_DMA_WRITE;
	m.u.dma_map.offset = 2 * MiB;
	m.u.dma_map.addr = UINT64_C(0x100000000);
	m.u.dma_map.size = 2 * MiB;
	m.fds[0] = th_memfd("guest", 4 * MiB);
	m.nfds = 1;
	assert_true(m.fds[0] >= 0);
	roundtrip(&m, &r);
	assert_int_equal(r.u.dma_map.flags, VFU_DMA_READ | VFU_DMA_WRITE);
	assert_int_equal(r.u.dma_map.offset, 2 * MiB);
	assert_int_equal(r.u.dma_map.addr, UINT64_C(0x100000000));
	assert_int_equal(r.u.dma_map.size, 2 * MiB);
	/* Taking the fd leaves -1; closing twice is harmless. */
	{
		int fd = vfu_msg_take_fd(&r, 0);

		assert_true(th_fd_is_open(fd));
		assert_int_equal(r.fds[0], -1);
		assert_int_equal(vfu_msg_take_fd(&r, 0), -1);
		assert_int_equal(vfu_msg_take_fd(&r, 1), -1);
		close(fd);
	}
	vfu_msg_close(&r);
	vfu_msg_close(&r);
	vfu_msg_close(NULL);

	vfu_reply_init(&rep, &m);
	roundtrip(&rep, &r);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	close_all(m.fds, m.nfds);

	cmd(&m, VFU_CMD_DMA_UNMAP, 3);
	m.u.dma_unmap.addr = UINT64_C(0x100000000);
	m.u.dma_unmap.size = 2 * MiB;
	roundtrip(&m, &r);
	assert_int_equal(r.u.dma_unmap.addr, UINT64_C(0x100000000));
	assert_int_equal(r.u.dma_unmap.size, 2 * MiB);
	assert_int_equal(r.u.dma_unmap.flags, 0);
	vfu_reply_init(&rep, &m);
	rep.u.dma_unmap = m.u.dma_unmap;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.dma_unmap.size, 2 * MiB);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	assert_int_equal(th_count_fds(), before);
}

static void test_device_info(void **state)
{
	struct vfu_msg m, r, rep;

	(void)state;
	cmd(&m, VFU_CMD_DEVICE_GET_INFO, 4);
	m.u.device_info.argsz = 16;
	roundtrip(&m, &r);
	assert_int_equal(r.u.device_info.argsz, 16);
	vfu_reply_init(&rep, &m);
	rep.u.device_info.argsz = 16;
	rep.u.device_info.flags = VFU_DEVICE_FLAGS_PCI | VFU_DEVICE_FLAGS_RESET;
	rep.u.device_info.num_regions = 9;
	rep.u.device_info.num_irqs = 5;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.device_info.argsz, 16);
	assert_int_equal(r.u.device_info.flags, VFU_DEVICE_FLAGS_PCI | VFU_DEVICE_FLAGS_RESET);
	assert_int_equal(r.u.device_info.num_regions, 9);
	assert_int_equal(r.u.device_info.num_irqs, 5);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
}

static void test_region_info(void **state)
{
	static const uint8_t caps[16] = { 3, 0, 1, 0, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4 };
	struct vfu_msg m, r, rep;
	int before = th_count_fds();

	(void)state;
	cmd(&m, VFU_CMD_DEVICE_GET_REGION_INFO, 5);
	m.u.region_info.argsz = 256;
	m.u.region_info.index = 1;
	roundtrip(&m, &r);
	assert_int_equal(r.u.region_info.argsz, 256);
	assert_int_equal(r.u.region_info.index, 1);
	assert_int_equal(r.u.region_info.caps_len, 0);

	/* Not mappable: no fd. */
	vfu_reply_init(&rep, &m);
	rep.u.region_info.argsz = 32;
	rep.u.region_info.flags = VFU_REGION_READ | VFU_REGION_WRITE;
	rep.u.region_info.index = 1;
	rep.u.region_info.size = 4096;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.region_info.flags, VFU_REGION_READ | VFU_REGION_WRITE);
	assert_int_equal(r.u.region_info.size, 4096);
	assert_int_equal(r.nfds, 0);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);

	/* Mappable, with a capability chain: the fd rides along. */
	rep.u.region_info.flags = VFU_REGION_READ | VFU_REGION_WRITE | VFU_REGION_MMAP | VFU_REGION_CAPS;
	rep.u.region_info.offset = 4096;
	rep.u.region_info.size = 8192;
	rep.u.region_info.cap_offset = 32;
	rep.u.region_info.caps = caps;
	rep.u.region_info.caps_len = sizeof(caps);
	rep.fds[0] = th_memfd("bar", 3 * 4096);
	rep.nfds = 1;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.region_info.argsz, 32 + sizeof(caps));
	assert_int_equal(r.u.region_info.offset, 4096);
	assert_int_equal(r.u.region_info.size, 8192);
	assert_int_equal(r.u.region_info.cap_offset, 32);
	assert_int_equal(r.u.region_info.caps_len, sizeof(caps));
	assert_memory_equal(r.u.region_info.caps, caps, sizeof(caps));
	assert_int_equal(r.nfds, 1);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	vfu_msg_close(&r);
	close_all(rep.fds, rep.nfds);

	/* The client's argsz was too small: the struct alone, argsz says more. */
	vfu_reply_init(&rep, &m);
	rep.u.region_info.argsz = 48;
	rep.u.region_info.flags = VFU_REGION_READ | VFU_REGION_CAPS;
	rep.u.region_info.index = 1;
	rep.u.region_info.size = 4096;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.region_info.argsz, 48);
	assert_int_equal(r.u.region_info.caps_len, 0);
	assert_int_equal(th_count_fds(), before);
}

static void test_io_fds(void **state)
{
	struct vfu_msg m, r, rep;
	int before = th_count_fds();

	(void)state;
	cmd(&m, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 6);
	m.u.io_fds.argsz = 16 + 3 * 40;
	m.u.io_fds.index = 1;
	roundtrip(&m, &r);
	assert_int_equal(r.u.io_fds.argsz, 16 + 3 * 40);
	assert_int_equal(r.u.io_fds.index, 1);
	assert_int_equal(r.u.io_fds.nsub, 0);

	vfu_reply_init(&rep, &m);
	rep.u.io_fds.index = 1;
	rep.u.io_fds.count = 3;
	rep.u.io_fds.nsub = 3;
	for (uint32_t i = 0; i < 3; i++) {
		rep.u.io_fds.sub[i].offset = i * 4096;
		rep.u.io_fds.sub[i].size = 2;
		rep.u.io_fds.sub[i].type = VFU_SUB_IOEVENTFD;
		rep.u.io_fds.sub[i].flags = VFU_SUB_F_DATAMATCH;
		rep.u.io_fds.sub[i].datamatch = i;
		rep.u.io_fds.sub[i].fd_index = i == 2 ? 1 : i; /* fd 1 shared */
	}
	rep.u.io_fds.sub[2].type = VFU_SUB_IOREGIONFD;
	rep.u.io_fds.sub[2].flags = 0;
	rep.u.io_fds.sub[2].size = 4096;
	rep.fds[0] = eventfd(0, EFD_CLOEXEC);
	rep.fds[1] = eventfd(0, EFD_CLOEXEC);
	rep.nfds = 2;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.io_fds.argsz, 16 + 3 * 40);
	assert_int_equal(r.u.io_fds.count, 3);
	assert_int_equal(r.u.io_fds.nsub, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(r.u.io_fds.sub[i].offset, rep.u.io_fds.sub[i].offset);
		assert_int_equal(r.u.io_fds.sub[i].size, rep.u.io_fds.sub[i].size);
		assert_int_equal(r.u.io_fds.sub[i].fd_index, rep.u.io_fds.sub[i].fd_index);
		assert_int_equal(r.u.io_fds.sub[i].type, rep.u.io_fds.sub[i].type);
		assert_int_equal(r.u.io_fds.sub[i].flags, rep.u.io_fds.sub[i].flags);
		assert_int_equal(r.u.io_fds.sub[i].datamatch, rep.u.io_fds.sub[i].datamatch);
	}
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	vfu_msg_close(&r);
	close_all(rep.fds, rep.nfds);

	/* Client's buffer too small: count and argsz, no entries, no fds. */
	m.u.io_fds.argsz = 16;
	vfu_reply_init(&rep, &m);
	rep.u.io_fds.index = 1;
	rep.u.io_fds.count = 3;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.io_fds.argsz, 16 + 3 * 40);
	assert_int_equal(r.u.io_fds.nsub, 0);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	assert_int_equal(th_count_fds(), before);
}

static void test_irqs(void **state)
{
	static const uint8_t bools[3] = { 1, 0, 1 };
	struct vfu_msg m, r, rep;
	int before = th_count_fds();

	(void)state;
	cmd(&m, VFU_CMD_DEVICE_GET_IRQ_INFO, 7);
	m.u.irq_info.argsz = 16;
	m.u.irq_info.index = 2;
	roundtrip(&m, &r);
	assert_int_equal(r.u.irq_info.index, 2);
	vfu_reply_init(&rep, &m);
	rep.u.irq_info.argsz = 16;
	rep.u.irq_info.index = 2;
	rep.u.irq_info.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_NORESIZE;
	rep.u.irq_info.count = 4;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.irq_info.flags, VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_NORESIZE);
	assert_int_equal(r.u.irq_info.count, 4);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);

	/* Disable all: DATA_NONE, count 0. */
	cmd(&m, VFU_CMD_DEVICE_SET_IRQS, 8);
	m.u.irq_set.flags = VFU_IRQ_DATA_NONE | VFU_IRQ_ACTION_TRIGGER;
	m.u.irq_set.index = 2;
	roundtrip(&m, &r);
	assert_int_equal(r.u.irq_set.flags, VFU_IRQ_DATA_NONE | VFU_IRQ_ACTION_TRIGGER);
	assert_int_equal(r.u.irq_set.count, 0);
	assert_null(r.u.irq_set.bools);

	m.u.irq_set.flags = VFU_IRQ_DATA_BOOL | VFU_IRQ_ACTION_MASK;
	m.u.irq_set.start = 1;
	m.u.irq_set.count = 3;
	m.u.irq_set.bools = bools;
	roundtrip(&m, &r);
	assert_int_equal(r.u.irq_set.start, 1);
	assert_int_equal(r.u.irq_set.count, 3);
	assert_memory_equal(r.u.irq_set.bools, bools, 3);

	m.u.irq_set.flags = VFU_IRQ_DATA_EVENTFD | VFU_IRQ_ACTION_TRIGGER;
	m.u.irq_set.start = 0;
	m.u.irq_set.count = 4;
	m.u.irq_set.bools = NULL;
	for (size_t i = 0; i < 4; i++)
		m.fds[i] = eventfd(0, EFD_CLOEXEC);
	m.nfds = 4;
	roundtrip(&m, &r);
	assert_int_equal(r.u.irq_set.count, 4);
	assert_int_equal(r.nfds, 4);
	vfu_msg_close(&r);
	vfu_reply_init(&rep, &m);
	roundtrip(&rep, &r);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	close_all(m.fds, m.nfds);
	assert_int_equal(th_count_fds(), before);
}

static void test_region_rw(void **state)
{
	uint8_t *data = malloc(VFU_MAX_DATA);
	struct vfu_msg m, r, rep;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < VFU_MAX_DATA; i++)
		data[i] = (uint8_t)(i * 7);
	cmd(&m, VFU_CMD_REGION_READ, 9);
	m.u.access.offset = 0x40;
	m.u.access.region = 0;
	m.u.access.count = VFU_MAX_DATA;
	roundtrip(&m, &r);
	assert_int_equal(r.u.access.offset, 0x40);
	assert_int_equal(r.u.access.count, VFU_MAX_DATA);
	assert_null(r.u.access.data);
	vfu_reply_init(&rep, &m);
	rep.u.access = m.u.access;
	rep.u.access.data = data;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.access.count, VFU_MAX_DATA);
	assert_memory_equal(r.u.access.data, data, VFU_MAX_DATA);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);

	cmd(&m, VFU_CMD_REGION_WRITE, 10);
	m.u.access.offset = 8;
	m.u.access.region = 1;
	m.u.access.count = 4;
	m.u.access.data = data;
	roundtrip(&m, &r);
	assert_int_equal(r.u.access.offset, 8);
	assert_int_equal(r.u.access.region, 1);
	assert_int_equal(r.u.access.count, 4);
	assert_memory_equal(r.u.access.data, data, 4);
	vfu_reply_init(&rep, &m);
	rep.u.access = m.u.access;
	rep.u.access.data = NULL;
	roundtrip(&rep, &r);
	assert_null(r.u.access.data);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);
	free(data);
}

static void test_error_reply(void **state)
{
	uint8_t buf[VFU_HDR_SIZE];
	struct vfu_msg m, r;
	struct msg_err err = { 0 };
	size_t len;

	(void)state;
	cmd(&m, VFU_CMD_DMA_MAP, 77);
	assert_int_equal(vfu_encode_error(77, VFU_CMD_DMA_MAP, -ENOSPC, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, VFU_HDR_SIZE);
	assert_int_equal(through(buf, len, NULL, 0, &r, &err), 0);
	assert_true(vfu_msg_is_reply(&r));
	assert_int_equal(r.flags, VFU_TYPE_REPLY | VFU_FLAG_ERROR);
	assert_int_equal(r.error, ENOSPC);
	assert_int_equal(vfu_match_reply(&m, &r, NULL), 0);

	/* A server refuses commands it does not know: still a valid reply. */
	assert_int_equal(vfu_encode_error(5, 200, -ENOSYS, buf, sizeof(buf), &len), 0);
	assert_int_equal(through(buf, len, NULL, 0, &r, &err), 0);
	assert_int_equal(r.command, 200);
	assert_int_equal(r.error, ENOSYS);

	/* The same through vfu_encode(). */
	vfu_reply_init(&r, &m);
	r.flags |= VFU_FLAG_ERROR;
	r.error = EINVAL;
	assert_int_equal(vfu_encode(&r, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, VFU_HDR_SIZE);

	assert_int_equal(vfu_encode_error(1, 1, 0, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(vfu_encode_error(1, 1, -5000, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(vfu_encode_error(1, 1, -EIO, buf, 8, &len), -ENOBUFS);
}

static void test_match_reply(void **state)
{
	struct vfu_msg req, rep;
	struct msg_err err = { 0 };

	(void)state;
	cmd(&req, VFU_CMD_REGION_READ, 9);
	req.u.access.offset = 16;
	req.u.access.count = 4;
	vfu_reply_init(&rep, &req);
	rep.u.access = req.u.access;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), 0);

	rep.msg_id = 10;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "msg_id"));
	rep.msg_id = 9;
	rep.command = VFU_CMD_REGION_WRITE;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "command"));
	rep.command = VFU_CMD_REGION_READ;
	rep.u.access.count = 8;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "count"));
	rep.u.access.count = 4;
	rep.u.access.offset = 0;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "offset"));
	/* A command is not a reply. */
	assert_int_equal(vfu_match_reply(&req, &req, &err), -EPROTO);

	cmd(&req, VFU_CMD_DEVICE_GET_REGION_INFO, 3);
	req.u.region_info.argsz = 32;
	req.u.region_info.index = 2;
	vfu_reply_init(&rep, &req);
	rep.u.region_info.index = 3;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "index"));
	rep.u.region_info.index = 2;
	rep.u.region_info.caps_len = 8; /* more than the client's 32 bytes */
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);

	cmd(&req, VFU_CMD_DMA_UNMAP, 4);
	req.u.dma_unmap.addr = PAGE;
	req.u.dma_unmap.size = PAGE;
	vfu_reply_init(&rep, &req);
	rep.u.dma_unmap.addr = PAGE;
	rep.u.dma_unmap.size = 2 * PAGE;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), -EPROTO);
	/* An error reply matches on id and command alone. */
	rep.flags |= VFU_FLAG_ERROR;
	rep.error = EIO;
	assert_int_equal(vfu_match_reply(&req, &rep, &err), 0);
}

/* ---- malformed input ------------------------------------------------------ */

struct iofds_wire {
	struct vfu_wire_io_fds h;
	struct vfu_wire_sub_region s[VFU_MAX_SUBREGIONS + 1];
} __attribute__((packed));

union payload {
	uint8_t raw[VFU_MAX_PAYLOAD + 64];
	struct vfu_wire_version ver;
	struct vfu_wire_dma_map map;
	struct vfu_wire_dma_unmap unmap;
	struct vfu_wire_device_info dinfo;
	struct {
		struct vfu_wire_region_info ri;
		uint8_t caps[16];
	} __attribute__((packed)) rinfo;
	struct iofds_wire iofds;
	struct vfu_wire_irq_info iinfo;
	struct {
		struct vfu_wire_irq_set s;
		uint8_t b[VFU_MAX_IRQS + 1];
	} __attribute__((packed)) irqset;
	struct {
		struct vfu_wire_region_access a;
		uint8_t d[8];
	} __attribute__((packed)) acc;
};

struct bad {
	const char *name;
	uint16_t cmd;
	uint32_t flags;
	uint32_t error;
	uint32_t psize;    /* payload bytes sent */
	int64_t size_adj;  /* added to the header's size field */
	size_t nfds;
	uint64_t fd_size;  /* memfd size (0: 1 MiB) */
	int expect;
	const char *reason;
	void (*fill)(union payload *p);
};

#define C VFU_TYPE_COMMAND
#define R VFU_TYPE_REPLY

static void p_map(union payload *p, uint32_t argsz, uint32_t flags, uint64_t off,
		  uint64_t addr, uint64_t size)
{
	p->map.argsz = argsz;
	p->map.flags = flags;
	p->map.offset = off;
	p->map.addr = addr;
	p->map.size = size;
}

#define RW (VFU_DMA_READ | VFU_DMA_WRITE)
static void map_good(union payload *p) { p_map(p, 32, RW, 0, PAGE, PAGE); }
static void map_argsz(union payload *p) { p_map(p, 24, RW, 0, PAGE, PAGE); }
static void map_noflags(union payload *p) { p_map(p, 32, 0, 0, PAGE, PAGE); }
static void map_badflags(union payload *p) { p_map(p, 32, RW | 4, 0, PAGE, PAGE); }
static void map_size0(union payload *p) { p_map(p, 32, RW, 0, PAGE, 0); }
static void map_addr_ovf(union payload *p) { p_map(p, 32, RW, 0, UINT64_MAX - PAGE + 1, 2 * PAGE); }
static void map_off_ovf(union payload *p) { p_map(p, 32, RW, UINT64_MAX - PAGE + 1, 0, 2 * PAGE); }
static void map_addr_align(union payload *p) { p_map(p, 32, RW, 0, PAGE + 8, PAGE); }
static void map_size_align(union payload *p) { p_map(p, 32, RW, 0, PAGE, PAGE + 1); }
static void map_off_align(union payload *p) { p_map(p, 32, RW, 512, PAGE, PAGE); }
static void map_beyond(union payload *p) { p_map(p, 32, RW, MiB, 0, PAGE); }

static void p_unmap(union payload *p, uint32_t argsz, uint32_t flags, uint64_t addr,
		    uint64_t size)
{
	p->unmap.argsz = argsz;
	p->unmap.flags = flags;
	p->unmap.addr = addr;
	p->unmap.size = size;
}

static void unmap_good(union payload *p) { p_unmap(p, 24, 0, PAGE, PAGE); }
static void unmap_dirty(union payload *p) { p_unmap(p, 24, 1, PAGE, PAGE); }
static void unmap_all(union payload *p) { p_unmap(p, 24, 2, 0, 0); }
static void unmap_flag8(union payload *p) { p_unmap(p, 24, 8, PAGE, PAGE); }
static void unmap_argsz(union payload *p) { p_unmap(p, 40, 0, PAGE, PAGE); }
static void unmap_ovf(union payload *p) { p_unmap(p, 24, 0, UINT64_MAX & ~(PAGE - 1), PAGE * 2); }
static void unmap_align(union payload *p) { p_unmap(p, 24, 0, PAGE, 100); }

static void dinfo_argsz(union payload *p) { p->dinfo.argsz = 8; }
static void dinfo_regions(union payload *p)
{
	p->dinfo.argsz = 16;
	p->dinfo.num_regions = VFU_MAX_REGIONS + 1;
}
static void dinfo_irqs(union payload *p)
{
	p->dinfo.argsz = 16;
	p->dinfo.num_irqs = UINT32_MAX;
}

static void p_ri(union payload *p, uint32_t argsz, uint32_t flags, uint32_t index,
		 uint32_t cap_offset, uint64_t size, uint64_t offset)
{
	p->rinfo.ri.argsz = argsz;
	p->rinfo.ri.flags = flags;
	p->rinfo.ri.index = index;
	p->rinfo.ri.cap_offset = cap_offset;
	p->rinfo.ri.size = size;
	p->rinfo.ri.offset = offset;
}

#define MM (VFU_REGION_READ | VFU_REGION_MMAP)
static void ri_cmd_argsz(union payload *p) { p_ri(p, 16, 0, 0, 0, 0, 0); }
static void ri_cmd_index(union payload *p) { p_ri(p, 32, 0, VFU_MAX_REGIONS, 0, 0, 0); }
static void ri_mmap(union payload *p) { p_ri(p, 32, MM, 0, 0, PAGE, 0); }
static void ri_plain(union payload *p) { p_ri(p, 32, VFU_REGION_READ, 0, 0, PAGE, 0); }
static void ri_argsz_low(union payload *p) { p_ri(p, 40, VFU_REGION_CAPS, 0, 32, PAGE, 0); }
static void ri_cut_caps(union payload *p) { p_ri(p, 64, VFU_REGION_CAPS, 0, 32, PAGE, 0); }
static void ri_caps_noflag(union payload *p) { p_ri(p, 48, 0, 0, 32, PAGE, 0); }
static void ri_capoff(union payload *p) { p_ri(p, 48, VFU_REGION_CAPS, 0, 44, PAGE, 0); }
static void ri_flags(union payload *p) { p_ri(p, 32, 0x10, 0, 0, PAGE, 0); }
static void ri_ovf(union payload *p) { p_ri(p, 32, 0, 0, 0, 2, UINT64_MAX); }
static void ri_mmap_align(union payload *p) { p_ri(p, 32, MM, 0, 0, PAGE, 100); }
static void ri_mmap_zero(union payload *p) { p_ri(p, 32, MM, 0, 0, 0, 0); }
static void ri_mmap_beyond(union payload *p) { p_ri(p, 32, MM, 0, 0, 2 * MiB, 0); }

static void iof_hdr(union payload *p, uint32_t argsz, uint32_t flags, uint32_t count)
{
	p->iofds.h.argsz = argsz;
	p->iofds.h.flags = flags;
	p->iofds.h.index = 1;
	p->iofds.h.count = count;
}

static void iof_sub(union payload *p, int i, uint64_t off, uint64_t size, uint32_t fdi,
		    uint32_t type, uint32_t flags)
{
	p->iofds.s[i].offset = off;
	p->iofds.s[i].size = size;
	p->iofds.s[i].fd_index = fdi;
	p->iofds.s[i].type = type;
	p->iofds.s[i].flags = flags;
}

static void iof_cmd_argsz(union payload *p) { iof_hdr(p, 8, 0, 0); }
static void iof_cmd_flags(union payload *p) { iof_hdr(p, 16, 1, 0); }
static void iof_count65(union payload *p) { iof_hdr(p, 16 + 65 * 40, 0, 65); }
static void iof_argsz(union payload *p)
{
	iof_hdr(p, 16 + 40, 0, 2);
	iof_sub(p, 0, 0, 4, 0, VFU_SUB_IOEVENTFD, 0);
}
static void iof_count_mismatch(union payload *p)
{
	iof_hdr(p, 16 + 3 * 40, 0, 3);
	iof_sub(p, 0, 0, 4, 0, VFU_SUB_IOEVENTFD, 0);
	iof_sub(p, 1, 0, 4, 0, VFU_SUB_IOEVENTFD, 0);
}
static void iof_one(union payload *p, uint64_t size, uint32_t fdi, uint32_t type,
		    uint32_t flags, uint64_t off)
{
	iof_hdr(p, 16 + 40, 0, 1);
	iof_sub(p, 0, off, size, fdi, type, flags);
}
static void iof_type(union payload *p) { iof_one(p, 4, 0, 2, 0, 0); }
static void iof_size3(union payload *p) { iof_one(p, 3, 0, VFU_SUB_IOEVENTFD, 0, 0); }
static void iof_rsize0(union payload *p) { iof_one(p, 0, 0, VFU_SUB_IOREGIONFD, 0, 0); }
static void iof_rdm(union payload *p) { iof_one(p, 8, 0, VFU_SUB_IOREGIONFD, VFU_SUB_F_DATAMATCH, 0); }
static void iof_subflags(union payload *p) { iof_one(p, 8, 0, VFU_SUB_IOEVENTFD, 2, 0); }
static void iof_ovf(union payload *p) { iof_one(p, 8, 0, VFU_SUB_IOEVENTFD, 0, UINT64_MAX - 3); }
static void iof_fdidx(union payload *p) { iof_one(p, 8, 1, VFU_SUB_IOEVENTFD, 0, 0); }
static void iof_good1(union payload *p) { iof_one(p, 8, 0, VFU_SUB_IOEVENTFD, 0, 0); }
static void iof_partial(union payload *p) { iof_hdr(p, 16 + 40, 0, 1); }

static void iinfo_cmd_index(union payload *p)
{
	p->iinfo.argsz = 16;
	p->iinfo.index = VFU_MAX_IRQ_TYPES;
}
static void iinfo_argsz(union payload *p) { p->iinfo.argsz = 15; }
static void iinfo_flags(union payload *p)
{
	p->iinfo.argsz = 16;
	p->iinfo.flags = 0x10;
}

static void p_is(union payload *p, uint32_t argsz, uint32_t flags, uint32_t start,
		 uint32_t count)
{
	p->irqset.s.argsz = argsz;
	p->irqset.s.flags = flags;
	p->irqset.s.index = 2;
	p->irqset.s.start = start;
	p->irqset.s.count = count;
}

#define EFD_TRIG (VFU_IRQ_DATA_EVENTFD | VFU_IRQ_ACTION_TRIGGER)
static void is_argsz(union payload *p) { p_is(p, 24, EFD_TRIG, 0, 1); }
static void is_two_data(union payload *p) { p_is(p, 20, EFD_TRIG | VFU_IRQ_DATA_NONE, 0, 1); }
static void is_no_action(union payload *p) { p_is(p, 20, VFU_IRQ_DATA_EVENTFD, 0, 1); }
static void is_two_actions(union payload *p) { p_is(p, 20, EFD_TRIG | VFU_IRQ_ACTION_MASK, 0, 1); }
static void is_undef(union payload *p) { p_is(p, 20, EFD_TRIG | 0x40, 0, 1); }
static void is_count65(union payload *p) { p_is(p, 20, EFD_TRIG, 0, 65); }
static void is_ovf(union payload *p) { p_is(p, 20, EFD_TRIG, UINT32_MAX, 1); }
static void is_efd2(union payload *p) { p_is(p, 20, EFD_TRIG, 0, 2); }
static void is_none1(union payload *p) { p_is(p, 20, VFU_IRQ_DATA_NONE | VFU_IRQ_ACTION_TRIGGER, 0, 1); }
static void is_efd0(union payload *p) { p_is(p, 20, EFD_TRIG, 0, 0); }
static void is_bool_len(union payload *p)
{
	p_is(p, 22, VFU_IRQ_DATA_BOOL | VFU_IRQ_ACTION_TRIGGER, 0, 3);
}
static void is_bool_val(union payload *p)
{
	p_is(p, 22, VFU_IRQ_DATA_BOOL | VFU_IRQ_ACTION_TRIGGER, 0, 2);
	p->irqset.b[0] = 1;
	p->irqset.b[1] = 2;
}
static void is_index(union payload *p)
{
	p_is(p, 20, EFD_TRIG, 0, 1);
	p->irqset.s.index = 100;
}

static void p_acc(union payload *p, uint64_t off, uint32_t region, uint32_t count)
{
	p->acc.a.offset = off;
	p->acc.a.region = region;
	p->acc.a.count = count;
}

static void acc_count0(union payload *p) { p_acc(p, 0, 0, 0); }
static void acc_count_big(union payload *p) { p_acc(p, 0, 0, VFU_MAX_DATA + 1); }
static void acc_ovf(union payload *p) { p_acc(p, UINT64_MAX - 1, 0, 4); }
static void acc_region(union payload *p) { p_acc(p, 0, VFU_MAX_REGIONS, 4); }
static void acc_4(union payload *p) { p_acc(p, 0, 0, 4); }

static void ver_nonul(union payload *p) { memcpy(p->raw + 4, "{}", 2); }
static void ver_midnul(union payload *p) { memcpy(p->raw + 4, "{}\0}\0", 5); }
static void nothing(union payload *p) { (void)p; }

static const struct bad bad_cases[] = {
	/* header */
	{ "size below header", VFU_CMD_VERSION, C, 0, 4, -16, 0, 0, -EBADMSG, "below the 16-byte header", nothing },
	{ "size says more", VFU_CMD_VERSION, C, 0, 4, 4, 0, 0, -EBADMSG, "size field says 24 bytes, 20 present", nothing },
	{ "size says less", VFU_CMD_VERSION, C, 0, 8, -4, 0, 0, -EBADMSG, "present", nothing },
	{ "size huge", VFU_CMD_VERSION, C, 0, 4, UINT32_MAX - 20, 0, 0, -EMSGSIZE, "above", nothing },
	{ "type 2", VFU_CMD_VERSION, 2, 0, 4, 0, 0, 0, -EPROTO, "type 2", nothing },
	{ "type 15", VFU_CMD_VERSION, 15, 0, 4, 0, 0, 0, -EPROTO, "neither command", nothing },
	{ "reserved flag", VFU_CMD_VERSION, C | (1u << 6), 0, 4, 0, 0, 0, -EPROTO, "reserved flag bits 0x40", nothing },
	{ "ERROR on command", VFU_CMD_VERSION, C | VFU_FLAG_ERROR, 5, 0, 0, 0, 0, -EPROTO, "ERROR flag on a command", nothing },
	{ "error on command", VFU_CMD_VERSION, C, 5, 4, 0, 0, 0, -EPROTO, "error 5 on a command", nothing },
	{ "NO_REPLY on reply", VFU_CMD_VERSION, R | VFU_FLAG_NO_REPLY, 0, 4, 0, 0, 0, -EPROTO, "NO_REPLY", nothing },
	{ "error without ERROR", VFU_CMD_VERSION, R, 5, 4, 0, 0, 0, -EPROTO, "without the ERROR flag", nothing },
	{ "error reply errno 0", VFU_CMD_VERSION, R | VFU_FLAG_ERROR, 0, 0, 0, 0, 0, -EPROTO, "errno 0", nothing },
	{ "error reply errno 4096", VFU_CMD_VERSION, R | VFU_FLAG_ERROR, 4096, 0, 0, 0, 0, -EPROTO, NULL, nothing },
	{ "error reply with payload", VFU_CMD_VERSION, R | VFU_FLAG_ERROR, 5, 4, 0, 0, 0, -EPROTO, "4 payload bytes", nothing },
	{ "error reply with fd", VFU_CMD_DMA_MAP, R | VFU_FLAG_ERROR, 5, 0, 0, 1, 0, -EBADF, "error reply with 1 fds", nothing },
	{ "unknown command 0", 0, C, 0, 0, 0, 0, 0, -EOPNOTSUPP, "unknown command 0", nothing },
	{ "unknown command 11", 11, C, 0, 0, 0, 0, 0, -EOPNOTSUPP, "unknown command 11", nothing },
	{ "unknown command reply", 999, R, 0, 0, 0, 0, 0, -EOPNOTSUPP, NULL, nothing },
	{ "unknown command with fds", 42, C, 0, 0, 0, 3, 0, -EOPNOTSUPP, NULL, nothing },
	/* VERSION */
	{ "VERSION short", VFU_CMD_VERSION, C, 0, 2, 0, 0, 0, -EBADMSG, "VERSION command: payload 2 bytes, expected 4..4100", nothing },
	{ "VERSION too long", VFU_CMD_VERSION, R, 0, 4 + VFU_MAX_VERSION_JSON + 1, 0, 0, 0, -EBADMSG, "VERSION reply", nothing },
	{ "VERSION no NUL", VFU_CMD_VERSION, C, 0, 6, 0, 0, 0, -EINVAL, "not NUL-terminated", ver_nonul },
	{ "VERSION NUL inside", VFU_CMD_VERSION, C, 0, 9, 0, 0, 0, -EINVAL, "NUL at byte 2 of 5", ver_midnul },
	{ "VERSION with fd", VFU_CMD_VERSION, C, 0, 4, 0, 1, 0, -EBADF, "1 fds, expected 0", nothing },
	/* DMA_MAP */
	{ "DMA_MAP short", VFU_CMD_DMA_MAP, C, 0, 24, 0, 1, 0, -EBADMSG, "payload 24 bytes, expected 32", map_good },
	{ "DMA_MAP argsz", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EBADMSG, "argsz 24, expected 32", map_argsz },
	{ "DMA_MAP no access", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "neither READ nor WRITE", map_noflags },
	{ "DMA_MAP undefined flag", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "undefined flags 0x4", map_badflags },
	{ "DMA_MAP size 0", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "addr size is 0", map_size0 },
	{ "DMA_MAP addr overflow", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EOVERFLOW, "addr 0xfffffffffffff000 + size 0x2000 overflows", map_addr_ovf },
	{ "DMA_MAP offset overflow", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EOVERFLOW, "offset", map_off_ovf },
	{ "DMA_MAP addr misaligned", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "addr 0x1008 is not 4096-byte aligned", map_addr_align },
	{ "DMA_MAP size misaligned", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "size 0x1001", map_size_align },
	{ "DMA_MAP offset misaligned", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, 0, -EINVAL, "offset 0x200", map_off_align },
	{ "DMA_MAP no fd", VFU_CMD_DMA_MAP, C, 0, 32, 0, 0, 0, -EBADF, "0 fds, expected 1", map_good },
	{ "DMA_MAP two fds", VFU_CMD_DMA_MAP, C, 0, 32, 0, 2, 0, -EBADF, "2 fds, expected 1", map_good },
	{ "DMA_MAP beyond fd", VFU_CMD_DMA_MAP, C, 0, 32, 0, 1, MiB, -EINVAL, "beyond the fd's size", map_beyond },
	{ "DMA_MAP reply payload", VFU_CMD_DMA_MAP, R, 0, 8, 0, 0, 0, -EBADMSG, "DMA_MAP reply: payload 8 bytes, expected 0", nothing },
	/* DMA_UNMAP */
	{ "DMA_UNMAP dirty bitmap", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 0, 0, -EOPNOTSUPP, "dirty bitmap", unmap_dirty },
	{ "DMA_UNMAP all", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 0, 0, -EOPNOTSUPP, "unmap-all", unmap_all },
	{ "DMA_UNMAP undefined flag", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 0, 0, -EINVAL, "undefined flags 0x8", unmap_flag8 },
	{ "DMA_UNMAP argsz", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 0, 0, -EBADMSG, "argsz 40", unmap_argsz },
	{ "DMA_UNMAP overflow", VFU_CMD_DMA_UNMAP, R, 0, 24, 0, 0, 0, -EOVERFLOW, "DMA_UNMAP reply: addr", unmap_ovf },
	{ "DMA_UNMAP misaligned", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 0, 0, -EINVAL, "size 0x64", unmap_align },
	{ "DMA_UNMAP with fd", VFU_CMD_DMA_UNMAP, C, 0, 24, 0, 1, 0, -EBADF, NULL, unmap_good },
	/* DEVICE_GET_INFO */
	{ "GET_INFO argsz", VFU_CMD_DEVICE_GET_INFO, C, 0, 16, 0, 0, 0, -EBADMSG, "argsz 8 is below 16", dinfo_argsz },
	{ "GET_INFO regions", VFU_CMD_DEVICE_GET_INFO, R, 0, 16, 0, 0, 0, -ERANGE, "num_regions 65", dinfo_regions },
	{ "GET_INFO irqs", VFU_CMD_DEVICE_GET_INFO, R, 0, 16, 0, 0, 0, -ERANGE, "num_irqs", dinfo_irqs },
	{ "GET_INFO long", VFU_CMD_DEVICE_GET_INFO, R, 0, 20, 0, 0, 0, -EBADMSG, NULL, dinfo_regions },
	/* DEVICE_GET_REGION_INFO */
	{ "REGION_INFO cmd argsz", VFU_CMD_DEVICE_GET_REGION_INFO, C, 0, 32, 0, 0, 0, -EBADMSG, "argsz 16 is below 32", ri_cmd_argsz },
	{ "REGION_INFO cmd index", VFU_CMD_DEVICE_GET_REGION_INFO, C, 0, 32, 0, 0, 0, -ERANGE, "region 64", ri_cmd_index },
	{ "REGION_INFO cmd with caps", VFU_CMD_DEVICE_GET_REGION_INFO, C, 0, 48, 0, 0, 0, -EBADMSG, NULL, ri_plain },
	{ "REGION_INFO MMAP no fd", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 0, 0, -EBADF, "0 fds, expected 1", ri_mmap },
	{ "REGION_INFO fd no MMAP", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 1, 0, -EBADF, "1 fds, expected 0", ri_plain },
	{ "REGION_INFO argsz below sent", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 48, 0, 0, 0, -EBADMSG, "argsz 40 is below the 48 bytes", ri_argsz_low },
	{ "REGION_INFO caps cut", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 48, 0, 0, 0, -EBADMSG, "were cut", ri_cut_caps },
	{ "REGION_INFO caps no flag", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 48, 0, 0, 0, -EINVAL, "without the CAPS flag", ri_caps_noflag },
	{ "REGION_INFO cap_offset", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 48, 0, 0, 0, -EINVAL, "cap_offset 44 is not in 32..40", ri_capoff },
	{ "REGION_INFO flags", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 0, 0, -EINVAL, "undefined flags 0x10", ri_flags },
	{ "REGION_INFO overflow", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 0, 0, -EOVERFLOW, "overflows", ri_ovf },
	{ "REGION_INFO mmap misaligned", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 1, 0, -EINVAL, "mmap offset 0x64", ri_mmap_align },
	{ "REGION_INFO mmap size 0", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 1, 0, -EINVAL, "MMAP region of size 0", ri_mmap_zero },
	{ "REGION_INFO mmap beyond fd", VFU_CMD_DEVICE_GET_REGION_INFO, R, 0, 32, 0, 1, MiB, -EINVAL, "beyond the fd's size", ri_mmap_beyond },
	/* DEVICE_GET_REGION_IO_FDS */
	{ "IO_FDS cmd argsz", VFU_CMD_DEVICE_GET_REGION_IO_FDS, C, 0, 16, 0, 0, 0, -EBADMSG, "argsz 8", iof_cmd_argsz },
	{ "IO_FDS cmd flags", VFU_CMD_DEVICE_GET_REGION_IO_FDS, C, 0, 16, 0, 0, 0, -EINVAL, "undefined flags", iof_cmd_flags },
	{ "IO_FDS count 65", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 16, 0, 0, 0, -ERANGE, "count 65 is above 64", iof_count65 },
	{ "IO_FDS 65 entries", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 16 + 65 * 40, 0, 0, 0, -EBADMSG, "expected 16..2576", iof_count65 },
	{ "IO_FDS partial entry", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 16 + 20, 0, 0, 0, -EBADMSG, "not whole sub-regions", iof_good1 },
	{ "IO_FDS argsz", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EBADMSG, "argsz 56 does not match count 2", iof_argsz },
	{ "IO_FDS count mismatch", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 16 + 80, 0, 1, 0, -EBADMSG, "2 sub-regions sent, count says 3", iof_count_mismatch },
	{ "IO_FDS type", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EINVAL, "type 2", iof_type },
	{ "IO_FDS ioeventfd size 3", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EINVAL, "size 3 is not 1, 2, 4 or 8", iof_size3 },
	{ "IO_FDS ioregionfd size 0", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EINVAL, "size is 0", iof_rsize0 },
	{ "IO_FDS ioregionfd datamatch", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EINVAL, "DATAMATCH on an ioregionfd", iof_rdm },
	{ "IO_FDS sub flags", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EINVAL, "undefined flags 0x2", iof_subflags },
	{ "IO_FDS overflow", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EOVERFLOW, "offset + size overflows", iof_ovf },
	{ "IO_FDS fd_index", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 1, 0, -EBADF, "fd_index 1, only 1 fds", iof_fdidx },
	{ "IO_FDS no fd", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 0, 0, -EBADF, "0 fds, expected 1", iof_good1 },
	{ "IO_FDS extra fd", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 56, 0, 2, 0, -EBADF, "2 fds, expected 1", iof_good1 },
	{ "IO_FDS fds without entries", VFU_CMD_DEVICE_GET_REGION_IO_FDS, R, 0, 16, 0, 1, 0, -EBADF, "1 fds, expected 0", iof_partial },
	/* DEVICE_GET_IRQ_INFO */
	{ "IRQ_INFO argsz", VFU_CMD_DEVICE_GET_IRQ_INFO, C, 0, 16, 0, 0, 0, -EBADMSG, "argsz 15", iinfo_argsz },
	{ "IRQ_INFO index", VFU_CMD_DEVICE_GET_IRQ_INFO, C, 0, 16, 0, 0, 0, -ERANGE, "irq index 64", iinfo_cmd_index },
	{ "IRQ_INFO flags", VFU_CMD_DEVICE_GET_IRQ_INFO, R, 0, 16, 0, 0, 0, -EINVAL, "undefined flags 0x10", iinfo_flags },
	/* DEVICE_SET_IRQS */
	{ "SET_IRQS argsz", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EBADMSG, "argsz 24, but the payload is 20", is_argsz },
	{ "SET_IRQS two DATA", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EINVAL, "not exactly one DATA", is_two_data },
	{ "SET_IRQS no ACTION", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EINVAL, "not exactly one ACTION", is_no_action },
	{ "SET_IRQS two ACTION", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EINVAL, "ACTION", is_two_actions },
	{ "SET_IRQS undefined", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EINVAL, "undefined flags 0x40", is_undef },
	{ "SET_IRQS count 65", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 0, 0, -ERANGE, "count 65 is above 64", is_count65 },
	{ "SET_IRQS start + count", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EOVERFLOW, "overflows", is_ovf },
	{ "SET_IRQS index", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -ERANGE, "irq index 100", is_index },
	{ "SET_IRQS eventfds short", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EBADF, "1 fds, expected 2", is_efd2 },
	{ "SET_IRQS eventfds extra", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 3, 0, -EBADF, "3 fds, expected 2", is_efd2 },
	{ "SET_IRQS NONE with fd", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 1, 0, -EBADF, "1 fds, expected 0", is_none1 },
	{ "SET_IRQS eventfd count 0", VFU_CMD_DEVICE_SET_IRQS, C, 0, 20, 0, 0, 0, -EINVAL, "count 0 needs DATA_NONE", is_efd0 },
	{ "SET_IRQS bool length", VFU_CMD_DEVICE_SET_IRQS, C, 0, 22, 0, 0, 0, -EBADMSG, "size 22, expected 23", is_bool_len },
	{ "SET_IRQS bool value", VFU_CMD_DEVICE_SET_IRQS, C, 0, 22, 0, 0, 0, -EINVAL, "bool 1 is 2", is_bool_val },
	{ "SET_IRQS reply payload", VFU_CMD_DEVICE_SET_IRQS, R, 0, 4, 0, 0, 0, -EBADMSG, NULL, nothing },
	/* REGION_READ / REGION_WRITE */
	{ "READ count 0", VFU_CMD_REGION_READ, C, 0, 16, 0, 0, 0, -EINVAL, "count is 0", acc_count0 },
	{ "READ count big", VFU_CMD_REGION_READ, C, 0, 16, 0, 0, 0, -ERANGE, "count 65537 is above 65536", acc_count_big },
	{ "READ overflow", VFU_CMD_REGION_READ, C, 0, 16, 0, 0, 0, -EOVERFLOW, "offset 0xfffffffffffffffe + count 4 overflows", acc_ovf },
	{ "READ region", VFU_CMD_REGION_READ, C, 0, 16, 0, 0, 0, -ERANGE, "region 64", acc_region },
	{ "READ command with data", VFU_CMD_REGION_READ, C, 0, 20, 0, 0, 0, -EBADMSG, "expected 16", acc_4 },
	{ "READ reply short data", VFU_CMD_REGION_READ, R, 0, 18, 0, 0, 0, -EBADMSG, "2 data bytes, count says 4", acc_4 },
	{ "READ reply no data", VFU_CMD_REGION_READ, R, 0, 16, 0, 0, 0, -EBADMSG, "0 data bytes", acc_4 },
	{ "WRITE long data", VFU_CMD_REGION_WRITE, C, 0, 24, 0, 0, 0, -EBADMSG, "8 data bytes, count says 4", acc_4 },
	{ "WRITE count big", VFU_CMD_REGION_WRITE, C, 0, 16, 0, 0, 0, -ERANGE, NULL, acc_count_big },
	{ "WRITE reply with data", VFU_CMD_REGION_WRITE, R, 0, 20, 0, 0, 0, -EBADMSG, "expected 16", acc_4 },
	{ "WRITE reply count 0", VFU_CMD_REGION_WRITE, R, 0, 16, 0, 0, 0, -EINVAL, "count is 0", acc_count0 },
	{ "WRITE with fd", VFU_CMD_REGION_WRITE, C, 0, 20, 0, 1, 0, -EBADF, NULL, acc_4 },
};

static void run_bad(const struct bad *b)
{
	static union payload p;
	static uint8_t buf[VFU_HDR_SIZE + sizeof(union payload)];
	struct vfu_wire_hdr h;
	struct msg_err err = { 0 };
	struct vfu_msg m;
	int fds[VFU_MAX_FDS];
	int before, rc;
	size_t len = VFU_HDR_SIZE + b->psize;

	memset(&p, 0, sizeof(p));
	if (b->fill)
		b->fill(&p);
	h.msg_id = 0x1234;
	h.command = b->cmd;
	h.size = (uint32_t)((int64_t)len + b->size_adj);
	h.flags = b->flags;
	h.error = b->error;
	assert_true(b->psize <= sizeof(p));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + VFU_HDR_SIZE, p.raw, b->psize);

	memset(&m, 0x5a, sizeof(m));
	before = th_count_fds();
	assert_true(before > 0);
	for (size_t i = 0; i < b->nfds; i++) {
		fds[i] = th_memfd("bad", b->fd_size ? b->fd_size : MiB);
		assert_true(fds[i] >= 0);
	}
	/* The parser directly (the I/O layer would refuse the size lies). */
	{
		int copies[VFU_MAX_FDS];

		for (size_t i = 0; i < b->nfds; i++)
			copies[i] = dup(fds[i]);
		rc = vfu_parse(buf, len, copies, b->nfds, &m, &err);
		for (size_t i = 0; i < b->nfds; i++)
			assert_int_equal(copies[i], -1); /* always consumed */
	}
	close_all(fds, b->nfds);
	if (rc != b->expect || (b->reason && !strstr(err.reason, b->reason)))
		print_error("case \"%s\": got %d (%s), expected %d (%s)\n", b->name, rc,
			    err.reason, b->expect, b->reason ? b->reason : "-");
	assert_int_equal(rc, b->expect);
	if (b->reason)
		assert_non_null(strstr(err.reason, b->reason));
	assert_true(err.reason[0] != '\0');
	assert_int_equal(m.msg_id, 0x5a5a); /* ret untouched on failure */
	if (th_count_fds() != before)
		print_error("case \"%s\" leaked fds\n", b->name);
	assert_int_equal(th_count_fds(), before);
}

static void test_malformed_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		run_bad(&bad_cases[i]);
}

static void test_malformed_direct(void **state)
{
	uint8_t buf[64] = { 0 };
	struct msg_err err = { 0 };
	struct vfu_msg m;
	int fds[VFU_MAX_FDS + 1];
	int before = th_count_fds();

	(void)state;
	/* Truncated header. */
	assert_int_equal(vfu_parse(buf, 15, NULL, 0, &m, &err), -EBADMSG);
	assert_non_null(strstr(err.reason, "15 bytes, shorter than the 16-byte header"));
	assert_int_equal(vfu_parse(buf, 0, NULL, 0, &m, &err), -EBADMSG);
	/* Too many fds: all closed. */
	for (size_t i = 0; i < VFU_MAX_FDS + 1; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vfu_parse(buf, 16, fds, VFU_MAX_FDS + 1, &m, &err), -EBADF);
	assert_non_null(strstr(err.reason, "65 fds, at most 64"));
	for (size_t i = 0; i < VFU_MAX_FDS + 1; i++)
		assert_int_equal(fds[i], -1);
	/* Bad arguments. */
	assert_int_equal(vfu_parse(buf, 16, NULL, 1, &m, &err), -EINVAL);
	fds[0] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vfu_parse(buf, 16, fds, 1, NULL, &err), -EINVAL);
	assert_int_equal(fds[0], -1);
	/* A nonsense fd number where a mapping fd is due. */
	{
		struct vfu_wire_hdr h = { 1, VFU_CMD_DMA_MAP, 48, 0, 0 };
		struct vfu_wire_dma_map w = { 32, VFU_DMA_READ, 0, 0, PAGE };
		int bogus[1] = { 1000 };

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + 16, &w, sizeof(w));
		assert_int_equal(vfu_parse(buf, 48, bogus, 1, &m, &err), -EBADF);
		assert_non_null(strstr(err.reason, "fstat"));
	}
	assert_int_equal(th_count_fds(), before);
	assert_string_equal(vfu_command_name(VFU_CMD_DEVICE_SET_IRQS), "DEVICE_SET_IRQS");
	assert_string_equal(vfu_command_name(0), "UNKNOWN");
	assert_string_equal(vfu_command_name(11), "UNKNOWN");
}

/* The encoders refuse what the parser would refuse. */
static void test_encoder_refuses(void **state)
{
	static uint8_t buf[VFU_MAX_MSG];
	struct msg_err err = { 0 };
	struct vfu_msg m;
	size_t len = 0;

	(void)state;
	cmd(&m, VFU_CMD_DMA_MAP, 1);
	m.u.dma_map.flags = VFU_DMA_READ;
	m.u.dma_map.size = PAGE;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EBADF); /* no fd */
	m.nfds = 1;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, 48);
	assert_int_equal(vfu_encode(&m, buf, 40, &len, &err), -ENOBUFS);
	assert_int_equal(vfu_encode(&m, buf, 8, &len, &err), -ENOBUFS);
	m.u.dma_map.addr = 1;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EINVAL);

	cmd(&m, VFU_CMD_DEVICE_SET_IRQS, 1);
	m.u.irq_set.flags = VFU_IRQ_DATA_BOOL | VFU_IRQ_ACTION_TRIGGER;
	m.u.irq_set.count = VFU_MAX_IRQS + 1;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -ERANGE);
	m.u.irq_set.count = 2; /* bools missing */
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EINVAL);

	cmd(&m, VFU_CMD_REGION_WRITE, 1);
	m.u.access.count = VFU_MAX_DATA + 1;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -ERANGE);

	cmd(&m, 77, 1);
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EOPNOTSUPP);
	cmd(&m, VFU_CMD_VERSION, 1);
	m.flags = 3;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EPROTO);

	cmd(&m, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 1);
	m.flags = VFU_TYPE_REPLY;
	m.u.io_fds.count = 1;
	m.u.io_fds.nsub = 1;
	m.u.io_fds.sub[0].size = 4;
	m.nfds = 0;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), -EBADF);
	m.nfds = 1;
	assert_int_equal(vfu_encode(&m, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, 16 + 16 + 40);
}

/* ---- the I/O layer ---------------------------------------------------------- */

/*
 * On a fresh socketpair: n bytes of buf sent (with nfds fds), the sending
 * end closed first if eof; what vfu_recv_msg() then says within
 * timeout_ms.  Both ends are closed again.
 */
static int recv_after(const uint8_t *buf, size_t n, const int *fds, size_t nfds, bool eof,
		      int timeout_ms)
{
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vfu_send_msg(sv[0], 100, buf, n, fds, nfds), 0);
	if (eof)
		close(sv[0]);
	rc = vfu_recv_msg(sv[1], timeout_ms, io);
	if (!eof)
		close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_io_errors(void **state)
{
	uint8_t buf[64] = { 0 };
	struct vfu_wire_hdr h = { 1, VFU_CMD_VERSION, 20, 0, 0 };
	int sv[2];
	int before = th_count_fds();
	int efd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	/* EOF before a message; EAGAIN on an empty non-blocking socket. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vfu_recv_msg(sv[1], 100, io), -EAGAIN);
	close(sv[0]);
	assert_int_equal(vfu_recv_msg(sv[1], 100, io), 0);
	close(sv[1]);

	/* Size above the bound: refused before buffering. */
	h.size = VFU_MAX_MSG + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(recv_after(buf, 16, &efd, 1, false, 100), -EMSGSIZE);

	/* Size below the header. */
	h.size = 8;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(recv_after(buf, 16, NULL, 0, false, 100), -EBADMSG);

	/* EOF mid-message, an fd on the header: reset, fd closed. */
	h.size = 40;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(recv_after(buf, 20, &efd, 1, true, 100), -ECONNRESET);

	/* Stalled mid-message: timeout. */
	assert_int_equal(recv_after(buf, 20, NULL, 0, false, 50), -ETIMEDOUT);

	/* An fd attached to payload bytes. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	h.size = 20;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vfu_send_msg(sv[0], 100, buf, 16, NULL, 0), 0);
	assert_int_equal(vfu_send_msg(sv[0], 100, buf + 16, 4, &efd, 1), 0);
	assert_int_equal(vfu_recv_msg(sv[1], 100, io), -EPROTO);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(vfu_send_msg(0, 0, buf, 0, NULL, 0), -EINVAL);
	close(efd);
	assert_int_equal(th_count_fds(), before);
}

static int setup(void **state)
{
	(void)state;
	io = malloc(sizeof(*io));
	return io ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(io);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_dma_map_unmap),
		cmocka_unit_test(test_device_info),
		cmocka_unit_test(test_region_info),
		cmocka_unit_test(test_io_fds),
		cmocka_unit_test(test_irqs),
		cmocka_unit_test(test_region_rw),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_match_reply),
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_malformed_direct),
		cmocka_unit_test(test_encoder_refuses),
		cmocka_unit_test(test_io_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
