// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket client: the thin I/O layer in front of the control codec.
 * Non-blocking socket, poll() against one CLOCK_MONOTONIC deadline per
 * call, a reply buffer that never grows past CTL_MAX_REPLY + 1 bytes.
 *
 * Trust boundary: see ctl_client.h.  Nothing read here is interpreted
 * beyond finding the '\n' that ends the reply.  An ssh:// address is
 * operator input that ends up in a remote shell's command line: its parts
 * are checked against short character lists before anything runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/cli/ctl_client.h"
#include "agent/common/util.h"
#include "protocol/sock_io.h"

extern char **environ;

struct ctl_client {
	int fd;
	pid_t ssh;	/* the ssh of an ssh:// agent, 0 when none or reaped */
	int ssh_status;	/* its wait status, once reaped */
	int timeout_ms;
	bool broken;	/* a call failed mid-stream: the framing is lost */
	struct sio_line in;	/* bytes received and not yet returned */
};

/* The buffer holds one line of at most CTL_MAX_REPLY bytes plus its '\n'. */
#define BUF_MAX ((size_t)CTL_MAX_REPLY + 1)
#define BUF_MIN 4096

/* "WHAT: DETAIL", or DETAIL alone when what is NULL. */
static void set_err(struct ctl_error *err, const char *what, const char *detail)
{
	snprintf(err->message, sizeof(err->message), "%s%s%s", what ? what : "",
		 what ? ": " : "", detail);
	err->field[0] = '\0';
}

static bool in_set(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(extra, c));
}

/* "ssh://[USER@]HOST[/PATH]" after the scheme, into ret. */
static int parse_ssh(const char *rest, struct ctl_agent_addr *ret, struct ctl_error *err)
{
	const char *slash = strchr(rest, '/'), *at, *host;
	size_t alen = slash ? (size_t)(slash - rest) : strlen(rest), ulen = 0, hlen;

	at = memchr(rest, '@', alen);
	host = rest;
	if (at) {
		ulen = (size_t)(at - rest);
		if (ulen == 0) {
			set_err(err, NULL, "empty user before '@'");
			return -EINVAL;
		}
		if (ulen > CTL_SSH_USER_MAX) {
			set_err(err, NULL, "user name too long");
			return -ENAMETOOLONG;
		}
		for (size_t i = 0; i < ulen; i++) {
			if (!in_set(rest[i], i ? "_.-" : "_")) {
				set_err(err, NULL, "the user may only hold letters, digits, '_', '.' "
						   "and '-', and not start with '.' or '-'");
				return -EINVAL;
			}
		}
		memcpy(ret->user, rest, ulen);
		host = at + 1;
	}
	ret->user[ulen] = '\0';
	hlen = alen - (size_t)(host - rest);
	if (hlen == 0) {
		set_err(err, NULL, "no host");
		return -EINVAL;
	}
	if (hlen > CTL_SSH_HOST_MAX) {
		set_err(err, NULL, "host name too long");
		return -ENAMETOOLONG;
	}
	/* Not even a leading '-': ssh would take the host for an option. */
	for (size_t i = 0; i < hlen; i++) {
		if (!in_set(host[i], i ? ".-_:" : ":")) {
			set_err(err, NULL, "the host may only hold letters, digits, '.', '-', '_' "
					   "and ':', and must start with a letter, digit or ':'");
			return -EINVAL;
		}
	}
	memcpy(ret->host, host, hlen);
	ret->host[hlen] = '\0';
	if (!slash || !slash[1]) {
		snprintf(ret->path, sizeof(ret->path), "%s", CTL_SSH_DEFAULT_PATH);
		return 0;
	}
	/* The path travels to a remote shell: letters, digits and "/._+,=@:-". */
	if (strlen(slash) >= sizeof(ret->path)) {
		set_err(err, NULL, "the socket path does not fit a unix socket address");
		return -ENAMETOOLONG;
	}
	for (const char *c = slash; *c; c++) {
		if (!in_set(*c, "/._+,=@:-")) {
			set_err(err, NULL, "the socket path may only hold letters, digits and "
					   "\"/._+,=@:-\"");
			return -EINVAL;
		}
	}
	strcpy(ret->path, slash);
	return 0;
}

