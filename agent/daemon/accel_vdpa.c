// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel vhost-vdpa carrier (accel_vdpa.h): vhost requests as ioctls
 * on /dev/vhost-vdpa-N, DMA mappings as IOTLB V2 messages on the same fd.
 * Facts from the Linux uAPI (<linux/vhost.h>, <linux/vhost_types.h>) and
 * drivers/vhost/vdpa.c: SET_FEATURES is refused once FEATURES_OK is set,
 * ring addresses and bases only before DRIVER_OK or while suspended, a
 * status may only add bits (0 resets), IOTLB messages need the owner.
 */
#include "agent/daemon/accel_vdpa.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/util.h"
#include "protocol/vhost_vdpa.h"

/* Newer than some build hosts' headers (values from the uAPI). */
#ifndef VHOST_VDPA_SUSPEND
#define VHOST_VDPA_SUSPEND _IO(VHOST_VIRTIO, 0x7D)
#endif
#ifndef VHOST_VDPA_RESUME
#define VHOST_VDPA_RESUME _IO(VHOST_VIRTIO, 0x7E)
#endif
#ifndef VHOST_VDPA_GET_VQS_COUNT
#define VHOST_VDPA_GET_VQS_COUNT _IOR(VHOST_VIRTIO, 0x80, __u32)
#endif

#define S_ACKNOWLEDGE 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u
#define S_FAILED 128u

#define F_LOG_ALL 26
#define F_ACCESS_PLATFORM 33
#define NET_DEVICE_ID 1u
#define MAX_MAPS 16
#define NV 16

struct map {
	uint64_t iova, size;
	void *va;
};

struct accel_vdpa {
	int fd;
	char path[128];
	dev_t rdev;			/* of the node opened: it is gone when it changes */
	unsigned nvrings;
	uint64_t backend_features;	/* as negotiated */
	uint64_t features_offered;
	struct vdpa_iova_range range;
	uint16_t max_ring;		/* VHOST_VDPA_GET_VRING_NUM */
	bool owner;
	bool suspended;
	bool can_suspend;		/* SUSPEND offered (and negotiated) */
	bool reset_stopped;		/* stopped by a reset: the rings' state is gone */
	bool cut;
	uint8_t status;			/* as we set it */
	bool ring_set[NV];		/* given an address since the last reset */
	int kick[NV];
	struct map map[MAX_MAPS];
	unsigned nmaps;
	unsigned batch_depth;
	char err[200];
};

#define fail(v, e, ...) errf((v)->err, sizeof((v)->err), e, __VA_ARGS__)

static bool has_backend(const struct accel_vdpa *v, unsigned bit)
{
	return (v->backend_features >> bit) & 1;
}

const char *accel_vdpa_error(const struct accel_vdpa *v)
{
	return v->err;
}

int accel_vdpa_fd(const struct accel_vdpa *v)
{
	/*
	 * The vhost-vdpa character device implements no poll (drivers/vhost/
	 * vdpa.c has no .poll): epoll refuses it.  Nothing to watch: the port's
	 * health check (a status read) finds a device that broke.
	 */
	(void)v;
	return -1;
}

int accel_vdpa_doorbell_fd(const struct accel_vdpa *v, unsigned q)
{
	return q < v->nvrings ? v->kick[q] : -1;
}

static int xioctl(struct accel_vdpa *v, unsigned long req, void *arg, const char *what)
{
	if (v->cut)
		return fail(v, -ENOTCONN, "%s: the device was reset and cut off", what);
	if (ioctl(v->fd, req, arg) < 0)
		return fail(v, -errno, "%s: %s", what, strerror(errno));
	return 0;
}

static int set_status(struct accel_vdpa *v, uint8_t s)
{
	uint8_t got = 0;
	int r;

	r = xioctl(v, VHOST_VDPA_SET_STATUS, &s, "VHOST_VDPA_SET_STATUS");
	if (r < 0)
		return r;
	r = xioctl(v, VHOST_VDPA_GET_STATUS, &got, "VHOST_VDPA_GET_STATUS");
	if (r < 0)
		return r;
	if (got != s)
		return fail(v, -EIO, "device status 0x%02x after setting 0x%02x", got, s);
	v->status = s;
	if (s == 0) {
		v->suspended = false;
		v->reset_stopped = false;
		memset(v->ring_set, 0, sizeof(v->ring_set));
	}
	return 0;
}

