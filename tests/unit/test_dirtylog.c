/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the dirtylog core: geometry, mapping from an fd, marking at
 * every edge, the mark cache, iteration, count, clear, take, statistics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dirtylog/dirtylog.h"
#include "dirtylog/stats.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static struct dirtylog *mklog(uint64_t span, unsigned shift)
{
	struct dirtylog *log = NULL;

	assert_int_equal(dirtylog_new(span, shift, &log), 0);
	assert_non_null(log);
	return log;
}

/* Pages set in the log, as a list, for exact comparisons. */
static int collect(uint64_t page, void *ud)
{
	uint64_t *v = ud;

	v[++v[0]] = page;
	return 0;
}

static void assert_pages(const struct dirtylog *log, const uint64_t *want,
			 size_t n)
{
	uint64_t got[256] = { 0 };

	assert_true(n < 255);
	assert_int_equal(dirtylog_for_each_page(log, collect, got), 0);
	assert_int_equal(got[0], n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i + 1], want[i]);
	assert_int_equal(dirtylog_count(log), n);
}

static void test_size_for(void **state)
{
	size_t b = 0;

	(void)state;
	assert_int_equal(dirtylog_size_for(1, 12, &b), 0);
	assert_int_equal(b, 8);
	assert_int_equal(dirtylog_size_for(256 * KiB, 12, &b), 0);
	assert_int_equal(b, 8);
	assert_int_equal(dirtylog_size_for(256 * KiB + 1, 12, &b), 0);
	assert_int_equal(b, 16);
	assert_int_equal(dirtylog_size_for(1ULL << 40, 12, &b), 0);
	assert_int_equal(b, 32 * MiB);  /* the 1 TiB guest of the benchmark */
	assert_int_equal(dirtylog_size_for(128 * MiB, 21, &b), 0);
	assert_int_equal(b, 8);
	assert_int_equal(dirtylog_size_for(UINT64_MAX, 12, &b), 0);
	assert_int_equal(b, 1ULL << 49);

	b = 77;
	assert_int_equal(dirtylog_size_for(0, 12, &b), -EINVAL);
	assert_int_equal(dirtylog_size_for(4096, 11, &b), -EINVAL);
	assert_int_equal(dirtylog_size_for(4096, 22, &b), -EINVAL);
	assert_int_equal(b, 77);  /* untouched on error */
}

static void test_new_geometry(void **state)
{
	struct dirtylog *log, *keep = (struct dirtylog *)&keep;

	(void)state;
	log = mklog(1 * MiB + 1, 12);
	assert_int_equal(dirtylog_page_shift(log), 12);
	assert_int_equal(dirtylog_size(log), 40);   /* 257 pages -> 5 words */
	assert_int_equal(dirtylog_npages(log), 320);
	assert_int_equal(dirtylog_count(log), 0);
	dirtylog_free(log);

	log = mklog(1 * GiB, 16);
	assert_int_equal(dirtylog_npages(log), 16384);
	dirtylog_free(log);

	assert_int_equal(dirtylog_new(0, 12, &keep), -EINVAL);
	assert_int_equal(dirtylog_new(4096, 13 + 9, &keep), -EINVAL);
	assert_ptr_equal(keep, (struct dirtylog *)&keep);
	dirtylog_free(NULL);
}

