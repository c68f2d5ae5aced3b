// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit test for the simulated accelerator's mailbox batches
 * (protocol/vhost_vfio.h) and for the agent's vfio-user client using them
 * (agent/daemon/accel_dev.c): the device runs a batch's requests in order,
 * every one, and refuses a batch it cannot answer whole before running any
 * of it; the client packs a flight into one write and one read, and still
 * says which request the device refused.  The program is not a library:
 * its three files are compiled in here whole (without its main), and the
 * client talks to it over a real socket, served on a thread.
 */
#include "contrib/vdpa-simd/datapath.c"
#include "contrib/vdpa-simd/vfu_server.c"
#include "contrib/vdpa-simd/vhost_dev.c"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "agent/daemon/accel_dev.h"

static struct simd_options opt = { .queues = 1, .log_shift = 12 };

/* A device of one queue pair, its wire null, as vdpa-simd's main makes it. */
static struct simd_dev *dev_new(struct endpoint **ep)
{
	struct simd_dev *d = calloc(1, sizeof(*d));
	char err[128];

	assert_non_null(d);
	assert_int_equal(endpoint_open(PORT_ENDPOINT_NULL, NULL, 1, ep, err, sizeof(err)), 0);
	assert_int_equal(simd_dev_init(d, &opt, *ep), 0);
	return d;
}

static void dev_free(struct simd_dev *d, struct endpoint *ep)
{
	simd_dev_destroy(d);
	endpoint_close(ep);
	free(d);
}

/* req encoded at the end of the len bytes at buf. */
static void put(uint8_t *buf, size_t *len, uint64_t request, uint32_t flags, unsigned ring,
		unsigned num)
{
	struct vv_parse_ctx ctx = { .max_vrings = 2 };
	struct vv_msg m;
	size_t n;

	vv_msg_init(&m, request, flags);
	if (request == VV_REQ_SET_VRING_NUM || request == VV_REQ_GET_VRING_BASE)
		m.u.state = (struct vv_vring_state){ ring, num };
	assert_int_equal(vv_encode(&m, &ctx, buf + *len, 4096 - *len, &n, NULL), 0);
	*len += n;
}

/* The i-th reply (VV_REPLY_SIZE each) of the last write: its status. */
static int reply_status(const struct simd_dev *d, unsigned i, uint64_t request)
{
	struct vv_parse_ctx ctx = { .max_vrings = 2 };
	struct vv_msg rep;

	assert_true((i + 1) * VV_REPLY_SIZE <= d->mbox_reply_len);
	assert_int_equal(vv_parse(d->mbox_reply + i * VV_REPLY_SIZE, VV_REPLY_SIZE, &ctx, &rep,
				  NULL), 0);
	assert_true(vv_msg_is_reply(&rep));
	assert_true(rep.request == request);
	return rep.status;
}

/*
 * A ring's size before the owner is refused; the owner, then the size
 * again, succeed: in order, every one, the refusal in its own reply.
 */
static void batch_runs_in_order_past_a_refusal(void **state)
{
	struct endpoint *ep;
	struct simd_dev *d = dev_new(&ep);
	uint8_t buf[4096];
	size_t len = 0;

	(void)state;
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY, 0, 256);
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY, 0, 0);
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY, 1, 128);
	put(buf, &len, VV_REQ_GET_VRING_BASE, 0, 1, 0);
	assert_int_equal(simd_mailbox_write(d, buf, len), 0);
	assert_int_equal(d->mbox_reply_len, 4 * VV_REPLY_SIZE);
	assert_int_equal(reply_status(d, 0, VV_REQ_SET_VRING_NUM), -EPERM);
	assert_int_equal(reply_status(d, 1, VV_REQ_SET_OWNER), 0);
	assert_int_equal(reply_status(d, 2, VV_REQ_SET_VRING_NUM), 0);
	assert_int_equal(reply_status(d, 3, VV_REQ_GET_VRING_BASE), 0);
	assert_true(d->owner);
	assert_int_equal(d->ring[1].num, 128);
	assert_false(d->ring[0].has_num);
	assert_int_equal(d->mbox_writes, 1);
	assert_int_equal(d->mbox_requests, 4);
	dev_free(d, ep);
}

