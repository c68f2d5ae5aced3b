/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of dirty-log trace files: a round trip through an fd and a
 * FILE, then every kind of damage (flipped bytes in the header, a snapshot
 * header and a compressed payload; truncation at every length; wrong
 * magic, version, flags; absurd lengths) refused with its error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "dirtylog/dirtylog.h"
#include "dirtylog/trace.h"

#define GUEST (64ULL << 20)     /* 64 MiB at 4 KiB: a 2 KiB log */
#define LOGSZ 2048
#define HDR sizeof(struct dirtylog_trace_file_header)
#define SHDR sizeof(struct dirtylog_trace_snap_header)

static uint8_t snaps[3][LOGSZ];

static void fill_snaps(void)
{
	uint64_t x = 0x243f6a8885a308d3ULL;

	memset(snaps[0], 0, LOGSZ);
	memset(snaps[1], 0xff, LOGSZ);
	for (size_t i = 0; i < LOGSZ; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		snaps[2][i] = (uint8_t)(x & (x >> 8));  /* sparse-ish */
	}
}

static int memfd_with(const uint8_t *buf, size_t len)
{
	int fd = memfd_create("trace", MFD_CLOEXEC);

	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A valid 3-snapshot trace, in memory; *ret_off gets each record's offset. */
static uint8_t *make_trace(size_t *ret_len, size_t ret_off[4])
{
	struct dirtylog_trace_writer w;
	int fd = memfd_create("trace", MFD_CLOEXEC);
	uint8_t *buf;
	off_t len;

	assert_true(fd >= 0);
	fill_snaps();
	assert_int_equal(dirtylog_trace_writer_init(&w, fd, 12, GUEST, 0), 0);
	for (int i = 0; i < 3; i++) {
		ret_off[i] = (size_t)lseek(fd, 0, SEEK_CUR);
		assert_int_equal(dirtylog_trace_write(&w, 1000u * (uint64_t)(i + 1),
						      snaps[i], LOGSZ), 0);
	}
	len = lseek(fd, 0, SEEK_CUR);
	ret_off[3] = (size_t)len;
	dirtylog_trace_writer_release(&w);
	buf = malloc((size_t)len);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	close(fd);
	*ret_len = (size_t)len;
	return buf;
}

/* Reads a whole buffer as a trace: the first error (or 0) and how many
 * snapshots came out before it; err copied for message checks. */
static int read_all(const uint8_t *buf, size_t len, int *ret_n, char *err)
{
	struct dirtylog_trace_reader r;
	struct dirtylog_trace_snapshot s;
	int fd = memfd_with(buf, len), e, n = 0;

	e = dirtylog_trace_reader_init(&r, fd);
	while (e == 0) {
		e = dirtylog_trace_reader_next(&r, &s);
		if (e == 1) {
			n++;
			e = 0;
			continue;
		}
		break;
	}
	if (e < 0) {
		assert_int_equal(r.error, e);
		assert_true(r.err[0] != '\0');
	}
	if (err)
		memcpy(err, r.err, sizeof(r.err));
	dirtylog_trace_reader_release(&r);
	close(fd);
	*ret_n = n;
	return e;
}

static void fix_file_crc(uint8_t *buf)
{
	uint32_t crc = (uint32_t)crc32(0, buf, HDR - 4);

	memcpy(buf + HDR - 4, &crc, 4);
}

static void fix_snap_crc(uint8_t *rec)
{
	uint32_t crc = (uint32_t)crc32(0, rec, SHDR - 4);

	memcpy(rec + SHDR - 4, &crc, 4);
}

/* buf copied to bad with the bits of mask flipped in byte at, checksums
 * left as they were: read back. */
static int read_flipped(uint8_t *bad, const uint8_t *buf, size_t len, size_t at, uint8_t mask,
			int *ret_n, char *err)
{
	memcpy(bad, buf, len);
	bad[at] ^= mask;
	return read_all(bad, len, ret_n, err);
}

/* buf copied to bad with header byte at set to v and the header's
 * checksum fixed, so that only the value is wrong: read back. */
static int read_header_byte(uint8_t *bad, const uint8_t *buf, size_t len, size_t at, uint8_t v,
			    int *ret_n, char *err)
{
	memcpy(bad, buf, len);
	bad[at] = v;
	fix_file_crc(bad);
	return read_all(bad, len, ret_n, err);
}

static void test_round_trip_fd(void **state)
{
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off);
	struct dirtylog_trace_reader r;
	struct dirtylog_trace_snapshot s;
	int fd = memfd_with(buf, len);

	(void)state;
	assert_int_equal(off[0], HDR);
	assert_int_equal(dirtylog_trace_reader_init(&r, fd), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.page_shift, 12);
	assert_int_equal(r.guest_size, GUEST);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.log_size, LOGSZ);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(dirtylog_trace_reader_next(&r, &s), 1);
		assert_int_equal(s.index, i);
		assert_int_equal(s.timestamp_ns, 1000u * (uint64_t)(i + 1));
		assert_int_equal(s.len, LOGSZ);
		assert_memory_equal(s.bitmap, snaps[i], LOGSZ);
	}
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), 0);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), 0);
	assert_int_equal(r.count, 3);
	dirtylog_trace_reader_release(&r);
	dirtylog_trace_reader_release(NULL);
	close(fd);
	free(buf);
}