static void test_mark_edges(void **state)
{
	struct dirtylog *log = mklog(1 * MiB, 12);  /* 256 pages, 4 words */
	uint64_t last = dirtylog_npages(log) - 1;
	uint8_t *bytes = (uint8_t *)dirtylog_words(log);

	(void)state;
	/* First page, and the byte layout QEMU reads. */
	assert_int_equal(dirtylog_mark(log, 0, 1), 0);
	assert_int_equal(bytes[0], 0x01);
	/* Page 10 is bit 2 of byte 1. */
	assert_int_equal(dirtylog_mark(log, 10 * 4096 + 4095, 1), 0);
	assert_int_equal(bytes[1], 0x04);
	/* Last page, by its last byte. */
	assert_int_equal(dirtylog_mark(log, last * 4096 + 4095, 1), 0);
	assert_int_equal(bytes[dirtylog_size(log) - 1], 0x80);
	{
		uint64_t want[] = { 0, 10, last };
		assert_pages(log, want, 3);
	}
	dirtylog_clear(log);

	/* A range across a word boundary: 2 bytes straddling pages 63|64. */
	assert_int_equal(dirtylog_mark(log, 64 * 4096 - 1, 2), 0);
	{
		uint64_t want[] = { 63, 64 };
		assert_pages(log, want, 2);
	}
	dirtylog_clear(log);

	/* A range over several whole words and two partial ones. */
	assert_int_equal(dirtylog_mark(log, 60 * 4096 + 100, 140 * 4096), 0);
	assert_int_equal(dirtylog_count(log), 141);  /* pages 60..200 */
	assert_true(dirtylog_test_page(log, 60));
	assert_true(dirtylog_test_page(log, 200));
	assert_false(dirtylog_test_page(log, 59));
	assert_false(dirtylog_test_page(log, 201));
	assert_false(dirtylog_test_page(log, last + 1));
	dirtylog_clear(log);

	/* The whole log. */
	assert_int_equal(dirtylog_mark(log, 0, 1 * MiB), 0);
	assert_int_equal(dirtylog_count(log), 256);
	dirtylog_clear(log);

	/* Zero length is a success that marks nothing, wherever it points. */
	assert_int_equal(dirtylog_mark(log, 0, 0), 0);
	assert_int_equal(dirtylog_mark(log, UINT64_MAX, 0), 0);
	assert_int_equal(dirtylog_mark(log, 10 * GiB, 0), 0);
	assert_int_equal(dirtylog_count(log), 0);

	/* Beyond the end: an error, and nothing marked, not even the part
	 * that was inside. */
	assert_int_equal(dirtylog_mark(log, 1 * MiB, 1), -ERANGE);
	assert_int_equal(dirtylog_mark(log, 1 * MiB - 4096, 4097), -ERANGE);
	assert_int_equal(dirtylog_mark(log, 0, 1 * MiB + 1), -ERANGE);
	assert_int_equal(dirtylog_mark(log, 0, UINT64_MAX), -ERANGE);
	assert_int_equal(dirtylog_mark(log, UINT64_MAX, 1), -ERANGE);
	/* addr + len wraps around to a small number. */
	assert_int_equal(dirtylog_mark(log, UINT64_MAX - 10, 20), -ERANGE);
	assert_int_equal(dirtylog_count(log), 0);
	/* Exactly up to the end is fine. */
	assert_int_equal(dirtylog_mark(log, 1 * MiB - 1, 1), 0);
	assert_int_equal(dirtylog_count(log), 1);
	dirtylog_free(log);
}

static void test_mark_granularity(void **state)
{
	struct dirtylog *log;

	(void)state;
	/* 64 KiB pages: 2 bytes straddling 64 KiB mark pages 0 and 1. */
	log = mklog(64 * MiB, 16);
	assert_int_equal(dirtylog_mark(log, 64 * KiB - 1, 2), 0);
	{
		uint64_t want[] = { 0, 1 };
		assert_pages(log, want, 2);
	}
	assert_int_equal(dirtylog_mark(log, 64 * MiB - 1, 1), 0);
	assert_true(dirtylog_test_page(log, 1023));
	assert_int_equal(dirtylog_mark(log, 64 * MiB, 1), -ERANGE);
	dirtylog_free(log);

	/* 2 MiB pages: a 4 MiB log range at 1 MiB touches 3 pages. */
	log = mklog(2 * GiB, 21);
	assert_int_equal(dirtylog_npages(log), 1024);
	assert_int_equal(dirtylog_mark(log, 1 * MiB, 4 * MiB), 0);
	{
		uint64_t want[] = { 0, 1, 2 };
		assert_pages(log, want, 3);
	}
	assert_int_equal(dirtylog_mark(log, 2 * GiB - 1, 1), 0);
	assert_true(dirtylog_test_page(log, 1023));
	assert_int_equal(dirtylog_mark(log, 2 * GiB - 1, 2), -ERANGE);
	dirtylog_free(log);
}