int ctl_agent_parse(const char *agent, struct ctl_agent_addr *ret, struct ctl_error *err)
{
	static const char unix_prefix[] = "unix:", ssh_prefix[] = "ssh://";
	struct ctl_agent_addr a;
	const char *path;
	size_t n;
	int r;

	memset(&a, 0, sizeof(a));
	if (strncmp(agent, ssh_prefix, sizeof(ssh_prefix) - 1) == 0) {
		a.ssh = true;
		r = parse_ssh(agent + sizeof(ssh_prefix) - 1, &a, err);
		if (r < 0)
			return r;
		*ret = a;
		return 0;
	}
	if (strncmp(agent, unix_prefix, sizeof(unix_prefix) - 1) != 0) {
		set_err(err, NULL, "expected unix:PATH or ssh://[USER@]HOST[/PATH]");
		return -EINVAL;
	}
	path = agent + sizeof(unix_prefix) - 1;
	n = strlen(path);
	if (n == 0) {
		set_err(err, NULL, "unix: needs a socket path");
		return -EINVAL;
	}
	if (n >= sizeof(a.path)) {
		set_err(err, NULL, "the path is too long for a unix socket");
		return -ENAMETOOLONG;
	}
	memcpy(a.path, path, n + 1);
	*ret = a;
	return 0;
}

int ctl_agent_path(const char *agent, char *ret_path, size_t cap)
{
	struct ctl_agent_addr a;
	struct ctl_error err;
	size_t n;
	int r;

	r = ctl_agent_parse(agent, &a, &err);
	if (r < 0)
		return r;
	if (a.ssh)
		return -EPROTONOSUPPORT;
	n = strlen(a.path);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(ret_path, a.path, n + 1);
	return 0;
}

static int new_client(int fd, int timeout_ms, struct ctl_client **ret)
{
	struct ctl_client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	*ret = c;
	return 0;
}

int ctl_client_connect(const char *path, int timeout_ms, struct ctl_client **ret,
		       struct ctl_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = mono_ms() + timeout_ms;
	socklen_t sl;
	int fd, r, soerr = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, NULL, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		set_err(err, "socket", strerror(-r));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r != -EINPROGRESS) {
			/* EAGAIN: the agent's listen backlog is full. */
			set_err(err, NULL, strerror(-r));
			goto fail;
		}
		r = sio_wait_for(fd, POLLOUT, deadline);
		sl = sizeof(soerr);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			r = -errno;
		if (r == 0 && soerr)
			r = -soerr;
		if (r < 0) {
			set_err(err, NULL, strerror(-r));
			goto fail;
		}
	}
	r = new_client(fd, timeout_ms, ret);
	if (r < 0) {
		set_err(err, NULL, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	close(fd);
	return r;
}

int ctl_client_adopt(int fd, int timeout_ms, struct ctl_client **ret)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return new_client(fd, timeout_ms, ret);
}

/* Reaps the ssh if it has exited, waiting up to ms for it: true when reaped. */
static bool reap_ssh(struct ctl_client *c, int ms)
{
	int64_t deadline = mono_ms() + ms;

	for (;;) {
		pid_t w = waitpid(c->ssh, &c->ssh_status, WNOHANG);

		if (w == c->ssh || (w < 0 && errno != EINTR)) {
			if (w < 0)
				c->ssh_status = -1;
			c->ssh = 0;
			return true;
		}
		if (mono_ms() >= deadline)
			return false;
		usleep(10000);
	}
}

