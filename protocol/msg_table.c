// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers shared by the message tables; see msg_table.h.  Nothing here
 * sees peer data other than an id to look up.
 */
#include "protocol/msg_table.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const void *msg_find(const void *rows, size_t nrows, size_t row_size,
		     size_t key_off, uint64_t id)
{
	const unsigned char *row = rows;

	for (size_t i = 0; i < nrows; i++, row += row_size) {
		uint64_t key;

		memcpy(&key, row + key_off, sizeof(key));
		if (key == id)
			return row;
	}
	return NULL;
}

void msg_vreason(char *reason, size_t cap, const char *who, const char *fmt,
		 va_list ap)
{
	int n;

	if (!cap)
		return;
	n = snprintf(reason, cap, "%s: ", who);
	if (n < 0 || (size_t)n >= cap)
		return;
	vsnprintf(reason + n, cap - (size_t)n, fmt, ap);
}

int msg_fail(struct msg_err *err, uint64_t id, const char *who, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	err->id = id;
	va_start(ap, fmt);
	msg_vreason(err->reason, sizeof(err->reason), who, fmt, ap);
	va_end(ap);
	return rc;
}
