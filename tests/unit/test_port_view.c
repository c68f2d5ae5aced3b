// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/port_view.c, the codec of the port replies
 * (ports, port-add, port-show, port-offer).
 *
 * Round trips go through the wire: struct -> encoder -> one line of text ->
 * ctl_parse_reply() -> decoder -> struct, which must be the one we started
 * from.  The wire text of a small port is pinned to the letter (member
 * names, order, types), since agents and clients of other versions read
 * it.  Then every way a reply can be refused, each from a valid reply
 * spoiled in one place, with the message a user would read and the
 * caller's struct left alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/common/util.h"
#include "protocol/control.h"
#include "protocol/port_view.h"

/* ---- fixtures ---------------------------------------------------------------- */

/* A port with every member there is, as an agent with an accelerator would show it. */
static void full_port(struct port_view *v)
{
	memset(v, 0, sizeof(*v));
	v->has = PV_BIT(PV_PORT_MEMBERS) - 1;
	snprintf(v->summary.name, sizeof(v->summary.name), "vm1-net0");
	snprintf(v->summary.socket, sizeof(v->summary.socket), "/run/vdpa-agent/vm1-net0.sock");
	snprintf(v->summary.backend, sizeof(v->summary.backend), "accel");
	snprintf(v->summary.endpoint, sizeof(v->summary.endpoint), "tap:vtap0");
	snprintf(v->summary.state, sizeof(v->summary.state), "running");
	v->summary.queues = 2;
	snprintf(v->spec, sizeof(v->spec), "name=vm1-net0,socket=/run/vdpa-agent/vm1-net0.sock,"
		 "backend=accel,endpoint=tap:vtap0,queues=2,device=vfio-user:/run/d.sock");
	snprintf(v->mac, sizeof(v->mac), "52:54:00:12:34:56");
	v->mtu = 9000;
	v->offered_features = UINT64_C(0x1770e18029);
	v->offered_protocol_features = 0x8217;
	v->max_ring_size = 32768;
	v->features = UINT64_C(0x144018029);
	v->protocol_features = 0x8217;
	v->migration.quiesced = true;
	v->migration.final_harvest = true;
	v->migration.nhanded = 2;
	v->migration.handed[0].ring = 0;
	v->migration.handed[0].next_avail = 65535;
	v->migration.handed[1].ring = 3;
	v->migration.handed[1].next_avail = 17;
	v->log_all = true;
	v->log_errors = 2;
	v->connections = UINT64_MAX;
	snprintf(v->engine, sizeof(v->engine), "accel");
	v->fallbacks = 1;
	v->last_switch_us = 1234;
	strcpy(v->dirty_tracking, "software");
	v->logging_switches = 3;
	v->relayed = 4;
	v->accel.has = PV_BIT(PV_ACCEL_MEMBERS) - 1;
	snprintf(v->accel.device, sizeof(v->accel.device), "vfio-user:/run/d.sock");
	v->accel.harvest_rounds = 10;
	v->accel.harvest_pages = 2000;
	v->accel.last_round_pages = 7;
	v->accel.dirty_rate_pps = 1234.5;
	v->accel.last_harvest_ms_ago = 3;
	v->accel.switchover_us = 480;
	v->accel.device_stops = 4;
	v->accel.device_starts = 5;
	v->accel.stop_us = 11;
	v->accel.harvest_us = 12;
	v->accel.bases_us = 13;
	v->accel.map_us = 14;
	v->accel.config_us = 15;
	v->accel.start_us = 16;
	v->accel.device_features = 0x1300008020ull;
	v->accel.unserved_features = 0x30008000ull;
	v->switchover.has = PV_BIT(PV_SW_MEMBERS) - 1;
	v->switchover.source_us = 700;
	v->switchover.source_handling_us = 300;
	v->switchover.source_requests = 4;
	v->switchover.dest_us = 900;
	v->switchover.dest_mem_table_us = 100;
	v->switchover.dest_ring_start_us = 600;
	v->switchover.dest_rings = 4;
	v->switchover.dest_handling_us = 800;
	v->nrings = 4;
	for (unsigned i = 0; i < v->nrings; i++) {
		struct port_view_ring *r = &v->ring[i];

		r->has = PV_BIT(PV_RING_MEMBERS) - 1;
		r->index = i;
		r->size = i < 2 ? 256 : 32768;
		r->started = i != 2;
		r->enabled = true;
		r->broken = i == 3;
		snprintf(r->reason, sizeof(r->reason), "descriptor %u points outside guest memory", i);
		r->next_avail = (uint16_t)(1000 * i);
		r->started_at = (uint16_t)(999 * i);
		r->used = 65535;
		r->kicks = 1;
		r->calls = 2;
		r->frames = UINT64_MAX;
		r->bytes = 4;
		r->drops = 5;
		r->no_bufs = 6;
		r->log_marks = 7;
		r->log_bytes = 8;
		r->log_pages = 9;
		r->first_frame_rt_ns = INT64_MAX;
		r->last_frame_rt_ns = 1700000000000000000;
	}
	/* The optional members the agent leaves out on some rings. */
	v->ring[0].has &= ~PV_BIT(PV_RING_REASON);
	memset(v->ring[0].reason, 0, sizeof(v->ring[0].reason));
	v->ring[2].has &= ~(PV_BIT(PV_RING_STARTED_AT) | PV_BIT(PV_RING_FIRST_FRAME_RT_NS));
	v->ring[2].started_at = 0;
	v->ring[2].first_frame_rt_ns = 0;
}

