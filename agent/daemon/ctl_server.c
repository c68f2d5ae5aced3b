/*
 * Control socket server.  Trust boundary: every byte from a client is
 * untrusted; lines are bounded (CTL_MAX_LINE) and validated by
 * ctl_parse_request() before anything acts on them, and a client that
 * overruns the bound is disconnected.  A slow client can only delay its own
 * replies: writes that cannot complete within a second drop the client.
 */
#include "agent/daemon/ctl_server.h"

#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/version.h"
#include "protocol/control.h"

#define CTL_MAX_CLIENTS 64
#define CTL_WRITE_TIMEOUT_MS 1000

struct ctl_conn {
	struct ctl_server *srv;
	int fd;
	struct watch *watch;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* The peer process's supplementary groups at connect (SO_PEERGROUPS). */
	int ngroups;
	gid_t groups[64];
	size_t len;
	char buf[CTL_MAX_LINE + 2];
};

struct ctl_server {
	struct loop *loop;
	const char *runtime_dir;
	struct ctl_ports ports;
	int fd;
	bool unlink_on_free;
	struct watch *watch;
	char path[108];
	struct ctl_conn *clients[CTL_MAX_CLIENTS];
};

static void client_free(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;

	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	loop_remove(c->watch);
	close(c->fd);
	free(c);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (poll(&pfd, 1, CTL_WRITE_TIMEOUT_MS) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_json(struct ctl_conn *c, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	char *line = malloc(n + 2);
	int r;

	if (!line)
		return -ENOMEM;
	memcpy(line, s, n);
	line[n] = '\n';
	r = write_all(c->fd, line, n + 1);
	free(line);
	return r;
}

static struct json_object *error_reply(const char *message, const char *field)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(message));
	if (field && field[0])
		json_object_object_add(o, "field", json_object_new_string(field));
	return o;
}

static struct json_object *ok_reply(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(true));
	return o;
}

/* {"ok":true,"KEY":val}, taking val; a refusal when an encoder ran out of memory (val NULL). */
static struct json_object *ok_with(const char *key, struct json_object *val)
{
	struct json_object *o;

	if (!val)
		return error_reply("out of memory", NULL);
	o = ok_reply();
	json_object_object_add(o, key, val);
	return o;
}

/*
 * root, or the peer process is in CTL_GROUP: its primary group or one of
 * the supplementary groups it had when it connected (a unit's
 * SupplementaryGroups= counts, the user database is not consulted).
 */
static bool may_change_state(const struct ctl_conn *c)
{
	struct group *g;

	if (c->uid == 0)
		return true;
	g = getgrnam(CTL_GROUP);
	if (!g)
		return false;
	if (c->gid == g->gr_gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g->gr_gid)
			return true;
	return false;
}

static struct json_object *dispatch(struct ctl_conn *c, const struct ctl_request *req)
{
	const struct ctl_ports *a = &c->srv->ports;
	struct json_object *o, *arr;
	struct port_config pc;
	struct port *p;
	char err[CONFIG_ERR_MAX];
	int r;

	if (req->changes_state && !may_change_state(c)) {
		log_warning("control: refused %s from uid %u pid %d: not root or in group %s",
			    ctl_cmd_info(req->cmd)->name, (unsigned)c->uid, (int)c->pid, CTL_GROUP);
		return error_reply("permission denied: this request needs root or group " CTL_GROUP,
				   "cmd");
	}
	switch (req->cmd) {
	case CTL_CMD_VERSION:
		o = ok_reply();
		json_object_object_add(o, "version", json_object_new_string(VDPA_MIGRATE_VERSION));
		return o;
	case CTL_CMD_PORTS:
		arr = json_object_new_array();
		for (size_t i = 0, n = a->count(a->opaque); arr && i < n; i++) {
			struct json_object *s = port_summary_json(a->at(a->opaque, i));

			if (!s || json_object_array_add(arr, s) < 0) {
				json_object_put(s);
				json_object_put(arr);
				arr = NULL;
			}
		}
		return ok_with("ports", arr);
	case CTL_CMD_PORT_SHOW:
		p = a->find(a->opaque, req->name);
		if (!p) {
			snprintf(err, sizeof(err), "no port named '%s'", req->name);
			return error_reply(err, "name");
		}
		return ok_with("port", port_detail_json(p));
	case CTL_CMD_PORT_OFFER:
		/* Read-only: what port-add of this SPEC would offer; nothing is created. */
		if (port_spec_parse(req->spec, &pc, err, sizeof(err)) < 0)
			return error_reply(err, "spec");
		o = ok_reply();
		if (port_offer_encode(&pc, o) < 0) {
			json_object_put(o);
			return error_reply("out of memory", NULL);
		}
		return o;
	case CTL_CMD_PORT_ADD:
		if (port_spec_parse(req->spec, &pc, err, sizeof(err)) < 0)
			return error_reply(err, "spec");
		r = a->add(a->opaque, &pc, err, sizeof(err));
		if (r < 0)
			return error_reply(err, "spec");
		log_notice("control: port %s added by uid %u", pc.name, (unsigned)c->uid);
		return ok_with("port", port_summary_json(a->find(a->opaque, pc.name)));
	case CTL_CMD_DIRTYLOG_SNAPSHOT:
	case CTL_CMD_DIRTYLOG_STOP:
		p = a->find(a->opaque, req->name);
		if (!p) {
			snprintf(err, sizeof(err), "no port named '%s'", req->name);
			return error_reply(err, "name");
		}
		if (req->cmd == CTL_CMD_DIRTYLOG_STOP) {
			if (port_dirtylog_stop(p) < 0)
				return error_reply("the port is not recording", "name");
			return ok_reply();
		}
		if (port_dirtylog_snapshot(p, &arr, err, sizeof(err)) < 0)
			return error_reply(err, "name");
		o = ok_reply();
		json_object_object_foreach(arr, key, val)
			json_object_object_add(o, key, json_object_get(val));
		json_object_put(arr);
		return o;
	case CTL_CMD_PORT_SWITCH: {
		enum port_backend to;
		uint64_t us = 0;

		p = a->find(a->opaque, req->name);
		if (!p) {
			snprintf(err, sizeof(err), "no port named '%s'", req->name);
			return error_reply(err, "name");
		}
		if (strcmp(req->to, "sw") == 0)
			to = PORT_BACKEND_SW;
		else if (strcmp(req->to, "accel") == 0)
			to = PORT_BACKEND_ACCEL;
		else
			return error_reply("must be \"sw\" or \"accel\"", "to");
		if (port_switch(p, to, &us, err, sizeof(err)) < 0)
			return error_reply(err, "to");
		o = ok_reply();
		json_object_object_add(o, "engine", json_object_new_string(port_engine_name(p)));
		json_object_object_add(o, "gap_us", json_object_new_uint64(us));
		return o;
	}
	case CTL_CMD_PORT_DEL:
		if (a->del(a->opaque, req->name) < 0) {
			snprintf(err, sizeof(err), "no port named '%s'", req->name);
			return error_reply(err, "name");
		}
		return ok_reply();
	}
	return error_reply("unknown command", "cmd");
}

