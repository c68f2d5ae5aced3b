// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-user: the message table, the single validator, the pure parser,
 * the reply matcher and the encoders.  See vfio_user.h for the API.
 *
 * Trust boundary: buf's contents and the fds come from the peer, the
 * client (for the simulated device) or the device (for the agent), and are
 * untrusted.  The header's size is believed only after it is bounded and
 * equal to the bytes given; every count is bounded before it sizes
 * anything, every address/offset + size is checked for wrap-around before
 * it is formed, fds are fstat()ed before a mapping inside them is believed.
 * Nothing here asserts on peer data.
 *
 * The only side effects are fstat() on received fds and close() of fds on
 * failure (vfu_parse() always consumes the fds it is given).
 */
#include "protocol/vfio_user.h"
#include "protocol/msg_table.h"
#include "protocol/sock_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the message table ------------------------------------------------ */

enum dir {
	DIR_COMMAND = 0,
	DIR_REPLY = 1,
};

enum fd_rule {
	FD_NONE,      /* no fds */
	FD_MAP,       /* exactly one, and [offset, offset + size) inside it (DMA_MAP) */
	FD_MMAP,      /* one iff the region is MMAP, inside it as FD_MAP (REGION_INFO reply) */
	FD_IRQ,       /* DATA_EVENTFD: count eventfds; else none (SET_IRQS) */
	FD_SUBREGION, /* 1..nsub, each used by some sub-region, every fd_index
			 below nfds (IO_FDS reply) */
};

struct vfu_cmd_desc;

/* Where a check runs: the command's table entry, the direction, the error. */
struct pctx {
	const struct vfu_cmd_desc *d;
	enum dir dir;
	struct msg_err *err;
};

/* Decodes and checks the payload (size already within the table's bounds). */
typedef int check_fn(const struct pctx *c, const uint8_t *p, uint32_t size,
		     struct vfu_msg *m);
/* Writes m's payload at p (cap bytes there); -ENOBUFS if it does not fit. */
typedef int enc_fn(const struct vfu_msg *m, uint8_t *p, size_t cap,
		   uint32_t *ret_size);

struct dir_rule {
	uint32_t min_size; /* payload bytes; min == max means exact */
	uint32_t max_size;
	enum fd_rule fds;
	check_fn *check;   /* NULL: no payload to judge */
	enc_fn *enc;       /* NULL: empty payload */
};

struct vfu_cmd_desc {
	const char *name;
	struct dir_rule dir[2]; /* [DIR_COMMAND], [DIR_REPLY] */
};

static check_fn check_version, check_dma_map, check_dma_unmap,
	check_device_info_cmd, check_device_info_rep, check_region_info_cmd,
	check_region_info_rep, check_io_fds_cmd, check_io_fds_rep,
	check_irq_info_cmd, check_irq_info_rep, check_irq_set,
	check_access_cmd, check_access_data, check_access_rep;
static enc_fn enc_version, enc_dma_map, enc_dma_unmap, enc_device_info,
	enc_region_info, enc_io_fds, enc_irq_info, enc_irq_set,
	enc_access, enc_access_data;

#define SZ(type) ((uint32_t)sizeof(struct type))
#define S_VERSION SZ(vfu_wire_version)
#define S_MAP SZ(vfu_wire_dma_map)
#define S_UNMAP SZ(vfu_wire_dma_unmap)
#define S_DEVINFO SZ(vfu_wire_device_info)
#define S_REGINFO SZ(vfu_wire_region_info)
#define S_IOFDS SZ(vfu_wire_io_fds)
#define S_SUB SZ(vfu_wire_sub_region)
#define S_IRQINFO SZ(vfu_wire_irq_info)
#define S_IRQSET SZ(vfu_wire_irq_set)
#define S_ACCESS SZ(vfu_wire_region_access)

/*
 * Choices, and why:
 *  - Sizes are payload bytes (the header's size minus 16).  Where a command
 *    carries variable data the table gives the bounds and the check ties the
 *    exact size to the count inside (SET_IRQS, REGION_READ/WRITE, IO_FDS).
 *  - DMA_MAP requires its fd: a region without one would need the server to
 *    reach guest memory through DMA_READ/WRITE messages, which we do not
 *    implement (the agent always maps guest memory from its memfd).
 *  - Replies to DMA_MAP and SET_IRQS are empty; DMA_UNMAP's echoes the
 *    command (no dirty bitmap: dirty pages travel through the vhost log).
 *  - A region-info reply carries its fd iff the region is MMAP; an IO_FDS
 *    reply carries one fd per distinct fd_index; SET_IRQS with DATA_EVENTFD
 *    carries count eventfds.  Everything else carries none.
 *  - Error replies are header-only and valid for any command number (a
 *    server answers commands it does not know with an error); they bypass
 *    the table.
 */
/* A direction's rule: payload bytes lo..hi (EXACT: one size), its fds,
 * its check and its encoder; a direction left out is an empty payload. */
#define EXACT(n) .min_size = (n), .max_size = (n)
#define RANGE(lo, hi) .min_size = (lo), .max_size = (hi)
#define CMD .dir[DIR_COMMAND]
#define REP .dir[DIR_REPLY]

