// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for "vdpa-migrate dirtylog": the analysis (agent/cli/dlanalyze.c)
 * over generated traces whose answers are worked out by hand below, its
 * writers (golden files tests/golden/dirtylog-small.{txt,j.txt,svg}; run
 * from the source root, GOLDEN_DIR overrides, UPDATE_GOLDEN=1 rewrites
 * them), and the recorder (agent/cli/dlrecord.c): the reply decoder against
 * spoiled replies, and the whole loop against a fake agent (a thread on a
 * unix socket serving canned dirtylog-snapshot replies) writing a trace
 * that is read back with the trace reader.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <zlib.h>

#include "agent/common/util.h"
#include "agent/cli/ctl_client.h"
#include "agent/cli/dlanalyze.h"
#include "agent/cli/render.h"
#include "agent/cli/dlrecord.h"
#include "dirtylog/trace.h"
#include "protocol/base64.h"
#include "protocol/control.h"

#define GIB (UINT64_C(1) << 30)
#define MS_NS UINT64_C(1000000)

static void assert_near(double got, double want, double rel)
{
	double tol = rel * (want < 0 ? -want : want) + 1e-12;

	if (got < want - tol || got > want + tol)
		fail_msg("got %.12g, expected %.12g (+- %.3g)", got, want, tol);
}

/* ---- generated traces -------------------------------------------------- */

struct gen {
	size_t n, log_size;
	struct dla_snapshot snaps[64];
	uint8_t *maps[64];
};

/* n snapshots every step_ns; snapshot i dirties pages [first(i), first(i) + count). */
static void gen_make(struct gen *g, uint64_t guest, size_t n, uint64_t step_ns, uint64_t count,
		     bool distinct)
{
	memset(g, 0, sizeof(*g));
	assert_true(n <= ARRAY_SIZE(g->snaps));
	g->n = n;
	g->log_size = (size_t)((guest >> 12) + 63) / 64 * 8;
	for (size_t i = 0; i < n; i++) {
		uint64_t first = distinct ? i * count : 0;

		g->maps[i] = calloc(1, g->log_size);
		assert_non_null(g->maps[i]);
		for (uint64_t p = first; p < first + count; p++)
			g->maps[i][p / 8] |= (uint8_t)(1u << (p % 8));
		g->snaps[i].timestamp_ns = UINT64_C(5000000000) + i * step_ns;
		g->snaps[i].bitmap = g->maps[i];
		g->snaps[i].len = g->log_size;
	}
}

static void gen_free(struct gen *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->maps[i]);
}

static struct dla_params params(double link_bps, double downtime_ms)
{
	struct dla_params p = { link_bps, downtime_ms, DLA_DEFAULT_WINDOW_NS };

	return p;
}

static void analyze(const struct gen *g, uint64_t guest, const struct dla_params *p,
		    struct dla_result *res)
{
	char err[160] = "";

	if (dla_analyze(12, guest, p, g->snaps, g->n, res, err, sizeof(err)) != 0)
		fail_msg("dla_analyze: %s", err);
}

/*
 * 1 GiB guest, 12 snapshots 100 ms apart, each 6400 new pages.  Rate: the
 * 11 snapshots after the first, 70400 pages in 1.1 s = 64000 pages/s =
 * 262144000 B/s.  Link 8388608000 bit/s = 1048576000 B/s, four times that.
 * Round 0: 2^30 B in 1.024 s; 65536 pages dirtied (< working set 76800).
 * Round 1: 268435456 B in 0.256 s (above 50 ms), 16384 pages dirtied.
 * Round 2: 67108864 B in 0.064 s (above), 4096 pages = 16777216 B dirtied,
 * 16 ms <= 50 ms: stop.  3 rounds, downtime 16 ms, total 1.024 + 0.256 +
 * 0.064 + 0.016 = 1.36 s.
 */
