/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What configuring and stopping an accelerator costs the switchover, on
 * the real vdpa-simd over vfio-user: the agent's bursts
 * (accel_dev_vhost_many(), issue 14) against the same requests sent one
 * at a time, each waiting for its reply (what the engine did before), in
 * the same run, alternating round by round so that a noisy neighbour hits
 * both alike.
 *
 * A round is what the destination's engine does at a device start, then
 * what the source's does at its stop:
 *   config: RESET_OWNER, SET_OWNER, SET_FEATURES, SET_MEM_TABLE and per
 *           ring SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, each with
 *           NEED_REPLY (bursts: bursts of up to 32; peer: each sent after
 *           the previous one's reply), the interrupts, DEVICE_SET_STATE
 *           start;
 *   stop:   DEVICE_SET_STATE stop, then GET_VRING_BASE of every ring (one
 *           burst; peer: one at a time).
 * for 1, 4 and 8 queue pairs (2, 8, 16 rings).  Guest memory is a 16 MiB
 * memfd mapped once at IOVA 0; the rings sit in it, empty, so the
 * simulator's workers find nothing to do (--wire null).
 *
 * Output: one JSON object per line on stdout (value: bursts' median us,
 * peer_value: one-at-a-time median us, ratio value / peer_value, lower is
 * better), a summary on stderr.  Exits 1 if it could not measure (the
 * simulator did not start, a request failed, a base read back wrong).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/accel_dev.h"
#include "protocol/vhost_vfio.h"

#define ROUNDS 201
#define MEM (16u << 20)
#define RING_SIZE 256u
#define FEATURES ((1ull << 32) | (1ull << 15) | (1ull << 28) | (1ull << 29))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double quantile(uint64_t *v, unsigned n, double q)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(unsigned)(q * (n - 1) + 0.5)];
}

static void die(const char *what, struct accel_dev *d)
{
	fprintf(stderr, "bench_devconfig: %s: %s\n", what, d ? accel_dev_error(d) : strerror(errno));
	exit(1);
}

/* The requests, in the engine's order, each asking for its reply as the engine's do. */
static unsigned config_reqs(struct vv_msg *m, unsigned nrings, uint16_t base)
{
	const uint32_t flags = VV_FLAG_NEED_REPLY;
	unsigned n = 0;

	vv_msg_init(&m[n++], VV_REQ_RESET_OWNER, flags);
	vv_msg_init(&m[n++], VV_REQ_SET_OWNER, flags);
	vv_msg_init(&m[n], VV_REQ_SET_FEATURES, flags);
	m[n++].u.u64 = FEATURES;
	vv_msg_init(&m[n], VV_REQ_SET_MEM_TABLE, flags);
	m[n].u.mem.nregions = 1;
	m[n++].u.mem.regions[0] = (struct vv_mem_region){ 0, MEM, 0 };
	for (unsigned i = 0; i < nrings; i++) {
		uint64_t at = 0x10000ull * (i + 1);

		vv_msg_init(&m[n], VV_REQ_SET_VRING_NUM, flags);
		m[n++].u.state = (struct vv_vring_state){ i, RING_SIZE };
		vv_msg_init(&m[n], VV_REQ_SET_VRING_ADDR, flags);
		m[n].u.addr.index = i;
		m[n].u.addr.desc_user_addr = at;
		m[n].u.addr.avail_user_addr = at + 0x1000;
		m[n++].u.addr.used_user_addr = at + 0x2000;
		vv_msg_init(&m[n], VV_REQ_SET_VRING_BASE, flags);
		m[n++].u.state = (struct vv_vring_state){ i, base };
	}
	return n;
}

static void one_at_a_time(struct accel_dev *d, const struct vv_msg *m, unsigned n,
			  struct vv_msg *rep)
{
	for (unsigned i = 0; i < n; i++)
		if (accel_dev_vhost(d, &m[i], rep ? &rep[i] : NULL) < 0)
			die(vv_request_name(m[i].request), d);
}

