// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-simd: a simulated VRING-capable virtio-net accelerator, served over
 * vfio-user (see vdpa-simd(8)).  This header is private to the program:
 * the device state shared by its four parts.
 *
 *   vdpa_simd.c  main: options, the listening socket, one client at a time
 *   vfu_server.c the vfio-user commands: regions, doorbells, irqs, DMA maps
 *   vhost_dev.c  the vhost requests of the mailbox, device start/stop/fail
 *   datapath.c   one worker thread per queue pair moving frames by "DMA"
 *
 * Threads: the main thread owns everything below and runs every command.
 * The workers run only between simd_workers_start() and simd_workers_stop()
 * and then touch nothing but their own two rings (vq), the data-path view of
 * memory (mem), the log and the call fds, all of which the main thread
 * changes only while the workers are stopped.  So a stop request that
 * returns means no DMA is in flight and none will happen.
 *
 * Names are simd_*, the program's own; it links the data path it shares
 * with the agent (agent/datapath/, agent/common/), never the daemon.
 */
#ifndef VDPA_SIMD_SIMD_H
#define VDPA_SIMD_SIMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/common/config.h"
#include "agent/datapath/endpoint.h"
#include "agent/datapath/guest_mem.h"
#include "agent/datapath/virtqueue.h"
#include "dirtylog/dirtylog.h"
#include "protocol/vfio_user.h"
#include "protocol/vhost_vfio.h"

#define SIMD_MAX_QP 32u                 /* 2 * 32 doorbell fds: one vfio-user message */
#define SIMD_MAX_VRINGS (2u * SIMD_MAX_QP)
#define SIMD_MAX_DMA 32u                /* DMA_MAP ranges kept at once */
#define SIMD_MAILBOX_SIZE 4096u         /* region 0 */
#define SIMD_IRQ_INDEX 0u               /* the one irq index: a vector per vring */

_Static_assert(SIMD_MAILBOX_SIZE >= VV_MAX_MSG, "the mailbox holds the largest request");
_Static_assert(SIMD_MAX_VRINGS <= VFU_MAX_SUBREGIONS && SIMD_MAX_VRINGS <= VFU_MAX_IRQS,
	       "one doorbell and one vector per vring fit a vfio-user message");

/* Exit codes, in vdpa-simd(8). */
enum {
	SIMD_EXIT_OK = 0,
	SIMD_EXIT_FAILURE = 1,  /* socket, wire or thread set-up failed */
	SIMD_EXIT_USAGE = 2,
	SIMD_EXIT_FAULT = 3,    /* --fault die-after-packets=N fired */
};

struct simd_options {
	const char *socket;
	enum port_endpoint wire;
	const char *ifname;             /* wire tap:IFNAME */
	unsigned log_shift;             /* --log-granularity, log2 */
	unsigned queues;                /* queue pairs */
	uint64_t die_after;             /* 0: off */
	unsigned stall_ms;              /* 0: off */
};

/* One DMA_MAP: the client's fd, mapped here, at an IOVA range. */
struct simd_dma {
	uint64_t iova;
	uint64_t size;
	uint64_t offset;                /* into fd */
	uint32_t flags;                 /* VFU_DMA_READ / VFU_DMA_WRITE */
	int fd;
	uint8_t *hva;                   /* mmap of [offset, offset + size) */
};

struct simd_ring {
	/* Configuration from the mailbox; the workers read it only at start. */
	bool has_num, has_addr;
	unsigned num;
	struct vv_vring_addr addr;
	uint16_t base;                  /* next avail index while stopped */
	int call_fd;                    /* irq vector (SET_IRQS), -1 if none */
	int kick_fd;                    /* doorbell: ours, handed out by IO_FDS */

	/* Data-path state, owned by the ring's worker while the device runs. */
	bool started;
	bool err_reported;
	struct vq vq;
};

struct simd_dev;

struct simd_worker {
	struct simd_dev *d;
	unsigned qp;
	/*
	 * The thread is made at the first start and parks between a stop and
	 * the next start (under mu): a device start or stop is no thread
	 * creation or join.
	 */
	pthread_t thread;
	bool thread_made;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool go;                        /* start serving (under mu) */
	bool parked;                    /* not serving (under mu) */
	bool quit;                      /* leave the thread (under mu) */
	bool asleep;                    /* in its poll, touching nothing (under mu) */
	bool let_go;                    /* a stop found it asleep: it parks on waking (under mu) */
	bool wake;                      /* told to go, not yet woken (main thread) */
	bool kick_later;                /* let go asleep, its stop eventfd not yet written */
	bool running;                   /* started, not yet stopped */
	bool stop;                      /* atomic: asked to stop serving */
	int stop_efd;

