/*
 * trafficcheck: the integration tests' UDP traffic generator and checker.
 *
 * One static binary, used both inside the test guest (it rides in the
 * initramfs) and on the host:
 *
 *   trafficcheck send --dst IP:PORT [--rate PPS] [--size BYTES]
 *                     [--duration SEC | --count N] [--flow ID]
 *   trafficcheck recv --port PORT [--duration SEC] [--idle-exit SEC] [--json]
 *   trafficcheck channels IFACE [N]     (get / set combined channels, the
 *                                        part of "ethtool -L" busybox lacks)
 *
 * Every datagram carries a header (magic, flow, sequence number, length) and
 * a body generated from (flow, seq) by a small PRNG, so a datagram that was
 * truncated, bit-flipped, or delivered from a stale or mis-copied guest buffer
 * fails the check and is counted as corrupt.  The receiver counts received,
 * corrupt, duplicate, reordered and lost datagrams, the largest jump in
 * sequence numbers and the longest silence between good datagrams, and prints
 * one line
 *
 *   TRAFFIC {"received":..,"corrupt":..,"duplicate":..,"reordered":..,
 *            "lost":..,"max_seq_gap":..,"max_time_gap_ms":..,...}
 *
 * at the end, on SIGTERM/SIGINT (then exits) and on SIGUSR1 (then carries on).
 * The sender ends with  SENT {"sent":N,...}.
 *
 * Trust boundary: the receiver reads whatever arrives on its port, so every
 * datagram is treated as hostile: lengths are checked before any field is
 * read, and anything without our magic is counted as foreign and ignored.
 *
 * Duplicate detection keeps, per flow, a bitmap of the last 2^24 sequence
 * numbers below the highest seen (14 minutes at 20k pps).  A datagram older
 * than that window cannot be checked for duplication: it is counted as
 * "stale" (and as reordered), not as received-unique.  At most MAX_FLOWS
 * flows are tracked; datagrams of further flows are counted as foreign.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x56445054u /* "VDPT" */
#define HDR_SIZE 24u      /* magic u32, flow u32, seq u64, len u32, hcheck u32 */
#define MIN_SIZE HDR_SIZE
#define MAX_SIZE 65507u /* largest UDP payload over IPv4 */
#define WINDOW_BITS 24
#define WINDOW (UINT64_C(1) << WINDOW_BITS)
#define MAX_FLOWS 16

static volatile sig_atomic_t got_term, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* splitmix64: seeds the body generator so neighbouring (flow, seq) pairs give
 * unrelated bodies; a buffer holding the previous datagram never passes. */
static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint32_t header_check(uint32_t flow, uint64_t seq, uint32_t len)
{
	return (uint32_t)mix64((uint64_t)flow << 32 ^ seq ^ (uint64_t)len << 40 ^ MAGIC);
}

/* Body bytes [HDR_SIZE, len): xorshift64 stream seeded by (flow, seq). */
static void body_fill(uint8_t *buf, uint32_t len, uint32_t flow, uint64_t seq)
{
	uint64_t s = mix64(seq ^ mix64(flow)) | 1;

	for (uint32_t i = HDR_SIZE; i < len; i += 8) {
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		for (uint32_t j = 0; j < 8 && i + j < len; j++)
			buf[i + j] = (uint8_t)(s >> (8 * j));
	}
}

static bool body_ok(const uint8_t *buf, uint32_t len, uint32_t flow, uint64_t seq)
{
	uint64_t s = mix64(seq ^ mix64(flow)) | 1;

	for (uint32_t i = HDR_SIZE; i < len; i += 8) {
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		for (uint32_t j = 0; j < 8 && i + j < len; j++)
			if (buf[i + j] != (uint8_t)(s >> (8 * j)))
				return false;
	}
	return true;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Seconds, fractions allowed ("0.5"); returned in ns. */
static int parse_seconds(const char *s, uint64_t *ret_ns)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0) || v > 1e6)
		return -EINVAL;
	*ret_ns = (uint64_t)(v * 1e9);
	return 0;
}

static void die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "trafficcheck: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr,
		"usage: trafficcheck send --dst IP:PORT [--rate PPS] [--size BYTES]\n"
		"                         [--duration SEC | --count N] [--flow ID]\n"
		"       trafficcheck recv --port PORT [--duration SEC] [--idle-exit SEC] [--json]\n"
		"       trafficcheck channels IFACE [N]\n");
	exit(2);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll/sleep return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- send ------------------------------------------------------------- */

