/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of harvest-and-merge: device page sizes 4 KiB..2 MiB, IOVA
 * translation with several ranges and gaps, QEMU logs smaller than the
 * device's, and a concurrency test where writers, a harvester and a "QEMU"
 * that exchanges its log out all run at once and no bit may be lost or
 * invented.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "dirtylog/dirtylog.h"
#include "dirtylog/harvest.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static struct dirtylog *mklog(uint64_t span, unsigned shift)
{
	struct dirtylog *log = NULL;

	assert_int_equal(dirtylog_new(span, shift, &log), 0);
	return log;
}

static void harvest_ok(struct dirtylog *dev, struct dirtylog *q,
		       const struct dirtylog_xlate *x, uint64_t want_pages,
		       uint64_t want_bad)
{
	uint64_t pages = 0, bad = 0;

	assert_int_equal(dirtylog_harvest(dev, q, x, &pages, &bad), 0);
	assert_int_equal(pages, want_pages);
	assert_int_equal(bad, want_bad);
	assert_int_equal(dirtylog_count(dev), 0);  /* taken, all of it */
}

/* QEMU pages [first, first+n) are set, and only count of them in total. */
static void assert_qrange(const struct dirtylog *q, uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++)
		assert_true(dirtylog_test_page(q, p));
	if (first)
		assert_false(dirtylog_test_page(q, first - 1));
	assert_false(dirtylog_test_page(q, first + n));
}

static void test_identity_4k(void **state)
{
	struct dirtylog *dev = mklog(1 * GiB, 12), *q = mklog(1 * GiB, 12);
	uint64_t last = dirtylog_npages(dev) - 1;

	(void)state;
	assert_int_equal(dirtylog_mark(dev, 0, 1), 0);                      /* first */
	assert_int_equal(dirtylog_mark(dev, 63 * 4096, 2 * 4096), 0);       /* 63,64 */
	assert_int_equal(dirtylog_mark(dev, 128 * 4096, 64 * 4096), 0);     /* ~0 word */
	assert_int_equal(dirtylog_mark(dev, last * 4096, 4096), 0);         /* last */
	harvest_ok(dev, q, NULL, 1 + 2 + 64 + 1, 0);
	assert_int_equal(dirtylog_count(q), 68);
	assert_qrange(q, 0, 1);
	assert_qrange(q, 63, 2);
	assert_qrange(q, 128, 64);
	assert_true(dirtylog_test_page(q, last));

	/* A second harvest of a clean device finds nothing, changes nothing. */
	harvest_ok(dev, q, NULL, 0, 0);
	assert_int_equal(dirtylog_count(q), 68);

	/* Merging ORs: QEMU's own bits in the same words survive. */
	dirtylog_clear(q);
	assert_int_equal(dirtylog_mark(q, 1 * 4096, 1), 0);
	assert_int_equal(dirtylog_mark(q, 130 * 4096, 1), 0);
	assert_int_equal(dirtylog_mark(dev, 2 * 4096, 1), 0);
	harvest_ok(dev, q, NULL, 1, 0);
	assert_int_equal(dirtylog_count(q), 3);
	assert_true(dirtylog_test_page(q, 1));
	assert_true(dirtylog_test_page(q, 2));
	assert_true(dirtylog_test_page(q, 130));
	dirtylog_free(dev);
	dirtylog_free(q);
}

static void test_qemu_smaller(void **state)
{
	/* QEMU's log covers 1 MiB (4 words); the device's 2 MiB. */
	struct dirtylog *dev = mklog(2 * MiB, 12), *q = mklog(1 * MiB, 12);

	(void)state;
	assert_int_equal(dirtylog_mark(dev, 255 * 4096, 1), 0);        /* fits */
	assert_int_equal(dirtylog_mark(dev, 256 * 4096, 3 * 4096), 0); /* beyond */
	assert_int_equal(dirtylog_mark(dev, 320 * 4096, 64 * 4096), 0);/* ~0 beyond */
	harvest_ok(dev, q, NULL, 1 + 3 + 64, 3 + 64);
	assert_int_equal(dirtylog_count(q), 1);
	assert_true(dirtylog_test_page(q, 255));

	/* Same through the general path (64 KiB device pages). */
	dirtylog_free(dev);
	dev = mklog(2 * MiB, 16);
	assert_int_equal(dirtylog_mark(dev, 1 * MiB - 64 * KiB, 128 * KiB), 0);
	harvest_ok(dev, q, NULL, 2, 1);
	assert_int_equal(dirtylog_count(q), 16);  /* 240..255, 255 was set */
	dirtylog_free(dev);
	dirtylog_free(q);
}