void ctl_client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	/* EOF on its stdin ends the remote proxy, and so ssh; a hung one is ended. */
	if (c->ssh > 0 && !reap_ssh(c, 3000)) {
		kill(c->ssh, SIGTERM);
		if (!reap_ssh(c, 2000)) {
			kill(c->ssh, SIGKILL);
			while (waitpid(c->ssh, &c->ssh_status, 0) < 0 && errno == EINTR)
				;
		}
	}
	free(c->in.buf);
	free(c);
}

int ctl_client_fd(const struct ctl_client *c)
{
	return c->fd;
}

/* Runs ssh with one end of a socketpair as its stdin and stdout. */
static int open_ssh(struct ctl_agent_addr *a, int timeout_ms, struct ctl_client **ret,
		    struct ctl_error *err)
{
	char *env = getenv(CTL_SSH_ENV);
	char *prog = env && env[0] ? env : "ssh";
	char remote_agent[sizeof(a->path) + 8];
	char *argv[16];
	posix_spawn_file_actions_t fa;
	struct ctl_client *c;
	size_t n = 0;
	pid_t pid;
	int sv[2], r;

	snprintf(remote_agent, sizeof(remote_agent), "unix:%s", a->path);
	argv[n++] = prog;
	argv[n++] = "-T";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	if (a->user[0]) {
		argv[n++] = "-l";
		argv[n++] = a->user;
	}
	argv[n++] = a->host;
	argv[n++] = "--";
	argv[n++] = "vdpa-migrate";
	argv[n++] = "--agent";
	argv[n++] = remote_agent;
	argv[n++] = "proxy";
	argv[n] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		set_err(err, "socketpair", strerror(-r));
		return r;
	}
	r = -posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		posix_spawnattr_t at;

		/* dup2() clears close-on-exec on the copies: ssh keeps 0 and 1 only. */
		r = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
		if (r == 0)
			r = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
		/*
		 * A process group of its own: Ctrl-C on the terminal is ours to
		 * handle (a migration cancels cleanly and still needs the
		 * agent); ssh ends when we close its socket.
		 */
		if (r == 0 && (r = -posix_spawnattr_init(&at)) == 0) {
			r = -posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
			if (r == 0)
				r = -posix_spawnattr_setpgroup(&at, 0);
			if (r == 0)
				r = -posix_spawnp(&pid, prog, &fa, &at, argv, environ);
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	close(sv[1]);
	if (r < 0) {
		snprintf(err->message, sizeof(err->message), "cannot run %s: %s", prog, strerror(-r));
		err->field[0] = '\0';
		close(sv[0]);
		return r;
	}
	r = ctl_client_adopt(sv[0], timeout_ms, &c);
	if (r < 0) {
		set_err(err, NULL, strerror(-r));
		close(sv[0]);
		kill(pid, SIGTERM);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	c->ssh = pid;
	*ret = c;
	return 0;
}

int ctl_client_open(const char *agent, int timeout_ms, struct ctl_client **ret,
		    struct ctl_error *err)
{
	struct ctl_agent_addr a;
	int r;

	r = ctl_agent_parse(agent, &a, err);
	if (r < 0)
		return r;
	if (a.ssh)
		return open_ssh(&a, timeout_ms, ret, err);
	return ctl_client_connect(a.path, timeout_ms, ret, err);
}

static int send_all(struct ctl_client *c, const char *line, size_t len, int64_t deadline,
		    struct ctl_error *err)
{
	int r = sio_write_all(c->fd, line, len, deadline, NULL, NULL);

	if (r == -ETIMEDOUT) {
		snprintf(err->message, sizeof(err->message), "request not taken within %d ms",
			 c->timeout_ms);
		err->field[0] = '\0';
	} else if (r < 0) {
		set_err(err, "sending the request", strerror(-r));
	}
	return r;
}

/* After EOF from an ssh:// agent: how ssh ended, appended to err. */
static void ssh_gone(struct ctl_client *c, struct ctl_error *err)
{
	size_t n = strlen(err->message);
	int st;

	if (c->ssh <= 0 || !reap_ssh(c, 1000))
		return;
	st = c->ssh_status;
	if (st >= 0 && WIFEXITED(st))
		snprintf(err->message + n, sizeof(err->message) - n, " (ssh exited with status %d)",
			 WEXITSTATUS(st));
	else if (st >= 0 && WIFSIGNALED(st))
		snprintf(err->message + n, sizeof(err->message) - n, " (ssh killed by signal %d)",
			 WTERMSIG(st));
}

static int recv_line(struct ctl_client *c, int64_t deadline, char **ret_reply,
		     size_t *ret_len, struct ctl_error *err)
{
	size_t nl;
	char *line;
	int r = sio_read_line(c->fd, &c->in, BUF_MIN, BUF_MAX, deadline, NULL, &nl);

	if (r == -EMSGSIZE) {
		snprintf(err->message, sizeof(err->message), "reply is longer than %d bytes",
			 CTL_MAX_REPLY);
		err->field[0] = '\0';
		return r;
	}
	if (r == -ENOMEM) {
		set_err(err, NULL, strerror(ENOMEM));
		return r;
	}
	if (r == 0) {
		set_err(err, NULL, c->in.len ? "the agent closed the connection in the middle of a reply"
					     : "the agent closed the connection without replying");
		return -ECONNRESET;
	}
	if (r < 0 && !c->in.wait_failed) {
		set_err(err, "reading the reply", strerror(-r));
		return r;
	}
	if (r == -ETIMEDOUT) {
		snprintf(err->message, sizeof(err->message), "no reply within %d ms", c->timeout_ms);
		err->field[0] = '\0';
		return r;
	}
	if (r < 0) {
		set_err(err, "waiting for the reply", strerror(-r));
		return r;
	}

	line = malloc(nl + 1);
	if (!line) {
		set_err(err, NULL, strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(line, c->in.buf, nl);
	line[nl] = '\0';
	/* Keep what follows the line for the next call. */
	sio_line_drop(&c->in, nl + 1);
	*ret_reply = line;
	*ret_len = nl;
	return 0;
}

int ctl_client_exchange(struct ctl_client *c, const char *line, size_t len,
			char **ret_reply, size_t *ret_len, struct ctl_error *err)
{
	int64_t deadline = mono_ms() + c->timeout_ms;
	int r;

	if (c->broken) {
		set_err(err, NULL, "the connection failed earlier");
		return -ENOTCONN;
	}
	r = send_all(c, line, len, deadline, err);
	if (r == 0)
		r = recv_line(c, deadline, ret_reply, ret_len, err);
	/* The far end is gone; through ssh, ssh's exit says most about why. */
	if (r == -ECONNRESET || r == -EPIPE) {
		r = -ECONNRESET;
		ssh_gone(c, err);
	}
	if (r < 0 && r != -ENOMEM)
		c->broken = true;
	return r;
}

int ctl_client_call(struct ctl_client *c, const struct ctl_request *req,
		    struct json_object **ret_reply, struct ctl_error *err)
{
	char *line, *reply = NULL;
	size_t rlen = 0;
	int r;

	line = ctl_encode_request(req);
	if (!line) {
		r = -errno;
		set_err(err, "encoding the request", strerror(-r));
		return r;
	}
	r = ctl_client_exchange(c, line, strlen(line), &reply, &rlen, err);
	free(line);
	if (r < 0)
		return r;
	r = ctl_parse_reply(reply, rlen, ret_reply, err);
	free(reply);
	return r;
}

enum ctl_status ctl_client_status(int rc)
{
	switch (rc) {
	case 0:
		return CTL_STATUS_OK;
	case -EREMOTEIO:
		return CTL_STATUS_REFUSED;
	case -EBADMSG:
	case -EMSGSIZE:
		return CTL_STATUS_BAD_REPLY;
	default:
		return CTL_STATUS_UNAVAILABLE;
	}
}
