// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The port replies' codec: one table per object (summary, port, ring,
 * accelerator) names each member, its JSON type, where it lives in the
 * struct and its bounds; the encoder and the decoder both walk the tables,
 * so the two cannot disagree on a name, a type or the order.
 *
 * Trust boundary (see port_view.h): the decoder's input is an agent's
 * reply, already parsed by ctl_parse_reply() (length, depth, UTF-8).
 * Everything else is checked here before it is stored: the type of every
 * member present, integers against their bounds (ring positions are 16
 * bits, ring indexes below PORT_VIEW_MAX_RINGS), strings against the size
 * of their field and for NUL, arrays against their capacity.  Nothing is
 * stored into the caller's struct until the whole reply passed.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol/port_view.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum kind {
	K_STR,		/* a string of at most size - 1 bytes, no NUL */
	K_UINT,		/* an integer in min..max, stored in size bytes */
	K_BOOL,
	K_HEX,		/* a feature word: "0x" and 1 to 16 hex digits */
	K_RATE,		/* a finite, non-negative number (integer or not) */
	K_UINT_OR_NULL,	/* K_UINT, or null: the bit stays clear (always written) */
	K_MIGRATION,	/* the port's nested values */
	K_ACCEL,
	K_SWITCHOVER,
	K_RINGS,
};

struct member {
	const char *key;
	enum kind kind;
	size_t off;	/* in the struct the table describes */
	size_t size;	/* of the field */
	uint64_t min, max;
};

#define ROW(k, kind, T, f, lo, hi) { k, kind, offsetof(T, f), sizeof(((T *)0)->f), lo, hi }
#define STR(k, T, f)          ROW(k, K_STR, T, f, 0, 0)
#define UINT(k, T, f, lo, hi) ROW(k, K_UINT, T, f, lo, hi)
#define U64(k, T, f)          ROW(k, K_UINT, T, f, 0, UINT64_MAX)
#define BOOL(k, T, f)         ROW(k, K_BOOL, T, f, 0, 0)
#define HEX(k, T, f)          ROW(k, K_HEX, T, f, 0, 0)
#define NESTED(k, kind) { k, kind, 0, 0, 0, 0 }

/* ---- the tables ------------------------------------------------------------ */

static const struct member summary_members[] = {
	[PV_NAME] = STR("name", struct port_view_summary, name),
	[PV_SOCKET] = STR("socket", struct port_view_summary, socket),
	[PV_BACKEND] = STR("backend", struct port_view_summary, backend),
	[PV_ENDPOINT] = STR("endpoint", struct port_view_summary, endpoint),
	[PV_STATE] = STR("state", struct port_view_summary, state),
	[PV_QUEUES] = UINT("queues", struct port_view_summary, queues, 1, PORT_VIEW_MAX_QUEUES),
};
_Static_assert(ARRAY_SIZE(summary_members) == PV_SPEC, "the summary is the port's first members");

