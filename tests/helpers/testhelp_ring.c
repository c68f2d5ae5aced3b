// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest-driver side of a split virtqueue for the unit tests
 * (testhelp_ring.h): one copy for the virtqueue and virtio-net tests, which
 * each had their own.
 */
#include "tests/helpers/testhelp_ring.h"

#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/helpers/testhelp.h"

int th_ring_create(void **state)
{
	struct th_ring *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	guest_mem_init(&t->mem);
	assert_int_equal(th_guest_region(&t->mem, TH_GPA1, TH_SZ1, TH_UVA1), 0);
	assert_int_equal(th_guest_region(&t->mem, TH_GPA2, TH_SZ2, TH_UVA2), 0);
	vq_init(&t->vq);
	t->next_buf = TH_BUF_GPA;
	*state = t;
	return 0;
}

int th_ring_destroy(void **state)
{
	struct th_ring *t = *state;

	guest_mem_clear(&t->mem);
	free(t);
	return 0;
}

uint64_t th_uva(uint64_t gpa)
{
	return gpa - TH_GPA1 + TH_UVA1;
}

void *th_gp(struct th_ring *t, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_gpa_range(&t->mem, gpa, len);

	assert_non_null(p);
	return p;
}

void th_set_desc(struct th_ring *t, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint8_t *p = th_gp(t, table + 16ull * i, 16);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

uint16_t *th_avail(struct th_ring *t)
{
	return th_gp(t, TH_AVAIL_GPA, 6 + 2ull * t->num);
}

uint16_t *th_used(struct th_ring *t)
{
	return th_gp(t, TH_USED_GPA, 6 + 8ull * t->num);
}

void th_avail_put(struct th_ring *t, uint16_t head)
{
	uint16_t *a = th_avail(t);

	a[2 + t->avail_idx % t->num] = htole16(head);
	t->avail_idx++;
	__atomic_store_n(&a[1], htole16(t->avail_idx), __ATOMIC_RELEASE);
}

void th_avail_set_idx(struct th_ring *t, uint16_t idx)
{
	__atomic_store_n(&th_avail(t)[1], htole16(idx), __ATOMIC_RELEASE);
}

uint16_t th_used_idx(struct th_ring *t)
{
	return le16toh(__atomic_load_n(&th_used(t)[1], __ATOMIC_ACQUIRE));
}

void th_used_elem(struct th_ring *t, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = (uint8_t *)th_used(t) + 4 + 8 * (i % t->num);
	uint32_t v[2];

	memcpy(v, e, 8);
	*id = le32toh(v[0]);
	*len = le32toh(v[1]);
}

uint64_t th_alloc_buf(struct th_ring *t, uint64_t len)
{
	uint64_t g = t->next_buf;

	t->next_buf += (len + 15) & ~15ull;
	assert_true(t->next_buf <= TH_GPA1 + TH_SZ1);
	return g;
}
