// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An accelerator as the agent drives it: vhost requests (protocol/vhost_vfio.h)
 * over one of two carriers: vfio-user ("vfio-user:SOCKET", a unix socket, as
 * vdpa-simd serves: the requests travel through a mailbox region) and the
 * kernel's vhost-vdpa character device ("vhost-vdpa:/dev/vhost-vdpa-N",
 * every vDPA NIC on Linux: the requests become ioctls, accel_vdpa.h).  A
 * kernel VFIO device ("vfio:/sys/bus/mdev/devices/UUID") is refused until
 * it is implemented.
 *
 * Trust boundary: the device's replies are untrusted (a buggy or hostile
 * accelerator); every reply goes through vfu_parse()/vv_parse() and is
 * matched to its request.  A device that stops answering is given
 * ACCEL_DEV_TIMEOUT_MS per request and then treated as dead.
 *
 * The functions block the calling thread for at most that timeout; the
 * agent calls them from the control thread only.
 */
#ifndef VDPA_AGENT_ACCEL_DEV_H
#define VDPA_AGENT_ACCEL_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/vhost_vfio.h"

#define ACCEL_DEV_TIMEOUT_MS 1000
#define ACCEL_DEV_MAX_VRINGS 16

struct accel_dev;

/*
 * Opens the device of a port SPEC's device= value for nvrings rings:
 * connects, checks the version, the regions (mailbox, notify area), the
 * irqs, and takes the doorbell eventfds.  err says why it failed.
 */
int accel_dev_open(const char *spec, unsigned nvrings, struct accel_dev **ret, char *err,
		   size_t errlen);
void accel_dev_close(struct accel_dev *d);

/*
 * The carrier's fd, to watch for the device going away (EPOLLHUP/EPOLLIN);
 * -1 when there is none to watch (vhost-vdpa: the kernel's fd cannot be polled).
 */
int accel_dev_fd(const struct accel_dev *d);
/* Why the last call failed. */
const char *accel_dev_error(const struct accel_dev *d);
/* Log granularity the device announced (bytes per log bit), 4096 if none. */
uint64_t accel_dev_log_granularity(const struct accel_dev *d);
/*
 * Whether the device keeps a dirty log of its own (SET_LOG_BASE_IOVA):
 * vfio-user devices do, vhost-vdpa devices do not (the kernel has none).
 */
bool accel_dev_has_log(const struct accel_dev *d);
/*
 * Whether a stop keeps the rings' state (GET_VRING_BASE answers after it):
 * vfio-user devices' DEVICE_SET_STATE stop and vhost-vdpa's SUSPEND do; a
 * vhost-vdpa device without SUSPEND is stopped by a reset, which does not.
 */
bool accel_dev_can_suspend(const struct accel_dev *d);
/* "vfio-user" or "vhost-vdpa". */
const char *accel_dev_carrier(const struct accel_dev *d);


/* DMA: [iova, iova + size) of the device's address space is fd at offset. */
int accel_dev_dma_map(struct accel_dev *d, uint64_t iova, uint64_t size, int fd,
		      uint64_t offset);
int accel_dev_dma_unmap(struct accel_dev *d, uint64_t iova, uint64_t size);
/*
 * As accel_dev_dma_map(), without waiting for the device (vfio-user: the
 * command is sent, the device maps while we go on; vhost-vdpa: done when
 * it returns).  Its reply is read before any later command's; whether it
 * succeeded, accel_dev_sync() says.
 */
#define ACCEL_DEV_MAX_PENDING 128
int accel_dev_dma_map_nowait(struct accel_dev *d, uint64_t iova, uint64_t size, int fd,
			     uint64_t offset);
/* Waits for every command sent without waiting; 0, or the first one's failure. */
int accel_dev_sync(struct accel_dev *d);
/*
 * The device's fd turned readable while no command waits: 0 when that was
 * replies to commands sent without waiting (those already there are read
 * now, the others at a later call or accel_dev_sync(); a refusal waits for
 * accel_dev_sync()) or nothing any more (read meanwhile); < 0 when the
 * connection closed or broke, or the device spoke unasked.  *ret_awaited:
 * whether replies were due.
 */
int accel_dev_readable(struct accel_dev *d, bool *ret_awaited);
/* Brackets a run of maps and unmaps: one IOTLB batch on vhost-vdpa. */
int accel_dev_dma_batch(struct accel_dev *d, bool begin);