static const struct vfu_cmd_desc vfu_table[VFU_CMD_MAX + 1] = {
	[VFU_CMD_VERSION] = {
		.name = "VERSION",
		CMD = { RANGE(S_VERSION, S_VERSION + VFU_MAX_VERSION_JSON),
			.check = check_version, .enc = enc_version },
		REP = { RANGE(S_VERSION, S_VERSION + VFU_MAX_VERSION_JSON),
			.check = check_version, .enc = enc_version },
	},
	[VFU_CMD_DMA_MAP] = {
		.name = "DMA_MAP",
		CMD = { EXACT(S_MAP), .fds = FD_MAP,
			.check = check_dma_map, .enc = enc_dma_map },
	},
	[VFU_CMD_DMA_UNMAP] = {
		.name = "DMA_UNMAP",
		CMD = { EXACT(S_UNMAP), .check = check_dma_unmap, .enc = enc_dma_unmap },
		REP = { EXACT(S_UNMAP), .check = check_dma_unmap, .enc = enc_dma_unmap },
	},
	[VFU_CMD_DEVICE_GET_INFO] = {
		.name = "DEVICE_GET_INFO",
		CMD = { EXACT(S_DEVINFO), .check = check_device_info_cmd,
			.enc = enc_device_info },
		REP = { EXACT(S_DEVINFO), .check = check_device_info_rep,
			.enc = enc_device_info },
	},
	[VFU_CMD_DEVICE_GET_REGION_INFO] = {
		.name = "DEVICE_GET_REGION_INFO",
		CMD = { EXACT(S_REGINFO), .check = check_region_info_cmd,
			.enc = enc_region_info },
		REP = { RANGE(S_REGINFO, S_REGINFO + VFU_MAX_REGION_CAPS), .fds = FD_MMAP,
			.check = check_region_info_rep, .enc = enc_region_info },
	},
	[VFU_CMD_DEVICE_GET_REGION_IO_FDS] = {
		.name = "DEVICE_GET_REGION_IO_FDS",
		CMD = { EXACT(S_IOFDS), .check = check_io_fds_cmd, .enc = enc_io_fds },
		REP = { RANGE(S_IOFDS, S_IOFDS + VFU_MAX_SUBREGIONS * S_SUB),
			.fds = FD_SUBREGION, .check = check_io_fds_rep, .enc = enc_io_fds },
	},
	[VFU_CMD_DEVICE_GET_IRQ_INFO] = {
		.name = "DEVICE_GET_IRQ_INFO",
		CMD = { EXACT(S_IRQINFO), .check = check_irq_info_cmd, .enc = enc_irq_info },
		REP = { EXACT(S_IRQINFO), .check = check_irq_info_rep, .enc = enc_irq_info },
	},
	[VFU_CMD_DEVICE_SET_IRQS] = {
		.name = "DEVICE_SET_IRQS",
		CMD = { RANGE(S_IRQSET, S_IRQSET + VFU_MAX_IRQS), .fds = FD_IRQ,
			.check = check_irq_set, .enc = enc_irq_set },
	},
	[VFU_CMD_REGION_READ] = {
		.name = "REGION_READ",
		CMD = { EXACT(S_ACCESS), .check = check_access_cmd, .enc = enc_access },
		REP = { RANGE(S_ACCESS, S_ACCESS + VFU_MAX_DATA),
			.check = check_access_data, .enc = enc_access_data },
	},
	[VFU_CMD_REGION_WRITE] = {
		.name = "REGION_WRITE",
		CMD = { RANGE(S_ACCESS, S_ACCESS + VFU_MAX_DATA),
			.check = check_access_data, .enc = enc_access_data },
		REP = { EXACT(S_ACCESS), .check = check_access_rep, .enc = enc_access },
	},
};

#undef EXACT
#undef RANGE
#undef CMD
#undef REP

static const struct vfu_cmd_desc *lookup(uint32_t command)
{
	return MSG_ROW(vfu_table, command);
}

const char *vfu_command_name(uint32_t command)
{
	const struct vfu_cmd_desc *d = lookup(command);

	return d ? d->name : "UNKNOWN";
}

/* ---- helpers ------------------------------------------------------------ */

/* "DMA_MAP command: ..." / "DMA_MAP reply: ..." */
__attribute__((format(printf, 3, 4)))
static int cfail(const struct pctx *c, int rc, const char *fmt, ...)
{
	char who[64];
	va_list ap;

	if (!c->err)
		return rc;
	c->err->id = (uint64_t)(c->d - vfu_table);
	snprintf(who, sizeof(who), "%s %s", c->d->name,
		 c->dir == DIR_REPLY ? "reply" : "command");
	va_start(ap, fmt);
	msg_vreason(c->err->reason, sizeof(c->err->reason), who, fmt, ap);
	va_end(ap);
	return rc;
}

#define ULL(v) ((unsigned long long)(v))

/* A range of an address space: non-empty and not wrapping around 2^64. */
static int check_range(const struct pctx *c, const char *what, uint64_t start,
		       uint64_t size)
{
	if (size == 0)
		return cfail(c, -EINVAL, "%s size is 0", what);
	if (start > UINT64_MAX - size)
		return cfail(c, -EOVERFLOW, "%s %#llx + size %#llx overflows", what,
			     ULL(start), ULL(size));
	return 0;
}

static int check_page_aligned(const struct pctx *c, const char *what, uint64_t v)
{
	if (v % VFU_PAGE_SIZE)
		return cfail(c, -EINVAL, "%s %#llx is not %u-byte aligned", what, ULL(v),
			     VFU_PAGE_SIZE);
	return 0;
}

/*
 * [offset, offset + size) must lie inside what fd refers to, when fd is a
 * regular file (memfd, hugetlbfs, tmpfs): mmap() past the end maps pages
 * that SIGBUS on access.  Other kinds of fd (device memory) have no size to
 * compare with.  offset + size was checked for overflow already.
 */
static int check_fd_covers(const struct pctx *c, int fd, uint64_t offset,
			   uint64_t size)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return cfail(c, -EBADF, "fstat of the fd failed");
	if (S_ISREG(st.st_mode) && offset + size > (uint64_t)st.st_size)
		return cfail(c, -EINVAL,
			     "offset + size (%#llx) is beyond the fd's size (%#llx)",
			     ULL(offset + size), ULL(st.st_size));
	return 0;
}

/* ---- payload checks (run by the validator) ------------------------------ */

static int check_version(const struct pctx *c, const uint8_t *p, uint32_t size,
			 struct vfu_msg *m)
{
	struct vfu_wire_version w;
	const char *s = (const char *)(p + sizeof(w));
	size_t n = size - sizeof(w);
	const char *nul;

	memcpy(&w, p, sizeof(w));
	m->u.version.major = w.major;
	m->u.version.minor = w.minor;
	if (n == 0) {
		/* The capabilities are optional. */
		m->u.version.caps = NULL;
		m->u.version.caps_len = 0;
		return 0;
	}
	/* A string the handler can pass to a JSON parser: one NUL, at the end. */
	nul = memchr(s, '\0', n);
	if (!nul)
		return cfail(c, -EINVAL, "capabilities (%zu bytes) are not NUL-terminated", n);
	if ((size_t)(nul - s) != n - 1)
		return cfail(c, -EINVAL, "capabilities have a NUL at byte %zu of %zu",
			     (size_t)(nul - s), n);
	m->u.version.caps = s;
	m->u.version.caps_len = n - 1;
	return 0;
}

static int check_dma_map(const struct pctx *c, const uint8_t *p, uint32_t size,
			 struct vfu_msg *m)
{
	struct vfu_wire_dma_map w;
	int rc;

