// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * "vdpa-migrate libvirt-hook DOMAIN OPERATION SUBOPERATION EXTRA": what the
 * libvirt qemu hook contrib/libvirt/qemu.d/50-vdpa-migrate runs, with the
 * domain XML on stdin (libvirt's hooks.html; vdpa-migrate(8), HOOK).
 *
 *   migrate begin   (destination, before QEMU starts) rewrites the incoming
 *                   XML's managed interfaces for what this host serves
 *                   (agent/cli/domxml.c) and prints it; nothing when nothing
 *                   changes, which libvirt takes as "unchanged".
 *   prepare begin   (any start, migration included) makes sure every
 *                   managed vhost-user interface has its port on this host's
 *                   agent: port-add, or an existing port with the same
 *                   settings.
 *   release end     (the domain is gone from this host) deletes those ports,
 *                   each only when it is what prepare would have made for
 *                   the interface (else it is another domain's: kept).
 *   anything else   exit 0, no output.
 *
 * It never calls libvirt (libvirtd waits for the hook: a call back would
 * deadlock).  migrate and prepare fail closed: any doubt is a non-zero exit
 * with exactly one line on stderr, which libvirt puts into the error the
 * user sees, and the start or migration stops before the guest moves.
 * release never fails: libvirt cannot undo a stop, so a port that cannot
 * be deleted is reported on stderr and the exit status is 0.
 *
 * Trust boundary: the XML on stdin comes from libvirt, which on migrate
 * begin passes what the source host sent; it is bounded and parsed by
 * domxml_parse().  The configuration file is the operator's; the agent's
 * replies are checked by ctl_parse_reply() and here.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/cli/cli_migrate.h"
#include "agent/common/config.h"
#include "agent/common/util.h"
#include "agent/cli/ctl_client.h"
#include "agent/cli/domxml.h"
#include "protocol/text.h"

#define HOOK_CONF_DEFAULT "/etc/libvirt/hooks/vdpa-migrate.conf"
#define HOOK_CONF_ENV "VDPA_HOOK_CONF"
#define HOOK_SOCKDIR_DEFAULT "/run/vdpa-agent"
#define HOOK_CONF_MAX 65536
#define HOOK_TEMPLATE_MAX 128

#define EXIT_REFUSED 1

struct hook_config {
	char path[PATH_MAX];		/* the file read, for messages */
	char agent[128];		/* agent=unix:PATH */
	char sockdir[96];		/* socket-dir=DIR, no trailing '/' */
	enum domxml_target backend;	/* backend=sw|accel */
	char endpoint[HOOK_TEMPLATE_MAX];	/* endpoint=TEMPLATE, "" = the agent's default */
	char device[HOOK_TEMPLATE_MAX];		/* device=TEMPLATE, for backend=accel */
	char socket_group[PORT_GROUP_MAX + 1];	/* socket-group=GROUP */
	char socket_mode[8];			/* socket-mode=MODE */
};

struct hook {
	char domain[65];	/* args[0], shown */
	const char *op;		/* "migrate", "prepare", "release" */
	bool never_fail;	/* release: report, exit 0 */
	bool reported;		/* one line is all libvirt gets */
};

/* The one line on stderr: "vdpa-migrate: hook OP DOMAIN: ...". */
static void say(struct hook *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct hook *h, const char *fmt, ...)
{
	va_list ap;

	if (h->reported)
		return;
	h->reported = true;
	fprintf(stderr, "vdpa-migrate: hook %s %s: ", h->op, h->domain);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Text from outside for a message: bounded by cap, no control characters
 * (C0, DEL, UTF-8 C1), no multibyte character cut in half (text_show()).
 */
static void shown(const char *in, char *out, size_t cap)
{
	text_show(in, SIZE_MAX, out, cap);
}

/* ---- configuration -------------------------------------------------------- */

/* A template may hold %n (the port name) and %%; checked at load. */
static int check_template(const char *t)
{
	for (; *t; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'n' && *t != '%')
			return -EINVAL;
	}
	return 0;
}

static int expand(const char *t, const char *name, char *out, size_t cap)
{
	size_t n = 0;

	for (; *t; t++) {
		const char *add = t;
		size_t len = 1;

		if (*t == '%') {
			t++;
			if (*t == 'n') {
				add = name;
				len = strlen(name);
			} else {
				add = t;	/* "%%" */
			}
		}
		if (n + len >= cap)
			return -ENAMETOOLONG;
		memcpy(out + n, add, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

/* A value that may go into a port SPEC (KEY=VALUE,...): no ',', no control characters. */
static bool spec_safe(const char *v)
{
	for (; *v; v++)
		if (*v == ',' || (unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

static int copy_value(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -ENAMETOOLONG;
	strcpy(dst, v);
	return 0;
}

/* One "key = value" line; err gets the reason. */
static int config_set(struct hook_config *c, const char *key, char *v, char *err, size_t errlen)
{
	char path[128];

	if (strcmp(key, "agent") == 0) {
		if (copy_value(c->agent, sizeof(c->agent), v) < 0 ||
		    ctl_agent_path(v, path, sizeof(path)) < 0) {
			snprintf(err, errlen, "agent: expected unix:PATH (at most %zu bytes)",
				 sizeof(path) - 1);
			return -EINVAL;
		}
	} else if (strcmp(key, "socket-dir") == 0) {
		size_t n = strlen(v);

		while (n > 1 && v[n - 1] == '/')
			v[--n] = '\0';
		/* Its sockets go into port SPECs: no ',' (nor control characters). */
		if (v[0] != '/' || !spec_safe(v) ||
		    copy_value(c->sockdir, sizeof(c->sockdir), v) < 0) {
			snprintf(err, errlen, "socket-dir: expected an absolute path of at most %zu "
				 "bytes, without ',' or control characters", sizeof(c->sockdir) - 1);
			return -EINVAL;
		}
	} else if (strcmp(key, "backend") == 0) {
		if (domxml_target_parse(v, &c->backend) < 0) {
			snprintf(err, errlen, "backend: expected sw or accel");
			return -EINVAL;
		}
	} else if (strcmp(key, "endpoint") == 0 || strcmp(key, "device") == 0) {
		char *dst = key[0] == 'e' ? c->endpoint : c->device;

		if (check_template(v) < 0 || !spec_safe(v) ||
		    copy_value(dst, HOOK_TEMPLATE_MAX, v) < 0) {
			snprintf(err, errlen, "%s: expected at most %d bytes without ',' or control "
				 "characters, with %%n for the port name and %%%% for %%", key,
				 HOOK_TEMPLATE_MAX - 1);
			return -EINVAL;
		}
	} else if (strcmp(key, "socket-group") == 0 || strcmp(key, "socket-mode") == 0) {
		struct port_config pc;
		char why[CONFIG_ERR_MAX];

		/* As the agent checks them, so a typo shows here and not at start. */
		port_config_init(&pc);
		if (port_config_set(&pc, key, v, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s", why);
			return -EINVAL;
		}
		strcpy(key[7] == 'g' ? c->socket_group : c->socket_mode, v);
	} else {
		snprintf(err, errlen, "unknown key (agent, socket-dir, backend, endpoint, device, "
			 "socket-group, socket-mode)");
		return -EINVAL;
	}
	return 0;
}

static const char *const config_keys[] = { "agent", "socket-dir", "backend", "endpoint",
					    "device", "socket-group", "socket-mode" };
#define NKEYS ARRAY_SIZE(config_keys)

/*
 * Reads $VDPA_HOOK_CONF or HOOK_CONF_DEFAULT.  A missing file means the
 * defaults; err gets "PATH:LINE: reason" on failure.
 */
static int config_load(struct hook_config *c, char *err, size_t errlen)
{
	const char *path = getenv(HOOK_CONF_ENV);
	char *text, *line, *next;
	unsigned lineno = 0, first_line[NKEYS] = { 0 };
	size_t len;
	FILE *f;
	int r = 0;

	memset(c, 0, sizeof(*c));
	strcpy(c->agent, CTL_DEFAULT_AGENT);
	strcpy(c->sockdir, HOOK_SOCKDIR_DEFAULT);
	c->backend = DOMXML_TO_SW;
	if (!path || !path[0])
		path = HOOK_CONF_DEFAULT;
	snprintf(c->path, sizeof(c->path), "%s", path);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "%s: %s", c->path, strerror(-r));
		return r;
	}
	text = malloc(HOOK_CONF_MAX + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	len = fread(text, 1, HOOK_CONF_MAX + 1, f);
	if (ferror(f) || len > HOOK_CONF_MAX) {
		snprintf(err, errlen, "%s: %s", c->path,
			 ferror(f) ? "read error" : "larger than 65536 bytes");
		r = -EINVAL;
		goto out;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", c->path);
		r = -EINVAL;
		goto out;
	}
	for (line = text; line; line = next) {
		char why[CONFIG_ERR_MAX], *key, *value;
		size_t ki;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = config_trim(line);
		if (!line[0] || line[0] == '#')
			continue;
		if (config_kv(line, &key, &value) < 0) {
			snprintf(err, errlen, "%s:%u: expected key = value", c->path, lineno);
			r = -EINVAL;
			goto out;
		}
		/* A key twice is a mistake (which one was meant?): refused. */
		for (ki = 0; ki < NKEYS && strcmp(key, config_keys[ki]) != 0; ki++)
			;
		if (ki < NKEYS && first_line[ki]) {
			snprintf(err, errlen, "%s:%u: %s: given twice (first on line %u)", c->path,
				 lineno, config_keys[ki], first_line[ki]);
			r = -EINVAL;
			goto out;
		}
		if (ki < NKEYS)
			first_line[ki] = lineno;
		r = config_set(c, key, value, why, sizeof(why));
		if (r < 0) {
			char k[32];

			shown(key, k, sizeof(k));
			if (strncmp(why, "unknown key", 11) == 0)
				snprintf(err, errlen, "%s:%u: %s: %s", c->path, lineno, k, why);
			else
				snprintf(err, errlen, "%s:%u: %s", c->path, lineno, why);
			goto out;
		}
	}
out:
	free(text);
	fclose(f);
	return r;
}

/* ---- stdin ---------------------------------------------------------------- */

/* The whole of stdin, at most DOMXML_MAX_BYTES. */
static int read_stdin(char **ret, size_t *ret_len)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > DOMXML_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			int r = -errno;

			if (r == -EINTR)
				continue;
			free(buf);
			return r;
		}
		len += (size_t)n;
	}
	if (len > DOMXML_MAX_BYTES) {
		free(buf);
		return -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* libvirt writes the XML whatever the operation: take it, so it never sees EPIPE. */
static void drain_stdin(void)
{
	char buf[4096];

	if (isatty(STDIN_FILENO))
		return;
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

static int load_domain(struct hook *h, const struct hook_config *c, struct domxml **ret)
{
	struct domxml_error err = { "" };
	size_t len = 0;
	char *xml = NULL;
	int r;

	r = read_stdin(&xml, &len);
	if (r == -EFBIG) {
		say(h, "the domain XML on stdin is larger than %u bytes", DOMXML_MAX_BYTES);
		return r;
	}
	if (r < 0) {
		say(h, "cannot read the domain XML on stdin: %s", strerror(-r));
		return r;
	}
	r = domxml_parse(xml, len, c->sockdir, ret, &err);
	free(xml);
	if (r < 0)
		say(h, "domain XML: %s", err.message);
	return r;
}

/* ---- migrate begin ---------------------------------------------------------- */

static int hook_migrate(struct hook *h, const struct hook_config *c)
{
	struct domxml_error err = { "" };
	struct domxml *d = NULL;
	bool changed = false;
	size_t len = 0;
	char *out = NULL;
	int r;

	if (load_domain(h, c, &d) < 0)
		return EXIT_REFUSED;
	if (domxml_nports(d) == 0) {
		/* Not ours: empty output is libvirt's "unchanged". */
		domxml_free(d);
		return 0;
	}
	r = domxml_rewrite(d, c->backend, c->sockdir, &changed, &err);
	if (r < 0) {
		say(h, "%s", err.message);
		domxml_free(d);
		return EXIT_REFUSED;
	}
	if (changed)
		r = domxml_format(d, &out, &len);
	domxml_free(d);
	if (r < 0) {
		say(h, "cannot write the domain XML: %s", strerror(-r));
		return EXIT_REFUSED;
	}
	if (out && (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)) {
		say(h, "cannot write the domain XML to stdout: %s", strerror(errno));
		free(out);
		return EXIT_REFUSED;
	}
	free(out);
	return 0;
}

/* ---- the agent ---------------------------------------------------------------- */

/* tail ends the message when the agent cannot be reached. */
static int agent_open(struct hook *h, const struct hook_config *c, const char *tail,
		      struct ctl_client **ret)
{
	struct ctl_error err = { "", "" };
	char path[128];
	int r;

	r = ctl_agent_path(c->agent, path, sizeof(path));
	if (r < 0) {
		say(h, "%s: agent %s is not unix:PATH", c->path, c->agent);
		return EXIT_REFUSED;
	}
	r = ctl_client_connect(path, CTL_CLIENT_TIMEOUT_MS, ret, &err);
	if (r < 0) {
		say(h, "cannot reach the agent at %s: %s%s", path, err.message, tail);
		return (int)ctl_client_status(r);
	}
	return 0;
}

static bool no_such_port(int r, const struct ctl_error *err)
{
	return r == -EREMOTEIO && strcmp(err->field, "name") == 0 &&
	       strncmp(err->message, "no port named", 13) == 0;
}

/*
 * The SPEC of a managed interface's port, as this host wants it (what
 * prepare creates or accepts).  why gets the reason on failure.
 */
static int port_spec(const struct hook_config *c, const struct domxml_port *p, char *spec,
		     size_t cap, char *why, size_t whylen)
{
	char endpoint[HOOK_TEMPLATE_MAX + PORT_NAME_MAX], device[HOOK_TEMPLATE_MAX + PORT_NAME_MAX];
	size_t n;

	n = (size_t)snprintf(spec, cap, "name=%s,socket=%s,backend=%s", p->name, p->socket,
			     c->backend == DOMXML_TO_ACCEL ? "accel" : "sw");
	if (c->backend == DOMXML_TO_ACCEL) {
		if (!c->device[0]) {
			snprintf(why, whylen, "backend = accel needs device = in %s", c->path);
			return -EINVAL;
		}
		if (expand(c->device, p->name, device, sizeof(device)) < 0)
			goto too_long;
		if (n < cap)
			n += (size_t)snprintf(spec + n, cap - n, ",device=%s", device);
	}
	if (c->endpoint[0] && n < cap) {
		if (expand(c->endpoint, p->name, endpoint, sizeof(endpoint)) < 0)
			goto too_long;
		n += (size_t)snprintf(spec + n, cap - n, ",endpoint=%s", endpoint);
	}
	if (p->mac[0] && n < cap)
		n += (size_t)snprintf(spec + n, cap - n, ",mac=%s", p->mac);
	if (p->queues && n < cap)
		n += (size_t)snprintf(spec + n, cap - n, ",queues=%u", p->queues);
	if (p->mtu && n < cap)
		n += (size_t)snprintf(spec + n, cap - n, ",mtu=%u", p->mtu);
	if (c->socket_group[0] && n < cap)
		n += (size_t)snprintf(spec + n, cap - n, ",socket-group=%s", c->socket_group);
	if (c->socket_mode[0] && n < cap)
		n += (size_t)snprintf(spec + n, cap - n, ",socket-mode=%s", c->socket_mode);
	if (n < cap)
		return 0;
too_long:
	snprintf(why, whylen, "the port's SPEC is longer than %zu bytes", cap - 1);
	return -ENAMETOOLONG;
}

/* port_spec(), parsed as the agent parses it. */
static int port_want(const struct hook_config *c, const struct domxml_port *p, char *spec,
		     size_t cap, struct port_config *want, char *why, size_t whylen)
{
	char parse_why[CONFIG_ERR_MAX];
	int r;

	r = port_spec(c, p, spec, cap, why, whylen);
	if (r < 0)
		return r;
	if (port_spec_parse(spec, want, parse_why, sizeof(parse_why)) < 0) {
		snprintf(why, whylen, "%s (from %s)", parse_why, c->path);
		return -EINVAL;
	}
	return 0;
}

/* The first setting that differs between two ports, or NULL. */
static const char *port_differs(const struct port_config *want, const struct port_config *have)
{
	if (strcmp(want->socket, have->socket) != 0)
		return "socket";
	if (want->backend != have->backend)
		return "backend";
	if (want->has_mac != have->has_mac ||
	    (want->has_mac && memcmp(want->mac, have->mac, sizeof(want->mac)) != 0))
		return "mac";
	if (want->queues != have->queues)
		return "queues";
	if (want->has_mtu != have->has_mtu || (want->has_mtu && want->mtu != have->mtu))
		return "mtu";
	return NULL;
}

/* The port's configuration from a port-show reply. */
static int reply_port(struct json_object *reply, struct port_config *ret)
{
	struct json_object *port, *spec;
	char why[CONFIG_ERR_MAX];

	if (!json_object_object_get_ex(reply, "port", &port) ||
	    !json_object_object_get_ex(port, "spec", &spec) ||
	    !json_object_is_type(spec, json_type_string))
		return -EBADMSG;
	return port_spec_parse(json_object_get_string(spec), ret, why, sizeof(why)) < 0 ?
	       -EBADMSG : 0;
}

static int ensure_port(struct hook *h, const struct hook_config *c, struct ctl_client *cl,
		       const struct domxml_port *p)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };
	struct ctl_error err = { "", "" };
	struct json_object *reply = NULL;
	struct port_config want, have;
	char why[CONFIG_ERR_MAX + PATH_MAX + 16], text[sizeof(req.spec)], msg[sizeof(err.message)];
	const char *what;
	int r;

	r = port_want(c, p, req.spec, sizeof(req.spec), &want, why, sizeof(why));
	if (r < 0) {
		shown(why, text, sizeof(text));
		say(h, "port %s: %s", p->name, text);
		return EXIT_REFUSED;
	}
	/* The SPEC holds values of the domain XML: shown cleaned, never raw. */
	shown(req.spec, text, sizeof(text));
	strcpy(req.name, p->name);
	r = ctl_client_call(cl, &req, &reply, &err);
	if (r == 0) {
		r = reply_port(reply, &have);
		json_object_put(reply);
		if (r < 0) {
			say(h, "port %s: the agent's port-show reply has no usable spec", p->name);
			return CTL_STATUS_BAD_REPLY;
		}
		what = port_differs(&want, &have);
		if (what) {
			say(h, "port %s exists on the agent with another %s (wanted %s)", p->name,
			    what, text);
			return EXIT_REFUSED;
		}
		return 0;	/* there already, as wanted */
	}
	if (!no_such_port(r, &err)) {
		shown(err.message, msg, sizeof(msg));
		say(h, "port-show %s: %s", p->name, msg);
		return (int)ctl_client_status(r);
	}
	req.cmd = CTL_CMD_PORT_ADD;
	req.name[0] = '\0';
	r = ctl_client_call(cl, &req, &reply, &err);
	json_object_put(reply);
	if (r < 0) {
		shown(err.message, msg, sizeof(msg));
		say(h, "port-add %s: %s", text, msg);
		return (int)ctl_client_status(r);
	}
	return 0;
}

/* ---- prepare begin ------------------------------------------------------------ */

static int hook_prepare(struct hook *h, const struct hook_config *c)
{
	struct ctl_client *cl = NULL;
	struct domxml *d = NULL;
	size_t i, nvu = 0;
	int status = 0;

	if (load_domain(h, c, &d) < 0)
		return EXIT_REFUSED;
	for (i = 0; i < domxml_nports(d); i++)
		if (domxml_port(d, i)->type == DOMXML_IF_VHOSTUSER)
			nvu++;
	/* type='vdpa' interfaces are the kernel's: no agent port. */
	if (nvu > 0)
		status = agent_open(h, c, "", &cl);
	for (i = 0; status == 0 && i < domxml_nports(d); i++) {
		const struct domxml_port *p = domxml_port(d, i);

		if (p->type == DOMXML_IF_VHOSTUSER)
			status = ensure_port(h, c, cl, p);
	}
	ctl_client_free(cl);
	domxml_free(d);
	return status;
}

/* ---- release end -------------------------------------------------------------- */

/*
 * Deletes the port only when it is this interface's: the port prepare
 * would have created or accepted for it (same socket, backend, MAC, queues,
 * MTU).  A start that prepare refused (a port of that name that is another
 * domain's, or differs) is released too, and must not take that port with
 * it; when in doubt (no usable reply, no SPEC to compare with) the port
 * stays and stderr says so.
 */
static void remove_port(struct hook *h, const struct hook_config *c, struct ctl_client *cl,
			const struct domxml_port *p)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };
	struct ctl_error err = { "", "" };
	struct json_object *reply = NULL;
	struct port_config want, have;
	char why[CONFIG_ERR_MAX + PATH_MAX + 16], text[sizeof(why)], msg[sizeof(err.message)];
	const char *what;
	int r;

	strcpy(req.name, p->name);
	r = ctl_client_call(cl, &req, &reply, &err);
	if (r < 0) {
		shown(err.message, msg, sizeof(msg));
		if (!no_such_port(r, &err))
			say(h, "port-show %s: %s; port not removed", p->name, msg);
		return;
	}
	r = reply_port(reply, &have);
	json_object_put(reply);
	if (r < 0) {
		say(h, "port %s: the agent's port-show reply has no usable spec; left in place",
		    p->name);
		return;
	}
	if (port_want(c, p, req.spec, sizeof(req.spec), &want, why, sizeof(why)) < 0) {
		shown(why, text, sizeof(text));
		say(h, "port %s: cannot tell whether it is this domain's (%s); left in place",
		    p->name, text);
		return;
	}
	req.spec[0] = '\0';
	what = port_differs(&want, &have);
	if (what) {
		say(h, "port %s has another %s than this domain's interface %s would have; "
		    "left in place", p->name, what, p->mac[0] ? p->mac : "without a mac");
		return;
	}
	req.cmd = CTL_CMD_PORT_DEL;
	r = ctl_client_call(cl, &req, &reply, &err);
	json_object_put(reply);
	if (r < 0 && !no_such_port(r, &err)) {
		shown(err.message, msg, sizeof(msg));
		say(h, "port-del %s: %s", p->name, msg);
	}
}

static int hook_release(struct hook *h, const struct hook_config *c)
{
	struct ctl_client *cl = NULL;
	struct domxml *d = NULL;
	size_t i, nvu = 0;

	if (load_domain(h, c, &d) < 0)
		return 0;
	for (i = 0; i < domxml_nports(d); i++)
		if (domxml_port(d, i)->type == DOMXML_IF_VHOSTUSER)
			nvu++;
	/* Without the agent its ports are gone anyway: say so, exit 0. */
	if (nvu > 0 && agent_open(h, c, "; ports not removed", &cl) == 0) {
		for (i = 0; i < domxml_nports(d); i++)
			if (domxml_port(d, i)->type == DOMXML_IF_VHOSTUSER)
				remove_port(h, c, cl, domxml_port(d, i));
	}
	ctl_client_free(cl);
	domxml_free(d);
	return 0;
}

/* ---- entry ------------------------------------------------------------------- */

int cli_libvirt_hook(char **args)
{
	struct hook h = { .op = args[1] };
	struct hook_config c;
	char err[PATH_MAX + CONFIG_ERR_MAX + 64];
	int (*fn)(struct hook *, const struct hook_config *);

	if (strcmp(args[1], "migrate") == 0 && strcmp(args[2], "begin") == 0) {
		fn = hook_migrate;
	} else if (strcmp(args[1], "prepare") == 0 && strcmp(args[2], "begin") == 0) {
		fn = hook_prepare;
	} else if (strcmp(args[1], "release") == 0 && strcmp(args[2], "end") == 0) {
		fn = hook_release;
		h.never_fail = true;
	} else {
		drain_stdin();
		return 0;
	}
	shown(args[0], h.domain, sizeof(h.domain));
	if (config_load(&c, err, sizeof(err)) < 0) {
		char text[sizeof(err)];

		shown(err, text, sizeof(text));
		say(&h, "%s", text);
		drain_stdin();
		return h.never_fail ? 0 : EXIT_REFUSED;
	}
	return fn(&h, &c);
}
