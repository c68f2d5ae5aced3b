/*
 * Endpoints: tap via /dev/net/tun, null, and loop.  See endpoint.h.
 *
 * Frames from the guest (send) are whatever the guest's driver put in its
 * TX buffers; the endpoint treats them as opaque bytes with a length bound.
 */
#include "agent/datapath/endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct loop_queue {
	int efd;		/* readable while frames wait */
	unsigned head, count;
	uint16_t len[ENDPOINT_LOOP_DEPTH];
	uint8_t *frames;	/* ENDPOINT_LOOP_DEPTH * ENDPOINT_MAX_FRAME */
};

struct endpoint {
	enum port_endpoint kind;
	unsigned nqueues;
	int tap_fd[PORT_QUEUES_MAX];
	struct loop_queue *lq;	/* loop: nqueues of them */
};

static int fail(char *err, size_t errlen, int e, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-e));
	return e;
}

static int tap_open(const char *ifname, bool multi, int *ret_fd, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "open /dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = -errno;
		close(fd);
		snprintf(err, errlen, "tap %s: TUNSETIFF: %s%s", ifname, strerror(-e),
			 e == -EINVAL ? " (an existing interface of another kind or queue mode?)" : "");
		return e;
	}
	*ret_fd = fd;
	return 0;
}

int endpoint_open(enum port_endpoint kind, const char *ifname, unsigned nqueues,
		  struct endpoint **ret, char *err, size_t errlen)
{
	struct endpoint *ep;
	int e = 0;

	if (nqueues == 0 || nqueues > PORT_QUEUES_MAX)
		return fail(err, errlen, -EINVAL, "endpoint queues");
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->kind = kind;
	ep->nqueues = nqueues;
	for (unsigned q = 0; q < PORT_QUEUES_MAX; q++)
		ep->tap_fd[q] = -1;

	switch (kind) {
	case PORT_ENDPOINT_TAP:
		for (unsigned q = 0; q < nqueues && e == 0; q++)
			e = tap_open(ifname, nqueues > 1, &ep->tap_fd[q], err, errlen);
		break;
	case PORT_ENDPOINT_LOOP:
		ep->lq = calloc(nqueues, sizeof(*ep->lq));
		if (!ep->lq) {
			e = -ENOMEM;
			break;
		}
		for (unsigned q = 0; q < nqueues; q++)
			ep->lq[q].efd = -1;
		for (unsigned q = 0; q < nqueues && e == 0; q++) {
			ep->lq[q].frames = malloc((size_t)ENDPOINT_LOOP_DEPTH * ENDPOINT_MAX_FRAME);
			ep->lq[q].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (!ep->lq[q].frames)
				e = -ENOMEM;
			else if (ep->lq[q].efd < 0)
				e = fail(err, errlen, -errno, "eventfd");
		}
		break;
	case PORT_ENDPOINT_NULL:
		break;
	}
	if (e < 0) {
		endpoint_close(ep);
		return e;
	}
	*ret = ep;
	return 0;
}

void endpoint_close(struct endpoint *ep)
{
	if (!ep)
		return;
	for (unsigned q = 0; q < PORT_QUEUES_MAX; q++)
		if (ep->tap_fd[q] >= 0)
			close(ep->tap_fd[q]);
	if (ep->lq) {
		for (unsigned q = 0; q < ep->nqueues; q++) {
			if (ep->lq[q].efd >= 0)
				close(ep->lq[q].efd);
			free(ep->lq[q].frames);
		}
		free(ep->lq);
	}
	free(ep);
}

