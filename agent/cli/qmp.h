/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QMP client (QEMU Machine Protocol) on a stream socket, for vdpa-migrate's
 * QMP mode: connect, read the greeting, leave capabilities negotiation,
 * execute commands and wait for their replies, wait for events.  No output
 * and no exit(): failures come back as a negative errno, with what QEMU (or
 * the transport) said in struct qmp_error.
 *
 * Every command carries an "id" (1, 2, 3, ... in the order of the calls);
 * a reply is matched to its command by it, so a reply that arrives after
 * its command timed out is recognised and dropped.  Events that arrive
 * while a reply is awaited are queued (at most QMP_MAX_EVENTS, the oldest
 * go first) for qmp_wait_event().
 *
 * Trust boundary: the bytes come from whatever listens on the socket.  A
 * line is at most QMP_MAX_LINE bytes, JSON nests at most QMP_MAX_DEPTH
 * levels, every wait has a CLOCK_MONOTONIC deadline; a message must be an
 * object with "QMP", "return", "error" or "event".  The members of a
 * "return" are the caller's to check.
 */
#ifndef VDPA_AGENT_QMP_H
#define VDPA_AGENT_QMP_H

#include <signal.h>
#include <stddef.h>

#include <json-c/json.h>

#define QMP_MAX_LINE (1 << 20)	/* bytes of one message, '\r\n' excluded */
#define QMP_MAX_DEPTH 32
#define QMP_MAX_EVENTS 64

struct qmp_error {
	char cls[64];		/* QMP's error class ("GenericError"), or "" */
	char desc[256];		/* QMP's desc, or what went wrong on the way */
};

struct qmp;

/*
 * Connects to the unix socket at path ("unix:" in front is allowed), reads
 * the greeting and runs qmp_capabilities, all within timeout_ms.
 *   -ENAMETOOLONG  path does not fit sun_path
 *   -EPROTO        the peer does not greet as QMP
 *   others         as qmp_execute(), or -errno of socket()/connect()
 */
int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, struct qmp_error *err);

/* The same on a connected stream socket; takes fd (closed by qmp_free()). */
int qmp_open_fd(int fd, int timeout_ms, struct qmp **ret, struct qmp_error *err);

void qmp_free(struct qmp *q);

/*
 * While *flag is non-zero a wait interrupted by a signal returns -EINTR
 * (install the handler without SA_RESTART); otherwise it goes on.
 */
void qmp_set_interrupt(struct qmp *q, const volatile sig_atomic_t *flag);

/*
 * Executes command with args (a JSON object or NULL; taken, also on
 * failure) and waits up to timeout_ms for its reply.  0 with *ret_return
 * (the "return" value, the caller's; ret_return may be NULL), or:
 *   -EREMOTEIO   QEMU answered with an error: err->cls and err->desc
 *   -ETIMEDOUT   no reply in time (the connection stays usable)
 *   -EINTR       interrupted (see qmp_set_interrupt; stays usable)
 *   -ECONNRESET  QEMU closed the connection
 *   -EMSGSIZE    a line longer than QMP_MAX_LINE
 *   -EBADMSG     a line that is not a QMP message
 *   -ENOTCONN    an earlier call broke the stream
 *   other        -errno of send()/recv()/poll(), -ENOMEM
 */
int qmp_execute(struct qmp *q, const char *command, struct json_object *args, int timeout_ms,
		struct json_object **ret_return, struct qmp_error *err);

/*
 * Waits up to timeout_ms for the event name whose "data" holds every member
 * of match (NULL: any data), taking the queue first.  0 with *ret_event
 * (the whole event object, the caller's; may be NULL), or the errors of
 * qmp_execute() but -EREMOTEIO.  Non-matching events stay queued.
 */
int qmp_wait_event(struct qmp *q, const char *name, struct json_object *match, int timeout_ms,
		   struct json_object **ret_event, struct qmp_error *err);

/* Events queued now, and events dropped because the queue was full. */
size_t qmp_queued_events(const struct qmp *q);
size_t qmp_dropped_events(const struct qmp *q);

#endif
