/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtylog core: creating and mapping logs, marking, the per-writer mark
 * cache, iteration, counting, clearing and taking a snapshot.
 *
 * Trust boundary: the log memory itself is written by others (QEMU, other
 * backends, a device), so each word is read once into a local and every
 * change to it is atomic.  The SET_LOG_BASE numbers (fd, size, offset) come
 * from QEMU and are checked before use.
 */
#include "dirtylog/dirtylog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct dirtylog {
	uint64_t *words;
	size_t nwords;
	uint64_t npages;
	unsigned shift;
	void *map;      /* what to munmap; NULL for wrapped memory */
	size_t map_len;
};

/* Shared words are only touched through these so the compiler can neither
 * tear nor re-read them. */
static inline uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint64_t mask_from(unsigned bit)
{
	return ~0ULL << bit;
}

static inline uint64_t mask_upto(unsigned bit) /* bits 0..bit inclusive */
{
	return ~0ULL >> (63 - bit);
}

static bool shift_ok(unsigned shift)
{
	return shift >= DIRTYLOG_MIN_PAGE_SHIFT && shift <= DIRTYLOG_MAX_PAGE_SHIFT;
}

int dirtylog_size_for(uint64_t span, unsigned page_shift, size_t *ret_bytes)
{
	uint64_t pages, words;

	if (!shift_ok(page_shift) || span == 0)
		return -EINVAL;
	/* Rounding up without span + page - 1, which can overflow. */
	pages = (span >> page_shift) + !!(span & ((1ULL << page_shift) - 1));
	words = pages / 64 + !!(pages % 64);
	if (words > SIZE_MAX / 8)
		return -EOVERFLOW;
	*ret_bytes = (size_t)(words * 8);
	return 0;
}

/* Fills in the geometry shared by every constructor. */
static int geometry(struct dirtylog *log, uint64_t *words, size_t size,
		    unsigned shift)
{
	uint64_t npages;

	if (!shift_ok(shift) || size == 0 || size % 8 != 0)
		return -EINVAL;
	npages = (uint64_t)size * 8;
	if (npages / 8 != size)
		return -EOVERFLOW;
	/* The last page's address must fit in 64 bits: harvest and iteration
	 * turn pages back into addresses. */
	if (npages - 1 > (UINT64_MAX >> shift))
		return -EOVERFLOW;
	log->words = words;
	log->nwords = size / 8;
	log->npages = npages;
	log->shift = shift;
	return 0;
}

int dirtylog_new(uint64_t span, unsigned page_shift, struct dirtylog **ret)
{
	struct dirtylog *log;
	size_t size;
	void *mem;
	int r;

	r = dirtylog_size_for(span, page_shift, &size);
	if (r < 0)
		return r;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	/* Anonymous memory comes zeroed and lazily, which matters for the
	 * 32 MiB log of a 1 TiB guest that is mostly never touched. */
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		free(log);
		return -ENOMEM;
	}
	r = geometry(log, mem, size, page_shift);
	if (r < 0) {
		munmap(mem, size);
		free(log);
		return r;
	}
	log->map = mem;
	log->map_len = size;
	*ret = log;
	return 0;
}

int dirtylog_map_fd(int fd, uint64_t mmap_size, uint64_t mmap_offset,
		    unsigned page_shift, struct dirtylog **ret)
{
	struct dirtylog *log;
	struct stat st;
	uint64_t end, aligned, slack, len;
	long pagesz;
	void *mem;
	int r;

	if (fd < 0)
		return -EBADF;
	if (!shift_ok(page_shift) || mmap_size == 0 || mmap_size % 8 != 0 ||
	    mmap_offset % 8 != 0)
		return -EINVAL;
	if (mmap_offset > UINT64_MAX - mmap_size)
		return -EOVERFLOW;
	end = mmap_offset + mmap_size;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < end)
		return -EINVAL;

	/* mmap wants a page-aligned offset: map from the page below and
	 * point past the slack. */
	pagesz = sysconf(_SC_PAGESIZE);
	if (pagesz <= 0)
		return -EINVAL;
	aligned = mmap_offset - mmap_offset % (uint64_t)pagesz;
	slack = mmap_offset - aligned;
	len = mmap_size + slack;  /* <= end, so no overflow */
	if (len > SIZE_MAX || aligned > (uint64_t)INT64_MAX)
		return -EOVERFLOW;

	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	mem = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)aligned);
	if (mem == MAP_FAILED) {
		r = -errno;
		free(log);
		return r;
	}
	r = geometry(log, (uint64_t *)(void *)((char *)mem + slack),
		     (size_t)mmap_size, page_shift);
	if (r < 0) {
		munmap(mem, (size_t)len);
		free(log);
		return r;
	}
	log->map = mem;
	log->map_len = (size_t)len;
	*ret = log;
	return 0;
}

int dirtylog_wrap(void *mem, size_t size, unsigned page_shift,
		  struct dirtylog **ret)
{
	struct dirtylog *log;
	int r;

	if (!mem || (uintptr_t)mem % 8 != 0)
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	r = geometry(log, mem, size, page_shift);
	if (r < 0) {
		free(log);
		return r;
	}
	*ret = log;
	return 0;
}