/*
 * Refused whole, none of it run: a member that asks for no reply, a
 * message cut short, and more replies than the mailbox holds.
 */
static void batch_refused_whole(void **state)
{
	struct endpoint *ep;
	struct simd_dev *d = dev_new(&ep);
	uint8_t buf[4096];
	size_t len = 0;

	(void)state;
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY, 0, 0);
	put(buf, &len, VV_REQ_RESET_OWNER, 0, 0, 0);
	assert_int_equal(simd_mailbox_write(d, buf, len), -EINVAL);
	assert_int_equal(d->mbox_reply_len, 0);
	assert_false(d->owner);

	len = 0;
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY, 0, 0);
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY, 0, 256);
	assert_true(simd_mailbox_write(d, buf, len - 1) < 0);
	assert_int_equal(d->mbox_reply_len, 0);
	assert_false(d->owner);

	/* 16-byte requests: 171 of them fit a write, not their 24-byte replies. */
	len = 0;
	for (unsigned i = 0; i < SIMD_MAILBOX_SIZE / VV_REPLY_SIZE + 1; i++)
		put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY, 0, 0);
	assert_true(len <= sizeof(buf));
	assert_int_equal(simd_mailbox_write(d, buf, len), -ENOSPC);
	assert_int_equal(d->mbox_reply_len, 0);
	assert_false(d->owner);
	assert_int_equal(d->mbox_requests, 0);
	dev_free(d, ep);
}

/*
 * VV_FLAG_IF_OK ("mailbox_if_ok"): after a refusal in the same batch the
 * flagged request is refused (ECANCELED) and not run, while an unflagged
 * one still runs; first in its write, or after successes, it runs.
 */
static void if_ok_runs_only_after_successes(void **state)
{
	struct endpoint *ep;
	struct simd_dev *d = dev_new(&ep);
	uint8_t buf[4096];
	size_t len = 0;

	(void)state;
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY, 0, 256);	/* no owner: EPERM */
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK, 0, 0);
	assert_int_equal(simd_mailbox_write(d, buf, len), 0);
	assert_int_equal(reply_status(d, 0, VV_REQ_SET_VRING_NUM), -EPERM);
	assert_int_equal(reply_status(d, 1, VV_REQ_SET_OWNER), -ECANCELED);
	assert_false(d->owner);

	len = 0;
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK, 0, 0);
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK, 0, 256);
	assert_int_equal(simd_mailbox_write(d, buf, len), 0);
	assert_int_equal(reply_status(d, 0, VV_REQ_SET_OWNER), 0);
	assert_int_equal(reply_status(d, 1, VV_REQ_SET_VRING_NUM), 0);
	assert_true(d->owner);
	assert_int_equal(d->ring[0].num, 256);

	/* A refusal, then one unflagged (runs), then one flagged (does not). */
	len = 0;
	put(buf, &len, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY, 0, 0);	/* owned: EBUSY */
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY, 1, 128);
	put(buf, &len, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK, 0, 512);
	assert_int_equal(simd_mailbox_write(d, buf, len), 0);
	assert_int_equal(reply_status(d, 0, VV_REQ_SET_OWNER), -EBUSY);
	assert_int_equal(reply_status(d, 1, VV_REQ_SET_VRING_NUM), 0);
	assert_int_equal(reply_status(d, 2, VV_REQ_SET_VRING_NUM), -ECANCELED);
	assert_int_equal(d->ring[1].num, 128);
	assert_int_equal(d->ring[0].num, 256);
	dev_free(d, ep);
}

/* A mailbox write that must succeed, and every reply in it a success. */
static void run_ok(struct simd_dev *d, const struct vv_msg *m, unsigned n)
{
	struct vv_parse_ctx ctx = { .max_vrings = 2 };
	uint8_t buf[4096];
	size_t len = 0, one;

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vv_encode(&m[i], &ctx, buf + len, sizeof(buf) - len, &one, NULL), 0);
		len += one;
	}
	assert_int_equal(simd_mailbox_write(d, buf, len), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(reply_status(d, i, m[i].request), 0);
}

