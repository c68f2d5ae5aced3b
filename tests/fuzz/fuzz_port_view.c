// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the port replies' decoder (protocol/port_view.c).
 *
 * The input is one reply line from an agent, untrusted: ctl_parse_reply()
 * reads it, then every decoder runs on it (port-show and port-offer with
 * the full need and with none, ports, port-add).  Beyond the sanitizers it
 * checks the codec's promises:
 *   - a refusal is -EBADMSG (or -ENOMEM) with a message, and the caller's
 *     struct is untouched;
 *   - what is accepted is within its bounds: strings terminated inside
 *     their fields, counts within the arrays, ring indexes in range;
 *   - what is accepted survives the trip through the encoder and the wire
 *     unchanged (decode, encode, send, decode again: the same struct).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol/control.h"
#include "protocol/port_view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct port_view_need need_none;

static void check_refusal(int r, const struct ctl_error *err, const void *ret, size_t len)
{
	if (r != -EBADMSG && r != -ENOMEM)
		abort();
	if (!memchr(err->message, '\0', sizeof(err->message)) || !err->message[0])
		abort();
	for (size_t i = 0; i < len; i++)
		if (((const unsigned char *)ret)[i] != 0xa5)
			abort();
}

#define TERMINATED(s) do { if (!memchr((s), '\0', sizeof(s))) abort(); } while (0)

static void check_summary(const struct port_view_summary *s, uint32_t has)
{
	TERMINATED(s->name);
	TERMINATED(s->socket);
	TERMINATED(s->backend);
	TERMINATED(s->endpoint);
	TERMINATED(s->state);
	if ((has & PV_BIT(PV_QUEUES)) && (s->queues < 1 || s->queues > PORT_VIEW_MAX_QUEUES))
		abort();
}

static void check_port(const struct port_view *v)
{
	check_summary(&v->summary, v->has);
	TERMINATED(v->spec);
	TERMINATED(v->mac);
	TERMINATED(v->engine);
	TERMINATED(v->accel.device);
	if (v->has >= PV_BIT(PV_PORT_MEMBERS) || v->mtu > 65535 ||
	    v->max_ring_size > PORT_VIEW_MAX_RING_SIZE || v->nrings > PORT_VIEW_MAX_RINGS ||
	    v->migration.nhanded > PORT_VIEW_MAX_RINGS)
		abort();
	if ((v->has & PV_BIT(PV_OFFERED_FEATURES)) && !(v->has & PV_BIT(PV_MAX_RING_SIZE)))
		abort();
	if ((v->accel.has & PV_BIT(PV_ACCEL_DIRTY_RATE_PPS)) &&
	    (!isfinite(v->accel.dirty_rate_pps) || v->accel.dirty_rate_pps < 0))
		abort();
	for (unsigned i = 0; i < v->migration.nhanded; i++)
		if (v->migration.handed[i].ring >= PORT_VIEW_MAX_RINGS)
			abort();
	for (unsigned i = 0; i < v->nrings; i++) {
		const struct port_view_ring *r = &v->ring[i];

		TERMINATED(r->reason);
		if (!(r->has & PV_BIT(PV_RING_INDEX)) || r->index >= PORT_VIEW_MAX_RINGS ||
		    r->size > PORT_VIEW_MAX_RING_SIZE || r->first_frame_rt_ns > INT64_MAX ||
		    r->last_frame_rt_ns > INT64_MAX)
			abort();
	}
}

/* obj (consumed) as the agent would send it, read back by the client. */
static struct json_object *over_the_wire(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	struct json_object *back = NULL;
	struct ctl_error err;

	if (!s || ctl_parse_reply(s, strlen(s), &back, &err) != 0)
		abort();
	json_object_put(obj);
	return back;
}

static struct json_object *ok_reply(void)
{
	struct json_object *o = json_object_new_object();

	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(1)) < 0)
		abort();
	return o;
}

/* A port decoded as show (in "port") or as offer (flat) comes back the same. */
static void roundtrip_port(const struct port_view *v, bool show, const struct port_view_need *need)
{
	struct json_object *reply = ok_reply(), *port = show ? json_object_new_object() : reply;
	struct port_view *back = malloc(sizeof(*back));
	struct ctl_error err;
	int r;

	if (!port || !back || port_view_encode(v, port) != 0)
		abort();
	if (show)
		json_object_object_add(reply, "port", port);
	reply = over_the_wire(reply);
	r = show ? port_view_decode_show(reply, need, back, &err) :
		   port_view_decode_offer(reply, need, back, &err);
	if (r != 0 || memcmp(back, v, sizeof(*v)) != 0)
		abort();
	json_object_put(reply);
	free(back);
}

static void fuzz_port(struct json_object *reply, bool show, const struct port_view_need *need)
{
	struct port_view *v = malloc(sizeof(*v));
	struct ctl_error err;
	int r;

	if (!v)
		abort();
	memset(v, 0xa5, sizeof(*v));
	r = show ? port_view_decode_show(reply, need, v, &err) :
		   port_view_decode_offer(reply, need, v, &err);
	if (r < 0) {
		check_refusal(r, &err, v, sizeof(*v));
	} else {
		check_port(v);
		roundtrip_port(v, show, need);
	}
	free(v);
}

static void fuzz_summaries(struct json_object *reply)
{
	struct port_view_summary *s = NULL, one, *back = NULL;
	struct json_object *out, *arr;
	struct ctl_error err;
	size_t n = 0, m = 0;
	int r;

	r = port_view_decode_ports(reply, &s, &n, &err);
	if (r < 0) {
		check_refusal(r, &err, &s, 0);
		if (s || n)
			abort();
	} else {
		out = ok_reply();
		arr = json_object_new_array();
		json_object_object_add(out, "ports", arr);
		for (size_t i = 0; i < n; i++) {
			struct json_object *p = json_object_new_object();

			check_summary(&s[i], PV_SUMMARY);
			if (port_view_encode_summary(&s[i], p) != 0)
				abort();
			json_object_array_add(arr, p);
		}
		out = over_the_wire(out);
		if (port_view_decode_ports(out, &back, &m, &err) != 0 || m != n ||
		    memcmp(back, s, n * sizeof(*s)) != 0)
			abort();
		json_object_put(out);
		free(back);
		free(s);
	}

	memset(&one, 0xa5, sizeof(one));
	r = port_view_decode_added(reply, &one, &err);
	if (r < 0)
		check_refusal(r, &err, &one, sizeof(one));
	else
		check_summary(&one, PV_SUMMARY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *reply = NULL;
	struct ctl_error err;

	if (ctl_parse_reply((const char *)data, size, &reply, &err) != 0)
		return 0;
	fuzz_port(reply, true, NULL);
	fuzz_port(reply, true, &need_none);
	fuzz_port(reply, false, NULL);
	fuzz_port(reply, false, &need_none);
	fuzz_summaries(reply);
	json_object_put(reply);
	return 0;
}
