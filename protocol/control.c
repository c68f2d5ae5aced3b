// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control protocol codec: the command table, the one validator every
 * request goes through, and the encoders of requests and error replies.
 *
 * Trust boundary (see control.h): request lines come from any process that
 * may connect to the control socket, reply lines from whatever answers on
 * the client's socket.  Both are parsed by json-c with a nesting bound,
 * strict mode and UTF-8 validation, after a length bound; every member is
 * then looked up in the table and checked for type and length before it is
 * copied into fixed-size fields.  Text taken from the peer and put into an
 * error message is cut to fit and has its control characters replaced, so a
 * peer cannot forge lines in a log or a terminal.
 *
 * Known looseness of json-c, accepted: a member given twice keeps its last
 * value (json-c replaces it while parsing; the server acts on the same value
 * the validator checked), and json-c's strict mode still takes single-quoted
 * strings and NaN.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol/control.h"
#include "protocol/text.h"

/* ---- the table ------------------------------------------------------- */

static const struct ctl_cmd_info commands[] = {
	{ "ports", CTL_CMD_PORTS, 0, 0, false },
	{ "port-show", CTL_CMD_PORT_SHOW, CTL_M_NAME, 0, false },
	{ "port-add", CTL_CMD_PORT_ADD, CTL_M_SPEC, 0, true },
	{ "port-del", CTL_CMD_PORT_DEL, CTL_M_NAME, 0, true },
	{ "version", CTL_CMD_VERSION, 0, 0, false },
	{ "dirtylog-snapshot", CTL_CMD_DIRTYLOG_SNAPSHOT, CTL_M_NAME, 0, true },
	{ "dirtylog-stop", CTL_CMD_DIRTYLOG_STOP, CTL_M_NAME, 0, true },
	{ "port-switch", CTL_CMD_PORT_SWITCH, CTL_M_NAME | CTL_M_TO, 0, true },
	{ "port-offer", CTL_CMD_PORT_OFFER, CTL_M_SPEC, 0, false },
};

struct member_info {
	const char *key;
	enum ctl_member bit;
	size_t max_len;		/* bytes, not counting the NUL */
	size_t offset;		/* of the char array in struct ctl_request */
};

static const struct member_info members[] = {
	{ "name", CTL_M_NAME, CTL_NAME_MAX, offsetof(struct ctl_request, name) },
	{ "spec", CTL_M_SPEC, CTL_SPEC_MAX, offsetof(struct ctl_request, spec) },
	{ "to", CTL_M_TO, CTL_TO_MAX, offsetof(struct ctl_request, to) },
};

_Static_assert(sizeof(((struct ctl_request *)0)->name) == CTL_NAME_MAX + 1, "name size");
_Static_assert(sizeof(((struct ctl_request *)0)->spec) == CTL_SPEC_MAX + 1, "spec size");
_Static_assert(sizeof(((struct ctl_request *)0)->to) == CTL_TO_MAX + 1, "to size");
_Static_assert(sizeof(commands) / sizeof(commands[0]) == CTL_CMD_MAX, "one entry per command");

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const struct ctl_cmd_info *ctl_cmd_info(enum ctl_cmd cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].cmd == cmd)
			return &commands[i];
	return NULL;
}

static const struct ctl_cmd_info *cmd_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strlen(commands[i].name) == len && memcmp(commands[i].name, name, len) == 0)
			return &commands[i];
	return NULL;
}

static const struct member_info *member_by_key(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(members); i++)
		if (strcmp(members[i].key, key) == 0)
			return &members[i];
	return NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static void set_err(struct ctl_error *err, const char *field, const char *message)
{
	snprintf(err->message, sizeof(err->message), "%s", message);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
}

void ctl_errorf(struct ctl_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->field[0] = '\0';
}

static bool is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Parses one complete JSON text of len bytes into *ret (NULL for the JSON
 * literal null).  0, -EBADMSG when it is not JSON, -ELOOP when it nests
 * deeper than depth.
 */
