/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty-log trace files: a recording of successive log snapshots, for
 * replaying a guest's dirtying pattern offline.
 *
 * Layout, little endian:
 *   file header (32 bytes, struct dirtylog_trace_file_header)
 *   snapshot*   (40-byte struct dirtylog_trace_snap_header, then comp_len
 *                bytes of zlib data that inflate to raw_len bytes of log)
 * The file header carries a crc32 of its first 28 bytes; each snapshot
 * header a crc32 of its first 36 bytes, of the compressed payload (zlib
 * ignores some bits, e.g. the padding of the last byte, so checking the
 * inflated data alone would let a damaged file pass) and of the bitmap.
 * raw_len is always the log size of the guest (dirtylog_size_for()).
 *
 * The reader treats the file as untrusted: every length is bounded before
 * use (raw_len must equal the log size, comp_len at most compressBound() of
 * it, the log size itself at most DIRTYLOG_TRACE_MAX_LOG), memory grows
 * only as inflated data actually arrives, and any corruption or truncation
 * is refused with a negative errno and a message in reader.err.
 */
#ifndef VDPA_DIRTYLOG_TRACE_H
#define VDPA_DIRTYLOG_TRACE_H

#include <stdint.h>
#include <stdio.h>

#define DIRTYLOG_TRACE_MAGIC      "VDPADLTR"  /* 8 bytes, no NUL on disk */
#define DIRTYLOG_TRACE_SNAP_MAGIC "SNAP"
#define DIRTYLOG_TRACE_VERSION    1u
#define DIRTYLOG_TRACE_F_IOVA     0x1u  /* addresses are device IOVAs */
#define DIRTYLOG_TRACE_F_KNOWN    DIRTYLOG_TRACE_F_IOVA
/* Largest log a reader accepts: 1 GiB covers a 32 TiB guest at 4 KiB. */
#define DIRTYLOG_TRACE_MAX_LOG    (1ULL << 30)

struct __attribute__((packed)) dirtylog_trace_file_header {
	uint8_t magic[8];
	uint32_t version;
	uint32_t page_shift;
	uint64_t guest_size;
	uint32_t flags;
	uint32_t crc;          /* crc32 of the 28 bytes before it */
};
_Static_assert(sizeof(struct dirtylog_trace_file_header) == 32, "file header");

struct __attribute__((packed)) dirtylog_trace_snap_header {
	uint8_t magic[4];
	uint32_t raw_crc;      /* crc32 of the inflated bitmap */
	uint64_t timestamp_ns;
	uint64_t raw_len;
	uint64_t comp_len;
	uint32_t comp_crc;     /* crc32 of the comp_len compressed bytes */
	uint32_t crc;          /* crc32 of the 36 bytes before it */
};
_Static_assert(sizeof(struct dirtylog_trace_snap_header) == 40, "snap header");

/* Writer: fields are private; init zeroes the struct so release is always
 * safe.  The fd or FILE stays the caller's. */
struct dirtylog_trace_writer {
	int fd;
	FILE *file;
	uint64_t log_size;
	uint8_t *comp;
	size_t comp_cap;
	uint64_t count;        /* snapshots written */
};

/* Writes the file header.  -EINVAL for a bad shift, flags or guest size;
 * -EMSGSIZE if the log would exceed DIRTYLOG_TRACE_MAX_LOG. */
int dirtylog_trace_writer_init(struct dirtylog_trace_writer *w, int fd,
			       unsigned page_shift, uint64_t guest_size,
			       uint32_t flags);
int dirtylog_trace_writer_init_file(struct dirtylog_trace_writer *w, FILE *f,
				    unsigned page_shift, uint64_t guest_size,
				    uint32_t flags);
/* One snapshot; len must equal the log size (-EINVAL). */
int dirtylog_trace_write(struct dirtylog_trace_writer *w, uint64_t timestamp_ns,
			 const void *bitmap, size_t len);
void dirtylog_trace_writer_release(struct dirtylog_trace_writer *w);

/* Reader: the header fields are valid after a successful init; the rest is
 * private except error/err, which hold the first failure (sticky). */
struct dirtylog_trace_reader {
	uint32_t version;
	unsigned page_shift;
	uint64_t guest_size;
	uint32_t flags;
	uint64_t log_size;     /* raw_len of every snapshot */
	uint64_t count;        /* snapshots returned so far */
	int error;             /* 0, or the negative errno returned */
	char err[128];         /* what was wrong, for humans */

	int fd;
	FILE *file;
	uint8_t *raw;
	size_t raw_cap;
	uint8_t *chunk;
};

struct dirtylog_trace_snapshot {
	uint64_t index;        /* 0-based, as in error messages */
	uint64_t timestamp_ns;
	const uint8_t *bitmap; /* log_size bytes, valid until the next call */
	size_t len;
};

/*
 * Reads and checks the file header.  Errors: -ENODATA truncated, -EBADMSG
 * bad magic/checksum/field, -EPROTONOSUPPORT unknown version or flags,
 * -EMSGSIZE log too large, -EIO or the read errno.  r->err says which.
 */
int dirtylog_trace_reader_init(struct dirtylog_trace_reader *r, int fd);
int dirtylog_trace_reader_init_file(struct dirtylog_trace_reader *r, FILE *f);

/*
 * 1 and *ret filled for a snapshot, 0 at a clean end of file (exactly at a
 * snapshot boundary), or a negative errno with r->err: -ENODATA truncated,
 * -EBADMSG corrupt, -EMSGSIZE length out of bounds, -ENOMEM.  After an
 * error every call returns the same error.
 */
int dirtylog_trace_reader_next(struct dirtylog_trace_reader *r,
			       struct dirtylog_trace_snapshot *ret);
void dirtylog_trace_reader_release(struct dirtylog_trace_reader *r);

#endif
