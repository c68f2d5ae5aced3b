// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The recording loop of "vdpa-migrate dirtylog record" and the decoder of
 * dirtylog-snapshot replies (docs/control-protocol.md).  See dlrecord.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <zlib.h>

#include "agent/cli/ctl_client.h"
#include "agent/cli/dlrecord.h"
#include "agent/common/util.h"
#include "dirtylog/dirtylog.h"
#include "dirtylog/trace.h"
#include "protocol/base64.h"

/* A snapshot that does not hold together: -EBADMSG, with the reason and no field. */
#define bad(err, ...) \
	(errf((err)->message, sizeof((err)->message), 0, __VA_ARGS__), (err)->field[0] = '\0', \
	 -EBADMSG)

static int get_u64(struct json_object *o, const char *key, uint64_t *ret, struct ctl_error *err)
{
	struct json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return bad(err, "dirtylog-snapshot: \"%s\" is missing or not an integer", key);
	/* json-c keeps integers above INT64_MAX as uint64. */
	if (json_object_get_int64(v) == INT64_MAX) {
		*ret = json_object_get_uint64(v);
		return 0;
	}
	i = json_object_get_int64(v);
	if (i < 0)
		return bad(err, "dirtylog-snapshot: \"%s\" is negative", key);
	*ret = (uint64_t)i;
	return 0;
}

static uint64_t popcount(const uint8_t *p, size_t len)
{
	uint64_t n = 0;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}

int dlrec_decode(struct json_object *reply, uint64_t want_guest_size,
		 struct dlrec_snapshot *ret, struct ctl_error *err)
{
	uint64_t page_size, guest_size, ts, pages, bits;
	struct json_object *v;
	uint8_t *z = NULL, *raw = NULL;
	const char *s;
	size_t slen, zlen, log_size;
	uLongf rawlen;
	uLong srclen;
	int r;

	if ((r = get_u64(reply, "page_size", &page_size, err)) < 0 ||
	    (r = get_u64(reply, "guest_size", &guest_size, err)) < 0 ||
	    (r = get_u64(reply, "timestamp_ns", &ts, err)) < 0 ||
	    (r = get_u64(reply, "pages", &pages, err)) < 0)
		return r;
	if (page_size != 1u << DIRTYLOG_QEMU_PAGE_SHIFT)
		return bad(err, "dirtylog-snapshot: page_size %" PRIu64 ", expected 4096", page_size);
	if (dirtylog_size_for(guest_size, DIRTYLOG_QEMU_PAGE_SHIFT, &log_size) < 0 ||
	    log_size > DIRTYLOG_TRACE_MAX_LOG)
		return bad(err, "dirtylog-snapshot: guest_size %" PRIu64 " is out of range",
			   guest_size);
	if (want_guest_size && guest_size != want_guest_size)
		return bad(err, "dirtylog-snapshot: guest_size changed from %" PRIu64 " to %" PRIu64,
			   want_guest_size, guest_size);
	if (!json_object_object_get_ex(reply, "bitmap_z64", &v) ||
	    !json_object_is_type(v, json_type_string))
		return bad(err, "dirtylog-snapshot: \"bitmap_z64\" is missing or not a string");
	s = json_object_get_string(v);
	slen = (size_t)json_object_get_string_len(v);

	z = malloc(slen / 4 * 3 + 1);
	raw = malloc(log_size);
	if (!z || !raw) {
		r = -ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		goto fail;
	}
	if (b64_decode(s, slen, z, slen / 4 * 3 + 1, &zlen) < 0) {
		r = bad(err, "dirtylog-snapshot: \"bitmap_z64\" is not base64");
		goto fail;
	}
	rawlen = log_size;
	srclen = zlen;
	r = uncompress2(raw, &rawlen, z, &srclen);
	if (r == Z_BUF_ERROR && rawlen == log_size) {
		r = bad(err, "dirtylog-snapshot: the bitmap inflates to more than %zu bytes "
			"(guest_size %" PRIu64 ")", log_size, guest_size);
		goto fail;
	}
	if (r != Z_OK) {
		r = bad(err, "dirtylog-snapshot: the bitmap is not zlib data (%s)", zError(r));
		goto fail;
	}
	if (rawlen != log_size) {
		r = bad(err, "dirtylog-snapshot: the bitmap is %lu bytes, guest_size %" PRIu64
			" needs %zu", (unsigned long)rawlen, guest_size, log_size);
		goto fail;
	}
	if (srclen != zlen) {
		r = bad(err, "dirtylog-snapshot: %zu bytes after the zlib data", zlen - (size_t)srclen);
		goto fail;
	}
	bits = popcount(raw, log_size);
	if (bits != pages) {
		r = bad(err, "dirtylog-snapshot: \"pages\" is %" PRIu64 " but the bitmap holds %"
			PRIu64, pages, bits);
		goto fail;
	}
	free(z);
	ret->guest_size = guest_size;
	ret->timestamp_ns = ts;
	ret->pages = pages;
	ret->bitmap = raw;
	ret->len = log_size;
	return 0;
fail:
	free(z);
	free(raw);
	return r;
}