static void model_converges(void **state)
{
	struct dla_params p = params(8388608000.0, 50);
	struct dla_result res;
	struct gen g;

	(void)state;
	gen_make(&g, GIB, 12, 100 * MS_NS, 6400, true);
	analyze(&g, GIB, &p, &res);
	assert_int_equal(res.snapshots, 12);
	assert_int_equal(res.dirty_pages, 76800);
	assert_int_equal(res.ws_pages, 76800);
	assert_near(res.duration_s, 1.1, 1e-12);
	assert_true(res.has_rate);
	assert_near(res.mean_pps, 64000, 1e-9);
	assert_near(res.peak_pps, 64000, 1e-9);
	assert_false(res.points[0].has_rate);
	assert_near(res.points[5].rate_MBps, 262.144, 1e-9);
	/* Window of 1 s: snapshots j with t[i] - t[j] < 1 s, i.e. ten of them. */
	assert_int_equal(res.points[8].window_pages, 9 * 6400);
	assert_int_equal(res.points[9].window_pages, 10 * 6400);
	assert_int_equal(res.points[11].window_pages, 10 * 6400);
	assert_int_equal(res.points[11].ws_pages, 76800);
	assert_int_equal(res.window_max_pages, 64000);

	assert_int_equal(res.model.verdict, DLA_CONVERGES);
	assert_int_equal(res.model.rounds, 3);
	assert_near(res.model.round_bytes[0], 1073741824.0, 1e-12);
	assert_near(res.model.round_bytes[1], 268435456.0, 1e-9);
	assert_near(res.model.round_bytes[2], 67108864.0, 1e-9);
	assert_near(res.model.remaining_bytes, 16777216.0, 1e-9);
	assert_near(res.model.downtime_ms, 16.0, 1e-9);
	assert_near(res.model.total_s, 1.36, 1e-9);
	dla_result_release(&res);
	gen_free(&g);
}

/*
 * The working set caps each round: 12 snapshots dirtying the same 1000
 * pages (10000 pages/s, far more than 1000 pages over 8.6 s).  1 Gbit/s =
 * 125e6 B/s: round 0 takes 2^30 / 125e6 = 8.589934592 s; what remains is
 * the working set, 1000 pages = 4096000 B = 32.768 ms <= 300 ms.
 */
static void model_capped_by_working_set(void **state)
{
	struct dla_params p = params(1e9, DLA_DEFAULT_DOWNTIME_MS);
	struct dla_result res;
	struct gen g;

	(void)state;
	gen_make(&g, GIB, 12, 100 * MS_NS, 1000, false);
	analyze(&g, GIB, &p, &res);
	assert_int_equal(res.ws_pages, 1000);
	assert_int_equal(res.window_max_pages, 1000);
	assert_near(res.mean_pps, 10000, 1e-9);
	assert_int_equal(res.model.verdict, DLA_CONVERGES);
	assert_int_equal(res.model.rounds, 1);
	assert_near(res.model.downtime_ms, 32.768, 1e-9);
	assert_near(res.model.total_s, 8.589934592 + 0.032768, 1e-12);
	dla_result_release(&res);
	gen_free(&g);
}

/*
 * The first trace again over 100 Mbit/s = 12.5e6 B/s: the guest dirties
 * 262.144 MB/s, and its working set (76800 pages, 314.6 MB) needs 25 s,
 * far over the limit: never.
 */
static void model_never_rate(void **state)
{
	struct dla_params p = params(100e6, DLA_DEFAULT_DOWNTIME_MS);
	struct dla_result res;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	struct gen g;

	(void)state;
	gen_make(&g, GIB, 12, 100 * MS_NS, 6400, true);
	analyze(&g, GIB, &p, &res);
	assert_int_equal(res.model.verdict, DLA_NEVER_RATE);
	assert_int_equal(res.model.rounds, DLA_MAX_ROUNDS);
	f = open_memstream(&out, &len);
	assert_int_equal(dla_write_report(&res, f), 0);
	fclose(f);
	assert_non_null(strstr(out, "never converges: the guest dirties 262.14 MB/s, "
				    "the link sends 12.50 MB/s"));
	free(out);
	out = NULL;
	f = open_memstream(&out, &len);
	assert_int_equal(dla_write_json(&res, f), 0);
	fclose(f);
	assert_non_null(strstr(out, "\"verdict\":\"dirty_rate_exceeds_link\""));
	assert_non_null(strstr(out, "\"converges\":false"));
	free(out);
	dla_result_release(&res);
	gen_free(&g);
}

