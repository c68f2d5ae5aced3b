// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notifyrecv: plays systemd's side of the notification protocol for tests.
 * Binds a datagram socket at PATH and prints every message it receives as
 * "T_MS MESSAGE" (milliseconds since start on CLOCK_MONOTONIC, newlines in
 * the message shown as '|'), until SECONDS have passed.
 *
 *   notifyrecv PATH SECONDS
 *
 * Trust boundary: any local process may send to the socket; a datagram is
 * only printed, bounded to the buffer, control characters replaced.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long start, end;
	char buf[4096];
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notifyrecv PATH SECONDS\n");
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "notifyrecv: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY-TO-RECEIVE\n");
	start = now_ms();
	end = start + atoll(argv[2]) * 1000;
	for (long long t = start; t < end; t = now_ms()) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(end - t)) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = '|';
			else if ((unsigned char)buf[i] < 0x20)
				buf[i] = '?';
		buf[n] = '\0';
		printf("%lld %s\n", now_ms() - start, buf);
	}
	unlink(argv[1]);
	return 0;
}
