/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace file writer and reader (format in trace.h).
 *
 * Trust boundary: everything the reader gets from the file.  Lengths are
 * checked against bounds derived from the checksummed file header before
 * any is used, the compressed payload is streamed through a fixed chunk so
 * a lying comp_len costs nothing, and the output buffer only grows as
 * inflate actually produces bytes.
 */
#include "dirtylog/trace.h"
#include "dirtylog/dirtylog.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (64u * 1024)
#define FILE_CRC_LEN offsetof(struct dirtylog_trace_file_header, crc)
#define SNAP_CRC_LEN offsetof(struct dirtylog_trace_snap_header, crc)

static uint32_t crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32_z(0, p, n);
}

/* ---- I/O over an fd or a FILE ------------------------------------------ */

static int write_all(int fd, FILE *f, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	if (f) {
		if (fwrite(p, 1, n, f) != n)
			return errno ? -errno : -EIO;
		return 0;
	}
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Bytes read; fewer than n only at end of file; or -errno. */
static ssize_t read_full(int fd, FILE *f, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;

	if (f) {
		got = fread(p, 1, n, f);
		if (got < n && ferror(f))
			return -EIO;
		return (ssize_t)got;
	}
	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* ---- writer ---------------------------------------------------------- */

static int writer_init(struct dirtylog_trace_writer *w, int fd, FILE *f,
		       unsigned page_shift, uint64_t guest_size, uint32_t flags)
{
	struct dirtylog_trace_file_header h;
	size_t log_size;
	int r;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (flags & ~DIRTYLOG_TRACE_F_KNOWN)
		return -EINVAL;
	r = dirtylog_size_for(guest_size, page_shift, &log_size);
	if (r < 0)
		return r;
	if (log_size > DIRTYLOG_TRACE_MAX_LOG)
		return -EMSGSIZE;

	memcpy(h.magic, DIRTYLOG_TRACE_MAGIC, sizeof(h.magic));
	h.version = htole32(DIRTYLOG_TRACE_VERSION);
	h.page_shift = htole32(page_shift);
	h.guest_size = htole64(guest_size);
	h.flags = htole32(flags);
	h.crc = htole32(crc_of(&h, FILE_CRC_LEN));
	r = write_all(fd, f, &h, sizeof(h));
	if (r < 0)
		return r;
	w->fd = fd;
	w->file = f;
	w->log_size = log_size;
	return 0;
}

int dirtylog_trace_writer_init(struct dirtylog_trace_writer *w, int fd,
			       unsigned page_shift, uint64_t guest_size,
			       uint32_t flags)
{
	if (fd < 0) {
		memset(w, 0, sizeof(*w));
		w->fd = -1;
		return -EBADF;
	}
	return writer_init(w, fd, NULL, page_shift, guest_size, flags);
}

int dirtylog_trace_writer_init_file(struct dirtylog_trace_writer *w, FILE *f,
				    unsigned page_shift, uint64_t guest_size,
				    uint32_t flags)
{
	if (!f) {
		memset(w, 0, sizeof(*w));
		w->fd = -1;
		return -EBADF;
	}
	return writer_init(w, -1, f, page_shift, guest_size, flags);
}

int dirtylog_trace_write(struct dirtylog_trace_writer *w, uint64_t timestamp_ns,
			 const void *bitmap, size_t len)
{
	struct dirtylog_trace_snap_header h;
	uLongf comp_len;
	int r;

	if (w->fd < 0 && !w->file)
		return -EBADF;
	if (len != w->log_size || !bitmap)
		return -EINVAL;
	if (!w->comp) {
		uLong bound = compressBound((uLong)len);

		w->comp = malloc(bound);
		if (!w->comp)
			return -ENOMEM;
		w->comp_cap = bound;
	}
	comp_len = (uLongf)w->comp_cap;
	/* Fastest level: logs are mostly runs of zeros or ones, and a trace
	 * is recorded while the guest is migrating. */
	if (compress2(w->comp, &comp_len, bitmap, (uLong)len, Z_BEST_SPEED) != Z_OK)
		return -ENOMEM;

	memcpy(h.magic, DIRTYLOG_TRACE_SNAP_MAGIC, sizeof(h.magic));
	h.raw_crc = htole32(crc_of(bitmap, len));
	h.timestamp_ns = htole64(timestamp_ns);
	h.raw_len = htole64(len);
	h.comp_len = htole64(comp_len);
	h.comp_crc = htole32(crc_of(w->comp, comp_len));
	h.crc = htole32(crc_of(&h, SNAP_CRC_LEN));
	r = write_all(w->fd, w->file, &h, sizeof(h));
	if (r < 0)
		return r;
	r = write_all(w->fd, w->file, w->comp, comp_len);
	if (r < 0)
		return r;
	w->count++;
	return 0;
}

void dirtylog_trace_writer_release(struct dirtylog_trace_writer *w)
{
	if (!w)
		return;
	free(w->comp);
	w->comp = NULL;
	w->comp_cap = 0;
}

/* ---- reader ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(struct dirtylog_trace_reader *r, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->error = error;
	return error;
}

static int io_fail(struct dirtylog_trace_reader *r, ssize_t e, const char *what)
{
	char buf[64];
	const char *s = strerror_r((int)-e, buf, sizeof(buf));

	return fail(r, (int)e, "%s: read error: %s", what, s);
}

static int reader_init(struct dirtylog_trace_reader *r, int fd, FILE *f)
{
	struct dirtylog_trace_file_header h;
	uint32_t crc, shift, flags;
	uint64_t guest;
	size_t log_size;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->file = f;
	if (fd < 0 && !f)
		return fail(r, -EBADF, "no file");

	n = read_full(fd, f, &h, sizeof(h));
	if (n < 0)
		return io_fail(r, n, "header");
	if ((size_t)n < sizeof(h))
		return fail(r, -ENODATA, "header: truncated after %zd of %zu bytes",
			    n, sizeof(h));
	if (memcmp(h.magic, DIRTYLOG_TRACE_MAGIC, sizeof(h.magic)) != 0)
		return fail(r, -EBADMSG, "header: bad magic, not a dirty-log trace");
	/* Version before checksum: another version may lay out the header
	 * differently, and "unsupported version" is the useful message. */
	if (le32toh(h.version) != DIRTYLOG_TRACE_VERSION)
		return fail(r, -EPROTONOSUPPORT, "header: unsupported version %u",
			    le32toh(h.version));
	crc = crc_of(&h, FILE_CRC_LEN);
	if (le32toh(h.crc) != crc)
		return fail(r, -EBADMSG,
			    "header: checksum mismatch (stored %08x, computed %08x)",
			    le32toh(h.crc), crc);
	shift = le32toh(h.page_shift);
	flags = le32toh(h.flags);
	guest = le64toh(h.guest_size);
	if (shift < DIRTYLOG_MIN_PAGE_SHIFT || shift > DIRTYLOG_MAX_PAGE_SHIFT)
		return fail(r, -EBADMSG, "header: page shift %u outside %u..%u",
			    shift, DIRTYLOG_MIN_PAGE_SHIFT, DIRTYLOG_MAX_PAGE_SHIFT);
	if (flags & ~DIRTYLOG_TRACE_F_KNOWN)
		return fail(r, -EPROTONOSUPPORT, "header: unknown flags 0x%x",
			    flags & ~DIRTYLOG_TRACE_F_KNOWN);
	if (guest == 0)
		return fail(r, -EBADMSG, "header: guest size 0");
	if (dirtylog_size_for(guest, shift, &log_size) < 0 ||
	    log_size > DIRTYLOG_TRACE_MAX_LOG)
		return fail(r, -EMSGSIZE,
			    "header: guest size %llu needs a log over the %llu-byte limit",
			    (unsigned long long)guest,
			    (unsigned long long)DIRTYLOG_TRACE_MAX_LOG);

	r->chunk = malloc(CHUNK);
	if (!r->chunk)
		return fail(r, -ENOMEM, "header: out of memory");
	r->version = DIRTYLOG_TRACE_VERSION;
	r->page_shift = shift;
	r->guest_size = guest;
	r->flags = flags;
	r->log_size = log_size;
	return 0;
}

int dirtylog_trace_reader_init(struct dirtylog_trace_reader *r, int fd)
{
	return reader_init(r, fd, NULL);
}

int dirtylog_trace_reader_init_file(struct dirtylog_trace_reader *r, FILE *f)
{
	return reader_init(r, -1, f);
}

/* Grows the output buffer toward log_size as inflate fills it. */
static int grow(struct dirtylog_trace_reader *r, z_stream *z)
{
	size_t used = r->raw_cap - z->avail_out;  /* caller keeps avail_out in sync */
	size_t cap = r->raw_cap ? r->raw_cap : CHUNK;
	uint8_t *p;

	if (r->raw_cap)
		cap = r->raw_cap > SIZE_MAX / 2 ? SIZE_MAX : r->raw_cap * 2;
	if (cap > r->log_size)
		cap = (size_t)r->log_size;
	p = realloc(r->raw, cap);
	if (!p)
		return -ENOMEM;
	r->raw = p;
	r->raw_cap = cap;
	z->next_out = p + used;
	z->avail_out = (uInt)(cap - used);
	return 0;
}

/* Inflates comp_len bytes from the file into exactly log_size bytes. */
static int inflate_payload(struct dirtylog_trace_reader *r, uint64_t idx,
			   uint64_t comp_len, uint32_t comp_crc)
{
	uLong crc = crc32(0, NULL, 0);
	z_stream z;
	uint64_t left = comp_len;
	int zr, ret = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return fail(r, -ENOMEM, "snapshot %llu: inflate init failed",
			    (unsigned long long)idx);
	/* Reuse the buffer from earlier snapshots; log_size is the same. */
	z.next_out = r->raw;
	z.avail_out = (uInt)r->raw_cap;

	for (;;) {
		if (z.avail_in == 0 && left > 0) {
			size_t want = left < CHUNK ? (size_t)left : CHUNK;
			ssize_t n = read_full(r->fd, r->file, r->chunk, want);

			if (n < 0) {
				ret = io_fail(r, n, "snapshot payload");
				goto out;
			}
			if ((size_t)n < want) {
				ret = fail(r, -ENODATA,
					   "snapshot %llu: truncated after %llu of %llu compressed bytes",
					   (unsigned long long)idx,
					   (unsigned long long)(comp_len - left + (uint64_t)n),
					   (unsigned long long)comp_len);
				goto out;
			}
			left -= (uint64_t)n;
			crc = crc32_z(crc, r->chunk, (size_t)n);
			z.next_in = r->chunk;
			z.avail_in = (uInt)n;
		}
		if (z.avail_out == 0 && r->raw_cap < r->log_size &&
		    grow(r, &z) < 0) {
			ret = fail(r, -ENOMEM, "snapshot %llu: out of memory",
				   (unsigned long long)idx);
			goto out;
		}
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR) {
			/* No progress possible: out of room with the buffer at
			 * its bound already (we grow it otherwise), or out of
			 * input. */
			if (z.avail_out == 0) {
				ret = fail(r, -EBADMSG,
					   "snapshot %llu: inflates to more than %llu bytes",
					   (unsigned long long)idx,
					   (unsigned long long)r->log_size);
				goto out;
			}
			if (z.avail_in == 0 && left == 0) {
				ret = fail(r, -EBADMSG,
					   "snapshot %llu: compressed data ends before its stream does",
					   (unsigned long long)idx);
				goto out;
			}
			continue;
		}
		ret = fail(r, zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG,
			   "snapshot %llu: corrupt compressed data (zlib: %s)",
			   (unsigned long long)idx, z.msg ? z.msg : "error");
		goto out;
	}
	if (left != 0 || z.avail_in != 0) {
		ret = fail(r, -EBADMSG,
			   "snapshot %llu: compressed stream ends %llu bytes early",
			   (unsigned long long)idx,
			   (unsigned long long)(left + z.avail_in));
		goto out;
	}
	if ((uint32_t)crc != comp_crc) {
		ret = fail(r, -EBADMSG,
			   "snapshot %llu: compressed payload checksum mismatch (stored %08x, computed %08x)",
			   (unsigned long long)idx, comp_crc, (uint32_t)crc);
		goto out;
	}
	if (z.total_out != r->log_size) {
		ret = fail(r, -EBADMSG, "snapshot %llu: inflates to %llu of %llu bytes",
			   (unsigned long long)idx,
			   (unsigned long long)z.total_out,
			   (unsigned long long)r->log_size);
		goto out;
	}
out:
	inflateEnd(&z);
	return ret;
}