/*
 * Below the link but too close to it: q = rate / link = 0.9, round k
 * leaves t0 * 0.9^(k+1); after 30 rounds 3.686 s * 0.9^30 = 0.156 s is
 * still over 100 ms.
 */
static void model_never_rounds(void **state)
{
	struct dla_params p = params(64000.0 * 4096 * 8 / 0.9, 100);
	struct dla_model m;

	(void)state;
	dla_model_run((double)GIB, 4096, 64000, UINT64_MAX, &p, &m);
	assert_int_equal(m.verdict, DLA_NEVER_ROUNDS);
	assert_int_equal(m.rounds, DLA_MAX_ROUNDS);
	/*
	 * With 200 ms it converges: after round 26, 3.6864 s * 0.9^27 = 0.214 s
	 * remain, after round 27, * 0.9^28 = 0.193 s: rounds 0..27, 28 rounds.
	 */
	p.downtime_ms = 200;
	dla_model_run((double)GIB, 4096, 64000, UINT64_MAX, &p, &m);
	assert_int_equal(m.verdict, DLA_CONVERGES);
	assert_int_equal(m.rounds, 28);
	assert_near(m.downtime_ms, 3686.4 * 0.052334, 1e-4);
	/* No dirtying at all: round 0 only, no downtime. */
	dla_model_run((double)GIB, 4096, 0, 0, &p, &m);
	assert_int_equal(m.verdict, DLA_CONVERGES);
	assert_int_equal(m.rounds, 1);
	assert_near(m.downtime_ms, 0, 0);
}

static void empty_and_single(void **state)
{
	struct dla_params p = params(DLA_DEFAULT_LINK_BPS, DLA_DEFAULT_DOWNTIME_MS);
	struct dla_result res;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	struct gen g;

	(void)state;
	gen_make(&g, GIB, 0, 0, 0, true);
	analyze(&g, GIB, &p, &res);
	assert_int_equal(res.snapshots, 0);
	assert_false(res.has_rate);
	assert_int_equal(res.model.verdict, DLA_NO_DATA);
	f = open_memstream(&out, &len);
	assert_int_equal(dla_write_report(&res, f), 0);
	assert_int_equal(dla_write_svg(&res, f), 0);
	fclose(f);
	assert_non_null(strstr(out, "dirty rate: unknown"));
	assert_non_null(strstr(out, "no snapshots"));
	assert_null(strstr(out, "<polyline"));
	free(out);
	dla_result_release(&res);

	gen_make(&g, GIB, 1, 0, 5, true);
	analyze(&g, GIB, &p, &res);
	assert_int_equal(res.snapshots, 1);
	assert_int_equal(res.dirty_pages, 5);
	assert_int_equal(res.ws_pages, 5);
	assert_false(res.has_rate);
	assert_int_equal(res.model.verdict, DLA_NO_DATA);
	dla_result_release(&res);
	gen_free(&g);
}