static void test_granularity_64k(void **state)
{
	struct dirtylog *dev = mklog(1 * GiB, 16), *q = mklog(1 * GiB, 12);
	uint64_t last = dirtylog_npages(dev) - 1;

	(void)state;
	assert_int_equal(dirtylog_mark(dev, 3 * 64 * KiB, 1), 0);   /* -> 48..63 */
	assert_int_equal(dirtylog_mark(dev, 4 * 64 * KiB, 1), 0);   /* -> 64..79 */
	harvest_ok(dev, q, NULL, 2, 0);
	assert_int_equal(dirtylog_count(q), 32);
	assert_qrange(q, 48, 32);  /* one run across the word boundary */
	dirtylog_clear(q);

	/* A whole device word (64 x 64 KiB = 4 MiB): 16 whole QEMU words. */
	assert_int_equal(dirtylog_mark(dev, 64 * 64 * KiB, 4 * MiB), 0);
	/* Alternating bits: no two device pages adjacent. */
	dirtylog_words(dev)[2] = 0x5555555555555555ULL;
	/* Last device page -> last 16 QEMU pages of the 1 GiB. */
	assert_int_equal(dirtylog_mark(dev, last * 64 * KiB, 1), 0);
	harvest_ok(dev, q, NULL, 64 + 32 + 1, 0);
	assert_int_equal(dirtylog_count(q), 1024 + 32 * 16 + 16);
	assert_false(dirtylog_test_page(q, 1023));
	for (uint64_t p = 1024; p < 2048; p++)
		assert_true(dirtylog_test_page(q, p));
	for (uint64_t p = 0; p < 64; p++) {
		uint64_t base = (128 + p) * 16;

		assert_int_equal(dirtylog_test_page(q, base), p % 2 == 0);
		assert_int_equal(dirtylog_test_page(q, base + 15), p % 2 == 0);
	}
	assert_true(dirtylog_test_page(q, dirtylog_npages(q) - 1));
	assert_true(dirtylog_test_page(q, dirtylog_npages(q) - 16));
	assert_false(dirtylog_test_page(q, dirtylog_npages(q) - 17));
	dirtylog_free(dev);
	dirtylog_free(q);
}

static void test_granularity_256k_2m(void **state)
{
	struct dirtylog *dev = mklog(1 * GiB, 18), *q = mklog(1 * GiB, 12);
	uint64_t *qw = dirtylog_words(q);

	(void)state;
	/* 256 KiB: one device bit is exactly one QEMU word. */
	assert_int_equal(dirtylog_mark(dev, 5 * 256 * KiB + 7, 1), 0);
	harvest_ok(dev, q, NULL, 1, 0);
	assert_int_equal(qw[4], 0);
	assert_int_equal(qw[5], ~0ULL);
	assert_int_equal(qw[6], 0);
	assert_int_equal(dirtylog_count(q), 64);
	dirtylog_free(dev);
	dirtylog_clear(q);

	/* 2 MiB: one device bit is 8 whole QEMU words. */
	dev = mklog(1 * GiB, 21);
	assert_int_equal(dirtylog_mark(dev, 2 * MiB, 1), 0);
	assert_int_equal(dirtylog_mark(dev, 1 * GiB - 1, 1), 0);   /* last */
	harvest_ok(dev, q, NULL, 2, 0);
	assert_int_equal(dirtylog_count(q), 1024);
	assert_qrange(q, 512, 512);
	assert_true(dirtylog_test_page(q, dirtylog_npages(q) - 512));
	assert_false(dirtylog_test_page(q, dirtylog_npages(q) - 513));
	/* Merging into words that are all ones already changes nothing. */
	assert_int_equal(dirtylog_mark(dev, 2 * MiB, 1), 0);
	harvest_ok(dev, q, NULL, 1, 0);
	assert_int_equal(dirtylog_count(q), 1024);
	dirtylog_free(dev);
	dirtylog_free(q);
}

