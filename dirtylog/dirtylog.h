/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtylog: a dirty-page bitmap in the vhost log format.
 *
 * One bit per page, bit (page % 8) of byte (page / 8), read as native 64-bit
 * words (little endian only, so bit page % 64 of word page / 64).  QEMU's log
 * has 4 KiB pages (one word covers 256 KiB of guest); a device (accelerator)
 * log uses the same layout at any power-of-two page size from 4 KiB to 2 MiB,
 * and the log object carries its page shift.
 *
 * The log memory is shared: QEMU clears words with an atomic exchange while
 * we set bits, and every vhost-user backend of a VM ORs into the same log.
 * So every bit is set with an atomic OR; the few places that use plain
 * stores say why they are safe.  All functions are safe to call
 * concurrently with markers and exchangers of the same memory.
 *
 * Errors are negative errno.  ret_* parameters are written only on success.
 * Nothing here logs, sleeps or owns a thread.
 */
#ifndef VDPA_DIRTYLOG_H
#define VDPA_DIRTYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the vhost log is byte-addressed; reading it as words assumes little endian"
#endif

#define DIRTYLOG_QEMU_PAGE_SHIFT 12u  /* QEMU's vhost log: 4 KiB pages */
#define DIRTYLOG_MIN_PAGE_SHIFT  12u  /* 4 KiB */
#define DIRTYLOG_MAX_PAGE_SHIFT  21u  /* 2 MiB */
#define DIRTYLOG_PAGES_PER_WORD  64u

struct dirtylog;

/*
 * Bytes of log needed to cover addresses [0, span) at 2^page_shift pages,
 * rounded up to whole 64-bit words.  -EINVAL for a bad shift or span 0.
 */
int dirtylog_size_for(uint64_t span, unsigned page_shift, size_t *ret_bytes);

/* A zeroed log of our own covering [0, span). */
int dirtylog_new(uint64_t span, unsigned page_shift, struct dirtylog **ret);

/*
 * Maps a log from an fd, as QEMU's SET_LOG_BASE hands it over (mmap_size
 * bytes at mmap_offset, shared).  The fd stays the caller's: it may be closed
 * right after, the mapping keeps the memory.  mmap_size must be a non-zero
 * multiple of 8 and mmap_offset 8-byte aligned (atomic word access), the
 * range must lie inside the file (-EINVAL), the sum must not overflow
 * (-EOVERFLOW); a bad fd gives -EBADF.
 */
int dirtylog_map_fd(int fd, uint64_t mmap_size, uint64_t mmap_offset,
		    unsigned page_shift, struct dirtylog **ret);

/*
 * A log over memory the caller owns (for instance a DMA buffer a device
 * writes), size bytes, 8-byte aligned, size a non-zero multiple of 8.  The
 * memory must outlive the log; dirtylog_free() does not free it.
 */
int dirtylog_wrap(void *mem, size_t size, unsigned page_shift,
		  struct dirtylog **ret);

void dirtylog_free(struct dirtylog *log);

unsigned dirtylog_page_shift(const struct dirtylog *log);
uint64_t dirtylog_npages(const struct dirtylog *log);   /* size * 8 */
size_t dirtylog_size(const struct dirtylog *log);       /* bytes */
uint64_t *dirtylog_words(struct dirtylog *log);         /* the bitmap itself */

/*
 * Marks every page touched by [addr, addr + len).  len 0 marks nothing and
 * returns 0.  A range that reaches beyond the log, or whose end overflows,
 * returns -ERANGE and marks nothing.  The bits are set with relaxed atomic
 * ORs: publish whatever the marks describe with a release store afterwards.
 */
int dirtylog_mark(struct dirtylog *log, uint64_t addr, uint64_t len);

/* Tests one page; false for a page beyond the log. */
bool dirtylog_test_page(const struct dirtylog *log, uint64_t page);

/*
 * Per-writer mark cache.  Marks are gathered per 64-bit word (a few words)
 * so that a burst of small writes to neighbouring pages costs one atomic OR
 * per word instead of one per write.
 *
 * THE CACHE MUST BE FLUSHED BEFORE THE USED INDEX IS PUBLISHED.  Until
 * dirtylog_cache_flush() returns, cached marks are invisible to QEMU, and
 * a page the guest is told about (used->idx) but that is not yet in the log
 * is a page migration may never send.  The data path does, per batch:
 * write buffers and used entries, dirtylog_cache_mark() each of them,
 * dirtylog_cache_flush(), then the release store of used->idx.  Also flush
 * before switching to a new log (SET_LOG_BASE), then init on the new one.
 *
 * A cache belongs to one thread; it is a plain struct to embed anywhere.
 */
#define DIRTYLOG_CACHE_ENTRIES 4

struct dirtylog_cache {
	struct dirtylog *log;
	unsigned n;
	uint64_t word[DIRTYLOG_CACHE_ENTRIES];
	uint64_t bits[DIRTYLOG_CACHE_ENTRIES];
};

void dirtylog_cache_init(struct dirtylog_cache *c, struct dirtylog *log);
/* Same contract as dirtylog_mark(); may flush when the cache is full. */
int dirtylog_cache_mark(struct dirtylog_cache *c, uint64_t addr, uint64_t len);
void dirtylog_cache_flush(struct dirtylog_cache *c);

/*
 * Iteration over a log that may change underneath: each word is read once,
 * so a page appears at most once per call, and pages set meanwhile may or
 * may not be seen.  A callback returning non-zero stops the walk and that
 * value is returned; otherwise 0.  Pages are log pages (address >> shift).
 */
typedef int (*dirtylog_page_fn)(uint64_t page, void *userdata);
typedef int (*dirtylog_run_fn)(uint64_t first_page, uint64_t npages,
			       void *userdata);

int dirtylog_for_each_page(const struct dirtylog *log, dirtylog_page_fn fn,
			   void *userdata);
/* Maximal runs of consecutive dirty pages, in ascending order. */
int dirtylog_for_each_run(const struct dirtylog *log, dirtylog_run_fn fn,
			  void *userdata);

uint64_t dirtylog_count(const struct dirtylog *log);

/* Forgets every mark (concurrent marks may or may not survive). */
void dirtylog_clear(struct dirtylog *log);
/* Forgets marks of the pages touched by [addr, addr+len); -ERANGE as mark. */
int dirtylog_clear_range(struct dirtylog *log, uint64_t addr, uint64_t len);

/*
 * Moves the whole log into dst (dst_size >= dirtylog_size(), else -ENOBUFS):
 * every bit set before the call is either in dst or still in the log, never
 * lost, and the log keeps only bits set during the call.  Returns the
 * number of pages taken in *ret_pages (may be NULL).
 */
int dirtylog_take(struct dirtylog *log, void *dst, size_t dst_size,
		  uint64_t *ret_pages);

#endif
