// SPDX-License-Identifier: GPL-2.0-or-later
/* Checked members of agent replies; see jsonget.h. */
#include "agent/cli/jsonget.h"

#include <errno.h>
#include <stdio.h>

int jget_bad(struct ctl_error *err, const char *where, const char *key, const char *what)
{
	snprintf(err->message, sizeof(err->message), "%s: \"%s\" is missing or not %s", where,
		 key, what);
	err->field[0] = '\0';
	return -EBADMSG;
}

static struct json_object *member(struct json_object *o, const char *key, json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

int jget_str(struct json_object *o, const char *where, const char *key, const char **ret,
	     struct ctl_error *err)
{
	struct json_object *v = member(o, key, json_type_string);

	if (!v)
		return jget_bad(err, where, key, "a string");
	*ret = json_object_get_string(v);
	return 0;
}

int jget_opt_str(struct json_object *o, const char *where, const char *key, const char **ret,
		 struct ctl_error *err)
{
	*ret = NULL;
	if (!json_object_object_get_ex(o, key, NULL))
		return 0;
	return jget_str(o, where, key, ret, err);
}

int jget_uint(struct json_object *o, const char *where, const char *key, uint64_t *ret,
	      struct ctl_error *err)
{
	struct json_object *v = member(o, key, json_type_int);

	/* get_int64() clamps what json-c keeps as uint64 to INT64_MAX, so
	 * only true negatives test < 0. */
	if (!v || json_object_get_int64(v) < 0)
		return jget_bad(err, where, key, "a non-negative integer");
	*ret = json_object_get_uint64(v);
	return 0;
}

int jget_opt_uint(struct json_object *o, const char *where, const char *key, bool *has,
		  uint64_t *ret, struct ctl_error *err)
{
	*has = json_object_object_get_ex(o, key, NULL);
	return *has ? jget_uint(o, where, key, ret, err) : 0;
}

int jget_bool(struct json_object *o, const char *where, const char *key, bool *ret,
	      struct ctl_error *err)
{
	struct json_object *v = member(o, key, json_type_boolean);

	if (!v)
		return jget_bad(err, where, key, "a boolean");
	*ret = json_object_get_boolean(v);
	return 0;
}

int jget_obj(struct json_object *o, const char *where, const char *key,
	     struct json_object **ret, struct ctl_error *err)
{
	struct json_object *v = member(o, key, json_type_object);

	if (!v)
		return jget_bad(err, where, key, "an object");
	*ret = v;
	return 0;
}

int jget_array(struct json_object *o, const char *where, const char *key,
	       struct json_object **ret, struct ctl_error *err)
{
	struct json_object *v = member(o, key, json_type_array);

	if (!v)
		return jget_bad(err, where, key, "an array");
	*ret = v;
	return 0;
}

int jget_hex64(struct json_object *o, const char *where, const char *key, uint64_t *ret,
	       struct ctl_error *err)
{
	const char *s;

	if (jget_str(o, where, key, &s, err) < 0)
		return -EBADMSG;
	if (ctl_parse_hex64(s, ret) < 0)
		return jget_bad(err, where, key, "a hex string");
	return 0;
}