	size_t hdr_len;
	bool mergeable;
	bool logging;
	struct vq_logger logger;
	struct dirtylog_cache cache;
	uint64_t log_errors;

	uint8_t *txbuf;
	uint8_t *rxbuf;
	size_t rx_len;
	bool rx_pending;                /* a wire frame waits for RX buffers */
};

enum simd_state {
	SIMD_STOPPED = 0,
	SIMD_RUNNING = 1,
	SIMD_FAILED = 2,                /* stopped itself on an error, until a stop request */
};

struct simd_dev {
	const struct simd_options *opt;
	struct endpoint *ep;
	unsigned nqp, nvrings;
	char who[32];                   /* "client N", for log lines */

	/* vfio-user */
	bool version_ok;
	struct simd_dma dma[SIMD_MAX_DMA];
	unsigned ndma;

	/* vhost */
	bool owner;
	uint64_t features;
	unsigned nmt;                   /* SET_MEM_TABLE regions, 0 if none yet */
	struct vv_mem_region mt[VV_MAX_MEM_REGIONS];
	bool log_set;
	struct vv_log log;
	struct dirtylog *dlog;          /* over the log's DMA mapping */
	enum simd_state state;
	char fail_reason[160];
	struct simd_ring ring[SIMD_MAX_VRINGS];
	struct guest_mem mem;           /* data-path view, built at start */
	struct guest_mem mem_old;       /* a stop's, unmapped after its reply (simd_dev_after_replies()) */

	/* the mailbox's pending reply */
	uint8_t mbox_reply[SIMD_MAILBOX_SIZE];  /* the replies of the last write, back to back */
	uint64_t mbox_writes, mbox_requests;     /* mailbox writes, and the requests they ran */
	size_t mbox_reply_len;

	struct simd_worker w[SIMD_MAX_QP];
};

/* Virtio feature bits the device offers. */
#define SIMD_F_MRG_RXBUF 15
#define SIMD_F_MQ 22
#define SIMD_F_LOG_ALL 26
#define SIMD_F_INDIRECT_DESC 28
#define SIMD_F_EVENT_IDX 29
#define SIMD_F_VERSION_1 32
#define SIMD_BIT(b) (UINT64_C(1) << (b))

/* vhost_dev.c */
int simd_dev_init(struct simd_dev *d, const struct simd_options *opt, struct endpoint *ep);
void simd_dev_destroy(struct simd_dev *d);
/* Back to power-on state between clients: stops, unmaps, closes, new doorbells. */
int simd_dev_reset(struct simd_dev *d);
uint64_t simd_dev_features(const struct simd_dev *d);
/*
 * Executes what a mailbox write holds (len bytes at offset 0 of region 0):
 * one request, or a batch of them (protocol/vhost_vfio.h); their replies
 * wait in mbox_reply for the read.
 */
int simd_mailbox_write(struct simd_dev *d, const uint8_t *buf, size_t len);
/* Stops the device on an error of its own (DMA_UNMAP under a running ring). */
void simd_dev_fail(struct simd_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pause/resume the workers around a change they read (irqs, log). */
bool simd_dev_pause(struct simd_dev *d);
int simd_dev_resume(struct simd_dev *d, bool was_running);
/* Whether the running device uses [iova, iova + size): rings' memory or the log. */
bool simd_dev_uses(const struct simd_dev *d, uint64_t iova, uint64_t size);
/* Drops the log (its DMA mapping goes away); call with the workers stopped. */
void simd_dev_drop_log(struct simd_dev *d);

/* vfu_server.c */
struct simd_dma *simd_dma_find(struct simd_dev *d, uint64_t iova, uint64_t size);
/* Whether [iova, iova + size) is wholly DMA-mapped with flags (in one or more maps). */
bool simd_dma_covers(struct simd_dev *d, uint64_t iova, uint64_t size, uint32_t flags);
void simd_dma_clear(struct simd_dev *d);
/* Serves one connected client until it leaves; returns <0 on a socket error. */
int simd_serve(struct simd_dev *d, int sock, int listen_fd, volatile int *quit);

/* datapath.c */
int simd_workers_start(struct simd_dev *d);
void simd_workers_stop(struct simd_dev *d);
/*
 * After a command's reply is sent: wakes the workers a start told to go,
 * and those a stop let go asleep (they leave their poll and park).
 */
void simd_workers_release(struct simd_dev *d);
/*
 * After the replies to the commands that came together are sent: the
 * workers go (simd_workers_release()), and the guest memory a stop
 * dropped is unmapped.
 */
void simd_dev_after_replies(struct simd_dev *d);
void simd_worker_init(struct simd_worker *w, struct simd_dev *d, unsigned qp);
void simd_worker_destroy(struct simd_worker *w);

#endif