	(void)size;
	memcpy(&w, p, sizeof(w));
	if (w.argsz != S_MAP)
		return cfail(c, -EBADMSG, "argsz %u, expected %u", w.argsz, S_MAP);
	if (w.flags & ~(VFU_DMA_READ | VFU_DMA_WRITE))
		return cfail(c, -EINVAL, "undefined flags %#x",
			     w.flags & ~(VFU_DMA_READ | VFU_DMA_WRITE));
	if (!(w.flags & (VFU_DMA_READ | VFU_DMA_WRITE)))
		return cfail(c, -EINVAL, "neither READ nor WRITE");
	if ((rc = check_range(c, "addr", w.addr, w.size)) < 0 ||
	    (rc = check_range(c, "offset", w.offset, w.size)) < 0)
		return rc;
	/* IOMMU mappings are in pages; the fd is mmap()ed at offset. */
	if ((rc = check_page_aligned(c, "addr", w.addr)) < 0 ||
	    (rc = check_page_aligned(c, "size", w.size)) < 0 ||
	    (rc = check_page_aligned(c, "offset", w.offset)) < 0)
		return rc;
	m->u.dma_map.flags = w.flags;
	m->u.dma_map.offset = w.offset;
	m->u.dma_map.addr = w.addr;
	m->u.dma_map.size = w.size;
	return 0;
}

/* The command and its echo in the reply. */
static int check_dma_unmap(const struct pctx *c, const uint8_t *p, uint32_t size,
			   struct vfu_msg *m)
{
	struct vfu_wire_dma_unmap w;
	int rc;

	(void)size;
	memcpy(&w, p, sizeof(w));
	if (w.argsz != S_UNMAP)
		return cfail(c, -EBADMSG, "argsz %u, expected %u", w.argsz, S_UNMAP);
	/* Linux's VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (bit 0) and _ALL (bit 1). */
	if (w.flags & 0x3u)
		return cfail(c, -EOPNOTSUPP, "flags %#x: dirty bitmap and unmap-all are not supported",
			     w.flags);
	if (w.flags)
		return cfail(c, -EINVAL, "undefined flags %#x", w.flags);
	if ((rc = check_range(c, "addr", w.addr, w.size)) < 0 ||
	    (rc = check_page_aligned(c, "addr", w.addr)) < 0 ||
	    (rc = check_page_aligned(c, "size", w.size)) < 0)
		return rc;
	m->u.dma_unmap.flags = w.flags;
	m->u.dma_unmap.addr = w.addr;
	m->u.dma_unmap.size = w.size;
	return 0;
}

static void decode_device_info(const uint8_t *p, struct vfu_device_info *out)
{
	struct vfu_wire_device_info w;

	memcpy(&w, p, sizeof(w));
	out->argsz = w.argsz;
	out->flags = w.flags;
	out->num_regions = w.num_regions;
	out->num_irqs = w.num_irqs;
}

static int check_device_info_cmd(const struct pctx *c, const uint8_t *p,
				 uint32_t size, struct vfu_msg *m)
{
	struct vfu_device_info i;

	(void)size;
	decode_device_info(p, &i);
	if (i.argsz < S_DEVINFO)
		return cfail(c, -EBADMSG, "argsz %u is below %u", i.argsz, S_DEVINFO);
	m->u.device_info = i;
	return 0;
}

static int check_device_info_rep(const struct pctx *c, const uint8_t *p,
				 uint32_t size, struct vfu_msg *m)
{
	struct vfu_device_info i;

	(void)size;
	decode_device_info(p, &i);
	if (i.argsz < S_DEVINFO)
		return cfail(c, -EBADMSG, "argsz %u is below %u", i.argsz, S_DEVINFO);
	/* The client asks about each region and irq type in turn: bound them. */
	if (i.num_regions > VFU_MAX_REGIONS)
		return cfail(c, -ERANGE, "num_regions %u is above %u", i.num_regions,
			     VFU_MAX_REGIONS);
	if (i.num_irqs > VFU_MAX_IRQ_TYPES)
		return cfail(c, -ERANGE, "num_irqs %u is above %u", i.num_irqs,
			     VFU_MAX_IRQ_TYPES);
	m->u.device_info = i;
	return 0;
}

static void decode_region_info(const uint8_t *p, struct vfu_region_info *out)
{
	struct vfu_wire_region_info w;

	memcpy(&w, p, sizeof(w));
	out->argsz = w.argsz;
	out->flags = w.flags;
	out->index = w.index;
	out->cap_offset = w.cap_offset;
	out->size = w.size;
	out->offset = w.offset;
	out->caps = NULL;
	out->caps_len = 0;
}

static int check_region_index(const struct pctx *c, uint32_t index)
{
	if (index >= VFU_MAX_REGIONS)
		return cfail(c, -ERANGE, "region %u is not below %u", index, VFU_MAX_REGIONS);
	return 0;
}

static int check_region_info_cmd(const struct pctx *c, const uint8_t *p,
				 uint32_t size, struct vfu_msg *m)
{
	struct vfu_region_info r;
	int rc;

	(void)size;
	decode_region_info(p, &r);
	if (r.argsz < S_REGINFO)
		return cfail(c, -EBADMSG, "argsz %u is below %u", r.argsz, S_REGINFO);
	if ((rc = check_region_index(c, r.index)) < 0)
		return rc;
	m->u.region_info = r;
	return 0;
}

static int check_region_info_rep(const struct pctx *c, const uint8_t *p,
				 uint32_t size, struct vfu_msg *m)
{
	struct vfu_region_info r;
	uint32_t ncaps = size - S_REGINFO;
	int rc;

	decode_region_info(p, &r);
	/* argsz is the size the whole answer needs: at least what is here. */
	if (r.argsz < size)
		return cfail(c, -EBADMSG, "argsz %u is below the %u bytes sent", r.argsz, size);
	/* More needed than sent: the client's buffer was too small, and the
	 * server sends the struct alone so that it can retry. */
	if (r.argsz > size && ncaps)
		return cfail(c, -EBADMSG, "argsz %u says the %u capability bytes were cut",
			     r.argsz, ncaps);
	if (r.flags & ~VFU_REGION_KNOWN)
		return cfail(c, -EINVAL, "undefined flags %#x", r.flags & ~VFU_REGION_KNOWN);
	if ((rc = check_region_index(c, r.index)) < 0)
		return rc;
	if (ncaps) {
		/* Opaque, but the first header (8 bytes) must be inside. */
		if (!(r.flags & VFU_REGION_CAPS))
			return cfail(c, -EINVAL, "%u capability bytes without the CAPS flag",
				     ncaps);
		if (r.cap_offset < S_REGINFO || r.cap_offset > size - 8)
			return cfail(c, -EINVAL, "cap_offset %u is not in %u..%u",
				     r.cap_offset, S_REGINFO, size - 8);
		r.caps = p + S_REGINFO;
		r.caps_len = ncaps;
	}
	if (r.offset > UINT64_MAX - r.size)
		return cfail(c, -EOVERFLOW, "offset %#llx + size %#llx overflows",
			     ULL(r.offset), ULL(r.size));
	if (r.flags & VFU_REGION_MMAP) {
		if (r.size == 0)
			return cfail(c, -EINVAL, "MMAP region of size 0");
		if ((rc = check_page_aligned(c, "mmap offset", r.offset)) < 0)
			return rc;
	}
	m->u.region_info = r;
	return 0;
}

