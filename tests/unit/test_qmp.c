// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for agent/cli/qmp.c against a fake QMP server: a thread on the
 * other end of a socketpair plays a script (write a line, read the
 * client's line, wait for the test, close).  Covers the greeting and
 * qmp_capabilities, replies matched by id with events in between (queued
 * and found later, also by their data), late replies of timed-out commands,
 * error replies with their class and desc, garbage, a line at and over the
 * size limit, a closed connection, the bound of the event queue, and the
 * interrupt flag.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/cli/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": 1}\r\n"

enum op { W, R, PAUSE, BIG, CLOSE, END };

struct step {
	enum op op;
	const char *s;		/* W: the line; BIG: the filler's head */
	size_t n;		/* BIG: bytes in all */
};

struct server {
	int fd;
	const struct step *steps;
	pthread_t thread;
	sem_t go;		/* PAUSE waits for it */
	char got[8][512];	/* lines read by R */
	int ngot;
};

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void read_line(struct server *sv)
{
	char *dst = sv->ngot < 8 ? sv->got[sv->ngot] : NULL;
	size_t i = 0;
	char c;

	while (read(sv->fd, &c, 1) == 1 && c != '\n')
		if (dst && i + 1 < sizeof(sv->got[0]))
			dst[i++] = c;
	if (dst)
		dst[i] = '\0';
	sv->ngot++;
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	char c;

	for (const struct step *s = sv->steps; s->op != END; s++) {
		switch (s->op) {
		case W:
			write_all(sv->fd, s->s, strlen(s->s));
			break;
		case R:
			read_line(sv);
			break;
		case PAUSE:
			sem_wait(&sv->go);
			break;
		case BIG: {
			char *b = malloc(s->n);

			memset(b, 'x', s->n);
			memcpy(b, s->s, strlen(s->s));
			write_all(sv->fd, b, s->n);
			free(b);
			break;
		}
		case CLOSE:
			close(sv->fd);
			sv->fd = -1;
			return NULL;
		case END:
			break;
		}
	}
	/* Keep the line open until the client goes. */
	while (read(sv->fd, &c, 1) == 1)
		;
	return NULL;
}

/* Starts the server on one end; returns the client's end. */
static int server_start(struct server *sv, const struct step *steps)
{
	int p[2];

	memset(sv, 0, sizeof(*sv));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	sv->fd = p[1];
	sv->steps = steps;
	sem_init(&sv->go, 0, 0);
	assert_int_equal(pthread_create(&sv->thread, NULL, server_main, sv), 0);
	return p[0];
}

static void server_join(struct server *sv)
{
	pthread_join(sv->thread, NULL);
	if (sv->fd >= 0)
		close(sv->fd);
	sem_destroy(&sv->go);
}

static struct qmp *open_ok(struct server *sv, const struct step *steps)
{
	struct qmp_error err;
	struct qmp *q = NULL;

	assert_int_equal(qmp_open_fd(server_start(sv, steps), 2000, &q, &err), 0);
	assert_non_null(q);
	return q;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

/* ---- the tests ----------------------------------------------------------- */

static void handshake_and_events(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 },
		{ W, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n", 0 },
		{ W, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, \"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\r\n", 0 },
		{ W, "\r\n", 0 },
		{ W, "{\"return\": {\"status\": \"stale\"}, \"id\": 99}\r\n", 0 },
		{ W, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 4}, \"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}}\r\n", 0 },
		{ W, "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 2}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct json_object *ret = NULL, *ev = NULL, *match;
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, &ret, &err), 0);
	assert_string_equal(str_of(ret, "status"), "running");
	json_object_put(ret);
	assert_int_equal(qmp_queued_events(q), 3);

	/* The second MIGRATION event, by its data; the first stays queued. */
	match = json_object_new_object();
	json_object_object_add(match, "status", json_object_new_string("active"));
	assert_int_equal(qmp_wait_event(q, "MIGRATION", match, 0, &ev, &err), 0);
	json_object_put(match);
	assert_non_null(json_object_object_get(ev, "data"));
	assert_string_equal(str_of(json_object_object_get(ev, "data"), "status"), "active");
	json_object_put(ev);
	assert_int_equal(qmp_queued_events(q), 2);
	assert_int_equal(qmp_wait_event(q, "MIGRATION", NULL, 0, &ev, &err), 0);
	assert_string_equal(str_of(json_object_object_get(ev, "data"), "status"), "setup");
	json_object_put(ev);
	assert_int_equal(qmp_wait_event(q, "STOP", NULL, 0, NULL, &err), 0);
	assert_int_equal(qmp_queued_events(q), 0);
	qmp_free(q);
	server_join(&sv);

	/* What the client sent: capabilities first, then the command, with ids. */
	assert_int_equal(sv.ngot, 2);
	assert_non_null(strstr(sv.got[0], "\"execute\":\"qmp_capabilities\""));
	assert_non_null(strstr(sv.got[0], "\"id\":1"));
	assert_non_null(strstr(sv.got[1], "\"execute\":\"query-status\""));
	assert_non_null(strstr(sv.got[1], "\"id\":2"));
}

