// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dirty-log trace analysis: rates, working sets, the pre-copy model, and
 * the report, JSON and SVG writers (see dlanalyze.h for the definitions).
 *
 * Working sets are kept incrementally, so a long trace of a large guest
 * costs O(log words + dirty pages) per snapshot: last[p] is the snapshot
 * (plus one) that last dirtied page p, cnt[i] how many pages snapshot i
 * dirtied last.  The sliding window is the snapshots j with t[i] - t[j] <
 * window; when it moves past snapshot j, the pages whose last dirtying was
 * j leave it (cnt[j]), and a page dirtied again while still inside only
 * moves from one count to another.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>	/* isfinite() only: libm is not linked */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/cli/dlanalyze.h"
#include "agent/cli/render.h"
#include "agent/common/util.h"
#include "dirtylog/dirtylog.h"

#define MIB (1024.0 * 1024.0)

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

struct dla_state {
	unsigned page_shift;
	uint64_t guest_size;
	size_t log_size;
	struct dla_params p;
	uint32_t *last;		/* per page: snapshot index + 1, 0 = never dirtied */
	uint64_t *cnt;		/* per snapshot: pages it was the last to dirty */
	uint64_t *ts;		/* per snapshot */
	struct dla_point *points;
	size_t n, cap;
	size_t lo;		/* first snapshot inside the window */
	uint64_t window;	/* distinct pages inside the window */
	uint64_t window_max;
	uint64_t ws;
	uint64_t total;
};

static bool params_ok(const struct dla_params *p)
{
	return p && isfinite(p->link_bps) && p->link_bps > 0 && isfinite(p->downtime_ms) &&
	       p->downtime_ms > 0 && p->window_ns > 0;
}

int dla_new(unsigned page_shift, uint64_t guest_size, const struct dla_params *params,
	    struct dla_state **ret)
{
	struct dla_state *s;
	size_t log_size;
	int r;

	if (!params_ok(params))
		return -EINVAL;
	r = dirtylog_size_for(guest_size, page_shift, &log_size);
	if (r < 0)
		return r;
	/* last[] is 32 bytes per log byte: keep the product within size_t. */
	if (log_size > SIZE_MAX / 8 / sizeof(uint32_t))
		return -EMSGSIZE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->last = calloc(log_size * 8, sizeof(uint32_t));
	if (!s->last) {
		free(s);
		return -ENOMEM;
	}
	s->page_shift = page_shift;
	s->guest_size = guest_size;
	s->log_size = log_size;
	s->p = *params;
	*ret = s;
	return 0;
}

void dla_free(struct dla_state *s)
{
	if (!s)
		return;
	free(s->last);
	free(s->cnt);
	free(s->ts);
	free(s->points);
	free(s);
}

static int grow(struct dla_state *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64;
	void *p;

	if (cap > SIZE_MAX / sizeof(struct dla_point))
		return -ENOMEM;
	/* Each array is replaced only once its successor exists. */
	p = realloc(s->cnt, cap * sizeof(*s->cnt));
	if (!p)
		return -ENOMEM;
	s->cnt = p;
	p = realloc(s->ts, cap * sizeof(*s->ts));
	if (!p)
		return -ENOMEM;
	s->ts = p;
	p = realloc(s->points, cap * sizeof(*s->points));
	if (!p)
		return -ENOMEM;
	s->points = p;
	s->cap = cap;
	return 0;
}

