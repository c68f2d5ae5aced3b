/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdpa-migrate's output: agent replies (struct json_object, as returned by
 * ctl_parse_reply()) rendered for people, or as JSON for -j.  Pure: a reply
 * and a FILE * in, text out; golden-tested by tests/unit/test_cli_render.c.
 *
 * Trust boundary: the reply comes from the agent at the other end of the
 * socket.  Every member a rendering needs is checked (type, sign, format)
 * before the first byte is written, so a bad reply prints nothing and
 * returns -EBADMSG with the reason in err; strings are written with control
 * characters replaced by '?', so a reply cannot drive the terminal.
 */
#ifndef VDPA_AGENT_RENDER_H
#define VDPA_AGENT_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include "protocol/control.h"

struct json_object;

/* "ports": a table NAME STATE BACKEND ENDPOINT QUEUES SOCKET. */
int render_ports(struct json_object *reply, FILE *f, struct ctl_error *err);

/* "port-show": the port as a block of "key: value" lines, then its rings. */
int render_port_show(struct json_object *reply, FILE *f, struct ctl_error *err);

/* "port-add": the new port, as one row of the ports table. */
int render_port_added(struct json_object *reply, FILE *f, struct ctl_error *err);

/*
 * -j: the reply without "ok", pretty-printed (two-space indent), one
 * object followed by '\n'; "{}" when nothing else is in it.
 */
int render_json(struct json_object *reply, FILE *f);

/*
 * Virtio feature bits as names, ascending by bit, separated by spaces;
 * bits without a name are written "bitN".  Returns the length as
 * snprintf() does.
 */
int render_feature_names(uint64_t features, char *buf, size_t len);

#endif