static int cmd_send(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint64_t rate = 1000, size = 256, count = 0, duration_ns = 0, flow = 0, v;
	bool have_dst = false, have_dur = false, have_count = false;
	uint64_t sent = 0, errors = 0, rebased = 0;
	static uint8_t buf[MAX_SIZE];
	int fd;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--dst")) {
			char host[64];
			const char *colon = a ? strrchr(a, ':') : NULL;

			if (!colon || (size_t)(colon - a) >= sizeof(host))
				die_usage("--dst wants IP:PORT", a);
			memcpy(host, a, (size_t)(colon - a));
			host[colon - a] = 0;
			if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 ||
			    parse_u64(colon + 1, 65535, &v) < 0 || v == 0)
				die_usage("bad --dst", a);
			dst.sin_port = htons((uint16_t)v);
			have_dst = true;
		} else if (!strcmp(o, "--rate")) {
			if (parse_u64(a, 10000000, &rate) < 0)
				die_usage("bad --rate (packets per second, 0 = unpaced)", a);
		} else if (!strcmp(o, "--size")) {
			if (parse_u64(a, MAX_SIZE, &size) < 0 || size < MIN_SIZE)
				die_usage("bad --size (24..65507 bytes of UDP payload)", a);
		} else if (!strcmp(o, "--duration")) {
			if (parse_seconds(a, &duration_ns) < 0)
				die_usage("bad --duration", a);
			have_dur = true;
		} else if (!strcmp(o, "--count")) {
			if (parse_u64(a, UINT64_MAX, &count) < 0)
				die_usage("bad --count", a);
			have_count = true;
		} else if (!strcmp(o, "--flow")) {
			if (parse_u64(a, UINT32_MAX, &flow) < 0)
				die_usage("bad --flow", a);
		} else {
			die_usage("unknown option", o);
		}
		i++;
	}
	if (!have_dst)
		die_usage("send needs --dst", NULL);
	if (have_dur && have_count)
		die_usage("give --duration or --count, not both", NULL);
	if (!have_dur && !have_count)
		duration_ns = 10ull * 1000000000u;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("trafficcheck: socket");
		return 1;
	}
	install_signals();

	/* Pacing is against an absolute schedule (start + k/rate) so sleep
	 * overshoot is made up by the next packets.  If the sender falls far
	 * behind (its VM was paused, e.g. at a migration switchover), the
	 * schedule is rebased instead of bursting out the whole debt. */
	uint64_t period_ns = rate ? 1000000000u / rate : 0;
	uint64_t start = now_ns(), next = start;
	uint64_t end = have_dur ? start + duration_ns : UINT64_MAX;

	while (!got_term) {
		uint64_t t = now_ns();

		if (have_count ? sent + errors >= count : t >= end)
			break;
		if (period_ns) {
			if (t < next) {
				struct timespec ts = {
					.tv_sec = (time_t)(next / 1000000000u),
					.tv_nsec = (long)(next % 1000000000u),
				};
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
				continue; /* re-check end and signals */
			}
			if (t - next > 100000000u) { /* > 100 ms behind */
				next = t;
				rebased++;
			}
			next += period_ns;
		}
		put_be32(buf, MAGIC);
		put_be32(buf + 4, (uint32_t)flow);
		put_be64(buf + 8, sent);
		put_be32(buf + 16, (uint32_t)size);
		put_be32(buf + 20, header_check((uint32_t)flow, sent, (uint32_t)size));
		body_fill(buf, (uint32_t)size, (uint32_t)flow, sent);
		if (sendto(fd, buf, size, 0, (struct sockaddr *)&dst, sizeof(dst)) == (ssize_t)size)
			sent++; /* seq = number sent so far: no holes from errors */
		else
			errors++;
	}
	close(fd);
	printf("SENT {\"sent\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"flow\":%" PRIu64
	       ",\"rebased\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64 "}\n",
	       sent, errors, flow, rebased, (now_ns() - start) / 1000000u);
	fflush(stdout);
	return 0;
}

/* ---- recv ------------------------------------------------------------- */

struct flow {
	uint32_t id;
	uint8_t *seen;       /* WINDOW bits; bit (seq % WINDOW) */
	bool any;
	uint64_t max_seq;    /* highest seq seen, valid if any */
	uint64_t unique;
	uint64_t last_good_ns;
	uint64_t max_time_gap_ns;
	uint64_t max_seq_gap;
};

struct stats {
	uint64_t received, corrupt, duplicate, reordered, stale, foreign, bytes;
	struct flow flows[MAX_FLOWS];
	unsigned nflows;
	uint64_t start_ns;
};