/* Interrupts: fds[i] (an eventfd, or -1 for none) is signalled for vring i. */
int accel_dev_set_irqs(struct accel_dev *d, const int *fds, unsigned n);
/*
 * Vring idx's interrupt alone, to eventfd fd (not -1), while the device
 * runs: no stop, the other vectors untouched.
 */
int accel_dev_set_irq(struct accel_dev *d, unsigned idx, int fd);

/*
 * As accel_dev_set_irq(), without waiting for the device (vfio-user; a
 * refusal waits for accel_dev_sync()), and also before the device runs.
 */
int accel_dev_set_irq_nowait(struct accel_dev *d, unsigned idx, int fd);
/* Vrings first..first+n-1 to fds[0..n) (none -1) so, a few vectors per command. */
int accel_dev_set_irqs_nowait(struct accel_dev *d, unsigned first, const int *fds, unsigned n);
/* One vhost request through the mailbox; *ret_reply when one is due. */
int accel_dev_vhost(struct accel_dev *d, const struct vv_msg *req, struct vv_msg *ret_reply);

/*
 * n vhost requests in order, without waiting for one before sending the
 * next: on vfio-user every mailbox write (and the read of each request
 * that expects a reply) of a burst goes out before the first reply is
 * read, so the burst costs one round trip instead of n; on vhost-vdpa
 * they are ioctls in a row.  replies[i] (when replies is not NULL) gets
 * request i's reply when it expects one.  Returns 0 or the first failure
 * (accel_dev_error() says which request).  After a refusal the device
 * may have carried out later requests of the same burst (vfio-user: they
 * were already sent; their replies are all read, so the connection stays
 * usable), none after it: its configuration must be taken as unknown.  A
 * reply that never came or does not match leaves the connection out of
 * step: every later command then fails at once.
 */
int accel_dev_vhost_many(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			 struct vv_msg *replies);
/*
 * Whether reqs[0..n) go in one mailbox write to a device that carries out
 * a request flagged VV_FLAG_IF_OK only after every one before it in the
 * write succeeded ("mailbox_if_ok", protocol/vhost_vfio.h): then
 * accel_dev_vhost_run() of them, without interrupts, is one round trip
 * whose last request runs only on a configuration taken whole.  False on
 * vhost-vdpa (ioctls: the first failure ends the run anyway).
 */
bool accel_dev_one_conditional_write(struct accel_dev *d, const struct vv_msg *reqs,
				     unsigned n);
/*
 * accel_dev_vhost_many(), and with calls (not NULL) the interrupts as
 * accel_dev_set_irqs() would set them, in the last burst: one round trip
 * for a configuration of up to 32 requests and its interrupts.  On
 * failure *ret_done (optional) says how many requests from the first
 * succeeded (n: the interrupts failed).
 */
int accel_dev_vhost_run(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			struct vv_msg *replies, const int *calls, unsigned ncalls,
			unsigned *ret_done);

/*
 * reqs[0..n) in order, without waiting for any reply (vfio-user: sent in
 * one go, the device carries them out while we go on; vhost-vdpa: ioctls,
 * done when it returns, the first failure returned).  Their replies are
 * read before any later command's, and as they come when the device's fd
 * turns readable (accel_dev_readable()); whether every one succeeded,
 * accel_dev_sync() says.  After a refusal the device's configuration must
 * be taken as unknown, as after accel_dev_vhost_many().
 */
int accel_dev_vhost_nowait(struct accel_dev *d, const struct vv_msg *reqs, unsigned n);
/*
 * Between accel_dev_cork(d) and accel_dev_uncork(d), what is sent
 * without waiting gathers and goes in as few sends as the fds allow (one
 * command with fds per send, at its start: send those first); returns
 * whether it was corked already.  accel_dev_uncork() sends it: 0, or the
 * send's failure (the connection is then out of step).
 */
bool accel_dev_cork(struct accel_dev *d);
int accel_dev_uncork(struct accel_dev *d);
/*
 * Cuts the device off: our end of the connection is shut down (the device
 * sees it close; a vfio-user server must then end its DMA into our
 * memory and close its end), and we wait up to timeout_ms for its end to
 * close.  0 once it did: the device writes nothing more.  -ETIMEDOUT when
 * it did not (it may still write).  Every later request fails with
 * -ENOTCONN.  A second call answers what the first found.  (A kernel VFIO
 * device, once supported, would be reset here instead.)
 */
int accel_dev_cut_off(struct accel_dev *d, int timeout_ms);

/* The doorbell of vring q: an eventfd whose write rings it. */
int accel_dev_doorbell_fd(const struct accel_dev *d, unsigned q);

#endif
