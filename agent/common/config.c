/*
 * Parsers for port SPECs and the INI-style configuration file.  See
 * config.h for the contract and vdpa-agentd.conf(5) for the format.
 *
 * Input comes from the operator (command line, file, control socket for
 * "port add"), so it is bounded and checked as strictly as peer data: every
 * number is range-checked, every string length-checked, unknown keys refused.
 */
#include "agent/common/config.h"
#include "agent/common/util.h"
#include "agent/common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_LINE_MAX  4096
#define CONFIG_PORTS_MAX 1024
#define CONFIG_FILE_MAX  (1024 * 1024)

/* Every configuration error is -EINVAL with a reason. */
#define fail(err, errlen, ...) errf(err, errlen, -EINVAL, __VA_ARGS__)

void port_config_init(struct port_config *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->backend = PORT_BACKEND_SW;
	ret->endpoint = PORT_ENDPOINT_NULL;
	ret->queues = 1;
	ret->harvest_ms = 50;
}

const char *port_backend_name(enum port_backend b)
{
	switch (b) {
	case PORT_BACKEND_SW:
		return "sw";
	case PORT_BACKEND_ACCEL:
		return "accel";
	}
	return "?";
}

/* Decimal only, no sign, no leading '+', no trailing junk. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	}
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static bool valid_port_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PORT_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

/* Linux netdev names: 1..15 bytes, no '/', ':', whitespace, not "." or "..". */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || c == ',' || isspace(c) || !isprint(c))
			return false;
	}
	return true;
}

/* A group name as useradd(8) takes it, or a decimal gid. */
static bool valid_group(const char *s)
{
	size_t n = strlen(s);
	bool digits = true;

	if (n == 0 || n > PORT_GROUP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = false;
	if (digits)
		return n <= 10;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* An octal mode, 3 or 4 digits, with the owner's read and write bits. */
static int parse_mode(const char *s, unsigned *ret)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n < 3 || n > 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -EINVAL;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v > 0777 || (v & 0600) != 0600)
		return -EINVAL;
	*ret = v;
	return 0;
}

