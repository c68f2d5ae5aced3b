// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/control.c: every command survives encode then
 * parse; every refusal of docs/control-protocol.md's error table comes back
 * with its exact message and field (what a client prints), and leaves the
 * caller's request untouched; replies are read and refusals cleaned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/common/util.h"
#include "protocol/control.h"

/* A request filled with a pattern, to see that failures do not write it. */
static void poison(struct ctl_request *r)
{
	memset(r, 0x5a, sizeof(*r));
}

static bool poisoned(const struct ctl_request *r)
{
	const unsigned char *p = (const unsigned char *)r;

	for (size_t i = 0; i < sizeof(*r); i++)
		if (p[i] != 0x5a)
			return false;
	return true;
}

static int parse_str(const char *s, struct ctl_request *req, struct ctl_error *err)
{
	return ctl_parse_request(s, strlen(s), req, err);
}

/* ---- the table --------------------------------------------------------- */

static void table_lookup(void **state)
{
	static const struct {
		enum ctl_cmd cmd;
		const char *name;
		bool changes;
	} want[] = {
		{ CTL_CMD_PORTS, "ports", false },
		{ CTL_CMD_PORT_SHOW, "port-show", false },
		{ CTL_CMD_PORT_ADD, "port-add", true },
		{ CTL_CMD_PORT_DEL, "port-del", true },
		{ CTL_CMD_VERSION, "version", false },
		/* Read-only: a precheck needs no privilege on the destination. */
		{ CTL_CMD_PORT_OFFER, "port-offer", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct ctl_cmd_info *info = ctl_cmd_info(want[i].cmd);

		assert_non_null(info);
		assert_int_equal(info->cmd, want[i].cmd);
		assert_string_equal(info->name, want[i].name);
		assert_int_equal(info->changes_state, want[i].changes);
	}
	assert_null(ctl_cmd_info((enum ctl_cmd)0));
	assert_null(ctl_cmd_info((enum ctl_cmd)(CTL_CMD_MAX + 1)));
}

/* ---- round trips ------------------------------------------------------- */

static void roundtrip_every_command(void **state)
{
	static const struct {
		enum ctl_cmd cmd;
		const char *name, *spec;
		const char *line;
	} cases[] = {
		{ CTL_CMD_PORTS, "", "", "{\"cmd\":\"ports\"}\n" },
		{ CTL_CMD_PORT_SHOW, "vm1-net0", "", "{\"cmd\":\"port-show\",\"name\":\"vm1-net0\"}\n" },
		{ CTL_CMD_PORT_ADD, "", "name=p0,socket=/run/vdpa/p0.sock,endpoint=tap:t0",
		  "{\"cmd\":\"port-add\",\"spec\":\"name=p0,socket=/run/vdpa/p0.sock,endpoint=tap:t0\"}\n" },
		{ CTL_CMD_PORT_DEL, "p0", "", "{\"cmd\":\"port-del\",\"name\":\"p0\"}\n" },
		{ CTL_CMD_VERSION, "", "", "{\"cmd\":\"version\"}\n" },
		{ CTL_CMD_PORT_OFFER, "", "name=p0,socket=/run/vdpa/p0.sock,backend=sw,queues=2",
		  "{\"cmd\":\"port-offer\",\"spec\":\"name=p0,socket=/run/vdpa/p0.sock,backend=sw,queues=2\"}\n" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ctl_request in = { .cmd = cases[i].cmd }, out;
		struct ctl_error err;
		char *line;

		strcpy(in.name, cases[i].name);
		strcpy(in.spec, cases[i].spec);
		line = ctl_encode_request(&in);
		assert_non_null(line);
		assert_string_equal(line, cases[i].line);
		poison(&out);
		assert_int_equal(ctl_parse_request(line, strlen(line), &out, &err), 0);
		assert_int_equal(out.cmd, cases[i].cmd);
		assert_string_equal(out.name, cases[i].name);
		assert_string_equal(out.spec, cases[i].spec);
		assert_int_equal(out.changes_state, ctl_cmd_info(cases[i].cmd)->changes_state);
		free(line);
	}
}

/* Members a command does not take are not sent, whatever the struct holds. */
static void encode_only_table_members(void **state)
{
	struct ctl_request in = { .cmd = CTL_CMD_PORTS };
	char *line;

	(void)state;
	strcpy(in.name, "stale");
	strcpy(in.spec, "stale");
	line = ctl_encode_request(&in);
	assert_string_equal(line, "{\"cmd\":\"ports\"}\n");
	free(line);
}

static void roundtrip_limits_and_escapes(void **state)
{
	struct ctl_request in = { .cmd = CTL_CMD_PORT_ADD }, out;
	struct ctl_error err;
	char *line;

	(void)state;
	/* The longest spec, with characters JSON must escape. */
	memset(in.spec, 'a', CTL_SPEC_MAX);
	in.spec[0] = '"';
	in.spec[1] = '\\';
	in.spec[2] = '\t';
	in.spec[3] = '/';
	in.spec[CTL_SPEC_MAX] = '\0';
	line = ctl_encode_request(&in);
	assert_non_null(line);
	assert_int_equal(ctl_parse_request(line, strlen(line), &out, &err), 0);
	assert_memory_equal(out.spec, in.spec, CTL_SPEC_MAX + 1);
	free(line);

	in.cmd = CTL_CMD_PORT_SHOW;
	memset(in.name, 'n', CTL_NAME_MAX);
	in.name[CTL_NAME_MAX] = '\0';
	line = ctl_encode_request(&in);
	assert_int_equal(ctl_parse_request(line, strlen(line), &out, &err), 0);
	assert_string_equal(out.name, in.name);
	free(line);
}

static void encode_refuses_bad_structs(void **state)
{
	struct ctl_request in = { .cmd = (enum ctl_cmd)42 };

	(void)state;
	errno = 0;
	assert_null(ctl_encode_request(&in));
	assert_int_equal(errno, EINVAL);

	in.cmd = CTL_CMD_PORT_DEL;
	memset(in.name, 'x', sizeof(in.name));	/* no NUL */
	errno = 0;
	assert_null(ctl_encode_request(&in));
	assert_int_equal(errno, EINVAL);
}

/* Whitespace around the object and a '\n' at the end are fine. */
static void parse_accepts_whitespace(void **state)
{
	struct ctl_request out;
	struct ctl_error err;

	(void)state;
	assert_int_equal(parse_str(" \t{ \"name\" : \"p\", \"cmd\":\"port-del\" }\r\n", &out, &err), 0);
	assert_int_equal(out.cmd, CTL_CMD_PORT_DEL);
	assert_string_equal(out.name, "p");
	assert_true(out.changes_state);
}

/* ---- refusals ---------------------------------------------------------- */

struct refusal {
	const char *line;
	int rc;
	const char *message;
	const char *field;
};

static void check_refusal(const char *line, size_t len, const struct refusal *want)
{
	struct ctl_request out;
	struct ctl_error err;
	int rc;

	poison(&out);
	memset(&err, 0x5a, sizeof(err));
	rc = ctl_parse_request(line, len, &out, &err);
	if (rc != want->rc || strcmp(err.message, want->message) != 0 ||
	    strcmp(err.field, want->field) != 0)
		print_error("line %.60s: got %d '%s' field '%s'\n", line, rc, err.message, err.field);
	assert_int_equal(rc, want->rc);
	assert_string_equal(err.message, want->message);
	assert_string_equal(err.field, want->field);
	assert_true(poisoned(&out));
}

static void refusals_from_the_doc(void **state)
{
	static const struct refusal cases[] = {
		/* not JSON */
		{ "", -EBADMSG, "request is not valid JSON", "" },
		{ "{\"cmd\":\"ports\"", -EBADMSG, "request is not valid JSON", "" },
		{ "{\"cmd\":\"ports\",}", -EBADMSG, "request is not valid JSON", "" },
		{ "{\"cmd\":\"ports\"} x", -EBADMSG, "request is not valid JSON", "" },
		{ "{\"cmd\":\"ports\"}{\"cmd\":\"ports\"}", -EBADMSG, "request is not valid JSON", "" },
		{ "{\"cmd\":\"\xff\"}", -EBADMSG, "request is not valid JSON", "" },
		{ "cmd=ports", -EBADMSG, "request is not valid JSON", "" },
		/* not an object */
		{ "[\"ports\"]", -EBADMSG, "request must be a JSON object", "" },
		{ "\"ports\"", -EBADMSG, "request must be a JSON object", "" },
		{ "42", -EBADMSG, "request must be a JSON object", "" },
		{ "null", -EBADMSG, "request must be a JSON object", "" },
		/* missing cmd */
		{ "{}", -EINVAL, "missing member", "cmd" },
		{ "{\"name\":\"p0\"}", -EINVAL, "missing member", "cmd" },
		/* unknown cmd: exact names only */
		{ "{\"cmd\":\"reboot\"}", -EINVAL, "unknown command 'reboot'", "cmd" },
		{ "{\"cmd\":\"port\"}", -EINVAL, "unknown command 'port'", "cmd" },
		{ "{\"cmd\":\"Ports\"}", -EINVAL, "unknown command 'Ports'", "cmd" },
		{ "{\"cmd\":\"ports \"}", -EINVAL, "unknown command 'ports '", "cmd" },
		{ "{\"cmd\":\"ports\\u0000\"}", -EINVAL, "unknown command 'ports?'", "cmd" },
		{ "{\"cmd\":\"a\\nb\\u001b[2J\"}", -EINVAL, "unknown command 'a?b?[2J'", "cmd" },
		{ "{\"cmd\":\"\"}", -EINVAL, "unknown command ''", "cmd" },
		/* wrong type */
		{ "{\"cmd\":1}", -EINVAL, "must be a string", "cmd" },
		{ "{\"cmd\":null}", -EINVAL, "must be a string", "cmd" },
		{ "{\"cmd\":[\"ports\"]}", -EINVAL, "must be a string", "cmd" },
		{ "{\"cmd\":\"port-show\",\"name\":7}", -EINVAL, "must be a string", "name" },
		{ "{\"cmd\":\"port-add\",\"spec\":{\"name\":\"p\"}}", -EINVAL, "must be a string", "spec" },
		{ "{\"cmd\":\"port-del\",\"name\":true}", -EINVAL, "must be a string", "name" },
		/* unknown member, including a known member on the wrong command */
		{ "{\"cmd\":\"ports\",\"verbose\":true}", -EINVAL, "unknown member", "verbose" },
		{ "{\"cmd\":\"ports\",\"name\":\"p0\"}", -EINVAL, "unknown member", "name" },
		{ "{\"cmd\":\"port-show\",\"name\":\"p0\",\"spec\":\"x\"}", -EINVAL, "unknown member", "spec" },
		{ "{\"cmd\":\"port-show\",\"nmae\":\"p0\"}", -EINVAL, "unknown member", "nmae" },
		{ "{\"cmd\":\"version\",\"a\\u0007b\":1}", -EINVAL, "unknown member", "a?b" },
		{ "{\"cmd\":\"version\",\"0123456789012345678901234567890123456789\":1}", -EINVAL,
		  "unknown member", "0123456789012345678901234567890" },
		/* missing member the command needs */
		{ "{\"cmd\":\"port-show\"}", -EINVAL, "missing member", "name" },
		{ "{\"cmd\":\"port-add\"}", -EINVAL, "missing member", "spec" },
		{ "{\"cmd\":\"port-del\"}", -EINVAL, "missing member", "name" },
		{ "{\"cmd\":\"port-offer\"}", -EINVAL, "missing member", "spec" },
		/* port-offer takes a spec only: not a name, and the spec is a string */
		{ "{\"cmd\":\"port-offer\",\"name\":\"p0\"}", -EINVAL, "unknown member", "name" },
		{ "{\"cmd\":\"port-offer\",\"spec\":7}", -EINVAL, "must be a string", "spec" },
		{ "{\"cmd\":\"port-offer\",\"spec\":\"\"}", -EINVAL, "must not be empty", "spec" },
		{ "{\"cmd\":\"port-offer\",\"spec\":\"a\",\"to\":\"sw\"}", -EINVAL, "unknown member", "to" },
		/* bad strings */
		{ "{\"cmd\":\"port-show\",\"name\":\"\"}", -EINVAL, "must not be empty", "name" },
		{ "{\"cmd\":\"port-del\",\"name\":\"p\\u0000x\"}", -EINVAL, "must not contain NUL", "name" },
		{ "{\"cmd\":\"port-show\",\"name\":\"01234567890123456789012345678901\"}", -EINVAL,
		  "must be at most 31 bytes", "name" },
		/* deep nesting */
		{ "{\"cmd\":\"ports\",\"x\":[[[[[[[[1]]]]]]]]}", -EBADMSG, "request is nested too deeply", "" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", -EBADMSG, "request is nested too deeply", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_refusal(cases[i].line, strlen(cases[i].line), &cases[i]);
}

/* The first bad member in the request's order is the one named. */
static void refusal_names_first_bad_member(void **state)
{
	static const struct refusal r = { NULL, -EINVAL, "unknown member", "zzz" };

	(void)state;
	check_refusal("{\"cmd\":\"port-show\",\"zzz\":1,\"name\":2}",
		      strlen("{\"cmd\":\"port-show\",\"zzz\":1,\"name\":2}"), &r);
}

static void refusal_overlong_spec(void **state)
{
	static const struct refusal want = { NULL, -EINVAL, "must be at most 1023 bytes", "spec" };
	char line[2048];
	int n;

	(void)state;
	n = snprintf(line, sizeof(line), "{\"cmd\":\"port-add\",\"spec\":\"%01024d\"}", 0);
	check_refusal(line, (size_t)n, &want);
}

/* A NUL byte inside the line (not inside a string) is not JSON. */
static void refusal_nul_byte(void **state)
{
	static const struct refusal want = { NULL, -EBADMSG, "request is not valid JSON", "" };
	static const char line[] = "{\"cmd\":\"ports\"}\0{\"cmd\":\"version\"}";

	(void)state;
	check_refusal(line, sizeof(line) - 1, &want);
}

static void refusal_overlong_line(void **state)
{
	static const struct refusal too_long = { NULL, -EMSGSIZE, "request is longer than 65536 bytes", "" };
	struct ctl_request out;
	struct ctl_error err;
	char *line = malloc(CTL_MAX_LINE + 2);
	size_t pre = strlen("{\"cmd\":\"ports\",\"x\":\""), post = strlen("\"}");

	(void)state;
	/* Exactly CTL_MAX_LINE bytes: parsed (and refused for its member). */
	memset(line, 'a', CTL_MAX_LINE + 1);
	memcpy(line, "{\"cmd\":\"ports\",\"x\":\"", pre);
	memcpy(line + CTL_MAX_LINE - post, "\"}", post);
	line[CTL_MAX_LINE] = '\n';
	assert_int_equal(ctl_parse_request(line, CTL_MAX_LINE, &out, &err), -EINVAL);
	assert_string_equal(err.field, "x");
	/* The same plus its '\n' is still within the limit. */
	assert_int_equal(ctl_parse_request(line, CTL_MAX_LINE + 1, &out, &err), -EINVAL);
	/* One byte more is not. */
	memcpy(line + CTL_MAX_LINE - post, " \"}", post + 1);
	check_refusal(line, CTL_MAX_LINE + 1, &too_long);
	free(line);
}

/* An unknown command's name is shown cut to 64 bytes, on a UTF-8 boundary. */
static void refusal_long_unknown_command(void **state)
{
	char line[512], want[160];
	struct ctl_request out;
	struct ctl_error err;

	(void)state;
	/* 63 ASCII bytes then "é" (2 bytes) straddling the cut. */
	snprintf(line, sizeof(line), "{\"cmd\":\"%063d\xc3\xa9zzzz\"}", 0);
	assert_int_equal(parse_str(line, &out, &err), -EINVAL);
	snprintf(want, sizeof(want), "unknown command '%063d'", 0);
	assert_string_equal(err.message, want);
	assert_string_equal(err.field, "cmd");
}

/* ---- errors and replies ------------------------------------------------ */

static void encode_error_roundtrip(void **state)
{
	struct ctl_error e = { "no port named 'x'", "name" }, back;
	struct json_object *obj = NULL;
	char *line;

	(void)state;
	line = ctl_encode_error(&e);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"no port named 'x'\",\"field\":\"name\"}\n");
	assert_int_equal(ctl_parse_reply(line, strlen(line), &obj, &back), -EREMOTEIO);
	assert_null(obj);
	assert_string_equal(back.message, e.message);
	assert_string_equal(back.field, "name");
	free(line);

	/* No field: the member is left out. */
	strcpy(e.message, "request is not valid JSON");
	e.field[0] = '\0';
	line = ctl_encode_error(&e);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"request is not valid JSON\"}\n");
	assert_int_equal(ctl_parse_reply(line, strlen(line), &obj, &back), -EREMOTEIO);
	assert_string_equal(back.field, "");
	free(line);
}

static void reply_ok(void **state)
{
	static const char line[] = "{\"ok\":true,\"version\":\"0.1.0\"}\n";
	struct json_object *obj = NULL, *v;
	struct ctl_error err;

	(void)state;
	assert_int_equal(ctl_parse_reply(line, strlen(line), &obj, &err), 0);
	assert_non_null(obj);
	assert_true(json_object_object_get_ex(obj, "version", &v));
	assert_string_equal(json_object_get_string(v), "0.1.0");
	json_object_put(obj);
}

static void reply_refusal_is_cleaned(void **state)
{
	static const char line[] = "{\"ok\":false,\"error\":\"bad\\u001b[31m\\nline\",\"field\":\"na\\tme\"}";
	struct json_object *obj = NULL;
	struct ctl_error err;
	char big[600];
	int n;

	(void)state;
	assert_int_equal(ctl_parse_reply(line, strlen(line), &obj, &err), -EREMOTEIO);
	assert_string_equal(err.message, "bad?[31m?line");
	assert_string_equal(err.field, "na?me");

	/* An over-long error is cut to fit. */
	n = snprintf(big, sizeof(big), "{\"ok\":false,\"error\":\"%0400d\"}", 0);
	assert_int_equal(ctl_parse_reply(big, (size_t)n, &obj, &err), -EREMOTEIO);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void reply_refusals(void **state)
{
	static const struct {
		const char *line;
		const char *message;
	} cases[] = {
		{ "", "reply is not valid JSON" },
		{ "ok", "reply is not valid JSON" },
		{ "{\"ok\":true", "reply is not valid JSON" },
		{ "[true]", "reply is not a JSON object" },
		{ "{}", "reply has no boolean \"ok\"" },
		{ "{\"ok\":1}", "reply has no boolean \"ok\"" },
		{ "{\"ok\":\"true\"}", "reply has no boolean \"ok\"" },
		{ "{\"ok\":false}", "refusal has no \"error\" string" },
		{ "{\"ok\":false,\"error\":3}", "refusal has no \"error\" string" },
		{ "{\"ok\":false,\"error\":\"e\",\"field\":[]}", "refusal's \"field\" is not a string" },
		{ "{\"ok\":true,\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", "reply is nested too deeply" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *obj = NULL;
		struct ctl_error err;

		assert_int_equal(ctl_parse_reply(cases[i].line, strlen(cases[i].line), &obj, &err),
				 -EBADMSG);
		assert_null(obj);
		assert_string_equal(err.message, cases[i].message);
		assert_string_equal(err.field, "");
	}
}

static void reply_too_long(void **state)
{
	size_t len = CTL_MAX_REPLY + 1;
	char *line = malloc(len);
	struct json_object *obj = NULL;
	struct ctl_error err;

	(void)state;
	memset(line, ' ', len);
	memcpy(line, "{\"ok\":true}", 11);
	assert_int_equal(ctl_parse_reply(line, len - 1, &obj, &err), 0);
	json_object_put(obj);
	obj = NULL;
	assert_int_equal(ctl_parse_reply(line, len, &obj, &err), -EMSGSIZE);
	assert_null(obj);
	assert_string_equal(err.message, "reply is longer than 1048576 bytes");
	free(line);
}

/* Feature words: "0x" + 1..16 hex digits, nothing else. */
static void hex_words(void **state)
{
	static const char *const bad[] = { "", "0x", "x1", "0y1", "1", "0x1g", "0x 1", "-0x1",
					   "0x00000000000000001", "0x1 " };
	uint64_t v = 7;

	(void)state;
	assert_int_equal(ctl_parse_hex64("0x0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ctl_parse_hex64("0X170208000", &v), 0);
	assert_int_equal(v, 0x170208000ull);
	assert_int_equal(ctl_parse_hex64("0xFFFFffffFFFFffff", &v), 0);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 7;
		assert_int_equal(ctl_parse_hex64(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_lookup),
		cmocka_unit_test(roundtrip_every_command),
		cmocka_unit_test(encode_only_table_members),
		cmocka_unit_test(roundtrip_limits_and_escapes),
		cmocka_unit_test(encode_refuses_bad_structs),
		cmocka_unit_test(parse_accepts_whitespace),
		cmocka_unit_test(refusals_from_the_doc),
		cmocka_unit_test(refusal_names_first_bad_member),
		cmocka_unit_test(refusal_overlong_spec),
		cmocka_unit_test(refusal_nul_byte),
		cmocka_unit_test(refusal_overlong_line),
		cmocka_unit_test(refusal_long_unknown_command),
		cmocka_unit_test(encode_error_roundtrip),
		cmocka_unit_test(reply_ok),
		cmocka_unit_test(reply_refusal_is_cleaned),
		cmocka_unit_test(reply_refusals),
		cmocka_unit_test(reply_too_long),
		cmocka_unit_test(hex_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