static void test_xlate_table(void **state)
{
	struct dirtylog_iova_range r[] = {
		{ .iova = 0x400000, .gpa = 0, .size = 0x100000 },
		{ .iova = 0x100000, .gpa = 0x800000, .size = 0x200000 },
	};
	struct dirtylog_xlate *x = NULL, *keep = (struct dirtylog_xlate *)&keep;
	uint64_t gpa = 0, len = 0;

	(void)state;
	assert_int_equal(dirtylog_xlate_new(r, 2, &x), 0);  /* sorts them */
	assert_int_equal(dirtylog_xlate_lookup(x, 0x100000, &gpa, &len), 0);
	assert_int_equal(gpa, 0x800000);
	assert_int_equal(len, 0x200000);
	assert_int_equal(dirtylog_xlate_lookup(x, 0x2fffff, &gpa, &len), 0);
	assert_int_equal(gpa, 0x9fffff);
	assert_int_equal(len, 1);
	assert_int_equal(dirtylog_xlate_lookup(x, 0x4000ff, &gpa, &len), 0);
	assert_int_equal(gpa, 0xff);
	gpa = 9;
	assert_int_equal(dirtylog_xlate_lookup(x, 0x300000, &gpa, &len), -ENOENT);
	assert_int_equal(dirtylog_xlate_lookup(x, 0xfffff, &gpa, &len), -ENOENT);
	assert_int_equal(dirtylog_xlate_lookup(x, 0x500000, &gpa, &len), -ENOENT);
	assert_int_equal(gpa, 9);
	dirtylog_xlate_free(x);
	dirtylog_xlate_free(NULL);

	/* An empty table is valid: nothing translates. */
	assert_int_equal(dirtylog_xlate_new(NULL, 0, &x), 0);
	assert_int_equal(dirtylog_xlate_lookup(x, 0, &gpa, &len), -ENOENT);
	dirtylog_xlate_free(x);

	/* Refused: zero size, overflowing ends, overlap. */
	struct dirtylog_iova_range bad0[] = { { 0, 0, 0 } };
	struct dirtylog_iova_range bad1[] = { { UINT64_MAX - 10, 0, 12 } };
	struct dirtylog_iova_range bad2[] = { { 0, UINT64_MAX, 2 } };
	struct dirtylog_iova_range bad3[] = { { 0x2000, 0, 0x1000 },
					      { 0x1000, 0, 0x1001 } };
	assert_int_equal(dirtylog_xlate_new(bad0, 1, &keep), -EINVAL);
	assert_int_equal(dirtylog_xlate_new(bad1, 1, &keep), -EINVAL);
	assert_int_equal(dirtylog_xlate_new(bad2, 1, &keep), -EINVAL);
	assert_int_equal(dirtylog_xlate_new(bad3, 2, &keep), -EINVAL);
	assert_int_equal(dirtylog_xlate_new(NULL, 1, &keep), -EINVAL);
	assert_ptr_equal(keep, (struct dirtylog_xlate *)&keep);
	/* Touching but not overlapping is fine; so is the top of the space. */
	bad3[1].size = 0x1000;
	assert_int_equal(dirtylog_xlate_new(bad3, 2, &x), 0);
	dirtylog_xlate_free(x);
	struct dirtylog_iova_range top[] = { { UINT64_MAX - 4095, 0, 4096 } };
	assert_int_equal(dirtylog_xlate_new(top, 1, &x), 0);
	assert_int_equal(dirtylog_xlate_lookup(x, UINT64_MAX, &gpa, &len), 0);
	assert_int_equal(gpa, 4095);
	assert_int_equal(len, 1);
	dirtylog_xlate_free(x);
}

