/*
 * Port and agent configuration: the --port SPEC strings and the INI-style
 * configuration file (vdpa-agentd.conf(5)).
 *
 * Both come from an operator, not from a peer, but a typo must still stop
 * start-up with the file, the line and the reason rather than run a port
 * that differs from what was written.  Parsing is pure: strings in, structs
 * out, a human reason in the caller's buffer on failure.
 */
#ifndef VDPA_AGENT_CONFIG_H
#define VDPA_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORT_NAME_MAX   31	/* [A-Za-z0-9_.-], not starting with '.' or '-' */
#define PORT_SOCKET_MAX 107	/* sizeof(sun_path) - 1 */
#define PORT_QUEUES_MAX 8	/* queue pairs */
#define PORT_MTU_MIN    68
#define PORT_MTU_MAX    65535
#define IFNAME_MAX      15	/* IFNAMSIZ - 1 */
#define CONFIG_ERR_MAX  256

/* How an accelerator's writes reach QEMU's log while it migrates the VM. */
enum port_dirty_tracking {
	PORT_TRACK_AUTO = 0,		/* the device's log when it has one, else the relay */
	PORT_TRACK_DEVICE_LOG = 1,	/* the device's own log; a device without is refused */
	PORT_TRACK_RELAY = 2,		/* shadow rings: the agent relays and logs */
	PORT_TRACK_SOFTWARE = 3,	/* the rings leave the device while QEMU logs */
};
const char *port_dirty_tracking_name(enum port_dirty_tracking t);

enum port_backend {
	PORT_BACKEND_SW = 0,
	PORT_BACKEND_ACCEL = 1,
};

#define PORT_DEVICE_MAX 127
#define PORT_GROUP_MAX  32	/* a group name (as useradd allows) or a numeric gid */

enum port_endpoint {
	PORT_ENDPOINT_NULL = 0,
	PORT_ENDPOINT_LOOP = 1,
	PORT_ENDPOINT_TAP = 2,
};

struct port_config {
	char name[PORT_NAME_MAX + 1];
	char socket[PORT_SOCKET_MAX + 1];
	enum port_backend backend;
	char device[PORT_DEVICE_MAX + 1];	/* backend=accel: vfio-user:PATH or vhost-vdpa:PATH */
	unsigned harvest_ms;			/* device log harvest period, default 50 */
	enum port_dirty_tracking dirty_tracking;	/* dirty-tracking=, default auto */
	enum port_endpoint endpoint;
	char ifname[IFNAME_MAX + 1];	/* endpoint=tap:IFNAME */
	bool has_mac;
	uint8_t mac[6];
	unsigned queues;		/* queue pairs, 1..PORT_QUEUES_MAX */
	bool has_mtu;
	unsigned mtu;
	bool poll;
	/* The vhost-user socket's group and mode, applied after bind(); "" and
	 * 0: left as created (root, mode from the umask). */
	char socket_group[PORT_GROUP_MAX + 1];
	unsigned socket_mode;
	/*
	 * Benchmarks only: log every write as if QEMU had turned LOG_ALL on,
	 * into a log of the agent's own (front ends such as DPDK virtio-user
	 * never migrate, so never ask for logging).
	 */
	bool bench_log;
};

struct agent_config {
	char *runtime_dir;	/* NULL: not set in the file */
	char *state_dir;
	char *log_level;
	size_t nports;
	struct port_config *ports;
	unsigned *port_lines;	/* the line of each port's [port NAME] header */
};

/* Fills *ret with the defaults and no name or socket. */
void port_config_init(struct port_config *ret);

/*
 * Sets one key of a port, as written in a SPEC or a config file.  On error
 * returns -EINVAL and writes "KEY: reason" into err; *pc may then be
 * partially updated, which is fine because the caller discards it.
 */
int port_config_set(struct port_config *pc, const char *key, const char *value,
		    char *err, size_t errlen);

/* Checks that required keys are present (name, socket). */
int port_config_check(const struct port_config *pc, char *err, size_t errlen);

/* Parses "name=NAME,socket=PATH[,key=value]..." */
int port_spec_parse(const char *spec, struct port_config *ret, char *err, size_t errlen);

/* Formats a port back into SPEC form (for listings and reloads). */
int port_spec_format(const struct port_config *pc, char *buf, size_t len);

/*
 * Parses a configuration file.  On failure err holds "PATH:LINE: reason".
 * ret is written only on success; free it with agent_config_free().
 */
int agent_config_load(const char *path, struct agent_config *ret, char *err, size_t errlen);
/* Same, from a string (tests, and the fuzz target); name is used in errors. */
int agent_config_parse(const char *name, const char *text, struct agent_config *ret,
		       char *err, size_t errlen);
void agent_config_free(struct agent_config *cfg);

/*
 * The line reader both configuration files share (this one and the hook's,
 * vdpa-migrate-hook.conf): config_trim() strips leading and trailing
 * whitespace (isspace()) in place and returns the first byte kept;
 * config_kv() splits "KEY = VALUE" at its first '=' in place, both sides
 * trimmed, or returns -EINVAL (nothing written) when there is no '='.
 */
char *config_trim(char *s);
int config_kv(char *line, char **ret_key, char **ret_value);

const char *port_backend_name(enum port_backend b);

#endif
