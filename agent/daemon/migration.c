/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A port's migration bookkeeping; see migration.h. */
#include "agent/daemon/migration.h"

#include <string.h>

void mig_reset(struct migration *m)
{
	memset(m, 0, sizeof(*m));
}

void mig_ring_started(struct migration *m, unsigned i)
{
	if (i >= MIG_MAX_RINGS)
		return;
	m->ring[i].ran = true;
	m->ring[i].handed_over = false;
}

void mig_ring_rebased(struct migration *m, unsigned i)
{
	if (i < MIG_MAX_RINGS)
		m->ring[i].handed_over = false;
}

void mig_ring_handed_over(struct migration *m, unsigned i, uint16_t base)
{
	if (i >= MIG_MAX_RINGS)
		return;
	m->ring[i].handed_over = true;
	m->ring[i].handed_base = base;
}

bool mig_quiesced(const struct migration *m)
{
	bool any = false;

	for (unsigned i = 0; i < MIG_MAX_RINGS; i++) {
		if (!m->ring[i].ran)
			continue;
		if (!m->ring[i].handed_over)
			return false;
		any = true;
	}
	return any;
}

void mig_log_state(struct migration *m, bool log_all, uint64_t misses)
{
	if (log_all && !m->log_on)
		m->misses_at_log_on = misses;
	m->log_on = log_all;
}

bool mig_final_harvest(const struct migration *m, uint64_t misses)
{
	return mig_quiesced(m) && misses == m->misses_at_log_on;
}