static int write_iotlb(struct accel_vdpa *v, const struct vdpa_iotlb *m)
{
	uint8_t buf[VDPA_MSG_V2_SIZE];
	struct msg_err verr;
	size_t len;
	ssize_t n;
	int r;

	if (v->cut)
		return fail(v, -ENOTCONN, "IOTLB: the device was reset and cut off");
	r = vdpa_iotlb_encode(m, buf, sizeof(buf), &len, &verr);
	if (r < 0)
		return fail(v, r, "%s", verr.reason);
	n = write(v->fd, buf, len);
	if (n < 0)
		return fail(v, -errno, "IOTLB message type %u at IOVA 0x%llx: %s", m->type,
			    (unsigned long long)m->iova, strerror(errno));
	if ((size_t)n != len)
		return fail(v, -EIO, "IOTLB message: short write (%zd of %zu)", n, len);
	return 0;
}

int accel_vdpa_dma_batch(struct accel_vdpa *v, bool begin)
{
	struct vdpa_iotlb m = { .type = begin ? VDPA_IOTLB_BATCH_BEGIN : VDPA_IOTLB_BATCH_END };

	if (!has_backend(v, VDPA_BACKEND_F_IOTLB_BATCH))
		return 0;
	if (begin && v->batch_depth++ > 0)
		return 0;
	if (!begin && (v->batch_depth == 0 || --v->batch_depth > 0))
		return 0;
	return write_iotlb(v, &m);
}

static int iotlb_update(struct accel_vdpa *v, const struct map *mp)
{
	struct vdpa_iotlb m = { .type = VDPA_IOTLB_UPDATE, .perm = VDPA_ACCESS_RW,
				.iova = mp->iova, .size = mp->size,
				.uaddr = (uint64_t)(uintptr_t)mp->va };

	return write_iotlb(v, &m);
}

int accel_vdpa_dma_map(struct accel_vdpa *v, uint64_t iova, uint64_t size, int fd,
		       uint64_t offset)
{
	struct msg_err verr;
	struct map mp = { iova, size, NULL };
	int r;

	if (v->nmaps == MAX_MAPS)
		return fail(v, -ENOSPC, "more than %d DMA mappings", MAX_MAPS);
	r = vdpa_iova_check(&v->range, iova, size, &verr);
	if (r < 0)
		return fail(v, r, "%s", verr.reason);
	/* MAP_SHARED of the fd: the kernel maps (or pins) these pages. */
	mp.va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (mp.va == MAP_FAILED)
		return fail(v, -errno, "mmap of %llu bytes for IOVA 0x%llx: %s",
			    (unsigned long long)size, (unsigned long long)iova, strerror(errno));
	r = iotlb_update(v, &mp);
	if (r < 0) {
		munmap(mp.va, size);
		return r;
	}
	v->map[v->nmaps++] = mp;
	return 0;
}

int accel_vdpa_dma_unmap(struct accel_vdpa *v, uint64_t iova, uint64_t size)
{
	struct vdpa_iotlb m = { .type = VDPA_IOTLB_INVALIDATE, .iova = iova, .size = size };
	int r = 0;

	for (unsigned i = 0; i < v->nmaps; i++) {
		if (v->map[i].iova != iova || v->map[i].size != size)
			continue;
		/* Invalidated first: the device may use the pages until then. */
		if (!v->cut)
			r = write_iotlb(v, &m);
		if (r < 0)
			return r;
		munmap(v->map[i].va, size);
		v->map[i] = v->map[--v->nmaps];
		return 0;
	}
	return fail(v, -ENOENT, "no DMA mapping at IOVA 0x%llx (%llu bytes)",
		    (unsigned long long)iova, (unsigned long long)size);
}