static void decode_io_fds(const uint8_t *p, struct vfu_io_fds *out)
{
	struct vfu_wire_io_fds w;

	memcpy(&w, p, sizeof(w));
	out->argsz = w.argsz;
	out->flags = w.flags;
	out->index = w.index;
	out->count = w.count;
	out->nsub = 0;
}

static int check_io_fds_cmd(const struct pctx *c, const uint8_t *p, uint32_t size,
			    struct vfu_msg *m)
{
	struct vfu_io_fds *io = &m->u.io_fds;
	int rc;

	(void)size;
	decode_io_fds(p, io);
	if (io->argsz < S_IOFDS)
		return cfail(c, -EBADMSG, "argsz %u is below %u", io->argsz, S_IOFDS);
	if (io->flags)
		return cfail(c, -EINVAL, "undefined flags %#x", io->flags);
	if ((rc = check_region_index(c, io->index)) < 0)
		return rc;
	return 0;
}

static int check_sub_region(const struct pctx *c, size_t i,
			    const struct vfu_sub_region *s)
{
	if (s->type != VFU_SUB_IOEVENTFD && s->type != VFU_SUB_IOREGIONFD)
		return cfail(c, -EINVAL, "sub-region %zu: type %u is neither ioeventfd nor ioregionfd",
			     i, s->type);
	if (s->flags & ~VFU_SUB_F_DATAMATCH)
		return cfail(c, -EINVAL, "sub-region %zu: undefined flags %#x", i,
			     s->flags & ~VFU_SUB_F_DATAMATCH);
	if (s->type == VFU_SUB_IOREGIONFD && (s->flags & VFU_SUB_F_DATAMATCH))
		return cfail(c, -EINVAL, "sub-region %zu: DATAMATCH on an ioregionfd", i);
	/* An ioeventfd matches one access of 1, 2, 4 or 8 bytes. */
	if (s->type == VFU_SUB_IOEVENTFD && s->size != 1 && s->size != 2 &&
	    s->size != 4 && s->size != 8)
		return cfail(c, -EINVAL, "sub-region %zu: ioeventfd size %llu is not 1, 2, 4 or 8",
			     i, ULL(s->size));
	if (s->size == 0)
		return cfail(c, -EINVAL, "sub-region %zu: size is 0", i);
	if (s->offset > UINT64_MAX - s->size)
		return cfail(c, -EOVERFLOW, "sub-region %zu: offset + size overflows", i);
	return 0;
}

static int check_io_fds_rep(const struct pctx *c, const uint8_t *p, uint32_t size,
			    struct vfu_msg *m)
{
	struct vfu_io_fds io;
	uint32_t entries = size - S_IOFDS;
	int rc;

	decode_io_fds(p, &io);
	if (entries % S_SUB)
		return cfail(c, -EBADMSG, "%u bytes after the header are not whole sub-regions",
			     entries);
	entries /= S_SUB; /* <= VFU_MAX_SUBREGIONS by the table's size bound */
	if (io.count > VFU_MAX_SUBREGIONS)
		return cfail(c, -ERANGE, "count %u is above %u", io.count, VFU_MAX_SUBREGIONS);
	/* argsz is the size the full answer needs (count <= 64: no overflow). */
	if (io.argsz != S_IOFDS + io.count * S_SUB)
		return cfail(c, -EBADMSG, "argsz %u does not match count %u", io.argsz, io.count);
	/* All of them, or none when the client's argsz was too small. */
	if (entries != io.count && entries != 0)
		return cfail(c, -EBADMSG, "%u sub-regions sent, count says %u", entries,
			     io.count);
	if (io.flags)
		return cfail(c, -EINVAL, "undefined flags %#x", io.flags);
	if ((rc = check_region_index(c, io.index)) < 0)
		return rc;
	for (uint32_t i = 0; i < entries; i++) {
		struct vfu_wire_sub_region w;
		struct vfu_sub_region *s = &io.sub[i];

		memcpy(&w, p + S_IOFDS + i * S_SUB, sizeof(w));
		s->offset = w.offset;
		s->size = w.size;
		s->fd_index = w.fd_index;
		s->type = w.type;
		s->flags = w.flags;
		s->datamatch = w.datamatch;
		/* padding is not judged. */
		if ((rc = check_sub_region(c, i, s)) < 0)
			return rc;
	}
	io.nsub = entries;
	m->u.io_fds = io;
	return 0;
}

static void decode_irq_info(const uint8_t *p, struct vfu_irq_info *out)
{
	struct vfu_wire_irq_info w;

	memcpy(&w, p, sizeof(w));
	out->argsz = w.argsz;
	out->flags = w.flags;
	out->index = w.index;
	out->count = w.count;
}

static int check_irq_index(const struct pctx *c, uint32_t index)
{
	if (index >= VFU_MAX_IRQ_TYPES)
		return cfail(c, -ERANGE, "irq index %u is not below %u", index,
			     VFU_MAX_IRQ_TYPES);
	return 0;
}

static int check_irq_info_cmd(const struct pctx *c, const uint8_t *p, uint32_t size,
			      struct vfu_msg *m)
{
	struct vfu_irq_info i;
	int rc;

	(void)size;
	decode_irq_info(p, &i);
	if (i.argsz < S_IRQINFO)
		return cfail(c, -EBADMSG, "argsz %u is below %u", i.argsz, S_IRQINFO);
	if ((rc = check_irq_index(c, i.index)) < 0)
		return rc;
	m->u.irq_info = i;
	return 0;
}

static int check_irq_info_rep(const struct pctx *c, const uint8_t *p, uint32_t size,
			      struct vfu_msg *m)
{
	struct vfu_irq_info i;
	int rc;

