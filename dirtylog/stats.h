/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-round dirty-log statistics: pages per round, totals, dirty rate in
 * pages per second on CLOCK_MONOTONIC.  Every function takes the time so
 * tests can be deterministic; DIRTYLOG_NOW means "read the clock".
 * A plain struct, owned by one thread.
 */
#ifndef VDPA_DIRTYLOG_STATS_H
#define VDPA_DIRTYLOG_STATS_H

#include <stdint.h>

#define DIRTYLOG_NOW UINT64_MAX

struct dirtylog_stats {
	uint64_t start_ns;     /* init time */
	uint64_t last_ns;      /* end of the latest round (start_ns if none) */
	uint64_t rounds;
	uint64_t last_pages;   /* pages in the latest round */
	uint64_t max_pages;    /* most pages in one round */
	uint64_t total_pages;
	double last_rate;      /* pages/s over the latest round; 0 if it took 0 ns */
	double peak_rate;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t dirtylog_now_ns(void);

void dirtylog_stats_init(struct dirtylog_stats *s, uint64_t now_ns);

/*
 * Ends a round in which `pages` were found dirty.  -EINVAL if now_ns is
 * before the previous round (a caller mixing clocks), -EOVERFLOW if the
 * total would wrap; the stats are unchanged on error.
 */
int dirtylog_stats_round(struct dirtylog_stats *s, uint64_t pages,
			 uint64_t now_ns);

/* total_pages over the time from init to the latest round; 0 if none. */
double dirtylog_stats_mean_rate(const struct dirtylog_stats *s);

#endif
