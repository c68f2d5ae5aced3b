// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for vdpa-migrate's output and its client I/O.
 *
 * Golden files: each tests/golden/X.json is an agent reply; read through
 * ctl_parse_reply() and rendered, it must give tests/golden/X.txt (human)
 * or X.j.txt (-j) byte for byte.  Run from the source root (make does);
 * GOLDEN_DIR overrides the directory.  UPDATE_GOLDEN=1 rewrites the .txt
 * files instead of comparing: review the diff before committing.
 *
 * Client I/O: agent/cli/ctl_client.c against a fake agent, a thread serving a
 * unix socket in a temporary directory with canned replies, for each way a
 * call ends (and the exit status vdpa-migrate gives it); plus buffering on
 * a socketpair.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/cli/ctl_client.h"
#include "agent/cli/render.h"
#include "agent/common/util.h"
#include "protocol/control.h"


/* ---- golden files ------------------------------------------------------ */

static const char *golden_dir(void)
{
	const char *d = getenv("GOLDEN_DIR");

	return d && d[0] ? d : "tests/golden";
}

/* The whole file, NUL-terminated; fails the test when it cannot be read. */
static char *slurp(const char *name, size_t *ret_len)
{
	char path[512];
	char *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s: %s (run from the source root or set GOLDEN_DIR)", path,
			 strerror(errno));
	for (;;) {
		size_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	assert_false(ferror(f));
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static struct json_object *load_reply(const char *name)
{
	struct json_object *obj = NULL;
	struct ctl_error err;
	size_t len;
	char *text = slurp(name, &len);

	if (ctl_parse_reply(text, len, &obj, &err) != 0)
		fail_msg("%s: %s", name, err.message);
	free(text);
	return obj;
}

static int json_renderer(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	(void)err;
	render_json_set_pretty(true);	/* the golden files are for people to read */
	return render_json(reply, f);
}

typedef int (*render_fn)(struct json_object *reply, FILE *f, struct ctl_error *err);

/* Renders into memory: the text, NUL-terminated. */
static char *render_mem(render_fn fn, struct json_object *reply, int *ret_rc,
			struct ctl_error *err, size_t *ret_len)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	*ret_rc = fn(reply, f, err);
	assert_int_equal(fclose(f), 0);
	*ret_len = len;
	return out;
}