static void test_harvest_iova(void **state)
{
	/*
	 * IOVA space of 16 MiB, QEMU's log 32 MiB; ranges and gaps:
	 *   iova [0, 1M)        gap
	 *   iova [1M, 3M)       -> gpa [8M, 10M)
	 *   iova [3M, 4M)       gap
	 *   iova [4M, 5M)       -> gpa [0, 1M)
	 *   iova [5M, 5M+8K)    -> gpa [60M, ...): beyond QEMU's log
	 *   iova [6M, 6M+8K)    -> gpa [32M-4K, 32M+4K): half beyond
	 *   iova [6M+8K, 16M)   gap
	 */
	struct dirtylog_iova_range r[] = {
		{ .iova = 1 * MiB, .gpa = 8 * MiB, .size = 2 * MiB },
		{ .iova = 4 * MiB, .gpa = 0, .size = 1 * MiB },
		{ .iova = 5 * MiB, .gpa = 60 * MiB, .size = 8 * KiB },
		{ .iova = 6 * MiB, .gpa = 32 * MiB - 4 * KiB, .size = 8 * KiB },
	};
	struct dirtylog *dev = mklog(16 * MiB, 12), *q = mklog(32 * MiB, 12);
	struct dirtylog_xlate *x;

	(void)state;
	assert_int_equal(dirtylog_xlate_new(r, 4, &x), 0);
	assert_int_equal(dirtylog_mark(dev, 1 * MiB, 1), 0);                 /* -> 8M */
	assert_int_equal(dirtylog_mark(dev, 3 * MiB - 4 * KiB, 8 * KiB), 0); /* last + gap */
	assert_int_equal(dirtylog_mark(dev, 3 * MiB + 64 * KiB, 1), 0);      /* gap */
	assert_int_equal(dirtylog_mark(dev, 4 * MiB, 3 * 4 * KiB), 0);       /* -> 0..2 */
	assert_int_equal(dirtylog_mark(dev, 5 * MiB, 4 * KiB), 0);           /* beyond QEMU */
	assert_int_equal(dirtylog_mark(dev, 6 * MiB, 8 * KiB), 0);           /* last QEMU page + beyond */
	assert_int_equal(dirtylog_mark(dev, 0, 1), 0);                       /* below all */
	assert_int_equal(dirtylog_mark(dev, 16 * MiB - 1, 1), 0);            /* above all */
	harvest_ok(dev, q, x, 1 + 2 + 1 + 3 + 1 + 2 + 1 + 1, 1 + 1 + 1 + 1 + 1 + 1);
	assert_int_equal(dirtylog_count(q), 1 + 1 + 3 + 1);
	assert_true(dirtylog_test_page(q, 8 * MiB / 4096));
	assert_true(dirtylog_test_page(q, 10 * MiB / 4096 - 1));
	assert_false(dirtylog_test_page(q, 10 * MiB / 4096));
	assert_qrange(q, 0, 3);
	assert_true(dirtylog_test_page(q, dirtylog_npages(q) - 1));
	dirtylog_free(dev);

	/* 64 KiB device pages over ranges that are not 64 KiB aligned. */
	dirtylog_xlate_free(x);
	struct dirtylog_iova_range ragged[] = {
		{ .iova = 0x10000 + 0x3000, .gpa = 0x100000, .size = 0x2000 },
		{ .iova = 0x10000 + 0x8000, .gpa = 0x200000, .size = 0x18000 },
	};
	assert_int_equal(dirtylog_xlate_new(ragged, 2, &x), 0);
	dev = mklog(16 * MiB, 16);
	dirtylog_clear(q);
	/* Device page 1 = iova [64K, 128K): 8K of range 0, 32K of range 1,
	 * the rest gaps: partly merged, counted.  Page 2 = [128K, 192K): all
	 * range 1.  Page 3 all gap.  One run of three bits. */
	dirtylog_words(dev)[0] = 0xe;
	harvest_ok(dev, q, x, 3, 2);
	assert_int_equal(dirtylog_count(q), 2 + 8 + 16);
	assert_qrange(q, 0x100, 2);
	assert_qrange(q, 0x200, 0x18);
	dirtylog_free(dev);
	dirtylog_xlate_free(x);

	/* A translation that is a whole 2 MiB device page at an odd GPA. */
	struct dirtylog_iova_range shifted[] = {
		{ .iova = 2 * MiB, .gpa = 6 * MiB + 4 * KiB, .size = 2 * MiB },
	};
	assert_int_equal(dirtylog_xlate_new(shifted, 1, &x), 0);
	dev = mklog(16 * MiB, 21);
	dirtylog_clear(q);
	assert_int_equal(dirtylog_mark(dev, 2 * MiB, 1), 0);
	harvest_ok(dev, q, x, 1, 0);
	assert_qrange(q, (6 * MiB + 4 * KiB) / 4096, 512);
	dirtylog_free(dev);
	dirtylog_xlate_free(x);
	dirtylog_free(q);
}

