/*
 * Guest memory table: mapping and bounds-checked translation.  See
 * guest_mem.h.  All range checks are written as "off <= size && len <= size
 * - off" so that no sum can wrap.
 */
#include "agent/datapath/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guest_mem_init(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		m->r[i].fd = -1;
}

static void region_release(struct guest_region *r)
{
	if (r->map_base)
		munmap(r->map_base, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

void guest_mem_clear(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nregions; i++)
		region_release(&m->r[i]);
	m->nregions = 0;
}

static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Half-open ranges, lengths non-zero and not wrapping (parser checked). */
	return a < b + blen && b < a + alen;
}

int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
		  uint64_t mmap_offset, int *fd)
{
	struct guest_region *r;
	void *base;
	int r_fd = *fd;

	*fd = -1;
	if (size == 0 || gpa + size < gpa || uaddr + size < uaddr ||
	    mmap_offset + size < mmap_offset || mmap_offset + size > SIZE_MAX) {
		close(r_fd);
		return -EINVAL;
	}
	if (m->nregions >= GUEST_MEM_MAX_REGIONS) {
		close(r_fd);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < m->nregions; i++) {
		if (ranges_overlap(gpa, size, m->r[i].gpa, m->r[i].size) ||
		    ranges_overlap(uaddr, size, m->r[i].uaddr, m->r[i].size)) {
			close(r_fd);
			return -EEXIST;
		}
	}
	/* mmap's offset must be page aligned; map from 0 and skip mmap_offset. */
	base = mmap(NULL, (size_t)(mmap_offset + size), PROT_READ | PROT_WRITE, MAP_SHARED,
		    r_fd, 0);
	if (base == MAP_FAILED) {
		int e = -errno;
		close(r_fd);
		return e;
	}
	r = &m->r[m->nregions++];
	r->gpa = gpa;
	r->size = size;
	r->uaddr = uaddr;
	r->mmap_offset = mmap_offset;
	r->map_base = base;
	r->map_len = (size_t)(mmap_offset + size);
	r->hva = (uint8_t *)base + mmap_offset;
	r->fd = r_fd;
	return 0;
}

void *guest_mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_contig)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->r[i];
		uint64_t off, avail;

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		off = gpa - r->gpa;
		avail = r->size - off;
		*ret_contig = len < avail ? len : avail;
		return r->hva + off;
	}
	return NULL;
}

void *guest_mem_gpa_range(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t contig;
	void *p = guest_mem_gpa(m, gpa, len, &contig);

	return p && contig == len ? p : NULL;
}

void *guest_mem_uva_range(const struct guest_mem *m, uint64_t uaddr, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->r[i];
		uint64_t off;

		if (uaddr < r->uaddr || uaddr - r->uaddr >= r->size)
			continue;
		off = uaddr - r->uaddr;
		if (len > r->size - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

uint64_t guest_mem_uva_to_gpa(const struct guest_mem *m, uint64_t uaddr)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->r[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size)
			return r->gpa + (uaddr - r->uaddr);
	}
	return UINT64_MAX;
}

uint64_t guest_mem_span(const struct guest_mem *m)
{
	uint64_t span = 0;

	for (unsigned i = 0; i < m->nregions; i++)
		if (m->r[i].gpa + m->r[i].size > span)
			span = m->r[i].gpa + m->r[i].size;
	return span;
}