int dirtylog_trace_reader_next(struct dirtylog_trace_reader *r,
			       struct dirtylog_trace_snapshot *ret)
{
	struct dirtylog_trace_snap_header h;
	unsigned long long idx = (unsigned long long)r->count;
	uint64_t raw_len, comp_len, bound;
	uint32_t crc;
	ssize_t n;
	int e;

	if (r->error)
		return r->error;
	if (!r->chunk)
		return fail(r, -EINVAL, "reader not initialised");

	n = read_full(r->fd, r->file, &h, sizeof(h));
	if (n < 0)
		return io_fail(r, n, "snapshot header");
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof(h))
		return fail(r, -ENODATA,
			    "snapshot %llu: truncated after %zd of %zu header bytes",
			    idx, n, sizeof(h));
	if (memcmp(h.magic, DIRTYLOG_TRACE_SNAP_MAGIC, sizeof(h.magic)) != 0)
		return fail(r, -EBADMSG, "snapshot %llu: bad magic", idx);
	crc = crc_of(&h, SNAP_CRC_LEN);
	if (le32toh(h.crc) != crc)
		return fail(r, -EBADMSG,
			    "snapshot %llu: header checksum mismatch (stored %08x, computed %08x)",
			    idx, le32toh(h.crc), crc);
	raw_len = le64toh(h.raw_len);
	comp_len = le64toh(h.comp_len);
	bound = compressBound((uLong)r->log_size);
	if (raw_len != r->log_size)
		return fail(r, -EMSGSIZE,
			    "snapshot %llu: raw length %llu, but the guest's log is %llu bytes",
			    idx, (unsigned long long)raw_len,
			    (unsigned long long)r->log_size);
	if (comp_len == 0 || comp_len > bound)
		return fail(r, -EMSGSIZE,
			    "snapshot %llu: compressed length %llu outside 1..%llu",
			    idx, (unsigned long long)comp_len,
			    (unsigned long long)bound);
	e = inflate_payload(r, idx, comp_len, le32toh(h.comp_crc));
	if (e < 0)
		return e;
	crc = crc_of(r->raw, (size_t)r->log_size);
	if (le32toh(h.raw_crc) != crc)
		return fail(r, -EBADMSG,
			    "snapshot %llu: bitmap checksum mismatch (stored %08x, computed %08x)",
			    idx, le32toh(h.raw_crc), crc);

	ret->index = r->count;
	ret->timestamp_ns = le64toh(h.timestamp_ns);
	ret->bitmap = r->raw;
	ret->len = (size_t)r->log_size;
	r->count++;
	return 1;
}

void dirtylog_trace_reader_release(struct dirtylog_trace_reader *r)
{
	if (!r)
		return;
	free(r->raw);
	free(r->chunk);
	r->raw = NULL;
	r->chunk = NULL;
	r->raw_cap = 0;
}
