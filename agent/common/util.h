// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The few helpers every part of the agent would otherwise write again: an
 * array's length, the one monotonic clock and the one way to write an error.
 * Header-only, so that nothing links for them.
 *
 * protocol/ and dirtylog/ may include nothing of ours, so they keep their
 * own (sio_now_ms(), dirtylog_now_ns(), MSG_ROWS()); mono_ms() counts the
 * same milliseconds as sio_now_ms(), so a deadline taken here may be handed
 * to protocol/sock_io.h.
 */
#ifndef VDPA_AGENT_UTIL_H
#define VDPA_AGENT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in nanoseconds; deadlines are never wall-clock time. */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t mono_ms(void)
{
	return (int64_t)(mono_ns() / 1000000u);
}

/*
 * The error carrier: a human reason, printf-formatted into the caller's
 * err[errlen] (nothing written when err is NULL or errlen 0), and r
 * returned, so that a failure reads `return errf(err, errlen, -EINVAL,
 * "...", ...)`.  Modules whose reason lives in a struct wrap it in a
 * one-line macro naming the buffer.
 */
static inline int errf(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

#endif
