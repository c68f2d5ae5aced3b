/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Harvest-and-merge of a device log into QEMU's log, and the IOVA -> GPA
 * translation table it uses.
 *
 * Trust boundary: the device log is written by the device (any bits, at any
 * time); QEMU's log by QEMU and other backends.  Each word is read once
 * into a local and acted on from there.  The translation table comes from
 * the agent (QEMU's memory table) and is validated when built.
 *
 * Why this is fast: a 1 TiB guest has a 32 MiB log, and one locked
 * instruction per word (exchange out of the device, OR into QEMU) costs
 * ~5 ns, 20x slower than copying the log.  So locked instructions are kept
 * for the words that need them; the orderings that make the exceptions
 * safe are argued where they are used.  Measured (bench_dirtylog, 32 MiB):
 * sparse merge ~1.3x memcpy, dense merge ~0.7x.
 *
 * Assumptions: the device's write of a page is visible before its log bit
 * (PCIe posted writes are ordered; a software device must set its bit with
 * a release or stronger OR after writing the page), and the host is x86
 * (TSO: stores become visible in program order, a locked instruction is a
 * full barrier).  The all-ones shortcut below reasons about that hardware
 * order, which the C memory model alone does not promise for relaxed
 * atomics; a port to a weaker architecture must take every word with an
 * exchange (harvest_general does) or add a full fence.
 */
#include "dirtylog/harvest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct dirtylog_xlate {
	size_t n;
	struct dirtylog_iova_range r[];  /* sorted by iova, disjoint */
};

static int cmp_iova(const void *a, const void *b)
{
	const struct dirtylog_iova_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

int dirtylog_xlate_new(const struct dirtylog_iova_range *ranges, size_t n,
		       struct dirtylog_xlate **ret)
{
	struct dirtylog_xlate *x;

	if (n && !ranges)
		return -EINVAL;
	if (n > (SIZE_MAX - sizeof(*x)) / sizeof(x->r[0]))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct dirtylog_iova_range *r = &ranges[i];

		if (r->size == 0 || r->iova > UINT64_MAX - (r->size - 1) ||
		    r->gpa > UINT64_MAX - (r->size - 1))
			return -EINVAL;
	}
	x = malloc(sizeof(*x) + n * sizeof(x->r[0]));
	if (!x)
		return -ENOMEM;
	x->n = n;
	if (n)
		memcpy(x->r, ranges, n * sizeof(x->r[0]));
	qsort(x->r, n, sizeof(x->r[0]), cmp_iova);
	for (size_t i = 1; i < n; i++) {
		if (x->r[i - 1].iova + (x->r[i - 1].size - 1) >= x->r[i].iova) {
			free(x);
			return -EINVAL;
		}
	}
	*ret = x;
	return 0;
}

void dirtylog_xlate_free(struct dirtylog_xlate *x)
{
	free(x);
}

static inline uint64_t range_last(const struct dirtylog_iova_range *r)
{
	return r->iova + (r->size - 1);  /* checked not to overflow */
}