static void test_harvest_refused(void **state)
{
	struct dirtylog *dev = mklog(1 * MiB, 12), *q16 = mklog(1 * MiB, 16);
	uint64_t pages = 5, bad = 6;

	(void)state;
	assert_int_equal(dirtylog_mark(dev, 0, 1), 0);
	assert_int_equal(dirtylog_harvest(dev, q16, NULL, &pages, &bad), -EINVAL);
	assert_int_equal(dirtylog_harvest(dev, dev, NULL, &pages, &bad), -EINVAL);
	assert_int_equal(pages, 5);
	assert_int_equal(bad, 6);
	assert_int_equal(dirtylog_count(dev), 1);  /* nothing taken */
	dirtylog_free(dev);
	dirtylog_free(q16);
}

/* ---- concurrency -------------------------------------------------------- */

/*
 * Rounds.  In each, three writers mark random pages (recording them in
 * private bitmaps) of a small log, so that everybody fights over the same
 * few words, while a harvester merges device -> QEMU and a "QEMU" thread
 * exchanges QEMU's log out, all at once.  When the writers are done, the
 * round ends with a final harvest and a final take, and the union of all
 * QEMU collected must be exactly the union of what was marked.  Each round
 * starts from empty logs, so a lost bit cannot hide behind a later mark of
 * the same page in another round.
 */
#define NWRITERS 3
#define ROUNDS 4000
#define OPS_PER_ROUND 24

struct conc {
	struct dirtylog *dev, *qemu;
	const struct dirtylog_xlate *x;
	uint64_t iova_base;
	unsigned shift;
	uint64_t dev_pages, qemu_pages;
	pthread_barrier_t start, end;
	int writers_done;  /* atomic, per round */
	int quit;          /* set before the last start barrier */
	uint64_t harvested, busy_harvests, qemu_rounds, qemu_busy;
	uint64_t *snap;
	uint8_t *collected;   /* QEMU pages taken out this round */
};