static void set_state(struct accel_dev *d, uint64_t state)
{
	struct vv_msg m;

	vv_msg_init(&m, VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	m.u.u64 = state;
	if (accel_dev_vhost(d, &m, NULL) < 0)
		die("DEVICE_SET_STATE", d);
}

/* One round: configure and start, stop and read the bases; times in ns. */
static void round_trip(struct accel_dev *d, unsigned nrings, bool burst, uint16_t base,
		       const int *calls, uint64_t *ret_config, uint64_t *ret_stop)
{
	struct vv_msg m[4 + 3 * ACCEL_DEV_MAX_VRINGS], g[ACCEL_DEV_MAX_VRINGS];
	struct vv_msg rep[ACCEL_DEV_MAX_VRINGS];
	unsigned n = config_reqs(m, nrings, base);
	uint64_t t0, t1, t2;

	for (unsigned i = 0; i < nrings; i++) {
		vv_msg_init(&g[i], VV_REQ_GET_VRING_BASE, 0);
		g[i].u.state.index = i;
	}
	t0 = now_ns();
	if (burst) {
		if (accel_dev_vhost_many(d, m, n, NULL) < 0)
			die("configuration burst", d);
	} else {
		one_at_a_time(d, m, n, NULL);
	}
	if (accel_dev_set_irqs(d, calls, nrings) < 0)
		die("interrupts", d);
	set_state(d, VV_STATE_START);
	t1 = now_ns();
	set_state(d, VV_STATE_STOP);
	if (burst) {
		if (accel_dev_vhost_many(d, g, nrings, rep) < 0)
			die("bases burst", d);
	} else {
		one_at_a_time(d, g, nrings, rep);
	}
	t2 = now_ns();
	for (unsigned i = 0; i < nrings; i++)
		if (rep[i].u.state.index != i || rep[i].u.state.num != base) {
			fprintf(stderr, "bench_devconfig: ring %u base %u, expected %u\n", i,
				rep[i].u.state.num, base);
			exit(1);
		}
	*ret_config = t1 - t0;
	*ret_stop = t2 - t1;
}

static pid_t start_simd(const char *exe, const char *sock, unsigned queues)
{
	char q[16];
	pid_t pid;

	snprintf(q, sizeof(q), "%u", queues);
	unlink(sock);
	pid = fork();
	if (pid == 0) {
		execl(exe, exe, "--socket", sock, "--queues", q, "--wire", "null", "--log-level",
		      "warning", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;

		if (stat(sock, &st) == 0)
			return pid;
		usleep(10000);
	}
	errno = ETIMEDOUT;
	die("vdpa-simd did not create its socket", NULL);
	return -1;
}

static void bench(const char *simd, unsigned queues)
{
	unsigned nrings = 2 * queues;
	uint64_t *bc = calloc(ROUNDS, 8), *bs = calloc(ROUNDS, 8);
	uint64_t *pc = calloc(ROUNDS, 8), *ps = calloc(ROUNDS, 8);
	char sock[64], spec[96], err[256];
	int calls[ACCEL_DEV_MAX_VRINGS], memfd;
	uint8_t *guest;
	struct accel_dev *d;
	pid_t pid;

	if (!bc || !bs || !pc || !ps)
		die("memory", NULL);
	snprintf(sock, sizeof(sock), "/tmp/bench_devconfig.%d.sock", (int)getpid());
	pid = start_simd(simd, sock, queues);
	snprintf(spec, sizeof(spec), "vfio-user:%s", sock);
	/* The socket exists from its bind(); connections are taken from its listen(). */
	for (int tries = 0; accel_dev_open(spec, nrings, &d, err, sizeof(err)) < 0; tries++) {
		if (tries == 100) {
			fprintf(stderr, "bench_devconfig: %s\n", err);
			exit(1);
		}
		usleep(10000);
	}
	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, MEM) < 0)
		die("guest memory", NULL);
	guest = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (guest == MAP_FAILED)
		die("mmap", NULL);
	if (accel_dev_dma_map(d, 0, MEM, memfd, 0) < 0)
		die("DMA map", d);
	for (unsigned i = 0; i < nrings; i++)
		calls[i] = -1;	/* no interrupts wanted: the rings stay empty */
	/* Every round then starts as a restart does: RESET_OWNER, SET_OWNER. */
	{
		struct vv_msg o;

		vv_msg_init(&o, VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);
		if (accel_dev_vhost(d, &o, NULL) < 0)
			die("SET_OWNER", d);
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		/* Alternate which goes first. */
		bool b_first = r & 1;

		for (int k = 0; k < 2; k++) {
			bool burst = (k == 0) == b_first;
			uint16_t base = (uint16_t)(r * 7 + k);

			/* The rings as a guest left them: nothing pending at the base. */
			for (unsigned i = 0; i < nrings; i++) {
				uint8_t *at = guest + 0x10000ull * (i + 1);

				memcpy(at + 0x1000 + 2, &base, 2);	/* avail->idx */
				memcpy(at + 0x2000 + 2, &base, 2);	/* used->idx */
			}
			round_trip(d, nrings, burst, base, calls,
				   burst ? &bc[r] : &pc[r], burst ? &bs[r] : &ps[r]);
		}
	}
	for (int which = 0; which < 2; which++) {
		uint64_t *b = which ? bs : bc, *p = which ? ps : pc;
		double b50 = quantile(b, ROUNDS, 0.5) / 1000.0, b90 = quantile(b, ROUNDS, 0.9) / 1000.0;
		double p50 = quantile(p, ROUNDS, 0.5) / 1000.0, p90 = quantile(p, ROUNDS, 0.9) / 1000.0;
		const char *phase = which ? "stop" : "config";

		printf("{\"bench\":\"accel.devconfig.%s.q%u\",\"value\":%.1f,\"unit\":\"us\","
		       "\"peer\":\"one request per round trip\",\"peer_value\":%.1f,\"ratio\":%.3f,"
		       "\"p90_us\":%.1f,\"peer_p90_us\":%.1f,\"queue_pairs\":%u,\"rounds\":%d,"
		       "\"stat\":\"median\",\"note\":\"%s\"}\n",
		       phase, queues, b50, p50, p50 > 0 ? b50 / p50 : 0.0, b90, p90, queues, ROUNDS,
		       which ? "device stop and every ring's base, vdpa-simd over vfio-user; "
			       "lower is better"
			     : "device configuration, interrupts and start, vdpa-simd over "
			       "vfio-user; lower is better");
		fflush(stdout);
		fprintf(stderr, "accel.devconfig.%-6s q%u  bursts %8.1f us (p90 %8.1f)  one at a "
			"time %8.1f us (p90 %8.1f)  ratio %.3f\n", phase, queues, b50, b90, p50,
			p90, p50 > 0 ? b50 / p50 : 0.0);
	}
	accel_dev_close(d);
	munmap(guest, MEM);
	close(memfd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sock);
	free(bc);
	free(bs);
	free(pc);
	free(ps);
}

int main(void)
{
	char exe[PATH_MAX], simd[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		die("readlink /proc/self/exe", NULL);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		die("no directory in /proc/self/exe", NULL);
	*slash = '\0';
	/* BUILD/bench/bench_devconfig -> BUILD/vdpa-simd */
	snprintf(simd, sizeof(simd), "%s/../vdpa-simd", exe);
	if (access(simd, X_OK) != 0)
		die(simd, NULL);
	signal(SIGPIPE, SIG_IGN);
	bench(simd, 1);
	bench(simd, 4);
	bench(simd, 8);
	return 0;
}