static void arguments_sent(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {}, \"id\": 2}\n", 0 },
		{ END, NULL, 0 },
	};
	struct json_object *args = json_object_new_object();
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	json_object_object_add(args, "uri", json_object_new_string("unix:/tmp/m.sock"));
	assert_int_equal(qmp_execute(q, "migrate", args, 2000, NULL, &err), 0);
	qmp_free(q);
	server_join(&sv);
	assert_string_equal(sv.got[1],
			    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:\\/tmp\\/m.sock\"},\"id\":2}");
}

static void error_reply(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 },
		{ W, "{\"id\": 2, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\\n\"}}\r\n", 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {}, \"id\": 3}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	assert_int_equal(qmp_execute(q, "nope", NULL, 2000, NULL, &err), -EREMOTEIO);
	assert_string_equal(err.cls, "CommandNotFound");
	/* QEMU's text, control characters made harmless. */
	assert_string_equal(err.desc, "The command nope has not been found?");
	/* An error reply leaves the connection usable. */
	assert_int_equal(qmp_execute(q, "stop", NULL, 2000, NULL, &err), 0);
	qmp_free(q);
	server_join(&sv);
}

static void not_qmp(void **state)
{
	static const struct step hello[] = {
		{ W, "{\"hello\": 1}\n", 0 }, { END, NULL, 0 },
	};
	static const struct step caps_refused[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 },
		{ W, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": 1}\n", 0 },
		{ END, NULL, 0 },
	};
	static const struct step silent[] = { { END, NULL, 0 } };
	struct qmp_error err;
	struct server sv;
	struct qmp *q = NULL;

	(void)state;
	assert_int_equal(qmp_open_fd(server_start(&sv, hello), 2000, &q, &err), -EPROTO);
	assert_null(q);
	server_join(&sv);
	assert_int_equal(qmp_open_fd(server_start(&sv, caps_refused), 2000, &q, &err), -EREMOTEIO);
	assert_string_equal(err.desc, "no");
	assert_null(q);
	server_join(&sv);
	assert_int_equal(qmp_open_fd(server_start(&sv, silent), 50, &q, &err), -ETIMEDOUT);
	assert_null(q);
	server_join(&sv);
}

static void garbage(void **state)
{
	static const struct step text[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "Connection refused, try again\n", 0 },
		{ END, NULL, 0 },
	};
	static const struct step array[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "[1, 2]\n", 0 }, { END, NULL, 0 },
	};
	static const struct step trailing[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {}, \"id\": 2} {}\n", 0 }, { END, NULL, 0 },
	};
	static const struct step neither[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "{\"id\": 2}\n", 0 }, { END, NULL, 0 },
	};
	const struct step *cases[] = { text, array, trailing, neither };
	struct qmp_error err;
	struct server sv;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct qmp *q = open_ok(&sv, cases[i]);

		assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, NULL, &err), -EBADMSG);
		/* The stream cannot be trusted any more. */
		assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, NULL, &err), -ENOTCONN);
		qmp_free(q);
		server_join(&sv);
	}
}

/* An event padded to exactly n bytes, "\r\n" not counted. */
static char *event_of_size(size_t n)
{
	static const char head[] = "{\"event\": \"PAD\", \"data\": {\"p\": \"";
	static const char tail[] = "\"}}\r\n";
	char *s = malloc(n + 3);

	memset(s, 'y', n + 2);
	memcpy(s, head, sizeof(head) - 1);
	memcpy(s + n - 3, tail, sizeof(tail));
	return s;
}

static void line_limit(void **state)
{
	char *at_limit = event_of_size(QMP_MAX_LINE), *over = event_of_size(QMP_MAX_LINE + 1);
	struct step fits[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, at_limit, 0 }, { W, "{\"return\": {}, \"id\": 2}\n", 0 },
		{ END, NULL, 0 },
	};
	struct step too_long[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, over, 0 }, { END, NULL, 0 },
	};
	struct step endless[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { BIG, "{\"return\": \"", (size_t)QMP_MAX_LINE * 3 }, { END, NULL, 0 },
	};
	struct qmp_error err;
	struct server sv;
	struct qmp *q;

	(void)state;
	q = open_ok(&sv, fits);
	assert_int_equal(qmp_execute(q, "query-status", NULL, 5000, NULL, &err), 0);
	assert_int_equal(qmp_queued_events(q), 1);
	qmp_free(q);
	server_join(&sv);

	q = open_ok(&sv, too_long);
	assert_int_equal(qmp_execute(q, "query-status", NULL, 5000, NULL, &err), -EMSGSIZE);
	qmp_free(q);
	server_join(&sv);

	/* No newline at all: the client stops reading at the limit. */
	q = open_ok(&sv, endless);
	assert_int_equal(qmp_execute(q, "query-status", NULL, 5000, NULL, &err), -EMSGSIZE);
	assert_int_equal(qmp_execute(q, "query-status", NULL, 5000, NULL, &err), -ENOTCONN);
	qmp_free(q);
	server_join(&sv);
	free(at_limit);
	free(over);
}

