/*
 * The daemon: its ports, the control socket, signals and systemd glue, all
 * driven by one event loop in the main (control) thread.
 */
#ifndef VDPA_AGENT_AGENTD_H
#define VDPA_AGENT_AGENTD_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/common/config.h"
#include "agent/daemon/loop.h"
#include "agent/daemon/port.h"

struct agentd {
	struct loop *loop;
	const char *config_path;	/* NULL: none, SIGHUP only reloads nothing */
	const char *runtime_dir;
	const char *state_dir;
	struct port **ports;
	size_t nports;
	int sig_fd;
	struct watch *sig_watch;
	int wd_fd;			/* watchdog timerfd, -1 without WATCHDOG_USEC */
	struct watch *wd_watch;
	int tick_fd;			/* once-a-second housekeeping timerfd */
	struct watch *tick_watch;
	struct ctl_server *ctl;
	bool stopping;		/* STOPPING=1 sent: no more STATUS= */
	bool restoring;		/* agentd_restore_ports(): do not rewrite the list */
	/* Lines of STATE_DIR/ports not served at start-up, written back on
	 * every rewrite (tried again at the next start), with the port name
	 * when the line parsed ("" when not). */
	struct agentd_unserved {
		char *line;
		char name[PORT_NAME_MAX + 1];
	} *unserved;
	size_t nunserved;
	/* Ports of the configuration file (at start and at the last reload)
	 * and of --port that could not be served: logged with where they
	 * were written, counted in STATUS=. */
	size_t nskipped_config, nskipped_cli;
};

int agentd_init(struct agentd *a, const char *config_path, const char *runtime_dir,
		const char *state_dir);
void agentd_fini(struct agentd *a);

int agentd_add_port(struct agentd *a, const struct port_config *cfg, enum port_origin origin,
		    char *err, size_t errlen);
int agentd_del_port(struct agentd *a, const char *name);
struct port *agentd_find_port(const struct agentd *a, const char *name);

/* Adds the ports of STATE_DIR/ports (the ports added over the control
 * socket before a restart); a line that cannot be served is logged with
 * the file and line and skipped.  0, or a negative errno when the file
 * exists but cannot be read. */
int agentd_restore_ports(struct agentd *a);

/*
 * Adds the ports of the configuration file (cfg, read from a->config_path)
 * or of the command line (origin PORT_FROM_CLI, lines NULL).  A port that
 * cannot be served is logged with its file and line and skipped: the other
 * ports still serve.  Returns how many were skipped.
 */
size_t agentd_add_configured(struct agentd *a, const struct port_config *ports,
			     const unsigned *lines, size_t n, enum port_origin origin);

/*
 * What --check-config can tell without serving a port: the socket's
 * directory exists (or is runtime_dir, which the agent creates), the path
 * is free or a socket, the socket group exists.  0, or -errno with err
 * filled.
 */
int agentd_port_preflight(const struct port_config *pc, const char *runtime_dir, char *err,
			  size_t errlen);

/* Re-reads the configuration file: adds new ports, removes ports the file
 * no longer has, leaves every other port (and its live VM) alone. */
int agentd_reload(struct agentd *a);

/* Binds the control socket, tells systemd we are ready, runs the loop. */
int agentd_run(struct agentd *a);

#endif
