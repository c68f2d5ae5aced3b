// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Human and JSON renderings of agent replies for vdpa-migrate.
 *
 * Each rendering first reads the reply into plain structs (checking every
 * member it needs: see render.h for the trust boundary), then prints from
 * those, so output is all or nothing.  Column widths follow the data; the
 * layout is fixed by the golden files in tests/golden/.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/cli/render.h"
#include "agent/cli/jsonget.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- reading members --------------------------------------------------- */

/* ---- writing ----------------------------------------------------------- */

/* Writes s with control characters as '?', padded with spaces to width. */
static void put_str(FILE *f, const char *s, size_t width)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
	for (; n < width; n++)
		fputc(' ', f);
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

static size_t num_width(uint64_t v)
{
	char b[24];

	return (size_t)snprintf(b, sizeof(b), "%" PRIu64, v);
}

/* ---- ports ------------------------------------------------------------- */

struct port_row {
	const char *name, *state, *backend, *endpoint, *socket;
	uint64_t queues;
};

static int read_summary(struct json_object *p, const char *where, struct port_row *r,
			struct ctl_error *err)
{
	if (!json_object_is_type(p, json_type_object)) {
		snprintf(err->message, sizeof(err->message), "%s: not an object", where);
		err->field[0] = '\0';
		return -EBADMSG;
	}
	if (jget_str(p, where, "name", &r->name, err) < 0 ||
	    jget_str(p, where, "state", &r->state, err) < 0 ||
	    jget_str(p, where, "backend", &r->backend, err) < 0 ||
	    jget_str(p, where, "endpoint", &r->endpoint, err) < 0 ||
	    jget_uint(p, where, "queues", &r->queues, err) < 0 ||
	    jget_str(p, where, "socket", &r->socket, err) < 0)
		return -EBADMSG;
	return 0;
}

static const char *const port_cols[] = { "NAME", "STATE", "BACKEND", "ENDPOINT", "QUEUES", "SOCKET" };

static void print_port_table(FILE *f, const struct port_row *rows, size_t n)
{
	size_t w[ARRAY_SIZE(port_cols)];

	for (size_t c = 0; c < ARRAY_SIZE(port_cols); c++)
		w[c] = strlen(port_cols[c]);
	for (size_t i = 0; i < n; i++) {
		w[0] = max_sz(w[0], strlen(rows[i].name));
		w[1] = max_sz(w[1], strlen(rows[i].state));
		w[2] = max_sz(w[2], strlen(rows[i].backend));
		w[3] = max_sz(w[3], strlen(rows[i].endpoint));
		w[4] = max_sz(w[4], num_width(rows[i].queues));
	}
	/* Text left-aligned, numbers right-aligned, the last column unpadded. */
	fprintf(f, "%-*s  %-*s  %-*s  %-*s  %*s  %s\n", (int)w[0], port_cols[0],
		(int)w[1], port_cols[1], (int)w[2], port_cols[2], (int)w[3], port_cols[3],
		(int)w[4], port_cols[4], port_cols[5]);
	for (size_t i = 0; i < n; i++) {
		put_str(f, rows[i].name, w[0] + 2);
		put_str(f, rows[i].state, w[1] + 2);
		put_str(f, rows[i].backend, w[2] + 2);
		put_str(f, rows[i].endpoint, w[3] + 2);
		fprintf(f, "%*" PRIu64 "  ", (int)w[4], rows[i].queues);
		put_str(f, rows[i].socket, 0);
		fputc('\n', f);
	}
}

int render_ports(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct json_object *arr;
	struct port_row *rows;
	size_t n;

	if (jget_array(reply, "reply", "ports", &arr, err) < 0)
		return -EBADMSG;
	n = json_object_array_length(arr);
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows) {
		snprintf(err->message, sizeof(err->message), "%s", strerror(ENOMEM));
		err->field[0] = '\0';
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char where[32];

		snprintf(where, sizeof(where), "ports[%zu]", i);
		if (read_summary(json_object_array_get_idx(arr, i), where, &rows[i], err) < 0) {
			free(rows);
			return -EBADMSG;
		}
	}
	print_port_table(f, rows, n);
	free(rows);
	return 0;
}

int render_port_added(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct json_object *p;
	struct port_row row;

	if (jget_obj(reply, "reply", "port", &p, err) < 0 ||
	    read_summary(p, "port", &row, err) < 0)
		return -EBADMSG;
	print_port_table(f, &row, 1);
	return 0;
}

/* ---- port-show --------------------------------------------------------- */