int port_config_set(struct port_config *pc, const char *key, const char *value,
		    char *err, size_t errlen)
{
	unsigned u;

	if (strcmp(key, "name") == 0) {
		if (!valid_port_name(value))
			return fail(err, errlen,
				    "name: '%s' is not 1-%d characters of [A-Za-z0-9_.-] "
				    "not starting with '.' or '-'", value, PORT_NAME_MAX);
		strcpy(pc->name, value);
	} else if (strcmp(key, "socket") == 0) {
		if (value[0] == '\0' || strlen(value) > PORT_SOCKET_MAX)
			return fail(err, errlen, "socket: path must be 1-%d bytes long",
				    PORT_SOCKET_MAX);
		/* Saved in the state file and reused after a restart whose
		 * working directory is another (under systemd, "/"). */
		if (value[0] != '/')
			return fail(err, errlen, "socket: '%s' is not an absolute path", value);
		strcpy(pc->socket, value);
	} else if (strcmp(key, "backend") == 0) {
		if (strcmp(value, "sw") == 0)
			pc->backend = PORT_BACKEND_SW;
		else if (strcmp(value, "accel") == 0)
			pc->backend = PORT_BACKEND_ACCEL;
		else
			return fail(err, errlen, "backend: '%s' is not 'sw' or 'accel'", value);
	} else if (strcmp(key, "device") == 0) {
		if (strncmp(value, "vfio:", 5) == 0)
			return fail(err, errlen,
				    "device: '%s': kernel VFIO devices are not supported yet; "
				    "use vfio-user:PATH", value);
		const char *path = strncmp(value, "vfio-user:", 10) == 0 ? value + 10 :
				   strncmp(value, "vhost-vdpa:", 11) == 0 ? value + 11 : NULL;

		if (!path || !path[0] || strlen(path) > PORT_SOCKET_MAX)
			return fail(err, errlen,
				    "device: '%s' is not vfio-user:PATH or vhost-vdpa:PATH", value);
		strcpy(pc->device, value);
	} else if (strcmp(key, "dirty-tracking") == 0) {
		unsigned t;

		for (t = 0; t < 4; t++)
			if (strcmp(value, port_dirty_tracking_name((enum port_dirty_tracking)t)) == 0)
				break;
		if (t == 4)
			return fail(err, errlen, "dirty-tracking: '%s' is not 'auto', 'device-log', "
				    "'relay' or 'software'", value);
		pc->dirty_tracking = (enum port_dirty_tracking)t;
	} else if (strcmp(key, "harvest-ms") == 0) {
		if (parse_uint(value, 1, 10000, &u) < 0)
			return fail(err, errlen, "harvest-ms: '%s' is not a number in 1..10000", value);
		pc->harvest_ms = u;
	} else if (strcmp(key, "endpoint") == 0) {
		if (strcmp(value, "null") == 0) {
			pc->endpoint = PORT_ENDPOINT_NULL;
		} else if (strcmp(value, "loop") == 0) {
			pc->endpoint = PORT_ENDPOINT_LOOP;
		} else if (strncmp(value, "tap:", 4) == 0) {
			if (!valid_ifname(value + 4))
				return fail(err, errlen,
					    "endpoint: '%s' is not a valid interface name "
					    "(1-%d bytes, no '/', ':', ',' or spaces)", value + 4,
					    IFNAME_MAX);
			pc->endpoint = PORT_ENDPOINT_TAP;
			strcpy(pc->ifname, value + 4);
		} else {
			return fail(err, errlen,
				    "endpoint: '%s' is not tap:IFNAME, null or loop", value);
		}
	} else if (strcmp(key, "mac") == 0) {
		if (parse_mac(value, pc->mac) < 0)
			return fail(err, errlen, "mac: '%s' is not of the form 52:54:00:12:34:56",
				    value);
		if (pc->mac[0] & 1)
			return fail(err, errlen, "mac: '%s' is a multicast address", value);
		if (!(pc->mac[0] | pc->mac[1] | pc->mac[2] | pc->mac[3] | pc->mac[4] | pc->mac[5]))
			return fail(err, errlen, "mac: the all-zero address is not usable");
		pc->has_mac = true;
	} else if (strcmp(key, "queues") == 0) {
		if (parse_uint(value, 1, PORT_QUEUES_MAX, &u) < 0)
			return fail(err, errlen, "queues: '%s' is not a number in 1..%d", value,
				    PORT_QUEUES_MAX);
		pc->queues = u;
	} else if (strcmp(key, "mtu") == 0) {
		if (parse_uint(value, PORT_MTU_MIN, PORT_MTU_MAX, &u) < 0)
			return fail(err, errlen, "mtu: '%s' is not a number in %d..%d", value,
				    PORT_MTU_MIN, PORT_MTU_MAX);
		pc->mtu = u;
		pc->has_mtu = true;
	} else if (strcmp(key, "poll") == 0) {
		if (strcmp(value, "on") == 0)
			pc->poll = true;
		else if (strcmp(value, "off") == 0)
			pc->poll = false;
		else
			return fail(err, errlen, "poll: '%s' is not 'on' or 'off'", value);
	} else if (strcmp(key, "socket-group") == 0) {
		if (!valid_group(value))
			return fail(err, errlen,
				    "socket-group: '%s' is not a group name ([a-z_][a-z0-9_-]*, at most "
				    "%d characters) or a numeric gid", value, PORT_GROUP_MAX);
		strcpy(pc->socket_group, value);
	} else if (strcmp(key, "socket-mode") == 0) {
		if (parse_mode(value, &u) < 0)
			return fail(err, errlen,
				    "socket-mode: '%s' is not an octal mode in 0600..0777 "
				    "(the owner must keep read and write)", value);
		pc->socket_mode = u;
	} else if (strcmp(key, "bench-log") == 0) {
		if (strcmp(value, "on") == 0)
			pc->bench_log = true;
		else if (strcmp(value, "off") == 0)
			pc->bench_log = false;
		else
			return fail(err, errlen, "bench-log: '%s' is not 'on' or 'off'", value);
	} else {
		return fail(err, errlen,
			    "unknown key '%s' (name, socket, backend, device, harvest-ms, dirty-tracking, endpoint, mac, "
			    "queues, mtu, poll, socket-group, socket-mode, bench-log)",
			    key);
	}
	return 0;
}