	(void)size;
	decode_irq_info(p, &i);
	if (i.argsz < S_IRQINFO)
		return cfail(c, -EBADMSG, "argsz %u is below %u", i.argsz, S_IRQINFO);
	if (i.flags & ~VFU_IRQ_INFO_KNOWN)
		return cfail(c, -EINVAL, "undefined flags %#x", i.flags & ~VFU_IRQ_INFO_KNOWN);
	if ((rc = check_irq_index(c, i.index)) < 0)
		return rc;
	m->u.irq_info = i;
	return 0;
}

static bool one_bit(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int check_irq_set(const struct pctx *c, const uint8_t *p, uint32_t size,
			 struct vfu_msg *m)
{
	struct vfu_wire_irq_set w;
	uint32_t data, action, want;
	int rc;

	memcpy(&w, p, sizeof(w));
	if (w.argsz != size)
		return cfail(c, -EBADMSG, "argsz %u, but the payload is %u bytes", w.argsz, size);
	data = w.flags & VFU_IRQ_DATA_TYPES;
	action = w.flags & VFU_IRQ_ACTION_TYPES;
	if (w.flags & ~(VFU_IRQ_DATA_TYPES | VFU_IRQ_ACTION_TYPES))
		return cfail(c, -EINVAL, "undefined flags %#x",
			     w.flags & ~(VFU_IRQ_DATA_TYPES | VFU_IRQ_ACTION_TYPES));
	if (!one_bit(data))
		return cfail(c, -EINVAL, "flags %#x: not exactly one DATA type", w.flags);
	if (!one_bit(action))
		return cfail(c, -EINVAL, "flags %#x: not exactly one ACTION type", w.flags);
	if ((rc = check_irq_index(c, w.index)) < 0)
		return rc;
	if (w.count > VFU_MAX_IRQS)
		return cfail(c, -ERANGE, "count %u is above %u", w.count, VFU_MAX_IRQS);
	if ((uint64_t)w.start + w.count > UINT32_MAX)
		return cfail(c, -EOVERFLOW, "start %u + count %u overflows", w.start, w.count);
	/* count 0 means "all vectors" and only goes with DATA_NONE (disable). */
	if (w.count == 0 && data != VFU_IRQ_DATA_NONE)
		return cfail(c, -EINVAL, "count 0 needs DATA_NONE");
	want = S_IRQSET + (data == VFU_IRQ_DATA_BOOL ? w.count : 0);
	if (size != want)
		return cfail(c, -EBADMSG, "size %u, expected %u for count %u", size, want,
			     w.count);
	m->u.irq_set.bools = NULL;
	if (data == VFU_IRQ_DATA_BOOL) {
		for (uint32_t i = 0; i < w.count; i++)
			if (p[S_IRQSET + i] > 1)
				return cfail(c, -EINVAL, "bool %u is %u, not 0 or 1", i,
					     p[S_IRQSET + i]);
		m->u.irq_set.bools = p + S_IRQSET;
	}
	m->u.irq_set.flags = w.flags;
	m->u.irq_set.index = w.index;
	m->u.irq_set.start = w.start;
	m->u.irq_set.count = w.count;
	return 0;
}

/* offset/region/count of REGION_READ/WRITE, with or without data after them. */
static int decode_access(const struct pctx *c, const uint8_t *p, uint32_t size,
			 bool data, struct vfu_region_access *out)
{
	struct vfu_wire_region_access w;
	int rc;

	memcpy(&w, p, sizeof(w));
	if (w.count == 0)
		return cfail(c, -EINVAL, "count is 0");
	if (w.count > VFU_MAX_DATA)
		return cfail(c, -ERANGE, "count %u is above %u", w.count, VFU_MAX_DATA);
	if (w.offset > UINT64_MAX - w.count)
		return cfail(c, -EOVERFLOW, "offset %#llx + count %u overflows", ULL(w.offset),
			     w.count);
	if ((rc = check_region_index(c, w.region)) < 0)
		return rc;
	if (data && size - S_ACCESS != w.count)
		return cfail(c, -EBADMSG, "%u data bytes, count says %u", size - S_ACCESS,
			     w.count);
	out->offset = w.offset;
	out->region = w.region;
	out->count = w.count;
	out->data = data ? p + S_ACCESS : NULL;
	return 0;
}

static int check_access_cmd(const struct pctx *c, const uint8_t *p, uint32_t size,
			    struct vfu_msg *m)
{
	return decode_access(c, p, size, false, &m->u.access);
}

static int check_access_data(const struct pctx *c, const uint8_t *p, uint32_t size,
			     struct vfu_msg *m)
{
	return decode_access(c, p, size, true, &m->u.access);
}

static int check_access_rep(const struct pctx *c, const uint8_t *p, uint32_t size,
			    struct vfu_msg *m)
{
	return decode_access(c, p, size, false, &m->u.access);
}

/* ---- the validator ------------------------------------------------------ */

/*
 * The fd rule, after the payload was decoded into m.  fds may be NULL (the
 * encoder checking its own output): then only the count is judged.
 */
static int check_fds(const struct pctx *c, enum fd_rule rule, const int *fds,
		     size_t nfds, const struct vfu_msg *m)
{
	const struct vfu_io_fds *io = &m->u.io_fds;
	size_t lo = 0, hi = 0;
	uint64_t used = 0;

	switch (rule) {
	case FD_NONE:
		break;
	case FD_MAP:
		lo = hi = 1;
		break;
	case FD_MMAP:
		lo = hi = (m->u.region_info.flags & VFU_REGION_MMAP) ? 1 : 0;
		break;
	case FD_IRQ:
		lo = hi = (m->u.irq_set.flags & VFU_IRQ_DATA_EVENTFD) ? m->u.irq_set.count : 0;
		break;
	case FD_SUBREGION:
		lo = io->nsub ? 1 : 0;
		hi = io->nsub;
		break;
	}
	if (nfds < lo || nfds > hi) {
		if (lo == hi)
			return cfail(c, -EBADF, "%zu fds, expected %zu", nfds, lo);
		return cfail(c, -EBADF, "%zu fds, expected %zu..%zu", nfds, lo, hi);
	}

	switch (rule) {
	case FD_MAP:
		return fds ? check_fd_covers(c, fds[0], m->u.dma_map.offset,
					     m->u.dma_map.size) : 0;
	case FD_MMAP:
		return fds && nfds ? check_fd_covers(c, fds[0], m->u.region_info.offset,
						     m->u.region_info.size) : 0;
	case FD_SUBREGION:
		/* nfds <= nsub <= 64: one bit per fd. */
		for (size_t i = 0; i < io->nsub; i++) {
			if (io->sub[i].fd_index >= nfds)
				return cfail(c, -EBADF, "sub-region %zu: fd_index %u, only %zu fds",
					     i, io->sub[i].fd_index, nfds);
			used |= UINT64_C(1) << io->sub[i].fd_index;
		}
		for (size_t i = 0; i < nfds; i++)
			if (!(used & (UINT64_C(1) << i)))
				return cfail(c, -EBADF, "fd %zu is used by no sub-region", i);
		return 0;
	case FD_NONE:
	case FD_IRQ:
		break;
	}
	return 0;
}

static int validate(const uint8_t *buf, size_t len, const int *fds, size_t nfds,
		    struct vfu_msg *m, struct msg_err *err)
{
	const struct vfu_cmd_desc *d;
	const struct dir_rule *r;
	struct vfu_wire_hdr h;
	struct pctx c;
	uint32_t type, size;
	int rc;

	if (len < VFU_HDR_SIZE)
		return msg_fail(err, 0, "header", -EBADMSG,
			    "%zu bytes, shorter than the %u-byte header", len, VFU_HDR_SIZE);
	memcpy(&h, buf, sizeof(h));
	if (h.size < VFU_HDR_SIZE)
		return msg_fail(err, h.command, "header", -EBADMSG,
			    "size %u is below the %u-byte header", h.size, VFU_HDR_SIZE);
	if (h.size > VFU_MAX_MSG)
		return msg_fail(err, h.command, "header", -EMSGSIZE,
			    "size %u is above the %zu limit", h.size, (size_t)VFU_MAX_MSG);
	if (h.size != len)
		return msg_fail(err, h.command, "header", -EBADMSG,
			    "size field says %u bytes, %zu present", h.size, len);
	if (h.flags & ~VFU_FLAG_KNOWN)
		return msg_fail(err, h.command, "header", -EPROTO, "reserved flag bits %#x",
			    h.flags & ~VFU_FLAG_KNOWN);
	type = h.flags & VFU_FLAG_TYPE_MASK;
	if (type != VFU_TYPE_COMMAND && type != VFU_TYPE_REPLY)
		return msg_fail(err, h.command, "header", -EPROTO,
			    "type %u is neither command (0) nor reply (1)", type);
	size = h.size - VFU_HDR_SIZE;

	if (type == VFU_TYPE_COMMAND) {
		if (h.flags & VFU_FLAG_ERROR)
			return msg_fail(err, h.command, "header", -EPROTO, "ERROR flag on a command");
		if (h.error)
			return msg_fail(err, h.command, "header", -EPROTO,
				    "error %u on a command", h.error);
	} else {
		if (h.flags & VFU_FLAG_NO_REPLY)
			return msg_fail(err, h.command, "header", -EPROTO, "NO_REPLY flag on a reply");
		if (!(h.flags & VFU_FLAG_ERROR) && h.error)
			return msg_fail(err, h.command, "header", -EPROTO,
				    "error %u without the ERROR flag", h.error);
		if (h.flags & VFU_FLAG_ERROR) {
			/* Any command may be refused, known to us or not. */
			if (h.error == 0 || h.error > VFU_MAX_ERRNO)
				return msg_fail(err, h.command, "header", -EPROTO,
					    "error reply with errno %u, not 1..%u", h.error,
					    VFU_MAX_ERRNO);
			if (size)
				return msg_fail(err, h.command, "header", -EPROTO,
					    "error reply with %u payload bytes", size);
			if (nfds)
				return msg_fail(err, h.command, "header", -EBADF,
					    "error reply with %zu fds", nfds);
			m->msg_id = h.msg_id;
			m->command = h.command;
			m->flags = h.flags;
			m->error = h.error;
			return 0;
		}
	}

	d = lookup(h.command);
	if (!d)
		return msg_fail(err, h.command, "header", -EOPNOTSUPP, "unknown command %u",
			    h.command);
	c.d = d;
	c.dir = type == VFU_TYPE_REPLY ? DIR_REPLY : DIR_COMMAND;
	c.err = err;
	r = &d->dir[c.dir];
	if (size < r->min_size || size > r->max_size) {
		if (r->min_size == r->max_size)
			return cfail(&c, -EBADMSG, "payload %u bytes, expected %u", size,
				     r->min_size);
		return cfail(&c, -EBADMSG, "payload %u bytes, expected %u..%u", size,
			     r->min_size, r->max_size);
	}
	if (r->check && (rc = r->check(&c, buf + VFU_HDR_SIZE, size, m)) < 0)
		return rc;
	if ((rc = check_fds(&c, r->fds, fds, nfds, m)) < 0)
		return rc;
	m->msg_id = h.msg_id;
	m->command = h.command;
	m->flags = h.flags;
	m->error = 0;
	return 0;
}

int vfu_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds,
	      struct vfu_msg *ret, struct msg_err *err)
{
	struct vfu_msg m;
	int rc;

