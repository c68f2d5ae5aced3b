// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the migration precheck (agent/cli/precheck.c).
 *
 * The input is two JSON texts one after the other (whitespace between
 * them is fine): the source agent's port-show reply and the destination's
 * port-show or port-offer reply, as they would come from two agents (one
 * possibly remote).  precheck_compare() runs on them with --to-backend
 * unset, "sw" and "accel"; a result is printed and turned into JSON.
 * Beyond the sanitizers it checks the module's promises:
 *   - a return is 0 or -EBADMSG, and -EBADMSG has a message;
 *   - a result is bounded and consistent: at most PRECHECK_MAX_ISSUES
 *     issues, terminated strings, "refused" whenever an issue refuses;
 *   - the printed text has no control characters but its newlines;
 *   - precheck_to_json() gives an object with as many issues.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/cli/precheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 32

static void check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void check_result(const struct precheck_result *res)
{
	struct json_object *j, *issues;
	bool refuses = false;
	size_t plen = 0;
	char *text = NULL;
	FILE *f;

	if (res->n > PRECHECK_MAX_ISSUES)
		abort();
	check_str(res->port, sizeof(res->port));
	check_str(res->dest_backend, sizeof(res->dest_backend));
	for (size_t i = 0; i < res->n; i++) {
		const struct precheck_issue *is = &res->issue[i];

		if (is->severity != PRECHECK_REFUSE && is->severity != PRECHECK_WARN)
			abort();
		refuses |= is->severity == PRECHECK_REFUSE;
		check_str(is->what, sizeof(is->what));
		check_str(is->source, sizeof(is->source));
		check_str(is->dest, sizeof(is->dest));
		check_str(is->consequence, sizeof(is->consequence));
		if (!is->what[0] || !is->consequence[0])
			abort();
	}
	if (refuses && !res->refused)
		abort();

	f = open_memstream(&text, &plen);
	if (!f)
		abort();
	if (precheck_print(res, f) != 0)
		abort();
	fclose(f);
	for (size_t i = 0; i < plen; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
	free(text);

	j = precheck_to_json(res);
	if (!j || !json_object_object_get_ex(j, "issues", &issues) ||
	    json_object_array_length(issues) != res->n ||
	    !json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN))
		abort();
	json_object_put(j);
}

/* One JSON text, parsed strictly as the control protocol does; -1 if it is not one. */
static int parse_strict(const char *buf, size_t len, struct json_object **ret)
{
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	struct json_object *o;

	if (!tok)
		return -1;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1);	/* a number ends at the end */
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	*ret = o;
	return 0;
}

/*
 * Splits buf after its first JSON text (found by a lenient parse, which
 * stops there where the strict one refuses what follows) and parses both
 * parts strictly.
 */
static int parse_two(const char *buf, size_t len, struct json_object **a, struct json_object **b)
{
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	struct json_object *o;
	size_t end;

	if (!tok)
		return -1;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	json_object_put(o);
	if (json_tokener_get_error(tok) != json_tokener_success || end > len) {
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	if (parse_strict(buf, end, a) < 0)
		return -1;
	if (parse_strict(buf + end, len - end, b) < 0) {
		json_object_put(*a);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const backends[] = { NULL, "sw", "accel" };
	struct json_object *src = NULL, *dst = NULL;
	struct precheck_result res;
	struct ctl_error err;
	const char *buf = (const char *)data;

	if (size > 64 * 1024)
		return 0;
	if (parse_two(buf, size, &src, &dst) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		int r;

		memset(&res, 0xa5, sizeof(res));
		memset(&err, 0, sizeof(err));
		r = precheck_compare(src, dst, backends[i], &res, &err);
		if (r == 0) {
			check_result(&res);
			if (backends[i] && strcmp(res.dest_backend, backends[i]) != 0)
				abort();
		} else if (r == -EBADMSG) {
			check_str(err.message, sizeof(err.message));
			check_str(err.field, sizeof(err.field));
			if (!err.message[0])
				abort();
		} else {
			abort();
		}
	}
	json_object_put(src);
	json_object_put(dst);
	return 0;
}