int endpoint_send(struct endpoint *ep, unsigned q, const uint8_t *frame, size_t len)
{
	struct loop_queue *lq;
	uint8_t *slot;
	uint64_t one = 1;

	if (q >= ep->nqueues || len > ENDPOINT_MAX_FRAME)
		return -EINVAL;
	switch (ep->kind) {
	case PORT_ENDPOINT_NULL:
		return 0;
	case PORT_ENDPOINT_TAP:
		if (write(ep->tap_fd[q], frame, len) < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return 0;
	case PORT_ENDPOINT_LOOP:
		lq = &ep->lq[q];
		if (lq->count == ENDPOINT_LOOP_DEPTH)
			return -EAGAIN;
		slot = lq->frames + (size_t)((lq->head + lq->count) % ENDPOINT_LOOP_DEPTH) *
					    ENDPOINT_MAX_FRAME;
		memcpy(slot, frame, len);
		/* Back to the sender: destination and source MAC swap places. */
		if (len >= 12) {
			memcpy(slot, frame + 6, 6);
			memcpy(slot + 6, frame, 6);
		}
		lq->len[(lq->head + lq->count) % ENDPOINT_LOOP_DEPTH] = (uint16_t)len;
		lq->count++;
		if (lq->count == 1 && write(lq->efd, &one, sizeof(one)) < 0)
			return -errno;
		return 0;
	}
	return -EINVAL;
}

ssize_t endpoint_recv(struct endpoint *ep, unsigned q, uint8_t *buf, size_t cap)
{
	struct loop_queue *lq;
	uint64_t v;
	ssize_t n;
	size_t len;

	if (q >= ep->nqueues)
		return -EINVAL;
	switch (ep->kind) {
	case PORT_ENDPOINT_NULL:
		return -EAGAIN;
	case PORT_ENDPOINT_TAP:
		n = read(ep->tap_fd[q], buf, cap);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return n;
	case PORT_ENDPOINT_LOOP:
		lq = &ep->lq[q];
		if (lq->count == 0)
			return -EAGAIN;
		len = lq->len[lq->head];
		if (len > cap)
			len = cap;
		memcpy(buf, lq->frames + (size_t)lq->head * ENDPOINT_MAX_FRAME, len);
		lq->head = (lq->head + 1) % ENDPOINT_LOOP_DEPTH;
		lq->count--;
		if (lq->count == 0 && read(lq->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		return (ssize_t)len;
	}
	return -EINVAL;
}

int endpoint_rx_fd(const struct endpoint *ep, unsigned q)
{
	if (q >= ep->nqueues)
		return -1;
	switch (ep->kind) {
	case PORT_ENDPOINT_TAP:
		return ep->tap_fd[q];
	case PORT_ENDPOINT_LOOP:
		return ep->lq[q].efd;
	case PORT_ENDPOINT_NULL:
		break;
	}
	return -1;
}

int endpoint_set_carrier(struct endpoint *ep, bool on)
{
	int v = on;

	if (ep->kind != PORT_ENDPOINT_TAP)
		return 0;
	return ioctl(ep->tap_fd[0], TUNSETCARRIER, &v) < 0 ? -errno : 0;
}

unsigned endpoint_drain(struct endpoint *ep, unsigned q)
{
	static uint8_t sink[ENDPOINT_MAX_FRAME];
	unsigned n = 0;

	/* Bounded: a flood arriving meanwhile must not keep us here. */
	while (n < 100000 && endpoint_recv(ep, q, sink, sizeof(sink)) >= 0)
		n++;
	return n;
}

size_t endpoint_build_rarp(const uint8_t mac[6], uint8_t buf[60])
{
	static const uint8_t head[] = {
		0x80, 0x35,		/* ethertype RARP */
		0x00, 0x01,		/* hardware: Ethernet */
		0x08, 0x00,		/* protocol: IPv4 */
		0x06, 0x04,		/* address lengths */
		0x00, 0x03,		/* opcode: reverse request */
	};

	memset(buf, 0, 60);
	memset(buf, 0xff, 6);			/* broadcast */
	memcpy(buf + 6, mac, 6);
	memcpy(buf + 12, head, sizeof(head));
	memcpy(buf + 22, mac, 6);		/* sender hardware address */
	memcpy(buf + 32, mac, 6);		/* target hardware address */
	return 60;
}

int endpoint_send_rarp(struct endpoint *ep, const uint8_t mac[6])
{
	uint8_t frame[60];
	size_t len = endpoint_build_rarp(mac, frame);

	/* The guest is the one announcing: only the host side hears it. */
	if (ep->kind != PORT_ENDPOINT_TAP)
		return 0;
	return endpoint_send(ep, 0, frame, len);
}
