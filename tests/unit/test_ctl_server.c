/*
 * Unit tests for agent/daemon/ctl_server.c: a real server on a real loop in
 * a temporary runtime directory, driven over its unix socket the way
 * vdpa-migrate drives it (docs/control-protocol.md).  The ports it sees are
 * the test's own table holding one real port (endpoint=null), so the
 * replies carry what port.c really reports.  Single threaded: the test
 * steps the loop while it waits for a reply, every wait has a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/common/version.h"
#include "agent/daemon/ctl_server.h"
#include "agent/daemon/loop.h"
#include "agent/daemon/port.h"
#include "protocol/control.h"

#define WAIT_MS 3000

struct fixture {
	char dir[64];
	struct loop *loop;
	struct ctl_server *srv;
	struct port *ports[2];
	size_t nports;
	int adds, dels;
};

/* ---- the table of ports the server asks (the daemon's role) ---------- */

static size_t t_count(void *o)
{
	return ((struct fixture *)o)->nports;
}

static struct port *t_at(void *o, size_t i)
{
	return ((struct fixture *)o)->ports[i];
}

static struct port *t_find(void *o, const char *name)
{
	struct fixture *f = o;

	for (size_t i = 0; i < f->nports; i++)
		if (strcmp(port_config(f->ports[i])->name, name) == 0)
			return f->ports[i];
	return NULL;
}

static int t_add(void *o, const struct port_config *cfg, char *err, size_t errlen)
{
	struct fixture *f = o;

	(void)cfg;
	f->adds++;
	snprintf(err, errlen, "the test refuses to add ports");
	return -EPERM;
}