/* Handles one line; false when the client must be dropped. */
static bool handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	struct ctl_request req;
	struct ctl_error cerr;
	struct json_object *reply;
	int r, parsed;

	parsed = ctl_parse_request(line, len, &req, &cerr);
	if (parsed < 0)
		reply = error_reply(cerr.message, cerr.field);
	else
		reply = dispatch(c, &req);
	r = send_json(c, reply);
	json_object_put(reply);
	if (parsed == -EMSGSIZE)
		log_warning("control: uid %u pid %d sent a line over %d bytes; disconnected",
			    (unsigned)c->uid, (int)c->pid, CTL_MAX_LINE);
	/* A line over the limit: the stream cannot be trusted to be framed. */
	return r == 0 && parsed != -EMSGSIZE;
}

static void on_client(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct ctl_conn *c = opaque;
	ssize_t n;
	char *nl;

	(void)w;
	(void)events;
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(c);
		return;
	}
	c->len += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t l = (size_t)(nl - c->buf);

		if (!handle_line(c, c->buf, l)) {
			client_free(c);
			return;
		}
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
	}
	if (c->len > CTL_MAX_LINE) {
		/* No newline within the limit: the parser words the refusal. */
		handle_line(c, c->buf, c->len);
		client_free(c);
	}
}

static void on_accept(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct ctl_server *s = opaque;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct ctl_conn *c;
	unsigned slot;
	int cfd;

	(void)w;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	for (slot = 0; slot < CTL_MAX_CLIENTS && s->clients[slot]; slot++)
		;
	if (slot == CTL_MAX_CLIENTS || getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		log_warning("control: refusing a client (%s)",
			    slot == CTL_MAX_CLIENTS ? "too many clients" : strerror(errno));
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->srv = s;
	c->fd = cfd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	cl = sizeof(c->groups);
	/* More groups than we keep: the ones kept still count, the rest do not. */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &cl) == 0 || errno == ERANGE)
		c->ngroups = (int)(cl / sizeof(gid_t) > 64 ? 64 : cl / sizeof(gid_t));
	if (loop_add(s->loop, cfd, EPOLLIN, on_client, c, &c->watch) < 0) {
		close(cfd);
		free(c);
		return;
	}
	s->clients[slot] = c;
}

static int bind_socket(struct ctl_server *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct group *g;

	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/control.sock",
			     s->runtime_dir) >= sizeof(s->path)) {
		snprintf(err, errlen, "runtime directory path too long");
		return -ENAMETOOLONG;
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return -errno;
	strcpy(sa.sun_path, s->path);
	unlink(s->path);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		return -errno;
	}
	s->unlink_on_free = true;
	g = getgrnam(CTL_GROUP);
	if (g && chown(s->path, (uid_t)-1, g->gr_gid) < 0)
		log_warning("control: chown %s to group %s: %s", s->path, CTL_GROUP, strerror(errno));
	if (chmod(s->path, 0660) < 0) {
		snprintf(err, errlen, "chmod %s: %s", s->path, strerror(errno));
		return -errno;
	}
	return 0;
}

int ctl_server_new(struct loop *loop, const char *runtime_dir, const struct ctl_ports *ports,
		   struct ctl_server **ret, char *err, size_t errlen)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	int n, r;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->runtime_dir = runtime_dir;
	s->ports = *ports;
	s->fd = -1;
	n = sd_listen_fds(1);
	if (n > 1) {
		snprintf(err, errlen, "systemd passed %d sockets; expected one", n);
		r = -EINVAL;
		goto fail;
	}
	if (n == 1) {
		if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
			snprintf(err, errlen, "the socket systemd passed is not a listening unix stream socket");
			r = -EINVAL;
			goto fail;
		}
		s->fd = SD_LISTEN_FDS_START;
		snprintf(s->path, sizeof(s->path), "(socket activation)");
	} else {
		r = bind_socket(s, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = loop_add(loop, s->fd, EPOLLIN, on_accept, s, &s->watch);
	if (r < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	ctl_server_free(s);
	return r;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->clients[i])
			client_free(s->clients[i]);
	loop_remove(s->watch);
	if (s->fd >= 0)
		close(s->fd);
	if (s->unlink_on_free)
		unlink(s->path);
	free(s);
}

const char *ctl_server_path(const struct ctl_server *s)
{
	return s->path;
}
