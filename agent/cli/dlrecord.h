/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "vdpa-migrate dirtylog record": asks the agent for dirtylog-snapshot of a
 * port at a fixed interval and writes the snapshots to a trace file
 * (dirtylog/trace.h).  The loop is here rather than in vdpa_migrate.c so
 * the unit tests can drive it against a fake agent; it owns no signal
 * handler and prints nothing: progress goes to a callback, failures come
 * back as a negative errno with a reason.
 *
 * Trust boundary: the replies come from the agent.  dlrec_decode() checks
 * every member (page_size 4096, guest_size giving a log the trace format
 * accepts, pages equal to the bits set), base64 without fault, zlib data
 * that inflates to exactly the log size with nothing after it.  The
 * inflated size is bounded by the log size before any memory is taken.
 */
#ifndef VDPA_AGENT_DLRECORD_H
#define VDPA_AGENT_DLRECORD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/control.h"

struct json_object;
struct ctl_client;

struct dlrec_snapshot {
	uint64_t guest_size;
	uint64_t timestamp_ns;
	uint64_t pages;
	uint8_t *bitmap;	/* malloc'd, len bytes */
	size_t len;
};

/*
 * Decodes one dirtylog-snapshot reply.  want_guest_size 0 accepts any
 * size; otherwise the reply must match it.  -EBADMSG with err->message on
 * any defect, -ENOMEM.  ret->bitmap is the caller's (free()).
 */
int dlrec_decode(struct json_object *reply, uint64_t want_guest_size,
		 struct dlrec_snapshot *ret, struct ctl_error *err);

struct dlrec_progress {
	uint64_t snapshots;	/* written so far */
	uint64_t pages;		/* dirty pages in them */
	uint64_t last_pages;
	uint64_t guest_size;
	uint64_t elapsed_ms;
	uint64_t duration_ms;
};

struct dlrec_opts {
	const char *name;		/* the port */
	uint64_t duration_ms;		/* > 0 */
	uint64_t interval_ms;		/* > 0 */
	/* Set (by a signal handler) to stop early; checked between snapshots. */
	const volatile sig_atomic_t *stop;
	void (*progress)(const struct dlrec_progress *p, void *userdata);
	void *userdata;
};

/* Where a failure happened: the exit status depends on it. */
enum dlrec_stage {
	DLREC_OK = 0,
	DLREC_AGENT,		/* a request failed: ctl_client_status() of the error */
	DLREC_OUTPUT,		/* writing the trace */
	DLREC_INTERRUPTED,	/* *stop was set: the trace is complete up to then */
};

struct dlrec_summary {
	enum dlrec_stage stage;
	struct dlrec_progress progress;
	int stop_rc;			/* of the final dirtylog-stop: 0 or negative errno */
	struct ctl_error stop_err;
};

/*
 * Baseline snapshot, then one per interval until duration_ms has passed
 * (CLOCK_MONOTONIC deadlines), each written to out_fd as a trace snapshot
 * with the agent's timestamp; then dirtylog-stop (whenever recording was
 * started, whatever happened after).  The trace header is written after the
 * baseline (it needs the guest size), so a failure before leaves out_fd
 * untouched.  Returns 0, -EINTR when stopped, or the error (err says what,
 * summary->stage where).
 */
int dlrec_run(struct ctl_client *c, const struct dlrec_opts *o, int out_fd,
	      struct dlrec_summary *summary, struct ctl_error *err);

#endif