static void test_round_trip_file(void **state)
{
	struct dirtylog_trace_writer w;
	struct dirtylog_trace_reader r;
	struct dirtylog_trace_snapshot s;
	struct dirtylog *log;
	uint8_t snap[64];
	uint64_t pages;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	/* Record a real log through take(), at 2 MiB pages, IOVA flag. */
	assert_int_equal(dirtylog_new(1ULL << 30, 21, &log), 0);  /* 512 pages */
	assert_int_equal(dirtylog_mark(log, 0, 1), 0);
	assert_int_equal(dirtylog_mark(log, (1ULL << 30) - 1, 1), 0);
	assert_int_equal(dirtylog_take(log, snap, sizeof(snap), &pages), 0);
	assert_int_equal(pages, 2);
	assert_int_equal(dirtylog_trace_writer_init_file(&w, f, 21, 1ULL << 30,
							 DIRTYLOG_TRACE_F_IOVA), 0);
	assert_int_equal(dirtylog_trace_write(&w, 42, snap, sizeof(snap)), 0);
	assert_int_equal(dirtylog_trace_write(&w, 43, snap, sizeof(snap) - 8), -EINVAL);
	dirtylog_trace_writer_release(&w);
	assert_int_equal(fflush(f), 0);
	rewind(f);

	assert_int_equal(dirtylog_trace_reader_init_file(&r, f), 0);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(r.flags, DIRTYLOG_TRACE_F_IOVA);
	assert_int_equal(r.log_size, 64);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), 1);
	assert_int_equal(s.timestamp_ns, 42);
	assert_memory_equal(s.bitmap, snap, 64);
	assert_int_equal(s.bitmap[0], 1);
	assert_int_equal(s.bitmap[63], 0x80);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), 0);
	dirtylog_trace_reader_release(&r);
	fclose(f);
	dirtylog_free(log);
}

static void test_writer_refuses(void **state)
{
	struct dirtylog_trace_writer w;
	int fd = memfd_with(NULL, 0);

	(void)state;
	assert_int_equal(dirtylog_trace_writer_init(&w, -1, 12, GUEST, 0), -EBADF);
	dirtylog_trace_writer_release(&w);
	assert_int_equal(dirtylog_trace_writer_init(&w, fd, 11, GUEST, 0), -EINVAL);
	assert_int_equal(dirtylog_trace_writer_init(&w, fd, 12, 0, 0), -EINVAL);
	assert_int_equal(dirtylog_trace_writer_init(&w, fd, 12, GUEST, 0x80), -EINVAL);
	assert_int_equal(dirtylog_trace_writer_init(&w, fd, 12, 1ULL << 50, 0), -EMSGSIZE);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);  /* nothing written */
	assert_int_equal(dirtylog_trace_write(&w, 1, snaps[0], LOGSZ), -EBADF);
	dirtylog_trace_writer_release(&w);
	close(fd);
}

static void test_header_damage(void **state)
{
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off), *bad = malloc(len);
	char err[128];
	int n;

	(void)state;
	assert_non_null(bad);
	/* Every single flipped byte of the header is refused. */
	for (size_t i = 0; i < HDR; i++) {
		assert_true(read_flipped(bad, buf, len, i, 0x20, &n, err) < 0);
		assert_int_equal(n, 0);
		if (i < 8)
			assert_string_equal(err, "header: bad magic, not a dirty-log trace");
		else if (i >= 12)
			assert_non_null(strstr(err, "checksum mismatch"));
	}

	/* Version 2, with a correct checksum: refused as unsupported. */
	assert_int_equal(read_header_byte(bad, buf, len, 8, 2, &n, err), -EPROTONOSUPPORT);
	assert_string_equal(err, "header: unsupported version 2");

	/* Unknown flags. */
	assert_int_equal(read_header_byte(bad, buf, len, 24, 0x82, &n, err), -EPROTONOSUPPORT);
	assert_string_equal(err, "header: unknown flags 0x82");

	/* Page shift out of range. */
	assert_int_equal(read_header_byte(bad, buf, len, 12, 30, &n, err), -EBADMSG);
	assert_string_equal(err, "header: page shift 30 outside 12..21");

	/* A guest of 2^60 bytes: a log we refuse to even consider. */
	assert_int_equal(read_header_byte(bad, buf, len, 16 + 7, 0x10, &n, err), -EMSGSIZE);
	assert_non_null(strstr(err, "over the 1073741824-byte limit"));

	/* Guest size 0. */
	memcpy(bad, buf, len);
	memset(bad + 16, 0, 8);
	fix_file_crc(bad);
	assert_int_equal(read_all(bad, len, &n, err), -EBADMSG);

	/* Not a trace at all. */
	assert_int_equal(read_all((const uint8_t *)"hello, world, this is not a trace", 33,
				  &n, err), -EBADMSG);
	free(bad);
	free(buf);
}