int dla_add(struct dla_state *s, uint64_t timestamp_ns, const uint8_t *bitmap, size_t len,
	    char *err, size_t errlen)
{
	size_t i = s->n;
	uint64_t pages = 0;
	struct dla_point *pt;
	int r;

	if (len != s->log_size) {
		snprintf(err, errlen, "snapshot %zu: %zu bytes of log, expected %zu", i, len,
			 s->log_size);
		return -EINVAL;
	}
	if (i > 0 && timestamp_ns <= s->ts[i - 1]) {
		snprintf(err, errlen, "snapshot %zu: timestamp %" PRIu64 " ns is not after the "
			 "previous one (%" PRIu64 " ns)", i, timestamp_ns, s->ts[i - 1]);
		return -EINVAL;
	}
	if (i >= UINT32_MAX - 1) {
		snprintf(err, errlen, "snapshot %zu: too many snapshots", i);
		return -EOVERFLOW;
	}
	if (i == s->cap) {
		r = grow(s);
		if (r < 0) {
			snprintf(err, errlen, "snapshot %zu: out of memory", i);
			return r;
		}
	}

	s->ts[i] = timestamp_ns;
	s->cnt[i] = 0;
	while (s->lo < i && timestamp_ns - s->ts[s->lo] >= s->p.window_ns)
		s->window -= s->cnt[s->lo++];

	for (size_t wi = 0; wi < len / 8; wi++) {
		uint64_t w;

		memcpy(&w, bitmap + wi * 8, 8);
		while (w) {
			uint64_t page = wi * 64 + (uint64_t)__builtin_ctzll(w);
			uint32_t old = s->last[page];

			w &= w - 1;
			pages++;
			if (old == 0) {
				s->ws++;
				s->window++;
			} else {
				s->cnt[old - 1]--;
				if (old - 1 < s->lo)
					s->window++;
			}
			s->last[page] = (uint32_t)i + 1;
			s->cnt[i]++;
		}
	}

	pt = &s->points[i];
	memset(pt, 0, sizeof(*pt));
	pt->t_s = (double)(timestamp_ns - s->ts[0]) / 1e9;
	pt->pages = pages;
	if (i > 0) {
		double dt = (double)(timestamp_ns - s->ts[i - 1]) / 1e9;

		pt->has_rate = true;
		pt->rate_pps = (double)pages / dt;
		pt->rate_MBps = pt->rate_pps * (double)(1u << s->page_shift) / 1e6;
	}
	pt->ws_pages = s->ws;
	pt->window_pages = s->window;
	if (s->window > s->window_max)
		s->window_max = s->window;
	s->total += pages;
	s->n = i + 1;
	return 0;
}

void dla_model_run(double guest_bytes, double page_bytes, double rate_pps, uint64_t ws_pages,
		   const struct dla_params *params, struct dla_model *ret)
{
	double B = params->link_bps / 8, L = params->downtime_ms / 1000;
	double t, total, ws = (double)ws_pages;
	struct dla_model m;

	memset(&m, 0, sizeof(m));
	m.link_Bps = B;
	m.downtime_limit_ms = params->downtime_ms;
	m.round_bytes[0] = guest_bytes;
	t = guest_bytes / B;
	total = t;
	m.rounds = 1;
	for (;;) {
		double rem = dmin(rate_pps * t, ws) * page_bytes;

		if (rem / B <= L) {
			m.verdict = DLA_CONVERGES;
			m.remaining_bytes = rem;
			m.downtime_ms = rem / B * 1000;
			m.total_s = total + rem / B;
			break;
		}
		if (m.rounds == DLA_MAX_ROUNDS) {
			m.verdict = rate_pps * page_bytes >= B ? DLA_NEVER_RATE : DLA_NEVER_ROUNDS;
			break;
		}
		m.round_bytes[m.rounds++] = rem;
		t = rem / B;
		total += t;
	}
	*ret = m;
}

int dla_finish(struct dla_state *s, struct dla_result *ret)
{
	struct dla_result r;

	memset(&r, 0, sizeof(r));
	r.page_shift = s->page_shift;
	r.guest_size = s->guest_size;
	r.snapshots = s->n;
	r.dirty_pages = s->total;
	r.ws_pages = s->ws;
	r.window_s = (double)s->p.window_ns / 1e9;
	r.window_max_pages = s->window_max;
	r.model.link_Bps = s->p.link_bps / 8;
	r.model.downtime_limit_ms = s->p.downtime_ms;
	if (s->n > 0) {
		r.duration_s = (double)(s->ts[s->n - 1] - s->ts[0]) / 1e9;
		r.points = malloc(s->n * sizeof(*r.points));
		if (!r.points)
			return -ENOMEM;
		memcpy(r.points, s->points, s->n * sizeof(*r.points));
	}
	if (s->n >= 2) {
		r.has_rate = true;
		/* The first snapshot's pages have no interval (see dlanalyze.h). */
		r.mean_pps = (double)(s->total - s->points[0].pages) / r.duration_s;
		for (size_t i = 1; i < s->n; i++)
			r.peak_pps = dmax(r.peak_pps, s->points[i].rate_pps);
		dla_model_run((double)s->guest_size, (double)(1u << s->page_shift), r.mean_pps,
			      s->ws, &s->p, &r.model);
	}
	*ret = r;
	return 0;
}

