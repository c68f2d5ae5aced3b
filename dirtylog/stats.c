/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty-rate bookkeeping for the migration rounds.  Monotonic time only:
 * a wall-clock step during a migration would make rates meaningless.
 */
#include "dirtylog/stats.h"

#include <errno.h>
#include <string.h>
#include <time.h>

uint64_t dirtylog_now_ns(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t resolve(uint64_t now_ns)
{
	return now_ns == DIRTYLOG_NOW ? dirtylog_now_ns() : now_ns;
}

void dirtylog_stats_init(struct dirtylog_stats *s, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = s->last_ns = resolve(now_ns);
}

int dirtylog_stats_round(struct dirtylog_stats *s, uint64_t pages,
			 uint64_t now_ns)
{
	uint64_t now = resolve(now_ns), dt;
	double rate;

	if (now < s->last_ns)
		return -EINVAL;
	if (s->total_pages > UINT64_MAX - pages)
		return -EOVERFLOW;
	dt = now - s->last_ns;
	rate = dt ? (double)pages * 1e9 / (double)dt : 0.0;

	s->rounds++;
	s->last_ns = now;
	s->last_pages = pages;
	s->total_pages += pages;
	if (pages > s->max_pages)
		s->max_pages = pages;
	s->last_rate = rate;
	if (rate > s->peak_rate)
		s->peak_rate = rate;
	return 0;
}

double dirtylog_stats_mean_rate(const struct dirtylog_stats *s)
{
	uint64_t dt = s->last_ns - s->start_ns;

	return dt ? (double)s->total_pages * 1e9 / (double)dt : 0.0;
}