static void test_truncated(void **state)
{
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off);
	char err[128], want[128];
	int n, e;

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		e = read_all(buf, cut, &n, err);
		if (cut == off[0] || cut == off[1] || cut == off[2]) {
			/* At a record boundary the file is a shorter trace:
			 * nothing in it says more was to come. */
			assert_int_equal(e, 0);
			continue;
		}
		assert_int_equal(e, -ENODATA);
		if (cut < HDR) {
			snprintf(want, sizeof(want),
				 "header: truncated after %zu of 32 bytes", cut);
			assert_string_equal(err, want);
			continue;
		}
		/* Which snapshot, and where in it. */
		int k = cut < off[1] ? 0 : cut < off[2] ? 1 : 2;
		size_t in = cut - off[k];

		assert_int_equal(n, k);
		if (in < SHDR)
			snprintf(want, sizeof(want),
				 "snapshot %d: truncated after %zu of 40 header bytes",
				 k, in);
		else
			snprintf(want, sizeof(want),
				 "snapshot %d: truncated after %zu of %zu compressed bytes",
				 k, in - SHDR, off[k + 1] - off[k] - SHDR);
		assert_string_equal(err, want);
	}
	assert_int_equal(read_all(buf, len, &n, err), 0);
	assert_int_equal(n, 3);
	free(buf);
}

static void test_payload_damage(void **state)
{
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off), *bad = malloc(len);
	char err[128];
	int n;

	(void)state;
	assert_non_null(bad);
	/* Every flipped bit (of three per byte) of every compressed payload
	 * is detected, by zlib or a checksum, including the padding bits zlib
	 * ignores, and the snapshots before it are still delivered. */
	for (int k = 0; k < 3; k++) {
		for (size_t i = off[k] + SHDR; i < off[k + 1]; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				uint8_t mask = (uint8_t)(1u << bit);

				assert_int_equal(read_flipped(bad, buf, len, i, mask, &n, err),
						 -EBADMSG);
				assert_int_equal(n, k);
			}
		}
	}
	/* And every flipped byte of a snapshot header. */
	for (size_t i = off[1]; i < off[1] + SHDR; i++) {
		assert_true(read_flipped(bad, buf, len, i, 0x04, &n, err) < 0);
		assert_int_equal(n, 1);
	}
	/* A payload whose bitmap checksum alone is wrong says so. */
	memcpy(bad, buf, len);
	bad[off[2] + 4] ^= 1;
	fix_snap_crc(bad + off[2]);
	assert_int_equal(read_all(bad, len, &n, err), -EBADMSG);
	assert_non_null(strstr(err, "snapshot 2: bitmap checksum mismatch"));
	free(bad);
	free(buf);
}

static void set_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void set_comp_crc(uint8_t *rec, const uint8_t *comp, size_t n)
{
	uint32_t crc = (uint32_t)crc32(0, comp, (uInt)n);

	memcpy(rec + 32, &crc, 4);
}

/* buf copied to bad with the u64 at field of the snapshot record at rec set
 * to v and the record's checksum fixed: read back. */
static int read_snap_u64(uint8_t *bad, const uint8_t *buf, size_t len, size_t rec, size_t field,
			 uint64_t v, int *ret_n, char *err)
{
	memcpy(bad, buf, len);
	set_u64(bad + rec + field, v);
	fix_snap_crc(bad + rec);
	return read_all(bad, len, ret_n, err);
}

/* buf up to snapshot 1's header, its payload replaced by raw compressed
 * (lengths and checksums to match) in bad: read back. */