static void timeout_then_late_reply(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { PAUSE, NULL, 0 },
		{ W, "{\"return\": {\"status\": \"late\"}, \"id\": 2}\n", 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {\"status\": \"running\"}, \"id\": 3}\n", 0 },
		{ END, NULL, 0 },
	};
	struct json_object *ret = NULL;
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	assert_int_equal(qmp_execute(q, "query-status", NULL, 50, &ret, &err), -ETIMEDOUT);
	assert_null(ret);
	sem_post(&sv.go);
	/* The late reply (id 2) is not taken for the answer to id 3. */
	assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, &ret, &err), 0);
	assert_string_equal(str_of(ret, "status"), "running");
	json_object_put(ret);
	assert_int_equal(qmp_wait_event(q, "MIGRATION", NULL, 50, NULL, &err), -ETIMEDOUT);
	qmp_free(q);
	server_join(&sv);
}

static void closed(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {}, ", 0 }, { CLOSE, NULL, 0 },
		{ END, NULL, 0 },
	};
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, NULL, &err), -ECONNRESET);
	assert_int_equal(qmp_wait_event(q, "MIGRATION", NULL, 2000, NULL, &err), -ENOTCONN);
	qmp_free(q);
	server_join(&sv);
}

static void event_queue_bounded(void **state)
{
	enum { EXTRA = 5 };
	char lines[QMP_MAX_EVENTS + EXTRA][96];
	struct step steps[QMP_MAX_EVENTS + EXTRA + 6];
	struct json_object *ev, *match;
	struct qmp_error err;
	struct server sv;
	struct qmp *q;
	size_t n = 0;

	(void)state;
	steps[n++] = (struct step){ W, GREETING, 0 };
	steps[n++] = (struct step){ R, NULL, 0 };
	steps[n++] = (struct step){ W, CAPS_OK, 0 };
	steps[n++] = (struct step){ R, NULL, 0 };
	for (int i = 0; i < QMP_MAX_EVENTS + EXTRA; i++) {
		snprintf(lines[i], sizeof(lines[i]),
			 "{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": %d}}\n", i);
		steps[n++] = (struct step){ W, lines[i], 0 };
	}
	steps[n++] = (struct step){ W, "{\"return\": {}, \"id\": 2}\n", 0 };
	steps[n++] = (struct step){ END, NULL, 0 };
	q = open_ok(&sv, steps);
	assert_int_equal(qmp_execute(q, "query-migrate", NULL, 2000, NULL, &err), 0);
	assert_int_equal(qmp_queued_events(q), QMP_MAX_EVENTS);
	assert_int_equal(qmp_dropped_events(q), EXTRA);
	/* The oldest went first. */
	assert_int_equal(qmp_wait_event(q, "MIGRATION_PASS", NULL, 0, &ev, &err), 0);
	assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(ev, "data"), "pass")),
			 EXTRA);
	json_object_put(ev);
	match = json_object_new_object();
	json_object_object_add(match, "pass", json_object_new_int(2));
	assert_int_equal(qmp_wait_event(q, "MIGRATION_PASS", match, 0, NULL, &err), -ETIMEDOUT);
	json_object_put(match);
	qmp_free(q);
	server_join(&sv);
}

static void interrupt_flag(void **state)
{
	static const struct step steps[] = {
		{ W, GREETING, 0 }, { R, NULL, 0 }, { W, CAPS_OK, 0 },
		{ R, NULL, 0 }, { PAUSE, NULL, 0 }, { W, "{\"return\": {}, \"id\": 2}\n", 0 },
		{ R, NULL, 0 }, { W, "{\"return\": {}, \"id\": 3}\n", 0 },
		{ END, NULL, 0 },
	};
	static volatile sig_atomic_t flag;
	struct qmp_error err;
	struct server sv;
	struct qmp *q = open_ok(&sv, steps);

	(void)state;
	flag = 1;
	qmp_set_interrupt(q, &flag);
	assert_int_equal(qmp_execute(q, "query-migrate", NULL, 2000, NULL, &err), -EINTR);
	flag = 0;
	sem_post(&sv.go);
	assert_int_equal(qmp_execute(q, "migrate_cancel", NULL, 2000, NULL, &err), 0);
	qmp_free(q);
	server_join(&sv);
}

static void connect_path(void **state)
{
	struct qmp_error err;
	struct qmp *q = NULL;
	char longpath[200];

	(void)state;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(qmp_connect(longpath, 100, &q, &err), -ENAMETOOLONG);
	assert_int_equal(qmp_connect("unix:", 100, &q, &err), -EINVAL);
	assert_int_equal(qmp_connect("unix:/nonexistent/qmp.sock", 100, &q, &err), -ENOENT);
	assert_null(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_and_events),
		cmocka_unit_test(arguments_sent),
		cmocka_unit_test(error_reply),
		cmocka_unit_test(not_qmp),
		cmocka_unit_test(garbage),
		cmocka_unit_test(line_limit),
		cmocka_unit_test(timeout_then_late_reply),
		cmocka_unit_test(closed),
		cmocka_unit_test(event_queue_bounded),
		cmocka_unit_test(interrupt_flag),
		cmocka_unit_test(connect_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