	if (nfds && !fds)
		return msg_fail(err, 0, "vfu_parse", -EINVAL, "nfds without fds");
	if (!ret || (len && !buf)) {
		rc = msg_fail(err, 0, "vfu_parse", -EINVAL, "missing argument");
		goto out_close;
	}
	if (nfds > VFU_MAX_FDS) {
		rc = msg_fail(err, 0, "header", -EBADF, "%zu fds, at most %u", nfds, VFU_MAX_FDS);
		goto out_close;
	}

	memset(&m, 0, sizeof(m));
	rc = validate(buf, len, fds, nfds, &m, err);
	if (rc < 0)
		goto out_close;

	/* Hand the fds on: the message owns them now. */
	sio_move_fds(m.fds, VFU_MAX_FDS, fds, nfds);
	m.nfds = nfds;
	*ret = m;
	return 0;

out_close:
	sio_close_fds(fds, nfds);
	return rc;
}

int vfu_msg_take_fd(struct vfu_msg *m, size_t i)
{
	if (!m)
		return -1;
	return sio_take_fd(m->fds, m->nfds < VFU_MAX_FDS ? m->nfds : VFU_MAX_FDS, i);
}

void vfu_msg_close(struct vfu_msg *m)
{
	if (!m)
		return;
	sio_close_fds(m->fds, m->nfds < VFU_MAX_FDS ? m->nfds : VFU_MAX_FDS);
}

/* ---- reply matching ----------------------------------------------------- */

#define MISMATCH(what, a, b)                                                     \
	msg_fail(err, rep->command, vfu_command_name(rep->command), -EPROTO,         \
	     "reply %s %#llx, the command had %#llx", (what), ULL(a), ULL(b))