const char *port_dirty_tracking_name(enum port_dirty_tracking t)
{
	static const char *const names[] = { "auto", "device-log", "relay", "software" };

	return (unsigned)t < ARRAY_SIZE(names) ? names[t] : "?";
}

int port_config_check(const struct port_config *pc, char *err, size_t errlen)
{
	if (pc->name[0] == '\0')
		return fail(err, errlen, "name: missing");
	if (pc->socket[0] == '\0')
		return fail(err, errlen, "socket: missing");
	if (pc->backend == PORT_BACKEND_ACCEL && !pc->device[0])
		return fail(err, errlen, "device: missing (backend=accel needs device=vfio-user:PATH)");
	return 0;
}

int port_spec_parse(const char *spec, struct port_config *ret, char *err, size_t errlen)
{
	struct port_config pc;
	char buf[1024];
	char *save = NULL, *item;
	unsigned seen = 0;
	static const char *const keys[] = { "name", "socket", "backend", "endpoint",
					    "mac", "queues", "mtu", "poll", "bench-log", "device",
					    "harvest-ms", "socket-group", "socket-mode", "dirty-tracking" };
	int r;

	if (strlen(spec) >= sizeof(buf))
		return fail(err, errlen, "port spec longer than %zu bytes", sizeof(buf) - 1);
	strcpy(buf, spec);
	port_config_init(&pc);

	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq)
			return fail(err, errlen, "'%s' is not KEY=VALUE", item);
		*eq = '\0';
		for (unsigned k = 0; k < ARRAY_SIZE(keys); k++) {
			if (strcmp(item, keys[k]) == 0) {
				if (seen & (1u << k))
					return fail(err, errlen, "%s: given twice", item);
				seen |= 1u << k;
			}
		}
		r = port_config_set(&pc, item, eq + 1, err, errlen);
		if (r < 0)
			return r;
	}
	r = port_config_check(&pc, err, errlen);
	if (r < 0)
		return r;
	*ret = pc;
	return 0;
}

