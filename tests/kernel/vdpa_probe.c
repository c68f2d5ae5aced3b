// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa_probe DEVICE: opens a vhost-vdpa character device and asks it, with
 * read-only vhost and vhost-vdpa ioctls (the Linux uAPI, <linux/vhost.h>),
 * what it is: device id, features, backend features, queue count, ring
 * size, status, config size and the MAC from the config space.  One line on
 * stdout; exit 1 with the failing request named when one fails.  Static,
 * for the initramfs of tests/kernel/boot-vdpa-sim.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>

#define ASK(req, arg)                                          \
	do {                                                   \
		if (ioctl(fd, req, arg) < 0) {                 \
			perror(#req);                          \
			return 1;                              \
		}                                              \
	} while (0)

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/vhost-vdpa-0";
	uint64_t features = 0, backend = 0;
	uint32_t devid = 0, nvqs = 0, cfgsize = 0;
	uint16_t vqnum = 0;
	uint8_t status = 0xff;
	struct vhost_vdpa_config *cfg;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		return 1;
	}
	ASK(VHOST_SET_OWNER, NULL);
	ASK(VHOST_VDPA_GET_DEVICE_ID, &devid);
	ASK(VHOST_GET_FEATURES, &features);
	ASK(VHOST_GET_BACKEND_FEATURES, &backend);
	ASK(VHOST_VDPA_GET_VQS_COUNT, &nvqs);
	ASK(VHOST_VDPA_GET_VRING_NUM, &vqnum);
	ASK(VHOST_VDPA_GET_STATUS, &status);
	ASK(VHOST_VDPA_GET_CONFIG_SIZE, &cfgsize);
	cfg = calloc(1, sizeof(*cfg) + 6);
	if (!cfg)
		return 1;
	cfg->off = 0;	/* virtio_net_config: mac[6] first */
	cfg->len = 6;
	ASK(VHOST_VDPA_GET_CONFIG, cfg);
	printf("probe %s: device_id=%u features=0x%016llx backend_features=0x%llx vqs=%u "
	       "vring_num=%u status=0x%02x config_size=%u mac=%02x:%02x:%02x:%02x:%02x:%02x\n",
	       path, devid, (unsigned long long)features, (unsigned long long)backend, nvqs,
	       vqnum, status, cfgsize, cfg->buf[0], cfg->buf[1], cfg->buf[2], cfg->buf[3],
	       cfg->buf[4], cfg->buf[5]);
	free(cfg);
	close(fd);
	return 0;
}
