/* Unit tests for agent/datapath/guest_mem.c: mapping and bounds-checked translation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/datapath/guest_mem.h"

static int make_memfd(size_t size)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Two regions like QEMU's below/above-4G split, the second at an offset. */
static void setup_two(struct guest_mem *m)
{
	int fd1 = make_memfd(1 << 20), fd2 = make_memfd(3 << 20);

	guest_mem_init(m);
	assert_int_equal(guest_mem_add(m, 0, 1 << 20, 0x7f0000000000, 0, &fd1), 0);
	assert_int_equal(fd1, -1);
	assert_int_equal(guest_mem_add(m, 0x100000000, 2 << 20, 0x7f1000000000, 1 << 20, &fd2), 0);
	assert_int_equal(fd2, -1);
}

static void translate_edges(void **state)
{
	struct guest_mem m;
	uint64_t contig;
	uint8_t *p, *q;

	(void)state;
	setup_two(&m);
	/* First and last byte of each region. */
	p = guest_mem_gpa(&m, 0, 1, &contig);
	assert_non_null(p);
	assert_int_equal(contig, 1);
	assert_non_null(guest_mem_gpa_range(&m, (1 << 20) - 1, 1));
	assert_null(guest_mem_gpa_range(&m, (1 << 20) - 1, 2));
	assert_null(guest_mem_gpa(&m, 1 << 20, 1, &contig));
	q = guest_mem_gpa(&m, 0x100000000 + (2 << 20) - 8, 64, &contig);
	assert_non_null(q);
	assert_int_equal(contig, 8);
	assert_null(guest_mem_gpa(&m, 0x100000000 + (2 << 20), 1, &contig));
	assert_null(guest_mem_gpa(&m, UINT64_MAX, 1, &contig));
	assert_null(guest_mem_gpa_range(&m, 0x100000000, UINT64_MAX));
	/* Length 0 inside a region is fine. */
	assert_non_null(guest_mem_gpa_range(&m, 0x100, 0));

	/* The same byte through GPA and through the front end's address. */
	p = guest_mem_gpa_range(&m, 0x100000010, 4);
	q = guest_mem_uva_range(&m, 0x7f1000000010, 4);
	assert_ptr_equal(p, q);
	assert_int_equal(guest_mem_uva_to_gpa(&m, 0x7f1000000010), 0x100000010);
	assert_int_equal(guest_mem_uva_to_gpa(&m, 0x7f1000000000 + (2 << 20)), UINT64_MAX);
	assert_null(guest_mem_uva_range(&m, 0x7f0000000000 + (1 << 20) - 2, 4));
	guest_mem_clear(&m);
	guest_mem_clear(&m);
}

static void mmap_offset_is_honoured(void **state)
{
	struct guest_mem m;
	int fd = make_memfd(2 << 20), fd2;
	uint8_t *map, *p;

	(void)state;
	fd2 = dup(fd);
	map = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	assert_true(map != MAP_FAILED);
	guest_mem_init(&m);
	assert_int_equal(guest_mem_add(&m, 0x1000, 1 << 20, 0x5000, 1 << 20, &fd), 0);
	p = guest_mem_gpa_range(&m, 0x1000, 1);
	*p = 0xa5;
	assert_int_equal(map[1 << 20], 0xa5);
	munmap(map, 2 << 20);
	close(fd2);
	guest_mem_clear(&m);
}

static void refusals(void **state)
{
	struct guest_mem m;
	int fd;

	(void)state;
	setup_two(&m);
	fd = make_memfd(1 << 20);
	assert_int_equal(guest_mem_add(&m, 0x80000, 1 << 20, 0x1000, 0, &fd), -EEXIST);
	assert_int_equal(fd, -1);
	fd = make_memfd(1 << 20);
	assert_int_equal(guest_mem_add(&m, 0x200000000, 1 << 20, 0x7f0000000100, 0, &fd), -EEXIST);
	fd = make_memfd(1 << 20);
	assert_int_equal(guest_mem_add(&m, 0x200000000, 0, 0x1000, 0, &fd), -EINVAL);
	fd = make_memfd(1 << 20);
	assert_int_equal(guest_mem_add(&m, UINT64_MAX - 10, 1 << 20, 0x1000, 0, &fd), -EINVAL);
	for (unsigned i = 2; i < GUEST_MEM_MAX_REGIONS; i++) {
		fd = make_memfd(4096);
		assert_int_equal(guest_mem_add(&m, 0x300000000 + i * 0x10000, 4096,
					       0x100000 + i * 0x10000, 0, &fd), 0);
	}
	fd = make_memfd(4096);
	assert_int_equal(guest_mem_add(&m, 0x400000000, 4096, 0x900000, 0, &fd), -ENOSPC);
	assert_int_equal(fd, -1);
	guest_mem_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(translate_edges),
		cmocka_unit_test(mmap_offset_is_honoured),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