static struct flow *flow_get(struct stats *st, uint32_t id)
{
	for (unsigned i = 0; i < st->nflows; i++)
		if (st->flows[i].id == id)
			return &st->flows[i];
	if (st->nflows == MAX_FLOWS)
		return NULL;

	struct flow *f = &st->flows[st->nflows];
	f->seen = calloc(WINDOW / 8, 1);
	if (!f->seen)
		return NULL;
	f->id = id;
	st->nflows++;
	return f;
}

static bool bit_test(const uint8_t *bm, uint64_t seq)
{
	uint64_t b = seq % WINDOW;
	return bm[b / 8] >> (b % 8) & 1;
}

static void bit_set(uint8_t *bm, uint64_t seq)
{
	uint64_t b = seq % WINDOW;
	bm[b / 8] |= (uint8_t)(1u << (b % 8));
}

static void bit_clear(uint8_t *bm, uint64_t seq)
{
	uint64_t b = seq % WINDOW;
	bm[b / 8] &= (uint8_t)~(1u << (b % 8));
}

static void account(struct stats *st, const uint8_t *buf, size_t n, uint64_t t)
{
	if (n < 4 || get_be32(buf) != MAGIC) {
		st->foreign++;
		return;
	}
	if (n < HDR_SIZE) {
		st->corrupt++;
		return;
	}

	uint32_t id = get_be32(buf + 4), len = get_be32(buf + 16);
	uint64_t seq = get_be64(buf + 8);

	if (len != n || get_be32(buf + 20) != header_check(id, seq, len) ||
	    !body_ok(buf, len, id, seq)) {
		st->corrupt++;
		return;
	}

	struct flow *f = flow_get(st, id);
	if (!f) {
		st->foreign++;
		return;
	}
	st->received++;
	st->bytes += n;
	if (f->any && t - f->last_good_ns > f->max_time_gap_ns)
		f->max_time_gap_ns = t - f->last_good_ns;
	f->last_good_ns = t;

	if (!f->any || seq > f->max_seq) {
		uint64_t from = f->any ? f->max_seq + 1 : 0;

		/* The jump skipped [from, seq); a first datagram with seq > 0
		 * means the first ones were lost, so that counts too. */
		if (seq - from > f->max_seq_gap)
			f->max_seq_gap = seq - from;
		/* Slide the window: forget what the slots now being reused
		 * held; a jump of WINDOW or more clears everything. */
		if (f->any) {
			if (seq - f->max_seq >= WINDOW)
				memset(f->seen, 0, WINDOW / 8);
			else
				for (uint64_t s = f->max_seq + 1; s <= seq; s++)
					bit_clear(f->seen, s);
		}
		f->max_seq = seq;
		f->any = true;
	} else if (f->max_seq - seq >= WINDOW) {
		st->stale++;
		st->reordered++;
		return;
	} else if (bit_test(f->seen, seq)) {
		st->duplicate++;
		return;
	} else {
		st->reordered++;
	}
	bit_set(f->seen, seq);
	f->unique++;
}

static void print_summary(const struct stats *st, uint64_t t)
{
	uint64_t lost = 0, max_seq_gap = 0, max_gap_ns = 0, unique = 0;

	for (unsigned i = 0; i < st->nflows; i++) {
		const struct flow *f = &st->flows[i];

		if (f->any && f->max_seq + 1 > f->unique)
			lost += f->max_seq + 1 - f->unique;
		unique += f->unique;
		if (f->max_seq_gap > max_seq_gap)
			max_seq_gap = f->max_seq_gap;
		if (f->max_time_gap_ns > max_gap_ns)
			max_gap_ns = f->max_time_gap_ns;
	}
	printf("TRAFFIC {\"received\":%" PRIu64 ",\"corrupt\":%" PRIu64
	       ",\"duplicate\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"max_seq_gap\":%" PRIu64 ",\"max_time_gap_ms\":%" PRIu64
	       ",\"unique\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"foreign\":%" PRIu64
	       ",\"flows\":%u,\"bytes\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64 "}\n",
	       st->received, st->corrupt, st->duplicate, st->reordered, lost,
	       max_seq_gap, max_gap_ns / 1000000u, unique, st->stale, st->foreign,
	       st->nflows, st->bytes, (t - st->start_ns) / 1000000u);
	fflush(stdout);
}

