/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offline analysis of a dirty-log trace (dirtylog/trace.h) for
 * "vdpa-migrate dirtylog analyze": dirty rate per snapshot, working sets,
 * and a model of pre-copy live migration over a link of a given rate.
 * Pure: snapshots in (timestamps and bitmaps in the vhost log layout), a
 * result struct out, and writers of that result (report, JSON, SVG) to a
 * FILE *.  Nothing here reads files, logs or exits.
 *
 * Trust boundary: the snapshots come from a trace file, i.e. from whoever
 * wrote it.  The trace reader has checked the framing (lengths, checksums);
 * this module checks what is left: each bitmap is exactly the log size of
 * the geometry, timestamps strictly increase.
 *
 * Time: snapshot i holds the pages written during (t[i-1], t[i]].  The
 * first snapshot of a trace has no known start (vdpa-migrate dirtylog
 * record does not store its baseline), so its pages count toward the
 * working sets but not toward any rate: rates exist from the second
 * snapshot on.
 *
 * The pre-copy model (QEMU's RAM migration, simplified): with B the link
 * in bytes/s, G the guest size, P the page size, r the mean dirty rate in
 * pages/s and W the working set of the whole trace in pages,
 *   round 0 sends S0 = G bytes in t0 = S0 / B;
 *   round k >= 1 sends Sk = min(r * t(k-1), W) * P bytes in tk = Sk / B;
 *   after round k the pages dirtied meanwhile, Rk = min(r * tk, W) * P
 *   bytes, remain; when Rk / B <= the downtime limit the guest stops and
 *   they are sent: rounds = k + 1, downtime = Rk / B, total = sum(tj) + Rk / B.
 * It does not converge when that takes more than DLA_MAX_ROUNDS rounds; the
 * reason is "dirty rate at or above the link" when r * P >= B (then only a
 * working set that fits in the downtime lets it converge), else "too many
 * rounds".
 */
#ifndef VDPA_AGENT_DLANALYZE_H
#define VDPA_AGENT_DLANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DLA_MAX_ROUNDS 30
#define DLA_DEFAULT_LINK_BPS 10e9		/* bits/s */
#define DLA_DEFAULT_DOWNTIME_MS 300u		/* QEMU's downtime-limit default */
#define DLA_DEFAULT_WINDOW_NS 1000000000ull	/* sliding working-set window */

struct dla_params {
	double link_bps;	/* link rate, bits/s, > 0 */
	double downtime_ms;	/* > 0 */
	uint64_t window_ns;	/* > 0 */
};

/* One point of the series, per snapshot. */
struct dla_point {
	double t_s;		/* since the first snapshot */
	uint64_t pages;		/* dirty pages in this snapshot */
	bool has_rate;		/* false for the first snapshot */
	double rate_pps;	/* pages/s over (t[i-1], t[i]] */
	double rate_MBps;	/* 10^6 bytes/s */
	uint64_t ws_pages;	/* distinct pages dirtied up to this snapshot */
	uint64_t window_pages;	/* distinct pages in the snapshots of the last window */
};

enum dla_verdict {
	DLA_NO_DATA = 0,	/* fewer than 2 snapshots: no rate, no model */
	DLA_CONVERGES = 1,
	DLA_NEVER_RATE = 2,	/* dirty rate >= link, working set too big for the downtime */
	DLA_NEVER_ROUNDS = 3,	/* not within DLA_MAX_ROUNDS rounds */
};

struct dla_model {
	enum dla_verdict verdict;
	double link_Bps;	/* bytes/s */
	double downtime_limit_ms;
	unsigned rounds;	/* rounds sent before the stop (round 0 included) */
	double downtime_ms;	/* expected, when it converges */
	double total_s;		/* pre-copy rounds plus downtime, when it converges */
	double round_bytes[DLA_MAX_ROUNDS];	/* bytes of each round sent */
	double remaining_bytes;	/* sent during the downtime */
};

struct dla_result {
	unsigned page_shift;
	uint64_t guest_size;
	uint64_t snapshots;
	double duration_s;		/* last timestamp - first */
	uint64_t dirty_pages;		/* sum over all snapshots */
	uint64_t ws_pages;		/* distinct pages over the whole trace */
	double window_s;
	uint64_t window_max_pages;	/* largest sliding-window working set */
	bool has_rate;
	double mean_pps;		/* pages of snapshots 1.. over duration_s */
	double peak_pps;
	struct dla_model model;
	struct dla_point *points;	/* snapshots entries, malloc'd */
};

/*
 * Streaming: init with the trace's geometry, add each snapshot in order,
 * finish.  The state holds one 32-bit word per guest page (the snapshot
 * that last dirtied it), so memory is 32 times the log size.
 */
struct dla_state;

/* -EINVAL bad geometry or params, -EMSGSIZE log too large, -ENOMEM. */
int dla_new(unsigned page_shift, uint64_t guest_size, const struct dla_params *params,
	    struct dla_state **ret);
/*
 * -EINVAL: len is not the log size, or timestamp_ns is not after the
 * previous one (err, errlen say which); -ENOMEM; -EOVERFLOW past 2^32 - 2
 * snapshots.  The state is unchanged on error.
 */
int dla_add(struct dla_state *s, uint64_t timestamp_ns, const uint8_t *bitmap, size_t len,
	    char *err, size_t errlen);
/* Fills *ret (points malloc'd: dla_result_release()); the state stays usable. */
int dla_finish(struct dla_state *s, struct dla_result *ret);
void dla_free(struct dla_state *s);
void dla_result_release(struct dla_result *r);

/* The whole thing over an in-memory list; errors as above. */
struct dla_snapshot {
	uint64_t timestamp_ns;
	const uint8_t *bitmap;
	size_t len;
};
int dla_analyze(unsigned page_shift, uint64_t guest_size, const struct dla_params *params,
		const struct dla_snapshot *snaps, size_t n, struct dla_result *ret,
		char *err, size_t errlen);

/* The model alone (the formulas above); pure arithmetic. */
void dla_model_run(double guest_bytes, double page_bytes, double rate_pps, uint64_t ws_pages,
		   const struct dla_params *params, struct dla_model *ret);

/*
 * A link rate in bits/s: a decimal number with an optional suffix K, M, G
 * or T (powers of 1000, either case), e.g. "10G", "500M", "2.5G", "1000000".
 * -EINVAL for anything else, zero, or above 10^15.
 */
int dla_parse_rate(const char *s, double *ret_bps);

/* Writers; each returns 0 or -EIO when the stream reports an error. */
int dla_write_report(const struct dla_result *r, FILE *f);
int dla_write_json(const struct dla_result *r, FILE *f);
int dla_write_svg(const struct dla_result *r, FILE *f);

#endif