static int parse_json(const char *buf, size_t len, int depth, struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error e;
	int r = 0;

	tok = json_tokener_new_ex(depth);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* len <= CTL_MAX_REPLY, checked by both callers: fits an int. */
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	e = json_tokener_get_error(tok);
	if (e == json_tokener_success) {
		/* json-c stops at the value's end: only whitespace may follow
		 * (this also catches a NUL byte in the line). */
		for (size_t end = json_tokener_get_parse_end(tok); end < len; end++) {
			if (!is_json_ws(buf[end])) {
				r = -EBADMSG;
				break;
			}
		}
	} else if (e == json_tokener_continue) {
		/* A bare number or literal only ends at a delimiter: the NUL
		 * byte tells json-c the input is over. */
		obj = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
	}
	if (e != json_tokener_success)
		r = e == json_tokener_error_depth ? -ELOOP : -EBADMSG;
	json_tokener_free(tok);
	if (r < 0) {
		json_object_put(obj);
		return r;
	}
	*ret = obj;
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

static int check_member(const struct member_info *m, struct json_object *val,
			const char **ret_str, size_t *ret_len, struct ctl_error *err)
{
	char msg[64];
	const char *s;
	size_t n;

	if (!json_object_is_type(val, json_type_string)) {
		set_err(err, m->key, "must be a string");
		return -EINVAL;
	}
	s = json_object_get_string(val);
	n = (size_t)json_object_get_string_len(val);
	if (n == 0) {
		set_err(err, m->key, "must not be empty");
		return -EINVAL;
	}
	if (n > m->max_len) {
		snprintf(msg, sizeof(msg), "must be at most %zu bytes", m->max_len);
		set_err(err, m->key, msg);
		return -EINVAL;
	}
	if (memchr(s, '\0', n)) {
		set_err(err, m->key, "must not contain NUL");
		return -EINVAL;
	}
	*ret_str = s;
	*ret_len = n;
	return 0;
}

int ctl_parse_request(const char *line, size_t len, struct ctl_request *ret,
		      struct ctl_error *err)
{
	const struct ctl_cmd_info *info;
	struct json_object *obj = NULL, *cmdv;
	struct ctl_request req;
	unsigned seen = 0;
	int r;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > CTL_MAX_LINE) {
		snprintf(err->message, sizeof(err->message),
			 "request is longer than %d bytes", CTL_MAX_LINE);
		err->field[0] = '\0';
		return -EMSGSIZE;
	}
	r = parse_json(line, len, CTL_MAX_DEPTH, &obj);
	if (r == -ENOMEM) {
		set_err(err, NULL, "out of memory");
		return r;
	}
	if (r < 0) {
		set_err(err, NULL, r == -ELOOP ? "request is nested too deeply"
					       : "request is not valid JSON");
		return -EBADMSG;
	}
	r = -EBADMSG;
	if (!json_object_is_type(obj, json_type_object)) {
		set_err(err, NULL, "request must be a JSON object");
		goto out;
	}
	r = -EINVAL;

	if (!json_object_object_get_ex(obj, "cmd", &cmdv)) {
		set_err(err, "cmd", "missing member");
		goto out;
	}
	if (!json_object_is_type(cmdv, json_type_string)) {
		set_err(err, "cmd", "must be a string");
		goto out;
	}
	info = cmd_by_name(json_object_get_string(cmdv), (size_t)json_object_get_string_len(cmdv));
	if (!info) {
		char shown[65];

		text_show_n(json_object_get_string(cmdv), (size_t)json_object_get_string_len(cmdv),
			  shown, sizeof(shown));
		snprintf(err->message, sizeof(err->message), "unknown command '%s'", shown);
		snprintf(err->field, sizeof(err->field), "cmd");
		goto out;
	}

	memset(&req, 0, sizeof(req));
	req.cmd = info->cmd;
	req.changes_state = info->changes_state;

	/* In the request's order, so the first bad member is the one named. */
	json_object_object_foreach(obj, key, val) {
		const struct member_info *m;
		const char *s;
		size_t n;

		if (strcmp(key, "cmd") == 0)
			continue;
		m = member_by_key(key);
		if (!m || !((info->required | info->optional) & m->bit)) {
			snprintf(err->message, sizeof(err->message), "unknown member");
			text_show_n(key, strlen(key), err->field, sizeof(err->field));
			goto out;
		}
		if (check_member(m, val, &s, &n, err) < 0)
			goto out;
		memcpy((char *)&req + m->offset, s, n);
		((char *)&req + m->offset)[n] = '\0';
		seen |= m->bit;
	}
	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		if ((info->required & members[i].bit) && !(seen & members[i].bit)) {
			set_err(err, members[i].key, "missing member");
			goto out;
		}
	}

	*ret = req;
	r = 0;
out:
	json_object_put(obj);
	return r;
}

/* ---- encoders ---------------------------------------------------------- */

