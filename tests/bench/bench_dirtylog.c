/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark of the dirty log: harvest-and-merge (device 4 KiB log into
 * QEMU's log) and scan (count dirty pages) over the 32 MiB log of a 1 TiB
 * guest, dense (every word all ones) and sparse (one word in 4096 dirty),
 * against memcpy of the same 32 MiB between the same two buffers, measured
 * in the same run and from the same prepared state.
 *
 * Each repetition prepares the buffers outside the timed region (memset,
 * which also leaves the same part of them in cache for both contenders),
 * then times one operation; the op and memcpy alternate so a noisy
 * neighbour hits both alike, and the best of REPS is reported for each.
 * Output: one JSON object per line on stdout, a summary on stderr.
 */
#include "dirtylog/dirtylog.h"
#include "dirtylog/harvest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GUEST (1ULL << 40)  /* 1 TiB: a 32 MiB log */
#define REPS 15
#define SPARSE_STRIDE 4096  /* words */
#define SPARSE_WORD 0x8000000000000001ULL  /* not all ones: the exchange path */

static struct dirtylog *dev, *qemu;
static uint64_t *dw, *qw;
static size_t bytes, nwords;
static volatile uint64_t sink;

enum fill { ZERO, ONES, SPARSE };

static void fill(uint64_t *w, enum fill f)
{
	memset(w, f == ONES ? 0xff : 0, bytes);
	if (f == SPARSE)
		for (size_t i = 0; i < nwords; i += SPARSE_STRIDE)
			w[i] = SPARSE_WORD;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum op { MEMCPY, MERGE, SCAN };

static double run_once(enum op op, enum fill dfill, enum fill qfill,
		       uint64_t expect)
{
	uint64_t pages = 0;
	double t0, t1;

	fill(dw, dfill);
	fill(qw, qfill);
	t0 = now();
	switch (op) {
	case MEMCPY:
		memcpy(qw, dw, bytes);
		break;
	case MERGE:
		if (dirtylog_harvest(dev, qemu, NULL, &pages, NULL) < 0)
			abort();
		break;
	case SCAN:
		pages = dirtylog_count(dev);
		break;
	}
	t1 = now();
	sink += qw[nwords - 1];
	if (op != MEMCPY && pages != expect) {
		fprintf(stderr, "bench_dirtylog: op %d found %" PRIu64
			" pages, expected %" PRIu64 "\n", op, pages, expect);
		exit(1);
	}
	return t1 - t0;
}

static void bench(const char *name, enum op op, enum fill dfill,
		  enum fill qfill, uint64_t expect)
{
	double best = 1e9, best_peer = 1e9;

	for (int i = 0; i < REPS; i++) {
		double t = run_once(op, dfill, qfill, expect);
		double p = run_once(MEMCPY, dfill, qfill, 0);

		best = t < best ? t : best;
		best_peer = p < best_peer ? p : best_peer;
	}
	double gbs = (double)bytes / best / 1e9;
	double peer = (double)bytes / best_peer / 1e9;

	printf("{\"bench\":\"%s\",\"value\":%.2f,\"unit\":\"GB/s\","
	       "\"peer\":\"memcpy\",\"peer_value\":%.2f,\"ratio\":%.3f,"
	       "\"log_bytes\":%zu,\"reps\":%d,\"stat\":\"best\"}\n",
	       name, gbs, peer, gbs / peer, bytes, REPS);
	fflush(stdout);
	fprintf(stderr, "%-28s %7.2f GB/s  memcpy %7.2f GB/s  ratio %.3f\n",
		name, gbs, peer, gbs / peer);
}

int main(void)
{
	uint64_t dense = 0, sparse = 0;

	if (dirtylog_new(GUEST, 12, &dev) < 0 || dirtylog_new(GUEST, 12, &qemu) < 0) {
		fprintf(stderr, "bench_dirtylog: cannot allocate logs\n");
		return 1;
	}
	dw = dirtylog_words(dev);
	qw = dirtylog_words(qemu);
	bytes = dirtylog_size(dev);
	nwords = bytes / 8;
	dense = (uint64_t)nwords * 64;
	sparse = ((nwords + SPARSE_STRIDE - 1) / SPARSE_STRIDE) *
		 (uint64_t)__builtin_popcountll(SPARSE_WORD);

	/* Merge into a clean QEMU log (just after QEMU's sync took it all):
	 * every QEMU word is written. */
	bench("dirtylog.merge.dense.clean", MERGE, ONES, ZERO, dense);
	/* Merge into a QEMU log that is all ones already (QEMU has not synced
	 * since the last merge).  The all-ones path stores QEMU's word without
	 * reading it (a read there could pass our device-side store; see
	 * harvest.c), so both cases cost the same; reported for the record. */
	bench("dirtylog.merge.dense.dirty", MERGE, ONES, ONES, dense);
	/* Sparse device log into a clean QEMU log. */
	bench("dirtylog.merge.sparse", MERGE, SPARSE, ZERO, sparse);
	bench("dirtylog.scan.dense", SCAN, ONES, ZERO, dense);
	bench("dirtylog.scan.sparse", SCAN, SPARSE, ZERO, sparse);

	dirtylog_free(dev);
	dirtylog_free(qemu);
	return 0;
}
