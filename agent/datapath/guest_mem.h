/*
 * The guest's memory as the front end shared it (SET_MEM_TABLE): up to
 * GUEST_MEM_MAX_REGIONS regions, each an fd we map, with the guest-physical
 * range it backs and the front end's own virtual address for it (ring
 * addresses arrive in that address space).
 *
 * Every address handed to the translate functions comes, directly or via
 * the guest's rings, from an untrusted party; they return a pointer only
 * for a range that lies wholly inside one of our mappings.
 *
 * Not thread-safe against replacement: the control thread replaces the
 * table only while the data path is paused (see engine pause/resume).
 */
#ifndef VDPA_AGENT_GUEST_MEM_H
#define VDPA_AGENT_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint64_t uaddr;		/* the front end's virtual address of gpa */
	uint64_t mmap_offset;	/* offset of gpa's byte in fd */
	uint8_t *hva;		/* our address of gpa's byte */
	void *map_base;		/* what we mmap()ed: [0, mmap_offset + size) of fd */
	size_t map_len;
	int fd;			/* kept: an accelerator DMA-maps the same fd */
};

struct guest_mem {
	unsigned nregions;
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
};

void guest_mem_init(struct guest_mem *m);

/*
 * Maps one region and takes ownership of *fd (sets it to -1), on success
 * and on failure alike.  Ranges were validated by the protocol parser (no
 * overflow, within the fd); this refuses overlaps with existing regions
 * (-EEXIST) and a full table (-ENOSPC).
 */
int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
		  uint64_t mmap_offset, int *fd);

/* Unmaps and closes everything; safe to call twice. */
void guest_mem_clear(struct guest_mem *m);

/*
 * Translates [gpa, gpa + len) and returns our pointer to gpa, or NULL when
 * gpa is in no region.  *ret_contig gets how many bytes from gpa are
 * contiguous in that region (may be less than len: the caller then
 * translates the rest separately).  len 0 is allowed.
 */
void *guest_mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_contig);

/* Like guest_mem_gpa() but the whole range must lie in one region. */
void *guest_mem_gpa_range(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Front-end virtual address to ours; the whole range in one region. */
void *guest_mem_uva_range(const struct guest_mem *m, uint64_t uaddr, uint64_t len);

/* End of the highest region: the guest-physical span a dirty log must cover. */
uint64_t guest_mem_span(const struct guest_mem *m);

/* Front-end virtual address to guest-physical; UINT64_MAX if unmapped. */
uint64_t guest_mem_uva_to_gpa(const struct guest_mem *m, uint64_t uaddr);

#endif