/* The compact text of obj plus '\n', malloc'd; consumes obj. */
static char *to_line(struct json_object *obj)
{
	const char *s;
	char *line = NULL;
	size_t n;

	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s) {
		n = strlen(s);
		line = malloc(n + 2);
		if (line) {
			memcpy(line, s, n);
			line[n] = '\n';
			line[n + 1] = '\0';
		}
	}
	json_object_put(obj);
	if (!line)
		errno = ENOMEM;
	return line;
}

/* Adds key: the string in a char array of cap bytes; false on failure. */
static bool add_str(struct json_object *obj, const char *key, const char *s, size_t cap)
{
	struct json_object *v;
	size_t n = strnlen(s, cap);

	if (n == cap) {
		errno = EINVAL;
		return false;
	}
	v = json_object_new_string_len(s, (int)n);
	if (!v || json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		errno = ENOMEM;
		return false;
	}
	return true;
}

char *ctl_encode_request(const struct ctl_request *req)
{
	const struct ctl_cmd_info *info = ctl_cmd_info(req->cmd);
	struct json_object *obj;

	if (!info) {
		errno = EINVAL;
		return NULL;
	}
	obj = json_object_new_object();
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	if (!add_str(obj, "cmd", info->name, strlen(info->name) + 1))
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		const struct member_info *m = &members[i];

		if (!((info->required | info->optional) & m->bit))
			continue;
		if (!add_str(obj, m->key, (const char *)req + m->offset, m->max_len + 1))
			goto fail;
	}
	return to_line(obj);
fail:
	json_object_put(obj);
	return NULL;
}

char *ctl_encode_error(const struct ctl_error *err)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *f;

	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	f = json_object_new_boolean(0);
	if (!f || json_object_object_add(obj, "ok", f) < 0) {
		json_object_put(f);
		errno = ENOMEM;
		goto fail;
	}
	if (!add_str(obj, "error", err->message, sizeof(err->message)))
		goto fail;
	if (strnlen(err->field, sizeof(err->field)) > 0 &&
	    !add_str(obj, "field", err->field, sizeof(err->field)))
		goto fail;
	return to_line(obj);
fail:
	json_object_put(obj);
	return NULL;
}

/* ---- replies ----------------------------------------------------------- */

int ctl_parse_reply(const char *line, size_t len, struct json_object **ret_obj,
		    struct ctl_error *err)
{
	struct json_object *obj = NULL, *ok, *e, *f = NULL;
	int r;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > CTL_MAX_REPLY) {
		snprintf(err->message, sizeof(err->message),
			 "reply is longer than %d bytes", CTL_MAX_REPLY);
		err->field[0] = '\0';
		return -EMSGSIZE;
	}
	r = parse_json(line, len, CTL_MAX_REPLY_DEPTH, &obj);
	if (r == -ENOMEM) {
		set_err(err, NULL, "out of memory");
		return r;
	}
	if (r < 0) {
		set_err(err, NULL, r == -ELOOP ? "reply is nested too deeply" : "reply is not valid JSON");
		return -EBADMSG;
	}
	r = -EBADMSG;
	if (!json_object_is_type(obj, json_type_object)) {
		set_err(err, NULL, "reply is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(obj, "ok", &ok) || !json_object_is_type(ok, json_type_boolean)) {
		set_err(err, NULL, "reply has no boolean \"ok\"");
		goto out;
	}
	if (json_object_get_boolean(ok)) {
		*ret_obj = obj;
		return 0;
	}
	if (!json_object_object_get_ex(obj, "error", &e) || !json_object_is_type(e, json_type_string)) {
		set_err(err, NULL, "refusal has no \"error\" string");
		goto out;
	}
	if (json_object_object_get_ex(obj, "field", &f) && !json_object_is_type(f, json_type_string)) {
		set_err(err, NULL, "refusal's \"field\" is not a string");
		goto out;
	}
	text_show_n(json_object_get_string(e), (size_t)json_object_get_string_len(e), err->message,
		  sizeof(err->message));
	if (f)
		text_show_n(json_object_get_string(f), (size_t)json_object_get_string_len(f),
			  err->field, sizeof(err->field));
	else
		err->field[0] = '\0';
	r = -EREMOTEIO;
out:
	json_object_put(obj);
	return r;
}

int ctl_parse_hex64(const char *s, uint64_t *ret)
{
	size_t n = strlen(s);
	uint64_t v = 0;

	if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (size_t i = 2; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}