static int read_snap1_payload(uint8_t *bad, const uint8_t *buf, const size_t off[4],
			      const uint8_t *raw, size_t rawlen, int *ret_n, char *err)
{
	uint8_t comp[256], *rec = bad + off[1];
	uLongf clen = sizeof(comp);

	assert_int_equal(compress2(comp, &clen, raw, rawlen, 1), Z_OK);
	memcpy(bad, buf, off[1]);
	memcpy(rec, buf + off[1], SHDR);
	set_u64(rec + 24, clen);
	set_comp_crc(rec, comp, clen);
	fix_snap_crc(rec);
	memcpy(rec + SHDR, comp, clen);
	return read_all(bad, off[1] + SHDR + clen, ret_n, err);
}

static void test_absurd_lengths(void **state)
{
	static const uint8_t zeros[4096];
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off), *bad = malloc(len + 64);
	uint8_t *rec;
	char err[128];
	int n;

	(void)state;
	assert_non_null(bad);
	rec = bad + off[1];
	/* A 1 TB compressed payload, checksummed correctly: refused on the
	 * bound, nothing allocated. */
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 24, 1ULL << 40, &n, err), -EMSGSIZE);
	assert_int_equal(n, 1);
	assert_non_null(strstr(err, "snapshot 1: compressed length 1099511627776 outside 1.."));

	/* Compressed length 0. */
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 24, 0, &n, err), -EMSGSIZE);

	/* A raw length other than the guest's log size, big or small. */
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 16, 1ULL << 40, &n, err), -EMSGSIZE);
	assert_string_equal(err, "snapshot 1: raw length 1099511627776, but the guest's log is 2048 bytes");
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 16, LOGSZ - 8, &n, err), -EMSGSIZE);

	/* A compressed length one short: the stream never ends. */
	uint64_t clen = off[2] - off[1] - SHDR;
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 24, clen - 1, &n, err), -EBADMSG);
	assert_int_equal(n, 1);

	/* One too long: the stream ends before its bytes do (the extra byte
	 * borrowed from the next record). */
	assert_int_equal(read_snap_u64(bad, buf, len, off[1], 24, clen + 1, &n, err), -EBADMSG);
	assert_string_equal(err, "snapshot 1: compressed stream ends 1 bytes early");

	/* Payload checksum wrong, payload fine. */
	memcpy(bad, buf, len);
	rec[32] ^= 1;
	fix_snap_crc(rec);
	assert_int_equal(read_all(bad, len, &n, err), -EBADMSG);
	assert_non_null(strstr(err, "snapshot 1: compressed payload checksum mismatch"));

	/* A stream that inflates to more than the log: a valid zlib stream
	 * of 4096 zero bytes in place of a 2048-byte log. */
	assert_int_equal(read_snap1_payload(bad, buf, off, zeros, sizeof(zeros), &n, err),
			 -EBADMSG);
	assert_string_equal(err, "snapshot 1: inflates to more than 2048 bytes");

	/* And one that inflates to less. */
	assert_int_equal(read_snap1_payload(bad, buf, off, zeros, 100, &n, err), -EBADMSG);
	assert_string_equal(err, "snapshot 1: inflates to 100 of 2048 bytes");
	free(bad);
	free(buf);
}

static void test_sticky_error(void **state)
{
	size_t len, off[4];
	uint8_t *buf = make_trace(&len, off);
	struct dirtylog_trace_reader r;
	struct dirtylog_trace_snapshot s;
	int fd;

	(void)state;
	buf[off[1]] = 'X';  /* snapshot 1: bad magic */
	fd = memfd_with(buf, len);
	assert_int_equal(dirtylog_trace_reader_init(&r, fd), 0);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), 1);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), -EBADMSG);
	assert_string_equal(r.err, "snapshot 1: bad magic");
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), -EBADMSG);
	assert_int_equal(r.count, 1);
	dirtylog_trace_reader_release(&r);
	close(fd);

	/* After a failed init, next() reports the same failure. */
	fd = memfd_with(buf, 10);
	assert_int_equal(dirtylog_trace_reader_init(&r, fd), -ENODATA);
	assert_int_equal(dirtylog_trace_reader_next(&r, &s), -ENODATA);
	dirtylog_trace_reader_release(&r);
	close(fd);

	/* A bad fd is a read error with errno's words. */
	assert_int_equal(dirtylog_trace_reader_init(&r, 9999), -EBADF);
	assert_non_null(strstr(r.err, "header: read error"));
	dirtylog_trace_reader_release(&r);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_fd),
		cmocka_unit_test(test_round_trip_file),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_header_damage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_payload_damage),
		cmocka_unit_test(test_absurd_lengths),
		cmocka_unit_test(test_sticky_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
