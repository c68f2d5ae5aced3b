// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit test for contrib/vdpa-simd/datapath.c, the simulated accelerator's
 * data path.  The program is not a library, so its file is compiled in
 * here whole; the test drives one worker's steps on the calling thread
 * (deterministic: no race with a thread that may or may not have gone
 * idle), with a loop endpoint as the wire.
 */
#include "contrib/vdpa-simd/datapath.c"

#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/helpers/testhelp.h"

#define MEM_SIZE 0x100000ull
#define UVA 0x10000000ull
#define DESC 0x0000ull
#define AVAIL 0x1000ull
#define USED 0x2000ull
#define RX_BUF 0x50000ull
#define NUM 8u

/*
 * The device writes part of a frame into the only receive buffer, finds
 * no second one and gives the first back (-EAGAIN): the marks of that
 * write are in the worker's cache, no used index published them.  When
 * the worker stops serving (a device stop: GET_VRING_BASE, a new log, the client
 * going away), they must be in the log; the final harvest reads it next.
 */
static void worker_exit_flushes_marks(void **state)
{
	static struct simd_dev d;
	struct simd_options opt = { .queues = 1 };
	struct simd_worker *w = &d.w[0];
	struct simd_ring *rx = &d.ring[0];
	uint8_t frame[1000];
	uint8_t *p;
	uint16_t *avail, flags = htole16(2 /* WRITE */);
	uint64_t addr = htole64(RX_BUF);
	uint32_t len = htole32(VNET_HDR_LEN + 100);
	char err[128];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.opt = &opt;
	d.nqp = 1;
	d.nvrings = 2;
	d.features = SIMD_BIT(SIMD_F_VERSION_1) | SIMD_BIT(SIMD_F_MRG_RXBUF) |
		     SIMD_BIT(SIMD_F_LOG_ALL);
	assert_int_equal(endpoint_open(PORT_ENDPOINT_LOOP, NULL, 1, &d.ep, err, sizeof(err)), 0);
	guest_mem_init(&d.mem);
	assert_int_equal(th_guest_region(&d.mem, 0, MEM_SIZE, UVA), 0);
	assert_int_equal(dirtylog_new(MEM_SIZE, DIRTYLOG_QEMU_PAGE_SHIFT, &d.dlog), 0);

	/* One writable buffer of 100 bytes after the header, offered. */
	p = guest_mem_gpa_range(&d.mem, DESC, 16);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	avail = guest_mem_gpa_range(&d.mem, AVAIL, 4 + 2 * NUM);
	avail[2] = 0;
	avail[1] = htole16(1);
	vq_init(&rx->vq);
	assert_int_equal(vq_setup(&rx->vq, &d.mem, NUM, UVA + DESC, UVA + AVAIL, UVA + USED, 0, 0,
				  0), 0);
	rx->started = true;
	rx->call_fd = rx->kick_fd = -1;

	/* worker_start() without the thread. */
	simd_worker_init(w, &d, 0);
	w->rxbuf = malloc(ENDPOINT_MAX_FRAME);
	assert_non_null(w->rxbuf);
	w->hdr_len = VNET_HDR_LEN;
	w->mergeable = true;
	w->logging = true;
	dirtylog_cache_init(&w->cache, d.dlog);
	vq_set_logger(&rx->vq, &w->logger);

	memset(frame, 0x5a, sizeof(frame));
	assert_int_equal(endpoint_send(d.ep, 0, frame, sizeof(frame)), 0);
	assert_int_equal(do_rx(w), 0);
	assert_true(w->rx_pending);
	p = guest_mem_gpa_range(&d.mem, RX_BUF, VNET_HDR_LEN + 100);
	assert_int_equal(p[VNET_HDR_LEN], 0x5a);	/* written, not published */

	/* Asked to stop before its next round: it stops serving at once. */
	w->stop = true;
	serve(w);
	assert_true(dirtylog_test_page(d.dlog, RX_BUF >> 12));

	simd_worker_destroy(w);
	dirtylog_free(d.dlog);
	guest_mem_clear(&d.mem);
	endpoint_close(d.ep);
}

/*
 * A stop that finds the worker asleep in its poll (where it touches
 * nothing) lets it go without waiting for it to wake, and wakes it only
 * after the reply: on a busy host that wait was a thread's scheduling
 * inside the switchover, and a wake-up an inter-processor interrupt.  The worker, once
 * awake, must not touch a ring (the rings and guest memory may be gone by
 * then), and a worker asked to stop before it sleeps does not sleep.
 * Here no thread runs the worker: a stop that waited would never return.
 */
static void stop_lets_an_asleep_worker_go(void **state)
{
	static struct simd_dev d;
	struct simd_worker *w = &d.w[0];

	(void)state;
	memset(&d, 0, sizeof(d));
	simd_worker_init(w, &d, 0);
	w->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(w->stop_efd >= 0);
	d.nqp = 1;
	w->running = true;
	assert_true(go_to_sleep(w));	/* what serve() does before its poll */
	worker_stop(w);
	assert_false(w->running);
	/* Woken only once the reply is out (simd_workers_release()). */
	assert_int_equal(poll(&(struct pollfd){ .fd = w->stop_efd, .events = POLLIN }, 1, 0), 0);
	simd_workers_release(&d);
	assert_int_equal(poll(&(struct pollfd){ .fd = w->stop_efd, .events = POLLIN }, 1, 0), 1);
	assert_false(wake_up(w));	/* let go: it leaves serve() at once */

	w->let_go = false;
	w->running = true;
	w->stop = false;
	assert_true(go_to_sleep(w));
	assert_true(wake_up(w));	/* not stopped: it serves on */
	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	assert_false(go_to_sleep(w));	/* asked to stop: it does not sleep */
	w->running = false;
	simd_worker_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(worker_exit_flushes_marks),
		cmocka_unit_test(stop_lets_an_asleep_worker_go),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