/*
 * A reset: status 0.  Without IOTLB_PERSIST the kernel clears the device's
 * mappings with it (drivers/vhost/vdpa.c, VDPA_RESET_F_CLEAN_MAP): they are
 * written again.
 */
static int reset(struct accel_vdpa *v)
{
	int r = set_status(v, 0);

	if (r < 0 || has_backend(v, VDPA_BACKEND_F_IOTLB_PERSIST) || v->nmaps == 0)
		return r;
	if ((r = accel_vdpa_dma_batch(v, true)) < 0)
		return r;
	for (unsigned i = 0; i < v->nmaps && r == 0; i++) {
		struct vdpa_iotlb m = { .type = VDPA_IOTLB_INVALIDATE, .iova = v->map[i].iova,
					.size = v->map[i].size };

		r = write_iotlb(v, &m);
		if (r == 0)
			r = iotlb_update(v, &v->map[i]);
	}
	if (r == 0)
		r = accel_vdpa_dma_batch(v, false);
	return r;
}

int accel_vdpa_set_irqs(struct accel_vdpa *v, const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n && i < v->nvrings; i++) {
		struct vhost_vring_file f = { .index = i, .fd = fds[i] };
		int r = xioctl(v, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL");

		if (r < 0)
			return r;
	}
	return 0;
}