/* Index of the first range that ends at or after iova (n if none). */
static size_t xlate_find(const struct dirtylog_xlate *x, uint64_t iova)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (range_last(&x->r[mid]) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int dirtylog_xlate_lookup(const struct dirtylog_xlate *x, uint64_t iova,
			  uint64_t *ret_gpa, uint64_t *ret_len)
{
	size_t i = xlate_find(x, iova);
	const struct dirtylog_iova_range *r;

	if (i == x->n || x->r[i].iova > iova)
		return -ENOENT;
	r = &x->r[i];
	*ret_gpa = r->gpa + (iova - r->iova);
	/* size - offset, which is 2^64 only for a range covering all of
	 * the address space, not representable: report the most we can. */
	*ret_len = r->size - (iova - r->iova);
	return 0;
}

static inline uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * QEMU side, one word, v the bits to add.
 *
 * Skip when every bit is there already.  Safe because the caller took v
 * with an exchange, a full barrier: the device wrote the page and then its
 * bit, we took the bit, then read QEMU's word with the bit set; a QEMU
 * exchange that clears it comes after our read, so QEMU's following read
 * of the page comes after the device's write.
 *
 * All ones goes in with a plain store: a concurrent OR by another backend
 * cannot add a bit that ~0 lacks, and if QEMU exchanged the word between
 * our load and store it merely sends those pages once more.  Anything else
 * needs the atomic OR.
 */
static inline void merge_word(uint64_t *q, uint64_t v)
{
	uint64_t old = ld(q);

	if ((old | v) == old)
		return;
	if (v == ~0ULL)
		__atomic_store_n(q, ~0ULL, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or(q, v, __ATOMIC_RELAXED);
}

static void merge_pages(uint64_t *qw, uint64_t first, uint64_t last)
{
	uint64_t fw = first / 64, lw = last / 64;
	uint64_t fm = ~0ULL << (first % 64), lm = ~0ULL >> (63 - last % 64);

	if (fw == lw) {
		merge_word(&qw[fw], fm & lm);
		return;
	}
	merge_word(&qw[fw], fm);
	for (uint64_t i = fw + 1; i < lw; i++)
		merge_word(&qw[i], ~0ULL);
	merge_word(&qw[lw], lm);
}

struct qside {
	uint64_t *words;
	uint64_t npages;
};

/* Guest-physical [gfirst, glast] into QEMU's log, clipped to it; false if
 * anything had to be clipped. */
static bool qemu_range(const struct qside *q, uint64_t gfirst, uint64_t glast,
		       bool merge)
{
	uint64_t pf = gfirst >> DIRTYLOG_QEMU_PAGE_SHIFT;
	uint64_t pl = glast >> DIRTYLOG_QEMU_PAGE_SHIFT;

	if (pf >= q->npages)
		return false;
	if (pl >= q->npages) {
		if (merge)
			merge_pages(q->words, pf, q->npages - 1);
		return false;
	}
	if (merge)
		merge_pages(q->words, pf, pl);
	return true;
}

/* Device addresses [pos, last] through the table (identity if NULL); true
 * if every byte translated into QEMU's log.  merge false only checks. */
static bool walk(const struct dirtylog_xlate *x, const struct qside *q,
		 uint64_t pos, uint64_t last, bool merge)
{
	bool ok = true;
	size_t i;

	if (!x)
		return qemu_range(q, pos, last, merge);
	i = xlate_find(x, pos);
	for (;;) {
		if (i < x->n && x->r[i].iova <= pos) {
			const struct dirtylog_iova_range *r = &x->r[i];
			uint64_t rl = range_last(r);
			uint64_t pl = last < rl ? last : rl;

			ok &= qemu_range(q, r->gpa + (pos - r->iova),
					 r->gpa + (pl - r->iova), merge);
			if (pl == last)
				break;
			pos = pl + 1;
			i++;
		} else {
			ok = false;  /* a gap before range i */
			if (i >= x->n || x->r[i].iova > last)
				break;
			pos = x->r[i].iova;
		}
	}
	return ok;
}

/* Device pages first..first+n-1, a run of set bits from one word. */
static uint64_t merge_run(const struct dirtylog_xlate *x, const struct qside *q,
			  unsigned shift, uint64_t first, uint64_t n)
{
	uint64_t pos = first << shift;
	uint64_t last = ((first + n - 1) << shift) + ((1ULL << shift) - 1);
	uint64_t bad = 0;

	if (walk(x, q, pos, last, false)) {
		walk(x, q, pos, last, true);
		return 0;
	}
	/* Something does not translate: go page by page to count exactly
	 * which device pages, still merging whatever parts do translate. */
	for (uint64_t p = first; p < first + n; p++) {
		uint64_t a = p << shift;

		if (!walk(x, q, a, a + ((1ULL << shift) - 1), true))
			bad++;
	}
	return bad;
}

static uint64_t merge_bits(const struct dirtylog_xlate *x, const struct qside *q,
			   unsigned shift, uint64_t word, uint64_t v)
{
	uint64_t bad = 0;

	while (v) {
		unsigned b = (unsigned)__builtin_ctzll(v);
		uint64_t rest = v >> b;
		unsigned ones = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - b;

		bad += merge_run(x, q, shift, word * 64 + b, ones);
		v = b + ones >= 64 ? 0 : v & (~0ULL << (b + ones));
	}
	return bad;
}

/* One cache line of words reads as zero?  Only a hint to skip the line:
 * the words acted on are read again, once each, below.  A bit being set
 * right now may be missed; the next harvest takes it (the final harvest
 * runs after the device has stopped). */
static inline bool line_zero(const uint64_t *w, size_t n)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= ld(&w[i]);
	return acc == 0;
}

/*
 * The common case: a 4 KiB device log in GPAs, word i of the device is word
 * i of QEMU.  No locked instruction for an all-ones word, one exchange and
 * at most one OR for any other dirty word, plain loads for clean ones.
 */
static void harvest_direct(uint64_t *dw, size_t nwords, uint64_t *qw,
			   size_t qwords, uint64_t *ret_pages, uint64_t *ret_bad)
{
	/* Locals, not *ret_*: those could alias the logs (same type), which
	 * would cost a load and store of the counter per word. */
	uint64_t pages = 0, bad = 0;

	/*
	 * One plain load and test per word, no "is this line zero" pre-pass:
	 * measured, the pre-pass costs a third of the dense throughput and
	 * gains nothing on sparse logs, which run at read bandwidth anyway.
	 * A bit being set while we read may be missed; the next harvest takes
	 * it (the final one runs after the device has stopped).
	 */
	for (size_t k = 0; k < nwords; k++) {
		uint64_t v = ld(&dw[k]), old;

		if (!v)
			continue;
		if (v == ~0ULL) {
			/*
			 * All ones: a plain store of zero takes it.  A bit
			 * the device sets between our load and this store is
			 * in v already, and the release store below makes our
			 * zero visible before QEMU's bits: should QEMU exchange
			 * those and read the pages, the device's write came
			 * before its bit, which came before our zero, which
			 * came before our ~0.  QEMU's word is stored, not
			 * loaded and tested: that load could pass our zero in
			 * the store buffer, and skipping a word QEMU is just
			 * emptying would lose a write the device makes before
			 * our zero lands.  Storing ~0 needs no lock: no
			 * concurrent OR can add a bit it lacks, and a
			 * concurrent exchange only makes QEMU send those
			 * pages once more.
			 */
			__atomic_store_n(&dw[k], 0, __ATOMIC_RELAXED);
			pages += 64;
			if (k < qwords)
				__atomic_store_n(&qw[k], ~0ULL, __ATOMIC_RELEASE);
			else
				bad += 64;
			continue;
		}
		/*
		 * Some bit clear: the device may set it any moment, so only
		 * an exchange takes v without losing it.  It is a full
		 * barrier (x86 lock; seq_cst in C), so the load of QEMU's
		 * word cannot pass it, and skipping a word that QEMU has
		 * already is safe: QEMU's exchange of it, and its reading
		 * of the pages, come after the device writes whose bits we
		 * just took.
		 */
		v = __atomic_exchange_n(&dw[k], 0, __ATOMIC_SEQ_CST);
		pages += (uint64_t)__builtin_popcountll(v);
		if (k >= qwords) {
			/* QEMU's log is smaller than the device's (it may
			 * resize while migrating). */
			bad += (uint64_t)__builtin_popcountll(v);
			continue;
		}
		old = __atomic_load_n(&qw[k], __ATOMIC_SEQ_CST);
		if ((old | v) != old)
			__atomic_fetch_or(&qw[k], v, __ATOMIC_RELAXED);
	}
	*ret_pages = pages;
	*ret_bad = bad;
}

/* Any page size, any translation: every dirty word is exchanged out (a full
 * barrier, so merge_word may skip what QEMU has), then each run of set
 * bits is translated and merged. */
static void harvest_general(uint64_t *dw, size_t nwords, unsigned shift,
			    const struct dirtylog_xlate *x, const struct qside *q,
			    uint64_t *ret_pages, uint64_t *ret_bad)
{
	uint64_t pages = 0, bad = 0;

	for (size_t i = 0; i < nwords; i += 8) {
		size_t m = nwords - i < 8 ? nwords - i : 8;

		if (line_zero(&dw[i], m))
			continue;
		for (size_t k = i; k < i + m; k++) {
			uint64_t v = ld(&dw[k]);

			if (!v)
				continue;
			v = __atomic_exchange_n(&dw[k], 0, __ATOMIC_SEQ_CST);
			pages += (uint64_t)__builtin_popcountll(v);
			bad += merge_bits(x, q, shift, k, v);
		}
	}
	*ret_pages = pages;
	*ret_bad = bad;
}

int dirtylog_harvest(struct dirtylog *dev, struct dirtylog *qemu,
		     const struct dirtylog_xlate *xlate, uint64_t *ret_pages,
		     uint64_t *ret_untranslated)
{
	unsigned shift = dirtylog_page_shift(dev);
	uint64_t pages = 0, bad = 0;
	struct qside q;

	if (dev == qemu || dirtylog_page_shift(qemu) != DIRTYLOG_QEMU_PAGE_SHIFT)
		return -EINVAL;
	q.words = dirtylog_words(qemu);
	q.npages = dirtylog_npages(qemu);

	if (!xlate && shift == DIRTYLOG_QEMU_PAGE_SHIFT)
		harvest_direct(dirtylog_words(dev), dirtylog_size(dev) / 8,
			       q.words, dirtylog_size(qemu) / 8, &pages, &bad);
	else
		harvest_general(dirtylog_words(dev), dirtylog_size(dev) / 8,
				shift, xlate, &q, &pages, &bad);
	*ret_pages = pages;
	if (ret_untranslated)
		*ret_untranslated = bad;
	return 0;
}