int vfu_match_reply(const struct vfu_msg *req, const struct vfu_msg *rep,
		    struct msg_err *err)
{
	if (!req || !rep)
		return msg_fail(err, 0, "vfu_match_reply", -EINVAL, "missing argument");
	if (vfu_msg_is_reply(req) || !vfu_msg_is_reply(rep))
		return msg_fail(err, rep->command, "vfu_match_reply", -EPROTO,
			    "not a command and its reply");
	if (rep->msg_id != req->msg_id)
		return MISMATCH("msg_id", rep->msg_id, req->msg_id);
	if (rep->command != req->command)
		return MISMATCH("command", rep->command, req->command);
	if (rep->flags & VFU_FLAG_ERROR)
		return 0;

	switch (req->command) {
	case VFU_CMD_DMA_UNMAP:
		if (rep->u.dma_unmap.addr != req->u.dma_unmap.addr)
			return MISMATCH("addr", rep->u.dma_unmap.addr, req->u.dma_unmap.addr);
		if (rep->u.dma_unmap.size != req->u.dma_unmap.size)
			return MISMATCH("size", rep->u.dma_unmap.size, req->u.dma_unmap.size);
		break;
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		if (rep->u.region_info.index != req->u.region_info.index)
			return MISMATCH("index", rep->u.region_info.index,
					req->u.region_info.index);
		/* caps_len <= VFU_MAX_REGION_CAPS: no overflow. */
		if (S_REGINFO + rep->u.region_info.caps_len > req->u.region_info.argsz)
			return MISMATCH("size", S_REGINFO + rep->u.region_info.caps_len,
					req->u.region_info.argsz);
		break;
	case VFU_CMD_DEVICE_GET_REGION_IO_FDS:
		if (rep->u.io_fds.index != req->u.io_fds.index)
			return MISMATCH("index", rep->u.io_fds.index, req->u.io_fds.index);
		if (S_IOFDS + rep->u.io_fds.nsub * S_SUB > req->u.io_fds.argsz)
			return MISMATCH("size", S_IOFDS + rep->u.io_fds.nsub * S_SUB,
					req->u.io_fds.argsz);
		break;
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		if (rep->u.irq_info.index != req->u.irq_info.index)
			return MISMATCH("index", rep->u.irq_info.index, req->u.irq_info.index);
		break;
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE:
		if (rep->u.access.offset != req->u.access.offset)
			return MISMATCH("offset", rep->u.access.offset, req->u.access.offset);
		if (rep->u.access.region != req->u.access.region)
			return MISMATCH("region", rep->u.access.region, req->u.access.region);
		if (rep->u.access.count != req->u.access.count)
			return MISMATCH("count", rep->u.access.count, req->u.access.count);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- encoders ----------------------------------------------------------- */

void vfu_msg_init(struct vfu_msg *m, uint16_t command, uint16_t msg_id)
{
	memset(m, 0, sizeof(*m));
	m->command = command;
	m->msg_id = msg_id;
	m->flags = VFU_TYPE_COMMAND;
	for (size_t i = 0; i < VFU_MAX_FDS; i++)
		m->fds[i] = -1;
}

void vfu_reply_init(struct vfu_msg *m, const struct vfu_msg *req)
{
	vfu_msg_init(m, req->command, req->msg_id);
	m->flags = VFU_TYPE_REPLY;
}

/* Copies n bytes of struct w then extra bytes of tail, if cap allows. */
static int put(uint8_t *p, size_t cap, const void *w, size_t n, const void *tail,
	       size_t extra, uint32_t *ret_size)
{
	if (n > cap || extra > cap - n || n + extra > UINT32_MAX - VFU_HDR_SIZE)
		return -ENOBUFS;
	memcpy(p, w, n);
	if (extra) {
		if (!tail)
			return -EINVAL;
		memcpy(p + n, tail, extra);
	}
	*ret_size = (uint32_t)(n + extra);
	return 0;
}

static int enc_version(const struct vfu_msg *m, uint8_t *p, size_t cap,
		       uint32_t *ret_size)
{
	const struct vfu_version *v = &m->u.version;
	struct vfu_wire_version w = { .major = v->major, .minor = v->minor };

	/* The NUL goes on the wire too. */
	if (v->caps && v->caps_len == SIZE_MAX)
		return -EINVAL;
	return put(p, cap, &w, sizeof(w), v->caps, v->caps ? v->caps_len + 1 : 0, ret_size);
}

static int enc_dma_map(const struct vfu_msg *m, uint8_t *p, size_t cap,
		       uint32_t *ret_size)
{
	const struct vfu_dma_map *v = &m->u.dma_map;
	struct vfu_wire_dma_map w = {
		.argsz = S_MAP, .flags = v->flags, .offset = v->offset,
		.addr = v->addr, .size = v->size,
	};

	return put(p, cap, &w, sizeof(w), NULL, 0, ret_size);
}

static int enc_dma_unmap(const struct vfu_msg *m, uint8_t *p, size_t cap,
			 uint32_t *ret_size)
{
	const struct vfu_dma_unmap *v = &m->u.dma_unmap;
	struct vfu_wire_dma_unmap w = {
		.argsz = S_UNMAP, .flags = v->flags, .addr = v->addr, .size = v->size,
	};

	return put(p, cap, &w, sizeof(w), NULL, 0, ret_size);
}

static int enc_device_info(const struct vfu_msg *m, uint8_t *p, size_t cap,
			   uint32_t *ret_size)
{
	const struct vfu_device_info *v = &m->u.device_info;
	struct vfu_wire_device_info w = {
		.argsz = v->argsz, .flags = v->flags, .num_regions = v->num_regions,
		.num_irqs = v->num_irqs,
	};

	return put(p, cap, &w, sizeof(w), NULL, 0, ret_size);
}

static int enc_region_info(const struct vfu_msg *m, uint8_t *p, size_t cap,
			   uint32_t *ret_size)
{
	const struct vfu_region_info *v = &m->u.region_info;
	struct vfu_wire_region_info w = {
		.argsz = v->argsz, .flags = v->flags, .index = v->index,
		.cap_offset = v->cap_offset, .size = v->size, .offset = v->offset,
	};
	size_t ncaps = vfu_msg_is_reply(m) ? v->caps_len : 0;

	/* With capabilities the reply is complete: argsz is its size. */
	if (ncaps) {
		if (ncaps > VFU_MAX_REGION_CAPS)
			return -EMSGSIZE;
		w.argsz = S_REGINFO + (uint32_t)ncaps;
	}
	return put(p, cap, &w, sizeof(w), v->caps, ncaps, ret_size);
}

static int enc_io_fds(const struct vfu_msg *m, uint8_t *p, size_t cap,
		      uint32_t *ret_size)
{
	const struct vfu_io_fds *v = &m->u.io_fds;
	struct vfu_wire_io_fds w = {
		.argsz = v->argsz, .flags = v->flags, .index = v->index, .count = v->count,
	};
	size_t n = vfu_msg_is_reply(m) ? v->nsub : 0;
	int rc;

	if (vfu_msg_is_reply(m)) {
		if (v->count > VFU_MAX_SUBREGIONS || n > VFU_MAX_SUBREGIONS)
			return -ERANGE;
		w.argsz = S_IOFDS + v->count * S_SUB;
	}
	if ((rc = put(p, cap, &w, sizeof(w), NULL, 0, ret_size)) < 0)
		return rc;
	if (n * S_SUB > cap - S_IOFDS)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		const struct vfu_sub_region *s = &v->sub[i];
		struct vfu_wire_sub_region ws = {
			.offset = s->offset, .size = s->size, .fd_index = s->fd_index,
			.type = s->type, .flags = s->flags, .padding = 0,
			.datamatch = s->datamatch,
		};

		memcpy(p + S_IOFDS + i * S_SUB, &ws, sizeof(ws));
	}
	*ret_size = S_IOFDS + (uint32_t)n * S_SUB;
	return 0;
}

static int enc_irq_info(const struct vfu_msg *m, uint8_t *p, size_t cap,
			uint32_t *ret_size)
{
	const struct vfu_irq_info *v = &m->u.irq_info;
	struct vfu_wire_irq_info w = {
		.argsz = v->argsz, .flags = v->flags, .index = v->index, .count = v->count,
	};

	return put(p, cap, &w, sizeof(w), NULL, 0, ret_size);
}

static int enc_irq_set(const struct vfu_msg *m, uint8_t *p, size_t cap,
		       uint32_t *ret_size)
{
	const struct vfu_irq_set *v = &m->u.irq_set;
	size_t extra = (v->flags & VFU_IRQ_DATA_BOOL) ? v->count : 0;
	struct vfu_wire_irq_set w = {
		.flags = v->flags, .index = v->index, .start = v->start, .count = v->count,
	};

	if (extra > VFU_MAX_IRQS)
		return -ERANGE;
	w.argsz = S_IRQSET + (uint32_t)extra;
	return put(p, cap, &w, sizeof(w), v->bools, extra, ret_size);
}

static int enc_access(const struct vfu_msg *m, uint8_t *p, size_t cap,
		      uint32_t *ret_size)
{
	const struct vfu_region_access *v = &m->u.access;
	struct vfu_wire_region_access w = {
		.offset = v->offset, .region = v->region, .count = v->count,
	};

	return put(p, cap, &w, sizeof(w), NULL, 0, ret_size);
}

static int enc_access_data(const struct vfu_msg *m, uint8_t *p, size_t cap,
			   uint32_t *ret_size)
{
	const struct vfu_region_access *v = &m->u.access;
	struct vfu_wire_region_access w = {
		.offset = v->offset, .region = v->region, .count = v->count,
	};

	if (v->count > VFU_MAX_DATA)
		return -ERANGE;
	return put(p, cap, &w, sizeof(w), v->data, v->count, ret_size);
}

static void put_hdr(uint8_t *buf, uint16_t msg_id, uint16_t command,
		    uint32_t size, uint32_t flags, uint32_t error)
{
	struct vfu_wire_hdr h = {
		.msg_id = msg_id, .command = command, .size = size,
		.flags = flags, .error = error,
	};

	memcpy(buf, &h, sizeof(h));
}

int vfu_encode(const struct vfu_msg *m, uint8_t *buf, size_t len,
	       size_t *ret_len, struct msg_err *err)
{
	const struct vfu_cmd_desc *d;
	const struct dir_rule *r;
	struct vfu_msg check;
	uint32_t size = 0;
	int rc;

	if (!m || !buf || !ret_len)
		return msg_fail(err, 0, "vfu_encode", -EINVAL, "missing argument");
	if (m->nfds > VFU_MAX_FDS)
		return msg_fail(err, m->command, "vfu_encode", -EBADF, "%zu fds, at most %u",
			    m->nfds, VFU_MAX_FDS);
	if (len < VFU_HDR_SIZE)
		return msg_fail(err, m->command, "vfu_encode", -ENOBUFS, "%zu-byte buffer", len);

	if (vfu_msg_is_reply(m) && (m->flags & VFU_FLAG_ERROR)) {
		size = 0;
	} else {
		d = lookup(m->command);
		if (!d)
			return msg_fail(err, m->command, "vfu_encode", -EOPNOTSUPP,
				    "unknown command %u", m->command);
		r = &d->dir[vfu_msg_is_reply(m) ? DIR_REPLY : DIR_COMMAND];
		if (r->enc) {
			rc = r->enc(m, buf + VFU_HDR_SIZE, len - VFU_HDR_SIZE, &size);
			if (rc == -ENOBUFS)
				return msg_fail(err, m->command, d->name, rc,
					    "does not fit a %zu-byte buffer", len);
			if (rc < 0)
				return msg_fail(err, m->command, d->name, rc,
					    "cannot be encoded (a count above its bound, or its data missing)");
		}
	}
	put_hdr(buf, m->msg_id, m->command, VFU_HDR_SIZE + size, m->flags, m->error);

	/* What we send, we would accept. */
	memset(&check, 0, sizeof(check));
	rc = validate(buf, VFU_HDR_SIZE + (size_t)size, NULL, m->nfds, &check, err);
	if (rc < 0)
		return rc;
	*ret_len = VFU_HDR_SIZE + (size_t)size;
	return 0;
}

int vfu_encode_error(uint16_t msg_id, uint16_t command, int status,
		     uint8_t *buf, size_t len, size_t *ret_len)
{
	if (!buf || !ret_len || status >= 0 || status < -(int)VFU_MAX_ERRNO)
		return -EINVAL;
	if (len < VFU_HDR_SIZE)
		return -ENOBUFS;
	put_hdr(buf, msg_id, command, VFU_HDR_SIZE, VFU_TYPE_REPLY | VFU_FLAG_ERROR,
		(uint32_t)-status);
	*ret_len = VFU_HDR_SIZE;
	return 0;
}
