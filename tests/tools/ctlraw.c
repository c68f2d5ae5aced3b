// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctlraw: sends raw lines to vdpa-agentd's control socket, for tests that
 * must say what no well-behaved client says (over-long or invalid requests).
 *
 *   ctlraw [-t MS] SOCK < LINES
 *
 * Each line of standard input (of any length) goes to SOCK as it is, with
 * its '\n'; then one reply line is read and printed.  When the agent closes
 * the connection instead of replying, "EOF" is printed and the remaining
 * input is not sent.  After the last line, ctlraw waits up to MS
 * milliseconds (default 300) and prints "EOF" if the agent closed the
 * connection, "OPEN" if it did not.
 *
 * Exit: 0 done (whatever the replies), 1 cannot connect or I/O error,
 * 2 no reply within MS, 64 usage.
 *
 * Trust boundary: the agent is under test; replies are bounded (1 MiB, the
 * protocol's limit, plus slack) and every wait is bounded (poll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (1024 * 1024 + 2)

static char reply[REPLY_MAX];
static size_t reply_len;	/* bytes received and not printed yet */

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Prints one reply line: 1 printed, 0 the peer closed, -ETIMEDOUT, or
 * another negative errno.
 */
static int read_reply(int fd, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(reply, '\n', reply_len);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (nl) {
			size_t l = (size_t)(nl - reply);

			fwrite(reply, 1, l + 1, stdout);
			fflush(stdout);
			memmove(reply, nl + 1, reply_len - l - 1);
			reply_len -= l + 1;
			return 1;
		}
		if (reply_len == sizeof(reply))
			return -EMSGSIZE;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, reply + reply_len, sizeof(reply) - reply_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* A reset after our unread bytes is a close too. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0)
			return -errno;
		reply_len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int timeout_ms = 300, opt, fd, r;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			goto usage;
		timeout_ms = atoi(optarg);
	}
	if (optind + 1 != argc || strlen(argv[optind]) >= sizeof(sa.sun_path) || timeout_ms <= 0)
		goto usage;
	strcpy(sa.sun_path, argv[optind]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctlraw: connect %s: %s\n", sa.sun_path, strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] != '\n')
			line[len++] = '\n';	/* getline leaves room for the NUL */
		r = send_all(fd, line, (size_t)len);
		/* The agent may close before taking all of an over-long line. */
		if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
			fprintf(stderr, "ctlraw: send: %s\n", strerror(-r));
			return 1;
		}
		r = read_reply(fd, timeout_ms);
		if (r == 0) {
			puts("EOF");
			return 0;
		}
		if (r < 0) {
			fprintf(stderr, "ctlraw: reading a reply: %s\n", strerror(-r));
			return r == -ETIMEDOUT ? 2 : 1;
		}
	}
	free(line);
	r = read_reply(fd, timeout_ms);
	if (r == 1) {
		fprintf(stderr, "ctlraw: a reply nobody asked for\n");
		return 1;
	}
	puts(r == 0 ? "EOF" : "OPEN");
	close(fd);
	return 0;
usage:
	fprintf(stderr, "usage: ctlraw [-t MS] SOCK < LINES\n");
	return 64;
}
