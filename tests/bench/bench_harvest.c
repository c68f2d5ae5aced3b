/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Harvest-and-merge time per round, as the accel engine's harvester does it
 * (dirtylog_harvest(devlog, qemu, NULL, ...): IOVA = GPA, no table), for
 * the logs of a 4 GiB and a 64 GiB guest with the device log at 4 KiB and
 * at 2 MiB granularity, against memcpy of the same bytes (the device log's
 * size) measured in the same run from the same prepared state.
 *
 * Dirtiness: "sparse" is 1% of the device log's pages, chosen at random
 * (fixed seed); "dense" is every page.  (1% of a guest's 4 KiB pages spread
 * at random touch ~99% of its 2 MiB pages, so at 2 MiB granularity the
 * dense case is also what a lightly dirtied guest looks like.)
 *
 * Each round, outside the timed region: the device log is refilled from
 * its pattern and QEMU's log cleared (as just after QEMU's sync took it);
 * then one harvest is timed.  The memcpy round prepares the same way and
 * copies the device log into a scratch buffer.  Harvest and memcpy rounds
 * alternate, so a noisy neighbour hits both alike; medians over ROUNDS.
 *
 * A 2 MiB-granular device log is small (256 bytes for 4 GiB), below what a
 * clock read resolves, so each timed sample covers BATCH independent
 * (device log, QEMU log) pairs, enough for >= 16 KiB of device log, and
 * reports the time per pair; the memcpy sample copies the same BATCH logs.
 *
 * Output: one JSON object per line on stdout (value: us per round, lower is
 * better; ratio: harvest time / memcpy time, lower is better), a summary on
 * stderr.  Exits 1 if a harvest ever finds other than the pages planted.
 */
#include "dirtylog/dirtylog.h"
#include "dirtylog/harvest.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 301
#define BATCH_MIN_BYTES (16u << 10)
#define BATCH_MAX 64

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a fixed, reproducible pattern. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double quantile(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)(q * (n - 1) + 0.5)];
}

struct pair {
	struct dirtylog *dev, *qemu;
	uint64_t *dw, *qw;
	uint64_t *pattern;  /* what dw is refilled from */
	void *scratch;      /* memcpy destination */
	void *qscratch;     /* memcpy destination, QEMU log sized */
	uint64_t expect;    /* device pages planted */
};

static size_t dbytes, qbytes;
static unsigned batch;
static struct pair pairs[BATCH_MAX];

/* Sets exactly want distinct random pages (or all of them) in pattern. */
static uint64_t plant(uint64_t *pattern, uint64_t npages, uint64_t want)
{
	uint64_t n = 0;

	memset(pattern, 0, dbytes);
	if (want >= npages) {
		for (uint64_t p = 0; p < npages; p++)
			pattern[p / 64] |= 1ull << (p % 64);
		return npages;
	}
	while (n < want) {
		uint64_t p = rnd() % npages;

		if (pattern[p / 64] & (1ull << (p % 64)))
			continue;
		pattern[p / 64] |= 1ull << (p % 64);
		n++;
	}
	return n;
}

static void prepare(void)
{
	for (unsigned b = 0; b < batch; b++) {
		memcpy(pairs[b].dw, pairs[b].pattern, dbytes);
		memset(pairs[b].qw, 0, qbytes);
	}
}

/* One timed sample, ns per pair; checks the pages found. */
static double round_harvest(void)
{
	uint64_t pages[BATCH_MAX], t0, t1;

	prepare();
	t0 = now_ns();
	for (unsigned b = 0; b < batch; b++)
		if (dirtylog_harvest(pairs[b].dev, pairs[b].qemu, NULL, &pages[b], NULL) < 0)
			abort();
	t1 = now_ns();
	for (unsigned b = 0; b < batch; b++) {
		if (pages[b] != pairs[b].expect) {
			fprintf(stderr, "bench_harvest: harvest found %" PRIu64
				" pages, %" PRIu64 " planted\n", pages[b], pairs[b].expect);
			exit(1);
		}
	}
	return (double)(t1 - t0) / batch;
}

/* memcpy of the device log (qlog false) or of QEMU's log (qlog true, for
 * context: what a merge at 2 MiB granularity has to write). */
static double round_memcpy(bool qlog)
{
	uint64_t t0, t1;

	prepare();
	t0 = now_ns();
	for (unsigned b = 0; b < batch; b++) {
		if (qlog)
			memcpy(pairs[b].qscratch, pairs[b].qw, qbytes);
		else
			memcpy(pairs[b].scratch, pairs[b].dw, dbytes);
	}
	t1 = now_ns();
	for (unsigned b = 0; b < batch; b++)
		sink += qlog ? ((uint64_t *)pairs[b].qscratch)[qbytes / 8 - 1]
			     : ((uint64_t *)pairs[b].scratch)[dbytes / 8 - 1];
	return (double)(t1 - t0) / batch;
}