static void bad_input(void **state)
{
	struct dla_params p = params(DLA_DEFAULT_LINK_BPS, DLA_DEFAULT_DOWNTIME_MS);
	struct dla_result res;
	char err[160];
	struct gen g;
	double bps;

	(void)state;
	gen_make(&g, GIB, 3, 100 * MS_NS, 10, true);
	g.snaps[1].len = 8;
	assert_int_equal(dla_analyze(12, GIB, &p, g.snaps, g.n, &res, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "snapshot 1: 8 bytes of log, expected 32768");
	g.snaps[1].len = g.log_size;
	g.snaps[2].timestamp_ns = g.snaps[1].timestamp_ns;
	assert_int_equal(dla_analyze(12, GIB, &p, g.snaps, g.n, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "snapshot 2: timestamp"));
	p.link_bps = 0;
	assert_int_equal(dla_analyze(12, GIB, &p, g.snaps, 1, &res, err, sizeof(err)), -EINVAL);
	gen_free(&g);

	assert_int_equal(dla_parse_rate("10G", &bps), 0);
	assert_near(bps, 10e9, 0);
	assert_int_equal(dla_parse_rate("500m", &bps), 0);
	assert_near(bps, 500e6, 0);
	assert_int_equal(dla_parse_rate("2.5G", &bps), 0);
	assert_near(bps, 2.5e9, 0);
	assert_int_equal(dla_parse_rate("1000000", &bps), 0);
	assert_near(bps, 1e6, 0);
	static const char *const bad[] = { "", "G", "0", "0G", "10GB", "10 G", "-1G", "1.G", ".5G",
					   "1e9", "2000T", "10Gx" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (dla_parse_rate(bad[i], &bps) != -EINVAL)
			fail_msg("dla_parse_rate(\"%s\") accepted", bad[i]);
}

/* ---- golden files ------------------------------------------------------ */

static const char *golden_dir(void)
{
	const char *d = getenv("GOLDEN_DIR");

	return d && d[0] ? d : "tests/golden";
}

static void check_golden(const char *name, const char *got, size_t len)
{
	char path[512], *want = NULL;
	size_t cap = 0, wlen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
	if (getenv("UPDATE_GOLDEN")) {
		f = fopen(path, "we");
		assert_non_null(f);
		assert_int_equal(fwrite(got, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s: %s (run from the source root or set GOLDEN_DIR)", path,
			 strerror(errno));
	for (;;) {
		size_t n;

		if (wlen + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			want = realloc(want, cap);
			assert_non_null(want);
		}
		n = fread(want + wlen, 1, cap - wlen - 1, f);
		wlen += n;
		if (n == 0)
			break;
	}
	fclose(f);
	want[wlen] = '\0';
	if (len != wlen || memcmp(got, want, len) != 0) {
		fprintf(stderr, "--- want (%s)\n%s--- got\n%.*s---\n", name, want, (int)len, got);
		fail_msg("output differs from %s", name);
	}
	free(want);
}

typedef int (*writer_fn)(const struct dla_result *r, FILE *f);

static char *write_mem(writer_fn fn, const struct dla_result *r, size_t *ret_len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, ret_len);

	assert_non_null(f);
	assert_int_equal(fn(r, f), 0);
	assert_int_equal(fclose(f), 0);
	return out;
}

/* Counts occurrences of s in text. */
static size_t count(const char *text, const char *s)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/*
 * A 1 MiB guest (256 pages), five snapshots 250 ms apart dirtying 8, 16,
 * 4, 32 and 16 pages from page 0, 8, 0, 64 and 8.
 */
static void golden_small(void **state)
{
	static const struct { uint64_t first, n; } dirt[] = {
		{ 0, 8 }, { 8, 16 }, { 0, 4 }, { 64, 32 }, { 8, 16 },
	};
	struct dla_params p = params(DLA_DEFAULT_LINK_BPS, DLA_DEFAULT_DOWNTIME_MS);
	uint8_t maps[5][32] = { { 0 } };
	struct dla_snapshot snaps[5];
	struct dla_result res;
	char err[160], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		for (uint64_t pg = dirt[i].first; pg < dirt[i].first + dirt[i].n; pg++)
			maps[i][pg / 8] |= (uint8_t)(1u << (pg % 8));
		snaps[i].timestamp_ns = UINT64_C(1000000000) + i * 250 * MS_NS;
		snaps[i].bitmap = maps[i];
		snaps[i].len = sizeof(maps[i]);
	}
	assert_int_equal(dla_analyze(12, 1 << 20, &p, snaps, 5, &res, err, sizeof(err)), 0);
	/* By hand: working set 0..23 and 64..95 = 56 pages; rates 64, 16, 128, 64 pages/s. */
	assert_int_equal(res.ws_pages, 56);
	assert_int_equal(res.points[4].ws_pages, 56);
	assert_near(res.points[3].rate_pps, 128, 1e-12);
	assert_near(res.mean_pps, 68.0 / 1.0, 1e-12);
	/* The 1 s window at t = 1 s holds snapshots 1..4: pages 4..7 (only in 0) left it. */
	assert_int_equal(res.points[4].window_pages, 52);
	assert_int_equal(res.points[3].window_pages, 56);

	out = write_mem(dla_write_report, &res, &len);
	check_golden("dirtylog-small.txt", out, len);
	free(out);
	render_json_set_pretty(true);	/* the golden file is for people to read */
	out = write_mem(dla_write_json, &res, &len);
	check_golden("dirtylog-small.j.txt", out, len);
	free(out);

	out = write_mem(dla_write_svg, &res, &len);
	assert_true(strncmp(out, "<?xml version=\"1.0\"", 19) == 0);
	assert_true(len > 7 && strcmp(out + len - 7, "</svg>\n") == 0);
	assert_int_equal(count(out, "<svg "), 1);
	assert_int_equal(count(out, "<g "), count(out, "</g>"));
	assert_int_equal(count(out, "<text"), count(out, "</text>"));
	assert_int_equal(count(out, "<polyline"), 3);
	/* The rate starts at the second snapshot: four points; the working sets five. */
	assert_non_null(strstr(out, "<polyline class=\"rate\""));
	assert_non_null(strstr(out, "<polyline class=\"working-set\""));
	assert_non_null(strstr(out, "<polyline class=\"window-working-set\""));
	check_golden("dirtylog-small.svg", out, len);
	free(out);
	dla_result_release(&res);
}

/* ---- the recorder ------------------------------------------------------ */

/* A dirtylog-snapshot reply for bitmap (len bytes), or with spoilers. */
static char *snap_reply(uint64_t guest, uint64_t ts, const uint8_t *bitmap, size_t len,
			long pages_delta, const char *extra_z)
{
	uLongf zlen = compressBound(len) + 16;
	uint8_t *z = malloc(zlen);
	char *b64, *line = NULL;
	uint64_t pages = 0;

	assert_non_null(z);
	assert_int_equal(compress2(z, &zlen, bitmap, len, 1), Z_OK);
	if (extra_z) {
		memcpy(z + zlen, extra_z, strlen(extra_z));
		zlen += strlen(extra_z);
	}
	for (size_t i = 0; i < len; i++)
		pages += (uint64_t)__builtin_popcount(bitmap[i]);
	b64 = malloc(b64_encoded_len(zlen) + 1);
	assert_non_null(b64);
	b64_encode(z, zlen, b64);
	assert_true(asprintf(&line, "{\"ok\":true,\"page_size\":4096,\"guest_size\":%llu,"
			     "\"timestamp_ns\":%llu,\"pages\":%llu,\"bitmap_z64\":\"%s\"}\n",
			     (unsigned long long)guest, (unsigned long long)ts,
			     (unsigned long long)((long)pages + pages_delta), b64) > 0);
	free(z);
	free(b64);
	return line;
}

static int decode_line(const char *line, uint64_t want, struct dlrec_snapshot *snap,
		       struct ctl_error *err)
{
	struct json_object *reply = NULL;
	int r;

	assert_int_equal(ctl_parse_reply(line, strlen(line), &reply, err), 0);
	r = dlrec_decode(reply, want, snap, err);
	json_object_put(reply);
	return r;
}

static void decode_replies(void **state)
{
	/* 2 MiB guest: 512 pages, 64 bytes of log. */
	uint8_t map[64] = { 0 }, big[72] = { 0 }, small[56] = { 0 };
	struct dlrec_snapshot snap;
	struct ctl_error err;
	char *line;

	(void)state;
	map[0] = 0x81;
	map[63] = 0x10;
	line = snap_reply(2 << 20, 77, map, sizeof(map), 0, NULL);
	assert_int_equal(decode_line(line, 0, &snap, &err), 0);
	assert_int_equal(snap.len, 64);
	assert_int_equal(snap.pages, 3);
	assert_int_equal(snap.timestamp_ns, 77);
	assert_memory_equal(snap.bitmap, map, 64);
	free(snap.bitmap);
	/* The guest must not change size under a recording. */
	assert_int_equal(decode_line(line, 4 << 20, &snap, &err), -EBADMSG);
	assert_string_equal(err.message,
			    "dirtylog-snapshot: guest_size changed from 4194304 to 2097152");
	free(line);

	static const struct {
		const char *reply;
		const char *message;
	} cases[] = {
		{ "{\"ok\":true,\"page_size\":8192,\"guest_size\":2097152,\"timestamp_ns\":1,"
		  "\"pages\":0,\"bitmap_z64\":\"\"}",
		  "dirtylog-snapshot: page_size 8192, expected 4096" },
		{ "{\"ok\":true,\"page_size\":4096,\"guest_size\":0,\"timestamp_ns\":1,"
		  "\"pages\":0,\"bitmap_z64\":\"\"}",
		  "dirtylog-snapshot: guest_size 0 is out of range" },
		{ "{\"ok\":true,\"page_size\":4096,\"guest_size\":2097152,\"timestamp_ns\":-1,"
		  "\"pages\":0,\"bitmap_z64\":\"\"}",
		  "dirtylog-snapshot: \"timestamp_ns\" is negative" },
		{ "{\"ok\":true,\"page_size\":4096,\"guest_size\":2097152,\"timestamp_ns\":1,"
		  "\"bitmap_z64\":\"\"}",
		  "dirtylog-snapshot: \"pages\" is missing or not an integer" },
		{ "{\"ok\":true,\"page_size\":4096,\"guest_size\":2097152,\"timestamp_ns\":1,"
		  "\"pages\":0,\"bitmap_z64\":\"a*==\"}",
		  "dirtylog-snapshot: \"bitmap_z64\" is not base64" },
		{ "{\"ok\":true,\"page_size\":4096,\"guest_size\":2097152,\"timestamp_ns\":1,"
		  "\"pages\":0,\"bitmap_z64\":\"AAAA\"}",
		  "dirtylog-snapshot: the bitmap is not zlib data (data error)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(decode_line(cases[i].reply, 0, &snap, &err), -EBADMSG);
		assert_string_equal(err.message, cases[i].message);
	}

	line = snap_reply(2 << 20, 1, big, sizeof(big), 0, NULL);
	assert_int_equal(decode_line(line, 0, &snap, &err), -EBADMSG);
	assert_string_equal(err.message, "dirtylog-snapshot: the bitmap inflates to more than 64 "
			    "bytes (guest_size 2097152)");
	free(line);
	line = snap_reply(2 << 20, 1, small, sizeof(small), 0, NULL);
	assert_int_equal(decode_line(line, 0, &snap, &err), -EBADMSG);
	assert_string_equal(err.message, "dirtylog-snapshot: the bitmap is 56 bytes, "
			    "guest_size 2097152 needs 64");
	free(line);
	line = snap_reply(2 << 20, 1, map, sizeof(map), 1, NULL);
	assert_int_equal(decode_line(line, 0, &snap, &err), -EBADMSG);
	assert_string_equal(err.message, "dirtylog-snapshot: \"pages\" is 4 but the bitmap holds 3");
	free(line);
	line = snap_reply(2 << 20, 1, map, sizeof(map), 0, "xyz");
	assert_int_equal(decode_line(line, 0, &snap, &err), -EBADMSG);
	assert_string_equal(err.message, "dirtylog-snapshot: 3 bytes after the zlib data");
	free(line);
}

/* The fake agent: one connection, a reply per request line, in order. */
struct fake_agent {
	char dir[64];
	char path[108];
	int lfd;
	char **replies;		/* for the dirtylog-snapshot requests */
	size_t nreplies;
	size_t snapshots_asked;
	bool stop_asked;
	bool other_asked;
	pthread_t thread;
};

static void *fake_main(void *arg)
{
	struct fake_agent *fa = arg;
	int fd = accept4(fa->lfd, NULL, NULL, SOCK_CLOEXEC);
	char line[4096];

	if (fd < 0)
		return NULL;
	for (;;) {
		size_t len = 0;
		const char *reply;

		while (len < sizeof(line) - 1) {
			ssize_t n = read(fd, line + len, 1);

			if (n <= 0)
				goto out;
			len += (size_t)n;
			if (line[len - 1] == '\n')
				break;
		}
		line[len] = '\0';
		if (strstr(line, "\"dirtylog-stop\"") && strstr(line, "\"name\":\"p0\"")) {
			fa->stop_asked = true;
			reply = "{\"ok\":true}\n";
		} else if (strstr(line, "\"dirtylog-snapshot\"") && strstr(line, "\"name\":\"p0\"") &&
			   fa->snapshots_asked < fa->nreplies) {
			reply = fa->replies[fa->snapshots_asked++];
		} else {
			fa->other_asked = true;
			reply = "{\"ok\":false,\"error\":\"unexpected\"}\n";
		}
		if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
			break;
	}
out:
	close(fd);
	return NULL;
}

static struct ctl_client *fake_start(struct fake_agent *fa, char **replies, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_client *c = NULL;
	struct ctl_error err;

	memset(fa, 0, sizeof(*fa));
	strcpy(fa->dir, "/tmp/test_dlanalyze.XXXXXX");
	assert_non_null(mkdtemp(fa->dir));
	snprintf(fa->path, sizeof(fa->path), "%s/control.sock", fa->dir);
	strcpy(sa.sun_path, fa->path);
	fa->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fa->lfd >= 0);
	assert_int_equal(bind(fa->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fa->lfd, 4), 0);
	fa->replies = replies;
	fa->nreplies = n;
	assert_int_equal(pthread_create(&fa->thread, NULL, fake_main, fa), 0);
	assert_int_equal(ctl_client_connect(fa->path, 5000, &c, &err), 0);
	return c;
}

static void fake_stop(struct fake_agent *fa, struct ctl_client *c)
{
	ctl_client_free(c);
	pthread_join(fa->thread, NULL);
	close(fa->lfd);
	unlink(fa->path);
	rmdir(fa->dir);
}

static void count_progress(const struct dlrec_progress *p, void *userdata)
{
	uint64_t *calls = userdata;

	(void)p;
	(*calls)++;
}

#define REC_SNAPS 5

/*
 * 50 ms at 10 ms: the baseline and up to five snapshots (a recorder that
 * falls behind skips the deadlines already past, so a loaded machine takes
 * fewer; never none: the first deadline is within the duration); the trace
 * holds exactly those taken, with the agent's timestamps and bitmaps in
 * order, and recording is stopped.  With spoil (and a duration long enough
 * to reach it whatever the machine's speed), the third snapshot's reply is
 * bad: 76 for vdpa-migrate, the trace keeps the two before it, and
 * recording is stopped all the same.
 */
static void record_run(bool spoil)
{
	uint8_t maps[REC_SNAPS + 1][64];
	char *replies[REC_SNAPS + 1];
	struct dirtylog_trace_reader rd;
	struct dirtylog_trace_snapshot s;
	struct dlrec_opts o = { .name = "p0", .duration_ms = spoil ? 20000 : 50,
				.interval_ms = 10, .progress = count_progress };
	struct dlrec_summary sum;
	struct ctl_error err = { "", "" };
	struct fake_agent fa;
	struct ctl_client *c;
	uint64_t calls = 0;
	size_t want;
	int fd, r;

	o.userdata = &calls;
	for (size_t i = 0; i <= REC_SNAPS; i++) {
		memset(maps[i], 0, sizeof(maps[i]));
		maps[i][i] = (uint8_t)(0xff >> i);
		maps[i][40 + i] = 1;
		replies[i] = snap_reply(2 << 20, 1000 + i * 10000000, maps[i], sizeof(maps[i]),
					spoil && i == 3 ? 5 : 0, NULL);
	}
	fd = memfd_create("trace", MFD_CLOEXEC);
	assert_true(fd >= 0);
	c = fake_start(&fa, replies, REC_SNAPS + 1);
	r = dlrec_run(c, &o, fd, &sum, &err);
	fake_stop(&fa, c);
	if (spoil) {
		assert_int_equal(r, -EBADMSG);
		assert_int_equal(sum.stage, DLREC_AGENT);
		assert_int_equal(ctl_client_status(r), CTL_STATUS_BAD_REPLY);
		assert_string_equal(err.message,
				    "dirtylog-snapshot: \"pages\" is 11 but the bitmap holds 6");
	} else {
		if (r != 0)
			fail_msg("dlrec_run: %d %s", r, err.message);
		assert_int_equal(sum.stage, DLREC_OK);
	}
	assert_true(fa.stop_asked);
	assert_false(fa.other_asked);
	assert_int_equal(sum.stop_rc, 0);
	want = sum.progress.snapshots;
	if (spoil)
		assert_int_equal(want, 2);
	else
		assert_in_range(want, 1, REC_SNAPS);
	assert_int_equal(calls, want);
	assert_int_equal(sum.progress.guest_size, 2 << 20);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(dirtylog_trace_reader_init(&rd, fd), 0);
	assert_int_equal(rd.page_shift, 12);
	assert_int_equal(rd.guest_size, 2 << 20);
	for (size_t i = 1; i <= want; i++) {
		assert_int_equal(dirtylog_trace_reader_next(&rd, &s), 1);
		assert_int_equal(s.timestamp_ns, 1000 + i * 10000000);
		assert_int_equal(s.len, 64);
		assert_memory_equal(s.bitmap, maps[i], 64);
	}
	assert_int_equal(dirtylog_trace_reader_next(&rd, &s), 0);
	dirtylog_trace_reader_release(&rd);
	close(fd);
	for (size_t i = 0; i <= REC_SNAPS; i++)
		free(replies[i]);
}

static void record_to_trace(void **state)
{
	(void)state;
	record_run(false);
}

static void record_bad_reply_keeps_trace(void **state)
{
	(void)state;
	record_run(true);
}

/* A stop flag already set: no snapshot after the baseline, the header only. */
static void record_interrupted(void **state)
{
	static volatile sig_atomic_t stop = 1;
	uint8_t map[64] = { 0 };
	char *replies[1];
	struct dirtylog_trace_reader rd;
	struct dirtylog_trace_snapshot s;
	struct dlrec_opts o = { .name = "p0", .duration_ms = 1000, .interval_ms = 100,
				.stop = &stop };
	struct dlrec_summary sum;
	struct ctl_error err;
	struct fake_agent fa;
	struct ctl_client *c;
	int fd;

	(void)state;
	replies[0] = snap_reply(2 << 20, 1, map, sizeof(map), 0, NULL);
	fd = memfd_create("trace", MFD_CLOEXEC);
	assert_true(fd >= 0);
	c = fake_start(&fa, replies, 1);
	assert_int_equal(dlrec_run(c, &o, fd, &sum, &err), -EINTR);
	fake_stop(&fa, c);
	assert_int_equal(sum.stage, DLREC_INTERRUPTED);
	assert_true(fa.stop_asked);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(dirtylog_trace_reader_init(&rd, fd), 0);
	assert_int_equal(dirtylog_trace_reader_next(&rd, &s), 0);
	dirtylog_trace_reader_release(&rd);
	close(fd);
	free(replies[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_converges),
		cmocka_unit_test(model_capped_by_working_set),
		cmocka_unit_test(model_never_rate),
		cmocka_unit_test(model_never_rounds),
		cmocka_unit_test(empty_and_single),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(golden_small),
		cmocka_unit_test(decode_replies),
		cmocka_unit_test(record_to_trace),
		cmocka_unit_test(record_bad_reply_keeps_trace),
		cmocka_unit_test(record_interrupted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