/*
 * A stop's reply does not wait for guest memory to be unmapped (a TLB
 * shootdown, tens of microseconds in a VM): the mapping the workers used
 * is kept until the replies are out (simd_dev_after_replies()), and a
 * start after it maps the memory anew.
 */
static void stop_unmaps_after_its_reply(void **state)
{
	struct endpoint *ep;
	struct simd_dev *d = dev_new(&ep);
	struct vv_msg m[8];
	int fd = memfd_create("guest", MFD_CLOEXEC);
	unsigned n = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	d->dma[0] = (struct simd_dma){ 0, 1 << 20, 0, VFU_DMA_READ | VFU_DMA_WRITE, fd, NULL };
	d->dma[0].hva = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(d->dma[0].hva != MAP_FAILED);
	d->ndma = 1;
	vv_msg_init(&m[n++], VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);
	for (unsigned i = 0; i < 2; i++) {
		vv_msg_init(&m[n], VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
		m[n++].u.state = (struct vv_vring_state){ i, 256 };
		vv_msg_init(&m[n], VV_REQ_SET_VRING_ADDR, VV_FLAG_NEED_REPLY);
		m[n].u.addr.index = i;
		m[n].u.addr.desc_user_addr = 0x10000u * (i + 1);
		m[n].u.addr.avail_user_addr = 0x10000u * (i + 1) + 0x1000;
		m[n++].u.addr.used_user_addr = 0x10000u * (i + 1) + 0x2000;
	}
	vv_msg_init(&m[n], VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	m[n++].u.u64 = VV_STATE_START;
	run_ok(d, m, n);
	simd_dev_after_replies(d);
	assert_int_equal(d->state, SIMD_RUNNING);
	assert_int_equal(d->mem.nregions, 1);

	/* The stop and the bases: answered with the memory still mapped. */
	n = 0;
	vv_msg_init(&m[n], VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	m[n++].u.u64 = VV_STATE_STOP;
	for (unsigned i = 0; i < 2; i++) {
		vv_msg_init(&m[n], VV_REQ_GET_VRING_BASE, 0);
		m[n++].u.state.index = i;
	}
	run_ok(d, m, n);
	assert_int_equal(d->state, SIMD_STOPPED);
	assert_int_equal(d->mem.nregions, 0);
	assert_int_equal(d->mem_old.nregions, 1);
	simd_dev_after_replies(d);
	assert_int_equal(d->mem_old.nregions, 0);

	/* Started again: mapped anew; stopped by the reset, unmapped there. */
	vv_msg_init(&m[0], VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	m[0].u.u64 = VV_STATE_START;
	run_ok(d, m, 1);
	simd_dev_after_replies(d);
	assert_int_equal(d->mem.nregions, 1);
	assert_int_equal(simd_dev_reset(d), 0);
	assert_int_equal(d->mem.nregions + d->mem_old.nregions, 0);
	dev_free(d, ep);
}

struct server {
	struct simd_dev *d;
	int lfd;
	volatile int quit;
	char path[108];
	pthread_t thread;
};

static void *serve_one_client(void *arg)
{
	struct server *s = arg;
	int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	assert_true(c >= 0);
	(void)simd_serve(s->d, c, s->lfd, &s->quit);
	close(c);
	return NULL;
}

/*
 * The agent's client against the device: a flight of ten requests goes as
 * one batch (one mailbox write); the one the device refuses, the fourth
 * (a second SET_OWNER), is the one reported, with the count of those
 * before it, and the bases read in the same flight are right.
 */
static void client_batches_a_flight(void **state)
{
	struct server s = { .lfd = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct endpoint *ep;
	struct accel_dev *adev;
	struct vv_msg reqs[10], reps[10];
	char spec[160], err[256];
	unsigned done = 0;
	uint64_t writes;

	(void)state;
	s.d = dev_new(&ep);
	snprintf(s.path, sizeof(s.path), "/tmp/test_simd_mailbox.%d.sock", (int)getpid());
	unlink(s.path);
	strcpy(sa.sun_path, s.path);
	s.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s.lfd >= 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s.lfd, 1), 0);
	assert_int_equal(pthread_create(&s.thread, NULL, serve_one_client, &s), 0);
	snprintf(spec, sizeof(spec), "vfio-user:%s", s.path);
	assert_int_equal(accel_dev_open(spec, 2, &adev, err, sizeof(err)), 0);

	/* Owner, the two rings' sizes and bases, a bad size (refused), the bases read back. */
	vv_msg_init(&reqs[0], VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);
	for (unsigned i = 0; i < 2; i++) {
		vv_msg_init(&reqs[1 + i], VV_REQ_SET_VRING_BASE, VV_FLAG_NEED_REPLY);
		reqs[1 + i].u.state = (struct vv_vring_state){ i, 40 + i };
	}
	vv_msg_init(&reqs[3], VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);	/* owned: -EBUSY */
	for (unsigned i = 0; i < 2; i++) {
		vv_msg_init(&reqs[4 + i], VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
		reqs[4 + i].u.state = (struct vv_vring_state){ i, 256 };
	}
	for (unsigned i = 0; i < 4; i++) {
		vv_msg_init(&reqs[6 + i], VV_REQ_GET_VRING_BASE, 0);
		reqs[6 + i].u.state.index = i % 2;
	}
	memset(reps, 0, sizeof(reps));
	writes = s.d->mbox_writes;
	assert_int_equal(accel_dev_vhost_run(adev, reqs, 10, reps, NULL, 0, &done), -EBUSY);
	assert_int_equal(done, 3);
	assert_non_null(strstr(accel_dev_error(adev), "SET_OWNER"));
	/* One write for the ten, every one run; the bases read in the same flight. */
	assert_int_equal(s.d->mbox_writes - writes, 1);
	for (unsigned i = 6; i < 10; i++)
		assert_int_equal(reps[i].u.state.num, 40 + i % 2);
	assert_int_equal(s.d->ring[1].num, 256);

	/* Still in step: the next request is answered. */
	assert_int_equal(accel_dev_vhost(adev, &reqs[6], &reps[6]), 0);
	assert_int_equal(reps[6].u.state.num, 40);

	/*
	 * A conditional last request goes in the same write as those before
	 * it, and does not run after a refusal among them.
	 */
	vv_msg_init(&reqs[0], VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);	/* owned: -EBUSY */
	vv_msg_init(&reqs[1], VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK);
	reqs[1].u.state = (struct vv_vring_state){ 0, 512 };
	assert_true(accel_dev_one_conditional_write(adev, reqs, 2));
	writes = s.d->mbox_writes;
	assert_int_equal(accel_dev_vhost_run(adev, reqs, 2, NULL, NULL, 0, &done), -EBUSY);
	assert_int_equal(done, 0);
	assert_int_equal(s.d->mbox_writes - writes, 1);
	assert_int_equal(s.d->ring[0].num, 256);
	vv_msg_init(&reqs[0], VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
	reqs[0].u.state = (struct vv_vring_state){ 1, 128 };
	assert_true(accel_dev_one_conditional_write(adev, reqs, 2));
	assert_int_equal(accel_dev_vhost_run(adev, reqs, 2, NULL, NULL, 0, &done), 0);
	assert_int_equal(s.d->mbox_writes - writes, 2);
	assert_int_equal(s.d->ring[0].num, 512);
	assert_int_equal(s.d->ring[1].num, 128);
	/* Two writes' worth (a request without a reply ends a batch): not one. */
	vv_msg_init(&reqs[0], VV_REQ_SET_VRING_NUM, 0);
	reqs[0].u.state = (struct vv_vring_state){ 1, 128 };
	assert_false(accel_dev_one_conditional_write(adev, reqs, 2));
	accel_dev_close(adev);
	pthread_join(s.thread, NULL);
	close(s.lfd);
	unlink(s.path);
	dev_free(s.d, ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_runs_in_order_past_a_refusal),
		cmocka_unit_test(batch_refused_whole),
		cmocka_unit_test(if_ok_runs_only_after_successes),
		cmocka_unit_test(client_batches_a_flight),
		cmocka_unit_test(stop_unmaps_after_its_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