static int bench(const char *gname, uint64_t guest, unsigned shift, const char *gran,
		 const char *fill, double frac)
{
	double th[ROUNDS], tm[ROUNDS], tq[ROUNDS];
	uint64_t npages, planted = 0;
	size_t qsz;
	char name[96];

	if (dirtylog_size_for(guest, shift, &dbytes) < 0 ||
	    dirtylog_size_for(guest, DIRTYLOG_QEMU_PAGE_SHIFT, &qsz) < 0)
		return -1;
	qbytes = qsz;
	npages = guest >> shift;
	batch = dbytes >= BATCH_MIN_BYTES ? 1 : (unsigned)(BATCH_MIN_BYTES / dbytes);
	if (batch > BATCH_MAX)
		batch = BATCH_MAX;
	for (unsigned b = 0; b < batch; b++) {
		struct pair *p = &pairs[b];

		if (dirtylog_new(guest, shift, &p->dev) < 0 ||
		    dirtylog_new(guest, DIRTYLOG_QEMU_PAGE_SHIFT, &p->qemu) < 0)
			return -1;
		p->dw = dirtylog_words(p->dev);
		p->qw = dirtylog_words(p->qemu);
		p->pattern = aligned_alloc(64, (dbytes + 63) & ~(size_t)63);
		p->scratch = aligned_alloc(64, (dbytes + 63) & ~(size_t)63);
		p->qscratch = aligned_alloc(64, (qbytes + 63) & ~(size_t)63);
		if (!p->pattern || !p->scratch || !p->qscratch)
			return -1;
		p->expect = plant(p->pattern, npages,
				  frac >= 1.0 ? npages : (uint64_t)((double)npages * frac + 0.5));
		planted += p->expect;
	}

	/* Once, untimed: the merge expands each device page into the 4 KiB
	 * pages it covers, and nothing else. */
	prepare();
	for (unsigned b = 0; b < batch; b++) {
		uint64_t pages, want = pairs[b].expect << (shift - DIRTYLOG_QEMU_PAGE_SHIFT), got;

		if (dirtylog_harvest(pairs[b].dev, pairs[b].qemu, NULL, &pages, NULL) < 0)
			return -1;
		got = dirtylog_count(pairs[b].qemu);
		if (got != want || dirtylog_count(pairs[b].dev) != 0) {
			fprintf(stderr, "bench_harvest: %s %s %s: QEMU log has %" PRIu64
				" pages, want %" PRIu64 "\n", gname, gran, fill, got, want);
			exit(1);
		}
	}
	/* Warm-up, then alternate. */
	for (int i = 0; i < 5; i++) {
		round_harvest();
		round_memcpy(false);
		round_memcpy(true);
	}
	for (int i = 0; i < ROUNDS; i++) {
		if (i % 2) {
			tm[i] = round_memcpy(false);
			th[i] = round_harvest();
		} else {
			th[i] = round_harvest();
			tm[i] = round_memcpy(false);
		}
		tq[i] = round_memcpy(true);
	}
	double h = quantile(th, ROUNDS, 0.5) / 1000.0, h90 = quantile(th, ROUNDS, 0.9) / 1000.0;
	double m = quantile(tm, ROUNDS, 0.5) / 1000.0, mq = quantile(tq, ROUNDS, 0.5) / 1000.0;

	snprintf(name, sizeof(name), "accel.harvest.%s.%s%s%s", gname, gran,
		 strcmp(fill, "sparse") ? "." : "", strcmp(fill, "sparse") ? fill : "");
	printf("{\"bench\":\"%s\",\"value\":%.4f,\"unit\":\"us\",\"peer\":\"memcpy\","
	       "\"peer_value\":%.4f,\"ratio\":%.3f,\"p90_us\":%.4f,"
	       "\"guest_bytes\":%" PRIu64 ",\"device_granularity\":%u,"
	       "\"device_log_bytes\":%zu,\"qemu_log_bytes\":%zu,"
	       "\"dirty\":\"%s\",\"device_pages_dirty\":%" PRIu64 ",\"device_pages\":%" PRIu64 ","
	       "\"memcpy_qemu_log_us\":%.4f,\"ratio_qemu_log\":%.3f,"
	       "\"rounds\":%d,\"batch\":%u,\"stat\":\"median\","
	       "\"note\":\"time per harvest-and-merge round (device log -> QEMU 4 KiB log, "
	       "as the accel harvester calls it) vs memcpy of the device log's bytes; "
	       "lower is better for value and ratio; ratio_qemu_log: vs memcpy of "
	       "QEMU's log, which a 2 MiB merge writes\"}\n",
	       name, h, m, m > 0 ? h / m : 0.0, h90, guest, 1u << shift, dbytes, qbytes,
	       fill, planted / batch, npages, mq, mq > 0 ? h / mq : 0.0, ROUNDS, batch);
	fflush(stdout);
	fprintf(stderr, "%-36s %10.3f us (p90 %9.3f)  memcpy %9.3f us  ratio %7.3f  [log %zu B, batch %u]\n",
		name, h, h90, m, m > 0 ? h / m : 0.0, dbytes, batch);
	for (unsigned b = 0; b < batch; b++) {
		dirtylog_free(pairs[b].dev);
		dirtylog_free(pairs[b].qemu);
		free(pairs[b].pattern);
		free(pairs[b].scratch);
		free(pairs[b].qscratch);
	}
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		uint64_t bytes;
	} guests[] = { { "4g", 4ull << 30 }, { "64g", 64ull << 30 } };
	static const struct {
		const char *name;
		unsigned shift;
	} grans[] = { { "4k", 12 }, { "2m", 21 } };

	for (size_t g = 0; g < 2; g++) {
		for (size_t k = 0; k < 2; k++) {
			if (bench(guests[g].name, guests[g].bytes, grans[k].shift, grans[k].name,
				  "sparse", 0.01) < 0 ||
			    bench(guests[g].name, guests[g].bytes, grans[k].shift, grans[k].name,
				  "dense", 1.0) < 0) {
				fprintf(stderr, "bench_harvest: cannot allocate logs\n");
				return 1;
			}
		}
	}
	return 0;
}
