/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Harvest-and-merge: move the dirty bits out of a device's log (any page
 * size 4 KiB..2 MiB, addresses possibly IOVAs) into QEMU's 4 KiB vhost log.
 *
 * Designed to run while the device keeps setting bits and QEMU keeps
 * exchanging words out of its log: no bit the device set before the call is
 * lost, and every page whose bit reaches QEMU's log has its data visible to
 * QEMU by then (see harvest.c for the argument).
 */
#ifndef VDPA_DIRTYLOG_HARVEST_H
#define VDPA_DIRTYLOG_HARVEST_H

#include <stddef.h>
#include <stdint.h>

#include "dirtylog/dirtylog.h"

/* Device address [iova, iova+size) is guest-physical [gpa, gpa+size). */
struct dirtylog_iova_range {
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
};

/* An immutable, validated translation table. */
struct dirtylog_xlate;

/*
 * Copies and sorts ranges.  -EINVAL for a zero size, a range whose end
 * overflows, or overlapping IOVA ranges.  n may be 0 (nothing translates).
 */
int dirtylog_xlate_new(const struct dirtylog_iova_range *ranges, size_t n,
		       struct dirtylog_xlate **ret);
void dirtylog_xlate_free(struct dirtylog_xlate *x);

/* The GPA of iova and how many bytes from there on the same range covers;
 * -ENOENT when no range holds iova. */
int dirtylog_xlate_lookup(const struct dirtylog_xlate *x, uint64_t iova,
			  uint64_t *ret_gpa, uint64_t *ret_len);

/*
 * Takes every dirty page out of dev (leaving it clear) and marks the guest
 * pages it covers in qemu (which must have 4 KiB pages; -EINVAL otherwise,
 * and when dev == qemu).  xlate NULL means device addresses are GPAs.
 *
 * *ret_pages: device pages harvested.  *ret_untranslated (may be NULL):
 * device pages of those with some part that has no translation or whose
 * GPA lies beyond qemu's log; their translatable parts are still merged.
 */
int dirtylog_harvest(struct dirtylog *dev, struct dirtylog *qemu,
		     const struct dirtylog_xlate *xlate, uint64_t *ret_pages,
		     uint64_t *ret_untranslated);

#endif
