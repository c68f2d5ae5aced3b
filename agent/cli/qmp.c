// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * QMP client: a non-blocking socket, poll() against one CLOCK_MONOTONIC
 * deadline per call, a receive buffer that never grows past one line of
 * QMP_MAX_LINE bytes plus its "\r\n", and a bounded queue of events.
 *
 * Trust boundary: see qmp.h.  Lines are parsed strictly (json-c, depth
 * bounded); a message is classified by its members and nothing else of it
 * is interpreted here but the "id" of a reply, the class and desc of an
 * error and the name and data of an event.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/cli/qmp.h"
#include "agent/common/util.h"
#include "protocol/sock_io.h"
#include "protocol/text.h"

#define BUF_MAX ((size_t)QMP_MAX_LINE + 2)	/* a line and its "\r\n" */
#define BUF_MIN 4096

struct qmp {
	int fd;
	int broken;		/* 0, or the error that broke the stream */
	int64_t next_id;
	const volatile sig_atomic_t *interrupt;
	struct sio_line in;	/* bytes received and not yet taken */
	struct json_object *events[QMP_MAX_EVENTS];	/* oldest first */
	size_t nevents, dropped;
};

/* Not QMP's own error: no class. */
#define set_err(err, ...) \
	((err)->cls[0] = '\0', (void)errf((err)->desc, sizeof((err)->desc), 0, __VA_ARGS__))

static int send_all(struct qmp *q, const char *s, size_t len, int64_t deadline,
		    struct qmp_error *err)
{
	size_t off = 0;
	int r = sio_write_all(q->fd, s, len, deadline, q->interrupt, &off);