static int t_del(void *o, const char *name)
{
	struct fixture *f = o;

	(void)name;
	f->dels++;
	return -ENOENT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctl_ports cp;
	struct port_config pc;
	char spec[256], err[CONFIG_ERR_MAX] = "";

	assert_non_null(f);
	unsetenv("LISTEN_FDS");	/* bind our own socket, not an inherited one */
	snprintf(f->dir, sizeof(f->dir), "/tmp/vdpa-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(loop_new(&f->loop), 0);
	snprintf(spec, sizeof(spec), "name=p0,socket=%s/p0.sock,endpoint=null", f->dir);
	assert_int_equal(port_spec_parse(spec, &pc, err, sizeof(err)), 0);
	assert_int_equal(port_new(f->loop, &pc, PORT_FROM_CLI, &f->ports[0], err, sizeof(err)), 0);
	f->nports = 1;
	cp = (struct ctl_ports){ .opaque = f, .count = t_count, .at = t_at, .find = t_find,
				 .add = t_add, .del = t_del };
	assert_int_equal(ctl_server_new(f->loop, f->dir, &cp, &f->srv, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_server_free(f->srv);
	for (size_t i = 0; i < f->nports; i++)
		port_free(f->ports[i]);
	loop_free(f->loop);
	rmdir(f->dir);	/* fails (and says so in the next test) if a socket stayed */
	free(f);
	return 0;
}

/* ---- a client ---------------------------------------------------------- */

static int client(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_server_path(f->srv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends all of buf, stepping the loop while the socket is full. */
static void send_all(struct fixture *f, int fd, const char *buf, size_t len)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			assert_true(errno == EAGAIN || errno == EINTR);
			assert_true(now_ms() < deadline);
			assert_true(loop_iterate(f->loop, 10) >= 0);
			continue;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * Reads one line (without its '\n') into buf, stepping the server's loop
 * meanwhile.  Returns its length, 0 at EOF before any byte (or a reset,
 * which is how a close with unread bytes looks), never blocks past WAIT_MS.
 */
static size_t read_line(struct fixture *f, int fd, char *buf, size_t size)
{
	int64_t deadline = now_ms() + WAIT_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_true(now_ms() < deadline);
		if (poll(&pfd, 1, 0) <= 0) {
			assert_true(loop_iterate(f->loop, 10) >= 0);
			continue;
		}
		assert_true(len < size - 1);
		n = recv(fd, buf + len, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 && errno == ECONNRESET)
			n = 0;
		assert_true(n >= 0);
		if (n == 0) {
			assert_int_equal(len, 0);	/* no half line before a close */
			buf[0] = '\0';
			return 0;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return len;
		}
		len++;
	}
}

/* Sends one request line, returns the parsed reply (the caller puts it). */
static struct json_object *request(struct fixture *f, int fd, const char *line)
{
	static char reply[CTL_MAX_REPLY + 2];
	struct json_object *o;

	send_all(f, fd, line, strlen(line));
	assert_true(read_line(f, fd, reply, sizeof(reply)) > 0);
	o = json_tokener_parse(reply);
	assert_non_null(o);
	return o;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static bool ok(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

/* A request that must be answered ok; the reply is of no further interest. */
static void request_ok(struct fixture *f, int fd, const char *line)
{
	struct json_object *r = request(f, fd, line);

	assert_true(ok(r));
	json_object_put(r);
}

/* A request that must be refused with the blame on field. */
static void request_refused(struct fixture *f, int fd, const char *line, const char *field)
{
	struct json_object *r = request(f, fd, line);

	assert_false(ok(r));
	assert_string_equal(str(r, "field"), field);
	json_object_put(r);
}

/* ---- tests -------------------------------------------------------------- */

static void test_socket_mode(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(ctl_server_path(f->srv), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
}

static void test_version(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	struct json_object *r = request(f, fd, "{\"cmd\":\"version\"}\n");

	assert_true(ok(r));
	assert_string_equal(str(r, "version"), VDPA_MIGRATE_VERSION);
	json_object_put(r);
	close(fd);
}

static void test_ports_lists_the_real_port(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	struct json_object *r = request(f, fd, "{\"cmd\":\"ports\"}\n"), *arr, *p;
	char sock[128];

	assert_true(ok(r));
	assert_true(json_object_object_get_ex(r, "ports", &arr));
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_string_equal(str(p, "name"), "p0");
	snprintf(sock, sizeof(sock), "%s/p0.sock", f->dir);
	assert_string_equal(str(p, "socket"), sock);
	assert_string_equal(str(p, "endpoint"), "null");
	assert_string_equal(str(p, "backend"), "sw");
	assert_string_equal(str(p, "state"), "listening");
	json_object_put(r);

	/* Several requests on one connection, answered in order. */
	r = request(f, fd, "{\"cmd\":\"port-show\",\"name\":\"p0\"}\n");
	assert_true(ok(r));
	assert_true(json_object_object_get_ex(r, "port", &p));
	assert_string_equal(str(p, "name"), "p0");
	assert_string_equal(str(p, "engine"), "none");
	json_object_put(r);
	close(fd);
}

static void test_ports_when_none(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	struct json_object *r, *arr;
	size_t saved = f->nports;

	f->nports = 0;
	r = request(f, fd, "{\"cmd\":\"ports\"}\n");
	f->nports = saved;
	assert_true(ok(r));
	assert_true(json_object_object_get_ex(r, "ports", &arr));
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(r);
	close(fd);
}

static void test_port_show_missing(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	struct json_object *r = request(f, fd, "{\"cmd\":\"port-show\",\"name\":\"nope\"}\n");

	assert_false(ok(r));
	assert_string_equal(str(r, "field"), "name");
	assert_non_null(strstr(str(r, "error"), "nope"));
	json_object_put(r);

	/* port-switch and dirtylog-* of a missing port: the same field. */
	request_refused(f, fd, "{\"cmd\":\"port-switch\",\"name\":\"nope\",\"to\":\"sw\"}\n",
			"name");
	/* A port with no front end cannot switch: the blame is on "to". */
	request_refused(f, fd, "{\"cmd\":\"port-switch\",\"name\":\"p0\",\"to\":\"sw\"}\n",
			"to");
	close(fd);
}

static void test_bad_requests_keep_the_connection(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	struct json_object *r;

	r = request(f, fd, "{not json\n");
	assert_false(ok(r));
	assert_non_null(str(r, "error"));
	json_object_put(r);
	/* An unknown member is refused, with the member named. */
	r = request(f, fd, "{\"cmd\":\"ports\",\"name\":\"p0\"}\n");
	assert_false(ok(r));
	assert_non_null(str(r, "field"));
	json_object_put(r);
	request_refused(f, fd, "{\"cmd\":\"frobnicate\"}\n", "cmd");
	/* port-add reaches the table; its refusal is worded for the spec. */
	request_refused(f, fd, "{\"cmd\":\"port-add\",\"spec\":\"name=x\"}\n", "spec");
	/* Still served after all that. */
	request_ok(f, fd, "{\"cmd\":\"version\"}\n");
	close(fd);
}

static void test_oversized_line_closes_only_that_client(void **state)
{
	struct fixture *f = *state;
	size_t len = CTL_MAX_LINE + 1;
	char *big = malloc(len);
	char line[4096];
	struct json_object *r;
	int fd = client(f), other = client(f), again;

	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	send_all(f, fd, big, len);
	free(big);
	/* One error reply, then the close. */
	assert_true(read_line(f, fd, line, sizeof(line)) > 0);
	r = json_tokener_parse(line);
	assert_non_null(r);
	assert_false(ok(r));
	json_object_put(r);
	assert_int_equal(read_line(f, fd, line, sizeof(line)), 0);
	close(fd);

	/* The server lives: a client connected before, and one after. */
	request_ok(f, other, "{\"cmd\":\"version\"}\n");
	close(other);
	again = client(f);
	request_ok(f, again, "{\"cmd\":\"ports\"}\n");
	close(again);
}

static void test_client_gone_mid_line(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);

	send_all(f, fd, "{\"cmd\":\"vers", 12);
	close(fd);
	for (int i = 0; i < 5; i++)
		assert_true(loop_iterate(f->loop, 10) >= 0);
	fd = client(f);
	request_ok(f, fd, "{\"cmd\":\"version\"}\n");
	close(fd);
}

/*
 * A peer that is neither root nor in group vdpa-agent may read but not
 * change state.  SO_PEERCRED is taken at connect(), so a child drops to
 * nobody before it connects (the socket is opened to it for the test) and
 * hands the raw reply lines back through a pipe; the parent steps the loop.
 */
static void test_unprivileged_peer_is_refused(void **state)
{
	struct fixture *f = *state;
	struct group *g = getgrnam(CTL_GROUP);
	char out[2048] = "", *nl;
	size_t got = 0;
	int pfd[2], status;
	int64_t deadline;
	pid_t pid;

	if (geteuid() != 0 || (g && g->gr_gid == 65534)) {
		skip();
		return;
	}
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(ctl_server_path(f->srv), 0666), 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char req[] = "{\"cmd\":\"version\"}\n{\"cmd\":\"port-del\",\"name\":\"p0\"}\n";
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[2048];
		size_t n = 0, lines = 0;
		int fd;

		close(pfd[0]);
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(77);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_server_path(f->srv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(78);
		alarm(WAIT_MS / 1000 + 1);	/* never outlive the parent's patience */
		if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
			_exit(79);
		while (lines < 2 && n < sizeof(buf)) {
			ssize_t r = read(fd, buf + n, sizeof(buf) - n);

			if (r <= 0)
				_exit(80);
			for (ssize_t i = 0; i < r; i++)
				lines += buf[n + (size_t)i] == '\n';
			n += (size_t)r;
		}
		if (write(pfd[1], buf, n) != (ssize_t)n)
			_exit(81);
		_exit(0);
	}
	close(pfd[1]);
	deadline = now_ms() + WAIT_MS + 2000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("the unprivileged client did not finish");
		}
		assert_true(loop_iterate(f->loop, 10) >= 0);
	}
	for (ssize_t n; (n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0;)
		got += (size_t)n;
	close(pfd[0]);
	out[got] = '\0';
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {	/* no CAP_SETUID here */
		skip();
		return;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	{
		struct json_object *v = json_tokener_parse(out), *d = json_tokener_parse(nl + 1);

		assert_non_null(v);
		assert_non_null(d);
		assert_true(ok(v));		/* read-only: anyone */
		assert_false(ok(d));		/* port-del: refused */
		assert_string_equal(str(d, "field"), "cmd");
		assert_non_null(strstr(str(d, "error"), "permission denied"));
		json_object_put(v);
		json_object_put(d);
	}
	/* Refused before the table was asked. */
	assert_int_equal(f->dels, 0);
}

/* root may change state: the same port-del reaches the table. */
static void test_root_reaches_the_table(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);

	if (geteuid() != 0) {
		close(fd);
		skip();
		return;
	}
	request_refused(f, fd, "{\"cmd\":\"port-del\",\"name\":\"p0\"}\n", "name");
	assert_int_equal(f->dels, 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_lists_the_real_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_when_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_show_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests_keep_the_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_line_closes_only_that_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_mid_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unprivileged_peer_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_reaches_the_table, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