static const struct {
	unsigned bit;
	const char *name;
} feature_names[] = {
	{ 3, "MTU" },
	{ 5, "MAC" },
	{ 15, "MRG_RXBUF" },
	{ 16, "STATUS" },
	{ 21, "GUEST_ANNOUNCE" },
	{ 22, "MQ" },
	{ 26, "LOG_ALL" },
	{ 28, "INDIRECT_DESC" },
	{ 29, "EVENT_IDX" },
	{ 30, "PROTOCOL_FEATURES" },
	{ 32, "VERSION_1" },
};

int render_feature_names(uint64_t features, char *buf, size_t len)
{
	size_t off = 0;
	int total = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = NULL;
		char tmp[8];
		int n;

		if (!(features & (UINT64_C(1) << bit)))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(feature_names); i++)
			if (feature_names[i].bit == bit)
				name = feature_names[i].name;
		if (!name) {
			snprintf(tmp, sizeof(tmp), "bit%u", bit);
			name = tmp;
		}
		n = snprintf(buf + off, off < len ? len - off : 0, "%s%s", total ? " " : "", name);
		total += n;
		off += (size_t)n;
	}
	return total;
}

struct ring_row {
	uint64_t index, size, next_avail, used, kicks, calls, frames, bytes, drops, no_bufs,
		log_marks, log_bytes;
	bool started, enabled, broken;
	const char *reason;	/* NULL unless broken and given */
};

/* The numeric columns, in the order printed; offsets into struct ring_row. */
static const struct {
	const char *title;
	size_t off;
} ring_cols[] = {
	{ "RING", offsetof(struct ring_row, index) },
	{ "SIZE", offsetof(struct ring_row, size) },
	{ "NEXT_AVAIL", offsetof(struct ring_row, next_avail) },
	{ "USED", offsetof(struct ring_row, used) },
	{ "KICKS", offsetof(struct ring_row, kicks) },
	{ "CALLS", offsetof(struct ring_row, calls) },
	{ "FRAMES", offsetof(struct ring_row, frames) },
	{ "BYTES", offsetof(struct ring_row, bytes) },
	{ "DROPS", offsetof(struct ring_row, drops) },
	{ "NO_BUFS", offsetof(struct ring_row, no_bufs) },
	{ "LOG_MARKS", offsetof(struct ring_row, log_marks) },
	{ "LOG_BYTES", offsetof(struct ring_row, log_bytes) },
};

static uint64_t ring_col(const struct ring_row *r, size_t c)
{
	uint64_t v;

	memcpy(&v, (const char *)r + ring_cols[c].off, sizeof(v));
	return v;
}

static int read_ring(struct json_object *o, size_t i, struct ring_row *r, struct ctl_error *err)
{
	static const char *const keys[] = { "index", "size", "next_avail", "used", "kicks", "calls",
					    "frames", "bytes", "drops", "no_bufs", "log_marks",
					    "log_bytes" };
	char where[32];

	_Static_assert(ARRAY_SIZE(keys) == ARRAY_SIZE(ring_cols), "one key per column");
	snprintf(where, sizeof(where), "rings[%zu]", i);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err->message, sizeof(err->message), "%s: not an object", where);
		err->field[0] = '\0';
		return -EBADMSG;
	}
	for (size_t c = 0; c < ARRAY_SIZE(keys); c++) {
		uint64_t v;

		if (jget_uint(o, where, keys[c], &v, err) < 0)
			return -EBADMSG;
		memcpy((char *)r + ring_cols[c].off, &v, sizeof(v));
	}
	if (jget_bool(o, where, "started", &r->started, err) < 0 ||
	    jget_bool(o, where, "enabled", &r->enabled, err) < 0 ||
	    jget_bool(o, where, "broken", &r->broken, err) < 0 ||
	    jget_opt_str(o, where, "reason", &r->reason, err) < 0)
		return -EBADMSG;
	return 0;
}

static void ring_state(const struct ring_row *r, FILE *f)
{
	if (r->broken) {
		fputs("broken", f);
		if (r->reason) {
			fputs(": ", f);
			put_str(f, r->reason, 0);
		}
	} else if (!r->started) {
		fputs("stopped", f);
	} else {
		fputs(r->enabled ? "running" : "disabled", f);
	}
}

static void print_rings(FILE *f, const struct ring_row *rings, size_t n)
{
	size_t w[ARRAY_SIZE(ring_cols)];

	fputs("rings:\n", f);
	if (n == 0)
		return;
	for (size_t c = 0; c < ARRAY_SIZE(ring_cols); c++) {
		w[c] = strlen(ring_cols[c].title);
		for (size_t i = 0; i < n; i++)
			w[c] = max_sz(w[c], num_width(ring_col(&rings[i], c)));
	}
	/* RING, then DIR (rx for even rings, tx for odd), then the counters. */
	fprintf(f, "  %*s  DIR", (int)w[0], ring_cols[0].title);
	for (size_t c = 1; c < ARRAY_SIZE(ring_cols); c++)
		fprintf(f, "  %*s", (int)w[c], ring_cols[c].title);
	fputs("  STATE\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %*" PRIu64 "  %s", (int)w[0], rings[i].index,
			rings[i].index % 2 ? "tx " : "rx ");
		for (size_t c = 1; c < ARRAY_SIZE(ring_cols); c++)
			fprintf(f, "  %*" PRIu64, (int)w[c], ring_col(&rings[i], c));
		fputs("  ", f);
		ring_state(&rings[i], f);
		fputc('\n', f);
	}
}