static void check_golden(const char *json, render_fn fn, const char *txt)
{
	struct json_object *reply = load_reply(json);
	struct ctl_error err = { "", "" };
	size_t len, wlen;
	char *got, *want;
	int rc;

	got = render_mem(fn, reply, &rc, &err, &len);
	if (rc != 0)
		fail_msg("%s: render failed %d: %s", json, rc, err.message);
	if (getenv("UPDATE_GOLDEN")) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", golden_dir(), txt);
		f = fopen(path, "we");
		assert_non_null(f);
		assert_int_equal(fwrite(got, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	want = slurp(txt, &wlen);
	if (len != wlen || memcmp(got, want, len) != 0) {
		/* stderr directly: cmocka cuts long messages */
		fprintf(stderr, "--- want (%s)\n%s--- got\n%s---\n", txt, want, got);
		fail_msg("%s rendered differs from %s", json, txt);
	}
	free(want);
	free(got);
	json_object_put(reply);
}

static void golden_ports(void **state)
{
	(void)state;
	check_golden("ports.json", render_ports, "ports.txt");
	check_golden("ports-empty.json", render_ports, "ports-empty.txt");
}

/* Control characters from the agent never reach the terminal. */
static void golden_ports_hostile(void **state)
{
	(void)state;
	check_golden("ports-hostile.json", render_ports, "ports-hostile.txt");
}

static void golden_port_show(void **state)
{
	(void)state;
	check_golden("port-show.json", render_port_show, "port-show.txt");
	check_golden("port-show-idle.json", render_port_show, "port-show-idle.txt");
}

static void golden_port_add(void **state)
{
	(void)state;
	check_golden("port-add.json", render_port_added, "port-add.txt");
}

static void golden_json(void **state)
{
	(void)state;
	check_golden("ports.json", json_renderer, "ports.j.txt");
	check_golden("port-show.json", json_renderer, "port-show.j.txt");
	check_golden("port-del.json", json_renderer, "port-del.j.txt");
}

static void feature_names(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(render_feature_names(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	render_feature_names(UINT64_C(0x144018029), buf, sizeof(buf));
	assert_string_equal(buf, "bit0 MTU MAC MRG_RXBUF STATUS LOG_ALL PROTOCOL_FEATURES VERSION_1");
	render_feature_names((UINT64_C(1) << 21) | (UINT64_C(1) << 22) | (UINT64_C(1) << 28) |
			     (UINT64_C(1) << 29) | (UINT64_C(1) << 63), buf, sizeof(buf));
	assert_string_equal(buf, "GUEST_ANNOUNCE MQ INDIRECT_DESC EVENT_IDX bit63");
	/* Truncation is reported as snprintf() does. */
	assert_int_equal(render_feature_names(UINT64_C(0x28), buf, 4), 7);
	assert_string_equal(buf, "MTU");
}

/* A reply missing what a rendering needs prints nothing and says why. */
static void bad_replies_print_nothing(void **state)
{
	static const struct {
		render_fn fn;
		const char *reply;
		const char *message;
	} cases[] = {
		{ render_ports, "{\"ok\":true}", "reply: \"ports\" is missing or not an array" },
		{ render_ports, "{\"ok\":true,\"ports\":[1]}", "ports[0]: not an object" },
		{ render_ports,
		  "{\"ok\":true,\"ports\":[{\"name\":\"a\",\"socket\":\"/s\",\"backend\":\"sw\",\"endpoint\":\"null\",\"state\":\"running\",\"queues\":1},"
		  "{\"name\":\"b\",\"socket\":\"/s\",\"backend\":\"sw\",\"endpoint\":\"null\",\"state\":\"running\",\"queues\":-1}]}",
		  "ports[1]: \"queues\" is missing or not a non-negative integer" },
		{ render_ports,
		  "{\"ok\":true,\"ports\":[{\"name\":\"a\",\"socket\":\"/s\",\"backend\":\"sw\",\"endpoint\":\"null\",\"state\":\"running\",\"queues\":1.5}]}",
		  "ports[0]: \"queues\" is missing or not a non-negative integer" },
		{ render_ports,
		  "{\"ok\":true,\"ports\":[{\"socket\":\"/s\",\"backend\":\"sw\",\"endpoint\":\"null\",\"state\":\"running\",\"queues\":1}]}",
		  "ports[0]: \"name\" is missing or not a string" },
		{ render_port_added, "{\"ok\":true,\"port\":[]}", "reply: \"port\" is missing or not an object" },
		{ render_port_show, "{\"ok\":true}", "reply: \"port\" is missing or not an object" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *reply = NULL;
		struct ctl_error err;
		size_t len;
		char *out;
		int rc;

		assert_int_equal(ctl_parse_reply(cases[i].reply, strlen(cases[i].reply), &reply, &err), 0);
		out = render_mem(cases[i].fn, reply, &rc, &err, &len);
		assert_int_equal(rc, -EBADMSG);
		assert_string_equal(err.message, cases[i].message);
		assert_int_equal(len, 0);
		free(out);
		json_object_put(reply);
	}
}

/* port-show: each member it needs, taken out or spoiled in turn. */
static void bad_port_show_members(void **state)
{
	static const struct {
		const char *path;	/* "key" of the port, or "rings.key" of ring 3 */
		const char *value;	/* JSON, or NULL to delete */
		const char *message;
	} cases[] = {
		{ "spec", NULL, "port: \"spec\" is missing or not a string" },
		{ "features", "\"144018029\"", "port: \"features\" is missing or not a hex string" },
		{ "features", "\"0x\"", "port: \"features\" is missing or not a hex string" },
		{ "features", "\"0x1g\"", "port: \"features\" is missing or not a hex string" },
		{ "features", "\"0x00000000000000001\"", "port: \"features\" is missing or not a hex string" },
		{ "protocol_features", "5", "port: \"protocol_features\" is missing or not a string" },
		{ "log_all", "1", "port: \"log_all\" is missing or not a boolean" },
		{ "connections", NULL, "port: \"connections\" is missing or not a non-negative integer" },
		{ "rings", "{}", "port: \"rings\" is missing or not an array" },
		{ "mtu", "\"1500\"", "port: \"mtu\" is missing or not a non-negative integer" },
		{ "mac", "5", "port: \"mac\" is missing or not a string" },
		{ "rings.kicks", NULL, "rings[3]: \"kicks\" is missing or not a non-negative integer" },
		{ "rings.broken", "\"yes\"", "rings[3]: \"broken\" is missing or not a boolean" },
		{ "rings.reason", "7", "rings[3]: \"reason\" is missing or not a string" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *reply = load_reply("port-show.json"), *port, *target;
		const char *key = cases[i].path;
		struct ctl_error err;
		size_t len;
		char *out;
		int rc;

		assert_true(json_object_object_get_ex(reply, "port", &port));
		target = port;
		if (strncmp(key, "rings.", 6) == 0) {
			struct json_object *rings;

			assert_true(json_object_object_get_ex(port, "rings", &rings));
			target = json_object_array_get_idx(rings, 3);
			key += 6;
		}
		if (cases[i].value)
			json_object_object_add(target, key, json_tokener_parse(cases[i].value));
		else
			json_object_object_del(target, key);
		out = render_mem(render_port_show, reply, &rc, &err, &len);
		assert_int_equal(rc, -EBADMSG);
		assert_string_equal(err.message, cases[i].message);
		assert_int_equal(len, 0);
		free(out);
		json_object_put(reply);
	}
}

/* ---- the fake agent ---------------------------------------------------- */

enum fake_mode {
	FAKE_REPLY,		/* read a line, write the canned reply, close */
	FAKE_SILENT,		/* read a line, then wait for the client to go */
	FAKE_HANG_UP,		/* read a line, close without a word */
	FAKE_FLOOD,		/* read a line, write more than CTL_MAX_REPLY, no '\n' */
};

struct fake_agent {
	char dir[64];
	char path[108];
	int lfd;
	enum fake_mode mode;
	const char *reply;
	char got[4096];		/* the request line received, '\n' included */
	pthread_t thread;
};

static void *fake_main(void *arg)
{
	struct fake_agent *fa = arg;
	size_t len = 0;
	int fd = accept4(fa->lfd, NULL, NULL, SOCK_CLOEXEC);
	char sink[256];

	if (fd < 0)
		return NULL;
	while (len < sizeof(fa->got) - 1) {
		ssize_t n = read(fd, fa->got + len, 1);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (fa->got[len - 1] == '\n')
			break;
	}
	fa->got[len] = '\0';
	switch (fa->mode) {
	case FAKE_REPLY:
		(void)!send(fd, fa->reply, strlen(fa->reply), MSG_NOSIGNAL);
		break;
	case FAKE_SILENT:
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		break;
	case FAKE_HANG_UP:
		break;
	case FAKE_FLOOD:
		memset(sink, 'x', sizeof(sink));
		for (size_t sent = 0; sent <= CTL_MAX_REPLY + sizeof(sink);) {
			ssize_t n = send(fd, sink, sizeof(sink), MSG_NOSIGNAL);

			if (n <= 0)
				break;	/* the client gave up: EPIPE */
			sent += (size_t)n;
		}
		break;
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake_agent *fa, enum fake_mode mode, const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(fa, 0, sizeof(*fa));
	strcpy(fa->dir, "/tmp/test_cli_render.XXXXXX");
	assert_non_null(mkdtemp(fa->dir));
	snprintf(fa->path, sizeof(fa->path), "%s/control.sock", fa->dir);
	strcpy(sa.sun_path, fa->path);
	fa->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fa->lfd >= 0);
	assert_int_equal(bind(fa->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fa->lfd, 4), 0);
	fa->mode = mode;
	fa->reply = reply;
	assert_int_equal(pthread_create(&fa->thread, NULL, fake_main, fa), 0);
}

static void fake_stop(struct fake_agent *fa)
{
	pthread_join(fa->thread, NULL);
	close(fa->lfd);
	unlink(fa->path);
	rmdir(fa->dir);
}

/*
 * One request to a fake agent the way vdpa-migrate makes it: returns the
 * call's result; *ret_status is the exit status it maps to.
 */
static int call_fake(struct fake_agent *fa, const struct ctl_request *req, int timeout_ms,
		     struct json_object **ret_reply, struct ctl_error *err, int *ret_status)
{
	struct ctl_client *c = NULL;
	char agent[160], path[108];
	int r;

	snprintf(agent, sizeof(agent), "unix:%s", fa->path);
	assert_int_equal(ctl_agent_path(agent, path, sizeof(path)), 0);
	r = ctl_client_connect(path, timeout_ms, &c, err);
	if (r == 0) {
		r = ctl_client_call(c, req, ret_reply, err);
		ctl_client_free(c);
	}
	*ret_status = (int)ctl_client_status(r);
	return r;
}

static void client_reply_ok(void **state)
{
	static const struct ctl_request req = { .cmd = CTL_CMD_PORTS };
	struct json_object *reply = NULL;
	struct ctl_error err;
	struct fake_agent fa;
	size_t len, wlen;
	char *line, *out, *want;
	int status, rc;

	(void)state;
	line = slurp("ports.json", &len);
	/* On the wire a reply is one line. */
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	line[len - 1] = '\n';
	fake_start(&fa, FAKE_REPLY, line);
	assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status), 0);
	fake_stop(&fa);
	assert_int_equal(status, 0);
	assert_string_equal(fa.got, "{\"cmd\":\"ports\"}\n");
	out = render_mem(render_ports, reply, &rc, &err, &len);
	assert_int_equal(rc, 0);
	want = slurp("ports.txt", &wlen);
	assert_string_equal(out, want);
	free(want);
	free(out);
	free(line);
	json_object_put(reply);
}

static void client_agent_refuses(void **state)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };
	struct json_object *reply = NULL;
	struct ctl_error err;
	struct fake_agent fa;
	int status;

	(void)state;
	strcpy(req.name, "nope");
	fake_start(&fa, FAKE_REPLY, "{\"ok\":false,\"error\":\"no port named 'nope'\",\"field\":\"name\"}\n");
	assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status), -EREMOTEIO);
	fake_stop(&fa);
	assert_string_equal(fa.got, "{\"cmd\":\"port-show\",\"name\":\"nope\"}\n");
	assert_int_equal(status, 1);
	assert_null(reply);
	assert_string_equal(err.message, "no port named 'nope'");
	assert_string_equal(err.field, "name");
}