static int memfd_sized(uint64_t size)
{
	int fd = memfd_create("test-dirtylog", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_map_fd(void **state)
{
	uint64_t off = 4096 + 24;  /* not page aligned */
	uint64_t word;
	struct dirtylog *log;
	int fd = memfd_sized(3 * 4096);

	(void)state;
	assert_int_equal(dirtylog_map_fd(fd, 64, off, 12, &log), 0);
	/* The fd is ours to close; the mapping keeps the memory. */
	close(fd);
	assert_int_equal(dirtylog_size(log), 64);
	assert_int_equal(dirtylog_npages(log), 512);
	assert_int_equal(dirtylog_mark(log, 65 * 4096, 1), 0);
	assert_int_equal(dirtylog_mark(log, 511 * 4096, 4096), 0);
	assert_int_equal(dirtylog_mark(log, 512 * 4096, 1), -ERANGE);
	dirtylog_free(log);

	/* What QEMU sees through its own mapping: word 1 bit 1 at off+8. */
	fd = memfd_sized(3 * 4096);
	assert_int_equal(dirtylog_map_fd(fd, 64, off, 12, &log), 0);
	assert_int_equal(dirtylog_mark(log, 65 * 4096, 1), 0);
	assert_int_equal(dirtylog_mark(log, 511 * 4096, 1), 0);
	assert_int_equal(pread(fd, &word, 8, (off_t)(off + 8)), 8);
	assert_int_equal(word, 2);
	assert_int_equal(pread(fd, &word, 8, (off_t)(off + 56)), 8);
	assert_int_equal(word, 1ULL << 63);
	assert_int_equal(pread(fd, &word, 8, (off_t)(off - 8)), 8);
	assert_int_equal(word, 0);
	assert_int_equal(pread(fd, &word, 8, (off_t)(off + 64)), 8);
	assert_int_equal(word, 0);
	/* And a bit QEMU sets shows up in ours. */
	word = 1;
	assert_int_equal(pwrite(fd, &word, 8, (off_t)off), 8);
	assert_true(dirtylog_test_page(log, 0));
	dirtylog_free(log);

	/* The last bytes of the file exactly. */
	assert_int_equal(dirtylog_map_fd(fd, 4096, 2 * 4096, 16, &log), 0);
	assert_int_equal(dirtylog_page_shift(log), 16);
	dirtylog_free(log);
	close(fd);
}

static void test_map_fd_refused(void **state)
{
	struct dirtylog *log = (struct dirtylog *)&log;
	int fd = memfd_sized(2 * 4096), p[2];

	(void)state;
	assert_int_equal(dirtylog_map_fd(-1, 64, 0, 12, &log), -EBADF);
	assert_int_equal(dirtylog_map_fd(12345, 64, 0, 12, &log), -EBADF);
	assert_int_equal(dirtylog_map_fd(fd, 0, 0, 12, &log), -EINVAL);
	assert_int_equal(dirtylog_map_fd(fd, 60, 0, 12, &log), -EINVAL);   /* not words */
	assert_int_equal(dirtylog_map_fd(fd, 64, 4, 12, &log), -EINVAL);   /* misaligned */
	assert_int_equal(dirtylog_map_fd(fd, 64, 0, 11, &log), -EINVAL);   /* shift */
	assert_int_equal(dirtylog_map_fd(fd, 64, 0, 22, &log), -EINVAL);
	assert_int_equal(dirtylog_map_fd(fd, 8192 + 8, 0, 12, &log), -EINVAL); /* past EOF */
	assert_int_equal(dirtylog_map_fd(fd, 64, 8192 - 56, 12, &log), -EINVAL);
	assert_int_equal(dirtylog_map_fd(fd, 64, 1ULL << 62, 12, &log), -EINVAL);
	assert_int_equal(dirtylog_map_fd(fd, UINT64_MAX - 7, 16, 12, &log), -EOVERFLOW);
	assert_int_equal(dirtylog_map_fd(fd, 16, UINT64_MAX - 7, 12, &log), -EOVERFLOW);
	/* Something with no size, like a pipe. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dirtylog_map_fd(p[0], 64, 0, 12, &log), -EINVAL);
	close(p[0]);
	close(p[1]);
	assert_ptr_equal(log, (struct dirtylog *)&log);  /* never written */
	close(fd);
}

static void test_wrap(void **state)
{
	uint64_t mem[4] = { 0 };
	struct dirtylog *log = NULL;

	(void)state;
	assert_int_equal(dirtylog_wrap(mem, sizeof(mem), 12, &log), 0);
	assert_int_equal(dirtylog_mark(log, 64 * 4096, 1), 0);
	assert_int_equal(mem[1], 1);
	dirtylog_free(log);  /* does not free mem */
	assert_int_equal(dirtylog_wrap((char *)mem + 4, 16, 12, &log), -EINVAL);
	assert_int_equal(dirtylog_wrap(mem, 12, 12, &log), -EINVAL);
	assert_int_equal(dirtylog_wrap(NULL, 16, 12, &log), -EINVAL);
}

static void test_cache(void **state)
{
	struct dirtylog *log = mklog(4 * MiB, 12);  /* 1024 pages, 16 words */
	uint64_t *w = dirtylog_words(log);
	struct dirtylog_cache c;

	(void)state;
	dirtylog_cache_init(&c, log);
	assert_int_equal(dirtylog_cache_mark(&c, 0, 1), 0);
	assert_int_equal(dirtylog_cache_mark(&c, 2 * 4096, 100), 0);
	assert_int_equal(dirtylog_cache_mark(&c, 63 * 4096, 4097), 0); /* 63, 64 */
	/* Nothing visible before the flush: that is the whole point, and
	 * why the flush must come before used->idx is published. */
	assert_int_equal(dirtylog_count(log), 0);
	assert_int_equal(c.n, 2);
	dirtylog_cache_flush(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(w[0], 1ULL | 4ULL | (1ULL << 63));
	assert_int_equal(w[1], 1);
	dirtylog_clear(log);

	/* Five distinct words with four entries: the fifth forces a flush. */
	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(dirtylog_cache_mark(&c, i * 64 * 4096, 1), 0);
	assert_int_equal(dirtylog_count(log), 4);
	dirtylog_cache_flush(&c);
	assert_int_equal(dirtylog_count(log), 5);
	dirtylog_clear(log);

	/* A range of more words than entries goes straight to the log. */
	assert_int_equal(dirtylog_cache_mark(&c, 0, 6 * 64 * 4096), 0);
	assert_int_equal(dirtylog_count(log), 6 * 64);
	dirtylog_clear(log);

	/* Same errors as dirtylog_mark, and nothing cached by them. */
	assert_int_equal(dirtylog_cache_mark(&c, 4 * MiB, 1), -ERANGE);
	assert_int_equal(dirtylog_cache_mark(&c, 4 * MiB - 1, 2), -ERANGE);
	assert_int_equal(dirtylog_cache_mark(&c, UINT64_MAX, 2), -ERANGE);
	assert_int_equal(dirtylog_cache_mark(&c, 4 * MiB, 0), 0);
	assert_int_equal(c.n, 0);
	/* Last page through the cache. */
	assert_int_equal(dirtylog_cache_mark(&c, 4 * MiB - 1, 1), 0);
	dirtylog_cache_flush(&c);
	assert_true(dirtylog_test_page(log, 1023));
	dirtylog_cache_flush(&c);  /* empty flush is harmless */
	dirtylog_free(log);
}

static int stop_at_third(uint64_t page, void *ud)
{
	int *n = ud;

	(void)page;
	return ++*n == 3 ? 42 : 0;
}

struct runs {
	size_t n;
	uint64_t first[64], len[64];
};

static int collect_run(uint64_t first, uint64_t n, void *ud)
{
	struct runs *r = ud;

	assert_true(r->n < 64);
	r->first[r->n] = first;
	r->len[r->n] = n;
	r->n++;
	return 0;
}

static void test_iterate(void **state)
{
	struct dirtylog *log = mklog(1 * MiB, 12);  /* 256 pages */
	struct runs r = { 0 };
	int n = 0;

	(void)state;
	assert_int_equal(dirtylog_for_each_page(log, stop_at_third, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(dirtylog_for_each_run(log, collect_run, &r), 0);
	assert_int_equal(r.n, 0);

	assert_int_equal(dirtylog_mark(log, 0, 4096), 0);              /* 0 */
	assert_int_equal(dirtylog_mark(log, 60 * 4096, 11 * 4096), 0); /* 60..70 */
	assert_int_equal(dirtylog_mark(log, 128 * 4096, 64 * 4096), 0);/* 128..191 */
	assert_int_equal(dirtylog_mark(log, 192 * 4096, 1), 0);        /* joins it */
	assert_int_equal(dirtylog_mark(log, 194 * 4096, 1), 0);        /* 194 */
	assert_int_equal(dirtylog_mark(log, 255 * 4096, 1), 0);        /* last */

	assert_int_equal(dirtylog_for_each_run(log, collect_run, &r), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.first[0], 0);   assert_int_equal(r.len[0], 1);
	assert_int_equal(r.first[1], 60);  assert_int_equal(r.len[1], 11);
	assert_int_equal(r.first[2], 128); assert_int_equal(r.len[2], 65);
	assert_int_equal(r.first[3], 194); assert_int_equal(r.len[3], 1);
	assert_int_equal(r.first[4], 255); assert_int_equal(r.len[4], 1);

	assert_int_equal(dirtylog_for_each_page(log, stop_at_third, &n), 42);
	assert_int_equal(n, 3);
	dirtylog_free(log);
}

/* Runs must reproduce any bitmap exactly. */
static int paint_run(uint64_t first, uint64_t n, void *ud)
{
	uint8_t *seen = ud;

	for (uint64_t p = first; p < first + n; p++) {
		assert_int_equal(seen[p], 0);
		seen[p] = 1;
	}
	return 0;
}

static void test_iterate_random(void **state)
{
	struct dirtylog *log = mklog(16 * MiB, 12);  /* 4096 pages */
	uint64_t *w = dirtylog_words(log), x = 88172645463325252ULL;
	uint8_t *seen = calloc(4096, 1);

	(void)state;
	assert_non_null(seen);
	for (size_t i = 0; i < 64; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		/* Mix sparse, dense, full and empty words. */
		w[i] = i % 4 == 0 ? x : i % 4 == 1 ? x & (x >> 1) :
		       i % 4 == 2 ? ~0ULL : 0;
	}
	assert_int_equal(dirtylog_for_each_run(log, paint_run, seen), 0);
	for (uint64_t p = 0; p < 4096; p++)
		assert_int_equal(seen[p], (w[p / 64] >> (p % 64)) & 1);
	free(seen);
	dirtylog_free(log);
}

static void test_clear_range(void **state)
{
	struct dirtylog *log = mklog(1 * MiB, 12);

	(void)state;
	assert_int_equal(dirtylog_mark(log, 0, 1 * MiB), 0);
	assert_int_equal(dirtylog_clear_range(log, 10 * 4096, 1), 0);
	assert_false(dirtylog_test_page(log, 10));
	assert_int_equal(dirtylog_count(log), 255);
	assert_int_equal(dirtylog_clear_range(log, 62 * 4096, 70 * 4096), 0); /* 62..131 */
	assert_int_equal(dirtylog_count(log), 255 - 70);
	assert_true(dirtylog_test_page(log, 61));
	assert_true(dirtylog_test_page(log, 132));
	assert_int_equal(dirtylog_clear_range(log, 1 * MiB - 1, 2), -ERANGE);
	assert_int_equal(dirtylog_clear_range(log, 0, 0), 0);
	assert_int_equal(dirtylog_count(log), 255 - 70);
	assert_int_equal(dirtylog_clear_range(log, 0, 1 * MiB), 0);
	assert_int_equal(dirtylog_count(log), 0);
	dirtylog_free(log);
}

static void test_take(void **state)
{
	struct dirtylog *log = mklog(1 * MiB, 12);  /* 4 words */
	uint64_t snap[5], pages = 7;

	(void)state;
	assert_int_equal(dirtylog_mark(log, 0, 64 * 4096), 0);     /* all ones */
	assert_int_equal(dirtylog_mark(log, 65 * 4096, 1), 0);
	assert_int_equal(dirtylog_mark(log, 255 * 4096, 1), 0);
	memset(snap, 0xaa, sizeof(snap));
	assert_int_equal(dirtylog_take(log, snap, sizeof(snap), &pages), 0);
	assert_int_equal(pages, 66);
	assert_int_equal(snap[0], ~0ULL);
	assert_int_equal(snap[1], 2);
	assert_int_equal(snap[2], 0);
	assert_int_equal(snap[3], 1ULL << 63);
	assert_int_equal(snap[4], 0xaaaaaaaaaaaaaaaaULL);  /* only log_size written */
	assert_int_equal(dirtylog_count(log), 0);

	pages = 7;
	assert_int_equal(dirtylog_take(log, snap, 24, &pages), -ENOBUFS);
	assert_int_equal(pages, 7);
	assert_int_equal(dirtylog_take(log, (char *)snap + 1, 32, &pages), -EINVAL);
	assert_int_equal(dirtylog_take(log, snap, 32, NULL), 0);
	assert_int_equal(snap[0], 0);
	dirtylog_free(log);
}

static void test_stats(void **state)
{
	struct dirtylog_stats s;
	uint64_t t0 = 5000000000ULL, a, b;

	(void)state;
	dirtylog_stats_init(&s, t0);
	assert_int_equal(s.rounds, 0);
	assert_true(dirtylog_stats_mean_rate(&s) == 0.0);

	assert_int_equal(dirtylog_stats_round(&s, 1000, t0 + 500000000ULL), 0);
	assert_int_equal(s.rounds, 1);
	assert_int_equal(s.last_pages, 1000);
	assert_true(s.last_rate == 2000.0);  /* 1000 pages in 0.5 s */

	assert_int_equal(dirtylog_stats_round(&s, 250, t0 + 1000000000ULL), 0);
	assert_true(s.last_rate == 500.0);
	assert_true(s.peak_rate == 2000.0);
	assert_int_equal(s.total_pages, 1250);
	assert_int_equal(s.max_pages, 1000);
	assert_true(dirtylog_stats_mean_rate(&s) == 1250.0);

	/* A round of zero length: rate 0, not a division by zero. */
	assert_int_equal(dirtylog_stats_round(&s, 7, t0 + 1000000000ULL), 0);
	assert_true(s.last_rate == 0.0);

	/* Time going backwards is refused and changes nothing. */
	assert_int_equal(dirtylog_stats_round(&s, 1, t0), -EINVAL);
	assert_int_equal(s.rounds, 3);
	assert_int_equal(s.total_pages, 1257);

	assert_int_equal(dirtylog_stats_round(&s, UINT64_MAX, t0 + 2000000000ULL),
			 -EOVERFLOW);
	assert_int_equal(s.rounds, 3);

	/* The real clock: monotonic, and DIRTYLOG_NOW reads it. */
	a = dirtylog_now_ns();
	dirtylog_stats_init(&s, DIRTYLOG_NOW);
	assert_int_equal(dirtylog_stats_round(&s, 10, DIRTYLOG_NOW), 0);
	b = dirtylog_now_ns();
	assert_true(a <= s.start_ns && s.start_ns <= s.last_ns && s.last_ns <= b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_for),
		cmocka_unit_test(test_new_geometry),
		cmocka_unit_test(test_mark_edges),
		cmocka_unit_test(test_mark_granularity),
		cmocka_unit_test(test_map_fd),
		cmocka_unit_test(test_map_fd_refused),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_iterate_random),
		cmocka_unit_test(test_clear_range),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
