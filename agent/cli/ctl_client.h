/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of the control socket: connect to an agent, send one
 * request line, read one reply line within a deadline, hand the reply to
 * the codec (protocol/control.h).  Used by vdpa-migrate; no output, no
 * exit(): every failure comes back as a negative errno and a reason in
 * struct ctl_error.
 *
 * Trust boundary: the reply bytes come from whatever listens on the socket.
 * They are bounded (CTL_MAX_REPLY) and time-bounded here, and checked by
 * ctl_parse_reply(); the members of a reply are checked by their reader
 * (agent/cli/render.c).
 */
#ifndef VDPA_AGENT_CTL_CLIENT_H
#define VDPA_AGENT_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/control.h"

#define CTL_DEFAULT_AGENT "unix:/run/vdpa-agent/control.sock"
#define CTL_AGENT_ENV "VDPA_AGENT"
#define CTL_CLIENT_TIMEOUT_MS 10000

/*
 * How a call ended, in the terms of vdpa-migrate's exit status (the
 * numbers are sysexits.h's where one fits).
 */
enum ctl_status {
	CTL_STATUS_OK = 0,
	CTL_STATUS_REFUSED = 1,		/* the agent answered ok:false */
	CTL_STATUS_UNAVAILABLE = 69,	/* EX_UNAVAILABLE: no agent, or the connection failed */
	CTL_STATUS_BAD_REPLY = 76,	/* EX_PROTOCOL: an answer that is not a reply */
};

#define CTL_SSH_DEFAULT_PATH "/run/vdpa-agent/control.sock"
#define CTL_SSH_ENV "VDPA_MIGRATE_SSH"
#define CTL_SSH_USER_MAX 32
#define CTL_SSH_HOST_MAX 253

/*
 * An agent address, parsed: "unix:PATH" (ssh false) or
 * "ssh://[USER@]HOST[/PATH]" (ssh true; path is the socket on HOST,
 * CTL_SSH_DEFAULT_PATH when not given).
 */
struct ctl_agent_addr {
	bool ssh;
	char user[CTL_SSH_USER_MAX + 1];	/* "" when not given */
	char host[CTL_SSH_HOST_MAX + 1];
	char path[108];				/* fits sun_path */
};

/*
 * Parses and checks an agent address.  What goes to a remote shell is
 * checked strictly: USER is [A-Za-z0-9_][A-Za-z0-9_.-]*, HOST is letters,
 * digits, '.', '-', '_' and ':' and does not start with '-' (nothing can
 * pass for an ssh option), the remote PATH is absolute and made of
 * letters, digits and "/._+,=@:-" only.
 *   -EINVAL        not an address of either form; err says why
 *   -ENAMETOOLONG  PATH, USER or HOST is too long
 */
int ctl_agent_parse(const char *agent, struct ctl_agent_addr *ret, struct ctl_error *err);

/*
 * The local socket of a "unix:PATH" address: writes PATH to ret_path (cap
 * bytes).  PATH must be non-empty and fit sun_path.
 *   -EPROTONOSUPPORT  a valid "ssh://..." address: there is no local path
 *                     (ctl_client_open() reaches it through ssh)
 *   -EINVAL           any other form, or a bad ssh:// address
 *   -ENAMETOOLONG     PATH does not fit sun_path or cap
 */
int ctl_agent_path(const char *agent, char *ret_path, size_t cap);

struct ctl_client;

/*
 * Connects to an agent by address: "unix:PATH", or "ssh://[USER@]HOST[/PATH]"
 * through the system's ssh (PATH defaults to /run/vdpa-agent/control.sock;
 * the remote end runs "vdpa-migrate --agent unix:PATH proxy", which joins
 * its stdio to the socket).  $VDPA_MIGRATE_SSH names another ssh program.
 * The ssh runs as
 *   ssh -T -o BatchMode=yes [-l USER] HOST -- vdpa-migrate --agent unix:PATH proxy
 * with a socketpair as its stdin and stdout and our stderr as its own;
 * ctl_client_free() reaps it.  When it exits before a reply, the call
 * fails with -ECONNRESET and err gives its exit status.
 *   -EINVAL / -ENAMETOOLONG  a bad address (err says why)
 *   other                    -errno of the connection (err says which step)
 */
int ctl_client_open(const char *agent, int timeout_ms, struct ctl_client **ret,
		    struct ctl_error *err);

/*
 * Connects to the unix socket at path.  timeout_ms bounds each call made
 * on the client (connect included); CLOCK_MONOTONIC.  -errno of socket()
 * or connect() on failure, with err saying which.
 */
int ctl_client_connect(const char *path, int timeout_ms, struct ctl_client **ret,
		       struct ctl_error *err);

/* Wraps a connected stream socket; takes fd (closed by ctl_client_free()). */
int ctl_client_adopt(int fd, int timeout_ms, struct ctl_client **ret);

/* Closes the connection; for ssh:// also waits for ssh to exit (a few
 * seconds at most, then ends it).  Takes NULL. */
void ctl_client_free(struct ctl_client *c);

/* The connected socket (still owned by c), for the proxy command. */
int ctl_client_fd(const struct ctl_client *c);

/*
 * Writes line (len bytes, ending in '\n') and reads one reply line.
 * *ret_reply is malloc'd and NUL-terminated, without its '\n';
 * *ret_len its length.  Several calls may follow on one client.
 *   -ETIMEDOUT   the deadline passed
 *   -ECONNRESET  the agent closed the connection before a full line (also
 *                when it was gone before the request was taken: EPIPE)
 *   -EMSGSIZE    the reply line is longer than CTL_MAX_REPLY
 *   other        -errno of send()/recv()/poll()
 * err says what happened in each case.
 */
int ctl_client_exchange(struct ctl_client *c, const char *line, size_t len,
			char **ret_reply, size_t *ret_len, struct ctl_error *err);

/*
 * One request: encode, exchange, ctl_parse_reply().  0 with *ret_reply
 * owned by the caller, or the error of either step (-EREMOTEIO: the agent
 * refused, err holds its error and field).
 */
int ctl_client_call(struct ctl_client *c, const struct ctl_request *req,
		    struct json_object **ret_reply, struct ctl_error *err);

/* The ctl_status of a return value of the functions above. */
enum ctl_status ctl_client_status(int rc);

#endif