static void client_garbage_reply(void **state)
{
	static const struct ctl_request req = { .cmd = CTL_CMD_VERSION };
	static const struct {
		const char *reply;
		const char *message;
	} cases[] = {
		{ "SSH-2.0-OpenSSH_9.2\r\n", "reply is not valid JSON" },
		{ "{\"version\":\"0.1.0\"}\n", "reply has no boolean \"ok\"" },
		{ "\n", "reply is not valid JSON" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *reply = NULL;
		struct ctl_error err;
		struct fake_agent fa;
		int status;

		fake_start(&fa, FAKE_REPLY, cases[i].reply);
		assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status),
				 -EBADMSG);
		fake_stop(&fa);
		assert_int_equal(status, 76);
		assert_null(reply);
		assert_string_equal(err.message, cases[i].message);
	}
}

static void client_reply_too_long(void **state)
{
	static const struct ctl_request req = { .cmd = CTL_CMD_PORTS };
	struct json_object *reply = NULL;
	struct ctl_error err;
	struct fake_agent fa;
	int status;

	(void)state;
	fake_start(&fa, FAKE_FLOOD, NULL);
	assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status), -EMSGSIZE);
	fake_stop(&fa);
	assert_int_equal(status, 76);
	assert_string_equal(err.message, "reply is longer than 1048576 bytes");
}

