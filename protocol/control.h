/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol codec (docs/control-protocol.md): one JSON request
 * per line from a control client, one JSON reply per line from the agent.
 *
 * Trust boundary: ctl_parse_request() reads what a control client wrote;
 * the client is untrusted (any local process allowed to connect, and later a
 * peer agent).  A struct ctl_request it returns has passed the single
 * validator: the command is one of the table, every member it carries is
 * known, of the right type, within its length bound and NUL-free, and
 * changes_state comes from the table, not from the peer.  ctl_parse_reply()
 * reads what an agent wrote; the client treats it as untrusted too (a
 * remote agent, a wrong socket): it checks the reply's shape and cleans the
 * error text it hands back, and leaves the command's members to the caller.
 *
 * Nothing here does I/O or logs: bytes in, structs out, a reason in
 * struct ctl_error on failure.
 */
#ifndef VDPA_PROTOCOL_CONTROL_H
#define VDPA_PROTOCOL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define CTL_MAX_LINE      65536		/* bytes of a request, '\n' not counted */
#define CTL_MAX_REPLY     (1024 * 1024)	/* bytes of a reply, '\n' not counted */
#define CTL_MAX_DEPTH     8		/* JSON nesting of a request (object = 1) */
#define CTL_MAX_REPLY_DEPTH 16		/* JSON nesting of a reply */
#define CTL_NAME_MAX      31		/* bytes of "name" */
#define CTL_SPEC_MAX      1023		/* bytes of "spec" */
#define CTL_TO_MAX        15		/* bytes of "to" */

enum ctl_cmd {
	CTL_CMD_PORTS = 1,
	CTL_CMD_PORT_SHOW = 2,
	CTL_CMD_PORT_ADD = 3,
	CTL_CMD_PORT_DEL = 4,
	CTL_CMD_VERSION = 5,
	CTL_CMD_DIRTYLOG_SNAPSHOT = 6,
	CTL_CMD_DIRTYLOG_STOP = 7,
	CTL_CMD_PORT_SWITCH = 8,
	CTL_CMD_PORT_OFFER = 9,
};
#define CTL_CMD_MAX 9

/* Request members, as bits of ctl_cmd_info.required / .optional. */
enum ctl_member {
	CTL_M_NAME = 1u << 0,	/* "name": string, 1..CTL_NAME_MAX bytes */
	CTL_M_SPEC = 1u << 1,	/* "spec": string, 1..CTL_SPEC_MAX bytes */
	CTL_M_TO = 1u << 2,	/* "to": string, 1..CTL_TO_MAX bytes ("sw" or "accel") */
};

struct ctl_cmd_info {
	const char *name;	/* the wire name: "port-show" */
	enum ctl_cmd cmd;
	unsigned required;	/* enum ctl_member bits */
	unsigned optional;
	bool changes_state;	/* a server may refuse these to read-only clients */
};

/* What went wrong, for a reply or a message; both always NUL-terminated. */
struct ctl_error {
	char message[320];	/* room for an agent address, a reason and ssh's status */
	char field[32];		/* the request member to blame, or "" */
};

/* Fills err->message from fmt (cut to fit) and clears err->field. */
void ctl_errorf(struct ctl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct ctl_request {
	enum ctl_cmd cmd;
	char name[CTL_NAME_MAX + 1];	/* "" unless the command has "name" */
	char spec[CTL_SPEC_MAX + 1];	/* "" unless the command has "spec" */
	char to[CTL_TO_MAX + 1];	/* "" unless the command has "to" */
	bool changes_state;		/* copied from the table */
};

/* The table entry of cmd, or NULL when cmd is not a command. */
const struct ctl_cmd_info *ctl_cmd_info(enum ctl_cmd cmd);

/*
 * Parses and validates one request line (a trailing '\n' is allowed and
 * not counted against CTL_MAX_LINE).  On success fills *ret and returns 0.
 * On failure fills *err with the message and field of the doc's error
 * table, leaves *ret alone, and returns
 *   -EMSGSIZE  the line is longer than CTL_MAX_LINE (the server must also
 *              close the connection: the stream cannot be framed any more)
 *   -EBADMSG   not JSON, nested too deeply, or not an object
 *   -EINVAL    a member is missing, unknown, of the wrong type or too long,
 *              or the command is unknown
 *   -ENOMEM    (message "out of memory")
 */
int ctl_parse_request(const char *line, size_t len, struct ctl_request *ret,
		      struct ctl_error *err);

/*
 * Encoders: a malloc'd, NUL-terminated line ending in '\n', or NULL with
 * errno set (EINVAL: not a command of the table or a string without its
 * NUL; ENOMEM).  The request carries exactly the members its command takes.
 */
char *ctl_encode_request(const struct ctl_request *req);
char *ctl_encode_error(const struct ctl_error *err);

/*
 * A feature word as replies carry it: "0x" (or "0X") and 1 to 16 hex
 * digits.  0 with *ret set, or -EINVAL.
 */
int ctl_parse_hex64(const char *s, uint64_t *ret);

/*
 * Reads one reply line (a trailing '\n' is allowed).  A reply is an object
 * with a boolean "ok"; when it is false, "error" is a string and "field", if
 * present, a string.
 *   0           ok is true: *ret_obj is the whole reply object, "ok"
 *               included; the caller owns it (json_object_put()).
 *   -EREMOTEIO  ok is false: err holds the agent's error and field, with
 *               control characters replaced by '?' and cut to fit.
 *   -EMSGSIZE   longer than CTL_MAX_REPLY; err says so.
 *   -EBADMSG    not a reply; err says why.
 *   -ENOMEM
 */
int ctl_parse_reply(const char *line, size_t len, struct json_object **ret_obj,
		    struct ctl_error *err);

#endif
