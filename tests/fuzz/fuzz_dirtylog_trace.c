/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the dirty-log trace reader over arbitrary bytes, read
 * through a memfd (the fd path) and through fmemopen (the FILE path).  Both
 * must agree on every result and message, and every failure must come
 * with a message.  A second pass reads a copy whose header and record
 * checksums are recomputed, so mutations get past the crc checks into the
 * length bounds and inflate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "dirtylog/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SNAPSHOTS 64

struct outcome {
	int rc;
	uint64_t count;
	uint32_t crcs;  /* a cheap digest of what was delivered */
	char err[128];
};

static void run(struct dirtylog_trace_reader *r, int init_rc, struct outcome *o)
{
	struct dirtylog_trace_snapshot s;
	int rc = init_rc;

	memset(o, 0, sizeof(*o));
	for (int i = 0; rc == 0 && i < MAX_SNAPSHOTS; i++) {
		rc = dirtylog_trace_reader_next(r, &s);
		if (rc == 1) {
			/* Touch every byte: a short buffer shows up here. */
			for (size_t k = 0; k < s.len; k++)
				o->crcs = o->crcs * 31 + s.bitmap[k];
			if (s.len != r->log_size || s.index != o->count)
				abort();
			o->count++;
			rc = 0;
		}
	}
	if (rc < 0 && (r->err[0] == '\0' || r->error != rc))
		abort();
	o->rc = rc;
	memcpy(o->err, r->err, sizeof(o->err));
	dirtylog_trace_reader_release(r);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);  /* little endian hosts only, like the library */
}

/* Recomputes the file header crc and, record by record, the payload and
 * header crcs (the bitmap crc would need inflating; left as is). */
static void repair(uint8_t *buf, size_t size)
{
	size_t off = sizeof(struct dirtylog_trace_file_header);
	const size_t sh = sizeof(struct dirtylog_trace_snap_header);

	if (size < off)
		return;
	put32(buf + off - 4, (uint32_t)crc32(0, buf, (uInt)(off - 4)));
	while (size - off >= sh) {
		uint8_t *rec = buf + off;
		uint64_t clen;
		size_t avail = size - off - sh, n;

		memcpy(&clen, rec + 24, 8);
		n = clen < avail ? (size_t)clen : avail;
		put32(rec + 32, (uint32_t)crc32(0, rec + sh, (uInt)n));
		put32(rec + 36, (uint32_t)crc32(0, rec, (uInt)(sh - 4)));
		if (clen > avail)
			break;
		off += sh + (size_t)clen;
	}
}

static void read_fd(const uint8_t *data, size_t size, struct outcome *o)
{
	struct dirtylog_trace_reader r;
	int fd;

	fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	run(&r, dirtylog_trace_reader_init(&r, fd), o);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dirtylog_trace_reader r;
	struct outcome a, b;
	uint8_t *copy;
	FILE *f;

	read_fd(data, size, &a);
	if (size == 0)
		return 0;  /* fmemopen wants a non-empty buffer */

	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	repair(copy, size);
	read_fd(copy, size, &b);
	free(copy);

	f = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!f)
		abort();
	run(&r, dirtylog_trace_reader_init_file(&r, f), &b);
	fclose(f);

	if (a.rc != b.rc || a.count != b.count || a.crcs != b.crcs ||
	    strcmp(a.err, b.err) != 0)
		abort();
	return 0;
}