/* One line, as the agent's control server sends it (json-c escapes '/'). */
static char *to_line(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	assert_non_null(s);
	json_object_put(o);
	return s;
}

/* {"ok":true,"port":PORT} of v, as a line. */
static char *show_line(const struct port_view *v)
{
	struct json_object *reply = json_object_new_object(), *port = json_object_new_object();

	json_object_object_add(reply, "ok", json_object_new_boolean(true));
	assert_int_equal(port_view_encode(v, port), 0);
	json_object_object_add(reply, "port", port);
	return to_line(reply);
}

static struct json_object *parse(const char *line)
{
	struct json_object *o = NULL;
	struct ctl_error err;

	if (ctl_parse_reply(line, strlen(line), &o, &err) != 0)
		fail_msg("%s: %s", err.message, line);
	return o;
}

static struct port_view *new_view(void)
{
	struct port_view *v = malloc(sizeof(*v));

	assert_non_null(v);
	return v;
}

/* ---- round trips ---------------------------------------------------------------- */

static void show_round_trip(void **state)
{
	struct port_view *v = new_view(), *back = new_view();
	struct ctl_error err = { "", "" };
	struct json_object *reply;
	char *line, *again;

	(void)state;
	full_port(v);
	line = show_line(v);
	reply = parse(line);
	memset(back, 0x5a, sizeof(*back));
	if (port_view_decode_show(reply, NULL, back, &err) != 0)
		fail_msg("%s", err.message);
	assert_int_equal(back->has, v->has);
	assert_int_equal(back->nrings, 4);
	assert_int_equal(back->ring[3].has, PV_BIT(PV_RING_MEMBERS) - 1);
	assert_string_equal(back->ring[3].reason, "descriptor 3 points outside guest memory");
	assert_true(back->ring[1].frames == UINT64_MAX);
	assert_true(back->connections == UINT64_MAX);
	assert_int_equal(back->migration.handed[0].next_avail, 65535);
	assert_true(back->accel.dirty_rate_pps == 1234.5);
	assert_memory_equal(back, v, sizeof(*v));
	/* And back onto the wire: the same text. */
	again = show_line(back);
	assert_string_equal(again, line);
	json_object_put(reply);
	free(again);
	free(line);
	free(back);
	free(v);
}

