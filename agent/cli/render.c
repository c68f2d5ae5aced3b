// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Human and JSON renderings of agent replies for vdpa-migrate.
 *
 * Each rendering first reads the whole reply with the port replies'
 * decoder (protocol/port_view.h: every member present checked, the ones a
 * rendering needs required; see render.h for the trust boundary), then
 * prints from the struct, so output is all or nothing.  Column widths follow the data; the
 * layout is fixed by the golden files in tests/golden/.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/cli/render.h"
#include "protocol/port_view.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

static const char *const port_cols[] = { "NAME", "STATE", "BACKEND", "ENDPOINT", "QUEUES", "SOCKET" };

static void print_port_table(FILE *f, const struct port_view_summary *rows, size_t n)
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
		fprintf(f, "%*" PRIu32 "  ", (int)w[4], rows[i].queues);
		put_str(f, rows[i].socket, 0);
		fputc('\n', f);
	}
}

int render_ports(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct port_view_summary *rows;
	size_t n;
	int r;

	r = port_view_decode_ports(reply, &rows, &n, err);
	if (r < 0)
		return r;
	print_port_table(f, rows, n);
	free(rows);
	return 0;
}

int render_port_added(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct port_view_summary row;
	int r;

	r = port_view_decode_added(reply, &row, err);
	if (r < 0)
		return r;
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

/* The numeric columns of a ring, in the order printed. */
static const char *const ring_cols[] = { "RING", "SIZE", "NEXT_AVAIL", "USED", "KICKS", "CALLS",
					 "FRAMES", "BYTES", "DROPS", "NO_BUFS", "LOG_MARKS",
					 "LOG_BYTES" };

static uint64_t ring_col(const struct port_view_ring *r, size_t c)
{
	const uint64_t v[] = { r->index, r->size, r->next_avail, r->used, r->kicks, r->calls,
			       r->frames, r->bytes, r->drops, r->no_bufs, r->log_marks,
			       r->log_bytes };

	_Static_assert(ARRAY_SIZE(v) == ARRAY_SIZE(ring_cols), "one value per column");
	return v[c];
}

static void ring_state(const struct port_view_ring *r, FILE *f)
{
	if (r->broken) {
		fputs("broken", f);
		if (r->has & PV_BIT(PV_RING_REASON)) {
			fputs(": ", f);
			put_str(f, r->reason, 0);
		}
	} else if (!r->started) {
		fputs("stopped", f);
	} else {
		fputs(r->enabled ? "running" : "disabled", f);
	}
}

static void print_rings(FILE *f, const struct port_view_ring *rings, size_t n)
{
	size_t w[ARRAY_SIZE(ring_cols)];

	fputs("rings:\n", f);
	if (n == 0)
		return;
	for (size_t c = 0; c < ARRAY_SIZE(ring_cols); c++) {
		w[c] = strlen(ring_cols[c]);
		for (size_t i = 0; i < n; i++)
			w[c] = max_sz(w[c], num_width(ring_col(&rings[i], c)));
	}
	/* RING, then DIR (rx for even rings, tx for odd), then the counters. */
	fprintf(f, "  %*s  DIR", (int)w[0], ring_cols[0]);
	for (size_t c = 1; c < ARRAY_SIZE(ring_cols); c++)
		fprintf(f, "  %*s", (int)w[c], ring_cols[c]);
	fputs("  STATE\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %*" PRIu32 "  %s", (int)w[0], rings[i].index,
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

static void line_num(FILE *f, const char *label, uint64_t v)
{
	fprintf(f, "%-19s%" PRIu64 "\n", label, v);
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
static void print_engine(FILE *f, const struct port_view *p)
{
	const struct port_view_accel *a = &p->accel;

	if (p->has & PV_BIT(PV_ENGINE)) {
		line_str(f, "engine:", p->engine);
		line_num(f, "fallbacks:", p->fallbacks);	/* 0 when absent */
	}
	if (p->has & PV_BIT(PV_DIRTY_TRACKING)) {
		fprintf(f, "%-19s%s", "dirty tracking:", p->dirty_tracking);
		if (strcmp(p->dirty_tracking, "software") == 0)
			fprintf(f, " (the rings leave the device while QEMU logs: %" PRIu64 " times)",
				p->logging_switches);
		else if (strcmp(p->dirty_tracking, "relay") == 0)
			fprintf(f, " (shadow rings while QEMU logs: %" PRIu64 " chains relayed)",
				p->relayed);
		fputc('\n', f);
	}
	if (!(p->has & PV_BIT(PV_ACCEL)))
		return;
	line_str(f, "device:", a->device);
	if (a->has & PV_BIT(PV_ACCEL_DEVICE_FEATURES))
		line_features(f, "device features:", a->device_features, false);
	/* Ring-layout features a front end may ack that make the port serve in software. */
	if ((a->has & PV_BIT(PV_ACCEL_UNSERVED_FEATURES)) && a->unserved_features)
		line_features(f, "not on device:", a->unserved_features, true);
	fprintf(f, "%-19s%" PRIu64 " rounds, %" PRIu64 " pages, last round %" PRIu64 " pages",
		"harvest:", a->harvest_rounds, a->harvest_pages, a->last_round_pages);
	if (a->has & PV_BIT(PV_ACCEL_DIRTY_RATE_PPS))
		fprintf(f, ", %.0f pages/s", a->dirty_rate_pps);
	if (a->has & PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO))
		fprintf(f, ", %" PRIu64 " ms ago", a->last_harvest_ms_ago);
	fputc('\n', f);
	fprintf(f, "%-19s%" PRIu64 " us\n", "switchover:", a->switchover_us);
	if (a->has & PV_BIT(PV_ACCEL_DEVICE_STARTS)) {
		fprintf(f, "%-19s%" PRIu64 " stops, %" PRIu64 " starts\n", "device stops:",
			a->device_stops, a->device_starts);
		fprintf(f, "%-19sstop %" PRIu64 " us, harvest %" PRIu64 " us, bases %" PRIu64
			" us\n", "last stop:", a->stop_us, a->harvest_us, a->bases_us);
		fprintf(f, "%-19sDMA map %" PRIu64 " us, configuration %" PRIu64 " us, start %"
			PRIu64 " us\n", "last start:", a->map_us, a->config_us, a->start_us);
	}
}

/* port-show "switchover": the backend's part of the last one, per side. */
static void print_switchover(FILE *f, const struct port_view_switchover *s)
{
	if (s->has & PV_BIT(PV_SW_SOURCE_US))
		fprintf(f, "%-19s%" PRIu64 " us to the last reply, %" PRIu64 " us handling "
			"%" PRIu64 " request(s)\n", "switchover out:", s->source_us,
			s->source_handling_us, s->source_requests);
	if (s->has & PV_BIT(PV_SW_DEST_US)) {
		fprintf(f, "%-19s%" PRIu64 " us to %" PRIu64 " ring(s) running: memory table %"
			PRIu64 " us, ring starts %" PRIu64 " us", "switchover in:", s->dest_us,
			s->dest_rings, s->dest_mem_table_us, s->dest_ring_start_us);
		if (s->has & PV_BIT(PV_SW_DEST_HANDLING_US))
			fprintf(f, ", %" PRIu64 " us handling", s->dest_handling_us);
		fputc('\n', f);
	}
}

/* port-show "migration": where the source side of a switchover stands. */
static void print_migration(FILE *f, const struct port_view_migration *m)
{
	fprintf(f, "%-19s%s\n", "quiesced:", m->quiesced ? "yes" : "no");
	fprintf(f, "%-19s%s\n", "final_harvest:", m->final_harvest ? "yes" : "no");
	fprintf(f, "%-19s", "handed_over:");
	if (!m->nhanded)
		fputs("-", f);
	for (unsigned i = 0; i < m->nhanded; i++)
		fprintf(f, "%sring %" PRIu32 " at %" PRIu16, i ? ", " : "", m->handed[i].ring,
			m->handed[i].next_avail);
	fputc('\n', f);
}

/*
 * What "port show" cannot print without: the members agents have always
 * sent.  The later ones (the offer, the migration state, log_errors, the
 * engine, log_pages) are printed when there.
 */
static const struct port_view_need show_need = {
	.port = PV_SUMMARY | PV_BIT(PV_SPEC) | PV_BIT(PV_FEATURES) | PV_BIT(PV_PROTOCOL_FEATURES) |
		PV_BIT(PV_LOG_ALL) | PV_BIT(PV_CONNECTIONS) | PV_BIT(PV_RINGS),
	.ring = PV_BIT(PV_RING_INDEX) | PV_BIT(PV_RING_SIZE) | PV_BIT(PV_RING_NEXT_AVAIL) |
		PV_BIT(PV_RING_USED) | PV_BIT(PV_RING_KICKS) | PV_BIT(PV_RING_CALLS) |
		PV_BIT(PV_RING_FRAMES) | PV_BIT(PV_RING_BYTES) | PV_BIT(PV_RING_DROPS) |
		PV_BIT(PV_RING_NO_BUFS) | PV_BIT(PV_RING_LOG_MARKS) | PV_BIT(PV_RING_LOG_BYTES) |
		PV_BIT(PV_RING_STARTED) | PV_BIT(PV_RING_ENABLED) | PV_BIT(PV_RING_BROKEN),
	.accel = PV_BIT(PV_ACCEL_DEVICE) | PV_BIT(PV_ACCEL_HARVEST_ROUNDS) |
		 PV_BIT(PV_ACCEL_HARVEST_PAGES) | PV_BIT(PV_ACCEL_LAST_ROUND_PAGES) |
		 PV_BIT(PV_ACCEL_SWITCHOVER_US),
};

int render_port_show(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct port_view *p = malloc(sizeof(*p));
	const struct port_view_summary *s;
	int r;

	if (!p) {
		snprintf(err->message, sizeof(err->message), "%s", strerror(ENOMEM));
		err->field[0] = '\0';
		return -ENOMEM;
	}
	r = port_view_decode_show(reply, &show_need, p, err);
	if (r < 0) {
		free(p);
		return r;
	}
	s = &p->summary;
	line_str(f, "name:", s->name);
	line_str(f, "state:", s->state);
	line_str(f, "spec:", p->spec);
	line_str(f, "socket:", s->socket);
	line_str(f, "backend:", s->backend);
	line_str(f, "endpoint:", s->endpoint);
	line_num(f, "queues:", s->queues);
	if (p->has & PV_BIT(PV_MAC))
		line_str(f, "mac:", p->mac);
	if (p->has & PV_BIT(PV_MTU))
		line_num(f, "mtu:", p->mtu);
	line_features(f, "features:", p->features, true);
	line_features(f, "protocol_features:", p->protocol_features, false);
	/* Newer agents: the offer (max_ring_size comes with it). */
	if (p->has & PV_BIT(PV_OFFERED_FEATURES)) {
		line_features(f, "offered_features:", p->offered_features, true);
		line_num(f, "max_ring_size:", p->max_ring_size);
	}
	line_str(f, "log_all:", p->log_all ? "on" : "off");
	if (p->has & PV_BIT(PV_LOG_ERRORS))
		line_num(f, "log_errors:", p->log_errors);
	line_num(f, "connections:", p->connections);
	print_engine(f, p);
	if (p->has & PV_BIT(PV_MIGRATION))
		print_migration(f, &p->migration);
	if (p->has & PV_BIT(PV_SWITCHOVER))
		print_switchover(f, &p->switchover);
	print_rings(f, p->ring, p->nrings);
	free(p);
	return 0;
}

/* ---- JSON -------------------------------------------------------------- */

static bool json_pretty, json_wrote_stdout;
static char last_error[512];

void render_json_set_pretty(bool pretty)
{
	json_pretty = pretty;
}

void render_json_reset(void)
{
	json_pretty = json_wrote_stdout = false;
	last_error[0] = '\0';
}

bool render_json_wrote_stdout(void)
{
	return json_wrote_stdout;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vdpa-migrate: %s%s", last_error,
		last_error[0] && last_error[strlen(last_error) - 1] == '\n' ? "" : "\n");
	last_error[strcspn(last_error, "\n")] = '\0';
}

const char *cli_last_error(void)
{
	return last_error;
}

/*
 * Copies o (an object) with an array of names beside each virtio feature
 * word, at any depth; other values are shared.  NULL when out of memory.
 */
static struct json_object *with_feature_names(struct json_object *o);

static struct json_object *with_feature_names_any(struct json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return with_feature_names(v);
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; a && i < n; i++) {
			struct json_object *v_i = json_object_array_get_idx(v, i);
			struct json_object *e = with_feature_names_any(v_i);

			if ((v_i && !e) || json_object_array_add(a, e) < 0) {
				json_object_put(e);
				json_object_put(a);
				return NULL;
			}
		}
		return a;
	}
	return json_object_get(v);
}

