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

#include <stdbool.h>
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
 * The -j contract (vdpa-migrate-json(7)): every object vdpa-migrate prints
 * with -j starts with "version": RENDER_JSON_VERSION, which changes only
 * when a member changes meaning or goes away (new members do not change
 * it).
 */
#define RENDER_JSON_VERSION 1

/*
 * -j: the reply without "ok", after "version", one object followed by
 * '\n': on one line, or indented by two spaces after
 * render_json_set_pretty(true).  Beside every virtio feature word ("features",
 * "offered_features": hex strings, at any depth) goes an array of its
 * names ("feature_names", "offered_feature_names"), as the text output
 * names them.  Every JSON object vdpa-migrate prints goes through here.
 */
int render_json(struct json_object *reply, FILE *f);
void render_json_set_pretty(bool pretty);
/* Compact, nothing written, no error kept: as at the start of a run. */
void render_json_reset(void);
/* Whether render_json() has written an object to stdout in this process. */
bool render_json_wrote_stdout(void);

/*
 * Errors: "vdpa-migrate: MESSAGE" on stderr; the first line of the last
 * one is kept for -j, where a command that fails without having printed
 * an object prints {"version", "error", "exit_status"} (commands.c).
 */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cli_last_error(void);

/*
 * Virtio feature bits as names, ascending by bit, separated by spaces;
 * bits without a name are written "bitN".  Returns the length as
 * snprintf() does.
 */
int render_feature_names(uint64_t features, char *buf, size_t len);

#endif