void dirtylog_free(struct dirtylog *log)
{
	if (!log)
		return;
	if (log->map)
		munmap(log->map, log->map_len);
	free(log);
}

unsigned dirtylog_page_shift(const struct dirtylog *log)
{
	return log->shift;
}

uint64_t dirtylog_npages(const struct dirtylog *log)
{
	return log->npages;
}

size_t dirtylog_size(const struct dirtylog *log)
{
	return log->nwords * 8;
}

uint64_t *dirtylog_words(struct dirtylog *log)
{
	return log->words;
}

/* [addr, addr+len) -> first and last page, or -ERANGE. */
static int page_span(const struct dirtylog *log, uint64_t addr, uint64_t len,
		     uint64_t *ret_first, uint64_t *ret_last)
{
	uint64_t last;

	if (addr > UINT64_MAX - (len - 1))  /* len >= 1 here */
		return -ERANGE;
	last = (addr + (len - 1)) >> log->shift;
	if (last >= log->npages)
		return -ERANGE;
	*ret_first = addr >> log->shift;
	*ret_last = last;
	return 0;
}

/*
 * Sets pages first..last.  Always a locked OR, even for a bit that reads as
 * set already: skipping it would need a full fence (our data stores may
 * still sit in the store buffer while QEMU exchanges the word and reads the
 * page), which costs as much as the OR.
 */
static void or_pages(uint64_t *w, uint64_t first, uint64_t last)
{
	uint64_t fw = first / 64, lw = last / 64, i;
	uint64_t fm = mask_from(first % 64), lm = mask_upto(last % 64);

	if (fw == lw) {
		__atomic_fetch_or(&w[fw], fm & lm, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_or(&w[fw], fm, __ATOMIC_RELAXED);
	for (i = fw + 1; i < lw; i++)
		__atomic_fetch_or(&w[i], ~0ULL, __ATOMIC_RELAXED);
	__atomic_fetch_or(&w[lw], lm, __ATOMIC_RELAXED);
}

int dirtylog_mark(struct dirtylog *log, uint64_t addr, uint64_t len)
{
	uint64_t first, last;
	int r;

	if (len == 0)
		return 0;
	r = page_span(log, addr, len, &first, &last);
	if (r < 0)
		return r;
	or_pages(log->words, first, last);
	return 0;
}

bool dirtylog_test_page(const struct dirtylog *log, uint64_t page)
{
	if (page >= log->npages)
		return false;
	return (ld(&log->words[page / 64]) >> (page % 64)) & 1;
}

void dirtylog_cache_init(struct dirtylog_cache *c, struct dirtylog *log)
{
	memset(c, 0, sizeof(*c));
	c->log = log;
}

void dirtylog_cache_flush(struct dirtylog_cache *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++)
		__atomic_fetch_or(&c->log->words[c->word[i]], c->bits[i],
				  __ATOMIC_RELAXED);
	c->n = 0;
}

static void cache_add(struct dirtylog_cache *c, uint64_t word, uint64_t bits)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (c->word[i] == word) {
			c->bits[i] |= bits;
			return;
		}
	}
	/* Full: write everything out rather than pick a victim; with a few
	 * entries the data path's locality is per batch anyway. */
	if (c->n == DIRTYLOG_CACHE_ENTRIES)
		dirtylog_cache_flush(c);
	c->word[c->n] = word;
	c->bits[c->n] = bits;
	c->n++;
}

int dirtylog_cache_mark(struct dirtylog_cache *c, uint64_t addr, uint64_t len)
{
	uint64_t first, last, fw, lw;
	int r;

	if (len == 0)
		return 0;
	r = page_span(c->log, addr, len, &first, &last);
	if (r < 0)
		return r;
	fw = first / 64;
	lw = last / 64;
	if (lw - fw >= DIRTYLOG_CACHE_ENTRIES) {
		/* Too big to batch; marking directly is still correct, the
		 * cached bits only have to be out before the publish. */
		or_pages(c->log->words, first, last);
		return 0;
	}
	if (fw == lw) {
		cache_add(c, fw, mask_from(first % 64) & mask_upto(last % 64));
		return 0;
	}
	cache_add(c, fw, mask_from(first % 64));
	for (uint64_t i = fw + 1; i < lw; i++)
		cache_add(c, i, ~0ULL);
	cache_add(c, lw, mask_upto(last % 64));
	return 0;
}

/* One cache line of words is zero?  Sparse logs are mostly zero lines, so
 * the scan reads 8 words and tests their OR before looking at bits. */
static inline bool line_zero(const uint64_t *w, size_t n)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= ld(&w[i]);
	return acc == 0;
}

int dirtylog_for_each_page(const struct dirtylog *log, dirtylog_page_fn fn,
			   void *userdata)
{
	for (size_t i = 0; i < log->nwords; i += 8) {
		size_t n = log->nwords - i < 8 ? log->nwords - i : 8;

		if (line_zero(&log->words[i], n))
			continue;
		for (size_t j = 0; j < n; j++) {
			uint64_t v = ld(&log->words[i + j]);

			while (v) {
				int r = fn((uint64_t)(i + j) * 64 +
					   (unsigned)__builtin_ctzll(v), userdata);
				if (r)
					return r;
				v &= v - 1;
			}
		}
	}
	return 0;
}

