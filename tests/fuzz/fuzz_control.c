// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the control protocol codec (protocol/control.c).
 *
 * The input is one line from an untrusted peer, given to both parsers:
 * ctl_parse_request() (as a control client's request) and ctl_parse_reply()
 * (as an agent's reply).  Beyond the sanitizers it checks the codec's
 * promises:
 *   - a return is 0 or a negative errno, and a refusal has a message;
 *   - an accepted request re-encodes to a line that parses to the same
 *     request, with changes_state taken from the table;
 *   - a refusal encodes (ctl_encode_error) to a reply that ctl_parse_reply()
 *     reads back with the same message and field;
 *   - an accepted reply is an object whose "ok" is true.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const struct ctl_error *err)
{
	if (!memchr(err->message, '\0', sizeof(err->message)) || err->message[0] == '\0' ||
	    !memchr(err->field, '\0', sizeof(err->field)))
		abort();
}

/* A refusal survives the trip to the client unchanged. */
static void check_error_roundtrip(const struct ctl_error *err)
{
	struct json_object *obj = NULL;
	struct ctl_error back;
	char *line = ctl_encode_error(err);

	if (!line)
		abort();
	if (ctl_parse_reply(line, strlen(line), &obj, &back) != -EREMOTEIO || obj ||
	    strcmp(back.message, err->message) != 0 || strcmp(back.field, err->field) != 0)
		abort();
	free(line);
}

static void fuzz_request(const char *buf, size_t len)
{
	struct ctl_request req, again;
	struct ctl_error err;
	char *line;
	int r;

	memset(&err, 0, sizeof(err));
	r = ctl_parse_request(buf, len, &req, &err);
	if (r < 0) {
		if (r != -EMSGSIZE && r != -EBADMSG && r != -EINVAL && r != -ENOMEM)
			abort();
		check_err(&err);
		check_error_roundtrip(&err);
		return;
	}
	if (r != 0 || !ctl_cmd_info(req.cmd) ||
	    req.changes_state != ctl_cmd_info(req.cmd)->changes_state)
		abort();
	line = ctl_encode_request(&req);
	if (!line)
		abort();
	if (ctl_parse_request(line, strlen(line), &again, &err) != 0 || again.cmd != req.cmd ||
	    strcmp(again.name, req.name) != 0 || strcmp(again.spec, req.spec) != 0)
		abort();
	free(line);
}

static void fuzz_reply(const char *buf, size_t len)
{
	struct json_object *obj = NULL, *ok;
	struct ctl_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = ctl_parse_reply(buf, len, &obj, &err);
	if (r == 0) {
		if (!json_object_is_type(obj, json_type_object) ||
		    !json_object_object_get_ex(obj, "ok", &ok) || !json_object_get_boolean(ok))
			abort();
		json_object_put(obj);
		return;
	}
	if (obj || (r != -EREMOTEIO && r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM))
		abort();
	if (r != -EREMOTEIO)
		check_err(&err);
	else if (!memchr(err.message, '\0', sizeof(err.message)) ||
		 !memchr(err.field, '\0', sizeof(err.field)))
		abort();	/* the agent's own message may be empty */
	for (const char *p = err.message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();	/* cleaned for the terminal */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size > CTL_MAX_LINE + 16)
		return 0;
	/* An exact-size copy, so ASan sees any read past the line's end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fuzz_request(buf, size);
	fuzz_reply(buf, size);
	free(buf);
	return 0;
}
