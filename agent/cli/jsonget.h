/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading members of a JSON reply from an agent, which is outside input:
 * each getter checks the member's presence and type and, when it is wrong,
 * fills err with "WHERE: "KEY" is missing or not WHAT" and returns
 * -EBADMSG.  WHERE names the object for the reader ("reply", "port",
 * "source reply", "ports[1]").  Strings point into o.
 */
#ifndef VDPA_AGENT_JSONGET_H
#define VDPA_AGENT_JSONGET_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "protocol/control.h"

/* Fills err as the getters do, for checks of the caller's own. */
int jget_bad(struct ctl_error *err, const char *where, const char *key, const char *what);

int jget_str(struct json_object *o, const char *where, const char *key, const char **ret,
	     struct ctl_error *err);
/* *ret NULL when absent; an error when of another type. */
int jget_opt_str(struct json_object *o, const char *where, const char *key, const char **ret,
		 struct ctl_error *err);
/* A non-negative integer (json-c keeps those above INT64_MAX as uint64). */
int jget_uint(struct json_object *o, const char *where, const char *key, uint64_t *ret,
	      struct ctl_error *err);
/* *has false when absent. */
int jget_opt_uint(struct json_object *o, const char *where, const char *key, bool *has,
		  uint64_t *ret, struct ctl_error *err);
int jget_bool(struct json_object *o, const char *where, const char *key, bool *ret,
	      struct ctl_error *err);
int jget_obj(struct json_object *o, const char *where, const char *key,
	     struct json_object **ret, struct ctl_error *err);
int jget_array(struct json_object *o, const char *where, const char *key,
	       struct json_object **ret, struct ctl_error *err);
/* "0x" and 1 to 16 hex digits, as the agent writes feature words. */
int jget_hex64(struct json_object *o, const char *where, const char *key, uint64_t *ret,
	       struct ctl_error *err);

#endif