static struct json_object *feature_name_array(const char *hex)
{
	struct json_object *a;
	char *end;
	unsigned long long v;

	if (strncmp(hex, "0x", 2) != 0)
		return NULL;
	errno = 0;
	v = strtoull(hex + 2, &end, 16);
	if (errno || end == hex + 2 || *end)
		return NULL;
	a = json_object_new_array();
	for (unsigned bit = 0; a && bit < 64; bit++) {
		char name[32];

		if (!(v & (1ULL << bit)))
			continue;
		render_feature_names(1ULL << bit, name, sizeof(name));
		json_object_array_add(a, json_object_new_string(name));
	}
	return a;
}

static struct json_object *with_feature_names(struct json_object *o)
{
	struct json_object *out = json_object_new_object();

	if (!out)
		return NULL;
	json_object_object_foreach(o, key, val) {
		struct json_object *c = with_feature_names_any(val);

		/* A member that is null stays null. */
		if ((val && !c) || json_object_object_add(out, key, c) < 0) {
			json_object_put(c);
			json_object_put(out);
			return NULL;
		}
		if ((strcmp(key, "features") == 0 || strcmp(key, "offered_features") == 0 ||
		     strcmp(key, "device_features") == 0 || strcmp(key, "unserved_features") == 0) &&
		    json_object_is_type(val, json_type_string)) {
			struct json_object *names = feature_name_array(json_object_get_string(val));
			char nkey[64];

			/* A word that is not hex stays as it is, without names. */
			if (!names)
				continue;
			snprintf(nkey, sizeof(nkey), "%.*sfeature_names", (int)(strlen(key) - 8), key);
			if (json_object_object_add(out, nkey, names) < 0) {
				json_object_put(names);
				json_object_put(out);
				return NULL;
			}
		}
	}
	return out;
}

int render_json(struct json_object *reply, FILE *f)
{
	struct json_object *out = json_object_new_object(), *named;

	if (!out)
		return -ENOMEM;
	json_object_object_add(out, "version", json_object_new_int(RENDER_JSON_VERSION));
	named = reply ? with_feature_names(reply) : json_object_new_object();
	if (!named) {
		json_object_put(out);
		return -ENOMEM;
	}
	json_object_object_foreach(named, key, val) {
		/* "ok" is the protocol's; "version" here is the contract's. */
		if (strcmp(key, "ok") == 0 || strcmp(key, "version") == 0)
			continue;
		if (json_object_object_add(out, key, json_object_get(val)) < 0) {
			json_object_put(val);
			json_object_put(named);
			json_object_put(out);
			return -ENOMEM;
		}
	}
	json_object_put(named);
	fprintf(f, "%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_NOSLASHESCAPE |
		(json_pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
			       JSON_C_TO_STRING_PLAIN)));
	json_object_put(out);
	if (f == stdout)
		json_wrote_stdout = true;
	return 0;
}