/* The port's members after the summary's: row m - PV_SPEC is member m. */
#define P(m) [(m) - PV_SPEC]
static const struct member port_members[] = {
	P(PV_SPEC) = STR("spec", struct port_view, spec),
	P(PV_MAC) = STR("mac", struct port_view, mac),
	P(PV_MTU) = UINT("mtu", struct port_view, mtu, 0, 65535),
	P(PV_OFFERED_FEATURES) = HEX("offered_features", struct port_view, offered_features),
	P(PV_OFFERED_PROTOCOL_FEATURES) = HEX("offered_protocol_features", struct port_view,
					      offered_protocol_features),
	P(PV_MAX_RING_SIZE) = UINT("max_ring_size", struct port_view, max_ring_size, 0,
				   PORT_VIEW_MAX_RING_SIZE),
	P(PV_FEATURES) = HEX("features", struct port_view, features),
	P(PV_PROTOCOL_FEATURES) = HEX("protocol_features", struct port_view, protocol_features),
	P(PV_MIGRATION) = NESTED("migration", K_MIGRATION),
	P(PV_LOG_ALL) = BOOL("log_all", struct port_view, log_all),
	P(PV_LOG_ERRORS) = U64("log_errors", struct port_view, log_errors),
	P(PV_CONNECTIONS) = U64("connections", struct port_view, connections),
	P(PV_ENGINE) = STR("engine", struct port_view, engine),
	P(PV_FALLBACKS) = U64("fallbacks", struct port_view, fallbacks),
	P(PV_LAST_SWITCH_US) = U64("last_switch_us", struct port_view, last_switch_us),
	P(PV_DIRTY_TRACKING) = STR("dirty_tracking", struct port_view, dirty_tracking),
	P(PV_LOGGING_SWITCHES) = U64("logging_switches", struct port_view, logging_switches),
	P(PV_RELAYED) = U64("relayed", struct port_view, relayed),
	P(PV_ACCEL) = NESTED("accel", K_ACCEL),
	P(PV_SWITCHOVER) = NESTED("switchover", K_SWITCHOVER),
	P(PV_RINGS) = NESTED("rings", K_RINGS),
};
_Static_assert(ARRAY_SIZE(port_members) == PV_PORT_MEMBERS - PV_SPEC, "one row per member");
_Static_assert(PV_PORT_MEMBERS <= 32, "the bits fit port_view.has");

#define RING struct port_view_ring
static const struct member ring_members[] = {
	[PV_RING_INDEX] = UINT("index", RING, index, 0, PORT_VIEW_MAX_RINGS - 1),
	[PV_RING_SIZE] = UINT("size", RING, size, 0, PORT_VIEW_MAX_RING_SIZE),
	[PV_RING_STARTED] = BOOL("started", RING, started),
	[PV_RING_ENABLED] = BOOL("enabled", RING, enabled),
	[PV_RING_BROKEN] = BOOL("broken", RING, broken),
	[PV_RING_REASON] = STR("reason", RING, reason),
	[PV_RING_NEXT_AVAIL] = UINT("next_avail", RING, next_avail, 0, UINT16_MAX),
	[PV_RING_STARTED_AT] = UINT("started_at", RING, started_at, 0, UINT16_MAX),
	[PV_RING_USED] = UINT("used", RING, used, 0, UINT16_MAX),
	[PV_RING_KICKS] = U64("kicks", RING, kicks),
	[PV_RING_CALLS] = U64("calls", RING, calls),
	[PV_RING_FRAMES] = U64("frames", RING, frames),
	[PV_RING_BYTES] = U64("bytes", RING, bytes),
	[PV_RING_DROPS] = U64("drops", RING, drops),
	[PV_RING_NO_BUFS] = U64("no_bufs", RING, no_bufs),
	[PV_RING_LOG_MARKS] = U64("log_marks", RING, log_marks),
	[PV_RING_LOG_BYTES] = U64("log_bytes", RING, log_bytes),
	[PV_RING_LOG_PAGES] = U64("log_pages", RING, log_pages),
	/* Wall-clock ns: a client computes differences in int64_t. */
	[PV_RING_FIRST_FRAME_RT_NS] = UINT("first_frame_rt_ns", RING, first_frame_rt_ns, 0,
					   INT64_MAX),
	[PV_RING_LAST_FRAME_RT_NS] = UINT("last_frame_rt_ns", RING, last_frame_rt_ns, 0,
					  INT64_MAX),
};
_Static_assert(ARRAY_SIZE(ring_members) == PV_RING_MEMBERS, "one row per member");