struct writer {
	struct conc *c;
	uint64_t seed;
	uint8_t *dev_marked;   /* private: device pages marked this round */
	uint8_t *qemu_marked;  /* private: QEMU pages marked directly */
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void writer_round(struct writer *w)
{
	struct conc *c = w->c;
	struct dirtylog_cache cache;

	dirtylog_cache_init(&cache, c->qemu);
	for (int i = 0; i < OPS_PER_ROUND; i++) {
		uint64_t r = rnd(&w->seed), kind = r % 16;

		if (kind < 11) {
			/* One device page. */
			uint64_t p = (r >> 8) % c->dev_pages;

			if (dirtylog_mark(c->dev, c->iova_base + (p << c->shift), 1) < 0)
				abort();
			w->dev_marked[p] = 1;
		} else if (kind < 12) {
			/* A whole device word: makes the all-ones fast path
			 * race with the other writers' ORs. */
			uint64_t word = (r >> 8) % (c->dev_pages / 64);

			if (dirtylog_mark(c->dev, c->iova_base + ((word * 64) << c->shift),
					  64ULL << c->shift) < 0)
				abort();
			memset(&w->dev_marked[word * 64], 1, 64);
		} else if (kind < 13) {
			/* A run of device pages that may cross words. */
			uint64_t n = 1 + (r >> 40) % 80;
			uint64_t p = (r >> 8) % (c->dev_pages - n);

			if (dirtylog_mark(c->dev, c->iova_base + (p << c->shift),
					  n << c->shift) < 0)
				abort();
			memset(&w->dev_marked[p], 1, n);
		} else {
			/* QEMU's log directly, as the software engine does,
			 * racing with the harvester's stores and ORs. */
			uint64_t p = (r >> 8) % c->qemu_pages;
			uint64_t n = kind == 15 ? 64 - p % 64 : 1;

			if (dirtylog_cache_mark(&cache, p * 4096, n * 4096) < 0)
				abort();
			memset(&w->qemu_marked[p], 1, n);
			if (r & 0x100)
				dirtylog_cache_flush(&cache);
		}
	}
	dirtylog_cache_flush(&cache);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (;;) {
		pthread_barrier_wait(&w->c->start);
		if (__atomic_load_n(&w->c->quit, __ATOMIC_ACQUIRE))
			return NULL;
		writer_round(w);
		__atomic_fetch_add(&w->c->writers_done, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&w->c->end);
	}
}

static bool writers_running(struct conc *c)
{
	return __atomic_load_n(&c->writers_done, __ATOMIC_ACQUIRE) < NWRITERS;
}

static void *harvester_main(void *arg)
{
	struct conc *c = arg;

	for (;;) {
		pthread_barrier_wait(&c->start);
		if (__atomic_load_n(&c->quit, __ATOMIC_ACQUIRE))
			return NULL;
		do {
			uint64_t pages, bad;

			if (dirtylog_harvest(c->dev, c->qemu, c->x, &pages, &bad) < 0 ||
			    bad)
				abort();
			c->harvested += pages;
			c->busy_harvests += pages != 0;
			/* Two cores, six threads: let the writers run. */
			if (!pages)
				sched_yield();
		} while (writers_running(c));
		pthread_barrier_wait(&c->end);
	}
}

static uint64_t collect_snap(struct conc *c)
{
	uint64_t pages;

	if (dirtylog_take(c->qemu, c->snap, dirtylog_size(c->qemu), &pages) < 0)
		abort();
	for (uint64_t p = 0; p < c->qemu_pages; p++)
		if ((c->snap[p / 64] >> (p % 64)) & 1)
			c->collected[p] = 1;
	return pages;
}

static void *qemu_main(void *arg)
{
	struct conc *c = arg;

	for (;;) {
		pthread_barrier_wait(&c->start);
		if (__atomic_load_n(&c->quit, __ATOMIC_ACQUIRE))
			return NULL;
		do {
			uint64_t n = collect_snap(c);

			c->qemu_busy += n != 0;
			c->qemu_rounds++;
			if (!n)
				sched_yield();
		} while (writers_running(c));
		pthread_barrier_wait(&c->end);
	}
}

static void run_concurrent(unsigned shift, uint64_t iova_base, uint64_t span)
{
	struct conc c = { .shift = shift, .iova_base = iova_base };
	struct writer w[NWRITERS];
	pthread_t tw[NWRITERS], th, tq;
	uint64_t ratio = 1ULL << (shift - 12);
	struct dirtylog_iova_range r = { .iova = iova_base, .gpa = 0, .size = span };
	struct dirtylog_xlate *x = NULL;
	uint8_t *want;
	uint64_t pages, bad, mism = 0, marked = 0;

	/* The device log covers the IOVA space from 0; translation moves
	 * [iova_base, iova_base + span) to GPA 0. */
	c.dev = mklog(iova_base + span, shift);
	c.qemu = mklog(span, 12);
	if (iova_base) {
		assert_int_equal(dirtylog_xlate_new(&r, 1, &x), 0);
		c.x = x;
	}
	c.dev_pages = span >> shift;
	c.qemu_pages = dirtylog_npages(c.qemu);
	c.snap = malloc(dirtylog_size(c.qemu));
	c.collected = calloc(c.qemu_pages, 1);
	want = calloc(c.qemu_pages, 1);
	assert_non_null(c.snap);
	assert_non_null(c.collected);
	assert_non_null(want);
	assert_int_equal(pthread_barrier_init(&c.start, NULL, NWRITERS + 3), 0);
	assert_int_equal(pthread_barrier_init(&c.end, NULL, NWRITERS + 3), 0);

	assert_int_equal(pthread_create(&th, NULL, harvester_main, &c), 0);
	assert_int_equal(pthread_create(&tq, NULL, qemu_main, &c), 0);
	for (int i = 0; i < NWRITERS; i++) {
		w[i].c = &c;
		w[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) + shift;
		w[i].dev_marked = calloc(c.dev_pages, 1);
		w[i].qemu_marked = calloc(c.qemu_pages, 1);
		assert_non_null(w[i].dev_marked);
		assert_non_null(w[i].qemu_marked);
		assert_int_equal(pthread_create(&tw[i], NULL, writer_main, &w[i]), 0);
	}

	for (int round = 0; round < ROUNDS && mism == 0; round++) {
		__atomic_store_n(&c.writers_done, 0, __ATOMIC_RELAXED);
		pthread_barrier_wait(&c.start);
		pthread_barrier_wait(&c.end);

		/* The final harvest (device stopped), then QEMU's final sync. */
		assert_int_equal(dirtylog_harvest(c.dev, c.qemu, c.x, &pages, &bad), 0);
		assert_int_equal(bad, 0);
		c.harvested += pages;
		assert_int_equal(dirtylog_count(c.dev), 0);
		collect_snap(&c);
		assert_int_equal(dirtylog_count(c.qemu), 0);

		memset(want, 0, c.qemu_pages);
		for (int i = 0; i < NWRITERS; i++) {
			for (uint64_t p = 0; p < c.dev_pages; p++)
				if (w[i].dev_marked[p])
					memset(&want[p * ratio], 1, ratio);
			for (uint64_t p = 0; p < c.qemu_pages; p++)
				want[p] |= w[i].qemu_marked[p];
			memset(w[i].dev_marked, 0, c.dev_pages);
			memset(w[i].qemu_marked, 0, c.qemu_pages);
		}
		/* Every page marked was collected, and nothing else was. */
		for (uint64_t p = 0; p < c.qemu_pages; p++) {
			mism += want[p] != c.collected[p];
			marked += want[p];
		}
		if (mism)
			print_message("round %d: %" PRIu64 " pages differ\n", round, mism);
		memset(c.collected, 0, c.qemu_pages);
	}
	__atomic_store_n(&c.quit, 1, __ATOMIC_RELEASE);
	pthread_barrier_wait(&c.start);
	for (int i = 0; i < NWRITERS; i++) {
		assert_int_equal(pthread_join(tw[i], NULL), 0);
		free(w[i].dev_marked);
		free(w[i].qemu_marked);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(pthread_join(tq, NULL), 0);

	print_message("shift %u: %" PRIu64 " pages marked; concurrently %" PRIu64
		      " of %" PRIu64 " QEMU takes and %" PRIu64 " harvests found bits\n",
		      shift, marked, c.qemu_busy, c.qemu_rounds, c.busy_harvests);
	assert_int_equal(mism, 0);
	/* The threads really overlapped. */
	assert_true(c.qemu_busy > 1);
	assert_true(c.busy_harvests > 1);

	pthread_barrier_destroy(&c.start);
	pthread_barrier_destroy(&c.end);
	free(want);
	free(c.snap);
	free(c.collected);
	dirtylog_xlate_free(x);
	dirtylog_free(c.dev);
	dirtylog_free(c.qemu);
}

static void test_concurrent_4k(void **state)
{
	(void)state;
	run_concurrent(12, 0, 1 * MiB);  /* the direct path, 4 words */
}

static void test_concurrent_16k_iova(void **state)
{
	(void)state;
	run_concurrent(14, 64 * MiB, 4 * MiB);  /* general path, translated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_4k),
		cmocka_unit_test(test_qemu_smaller),
		cmocka_unit_test(test_granularity_64k),
		cmocka_unit_test(test_granularity_256k_2m),
		cmocka_unit_test(test_xlate_table),
		cmocka_unit_test(test_harvest_iova),
		cmocka_unit_test(test_harvest_refused),
		cmocka_unit_test(test_concurrent_4k),
		cmocka_unit_test(test_concurrent_16k_iova),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