static void line_str(FILE *f, const char *label, const char *value)
{
	fprintf(f, "%-19s", label);
	put_str(f, value, 0);
	fputc('\n', f);
}

static void line_features(FILE *f, const char *label, uint64_t v, bool names)
{
	fprintf(f, "%-19s0x%016" PRIx64, label, v);
	if (names && v) {
		char buf[1024];

		render_feature_names(v, buf, sizeof(buf));
		fprintf(f, " %s", buf);
	}
	fputc('\n', f);
}

/* The data path and, on an accelerator, its harvest (all optional members). */
static int render_engine(struct json_object *p, FILE *f, struct ctl_error *err)
{
	struct json_object *a, *v;
	const char *engine = NULL, *device;
	uint64_t fallbacks = 0, rounds, pages, last, ago = 0, sw_us;
	bool has_ago;

	if (jget_opt_str(p, "port", "engine", &engine, err) < 0)
		return -EBADMSG;
	if (json_object_object_get_ex(p, "fallbacks", &v) &&
	    jget_uint(p, "port", "fallbacks", &fallbacks, err) < 0)
		return -EBADMSG;
	if (engine)
		line_str(f, "engine:", engine);
	if (engine)
		fprintf(f, "%-19s%" PRIu64 "\n", "fallbacks:", fallbacks);
	if (!json_object_object_get_ex(p, "accel", &a))
		return 0;
	if (jget_str(a, "accel", "device", &device, err) < 0 ||
	    jget_uint(a, "accel", "harvest_rounds", &rounds, err) < 0 ||
	    jget_uint(a, "accel", "harvest_pages", &pages, err) < 0 ||
	    jget_uint(a, "accel", "last_round_pages", &last, err) < 0 ||
	    jget_uint(a, "accel", "switchover_us", &sw_us, err) < 0)
		return -EBADMSG;
	has_ago = json_object_object_get_ex(a, "last_harvest_ms_ago", &v) &&
		  json_object_is_type(v, json_type_int);
	if (has_ago && jget_uint(a, "accel", "last_harvest_ms_ago", &ago, err) < 0)
		return -EBADMSG;
	line_str(f, "device:", device);
	fprintf(f, "%-19s%" PRIu64 " rounds, %" PRIu64 " pages, last round %" PRIu64 " pages",
		"harvest:", rounds, pages, last);
	if (json_object_object_get_ex(a, "dirty_rate_pps", &v) &&
	    (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		fprintf(f, ", %.0f pages/s", json_object_get_double(v));
	if (has_ago)
		fprintf(f, ", %" PRIu64 " ms ago", ago);
	fputc('\n', f);
	fprintf(f, "%-19s%" PRIu64 " us\n", "switchover:", sw_us);
	return 0;
}

/* port-show "migration": where the source side of a switchover stands. */
#define MAX_HANDED 16

struct migration_row {
	bool quiesced, final_harvest;
	size_t n;
	uint64_t ring[MAX_HANDED], next_avail[MAX_HANDED];
};

static int read_migration(struct json_object *p, struct migration_row *m, struct ctl_error *err)
{
	struct json_object *o, *arr;

	if (jget_obj(p, "port", "migration", &o, err) < 0 ||
	    jget_bool(o, "migration", "quiesced", &m->quiesced, err) < 0 ||
	    jget_bool(o, "migration", "final_harvest", &m->final_harvest, err) < 0 ||
	    jget_array(o, "migration", "handed_over", &arr, err) < 0)
		return -EBADMSG;
	m->n = json_object_array_length(arr);
	if (m->n > MAX_HANDED) {
		snprintf(err->message, sizeof(err->message),
			 "migration: more than %d rings handed over", MAX_HANDED);
		err->field[0] = '\0';
		return -EBADMSG;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct json_object *h = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(h, json_type_object))
			return jget_bad(err, "migration", "handed_over[]", "an object");
		if (jget_uint(h, "handed_over[]", "ring", &m->ring[i], err) < 0 ||
		    jget_uint(h, "handed_over[]", "next_avail", &m->next_avail[i], err) < 0)
			return -EBADMSG;
	}
	return 0;
}

static void print_migration(FILE *f, const struct migration_row *m)
{
	fprintf(f, "%-19s%s\n", "quiesced:", m->quiesced ? "yes" : "no");
	fprintf(f, "%-19s%s\n", "final_harvest:", m->final_harvest ? "yes" : "no");
	fprintf(f, "%-19s", "handed_over:");
	if (!m->n)
		fputs("-", f);
	for (size_t i = 0; i < m->n; i++)
		fprintf(f, "%sring %" PRIu64 " at %" PRIu64, i ? ", " : "", m->ring[i],
			m->next_avail[i]);
	fputc('\n', f);
}

int render_port_show(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct json_object *p, *arr, *mtuv;
	struct port_row s;
	struct ring_row *rings;
	const char *spec, *mac;
	uint64_t features, pfeatures, connections, mtu = 0, offered = 0, max_ring = 0;
	uint64_t log_errors = 0;
	bool log_all, has_mtu, has_offer, mig, has_log_errors;
	struct migration_row mig_row;
	size_t n;

	if (jget_obj(reply, "reply", "port", &p, err) < 0 ||
	    read_summary(p, "port", &s, err) < 0 ||
	    jget_str(p, "port", "spec", &spec, err) < 0 ||
	    jget_opt_str(p, "port", "mac", &mac, err) < 0 ||
	    jget_hex64(p, "port", "features", &features, err) < 0 ||
	    jget_hex64(p, "port", "protocol_features", &pfeatures, err) < 0 ||
	    jget_bool(p, "port", "log_all", &log_all, err) < 0 ||
	    jget_uint(p, "port", "connections", &connections, err) < 0 ||
	    jget_array(p, "port", "rings", &arr, err) < 0)
		return -EBADMSG;
	has_mtu = json_object_object_get_ex(p, "mtu", &mtuv);
	if (has_mtu && jget_uint(p, "port", "mtu", &mtu, err) < 0)
		return -EBADMSG;
	/* Newer agents: the offer and the migration state. */
	has_offer = json_object_object_get_ex(p, "offered_features", NULL);
	if (has_offer && (jget_hex64(p, "port", "offered_features", &offered, err) < 0 ||
			  jget_uint(p, "port", "max_ring_size", &max_ring, err) < 0))
		return -EBADMSG;
	mig = json_object_object_get_ex(p, "migration", NULL);
	if (mig && read_migration(p, &mig_row, err) < 0)
		return -EBADMSG;
	/* Newer agents: writes the dirty log could not record. */
	if (jget_opt_uint(p, "port", "log_errors", &has_log_errors, &log_errors, err) < 0)
		return -EBADMSG;

	n = json_object_array_length(arr);
	rings = calloc(n ? n : 1, sizeof(*rings));
	if (!rings) {
		snprintf(err->message, sizeof(err->message), "%s", strerror(ENOMEM));
		err->field[0] = '\0';
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (read_ring(json_object_array_get_idx(arr, i), i, &rings[i], err) < 0) {
			free(rings);
			return -EBADMSG;
		}
	}

	line_str(f, "name:", s.name);
	line_str(f, "state:", s.state);
	line_str(f, "spec:", spec);
	line_str(f, "socket:", s.socket);
	line_str(f, "backend:", s.backend);
	line_str(f, "endpoint:", s.endpoint);
	fprintf(f, "%-19s%" PRIu64 "\n", "queues:", s.queues);
	if (mac)
		line_str(f, "mac:", mac);
	if (has_mtu)
		fprintf(f, "%-19s%" PRIu64 "\n", "mtu:", mtu);
	line_features(f, "features:", features, true);
	line_features(f, "protocol_features:", pfeatures, false);
	if (has_offer) {
		line_features(f, "offered_features:", offered, true);
		fprintf(f, "%-19s%" PRIu64 "\n", "max_ring_size:", max_ring);
	}
	line_str(f, "log_all:", log_all ? "on" : "off");
	if (has_log_errors)
		fprintf(f, "%-19s%" PRIu64 "\n", "log_errors:", log_errors);
	fprintf(f, "%-19s%" PRIu64 "\n", "connections:", connections);
	if (render_engine(p, f, err) < 0) {
		free(rings);
		return -EBADMSG;
	}
	if (mig)
		print_migration(f, &mig_row);
	print_rings(f, rings, n);
	free(rings);
	return 0;
}

/* ---- JSON -------------------------------------------------------------- */

int render_json(struct json_object *reply, FILE *f)
{
	struct json_object *out = json_object_new_object();

	if (!out)
		return -ENOMEM;
	json_object_object_foreach(reply, key, val) {
		if (strcmp(key, "ok") == 0)
			continue;
		if (json_object_object_add(out, key, json_object_get(val)) < 0) {
			json_object_put(val);
			json_object_put(out);
			return -ENOMEM;
		}
	}
	if (json_object_object_length(out) == 0)
		fputs("{}\n", f);
	else
		fprintf(f, "%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return 0;
}