int accel_vdpa_set_irq(struct accel_vdpa *v, unsigned idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	if (idx >= v->nvrings)
		return fail(v, -ERANGE, "VHOST_SET_VRING_CALL: vring %u of %u", idx, v->nvrings);
	/* The kernel swaps a running ring's call fd in place (drivers/vhost/vdpa.c). */
	return xioctl(v, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL");
}

static int start(struct accel_vdpa *v)
{
	int r;

	if ((v->status & S_DRIVER_OK) && v->suspended) {
		r = xioctl(v, VHOST_VDPA_RESUME, NULL, "VHOST_VDPA_RESUME");
		if (r == 0)
			v->suspended = false;
		return r;
	}
	if (!(v->status & S_FEATURES_OK))
		return fail(v, -EINVAL, "start before the features were set");
	for (unsigned i = 0; i < v->nvrings; i++) {
		struct vhost_vring_state s = { .index = i, .num = 1 };

		if (!v->ring_set[i])
			continue;
		r = xioctl(v, VHOST_VDPA_SET_VRING_ENABLE, &s, "VHOST_VDPA_SET_VRING_ENABLE");
		if (r < 0)
			return r;
	}
	return set_status(v, v->status | S_DRIVER_OK);
}

static int stop(struct accel_vdpa *v)
{
	int r;

	if (!(v->status & S_DRIVER_OK) || v->suspended)
		return 0;
	/* Without SUSPEND, a reset: no DMA after it, and the rings' state lost. */
	if (!v->can_suspend) {
		r = set_status(v, 0);
		if (r == 0)
			v->reset_stopped = true;
		return r;
	}
	r = xioctl(v, VHOST_VDPA_SUSPEND, NULL, "VHOST_VDPA_SUSPEND");
	if (r == 0)
		v->suspended = true;
	return r;
}

int accel_vdpa_vhost(struct accel_vdpa *v, const struct vv_msg *req, struct vv_msg *ret_reply)
{
	struct vv_msg rep;
	uint64_t u;
	int r = 0;

	vv_reply_init(&rep, req);
	switch (req->request) {
	case VV_REQ_GET_FEATURES:
		r = xioctl(v, VHOST_GET_FEATURES, &u, "VHOST_GET_FEATURES");
		rep.u.u64 = u;
		break;
	case VV_REQ_SET_OWNER:
		if (!v->owner) {
			r = xioctl(v, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
			v->owner = r == 0;
		}
		if (r == 0 && v->status != 0)
			r = reset(v);
		if (r == 0)
			r = set_status(v, S_ACKNOWLEDGE | S_DRIVER);
		break;
	case VV_REQ_RESET_OWNER:
		r = reset(v);
		break;
	case VV_REQ_SET_FEATURES:
		/* No device log; IOVAs always (the IOTLB translates). */
		u = req->u.u64 & ~(UINT64_C(1) << F_LOG_ALL);
		u |= v->features_offered & (UINT64_C(1) << F_ACCESS_PLATFORM);
		if (u & ~v->features_offered)
			return fail(v, -EINVAL, "features 0x%llx not offered by the device (0x%llx)",
				    (unsigned long long)u, (unsigned long long)v->features_offered);
		r = xioctl(v, VHOST_SET_FEATURES, &u, "VHOST_SET_FEATURES");
		if (r == 0)
			r = set_status(v, v->status | S_FEATURES_OK);
		break;
	case VV_REQ_SET_MEM_TABLE:
		break;	/* the IOTLB holds the memory */
	case VV_REQ_SET_LOG_BASE_IOVA:
		return fail(v, -EOPNOTSUPP, "vhost-vdpa devices have no dirty log");
	case VV_REQ_SET_VRING_NUM:
	case VV_REQ_SET_VRING_BASE: {
		struct vhost_vring_state s = { .index = req->u.state.index, .num = req->u.state.num };

		if (s.index >= v->nvrings)
			return fail(v, -ERANGE, "ring %u of %u", s.index, v->nvrings);
		if (req->request == VV_REQ_SET_VRING_NUM && s.num > v->max_ring)
			return fail(v, -EINVAL, "ring %u: size %u is above the device's %u", s.index,
				    s.num, v->max_ring);
		r = xioctl(v, req->request == VV_REQ_SET_VRING_NUM ? VHOST_SET_VRING_NUM :
			   VHOST_SET_VRING_BASE, &s, vv_request_name(req->request));
		break;
	}
	case VV_REQ_SET_VRING_ADDR: {
		struct vhost_vring_addr a = {
			.index = req->u.addr.index,
			.desc_user_addr = req->u.addr.desc_user_addr,
			.used_user_addr = req->u.addr.used_user_addr,
			.avail_user_addr = req->u.addr.avail_user_addr,
		};

		if (a.index >= v->nvrings)
			return fail(v, -ERANGE, "ring %u of %u", a.index, v->nvrings);
		r = xioctl(v, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR");
		if (r == 0)
			v->ring_set[a.index] = true;
		break;
	}
	case VV_REQ_GET_VRING_BASE: {
		struct vhost_vring_state s = { .index = req->u.state.index };

		if (s.index >= v->nvrings)
			return fail(v, -ERANGE, "ring %u of %u", s.index, v->nvrings);
		if (v->reset_stopped)
			return fail(v, -ENODATA, "ring %u: the device was reset to stop it (no SUSPEND): "
				    "its ring state is gone", s.index);
		/* Moving while it runs: the engine's health check expects EBUSY then. */
		if ((v->status & S_DRIVER_OK) && !v->suspended) {
			struct stat sb;
			uint8_t st = 0;

			/*
			 * A device deleted (vdpa dev del, a driver unbound) loses its
			 * node at once, but the kernel waits for our fd to close before
			 * it finishes: the node is how we learn of it.
			 */
			if (stat(v->path, &sb) < 0 || !S_ISCHR(sb.st_mode) || sb.st_rdev != v->rdev)
				return fail(v, -ENODEV, "the device node %s is gone (the vDPA device "
					    "was deleted)", v->path);
			r = xioctl(v, VHOST_VDPA_GET_STATUS, &st, "VHOST_VDPA_GET_STATUS");
			if (r == 0 && (st & (S_NEEDS_RESET | S_FAILED)))
				r = fail(v, -EIO, "device status 0x%02x: it needs a reset", st);
			else if (r == 0)
				r = -EBUSY;
			return r;
		}
		r = xioctl(v, VHOST_GET_VRING_BASE, &s, "VHOST_GET_VRING_BASE");
		if (r == 0 && s.num > 0xffff)
			r = fail(v, -EPROTO, "ring %u: base %u is not a split ring index", s.index,
				 s.num);
		rep.u.state.index = s.index;
		rep.u.state.num = s.num;
		break;
	}
	case VV_REQ_DEVICE_SET_STATE:
		r = req->u.u64 == VV_STATE_START ? start(v) : stop(v);
		break;
	default:
		return fail(v, -EOPNOTSUPP, "%s does not apply to vhost-vdpa",
			    vv_request_name(req->request));
	}
	if (r < 0)
		return r;
	if (ret_reply)
		*ret_reply = rep;
	return 0;
}

int accel_vdpa_cut_off(struct accel_vdpa *v)
{
	uint8_t s = 0;

	if (v->cut)
		return 0;
	/* The kernel resets the device before the ioctl returns: no more DMA. */
	if (ioctl(v->fd, VHOST_VDPA_SET_STATUS, &s) < 0)
		log_err("vhost-vdpa: reset to cut the device off: %s", strerror(errno));
	v->cut = true;
	return 0;
}

static const char *path_of(const struct accel_vdpa *v)
{
	return v->path;
}

bool accel_vdpa_can_suspend(const struct accel_vdpa *v)
{
	return v->can_suspend;
}

static int setup(struct accel_vdpa *v)
{
	uint64_t want, bf = 0;
	uint32_t id = 0, nvqs = 0, csize = 0;
	struct vhost_vdpa_iova_range range = { 0, 0 };
	int r;

	if ((r = xioctl(v, VHOST_VDPA_GET_DEVICE_ID, &id, "VHOST_VDPA_GET_DEVICE_ID")) < 0)
		return r;
	if (id != NET_DEVICE_ID)
		return fail(v, -ENODEV, "virtio device id %u is not a network device", id);
	if ((r = xioctl(v, VHOST_GET_BACKEND_FEATURES, &bf, "VHOST_GET_BACKEND_FEATURES")) < 0)
		return r;
	if (!(bf & (UINT64_C(1) << VDPA_BACKEND_F_IOTLB_MSG_V2)))
		return fail(v, -EOPNOTSUPP, "the device offers no IOTLB_MSG_V2");
	v->can_suspend = (bf >> VDPA_BACKEND_F_SUSPEND) & 1;
	if (!v->can_suspend)
		log_notice("vhost-vdpa: %s offers no SUSPEND: its rings always run through shadow "
			   "rings, and a stop is a reset", path_of(v));
	want = bf & ((UINT64_C(1) << VDPA_BACKEND_F_IOTLB_MSG_V2) |
		     (UINT64_C(1) << VDPA_BACKEND_F_IOTLB_BATCH) |
		     (UINT64_C(1) << VDPA_BACKEND_F_SUSPEND) |
		     (UINT64_C(1) << VDPA_BACKEND_F_RESUME) |
		     (UINT64_C(1) << VDPA_BACKEND_F_IOTLB_PERSIST));
	if ((r = xioctl(v, VHOST_SET_BACKEND_FEATURES, &want, "VHOST_SET_BACKEND_FEATURES")) < 0)
		return r;
	v->backend_features = want;
	if ((r = xioctl(v, VHOST_GET_FEATURES, &v->features_offered, "VHOST_GET_FEATURES")) < 0)
		return r;
	if (!(v->features_offered & (UINT64_C(1) << 32)))
		return fail(v, -EOPNOTSUPP, "the device offers no VIRTIO_F_VERSION_1");
	if ((r = xioctl(v, VHOST_VDPA_GET_VQS_COUNT, &nvqs, "VHOST_VDPA_GET_VQS_COUNT")) < 0)
		return r;
	if (nvqs < v->nvrings)
		return fail(v, -ENODEV, "%u virtqueues for %u rings", nvqs, v->nvrings);
	if ((r = xioctl(v, VHOST_VDPA_GET_VRING_NUM, &v->max_ring, "VHOST_VDPA_GET_VRING_NUM")) < 0)
		return r;
	if (v->max_ring < 2)
		return fail(v, -ENODEV, "the device's rings hold %u descriptors", v->max_ring);
	if ((r = xioctl(v, VHOST_VDPA_GET_IOVA_RANGE, &range, "VHOST_VDPA_GET_IOVA_RANGE")) < 0)
		return r;
	v->range.first = range.first;
	v->range.last = range.last;
	if (v->range.first > v->range.last)
		return fail(v, -ERANGE, "IOVA range 0x%llx-0x%llx is empty",
			    (unsigned long long)range.first, (unsigned long long)range.last);
	if ((r = xioctl(v, VHOST_VDPA_GET_CONFIG_SIZE, &csize, "VHOST_VDPA_GET_CONFIG_SIZE")) < 0)
		return r;
	{
		union {
			struct vhost_vdpa_config h;
			uint8_t bytes[sizeof(struct vhost_vdpa_config) + VDPA_NET_CONFIG_MAX];
		} c;
		struct vdpa_net_config nc;
		struct msg_err verr;

		memset(&c, 0, sizeof(c));
		c.h.len = csize < VDPA_NET_CONFIG_MAX ? csize : VDPA_NET_CONFIG_MAX;
		if ((r = xioctl(v, VHOST_VDPA_GET_CONFIG, &c, "VHOST_VDPA_GET_CONFIG")) < 0)
			return r;
		r = vdpa_net_config_parse(c.h.buf, c.h.len, v->features_offered, &nc, &verr);
		if (r < 0)
			return fail(v, r, "config space: %s", verr.reason);
		log_info("vhost-vdpa: net device, features 0x%llx, backend features 0x%llx, %u "
			 "virtqueues of up to %u, IOVA 0x%llx-0x%llx, mac %02x:%02x:%02x:%02x:%02x:%02x",
			 (unsigned long long)v->features_offered, (unsigned long long)want, nvqs,
			 v->max_ring, (unsigned long long)range.first, (unsigned long long)range.last,
			 nc.mac[0], nc.mac[1], nc.mac[2], nc.mac[3], nc.mac[4], nc.mac[5]);
	}
	if ((r = xioctl(v, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER")) < 0)
		return r;
	v->owner = true;
	if ((r = set_status(v, 0)) < 0)
		return r;
	for (unsigned i = 0; i < v->nvrings; i++) {
		struct vhost_vring_file f = { .index = i };

		v->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick[i] < 0)
			return fail(v, -errno, "eventfd: %s", strerror(errno));
		f.fd = v->kick[i];
		if ((r = xioctl(v, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK")) < 0)
			return r;
	}
	return 0;
}

int accel_vdpa_open(const char *path, unsigned nvrings, struct accel_vdpa **ret, char *err,
		    size_t errlen)
{
	struct accel_vdpa *v;
	int r;

	if (!path[0] || strlen(path) >= sizeof(v->path) || nvrings == 0 || nvrings > NV) {
		snprintf(err, errlen, "device vhost-vdpa:%s: bad path or ring count", path);
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->nvrings = nvrings;
	for (unsigned q = 0; q < NV; q++)
		v->kick[q] = -1;
	strcpy(v->path, path);
	v->fd = open(path, O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "device vhost-vdpa:%s: %s", path, strerror(-r));
		accel_vdpa_close(v);
		return r;
	}
	{
		struct stat sb;

		if (fstat(v->fd, &sb) < 0 || !S_ISCHR(sb.st_mode)) {
			snprintf(err, errlen, "device vhost-vdpa:%s: not a character device", path);
			accel_vdpa_close(v);
			return -ENODEV;
		}
		v->rdev = sb.st_rdev;
	}
	r = setup(v);
	if (r < 0) {
		snprintf(err, errlen, "device vhost-vdpa:%s: %s", path, v->err);
		accel_vdpa_close(v);
		return r;
	}
	*ret = v;
	return 0;
}

void accel_vdpa_close(struct accel_vdpa *v)
{
	if (!v)
		return;
	if (v->fd >= 0) {
		uint8_t s = 0;

		/* Reset first: no DMA into memory about to be unmapped. */
		if (v->owner && !v->cut && ioctl(v->fd, VHOST_VDPA_SET_STATUS, &s) < 0)
			(void)0;
		close(v->fd);	/* the kernel drops every IOTLB entry with it */
	}
	for (unsigned i = 0; i < v->nmaps; i++)
		munmap(v->map[i].va, v->map[i].size);
	for (unsigned q = 0; q < NV; q++)
		if (v->kick[q] >= 0)
			close(v->kick[q]);
	free(v);
}