int dirtylog_for_each_run(const struct dirtylog *log, dirtylog_run_fn fn,
			  void *userdata)
{
	uint64_t start = 0, len = 0;  /* the run being built; len 0 = none */

	for (size_t i = 0; i < log->nwords; i++) {
		uint64_t v = ld(&log->words[i]);
		uint64_t base = (uint64_t)i * 64;

		/* Each word is read once; bits are consumed from a local. */
		while (v) {
			unsigned b = (unsigned)__builtin_ctzll(v);
			uint64_t rest = v >> b;  /* bit 0 set */
			unsigned ones = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - b;
			uint64_t p = base + b;

			if (len && start + len == p) {
				len += ones;
			} else {
				if (len) {
					int r = fn(start, len, userdata);
					if (r)
						return r;
				}
				start = p;
				len = ones;
			}
			v = b + ones >= 64 ? 0 : v & mask_from(b + ones);
		}
	}
	if (len)
		return fn(start, len, userdata);
	return 0;
}

static inline uint64_t count_body(const uint64_t *w, size_t nwords)
{
	/* Four accumulators keep the popcounts independent; a zero-line
	 * pre-test, as in iteration, measured slower here for dense logs and
	 * no faster for sparse ones, which run at read bandwidth. */
	uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
	size_t i = 0;

	for (; i + 4 <= nwords; i += 4) {
		t0 += (uint64_t)__builtin_popcountll(ld(&w[i]));
		t1 += (uint64_t)__builtin_popcountll(ld(&w[i + 1]));
		t2 += (uint64_t)__builtin_popcountll(ld(&w[i + 2]));
		t3 += (uint64_t)__builtin_popcountll(ld(&w[i + 3]));
	}
	for (; i < nwords; i++)
		t0 += (uint64_t)__builtin_popcountll(ld(&w[i]));
	return t0 + t1 + t2 + t3;
}

#if defined(__x86_64__)
/* Without -mpopcnt the builtin is a libgcc call per word; every x86 this
 * runs on has the instruction, so pick it at run time. */
__attribute__((target("popcnt")))
static uint64_t count_popcnt(const uint64_t *w, size_t nwords)
{
	return count_body(w, nwords);
}
#endif

uint64_t dirtylog_count(const struct dirtylog *log)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("popcnt"))
		return count_popcnt(log->words, log->nwords);
#endif
	return count_body(log->words, log->nwords);
}

void dirtylog_clear(struct dirtylog *log)
{
	for (size_t i = 0; i < log->nwords; i++)
		__atomic_store_n(&log->words[i], 0, __ATOMIC_RELAXED);
}

int dirtylog_clear_range(struct dirtylog *log, uint64_t addr, uint64_t len)
{
	uint64_t first, last, fw, lw;
	int r;

	if (len == 0)
		return 0;
	r = page_span(log, addr, len, &first, &last);
	if (r < 0)
		return r;
	fw = first / 64;
	lw = last / 64;
	/* Partial words keep their other bits: atomic AND.  Whole words are
	 * forgotten entirely, so a store is as good as an exchange. */
	if (fw == lw) {
		__atomic_fetch_and(&log->words[fw],
				   ~(mask_from(first % 64) & mask_upto(last % 64)),
				   __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_fetch_and(&log->words[fw], ~mask_from(first % 64),
			   __ATOMIC_RELAXED);
	for (uint64_t i = fw + 1; i < lw; i++)
		__atomic_store_n(&log->words[i], 0, __ATOMIC_RELAXED);
	__atomic_fetch_and(&log->words[lw], ~mask_upto(last % 64),
			   __ATOMIC_RELAXED);
	return 0;
}

int dirtylog_take(struct dirtylog *log, void *dst, size_t dst_size,
		  uint64_t *ret_pages)
{
	uint64_t *out = dst, pages = 0;

	if (dst_size < log->nwords * 8)
		return -ENOBUFS;
	if ((uintptr_t)dst % 8 != 0)
		return -EINVAL;
	for (size_t i = 0; i < log->nwords; i++) {
		uint64_t v = ld(&log->words[i]);

		if (v == ~0ULL) {
			/* All ones: a plain store of zero loses nothing, any
			 * bit a marker sets meanwhile is already in v.  The
			 * fence below keeps our caller from reading the pages
			 * before this store is visible. */
			__atomic_store_n(&log->words[i], 0, __ATOMIC_RELAXED);
		} else if (v) {
			v = __atomic_exchange_n(&log->words[i], 0, __ATOMIC_RELAXED);
		}
		out[i] = v;
		pages += (uint64_t)__builtin_popcountll(v);
	}
	/*
	 * Full fence: the caller reads the pages these bits name.  A zeroing
	 * store above must be visible before those loads, or a page written
	 * and re-marked (bit already set) between our load and our store
	 * could be read stale and its mark erased.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (ret_pages)
		*ret_pages = pages;
	return 0;
}
