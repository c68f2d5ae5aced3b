// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel vhost-vdpa carrier of an accelerator (device=vhost-vdpa:PATH):
 * how every vDPA NIC on Linux is driven from userspace, through its
 * /dev/vhost-vdpa-N character device.  accel_dev.c forwards to it; the
 * engine sees the same vhost requests (struct vv_msg) as over vfio-user,
 * translated here into ioctls:
 *
 *   SET_OWNER        VHOST_SET_OWNER once per open, then a device reset and
 *                    status ACKNOWLEDGE | DRIVER
 *   RESET_OWNER      a device reset (status 0): the device forgets its
 *                    rings; mappings stay (IOTLB_PERSIST, or replayed here)
 *   SET_FEATURES     VHOST_SET_FEATURES without VHOST_F_LOG_ALL (no device
 *                    log) and with ACCESS_PLATFORM when offered (every
 *                    address is an IOVA), then FEATURES_OK
 *   SET_MEM_TABLE    nothing: the memory is in the IOTLB (dma_map)
 *   SET_LOG_BASE_IOVA  -EOPNOTSUPP: the kernel offers no dirty log
 *   SET_VRING_*      the same ioctls (IOVAs); GET_VRING_BASE answers -EBUSY
 *                    while the device runs (it is read after a suspend)
 *   DEVICE_SET_STATE start: VHOST_VDPA_SET_VRING_ENABLE for each ring set
 *                    up, then DRIVER_OK (or RESUME after a suspend); stop:
 *                    VHOST_VDPA_SUSPEND, after which the device does no DMA
 *                    and its rings' state is exact
 *
 * DMA mappings are IOTLB V2 messages written to the fd
 * (protocol/vhost_vdpa.h), batched when the device offers IOTLB_BATCH;
 * the memory is mapped here from (fd, offset) with MAP_SHARED.  Kicks are
 * eventfds set with VHOST_SET_VRING_KICK; call fds go to the device with
 * VHOST_SET_VRING_CALL.  A device without SUSPEND is stopped by a reset,
 * which loses its rings' state: GET_VRING_BASE then fails (ENODATA), and
 * the engine runs such a device on shadow rings only, whose indexes it
 * keeps itself (accel_dev_can_suspend()).
 *
 * Trust boundary: what the kernel returns (features, config space, IOVA
 * range, messages read from the fd) is checked before use.
 */
#ifndef VDPA_AGENT_ACCEL_VDPA_H
#define VDPA_AGENT_ACCEL_VDPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/vhost_vfio.h"

struct accel_vdpa;

/* Opens path for nvrings rings; err says why it failed. */
int accel_vdpa_open(const char *path, unsigned nvrings, struct accel_vdpa **ret, char *err,
		    size_t errlen);
void accel_vdpa_close(struct accel_vdpa *v);
int accel_vdpa_fd(const struct accel_vdpa *v);
const char *accel_vdpa_error(const struct accel_vdpa *v);
int accel_vdpa_dma_map(struct accel_vdpa *v, uint64_t iova, uint64_t size, int fd,
		       uint64_t offset);
int accel_vdpa_dma_unmap(struct accel_vdpa *v, uint64_t iova, uint64_t size);
/* Brackets a run of maps and unmaps (one IOTLB batch when offered). */
int accel_vdpa_dma_batch(struct accel_vdpa *v, bool begin);
int accel_vdpa_set_irqs(struct accel_vdpa *v, const int *fds, unsigned n);
/* Ring idx's call eventfd, the device running or not. */
int accel_vdpa_set_irq(struct accel_vdpa *v, unsigned idx, int fd);
int accel_vdpa_vhost(struct accel_vdpa *v, const struct vv_msg *req, struct vv_msg *ret_reply);
/* A device reset: no DMA after it returns.  0 (a second call too). */
int accel_vdpa_cut_off(struct accel_vdpa *v);
int accel_vdpa_doorbell_fd(const struct accel_vdpa *v, unsigned q);
/* Whether the device offers SUSPEND (else a stop is a reset). */
bool accel_vdpa_can_suspend(const struct accel_vdpa *v);

#endif
