/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A port's migration bookkeeping; see migration.h. */
#include "agent/daemon/migration.h"

#include <string.h>

#include "protocol/vhost_user.h"

void mig_reset(struct migration *m)
{
	/* The last switchover's figures outlive the connection (the source's
	 * QEMU quits right after it); a half-seen one does not. */
	struct mig_phases keep = m->phases;

	memset(m, 0, sizeof(*m));
	m->phases = keep;
	m->phases.src_open = m->phases.dst_open = false;
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

void mig_work(struct migration *m, uint64_t ns)
{
	if (m->phases.dst_open)
		m->phases.dst_acc_ns += ns;
}

void mig_request(struct migration *m, uint32_t request, uint64_t t_in, uint64_t t_handled,
		 uint64_t t_done, unsigned running_before, unsigned running_after)
{
	struct mig_phases *p = &m->phases;

	if (request == VU_REQ_GET_VRING_BASE && running_before) {
		if (!p->src_open) {
			/* A new stop: the last one's figures give way. */
			p->src_open = true;
			p->src_done = false;
			p->src_first_ns = t_in;
			p->src_handling_ns = p->src_requests = 0;
		}
		p->src_last_ns = t_done;
		p->src_handling_ns += t_handled - t_in;
		p->src_requests++;
		if (!running_after) {
			p->src_open = false;
			p->src_done = true;
		}
		p->dst_open = false;
		return;
	}
	if (request == VU_REQ_SET_MEM_TABLE && !running_before) {
		p->dst_open = true;
		p->dst_first_ns = t_in;
		p->dst_last_ns = p->dst_start_ns = p->dst_rings = 0;
		p->dst_mem_ns = p->dst_acc_ns = t_handled - t_in;
		p->dst_handling_ns = 0;
		return;
	}
	if (p->dst_open)
		p->dst_acc_ns += t_handled - t_in;
	/* With F_STATUS the device starts at SET_STATUS (DRIVER_OK): part of it. */
	if (p->dst_open && (running_after > running_before ||
			    (request == VU_REQ_SET_STATUS && running_after))) {
		p->dst_start_ns += t_handled - t_in;
		p->dst_last_ns = t_done;
		p->dst_rings = running_after;
		p->dst_handling_ns = p->dst_acc_ns;
	}
}
