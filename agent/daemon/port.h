/*
 * A port: one vhost-user server socket, the front end connected to it (at
 * most one at a time), its device state, data path and endpoint.
 *
 * The port lives in the control thread's loop.  When the front end goes
 * away, or sends something we refuse, the connection is closed, the device
 * reset and the data path stopped; the port listens again (reconnect).
 * Nothing a front end does to one port reaches another.
 */
#ifndef VDPA_AGENT_PORT_H
#define VDPA_AGENT_PORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/common/config.h"
#include "agent/daemon/loop.h"

struct port;

enum port_origin {
	PORT_FROM_CONFIG,	/* the configuration file: SIGHUP may remove it */
	PORT_FROM_CLI,		/* --port */
	PORT_FROM_CONTROL,	/* port-add over the control socket */
};

/*
 * The gid socket-group= names (a name or a number), (gid_t)-1 when the
 * port sets none.  -ENOENT with err filled when no such group exists.
 */
int port_socket_gid(const struct port_config *cfg, gid_t *ret_gid, char *err, size_t errlen);

/* Binds the socket (replacing a stale one), opens the endpoint. */
int port_new(struct loop *loop, const struct port_config *cfg, enum port_origin origin,
	     struct port **ret, char *err, size_t errlen);
/* Disconnects the front end, stops everything, removes the socket.  Takes NULL. */
void port_free(struct port *p);

const struct port_config *port_config(const struct port *p);
enum port_origin port_origin(const struct port *p);
const char *port_state_name(const struct port *p);

/*
 * The port as the control protocol's replies carry it, filled here and
 * written by the one encoder (protocol/port_view.h).  NULL without memory.
 *   summary: {"name":..,"socket":..,"backend":..,"endpoint":..,"state":..,"queues":..}
 *   detail:  the summary plus features, rings and counters (port-show)
 */
struct json_object *port_summary_json(const struct port *p);
struct json_object *port_detail_json(const struct port *p);

/*
 * port-offer: adds to obj what a port of configuration cfg would offer a
 * front end, without creating it: name, backend, queues, mac and mtu (when
 * set), offered_features, offered_protocol_features, max_ring_size.  0 or
 * -ENOMEM.
 */
int port_offer_encode(const struct port_config *cfg, struct json_object *obj);

/*
 * dirtylog-snapshot / dirtylog-stop (docs/control-protocol.md).  snapshot
 * fills *ret with the reply members, or returns a negative errno with err
 * saying why.
 */
int port_dirtylog_snapshot(struct port *p, struct json_object **ret, char *err, size_t errlen);
int port_dirtylog_stop(struct port *p);

/*
 * Moves a live port's rings between the software path and its accelerator
 * (device= of its configuration); *ret_us is the time the rings were
 * stopped.  The port also falls back to software by itself when the
 * accelerator's connection closes or a request to it fails.
 */
int port_switch(struct port *p, enum port_backend to, uint64_t *ret_us, char *err,
		size_t errlen);
const char *port_engine_name(const struct port *p);
/* Once a second: checks the accelerator's health (falls back if ill). */
void port_tick(struct port *p);

/* Offered virtio features for a port configuration. */
uint64_t port_offered_features(const struct port_config *cfg);
uint64_t port_offered_protocol_features(const struct port_config *cfg);

#endif