int port_spec_format(const struct port_config *pc, char *buf, size_t len)
{
	static const char *const ep[] = { "null", "loop", "tap:" };
	int n;

	n = snprintf(buf, len, "name=%s,socket=%s,backend=%s,endpoint=%s%s,queues=%u%s",
		     pc->name, pc->socket, port_backend_name(pc->backend), ep[pc->endpoint],
		     pc->endpoint == PORT_ENDPOINT_TAP ? pc->ifname : "", pc->queues,
		     pc->poll ? ",poll=on" : "");
	if (pc->backend == PORT_BACKEND_ACCEL) {
		int m = snprintf(buf + n, len - (size_t)n, ",device=%s,harvest-ms=%u%s%s", pc->device,
				 pc->harvest_ms, pc->dirty_tracking ? ",dirty-tracking=" : "",
				 pc->dirty_tracking ? port_dirty_tracking_name(pc->dirty_tracking) : "");
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	if (n > 0 && pc->bench_log && (size_t)n < len) {
		int m = snprintf(buf + n, len - (size_t)n, ",bench-log=on");
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	if (pc->has_mac) {
		int m = snprintf(buf + n, len - (size_t)n, ",mac=%02x:%02x:%02x:%02x:%02x:%02x",
				 pc->mac[0], pc->mac[1], pc->mac[2], pc->mac[3], pc->mac[4],
				 pc->mac[5]);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	if (pc->socket_group[0]) {
		int m = snprintf(buf + n, len - (size_t)n, ",socket-group=%s", pc->socket_group);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	if (pc->socket_mode) {
		int m = snprintf(buf + n, len - (size_t)n, ",socket-mode=%04o", pc->socket_mode);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	if (pc->has_mtu) {
		int m = snprintf(buf + n, len - (size_t)n, ",mtu=%u", pc->mtu);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	return n;
}

void agent_config_free(struct agent_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->runtime_dir);
	free(cfg->state_dir);
	free(cfg->log_level);
	free(cfg->ports);
	free(cfg->port_lines);
	memset(cfg, 0, sizeof(*cfg));
}

char *config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_kv(char *line, char **ret_key, char **ret_value)
{
	char *eq = strchr(line, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*ret_key = config_trim(line);
	*ret_value = config_trim(eq + 1);
	return 0;
}

enum section { SEC_NONE, SEC_AGENT, SEC_PORT };

/* Finishes the port section being parsed: required keys and uniqueness. */
static int close_port(struct agent_config *cfg, const char *name, unsigned line, char *err,
		      size_t errlen)
{
	struct port_config *pc = &cfg->ports[cfg->nports - 1];
	char why[CONFIG_ERR_MAX];

	if (port_config_check(pc, why, sizeof(why)) < 0)
		return fail(err, errlen, "%s:%u: [port %s]: %s", name, line, pc->name, why);
	for (size_t i = 0; i + 1 < cfg->nports; i++) {
		if (strcmp(cfg->ports[i].socket, pc->socket) == 0)
			return fail(err, errlen, "%s:%u: [port %s]: socket %s is also used by port %s",
				    name, line, pc->name, pc->socket, cfg->ports[i].name);
	}
	return 0;
}

static int set_string(char **slot, const char *key, const char *value, const char *name,
		      unsigned line, char *err, size_t errlen)
{
	if (*slot)
		return fail(err, errlen, "%s:%u: %s: given twice", name, line, key);
	if (value[0] == '\0')
		return fail(err, errlen, "%s:%u: %s: empty value", name, line, key);
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

int agent_config_parse(const char *name, const char *text, struct agent_config *ret,
		       char *err, size_t errlen)
{
	struct agent_config cfg = { 0 };
	enum section sec = SEC_NONE;
	unsigned seen = 0, line = 0, sec_line = 0;
	const char *p = text;
	char buf[CONFIG_LINE_MAX + 1];
	char why[CONFIG_ERR_MAX];
	int r = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *s, *key, *value;

		line++;
		if (n > CONFIG_LINE_MAX) {
			r = fail(err, errlen, "%s:%u: line longer than %d bytes", name, line,
				 CONFIG_LINE_MAX);
			goto out;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = nl ? nl + 1 : p + n;
		s = config_trim(buf);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;

		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || config_trim(end + 1)[0] != '\0') {
				r = fail(err, errlen, "%s:%u: malformed section header", name, line);
				goto out;
			}
			*end = '\0';
			if (sec == SEC_PORT && (r = close_port(&cfg, name, sec_line, err, errlen)) < 0)
				goto out;
			s = config_trim(s + 1);
			sec_line = line;
			seen = 0;
			if (strcmp(s, "agent") == 0) {
				sec = SEC_AGENT;
			} else if (strncmp(s, "port", 4) == 0 && isspace((unsigned char)s[4])) {
				struct port_config *np;
				unsigned *lines;
				char *pname = config_trim(s + 4);

				if (cfg.nports >= CONFIG_PORTS_MAX) {
					r = fail(err, errlen, "%s:%u: more than %d ports", name, line,
						 CONFIG_PORTS_MAX);
					goto out;
				}
				for (size_t i = 0; i < cfg.nports; i++) {
					if (strcmp(cfg.ports[i].name, pname) == 0) {
						r = fail(err, errlen, "%s:%u: port %s is defined twice",
							 name, line, pname);
						goto out;
					}
				}
				np = realloc(cfg.ports, (cfg.nports + 1) * sizeof(*np));
				if (!np) {
					r = -ENOMEM;
					goto out;
				}
				cfg.ports = np;
				lines = realloc(cfg.port_lines, (cfg.nports + 1) * sizeof(*lines));
				if (!lines) {
					r = -ENOMEM;
					goto out;
				}
				cfg.port_lines = lines;
				cfg.port_lines[cfg.nports] = line;
				port_config_init(&cfg.ports[cfg.nports]);
				cfg.nports++;
				sec = SEC_PORT;
				if (port_config_set(&cfg.ports[cfg.nports - 1], "name", pname, why,
						    sizeof(why)) < 0) {
					r = fail(err, errlen, "%s:%u: %s", name, line, why);
					goto out;
				}
			} else {
				r = fail(err, errlen,
					 "%s:%u: unknown section [%s] (expected [agent] or [port NAME])",
					 name, line, s);
				goto out;
			}
			continue;
		}

		if (config_kv(s, &key, &value) < 0) {
			r = fail(err, errlen, "%s:%u: expected KEY = VALUE or [section]", name, line);
			goto out;
		}

		if (sec == SEC_NONE) {
			r = fail(err, errlen, "%s:%u: '%s' outside a section", name, line, key);
			goto out;
		}
		if (sec == SEC_AGENT) {
			if (strcmp(key, "runtime-dir") == 0)
				r = set_string(&cfg.runtime_dir, key, value, name, line, err, errlen);
			else if (strcmp(key, "state-dir") == 0)
				r = set_string(&cfg.state_dir, key, value, name, line, err, errlen);
			else if (strcmp(key, "log-level") == 0 &&
				 log_level_from_string(value, &(enum log_level){ 0 }) < 0)
				r = fail(err, errlen, "%s:%u: log-level: '%s' is not err, warning, "
					 "notice, info or debug", name, line, value);
			else if (strcmp(key, "log-level") == 0)
				r = set_string(&cfg.log_level, key, value, name, line, err, errlen);
			else
				r = fail(err, errlen,
					 "%s:%u: [agent]: unknown key '%s' (runtime-dir, state-dir, "
					 "log-level)", name, line, key);
			if (r < 0)
				goto out;
			continue;
		}

		/* SEC_PORT */
		if (strcmp(key, "name") == 0) {
			r = fail(err, errlen, "%s:%u: the port's name is given by its section header",
				 name, line);
			goto out;
		}
		{
			static const char *const keys[] = { "socket", "backend", "endpoint", "mac",
							    "queues", "mtu", "poll", "bench-log", "device",
							    "harvest-ms", "socket-group", "socket-mode",
							    "dirty-tracking" };
			for (unsigned k = 0; k < ARRAY_SIZE(keys); k++) {
				if (strcmp(key, keys[k]) == 0) {
					if (seen & (1u << k)) {
						r = fail(err, errlen, "%s:%u: %s: given twice", name,
							 line, key);
						goto out;
					}
					seen |= 1u << k;
				}
			}
		}
		if (port_config_set(&cfg.ports[cfg.nports - 1], key, value, why, sizeof(why)) < 0) {
			r = fail(err, errlen, "%s:%u: [port %s]: %s", name, line,
				 cfg.ports[cfg.nports - 1].name, why);
			goto out;
		}
	}
	if (sec == SEC_PORT && (r = close_port(&cfg, name, sec_line, err, errlen)) < 0)
		goto out;

	*ret = cfg;
	return 0;
out:
	agent_config_free(&cfg);
	return r;
}

int agent_config_load(const char *path, struct agent_config *ret, char *err, size_t errlen)
{
	FILE *f;
	char *text;
	size_t n;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		fail(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		r = -EIO;
		fail(err, errlen, "%s: read error", path);
		goto out;
	}
	if (n > CONFIG_FILE_MAX) {
		r = fail(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto out;
	}
	if (memchr(text, '\0', n)) {
		r = fail(err, errlen, "%s: contains a NUL byte", path);
		goto out;
	}
	text[n] = '\0';
	r = agent_config_parse(path, text, ret, err, errlen);
out:
	free(text);
	fclose(f);
	return r;
}