	if (r == -EPIPE || r == -ECONNRESET) {
		set_err(err, "QEMU closed the connection");
		return -ECONNRESET;
	}
	if (r == -ETIMEDOUT || r == -EINTR) {
		set_err(err, r == -EINTR ? "interrupted while sending a command"
					 : "QEMU does not take the command");
		/* Half a command on the wire: the stream is lost. */
		if (off)
			q->broken = r;
		return r;
	}
	if (r < 0)
		set_err(err, "sending a command: %s", strerror(-r));
	return r;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One complete JSON text; -EBADMSG when it is not, -ELOOP when too deep. */
static int parse_line(const char *s, size_t len, struct json_object **ret)
{
	struct json_tokener *tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	enum json_tokener_error e;
	struct json_object *o;
	int r = 0;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* len <= QMP_MAX_LINE: fits an int. */
	o = json_tokener_parse_ex(tok, s, (int)len);
	e = json_tokener_get_error(tok);
	if (e == json_tokener_success) {
		for (size_t end = json_tokener_get_parse_end(tok); end < len; end++)
			if (!is_ws(s[end])) {
				r = -EBADMSG;
				break;
			}
	} else {
		r = e == json_tokener_error_depth ? -ELOOP : -EBADMSG;
	}
	json_tokener_free(tok);
	if (r == 0 && !json_object_is_type(o, json_type_object))
		r = -EBADMSG;
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/*
 * The next message (a JSON object) within deadline.  Empty lines are
 * skipped.  Errors other than -ETIMEDOUT and -EINTR break the stream.
 */
static int next_message(struct qmp *q, int64_t deadline, struct json_object **ret,
			struct qmp_error *err)
{
	for (;;) {
		size_t llen, take;
		int r = sio_read_line(q->fd, &q->in, BUF_MIN, BUF_MAX, deadline, q->interrupt,
				      &llen);

		if (r == 1) {
			take = llen + 1;
			if (llen && q->in.buf[llen - 1] == '\r')
				llen--;
			if (llen > QMP_MAX_LINE) {
				set_err(err, "a message from QEMU is longer than %d bytes",
					QMP_MAX_LINE);
				return -EMSGSIZE;
			}
			r = 0;
			if (llen)
				r = parse_line(q->in.buf, llen, ret);
			sio_line_drop(&q->in, take);
			if (!llen)
				continue;
			if (r == -ENOMEM) {
				set_err(err, "%s", strerror(ENOMEM));
				return r;
			}
			if (r < 0) {
				set_err(err, "QEMU sent a line that is not a JSON object%s",
					r == -ELOOP ? " (nested too deeply)" : "");
				return -EBADMSG;
			}
			return 0;
		}
		if (r == -EMSGSIZE) {
			set_err(err, "a message from QEMU is longer than %d bytes", QMP_MAX_LINE);
			return r;
		}
		if (r == -ENOMEM) {
			set_err(err, "%s", strerror(ENOMEM));
			return r;
		}
		if (r == 0 || (r == -ECONNRESET && !q->in.wait_failed)) {
			set_err(err, "QEMU closed the connection");
			return -ECONNRESET;
		}
		if (!q->in.wait_failed) {
			set_err(err, "reading from QEMU: %s", strerror(-r));
			return r;
		}
		if (r == -ETIMEDOUT) {
			set_err(err, "QEMU did not answer in time");
			return r;
		}
		if (r == -EINTR) {
			set_err(err, "interrupted");
			return r;
		}
		set_err(err, "waiting for QEMU: %s", strerror(-r));
		return r;
	}
}

/* next_message() with the stream's state: a broken stream stays broken. */
static int read_message(struct qmp *q, int64_t deadline, struct json_object **ret,
			struct qmp_error *err)
{
	int r;

	if (q->broken) {
		set_err(err, "the QMP connection failed earlier");
		return -ENOTCONN;
	}
	r = next_message(q, deadline, ret, err);
	if (r < 0 && r != -ETIMEDOUT && r != -EINTR && r != -ENOMEM)
		q->broken = r;
	return r;
}

static bool is_event(struct json_object *o)
{
	struct json_object *e;

	return json_object_object_get_ex(o, "event", &e) && json_object_is_type(e, json_type_string);
}

static void queue_event(struct qmp *q, struct json_object *ev)
{
	if (q->nevents == QMP_MAX_EVENTS) {
		json_object_put(q->events[0]);
		memmove(q->events, q->events + 1, (QMP_MAX_EVENTS - 1) * sizeof(q->events[0]));
		q->nevents--;
		q->dropped++;
	}
	q->events[q->nevents++] = ev;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void qmp_set_interrupt(struct qmp *q, const volatile sig_atomic_t *flag)
{
	q->interrupt = flag;
}

int qmp_execute(struct qmp *q, const char *command, struct json_object *args, int timeout_ms,
		struct json_object **ret_return, struct qmp_error *err)
{
	int64_t deadline = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms), id;
	struct json_object *cmd;
	const char *json;
	char *line;
	size_t len;
	int r;

	if (q->broken) {
		json_object_put(args);
		set_err(err, "the QMP connection failed earlier");
		return -ENOTCONN;
	}
	if (args && !json_object_is_type(args, json_type_object)) {
		json_object_put(args);
		set_err(err, "%s: arguments must be an object", command);
		return -EINVAL;
	}
	cmd = json_object_new_object();
	if (!cmd) {
		json_object_put(args);
		set_err(err, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	id = ++q->next_id;
	json_object_object_add(cmd, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	json_object_object_add(cmd, "id", json_object_new_int64(id));
	json = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN);
	line = json ? malloc(strlen(json) + 2) : NULL;
	if (!line) {
		json_object_put(cmd);
		set_err(err, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	len = strlen(json);
	memcpy(line, json, len);
	line[len++] = '\n';
	json_object_put(cmd);
	r = send_all(q, line, len, deadline, err);
	free(line);
	if (r < 0) {
		if (r != -ETIMEDOUT && r != -EINTR)
			q->broken = r;
		return r;
	}

	for (;;) {
		struct json_object *m, *v, *e;

		r = read_message(q, deadline, &m, err);
		if (r < 0)
			return r;
		if (is_event(m)) {
			queue_event(q, m);
			continue;
		}
		/* A reply of a command that timed out earlier, or without id. */
		if (!json_object_object_get_ex(m, "id", &v) || !json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != id) {
			json_object_put(m);
			continue;
		}
		if (json_object_object_get_ex(m, "return", &v)) {
			if (ret_return)
				*ret_return = json_object_get(v);
			json_object_put(m);
			return 0;
		}
		if (json_object_object_get_ex(m, "error", &e) &&
		    json_object_is_type(e, json_type_object)) {
			text_show(str_member(e, "class"), SIZE_MAX, err->cls, sizeof(err->cls));
			text_show(str_member(e, "desc"), SIZE_MAX, err->desc, sizeof(err->desc));
			if (!err->desc[0])
				snprintf(err->desc, sizeof(err->desc), "%s failed", command);
			json_object_put(m);
			return -EREMOTEIO;
		}
		json_object_put(m);
		set_err(err, "QEMU's reply to %s has neither return nor error", command);
		q->broken = -EBADMSG;
		return -EBADMSG;
	}
}

/* Every member of match is in the event's data, with an equal value. */
static bool event_matches(struct json_object *ev, const char *name, struct json_object *match)
{
	struct json_object *data;
	const char *n = str_member(ev, "event");

	if (!n || strcmp(n, name) != 0)
		return false;
	if (!match)
		return true;
	if (!json_object_object_get_ex(ev, "data", &data) ||
	    !json_object_is_type(data, json_type_object))
		return false;
	json_object_object_foreach(match, key, want) {
		struct json_object *got;

		if (!json_object_object_get_ex(data, key, &got) || !json_object_equal(got, want))
			return false;
	}
	return true;
}

int qmp_wait_event(struct qmp *q, const char *name, struct json_object *match, int timeout_ms,
		   struct json_object **ret_event, struct qmp_error *err)
{
	int64_t deadline = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);

	for (size_t i = 0; i < q->nevents; i++) {
		struct json_object *ev = q->events[i];

		if (!event_matches(ev, name, match))
			continue;
		memmove(q->events + i, q->events + i + 1, (q->nevents - i - 1) * sizeof(q->events[0]));
		q->nevents--;
		if (ret_event)
			*ret_event = ev;
		else
			json_object_put(ev);
		return 0;
	}
	for (;;) {
		struct json_object *m;
		int r = read_message(q, deadline, &m, err);

		if (r == -ETIMEDOUT)
			set_err(err, "no %s event in time", name);
		if (r < 0)
			return r;
		if (!is_event(m)) {
			/* A late reply to a command that timed out. */
			json_object_put(m);
			continue;
		}
		if (!event_matches(m, name, match)) {
			queue_event(q, m);
			continue;
		}
		if (ret_event)
			*ret_event = m;
		else
			json_object_put(m);
		return 0;
	}
}

size_t qmp_queued_events(const struct qmp *q)
{
	return q->nevents;
}

size_t qmp_dropped_events(const struct qmp *q)
{
	return q->dropped;
}

int qmp_open_fd(int fd, int timeout_ms, struct qmp **ret, struct qmp_error *err)
{
	int64_t deadline = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	struct json_object *greeting = NULL, *v;
	struct qmp *q;
	int fl, r;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		set_err(err, "%s", strerror(-r));
		return r;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		set_err(err, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	q->fd = fd;

	r = read_message(q, deadline, &greeting, err);
	if (r == -ETIMEDOUT)
		set_err(err, "no QMP greeting in time");
	if (r < 0)
		goto fail;
	if (!json_object_object_get_ex(greeting, "QMP", &v) ||
	    !json_object_is_type(v, json_type_object)) {
		set_err(err, "the peer does not greet as QMP");
		r = -EPROTO;
		goto fail;
	}
	r = qmp_execute(q, "qmp_capabilities", NULL, (int)(deadline - mono_ms()), NULL, err);
	if (r < 0)
		goto fail;
	json_object_put(greeting);
	*ret = q;
	return 0;
fail:
	json_object_put(greeting);
	qmp_free(q);
	return r;
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, struct qmp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int fd, r;

	if (strncmp(path, "unix:", 5) == 0)
		path += 5;
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, "%s", path[0] ? "the path is too long for a unix socket"
					   : "no socket path");
		return path[0] ? -ENAMETOOLONG : -EINVAL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		set_err(err, "socket: %s", strerror(-r));
		return r;
	}
	/*
	 * Non-blocking: QEMU's QMP listener has a backlog of 1 and serves one
	 * client at a time, so with another client attached a blocking
	 * connect would wait for as long as that client stays.  A full
	 * backlog says EAGAIN: try again until the deadline.
	 */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left;

		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		r = -errno;
		if (r != -EAGAIN && r != -EINPROGRESS && r != -EINTR) {
			set_err(err, "%s", strerror(-r));
			close(fd);
			return r;
		}
		left = deadline - mono_ms();
		if (left <= 0) {
			set_err(err, "QEMU does not accept a QMP connection (another client "
				"attached?)");
			close(fd);
			return -ETIMEDOUT;
		}
		if (r == -EINPROGRESS) {
			int e = 0;
			socklen_t el = sizeof(e);

			if (poll(&p, 1, left > 100 ? 100 : (int)left) > 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
				break;
			if (e != 0 && e != EAGAIN) {
				set_err(err, "%s", strerror(e));
				close(fd);
				return -e;
			}
			continue;
		}
		poll(NULL, 0, 50);	/* EAGAIN: the backlog is full */
	}
	return qmp_open_fd(fd, (int)(deadline - mono_ms()), ret, err);
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	for (size_t i = 0; i < q->nevents; i++)
		json_object_put(q->events[i]);
	free(q->in.buf);
	free(q);
}
