/*
 * The control socket server: line-delimited JSON requests
 * (docs/control-protocol.md) from vdpa-migrate, the libvirt hook and peer
 * agents.  Requests that change state need root or the vdpa-agent group
 * (SO_PEERCRED); read-only requests work for any peer that can connect.
 */
#ifndef VDPA_AGENT_CTL_SERVER_H
#define VDPA_AGENT_CTL_SERVER_H

#include <stddef.h>

#include "agent/common/config.h"
#include "agent/daemon/loop.h"
#include "agent/daemon/port.h"

struct ctl_server;

#define CTL_GROUP "vdpa-agent"

/*
 * What the server asks of whoever owns the ports (the daemon, agentd.c),
 * passed in so that the server never sees the daemon's own structure and
 * the two files do not include each other.  Called on the loop's thread.
 */
struct ctl_ports {
	void *opaque;
	size_t (*count)(void *opaque);
	struct port *(*at)(void *opaque, size_t i);
	struct port *(*find)(void *opaque, const char *name);
	/* 0, or a negative errno with err saying why (a port added over the
	 * control socket: kept in the state directory). */
	int (*add)(void *opaque, const struct port_config *cfg, char *err, size_t errlen);
	/* 0, or -ENOENT when there is no such port. */
	int (*del)(void *opaque, const char *name);
};

/*
 * Takes the socket systemd passed (socket activation), or binds
 * RUNTIME_DIR/control.sock (mode 0660, group vdpa-agent when it exists),
 * and serves it on LOOP.  PORTS is copied.
 */
int ctl_server_new(struct loop *loop, const char *runtime_dir, const struct ctl_ports *ports,
		   struct ctl_server **ret, char *err, size_t errlen);
void ctl_server_free(struct ctl_server *s);
const char *ctl_server_path(const struct ctl_server *s);

#endif