static int cmd_recv(int argc, char **argv)
{
	uint64_t port = 0, duration_ns = 0, idle_ns = 0;
	bool json = false;
	static struct stats st;
	static uint8_t buf[65536];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1, rcvbuf = 4 << 20;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(o, "--port")) {
			if (parse_u64(a, 65535, &port) < 0 || port == 0)
				die_usage("bad --port", a);
		} else if (!strcmp(o, "--duration")) {
			if (parse_seconds(a, &duration_ns) < 0)
				die_usage("bad --duration", a);
		} else if (!strcmp(o, "--idle-exit")) {
			if (parse_seconds(a, &idle_ns) < 0)
				die_usage("bad --idle-exit", a);
		} else {
			die_usage("unknown option", o);
		}
		i++;
	}
	if (!port)
		die_usage("recv needs --port", NULL);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("trafficcheck: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A deep socket buffer so a slow reader (a TCG guest) does not turn
	 * scheduling hiccups into loss; FORCE needs root, else best effort. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "trafficcheck: bind to port %" PRIu64 ": %s\n", port, strerror(errno));
		return 1;
	}
	install_signals();
	st.start_ns = now_ns();
	printf("RECV-READY {\"port\":%" PRIu64 "}\n", port);
	fflush(stdout);

	uint64_t end = duration_ns ? st.start_ns + duration_ns : UINT64_MAX;
	uint64_t last_rx = 0; /* idle timer starts at the first datagram */

	for (;;) {
		uint64_t t = now_ns();
		int timeout_ms = 1000;

		if (got_usr1) {
			got_usr1 = 0;
			print_summary(&st, t);
		}
		if (got_term || t >= end)
			break;
		if (idle_ns && last_rx && t - last_rx >= idle_ns)
			break;
		if (end != UINT64_MAX && (end - t) / 1000000u + 1 < (uint64_t)timeout_ms)
			timeout_ms = (int)((end - t) / 1000000u + 1);
		if (idle_ns && last_rx && (last_rx + idle_ns - t) / 1000000u + 1 < (uint64_t)timeout_ms)
			timeout_ms = (int)((last_rx + idle_ns - t) / 1000000u + 1);

		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno != EINTR) {
			perror("trafficcheck: poll");
			break;
		}
		if (r <= 0)
			continue;
		/* Drain; the timestamp per datagram keeps time gaps honest. */
		for (int k = 0; k < 256; k++) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);

			if (n < 0)
				break;
			t = now_ns();
			last_rx = t;
			if ((size_t)n > sizeof(buf)) /* cannot be ours: we send at most MAX_SIZE */
				st.foreign++;
			else
				account(&st, buf, (size_t)n, t);
		}
	}
	close(fd);
	if (!json)
		fprintf(stderr, "trafficcheck: %" PRIu64 " good, %" PRIu64 " corrupt, %" PRIu64
			" duplicate, %" PRIu64 " foreign datagram(s) on port %" PRIu64 "\n",
			st.received, st.corrupt, st.duplicate, st.foreign, port);
	print_summary(&st, now_ns());
	return 0;
}

/* ---- channels ---------------------------------------------------------- */

/* Get or set combined channels (virtio-net queue pairs) with the ethtool
 * ioctl: busybox has no ethtool and the guest needs "ethtool -L ethX
 * combined N" to use more queue pairs than it has CPUs. */
static int cmd_channels(int argc, char **argv)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	uint64_t want = 0;
	int fd, rc = 0;

	if (argc < 2 || argc > 3 || strlen(argv[1]) >= IFNAMSIZ)
		die_usage("channels wants IFACE [N]", NULL);
	if (argc == 3 && (parse_u64(argv[2], 1024, &want) < 0 || want == 0))
		die_usage("bad channel count", argv[2]);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("trafficcheck: socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, argv[1]);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		fprintf(stderr, "trafficcheck: %s: get channels: %s\n", argv[1], strerror(errno));
		rc = 1;
		goto out;
	}
	if (want) {
		ch.cmd = ETHTOOL_SCHANNELS;
		ch.combined_count = (uint32_t)want;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			fprintf(stderr, "trafficcheck: %s: set %" PRIu64 " combined channels (max %u): %s\n",
				argv[1], want, ch.max_combined, strerror(errno));
			rc = 1;
			goto out;
		}
		ch.cmd = ETHTOOL_GCHANNELS;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			fprintf(stderr, "trafficcheck: %s: get channels: %s\n", argv[1], strerror(errno));
			rc = 1;
			goto out;
		}
	}
	printf("CHANNELS {\"iface\":\"%s\",\"combined\":%u,\"max_combined\":%u}\n",
	       argv[1], ch.combined_count, ch.max_combined);
out:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die_usage("missing command", NULL);
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return cmd_recv(argc - 1, argv + 1);
	if (!strcmp(argv[1], "channels"))
		return cmd_channels(argc - 1, argv + 1);
	die_usage("unknown command", argv[1]);
	return 2;
}