#define ACCEL struct port_view_accel
static const struct member accel_members[] = {
	[PV_ACCEL_DEVICE] = STR("device", ACCEL, device),
	[PV_ACCEL_HARVEST_ROUNDS] = U64("harvest_rounds", ACCEL, harvest_rounds),
	[PV_ACCEL_HARVEST_PAGES] = U64("harvest_pages", ACCEL, harvest_pages),
	[PV_ACCEL_LAST_ROUND_PAGES] = U64("last_round_pages", ACCEL, last_round_pages),
	[PV_ACCEL_DIRTY_RATE_PPS] = ROW("dirty_rate_pps", K_RATE, ACCEL, dirty_rate_pps, 0, 0),
	[PV_ACCEL_LAST_HARVEST_MS_AGO] = ROW("last_harvest_ms_ago", K_UINT_OR_NULL, ACCEL,
					     last_harvest_ms_ago, 0, UINT64_MAX),
	[PV_ACCEL_SWITCHOVER_US] = U64("switchover_us", ACCEL, switchover_us),
	[PV_ACCEL_DEVICE_STOPS] = U64("device_stops", ACCEL, device_stops),
	[PV_ACCEL_DEVICE_STARTS] = U64("device_starts", ACCEL, device_starts),
	[PV_ACCEL_STOP_US] = U64("stop_us", ACCEL, stop_us),
	[PV_ACCEL_HARVEST_US] = U64("harvest_us", ACCEL, harvest_us),
	[PV_ACCEL_BASES_US] = U64("bases_us", ACCEL, bases_us),
	[PV_ACCEL_MAP_US] = U64("map_us", ACCEL, map_us),
	[PV_ACCEL_CONFIG_US] = U64("config_us", ACCEL, config_us),
	[PV_ACCEL_START_US] = U64("start_us", ACCEL, start_us),
	[PV_ACCEL_DEVICE_FEATURES] = HEX("device_features", ACCEL, device_features),
	[PV_ACCEL_UNSERVED_FEATURES] = HEX("unserved_features", ACCEL, unserved_features),
};
_Static_assert(ARRAY_SIZE(accel_members) == PV_ACCEL_MEMBERS, "one row per member");

#define SWO struct port_view_switchover
static const struct member switchover_members[] = {
	[PV_SW_SOURCE_US] = U64("source_us", SWO, source_us),
	[PV_SW_SOURCE_HANDLING_US] = U64("source_handling_us", SWO, source_handling_us),
	[PV_SW_SOURCE_REQUESTS] = U64("source_requests", SWO, source_requests),
	[PV_SW_DEST_US] = U64("dest_us", SWO, dest_us),
	[PV_SW_DEST_MEM_TABLE_US] = U64("dest_mem_table_us", SWO, dest_mem_table_us),
	[PV_SW_DEST_RING_START_US] = U64("dest_ring_start_us", SWO, dest_ring_start_us),
	[PV_SW_DEST_RINGS] = U64("dest_rings", SWO, dest_rings),
	[PV_SW_DEST_HANDLING_US] = U64("dest_handling_us", SWO, dest_handling_us),
};
_Static_assert(ARRAY_SIZE(switchover_members) == PV_SW_MEMBERS, "one row per member");

#define RING_COUNTERS (PV_BIT(PV_RING_USED) | PV_BIT(PV_RING_KICKS) | PV_BIT(PV_RING_CALLS) | \
		       PV_BIT(PV_RING_FRAMES) | PV_BIT(PV_RING_BYTES) | PV_BIT(PV_RING_DROPS) | \
		       PV_BIT(PV_RING_NO_BUFS) | PV_BIT(PV_RING_LOG_MARKS) | \
		       PV_BIT(PV_RING_LOG_BYTES) | PV_BIT(PV_RING_LOG_PAGES))