static void client_no_socket(void **state)
{
	struct ctl_client *c = NULL;
	struct ctl_error err;
	char dir[] = "/tmp/test_cli_render.XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	r = ctl_client_connect(path, CTL_CLIENT_TIMEOUT_MS, &c, &err);
	assert_int_equal(r, -ENOENT);
	assert_null(c);
	assert_int_equal(ctl_client_status(r), 69);
	assert_string_equal(err.message, "No such file or directory");

	/* A socket file nobody listens on (an agent that died). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	r = ctl_client_connect(path, CTL_CLIENT_TIMEOUT_MS, &c, &err);
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(ctl_client_status(r), 69);
	unlink(path);
	rmdir(dir);
}

static void client_timeout(void **state)
{
	static const struct ctl_request req = { .cmd = CTL_CMD_PORTS };
	struct json_object *reply = NULL;
	struct ctl_error err;
	struct fake_agent fa;
	int status;

	(void)state;
	fake_start(&fa, FAKE_SILENT, NULL);
	assert_int_equal(call_fake(&fa, &req, 200, &reply, &err, &status), -ETIMEDOUT);
	fake_stop(&fa);
	assert_int_equal(status, 69);
	assert_string_equal(err.message, "no reply within 200 ms");
}

static void client_hang_up(void **state)
{
	static const struct ctl_request req = { .cmd = CTL_CMD_PORTS };
	struct json_object *reply = NULL;
	struct ctl_error err;
	struct fake_agent fa;
	int status;

	(void)state;
	fake_start(&fa, FAKE_HANG_UP, NULL);
	assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status), -ECONNRESET);
	fake_stop(&fa);
	assert_int_equal(status, 69);
	assert_string_equal(err.message, "the agent closed the connection without replying");

	/* Half a reply, then the end of the stream. */
	fake_start(&fa, FAKE_REPLY, "{\"ok\":tr");
	assert_int_equal(call_fake(&fa, &req, CTL_CLIENT_TIMEOUT_MS, &reply, &err, &status), -ECONNRESET);
	fake_stop(&fa);
	assert_int_equal(status, 69);
	assert_string_equal(err.message, "the agent closed the connection in the middle of a reply");
}

