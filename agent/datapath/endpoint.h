/*
 * Where a port's frames go on the host side: a tap interface, nowhere
 * (null: count and drop), or back to the guest (loop: MACs swapped).
 *
 * One queue per queue pair.  A queue is used by one data-path thread only,
 * so queues need no locking; the RX side is pollable through
 * endpoint_rx_fd() (a tap fd or, for loop, an eventfd that is readable while
 * frames wait).
 */
#ifndef VDPA_AGENT_ENDPOINT_H
#define VDPA_AGENT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/common/config.h"

#define ENDPOINT_MAX_FRAME 65536
#define ENDPOINT_LOOP_DEPTH 64

struct endpoint;

/*
 * Opens the endpoint of a port with nqueues queues.  For a tap endpoint
 * the interface is created, or attached to when it exists (a persistent tap
 * made by the operator), multi-queue when nqueues > 1.  Errors name what
 * failed in err.
 */
int endpoint_open(enum port_endpoint kind, const char *ifname, unsigned nqueues,
		  struct endpoint **ret, char *err, size_t errlen);
void endpoint_close(struct endpoint *ep);

/* A frame the guest sent; -EAGAIN when the host side cannot take it now. */
int endpoint_send(struct endpoint *ep, unsigned q, const uint8_t *frame, size_t len);
/* A frame for the guest: its length, -EAGAIN when none waits. */
ssize_t endpoint_recv(struct endpoint *ep, unsigned q, uint8_t *buf, size_t cap);
/* Pollable for "a frame waits" (EPOLLIN); -1 when the endpoint never has any. */
int endpoint_rx_fd(const struct endpoint *ep, unsigned q);
/*
 * Link state towards the host: a tap's carrier is off while no guest
 * receives on the port, so a bridge does not queue frames for it that would
 * reach the guest late (stale, after a migration back) or never.
 */
int endpoint_set_carrier(struct endpoint *ep, bool on);
/* Drops every frame waiting on queue q (before a receive ring starts). */
unsigned endpoint_drain(struct endpoint *ep, unsigned q);

/* Announces mac on the host side (RARP, as QEMU's announce does). */
int endpoint_send_rarp(struct endpoint *ep, const uint8_t mac[6]);

/* Builds the 60-byte RARP request QEMU sends on announce; used by tests too. */
size_t endpoint_build_rarp(const uint8_t mac[6], uint8_t buf[60]);

#endif
