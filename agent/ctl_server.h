/*
 * The control socket server: line-delimited JSON requests
 * (docs/control-protocol.md) from vdpa-migrate, the libvirt hook and peer
 * agents.  Requests that change state need root or the vdpa-agent group
 * (SO_PEERCRED); read-only requests work for any peer that can connect.
 */
#ifndef VDPA_AGENT_CTL_SERVER_H
#define VDPA_AGENT_CTL_SERVER_H

#include <stddef.h>

struct agentd;
struct ctl_server;

#define CTL_GROUP "vdpa-agent"

/*
 * Takes the socket systemd passed (socket activation), or binds
 * RUNTIME_DIR/control.sock (mode 0660, group vdpa-agent when it exists).
 */
int ctl_server_new(struct agentd *a, struct ctl_server **ret, char *err, size_t errlen);
void ctl_server_free(struct ctl_server *s);
const char *ctl_server_path(const struct ctl_server *s);

#endif