/* Two calls on one connection: replies that arrived together are split. */
static void client_two_calls_one_connection(void **state)
{
	static const char replies[] = "{\"ok\":true,\"version\":\"1\"}\n{\"ok\":true,\"version\":\"2\"}\n";
	struct ctl_request req = { .cmd = CTL_CMD_VERSION };
	struct json_object *reply = NULL, *v;
	struct ctl_client *c = NULL;
	struct ctl_error err;
	char got[128];
	ssize_t n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], replies, strlen(replies)), (ssize_t)strlen(replies));
	assert_int_equal(ctl_client_adopt(sv[0], 1000, &c), 0);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(ctl_client_call(c, &req, &reply, &err), 0);
		assert_true(json_object_object_get_ex(reply, "version", &v));
		assert_int_equal(atoi(json_object_get_string(v)), i);
		json_object_put(reply);
	}
	n = read(sv[1], got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "{\"cmd\":\"version\"}\n{\"cmd\":\"version\"}\n");
	/* Nothing left: the third call times out, and the client is then broken. */
	assert_int_equal(ctl_client_call(c, &req, &reply, &err), -ETIMEDOUT);
	assert_int_equal(ctl_client_call(c, &req, &reply, &err), -ENOTCONN);
	ctl_client_free(c);
	close(sv[1]);
}

static void agent_addresses(void **state)
{
	char path[108], longp[200];

	(void)state;
	assert_int_equal(ctl_agent_path("unix:/run/vdpa-agent/control.sock", path, sizeof(path)), 0);
	assert_string_equal(path, "/run/vdpa-agent/control.sock");
	assert_int_equal(ctl_agent_path("unix:rel.sock", path, sizeof(path)), 0);
	assert_string_equal(path, "rel.sock");
	/* A valid ssh:// address has no local path; a bad one is just bad. */
	assert_int_equal(ctl_agent_path("ssh://host/run/x", path, sizeof(path)), -EPROTONOSUPPORT);
	assert_int_equal(ctl_agent_path("ssh://-oProxyCommand=x", path, sizeof(path)), -EINVAL);
	assert_int_equal(ctl_agent_path("/run/vdpa-agent/control.sock", path, sizeof(path)), -EINVAL);
	assert_int_equal(ctl_agent_path("unix:", path, sizeof(path)), -EINVAL);
	assert_int_equal(ctl_agent_path("UNIX:/x", path, sizeof(path)), -EINVAL);
	assert_int_equal(ctl_agent_path("", path, sizeof(path)), -EINVAL);
	snprintf(longp, sizeof(longp), "unix:/%0108d", 0);
	assert_int_equal(ctl_agent_path(longp, path, sizeof(path)), -ENAMETOOLONG);
}