void dla_result_release(struct dla_result *r)
{
	if (!r)
		return;
	free(r->points);
	r->points = NULL;
}

int dla_analyze(unsigned page_shift, uint64_t guest_size, const struct dla_params *params,
		const struct dla_snapshot *snaps, size_t n, struct dla_result *ret,
		char *err, size_t errlen)
{
	struct dla_state *s;
	int r;

	r = dla_new(page_shift, guest_size, params, &s);
	if (r < 0) {
		snprintf(err, errlen, "bad geometry or parameters: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		r = dla_add(s, snaps[i].timestamp_ns, snaps[i].bitmap, snaps[i].len, err, errlen);
		if (r < 0)
			goto out;
	}
	r = dla_finish(s, ret);
	if (r < 0)
		snprintf(err, errlen, "out of memory");
out:
	dla_free(s);
	return r;
}

int dla_parse_rate(const char *s, double *ret_bps)
{
	static const struct {
		char c;
		double mult;
	} suffixes[] = { { 'k', 1e3 }, { 'm', 1e6 }, { 'g', 1e9 }, { 't', 1e12 } };
	const char *p = s;
	double mult = 1, v;
	char num[32];
	size_t n;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - s);
	if (n >= sizeof(num))
		return -EINVAL;
	if (*p) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(suffixes); i++)
			if ((*p | 0x20) == suffixes[i].c)
				break;
		if (i == ARRAY_SIZE(suffixes) || p[1])
			return -EINVAL;
		mult = suffixes[i].mult;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	v = strtod(num, NULL) * mult;
	if (!(v > 0) || v > 1e15)
		return -EINVAL;
	*ret_bps = v;
	return 0;
}

/* ---- report ------------------------------------------------------------ */