const struct port_view_need port_view_need_show = {
	.port = PV_SUMMARY | PV_BIT(PV_SPEC) | PV_BIT(PV_OFFERED_FEATURES) |
		PV_BIT(PV_OFFERED_PROTOCOL_FEATURES) | PV_BIT(PV_MAX_RING_SIZE) |
		PV_BIT(PV_FEATURES) | PV_BIT(PV_PROTOCOL_FEATURES) | PV_BIT(PV_MIGRATION) |
		PV_BIT(PV_LOG_ALL) | PV_BIT(PV_LOG_ERRORS) | PV_BIT(PV_CONNECTIONS) |
		PV_BIT(PV_ENGINE) | PV_BIT(PV_FALLBACKS) | PV_BIT(PV_LAST_SWITCH_US) |
		PV_BIT(PV_RINGS),
	.ring = PV_BIT(PV_RING_INDEX) | PV_BIT(PV_RING_SIZE) | PV_BIT(PV_RING_STARTED) |
		PV_BIT(PV_RING_ENABLED) | PV_BIT(PV_RING_BROKEN) | PV_BIT(PV_RING_NEXT_AVAIL) |
		RING_COUNTERS,
	/* The phase members came later (issue 14): an older agent's reply decodes. */
	.accel = ((PV_BIT(PV_ACCEL_DEVICE_STARTS) - 1) & ~PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO)),
};

const struct port_view_need port_view_need_offer = {
	.port = PV_BIT(PV_NAME) | PV_BIT(PV_BACKEND) | PV_BIT(PV_QUEUES) |
		PV_BIT(PV_OFFERED_FEATURES) | PV_BIT(PV_OFFERED_PROTOCOL_FEATURES) |
		PV_BIT(PV_MAX_RING_SIZE),
};

/* ---- encoding ------------------------------------------------------------------ */