static void ssh_addresses(void **state)
{
	static const struct {
		const char *agent;
		int rc;
		const char *user, *host, *path;
	} cases[] = {
		{ "ssh://host", 0, "", "host", CTL_SSH_DEFAULT_PATH },
		{ "ssh://host/", 0, "", "host", CTL_SSH_DEFAULT_PATH },
		{ "ssh://root@kvm-2.example.org/run/a/control.sock", 0, "root", "kvm-2.example.org",
		  "/run/a/control.sock" },
		{ "ssh://op_1@10.0.0.2/x", 0, "op_1", "10.0.0.2", "/x" },
		{ "ssh://fe80::1", 0, "", "fe80::1", CTL_SSH_DEFAULT_PATH },
		/* nothing that ssh could take for an option, or a shell for syntax */
		{ "ssh://-oProxyCommand=x", -EINVAL, NULL, NULL, NULL },
		{ "ssh://-host", -EINVAL, NULL, NULL, NULL },
		{ "ssh://-l@host", -EINVAL, NULL, NULL, NULL },
		{ "ssh://.u@host", -EINVAL, NULL, NULL, NULL },
		{ "ssh://host;reboot", -EINVAL, NULL, NULL, NULL },
		{ "ssh://host name", -EINVAL, NULL, NULL, NULL },
		{ "ssh://$(id)", -EINVAL, NULL, NULL, NULL },
		{ "ssh://u@", -EINVAL, NULL, NULL, NULL },
		{ "ssh://@host", -EINVAL, NULL, NULL, NULL },
		{ "ssh:///run/x", -EINVAL, NULL, NULL, NULL },
		{ "ssh://a@b@c", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/x;y", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/`id`", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/a b", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/'a'", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/a\nb", -EINVAL, NULL, NULL, NULL },
		{ "ssh://h/run/*", -EINVAL, NULL, NULL, NULL },
	};
	struct ctl_agent_addr a;
	struct ctl_error err;
	char longp[400];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = ctl_agent_parse(cases[i].agent, &a, &err);

		if (rc != cases[i].rc)
			fail_msg("%s: %d, expected %d", cases[i].agent, rc, cases[i].rc);
		if (rc < 0) {
			assert_true(err.message[0] != '\0');
			continue;
		}
		assert_true(a.ssh);
		assert_string_equal(a.user, cases[i].user);
		assert_string_equal(a.host, cases[i].host);
		assert_string_equal(a.path, cases[i].path);
	}
	assert_int_equal(ctl_agent_parse("unix:/x", &a, &err), 0);
	assert_false(a.ssh);
	assert_string_equal(a.path, "/x");
	snprintf(longp, sizeof(longp), "ssh://h/%0120d", 0);
	assert_int_equal(ctl_agent_parse(longp, &a, &err), -ENAMETOOLONG);
	snprintf(longp, sizeof(longp), "ssh://%0300d", 0);
	assert_int_equal(ctl_agent_parse(longp, &a, &err), -ENAMETOOLONG);
}

/* A fake ssh: a script in a temporary directory, named by $VDPA_MIGRATE_SSH. */
static char ssh_dir[64];

static void fake_ssh(const char *body)
{
	char path[128];
	FILE *f;

	snprintf(ssh_dir, sizeof(ssh_dir), "/tmp/test-ssh.XXXXXX");
	assert_non_null(mkdtemp(ssh_dir));
	snprintf(path, sizeof(path), "%s/ssh", ssh_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nprintf '%%s\\n' \"$*\" >%s/args\n%s\n", ssh_dir, body);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(setenv("VDPA_MIGRATE_SSH", path, 1), 0);
}

static void fake_ssh_done(void)
{
	char cmd[128];

	unsetenv("VDPA_MIGRATE_SSH");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ssh_dir);
	assert_int_equal(system(cmd), 0);
}