/* Sleeps until deadline (ms, CLOCK_MONOTONIC) or a signal. */
static void sleep_until(uint64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000) * 1000000,
	};

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool stopped(const struct dlrec_opts *o)
{
	return o->stop && *o->stop;
}

static int snapshot(struct ctl_client *c, const char *name, uint64_t want_guest_size,
		    struct dlrec_snapshot *ret, struct ctl_error *err)
{
	struct ctl_request req = { .cmd = CTL_CMD_DIRTYLOG_SNAPSHOT };
	struct json_object *reply = NULL;
	int r;

	snprintf(req.name, sizeof(req.name), "%s", name);
	r = ctl_client_call(c, &req, &reply, err);
	if (r < 0)
		return r;
	r = dlrec_decode(reply, want_guest_size, ret, err);
	json_object_put(reply);
	return r;
}

int dlrec_run(struct ctl_client *c, const struct dlrec_opts *o, int out_fd,
	      struct dlrec_summary *summary, struct ctl_error *err)
{
	struct dirtylog_trace_writer w;
	struct dlrec_progress *p = &summary->progress;
	struct ctl_request stop = { .cmd = CTL_CMD_DIRTYLOG_STOP };
	struct dlrec_snapshot snap = { 0 };
	struct json_object *reply = NULL;
	uint64_t start, k = 1;
	bool writer = false;
	int r;

	memset(summary, 0, sizeof(*summary));
	memset(&w, 0, sizeof(w));
	p->duration_ms = o->duration_ms;

	/* The baseline: starts recording; what it holds predates us. */
	r = snapshot(c, o->name, 0, &snap, err);
	if (r < 0) {
		summary->stage = DLREC_AGENT;
		/* A reply that was not understood may still have started recording. */
		if (r != -EBADMSG)
			return r;
		goto stop;
	}
	start = (uint64_t)mono_ms();
	p->guest_size = snap.guest_size;
	free(snap.bitmap);
	snap.bitmap = NULL;

	r = dirtylog_trace_writer_init(&w, out_fd, DIRTYLOG_QEMU_PAGE_SHIFT, p->guest_size, 0);
	if (r < 0) {
		summary->stage = DLREC_OUTPUT;
		snprintf(err->message, sizeof(err->message), "writing the trace: %s", strerror(-r));
		goto stop;
	}
	writer = true;

	for (;;) {
		uint64_t deadline = start + k * o->interval_ms, now;

		if (k * o->interval_ms > o->duration_ms)
			break;
		/* A signal ends the sleep early: look at *stop again. */
		while (!stopped(o) && (uint64_t)mono_ms() < deadline)
			sleep_until(deadline);
		if (stopped(o)) {
			summary->stage = DLREC_INTERRUPTED;
			r = -EINTR;
			snprintf(err->message, sizeof(err->message), "interrupted");
			goto stop;
		}
		r = snapshot(c, o->name, p->guest_size, &snap, err);
		if (r < 0) {
			summary->stage = DLREC_AGENT;
			goto stop;
		}
		r = dirtylog_trace_write(&w, snap.timestamp_ns, snap.bitmap, snap.len);
		free(snap.bitmap);
		snap.bitmap = NULL;
		if (r < 0) {
			summary->stage = DLREC_OUTPUT;
			snprintf(err->message, sizeof(err->message), "writing the trace: %s",
				 strerror(-r));
			goto stop;
		}
		p->snapshots++;
		p->pages += snap.pages;
		p->last_pages = snap.pages;
		now = (uint64_t)mono_ms();
		p->elapsed_ms = now - start;
		if (o->progress)
			o->progress(p, o->userdata);
		/* Fallen behind (a slow reply): skip the deadlines already past. */
		k++;
		if (now >= start + k * o->interval_ms)
			k = (now - start) / o->interval_ms + 1;
	}
	r = 0;
stop:
	if (writer)
		dirtylog_trace_writer_release(&w);
	snprintf(stop.name, sizeof(stop.name), "%s", o->name);
	summary->stop_rc = ctl_client_call(c, &stop, &reply, &summary->stop_err);
	json_object_put(reply);
	return r;
}