/* What a listening port shows: the optional members absent stay absent. */
static void absent_members_stay_absent(void **state)
{
	static const char line[] =
		"{\"ok\":true,\"port\":{\"name\":\"p1\",\"socket\":\"/s\",\"backend\":\"sw\","
		"\"endpoint\":\"null\",\"state\":\"running\",\"queues\":1,\"spec\":\"name=p1\","
		"\"features\":\"0x0\",\"protocol_features\":\"0x0\",\"log_all\":false,"
		"\"connections\":0,\"accel\":{\"device\":\"d\",\"harvest_rounds\":0,"
		"\"harvest_pages\":0,\"last_round_pages\":0,\"dirty_rate_pps\":0,"
		"\"last_harvest_ms_ago\":null,\"switchover_us\":0,\"device_stops\":0},"
		"\"rings\":[{\"index\":1,\"size\":0,\"started\":true,\"enabled\":false,"
		"\"broken\":false,\"next_avail\":0,\"used\":0,\"kicks\":0,\"calls\":0,\"frames\":0,"
		"\"bytes\":0,\"drops\":0,\"no_bufs\":0,\"log_marks\":0,\"log_bytes\":0}]}}";
	static const struct port_view_need old_agent = {
		.port = PV_SUMMARY | PV_BIT(PV_RINGS),
		.ring = PV_BIT(PV_RING_INDEX),
	};
	struct port_view *v = new_view();
	struct json_object *reply = parse(line), *o, *a;
	struct ctl_error err;

	(void)state;
	assert_int_equal(port_view_decode_show(reply, &old_agent, v, &err), 0);
	/* An older agent: no offer, no migration state, no log_errors, no engine. */
	assert_false(v->has & PV_BIT(PV_MIGRATION));
	assert_false(v->migration.quiesced);
	assert_false(v->has & (PV_BIT(PV_OFFERED_FEATURES) | PV_BIT(PV_MAC) | PV_BIT(PV_MTU) |
			       PV_BIT(PV_LOG_ERRORS) | PV_BIT(PV_ENGINE)));
	assert_true(v->has & PV_BIT(PV_ACCEL));
	/* null: no harvest yet; 0 given as an integer is still a rate. */
	assert_false(v->accel.has & PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO));
	assert_true(v->accel.has & PV_BIT(PV_ACCEL_DIRTY_RATE_PPS));
	assert_int_equal(v->nrings, 1);
	assert_int_equal(v->ring[0].index, 1);
	assert_false(v->ring[0].has & (PV_BIT(PV_RING_STARTED_AT) | PV_BIT(PV_RING_REASON) |
				       PV_BIT(PV_RING_LOG_PAGES) |
				       PV_BIT(PV_RING_LAST_FRAME_RT_NS)));
	json_object_put(reply);
	/* The encoder leaves them out again, and writes the null. */
	o = json_object_new_object();
	assert_int_equal(port_view_encode(v, o), 0);
	assert_false(json_object_object_get_ex(o, "migration", NULL));
	assert_false(json_object_object_get_ex(o, "mtu", NULL));
	assert_true(json_object_object_get_ex(o, "accel", &a) &&
		    json_object_object_get_ex(a, "last_harvest_ms_ago", &a));
	assert_true(json_object_is_type(a, json_type_null));
	json_object_put(o);
	free(v);
}