static int add(struct json_object *obj, const char *key, struct json_object *v)
{
	if (!v || json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static uint64_t get_uint(const void *p, size_t size)
{
	switch (size) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static void put_uint(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

static int encode_port_nested(const struct port_view *v, enum kind kind, struct json_object **ret);

/* The value of one member of base, as json-c builds it; -errno. */
static int encode_value(const struct member *m, const void *base, struct json_object **ret)
{
	const char *f = (const char *)base + m->off;
	char hex[24];
	size_t n;

	switch (m->kind) {
	case K_STR:
		n = strnlen(f, m->size);
		if (n == m->size)
			return -EINVAL;
		*ret = json_object_new_string_len(f, (int)n);
		break;
	case K_UINT:
	case K_UINT_OR_NULL:
		*ret = json_object_new_uint64(get_uint(f, m->size));
		break;
	case K_BOOL:
		*ret = json_object_new_boolean(*(const bool *)f);
		break;
	case K_HEX:
		snprintf(hex, sizeof(hex), "0x%" PRIx64, get_uint(f, m->size));
		*ret = json_object_new_string(hex);
		break;
	case K_RATE:
		*ret = json_object_new_double(*(const double *)f);
		break;
	case K_MIGRATION:
	case K_ACCEL:
	case K_SWITCHOVER:
	case K_RINGS:
		return encode_port_nested(base, m->kind, ret);
	}
	return *ret ? 0 : -ENOMEM;
}

/* The members of t whose bit (first_bit + row) is in has, into obj. */
static int encode_members(struct json_object *obj, const struct member *t, size_t n,
			  unsigned first_bit, const void *base, uint32_t has)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = NULL;
		int r;

		if (!(has & PV_BIT(first_bit + i))) {
			/* Always written: null says "none yet". */
			if (t[i].kind == K_UINT_OR_NULL &&
			    json_object_object_add(obj, t[i].key, NULL) < 0)
				return -ENOMEM;
			continue;
		}
		r = encode_value(&t[i], base, &v);
		if (r == 0)
			r = add(obj, t[i].key, v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int encode_migration(const struct port_view_migration *m, struct json_object *o)
{
	struct json_object *arr;
	int r;

	if (m->nhanded > PORT_VIEW_MAX_RINGS)
		return -EINVAL;
	r = add(o, "quiesced", json_object_new_boolean(m->quiesced));
	if (r == 0)
		r = add(o, "final_harvest", json_object_new_boolean(m->final_harvest));
	arr = json_object_new_array();
	if (r == 0)
		r = add(o, "handed_over", arr);
	else
		json_object_put(arr);
	for (unsigned i = 0; r == 0 && i < m->nhanded; i++) {
		struct json_object *h = json_object_new_object();

		if (!h || json_object_array_add(arr, h) < 0) {
			json_object_put(h);
			return -ENOMEM;
		}
		r = add(h, "ring", json_object_new_uint64(m->handed[i].ring));
		if (r == 0)
			r = add(h, "next_avail", json_object_new_uint64(m->handed[i].next_avail));
	}
	return r;
}

static int encode_port_nested(const struct port_view *v, enum kind kind, struct json_object **ret)
{
	struct json_object *o = kind == K_RINGS ? json_object_new_array() : json_object_new_object();
	int r = 0;

	if (!o)
		return -ENOMEM;
	if (kind == K_MIGRATION) {
		r = encode_migration(&v->migration, o);
	} else if (kind == K_ACCEL) {
		r = encode_members(o, accel_members, ARRAY_SIZE(accel_members), 0, &v->accel,
				   v->accel.has);
	} else if (kind == K_SWITCHOVER) {
		r = encode_members(o, switchover_members, ARRAY_SIZE(switchover_members), 0,
				   &v->switchover, v->switchover.has);
	} else if (v->nrings > PORT_VIEW_MAX_RINGS) {
		r = -EINVAL;
	} else {
		for (unsigned i = 0; r == 0 && i < v->nrings; i++) {
			struct json_object *ring = json_object_new_object();

			if (!ring || json_object_array_add(o, ring) < 0) {
				json_object_put(ring);
				r = -ENOMEM;
				break;
			}
			r = encode_members(ring, ring_members, ARRAY_SIZE(ring_members), 0, &v->ring[i],
					   v->ring[i].has);
		}
	}
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

int port_view_encode_summary(const struct port_view_summary *s, struct json_object *obj)
{
	return encode_members(obj, summary_members, ARRAY_SIZE(summary_members), 0, s, PV_SUMMARY);
}

int port_view_encode(const struct port_view *v, struct json_object *obj)
{
	int r = encode_members(obj, summary_members, ARRAY_SIZE(summary_members), 0, &v->summary,
			       v->has);

	if (r == 0)
		r = encode_members(obj, port_members, ARRAY_SIZE(port_members), PV_SPEC, v, v->has);
	return r;
}

/* ---- decoding ------------------------------------------------------------------ */

/* Absent or of the wrong type: one wording for both, as a reader sees no difference. */
static int bad(struct ctl_error *err, const char *where, const char *key, const char *what)
{
	ctl_errorf(err, "%s: \"%s\" is missing or not %s", where, key, what);
	return -EBADMSG;
}

/* A non-negative JSON integer (json-c keeps those above INT64_MAX as uint64). */
static bool json_uint(struct json_object *v, uint64_t *ret)
{
	/* get_int64() clamps a uint64 to INT64_MAX: only true negatives are < 0. */
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*ret = json_object_get_uint64(v);
	return true;
}

static const char *const kind_what[] = {
	[K_STR] = "a string",
	[K_UINT] = "a non-negative integer",
	[K_BOOL] = "a boolean",
	[K_HEX] = "a string",		/* a string that is no feature word: "a hex string" */
	[K_RATE] = "a non-negative number",
	[K_UINT_OR_NULL] = "a non-negative integer or null",
	[K_MIGRATION] = "an object",
	[K_ACCEL] = "an object",
	[K_SWITCHOVER] = "an object",
	[K_RINGS] = "an array",
};

struct dec {
	const char *where;
	const struct port_view_need *need;
	struct ctl_error *err;
};

static int decode_port_nested(struct json_object *v, enum kind kind, struct port_view *p,
			      const struct dec *d);

/*
 * One member present in the reply: checked, then stored into base.  1
 * stored (the bit is to be set), 0 nothing to store (null where null is
 * allowed), -EBADMSG.
 */
static int decode_value(struct json_object *v, const struct member *m, void *base,
			const struct dec *d)
{
	char *f = (char *)base + m->off;
	const char *s;
	uint64_t u;
	double x;
	size_t n;

	switch (m->kind) {
	case K_STR:
		if (!json_object_is_type(v, json_type_string))
			break;
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (n >= m->size) {
			ctl_errorf(d->err, "%s: \"%s\" is longer than %zu bytes", d->where, m->key,
				m->size - 1);
			return -EBADMSG;
		}
		if (memchr(s, '\0', n)) {
			ctl_errorf(d->err, "%s: \"%s\" contains NUL", d->where, m->key);
			return -EBADMSG;
		}
		memcpy(f, s, n);
		f[n] = '\0';
		return 1;
	case K_UINT_OR_NULL:
		if (json_object_is_type(v, json_type_null))
			return 0;
		/* fall through */
	case K_UINT:
		if (!json_uint(v, &u))
			break;
		if (u < m->min || u > m->max) {
			ctl_errorf(d->err, "%s: \"%s\" is out of range (%" PRIu64 " to %" PRIu64 ")",
				d->where, m->key, m->min, m->max);
			return -EBADMSG;
		}
		put_uint(f, m->size, u);
		return 1;
	case K_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			break;
		*(bool *)f = json_object_get_boolean(v);
		return 1;
	case K_HEX:
		if (!json_object_is_type(v, json_type_string))
			break;
		s = json_object_get_string(v);
		if (strlen(s) != (size_t)json_object_get_string_len(v) || ctl_parse_hex64(s, &u) < 0)
			return bad(d->err, d->where, m->key, "a hex string");
		put_uint(f, m->size, u);
		return 1;
	case K_RATE:
		if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
			break;
		x = json_object_get_double(v);
		if (!isfinite(x) || x < 0)
			break;
		*(double *)f = x;
		return 1;
	case K_MIGRATION:
	case K_ACCEL:
	case K_SWITCHOVER:
	case K_RINGS:
		return decode_port_nested(v, m->kind, base, d);
	}
	return bad(d->err, d->where, m->key, kind_what[m->kind]);
}

/* The members of table t (bits first_bit + row) into base; *ret_has gets their bits. */
static int decode_members(struct json_object *o, const struct member *t, size_t n,
			  unsigned first_bit, void *base, uint32_t need, uint32_t *ret_has,
			  const struct dec *d)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t bit = PV_BIT(first_bit + i);
		struct json_object *v;
		int r;

		if (!json_object_object_get_ex(o, t[i].key, &v)) {
			if (need & bit)
				return bad(d->err, d->where, t[i].key, kind_what[t[i].kind]);
			continue;
		}
		r = decode_value(v, &t[i], base, d);
		if (r < 0)
			return r;
		if (r > 0)
			*ret_has |= bit;
	}
	return 0;
}

static int decode_migration(struct json_object *o, struct port_view_migration *m,
			    struct ctl_error *err)
{
	struct json_object *v, *arr;
	size_t n;

	if (!json_object_object_get_ex(o, "quiesced", &v) || !json_object_is_type(v, json_type_boolean))
		return bad(err, "migration", "quiesced", "a boolean");
	m->quiesced = json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "final_harvest", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return bad(err, "migration", "final_harvest", "a boolean");
	m->final_harvest = json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "handed_over", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return bad(err, "migration", "handed_over", "an array");
	n = json_object_array_length(arr);
	if (n > PORT_VIEW_MAX_RINGS) {
		ctl_errorf(err, "migration: more than %d rings handed over", PORT_VIEW_MAX_RINGS);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *h = json_object_array_get_idx(arr, i);
		char where[32];
		uint64_t ring, avail;

		snprintf(where, sizeof(where), "handed_over[%zu]", i);
		if (!json_object_is_type(h, json_type_object)) {
			ctl_errorf(err, "%s: not an object", where);
			return -EBADMSG;
		}
		if (!json_object_object_get_ex(h, "ring", &v) || !json_uint(v, &ring))
			return bad(err, where, "ring", "a non-negative integer");
		if (!json_object_object_get_ex(h, "next_avail", &v) || !json_uint(v, &avail))
			return bad(err, where, "next_avail", "a non-negative integer");
		if (ring >= PORT_VIEW_MAX_RINGS || avail > UINT16_MAX) {
			ctl_errorf(err, "%s: \"%s\" is out of range (0 to %u)", where,
				ring >= PORT_VIEW_MAX_RINGS ? "ring" : "next_avail",
				ring >= PORT_VIEW_MAX_RINGS ? PORT_VIEW_MAX_RINGS - 1 : UINT16_MAX);
			return -EBADMSG;
		}
		m->handed[i].ring = (uint32_t)ring;
		m->handed[i].next_avail = (uint16_t)avail;
	}
	m->nhanded = (unsigned)n;
	return 1;
}

static int decode_rings(struct json_object *arr, struct port_view *p, const struct dec *d)
{
	size_t n = json_object_array_length(arr);

	if (n > PORT_VIEW_MAX_RINGS) {
		ctl_errorf(d->err, "%s: more than %d rings", d->where, PORT_VIEW_MAX_RINGS);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct port_view_ring *ring = &p->ring[i];
		char where[32];
		struct dec rd = { where, d->need, d->err };
		int r;

		snprintf(where, sizeof(where), "rings[%zu]", i);
		if (!json_object_is_type(o, json_type_object)) {
			ctl_errorf(d->err, "%s: not an object", where);
			return -EBADMSG;
		}
		ring->has = 0;
		/* A ring is known by its index: always needed. */
		r = decode_members(o, ring_members, ARRAY_SIZE(ring_members), 0, ring,
				   d->need->ring | PV_BIT(PV_RING_INDEX), &ring->has, &rd);
		if (r < 0)
			return r;
	}
	p->nrings = (unsigned)n;
	return 1;
}

static int decode_port_nested(struct json_object *v, enum kind kind, struct port_view *p,
			      const struct dec *d)
{
	if (kind == K_RINGS) {
		if (!json_object_is_type(v, json_type_array))
			return bad(d->err, d->where, "rings", "an array");
		return decode_rings(v, p, d);
	}
	if (!json_object_is_type(v, json_type_object))
		return bad(d->err, d->where, kind == K_ACCEL ? "accel" :
			   kind == K_SWITCHOVER ? "switchover" : "migration", "an object");
	if (kind == K_MIGRATION)
		return decode_migration(v, &p->migration, d->err);
	if (kind == K_SWITCHOVER) {
		struct dec sd = { "switchover", d->need, d->err };
		int r;

		/* Every member optional: a side that did not happen is absent. */
		p->switchover.has = 0;
		r = decode_members(v, switchover_members, ARRAY_SIZE(switchover_members), 0,
				   &p->switchover, 0, &p->switchover.has, &sd);
		return r < 0 ? r : 1;
	}
	{
		struct dec ad = { "accel", d->need, d->err };
		int r;

		p->accel.has = 0;
		r = decode_members(v, accel_members, ARRAY_SIZE(accel_members), 0, &p->accel,
				   d->need->accel, &p->accel.has, &ad);
		return r < 0 ? r : 1;
	}
}

/* A port object into *p (zeroed first). */
static int decode_port(struct json_object *o, const char *where, const struct port_view_need *need,
		       struct port_view *p, struct ctl_error *err)
{
	struct dec d = { where, need, err };
	uint32_t want = need->port;
	int r;

	if (!json_object_is_type(o, json_type_object)) {
		ctl_errorf(err, "%s: not an object", where);
		return -EBADMSG;
	}
	memset(p, 0, sizeof(*p));
	/* The offer's members came together: max_ring_size with offered_features. */
	if (json_object_object_get_ex(o, "offered_features", NULL))
		want |= PV_BIT(PV_MAX_RING_SIZE);
	r = decode_members(o, summary_members, ARRAY_SIZE(summary_members), 0, &p->summary, want,
			   &p->has, &d);
	if (r == 0)
		r = decode_members(o, port_members, ARRAY_SIZE(port_members), PV_SPEC, p, want,
				   &p->has, &d);
	return r;
}

static int decode_summary(struct json_object *o, const char *where, struct port_view_summary *s,
			  struct ctl_error *err)
{
	static const struct port_view_need need = { .port = PV_SUMMARY };
	struct dec d = { where, &need, err };
	uint32_t has = 0;

	if (!json_object_is_type(o, json_type_object)) {
		ctl_errorf(err, "%s: not an object", where);
		return -EBADMSG;
	}
	memset(s, 0, sizeof(*s));
	return decode_members(o, summary_members, ARRAY_SIZE(summary_members), 0, s, PV_SUMMARY,
			      &has, &d);
}

static struct json_object *reply_member(struct json_object *reply, const char *key,
					json_type type, struct ctl_error *err)
{
	struct json_object *v;

	if (!json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, key, &v) || !json_object_is_type(v, type)) {
		bad(err, "reply", key, type == json_type_array ? "an array" : "an object");
		return NULL;
	}
	return v;
}

static int no_memory(struct ctl_error *err)
{
	ctl_errorf(err, "%s", strerror(ENOMEM));
	return -ENOMEM;
}

int port_view_decode_ports(struct json_object *reply, struct port_view_summary **ret,
			   size_t *ret_n, struct ctl_error *err)
{
	struct json_object *arr = reply_member(reply, "ports", json_type_array, err);
	struct port_view_summary *s;
	size_t n;

	if (!arr)
		return -EBADMSG;
	n = json_object_array_length(arr);
	s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return no_memory(err);
	for (size_t i = 0; i < n; i++) {
		char where[32];

		snprintf(where, sizeof(where), "ports[%zu]", i);
		if (decode_summary(json_object_array_get_idx(arr, i), where, &s[i], err) < 0) {
			free(s);
			return -EBADMSG;
		}
	}
	*ret = s;
	*ret_n = n;
	return 0;
}

int port_view_decode_added(struct json_object *reply, struct port_view_summary *ret,
			   struct ctl_error *err)
{
	struct json_object *p = reply_member(reply, "port", json_type_object, err);
	struct port_view_summary s;

	if (!p || decode_summary(p, "port", &s, err) < 0)
		return -EBADMSG;
	*ret = s;
	return 0;
}

/* Decodes into a copy of its own: *ret is written only when the whole port passed. */
static int decode_port_into(struct json_object *o, const char *where,
			    const struct port_view_need *need, struct port_view *ret,
			    struct ctl_error *err)
{
	struct port_view *p = malloc(sizeof(*p));
	int r;

	if (!p)
		return no_memory(err);
	r = decode_port(o, where, need, p, err);
	if (r == 0)
		memcpy(ret, p, sizeof(*p));
	free(p);
	return r;
}

int port_view_decode_show(struct json_object *reply, const struct port_view_need *need,
			  struct port_view *ret, struct ctl_error *err)
{
	struct json_object *p = reply_member(reply, "port", json_type_object, err);

	if (!p)
		return -EBADMSG;
	return decode_port_into(p, "port", need ? need : &port_view_need_show, ret, err);
}

int port_view_decode_offer(struct json_object *reply, const struct port_view_need *need,
			   struct port_view *ret, struct ctl_error *err)
{
	return decode_port_into(reply, "reply", need ? need : &port_view_need_offer, ret, err);
}