static void fmt_link(double bps, char *buf, size_t len)
{
	if (bps >= 1e12)
		snprintf(buf, len, "%g Tbit/s", bps / 1e12);
	else if (bps >= 1e9)
		snprintf(buf, len, "%g Gbit/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(buf, len, "%g Mbit/s", bps / 1e6);
	else if (bps >= 1e3)
		snprintf(buf, len, "%g kbit/s", bps / 1e3);
	else
		snprintf(buf, len, "%g bit/s", bps);
}

static const char *verdict_name(enum dla_verdict v)
{
	switch (v) {
	case DLA_CONVERGES:
		return "converges";
	case DLA_NEVER_RATE:
		return "dirty_rate_exceeds_link";
	case DLA_NEVER_ROUNDS:
		return "too_many_rounds";
	case DLA_NO_DATA:
		break;
	}
	return "no_data";
}

int dla_write_report(const struct dla_result *r, FILE *f)
{
	double page = (double)(1u << r->page_shift);
	const struct dla_model *m = &r->model;
	char link[32];

	fmt_link(m->link_Bps * 8, link, sizeof(link));
	fprintf(f, "trace: %" PRIu64 " snapshot%s over %.3f s, guest %.1f MiB (%" PRIu64
		" pages of %u KiB)\n", r->snapshots, r->snapshots == 1 ? "" : "s", r->duration_s,
		(double)r->guest_size / MIB, (r->guest_size + (uint64_t)page - 1) >> r->page_shift,
		(1u << r->page_shift) / 1024);
	fprintf(f, "dirty pages: %" PRIu64 " in all; working set %" PRIu64 " pages (%.1f MiB), "
		"largest in %g s: %" PRIu64 " pages (%.1f MiB)\n", r->dirty_pages, r->ws_pages,
		(double)r->ws_pages * page / MIB, r->window_s, r->window_max_pages,
		(double)r->window_max_pages * page / MIB);
	if (!r->has_rate) {
		fputs("dirty rate: unknown (a rate needs at least 2 snapshots)\n", f);
		fprintf(f, "pre-copy over %s, downtime limit %g ms: no estimate without a dirty rate\n",
			link, m->downtime_limit_ms);
		return ferror(f) ? -EIO : 0;
	}
	fprintf(f, "dirty rate: mean %.1f pages/s (%.2f MB/s), peak %.1f pages/s (%.2f MB/s)\n",
		r->mean_pps, r->mean_pps * page / 1e6, r->peak_pps, r->peak_pps * page / 1e6);
	fprintf(f, "pre-copy over %s, downtime limit %g ms:\n", link, m->downtime_limit_ms);
	switch (m->verdict) {
	case DLA_CONVERGES:
		fprintf(f, "  converges after %u round%s: expected downtime %.1f ms, total %.3f s\n",
			m->rounds, m->rounds == 1 ? "" : "s", m->downtime_ms, m->total_s);
		fputs("  rounds (MB):", f);
		for (unsigned i = 0; i < m->rounds; i++)
			fprintf(f, " %.1f", m->round_bytes[i] / 1e6);
		fprintf(f, ", then %.1f MB stopped\n", m->remaining_bytes / 1e6);
		break;
	case DLA_NEVER_RATE:
		fprintf(f, "  never converges: the guest dirties %.2f MB/s, the link sends %.2f MB/s\n",
			r->mean_pps * page / 1e6, m->link_Bps / 1e6);
		break;
	case DLA_NEVER_ROUNDS:
		fprintf(f, "  never converges: still above the downtime limit after %u rounds\n",
			DLA_MAX_ROUNDS);
		break;
	case DLA_NO_DATA:
		break;
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- JSON -------------------------------------------------------------- */

/* A number with a fixed count of decimals, so the output is stable. */
static struct json_object *jnum(double v, int decimals)
{
	char buf[64];

	if (!isfinite(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *ju64(uint64_t v)
{
	return v > INT64_MAX ? json_object_new_uint64(v) : json_object_new_int64((int64_t)v);
}

int dla_write_json(const struct dla_result *r, FILE *f)
{
	double page = (double)(1u << r->page_shift);
	const struct dla_model *m = &r->model;
	struct json_object *o = json_object_new_object(), *mo, *series, *rounds;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "page_size", ju64(1u << r->page_shift));
	json_object_object_add(o, "guest_size", ju64(r->guest_size));
	json_object_object_add(o, "snapshots", ju64(r->snapshots));
	json_object_object_add(o, "duration_s", jnum(r->duration_s, 6));
	json_object_object_add(o, "dirty_pages", ju64(r->dirty_pages));
	json_object_object_add(o, "working_set_pages", ju64(r->ws_pages));
	json_object_object_add(o, "working_set_bytes", ju64(r->ws_pages << r->page_shift));
	json_object_object_add(o, "window_s", jnum(r->window_s, 3));
	json_object_object_add(o, "window_working_set_max_pages", ju64(r->window_max_pages));
	json_object_object_add(o, "mean_pages_per_s", r->has_rate ? jnum(r->mean_pps, 3) : NULL);
	json_object_object_add(o, "mean_MBps", r->has_rate ? jnum(r->mean_pps * page / 1e6, 6) : NULL);
	json_object_object_add(o, "peak_pages_per_s", r->has_rate ? jnum(r->peak_pps, 3) : NULL);
	json_object_object_add(o, "peak_MBps", r->has_rate ? jnum(r->peak_pps * page / 1e6, 6) : NULL);

	mo = json_object_new_object();
	json_object_object_add(mo, "link_bits_per_s", jnum(m->link_Bps * 8, 0));
	json_object_object_add(mo, "downtime_limit_ms", jnum(m->downtime_limit_ms, 3));
	json_object_object_add(mo, "verdict", json_object_new_string(verdict_name(m->verdict)));
	json_object_object_add(mo, "converges", json_object_new_boolean(m->verdict == DLA_CONVERGES));
	if (m->verdict == DLA_CONVERGES) {
		json_object_object_add(mo, "rounds", json_object_new_int((int)m->rounds));
		json_object_object_add(mo, "downtime_ms", jnum(m->downtime_ms, 3));
		json_object_object_add(mo, "total_s", jnum(m->total_s, 6));
		rounds = json_object_new_array();
		for (unsigned i = 0; i < m->rounds; i++)
			json_object_array_add(rounds, jnum(m->round_bytes[i], 0));
		json_object_object_add(mo, "round_bytes", rounds);
		json_object_object_add(mo, "stop_bytes", jnum(m->remaining_bytes, 0));
	}
	json_object_object_add(o, "model", mo);

	series = json_object_new_array();
	for (uint64_t i = 0; i < r->snapshots; i++) {
		const struct dla_point *p = &r->points[i];
		struct json_object *po = json_object_new_object();

		json_object_object_add(po, "t_s", jnum(p->t_s, 6));
		json_object_object_add(po, "pages", ju64(p->pages));
		json_object_object_add(po, "pages_per_s", p->has_rate ? jnum(p->rate_pps, 3) : NULL);
		json_object_object_add(po, "MBps", p->has_rate ? jnum(p->rate_MBps, 6) : NULL);
		json_object_object_add(po, "working_set_pages", ju64(p->ws_pages));
		json_object_object_add(po, "window_working_set_pages", ju64(p->window_pages));
		json_object_array_add(series, po);
	}
	json_object_object_add(o, "series", series);

	if (render_json(o, f) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	json_object_put(o);
	return ferror(f) ? -EIO : 0;
}

/* ---- SVG --------------------------------------------------------------- */

/*
 * One chart: time on x, the dirty rate (MB/s) on the left axis, the
 * working sets (MiB) on the right.  Fixed size; coordinates with one
 * decimal, so the output is stable for golden files.
 */
#define SVG_W 800
#define SVG_H 450
#define PX0 80.0	/* plot area */
#define PX1 710.0
#define PY0 60.0
#define PY1 360.0
#define COLOR_RATE "#1f77b4"
#define COLOR_WS "#d62728"
#define COLOR_WIN "#ff7f0e"

struct axis {
	double max, step;
	int decimals;
};

/* 0..max in 1, 2 or 5 times a power of ten, about five steps. */
static struct axis nice_axis(double max)
{
	struct axis a;
	double raw, mag = 1, norm, n;

	if (!(max > 0) || !isfinite(max) || max > 1e15)
		max = 1;
	raw = max / 5;
	while (mag * 10 <= raw)
		mag *= 10;
	while (mag > raw && mag > 1e-9)
		mag /= 10;
	norm = raw / mag;
	a.step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
	n = (double)(uint64_t)(max / a.step + 1 - 1e-9);	/* ceil for max > 0 */
	a.max = n * a.step;
	a.decimals = 0;
	for (double s = a.step; s < 1 - 1e-9 && a.decimals < 9; s *= 10)
		a.decimals++;
	return a;
}

static double sx(const struct axis *x, double v)
{
	return PX0 + (PX1 - PX0) * v / x->max;
}

static double sy(const struct axis *y, double v)
{
	return PY1 - (PY1 - PY0) * v / y->max;
}

enum series { S_RATE, S_WS, S_WIN };

static void polyline(FILE *f, const struct dla_result *r, const struct axis *x,
		     const struct axis *y, enum series which, const char *cls, const char *color,
		     const char *extra)
{
	double page = (double)(1u << r->page_shift);
	bool any = false;

	for (uint64_t i = 0; i < r->snapshots; i++) {
		const struct dla_point *p = &r->points[i];
		double v;

		if (which == S_RATE && !p->has_rate)
			continue;
		v = which == S_RATE ? p->rate_MBps :
		    which == S_WS ? (double)p->ws_pages * page / MIB :
				    (double)p->window_pages * page / MIB;
		if (!any)
			fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"2\"%s points=\"", cls, color, extra);
		fprintf(f, "%s%.1f,%.1f", any ? " " : "", sx(x, p->t_s), sy(y, v));
		any = true;
	}
	if (any)
		fputs("\"/>\n", f);
}

/* The legend sits under the x axis, outside the data, one row. */
static void legend_entry(FILE *f, int i, const char *color, const char *extra, const char *label)
{
	double x = PX0 + 210 * i, y = PY1 + 70;

	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-width=\"2\"%s/>\n", x, y, x + 28, y, color, extra);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 34, y + 4, label);
}

int dla_write_svg(const struct dla_result *r, FILE *f)
{
	double page = (double)(1u << r->page_shift), rate_max = 0, ws_max = 0;
	struct axis x, yl, yr;
	char win[64];

	for (uint64_t i = 0; i < r->snapshots; i++) {
		const struct dla_point *p = &r->points[i];

		if (p->has_rate)
			rate_max = dmax(rate_max, p->rate_MBps);
		ws_max = dmax(ws_max, (double)p->ws_pages * page / MIB);
	}
	x = nice_axis(r->duration_s);
	yl = nice_axis(rate_max);
	yr = nice_axis(ws_max);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		SVG_W, SVG_H, SVG_W, SVG_H);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", SVG_W, SVG_H);
	fprintf(f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
		"Dirty rate and working set</text>\n", (PX0 + PX1) / 2);
	fprintf(f, "<text x=\"%.1f\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">"
		"%" PRIu64 " snapshots, guest %.1f MiB, %u KiB pages</text>\n", (PX0 + PX1) / 2,
		r->snapshots, (double)r->guest_size / MIB, (1u << r->page_shift) / 1024);

	/* grid and ticks */
	fputs("<g class=\"axes\" stroke=\"#000\" stroke-width=\"1\">\n", f);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX0, PY1, PX1, PY1);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX0, PY0, PX0, PY1);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX1, PY0, PX1, PY1);
	fputs("</g>\n<g class=\"ticks\" fill=\"#000\">\n", f);
	for (int i = 0; i * x.step <= x.max * (1 + 1e-9); i++) {
		double v = i * x.step, px = sx(&x, v);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			px, PY0, px, PY1);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
			px, PY1, px, PY1 + 5);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
			px, PY1 + 18, x.decimals, v);
	}
	for (int i = 0; i * yl.step <= yl.max * (1 + 1e-9); i++) {
		double v = i * yl.step, py = sy(&yl, v);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
			PX0 - 5, py, PX0, py);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%.*f</text>\n",
			PX0 - 8, py + 4, COLOR_RATE, yl.decimals, v);
	}
	for (int i = 0; i * yr.step <= yr.max * (1 + 1e-9); i++) {
		double v = i * yr.step, py = sy(&yr, v);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
			PX1, py, PX1 + 5, py);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%.*f</text>\n",
			PX1 + 8, py + 4, COLOR_WS, yr.decimals, v);
	}
	fputs("</g>\n", f);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (s)</text>\n",
		(PX0 + PX1) / 2, PY1 + 40);
	fprintf(f, "<text transform=\"translate(22,%.1f) rotate(-90)\" text-anchor=\"middle\" "
		"fill=\"%s\">dirty rate (MB/s)</text>\n", (PY0 + PY1) / 2, COLOR_RATE);
	fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(90)\" text-anchor=\"middle\" "
		"fill=\"%s\">working set (MiB)</text>\n", PX1 + 62, (PY0 + PY1) / 2, COLOR_WS);

	polyline(f, r, &x, &yl, S_RATE, "rate", COLOR_RATE, "");
	polyline(f, r, &x, &yr, S_WS, "working-set", COLOR_WS, "");
	polyline(f, r, &x, &yr, S_WIN, "window-working-set", COLOR_WIN,
		 " stroke-dasharray=\"6 4\"");
	if (r->snapshots == 0)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">"
			"no snapshots</text>\n", (PX0 + PX1) / 2, (PY0 + PY1) / 2);

	fputs("<g class=\"legend\">\n", f);
	legend_entry(f, 0, COLOR_RATE, "", "dirty rate (MB/s, left)");
	legend_entry(f, 1, COLOR_WS, "", "working set (MiB, right)");
	snprintf(win, sizeof(win), "working set, last %g s (MiB, right)", r->window_s);
	legend_entry(f, 2, COLOR_WIN, " stroke-dasharray=\"6 4\"", win);
	fputs("</g>\n</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}
