// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the QMP client (agent/cli/qmp.c).
 *
 * The input is what "QEMU" sends: it is written to one end of a
 * socketpair, whose write side is then shut down, and the client runs on
 * the other end through its public API, so the whole receive path is
 * exercised (buffering, line splitting, "\r\n", empty lines, the JSON
 * parse, classification of greeting, replies, events and errors):
 *   qmp_open_fd()                  greeting, qmp_capabilities (id 1)
 *   qmp_execute("query-status")    id 2
 *   qmp_wait_event("STOP")         any data
 *   qmp_wait_event("MIGRATION")    data {"status":"completed"}
 *   qmp_execute("query-migrate")   id 3, with arguments
 *   qmp_wait_event("RESUME")       any data
 * The input ends in EOF, so no wait ever reaches its deadline.  Beyond the
 * sanitizers it checks the client's promises:
 *   - every return is one of those documented in qmp.h;
 *   - err's strings are terminated and free of control characters;
 *   - a broken stream stays broken (-ENOTCONN; events queued before
 *     are still taken);
 *   - an event returned by qmp_wait_event() is the one asked for;
 *   - the event queue stays bounded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/cli/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (128u << 10)	/* fits a socketpair's buffer (with SO_SNDBUF raised) */
#define TIMEOUT_MS 2000		/* never reached: the input ends in EOF */

static void check_text(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	if (!end)
		abort();
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void check_err(const struct qmp_error *err, int r)
{
	check_text(err->cls, sizeof(err->cls));
	check_text(err->desc, sizeof(err->desc));
	if (r < 0 && !err->desc[0])
		abort();
	if (r != -EREMOTEIO && err->cls[0])
		abort();
}

/* The returns qmp.h documents for qmp_execute() and qmp_wait_event(). */
static void check_ret(int r, bool execute)
{
	switch (r) {
	case 0:
	case -ECONNRESET:
	case -EMSGSIZE:
	case -EBADMSG:
	case -ENOTCONN:
	case -ENOMEM:
		return;
	case -EREMOTEIO:
		if (execute)
			return;
		break;
	default:
		break;
	}
	abort();
}

static void check_queue(const struct qmp *q)
{
	if (qmp_queued_events(q) > QMP_MAX_EVENTS)
		abort();
}

/* A stream broken by r stays broken. */
static bool breaks(int r)
{
	return r < 0 && r != -EREMOTEIO && r != -ETIMEDOUT && r != -EINTR && r != -ENOMEM;
}

static int execute(struct qmp *q, const char *cmd, struct json_object *args, int *broken)
{
	struct qmp_error err;
	struct json_object *ret = NULL;
	int r;

	memset(&err, 0x55, sizeof(err));
	err.cls[sizeof(err.cls) - 1] = err.desc[sizeof(err.desc) - 1] = '\0';
	err.cls[0] = '\0';
	r = qmp_execute(q, cmd, args, TIMEOUT_MS, &ret, &err);
	check_ret(r, true);
	if (*broken && r != -ENOTCONN)
		abort();
	if (r == 0) {
		/* The "return" value, the caller's: serialize it like a caller would. */
		if (ret && !json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN))
			abort();
		json_object_put(ret);
	} else {
		if (ret)
			abort();
		check_err(&err, r);
	}
	if (breaks(r))
		*broken = r;
	check_queue(q);
	return r;
}

static int wait_event(struct qmp *q, const char *name, struct json_object *match, int *broken)
{
	struct qmp_error err;
	struct json_object *ev = NULL, *v, *data;
	size_t queued = qmp_queued_events(q);
	int r;

	memset(&err, 0, sizeof(err));
	r = qmp_wait_event(q, name, match, TIMEOUT_MS, &ev, &err);
	check_ret(r, false);
	/* On a broken stream only an event queued before it broke is found. */
	if (*broken && r != -ENOTCONN && (r != 0 || qmp_queued_events(q) != queued - 1))
		abort();
	if (r == 0) {
		if (!json_object_object_get_ex(ev, "event", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), name) != 0)
			abort();
		if (match) {
			if (!json_object_object_get_ex(ev, "data", &data))
				abort();
			json_object_object_foreach(match, key, want) {
				struct json_object *got;

				if (!json_object_object_get_ex(data, key, &got) ||
				    !json_object_equal(got, want))
					abort();
			}
		}
		json_object_put(ev);
	} else {
		check_err(&err, r);
	}
	if (breaks(r))
		*broken = r;
	check_queue(q);
	return r;
}

/* Writes what fits without blocking; the client reads it after the shutdown. */
static void feed(int fd, const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_error err;
	struct json_object *match;
	struct qmp *q = NULL;
	int sv[2], broken = 0, r, sndbuf = (int)MAX_INPUT * 2;

	if (size > MAX_INPUT)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	feed(sv[1], data, size);

	memset(&err, 0, sizeof(err));
	r = qmp_open_fd(sv[0], TIMEOUT_MS, &q, &err);
	if (r < 0) {
		if (q)
			abort();
		/* The capabilities command may fail too (-EREMOTEIO). */
		if (r != -EPROTO)
			check_ret(r, true);
		check_err(&err, r);
		close(sv[1]);
		return 0;
	}
	if (r != 0 || !q)
		abort();

	execute(q, "query-status", NULL, &broken);
	wait_event(q, "STOP", NULL, &broken);
	match = json_object_new_object();
	if (!match)
		abort();
	json_object_object_add(match, "status", json_object_new_string("completed"));
	wait_event(q, "MIGRATION", match, &broken);
	json_object_put(match);
	{
		struct json_object *args = json_object_new_object();

		if (!args)
			abort();
		json_object_object_add(args, "detail", json_object_new_boolean(1));
		execute(q, "query-migrate", args, &broken);
	}
	wait_event(q, "RESUME", NULL, &broken);
	(void)qmp_dropped_events(q);
	qmp_free(q);
	close(sv[1]);
	return 0;
}