static void summaries_round_trip(void **state)
{
	struct port_view_summary s[2], *back = NULL, one;
	struct json_object *reply = json_object_new_object(), *arr = json_object_new_array(), *p;
	struct ctl_error err;
	char *line;
	size_t n = 99;

	(void)state;
	memset(s, 0, sizeof(s));
	snprintf(s[0].name, sizeof(s[0].name), "%s", "evil\x1b[2J");
	snprintf(s[0].socket, sizeof(s[0].socket), "/tmp/a\nb");
	snprintf(s[0].backend, sizeof(s[0].backend), "sw");
	snprintf(s[0].endpoint, sizeof(s[0].endpoint), "null");
	snprintf(s[0].state, sizeof(s[0].state), "listening");
	s[0].queues = 1;
	s[1] = s[0];
	memset(s[1].name, 'n', sizeof(s[1].name) - 1);
	s[1].queues = PORT_VIEW_MAX_QUEUES;
	json_object_object_add(reply, "ok", json_object_new_boolean(true));
	for (int i = 0; i < 2; i++) {
		p = json_object_new_object();
		assert_int_equal(port_view_encode_summary(&s[i], p), 0);
		json_object_array_add(arr, p);
	}
	json_object_object_add(reply, "ports", arr);
	line = to_line(reply);
	reply = parse(line);
	assert_int_equal(port_view_decode_ports(reply, &back, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(back, s, sizeof(s));
	free(back);
	json_object_put(reply);
	free(line);

	/* No ports: an empty array, and still something to free(). */
	reply = parse("{\"ok\":true,\"ports\":[]}");
	assert_int_equal(port_view_decode_ports(reply, &back, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_non_null(back);
	free(back);
	json_object_put(reply);

	/* port-add: the same summary under "port". */
	reply = json_object_new_object();
	p = json_object_new_object();
	json_object_object_add(reply, "ok", json_object_new_boolean(true));
	assert_int_equal(port_view_encode_summary(&s[1], p), 0);
	json_object_object_add(reply, "port", p);
	line = to_line(reply);
	reply = parse(line);
	assert_int_equal(port_view_decode_added(reply, &one, &err), 0);
	assert_memory_equal(&one, &s[1], sizeof(one));
	json_object_put(reply);
	free(line);
}

/* port-offer: the members sit in the reply itself, after "ok". */
static void offer_round_trip(void **state)
{
	struct port_view *v = new_view(), *back = new_view();
	struct json_object *reply = json_object_new_object();
	struct ctl_error err;
	char *line;

	(void)state;
	memset(v, 0, sizeof(*v));
	v->has = PV_BIT(PV_NAME) | PV_BIT(PV_BACKEND) | PV_BIT(PV_QUEUES) | PV_BIT(PV_MTU) |
		 PV_BIT(PV_OFFERED_FEATURES) | PV_BIT(PV_OFFERED_PROTOCOL_FEATURES) |
		 PV_BIT(PV_MAX_RING_SIZE);
	snprintf(v->summary.name, sizeof(v->summary.name), "p0");
	snprintf(v->summary.backend, sizeof(v->summary.backend), "sw");
	v->summary.queues = 8;
	v->mtu = 1500;
	v->offered_features = UINT64_C(0x170000000);
	v->offered_protocol_features = 0x1f;
	v->max_ring_size = 32768;
	json_object_object_add(reply, "ok", json_object_new_boolean(true));
	assert_int_equal(port_view_encode(v, reply), 0);
	line = to_line(reply);
	assert_string_equal(line, "{\"ok\":true,\"name\":\"p0\",\"backend\":\"sw\",\"queues\":8,"
			    "\"mtu\":1500,\"offered_features\":\"0x170000000\","
			    "\"offered_protocol_features\":\"0x1f\",\"max_ring_size\":32768}");
	reply = parse(line);
	assert_int_equal(port_view_decode_offer(reply, NULL, back, &err), 0);
	assert_memory_equal(back, v, sizeof(*v));
	json_object_put(reply);
	free(line);
	free(back);
	free(v);
}

/* The wire text: names, order and types, to the letter (docs/control-protocol.md). */
static void wire_text_is_pinned(void **state)
{
	struct port_view *v = new_view();
	char *line;

	(void)state;
	full_port(v);
	v->nrings = 1;
	v->migration.nhanded = 1;
	v->has &= ~(PV_BIT(PV_ACCEL) | PV_BIT(PV_SPEC) | PV_BIT(PV_SWITCHOVER));
	line = show_line(v);
	assert_string_equal(line,
		"{\"ok\":true,\"port\":{\"name\":\"vm1-net0\",\"socket\":\"\\/run\\/vdpa-agent\\/vm1-net0.sock\","
		"\"backend\":\"accel\",\"endpoint\":\"tap:vtap0\",\"state\":\"running\",\"queues\":2,"
		"\"mac\":\"52:54:00:12:34:56\",\"mtu\":9000,\"offered_features\":\"0x1770e18029\","
		"\"offered_protocol_features\":\"0x8217\",\"max_ring_size\":32768,"
		"\"features\":\"0x144018029\",\"protocol_features\":\"0x8217\","
		"\"migration\":{\"quiesced\":true,\"final_harvest\":true,"
		"\"handed_over\":[{\"ring\":0,\"next_avail\":65535}]},"
		"\"log_all\":true,\"log_errors\":2,\"connections\":18446744073709551615,"
		"\"engine\":\"accel\",\"fallbacks\":1,\"last_switch_us\":1234,"
		"\"dirty_tracking\":\"software\",\"logging_switches\":3,\"relayed\":4,"
		"\"rings\":[{\"index\":0,\"size\":256,\"started\":true,\"enabled\":true,"
		"\"broken\":false,\"next_avail\":0,\"started_at\":0,\"used\":65535,\"kicks\":1,"
		"\"calls\":2,\"frames\":18446744073709551615,\"bytes\":4,\"drops\":5,\"no_bufs\":6,"
		"\"log_marks\":7,\"log_bytes\":8,\"log_pages\":9,"
		"\"first_frame_rt_ns\":9223372036854775807,"
		"\"last_frame_rt_ns\":1700000000000000000}]}}");
	free(line);
	/* The accelerator's object, with its null. */
	full_port(v);
	v->has = PV_BIT(PV_ACCEL) | PV_BIT(PV_SWITCHOVER);
	v->accel.has &= ~PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO);
	v->switchover.has &= ~PV_BIT(PV_SW_DEST_RINGS);
	line = show_line(v);
	assert_string_equal(line,
		"{\"ok\":true,\"port\":{\"accel\":{\"device\":\"vfio-user:\\/run\\/d.sock\","
		"\"harvest_rounds\":10,\"harvest_pages\":2000,\"last_round_pages\":7,"
		"\"dirty_rate_pps\":1234.5,\"last_harvest_ms_ago\":null,\"switchover_us\":480,"
		"\"device_stops\":4,\"device_starts\":5,\"stop_us\":11,\"harvest_us\":12,"
		"\"bases_us\":13,\"map_us\":14,\"config_us\":15,\"start_us\":16,"
		"\"device_features\":\"0x1300008020\",\"unserved_features\":\"0x30008000\"},"
		"\"switchover\":{\"source_us\":700,\"source_handling_us\":300,"
		"\"source_requests\":4,\"dest_us\":900,\"dest_mem_table_us\":100,"
		"\"dest_ring_start_us\":600,\"dest_handling_us\":800}}}");
	free(line);
	free(v);
}

/* ---- refusals ------------------------------------------------------------------- */

/*
 * The member at path ("port.rings.1.index": objects by key, arrays by
 * position) of reply set to the JSON text value, or deleted when NULL.
 */
static void spoil(struct json_object *reply, const char *path, const char *value)
{
	char buf[128], *save = NULL, *key, *next;
	struct json_object *o = reply;

	snprintf(buf, sizeof(buf), "%s", path);
	key = strtok_r(buf, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			fail_msg("%s: no %s", path, key);
		key = next;
	}
	if (json_object_is_type(o, json_type_array)) {
		assert_non_null(value);
		json_object_array_put_idx(o, (size_t)atoi(key), json_tokener_parse(value));
	} else if (value) {
		json_object_object_add(o, key, json_tokener_parse(value));
	} else {
		json_object_object_del(o, key);
	}
}

static void show_refusals(void **state)
{
	static const struct {
		const char *path;
		const char *value;	/* JSON, or NULL to delete */
		const char *message;
	} cases[] = {
		/* wrong types */
		{ "port", "[]", "reply: \"port\" is missing or not an object" },
		{ "port.queues", "\"2\"", "port: \"queues\" is missing or not a non-negative integer" },
		{ "port.queues", "-1", "port: \"queues\" is missing or not a non-negative integer" },
		{ "port.queues", "1.5", "port: \"queues\" is missing or not a non-negative integer" },
		{ "port.name", "7", "port: \"name\" is missing or not a string" },
		{ "port.log_all", "1", "port: \"log_all\" is missing or not a boolean" },
		{ "port.features", "5", "port: \"features\" is missing or not a string" },
		{ "port.features", "\"0x\"", "port: \"features\" is missing or not a hex string" },
		{ "port.features", "\"0x00000000000000001\"",
		  "port: \"features\" is missing or not a hex string" },
		{ "port.features", "\"0x1\\u0000\"", "port: \"features\" is missing or not a hex string" },
		{ "port.rings", "{}", "port: \"rings\" is missing or not an array" },
		{ "port.migration", "\"yes\"", "port: \"migration\" is missing or not an object" },
		{ "port.accel", "[]", "port: \"accel\" is missing or not an object" },
		{ "port.rings.1", "5", "rings[1]: not an object" },
		{ "port.rings.1.broken", "\"no\"", "rings[1]: \"broken\" is missing or not a boolean" },
		{ "port.rings.3.reason", "7", "rings[3]: \"reason\" is missing or not a string" },
		{ "port.accel.dirty_rate_pps", "-1",
		  "accel: \"dirty_rate_pps\" is missing or not a non-negative number" },
		{ "port.accel.dirty_rate_pps", "\"fast\"",
		  "accel: \"dirty_rate_pps\" is missing or not a non-negative number" },
		{ "port.accel.last_harvest_ms_ago", "\"now\"",
		  "accel: \"last_harvest_ms_ago\" is missing or not a non-negative integer or null" },
		{ "port.migration.quiesced", "null",
		  "migration: \"quiesced\" is missing or not a boolean" },
		/* missing members */
		{ "port.spec", NULL, "port: \"spec\" is missing or not a string" },
		{ "port.log_errors", NULL, "port: \"log_errors\" is missing or not a non-negative integer" },
		{ "port.rings.2.kicks", NULL, "rings[2]: \"kicks\" is missing or not a non-negative integer" },
		{ "port.accel.device", NULL, "accel: \"device\" is missing or not a string" },
		{ "port.migration.handed_over", NULL,
		  "migration: \"handed_over\" is missing or not an array" },
		/* bounds */
		{ "port.name", "\"abcdefghijklmnopqrstuvwxyz012345\"",
		  "port: \"name\" is longer than 31 bytes" },
		{ "port.engine", "\"s\\u0000w\"", "port: \"engine\" contains NUL" },
		{ "port.queues", "0", "port: \"queues\" is out of range (1 to 32)" },
		{ "port.queues", "33", "port: \"queues\" is out of range (1 to 32)" },
		{ "port.mtu", "65536", "port: \"mtu\" is out of range (0 to 65535)" },
		{ "port.max_ring_size", "65536", "port: \"max_ring_size\" is out of range (0 to 32768)" },
		{ "port.rings.1.index", "64", "rings[1]: \"index\" is out of range (0 to 63)" },
		{ "port.rings.1.index", "18446744073709551615",
		  "rings[1]: \"index\" is out of range (0 to 63)" },
		{ "port.rings.1.size", "65536", "rings[1]: \"size\" is out of range (0 to 32768)" },
		{ "port.rings.1.next_avail", "65536",
		  "rings[1]: \"next_avail\" is out of range (0 to 65535)" },
		{ "port.rings.1.started_at", "70000",
		  "rings[1]: \"started_at\" is out of range (0 to 65535)" },
		{ "port.rings.0.last_frame_rt_ns", "9223372036854775808",
		  "rings[0]: \"last_frame_rt_ns\" is out of range (0 to 9223372036854775807)" },
		/* handed_over entries */
		{ "port.migration.handed_over.0", "5", "handed_over[0]: not an object" },
		{ "port.migration.handed_over.1", "{\"index\":3,\"next_avail\":1}",
		  "handed_over[1]: \"ring\" is missing or not a non-negative integer" },
		{ "port.migration.handed_over.1", "{\"ring\":3}",
		  "handed_over[1]: \"next_avail\" is missing or not a non-negative integer" },
		{ "port.migration.handed_over.1", "{\"ring\":64,\"next_avail\":1}",
		  "handed_over[1]: \"ring\" is out of range (0 to 63)" },
		{ "port.migration.handed_over.1", "{\"ring\":3,\"next_avail\":65536}",
		  "handed_over[1]: \"next_avail\" is out of range (0 to 65535)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct port_view *v = new_view(), *out = new_view();
		struct ctl_error err = { "", "x" };
		struct json_object *reply;
		char *line;

		full_port(v);
		line = show_line(v);
		reply = parse(line);
		spoil(reply, cases[i].path, cases[i].value);
		memset(out, 0x5a, sizeof(*out));
		if (port_view_decode_show(reply, NULL, out, &err) != -EBADMSG)
			fail_msg("%s: accepted", cases[i].path);
		assert_string_equal(err.message, cases[i].message);
		assert_string_equal(err.field, "");
		/* Nothing reaches the caller's struct. */
		for (size_t k = 0; k < sizeof(*out); k++)
			assert_int_equal(((unsigned char *)out)[k], 0x5a);
		json_object_put(reply);
		free(line);
		free(out);
		free(v);
	}
}

static struct json_object *port_member(struct json_object *reply, const char *key)
{
	struct json_object *port, *v;

	assert_true(json_object_object_get_ex(reply, "port", &port));
	assert_true(json_object_object_get_ex(port, key, &v));
	return v;
}

/* More rings, or more handed-over rings, than a port can have. */
static void too_many_rings(void **state)
{
	struct port_view *v = new_view();
	struct json_object *reply, *arr, *h;
	struct ctl_error err;
	char *line;

	(void)state;
	full_port(v);
	line = show_line(v);
	reply = parse(line);
	/* Exactly PORT_VIEW_MAX_RINGS: taken; one more: refused. */
	arr = port_member(reply, "rings");
	while (json_object_array_length(arr) < PORT_VIEW_MAX_RINGS)
		json_object_array_add(arr, json_object_get(json_object_array_get_idx(arr, 0)));
	assert_int_equal(port_view_decode_show(reply, NULL, v, &err), 0);
	assert_int_equal(v->nrings, PORT_VIEW_MAX_RINGS);
	json_object_array_add(arr, json_object_get(json_object_array_get_idx(arr, 0)));
	assert_int_equal(port_view_decode_show(reply, NULL, v, &err), -EBADMSG);
	assert_string_equal(err.message, "port: more than 64 rings");

	spoil(reply, "port.rings", "[]");
	assert_true(json_object_object_get_ex(port_member(reply, "migration"), "handed_over", &arr));
	h = json_object_array_get_idx(arr, 0);
	while (json_object_array_length(arr) < PORT_VIEW_MAX_RINGS)
		json_object_array_add(arr, json_object_get(h));
	assert_int_equal(port_view_decode_show(reply, NULL, v, &err), 0);
	assert_int_equal(v->migration.nhanded, PORT_VIEW_MAX_RINGS);
	json_object_array_add(arr, json_object_get(h));
	assert_int_equal(port_view_decode_show(reply, NULL, v, &err), -EBADMSG);
	assert_string_equal(err.message, "migration: more than 64 rings handed over");
	json_object_put(reply);
	free(line);
	free(v);
}

/* What the caller needs must be there; what it does not is optional. */
static void needs_are_the_callers(void **state)
{
	static const struct port_view_need little = { .port = PV_BIT(PV_FEATURES) };
	struct port_view *v = new_view();
	struct json_object *reply;
	struct ctl_error err;

	(void)state;
	reply = parse("{\"ok\":true,\"port\":{\"features\":\"0x1\",\"rings\":[{\"index\":0}]}}");
	assert_int_equal(port_view_decode_show(reply, &little, v, &err), 0);
	assert_int_equal(v->has, PV_BIT(PV_FEATURES) | PV_BIT(PV_RINGS));
	assert_int_equal(v->ring[0].has, PV_BIT(PV_RING_INDEX));
	assert_int_equal(port_view_decode_show(reply, NULL, v, &err), -EBADMSG);
	assert_string_equal(err.message, "port: \"name\" is missing or not a string");
	json_object_put(reply);
	/* A ring is always known by its index. */
	reply = parse("{\"ok\":true,\"port\":{\"features\":\"0x1\",\"rings\":[{\"size\":0}]}}");
	assert_int_equal(port_view_decode_show(reply, &little, v, &err), -EBADMSG);
	assert_string_equal(err.message, "rings[0]: \"index\" is missing or not a non-negative integer");
	json_object_put(reply);
	/* The offer came whole: max_ring_size goes with offered_features. */
	reply = parse("{\"ok\":true,\"port\":{\"features\":\"0x1\",\"offered_features\":\"0x1\"}}");
	assert_int_equal(port_view_decode_show(reply, &little, v, &err), -EBADMSG);
	assert_string_equal(err.message,
			    "port: \"max_ring_size\" is missing or not a non-negative integer");
	json_object_put(reply);
	/* port-offer: the reply is the port. */
	reply = parse("{\"ok\":true,\"name\":\"p0\",\"backend\":\"sw\",\"queues\":1}");
	assert_int_equal(port_view_decode_offer(reply, NULL, v, &err), -EBADMSG);
	assert_string_equal(err.message, "reply: \"offered_features\" is missing or not a string");
	json_object_put(reply);
	free(v);
}

static void list_refusals(void **state)
{
	static const struct {
		const char *reply;
		const char *message;
	} cases[] = {
		{ "{\"ok\":true}", "reply: \"ports\" is missing or not an array" },
		{ "{\"ok\":true,\"ports\":{}}", "reply: \"ports\" is missing or not an array" },
		{ "{\"ok\":true,\"ports\":[null]}", "ports[0]: not an object" },
		{ "{\"ok\":true,\"ports\":[{\"name\":\"a\",\"socket\":\"/s\",\"backend\":\"sw\","
		  "\"endpoint\":\"null\",\"state\":\"running\"}]}",
		  "ports[0]: \"queues\" is missing or not a non-negative integer" },
		{ "{\"ok\":true,\"ports\":[{\"name\":\"a\",\"socket\":\"/s\",\"backend\":\"sw\","
		  "\"endpoint\":\"null\",\"state\":\"listening, and more than fifteen bytes\","
		  "\"queues\":1}]}", "ports[0]: \"state\" is longer than 15 bytes" },
	};
	struct port_view_summary *s = NULL, one;
	struct json_object *reply;
	struct ctl_error err;
	size_t n = 7;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reply = parse(cases[i].reply);
		assert_int_equal(port_view_decode_ports(reply, &s, &n, &err), -EBADMSG);
		assert_string_equal(err.message, cases[i].message);
		assert_null(s);
		assert_int_equal(n, 7);
		json_object_put(reply);
	}
	reply = parse("{\"ok\":true,\"port\":[]}");
	assert_int_equal(port_view_decode_added(reply, &one, &err), -EBADMSG);
	assert_string_equal(err.message, "reply: \"port\" is missing or not an object");
	json_object_put(reply);
}

/* The encoder does not write what the decoder would refuse to read. */
static void encoder_refusals(void **state)
{
	struct port_view *v = new_view();
	struct port_view_summary s;
	struct json_object *o;

	(void)state;
	full_port(v);
	v->nrings = PORT_VIEW_MAX_RINGS + 1;
	o = json_object_new_object();
	assert_int_equal(port_view_encode(v, o), -EINVAL);
	json_object_put(o);

	full_port(v);
	v->migration.nhanded = PORT_VIEW_MAX_RINGS + 1;
	o = json_object_new_object();
	assert_int_equal(port_view_encode(v, o), -EINVAL);
	json_object_put(o);

	full_port(v);
	memset(v->ring[1].reason, 'r', sizeof(v->ring[1].reason));
	o = json_object_new_object();
	assert_int_equal(port_view_encode(v, o), -EINVAL);
	json_object_put(o);

	memset(&s, 0, sizeof(s));
	memset(s.name, 'n', sizeof(s.name));
	o = json_object_new_object();
	assert_int_equal(port_view_encode_summary(&s, o), -EINVAL);
	json_object_put(o);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(show_round_trip),
		cmocka_unit_test(absent_members_stay_absent),
		cmocka_unit_test(summaries_round_trip),
		cmocka_unit_test(offer_round_trip),
		cmocka_unit_test(wire_text_is_pinned),
		cmocka_unit_test(show_refusals),
		cmocka_unit_test(too_many_rings),
		cmocka_unit_test(needs_are_the_callers),
		cmocka_unit_test(list_refusals),
		cmocka_unit_test(encoder_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
