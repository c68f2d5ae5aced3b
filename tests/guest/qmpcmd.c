/*
 * qmpcmd: a minimal QMP client for the integration tests (bash cannot
 * connect to a Unix socket, and netcat may not be installed).
 *
 *   qmpcmd [-t SEC] [-e EVENT] SOCKET [JSON-COMMAND...]
 *
 * Connects to QEMU's QMP socket, does the qmp_capabilities handshake, sends
 * each command in turn and prints each reply on its own line, skipping
 * asynchronous events.  With -e, then waits for an event of that name and
 * prints it.  A command may be written as a bare name ("query-status"), it
 * is then wrapped as {"execute":"query-status"}.
 *
 * Exit status: 0 all replies were "return"s, 1 some reply was an "error",
 * 2 usage, 3 connection or protocol failure, 4 timeout (default 10 s, for
 * each reply).
 *
 * Trust boundary: QEMU's replies are only split into lines and matched by
 * prefix; nothing is parsed beyond that, lines longer than the buffer are
 * a protocol failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_QMP (1 << 20)

static char rbuf[LINE_MAX_QMP];
static size_t rlen;
static int timeout_ms = 10000;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next '\n'-terminated line into *ret_line (NUL-terminated, '\r' dropped,
 * valid until the next call).  0 ok, -ETIMEDOUT, -EPIPE, -E2BIG. */
static int read_line(int fd, char **ret_line)
{
	static size_t consumed;
	long long deadline = now_ms() + timeout_ms;

	if (consumed) {
		memmove(rbuf, rbuf + consumed, rlen - consumed);
		rlen -= consumed;
		consumed = 0;
	}
	for (;;) {
		char *nl = memchr(rbuf, '\n', rlen);

		if (nl) {
			*nl = 0;
			if (nl > rbuf && nl[-1] == '\r')
				nl[-1] = 0;
			consumed = (size_t)(nl - rbuf) + 1;
			*ret_line = rbuf;
			return 0;
		}
		if (rlen == sizeof(rbuf))
			return -E2BIG;

		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;

		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;

		ssize_t n = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		rlen += (size_t)n;
	}
}

static bool starts(const char *line, const char *prefix)
{
	while (*line == ' ')
		line++;
	return !strncmp(line, prefix, strlen(prefix));
}

/* QEMU prints keys in hash order, so look for both markers of an event. */
static bool is_event(const char *l)
{
	return strstr(l, "\"event\": \"") && strstr(l, "\"timestamp\": {");
}

static bool is_error(const char *l)
{
	return strstr(l, "\"error\": {\"class\"") != NULL;
}

/* Reads lines until a command reply; events are skipped. */
static int read_reply(int fd, char **ret_line)
{
	for (;;) {
		char *l;
		int r = read_line(fd, &l);

		if (r < 0)
			return r;
		if (!*l || is_event(l))
			continue;
		*ret_line = l;
		return 0;
	}
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fail(int code, const char *what, int err)
{
	fprintf(stderr, "qmpcmd: %s: %s\n", what,
		err == -ETIMEDOUT ? "timed out" : err == -EPIPE ? "connection closed" : strerror(-err));
	return code;
}

int main(int argc, char **argv)
{
	const char *event = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int opt, fd, r, rc = 0;
	char *line;

	while ((opt = getopt(argc, argv, "+t:e:h")) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = (int)(atof(optarg) * 1000);
			if (timeout_ms <= 0)
				timeout_ms = 1;
			break;
		case 'e':
			event = optarg;
			break;
		default:
			fprintf(stderr, "usage: qmpcmd [-t SEC] [-e EVENT] SOCKET [JSON-COMMAND...]\n");
			return 2;
		}
	}
	if (optind >= argc || strlen(argv[optind]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: qmpcmd [-t SEC] [-e EVENT] SOCKET [JSON-COMMAND...]\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[optind]);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(3, "socket", -errno);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "qmpcmd: connect %s: %s\n", sun.sun_path, strerror(errno));
		return 3;
	}
	r = read_line(fd, &line);
	if (r < 0)
		return fail(3, "greeting", r);
	if (!starts(line, "{\"QMP\""))
		return fprintf(stderr, "qmpcmd: greeting is not QMP: '%.200s'\n", line), 3;
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	r = write_all(fd, caps, sizeof(caps) - 1);
	if (r < 0)
		return fail(3, "send qmp_capabilities", r);
	r = read_reply(fd, &line);
	if (r < 0)
		return fail(3, "qmp_capabilities reply", r);
	if (is_error(line))
		return fprintf(stderr, "qmpcmd: qmp_capabilities: %s\n", line), 3;

	for (int i = optind + 1; i < argc; i++) {
		const char *cmd = argv[i];
		char *wrapped = NULL;

		if (*cmd != '{') {
			if (asprintf(&wrapped, "{\"execute\":\"%s\"}", cmd) < 0)
				return 3;
			cmd = wrapped;
		}
		r = write_all(fd, cmd, strlen(cmd));
		if (r == 0)
			r = write_all(fd, "\n", 1);
		free(wrapped);
		if (r < 0)
			return fail(3, "send", r);
		r = read_reply(fd, &line);
		if (r < 0)
			return fail(r == -ETIMEDOUT ? 4 : 3, argv[i], r);
		printf("%s\n", line);
		if (is_error(line))
			rc = 1;
	}
	if (event) {
		char want[256];

		snprintf(want, sizeof(want), "\"event\": \"%s\"", event);
		for (;;) {
			r = read_line(fd, &line);
			if (r < 0)
				return fail(r == -ETIMEDOUT ? 4 : 3, event, r);
			if (is_event(line) && strstr(line, want)) {
				printf("%s\n", line);
				break;
			}
		}
	}
	fflush(stdout);
	close(fd);
	return rc;
}