static char *slurp_path(const char *path)
{
	static char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ssh gets exactly its command line; the exchange runs over its stdio. */
static void ssh_client_call(void **state)
{
	struct ctl_request req = { .cmd = CTL_CMD_VERSION };
	struct json_object *reply = NULL, *v;
	struct ctl_client *c = NULL;
	struct ctl_error err = { "", "" };
	char path[128];

	(void)state;
	fake_ssh("read line; printf '{\"ok\":true,\"version\":\"9.9\"}\\n'; read line");
	assert_int_equal(ctl_client_open("ssh://op@h1.example/run/a.sock", 5000, &c, &err), 0);
	assert_int_equal(ctl_client_call(c, &req, &reply, &err), 0);
	assert_true(json_object_object_get_ex(reply, "version", &v));
	assert_string_equal(json_object_get_string(v), "9.9");
	json_object_put(reply);
	ctl_client_free(c);
	/* Reaped: no child of ours is left, not even a zombie. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	snprintf(path, sizeof(path), "%s/args", ssh_dir);
	assert_string_equal(slurp_path(path), "-T -o BatchMode=yes -l op h1.example -- vdpa-migrate "
			    "--agent unix:/run/a.sock proxy\n");
	fake_ssh_done();
}

/* ssh that exits before replying: ECONNRESET, its status, no zombie. */
static void ssh_exits_early(void **state)
{
	struct ctl_request req = { .cmd = CTL_CMD_VERSION };
	struct json_object *reply = NULL;
	struct ctl_client *c = NULL;
	struct ctl_error err = { "", "" };

	(void)state;
	fake_ssh("exit 7");
	assert_int_equal(ctl_client_open("ssh://h1", 5000, &c, &err), 0);
	assert_int_equal(ctl_client_call(c, &req, &reply, &err), -ECONNRESET);
	if (!strstr(err.message, "(ssh exited with status 7)"))
		fail_msg("message: %s", err.message);
	ctl_client_free(c);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	fake_ssh_done();
	/* An ssh that cannot be run at all. */
	setenv("VDPA_MIGRATE_SSH", "/nonexistent/ssh", 1);
	assert_int_equal(ctl_client_open("ssh://h1", 5000, &c, &err), -ENOENT);
	assert_non_null(strstr(err.message, "cannot run /nonexistent/ssh"));
	unsetenv("VDPA_MIGRATE_SSH");
	/* A bad address runs nothing. */
	assert_int_equal(ctl_client_open("ssh://-oProxyCommand=x", 5000, &c, &err), -EINVAL);
}

/* port-show of a newer agent: the offer and the migration state. */
static void port_show_migration(void **state)
{
	static const char reply[] =
		"{\"ok\":true,\"port\":{\"name\":\"p0\",\"socket\":\"/s\",\"backend\":\"sw\","
		"\"endpoint\":\"null\",\"state\":\"connected\",\"queues\":1,\"spec\":\"name=p0\","
		"\"offered_features\":\"0x170000000\",\"offered_protocol_features\":\"0x1f\","
		"\"max_ring_size\":32768,\"features\":\"0x100000000\",\"protocol_features\":\"0x0\","
		"\"migration\":{\"quiesced\":true,\"final_harvest\":false,\"handed_over\":"
		"[{\"ring\":0,\"next_avail\":17},{\"ring\":1,\"next_avail\":3}]},"
		"\"log_all\":true,\"connections\":1,\"rings\":[]}}";
	struct json_object *o = NULL, *p;
	struct ctl_error err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(ctl_parse_reply(reply, strlen(reply), &o, &err), 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(render_port_show(o, f, &err), 0);
	fclose(f);
	if (!strstr(buf, "\noffered_features:  0x0000000170000000 INDIRECT"))
		print_message("%s", buf);
	assert_non_null(strstr(buf, "\noffered_features:  0x0000000170000000 INDIRECT_DESC EVENT_IDX PROTOCOL_FEATURES VERSION_1\n"
				    "max_ring_size:     32768\n"));
	assert_non_null(strstr(buf, "\nquiesced:          yes\nfinal_harvest:     no\n"
				    "handed_over:       ring 0 at 17, ring 1 at 3\n"));
	free(buf);
	/* A migration member of the wrong shape is a bad reply. */
	json_object_object_get_ex(o, "port", &p);
	json_object_object_add(p, "migration", json_object_new_string("yes"));
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(render_port_show(o, f, &err), -EBADMSG);
	fclose(f);
	assert_int_equal(len, 0);
	free(buf);
	json_object_put(o);
}

/*
 * port-show of a port on an accelerator: the device's features, and the
 * ring-layout features it lacks by name (text), and names beside both
 * words (JSON).
 */
static void port_show_accel_features(void **state)
{
	static const char reply[] =
		"{\"ok\":true,\"port\":{\"name\":\"p0\",\"socket\":\"/s\",\"backend\":\"accel\","
		"\"endpoint\":\"null\",\"state\":\"running\",\"queues\":1,\"spec\":\"name=p0\","
		"\"offered_features\":\"0x170000000\",\"offered_protocol_features\":\"0x1f\","
		"\"max_ring_size\":32768,\"features\":\"0x100000000\",\"protocol_features\":\"0x0\","
		"\"migration\":{\"quiesced\":false,\"final_harvest\":false,\"handed_over\":[]},"
		"\"log_all\":false,\"connections\":1,\"engine\":\"accel\",\"fallbacks\":0,"
		"\"last_switch_us\":0,"
		"\"accel\":{\"device\":\"vhost-vdpa:/dev/vhost-vdpa-0\",\"harvest_rounds\":0,"
		"\"harvest_pages\":0,\"last_round_pages\":0,\"dirty_rate_pps\":0,"
		"\"last_harvest_ms_ago\":null,\"switchover_us\":0,\"device_stops\":0,"
		"\"device_starts\":1,\"stop_us\":0,\"harvest_us\":0,\"bases_us\":0,\"map_us\":9,"
		"\"config_us\":8,\"start_us\":7,\"device_features\":\"0x1000000020\","
		"\"unserved_features\":\"0x30008000\"},\"rings\":[]}}";
	struct json_object *o = NULL;
	struct ctl_error err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(ctl_parse_reply(reply, strlen(reply), &o, &err), 0);
	f = open_memstream(&buf, &len);
	if (render_port_show(o, f, &err) != 0)
		fail_msg("render_port_show: %s", err.message);
	fclose(f);
	if (!strstr(buf, "not on device:"))
		print_message("%s", buf);
	assert_non_null(strstr(buf, "\ndevice:            vhost-vdpa:/dev/vhost-vdpa-0\n"
				    "device features:   0x0000001000000020\n"
				    "not on device:     0x0000000030008000 MRG_RXBUF INDIRECT_DESC "
				    "EVENT_IDX\n"));
	free(buf);
	buf = NULL;
	render_json_set_pretty(false);
	f = open_memstream(&buf, &len);
	assert_int_equal(render_json(o, f), 0);
	fclose(f);
	if (!strstr(buf, "unserved_feature_names"))
		print_message("%s", buf);
	assert_non_null(strstr(buf, "\"unserved_feature_names\":[\"MRG_RXBUF\",\"INDIRECT_DESC\","
				    "\"EVENT_IDX\"]"));
	assert_non_null(strstr(buf, "\"device_feature_names\":[\"MAC\",\"bit36\"]"));
	free(buf);
	json_object_put(o);
}

static void status_mapping(void **state)
{
	(void)state;
	assert_int_equal(ctl_client_status(0), 0);
	assert_int_equal(ctl_client_status(-EREMOTEIO), 1);
	assert_int_equal(ctl_client_status(-EBADMSG), 76);
	assert_int_equal(ctl_client_status(-EMSGSIZE), 76);
	assert_int_equal(ctl_client_status(-ENOENT), 69);
	assert_int_equal(ctl_client_status(-ETIMEDOUT), 69);
	assert_int_equal(ctl_client_status(-ECONNRESET), 69);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_ports),
		cmocka_unit_test(golden_ports_hostile),
		cmocka_unit_test(golden_port_show),
		cmocka_unit_test(golden_port_add),
		cmocka_unit_test(golden_json),
		cmocka_unit_test(feature_names),
		cmocka_unit_test(bad_replies_print_nothing),
		cmocka_unit_test(bad_port_show_members),
		cmocka_unit_test(client_reply_ok),
		cmocka_unit_test(client_agent_refuses),
		cmocka_unit_test(client_garbage_reply),
		cmocka_unit_test(client_reply_too_long),
		cmocka_unit_test(client_no_socket),
		cmocka_unit_test(client_timeout),
		cmocka_unit_test(client_hang_up),
		cmocka_unit_test(client_two_calls_one_connection),
		cmocka_unit_test(agent_addresses),
		cmocka_unit_test(ssh_addresses),
		cmocka_unit_test(ssh_client_call),
		cmocka_unit_test(ssh_exits_early),
		cmocka_unit_test(port_show_migration),
		cmocka_unit_test(port_show_accel_features),
		cmocka_unit_test(status_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
